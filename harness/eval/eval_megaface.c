/* eval_megaface.c - MegaFace Challenge 1 identification (CMC over the distractor ladder) and
 * the verification scores (exact genuine scores, impostor histograms per ladder size; the ROC
 * on them is eval_roc.c) on embedding matrices, docs/METHOD.md §4.1-§4.2.
 *
 * One streamed pass over the distractors: the (P, N) score matrix (14 GB at 3.5K x 1M) is never
 * formed. Per distractor block, sgemm gives a (Bp, Bd) score tile; the scan keeps each probe's
 * running top-10 distractor scores and counts every score into the impostor histogram. Blocks
 * never straddle a ladder size, so at each size the top-10 and the histogram are snapshotted:
 * the sizes are nested prefixes, so the snapshot is exactly the state for that size.
 * Then probe x probe scores give the trials (p, g): rank of g = number of distractors beating
 * sim(p, g), known exactly up to 10 from the snapshot. Tie rule and binning: see eval.h.
 */
#include "eval.h"

#include <math.h>
#include <stdlib.h>

#include <cblas.h>

#include "ops.h"

void eval_megaface_free(struct eval_megaface *mf)
{
    if (!mf) return;
    free(mf->mem);
    memset(mf, 0, sizeof *mf);
}

int eval_ladder(int64_t sizes[EVAL_MAX_LADDER], int64_t n)
{
    int k = 0;
    for (int64_t s = 10; s < n && k < EVAL_MAX_LADDER - 1; s *= 10)
        sizes[k++] = s;
    if (n > 0) sizes[k++] = n;
    return k;
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Carve `bytes` from the arena at *off, 64-byte aligned. */
static void *carve(char *base, size_t *off, size_t bytes)
{
    size_t o = (*off + 63) & ~(size_t)63;
    *off = o + bytes;
    return base ? base + o : NULL;
}

/* Number of the top-10 (sorted descending, -inf padded) that beat a gallery score s. */
static inline int n_beating(const float *top, float s, int tie)
{
    int k = 0;
    if (tie == EVAL_TIE_STRICT)
        while (k < EVAL_MAX_RANK && top[k] >= s)
            k++;
    else
        while (k < EVAL_MAX_RANK && top[k] > s)
            k++;
    return k;
}

/* Scan one (bp, bn) score tile: running top-10 per probe row and impostor counts (none when
 * hist is NULL: rank-1 only). Cost: bp*bn compares + bin computations; insertions are rare
 * after the first blocks. */
static void scan_tile(float *top, uint64_t *hist, int64_t n_bins, const float *s, int bp, int bn)
{
    for (int i = 0; i < bp; i++) {
        const float *row = s + (size_t)i * bn;
        float *t = top + (size_t)i * EVAL_MAX_RANK;
        float tmin = t[EVAL_MAX_RANK - 1];
        if (hist)
            for (int j = 0; j < bn; j++) hist[eval_bin(row[j], n_bins)]++;
        for (int j = 0; j < bn; j++) {
            float v = row[j];
            if (v > tmin) {
                int k = EVAL_MAX_RANK - 1;
                while (k > 0 && t[k - 1] < v) {
                    t[k] = t[k - 1];
                    k--;
                }
                t[k] = v;
                tmin = t[EVAL_MAX_RANK - 1];
            }
        }
    }
}

/* Identities from the sorted labels: mf->n_ids, trials and genuine-pair counts. */
static int count_identities(struct eval_megaface *mf, const int32_t *lab, int64_t P,
                            struct dcqb_err *err)
{
    int32_t *sorted = malloc(sizeof(int32_t) * (size_t)P);
    if (!sorted)
        return DCQB_FAIL(err, DCQB_ENOMEM, "megaface: out of memory (%lld labels)", (long long)P);
    memcpy(sorted, lab, sizeof(int32_t) * (size_t)P);
    qsort(sorted, (size_t)P, sizeof(int32_t), cmp_i32);
    for (int64_t i = 0; i < P;) {
        int64_t j = i;
        while (j < P && sorted[j] == sorted[i])
            j++;
        int64_t n = j - i;
        if (n < 2) {
            int32_t id = sorted[i];
            free(sorted);
            return DCQB_FAIL(err, DCQB_EINVAL,
                             "probe-labels: identity %d has 1 image; MegaFace needs >= 2 per id",
                             (int)id);
        }
        mf->n_ids++;
        mf->trials += n * (n - 1);
        mf->n_genuine += n * (n - 1) / 2;
        i = j;
    }
    free(sorted);
    return DCQB_OK;
}

/* The pass's shapes and its work space, carved from mf->mem. n_bins = 0: rank-1 only, no
 * impostor histograms. */
struct mf_work {
    int64_t P, D, N, n_bins;
    int Bp, Bd, L;
    float *probe_n, *dbuf, *sbuf, *top, *snap, *genuine;
    uint64_t *hist, *imp_hist;
};

/* One arena for the work space (mf->mem, freed by eval_megaface_free): sizes first (base NULL),
 * then carve for real. */
static int work_alloc(struct mf_work *w, struct eval_megaface *mf, struct dcqb_err *err)
{
    const int64_t P = w->P, D = w->D, n_bins = w->n_bins;
    const int Bp = w->Bp, Bd = w->Bd, L = w->L;
    const int64_t sw = Bd > P ? Bd : P;
    size_t off = 0;
    char *base = NULL;
    for (int pass = 0; pass < 2; pass++) {
        off = 0;
        w->probe_n = carve(base, &off, sizeof(float) * (size_t)(P * D));
        w->dbuf = carve(base, &off, sizeof(float) * (size_t)Bd * (size_t)D);
        w->sbuf = carve(base, &off, sizeof(float) * (size_t)Bp * (size_t)sw);
        w->top = carve(base, &off, sizeof(float) * (size_t)P * EVAL_MAX_RANK);
        w->snap = carve(base, &off, sizeof(float) * (size_t)L * (size_t)P * EVAL_MAX_RANK);
        w->hist = carve(base, &off, sizeof(uint64_t) * (size_t)n_bins);
        w->imp_hist = carve(base, &off, sizeof(uint64_t) * (size_t)L * (size_t)n_bins);
        w->genuine = carve(base, &off, sizeof(float) * (size_t)(mf->n_genuine + 1));
        if (pass == 0) {
            base = calloc(1, off + 64);
            if (!base)
                return DCQB_FAIL(err, DCQB_ENOMEM, "megaface: out of memory (%.1f MB work space)",
                                 off / 1e6);
        }
    }
    mf->mem = base;
    mf->probe_n = w->probe_n;
    mf->genuine = w->genuine;
    mf->imp_hist = w->imp_hist;
    return DCQB_OK;
}

/* Stream the distractors against the normalised probes: Bd rows at a time, clipped at ladder
 * sizes (FLOPs 2*P*N*D), snapshotting the top-10 and the histogram at each size. */
static void stream_distractors(struct eval_megaface *mf, const struct mf_work *w,
                               const struct eval_mat *dis)
{
    const int64_t P = w->P, D = w->D, N = w->N, n_bins = w->n_bins;
    const int Bp = w->Bp, Bd = w->Bd;
    float *top = w->top;
    for (int64_t i = 0; i < P * EVAL_MAX_RANK; i++)
        top[i] = -INFINITY;
    int li = 0;
    for (int64_t j0 = 0; j0 < N;) {
        int64_t j1 = j0 + Bd;
        if (j1 > mf->sizes[li]) j1 = mf->sizes[li];
        const int bn = (int)(j1 - j0);
        l2norm_forward(w->dbuf, NULL, dis->x + (size_t)j0 * D, bn, (int)D,
                       L2NORM_F64_EXACT);
        for (int64_t i0 = 0; i0 < P; i0 += Bp) {
            const int bp = (int)(P - i0 < Bp ? P - i0 : Bp);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, bp, bn, (int)D, 1.0f,
                        w->probe_n + (size_t)i0 * D, (int)D, w->dbuf, (int)D, 0.0f, w->sbuf, bn);
            scan_tile(top + (size_t)i0 * EVAL_MAX_RANK, n_bins ? w->hist : NULL, n_bins, w->sbuf,
                      bp, bn);
        }
        j0 = j1;
        if (j1 == mf->sizes[li]) {
            memcpy(w->snap + (size_t)li * P * EVAL_MAX_RANK, top,
                   sizeof(float) * P * EVAL_MAX_RANK);
            if (n_bins)
                memcpy(w->imp_hist + (size_t)li * n_bins, w->hist, sizeof(uint64_t) * n_bins);
            mf->n_impostor[li] = (uint64_t)P * (uint64_t)mf->sizes[li];
            li++;
        }
    }
}

