/* eval_io.c - the evaluation entry point eval_run: input validation, the fixed metric key list,
 * and every output file (metrics.json, TSV curves, MegaFace devkit JSON and .bin features).
 * Formats: docs/METHOD.md §4.1 (devkit files), docs/ARCHITECTURE.md §5 (flat metrics, TSV for
 * plots).
 */
#include "eval.h"
#include "fsutil.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "jsonw.h"
#include "ops.h"
#include "rundir.h"

#define B5(pre) pre "b1_2", pre "b3_5", pre "b6_10", pre "b11_50", pre "b51_plus"

const char *const eval_metric_keys[] = {
    "eval_schema", "tie_loose", "probe_pairs_as_impostors", "impostor_bins", "impostor_bin_width",
    /* MegaFace identification */
    "megaface_n_probe", "megaface_n_ids", "megaface_n_distractors", "megaface_trials",
    "megaface_rank1", "megaface_rank1_at_10", "megaface_rank1_at_100", "megaface_rank1_at_1000",
    "megaface_rank1_at_10000", "megaface_rank1_at_100000", "megaface_rank1_at_1000000",
    "megaface_cmc_rank1", "megaface_cmc_rank2", "megaface_cmc_rank3", "megaface_cmc_rank4",
    "megaface_cmc_rank5", "megaface_cmc_rank6", "megaface_cmc_rank7", "megaface_cmc_rank8",
    "megaface_cmc_rank9", "megaface_cmc_rank10",
    /* MegaFace verification at the largest size */
    "megaface_n_genuine", "megaface_n_impostor", "tar_at_far_1e-3", "tar_at_far_1e-4",
    "tar_at_far_1e-5", "tar_at_far_1e-6", "thr_at_far_1e-3", "thr_at_far_1e-4", "thr_at_far_1e-5",
    "thr_at_far_1e-6", "far_1e-3_resolvable", "far_1e-4_resolvable", "far_1e-5_resolvable",
    "far_1e-6_resolvable",
    /* LFW-style */
    "lfw_n_pairs", "lfw_acc_mean", "lfw_acc_std", "lfw_threshold_mean", "lfw_tar_at_far_1e-3",
    "lfw_tar_at_far_1e-2", "lfw_far_1e-3_resolvable", "lfw_far_1e-2_resolvable",
    /* tail */
    "tail_n_holdout", "tail_n_classes", "tail_acc_mean_all", "tail_acc_weight_all", "tail_cos_all",
    B5("tail_acc_mean_"), B5("tail_acc_weight_"), B5("tail_cos_"), B5("tail_n_classes_"),
    B5("tail_n_holdout_"),
    /* rank-1 at the largest size with each network (null without an EMA network), and the
     * validation split's rank-1 with the evaluated network */
    "megaface_rank1_online", "megaface_rank1_ema", "val_n_distractors", "val_rank1", NULL};

static const double far_targets[EVAL_N_FAR] = {1e-3, 1e-4, 1e-5, 1e-6};
static const char *const far_names[EVAL_N_FAR] = {"1e-3", "1e-4", "1e-5", "1e-6"};

void eval_cfg_default(struct eval_cfg *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->tie = EVAL_TIE_STRICT;
    cfg->n_bins = 200000;
    cfg->block_probe = 256;
    cfg->block_distractor = 2048;
}

double eval_summary_get(const struct eval_summary *sum, const char *key)
{
    for (int i = 0; i < sum->n_keys; i++)
        if (strcmp(eval_metric_keys[i], key) == 0) return sum->v[i];
    return NAN;
}

static void sum_set(struct eval_summary *sum, const char *key, double v)
{
    for (int i = 0; i < sum->n_keys; i++)
        if (strcmp(eval_metric_keys[i], key) == 0) {
            sum->v[i] = v;
            return;
        }
    assert(0 && "metric key missing from eval_metric_keys");
}

/* ---- validation ----------------------------------------------------------------------------- */

