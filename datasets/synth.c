/* synth.c - synthetic face-identity generator (see synth.h; docs/METHOD.md §1 for the data
 * sets it imitates and where its defaults come from).
 *
 * Every random quantity is a pure function of a key (base seed, namespace, index, index):
 * key_hash() mixes the key into a 64-bit state, splitmix64 steps it, Box-Muller turns pairs of
 * uniforms into normals in double. Nothing depends on call order, so random access equals a
 * sequential pass byte for byte. The only stored tables are the class sizes (int32), the int64
 * prefix offsets of the training images, the renderer weights, and (zipf/mf2) the size CDF.
 *
 * Identity namespaces: training identities k in [0, C) (groups of group_size consecutive k);
 * evaluation identities e in their own namespace and group process, laid out as
 *   [probe groups: member 0 = probe id, members 1.. = distractor look-alikes]
 *   [distractor-only groups] [pair groups]
 * Distractor i is the identity at position feistel(i) of the distractor slots, a seeded
 * bijection on [0, N), so every prefix 10, 100, 1K, ... is an unbiased sample of the slots.
 * The validation split repeats the first two blocks in namespaces of its own (NS_VAL_*):
 *   [validation probe groups] [validation distractor-only groups]
 * so it draws nothing from the test namespaces and the test sets keep every byte.
 */
#include "synth.h"
#include "synth_kernels.h"

#include <math.h>
#include <stdlib.h>

#define SYNTH_MAX_IN 1024     /* id_dim + nuis_dim */
#define SYNTH_MAX_HIDDEN 4096
#define SYNTH_MAX_CLASS 1000000 /* cap on one class's size (lognormal tails) */

/* Namespaces of the keyed generator. Changing one changes every data set: don't. */
enum {
    NS_RENDER = 1, NS_SIZE, NS_DUP, NS_LNOISE,
    NS_TRAIN_GROUP, NS_TRAIN_ID, NS_TRAIN_BIAS, NS_TRAIN_SAMPLE,
    NS_EVAL_GROUP, NS_EVAL_ID, NS_EVAL_BIAS, NS_EVAL_SAMPLE,
    NS_PERM,
    /* the validation split (appended: the values above must not move) */
    NS_VAL_GROUP, NS_VAL_ID, NS_VAL_BIAS, NS_VAL_SAMPLE, NS_VAL_PERM
};

struct synth {
    struct synth_cfg cfg;
    uint64_t base;        /* dcqb_stream_seed(seed, DATA) */
    int64_t C;
    int32_t *size;        /* (C) all images per class */
    int64_t *off;         /* (C+1) prefix sums of training sizes */
    float *a1t;           /* (in, hidden): A1 transposed so the inner loop runs over hidden */
    float *b1;            /* (hidden) */
    float *a2t;           /* (hidden, x_dim): A2 transposed */
    double *zipf_cdf;     /* (zipf_max - zipf_min + 1) or NULL */
    int64_t *hist;        /* (max + 1) class-size histogram */
    struct synth_stats st;
    /* evaluation layout */
    int64_t mates;        /* probe_ids * (group_size - 1): distractor slots that are look-alikes */
    int64_t pair_group0;  /* first evaluation group used by LFW-like pairs */
    int perm_half;        /* Feistel half width in bits */
    int64_t val_mates;    /* the same for the validation split */
    int val_perm_half;
};

/* ------------------------------------------------------------------ keyed generator */

static inline uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline uint64_t key_hash(uint64_t base, uint64_t ns, uint64_t a, uint64_t b)
{
    uint64_t h = mix64(base ^ (ns * 0x9e3779b97f4a7c15ULL));
    h = mix64(h ^ (a + 0x632be59bd9b4e019ULL));
    return mix64(h ^ (b * 0xd1b54a32d192ed03ULL + 0x8cb92ba72f3d8dd7ULL));
}

struct krng {
    uint64_t s;
    double spare;
    int has_spare;
};

static inline void krng_init(struct krng *r, uint64_t key)
{
    r->s = key;
    r->has_spare = 0;
    r->spare = 0.0;
}

/* uniform in (0, 1): 53 random bits, never 0 (log in Box-Muller) */
static inline double krng_u01(struct krng *r)
{
    return ((double)(dcqb_splitmix64(&r->s) >> 11) + 0.5) * 0x1.0p-53;
}

