/* eval_rundir.c - see eval_rundir.h. Evaluation sets are regenerated from the run's data config
 * (the generator is random access, so nothing is stored), embedded in chunks with BN in eval
 * mode, and passed to eval_run. Each image and its flip are rendered together
 * (synth_render_views); the probes and distractors are rendered once and embedded with every
 * network whose rank-1 metrics.json reports (eval.net's, and with an EMA network the other). */
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
    int alt[2];             /* 1: also embed probes and distractors with the online (0) / EMA (1)
                             * network (the run has an EMA network and eval.net is not it) */
    float *x, *xf, *e, *ef; /* (EMB_CHUNK, Din) x2, (EMB_CHUNK, max(d, emb_dim)) x2 */
};

/* out (n, d) = normalize(f(x)) or normalize(f(x) + f(flip x)) for n <= EMB_CHUNK rendered rows
 * already in em->x / em->xf, f = the input itself (raw) or the online / EMA network. */
static void embed_rows_with(struct embedder *em, float *out, int64_t n, int raw, int use_ema)
{
    const int d = raw ? em->tr->ts.D : em->tr->net.cfg.emb_dim;
    if (raw) {
        memcpy(out, em->x, sizeof(float) * (size_t)(n * d));
        if (em->flip_sum)
            for (int64_t i = 0; i < n * d; i++) out[i] += em->xf[i];
    } else {
        trainer_embed(em->tr, out, em->x, n, use_ema);
        if (em->flip_sum) {
            trainer_embed(em->tr, em->ef, em->xf, n, use_ema);
            for (int64_t i = 0; i < n * d; i++) out[i] += em->ef[i];
        }
    }
    l2norm_forward(out, NULL, out, n, d, L2NORM_F64_SCALE);
}

/* The same with eval.net's choice. */
static void embed_rows(struct embedder *em, float *out, int64_t n)
{
    embed_rows_with(em, out, n, em->raw, em->use_ema);
}

/* Render row r of the chunk: the image into em->x and, with flip_sum, its flip into em->xf. */
static void render_row(struct embedder *em, int64_t r, int role, int64_t i, int32_t j)
{
    const int Din = em->tr->ts.D;
    synth_render_views(em->tr->ts.syn, em->x + r * Din, em->flip_sum ? em->xf + r * Din : NULL,
                       role, i, j);
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
     "the first N distractors (0: all; N above the data key 'distractors' is refused)"},
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

/* Everything one `eval --run` owns, zeroed at the start and freed in one place (eval_rundir's
 * `out`); the steps below fill it in order. */
struct rundir_eval {
    const char *rundir;
    eval_progress_fn progress;
    void *pctx;
    struct cfg cfg;
    struct eval_rundir_opts eo;
    struct trainer tr;
    struct embedder em;
    struct eval_class_accum acc;
    float *probe, *dist, *pa, *pb, *hold, *means, *vprobe, *vdist;
    float *alt_probe[2], *alt_dist[2]; /* probes, distractors with the online / EMA network */
    int32_t *plab, *same, *hlab, *sizes, *lab_chunk, *vplab;
};

static int oom(const struct rundir_eval *re, struct dcqb_err *err)
{
    return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory embedding the evaluation sets of %s",
                     re->rundir);
}

/* The run's config with the caller's eval.* options on top, into re->cfg and re->eo. */
static int load_eval_config(struct rundir_eval *re, struct cfg *opts, struct dcqb_err *err)
{
    struct cfg *cfg = &re->cfg;
    int rc;
    if ((rc = rundir_config_load(cfg, re->rundir, err))) return rc;
    /* the caller's eval.* options win over the run's */
    for (int i = 0; opts && i < opts->n; i++)
        if (strncmp(opts->e[i].key, "eval.", 5) == 0) {
            if ((rc = cfg_set(cfg, opts->e[i].key, opts->e[i].val, opts->e[i].src,
                              opts->e[i].line, err)))
                return rc;
            opts->e[i].used = 1;
        }
    /* a misspelt eval.* key in the run's config would be ignored by training: refuse it here */
    for (int i = 0; i < cfg->n; i++) {
        if (strncmp(cfg->e[i].key, "eval.", 5) != 0) continue;
        if (!keys_find(eval_rundir_keys, cfg->e[i].key))
            return DCQB_FAIL(err, DCQB_EINVAL, "%s:%d: unknown evaluation key '%s'",
                             cfg->e[i].src, cfg->e[i].line, cfg->e[i].key);
    }
    /* read eval.* before trainer_setup marks them used-and-ignored */
    eval_rundir_opts_defaults(&re->eo);
    return keys_read(&re->eo, eval_rundir_keys, KEY_EVAL, cfg, err);
}

