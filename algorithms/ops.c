/* ops.c - BLAS-backed GEMM helpers with naive twins, row L2 normalisation and the vectorised
 * exp-and-sum the blocked softmaxes are built on (cosxent.c).
 * This file includes <cblas.h>: never a GSL randist/matrix header here (they clash).
 */
#include "ops.h"

#include "isa.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

/* ---- GEMM helpers ------------------------------------------------------------------------ */

void matmul_bd_kd_to_bk(float *out, const float *a, const float *w, int B, int K, int D,
                        float alpha, float beta)
{
    /* a (B,D), w (K,D), out (B,K) */
    if (B <= 0 || K <= 0) return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, K, D, alpha, a, D, w, D, beta, out,
                K);
}

void matmul_bd_kd_to_bk_ref(float *out, const float *a, const float *w, int B, int K, int D,
                            float alpha, float beta)
{
    for (int i = 0; i < B; i++) {
        const float *ai = a + (size_t)i * D;
        float *oi = out + (size_t)i * K;
        for (int k = 0; k < K; k++) {
            const float *wk = w + (size_t)k * D;
            double s = 0;
            for (int d = 0; d < D; d++) s += (double)ai[d] * wk[d];
            oi[k] = (float)(alpha * s + (beta == 0.0f ? 0.0 : (double)beta * oi[k]));
        }
    }
}

void matmul_bk_kd_to_bd(float *out, const float *g, const float *w, int B, int K, int D,
                        float alpha, float beta)
{
    /* g (B,K), w (K,D), out (B,D) */
    if (B <= 0 || D <= 0) return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, D, K, alpha, g, K, w, D, beta, out,
                D);
}

void matmul_bk_kd_to_bd_ref(float *out, const float *g, const float *w, int B, int K, int D,
                            float alpha, float beta)
{
    for (int i = 0; i < B; i++) {
        const float *gi = g + (size_t)i * K;
        float *oi = out + (size_t)i * D;
        for (int d = 0; d < D; d++) {
            double s = 0;
            for (int k = 0; k < K; k++) s += (double)gi[k] * w[(size_t)k * D + d];
            oi[d] = (float)(alpha * s + (beta == 0.0f ? 0.0 : (double)beta * oi[d]));
        }
    }
}

void matmul_bk_bd_to_kd(float *out, const float *g, const float *a, int B, int K, int D,
                        float alpha, float beta)
{
    /* g (B,K), a (B,D), out (K,D) */
    if (K <= 0 || D <= 0) return;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, D, B, alpha, g, K, a, D, beta, out,
                D);
}

void matmul_bk_bd_to_kd_ref(float *out, const float *g, const float *a, int B, int K, int D,
                            float alpha, float beta)
{
    for (int k = 0; k < K; k++) {
        float *ok = out + (size_t)k * D;
        for (int d = 0; d < D; d++) {
            double s = 0;
            for (int i = 0; i < B; i++) s += (double)g[(size_t)i * K + k] * a[(size_t)i * D + d];
            ok[d] = (float)(alpha * s + (beta == 0.0f ? 0.0 : (double)beta * ok[d]));
        }
    }
}

/* ---- row L2 normalisation ----------------------------------------------------------------- */

#define L2_EPS 1e-12

int64_t l2norm_forward(float *y, float *norms, const float *x, int64_t n, int d,
                       enum l2norm_round round)
{
    int64_t n_zero = 0;
    for (int64_t i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * d;
        float *yi = y + (size_t)i * d;
        double ss = 0;
        for (int j = 0; j < d; j++) ss += (double)xi[j] * xi[j];
        n_zero += !(ss > 0);
        double nrm = sqrt(ss);
        if (round == L2NORM_F32_SCALE) {
            float f = (float)nrm;
            if (f < (float)L2_EPS) f = (float)L2_EPS;
            if (norms) norms[i] = f;
            float inv = 1.0f / f;
            for (int j = 0; j < d; j++) yi[j] = xi[j] * inv;
            continue;
        }
        if (norms) norms[i] = (float)nrm;
        if (round == L2NORM_F64_SCALE) {
            float inv = (float)(1.0 / (nrm > L2_EPS ? nrm : L2_EPS));
            for (int j = 0; j < d; j++) yi[j] = xi[j] * inv;
        } else if (fabs(ss - 1.0) <= 1e-6) {
            /* already unit: used bit for bit, so exactly representable unit vectors give exact
             * cosines */
            if (yi != xi) memcpy(yi, xi, sizeof(float) * (size_t)d);
        } else if (ss > 0) {
            const double inv = 1.0 / nrm;
            for (int j = 0; j < d; j++) yi[j] = (float)(xi[j] * inv);
        } else {
            memset(yi, 0, sizeof(float) * (size_t)d);
        }
    }
    return n_zero;
}

