/* synth.h - synthetic face-identity data: a model of face images, not random blobs.
 *
 * An identity is a latent code z on the unit sphere (id_dim); identities come in look-alike
 * groups (group centre + within-group spread, so there are hard negatives). A sample combines z
 * with nuisance factors u (nuis_dim: pose, illumination, expression, occlusion-like) made of a
 * per-identity bias (people photographed in typical conditions) plus per-sample variation. A
 * fixed, seeded two-layer tanh "renderer" maps [id_scale*z ; u] to x in R^x_dim plus noise:
 *     x = tanh(A2 tanh(A1 [id_scale z ; u] + b1)) + noise * N(0, 1)       (docs/METHOD.md §1)
 * "Flip" (pose mirrored) negates u[0]; flipping twice is the identity.
 *
 * Random access, no storage: sample j of class c is computed from (seed, namespace, c, j) alone
 * by a counter-based generator, so a 10M-identity set costs only its class-size table, and a
 * sequential pass equals random access byte for byte.
 *
 * Identity namespaces keep splits disjoint: training classes, probe identities (FaceScrub-like),
 * distractor identities (MegaFace-like, one image each, nested prefixes 10, 100, 1K, ...) and
 * verification-pair identities (LFW-like) never share an identity. Evaluation identities are
 * drawn from the same group process as each other, so probes have look-alikes among distractors.
 * A validation split (val_probe_ids probe identities, val_distractors distractors) lives in
 * namespaces of its own, built the same way, for choosing hyper-parameters without touching the
 * test split (docs/METHOD.md §1).
 */
#ifndef DCQB_SYNTH_H
#define DCQB_SYNTH_H

#include "dcqb.h"
#include "keyspec.h"

enum synth_profile {
    SYNTH_MS1M = 0, /* deep classes, lognormal sizes like MS1MV2 (mean ~68 per id)        */
    SYNTH_MF2,      /* long tail like MegaFace Ch.2: >= 88 % of ids under 10 images       */
    SYNTH_UNIFORM,  /* every class the same size (uniform_n)                              */
    SYNTH_ZIPF,     /* power law P(n) ~ n^-zipf_alpha on [zipf_min, zipf_max]              */
    SYNTH_LOGNORMAL /* lognormal with lognorm_mean and lognorm_sigma                       */
};

/* Every field is a knob of `dcqbench data` (--field-name value) and a config key of the same
 * name (synth_keys below). Defaults: docs/METHOD.md §1. */
struct synth_cfg {
    uint64_t seed;          /* data seed; the generator keys everything on it */
    int profile;            /* enum synth_profile */
    int64_t ids;            /* training identities C (class sizes drawn iid, so the shape of the
                             * profile is kept at any C) */
    /* profile parameters (defaults per profile filled by synth_cfg_defaults) */
    double lognorm_mean, lognorm_sigma; /* ms1m / lognormal: mean images per id, sigma of log n;
                                         * sizes are round(lognormal), at least 2 */
    double zipf_alpha;                  /* mf2 / zipf: P(n) ~ n^-alpha ... */
    int zipf_min, zipf_max;             /* ... on the integers [zipf_min, zipf_max] */
    int uniform_n;                      /* uniform: images per id */
    /* geometry and difficulty knobs */
    int id_dim;             /* identity code dimension (32); codes live on the unit sphere */
    int nuis_dim;           /* nuisance dimension (16): pose (u[0], mirrored by flip), light,... */
    int x_dim;              /* observed dimension D (128) */
    int hidden;             /* renderer hidden width (256) */
    int group_size;         /* look-alike group size (8); 1 = no look-alikes */
    double group_spread;    /* within-group spread (0.5): member = normalize(centre +
                             * N(0, spread^2/id_dim) per coordinate); smaller = harder negatives
                             * (0.5 gives group-mate cosine ~0.8) */
    double id_scale;        /* weight of z against u in the renderer input (2.0); smaller = the
                             * identity is a weaker part of the image = harder */
    double nuis_bias;       /* std of the per-identity nuisance bias (0.3); larger = a tail
                             * identity's few images summarise it worse */
    double nuis_var;        /* std of the per-sample nuisance (1.0); larger = harder */
    double noise;           /* std of the additive pixel noise on x (0.1); larger = harder */
    /* "in the wild" faults, off by default */
    double label_noise;     /* fraction of training samples rendered from another (uniformly
                             * chosen) identity; the label stays */
    double dup_ids;         /* fraction of training classes that are a second label of another
                             * class's person (same identity code and nuisance bias) */
    /* evaluation sets */
    int probe_ids;          /* FaceScrub-like probe identities (80) */
    int probe_imgs;         /* images per probe identity (44 -> 3,520) */
    int64_t distractors;    /* MegaFace-like distractors, one image per identity (20000) */
    int lfw_pairs;          /* LFW-like pairs, multiple of 20 (6000 = 10 folds x 600) */
    int holdout;            /* 1: hold out the last image of every class with >= 2 images */
    /* validation split: val_probe_ids x probe_imgs probe images (80) and val_distractors
     * one-image distractors (5000), identities disjoint from every set above */
    int val_probe_ids;
    int64_t val_distractors;
};

