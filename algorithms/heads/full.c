/* full.c - the `full` head: one learned weight per class, logits over all C classes, margin on
 * the target column, softmax cross entropy (REFERENCE.md section 4; Partial FC at r = 1).
 *
 *   cos_ij = e_i . w_j / |w_j|   (e_i unit rows from the loop),  z_ij = s cos_ij,  z_iy = s g(cos_iy)
 *   loss   = mean_i CE(z_i, y_i)
 *   G_ij   = d loss / d cos_ij = (p_ij - [j = y_i]) / B * (s, or d z / d cos on the target)
 *   d e_i += sum_j G_ij w_j / |w_j|
 *   d w_j  = (1/|w_j|) (M_j - (M_j . w^_j) w^_j),  M_j = sum_i G_ij e_i
 *
 * No normalised copy of W: 1/|w_j| (C floats, `inv`) is folded into the logits pass and into G
 * (G'_ij = G_ij / |w_j|), so both backward GEMMs use the raw W: d E = G' W, M' = G'^T E = M/|w|.
 * `inv` is recomputed in the fused SGD pass right after each row is updated, so forward never
 * streams W just for norms. One (B,C) buffer holds logits, then dZ in place.
 *
 * Arena (one allocation): W (C,D) | V momentum (C,D) | dW (C,D) = M' | inv (C) | logits (B,C)
 * | emb copy (B,D).  Per class: 4 (3D + 1 + B) bytes (1,796 at D = 128, B = 256).
 * FLOPs per step: 3 GEMMs of 2BCD + ~6BC (scale, max, exp/sum, grad) + ~12CD (projection,
 * SGD, norms). Keys: margin, s, m, m1, m2, m3, straight_through, easy_margin (head_margin_params;
 * defaults s = 64, cosface m = 0.4; arcface m = 0.5).
 */
#include "full.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <zlib.h>

#include "cosw.h"
#include "margin.h"
#include "ops.h"
#include "rng.h"

#define FULL_MAGIC 0x46514344u /* "DCQF" little-endian */
#define FULL_VERSION 1u

struct full_state {
    int64_t C;
    int D, max_batch;
    struct margin_cfg mc;
    struct optim_cfg opt;
    float *arena;
    float *W, *V, *dW, *inv, *logits, *emb;
    int pending; /* forward_backward done, step not yet */
};

struct full_header {
    uint32_t magic, version;
    int64_t C;
    int32_t D, pad;
};

static void full_free(void *st)
{
    struct full_state *s = st;
    if (!s) return;
    free(s->arena);
    memset(s, 0, sizeof *s);
}

/* inv_j = 1 / max(|w_j|, 1e-12) for j in [0, C).  2CD FLOPs, reads CD floats. */
static void full_norms(struct full_state *s) { cosw_norms(s->inv, s->W, s->C, s->D); }

static int full_init(void *st, const struct head_cfg *cfg, struct head_req *req,
                     struct dcqb_err *err)
{
    struct full_state *s = st;
    memset(s, 0, sizeof *s);
    if (req) memset(req, 0, sizeof *req);
    if (cfg->C < 1 || cfg->C > INT_MAX / 2)
        return DCQB_FAIL(err, DCQB_EINVAL, "full: C = %lld out of range [1, %d]",
                         (long long)cfg->C, INT_MAX / 2);
    if (cfg->D < 1 || cfg->max_batch < 1)
        return DCQB_FAIL(err, DCQB_EINVAL, "full: D = %d and max_batch = %d must be >= 1",
                         cfg->D, cfg->max_batch);
    if (cfg->init_std < 0 || !isfinite(cfg->init_std))
        return DCQB_FAIL(err, DCQB_EINVAL, "full: init_std = %g must be >= 0 (0: default 0.01)",
                         (double)cfg->init_std);
    int rc = head_margin_params(cfg, &s->mc, MARGIN_COSFACE, 64.0f, 0.4f, err);
    if (rc) return rc;
    s->C = cfg->C;
    s->D = cfg->D;
    s->max_batch = cfg->max_batch;
    s->opt = cfg->optim;
    size_t CD = (size_t)s->C * s->D;
    size_t n = 3 * CD + (size_t)s->C + (size_t)s->max_batch * s->C + (size_t)s->max_batch * s->D;
    s->arena = dcqb_zalloc((size_t)n * sizeof(float));
    if (!s->arena)
        return DCQB_FAIL(err, DCQB_ENOMEM, "full: cannot allocate %.1f MB for C = %lld",
                         n * 4.0 / 1e6, (long long)s->C);
    s->W = s->arena;
    s->V = s->W + CD;
    s->dW = s->V + CD;
    s->inv = s->dW + CD;
    s->logits = s->inv + s->C;
    s->emb = s->logits + (size_t)s->max_batch * s->C;
    double std = cfg->init_std > 0 ? cfg->init_std : 0.01;
    rc = rng_fill_normal(s->W, CD, std, cfg->seed, err);
    if (rc) {
        full_free(s);
        return rc;
    }
    full_norms(s);
    return DCQB_OK;
}

