/* head_fixture.h - tiny seeded head problems shared by tests/test_head*.c (C = 50, D = 8,
 * B = 4): a key/value param table for head_cfg, unit embeddings, a handle opened or the test
 * failed, a state snapshot (save/load) so stochastic heads replay the same classes in both
 * perturbed evaluations of a finite-difference check, and the gradient checks themselves.
 * Everything goes through the head handle (head.h), as the harness does. */
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

/* head_cfg_defaults plus the problem's sizes, ratio, seed, class counts and key table. */
static inline struct head_cfg fx_cfg(int64_t C, int D, int B, double ratio, uint64_t seed,
                                     const struct kv *kv, const int32_t *counts)
{
    struct head_cfg c;
    head_cfg_defaults(&c);
    c.C = C;
    c.D = D;
    c.max_batch = B;
    c.ratio = ratio;
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

/* An open handle on head `name`, or the test fails with the head's message. */
static inline struct head fx_open(const char *name, const struct head_cfg *cfg)
{
    struct head h;
    struct dcqb_err err = {0};
    int rc = head_open(&h, name, cfg, &err);
    if (rc) print_error("%s\n", err.msg);
    assert_int_equal(rc, DCQB_OK);
    return h;
}

struct fx_snap {
    void *buf;
    size_t n;
};

static inline struct fx_snap fx_save(const struct head *h)
{
    struct fx_snap s = {NULL, head_state_bytes(h)};
    s.buf = malloc(s.n);
    assert_non_null(s.buf);
    assert_int_equal(head_save(h, s.buf, NULL), DCQB_OK);
    return s;
}

static inline void fx_load(struct head *h, const struct fx_snap *s)
{
    struct dcqb_err err = {0};
    int rc = head_load(h, s->buf, s->n, &err);
    if (rc) print_error("load: %s\n", err.msg);
    assert_int_equal(rc, DCQB_OK);
}

/* Loss of one forward_backward from snapshot `snap` (NULL: current state) with weights W
 * (NULL: as restored). demb (B,D) is zeroed first, then filled. */
static inline double fx_loss(struct head *h, const struct fx_snap *snap, const float *W,
                             int64_t C, int D, const float *emb, const float *key,
                             const int32_t *y, int B, float *demb)
{
    struct dcqb_err err = {0};
    if (snap) fx_load(h, snap);
    if (W) assert_int_equal(head_set_weights(h, W, C, D, &err), DCQB_OK);
    memset(demb, 0, sizeof(float) * (size_t)B * D);
    float loss = 0;
    int rc = head_forward_backward(h, &loss, demb, emb, key, y, B, &err);
    if (rc) print_error("forward_backward: %s\n", err.msg);
    assert_int_equal(rc, DCQB_OK);
    return loss;
}

/* Central differences on every coordinate of emb (B*D <= 200) and, when W != NULL, on up to
 * `nw` coordinates of W (stride through all of it). Step e = eps * max(|x|, 1) in float (the
 * loss is float: smaller steps drown in rounding); pass if |analytic - numeric| <= tol * gscale
 * + 1e-2 |numeric|, gscale = the largest analytic entry (float32 loss, docs/METHOD.md §7).
 * Returns the worst |error| / tolerance (<= 1 when it passes). */
static inline double fx_gradcheck_tol(struct head *h, float *emb, const float *key,
                                      const int32_t *y, int B, int D, float *W, int64_t C, int nw,
                                      double tol, float eps)
{
    struct fx_snap snap = fx_save(h);
    float *demb = calloc((size_t)B * D, sizeof *demb), *tmp = calloc((size_t)B * D, sizeof *tmp);
    float *dW = W ? calloc((size_t)C * D, sizeof *dW) : NULL;
    assert_non_null(demb);
    fx_loss(h, &snap, W, C, D, emb, key, y, B, demb);
    if (W) assert_int_equal(head_weight_grad(h, dW, NULL), DCQB_OK);
    double worst = 0, gs = 0;
    for (int i = 0; i < B * D; i++) gs = fmax(gs, fabs(demb[i]));
    for (int i = 0; i < B * D; i++) {
        float x0 = emb[i], e = eps * fmaxf(fabsf(x0), 1.0f);
        emb[i] = x0 + e;
        double lp = fx_loss(h, &snap, W, C, D, emb, key, y, B, tmp);
        emb[i] = x0 - e;
        double lm = fx_loss(h, &snap, W, C, D, emb, key, y, B, tmp);
        emb[i] = x0;
        double num = (lp - lm) / ((double)(x0 + e) - (double)(x0 - e));
        if (getenv("FX_VERBOSE")) fprintf(stderr, "emb %d: %g %g\n", i, demb[i], num);
        assert_close(demb[i], num, tol * gs, 1e-2);
        worst = fmax(worst, fabs(demb[i] - num) / (tol * gs + 1e-2 * fabs(num)));
    }
    if (W) {
        double gw = 0;
        for (int64_t j = 0; j < C * D; j++) gw = fmax(gw, fabs(dW[j]));
        int64_t stride = C * D / nw > 0 ? C * D / nw : 1;
        for (int64_t j = 0; j < C * D; j += stride) {
            float x0 = W[j], e = eps * fmaxf(fabsf(x0), 1.0f);
            W[j] = x0 + e;
            double lp = fx_loss(h, &snap, W, C, D, emb, key, y, B, tmp);
            W[j] = x0 - e;
            double lm = fx_loss(h, &snap, W, C, D, emb, key, y, B, tmp);
            W[j] = x0;
            double num = (lp - lm) / ((double)(x0 + e) - (double)(x0 - e));
            if (getenv("FX_VERBOSE"))
                fprintf(stderr, "W %lld: %g %g (%.9g %.9g e %g)\n", (long long)j, dW[j], num, lp,
                        lm, (double)e);
            assert_close(dW[j], num, tol * gw, 1e-2);
            worst = fmax(worst, fabs(dW[j] - num) / (tol * gw + 1e-2 * fabs(num)));
        }
    }
    free(snap.buf);
    free(demb);
    free(tmp);
    free(dW);
    return worst;
}

/* The default check: tol 2e-3, eps 1e-3. */
static inline double fx_gradcheck(struct head *h, float *emb, const float *key, const int32_t *y,
                                  int B, int D, float *W, int64_t C, int nw)
{
    return fx_gradcheck_tol(h, emb, key, y, B, D, W, C, nw, 2e-3, 1e-3f);
}

#endif
