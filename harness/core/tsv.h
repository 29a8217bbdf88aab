/* tsv.h - the one growable string buffer, the one TSV reader and whole-file read/write for the
 * harness (runs.tsv, bench.tsv, the report's derived TSVs; docs/ARCHITECTURE.md §5).
 *
 * String buffer: append text; on the first allocation failure it stops growing and sets `oom`
 * (every later append is a no-op), so a writer appends freely and checks `oom` once at the end.
 * `p` is NUL-terminated whenever it is not NULL. A zeroed struct is an empty buffer.
 *
 * TSV reader: a file's text split in place. Row 0 is the header; columns are found by name.
 * Blank lines are skipped; a "\r\n" ending is accepted. A row with fewer cells than the header
 * gets NULL cells; cells past the header's count are ignored but counted (tsv_row_whole tells a
 * complete row from a torn one, e.g. the last line of a file a writer was killed in). Cells are
 * strings; tsv_num reads one as a number. Missing values: a NULL or empty cell, "NA" and "null"
 * are all "not available" (tsv_is_na), and tsv_num gives NaN for them.
 */
#ifndef DCQB_TSV_H
#define DCQB_TSV_H

#include "dcqb.h"

/* ---- growable string buffer ---------------------------------------------------------------- */

struct sbuf {
    char *p;        /* NUL-terminated text, or NULL while nothing was appended */
    size_t n, cap;  /* length (without the NUL), allocated bytes */
    int oom;        /* an allocation failed: the text is incomplete */
};

void sb_add(struct sbuf *b, const char *s, size_t len); /* len bytes of s (may contain NULs) */
void sb_str(struct sbuf *b, const char *s);
/* One TSV cell: s with every tab, CR and LF turned into a space (a cell never breaks a row);
 * `empty` ("NA", "-") when s is NULL or "". The one cell writer of runs.tsv and bench.tsv. */
void sb_cell(struct sbuf *b, const char *s, const char *empty);
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void sb_printf(struct sbuf *b, const char *fmt, ...);
/* Hand the text over: *out = b->p ("" when empty), b left zeroed. DCQB_ENOMEM (and *out NULL,
 * the text freed) when the buffer ran out of memory. */
int sb_take(struct sbuf *b, char **out, struct dcqb_err *err);
void sb_free(struct sbuf *b); /* frees the text, leaves *b zeroed; zeroed: no-op */

/* ---- whole files ---------------------------------------------------------------------------- */

/* The whole file, NUL-terminated, malloc'd into *out, its length into *len (may be NULL). A file
 * that does not exist is not an error: *out NULL, *len 0, DCQB_OK. max > 0 stops reading after
 * about max bytes (a guard against reading a huge wrong file); 0 reads everything. */
int file_read_all(char **out, size_t *len, const char *path, size_t max, struct dcqb_err *err);

/* Write n bytes to path atomically (path.tmp, fsync, then rename): a reader, or the file system
 * after a crash, sees the old file or the whole new one, never half a file. Every step's result
 * is checked: a full disk is DCQB_EIO and leaves the old file in place. */
int file_write_atomic(const char *path, const char *p, size_t n, struct dcqb_err *err);
/* The same for k parts written one after another (part i: n[i] bytes at p[i]): a header and a
 * payload without copying them together (checkpoints). */
int file_write_atomic_parts(const char *path, const void *const *p, const size_t *n, int k,
                            struct dcqb_err *err);

/* ---- TSV reader ----------------------------------------------------------------------------- */

struct tsv {
    char *buf;   /* the text, split in place (owned) */
    char **cell; /* rows x cols, row-major; NULL for a missing cell */
    int *nf;     /* per row: cells found (may exceed cols); negative when the line had no '\n' */
    int rows;    /* including the header row */
    int cols;    /* cells in the header */
};

/* Split `text` (malloc'd; taken over, freed by tsv_free even on failure). DCQB_EFORMAT naming
 * `path` (a name for messages only) when there is no header line. */
int tsv_parse(struct tsv *t, char *text, const char *path, struct dcqb_err *err);
/* file_read_all + tsv_parse. DCQB_EIO when the file does not exist. */
int tsv_load(struct tsv *t, const char *path, struct dcqb_err *err);
void tsv_free(struct tsv *t); /* leaves *t zeroed; zeroed: no-op */

int tsv_col(const struct tsv *t, const char *name); /* column of `name` in the header, or -1 */
/* Cell (row, col); NULL when row or col is out of range or the row is short. Row 0 = header. */
const char *tsv_get(const struct tsv *t, int row, int col);
/* 1 when data row `row` has exactly the header's number of cells and ended with a newline. */
int tsv_row_whole(const struct tsv *t, int row);

int tsv_is_na(const char *s);  /* NULL, "", "NA" or "null" */
double tsv_num(const char *s); /* the number, or NaN: not available, not a number, not finite */

#endif /* DCQB_TSV_H */
