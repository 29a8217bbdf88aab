/* dsfile.h - dcqbench's binary dataset file: a float32 matrix X (N, D) and int32 labels (N).
 *
 * Layout (little endian), a 64-byte header then a zlib (deflate) stream:
 *    0  magic      "DCQBDS\0\0"
 *    8  u32        version (DSFILE_VERSION)
 *   12  u32        flags (0)
 *   16  i64        rows N
 *   24  i64        cols D
 *   32  u64        raw_bytes  = 4 N D + 4 N (payload before compression)
 *   40  u64        comp_bytes (bytes of the zlib stream after the header)
 *   48  u32        crc32 of the compressed payload (zlib's crc32)
 *   52  u32        crc32 of the raw payload
 *   56  u32        reserved (0)
 *   60  u32        crc32 of header bytes 0..59
 *   64  payload    zlib stream of [X row-major float32][labels int32]
 * The file must be exactly 64 + comp_bytes long. Readers refuse (DCQB_EFORMAT, a message naming
 * the file, the problem and a hint) a wrong magic or version, a bad header or payload CRC, a
 * short or over-long file, and a zlib stream that does not inflate to raw_bytes.
 * Writers stream rows through deflate (no full copy in memory) into PATH.tmp, then rename.
 */
#ifndef DCQB_DSFILE_H
#define DCQB_DSFILE_H

#include "dcqb.h"

#define DSFILE_VERSION 1
#define DSFILE_HEADER_BYTES 64

struct dsfile_info {
    uint32_t version;
    int64_t rows, cols;
    uint64_t raw_bytes, comp_bytes;
    uint32_t payload_crc, raw_crc;
};

/* Read and check the header only (magic, version, header CRC, dims, file length). */
int dsfile_read_info(struct dsfile_info *info, const char *path, struct dcqb_err *err);

/* Read everything and check both CRCs. *x (rows*cols floats) and *labels (rows) are malloc'ed;
 * the caller frees them. Either output pointer may be NULL to discard (verification). */
int dsfile_read(float **x, int32_t **labels, int64_t *rows, int64_t *cols, const char *path,
                struct dcqb_err *err);

/* Write X (rows, cols) and labels (rows) in one call. */
int dsfile_write(const char *path, const float *x, const int32_t *labels, int64_t rows,
                 int64_t cols, struct dcqb_err *err);

/* Streaming writer: open with the final row count, append rows in any chunking, close. The
 * labels (4 bytes a row) are kept in memory until close; X is deflated as it comes. */
struct dsfile_writer;
int dsfile_writer_open(struct dsfile_writer **w, const char *path, int64_t rows, int64_t cols,
                       struct dcqb_err *err);
int dsfile_writer_append(struct dsfile_writer *w, const float *x, const int32_t *labels,
                         int64_t n, struct dcqb_err *err);
/* Finish the stream, write the header and rename into place; frees w (also on failure). */
int dsfile_writer_close(struct dsfile_writer *w, struct dcqb_err *err);
/* Abandon: remove the temporary file and free (NULL is a no-op). */
void dsfile_writer_abort(struct dsfile_writer *w);

#endif
