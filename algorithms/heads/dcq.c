/* dcq.c - the `dcq` head: Dynamic Class Queue (docs/METHOD.md §3.4; Li et al., CVPR 2021,
 * bilylee/DCQ dcq.py). No class weights: the training loop's EMA copy of the backbone (the
 * weight generator, requested through head_req) embeds a reference image of each sample's
 * identity into the key k_i; a ring buffer of L past keys with their labels serves as negatives.
 *
 *   z_i0 = s g(q_i . k_i)            (cosface: s (q.k - m); margin on the positive only)
 *   z_ij = s q_i . Q_j, j = 1..L     skipped where Qlab[j] == y_i (own label masked)
 *   loss = mean_i CE(z_i, 0);  d q_i += (1/B) (dz_i0 k_i + sum_j dz_ij Q_j), dz with s (and the
 *   margin slope on column 0) folded in. No gradient to keys or queue.
 *   step(): enqueue this step's keys and labels at ptr, ptr = (ptr + 1) mod L per row, so L need
 *   not be a multiple of B (the official code requires it; we only require L >= B, below) and
 *   the batch's own keys are never its negatives. Each slot also keeps where its key came from
 *   (the kshot references: class, image, flip; and the step that enqueued it), given by the
 *   loop through key_sources: the loop's queue age and drift instruments read them through
 *   queue_view (docs/METHOD.md §3.4).
 * L < B is refused: a step would overwrite keys it enqueued itself, and its later rows would see
 * none of the older queue.
 * Queue init: N(0,1) rows, L2-normalised, label -1 (never a class), step -1, ptr = 0.
 *
 * Arena: qstep (L, int64) | Q (L,D) | G (B,L) logits, then dZ | z0 (B) positive logits, then
 * p0 | dz0 (B) margin slopes | keys (B,D) | cosxent scratch | Qlab (L) | labels (B) | scratch
 * (L) | qsrc (L*kshot) | ksrc (B*kshot).  Nothing grows with C.
 * FLOPs per step: 4BLD (logits + dq GEMMs) + 4BD (positive column, its gradient) + ~8B(L+1)
 * (scale, mask, softmax) + BD (enqueue copy).
 */
#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include "head.h"
#include "heads/dcq.h"
#include "cosxent.h"
#include "margin.h"
#include "ops.h"
#include "rng.h"

#define DCQ_MAGIC 0x51514344u /* "DCQQ" */
#define DCQ_VERSION 2u /* 2: the slots' sources and steps */

struct dcq_state {
    int64_t C; /* label range only: a label must lie in [0, C) */
    int D, max_batch;
    int L, kshot;
    struct margin_cfg mc;
    char *arena;
    float *Q, *G, *z0, *dz0, *keys, *xscr;
    int32_t *Qlab, *labels, *scratch;
    int64_t *qstep;                 /* (L) step that enqueued the slot, -1: none */
    struct head_key_src *qsrc, *ksrc; /* (L*kshot) slots' sources; (B*kshot) this step's */
    int ptr;       /* next slot to write */
    int nkeys;     /* rows stashed by forward_backward for step() */
    int nsrc;      /* rows of ksrc given by key_sources this step (0: sources unknown) */
    int pending;
    struct pool own_pool; /* when the caller lends none (head_cfg.pool) */
    struct pool *pool;
};

struct dcq_header {
    uint32_t magic, version;
    int32_t L, D, ptr, kshot;
};

static void dcq_free(void *st)
{
    struct dcq_state *s = st;
    if (!s) return;
    pool_free(&s->own_pool);
    free(s->arena);
    memset(s, 0, sizeof *s);
}

