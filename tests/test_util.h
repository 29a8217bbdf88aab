/* test_util.h - shared cmocka includes and numeric assertions for dcqbench tests.
 * cmocka 1.1.5 has no assert_double_equal (1.1.6 added it), hence assert_close (STYLE.md 2.9). */
#ifndef DCQB_TEST_UTIL_H
#define DCQB_TEST_UTIL_H

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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

#endif
