/* cosw.h - row kernels shared by the heads that learn normalised class weights (full, random,
 * sampled): logits use cos = e . w_j / |w_j|, so each head keeps inv_j = 1 / |w_j| and moves
 * the data gradient M'_j through the normalisation before its SGD step (REFERENCE.md 3, 4).
 *
 *   d L / d w_j = M'_j - (M'_j . w_j) / |w_j|^2 w_j      with M'_j = sum_i dz_ij e_i / |w_j|
 *
 * One copy of this arithmetic, so the three heads agree bit for bit where they should (random at
 * r = 1 equals full; tested).
 */
#ifndef DCQB_COSW_H
#define DCQB_COSW_H

#include <stddef.h>
#include <stdint.h>

#include "dcqb.h"

/* 1 / max(|w|, 1e-12) of one row w (D). 2D FLOPs, sum in double. */
float cosw_inv_norm(const float *w, int D);

/* inv (C) = 1 / |w_j| for every row of W (C,D). 2CD FLOPs. */
void cosw_norms(float *inv, const float *W, int64_t C, int D);

/* o (D) = m - (m . w) inv^2 w: the gradient w.r.t. the raw row w, given m = M'_j. 4D FLOPs. */
void cosw_project_row(float *o, const float *m, const float *w, float inv, int D);

/* dW (C,D) = 0, then for each touched class cls[k]: its row = the projection of dWK[k] (K,D).
 * The dense gradient a subset head reports to `head check`. */
void cosw_scatter_grad(float *dW, int64_t C, int D, const int32_t *cls, int K, const float *dWK,
                       const float *W, const float *inv);

/* head_ops.set_weights for these heads: W (C,D) <- src (src_C, src_D) after a shape check
 * naming `head`, then inv <- 1 / |w_j|. */
int cosw_set_weights(float *W, float *inv, int64_t C, int D, const float *src, int64_t src_C,
                     int src_D, const char *head, struct dcqb_err *err);

/* SGD on one row, PyTorch convention, then its new inverse norm:
 *   g = m - (m . w) inv^2 w + wd w;  v = mu v + g;  w -= lr v;  inv = 1 / |w|
 * m == NULL means no data gradient this step (Partial FC v2's unsampled rows: decay and
 * momentum only). ~13 FLOPs per element; streams w, v, m once. */
void cosw_sgd_row(float *w, float *v, float *inv, const float *m, int D, float lr, float mu,
                  float wd);

#endif
