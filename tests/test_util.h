/* test_util.h - shared cmocka includes and numeric assertions for dcqbench tests.
 * cmocka 1.1.5 has no assert_double_equal (1.1.6 added it), hence assert_close. */
#ifndef DCQB_TEST_UTIL_H
#define DCQB_TEST_UTIL_H

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
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
