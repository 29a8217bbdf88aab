/* train.c - see train.h: set-up from a config, the step (docs/ARCHITECTURE.md §3) and the loop
 * around it. Head-specific parts live behind struct head_ops; the checkpoint format is in
 * checkpoint.c. */
#include "train.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <zlib.h>

#include <gsl/gsl_rng.h>

#include "checkpoint.h"
#include "data_cfg.h"
#include "ops.h"
#include "train_keys.h"
#include "train_priv.h"

/* ---------------------------------------------------------------- setup */

int trainer_setup(struct trainer *tr, struct cfg *cfg, struct dcqb_err *err)
{
    int rc;
    memset(tr, 0, sizeof *tr);
    struct train_priv *p = calloc(1, sizeof *p);
    if (!p) return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
    tr->priv = p;

    /* every training key from one table (train_keys.c); generator and head keys below */
    struct train_settings ks;
    train_settings_defaults(&ks);
    if ((rc = train_settings_read(&ks, cfg, err))) goto fail;
    struct train_opts *o = &tr->o;
    *o = ks.o;

    /* ---- data */
    const char *tx = ks.train_x, *ty = ks.train_y;
    if (tx || ty) {
        if (!tx || !ty) {
            rc = DCQB_FAIL(err, DCQB_EINVAL, "train_x and train_y go together");
            goto fail;
        }
        if ((rc = trainset_from_npy(&tr->ts, tx, ty, err))) goto fail;
    } else {
        struct synth_cfg scfg;
        struct synth *syn = NULL;
        if ((rc = synth_cfg_from_cfg(&scfg, cfg, err))) goto fail;
        if ((rc = synth_create(&syn, &scfg, err))) goto fail;
        if ((rc = trainset_from_synth(&tr->ts, syn, err))) {
            synth_free(syn);
            goto fail;
        }
    }

    /* ---- run */
    if (ks.epochs > 0) o->steps = (int64_t)ceil(ks.epochs * (double)tr->ts.N / o->batch);

    /* ---- backbone */
    struct backbone_cfg bcfg = ks.net;
    bcfg.in_dim = tr->ts.D;

    /* ---- head */
    struct head_cfg *hc = &tr->hcfg;
    *hc = ks.head; /* head_cfg_defaults() overridden by the keys: ratio, init_std */
    hc->C = tr->ts.C;
    hc->D = bcfg.emb_dim;
    hc->max_batch = o->batch;
    hc->optim = o->optim;
    /* head_stream > 0 (A/A controls) moves only this stream: data, batches, backbone unchanged */
    hc->seed = dcqb_stream_seed(o->seed, DCQB_STREAM_HEAD + ((uint64_t)ks.head_stream << 8));
    hc->class_counts = tr->ts.sizes;
    train_head_keys(hc, cfg);
    hc->threads = o->threads; /* the head's own passes use the run's threads too */
    if ((rc = head_open(&tr->head, ks.head_name, hc, err))) goto fail;
    if ((rc = cfg_check_unused(cfg, err))) goto fail;
    if ((rc = train_config_hash(cfg, &tr->cfg_hash, err))) goto fail;

    /* ---- networks and buffers */
    openblas_set_num_threads(o->threads);
    if ((rc = backbone_init(&tr->net, &bcfg, o->batch,
                            dcqb_stream_seed(o->seed, DCQB_STREAM_INIT), err)))
        goto fail;
    int kB = tr->head.req.kshot * o->batch;
    if (tr->head.req.ema || tr->head.req.pairs) {
        /* theta_k starts equal to theta_q (docs/METHOD.md §2: the EMA starts from the online network) */
        if ((rc = backbone_init(&tr->ema, &bcfg, kB, dcqb_stream_seed(o->seed, DCQB_STREAM_INIT),
                                err)))
            goto fail;
        if ((rc = backbone_copy(&tr->ema, &tr->net, err))) goto fail;
        tr->has_ema = 1;
    }
    int B = o->batch, Din = tr->ts.D, d = bcfg.emb_dim;
    p->ring = o->steps / 10 < 100 ? (o->steps / 10 > 0 ? o->steps / 10 : 1) : 100;
    size_t sizes[] = {
        tr->net.n_params * sizeof(float), (size_t)B * Din * sizeof(float),
        (size_t)kB * Din * sizeof(float), (size_t)B * d * sizeof(float),
        (size_t)B * d * sizeof(float), (size_t)B * sizeof(float), (size_t)B * d * sizeof(float),
        (size_t)B * d * sizeof(float), (size_t)kB * d * sizeof(float),
        (size_t)B * d * sizeof(float), (size_t)kB * sizeof(float), (size_t)B * sizeof(int32_t),
        (size_t)B * sizeof(int64_t), (size_t)B * sizeof(int32_t),
        (size_t)p->ring * sizeof(double)};
    size_t total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) total += (sizes[i] + 63) & ~(size_t)63;
    p->arena = aligned_alloc(64, total);
    if (!p->arena) {
        rc = DCQB_FAIL(err, DCQB_ENOMEM, "out of memory for training buffers (%zu bytes)", total);
        goto fail;
    }
    memset(p->arena, 0, total);
    char *cur = p->arena;
    void **ptrs[] = {(void **)&p->mom, (void **)&p->x, (void **)&p->xk, (void **)&p->e,
                     (void **)&p->q, (void **)&p->qn, (void **)&p->dq, (void **)&p->de,
                     (void **)&p->ek, (void **)&p->k, (void **)&p->kn, (void **)&p->labels,
                     (void **)&p->cls, (void **)&p->js, (void **)&p->loss_ring};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        *ptrs[i] = cur;
        cur += (sizes[i] + 63) & ~(size_t)63;
    }
    p->r_shuffle = gsl_rng_alloc(gsl_rng_mt19937);
    p->r_aug = gsl_rng_alloc(gsl_rng_mt19937);
    if (!p->r_shuffle || !p->r_aug) {
        rc = DCQB_FAIL(err, DCQB_ENOMEM, "out of memory for random generators");
        goto fail;
    }
    /* mt19937 takes a 32-bit seed: fold the 64-bit stream seed */
    uint64_t s1 = dcqb_stream_seed(o->seed, DCQB_STREAM_SHUFFLE);
    uint64_t s2 = dcqb_stream_seed(o->seed, DCQB_STREAM_AUG);
    gsl_rng_set(p->r_shuffle, (unsigned long)((s1 ^ (s1 >> 32)) & 0xffffffffUL));
    gsl_rng_set(p->r_aug, (unsigned long)((s2 ^ (s2 >> 32)) & 0xffffffffUL));
    return DCQB_OK;
