/* tsv.c - see tsv.h. The string buffer, whole-file read/write and the TSV reader. */
#include "tsv.h"

#include <errno.h>
#include <math.h>
#include <unistd.h>

/* ==== string buffer ========================================================================== */

/* Room for `more` bytes plus the NUL; doubling, so n appends cost O(n) copies in all. */
static int sb_reserve(struct sbuf *b, size_t more)
{
    if (b->oom) return 0;
    if (b->n + more + 1 <= b->cap) return 1;
    size_t nc = b->cap ? b->cap : 256;
    while (nc < b->n + more + 1) nc *= 2;
    char *np = realloc(b->p, nc);
    if (!np) {
        b->oom = 1;
        return 0;
    }
    b->p = np;
    b->cap = nc;
    return 1;
}

void sb_add(struct sbuf *b, const char *s, size_t len)
{
    if (!sb_reserve(b, len)) return;
    if (len) memcpy(b->p + b->n, s, len);
    b->n += len;
    b->p[b->n] = '\0';
}

void sb_str(struct sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

void sb_printf(struct sbuf *b, const char *fmt, ...)
{
    if (b->oom) return;
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int k = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (k < 0) {
        b->oom = 1;
        return;
    }
    if ((size_t)k < sizeof small) {
        sb_add(b, small, (size_t)k);
        return;
    }
    if (!sb_reserve(b, (size_t)k)) return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, (size_t)k + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)k;
}

void sb_cell(struct sbuf *b, const char *s, const char *empty)
{
    if (!s || !*s) s = empty;
    for (; *s; s++) sb_add(b, *s == '\t' || *s == '\n' || *s == '\r' ? " " : s, 1);
}

int sb_take(struct sbuf *b, char **out, struct dcqb_err *err)
{
    *out = NULL;
    if (!b->p) sb_add(b, "", 0);
    if (b->oom) {
        sb_free(b);
        return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
    }
    *out = b->p;
    memset(b, 0, sizeof *b);
    return DCQB_OK;
}

void sb_free(struct sbuf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* ==== whole files ============================================================================ */

int file_read_all(char **out, size_t *len, const char *path, size_t max, struct dcqb_err *err)
{
    *out = NULL;
    if (len) *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT) return DCQB_OK;
        return DCQB_FAIL(err, DCQB_EIO, "%s: cannot open: %s", path, strerror(errno));
    }
    struct sbuf b = {0};
    char chunk[8192];
    size_t r;
    sb_add(&b, "", 0);
    while (!b.oom && (max == 0 || b.n < max) && (r = fread(chunk, 1, sizeof chunk, f)) > 0)
        sb_add(&b, chunk, r);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        sb_free(&b);
        return DCQB_FAIL(err, DCQB_EIO, "%s: read failed", path);
    }
    size_t n = b.n;
    int rc = sb_take(&b, out, err);
    if (rc == DCQB_OK && len) *len = n;
    return rc;
}

int file_write_atomic(const char *path, const char *p, size_t n, struct dcqb_err *err)
{
    const void *const parts[1] = {p};
    return file_write_atomic_parts(path, parts, &n, 1, err);
}

int file_write_atomic_parts(const char *path, const void *const *p, const size_t *n, int k,
                            struct dcqb_err *err)
{
    char tmp[4200];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
        return DCQB_FAIL(err, DCQB_EINVAL, "%s: path too long", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return DCQB_FAIL(err, DCQB_EIO, "%s: cannot create: %s", tmp, strerror(errno));
    int bad = 0;
    for (int i = 0; i < k && !bad; i++) bad = n[i] && fwrite(p[i], 1, n[i], f) != n[i];
    /* fsync before the rename: after a crash the name holds the old file or the whole new one,
     * never an empty one (ext4 and xfs may commit the rename before unflushed data) */
    bad = bad || fflush(f) != 0 || fsync(fileno(f)) != 0 || ferror(f);
    int e = errno;
    if (fclose(f) != 0 || bad || rename(tmp, path) != 0) {
        if (!bad) e = errno;
        remove(tmp);
        return DCQB_FAIL(err, DCQB_EIO, "%s: write failed: %s", path, strerror(e));
    }
    return DCQB_OK;
}

/* ==== TSV reader ============================================================================= */

void tsv_free(struct tsv *t)
{
    free(t->buf);
    free(t->cell);
    memset(t, 0, sizeof *t);
}

/* Split one line (NUL-terminated, no '\n') into row[0..cols); returns the cells found. */
static int split_line(char **row, int cols, char *p)
{
    int c = 0;
    for (char *q = p;;) {
        if (c < cols) row[c] = q;
        c++;
        char *tab = strchr(q, '\t');
        if (!tab) return c;
        if (c <= cols) *tab = '\0';
        q = tab + 1;
    }
}

int tsv_parse(struct tsv *t, char *text, const char *path, struct dcqb_err *err)
{
    memset(t, 0, sizeof *t);
    t->buf = text;
    size_t lines = 1;
    int cols = 1;
    for (char *p = text; *p; p++) lines += *p == '\n';
    for (char *p = text; *p && *p != '\n'; p++) cols += *p == '\t';
    /* one allocation: the cell pointers, then the per-row counts */
    size_t ncell = lines * (size_t)cols;
    t->cell = calloc(1, ncell * sizeof *t->cell + lines * sizeof *t->nf);
    if (!t->cell) {
        tsv_free(t);
        return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
    }
    t->nf = (int *)(void *)(t->cell + ncell);
    t->cols = cols;
    for (char *p = text; *p;) {
        char *eol = strchr(p, '\n');
        char *next = eol ? eol + 1 : p + strlen(p);
        if (eol) *eol = '\0';
        size_t l = strlen(p);
        if (l && p[l - 1] == '\r') p[--l] = '\0';
        if (l) {
            int found = split_line(t->cell + (size_t)t->rows * cols, cols, p);
            t->nf[t->rows++] = eol ? found : -found;
        }
        p = next;
    }
    if (t->rows < 1) {
        tsv_free(t);
        return DCQB_FAIL(err, DCQB_EFORMAT, "%s: empty (no header line)", path);
    }
    return DCQB_OK;
}

int tsv_load(struct tsv *t, const char *path, struct dcqb_err *err)
{
    memset(t, 0, sizeof *t);
    char *text;
    int rc = file_read_all(&text, NULL, path, 0, err);
    if (rc) return rc;
    if (!text) return DCQB_FAIL(err, DCQB_EIO, "%s: no such file", path);
    return tsv_parse(t, text, path, err);
}

int tsv_col(const struct tsv *t, const char *name)
{
    for (int c = 0; c < t->cols; c++)
        if (t->cell[c] && strcmp(t->cell[c], name) == 0) return c;
    return -1;
}

const char *tsv_get(const struct tsv *t, int row, int col)
{
    if (col < 0 || col >= t->cols || row < 0 || row >= t->rows) return NULL;
    return t->cell[(size_t)row * t->cols + col];
}

int tsv_row_whole(const struct tsv *t, int row)
{
    return row >= 0 && row < t->rows && t->nf[row] == t->cols;
}

int tsv_is_na(const char *s)
{
    return !s || !*s || strcmp(s, "NA") == 0 || strcmp(s, "null") == 0;
}

double tsv_num(const char *s)
{
    if (!s || !*s) return NAN;
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !isfinite(v)) return NAN;
    return v;
}
