/* test_ops.c - GEMM helpers vs their naive twins, L2 normalisation forward/backward (finite
 * differences in double) and its three roundings bit for bit, the polynomial exp and the block exp-and-sum kernels (plain and
 * label-masked) against exp() in double, and the seeded init fills. */
#include "test_util.h"

#include "ops.h"
#include "rng.h"
#include "dcqb.h"

static float urand(uint64_t *s) /* U[-1, 1) */
{
    return (float)((dcqb_splitmix64(s) >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f;
}

static void fill(float *a, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++) a[i] = urand(&seed);
}

enum { B = 4, K = 50, D = 8 };

static void test_gemm_vs_ref(void **state)
{
    (void)state;
    float a[B * D], w[K * D], g[B * K], o1[K * D], o2[K * D];
    fill(a, B * D, 1);
    fill(w, K * D, 2);
    fill(g, B * K, 3);
    /* (B,D) x (K,D)^T -> (B,K) with alpha, beta */
    fill(o1, B * K, 4);
    memcpy(o2, o1, sizeof(float) * B * K);
    matmul_bd_kd_to_bk(o1, a, w, B, K, D, 0.7f, 0.3f);
    matmul_bd_kd_to_bk_ref(o2, a, w, B, K, D, 0.7f, 0.3f);
    assert_close_array(o1, o2, B * K, 1e-5, 1e-5);
    /* (B,K) x (K,D) -> (B,D) */
    fill(o1, B * D, 5);
    memcpy(o2, o1, sizeof(float) * B * D);
    matmul_bk_kd_to_bd(o1, g, w, B, K, D, 1.3f, 1.0f);
    matmul_bk_kd_to_bd_ref(o2, g, w, B, K, D, 1.3f, 1.0f);
    assert_close_array(o1, o2, B * D, 1e-5, 1e-5);
    /* (B,K)^T x (B,D) -> (K,D), beta = 0 ignores garbage in out */
    fill(o1, K * D, 6);
    for (int i = 0; i < K * D; i++) o2[i] = NAN;
    matmul_bk_bd_to_kd(o1, g, a, B, K, D, 1.0f, 0.0f);
    matmul_bk_bd_to_kd_ref(o2, g, a, B, K, D, 1.0f, 0.0f);
    assert_close_array(o1, o2, K * D, 1e-5, 1e-5);
    /* the reference itself against a hand sum */
    double s = 0;
    for (int i = 0; i < B; i++) s += (double)g[i * K + 7] * a[i * D + 3];
    assert_close(o2[7 * D + 3], s, 1e-6, 1e-6);
}

static void norm_d(double *y, const double *x, int n)
{
    double ss = 0;
    for (int d = 0; d < n; d++) ss += x[d] * x[d];
    for (int d = 0; d < n; d++) y[d] = x[d] / sqrt(ss);
}

static void test_l2norm_forward_backward(void **state)
{
    (void)state;
    float x[B * D], y[B * D], nrm[B], g[B * D], dx[B * D];
    fill(x, B * D, 11);
    fill(g, B * D, 12);
    for (int i = 0; i < B * D; i++) x[i] *= 3.0f;
    assert_int_equal(l2norm_forward(y, nrm, x, B, D, L2NORM_F32_SCALE), 0);
    for (int i = 0; i < B; i++) {
        double ss = 0;
        for (int d = 0; d < D; d++) ss += (double)y[i * D + d] * y[i * D + d];
        assert_close(ss, 1.0, 1e-6, 0);
    }
    for (int i = 0; i < B * D; i++) dx[i] = 0.5f; /* overwritten */
    l2norm_backward(dx, g, y, nrm, B, D);
    /* f(x) = sum g . normalize(x), central differences in double */
    for (int i = 0; i < B; i++)
        for (int d = 0; d < D; d++) {
            double xp[D], yp[D], fp = 0, fm = 0, eps = 1e-6;
            for (int k = 0; k < D; k++) xp[k] = x[i * D + k];
            xp[d] += eps;
            norm_d(yp, xp, D);
            for (int k = 0; k < D; k++) fp += g[i * D + k] * yp[k];
            xp[d] -= 2 * eps;
            norm_d(yp, xp, D);
            for (int k = 0; k < D; k++) fm += g[i * D + k] * yp[k];
            assert_close(dx[i * D + d], (fp - fm) / (2 * eps), 1e-5, 1e-3);
        }
}

/* The three roundings bit for bit against their formulas (each pins digests or metrics:
 * training, DCQ's queue and evaluation), the zero-row count, and the exact rounding's copy of
 * rows that are already unit. */
static void test_l2norm_roundings(void **state)
{
    (void)state;
    enum { R = 64 };
    float x[R * D], y[R * D], nrm[R];
    fill(x, R * D, 31);
    for (int i = 0; i < R * D; i++) x[i] *= 1.0f + (float)(i % 7);
    memset(x + 3 * D, 0, sizeof(float) * D); /* row 3: no direction */
    memset(x + 5 * D, 0, sizeof(float) * D);
    x[5 * D + 2] = -1.0f;                    /* row 5: already unit */
    int differ = 0;
    for (int round = 0; round < 3; round++) {
        assert_int_equal(l2norm_forward(y, nrm, x, R, D, (enum l2norm_round)round), 1);
        for (int i = 0; i < R; i++) {
            const float *xi = x + i * D;
            double ss = 0;
            for (int d = 0; d < D; d++) ss += (double)xi[d] * xi[d];
            float f = (float)sqrt(ss) < 1e-12f ? 1e-12f : (float)sqrt(ss);
            float s32 = 1.0f / f, s64 = (float)(1.0 / (sqrt(ss) > 1e-12 ? sqrt(ss) : 1e-12));
            differ += s32 != s64;
            for (int d = 0; d < D; d++) {
                float want = round == L2NORM_F32_SCALE ? xi[d] * s32
                             : round == L2NORM_F64_SCALE ? xi[d] * s64
                             : i == 3                     ? 0.0f
                             : i == 5                     ? xi[d]
                                                          : (float)(xi[d] * (1.0 / sqrt(ss)));
                assert_memory_equal(&y[i * D + d], &want, sizeof want);
            }
            float wn = round == L2NORM_F32_SCALE ? f : (float)sqrt(ss);
            assert_memory_equal(&nrm[i], &wn, sizeof wn);
        }
    }
    assert_true(differ > 0); /* the roundings do differ: this test can tell them apart */
    /* in place, no norms */
    memcpy(y, x, sizeof x);
    l2norm_forward(y, NULL, y, R, D, L2NORM_F64_EXACT);
    assert_true(y[5 * D + 2] == -1.0f && y[3 * D] == 0.0f);
}

/* exp-and-sum over a block, in place: against exp() in double; the masked variant zeroes
 * exactly the slots of the row's label and sums the rest; both repeat bit for bit. */
static void test_exp_shift_sum(void **state)
{
    (void)state;
    enum { N = 1024 };
    float x[N], y[N], x0[N];
    int32_t lab[N];
    uint64_t r = 21;
    for (int rep = 0; rep < 6; rep++) {
        const int n = rep < 3 ? N : 1 + rep * 97; /* full blocks and odd tails */
        const float mx = 64.0f;
        for (int j = 0; j < n; j++) {
            x0[j] = 64.0f * urand(&r); /* s = 64: exp(z) overflows without the shift */
            lab[j] = (int32_t)(dcqb_splitmix64(&r) % 7);
        }
        memcpy(x, x0, sizeof(float) * n);
        double want = 0;
        for (int j = 0; j < n; j++) want += exp((double)x0[j] - mx);
        float got = ops_exp_shift_sum(x, n, mx);
        assert_close(got, want, 0, 1e-5);
        for (int j = 0; j < n; j++) assert_close(x[j], exp((double)x0[j] - mx), 1e-30, 3e-7);
        memcpy(y, x0, sizeof(float) * n);
        assert_true(ops_exp_shift_sum(y, n, mx) == got); /* repeats exactly */
        memcpy(y, x0, sizeof(float) * n);
        double wm = 0;
        for (int j = 0; j < n; j++)
            if (lab[j] != 3) wm += exp((double)x0[j] - mx);
        float gm = ops_exp_shift_sum_mask(y, lab, 3, n, mx);
        assert_close(gm, wm, 0, 1e-5);
        for (int j = 0; j < n; j++) assert_true(lab[j] == 3 ? y[j] == 0.0f : y[j] == x[j]);
    }
}

/* The softmax's polynomial exp against exp() in double over [-87, 0]: within 3e-7 relative
 * (Cephes expf is ~2 ulp); clamped below, NaN kept. */
static void test_exp_poly_accuracy(void **state)
{
    (void)state;
    double worst = 0;
    for (int i = 0; i <= 200000; i++) {
        float x = -87.0f * (float)i / 200000.0f;
        double want = exp((double)x), got = ops_exp_poly(x);
        double rel = fabs(got - want) / want;
        if (rel > worst) worst = rel;
    }
    assert_true(worst < 3e-7);
    assert_close(ops_exp_poly(0.0f), 1.0, 0, 1e-7);
    assert_true(ops_exp_poly(-200.0f) < 2e-38f); /* clamped, tiny, not NaN */
    assert_true(ops_exp_poly(-INFINITY) < 2e-38f);
    assert_true(isnan(ops_exp_poly(NAN)));       /* divergence stays visible */
}

static void test_rng_fill_deterministic(void **state)
{
    (void)state;
    enum { N = 20000 };
    static float a[N], b[N];
    assert_int_equal(rng_fill_normal(a, N, 0.5, 42, NULL), DCQB_OK);
    assert_int_equal(rng_fill_normal(b, N, 0.5, 42, NULL), DCQB_OK);
    assert_true(memcmp(a, b, sizeof a) == 0);
    double m = 0, v = 0;
    for (int i = 0; i < N; i++) m += a[i];
    m /= N;
    for (int i = 0; i < N; i++) v += (a[i] - m) * (a[i] - m);
    assert_close(m, 0.0, 0.02, 0);
    assert_close(sqrt(v / N), 0.5, 0.02, 0);
    assert_int_equal(rng_fill_normal(b, N, 0.5, 43, NULL), DCQB_OK);
    assert_false(memcmp(a, b, sizeof a) == 0);
    assert_int_equal(rng_fill_uniform(a, N, -2, 3, 7, NULL), DCQB_OK);
    for (int i = 0; i < N; i++) assert_true(a[i] >= -2.0f && a[i] <= 3.0f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemm_vs_ref),
        cmocka_unit_test(test_l2norm_forward_backward),
        cmocka_unit_test(test_l2norm_roundings),
        cmocka_unit_test(test_exp_shift_sum),
        cmocka_unit_test(test_exp_poly_accuracy),
        cmocka_unit_test(test_rng_fill_deterministic),
    };
    return cmocka_run_group_tests_name("ops", tests, NULL, NULL);
}
