/* synth_kernels.h - the renderer's arithmetic kernels (datasets/synth.c's two tanh layers),
 * kept apart from the generator's bookkeeping. Same bytes on every path: element-wise IEEE
 * mul, add, div and compares in a fixed order, no FMA, no reassociation (docs/METHOD.md §1). */
#ifndef DCQB_SYNTH_KERNELS_H
#define DCQB_SYNTH_KERNELS_H

#include <stddef.h>

/* y[0, n) += sum over k in [k0, k1), ascending, of A[k][0, n) * c[k] (A row-major, lda floats
 * per row), each element as y = y + A[k] c[k] (mul, then add) for each k in turn. */
void synth_layer_accum(float *restrict y, const float *restrict A, size_t lda, const float *c,
                       int k0, int k1, int n);
/* v[i] = synth_tanh(v[i]) for i in [0, n) (synth_tanh: synth.h). */
void synth_tanh_inplace(float *v, int n);

#endif
