/* bench.c - the head cost benchmark (see bench.h for what is measured and how).
 *
 * Parent: builds the configuration list, prints (through the callback) a memory plan per
 * configuration, refuses what cannot fit, forks one child per configuration and appends its
 * row to bench.tsv. Child: allocates, times, writes one struct bench_row into a pipe, _exits.
 * This file includes <cblas.h> (thread count, kernel name): no GSL randist/matrix header here.
 */
#define _DEFAULT_SOURCE /* wait4, struct rusage */
#include "bench.h"

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alloc_count.h"
#include "head.h"
#include "ops.h"
#include "provenance.h"
#include "train.h"

#define BENCH_NLAB 8          /* label batches in rotation */
#define BENCH_SLACK (64e6)    /* backbone, activations, libraries, stacks: bytes added to plans */
#define BENCH_AVAIL_FRAC 0.9  /* use at most this share of MemAvailable */
#define BENCH_EST_RATE 40e9   /* FLOP/s per thread assumed when choosing reps */
#define BENCH_IN_DIM 128      /* rendered input width (the generator's x_dim default) */
#define BENCH_DATA_BYTES 16.0 /* per class: the generator's size and offset, the trainset's size */

static const char *const tsv_cols =
    "head\tC\td\tB\tthreads\tratio\tK\tstatus\treps\thead_ms\thead_cpu_ms\thead_min_ms\t"
    "total_ms\thead_gflops\tgemm_bound_ms\tbound_ratio\tgemm_min_ms\tmin_ratio\tgemm_gflops\t"
    "n_gemm\tper_class_bytes\t"
    "fixed_bytes\tplan_bytes\tavail_bytes\tpeak_rss_mb\thead_allocs\tallocs_in_loop\tbound_allocs\tblas_core\tgit_rev\t"
    "err_msg";

const char *bench_tsv_header(void) { return tsv_cols; }

void bench_cfg_defaults(struct bench_cfg *cfg, int quick)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->B = 256;
    cfg->ratio = 0.1;
    cfg->seed = 1;
    cfg->phase_budget_s = 12.0;
    snprintf(cfg->out_dir, sizeof cfg->out_dir, "results/bench");
    if (quick) {
        cfg->C[0] = 10000, cfg->C[1] = 100000, cfg->n_C = 2;
        cfg->d[0] = 128, cfg->n_d = 1;
        cfg->threads[0] = 1, cfg->n_threads = 1;
        cfg->reps = 3;
        cfg->phase_budget_s = 2.0;
        return;
    }
    cfg->C[0] = 10000, cfg->C[1] = 100000, cfg->C[2] = 1000000, cfg->n_C = 3;
    cfg->big_C[0] = 10000000, cfg->n_big_C = 1;
    /* issue 7: at 1e7 classes only the heads meant for it run; full and random are planned
     * and refused with their figure (sampled at d = 512 is refused by the plan itself) */
    snprintf(cfg->big_heads[0], sizeof cfg->big_heads[0], "dcq");
    snprintf(cfg->big_heads[1], sizeof cfg->big_heads[1], "sampled");
    cfg->n_big_heads = 2;
    cfg->phase_budget_s = 4.0;
    cfg->d[0] = 128, cfg->d[1] = 512, cfg->n_d = 2;
    cfg->threads[0] = 1, cfg->threads[1] = 2, cfg->n_threads = 2;
    cfg->reps = 11; /* odd: a true median; the phase budget trims it at large C */
}

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

/* MemAvailable in bytes, 0 if unreadable. */
static double mem_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return 0;
    char line[256];
    double kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %lf kB", &kb) == 1) break;
    fclose(f);
    return kb * 1024.0;
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

/* ---- rows: struct <-> TSV ----------------------------------------------------------------- */

static void clean_msg(char *s)
{
    for (; *s; s++)
        if (*s == '\t' || *s == '\n' || *s == '\r') *s = ' ';
}

