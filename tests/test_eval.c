/* test_eval.c - the evaluation library (harness/eval_*.c) on hand-built embeddings with known
 * answers: MegaFace CMC (perfect separation, random vectors, streamed == brute force over block
 * and ladder sizes, the tie rule on constructed ties), TAR@FAR on constructed score sets (incl.
 * "not resolvable"), LFW 10-fold on a constructed case, tail buckets, refused inputs, devkit .bin
 * header bytes, and the CLI end to end on .npy files. */
#include "test_util.h"

#include <string.h>
#include <sys/stat.h>

#include "eval.h"
#include "npy.h"

/* ---- tiny deterministic generators ---------------------------------------------------------- */

static double unif(uint64_t *s)
{
    return (dcqb_splitmix64(s) >> 11) * (1.0 / 9007199254740992.0);
}

static double gauss(uint64_t *s)
{
    double u = unif(s), v = unif(s);
    if (u < 1e-300) u = 1e-300;
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

static void fill_gauss_unit(float *x, int64_t rows, int d, uint64_t *s)
{
    for (int64_t i = 0; i < rows; i++) {
        double n = 0;
        for (int k = 0; k < d; k++) {
            x[i * d + k] = (float)gauss(s);
            n += (double)x[i * d + k] * x[i * d + k];
        }
        for (int k = 0; k < d; k++)
            x[i * d + k] = (float)(x[i * d + k] / sqrt(n));
    }
}

/* Entries +-0.25 in d = 16: unit norm exactly, every dot product k/16 exact in float under any
 * summation order, and ties are frequent. */
static void fill_dyadic(float *x, int64_t rows, uint64_t *s)
{
    for (int64_t i = 0; i < rows * 16; i++)
        x[i] = (dcqb_splitmix64(s) & 1) ? 0.25f : -0.25f;
}

static struct eval_cfg cfg_small(void)
{
    struct eval_cfg c;
    eval_cfg_default(&c);
    c.n_bins = 100000;
    return c;
}

static struct eval_inputs mf_inputs(const float *p, const int32_t *lab, int64_t P, const float *dis,
                                    int64_t N, int d)
{
    struct eval_inputs in;
    memset(&in, 0, sizeof in);
    in.probe = (struct eval_mat){p, P, d};
    in.probe_labels = (struct eval_vec){lab, P};
    in.distractors = (struct eval_mat){dis, N, d};
    return in;
}

/* ---- ladder ---------------------------------------------------------------------------------- */

static void test_ladder(void **state)
{
    (void)state;
    int64_t s[EVAL_MAX_LADDER];
    assert_int_equal(eval_ladder(s, 1000), 3);
    assert_true(s[0] == 10 && s[1] == 100 && s[2] == 1000);
    assert_int_equal(eval_ladder(s, 2500), 4);
    assert_true(s[2] == 1000 && s[3] == 2500);
    assert_int_equal(eval_ladder(s, 7), 1);
    assert_true(s[0] == 7);
    assert_int_equal(eval_ladder(s, 1000000), 6);
}

/* ---- MegaFace identification ----------------------------------------------------------------- */

static void test_perfect_separation(void **state)
{
    (void)state;
    enum { IDS = 8, IMG = 5, P = IDS * IMG, N = 250, D = 16 };
    float *p = calloc(P * D, sizeof(float)), *dis = calloc(N * D, sizeof(float));
    int32_t lab[P];
    uint64_t s = 11;
    for (int i = 0; i < P; i++) {
        lab[i] = 100 + i / IMG;
        p[i * D + i / IMG] = 1.0f; /* identity direction e_k, k < 8 */
        for (int k = 8; k < D; k++)
            p[i * D + k] = (float)(0.05 * gauss(&s));
    }
    for (int j = 0; j < N; j++) /* distractors live in dims 8..15 only */
        for (int k = 8; k < D; k++)
            dis[j * D + k] = (float)gauss(&s);
    struct eval_inputs in = mf_inputs(p, lab, P, dis, N, D);
    struct eval_cfg c = cfg_small();
    struct eval_megaface mf;
    struct dcqb_err err = {0};
    assert_int_equal(eval_megaface_compute(&mf, &in, &c, &err), DCQB_OK);
    assert_int_equal(mf.n_sizes, 3);
    assert_int_equal(mf.trials, IDS * IMG * (IMG - 1));
    for (int k = 0; k < mf.n_sizes; k++)
        for (int r = 0; r < EVAL_MAX_RANK; r++)
            assert_close(mf.cmc[k][r], 1.0, 0, 0);
    assert_true(mf.n_genuine == IDS * IMG * (IMG - 1) / 2);
    assert_true(mf.n_impostor[0] == (uint64_t)P * 10 && mf.n_impostor[2] == (uint64_t)P * N);
    eval_megaface_free(&mf);
    /* different-identity probe pairs as impostors: + P(P-1)/2 - n_genuine at every size */
    c.probe_pairs_as_impostors = 1;
    assert_int_equal(eval_megaface_compute(&mf, &in, &c, &err), DCQB_OK);
    const uint64_t extra = P * (P - 1) / 2 - IDS * IMG * (IMG - 1) / 2;
    for (int k = 0; k < mf.n_sizes; k++) {
        uint64_t tot = 0;
        for (int64_t b = 0; b < mf.n_bins; b++) tot += mf.imp_hist[(size_t)k * mf.n_bins + b];
        assert_true(mf.n_impostor[k] == (uint64_t)P * mf.sizes[k] + extra);
        assert_true(tot == mf.n_impostor[k]);
    }
    eval_megaface_free(&mf);
    free(p);
    free(dis);
}

/* Independent random unit vectors: the genuine score is exchangeable with the N distractor
 * scores, so E[rank-r rate] = r/(N+1). Trials share probes, so the tolerance is generous but
 * still far from a broken counter (which gives 0 or 1, or r/N errors of sign). */
static void test_random_rank1(void **state)
{
    (void)state;
    enum { IDS = 20, IMG = 8, P = IDS * IMG, N = 1000, D = 32 };
    float *p = malloc(sizeof(float) * P * D), *dis = malloc(sizeof(float) * N * D);
    int32_t lab[P];
    uint64_t s = 12345;
    fill_gauss_unit(p, P, D, &s);
    fill_gauss_unit(dis, N, D, &s);
    for (int i = 0; i < P; i++)
        lab[i] = i % IDS; /* interleaved identities */
    struct eval_inputs in = mf_inputs(p, lab, P, dis, N, D);
    struct eval_cfg c = cfg_small();
    struct eval_megaface mf;
    assert_int_equal(eval_megaface_compute(&mf, &in, &c, NULL), DCQB_OK);
    assert_int_equal(mf.n_sizes, 3);
    for (int r = 1; r <= EVAL_MAX_RANK; r++) /* size 10: r/11, tolerance 0.05 */
        assert_close(mf.cmc[0][r - 1], r / 11.0, 0.05, 0);
    assert_close(mf.cmc[1][0], 1 / 101.0, 0.015, 0);
    assert_close(mf.cmc[2][0], 1 / 1001.0, 0.004, 0);
    assert_close(mf.cmc[2][9], 10 / 1001.0, 0.01, 0);
    eval_megaface_free(&mf);
    free(p);
    free(dis);
}

/* Brute force: for every trial count distractors in the prefix that beat sim(p,g), exactly. */
static void brute_cmc(double cmc[EVAL_MAX_LADDER][EVAL_MAX_RANK], uint64_t *hist_top,
                      const float *p, const int32_t *lab, int P, const float *dis,
                      const int64_t *sizes, int L, int tie, int64_t n_bins, int D)
{
    int64_t trials = 0;
    int64_t hits[EVAL_MAX_LADDER][EVAL_MAX_RANK] = {{0}};
    for (int a = 0; a < P; a++)
        for (int g = 0; g < P; g++) {
            if (a == g || lab[a] != lab[g]) continue;
            trials++;
            double sg = 0;
            for (int k = 0; k < D; k++)
                sg += (double)p[a * D + k] * p[g * D + k];
            for (int l = 0; l < L; l++) {
                int64_t beat = 0;
                for (int64_t j = 0; j < sizes[l]; j++) {
                    double sd = 0;
                    for (int k = 0; k < D; k++)
                        sd += (double)p[a * D + k] * dis[j * D + k];
                    beat += tie == EVAL_TIE_STRICT ? sd >= sg : sd > sg;
                }
                for (int r = 1; r <= EVAL_MAX_RANK; r++)
                    hits[l][r - 1] += beat < r;
            }
        }
    for (int l = 0; l < L; l++)
        for (int r = 0; r < EVAL_MAX_RANK; r++)
            cmc[l][r] = (double)hits[l][r] / trials;
    memset(hist_top, 0, sizeof(uint64_t) * n_bins);
    for (int a = 0; a < P; a++)
        for (int64_t j = 0; j < sizes[L - 1]; j++) {
            double sd = 0;
            for (int k = 0; k < D; k++)
                sd += (double)p[a * D + k] * dis[j * D + k];
            hist_top[eval_bin((float)sd, n_bins)]++;
        }
}

static void test_stream_equals_bruteforce(void **state)
{
    (void)state;
    enum { D = 16, P = 21, N = 137 };
    static const int counts[] = {2, 3, 5, 4, 2, 5}; /* 21 probes in 6 ids */
    float *p = malloc(sizeof(float) * P * D), *dis = malloc(sizeof(float) * N * D);
    int32_t lab[P];
    uint64_t s = 777;
    fill_dyadic(p, P, &s);
    fill_dyadic(dis, N, &s);
    for (int i = 0, id = 0, k = 0; i < P; i++) {
        lab[i] = id * 7 - 3;
        if (++k == counts[id]) {
            id++;
            k = 0;
        }
    }
    /* shuffle labels' order so identities are not contiguous */
    for (int i = P - 1; i > 0; i--) {
        int j = (int)(dcqb_splitmix64(&s) % (uint64_t)(i + 1));
        int32_t t = lab[i];
        lab[i] = lab[j];
        lab[j] = t;
    }
    struct eval_inputs in = mf_inputs(p, lab, P, dis, N, D);
    const int bps[] = {1, 4, 256}, bds[] = {1, 7, 64, 2048};
    const int64_t maxd[] = {0, 100, 55};
    uint64_t *hist = malloc(sizeof(uint64_t) * 100000);
    double strict_r1 = -1, loose_r1 = -1;
    for (int tie = 0; tie < 2; tie++)
        for (int m = 0; m < 3; m++) {
            int64_t sizes[EVAL_MAX_LADDER];
            int L = eval_ladder(sizes, maxd[m] ? maxd[m] : N);
            double ref[EVAL_MAX_LADDER][EVAL_MAX_RANK];
            brute_cmc(ref, hist, p, lab, P, dis, sizes, L, tie, 100000, D);
            for (int a = 0; a < 3; a++)
                for (int b = 0; b < 4; b++) {
                    struct eval_cfg c = cfg_small();
                    c.tie = tie;
                    c.max_distractors = maxd[m];
                    c.block_probe = bps[a];
                    c.block_distractor = bds[b];
                    struct eval_megaface mf;
                    assert_int_equal(eval_megaface_compute(&mf, &in, &c, NULL), DCQB_OK);
                    assert_int_equal(mf.n_sizes, L);
                    for (int l = 0; l < L; l++) {
                        assert_true(mf.sizes[l] == sizes[l]);
                        for (int r = 0; r < EVAL_MAX_RANK; r++)
                            assert_close(mf.cmc[l][r], ref[l][r], 0, 0);
                    }
                    assert_memory_equal(mf.imp_hist + (size_t)(L - 1) * mf.n_bins, hist,
                                        sizeof(uint64_t) * 100000);
                    assert_true(mf.n_impostor[L - 1] == (uint64_t)P * sizes[L - 1]);
                    if (m == 0) *(tie ? &loose_r1 : &strict_r1) = mf.cmc[L - 1][0];
                    eval_megaface_free(&mf);
                }
        }
    /* the data must contain ties, else this test would not exercise the tie rule */
    assert_true(loose_r1 > strict_r1);
    free(hist);
    free(p);
    free(dis);
}

/* eval_megaface_rank1 (no histograms) == the full pass's rank-1, exactly, over tie rules,
 * distractor caps and block shapes, on dyadic data full of ties. */
static void test_rank1_only_equals_full(void **state)
{
    (void)state;
    enum { D = 16, P = 40, N = 1234 };
    float *p = malloc(sizeof(float) * P * D), *dis = malloc(sizeof(float) * N * D);
    int32_t lab[P];
    uint64_t s = 4242;
    fill_dyadic(p, P, &s);
    fill_dyadic(dis, N, &s);
    for (int i = 0; i < P; i++) lab[i] = (i * 7) % 9; /* 9 ids, 4-5 images each, interleaved */
    struct eval_inputs in = mf_inputs(p, lab, P, dis, N, D);
    const int bps[] = {3, 256}, bds[] = {5, 2048};
    const int64_t maxd[] = {0, 999, 10};
    int differ = 0;
    for (int tie = 0; tie < 2; tie++)
        for (int m = 0; m < 3; m++)
            for (int a = 0; a < 2; a++)
                for (int b = 0; b < 2; b++) {
                    struct eval_cfg c = cfg_small();
                    c.tie = tie;
                    c.max_distractors = maxd[m];
                    c.block_probe = bps[a];
                    c.block_distractor = bds[b];
                    c.probe_pairs_as_impostors = b;
                    struct eval_megaface mf;
                    double r1 = -1;
                    assert_int_equal(eval_megaface_compute(&mf, &in, &c, NULL), DCQB_OK);
                    assert_int_equal(eval_megaface_rank1(&r1, &in.probe, lab, &in.distractors, &c,
                                                         NULL), DCQB_OK);
                    assert_true(r1 == mf.cmc[mf.n_sizes - 1][0]);
                    differ += r1 != mf.cmc[mf.n_sizes - 1][1]; /* rank-1, not rank-2 */
                    eval_megaface_free(&mf);
                }
    assert_true(differ > 0);
    free(p);
    free(dis);
}

/* eval_run's extra rank-1 keys: the validation split's with its own probes and distractors (the
 * test split's matrices given as the validation split give megaface_rank1 exactly, other ones
 * another value), each network's (the main matrices reuse megaface_rank1; a copy is computed and
 * agrees; absent -> null), and the refusals of malformed parts. */
static void test_eval_run_rank1_keys(void **state)
{
    (void)state;
    enum { IDS = 6, IMG = 5, P = IDS * IMG, N = 400, D = 8 };
    static float p[P * D], dis[N * D], p2[P * D], dis2[N * D], vdis[N * D];
    int32_t lab[P];
    uint64_t s = 5;
    fill_gauss_unit(p, P, D, &s);
    fill_gauss_unit(dis, N, D, &s);
    fill_gauss_unit(vdis, N, D, &s);
    for (int i = 0; i < P; i++) { /* an identity's images near its first one: rank-1 in (0,1) */
        lab[i] = i / IMG;
        for (int k = 0; k < D; k++) p[i * D + k] = p[(i / IMG) * IMG * D + k] + 0.6f * p[i * D + k];
    }
    memcpy(p2, p, sizeof p);
    memcpy(dis2, dis, sizeof dis);
    struct eval_inputs in = mf_inputs(p, lab, P, dis, N, D);
    struct eval_cfg c = cfg_small();
    char dir[300];
    snprintf(dir, sizeof dir, "%s/eval_rank1_keys", test_tmpdir());
    struct eval_summary sum;
    struct dcqb_err err = {0};
    assert_int_equal(eval_run(&in, &c, dir, &sum, &err), DCQB_OK);
    const char *extra[] = {"megaface_rank1_online", "megaface_rank1_ema", "val_rank1",
                           "val_n_distractors"};
    for (int k = 0; k < 4; k++) assert_true(isnan(eval_summary_get(&sum, extra[k])));
    const double r1 = eval_summary_get(&sum, "megaface_rank1");
    assert_true(r1 > 0 && r1 < 1);
    /* the same matrices as the validation split; the EMA network as the main matrices, the
     * online one as a copy (computed in a second pass) */
    in.val_probe = in.probe;
    in.val_probe_labels = in.probe_labels;
    in.val_distractors = in.distractors;
    in.probe_ema = in.probe;
    in.distractors_ema = in.distractors;
    in.probe_online = (struct eval_mat){p2, P, D};
    in.distractors_online = (struct eval_mat){dis2, N, D};
    c.max_distractors = 100; /* applies to both networks, not to the validation split */
    assert_int_equal(eval_run(&in, &c, dir, &sum, &err), DCQB_OK);
    const double r1_100 = eval_summary_get(&sum, "megaface_rank1");
    assert_true(r1_100 > r1);
    assert_true(eval_summary_get(&sum, "megaface_rank1_ema") == r1_100);
    assert_true(eval_summary_get(&sum, "megaface_rank1_online") == r1_100);
    assert_true(eval_summary_get(&sum, "val_rank1") == r1);
    assert_true(eval_summary_get(&sum, "val_n_distractors") == N);
    /* other validation distractors, another rank-1 */
    in.val_distractors = (struct eval_mat){vdis, N, D};
    assert_int_equal(eval_run(&in, &c, dir, &sum, &err), DCQB_OK);
    assert_true(eval_summary_get(&sum, "val_rank1") != r1);
    /* refusals: a dimension mismatch, a network's matrix without its companion rows */
    in.val_distractors = (struct eval_mat){vdis, N / 2, D / 2};
    assert_int_equal(eval_run(&in, &c, dir, &sum, &err), DCQB_EINVAL);
    assert_non_null(strstr(err.msg, "val-distractors"));
    in.val_distractors = (struct eval_mat){vdis, N, D};
    in.distractors_online = (struct eval_mat){dis2, N - 1, D};
    assert_int_equal(eval_run(&in, &c, dir, &sum, &err), DCQB_EINVAL);
    assert_non_null(strstr(err.msg, "distractors-online"));
}

/* One identity {p, g}, one distractor x with sim(p,x) = sim(p,g) = 0.5 exactly, sim(g,x) = 0.
 * Trial (p,g): tie -> strict: beaten (rank 2), loose: rank 1. Trial (g,p): rank 1 both. */
static void test_tie_rule_constructed(void **state)
{
    (void)state;
    const float p[] = {0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, -0.5f};
    const float x[] = {0.5f, 0.5f, -0.5f, 0.5f};
    const int32_t lab[] = {3, 3};
    struct eval_inputs in = mf_inputs(p, lab, 2, x, 1, 4);
    struct eval_cfg c = cfg_small();
    struct eval_megaface mf;
    assert_int_equal(eval_megaface_compute(&mf, &in, &c, NULL), DCQB_OK);
    assert_close(mf.cmc[0][0], 0.5, 0, 0);
    assert_close(mf.cmc[0][1], 1.0, 0, 0);
    eval_megaface_free(&mf);
    c.tie = EVAL_TIE_LOOSE;
    assert_int_equal(eval_megaface_compute(&mf, &in, &c, NULL), DCQB_OK);
    assert_close(mf.cmc[0][0], 1.0, 0, 0);
    eval_megaface_free(&mf);
}

/* ---- ROC / TAR@FAR ----------------------------------------------------------------------------
 */

/* 10000 impostors: 2 at 0.8, 9998 at -0.5. 100 genuine: 10 at 0.9, 10 at 0.8, 80 at -0.9.
 * ROC points: (0,0) (0,.1) (2e-4,.2) (1,.2) (1,1). TAR@1e-4 = .15 (interpolated, threshold
 * halfway between the 0.9 and 0.8 bin edges), TAR@1e-3 = .2, TAR@2e-4 = .2, 1e-5 and 1e-6 not
 * resolvable (below 1/10000). */
static void test_tar_at_far_constructed(void **state)
{
    (void)state;
    const int64_t nb = 200000;
    uint64_t *h = calloc(nb, sizeof(uint64_t));
    float gen[100];
    h[eval_bin(0.8f, nb)] += 2;
    h[eval_bin(-0.5f, nb)] += 9998;
    for (int i = 0; i < 100; i++)
        gen[i] = i < 10 ? 0.9f : i < 20 ? 0.8f : -0.9f;
    struct eval_roc roc;
    assert_int_equal(eval_roc_build(&roc, gen, 100, h, nb, NULL), DCQB_OK);
    assert_true(roc.n_impostor == 10000);
    assert_int_equal(roc.n, 5);
    double thr;
    assert_close(eval_roc_tar_at_far(&roc, 1e-4, &thr), 0.15, 1e-12, 0);
    const double e9 = -1.0 + 2.0 * eval_bin(0.9f, nb) / nb,
                 e8 = -1.0 + 2.0 * eval_bin(0.8f, nb) / nb;
    assert_close(thr, 0.5 * (e9 + e8), 1e-12, 0);
    assert_close(eval_roc_tar_at_far(&roc, 1e-3, NULL), 0.2, 1e-12, 0);
    assert_close(eval_roc_tar_at_far(&roc, 2e-4, NULL), 0.2, 1e-12, 0);
    assert_close(eval_roc_tar_at_far(&roc, 1.0, NULL), 1.0, 1e-12, 0);
    assert_true(isnan(eval_roc_tar_at_far(&roc, 1e-5, &thr)));
    assert_true(isnan(thr));
    assert_true(isnan(eval_roc_tar_at_far(&roc, 1e-6, NULL)));
    eval_roc_free(&roc);
    free(h);
}

/* ---- LFW ---------------------------------------------------------------------------------------
 */

/* LFW inputs of M pairs whose cosine is cs[i]: a = (1, 0), b = (cs, sqrt(1 - cs^2)); pair i is
 * genuine when (i % 20) < 10 (20 pairs per fold, half genuine). a, b: (M, 2); same: (M). */
static void lfw_pairs(struct eval_inputs *in, float *a, float *b, int32_t *same, const double *cs,
                      int M)
{
    for (int i = 0; i < M; i++) {
        same[i] = (i % 20) < 10;
        a[2 * i] = 1.0f;
        a[2 * i + 1] = 0.0f;
        b[2 * i] = (float)cs[i];
        b[2 * i + 1] = (float)sqrt(1 - cs[i] * cs[i]);
    }
    memset(in, 0, sizeof *in);
    in->pairs_a = (struct eval_mat){a, M, 2};
    in->pairs_b = (struct eval_mat){b, M, 2};
    in->pairs_same = (struct eval_vec){same, M};
}

/* The threshold applied to a fold is chosen on the other nine only. 200 pairs, 20 per fold,
 * impostors at cos 0.1 everywhere; genuines at 0.9 except fold 0's, at 0.2. Fold 0's own best
 * cut (0.15) differs from the other nine folds' (0.5): applied honestly, 0.5 rejects fold 0's
 * genuines (accuracy 0.5); a threshold picked on all ten folds (0.15) would score it 1.0. The
 * other folds train with fold 0 inside: 0.15 is their best cut, accuracy 1.0. */
static void test_lfw_threshold_not_leaky(void **state)
{
    (void)state;
    enum { M = 200 };
    float *a = malloc(sizeof(float) * M * 2), *b = malloc(sizeof(float) * M * 2);
    int32_t same[M];
    double cs[M];
    for (int i = 0; i < M; i++) cs[i] = (i % 20) >= 10 ? 0.1 : i < 20 ? 0.2 : 0.9;
    struct eval_inputs in;
    lfw_pairs(&in, a, b, same, cs, M);
    struct eval_cfg c = cfg_small();
    struct eval_lfw lfw;
    assert_int_equal(eval_lfw_compute(&lfw, &in, &c, NULL), DCQB_OK);
    assert_close(lfw.fold_thr[0], 0.5, 1e-6, 0);
    assert_close(lfw.fold_acc[0], 0.5, 1e-12, 0);
    for (int f = 1; f < 10; f++) {
        assert_close(lfw.fold_thr[f], 0.15, 1e-6, 0);
        assert_close(lfw.fold_acc[f], 1.0, 1e-12, 0);
    }
    assert_close(lfw.acc_mean, 0.95, 1e-12, 0);
    eval_lfw_free(&lfw);
    free(a);
    free(b);
}

/* 200 pairs, 20 per fold: 10 genuine at cos 0.9, 10 impostor at cos 0.1; pair 0 (fold 0,
 * genuine) at cos -0.5. Every training split picks threshold 0.5; fold 0 scores 19/20, the rest
 * 20/20: mean 0.995, population std 0.015. TAR@FAR 1e-2 (one of 100 impostors) = 99/100;
 * TAR@FAR 1e-3 is below 1/100: not resolvable. */
static void test_lfw_constructed(void **state)
{
    (void)state;
    enum { M = 200 };
    float *a = malloc(sizeof(float) * M * 2), *b = malloc(sizeof(float) * M * 2);
    int32_t same[M];
    double cs[M];
    for (int i = 0; i < M; i++) cs[i] = (i % 20) < 10 ? 0.9 : 0.1;
    cs[0] = -0.5;
    struct eval_inputs in;
    lfw_pairs(&in, a, b, same, cs, M);
    struct eval_cfg c = cfg_small();
    struct eval_lfw lfw;
    assert_int_equal(eval_lfw_compute(&lfw, &in, &c, NULL), DCQB_OK);
    assert_close(lfw.fold_acc[0], 0.95, 1e-12, 0);
    for (int f = 1; f < 10; f++)
        assert_close(lfw.fold_acc[f], 1.0, 1e-12, 0);
    for (int f = 0; f < 10; f++)
        assert_close(lfw.fold_thr[f], 0.5, 1e-6, 0);
    assert_close(lfw.acc_mean, 0.995, 1e-12, 0);
    assert_close(lfw.acc_std, 0.015, 1e-12, 0);
    assert_close(lfw.tar_at_far_1e2, 0.99, 1e-12, 0);
    assert_true(isnan(lfw.tar_at_far_1e3));
    eval_lfw_free(&lfw);
    free(a);
    free(b);
}

/* ---- tail -------------------------------------------------------------------------------------
 */

/* 7 classes, sizes 1 2 4 8 20 100 0; means e_c (class 6: zero row); weights e_c except w_1 = e_0
 * and w_3 = (e_3 + e_6)/sqrt2; class 6 weight zero. Held-out: one per class 0..5, e_c + 0.1 e_7,
 * except class 4's image is e_5. Expected per bucket (b1_2 b3_5 b6_10 b11_50 b51_plus):
 * means 1 1 1 0 1; weights .5 1 1 0 1 (class 1's image ties at 0 over all weights -> class 0);
 * cos(w,m) .5 1 .70710678 1 1. */
static void test_tail_constructed(void **state)
{
    (void)state;
    enum { C = 7, D = 8, H = 6 };
    float m[C * D] = {0}, w[C * D] = {0}, h[H * D] = {0};
    const int32_t sizes[C] = {1, 2, 4, 8, 20, 100, 0}, hl[H] = {0, 1, 2, 3, 4, 5};
    for (int c = 0; c < 6; c++) {
        m[c * D + c] = 1.0f;
        w[c * D + c] = 1.0f;
    }
    w[1 * D + 1] = 0.0f;
    w[1 * D + 0] = 1.0f;
    w[3 * D + 3] = w[3 * D + 6] = (float)(1 / sqrt(2.0));
    for (int i = 0; i < H; i++) {
        h[i * D + (i == 4 ? 5 : i)] = 1.0f;
        if (i != 4) h[i * D + 7] = 0.1f;
    }
    struct eval_inputs in;
    memset(&in, 0, sizeof in);
    in.holdout = (struct eval_mat){h, H, D};
    in.holdout_labels = (struct eval_vec){hl, H};
    in.class_sizes = (struct eval_vec){sizes, C};
    in.class_means = (struct eval_mat){m, C, D};
    in.class_weights = (struct eval_mat){w, C, D};
    assert_int_equal(eval_inputs_check(&in, NULL), DCQB_OK);
    struct eval_tail t;
    assert_int_equal(eval_tail_compute(&t, &in, NULL), DCQB_OK);
    const double am[] = {1, 1, 1, 0, 1}, aw[] = {.5, 1, 1, 0, 1}, cs[] = {.5, 1, 0.70710678, 1, 1};
    const int64_t nc[] = {2, 1, 1, 1, 1};
    for (int b = 0; b < EVAL_N_BUCKETS; b++) {
        assert_close(t.acc_mean[b], am[b], 1e-12, 0);
        assert_close(t.acc_weight[b], aw[b], 1e-12, 0);
        assert_close(t.cos_wm[b], cs[b], 1e-6, 0);
        assert_true(t.b_classes[b] == nc[b]);
    }
    assert_close(t.acc_mean_all, 5.0 / 6, 1e-12, 0);
    assert_close(t.acc_weight_all, 4.0 / 6, 1e-12, 0);
    assert_int_equal(eval_bucket_of(0), -1);
    assert_int_equal(eval_bucket_of(50), 3);
    assert_int_equal(eval_bucket_of(51), 4);
}

static void test_class_accum(void **state)
{
    (void)state;
    const float e[] = {1, 2, 3, 4, 5, 6, -1, 0};
    const int32_t l[] = {2, 0, 2, 0};
    struct eval_class_accum a;
    float means[3 * 2];
    int32_t sz[3];
    assert_int_equal(eval_class_accum_init(&a, 3, 2, NULL), DCQB_OK);
    assert_int_equal(eval_class_accum_add(&a, e, l, 2, NULL), DCQB_OK);
    assert_int_equal(eval_class_accum_add(&a, e + 4, l + 2, 2, NULL), DCQB_OK);
    const int32_t bad = 3;
    struct dcqb_err err = {0};
    assert_int_equal(eval_class_accum_add(&a, e, &bad, 1, &err), DCQB_EINVAL);
    assert_non_null(strstr(err.msg, "label 3"));
    assert_int_equal(eval_class_accum_finish(&a, means, sz, NULL), DCQB_OK);
    const float want[] = {1, 2, 0, 0, 3, 4};
    assert_close_array(means, want, 6, 1e-6, 0);
    assert_true(sz[0] == 2 && sz[1] == 0 && sz[2] == 2);
    eval_class_accum_free(&a);
    eval_class_accum_free(&a); /* safe twice */
}

/* ---- refused inputs ----------------------------------------------------------------------------
 */

static void expect_refused(const struct eval_inputs *in, const char *needle)
{
    struct dcqb_err err = {0};
    struct eval_cfg c = cfg_small();
    char dir[300];
    snprintf(dir, sizeof dir, "%s/eval_refused", test_tmpdir());
    int rc = eval_run(in, &c, dir, NULL, &err);
    if (rc == DCQB_OK || !strstr(err.msg, needle))
        print_error("rc %d, message '%s', expected to mention '%s'\n", rc, err.msg, needle);
    assert_int_not_equal(rc, DCQB_OK);
    assert_non_null(strstr(err.msg, needle));
}

static void test_refuses_bad_inputs(void **state)
{
    (void)state;
    float p[4 * 4], d[3 * 4];
    int32_t lab[4] = {1, 1, 2, 2};
    uint64_t s = 5;
    fill_gauss_unit(p, 4, 4, &s);
    fill_gauss_unit(d, 3, 4, &s);
    struct eval_inputs in = mf_inputs(p, lab, 4, d, 3, 4);
    struct eval_inputs bad = in;
    bad.distractors.cols = 3; /* wrong dims */
    expect_refused(&bad, "distractors: dimension 3");
    bad = in;
    bad.probe_labels.n = 3; /* label count mismatch */
    expect_refused(&bad, "probe-labels: 3 entries, expected 4");
    bad = in;
    bad.distractors.rows = 0;
    expect_refused(&bad, "distractors: empty");
    float pn[16];
    memcpy(pn, p, sizeof pn);
    pn[5] = NAN;
    bad = in;
    bad.probe.x = pn;
    expect_refused(&bad, "probe: non-finite");
    memcpy(pn, p, sizeof pn);
    pn[8] = INFINITY;
    expect_refused(&bad, "probe: non-finite value inf at row 2");
    int32_t lab1[4] = {1, 1, 2, 3}; /* identity 2 and 3 have one image */
    bad = in;
    bad.probe_labels.x = lab1;
    expect_refused(&bad, "identity 2 has 1 image");
    bad = in;
    bad.probe.x = NULL;
    bad.holdout = (struct eval_mat){p, 4, 4};
    int32_t hl[4] = {0, 1, 2, 3}, sz[3] = {1, 1, 1};
    bad.holdout_labels = (struct eval_vec){hl, 4};
    bad.class_means = (struct eval_mat){d, 3, 4};
    bad.class_sizes = (struct eval_vec){sz, 3};
    expect_refused(&bad, "holdout-labels: entry 3 = 3 not in [0, 2]");
    struct eval_inputs none;
    memset(&none, 0, sizeof none);
    expect_refused(&none, "nothing to evaluate");
}

/* ---- devkit .bin and the whole run --------------------------------------------------------------
 */

static void test_devkit_bin_header(void **state)
{
    (void)state;
    char path[300];
    snprintf(path, sizeof path, "%s/devkit_test.bin", test_tmpdir());
    const float x[3] = {1.0f, -2.0f, 0.5f};
    assert_int_equal(eval_devkit_write_bin(path, x, 3, NULL), DCQB_OK);
    unsigned char buf[64];
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    assert_int_equal(n, 16 + 12);
    const unsigned char hdr[16] = {3, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 5, 0, 0, 0};
    assert_memory_equal(buf, hdr, 16);
    const unsigned char one[4] = {0x00, 0x00, 0x80, 0x3f}, m2[4] = {0x00, 0x00, 0x00, 0xc0};
    assert_memory_equal(buf + 16, one, 4);
    assert_memory_equal(buf + 20, m2, 4);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

static void test_eval_run_outputs(void **state)
{
    (void)state;
    enum { IDS = 5, IMG = 4, P = IDS * IMG, N = 150, D = 8, M = 40 };
    float p[P * D], dis[N * D], pa[M * D], pb[M * D];
    int32_t lab[P], same[M];
    uint64_t s = 99;
    fill_gauss_unit(p, P, D, &s);
    fill_gauss_unit(dis, N, D, &s);
    fill_gauss_unit(pa, M, D, &s);
    fill_gauss_unit(pb, M, D, &s);
    for (int i = 0; i < P; i++)
        lab[i] = i / IMG;
    for (int i = 0; i < M; i++)
        same[i] = i % 2;
    struct eval_inputs in = mf_inputs(p, lab, P, dis, N, D);
    in.pairs_a = (struct eval_mat){pa, M, D};
    in.pairs_b = (struct eval_mat){pb, M, D};
    in.pairs_same = (struct eval_vec){same, M};
    struct eval_cfg c = cfg_small();
    c.devkit_alg = "t";
    c.devkit_features = 1;
    char dir[300], path[400];
    snprintf(dir, sizeof dir, "%s/eval_run", test_tmpdir());
    struct eval_summary sum;
    struct dcqb_err err = {0};
    assert_int_equal(eval_run(&in, &c, dir, &sum, &err), DCQB_OK);
    int nk = 0;
    while (eval_metric_keys[nk])
        nk++;
    assert_int_equal(sum.n_keys, nk);
    assert_true(sum.has_megaface && sum.has_lfw && !sum.has_tail);
    /* 3000 impostor pairs: 1e-3 resolvable, 1e-4 .. 1e-6 not */
    assert_close(eval_summary_get(&sum, "megaface_n_impostor"), (double)P * N, 0, 0);
    assert_true(isfinite(eval_summary_get(&sum, "tar_at_far_1e-3")));
    assert_true(isnan(eval_summary_get(&sum, "tar_at_far_1e-4")));
    assert_close(eval_summary_get(&sum, "far_1e-4_resolvable"), 0, 0, 0);
    assert_true(isnan(eval_summary_get(&sum, "megaface_rank1_at_1000")));
    assert_close(eval_summary_get(&sum, "megaface_rank1"),
                 eval_summary_get(&sum, "megaface_cmc_rank1"), 0, 0);
    assert_true(isnan(eval_summary_get(&sum, "tail_acc_mean_b1_2")));
    snprintf(path, sizeof path, "%s/metrics.json", dir);
    char *js = slurp(path);
    assert_non_null(js);
    assert_non_null(strstr(js, "\"tar_at_far_1e-6\": null"));
    assert_non_null(strstr(js, "\"megaface_trials\": 60"));
    for (int i = 0; i < nk; i++) { /* every key written */
        char q[80];
        snprintf(q, sizeof q, "\"%s\":", eval_metric_keys[i]);
        assert_non_null(strstr(js, q));
    }
    const char *files[] = {"cmc.tsv",
                           "roc.tsv",
                           "rank1_vs_size.tsv",
                           "lfw_folds.tsv",
                           "cmc_facescrub_megaface_t_10_1.json",
                           "cmc_facescrub_megaface_t_150_1.json",
                           "devkit/facescrub/19_t.bin",
                           "devkit/megaface/149_t.bin",
                           "devkit/facescrub_features_list.json",
                           "devkit/megaface_features_list.json_100_1"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        if (stat(path, &st) != 0) print_error("missing %s\n", path);
        assert_int_equal(stat(path, &st), 0);
    }
    snprintf(path, sizeof path, "%s/cmc_facescrub_megaface_t_150_1.json", dir);
    js = slurp(path);
    assert_non_null(strstr(js, "{\"cmc\": [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], ["));
    assert_non_null(strstr(js, "\"roc\": [["));
}

/* The CLI on .npy files: exit 0 and metrics.json; a dimension mismatch exits non-zero. */
static void test_cli_npy(void **state)
{
    (void)state;
    const char *bin = getenv("DCQBENCH");
    if (!bin) bin = "bin/dcqbench";
    enum { P = 12, N = 30, D = 6 };
    float p[P * D], dis[N * D];
    int32_t lab[P];
    uint64_t s = 4;
    fill_gauss_unit(p, P, D, &s);
    fill_gauss_unit(dis, N, D, &s);
    for (int i = 0; i < P; i++)
        lab[i] = i / 3;
    char f1[300], f2[300], f3[300], f4[300], cmd[8192], path[400];
    const char *t = test_tmpdir();
    snprintf(f1, sizeof f1, "%s/cli_p.npy", t);
    snprintf(f2, sizeof f2, "%s/cli_pl.npy", t);
    snprintf(f3, sizeof f3, "%s/cli_d.npy", t);
    snprintf(f4, sizeof f4, "%s/cli_d5.npy", t);
    assert_int_equal(npy_write_f32(f1, p, P, D, NULL), DCQB_OK);
    assert_int_equal(npy_write_i32(f2, lab, P, NULL), DCQB_OK);
    assert_int_equal(npy_write_f32(f3, dis, N, D, NULL), DCQB_OK);
    assert_int_equal(npy_write_f32(f4, dis, N, D - 1, NULL), DCQB_OK);
    /* pairs: 20 pairs from probe rows; tail: probes as held-out of 4 classes, means and
     * weights from distractor rows */
    int32_t same[20], sizes[4] = {1, 4, 9, 60};
    for (int i = 0; i < 20; i++)
        same[i] = i % 2;
    char g[6][300];
    const char *gn[6] = {"cli_pa", "cli_pb", "cli_ps", "cli_cm", "cli_cs", "cli_cw"};
    for (int i = 0; i < 6; i++)
        snprintf(g[i], sizeof g[i], "%s/%s.npy", t, gn[i]);
    assert_int_equal(npy_write_f32(g[0], dis, 20, D, NULL), DCQB_OK);
    assert_int_equal(npy_write_f32(g[1], dis + 10 * D, 20, D, NULL), DCQB_OK);
    assert_int_equal(npy_write_i32(g[2], same, 20, NULL), DCQB_OK);
    assert_int_equal(npy_write_f32(g[3], dis, 4, D, NULL), DCQB_OK);
    assert_int_equal(npy_write_i32(g[4], sizes, 4, NULL), DCQB_OK);
    assert_int_equal(npy_write_f32(g[5], dis + 4 * D, 4, D, NULL), DCQB_OK);
    snprintf(cmd, sizeof cmd,
             "%s eval --probe %s --probe-labels %s --distractors %s --out %s/cli_out "
             "--tie loose --pairs-a %s --pairs-b %s --pairs-same %s --holdout %s "
             "--holdout-labels %s --class-means %s --class-sizes %s --class-weights %s "
             "--devkit cli >%s/cli_out.txt",
             bin, f1, f2, f3, t, g[0], g[1], g[2], f1, f2, g[3], g[4], g[5], t);
    assert_int_equal(system(cmd), 0);
    snprintf(path, sizeof path, "%s/cli_out/metrics.json", t);
    char *js = slurp(path);
    assert_non_null(js);
    assert_non_null(strstr(js, "\"tie_loose\": 1"));
    assert_non_null(strstr(js, "\"lfw_n_pairs\": 20"));
    assert_non_null(strstr(js, "\"tail_n_classes_b51_plus\": 1"));
    snprintf(path, sizeof path, "%s/cli_out/tail.tsv", t);
    assert_non_null(slurp(path));
    snprintf(path, sizeof path, "%s/cli_out/cmc_facescrub_megaface_cli_30_1.json", t);
    assert_non_null(slurp(path));
    snprintf(path, sizeof path, "%s/cli_out.txt", t);
    js = slurp(path);
    assert_non_null(js);
    assert_non_null(strstr(js, "rank-1"));
    assert_non_null(strstr(js, "LFW-style"));
    assert_non_null(strstr(js, "Tail"));
    snprintf(cmd, sizeof cmd,
             "%s eval --probe %s --probe-labels %s --distractors %s --out %s/cli_out2 "
             "2>/dev/null",
             bin, f1, f2, f4, t);
    assert_int_not_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ladder),
        cmocka_unit_test(test_perfect_separation),
        cmocka_unit_test(test_random_rank1),
        cmocka_unit_test(test_stream_equals_bruteforce),
        cmocka_unit_test(test_rank1_only_equals_full),
        cmocka_unit_test(test_eval_run_rank1_keys),
        cmocka_unit_test(test_tie_rule_constructed),
        cmocka_unit_test(test_tar_at_far_constructed),
        cmocka_unit_test(test_lfw_constructed),
        cmocka_unit_test(test_lfw_threshold_not_leaky),
        cmocka_unit_test(test_tail_constructed),
        cmocka_unit_test(test_class_accum),
        cmocka_unit_test(test_refuses_bad_inputs),
        cmocka_unit_test(test_devkit_bin_header),
        cmocka_unit_test(test_eval_run_outputs),
        cmocka_unit_test(test_cli_npy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
