/* test_head_full.c - the `full` head through the head handle: loss against a direct double
 * computation, d emb and d W by central differences in double for each margin type, the fused
 * SGD step by hand, save/load into a head of another seed, label and cost checks, and a tiny
 * training run (backbone -> normalise -> head -> backward -> SGD) that must lower the loss.
 * What every head must do (zeroed free, key errors, determinism, allocation failures) is
 * tests/test_heads.c's. */
#include "head_fixture.h"

#include <stdlib.h>

#include "backbone.h"
#include "margin.h"
#include "ops.h"
#include "optim.h"

enum { B = 4, C = 50, D = 8 };

static float urand(uint64_t *s)
{
    return (float)((dcqb_splitmix64(s) >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f;
}

/* The head's own seed for this file's problems. */
static struct head_cfg base_cfg(const struct kv *kv, int64_t nc, int d, int maxb)
{
    return fx_cfg(nc, d, maxb, 0.1, 1234, kv, NULL);
}

static void unit_rows(float *e, int n, int d, uint64_t seed)
{
    for (int i = 0; i < n * d; i++) e[i] = urand(&seed);
    l2norm_forward(e, NULL, e, n, d, L2NORM_F64_SCALE);
}

/* direct double computation of docs/METHOD.md §3.1 */
static double ref_loss(const struct margin_cfg *mc, const double *W, const double *E,
                       const int32_t *y)
{
    double total = 0;
    for (int i = 0; i < B; i++) {
        double z[C], mx = -INFINITY, s = 0;
        for (int j = 0; j < C; j++) {
            double dot = 0, nn = 0;
            for (int d = 0; d < D; d++) {
                dot += E[i * D + d] * W[j * D + d];
                nn += W[j * D + d] * W[j * D + d];
            }
            double c = dot / sqrt(nn);
            z[j] = j == y[i] ? margin_forward_d(mc, c) : mc->s * c;
            if (z[j] > mx) mx = z[j];
        }
        for (int j = 0; j < C; j++) s += exp(z[j] - mx);
        total += mx + log(s) - z[y[i]];
    }
    return total / B;
}

static void gradcheck(const struct kv *kv, const struct margin_cfg *mc)
{
    struct head_cfg hc = base_cfg(kv, C, D, B);
    hc.init_std = 0.5f;
    struct head st = fx_open("full", &hc);
    assert_int_equal(st.req.pairs, 0);
    float emb[B * D], demb[B * D], dW[C * D], loss;
    int32_t y[B] = {3, 17, 17, 49};
    unit_rows(emb, B, D, 77);
    for (int i = 0; i < B * D; i++) demb[i] = 0.25f; /* accumulates */
    struct dcqb_err err = {0};
    assert_int_equal(head_forward_backward(&st, &loss, demb, emb, NULL, y, B, &err), DCQB_OK);
    head_weight_grad(&st, dW, NULL);
    const float *W = head_class_weights(&st);
    static double Wd[C * D], Ed[B * D];
    for (int i = 0; i < C * D; i++) Wd[i] = W[i];
    for (int i = 0; i < B * D; i++) Ed[i] = emb[i];
    double l0 = ref_loss(mc, Wd, Ed, y);
    assert_close(loss, l0, 1e-4, 1e-5);
    /* skip kinks: no target cosine near the ArcFace guard or |cos| = 1 */
    for (int i = 0; i < B; i++) {
        double dot = 0, nn = 0;
        for (int d = 0; d < D; d++) {
            dot += Ed[i * D + d] * Wd[y[i] * D + d];
            nn += Wd[y[i] * D + d] * Wd[y[i] * D + d];
        }
        double c = dot / sqrt(nn);
        assert_true(fabs(c) < 0.99 && fabs(c - cos(3.14159265358979 - mc->m2)) > 1e-2);
    }
    double eps = 1e-6, gmax = 0;
    for (int i = 0; i < B * D; i++) {
        double k = Ed[i];
        Ed[i] = k + eps;
        double fp = ref_loss(mc, Wd, Ed, y);
        Ed[i] = k - eps;
        double fm = ref_loss(mc, Wd, Ed, y);
        Ed[i] = k;
        assert_close(demb[i] - 0.25f, (fp - fm) / (2 * eps), 2e-5, 1e-2);
        gmax = fmax(gmax, fabs(demb[i] - 0.25f));
    }
    assert_true(gmax > 1e-2); /* the check is not vacuous */
    for (int i = 0; i < C * D; i++) {
        double k = Wd[i];
        Wd[i] = k + eps;
        double fp = ref_loss(mc, Wd, Ed, y);
        Wd[i] = k - eps;
        double fm = ref_loss(mc, Wd, Ed, y);
        Wd[i] = k;
        assert_close(dW[i], (fp - fm) / (2 * eps), 2e-5, 1e-2);
    }
    head_close(&st);
}

static void test_gradcheck_cosface_default(void **state)
{
    (void)state;
    struct margin_cfg mc;
    margin_cfg_set(&mc, MARGIN_COSFACE, 64.0f, 0.4f); /* the head's defaults */
    gradcheck(NULL, &mc);
}

static void test_gradcheck_arcface(void **state)
{
    (void)state;
    static const struct kv kv[] = {{"margin", "arcface"}, {"s", "32"}, {NULL, NULL}};
    struct margin_cfg mc;
    margin_cfg_set(&mc, MARGIN_ARCFACE, 32.0f, 0.5f); /* arcface default m = 0.5 */
    gradcheck(kv, &mc);
}

static void test_gradcheck_combined_and_none(void **state)
{
    (void)state;
    static const struct kv kv[] = {{"margin", "combined"}, {"s", "16"}, {"m1", "1.2"},
                                   {"m2", "0.2"}, {"m3", "0.1"}, {NULL, NULL}};
    struct margin_cfg mc;
    margin_cfg_set(&mc, MARGIN_COMBINED, 16.0f, 0.0f);
    mc.m1 = 1.2f, mc.m2 = 0.2f, mc.m3 = 0.1f;
    gradcheck(kv, &mc);
    static const struct kv kv2[] = {{"margin", "none"}, {NULL, NULL}};
    margin_cfg_set(&mc, MARGIN_NONE, 64.0f, 0.0f);
    gradcheck(kv2, &mc);
}

static void test_step_by_hand_and_norms(void **state)
{
    (void)state;
    struct head_cfg hc = base_cfg(NULL, C, D, B);
    hc.init_std = 0.3f;
    hc.optim.weight_decay = 0.01f;
    struct head st = fx_open("full", &hc);
    float emb[B * D], demb[B * D] = {0}, g[C * D], W0[C * D], loss;
    int32_t y[B] = {0, 1, 2, 3};
    unit_rows(emb, B, D, 5);
    memcpy(W0, head_class_weights(&st), sizeof W0);
    assert_int_equal(head_forward_backward(&st, &loss, demb, emb, NULL, y, B, NULL), 0);
    head_weight_grad(&st, g, NULL);
    assert_int_equal(head_step(&st, 0.1f, 0, NULL), DCQB_OK);
    const float *W1 = head_class_weights(&st);
    for (int i = 0; i < C * D; i++) /* first step: v = g + wd w, w -= lr v */
        assert_close(W1[i], W0[i] - 0.1f * (g[i] + 0.01f * W0[i]), 1e-7, 1e-5);
    /* the next forward uses the new norms */
    struct margin_cfg mc;
    margin_cfg_set(&mc, MARGIN_COSFACE, 64.0f, 0.4f);
    static double Wd[C * D], Ed[B * D];
    for (int i = 0; i < C * D; i++) Wd[i] = W1[i];
    for (int i = 0; i < B * D; i++) Ed[i] = emb[i];
    assert_int_equal(head_forward_backward(&st, &loss, demb, emb, NULL, y, B, NULL), 0);
    assert_close(loss, ref_loss(&mc, Wd, Ed, y), 1e-4, 1e-5);
    /* step without forward_backward is refused */
    assert_int_equal(head_step(&st, 0.1f, 1, NULL), DCQB_OK);
    assert_int_equal(head_step(&st, 0.1f, 2, NULL), DCQB_EINVAL);
    head_close(&st);
}

static void test_save_load_digest_determinism(void **state)
{
    (void)state;
    struct head_cfg hc = base_cfg(NULL, C, D, B);
    struct head a = fx_open("full", &hc), b = fx_open("full", &hc);
    assert_int_equal(head_digest(&a), head_digest(&b));
    float emb[B * D], demb[B * D] = {0}, loss, loss2;
    int32_t y[B] = {9, 8, 7, 6};
    unit_rows(emb, B, D, 6);
    for (int t = 0; t < 2; t++) {
        head_forward_backward(&a, &loss, demb, emb, NULL, y, B, NULL);
        head_step(&a, 0.1f, t, NULL);
        head_forward_backward(&b, &loss, demb, emb, NULL, y, B, NULL);
        head_step(&b, 0.1f, t, NULL);
    }
    uint32_t d = head_digest(&a);
    assert_int_equal(d, head_digest(&b));
    size_t n = head_state_bytes(&a);
    assert_true(n >= 2 * sizeof(float) * C * D);
    char *buf = malloc(n);
    assert_non_null(buf);
    assert_int_equal(head_save(&a, buf, NULL), DCQB_OK);
    head_forward_backward(&a, &loss, demb, emb, NULL, y, B, NULL);
    head_step(&a, 0.1f, 2, NULL);
    assert_int_not_equal(head_digest(&a), d);
    /* into a head with another seed: digest and the next loss reproduce */
    hc.seed = 99;
    struct head c = fx_open("full", &hc);
    assert_int_not_equal(head_digest(&c), d);
    assert_int_equal(head_load(&c, buf, n, NULL), DCQB_OK);
    assert_int_equal(head_digest(&c), d);
    head_forward_backward(&b, &loss, demb, emb, NULL, y, B, NULL);
    head_forward_backward(&c, &loss2, demb, emb, NULL, y, B, NULL);
    assert_true(loss == loss2);
    /* corrupt / mismatched buffers */
    struct dcqb_err err = {0};
    buf[0] ^= 1;
    assert_int_equal(head_load(&c, buf, n, &err), DCQB_EFORMAT);
    buf[0] ^= 1;
    assert_int_equal(head_load(&c, buf, n - 4, &err), DCQB_EFORMAT);
    free(buf);
    head_close(&a);
    head_close(&b);
    head_close(&c);
}

/* Labels outside [0, C) are refused naming the label; cost figures. (Key errors, the registry
 * and zeroed frees: tests/test_heads.c, for every head.) */
static void test_labels_and_cost(void **state)
{
    (void)state;
    struct head_cfg hc = base_cfg(NULL, C, D, B);
    struct head st = fx_open("full", &hc);
    struct dcqb_err err = {0};
    float emb[B * D], demb[B * D] = {0}, loss;
    int32_t y[B] = {0, 1, 50, 2};
    unit_rows(emb, B, D, 1);
    assert_int_equal(head_forward_backward(&st, &loss, demb, emb, NULL, y, B, &err),
                     DCQB_EINVAL);
    assert_non_null(strstr(err.msg, "full: label 50"));
    struct head_cost cost;
    head_cost(&st, 256, &cost);
    assert_int_equal(cost.active_classes, C);
    assert_true(cost.flops >= 6.0 * 256 * C * D);
    /* W, V, inv, a logits column, 2 block statistics per row per 1024 classes (no dW array) */
    assert_close(cost.per_class_bytes, 4.0 * (2 * D + 1 + 256 + 2.0 * 256 / 1024), 0, 0);
    head_close(&st);
}

/* Five separable clusters in R^8: the loss of backbone + full head must fall. */
static void test_tiny_training_lowers_loss(void **state)
{
    (void)state;
    enum { NC = 5, IN = 8, BT = 20, STEPS = 60 };
    struct backbone_cfg bc;
    backbone_cfg_defaults(&bc);
    bc.in_dim = IN, bc.hidden = 16, bc.depth = 1, bc.emb_dim = 8;
    struct backbone net = {0};
    assert_int_equal(backbone_init(&net, &bc, BT, 3, NULL), DCQB_OK);
    static const struct kv kv[] = {{"s", "16"}, {"m", "0.1"}, {NULL, NULL}};
    struct head_cfg hc = base_cfg(kv, NC, 8, BT);
    struct head st = fx_open("full", &hc);
    float *mom = calloc(net.n_params, sizeof(float));
    assert_non_null(mom);
    float centres[NC * IN], x[BT * IN], emb[BT * 8], u[BT * 8], nrm[BT], du[BT * 8],
        de[BT * 8], loss, first = 0, last = 0;
    int32_t y[BT];
    uint64_t r = 11;
    for (int i = 0; i < NC * IN; i++) centres[i] = 2.0f * urand(&r);
    struct optim_cfg oc = {0.9f, 5e-4f};
    for (int t = 0; t < STEPS; t++) {
        for (int i = 0; i < BT; i++) {
            y[i] = (int32_t)(dcqb_splitmix64(&r) % NC);
            for (int k = 0; k < IN; k++) x[i * IN + k] = centres[y[i] * IN + k] + 0.3f * urand(&r);
        }
        backbone_zero_grad(&net);
        backbone_forward(&net, emb, x, BT, 1);
        l2norm_forward(u, nrm, emb, BT, 8, L2NORM_F32_SCALE);
        memset(du, 0, sizeof du);
        memset(de, 0, sizeof de);
        assert_int_equal(head_forward_backward(&st, &loss, du, u, NULL, y, BT, NULL), 0);
        l2norm_backward(de, du, u, nrm, BT, 8);
        backbone_backward(&net, de, BT);
        sgd_step(net.params, mom, net.grads, net.n_params, 0.05f, &oc);
        assert_int_equal(head_step(&st, 0.05f, t, NULL), 0);
        if (t < 5) first += loss / 5;
        if (t >= STEPS - 5) last += loss / 5;
    }
    if (!(last < 0.5f * first)) print_error("loss %g -> %g\n", (double)first, (double)last);
    assert_true(last < 0.5f * first);
    free(mom);
    head_close(&st);
    backbone_free(&net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradcheck_cosface_default),
        cmocka_unit_test(test_gradcheck_arcface),
        cmocka_unit_test(test_gradcheck_combined_and_none),
        cmocka_unit_test(test_step_by_hand_and_norms),
        cmocka_unit_test(test_save_load_digest_determinism),
        cmocka_unit_test(test_labels_and_cost),
        cmocka_unit_test(test_tiny_training_lowers_loss),
    };
    return cmocka_run_group_tests_name("head_full", tests, NULL, NULL);
}
