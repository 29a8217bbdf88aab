/* hrand.h - the head sampling stream: a splitmix64 state (8 bytes, part of each head's saved
 * state, so resume and gradient checks replay it exactly; docs/METHOD.md §7) and the draws the
 * partial heads need. Header-only, no GSL (the heads include cblas via ops.h).
 */
#ifndef DCQB_HRAND_H
#define DCQB_HRAND_H

#include "dcqb.h"

/* Uniform in [0, 1) with 53 random bits. */
static inline double hrand_uniform(uint64_t *st)
{
    return (double)(dcqb_splitmix64(st) >> 11) * 0x1.0p-53;
}

/* Uniform integer in [0, n), n >= 1, unbiased (rejection of the short top range). */
static inline uint64_t hrand_below(uint64_t *st, uint64_t n)
{
    uint64_t lim = UINT64_MAX - UINT64_MAX % n; /* accept x < lim: lim is a multiple of n */
    uint64_t x;
    do x = dcqb_splitmix64(st);
    while (x >= lim);
    return x % n;
}

#endif