static void row_write(FILE *f, const struct bench_row *r)
{
    char msg[256];
    snprintf(msg, sizeof msg, "%s", r->err_msg[0] ? r->err_msg : "-");
    clean_msg(msg);
    fprintf(f,
            "%s\t%lld\t%d\t%d\t%d\t%g\t%lld\t%s\t%d\t%.4f\t%.4f\t%.4f\t%.4f\t%.3f\t%.4f\t%.4f\t"
            "%.4f\t%.4f\t%.3f\t%d\t%.0f\t%.0f\t%.0f\t%.0f\t%.1f\t%ld\t%ld\t%ld\t%s\t%s\t%s\n",
            r->head, (long long)r->C, r->d, r->B, r->threads, r->ratio, (long long)r->K,
            r->status, r->reps, r->head_ms, r->head_cpu_ms, r->head_min_ms, r->total_ms,
            r->head_gflops, r->gemm_bound_ms, r->bound_ratio, r->gemm_min_ms, r->min_ratio,
            r->gemm_gflops, r->n_gemm,
            r->per_class_bytes, r->fixed_bytes, r->plan_bytes, r->avail_bytes, r->peak_rss_mb,
            r->head_allocs, r->allocs_in_loop, r->bound_allocs, r->blas_core[0] ? r->blas_core : "-",
            r->git_rev, msg);
    fflush(f);
}

/* Parse one TSV line into r; 0 on success. */
static int row_parse(char *line, struct bench_row *r)
{
    char *f[32];
    int n = 0;
    for (char *p = line; n < 32;) {
        f[n++] = p;
        char *t = strchr(p, '\t');
        if (!t) break;
        *t = '\0';
        p = t + 1;
    }
    if (n != 31) return -1;
    char *nl = strchr(f[30], '\n');
    if (nl) *nl = '\0';
    memset(r, 0, sizeof *r);
    snprintf(r->head, sizeof r->head, "%s", f[0]);
    r->C = strtoll(f[1], NULL, 10);
    r->d = atoi(f[2]), r->B = atoi(f[3]), r->threads = atoi(f[4]);
    r->ratio = strtod(f[5], NULL);
    r->K = strtoll(f[6], NULL, 10);
    snprintf(r->status, sizeof r->status, "%s", f[7]);
    r->reps = atoi(f[8]);
    double *dv[] = {&r->head_ms,     &r->head_cpu_ms,   &r->head_min_ms, &r->total_ms,
                    &r->head_gflops, &r->gemm_bound_ms, &r->bound_ratio, &r->gemm_min_ms,
                    &r->min_ratio,   &r->gemm_gflops};
    for (int i = 0; i < 10; i++) *dv[i] = strtod(f[9 + i], NULL);
    r->n_gemm = atoi(f[19]);
    double *dv2[] = {&r->per_class_bytes, &r->fixed_bytes, &r->plan_bytes, &r->avail_bytes,
                     &r->peak_rss_mb};
    for (int i = 0; i < 5; i++) *dv2[i] = strtod(f[20 + i], NULL);
    r->head_allocs = strtol(f[25], NULL, 10);
    r->allocs_in_loop = strtol(f[26], NULL, 10);
    r->bound_allocs = strtol(f[27], NULL, 10);
    snprintf(r->blas_core, sizeof r->blas_core, "%s", f[28]);
    snprintf(r->git_rev, sizeof r->git_rev, "%s", f[29]);
    snprintf(r->err_msg, sizeof r->err_msg, "%s", f[30]);
    return 0;
}

static int same_config(const struct bench_row *a, const struct bench_row *b)
{
    return strcmp(a->head, b->head) == 0 && a->C == b->C && a->d == b->d && a->B == b->B &&
           a->threads == b->threads && fabs(a->ratio - b->ratio) <= 1e-12 * fabs(b->ratio);
}

/* ---- head setup shared by the plan and the child ------------------------------------------ */

static int head_setup(const struct head_ops *h, void *st, int64_t C, int d, int B, double ratio,
                      uint64_t seed, int threads, struct head_req *req, struct dcqb_err *err)
{
    struct head_cfg hc = {0};
    hc.C = C;
    hc.D = d;
    hc.max_batch = B;
    hc.ratio = ratio;
    hc.init_std = 0.01f;
    hc.optim.momentum = 0.9f;
    hc.optim.weight_decay = 5e-4f;
    hc.seed = dcqb_stream_seed(seed, DCQB_STREAM_HEAD);
    hc.threads = threads;
    return h->init(st, &hc, req, err);
}

/* Memory plan: head bytes a + b C and K = ka + kb C from inits at C1 and C2 = 2 C1 (cost()
 * after init), n_gemm from the flops at C2. */
