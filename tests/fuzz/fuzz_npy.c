/* fuzz_npy.c - the .npy reader: header, float matrix and integer vector (datasets/npy.h). */
#include "fuzz.h"

#include <stdlib.h>

#include "npy.h"

int fuzz_one(const uint8_t *data, size_t n)
{
    const char *path = fuzz_file(data, n);
    if (!*path) return 0;
    struct dcqb_err err = {0};
    struct npy_info info;
    (void)npy_read_info(&info, path, &err);
    float *x = NULL;
    int64_t rows = 0, cols = 0;
    if (npy_read_f32(&x, &rows, &cols, path, &err) == DCQB_OK) free(x);
    int32_t *y = NULL;
    if (npy_read_i32(&y, &rows, path, &err) == DCQB_OK) free(y);
    return 0;
}