fail:
    trainer_free(tr);
    return rc;
}

void trainer_free(struct trainer *tr)
{
    if (!tr) return;
    struct train_priv *p = tr->priv;
    head_close(&tr->head);
    backbone_free(&tr->net);
    backbone_free(&tr->ema);
    trainset_free(&tr->ts);
    if (p) {
        if (p->r_shuffle) gsl_rng_free(p->r_shuffle);
        if (p->r_aug) gsl_rng_free(p->r_aug);
        free(p->arena);
        free(p);
    }
    memset(tr, 0, sizeof *tr);
}

/* ---------------------------------------------------------------- the step */

/* Draw B (class, image) pairs and render them (and the references when the head asks). */
static void draw_batch(struct trainer *tr)
{
    struct train_priv *p = tr->priv;
    const struct trainset *ts = &tr->ts;
    int B = tr->o.batch, Din = ts->D, ks = tr->head.req.kshot;
    for (int i = 0; i < B; i++) {
        int64_t c;
        int32_t j;
        if (tr->o.class_balanced) {
            c = (int64_t)gsl_rng_uniform_int(p->r_shuffle, (unsigned long)ts->C);
            j = (int32_t)gsl_rng_uniform_int(p->r_shuffle, (unsigned long)ts->sizes[c]);
        } else {
            /* uniform over images: instance-balanced, the long tail is kept (docs/METHOD.md §2) */
            int64_t n = (int64_t)(gsl_rng_uniform(p->r_shuffle) * (double)ts->N);
            if (n >= ts->N) n = ts->N - 1;
            trainset_locate(ts, n, &c, &j);
        }
        p->cls[i] = c;
        p->js[i] = j;
        p->labels[i] = (int32_t)c;
        int flip = tr->o.flip_aug ? (int)gsl_rng_uniform_int(p->r_aug, 2) : 0;
        trainset_render(ts, p->x + (size_t)i * Din, c, j, flip);
    }
    if (!tr->head.req.pairs) return;
    /* reference image(s): uniform with replacement among the identity's images (may be the
     * same image; a 1-image identity uses it twice), own flip (docs/METHOD.md §2, pairs) */
    for (int i = 0; i < B; i++)
        for (int r = 0; r < ks; r++) {
            int32_t j = (int32_t)gsl_rng_uniform_int(p->r_shuffle,
                                                     (unsigned long)ts->sizes[p->cls[i]]);
            int flip = tr->o.flip_aug ? (int)gsl_rng_uniform_int(p->r_aug, 2) : 0;
            trainset_render(ts, p->xk + ((size_t)i * ks + r) * Din, p->cls[i], j, flip);
        }
}

