/* train.c - see train.h. The step follows REFERENCE.md section 2's pseudo-code; head-specific
 * parts live behind struct head_ops. */
#include "train.h"

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <time.h>
#include <zlib.h>

#include <gsl/gsl_rng.h>

#include "data_cfg.h"
#include "train_keys.h"

/* ---------------------------------------------------------------- private state */

struct train_priv {
    gsl_rng *r_shuffle, *r_aug;
    float *mom;            /* (n_params) backbone SGD momentum */
    float *x;              /* (B, Din) rendered inputs */
    float *xk;             /* (kshot*B, Din) reference images for the key */
    float *e;              /* (B, d) raw embeddings */
    float *q;              /* (B, d) unit embeddings */
    float *qn;             /* (B) norms of e */
    float *dq;             /* (B, d) dL/dq from the head */
    float *de;             /* (B, d) dL/de */
    float *ek;             /* (kshot*B, d) EMA embeddings of the references */
    float *k;              /* (B, d) unit keys */
    float *kn;             /* (kshot*B) norms */
    int32_t *labels;       /* (B) */
    int64_t *cls;          /* (B) */
    int32_t *js;           /* (B) */
    double *loss_ring;     /* (ring) recent losses for first/final loss means */
    int64_t ring;
    double first_sum;
    int64_t first_n;
    char *arena;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---------------------------------------------------------------- normalisation */

/* y = x / |x| row-wise; x, y (n, d); norms (n). 3nd FLOPs. */
static void rows_normalize(float *y, float *norms, const float *x, int64_t n, int d)
{
    for (int64_t i = 0; i < n; i++) {
        const float *xi = x + i * d;
        float *yi = y + i * d;
        double s = 0;
        for (int j = 0; j < d; j++) s += (double)xi[j] * xi[j];
        float nrm = (float)sqrt(s);
        if (nrm < 1e-12f) nrm = 1e-12f;
        norms[i] = nrm;
        float inv = 1.0f / nrm;
        for (int j = 0; j < d; j++) yi[j] = xi[j] * inv;
    }
}

/* dx = (g - (g.y) y) / |x| row-wise (overwrites dx). */
static void rows_normalize_backward(float *dx, const float *g, const float *y, const float *norms,
                                    int64_t n, int d)
{
    for (int64_t i = 0; i < n; i++) {
        const float *gi = g + i * d, *yi = y + i * d;
        float *di = dx + i * d;
        double gy = 0;
        for (int j = 0; j < d; j++) gy += (double)gi[j] * yi[j];
        float inv = 1.0f / norms[i], fgy = (float)gy;
        for (int j = 0; j < d; j++) di[j] = (gi[j] - fgy * yi[j]) * inv;
    }
}

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
    const char *hname = ks.head_name;
    tr->head = head_find(hname);
    if (!tr->head) {
        char names[256] = "";
        for (const struct head_ops *const *h = head_list(); *h; h++) {
            size_t l = strlen(names);
            snprintf(names + l, sizeof names - l, "%s%s", l ? ", " : "", (*h)->name);
        }
        rc = DCQB_FAIL(err, DCQB_EINVAL, "unknown head '%s' (known: %s)", hname, names);
        goto fail;
    }
    struct head_cfg *hc = &tr->hcfg;
    *hc = ks.head; /* ratio, init_std */
    hc->C = tr->ts.C;
    hc->D = bcfg.emb_dim;
    hc->max_batch = o->batch;
    hc->optim = o->optim;
    hc->seed = dcqb_stream_seed(o->seed, DCQB_STREAM_HEAD);
    hc->class_counts = tr->ts.sizes;
    train_head_keys(hc, cfg);
    hc->threads = o->threads; /* the head's own passes use the run's threads too */
    if (tr->head->abi_version != HEAD_ABI_VERSION) {
        rc = DCQB_FAIL(err, DCQB_EINVAL, "head '%s' was built for head ABI %d, harness has %d",
                       hname, tr->head->abi_version, HEAD_ABI_VERSION);
        goto fail;
    }
    tr->hst = calloc(1, tr->head->state_size ? tr->head->state_size : 1);
    if (!tr->hst) {
        rc = DCQB_FAIL(err, DCQB_ENOMEM, "out of memory for head state");
        goto fail;
    }
    tr->req.kshot = 1;
    if ((rc = tr->head->init(tr->hst, hc, &tr->req, err))) goto fail;
    if (tr->req.kshot < 1) tr->req.kshot = 1;
    if ((rc = cfg_check_unused(cfg, err))) goto fail;
    if ((rc = train_config_hash(cfg, &tr->cfg_hash, err))) goto fail;