/* Fill every field with the documented defaults for `profile` (ids, seed left as given). */
void synth_cfg_defaults(struct synth_cfg *cfg, int profile);
/* "ms1m", "mf2", "uniform", "zipf", "lognormal" (enum order), NULL-terminated. */
extern const char *const synth_profile_names[];
/* "ms1m", "mf2", "uniform", "zipf", "lognormal" -> enum, or -1. */
int synth_profile_from_name(const char *name);

/* The generator's config keys, one row per struct synth_cfg field (datasets/synth_keys.c; read
 * by harness/core/keys.c): synth_id_keys = profile, ids, data_seed (the field `seed`);
 * synth_keys = every knob, read after synth_cfg_defaults(profile) so that the profile's values
 * are the defaults. Both end with a NULL name. */
extern const struct key_spec synth_id_keys[];
extern const struct key_spec synth_keys[];
const char *synth_profile_name(int profile);

struct synth; /* opaque: renderer weights, class sizes and offsets */

int synth_create(struct synth **s, const struct synth_cfg *cfg, struct dcqb_err *err);
void synth_free(struct synth *s); /* NULL is a no-op */
const struct synth_cfg *synth_config(const struct synth *s);
/* An evaluation's distractor count `asked` (eval.distractors; 0: the whole set) against the set
 * the config generates: the evaluation takes a prefix of it, so it can lower the count, never
 * raise it (docs/METHOD.md §4.1). DCQB_EINVAL naming both numbers when asked is larger. Train
 * checks it before it starts, eval before it scores. */
int synth_check_eval_distractors(const struct synth_cfg *cfg, int64_t asked, struct dcqb_err *err);

/* Training split. Class sizes are the full sizes; with holdout on, class c has
 * synth_train_size(c) = size - 1 training images (when size >= 2) and one held-out image. */
int64_t synth_num_classes(const struct synth *s);
int32_t synth_class_size(const struct synth *s, int64_t c);   /* all images of class c */
int32_t synth_train_size(const struct synth *s, int64_t c);   /* training images of class c */
int64_t synth_num_train(const struct synth *s);               /* sum of train sizes */
/* n-th training image in [0, num_train) -> (class, image index within class). O(log C). */
void synth_train_locate(const struct synth *s, int64_t n, int64_t *c, int32_t *j);

/* Render image j of training class c into x (x_dim floats). flip: 0/1. Deterministic, thread
 * safe, independent of call order. Label noise, when on, changes the identity rendered, never
 * the label. */
void synth_render_train(const struct synth *s, float *x, int64_t c, int32_t j, int flip);
/* The held-out image of class c (only when holdout is on and size >= 2); returns 0, or -1 if
 * class c has none. */
int synth_render_holdout(const struct synth *s, float *x, int64_t c, int flip);