/* The trained run from its config and checkpoint; refuses unfinished and .npy runs. */
static int rebuild_trainer(struct rundir_eval *re, struct dcqb_err *err)
{
    struct trainer *tr = &re->tr;
    const char *rundir = re->rundir;
    char path[4096];
    int rc;
    /* the run's own progress/out keys are not needed to rebuild it */
    if ((rc = trainer_setup(tr, &re->cfg, err))) return rc;
    if (rundir_path(path, sizeof path, rundir, RUNDIR_CHECKPOINT))
        return DCQB_FAIL(err, DCQB_EINVAL, "%s: path too long", rundir);
    if ((rc = trainer_load(tr, path, err))) return rc;
    if (tr->t < tr->o.steps)
        return DCQB_FAIL(err, DCQB_EINVAL, "%s: training stopped at step %lld of %lld; finish "
                         "it with 'dcqbench train --out %s --resume' first", rundir,
                         (long long)tr->t, (long long)tr->o.steps, rundir);
    if (!tr->ts.syn)
        return DCQB_FAIL(err, DCQB_EINVAL, "%s was trained on .npy data: export embeddings and "
                         "use 'dcqbench eval --probe ...' instead", rundir);
    /* eval.distractors takes a prefix of the generator's list (the set is part of the run) */
    if ((rc = synth_check_eval_distractors(synth_config(tr->ts.syn), re->eo.distractors, err)))
        return rc;
    return DCQB_OK;
}

/* eval.net and eval.flip_sum into the embedder, and its chunk buffers. */
static int choose_net(struct rundir_eval *re, struct dcqb_err *err)
{
    struct embedder *em = &re->em;
    struct trainer *tr = &re->tr;
    const int net_choice = re->eo.net;
    em->flip_sum = re->eo.flip_sum;
    em->tr = tr;
    em->raw = net_choice == 3;
    em->use_ema = em->raw ? 0 : net_choice == 0 ? tr->head.req.eval_ema : net_choice == 1;
    if (em->use_ema && !tr->has_ema)
        return DCQB_FAIL(err, DCQB_EINVAL, "eval.net = ema, but head '%s' keeps no EMA network",
                         head_name(&tr->head));
    /* with an EMA network, metrics.json has the rank-1 of both: embed with the one(s) eval.net
     * is not */
    for (int k = 0; k < 2; k++) em->alt[k] = tr->has_ema && (em->raw || em->use_ema != k);
    const int Din = tr->ts.D, d = em->raw ? Din : tr->net.cfg.emb_dim;
    const int dmax = Din > tr->net.cfg.emb_dim ? Din : tr->net.cfg.emb_dim;
    em->d = d;
    em->x = malloc(sizeof(float) * EMB_CHUNK * Din);
    em->xf = malloc(sizeof(float) * EMB_CHUNK * Din);
    em->e = malloc(sizeof(float) * EMB_CHUNK * dmax);
    em->ef = malloc(sizeof(float) * EMB_CHUNK * dmax);
    re->lab_chunk = malloc(sizeof(int32_t) * EMB_CHUNK);
    if (!em->x || !em->xf || !em->e || !em->ef || !re->lab_chunk) return oom(re, err);
    return DCQB_OK;
}

/* n images of `role` (a probe or distractor role), rendered once per chunk and embedded into
 * out (n, d) with eval.net's network and into alt[k] (n, emb_dim) with network k where
 * em->alt[k]; labels (n, may be NULL): the probe identities. */
static void embed_set(struct rundir_eval *re, float *out, float *const alt[2], int32_t *labels,
                      int role, int64_t n_img, const char *stage)
{
    struct embedder *em = &re->em;
    const int d = em->d, de = re->tr.net.cfg.emb_dim;
    for (int64_t i = 0; i < n_img; i += EMB_CHUNK) {
        int64_t n = n_img - i < EMB_CHUNK ? n_img - i : EMB_CHUNK;
        for (int64_t r = 0; r < n; r++) {
            render_row(em, r, role, i + r, 0);
            if (labels) labels[i + r] = synth_probe_label(re->tr.ts.syn, i + r);
        }
        embed_rows(em, out + i * d, n);
        for (int k = 0; k < 2; k++)
            if (em->alt[k]) embed_rows_with(em, alt[k] + i * de, n, 0, k);
        report(re->progress, re->pctx, stage, i + n, n_img);
    }
}

