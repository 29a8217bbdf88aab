/* pool.c - see pool.h. A mutex, two condition variables and a generation counter: each
 * pool_run bumps `gen`, the workers run fn once per generation and the last one to finish
 * signals `done`. This file includes <cblas.h> for openblas_{get,set}_num_threads. */
#include "pool.h"

#include <cblas.h>
#include <string.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

/* Polling ends after POOL_SPIN_NS from t0; the clock is read every 64 polls (i counts them). */
static int poll_expired(const struct timespec *t0, unsigned i)
{
    if (i % 64) return 0;
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1000000000L + (t.tv_nsec - t0->tv_nsec) > POOL_SPIN_NS;
}

static void *worker(void *a)
{
    struct pool *p = ((struct pool_warg *)a)->p;
    const int t = ((struct pool_warg *)a)->t;
    unsigned seen = 0;
    for (;;) {
        /* poll for the next run, then sleep: pool_run bumps gen under the mutex */
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (unsigned i = 1; atomic_load_explicit(&p->gen, memory_order_acquire) == seen &&
                             !atomic_load_explicit(&p->stop, memory_order_relaxed);
             i++) {
            cpu_relax();
            if (poll_expired(&t0, i)) {
                pthread_mutex_lock(&p->mu);
                while (atomic_load(&p->gen) == seen && !atomic_load(&p->stop))
                    pthread_cond_wait(&p->go, &p->mu);
                pthread_mutex_unlock(&p->mu);
                break;
            }
        }
        if (atomic_load(&p->stop)) break;
        seen = atomic_load_explicit(&p->gen, memory_order_acquire); /* fn, arg published */
        p->fn(p->arg, t, p->n);
        if (atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&p->mu); /* the caller may be asleep on `done` */
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
    return NULL;
}

int pool_init(struct pool *p, int n, struct dcqb_err *err)
{
    memset(p, 0, sizeof *p);
    if (n < 1) n = 1;
    if (n > POOL_MAX) n = POOL_MAX; /* more only shortens the shares further */
    p->n = n;
    if (n == 1) return DCQB_OK;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->go, NULL);
    pthread_cond_init(&p->done, NULL);
    for (int t = 1; t < n; t++) {
        p->warg[t].p = p;
        p->warg[t].t = t;
        if (pthread_create(&p->tid[t], NULL, worker, &p->warg[t])) {
            pool_free(p);
            return DCQB_FAIL(err, DCQB_ENOMEM, "pool: cannot start thread %d of %d", t, n);
        }
        p->started++;
    }
    return DCQB_OK;
}

void pool_run(struct pool *p, pool_fn fn, void *arg)
{
    if (!p || p->n <= 1) {
        fn(arg, 0, 1);
        return;
    }
    const int blas = openblas_get_num_threads();
    openblas_set_num_threads(1); /* each thread's GEMMs stay on its own core */
    p->fn = fn;
    p->arg = arg;
    atomic_store_explicit(&p->pending, p->n - 1, memory_order_relaxed);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_release); /* publishes fn, arg */
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    fn(arg, 0, p->n);
    /* poll for the workers, then sleep: the last worker signals under the mutex, after its
     * decrement, so a check under the mutex cannot miss it */
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (unsigned i = 1; atomic_load_explicit(&p->pending, memory_order_acquire) > 0; i++) {
        cpu_relax();
        if (poll_expired(&t0, i)) {
            pthread_mutex_lock(&p->mu);
            while (atomic_load(&p->pending) > 0) pthread_cond_wait(&p->done, &p->mu);
            pthread_mutex_unlock(&p->mu);
            break;
        }
    }
    openblas_set_num_threads(blas);
}

void pool_free(struct pool *p)
{
    if (!p || p->n <= 1) {
        if (p) memset(p, 0, sizeof *p);
        return;
    }
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, 1);
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    for (int t = 1; t <= p->started; t++) pthread_join(p->tid[t], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->go);
    pthread_cond_destroy(&p->done);
    memset(p, 0, sizeof *p);
}
