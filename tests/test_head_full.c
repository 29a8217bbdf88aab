/* test_head_full.c - the `full` head through struct head_ops: loss against a direct double
 * computation, d emb and d W by central differences in double for each margin type, the fused
 * SGD step by hand, save/load, determinism, registry and key helpers, and a tiny training run
 * (backbone -> normalise -> head -> backward -> SGD) that must lower the loss. */
#include "test_util.h"

#include <stdlib.h>

#include "backbone.h"
#include "heads/full.h"
#include "margin.h"
#include "ops.h"
#include "optim.h"

enum { B = 4, C = 50, D = 8 };

static float urand(uint64_t *s)
{
    return (float)((dcqb_splitmix64(s) >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f;
}

struct kv {
    const char *k[8], *v[8];
    int n, used;
};

static const char *kv_get(void *ctx, const char *key)
{
    struct kv *p = ctx;
    for (int i = 0; i < p->n; i++)
        if (strcmp(p->k[i], key) == 0) {
            p->used++;
            return p->v[i];
        }
    return NULL;
}

static void base_cfg(struct head_cfg *hc, struct kv *kv, int64_t nc, int d, int maxb)
{
    memset(hc, 0, sizeof *hc);
    hc->C = nc;
    hc->D = d;
    hc->max_batch = maxb;
    hc->init_std = 0.01f;
    hc->optim.momentum = 0.9f;
    hc->optim.weight_decay = 5e-4f;
    hc->seed = 1234;
    hc->param = kv_get;
    hc->param_ctx = kv;
}

static void *head_new(const struct head_cfg *hc)
{
    void *st = calloc(1, head_full.state_size);
    assert_non_null(st);
    struct head_req req;
    struct dcqb_err err = {0};
    int rc = head_full.init(st, hc, &req, &err);
    if (rc) print_error("init: %s\n", err.msg);
    assert_int_equal(rc, DCQB_OK);
    assert_int_equal(req.pairs, 0);
    return st;
}

static void head_del(void *st)
{
    head_full.free(st);
    free(st);
}

static void unit_rows(float *e, int n, int d, uint64_t seed)
{
    for (int i = 0; i < n * d; i++) e[i] = urand(&seed);
    l2norm_forward(e, NULL, e, n, d, L2NORM_F64_SCALE);
}

/* direct double computation of REFERENCE.md 4 */
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

static void gradcheck(struct kv *kv, const struct margin_cfg *mc)
{
    struct head_cfg hc;
    base_cfg(&hc, kv, C, D, B);
    hc.init_std = 0.5f;
    void *st = head_new(&hc);
    float emb[B * D], demb[B * D], dW[C * D], loss;
    int32_t y[B] = {3, 17, 17, 49};
    unit_rows(emb, B, D, 77);
    for (int i = 0; i < B * D; i++) demb[i] = 0.25f; /* accumulates */
    struct dcqb_err err = {0};
    assert_int_equal(head_full.forward_backward(st, &loss, demb, emb, NULL, y, B, &err), DCQB_OK);
    head_full_grad_w(st, dW);
    const float *W = head_full.class_weights(st);
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
    head_del(st);
}

static void test_gradcheck_cosface_default(void **state)
{
    (void)state;
    struct kv kv = {.n = 0};
    struct margin_cfg mc;
    margin_cfg_set(&mc, MARGIN_COSFACE, 64.0f, 0.4f); /* the head's defaults */
    gradcheck(&kv, &mc);
}

static void test_gradcheck_arcface(void **state)
{
    (void)state;
    struct kv kv = {.k = {"margin", "s"}, .v = {"arcface", "32"}, .n = 2};
    struct margin_cfg mc;
    margin_cfg_set(&mc, MARGIN_ARCFACE, 32.0f, 0.5f); /* arcface default m = 0.5 */
    gradcheck(&kv, &mc);
    assert_int_equal(kv.used, 2);
}

static void test_gradcheck_combined_and_none(void **state)
{
    (void)state;
    struct kv kv = {.k = {"margin", "s", "m1", "m2", "m3"},
                    .v = {"combined", "16", "1.2", "0.2", "0.1"},
                    .n = 5};
    struct margin_cfg mc;
    margin_cfg_set(&mc, MARGIN_COMBINED, 16.0f, 0.0f);
    mc.m1 = 1.2f, mc.m2 = 0.2f, mc.m3 = 0.1f;
    gradcheck(&kv, &mc);
    struct kv kv2 = {.k = {"margin"}, .v = {"none"}, .n = 1};
    margin_cfg_set(&mc, MARGIN_NONE, 64.0f, 0.0f);
    gradcheck(&kv2, &mc);
}

static void test_step_by_hand_and_norms(void **state)
{
    (void)state;
    struct kv kv = {.n = 0};
    struct head_cfg hc;
    base_cfg(&hc, &kv, C, D, B);
    hc.init_std = 0.3f;
    hc.optim.weight_decay = 0.01f;
    void *st = head_new(&hc);
    float emb[B * D], demb[B * D] = {0}, g[C * D], W0[C * D], loss;
    int32_t y[B] = {0, 1, 2, 3};
    unit_rows(emb, B, D, 5);
    memcpy(W0, head_full.class_weights(st), sizeof W0);
    assert_int_equal(head_full.forward_backward(st, &loss, demb, emb, NULL, y, B, NULL), 0);
    head_full_grad_w(st, g);
    assert_int_equal(head_full.step(st, 0.1f, 0, NULL), DCQB_OK);
    const float *W1 = head_full.class_weights(st);
    for (int i = 0; i < C * D; i++) /* first step: v = g + wd w, w -= lr v */
        assert_close(W1[i], W0[i] - 0.1f * (g[i] + 0.01f * W0[i]), 1e-7, 1e-5);
    /* the next forward uses the new norms */
    struct margin_cfg mc;
    margin_cfg_set(&mc, MARGIN_COSFACE, 64.0f, 0.4f);
    static double Wd[C * D], Ed[B * D];
    for (int i = 0; i < C * D; i++) Wd[i] = W1[i];
    for (int i = 0; i < B * D; i++) Ed[i] = emb[i];
    assert_int_equal(head_full.forward_backward(st, &loss, demb, emb, NULL, y, B, NULL), 0);
    assert_close(loss, ref_loss(&mc, Wd, Ed, y), 1e-4, 1e-5);
    /* step without forward_backward is refused */
    assert_int_equal(head_full.step(st, 0.1f, 1, NULL), DCQB_OK);
    assert_int_equal(head_full.step(st, 0.1f, 2, NULL), DCQB_EINVAL);
    head_del(st);
}

static void test_save_load_digest_determinism(void **state)
{
    (void)state;
    struct kv kv = {.n = 0};
    struct head_cfg hc;
    base_cfg(&hc, &kv, C, D, B);
    void *a = head_new(&hc), *b = head_new(&hc);
    assert_int_equal(head_full.digest(a), head_full.digest(b));
    float emb[B * D], demb[B * D] = {0}, loss, loss2;
    int32_t y[B] = {9, 8, 7, 6};
    unit_rows(emb, B, D, 6);
    for (int t = 0; t < 2; t++) {
        head_full.forward_backward(a, &loss, demb, emb, NULL, y, B, NULL);
        head_full.step(a, 0.1f, t, NULL);
        head_full.forward_backward(b, &loss, demb, emb, NULL, y, B, NULL);
        head_full.step(b, 0.1f, t, NULL);
    }
    uint32_t d = head_full.digest(a);
    assert_int_equal(d, head_full.digest(b));
    size_t n = head_full.state_bytes(a);
    assert_true(n >= 2 * sizeof(float) * C * D);
    char *buf = malloc(n);
    assert_non_null(buf);
    assert_int_equal(head_full.save(a, buf), DCQB_OK);
    head_full.forward_backward(a, &loss, demb, emb, NULL, y, B, NULL);
    head_full.step(a, 0.1f, 2, NULL);
    assert_int_not_equal(head_full.digest(a), d);
    /* into a head with another seed: digest and the next loss reproduce */
    hc.seed = 99;
    void *c = head_new(&hc);
    assert_int_not_equal(head_full.digest(c), d);
    assert_int_equal(head_full.load(c, buf, n, NULL), DCQB_OK);
    assert_int_equal(head_full.digest(c), d);
    head_full.forward_backward(b, &loss, demb, emb, NULL, y, B, NULL);
    head_full.forward_backward(c, &loss2, demb, emb, NULL, y, B, NULL);
    assert_true(loss == loss2);
    /* corrupt / mismatched buffers */
    struct dcqb_err err = {0};
    buf[0] ^= 1;
    assert_int_equal(head_full.load(c, buf, n, &err), DCQB_EFORMAT);
    buf[0] ^= 1;
    assert_int_equal(head_full.load(c, buf, n - 4, &err), DCQB_EFORMAT);
    free(buf);
    head_del(a);
    head_del(b);
    head_del(c);
}

static void test_errors_cost_registry(void **state)
{
    (void)state;
    assert_ptr_equal(head_find("full"), &head_full);
    assert_null(head_find("nope"));
    const struct head_ops *const *l = head_list();
    int n = 0, found = 0;
    for (; l[n]; n++) found |= l[n] == &head_full;
    assert_true(found && n >= 1);
    assert_int_equal(head_full.abi_version, HEAD_ABI_VERSION);
    /* zeroed state: free is safe */
    void *z = calloc(1, head_full.state_size);
    head_full.free(z);
    head_full.free(z);
    free(z);
    /* bad keys name the key and the value */
    struct head_cfg hc;
    struct dcqb_err err = {0};
    struct kv kv = {.k = {"s"}, .v = {"abc"}, .n = 1};
    base_cfg(&hc, &kv, C, D, B);
    void *st = calloc(1, head_full.state_size);
    assert_int_equal(head_full.init(st, &hc, NULL, &err), DCQB_EINVAL);
    assert_non_null(strstr(err.msg, "s = 'abc'"));
    head_full.free(st);
    struct kv kv2 = {.k = {"margin"}, .v = {"sphereface"}, .n = 1};
    hc.param_ctx = &kv2;
    assert_int_equal(head_full.init(st, &hc, NULL, &err), DCQB_EINVAL);
    assert_non_null(strstr(err.msg, "sphereface"));
    head_full.free(st);
    long long iv;
    struct kv kv3 = {.k = {"easy_margin"}, .v = {"2"}, .n = 1};
    hc.param_ctx = &kv3;
    assert_int_equal(head_param_int(&hc, "easy_margin", 0, 0, 1, &iv, &err), DCQB_EINVAL);
    assert_non_null(strstr(err.msg, "easy_margin = 2"));
    hc.param = NULL; /* no param source: defaults */
    double dv;
    assert_int_equal(head_param_double(&hc, "x", 1.5, 0, 2, &dv, NULL), DCQB_OK);
    assert_close(dv, 1.5, 0, 0);
    /* labels out of range; cost figures */
    free(st);
    hc.param = kv_get;
    struct kv none = {.n = 0};
    hc.param_ctx = &none;
    st = head_new(&hc);
    float emb[B * D], demb[B * D] = {0}, loss;
    int32_t y[B] = {0, 1, 50, 2};
    unit_rows(emb, B, D, 1);
    assert_int_equal(head_full.forward_backward(st, &loss, demb, emb, NULL, y, B, &err),
                     DCQB_EINVAL);
    assert_non_null(strstr(err.msg, "label 50"));
    struct head_cost cost;
    head_full.cost(st, 256, &cost);
    assert_int_equal(cost.active_classes, C);
    assert_true(cost.flops >= 6.0 * 256 * C * D);
    /* W, V, inv, a logits column, 2 block statistics per row per 1024 classes (no dW array) */
    assert_close(cost.per_class_bytes, 4.0 * (2 * D + 1 + 256 + 2.0 * 256 / 1024), 0, 0);
    head_del(st);
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
    struct kv kv = {.k = {"s", "m"}, .v = {"16", "0.1"}, .n = 2};
    struct head_cfg hc;
    base_cfg(&hc, &kv, NC, 8, BT);
    void *st = head_new(&hc);
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
        assert_int_equal(head_full.forward_backward(st, &loss, du, u, NULL, y, BT, NULL), 0);
        l2norm_backward(de, du, u, nrm, BT, 8);
        backbone_backward(&net, de, BT);
        sgd_step(net.params, mom, net.grads, net.n_params, 0.05f, &oc);
        assert_int_equal(head_full.step(st, 0.05f, t, NULL), 0);
        if (t < 5) first += loss / 5;
        if (t >= STEPS - 5) last += loss / 5;
    }
    if (!(last < 0.5f * first)) print_error("loss %g -> %g\n", (double)first, (double)last);
    assert_true(last < 0.5f * first);
    free(mom);
    head_del(st);
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
        cmocka_unit_test(test_errors_cost_registry),
        cmocka_unit_test(test_tiny_training_lowers_loss),
    };
    return cmocka_run_group_tests_name("head_full", tests, NULL, NULL);
}
