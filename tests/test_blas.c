/* test_blas.c - the BLAS that answers cblas_sgemm must be OpenBLAS, and fast.
 * Link order can silently bind GSL's reference cblas (measured 4.8 vs ~85 GFLOP/s); this test
 * fails when that happens. The speed floor is 10x below the real rate so a loaded CI machine
 * does not trip it, yet well above the reference BLAS. */
#include "test_util.h"

#include <cblas.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static void test_openblas_is_linked(void **state)
{
    (void)state;
    const char *core = openblas_get_corename();
    const char *config = openblas_get_config();
    assert_non_null(core);
    assert_non_null(config);
    assert_non_null(strstr(config, "OpenBLAS"));
}

static void test_sgemm_correct_and_not_reference_speed(void **state)
{
    (void)state;
    int n = 384;
    float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n),
          *c = malloc(sizeof(float) * n * n);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    for (int i = 0; i < n * n; i++) {
        a[i] = (float)(((unsigned)i * 7919u) % 17u) / 17.0f - 0.5f;
        b[i] = (float)(((unsigned)i * 104729u) % 13u) / 13.0f - 0.5f;
    }
    /* correctness on a few entries against a double loop */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
    for (int t = 0; t < 5; t++) {
        int i = (t * 97) % n, j = (t * 31) % n;
        double s = 0;
        for (int k = 0; k < n; k++) s += (double)a[i * n + k] * b[k * n + j];
        assert_close(c[i * n + j], s, 1e-3, 1e-4);
    }
    double best = 1e9;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c,
                    n);
        double dt = now() - t0;
        if (dt < best) best = dt;
    }
    double gflops = 2.0 * n * n * n / best / 1e9;
    if (gflops < 8.0) print_error("sgemm at %.1f GFLOP/s: is GSL's reference cblas linked?\n",
                                  gflops);
    assert_true(gflops >= 8.0);
    free(a);
    free(b);
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_openblas_is_linked),
        cmocka_unit_test(test_sgemm_correct_and_not_reference_speed),
    };
    return cmocka_run_group_tests_name("blas", tests, NULL, NULL);
}
