/* test_report.c - 'dcqbench report' on fixture results: the tables, the claims' sections and
 * derived files from a synthetic runs.tsv with failed rows, a retried run whose last row wins,
 * and a duplicate configuration reached from two sweep sections (the rules and every claim's
 * verdict branches: test_verdicts.c). No training: everything here runs in milliseconds. */
#include "test_util.h"

#include <string.h>
#include <sys/stat.h>

#include "bench.h"
#include "report.h"

#define FX_ROOT "build/tmp-tests/report_fx"

/* ---- fixture runs.tsv -------------------------------------------------------------------------- */

static const char *const fx_header =
    "schema\trun_id\tsweep\tgit_rev\tstatus\tbatch\teval.distractors\teval_net\thead\tids\tkshot\t"
    "m\tmargin\tmu\tprofile\tratio\ts\tseed\tcfg.steps\tsteps\twall_s\tsamples_per_s\t"
    "head_mem_mb\tpeak_rss_mb\tfinal_loss\tdigest\tmegaface_rank1\ttar_at_far_1e-3\t"
    "tar_at_far_1e-4\ttar_at_far_1e-6\tlfw_acc_mean\ttail_acc_mean_b1_2\ttail_acc_mean_b3_5\t"
    "tail_acc_mean_b6_10\ttail_acc_mean_b11_50\ttail_acc_mean_b51_plus\ttail_acc_mean_all\t"
    "tail_acc_weight_b1_2\ttail_cos_b1_2\tclasses\thead_active_classes\tpfc_mode\tsampler\t"
    "megaface_n_distractors\terr_msg\n";

/* A run's settings as a sweep section states them; NULL = the section leaves the key alone. */
struct fx {
    const char *head, *profile, *ratio, *mu, *kshot, *net, *s, *m;
};

static int fx_counter;
static const char *fx_full_ratio = "NA"; /* what runs.tsv says for the full softmax's ratio */

/* One row with the run's resolved configuration, as the sweep records it: every key a head
 * reads has its value (dcq's kshot 1 and eval_net ema when the section left them alone), "NA"
 * for keys the head does not read. id NULL = next counter id. r1 < 0 = a failed row with NA
 * metrics. */
static void fx_row(FILE *f, const char *id, const struct fx *x, int seed, double r1,
                   const char *err)
{
    char idb[32];
    if (!id) {
        snprintf(idb, sizeof idb, "%016x", 0x1000 + fx_counter++);
        id = idb;
    }
    int ok = r1 >= 0, dcq = strcmp(x->head, "dcq") == 0, full = strcmp(x->head, "full") == 0;
    int ids = strcmp(x->profile, "ms1m") ? 1000 : 300;
    fprintf(f, "1\t%s\tfx\tabc123\t%s\t64\t2000\t%s\t%s\t%d\t%s\t%s\tcosface\t%s\t%s\t%s\t%s\t%d\t"
               "80\t",
            id, ok ? "ok" : "fail", x->net ? x->net : dcq ? "ema" : "NA", x->head, ids,
            x->kshot ? x->kshot : dcq ? "1" : "NA", x->m ? x->m : "0.3", x->mu ? x->mu : "NA",
            x->profile, x->ratio ? x->ratio : full ? fx_full_ratio : "NA", x->s ? x->s : "50",
            seed);
    /* the head's own variant keys as the resolved config records them */
    const char *pfc = strcmp(x->head, "random") ? "NA" : "v1";
    const char *smp = strcmp(x->head, "sampled") ? "NA" : "uniform";
    if (!ok) {
        fprintf(f, "NA\tNA\tNA\tNA\tNA\tNA\tNA\tNA\tNA\tNA\tNA\tNA\tNA\tNA\tNA\tNA\tNA\tNA\tNA\tNA"
                   "\tNA\tNA\t%s\t%s\tNA\t%s\n", pfc, smp, err);
        return;
    }
    /* the summary's classes and head_active_classes: the full softmax has every class */
    int active = full ? ids : (int)(atof(x->ratio) * ids + 0.5) + 1;
    fprintf(f, "80\t12.5\t%d\t%.3f\t150\t3.25\tdeadbeef\t%.6f\t%.6f\t%.6f\tNA\t%.6f\t%.6f\t%.6f\t"
               "%.6f\t%.6f\t%.6f\t%.6f\t%s\t%s\t%d\t%d\t%s\t%s\t2000\tNA\n",
            1000 + seed, dcq ? 0.5 : 2.0, r1, r1 + 0.2, r1 + 0.1, 0.9 + r1 / 10, r1 - 0.2,
            r1 - 0.1, r1, r1 + 0.05, r1 + 0.1, r1, dcq ? "NA" : "0.4", dcq ? "NA" : "0.7", ids,
            active, pfc, smp);
}