static int check_mat(const struct eval_mat *m, const char *name, int64_t rows, int64_t cols,
                     int allow_zero_rows, struct dcqb_err *err)
{
    if (!m->x) return DCQB_FAIL(err, DCQB_EINVAL, "%s: missing", name);
    if (m->rows < 1 || m->cols < 1)
        return DCQB_FAIL(err, DCQB_EINVAL, "%s: empty (%lld x %lld)", name, (long long)m->rows,
                         (long long)m->cols);
    if (rows >= 0 && m->rows != rows)
        return DCQB_FAIL(err, DCQB_EINVAL, "%s: %lld rows, expected %lld", name, (long long)m->rows,
                         (long long)rows);
    if (cols >= 0 && m->cols != cols)
        return DCQB_FAIL(err, DCQB_EINVAL, "%s: dimension %lld, expected %lld (as the %s)", name,
                         (long long)m->cols, (long long)cols,
                         "first embedding matrix of this part");
    if (m->cols > INT32_MAX || m->rows > INT32_MAX * 64LL)
        return DCQB_FAIL(err, DCQB_EINVAL, "%s: too large (%lld x %lld)", name, (long long)m->rows,
                         (long long)m->cols);
    for (int64_t i = 0; i < m->rows; i++) {
        const float *r = m->x + (size_t)i * m->cols;
        int nonzero = 0;
        for (int64_t k = 0; k < m->cols; k++) {
            if (!isfinite(r[k]))
                return DCQB_FAIL(err, DCQB_EINVAL, "%s: non-finite value %g at row %lld col %lld",
                                 name, (double)r[k], (long long)i, (long long)k);
            nonzero |= r[k] != 0.0f;
        }
        if (!nonzero && !allow_zero_rows)
            return DCQB_FAIL(err, DCQB_EINVAL, "%s: row %lld is all zeros (no direction)", name,
                             (long long)i);
    }
    return DCQB_OK;
}

static int check_vec(const struct eval_vec *v, const char *name, int64_t n, int32_t lo, int32_t hi,
                     struct dcqb_err *err)
{
    if (!v->x) return DCQB_FAIL(err, DCQB_EINVAL, "%s: missing", name);
    if (v->n != n)
        return DCQB_FAIL(err, DCQB_EINVAL, "%s: %lld entries, expected %lld (one per row)", name,
                         (long long)v->n, (long long)n);
    for (int64_t i = 0; i < n; i++)
        if (v->x[i] < lo || v->x[i] > hi)
            return DCQB_FAIL(err, DCQB_EINVAL, "%s: entry %lld = %d not in [%d, %d]", name,
                             (long long)i, (int)v->x[i], (int)lo, (int)hi);
    return DCQB_OK;
}

