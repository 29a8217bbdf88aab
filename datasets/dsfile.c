/* dsfile.c - see dsfile.h. zlib deflate/inflate streams in 1 MiB chunks, so files larger than
 * 4 GiB (zlib's uInt) and larger than memory-in-one-buffer work; crc32 from zlib. */
#include "dsfile.h"

#include <errno.h>
#include <stdlib.h>
#include <zlib.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "dsfile.c writes the host's bytes and assumes a little-endian host"
#endif

static const unsigned char ds_magic[8] = {'D', 'C', 'Q', 'B', 'D', 'S', 0, 0};
#define CHUNK (1u << 20)
#define HINT "; the file is corrupt or truncated: re-create it with 'dcqbench data export'"

static void put32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(unsigned char *p, uint64_t v) { memcpy(p, &v, 8); }
static uint32_t get32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* crc32 over any length (zlib's takes uInt) */
static uint32_t crc_update(uint32_t crc, const void *buf, size_t n)
{
    const unsigned char *p = buf;
    while (n > 0) {
        uInt k = n > CHUNK ? CHUNK : (uInt)n;
        crc = (uint32_t)crc32(crc, p, k);
        p += k;
        n -= k;
    }
    return crc;
}

/* ------------------------------------------------------------------ writer */

struct dsfile_writer {
    FILE *f;
    char path[1024], tmp[1040];
    int64_t rows, cols, done;
    int32_t *labels;
    z_stream zs;
    int zinit;
    unsigned char *out;   /* CHUNK bytes of compressed output */
    uint32_t comp_crc, raw_crc;
    uint64_t comp_bytes;
};

void dsfile_writer_abort(struct dsfile_writer *w)
{
    if (!w) return;
    if (w->f) {
        fclose(w->f);
        remove(w->tmp);
    }
    if (w->zinit) deflateEnd(&w->zs);
    free(w->labels);
    free(w->out);
    free(w);
}

int dsfile_writer_open(struct dsfile_writer **wp, const char *path, int64_t rows, int64_t cols,
                       struct dcqb_err *err)
{
    *wp = NULL;
    if (rows < 0 || cols < 1 || (rows > 0 && cols > INT64_MAX / 4 / rows))
        return DCQB_FAIL(err, DCQB_EINVAL, "%s: bad dims (%lld, %lld)", path, (long long)rows,
                         (long long)cols);
    if (strlen(path) >= 1024) return DCQB_FAIL(err, DCQB_EINVAL, "%s: path too long", path);
    struct dsfile_writer *w = calloc(1, sizeof *w);
    if (!w) return DCQB_FAIL(err, DCQB_ENOMEM, "%s: out of memory", path);
    snprintf(w->path, sizeof w->path, "%s", path);
    snprintf(w->tmp, sizeof w->tmp, "%s.tmp", path);
    w->rows = rows;
    w->cols = cols;
    w->labels = malloc(rows ? (size_t)rows * sizeof *w->labels : 1);
    w->out = malloc(CHUNK);
    if (!w->labels || !w->out) {
        dsfile_writer_abort(w);
        return DCQB_FAIL(err, DCQB_ENOMEM, "%s: out of memory for %lld labels", path,
                         (long long)rows);
    }
    /* level 1: float noise barely compresses (level 6 saved ~1 % more at 4x the time) */
    if (deflateInit(&w->zs, 1) != Z_OK) {
        dsfile_writer_abort(w);
        return DCQB_FAIL(err, DCQB_ENOMEM, "%s: deflateInit failed", path);
    }
    w->zinit = 1;
    w->f = fopen(w->tmp, "wb");
    if (!w->f) {
        int e = errno;
        dsfile_writer_abort(w);
        return DCQB_FAIL(err, DCQB_EIO, "%s: cannot create: %s", path, strerror(e));
    }
    unsigned char hdr[DSFILE_HEADER_BYTES] = {0}; /* placeholder, rewritten at close */
    if (fwrite(hdr, 1, sizeof hdr, w->f) != sizeof hdr) {
        dsfile_writer_abort(w);
        return DCQB_FAIL(err, DCQB_EIO, "%s: write failed", path);
    }
    w->comp_crc = (uint32_t)crc32(0L, Z_NULL, 0);
    w->raw_crc = w->comp_crc;
    *wp = w;
    return DCQB_OK;
}

/* Feed n bytes to deflate (flush = Z_NO_FLUSH or Z_FINISH) and write what comes out. */
static int feed(struct dsfile_writer *w, const void *buf, size_t n, int flush,
                struct dcqb_err *err)
{
    const unsigned char *p = buf;
    w->raw_crc = crc_update(w->raw_crc, p, n);
    for (;;) {
        uInt k = n > CHUNK ? CHUNK : (uInt)n;
        int last = (k == n);
        w->zs.next_in = (Bytef *)(uintptr_t)p;
        w->zs.avail_in = k;
        int fl = last ? flush : Z_NO_FLUSH, zr;
        do {
            w->zs.next_out = w->out;
            w->zs.avail_out = CHUNK;
            zr = deflate(&w->zs, fl);
            if (zr == Z_STREAM_ERROR)
                return DCQB_FAIL(err, DCQB_EIO, "%s: deflate failed", w->path);
            size_t got = CHUNK - w->zs.avail_out;
            if (got && fwrite(w->out, 1, got, w->f) != got)
                return DCQB_FAIL(err, DCQB_EIO, "%s: write failed: %s", w->path, strerror(errno));
            w->comp_crc = crc_update(w->comp_crc, w->out, got);
            w->comp_bytes += got;
        } while (w->zs.avail_out == 0 || (fl == Z_FINISH && zr != Z_STREAM_END));
        p += k;
        n -= k;
        if (last) break;
    }
    return DCQB_OK;
}

int dsfile_writer_append(struct dsfile_writer *w, const float *x, const int32_t *labels,
                         int64_t n, struct dcqb_err *err)
{
    if (n < 0 || w->done + n > w->rows)
        return DCQB_FAIL(err, DCQB_EINVAL, "%s: appending %lld rows after %lld of %lld", w->path,
                         (long long)n, (long long)w->done, (long long)w->rows);
    if (n == 0) return DCQB_OK;
    memcpy(w->labels + w->done, labels, (size_t)n * sizeof *labels);
    w->done += n;
    return feed(w, x, (size_t)n * (size_t)w->cols * sizeof(float), Z_NO_FLUSH, err);
}

int dsfile_writer_close(struct dsfile_writer *w, struct dcqb_err *err)
{
    int rc;
    if (w->done != w->rows) {
        rc = DCQB_FAIL(err, DCQB_EINVAL, "%s: closed after %lld of %lld rows", w->path,
                       (long long)w->done, (long long)w->rows);
        goto fail;
    }
    /* Z_FINISH needs a call even with no input: feed() runs the loop at least once */
    if ((rc = feed(w, w->labels, (size_t)w->rows * sizeof(int32_t), Z_FINISH, err))) goto fail;
    unsigned char hdr[DSFILE_HEADER_BYTES] = {0};
    memcpy(hdr, ds_magic, 8);
    put32(hdr + 8, DSFILE_VERSION);
    put32(hdr + 12, 0);
    put64(hdr + 16, (uint64_t)w->rows);
    put64(hdr + 24, (uint64_t)w->cols);
    put64(hdr + 32, (uint64_t)w->rows * (uint64_t)w->cols * 4 + (uint64_t)w->rows * 4);
    put64(hdr + 40, w->comp_bytes);
    put32(hdr + 48, w->comp_crc);
    put32(hdr + 52, w->raw_crc);
    put32(hdr + 60, (uint32_t)crc32(0L, hdr, 60));
    if (fseek(w->f, 0, SEEK_SET) != 0 || fwrite(hdr, 1, sizeof hdr, w->f) != sizeof hdr) {
        rc = DCQB_FAIL(err, DCQB_EIO, "%s: cannot write header: %s", w->path, strerror(errno));
        goto fail;
    }
    int bad = ferror(w->f);
    int cl = fclose(w->f);
    w->f = NULL;
    if (bad || cl != 0) {
        remove(w->tmp);
        rc = DCQB_FAIL(err, DCQB_EIO, "%s: write failed", w->path);
        goto fail;
    }
    /* write-then-rename: a crash never leaves a half-written file under the real name */
    if (rename(w->tmp, w->path) != 0) {
        remove(w->tmp);
        rc = DCQB_FAIL(err, DCQB_EIO, "%s: cannot rename into place: %s", w->path,
                       strerror(errno));
        goto fail;
    }
    dsfile_writer_abort(w); /* frees; the file is no longer open */
    return DCQB_OK;
fail:
    dsfile_writer_abort(w);
    return rc;
}

int dsfile_write(const char *path, const float *x, const int32_t *labels, int64_t rows,
                 int64_t cols, struct dcqb_err *err)
{
    struct dsfile_writer *w;
    int rc = dsfile_writer_open(&w, path, rows, cols, err);
    if (rc) return rc;
    if ((rc = dsfile_writer_append(w, x, labels, rows, err))) {
        dsfile_writer_abort(w);
        return rc;
    }
    return dsfile_writer_close(w, err);
}

/* ------------------------------------------------------------------ reader */

static int parse_header(struct dsfile_info *info, FILE *f, const char *path, struct dcqb_err *err)
{
    unsigned char hdr[DSFILE_HEADER_BYTES];
    size_t got = fread(hdr, 1, sizeof hdr, f);
    if (got < 8 || memcmp(hdr, ds_magic, 8) != 0)
        return DCQB_FAIL(err, DCQB_EFORMAT, "%s: not a dcqbench dataset file (bad magic); "
                         "expected a file written by 'dcqbench data export --format dcqb'", path);
    if (got < sizeof hdr)
        return DCQB_FAIL(err, DCQB_EFORMAT, "%s: truncated header (%zu of %d bytes)" HINT, path,
                         got, DSFILE_HEADER_BYTES);
    info->version = get32(hdr + 8);
    if (info->version != DSFILE_VERSION)
        return DCQB_FAIL(err, DCQB_EFORMAT, "%s: unsupported format version %u (this build reads "
                         "version %d); re-export it with this dcqbench", path, info->version,
                         DSFILE_VERSION);
    if (get32(hdr + 60) != (uint32_t)crc32(0L, hdr, 60))
        return DCQB_FAIL(err, DCQB_EFORMAT, "%s: header CRC mismatch" HINT, path);
    info->rows = (int64_t)get64(hdr + 16);
    info->cols = (int64_t)get64(hdr + 24);
    info->raw_bytes = get64(hdr + 32);
    info->comp_bytes = get64(hdr + 40);
    info->payload_crc = get32(hdr + 48);
    info->raw_crc = get32(hdr + 52);
    if (get32(hdr + 12) != 0 || info->rows < 0 || info->cols < 1 ||
        (info->rows > 0 && info->cols > INT64_MAX / 8 / info->rows) ||
        info->raw_bytes != (uint64_t)info->rows * (uint64_t)info->cols * 4 +
                               (uint64_t)info->rows * 4)
        return DCQB_FAIL(err, DCQB_EFORMAT, "%s: inconsistent header (rows %lld, cols %lld)" HINT,
                         path, (long long)info->rows, (long long)info->cols);
    if (fseek(f, 0, SEEK_END) != 0)
        return DCQB_FAIL(err, DCQB_EIO, "%s: cannot seek: %s", path, strerror(errno));
    long long fsize = ftell(f);
    long long need = DSFILE_HEADER_BYTES + (long long)info->comp_bytes;
    if (fsize != need)
        return DCQB_FAIL(err, DCQB_EFORMAT, "%s: %s: file has %lld bytes, header promises %lld"
                         HINT, path, fsize < need ? "truncated" : "trailing bytes", fsize, need);
    if (fseek(f, DSFILE_HEADER_BYTES, SEEK_SET) != 0)
        return DCQB_FAIL(err, DCQB_EIO, "%s: cannot seek: %s", path, strerror(errno));
    return DCQB_OK;
}

int dsfile_read_info(struct dsfile_info *info, const char *path, struct dcqb_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return DCQB_FAIL(err, DCQB_EIO, "%s: cannot open: %s", path, strerror(errno));
    int rc = parse_header(info, f, path, err);
    fclose(f);
    return rc;
}

/* Inflate the payload into dst[0..n) (X) then lab[0..rows) (labels); NULL dst = discard. */
int dsfile_read(float **x, int32_t **labels, int64_t *rows, int64_t *cols, const char *path,
                struct dcqb_err *err)
{
    struct dsfile_info info;
    FILE *f = fopen(path, "rb");
    if (!f) return DCQB_FAIL(err, DCQB_EIO, "%s: cannot open: %s", path, strerror(errno));
    unsigned char *in = NULL, *scratch = NULL;
    float *X = NULL;
    int32_t *L = NULL;
    z_stream zs;
    int zinit = 0;
    int rc = parse_header(&info, f, path, err);
    if (rc) goto out;
    size_t xbytes = (size_t)info.rows * (size_t)info.cols * 4, lbytes = (size_t)info.rows * 4;
    in = malloc(CHUNK);
    scratch = malloc(CHUNK);
    if (x) X = malloc(xbytes ? xbytes : 1);
    if (labels) L = malloc(lbytes ? lbytes : 1);
    if (!in || !scratch || (x && !X) || (labels && !L)) {
        rc = DCQB_FAIL(err, DCQB_ENOMEM, "%s: out of memory for %lld x %lld", path,
                       (long long)info.rows, (long long)info.cols);
        goto out;
    }
    memset(&zs, 0, sizeof zs);
    if (inflateInit(&zs) != Z_OK) {
        rc = DCQB_FAIL(err, DCQB_ENOMEM, "%s: inflateInit failed", path);
        goto out;
    }
    zinit = 1;
    uint32_t ccrc = (uint32_t)crc32(0L, Z_NULL, 0), rcrc = ccrc;
    uint64_t left_in = info.comp_bytes, raw_pos = 0;
    int zr = Z_OK;
    /* Output segments: [0, xbytes) -> X, [xbytes, raw_bytes) -> L; a NULL target inflates into
     * scratch. Each inflate call writes into at most one segment, <= CHUNK bytes. */
    while (zr != Z_STREAM_END) {
        if (zs.avail_in == 0 && left_in > 0) {
            size_t k = left_in > CHUNK ? CHUNK : (size_t)left_in;
            if (fread(in, 1, k, f) != k) {
                rc = DCQB_FAIL(err, DCQB_EFORMAT, "%s: short read" HINT, path);
                goto out;
            }
            ccrc = crc_update(ccrc, in, k);
            left_in -= k;
            zs.next_in = in;
            zs.avail_in = (uInt)k;
        }
        if (raw_pos >= info.raw_bytes) {
            /* all data out; the stream must end now without more output */
            zs.next_out = scratch;
            zs.avail_out = CHUNK;
        } else {
            unsigned char *dst;
            size_t seg_left;
            if (raw_pos < xbytes) {
                dst = X ? (unsigned char *)X + raw_pos : NULL;
                seg_left = xbytes - raw_pos;
            } else {
                dst = L ? (unsigned char *)L + (raw_pos - xbytes) : NULL;
                seg_left = info.raw_bytes - raw_pos;
            }
            size_t k = seg_left > CHUNK ? CHUNK : seg_left;
            zs.next_out = dst ? dst : scratch;
            zs.avail_out = (uInt)k;
        }
        unsigned char *before = zs.next_out;
        zr = inflate(&zs, Z_NO_FLUSH);
        size_t made = (size_t)(zs.next_out - before);
        if (zr == Z_NEED_DICT || zr == Z_DATA_ERROR || zr == Z_MEM_ERROR || zr == Z_STREAM_ERROR ||
            (zr == Z_BUF_ERROR && zs.avail_in == 0 && left_in == 0)) {
            rc = DCQB_FAIL(err, DCQB_EFORMAT, "%s: corrupt compressed payload (zlib: %s)" HINT,
                           path, zs.msg ? zs.msg : "stream ended early");
            goto out;
        }
        if (raw_pos + made > info.raw_bytes) {
            rc = DCQB_FAIL(err, DCQB_EFORMAT, "%s: payload longer than the header says" HINT, path);
            goto out;
        }
        rcrc = crc_update(rcrc, before, made);
        raw_pos += made;
    }
    /* compressed bytes after the stream end are still read into the CRC, then refused */
    while (left_in > 0) {
        size_t k = left_in > CHUNK ? CHUNK : (size_t)left_in;
        if (fread(in, 1, k, f) != k) {
            rc = DCQB_FAIL(err, DCQB_EFORMAT, "%s: short read" HINT, path);
            goto out;
        }
        ccrc = crc_update(ccrc, in, k);
        left_in -= k;
    }
    if (ccrc != info.payload_crc) {
        rc = DCQB_FAIL(err, DCQB_EFORMAT, "%s: payload CRC mismatch (stored %08x, computed %08x)"
                       HINT, path, info.payload_crc, ccrc);
        goto out;
    }
    if (raw_pos != info.raw_bytes || zs.avail_in != 0) {
        rc = DCQB_FAIL(err, DCQB_EFORMAT, "%s: payload inflates to %llu bytes, header says %llu"
                       HINT, path, (unsigned long long)raw_pos,
                       (unsigned long long)info.raw_bytes);
        goto out;
    }
    if (rcrc != info.raw_crc) {
        rc = DCQB_FAIL(err, DCQB_EFORMAT, "%s: raw payload CRC mismatch" HINT, path);
        goto out;
    }
    if (x) *x = X;
    if (labels) *labels = L;
    X = NULL;
    L = NULL;
    if (rows) *rows = info.rows;
    if (cols) *cols = info.cols;
out:
    if (zinit) inflateEnd(&zs);
    free(in);
    free(scratch);
    free(X);
    free(L);
    fclose(f);
    return rc;
}