void l2norm_backward(float *dx, const float *g, const float *y, const float *norms, int64_t n,
                     int d)
{
    for (int64_t i = 0; i < n; i++) {
        const float *gi = g + (size_t)i * d, *yi = y + (size_t)i * d;
        float *dxi = dx + (size_t)i * d;
        double gy = 0;
        for (int j = 0; j < d; j++) gy += (double)gi[j] * yi[j];
        float nrm = norms[i] > (float)L2_EPS ? norms[i] : (float)L2_EPS;
        float inv = 1.0f / nrm, c = (float)gy;
        for (int j = 0; j < d; j++) dxi[j] = (gi[j] - c * yi[j]) * inv;
    }
}

/* ---- vectorised exp for the softmax ------------------------------------------------------
 * expf is a scalar libm call (~4 ns here); the B x C softmax of the full head spent more time
 * in it than in a GEMM at d = 128. exp_poly is Cephes' expf: n = round(x log2 e) by the 1.5 2^23
 * trick, r = x - n ln2 (two-part ln2), exp(r) by a degree-7 polynomial, times 2^n built in the
 * exponent bits. Max error ~2 ulp on [-87, 0] (tests/test_ops.c compares it with exp()). Only
 * IEEE +, *, conversions and bit moves: the same bits in every vector width, so the
 * target_clones below (AVX-512, AVX2, baseline SSE2) keep results identical across machines
 * and no -ffast-math is needed (determinism: docs/METHOD.md §7). Inputs are
 * x = z - max <= 0; below -87 the result is clamped to exp(-87) ~ 1.6e-38, invisible next to
 * the block maximum's exp(0) = 1 in the sum; above 0 (masked columns) to 1; NaN stays NaN. */
static inline float exp_poly(float xin)
{
    /* clamp into [-87, 0] (NaN -> -87 here, given back below): keeps n in int range for
     * whatever a masked column holds (-inf, +inf, NaN) */
    float x = xin > -87.0f ? xin : -87.0f;
    x = x < 0.0f ? x : 0.0f;
    float t = x * 1.44269504088896341f;
    float n = (t + 12582912.0f) - 12582912.0f; /* round to nearest, |t| < 2^22 */
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    int32_t bits = ((int32_t)n + 127) * 8388608; /* << 23 without shifting a signed value */
    float sc;
    memcpy(&sc, &bits, sizeof sc);
    float e = p * sc;
    return xin != xin ? xin : e; /* a NaN logit still poisons the loss (divergence check) */
}

float ops_exp_poly(float x) { return exp_poly(x); }

#define XENT_LANES 16
#define XENT_BLOCK 1024 /* floats summed per lane in float before the block joins the double */

/* A signed int whose order is the float order (negatives have their magnitude bits flipped),
 * and back (the map is its own inverse): the block maxima as integer maxima. */
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

/* the elementwise softmax kernels once per ISA path (isa.h), each at its native width */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi" /* vectors never cross a call (always_inline) */
#if defined(__x86_64__) && defined(__GNUC__)
#define VW 16
#define VSUF avx512
#define VTARGET __attribute__((target("avx512f")))
#include "ops_vec.inc"
#undef VW
#undef VSUF
#undef VTARGET
#define VW 8
#define VSUF avx2
#define VTARGET __attribute__((target("avx2")))
#include "ops_vec.inc"
#undef VW
#undef VSUF
#undef VTARGET
#endif
#define VW 4
#define VSUF sse2
#define VTARGET
#include "ops_vec.inc"
#undef VW
#undef VSUF
#undef VTARGET
#pragma GCC diagnostic pop

float ops_exp_shift_sum(float *x, int n, float mx)
{
    return DCQB_ISA_PICK(exp_block, (x, NULL, 0, n, mx));
}

float ops_exp_shift_sum_mask(float *x, const int32_t *lab, int32_t y, int n, float mx)
{
    return DCQB_ISA_PICK(exp_block, (x, lab, y, n, mx));
}

float ops_scale_clamp_max(float *z, const float *inv, const float *off, int n, float sc,
                          float start)
{
    return DCQB_ISA_PICK(scale_clamp_max, (z, inv, off, n, sc, start));
}

float ops_queue_scale_max(float *z, const int32_t *lab, int32_t y, int n, float sc)
{
    return DCQB_ISA_PICK(queue_scale_max, (z, lab, y, n, sc));
}
