/* train.c - see train.h: set-up from a config, the step (docs/ARCHITECTURE.md §3) and the loop
 * around it. Head-specific parts live behind struct head_ops; the checkpoint format is in
 * checkpoint.c. */
#include "train.h"

#include <cblas.h>
#include <limits.h>
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
    /* one team of threads for the whole step (docs/ARCHITECTURE.md §9): the head borrows it */
    if ((rc = pool_init(&p->pool, o->threads, err))) goto fail;
    hc->pool = &p->pool;
    if ((rc = head_open(&tr->head, ks.head_name, hc, err))) goto fail;
    if (tr->head.req.ema && !o->ema) {
        /* the head's weight generator is the EMA network: recorded as what the run did */
        o->ema = 1;
        if ((rc = cfg_set(cfg, "ema", "1", "head", -1, err))) goto fail;
        cfg_has(cfg, "ema");
    }
    if ((rc = cfg_check_unused(cfg, err))) goto fail;
    if ((rc = train_config_hash(cfg, &tr->cfg_hash, err))) goto fail;

    /* ---- networks and buffers */
    openblas_set_num_threads(o->threads);
    if ((rc = backbone_init(&tr->net, &bcfg, o->batch,
                            dcqb_stream_seed(o->seed, DCQB_STREAM_INIT), err)))
        goto fail;
    tr->net.pool = &p->pool;
    int kB = (tr->head.req.pairs ? tr->head.req.kshot : 0) * o->batch; /* reference rows */
    if (o->ema || tr->head.req.pairs) {
        /* theta_k starts equal to theta_q (docs/METHOD.md §2: the EMA starts from the online network) */
        if ((rc = backbone_init(&tr->ema, &bcfg, kB > 0 ? kB : o->batch,
                                dcqb_stream_seed(o->seed, DCQB_STREAM_INIT), err)))
            goto fail;
        if ((rc = backbone_copy(&tr->ema, &tr->net, err))) goto fail;
        tr->ema.pool = &p->pool;
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
        (size_t)p->ring * sizeof(double), (size_t)B * sizeof(int32_t),
        (size_t)tr->ts.C * sizeof(int32_t), (size_t)kB * sizeof(struct head_key_src),
        DRIFT_SLOTS * sizeof(int32_t)};
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
                     (void **)&p->cls, (void **)&p->js, (void **)&p->loss_ring,
                     (void **)&p->flips, (void **)&p->mark, (void **)&p->refs,
                     (void **)&p->dslot};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        *ptrs[i] = cur;
        cur += (sizes[i] + 63) & ~(size_t)63;
    }
    p->r_shuffle = gsl_rng_alloc(gsl_rng_mt19937);
    p->r_aug = gsl_rng_alloc(gsl_rng_mt19937);
    p->r_ref = gsl_rng_alloc(gsl_rng_mt19937);
    if (!p->r_shuffle || !p->r_aug || !p->r_ref) {
        rc = DCQB_FAIL(err, DCQB_ENOMEM, "out of memory for random generators");
        goto fail;
    }
    /* mt19937 takes a 32-bit seed: fold the 64-bit stream seed */
    uint64_t s1 = dcqb_stream_seed(o->seed, DCQB_STREAM_SHUFFLE);
    uint64_t s2 = dcqb_stream_seed(o->seed, DCQB_STREAM_AUG);
    uint64_t s3 = dcqb_stream_seed(o->seed, DCQB_STREAM_REF);
    gsl_rng_set(p->r_shuffle, (unsigned long)((s1 ^ (s1 >> 32)) & 0xffffffffUL));
    gsl_rng_set(p->r_aug, (unsigned long)((s2 ^ (s2 >> 32)) & 0xffffffffUL));
    gsl_rng_set(p->r_ref, (unsigned long)((s3 ^ (s3 >> 32)) & 0xffffffffUL));
    p->st.age = p->st.drift = NAN;
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
        if (p->r_ref) gsl_rng_free(p->r_ref);
        free(p->arena);
        pool_free(&p->pool);
        free(p);
    }
    memset(tr, 0, sizeof *tr);
}

