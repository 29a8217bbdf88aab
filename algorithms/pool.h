/* pool.h - a fixed team of worker threads for a head's own passes (without it, at 2 threads the
 * element-wise passes of a head ran on one core while OpenBLAS threaded only the GEMMs).
 *
 * pool_run(fn, arg) calls fn(arg, t, n) once on each of the n threads (t = 0 is the caller) and
 * returns when all have finished. While it runs, OpenBLAS is held at one thread, so each thread
 * may call cblas_sgemm on its own share of the work (no nested threading, no oversubscription);
 * the previous OpenBLAS thread count is restored on return. A pool of 1 thread (or a zeroed
 * one) runs fn(arg, 0, 1) directly: no thread is ever started for it.
 *
 * Threads are created by pool_init and joined by pool_free: pool_run allocates nothing.
 * Results of work split by t are reproducible for a given n; callers that combine per-thread
 * partial sums do it in t order.
 */
#ifndef DCQB_POOL_H
#define DCQB_POOL_H

#include <pthread.h>

#include "dcqb.h"

#define POOL_MAX 64

typedef void (*pool_fn)(void *arg, int t, int n);

struct pool;
struct pool_warg {
    struct pool *p;
    int t;
};

/* Must not move after pool_init (workers hold its address): embed it in a head's state. */
struct pool {
    int n;        /* threads including the caller; 0 = never initialised */
    int started;  /* workers running (n - 1 once init succeeded) */
    pthread_t tid[POOL_MAX];
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    unsigned gen; /* bumped by each pool_run */
    int pending;  /* workers still in the current fn */
    int stop;
    pool_fn fn;
    void *arg;
    struct pool_warg warg[POOL_MAX];
};

/* n threads (n < 1 is taken as 1, n > POOL_MAX as POOL_MAX). DCQB_ENOMEM when a thread
 * cannot start (pthread_create fails for resources). */
int pool_init(struct pool *p, int n, struct dcqb_err *err);
void pool_run(struct pool *p, pool_fn fn, void *arg);
/* Joins the workers; no-op on NULL or a zeroed pool. */
void pool_free(struct pool *p);
/* Threads of p (1 for NULL or a zeroed pool). */
static inline int pool_size(const struct pool *p) { return p && p->n > 1 ? p->n : 1; }
/* [*lo, *hi): thread t's share of n items in n threads, contiguous and balanced. */
static inline void pool_range(long long n_items, int t, int n, long long *lo, long long *hi)
{
    *lo = n_items * t / n;
    *hi = n_items * (t + 1) / n;
}

/* The same with boundaries at multiples of `align` items (the last share ends at n_items):
 * threads writing adjacent ranges of a row never share a cache line. Shares may be empty. */
static inline void pool_range_aligned(long long n_items, int align, int t, int n, long long *lo,
                                      long long *hi)
{
    const long long units = (n_items + align - 1) / align;
    long long a = units * t / n * align, b = units * (t + 1) / n * align;
    *lo = a < n_items ? a : n_items;
    *hi = b < n_items ? b : n_items;
}

#endif