struct plan {
    double a, b, ka, kb;
    double head_bytes, gemm_bytes, bench_bytes, total;
    int64_t K;
    int n_gemm;
    double per_class_bytes, fixed_bytes; /* cost() extrapolated to C */
};

static int plan_make(const struct head_ops *h, int64_t C, int d, int B, double ratio,
                     uint64_t seed, struct plan *p, struct dcqb_err *err)
{
    /* two small inits on the linear part of every cost: past C = 2 B / ratio a subset's K is
     * ratio C, not the batch's positives (at C = 2000 random's K was max(B, 200), and the plan
     * extrapolated K at 1e7 to 720K instead of 1e6) */
    int64_t c1 = 2000, need = (int64_t)ceil(2.0 * B / (ratio > 0 ? ratio : 0.1));
    if (need > c1) c1 = need;
    if (2 * c1 > C && C >= 4000) c1 = C / 2;
    const int64_t Cs[2] = {c1, 2 * c1};
    double bytes[2], K[2], pcb[2], fxb[2], flops = 0;
    memset(p, 0, sizeof *p);
    void *st = calloc(1, h->state_size ? h->state_size : 1);
    if (!st) return DCQB_FAIL(err, DCQB_ENOMEM, "plan: out of memory");
    for (int i = 0; i < 2; i++) {
        struct head_req req;
        memset(st, 0, h->state_size ? h->state_size : 1);
        int rc = head_setup(h, st, Cs[i], d, B, ratio, seed, 1, &req, err);
        if (rc) {
            h->free(st);
            free(st);
            return rc;
        }
        struct head_cost hc;
        h->cost(st, B, &hc);
        bytes[i] = hc.per_class_bytes * (double)Cs[i] + hc.fixed_bytes;
        pcb[i] = hc.per_class_bytes;
        fxb[i] = hc.fixed_bytes;
        K[i] = (double)hc.active_classes;
        flops = hc.flops;
        h->free(st);
    }
    free(st);
    p->b = (bytes[1] - bytes[0]) / (double)(Cs[1] - Cs[0]);
    p->a = bytes[0] - p->b * (double)Cs[0];
    p->kb = (K[1] - K[0]) / (double)(Cs[1] - Cs[0]);
    p->ka = K[0] - p->kb * (double)Cs[0];
    double Kc = p->ka + p->kb * (double)C;
    p->K = (int64_t)llround(Kc < 1 ? 1 : Kc);
    double ng = flops / (2.0 * B * K[1] * d);
    p->n_gemm = (int)lround(ng);
    if (p->n_gemm < 1) p->n_gemm = 1;
    if (p->n_gemm > 3) p->n_gemm = 3;
    /* cost() figures at C: per-class bytes as reported, fixed bytes extrapolated linearly */
    p->per_class_bytes = pcb[1];
    double fb = (fxb[1] - fxb[0]) / (double)(Cs[1] - Cs[0]);
    p->fixed_bytes = fxb[0] + fb * (double)(C - Cs[0]);
    p->head_bytes = p->a + p->b * (double)C;
    /* time_head's q, k, dq and labels; the trainer's step buffers (x, xk; e, q, dq, de, k, ek
     * and norms) and class tables; the backbones are in the slack */
    p->bench_bytes = 4.0 * (3.0 * B * d + (double)BENCH_NLAB * B) +
                     4.0 * (2.0 * B * BENCH_IN_DIM + 7.0 * B * d) + BENCH_DATA_BYTES * (double)C +
                     BENCH_SLACK;
    double Kd = (double)p->K;
    p->gemm_bytes = 4.0 * (2.0 * Kd * d + (double)B * Kd + 2.0 * B * d) + BENCH_SLACK;
    p->total = p->head_bytes + p->bench_bytes;
    if (p->gemm_bytes > p->total) p->total = p->gemm_bytes;
    return DCQB_OK;
}

/* ---- the child: one configuration --------------------------------------------------------- */

