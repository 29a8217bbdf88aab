/* memplan.h - the memory plan and wall-time estimate of a training run, made from its config
 * before anything large is allocated (docs/METHOD.md §8 "Scale").
 *
 * Peak memory of the run's two processes, `train` and `eval --run`:
 *   train = base + data + nets + steps + head + checkpoint
 *   eval  = base + data + nets + steps + head + load + eval sets
 * where base is the process itself (binary, libraries, BLAS buffers; a measured constant),
 * data the training set as the trainer holds it (class tables, or the .npy rows), nets the
 * online backbone with its gradients and momentum plus the EMA copy when the head keeps one,
 * steps the trainer's per-step buffers, head = a + b C from the head's own cost figures
 * (head_per_class_bytes x C + fixed bytes) measured by opening it at two small class counts,
 * checkpoint the three buffers a checkpoint save holds at once (state, payload, compressed),
 * load the two a load holds, and the eval sets the embeddings `eval --run` keeps (probes,
 * distractors, pairs, held-out images, class means). The plan's peak is the larger of the two
 * and is compared with MemAvailable: refused above it, warned above MEMPLAN_WARN_FRAC.
 *
 * Wall time: steps x (head + backbone FLOPs per step) at MEMPLAN_NOMINAL_FLOPS per thread; when
 * that exceeds the probe threshold (MEMPLAN_PROBE_MIN_S, or $DCQB_PLAN_PROBE_MIN_S), a timed
 * probe (memplan_probe: a throw-away trainer, one warm-up step then MEMPLAN_PROBE_STEPS timed
 * ones) replaces it. $DCQB_MEM_AVAILABLE_MB replaces MemAvailable (tests fake a small machine).
 */
#ifndef DCQB_MEMPLAN_H
#define DCQB_MEMPLAN_H

#include "cfg.h"
#include "head.h"

#define MEMPLAN_WARN_FRAC 0.8        /* warn when the peak is above this share of MemAvailable */
#define MEMPLAN_NOMINAL_FLOPS 20e9   /* per thread, for the pre-estimate only (slow on purpose) */
#define MEMPLAN_PROBE_MIN_S 600.0    /* probe when the pre-estimate is longer than this */
#define MEMPLAN_PROBE_STEPS 3

struct memplan {
    int64_t C, N, steps;     /* classes, training images, steps (epochs resolved) */
    int B;
    /* bytes */
    double base, data, nets, step_bufs, head, ckpt, load, eval_sets;
    double train_peak, eval_peak, peak;
    double head_per_class, head_fixed; /* the head's cost figures at C (per class, fixed) */
    double head_state;       /* checkpointed head state at C */
    double avail;            /* MemAvailable, or $DCQB_MEM_AVAILABLE_MB; 0 = unknown */
    int avail_faked;         /* 1: avail came from $DCQB_MEM_AVAILABLE_MB */
    int64_t n_distractors;   /* distractors eval --run will embed */
    /* time */
    double flops_per_step;   /* head + backbone (forward + backward + EMA key forwards) */
    int threads;
    double est_s;            /* steps x s_per_step */
    double s_per_step;
    int probed;              /* 1: s_per_step is measured (memplan_probe), 0: nominal */
};

enum memplan_verdict { MEMPLAN_FITS = 0, MEMPLAN_WARN = 1, MEMPLAN_REFUSE = 2 };

/* Plan the run the config describes (the same keys as trainer_setup; cfg is not modified).
 * Allocates only small things: the class-size table and the head at two small class counts
 * (at C itself when C is small or the head refuses the small ones). Config errors come out as
 * trainer_setup would give them. */
int memplan_make(struct memplan *p, const struct cfg *cfg, struct dcqb_err *err);

/* FITS, WARN (peak > MEMPLAN_WARN_FRAC x avail) or REFUSE (peak > avail). avail = 0 (unknown):
 * FITS. */
int memplan_verdict(const struct memplan *p);

/* Whether the pre-estimate asks for a timed probe (est_s above the threshold). */
int memplan_wants_probe(const struct memplan *p);

/* Time `steps` training steps (after one untimed warm-up step) on a throw-away trainer built
 * from cfg (not modified), freed before returning; sets p->s_per_step, p->est_s, p->probed.
 * Needs the memory of the run itself for its duration. */
int memplan_probe(struct memplan *p, const struct cfg *cfg, int steps, struct dcqb_err *err);

/* A head's figures at C classes, made by opening it at two small class counts c1 and 2 c1
 * (c1 = max(2000, ceil(2 B / ratio)): past 2 B / ratio a subset's K is ratio x C rather than the
 * batch's positives, so every figure is linear in C from there) and extending the line to C; a
 * C below 2 c1, or a head that refuses the small counts (an explicit queue_len above them), is
 * opened at C itself. The training plan and `dcqbench bench`'s plan both come from here. */
struct memplan_head {
    double bytes;            /* cost(): per_class_bytes x C + fixed_bytes */
    double bytes_slope;      /* d bytes / d C (opened at C itself: from C / 2 and C) */
    double per_class, fixed; /* cost()'s two figures at C */
    double state;            /* head_state_bytes at C */
    double flops, active;    /* cost()'s flops per step and active classes K at C */
    struct head_req req;     /* what the head asks of the loop (at 2 c1, or at C) */
};
int memplan_head_at(struct memplan_head *out, const char *name, const struct head_cfg *cfg,
                    int64_t C, int B, struct dcqb_err *err);

/* One line "peak X GiB (train X GiB, eval X GiB at N distractors; head X GiB) of X GiB
 * MemAvailable (N %)" into buf. */
void memplan_format(char *buf, size_t n, const struct memplan *p);

#endif