/* Probe x probe: trials (p, g) use score S[p][g] and count, per ladder size, the distractors
 * beating it into hits; genuine pairs i < j use S[i][j]. Returns the genuine scores written. */
static int64_t score_trials(int64_t hits[EVAL_MAX_LADDER][EVAL_MAX_RANK + 1],
                            struct eval_megaface *mf, const struct mf_work *w, const int32_t *lab,
                            const struct eval_cfg *cfg)
{
    const int64_t P = w->P, D = w->D, n_bins = w->n_bins;
    const int Bp = w->Bp, L = w->L;
    float *sbuf = w->sbuf, *genuine = w->genuine;
    int64_t ng = 0;
    for (int64_t i0 = 0; i0 < P; i0 += Bp) {
        const int bp = (int)(P - i0 < Bp ? P - i0 : Bp);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, bp, (int)P, (int)D, 1.0f,
                    w->probe_n + (size_t)i0 * D, (int)D, w->probe_n, (int)D, 0.0f, sbuf, (int)P);
        for (int ii = 0; ii < bp; ii++) {
            const int64_t p = i0 + ii;
            const float *row = sbuf + (size_t)ii * P;
            for (int64_t g = 0; g < P; g++) {
                if (g == p) continue;
                const float s = row[g];
                if (lab[g] == lab[p]) {
                    for (int k = 0; k < L; k++) {
                        /* count < r for r = count+1 .. 10: record the count */
                        int c = n_beating(w->snap + ((size_t)k * P + p) * EVAL_MAX_RANK, s,
                                          cfg->tie);
                        hits[k][c]++;
                    }
                    if (g > p) genuine[ng++] = s;
                } else if (g > p && cfg->probe_pairs_as_impostors) {
                    const int64_t b = eval_bin(s, n_bins);
                    for (int k = 0; k < L; k++) {
                        w->imp_hist[(size_t)k * n_bins + b]++;
                        mf->n_impostor[k]++;
                    }
                }
            }
        }
    }
    return ng;
}