/* Writes FX_ROOT/<sweep>/runs.tsv. rank-1 values (fractions) chosen for these verdicts:
 *  1 parity dcq 10 % vs full on ms1m: diffs +0.5, baseline std 2         -> reproduced
 *  3 better dcq vs full on mf2: diffs 3, 3, 4                              -> reproduced
 *  4 tail-specific = (3,3,4) - (0.5,0.5,0.5)                               -> reproduced
 *  5 mu 0.9 vs mu 0: mu 0 has 2 seeds                                      -> only 2 seeds
 *  6 dcq vs random on mf2: diffs -3, -2, -2                                -> reversed
 *  7 parity random 10 % vs full on ms1m: diff -10                         -> not reproduced
 *  8 EMA vs online: diffs +1, -1, 0                                        -> inconclusive
 *  9 kshot 2 vs 1: +1 in each seed (seed 3 retried: its last row is ok)    -> multi-shot better
 * plus a failed run (kshot 4 seed 1: ok first, then a failing retry) and a duplicate of the base
 * dcq run reached with an explicit kshot = 1 and a larger run_id (must not be used). */
static void write_fixture(const char *sweep)
{
    char path[256];
    snprintf(path, sizeof path, FX_ROOT "/%s", sweep);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf %s && mkdir -p %s", path, path);
    assert_int_equal(system(cmd), 0);
    snprintf(path, sizeof path, FX_ROOT "/%s/runs.tsv", sweep);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(fx_header, f);
    fx_counter = 0;
    const struct fx full_b = {"full", "ms1m", NULL, NULL, NULL, NULL, NULL, NULL},
                    full_own = {"full", "ms1m", NULL, NULL, NULL, NULL, "64", "0.4"},
                    rnd_b = {"random", "ms1m", "0.1", NULL, NULL, NULL, NULL, NULL},
                    rnd_b5 = {"random", "ms1m", "0.5", NULL, NULL, NULL, NULL, NULL},
                    smp_b = {"sampled", "ms1m", "0.1", NULL, NULL, NULL, NULL, NULL},
                    dcq_b = {"dcq", "ms1m", "0.1", "0.9", NULL, NULL, NULL, NULL},
                    dcq_b5 = {"dcq", "ms1m", "0.5", "0.9", NULL, NULL, NULL, NULL},
                    full_t = {"full", "mf2", NULL, NULL, NULL, NULL, NULL, NULL},
                    rnd_t = {"random", "mf2", "0.1", NULL, NULL, NULL, NULL, NULL},
                    smp_t = {"sampled", "mf2", "0.1", NULL, NULL, NULL, NULL, NULL},
                    dcq_t = {"dcq", "mf2", "0.1", "0.9", NULL, NULL, NULL, NULL},
                    dcq_k1 = {"dcq", "mf2", "0.1", "0.9", "1", NULL, NULL, NULL},
                    dcq_k2 = {"dcq", "mf2", "0.1", "0.9", "2", NULL, NULL, NULL},
                    dcq_k4 = {"dcq", "mf2", "0.1", "0.9", "4", NULL, NULL, NULL},
                    dcq_m0 = {"dcq", "mf2", "0.1", "0", NULL, NULL, NULL, NULL},
                    dcq_m99 = {"dcq", "mf2", "0.1", "0.99", NULL, NULL, NULL, NULL},
                    dcq_on = {"dcq", "mf2", "0.1", "0.9", NULL, "online", NULL, NULL};
    /* the duplicate first in the file, but with the larger run_id */
    for (int s = 1; s <= 3; s++) {
        char id[32];
        snprintf(id, sizeof id, "ffff%012x", s);
        fx_row(f, id, &dcq_k1, s, 0.99, NULL);
    }
    const double full_ms[3] = {0.60, 0.62, 0.64}, full_mf[3] = {0.50, 0.55, 0.60};
    const double dcq_mf[3] = {0.53, 0.58, 0.64};
    for (int s = 1; s <= 3; s++) {
        int i = s - 1;
        fx_row(f, NULL, &full_b, s, full_ms[i], NULL);
        fx_row(f, NULL, &full_own, s, full_ms[i] + 0.01, NULL);
        fx_row(f, NULL, &rnd_b, s, full_ms[i] - 0.10, NULL);
        fx_row(f, NULL, &rnd_b5, s, full_ms[i] - 0.01, NULL);
        fx_row(f, NULL, &smp_b, s, full_ms[i] - 0.02, NULL);
        fx_row(f, NULL, &dcq_b, s, full_ms[i] + 0.005, NULL);
        fx_row(f, NULL, &dcq_b5, s, full_ms[i] + 0.001, NULL);
        fx_row(f, NULL, &full_t, s, full_mf[i], NULL);
        fx_row(f, NULL, &dcq_t, s, dcq_mf[i], NULL);
        fx_row(f, NULL, &rnd_t, s, dcq_mf[i] + (s == 1 ? 0.03 : 0.02), NULL);
        fx_row(f, NULL, &smp_t, s, dcq_mf[i] - 0.05, NULL);
        fx_row(f, NULL, &dcq_m99, s, dcq_mf[i] - 0.001, NULL);
        fx_row(f, NULL, &dcq_on, s, dcq_mf[i] + (s == 1 ? -0.01 : s == 2 ? 0.01 : 0.0), NULL);
        if (s <= 2) fx_row(f, NULL, &dcq_m0, s, dcq_mf[i] - 0.1, NULL);
    }
    fx_row(f, "0000000000000k21", &dcq_k2, 1, dcq_mf[0] + 0.01, NULL);
    fx_row(f, "0000000000000k22", &dcq_k2, 2, dcq_mf[1] + 0.01, NULL);
    fx_row(f, "0000000000000k23", &dcq_k2, 3, -1, "train failed (exit 1): out of memory");
    fx_row(f, "0000000000000k41", &dcq_k4, 1, dcq_mf[0] + 0.02, NULL);
    fx_row(f, "0000000000000k23", &dcq_k2, 3, dcq_mf[2] + 0.01, NULL); /* retry: ok */
    fx_row(f, "0000000000000k41", &dcq_k4, 1, -1, "eval failed | NaN loss"); /* retry: fails */
    assert_int_equal(fclose(f), 0);
}

