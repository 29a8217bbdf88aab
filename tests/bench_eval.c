/* bench_eval.c - time eval_megaface_compute on P = 3520 probes (80 ids x 44) x N random
 * distractors at D = 128, next to its GEMM bound: 2*P*N*D FLOPs at the sgemm rate measured for
 * the same (Bp, Bd, D) tile shape (median of 101 calls on distinct operands). Not a unit test.
 * Build: make && cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Iinclude -Iharness -Idatasets \
 *          $(pkg-config --cflags openblas) tests/bench_eval.c build/libdcqb.a -o build/bench_eval \
 *          -lgsl $(pkg-config --libs openblas) -linih -lz -lm -lpthread
 * Run:   build/bench_eval [N=1000000] [Bp=256] [Bd=2048] [threads=1]
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include <cblas.h>

#include "eval.h"

static double now(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    const int64_t P = 3520, N = argc > 1 ? atoll(argv[1]) : 1000000;
    const int D = 128, bp = argc > 2 ? atoi(argv[2]) : 256, bd = argc > 3 ? atoi(argv[3]) : 2048;
    const int th = argc > 4 ? atoi(argv[4]) : 1;
    if (N < 101LL * bd || bp > P) {
        fprintf(stderr, "need N >= 101 * Bd and Bp <= %lld\n", (long long)P);
        return 2;
    }
    openblas_set_num_threads(th);
    float *p = malloc(sizeof(float) * P * D), *d = malloc(sizeof(float) * N * D),
          *c = malloc(sizeof(float) * bp * bd);
    int32_t *l = malloc(sizeof(int32_t) * P);
    if (!p || !d || !c || !l) return 1;
    uint64_t s = 1;
    for (int64_t i = 0; i < P * D; i++)
        p[i] = (float)((dcqb_splitmix64(&s) >> 40) / 16777216.0 - 0.5);
    for (int64_t i = 0; i < N * D; i++)
        d[i] = (float)((dcqb_splitmix64(&s) >> 40) / 16777216.0 - 0.5);
    for (int i = 0; i < P; i++)
        l[i] = i / 44;

    double ts[101];
    for (int r = 0; r < 101; r++) {
        double t0 = now(CLOCK_MONOTONIC);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, bp, bd, D, 1.0f,
                    p + (size_t)(r % (P / bp)) * bp * D, D, d + (size_t)r * bd * D, D, 0.0f, c, bd);
        ts[r] = now(CLOCK_MONOTONIC) - t0;
    }
    qsort(ts, 101, sizeof ts[0], cmp_d);
    const double rate = 2.0 * bp * bd * D / ts[50];

    struct eval_inputs in = {0};
    in.probe = (struct eval_mat){p, P, D};
    in.probe_labels = (struct eval_vec){l, P};
    in.distractors = (struct eval_mat){d, N, D};
    struct eval_cfg cfg;
    eval_cfg_default(&cfg);
    cfg.block_probe = bp;
    cfg.block_distractor = bd;
    struct eval_megaface mf;
    struct dcqb_err err = {0};
    double c0 = now(CLOCK_PROCESS_CPUTIME_ID), t0 = now(CLOCK_MONOTONIC);
    int rc = eval_megaface_compute(&mf, &in, &cfg, &err);
    double t = now(CLOCK_MONOTONIC) - t0, cpu = now(CLOCK_PROCESS_CPUTIME_ID) - c0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    const double bound = 2.0 * P * N * D / rate;
    printf("P=%lld N=%lld D=%d tile %dx%d threads %d: rc %d, %.2f s wall (%.2f s cpu); sgemm "
           "%.1f GFLOP/s -> GEMM bound %.2f s; wall/bound %.2f; rank1 %.6f; peak RSS %.0f MB "
           "(inputs %.0f MB)\n",
           (long long)P, (long long)N, D, bp, bd, th, rc, t, cpu, rate / 1e9, bound, t / bound,
           rc ? 0.0 : mf.cmc[mf.n_sizes - 1][0], ru.ru_maxrss / 1024.0, (P + N) * D * 4 / 1e6);
    eval_megaface_free(&mf);
    free(p);
    free(d);
    free(c);
    free(l);
    return rc;
}
