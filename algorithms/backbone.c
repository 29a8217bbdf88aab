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
#include <math.h>
#include <stdlib.h>
#include <zlib.h>

#include "ops.h"
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
        int in = l == 0 ? cfg->in_dim : cfg->hidden;
        int out = l == L - 1 ? cfg->emb_dim : cfg->hidden;
        np += (size_t)out * in + (size_t)out * (l == L - 1 ? 3 : 4);
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
        ly->in = l == 0 ? cfg->in_dim : cfg->hidden;
        ly->out = l == L - 1 ? cfg->emb_dim : cfg->hidden;
        ly->prelu = l < L - 1;
        ly->residual = ly->prelu && cfg->residual && ly->in == ly->out;
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

/* Linear: y (B,out) = x (B,in) W^T + b.  2 B in out FLOPs. */
static void linear_forward(float *y, const float *x, const float *W, const float *b, int B,
                           int in, int out)
{
    matmul_bd_kd_to_bk(y, x, W, B, out, in, 1.0f, 0.0f);
    for (int i = 0; i < B; i++) {
        float *yi = y + (size_t)i * out;
        for (int j = 0; j < out; j++) yi[j] += b[j];
    }
}

/* BN train: h (B,out) -> xhat in place with batch stats (double sums); running stats updated
 * with PyTorch's unbiased variance. */
static void bn_train_forward(float *h, float *mean, float *rstd, float *rmean, float *rvar,
                             int B, int out, float eps, float mom)
{
    for (int j = 0; j < out; j++) {
        double s = 0;
        for (int i = 0; i < B; i++) s += h[(size_t)i * out + j];
        double m = s / B, v = 0;
        for (int i = 0; i < B; i++) {
            double d = h[(size_t)i * out + j] - m;
            v += d * d;
        }
        double var = v / B;
        double unb = B > 1 ? v / (B - 1) : var;
        mean[j] = (float)m;
        rstd[j] = (float)(1.0 / sqrt(var + eps));
        rmean[j] = (1.0f - mom) * rmean[j] + mom * (float)m;
        rvar[j] = (1.0f - mom) * rvar[j] + mom * (float)unb;
    }
    for (int i = 0; i < B; i++) {
        float *hi = h + (size_t)i * out;
        for (int j = 0; j < out; j++) hi[j] = (hi[j] - mean[j]) * rstd[j];
    }
}

#define BN_TILE 256 /* channels per tile of the eval-mode BN + PReLU pass */

/* v > 0 ? v : slope * v without a branch: both computed, the bits selected by a mask. The
 * signs are random, and a mispredicted branch per element was most of the eval pass's time. */
static inline float prelu_select(float v, float slope)
{
    const float a = slope * v;
    uint32_t bv, ba;
    memcpy(&bv, &v, sizeof bv);
    memcpy(&ba, &a, sizeof ba);
    const uint32_t m = (uint32_t)0 - (uint32_t)(v > 0.0f);
    const uint32_t r = (bv & m) | (ba & ~m);
    float out;
    memcpy(&out, &r, sizeof out);
    return out;
}