struct phase_times {
    double med, min, cpu;
};

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
    const struct head_ops *h = tr->head;
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
    const float *key = tr->req.pairs ? k : NULL;
    const int64_t t0 = tr->o.steps; /* the head's step count goes on after time_step's */
    int rc = DCQB_OK;
    float loss;
    alloc_count_enable(0);
    for (int r = -warm; r < reps && !rc; r++) {
        const int32_t *y = lab + (size_t)((r + warm) % BENCH_NLAB) * B;
        if (r == 0) alloc_count_enable(1);
        double w0 = dcqb_now_s(), c0 = cpu_s();
        memset(dq, 0, sizeof(float) * (size_t)B * d);
        rc = h->forward_backward(tr->hst, &loss, dq, q, key, y, B, err);
        if (!rc) rc = h->step(tr->hst, 1e-3f, t0 + r + warm, err);
        double w1 = dcqb_now_s(), c1 = cpu_s();
        if (r >= 0) tw[r] = w1 - w0, tc[r] = c1 - c0;
    }
    long allocs = alloc_count_get();
    alloc_count_enable(0);
    free(buf);
    if (rc) return rc;
    row->head_allocs = alloc_count_available() ? allocs : -1;
    struct head_cost hc;
    h->cost(tr->hst, B, &hc); /* after steps: heads whose K varies (sampled) report the last */
    row->K = hc.active_classes;
    row->head_ms = 1e3 * median(tw, reps);
    row->head_min_ms = 1e3 * tw[0]; /* median() sorted tw */
    row->head_cpu_ms = 1e3 * median(tc, reps);
    row->head_gflops = hc.flops / (row->head_ms * 1e-3) / 1e9;
    return DCQB_OK;
}

/* The head's GEMMs alone, after the head is gone: n_gemm of (B,d)x(K,d)^T -> (B,K),
 * (B,K)x(K,d) -> (B,d), (B,K)^T x (B,d) -> (K,d) through the ops.h helpers. Fills the
 * gemm_* columns, bound_allocs and the two ratios (head_ms must be set). tw: (reps) scratch. */
static int time_gemm_bound(int n_gemm, int reps, double *tw, struct bench_row *row,
                           struct dcqb_err *err)
{
    const int B = row->B, d = row->d, ng = n_gemm;
    const int64_t K = row->K;
    row->n_gemm = ng;
    size_t KD = (size_t)K * d, BK = (size_t)B * K, BD = (size_t)B * d;
    float *g = malloc(sizeof(float) * (2 * KD + BK + 2 * BD));
    if (!g)
        return DCQB_FAIL(err, DCQB_ENOMEM, "cannot allocate %.2f GB for the GEMM bound",
                         4.0 * (double)(2 * KD + BK + 2 * BD) / 1e9);
    float *gW = g, *gO = gW + KD, *gL = gO + KD, *gA = gL + BK, *gD = gA + BD;
    fill_pattern(gW, KD, 11, -0.05f, 0.05f);
    fill_pattern(gL, BK, 12, -1e-3f, 1e-3f);
    fill_pattern(gA, BD, 13, -0.1f, 0.1f);
    memset(gD, 0, sizeof(float) * BD);
    alloc_count_enable(0);
    for (int r = -1; r < reps; r++) {
        if (r == 0) alloc_count_enable(1);
        double w0 = dcqb_now_s();
        /* logits (B,K) = A (B,d) W^T: the forward GEMM (overwrites gL like the head does) */
        matmul_bd_kd_to_bk(gL, gA, gW, B, (int)K, d, 1.0f, 0.0f);
        if (ng >= 2) matmul_bk_kd_to_bd(gD, gL, gW, B, (int)K, d, 1.0f, 1.0f);
        if (ng >= 3) matmul_bk_bd_to_kd(gO, gL, gA, B, (int)K, d, 1.0f, 0.0f);
        if (r >= 0) tw[r] = dcqb_now_s() - w0;
    }
    row->bound_allocs = alloc_count_available() ? alloc_count_get() : -1;
    alloc_count_enable(0);
    free(g);
    row->gemm_bound_ms = 1e3 * median(tw, reps);
    row->gemm_min_ms = 1e3 * tw[0]; /* median() sorted tw */
    row->gemm_gflops = 2.0 * ng * B * (double)K * d / (row->gemm_bound_ms * 1e-3) / 1e9;
    row->bound_ratio = row->head_ms / row->gemm_bound_ms;
    /* best step over best bound: noise on a shared machine only ever adds time, so the pair of
     * minima is the steadier estimate of the same ratio; both are reported */
    row->min_ratio = row->head_min_ms / row->gemm_min_ms;
    return DCQB_OK;
}

