/* npy.c - see npy.h. The header is a Python dict literal; we parse only the three keys the
 * format defines ('descr', 'fortran_order', 'shape') and refuse anything else we cannot honour.
 * Format reference: numpy/lib/format.py (NEP 1). */
#include "npy.h"

#include <errno.h>
#include <stdlib.h>

static const unsigned char npy_magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

static int dtype_size(int dt) { return (dt == NPY_F4 || dt == NPY_I4) ? 4 : 8; }

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n') p++;
    return p;
}

/* Find `'key':` in the dict and return a pointer just after the colon, or NULL. */
static const char *dict_value(const char *hdr, const char *key)
{
    char pat[32];
    snprintf(pat, sizeof pat, "'%s'", key);
    const char *p = strstr(hdr, pat);
    if (!p) {
        snprintf(pat, sizeof pat, "\"%s\"", key);
        p = strstr(hdr, pat);
    }
    if (!p) return NULL;
    p = skip_ws(p + strlen(pat));
    if (*p != ':') return NULL;
    return skip_ws(p + 1);
}

int npy_read_info(struct npy_info *info, const char *path, struct dcqb_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return DCQB_FAIL(err, DCQB_EIO, "%s: cannot open: %s", path, strerror(errno));
    unsigned char pre[12];
    char *hdr = NULL;
    int rc = DCQB_OK;
    size_t got = fread(pre, 1, 10, f);
    if (got < 10 || memcmp(pre, npy_magic, 6) != 0) {
        rc = DCQB_FAIL(err, DCQB_EFORMAT, "%s: not a .npy file (bad magic)", path);
        goto out;
    }
    int major = pre[6];
    size_t hlen, off;
    if (major == 1) {
        hlen = (size_t)pre[8] | ((size_t)pre[9] << 8);
        off = 10;
    } else if (major == 2 || major == 3) {
        if (fread(pre + 10, 1, 2, f) != 2) {
            rc = DCQB_FAIL(err, DCQB_EFORMAT, "%s: truncated .npy header", path);
            goto out;
        }
        hlen = (size_t)pre[8] | ((size_t)pre[9] << 8) | ((size_t)pre[10] << 16) |
               ((size_t)pre[11] << 24);
        off = 12;
    } else {
        rc = DCQB_FAIL(err, DCQB_EFORMAT, "%s: unsupported .npy version %d.%d", path, major,
                       pre[7]);
        goto out;
    }
    if (hlen == 0 || hlen > (1u << 20)) {
        rc = DCQB_FAIL(err, DCQB_EFORMAT, "%s: implausible .npy header length %zu", path, hlen);
        goto out;
    }
    hdr = malloc(hlen + 1);
    if (!hdr) {
        rc = DCQB_FAIL(err, DCQB_ENOMEM, "%s: out of memory", path);
        goto out;
    }
    if (fread(hdr, 1, hlen, f) != hlen) {
        rc = DCQB_FAIL(err, DCQB_EFORMAT, "%s: truncated .npy header", path);
        goto out;
    }
    hdr[hlen] = '\0';
    /* NEP 1: the dict, padded with spaces, ends in '\n' */
    size_t last = hlen - 1, close = last;
    while (close > 0 && hdr[close - 1] == ' ') close--;
    if (hdr[last] != '\n' || close == 0 || hdr[close - 1] != '}' || strlen(hdr) != hlen) {
        rc = DCQB_FAIL(err, DCQB_EFORMAT, "%s: malformed .npy header (the dict, space padding "
                       "and a final newline expected)", path);
        goto out;
    }
    const char *d = dict_value(hdr, "descr");
    if (!d || (*d != '\'' && *d != '"')) {
        rc = DCQB_FAIL(err, DCQB_EFORMAT, "%s: .npy header has no 'descr'", path);
        goto out;
    }
    /* the whole string, closed by the quote that opened it: '<f4x' is not '<f4' */
    char q = *d++;
    static const char *const dts[] = {"<f4", "<f8", "<i4", "<i8"};
    static const int dtv[] = {NPY_F4, NPY_F8, NPY_I4, NPY_I8};
    info->dtype = -1;
    for (int i = 0; i < 4; i++)
        if (strncmp(d, dts[i], 3) == 0 && d[3] == q) info->dtype = dtv[i];
    if (info->dtype < 0) {
        const char *e = strchr(d, q);
        rc = DCQB_FAIL(err, DCQB_EFORMAT, "%s: unsupported dtype '%.*s' (need <f4, <f8, <i4 or "
                       "<i8)", path, e && e - d < 32 ? (int)(e - d) : 8, d);
        goto out;
    }
    const char *fo = dict_value(hdr, "fortran_order");
    if (!fo) {
        rc = DCQB_FAIL(err, DCQB_EFORMAT, "%s: .npy header has no 'fortran_order'", path);
        goto out;
    }
    if (strncmp(fo, "False", 5) != 0) {
        rc = DCQB_FAIL(err, DCQB_EFORMAT, "%s: Fortran-order arrays are not supported "
                       "(save with np.ascontiguousarray)", path);
        goto out;
    }
    const char *sh = dict_value(hdr, "shape");
    if (!sh || *sh != '(') {
        rc = DCQB_FAIL(err, DCQB_EFORMAT, "%s: .npy header has no 'shape' tuple", path);
        goto out;
    }
    sh++;
    int64_t dims[3];
    int nd = 0;
    for (;;) {
        sh = skip_ws(sh);
        if (*sh == ')') break;
        char *end;
        errno = 0;
        long long v = strtoll(sh, &end, 10);
        if (end == sh || errno || v < 0 || nd == 3) {
            rc = DCQB_FAIL(err, DCQB_EFORMAT, "%s: malformed 'shape' in .npy header", path);
            goto out;
        }
        dims[nd++] = v;
        sh = skip_ws(end);
        if (*sh == 'L') sh = skip_ws(sh + 1);
        if (*sh == ',') sh++;
        else if (*sh != ')') {
            rc = DCQB_FAIL(err, DCQB_EFORMAT, "%s: malformed 'shape' in .npy header", path);
            goto out;
        }
    }
    if (nd < 1 || nd > 2) {
        rc = DCQB_FAIL(err, DCQB_EFORMAT, "%s: need a 1-D or 2-D array, got %d dimensions", path,
                       nd);
        goto out;
    }
    info->ndim = nd;
    info->rows = dims[0];
    info->cols = nd == 2 ? dims[1] : 1;
    info->data_off = off + hlen;
    /* header + rows * cols * size, every step checked: a wrapped size would pass the length
     * check and reach malloc */
    uint64_t bytes, need;
    if (__builtin_mul_overflow((uint64_t)info->rows, (uint64_t)info->cols, &bytes) ||
        __builtin_mul_overflow(bytes, (uint64_t)dtype_size(info->dtype), &bytes) ||
        __builtin_add_overflow(bytes, (uint64_t)info->data_off, &need) ||
        need > (uint64_t)INT64_MAX) {
        rc = DCQB_FAIL(err, DCQB_EFORMAT, "%s: truncated: 'shape' (%lld, %lld) in the .npy "
                       "header promises more bytes than any file holds", path,
                       (long long)info->rows, (long long)info->cols);
        goto out;
    }
    /* The file must hold exactly the data the header promises. */
    if (fseek(f, 0, SEEK_END) != 0) {
        rc = DCQB_FAIL(err, DCQB_EIO, "%s: cannot seek", path);
        goto out;
    }
    long long fsize = ftell(f);
    if (fsize < (long long)need) {
        rc = DCQB_FAIL(err, DCQB_EFORMAT, "%s: truncated: header promises %lld x %lld values, "
                       "file has %lld of %lld bytes", path, (long long)info->rows,
                       (long long)info->cols, fsize, (long long)need);
        goto out;
    }
    if (fsize > (long long)need) {
        rc = DCQB_FAIL(err, DCQB_EFORMAT, "%s: %lld bytes after the data the header promises "
                       "(file %lld bytes, header + data %lld)", path, fsize - (long long)need,
                       fsize, (long long)need);
        goto out;
    }
out:
    free(hdr);
    fclose(f);
    return rc;
}