int eval_inputs_check(const struct eval_inputs *in, struct dcqb_err *err)
{
    int rc;
    if (!in->probe.x && !in->pairs_a.x && !in->holdout.x)
        return DCQB_FAIL(err, DCQB_EINVAL, "nothing to evaluate: give probes, pairs or held-out");
    if (in->probe.x) {
        const int64_t P = in->probe.rows, D = in->probe.cols;
        if ((rc = check_mat(&in->probe, "probe", -1, -1, 0, err)) ||
            (rc = check_vec(&in->probe_labels, "probe-labels", P, INT32_MIN, INT32_MAX, err)) ||
            (rc = check_mat(&in->distractors, "distractors", -1, D, 0, err)))
            return rc;
    }
    if (in->pairs_a.x) {
        const int64_t M = in->pairs_a.rows, D = in->pairs_a.cols;
        if ((rc = check_mat(&in->pairs_a, "pairs-a", -1, -1, 0, err)) ||
            (rc = check_mat(&in->pairs_b, "pairs-b", M, D, 0, err)) ||
            (rc = check_vec(&in->pairs_same, "pairs-same", M, 0, 1, err)))
            return rc;
        if (M < 10)
            return DCQB_FAIL(err, DCQB_EINVAL, "pairs-a: %lld pairs, need >= 10 for 10 folds",
                             (long long)M);
        if (in->pairs_fold.x) {
            if ((rc = check_vec(&in->pairs_fold, "pairs-fold", M, 0, 9, err))) return rc;
            int64_t cnt[10] = {0};
            for (int64_t i = 0; i < M; i++)
                cnt[in->pairs_fold.x[i]]++;
            for (int f = 0; f < 10; f++)
                if (!cnt[f]) return DCQB_FAIL(err, DCQB_EINVAL, "pairs-fold: fold %d empty", f);
        }
    }
    if (in->holdout.x) {
        const int64_t H = in->holdout.rows, D = in->holdout.cols, C = in->class_means.rows;
        if ((rc = check_mat(&in->holdout, "holdout", -1, -1, 0, err)) ||
            (rc = check_mat(&in->class_means, "class-means", -1, D, 1, err)) ||
            (rc = check_vec(&in->class_sizes, "class-sizes", C, 0, INT32_MAX, err)) ||
            (rc = check_vec(&in->holdout_labels, "holdout-labels", H, 0, (int32_t)(C - 1), err)))
            return rc;
        if (C > INT32_MAX)
            return DCQB_FAIL(err, DCQB_EINVAL, "class-means: %lld classes", (long long)C);
        if (in->class_weights.x &&
            (rc = check_mat(&in->class_weights, "class-weights", C, D, 1, err)))
            return rc;
    }
    if (in->val_probe.x) {
        const int64_t P = in->val_probe.rows, D = in->val_probe.cols;
        if ((rc = check_mat(&in->val_probe, "val-probe", -1, -1, 0, err)) ||
            (rc = check_vec(&in->val_probe_labels, "val-probe-labels", P, INT32_MIN, INT32_MAX,
                            err)) ||
            (rc = check_mat(&in->val_distractors, "val-distractors", -1, D, 0, err)))
            return rc;
    }
    for (int net = 0; net < 2; net++) {
        const struct eval_mat *p = net ? &in->probe_ema : &in->probe_online;
        const struct eval_mat *d = net ? &in->distractors_ema : &in->distractors_online;
        if (!p->x) continue;
        if (!in->probe.x)
            return DCQB_FAIL(err, DCQB_EINVAL, "probe-%s: given without the probes",
                             net ? "ema" : "online");
        if ((rc = check_mat(p, net ? "probe-ema" : "probe-online", in->probe.rows, -1, 0, err)) ||
            (rc = check_mat(d, net ? "distractors-ema" : "distractors-online",
                            in->distractors.rows, p->cols, 0, err)))
            return rc;
    }
    return DCQB_OK;
}

/* ---- output helpers ------------------------------------------------------------------------- */

static FILE *open_out(const char *dir, const char *name, char *path, size_t n, struct dcqb_err *err)
{
    if (snprintf(path, n, "%s/%s", dir, name) >= (int)n) {
        DCQB_FAIL(err, DCQB_EINVAL, "output path too long: %s/%s", dir, name);
        return NULL;
    }
    FILE *f = fopen(path, "w");
    if (!f) DCQB_FAIL(err, DCQB_EIO, "%s: cannot write: %s", path, strerror(errno));
    return f;
}

static int close_out(FILE *f, const char *path, struct dcqb_err *err)
{
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) return DCQB_FAIL(err, DCQB_EIO, "%s: write failed", path);
    return DCQB_OK;
}

int eval_devkit_write_bin(const char *path, const float *x, int n, struct dcqb_err *err)
{
    unsigned char hdr[16];
    const int32_t h[4] = {n, 1, 4, 5};
    for (int i = 0; i < 4; i++)
        for (int b = 0; b < 4; b++)
            hdr[4 * i + b] = (unsigned char)((uint32_t)h[i] >> (8 * b));
    FILE *f = fopen(path, "wb");
    if (!f) return DCQB_FAIL(err, DCQB_EIO, "%s: cannot write: %s", path, strerror(errno));
    fwrite(hdr, 1, sizeof hdr, f);
    for (int i = 0; i < n; i++) { /* explicit little endian, whatever the host */
        uint32_t u;
        memcpy(&u, &x[i], 4);
        unsigned char b[4] = {(unsigned char)u, (unsigned char)(u >> 8), (unsigned char)(u >> 16),
                              (unsigned char)(u >> 24)};
        fwrite(b, 1, 4, f);
    }
    return close_out(f, path, err);
}

