/* optim.h - SGD with momentum and weight decay (PyTorch convention), and the learning-rate
 * schedules the training loop offers.
 *   g' = g + wd * w;   v <- momentum * v + g';   w <- w - lr * v
 */
#ifndef DCQB_OPTIM_H
#define DCQB_OPTIM_H

#include "dcqb.h"

struct optim_cfg {
    float momentum;    /* 0.9 */
    float weight_decay;/* 5e-4 */
};

/* w, v: (n). g: (n), read only. */
void sgd_step(float *w, float *v, const float *g, size_t n, float lr, const struct optim_cfg *o);

enum lr_schedule { LR_COSINE = 0, LR_STEP, LR_LINEAR, LR_CONSTANT };

struct lr_cfg {
    float base;        /* peak learning rate (0.1) */
    int schedule;      /* enum lr_schedule */
    double warmup;     /* fraction of the steps spent in linear warm-up from 0 (0.05) */
    double step_at[4]; /* LR_STEP: fractions of the run where lr *= step_gamma (0.5, 0.75) */
    int n_step_at;
    float step_gamma;  /* 0.1 */
};

/* Learning rate at step t of T (0-based). */
float lr_at(const struct lr_cfg *c, int64_t t, int64_t T);

#endif
