/* data_cfg.c - see data_cfg.h. The rows are datasets/synth_keys.c's; this file only orders the
 * reads: the profile picks the knobs' defaults, and data_seed defaults to seed. */
#include "data_cfg.h"

#include "keys.h"

int synth_cfg_from_cfg(struct synth_cfg *out, struct cfg *c, struct dcqb_err *err)
{
    long long seed;
    int rc;
    if ((rc = cfg_get_int(c, "seed", 1, 0, INT64_MAX, &seed, err))) return rc;
    memset(out, 0, sizeof *out);
    out->profile = SYNTH_MS1M;
    out->ids = 10000;
    out->seed = (uint64_t)seed; /* data_seed's default */
    if ((rc = keys_read(out, synth_id_keys, KEY_DEFINES_RUN, c, err))) return rc;
    synth_cfg_defaults(out, out->profile);
    return keys_read(out, synth_keys, KEY_DEFINES_RUN, c, err);
}
