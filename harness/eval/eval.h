/* eval.h - evaluation of embedding matrices: MegaFace identification and verification, LFW-style
 * 10-fold verification, and tail diagnostics by training-class size (docs/METHOD.md §4).
 *
 * Everything here works on float32 embedding matrices (row-major, one row per image); where they
 * came from (a trained run, another framework's .npy) does not matter. Scores are cosines: every
 * row is L2-normalised by this module unless it already has |norm^2 - 1| <= 1e-6 (then it is used
 * bit for bit, so exactly representable unit vectors give exact scores). Library code: no
 * printing; every function returns enum dcqb_status and fills struct dcqb_err.
 *
 * Conventions (documented once, used everywhere below):
 *  - Tie rule (docs/METHOD.md §4.1). The gallery image g of a trial (p, g) is "beaten" by distractor x
 *      EVAL_TIE_STRICT (default): iff sim(p,x) >= sim(p,g)  -- g must strictly win:
 *                                 rank-1 hit iff sim(p,g) > max_x sim(p,x)  (FaceX-Zoo's >= count)
 *      EVAL_TIE_LOOSE:            iff sim(p,x) >  sim(p,g)  -- ties go to g (FFC's > count)
 *    Rank-r hit iff fewer than r distractors beat g. CMC rate at rank r = hits / trials.
 *  - Distractor ladder: sizes 10, 100, 1000, ... below N, then N itself (prefixes of the list).
 *  - Impostor scores are counted in n_bins fixed-width bins on [-1, 1] (width 2 / n_bins); bin of
 *    s = floor((s + 1) * n_bins / 2) clamped to [0, n_bins - 1]. Genuine scores are kept exactly
 *    but are binned by the same function when the ROC is built, so ROC points sit exactly at the
 *    bin edges e_k = -1 + 2k/n_bins ("accept iff bin(s) >= k") and are exact for those thresholds.
 *    TAR at a target FAR is the linear interpolation on this polyline; a target FAR below
 *    1 / (number of impostor pairs) is "not resolvable": NaN here, JSON null, and a 0 flag.
 *  - LFW 10-fold: pair i is in fold i*10/n (= i / (n/10), the generator's order) unless a fold
 *    vector is given. Per fold, the threshold maximising accuracy on the other nine folds (first
 *    best in ascending threshold order, thresholds at midpoints between distinct scores, accept
 *    iff score >= threshold) is applied to the fold. Std is the population std (ddof 0, as
 *    InsightFace's np.std). TAR@FAR on pairs: the ROC over all pairs (not calculate_val's
 *    per-fold average), with the same binned-impostor ROC as MegaFace.
 *  - Tail buckets by training class size: [1,2], [3,5], [6,10], [11,50], [51, inf). Classes of
 *    size 0 are in no bucket. Top-1 ties go to the lower class index; a class whose mean (or
 *    weight) row is all zeros is never predicted.
 */
#ifndef DCQB_EVAL_H
#define DCQB_EVAL_H

#include "dcqb.h"

enum eval_tie { EVAL_TIE_STRICT = 0, EVAL_TIE_LOOSE = 1 };

#define EVAL_MAX_RANK 10   /* CMC ranks 1..10 */
#define EVAL_MAX_LADDER 20 /* 10 .. 1e18 */
#define EVAL_N_BUCKETS 5
#define EVAL_N_FAR 4 /* MegaFace targets 1e-3 .. 1e-6 */

/* A matrix or vector input; x == NULL means "not given". */
struct eval_mat {
    const float *x; /* (rows, cols) row-major */
    int64_t rows, cols;
};
struct eval_vec {
    const int32_t *x; /* (n) */
    int64_t n;
};

/* The parts present decide what is computed: MegaFace iff probe.x, LFW iff pairs_a.x, tail iff
 * holdout.x, validation rank-1 iff val_probe.x, the rank-1 of each network iff probe_online.x
 * (resp. probe_ema.x). Within a part, the listed companions are required. */
struct eval_inputs {
    /* MegaFace: probe (P, D), probe_labels (P) identity ids, distractors (N, D). */
    struct eval_mat probe;
    struct eval_vec probe_labels;
    struct eval_mat distractors;
    /* LFW: pairs_a, pairs_b (M, D), pairs_same (M) 0/1, optional pairs_fold (M) in 0..9. */
    struct eval_mat pairs_a, pairs_b;
    struct eval_vec pairs_same, pairs_fold;
    /* Tail: holdout (H, D), holdout_labels (H) in [0, C), class_sizes (C) training images per
     * class, class_means (C, D) (see eval_class_accum_*), optional class_weights (C, D). */
    struct eval_mat holdout;
    struct eval_vec holdout_labels;
    struct eval_vec class_sizes;
    struct eval_mat class_means, class_weights;
    /* Validation: val_probe (Pv, D), val_probe_labels (Pv), val_distractors (Nv, D); rank-1 at
     * Nv with the MegaFace protocol (max_distractors does not apply). */
    struct eval_mat val_probe;
    struct eval_vec val_probe_labels;
    struct eval_mat val_distractors;
    /* The probes and distractors embedded with the online (resp. EMA) network, rows as probe and
     * distractors (probe_labels apply): MegaFace rank-1 at the largest size with that network.
     * Pointers equal to probe.x and distractors.x take megaface_rank1 itself (no second pass). */
    struct eval_mat probe_online, distractors_online, probe_ema, distractors_ema;
};

