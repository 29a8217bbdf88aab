/* test_cosxent.c - the blocked margin softmax of full/random/sampled against a direct double
 * computation: several column blocks with a partial last one, the sampled mask (columns past
 * Kvis seen only by their own row, including a block no row sees except through its target),
 * log-Q offsets, CosFace and ArcFace margins, un-normalised weights; then NaN poisoning and
 * bitwise repeatability; DCQ's queue variant (own-label mask, positive outside the matrix); and
 * the pool: threaded calls against serial ones. */
#include "test_util.h"

#include <math.h>
#include <stdlib.h>

#include "cosxent.h"
#include "dcqb.h"
#include "margin.h"

enum { B = 6, D = 12 };

static float urand(uint64_t *s) /* U[-1, 1) */
{
    return (float)((dcqb_splitmix64(s) >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f;
}

struct prob {
    int K, Kvis;
    float *E, *W, *inv, *off;
    int32_t tgt[B];
    struct margin_cfg mc;
};

static void make(struct prob *p, int K, int Kvis, int with_off, int type, uint64_t seed)
{
    p->K = K;
    p->Kvis = Kvis;
    p->E = malloc(sizeof(float) * B * D);
    p->W = malloc(sizeof(float) * (size_t)K * D);
    p->inv = malloc(sizeof(float) * K);
    p->off = with_off ? malloc(sizeof(float) * K) : NULL;
    for (int i = 0; i < B; i++) { /* unit rows */
        double n = 0;
        for (int d = 0; d < D; d++) n += pow(p->E[i * D + d] = urand(&seed), 2);
        for (int d = 0; d < D; d++) p->E[i * D + d] /= (float)sqrt(n);
    }
    for (int k = 0; k < K; k++) {
        double n = 0;
        float sc = 0.5f + 2.0f * (urand(&seed) + 1.0f); /* rows of different norms */
        for (int d = 0; d < D; d++) n += pow(p->W[(size_t)k * D + d] = sc * urand(&seed), 2);
        p->inv[k] = (float)(1.0 / sqrt(n));
        if (p->off) p->off[k] = 1.5f * (urand(&seed) + 1.0f);
    }
    margin_cfg_set(&p->mc, type, 64.0f, type == MARGIN_ARCFACE ? 0.5f : 0.35f);
}

static void drop(struct prob *p)
{
    free(p->E), free(p->W), free(p->inv), free(p->off);
}

/* Direct double computation of the loss sum, G', demb and M. */
static double reference(double *G, double *demb, double *M, const struct prob *p)
{
    const int K = p->K;
    const double s = p->mc.s;
    double total = 0;
    double *z = malloc(sizeof(double) * K);
    for (int i = 0; i < B; i++) {
        const int t = p->tgt[i];
        double ct = 0, mx = -INFINITY;
        for (int k = 0; k < K; k++) {
            double dot = 0;
            for (int d = 0; d < D; d++) dot += (double)p->E[i * D + d] * p->W[(size_t)k * D + d];
            double c = fmin(1.0, fmax(-1.0, (double)(float)(dot * p->inv[k])));
            double o = p->off ? p->off[k] : 0.0;
            z[k] = k == t ? margin_forward_d(&p->mc, c) - o : s * c - o;
            if (k == t) ct = c;
            if (k >= p->Kvis && k != t) z[k] = -INFINITY; /* another row's positive */
            mx = fmax(mx, z[k]);
        }
        double S = 0;
        for (int k = 0; k < K; k++) S += exp(z[k] - mx);
        double lse = mx + log(S);
        total += lse - z[t];
        for (int k = 0; k < K; k++) {
            double pk = exp(z[k] - lse);
            double g = k == t ? (pk - 1.0) * margin_backward_d(&p->mc, ct) : pk * s;
            G[(size_t)i * K + k] = g / B * p->inv[k];
        }
    }
    for (int i = 0; i < B; i++)
        for (int d = 0; d < D; d++) {
            double a = demb[i * D + d];
            for (int k = 0; k < K; k++) a += G[(size_t)i * K + k] * p->W[(size_t)k * D + d];
            demb[i * D + d] = a;
        }
    for (int k = 0; k < K; k++)
        for (int d = 0; d < D; d++) {
            double a = 0;
            for (int i = 0; i < B; i++) a += G[(size_t)i * K + k] * p->E[i * D + d];
            M[(size_t)k * D + d] = a;
        }
    free(z);
    return total;
}

static void check(struct prob *p)
{
    const int K = p->K;
    float *G = malloc(sizeof(float) * B * K), *M = malloc(sizeof(float) * K * D);
    float *scr = malloc(sizeof(float) * cosxent_scratch_floats(B, K, D, 1));
    double *Gr = malloc(sizeof(double) * B * K), *Mr = malloc(sizeof(double) * K * D);
    float demb[B * D];
    double dembr[B * D];
    for (int j = 0; j < B * D; j++) dembr[j] = demb[j] = 0.01f * (float)(j % 7); /* accumulates */
    struct cosxent c = {B, K, D, p->Kvis, p->E, p->W, p->inv, p->off, p->tgt, &p->mc};
    double got = cosxent_forward_backward(G, demb, M, scr, NULL, &c);
    double want = reference(Gr, dembr, Mr, p);
    assert_close(got, want, 1e-4, 1e-5);
    double gmax = 0;
    for (size_t j = 0; j < (size_t)B * K; j++) gmax = fmax(gmax, fabs(Gr[j]));
    for (size_t j = 0; j < (size_t)B * K; j++) assert_close(G[j], Gr[j], 2e-5 * gmax, 1e-3);
    for (int j = 0; j < B * D; j++) assert_close(demb[j], dembr[j], 1e-5, 1e-4);
    for (size_t j = 0; j < (size_t)K * D; j++) assert_close(M[j], Mr[j], 1e-5 * gmax, 1e-3);
    /* columns a row does not see carry no gradient at all */
    for (int i = 0; i < B; i++)
        for (int k = p->Kvis; k < K; k++)
            if (k != p->tgt[i]) assert_true(G[(size_t)i * K + k] == 0.0f);
    free(G), free(M), free(scr), free(Gr), free(Mr);
}

/* One problem against the reference, under CosFace and, when both, ArcFace too. */
static void check_case(int K, int Kvis, int with_off, int both, uint64_t seed, const int32_t *t)
{
    struct prob p;
    make(&p, K, Kvis, with_off, MARGIN_COSFACE, seed);
    memcpy(p.tgt, t, sizeof p.tgt);
    check(&p);
    if (both) {
        margin_cfg_set(&p.mc, MARGIN_ARCFACE, 64.0f, 0.5f);
        check(&p);
    }
    drop(&p);
}

static void test_full_shape_blocks(void **state)
{
    (void)state;
    const int32_t t[B] = {0, 1023, 1024, 2047, 2599, 1500};
    check_case(2600, 2600, 0, 1, 1, t); /* blocks of 1024, 1024, 552 */
}

static void test_sampled_mask_and_offsets(void **state)
{
    (void)state;
    /* Kvis = 2000: block 1 is partly masked, block 2 [2048, 3072) is seen only through the
     * targets placed there, block 3 has the rest */
    const int32_t t[B] = {5, 1999, 2000, 2500, 3100, 3199};
    check_case(3200, 2000, 1, 1, 2, t);
    const int32_t t2[B] = {0, 290, 291, 292, 293, 299};
    check_case(300, 290, 1, 1, 3, t2); /* one partial block */
}

static void test_nan_poisons_and_repeats_bitwise(void **state)
{
    (void)state;
    struct prob p;
    make(&p, 2100, 2100, 0, MARGIN_COSFACE, 4);
    int32_t t[B] = {3, 1030, 2099, 7, 8, 9};
    memcpy(p.tgt, t, sizeof t);
    const int K = p.K;
    float *G1 = malloc(sizeof(float) * B * K), *G2 = malloc(sizeof(float) * B * K);
    float *M1 = malloc(sizeof(float) * K * D), *M2 = malloc(sizeof(float) * K * D);
    float *scr = malloc(sizeof(float) * cosxent_scratch_floats(B, K, D, 1));
    float d1[B * D] = {0}, d2[B * D] = {0};
    struct cosxent c = {B, K, D, K, p.E, p.W, p.inv, NULL, p.tgt, &p.mc};
    double l1 = cosxent_forward_backward(G1, d1, M1, scr, NULL, &c);
    double l2 = cosxent_forward_backward(G2, d2, M2, scr, NULL, &c);
    assert_true(isfinite(l1) && l1 == l2);
    assert_memory_equal(G1, G2, sizeof(float) * B * K);
    assert_memory_equal(M1, M2, sizeof(float) * K * D);
    assert_memory_equal(d1, d2, sizeof d1);
    p.E[2 * D + 3] = NAN;
    assert_true(isnan(cosxent_forward_backward(G1, d1, NULL, scr, NULL, &c)));
    free(G1), free(G2), free(M1), free(M2), free(scr);
    drop(&p);
}

/* DCQ's queue softmax: L = 2500 slots over three blocks, labels repeating so each row has
 * masked slots, one block (slots 1024..2047) all of label 7 so rows of label 7 see none of it,
 * empty slots (-1); against a direct double computation with the positive as column 0. */
static void test_queue_softmax(void **state)
{
    (void)state;
    enum { L = 2500 };
    uint64_t seed = 9;
    float *E = malloc(sizeof(float) * B * D), *Q = malloc(sizeof(float) * L * D);
    float *G = malloc(sizeof(float) * B * L), *scr = malloc(sizeof(float) * cosxent_scratch_floats(B, L, D, 1));
    int32_t *Qlab = malloc(sizeof(int32_t) * L), lab[B] = {7, 3, 7, 11, 0, 5};
    float z0[B], p0[B], demb[B * D];
    for (int r = 0; r < B + L; r++) { /* unit rows */
        float *v = r < B ? E + r * D : Q + (size_t)(r - B) * D;
        double n = 0;
        for (int d = 0; d < D; d++) n += pow(v[d] = urand(&seed), 2);
        for (int d = 0; d < D; d++) v[d] /= (float)sqrt(n);
    }
    for (int j = 0; j < L; j++) Qlab[j] = j >= 1024 && j < 2048 ? 7 : (j % 13 == 0 ? -1 : j % 17);
    const float s = 50.0f;
    for (int i = 0; i < B; i++) z0[i] = s * (0.3f + 0.1f * urand(&seed));
    for (int j = 0; j < B * D; j++) demb[j] = 0;
    struct qxent q = {B, L, D, E, Q, Qlab, lab, z0, s};
    double got = qxent_forward_backward(G, demb, p0, scr, NULL, &q);
    double want = 0;
    for (int i = 0; i < B; i++) {
        double *z = malloc(sizeof(double) * L), mx = z0[i], S = 0;
        for (int j = 0; j < L; j++) {
            double dot = 0;
            for (int d = 0; d < D; d++) dot += (double)E[i * D + d] * Q[(size_t)j * D + d];
            z[j] = Qlab[j] == lab[i] ? -INFINITY : s * fmin(1.0, fmax(-1.0, (double)(float)dot));
            mx = fmax(mx, z[j]);
        }
        S = exp(z0[i] - mx);
        for (int j = 0; j < L; j++) S += exp(z[j] - mx);
        double lse = mx + log(S);
        want += lse - z0[i];
        assert_close(p0[i], exp(z0[i] - lse), 1e-6, 1e-4);
        for (int d = 0; d < D; d++) {
            double a = 0;
            for (int j = 0; j < L; j++) a += exp(z[j] - lse) * s / B * Q[(size_t)j * D + d];
            assert_close(demb[i * D + d], a, 1e-5, 1e-4);
        }
        /* G is left holding block-shifted exponentials: zero exactly where masked */
        for (int j = 0; j < L; j++)
            if (Qlab[j] == lab[i]) assert_true(G[(size_t)i * L + j] == 0.0f);
        free(z);
    }
    assert_close(got, want, 1e-4, 1e-5);
    /* a NaN query reaches the loss */
    E[3] = NAN;
    assert_true(isnan(qxent_forward_backward(G, demb, p0, scr, NULL, &q)));
    free(E), free(Q), free(G), free(scr), free(Qlab);
}

/* A pool of 3 threads over 5 blocks (a block count the threads do not divide): G' and M are
 * bit for bit the serial ones (each block is the same single-threaded work), demb equals the
 * serial one up to its summation order, and a second threaded call repeats itself exactly. */
static void test_threads(void **state)
{
    (void)state;
    struct prob p;
    make(&p, 4700, 4500, 1, MARGIN_COSFACE, 5);
    int32_t t[B] = {0, 1024, 2100, 4499, 4500, 4699};
    memcpy(p.tgt, t, sizeof t);
    const int K = p.K, NT = 3;
    struct pool pool;
    struct dcqb_err err;
    assert_int_equal(pool_init(&pool, NT, &err), DCQB_OK);
    assert_int_equal(pool_size(&pool), NT);
    float *G1 = malloc(sizeof(float) * B * K), *G2 = malloc(sizeof(float) * B * K);
    float *M1 = malloc(sizeof(float) * K * D), *M2 = malloc(sizeof(float) * K * D);
    float *scr = malloc(sizeof(float) * cosxent_scratch_floats(B, K, D, NT));
    float d1[B * D], d2[B * D], d3[B * D];
    for (int j = 0; j < B * D; j++) d1[j] = d2[j] = d3[j] = 0.5f;
    struct cosxent c = {B, K, D, p.Kvis, p.E, p.W, p.inv, p.off, p.tgt, &p.mc};
    double l1 = cosxent_forward_backward(G1, d1, M1, scr, NULL, &c);
    double l2 = cosxent_forward_backward(G2, d2, M2, scr, &pool, &c);
    assert_true(l1 == l2); /* the row combine is serial in both */
    assert_memory_equal(G1, G2, sizeof(float) * B * K);
    assert_memory_equal(M1, M2, sizeof(float) * K * D);
    assert_close_array(d1, d2, B * D, 1e-6, 1e-5);
    cosxent_forward_backward(G2, d3, M2, scr, &pool, &c);
    assert_memory_equal(d2, d3, sizeof d2);
    pool_free(&pool);
    pool_free(&pool); /* a freed (zeroed) pool frees as a no-op */
    free(G1), free(G2), free(M1), free(M2), free(scr);
    drop(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_shape_blocks),
        cmocka_unit_test(test_sampled_mask_and_offsets),
        cmocka_unit_test(test_nan_poisons_and_repeats_bitwise),
        cmocka_unit_test(test_queue_softmax),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
