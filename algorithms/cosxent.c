/* cosxent.c - see cosxent.h. This file includes <cblas.h> (block GEMMs with a leading
 * dimension), so no GSL matrix header here. */
#include "cosxent.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "margin.h"
#include "ops.h"

static int nblocks(int K) { return (K + COSXENT_BLOCK - 1) / COSXENT_BLOCK; }

size_t cosxent_scratch_floats(int B, int K) { return 2 * (size_t)B * nblocks(K) + 2 * (size_t)B; }

/* A signed int whose order is the float order (negatives have their magnitude bits flipped),
 * and back (the map is its own inverse). */
static inline int32_t float_key(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    u ^= (0u - (u >> 31)) & 0x7fffffffu;
    return (int32_t)u;
}

static inline float key_float(int32_t k)
{
    uint32_t u = (uint32_t)k;
    u ^= (0u - (u >> 31)) & 0x7fffffffu;
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* z_j <- s clamp(z_j inv_j, -1, 1) (- off_j) over n columns in place, then the max of the
 * results and `start`. Two plain loops over a block segment that stays in L1: fused into one,
 * GCC 12 kept the 16 max lanes in scalar registers and the pass cost half a GEMM. 3-4 FLOPs
 * per column. */
__attribute__((target_clones("avx512f", "avx2", "default")))
static float scale_clamp_max(float *z, const float *inv, const float *off, int n, float sc,
                             float start)
{
    if (off)
        for (int j = 0; j < n; j++) {
            float c = z[j] * inv[j];
            c = c > 1.0f ? 1.0f : (c < -1.0f ? -1.0f : c);
            z[j] = sc * c - off[j];
        }
    else
        for (int j = 0; j < n; j++) {
            float c = z[j] * inv[j];
            c = c > 1.0f ? 1.0f : (c < -1.0f ? -1.0f : c);
            z[j] = sc * c;
        }
    /* the max as an integer max over order-preserving keys of the float bits: GCC vectorises
     * an int max reduction but not a float one (NaN semantics); exact, and a NaN (key above
     * +inf) comes out as the max, so it still poisons the row */
    int32_t mk = float_key(start);
    for (int j = 0; j < n; j++) {
        int32_t k = float_key(z[j]);
        mk = k > mk ? k : mk;
    }
    return key_float(mk);
}

/* z_j *= f * inv_j over n columns. 2 FLOPs per column. */
__attribute__((target_clones("avx512f", "avx2", "default")))
static void scale_cols(float *z, int n, float f, const float *inv)
{
    for (int j = 0; j < n; j++) z[j] *= f * inv[j];
}

/* One row's lse from its block maxima m[b] and sums s[b] (and an extra logit x outside the
 * blocks, -inf for none): M = max, S = sum_b s_b exp(m_b - M) (+ exp(x - M)) in double, in block
 * order; then s[b] <- gs exp(m_b - lse), the factor that turns a block's e = exp(z - m_b) into
 * p gs, and *px <- exp(x - lse) if px. NaN anywhere reaches S through the sums (exp_poly keeps
 * NaN), so it reaches the loss. Returns lse. */
static double combine(const float *m, float *s, int nb, float x, float gs, float *px)
{
    float mx = x;
    for (int b = 0; b < nb; b++) mx = m[b] > mx ? m[b] : mx;
    double S = x > -INFINITY ? exp((double)x - mx) : 0.0;
    for (int b = 0; b < nb; b++)
        if (s[b] != 0.0f) S += (double)s[b] * exp((double)m[b] - mx);
    if (x != x) S = x; /* a NaN positive logit */
    double lse = (double)mx + log(S);
    for (int b = 0; b < nb; b++)
        s[b] = s[b] != 0.0f ? (float)((double)gs * exp((double)m[b] - lse)) : 0.0f;
    if (px) *px = (float)exp((double)x - lse);
    return lse;
}

double cosxent_forward_backward(float *G, float *demb, float *M, float *scratch,
                                const struct cosxent *p)
{
    const int B = p->B, K = p->K, D = p->D, nb = nblocks(K);
    const int Kvis = p->Kvis < K ? p->Kvis : K;
    const float sc = p->mc->s, gs = sc / (float)B; /* d loss / d cos = s / B off the target */
    float *mb = scratch, *sb = mb + (size_t)B * nb, *zt = sb + (size_t)B * nb, *slope = zt + B;

    /* sweep 1: logits, scale, margin, block max and exp-sum, block by block */
    for (int b = 0; b < nb; b++) {
        const int j0 = b * COSXENT_BLOCK, n = K - j0 < COSXENT_BLOCK ? K - j0 : COSXENT_BLOCK;
        int nv = Kvis - j0; /* visible columns of this block */
        nv = nv < 0 ? 0 : (nv > n ? n : nv);
        /* Z_blk (B,n) = E (B,D) W_blk^T (D,n), leading dimension K: 2BnD FLOPs */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, n, D, 1.0f, p->E, D,
                    p->W + (size_t)j0 * D, D, 0.0f, G + j0, K);
        for (int i = 0; i < B; i++) {
            float *z = G + (size_t)i * K + j0;
            const int t = p->tgt[i] - j0, tin = t >= 0 && t < n;
            float zti = -INFINITY;
            if (tin) { /* the margin logit, from the raw dot before the scale pass */
                float c = z[t] * p->inv[j0 + t];
                c = c > 1.0f ? 1.0f : (c < -1.0f ? -1.0f : c);
                zti = margin_forward(p->mc, c) - (p->off ? p->off[j0 + t] : 0.0f);
                zt[i] = zti;
                slope[i] = margin_backward(p->mc, c);
            }
            /* the max covers the target's margin logit too; the plain s cos_t also in it can
             * only raise the shift, which stays valid for log-sum-exp */
            float m = scale_clamp_max(z, p->inv + j0, p->off ? p->off + j0 : NULL, nv, sc, zti);
            float s = 0;
            if (tin && t < nv) z[t] = zti;
            if (nv > 0 && m > -INFINITY)
                s = ops_exp_shift_sum(z, nv, m);
            else if (nv > 0) /* visible logits, none above -inf: NaN; poison the row's sum */
                s = NAN;
            for (int j = nv; j < n; j++) z[j] = 0.0f; /* others' positives: not in this row */
            if (tin && t >= nv) { /* own positive past Kvis: one more term */
                z[t] = ops_exp_poly(zti - m);
                s += z[t];
            }
            mb[(size_t)i * nb + b] = m;
            sb[(size_t)i * nb + b] = s;
        }
    }

    double total = 0;
    for (int i = 0; i < B; i++)
        total += combine(mb + (size_t)i * nb, sb + (size_t)i * nb, nb, -INFINITY, gs, NULL) -
                 (double)zt[i];

    /* sweep 2: G' in place, then the block's share of both backward GEMMs */
    for (int b = 0; b < nb; b++) {
        const int j0 = b * COSXENT_BLOCK, n = K - j0 < COSXENT_BLOCK ? K - j0 : COSXENT_BLOCK;
        for (int i = 0; i < B; i++) {
            float *z = G + (size_t)i * K + j0;
            scale_cols(z, n, sb[(size_t)i * nb + b], p->inv + j0);
            const int t = p->tgt[i] - j0;
            if (t >= 0 && t < n) {
                z[t] -= gs * p->inv[j0 + t];
                z[t] *= slope[i] / sc; /* target column: d z / d cos = slope, not s */
            }
        }
        /* demb (B,D) += G'_blk (B,n) W_blk (n,D): 2BnD FLOPs */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, D, n, 1.0f, G + j0, K,
                    p->W + (size_t)j0 * D, D, 1.0f, demb, D);
        /* M_blk (n,D) = G'_blk^T (n,B) E (B,D): 2BnD FLOPs */
        if (M)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n, D, B, 1.0f, G + j0, K, p->E,
                        D, 0.0f, M + (size_t)j0 * D, D);
    }
    return total;
}