static void write_bench(const char *path, int dcq_per_class)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "head\tC\td\tB\tthreads\tratio\thead_ms\thead_gflops\tbound_ratio\tper_class_bytes"
               "\tfixed_bytes\tpeak_rss_mb\tstatus\ttotal_ms\thead_bytes\tfixed_l\t"
               "head_bytes_fixed_l\thead_ms_fixed_l\tema_bytes\n");
    const char *heads[3] = {"full", "random", "dcq"};
    for (int h = 0; h < 3; h++)
        for (int C = 1000; C <= 100000; C *= 10) {
            int dcq = h == 2;
            /* measured bytes: ~1 KB per class, dcq's at fixed L flat unless dcq_per_class */
            double hb = 1024.0 * C + 4096 + (C == 10000 ? 512 : 0);
            fprintf(f, "%s\t%d\t128\t256\t2\t0.1\t%.3f\t50\t1.5\t%d\t%d\t100\tok\t%.3f\t%.0f\t",
                    heads[h], C, dcq ? 0.001 * C : 0.004 * C, dcq ? dcq_per_class : 1024,
                    dcq ? 512 * C / 10 : 4096, (dcq ? 0.001 * C : 0.004 * C) + 2, hb);
            if (dcq)
                fprintf(f, "1000\t%.0f\t%.3f\t400000\n",
                        dcq_per_class ? dcq_per_class * (double)C : 5e5 + (C == 10000 ? 512 : 0),
                        1.0 + (C == 10000 ? 0.01 : 0));
            else fputs("NA\tNA\tNA\t0\n", f);
        }
    assert_int_equal(fclose(f), 0);
}

/* The section of `text` from `start` up to the next "### " (or the end), malloc'd. */
static char *section(const char *text, const char *start)
{
    const char *a = strstr(text, start);
    assert_non_null(a);
    const char *e = strstr(a + strlen(start), "### ");
    size_t n = e ? (size_t)(e - a) : strlen(a);
    char *s = malloc(n + 1);
    assert_non_null(s);
    memcpy(s, a, n);
    s[n] = '\0';
    return s;
}

/* report_write(o) must succeed; its text (o->out), to be freed. */
static char *report_text(const struct report_opts *o, struct report_summary *s)
{
    struct dcqb_err err = {0};
    assert_int_equal(report_write(o, s, &err), DCQB_OK);
    char *t = test_slurp(o->out);
    assert_non_null(t);
    return t;
}