void backbone_forward(struct backbone *net, float *emb, const float *x, int B, int train)
{
    struct bb_priv *p = net->priv;
    const float *P = net->params;
    float *R = net->running;
    int L = p->n_layers;
    if (train) {
        assert(B <= net->max_batch);
        memcpy(p->x0, x, sizeof(float) * (size_t)B * net->cfg.in_dim);
        const float *in = p->x0;
        for (int l = 0; l < L; l++) {
            struct bb_layer *ly = &p->layers[l];
            int o = ly->out;
            linear_forward(ly->xhat, in, P + ly->w, P + ly->b, B, ly->in, o);
            bn_train_forward(ly->xhat, ly->mean, ly->rstd, R + ly->rmean, R + ly->rvar, B, o,
                             net->cfg.bn_eps, net->cfg.bn_momentum);
            const float *g = P + ly->gamma, *be = P + ly->beta;
            float *dst = ly->prelu ? ly->u : emb;
            for (int i = 0; i < B; i++) {
                const float *xh = ly->xhat + (size_t)i * o;
                float *ui = dst + (size_t)i * o;
                for (int j = 0; j < o; j++) ui[j] = g[j] * xh[j] + be[j];
            }
            if (!ly->prelu) break;
            const float *sl = P + ly->slope;
            for (int i = 0; i < B; i++) {
                const float *ui = ly->u + (size_t)i * o;
                float *ai = ly->a + (size_t)i * o;
                const float *ri = in + (size_t)i * o;
                for (int j = 0; j < o; j++) {
                    float v = ui[j] > 0.0f ? ui[j] : sl[j] * ui[j];
                    ai[j] = ly->residual ? v + ri[j] : v;
                }
            }
            in = ly->a;
        }
        return;
    }
    /* eval: running statistics, ping-pong buffers, chunks of max_batch rows */
    for (int b0 = 0; b0 < B; b0 += net->max_batch) {
        int n = B - b0 < net->max_batch ? B - b0 : net->max_batch;
        const float *in = x + (size_t)b0 * net->cfg.in_dim;
        float *bufs[2] = {p->e0, p->e1};
        for (int l = 0; l < L; l++) {
            struct bb_layer *ly = &p->layers[l];
            int o = ly->out;
            float *y = ly->prelu ? bufs[l & 1] : emb + (size_t)b0 * o;
            linear_forward(y, in, P + ly->w, P + ly->b, n, ly->in, o);
            const float *g = P + ly->gamma, *be = P + ly->beta;
            const float *rm = R + ly->rmean, *rv = R + ly->rvar;
            const float *sl = ly->prelu ? P + ly->slope : NULL;
            /* fold BN into one affine map per channel; BN_TILE channels at a time so the rows
             * are walked in memory order (a column at a time strided o floats and was a quarter
             * of `eval --run`); every element gets the same operations as before */
            for (int j0 = 0; j0 < o; j0 += BN_TILE) {
                const int w = o - j0 < BN_TILE ? o - j0 : BN_TILE;
                float sc[BN_TILE], sh[BN_TILE];
                for (int j = 0; j < w; j++) {
                    sc[j] = g[j0 + j] / sqrtf(rv[j0 + j] + net->cfg.bn_eps);
                    sh[j] = be[j0 + j] - rm[j0 + j] * sc[j];
                }
                for (int i = 0; i < n; i++) {
                    float *yi = y + (size_t)i * o + j0;
                    const float *ri = in + (size_t)i * o + j0, *si = sl ? sl + j0 : NULL;
                    if (!si) {
                        for (int j = 0; j < w; j++) yi[j] = yi[j] * sc[j] + sh[j];
                        continue;
                    }
                    for (int j = 0; j < w; j++) {
                        const float v = prelu_select(yi[j] * sc[j] + sh[j], si[j]);
                        yi[j] = ly->residual ? v + ri[j] : v;
                    }
                }
            }
            in = y;
        }
    }
}

/* BN backward (train mode) for one layer: du (B,out) in, dh (B,out) out (may alias du).
 * dgamma += sum du xhat; dbeta += sum du;
 * dh = rstd/B (B du gamma - sum(du gamma) - xhat sum(du gamma xhat)). */
static void bn_backward(float *dh, const float *du, const float *xhat, const float *gamma,
                        const float *rstd, float *dgamma, float *dbeta, int B, int out)
{
    for (int j = 0; j < out; j++) {
        double sd = 0, sdx = 0;
        for (int i = 0; i < B; i++) {
            double d = du[(size_t)i * out + j];
            sd += d;
            sdx += d * xhat[(size_t)i * out + j];
        }
        dgamma[j] += (float)sdx;
        dbeta[j] += (float)sd;
        float k0 = gamma[j] * rstd[j];
        float m1 = (float)(sd / B), m2 = (float)(sdx / B);
        for (int i = 0; i < B; i++) {
            size_t ij = (size_t)i * out + j;
            dh[ij] = k0 * (du[ij] - m1 - xhat[ij] * m2);
        }
    }
}

