/* random.c - the `random` head: Partial FC (docs/METHOD.md §3.3; insightface arcface_torch
 * partial_fc.py (v1) / partial_fc_v2.py (v2)). All C class weights and their momentum are stored;
 * each step uses the batch's unique positives plus uniform negatives without replacement up to
 * K = int(ratio * C) classes (K = #positives if that is larger), margin softmax over that subset
 * only, no log-Q correction. r = 1 uses all classes in index order and is the `full` head.
 *
 *   cos_ik = e_i . w_{S_k} / |w_{S_k}|,  z_ik = s cos_ik,  z_i,pos(y_i) = s g(cos),  loss = mean CE
 *   d e_i += sum_k G'_ik w_{S_k},  M'_k = sum_i G'_ik e_i  (G' = dZ / |w|, as in full.c)
 *
 * Sampling is O(K) per step: a persistent permutation `perm` of the C classes, partial
 * Fisher-Yates over its prefix (any starting order gives a uniform subset), rejecting the
 * positives, which `pos` (class -> column or -1, reset per step over the K used entries) marks.
 * pfc_mode = v1: only the K sampled rows get SGD (decay, momentum); the others are frozen
 * exactly. v2: every row gets decay and momentum every step (data gradient only on sampled rows).
 *
 * Arena: W (C,D) | V (C,D) | inv (C) | WS (Kx,D) | invS (Kx) | dWS (Kx,D) | logits (B,Kx) |
 * emb (B,D) | cosxent scratch | perm (C) | pos (C) | cls, fixed, ord, ordk (Kx) | tgt (B),
 * Kx = max(K, min(B, C)).
 * Per class: 4 (2D + 3) bytes.  FLOPs per step: 6BKD (3 GEMMs) + 6BK + KD (gather) + 13KD (v1
 * update) or + 13KD + 6(C-K)D (v2).
 */
#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include "cosw.h"
#include "cosxent.h"
#include "head.h"
#include "hrand.h"
#include "margin.h"
#include "ops.h"
#include "rng.h"

#define RANDOM_MAGIC 0x52514344u /* "DCQR" */
#define RANDOM_VERSION 1u

enum pfc_mode { PFC_V1 = 0, PFC_V2 };

struct random_state {
    int64_t C;
    int D, max_batch;
    int K;      /* target subset size int(ratio * C) */
    int Kx;     /* allocated columns */
    int mode;   /* enum pfc_mode */
    struct margin_cfg mc;
    struct optim_cfg opt;
    uint64_t rng;
    char *arena;
    float *W, *V, *inv, *WS, *invS, *dWS, *logits, *emb, *scratch;
    int32_t *perm, *pos, *cls, *fixed, *ord, *ordk, *tgt;
    int Kc;         /* columns of the last forward_backward */
    int64_t nord;   /* its classes in address order: ord (class), ordk (column) */
    int identity;   /* last subset was all C classes in order (W used in place) */
    int nfixed;     /* > 0: next forward_backward uses fixed[0..nfixed) */
    int pending;
    struct pool own_pool; /* when the caller lends none (head_cfg.pool) */
    struct pool *pool;
};

struct random_header {
    uint32_t magic, version;
    int64_t C;
    int32_t D, mode;
};

static void random_free(void *st)
{
    struct random_state *s = st;
    if (!s) return;
    pool_free(&s->own_pool);
    free(s->arena);
    memset(s, 0, sizeof *s);
}

static void random_norms(struct random_state *s) { cosw_norms(s->inv, s->W, s->C, s->D); }

static int random_init(void *st, const struct head_cfg *cfg, struct head_req *req,
                       struct dcqb_err *err)
{
    struct random_state *s = st;
    memset(s, 0, sizeof *s);
    if (req) {
        int kshot = req->kshot;
        memset(req, 0, sizeof *req);
        req->kshot = kshot;
    }
    int rc = head_check_sizes(cfg, INT_MAX / 2, err);
    if (rc) return rc;
    double ratio, std;
    rc = head_cfg_ratio(cfg, &ratio, err);
    if (!rc) rc = head_cfg_init_std(cfg, &std, err);
    if (rc) return rc;
    static const char *const modes[] = {"v1", "v2", NULL};
    if ((rc = head_param_choice(cfg, "pfc_mode", "v1", modes, &s->mode, err))) return rc;
    /* defaults of the full head (Partial FC configs: s = 64, CosFace m = 0.4) */
    if ((rc = head_margin_params(cfg, &s->mc, MARGIN_COSFACE, 64.0f, 0.4f, err))) return rc;
    s->C = cfg->C;
    s->D = cfg->D;
    s->max_batch = cfg->max_batch;
    s->opt = cfg->optim;
    s->K = (int)(ratio * (double)s->C); /* int(r*C) as in partial_fc.py */
    if (s->K > s->C) s->K = (int)s->C;
    int bmin = s->max_batch < s->C ? s->max_batch : (int)s->C;
    s->Kx = s->K > bmin ? s->K : bmin;
    s->rng = dcqb_stream_seed(cfg->seed, 0x5043); /* sampling stream apart from the W init */

