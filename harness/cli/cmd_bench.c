/* cmd_bench.c - 'dcqbench bench': the head cost benchmark (issue 7). Parses options into a
 * struct bench_cfg, prints the memory plans and a table row per finished configuration, and a
 * summary table at the end. The measuring is in harness/bench/bench.c. */
#include "cli.h"

#include <cblas.h>
#include <math.h>

#include "bench.h"
#include "head.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: dcqbench bench [--heads LIST] [--C LIST] [--big-C LIST] [--big-heads LIST]\n"
            "                      [--d LIST] [--B 256] [--ratio 0.1] [--threads LIST] [--reps N]\n"
            "                      [--budget S] [--mem-limit-mb MB] [--out results/bench]\n"
            "                      [--seed N] [--force] [--quick]\n\n"
            "Time and memory of each head's training step as the number of classes C grows\n"
            "(issue 7). For each head x C x d x threads one child process measures:\n"
            "  head    forward_backward + step on fixed random unit embeddings (and keys for\n"
            "          pair heads), labels uniform over C; median of --reps steps after warm-up\n"
            "  total   training's step (trainer_step): batch rendering, backbone 128-512-512 -> d,\n"
            "          head, SGD (+ EMA key forward); measured first, on a fresh trainer\n"
            "  bound   the head's GEMMs alone, same shapes, same run; bound_ratio = head / bound\n"
            "          (medians); min_ratio = fastest head step / fastest bound rep\n"
            "A memory plan is printed first; configurations that would not fit in 0.9 x\n"
            "MemAvailable (or --mem-limit-mb) are refused before anything large is allocated.\n"
            "Rows are appended to <out>/bench.tsv as they finish; rows already 'ok' or 'refused'\n"
            "at this git revision are skipped unless --force.\n\n"
            "  --heads LIST      comma-separated head names (default: all registered)\n"
            "  --C LIST          class counts for every head (1e4,1e5,1e6)\n"
            "  --big-C LIST      extra class counts (1e7; 'none' for no extra)\n"
            "  --big-heads LIST  heads run at --big-C (dcq,sampled), first --threads value only;\n"
            "                    the others are planned and\n"
            "                    refused with the memory they would need\n"
            "  --d LIST          embedding dims (128,512)\n"
            "  --threads LIST    BLAS threads (1,2)\n"
            "  --reps N          timed steps per phase (11), fewer at large C (>= 2)\n"
            "  --budget S        seconds per timed phase that cap reps at large C (4)\n"
            "  --quick           ~1-minute smoke run: C 1e4,1e5, d 128, 1 thread, reps 3\n"
            "Wall times are noisy when other processes load the cores: compare medians.\n");
}

static int parse_list_i64(const char *s, int64_t *out, int *n)
{
    *n = 0;
    if (strcmp(s, "none") == 0) return 0;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        char *end;
        double v = strtod(tok, &end);
        if (*end || !(v >= 1) || v > 4e9 || v != floor(v) || *n >= BENCH_MAX_LIST) return -1;
        out[(*n)++] = (int64_t)v;
    }
    return *n ? 0 : -1;
}

static int parse_list_int(const char *s, int *out, int *n)
{
    int64_t tmp[BENCH_MAX_LIST];
    if (parse_list_i64(s, tmp, n) || *n == 0) return -1;
    for (int i = 0; i < *n; i++) {
        if (tmp[i] > 1 << 20) return -1;
        out[i] = (int)tmp[i];
    }
    return 0;
}

static int parse_names(const char *s, char (*out)[32], int *n)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", s);
    *n = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (*n >= BENCH_MAX_LIST || strlen(tok) >= 32) return -1;
        snprintf(out[(*n)++], 32, "%s", tok);
    }
    return *n ? 0 : -1;
}

static void print_table_header(void)
{
    printf("%-8s %9s %4s %2s %8s %-8s %10s %10s %7s %10s %6s %6s %8s %9s %9s %6s\n", "head", "C",
           "d", "th", "K", "status", "head_ms", "total_ms", "GFLOP/s", "bound_ms", "ratio", "min_r",
           "B/class", "plan_GB", "rss_MB", "allocs head/all");
}

static void print_row(const struct bench_row *r)
{
    if (strcmp(r->status, "ok") == 0)
        printf("%-8s %9lld %4d %2d %8lld %-8s %10.2f %10.2f %7.1f %10.2f %6.2f %6.2f %8.0f %9.3f "
               "%9.0f %6ld/%ld\n",
               r->head, (long long)r->C, r->d, r->threads, (long long)r->K, r->status,
               r->head_ms, r->total_ms, r->head_gflops, r->gemm_bound_ms, r->bound_ratio,
               r->min_ratio,
               r->per_class_bytes, r->plan_bytes / 1e9, r->peak_rss_mb, r->head_allocs,
               r->allocs_in_loop);
    else
        printf("%-8s %9lld %4d %2d %8lld %-8s %s\n", r->head, (long long)r->C, r->d, r->threads,
               (long long)r->K, r->status, r->err_msg);
    fflush(stdout);
}

