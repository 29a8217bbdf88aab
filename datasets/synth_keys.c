/* synth_keys.c - the generator's config keys: one row per struct synth_cfg field (synth.h). The
 * defaults are not here: they are the field values synth_cfg_defaults() sets for the profile. */
#include <stddef.h>
#include <stdint.h>

#include "synth.h"

#define ROW(name, type, field, lo, hi, help)                                                   \
    {name, type, offsetof(struct synth_cfg, field), lo, hi, NULL, KEY_DEFINES_RUN, 0, help}
#define KI(f, lo, hi, h) ROW(#f, KEY_INT, f, lo, hi, h)
#define KL(f, lo, hi, h) ROW(#f, KEY_I64, f, lo, hi, h)
#define KD(f, lo, hi, h) ROW(#f, KEY_DOUBLE, f, lo, hi, h)

const struct key_spec synth_id_keys[] = {
    {"profile", KEY_CHOICE, offsetof(struct synth_cfg, profile), 0, 0, synth_profile_names,
     KEY_DEFINES_RUN, 0, "class-size profile"},
    KL(ids, 1, INT32_MAX, "training identities C"),
    ROW("data_seed", KEY_I64, seed, 0, (double)INT64_MAX, "data seed (default: seed)"),
    KEY_SPEC_END,
};

const struct key_spec synth_keys[] = {
    KD(lognorm_mean, 1e-9, 1e6, "ms1m/lognormal: mean images per identity"),
    KD(lognorm_sigma, 0, 5, "ms1m/lognormal: sigma of log(images per identity)"),
    KD(zipf_alpha, 1e-9, 100, "mf2/zipf: exponent, P(n) ~ n^-alpha"),
    KI(zipf_min, 1, 1e6, "mf2/zipf: smallest class size"),
    KI(zipf_max, 1, 1e6, "mf2/zipf: largest class size"),
    KI(uniform_n, 1, 1e6, "uniform: images per identity"),
    KI(id_dim, 2, 1023, "identity code dimension (unit sphere)"),
    KI(nuis_dim, 1, 1022, "nuisance dimension (u[0] = pose, mirrored by flip)"),
    KI(x_dim, 1, 65536, "observed dimension D"),
    ROW("render_hidden", KEY_INT, hidden, 1, 4096,
        "renderer hidden width (key render_hidden: 'hidden' is the backbone's)"),
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
    /* KEY_NO_DEFAULT: a run that does not set them records nothing, so the config hash (the
     * checkpoint guard) of runs made before the validation split existed is unchanged; the
     * field keeps synth_cfg_defaults' value */
    {"val_probe_ids", KEY_INT, offsetof(struct synth_cfg, val_probe_ids), 0, 1e6, NULL,
     KEY_DEFINES_RUN, KEY_NO_DEFAULT, "validation probe identities (default 80)"},
    {"val_distractors", KEY_I64, offsetof(struct synth_cfg, val_distractors), 0,
     1099511627776.0, NULL, KEY_DEFINES_RUN, KEY_NO_DEFAULT,
     "validation distractors, one image per identity (default 5000)"},
    KEY_SPEC_END,
};
