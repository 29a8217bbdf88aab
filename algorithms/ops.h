/* ops.h - dense kernels shared by the backbone and the heads: three GEMM shapes over OpenBLAS
 * cblas_sgemm (each with a naive `_ref` twin for tests), row L2 normalisation forward/backward,
 * and the vectorised exp-and-sum of the blocked softmaxes in cosxent.h (docs/METHOD.md §2, §3).
 *
 * Dim letters, fixed here once for the whole project:
 *   B batch rows, D embedding (or a layer's input width), C total classes,
 *   K active columns this step (a layer's output width, sampled subset, queue length, or C),
 *   N dataset size.
 * Every matrix is row-major and dense (leading dimension = its column count).
 */
#ifndef DCQB_OPS_H
#define DCQB_OPS_H

#include <stddef.h>
#include <stdint.h>

/* out (B,K) = alpha * a (B,D) x w (K,D)^T + beta * out.   2BKD FLOPs.
 * Logits from embeddings and class weights; a Linear layer y = x W^T. */
void matmul_bd_kd_to_bk(float *out, const float *a, const float *w, int B, int K, int D,
                        float alpha, float beta);
void matmul_bd_kd_to_bk_ref(float *out, const float *a, const float *w, int B, int K, int D,
                            float alpha, float beta);

/* out (B,D) = alpha * g (B,K) x w (K,D) + beta * out.   2BKD FLOPs.
 * d emb from d logits; dx of a Linear layer. */
void matmul_bk_kd_to_bd(float *out, const float *g, const float *w, int B, int K, int D,
                        float alpha, float beta);
void matmul_bk_kd_to_bd_ref(float *out, const float *g, const float *w, int B, int K, int D,
                            float alpha, float beta);

/* out (K,D) = alpha * g (B,K)^T x a (B,D) + beta * out.   2BKD FLOPs.
 * d W from d logits; dW of a Linear layer (beta = 1 accumulates). */
void matmul_bk_bd_to_kd(float *out, const float *g, const float *a, int B, int K, int D,
                        float alpha, float beta);
void matmul_bk_bd_to_kd_ref(float *out, const float *g, const float *a, int B, int K, int D,
                            float alpha, float beta);

/* Row L2 normalisation: the one implementation, for the training step (q and keys), DCQ's
 * queue slots and evaluation. |x|^2 is summed in double in row order everywhere; how the
 * scale is rounded differs between the three uses, and each use's digests or metrics are
 * pinned to its rounding (a shared rounding moves about one row in four by an ulp), so the
 * rounding is an argument rather than three copies of the loop:
 *   L2NORM_F32_SCALE  s = 1.0f / max((float)|x|, 1e-12f), y = x s in float; norms <- that
 *                     clamped float |x|. The training step (l2norm_backward divides by it).
 *   L2NORM_F64_SCALE  s = (float)(1.0 / max(|x|, 1e-12)), y = x s in float; norms <- (float)|x|.
 *                     DCQ's initial queue slots and the embeddings of a run's evaluation sets.
 *   L2NORM_F64_EXACT  y = (float)(x / |x|) in double, rows with |x|^2 within 1e-6 of 1 copied
 *                     bit for bit, rows with no direction set to zero; norms <- (float)|x|.
 *                     Evaluation of given embeddings (docs/METHOD.md §4: scores are cosines).
 * x, y (n,d), y may alias x; norms (n) or NULL. Returns the rows with no direction
 * (!(|x|^2 > 0)), which only L2NORM_F64_EXACT zeroes.  3nd FLOPs. */
enum l2norm_round { L2NORM_F32_SCALE, L2NORM_F64_SCALE, L2NORM_F64_EXACT };
int64_t l2norm_forward(float *y, float *norms, const float *x, int64_t n, int d,
                       enum l2norm_round round);
/* dx (n,d) = (g - (g.y) y) / max(norm, 1e-12f) per row (overwrites dx), y and norms from
 * l2norm_forward; the division is in float (the training step's arithmetic).  4nd FLOPs. */
void l2norm_backward(float *dx, const float *g, const float *y, const float *norms, int64_t n,
                     int d);

/* x[j] <- exp(x[j] - mx) over n <= 1024 floats in place (a vectorised polynomial exp), and
 * their sum in 16 fixed float lanes joined in a fixed order. For blocked softmaxes (cosxent). */
float ops_exp_shift_sum(float *x, int n, float mx);
/* The same with x[j] <- 0 (and nothing summed) where lab[j] == y: DCQ's own-label mask, as an
 * int compare and a select, so the loop vectorises. */
float ops_exp_shift_sum_mask(float *x, const int32_t *lab, int32_t y, int n, float mx);
/* z_j <- s clamp(z_j inv_j, -1, 1) (- off_j if off) over n columns in place; returns the max
 * of the results and `start` (a NaN wins). The cosine softmax's scale pass (cosxent). */
float ops_scale_clamp_max(float *z, const float *inv, const float *off, int n, float sc,
                          float start);
/* z_j <- lab[j] == y ? -inf : s clamp(z_j, -1, 1) over n queue slots in place; returns the max
 * (DCQ's queue logits, cosxent's qxent). */
float ops_queue_scale_max(float *z, const int32_t *lab, int32_t y, int n, float sc);
/* The vectorisable exp those use, for x in [-87, 0] (clamped below): tests only. */
float ops_exp_poly(float x);

#endif
