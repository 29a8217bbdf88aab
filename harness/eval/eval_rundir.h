/* eval_rundir.h - `dcqbench eval --run DIR`: rebuild a trained run from DIR/config.ini and
 * DIR/checkpoint.bin, embed the synthetic evaluation sets (probes, distractors, LFW-like pairs,
 * held-out training images and class means) with the run's network, and hand them to eval_run.
 *
 * Keys (from DIR/config.ini `eval.*`, overridden by the caller's cfg with the same names):
 *   eval.net        default|ema|online|raw  network to embed with (default: the head's
 *                                       choice; DCQ evaluates with its EMA weight generator);
 *                                       raw = no network, cosine on the input x itself (the
 *                                       untrained baseline of the calibration)
 *   eval.flip_sum   1   feature = normalize(f(x) + f(flip(x))) (REFERENCE.md sec. 2)
 *   eval.distractors    0 = the generator's count
 *   eval.tie        strict|loose
 *   eval.mean_cap   50  training images per class used for the class means (0 = all)
 *   eval.tail       1   compute the tail diagnostics
 *   eval.lfw        1   compute LFW-style verification
 *   eval.bins, eval.probe_pairs_as_impostors, eval.devkit, eval.devkit_features: as the .npy
 *   mode's --bins, --probe-pairs-as-impostors, --devkit, --devkit-features.
 */
#ifndef DCQB_EVAL_RUNDIR_H
#define DCQB_EVAL_RUNDIR_H

#include "cfg.h"
#include "eval.h"

/* The eval.<key> names above, NULL-terminated (what `eval --run` accepts as --key). */
extern const char *const eval_rundir_keys[];

/* progress(ctx, stage, done, total) may be NULL. */
typedef void (*eval_progress_fn)(void *ctx, const char *stage, int64_t done, int64_t total);

int eval_rundir(const char *rundir, struct cfg *opts, const char *outdir,
                struct eval_summary *sum, eval_progress_fn progress, void *pctx,
                struct dcqb_err *err);

#endif