/* ---------------------------------------------------------------- the step */

/* Rows [lo, hi) of the batch, then of the references: each render is a function of (class,
 * image, flip) alone (synth.h), so the rows can be split over the pool in any way. */
static void render_part(void *arg, int t, int n)
{
    struct trainer *tr = arg;
    struct train_priv *p = tr->priv;
    const struct trainset *ts = &tr->ts;
    const int B = tr->o.batch, Din = ts->D;
    const int nref = tr->head.req.pairs ? B * tr->head.req.kshot : 0;
    long long lo, hi;
    pool_range(B + nref, t, n, &lo, &hi);
    for (long long r = lo; r < hi; r++) {
        if (r < B) {
            trainset_render(ts, p->x + (size_t)r * Din, p->cls[r], p->js[r], p->flips[r]);
        } else {
            const struct head_key_src *rf = &p->refs[r - B];
            trainset_render(ts, p->xk + (size_t)(r - B) * Din, rf->cls, rf->img, rf->flip);
        }
    }
}

/* Draw B (class, image) pairs and render them (and the references when the head asks). The
 * draws come first, in one order from the streams; the renders draw nothing. */
static void draw_batch(struct trainer *tr)
{
    struct train_priv *p = tr->priv;
    const struct trainset *ts = &tr->ts;
    int B = tr->o.batch, ks = tr->head.req.kshot;
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
        p->flips[i] = tr->o.flip_aug ? (int)gsl_rng_uniform_int(p->r_aug, 2) : 0;
    }
    /* reference image(s): uniform with replacement among the identity's images (may be the
     * same image; a 1-image identity uses it twice), own flip (docs/METHOD.md §2, pairs). All
     * from the REF stream: SHUFFLE and AUG, and so the batches, are the same for every head. */
    if (tr->head.req.pairs)
        for (int i = 0; i < B; i++)
            for (int r = 0; r < ks; r++) {
                struct head_key_src *rf = &p->refs[(size_t)i * ks + r];
                rf->cls = (int32_t)p->cls[i];
                rf->img = (int32_t)gsl_rng_uniform_int(p->r_ref,
                                                       (unsigned long)ts->sizes[rf->cls]);
                rf->flip = tr->o.flip_aug ? (int)gsl_rng_uniform_int(p->r_ref, 2) : 0;
            }
    pool_run(&p->pool, render_part, tr);
}

/* k_i = normalize(mean_r normalize(f_k(x_ref_ir))) - the generated class weight - for the
 * first B rows' references in xk, into k; BN in train mode (batch statistics) or eval mode. */
