/* cosxent.h - the margin-softmax cross entropy over K cosine logits that the full, random and
 * sampled heads share, computed in column blocks so the (B,K) logit matrix crosses memory as
 * few times as the GEMMs allow (docs/METHOD.md §3.1-§3.5, §6).
 *
 *   z_ik = s clamp(e_i . w_k inv_k, -1, 1) - off_k        (off: sampled's log Q, else 0)
 *   z_it = s g(cos_it) - off_t                            (t = tgt[i]: margin on the target)
 *   loss_i = lse_i(z_i) - z_it    over the columns row i sees: k < Kvis, and its own target
 *   G'_ik = d loss / d cos_ik / B * inv_k = (p_ik - [k = t]) s / B inv_k   (slope on the target)
 *   demb += G' W,   M (K,D) = G'^T E   (M' of cosw.h; the caller moves it through 1/|w|)
 *
 * Blocks of COSXENT_BLOCK columns, each taken while it sits in L2:
 *   sweep 1 per block: logits GEMM into the block, scale + clamp + margin + offset, the block's
 *     row max m_ib, e = exp(z - m_ib) in place and its row sum s_ib (float lanes, fixed order);
 *   per row: M_i = max_b m_ib, S_i = sum_b s_ib exp(m_ib - M_i) (double, block order),
 *     lse_i = M_i + log S_i;
 *   sweep 2 per block: G' = e * (s/B exp(m_ib - lse_i)) inv_k (target column fixed), then the
 *     block's share of demb += G' W and of M = G'^T E (M may be NULL: full forms it per block
 *     in its step instead, cosw_sgd_dense).
 * So the matrix is written once (sweep 1), read and rewritten once (sweep 2), and read by no
 * later pass: ~3 x 4BK bytes of traffic against ~7 for a GEMM / per-row passes / GEMM / GEMM
 * sequence. One exp per logit. The result is deterministic (fixed block and lane order) and
 * independent of the column blocking of the GEMM library, but not bitwise the per-row softmax
 * it replaced (the shift is m_ib, not the row max).
 */
#ifndef DCQB_COSXENT_H
#define DCQB_COSXENT_H

#include <stddef.h>
#include <stdint.h>

#include "margin.h"
#include "pool.h"

#define COSXENT_BLOCK 1024 /* columns per block: (B = 256) x 1024 x 4 B = 1 MB, half an L2 */

struct cosxent {
    int B, K, D;
    int Kvis;                 /* columns >= Kvis are seen only by the row whose target they
                               * are (sampled's appended positives); K for the other heads */
    const float *E;           /* (B,D) unit embeddings */
    const float *W;           /* (K,D) raw class weights */
    const float *inv;         /* (K) 1 / |w_k| */
    const float *off;         /* (K) subtracted from the scaled logit, or NULL */
    const int32_t *tgt;       /* (B) target column of each row, in [0, K) */
    const struct margin_cfg *mc;
};

/* Floats of scratch cosxent_forward_backward and qxent_forward_backward need for B rows, K
 * columns, D dims and a pool of `threads` (each thread past the first keeps a (B,D) partial of
 * demb, and qxent a (B,D) product per thread). */
size_t cosxent_scratch_floats(int B, int K, int D, int threads);

/* G (B,K) <- G' (the logits buffer, reused); demb (B,D) += G' W; M (K,D) <- G'^T E unless M is
 * NULL; scratch of cosxent_scratch_floats(B, K, D, pool_size(pool)). Blocks are shared among
 * the pool's threads (NULL: the caller alone); G' and M do not depend on the thread count,
 * demb's summation order does. Returns sum_i loss_i in double (the caller divides by B).
 * FLOPs: 6BKD (4BKD without M) + ~30BK (exp) + 4BK. */
double cosxent_forward_backward(float *G, float *demb, float *M, float *scratch,
                                struct pool *pool, const struct cosxent *p);

/* DCQ's softmax, same blocks and statistics (REFERENCE.md 2): logits against a queue of L unit
 * keys, a slot whose label equals the row's masked, the positive logit z0 (margin applied, from
 * the row's own key) a column of its own outside the matrix.
 *   z_ij = s clamp(q_i . Q_j, -1, 1)  (Qlab[j] != lab_i),   loss_i = lse_i(z0_i, z_i.) - z0_i
 *   G_ij = p_ij s / B   (0 where masked),   demb += G Q,   p0[i] <- p of the positive
 * G itself is left holding exp(z_ij - m_ib), not G: the block factor s/B exp(m_ib - lse_i) is
 * applied to each block's (B,D) product, which spares a pass over the (B,L) matrix.
 * The caller adds the positive column's gradient (p0 - 1) slope / B k_i itself. */
struct qxent {
    int B, L, D;
    const float *E;       /* (B,D) unit query embeddings */
    const float *Q;       /* (L,D) queue keys */
    const int32_t *Qlab;  /* (L) slot labels (-1: empty, never a class) */
    const int32_t *lab;   /* (B) row labels */
    const float *z0;      /* (B) positive logits */
    float s;              /* scale */
};

/* G (B,L) <- scratch (see above); demb (B,D) += G Q; p0 (B) <- softmax probability of the positive (may alias
 * z0); scratch of cosxent_scratch_floats(B, L, D, pool_size(pool)); threads as above. Returns
 * sum_i loss_i. FLOPs: 4BLD + ~30BL. */
double qxent_forward_backward(float *G, float *demb, float *p0, float *scratch,
                              struct pool *pool, const struct qxent *p);

#endif
