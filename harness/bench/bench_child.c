/* bench_child.c - see bench_child.h: what the forked child of the head cost benchmark measures
 * for one configuration (bench.h describes the phases; bench.c plans, forks and writes rows).
 * This file includes <cblas.h> (thread count, kernel name): no GSL randist/matrix header here.
 */
#include "bench_child.h"

#include <cblas.h>
#include <math.h>
#include <time.h>

#include "alloc_count.h"
#include "isa.h"
#include "ops.h"
#include "train.h"

/* ---- small helpers ------------------------------------------------------------------------ */

/* CPU seconds of all threads of this process (wall time is dcqb_now_s). */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* median of t[0..n) (sorts t) */
static double median(double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

static void fill_pattern(float *x, size_t n, uint64_t seed, float lo, float hi)
{
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * (float)((dcqb_splitmix64(&s) >> 40) * (1.0 / 16777216.0));
}

static void fill_unit_rows(float *x, int n, int d, uint64_t seed)
{
    fill_pattern(x, (size_t)n * d, seed, -1.0f, 1.0f);
    l2norm_forward(x, NULL, x, n, d, L2NORM_F64_SCALE);
}

/* ---- the phases --------------------------------------------------------------------------- */

static int choose_reps(double flops, int threads, const struct bench_cfg *cfg, int *warm)
{
    double est = flops / (BENCH_EST_RATE * threads);
    int reps = cfg->reps;
    if (est > 0 && est * reps > cfg->phase_budget_s) reps = (int)(cfg->phase_budget_s / est);
    /* at least 3 timed steps, 2 for multi-second steps (C = 1e6-1e7), which a median of 2 still
     * describes well next to their size; keeps `make bench` within 15 minutes */
    int min_reps = est > 2.0 ? 2 : 3;
    if (reps < min_reps) reps = min_reps;
    if (reps > cfg->reps && cfg->reps >= 1) reps = cfg->reps;
    *warm = est > 1.0 ? 1 : 2;
    return reps;
}

int bench_train_cfg(struct cfg *c, const char *head, int64_t C, int d, int B, int threads,
                    double ratio, uint64_t seed, int64_t steps, struct dcqb_err *err)
{
    char v[7][32];
    snprintf(v[0], sizeof v[0], "%lld", (long long)C);
    snprintf(v[1], sizeof v[1], "%d", d);
    snprintf(v[2], sizeof v[2], "%d", B);
    snprintf(v[3], sizeof v[3], "%d", threads);
    dcqb_fmt_double(v[4], sizeof v[4], ratio, 0);
    snprintf(v[5], sizeof v[5], "%llu", (unsigned long long)seed);
    snprintf(v[6], sizeof v[6], "%lld", (long long)steps);
    /* one image per identity: instance-balanced sampling is uniform over the C classes; a
     * fixed small lr keeps the timed steps far from divergence */
    const char *const kv[][2] = {
        {"head", head},   {"profile", "uniform"}, {"uniform_n", "1"},         {"ids", v[0]},
        {"dim", v[1]},    {"batch", v[2]},        {"threads", v[3]},          {"ratio", v[4]},
        {"seed", v[5]},   {"steps", v[6]},        {"lr", "0.001"},            {"warmup", "0"},
        {"lr_schedule", "constant"},              {"ckpt_every", "0"}};
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++) {
        int rc = cfg_set(c, kv[i][0], kv[i][1], "bench", 0, err);
        if (rc) return rc;
    }
    return DCQB_OK;
}

int bench_time_step(struct trainer *tr, int warm, int reps, double *wall, float *first_loss,
                    long *allocs, struct dcqb_err *err)
{
    alloc_count_enable(0);
    for (int r = -warm; r < reps; r++) {
        float loss;
        if (r == 0) alloc_count_enable(1);
        double w0 = dcqb_now_s();
        int rc = trainer_step(tr, r + warm, &loss, err);
        if (r >= 0) wall[r] = dcqb_now_s() - w0;
        if (rc) {
            alloc_count_enable(0);
            return rc;
        }
        if (r == -warm && first_loss) *first_loss = loss;
    }
    *allocs = alloc_count_available() ? alloc_count_get() : -1;
    alloc_count_enable(0);
    return DCQB_OK;
}