static void test_fixture_verdicts(void **state)
{
    (void)state;
    write_fixture("reproduce_fx");
    write_bench(FX_ROOT "/bench.tsv", 0);
    struct report_opts o = {.results_dir = FX_ROOT, .profile = "smoke", .sweep = "reproduce_fx",
                            .out = FX_ROOT "/REPORT.md", .bench_tsv = FX_ROOT "/bench.tsv"};
    struct report_summary s;
    struct dcqb_err err = {0};
    int rc = report_write(&o, &s, &err);
    if (rc) print_error("%s\n", err.msg);
    assert_int_equal(rc, DCQB_OK);
    /* 3 dup + 14 x 3 - 1 (mu 0 seed 3) + 3 kshot 2 + 1 kshot 4 distinct runs */
    assert_int_equal(s.runs, 3 + 41 + 3 + 1);
    assert_int_equal(s.failed, 1);
    assert_int_equal(s.retried, 2);
    assert_int_equal(s.rows, s.runs + 2);
    assert_int_equal(s.bench_rows, 9);
    /* the rules of docs/METHOD.md §5 on this fixture (smoke: computed, shown as not evidence);
     * claim 6 (-3, -2, -2) excludes 0 at 95 % but not after Holm; claim 9's kshot 4 arm has no
     * ok run, kshot 2 sits exactly at -delta */
    const enum report_verdict want[REPORT_N_CLAIMS] = {
        REPORT_REPRODUCED, REPORT_REPRODUCED, REPORT_REPRODUCED, REPORT_INCONCLUSIVE,
        REPORT_REPRODUCED, REPORT_INCONCLUSIVE, REPORT_NOT_REPRODUCED, REPORT_INCONCLUSIVE,
        REPORT_INCONCLUSIVE};
    for (int i = 0; i < REPORT_N_CLAIMS; i++) {
        if (s.verdict[i] != want[i]) print_error("claim %d\n", i + 1);
        assert_int_equal(s.verdict[i], want[i]);
    }
    char *t = test_slurp(FX_ROOT "/REPORT.md");
    assert_non_null(t);
    /* structure */
    test_has(t, "# dcqbench reproduction report: profile smoke");
    test_has(t, "toy scale");
    test_has(t, "Git revisions in runs.tsv: `abc123` (48)\n");
    test_has(t, "BLAS kernels (OpenBLAS core) in runs.tsv: `NA` (48)\n"); /* no such column */
    test_has(t, "ms1m-like ids 300; mf2-like ids 1000; steps 80; batch 64; distractors 2000");
    test_has(t, "Common loss (every head unless marked \"own loss\"): cosface s=50 m=0.3");
    test_has(t, "DCQ main momentum mu: 0.9");
    static const char *const heads[] = {"## Table 1", "## Table 2", "## Table 3", "## Table 4",
                                        "## Table 5", "## Claims", "## Verdicts", "## Controls",
                                        "## Failed runs"};
    const char *prev = t;
    for (int i = 0; i < 9; i++) { /* present and in order */
        const char *p = strstr(prev, heads[i]);
        if (!p) print_error("missing or out of order: %s\n", heads[i]);
        assert_non_null(p);
        prev = p;
    }
    for (int i = 1; i <= 9; i++) {
        char h[32];
        snprintf(h, sizeof h, "### Claim %d:", i);
        test_has(t, h);
    }
    test_has(t, "dropped in this profile: 1 %, 2 %, 5 %, 20 %.");
    test_has(t, "| full | 96.20 ± 0.20 | 82.00 ± 2.00 | 72.00 ± 2.00 | 62.00 ± 2.00 | 2.00 ± 0.00 "
                "| 1002 ± 1 | 3 |");
    test_has(t, "| full (own loss: cosface s=64 m=0.4) |");
    test_has(t, "| dcq 50 % |");
    /* Table 2: TAR@1e-6 is NA everywhere: n/a, not a number */
    test_has(t, "| dcq 10 % | 58.33 ± 5.51 | 68.33 ± 5.51 | n/a |");
    /* Table 4: mu 0 has two seeds; kshot 2 three (retry); kshot 4 none (its last row failed) */
    test_has(t, "| 10 % | 0 | 1 | ema | 45.50 ± 3.54 (n=2) |");
    test_has(t, "| 10 % | 0.9 | 2 | ema | 59.33 ± 5.51 |");
    test_has(t, "| 10 % | 0.9 | 4 | ema | failed |");
    test_has(t, "| 10 % | 0.9 | 1 | ema | 58.33 ± 5.51 | 68.33 ± 5.51 |");
    /* Table 3: dcq has no weights */
    test_has(t, "| mf2 | dcq | n/a |");
    /* claims: per-seed paired rows, intervals, and no verdict shown at smoke scale */
    char *c1 = section(t, "### Claim 1:");
    test_has(c1, "| 1 | 60.50 | 60.00 | +0.50 |");
    test_has(c1, "90 % CI [+0.50, +0.50]");
    test_has(c1, "**Verdict: smoke scale: not evidence.**");
    test_has(c1, "Second baseline (full softmax with its own loss), secondary:");
    free(c1);
    char *c2 = section(t, "### Claim 2:");
    test_has(c2, "| dcq | memory | L = 1000, d = 128 | 1000 - 100000 | 3 | 0.000 |");
    test_has(c2, "| full | memory | L/C = ratio, d = 128 | 1000 - 100000 | 3 |");
    free(c2);
    char *c3 = section(t, "### Claim 3:");
    test_has(c3, "| 3 | 64.00 | 60.00 | +4.00 |"); /* the duplicate (99 %) was not used */
    test_has(c3, "Mean difference +3.33 points, sd 0.58, 95 % CI [+1.90, +4.77]");
    free(c3);
    char *c4 = section(t, "### Claim 4:");
    test_has(c4, "**gap in b1_2** minus **gap in b51_plus**");
    free(c4);
    char *c6 = section(t, "### Claim 6:");
    test_has(c6, "p = 0.0198 (Holm-adjusted 0.0792)");
    free(c6);
    assert_null(strstr(t, "**Verdict: reproduced"));
    test_has(t,
             "| 6 | dcq 10 % (mf2) - random 10 % (mf2) | better | -2.33 [-3.77, -0.90] (95 %, n=3) "
             "| 0.0198 | 0.0792 | smoke scale: not evidence | – | smoke scale: not evidence |");
    /* failed runs: the last row of k41, with its '|' escaped; the k23 failure is superseded */
    test_has(t, "| 0000000000000k41 | dcq | mf2 | 1 | eval failed \\| NaN loss |");
    assert_null(strstr(t, "out of memory"));
    free(t);
    /* every table again as LaTeX booktabs beside REPORT.md, specials escaped */
    char *x = test_slurp(FX_ROOT "/tables/table_01_table-1-ratio-study-on-the-balanced-ms1m.tex");
    assert_non_null(x);
    test_has(x, "\\begin{tabular}{lrrrrrrr}\n\\toprule\nhead & LFW acc & ");
    test_has(x, "\\midrule\nfull & 96.20 $\\pm$ 0.20 & ");
    test_has(x, "dcq 10 \\% & ");
    test_has(x, "\\bottomrule\n\\end{tabular}\n");
    free(x);
    /* derived TSVs */
    char *d = test_slurp(FX_ROOT "/reproduce_fx/derived/t1_ratio.tsv");
    assert_non_null(d);
    test_has(d, "head\tratio_pct\tn\trank1_mean\trank1_std");
    test_has(d, "dcq\t10\t3\t62.5\t2\t");
    free(d);
    d = test_slurp(FX_ROOT "/reproduce_fx/derived/cost_dcq.tsv");
    assert_non_null(d);
    test_has(d, "C\tstep_ms\tmem_mb\tB\tthreads\td\n1000\t1\t");
    free(d);
}

