/* backbone.c - the shared MLP embedding network (backbone.h; docs/METHOD.md §2: 128-512-512-128,
 * BN + PReLU, final BN). Forward/backward by hand over the ops.h GEMM helpers.
 *
 * Layout of the parameter arena, per block l (in_l -> out_l = hidden):
 *   W (out,in) | b (out) | gamma (out) | beta (out) | slope (out)   PReLU per channel, like
 * iresnet's PReLU(planes); then the final layer: W (emb,hid) | b | gamma | beta (no PReLU).
 * Running stats per BN layer: mean (out) | var (out).  params, grads and running stats are one
 * allocation: [params | grads | running].
 *
 * Activation cache (priv, one allocation, sized for max_batch rows), per layer:
 *   xhat (B,out) normalised pre-activation, u (B,out) = gamma xhat + beta (blocks only),
 *   a (B,out) block output, mean (out), rstd (out); plus x0 (B,in) copy of the input, two
 *   gradient buffers (B,maxw) and two eval buffers (B,maxw).  Nothing is allocated per step.
 *
 * FLOPs per sample (forward): 2 sum(in*out) for the GEMMs (~0.79 MFLOP at the defaults) plus
 * ~12 per BN/PReLU unit; backward ~2x forward (dW and dx GEMMs; dx of layer 0 is skipped).
 */
#include "backbone.h"

#include <assert.h>
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <zlib.h>

#include "ops.h"
#include "pool.h"
#include "rng.h"

struct bb_layer {
    int in, out;
    int prelu;    /* 1 for hidden blocks, 0 for the final Linear -> BN */
    int residual; /* add the block input (in == out and cfg.residual) */
    size_t w, b, gamma, beta, slope; /* offsets into params/grads */
    size_t rmean, rvar;              /* offsets into running */
    float *xhat, *u, *a, *mean, *rstd;
};

struct bb_priv {
    int n_layers;
    int maxw;
    struct bb_layer *layers;
    float *x0;     /* (B,in) input copy */
    float *g0, *g1; /* (B,maxw) gradient ping-pong */
    float *e0, *e1; /* (B,maxw) eval ping-pong */
};

void backbone_cfg_defaults(struct backbone_cfg *cfg)
{
    cfg->in_dim = 128;
    cfg->hidden = 512;
    cfg->depth = 2;
    cfg->emb_dim = 128;
    cfg->residual = 1;
    cfg->bn_eps = 1e-5f;
    cfg->bn_momentum = 0.1f;
    cfg->prelu_init = 0.25f;
}

void backbone_free(struct backbone *net)
{
    if (!net) return;
    free(net->params); /* the arena: params, grads, running */
    free(net->priv);
    memset(net, 0, sizeof *net);
}

static size_t align16(size_t n) { return (n + 15) & ~(size_t)15; } /* floats: 64 bytes */

