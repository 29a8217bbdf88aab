/* test_bench.c - the head cost benchmark's mechanics on a tiny configuration (C = 1000,
 * d = 16, reps 2): TSV header and columns, status, skip on rerun, ISA paths as configurations,
 * the machine and whole-step columns, refusal under a fake memory limit before anything is
 * allocated, no allocation inside the step loop, and the timed step
 * being training's step (same loss and digest). No timing assertions (timing belongs to
 * `make bench`). */
#include "test_util.h"

#include <math.h>
#include <string.h>

#include "alloc_count.h"
#include "bench.h"
#include "bench_child.h"
#include "isa.h"
#include "train.h"

static void tiny_cfg(struct bench_cfg *cfg, const char *sub)
{
    bench_cfg_defaults(cfg, 1);
    snprintf(cfg->heads[0], 32, "full");
    cfg->n_heads = 1;
    cfg->C[0] = 1000, cfg->n_C = 1;
    cfg->n_big_C = 0;
    cfg->d[0] = 16, cfg->n_d = 1;
    cfg->threads[0] = 1, cfg->n_threads = 1;
    cfg->B = 32;
    cfg->reps = 2;
    snprintf(cfg->out_dir, sizeof cfg->out_dir, "%s/%s", test_tmpdir(), sub);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf %s", cfg->out_dir);
    (void)!system(cmd);
}

struct seen {
    int plans, rows, skips;
    struct bench_row last;
};

static void on_event(void *ctx, enum bench_event ev, const struct bench_row *row, const char *msg)
{
    struct seen *s = ctx;
    if (ev == BENCH_PLAN) {
        assert_non_null(msg);
        assert_non_null(strstr(msg, "plan "));
        s->plans++;
    } else {
        if (ev == BENCH_ROW) s->rows++;
        else s->skips++;
        s->last = *row;
    }
}

