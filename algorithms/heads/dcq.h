/* dcq.h - test hook of the `dcq` head (algorithms/heads/dcq.c). The harness talks to the head
 * through the head handle (head.h) only. */
#ifndef DCQB_HEAD_DCQ_H
#define DCQB_HEAD_DCQ_H

#include "head.h"

/* The queue (L,D) unit rows; *labels (L) (-1 = initial slot), *ptr = next slot written, *L. */
const float *head_dcq_queue(const void *st, const int32_t **labels, int *ptr, int *L);

#endif