int backbone_init(struct backbone *net, const struct backbone_cfg *cfg, int max_batch,
                  uint64_t seed, struct dcqb_err *err)
{
    memset(net, 0, sizeof *net);
    if (cfg->in_dim < 1 || cfg->hidden < 1 || cfg->emb_dim < 1 || cfg->depth < 0 ||
        cfg->depth > 64)
        return DCQB_FAIL(err, DCQB_EINVAL,
                         "backbone: bad shape in_dim=%d hidden=%d emb_dim=%d depth=%d",
                         cfg->in_dim, cfg->hidden, cfg->emb_dim, cfg->depth);
    if (!(cfg->bn_eps > 0) || !(cfg->bn_momentum >= 0 && cfg->bn_momentum <= 1))
        return DCQB_FAIL(err, DCQB_EINVAL, "backbone: bad bn_eps=%g or bn_momentum=%g",
                         (double)cfg->bn_eps, (double)cfg->bn_momentum);
    if (max_batch < 1)
        return DCQB_FAIL(err, DCQB_EINVAL, "backbone: max_batch=%d must be >= 1", max_batch);
    net->cfg = *cfg;
    net->max_batch = max_batch;
    int L = cfg->depth + 1;

    /* sizes */
    size_t np = 0, nr = 0, ncache = 0;
    int maxw = cfg->in_dim > cfg->hidden ? cfg->in_dim : cfg->hidden;
    if (cfg->emb_dim > maxw) maxw = cfg->emb_dim;
    for (int l = 0; l < L; l++) {
        const struct backbone_layer_shape sh = backbone_layer_shape(cfg, l);
        const int in = sh.in, out = sh.out;
        np += (size_t)out * in + (size_t)out * (sh.block ? 4 : 3);
        nr += 2 * (size_t)out;
        ncache += 3 * align16((size_t)max_batch * out) + 2 * align16(out);
    }
    ncache += align16((size_t)max_batch * cfg->in_dim) + 4 * align16((size_t)max_batch * maxw);
    size_t head = align16((sizeof(struct bb_priv) + L * sizeof(struct bb_layer) + 3) / 4);

    net->n_params = np;
    net->n_running = nr;
    net->params = calloc(2 * np + nr, sizeof(float));
    float *cache = calloc(head + ncache, sizeof(float));
    if (!net->params || !cache) {
        free(cache);
        backbone_free(net);
        return DCQB_FAIL(err, DCQB_ENOMEM, "backbone: cannot allocate %zu + %zu floats",
                         2 * np + nr, head + ncache);
    }
    net->grads = net->params + np;
    net->running = net->grads + np;
    struct bb_priv *p = (struct bb_priv *)(void *)cache;
    net->priv = p;
    p->n_layers = L;
    p->maxw = maxw;
    p->layers = (struct bb_layer *)(void *)(p + 1);
    float *f = cache + head;

    size_t op = 0, orun = 0;
    for (int l = 0; l < L; l++) {
        struct bb_layer *ly = &p->layers[l];
        const struct backbone_layer_shape sh = backbone_layer_shape(cfg, l);
        ly->in = sh.in;
        ly->out = sh.out;
        ly->prelu = sh.block;
        ly->residual = sh.residual;
        ly->w = op; op += (size_t)ly->out * ly->in;
        ly->b = op; op += ly->out;
        ly->gamma = op; op += ly->out;
        ly->beta = op; op += ly->out;
        if (ly->prelu) { ly->slope = op; op += ly->out; }
        ly->rmean = orun; orun += ly->out;
        ly->rvar = orun; orun += ly->out;
        size_t bo = align16((size_t)max_batch * ly->out);
        ly->xhat = f; f += bo;
        ly->u = f; f += bo;
        ly->a = f; f += bo;
        ly->mean = f; f += align16(ly->out);
        ly->rstd = f; f += align16(ly->out);
    }
    assert(op == np && orun == nr);
    size_t bm = align16((size_t)max_batch * maxw);
    p->x0 = f; f += align16((size_t)max_batch * cfg->in_dim);
    p->g0 = f; f += bm;
    p->g1 = f; f += bm;
    p->e0 = f; f += bm;
    p->e1 = f; f += bm;

    /* init: PyTorch Linear default, W and b ~ U(-1/sqrt(in), 1/sqrt(in)); one sub-seed per
     * tensor from splitmix64(seed) so layers do not share a stream. */
    uint64_t st = seed;
    for (int l = 0; l < L; l++) {
        struct bb_layer *ly = &p->layers[l];
        double bound = 1.0 / sqrt((double)ly->in);
        int rc = rng_fill_uniform(net->params + ly->w, (size_t)ly->out * ly->in, -bound, bound,
                                  dcqb_splitmix64(&st), err);
        if (rc == DCQB_OK)
            rc = rng_fill_uniform(net->params + ly->b, ly->out, -bound, bound,
                                  dcqb_splitmix64(&st), err);
        if (rc != DCQB_OK) {
            backbone_free(net);
            return rc;
        }
        for (int j = 0; j < ly->out; j++) {
            net->params[ly->gamma + j] = 1.0f;
            net->running[ly->rvar + j] = 1.0f;
            if (ly->prelu) net->params[ly->slope + j] = cfg->prelu_init;
        }
    }
    return DCQB_OK;
}

/* The passes below work on one range of output channels [j0, j1) of a layer, so that the
 * threads of the backbone's pool each take a range (docs/ARCHITECTURE.md §9). Everything but
 * the GEMMs is per channel or per element in a fixed order, so a single range [0, out) is the
 * serial computation exactly; a split changes only how OpenBLAS blocks each GEMM, which can
 * move the last bit. The split is a function of the thread count alone, and the thread count
 * is part of a run's key (docs/METHOD.md §7). */

