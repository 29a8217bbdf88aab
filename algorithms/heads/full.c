/* full.c - the `full` head: one learned weight per class, logits over all C classes, margin on
 * the target column, softmax cross entropy (docs/METHOD.md §3.1-§3.2; Partial FC at r = 1).
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
 * Arena (one allocation): W (C,D) | V momentum (C,D) | inv (C) | logits (B,C), then G' |
 * emb copy (B,D) | cosxent scratch | Mbuf (threads x 1024 x D).  No (C,D) gradient array: step()
 * forms M' block by block from G' and E and updates those rows at once (cosw_sgd_dense).
 * Per class: 4 (2D + 1 + B + B/512) bytes (2,566 at D = 128, B = 256).
 * FLOPs per step: 3 GEMMs of 2BCD + ~6BC (scale, max, exp/sum, grad) + ~12CD (projection,
 * SGD, norms). Keys: margin, s, m, m1, m2, m3, straight_through, easy_margin (head_margin_params;
 * defaults s = 64, cosface m = 0.4; arcface m = 0.5).
 */
#include "full.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include "cosw.h"
#include "cosxent.h"
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
    float *W, *V, *inv, *logits, *emb, *scratch, *Mbuf;
    int B; /* rows of the last forward_backward */
    int pending; /* forward_backward done, step not yet */
    struct pool own_pool; /* when the caller lends none (head_cfg.pool) */
    struct pool *pool;
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
    pool_free(&s->own_pool);
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
    int rc = head_check_sizes(cfg, INT_MAX / 2, err);
    if (rc) return rc;
    double std;
    if ((rc = head_cfg_init_std(cfg, &std, err))) return rc;
    if ((rc = head_margin_params(cfg, &s->mc, MARGIN_COSFACE, 64.0f, 0.4f, err))) return rc;
    s->C = cfg->C;
    s->D = cfg->D;
    s->max_batch = cfg->max_batch;
    s->opt = cfg->optim;
    size_t CD = (size_t)s->C * s->D;
    size_t nscr = cosxent_scratch_floats(s->max_batch, (int)s->C, s->D, cfg->threads);
    size_t nthr = cfg->threads > 1 ? (size_t)cfg->threads : 1;
    size_t n = 2 * CD + (size_t)s->C + (size_t)s->max_batch * s->C +
               (size_t)s->max_batch * s->D + nscr + nthr * COSXENT_BLOCK * s->D;
    s->arena = dcqb_zalloc((size_t)n * sizeof(float));
    if (!s->arena)
        return DCQB_FAIL(err, DCQB_ENOMEM, "cannot allocate %.1f MB for C = %lld",
                         n * 4.0 / 1e6, (long long)s->C);
    s->W = s->arena;
    s->V = s->W + CD;
    s->inv = s->V + CD;
    s->logits = s->inv + s->C;
    s->emb = s->logits + (size_t)s->max_batch * s->C;
    s->scratch = s->emb + (size_t)s->max_batch * s->D;
    s->Mbuf = s->scratch + nscr;
    rc = rng_fill_normal(s->W, CD, std, cfg->seed, err);
    if (rc) {
        full_free(s);
        return rc;
    }
    full_norms(s);
    if ((rc = pool_use(&s->pool, &s->own_pool, cfg->pool, cfg->threads, err))) full_free(s);
    return rc;
}

static int full_forward_backward(void *st, float *loss, float *demb, const float *emb,
                                 const float *key, const int32_t *labels, int B,
                                 struct dcqb_err *err)
{
    struct full_state *s = st;
    (void)key;
    int C = (int)s->C, D = s->D;
    int rc = head_check_batch(labels, B, s->max_batch, s->C, err);
    if (rc) return rc;
    memcpy(s->emb, emb, sizeof(float) * (size_t)B * D);
    /* logits, margin softmax, G' in place, demb += G' W and M' = G'^T E, in column blocks:
     * 6BCD FLOPs in 3 x C/1024 GEMMs, ~3 passes of the (B,C) matrix through memory */
    struct cosxent p = {B, C, D, C, s->emb, s->W, s->inv, NULL, labels, &s->mc};
    double total = cosxent_forward_backward(s->logits, demb, NULL, s->scratch, s->pool, &p);
    s->B = B;
    if ((rc = head_mean_loss(loss, total, B, err))) return rc;
    s->pending = 1;
    return DCQB_OK;
}

