/* bench_head.c - one head's step alone, for profiling (perf record, valgrind --tool=callgrind):
 * forward_backward and step timed separately (min and median), the allocation calls inside
 * the timed loop, and the head's 2 or 3 GEMMs alone at the same shapes for comparison.
 * `dcqbench bench` is the measurement of record; this is the loop to put under a profiler.
 * Not a unit test. Build and run:
 *   make build/tests/bench_head
 *   OPENBLAS_CORETYPE=SkylakeX OPENBLAS_NUM_THREADS=1 build/tests/bench_head dcq 1000000 128
 *   perf record build/tests/bench_head random 100000 128 200 1 && perf report
 * Arguments: head C d [reps = 10] [threads = 1]; B = 256, every other knob from
 * head_cfg_defaults (as dcqbench train), labels uniform over C.
 * (OPENBLAS_CORETYPE: the dcqbench binary picks it itself, see README.)
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc_count.h"
#include "dcqb.h"
#include "head.h"
#include "ops.h"

enum { BATCH = 256 };

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void urand_rows(float *x, int n, int D, uint64_t seed)
{
    for (int i = 0; i < n * D; i++)
        x[i] = (float)((dcqb_splitmix64(&seed) >> 40) * (1.0 / 16777216.0)) - 0.5f;
    l2norm_forward(x, NULL, x, n, D, L2NORM_F64_SCALE);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s head C d [reps] [threads]\n", argv[0]);
        return 2;
    }
    const char *name = argv[1];
    const long long C = atoll(argv[2]);
    const int D = atoi(argv[3]), reps = argc > 4 ? atoi(argv[4]) : 10,
              T = argc > 5 ? atoi(argv[5]) : 1, B = BATCH;
    if (C < 2 || D < 1 || reps < 1 || T < 1) {
        fprintf(stderr, "bench_head: bad arguments (C >= 2, d, reps, threads >= 1)\n");
        return 2;
    }
    openblas_set_num_threads(T);
    struct head_cfg cfg;
    head_cfg_defaults(&cfg);
    cfg.C = C, cfg.D = D, cfg.max_batch = B, cfg.threads = T;
    struct head h;
    struct dcqb_err err = {0};
    float *q = malloc(sizeof(float) * 3 * B * D);
    int32_t *lab = malloc(sizeof(int32_t) * B);
    double *tf = malloc(sizeof(double) * 2 * reps), *ts = tf + reps;
    if (!q || !lab || !tf) return 1;
    float *k = q + B * D, *dq = k + B * D;
    if (head_open(&h, name, &cfg, &err)) {
        fprintf(stderr, "bench_head: %s\n", err.msg);
        return 1;
    }
    urand_rows(q, B, D, 1);
    urand_rows(k, B, D, 2);
    uint64_t ls = 3;
    for (int r = -2; r < reps; r++) {
        for (int i = 0; i < B; i++) lab[i] = (int32_t)(dcqb_splitmix64(&ls) % (uint64_t)C);
        if (r == 0) alloc_count_enable(1);
        float loss;
        memset(dq, 0, sizeof(float) * B * D);
        double t0 = now();
        if (head_forward_backward(&h, &loss, dq, q, h.req.pairs ? k : NULL, lab, B, &err) ||
            head_step(&h, 1e-3f, r + 2, &err)) {
            fprintf(stderr, "bench_head: %s\n", err.msg);
            return 1;
        }
        double t1 = now();
        if (r >= 0) tf[r] = t1 - t0;
    }
    long allocs = alloc_count_get();
    alloc_count_enable(0);
    struct head_cost hc;
    head_cost(&h, B, &hc);
    head_close(&h);
    qsort(tf, (size_t)reps, sizeof *tf, cmp_double);

    /* the bound: the head's GEMMs alone at (B, K, D), as dcqbench bench measures it */
    const int64_t K = hc.active_classes;
    const int ng = hc.flops > 5.0 * B * (double)K * D ? 3 : 2;
    float *W = calloc((size_t)K * D * 2 + (size_t)B * K, sizeof(float));
    if (!W) return 1;
    float *O = W + (size_t)K * D, *L = O + (size_t)K * D;
    for (int r = -1; r < reps; r++) {
        double t0 = now();
        matmul_bd_kd_to_bk(L, q, W, B, (int)K, D, 1.0f, 0.0f);
        matmul_bk_kd_to_bd(dq, L, W, B, (int)K, D, 1.0f, 1.0f);
        if (ng == 3) matmul_bk_bd_to_kd(O, L, q, B, (int)K, D, 1.0f, 0.0f);
        if (r >= 0) ts[r] = now() - t0;
    }
    qsort(ts, (size_t)reps, sizeof *ts, cmp_double);
    printf("%s C=%lld d=%d K=%lld threads=%d: step min %.2f med %.2f ms | %d GEMMs min %.2f "
           "med %.2f ms | ratio min %.2f med %.2f | allocs in loop %ld\n",
           name, C, D, (long long)K, T, 1e3 * tf[0], 1e3 * tf[reps / 2], ng, 1e3 * ts[0],
           1e3 * ts[reps / 2], tf[0] / ts[0], tf[reps / 2] / ts[reps / 2], allocs);
    free(W), free(q), free(lab), free(tf);
    return 0;
}
