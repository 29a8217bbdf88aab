/* eval_rundir.c - see eval_rundir.h. Evaluation sets are regenerated from the run's data config
 * (the generator is random access, so nothing is stored), embedded in chunks with BN in eval
 * mode, and passed to eval_run. */
#include "eval_rundir.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "checkpoint.h"
#include "ops.h"
#include "rundir.h"
#include "train.h"

#define EMB_CHUNK 4096

struct embedder {
    struct trainer *tr;
    int use_ema, flip_sum;
    int raw;                /* no network: the input x itself is the feature (baseline) */
    int d;                  /* feature dimension: emb_dim, or Din when raw */
    float *x, *xf, *e, *ef; /* (EMB_CHUNK, Din) x2, (EMB_CHUNK, d) x2 */
};

/* out (n,d) = normalize(f(x)) or normalize(f(x) + f(flip x)) for n <= EMB_CHUNK rendered rows
 * already in em->x / em->xf. */
static void embed_rows(struct embedder *em, float *out, int64_t n)
{
    int d = em->d;
    if (em->raw) {
        memcpy(out, em->x, sizeof(float) * (size_t)(n * d));
        if (em->flip_sum)
            for (int64_t i = 0; i < n * d; i++) out[i] += em->xf[i];
    } else {
        trainer_embed(em->tr, out, em->x, n, em->use_ema);
        if (em->flip_sum) {
            trainer_embed(em->tr, em->ef, em->xf, n, em->use_ema);
            for (int64_t i = 0; i < n * d; i++) out[i] += em->ef[i];
        }
    }
    l2norm_forward(out, NULL, out, n, d, L2NORM_F64_SCALE);
}

static void report(eval_progress_fn p, void *ctx, const char *stage, int64_t done, int64_t tot)
{
    if (p) p(ctx, stage, done, tot);
}

static const char *const nets[] = {"default", "ema", "online", "raw", NULL};
static const char *const ties[] = {"strict", "loose", NULL};

#define F(field) offsetof(struct eval_rundir_opts, field)
const struct key_spec eval_rundir_keys[] = {
    {"eval.net", KEY_CHOICE, F(net), 0, 0, nets, KEY_EVAL, 0,
     "network to embed with (default: the head's choice; raw: the input x itself)"},
    {"eval.flip_sum", KEY_BOOL, F(flip_sum), 0, 0, NULL, KEY_EVAL, 0,
     "feature = normalize(f(x) + f(flip(x)))"},
    {"eval.distractors", KEY_I64, F(distractors), 0, 1e9, NULL, KEY_EVAL, 0,
     "distractors to use (0: the generator's count)"},
    {"eval.tie", KEY_CHOICE, F(ecfg.tie), 0, 0, ties, KEY_EVAL, 0, "rank ties"},
    {"eval.mean_cap", KEY_I64, F(mean_cap), 0, 1e9, NULL, KEY_EVAL, 0,
     "training images per class for the class means (0: all)"},
    {"eval.tail", KEY_BOOL, F(tail), 0, 0, NULL, KEY_EVAL, 0, "compute the tail diagnostics"},
    {"eval.lfw", KEY_BOOL, F(lfw), 0, 0, NULL, KEY_EVAL, 0, "compute LFW-style verification"},
    {"eval.bins", KEY_I64, F(ecfg.n_bins), 100000, 1 << 30, NULL, KEY_EVAL, 0,
     "impostor histogram bins"},
    {"eval.probe_pairs_as_impostors", KEY_BOOL, F(ecfg.probe_pairs_as_impostors), 0, 0, NULL,
     KEY_EVAL, 0, "different-identity probe pairs count as impostors too"},
    {"eval.devkit", KEY_STR, F(ecfg.devkit_alg), 0, 0, NULL, KEY_EVAL, 0,
     "write devkit cmc/roc JSON under this algorithm name"},
    {"eval.devkit_features", KEY_BOOL, F(ecfg.devkit_features), 0, 0, NULL, KEY_EVAL, 0,
     "with eval.devkit: also the devkit feature files"},
    KEY_SPEC_END,
};
#undef F

