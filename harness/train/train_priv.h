/* train_priv.h - the trainer's buffers and random generators (struct trainer's `priv`), for
 * the two files that own them: train.c (set-up and the step) and checkpoint.c (what a
 * checkpoint saves of them). Nothing else includes this. */
#ifndef DCQB_TRAIN_PRIV_H
#define DCQB_TRAIN_PRIV_H

#include <stdint.h>

#include <gsl/gsl_rng.h>

#include "head.h"
#include "pool.h"

#define DRIFT_SLOTS 256 /* queue slots the drift pass recomputes at most */

/* Sums behind train_result's loop records. */
struct train_stats {
    double eff_sum, lab_sum; /* logit columns, distinct labels, summed over steps */
    int64_t n;               /* steps summed */
    double age, drift;       /* last measured queue instruments (NAN: none yet) */
};

struct train_priv {
    gsl_rng *r_shuffle, *r_aug, *r_ref; /* streams SHUFFLE, AUG, REF */
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
    int32_t *flips;        /* (B) */
    int32_t *mark;         /* (C) stamp of the last step that saw each class: distinct labels
                            * in O(B), no sort (qsort may allocate) */
    int32_t stamp;
    struct head_key_src *refs; /* (kshot*B) the references: class, image, flip */
    int32_t *dslot;        /* (DRIFT_SLOTS) slots measured by the drift pass */
    double *loss_ring;     /* (ring) recent losses for first/final loss means */
    int64_t ring;
    double first_sum;
    int64_t first_n;
    struct train_stats st; /* checkpointed with the loss bookkeeping */
    char *arena;
    /* the run's one team of threads, lent to the backbones and the head, and used for the
     * renders and the SGD (docs/ARCHITECTURE.md §9). Embedded: workers hold its address. */
    struct pool pool;
};

#endif
