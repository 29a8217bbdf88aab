/* eval_rundir.h - `dcqbench eval --run DIR`: rebuild a trained run from DIR/config.ini and
 * DIR/checkpoint.bin, embed the synthetic evaluation sets (probes, distractors, LFW-like pairs,
 * held-out training images and class means) with the run's network, and hand them to eval_run.
 *
 * Keys: the eval.* rows of eval_rundir_keys below (eval_rundir.c: type, range, help; defaults
 * from eval_rundir_opts_defaults), read from DIR/config.ini and overridden by the caller's cfg
 * with the same names. eval.net = default takes the head's choice (DCQ evaluates with its EMA
 * weight generator, docs/METHOD.md §4); raw = no network, cosine on the input x itself (the
 * untrained baseline). eval.bins, eval.probe_pairs_as_impostors, eval.devkit and
 * eval.devkit_features are the .npy mode's --bins, --probe-pairs-as-impostors, --devkit and
 * --devkit-features. eval.distractors takes a prefix of the run's distractor set and cannot
 * exceed it (DCQB_EINVAL). Besides the test split, the validation split (data keys
 * val_probe_ids, val_distractors) gives val_rank1 with eval.net's network, and a run with an EMA
 * network gets the rank-1 of both networks (megaface_rank1_online, megaface_rank1_ema).
 */
#ifndef DCQB_EVAL_RUNDIR_H
#define DCQB_EVAL_RUNDIR_H

#include "cfg.h"
#include "eval.h"
#include "keys.h"

/* Everything the eval.* keys set. */
struct eval_rundir_opts {
    int net;               /* 0 default, 1 ema, 2 online, 3 raw */
    int flip_sum;
    int64_t distractors;   /* 0: the generator's count */
    int64_t mean_cap;
    int tail, lfw;
    struct eval_cfg ecfg;  /* tie, n_bins, probe_pairs_as_impostors, devkit_alg, devkit_features */
};
void eval_rundir_opts_defaults(struct eval_rundir_opts *o);

/* The eval.<key> rows above, NULL-name-terminated (scope KEY_EVAL; `eval --run` accepts each as
 * --<key> without the "eval." prefix). */
extern const struct key_spec eval_rundir_keys[];

/* progress(ctx, stage, done, total) may be NULL. */
typedef void (*eval_progress_fn)(void *ctx, const char *stage, int64_t done, int64_t total);

int eval_rundir(const char *rundir, struct cfg *opts, const char *outdir,
                struct eval_summary *sum, eval_progress_fn progress, void *pctx,
                struct dcqb_err *err);

#endif