static int dcq_init(void *st, const struct head_cfg *cfg, struct head_req *req,
                    struct dcqb_err *err)
{
    struct dcq_state *s = st;
    memset(s, 0, sizeof *s);
    long long qlen, ema_bn, kshot;
    double ratio;
    int eval_net, rc;
    if ((rc = head_check_sizes(cfg, INT_MAX, err))) return rc;
    if ((rc = head_cfg_ratio(cfg, &ratio, err))) return rc;
    static const char *const nets[] = {"ema", "online", NULL};
    double def_l = floor(ratio * (double)cfg->C + 0.5); /* round(r*C) */
    if (def_l < 1) def_l = 1;
    if ((rc = head_param_int(cfg, "queue_len", (long long)def_l, 1, 1LL << 26, &qlen, err)))
        return rc;
    if ((rc = head_param_int(cfg, "ema_bn", 1, 0, 1, &ema_bn, err))) return rc;
    if ((rc = head_param_int(cfg, "kshot", 1, 1, 64, &kshot, err))) return rc;
    if ((rc = head_param_choice(cfg, "eval_net", "ema", nets, &eval_net, err))) return rc;
    if ((rc = head_margin_params(cfg, &s->mc, MARGIN_COSFACE, 50.0f, 0.3f, err))) return rc;
    if (qlen < cfg->max_batch)
        return DCQB_FAIL(err, DCQB_EINVAL,
                         "queue length L = %lld is shorter than the batch B = %d (a step would "
                         "overwrite its own keys); give queue_len >= %d or a larger ratio",
                         qlen, cfg->max_batch, cfg->max_batch);
    if (req) {
        memset(req, 0, sizeof *req);
        req->pairs = 1;
        req->ema = 1; /* momentum: the loop key mu */
        req->ema_bn = (int)ema_bn;
        req->kshot = (int)kshot;
        req->eval_ema = eval_net == 0;
    }
    s->C = cfg->C;
    s->D = cfg->D;
    s->max_batch = cfg->max_batch;
    s->L = (int)qlen;
    s->kshot = (int)kshot;
    size_t L = (size_t)s->L, D = (size_t)s->D, B = (size_t)s->max_batch, K = (size_t)s->kshot;
    size_t nscr = cosxent_scratch_floats(s->max_batch, s->L, s->D, cfg->threads);
    size_t nf = L * D + B * L + 2 * B + B * D + nscr;
    size_t ni = L + B + L;
    size_t bytes = L * sizeof(int64_t) + nf * sizeof(float) + ni * sizeof(int32_t) +
                   (L + B) * K * sizeof(struct head_key_src);
    s->arena = dcqb_zalloc(bytes);
    if (!s->arena)
        return DCQB_FAIL(err, DCQB_ENOMEM, "cannot allocate %.1f MB for L = %d",
                         bytes / 1e6, s->L);
    s->qstep = (int64_t *)s->arena;
    float *f = (float *)(s->qstep + L);
    s->Q = f, f += L * D;
    s->G = f, f += B * L;
    s->z0 = f, f += B;
    s->dz0 = f, f += B;
    s->keys = f, f += B * D;
    s->xscr = f, f += nscr;
    int32_t *p = (int32_t *)f;
    s->Qlab = p, p += L;
    s->labels = p, p += B;
    s->scratch = p, p += L;
    s->qsrc = (struct head_key_src *)p;
    s->ksrc = s->qsrc + L * K;
    /* slots: normalised N(0,1) vectors, label -1 (docs/METHOD.md §3.4) */
    if ((rc = rng_fill_normal(s->Q, L * D, 1.0, cfg->seed, err))) {
        dcq_free(s);
        return rc;
    }
    l2norm_forward(s->Q, s->G, s->Q, s->L, s->D, L2NORM_F64_SCALE); /* G: norms scratch */
    for (size_t j = 0; j < L; j++) s->Qlab[j] = -1, s->qstep[j] = -1;
    for (size_t j = 0; j < L * K; j++) s->qsrc[j] = (struct head_key_src){-1, -1, 0};
    s->ptr = 0;
    if ((rc = pool_use(&s->pool, &s->own_pool, cfg->pool, cfg->threads, err))) dcq_free(s);
    return rc;
}

