/* fuzz_runstsv.c - runs.tsv as the report reads it: the TSV reader (harness/core/tsv.h), columns
 * by name, every cell as text and as a number, whole rows told from torn ones. */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#include "tsv.h"

static volatile double sink;

int fuzz_one(const uint8_t *data, size_t n)
{
    char *text = fuzz_text(data, n);
    if (!text) return 0;
    struct dcqb_err err = {0};
    struct tsv t;
    if (tsv_parse(&t, text, "runs.tsv", &err) != DCQB_OK) return 0;
    static const char *const cols[] = {"schema", "run_id", "status", "head", "seed",
                                       "final_loss", "err_msg", "lfw_acc", NULL};
    double sum = 0;
    for (int r = 1; r < t.rows; r++) {
        (void)tsv_row_whole(&t, r);
        for (int k = 0; cols[k]; k++) {
            const char *v = tsv_get(&t, r, tsv_col(&t, cols[k]));
            if (!tsv_is_na(v)) sum += (double)strlen(v) + tsv_num(v);
        }
        for (int c = -1; c <= t.cols; c++) sum += tsv_num(tsv_get(&t, r, c));
    }
    tsv_free(&t);
    sink = sum; /* so the reads are not optimised away */
    return 0;
}
