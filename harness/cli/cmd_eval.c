/* cmd_eval.c - 'dcqbench eval': MegaFace identification/verification, LFW-style 10-fold and tail
 * diagnostics on embedding matrices given as .npy files (docs/METHOD.md §4; the work is in
 * harness/eval_*.c, this file loads inputs, calls eval_run and prints a summary).
 * `--run DIR` embeds a trained run's synthetic evaluation sets with its network
 * (harness/eval/eval_rundir.c) and evaluates them the same way.
 */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include <cblas.h>

#include "cfg.h"
#include "eval.h"
#include "eval_rundir.h"
#include "npy.h"
#include "rundir.h"

static void usage(void)
{
    printf(
        "usage: dcqbench eval --probe P.npy --probe-labels PL.npy --distractors D.npy\n"
        "                     [--pairs-a A.npy --pairs-b B.npy --pairs-same S.npy]\n"
        "                     [--holdout H.npy --holdout-labels HL.npy --class-means M.npy\n"
        "                      --class-sizes N.npy [--class-weights W.npy]]\n"
        "                     --out DIR [options]\n"
        "       dcqbench eval --run DIR [--out DIR/eval] [--net default|ema|online|raw]\n"
        "                     [--flip-sum 1] [--distractors N] [--tie strict|loose]\n"
        "                     [--mean-cap 50] [--tail 1] [--lfw 1] [--bins N] [--devkit ALG]\n"
        "\n"
        "--run DIR rebuilds a trained run from DIR/config.ini + DIR/checkpoint.bin, renders its\n"
        "synthetic evaluation sets (probes, distractors, LFW-like pairs, held-out training\n"
        "images, class means over at most --mean-cap training images per class) and embeds them\n"
        "with the run's network: --net default = the head's choice (DCQ: its EMA network), ema,\n"
        "online, or raw (no network: cosine on the input itself, the untrained baseline).\n"
        "--flip-sum 1 (default): feature = normalize(f(x) + f(flip x)). Output: DIR/eval/.\n"
        "--distractors N uses the first N of the run's distractors (N <= the data key\n"
        "'distractors', set at training). Also reported: val_rank1 (the validation split:\n"
        "data keys val_probe_ids, val_distractors) and, when the run keeps an EMA network,\n"
        "megaface_rank1_online and megaface_rank1_ema (rank-1 with each network).\n"
        "\n"
        "Evaluates embeddings from anywhere (float32/float64 .npy, one row per image; labels\n"
        "int32/int64). Each group is computed when its inputs are given; at least one group.\n"
        "Scores are cosines (rows are L2-normalised unless already unit).\n"
        "\n"
        );
    printf(
        "MegaFace (docs/METHOD.md §4.1):\n"
        "  --probe P.npy          (P, D) probe embeddings (FaceScrub-like)\n"
        "  --probe-labels PL.npy  (P) identity of each probe; every identity needs >= 2 images\n"
        "  --distractors D.npy    (N, D) distractors; prefixes give the ladder 10, 100, ..., N\n"
        "  --max-distractors N    use only the first N distractors (default: all)\n"
        "  --tie strict|loose     strict (default): a distractor scoring >= sim(p,g) beats the\n"
        "                         gallery image g (rank-1 needs sim(p,g) > every distractor);\n"
        "                         loose: only a distractor scoring > sim(p,g) beats it\n"
        "  --probe-pairs-as-impostors  different-identity probe pairs also count as impostors\n"
        "  --bins N               impostor histogram bins on [-1,1] (default 200000, >= 1e5)\n"
        "  --block-probe N, --block-distractor N   sgemm tile (default 256 x 2048)\n"
        "  --devkit ALG           also write devkit cmc_facescrub_megaface_ALG_<size>_1.json\n"
        "  --devkit-features      with --devkit: devkit .bin feature files + feature lists\n"
        "LFW-style 10-fold verification:\n"
        "  --pairs-a A.npy, --pairs-b B.npy   (M, D) the two images of each pair\n"
        "  --pairs-same S.npy     (M) 1 = same identity, 0 = different (int32/int64)\n"
        "  --pairs-fold F.npy     (M) fold 0..9 of each pair (default: pair i in fold i*10/M,\n"
        "                         i.e. i / (M/10), the order the data generator writes)\n"
        "Tail diagnostics on held-out images of training identities:\n"
        "  --holdout H.npy        (H, D) embeddings; --holdout-labels HL.npy (H) class in [0, C)\n"
        "  --class-means M.npy    (C, D) mean training embedding per class\n"
        "  --class-sizes N.npy    (C) training images per class (buckets 1-2,3-5,6-10,11-50,>50)\n"
        "  --class-weights W.npy  (C, D) the head's class weights (optional)\n"
        "Other:\n"
        "  --out DIR              output folder (created)\n"
        "  --threads N            OpenBLAS threads (default: OPENBLAS_NUM_THREADS or all)\n"
        "\n"
        "Outputs in DIR:\n"
        "  metrics.json       flat, one number per key, always the same keys in the same order\n"
        "                     (null = not computed or not resolvable): megaface_rank1 (largest\n"
        "                     size), megaface_rank1_at_<10..1000000>, megaface_cmc_rank<1..10>,\n"
        "                     tar_at_far_1e-3..1e-6 (+ thr_at_far_*, far_*_resolvable: a FAR\n"
        "                     below 1/#impostors is null with resolvable 0), lfw_acc_mean,\n"
        "                     lfw_acc_std, lfw_tar_at_far_1e-3/1e-2 (ROC over all pairs),\n"
        "                     tail_acc_mean_<b>, tail_acc_weight_<b>, tail_cos_<b>, counts per\n"
        "                     bucket b in b1_2 b3_5 b6_10 b11_50 b51_plus; with --run also\n"
        "                     val_rank1, val_n_distractors, megaface_rank1_online/_ema;\n"
        "                     flags tie_loose,\n"
        "                     probe_pairs_as_impostors, impostor_bins, impostor_bin_width\n"
        "  cmc.tsv            size rank rate          rank1_vs_size.tsv  size rank1 trials\n"
        "  roc.tsv            far tar threshold (2000 points log-spaced in FAR, largest size)\n"
        "  lfw_folds.tsv      fold threshold accuracy lfw_roc.tsv        far tar threshold\n"
        "  tail.tsv           bucket n_classes n_holdout acc_mean acc_weight cos_weight_mean\n");
}

