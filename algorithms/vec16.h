/* vec16.h - 16 float lanes as one GCC vector value, for the kernels that isa.h compiles per ISA
 * path. Written with vector types, a loop body cannot fall back to scalar code: the 16 lanes
 * are one 512-bit register on the AVX-512 path, two 256-bit on AVX2 and four 128-bit on SSE2.
 * Selects are compares and bit masks (no branches), so a kernel is the same IEEE operations
 * lane for lane as its scalar tail loop and gives the same bits on every path.
 * Only for always-inlined helpers inside one kernel: a vector never crosses a call, so GCC's
 * note that passing one would change the ABI does not apply (silenced below).
 */
#ifndef DCQB_VEC16_H
#define DCQB_VEC16_H

#include <stdint.h>
#include <string.h>

#pragma GCC diagnostic ignored "-Wpsabi"

typedef float v16f __attribute__((vector_size(64)));
typedef int32_t v16i __attribute__((vector_size(64)));

#define V16_INLINE static inline __attribute__((always_inline))

/* m ? a : b lane by lane (m from a vector compare: all ones or all zeros) */
V16_INLINE v16f v16_sel(v16i m, v16f a, v16f b) { return (v16f)(((v16i)a & m) | ((v16i)b & ~m)); }

V16_INLINE v16f v16_load(const float *p)
{
    v16f v;
    memcpy(&v, p, sizeof v);
    return v;
}

V16_INLINE v16i v16_loadi(const int32_t *p)
{
    v16i v;
    memcpy(&v, p, sizeof v);
    return v;
}

V16_INLINE void v16_store(float *p, v16f v) { memcpy(p, &v, sizeof v); }

V16_INLINE v16f v16_set(float x) { return (v16f){0} + x; }

/* clamp(c, -1, 1) as the scalar c > 1 ? 1 : (c < -1 ? -1 : c): NaN stays NaN */
V16_INLINE v16f v16_clamp1(v16f c)
{
    const v16f one = v16_set(1.0f), mone = v16_set(-1.0f);
    return v16_sel(c > one, one, v16_sel(c < mone, mone, c));
}

#endif