/* One configuration in the forked child: the training step (total_ms) on a trainer set up from
 * bench_train_cfg, then the head alone on that trainer's head, then, with the trainer freed,
 * the GEMM bound. Fills row; status "failed" with the message on any error. */
static void child_run(const struct bench_cfg *cfg, const struct head_ops *h,
                      const struct plan *pl, struct bench_row *row)
{
    struct dcqb_err err = {0};
    const int B = row->B, T = row->threads;
    openblas_set_num_threads(T);
    snprintf(row->blas_core, sizeof row->blas_core, "%s", openblas_get_corename());
    row->head_allocs = row->allocs_in_loop = row->bound_allocs = -1;
    struct trainer tr;
    memset(&tr, 0, sizeof tr);
    struct cfg tc = {0};
    double *tw = NULL;
    int rc;
    /* a run as long as the most steps time_step takes (one warm-up + cfg->reps) */
    if ((rc = bench_train_cfg(&tc, h->name, row->C, row->d, B, T, cfg->ratio, cfg->seed,
                              1 + (cfg->reps > 3 ? cfg->reps : 3), &err)))
        goto out;
    if ((rc = trainer_setup(&tr, &tc, &err))) goto out;
    struct head_cost hc;
    tr.head->cost(tr.hst, B, &hc);
    row->K = hc.active_classes;
    row->per_class_bytes = hc.per_class_bytes;
    row->fixed_bytes = hc.fixed_bytes;
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
    if ((rc = time_head(&tr, cfg, warm, reps, tw, tw + reps + 1, row, &err))) goto out;
    if (row->head_allocs >= 0 && step_allocs >= 0)
        row->allocs_in_loop = row->head_allocs + step_allocs;
    trainer_free(&tr);
    rc = time_gemm_bound(pl->n_gemm, reps, tw, row, &err);
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

/* Fork, run child_run in the child, collect its row and peak RSS. */
static void run_forked(const struct bench_cfg *cfg, const struct head_ops *h,
                       const struct plan *pl, struct bench_row *row)
{
    int fd[2];
    if (pipe(fd) != 0) {
        snprintf(row->status, sizeof row->status, "failed");
        snprintf(row->err_msg, sizeof row->err_msg, "pipe: %s", strerror(errno));
        return;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]);
        close(fd[1]);
        snprintf(row->status, sizeof row->status, "failed");
        snprintf(row->err_msg, sizeof row->err_msg, "fork: %s", strerror(errno));
        return;
    }
    if (pid == 0) {
        close(fd[0]);
        struct bench_row r = *row;
        child_run(cfg, h, pl, &r);
        const char *p = (const char *)&r;
        size_t left = sizeof r;
        while (left) {
            ssize_t w = write(fd[1], p, left);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) _exit(3);
            p += w;
            left -= (size_t)w;
        }
        _exit(0);
    }
    close(fd[1]);
    struct bench_row got;
    size_t have = 0;
    while (have < sizeof got) {
        ssize_t n = read(fd[0], (char *)&got + have, sizeof got - have);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        have += (size_t)n;
    }
    close(fd[0]);
    int status = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR) {
    }
    double rss = (double)ru.ru_maxrss / 1024.0;
    if (have == sizeof got) {
        *row = got;
    } else {
        snprintf(row->status, sizeof row->status, "failed");
        if (WIFSIGNALED(status))
            snprintf(row->err_msg, sizeof row->err_msg, "child killed by signal %d%s",
                     WTERMSIG(status),
                     WTERMSIG(status) == SIGKILL ? " (SIGKILL: out of memory?)" : "");
        else
            snprintf(row->err_msg, sizeof row->err_msg, "child exited with status %d",
                     WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    }
    row->peak_rss_mb = rss;
}

/* ---- the driver --------------------------------------------------------------------------- */

static int mkdir_p(const char *path)
{
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0777) != 0 && errno != EEXIST) return -1;
            *p = '/';
        }
    return mkdir(tmp, 0777) != 0 && errno != EEXIST ? -1 : 0;
}

static int in_list(const char (*list)[32], int n, const char *name)
{
    if (n == 0) return 1;
    for (int i = 0; i < n; i++)
        if (strcmp(list[i], name) == 0) return 1;
    return 0;
}

