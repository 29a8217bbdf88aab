/* test_util.h - shared cmocka includes and numeric assertions for dcqbench tests.
 * cmocka 1.1.5 has no assert_double_equal (1.1.6 added it), hence assert_close. */
#ifndef DCQB_TEST_UTIL_H
#define DCQB_TEST_UTIL_H

#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
/* cmocka.h needs the headers above first */
#include <cmocka.h>

/* |a - b| <= atol + rtol * |b|, else fail printing both values and where. */
#define assert_close(a, b, atol, rtol)                                                          \
    do {                                                                                       \
        double a_ = (double)(a), b_ = (double)(b);                                             \
        if (!(fabs(a_ - b_) <= (atol) + (rtol)*fabs(b_))) {                                    \
            print_error("%s = %.9g, %s = %.9g, |diff| = %.3g > atol %.3g + rtol %.3g\n", #a,    \
                        a_, #b, b_, fabs(a_ - b_), (double)(atol), (double)(rtol));             \
            fail();                                                                            \
        }                                                                                      \
    } while (0)

/* Element-wise assert_close over n floats, printing the first bad index. */
#define assert_close_array(a, b, n, atol, rtol)                                                \
    do {                                                                                       \
        for (size_t i_ = 0; i_ < (size_t)(n); i_++) {                                          \
            double a_ = (double)(a)[i_], b_ = (double)(b)[i_];                                 \
            if (!(fabs(a_ - b_) <= (atol) + (rtol)*fabs(b_))) {                                \
                print_error("index %zu: %s = %.9g, %s = %.9g\n", i_, #a, a_, #b, b_);          \
                fail();                                                                        \
            }                                                                                  \
        }                                                                                      \
    } while (0)

/* A scratch directory under build/ for file tests; returns a static path. */
static inline const char *test_tmpdir(void)
{
    static char dir[256];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "build/tmp-tests");
        (void)!system("mkdir -p build/tmp-tests");
    }
    return dir;
}

/* Whole file as a malloc'ed NUL-terminated string (caller frees), or NULL if it cannot be
 * opened. */
static inline char *test_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)(n > 0 ? n : 0) + 1);
    assert_non_null(p);
    size_t got = fread(p, 1, (size_t)(n > 0 ? n : 0), f);
    p[got] = '\0';
    fclose(f);
    return p;
}

/* Write text to path (created or truncated); fails the test when it cannot. */
static inline void test_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* The 8-hex-digit "digest" of DIR/summary.json, in a static buffer (overwritten by the next
 * call); fails the test when there is none. */
static inline const char *test_run_digest(const char *dir)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/summary.json", dir);
    char *s = test_slurp(path);
    assert_non_null(s);
    const char *d = strstr(s, "\"digest\": \"");
    assert_non_null(d);
    static char out[16];
    memcpy(out, d + 11, 8);
    out[8] = '\0';
    free(s);
    return out;
}

/* text contains (test_has) or does not contain (test_lacks) needle, else fail quoting it. */
static inline void test_has(const char *text, const char *needle)
{
    if (!strstr(text, needle)) {
        print_error("the text lacks \"%s\"\n", needle);
        fail();
    }
}

static inline void test_lacks(const char *text, const char *needle)
{
    if (strstr(text, needle)) {
        print_error("the text has \"%s\"\n", needle);
        fail();
    }
}

/* A trainer_run progress callback that raises *stop when step `at` is reached, as a SIGINT
 * after step at - 1 would (resume tests); ctx: struct test_stop_at. */
struct test_stop_at {
    volatile sig_atomic_t *stop;
    int64_t at;
};

static inline void test_stop_progress(void *ctx, int64_t t, int64_t T, double loss, double lr,
                                      double sps, double el)
{
    (void)T, (void)loss, (void)lr, (void)sps, (void)el;
    struct test_stop_at *s = ctx;
    if (t == s->at) *s->stop = 1;
}

/* The CLI under test: $DCQBENCH (set by `make test`), else bin/dcqbench. */
static inline const char *test_exe(void)
{
    const char *e = getenv("DCQBENCH");
    return e && *e ? e : "bin/dcqbench";
}

/* Run `dcqbench ARGS 2>&1`, capture up to cap-1 bytes into out, return the exit status
 * (-1 if killed by a signal). */
static inline int test_run_cli(char *out, size_t cap, const char *args)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", test_exe(), args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    while (fgetc(p) != EOF) {} /* drain the rest so the child never blocks on a full pipe */
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#endif
