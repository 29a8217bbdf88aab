/* cosxent.c - see cosxent.h. This file includes <cblas.h> (block GEMMs with a leading
 * dimension), so no GSL matrix header here. */
#include "cosxent.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "isa.h"
#include "margin.h"
#include "ops.h"

static int nblocks(int K) { return (K + COSXENT_BLOCK - 1) / COSXENT_BLOCK; }

size_t cosxent_scratch_floats(int B, int K, int D, int threads)
{
    /* block statistics, target logits and slopes; per thread past the first a (B,D) partial of
     * demb; per thread a (B,D) product buffer (qxent) */
    if (threads < 1) threads = 1;
    return 2 * (size_t)B * nblocks(K) + 2 * (size_t)B + (size_t)(2 * threads - 1) * B * D;
}

/* z_j *= f * inv_j over n columns. 2 FLOPs per column. */
DCQB_BODY_ATTR void scale_cols_body(float *z, int n, float f, const float *inv)
{
    for (int j = 0; j < n; j++) z[j] *= f * inv[j];
}
static void scale_cols(float *z, int n, float f, const float *inv);
DCQB_ISA_VARIANTS_VOID(scale_cols, (float *z, int n, float f, const float *inv), (z, n, f, inv))

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

/* One call's working set, shared by the pool threads. Thread t takes blocks t, t + n, ...
 * (interleaved, so a partial last block does not unbalance the split); in sweep 2 thread 0
 * accumulates into demb and thread t > 0 into its own (B,D) partial, added to demb in t order
 * afterwards (the only place the thread count reaches the numbers). */
struct cx_job {
    const struct cosxent *p;
    const struct qxent *q;
    float *G, *demb, *M, *mb, *sb, *zt, *slope, *part;
    int nb, Kvis;
};

static int block_cols(int K, int b, int *j0)
{
    *j0 = b * COSXENT_BLOCK;
    return K - *j0 < COSXENT_BLOCK ? K - *j0 : COSXENT_BLOCK;
}

/* sweep 1 of block b: logits, scale, margin, block max and exp-sum */
static void cx_sweep1(void *arg, int th, int nth)
{
    const struct cx_job *J = arg;
    const struct cosxent *p = J->p;
    const int B = p->B, K = p->K, D = p->D, nb = J->nb;
    const float sc = p->mc->s;
    for (int b = th; b < nb; b += nth) {
        int j0;
        const int n = block_cols(K, b, &j0);
        int nv = J->Kvis - j0; /* visible columns of this block */
        nv = nv < 0 ? 0 : (nv > n ? n : nv);
        /* Z_blk (B,n) = E (B,D) W_blk^T (D,n), leading dimension K: 2BnD FLOPs */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, n, D, 1.0f, p->E, D,
                    p->W + (size_t)j0 * D, D, 0.0f, J->G + j0, K);
        for (int i = 0; i < B; i++) {
            float *z = J->G + (size_t)i * K + j0;
            const int t = p->tgt[i] - j0, tin = t >= 0 && t < n;
            float zti = -INFINITY;
            if (tin) { /* the margin logit, from the raw dot before the scale pass */
                float c = z[t] * p->inv[j0 + t];
                c = c > 1.0f ? 1.0f : (c < -1.0f ? -1.0f : c);
                zti = margin_forward(p->mc, c) - (p->off ? p->off[j0 + t] : 0.0f);
                J->zt[i] = zti; /* one block holds the target: one writer */
                J->slope[i] = margin_backward(p->mc, c);
            }
            /* the max covers the target's margin logit too; the plain s cos_t also in it can
             * only raise the shift, which stays valid for log-sum-exp */
            float m =
                ops_scale_clamp_max(z, p->inv + j0, p->off ? p->off + j0 : NULL, nv, sc, zti);
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
            J->mb[(size_t)i * nb + b] = m;
            J->sb[(size_t)i * nb + b] = s;
        }
    }
}

/* sweep 2 of block b: G' in place, then the block's share of both backward GEMMs */
static void cx_sweep2(void *arg, int th, int nth)
{
    const struct cx_job *J = arg;
    const struct cosxent *p = J->p;
    const int B = p->B, K = p->K, D = p->D, nb = J->nb;
    const float sc = p->mc->s, gs = sc / (float)B;
    float *out = th == 0 ? J->demb : J->part + (size_t)(th - 1) * B * D;
    float beta = th == 0 ? 1.0f : 0.0f; /* a partial starts from zero */
    for (int b = th; b < nb; b += nth) {
        int j0;
        const int n = block_cols(K, b, &j0);
        for (int i = 0; i < B; i++) {
            float *z = J->G + (size_t)i * K + j0;
            scale_cols(z, n, J->sb[(size_t)i * nb + b], p->inv + j0);
            const int t = p->tgt[i] - j0;
            if (t >= 0 && t < n) {
                z[t] -= gs * p->inv[j0 + t];
                z[t] *= J->slope[i] / sc; /* target column: d z / d cos = slope, not s */
            }
        }
        /* demb (B,D) += G'_blk (B,n) W_blk (n,D): 2BnD FLOPs */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, D, n, 1.0f, J->G + j0, K,
                    p->W + (size_t)j0 * D, D, beta, out, D);
        beta = 1.0f;
        /* M_blk (n,D) = G'_blk^T (n,B) E (B,D): 2BnD FLOPs */
        if (J->M)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n, D, B, 1.0f, J->G + j0, K,
                        p->E, D, 0.0f, J->M + (size_t)j0 * D, D);
    }
    if (th > 0 && beta == 0.0f) memset(out, 0, sizeof(float) * (size_t)B * D); /* no block */
}

