/* head_fixture.h - tiny seeded head problems shared by tests/test_head_*.c (STYLE.md 2.9:
 * C = 50, D = 8, B = 4): a key/value param table for head_cfg, unit embeddings, a state
 * snapshot (save/load) so stochastic heads replay the same classes in both perturbed
 * evaluations of a finite-difference check, and the gradient checks themselves. */
#ifndef DCQB_HEAD_FIXTURE_H
#define DCQB_HEAD_FIXTURE_H

#include <string.h>

#include "head.h"
#include "test_util.h"

struct kv {
    const char *k, *v;
};

/* NULL-terminated {key, value} list as cfg->param_ctx */
static inline const char *fx_param(void *ctx, const char *key)
{
    for (const struct kv *p = ctx; p && p->k; p++)
        if (strcmp(p->k, key) == 0) return p->v;
    return NULL;
}

static inline struct head_cfg fx_cfg(int64_t C, int D, int B, double ratio, uint64_t seed,
                              const struct kv *kv, const int32_t *counts)
{
    struct head_cfg c;
    memset(&c, 0, sizeof c);
    c.C = C;
    c.D = D;
    c.max_batch = B;
    c.ratio = ratio;
    c.init_std = 0.01f;
    c.optim.momentum = 0.9f;
    c.optim.weight_decay = 5e-4f;
    c.seed = seed;
    c.class_counts = counts;
    c.param = fx_param;
    c.param_ctx = (void *)kv;
    return c;
}

/* Gaussian-ish rows from splitmix64 (sum of 4 uniforms), normalised when unit != 0. */
static inline void fx_rows(float *x, int n, int D, uint64_t seed, int unit)
{
    for (int i = 0; i < n; i++) {
        double ss = 0;
        for (int d = 0; d < D; d++) {
            double g = 0;
            for (int k = 0; k < 4; k++) g += (double)(dcqb_splitmix64(&seed) >> 11) * 0x1.0p-53;
            x[i * D + d] = (float)((g - 2.0) * 1.7320508);
            ss += (double)x[i * D + d] * x[i * D + d];
        }
        if (unit)
            for (int d = 0; d < D; d++) x[i * D + d] /= (float)sqrt(ss);
    }
}

static inline void *fx_init(const struct head_ops *h, const struct head_cfg *cfg, struct head_req *req)
{
    void *st = calloc(1, h->state_size);
    assert_non_null(st);
    struct dcqb_err err = {0};
    struct head_req r = {0};
    r.kshot = 1;
    int rc = h->init(st, cfg, req ? req : &r, &err);
    if (rc) print_error("%s init: %s\n", h->name, err.msg);
    assert_int_equal(rc, DCQB_OK);
    return st;
}

static inline void fx_free(const struct head_ops *h, void *st)
{
    h->free(st);
    free(st);
}

struct fx_snap {
    void *buf;
    size_t n;
};

static inline struct fx_snap fx_save(const struct head_ops *h, const void *st)
{
    struct fx_snap s = {NULL, h->state_bytes(st)};
    s.buf = malloc(s.n);
    assert_non_null(s.buf);
    assert_int_equal(h->save(st, s.buf), DCQB_OK);
    return s;
}

static inline void fx_load(const struct head_ops *h, void *st, const struct fx_snap *s)
{
    struct dcqb_err err = {0};
    int rc = h->load(st, s->buf, s->n, &err);
    if (rc) print_error("load: %s\n", err.msg);
    assert_int_equal(rc, DCQB_OK);
}

/* Loss of one forward_backward from snapshot `snap` (NULL: current state) with weights W
 * (NULL: as restored). demb (B,D) is zeroed first, then filled. */