/* The pass of eval_megaface_compute on (probe, labels, dis); rank1_only: no impostor
 * histograms (and so no probe-pair impostors), the same blocks and so the same CMC. */
static int megaface_compute(struct eval_megaface *mf, const struct eval_mat *probe,
                            const int32_t *labels, const struct eval_mat *dis,
                            const struct eval_cfg *cfg_in, int rank1_only, struct dcqb_err *err)
{
    memset(mf, 0, sizeof *mf);
    struct eval_cfg cfg_copy = *cfg_in;
    const struct eval_cfg *cfg = &cfg_copy;
    if (rank1_only) {
        cfg_copy.n_bins = 0;
        cfg_copy.probe_pairs_as_impostors = 0;
    }
    const int64_t P = probe->rows, D = probe->cols;
    int64_t N = dis->rows;
    if (cfg->max_distractors > 0 && cfg->max_distractors < N) N = cfg->max_distractors;
    if (P < 2 || N < 1 || D < 1)
        return DCQB_FAIL(err, DCQB_EINVAL, "megaface: need >= 2 probes and >= 1 distractor");
    struct mf_work w;
    memset(&w, 0, sizeof w);
    w.P = P;
    w.D = D;
    w.N = N;
    w.n_bins = cfg->n_bins;
    w.Bp = cfg->block_probe > 0 ? cfg->block_probe : 256;
    w.Bd = cfg->block_distractor > 0 ? cfg->block_distractor : 2048;
    w.L = eval_ladder(mf->sizes, N);
    mf->n_sizes = w.L;
    mf->n_bins = w.n_bins;
    int rc;
    if ((rc = count_identities(mf, labels, P, err))) return rc;
    if ((rc = work_alloc(&w, mf, err))) return rc;

    l2norm_forward(w.probe_n, NULL, probe->x, P, (int)D, L2NORM_F64_EXACT);
    stream_distractors(mf, &w, dis);
    int64_t hits[EVAL_MAX_LADDER][EVAL_MAX_RANK + 1];
    memset(hits, 0, sizeof hits);
    const int64_t ng = score_trials(hits, mf, &w, labels, cfg);
    if (ng != mf->n_genuine)
        return DCQB_FAIL(err, DCQB_EINVAL, "megaface: internal genuine count %lld != %lld",
                         (long long)ng, (long long)mf->n_genuine);
    for (int k = 0; k < w.L; k++) {
        int64_t cum = 0;
        for (int r = 1; r <= EVAL_MAX_RANK; r++) {
            cum += hits[k][r - 1]; /* rank-r hit iff count < r, i.e. count <= r-1 */
            mf->cmc[k][r - 1] = (double)cum / (double)mf->trials;
        }
    }
    return DCQB_OK;
}

int eval_megaface_compute(struct eval_megaface *mf, const struct eval_inputs *in,
                          const struct eval_cfg *cfg, struct dcqb_err *err)
{
    return megaface_compute(mf, &in->probe, in->probe_labels.x, &in->distractors, cfg, 0, err);
}

int eval_megaface_rank1(double *rank1, const struct eval_mat *probe, const int32_t *labels,
                        const struct eval_mat *dis, const struct eval_cfg *cfg,
                        struct dcqb_err *err)
{
    struct eval_megaface mf;
    *rank1 = NAN;
    int rc = megaface_compute(&mf, probe, labels, dis, cfg, 1, err);
    if (!rc) *rank1 = mf.cmc[mf.n_sizes - 1][0];
    eval_megaface_free(&mf);
    return rc;
}
