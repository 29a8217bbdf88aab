/* data_cfg.c - see data_cfg.h. One table row per synth_cfg knob: key, type, range, help. */
#include "data_cfg.h"

#include <stddef.h>

#define KI(f, lo, hi, h) {#f, DATA_KNOB_INT, offsetof(struct synth_cfg, f), lo, hi, h}
#define KL(f, lo, hi, h) {#f, DATA_KNOB_I64, offsetof(struct synth_cfg, f), lo, hi, h}
#define KD(f, lo, hi, h) {#f, DATA_KNOB_DOUBLE, offsetof(struct synth_cfg, f), lo, hi, h}

const struct data_knob data_knobs[] = {
    KD(lognorm_mean, 1e-9, 1e6, "ms1m/lognormal: mean images per identity"),
    KD(lognorm_sigma, 0, 5, "ms1m/lognormal: sigma of log(images per identity)"),
    KD(zipf_alpha, 1e-9, 100, "mf2/zipf: exponent, P(n) ~ n^-alpha"),
    KI(zipf_min, 1, 1e6, "mf2/zipf: smallest class size"),
    KI(zipf_max, 1, 1e6, "mf2/zipf: largest class size"),
    KI(uniform_n, 1, 1e6, "uniform: images per identity"),
    KI(id_dim, 2, 1023, "identity code dimension (unit sphere)"),
    KI(nuis_dim, 1, 1022, "nuisance dimension (u[0] = pose, mirrored by flip)"),
    KI(x_dim, 1, 65536, "observed dimension D"),
    {"render_hidden", DATA_KNOB_INT, offsetof(struct synth_cfg, hidden), 1, 4096,
     "renderer hidden width (key render_hidden: 'hidden' is the backbone's)"},
    KI(group_size, 1, 1e6, "look-alike group size (1 = no look-alikes)"),
    KD(group_spread, 0, 1e3, "within-group spread; smaller = harder negatives"),
    KD(id_scale, 0, 1e3, "weight of the identity code in the renderer; smaller = harder"),
    KD(nuis_bias, 0, 1e3, "std of the per-identity nuisance bias"),
    KD(nuis_var, 0, 1e3, "std of the per-sample nuisance; larger = harder"),
    KD(noise, 0, 1e3, "std of the additive noise on x; larger = harder"),
    KD(label_noise, 0, 1, "fraction of training samples rendered from another identity"),
    KD(dup_ids, 0, 1, "fraction of training classes that relabel another class's person"),
    KI(probe_ids, 0, 1e6, "probe identities (FaceScrub-like)"),
    KI(probe_imgs, 1, 1e6, "images per probe identity"),
    KL(distractors, 0, 1099511627776.0, "distractors, one image per identity (MegaFace-like)"),
    KI(lfw_pairs, 0, 1e8, "verification pairs, multiple of 20 (10 folds, half genuine)"),
    KI(holdout, 0, 1, "1: hold out the last image of every class with >= 2 images"),
    {NULL, 0, 0, 0, 0, NULL},
};

void data_knob_format(const struct data_knob *k, const struct synth_cfg *cfg, char *buf,
                      size_t n)
{
    const char *p = (const char *)cfg + k->offset;
    switch (k->type) {
    case DATA_KNOB_INT: { int v; memcpy(&v, p, sizeof v); snprintf(buf, n, "%d", v); break; }
    case DATA_KNOB_I64: {
        int64_t v;
        memcpy(&v, p, sizeof v);
        snprintf(buf, n, "%lld", (long long)v);
        break;
    }
    default: { double v; memcpy(&v, p, sizeof v); snprintf(buf, n, "%g", v); break; }
    }
}

int synth_cfg_from_cfg(struct synth_cfg *out, struct cfg *c, struct dcqb_err *err)
{
    static const char *const profiles[] = {"ms1m", "mf2", "uniform", "zipf", "lognormal", NULL};
    int profile, rc;
    long long ids, seed, data_seed;
    if ((rc = cfg_get_choice(c, "profile", "ms1m", profiles, &profile, err))) return rc;
    if ((rc = cfg_get_int(c, "ids", 10000, 1, INT32_MAX, &ids, err))) return rc;
    if ((rc = cfg_get_int(c, "seed", 1, 0, INT64_MAX, &seed, err))) return rc;
    if ((rc = cfg_get_int(c, "data_seed", seed, 0, INT64_MAX, &data_seed, err))) return rc;
    memset(out, 0, sizeof *out);
    out->seed = (uint64_t)data_seed;
    out->ids = ids;
    synth_cfg_defaults(out, profile);
    for (const struct data_knob *k = data_knobs; k->key; k++) {
        char *p = (char *)out + k->offset;
        if (k->type == DATA_KNOB_DOUBLE) {
            double def, v;
            memcpy(&def, p, sizeof def);
            if ((rc = cfg_get_double(c, k->key, def, k->lo, k->hi, &v, err))) return rc;
            memcpy(p, &v, sizeof v);
        } else if (k->type == DATA_KNOB_I64) {
            int64_t def;
            long long v;
            memcpy(&def, p, sizeof def);
            if ((rc = cfg_get_int(c, k->key, def, (long long)k->lo, (long long)k->hi, &v, err)))
                return rc;
            int64_t w = v;
            memcpy(p, &w, sizeof w);
        } else {
            int def;
            long long v;
            memcpy(&def, p, sizeof def);
            if ((rc = cfg_get_int(c, k->key, def, (long long)k->lo, (long long)k->hi, &v, err)))
                return rc;
            int w = (int)v;
            memcpy(p, &w, sizeof w);
        }
    }
    return DCQB_OK;
}