static inline double fx_loss(const struct head_ops *h, void *st, const struct fx_snap *snap,
                      const float *W, int64_t C, int D, const float *emb, const float *key,
                      const int32_t *y, int B, float *demb)
{
    struct dcqb_err err = {0};
    if (snap) fx_load(h, st, snap);
    if (W) assert_int_equal(h->set_weights(st, W, C, D, &err), DCQB_OK);
    memset(demb, 0, sizeof(float) * (size_t)B * D);
    float loss = 0;
    int rc = h->forward_backward(st, &loss, demb, emb, key, y, B, &err);
    if (rc) print_error("%s forward_backward: %s\n", h->name, err.msg);
    assert_int_equal(rc, DCQB_OK);
    return loss;
}

/* Central differences on every coordinate of emb (B*D <= 200) and, when W != NULL, on up to
 * `nw` coordinates of W (stride through all of it). eps = 1e-3 * max(|x|, 1) in float (the loss is float: smaller steps drown in rounding)
 * arithmetic; pass if |analytic - numeric| <= 2e-3 * gscale + 1e-2 |numeric|, gscale = the
 * largest analytic entry (float32 loss, STYLE.md 2.9). Returns the worst |error| / tolerance
 * (<= 1 when it passes). */
static inline double fx_gradcheck(const struct head_ops *h, void *st, float *emb, const float *key,
                           const int32_t *y, int B, int D, float *W, int64_t C, int nw)
{
    struct fx_snap snap = fx_save(h, st);
    float *demb = calloc((size_t)B * D, sizeof *demb), *tmp = calloc((size_t)B * D, sizeof *tmp);
    float *dW = W ? calloc((size_t)C * D, sizeof *dW) : NULL;
    assert_non_null(demb);
    fx_loss(h, st, &snap, W, C, D, emb, key, y, B, demb);
    if (W) h->weight_grad(st, dW);
    double worst = 0, gs = 0;
    for (int i = 0; i < B * D; i++) gs = fmax(gs, fabs(demb[i]));
    for (int i = 0; i < B * D; i++) {
        float x0 = emb[i], e = 1e-3f * fmaxf(fabsf(x0), 1.0f);
        emb[i] = x0 + e;
        double lp = fx_loss(h, st, &snap, W, C, D, emb, key, y, B, tmp);
        emb[i] = x0 - e;
        double lm = fx_loss(h, st, &snap, W, C, D, emb, key, y, B, tmp);
        emb[i] = x0;
        double num = (lp - lm) / ((double)(x0 + e) - (double)(x0 - e));
        if (getenv("FX_VERBOSE")) fprintf(stderr, "emb %d: %g %g\n", i, demb[i], num);
        assert_close(demb[i], num, 2e-3 * gs, 1e-2);
        worst = fmax(worst, fabs(demb[i] - num) / (2e-3 * gs + 1e-2 * fabs(num)));
    }
    if (W) {
        double gw = 0;
        for (int64_t j = 0; j < C * D; j++) gw = fmax(gw, fabs(dW[j]));
        int64_t stride = C * D / nw > 0 ? C * D / nw : 1;
        for (int64_t j = 0; j < C * D; j += stride) {
            float x0 = W[j], e = 1e-3f * fmaxf(fabsf(x0), 1.0f);
            W[j] = x0 + e;
            double lp = fx_loss(h, st, &snap, W, C, D, emb, key, y, B, tmp);
            W[j] = x0 - e;
            double lm = fx_loss(h, st, &snap, W, C, D, emb, key, y, B, tmp);
            W[j] = x0;
            double num = (lp - lm) / ((double)(x0 + e) - (double)(x0 - e));
            if (getenv("FX_VERBOSE")) fprintf(stderr, "W %lld: %g %g (%.9g %.9g e %g)\n", (long long)j, dW[j], num, lp, lm, (double)e);
            assert_close(dW[j], num, 2e-3 * gw, 1e-2);
            worst = fmax(worst, fabs(dW[j] - num) / (2e-3 * gw + 1e-2 * fabs(num)));
        }
    }
    free(snap.buf);
    free(demb);
    free(tmp);
    free(dW);
    return worst;
}

#endif