struct eval_cfg {
    int tie;                      /* enum eval_tie, default strict */
    int probe_pairs_as_impostors; /* different-identity probe pairs also impostors (default 0) */
    int64_t n_bins;               /* impostor histogram bins on [-1,1], >= 1e5 (default 200000) */
    int64_t max_distractors;      /* use only the first N distractors; 0 = all */
    int block_probe;              /* probe rows per sgemm block (default 256) */
    int block_distractor;         /* distractor rows per sgemm block (default 2048) */
    const char *devkit_alg;       /* non-NULL: write devkit cmc/roc JSON with this algorithm name */
    int devkit_features;          /* with devkit_alg: also devkit .bin feature files + lists */
};
void eval_cfg_default(struct eval_cfg *cfg);

/* ---- metric keys and the run entry point ---------------------------------------------------- */

/* NULL-terminated, in the order metrics.json writes them; every key is always written (null when
 * the part was not computed or the value is not resolvable). All values are numbers. */
extern const char *const eval_metric_keys[];
#define EVAL_MAX_KEYS 128

struct eval_summary {
    double v[EVAL_MAX_KEYS]; /* v[i] is eval_metric_keys[i]; NaN = null */
    int n_keys;
    int has_megaface, has_lfw, has_tail;
};
/* Value of `key`, NaN if absent or null. */
double eval_summary_get(const struct eval_summary *sum, const char *key);

/* Validate every given part (before any long computation), compute what the inputs allow, and
 * write into `outdir` (created if missing): metrics.json, and per part cmc.tsv,
 * rank1_vs_size.tsv, roc.tsv (MegaFace), lfw_folds.tsv, lfw_roc.tsv (LFW), tail.tsv (tail); with
 * cfg->devkit_alg cmc_facescrub_megaface_<alg>_<size>_1.json per ladder size; with
 * cfg->devkit_features also devkit/facescrub/<i>_<alg>.bin, devkit/megaface/<j>_<alg>.bin,
 * devkit/facescrub_features_list.json and devkit/megaface_features_list.json_<size>_1 (paths
 * are "facescrub/<i>", so the devkit's feature suffix is "_<alg>"). `sum` may be NULL. */
int eval_run(const struct eval_inputs *in, const struct eval_cfg *cfg, const char *outdir,
             struct eval_summary *sum, struct dcqb_err *err);

/* Checks of eval_run, exposed for tests and for callers that load inputs lazily. */
int eval_inputs_check(const struct eval_inputs *in, struct dcqb_err *err);

/* ---- MegaFace (eval_megaface.c) -------------------------------------------------------------- */

struct eval_megaface {
    int n_sizes;
    int64_t sizes[EVAL_MAX_LADDER];
    double cmc[EVAL_MAX_LADDER][EVAL_MAX_RANK]; /* cmc[s][r-1]: rate of rank <= r at sizes[s] */
    int64_t trials;                             /* sum n(n-1) over probe identities */
    int64_t n_ids;
    int64_t n_genuine; /* same-identity pairs i < j */
    float *genuine;    /* (n_genuine) exact scores */
    int64_t n_bins;
    uint64_t *imp_hist; /* (n_sizes, n_bins): impostor counts at each ladder size */
    uint64_t n_impostor[EVAL_MAX_LADDER];
    float *probe_n; /* (P, D) normalised probes (kept for devkit features) */
    void *mem;      /* the one allocation behind the pointers above */
};

/* Identification and verification in one streamed pass over the distractors:
 * per distractor block (Bd rows) and probe block (Bp rows) one sgemm of 2*Bp*Bd*D FLOPs, then a
 * scan of the Bp x Bd scores (running top-10 per probe + impostor histogram). Memory beyond the
 * inputs: P*D + Bd*D + Bp*max(Bd,P) floats, P*10*(L+1) floats, (L+1)*n_bins uint64. */
int eval_megaface_compute(struct eval_megaface *mf, const struct eval_inputs *in,
                          const struct eval_cfg *cfg, struct dcqb_err *err);