/* Step count of the total phase: as many timed steps as the head phase, fewer when a step
 * takes seconds (the head's share dominates there and the head phase has the longer median);
 * one untimed warm-up step first. */
static int step_reps(double flops, int threads, int reps)
{
    double est = flops / (BENCH_EST_RATE * threads);
    int n = reps > 3 ? reps : 3;
    if (est > 1.0) n = 2;
    if (est > 2.0) n = 1;
    return n > reps ? reps : n;
}

/* The head alone, after time_step on the same trainer: forward_backward + step on fixed random
 * unit embeddings (and keys for pair heads), labels uniform over the C classes, BENCH_NLAB
 * label batches in rotation. Fills head_ms, head_min_ms, head_cpu_ms, head_gflops, K and
 * head_allocs. tw, tc: (reps) scratch. */
static int time_head(struct trainer *tr, const struct bench_cfg *cfg, int warm, int reps,
                     double *tw, double *tc, struct bench_row *row, struct dcqb_err *err)
{
    const int B = row->B, d = row->d;
    /* one allocation: emb q, key k, demb dq (B,d); labels (NLAB,B) */
    float *buf = malloc(sizeof(float) * (3 * (size_t)B * d + (size_t)BENCH_NLAB * B));
    if (!buf) return DCQB_FAIL(err, DCQB_ENOMEM, "cannot allocate bench buffers");
    float *q = buf, *k = q + (size_t)B * d, *dq = k + (size_t)B * d;
    int32_t *lab = (int32_t *)(dq + (size_t)B * d);
    fill_unit_rows(q, B, d, cfg->seed * 7 + 1);
    fill_unit_rows(k, B, d, cfg->seed * 7 + 2);
    uint64_t ls = cfg->seed * 7 + 5;
    /* labels uniform over the C classes (class-balanced set, instance-balanced sampling) */
    for (size_t i = 0; i < (size_t)BENCH_NLAB * B; i++)
        lab[i] = (int32_t)(dcqb_splitmix64(&ls) % (uint64_t)row->C);
    const float *key = tr->head.req.pairs ? k : NULL;
    const int64_t t0 = tr->o.steps; /* the head's step count goes on after time_step's */
    int rc = DCQB_OK;
    float loss;
    alloc_count_enable(0);
    for (int r = -warm; r < reps && !rc; r++) {
        const int32_t *y = lab + (size_t)((r + warm) % BENCH_NLAB) * B;
        if (r == 0) alloc_count_enable(1);
        double w0 = dcqb_now_s(), c0 = cpu_s();
        memset(dq, 0, sizeof(float) * (size_t)B * d);
        rc = head_forward_backward(&tr->head, &loss, dq, q, key, y, B, err);
        if (!rc) rc = head_step(&tr->head, 1e-3f, t0 + r + warm, err);
        double w1 = dcqb_now_s(), c1 = cpu_s();
        if (r >= 0) tw[r] = w1 - w0, tc[r] = c1 - c0;
    }
    long allocs = alloc_count_get();
    alloc_count_enable(0);
    free(buf);
    if (rc) return rc;
    row->head_allocs = alloc_count_available() ? allocs : -1;
    struct head_cost hc;
    head_cost(&tr->head, B, &hc); /* after steps: heads whose K varies (sampled) report the last */
    row->K = hc.active_classes;
    row->head_ms = 1e3 * median(tw, reps);
    row->head_min_ms = 1e3 * tw[0]; /* median() sorted tw */
    row->head_cpu_ms = 1e3 * median(tc, reps);
    row->head_gflops = hc.flops / (row->head_ms * 1e-3) / 1e9;
    return DCQB_OK;
}

