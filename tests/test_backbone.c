/* test_backbone.c - the MLP backbone against an independent double-precision implementation
 * written from the documented arena layout: forward (train and eval), and every parameter
 * tensor's gradient (Linear W/b, BN gamma/beta in train mode, PReLU slopes, the residual path)
 * plus the input gradient by central differences in double. Copy, EMA, digest, free. */
#include "test_util.h"

#include <stdlib.h>

#include "backbone.h"
#include "pool.h"

enum { B = 4 };

static float urand(uint64_t *s)
{
    return (float)((dcqb_splitmix64(s) >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f;
}

static void tiny_cfg(struct backbone_cfg *c, int residual)
{
    backbone_cfg_defaults(c);
    c->in_dim = 6;
    c->hidden = 8;
    c->depth = 2;
    c->emb_dim = 5;
    c->residual = residual;
}

/* Double reference, train-mode BN (batch statistics), layout of backbone.c's header comment. */
static void ref_forward(const struct backbone_cfg *c, const double *P, const double *x, int n,
                        double *emb, int train, const float *run)
{
    double a[B * 64], h[B * 64];
    int L = c->depth + 1;
    size_t o = 0, orun = 0;
    int in_w = c->in_dim;
    for (int i = 0; i < n * in_w; i++) a[i] = x[i];
    for (int l = 0; l < L; l++) {
        int out = l == L - 1 ? c->emb_dim : c->hidden;
        int prelu = l < L - 1;
        const double *W = P + o, *b = W + (size_t)out * in_w, *g = b + out, *be = g + out;
        const double *sl = be + out;
        o += (size_t)out * in_w + (size_t)out * (prelu ? 4 : 3);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < out; j++) {
                double s = b[j];
                for (int k = 0; k < in_w; k++) s += a[i * in_w + k] * W[j * in_w + k];
                h[i * out + j] = s;
            }
        for (int j = 0; j < out; j++) {
            double m = 0, v = 0;
            if (train) {
                for (int i = 0; i < n; i++) m += h[i * out + j];
                m /= n;
                for (int i = 0; i < n; i++) v += (h[i * out + j] - m) * (h[i * out + j] - m);
                v /= n;
            } else {
                m = run[orun + j];
                v = run[orun + out + j];
            }
            for (int i = 0; i < n; i++)
                h[i * out + j] = g[j] * (h[i * out + j] - m) / sqrt(v + c->bn_eps) + be[j];
        }
        orun += 2 * (size_t)out;
        if (!prelu) {
            for (int i = 0; i < n * out; i++) emb[i] = h[i];
            return;
        }
        int res = c->residual && in_w == out;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < out; j++) {
                double u = h[i * out + j];
                double v = u > 0 ? u : sl[j] * u;
                h[i * out + j] = v + (res ? a[i * in_w + j] : 0.0);
            }
        for (int i = 0; i < n * out; i++) a[i] = h[i];
        in_w = out;
    }
}

static double ref_loss(const struct backbone_cfg *c, const double *P, const double *x,
                       const float *r)
{
    double emb[B * 64], s = 0;
    ref_forward(c, P, x, B, emb, 1, NULL);
    for (int i = 0; i < B * c->emb_dim; i++) s += r[i] * emb[i];
    return s;
}