/* Read the TSV: returns the number of data lines, checks the header and field counts. */
static int read_tsv(const char *dir, char lines[][1024], int max)
{
    char path[700];
    snprintf(path, sizeof path, "%s/bench.tsv", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char buf[2048];
    assert_non_null(fgets(buf, sizeof buf, f));
    buf[strcspn(buf, "\n")] = '\0';
    assert_string_equal(buf, bench_tsv_header());
    int ncols = 1;
    for (const char *p = bench_tsv_header(); *p; p++) ncols += *p == '\t';
    int n = 0;
    while (fgets(buf, sizeof buf, f)) {
        int k = 1;
        for (const char *p = buf; *p; p++) k += *p == '\t';
        assert_int_equal(k, ncols);
        if (n < max) snprintf(lines[n], 1024, "%.1000s", buf);
        n++;
    }
    fclose(f);
    return n;
}

/* The FLOPs the step bound timed, from its GFLOP/s and median. */
static double step_flops_of(const struct bench_row *r)
{
    return r->step_gflops * 1e9 * r->step_bound_ms * 1e-3;
}

/* A training step's GEMM FLOPs without the key forward, by hand: the backbone 128-512-512 -> d
 * has weights w = 128 x 512 + 512 x 512 + 512 x d; forward (w) and dW (w) over B rows, dX for
 * the last two layers (512 x 512 + 512 x d); the head's 3 GEMMs of B x K x d (full). */
static double full_step_flops(int B, int d, int64_t K)
{
    double w = 128.0 * 512 + 512.0 * 512 + 512.0 * d, wx = 512.0 * 512 + 512.0 * d;
    return 2.0 * (2.0 * w * B + wx * B + 3.0 * B * (double)K * d);
}

static void test_tiny_run_rerun_skips(void **state)
{
    (void)state;
    struct bench_cfg cfg;
    tiny_cfg(&cfg, "bench-ok");
    struct seen s = {0};
    struct dcqb_err err = {0};
    assert_int_equal(bench_run(&cfg, on_event, &s, &err), DCQB_OK);
    assert_int_equal(s.plans, 1);
    assert_int_equal(s.rows, 1);
    assert_string_equal(s.last.status, "ok");
    assert_int_equal(s.last.K, 1000);
    assert_int_equal(s.last.n_gemm, 3); /* full learns W: logits, d emb, d W */
    assert_true(s.last.head_ms > 0 && s.last.total_ms > 0 && s.last.gemm_bound_ms > 0);
    assert_true(s.last.peak_rss_mb > 0);
    assert_true(s.last.per_class_bytes > 0 && s.last.plan_bytes > 0);
    /* the whole step's GEMMs: the head's and the backbone's (no timing asserted, only what was
     * counted) */
    assert_true(s.last.step_bound_ms > 0 && s.last.step_min_ms > 0);
    assert_true(s.last.step_ratio > 0 && s.last.step_min_ratio > 0 && s.last.step_gflops > 0);
    assert_close(s.last.step_ratio, s.last.total_ms / s.last.step_bound_ms, 0, 1e-12);
    assert_close(step_flops_of(&s.last), full_step_flops(32, 16, 1000), 0, 1e-9);
    /* the machine and the path the kernels ran on (no --isa: the path in use) */
    assert_string_equal(s.last.isa, dcqb_isa_name(dcqb_isa()));
    assert_true(strlen(s.last.cpu_model) > 0);
#ifdef __linux__
    assert_true(s.last.l2_kb > 0);
#endif
    /* nothing allocated inside the step loop (when counting is available in this build) */
    if (alloc_count_available()) assert_int_equal(s.last.allocs_in_loop, 0);
    else assert_int_equal(s.last.allocs_in_loop, -1);
    char lines[4][1024];
    assert_int_equal(read_tsv(cfg.out_dir, lines, 4), 1);
    assert_non_null(strstr(lines[0], "full\t1000\t16\t32\t1\t0.1\t1000\tok\t"));
    /* the file's row, read back by column name, is the row the callback saw */
    char path[700];
    snprintf(path, sizeof path, "%s/bench.tsv", cfg.out_dir);
    struct tsv t;
    assert_int_equal(tsv_load(&t, path, &err), DCQB_OK);
    struct bench_row back;
    assert_int_equal(bench_row_read(&back, &t, 1), 0);
    assert_string_equal(back.status, s.last.status);
    assert_int_equal(back.K, s.last.K);
    assert_int_equal(back.n_gemm, s.last.n_gemm);
    assert_int_equal(back.allocs_in_loop, s.last.allocs_in_loop);
    assert_close(back.head_ms, s.last.head_ms, 1e-4, 0);
    assert_close(back.peak_rss_mb, s.last.peak_rss_mb, 0.05, 0);
    assert_close(back.step_ratio, s.last.step_ratio, 1e-4, 0);
    assert_string_equal(back.isa, s.last.isa);
    assert_int_equal(back.l2_kb, s.last.l2_kb);
    tsv_free(&t);

    /* rerun: skipped, no new line */
    struct seen s2 = {0};
    assert_int_equal(bench_run(&cfg, on_event, &s2, &err), DCQB_OK);
    assert_int_equal(s2.rows, 0);
    assert_int_equal(s2.skips, 1);
    assert_string_equal(s2.last.status, "ok");
    assert_int_equal(read_tsv(cfg.out_dir, lines, 4), 1);
    /* --force reruns */
    cfg.force = 1;
    struct seen s3 = {0};
    assert_int_equal(bench_run(&cfg, on_event, &s3, &err), DCQB_OK);
    assert_int_equal(s3.rows, 1);
    assert_int_equal(read_tsv(cfg.out_dir, lines, 4), 2);
}

/* Head memory is measured (heap bytes held after head_open), not declared: full's grows with C,
 * dcq's at its fixed queue length does not, dcq's at a fixed ratio does (its queue is L = r C). */
static void test_measured_head_memory(void **state)
{
    (void)state;
    if (!alloc_count_available()) skip(); /* sanitizer builds count nothing */
    struct bench_cfg cfg;
    tiny_cfg(&cfg, "bench-mem");
    snprintf(cfg.heads[1], 32, "dcq");
    cfg.n_heads = 2;
    cfg.C[0] = 2000, cfg.C[1] = 8000, cfg.n_C = 2;
    struct dcqb_err err = {0};
    assert_int_equal(bench_run(&cfg, NULL, NULL, &err), DCQB_OK);
    char path[700];
    snprintf(path, sizeof path, "%s/bench.tsv", cfg.out_dir);
    struct tsv t;
    assert_int_equal(tsv_load(&t, path, &err), DCQB_OK);
    assert_int_equal(t.rows, 5);
    struct bench_row r[4];
    for (int i = 0; i < 4; i++) assert_int_equal(bench_row_read(&r[i], &t, i + 1), 0);
    tsv_free(&t);
    const struct bench_row *f2 = NULL, *f8 = NULL, *d2 = NULL, *d8 = NULL;
    for (int i = 0; i < 4; i++) {
        int full = !strcmp(r[i].head, "full");
        if (r[i].C == 2000) *(full ? &f2 : &d2) = &r[i];
        else *(full ? &f8 : &d8) = &r[i];
    }
    assert_true(f2 && f8 && d2 && d8);
    assert_true(f8->head_bytes > 3.5 * f2->head_bytes); /* ~ C */
    assert_true(isnan(f2->head_bytes_fixed_l));
    assert_close(d2->fixed_l, 1000, 0, 0);
    assert_close(d8->head_bytes_fixed_l, d2->head_bytes_fixed_l, 0, 0.05); /* ~ L, not C */
    assert_true(d8->head_bytes > 2.0 * d2->head_bytes);                     /* L = 0.1 C */
    assert_true(d2->ema_bytes > 0 && f2->ema_bytes == 0);
    assert_true(d8->head_ms_fixed_l > 0);
}

/* --isa: the rows carry the path asked for; a rerun of that path skips them, a rerun on
 * another path (here the one in use) is another configuration and runs. A pair head (dcq) so
 * the step bound's key forward runs too. */
static void test_isa_paths_are_configurations(void **state)
{
    (void)state;
    struct bench_cfg cfg;
    tiny_cfg(&cfg, "bench-isa");
    snprintf(cfg.heads[0], 32, "dcq");
    snprintf(cfg.isa[0], 16, "sse2");
    cfg.n_isa = 1;
    struct seen s = {0};
    struct dcqb_err err = {0};
    assert_int_equal(bench_run(&cfg, on_event, &s, &err), DCQB_OK);
    char path[700];
    snprintf(path, sizeof path, "%s/bench.tsv", cfg.out_dir);
    struct tsv t;
    assert_int_equal(tsv_load(&t, path, &err), DCQB_OK);
    assert_int_equal(t.rows, 2);
    struct bench_row r;
    assert_int_equal(bench_row_read(&r, &t, 1), 0);
    tsv_free(&t);
    assert_string_equal(r.status, "ok");
    assert_string_equal(r.isa, "sse2");
    assert_true(r.step_bound_ms > 0 && r.step_ratio > 0);
    /* dcq's step (the callback's row: the file's cells are rounded): 2 head GEMMs (no W to
     * learn) and the key forward, kshot B rows through the
     * EMA copy (w = 128 x 512 + 512 x 512 + 512 x 16 per row), which full's step lacks */
    double w = 128.0 * 512 + 512.0 * 512 + 512.0 * 16;
    double keys = step_flops_of(&s.last) - (full_step_flops(32, 16, r.K) - 2.0 * 32 * r.K * 16);
    double rows = keys / (2.0 * w);
    assert_true(rows >= 32 - 1e-6);
    assert_close(rows / 32, round(rows / 32), 0, 1e-9); /* a whole kshot */
    /* the same path again: skipped */
    struct seen s2 = {0};
    assert_int_equal(bench_run(&cfg, on_event, &s2, &err), DCQB_OK);
    assert_int_equal(s2.skips, 1);
    assert_int_equal(s2.rows, 0);
    if (dcqb_isa() == DCQB_ISA_SSE2) return; /* a CPU without AVX2: no other path to run */
    /* the path in use is another configuration: it runs */
    cfg.n_isa = 0;
    struct seen s3 = {0};
    assert_int_equal(bench_run(&cfg, on_event, &s3, &err), DCQB_OK);
    assert_int_equal(s3.skips, 0);
    assert_int_equal(s3.rows, 1);
    assert_string_equal(s3.last.isa, dcqb_isa_name(dcqb_isa()));
}

/* An unknown path, or one this CPU lacks, is refused before anything runs, naming it. */
static void test_bad_isa(void **state)
{
    (void)state;
    struct bench_cfg cfg;
    tiny_cfg(&cfg, "bench-bad-isa");
    snprintf(cfg.isa[0], 16, "sse2");
    snprintf(cfg.isa[1], 16, "avx9");
    cfg.n_isa = 2;
    struct dcqb_err err = {0};
    assert_int_equal(bench_run(&cfg, NULL, NULL, &err), DCQB_EINVAL);
    assert_non_null(strstr(err.msg, "'avx9'"));
    if (dcqb_isa_best() < DCQB_ISA_AVX512) {
        snprintf(cfg.isa[1], 16, "avx512");
        assert_int_equal(bench_run(&cfg, NULL, NULL, &err), DCQB_EINVAL);
        assert_non_null(strstr(err.msg, "'avx512'"));
    }
    char path[700];
    snprintf(path, sizeof path, "%s/bench.tsv", cfg.out_dir);
    FILE *f = fopen(path, "r");
    assert_null(f); /* refused before the file is opened */
}

static void test_refused_under_memory_limit(void **state)
{
    (void)state;
    struct bench_cfg cfg;
    tiny_cfg(&cfg, "bench-refused");
    cfg.C[0] = 200000; /* full: ~16 B/class x ... well above 1 MB */
    cfg.mem_limit_mb = 1;
    struct seen s = {0};
    struct dcqb_err err = {0};
    assert_int_equal(bench_run(&cfg, on_event, &s, &err), DCQB_OK);
    assert_int_equal(s.rows, 1);
    assert_string_equal(s.last.status, "refused");
    assert_non_null(strstr(s.last.err_msg, "needs"));
    assert_true(s.last.plan_bytes > s.last.avail_bytes);
    assert_true(s.last.head_ms < 0 && s.last.peak_rss_mb < 0); /* never ran */
    char lines[2][1024];
    assert_int_equal(read_tsv(cfg.out_dir, lines, 2), 1);
    assert_non_null(strstr(lines[0], "\trefused\t"));
}

/* The column contract: header, writer and reader come from one table, so a row written and
 * read back by column name is the row, and the header names every member once. */
static void test_column_table_round_trip(void **state)
{
    (void)state;
    int n = 0;
    char hdr[1024] = "";
    for (; bench_cols[n].name; n++) {
        for (int j = 0; j < n; j++) assert_string_not_equal(bench_cols[j].name, bench_cols[n].name);
        assert_true(bench_cols[n].off + bench_cols[n].size <= sizeof(struct bench_row));
        size_t l = strlen(hdr);
        snprintf(hdr + l, sizeof hdr - l, "%s%s", n ? "\t" : "", bench_cols[n].name);
    }
    assert_int_equal(n, 46);
    assert_string_equal(hdr, bench_tsv_header());
    struct bench_row r = {.head = "dcq", .C = 10000000, .d = 128, .B = 256, .threads = 2,
                          .ratio = 0.1, .K = 1000000, .status = "ok", .reps = 5,
                          .head_ms = 12.5, .head_cpu_ms = 25, .head_min_ms = 12.25,
                          .total_ms = 40.125, .head_gflops = 81.5, .gemm_bound_ms = 10,
                          .bound_ratio = 1.25, .gemm_min_ms = 9.5, .min_ratio = 1.5,
                          .gemm_gflops = 90.25, .n_gemm = 2, .per_class_bytes = 520,
                          .fixed_bytes = 4096, .plan_bytes = 5.2e9, .avail_bytes = 6e9,
                          .peak_rss_mb = 4960.5, .head_bytes = 5.5e9, .fixed_l = 1000,
                          .head_bytes_fixed_l = 792576, .head_ms_fixed_l = 0.75,
                          .ema_bytes = 400000, .head_allocs = 0, .allocs_in_loop = -1,
                          .bound_allocs = 3, .step_bound_ms = 50.5, .step_ratio = 1.25,
                          .isa = "avx2", .cpu_model = "AMD EPYC 9B45 64-Core Processor",
                          .l1d_kb = 48, .l2_kb = 1024, .l3_kb = 32768,
                          .blas_core = "", .git_rev = "abc1234",
                          .err_msg = "tab\there"};
    struct sbuf b = {0};
    sb_str(&b, bench_tsv_header());
    sb_add(&b, "\n", 1);
    bench_row_format(&b, &r);
    assert_false(b.oom);
    assert_non_null(strstr(b.p, "\t-\tabc1234\ttab here\n")); /* empty -> "-", tab -> space */
    struct tsv t;
    struct dcqb_err err = {0};
    char *text;
    assert_int_equal(sb_take(&b, &text, &err), DCQB_OK);
    assert_int_equal(tsv_parse(&t, text, "bench.tsv", &err), DCQB_OK);
    assert_int_equal(t.rows, 2);
    assert_int_equal(t.cols, n);
    struct bench_row q;
    assert_int_equal(bench_row_read(&q, &t, 1), 0);
    assert_string_equal(q.head, "dcq");
    assert_int_equal(q.C, r.C);
    assert_int_equal(q.threads, 2);
    assert_close(q.ratio, 0.1, 0, 1e-12);
    assert_int_equal(q.K, r.K);
    assert_close(q.total_ms, r.total_ms, 0, 1e-12);
    assert_close(q.gemm_gflops, r.gemm_gflops, 0, 1e-12);
    assert_close(q.plan_bytes, r.plan_bytes, 0, 1e-12);
    assert_close(q.peak_rss_mb, r.peak_rss_mb, 0, 1e-12);
    assert_close(q.head_bytes_fixed_l, r.head_bytes_fixed_l, 0, 1e-12);
    assert_close(q.head_ms_fixed_l, r.head_ms_fixed_l, 0, 1e-12);
    assert_int_equal(q.n_gemm, 2);
    assert_int_equal(q.allocs_in_loop, -1);
    assert_int_equal(q.bound_allocs, 3);
    assert_string_equal(q.blas_core, "-");
    assert_close(q.step_bound_ms, 50.5, 0, 1e-12);
    assert_close(q.step_ratio, 1.25, 0, 1e-12);
    assert_string_equal(q.isa, "avx2");
    assert_string_equal(q.cpu_model, r.cpu_model);
    assert_int_equal(q.l1d_kb, 48);
    assert_int_equal(q.l2_kb, 1024);
    assert_int_equal(q.l3_kb, 32768);
    assert_string_equal(q.git_rev, "abc1234");
    assert_string_equal(q.err_msg, "tab here");
    tsv_free(&t);
    /* a torn last line (no newline) is not a row */
    text = strdup("head\tC\nfull\t10");
    assert_int_equal(tsv_parse(&t, text, "bench.tsv", &err), DCQB_OK);
    assert_int_equal(bench_row_read(&q, &t, 1), -1);
    tsv_free(&t);
}

/* The bench times training's own step: for the same seed and shape, the trainer the bench
 * builds gives the loss of a training run's first step and, after the same steps, its digest
 * (full, and dcq for the EMA + key path). The training side spells the config as a user would
 * to 'dcqbench train'. */
static void test_bench_step_is_training_step(void **state)
{
    (void)state;
    const char *heads[] = {"full", "dcq"};
    for (int h = 0; h < 2; h++) {
        struct dcqb_err err = {0};
        struct cfg bc = {0}, tc = {0};
        struct trainer bt, tt;
        assert_int_equal(bench_train_cfg(&bc, heads[h], 1000, 16, 32, 1, 0.1, 3, 3, &err),
                         DCQB_OK);
        assert_int_equal(trainer_setup(&bt, &bc, &err), DCQB_OK);
        double wall[2];
        float first = NAN;
        long allocs;
        assert_int_equal(bench_time_step(&bt, 1, 2, wall, &first, &allocs, &err), DCQB_OK);
        if (alloc_count_available()) assert_int_equal(allocs, 0);
        const char *kv[][2] = {{"head", heads[h]}, {"profile", "uniform"}, {"uniform_n", "1"},
                               {"ids", "1000"},    {"dim", "16"},          {"batch", "32"},
                               {"threads", "1"},   {"ratio", "0.1"},       {"seed", "3"},
                               {"steps", "3"},     {"lr", "0.001"},        {"warmup", "0"},
                               {"lr_schedule", "constant"}};
        for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
            assert_int_equal(cfg_set(&tc, kv[i][0], kv[i][1], "test", 1, NULL), DCQB_OK);
        assert_int_equal(trainer_setup(&tt, &tc, &err), DCQB_OK);
        struct train_result r;
        assert_int_equal(trainer_run(&tt, NULL, NULL, NULL, NULL, NULL, &r, &err), DCQB_OK);
        assert_true(first == r.first_loss); /* 3 steps: the first-loss mean is step 0 alone */
        assert_int_equal(trainer_digest(&bt), r.digest);
        trainer_free(&bt);
        trainer_free(&tt);
        cfg_free(&bc);
        cfg_free(&tc);
    }
}

static void test_bad_config(void **state)
{
    (void)state;
    struct bench_cfg cfg;
    tiny_cfg(&cfg, "bench-bad");
    snprintf(cfg.heads[0], 32, "nosuchhead");
    struct dcqb_err err = {0};
    assert_int_equal(bench_run(&cfg, NULL, NULL, &err), DCQB_EINVAL);
    assert_non_null(strstr(err.msg, "nosuchhead"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiny_run_rerun_skips),
        cmocka_unit_test(test_refused_under_memory_limit),
        cmocka_unit_test(test_column_table_round_trip),
        cmocka_unit_test(test_measured_head_memory),
        cmocka_unit_test(test_bench_step_is_training_step),
        cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_isa_paths_are_configurations),
        cmocka_unit_test(test_bad_isa),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
