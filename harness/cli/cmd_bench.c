/* cmd_bench.c - 'dcqbench bench': the head cost benchmark. Parses options (one key table,
 * bench_keys) into a struct bench_cfg, prints the memory plans and a table row per finished
 * configuration, and a summary table at the end. The measuring is in harness/bench/bench.c. */
#include "cli.h"

#include <cblas.h>
#include <math.h>

#include "bench.h"
#include "head.h"
#include "isa.h"
#include "keys.h"
#include "machine.h"

/* Lists are text rows of the table, parsed after reading (one list per flag, comma separated);
 * their defaults are bench_cfg_defaults' lists printed back, so the help cannot drift. */
struct bench_flags {
    struct bench_cfg cfg;      /* B, ratio, reps, budget, mem limit, seed, force */
    const char *heads, *big_heads, *C, *big_C, *d, *threads, *isa, *out;
    int quick;
    char text[7][512];         /* the default lists as text */
};

#define F(field) offsetof(struct bench_flags, field)
#define CLI KEY_CLI_ONLY
static const struct key_spec bench_keys[] = {
    {"heads", KEY_STR, F(heads), 0, 0, NULL, CLI, 0,
     "comma-separated head names (empty: every registered head)"},
    {"C", KEY_STR, F(C), 0, 0, NULL, CLI, 0, "class counts for every head"},
    {"big_C", KEY_STR, F(big_C), 0, 0, NULL, CLI, 0, "extra class counts ('none' for no extra)"},
    {"big_heads", KEY_STR, F(big_heads), 0, 0, NULL, CLI, 0,
     "heads run at --big-C, first --threads value only; the others are planned and refused "
     "with the memory they would need (empty: every head)"},
    {"d", KEY_STR, F(d), 0, 0, NULL, CLI, 0, "embedding dims"},
    {"threads", KEY_STR, F(threads), 0, 0, NULL, CLI, 0, "BLAS threads"},
    {"isa", KEY_STR, F(isa), 0, 0, NULL, CLI, 0,
     "ISA paths of the kernels (avx512, avx2, sse2, native = the best): every configuration "
     "runs once per path, all its phases on that path, so its ratios come from one run; "
     "--big-C at the first path only (empty: the path in use, DCQB_ISA's or the best)"},
    {"B", KEY_INT, F(cfg.B), 1, 1 << 20, NULL, CLI, 0, "batch size"},
    {"ratio", KEY_DOUBLE, F(cfg.ratio), 0, 1, NULL, CLI, KEY_LO_OPEN,
     "partial heads' fraction of classes, as training's ratio"},
    {"reps", KEY_INT, F(cfg.reps), 1, 1 << 20, NULL, CLI, 0,
     "timed steps per phase, fewer at large C (>= 2)"},
    {"budget", KEY_DOUBLE, F(cfg.phase_budget_s), 0, 1e9, NULL, CLI, KEY_LO_OPEN,
     "seconds per timed phase that cap reps at large C"},
    {"mem_limit_mb", KEY_DOUBLE, F(cfg.mem_limit_mb), 0, 1e12, NULL, CLI,
     KEY_LO_OPEN | KEY_NO_DEFAULT, "memory the plan may use (default: 0.9 x MemAvailable)"},
    {"out", KEY_STR, F(out), 0, 0, NULL, CLI, 0, "results folder (bench.tsv)"},
    {"seed", KEY_I64, F(cfg.seed), 0, (double)INT64_MAX, NULL, CLI, 0, "seed of the inputs"},
    {"force", KEY_BOOL, F(cfg.force), 0, 0, NULL, CLI, 0, "rerun rows already in bench.tsv"},
    {"quick", KEY_BOOL, F(quick), 0, 0, NULL, CLI, 0,
     "~1-minute smoke run: C 1e4,1e5, d 128, 1 thread, reps 3"},
    KEY_SPEC_END,
};
#undef F
#undef CLI

static const char *list_text(char *buf, size_t n, const int64_t *v, int m)
{
    buf[0] = '\0';
    for (int i = 0; i < m; i++) {
        size_t l = strlen(buf);
        snprintf(buf + l, n - l, "%s%lld", i ? "," : "", (long long)v[i]);
    }
    return m ? buf : "none";
}

static const char *names_text(char *buf, size_t n, char (*v)[32], int m)
{
    buf[0] = '\0';
    for (int i = 0; i < m; i++) {
        size_t l = strlen(buf);
        snprintf(buf + l, n - l, "%s%s", i ? "," : "", v[i]);
    }
    return buf;
}