/* y[:, j0:j1] (B,n) = x (B,in) W[j0:j1]^T + b[j0:j1], row stride out.  2 B in n FLOPs. */
static void linear_forward_cols(float *y, const float *x, const float *W, const float *b, int B,
                                int in, int out, int j0, int j1)
{
    const int n = j1 - j0;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, n, in, 1.0f, x, in,
                W + (size_t)j0 * in, in, 0.0f, y + j0, out);
    for (int i = 0; i < B; i++) {
        float *yi = y + (size_t)i * out;
        for (int j = j0; j < j1; j++) yi[j] += b[j];
    }
}

#define BN_TILE 256 /* channels per tile of the BN and PReLU passes */

/* PReLU's select, u > 0 ? x : y, without a branch: both operands computed, the bits chosen by
 * a mask. The signs are random, so a branch mispredicts often, and with both operands computed
 * GCC vectorises the loops on every path (with y's multiply inside a ?: it moves the multiply
 * into a branch, which -ftrapping-math, the default, forbids it to if-convert). */
#define PRELU_SELECT(name, T, U)                                                                  \
    static inline T name(float u, T x, T y)                                                       \
    {                                                                                             \
        U bx, by;                                                                                 \
        memcpy(&bx, &x, sizeof bx);                                                               \
        memcpy(&by, &y, sizeof by);                                                               \
        const U m = (U)0 - (U)(u > 0.0f), r = (bx & m) | (by & ~m);                               \
        T out;                                                                                    \
        memcpy(&out, &r, sizeof out);                                                             \
        return out;                                                                               \
    }
PRELU_SELECT(prelu_select, float, uint32_t)    /* activations and d u */
PRELU_SELECT(prelu_select_d, double, uint64_t) /* the slope gradient's per-channel sums */
#undef PRELU_SELECT

/* The per-channel sums below run a tile of BN_TILE channels at a time, rows outer and channels
 * inner: memory order, so they vectorise across channels, while each channel still adds its
 * rows in order 0..B-1 in double (a channel at a time walked the rows strided `out` floats). */

/* BN train over channels [j0, j1): h (B,out) -> xhat in place with batch stats (double sums);
 * running stats updated with PyTorch's unbiased variance. */
static void bn_train_forward(float *h, float *mean, float *rstd, float *rmean, float *rvar,
                             int B, int out, float eps, float mom, int j0, int j1)
{
    for (int t0 = j0; t0 < j1; t0 += BN_TILE) {
        const int w = j1 - t0 < BN_TILE ? j1 - t0 : BN_TILE;
        double s[BN_TILE], v[BN_TILE], m[BN_TILE];
        for (int j = 0; j < w; j++) s[j] = v[j] = 0;
        for (int i = 0; i < B; i++) {
            const float *hi = h + (size_t)i * out + t0;
            for (int j = 0; j < w; j++) s[j] += hi[j];
        }
        for (int j = 0; j < w; j++) m[j] = s[j] / B;
        for (int i = 0; i < B; i++) {
            const float *hi = h + (size_t)i * out + t0;
            for (int j = 0; j < w; j++) {
                const double d = hi[j] - m[j];
                v[j] += d * d;
            }
        }
        for (int j = 0; j < w; j++) {
            const double var = v[j] / B, unb = B > 1 ? v[j] / (B - 1) : var;
            mean[t0 + j] = (float)m[j];
            rstd[t0 + j] = (float)(1.0 / sqrt(var + eps));
            rmean[t0 + j] = (1.0f - mom) * rmean[t0 + j] + mom * (float)m[j];
            rvar[t0 + j] = (1.0f - mom) * rvar[t0 + j] + mom * (float)unb;
        }
    }
    for (int i = 0; i < B; i++) {
        float *hi = h + (size_t)i * out;
        for (int j = j0; j < j1; j++) hi[j] = (hi[j] - mean[j]) * rstd[j];
    }
}

/* One row of n channels: u = g xh + be, a = PReLU_s(u) (+ r when r is not NULL). Restrict
 * pointers and a branch-free select: the loop vectorises (3-4 FLOPs, 6-7 floats per element). */
static void prelu_forward_row(float *restrict u, float *restrict a, const float *restrict xh,
                              const float *restrict g, const float *restrict be,
                              const float *restrict s, const float *restrict r, int n)
{
    if (r)
        for (int j = 0; j < n; j++) {
            const float v = g[j] * xh[j] + be[j];
            u[j] = v;
            a[j] = prelu_select(v, v, s[j] * v) + r[j];
        }
    else
        for (int j = 0; j < n; j++) {
            const float v = g[j] * xh[j] + be[j];
            u[j] = v;
            a[j] = prelu_select(v, v, s[j] * v);
        }
}

