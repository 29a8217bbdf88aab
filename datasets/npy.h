/* npy.h - NumPy .npy import/export (format versions 1.0-3.0, C order, little endian).
 *
 * So that users can run the harness on features extracted elsewhere and take our embeddings to
 * other tools. Supported dtypes: float32 ('<f4'), float64 ('<f8', converted to float32 on read),
 * int32 ('<i4'), int64 ('<i8'). Shapes: 1-D (n,) or 2-D (n, d); a 1-D array reads as d = 1.
 */
#ifndef DCQB_NPY_H
#define DCQB_NPY_H

#include "dcqb.h"

enum npy_dtype { NPY_F4 = 0, NPY_F8, NPY_I4, NPY_I8 };

struct npy_info {
    int dtype;       /* enum npy_dtype */
    int ndim;        /* 1 or 2 */
    int64_t rows;    /* shape[0] */
    int64_t cols;    /* shape[1], or 1 for 1-D */
    size_t data_off; /* byte offset of the data */
};

/* Parse the header only. Malformed headers give DCQB_EFORMAT naming the file and the problem. */
int npy_read_info(struct npy_info *info, const char *path, struct dcqb_err *err);

/* Read a float matrix; *data is malloc'ed (caller frees), rows x cols, row-major.
 * float64 and integer files are converted. */
int npy_read_f32(float **data, int64_t *rows, int64_t *cols, const char *path,
                 struct dcqb_err *err);

/* Read an integer vector (int32 or int64 file, shape (n,) or (n,1)) into int32; values outside
 * int32 are an error. *data is malloc'ed. */
int npy_read_i32(int32_t **data, int64_t *n, const char *path, struct dcqb_err *err);

/* Write float32 (rows, cols), or 1-D when cols == 0. */
int npy_write_f32(const char *path, const float *data, int64_t rows, int64_t cols,
                  struct dcqb_err *err);
/* Write an int32 vector, shape (n,). */
int npy_write_i32(const char *path, const int32_t *data, int64_t n, struct dcqb_err *err);

#endif