    size_t C = (size_t)s->C, D = (size_t)s->D, Kx = (size_t)s->Kx, B = (size_t)s->max_batch;
    size_t nscr = cosxent_scratch_floats(s->max_batch, s->Kx, s->D, cfg->threads);
    size_t nf = 2 * C * D + C + Kx * D + Kx + Kx * D + B * Kx + B * D + nscr;
    size_t ni = 2 * C + 4 * Kx + B;
    s->arena = dcqb_zalloc(nf * sizeof(float) + ni * sizeof(int32_t));
    if (!s->arena)
        return DCQB_FAIL(err, DCQB_ENOMEM, "cannot allocate %.1f MB for C = %lld",
                         (nf * 4.0 + ni * 4.0) / 1e6, (long long)s->C);
    float *f = (float *)s->arena;
    s->W = f, f += C * D;
    s->V = f, f += C * D;
    s->inv = f, f += C;
    s->WS = f, f += Kx * D;
    s->invS = f, f += Kx;
    s->dWS = f, f += Kx * D;
    s->logits = f, f += B * Kx;
    s->emb = f, f += B * D;
    s->scratch = f, f += nscr;
    int32_t *p = (int32_t *)f;
    s->perm = p, p += C;
    s->pos = p, p += C;
    s->cls = p, p += Kx;
    s->fixed = p, p += Kx;
    s->ord = p, p += Kx;
    s->ordk = p, p += Kx;
    s->tgt = p;
    for (size_t j = 0; j < C; j++) {
        s->perm[j] = (int32_t)j;
        s->pos[j] = -1;
    }
    /* same stream and draws as the full head, so r = 1 starts from the same W */
    if ((rc = rng_fill_normal(s->W, C * D, std, cfg->seed, err))) {
        random_free(s);
        return rc;
    }
    random_norms(s);
    if ((rc = pool_use(&s->pool, &s->own_pool, cfg->pool, cfg->threads, err))) random_free(s);
    return rc;
}

/* Choose this step's classes into cls[0..Kc), pos[] marking them. O(K) unless K = C. */
static int random_choose(struct random_state *s, const int32_t *labels, int B,
                         struct dcqb_err *err)
{
    /* undo the previous step's marks: O(K) */
    if (s->identity) {
        for (int64_t j = 0; j < s->C; j++) s->pos[j] = -1;
    } else {
        for (int k = 0; k < s->Kc; k++) s->pos[s->cls[k]] = -1;
    }
    s->Kc = 0;
    s->identity = 0;
    if (s->nfixed > 0) { /* set_classes: no random numbers consumed */
        int n = s->nfixed;
        s->nfixed = 0;
        for (int k = 0; k < n; k++) {
            s->cls[k] = s->fixed[k];
            s->pos[s->fixed[k]] = k;
        }
        s->Kc = n;
        for (int i = 0; i < B; i++)
            if (s->pos[labels[i]] < 0)
                return DCQB_FAIL(err, DCQB_EINVAL,
                                 "label %d of row %d is not among the %d fixed classes",
                                 (int)labels[i], i, n);
        return DCQB_OK;
    }
    if (s->K >= s->C) { /* r = 1: every class, in index order, exactly the full head */
        for (int64_t j = 0; j < s->C; j++) {
            s->cls[j] = (int32_t)j;
            s->pos[j] = (int32_t)j;
        }
        s->Kc = (int)s->C;
        s->identity = 1;
        return DCQB_OK;
    }
    int n = 0;
    for (int i = 0; i < B; i++) {
        int32_t y = labels[i];
        if (s->pos[y] < 0) {
            s->pos[y] = n;
            s->cls[n++] = y;
        }
    }
    /* partial Fisher-Yates on the persistent permutation; at most P rejections, so the prefix
     * never runs past C. Expected draws K. */
    int64_t i = 0;
    while (n < s->K) {
        int64_t j = i + (int64_t)hrand_below(&s->rng, (uint64_t)(s->C - i));
        int32_t c = s->perm[j];
        s->perm[j] = s->perm[i];
        s->perm[i] = c;
        i++;
        if (s->pos[c] < 0) {
            s->pos[c] = n;
            s->cls[n++] = c;
        }
    }
    s->Kc = n;
    return DCQB_OK;
}