static int read_raw(void **buf, const struct npy_info *info, const char *path,
                    struct dcqb_err *err)
{
    size_t n = (size_t)info->rows * (size_t)info->cols;
    size_t bytes = n * (size_t)dtype_size(info->dtype);
    *buf = malloc(bytes ? bytes : 1);
    if (!*buf) return DCQB_FAIL(err, DCQB_ENOMEM, "%s: out of memory (%zu bytes)", path, bytes);
    FILE *f = fopen(path, "rb");
    if (!f) {
        free(*buf);
        *buf = NULL;
        return DCQB_FAIL(err, DCQB_EIO, "%s: cannot open: %s", path, strerror(errno));
    }
    int ok = fseek(f, (long)info->data_off, SEEK_SET) == 0 && fread(*buf, 1, bytes, f) == bytes;
    fclose(f);
    if (!ok) {
        free(*buf);
        *buf = NULL;
        return DCQB_FAIL(err, DCQB_EIO, "%s: short read", path);
    }
    return DCQB_OK;
}

int npy_read_f32(float **data, int64_t *rows, int64_t *cols, const char *path,
                 struct dcqb_err *err)
{
    struct npy_info info;
    void *raw;
    int rc = npy_read_info(&info, path, err);
    if (rc) return rc;
    if ((rc = read_raw(&raw, &info, path, err))) return rc;
    size_t n = (size_t)info.rows * (size_t)info.cols;
    if (info.dtype != NPY_F4) {
        float *out = malloc(n ? n * sizeof *out : 1);
        if (!out) {
            free(raw);
            return DCQB_FAIL(err, DCQB_ENOMEM, "%s: out of memory", path);
        }
        for (size_t i = 0; i < n; i++) {
            switch (info.dtype) {
            case NPY_F8: out[i] = (float)((const double *)raw)[i]; break;
            case NPY_I4: out[i] = (float)((const int32_t *)raw)[i]; break;
            default: out[i] = (float)((const int64_t *)raw)[i]; break;
            }
        }
        free(raw);
        raw = out;
    }
    *data = raw;
    *rows = info.rows;
    *cols = info.cols;
    return DCQB_OK;
}