static void bench_flags_defaults(struct bench_flags *b, int quick)
{
    memset(b, 0, sizeof *b);
    bench_cfg_defaults(&b->cfg, quick);
    struct bench_cfg *c = &b->cfg;
    int64_t d[BENCH_MAX_LIST], th[BENCH_MAX_LIST];
    for (int i = 0; i < c->n_d; i++) d[i] = c->d[i];
    for (int i = 0; i < c->n_threads; i++) th[i] = c->threads[i];
    b->heads = names_text(b->text[0], sizeof b->text[0], c->heads, c->n_heads);
    b->big_heads = names_text(b->text[1], sizeof b->text[1], c->big_heads, c->n_big_heads);
    b->C = list_text(b->text[2], sizeof b->text[2], c->C, c->n_C);
    b->big_C = list_text(b->text[3], sizeof b->text[3], c->big_C, c->n_big_C);
    b->d = list_text(b->text[4], sizeof b->text[4], d, c->n_d);
    b->threads = list_text(b->text[5], sizeof b->text[5], th, c->n_threads);
    b->isa = "";
    b->out = c->out_dir;
    b->quick = quick;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: dcqbench bench [--heads LIST] [--C LIST] [--big-C LIST] [--big-heads LIST]\n"
            "                      [--d LIST] [--B N] [--ratio R] [--threads LIST] [--isa LIST]\n"
            "                      [--reps N] [--budget S] [--mem-limit-mb MB] [--out DIR]\n"
            "                      [--seed N] [--force] [--quick]\n\n"
            "Time and memory of each head's training step as the number of classes C grows.\n"
            "For each head x C x d x threads x ISA path one child process measures:\n"
            "  head    forward_backward + step on fixed random unit embeddings (and keys for\n"
            "          pair heads), labels uniform over C; median of --reps steps after warm-up\n"
            "  total   training's step (trainer_step): batch rendering, backbone 128-512-512 -> d,\n"
            "          head, SGD (+ EMA key forward); measured first, on a fresh trainer\n"
            "  bound   the head's GEMMs alone, same shapes, same run; bound_ratio = head / bound\n"
            "          (medians); min_ratio = fastest head step / fastest bound rep\n"
            "  step    the whole step's GEMMs alone (EMA key forward, backbone forward, the head's\n"
            "          GEMMs, backbone backward); step_ratio = total / step (medians)\n"
            "Each row records the CPU, its L1d/L2/L3 sizes and the ISA path it ran on (--isa).\n"
            "A memory plan is printed first; configurations that would not fit in 0.9 x\n"
            "MemAvailable (or --mem-limit-mb) are refused before anything large is allocated.\n"
            "Rows are appended to <out>/bench.tsv as they finish; rows already 'ok' or 'refused'\n"
            "at this git revision are skipped unless --force.\n\n");
    struct bench_flags def;
    bench_flags_defaults(&def, 0);
    keys_help(f, bench_keys, &def, KEY_CLI_ONLY, KEYS_HELP_FLAGS, 16);
    fprintf(f, "Wall times are noisy when other processes load the cores: compare medians.\n");
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

/* --isa: comma-separated names of at most 15 characters (bench_run checks each one) */
static int parse_isa(const char *s, char (*out)[16], int *n)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", s);
    *n = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (*n >= BENCH_MAX_LIST || strlen(tok) >= 16) return -1;
        snprintf(out[(*n)++], 16, "%s", tok);
    }
    return *n ? 0 : -1;
}

static void print_table_header(void)
{
    printf("%-8s %9s %4s %2s %-6s %8s %-8s %10s %10s %7s %10s %6s %6s %6s %8s %9s %9s %6s\n",
           "head", "C", "d", "th", "isa", "K", "status", "head_ms", "total_ms", "GFLOP/s",
           "bound_ms", "ratio", "min_r", "step_r", "B/class", "plan_GB", "rss_MB",
           "allocs head/all");
}

