/* test_dsfile.c - the dcqb dataset file (datasets/dsfile.c): round trips (empty, small,
 * several zlib chunks, streamed in pieces), and refusal of every kind of damage: flipped bytes
 * in header and payload, truncation at many lengths, wrong magic, wrong version, trailing bytes. */
#include "test_util.h"

#include "dsfile.h"

static char *path_of(const char *name)
{
    static char p[512];
    snprintf(p, sizeof p, "%s/%s", test_tmpdir(), name);
    return p;
}

static void fill(float *x, int32_t *y, int64_t n, int64_t d, uint64_t seed)
{
    uint64_t s = seed;
    for (int64_t i = 0; i < n * d; i++)
        x[i] = (float)((double)(dcqb_splitmix64(&s) >> 40) / (double)(1 << 24) - 0.5);
    for (int64_t i = 0; i < n; i++) y[i] = (int32_t)(dcqb_splitmix64(&s) % 1000) - 1;
}

static long file_size(const char *p)
{
    FILE *f = fopen(p, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

static unsigned char *slurp(const char *p, long *n)
{
    *n = file_size(p);
    unsigned char *b = malloc((size_t)*n);
    FILE *f = fopen(p, "rb");
    assert_true(b && f);
    assert_int_equal(fread(b, 1, (size_t)*n, f), (size_t)*n);
    fclose(f);
    return b;
}

static void spit(const char *p, const unsigned char *b, long n)
{
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
}

static void round_trip(int64_t n, int64_t d, const char *name)
{
    float *x = malloc((size_t)(n * d + 1) * sizeof *x), *rx = NULL;
    int32_t *y = malloc((size_t)(n + 1) * sizeof *y), *ry = NULL;
    assert_true(x && y);
    fill(x, y, n, d, (uint64_t)n);
    struct dcqb_err err = {0};
    const char *p = path_of(name);
    int rc = dsfile_write(p, x, y, n, d, &err);
    if (rc) print_error("%s\n", err.msg);
    assert_int_equal(rc, DCQB_OK);
    int64_t rn = -1, rd = -1;
    rc = dsfile_read(&rx, &ry, &rn, &rd, p, &err);
    if (rc) print_error("%s\n", err.msg);
    assert_int_equal(rc, DCQB_OK);
    assert_int_equal(rn, n);
    assert_int_equal(rd, d);
    if (n) {
        assert_memory_equal(rx, x, (size_t)(n * d) * sizeof *x);
        assert_memory_equal(ry, y, (size_t)n * sizeof *y);
    }
    struct dsfile_info info;
    assert_int_equal(dsfile_read_info(&info, p, &err), DCQB_OK);
    assert_int_equal(info.version, DSFILE_VERSION);
    assert_int_equal(info.raw_bytes, (uint64_t)(n * d * 4 + n * 4));
    /* the temporary file was renamed away */
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", p);
    assert_null(fopen(tmp, "rb"));
    free(x);
    free(y);
    free(rx);
    free(ry);
}

static void test_round_trip(void **state)
{
    (void)state;
    round_trip(0, 4, "empty.dcqb");
    round_trip(7, 3, "small.dcqb");
    round_trip(6000, 128, "big.dcqb"); /* 3 MB raw: several 1 MiB chunks both ways */
}

static void test_streamed_equals_one_call(void **state)
{
    (void)state;
    enum { N = 1000, D = 16 };
    static float x[N * D];
    static int32_t y[N];
    fill(x, y, N, D, 5);
    struct dcqb_err err = {0};
    assert_int_equal(dsfile_write(path_of("one.dcqb"), x, y, N, D, &err), DCQB_OK);
    struct dsfile_writer *w;
    assert_int_equal(dsfile_writer_open(&w, path_of("stream.dcqb"), N, D, &err), DCQB_OK);
    int64_t done = 0;
    for (int64_t k = 1; done < N; k = k * 3 + 1) {
        int64_t n = N - done < k ? N - done : k;
        assert_int_equal(dsfile_writer_append(w, x + done * D, y + done, n, &err), DCQB_OK);
        done += n;
    }
    assert_int_equal(dsfile_writer_close(w, &err), DCQB_OK);
    float *rx;
    int32_t *ry;
    int64_t rn, rd;
    assert_int_equal(dsfile_read(&rx, &ry, &rn, &rd, path_of("stream.dcqb"), &err), DCQB_OK);
    assert_memory_equal(rx, x, sizeof x);
    assert_memory_equal(ry, y, sizeof y);
    free(rx);
    free(ry);
    /* misuse: too many rows, or closing short */
    assert_int_equal(dsfile_writer_open(&w, path_of("short.dcqb"), 10, D, &err), DCQB_OK);
    assert_int_equal(dsfile_writer_append(w, x, y, 11, &err), DCQB_EINVAL);
    assert_int_equal(dsfile_writer_append(w, x, y, 5, &err), DCQB_OK);
    assert_int_equal(dsfile_writer_close(w, &err), DCQB_EINVAL);
    assert_null(fopen(path_of("short.dcqb"), "rb"));
}

/* Write a reference file, return its bytes. */
static unsigned char *reference(const char *p, long *n)
{
    enum { N = 300, D = 32 };
    static float x[N * D];
    static int32_t y[N];
    fill(x, y, N, D, 9);
    struct dcqb_err err = {0};
    assert_int_equal(dsfile_write(p, x, y, N, D, &err), DCQB_OK);
    return slurp(p, n);
}

static void expect_format_error(const char *p, const char *needle)
{
    struct dcqb_err err = {0};
    float *x = NULL;
    int32_t *y = NULL;
    int64_t n, d;
    int rc = dsfile_read(&x, &y, &n, &d, p, &err);
    if (rc != DCQB_EFORMAT) print_error("expected EFORMAT for %s, got %d (%s)\n", p, rc, err.msg);
    assert_int_equal(rc, DCQB_EFORMAT);
    assert_null(x);
    assert_null(y);
    assert_non_null(strstr(err.msg, p)); /* names the file */
    if (needle && !strstr(err.msg, needle)) print_error("'%s' not in: %s\n", needle, err.msg);
    if (needle) assert_non_null(strstr(err.msg, needle));
}

static void test_flipped_byte_detected(void **state)
{
    (void)state;
    const char *p = path_of("flip.dcqb");
    long n;
    unsigned char *good = reference(p, &n);
    unsigned char *bad = malloc((size_t)n);
    assert_non_null(bad);
    /* every header byte after the magic, and a spread of payload bytes */
    for (long pos = 8; pos < n; pos += pos < 64 ? 1 : 97) {
        for (int bit = 0; bit < 8; bit += 7) {
            memcpy(bad, good, (size_t)n);
            bad[pos] ^= (unsigned char)(1u << bit);
            spit(p, bad, n);
            expect_format_error(p, NULL);
        }
    }
    memcpy(bad, good, (size_t)n);
    bad[n - 1] ^= 0x10;
    spit(p, bad, n);
    expect_format_error(p, NULL);
    free(bad);
    free(good);
}

static void test_truncated_detected(void **state)
{
    (void)state;
    const char *p = path_of("trunc.dcqb");
    long n;
    unsigned char *good = reference(p, &n);
    long cuts[] = {0, 5, 8, 40, 63, 64, 65, n / 2, n - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        spit(p, good, cuts[i]);
        expect_format_error(p, NULL);
    }
    spit(p, good, n - 1);
    expect_format_error(p, "truncated");
    free(good);
}

static void test_magic_version_trailing(void **state)
{
    (void)state;
    const char *p = path_of("hdr.dcqb");
    long n;
    unsigned char *good = reference(p, &n);
    unsigned char *bad = malloc((size_t)n + 16);
    assert_non_null(bad);
    memcpy(bad, good, (size_t)n);
    bad[0] = 'X';
    spit(p, bad, n);
    expect_format_error(p, "magic");
    memcpy(bad, good, (size_t)n);
    bad[8] = 2; /* version 2 */
    spit(p, bad, n);
    expect_format_error(p, "version");
    memcpy(bad, good, (size_t)n);
    memset(bad + n, 0, 16);
    spit(p, bad, n + 16);
    expect_format_error(p, "trailing");
    /* a missing file is an i/o error, not a format error */
    struct dcqb_err err = {0};
    struct dsfile_info info;
    assert_int_equal(dsfile_read_info(&info, path_of("no-such-file.dcqb"), &err), DCQB_EIO);
    free(bad);
    free(good);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_streamed_equals_one_call),
        cmocka_unit_test(test_flipped_byte_detected),
        cmocka_unit_test(test_truncated_detected),
        cmocka_unit_test(test_magic_version_trailing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
