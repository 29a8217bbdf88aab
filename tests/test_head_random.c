/* test_head_random.c - the `random` (Partial FC) head, docs/METHOD.md §3.3: gradients by
 * finite differences with the sampling state replayed, r = 1 equals `full`, subset
 * composition and uniformity, v1/v2 update semantics, save/load replays bit for bit. */
#include "head_fixture.h"

enum { C = 50, D = 8, B = 4 };

static const int32_t Y[B] = {3, 17, 3, 42};

static void test_gradcheck(void **state)
{
    (void)state;
    static const struct kv kv[] = {{"s", "8"}, {"m", "0.2"}, {NULL, NULL}};
    struct head_cfg cfg = fx_cfg(C, D, B, 0.3, 11, kv, NULL);
    struct head st = fx_open("random", &cfg);
    float emb[B * D], W[C * D];
    fx_rows(emb, B, D, 1, 1);
    fx_rows(W, C, D, 2, 0);
    double worst = fx_gradcheck(&st, emb, NULL, Y, B, D, W, C, 200);
    assert_true(worst <= 1.0);
    head_close(&st);
}

static void test_gradcheck_arcface(void **state)
{
    (void)state;
    static const struct kv kv[] = {{"margin", "arcface"}, {"s", "8"}, {NULL, NULL}};
    struct head_cfg cfg = fx_cfg(C, D, B, 0.2, 12, kv, NULL);
    struct head st = fx_open("random", &cfg);
    float emb[B * D], W[C * D];
    fx_rows(emb, B, D, 3, 1);
    fx_rows(W, C, D, 4, 0);
    fx_gradcheck(&st, emb, NULL, Y, B, D, W, C, 120);
    head_close(&st);
}

/* r = 1: same W init, every class, same column order -> loss, d emb, d W and the updated W
 * equal full's (to 1e-6 relative: both run the same float operations; we allow rounding). */
static void test_ratio_one_equals_full(void **state)
{
    (void)state;
    struct head_cfg cfg = fx_cfg(C, D, B, 1.0, 5, NULL, NULL);
    struct head r = fx_open("random", &cfg), f = fx_open("full", &cfg);
    assert_memory_equal(head_class_weights(&r), head_class_weights(&f),
                        sizeof(float) * C * D);
    float emb[B * D], dr[B * D], df[B * D], gr[C * D], gf[C * D];
    struct dcqb_err err = {0};
    for (int t = 0; t < 3; t++) {
        fx_rows(emb, B, D, 100 + t, 1);
        double lr_ = fx_loss(&r, NULL, NULL, C, D, emb, NULL, Y, B, dr);
        double lf = fx_loss(&f, NULL, NULL, C, D, emb, NULL, Y, B, df);
        assert_close(lr_, lf, 1e-6, 1e-6);
        assert_close_array(dr, df, B * D, 1e-6, 1e-5);
        head_weight_grad(&r, gr, NULL);
        head_weight_grad(&f, gf, NULL);
        assert_close_array(gr, gf, C * D, 1e-5, 1e-5);
        assert_int_equal(head_step(&r, 0.1f, t, &err), DCQB_OK);
        assert_int_equal(head_step(&f, 0.1f, t, &err), DCQB_OK);
        assert_close_array(head_class_weights(&r), head_class_weights(&f), C * D,
                           1e-7, 1e-5);
    }
    head_close(&r);
    head_close(&f);
}

/* Subset = all distinct labels + negatives, K = int(r C), unique, in range; K < #positives
 * gives exactly the positives. */
