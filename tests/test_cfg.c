/* test_cfg.c - harness/core/cfg.c: INI keys remember file:line, flags win over the file, unknown
 * keys fail naming where they were written, typed getters reject malformed and out-of-range
 * values (and (lo, hi] ranges), `--key=value`, `--key value`, bool flags and positionals, strings
 * that outlive the cfg's growth, and the resolved-config writer. */
#include "test_util.h"

#include <limits.h>

#include <string.h>

#include "cfg.h"

static const char *write_ini(const char *leaf, const char *text)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", test_tmpdir(), leaf);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static void assert_contains(const char *msg, const char *want)
{
    if (!strstr(msg, want)) {
        print_error("message '%s' does not contain '%s'\n", msg, want);
        fail();
    }
}

static void test_ini_lines_and_sections(void **state)
{
    (void)state;
    struct cfg c = {0};
    struct dcqb_err err = {0};
    const char *p = write_ini("cfg_lines.ini", "# comment\n"
                                               "top = 1\n"
                                               "[train]\n"
                                               "\n"
                                               "lr = 0.1\n"
                                               "[eval]\n"
                                               "far = 1e-3\n");
    assert_int_equal(cfg_load_ini(&c, p, "train", &err), DCQB_OK);
    const struct cfg_entry *e = cfg_find(&c, "lr");
    assert_non_null(e);
    assert_int_equal(e->line, 5);
    assert_string_equal(e->src, p);
    assert_string_equal(e->val, "0.1");
    assert_int_equal(cfg_find(&c, "top")->line, 2);
    e = cfg_find(&c, "eval.far"); /* other sections are prefixed */
    assert_non_null(e);
    assert_int_equal(e->line, 7);
    assert_null(cfg_find(&c, "far"));
    cfg_free(&c);
}

static void test_ini_errors(void **state)
{
    (void)state;
    struct cfg c = {0};
    struct dcqb_err err = {0};
    char want[600];
    const char *p = write_ini("cfg_syntax.ini", "a = 1\nb = 2\nthis line has no equals\n");
    assert_int_equal(cfg_load_ini(&c, p, NULL, &err), DCQB_EINVAL);
    snprintf(want, sizeof want, "%s:3: syntax error", p);
    assert_contains(err.msg, want);
    cfg_free(&c);
    p = write_ini("cfg_dup.ini", "a = 1\n\na = 2\n");
    assert_int_equal(cfg_load_ini(&c, p, NULL, &err), DCQB_EINVAL);
    snprintf(want, sizeof want, "%s:3: key 'a' is given twice", p);
    assert_contains(err.msg, want);
    cfg_free(&c);
    assert_int_equal(cfg_load_ini(&c, "build/tmp-tests/does-not-exist.ini", NULL, &err),
                     DCQB_EIO);
    cfg_free(&c);
}

static void test_flags_win_and_forms(void **state)
{
    (void)state;
    struct cfg c = {0};
    struct dcqb_err err = {0};
    const char *p = write_ini("cfg_flags.ini", "lr = 0.1\nsteps = 100\nqueue_len = 8\n");
    assert_int_equal(cfg_load_ini(&c, p, NULL, &err), DCQB_OK);
    char *argv[] = {"--lr", "0.5", "--steps=200", "file.conf", "--force", "other.conf",
                    "--queue-len", "16", "--verbose", "--last"};
    static const char *const bools[] = {"force", "verbose", "last", NULL};
    assert_int_equal(cfg_parse_args(&c, 10, argv, bools, &err), DCQB_OK);
    double lr;
    long long steps, q;
    int force;
    const char *s;
    assert_int_equal(cfg_get_double(&c, "lr", 0, 0, 10, &lr, &err), DCQB_OK);
    assert_close(lr, 0.5, 0, 0); /* the flag wins over the file */
    assert_int_equal(cfg_get_int(&c, "steps", 0, 0, 1000, &steps, &err), DCQB_OK);
    assert_int_equal(steps, 200); /* --key=value */
    assert_int_equal(cfg_get_int(&c, "queue_len", 0, 0, 1000, &q, &err), DCQB_OK);
    assert_int_equal(q, 16); /* dashes become underscores */
    assert_string_equal(cfg_find(&c, "queue_len")->src, "command line");
    assert_int_equal(cfg_get_bool(&c, "force", 0, &force, &err), DCQB_OK);
    assert_int_equal(force, 1); /* a bool flag does not eat the next word */
    assert_int_equal(c.n_pos, 2);
    assert_string_equal(c.pos[0], "file.conf");
    assert_string_equal(c.pos[1], "other.conf");
    assert_int_equal(cfg_get_str(&c, "verbose", NULL, &s, &err), DCQB_OK);
    assert_string_equal(s, "1"); /* followed by another flag */
    assert_int_equal(cfg_get_str(&c, "last", NULL, &s, &err), DCQB_OK);
    assert_string_equal(s, "1"); /* nothing follows */
    assert_int_equal(cfg_check_unused(&c, &err), DCQB_OK);
    cfg_free(&c);
}

