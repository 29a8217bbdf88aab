/* cosw.c - see cosw.h.
 *
 * The row sums (|w|^2, m . w) are accumulated in double in COSW_LANES independent partial sums
 * that are combined in a fixed order at the end. One running sum is a chain of dependent adds
 * (4 cycles each): over 1e6 rows x 128 that chain alone cost ~0.4 s per full-head step. Eight
 * lanes let the compiler use vector registers and keep the result independent of how it
 * vectorises: the order of every addition is fixed by this code, not by the compiler.
 */
#include "cosw.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "cosxent.h"
#include "isa.h"

#define COSW_LANES 8

/* The public kernels below are compiled per ISA path (isa.h): the 8 double lanes are one
 * AVX-512 register, and the arithmetic is the same IEEE operations in the same order on every
 * path (no FMA: -ffp-contract=off), so every path gives the same bits. */

/* sum_d a[d] * b[d] in double, lanes combined pairwise in a fixed order. Always inlined, so it
 * is compiled for the caller's ISA path. */
static inline __attribute__((always_inline)) double dot_lanes(const float *a, const float *b, int D)
{
    double acc[COSW_LANES] = {0};
    int d = 0;
    for (; d + COSW_LANES <= D; d += COSW_LANES)
        for (int l = 0; l < COSW_LANES; l++) acc[l] += (double)a[d + l] * b[d + l];
    for (int l = 0; d < D; d++, l++) acc[l] += (double)a[d] * b[d];
    return ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
}

static inline __attribute__((always_inline)) float inv_of(double ss)
{
    double n = sqrt(ss);
    return (float)(1.0 / (n > 1e-12 ? n : 1e-12));
}

float cosw_inv_norm(const float *w, int D) { return inv_of(dot_lanes(w, w, D)); }

DCQB_BODY_ATTR void cosw_norms_body(float *inv, const float *W, int64_t C, int D)
{
    for (int64_t j = 0; j < C; j++) inv[j] = inv_of(dot_lanes(W + (size_t)j * D, W + (size_t)j * D, D));
}
DCQB_ISA_VARIANTS_VOID(cosw_norms, (float *inv, const float *W, int64_t C, int D), (inv, W, C, D))

DCQB_BODY_ATTR void cosw_project_row_body(float *o, const float *m, const float *w, float inv, int D)
{
    float k = (float)(dot_lanes(m, w, D) * inv * inv);
    for (int d = 0; d < D; d++) o[d] = m[d] - k * w[d];
}
DCQB_ISA_VARIANTS_VOID(cosw_project_row, (float *o, const float *m, const float *w, float inv, int D), (o, m, w, inv, D))

void cosw_scatter_grad(float *dW, int64_t C, int D, const int32_t *cls, int K, const float *dWK,
                       const float *W, const float *inv)
{
    memset(dW, 0, sizeof(float) * (size_t)C * D);
    for (int k = 0; k < K; k++) {
        size_t c = (size_t)cls[k];
        cosw_project_row(dW + c * D, dWK + (size_t)k * D, W + c * D, inv[c], D);
    }
}

int cosw_set_weights(float *W, float *inv, int64_t C, int D, const float *src, int64_t src_C,
                     int src_D, const char *head, struct dcqb_err *err)
{
    if (src_C != C || src_D != D)
        return DCQB_FAIL(err, DCQB_EINVAL, "%s: weights are (%lld, %d), head has (%lld, %d)",
                         head, (long long)src_C, src_D, (long long)C, D);
    memcpy(W, src, sizeof(float) * (size_t)C * D);
    cosw_norms(inv, W, C, D);
    return DCQB_OK;
}

DCQB_BODY_ATTR void cosw_sgd_row_body(float *w, float *v, float *inv, const float *m, int D, float lr, float mu,
                  float wd)
{
    float k = m ? (float)(dot_lanes(m, w, D) * *inv * *inv) : 0.0f;
    if (m)
        for (int d = 0; d < D; d++) {
            float g = (m[d] - k * w[d]) + wd * w[d];
            v[d] = mu * v[d] + g;
            w[d] -= lr * v[d];
        }
    else
        for (int d = 0; d < D; d++) {
            v[d] = mu * v[d] + wd * w[d];
            w[d] -= lr * v[d];
        }
    *inv = inv_of(dot_lanes(w, w, D));
}
DCQB_ISA_VARIANTS_VOID(cosw_sgd_row, (float *w, float *v, float *inv, const float *m, int D, float lr, float mu,
                  float wd), (w, v, inv, m, D, lr, mu, wd))

#define COSW_AHEAD 8 /* rows prefetched ahead (measured: 4 and 16 were slower at C = 1e5-1e6) */

/* Touch every cache line of a row (D floats) for reading (rw 0) or writing (rw 1). */
static inline __attribute__((always_inline)) void prefetch_row(const float *r, int D, int rw)
{
    for (int d = 0; d < D; d += 16) { /* 16 floats = one 64-byte line */
        if (rw)
            __builtin_prefetch(r + d, 1, 3);
        else
            __builtin_prefetch(r + d, 0, 3);
    }
}