struct loaded {
    float *f[8];
    int32_t *i[8];
    int nf, ni;
};

static int load_mat(struct loaded *ld, struct cfg *c, const char *key, struct eval_mat *m,
                    struct dcqb_err *err)
{
    const char *path;
    int rc = cfg_get_str(c, key, NULL, &path, err);
    if (rc || !path) return rc;
    float *x = NULL;
    if ((rc = npy_read_f32(&x, &m->rows, &m->cols, path, err))) return rc;
    ld->f[ld->nf++] = x;
    m->x = x;
    return DCQB_OK;
}

static int load_vec(struct loaded *ld, struct cfg *c, const char *key, struct eval_vec *v,
                    struct dcqb_err *err)
{
    const char *path;
    int rc = cfg_get_str(c, key, NULL, &path, err);
    if (rc || !path) return rc;
    int32_t *x = NULL;
    if ((rc = npy_read_i32(&x, &v->n, path, err))) return rc;
    ld->i[ld->ni++] = x;
    v->x = x;
    return DCQB_OK;
}

static void print_summary(const struct eval_summary *s, const char *out, double secs)
{
#define V(k) eval_summary_get(s, k)
    printf("dcqbench eval: wrote %s/metrics.json (%.1f s)\n", out, secs);
    if (s->has_megaface) {
        printf("  MegaFace  %.0f probes, %.0f ids, %.0f trials, %.0f distractors, tie %s\n",
               V("megaface_n_probe"), V("megaface_n_ids"), V("megaface_trials"),
               V("megaface_n_distractors"), V("tie_loose") == 1 ? "loose" : "strict");
        printf("    rank-1 %.4f", V("megaface_rank1"));
        static const char *const at[] = {"10", "100", "1000", "10000", "100000", "1000000"};
        for (int i = 0; i < 6; i++) {
            char k[64];
            snprintf(k, sizeof k, "megaface_rank1_at_%s", at[i]);
            if (isfinite(V(k))) printf("  @%s %.4f", at[i], V(k));
        }
        printf("\n    rank-5 %.4f  rank-10 %.4f\n", V("megaface_cmc_rank5"),
               V("megaface_cmc_rank10"));
        printf("    TAR@FAR");
        static const char *const fa[] = {"1e-3", "1e-4", "1e-5", "1e-6"};
        for (int i = 0; i < 4; i++) {
            char k[64];
            snprintf(k, sizeof k, "tar_at_far_%s", fa[i]);
            if (isfinite(V(k)))
                printf("  %s %.4f", fa[i], V(k));
            else
                printf("  %s n/a", fa[i]);
        }
        printf("   (%.3g impostor pairs, bin width %.1e)\n", V("megaface_n_impostor"),
               V("impostor_bin_width"));
        if (isfinite(V("megaface_rank1_online")) || isfinite(V("megaface_rank1_ema")))
            printf("    rank-1 by network: online %.4f  ema %.4f\n", V("megaface_rank1_online"),
                   V("megaface_rank1_ema"));
    }
    if (isfinite(V("val_rank1")))
        printf("  Validation rank-1 %.4f (%.0f distractors)\n", V("val_rank1"),
               V("val_n_distractors"));
    if (s->has_lfw) {
        printf("  LFW-style %.0f pairs: acc %.4f +- %.4f, TAR@FAR 1e-3 ", V("lfw_n_pairs"),
               V("lfw_acc_mean"), V("lfw_acc_std"));
        if (isfinite(V("lfw_tar_at_far_1e-3")))
            printf("%.4f\n", V("lfw_tar_at_far_1e-3"));
        else
            printf("n/a\n");
    }
    if (s->has_tail) {
        printf("  Tail      %.0f held-out, %.0f classes: top-1 vs means %.4f, vs weights %.4f\n",
               V("tail_n_holdout"), V("tail_n_classes"), V("tail_acc_mean_all"),
               V("tail_acc_weight_all"));
        printf("    bucket      n_cls   means  weights  cos(w,mean)\n");
        for (int b = 0; b < EVAL_N_BUCKETS; b++) {
            char k[5][64];
            const char *bn = eval_bucket_names[b];
            snprintf(k[0], 64, "tail_n_classes_%s", bn);
            snprintf(k[1], 64, "tail_acc_mean_%s", bn);
            snprintf(k[2], 64, "tail_acc_weight_%s", bn);
            snprintf(k[3], 64, "tail_cos_%s", bn);
            printf("    %-10s %6.0f  %6.4f  %6.4f  %6.4f\n", bn, V(k[0]), V(k[1]), V(k[2]),
                   V(k[3]));
        }
    }
#undef V
}