/* A (P, d) and an (N, d) float matrix for network k's probes and distractors, or NULLs. */
static int alloc_alt(struct rundir_eval *re, int64_t P, int64_t N, struct dcqb_err *err)
{
    const int de = re->tr.net.cfg.emb_dim;
    for (int k = 0; k < 2; k++) {
        if (!re->em.alt[k]) continue;
        re->alt_probe[k] = malloc(sizeof(float) * (size_t)P * de);
        re->alt_dist[k] = malloc(sizeof(float) * (size_t)(N ? N : 1) * de);
        if (!re->alt_probe[k] || !re->alt_dist[k]) return oom(re, err);
    }
    return DCQB_OK;
}

/* in->probe, probe_labels, distractors (the first eval.distractors, 0: all) and, with an EMA
 * network, probe_online/_ema and distractors_online/_ema. */
static int embed_megaface(struct rundir_eval *re, struct eval_inputs *in, struct dcqb_err *err)
{
    const struct synth *syn = re->tr.ts.syn;
    const int d = re->em.d, de = re->tr.net.cfg.emb_dim;
    const int64_t P = synth_num_probe_images(syn);
    int64_t N = synth_config(syn)->distractors;
    if (re->eo.distractors > 0) N = re->eo.distractors; /* <= N: rebuild_trainer checked */
    int rc;
    re->probe = malloc(sizeof(float) * (size_t)P * d);
    re->plab = malloc(sizeof(int32_t) * (size_t)P);
    re->dist = malloc(sizeof(float) * (size_t)(N ? N : 1) * d);
    if (!re->probe || !re->plab || !re->dist) return oom(re, err);
    if ((rc = alloc_alt(re, P, N, err))) return rc;
    embed_set(re, re->probe, re->alt_probe, re->plab, SYNTH_ROLE_PROBE, P, "probes");
    embed_set(re, re->dist, re->alt_dist, NULL, SYNTH_ROLE_DISTRACTOR, N, "distractors");
    in->probe = (struct eval_mat){re->probe, P, d};
    in->probe_labels = (struct eval_vec){re->plab, P};
    in->distractors = (struct eval_mat){re->dist, N, d};
    /* eval.net's own network takes the main matrices: eval_run reuses megaface_rank1 */
    const int main_net = re->em.raw ? -1 : re->em.use_ema;
    for (int k = 0; k < 2 && re->tr.has_ema; k++) {
        struct eval_mat *pk = k ? &in->probe_ema : &in->probe_online;
        struct eval_mat *dk = k ? &in->distractors_ema : &in->distractors_online;
        if (k == main_net) {
            *pk = in->probe;
            *dk = in->distractors;
        } else {
            *pk = (struct eval_mat){re->alt_probe[k], P, de};
            *dk = (struct eval_mat){re->alt_dist[k], N, de};
        }
    }
    return DCQB_OK;
}

/* in->val_*: the validation split with eval.net's network, when the generator has one. */
static int embed_validation(struct rundir_eval *re, struct eval_inputs *in, struct dcqb_err *err)
{
    const struct synth *syn = re->tr.ts.syn;
    const int d = re->em.d;
    const int64_t P = synth_num_val_probe_images(syn), N = synth_config(syn)->val_distractors;
    float *const none[2] = {NULL, NULL};
    if (P <= 0 || N <= 0) return DCQB_OK;
    re->vprobe = malloc(sizeof(float) * (size_t)P * d);
    re->vplab = malloc(sizeof(int32_t) * (size_t)P);
    re->vdist = malloc(sizeof(float) * (size_t)N * d);
    if (!re->vprobe || !re->vplab || !re->vdist) return oom(re, err);
    const int alt0 = re->em.alt[0], alt1 = re->em.alt[1];
    re->em.alt[0] = re->em.alt[1] = 0; /* eval.net's network only */
    embed_set(re, re->vprobe, none, re->vplab, SYNTH_ROLE_VAL_PROBE, P, "validation probes");
    embed_set(re, re->vdist, none, NULL, SYNTH_ROLE_VAL_DISTRACTOR, N, "validation distractors");
    re->em.alt[0] = alt0;
    re->em.alt[1] = alt1;
    in->val_probe = (struct eval_mat){re->vprobe, P, d};
    in->val_probe_labels = (struct eval_vec){re->vplab, P};
    in->val_distractors = (struct eval_mat){re->vdist, N, d};
    return DCQB_OK;
}