int npy_read_i32(int32_t **data, int64_t *n, const char *path, struct dcqb_err *err)
{
    struct npy_info info;
    void *raw;
    int rc = npy_read_info(&info, path, err);
    if (rc) return rc;
    if (info.dtype != NPY_I4 && info.dtype != NPY_I8)
        return DCQB_FAIL(err, DCQB_EFORMAT, "%s: labels must be int32 or int64", path);
    if (info.cols != 1)
        return DCQB_FAIL(err, DCQB_EFORMAT, "%s: labels must be a vector, got shape (%lld, %lld)",
                         path, (long long)info.rows, (long long)info.cols);
    if ((rc = read_raw(&raw, &info, path, err))) return rc;
    if (info.dtype == NPY_I8) {
        int32_t *out = malloc(info.rows ? (size_t)info.rows * sizeof *out : 1);
        if (!out) {
            free(raw);
            return DCQB_FAIL(err, DCQB_ENOMEM, "%s: out of memory", path);
        }
        for (int64_t i = 0; i < info.rows; i++) {
            int64_t v = ((const int64_t *)raw)[i];
            if (v < INT32_MIN || v > INT32_MAX) {
                free(out);
                free(raw);
                return DCQB_FAIL(err, DCQB_EFORMAT, "%s: label %lld at index %lld does not fit "
                                 "int32", path, (long long)v, (long long)i);
            }
            out[i] = (int32_t)v;
        }
        free(raw);
        raw = out;
    }
    *data = raw;
    *n = info.rows;
    return DCQB_OK;
}

static int write_any(const char *path, const void *data, const char *descr, int64_t rows,
                     int64_t cols, size_t elem, struct dcqb_err *err)
{
    char dict[160];
    if (cols > 0)
        snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%lld, %lld), }",
                 descr, (long long)rows, (long long)cols);
    else
        snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%lld,), }",
                 descr, (long long)rows);
    /* version 1.0: 10-byte preamble; pad the header with spaces so data starts on 64 bytes */
    size_t dl = strlen(dict);
    size_t total = 10 + dl + 1;
    size_t pad = (64 - total % 64) % 64;
    size_t hlen = dl + pad + 1;
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return DCQB_FAIL(err, DCQB_EIO, "%s: cannot create: %s", tmp, strerror(errno));
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff),
                             (unsigned char)(hlen >> 8)};
    fwrite(pre, 1, 10, f);
    fwrite(dict, 1, dl, f);
    for (size_t i = 0; i < pad; i++) fputc(' ', f);
    fputc('\n', f);
    size_t n = (size_t)rows * (size_t)(cols > 0 ? cols : 1);
    fwrite(data, elem, n, f);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        remove(tmp);
        return DCQB_FAIL(err, DCQB_EIO, "%s: write failed", path);
    }
    /* write-then-rename: a crash never leaves a half-written file under the real name */
    if (rename(tmp, path) != 0) {
        remove(tmp);
        return DCQB_FAIL(err, DCQB_EIO, "%s: cannot rename into place: %s", path,
                         strerror(errno));
    }
    return DCQB_OK;
}

int npy_write_f32(const char *path, const float *data, int64_t rows, int64_t cols,
                  struct dcqb_err *err)
{
    return write_any(path, data, "<f4", rows, cols, sizeof(float), err);
}

int npy_write_i32(const char *path, const int32_t *data, int64_t n, struct dcqb_err *err)
{
    return write_any(path, data, "<i4", n, 0, sizeof(int32_t), err);
}
