/* fuzz_dsfile.c - the .dcqb dataset reader: header, then the whole file (datasets/dsfile.h). */
#include "fuzz.h"

#include <stdlib.h>

#include "dsfile.h"

int fuzz_one(const uint8_t *data, size_t n)
{
    const char *path = fuzz_file(data, n);
    if (!*path) return 0;
    struct dcqb_err err = {0};
    struct dsfile_info info;
    if (dsfile_read_info(&info, path, &err) != DCQB_OK) return 0;
    float *x = NULL;
    int32_t *y = NULL;
    int64_t rows = 0, cols = 0;
    if (dsfile_read(&x, &y, &rows, &cols, path, &err) == DCQB_OK) {
        free(x);
        free(y);
    }
    return 0;
}
