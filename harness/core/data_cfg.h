/* data_cfg.h - struct synth_cfg from a struct cfg: the keys that `data`, `train`, `eval` and
 * `sweep` share. Keys: seed (1), the generator's synth_id_keys (profile ms1m, ids 10000,
 * data_seed: the value of `seed`) and every knob of synth_keys under its field name (synth.h
 * documents them; on the command line `--nuis-var 1.0` = `--nuis_var 1.0`). The tables live in
 * datasets/synth_keys.c, so the --help text and the parser cannot disagree.
 */
#ifndef DCQB_DATA_CFG_H
#define DCQB_DATA_CFG_H

#include "cfg.h"
#include "synth.h"

/* Read seed, profile, ids, data_seed and every knob from c (marking them used). Unknown
 * profile names and out-of-range values are DCQB_EINVAL naming the key and where it was set.
 * Does not call cfg_check_unused: the caller owns the other keys. */
int synth_cfg_from_cfg(struct synth_cfg *out, struct cfg *c, struct dcqb_err *err);

#endif