static inline double krng_normal(struct krng *r)
{
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u1 = krng_u01(r), u2 = krng_u01(r);
    double rad = sqrt(-2.0 * log(u1));
    double th = 6.283185307179586 * u2;
    r->spare = rad * sin(th);
    r->has_spare = 1;
    return rad * cos(th);
}

/* ------------------------------------------------------------------ config */

void synth_cfg_defaults(struct synth_cfg *cfg, int profile)
{
    uint64_t seed = cfg->seed;
    int64_t ids = cfg->ids;
    memset(cfg, 0, sizeof *cfg);
    cfg->seed = seed;
    cfg->ids = ids;
    cfg->profile = profile;
    cfg->lognorm_mean = profile == SYNTH_LOGNORMAL ? 20.0 : 68.0; /* MS1MV2: 5.8M / 85,742 */
    cfg->lognorm_sigma = profile == SYNTH_LOGNORMAL ? 1.0 : 0.5;
    cfg->zipf_alpha = profile == SYNTH_ZIPF ? 2.0 : 2.2;
    cfg->zipf_min = 2;
    cfg->zipf_max = profile == SYNTH_ZIPF ? 1000 : 3000;
    cfg->uniform_n = 40;
    cfg->id_dim = 32;
    cfg->nuis_dim = 16;
    cfg->x_dim = 128;
    cfg->hidden = 256;
    cfg->group_size = 8;
    cfg->group_spread = 0.5;
    cfg->id_scale = 2.0;
    cfg->nuis_bias = 0.3;
    cfg->nuis_var = 1.0;
    cfg->noise = 0.1;
    cfg->label_noise = 0.0;
    cfg->dup_ids = 0.0;
    cfg->probe_ids = 80;
    cfg->probe_imgs = 44;
    cfg->distractors = 20000;
    cfg->lfw_pairs = 6000;
    cfg->holdout = 1;
    cfg->val_probe_ids = 80;
    cfg->val_distractors = 5000;
}

const char *const synth_profile_names[] = {"ms1m", "mf2", "uniform", "zipf", "lognormal", NULL};

int synth_profile_from_name(const char *name)
{
    for (int i = 0; i < 5; i++)
        if (name && strcmp(name, synth_profile_names[i]) == 0) return i;
    return -1;
}

const char *synth_profile_name(int profile)
{
    return profile >= 0 && profile < 5 ? synth_profile_names[profile] : "?";
}

