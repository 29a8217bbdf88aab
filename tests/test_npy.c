/* test_npy.c - NumPy .npy import/export (datasets/npy.c): round trips (f32 1-D/2-D, i32),
 * reading f8/i8/(n,1) files written by hand as numpy would, and refusal of malformed files:
 * bad magic, unsupported dtype, Fortran order, bad/3-D/overflowing shape, truncated header and
 * truncated data. */
#include "test_util.h"

#include <unistd.h>

#include "npy.h"

static char *path_of(const char *name)
{
    static char p[512];
    snprintf(p, sizeof p, "%s/%s", test_tmpdir(), name);
    return p;
}

/* A version-1.0 .npy file with the given header dict and `nbytes` of data. */
static void write_raw(const char *p, const char *dict, const void *data, size_t nbytes)
{
    size_t dl = strlen(dict), total = 10 + dl + 1, pad = (64 - total % 64) % 64;
    size_t hlen = dl + pad + 1;
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff),
                             (unsigned char)(hlen >> 8)};
    fwrite(pre, 1, 10, f);
    fwrite(dict, 1, dl, f);
    for (size_t i = 0; i < pad; i++) fputc(' ', f);
    fputc('\n', f);
    if (nbytes) fwrite(data, 1, nbytes, f);
    fclose(f);
}

static void test_round_trip_f32_2d(void **state)
{
    (void)state;
    float x[5 * 3];
    for (int i = 0; i < 15; i++) x[i] = (float)i * 0.25f - 1.0f;
    struct dcqb_err err = {0};
    const char *p = path_of("x2.npy");
    assert_int_equal(npy_write_f32(p, x, 5, 3, &err), DCQB_OK);
    struct npy_info info;
    assert_int_equal(npy_read_info(&info, p, &err), DCQB_OK);
    assert_int_equal(info.dtype, NPY_F4);
    assert_int_equal(info.ndim, 2);
    assert_int_equal(info.data_off % 64, 0); /* numpy aligns data to 64 bytes */
    float *r;
    int64_t rows, cols;
    assert_int_equal(npy_read_f32(&r, &rows, &cols, p, &err), DCQB_OK);
    assert_int_equal(rows, 5);
    assert_int_equal(cols, 3);
    assert_memory_equal(r, x, sizeof x);
    free(r);
}

static void test_round_trip_f32_1d_and_i32(void **state)
{
    (void)state;
    float x[4] = {1.5f, -2.0f, 0.0f, 3.25f};
    int32_t y[6] = {0, -1, 7, INT32_MAX, INT32_MIN, 42};
    struct dcqb_err err = {0};
    assert_int_equal(npy_write_f32(path_of("x1.npy"), x, 4, 0, &err), DCQB_OK);
    assert_int_equal(npy_write_i32(path_of("y.npy"), y, 6, &err), DCQB_OK);
    struct npy_info info;
    assert_int_equal(npy_read_info(&info, path_of("x1.npy"), &err), DCQB_OK);
    assert_int_equal(info.ndim, 1);
    float *r;
    int64_t rows, cols, n;
    assert_int_equal(npy_read_f32(&r, &rows, &cols, path_of("x1.npy"), &err), DCQB_OK);
    assert_int_equal(rows, 4);
    assert_int_equal(cols, 1);
    assert_memory_equal(r, x, sizeof x);
    free(r);
    int32_t *ry;
    assert_int_equal(npy_read_i32(&ry, &n, path_of("y.npy"), &err), DCQB_OK);
    assert_int_equal(n, 6);
    assert_memory_equal(ry, y, sizeof y);
    free(ry);
    /* labels must be integers: a float file is refused as labels */
    assert_int_equal(npy_read_i32(&ry, &n, path_of("x1.npy"), &err), DCQB_EFORMAT);
}

static void test_read_f8_i8_column(void **state)
{
    (void)state;
    struct dcqb_err err = {0};
    double d[4] = {0.5, -1.25, 3.0, 1e-3};
    write_raw(path_of("f8.npy"), "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }",
              d, sizeof d);
    float *r;
    int64_t rows, cols, n;
    assert_int_equal(npy_read_f32(&r, &rows, &cols, path_of("f8.npy"), &err), DCQB_OK);
    assert_int_equal(rows, 2);
    assert_int_equal(cols, 2);
    for (int i = 0; i < 4; i++) assert_close(r[i], d[i], 0, 1e-7);
    free(r);
    int64_t l[3] = {5, -2, 1000000};
    write_raw(path_of("i8.npy"), "{'descr': '<i8', 'fortran_order': False, 'shape': (3, 1), }",
              l, sizeof l);
    int32_t *ry;
    assert_int_equal(npy_read_i32(&ry, &n, path_of("i8.npy"), &err), DCQB_OK);
    assert_int_equal(n, 3);
    for (int i = 0; i < 3; i++) assert_int_equal(ry[i], l[i]);
    free(ry);
    int64_t big[1] = {(int64_t)1 << 40};
    write_raw(path_of("i8big.npy"), "{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }",
              big, sizeof big);
    assert_int_equal(npy_read_i32(&ry, &n, path_of("i8big.npy"), &err), DCQB_EFORMAT);
}