void eval_rundir_opts_defaults(struct eval_rundir_opts *o)
{
    memset(o, 0, sizeof *o);
    o->flip_sum = 1;
    o->mean_cap = 50;
    o->tail = 1;
    o->lfw = 1;
    eval_cfg_default(&o->ecfg);
}

int eval_rundir(const char *rundir, struct cfg *opts, const char *outdir,
                struct eval_summary *sum, eval_progress_fn progress, void *pctx,
                struct dcqb_err *err)
{
    struct cfg cfg = {0};
    struct trainer tr;
    struct embedder em = {0};
    struct eval_class_accum acc = {0};
    float *discard = NULL, *probe = NULL, *dist = NULL, *pa = NULL, *pb = NULL, *hold = NULL, *means = NULL;
    int32_t *plab = NULL, *same = NULL, *hlab = NULL, *sizes = NULL, *lab_chunk = NULL;
    char path[4096];
    int rc;
    memset(&tr, 0, sizeof tr);

    if ((rc = rundir_config_load(&cfg, rundir, err))) goto out;
    /* the caller's eval.* options win over the run's */
    for (int i = 0; opts && i < opts->n; i++)
        if (strncmp(opts->e[i].key, "eval.", 5) == 0) {
            if ((rc = cfg_set(&cfg, opts->e[i].key, opts->e[i].val, opts->e[i].src,
                              opts->e[i].line, err)))
                goto out;
            opts->e[i].used = 1;
        }
    /* a misspelt eval.* key in the run's config would be ignored by training: refuse it here */
    for (int i = 0; i < cfg.n; i++) {
        if (strncmp(cfg.e[i].key, "eval.", 5) != 0) continue;
        if (!keys_find(eval_rundir_keys, cfg.e[i].key)) {
            rc = DCQB_FAIL(err, DCQB_EINVAL, "%s:%d: unknown evaluation key '%s'", cfg.e[i].src,
                           cfg.e[i].line, cfg.e[i].key);
            goto out;
        }
    }
    /* read eval.* before trainer_setup marks them used-and-ignored */
    struct eval_rundir_opts eo;
    eval_rundir_opts_defaults(&eo);
    if ((rc = keys_read(&eo, eval_rundir_keys, KEY_EVAL, &cfg, err))) goto out;
    struct eval_cfg ecfg = eo.ecfg;
    int net_choice = eo.net, do_tail = eo.tail, do_lfw = eo.lfw;
    int64_t mean_cap = eo.mean_cap, n_dist_req = eo.distractors;
    em.flip_sum = eo.flip_sum;
    /* the run's own progress/out keys are not needed to rebuild it */
    if ((rc = trainer_setup(&tr, &cfg, err))) goto out;
    if (rundir_path(path, sizeof path, rundir, RUNDIR_CHECKPOINT)) {
        rc = DCQB_FAIL(err, DCQB_EINVAL, "%s: path too long", rundir);
        goto out;
    }
    if ((rc = trainer_load(&tr, path, err))) goto out;
    if (tr.t < tr.o.steps) {
        rc = DCQB_FAIL(err, DCQB_EINVAL, "%s: training stopped at step %lld of %lld; finish it "
                       "with 'dcqbench train --out %s --resume' first", rundir, (long long)tr.t,
                       (long long)tr.o.steps, rundir);
        goto out;
    }
    if (!tr.ts.syn) {
        rc = DCQB_FAIL(err, DCQB_EINVAL, "%s was trained on .npy data: export embeddings and use "
                       "'dcqbench eval --probe ...' instead", rundir);
        goto out;
    }
    em.tr = &tr;
    em.raw = net_choice == 3;
    em.use_ema = em.raw ? 0 : net_choice == 0 ? tr.head.req.eval_ema : net_choice == 1;
    if (em.use_ema && !tr.has_ema) {
        rc = DCQB_FAIL(err, DCQB_EINVAL, "eval.net = ema, but head '%s' keeps no EMA network",
                       head_name(&tr.head));
        goto out;
    }
    const struct synth *syn = tr.ts.syn;
    const struct synth_cfg *sc = synth_config(syn);
    int Din = tr.ts.D, d = em.raw ? Din : tr.net.cfg.emb_dim;
    em.d = d;
    em.x = malloc(sizeof(float) * EMB_CHUNK * Din);
    em.xf = malloc(sizeof(float) * EMB_CHUNK * Din);
    em.e = malloc(sizeof(float) * EMB_CHUNK * d);
    em.ef = malloc(sizeof(float) * EMB_CHUNK * d);
    lab_chunk = malloc(sizeof(int32_t) * EMB_CHUNK);
    discard = malloc(sizeof(float) * Din);
    if (!em.x || !em.xf || !em.e || !em.ef || !lab_chunk || !discard) goto oom;