static int check_cfg(const struct synth_cfg *c, struct dcqb_err *err)
{
#define NEED(cond, ...) \
    do { if (!(cond)) return DCQB_FAIL(err, DCQB_EINVAL, __VA_ARGS__); } while (0)
    NEED(c->profile >= 0 && c->profile < 5, "synth: unknown profile %d", c->profile);
    NEED(c->ids >= 1 && c->ids <= INT32_MAX, "synth: ids = %lld must be in [1, 2^31-1]",
         (long long)c->ids);
    NEED(c->id_dim >= 2 && c->nuis_dim >= 1 && c->id_dim + c->nuis_dim <= SYNTH_MAX_IN,
         "synth: need id_dim >= 2, nuis_dim >= 1 and id_dim + nuis_dim <= %d (got %d, %d)",
         SYNTH_MAX_IN, c->id_dim, c->nuis_dim);
    NEED(c->hidden >= 1 && c->hidden <= SYNTH_MAX_HIDDEN, "synth: hidden = %d not in [1, %d]",
         c->hidden, SYNTH_MAX_HIDDEN);
    NEED(c->x_dim >= 1 && c->x_dim <= 65536, "synth: x_dim = %d not in [1, 65536]", c->x_dim);
    NEED(c->group_size >= 1 && c->group_size <= 1000000, "synth: group_size = %d not in [1, 1e6]",
         c->group_size);
    NEED(c->group_spread >= 0 && c->id_scale >= 0 && c->nuis_bias >= 0 && c->nuis_var >= 0 &&
         c->noise >= 0, "synth: group_spread, id_scale, nuis_bias, nuis_var and noise must be "
         ">= 0");
    NEED(c->label_noise >= 0 && c->label_noise <= 1, "synth: label_noise = %g not in [0, 1]",
         c->label_noise);
    NEED(c->dup_ids >= 0 && c->dup_ids <= 1, "synth: dup_ids = %g not in [0, 1]", c->dup_ids);
    NEED(c->lognorm_mean > 0 && c->lognorm_mean <= SYNTH_MAX_CLASS && c->lognorm_sigma >= 0 &&
         c->lognorm_sigma <= 5, "synth: need 0 < lognorm_mean <= %d and 0 <= lognorm_sigma <= 5",
         SYNTH_MAX_CLASS);
    NEED(c->zipf_alpha > 0 && c->zipf_min >= 1 && c->zipf_max >= c->zipf_min &&
         c->zipf_max <= SYNTH_MAX_CLASS, "synth: need zipf_alpha > 0 and 1 <= zipf_min <= "
         "zipf_max <= %d", SYNTH_MAX_CLASS);
    NEED(c->uniform_n >= 1 && c->uniform_n <= SYNTH_MAX_CLASS, "synth: uniform_n = %d not in "
         "[1, %d]", c->uniform_n, SYNTH_MAX_CLASS);
    NEED(c->probe_ids >= 0 && c->probe_imgs >= 1 &&
         (int64_t)c->probe_ids * c->probe_imgs <= INT32_MAX,
         "synth: need probe_ids >= 0 and probe_imgs >= 1");
    NEED(c->distractors >= 0 && c->distractors <= ((int64_t)1 << 40),
         "synth: distractors = %lld not in [0, 2^40]", (long long)c->distractors);
    NEED(c->lfw_pairs >= 0 && c->lfw_pairs % 20 == 0,
         "synth: lfw_pairs = %d must be a multiple of 20 (10 folds, half genuine)", c->lfw_pairs);
    NEED(c->holdout == 0 || c->holdout == 1, "synth: holdout must be 0 or 1");
    NEED(c->val_probe_ids >= 0 && (int64_t)c->val_probe_ids * c->probe_imgs <= INT32_MAX,
         "synth: need val_probe_ids >= 0 and val_probe_ids x probe_imgs < 2^31");
    NEED(c->val_distractors >= 0 && c->val_distractors <= ((int64_t)1 << 40),
         "synth: val_distractors = %lld not in [0, 2^40]", (long long)c->val_distractors);
#undef NEED
    return DCQB_OK;
}

/* ------------------------------------------------------------------ class sizes */

static int32_t draw_size(const struct synth *s, int64_t c)
{
    const struct synth_cfg *cf = &s->cfg;
    struct krng r;
    krng_init(&r, key_hash(s->base, NS_SIZE, (uint64_t)c, 0));
    double n;
    switch (cf->profile) {
    case SYNTH_UNIFORM: return cf->uniform_n;
    case SYNTH_MF2:
    case SYNTH_ZIPF: {
        /* inverse CDF: first k with cdf[k] >= u */
        double u = krng_u01(&r);
        int lo = 0, hi = cf->zipf_max - cf->zipf_min;
        while (lo < hi) {
            int mid = lo + (hi - lo) / 2;
            if (s->zipf_cdf[mid] >= u) hi = mid;
            else lo = mid + 1;
        }
        return cf->zipf_min + lo;
    }
    default: /* ms1m, lognormal: E[n] = lognorm_mean, so mu = log(mean) - sigma^2 / 2 */
        n = exp(log(cf->lognorm_mean) - 0.5 * cf->lognorm_sigma * cf->lognorm_sigma +
                cf->lognorm_sigma * krng_normal(&r));
        n = floor(n + 0.5);
        if (n < 2) n = 2;
        if (n > SYNTH_MAX_CLASS) n = SYNTH_MAX_CLASS;
        return (int32_t)n;
    }
}

static int32_t train_size_of(const struct synth *s, int32_t n)
{
    return (s->cfg.holdout && n >= 2) ? n - 1 : n;
}

/* ------------------------------------------------------------------ identities */

/* Unit code of identity `idx` in the namespace pair (ns_group, ns_id): group centre (unit,
 * isotropic) + N(0, spread^2/id_dim) per coordinate, renormalised. 2 id_dim normals. */
