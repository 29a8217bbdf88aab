/* pool.h - a fixed team of worker threads: the training step's one team (docs/ARCHITECTURE.md
 * §9), lent to the backbone and the head, or a head's own when it runs alone. Without it, at 2
 * threads the element-wise passes ran on one core while OpenBLAS threaded only the GEMMs.
 *
 * pool_run(fn, arg) calls fn(arg, t, n) once on each of the n threads (t = 0 is the caller) and
 * returns when all have finished. While it runs, OpenBLAS is held at one thread, so each thread
 * may call cblas_sgemm on its own share of the work (no nested threading, no oversubscription);
 * the previous OpenBLAS thread count is restored on return. A pool of 1 thread (or a zeroed
 * one) runs fn(arg, 0, 1) directly: no thread is ever started for it.
 *
 * Waiting is spin-then-block: a worker that finished polls for the next pool_run, and the
 * caller for the workers, for POOL_SPIN_NS before sleeping on a condition variable. A training
 * step calls pool_run about twenty times back to back (docs/ARCHITECTURE.md §9); a futex wake-up
 * of a halted virtual CPU cost 30-55 us each, and the short poll bounds what an idle team takes
 * from other processes.
 *
 * Threads are created by pool_init and joined by pool_free: pool_run allocates nothing.
 * Results of work split by t are reproducible for a given n; callers that combine per-thread
 * partial sums do it in t order.
 */
#ifndef DCQB_POOL_H
#define DCQB_POOL_H

#include <pthread.h>
#include <stdatomic.h>

#include "dcqb.h"

#define POOL_MAX 64
#define POOL_SPIN_NS 50000 /* how long a thread polls before it sleeps */

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
    atomic_uint gen;  /* bumped by each pool_run */
    atomic_int pending; /* workers still in the current fn */
    atomic_int stop;
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

/* *use = the borrowed pool when there is one (a caller's team, docs/ARCHITECTURE.md §9), else
 * own, started with n threads (own stays zeroed when borrowing: pool_free(own) is a no-op). */
static inline int pool_use(struct pool **use, struct pool *own, struct pool *borrowed, int n,
                           struct dcqb_err *err)
{
    *use = borrowed ? borrowed : own;
    return borrowed ? DCQB_OK : pool_init(own, n, err);
}
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
