/* memplan.c - see memplan.h. The terms follow the allocations of train.c (trainer_setup's arena),
 * backbone.c (params | grads | running, activation cache), checkpoint.c (save: head blob,
 * payload, compressed payload; load: compressed payload, payload) and eval_rundir.c (the
 * embedded evaluation sets); docs/METHOD.md §8 states the rule and how close it comes. */
#include "memplan.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "data_cfg.h"
#include "fsutil.h"
#include "npy.h"
#include "train.h"
#include "train_keys.h"

/* The process before the run's own allocations: binary, libc, GSL, OpenBLAS and its thread
 * buffer, zlib, stacks. Measured: peak RSS of a 10-step run with a 100-class head and 100
 * distractors, a 64-wide backbone, minus its planned terms (tests/test_memplan.c checks the
 * plan against runs). */
#define MEMPLAN_BASE_BYTES (14.0 * 1024 * 1024)
/* eval_rundir.c embeds in chunks of this many rows (inputs, flipped inputs, two outputs) */
#define EVAL_CHUNK_ROWS 4096.0
/* eval_megaface.c's and eval_io.c's work space: per distractor-ladder size an impostor
 * histogram of 200,000 bins (8 bytes each) and its ROC (far, tar, thr and genuine counts, 32
 * bytes a bin); besides, the top-10 snapshots, the score block, LFW folds: about 8 MB */
#define EVAL_WORK_FIXED (8.0 * 1024 * 1024)
#define EVAL_WORK_PER_SIZE (40.0 * 200000)

/* A copy of src: planning reads keys through the same getters as trainer_setup, which record
 * defaults in the cfg; the caller's cfg must not see them (a head's default at a small class
 * count would become the run's key). */
static int cfg_clone(struct cfg *dst, const struct cfg *src, struct dcqb_err *err)
{
    memset(dst, 0, sizeof *dst);
    for (int i = 0; i < src->n; i++) {
        const struct cfg_entry *e = &src->e[i];
        int rc = cfg_set(dst, e->key, e->val, e->src, e->line, err);
        if (rc) return rc;
    }
    return DCQB_OK;
}

static double mem_available(int *faked)
{
    const char *env = getenv("DCQB_MEM_AVAILABLE_MB");
    *faked = env && *env;
    return *faked ? strtod(env, NULL) * 1024.0 * 1024.0 : fs_mem_available();
}

/* The training data: class sizes (C), N, Din, and the data's bytes; eval set sizes for
 * synthetic data (eval --run refuses .npy runs). *sizes is malloc'ed. */
struct plan_data {
    int32_t *sizes;
    int64_t C, N, P, M, H, dist, VP, VD; /* VP, VD: validation probes and distractors */
    int Din, tail;
    double bytes;
};

static int plan_npy(struct plan_data *d, const struct train_settings *ks, struct dcqb_err *err)
{
    if (!ks->train_x || !ks->train_y)
        return DCQB_FAIL(err, DCQB_EINVAL, "train_x and train_y go together");
    struct npy_info xi;
    int32_t *y = NULL;
    int64_t ny = 0;
    int rc = npy_read_info(&xi, ks->train_x, err);
    if (rc || (rc = npy_read_i32(&y, &ny, ks->train_y, err))) return rc;
    int32_t mx = -1;
    for (int64_t i = 0; i < ny; i++)
        if (y[i] > mx) mx = y[i];
    d->C = (int64_t)mx + 1;
    d->N = xi.rows;
    d->Din = (int)xi.cols;
    if (d->C < 1 || !(d->sizes = calloc((size_t)d->C, sizeof *d->sizes))) {
        free(y);
        return d->C < 1 ? DCQB_FAIL(err, DCQB_EINVAL, "%s: no labels", ks->train_y)
                        : DCQB_FAIL(err, DCQB_ENOMEM, "memory plan: out of memory");
    }
    for (int64_t i = 0; i < ny; i++)
        if (y[i] >= 0) d->sizes[y[i]]++;
    free(y);
    /* trainset_from_npy: x (N, D), rows (N) and the labels while grouping, offsets, sizes */
    d->bytes = 4.0 * (double)d->N * d->Din + 12.0 * (double)d->N + 12.0 * (double)d->C;
    return DCQB_OK;
}