static void identity_code(const struct synth *s, double *z, uint64_t ns_group, uint64_t ns_id,
                          int64_t idx)
{
    const int d = s->cfg.id_dim;
    struct krng r;
    krng_init(&r, key_hash(s->base, ns_group, (uint64_t)(idx / s->cfg.group_size), 0));
    double nrm = 0;
    for (int i = 0; i < d; i++) {
        z[i] = krng_normal(&r);
        nrm += z[i] * z[i];
    }
    nrm = 1.0 / sqrt(nrm);
    double sp = s->cfg.group_spread / sqrt((double)d);
    krng_init(&r, key_hash(s->base, ns_id, (uint64_t)idx, 0));
    double n2 = 0;
    for (int i = 0; i < d; i++) {
        z[i] = z[i] * nrm + sp * krng_normal(&r);
        n2 += z[i] * z[i];
    }
    n2 = 1.0 / sqrt(n2);
    for (int i = 0; i < d; i++) z[i] *= n2;
}

/* u = per-identity bias (key ns_bias, idx) + per-sample variation (key ns_sample, a, b). The
 * sample key continues into the pixel noise: *noise_key. */
static void nuisance(const struct synth *s, double *u, uint64_t ns_bias, int64_t idx,
                     uint64_t ns_sample, uint64_t a, uint64_t b, uint64_t *noise_key)
{
    const int d = s->cfg.nuis_dim;
    struct krng r;
    krng_init(&r, key_hash(s->base, ns_bias, (uint64_t)idx, 0));
    for (int i = 0; i < d; i++) u[i] = s->cfg.nuis_bias * krng_normal(&r);
    uint64_t k = key_hash(s->base, ns_sample, a, b);
    krng_init(&r, k);
    for (int i = 0; i < d; i++) u[i] += s->cfg.nuis_var * krng_normal(&r);
    *noise_key = mix64(k ^ 0x6e6f697365ULL); /* "noise" */
}

/* The person behind training class c: itself, or (dup_ids) another class's person. */
static int64_t train_identity(const struct synth *s, int64_t c)
{
    if (s->cfg.dup_ids <= 0 || s->C < 2) return c;
    struct krng r;
    krng_init(&r, key_hash(s->base, NS_DUP, (uint64_t)c, 0));
    if (!(krng_u01(&r) < s->cfg.dup_ids)) return c;
    int64_t o = (int64_t)(krng_u01(&r) * (double)(s->C - 1));
    if (o > s->C - 2) o = s->C - 2;
    return (c + 1 + o) % s->C;
}

/* Feistel bijection on [0, 2^(2 h)), cycle-walked into [0, n), keyed by namespace ns:
 * distractor order. */
static int64_t perm_index(const struct synth *s, uint64_t ns, int h, int64_t n_slots, int64_t i)
{
    const uint64_t mask = ((uint64_t)1 << h) - 1, n = (uint64_t)n_slots;
    uint64_t x = (uint64_t)i;
    do {
        uint64_t l = x >> h, r = x & mask;
        for (int round = 0; round < 4; round++) {
            uint64_t t = l ^ (key_hash(s->base, ns, (uint64_t)round, r) & mask);
            l = r;
            r = t;
        }
        x = (l << h) | r;
    } while (x >= n);
    return (int64_t)x;
}

/* Evaluation identity of distractor i (see the layout at the top of the file); val: of
 * validation distractor i, in the validation namespaces. */
static int64_t distractor_identity(const struct synth *s, int64_t i, int val)
{
    const int64_t gs = s->cfg.group_size;
    const int64_t mates = val ? s->val_mates : s->mates;
    const int64_t probes = val ? s->cfg.val_probe_ids : s->cfg.probe_ids;
    int64_t q = val ? perm_index(s, NS_VAL_PERM, s->val_perm_half, s->cfg.val_distractors, i)
                    : perm_index(s, NS_PERM, s->perm_half, s->cfg.distractors, i);
    if (q < mates) return (q / (gs - 1)) * gs + 1 + q % (gs - 1);
    return probes * gs + (q - mates);
}