static void test_subset(void **state)
{
    (void)state;
    struct head_cfg cfg = fx_cfg(C, D, B, 0.2, 7, NULL, NULL);
    struct head st = fx_open("random", &cfg);
    float emb[B * D], demb[B * D];
    int32_t cls[C];
    int64_t K;
    fx_rows(emb, B, D, 9, 1);
    for (int t = 0; t < 5; t++) {
        fx_loss(&st, NULL, NULL, C, D, emb, NULL, Y, B, demb);
        head_active_classes(&st, cls, &K, NULL);
        assert_int_equal(K, 10);
        int seen[C] = {0};
        for (int k = 0; k < K; k++) {
            assert_true(cls[k] >= 0 && cls[k] < C);
            assert_int_equal(seen[cls[k]]++, 0);
        }
        for (int i = 0; i < B; i++) assert_int_equal(seen[Y[i]], 1);
    }
    head_close(&st);
    cfg.ratio = 0.02; /* int(0.02 * 50) = 1 < 3 positives */
    st = fx_open("random", &cfg);
    fx_loss(&st, NULL, NULL, C, D, emb, NULL, Y, B, demb);
    head_active_classes(&st, cls, &K, NULL);
    assert_int_equal(K, 3);
    head_close(&st);
}

/* Negatives are uniform without replacement: with positives {0, 1} and K = 10, each of the 48
 * other classes is in the subset with probability 8/48. 3000 steps: expected 500 per class,
 * binomial sd 20.4; we require max relative error < 0.15 (~3.7 sd, deterministic seed). */
static void test_uniform_negatives(void **state)
{
    (void)state;
    const int n = 3000, Bs = 2;
    const int32_t y[2] = {0, 1};
    struct head_cfg cfg = fx_cfg(C, D, Bs, 0.2, 8, NULL, NULL);
    struct head st = fx_open("random", &cfg);
    float emb[2 * D], demb[2 * D];
    int32_t cls[C];
    int64_t K;
    int count[C] = {0};
    fx_rows(emb, Bs, D, 10, 1);
    for (int t = 0; t < n; t++) {
        fx_loss(&st, NULL, NULL, C, D, emb, NULL, y, Bs, demb);
        head_active_classes(&st, cls, &K, NULL);
        for (int k = 0; k < K; k++) count[cls[k]]++;
    }
    assert_int_equal(count[0], n);
    assert_int_equal(count[1], n);
    double expect = n * 8.0 / 48.0, worst = 0;
    for (int c = 2; c < C; c++) worst = fmax(worst, fabs(count[c] - expect) / expect);
    if (worst >= 0.15) print_error("max relative deviation %.3f\n", worst);
    assert_true(worst < 0.15);
    head_close(&st);
}

/* v1: rows outside the subset are bit-identical after a step, sampled rows move. v2: every row
 * moves (weight decay and momentum everywhere). */
static void test_v1_v2(void **state)
{
    (void)state;
    static const struct kv v1[] = {{"pfc_mode", "v1"}, {NULL, NULL}};
    static const struct kv v2[] = {{"pfc_mode", "v2"}, {NULL, NULL}};
    float emb[B * D], demb[B * D], before[C * D];
    int32_t cls[C];
    int64_t K;
    struct dcqb_err err = {0};
    fx_rows(emb, B, D, 21, 1);
    for (int mode = 0; mode < 2; mode++) {
        struct head_cfg cfg = fx_cfg(C, D, B, 0.2, 13, mode ? v2 : v1, NULL);
        struct head st = fx_open("random", &cfg);
        for (int t = 0; t < 2; t++) {
            memcpy(before, head_class_weights(&st), sizeof before);
            fx_loss(&st, NULL, NULL, C, D, emb, NULL, Y, B, demb);
            head_active_classes(&st, cls, &K, NULL);
            assert_int_equal(head_step(&st, 0.1f, t, &err), DCQB_OK);
            const float *W = head_class_weights(&st);
            int in[C] = {0};
            for (int k = 0; k < K; k++) in[cls[k]] = 1;
            for (int c = 0; c < C; c++) {
                int same = memcmp(W + c * D, before + c * D, sizeof(float) * D) == 0;
                if (in[c] || mode == 1) assert_false(same);
                else assert_true(same);
            }
        }
        head_close(&st);
    }
}

/* Save after 3 steps, run 2 more; a fresh head loaded from the save reproduces the losses and
 * the digest bit for bit (the sampling stream and permutation are part of the state). */