/* The backbone's GEMM shapes in a training step (algorithms/backbone.c): layer l maps in[l] to
 * out[l] columns; forward over B rows, backward dW for every layer and dX for every layer but
 * the first (with beta 1 where the block is residual), and for pair heads the EMA copy's key
 * forward over key_rows = kshot B rows; the widths from backbone_layer_shape, the one
 * statement of them that backbone_init reads too. */
#define BENCH_MAX_LAYERS 65 /* backbone_init: depth <= 64 */
struct step_shapes {
    int L, key_rows, maxw;
    int in[BENCH_MAX_LAYERS], out[BENCH_MAX_LAYERS], residual[BENCH_MAX_LAYERS];
    size_t w_floats; /* sum of in x out */
};

static int step_shapes_of(struct step_shapes *s, const struct trainer *tr, int B,
                          struct dcqb_err *err)
{
    const struct backbone_cfg *c = &tr->net.cfg;
    memset(s, 0, sizeof *s);
    s->L = c->depth + 1;
    if (s->L > BENCH_MAX_LAYERS)
        return DCQB_FAIL(err, DCQB_EINVAL, "backbone depth %d over the bench's %d layers",
                         c->depth, BENCH_MAX_LAYERS - 1);
    s->key_rows = tr->head.req.pairs ? tr->head.req.kshot * B : 0;
    for (int l = 0; l < s->L; l++) {
        const struct backbone_layer_shape sh = backbone_layer_shape(c, l);
        s->in[l] = sh.in;
        s->out[l] = sh.out;
        s->residual[l] = sh.residual;
        if (s->in[l] > s->maxw) s->maxw = s->in[l];
        if (s->out[l] > s->maxw) s->maxw = s->out[l];
        s->w_floats += (size_t)s->in[l] * s->out[l];
    }
    return DCQB_OK;
}

/* The bound's and the step's GEMM operands, one allocation: the head's W (K,d), its gradient
 * (K,d), logits (B,K), embeddings and their gradient (B,d); the backbone's weights, weight
 * gradients and the EMA copy's weights (each sum in x out); activations of the B training rows
 * and of the key rows (the input and every layer's output); two (B, maxw) gradient buffers. */
struct gemm_bufs {
    float *W, *O, *Lg, *A, *D;
    float *bw, *bg, *be, *act, *kact, *g, *t;
    size_t act_n, kact_n;
    float *all;
};

static int gemm_bufs_alloc(struct gemm_bufs *b, const struct step_shapes *s, int B, int64_t K,
                           int d, struct dcqb_err *err)
{
    size_t KD = (size_t)K * d, BK = (size_t)B * K, BD = (size_t)B * d, cols = 0;
    for (int l = 0; l < s->L; l++) cols += (size_t)s->in[l];
    cols += (size_t)s->out[s->L - 1];
    b->act_n = (size_t)B * cols;
    b->kact_n = (size_t)s->key_rows * cols;
    size_t n = 2 * KD + BK + 2 * BD + 3 * s->w_floats + b->act_n + b->kact_n +
               2 * (size_t)B * s->maxw;
    b->all = malloc(sizeof(float) * n);
    if (!b->all)
        return DCQB_FAIL(err, DCQB_ENOMEM, "cannot allocate %.2f GB for the GEMM bound",
                         4.0 * (double)n / 1e9);
    b->W = b->all, b->O = b->W + KD, b->Lg = b->O + KD, b->A = b->Lg + BK, b->D = b->A + BD;
    b->bw = b->D + BD, b->bg = b->bw + s->w_floats, b->be = b->bg + s->w_floats;
    b->act = b->be + s->w_floats, b->kact = b->act + b->act_n;
    b->g = b->kact + b->kact_n, b->t = b->g + (size_t)B * s->maxw;
    fill_pattern(b->W, KD, 11, -0.05f, 0.05f);
    fill_pattern(b->Lg, BK, 12, -1e-3f, 1e-3f);
    fill_pattern(b->A, BD, 13, -0.1f, 0.1f);
    memset(b->D, 0, sizeof(float) * BD);
    memset(b->O, 0, sizeof(float) * KD);
    fill_pattern(b->bw, s->w_floats, 14, -0.05f, 0.05f);
    memcpy(b->be, b->bw, sizeof(float) * s->w_floats);
    memset(b->bg, 0, sizeof(float) * s->w_floats);
    fill_pattern(b->act, b->act_n, 15, -1.0f, 1.0f);
    if (b->kact_n) fill_pattern(b->kact, b->kact_n, 16, -1.0f, 1.0f);
    fill_pattern(b->g, 2 * (size_t)B * s->maxw, 17, -1e-3f, 1e-3f);
    return DCQB_OK;
}

