/* fuzz_sweepfile.c - the sweep file reader: parse, expand, canonicalise, then the runs.tsv
 * header it implies (harness/sweep/sweep.h). */
#include "fuzz.h"

#include <stdlib.h>

#include "sweep.h"

int fuzz_one(const uint8_t *data, size_t n)
{
    const char *path = fuzz_file(data, n);
    if (!*path) return 0;
    struct dcqb_err err = {0};
    struct sweep s;
    if (sweep_load(&s, path, &err) != DCQB_OK) return 0;
    char *hdr = NULL;
    if (sweep_tsv_header(&s, &hdr, &err) == DCQB_OK) free(hdr);
    sweep_free(&s);
    return 0;
}