static void gradcheck(int residual, int depth, int in)
{
    struct backbone_cfg c;
    tiny_cfg(&c, residual);
    c.depth = depth;
    c.in_dim = in; /* in = hidden = 8: the first block is residual too */
    struct backbone net = {0};
    assert_int_equal(backbone_init(&net, &c, B, 7, NULL), DCQB_OK);
    uint64_t s = 99;
    /* perturb gamma/beta/slopes away from their init so every term matters */
    for (size_t i = 0; i < net.n_params; i++) net.params[i] += 0.1f * urand(&s);
    float x[B * 8], r[B * 5], emb[B * 5], dx[B * 8] = {0};
    for (int i = 0; i < B * in; i++) x[i] = 2.0f * urand(&s);
    for (int i = 0; i < B * 5; i++) r[i] = urand(&s);
    double *P = malloc(sizeof(double) * net.n_params), xd[B * 8], embd[B * 5];
    assert_non_null(P);
    for (size_t i = 0; i < net.n_params; i++) P[i] = net.params[i];
    for (int i = 0; i < B * in; i++) xd[i] = x[i];

    backbone_zero_grad(&net);
    backbone_forward(&net, emb, x, B, 1);
    ref_forward(&c, P, xd, B, embd, 1, NULL);
    for (int i = 0; i < B * 5; i++) assert_close(emb[i], embd[i], 1e-4, 1e-4);
    backbone_backward_dx(&net, dx, r, B); /* loss = sum r . emb, so demb = r */

    double eps = 1e-6;
    for (size_t i = 0; i < net.n_params; i++) { /* every parameter: the net is tiny */
        double keep = P[i];
        P[i] = keep + eps;
        double fp = ref_loss(&c, P, xd, r);
        P[i] = keep - eps;
        double fm = ref_loss(&c, P, xd, r);
        P[i] = keep;
        double num = (fp - fm) / (2 * eps);
        if (!(fabs(net.grads[i] - num) <= 1e-4 + 2e-3 * fabs(num)))
            print_error("param %zu: analytic %.8g numeric %.8g\n", i, (double)net.grads[i], num);
        assert_close(net.grads[i], num, 1e-4, 2e-3);
    }
    for (int i = 0; i < B * in; i++) {
        double keep = xd[i];
        xd[i] = keep + eps;
        double fp = ref_loss(&c, P, xd, r);
        xd[i] = keep - eps;
        double fm = ref_loss(&c, P, xd, r);
        xd[i] = keep;
        assert_close(dx[i], (fp - fm) / (2 * eps), 1e-4, 2e-3);
    }
    /* eval mode against the reference with the running stats */
    backbone_forward(&net, emb, x, B, 0);
    ref_forward(&c, P, xd, B, embd, 0, net.running);
    for (int i = 0; i < B * 5; i++) assert_close(emb[i], embd[i], 1e-4, 1e-4);
    free(P);
    backbone_free(&net);
}

static void test_gradcheck_residual(void **state) { (void)state; gradcheck(1, 2, 6); }
static void test_gradcheck_plain(void **state) { (void)state; gradcheck(0, 3, 6); }
static void test_gradcheck_depth0(void **state) { (void)state; gradcheck(1, 0, 6); }
static void test_gradcheck_residual_input(void **state) { (void)state; gradcheck(1, 2, 8); }

static void test_running_stats_and_eval_chunks(void **state)
{
    (void)state;
    struct backbone_cfg c;
    tiny_cfg(&c, 1);
    struct backbone net = {0};
    assert_int_equal(backbone_init(&net, &c, B, 3, NULL), DCQB_OK);
    float x[3 * B * 6], emb[3 * B * 5], one[5];
    uint64_t s = 5;
    for (int i = 0; i < 3 * B * 6; i++) x[i] = urand(&s) + 0.5f;
    /* running mean of the first BN after one train step: 0.1 * batch mean of x W^T + b */
    backbone_forward(&net, emb, x, B, 1);
    for (int j = 0; j < c.hidden; j++) {
        double m = 0;
        for (int i = 0; i < B; i++) {
            double h = net.params[6 * 8 + j];
            for (int k = 0; k < 6; k++) h += (double)x[i * 6 + k] * net.params[j * 6 + k];
            m += h / B;
        }
        assert_close(net.running[j], 0.1 * m, 1e-6, 1e-4);
    }
    uint32_t d0 = backbone_digest(&net);
    /* eval over 3 * max_batch rows in chunks equals row by row; eval touches no stats */
    backbone_forward(&net, emb, x, 3 * B, 0);
    for (int i = 0; i < 3 * B; i++) {
        backbone_forward(&net, one, x + i * 6, 1, 0);
        assert_close_array(one, emb + i * 5, 5, 1e-6, 1e-5);
    }
    assert_int_equal(backbone_digest(&net), d0);
    backbone_free(&net);
}