/* The GEMM helpers below return the FLOPs they ran, counted next to each call, so the step's
 * GFLOP/s (and the test that checks its count) follows what the timed loop does. */

/* The head's n_gemm GEMMs: logits (B,K) = A W^T (overwrites the logits like the head does),
 * then d emb (B,d) += G W and dW (K,d) = G^T A. */
static double head_gemms(const struct gemm_bufs *b, int ng, int B, int K, int d)
{
    const double f = 2.0 * B * (double)K * d;
    matmul_bd_kd_to_bk(b->Lg, b->A, b->W, B, K, d, 1.0f, 0.0f);
    if (ng >= 2) matmul_bk_kd_to_bd(b->D, b->Lg, b->W, B, K, d, 1.0f, 1.0f);
    if (ng >= 3) matmul_bk_bd_to_kd(b->O, b->Lg, b->A, B, K, d, 1.0f, 0.0f);
    return f * (ng < 3 ? ng : 3);
}

/* One forward of the backbone's linear layers over `rows` rows: act holds the input and then
 * every layer's output, side by side. */
static double backbone_fwd_gemms(const struct step_shapes *s, const float *w, float *act,
                                 int rows)
{
    size_t wo = 0;
    float *x = act;
    double f = 0;
    for (int l = 0; l < s->L; l++) {
        float *y = x + (size_t)rows * s->in[l];
        matmul_bd_kd_to_bk(y, x, w + wo, rows, s->out[l], s->in[l], 1.0f, 0.0f);
        f += 2.0 * rows * s->out[l] * s->in[l];
        wo += (size_t)s->in[l] * s->out[l];
        x = y;
    }
    return f;
}

/* The backbone's backward GEMMs over B rows, last layer first: dW (out,in) += dH^T x, and
 * dX (B,in) = dH W (+ the skip path's gradient when residual) for every layer but the first.
 * dH is the fixed pattern in t: the shapes, not the values, set the time. */
static double backbone_bwd_gemms(const struct step_shapes *s, const struct gemm_bufs *b, int B)
{
    double f = 0;
    size_t wo[BENCH_MAX_LAYERS], ao[BENCH_MAX_LAYERS], w = 0, a = 0;
    for (int l = 0; l < s->L; l++) {
        wo[l] = w, ao[l] = a;
        w += (size_t)s->in[l] * s->out[l];
        a += (size_t)B * s->in[l];
    }
    for (int l = s->L - 1; l >= 0; l--) {
        const int o = s->out[l], in = s->in[l];
        matmul_bk_bd_to_kd(b->bg + wo[l], b->t, b->act + ao[l], B, o, in, 1.0f, 1.0f);
        f += 2.0 * B * o * in;
        if (l > 0) {
            matmul_bk_kd_to_bd(b->g, b->t, b->bw + wo[l], B, o, in, 1.0f,
                               s->residual[l] ? 1.0f : 0.0f);
            f += 2.0 * B * o * in;
        }
    }
    return f;
}

/* The head's GEMMs alone (bound), then the whole step's GEMMs (step), after the head is gone
 * (bench.h). Fills the gemm_* and step_* columns, bound_allocs and the ratios (head_ms,
 * total_ms and total_min_ms must be known). tw: (reps) scratch. */