static void print_row(const struct bench_row *r)
{
    if (strcmp(r->status, "ok") == 0)
        printf("%-8s %9lld %4d %2d %-6s %8lld %-8s %10.2f %10.2f %7.1f %10.2f %6.2f %6.2f %6.2f "
               "%8.0f %9.3f %9.0f %6ld/%ld\n",
               r->head, (long long)r->C, r->d, r->threads, r->isa, (long long)r->K, r->status,
               r->head_ms, r->total_ms, r->head_gflops, r->gemm_bound_ms, r->bound_ratio,
               r->min_ratio, r->step_ratio,
               r->per_class_bytes, r->plan_bytes / 1e9, r->peak_rss_mb, r->head_allocs,
               r->allocs_in_loop);
    else
        printf("%-8s %9lld %4d %2d %-6s %8lld %-8s %s\n", r->head, (long long)r->C, r->d,
               r->threads, r->isa, (long long)r->K, r->status, r->err_msg);
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

/* A list flag's text -> cfg; the error names the flag as typed (--big-C for big_C). */
static int lists_to_cfg(struct bench_cfg *cfg, const struct bench_flags *bf, struct dcqb_err *err)
{
    const char *bad = NULL, *val = NULL;
#define CHECK(cond, key, v)                                                                      \
    if (!bad && (cond)) bad = key, val = v
    CHECK(bf->heads[0] && parse_names(bf->heads, cfg->heads, &cfg->n_heads), "heads", bf->heads);
    CHECK(bf->big_heads[0] && parse_names(bf->big_heads, cfg->big_heads, &cfg->n_big_heads),
          "big-heads", bf->big_heads);
    CHECK(parse_list_i64(bf->C, cfg->C, &cfg->n_C) || cfg->n_C == 0, "C", bf->C);
    CHECK(parse_list_i64(bf->big_C, cfg->big_C, &cfg->n_big_C), "big-C", bf->big_C);
    CHECK(parse_list_int(bf->d, cfg->d, &cfg->n_d), "d", bf->d);
    CHECK(parse_list_int(bf->threads, cfg->threads, &cfg->n_threads), "threads", bf->threads);
    CHECK(bf->isa[0] && parse_isa(bf->isa, cfg->isa, &cfg->n_isa), "isa", bf->isa);
    CHECK(strlen(bf->out) >= sizeof cfg->out_dir, "out", bf->out);
#undef CHECK
    if (bad) return DCQB_FAIL(err, DCQB_EINVAL, "bad value '%s' for --%s", val, bad);
    if (!bf->heads[0]) cfg->n_heads = 0;
    if (!bf->big_heads[0]) cfg->n_big_heads = 0;
    if (!bf->isa[0]) cfg->n_isa = 0;
    snprintf(cfg->out_dir, sizeof cfg->out_dir, "%s", bf->out);
    return DCQB_OK;
}

static int parse_flags(struct bench_cfg *cfg, int argc, char **argv, struct dcqb_err *err)
{
    struct cfg flags = {0};
    struct bench_flags bf;
    static const char *const bool_flags[] = {"force", "quick", NULL};
    int quick = 0, rc;
    /* --quick picks the defaults of every other flag, so it is read first */
    if ((rc = cfg_parse_args(&flags, argc, argv, bool_flags, err)) ||
        (rc = cfg_get_bool(&flags, "quick", 0, &quick, err)))
        goto out;
    if (flags.n_pos) {
        rc = DCQB_FAIL(err, DCQB_EINVAL, "unexpected argument '%s' (options are --key value)",
                       flags.pos[0]);
        goto out;
    }
    bench_flags_defaults(&bf, quick);
    if ((rc = keys_read(&bf, bench_keys, KEY_CLI_ONLY, &flags, err)) ||
        (rc = cfg_check_unused(&flags, err)))
        goto out;
    *cfg = bf.cfg;
    rc = lists_to_cfg(cfg, &bf, err);
out:
    cfg_free(&flags); /* bf's strings point into flags: used up by now */
    return rc;
}

int cmd_bench(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    struct dcqb_err err = {0};
    struct bench_cfg cfg;
    if (parse_flags(&cfg, argc, argv, &err)) return cli_error("bench", &err);
    const struct dcqb_machine *m = dcqb_machine();
    printf("dcqbench bench: B=%d ratio=%g reps=%d out=%s/bench.tsv; BLAS kernel %s\n", cfg.B,
           cfg.ratio, cfg.reps, cfg.out_dir, openblas_get_corename());
    printf("machine: %s; L1d %lld KiB, L2 %lld KiB, L3 %lld KiB per the OS; ISA path in use %s"
           " (best %s)\n", m->cpu_model, (long long)(m->l1d_bytes / 1024),
           (long long)(m->l2_bytes / 1024), (long long)(m->l3_bytes / 1024),
           dcqb_isa_name(dcqb_isa()), dcqb_isa_name(dcqb_isa_best()));
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
