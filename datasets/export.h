/* export.h - one split of the synthetic generator written to files: the body of
 * `dcqbench data export`, as a library function the command and tests call. Plain values in,
 * so the datasets layer needs nothing from the harness.
 *
 * Formats: npy writes PREFIX_x.npy (rows, cols) float32 and PREFIX_y.npy (rows,) int32 (the
 * whole matrix is held in memory); dcqb writes PREFIX.dcqb (datasets/dsfile.h), streamed.
 * Labels: train/holdout = class, probe = probe id, distractors = -1; pairs: row i = [a | b]
 * (2 x_dim floats), label 1 genuine / 0 impostor.
 */
#ifndef DCQB_EXPORT_H
#define DCQB_EXPORT_H

#include "dcqb.h"
#include "synth.h"

enum export_split { EXPORT_TRAIN, EXPORT_HOLDOUT, EXPORT_PROBE, EXPORT_DISTRACTORS,
                    EXPORT_PAIRS };
enum export_format { EXPORT_NPY, EXPORT_DCQB };

/* NULL-terminated names in enum order: "train", ... "pairs"; "npy", "dcqb". */
extern const char *const export_split_names[];
extern const char *const export_format_names[];

struct export_result {
    int64_t rows, cols;
    char path_x[1100];  /* the .npy of rows, or the .dcqb file */
    char path_y[1100];  /* the .npy of labels; "" for dcqb */
};

/* Render split `split` of the generator `sc` (first `limit` rows; limit < 0: all, flip: every
 * image mirrored) into files named from `prefix`. DCQB_EINVAL for an empty prefix or the
 * holdout split without sc->holdout. */
int synth_export(struct export_result *res, const struct synth_cfg *sc, int split, int format,
                 const char *prefix, int64_t limit, int flip, struct dcqb_err *err);

#endif