/* A flag that takes a value but has none is an error naming it: `--steps --out x` once
 * trained one step, and a trailing `--steps` meant steps = 1. */
static void test_flag_without_value(void **state)
{
    (void)state;
    struct dcqb_err err = {0};
    struct cfg c = {0};
    char *a1[] = {"--steps", "--out", "x"};
    assert_int_equal(cfg_parse_args(&c, 3, a1, NULL, &err), DCQB_EINVAL);
    assert_non_null(strstr(err.msg, "'--steps' needs a value"));
    cfg_free(&c);
    char *a2[] = {"--out", "x", "--steps"};
    assert_int_equal(cfg_parse_args(&c, 3, a2, NULL, &err), DCQB_EINVAL);
    assert_non_null(strstr(err.msg, "'--steps'"));
    cfg_free(&c);
}

/* Integers are read as integers: seeds above 2^53 stay distinct, 2^63 - 1 is itself, and
 * anything past 64 bits or a fraction is refused (not rounded through a double). */
static void test_int_exact(void **state)
{
    (void)state;
    struct dcqb_err err = {0};
    struct cfg c = {0};
    long long v;
    cfg_set(&c, "a", "9007199254740993", "t", 1, NULL);
    assert_int_equal(cfg_get_int(&c, "a", 0, 0, LLONG_MAX, &v, &err), DCQB_OK);
    assert_true(v == 9007199254740993LL);
    cfg_set(&c, "b", "9223372036854775807", "t", 2, NULL);
    assert_int_equal(cfg_get_int(&c, "b", 0, 0, LLONG_MAX, &v, &err), DCQB_OK);
    assert_true(v == LLONG_MAX);
    cfg_set(&c, "c", "9223372036854775808", "t", 3, NULL);
    assert_int_equal(cfg_get_int(&c, "c", 0, 0, LLONG_MAX, &v, &err), DCQB_EINVAL);
    cfg_set(&c, "d", "1e6", "t", 4, NULL);
    assert_int_equal(cfg_get_int(&c, "d", 0, 0, LLONG_MAX, &v, &err), DCQB_OK);
    assert_true(v == 1000000);
    cfg_set(&c, "e", "1.5", "t", 5, NULL);
    assert_int_equal(cfg_get_int(&c, "e", 0, 0, LLONG_MAX, &v, &err), DCQB_EINVAL);
    cfg_set(&c, "f", "1e17", "t", 6, NULL); /* past 2^53: a double need not be exact */
    assert_int_equal(cfg_get_int(&c, "f", 0, 0, LLONG_MAX, &v, &err), DCQB_EINVAL);
    cfg_set(&c, "g", "-5", "t", 7, NULL);
    assert_int_equal(cfg_get_int(&c, "g", 0, 0, LLONG_MAX, &v, &err), DCQB_EINVAL);
    cfg_free(&c);
}

/* A directory given as --config opens and reads as empty: it must be refused, not read as
 * "every default". */
static void test_config_not_a_file(void **state)
{
    (void)state;
    struct dcqb_err err = {0};
    struct cfg c = {0};
    assert_int_equal(cfg_load_ini(&c, test_tmpdir(), "train", &err), DCQB_EINVAL);
    assert_non_null(strstr(err.msg, "not a regular file"));
    cfg_free(&c);
}