/* k_i = normalize(mean_r normalize(f_k(x_ref_ir))) - the generated class weight. */
static void compute_keys(struct trainer *tr)
{
    struct train_priv *p = tr->priv;
    int B = tr->o.batch, ks = tr->head.req.kshot, d = tr->net.cfg.emb_dim;
    backbone_forward(&tr->ema, p->ek, p->xk, ks * B, tr->o.ema_key_train);
    l2norm_forward(p->ek, p->kn, p->ek, (int64_t)ks * B, d, L2NORM_F32_SCALE);
    if (ks == 1) {
        memcpy(p->k, p->ek, (size_t)B * d * sizeof(float));
        return;
    }
    for (int i = 0; i < B; i++) {
        float *ki = p->k + (size_t)i * d;
        memset(ki, 0, (size_t)d * sizeof(float));
        for (int r = 0; r < ks; r++) {
            const float *er = p->ek + ((size_t)i * ks + r) * d;
            for (int j = 0; j < d; j++) ki[j] += er[j];
        }
    }
    l2norm_forward(p->k, p->kn, p->k, B, d, L2NORM_F32_SCALE);
}

/* A head's error message gains the step it happened at ("diverged at step 812: ..."). */
static void at_step(struct dcqb_err *err, int64_t t)
{
    if (!err) return;
    char tmp[sizeof err->msg], pre[32];
    memcpy(tmp, err->msg, sizeof tmp);
    int n = snprintf(pre, sizeof pre, "at step %lld: ", (long long)t);
    size_t room = sizeof err->msg - (size_t)n - 1;
    memcpy(err->msg, pre, (size_t)n);
    size_t l = strnlen(tmp, room);
    memcpy(err->msg + n, tmp, l);
    err->msg[n + l] = '\0';
}

static int all_finite(const float *x, size_t n)
{
    float acc = 0;
    for (size_t i = 0; i < n; i++) acc += x[i] * 0.0f; /* NaN or Inf poisons the sum */
    return acc == 0.0f;
}

int trainer_step(struct trainer *tr, int64_t t, float *loss, struct dcqb_err *err)
{
    struct train_priv *p = tr->priv;
    int B = tr->o.batch, d = tr->net.cfg.emb_dim, rc;
    float lr = lr_at(&tr->o.lr, t, tr->o.steps);
    double a = dcqb_now_s();
    draw_batch(tr);
    double b = dcqb_now_s();
    if (tr->has_ema) {
        /* EMA every step, before the key forward (docs/METHOD.md §2) */
        backbone_ema(&tr->ema, &tr->net, tr->head.req.ema_mu, tr->head.req.ema_bn);
        if (tr->head.req.pairs) compute_keys(tr);
    }
    backbone_forward(&tr->net, p->e, p->x, B, 1);
    l2norm_forward(p->q, p->qn, p->e, B, d, L2NORM_F32_SCALE);
    double c = dcqb_now_s();
    memset(p->dq, 0, (size_t)B * d * sizeof(float));
    *loss = 0;
    if ((rc = head_forward_backward(&tr->head, loss, p->dq, p->q,
                                         tr->head.req.pairs ? p->k : NULL, p->labels, B, err))) {
        at_step(err, t);
        return rc;
    }
    double dd = dcqb_now_s();
    if (!isfinite(*loss) || !all_finite(p->dq, (size_t)B * d))
        return DCQB_FAIL(err, DCQB_ENUMERIC, "non-finite %s at step %lld (loss %g): diverged",
                         isfinite(*loss) ? "gradient" : "loss", (long long)t, (double)*loss);
    l2norm_backward(p->de, p->dq, p->q, p->qn, B, d);
    backbone_zero_grad(&tr->net);
    backbone_backward(&tr->net, p->de, B);
    sgd_step(tr->net.params, p->mom, tr->net.grads, tr->net.n_params, lr, &tr->o.optim);
    double e = dcqb_now_s();
    if ((rc = head_step(&tr->head, lr, t, err))) {
        at_step(err, t);
        return rc;
    }
    double f = dcqb_now_s();
    tr->data_s += b - a;
    tr->backbone_s += (c - b) + (e - dd);
    tr->head_s += (dd - c) + (f - e);
    return DCQB_OK;
}

/* Loss bookkeeping after step t: the smoothed loss for progress, and the sums behind
 * first_loss (steps 0..ring-1 of the whole run) and final_loss (the last ring steps). */
