/* trainset.c - see trainset.h. */
#include "trainset.h"

#include <math.h>
#include <stdlib.h>

#include "npy.h"

int trainset_from_synth(struct trainset *ts, struct synth *syn, struct dcqb_err *err)
{
    memset(ts, 0, sizeof *ts);
    ts->syn = syn;
    ts->C = synth_num_classes(syn);
    ts->N = synth_num_train(syn);
    ts->D = synth_config(syn)->x_dim;
    ts->sizes = malloc((size_t)ts->C * sizeof *ts->sizes);
    if (!ts->sizes) {
        trainset_free(ts);
        return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory for %lld class sizes",
                         (long long)ts->C);
    }
    for (int64_t c = 0; c < ts->C; c++) ts->sizes[c] = synth_train_size(syn, c);
    return DCQB_OK;
}

int trainset_from_npy(struct trainset *ts, const char *x_path, const char *y_path,
                      struct dcqb_err *err)
{
    memset(ts, 0, sizeof *ts);
    int64_t rows, cols, ny;
    int32_t *y = NULL;
    int rc = npy_read_f32(&ts->x, &rows, &cols, x_path, err);
    if (rc) return rc;
    if ((rc = npy_read_i32(&y, &ny, y_path, err))) goto fail;
    if (ny != rows) {
        rc = DCQB_FAIL(err, DCQB_EINVAL, "%s has %lld labels but %s has %lld rows", y_path,
                       (long long)ny, x_path, (long long)rows);
        goto fail;
    }
    if (rows < 2 || cols < 1 || cols > 65536) {
        rc = DCQB_FAIL(err, DCQB_EINVAL, "%s: need at least 2 rows and 1..65536 columns",
                       x_path);
        goto fail;
    }
    int32_t maxl = -1;
    for (int64_t i = 0; i < rows; i++) {
        if (y[i] < 0) {
            rc = DCQB_FAIL(err, DCQB_EINVAL, "%s: negative label %d at index %lld", y_path,
                           (int)y[i], (long long)i);
            goto fail;
        }
        for (int64_t k = 0; k < cols; k++)
            if (!isfinite(ts->x[i * cols + k])) {
                rc = DCQB_FAIL(err, DCQB_EINVAL, "%s: non-finite value at row %lld, column %lld",
                               x_path, (long long)i, (long long)k);
                goto fail;
            }
        if (y[i] > maxl) maxl = y[i];
    }
    ts->C = (int64_t)maxl + 1;
    ts->N = rows;
    ts->D = (int)cols;
    ts->sizes = calloc((size_t)ts->C, sizeof *ts->sizes);
    ts->offsets = calloc((size_t)ts->C + 1, sizeof *ts->offsets);
    ts->rows = malloc((size_t)rows * sizeof *ts->rows);
    if (!ts->sizes || !ts->offsets || !ts->rows) {
        rc = DCQB_FAIL(err, DCQB_ENOMEM, "out of memory indexing %s", y_path);
        goto fail;
    }
    for (int64_t i = 0; i < rows; i++) ts->sizes[y[i]]++;
    for (int64_t c = 0; c < ts->C; c++) {
        if (ts->sizes[c] == 0) {
            rc = DCQB_FAIL(err, DCQB_EINVAL, "%s: class %lld has no image (labels must be "
                           "0..C-1 without gaps)", y_path, (long long)c);
            goto fail;
        }
        ts->offsets[c + 1] = ts->offsets[c] + ts->sizes[c];
    }
    /* counting sort: stable, so rows of a class keep file order */
    int64_t *fill = calloc((size_t)ts->C, sizeof *fill);
    if (!fill) {
        rc = DCQB_FAIL(err, DCQB_ENOMEM, "out of memory indexing %s", y_path);
        goto fail;
    }
    for (int64_t i = 0; i < rows; i++) ts->rows[ts->offsets[y[i]] + fill[y[i]]++] = i;
    free(fill);
    free(y);
    return DCQB_OK;
fail:
    free(y);
    trainset_free(ts);
    return rc;
}

void trainset_free(struct trainset *ts)
{
    if (!ts) return;
    synth_free(ts->syn);
    free(ts->x);
    free(ts->offsets);
    free(ts->rows);
    free(ts->sizes);
    memset(ts, 0, sizeof *ts);
}

void trainset_locate(const struct trainset *ts, int64_t n, int64_t *c, int32_t *j)
{
    if (ts->syn) {
        synth_train_locate(ts->syn, n, c, j);
        return;
    }
    /* binary search: last class whose offset <= n */
    int64_t lo = 0, hi = ts->C - 1;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo + 1) / 2;
        if (ts->offsets[mid] <= n) lo = mid;
        else hi = mid - 1;
    }
    *c = lo;
    *j = (int32_t)(n - ts->offsets[lo]);
}

void trainset_render(const struct trainset *ts, float *x, int64_t c, int32_t j, int flip)
{
    if (ts->syn) {
        synth_render_train(ts->syn, x, c, j, flip);
        return;
    }
    memcpy(x, ts->x + ts->rows[ts->offsets[c] + j] * ts->D, (size_t)ts->D * sizeof *x);
}
