/* test_isa.c - the ISA paths of the hand-vectorised kernels (algorithms/isa.h, ops_vec.inc):
 *   names      DCQB_ISA's names parse, an unknown one is refused with a message naming it, a
 *              path above the CPU's best is refused;
 *   exp        ops_exp_shift_sum(_mask) on every path the CPU has: the same bits as each other
 *              and as the scalar exp_poly element by element, at lengths around the 16-lane
 *              width and with -inf, +inf, NaN, huge and masked inputs;
 *   heads      every registered head, 4 steps on the same inputs (C = 3000 > one 1024-column
 *              block, D = 72, not a multiple of 16): losses, input gradients and head digests
 *              equal bit for bit on every path (the path changes speed, never a result).
 * On a CPU without AVX-512 or AVX2 the missing paths are skipped, and the test says so. */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "head_fixture.h"
#include "isa.h"
#include "ops.h"

static const char *const paths[] = {"sse2", "avx2", "avx512"};

static void set_path(int p)
{
    struct dcqb_err err = {0};
    int rc = dcqb_isa_set(paths[p], &err);
    if (rc) print_error("%s\n", err.msg);
    assert_int_equal(rc, DCQB_OK);
    assert_string_equal(dcqb_isa_name(dcqb_isa()), paths[p]);
}

static int n_paths(void) { return (int)dcqb_isa_best() + 1; }

static void test_names(void **state)
{
    (void)state;
    struct dcqb_err err = {0};
    assert_int_equal(dcqb_isa_set("avx9", &err), DCQB_EINVAL);
    assert_non_null(strstr(err.msg, "avx9"));
    assert_int_equal(dcqb_isa_set("native", &err), DCQB_OK);
    assert_int_equal(dcqb_isa(), dcqb_isa_best());
    if (dcqb_isa_best() < DCQB_ISA_AVX512) {
        assert_int_equal(dcqb_isa_set("avx512", &err), DCQB_EINVAL);
        assert_non_null(strstr(err.msg, "best path"));
    }
    if (n_paths() < 3) print_message("this CPU has %d of the 3 paths: the others not run\n",
                                      n_paths());
}

static int same_bits(const float *a, const float *b, size_t n)
{
    return memcmp(a, b, n * sizeof *a) == 0;
}

static void test_exp(void **state)
{
    (void)state;
    enum { N = 1024 };
    static float x[N], ref[N], y[3][N], ym[3][N];
    static int32_t lab[N];
    const int lens[] = {1, 15, 16, 17, 33, 1000, 1024};
    uint64_t s = 7;
    for (int i = 0; i < N; i++) {
        x[i] = (float)((double)(dcqb_splitmix64(&s) >> 40) / 16777216.0 * 120.0 - 100.0);
        lab[i] = (int32_t)(dcqb_splitmix64(&s) % 5);
    }
    x[3] = -INFINITY, x[20] = INFINITY, x[40] = NAN, x[41] = 1e30f, x[42] = -1e30f;
    x[900] = NAN;
    const float mx = 10.0f;
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        int n = lens[li];
        float sum[3], summ[3];
        for (int p = 0; p < n_paths(); p++) {
            set_path(p);
            memcpy(y[p], x, sizeof x);
            memcpy(ym[p], x, sizeof x);
            sum[p] = ops_exp_shift_sum(y[p], n, mx);
            summ[p] = ops_exp_shift_sum_mask(ym[p], lab, 3, n, mx);
        }
        for (int i = 0; i < n; i++) ref[i] = ops_exp_poly(x[i] - mx);
        for (int p = 0; p < n_paths(); p++) {
            if (!same_bits(y[p], ref, (size_t)n)) {
                print_error("exp on %s differs from the scalar exp_poly at n = %d\n", paths[p], n);
                fail();
            }
            for (int i = 0; i < n; i++)
                if (lab[i] == 3) assert_true(ym[p][i] == 0.0f);
                else assert_true(memcmp(&ym[p][i], &ref[i], sizeof ref[i]) == 0);
            assert_true(memcmp(&sum[p], &sum[0], sizeof sum[0]) == 0);
            assert_true(memcmp(&summ[p], &summ[0], sizeof summ[0]) == 0);
        }
        if (n > 40) assert_true(isnan(sum[0])); /* the NaN input poisons the sum on every path */
    }
    set_path(n_paths() - 1);
}

enum { HC = 3000, HD = 72, HB = 32, STEPS = 4 };

/* STEPS steps of head `name` on path p: losses, the last input gradient and the digest. */
static void run_head(const char *name, int p, float *loss, float *demb, uint32_t *digest)
{
    static float emb[HB * HD], key[HB * HD];
    int32_t y[HB];
    static int32_t counts[HC];
    for (int c = 0; c < HC; c++) counts[c] = 1 + c % 7;
    for (int i = 0; i < HB; i++) y[i] = (int32_t)((i * 977) % HC);
    set_path(p);
    struct head_cfg cfg = fx_cfg(HC, HD, HB, 0.1, 11, NULL, counts);
    struct head h = fx_open(name, &cfg);
    for (int t = 0; t < STEPS; t++) {
        fx_rows(emb, HB, HD, 100 + (uint64_t)t, 1);
        fx_rows(key, HB, HD, 200 + (uint64_t)t, 1);
        struct dcqb_err err = {0};
        memset(demb, 0, sizeof(float) * HB * HD);
        int rc = head_forward_backward(&h, &loss[t], demb, emb, h.req.pairs ? key : NULL, y, HB,
                                       &err);
        if (!rc) rc = head_step(&h, 0.1f, t, &err);
        if (rc) print_error("%s on %s: %s\n", name, paths[p], err.msg);
        assert_int_equal(rc, DCQB_OK);
    }
    *digest = head_digest(&h);
    head_close(&h);
}

static void test_heads(void **state)
{
    (void)state;
    for (const struct head_ops *const *hp = head_list(); *hp; hp++) {
        float loss[3][STEPS];
        static float demb[3][HB * HD];
        uint32_t dig[3];
        for (int p = 0; p < n_paths(); p++) run_head((*hp)->name, p, loss[p], demb[p], &dig[p]);
        for (int p = 1; p < n_paths(); p++)
            if (memcmp(loss[p], loss[0], sizeof loss[0]) != 0 ||
                !same_bits(demb[p], demb[0], HB * HD) || dig[p] != dig[0]) {
                print_error("head %s: path %s differs from sse2 (loss %.9g vs %.9g, digest "
                            "%08x vs %08x)\n", (*hp)->name, paths[p], loss[p][STEPS - 1],
                            loss[0][STEPS - 1], (unsigned)dig[p], (unsigned)dig[0]);
                fail();
            }
    }
    set_path(n_paths() - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_exp),
        cmocka_unit_test(test_heads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