    /* ---- probes */
    int64_t P = synth_num_probe_images(syn);
    probe = malloc(sizeof(float) * (size_t)P * d);
    plab = malloc(sizeof(int32_t) * (size_t)P);
    if (!probe || !plab) goto oom;
    for (int64_t i = 0; i < P; i += EMB_CHUNK) {
        int64_t n = P - i < EMB_CHUNK ? P - i : EMB_CHUNK;
        for (int64_t r = 0; r < n; r++) {
            synth_render_probe(syn, em.x + r * Din, plab + i + r, i + r, 0);
            if (em.flip_sum) synth_render_probe(syn, em.xf + r * Din, plab + i + r, i + r, 1);
        }
        embed_rows(&em, probe + i * d, n);
    }
    report(progress, pctx, "probes", P, P);

    /* ---- distractors */
    int64_t N = sc->distractors;
    if (n_dist_req > 0 && n_dist_req < N) N = n_dist_req;
    dist = malloc(sizeof(float) * (size_t)N * d);
    if (!dist) goto oom;
    for (int64_t i = 0; i < N; i += EMB_CHUNK) {
        int64_t n = N - i < EMB_CHUNK ? N - i : EMB_CHUNK;
        for (int64_t r = 0; r < n; r++) {
            synth_render_distractor(syn, em.x + r * Din, i + r, 0);
            if (em.flip_sum) synth_render_distractor(syn, em.xf + r * Din, i + r, 1);
        }
        embed_rows(&em, dist + i * d, n);
        report(progress, pctx, "distractors", i + n, N);
    }

    struct eval_inputs in;
    memset(&in, 0, sizeof in);
    in.probe = (struct eval_mat){probe, P, d};
    in.probe_labels = (struct eval_vec){plab, P};
    in.distractors = (struct eval_mat){dist, N, d};

    /* ---- LFW-like pairs */
    int64_t M = do_lfw ? sc->lfw_pairs : 0;
    if (M > 0) {
        pa = malloc(sizeof(float) * (size_t)M * d);
        pb = malloc(sizeof(float) * (size_t)M * d);
        same = malloc(sizeof(int32_t) * (size_t)M);
        if (!pa || !pb || !same) goto oom;
        /* side a in one pass, side b in a second: rendering is cheap next to the GEMMs, and
         * the chunk buffers stay two (x and its flip) */
        for (int pass = 0; pass < 2; pass++)
            for (int64_t i = 0; i < M; i += EMB_CHUNK) {
                int64_t n = M - i < EMB_CHUNK ? M - i : EMB_CHUNK;
                for (int64_t r = 0; r < n; r++) {
                    int s;
                    float *keep = em.x + r * Din, *keepf = em.xf + r * Din;
                    if (pass == 0) synth_render_pair(syn, keep, discard, &s, i + r, 0);
                    else synth_render_pair(syn, discard, keep, &s, i + r, 0);
                    if (em.flip_sum) {
                        if (pass == 0) synth_render_pair(syn, keepf, discard, &s, i + r, 1);
                        else synth_render_pair(syn, discard, keepf, &s, i + r, 1);
                    }
                    same[i + r] = s;
                }
                embed_rows(&em, (pass == 0 ? pa : pb) + i * d, n);
            }
        in.pairs_a = (struct eval_mat){pa, M, d};
        in.pairs_b = (struct eval_mat){pb, M, d};
        in.pairs_same = (struct eval_vec){same, M};
        report(progress, pctx, "pairs", M, M);
    }