/* dW (C,D) <- M' = G'^T E from the kept G' and embeddings, each row then projected through
 * the normalisation (in place: cosw_project_row reads m before writing o). 2BCD + 4CD FLOPs. */
void head_full_grad_w(const void *st, float *dW)
{
    const struct full_state *s = st;
    matmul_bk_bd_to_kd(dW, s->logits, s->emb, s->B, (int)s->C, s->D, 1.0f, 0.0f);
    for (int64_t j = 0; j < s->C; j++) {
        size_t r = (size_t)j * s->D;
        cosw_project_row(dW + r, dW + r, s->W + r, s->inv[j], s->D);
    }
}

/* Per block of classes: M'_blk = G'_blk^T E, then per row g = M'_j - (M'_j . w_j)/|w_j|^2 w_j;
 * v = mu v + g + wd w; w -= lr v; the new 1/|w_j| (cosw_sgd_dense). 2BCD + ~13CD FLOPs; streams
 * W, V (8 CD bytes read, 8 CD written) and G' (4 BC) once. */
static int full_step(void *st, float lr, int64_t t, struct dcqb_err *err)
{
    struct full_state *s = st;
    (void)t;
    if (!s->pending)
        return DCQB_FAIL(err, DCQB_EINVAL, "step without a forward_backward");
    cosw_sgd_dense(s->W, s->V, s->inv, s->Mbuf, s->logits, s->emb, s->B, s->C, s->D, lr,
                   s->opt.momentum, s->opt.weight_decay, s->pool);
    s->pending = 0;
    return DCQB_OK;
}

static void full_cost(const void *st, int B, struct head_cost *out)
{
    const struct full_state *s = st;
    double C = (double)s->C, D = s->D;
    /* W, V, inv, a logits column, and the blocked softmax's per-row, per-block statistics (2
     * floats per row per 1024 classes); fixed: the embeddings, the per-thread (B,D) partials
     * and (1024,D) M' blocks */
    const double T = pool_size(s->pool);
    out->per_class_bytes = 4.0 * (2.0 * D + 1.0 + B + 2.0 * B / COSXENT_BLOCK);
    out->fixed_bytes = 4.0 * (B * D + 2.0 * B + (2.0 * T - 1.0) * B * D + T * COSXENT_BLOCK * D) +
                       sizeof *s;
    out->flops = 6.0 * B * C * D + 6.0 * B * C + 13.0 * C * D;
    out->active_classes = s->C;
}

static int64_t full_logit_columns(const void *st)
{
    return ((const struct full_state *)st)->C;
}

static uint32_t full_digest(const void *st)
{
    const struct full_state *s = st;
    /* W and V are adjacent in the arena */
    return head_crc32(0, s->W, 2 * (size_t)s->C * s->D * sizeof(float));
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
    int rc = head_check_state(buf, n, sizeof h, FULL_MAGIC, FULL_VERSION, err);
    if (rc) return rc;
    memcpy(&h, buf, sizeof h);
    if (h.C != s->C || h.D != s->D || n != full_state_bytes(s))
        return DCQB_FAIL(err, DCQB_EFORMAT,
                         "state is C = %lld, D = %d; this head has C = %lld, D = %d",
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
            "on the target logit, docs/METHOD.md §3.2. Keys: margin = "
            "cosface|arcface|combined|none (cosface), s (64), m (cosface 0.4, arcface 0.5), "
            "m1/m2/m3 (combined), straight_through (0), easy_margin (0). Memory and FLOPs grow "
            "with C.",
    .keys = full_keys,
    .init = full_init,
    .forward_backward = full_forward_backward,
    .step = full_step,
    .free = full_free,
    .cost = full_cost,
    .digest = full_digest,
    .logit_columns = full_logit_columns,
    .state_bytes = full_state_bytes,
    .save = full_save,
    .load = full_load,
    .class_weights = full_class_weights,
    .set_weights = full_set_weights,
    .weight_grad = head_full_grad_w,
};
