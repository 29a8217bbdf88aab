/* eval_lfw.c - LFW-style 10-fold verification on pairs (docs/METHOD.md §4.3): per fold, the
 * threshold best on the other nine folds is applied to it; mean and population std of the ten
 * accuracies. Unlike DCQ's script (squared L2 on a 0..4 grid of step 0.01) the threshold search
 * is exact over cosine scores (midpoints between distinct sorted scores), see eval.h.
 * TAR@FAR 1e-3 and 1e-2 come from the ROC over all pairs (genuine exact, impostors binned).
 * Cost: M*D for the scores, 10 sorts of 0.9*M scores.
 */
#include "eval.h"

#include <math.h>
#include <stdlib.h>

struct scored {
    float s;
    int same;
};

static int cmp_scored(const void *a, const void *b)
{
    float x = ((const struct scored *)a)->s, y = ((const struct scored *)b)->s;
    return (x > y) - (x < y);
}

static double dot_unit(const float *a, const float *b, int64_t d)
{
    double ab = 0, aa = 0, bb = 0;
    for (int64_t k = 0; k < d; k++) {
        ab += (double)a[k] * b[k];
        aa += (double)a[k] * a[k];
        bb += (double)b[k] * b[k];
    }
    return ab / sqrt(aa * bb);
}

/* Best threshold on v[0..n) sorted ascending: accept iff score >= thr. Candidates: -inf (accept
 * all), midpoints between distinct neighbours, +inf. First best in ascending order. */
static double best_threshold(const struct scored *v, int64_t n)
{
    int64_t n_same = 0;
    for (int64_t i = 0; i < n; i++)
        n_same += v[i].same != 0;
    /* threshold below v[i]: rejected = v[0..i) -> correct = diff below + same at/above */
    int64_t diff_below = 0, same_below = 0, best = -1;
    double best_thr = -INFINITY;
    for (int64_t i = 0; i <= n; i++) {
        if (i > 0) {
            if (v[i - 1].same)
                same_below++;
            else
                diff_below++;
        }
        if (i > 0 && i < n && v[i - 1].s == v[i].s) continue; /* not a distinct cut */
        int64_t correct = diff_below + (n_same - same_below);
        if (correct > best) {
            best = correct;
            best_thr = i == 0   ? -INFINITY
                       : i == n ? INFINITY
                                : 0.5 * ((double)v[i - 1].s + (double)v[i].s);
        }
    }
    return best_thr;
}

void eval_lfw_free(struct eval_lfw *lfw)
{
    if (!lfw) return;
    eval_roc_free(&lfw->roc);
}

int eval_lfw_compute(struct eval_lfw *lfw, const struct eval_inputs *in, const struct eval_cfg *cfg,
                     struct dcqb_err *err)
{
    memset(lfw, 0, sizeof *lfw);
    const int64_t M = in->pairs_a.rows, D = in->pairs_a.cols;
    if (M < 10)
        return DCQB_FAIL(err, DCQB_EINVAL, "pairs: %lld pairs, need >= 10 for 10 folds",
                         (long long)M);
    lfw->n_pairs = M;
    /* one block: scores (M), fold scratch (M), genuine (M), impostor histogram */
    const size_t bytes = sizeof(struct scored) * 2 * (size_t)M + sizeof(float) * (size_t)M +
                         sizeof(uint64_t) * (size_t)cfg->n_bins + 64;
    char *mem = calloc(1, bytes);
    if (!mem) return DCQB_FAIL(err, DCQB_ENOMEM, "pairs: out of memory (%lld pairs)", (long long)M);
    struct scored *all = (struct scored *)mem, *tr = all + M;
    uint64_t *hist = (uint64_t *)(tr + M);
    float *gen = (float *)(hist + cfg->n_bins);
    int64_t n_gen = 0;
    for (int64_t i = 0; i < M; i++) {
        all[i].s = (float)dot_unit(in->pairs_a.x + (size_t)i * D, in->pairs_b.x + (size_t)i * D, D);
        all[i].same = in->pairs_same.x[i] != 0;
        if (all[i].same)
            gen[n_gen++] = all[i].s;
        else
            hist[eval_bin(all[i].s, cfg->n_bins)]++;
    }
    double sum = 0, sum_thr = 0;
    for (int f = 0; f < 10; f++) {
        int64_t nt = 0;
        for (int64_t i = 0; i < M; i++) {
            int fi = in->pairs_fold.x ? in->pairs_fold.x[i] : (int)(i * 10 / M);
            if (fi != f) tr[nt++] = all[i];
        }
        qsort(tr, (size_t)nt, sizeof *tr, cmp_scored);
        double thr = best_threshold(tr, nt);
        int64_t nf = 0, ok = 0;
        for (int64_t i = 0; i < M; i++) {
            int fi = in->pairs_fold.x ? in->pairs_fold.x[i] : (int)(i * 10 / M);
            if (fi != f) continue;
            nf++;
            ok += ((double)all[i].s >= thr) == all[i].same;
        }
        lfw->fold_thr[f] = thr;
        lfw->fold_acc[f] = nf ? (double)ok / (double)nf : NAN;
        sum += lfw->fold_acc[f];
        sum_thr += thr;
    }
    lfw->acc_mean = sum / 10.0;
    lfw->thr_mean = sum_thr / 10.0;
    double var = 0;
    for (int f = 0; f < 10; f++)
        var += (lfw->fold_acc[f] - lfw->acc_mean) * (lfw->fold_acc[f] - lfw->acc_mean);
    lfw->acc_std = sqrt(var / 10.0);
    lfw->tar_at_far_1e3 = lfw->tar_at_far_1e2 = NAN;
    int rc = DCQB_OK;
    if (n_gen > 0 && n_gen < M) {
        rc = eval_roc_build(&lfw->roc, gen, n_gen, hist, cfg->n_bins, err);
        if (rc == DCQB_OK) {
            lfw->tar_at_far_1e3 = eval_roc_tar_at_far(&lfw->roc, 1e-3, NULL);
            lfw->tar_at_far_1e2 = eval_roc_tar_at_far(&lfw->roc, 1e-2, NULL);
        }
    }
    free(mem);
    return rc;
}