/* Evaluation sets (identities disjoint from training and from each other's roles). */
int64_t synth_num_probe_images(const struct synth *s);   /* probe_ids * probe_imgs */
void synth_render_probe(const struct synth *s, float *x, int32_t *label, int64_t i, int flip);
void synth_render_distractor(const struct synth *s, float *x, int64_t i, int flip);
/* Validation split, laid out like the test probes and distractors (look-alikes of a validation
 * probe are among the validation distractors). */
int64_t synth_num_val_probe_images(const struct synth *s); /* val_probe_ids * probe_imgs */
void synth_render_val_probe(const struct synth *s, float *x, int32_t *label, int64_t i, int flip);
void synth_render_val_distractor(const struct synth *s, float *x, int64_t i, int flip);
/* Identity label of (validation) probe image i, as synth_render_(val_)probe writes it; 1 if
 * LFW-like pair i is genuine, as synth_render_pair writes it. For synth_render_views users. */
int32_t synth_probe_label(const struct synth *s, int64_t i);
int synth_pair_same(const struct synth *s, int64_t i);
/* LFW-like pair i: renders both images; *same = 1 for genuine. Pair i is in fold i / (n/10). */
void synth_render_pair(const struct synth *s, float *xa, float *xb, int *same, int64_t i,
                       int flip);

/* n-th training image -> label and rendered x: synth_train_locate + synth_render_train. */
void synth_render_train_n(const struct synth *s, float *x, int32_t *label, int64_t n, int flip);

/* Lower level: the latent factors of one sample, for tests and diagnostics.
 * role/i/j: SYNTH_ROLE_TRAIN (i = class, j = image, label noise applied), _PROBE (i = probe
 * image index), _DISTRACTOR (i), _PAIR_A / _PAIR_B (i = pair index). z: id_dim doubles (unit
 * norm), u: nuis_dim doubles (unflipped), *noise_key: the key of the pixel noise. Returns the
 * identity's global index: training identities k in [0, C) as k, evaluation identities e as
 * -1 - e and validation identities v (_VAL_PROBE: i = image index; _VAL_DISTRACTOR: i) as
 * -1 - SYNTH_VAL_ID0 - v (so the three sets cannot collide). */
enum synth_role { SYNTH_ROLE_TRAIN = 0, SYNTH_ROLE_PROBE, SYNTH_ROLE_DISTRACTOR, SYNTH_ROLE_PAIR_A,
                  SYNTH_ROLE_PAIR_B, SYNTH_ROLE_VAL_PROBE, SYNTH_ROLE_VAL_DISTRACTOR };
#define SYNTH_VAL_ID0 ((int64_t)1 << 56) /* above every test evaluation identity e */
int64_t synth_latent(const struct synth *s, int role, int64_t i, int32_t j, double *z, double *u,
                     uint64_t *noise_key);
/* Flip (pose mirrored): negate u[0]. Applying it twice is the identity. */
void synth_flip_latent(double *u);
/* Render from latents: x = tanh(A2 tanh(A1 [id_scale z ; u] + b1)) + noise * N(0,1) with the
 * pixel noise drawn from noise_key. ~2 (in*hidden + hidden*D) FLOPs (90K at the defaults). */
void synth_render_latent(const struct synth *s, float *x, const double *z, const double *u,
                         uint64_t noise_key);
/* Image (role, i, j) unflipped into x and, when xf is not NULL, flipped into xf: the same bytes
 * as two synth_render_* calls, at less cost (the latents, the pixel noise and the part of the
 * first layer that does not see the pose are computed once). */
void synth_render_views(const struct synth *s, float *x, float *xf, int role, int64_t i,
                        int32_t j);

/* The renderer's tanh (a rational approximation, libm-independent); exposed for its test. */
float synth_tanh(float x);

/* Class-size statistics of the training split (all images, before holdout). */
struct synth_stats {
    int64_t identities, images;
    int32_t min, max;
    double median, mean;
    double share_under_10;  /* fraction of ids with < 10 images */
};
void synth_stats(const struct synth *s, struct synth_stats *st);
/* Class-size histogram: hist[n] = number of classes with n images, n in [0, st.max]; the caller
 * passes an array of st.max + 1 entries. */
void synth_size_hist(const struct synth *s, int64_t *hist);

#endif