/* Same runs.tsv -> same bytes; no bench -> claim 2 "not run"; a failed run never crashes. */
static void test_deterministic_and_no_bench(void **state)
{
    (void)state;
    write_fixture("reproduce_fx2");
    struct report_opts o = {.results_dir = FX_ROOT, .profile = "default", .sweep = "reproduce_fx2",
                            .out = FX_ROOT "/R1.md", .bench_tsv = FX_ROOT "/none.tsv"};
    struct report_summary s;
    struct dcqb_err err = {0};
    assert_int_equal(report_write(&o, &s, &err), DCQB_OK);
    o.out = FX_ROOT "/R2.md";
    assert_int_equal(report_write(&o, &s, &err), DCQB_OK);
    char *a = test_slurp(FX_ROOT "/R1.md"), *b = test_slurp(FX_ROOT "/R2.md");
    assert_non_null(a);
    assert_non_null(b);
    assert_string_equal(a, b);
    assert_int_equal(s.verdict[1], REPORT_NOT_RUN);
    assert_int_equal(s.bench_rows, -1);
    test_has(a, "No bench results: run `make bench`.");
    test_has(a, "**Verdict: not run (no bench.tsv: run `make bench`).**");
    test_has(a, "**Verdict: not reproduced (90 % CI beyond the margin 1.00).**"); /* claim 7 */
    assert_null(strstr(a, "toy scale"));
    assert_null(strstr(a, "Generated:"));
    free(a);
    free(b);
    /* dcq with per-class memory at fixed L: claim 2 not reproduced */
    write_bench(FX_ROOT "/bench_bad.tsv", 8);
    o.bench_tsv = FX_ROOT "/bench_bad.tsv";
    o.timestamp = "2024-01-01 00:00:00 UTC";
    assert_int_equal(report_write(&o, &s, &err), DCQB_OK);
    assert_int_equal(s.verdict[1], REPORT_NOT_REPRODUCED);
    a = test_slurp(FX_ROOT "/R2.md");
    test_has(a, "Generated: 2024-01-01 00:00:00 UTC");
    free(a);
}

