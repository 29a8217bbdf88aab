/* rng.c - Gaussian and uniform fills for initialisation over GSL's mt19937 (docs/METHOD.md §7).
 * Kept apart from every file that includes <cblas.h>: gsl_randist.h pulls in gsl_matrix.h.
 * mt19937 takes a 32-bit seed; the 64-bit stream seed is folded (hi ^ lo) so both halves count.
 */
#include "rng.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

static gsl_rng *rng_new(uint64_t seed)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (r) gsl_rng_set(r, (unsigned long)((seed ^ (seed >> 32)) & 0xffffffffULL));
    return r;
}

int rng_fill_normal(float *out, size_t n, double std, uint64_t seed, struct dcqb_err *err)
{
    gsl_rng *r = rng_new(seed);
    if (!r) return DCQB_FAIL(err, DCQB_ENOMEM, "rng: cannot allocate mt19937");
    for (size_t i = 0; i < n; i++) out[i] = (float)gsl_ran_gaussian(r, std);
    gsl_rng_free(r);
    return DCQB_OK;
}

int rng_fill_uniform(float *out, size_t n, double lo, double hi, uint64_t seed,
                     struct dcqb_err *err)
{
    gsl_rng *r = rng_new(seed);
    if (!r) return DCQB_FAIL(err, DCQB_ENOMEM, "rng: cannot allocate mt19937");
    for (size_t i = 0; i < n; i++) out[i] = (float)(lo + (hi - lo) * gsl_rng_uniform(r));
    gsl_rng_free(r);
    return DCQB_OK;
}