/* Log-spaced FAR grid from 1/n_imp to 1: about 2000 points, TAR/threshold interpolated. */
#define ROC_POINTS 2000
static void roc_grid(const struct eval_roc *roc, double *far, double *tar, double *thr, int *n)
{
    *n = 0;
    if (!roc->n_impostor) return;
    const double lo = log10(1.0 / (double)roc->n_impostor);
    for (int i = 0; i < ROC_POINTS; i++) {
        double f = pow(10.0, lo + (0.0 - lo) * i / (ROC_POINTS - 1));
        if (i == 0) f = 1.0 / (double)roc->n_impostor;
        if (i == ROC_POINTS - 1) f = 1.0;
        far[*n] = f;
        tar[*n] = eval_roc_tar_at_far(roc, f, &thr[*n]);
        (*n)++;
    }
}

static int write_roc_tsv(const char *dir, const char *name, const struct eval_roc *roc,
                         struct dcqb_err *err)
{
    char path[1100];
    double far[ROC_POINTS], tar[ROC_POINTS], thr[ROC_POINTS]; /* 48 KB of stack */
    int n;
    FILE *f = open_out(dir, name, path, sizeof path, err);
    if (!f) return err ? err->code : DCQB_EIO;
    roc_grid(roc, far, tar, thr, &n);
    fprintf(f, "far\ttar\tthreshold\n");
    for (int i = 0; i < n; i++)
        fprintf(f, "%.6e\t%.8f\t%.6f\n", far[i], tar[i], thr[i]);
    return close_out(f, path, err);
}

static int write_devkit(const char *dir, const char *alg, const struct eval_megaface *mf,
                        const struct eval_roc *rocs, struct dcqb_err *err)
{
    double far[ROC_POINTS], tar[ROC_POINTS], thr[ROC_POINTS]; /* 48 KB of stack */
    char name[256], path[1400];
    for (int s = 0; s < mf->n_sizes; s++) {
        snprintf(name, sizeof name, "cmc_facescrub_megaface_%s_%lld_1.json", alg,
                 (long long)mf->sizes[s]);
        FILE *f = open_out(dir, name, path, sizeof path, err);
        if (!f) return err ? err->code : DCQB_EIO;
        fprintf(f, "{\"cmc\": [[");
        for (int r = 0; r < EVAL_MAX_RANK; r++)
            fprintf(f, "%s%d", r ? ", " : "", r);
        fprintf(f, "], [");
        for (int r = 0; r < EVAL_MAX_RANK; r++)
            fprintf(f, "%s%.10g", r ? ", " : "", mf->cmc[s][r]);
        int n;
        roc_grid(&rocs[s], far, tar, thr, &n);
        fprintf(f, "]],\n \"roc\": [[");
        for (int i = 0; i < n; i++)
            fprintf(f, "%s%.10g", i ? ", " : "", far[i]);
        fprintf(f, "], [");
        for (int i = 0; i < n; i++)
            fprintf(f, "%s%.10g", i ? ", " : "", isfinite(tar[i]) ? tar[i] : 0.0);
        fprintf(f, "]]}\n");
        int rc = close_out(f, path, err);
        if (rc) return rc;
    }
    return DCQB_OK;
}

