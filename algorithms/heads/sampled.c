/* sampled.c - the `sampled` head: sampled softmax as TensorFlow's sampled_softmax_loss /
 * _compute_sampled_logits define it (docs/METHOD.md §3.5), with a face margin on the true
 * column. All C weights + momentum are stored; per step one set of S = int(ratio * C) unique
 * classes, shared by the batch, is drawn from a proposal P (sampler = uniform | log_uniform |
 * frequency) until S distinct classes are held after T draws ("tries"). Expected counts
 *   Q(c) = S P(c) if T == S, else -expm1(T log1p(-P(c)))   (true classes use the same T).
 * Row i: column "true" = s g(cos_{i,y}) - ln Q(y); sampled j: s cos_{i,s_j} - ln Q(s_j);
 * accidental hits (s_j == y_i) are the true column itself, not a second copy (TF removes them);
 * other rows' true classes are negatives only if sampled. subtract_log_q = 0 drops -ln Q.
 * Only touched rows (sampled + true) get gradients and SGD.
 *
 * Columns U = [sampled s_1..s_S | true classes not sampled], pos[] maps class -> column (reset
 * per step over the used entries, O(S + B)). Proposals: uniform; log-uniform by closed form,
 * classes ranked by decreasing class_counts (ties by index; `order` rank -> class and `rank`
 * class -> rank stored); frequency by inverse CDF, binary search over the cumulative counts.
 *
 * Arena: W (C,D) | V (C,D) | inv (C) | WU (U,D) | invU (U) | offU (U) | dWU (U,D) | logits (B,U)
 * | emb (B,D) | cosxent scratch | cum (C, double, frequency only) | order, rank, pos (C) |
 * cls, ord, ordk (U) | fixed (S) | tgt (B), U = S + min(B, C).  Per class: 4 (2D + 4) (+ 8 for frequency) bytes.
 * FLOPs per step: 6BUD + ~8BU + 14UD (gather, update), plus T proposal draws.
 */
#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include "cosw.h"
#include "cosxent.h"
#include "head.h"
#include "heads/sampled.h"
#include "hrand.h"
#include "margin.h"
#include "ops.h"
#include "rng.h"

#define SAMPLED_MAGIC 0x53514344u /* "DCQS" */
#define SAMPLED_VERSION 1u

enum sampler { SAMPLER_UNIFORM = 0, SAMPLER_LOG_UNIFORM, SAMPLER_FREQUENCY };

struct sampled_state {
    int64_t C;
    int D, max_batch;
    int S, Ux;
    int sampler, subtract_log_q;
    struct margin_cfg mc;
    struct optim_cfg opt;
    uint64_t rng;
    double total;   /* sum of class_counts (frequency) */
    double log_c1;  /* ln(C + 1) (log-uniform) */
    char *arena;
    float *W, *V, *inv, *WU, *invU, *offU, *dWU, *logits, *emb, *scratch;
    double *cum;
    int32_t *order, *rank, *pos, *cls, *fixed, *ord, *ordk, *tgt;
    int Ssel, Uc;   /* sampled columns, all columns of the last step */
    int64_t nord;   /* its classes in address order: ord (class), ordk (column) */
    int64_t T;      /* tries of the last step */
    int nfixed;
    int pending;
    struct pool own_pool; /* when the caller lends none (head_cfg.pool) */
    struct pool *pool;
};

struct sampled_header {
    uint32_t magic, version;
    int64_t C;
    int32_t D, sampler;
};

static void sampled_free(void *st)
{
    struct sampled_state *s = st;
    if (!s) return;
    pool_free(&s->own_pool);
    free(s->arena);
    memset(s, 0, sizeof *s);
}

static void sampled_norms(struct sampled_state *s) { cosw_norms(s->inv, s->W, s->C, s->D); }

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

double head_sampled_prob(const void *st, int32_t c)
{
    const struct sampled_state *s = st;
    switch (s->sampler) {
    case SAMPLER_LOG_UNIFORM: /* ln((k+2)/(k+1)) / ln(C+1) */
        return log1p(1.0 / ((double)s->rank[c] + 1.0)) / s->log_c1;
    case SAMPLER_FREQUENCY:
        return (s->cum[c] - (c > 0 ? s->cum[c - 1] : 0.0)) / s->total;
    default:
        return 1.0 / (double)s->C;
    }
}