int64_t synth_latent(const struct synth *s, int role, int64_t i, int32_t j, double *z, double *u,
                     uint64_t *noise_key)
{
    const int64_t gs = s->cfg.group_size;
    if (role == SYNTH_ROLE_TRAIN) {
        int64_t k = train_identity(s, i);
        if (s->cfg.label_noise > 0 && s->C >= 2) {
            struct krng r;
            krng_init(&r, key_hash(s->base, NS_LNOISE, (uint64_t)i, (uint64_t)j));
            if (krng_u01(&r) < s->cfg.label_noise) {
                int64_t o = (int64_t)(krng_u01(&r) * (double)(s->C - 1));
                if (o > s->C - 2) o = s->C - 2;
                k = train_identity(s, (i + 1 + o) % s->C);
            }
        }
        identity_code(s, z, NS_TRAIN_GROUP, NS_TRAIN_ID, k);
        nuisance(s, u, NS_TRAIN_BIAS, k, NS_TRAIN_SAMPLE, (uint64_t)i, (uint64_t)j, noise_key);
        return k;
    }
    int64_t e;
    int32_t img = 0;
    if (role == SYNTH_ROLE_VAL_PROBE || role == SYNTH_ROLE_VAL_DISTRACTOR) {
        if (role == SYNTH_ROLE_VAL_PROBE) {
            e = (i / s->cfg.probe_imgs) * gs;
            img = (int32_t)(i % s->cfg.probe_imgs);
        } else {
            e = distractor_identity(s, i, 1);
        }
        identity_code(s, z, NS_VAL_GROUP, NS_VAL_ID, e);
        nuisance(s, u, NS_VAL_BIAS, e, NS_VAL_SAMPLE, (uint64_t)e, (uint64_t)img, noise_key);
        return -1 - SYNTH_VAL_ID0 - e;
    }
    switch (role) {
    case SYNTH_ROLE_PROBE:
        e = (i / s->cfg.probe_imgs) * gs;
        img = (int32_t)(i % s->cfg.probe_imgs);
        break;
    case SYNTH_ROLE_DISTRACTOR: e = distractor_identity(s, i, 0); break;
    default: { /* pairs: fold = i / m, position k in fold; first half genuine */
        int64_t m = s->cfg.lfw_pairs / 10, k = i % m;
        int64_t g = s->pair_group0 + i;
        e = g * gs;
        if (role == SYNTH_ROLE_PAIR_B) {
            if (k < m / 2) img = 1;                              /* genuine: same person */
            else if (((k - m / 2) & 1) == 0 && gs > 1) e = g * gs + 1; /* look-alike impostor */
            else e = (s->pair_group0 + s->cfg.lfw_pairs + i) * gs; /* another group */
        }
        break;
    }
    }
    identity_code(s, z, NS_EVAL_GROUP, NS_EVAL_ID, e);
    nuisance(s, u, NS_EVAL_BIAS, e, NS_EVAL_SAMPLE, (uint64_t)e, (uint64_t)img, noise_key);
    return -1 - e;
}

void synth_flip_latent(double *u) { u[0] = -u[0]; }

/* ------------------------------------------------------------------ renderer */

/* The renderer input v = [id_scale z ; u] in float. */
static void render_input(const struct synth *s, float *v, const double *z, const double *u)
{
    const int dz = s->cfg.id_dim, du = s->cfg.nuis_dim;
    for (int i = 0; i < dz; i++) v[i] = (float)(s->cfg.id_scale * z[i]);
    for (int i = 0; i < du; i++) v[dz + i] = (float)u[i];
}

/* h += A1[:, i0:i1] v[i0:i1]: A1t is (in, H); axpy form so gcc vectorises over H without
 * reassociating a sum (the order is fixed: i ascending, so [0, a) then [a, in) is [0, in)). */
static void first_layer(const struct synth *s, float *restrict h, const float *v, int i0, int i1)
{
    const int H = s->cfg.hidden;
    synth_layer_accum(h, s->a1t, (size_t)H, v, i0, i1, H);
}

/* x = tanh(A2 tanh(h)) (h is overwritten by tanh(h)): A2t is (H, D). H*D MACs. */
static void second_layer(const struct synth *s, float *restrict xo, float *restrict h)
{
    const int H = s->cfg.hidden, D = s->cfg.x_dim;
    synth_tanh_inplace(h, H);
    memset(xo, 0, (size_t)D * sizeof *xo);
    synth_layer_accum(xo, s->a2t, (size_t)D, h, 0, H, D);
    synth_tanh_inplace(xo, D);
}