/* The backward of one row of n channels: t = dL/du = g (u > 0) or s g; ds += g u where u <= 0,
 * in double, per channel (a select adds an exact 0 elsewhere, so a non-finite g u there is
 * not added). Vectorises like the forward. */
static void prelu_backward_row(float *restrict t, double *restrict ds, const float *restrict g,
                               const float *restrict u, const float *restrict s, int n)
{
    for (int j = 0; j < n; j++) {
        t[j] = prelu_select(u[j], g[j], s[j] * g[j]);
        ds[j] += prelu_select_d(u[j], 0.0, (double)g[j] * u[j]); /* exact product */
    }
}

/* One train-mode layer over channels [j0, j1): Linear, BN with batch statistics, the affine
 * map, and for blocks PReLU (+ the residual). in (B,ly->in); emb (B,out) for the last layer. */
static void layer_train_forward(struct backbone *net, const struct bb_layer *ly, const float *in,
                                float *emb, int B, int j0, int j1)
{
    const float *P = net->params;
    float *R = net->running;
    const int o = ly->out;
    linear_forward_cols(ly->xhat, in, P + ly->w, P + ly->b, B, ly->in, o, j0, j1);
    bn_train_forward(ly->xhat, ly->mean, ly->rstd, R + ly->rmean, R + ly->rvar, B, o,
                     net->cfg.bn_eps, net->cfg.bn_momentum, j0, j1);
    const float *g = P + ly->gamma, *be = P + ly->beta;
    if (!ly->prelu) {
        for (int i = 0; i < B; i++) {
            const float *xh = ly->xhat + (size_t)i * o;
            float *ei = emb + (size_t)i * o;
            for (int j = j0; j < j1; j++) ei[j] = g[j] * xh[j] + be[j];
        }
        return;
    }
    /* u = gamma xhat + beta (kept for the backward), a = PReLU(u) (+ the input), one pass */
    const float *sl = P + ly->slope;
    for (int i = 0; i < B; i++) {
        const size_t r = (size_t)i * o + j0;
        prelu_forward_row(ly->u + r, ly->a + r, ly->xhat + r, g + j0, be + j0, sl + j0,
                          ly->residual ? in + r : NULL, j1 - j0);
    }
}

/* A pass of one layer, split over the pool by channel ranges (pool_range_aligned: 16-float
 * boundaries, so threads never share a cache line of a row). */
struct bb_job {
    struct backbone *net;
    const struct bb_layer *ly;
    const float *in; /* the layer's input (B,in) */
    float *emb;      /* forward: the layer's output (the embedding (B,d) in train mode) */
    float *g, *t;    /* backward: d a_l (B,out) in g, d h_l into t; dx (B,in) */
    float *dx;
    int B;
    int to_in; /* which width the pass splits: 0 the layer's out, 1 its in (backward dx) */
};

static void job_cols(const struct bb_job *J, int t, int n, int *j0, int *j1)
{
    long long lo, hi;
    pool_range_aligned(J->to_in ? J->ly->in : J->ly->out, 16, t, n, &lo, &hi);
    *j0 = (int)lo, *j1 = (int)hi;
}

static void fwd_part(void *arg, int t, int n)
{
    const struct bb_job *J = arg;
    int j0, j1;
    job_cols(J, t, n, &j0, &j1);
    if (j1 > j0) layer_train_forward(J->net, J->ly, J->in, J->emb, J->B, j0, j1);
}

/* One eval-mode layer over channels [j0, j1) of y (n,out): Linear, then BN with the running
 * statistics folded into one affine map per channel, PReLU (+ the residual) for blocks.
 * BN_TILE channels at a time so the rows are walked in memory order (a column at a time
 * strided o floats and was a quarter of `eval --run`). */