/* Per-run eval files are averaged over seeds into the derived curves. */
static void test_derived_curves(void **state)
{
    (void)state;
    write_fixture("reproduce_fx3");
    /* the full-softmax mf2 runs are ids 0x1007, 0x1015, 0x1023 (14 rows per seed, s=1 has 14) */
    const char *ids[2] = {"0000000000001007", "0000000000001015"};
    for (int k = 0; k < 2; k++) {
        char path[256];
        snprintf(path, sizeof path, "mkdir -p " FX_ROOT "/reproduce_fx3/%s/eval", ids[k]);
        assert_int_equal(system(path), 0);
        snprintf(path, sizeof path, FX_ROOT "/reproduce_fx3/%s/eval/rank1_vs_size.tsv", ids[k]);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fprintf(f, "size\trank1\ttrials\n10\t%.2f\t100\n2000\t%.2f\t100\n", 0.9 + 0.02 * k,
                0.5 + 0.1 * k);
        fclose(f);
        snprintf(path, sizeof path, FX_ROOT "/reproduce_fx3/%s/eval/roc.tsv", ids[k]);
        f = fopen(path, "w");
        assert_non_null(f);
        fprintf(f, "far\ttar\tthreshold\n0\t0.1\t0.9\n1e-4\t0.5\t0.5\n1\t1\t-1\n");
        fclose(f);
    }
    struct report_opts o = {.results_dir = FX_ROOT, .profile = "default", .sweep = "reproduce_fx3",
                            .out = FX_ROOT "/R3.md", .bench_tsv = FX_ROOT "/none.tsv"};
    struct report_summary s;
    struct dcqb_err err = {0};
    assert_int_equal(report_write(&o, &s, &err), DCQB_OK);
    char *d = test_slurp(FX_ROOT "/reproduce_fx3/derived/rank1_vs_size_mf2_full.tsv");
    assert_non_null(d);
    test_has(d, "size\tn\trank1_mean\trank1_std\n10\t2\t91\t");
    test_has(d, "2000\t2\t55\t7.07107\n");
    free(d);
    d = test_slurp(FX_ROOT "/reproduce_fx3/derived/roc_mf2_full.tsv");
    assert_non_null(d);
    test_has(d, "0.0001\t2\t50\t0\n");
    assert_null(strstr(d, "1e-05\t")); /* below the smallest positive FAR: not resolvable */
    free(d);
    /* missing runs.tsv is an I/O error naming the file */
    o.sweep = "reproduce_missing";
    assert_int_equal(report_write(&o, &s, &err), DCQB_EIO);
    assert_non_null(strstr(err.msg, "runs.tsv"));
}

/* Runs of a whole head (every class active per step) are at L/C = 100 % whatever their ratio
 * key says: the resolved ratio 0.1 the full softmax carries gives the same report as NA. */
static void test_whole_head_ignores_ratio(void **state)
{
    (void)state;
    struct report_opts o = {.results_dir = FX_ROOT, .profile = "default", .sweep = "reproduce_fx4",
                            .out = FX_ROOT "/R4a.md", .bench_tsv = FX_ROOT "/none.tsv",
                            .no_derived = 1};
    struct report_summary s;
    struct dcqb_err err = {0};
    write_fixture("reproduce_fx4");
    assert_int_equal(report_write(&o, &s, &err), DCQB_OK);
    fx_full_ratio = "0.1";
    write_fixture("reproduce_fx4");
    fx_full_ratio = "NA";
    o.out = FX_ROOT "/R4b.md";
    assert_int_equal(report_write(&o, &s, &err), DCQB_OK);
    assert_int_equal(s.verdict[0], REPORT_REPRODUCED);
    char *a = test_slurp(FX_ROOT "/R4a.md"), *b = test_slurp(FX_ROOT "/R4b.md");
    assert_non_null(a);
    assert_non_null(b);
    assert_string_equal(a, b);
    test_has(b, "| full | 96.20 ± 0.20 |");
    assert_null(strstr(b, "| full 10 % |"));
    assert_null(strstr(b, "Missing in runs.tsv"));
    free(a);
    free(b);
}

/* Heads the report has never heard of (not registered) get rows, derived columns and curves
 * like any other, after the registered heads (by name); six heads overflow nothing. */