static void note_loss(struct trainer *tr, int64_t t, int64_t t0, float loss)
{
    struct train_priv *p = tr->priv;
    tr->last_loss = loss;
    tr->loss_ema = t == t0 ? loss : 0.98 * tr->loss_ema + 0.02 * loss;
    if (t < p->ring) {
        p->first_sum += loss;
        p->first_n++;
    }
    p->loss_ring[t % p->ring] = loss;
}

/* res's loss means, rates and time split for steps t0..tr->t-1 of this invocation. */
static void fill_result(const struct trainer *tr, int64_t t0, double wall, const double split[3],
                        struct train_result *res)
{
    const struct train_priv *p = tr->priv;
    res->steps_done = tr->t;
    res->wall_s = wall;
    res->samples_per_s = wall > 0 ? (double)(tr->t - t0) * tr->o.batch / wall : 0;
    res->data_s = tr->data_s - split[0];
    res->backbone_s = tr->backbone_s - split[1];
    res->head_s = tr->head_s - split[2];
    int64_t nr = tr->t < p->ring ? tr->t : p->ring;
    double s = 0;
    for (int64_t i = 0; i < nr; i++) s += p->loss_ring[i];
    res->final_loss = nr ? s / (double)nr : NAN;
    res->first_loss = p->first_n ? p->first_sum / (double)p->first_n : NAN;
}

int trainer_run(struct trainer *tr, FILE *curve, const char *ckpt_path,
                volatile sig_atomic_t *stop, train_progress_fn progress, void *pctx,
                struct train_result *res, struct dcqb_err *err)
{
    int B = tr->o.batch;
    int64_t T = tr->o.steps, t0 = tr->t;
    double tstart = dcqb_now_s(), split[3] = {tr->data_s, tr->backbone_s, tr->head_s};
    int rc = DCQB_OK;
    memset(res, 0, sizeof *res);
    for (; tr->t < T; tr->t++) {
        int64_t t = tr->t;
        if (stop && *stop) {
            rc = DCQB_FAIL(err, DCQB_EINTR, "interrupted at step %lld", (long long)t);
            break;
        }
        float loss, lr = lr_at(&tr->o.lr, t, T);
        if ((rc = trainer_step(tr, t, &loss, err))) break;
        note_loss(tr, t, t0, loss);
        if (curve && (t % tr->o.log_every == 0 || t == T - 1)) {
            double el = dcqb_now_s() - tstart;
            fprintf(curve, "%lld\t%.6g\t%.6g\t%.1f\n", (long long)t, (double)loss, (double)lr,
                    el > 0 ? (double)(t - t0 + 1) * B / el : 0.0);
        }
        if (progress) {
            double el = dcqb_now_s() - tstart;
            progress(pctx, t + 1, T, tr->loss_ema, lr, el > 0 ? (t - t0 + 1) * B / el : 0, el);
        }
        if (ckpt_path && tr->o.ckpt_every > 0 && (t + 1) % tr->o.ckpt_every == 0 && t + 1 < T) {
            tr->t = t + 1;
            if (curve) fflush(curve);
            int r2 = trainer_save(tr, ckpt_path, err);
            tr->t = t;
            if (r2) {
                rc = r2;
                break;
            }
        }
    }
    fill_result(tr, t0, dcqb_now_s() - tstart, split, res);
    if (curve) fflush(curve);
    /* a finished or interrupted run is checkpointed; a diverged one is not (nothing to keep) */
    if (ckpt_path && (rc == DCQB_OK || rc == DCQB_EINTR)) {
        struct dcqb_err e2 = {0};
        int r2 = trainer_save(tr, ckpt_path, &e2);
        if (r2 && rc == DCQB_OK) {
            if (err) *err = e2;
            rc = r2;
        }
    }
    res->digest = trainer_digest(tr);
    return rc;
}

/* ---------------------------------------------------------------- digest, embedding */

uint32_t trainer_digest(const struct trainer *tr)
{
    uint32_t parts[3] = {backbone_digest(&tr->net), tr->has_ema ? backbone_digest(&tr->ema) : 0,
                         head_digest(&tr->head)};
    return (uint32_t)crc32(0L, (const Bytef *)parts, sizeof parts);
}

void trainer_embed(struct trainer *tr, float *out, const float *x, int64_t n, int use_ema)
{
    struct backbone *net = use_ema && tr->has_ema ? &tr->ema : &tr->net;
    int64_t chunk = net->max_batch;
    int Din = tr->ts.D, d = net->cfg.emb_dim;
    for (int64_t i = 0; i < n; i += chunk) {
        int64_t m = n - i < chunk ? n - i : chunk;
        backbone_forward(net, out + i * d, x + i * Din, (int)m, 0);
    }
}
