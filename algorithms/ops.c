/* ops.c - BLAS-backed GEMM helpers with naive twins, row L2 normalisation and the fused
 * log-softmax cross entropy (REFERENCE.md section 4: dL/dz = (p - onehot)/B; STYLE.md 2.6).
 * This file includes <cblas.h>: never a GSL randist/matrix header here (they clash).
 */
#include "ops.h"

#include <cblas.h>
#include <math.h>

/* ---- GEMM helpers ------------------------------------------------------------------------ */

void matmul_bd_kd_to_bk(float *out, const float *a, const float *w, int B, int K, int D,
                        float alpha, float beta)
{
    /* a (B,D), w (K,D), out (B,K) */
    if (B <= 0 || K <= 0) return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, K, D, alpha, a, D, w, D, beta, out,
                K);
}

void matmul_bd_kd_to_bk_ref(float *out, const float *a, const float *w, int B, int K, int D,
                            float alpha, float beta)
{
    for (int i = 0; i < B; i++) {
        const float *ai = a + (size_t)i * D;
        float *oi = out + (size_t)i * K;
        for (int k = 0; k < K; k++) {
            const float *wk = w + (size_t)k * D;
            double s = 0;
            for (int d = 0; d < D; d++) s += (double)ai[d] * wk[d];
            oi[k] = (float)(alpha * s + (beta == 0.0f ? 0.0 : (double)beta * oi[k]));
        }
    }
}

void matmul_bk_kd_to_bd(float *out, const float *g, const float *w, int B, int K, int D,
                        float alpha, float beta)
{
    /* g (B,K), w (K,D), out (B,D) */
    if (B <= 0 || D <= 0) return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, D, K, alpha, g, K, w, D, beta, out,
                D);
}

void matmul_bk_kd_to_bd_ref(float *out, const float *g, const float *w, int B, int K, int D,
                            float alpha, float beta)
{
    for (int i = 0; i < B; i++) {
        const float *gi = g + (size_t)i * K;
        float *oi = out + (size_t)i * D;
        for (int d = 0; d < D; d++) {
            double s = 0;
            for (int k = 0; k < K; k++) s += (double)gi[k] * w[(size_t)k * D + d];
            oi[d] = (float)(alpha * s + (beta == 0.0f ? 0.0 : (double)beta * oi[d]));
        }
    }
}

void matmul_bk_bd_to_kd(float *out, const float *g, const float *a, int B, int K, int D,
                        float alpha, float beta)
{
    /* g (B,K), a (B,D), out (K,D) */
    if (K <= 0 || D <= 0) return;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, D, B, alpha, g, K, a, D, beta, out,
                D);
}

void matmul_bk_bd_to_kd_ref(float *out, const float *g, const float *a, int B, int K, int D,
                            float alpha, float beta)
{
    for (int k = 0; k < K; k++) {
        float *ok = out + (size_t)k * D;
        for (int d = 0; d < D; d++) {
            double s = 0;
            for (int i = 0; i < B; i++) s += (double)g[(size_t)i * K + k] * a[(size_t)i * D + d];
            ok[d] = (float)(alpha * s + (beta == 0.0f ? 0.0 : (double)beta * ok[d]));
        }
    }
}

/* ---- row L2 normalisation ----------------------------------------------------------------- */

#define L2_EPS 1e-12

void l2norm_forward(float *y, float *norms, const float *x, int B, int D)
{
    /* x, y (B,D); norms (B) */
    for (int i = 0; i < B; i++) {
        const float *xi = x + (size_t)i * D;
        float *yi = y + (size_t)i * D;
        double ss = 0;
        for (int d = 0; d < D; d++) ss += (double)xi[d] * xi[d];
        double n = sqrt(ss);
        if (norms) norms[i] = (float)n;
        float inv = (float)(1.0 / (n > L2_EPS ? n : L2_EPS));
        for (int d = 0; d < D; d++) yi[d] = xi[d] * inv;
    }
}