static void test_unseen_heads(void **state)
{
    (void)state;
    write_fixture("reproduce_fx5");
    FILE *f = fopen(FX_ROOT "/reproduce_fx5/runs.tsv", "a");
    assert_non_null(f);
    const struct fx zeta_t = {"zeta", "mf2", "0.1", NULL, NULL, NULL, NULL, NULL},
                    zeta_b = {"zeta", "ms1m", "0.1", NULL, NULL, NULL, NULL, NULL},
                    alpha_t = {"alpha2", "mf2", "0.1", NULL, NULL, NULL, NULL, NULL};
    for (int s = 1; s <= 3; s++) {
        fx_row(f, NULL, &zeta_t, s, 0.40 + 0.01 * s, NULL);
        fx_row(f, NULL, &zeta_b, s, 0.50 + 0.01 * s, NULL);
        fx_row(f, NULL, &alpha_t, s, 0.30 + 0.01 * s, NULL);
    }
    assert_int_equal(fclose(f), 0);
    struct report_opts o = {.results_dir = FX_ROOT, .profile = "default", .sweep = "reproduce_fx5",
                            .out = FX_ROOT "/R5.md", .bench_tsv = FX_ROOT "/none.tsv"};
    struct report_summary s;
    char *t = report_text(&o, &s);
    test_has(t,
             "| zeta 10 % | 95.20 ± 0.10 | 72.00 ± 1.00 | 62.00 ± 1.00 | 52.00 ± 1.00 |"); /* T1 */
    test_has(t, "| alpha2 10 % | 32.00 ± 1.00 |"); /* Table 2 */
    test_has(t, "| zeta 10 % | 42.00 ± 1.00 |");
    test_has(t, "| mf2 | alpha2 |"); /* Table 3 */
    test_has(t, "| ms1m | zeta |");
    const char *t2 = strstr(t, "## Table 2"), *a = strstr(t2, "| alpha2"), *z = strstr(t2, "| zeta");
    const char *d = strstr(t2, "| dcq 10 %");
    assert_true(d && a && z && d < a && a < z); /* registered heads first, then by name */
    free(t);
    char *h = test_slurp(FX_ROOT "/reproduce_fx5/derived/heads.tsv");
    assert_non_null(h);
    test_has(h, "head\twhole\nfull\t1\n");
    test_has(h, "alpha2\t0\nzeta\t0\n");
    free(h);
    h = test_slurp(FX_ROOT "/reproduce_fx5/derived/tail_mf2.tsv");
    assert_non_null(h);
    test_has(h,
             "\talpha2_acc_mean\talpha2_acc_std\talpha2_cos_mean\talpha2_cos_std\tzeta_acc_mean");
    free(h);
    h = test_slurp(FX_ROOT "/reproduce_fx5/derived/t1_ratio.tsv");
    assert_non_null(h);
    test_has(h, "zeta\t10\t3\t52\t1\t");
    free(h);
}

/* A value a head needs that runs.tsv lacks is reported as missing, never replaced by the
 * head's default (dcq's mu 0.999, kshot 1, eval net ema). */
static void test_missing_values(void **state)
{
    (void)state;
    assert_int_equal(system("mkdir -p " FX_ROOT "/reproduce_fx6"), 0);
    FILE *f = fopen(FX_ROOT "/reproduce_fx6/runs.tsv", "w");
    assert_non_null(f);
    fputs("run_id\tstatus\thead\tprofile\tseed\tratio\tmu\tmargin\ts\tm\tclasses\t"
          "head_active_classes\tmegaface_rank1\n", f);
    for (int s = 1; s <= 3; s++) {
        fprintf(f, "%016x\tok\tdcq\tmf2\t%d\t0.1\tNA\tcosface\t50\t0.3\t1000\t101\t0.5\n", s, s);
        fprintf(f, "%016x\tok\tfull\tmf2\t%d\tNA\tNA\tcosface\t50\t0.3\t1000\t1000\t0.4\n",
                0x100 + s, s);
    }
    assert_int_equal(fclose(f), 0);
    struct report_opts o = {.results_dir = FX_ROOT, .profile = "default", .sweep = "reproduce_fx6",
                            .out = FX_ROOT "/R6.md", .bench_tsv = FX_ROOT "/none.tsv"};
    struct report_summary s;
    char *t = report_text(&o, &s);
    test_has(t,
             "- Missing in runs.tsv (shown as \"missing\"; the report never fills in a default): "
             "dcq kshot (3 runs); dcq mu (3 runs); dcq eval_net (3 runs)\n");
    test_has(t, "| 10 % | missing | missing | missing | 50.00 ± 0.00 |"); /* Table 4 */
    assert_null(strstr(t, "0.999"));
    assert_null(strstr(t, "full 10 %")); /* full: every class, its NA ratio is not missing */
    free(t);
}

/* The columns the report reads from bench.tsv are columns the benchmark writes (they once
 * drifted apart: the cost table and plot came out empty). */