void synth_render_latent(const struct synth *s, float *x, const double *z, const double *u,
                         uint64_t noise_key)
{
    const int in = s->cfg.id_dim + s->cfg.nuis_dim, D = s->cfg.x_dim;
    float v[SYNTH_MAX_IN], h[SYNTH_MAX_HIDDEN];
    render_input(s, v, z, u);
    /* h = A1 v + b1 (in*H MACs), x = tanh(A2 tanh(h)) + noise */
    memcpy(h, s->b1, (size_t)s->cfg.hidden * sizeof *h);
    first_layer(s, h, v, 0, in);
    second_layer(s, x, h);
    struct krng r;
    krng_init(&r, noise_key);
    for (int d = 0; d < D; d++) x[d] += (float)(s->cfg.noise * krng_normal(&r));
}

static void render_role(const struct synth *s, float *x, int role, int64_t i, int32_t j, int flip)
{
    double z[SYNTH_MAX_IN], u[SYNTH_MAX_IN];
    uint64_t nk;
    synth_latent(s, role, i, j, z, u, &nk);
    if (flip) synth_flip_latent(u);
    synth_render_latent(s, x, z, u, nk);
}

/* synth_render_latent twice (u, then u with u[0] negated), sharing what the flip cannot change:
 * the latents, the pixel noise (same key) and the first layer's sum over the identity inputs
 * [0, id_dim), which comes before the pose input u[0] in the fixed order. Same bytes. */
void synth_render_views(const struct synth *s, float *x, float *xf, int role, int64_t i,
                        int32_t j)
{
    const int dz = s->cfg.id_dim, in = dz + s->cfg.nuis_dim, H = s->cfg.hidden;
    const int D = s->cfg.x_dim;
    double z[SYNTH_MAX_IN], u[SYNTH_MAX_IN];
    float v[SYNTH_MAX_IN], h[SYNTH_MAX_HIDDEN], hf[SYNTH_MAX_HIDDEN];
    uint64_t nk;
    synth_latent(s, role, i, j, z, u, &nk);
    render_input(s, v, z, u);
    memcpy(h, s->b1, (size_t)H * sizeof *h);
    first_layer(s, h, v, 0, dz);
    if (xf) memcpy(hf, h, (size_t)H * sizeof *h);
    first_layer(s, h, v, dz, in);
    second_layer(s, x, h);
    if (xf) {
        synth_flip_latent(u);
        v[dz] = (float)u[0];
        first_layer(s, hf, v, dz, in);
        second_layer(s, xf, hf);
    }
    struct krng r;
    krng_init(&r, nk);
    for (int d = 0; d < D; d++) {
        const float e = (float)(s->cfg.noise * krng_normal(&r));
        x[d] += e;
        if (xf) xf[d] += e;
    }
}

void synth_render_train(const struct synth *s, float *x, int64_t c, int32_t j, int flip)
{
    render_role(s, x, SYNTH_ROLE_TRAIN, c, j, flip);
}

void synth_render_train_n(const struct synth *s, float *x, int32_t *label, int64_t n, int flip)
{
    int64_t c;
    int32_t j;
    synth_train_locate(s, n, &c, &j);
    if (label) *label = (int32_t)c;
    render_role(s, x, SYNTH_ROLE_TRAIN, c, j, flip);
}

int synth_render_holdout(const struct synth *s, float *x, int64_t c, int flip)
{
    int32_t n = s->size[c];
    if (!s->cfg.holdout || n < 2) return -1;
    render_role(s, x, SYNTH_ROLE_TRAIN, c, n - 1, flip);
    return 0;
}

int64_t synth_num_probe_images(const struct synth *s)
{
    return (int64_t)s->cfg.probe_ids * s->cfg.probe_imgs;
}

int32_t synth_probe_label(const struct synth *s, int64_t i)
{
    return (int32_t)(i / s->cfg.probe_imgs);
}

int synth_pair_same(const struct synth *s, int64_t i)
{
    int64_t m = s->cfg.lfw_pairs / 10;
    return (i % m) < m / 2;
}

void synth_render_probe(const struct synth *s, float *x, int32_t *label, int64_t i, int flip)
{
    if (label) *label = synth_probe_label(s, i);
    render_role(s, x, SYNTH_ROLE_PROBE, i, 0, flip);
}

void synth_render_distractor(const struct synth *s, float *x, int64_t i, int flip)
{
    render_role(s, x, SYNTH_ROLE_DISTRACTOR, i, 0, flip);
}