/* z_j <- s clamp(z_j inv_j, -1, 1) in place over C columns and the max of the results and
 * `start`, in 16 fixed lanes (vectorised per target_clones; max is exact, so the lane order
 * changes nothing). 3 FLOPs per column, one read + write of the row. */
__attribute__((target_clones("avx512f", "avx2", "default")))
static float scale_clamp_max(float *z, const float *inv, int C, float sc, float start)
{
    float m[16];
    for (int l = 0; l < 16; l++) m[l] = start;
    int j = 0;
    for (; j + 16 <= C; j += 16)
        for (int l = 0; l < 16; l++) {
            float c = z[j + l] * inv[j + l];
            c = c > 1.0f ? 1.0f : (c < -1.0f ? -1.0f : c);
            float v = sc * c;
            z[j + l] = v;
            m[l] = v > m[l] ? v : m[l];
        }
    for (; j < C; j++) {
        float c = z[j] * inv[j];
        c = c > 1.0f ? 1.0f : (c < -1.0f ? -1.0f : c);
        z[j] = sc * c;
        m[0] = z[j] > m[0] ? z[j] : m[0];
    }
    float mx = m[0];
    for (int l = 1; l < 16; l++) mx = m[l] > mx ? m[l] : mx;
    return mx;
}

static int full_forward_backward(void *st, float *loss, float *demb, const float *emb,
                                 const float *key, const int32_t *labels, int B,
                                 struct dcqb_err *err)
{
    struct full_state *s = st;
    (void)key;
    int C = (int)s->C, D = s->D;
    if (B < 1 || B > s->max_batch)
        return DCQB_FAIL(err, DCQB_EINVAL, "full: batch %d outside [1, %d]", B, s->max_batch);
    for (int i = 0; i < B; i++)
        if (labels[i] < 0 || labels[i] >= C)
            return DCQB_FAIL(err, DCQB_EINVAL, "full: label %d of row %d outside [0, %d)",
                             (int)labels[i], i, C);
    memcpy(s->emb, emb, sizeof(float) * (size_t)B * D);
    /* logits (B,C) = E (B,D) W^T (C,D): 2BCD FLOPs, reads 4CD + 4BD bytes, writes 4BC */
    matmul_bd_kd_to_bk(s->logits, s->emb, s->W, B, C, D, 1.0f, 0.0f);
    const float sc = s->mc.s, *inv = s->inv;
    double total = 0;
    for (int i = 0; i < B; i++) {
        float *z = s->logits + (size_t)i * C;
        int y = labels[i];
        /* z_j = s clamp(cos_j) and the row max in one pass: 3 FLOPs per column, one read +
         * write of the row (the max covers the target's margin logit below too) */
        float cy = z[y] * inv[y];
        cy = cy > 1.0f ? 1.0f : (cy < -1.0f ? -1.0f : cy);
        float zy = margin_forward(&s->mc, cy), slope = margin_backward(&s->mc, cy);
        float mx = scale_clamp_max(z, inv, C, sc, zy);
        /* the target's plain s cos_y only raised the max if it beats every other logit; a max
         * above the true one is still a valid shift for log-sum-exp, only not the tightest */
        z[y] = zy;
        /* dz_j = (p_j - onehot_j) s / B / |w_j| = G'_ij, in place */
        total += xent_row_fused_max(z, z, C, y, NULL, sc / (float)B, inv, mx);
        z[y] *= slope / sc; /* target column: d z / d cos = slope, not s */
    }
    *loss = (float)(total / B);
    if (!isfinite(*loss))
        return DCQB_FAIL(err, DCQB_ENUMERIC, "full: non-finite loss %g", (double)*loss);
    /* demb (B,D) += G' (B,C) W (C,D): 2BCD FLOPs */
    matmul_bk_kd_to_bd(demb, s->logits, s->W, B, C, D, 1.0f, 1.0f);
    /* M' (C,D) = G'^T (C,B) E (B,D): 2BCD FLOPs, writes 4CD bytes */
    matmul_bk_bd_to_kd(s->dW, s->logits, s->emb, B, C, D, 1.0f, 0.0f);
    s->pending = 1;
    return DCQB_OK;
}

void head_full_grad_w(const void *st, float *dW)
{
    const struct full_state *s = st;
    for (int64_t j = 0; j < s->C; j++) {
        size_t r = (size_t)j * s->D;
        cosw_project_row(dW + r, s->dW + r, s->W + r, s->inv[j], s->D);
    }
}

/* Per class row: g = M'_j - (M'_j . w_j)/|w_j|^2 w_j; v = mu v + g + wd w; w -= lr v; then the
 * new 1/|w_j|. ~13 FLOPs per element, streams W, V, dW once (12 CD bytes read, 8 CD written). */