/* Backward through every layer; dx (B,in) += d loss / d x when dx is not NULL. */
void backbone_backward_dx(struct backbone *net, float *dx, const float *demb, int B)
{
    struct bb_priv *p = net->priv;
    const float *P = net->params;
    float *G = net->grads;
    int L = p->n_layers;
    assert(B <= net->max_batch);
    float *g = p->g0, *t = p->g1;
    memcpy(g, demb, sizeof(float) * (size_t)B * net->cfg.emb_dim);
    for (int l = L - 1; l >= 0; l--) {
        struct bb_layer *ly = &p->layers[l];
        int o = ly->out;
        const float *in = l == 0 ? p->x0 : p->layers[l - 1].a;
        /* g = d a_l (B,o). PReLU: du = g * (u > 0 ? 1 : slope); dslope += sum g u [u <= 0]. */
        if (ly->prelu) {
            const float *sl = P + ly->slope;
            float *dsl = G + ly->slope;
            for (int j = 0; j < o; j++) {
                double s = 0;
                for (int i = 0; i < B; i++) {
                    size_t ij = (size_t)i * o + j;
                    float u = ly->u[ij];
                    if (u > 0.0f) {
                        t[ij] = g[ij];
                    } else {
                        t[ij] = sl[j] * g[ij];
                        s += (double)g[ij] * u;
                    }
                }
                dsl[j] += (float)s;
            }
        } else {
            memcpy(t, g, sizeof(float) * (size_t)B * o);
        }
        bn_backward(t, t, ly->xhat, P + ly->gamma, ly->rstd, G + ly->gamma, G + ly->beta, B, o);
        /* Linear: dW (o,in) += dh^T x; db += sum dh; d in = dh W (+ g if residual) */
        matmul_bk_bd_to_kd(G + ly->w, t, in, B, o, ly->in, 1.0f, 1.0f);
        float *db = G + ly->b;
        for (int i = 0; i < B; i++)
            for (int j = 0; j < o; j++) db[j] += t[(size_t)i * o + j];
        if (l > 0) {
            /* residual: g already holds d a_l = the skip path's gradient; accumulate onto it */
            matmul_bk_kd_to_bd(g, t, P + ly->w, B, o, ly->in, 1.0f, ly->residual ? 1.0f : 0.0f);
        } else if (dx) {
            matmul_bk_kd_to_bd(dx, t, P + ly->w, B, o, ly->in, 1.0f, 1.0f);
            if (ly->residual)
                for (size_t k = 0; k < (size_t)B * o; k++) dx[k] += g[k];
        }
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

void backbone_ema(struct backbone *dst, const struct backbone *src, float mu, int with_running)
{
    assert(dst->n_params == src->n_params && dst->n_running == src->n_running);
    ema_array(dst->params, src->params, src->n_params, mu);
    if (with_running) ema_array(dst->running, src->running, src->n_running, mu);
}

uint32_t backbone_digest(const struct backbone *net)
{
    uLong c = crc32(0L, Z_NULL, 0);
    c = crc32(c, (const Bytef *)net->params, (uInt)(sizeof(float) * net->n_params));
    c = crc32(c, (const Bytef *)net->running, (uInt)(sizeof(float) * net->n_running));
    return (uint32_t)c;
}

double backbone_flops_per_sample(const struct backbone *net)
{
    const struct backbone_cfg *c = &net->cfg;
    double f = 0;
    for (int l = 0; l <= c->depth; l++) {
        double in = l == 0 ? c->in_dim : c->hidden;
        double out = l == c->depth ? c->emb_dim : c->hidden;
        f += 2.0 * in * out;
    }
    return f;
}