int bench_run(const struct bench_cfg *cfg, bench_report_fn report, void *ctx,
              struct dcqb_err *err)
{
    if (cfg->B < 1 || cfg->n_d < 1 || cfg->n_threads < 1 || cfg->n_C + cfg->n_big_C < 1)
        return DCQB_FAIL(err, DCQB_EINVAL, "bench: empty B, d, threads or C list");
    if (!(cfg->ratio > 0 && cfg->ratio <= 1))
        return DCQB_FAIL(err, DCQB_EINVAL, "bench: ratio %g outside (0, 1]", cfg->ratio);
    for (int i = 0; i < cfg->n_heads; i++)
        if (!head_find(cfg->heads[i]))
            return DCQB_FAIL(err, DCQB_EINVAL, "bench: unknown head '%s'", cfg->heads[i]);
    for (int i = 0; i < cfg->n_big_heads; i++)
        if (!head_find(cfg->big_heads[i]))
            return DCQB_FAIL(err, DCQB_EINVAL, "bench: unknown head '%s'", cfg->big_heads[i]);
    for (int i = 0; i < cfg->n_C; i++)
        if (cfg->C[i] < 1 || cfg->C[i] > INT32_MAX / 2)
            return DCQB_FAIL(err, DCQB_EINVAL, "bench: C = %lld out of range",
                             (long long)cfg->C[i]);
    if (mkdir_p(cfg->out_dir))
        return DCQB_FAIL(err, DCQB_EIO, "bench: cannot create %s: %s", cfg->out_dir,
                         strerror(errno));
    char path[600];
    snprintf(path, sizeof path, "%s/bench.tsv", cfg->out_dir);

    /* finished rows of this git revision */
    struct bench_row *done = NULL;
    int n_done = 0, cap = 0;
    FILE *f = fopen(path, "r");
    int has_header = 0;
    if (f) {
        char line[2048];
        if (fgets(line, sizeof line, f)) {
            line[strcspn(line, "\n")] = '\0';
            if (strcmp(line, tsv_cols) != 0) {
                fclose(f);
                return DCQB_FAIL(err, DCQB_EFORMAT,
                                 "bench: %s has another header (older schema?); move it away",
                                 path);
            }
            has_header = 1;
        }
        while (fgets(line, sizeof line, f)) {
            struct bench_row r;
            if (row_parse(line, &r)) continue;
            if (strcmp(r.git_rev, provenance_git_rev()) != 0) continue;
            if (strcmp(r.status, "ok") != 0 && strcmp(r.status, "refused") != 0) continue;
            if (n_done == cap) {
                cap = cap ? 2 * cap : 64;
                struct bench_row *nd = realloc(done, sizeof *done * (size_t)cap);
                if (!nd) {
                    free(done);
                    fclose(f);
                    return DCQB_FAIL(err, DCQB_ENOMEM, "bench: out of memory");
                }
                done = nd;
            }
            done[n_done++] = r;
        }
        fclose(f);
    }
    f = fopen(path, "a");
    if (!f) {
        free(done);
        return DCQB_FAIL(err, DCQB_EIO, "bench: cannot open %s: %s", path, strerror(errno));
    }
    if (!has_header) {
        fprintf(f, "%s\n", tsv_cols);
        fflush(f);
    }