static void test_unknown_keys(void **state)
{
    (void)state;
    struct cfg c = {0};
    struct dcqb_err err = {0};
    const char *p = write_ini("cfg_unknown.ini", "lr = 0.1\n\nlearning_rate = 0.2\n");
    assert_int_equal(cfg_load_ini(&c, p, NULL, &err), DCQB_OK);
    double lr;
    assert_int_equal(cfg_get_double(&c, "lr", 0, 0, 1, &lr, &err), DCQB_OK);
    assert_int_equal(cfg_check_unused(&c, &err), DCQB_EINVAL);
    char want[600];
    snprintf(want, sizeof want, "%s:3: unknown key 'learning_rate'", p);
    assert_contains(err.msg, want);
    cfg_free(&c);

    char *argv[] = {"--stpes", "3"};
    assert_int_equal(cfg_parse_args(&c, 2, argv, NULL, &err), DCQB_OK);
    assert_int_equal(cfg_check_unused(&c, &err), DCQB_EINVAL);
    assert_contains(err.msg, "unknown option '--stpes'");
    cfg_free(&c);
}

static void test_typed_getters(void **state)
{
    (void)state;
    struct cfg c = {0};
    struct dcqb_err err = {0};
    const char *p = write_ini("cfg_typed.ini", "ids = 1e6\n"
                                               "batch = 1.5\n"
                                               "steps = -3\n"
                                               "lr = abc\n"
                                               "mu = 2\n"
                                               "margin = arcfce\n"
                                               "residual = yes\n"
                                               "flag = maybe\n");
    assert_int_equal(cfg_load_ini(&c, p, NULL, &err), DCQB_OK);
    long long v;
    double d;
    int b, ch;
    char want[600];
    assert_int_equal(cfg_get_int(&c, "ids", 0, 1, 10000000, &v, &err), DCQB_OK);
    assert_int_equal(v, 1000000);
    assert_int_equal(cfg_get_int(&c, "batch", 0, 1, 100, &v, &err), DCQB_EINVAL);
    snprintf(want, sizeof want, "%s:2: 'batch' must be an integer", p);
    assert_contains(err.msg, want);
    assert_int_equal(cfg_get_int(&c, "steps", 0, 0, 100, &v, &err), DCQB_EINVAL);
    snprintf(want, sizeof want, "%s:3: 'steps' = -3 is outside [0, 100]", p);
    assert_contains(err.msg, want);
    assert_int_equal(cfg_get_double(&c, "lr", 0, 0, 1, &d, &err), DCQB_EINVAL);
    assert_contains(err.msg, ":4: 'lr' must be a number");
    assert_int_equal(cfg_get_double(&c, "mu", 0, 0, 1, &d, &err), DCQB_EINVAL);
    assert_contains(err.msg, ":5: 'mu' = 2 is outside");
    static const char *const margins[] = {"cosface", "arcface", NULL};
    assert_int_equal(cfg_get_choice(&c, "margin", "cosface", margins, &ch, &err), DCQB_EINVAL);
    assert_contains(err.msg, ":6: 'margin' = 'arcfce' is not one of: cosface, arcface");
    assert_int_equal(cfg_get_bool(&c, "residual", 0, &b, &err), DCQB_OK);
    assert_int_equal(b, 1);
    assert_int_equal(cfg_get_bool(&c, "flag", 0, &b, &err), DCQB_EINVAL);
    assert_contains(err.msg, ":8: 'flag'");
    /* absent keys take the default */
    assert_int_equal(cfg_get_int(&c, "absent", 42, 0, 100, &v, &err), DCQB_OK);
    assert_int_equal(v, 42);
    assert_int_equal(cfg_get_choice(&c, "absent2", "arcface", margins, &ch, &err), DCQB_OK);
    assert_int_equal(ch, 1);
    cfg_free(&c);
}

