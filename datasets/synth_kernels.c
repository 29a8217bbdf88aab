/* synth_kernels.c - see synth_kernels.h. */
#include "synth_kernels.h"

#include <stdint.h>
#include <string.h>

#include "isa.h"
#include "synth.h"

/* The two exported kernels are most of a render; they are compiled per ISA path (isa.h:
 * AVX-512, AVX2, SSE2). Element-wise mul, add, div and compares only, no FMA
 * (-ffp-contract=off, and the target attributes do not enable it): the same bytes on every
 * path (test_synth's golden crc). */

/* y += a * x over n floats. The fixed 8-wide inner block lets gcc's -O2 (very cheap cost model)
 * SLP-vectorise it; element-wise mul then add, no FMA (-ffp-contract=off) and no reassociation,
 * so vectorised and scalar builds give the same bytes. */
static inline void axpy(float *restrict y, const float *restrict x, float a, int n)
{
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int t = 0; t < 8; t++) y[i + t] += x[i + t] * a;
    for (; i < n; i++) y[i] += x[i] * a;
}

/* tanh for the renderer: Eigen's float rational approximation (x P(x^2) / Q(x^2), clamped at
 * +-7.905, where tanhf rounds to +-1), max abs error ~1e-7 (tested against double tanh). Pure
 * arithmetic: the bytes do not depend on the libm version, and it SLP-vectorises (libm's tanhf
 * was 46 % of render time). ~20 FLOPs per value. */
static inline float tanh_rat(float x)
{
    const float lim = 7.90531110763549805f;
    x = x > lim ? lim : (x < -lim ? -lim : x);
    const float x2 = x * x;
    float p = -2.76076847742355e-16f;
    p = p * x2 + 2.00018790482477e-13f;
    p = p * x2 + -8.60467152213735e-11f;
    p = p * x2 + 5.12229709037114e-08f;
    p = p * x2 + 1.48572235717979e-05f;
    p = p * x2 + 6.37261928875436e-04f;
    p = p * x2 + 4.89352455891786e-03f;
    p = p * x;
    float q = 1.19825839466702e-06f;
    q = q * x2 + 1.18534705686654e-04f;
    q = q * x2 + 2.26843463243900e-03f;
    q = q * x2 + 4.89352518554385e-03f;
    return p / q;
}

#if defined(__GNUC__)
/* gcc/clang vector extensions: 8 floats, element-wise IEEE operations exactly as the scalar
 * code does them (mul, add, div, compare; no FMA, no reassociation), so the bytes are the
 * scalar code's; -O2 left tanh_rat scalar with a branch per clamp. */
typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));
/* (macros and pointer arguments, not functions passing vectors: a 32-byte vector argument
 * changes the ABI without AVX, and gcc warns) */
#define V8(a) ((v8f){a, a, a, a, a, a, a, a})
#define V8_LOAD(v, p) memcpy(&(v), (p), sizeof(v8f))
#define V8_STORE(p, v) memcpy((p), &(v), sizeof(v8f))
/* m ? a : b per element, m all ones or all zeros (a vector comparison's result) */
#define V8_SELECT(m, a, b) ((v8f)(((m) & (v8i)(a)) | (~(m) & (v8i)(b))))

/* tanh_rat on the 8 values at v, in place: the same clamp and the same polynomial steps. */
static inline void tanh_v8(float *v)
{
    const v8f lim = V8(7.90531110763549805f), nlim = V8(-7.90531110763549805f);
    v8f x;
    V8_LOAD(x, v);
    x = V8_SELECT(x > lim, lim, x);
    x = V8_SELECT(x < nlim, nlim, x);
    const v8f x2 = x * x;
    v8f p = V8(-2.76076847742355e-16f);
    p = p * x2 + V8(2.00018790482477e-13f);
    p = p * x2 + V8(-8.60467152213735e-11f);
    p = p * x2 + V8(5.12229709037114e-08f);
    p = p * x2 + V8(1.48572235717979e-05f);
    p = p * x2 + V8(6.37261928875436e-04f);
    p = p * x2 + V8(4.89352455891786e-03f);
    p = p * x;
    v8f q = V8(1.19825839466702e-06f);
    q = q * x2 + V8(1.18534705686654e-04f);
    q = q * x2 + V8(2.26843463243900e-03f);
    q = q * x2 + V8(4.89352518554385e-03f);
    const v8f r = p / q;
    V8_STORE(v, r);
}
#endif

static inline void tanh_inplace(float *restrict v, int n)
{
    int i = 0;
#if defined(__GNUC__)
    for (; i + 8 <= n; i += 8) tanh_v8(v + i);
#else
    for (; i + 8 <= n; i += 8)
        for (int t = 0; t < 8; t++) v[i + t] = tanh_rat(v[i + t]);
#endif
    for (; i < n; i++) v[i] = tanh_rat(v[i]);
}

/* y[0, n) += sum over k in [k0, k1), ascending, of A[k][0, n) c[k] (A row-major, lda floats per
 * row): per element the same mul-then-add sequence as axpy(y, A[k], c[k], n) for each k in
 * turn, but 32 outputs are summed in registers over the whole k loop instead of a load and a
 * store of y per k. */
static inline void axpy_rows(float *restrict y, const float *restrict A, size_t lda,
                             const float *c, int k0, int k1, int n)
{
    int d0 = 0;
#if defined(__GNUC__)
    for (; d0 + 32 <= n; d0 += 32) {
        v8f a0, a1, a2, a3, r0, r1, r2, r3;
        V8_LOAD(a0, y + d0);
        V8_LOAD(a1, y + d0 + 8);
        V8_LOAD(a2, y + d0 + 16);
        V8_LOAD(a3, y + d0 + 24);
        for (int k = k0; k < k1; k++) {
            const float *row = A + (size_t)k * lda + d0;
            const v8f ck = V8(c[k]);
            V8_LOAD(r0, row);
            V8_LOAD(r1, row + 8);
            V8_LOAD(r2, row + 16);
            V8_LOAD(r3, row + 24);
            a0 += r0 * ck;
            a1 += r1 * ck;
            a2 += r2 * ck;
            a3 += r3 * ck;
        }
        V8_STORE(y + d0, a0);
        V8_STORE(y + d0 + 8, a1);
        V8_STORE(y + d0 + 16, a2);
        V8_STORE(y + d0 + 24, a3);
    }
#endif
    if (d0 < n)
        for (int k = k0; k < k1; k++) axpy(y + d0, A + (size_t)k * lda + d0, c[k], n - d0);
}

float synth_tanh(float x) { return tanh_rat(x); }

DCQB_BODY_ATTR void synth_layer_accum_body(float *restrict y, const float *restrict A, size_t lda,
                                     const float *c, int k0, int k1, int n)
{
    axpy_rows(y, A, lda, c, k0, k1, n);
}
DCQB_ISA_VARIANTS_VOID(synth_layer_accum, (float *restrict y, const float *restrict A, size_t lda,
                                     const float *c, int k0, int k1, int n), (y, A, lda, c, k0, k1, n))

DCQB_BODY_ATTR void synth_tanh_inplace_body(float *v, int n)
{ tanh_inplace(v, n); }
DCQB_ISA_VARIANTS_VOID(synth_tanh_inplace, (float *v, int n), (v, n))