/* z_j <- Qlab[j] == y ? -inf : s clamp(z_j, -1, 1) over n slots in place, and the max of the
 * results (integer keys, as above). 3 FLOPs per column. */
__attribute__((target_clones("avx512f", "avx2", "default")))
static float queue_scale_max(float *z, const int32_t *lab, int32_t y, int n, float sc)
{
    for (int j = 0; j < n; j++) {
        float c = z[j];
        c = c > 1.0f ? 1.0f : (c < -1.0f ? -1.0f : c);
        z[j] = lab[j] == y ? -INFINITY : sc * c;
    }
    int32_t mk = float_key(-INFINITY);
    for (int j = 0; j < n; j++) {
        int32_t k = float_key(z[j]);
        mk = k > mk ? k : mk;
    }
    return key_float(mk);
}

/* z_j *= f over n columns. */
__attribute__((target_clones("avx512f", "avx2", "default")))
static void scale_all(float *z, int n, float f)
{
    for (int j = 0; j < n; j++) z[j] *= f;
}

double qxent_forward_backward(float *G, float *demb, float *p0, float *scratch,
                              const struct qxent *p)
{
    const int B = p->B, L = p->L, D = p->D, nb = nblocks(L);
    const float sc = p->s, gs = sc / (float)B;
    float *mb = scratch, *sb = mb + (size_t)B * nb;

    /* sweep 1: logits, scale, mask, block max and exp-sum */
    for (int b = 0; b < nb; b++) {
        const int j0 = b * COSXENT_BLOCK, n = L - j0 < COSXENT_BLOCK ? L - j0 : COSXENT_BLOCK;
        /* G_blk (B,n) = E (B,D) Q_blk^T, leading dimension L: 2BnD FLOPs */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, n, D, 1.0f, p->E, D,
                    p->Q + (size_t)j0 * D, D, 0.0f, G + j0, L);
        for (int i = 0; i < B; i++) {
            float *z = G + (size_t)i * L + j0;
            const int32_t y = p->lab[i], *lab = p->Qlab + j0;
            float m = queue_scale_max(z, lab, y, n, sc), s = 0;
            if (m > -INFINITY)
                s = ops_exp_shift_sum_mask(z, lab, y, n, m);
            else { /* every slot masked (s = 0), or an unmasked NaN logit: poison the sum */
                int unmasked = 0;
                for (int j = 0; j < n; j++) {
                    unmasked |= lab[j] != y;
                    z[j] = 0.0f;
                }
                s = unmasked ? NAN : 0.0f;
            }
            mb[(size_t)i * nb + b] = m;
            sb[(size_t)i * nb + b] = s;
        }
    }
    double total = 0;
    for (int i = 0; i < B; i++) {
        const float x = p->z0[i]; /* before p0[i] is written: p0 may alias z0 */
        total += combine(mb + (size_t)i * nb, sb + (size_t)i * nb, nb, x, gs, p0 + i) - (double)x;
    }

    /* sweep 2: G = p s / B in place, then the block's share of demb += G Q */
    for (int b = 0; b < nb; b++) {
        const int j0 = b * COSXENT_BLOCK, n = L - j0 < COSXENT_BLOCK ? L - j0 : COSXENT_BLOCK;
        for (int i = 0; i < B; i++) scale_all(G + (size_t)i * L + j0, n, sb[(size_t)i * nb + b]);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, D, n, 1.0f, G + j0, L,
                    p->Q + (size_t)j0 * D, D, 1.0f, demb, D);
    }
    return total;
}