int32_t head_sampled_draw(void *st)
{
    struct sampled_state *s = st;
    double u = hrand_uniform(&s->rng);
    switch (s->sampler) {
    case SAMPLER_LOG_UNIFORM: { /* k = floor(exp(u ln(C+1))) - 1, mod C (TF range_sampler.cc) */
        int64_t k = (int64_t)floor(exp(u * s->log_c1)) - 1;
        k %= s->C;
        if (k < 0) k += s->C;
        return s->order[k];
    }
    case SAMPLER_FREQUENCY: { /* first c with cum[c] > u * total: O(log C) */
        double x = u * s->total;
        int64_t lo = 0, hi = s->C - 1;
        while (lo < hi) {
            int64_t mid = lo + (hi - lo) / 2;
            if (s->cum[mid] > x) hi = mid;
            else lo = mid + 1;
        }
        return (int32_t)lo;
    }
    default:
        return (int32_t)hrand_below(&s->rng, (uint64_t)s->C);
    }
}

double head_sampled_expected(const void *st, int32_t c)
{
    const struct sampled_state *s = st;
    double p = head_sampled_prob(st, c);
    if (s->T == s->Ssel) return (double)s->Ssel * p;
    return -expm1((double)s->T * log1p(-p));
}

int64_t head_sampled_tries(const void *st) { return ((const struct sampled_state *)st)->T; }

static int sampled_init(void *st, const struct head_cfg *cfg, struct head_req *req,
                        struct dcqb_err *err)
{
    struct sampled_state *s = st;
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
    static const char *const samplers[] = {"uniform", "log_uniform", "frequency", NULL};
    long long corr;
    if ((rc = head_param_choice(cfg, "sampler", "uniform", samplers, &s->sampler, err)))
        return rc;
    if ((rc = head_param_int(cfg, "subtract_log_q", 1, 0, 1, &corr, err))) return rc;
    if ((rc = head_margin_params(cfg, &s->mc, MARGIN_COSFACE, 64.0f, 0.4f, err))) return rc;
    s->subtract_log_q = (int)corr;
    s->C = cfg->C;
    s->D = cfg->D;
    s->max_batch = cfg->max_batch;
    s->opt = cfg->optim;
    s->S = (int)(ratio * (double)s->C);
    if (s->S < 1) s->S = 1;
    if (s->S > s->C) s->S = (int)s->C;
    s->log_c1 = log((double)s->C + 1.0);
    if (s->sampler != SAMPLER_UNIFORM && !cfg->class_counts)
        return DCQB_FAIL(err, DCQB_EINVAL, "sampler = %s needs class_counts",
                         samplers[s->sampler]);
    if (s->sampler == SAMPLER_FREQUENCY) { /* unique draws need S classes with P > 0 */
        int64_t nz = 0;
        for (int64_t c = 0; c < s->C; c++) {
            if (cfg->class_counts[c] < 0)
                return DCQB_FAIL(err, DCQB_EINVAL, "class_counts[%lld] = %d < 0",
                                 (long long)c, (int)cfg->class_counts[c]);
            nz += cfg->class_counts[c] > 0;
        }
        if (nz < s->S)
            return DCQB_FAIL(err, DCQB_EINVAL,
                             "S = %d but only %lld classes have images (frequency)",
                             s->S, (long long)nz);
    }
    s->rng = dcqb_stream_seed(cfg->seed, 0x5053);
    int bmin = s->max_batch < s->C ? s->max_batch : (int)s->C;
    s->Ux = s->S + bmin;
    size_t C = (size_t)s->C, D = (size_t)s->D, U = (size_t)s->Ux, B = (size_t)s->max_batch;
    size_t ncum = s->sampler == SAMPLER_FREQUENCY ? C : 0;
    size_t nscr = cosxent_scratch_floats(s->max_batch, s->Ux, s->D, cfg->threads);
    size_t nf = 2 * C * D + C + U * D + 2 * U + U * D + B * U + B * D + nscr;
    nf += nf & 1; /* keep the doubles 8-aligned */
    size_t ni = 3 * C + 3 * U + (size_t)s->S + B;
    size_t bytes = nf * sizeof(float) + ncum * sizeof(double) + ni * sizeof(int32_t);
    s->arena = dcqb_zalloc(bytes);
    if (!s->arena)
        return DCQB_FAIL(err, DCQB_ENOMEM, "cannot allocate %.1f MB for C = %lld",
                         bytes / 1e6, (long long)s->C);
    float *f = (float *)s->arena;
    s->W = f, f += C * D;
    s->V = f, f += C * D;
    s->inv = f, f += C;
    s->WU = f, f += U * D;
    s->invU = f, f += U;
    s->offU = f, f += U;
    s->dWU = f, f += U * D;
    s->logits = f, f += B * U;
    s->emb = f, f += B * D;
    s->scratch = f;
    s->cum = (double *)(s->arena + nf * sizeof(float));
    int32_t *p = (int32_t *)(s->cum + ncum);
    s->order = p, p += C;
    s->rank = p, p += C;
    s->pos = p, p += C;
    s->cls = p, p += U;
    s->fixed = p, p += s->S;
    s->ord = p, p += U;
    s->ordk = p, p += U;
    s->tgt = p;
    for (size_t c = 0; c < C; c++) {
        s->pos[c] = -1;
        s->order[c] = s->rank[c] = (int32_t)c;
    }
    if (s->sampler == SAMPLER_FREQUENCY) {
        double acc = 0;
        for (size_t c = 0; c < C; c++) s->cum[c] = acc += cfg->class_counts[c];
        s->total = acc;
    }
    if (s->sampler == SAMPLER_LOG_UNIFORM) { /* rank by decreasing count, ties by index */
        uint64_t *key = malloc(C * sizeof *key); /* init only, freed below */
        if (!key) {
            sampled_free(s);
            return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory ranking classes");
        }
        for (size_t c = 0; c < C; c++) {
            int64_t cnt = cfg->class_counts[c] > 0 ? cfg->class_counts[c] : 0;
            key[c] = ((uint64_t)(INT32_MAX - cnt) << 32) | (uint64_t)c;
        }
        qsort(key, C, sizeof *key, cmp_u64);
        for (size_t k = 0; k < C; k++) {
            s->order[k] = (int32_t)(key[k] & 0xffffffffu);
            s->rank[s->order[k]] = (int32_t)k;
        }
        free(key);
    }
    if ((rc = rng_fill_normal(s->W, C * D, std, cfg->seed, err))) {
        sampled_free(s);
        return rc;
    }
    sampled_norms(s);
    if ((rc = pool_use(&s->pool, &s->own_pool, cfg->pool, cfg->threads, err))) sampled_free(s);
    return rc;
}

