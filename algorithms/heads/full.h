/* full.h - test hooks of the `full` head (algorithms/heads/full.c). The harness never needs
 * this header: it talks to the head through the head handle (head.h) only. */
#ifndef DCQB_HEAD_FULL_H
#define DCQB_HEAD_FULL_H

#include "head.h"

extern const struct head_ops head_full;

/* dW (C,D) <- d loss / d W of the last forward_backward (through the 1/|w_j| normalisation). */
void head_full_grad_w(const void *st, float *dW);

#endif
