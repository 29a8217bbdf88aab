/* bench_synth.c - single-thread render throughput of the synthetic generator (images/s).
 * Not built by `make` (timing is not a unit test). Build and run after `make`:
 *   cc -Iinclude -Idatasets -std=c11 -D_POSIX_C_SOURCE=200809L -O2 -g -ffp-contract=off \
 *      -o build/bench_synth tests/bench_synth.c build/libdcqb.a -lm && build/bench_synth [ids]
 * Measures synth_render_train_n over a random-access batch pattern (uniform n, B = 512 rows),
 * wall clock CLOCK_MONOTONIC, 1 s warm-up excluded, median of 5 repeats of ~2 s. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "synth.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    struct synth_cfg cfg = {.seed = 1, .ids = argc > 1 ? atoll(argv[1]) : 20000};
    synth_cfg_defaults(&cfg, SYNTH_MF2);
    struct synth *s;
    struct dcqb_err err = {0};
    if (synth_create(&s, &cfg, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    enum { B = 512 };
    static float x[B * 128];
    int32_t lab[B];
    int64_t N = synth_num_train(s);
    uint64_t st = 42;
    double rates[5];
    double t_end = now_s() + 1.0;
    while (now_s() < t_end)
        for (int b = 0; b < B; b++)
            synth_render_train_n(s, x + b * 128, lab + b, (int64_t)(dcqb_splitmix64(&st) % N), 0);
    for (int rep = 0; rep < 5; rep++) {
        long n = 0;
        double t0 = now_s(), t;
        do {
            for (int b = 0; b < B; b++)
                synth_render_train_n(s, x + b * 128, lab + b,
                                     (int64_t)(dcqb_splitmix64(&st) % N), b & 1);
            n += B;
        } while ((t = now_s()) - t0 < 2.0);
        rates[rep] = n / (t - t0);
    }
    qsort(rates, 5, sizeof rates[0], cmp_d);
    printf("render throughput: median %.0f images/s (min %.0f, max %.0f), D=%d, 1 thread, "
           "x[0]=%g\n", rates[2], rates[0], rates[4], cfg.x_dim, (double)x[0]);
    synth_free(s);
    return 0;
}