/* Columns: cls[0..Ssel) sampled, cls[Ssel..Uc) true classes not sampled; offsets ln Q. */
static int sampled_choose(struct sampled_state *s, const int32_t *labels, int B,
                          struct dcqb_err *err)
{
    for (int u = 0; u < s->Uc; u++) s->pos[s->cls[u]] = -1;
    s->Uc = s->Ssel = 0;
    int n = 0;
    if (s->nfixed > 0) { /* set_classes: T = S, no random numbers consumed */
        for (int k = 0; k < s->nfixed; k++) {
            s->pos[s->fixed[k]] = k;
            s->cls[k] = s->fixed[k];
        }
        n = s->nfixed;
        s->T = n;
        s->nfixed = 0;
    } else { /* unique draws until S distinct (TF unique=True) */
        int64_t T = 0;
        /* TF draws until S distinct classes; with a skewed proposal and S near C that can take
         * astronomically many tries: give up with a clear message instead of hanging */
        const int64_t max_tries = 1000 * (int64_t)s->S + 1000000;
        while (n < s->S) {
            if (T == max_tries)
                return DCQB_FAIL(err, DCQB_EINVAL, "%lld draws gave only %d of %d "
                                 "distinct classes: ratio too close to 1 for this sampler "
                                 "(use sampler = uniform or a smaller ratio)", (long long)T, n,
                                 s->S);
            int32_t c = head_sampled_draw(s);
            T++;
            if (s->pos[c] < 0) {
                s->pos[c] = n;
                s->cls[n++] = c;
            }
        }
        s->T = T;
    }
    s->Ssel = n;
    for (int i = 0; i < B; i++) {
        int32_t y = labels[i];
        if (s->pos[y] < 0) {
            s->pos[y] = n;
            s->cls[n++] = y;
        }
    }
    s->Uc = n;
    for (int u = 0; u < n; u++) {
        if (!s->subtract_log_q) {
            s->offU[u] = 0.0f;
            continue;
        }
        double q = head_sampled_expected(s, s->cls[u]);
        if (!(q > 0))
            return DCQB_FAIL(err, DCQB_EINVAL,
                             "class %d has proposal probability 0 (no images) but is a "
                             "label of this batch", (int)s->cls[u]);
        s->offU[u] = (float)log(q);
    }
    return DCQB_OK;
}

