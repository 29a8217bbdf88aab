/* eval_roc.c - the ROC from exact genuine scores and binned impostor counts, and TAR at a
 * target FAR on it (docs/METHOD.md §4.2; binning and resolvability: see eval.h). Shared by
 * MegaFace verification (eval_megaface.c's histograms) and the LFW-style ROC (eval_lfw.c). */
#include "eval.h"

#include <math.h>
#include <stdlib.h>

void eval_roc_free(struct eval_roc *roc)
{
    if (!roc) return;
    free(roc->far);
    memset(roc, 0, sizeof *roc);
}

int eval_roc_build(struct eval_roc *roc, const float *genuine, int64_t n_genuine,
                   const uint64_t *imp_hist, int64_t n_bins, struct dcqb_err *err)
{
    memset(roc, 0, sizeof *roc);
    if (n_bins < 1 || n_genuine < 1)
        return DCQB_FAIL(err, DCQB_EINVAL, "roc: need >= 1 genuine score and >= 1 bin");
    /* one block: far, tar, thr (n_bins + 1 each) and genuine bin counts */
    const size_t m = (size_t)n_bins + 1;
    double *mem = malloc(sizeof(double) * 3 * m + sizeof(uint64_t) * (size_t)n_bins);
    if (!mem)
        return DCQB_FAIL(err, DCQB_ENOMEM, "roc: out of memory (%lld bins)", (long long)n_bins);
    roc->far = mem;
    roc->tar = mem + m;
    roc->thr = mem + 2 * m;
    uint64_t *gh = (uint64_t *)(mem + 3 * m);
    memset(gh, 0, sizeof(uint64_t) * (size_t)n_bins);
    for (int64_t i = 0; i < n_genuine; i++)
        gh[eval_bin(genuine[i], n_bins)]++;
    uint64_t n_imp = 0;
    for (int64_t b = 0; b < n_bins; b++)
        n_imp += imp_hist[b];
    roc->n_impostor = n_imp;
    roc->n_genuine = n_genuine;
    /* threshold edge k = n_bins .. 0: accept iff bin >= k. Emit a point when a count changes. */
    uint64_t ci = 0, cg = 0;
    int64_t n = 0;
    for (int64_t k = n_bins; k >= 0; k--) {
        if (k < n_bins) {
            ci += imp_hist[k];
            cg += gh[k];
            if (imp_hist[k] == 0 && gh[k] == 0) continue;
        }
        roc->far[n] = n_imp ? (double)ci / (double)n_imp : 0.0;
        roc->tar[n] = (double)cg / (double)n_genuine;
        roc->thr[n] = -1.0 + 2.0 * (double)k / (double)n_bins;
        n++;
    }
    roc->n = n;
    return DCQB_OK;
}

double eval_roc_tar_at_far(const struct eval_roc *roc, double far, double *thr)
{
    if (thr) *thr = NAN;
    if (roc->n_impostor == 0 || roc->n < 1 || far < 1.0 / (double)roc->n_impostor || far > 1.0)
        return NAN;
    /* first point with FAR > far; the one before has FAR <= far and the largest TAR there */
    int64_t lo = 0, hi = roc->n; /* far[] is non-decreasing: binary search, O(log n) */
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (roc->far[mid] <= far)
            lo = mid + 1;
        else
            hi = mid;
    }
    const int64_t j = lo;
    const int64_t a = j - 1;
    if (j == roc->n || roc->far[a] == far) {
        if (thr) *thr = roc->thr[a];
        return roc->tar[a];
    }
    const double w = (far - roc->far[a]) / (roc->far[j] - roc->far[a]);
    if (thr) *thr = roc->thr[a] + w * (roc->thr[j] - roc->thr[a]);
    return roc->tar[a] + w * (roc->tar[j] - roc->tar[a]);
}