/* Progress of one stage (probes, distractors, ...): on a terminal one refreshed line, else a
 * line at every tenth of a stage that takes over EVAL_LOG_MIN_S, with the stage's ETA (a sweep's
 * eval.log), and the stage's end. */
#define EVAL_LOG_MIN_S 20.0
struct eval_prog {
    int tty;
    char stage[48];
    double t0, last;
    int tenth; /* tenths of the stage already logged */
    int open;  /* a terminal line is waiting for its newline */
};

static void on_eval_progress(void *ctx, const char *stage, int64_t done, int64_t total)
{
    struct eval_prog *p = ctx;
    const double now = dcqb_now_s();
    if (strncmp(p->stage, stage, sizeof p->stage - 1)) { /* a new stage */
        snprintf(p->stage, sizeof p->stage, "%s", stage);
        p->t0 = now;
        p->last = 0;
        p->tenth = 0;
    }
    const double el = now - p->t0, frac = total > 0 ? (double)done / (double)total : 1.0;
    char eta[32], els[32];
    cli_fmt_dur(els, sizeof els, el);
    cli_fmt_dur(eta, sizeof eta, frac > 0 ? el * (1.0 - frac) / frac : -1.0);
    if (p->tty) {
        if (done != total && now - p->last < 0.25) return;
        p->last = now;
        fprintf(stderr, "\r" RUNDIR_EVAL_TAG "%-12s %lld/%lld (%3.0f%%)  ETA %s   ", stage,
                (long long)done, (long long)total, 100.0 * frac, eta);
        p->open = done != total;
        if (!p->open) fprintf(stderr, "\n");
    } else if (done == total) {
        fprintf(stderr, RUNDIR_EVAL_TAG "%s: %lld done in %s\n", stage, (long long)total, els);
    } else if (done == 0) { /* a stage announced before its work (scoring) */
        fprintf(stderr, RUNDIR_EVAL_TAG "%s: started\n", stage);
    } else if ((int)(10 * frac) > p->tenth && el > EVAL_LOG_MIN_S) {
        p->tenth = (int)(10 * frac);
        fprintf(stderr, RUNDIR_EVAL_TAG "%s: %lld/%lld (%.0f%%)  elapsed %s  ETA %s\n", stage,
                (long long)done, (long long)total, 100.0 * frac, els, eta);
    }
}