static int sampled_forward_backward(void *st, float *loss, float *demb, const float *emb,
                                    const float *key, const int32_t *labels, int B,
                                    struct dcqb_err *err)
{
    struct sampled_state *s = st;
    (void)key;
    const int D = s->D;
    int rc = head_check_batch(labels, B, s->max_batch, s->C, err);
    if (!rc) rc = sampled_choose(s, labels, B, err);
    if (rc) return rc;
    const int U = s->Uc, Ssel = s->Ssel;
    /* gather: UD, in column order (scattered writes into WU cost more than scattered reads) */
    cosw_gather_rows(s->WU, s->invU, s->W, s->inv, s->cls, U, D, s->pool);
    s->nord = cosw_mark_order(s->ord, s->ordk, s->pos, s->C); /* step()'s row order */
    memcpy(s->emb, emb, sizeof(float) * (size_t)B * D);
    for (int i = 0; i < B; i++) s->tgt[i] = s->pos[labels[i]];
    /* the blocked margin softmax with the log-Q offsets; columns past the sampled set are
     * other rows' true classes, seen only by their own row; margin before the correction
     * (docs/METHOD.md §3.5, [ours]). 6BUD FLOPs */
    struct cosxent p = {B, U, D, Ssel, s->emb, s->WU, s->invU, s->offU, s->tgt, &s->mc};
    double total = cosxent_forward_backward(s->logits, demb, s->dWU, s->scratch, s->pool, &p);
    if ((rc = head_mean_loss(loss, total, B, err))) return rc;
    s->pending = 1;
    return DCQB_OK;
}

/* Touched rows only: g = M' - (M'.w)/|w|^2 w + wd w; v = mu v + g; w -= lr v. 13 FLOPs/elem. */
static int sampled_step(void *st, float lr, int64_t t, struct dcqb_err *err)
{
    struct sampled_state *s = st;
    (void)t;
    if (!s->pending)
        return DCQB_FAIL(err, DCQB_EINVAL, "step without a forward_backward");
    const float mu = s->opt.momentum, wd = s->opt.weight_decay;
    const int D = s->D;
    cosw_sgd_rows(s->W, s->V, s->inv, s->ord, s->ordk, s->nord, s->dWU, D, lr, mu, wd,
                  s->pool);
    s->pending = 0;
    return DCQB_OK;
}

static void sampled_cost(const void *st, int B, struct head_cost *out)
{
    const struct sampled_state *s = st;
    double D = s->D, U = (double)s->S + (B < s->C ? B : (double)s->C), Ux = s->Ux;
    out->per_class_bytes = 4.0 * (2.0 * D + 4.0) + (s->sampler == SAMPLER_FREQUENCY ? 8.0 : 0.0);
    out->fixed_bytes = 4.0 * (Ux * (2.0 * D + 5.0) + (double)s->max_batch * (Ux + D + 1) + s->S +
                              (double)cosxent_scratch_floats(s->max_batch, s->Ux, s->D, pool_size(s->pool))) +
                       sizeof *s;
    out->flops = 6.0 * B * U * D + 8.0 * B * U + 14.0 * U * D;
    out->active_classes = (int64_t)s->S + 1;
}

static uint32_t sampled_digest(const void *st)
{
    const struct sampled_state *s = st;
    uint32_t c = head_crc32(0, s->W, 2 * (size_t)s->C * s->D * sizeof(float));
    return head_crc32(c, &s->rng, sizeof s->rng);
}

static size_t sampled_state_bytes(const void *st)
{
    const struct sampled_state *s = st;
    return sizeof(struct sampled_header) + 2 * (size_t)s->C * s->D * sizeof(float) +
           sizeof(uint64_t);
}

static int sampled_save(const void *st, void *buf)
{
    const struct sampled_state *s = st;
    struct sampled_header h = {SAMPLED_MAGIC, SAMPLED_VERSION, s->C, s->D, s->sampler};
    char *p = buf;
    size_t nw = 2 * (size_t)s->C * s->D * sizeof(float);
    memcpy(p, &h, sizeof h), p += sizeof h;
    memcpy(p, s->W, nw), p += nw;
    memcpy(p, &s->rng, sizeof s->rng);
    return DCQB_OK;
}

