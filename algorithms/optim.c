/* optim.c - SGD with momentum and weight decay (PyTorch torch.optim.SGD, dampening 0, no
 * Nesterov: its first-step buffer = g' equals momentum * 0 + g') and the learning-rate
 * schedules (docs/METHOD.md §2: 5 % linear warm-up then cosine to 0 by default; linear to 0
 * is Partial FC's arcface_torch schedule).
 */
#include "optim.h"

#include <math.h>

void sgd_step(float *w, float *v, const float *g, size_t n, float lr, const struct optim_cfg *o)
{
    /* w, v, g (n): 5 FLOPs and 5 floats moved per element */
    float mu = o->momentum, wd = o->weight_decay;
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] + wd * w[i];
        v[i] = mu * v[i] + gi;
        w[i] -= lr * v[i];
    }
}

/* Warm-up: W = floor(warmup * T) steps, lr = base * (t + 1) / W for t < W (reaches base at the
 * last warm-up step, never 0). After it the schedule runs over p = (t - W) / (T - W) in [0, 1]:
 * cosine base * (1 + cos(pi p)) / 2, linear base * (1 - p), step base * gamma^(number of
 * step_at fractions f with t >= f * T), constant base. t >= T gives the p = 1 value. */
float lr_at(const struct lr_cfg *c, int64_t t, int64_t T)
{
    if (T < 1) T = 1;
    if (t < 0) t = 0;
    int64_t W = c->warmup > 0 ? (int64_t)(c->warmup * (double)T) : 0;
    if (W > T) W = T;
    if (t < W) return (float)((double)c->base * (double)(t + 1) / (double)W);
    double p = T > W ? (double)(t - W) / (double)(T - W) : 1.0;
    if (p > 1.0) p = 1.0;
    switch (c->schedule) {
    case LR_COSINE: return (float)((double)c->base * 0.5 * (1.0 + cos(3.14159265358979323846 * p)));
    case LR_LINEAR: return (float)((double)c->base * (1.0 - p));
    case LR_STEP: {
        double lr = c->base;
        for (int i = 0; i < c->n_step_at && i < 4; i++)
            if ((double)t >= c->step_at[i] * (double)T) lr *= c->step_gamma;
        return (float)lr;
    }
    default: return c->base;
    }
}