static void test_write_sorted_used(void **state)
{
    (void)state;
    struct cfg c = {0};
    struct dcqb_err err = {0};
    assert_int_equal(cfg_set(&c, "zeta", "1", "x", 1, &err), DCQB_OK);
    assert_int_equal(cfg_set(&c, "alpha", "2", "x", 2, &err), DCQB_OK);
    assert_int_equal(cfg_set(&c, "unused", "3", "x", 3, &err), DCQB_OK);
    assert_true(cfg_has(&c, "zeta"));
    assert_true(cfg_has(&c, "alpha"));
    const char *p = "build/tmp-tests/cfg_write.txt";
    FILE *f = fopen(p, "w");
    assert_int_equal(cfg_write(&c, f), DCQB_OK);
    fclose(f);
    char buf[256] = {0};
    f = fopen(p, "r");
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    assert_string_equal(buf, "alpha = 2\nzeta = 1\n");
    char longkey[CFG_KEY_MAX + 8];
    memset(longkey, 'k', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';
    assert_int_equal(cfg_set(&c, longkey, "1", "x", 4, &err), DCQB_EINVAL);
    cfg_free(&c);
}

/* cfg_get_real: (lo, hi] ranges, float defaults recorded as the float's shortest text. */
static void test_real_open_range_and_float(void **state)
{
    (void)state;
    struct cfg c = {0};
    struct dcqb_err err = {0};
    double d;
    assert_int_equal(cfg_set(&c, "ratio", "0", "r.ini", 3, &err), DCQB_OK);
    assert_int_equal(cfg_get_real(&c, "ratio", 0.1, 0, 1, CFG_LO_OPEN, &d, &err), DCQB_EINVAL);
    assert_contains(err.msg, "r.ini:3: 'ratio' = 0 is outside (0, 1]");
    assert_int_equal(cfg_get_real(&c, "ratio", 0.1, 0, 1, 0, &d, &err), DCQB_OK); /* [0, 1] */
    assert_int_equal(cfg_get_real(&c, "std", 0.01f, 0, 1, CFG_AS_FLOAT, &d, &err), DCQB_OK);
    assert_string_equal(cfg_find(&c, "std")->val, "0.01");
    assert_true((float)d == 0.01f);
    assert_int_equal(cfg_get_real(&c, "dstd", 0.01f, 0, 1, 0, &d, &err), DCQB_OK);
    assert_string_not_equal(cfg_find(&c, "dstd")->val, "0.01"); /* the double nearest 0.01f */
    cfg_free(&c);
}

/* A string read from a cfg survives the cfg growing (its entries move) and the key being set
 * again; cfg_write_if picks keys by predicate. */
static int keep_a(void *ctx, const char *key)
{
    (void)ctx;
    return key[0] == 'a';
}

static void test_str_lives_with_cfg(void **state)
{
    (void)state;
    struct cfg c = {0};
    const char *s, *def;
    assert_int_equal(cfg_set(&c, "a_name", "first", "x", 1, NULL), DCQB_OK);
    assert_int_equal(cfg_get_str(&c, "a_name", NULL, &s, NULL), DCQB_OK);
    assert_int_equal(cfg_get_str(&c, "a_def", "dflt", &def, NULL), DCQB_OK);
    assert_int_equal(cfg_set(&c, "a_name", "other", "x", 1, NULL), DCQB_OK);
    assert_string_equal(s, "first");
    for (int i = 0; i < 500; i++) {
        char k[32];
        snprintf(k, sizeof k, "k%d", i);
        assert_int_equal(cfg_set(&c, k, "v", "x", i + 2, NULL), DCQB_OK);
    }
    assert_int_equal(cfg_set(&c, "a_name", "second", "x", 1, NULL), DCQB_OK);
    assert_string_equal(s, "first");
    assert_string_equal(def, "dflt");
    cfg_has(&c, "k7");
    cfg_has(&c, "a_name");
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    assert_int_equal(cfg_write_if(&c, m, keep_a, NULL), DCQB_OK);
    fclose(m);
    assert_string_equal(buf, "a_def = dflt\na_name = second\n");
    free(buf);
    cfg_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ini_lines_and_sections),
        cmocka_unit_test(test_ini_errors),
        cmocka_unit_test(test_flags_win_and_forms),
        cmocka_unit_test(test_flag_without_value),
        cmocka_unit_test(test_int_exact),
        cmocka_unit_test(test_config_not_a_file),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_typed_getters),
        cmocka_unit_test(test_write_sorted_used),
        cmocka_unit_test(test_real_open_range_and_float),
        cmocka_unit_test(test_str_lives_with_cfg),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
