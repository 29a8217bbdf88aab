/* fuzz_benchtsv.c - bench.tsv as the report reads it: the TSV reader, then bench_row_read on
 * every data row (harness/bench/bench.h). */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "tsv.h"

int fuzz_one(const uint8_t *data, size_t n)
{
    char *text = fuzz_text(data, n);
    if (!text) return 0;
    struct dcqb_err err = {0};
    struct tsv t;
    if (tsv_parse(&t, text, "bench.tsv", &err) != DCQB_OK) return 0;
    for (int r = 1; r < t.rows; r++) {
        struct bench_row row;
        memset(&row, 0, sizeof row);
        (void)bench_row_read(&row, &t, r);
    }
    tsv_free(&t);
    return 0;
}