struct table {
    struct bench_row *rows;
    int n, cap;
};

static void on_event(void *ctx, enum bench_event ev, const struct bench_row *row, const char *msg)
{
    struct table *t = ctx;
    if (ev == BENCH_PLAN) {
        printf("%s\n", msg);
        fflush(stdout);
        return;
    }
    if (ev == BENCH_ROW) print_row(row);
    if (t->n == t->cap) {
        int cap = t->cap ? 2 * t->cap : 64;
        struct bench_row *nr = realloc(t->rows, sizeof *nr * (size_t)cap);
        if (!nr) return;
        t->rows = nr;
        t->cap = cap;
    }
    t->rows[t->n++] = *row;
}

int cmd_bench(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    int quick = 0;
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--quick") == 0) quick = 1;
    struct bench_cfg cfg;
    bench_cfg_defaults(&cfg, quick);
    struct dcqb_err err = {0};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--quick") == 0) continue;
        if (strcmp(a, "--force") == 0) {
            cfg.force = 1;
            continue;
        }
        if (i + 1 >= argc) {
            DCQB_FAIL(&err, DCQB_EINVAL, "unknown option or missing value: %s (see --help)", a);
            return cli_error("bench", &err);
        }
        const char *v = argv[++i];
        int bad = 0;
        char *end = NULL;
        if (strcmp(a, "--heads") == 0) bad = parse_names(v, cfg.heads, &cfg.n_heads);
        else if (strcmp(a, "--big-heads") == 0)
            bad = parse_names(v, cfg.big_heads, &cfg.n_big_heads);
        else if (strcmp(a, "--C") == 0) bad = parse_list_i64(v, cfg.C, &cfg.n_C);
        else if (strcmp(a, "--big-C") == 0) bad = parse_list_i64(v, cfg.big_C, &cfg.n_big_C);
        else if (strcmp(a, "--d") == 0) bad = parse_list_int(v, cfg.d, &cfg.n_d);
        else if (strcmp(a, "--threads") == 0) bad = parse_list_int(v, cfg.threads, &cfg.n_threads);
        else if (strcmp(a, "--B") == 0) {
            cfg.B = (int)strtol(v, &end, 10);
            bad = *end || cfg.B < 1;
        } else if (strcmp(a, "--reps") == 0) {
            cfg.reps = (int)strtol(v, &end, 10);
            bad = *end || cfg.reps < 1;
        } else if (strcmp(a, "--seed") == 0) {
            cfg.seed = strtoull(v, &end, 10);
            bad = *end != '\0';
        } else if (strcmp(a, "--ratio") == 0) {
            cfg.ratio = strtod(v, &end);
            bad = *end || !(cfg.ratio > 0 && cfg.ratio <= 1);
        } else if (strcmp(a, "--budget") == 0) {
            cfg.phase_budget_s = strtod(v, &end);
            bad = *end || !(cfg.phase_budget_s > 0);
        } else if (strcmp(a, "--mem-limit-mb") == 0) {
            cfg.mem_limit_mb = strtod(v, &end);
            bad = *end || !(cfg.mem_limit_mb > 0);
        } else if (strcmp(a, "--out") == 0) {
            bad = strlen(v) >= sizeof cfg.out_dir;
            if (!bad) snprintf(cfg.out_dir, sizeof cfg.out_dir, "%s", v);
        } else {
            DCQB_FAIL(&err, DCQB_EINVAL, "unknown option '%s' (see --help)", a);
            return cli_error("bench", &err);
        }
        if (bad) {
            DCQB_FAIL(&err, DCQB_EINVAL, "bad value '%s' for %s", v, a);
            return cli_error("bench", &err);
        }
    }
    printf("dcqbench bench: B=%d ratio=%g reps=%d out=%s/bench.tsv; BLAS kernel %s\n", cfg.B,
           cfg.ratio, cfg.reps, cfg.out_dir, openblas_get_corename());
    printf("(wall times are medians; other processes on this machine add noise)\n");
    print_table_header();
    struct table t = {0};
    int rc = bench_run(&cfg, on_event, &t, &err);
    if (rc) {
        free(t.rows);
        return cli_error("bench", &err);
    }
    printf("\nsummary (%d configurations; skipped ones come from earlier runs of this revision)\n",
           t.n);
    print_table_header();
    int failed = 0;
    for (int i = 0; i < t.n; i++) {
        print_row(&t.rows[i]);
        failed += strcmp(t.rows[i].status, "failed") == 0;
    }
    free(t.rows);
    if (failed) printf("%d configuration(s) failed: see err_msg in bench.tsv\n", failed);
    return failed ? 1 : 0;
}
