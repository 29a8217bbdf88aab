/* trainset.h - the training data as the loop sees it: classes, images per class, and
 * "render image j of class c" - either from the synthetic generator (computed on the fly, no
 * storage) or from imported .npy features (rows grouped by class, CSR order).
 * Evaluation sets come from the same source (synthetic only for now). */
#ifndef DCQB_TRAINSET_H
#define DCQB_TRAINSET_H

#include "synth.h"

struct trainset {
    struct synth *syn;      /* synthetic source, or NULL */
    /* .npy source: x (N, D) rows, grouped by class through offsets/rows */
    float *x;
    int64_t *offsets;       /* (C+1) CSR offsets into rows */
    int64_t *rows;          /* (N) row indices sorted by class */
    int32_t *sizes;         /* (C) training images per class (both sources) */
    int64_t C, N;
    int D;
};

/* Synthetic: takes ownership of syn. */
int trainset_from_synth(struct trainset *ts, struct synth *syn, struct dcqb_err *err);
/* .npy features (N, D) float and labels (N) int in [0, C): C = max label + 1; every class in
 * [0, C) must have at least one image. */
int trainset_from_npy(struct trainset *ts, const char *x_path, const char *y_path,
                      struct dcqb_err *err);
void trainset_free(struct trainset *ts);

/* n in [0, N) -> (class, image within class). */
void trainset_locate(const struct trainset *ts, int64_t n, int64_t *c, int32_t *j);
/* x (D) <- image j of class c. flip is ignored for .npy data (no pose to mirror). */
void trainset_render(const struct trainset *ts, float *x, int64_t c, int32_t j, int flip);

#endif
