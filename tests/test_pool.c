/* test_pool.c - the head thread team: every thread index runs exactly once per pool_run, over
 * many runs; a 1-thread pool runs on the caller; OpenBLAS is held at one thread inside a run
 * and restored after; pool_range covers [0, n) exactly; free is idempotent. */
#include "test_util.h"

#include <cblas.h>
#include <stdatomic.h>
#include <time.h>

#include "pool.h"

enum { RUNS = 2000 };

struct counts {
    atomic_int hits[POOL_MAX];
    atomic_int blas_inside; /* OpenBLAS thread count seen inside the run */
    pthread_t caller;
    atomic_int on_caller;
};

static void count(void *arg, int t, int n)
{
    struct counts *c = arg;
    (void)n;
    atomic_fetch_add(&c->hits[t], 1);
    atomic_store(&c->blas_inside, openblas_get_num_threads());
    if (pthread_equal(pthread_self(), c->caller)) atomic_fetch_add(&c->on_caller, 1);
}

static void test_each_thread_once_per_run(void **state)
{
    (void)state;
    struct pool p;
    struct dcqb_err err;
    assert_int_equal(pool_init(&p, 3, &err), DCQB_OK);
    static struct counts c;
    memset(&c, 0, sizeof c);
    c.caller = pthread_self();
    openblas_set_num_threads(2);
    for (int r = 0; r < RUNS; r++) pool_run(&p, count, &c);
    for (int t = 0; t < 3; t++) assert_int_equal(atomic_load(&c.hits[t]), RUNS);
    assert_int_equal(atomic_load(&c.hits[3]), 0);
    assert_int_equal(atomic_load(&c.on_caller), RUNS); /* t = 0 is the caller */
    assert_int_equal(atomic_load(&c.blas_inside), 1);
    assert_int_equal(openblas_get_num_threads(), 2); /* restored */
    openblas_set_num_threads(1);
    pool_free(&p);
    pool_free(&p);
    pool_free(NULL);
}

/* Spin-then-block: runs back to back (workers still polling) and runs after a pause longer
 * than POOL_SPIN_NS (workers asleep on the condition variable) both reach every thread once. */
static void test_runs_after_sleep(void **state)
{
    (void)state;
    struct pool p;
    assert_int_equal(pool_init(&p, 2, NULL), DCQB_OK);
    static struct counts c;
    memset(&c, 0, sizeof c);
    c.caller = pthread_self();
    const struct timespec pause = {0, 4 * POOL_SPIN_NS};
    for (int r = 0; r < 20; r++) {
        pool_run(&p, count, &c);
        pool_run(&p, count, &c);
        nanosleep(&pause, NULL);
    }
    assert_int_equal(atomic_load(&c.hits[0]), 40);
    assert_int_equal(atomic_load(&c.hits[1]), 40);
    pool_free(&p);
}

static void test_single_runs_inline(void **state)
{
    (void)state;
    struct pool p;
    struct dcqb_err err;
    assert_int_equal(pool_init(&p, 0, &err), DCQB_OK); /* < 1 is 1 */
    assert_int_equal(pool_size(&p), 1);
    assert_int_equal(pool_size(NULL), 1);
    static struct counts c;
    memset(&c, 0, sizeof c);
    c.caller = pthread_self();
    pool_run(&p, count, &c);
    pool_run(NULL, count, &c);
    assert_int_equal(atomic_load(&c.hits[0]), 2);
    assert_int_equal(atomic_load(&c.on_caller), 2);
    pool_free(&p);
}

static void test_range_partitions(void **state)
{
    (void)state;
    for (int n = 1; n <= 7; n++)
        for (long long items = 0; items < 40; items++) {
            long long next = 0;
            for (int t = 0; t < n; t++) {
                long long lo, hi;
                pool_range(items, t, n, &lo, &hi);
                assert_true(lo == next && hi >= lo && hi - lo <= items / n + 1);
                next = hi;
            }
            assert_true(next == items);
        }
}

/* Aligned shares: boundaries at multiples of `align`, in order, covering [0, items). */
static void test_range_aligned(void **state)
{
    (void)state;
    for (int n = 1; n <= 5; n++)
        for (int align = 1; align <= 16; align *= 4)
            for (long long items = 0; items < 70; items++) {
                long long next = 0;
                for (int t = 0; t < n; t++) {
                    long long lo, hi;
                    pool_range_aligned(items, align, t, n, &lo, &hi);
                    assert_true(lo == next && hi >= lo);
                    assert_true(hi == items || hi % align == 0);
                    next = hi;
                }
                assert_true(next == items);
            }
    long long lo, hi;
    pool_range_aligned(40, 16, 0, 2, &lo, &hi); /* 3 units of 16: 1 | 2 */
    assert_true(lo == 0 && hi == 16);
    pool_range_aligned(40, 16, 1, 2, &lo, &hi);
    assert_true(lo == 16 && hi == 40);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_thread_once_per_run),
        cmocka_unit_test(test_runs_after_sleep),
        cmocka_unit_test(test_single_runs_inline),
        cmocka_unit_test(test_range_partitions),
        cmocka_unit_test(test_range_aligned),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