static int plan_synth(struct plan_data *d, struct cfg *c, struct dcqb_err *err)
{
    struct synth_cfg scfg;
    struct synth *syn = NULL;
    int rc = synth_cfg_from_cfg(&scfg, c, err);
    if (rc) return rc;
    /* eval --run's keys (eval_rundir.c): eval.distractors (0: all), eval.tail (default 1); a run
     * whose evaluation would be refused is refused before it trains */
    const struct cfg_entry *e = cfg_find(c, "eval.distractors");
    long long nd = e ? strtoll(e->val, NULL, 10) : 0;
    if ((rc = synth_check_eval_distractors(&scfg, nd, err)) ||
        (rc = synth_create(&syn, &scfg, err)))
        return rc;
    d->C = synth_num_classes(syn);
    d->N = synth_num_train(syn);
    d->Din = scfg.x_dim;
    d->P = synth_num_probe_images(syn);
    d->M = scfg.lfw_pairs;
    d->dist = scfg.distractors;
    d->VP = synth_num_val_probe_images(syn);
    d->VD = scfg.val_distractors;
    if (!(d->sizes = malloc((size_t)d->C * sizeof *d->sizes))) {
        synth_free(syn);
        return DCQB_FAIL(err, DCQB_ENOMEM, "memory plan: out of memory");
    }
    for (int64_t k = 0; k < d->C; k++) {
        d->sizes[k] = synth_train_size(syn, k);
        if (scfg.holdout) d->H += synth_class_size(syn, k) - d->sizes[k];
    }
    synth_free(syn);
    /* synth: size (4) and offset (8) per class; trainset: sizes (4). The renderer is in base. */
    d->bytes = 16.0 * (double)d->C;
    if (nd > 0 && nd < d->dist) d->dist = nd;
    e = cfg_find(c, "eval.tail");
    d->tail = !(e && (strcmp(e->val, "0") == 0 || strcmp(e->val, "false") == 0));
    return DCQB_OK;
}

/* Open head `name` at c classes and read its figures (bytes_slope: cost()'s per class). */
static int head_figures(struct memplan_head *f, const char *name, const struct head_cfg *base,
                        int64_t c, int B, struct dcqb_err *err)
{
    struct head_cfg hc = *base;
    hc.C = c;
    struct head h;
    int rc = head_open(&h, name, &hc, err);
    if (rc) return rc;
    struct head_cost cost;
    head_cost(&h, B, &cost);
    f->per_class = f->bytes_slope = cost.per_class_bytes;
    f->fixed = cost.fixed_bytes;
    f->bytes = cost.per_class_bytes * (double)c + cost.fixed_bytes;
    f->state = (double)head_state_bytes(&h);
    f->flops = cost.flops;
    f->active = (double)cost.active_classes;
    f->req = h.req;
    head_close(&h);
    return DCQB_OK;
}

int memplan_head_at(struct memplan_head *out, const char *name, const struct head_cfg *cfg,
                    int64_t C, int B, struct dcqb_err *err)
{
    int64_t c1 = (int64_t)ceil(2.0 * B / (cfg->ratio > 0 ? cfg->ratio : 1));
    if (c1 < 2000) c1 = 2000;
    struct memplan_head f1, f2;
    int rc = DCQB_EINVAL;
    if (2 * c1 < C) {
        struct dcqb_err ignored = {0};
        rc = head_figures(&f1, name, cfg, c1, B, &ignored);
        if (!rc) rc = head_figures(&f2, name, cfg, 2 * c1, B, &ignored);
    }
    if (rc) { /* small class count, or refused at the small ones: C itself */
        if ((rc = head_figures(out, name, cfg, C, B, err))) return rc;
        struct dcqb_err ignored = {0}; /* the slope from C / 2 when the head opens there */
        if (C >= 4 && !head_figures(&f1, name, cfg, C / 2, B, &ignored))
            out->bytes_slope = (out->bytes - f1.bytes) / (double)(C - C / 2);
        return DCQB_OK;
    }
    /* each figure on the line through (c1, f1) and (2 c1, f2), at C */
#define AT_C(x) (f1.x + (f2.x - f1.x) / (double)c1 * (double)(C - c1))
    *out = f2;
    out->bytes = AT_C(bytes);
    out->bytes_slope = (f2.bytes - f1.bytes) / (double)c1;
    out->fixed = AT_C(fixed);
    out->state = AT_C(state);
    out->flops = AT_C(flops);
    out->active = AT_C(active);
#undef AT_C
    return DCQB_OK;
}

/* The head at C (memplan_head_at) with the run's class sizes (frequency proposals read them). */
static int plan_head(struct memplan *p, struct head_req *req, const char *name,
                     const struct head_cfg *hc, const int32_t *sizes, struct dcqb_err *err)
{
    struct head_cfg base = *hc;
    base.class_counts = sizes;
    struct memplan_head f;
    int rc = memplan_head_at(&f, name, &base, p->C, p->B, err);
    if (rc) return rc;
    p->head = f.bytes;
    p->head_state = f.state;
    p->head_fixed = f.fixed;
    p->head_per_class = f.per_class;
    p->flops_per_step = f.flops;
    *req = f.req;
    return DCQB_OK;
}