void l2norm_backward(float *dx, const float *g, const float *y, const float *norms, int B, int D)
{
    /* dx, g, y (B,D); norms (B): dx += (g - (g.y) y) / |x| */
    for (int i = 0; i < B; i++) {
        const float *gi = g + (size_t)i * D, *yi = y + (size_t)i * D;
        float *dxi = dx + (size_t)i * D;
        double gy = 0;
        for (int d = 0; d < D; d++) gy += (double)gi[d] * yi[d];
        double n = norms[i];
        float inv = (float)(1.0 / (n > L2_EPS ? n : L2_EPS));
        float c = (float)gy;
        for (int d = 0; d < D; d++) dxi[d] += (gi[d] - c * yi[d]) * inv;
    }
}

/* ---- fused cross entropy ------------------------------------------------------------------ */

/* Max over unskipped columns with four independent lanes (the compiler does not vectorise a
 * float max reduction without fast-math; four chains hide the compare latency). */
static float row_max(const float *z, int K, const uint8_t *skip)
{
    float m0 = -INFINITY, m1 = -INFINITY, m2 = -INFINITY, m3 = -INFINITY;
    int j = 0;
    if (!skip) {
        for (; j + 4 <= K; j += 4) {
            m0 = z[j] > m0 ? z[j] : m0;
            m1 = z[j + 1] > m1 ? z[j + 1] : m1;
            m2 = z[j + 2] > m2 ? z[j + 2] : m2;
            m3 = z[j + 3] > m3 ? z[j + 3] : m3;
        }
    }
    for (; j < K; j++)
        if (!(skip && skip[j]) && z[j] > m0) m0 = z[j];
    m0 = m1 > m0 ? m1 : m0;
    m2 = m3 > m2 ? m3 : m2;
    return m2 > m0 ? m2 : m0;
}

double xent_row_fused(float *dz, const float *z, int K, int target, const uint8_t *skip,
                      float scale, const float *colscale)
{
    return xent_row_fused_max(dz, z, K, target, skip, scale, colscale, row_max(z, K, skip));
}

double xent_row_fused_max(float *dz, const float *z, int K, int target, const uint8_t *skip,
                          float scale, const float *colscale, float mx)
{
    float zt = z[target]; /* read before dz (maybe z) is overwritten */
    /* Pass 2: e_j = exp(z_j - max) into dz, sum in double over four fixed lanes (same order
     * every call: deterministic), merged (0 + 1) + (2 + 3). */
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int j = 0;
    if (skip) {
        for (; j < K; j++) {
            float e = skip[j] ? 0.0f : expf(z[j] - mx);
            dz[j] = e;
            s0 += e;
        }
    } else {
        for (; j + 4 <= K; j += 4) {
            float e0 = expf(z[j] - mx), e1 = expf(z[j + 1] - mx), e2 = expf(z[j + 2] - mx),
                  e3 = expf(z[j + 3] - mx);
            dz[j] = e0, dz[j + 1] = e1, dz[j + 2] = e2, dz[j + 3] = e3;
            s0 += e0, s1 += e1, s2 += e2, s3 += e3;
        }
        for (; j < K; j++) {
            float e = expf(z[j] - mx);
            dz[j] = e;
            s0 += e;
        }
    }
    double sum = (s0 + s1) + (s2 + s3);
    /* Pass 3: dz = (p - onehot) * scale (* colscale); skipped columns stay 0. */
    float f = (float)(scale / sum);
    if (colscale) {
        for (j = 0; j < K; j++) dz[j] *= f * colscale[j];
        dz[target] -= scale * colscale[target];
    } else {
        for (j = 0; j < K; j++) dz[j] *= f;
        dz[target] -= scale;
    }
    return log(sum) + (double)mx - (double)zt;
}

double xent_row_ref(float *dz, const float *z, int K, int target, const uint8_t *skip,
                    float scale, const float *colscale)
{
    double mx = -INFINITY;
    for (int j = 0; j < K; j++)
        if (!(skip && skip[j]) && z[j] > mx) mx = z[j];
    double sum = 0;
    for (int j = 0; j < K; j++)
        if (!(skip && skip[j])) sum += exp((double)z[j] - mx);
    double lse = mx + log(sum);
    for (int j = 0; j < K; j++) {
        double p = (skip && skip[j]) ? 0.0 : exp((double)z[j] - lse);
        double cs = colscale ? colscale[j] : 1.0;
        dz[j] = (float)((p - (j == target ? 1.0 : 0.0)) * scale * cs);
    }
    return lse - z[target];
}