void eval_megaface_free(struct eval_megaface *mf);
/* The rank-1 (cmc at the largest ladder size, rank 1) of eval_megaface_compute on these inputs,
 * bit for bit, without the impostor histograms: the same blocks, the same scores. */
int eval_megaface_rank1(double *rank1, const struct eval_mat *probe, const int32_t *labels,
                        const struct eval_mat *dis, const struct eval_cfg *cfg,
                        struct dcqb_err *err);

/* Ladder sizes for N distractors: 10, 100, ... < N, then N. Returns the count. */
int eval_ladder(int64_t sizes[EVAL_MAX_LADDER], int64_t n);

static inline int64_t eval_bin(float s, int64_t n_bins)
{
    double b = ((double)s + 1.0) * 0.5 * (double)n_bins;
    if (!(b >= 0.0)) return 0;
    if (b >= (double)n_bins) return n_bins - 1;
    return (int64_t)b;
}

/* ---- ROC from exact genuine scores and binned impostors (eval_roc.c) ------------------------ */

struct eval_roc {
    int64_t n;               /* points, ordered by threshold descending (FAR ascending) */
    double *far, *tar, *thr; /* (n) each; thr = bin edge, accept iff bin(s) >= edge's k */
    uint64_t n_impostor;
    int64_t n_genuine;
};
int eval_roc_build(struct eval_roc *roc, const float *genuine, int64_t n_genuine,
                   const uint64_t *imp_hist, int64_t n_bins, struct dcqb_err *err);
/* TAR at `far` by linear interpolation; NaN if far < 1/n_impostor (not resolvable). *thr (may be
 * NULL) gets the interpolated threshold. */
double eval_roc_tar_at_far(const struct eval_roc *roc, double far, double *thr);
void eval_roc_free(struct eval_roc *roc);

/* ---- LFW-style 10-fold (eval_lfw.c) --------------------------------------------------------- */

struct eval_lfw {
    int64_t n_pairs;
    double fold_acc[10], fold_thr[10];
    double acc_mean, acc_std, thr_mean;
    double tar_at_far_1e3, tar_at_far_1e2; /* NaN if not resolvable */
    struct eval_roc roc;
};
int eval_lfw_compute(struct eval_lfw *lfw, const struct eval_inputs *in, const struct eval_cfg *cfg,
                     struct dcqb_err *err);
void eval_lfw_free(struct eval_lfw *lfw);

/* ---- Tail diagnostics (eval_tail.c) ---------------------------------------------------------- */

extern const char *const eval_bucket_names[EVAL_N_BUCKETS]; /* "b1_2" ... "b51_plus" */
int eval_bucket_of(int64_t class_size);                     /* -1 for size < 1 */

struct eval_tail {
    int has_weights;
    int64_t n_holdout, n_classes;
    int64_t b_classes[EVAL_N_BUCKETS], b_holdout[EVAL_N_BUCKETS];
    double acc_mean[EVAL_N_BUCKETS], acc_weight[EVAL_N_BUCKETS], cos_wm[EVAL_N_BUCKETS];
    double acc_mean_all, acc_weight_all, cos_wm_all; /* NaN where undefined */
};
/* Top-1 against class means (and weights): sgemm blocks of Bh=256 held-out rows x Bc=2048
 * classes, 2*H*C*D FLOPs per matrix; memory (Bh + Bc) * D + Bh * Bc floats + H argmax state. */
int eval_tail_compute(struct eval_tail *t, const struct eval_inputs *in, struct dcqb_err *err);

/* Class means from streamed training embeddings: init, add batches, finish, free.
 * Sums in double: C * D * 8 bytes (100K x 512 -> 410 MB). */
struct eval_class_accum {
    int64_t n_classes;
    int d;
    double *sum;    /* (C, D) */
    int64_t *count; /* (C) */
};
int eval_class_accum_init(struct eval_class_accum *a, int64_t n_classes, int d,
                          struct dcqb_err *err);
/* emb (n, D), labels (n) in [0, C) */
int eval_class_accum_add(struct eval_class_accum *a, const float *emb, const int32_t *labels,
                         int64_t n, struct dcqb_err *err);
/* means (C, D) = sum / count (zero rows for empty classes); sizes (C) may be NULL */
int eval_class_accum_finish(const struct eval_class_accum *a, float *means, int32_t *sizes,
                            struct dcqb_err *err);
void eval_class_accum_free(struct eval_class_accum *a);

/* ---- output helpers (eval_io.c) -------------------------------------------------------------- */

/* Devkit feature file: 16-byte header (int32 LE rows=n, cols=1, elem size=4, type=5) + n f32. */
int eval_devkit_write_bin(const char *path, const float *x, int n, struct dcqb_err *err);

#endif /* DCQB_EVAL_H */