struct rows_job {
    float *W, *V, *inv, *WK;
    const float *Wc, *invc, *MK;
    const int32_t *cls, *mk;
    int64_t K;
    int D;
    float lr, mu, wd;
};

/* Thread t's contiguous share of the rows: rows are independent, so the split changes no
 * result. */
static void sgd_rows_part(void *arg, int t, int n)
{
    const struct rows_job *j = arg;
    long long lo, hi;
    pool_range(j->K, t, n, &lo, &hi);
    const int D = j->D;
    for (int64_t k = lo; k < hi; k++) {
        if (j->cls && k + COSW_AHEAD < hi) {
            size_t a = (size_t)j->cls[k + COSW_AHEAD] * D;
            prefetch_row(j->W + a, D, 1);
            prefetch_row(j->V + a, D, 1);
            if (j->mk) prefetch_row(j->MK + (size_t)j->mk[k + COSW_AHEAD] * D, D, 0);
        }
        size_t r = (size_t)(j->cls ? j->cls[k] : k) * D;
        cosw_sgd_row(j->W + r, j->V + r, j->inv + (r / D),
                     j->MK + (size_t)(j->mk ? j->mk[k] : k) * D, D, j->lr, j->mu, j->wd);
    }
}

void cosw_sgd_rows(float *W, float *V, float *inv, const int32_t *cls, const int32_t *mk,
                   int64_t K, const float *MK, int D, float lr, float mu, float wd,
                   struct pool *pool)
{
    struct rows_job j = {W, V, inv, NULL, NULL, NULL, MK, cls, mk, K, D, lr, mu, wd};
    pool_run(pool, sgd_rows_part, &j);
}

static void gather_part(void *arg, int t, int n)
{
    const struct rows_job *j = arg;
    long long lo, hi;
    pool_range(j->K, t, n, &lo, &hi);
    const int D = j->D;
    for (int64_t k = lo; k < hi; k++) {
        if (k + COSW_AHEAD < hi) prefetch_row(j->Wc + (size_t)j->cls[k + COSW_AHEAD] * D, D, 0);
        memcpy(j->WK + (size_t)k * D, j->Wc + (size_t)j->cls[k] * D, sizeof(float) * D);
        j->inv[k] = j->invc[j->cls[k]];
    }
}

void cosw_gather_rows(float *WK, float *invK, const float *W, const float *inv,
                      const int32_t *cls, int64_t K, int D, struct pool *pool)
{
    struct rows_job j = {NULL, NULL, invK, WK, W, inv, NULL, cls, NULL, K, D, 0, 0, 0};
    pool_run(pool, gather_part, &j);
}

int64_t cosw_mark_order(int32_t *cls, int32_t *mk, const int32_t *pos, int64_t C)
{
    int64_t n = 0;
    for (int64_t c = 0; c < C; c++)
        if (pos[c] >= 0) {
            cls[n] = (int32_t)c;
            mk[n++] = pos[c];
        }
    return n;
}

struct dense_job {
    float *W, *V, *inv, *Mbuf;
    const float *G, *E;
    int B, D;
    int64_t C;
    float lr, mu, wd;
};

/* Thread t's blocks t, t + n, ...: M'_blk = G'_blk^T E into its buffer, then SGD on the rows. */
static void dense_part(void *arg, int t, int n)
{
    const struct dense_job *j = arg;
    const int D = j->D;
    float *M = j->Mbuf + (size_t)t * COSXENT_BLOCK * D;
    const int64_t nb = (j->C + COSXENT_BLOCK - 1) / COSXENT_BLOCK;
    for (int64_t b = t; b < nb; b += n) {
        const int64_t j0 = b * COSXENT_BLOCK;
        const int m = (int)(j->C - j0 < COSXENT_BLOCK ? j->C - j0 : COSXENT_BLOCK);
        /* M (m,D) = G'_blk^T (m,B) E (B,D): 2BmD FLOPs, into L2 */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, m, D, j->B, 1.0f, j->G + j0,
                    (int)j->C, j->E, D, 0.0f, M, D);
        for (int r = 0; r < m; r++) {
            size_t o = (size_t)(j0 + r) * D;
            cosw_sgd_row(j->W + o, j->V + o, j->inv + j0 + r, M + (size_t)r * D, D, j->lr, j->mu,
                         j->wd);
        }
    }
}

void cosw_sgd_dense(float *W, float *V, float *inv, float *Mbuf, const float *G, const float *E,
                    int B, int64_t C, int D, float lr, float mu, float wd, struct pool *pool)
{
    struct dense_job j = {W, V, inv, Mbuf, G, E, B, D, C, lr, mu, wd};
    pool_run(pool, dense_part, &j);
}