    /* ---- tail: held-out images and class means of training embeddings */
    int64_t C = tr.ts.C;
    if (do_tail && sc->holdout) {
        int64_t H = 0;
        for (int64_t c = 0; c < C; c++) H += synth_class_size(syn, c) >= 2;
        hold = malloc(sizeof(float) * (size_t)(H ? H : 1) * d);
        hlab = malloc(sizeof(int32_t) * (size_t)(H ? H : 1));
        means = malloc(sizeof(float) * (size_t)C * d);
        sizes = malloc(sizeof(int32_t) * (size_t)C);
        if (!hold || !hlab || !means || !sizes) goto oom;
        int64_t h = 0, n = 0;
        for (int64_t c = 0; c < C; c++) {
            if (synth_render_holdout(syn, em.x + n * Din, c, 0) != 0) continue;
            if (em.flip_sum) synth_render_holdout(syn, em.xf + n * Din, c, 1);
            hlab[h + n] = (int32_t)c;
            if (++n == EMB_CHUNK) {
                embed_rows(&em, hold + h * d, n);
                h += n;
                n = 0;
            }
        }
        if (n) embed_rows(&em, hold + h * d, n);
        h += n;
        if ((rc = eval_class_accum_init(&acc, C, d, err))) goto out;
        n = 0;
        int64_t done = 0, total = tr.ts.N;
        for (int64_t c = 0; c < C; c++) {
            int32_t m = tr.ts.sizes[c];
            if (mean_cap > 0 && m > mean_cap) m = (int32_t)mean_cap;
            for (int32_t j = 0; j < m; j++) {
                synth_render_train(syn, em.x + n * Din, c, j, 0);
                if (em.flip_sum) synth_render_train(syn, em.xf + n * Din, c, j, 1);
                lab_chunk[n] = (int32_t)c;
                if (++n == EMB_CHUNK) {
                    embed_rows(&em, em.e, n);
                    if ((rc = eval_class_accum_add(&acc, em.e, lab_chunk, n, err))) goto out;
                    done += n;
                    n = 0;
                    report(progress, pctx, "class means", done, total);
                }
            }
        }
        if (n) {
            embed_rows(&em, em.e, n);
            if ((rc = eval_class_accum_add(&acc, em.e, lab_chunk, n, err))) goto out;
        }
        if ((rc = eval_class_accum_finish(&acc, means, NULL, err))) goto out;
        for (int64_t c = 0; c < C; c++) sizes[c] = tr.ts.sizes[c];
        in.holdout = (struct eval_mat){hold, h, d};
        in.holdout_labels = (struct eval_vec){hlab, h};
        in.class_sizes = (struct eval_vec){sizes, C};
        in.class_means = (struct eval_mat){means, C, d};
        const float *w = !em.raw ? head_class_weights(&tr.head) : NULL;
        if (w) in.class_weights = (struct eval_mat){w, C, d};
    }

    report(progress, pctx, "scoring", 0, 1);
    rc = eval_run(&in, &ecfg, outdir, sum, err);
    goto out;
oom:
    rc = DCQB_FAIL(err, DCQB_ENOMEM, "out of memory embedding the evaluation sets of %s",
                   rundir);
out:
    eval_class_accum_free(&acc);
    free(em.x);
    free(em.xf);
    free(em.e);
    free(em.ef);
    free(lab_chunk);
    free(discard);
    free(probe);
    free(plab);
    free(dist);
    free(pa);
    free(pb);
    free(same);
    free(hold);
    free(hlab);
    free(means);
    free(sizes);
    trainer_free(&tr);
    cfg_free(&cfg);
    return rc;
}