static int time_gemm_bound(const struct step_shapes *ss, int n_gemm, int reps, double total_min_ms,
                           double *tw, struct bench_row *row, struct dcqb_err *err)
{
    const int B = row->B, d = row->d, ng = n_gemm, K = (int)row->K;
    row->n_gemm = ng;
    struct gemm_bufs b = {0};
    int rc = gemm_bufs_alloc(&b, ss, B, row->K, d, err);
    if (rc) return rc;
    alloc_count_enable(0);
    for (int r = -1; r < reps; r++) {
        if (r == 0) alloc_count_enable(1);
        double w0 = dcqb_now_s();
        head_gemms(&b, ng, B, K, d);
        if (r >= 0) tw[r] = dcqb_now_s() - w0;
    }
    row->bound_allocs = alloc_count_available() ? alloc_count_get() : -1;
    alloc_count_enable(0);
    row->gemm_bound_ms = 1e3 * median(tw, reps);
    row->gemm_min_ms = 1e3 * tw[0]; /* median() sorted tw */
    row->gemm_gflops = 2.0 * ng * B * (double)K * d / (row->gemm_bound_ms * 1e-3) / 1e9;
    row->bound_ratio = row->head_ms / row->gemm_bound_ms;
    /* best step over best bound: noise on a shared machine only ever adds time, so the pair of
     * minima is the steadier estimate of the same ratio; both are reported */
    row->min_ratio = row->head_min_ms / row->gemm_min_ms;
    /* the whole step's GEMMs in training's order: key forward, forward, head, backward */
    double flops = 0;
    for (int r = -1; r < reps; r++) {
        double w0 = dcqb_now_s();
        flops = 0;
        if (ss->key_rows) flops += backbone_fwd_gemms(ss, b.be, b.kact, ss->key_rows);
        flops += backbone_fwd_gemms(ss, b.bw, b.act, B);
        flops += head_gemms(&b, ng, B, K, d);
        flops += backbone_bwd_gemms(ss, &b, B);
        if (r >= 0) tw[r] = dcqb_now_s() - w0;
    }
    free(b.all);
    row->step_bound_ms = 1e3 * median(tw, reps);
    row->step_min_ms = 1e3 * tw[0];
    row->step_gflops = flops / (row->step_bound_ms * 1e-3) / 1e9;
    row->step_ratio = row->total_ms / row->step_bound_ms;
    row->step_min_ratio = total_min_ms / row->step_min_ms;
    return DCQB_OK;
}

/* Heap bytes a head of this configuration holds after head_open (hc with no key callbacks:
 * the head's defaults, ratio as given); NaN when counting is off (sanitizers) or open fails. */
static double head_bytes(const char *name, const struct head_cfg *base, double ratio)
{
    if (!alloc_count_available()) return NAN;
    struct head_cfg hc = *base;
    hc.param = NULL;
    hc.note_default = NULL;
    hc.param_ctx = NULL;
    hc.ratio = ratio;
    struct head h;
    struct dcqb_err e = {0};
    memset(&h, 0, sizeof h);
    alloc_count_enable(1);
    int rc = head_open(&h, name, &hc, &e);
    long b = alloc_count_bytes();
    alloc_count_enable(0);
    head_close(&h);
    return rc ? NAN : (double)b;
}

/* A pair head (dcq) again at a fixed queue length: its memory and head step time as C grows
 * with L fixed (docs/METHOD.md §6). Swaps tr->head; the trainer is freed right after. */
static int fixed_l_phase(struct trainer *tr, const struct bench_cfg *cfg, int warm, int reps,
                         double *tw, struct bench_row *row, struct dcqb_err *err)
{
    row->fixed_l = (double)(row->C < BENCH_FIXED_L ? row->C : BENCH_FIXED_L);
    double ratio = row->fixed_l / (double)row->C;
    row->head_bytes_fixed_l = head_bytes(row->head, &tr->hcfg, ratio);
    struct head_cfg hc = tr->hcfg;
    hc.param = NULL;
    hc.note_default = NULL;
    hc.param_ctx = NULL;
    hc.ratio = ratio;
    head_close(&tr->head);
    int rc = head_open(&tr->head, row->head, &hc, err);
    if (rc) return rc;
    struct bench_row scratch = *row;
    rc = time_head(tr, cfg, warm, reps, tw, tw + reps + 1, &scratch, err);
    if (!rc) row->head_ms_fixed_l = scratch.head_ms;
    return rc;
}