/* Bytes of one backbone at max_batch rows: params | grads | running, and the activation cache
 * (backbone.c: per layer xhat, u, a and the BN vectors; the input copy; four (B, maxw) work
 * buffers). */
static double backbone_bytes(const struct backbone *net, int rows)
{
    const struct backbone_cfg *b = &net->cfg;
    double maxw = b->in_dim > b->hidden ? b->in_dim : b->hidden;
    if (b->emb_dim > maxw) maxw = b->emb_dim;
    double widths = (double)b->hidden * b->depth + b->emb_dim;
    return 4.0 * (2.0 * (double)net->n_params + (double)net->n_running) +
           4.0 * ((double)rows * (3.0 * widths + b->in_dim + 4.0 * maxw) + 2.0 * widths);
}

static int plan_nets(struct memplan *p, const struct train_settings *ks, int Din, int has_ema,
                     int kshot, int kshot_fwd, struct dcqb_err *err)
{
    struct backbone_cfg bcfg = ks->net;
    bcfg.in_dim = Din;
    struct backbone net;
    memset(&net, 0, sizeof net);
    int rc = backbone_init(&net, &bcfg, 1, 1, err);
    if (rc) return rc;
    int B = p->B, kB = kshot * B, d = bcfg.emb_dim;
    double np = (double)net.n_params, nr = (double)net.n_running;
    p->nets = backbone_bytes(&net, B) + (has_ema ? backbone_bytes(&net, kB) : 0);
    /* trainer_setup's arena: momentum, x, xk, e, q, dq, de, k (B, d), ek (kB, d), norms, ids */
    p->step_bufs = 4.0 * np + 4.0 * (double)(B + kB) * Din + 4.0 * d * (6.0 * B + kB) +
                   24.0 * B;
    /* checkpoint payload: net params, running, momentum, [ema params, running], head state */
    double raw = 4.0 * (2.0 * np + nr + (has_ema ? np + nr : 0)) + p->head_state;
    /* save: the head blob and the payload, then (blob freed) the payload and its compressed
     * copy, which float noise barely shrinks; load: compressed payload and payload */
    p->ckpt = 2.0 * raw;
    p->load = 2.0 * raw;
    /* backbone FLOPs per step as the summary counts them (forward + backward ~ 3x the
     * forward; each key forward of the EMA network adds one), on top of the head's */
    p->flops_per_step += backbone_flops_per_sample(&net) * B * (3.0 + (kshot_fwd ? kshot : 0));
    backbone_free(&net);
    return DCQB_OK;
}

static int plan_run(struct memplan *p, struct cfg *c, struct plan_data *d, struct dcqb_err *err)
{
    struct train_settings ks;
    train_settings_defaults(&ks);
    int rc = train_settings_read(&ks, c, err);
    if (rc) return rc;
    rc = ks.train_x || ks.train_y ? plan_npy(d, &ks, err) : plan_synth(d, c, err);
    if (rc) return rc;
    p->C = d->C;
    p->N = d->N;
    p->B = ks.o.batch;
    p->threads = ks.o.threads > 0 ? ks.o.threads : 1;
    p->steps = ks.epochs > 0 ? (int64_t)ceil(ks.epochs * (double)d->N / p->B) : ks.o.steps;
    p->data = d->bytes;

    struct head_cfg hc = ks.head;
    hc.D = ks.net.emb_dim;
    hc.max_batch = p->B;
    hc.optim = ks.o.optim;
    hc.seed = dcqb_stream_seed(ks.o.seed, DCQB_STREAM_HEAD);
    hc.threads = ks.o.threads;
    train_head_keys(&hc, c);
    /* a default a head notes at a small class count (dcq's queue_len) must not become a key
     * the next open reads */
    hc.note_default = NULL;
    struct head_req req;
    if ((rc = plan_head(p, &req, ks.head_name, &hc, d->sizes, err))) return rc;
    /* any head keeps an EMA copy when the config asks for one (`ema = 1`) */
    const struct cfg_entry *ema = cfg_find(c, "ema");
    int has_ema = req.ema || req.pairs || (ema && strcmp(ema->val, "0") != 0);
    int kshot = req.kshot > 0 ? req.kshot : 1;
    if ((rc = plan_nets(p, &ks, d->Din, has_ema, kshot, req.pairs, err))) return rc;

    int dim = ks.net.emb_dim;
    p->n_distractors = d->dist;
    if (!(ks.train_x || ks.train_y)) {
        /* kept embeddings and labels: probes, distractors, pair sides, held-out images and
         * class means; while the means are summed, a (C, d + 1) double accumulator */
        double rows = (double)(d->P + d->dist + 2 * d->M + d->VP + d->VD) +
                      (d->tail ? (double)(d->H + d->C) : 0);
        /* with an EMA network the other network embeds the probes and distractors again
         * (rank-1 of each network, eval_rundir.c) */
        if (has_ema) rows += (double)(d->P + d->dist);
        p->eval_sets = 4.0 * (dim + 1.0) * rows + (d->tail ? 8.0 * (dim + 1.0) * d->C : 0) +
                       4.0 * EVAL_CHUNK_ROWS * (2.0 * d->Din + 2.0 * dim) + EVAL_WORK_FIXED;
        int sizes = 1; /* the ladder 10, 100, ... below the set's size, and the size itself */
        for (double n = 10; n < (double)d->dist; n *= 10) sizes++;
        p->eval_sets += EVAL_WORK_PER_SIZE * sizes;
    }
    return DCQB_OK;
}