/* in->pairs_*: the LFW-like pairs, when eval.lfw is on and the generator has any. */
static int embed_pairs(struct rundir_eval *re, struct eval_inputs *in, struct dcqb_err *err)
{
    struct embedder *em = &re->em;
    const struct synth *syn = re->tr.ts.syn;
    const int d = em->d;
    int64_t M = re->eo.lfw ? synth_config(syn)->lfw_pairs : 0;
    if (M <= 0) return DCQB_OK;
    re->pa = malloc(sizeof(float) * (size_t)M * d);
    re->pb = malloc(sizeof(float) * (size_t)M * d);
    re->same = malloc(sizeof(int32_t) * (size_t)M);
    if (!re->pa || !re->pb || !re->same) return oom(re, err);
    /* side a in one pass, side b in a second, so the chunk buffers stay two (x and its flip) */
    for (int64_t i = 0; i < M; i++) re->same[i] = synth_pair_same(syn, i);
    for (int pass = 0; pass < 2; pass++)
        for (int64_t i = 0; i < M; i += EMB_CHUNK) {
            int64_t n = M - i < EMB_CHUNK ? M - i : EMB_CHUNK;
            for (int64_t r = 0; r < n; r++)
                render_row(em, r, pass ? SYNTH_ROLE_PAIR_B : SYNTH_ROLE_PAIR_A, i + r, 0);
            embed_rows(em, (pass == 0 ? re->pa : re->pb) + i * d, n);
        }
    in->pairs_a = (struct eval_mat){re->pa, M, d};
    in->pairs_b = (struct eval_mat){re->pb, M, d};
    in->pairs_same = (struct eval_vec){re->same, M};
    report(re->progress, re->pctx, "pairs", M, M);
    return DCQB_OK;
}

/* re->hold, re->hlab: one held-out image of every class with >= 2 (H of them, for the
 * progress); returns how many. */
static int64_t embed_holdout(struct rundir_eval *re, int64_t H)
{
    struct embedder *em = &re->em;
    const struct synth *syn = re->tr.ts.syn;
    const int d = em->d;
    const int64_t C = re->tr.ts.C;
    int64_t h = 0, n = 0;
    for (int64_t c = 0; c < C; c++) {
        /* the held-out image is the last (synth_render_holdout); the caller checked holdout */
        const int32_t size = synth_class_size(syn, c);
        if (size < 2) continue;
        render_row(em, n, SYNTH_ROLE_TRAIN, c, size - 1);
        re->hlab[h + n] = (int32_t)c;
        if (++n == EMB_CHUNK) {
            embed_rows(em, re->hold + h * d, n);
            h += n;
            n = 0;
            report(re->progress, re->pctx, "held-out", h, H);
        }
    }
    if (n) embed_rows(em, re->hold + h * d, n);
    h += n;
    report(re->progress, re->pctx, "held-out", h, H);
    return h;
}

/* re->means: per class, the mean of the first eval.mean_cap (0: all) training embeddings. */
static int embed_class_means(struct rundir_eval *re, struct dcqb_err *err)
{
    struct embedder *em = &re->em;
    const struct trainset *ts = &re->tr.ts;
    const int d = em->d;
    const int64_t C = ts->C, mean_cap = re->eo.mean_cap;
    int32_t *lab_chunk = re->lab_chunk;
    int rc;
    if ((rc = eval_class_accum_init(&re->acc, C, d, err))) return rc;
    int64_t n = 0, done = 0, total = 0;
    for (int64_t c = 0; c < C; c++) /* the images the means take: at most mean_cap a class */
        total += mean_cap > 0 && ts->sizes[c] > mean_cap ? mean_cap : ts->sizes[c];
    for (int64_t c = 0; c < C; c++) {
        int32_t m = ts->sizes[c];
        if (mean_cap > 0 && m > mean_cap) m = (int32_t)mean_cap;
        for (int32_t j = 0; j < m; j++) {
            render_row(em, n, SYNTH_ROLE_TRAIN, c, j);
            lab_chunk[n] = (int32_t)c;
            if (++n == EMB_CHUNK) {
                embed_rows(em, em->e, n);
                if ((rc = eval_class_accum_add(&re->acc, em->e, lab_chunk, n, err))) return rc;
                done += n;
                n = 0;
                report(re->progress, re->pctx, "class means", done, total);
            }
        }
    }
    if (n) {
        embed_rows(em, em->e, n);
        if ((rc = eval_class_accum_add(&re->acc, em->e, lab_chunk, n, err))) return rc;
    }
    report(re->progress, re->pctx, "class means", done + n, total);
    return eval_class_accum_finish(&re->acc, re->means, NULL, err);
}