void bench_child_run(const struct bench_cfg *cfg, int n_gemm, struct bench_row *row)
{
    struct dcqb_err err = {0};
    const int B = row->B, T = row->threads;
    /* the row's ISA path, before any kernel of this process runs (bench.c checked the name) */
    if (dcqb_isa_set(row->isa, &err)) {
        snprintf(row->status, sizeof row->status, "failed");
        snprintf(row->err_msg, sizeof row->err_msg, "%.200s", err.msg);
        return;
    }
    snprintf(row->isa, sizeof row->isa, "%s", dcqb_isa_name(dcqb_isa()));
    openblas_set_num_threads(T);
    snprintf(row->blas_core, sizeof row->blas_core, "%s", openblas_get_corename());
    row->head_allocs = row->allocs_in_loop = row->bound_allocs = -1;
    row->head_bytes = row->fixed_l = row->head_bytes_fixed_l = row->head_ms_fixed_l = NAN;
    row->ema_bytes = 0;
    struct trainer tr;
    memset(&tr, 0, sizeof tr);
    struct cfg tc = {0};
    double *tw = NULL;
    int rc;
    /* a run as long as the most steps time_step takes (one warm-up + cfg->reps) */
    if ((rc = bench_train_cfg(&tc, row->head, row->C, row->d, B, T, cfg->ratio, cfg->seed,
                              1 + (cfg->reps > 3 ? cfg->reps : 3), &err)))
        goto out;
    if ((rc = trainer_setup(&tr, &tc, &err))) goto out;
    struct head_cost hc;
    head_cost(&tr.head, B, &hc);
    row->K = hc.active_classes;
    row->per_class_bytes = hc.per_class_bytes;
    row->fixed_bytes = hc.fixed_bytes;
    if (tr.has_ema) row->ema_bytes = (double)tr.ema.n_params * sizeof(float);
    int warm, reps = choose_reps(hc.flops, T, cfg, &warm), sreps = step_reps(hc.flops, T, reps);
    row->reps = reps;
    tw = malloc(sizeof(double) * 2 * (size_t)(reps + 1));
    if (!tw) {
        rc = DCQB_FAIL(&err, DCQB_ENOMEM, "cannot allocate bench buffers");
        goto out;
    }
    long step_allocs;
    if ((rc = bench_time_step(&tr, 1, sreps, tw, NULL, &step_allocs, &err))) goto out;
    row->total_ms = 1e3 * median(tw, sreps);
    double total_min_ms = 1e3 * tw[0]; /* median() sorted tw */
    struct step_shapes ss;
    if ((rc = step_shapes_of(&ss, &tr, B, &err))) goto out;
    if ((rc = time_head(&tr, cfg, warm, reps, tw, tw + reps + 1, row, &err))) goto out;
    if (row->head_allocs >= 0 && step_allocs >= 0)
        row->allocs_in_loop = row->head_allocs + step_allocs;
    if (tr.head.req.pairs && (rc = fixed_l_phase(&tr, cfg, warm, reps, tw, row, &err))) goto out;
    /* the counted head opens after the trainer's has closed: two heads of C = 1e7 classes
     * (12.5 GB each for sampled at d = 128) do not fit where the plan says one does */
    head_close(&tr.head);
    row->head_bytes = head_bytes(row->head, &tr.hcfg, tr.hcfg.ratio);
    trainer_free(&tr);
    rc = time_gemm_bound(&ss, n_gemm, reps, total_min_ms, tw, row, &err);
out:
    trainer_free(&tr);
    cfg_free(&tc);
    free(tw);
    if (rc) {
        snprintf(row->status, sizeof row->status, "failed");
        snprintf(row->err_msg, sizeof row->err_msg, "%s: %.200s", dcqb_strerror(rc), err.msg);
    } else {
        snprintf(row->status, sizeof row->status, "ok");
    }
}