/* devkit/facescrub/<i>_<alg>.bin, devkit/megaface/<j>_<alg>.bin and the feature lists. */
static int write_devkit_features(const char *dir, const char *alg, const struct eval_inputs *in,
                                 const struct eval_megaface *mf, int64_t n_dis,
                                 struct dcqb_err *err)
{
    char sub[1100], path[1400];
    const int64_t D = in->probe.cols;
    int rc;
    float *row = malloc(sizeof(float) * (size_t)D);
    if (!row) return DCQB_FAIL(err, DCQB_ENOMEM, "devkit: out of memory");
    for (int part = 0; part < 2; part++) {
        snprintf(sub, sizeof sub, "%s/devkit/%s", dir, part ? "megaface" : "facescrub");
        if ((rc = fs_mkdir_p(sub, err))) goto done;
        const int64_t n = part ? n_dis : in->probe.rows;
        for (int64_t i = 0; i < n; i++) {
            const float *x;
            if (part) {
                l2norm_forward(row, NULL, in->distractors.x + (size_t)i * D, 1, (int)D,
                               L2NORM_F64_EXACT);
                x = row;
            } else {
                x = mf->probe_n + (size_t)i * D;
            }
            snprintf(path, sizeof path, "%s/%lld_%s.bin", sub, (long long)i, alg);
            if ((rc = eval_devkit_write_bin(path, x, (int)D, err))) goto done;
        }
    }
    snprintf(sub, sizeof sub, "%s/devkit", dir);
    FILE *f = open_out(sub, "facescrub_features_list.json", path, sizeof path, err);
    if (!f) {
        rc = err ? err->code : DCQB_EIO;
        goto done;
    }
    fprintf(f, "{\"path\": [");
    for (int64_t i = 0; i < in->probe.rows; i++)
        fprintf(f, "%s\"facescrub/%lld\"", i ? ", " : "", (long long)i);
    fprintf(f, "],\n \"id\": [");
    for (int64_t i = 0; i < in->probe.rows; i++)
        fprintf(f, "%s\"%d\"", i ? ", " : "", (int)in->probe_labels.x[i]);
    fprintf(f, "]}\n");
    if ((rc = close_out(f, path, err))) goto done;
    for (int s = 0; s < mf->n_sizes; s++) {
        char name[128];
        snprintf(name, sizeof name, "megaface_features_list.json_%lld_1", (long long)mf->sizes[s]);
        f = open_out(sub, name, path, sizeof path, err);
        if (!f) {
            rc = err ? err->code : DCQB_EIO;
            goto done;
        }
        fprintf(f, "{\"path\": [");
        for (int64_t i = 0; i < mf->sizes[s]; i++)
            fprintf(f, "%s\"megaface/%lld\"", i ? ", " : "", (long long)i);
        fprintf(f, "]}\n");
        if ((rc = close_out(f, path, err))) goto done;
    }
done:
    free(row);
    return rc;
}

/* ---- eval_run ------------------------------------------------------------------------------- */

/* Every key null (NaN) but the run-level ones: schema, tie rule, impostor binning. */
static void summary_start(struct eval_summary *sum, const struct eval_cfg *cfg)
{
    memset(sum, 0, sizeof *sum);
    while (eval_metric_keys[sum->n_keys])
        sum->v[sum->n_keys++] = NAN;
    assert(sum->n_keys <= EVAL_MAX_KEYS);
    sum_set(sum, "eval_schema", 1);
    sum_set(sum, "tie_loose", cfg->tie == EVAL_TIE_LOOSE);
    sum_set(sum, "probe_pairs_as_impostors", cfg->probe_pairs_as_impostors != 0);
    sum_set(sum, "impostor_bins", (double)cfg->n_bins);
    sum_set(sum, "impostor_bin_width", 2.0 / (double)cfg->n_bins);
}

/* The megaface_* and verification keys: CMC at the largest ladder size, rank-1 per size,
 * TAR/threshold at the fixed FARs on the largest size's ROC. */
