/* dcqb.h - status codes, error struct and small shared helpers for every dcqbench module.
 *
 * Library code (algorithms/, datasets/, harness/ except main.c) never exits or prints: it returns
 * a `enum dcqb_status` and, when given a `struct dcqb_err *`, fills it with a one-line message
 * (docs/ARCHITECTURE.md §1). Codes are for programs, the message is for humans. `err` may be NULL.
 * Header-only so that every layer can use it without a dependency on the harness.
 */
#ifndef DCQB_H
#define DCQB_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DCQB_VERSION "0.1.0"

enum dcqb_status {
    DCQB_OK = 0,
    DCQB_ENOMEM,   /* allocation failed or a memory plan does not fit */
    DCQB_EINVAL,   /* bad argument, bad config value, unknown key */
    DCQB_EIO,      /* open/read/write failed */
    DCQB_EFORMAT,  /* malformed or corrupt file */
    DCQB_ENUMERIC, /* non-finite loss or gradient */
    DCQB_EINTR     /* interrupted by a signal; state was saved */
};

struct dcqb_err {
    int code;
    char msg[256];
    const char *file; /* source location that raised it, for debugging */
    int line;
};

static inline const char *dcqb_strerror(int code)
{
    switch (code) {
    case DCQB_OK: return "ok";
    case DCQB_ENOMEM: return "out of memory";
    case DCQB_EINVAL: return "invalid argument";
    case DCQB_EIO: return "i/o error";
    case DCQB_EFORMAT: return "bad file format";
    case DCQB_ENUMERIC: return "numerical failure";
    case DCQB_EINTR: return "interrupted";
    default: return "unknown error";
    }
}

#if defined(__GNUC__)
__attribute__((format(printf, 5, 6)))
#endif
static inline int dcqb_fail(struct dcqb_err *err, int code, const char *file, int line,
                            const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
        err->file = file;
        err->line = line;
    }
    return code;
}

/* Fill `err` and return `code` from the enclosing function: `return DCQB_FAIL(err, ...)`. */
#define DCQB_FAIL(err, code, ...) dcqb_fail((err), (code), __FILE__, __LINE__, __VA_ARGS__)

static inline void dcqb_err_clear(struct dcqb_err *err)
{
    if (err) memset(err, 0, sizeof *err);
}

/* Zeroed memory whose pages are touched now: calloc of a large block maps zero pages lazily,
 * and the first steps of a run that touch random rows of a 5 GB weight matrix would pay those
 * page faults inside the step loop (it showed as head steps slower than head+backbone steps in
 * the benchmark). Blocks of 8 MB and more are 2 MB aligned and asked for transparent huge
 * pages: a subset head's rows are scattered over the table, and with 4 KB pages every row of W
 * and of V was a TLB miss as well as a cache miss. Init-time only; free() releases it.
 * (algorithms/zalloc.c) */
void *dcqb_zalloc(size_t bytes);

/* Shortest "%.Ng" that reads back as the same double (as_float: the same float), so resolved
 * configs say 0.1, not 0.10000000000000001. */
static inline void dcqb_fmt_double(char *buf, size_t n, double x, int as_float)
{
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, n, "%.*g", p, x);
        double y = strtod(buf, NULL);
        if (as_float ? (float)y == (float)x : y == x) return;
    }
}

/* Seconds on the monotonic clock: the one clock for progress, ETAs and benchmarks. */
static inline double dcqb_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* 64-bit FNV-1a of n bytes continued from h (start with DCQB_FNV1A64_INIT): run ids and config
 * hashes. Not a checksum for files (those use zlib's crc32). */
#define DCQB_FNV1A64_INIT 0xcbf29ce484222325ULL
static inline uint64_t dcqb_fnv1a64(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = (const unsigned char *)data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* splitmix64: the seed mixer for every derived stream (docs/METHOD.md §7). */
static inline uint64_t dcqb_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Named random streams. A module that draws more numbers never shifts another's stream. */
enum dcqb_stream {
    DCQB_STREAM_DATA = 1,     /* synthetic data generator */
    DCQB_STREAM_INIT = 2,     /* parameter initialisation */
    DCQB_STREAM_SHUFFLE = 3,  /* batch sampling / data order */
    DCQB_STREAM_HEAD = 4,     /* head-internal sampling (negatives, sampled classes) */
    DCQB_STREAM_AUG = 5,      /* flip augmentation of the batch */
    DCQB_STREAM_REF = 6       /* DCQ's reference (pair / k-shot) image and flip draws, apart
                               * from SHUFFLE and AUG so every head sees the same batches */
};

/* Seed of stream `id` under master `seed`: two splitmix64 rounds over (seed, id). */
static inline uint64_t dcqb_stream_seed(uint64_t seed, uint64_t id)
{
    uint64_t s = seed ^ (id * 0xd1b54a32d192ed03ULL);
    dcqb_splitmix64(&s);
    return dcqb_splitmix64(&s);
}

#endif /* DCQB_H */