/* `--run DIR [--out DIR2] [--net ema|online] [--flip-sum 0|1] [--distractors N] ...`: every
 * option but run/out/threads is an eval.<key> of eval_rundir.h. */
static int eval_run_mode(struct cfg *c, const char *run)
{
    struct dcqb_err err = {0};
    struct cfg ev = {0};
    struct eval_summary sum;
    const char *out;
    char outbuf[4096];
    long long thr;
    struct eval_prog prog = {.tty = isatty(2)};
    int rc;
    cfg_get_str(c, "out", NULL, &out, &err);
    if (!out) {
        snprintf(outbuf, sizeof outbuf, "%s/eval", run);
        out = outbuf;
    }
    if (cfg_get_int(c, "threads", 0, 0, 1024, &thr, &err)) goto fail;
    for (int i = 0; i < c->n; i++) {
        struct cfg_entry *e = &c->e[i];
        if (e->used) continue;
        char key[CFG_KEY_MAX + 8];
        snprintf(key, sizeof key, "eval.%s", e->key);
        if (!keys_find(eval_rundir_keys, key)) {
            DCQB_FAIL(&err, DCQB_EINVAL, "unknown option '--%s' with --run (see --help)", e->key);
            goto fail;
        }
        if (cfg_set(&ev, key, e->val, e->src, e->line, &err)) goto fail;
        e->used = 1;
    }
    double t0 = dcqb_now_s();
    rc = eval_rundir(run, &ev, out, &sum, on_eval_progress, &prog, &err);
    if (prog.open) fprintf(stderr, "\n");
    if (rc) {
        cfg_free(&ev);
        cli_error("eval", &err);
        return rc == DCQB_EINVAL || rc == DCQB_EFORMAT || rc == DCQB_EIO ? 2 : 1;
    }
    (void)thr;
    print_summary(&sum, out, dcqb_now_s() - t0);
    cfg_free(&ev);
    return 0;
fail:
    cfg_free(&ev);
    return cli_error("eval", &err);
}

