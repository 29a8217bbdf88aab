/* cosw.h - row kernels shared by the heads that learn normalised class weights (full, random,
 * sampled): logits use cos = e . w_j / |w_j|, so each head keeps inv_j = 1 / |w_j| and moves
 * the data gradient M'_j through the normalisation before its SGD step (docs/METHOD.md §3.2,
 * §3.3).
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
#include "pool.h"

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

/* SGD (cosw_sgd_row) on the K rows cls[k] of W, V, inv (C rows each), the data gradient of
 * class cls[k] being row mk[k] of MK (mk == NULL: row k); cls == NULL means rows 0..K-1 (the
 * full head). A subset's rows are scattered over the table, so each one starts with a cache
 * miss on w and on v: the rows COSW_AHEAD entries ahead are prefetched while this one is
 * updated (latency, not bandwidth, bounded these loops), and callers pass cls in increasing
 * order where they can (cosw_mark_order), which keeps the misses in DRAM page order. Rows are
 * independent, so the order (and the split among pool threads, NULL: caller only) changes no
 * result. Same arithmetic as cosw_sgd_row. */
void cosw_sgd_rows(float *W, float *V, float *inv, const int32_t *cls, const int32_t *mk,
                   int64_t K, const float *MK, int D, float lr, float mu, float wd,
                   struct pool *pool);

/* The full head's step without a (C,D) gradient array: per block of COSXENT_BLOCK classes,
 * M'_blk = G'_blk^T E (G' (B,C) the kept logits buffer, E (B,D) the step's embeddings) into
 * this thread's Mbuf (COSXENT_BLOCK x D floats per pool thread), then cosw_sgd_row on those
 * rows while they are in L2. 2BCD + ~13CD FLOPs; streams W and V once, G' once. Rows are
 * independent: the result does not depend on the pool size. */
void cosw_sgd_dense(float *W, float *V, float *inv, float *Mbuf, const float *G, const float *E,
                    int B, int64_t C, int D, float lr, float mu, float wd, struct pool *pool);

/* The marked classes in increasing order: for c in [0, C) with pos[c] >= 0, cls[n] = c and
 * mk[n] = pos[c]; returns n. A sequential scan of pos (4C bytes). */
int64_t cosw_mark_order(int32_t *cls, int32_t *mk, const int32_t *pos, int64_t C);

/* Row k of WK (K,D) <- row cls[k] of W, invK[k] <- inv[cls[k]]: the gather of a subset head,
 * prefetched like cosw_sgd_rows. (Reading W in address order through the cosw_mark_order
 * lists scatters the writes instead, and measured slower: 1e5 of
 * 1e6 rows at D = 128, ~270 ms against ~210 ms for the whole forward_backward.) K D floats read
 * and written. */
void cosw_gather_rows(float *WK, float *invK, const float *W, const float *inv,
                      const int32_t *cls, int64_t K, int D, struct pool *pool);

#endif