static void expect_refused(const char *name, const char *needle)
{
    struct dcqb_err err = {0};
    float *r = NULL;
    int64_t rows, cols;
    const char *p = path_of(name);
    int rc = npy_read_f32(&r, &rows, &cols, p, &err);
    if (rc != DCQB_EFORMAT) print_error("%s: expected EFORMAT, got %d (%s)\n", name, rc, err.msg);
    assert_int_equal(rc, DCQB_EFORMAT);
    assert_null(r);
    assert_non_null(strstr(err.msg, p));
    if (!strstr(err.msg, needle)) print_error("'%s' not in: %s\n", needle, err.msg);
    assert_non_null(strstr(err.msg, needle));
}

static void test_malformed_refused(void **state)
{
    (void)state;
    float x[8] = {0};
    const char *ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), }";
    /* bad magic */
    write_raw(path_of("m1.npy"), ok, x, sizeof x);
    FILE *f = fopen(path_of("m1.npy"), "r+b");
    assert_non_null(f);
    fputc('X', f);
    fclose(f);
    expect_refused("m1.npy", "magic");
    /* bad dtype: big endian and unsigned */
    write_raw(path_of("m2.npy"), "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 4), }", x,
              sizeof x);
    expect_refused("m2.npy", "dtype");
    write_raw(path_of("m3.npy"), "{'descr': '<u2', 'fortran_order': False, 'shape': (2, 4), }", x,
              sizeof x);
    expect_refused("m3.npy", "dtype");
    /* Fortran order */
    write_raw(path_of("m4.npy"), "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 4), }", x,
              sizeof x);
    expect_refused("m4.npy", "Fortran");
    /* bad shapes */
    write_raw(path_of("m5.npy"), "{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }", x,
              sizeof x);
    expect_refused("m5.npy", "shape");
    write_raw(path_of("m6.npy"), "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2, 2), }",
              x, sizeof x);
    expect_refused("m6.npy", "dimensions");
    write_raw(path_of("m7.npy"), "{'descr': '<f4', 'fortran_order': False, 'shape': (-2, 4), }",
              x, sizeof x);
    expect_refused("m7.npy", "shape");
    write_raw(path_of("m8.npy"), "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", x,
              sizeof x);
    expect_refused("m8.npy", "1-D or 2-D");
    /* a shape whose byte count overflows 64 bits must be refused, not wrap around */
    write_raw(path_of("m9.npy"), "{'descr': '<f4', 'fortran_order': False, "
              "'shape': (4611686018427387904, 4611686018427387904), }", x, sizeof x);
    expect_refused("m9.npy", "shape");
    write_raw(path_of("m10.npy"), "{'descr': '<f4', 'fortran_order': False, }", x, sizeof x);
    expect_refused("m10.npy", "shape");
    /* truncated data: header promises 8 floats, file has 7 */
    write_raw(path_of("m11.npy"), ok, x, sizeof x - 4);
    expect_refused("m11.npy", "truncated");
    /* truncated header: cut inside the dict */
    write_raw(path_of("m12.npy"), ok, x, sizeof x);
    assert_int_equal(truncate(path_of("m12.npy"), 30), 0);
    expect_refused("m12.npy", "truncated");
    /* missing file: i/o error */
    struct dcqb_err err = {0};
    struct npy_info info;
    assert_int_equal(npy_read_info(&info, path_of("nope.npy"), &err), DCQB_EIO);
}

/* The format exactly: a size check that cannot wrap, the dtype string whole, the header ending
 * in '\n' after space padding, and file length = header + data. */
static void test_format_exact(void **state)
{
    (void)state;
    float x[8] = {0};
    /* rows * cols * 8 fits in 63 bits, but adding the header's 64 bytes did not: reported as
     * "out of memory" before, now "truncated" */
    write_raw(path_of("e1.npy"), "{'descr': '<f8', 'fortran_order': False, "
              "'shape': (1, 1152921504606846975), }", x, sizeof x);
    expect_refused("e1.npy", "truncated");
    write_raw(path_of("e2.npy"), "{'descr': '<f4x', 'fortran_order': False, 'shape': (2, 4), }",
              x, sizeof x);
    expect_refused("e2.npy", "dtype");
    write_raw(path_of("e3.npy"), "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), }",
              x, sizeof x);
    FILE *f = fopen(path_of("e3.npy"), "ab");
    assert_non_null(f);
    fputs("junk", f); /* trailing bytes after the data */
    fclose(f);
    expect_refused("e3.npy", "bytes");
    /* a header not ending in '\n': the padding is not what the format says */
    write_raw(path_of("e4.npy"), "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), }",
              x, sizeof x);
    f = fopen(path_of("e4.npy"), "r+b");
    assert_non_null(f);
    fseek(f, 63, SEEK_SET);
    fputc('x', f);
    fclose(f);
    expect_refused("e4.npy", "header");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_f32_2d),
        cmocka_unit_test(test_round_trip_f32_1d_and_i32),
        cmocka_unit_test(test_read_f8_i8_column),
        cmocka_unit_test(test_malformed_refused),
        cmocka_unit_test(test_format_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