static void megaface_keys(struct eval_summary *sum, const struct eval_inputs *in,
                          const struct eval_megaface *mf, const struct eval_roc *rocs)
{
    const int L = mf->n_sizes, top = L - 1;
    char key[64];
    sum_set(sum, "megaface_n_probe", (double)in->probe.rows);
    sum_set(sum, "megaface_n_ids", (double)mf->n_ids);
    sum_set(sum, "megaface_n_distractors", (double)mf->sizes[top]);
    sum_set(sum, "megaface_trials", (double)mf->trials);
    sum_set(sum, "megaface_rank1", mf->cmc[top][0]);
    for (int64_t s10 = 10; s10 <= 1000000; s10 *= 10) {
        snprintf(key, sizeof key, "megaface_rank1_at_%lld", (long long)s10);
        for (int s = 0; s < L; s++)
            if (mf->sizes[s] == s10) sum_set(sum, key, mf->cmc[s][0]);
    }
    for (int r = 1; r <= EVAL_MAX_RANK; r++) {
        snprintf(key, sizeof key, "megaface_cmc_rank%d", r);
        sum_set(sum, key, mf->cmc[top][r - 1]);
    }
    sum_set(sum, "megaface_n_genuine", (double)mf->n_genuine);
    sum_set(sum, "megaface_n_impostor", (double)mf->n_impostor[top]);
    for (int i = 0; i < EVAL_N_FAR; i++) {
        double thr;
        double tar = eval_roc_tar_at_far(&rocs[top], far_targets[i], &thr);
        snprintf(key, sizeof key, "tar_at_far_%s", far_names[i]);
        sum_set(sum, key, tar);
        snprintf(key, sizeof key, "thr_at_far_%s", far_names[i]);
        sum_set(sum, key, thr);
        snprintf(key, sizeof key, "far_%s_resolvable", far_names[i]);
        sum_set(sum, key, isfinite(tar) ? 1 : 0);
    }
}

/* cmc.tsv, rank1_vs_size.tsv, roc.tsv and, with cfg->devkit_alg, the devkit files. */
static int write_megaface(const char *outdir, const struct eval_cfg *cfg,
                          const struct eval_inputs *in, const struct eval_megaface *mf,
                          const struct eval_roc *rocs, struct dcqb_err *err)
{
    const int L = mf->n_sizes, top = L - 1;
    char path[1100];
    FILE *f;
    int rc;
    if (!(f = open_out(outdir, "cmc.tsv", path, sizeof path, err)))
        return err ? err->code : DCQB_EIO;
    fprintf(f, "size\trank\trate\n");
    for (int s = 0; s < L; s++)
        for (int r = 1; r <= EVAL_MAX_RANK; r++)
            fprintf(f, "%lld\t%d\t%.8f\n", (long long)mf->sizes[s], r, mf->cmc[s][r - 1]);
    if ((rc = close_out(f, path, err))) return rc;
    if (!(f = open_out(outdir, "rank1_vs_size.tsv", path, sizeof path, err)))
        return err ? err->code : DCQB_EIO;
    fprintf(f, "size\trank1\ttrials\n");
    for (int s = 0; s < L; s++)
        fprintf(f, "%lld\t%.8f\t%lld\n", (long long)mf->sizes[s], mf->cmc[s][0],
                (long long)mf->trials);
    if ((rc = close_out(f, path, err))) return rc;
    if ((rc = write_roc_tsv(outdir, "roc.tsv", &rocs[top], err))) return rc;
    if (cfg->devkit_alg) {
        if ((rc = write_devkit(outdir, cfg->devkit_alg, mf, rocs, err))) return rc;
        if (cfg->devkit_features &&
            (rc = write_devkit_features(outdir, cfg->devkit_alg, in, mf, mf->sizes[top], err)))
            return rc;
    }
    return DCQB_OK;
}

/* MegaFace: the streamed pass, one ROC per ladder size, the keys and the files. mf and rocs
 * are the caller's to free, also on failure. */