static void test_save_load(void **state)
{
    (void)state;
    struct head_cfg cfg = fx_cfg(C, D, B, 0.2, 17, NULL, NULL);
    struct head a = fx_open("random", &cfg);
    float emb[B * D], demb[B * D], la[2], lb[2];
    struct dcqb_err err = {0};
    for (int t = 0; t < 5; t++) {
        if (t == 3) {
            struct fx_snap s = fx_save(&a);
            cfg.seed = 99; /* the loaded state, not the seed, must decide */
            struct head b = fx_open("random", &cfg);
            assert_int_not_equal(head_digest(&a), head_digest(&b));
            fx_load(&b, &s);
            assert_int_equal(head_digest(&a), head_digest(&b));
            for (int u = 0; u < 2; u++) {
                fx_rows(emb, B, D, 300 + u, 1);
                lb[u] = (float)fx_loss(&b, NULL, NULL, C, D, emb, NULL, Y, B, demb);
                assert_int_equal(head_step(&b, 0.1f, u, &err), DCQB_OK);
            }
            for (int u = 0; u < 2; u++) {
                fx_rows(emb, B, D, 300 + u, 1);
                la[u] = (float)fx_loss(&a, NULL, NULL, C, D, emb, NULL, Y, B, demb);
                assert_int_equal(head_step(&a, 0.1f, u, &err), DCQB_OK);
            }
            assert_memory_equal(la, lb, sizeof la);
            assert_int_equal(head_digest(&a), head_digest(&b));
            /* a truncated or foreign blob is refused */
            assert_int_equal(head_load(&b, s.buf, s.n - 1, &err), DCQB_EFORMAT);
            free(s.buf);
            head_close(&b);
            break;
        }
        fx_rows(emb, B, D, 200 + t, 1);
        fx_loss(&a, NULL, NULL, C, D, emb, NULL, Y, B, demb);
        assert_int_equal(head_step(&a, 0.1f, t, &err), DCQB_OK);
    }
    head_close(&a);
}

static void test_set_classes_and_errors(void **state)
{
    (void)state;
    struct head_cfg cfg = fx_cfg(C, D, B, 0.2, 3, NULL, NULL);
    struct head st = fx_open("random", &cfg);
    float emb[B * D], demb[B * D];
    struct dcqb_err err = {0};
    fx_rows(emb, B, D, 5, 1);
    const int32_t fixed[5] = {42, 3, 17, 8, 9}, dup[3] = {3, 3, 17}, missing[2] = {3, 17};
    assert_int_equal(head_set_classes(&st, dup, 3, &err), DCQB_EINVAL);
    assert_int_equal(head_set_classes(&st, fixed, 5, &err), DCQB_OK);
    uint32_t d0 = head_digest(&st); /* includes the rng: fixed classes draw nothing */
    fx_loss(&st, NULL, NULL, C, D, emb, NULL, Y, B, demb);
    assert_int_equal(head_digest(&st), d0);
    int32_t cls[C];
    int64_t K;
    head_active_classes(&st, cls, &K, NULL);
    assert_int_equal(K, 5);
    assert_memory_equal(cls, fixed, sizeof fixed);
    assert_int_equal(head_set_classes(&st, missing, 2, &err), DCQB_OK);
    float loss;
    assert_int_equal(head_forward_backward(&st, &loss, demb, emb, NULL, Y, B, &err),
                     DCQB_EINVAL);
    const int32_t bad[B] = {3, 17, 50, 1};
    assert_int_equal(head_forward_backward(&st, &loss, demb, emb, NULL, bad, B, &err),
                     DCQB_EINVAL);
    head_close(&st);
    static const struct kv badmode[] = {{"pfc_mode", "v3"}, {NULL, NULL}};
    cfg = fx_cfg(C, D, B, 0.2, 3, badmode, NULL);
    assert_int_equal(head_open(&st, "random", &cfg, &err), DCQB_EINVAL);
    assert_non_null(strstr(err.msg, "random: pfc_mode = 'v3'"));
    assert_null(st.st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradcheck),       cmocka_unit_test(test_gradcheck_arcface),
        cmocka_unit_test(test_ratio_one_equals_full), cmocka_unit_test(test_subset),
        cmocka_unit_test(test_uniform_negatives), cmocka_unit_test(test_v1_v2),
        cmocka_unit_test(test_save_load),       cmocka_unit_test(test_set_classes_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
