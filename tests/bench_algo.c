/* bench_algo.c - quick timing of the full head step (forward_backward + step) and the backbone
 * forward + backward at B = 256, D = 128, C = 10000 (defaults otherwise). Not a unit test.
 * Build and run (one BLAS thread):
 *   make build/tests/bench_algo
 *   OPENBLAS_NUM_THREADS=1 build/tests/bench_algo [C] [reps]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "backbone.h"
#include "head.h"
#include "ops.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int B = 256, D = 128, C = argc > 1 ? atoi(argv[1]) : 10000, R = argc > 2 ? atoi(argv[2]) : 15;
    double *t = malloc(sizeof(double) * R);
    float *x = malloc(sizeof(float) * B * 128), *emb = malloc(sizeof(float) * B * D),
          *demb = malloc(sizeof(float) * B * D);
    int32_t *y = malloc(sizeof(int32_t) * B);
    uint64_t s = 1;
    for (int i = 0; i < B * 128; i++) x[i] = (float)((dcqb_splitmix64(&s) >> 40) / 16777216.0 - 0.5);
    for (int i = 0; i < B; i++) y[i] = (int32_t)(dcqb_splitmix64(&s) % (uint64_t)C);

    struct head_cfg hc;
    head_cfg_defaults(&hc);
    hc.C = C, hc.D = D, hc.max_batch = B;
    struct head h;
    struct dcqb_err err = {0};
    if (head_open(&h, "full", &hc, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    for (int i = 0; i < B * D; i++) emb[i] = x[i];
    l2norm_forward(emb, NULL, emb, B, D, L2NORM_F64_SCALE);
    float loss;
    for (int r = -2; r < R; r++) {
        double t0 = now();
        head_forward_backward(&h, &loss, demb, emb, NULL, y, B, &err);
        head_step(&h, 0.01f, r, &err);
        if (r >= 0) t[r] = now() - t0;
    }
    qsort(t, R, sizeof *t, cmp);
    struct head_cost hcost;
    head_cost(&h, B, &hcost);
    printf("full head B=%d D=%d C=%d: median %.2f ms (min %.2f), %.2f GFLOP/step -> %.1f GFLOP/s;"
           " %.1f MB state\n", B, D, C, 1e3 * t[R / 2], 1e3 * t[0], hcost.flops / 1e9,
           hcost.flops / t[R / 2] / 1e9, hcost.per_class_bytes * C / 1e6);
    /* the three GEMMs alone */
    float *L = malloc(sizeof(float) * B * C), *W = malloc(sizeof(float) * C * D),
          *dW = malloc(sizeof(float) * C * D);
    for (size_t i = 0; i < (size_t)C * D; i++) W[i] = 0.01f;
    for (int r = -1; r < R; r++) {
        double t0 = now();
        matmul_bd_kd_to_bk(L, emb, W, B, C, D, 1, 0);
        matmul_bk_kd_to_bd(demb, L, W, B, C, D, 1, 1);
        matmul_bk_bd_to_kd(dW, L, emb, B, C, D, 1, 0);
        if (r >= 0) t[r] = now() - t0;
    }
    qsort(t, R, sizeof *t, cmp);
    printf("  of which 3 GEMMs (6BCD = %.2f GFLOP): median %.2f ms -> %.1f GFLOP/s\n",
           6.0 * B * C * D / 1e9, 1e3 * t[R / 2], 6.0 * B * C * D / t[R / 2] / 1e9);

    struct backbone_cfg bc;
    backbone_cfg_defaults(&bc);
    struct backbone net = {0};
    if (backbone_init(&net, &bc, B, 1, &err)) return 1;
    float *e2 = malloc(sizeof(float) * B * bc.emb_dim);
    for (int r = -2; r < R; r++) {
        double t0 = now();
        backbone_zero_grad(&net);
        backbone_forward(&net, e2, x, B, 1);
        backbone_backward(&net, e2, B);
        if (r >= 0) t[r] = now() - t0;
    }
    qsort(t, R, sizeof *t, cmp);
    double bf = 3.0 * backbone_flops_per_sample(&net) * B;
    printf("backbone %d-%d x%d-%d B=%d fwd+bwd: median %.2f ms (min %.2f), ~%.2f GFLOP -> %.1f"
           " GFLOP/s\n", bc.in_dim, bc.hidden, bc.depth, bc.emb_dim, B, 1e3 * t[R / 2],
           1e3 * t[0], bf / 1e9, bf / t[R / 2] / 1e9);
    head_close(&h);
    backbone_free(&net);
    free(t), free(x), free(emb), free(demb), free(y), free(L), free(W), free(dW), free(e2);
    return 0;
}