static int dcq_forward_backward(void *st, float *loss, float *demb, const float *emb,
                                const float *key, const int32_t *labels, int B,
                                struct dcqb_err *err)
{
    struct dcq_state *s = st;
    const int L = s->L, D = s->D;
    if (!key)
        return DCQB_FAIL(err, DCQB_EINVAL, "no key embeddings (the loop must supply pairs)");
    int rc = head_check_batch(labels, B, s->max_batch, s->C, err);
    if (rc) return rc;
    /* stash for the enqueue in step(): BD copy */
    memcpy(s->keys, key, sizeof(float) * (size_t)B * D);
    memcpy(s->labels, labels, sizeof(int32_t) * (size_t)B);
    s->nkeys = B;
    s->nsrc = 0; /* key_sources, when the loop gives them, comes after this */
    /* column 0: each row's own key, margin on it (2BD FLOPs); its slope kept in dz0 */
    for (int i = 0; i < B; i++) {
        const float *q = emb + (size_t)i * D, *k = key + (size_t)i * D;
        double dot = 0;
        for (int d = 0; d < D; d++) dot += (double)q[d] * k[d];
        float c0 = (float)dot;
        c0 = c0 > 1.0f ? 1.0f : (c0 < -1.0f ? -1.0f : c0);
        s->z0[i] = margin_forward(&s->mc, c0);
        s->dz0[i] = margin_backward(&s->mc, c0);
    }
    /* columns 1..L: the queue, own label masked, in column blocks (cosxent.h): G (B,L) = q Q^T,
     * softmax with the positive, G <- dZ in place, demb += dZ Q. 4BLD FLOPs */
    struct qxent p = {B, L, D, emb, s->Q, s->Qlab, labels, s->z0, s->mc.s};
    float *p0 = s->z0; /* qxent reads each z0 before it writes that p0 */
    double total = qxent_forward_backward(s->G, demb, p0, s->xscr, s->pool, &p);
    if ((rc = head_mean_loss(loss, total, B, err))) return rc;
    /* demb += dz0_i k_i with dz0 = (p0 - 1) slope / B: 2BD */
    for (int i = 0; i < B; i++) {
        float *o = demb + (size_t)i * D;
        const float *k = key + (size_t)i * D, a = (p0[i] - 1.0f) * s->dz0[i] / (float)B;
        for (int d = 0; d < D; d++) o[d] += a * k[d];
    }
    s->pending = 1;
    return DCQB_OK;
}

/* Enqueue after the loss (docs/METHOD.md §3.4): slot ptr <- k_i, y_i; ptr = (ptr+1) mod L. */
static int dcq_step(void *st, float lr, int64_t t, struct dcqb_err *err)
{
    struct dcq_state *s = st;
    (void)lr;
    if (!s->pending)
        return DCQB_FAIL(err, DCQB_EINVAL, "step without a forward_backward");
    const int K = s->kshot, known = s->nsrc == s->nkeys * K;
    for (int i = 0; i < s->nkeys; i++) {
        memcpy(s->Q + (size_t)s->ptr * s->D, s->keys + (size_t)i * s->D, sizeof(float) * s->D);
        s->Qlab[s->ptr] = s->labels[i];
        s->qstep[s->ptr] = known ? t : -1;
        for (int r = 0; r < K; r++)
            s->qsrc[(size_t)s->ptr * K + r] = known ? s->ksrc[(size_t)i * K + r]
                                                    : (struct head_key_src){-1, -1, 0};
        s->ptr = s->ptr + 1 == s->L ? 0 : s->ptr + 1;
    }
    s->nkeys = 0;
    s->nsrc = 0;
    s->pending = 0;
    return DCQB_OK;
}

static void dcq_cost(const void *st, int B, struct head_cost *out)
{
    const struct dcq_state *s = st;
    double L = s->L, D = s->D, MB = s->max_batch;
    out->per_class_bytes = 0.0;
    out->fixed_bytes = 4.0 * (L * D + MB * L + 2 * MB + MB * D + 2 * L + MB +
                              (double)cosxent_scratch_floats(s->max_batch, s->L, s->D, pool_size(s->pool))) +
                       8.0 * L + (L + MB) * s->kshot * sizeof(struct head_key_src) + sizeof *s;
    out->flops = 4.0 * B * L * D + 4.0 * B * D + 8.0 * B * (L + 1) + (double)B * D;
    out->active_classes = s->L + 1;
}