static int random_forward_backward(void *st, float *loss, float *demb, const float *emb,
                                   const float *key, const int32_t *labels, int B,
                                   struct dcqb_err *err)
{
    struct random_state *s = st;
    (void)key;
    int D = s->D;
    int rc = head_check_batch(labels, B, s->max_batch, s->C, err);
    if (!rc) rc = random_choose(s, labels, B, err);
    if (rc) return rc;
    const int K = s->Kc;
    const float *Ws = s->W, *invS = s->inv;
    if (!s->identity) { /* gather W_S (K,D) and 1/|w|: KD reads + writes */
        /* in column order: scattered writes into WS cost more than scattered reads of W */
        cosw_gather_rows(s->WS, s->invS, s->W, s->inv, s->cls, K, D, s->pool);
        s->nord = cosw_mark_order(s->ord, s->ordk, s->pos, s->C); /* step()'s row order */
        Ws = s->WS;
        invS = s->invS;
    }
    memcpy(s->emb, emb, sizeof(float) * (size_t)B * D);
    for (int i = 0; i < B; i++) s->tgt[i] = s->pos[labels[i]];
    /* the full head's blocked margin softmax over the K columns: 6BKD FLOPs */
    struct cosxent p = {B, K, D, K, s->emb, Ws, invS, NULL, s->tgt, &s->mc};
    double total = cosxent_forward_backward(s->logits, demb, s->dWS, s->scratch, s->pool, &p);
    if ((rc = head_mean_loss(loss, total, B, err))) return rc;
    s->pending = 1;
    return DCQB_OK;
}

static int random_step(void *st, float lr, int64_t t, struct dcqb_err *err)
{
    struct random_state *s = st;
    (void)t;
    if (!s->pending)
        return DCQB_FAIL(err, DCQB_EINVAL, "step without a forward_backward");
    const float mu = s->opt.momentum, wd = s->opt.weight_decay;
    const int D = s->D;
    if (s->mode == PFC_V1) { /* sampled rows only; the rest frozen bit for bit */
        if (s->identity) /* r = 1: every row in order, as the full head */
            cosw_sgd_rows(s->W, s->V, s->inv, NULL, NULL, s->C, s->dWS, D, lr, mu, wd,
                          s->pool);
        else /* the fb's address-ordered lists */
            cosw_sgd_rows(s->W, s->V, s->inv, s->ord, s->ordk, s->nord, s->dWS, D, lr, mu, wd,
                          s->pool);
    } else { /* v2: dense optimiser over every row */
        for (int64_t c = 0; c < s->C; c++) {
            int k = s->pos[c];
            cosw_sgd_row(s->W + (size_t)c * D, s->V + (size_t)c * D, s->inv + c,
                           k >= 0 ? s->dWS + (size_t)k * D : NULL, D, lr, mu, wd);
        }
    }
    s->pending = 0;
    return DCQB_OK;
}

static void random_cost(const void *st, int B, struct head_cost *out)
{
    const struct random_state *s = st;
    double K = s->K > B ? s->K : B, D = s->D, C = (double)s->C, Kx = s->Kx;
    if (K > C) K = C;
    out->per_class_bytes = 4.0 * (2.0 * D + 3.0);
    out->fixed_bytes = 4.0 * (Kx * (2.0 * D + 5.0) + (double)B * Kx + (double)B * D + B +
                              (double)cosxent_scratch_floats(B, (int)Kx, s->D, pool_size(s->pool))) +
                       sizeof *s;
    out->flops = 6.0 * B * K * D + 6.0 * B * K + K * D + 13.0 * K * D +
                 (s->mode == PFC_V2 ? 6.0 * (C - K) * D : 0.0);
    out->active_classes = (int64_t)K;
}

/* W, V, perm and the rng are what a resume needs; crc32 over them. */
static uint32_t random_digest(const void *st)
{
    const struct random_state *s = st;
    uint32_t c = head_crc32(0, s->W, 2 * (size_t)s->C * s->D * sizeof(float));
    c = head_crc32(c, s->perm, (size_t)s->C * sizeof(int32_t));
    return head_crc32(c, &s->rng, sizeof s->rng);
}

static size_t random_state_bytes(const void *st)
{
    const struct random_state *s = st;
    return sizeof(struct random_header) + 2 * (size_t)s->C * s->D * sizeof(float) +
           (size_t)s->C * sizeof(int32_t) + sizeof(uint64_t);
}

