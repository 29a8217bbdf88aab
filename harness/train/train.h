/* train.h - the one training step every head plugs into, and the loop around it
 * (docs/ARCHITECTURE.md §3 "life of a training step"; docs/METHOD.md §2).
 *
 * trainer_step, per step t (B samples):
 *   draw (class, image) pairs - instance-balanced (uniform over images) or class-balanced;
 *   render x (B,Din) with an independent random flip per view;
 *   if the head asks for pairs: kshot reference images of each sample's identity (own stream);
 *   if there is an EMA network (the head asks, or ema = 1): theta_k <- mu theta_k + (1-mu)
 *     theta_q, before the key forward; with pairs k = normalize(mean_kshot
 *     normalize(f_k(x_ref))), no gradient;
 *   q = normalize(f_q(x)); head forward+backward -> loss, dL/dq; back through the
 *   normalisation and the backbone; SGD on the backbone; head step (its SGD / queue update).
 * Streams DATA (generator), INIT (backbone), SHUFFLE (sampling), AUG (flips), HEAD and REF (the
 * references) are seeded independently from `seed` (docs/METHOD.md §7), so a head drawing more
 * numbers never shifts data, and every head trains on the same batches (trainer_batch).
 * No allocation inside the step: every buffer is sized at setup. trainer_run is the loop around
 * it (curve rows, checkpoints, progress, the stop flag); the benchmark times trainer_step alone.
 */
#ifndef DCQB_TRAIN_H
#define DCQB_TRAIN_H

#include <signal.h>

#include "backbone.h"
#include "cfg.h"
#include "head.h"
#include "optim.h"
#include "trainset.h"

struct train_opts {
    uint64_t seed;
    int64_t steps;
    int batch;
    struct lr_cfg lr;
    struct optim_cfg optim;    /* backbone SGD */
    int threads;               /* BLAS threads */
    int class_balanced;        /* 0: uniform over images (instance-balanced, the default) */
    int flip_aug;              /* random horizontal flip of each view */
    int ema_key_train;         /* key forward of the EMA net in train mode (BN batch stats) */
    int ema;                   /* keep f_k = EMA(f_q) for any head (forced to 1 for dcq) */
    double mu;                 /* its momentum */
    int64_t drift_every;       /* queue age and drift every N steps (0: never) */
    int64_t ckpt_every;        /* checkpoint every N steps (0: only at the end) */
    int64_t log_every;         /* curve row every N steps */
};

struct trainer {
    struct train_opts o;
    struct trainset ts;
    struct backbone net;       /* online encoder f_q */
    struct backbone ema;       /* EMA copy f_k, when the head asks (req.ema) */
    int has_ema;
    struct head head;          /* the head handle (head.h): ops, state, what it asks (req) */
    struct head_cfg hcfg;
    uint64_t cfg_hash;         /* hash of the resolved config that defines the run */
    int64_t t;                 /* next step to run */
    float last_loss;
    double loss_ema;           /* smoothed loss for progress display */
    double data_s, backbone_s, head_s; /* time split summed by trainer_step since setup */
    double instr_s;            /* time of the queue instruments (outside trainer_step) */
    void *priv;                /* buffers and RNGs (one allocation + two gsl_rng) */
};

/* Progress callback: called every step from the loop; the CLI decides what to print. */
typedef void (*train_progress_fn)(void *ctx, int64_t t, int64_t T, double loss, double lr,
                                  double samples_per_s, double elapsed_s);

struct train_result {
    int64_t steps_done;
    double final_loss;         /* mean loss of the last min(100, steps/10) steps */
    double first_loss;         /* mean loss of the first min(100, steps/10) steps */
    double wall_s;             /* training time of this invocation (excl. setup) */
    double samples_per_s;
    double head_s, backbone_s, data_s; /* time split of this invocation */
    uint32_t digest;
    /* the loop's records over the whole run (a resumed run included; docs/METHOD.md §2) */
    double eff_classes_mean;   /* mean logit columns per step, positives included */
    double batch_labels_mean;  /* mean distinct labels per batch */
    double queue_staleness;    /* L/B for a queue head, else NAN */
    double queue_age_mean;     /* last measured mean age of the filled slots (steps), or NAN */
    double queue_drift_mean;   /* last measured mean cosine queued vs recomputed key, or NAN */
};

/* What step t drew, for tests of the loop (read-only, valid until the next step): B rows of
 * class, image and flip; the B*kshot references (pairs heads, else nref = 0), row i's at
 * i*kshot..; the rendered inputs x (B,Din) and references xk (nref,Din). */
struct trainer_batch {
    int B, nref, kshot;
    const int64_t *cls;
    const int32_t *img, *flip;
    const struct head_key_src *ref;
    const float *x, *xk;
};

/* Build everything from a config (keys: train_keys.h). Unknown keys are errors.
 * `eval.*` keys are accepted and ignored (they belong to `dcqbench eval`). */
int trainer_setup(struct trainer *tr, struct cfg *cfg, struct dcqb_err *err);
void trainer_free(struct trainer *tr);

/* One training step at step index t (the lr schedule's position and the heads' step count):
 * draw and render the batch, EMA update and key forward when the head asks, forward, normalise,
 * head forward_backward, backward, SGD, head step. *loss gets the head's loss. Allocates
 * nothing. DCQB_ENUMERIC on a non-finite loss or gradient; errors name step t. Does not advance
 * tr->t (the loop does). */
int trainer_step(struct trainer *tr, int64_t t, float *loss, struct dcqb_err *err);

/* Run steps tr->t .. steps-1. Appends curve rows to `curve` (may be NULL) every log_every
 * steps, checkpoints to `ckpt_path` every ckpt_every steps and at the end (NULL: never).
 * Returns DCQB_EINTR (after checkpointing) when *stop becomes non-zero, DCQB_ENUMERIC naming
 * the step on a non-finite loss or gradient. */
int trainer_run(struct trainer *tr, FILE *curve, const char *ckpt_path,
                volatile sig_atomic_t *stop, train_progress_fn progress, void *pctx,
                struct train_result *res, struct dcqb_err *err);

/* The batch of the last trainer_step (struct trainer_batch). */
void trainer_batch(const struct trainer *tr, struct trainer_batch *b);

/* Measure the queue instruments now (after step tr->t - 1 ... or any step): *age = mean age in
 * steps of the slots with a known source, *drift = mean cosine between up to 256 of their keys
 * and the keys their references give with the current EMA network (eval-mode BN). NAN (and
 * DCQB_OK) for a head without queue_view or without filled slots. `now` is the step the age is
 * counted from. Uses the step's buffers: allocates nothing; call between steps. */
int trainer_queue_instruments(struct trainer *tr, int64_t now, double *age, double *drift,
                              struct dcqb_err *err);

/* crc32 over backbone, the head's EMA backbone (when the head asks for it: an EMA kept because
 * of `ema = 1` observes training and is left out, so it cannot change the digest) and head
 * state: bit-exact determinism checks. */
uint32_t trainer_digest(const struct trainer *tr);

/* Embed n inputs x (n,Din) with the online (use_ema = 0) or EMA network, eval-mode BN, into
 * out (n,d) unnormalised. Uses the trainer's buffers in chunks of `batch`. */
void trainer_embed(struct trainer *tr, float *out, const float *x, int64_t n, int use_ema);

#endif
