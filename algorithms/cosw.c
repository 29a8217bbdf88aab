/* cosw.c - see cosw.h. Plain loops with double accumulators: the order of every sum is fixed,
 * so results do not depend on vectorisation. */
#include "cosw.h"

#include <math.h>

float cosw_inv_norm(const float *w, int D)
{
    double ss = 0;
    for (int d = 0; d < D; d++) ss += (double)w[d] * w[d];
    double n = sqrt(ss);
    return (float)(1.0 / (n > 1e-12 ? n : 1e-12));
}

void cosw_norms(float *inv, const float *W, int64_t C, int D)
{
    for (int64_t j = 0; j < C; j++) inv[j] = cosw_inv_norm(W + (size_t)j * D, D);
}

void cosw_project_row(float *o, const float *m, const float *w, float inv, int D)
{
    double t = 0;
    for (int d = 0; d < D; d++) t += (double)m[d] * w[d];
    float k = (float)(t * inv * inv);
    for (int d = 0; d < D; d++) o[d] = m[d] - k * w[d];
}

void cosw_sgd_row(float *w, float *v, float *inv, const float *m, int D, float lr, float mu,
                  float wd)
{
    float k = 0;
    if (m) {
        double dot = 0;
        for (int d = 0; d < D; d++) dot += (double)m[d] * w[d];
        k = (float)(dot * *inv * *inv);
    }
    double ss = 0;
    for (int d = 0; d < D; d++) {
        float g = (m ? m[d] - k * w[d] : 0.0f) + wd * w[d];
        v[d] = mu * v[d] + g;
        w[d] -= lr * v[d];
        ss += (double)w[d] * w[d];
    }
    double n = sqrt(ss);
    *inv = (float)(1.0 / (n > 1e-12 ? n : 1e-12));
}