static void compute_keys(struct trainer *tr, int B, int train)
{
    struct train_priv *p = tr->priv;
    int ks = tr->head.req.kshot, d = tr->net.cfg.emb_dim;
    backbone_forward(&tr->ema, p->ek, p->xk, ks * B, train);
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

struct sgd_job {
    struct trainer *tr;
    float lr;
};

/* SGD on the backbone (optim.h), split over the pool: element-wise, so any split gives the
 * serial bits; shares of 16 floats keep cache lines apart. */
static void sgd_part(void *arg, int t, int n)
{
    const struct sgd_job *J = arg;
    struct backbone *net = &J->tr->net;
    struct train_priv *p = J->tr->priv;
    long long lo, hi;
    pool_range_aligned((long long)net->n_params, 16, t, n, &lo, &hi);
    sgd_step(net->params + lo, p->mom + lo, net->grads + lo, (size_t)(hi - lo), J->lr,
             &J->tr->o.optim);
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
        /* EMA every step, before the key forward (docs/METHOD.md §2); BN running stats too
         * unless the head says otherwise (dcq's ema_bn) */
        backbone_ema(&tr->ema, &tr->net, (float)tr->o.mu,
                     tr->head.req.ema ? tr->head.req.ema_bn : 1);
        if (tr->head.req.pairs) compute_keys(tr, B, tr->o.ema_key_train);
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
    if (tr->head.req.pairs) head_key_sources(&tr->head, p->refs, B * tr->head.req.kshot);
    double dd = dcqb_now_s();
    if (!isfinite(*loss) || !all_finite(p->dq, (size_t)B * d))
        return DCQB_FAIL(err, DCQB_ENUMERIC, "non-finite %s at step %lld (loss %g): diverged",
                         isfinite(*loss) ? "gradient" : "loss", (long long)t, (double)*loss);
    l2norm_backward(p->de, p->dq, p->q, p->qn, B, d);
    backbone_zero_grad(&tr->net);
    backbone_backward(&tr->net, p->de, B);
    struct sgd_job sj = {tr, lr};
    pool_run(&p->pool, sgd_part, &sj);
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

/* The loop's per-step records after a step (docs/METHOD.md §2): logit columns and distinct
 * labels of the batch. Outside trainer_step; allocates nothing. */
static void note_batch(struct trainer *tr)
{
    struct train_priv *p = tr->priv;
    int B = tr->o.batch;
    int64_t cols = head_logit_columns(&tr->head);
    if (cols < 0) {
        struct head_cost hc = {0};
        head_cost(&tr->head, B, &hc);
        cols = hc.active_classes;
    }
    if (p->stamp == INT32_MAX) {
        memset(p->mark, 0, sizeof(int32_t) * (size_t)tr->ts.C);
        p->stamp = 0;
    }
    int32_t stamp = ++p->stamp;
    int distinct = 0;
    for (int i = 0; i < B; i++)
        if (p->mark[p->labels[i]] != stamp) p->mark[p->labels[i]] = stamp, distinct++;
    p->st.eff_sum += (double)cols;
    p->st.lab_sum += distinct;
    p->st.n++;
}

int trainer_queue_instruments(struct trainer *tr, int64_t now, double *age, double *drift,
                              struct dcqb_err *err)
{
    struct train_priv *p = tr->priv;
    *age = *drift = NAN;
    struct head_queue_view v;
    int rc = head_queue_view(&tr->head, &v, err);
    if (rc || v.L == 0) return rc;
    int B = tr->o.batch, ks = tr->head.req.kshot, d = tr->net.cfg.emb_dim, Din = tr->ts.D;
    if (!tr->has_ema || !tr->head.req.pairs || v.kshot != ks || v.D != d)
        return DCQB_FAIL(err, DCQB_EINVAL, "%s: its queue (kshot %d, D %d) does not match the "
                         "loop's keys (kshot %d, D %d)", head_name(&tr->head), v.kshot, v.D, ks, d);
    int64_t nf = 0;
    double asum = 0;
    for (int64_t j = 0; j < v.L; j++)
        if (v.step[j] >= 0) nf++, asum += (double)(now - v.step[j]);
    if (nf == 0) return DCQB_OK;
    *age = asum / (double)nf;
    /* up to DRIFT_SLOTS filled slots, evenly spread over the ring: the i-th is filled slot
     * floor(i nf / n) */
    int n = nf < DRIFT_SLOTS ? (int)nf : DRIFT_SLOTS, i = 0;
    for (int64_t j = 0, f = 0; j < v.L && i < n; j++) {
        if (v.step[j] < 0) continue;
        if ((int64_t)i * nf / n == f) p->dslot[i++] = (int32_t)j;
        f++;
    }
    double csum = 0;
    for (int c0 = 0; c0 < n; c0 += B) {
        int m = n - c0 < B ? n - c0 : B;
        for (int a = 0; a < m; a++)
            for (int r = 0; r < ks; r++) {
                const struct head_key_src *sr = &v.src[(size_t)p->dslot[c0 + a] * ks + r];
                if (sr->cls < 0 || sr->cls >= tr->ts.C || sr->img < 0 ||
                    sr->img >= tr->ts.sizes[sr->cls])
                    return DCQB_FAIL(err, DCQB_EFORMAT, "%s: queue slot %d names image %d of "
                                     "class %d, not in the training set", head_name(&tr->head),
                                     (int)p->dslot[c0 + a], (int)sr->img, (int)sr->cls);
                trainset_render(&tr->ts, p->xk + ((size_t)a * ks + r) * Din, sr->cls, sr->img,
                                sr->flip);
            }
        compute_keys(tr, m, 0); /* eval-mode BN: the network, not this chunk's statistics */
        for (int a = 0; a < m; a++) {
            const float *k = p->k + (size_t)a * d, *q = v.keys + (size_t)p->dslot[c0 + a] * d;
            double dot = 0, nk = 0, nq = 0;
            for (int x = 0; x < d; x++)
                dot += (double)k[x] * q[x], nk += (double)k[x] * k[x], nq += (double)q[x] * q[x];
            csum += nk > 0 && nq > 0 ? dot / sqrt(nk * nq) : 0.0;
        }
    }
    *drift = csum / n;
    return DCQB_OK;
}

void trainer_batch(const struct trainer *tr, struct trainer_batch *b)
{
    const struct train_priv *p = tr->priv;
    int ks = tr->head.req.pairs ? tr->head.req.kshot : 0;
    *b = (struct trainer_batch){tr->o.batch, ks * tr->o.batch, ks, p->cls, p->js, p->flips,
                                p->refs, p->x, p->xk};
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
    res->eff_classes_mean = p->st.n ? p->st.eff_sum / (double)p->st.n : NAN;
    res->batch_labels_mean = p->st.n ? p->st.lab_sum / (double)p->st.n : NAN;
    struct head_queue_view v;
    res->queue_staleness = head_queue_view(&tr->head, &v, NULL) == DCQB_OK && v.L > 0
                               ? (double)v.L / tr->o.batch : NAN;
    res->queue_age_mean = p->st.age;
    res->queue_drift_mean = p->st.drift;
}

int trainer_run(struct trainer *tr, FILE *curve, const char *ckpt_path,
                volatile sig_atomic_t *stop, train_progress_fn progress, void *pctx,
                struct train_result *res, struct dcqb_err *err)
{
    int B = tr->o.batch;
    int64_t T = tr->o.steps, t0 = tr->t;
    double tstart = dcqb_now_s(), split[3] = {tr->data_s, tr->backbone_s, tr->head_s};
    double instr0 = tr->instr_s;
    struct train_priv *p = tr->priv;
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
        note_batch(tr);
        /* queue instruments: outside the timed step, their time kept apart (instr_s) */
        double age = NAN, drift = NAN;
        if (tr->o.drift_every > 0 && t % tr->o.drift_every == 0) {
            double a = dcqb_now_s();
            if ((rc = trainer_queue_instruments(tr, t, &age, &drift, err))) break;
            if (!isnan(age)) p->st.age = age, p->st.drift = drift;
            tr->instr_s += dcqb_now_s() - a;
        }
        if (curve && (t % tr->o.log_every == 0 || t == T - 1)) {
            double el = dcqb_now_s() - tstart - (tr->instr_s - instr0);
            fprintf(curve, "%lld\t%.6g\t%.6g\t%.1f\t%.6g\t%.6g\n", (long long)t, (double)loss,
                    (double)lr, el > 0 ? (double)(t - t0 + 1) * B / el : 0.0, age, drift);
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
    /* the training rate leaves the instruments out (they are not the head's cost) */
    fill_result(tr, t0, dcqb_now_s() - tstart - (tr->instr_s - instr0), split, res);
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
    /* an EMA kept only because of `ema = 1` observes training: left out (docs/METHOD.md §2) */
    int own = tr->has_ema && (tr->head.req.ema || tr->head.req.pairs);
    uint32_t parts[3] = {backbone_digest(&tr->net), own ? backbone_digest(&tr->ema) : 0,
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
