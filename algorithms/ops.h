/* ops.h - dense kernels shared by the backbone and the heads: three GEMM shapes over OpenBLAS
 * cblas_sgemm (each with a naive `_ref` twin for tests), row L2 normalisation forward/backward,
 * and the vectorised exp-and-sum of the blocked softmaxes in cosxent.h (REFERENCE.md sections 2
 * and 4; STYLE.md 2.6).
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

/* y (B,D) = x / max(|x|, 1e-12) per row (F.normalize); norms (B) <- |x| (unclamped).
 * y may alias x.  3BD FLOPs. */
void l2norm_forward(float *y, float *norms, const float *x, int B, int D);
/* dx (B,D) += (g - (g.y) y) / max(|x|, 1e-12), with y the forward output and norms from it.
 * 4BD FLOPs. */
void l2norm_backward(float *dx, const float *g, const float *y, const float *norms, int B, int D);

/* x[j] <- exp(x[j] - mx) over n <= 1024 floats in place (a vectorised polynomial exp), and
 * their sum in 16 fixed float lanes joined in a fixed order. For blocked softmaxes (cosxent). */
float ops_exp_shift_sum(float *x, int n, float mx);
/* The same with x[j] <- 0 (and nothing summed) where lab[j] == y: DCQ's own-label mask, as an
 * int compare and a select, so the loop vectorises. */
float ops_exp_shift_sum_mask(float *x, const int32_t *lab, int32_t y, int n, float mx);
/* The vectorisable exp those use, for x in [-87, 0] (clamped below): tests only. */
float ops_exp_poly(float x);

#endif