int64_t synth_num_val_probe_images(const struct synth *s)
{
    return (int64_t)s->cfg.val_probe_ids * s->cfg.probe_imgs;
}

void synth_render_val_probe(const struct synth *s, float *x, int32_t *label, int64_t i, int flip)
{
    if (label) *label = synth_probe_label(s, i);
    render_role(s, x, SYNTH_ROLE_VAL_PROBE, i, 0, flip);
}

void synth_render_val_distractor(const struct synth *s, float *x, int64_t i, int flip)
{
    render_role(s, x, SYNTH_ROLE_VAL_DISTRACTOR, i, 0, flip);
}

void synth_render_pair(const struct synth *s, float *xa, float *xb, int *same, int64_t i,
                       int flip)
{
    if (same) *same = synth_pair_same(s, i);
    render_role(s, xa, SYNTH_ROLE_PAIR_A, i, 0, flip);
    render_role(s, xb, SYNTH_ROLE_PAIR_B, i, 0, flip);
}

/* ------------------------------------------------------------------ create / free / queries */

int synth_create(struct synth **out, const struct synth_cfg *cfg, struct dcqb_err *err)
{
    *out = NULL;
    int rc = check_cfg(cfg, err);
    if (rc) return rc;
    struct synth *s = calloc(1, sizeof *s);
    if (!s) return DCQB_FAIL(err, DCQB_ENOMEM, "synth: out of memory");
    s->cfg = *cfg;
    s->base = dcqb_stream_seed(cfg->seed, DCQB_STREAM_DATA);
    s->C = cfg->ids;
    const int in = cfg->id_dim + cfg->nuis_dim, H = cfg->hidden, D = cfg->x_dim;
    s->size = malloc((size_t)s->C * sizeof *s->size);
    s->off = malloc((size_t)(s->C + 1) * sizeof *s->off);
    s->a1t = malloc((size_t)in * H * sizeof *s->a1t);
    s->b1 = malloc((size_t)H * sizeof *s->b1);
    s->a2t = malloc((size_t)H * D * sizeof *s->a2t);
    if (!s->size || !s->off || !s->a1t || !s->b1 || !s->a2t) {
        rc = DCQB_FAIL(err, DCQB_ENOMEM, "synth: out of memory for %lld classes",
                       (long long)s->C);
        goto fail;
    }
    if (cfg->profile == SYNTH_MF2 || cfg->profile == SYNTH_ZIPF) {
        int K = cfg->zipf_max - cfg->zipf_min + 1;
        s->zipf_cdf = malloc((size_t)K * sizeof *s->zipf_cdf);
        if (!s->zipf_cdf) {
            rc = DCQB_FAIL(err, DCQB_ENOMEM, "synth: out of memory");
            goto fail;
        }
        double acc = 0;
        for (int k = 0; k < K; k++) {
            acc += pow((double)(cfg->zipf_min + k), -cfg->zipf_alpha);
            s->zipf_cdf[k] = acc;
        }
        for (int k = 0; k < K; k++) s->zipf_cdf[k] /= acc;
        s->zipf_cdf[K - 1] = 1.0;
    }
    /* Renderer: A1 ~ N(0, 1.5^2/in), b1 ~ N(0, 0.3^2), A2 ~ N(0, 1.5^2/H) (docs/METHOD.md §1),
     * drawn in the natural (row-major A) order and stored transposed. */
    {
        struct krng r;
        krng_init(&r, key_hash(s->base, NS_RENDER, 1, 0));
        double s1 = 1.5 / sqrt((double)in), s2 = 1.5 / sqrt((double)H);
        for (int k = 0; k < H; k++)
            for (int i = 0; i < in; i++) s->a1t[(size_t)i * H + k] = (float)(s1 * krng_normal(&r));
        krng_init(&r, key_hash(s->base, NS_RENDER, 2, 0));
        for (int k = 0; k < H; k++) s->b1[k] = (float)(0.3 * krng_normal(&r));
        krng_init(&r, key_hash(s->base, NS_RENDER, 3, 0));
        for (int d = 0; d < D; d++)
            for (int k = 0; k < H; k++) s->a2t[(size_t)k * D + d] = (float)(s2 * krng_normal(&r));
    }
    /* Class sizes and statistics */
    int32_t mn = INT32_MAX, mx = 0;
    int64_t total = 0;
    s->off[0] = 0;
    for (int64_t c = 0; c < s->C; c++) {
        int32_t n = draw_size(s, c);
        s->size[c] = n;
        if (n < mn) mn = n;
        if (n > mx) mx = n;
        total += n;
        s->off[c + 1] = s->off[c] + train_size_of(s, n);
    }
    s->hist = calloc((size_t)mx + 1, sizeof *s->hist);
    if (!s->hist) {
        rc = DCQB_FAIL(err, DCQB_ENOMEM, "synth: out of memory");
        goto fail;
    }
    for (int64_t c = 0; c < s->C; c++) s->hist[s->size[c]]++;
    s->st.identities = s->C;
    s->st.images = total;
    s->st.min = mn;
    s->st.max = mx;
    s->st.mean = (double)total / (double)s->C;
    {
        /* median: the (C-1)/2-th and C/2-th smallest sizes, averaged */
        int64_t lo_rank = (s->C - 1) / 2, hi_rank = s->C / 2, acc = 0;
        int32_t lo_v = -1, hi_v = -1;
        for (int32_t n = 0; n <= mx && hi_v < 0; n++) {
            acc += s->hist[n];
            if (lo_v < 0 && acc > lo_rank) lo_v = n;
            if (acc > hi_rank) hi_v = n;
        }
        s->st.median = 0.5 * ((double)lo_v + (double)hi_v);
        int64_t under = 0;
        for (int32_t n = 0; n <= mx && n < 10; n++) under += s->hist[n];
        s->st.share_under_10 = (double)under / (double)s->C;
    }
    /* Evaluation layout */
    {
        int64_t gs = cfg->group_size, N = cfg->distractors;
        s->mates = (int64_t)cfg->probe_ids * (gs - 1);
        int64_t only = N > s->mates ? N - s->mates : 0; /* distractors in their own groups */
        s->pair_group0 = cfg->probe_ids + (only + gs - 1) / gs;
        int bits = 2;
        while (((int64_t)1 << bits) < N) bits++;
        s->perm_half = (bits + 1) / 2;
        /* validation: the same layout on its own counts */
        int64_t Nv = cfg->val_distractors;
        s->val_mates = (int64_t)cfg->val_probe_ids * (gs - 1);
        bits = 2;
        while (((int64_t)1 << bits) < Nv) bits++;
        s->val_perm_half = (bits + 1) / 2;
    }
    *out = s;
    return DCQB_OK;
fail:
    synth_free(s);
    return rc;
}