    /* ---- networks and buffers */
    openblas_set_num_threads(o->threads);
    if ((rc = backbone_init(&tr->net, &bcfg, o->batch,
                            dcqb_stream_seed(o->seed, DCQB_STREAM_INIT), err)))
        goto fail;
    int kB = tr->req.kshot * o->batch;
    if (tr->req.ema || tr->req.pairs) {
        /* theta_k starts equal to theta_q (REFERENCE.md sec. 2, step 2) */
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
    if (tr->head && tr->hst) tr->head->free(tr->hst);
    free(tr->hst);
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
    int B = tr->o.batch, Din = ts->D, ks = tr->req.kshot;
    for (int i = 0; i < B; i++) {
        int64_t c;
        int32_t j;
        if (tr->o.class_balanced) {
            c = (int64_t)gsl_rng_uniform_int(p->r_shuffle, (unsigned long)ts->C);
            j = (int32_t)gsl_rng_uniform_int(p->r_shuffle, (unsigned long)ts->sizes[c]);
        } else {
            /* uniform over images: instance-balanced, the long tail is kept (REFERENCE 2) */
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
    if (!tr->req.pairs) return;
    /* reference image(s): uniform with replacement among the identity's images (may be the
     * same image; a 1-image identity uses it twice), own flip (REFERENCE 2, pair sampler) */
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
    int B = tr->o.batch, ks = tr->req.kshot, d = tr->net.cfg.emb_dim;
    backbone_forward(&tr->ema, p->ek, p->xk, ks * B, tr->o.ema_key_train);
    rows_normalize(p->ek, p->kn, p->ek, (int64_t)ks * B, d);
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
    rows_normalize(p->k, p->kn, p->k, B, d);
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

int trainer_run(struct trainer *tr, FILE *curve, const char *ckpt_path,
                volatile sig_atomic_t *stop, train_progress_fn progress, void *pctx,
                struct train_result *res, struct dcqb_err *err)
{
    struct train_priv *p = tr->priv;
    int B = tr->o.batch, d = tr->net.cfg.emb_dim;
    int64_t T = tr->o.steps, t0 = tr->t;
    double tstart = now_s(), th = 0, tb = 0, tdata = 0;
    int rc = DCQB_OK;
    memset(res, 0, sizeof *res);
    for (; tr->t < T; tr->t++) {
        int64_t t = tr->t;
        if (stop && *stop) {
            rc = DCQB_FAIL(err, DCQB_EINTR, "interrupted at step %lld", (long long)t);
            break;
        }
        double a = now_s();
        draw_batch(tr);
        double b = now_s();
        float lr = lr_at(&tr->o.lr, t, T);
        if (tr->has_ema) {
            /* EMA every step, before the key forward (REFERENCE.md sec. 2, step 2) */
            backbone_ema(&tr->ema, &tr->net, tr->req.ema_mu, tr->req.ema_bn);
            if (tr->req.pairs) compute_keys(tr);
        }
        backbone_forward(&tr->net, p->e, p->x, B, 1);
        rows_normalize(p->q, p->qn, p->e, B, d);
        double c = now_s();
        memset(p->dq, 0, (size_t)B * d * sizeof(float));
        float loss = 0;
        if ((rc = tr->head->forward_backward(tr->hst, &loss, p->dq, p->q,
                                             tr->req.pairs ? p->k : NULL, p->labels, B, err))) {
            at_step(err, t);
            break;
        }
        double dd = now_s();
        if (!isfinite(loss) || !all_finite(p->dq, (size_t)B * d)) {
            rc = DCQB_FAIL(err, DCQB_ENUMERIC, "non-finite %s at step %lld (loss %g): diverged",
                           isfinite(loss) ? "gradient" : "loss", (long long)t, (double)loss);
            break;
        }
        rows_normalize_backward(p->de, p->dq, p->q, p->qn, B, d);
        backbone_zero_grad(&tr->net);
        backbone_backward(&tr->net, p->de, B);
        sgd_step(tr->net.params, p->mom, tr->net.grads, tr->net.n_params, lr, &tr->o.optim);
        double e = now_s();
        if ((rc = tr->head->step(tr->hst, lr, t, err))) {
            at_step(err, t);
            break;
        }
        double f = now_s();
        tdata += b - a;
        tb += (c - b) + (e - dd);
        th += (dd - c) + (f - e);
        tr->last_loss = loss;
        tr->loss_ema = t == t0 ? loss : 0.98 * tr->loss_ema + 0.02 * loss;
        /* loss bookkeeping for first/final means (first: steps 0..ring-1 of the whole run) */
        if (t < p->ring) {
            p->first_sum += loss;
            p->first_n++;
        }
        p->loss_ring[t % p->ring] = loss;
        if (curve && (t % tr->o.log_every == 0 || t == T - 1)) {
            double el = now_s() - tstart;
            fprintf(curve, "%lld\t%.6g\t%.6g\t%.1f\n", (long long)t, (double)loss, (double)lr,
                    el > 0 ? (double)(t - t0 + 1) * B / el : 0.0);
        }
        if (progress) {
            double el = now_s() - tstart;
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
    double wall = now_s() - tstart;
    res->steps_done = tr->t;
    res->wall_s = wall;
    res->samples_per_s = wall > 0 ? (double)(tr->t - t0) * B / wall : 0;
    res->head_s = th;
    res->backbone_s = tb;
    res->data_s = tdata;
    int64_t nr = tr->t < p->ring ? tr->t : p->ring;
    double s = 0;
    for (int64_t i = 0; i < nr; i++) s += p->loss_ring[i];
    res->final_loss = nr ? s / (double)nr : NAN;
    res->first_loss = p->first_n ? p->first_sum / (double)p->first_n : NAN;
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
                         tr->head->digest ? tr->head->digest(tr->hst) : 0};
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

/* ---------------------------------------------------------------- checkpoints */

/* Layout (little endian, this machine's float format):
 *   "DCQBCKPT" | u32 version | u32 crc32(payload) | u64 payload bytes | u64 compressed bytes
 *   | u64 config hash | i64 step | zlib(payload)
 * payload = net params | net running | momentum | [ema params | ema running]
 *           | head state | rng shuffle state | rng aug state | loss bookkeeping             */
#define CKPT_MAGIC "DCQBCKPT"
#define CKPT_VERSION 1u

struct ckpt_hdr {
    char magic[8];
    uint32_t version, crc;
    uint64_t raw_bytes, z_bytes, cfg_hash;
    int64_t step;
};

struct span {
    void *p;
    size_t n;
};

static int ckpt_spans(const struct trainer *tr, struct span *sp, void *head_blob, size_t head_n)
{
    struct train_priv *p = tr->priv;
    int k = 0;
    sp[k++] = (struct span){tr->net.params, tr->net.n_params * sizeof(float)};
    sp[k++] = (struct span){tr->net.running, tr->net.n_running * sizeof(float)};
    sp[k++] = (struct span){p->mom, tr->net.n_params * sizeof(float)};
    if (tr->has_ema) {
        sp[k++] = (struct span){tr->ema.params, tr->ema.n_params * sizeof(float)};
        sp[k++] = (struct span){tr->ema.running, tr->ema.n_running * sizeof(float)};
    }
    sp[k++] = (struct span){head_blob, head_n};
    sp[k++] = (struct span){gsl_rng_state(p->r_shuffle), gsl_rng_size(p->r_shuffle)};
    sp[k++] = (struct span){gsl_rng_state(p->r_aug), gsl_rng_size(p->r_aug)};
    sp[k++] = (struct span){p->loss_ring, (size_t)p->ring * sizeof(double)};
    sp[k++] = (struct span){&p->first_sum, sizeof p->first_sum};
    sp[k++] = (struct span){&p->first_n, sizeof p->first_n};
    return k;
}

int trainer_save(const struct trainer *tr, const char *path, struct dcqb_err *err)
{
    size_t head_n = tr->head->state_bytes(tr->hst);
    void *head_blob = malloc(head_n ? head_n : 1);
    if (!head_blob) return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory saving %s", path);
    int rc = tr->head->save(tr->hst, head_blob);
    if (rc) {
        free(head_blob);
        return DCQB_FAIL(err, rc, "head '%s' failed to serialise its state", tr->head->name);
    }
    struct span sp[16];
    int ns = ckpt_spans(tr, sp, head_blob, head_n);
    size_t raw = 0;
    for (int i = 0; i < ns; i++) raw += sp[i].n;
    unsigned char *buf = malloc(raw ? raw : 1);
    uLongf zn = compressBound((uLong)raw);
    unsigned char *z = malloc(zn);
    if (!buf || !z) {
        free(head_blob);
        free(buf);
        free(z);
        return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory saving %s (%zu bytes)", path, raw);
    }
    size_t off = 0;
    for (int i = 0; i < ns; i++) {
        memcpy(buf + off, sp[i].p, sp[i].n);
        off += sp[i].n;
    }
    free(head_blob);
    struct ckpt_hdr h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, CKPT_MAGIC, 8);
    h.version = CKPT_VERSION;
    h.crc = (uint32_t)crc32(0L, buf, (uInt)raw);
    h.raw_bytes = raw;
    h.cfg_hash = tr->cfg_hash;
    h.step = tr->t;
    /* level 1: checkpoints are written often; float noise compresses little anyway */
    if (compress2(z, &zn, buf, (uLong)raw, 1) != Z_OK) {
        free(buf);
        free(z);
        return DCQB_FAIL(err, DCQB_EIO, "%s: compression failed", path);
    }
    free(buf);
    h.z_bytes = zn;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        free(z);
        return DCQB_FAIL(err, DCQB_EIO, "%s: cannot create: %s", tmp, strerror(errno));
    }
    int ok = fwrite(&h, sizeof h, 1, f) == 1 && fwrite(z, 1, zn, f) == zn;
    ok = (fflush(f) == 0) && ok;
    ok = (fclose(f) == 0) && ok;
    free(z);
    if (!ok || rename(tmp, path) != 0) {
        remove(tmp);
        return DCQB_FAIL(err, DCQB_EIO, "%s: write failed: %s", path, strerror(errno));
    }
    return DCQB_OK;
}

int trainer_load(struct trainer *tr, const char *path, struct dcqb_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return DCQB_FAIL(err, DCQB_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct ckpt_hdr h;
    unsigned char *z = NULL, *buf = NULL;
    int rc = DCQB_OK;
    if (fread(&h, sizeof h, 1, f) != 1 || memcmp(h.magic, CKPT_MAGIC, 8) != 0) {
        rc = DCQB_FAIL(err, DCQB_EFORMAT, "%s: not a dcqbench checkpoint", path);
        goto out;
    }
    if (h.version != CKPT_VERSION) {
        rc = DCQB_FAIL(err, DCQB_EFORMAT, "%s: checkpoint version %u, this build reads %u", path,
                       h.version, CKPT_VERSION);
        goto out;
    }
    if (h.cfg_hash != tr->cfg_hash) {
        rc = DCQB_FAIL(err, DCQB_EINVAL, "%s: checkpoint belongs to another configuration "
                       "(config hash differs); start a new run directory", path);
        goto out;
    }
    struct span sp[16];
    size_t head_n = tr->head->state_bytes(tr->hst);
    void *head_blob = NULL;
    int ns = ckpt_spans(tr, sp, NULL, head_n);
    size_t raw = 0;
    for (int i = 0; i < ns; i++) raw += sp[i].n;
    if (h.raw_bytes != raw || h.z_bytes > (uint64_t)compressBound((uLong)raw)) {
        rc = DCQB_FAIL(err, DCQB_EFORMAT, "%s: checkpoint holds %llu bytes, this configuration "
                       "needs %zu", path, (unsigned long long)h.raw_bytes, raw);
        goto out;
    }
    z = malloc(h.z_bytes ? h.z_bytes : 1);
    buf = malloc(raw ? raw : 1);
    if (!z || !buf) {
        rc = DCQB_FAIL(err, DCQB_ENOMEM, "out of memory loading %s", path);
        goto out;
    }
    if (fread(z, 1, h.z_bytes, f) != h.z_bytes) {
        rc = DCQB_FAIL(err, DCQB_EFORMAT, "%s: truncated checkpoint", path);
        goto out;
    }
    uLongf got = (uLongf)raw;
    if (uncompress(buf, &got, z, (uLong)h.z_bytes) != Z_OK || got != raw ||
        (uint32_t)crc32(0L, buf, (uInt)raw) != h.crc) {
        rc = DCQB_FAIL(err, DCQB_EFORMAT, "%s: corrupt checkpoint (CRC or zlib stream)", path);
        goto out;
    }
    size_t off = 0;
    for (int i = 0; i < ns; i++) {
        if (sp[i].p == NULL) head_blob = buf + off; /* the head span */
        else memcpy(sp[i].p, buf + off, sp[i].n);
        off += sp[i].n;
    }
    if ((rc = tr->head->load(tr->hst, head_blob, head_n, err))) goto out;
    tr->t = h.step;
out:
    free(z);
    free(buf);
    fclose(f);
    return rc;
}