static void test_copy_ema_digest(void **state)
{
    (void)state;
    struct backbone_cfg c;
    tiny_cfg(&c, 1);
    struct backbone a = {0}, b = {0}, a2 = {0};
    assert_int_equal(backbone_init(&a, &c, B, 1, NULL), DCQB_OK);
    assert_int_equal(backbone_init(&a2, &c, B, 1, NULL), DCQB_OK);
    assert_int_equal(backbone_init(&b, &c, 2 * B, 2, NULL), DCQB_OK);
    assert_int_equal(backbone_digest(&a), backbone_digest(&a2)); /* same seed, same bytes */
    assert_int_not_equal(backbone_digest(&a), backbone_digest(&b));
    for (size_t i = 0; i < a.n_running; i++) a.running[i] += 0.01f * (float)i;
    /* mu = 1 leaves dst */
    uint32_t db = backbone_digest(&b);
    backbone_ema(&b, &a, 1.0f, 1);
    assert_int_equal(backbone_digest(&b), db);
    /* mu = 0.5 is the midpoint */
    float w0 = b.params[3];
    backbone_ema(&b, &a, 0.5f, 0);
    assert_close(b.params[3], 0.5 * w0 + 0.5 * a.params[3], 1e-7, 0);
    assert_false(memcmp(b.running, a.running, sizeof(float) * a.n_running) == 0);
    /* mu = 0 is an exact copy */
    backbone_ema(&b, &a, 0.0f, 1);
    assert_true(memcmp(b.params, a.params, sizeof(float) * a.n_params) == 0);
    assert_int_equal(backbone_digest(&b), backbone_digest(&a));
    /* copy */
    assert_int_equal(backbone_copy(&a2, &a, NULL), DCQB_OK);
    assert_int_equal(backbone_digest(&a2), backbone_digest(&a));
    struct backbone_cfg c2 = c;
    c2.hidden = 9;
    struct backbone o = {0};
    struct dcqb_err err = {0};
    assert_int_equal(backbone_init(&o, &c2, B, 1, NULL), DCQB_OK);
    assert_int_equal(backbone_copy(&o, &a, &err), DCQB_EINVAL);
    assert_int_equal(err.code, DCQB_EINVAL);
    backbone_free(&o);
    backbone_free(&a);
    backbone_free(&a2);
    backbone_free(&b);
    backbone_free(&b); /* twice: zeroed */
    backbone_free(NULL);
}

/* The defaults with these widths and depth. */
static void sized_cfg(struct backbone_cfg *c, int in, int hidden, int depth, int emb)
{
    backbone_cfg_defaults(c);
    c->in_dim = in;
    c->hidden = hidden;
    c->depth = depth;
    c->emb_dim = emb;
}

/* The layer shapes: blocks in -> hidden -> ... -> emb, a block residual only when its widths
 * match and cfg.residual; the parameter count and the FLOP count follow from them. */
static void test_layer_shapes(void **state)
{
    (void)state;
    struct backbone_cfg c;
    sized_cfg(&c, 64, 96, 3, 32);
    const struct backbone_layer_shape want[4] = {
        {64, 96, 1, 0}, {96, 96, 1, 1}, {96, 96, 1, 1}, {96, 32, 0, 0}};
    size_t np = 0;
    double fl = 0;
    for (int l = 0; l <= c.depth; l++) {
        struct backbone_layer_shape s = backbone_layer_shape(&c, l);
        assert_int_equal(s.in, want[l].in);
        assert_int_equal(s.out, want[l].out);
        assert_int_equal(s.block, want[l].block);
        assert_int_equal(s.residual, want[l].residual);
        np += (size_t)s.out * s.in + (size_t)s.out * (s.block ? 4 : 3); /* W b gamma beta (slope) */
        fl += 2.0 * s.in * s.out;
    }
    c.residual = 0;
    assert_int_equal(backbone_layer_shape(&c, 1).residual, 0);
    c.residual = 1;
    struct backbone net;
    struct dcqb_err err = {0};
    assert_int_equal(backbone_init(&net, &c, 8, 1, &err), DCQB_OK);
    assert_int_equal(net.n_params, np);
    assert_true(backbone_flops_per_sample(&net) == fl);
    backbone_free(&net);
}