static void test_bench_columns_exist(void **state)
{
    (void)state;
    const char *cols[] = {"head", "C", "d", "B", "threads", "ratio", "head_ms", "head_gflops",
                          "bound_ratio", "per_class_bytes", "fixed_bytes", "peak_rss_mb",
                          "status", "err_msg", "total_ms", "min_ratio", "step_ratio", "isa",
                          "cpu_model", "l1d_kb", "l2_kb", "l3_kb", "blas_core", NULL};
    const char *hdr = bench_tsv_header();
    for (int i = 0; cols[i]; i++) {
        char pat[64];
        size_t n = strlen(cols[i]);
        int found = 0;
        for (const char *p = hdr; (p = strstr(p, cols[i])); p += n)
            found |= (p == hdr || p[-1] == '\t') && (p[n] == '\t' || p[n] == '\0');
        snprintf(pat, sizeof pat, "%s", cols[i]);
        if (!found) print_error("bench.tsv has no column '%s'\n", pat);
        assert_true(found);
    }
}

/* Table 5 names the machine from bench.tsv's own rows: one machine in one line with its ISA
 * paths, several machines listed as such; a bench.tsv without the columns says so. */
static void test_table5_names_the_machine(void **state)
{
    (void)state;
    write_fixture("reproduce_m");
    const char *cpus[2][2] = {{"Zen X", "Zen X"}, {"Zen X", "Xeon Y"}};
    for (int k = 0; k < 2; k++) {
        FILE *f = fopen(FX_ROOT "/bench_m.tsv", "w");
        assert_non_null(f);
        fputs("head\tC\td\tB\tthreads\tratio\thead_ms\tstatus\tstep_ratio\tisa\tcpu_model"
              "\tl1d_kb\tl2_kb\tl3_kb\tblas_core\n", f);
        fprintf(f, "full\t1000\t128\t256\t1\t0.1\t2.5\tok\t1.75\tavx512\t%s\t48\t1024\t32768"
                   "\tHaswell\n", cpus[k][0]);
        fprintf(f, "full\t1000\t128\t256\t1\t0.1\t3.5\tok\t2.25\tsse2\t%s\t48\t2048\t32768"
                   "\tHaswell\n", cpus[k][1]);
        assert_int_equal(fclose(f), 0);
        struct report_opts o = {.results_dir = FX_ROOT, .profile = "smoke", .sweep = "reproduce_m",
                                .out = FX_ROOT "/RM.md", .bench_tsv = FX_ROOT "/bench_m.tsv"};
        struct report_summary s;
        char *t = report_text(&o, &s);
        char *t5 = strstr(t, "## Table 5");
        assert_non_null(t5);
        if (k == 0) {
            /* the L2 differs between the rows, so this is two machine lines */
            test_has(t5, "The rows come from 2 machines");
            test_has(t5,
                     "- Zen X (L1d 48 KiB, L2 1024 KiB per core, L3 32768 KiB), BLAS core Haswell");
            test_has(t5, "- Zen X (L1d 48 KiB, L2 2048 KiB per core");
        } else {
            test_has(t5, "- Xeon Y (L1d 48 KiB, L2 2048 KiB per core");
        }
        test_has(t5, "ISA paths: avx512, sse2 (one row per path: see the ISA column).");
        test_has(t5, "| full | 128 | 1000 | 256 | 1 | avx512 | 0.100 | 2.500 |");
        test_has(t5, "| 1.75 |");
        free(t);
    }
    /* one machine, one path: one line */
    FILE *f = fopen(FX_ROOT "/bench_m.tsv", "w");
    assert_non_null(f);
    fputs("head\tC\td\tB\tthreads\tratio\thead_ms\tstatus\tisa\tcpu_model\tl1d_kb\tl2_kb"
          "\tl3_kb\tblas_core\nfull\t1000\t128\t256\t1\t0.1\t2.5\tok\tavx2\tZen X\t48\t1024"
          "\t32768\tHaswell\n", f);
    assert_int_equal(fclose(f), 0);
    struct report_opts o = {.results_dir = FX_ROOT, .profile = "smoke", .sweep = "reproduce_m",
                            .out = FX_ROOT "/RM.md", .bench_tsv = FX_ROOT "/bench_m.tsv"};
    struct report_summary s;
    char *t = report_text(&o, &s);
    test_has(t,
             "Machine: Zen X (L1d 48 KiB, L2 1024 KiB per core, L3 32768 KiB), BLAS core Haswell."
             " ISA path: avx2.\n");
    free(t);
    /* the older fixture has no machine columns */
    write_bench(FX_ROOT "/bench_m.tsv", 0);
    t = report_text(&o, &s);
    test_has(t, "Machine: not recorded");
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_verdicts),
        cmocka_unit_test(test_deterministic_and_no_bench),
        cmocka_unit_test(test_derived_curves),
        cmocka_unit_test(test_whole_head_ignores_ratio),
        cmocka_unit_test(test_unseen_heads),
        cmocka_unit_test(test_missing_values),
        cmocka_unit_test(test_bench_columns_exist),
        cmocka_unit_test(test_table5_names_the_machine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
