/* cosw.c - see cosw.h.
 *
 * The row sums (|w|^2, m . w) are accumulated in double in COSW_LANES independent partial sums
 * that are combined in a fixed order at the end. One running sum is a chain of dependent adds
 * (4 cycles each): over 1e6 rows x 128 that chain alone cost ~0.4 s per full-head step. Eight
 * lanes let the compiler use vector registers and keep the result independent of how it
 * vectorises: the order of every addition is fixed by this code, not by the compiler.
 */
#include "cosw.h"

#include <math.h>
#include <string.h>

#define COSW_LANES 8

/* sum_d a[d] * b[d] in double, lanes combined pairwise in a fixed order. */
static double dot_lanes(const float *a, const float *b, int D)
{
    double acc[COSW_LANES] = {0};
    int d = 0;
    for (; d + COSW_LANES <= D; d += COSW_LANES)
        for (int l = 0; l < COSW_LANES; l++) acc[l] += (double)a[d + l] * b[d + l];
    for (int l = 0; d < D; d++, l++) acc[l] += (double)a[d] * b[d];
    return ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
}

static float inv_of(double ss)
{
    double n = sqrt(ss);
    return (float)(1.0 / (n > 1e-12 ? n : 1e-12));
}

float cosw_inv_norm(const float *w, int D) { return inv_of(dot_lanes(w, w, D)); }

void cosw_norms(float *inv, const float *W, int64_t C, int D)
{
    for (int64_t j = 0; j < C; j++) inv[j] = cosw_inv_norm(W + (size_t)j * D, D);
}

void cosw_project_row(float *o, const float *m, const float *w, float inv, int D)
{
    float k = (float)(dot_lanes(m, w, D) * inv * inv);
    for (int d = 0; d < D; d++) o[d] = m[d] - k * w[d];
}

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

void cosw_sgd_row(float *w, float *v, float *inv, const float *m, int D, float lr, float mu,
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
    *inv = cosw_inv_norm(w, D);
}