static int megaface_part(struct eval_summary *sum, struct eval_megaface *mf,
                         struct eval_roc *rocs, const struct eval_inputs *in,
                         const struct eval_cfg *cfg, const char *outdir, struct dcqb_err *err)
{
    int rc;
    sum->has_megaface = 1;
    if ((rc = eval_megaface_compute(mf, in, cfg, err))) return rc;
    for (int s = 0; s < mf->n_sizes; s++)
        if ((rc = eval_roc_build(&rocs[s], mf->genuine, mf->n_genuine,
                                 mf->imp_hist + (size_t)s * mf->n_bins, mf->n_bins, err)))
            return rc;
    megaface_keys(sum, in, mf, rocs);
    return write_megaface(outdir, cfg, in, mf, rocs, err);
}

/* The rank-1 of each network given (megaface_rank1 itself where the matrices are the main ones)
 * and of the validation split. */
static int rank1_part(struct eval_summary *sum, const struct eval_megaface *mf,
                      const struct eval_inputs *in, const struct eval_cfg *cfg,
                      struct dcqb_err *err)
{
    int rc;
    double r1;
    for (int net = 0; net < 2; net++) {
        const struct eval_mat *p = net ? &in->probe_ema : &in->probe_online;
        const struct eval_mat *d = net ? &in->distractors_ema : &in->distractors_online;
        if (!p->x) continue;
        if (p->x == in->probe.x && d->x == in->distractors.x) r1 = mf->cmc[mf->n_sizes - 1][0];
        else if ((rc = eval_megaface_rank1(&r1, p, in->probe_labels.x, d, cfg, err))) return rc;
        sum_set(sum, net ? "megaface_rank1_ema" : "megaface_rank1_online", r1);
    }
    if (in->val_probe.x) {
        struct eval_cfg vc = *cfg;
        vc.max_distractors = 0;
        if ((rc = eval_megaface_rank1(&r1, &in->val_probe, in->val_probe_labels.x,
                                      &in->val_distractors, &vc, err)))
            return rc;
        sum_set(sum, "val_rank1", r1);
        sum_set(sum, "val_n_distractors", (double)in->val_distractors.rows);
    }
    return DCQB_OK;
}

/* LFW-style: the lfw_* keys, lfw_folds.tsv and lfw_roc.tsv. lfw is the caller's to free. */
static int lfw_part(struct eval_summary *sum, struct eval_lfw *lfw, const struct eval_inputs *in,
                    const struct eval_cfg *cfg, const char *outdir, struct dcqb_err *err)
{
    char path[1100];
    FILE *f;
    int rc;
    sum->has_lfw = 1;
    if ((rc = eval_lfw_compute(lfw, in, cfg, err))) return rc;
    sum_set(sum, "lfw_n_pairs", (double)lfw->n_pairs);
    sum_set(sum, "lfw_acc_mean", lfw->acc_mean);
    sum_set(sum, "lfw_acc_std", lfw->acc_std);
    sum_set(sum, "lfw_threshold_mean", lfw->thr_mean);
    sum_set(sum, "lfw_tar_at_far_1e-3", lfw->tar_at_far_1e3);
    sum_set(sum, "lfw_tar_at_far_1e-2", lfw->tar_at_far_1e2);
    sum_set(sum, "lfw_far_1e-3_resolvable", isfinite(lfw->tar_at_far_1e3) ? 1 : 0);
    sum_set(sum, "lfw_far_1e-2_resolvable", isfinite(lfw->tar_at_far_1e2) ? 1 : 0);
    if (!(f = open_out(outdir, "lfw_folds.tsv", path, sizeof path, err)))
        return err ? err->code : DCQB_EIO;
    fprintf(f, "fold\tthreshold\taccuracy\n");
    for (int k = 0; k < 10; k++)
        fprintf(f, "%d\t%.8f\t%.8f\n", k, lfw->fold_thr[k], lfw->fold_acc[k]);
    if ((rc = close_out(f, path, err))) return rc;
    if (lfw->roc.n && (rc = write_roc_tsv(outdir, "lfw_roc.tsv", &lfw->roc, err))) return rc;
    return DCQB_OK;
}