int memplan_make(struct memplan *p, const struct cfg *cfg, struct dcqb_err *err)
{
    memset(p, 0, sizeof *p);
    struct cfg c;
    struct plan_data d;
    memset(&d, 0, sizeof d);
    int rc = cfg_clone(&c, cfg, err);
    if (!rc) rc = plan_run(p, &c, &d, err);
    free(d.sizes);
    cfg_free(&c);
    if (rc) return rc;
    p->base = MEMPLAN_BASE_BYTES;
    double held = p->base + p->data + p->nets + p->step_bufs + p->head;
    p->train_peak = held + p->ckpt;
    /* eval --run sets the trainer up, loads the checkpoint (freed after), then embeds */
    p->eval_peak = p->eval_sets > 0 ? held + (p->load > p->eval_sets ? p->load : p->eval_sets)
                                    : 0;
    p->peak = p->train_peak > p->eval_peak ? p->train_peak : p->eval_peak;
    p->avail = mem_available(&p->avail_faked);
    p->s_per_step = p->flops_per_step / (MEMPLAN_NOMINAL_FLOPS * p->threads);
    p->est_s = p->s_per_step * (double)p->steps;
    return DCQB_OK;
}

int memplan_verdict(const struct memplan *p)
{
    if (!(p->avail > 0)) return MEMPLAN_FITS;
    if (p->peak > p->avail) return MEMPLAN_REFUSE;
    return p->peak > MEMPLAN_WARN_FRAC * p->avail ? MEMPLAN_WARN : MEMPLAN_FITS;
}

int memplan_wants_probe(const struct memplan *p)
{
    const char *env = getenv("DCQB_PLAN_PROBE_MIN_S");
    double min_s = env && *env ? strtod(env, NULL) : MEMPLAN_PROBE_MIN_S;
    return p->est_s > min_s;
}

int memplan_probe(struct memplan *p, const struct cfg *cfg, int steps, struct dcqb_err *err)
{
    struct cfg c;
    struct trainer tr;
    memset(&tr, 0, sizeof tr);
    int rc = cfg_clone(&c, cfg, err);
    if (!rc) rc = trainer_setup(&tr, &c, err);
    float loss = 0;
    if (!rc) rc = trainer_step(&tr, 0, &loss, err); /* warm-up: first touch of every buffer */
    double t0 = dcqb_now_s();
    for (int t = 1; !rc && t <= steps; t++) rc = trainer_step(&tr, t, &loss, err);
    double dt = dcqb_now_s() - t0;
    trainer_free(&tr);
    cfg_free(&c);
    if (rc) return rc;
    p->s_per_step = dt / (steps > 0 ? steps : 1);
    p->est_s = p->s_per_step * (double)p->steps;
    p->probed = 1;
    return DCQB_OK;
}

void memplan_format(char *buf, size_t n, const struct memplan *p)
{
    const double G = 1024.0 * 1024.0 * 1024.0;
    int k = snprintf(buf, n, "peak %.2f GiB (train %.2f GiB, eval %.2f GiB at %lld distractors; "
                     "head %.2f GiB)", p->peak / G, p->train_peak / G, p->eval_peak / G,
                     (long long)p->n_distractors, p->head / G);
    if (k < 0 || (size_t)k >= n) return;
    if (p->avail > 0)
        snprintf(buf + k, n - (size_t)k, " of %.2f GiB %s (%.0f %%)", p->avail / G,
                 p->avail_faked ? "DCQB_MEM_AVAILABLE_MB" : "MemAvailable",
                 100.0 * p->peak / p->avail);
    else
        snprintf(buf + k, n - (size_t)k, "; MemAvailable unknown");
}
