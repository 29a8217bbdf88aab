/* rng.h - seeded fills for parameter initialisation (GSL mt19937, docs/METHOD.md §7).
 * Implemented in rng.c, the only algorithms/ file that includes GSL randist headers (they clash
 * with OpenBLAS's cblas.h). Same seed -> same floats, on every run and thread count.
 */
#ifndef DCQB_RNG_H
#define DCQB_RNG_H

#include "dcqb.h"

/* out (n) <- N(0, std^2) from a fresh mt19937 seeded with `seed`. DCQB_ENOMEM on failure. */
int rng_fill_normal(float *out, size_t n, double std, uint64_t seed, struct dcqb_err *err);
/* out (n) <- U[lo, hi) from a fresh mt19937 seeded with `seed`. */
int rng_fill_uniform(float *out, size_t n, double lo, double hi, uint64_t seed,
                     struct dcqb_err *err);

#endif