/* Tail diagnostics: the tail_* keys (all and per size bucket) and tail.tsv. */
static int tail_part(struct eval_summary *sum, const struct eval_inputs *in, const char *outdir,
                     struct dcqb_err *err)
{
    struct eval_tail tail;
    char path[1100], key[64];
    FILE *f;
    int rc;
    sum->has_tail = 1;
    if ((rc = eval_tail_compute(&tail, in, err))) return rc;
    sum_set(sum, "tail_n_holdout", (double)tail.n_holdout);
    sum_set(sum, "tail_n_classes", (double)tail.n_classes);
    sum_set(sum, "tail_acc_mean_all", tail.acc_mean_all);
    sum_set(sum, "tail_acc_weight_all", tail.acc_weight_all);
    sum_set(sum, "tail_cos_all", tail.cos_wm_all);
    if (!(f = open_out(outdir, "tail.tsv", path, sizeof path, err)))
        return err ? err->code : DCQB_EIO;
    fprintf(f, "bucket\tn_classes\tn_holdout\tacc_mean\tacc_weight\tcos_weight_mean\n");
    for (int b = 0; b < EVAL_N_BUCKETS; b++) {
        const char *bn = eval_bucket_names[b];
#define TAILKEY(pre, val) (snprintf(key, sizeof key, pre "%s", bn), sum_set(sum, key, (val)))
        TAILKEY("tail_acc_mean_", tail.acc_mean[b]);
        TAILKEY("tail_acc_weight_", tail.acc_weight[b]);
        TAILKEY("tail_cos_", tail.cos_wm[b]);
        TAILKEY("tail_n_classes_", (double)tail.b_classes[b]);
        TAILKEY("tail_n_holdout_", (double)tail.b_holdout[b]);
#undef TAILKEY
        fprintf(f, "%s\t%lld\t%lld\t%.8f\t%.8f\t%.8f\n", bn, (long long)tail.b_classes[b],
                (long long)tail.b_holdout[b], tail.acc_mean[b], tail.acc_weight[b],
                tail.cos_wm[b]);
    }
    return close_out(f, path, err);
}

int eval_run(const struct eval_inputs *in, const struct eval_cfg *cfg, const char *outdir,
             struct eval_summary *sum_out, struct dcqb_err *err)
{
    struct eval_summary sum;
    struct eval_megaface mf;
    struct eval_lfw lfw;
    struct eval_roc rocs[EVAL_MAX_LADDER];
    memset(&mf, 0, sizeof mf);
    memset(&lfw, 0, sizeof lfw);
    memset(rocs, 0, sizeof rocs);

    int rc;
    if (cfg->n_bins < 100000 || cfg->n_bins > (1LL << 30))
        return DCQB_FAIL(err, DCQB_EINVAL, "bins: %lld, need 1e5 .. 2^30", (long long)cfg->n_bins);
    if (cfg->tie != EVAL_TIE_STRICT && cfg->tie != EVAL_TIE_LOOSE)
        return DCQB_FAIL(err, DCQB_EINVAL, "tie: unknown rule %d", cfg->tie);
    if ((rc = eval_inputs_check(in, err))) return rc;
    if ((rc = fs_mkdir_p(outdir, err))) return rc;

    summary_start(&sum, cfg);
    if (in->probe.x && (rc = megaface_part(&sum, &mf, rocs, in, cfg, outdir, err))) goto done;
    if ((rc = rank1_part(&sum, &mf, in, cfg, err))) goto done;
    if (in->pairs_a.x && (rc = lfw_part(&sum, &lfw, in, cfg, outdir, err))) goto done;
    if (in->holdout.x && (rc = tail_part(&sum, in, outdir, err))) goto done;

    /* metrics.json last: its presence means the evaluation finished */
    if ((rc = rundir_metrics_write(outdir, eval_metric_keys, sum.v, sum.n_keys, err))) goto done;
    if (sum_out) *sum_out = sum;
    rc = DCQB_OK;
done:
    for (int s = 0; s < EVAL_MAX_LADDER; s++)
        eval_roc_free(&rocs[s]);
    eval_megaface_free(&mf);
    eval_lfw_free(&lfw);
    return rc;
}