    const struct head_ops *const *all = head_list();
    int64_t Cs[2 * BENCH_MAX_LIST];
    int nC = 0;
    for (int i = 0; i < cfg->n_C; i++) Cs[nC++] = cfg->C[i];
    for (int i = 0; i < cfg->n_big_C; i++) Cs[nC++] = cfg->big_C[i];
    int rc = DCQB_OK;
    for (int ci = 0; ci < nC; ci++) {
        int big = ci >= cfg->n_C;
        for (int di = 0; di < cfg->n_d; di++)
            for (const struct head_ops *const *hp = all; *hp; hp++) {
                const struct head_ops *h = *hp;
                if (!in_list(cfg->heads, cfg->n_heads, h->name)) continue;
                /* at the extra class counts only the --big-heads run; the others get their
                 * memory plan and a refusal that states what they would need */
                int plan_only = big && !in_list(cfg->big_heads, cfg->n_big_heads, h->name);
                /* the extra class counts run at the first thread count only (time budget) */
                for (int ti = 0; ti < (big ? 1 : cfg->n_threads); ti++) {
                    struct bench_row row;
                    memset(&row, 0, sizeof row);
                    snprintf(row.head, sizeof row.head, "%s", h->name);
                    row.C = Cs[ci];
                    row.d = cfg->d[di];
                    row.B = cfg->B;
                    row.threads = cfg->threads[ti];
                    row.ratio = cfg->ratio;
                    row.head_ms = row.head_cpu_ms = row.head_min_ms = row.total_ms = -1;
                    row.head_gflops = row.gemm_bound_ms = row.bound_ratio = -1;
                    row.gemm_min_ms = row.min_ratio = -1;
                    row.gemm_gflops = row.peak_rss_mb = -1;
                    row.head_allocs = row.allocs_in_loop = row.bound_allocs = -1;
                    snprintf(row.git_rev, sizeof row.git_rev, "%s", provenance_git_rev());
                    int skip = 0;
                    for (int k = 0; k < n_done && !cfg->force; k++)
                        if (same_config(&done[k], &row)) {
                            if (report) report(ctx, BENCH_SKIP, &done[k], NULL);
                            skip = 1;
                            break;
                        }
                    if (skip) continue;

                    struct plan pl;
                    struct dcqb_err perr = {0};
                    int prc = plan_make(h, row.C, row.d, row.B, row.ratio, cfg->seed, &pl, &perr);
                    double avail = cfg->mem_limit_mb > 0 ? cfg->mem_limit_mb * 1048576.0
                                                         : BENCH_AVAIL_FRAC * mem_available();
                    row.avail_bytes = avail;
                    char msg[512];
                    if (prc) {
                        snprintf(row.status, sizeof row.status, "failed");
                        snprintf(row.err_msg, sizeof row.err_msg, "plan: %.200s", perr.msg);
                    } else {
                        row.K = pl.K;
                        row.n_gemm = pl.n_gemm;
                        row.per_class_bytes = pl.per_class_bytes;
                        row.fixed_bytes = pl.fixed_bytes;
                        row.plan_bytes = pl.total;
                        int fits = pl.total <= avail;
                        snprintf(msg, sizeof msg,
                                 "plan %s C=%lld d=%d threads=%d: head %.3g GB (%.0f + %.0f B x C)"
                                 " + bench %.3g GB; GEMM bound %.3g GB (K=%lld) -> peak %.3g GB"
                                 " of %.3g GB %s: %s",
                                 h->name, (long long)row.C, row.d, row.threads,
                                 pl.head_bytes / 1e9, pl.a, pl.b, pl.bench_bytes / 1e9,
                                 pl.gemm_bytes / 1e9, (long long)pl.K, pl.total / 1e9, avail / 1e9,
                                 cfg->mem_limit_mb > 0 ? "(--mem-limit-mb)"
                                                       : "(0.9 x MemAvailable)",
                                 !fits ? "REFUSED" : plan_only ? "plan only (not a big head)" : "run");
                        if (report) report(ctx, BENCH_PLAN, NULL, msg);
                        if (fits && plan_only) {
                            snprintf(row.status, sizeof row.status, "refused");
                            snprintf(row.err_msg, sizeof row.err_msg,
                                     "not run at C=%lld (not in --big-heads): would need %.3g GB"
                                     " (head %.0f + %.0f B/class x %lld classes = %.3g GB)",
                                     (long long)row.C, pl.total / 1e9, pl.a, pl.b,
                                     (long long)row.C, pl.head_bytes / 1e9);
                        } else if (!fits) {
                            snprintf(row.status, sizeof row.status, "refused");
                            snprintf(row.err_msg, sizeof row.err_msg,
                                     "needs %.3g GB (head %.0f + %.0f B/class x %lld classes"
                                     " = %.3g GB; GEMM bound %.3g GB) > %.3g GB available",
                                     pl.total / 1e9, pl.a, pl.b, (long long)row.C,
                                     pl.head_bytes / 1e9, pl.gemm_bytes / 1e9, avail / 1e9);
                        } else {
                            run_forked(cfg, h, &pl, &row);
                        }
                    }
                    row_write(f, &row);
                    if (report) report(ctx, BENCH_ROW, &row, NULL);
                }
            }
    }
    free(done);
    if (fclose(f) != 0) rc = DCQB_FAIL(err, DCQB_EIO, "bench: error closing %s", path);
    return rc;
}
