/* test_tsv.c - the string buffer (growth past its first block, printf longer than the stack
 * scratch, handing over), whole-file read/write (missing file, atomic write, byte limit) and the
 * TSV reader (columns by name, short/long/torn rows, blank lines, CRLF, NA and numbers). */
#include "test_util.h"

#include "tsv.h"

static void test_sbuf(void **state)
{
    (void)state;
    struct sbuf b = {0};
    sb_free(&b); /* zeroed: no-op */
    char *s;
    assert_int_equal(sb_take(&b, &s, NULL), DCQB_OK);
    assert_string_equal(s, ""); /* empty buffer hands over "" */
    free(s);
    for (int i = 0; i < 1000; i++) sb_printf(&b, "%d,", i % 10);
    assert_int_equal(b.n, 2000);
    assert_int_equal(strlen(b.p), 2000);
    assert_memory_equal(b.p + 1990, "5,6,7,8,9,", 10);
    char big[1000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    sb_printf(&b, "[%s]", big); /* longer than sb_printf's stack scratch */
    assert_int_equal(b.n, 2000 + 1001);
    assert_int_equal(b.p[b.n - 1], ']');
    assert_int_equal(b.p[2000 + 999], 'x');
    sb_add(&b, "a\0b", 3); /* explicit length: the NUL is kept */
    assert_int_equal(b.n, 3004);
    assert_int_equal(b.p[3002], '\0');
    assert_int_equal(b.p[3003], 'b');
    assert_int_equal(sb_take(&b, &s, NULL), DCQB_OK);
    assert_null(b.p);
    assert_int_equal(b.n, 0);
    assert_int_equal(s[0], '0');
    free(s);
    /* out of memory is sticky and reported once */
    sb_str(&b, "abc");
    b.oom = 1;
    sb_str(&b, "def");
    assert_int_equal(b.n, 3);
    struct dcqb_err err = {0};
    assert_int_equal(sb_take(&b, &s, &err), DCQB_ENOMEM);
    assert_null(s);
    assert_null(b.p);
}

/* A cell never breaks a row; empty cells take the writer's marker. */
static void test_sb_cell(void **state)
{
    (void)state;
    struct sbuf b = {0};
    sb_cell(&b, "a\tb\nc\rd", "NA");
    sb_cell(&b, NULL, "NA");
    sb_cell(&b, "", "-");
    sb_cell(&b, "", "");
    sb_add(&b, "", 1);
    assert_false(b.oom);
    assert_string_equal(b.p, "a b c dNA-");
    sb_free(&b);
}

static void test_files(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/tsv_file.txt", test_tmpdir());
    remove(path);
    char *text = (char *)1;
    size_t len = 99;
    assert_int_equal(file_read_all(&text, &len, path, 0, NULL), DCQB_OK);
    assert_null(text); /* missing is not an error */
    assert_int_equal(len, 0);
    assert_int_equal(file_write_atomic(path, "hello\tworld\n", 12, NULL), DCQB_OK);
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "rb");
    assert_null(f); /* renamed away */
    assert_int_equal(file_read_all(&text, &len, path, 0, NULL), DCQB_OK);
    assert_string_equal(text, "hello\tworld\n");
    assert_int_equal(len, 12);
    free(text);
    /* parts, one after another (an empty one in the middle) */
    const void *const parts[3] = {"head|", "", "payload"};
    const size_t sizes[3] = {5, 0, 7};
    assert_int_equal(file_write_atomic_parts(path, parts, sizes, 3, NULL), DCQB_OK);
    assert_int_equal(file_read_all(&text, &len, path, 0, NULL), DCQB_OK);
    assert_string_equal(text, "head|payload");
    free(text);
    assert_int_equal(file_write_atomic(path, "", 0, NULL), DCQB_OK);
    assert_int_equal(file_read_all(&text, &len, path, 0, NULL), DCQB_OK);
    assert_string_equal(text, ""); /* empty but present: "" not NULL */
    free(text);
    struct dcqb_err err = {0};
    assert_int_equal(file_write_atomic("build/tmp-tests/no/such/dir/x", "a", 1, &err), DCQB_EIO);
    assert_non_null(strstr(err.msg, "cannot create"));
    /* byte limit: reading stops after the first chunk that reaches it */
    struct sbuf b = {0};
    for (int i = 0; i < 40000; i++) sb_str(&b, "y");
    assert_int_equal(file_write_atomic(path, b.p, b.n, NULL), DCQB_OK);
    sb_free(&b);
    assert_int_equal(file_read_all(&text, &len, path, 100, NULL), DCQB_OK);
    assert_true(len >= 100 && len < 40000);
    free(text);
    assert_int_equal(file_read_all(&text, &len, path, 0, NULL), DCQB_OK);
    assert_int_equal(len, 40000);
    free(text);
    remove(path);
}