static int random_save(const void *st, void *buf)
{
    const struct random_state *s = st;
    struct random_header h = {RANDOM_MAGIC, RANDOM_VERSION, s->C, s->D, s->mode};
    char *p = buf;
    size_t nw = 2 * (size_t)s->C * s->D * sizeof(float), np = (size_t)s->C * sizeof(int32_t);
    memcpy(p, &h, sizeof h), p += sizeof h;
    memcpy(p, s->W, nw), p += nw; /* W and V adjacent */
    memcpy(p, s->perm, np), p += np;
    memcpy(p, &s->rng, sizeof s->rng);
    return DCQB_OK;
}

static int random_load(void *st, const void *buf, size_t n, struct dcqb_err *err)
{
    struct random_state *s = st;
    struct random_header h;
    int rc = head_check_state(buf, n, sizeof h, RANDOM_MAGIC, RANDOM_VERSION, err);
    if (rc) return rc;
    memcpy(&h, buf, sizeof h);
    if (h.C != s->C || h.D != s->D || n != random_state_bytes(s))
        return DCQB_FAIL(err, DCQB_EFORMAT,
                         "state is C = %lld, D = %d; this head has C = %lld, D = %d",
                         (long long)h.C, (int)h.D, (long long)s->C, s->D);
    const char *p = (const char *)buf + sizeof h;
    size_t nw = 2 * (size_t)s->C * s->D * sizeof(float), np = (size_t)s->C * sizeof(int32_t);
    for (int64_t j = 0; j < s->C; j++) { /* validate before trusting: perm indexes arrays */
        int32_t c;
        memcpy(&c, p + nw + (size_t)j * sizeof c, sizeof c);
        if (c < 0 || c >= s->C)
            return DCQB_FAIL(err, DCQB_EFORMAT, "corrupt permutation entry %d", (int)c);
    }
    memcpy(s->W, p, nw), p += nw;
    memcpy(s->perm, p, np), p += np;
    memcpy(&s->rng, p, sizeof s->rng);
    random_norms(s);
    for (int64_t j = 0; j < s->C; j++) s->pos[j] = -1;
    s->Kc = 0;
    s->identity = 0;
    s->nfixed = 0;
    s->pending = 0;
    return DCQB_OK;
}

static const float *random_class_weights(const void *st)
{
    return ((const struct random_state *)st)->W;
}

static int random_set_weights(void *st, const float *W, int64_t C, int D, struct dcqb_err *err)
{
    struct random_state *s = st;
    return cosw_set_weights(s->W, s->inv, s->C, s->D, W, C, D, "random", err);
}

static void random_weight_grad(const void *st, float *dW)
{
    const struct random_state *s = st;
    cosw_scatter_grad(dW, s->C, s->D, s->cls, s->Kc, s->dWS, s->W, s->inv);
}

static int random_set_classes(void *st, const int32_t *idx, int64_t K, struct dcqb_err *err)
{
    struct random_state *s = st;
    /* not via pos[]: it still belongs to a pending step */
    int rc = head_check_class_list(idx, K, s->Kx, s->C, err);
    if (rc) return rc;
    memcpy(s->fixed, idx, sizeof(int32_t) * (size_t)K);
    s->nfixed = (int)K;
    return DCQB_OK;
}

static void random_active_classes(const void *st, int32_t *idx, int64_t *K)
{
    const struct random_state *s = st;
    if (idx) memcpy(idx, s->cls, sizeof(int32_t) * (size_t)s->Kc);
    *K = s->Kc;
}

static int64_t random_logit_columns(const void *st)
{
    return ((const struct random_state *)st)->Kc; /* max(int(rC), distinct labels) */
}

static const char *const random_keys[] = {"pfc_mode", "margin", "s", "m", "m1", "m2", "m3",
                                          "straight_through", "easy_margin", NULL};

const struct head_ops head_random = {
    .name = "random",
    .abi_version = HEAD_ABI_VERSION,
    .state_size = sizeof(struct random_state),
    .help = "Partial FC (docs/METHOD.md §3.3): all C weights + momentum stored; per step the "
            "batch's classes plus uniform negatives up to int(ratio*C) (ratio in (0, 1], the "
            "common key), margin softmax over that subset. Keys: pfc_mode = v1 (only sampled "
            "rows updated, others frozen) | v2 (decay and momentum on every row), margin keys "
            "as full (cosface s = 64, m = 0.4).",
    .keys = random_keys,
    .init = random_init,
    .forward_backward = random_forward_backward,
    .step = random_step,
    .free = random_free,
    .cost = random_cost,
    .digest = random_digest,
    .state_bytes = random_state_bytes,
    .save = random_save,
    .load = random_load,
    .class_weights = random_class_weights,
    .set_weights = random_set_weights,
    .weight_grad = random_weight_grad,
    .set_classes = random_set_classes,
    .active_classes = random_active_classes,
    .logit_columns = random_logit_columns,
};