static void layer_eval_forward(const struct backbone *net, const struct bb_layer *ly, float *y,
                               const float *in, int n, int j0, int j1)
{
    const float *P = net->params, *R = net->running;
    const int o = ly->out;
    linear_forward_cols(y, in, P + ly->w, P + ly->b, n, ly->in, o, j0, j1);
    const float *g = P + ly->gamma, *be = P + ly->beta;
    const float *rm = R + ly->rmean, *rv = R + ly->rvar;
    const float *sl = ly->prelu ? P + ly->slope : NULL;
    for (int t0 = j0; t0 < j1; t0 += BN_TILE) {
        const int w = j1 - t0 < BN_TILE ? j1 - t0 : BN_TILE;
        float sc[BN_TILE], sh[BN_TILE];
        for (int j = 0; j < w; j++) {
            sc[j] = g[t0 + j] / sqrtf(rv[t0 + j] + net->cfg.bn_eps);
            sh[j] = be[t0 + j] - rm[t0 + j] * sc[j];
        }
        for (int i = 0; i < n; i++) {
            float *yi = y + (size_t)i * o + t0;
            const float *ri = in + (size_t)i * o + t0, *si = sl ? sl + t0 : NULL;
            if (!si) {
                for (int j = 0; j < w; j++) yi[j] = yi[j] * sc[j] + sh[j];
                continue;
            }
            for (int j = 0; j < w; j++) {
                const float u = yi[j] * sc[j] + sh[j], v = prelu_select(u, u, si[j] * u);
                yi[j] = ly->residual ? v + ri[j] : v;
            }
        }
    }
}

static void eval_part(void *arg, int t, int n)
{
    const struct bb_job *J = arg;
    int j0, j1;
    job_cols(J, t, n, &j0, &j1);
    if (j1 > j0) layer_eval_forward(J->net, J->ly, J->emb, J->in, J->B, j0, j1);
}

void backbone_forward(struct backbone *net, float *emb, const float *x, int B, int train)
{
    struct bb_priv *p = net->priv;
    int L = p->n_layers;
    if (train) {
        assert(B <= net->max_batch);
        memcpy(p->x0, x, sizeof(float) * (size_t)B * net->cfg.in_dim);
        struct bb_job J = {net, NULL, p->x0, emb, NULL, NULL, NULL, B, 0};
        for (int l = 0; l < L; l++) {
            J.ly = &p->layers[l];
            pool_run(net->pool, fwd_part, &J); /* no pool: the whole range here */
            if (!J.ly->prelu) break;
            J.in = J.ly->a;
        }
        return;
    }
    /* eval: running statistics, ping-pong buffers, chunks of max_batch rows */
    struct bb_job J = {net, NULL, NULL, NULL, NULL, NULL, NULL, 0, 0};
    for (int b0 = 0; b0 < B; b0 += net->max_batch) {
        J.B = B - b0 < net->max_batch ? B - b0 : net->max_batch;
        J.in = x + (size_t)b0 * net->cfg.in_dim;
        float *bufs[2] = {p->e0, p->e1};
        for (int l = 0; l < L; l++) {
            J.ly = &p->layers[l];
            J.emb = J.ly->prelu ? bufs[l & 1] : emb + (size_t)b0 * J.ly->out;
            pool_run(net->pool, eval_part, &J);
            J.in = J.emb;
        }
    }
}

/* BN backward (train mode) over channels [j0, j1): du (B,out) in, dh (B,out) out (may alias
 * du). dgamma += sum du xhat; dbeta += sum du;
 * dh = rstd/B (B du gamma - sum(du gamma) - xhat sum(du gamma xhat)). */
static void bn_backward(float *dh, const float *du, const float *xhat, const float *gamma,
                        const float *rstd, float *dgamma, float *dbeta, int B, int out, int j0,
                        int j1)
{
    for (int t0 = j0; t0 < j1; t0 += BN_TILE) {
        const int w = j1 - t0 < BN_TILE ? j1 - t0 : BN_TILE;
        double sd[BN_TILE], sdx[BN_TILE];
        float k0[BN_TILE], m1[BN_TILE], m2[BN_TILE];
        for (int j = 0; j < w; j++) sd[j] = sdx[j] = 0;
        for (int i = 0; i < B; i++) {
            const float *di = du + (size_t)i * out + t0, *xi = xhat + (size_t)i * out + t0;
            for (int j = 0; j < w; j++) {
                const double d = di[j];
                sd[j] += d;
                sdx[j] += d * xi[j];
            }
        }
        for (int j = 0; j < w; j++) {
            dgamma[t0 + j] += (float)sdx[j];
            dbeta[t0 + j] += (float)sd[j];
            k0[j] = gamma[t0 + j] * rstd[t0 + j];
            m1[j] = (float)(sd[j] / B);
            m2[j] = (float)(sdx[j] / B);
        }
        for (int i = 0; i < B; i++) {
            const size_t r = (size_t)i * out + t0;
            for (int j = 0; j < w; j++) dh[r + j] = k0[j] * (du[r + j] - m1[j] - xhat[r + j] * m2[j]);
        }
    }
}