int cmd_eval(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage();
        return 0;
    }
    static const char *const bools[] = {"probe_pairs_as_impostors", "devkit_features", NULL};
    static const char *const ties[] = {"strict", "loose", NULL};
    struct cfg c = {0};
    struct dcqb_err err = {0};
    struct loaded ld = {0};
    struct eval_inputs in;
    struct eval_cfg ec;
    memset(&in, 0, sizeof in);
    eval_cfg_default(&ec);
    int status = 2;
    const char *out = NULL, *run = NULL;
    long long v;

    if (cfg_parse_args(&c, argc, argv, bools, &err)) goto fail;
    if (c.n_pos) {
        DCQB_FAIL(&err, DCQB_EINVAL, "unexpected argument '%s' (see --help)", c.pos[0]);
        goto fail;
    }
    if (cfg_get_str(&c, "run", NULL, &run, &err)) goto fail;
    if (run) {
        status = eval_run_mode(&c, run);
        cfg_free(&c);
        return status;
    }
    if (cfg_get_str(&c, "out", NULL, &out, &err)) goto fail;
    if (!out) {
        DCQB_FAIL(&err, DCQB_EINVAL, "--out DIR is required (see --help)");
        goto fail;
    }
    if (cfg_get_choice(&c, "tie", "strict", ties, &ec.tie, &err) ||
        cfg_get_bool(&c, "probe_pairs_as_impostors", 0, &ec.probe_pairs_as_impostors, &err) ||
        cfg_get_bool(&c, "devkit_features", 0, &ec.devkit_features, &err) ||
        cfg_get_str(&c, "devkit", NULL, &ec.devkit_alg, &err))
        goto fail;
    if (cfg_get_int(&c, "bins", 200000, 100000, 1LL << 30, &v, &err)) goto fail;
    ec.n_bins = v;
    if (cfg_get_int(&c, "max_distractors", 0, 0, INT64_MAX / 2, &v, &err)) goto fail;
    ec.max_distractors = v;
    if (cfg_get_int(&c, "block_probe", 256, 1, 1 << 16, &v, &err)) goto fail;
    ec.block_probe = (int)v;
    if (cfg_get_int(&c, "block_distractor", 2048, 1, 1 << 20, &v, &err)) goto fail;
    ec.block_distractor = (int)v;
    if (cfg_get_int(&c, "threads", 0, 0, 1024, &v, &err)) goto fail;
    if (v > 0) openblas_set_num_threads((int)v);
    if (ec.devkit_features && !ec.devkit_alg) {
        DCQB_FAIL(&err, DCQB_EINVAL, "--devkit-features needs --devkit ALG");
        goto fail;
    }
    if (load_mat(&ld, &c, "probe", &in.probe, &err) ||
        load_vec(&ld, &c, "probe_labels", &in.probe_labels, &err) ||
        load_mat(&ld, &c, "distractors", &in.distractors, &err) ||
        load_mat(&ld, &c, "pairs_a", &in.pairs_a, &err) ||
        load_mat(&ld, &c, "pairs_b", &in.pairs_b, &err) ||
        load_vec(&ld, &c, "pairs_same", &in.pairs_same, &err) ||
        load_vec(&ld, &c, "pairs_fold", &in.pairs_fold, &err) ||
        load_mat(&ld, &c, "holdout", &in.holdout, &err) ||
        load_vec(&ld, &c, "holdout_labels", &in.holdout_labels, &err) ||
        load_mat(&ld, &c, "class_means", &in.class_means, &err) ||
        load_vec(&ld, &c, "class_sizes", &in.class_sizes, &err) ||
        load_mat(&ld, &c, "class_weights", &in.class_weights, &err))
        goto fail;
    if (cfg_check_unused(&c, &err)) goto fail;
    /* a companion given without its part's main input would be silently ignored: refuse */
    if (!in.probe.x && (in.probe_labels.x || in.distractors.x)) {
        DCQB_FAIL(&err, DCQB_EINVAL, "--probe-labels/--distractors given without --probe");
        goto fail;
    }
    if (!in.pairs_a.x && (in.pairs_b.x || in.pairs_same.x || in.pairs_fold.x)) {
        DCQB_FAIL(&err, DCQB_EINVAL, "--pairs-b/--pairs-same/--pairs-fold given without --pairs-a");
        goto fail;
    }
    if (!in.holdout.x &&
        (in.holdout_labels.x || in.class_means.x || in.class_sizes.x || in.class_weights.x)) {
        DCQB_FAIL(&err, DCQB_EINVAL, "tail inputs given without --holdout");
        goto fail;
    }

    struct eval_summary sum;
    double t0 = dcqb_now_s();
    if (eval_run(&in, &ec, out, &sum, &err)) {
        status = err.code == DCQB_EINVAL || err.code == DCQB_EFORMAT ? 2 : 1;
        goto fail;
    }
    print_summary(&sum, out, dcqb_now_s() - t0);
    status = 0;
    goto done;
fail:
    cli_error("eval", &err);
done:
    for (int i = 0; i < ld.nf; i++)
        free(ld.f[i]);
    for (int i = 0; i < ld.ni; i++)
        free(ld.i[i]);
    cfg_free(&c);
    return status;
}
