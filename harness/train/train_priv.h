/* train_priv.h - the trainer's buffers and random generators (struct trainer's `priv`), for
 * the two files that own them: train.c (set-up and the step) and checkpoint.c (what a
 * checkpoint saves of them). Nothing else includes this. */
#ifndef DCQB_TRAIN_PRIV_H
#define DCQB_TRAIN_PRIV_H

#include <stdint.h>

#include <gsl/gsl_rng.h>

struct train_priv {
    gsl_rng *r_shuffle, *r_aug;
    float *mom;            /* (n_params) backbone SGD momentum */
    float *x;              /* (B, Din) rendered inputs */
    float *xk;             /* (kshot*B, Din) reference images for the key */
    float *e;              /* (B, d) raw embeddings */
    float *q;              /* (B, d) unit embeddings */
    float *qn;             /* (B) norms of e */
    float *dq;             /* (B, d) dL/dq from the head */
    float *de;             /* (B, d) dL/de */
    float *ek;             /* (kshot*B, d) EMA embeddings of the references */
    float *k;              /* (B, d) unit keys */
    float *kn;             /* (kshot*B) norms */
    int32_t *labels;       /* (B) */
    int64_t *cls;          /* (B) */
    int32_t *js;           /* (B) */
    double *loss_ring;     /* (ring) recent losses for first/final loss means */
    int64_t ring;
    double first_sum;
    int64_t first_n;
    char *arena;
};

#endif