static int sampled_load(void *st, const void *buf, size_t n, struct dcqb_err *err)
{
    struct sampled_state *s = st;
    struct sampled_header h;
    int rc = head_check_state(buf, n, sizeof h, SAMPLED_MAGIC, SAMPLED_VERSION, err);
    if (rc) return rc;
    memcpy(&h, buf, sizeof h);
    if (h.C != s->C || h.D != s->D || h.sampler != s->sampler || n != sampled_state_bytes(s))
        return DCQB_FAIL(err, DCQB_EFORMAT,
                         "state is C = %lld, D = %d, sampler %d; this head has C = "
                         "%lld, D = %d, sampler %d",
                         (long long)h.C, (int)h.D, (int)h.sampler, (long long)s->C, s->D,
                         s->sampler);
    const char *p = (const char *)buf + sizeof h;
    size_t nw = 2 * (size_t)s->C * s->D * sizeof(float);
    memcpy(s->W, p, nw);
    memcpy(&s->rng, p + nw, sizeof s->rng);
    sampled_norms(s);
    for (int u = 0; u < s->Uc; u++) s->pos[s->cls[u]] = -1;
    s->Uc = s->Ssel = 0;
    s->nfixed = 0;
    s->pending = 0;
    return DCQB_OK;
}

static const float *sampled_class_weights(const void *st)
{
    return ((const struct sampled_state *)st)->W;
}

static int sampled_set_weights(void *st, const float *W, int64_t C, int D, struct dcqb_err *err)
{
    struct sampled_state *s = st;
    return cosw_set_weights(s->W, s->inv, s->C, s->D, W, C, D, "sampled", err);
}

static void sampled_weight_grad(const void *st, float *dW)
{
    const struct sampled_state *s = st;
    cosw_scatter_grad(dW, s->C, s->D, s->cls, s->Uc, s->dWU, s->W, s->inv);
}

static int sampled_set_classes(void *st, const int32_t *idx, int64_t K, struct dcqb_err *err)
{
    struct sampled_state *s = st;
    int rc = head_check_class_list(idx, K, s->S, s->C, err);
    if (rc) return rc;
    for (int64_t k = 0; k < K; k++)
        if (s->subtract_log_q && !(head_sampled_prob(s, idx[k]) > 0))
            return DCQB_FAIL(err, DCQB_EINVAL, "class %d has proposal probability 0",
                             (int)idx[k]);
    memcpy(s->fixed, idx, sizeof(int32_t) * (size_t)K);
    s->nfixed = (int)K;
    return DCQB_OK;
}

static void sampled_active_classes(const void *st, int32_t *idx, int64_t *K)
{
    const struct sampled_state *s = st;
    if (idx) memcpy(idx, s->cls, sizeof(int32_t) * (size_t)s->Ssel);
    *K = s->Ssel;
}

static int64_t sampled_logit_columns(const void *st)
{
    return ((const struct sampled_state *)st)->Uc; /* S + true classes not sampled */
}

static const char *const sampled_keys[] = {"sampler", "subtract_log_q", "margin", "s", "m",
                                           "m1", "m2", "m3", "straight_through", "easy_margin",
                                           NULL};

const struct head_ops head_sampled = {
    .name = "sampled",
    .abi_version = HEAD_ABI_VERSION,
    .state_size = sizeof(struct sampled_state),
    .help = "Sampled softmax as TensorFlow defines it (docs/METHOD.md §3.5): S = int(ratio*C) "
            "unique classes shared by the batch (ratio in (0, 1], the common key), logits "
            "s*cos - ln Q with the margin on the true column, accidental hits removed, only "
            "touched rows updated. Keys: sampler = uniform|log_uniform|frequency (uniform; "
            "log_uniform ranks classes by decreasing image count), subtract_log_q (1), margin "
            "keys as full (cosface s = 64, m = 0.4).",
    .keys = sampled_keys,
    .init = sampled_init,
    .forward_backward = sampled_forward_backward,
    .step = sampled_step,
    .free = sampled_free,
    .cost = sampled_cost,
    .digest = sampled_digest,
    .state_bytes = sampled_state_bytes,
    .save = sampled_save,
    .load = sampled_load,
    .class_weights = sampled_class_weights,
    .set_weights = sampled_set_weights,
    .weight_grad = sampled_weight_grad,
    .set_classes = sampled_set_classes,
    .active_classes = sampled_active_classes,
    .logit_columns = sampled_logit_columns,
};