static uint32_t dcq_digest(const void *st)
{
    const struct dcq_state *s = st;
    uint32_t c = head_crc32(0, s->Q, (size_t)s->L * s->D * sizeof(float));
    c = head_crc32(c, s->Qlab, (size_t)s->L * sizeof(int32_t));
    c = head_crc32(c, s->qstep, (size_t)s->L * sizeof(int64_t));
    c = head_crc32(c, s->qsrc, (size_t)s->L * s->kshot * sizeof(struct head_key_src));
    int32_t ptr = s->ptr;
    return head_crc32(c, &ptr, sizeof ptr);
}

static size_t dcq_state_bytes(const void *st)
{
    const struct dcq_state *s = st;
    return sizeof(struct dcq_header) + (size_t)s->L * s->D * sizeof(float) +
           (size_t)s->L * (sizeof(int32_t) + sizeof(int64_t)) +
           (size_t)s->L * s->kshot * sizeof(struct head_key_src);
}

static int dcq_save(const void *st, void *buf)
{
    const struct dcq_state *s = st;
    struct dcq_header h = {DCQ_MAGIC, DCQ_VERSION, s->L, s->D, s->ptr, s->kshot};
    char *p = buf;
    size_t nq = (size_t)s->L * s->D * sizeof(float);
    memcpy(p, &h, sizeof h), p += sizeof h;
    memcpy(p, s->Q, nq), p += nq;
    memcpy(p, s->Qlab, (size_t)s->L * sizeof(int32_t)), p += (size_t)s->L * sizeof(int32_t);
    memcpy(p, s->qstep, (size_t)s->L * sizeof(int64_t)), p += (size_t)s->L * sizeof(int64_t);
    memcpy(p, s->qsrc, (size_t)s->L * s->kshot * sizeof(struct head_key_src));
    return DCQB_OK;
}

static int dcq_load(void *st, const void *buf, size_t n, struct dcqb_err *err)
{
    struct dcq_state *s = st;
    struct dcq_header h;
    int rc = head_check_state(buf, n, sizeof h, DCQ_MAGIC, DCQ_VERSION, err);
    if (rc) return rc;
    memcpy(&h, buf, sizeof h);
    if (h.L != s->L || h.D != s->D || h.kshot != s->kshot || n != dcq_state_bytes(s) ||
        h.ptr < 0 || h.ptr >= s->L)
        return DCQB_FAIL(err, DCQB_EFORMAT,
                         "state is L = %d, D = %d, kshot = %d, ptr = %d; this head has L = %d, "
                         "D = %d, kshot = %d", (int)h.L, (int)h.D, (int)h.kshot, (int)h.ptr,
                         s->L, s->D, s->kshot);
    const char *p = (const char *)buf + sizeof h;
    size_t nq = (size_t)s->L * s->D * sizeof(float);
    memcpy(s->Q, p, nq), p += nq;
    memcpy(s->Qlab, p, (size_t)s->L * sizeof(int32_t)), p += (size_t)s->L * sizeof(int32_t);
    memcpy(s->qstep, p, (size_t)s->L * sizeof(int64_t)), p += (size_t)s->L * sizeof(int64_t);
    memcpy(s->qsrc, p, (size_t)s->L * s->kshot * sizeof(struct head_key_src));
    s->ptr = h.ptr;
    s->nkeys = 0;
    s->nsrc = 0;
    s->pending = 0;
    return DCQB_OK;
}

