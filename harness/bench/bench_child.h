/* bench_child.h - one configuration of the head cost benchmark, measured inside the child
 * process bench.c forks for it: the training step (total_ms), the head alone (head_*) and the
 * GEMM bound (gemm_*, the ratios), in that order (bench.h describes each). Private to
 * harness/bench/. */
#ifndef DCQB_BENCH_CHILD_H
#define DCQB_BENCH_CHILD_H

#include "bench.h"

#define BENCH_NLAB 8        /* label batches in rotation for the head-alone phase */
#define BENCH_EST_RATE 40e9 /* FLOP/s per thread assumed when choosing reps */
#define BENCH_FIXED_L 1000  /* dcq: the queue length held fixed as C grows (claim 2) */

struct cfg;
struct trainer;
/* The training config whose step the benchmark times (into c, a zeroed or partly filled cfg;
 * cfg_free it): head, ids = C synthetic classes of one image each, dim d, batch B, threads,
 * ratio, seed, steps; lr 1e-3 constant; every other key at training's default. */
int bench_train_cfg(struct cfg *c, const char *head, int64_t C, int d, int B, int threads,
                    double ratio, uint64_t seed, int64_t steps, struct dcqb_err *err);
/* Steps 0 .. warm+reps-1 of tr through trainer_step: wall seconds of the last `reps` into
 * wall[0..reps), the loss of step 0 into *first_loss (may be NULL), allocation calls inside
 * the timed steps into *allocs (-1: not counted in this build). */
int bench_time_step(struct trainer *tr, int warm, int reps, double *wall, float *first_loss,
                    long *allocs, struct dcqb_err *err);

/* Fill row (whose head, C, d, B, threads are set) with every measured column and status "ok",
 * or status "failed" with the message; n_gemm from the plan. */
void bench_child_run(const struct bench_cfg *cfg, int n_gemm, struct bench_row *row);

#endif
