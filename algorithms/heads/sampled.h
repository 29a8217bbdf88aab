/* sampled.h - test hooks of the `sampled` head (algorithms/heads/sampled.c): its proposal and
 * expected counts, so tests can check them against docs/METHOD.md §3.5's closed forms. The
 * harness talks to the head through the head handle only. `st` is an open handle's h.st. */
#ifndef DCQB_HEAD_SAMPLED_H
#define DCQB_HEAD_SAMPLED_H

#include "head.h"

/* P(c) of the proposal (uniform 1/C; log-uniform ln((r+2)/(r+1))/ln(C+1) with r = rank of c by
 * decreasing class count; frequency count_c / total). */
double head_sampled_prob(const void *st, int32_t c);
/* One raw proposal draw (advances the head's sampling stream). */
int32_t head_sampled_draw(void *st);
/* Q(c) of the last forward_backward: S P(c) if T == S, else -expm1(T log1p(-P(c))). */
double head_sampled_expected(const void *st, int32_t c);
/* T, the draws the last forward_backward needed for S distinct classes. */
int64_t head_sampled_tries(const void *st);

#endif