static int dcq_set_queue(void *st, const float *Q, const int32_t *labels, int64_t L,
                         struct dcqb_err *err)
{
    struct dcq_state *s = st;
    if (L != s->L)
        return DCQB_FAIL(err, DCQB_EINVAL, "queue of %lld slots, head has queue_len = %d",
                         (long long)L, s->L);
    for (int64_t j = 0; j < L; j++)
        if (labels[j] < -1 || labels[j] >= s->C)
            return DCQB_FAIL(err, DCQB_EINVAL, "queue label %d at %lld outside [-1, %lld)",
                             (int)labels[j], (long long)j, (long long)s->C);
    memcpy(s->Q, Q, sizeof(float) * (size_t)L * s->D);
    memcpy(s->Qlab, labels, sizeof(int32_t) * (size_t)L);
    for (int64_t j = 0; j < L; j++) s->qstep[j] = -1; /* sources unknown */
    for (int64_t j = 0; j < L * s->kshot; j++) s->qsrc[j] = (struct head_key_src){-1, -1, 0};
    s->ptr = 0;
    return DCQB_OK;
}

/* The loop's references for this step's keys (n = B*kshot, key order), kept for step(). */
static void dcq_key_sources(void *st, const struct head_key_src *src, int n)
{
    struct dcq_state *s = st;
    if (!s->pending || n != s->nkeys * s->kshot) return; /* not this step's: unknown */
    memcpy(s->ksrc, src, sizeof *src * (size_t)n);
    s->nsrc = n;
}

static int dcq_queue_view(const void *st, struct head_queue_view *v)
{
    const struct dcq_state *s = st;
    *v = (struct head_queue_view){s->L, s->D, s->kshot, s->Q, s->Qlab, s->qstep, s->qsrc};
    return DCQB_OK;
}

static int64_t dcq_logit_columns(const void *st)
{
    return 1 + (int64_t)((const struct dcq_state *)st)->L;
}

const float *head_dcq_queue(const void *st, const int32_t **labels, int *ptr, int *L)
{
    const struct dcq_state *s = st;
    if (labels) *labels = s->Qlab;
    if (ptr) *ptr = s->ptr;
    if (L) *L = s->L;
    return s->Q;
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Distinct real labels in the queue (docs/METHOD.md §3.4: the count is logged). Sorts a copy
 * in the arena's scratch: O(L log L), for summaries, not per step. */
static int64_t dcq_queue_classes(const void *st)
{
    const struct dcq_state *s = st;
    memcpy(s->scratch, s->Qlab, sizeof(int32_t) * (size_t)s->L);
    qsort(s->scratch, (size_t)s->L, sizeof(int32_t), cmp_i32);
    int64_t n = 0;
    for (int j = 0; j < s->L; j++)
        if (s->scratch[j] >= 0 && (j == 0 || s->scratch[j] != s->scratch[j - 1])) n++;
    return n;
}

/* mu, the EMA momentum, is the loop's key (train_keys.c): every head with an EMA network uses it */
static const char *const dcq_keys[] = {"queue_len", "ema_bn", "kshot", "eval_net",
                                       "margin", "s", "m", "m1", "m2", "m3",
                                       "straight_through", "easy_margin", NULL};

const struct head_ops head_dcq = {
    .name = "dcq",
    .abi_version = HEAD_ABI_VERSION,
    .state_size = sizeof(struct dcq_state),
    .help = "Dynamic Class Queue (docs/METHOD.md §3.4): keys from an EMA copy of the backbone on "
            "a second image of each identity; logits s*[q.k - m | q.Queue, own label masked], "
            "target column 0; keys enqueued after the loss into a ring of L slots: L = "
            "queue_len when given, else round(ratio*C) (at least 1; ratio in (0, 1], the "
            "common key); L < batch is refused. Keys: queue_len, ema_bn (1), kshot (1), "
            "eval_net = ema|online (ema), margin keys (cosface s = 50, m = 0.3). The EMA "
            "momentum is the training loop's key mu (0.999); ema is always 1 for dcq.",
    .keys = dcq_keys,
    .init = dcq_init,
    .forward_backward = dcq_forward_backward,
    .step = dcq_step,
    .free = dcq_free,
    .cost = dcq_cost,
    .digest = dcq_digest,
    .state_bytes = dcq_state_bytes,
    .save = dcq_save,
    .load = dcq_load,
    .set_queue = dcq_set_queue,
    .queue_classes = dcq_queue_classes,
    .logit_columns = dcq_logit_columns,
    .key_sources = dcq_key_sources,
    .queue_view = dcq_queue_view,
};