/* Backward of one layer over its output channels [j0, j1): from g = d a_l (B,o) to t = d h_l,
 * and the parameter gradients of those channels. PReLU: du = g * (u > 0 ? 1 : slope);
 * dslope += sum g u [u <= 0]. Then BN; then the Linear: dW[j0:j1] (n,in) += t[:, j0:j1]^T x
 * (2 B n in FLOPs), db += column sums of t. */
static void layer_backward_params(struct backbone *net, const struct bb_layer *ly, const float *g,
                                  float *t, const float *in, int B, int j0, int j1)
{
    const float *P = net->params;
    float *G = net->grads;
    const int o = ly->out;
    if (ly->prelu) {
        /* the slope's gradient sums g u over the rows with u <= 0, in row order per channel;
         * the other rows add an exact 0 (a select, so a non-finite g u there is not added) */
        const float *sl = P + ly->slope;
        float *dsl = G + ly->slope;
        for (int t0 = j0; t0 < j1; t0 += BN_TILE) {
            const int w = j1 - t0 < BN_TILE ? j1 - t0 : BN_TILE;
            double s[BN_TILE];
            for (int j = 0; j < w; j++) s[j] = 0;
            for (int i = 0; i < B; i++) {
                const size_t r = (size_t)i * o + t0;
                prelu_backward_row(t + r, s, g + r, ly->u + r, sl + t0, w);
            }
            for (int j = 0; j < w; j++) dsl[t0 + j] += (float)s[j];
        }
    } else {
        for (int i = 0; i < B; i++)
            memcpy(t + (size_t)i * o + j0, g + (size_t)i * o + j0, sizeof(float) * (j1 - j0));
    }
    bn_backward(t, t, ly->xhat, P + ly->gamma, ly->rstd, G + ly->gamma, G + ly->beta, B, o, j0,
                j1);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, j1 - j0, ly->in, B, 1.0f, t + j0, o, in,
                ly->in, 1.0f, G + ly->w + (size_t)j0 * ly->in, ly->in);
    float *db = G + ly->b;
    for (int i = 0; i < B; i++)
        for (int j = j0; j < j1; j++) db[j] += t[(size_t)i * o + j];
}

static void bwd_params_part(void *arg, int t, int n)
{
    const struct bb_job *J = arg;
    int j0, j1;
    job_cols(J, t, n, &j0, &j1);
    if (j1 > j0) layer_backward_params(J->net, J->ly, J->g, J->t, J->in, J->B, j0, j1);
}

/* d in over input columns [c0, c1): out[:, c0:c1] (B,nc) = t (B,o) W[:, c0:c1] (+ beta out),
 * 2 B o nc FLOPs. Into g (the previous layer's d a, which already holds the skip path's
 * gradient when residual), or into dx (+= , and += g for a residual first layer). */
static void bwd_input_part(void *arg, int t, int n)
{
    const struct bb_job *J = arg;
    const struct bb_layer *ly = J->ly;
    const int in = ly->in, o = ly->out;
    int c0, c1;
    job_cols(J, t, n, &c0, &c1);
    if (c1 <= c0) return;
    float *out = J->dx ? J->dx : J->g;
    const float beta = J->dx || ly->residual ? 1.0f : 0.0f;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, J->B, c1 - c0, o, 1.0f, J->t, o,
                J->net->params + ly->w + c0, in, beta, out + c0, in);
    if (J->dx && ly->residual)
        for (int i = 0; i < J->B; i++)
            for (int c = c0; c < c1; c++) J->dx[(size_t)i * in + c] += J->g[(size_t)i * in + c];
}

/* Backward through every layer; dx (B,in) += d loss / d x when dx is not NULL. Two passes per
 * layer, each split over the pool: the parameter gradients by output channel, then d in by
 * input column (it needs every channel of t). */
void backbone_backward_dx(struct backbone *net, float *dx, const float *demb, int B)
{
    struct bb_priv *p = net->priv;
    int L = p->n_layers;
    assert(B <= net->max_batch);
    struct bb_job J = {net, NULL, NULL, NULL, p->g0, p->g1, NULL, B, 0};
    memcpy(J.g, demb, sizeof(float) * (size_t)B * net->cfg.emb_dim);
    for (int l = L - 1; l >= 0; l--) {
        J.ly = &p->layers[l];
        J.in = l == 0 ? p->x0 : p->layers[l - 1].a;
        J.to_in = 0;
        J.dx = NULL;
        pool_run(net->pool, bwd_params_part, &J);
        if (l == 0 && !dx) break;
        J.to_in = 1;
        J.dx = l == 0 ? dx : NULL; /* l > 0: into g, the skip path's gradient accumulated */
        pool_run(net->pool, bwd_input_part, &J);
    }
}