/* in->holdout, class sizes, means and weights: the tail diagnostics' inputs, when eval.tail is
 * on and the generator holds images out. */
static int embed_tail(struct rundir_eval *re, struct eval_inputs *in, struct dcqb_err *err)
{
    const struct trainer *tr = &re->tr;
    const struct synth *syn = tr->ts.syn;
    const int d = re->em.d;
    const int64_t C = tr->ts.C;
    int rc;
    if (!(re->eo.tail && synth_config(syn)->holdout)) return DCQB_OK;
    int64_t H = 0;
    for (int64_t c = 0; c < C; c++) H += synth_class_size(syn, c) >= 2;
    re->hold = malloc(sizeof(float) * (size_t)(H ? H : 1) * d);
    re->hlab = malloc(sizeof(int32_t) * (size_t)(H ? H : 1));
    re->means = malloc(sizeof(float) * (size_t)C * d);
    re->sizes = malloc(sizeof(int32_t) * (size_t)C);
    if (!re->hold || !re->hlab || !re->means || !re->sizes) return oom(re, err);
    const int64_t h = embed_holdout(re, H);
    if ((rc = embed_class_means(re, err))) return rc;
    for (int64_t c = 0; c < C; c++) re->sizes[c] = tr->ts.sizes[c];
    in->holdout = (struct eval_mat){re->hold, h, d};
    in->holdout_labels = (struct eval_vec){re->hlab, h};
    in->class_sizes = (struct eval_vec){re->sizes, C};
    in->class_means = (struct eval_mat){re->means, C, d};
    const float *w = !re->em.raw ? head_class_weights(&tr->head) : NULL;
    if (w) in->class_weights = (struct eval_mat){w, C, d};
    return DCQB_OK;
}

int eval_rundir(const char *rundir, struct cfg *opts, const char *outdir,
                struct eval_summary *sum, eval_progress_fn progress, void *pctx,
                struct dcqb_err *err)
{
    struct rundir_eval re;
    struct eval_inputs in;
    int rc;
    memset(&re, 0, sizeof re);
    memset(&in, 0, sizeof in);
    re.rundir = rundir;
    re.progress = progress;
    re.pctx = pctx;

    if ((rc = load_eval_config(&re, opts, err))) goto out;
    if ((rc = rebuild_trainer(&re, err))) goto out;
    if ((rc = choose_net(&re, err))) goto out;
    if ((rc = embed_megaface(&re, &in, err))) goto out;
    if ((rc = embed_validation(&re, &in, err))) goto out;
    if ((rc = embed_pairs(&re, &in, err))) goto out;
    if ((rc = embed_tail(&re, &in, err))) goto out;
    report(progress, pctx, "scoring", 0, 1);
    rc = eval_run(&in, &re.eo.ecfg, outdir, sum, err);
    if (!rc) report(progress, pctx, "scoring", 1, 1);
out:
    eval_class_accum_free(&re.acc);
    free(re.em.x);
    free(re.em.xf);
    free(re.em.e);
    free(re.em.ef);
    free(re.lab_chunk);
    free(re.probe);
    free(re.plab);
    free(re.dist);
    free(re.vprobe);
    free(re.vplab);
    free(re.vdist);
    for (int k = 0; k < 2; k++) {
        free(re.alt_probe[k]);
        free(re.alt_dist[k]);
    }
    free(re.pa);
    free(re.pb);
    free(re.same);
    free(re.hold);
    free(re.hlab);
    free(re.means);
    free(re.sizes);
    trainer_free(&re.tr);
    cfg_free(&re.cfg);
    return rc;
}