static struct tsv parse(const char *s)
{
    struct tsv t;
    assert_int_equal(tsv_parse(&t, strdup(s), "mem", NULL), DCQB_OK);
    return t;
}

static void test_tsv_read(void **state)
{
    (void)state;
    struct tsv t = parse("id\tval\tname\r\n"
                         "a\t1.5\tx\n"
                         "\n"                   /* blank: skipped */
                         "b\tNA\n"              /* short */
                         "c\t2\ty\textra\tmore\n" /* long */
                         "d\t-3e2\tz");         /* torn: no newline */
    assert_int_equal(t.cols, 3);
    assert_int_equal(t.rows, 5);
    assert_int_equal(tsv_col(&t, "id"), 0);
    assert_int_equal(tsv_col(&t, "name"), 2); /* the \r is not part of the name */
    assert_int_equal(tsv_col(&t, "nope"), -1);
    assert_string_equal(tsv_get(&t, 1, 0), "a");
    assert_close(tsv_num(tsv_get(&t, 1, 1)), 1.5, 0, 0);
    assert_string_equal(tsv_get(&t, 2, 0), "b");
    assert_null(tsv_get(&t, 2, 2));
    assert_true(tsv_is_na(tsv_get(&t, 2, 1)));
    assert_true(tsv_is_na(tsv_get(&t, 2, 2)));
    assert_string_equal(tsv_get(&t, 3, 2), "y"); /* extra cells cut off */
    assert_close(tsv_num(tsv_get(&t, 4, 1)), -300, 0, 0);
    assert_null(tsv_get(&t, 5, 0));
    assert_null(tsv_get(&t, 1, 3));
    assert_null(tsv_get(&t, 1, -1));
    assert_true(tsv_row_whole(&t, 1));
    assert_false(tsv_row_whole(&t, 2)); /* short */
    assert_false(tsv_row_whole(&t, 3)); /* long */
    assert_false(tsv_row_whole(&t, 4)); /* no newline */
    tsv_free(&t);
    tsv_free(&t); /* zeroed: no-op */
    struct dcqb_err err = {0};
    assert_int_equal(tsv_parse(&t, strdup("\n\n"), "blank.tsv", &err), DCQB_EFORMAT);
    assert_non_null(strstr(err.msg, "blank.tsv"));
    assert_null(t.cell);
    assert_int_equal(tsv_load(&t, "build/tmp-tests/no_such.tsv", &err), DCQB_EIO);
}

static void test_na_num(void **state)
{
    (void)state;
    assert_true(tsv_is_na(NULL));
    assert_true(tsv_is_na(""));
    assert_true(tsv_is_na("NA"));
    assert_true(tsv_is_na("null"));
    assert_false(tsv_is_na("0"));
    assert_false(tsv_is_na("na"));
    assert_true(isnan(tsv_num("NA")));
    assert_true(isnan(tsv_num("")));
    assert_true(isnan(tsv_num("1.5x")));
    assert_true(isnan(tsv_num("inf")));
    assert_true(isnan(tsv_num("nan")));
    assert_close(tsv_num("0.25"), 0.25, 0, 0);
    assert_close(tsv_num("-7"), -7, 0, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sbuf),
        cmocka_unit_test(test_sb_cell),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_tsv_read),
        cmocka_unit_test(test_na_num),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
