/* data_cfg.h - struct synth_cfg from a struct cfg: the keys that `data`, `train`, `eval` and
 * `sweep` share. Keys: profile (ms1m), ids (10000), data_seed (default: the value of `seed`,
 * default 1), and every knob of struct synth_cfg under its field name (synth.h documents them;
 * on the command line `--nuis-var 1.0` = `--nuis_var 1.0`). Table-driven, so the --help text
 * and the parser cannot disagree.
 */
#ifndef DCQB_DATA_CFG_H
#define DCQB_DATA_CFG_H

#include "cfg.h"
#include "synth.h"

enum data_knob_type { DATA_KNOB_INT, DATA_KNOB_I64, DATA_KNOB_DOUBLE };

struct data_knob {
    const char *key;      /* config key = synth_cfg field name */
    int type;             /* enum data_knob_type */
    size_t offset;        /* offsetof(struct synth_cfg, field) */
    double lo, hi;        /* accepted range */
    const char *help;     /* one line */
};

/* NULL-key-terminated table of every generator knob (not profile/ids/data_seed). */
extern const struct data_knob data_knobs[];

/* The knob's value in cfg as text ("%g" / "%lld"), for help and provenance. */
void data_knob_format(const struct data_knob *k, const struct synth_cfg *cfg, char *buf,
                      size_t n);

/* Read profile, ids, data_seed/seed and every knob from c (marking them used). Unknown profile
 * names and out-of-range values are DCQB_EINVAL naming the key and where it was set. Does not
 * call cfg_check_unused: the caller owns the other keys. */
int synth_cfg_from_cfg(struct synth_cfg *out, struct cfg *c, struct dcqb_err *err);

#endif
