/* export.c - synth_export (export.h): rows rendered in order by the generator's own render
 * functions, so an exported file equals the library's rendering byte for byte.
 */
#include "export.h"

#include <stdlib.h>

#include "dsfile.h"
#include "npy.h"

const char *const export_split_names[] = {"train", "holdout", "probe", "distractors", "pairs",
                                          NULL};
const char *const export_format_names[] = {"npy", "dcqb", NULL};

enum { CHUNK = 1024 }; /* rows per dsfile append */

/* Render row r of the split into x (cols floats) and *label. For holdout, r indexes the
 * classes that have a held-out image (hold_cls). */
static void render_row(const struct synth *s, int split, int64_t r, const int64_t *hold_cls,
                       int flip, float *x, int32_t *label)
{
    const int D = synth_config(s)->x_dim;
    int same;
    switch (split) {
    case EXPORT_TRAIN: synth_render_train_n(s, x, label, r, flip); break;
    case EXPORT_HOLDOUT:
        synth_render_holdout(s, x, hold_cls[r], flip);
        *label = (int32_t)hold_cls[r];
        break;
    case EXPORT_PROBE: synth_render_probe(s, x, label, r, flip); break;
    case EXPORT_DISTRACTORS:
        synth_render_distractor(s, x, r, flip);
        *label = -1;
        break;
    default:
        synth_render_pair(s, x, x + D, &same, r, flip);
        *label = same;
        break;
    }
}

static int64_t split_rows(const struct synth *s, const struct synth_cfg *sc, int split)
{
    int64_t rows = 0, C = synth_num_classes(s);
    switch (split) {
    case EXPORT_TRAIN: return synth_num_train(s);
    case EXPORT_HOLDOUT:
        for (int64_t k = 0; k < C; k++) rows += synth_class_size(s, k) >= 2;
        return rows;
    case EXPORT_PROBE: return synth_num_probe_images(s);
    case EXPORT_DISTRACTORS: return sc->distractors;
    default: return sc->lfw_pairs;
    }
}

static int write_rows(struct export_result *res, const struct synth *s, int split, int format,
                      const char *prefix, const int64_t *hold_cls, int flip, float *X,
                      int32_t *Y, struct dcqb_err *err)
{
    const int64_t rows = res->rows, cols = res->cols;
    int rc;
    if (format == EXPORT_NPY) {
        for (int64_t r = 0; r < rows; r++)
            render_row(s, split, r, hold_cls, flip, X + (size_t)r * cols, Y + r);
        snprintf(res->path_x, sizeof res->path_x, "%s_x.npy", prefix);
        snprintf(res->path_y, sizeof res->path_y, "%s_y.npy", prefix);
        if ((rc = npy_write_f32(res->path_x, X, rows, cols, err))) return rc;
        return npy_write_i32(res->path_y, Y, rows, err);
    }
    struct dsfile_writer *w = NULL;
    snprintf(res->path_x, sizeof res->path_x, "%s.dcqb", prefix);
    if ((rc = dsfile_writer_open(&w, res->path_x, rows, cols, err))) return rc;
    for (int64_t r0 = 0; r0 < rows; r0 += CHUNK) {
        int64_t n = rows - r0 < CHUNK ? rows - r0 : CHUNK;
        for (int64_t r = 0; r < n; r++)
            render_row(s, split, r0 + r, hold_cls, flip, X + (size_t)r * cols, Y + r);
        if ((rc = dsfile_writer_append(w, X, Y, n, err))) {
            dsfile_writer_abort(w);
            return rc;
        }
    }
    return dsfile_writer_close(w, err);
}

int synth_export(struct export_result *res, const struct synth_cfg *sc, int split, int format,
                 const char *prefix, int64_t limit, int flip, struct dcqb_err *err)
{
    memset(res, 0, sizeof *res);
    if (!prefix || !prefix[0]) return DCQB_FAIL(err, DCQB_EINVAL, "export needs --out PREFIX");
    if (split < EXPORT_TRAIN || split > EXPORT_PAIRS || (format != EXPORT_NPY &&
                                                          format != EXPORT_DCQB))
        return DCQB_FAIL(err, DCQB_EINVAL, "export: split %d / format %d unknown", split,
                         format);
    if (split == EXPORT_HOLDOUT && !sc->holdout)
        return DCQB_FAIL(err, DCQB_EINVAL, "--split holdout needs --holdout 1");
    struct synth *s = NULL;
    int64_t *hold_cls = NULL;
    float *X = NULL;
    int32_t *Y = NULL;
    int rc;
    if ((rc = synth_create(&s, sc, err))) return rc;
    int64_t rows = split_rows(s, sc, split);
    if (limit >= 0 && limit < rows) rows = limit;
    res->rows = rows;
    res->cols = (split == EXPORT_PAIRS ? 2 : 1) * (int64_t)sc->x_dim;
    if (split == EXPORT_HOLDOUT) {
        hold_cls = malloc((size_t)(rows ? rows : 1) * sizeof *hold_cls);
        if (!hold_cls) {
            rc = DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
            goto out;
        }
        for (int64_t k = 0, r = 0; k < synth_num_classes(s) && r < rows; k++)
            if (synth_class_size(s, k) >= 2) hold_cls[r++] = k;
    }
    /* npy holds the whole matrix; dcqb streams CHUNK rows at a time */
    int64_t buf_rows = format == EXPORT_NPY ? rows : (rows < CHUNK ? rows : CHUNK);
    X = malloc((size_t)(buf_rows ? buf_rows : 1) * (size_t)res->cols * sizeof *X);
    Y = malloc((size_t)(buf_rows ? buf_rows : 1) * sizeof *Y);
    if (!X || !Y) {
        rc = DCQB_FAIL(err, DCQB_ENOMEM, "out of memory for %lld x %lld floats (use --limit or "
                       "--format dcqb, which streams)", (long long)rows, (long long)res->cols);
        goto out;
    }
    rc = write_rows(res, s, split, format, prefix, hold_cls, flip, X, Y, err);
out:
    free(X);
    free(Y);
    free(hold_cls);
    synth_free(s);
    return rc;
}