void backbone_backward(struct backbone *net, const float *demb, int B)
{
    backbone_backward_dx(net, NULL, demb, B);
}

void backbone_zero_grad(struct backbone *net)
{
    memset(net->grads, 0, sizeof(float) * net->n_params);
}

static int same_cfg(const struct backbone_cfg *a, const struct backbone_cfg *b)
{
    return a->in_dim == b->in_dim && a->hidden == b->hidden && a->depth == b->depth &&
           a->emb_dim == b->emb_dim && a->residual == b->residual;
}

int backbone_copy(struct backbone *dst, const struct backbone *src, struct dcqb_err *err)
{
    if (!same_cfg(&dst->cfg, &src->cfg) || dst->n_params != src->n_params ||
        dst->n_running != src->n_running)
        return DCQB_FAIL(err, DCQB_EINVAL,
                         "backbone_copy: shapes differ (%d-%d x%d-%d vs %d-%d x%d-%d)",
                         dst->cfg.in_dim, dst->cfg.hidden, dst->cfg.depth, dst->cfg.emb_dim,
                         src->cfg.in_dim, src->cfg.hidden, src->cfg.depth, src->cfg.emb_dim);
    memcpy(dst->params, src->params, sizeof(float) * src->n_params);
    memcpy(dst->running, src->running, sizeof(float) * src->n_running);
    return DCQB_OK;
}

static void ema_array(float *d, const float *s, size_t n, float mu)
{
    if (mu == 0.0f) {
        memcpy(d, s, sizeof(float) * n);
        return;
    }
    if (mu == 1.0f) return;
    float a = 1.0f - mu;
    for (size_t i = 0; i < n; i++) d[i] = mu * d[i] + a * s[i];
}

struct bb_ema_job {
    struct backbone *dst;
    const struct backbone *src;
    float mu;
    int with_running;
};

/* Element-wise, so any split gives the serial bits; shares of 16 floats keep cache lines apart. */
static void ema_part(void *arg, int t, int n)
{
    const struct bb_ema_job *J = arg;
    long long lo, hi;
    pool_range_aligned((long long)J->src->n_params, 16, t, n, &lo, &hi);
    ema_array(J->dst->params + lo, J->src->params + lo, (size_t)(hi - lo), J->mu);
    if (!J->with_running) return;
    pool_range_aligned((long long)J->src->n_running, 16, t, n, &lo, &hi);
    ema_array(J->dst->running + lo, J->src->running + lo, (size_t)(hi - lo), J->mu);
}

void backbone_ema(struct backbone *dst, const struct backbone *src, float mu, int with_running)
{
    assert(dst->n_params == src->n_params && dst->n_running == src->n_running);
    struct bb_ema_job J = {dst, src, mu, with_running};
    pool_run(dst->pool, ema_part, &J); /* no pool: ema_part(&J, 0, 1) on this thread */
}

uint32_t backbone_digest(const struct backbone *net)
{
    uLong c = crc32(0L, Z_NULL, 0);
    c = crc32(c, (const Bytef *)net->params, (uInt)(sizeof(float) * net->n_params));
    c = crc32(c, (const Bytef *)net->running, (uInt)(sizeof(float) * net->n_running));
    return (uint32_t)c;
}

struct backbone_layer_shape backbone_layer_shape(const struct backbone_cfg *cfg, int l)
{
    struct backbone_layer_shape s;
    s.in = l == 0 ? cfg->in_dim : cfg->hidden;
    s.out = l == cfg->depth ? cfg->emb_dim : cfg->hidden;
    s.block = l < cfg->depth;
    s.residual = s.block && cfg->residual && s.in == s.out;
    return s;
}

double backbone_flops_per_sample(const struct backbone *net)
{
    double f = 0;
    for (int l = 0; l <= net->cfg.depth; l++) {
        const struct backbone_layer_shape s = backbone_layer_shape(&net->cfg, l);
        f += 2.0 * s.in * s.out;
    }
    return f;
}