/* demb += the partials of threads 1..n-1, in that order. */
static void add_partials(float *demb, const float *part, int nth, size_t BD)
{
    for (int t = 1; t < nth; t++)
        for (size_t j = 0; j < BD; j++) demb[j] += part[(size_t)(t - 1) * BD + j];
}

double cosxent_forward_backward(float *G, float *demb, float *M, float *scratch,
                                struct pool *pool, const struct cosxent *p)
{
    const int B = p->B, K = p->K, nb = nblocks(K), nth = pool_size(pool);
    const float gs = p->mc->s / (float)B; /* d loss / d cos = s / B off the target */
    struct cx_job J = {p, NULL, G, demb, M, scratch, NULL, NULL, NULL, NULL, nb,
                       p->Kvis < K ? p->Kvis : K};
    J.sb = J.mb + (size_t)B * nb;
    J.zt = J.sb + (size_t)B * nb;
    J.slope = J.zt + B;
    J.part = J.slope + B;

    pool_run(pool, cx_sweep1, &J);
    /* per row, in row order: lse and the block factors (B nb exps; serial) */
    double total = 0;
    for (int i = 0; i < B; i++)
        total += combine(J.mb + (size_t)i * nb, J.sb + (size_t)i * nb, nb, -INFINITY, gs, NULL) -
                 (double)J.zt[i];
    pool_run(pool, cx_sweep2, &J);
    add_partials(demb, J.part, nth, (size_t)B * p->D);
    return total;
}

/* y_d += a x_d over D. */
DCQB_BODY_ATTR void axpy_row_body(float *y, const float *x, float a, int D)
{
    for (int d = 0; d < D; d++) y[d] += a * x[d];
}
static void axpy_row(float *y, const float *x, float a, int D);
DCQB_ISA_VARIANTS_VOID(axpy_row, (float *y, const float *x, float a, int D), (y, x, a, D))

static void qx_sweep1(void *arg, int th, int nth)
{
    const struct cx_job *J = arg;
    const struct qxent *p = J->q;
    const int B = p->B, L = p->L, D = p->D, nb = J->nb;
    for (int b = th; b < nb; b += nth) {
        int j0;
        const int n = block_cols(L, b, &j0);
        /* G_blk (B,n) = E (B,D) Q_blk^T, leading dimension L: 2BnD FLOPs */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, n, D, 1.0f, p->E, D,
                    p->Q + (size_t)j0 * D, D, 0.0f, J->G + j0, L);
        for (int i = 0; i < B; i++) {
            float *z = J->G + (size_t)i * L + j0;
            const int32_t y = p->lab[i], *lab = p->Qlab + j0;
            float m = ops_queue_scale_max(z, lab, y, n, p->s), s = 0;
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
            J->mb[(size_t)i * nb + b] = m;
            J->sb[(size_t)i * nb + b] = s;
        }
    }
}

static void qx_sweep2(void *arg, int th, int nth)
{
    const struct cx_job *J = arg;
    const struct qxent *p = J->q;
    const int B = p->B, L = p->L, D = p->D, nb = J->nb;
    float *out = th == 0 ? J->demb : J->part + (size_t)(th - 1) * B * D;
    /* this thread's (B,D) product buffer, after the nth - 1 partials */
    float *tmp = J->part + (size_t)(nth - 1 + th) * B * D;
    if (th > 0) memset(out, 0, sizeof(float) * (size_t)B * D);
    for (int b = th; b < nb; b += nth) {
        int j0;
        const int n = block_cols(L, b, &j0);
        /* demb_i += f_ib (e_i,blk . Q_blk): the block factor is applied to the (B,D) product
         * instead of the (B,n) exponentials, which saves a pass over the block (nothing else
         * reads G). tmp (B,D) = E_blk (B,n) Q_blk (n,D): 2BnD FLOPs; then 2BD */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, D, n, 1.0f, J->G + j0, L,
                    p->Q + (size_t)j0 * D, D, 0.0f, tmp, D);
        for (int i = 0; i < B; i++)
            axpy_row(out + (size_t)i * D, tmp + (size_t)i * D, J->sb[(size_t)i * nb + b], D);
    }
}

double qxent_forward_backward(float *G, float *demb, float *p0, float *scratch,
                              struct pool *pool, const struct qxent *p)
{
    const int B = p->B, nb = nblocks(p->L), nth = pool_size(pool);
    const float gs = p->s / (float)B;
    struct cx_job J = {NULL, p, G, demb, NULL, scratch, NULL, NULL, NULL, NULL, nb, 0};
    J.sb = J.mb + (size_t)B * nb;
    J.part = J.sb + (size_t)B * nb + 2 * (size_t)B;
    pool_run(pool, qx_sweep1, &J);
    double total = 0;
    for (int i = 0; i < B; i++) {
        const float x = p->z0[i]; /* before p0[i] is written: p0 may alias z0 */
        total += combine(J.mb + (size_t)i * nb, J.sb + (size_t)i * nb, nb, x, gs, p0 + i) - (double)x;
    }
    pool_run(pool, qx_sweep2, &J);
    add_partials(demb, J.part, nth, (size_t)B * p->D);
    return total;
}