static int full_step(void *st, float lr, int64_t t, struct dcqb_err *err)
{
    struct full_state *s = st;
    (void)t;
    if (!s->pending)
        return DCQB_FAIL(err, DCQB_EINVAL, "full: step without a forward_backward");
    const float mu = s->opt.momentum, wd = s->opt.weight_decay;
    const int D = s->D;
    for (int64_t j = 0; j < s->C; j++) {
        size_t r = (size_t)j * D;
        cosw_sgd_row(s->W + r, s->V + r, s->inv + j, s->dW + r, D, lr, mu, wd);
    }
    s->pending = 0;
    return DCQB_OK;
}

static void full_cost(const void *st, int B, struct head_cost *out)
{
    const struct full_state *s = st;
    double C = (double)s->C, D = s->D;
    out->per_class_bytes = 4.0 * (3.0 * D + 1.0 + B);
    out->fixed_bytes = 4.0 * B * D + sizeof *s;
    out->flops = 6.0 * B * C * D + 6.0 * B * C + 13.0 * C * D;
    out->active_classes = s->C;
}

static uint32_t full_digest(const void *st)
{
    const struct full_state *s = st;
    uLong c = crc32(0L, Z_NULL, 0);
    size_t CD = (size_t)s->C * s->D;
    /* W and V are adjacent in the arena; crc32 takes uInt lengths, so feed in chunks */
    const Bytef *p = (const Bytef *)s->W;
    size_t n = 2 * CD * sizeof(float);
    while (n) {
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = crc32(c, p, k);
        p += k;
        n -= k;
    }
    return (uint32_t)c;
}

static size_t full_state_bytes(const void *st)
{
    const struct full_state *s = st;
    return sizeof(struct full_header) + 2 * (size_t)s->C * s->D * sizeof(float);
}

static int full_save(const void *st, void *buf)
{
    const struct full_state *s = st;
    struct full_header h = {FULL_MAGIC, FULL_VERSION, s->C, s->D, 0};
    memcpy(buf, &h, sizeof h);
    memcpy((char *)buf + sizeof h, s->W, 2 * (size_t)s->C * s->D * sizeof(float));
    return DCQB_OK;
}

static int full_load(void *st, const void *buf, size_t n, struct dcqb_err *err)
{
    struct full_state *s = st;
    struct full_header h;
    if (n < sizeof h) return DCQB_FAIL(err, DCQB_EFORMAT, "full: state of %zu bytes too short", n);
    memcpy(&h, buf, sizeof h);
    if (h.magic != FULL_MAGIC || h.version != FULL_VERSION)
        return DCQB_FAIL(err, DCQB_EFORMAT,
                         "full: bad state magic/version (%08x v%u; is it another head's?)",
                         (unsigned)h.magic, (unsigned)h.version);
    if (h.C != s->C || h.D != s->D || n != full_state_bytes(s))
        return DCQB_FAIL(err, DCQB_EFORMAT,
                         "full: state is C = %lld, D = %d; this head has C = %lld, D = %d",
                         (long long)h.C, (int)h.D, (long long)s->C, s->D);
    memcpy(s->W, (const char *)buf + sizeof h, 2 * (size_t)s->C * s->D * sizeof(float));
    full_norms(s);
    s->pending = 0;
    return DCQB_OK;
}

static const float *full_class_weights(const void *st)
{
    return ((const struct full_state *)st)->W;
}

static int full_set_weights(void *st, const float *W, int64_t C, int D, struct dcqb_err *err)
{
    struct full_state *s = st;
    return cosw_set_weights(s->W, s->inv, s->C, s->D, W, C, D, "full", err);
}

static const char *const full_keys[] = {"margin", "s", "m", "m1", "m2", "m3",
                                        "straight_through", "easy_margin", NULL};

const struct head_ops head_full = {
    .name = "full",
    .abi_version = HEAD_ABI_VERSION,
    .state_size = sizeof(struct full_state),
    .help = "Full softmax over all C learned class weights (W ~ N(0, init_std^2)) with a margin "
            "on the target logit, REFERENCE.md 4. Keys: margin = cosface|arcface|combined|none "
            "(cosface), s (64), m (cosface 0.4, arcface 0.5), m1/m2/m3 (combined), "
            "straight_through (0), easy_margin (0). Memory and FLOPs grow with C.",
    .keys = full_keys,
    .init = full_init,
    .forward_backward = full_forward_backward,
    .step = full_step,
    .free = full_free,
    .cost = full_cost,
    .digest = full_digest,
    .state_bytes = full_state_bytes,
    .save = full_save,
    .load = full_load,
    .class_weights = full_class_weights,
    .set_weights = full_set_weights,
    .weight_grad = head_full_grad_w,
};
