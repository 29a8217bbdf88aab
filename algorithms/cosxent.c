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

    /* per row: lse from the block maxima and sums (double, block order); the block factors
     * s/B exp(m_ib - lse_i) replace the sums */
    double total = 0;
    for (int i = 0; i < B; i++) {
        float *mi = mb + (size_t)i * nb, *si = sb + (size_t)i * nb;
        float mx = -INFINITY;
        for (int b = 0; b < nb; b++) mx = mi[b] > mx ? mi[b] : mx;
        double S = 0;
        for (int b = 0; b < nb; b++)
            if (si[b] != 0.0f) S += (double)si[b] * exp((double)mi[b] - mx);
        /* NaN anywhere in the row reaches S through the sums (exp_poly keeps NaN) */
        double lse = (double)mx + log(S);
        total += lse - (double)zt[i];
        for (int b = 0; b < nb; b++)
            si[b] = si[b] != 0.0f ? (float)((double)gs * exp((double)mi[b] - lse)) : 0.0f;
    }

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
