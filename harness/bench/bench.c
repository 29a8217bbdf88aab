/* bench.c - the head cost benchmark (see bench.h for what is measured and how).
 *
 * Parent: builds the configuration list, prints (through the callback) a memory plan per
 * configuration, refuses what cannot fit, forks one child per configuration and appends its
 * row to bench.tsv. Child: bench_child_run (bench_child.c) measures, the row goes back
 * through a pipe, _exit.
 */
#define _DEFAULT_SOURCE /* wait4, struct rusage */
#include "bench.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_child.h"
#include "fsutil.h"
#include "head.h"
#include "isa.h"
#include "machine.h"
#include "memplan.h"
#include "provenance.h"
#include "tsv.h"

#define BENCH_SLACK (64e6)    /* backbone, activations, libraries, stacks: bytes added to plans */
#define BENCH_AVAIL_FRAC 0.9  /* use at most this share of MemAvailable */
#define BENCH_IN_DIM 128      /* rendered input width (the generator's x_dim default) */
#define BENCH_DATA_BYTES 16.0 /* per class: the generator's size and offset, the trainset's size */

/* bench.tsv's columns: header, writer and reader all come from this one table. */
#define COL(field, fmt, type)                                                                   \
    {#field, fmt, offsetof(struct bench_row, field), sizeof(((struct bench_row *)0)->field), type}
const struct bench_col bench_cols[] = {
    COL(head, "%s", BENCH_STR),           COL(C, "%lld", BENCH_I64),
    COL(d, "%d", BENCH_INT),              COL(B, "%d", BENCH_INT),
    COL(threads, "%d", BENCH_INT),        COL(ratio, "%g", BENCH_DBL),
    COL(K, "%lld", BENCH_I64),            COL(status, "%s", BENCH_STR),
    COL(reps, "%d", BENCH_INT),           COL(head_ms, "%.4f", BENCH_DBL),
    COL(head_cpu_ms, "%.4f", BENCH_DBL),  COL(head_min_ms, "%.4f", BENCH_DBL),
    COL(total_ms, "%.4f", BENCH_DBL),     COL(head_gflops, "%.3f", BENCH_DBL),
    COL(gemm_bound_ms, "%.4f", BENCH_DBL), COL(bound_ratio, "%.4f", BENCH_DBL),
    COL(gemm_min_ms, "%.4f", BENCH_DBL),  COL(min_ratio, "%.4f", BENCH_DBL),
    COL(gemm_gflops, "%.3f", BENCH_DBL),  COL(n_gemm, "%d", BENCH_INT),
    COL(step_bound_ms, "%.4f", BENCH_DBL), COL(step_min_ms, "%.4f", BENCH_DBL),
    COL(step_ratio, "%.4f", BENCH_DBL),   COL(step_min_ratio, "%.4f", BENCH_DBL),
    COL(step_gflops, "%.3f", BENCH_DBL),
    COL(per_class_bytes, "%.0f", BENCH_DBL), COL(fixed_bytes, "%.0f", BENCH_DBL),
    COL(plan_bytes, "%.0f", BENCH_DBL),   COL(avail_bytes, "%.0f", BENCH_DBL),
    COL(peak_rss_mb, "%.1f", BENCH_DBL),  COL(head_bytes, "%.0f", BENCH_DBL),
    COL(fixed_l, "%.0f", BENCH_DBL),      COL(head_bytes_fixed_l, "%.0f", BENCH_DBL),
    COL(head_ms_fixed_l, "%.4f", BENCH_DBL), COL(ema_bytes, "%.0f", BENCH_DBL),
    COL(head_allocs, "%ld", BENCH_LONG),
    COL(allocs_in_loop, "%ld", BENCH_LONG), COL(bound_allocs, "%ld", BENCH_LONG),
    COL(isa, "%s", BENCH_STR_DASH),       COL(cpu_model, "%s", BENCH_STR_DASH),
    COL(l1d_kb, "%ld", BENCH_LONG),       COL(l2_kb, "%ld", BENCH_LONG),
    COL(l3_kb, "%ld", BENCH_LONG),
    COL(blas_core, "%s", BENCH_STR_DASH), COL(git_rev, "%s", BENCH_STR),
    COL(err_msg, "%s", BENCH_STR_DASH),   {NULL, NULL, 0, 0, 0}};
#undef COL

const char *bench_tsv_header(void)
{
    static char hdr[2048]; /* built once from the table; bench runs single-threaded */
    if (!hdr[0])
        for (int i = 0; bench_cols[i].name; i++) {
            size_t l = strlen(hdr);
            snprintf(hdr + l, sizeof hdr - l, "%s%s", i ? "\t" : "", bench_cols[i].name);
        }
    return hdr;
}

void bench_cfg_defaults(struct bench_cfg *cfg, int quick)
{
    memset(cfg, 0, sizeof *cfg);
    struct head_cfg hd;
    head_cfg_defaults(&hd); /* the heads' shared ratio, as training's */
    cfg->B = 256;
    cfg->ratio = hd.ratio;
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
    /* at 1e7 classes only the heads meant for it run; full and random are planned
     * and refused with their figure (sampled at d = 512 is refused by the plan itself) */
    snprintf(cfg->big_heads[0], sizeof cfg->big_heads[0], "dcq");
    snprintf(cfg->big_heads[1], sizeof cfg->big_heads[1], "sampled");
    cfg->n_big_heads = 2;
    cfg->phase_budget_s = 4.0;
    cfg->d[0] = 128, cfg->d[1] = 512, cfg->n_d = 2;
    cfg->threads[0] = 1, cfg->threads[1] = 2, cfg->n_threads = 2;
    cfg->reps = 11; /* odd: a true median; the phase budget trims it at large C */
}

/* ---- rows: struct <-> TSV ----------------------------------------------------------------- */

void bench_row_format(struct sbuf *b, const struct bench_row *r)
{
    for (int i = 0; bench_cols[i].name; i++) {
        const struct bench_col *c = &bench_cols[i];
        const char *p = (const char *)r + c->off;
        if (i) sb_add(b, "\t", 1);
        switch (c->type) {
        case BENCH_STR: sb_cell(b, p, ""); break;
        case BENCH_STR_DASH: sb_cell(b, p, "-"); break;
        case BENCH_I64: sb_printf(b, c->fmt, (long long)*(const int64_t *)(const void *)p); break;
        case BENCH_INT: sb_printf(b, c->fmt, *(const int *)(const void *)p); break;
        case BENCH_LONG: sb_printf(b, c->fmt, *(const long *)(const void *)p); break;
        case BENCH_DBL: sb_printf(b, c->fmt, *(const double *)(const void *)p); break;
        }
    }
    sb_add(b, "\n", 1);
}

int bench_row_read(struct bench_row *r, const struct tsv *t, int row)
{
    memset(r, 0, sizeof *r);
    if (!tsv_row_whole(t, row)) return -1;
    for (int i = 0; bench_cols[i].name; i++) {
        const struct bench_col *c = &bench_cols[i];
        const char *v = tsv_get(t, row, tsv_col(t, c->name));
        char *p = (char *)r + c->off;
        if (!v) return -1;
        switch (c->type) {
        case BENCH_STR:
        case BENCH_STR_DASH: snprintf(p, c->size, "%s", v); break;
        case BENCH_I64: *(int64_t *)(void *)p = strtoll(v, NULL, 10); break;
        case BENCH_INT: *(int *)(void *)p = atoi(v); break;
        case BENCH_LONG: *(long *)(void *)p = strtol(v, NULL, 10); break;
        case BENCH_DBL: *(double *)(void *)p = strtod(v, NULL); break;
        }
    }
    return 0;
}

/* Append one row to bench.tsv (one write + flush, so a crash loses at most this row). */
/* One row = one write() on the O_APPEND stream, then fsync: a killed bench leaves whole rows
 * (the reader drops a torn last one) and two benches appending never interleave within a line.
 * 0, or -1 when the row could not be written. */
static int row_write(FILE *f, const struct bench_row *r)
{
    struct sbuf b = {0};
    bench_row_format(&b, r);
    int bad = b.oom || fflush(f) != 0 || write(fileno(f), b.p, b.n) != (ssize_t)b.n ||
              fsync(fileno(f)) != 0;
    sb_free(&b);
    return bad ? -1 : 0;
}

static int same_config(const struct bench_row *a, const struct bench_row *b)
{
    return strcmp(a->head, b->head) == 0 && a->C == b->C && a->d == b->d && a->B == b->B &&
           a->threads == b->threads && fabs(a->ratio - b->ratio) <= 1e-12 * fabs(b->ratio) &&
           strcmp(a->isa, b->isa) == 0;
}

/* ---- head setup shared by the plan and the child ------------------------------------------ */

/* Open head `name` with the bench's shape on top of head_cfg_defaults() (the plan's probes). */
/* Memory plan: the head's bytes a + b C, its K and cost() figures at C (memplan_head_at: two
 * small opens extended to C, as the training plan does), n_gemm from its flops. */
struct plan {
    double a, b;
    double head_bytes, gemm_bytes, bench_bytes, total;
    int64_t K;
    int n_gemm;
    double per_class_bytes, fixed_bytes; /* cost() extrapolated to C */
};

static int plan_make(const char *name, int64_t C, int d, int B, double ratio,
                     uint64_t seed, struct plan *p, struct dcqb_err *err)
{
    if (!(ratio > 0 && ratio <= 1)) /* head_open would refuse it too, after the division */
        return DCQB_FAIL(err, DCQB_EINVAL, "ratio = %g outside (0, 1]", ratio);
    memset(p, 0, sizeof *p);
    struct head_cfg hc;
    head_cfg_defaults(&hc);
    hc.D = d;
    hc.max_batch = B;
    hc.ratio = ratio;
    hc.seed = dcqb_stream_seed(seed, DCQB_STREAM_HEAD);
    struct memplan_head h;
    int rc = memplan_head_at(&h, name, &hc, C, B, err);
    if (rc) return rc;
    p->head_bytes = h.bytes;
    p->b = h.bytes_slope;
    p->a = h.bytes - p->b * (double)C;
    p->K = (int64_t)llround(h.active < 1 ? 1 : h.active);
    p->n_gemm = (int)lround(h.flops / (2.0 * B * (double)p->K * d));
    if (p->n_gemm < 1) p->n_gemm = 1;
    if (p->n_gemm > 3) p->n_gemm = 3;
    p->per_class_bytes = h.per_class;
    p->fixed_bytes = h.fixed;
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

/* Fork, run bench_child_run in the child, collect its row and peak RSS. */
static void run_forked(const struct bench_cfg *cfg, const struct plan *pl,
                       struct bench_row *row)
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
        bench_child_run(cfg, pl->n_gemm, &r);
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

static int in_list(const char (*list)[32], int n, const char *name)
{
    if (n == 0) return 1;
    for (int i = 0; i < n; i++)
        if (strcmp(list[i], name) == 0) return 1;
    return 0;
}

/* The rows of bench.tsv at path that a rerun skips: status ok or refused at this git revision.
 * A missing or empty file has none (*has_header 0); another header is an error. */
static int read_done(const char *path, struct bench_row **done, int *n_done, int *has_header,
                     struct dcqb_err *err)
{
    char *text;
    struct tsv t;
    int cap = 0, rc = file_read_all(&text, NULL, path, 0, err);
    if (rc || !text || !*text) {
        free(text);
        return rc;
    }
    const char *hdr = bench_tsv_header();
    size_t hl = strcspn(text, "\n");
    if (hl != strlen(hdr) || strncmp(text, hdr, hl) != 0) {
        free(text);
        return DCQB_FAIL(err, DCQB_EFORMAT,
                         "bench: %s has another header (older schema?); move it away", path);
    }
    *has_header = 1;
    if ((rc = tsv_parse(&t, text, path, err))) return rc;
    for (int i = 1; i < t.rows; i++) {
        struct bench_row r;
        if (bench_row_read(&r, &t, i)) continue;
        if (strcmp(r.git_rev, provenance_git_rev()) != 0) continue;
        if (strcmp(r.status, "ok") != 0 && strcmp(r.status, "refused") != 0) continue;
        if (*n_done == cap) {
            cap = cap ? 2 * cap : 64;
            struct bench_row *nd = realloc(*done, sizeof *nd * (size_t)cap);
            if (!nd) {
                rc = DCQB_FAIL(err, DCQB_ENOMEM, "bench: out of memory");
                break;
            }
            *done = nd;
        }
        (*done)[(*n_done)++] = r;
    }
    tsv_free(&t);
    if (rc) {
        free(*done);
        *done = NULL;
        *n_done = 0;
    }
    return rc;
}

/* ISA path `name` (avx512, avx2, sse2, native = the best; isa.h) -> its canonical name in
 * out[16]. DCQB_EINVAL for an unknown name or a path this CPU lacks. */
static int isa_resolve(char *out, const char *name, struct dcqb_err *err)
{
    enum dcqb_isa best = dcqb_isa_best();
    if (strcmp(name, "native") == 0) {
        snprintf(out, 16, "%s", dcqb_isa_name(best));
        return DCQB_OK;
    }
    for (int i = DCQB_ISA_SSE2; i <= DCQB_ISA_AVX512; i++) {
        if (strcmp(name, dcqb_isa_name((enum dcqb_isa)i)) != 0) continue;
        if (i > (int)best)
            return DCQB_FAIL(err, DCQB_EINVAL,
                             "bench: ISA path '%s' not supported by this CPU (%s; best: %s)",
                             name, dcqb_machine()->cpu_model, dcqb_isa_name(best));
        snprintf(out, 16, "%s", name);
        return DCQB_OK;
    }
    return DCQB_FAIL(err, DCQB_EINVAL,
                     "bench: unknown ISA path '%s' (expected avx512, avx2, sse2 or native)", name);
}

/* The lists are not empty, the ratio is in (0, 1], every head is known, every C in range,
 * every ISA path runs on this CPU. */
static int bench_cfg_check(const struct bench_cfg *cfg, struct dcqb_err *err)
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
    for (int i = 0; i < cfg->n_isa; i++) {
        char canon[16];
        int rc = isa_resolve(canon, cfg->isa[i], err);
        if (rc) return rc;
    }
    return DCQB_OK;
}

/* A row for one configuration: its key columns (isa: a canonical path name), the machine,
 * and -1 in every measurement not taken yet. */
static void row_start(struct bench_row *row, const char *head, int64_t C, int d, int threads,
                      const char *isa, const struct bench_cfg *cfg)
{
    memset(row, 0, sizeof *row);
    snprintf(row->head, sizeof row->head, "%s", head);
    row->C = C;
    row->d = d;
    row->B = cfg->B;
    row->threads = threads;
    row->ratio = cfg->ratio;
    row->head_ms = row->head_cpu_ms = row->head_min_ms = row->total_ms = -1;
    row->head_gflops = row->gemm_bound_ms = row->bound_ratio = -1;
    row->gemm_min_ms = row->min_ratio = -1;
    row->gemm_gflops = row->peak_rss_mb = -1;
    row->step_bound_ms = row->step_min_ms = row->step_ratio = row->step_min_ratio = -1;
    row->step_gflops = -1;
    snprintf(row->isa, sizeof row->isa, "%s", isa);
    const struct dcqb_machine *m = dcqb_machine();
    snprintf(row->cpu_model, sizeof row->cpu_model, "%s", m->cpu_model);
    row->l1d_kb = (long)(m->l1d_bytes / 1024);
    row->l2_kb = (long)(m->l2_bytes / 1024);
    row->l3_kb = (long)(m->l3_bytes / 1024);
    row->head_allocs = row->allocs_in_loop = row->bound_allocs = -1;
    snprintf(row->git_rev, sizeof row->git_rev, "%s", provenance_git_rev());
}

/* The finished row with row's configuration, or NULL. */
static const struct bench_row *find_done(const struct bench_row *done, int n_done,
                                         const struct bench_row *row)
{
    for (int k = 0; k < n_done; k++)
        if (same_config(&done[k], row)) return &done[k];
    return NULL;
}

/* Plan head `name`'s memory at row's configuration and report the plan; then refuse it (it
 * does not fit, or it is plan_only) or measure it in a child. The row gets the plan's figures
 * and the outcome. */
static void plan_and_run(struct bench_row *row, const struct bench_cfg *cfg, const char *name,
                         int plan_only, bench_report_fn report, void *ctx)
{
    struct plan pl;
    struct dcqb_err perr = {0};
    int prc = plan_make(name, row->C, row->d, row->B, row->ratio, cfg->seed, &pl, &perr);
    double avail = cfg->mem_limit_mb > 0 ? cfg->mem_limit_mb * 1048576.0
                                         : BENCH_AVAIL_FRAC * fs_mem_available();
    row->avail_bytes = avail;
    char msg[512];
    if (prc) {
        snprintf(row->status, sizeof row->status, "failed");
        snprintf(row->err_msg, sizeof row->err_msg, "plan: %.200s", perr.msg);
        return;
    }
    row->K = pl.K;
    row->n_gemm = pl.n_gemm;
    row->per_class_bytes = pl.per_class_bytes;
    row->fixed_bytes = pl.fixed_bytes;
    row->plan_bytes = pl.total;
    int fits = pl.total <= avail;
    snprintf(msg, sizeof msg,
             "plan %s C=%lld d=%d threads=%d: head %.3g GB (%.0f + %.0f B x C)"
             " + bench %.3g GB; GEMM bound %.3g GB (K=%lld) -> peak %.3g GB"
             " of %.3g GB %s: %s",
             name, (long long)row->C, row->d, row->threads, pl.head_bytes / 1e9, pl.a,
             pl.b, pl.bench_bytes / 1e9, pl.gemm_bytes / 1e9, (long long)pl.K, pl.total / 1e9,
             avail / 1e9, cfg->mem_limit_mb > 0 ? "(--mem-limit-mb)" : "(0.9 x MemAvailable)",
             !fits ? "REFUSED" : plan_only ? "plan only (not a big head)" : "run");
    if (report) report(ctx, BENCH_PLAN, NULL, msg);
    if (fits && plan_only) {
        snprintf(row->status, sizeof row->status, "refused");
        snprintf(row->err_msg, sizeof row->err_msg,
                 "not run at C=%lld (not in --big-heads): would need %.3g GB"
                 " (head %.0f + %.0f B/class x %lld classes = %.3g GB)",
                 (long long)row->C, pl.total / 1e9, pl.a, pl.b, (long long)row->C,
                 pl.head_bytes / 1e9);
    } else if (!fits) {
        snprintf(row->status, sizeof row->status, "refused");
        snprintf(row->err_msg, sizeof row->err_msg,
                 "needs %.3g GB (head %.0f + %.0f B/class x %lld classes"
                 " = %.3g GB; GEMM bound %.3g GB) > %.3g GB available",
                 pl.total / 1e9, pl.a, pl.b, (long long)row->C, pl.head_bytes / 1e9,
                 pl.gemm_bytes / 1e9, avail / 1e9);
    } else {
        run_forked(cfg, &pl, row);
    }
}

/* Every configuration in order (C, then d, then head, then threads): skip the done ones unless
 * --force, otherwise plan, refuse or run, and append the row to f (path: for the message).
 * Stops at the first row that cannot be written: a full disk must not look like a finished
 * benchmark. */
static int run_configs(FILE *f, const char *path, const struct bench_cfg *cfg,
                       const struct bench_row *done, int n_done, bench_report_fn report,
                       void *ctx, struct dcqb_err *err)
{
    const struct head_ops *const *all = head_list();
    /* the ISA paths, canonical (bench_cfg_check has accepted each); none: the path in use */
    char isas[BENCH_MAX_LIST][16];
    int n_isa = cfg->n_isa;
    for (int i = 0; i < n_isa; i++) (void)isa_resolve(isas[i], cfg->isa[i], NULL);
    if (n_isa == 0) snprintf(isas[n_isa++], sizeof isas[0], "%s", dcqb_isa_name(dcqb_isa()));
    int64_t Cs[2 * BENCH_MAX_LIST];
    int nC = 0;
    for (int i = 0; i < cfg->n_C; i++) Cs[nC++] = cfg->C[i];
    for (int i = 0; i < cfg->n_big_C; i++) Cs[nC++] = cfg->big_C[i];
    for (int ci = 0; ci < nC; ci++) {
        int big = ci >= cfg->n_C;
        for (int di = 0; di < cfg->n_d; di++)
            for (const struct head_ops *const *hp = all; *hp; hp++) {
                const struct head_ops *h = *hp;
                if (!in_list(cfg->heads, cfg->n_heads, h->name)) continue;
                /* at the extra class counts only the --big-heads run; the others get their
                 * memory plan and a refusal that states what they would need */
                int plan_only = big && !in_list(cfg->big_heads, cfg->n_big_heads, h->name);
                /* the extra class counts run at the first thread count and the first ISA
                 * path only (time budget); the paths of one configuration run back to back,
                 * so their rows see the same load */
                for (int ti = 0; ti < (big ? 1 : cfg->n_threads); ti++)
                for (int ii = 0; ii < (big ? 1 : n_isa); ii++) {
                    struct bench_row row;
                    row_start(&row, h->name, Cs[ci], cfg->d[di], cfg->threads[ti], isas[ii],
                              cfg);
                    const struct bench_row *old = cfg->force ? NULL : find_done(done, n_done, &row);
                    if (old) {
                        if (report) report(ctx, BENCH_SKIP, old, NULL);
                        continue;
                    }
                    plan_and_run(&row, cfg, h->name, plan_only, report, ctx);
                    if (row_write(f, &row))
                        return DCQB_FAIL(err, DCQB_EIO, "bench: cannot append to %s: %s", path,
                                         strerror(errno));
                    if (report) report(ctx, BENCH_ROW, &row, NULL);
                }
            }
    }
    return DCQB_OK;
}

int bench_run(const struct bench_cfg *cfg, bench_report_fn report, void *ctx,
              struct dcqb_err *err)
{
    int rc = bench_cfg_check(cfg, err);
    if (rc) return rc;
    if ((rc = fs_mkdir_p(cfg->out_dir, err))) return rc;
    char path[600];
    snprintf(path, sizeof path, "%s/bench.tsv", cfg->out_dir);

    /* finished rows of this git revision */
    struct bench_row *done = NULL;
    int n_done = 0, has_header = 0;
    if ((rc = read_done(path, &done, &n_done, &has_header, err))) return rc;
    FILE *f;
    f = fopen(path, "a");
    if (!f) {
        free(done);
        return DCQB_FAIL(err, DCQB_EIO, "bench: cannot open %s: %s", path, strerror(errno));
    }
    if (!has_header) {
        fprintf(f, "%s\n", bench_tsv_header());
        fflush(f);
    }

    rc = run_configs(f, path, cfg, done, n_done, report, ctx, err);
    free(done);
    if (fclose(f) != 0 && !rc) rc = DCQB_FAIL(err, DCQB_EIO, "bench: error closing %s", path);
    return rc;
}
