/* pool.c - see pool.h. A mutex, two condition variables and a generation counter: each
 * pool_run bumps `gen`, the workers run fn once per generation and the last one to finish
 * signals `done`. This file includes <cblas.h> for openblas_{get,set}_num_threads. */
#include "pool.h"

#include <cblas.h>
#include <string.h>

static void *worker(void *a)
{
    struct pool *p = ((struct pool_warg *)a)->p;
    const int t = ((struct pool_warg *)a)->t;
    unsigned seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->gen == seen && !p->stop) pthread_cond_wait(&p->go, &p->mu);
        if (p->stop) break;
        seen = p->gen;
        pool_fn fn = p->fn;
        void *arg = p->arg;
        pthread_mutex_unlock(&p->mu);
        fn(arg, t, p->n);
        pthread_mutex_lock(&p->mu);
        if (--p->pending == 0) pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
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
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->arg = arg;
    p->pending = p->n - 1;
    p->gen++;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    fn(arg, 0, p->n);
    pthread_mutex_lock(&p->mu);
    while (p->pending > 0) pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
    openblas_set_num_threads(blas);
}

void pool_free(struct pool *p)
{
    if (!p || p->n <= 1) {
        if (p) memset(p, 0, sizeof *p);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    for (int t = 1; t <= p->started; t++) pthread_join(p->tid[t], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->go);
    pthread_cond_destroy(&p->done);
    memset(p, 0, sizeof *p);
}