static void test_defaults_and_errors(void **state)
{
    (void)state;
    struct backbone_cfg c;
    backbone_cfg_defaults(&c);
    assert_int_equal(c.in_dim, 128);
    assert_int_equal(c.hidden, 512);
    assert_int_equal(c.depth, 2);
    assert_int_equal(c.emb_dim, 128);
    struct backbone net = {0};
    assert_int_equal(backbone_init(&net, &c, 8, 1, NULL), DCQB_OK);
    assert_close(backbone_flops_per_sample(&net), 2.0 * (128 * 512 + 512 * 512 + 512 * 128), 0, 0);
    assert_int_equal(net.n_params, (size_t)(128 * 512 + 4 * 512 + 512 * 512 + 4 * 512 +
                                            512 * 128 + 3 * 128));
    backbone_free(&net);
    c.emb_dim = 0;
    struct dcqb_err err = {0};
    assert_int_equal(backbone_init(&net, &c, 8, 1, &err), DCQB_EINVAL);
    assert_non_null(strstr(err.msg, "emb_dim=0"));
    backbone_free(&net);
}

/* One forward + backward (with dx) of a net of width 40 (channel shares 16 | 24, and 16 | 16 |
 * 8 on three threads: not a multiple of the split) on `pool`; the outputs into `out`. */
static void pooled_step(struct pool *pool, float *out, size_t n_out)
{
    struct backbone_cfg c;
    sized_cfg(&c, 24, 40, 2, 20);
    enum { NB = 8 };
    struct backbone net = {0};
    assert_int_equal(backbone_init(&net, &c, NB, 11, NULL), DCQB_OK);
    net.pool = pool;
    float x[NB * 24], emb[NB * 20], demb[NB * 20], dx[NB * 24] = {0}, ev[NB * 20];
    uint64_t s = 17;
    for (int i = 0; i < NB * 24; i++) x[i] = urand(&s);
    for (int i = 0; i < NB * 20; i++) demb[i] = urand(&s);
    backbone_forward(&net, emb, x, NB, 1);
    backbone_zero_grad(&net);
    backbone_backward_dx(&net, dx, demb, NB);
    backbone_forward(&net, ev, x, NB, 0);
    size_t k = 0;
    for (int i = 0; i < NB * 20; i++) out[k++] = emb[i];
    for (int i = 0; i < NB * 20; i++) out[k++] = ev[i];
    for (int i = 0; i < NB * 24; i++) out[k++] = dx[i];
    for (size_t i = 0; i < net.n_params; i++) out[k++] = net.grads[i];
    for (size_t i = 0; i < net.n_running; i++) out[k++] = net.running[i];
    assert_true(k <= n_out);
    for (; k < n_out; k++) out[k] = 0;
    backbone_free(&net);
}

/* The passes split by channel over a pool compute what the serial passes compute (each channel
 * by the same code; only the GEMM's blocking differs, hence a tolerance), and a pool of a given
 * size gives the same bits every time (the split depends on the size only). */
static void test_pool_split_matches_serial(void **state)
{
    (void)state;
    enum { N_OUT = 8192 };
    static float serial[N_OUT], a[N_OUT], b[N_OUT];
    pooled_step(NULL, serial, N_OUT);
    for (int n = 2; n <= 3; n++) {
        struct pool p;
        assert_int_equal(pool_init(&p, n, NULL), DCQB_OK);
        pooled_step(&p, a, N_OUT);
        pooled_step(&p, b, N_OUT);
        assert_memory_equal(a, b, sizeof a);
        assert_close_array(a, serial, N_OUT, 1e-5, 1e-4);
        pool_free(&p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradcheck_residual),
        cmocka_unit_test(test_gradcheck_plain),
        cmocka_unit_test(test_gradcheck_depth0),
        cmocka_unit_test(test_gradcheck_residual_input),
        cmocka_unit_test(test_running_stats_and_eval_chunks),
        cmocka_unit_test(test_copy_ema_digest),
        cmocka_unit_test(test_defaults_and_errors),
        cmocka_unit_test(test_layer_shapes),
        cmocka_unit_test(test_pool_split_matches_serial),
    };
    return cmocka_run_group_tests_name("backbone", tests, NULL, NULL);
}