void synth_free(struct synth *s)
{
    if (!s) return;
    free(s->size);
    free(s->off);
    free(s->a1t);
    free(s->b1);
    free(s->a2t);
    free(s->zipf_cdf);
    free(s->hist);
    free(s);
}

const struct synth_cfg *synth_config(const struct synth *s) { return &s->cfg; }

int synth_check_eval_distractors(const struct synth_cfg *cfg, int64_t asked, struct dcqb_err *err)
{
    if (asked > cfg->distractors)
        return DCQB_FAIL(err, DCQB_EINVAL, "eval.distractors = %lld exceeds the distractor set "
                         "(%lld identities; raise the data key 'distractors')", (long long)asked,
                         (long long)cfg->distractors);
    return DCQB_OK;
}

int64_t synth_num_classes(const struct synth *s) { return s->C; }
int32_t synth_class_size(const struct synth *s, int64_t c) { return s->size[c]; }
int32_t synth_train_size(const struct synth *s, int64_t c) { return train_size_of(s, s->size[c]); }
int64_t synth_num_train(const struct synth *s) { return s->off[s->C]; }

void synth_train_locate(const struct synth *s, int64_t n, int64_t *c, int32_t *j)
{
    /* largest c with off[c] <= n (classes with 0 training images are skipped naturally) */
    int64_t lo = 0, hi = s->C - 1;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo + 1) / 2;
        if (s->off[mid] <= n) lo = mid;
        else hi = mid - 1;
    }
    *c = lo;
    *j = (int32_t)(n - s->off[lo]);
}

void synth_stats(const struct synth *s, struct synth_stats *st) { *st = s->st; }

void synth_size_hist(const struct synth *s, int64_t *hist)
{
    memcpy(hist, s->hist, ((size_t)s->st.max + 1) * sizeof *hist);
}
