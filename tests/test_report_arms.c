/* test_report_arms.c - REPORT.md's labels and the sections after Tables 1-5 (report_arms.c,
 * report_scale.c, the drift and scale derived files) from hand-written runs.tsv rows with the
 * columns of runs.tsv schema 3: data configurations, tuning grid and tuned rows, EMA metrics,
 * the step's labels, the queue's drift, the scale sweep's identities. No training. */
#include "test_util.h"

#include <string.h>

#include "report.h"

#define AX_ROOT "build/tmp-tests/report_arms"

static const char *const ax_header =
    "schema\trun_id\tstatus\thead\tprofile\tids\tratio\tmu\tkshot\teval.net\tmargin\ts\tm\t"
    "seed\tcfg.steps\tsteps\treport.data\ttune\ttune_keys\tema\tsampler\tpfc_mode\tlognorm_mean\t"
    "classes\t"
    "head_active_classes\tbatch_labels_mean\teff_classes_mean\tqueue_staleness\t"
    "queue_age_mean\tqueue_drift_mean\tmegaface_rank1\tmegaface_rank1_ema\t"
    "megaface_rank1_online\tval_rank1\ttar_at_far_1e-4\tlfw_acc_mean\tblas_core\terr_msg\n";

/* A run's configuration; NULL fields get the defaults of ax_row. */
struct ax {
    const char *head, *profile, *ratio, *mu, *data, *tune, *margin, *s, *m, *sampler, *pfc;
    int ids, steps;
    const char *lognorm;
    int by_epochs; /* the run was given epochs: cfg.steps is NA, steps the resolved count */
};

static FILE *ax_f;
static int ax_id;
static const char *ax_blas = "Haswell"; /* blas_core of the rows ax_row writes */

/* One ok row (r1 >= 0) or failed row. ema/online: rank-1 of each network (NaN: NA); val:
 * val_rank1 (NaN: NA); drift: queue_drift_mean for dcq. */
static void ax_row(const struct ax *x, int seed, double r1, double ema, double online,
                   double val, double labels, double drift)
{
    int dcq = !strcmp(x->head, "dcq"), full = !strcmp(x->head, "full");
    int ids = x->ids ? x->ids : 1000, steps = x->steps ? x->steps : 1000;
    double ratio = x->ratio ? atof(x->ratio) : 1.0;
    int L = (int)(ratio * ids);
    double eff = full ? ids : dcq ? 1 + L : (L > labels ? L : labels);
    char e[32] = "NA", o[32] = "NA", v[32] = "NA", st[32] = "NA", age[32] = "NA", dr[32] = "NA";
    if (!isnan(ema)) snprintf(e, sizeof e, "%.6f", ema);
    if (!isnan(online)) snprintf(o, sizeof o, "%.6f", online);
    if (!isnan(val)) snprintf(v, sizeof v, "%.6f", val);
    if (dcq) {
        snprintf(st, sizeof st, "%.4f", L / 256.0);
        snprintf(age, sizeof age, "%.2f", L / 512.0);
        snprintf(dr, sizeof dr, "%.4f", drift);
    }
    char cs[16] = "NA";
    if (!x->by_epochs) snprintf(cs, sizeof cs, "%d", steps);
    fprintf(ax_f, "3\t%016x\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%d\t%s\t%s\t%s\t"
                  "%d\t%s\t%s\t%s\t%d\t%d\t%.1f\t%.1f\t%s\t%s\t%s\t",
            0x2000 + ax_id++, r1 >= 0 ? "ok" : "fail", x->head, x->profile, ids,
            full ? "NA" : x->ratio, dcq ? (x->mu ? x->mu : "0.99") : "NA", dcq ? "1" : "NA",
            "ema", x->margin ? x->margin : "cosface", x->s ? x->s : "50", x->m ? x->m : "0.3",
            seed, cs, steps, x->data ? x->data : "base", x->tune ? x->tune : "-",
            x->tune && strcmp(x->tune, "-") ? "m" : "-", 1, x->sampler ? x->sampler : "NA",
            x->pfc ? x->pfc : "NA", x->lognorm ? x->lognorm : "NA", ids, full ? ids : L + 1,
            labels, eff, st, age, dr);
    if (r1 < 0) {
        fprintf(ax_f, "NA\tNA\tNA\tNA\tNA\tNA\t%s\ttrain failed\n", ax_blas);
        return;
    }
    fprintf(ax_f, "%.6f\t%s\t%s\t%s\t%.6f\t%.6f\t%s\tNA\n", r1, e, o, v, r1 + 0.1,
            0.9 + r1 / 10, ax_blas);
}

static void ax_open(const char *sweep)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf " AX_ROOT "/%s && mkdir -p " AX_ROOT "/%s", sweep, sweep);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd, AX_ROOT "/%s/runs.tsv", sweep);
    ax_f = fopen(cmd, "w");
    assert_non_null(ax_f);
    fputs(ax_header, ax_f);
    ax_id = 0;
}

static char *ax_report(const char *sweep)
{
    assert_int_equal(fclose(ax_f), 0);
    char out[256];
    snprintf(out, sizeof out, AX_ROOT "/%s/REPORT.md", sweep);
    struct report_opts o = {.results_dir = AX_ROOT, .profile = "default", .sweep = sweep,
                            .out = out, .bench_tsv = AX_ROOT "/none.tsv"};
    struct report_summary s;
    struct dcqb_err err = {0};
    int rc = report_write(&o, &s, &err);
    if (rc) print_error("%s\n", err.msg);
    assert_int_equal(rc, DCQB_OK);
    char *t = test_slurp(out);
    assert_non_null(t);
    return t;
}

/* The text of `text` from `start` to the next "\n## " / "\n### " heading, malloc'd. */
static char *part(const char *text, const char *start)
{
    const char *a = strstr(text, start);
    if (!a) print_error("no \"%s\"\n", start);
    assert_non_null(a);
    const char *e = strstr(a + 1, "\n## "), *e3 = strstr(a + 1, "\n### ");
    if (e3 && (!e || e3 < e)) e = e3;
    size_t n = e ? (size_t)(e - a) : strlen(a);
    char *s = malloc(n + 1);
    assert_non_null(s);
    memcpy(s, a, n);
    s[n] = '\0';
    return s;
}

/* ---- the main fixture ---------------------------------------------------------------------- */

#define AX(h, p, ...) {.head = h, .profile = p, __VA_ARGS__}
static const struct ax full_ms = AX("full", "ms1m", .ids = 0),
                       full_mf = AX("full", "mf2", .ids = 0),
                       full_arc = AX("full", "ms1m", .margin = "arcface", .s = "64", .m = "0.5"),
                       full_hard = AX("full", "ms1m", .data = "hard"),
                       rnd_ms = AX("random", "ms1m", .ratio = "0.1", .pfc = "v1"),
                       rnd_ms2 = AX("random", "ms1m", .ratio = "0.1", .pfc = "v2"),
                       rnd_mf = AX("random", "mf2", .ratio = "0.1", .pfc = "v1"),
                       rnd_mf5 = AX("random", "mf2", .ratio = "0.5", .pfc = "v1"),
                       smp_u = AX("sampled", "mf2", .ratio = "0.1", .sampler = "uniform"),
                       smp_l = AX("sampled", "mf2", .ratio = "0.1", .sampler = "log_uniform"),
                       smp_f = AX("sampled", "mf2", .ratio = "0.1", .sampler = "frequency"),
                       dcq_ms = AX("dcq", "ms1m", .ratio = "0.1"),
                       dcq_mf = AX("dcq", "mf2", .ratio = "0.1"),
                       dcq_mf8 = AX("dcq", "mf2", .ratio = "0.1", .mu = "0.8");

static void write_main(void)
{
    ax_open("arms");
    for (int s = 1; s <= 3; s++) {
        double d = 0.01 * s;
        ax_row(&full_ms, s, 0.60 + d, 0.61 + d, 0.60 + d, NAN, 120, NAN);
        ax_row(&full_mf, s, 0.50 + d, 0.52 + d, 0.50 + d, NAN, 150, NAN);
        ax_row(&full_arc, s, 0.62 + d, NAN, NAN, NAN, 120, NAN);
        ax_row(&full_hard, s, 0.40 + d, NAN, NAN, NAN, 120, NAN);
        ax_row(&rnd_ms, s, 0.55 + d, NAN, NAN, NAN, 80, NAN);
        ax_row(&rnd_ms2, s, 0.57 + d + 0.001 * s, NAN, NAN, NAN, 80, NAN);
        /* mf2: int(0.1 x 1000) = 100 < 150 distinct labels: positives-only; 0.5 is not */
        ax_row(&rnd_mf, s, 0.45 + d, NAN, NAN, NAN, 150, NAN);
        ax_row(&rnd_mf5, s, 0.48 + d, NAN, NAN, NAN, 150, NAN);
        ax_row(&smp_u, s, 0.40 + d, NAN, NAN, NAN, 90, NAN);
        ax_row(&smp_l, s, 0.42 + d, NAN, NAN, NAN, 90, NAN);
        ax_row(&smp_f, s, 0.38 + d, NAN, NAN, NAN, 90, NAN);
        ax_row(&dcq_ms, s, 0.61 + d, 0.61 + d, 0.58 + d, NAN, 120, 0.95);
        ax_row(&dcq_mf, s, 0.55 + d, 0.55 + d, 0.53 + d, NAN, 150, 0.90);
        ax_row(&dcq_mf8, s, 0.52 + d, 0.52 + d, 0.51 + d, NAN, 150, 0.60);
    }
    /* tuning: dcq on mf2 over m at seed 99; m = 0.4 has the best val_rank1 and is chosen */
    const char *ms[3] = {"0.2", "0.4", "0.3"};
    const double val[3] = {0.50, 0.70, 0.60};
    for (int k = 0; k < 3; k++) {
        struct ax g = AX("dcq", "mf2", .ratio = "0.1", .tune = "grid", .m = ms[k]);
        ax_row(&g, 99, 0.10, 0.10, 0.10, val[k], 150, 0.9);
    }
    /* the hard configuration's own tuned runs first: base's choice must come from base */
    struct ax hbest = AX("dcq", "mf2", .ratio = "0.1", .tune = "best", .m = "0.2", .data = "hard");
    ax_row(&hbest, 1, 0.3, NAN, NAN, 0.5, 150, 0.9);
    struct ax best = AX("dcq", "mf2", .ratio = "0.1", .tune = "best", .m = "0.4");
    for (int s = 1; s <= 3; s++) ax_row(&best, s, 0.58 + 0.01 * s, 0.58, 0.56, 0.7, 150, 0.9);
    /* full tuned on mf2, but its test runs use a point the grid does not hold */
    const char *fm[2] = {"0.3", "0.4"};
    for (int k = 0; k < 2; k++) {
        struct ax g = AX("full", "mf2", .tune = "grid", .m = fm[k]);
        ax_row(&g, 99, 0.10, NAN, NAN, k ? 0.65 : 0.55, 150, NAN);
    }
    struct ax fbest = AX("full", "mf2", .tune = "best", .m = "0.5");
    ax_row(&fbest, 1, 0.51, NAN, NAN, 0.6, 150, NAN);
    struct ax rbest = AX("random", "ms1m", .ratio = "0.1", .pfc = "v1", .tune = "best", .m = "0.2");
    ax_row(&rbest, 1, 0.66, NAN, NAN, 0.6, 80, NAN);
}

/* The step's labels: effective classes, L/B and positives-only, in Tables 1 and 2. */
static void test_labels(void **state)
{
    (void)state;
    write_main();
    char *t = ax_report("arms");
    char *t2 = part(t, "## Table 2");
    test_has(t2, "| eff. classes / step | L/B | seeds |");
    /* random 10 % on mf2: K_t = the 150 labels, flagged; dcq: 1 + L = 101, L/B = 100/256 */
    test_has(t2, "| random 10 % (positives-only) | 47.00 ± 1.00 |");
    test_has(t2, "| 150 ± 0 | n/a | 3 |");
    test_has(t2, "| dcq 10 % | 57.00 ± 1.00 |");
    test_has(t2, "| 101 ± 0 | 0.39 ± 0.00 | 3 |");
    /* the tuned arm beside the common-loss one; grid rows (seed 99) enter neither */
    test_has(t2, "| dcq 10 %, tuned | 60.00 ± 1.00 |");
    test_lacks(t2, "10.00");
    char *t1 = part(t, "## Table 1");
    test_has(t1, "| random 10 % | ");
    test_lacks(t1, "10 % (positives-only)"); /* 80 labels < 100 columns on ms1m */
    test_lacks(t1, "42.00");                 /* the hard data configuration's full is not shown */
    test_has(t1, "| full | 96.20 ± 0.10 |");
    test_has(t1, "| random 10 %, tuned (own loss: cosface s=50 m=0.2) | 96.60 (n=1) |");
    test_has(t1, "Runs on data configuration `base` (the one with the most runs)");
    free(t1);
    free(t2);
    /* the ladder: mf2 0.1 positives-only, 0.5 not */
    char *l = part(t, "### Ratio ladder on both splits");
    test_has(l,
             "| random | 10 % | 57.00 ± 1.00 | 100 ± 0 | 47.00 ± 1.00 | 150 ± 0 (positives-only) "
             "|");
    test_has(l, "| random | 50 % | – | – | 50.00 ± 1.00 | 500 ± 0 | 0, 3 |");
    free(l);
    free(t);
}

/* Each head's EMA against its online network, within the same runs. */
static void test_ema_control(void **state)
{
    (void)state;
    write_main();
    char *t = ax_report("arms");
    char *e = part(t, "## EMA control");
    /* full on ms1m: EMA 61+s, online 60+s -> +1.00 exactly in every seed */
    test_has(e, "| ms1m | full | 63.00 ± 1.00 | 62.00 ± 1.00 | +1.00 [+1.00, +1.00] (n=3) | 3 |");
    /* dcq on mf2: the tuned arm when there is one (EMA 58, online 56) */
    test_has(e,
             "| mf2 | dcq 10 %, tuned | 58.00 ± 0.00 | 56.00 ± 0.00 | +2.00 [+2.00, +2.00] (n=3)");
    test_has(e, "| ms1m | dcq 10 % | 63.00 ± 1.00 | 60.00 ± 1.00 | +3.00");
    test_lacks(e, "random"); /* no EMA metrics for random */
    free(e);
    free(t);
}

/* The tuning grid with its val_rank1 and the chosen point. */
static void test_chosen(void **state)
{
    (void)state;
    write_main();
    char *t = ax_report("arms");
    char *c = part(t, "## Chosen configurations");
    test_has(c, "| dcq | mf2 | base | 10 % | m = 0.2 | 50.00 |  |");
    test_has(c, "| dcq | mf2 | base | 10 % | m = 0.4 | 70.00 | **chosen** |");
    test_has(c, "| dcq | mf2 | base | 10 % | m = 0.3 | 60.00 |  |");
    test_has(c, "| full | mf2 | base | 100 % | m = 0.4 | 65.00 | best val |");
    test_has(c, "test runs use m = 0.5, not a point of this grid");
    free(c);
    free(t);
}

/* The arms beyond the claims: the second baseline, Partial FC v2, the proposals, mu 0.8. */
static void test_new_arms(void **state)
{
    (void)state;
    write_main();
    char *t = ax_report("arms");
    char *a = part(t, "### Full softmax: second baseline losses");
    test_has(a, "| ms1m | full | 62.00 ± 1.00 |");
    test_has(a, "| ms1m | full (own loss: arcface s=64 m=0.5) | 64.00 ± 1.00 | ");
    test_has(a, "+2.00 [+2.00, +2.00] (n=3) | 3 |");
    free(a);
    a = part(t, "### Partial FC v1 and v2");
    test_has(a, "| ms1m | random 10 %, pfc v2 | 59.20 ± 1.10 |");
    test_has(a, "| +2.20 [+1.95, +2.45] (n=3) | 3 |");
    free(a);
    a = part(t, "### Sampled softmax proposals on the long-tail split");
    test_has(a, "| mf2 | sampled 10 %, log_uniform proposal | 44.00 ± 1.00 |");
    test_has(a, "| mf2 | sampled 10 %, frequency proposal | 40.00 ± 1.00 |");
    test_lacks(a, "| ms1m |");
    free(a);
    a = part(t, "### DCQ momentum and queue drift");
    test_has(a, "mean cosine between a queued key");
    /* mu 0.8: window 5 steps = 0.5 % of 1000; drift 0.6; rank-1 3 points below mu 0.99 */
    test_has(a,
             "| mf2 | 0.8 | 5 (0.5 %) | 54.00 ± 1.00 | 0.600 ± 0.000 | 0.2 ± 0.0 | 0.39 ± 0.00 | "
             "-3.00 [-3.00, -3.00] (n=3) | 3 |");
    test_has(a, "| mf2 | 0.99 | 100 (10.0 %) | 57.00 ± 1.00 | 0.900 ± 0.000 |");
    free(a);
    free(t);
}

/* derived: drift.tsv (one row per dcq run), drift_mf2.tsv by mu, the curve from curve.tsv. */
static void test_drift_derived(void **state)
{
    (void)state;
    write_main();
    assert_int_equal(fclose(ax_f), 0);
    /* curve.tsv of the three dcq mf2 mu 0.8 runs (ids 0x200d + 14 k): drift every 50 steps,
     * NaN between; seed 3's run has none (a run without a curve is skipped) */
    for (int k = 0; k < 2; k++) {
        char path[256];
        snprintf(path, sizeof path, AX_ROOT "/arms/%016x", 0x2000 + 13 + 14 * k);
        char cmd[300];
        snprintf(cmd, sizeof cmd, "mkdir -p %s", path);
        assert_int_equal(system(cmd), 0);
        strcat(path, "/curve.tsv");
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs("step\tloss\tqueue_age\tqueue_drift\n", f);
        for (int st = 0; st <= 100; st += 10)
            fprintf(f, "%d\t1.0\tnan\t%s\n", st,
                    st % 50 ? "nan" : st == 0 ? "1.0" : st == 50 ? (k ? "0.7" : "0.5") : "0.6");
        assert_int_equal(fclose(f), 0);
    }
    ax_f = fopen(AX_ROOT "/arms/runs.tsv", "a"); /* ax_report closes it */
    char *t = ax_report("arms");
    free(t);
    char *d = test_slurp(AX_ROOT "/arms/derived/drift.tsv");
    assert_non_null(d);
    test_has(d, "run_id\thead\tprofile\tdata\ttune\tseed\tmu\tqueue_drift_mean");
    test_has(d, "\tdcq\tmf2\tbase\t-\t1\t0.8\t0.6\t");
    test_has(d, "\tdcq\tmf2\tbase\tgrid\t99\t0.99\t0.9\t");
    free(d);
    d = test_slurp(AX_ROOT "/arms/derived/drift_mf2.tsv");
    assert_non_null(d);
    test_has(d, "mu\tn\tdrift_mean\tdrift_std\tage_mean\tage_std\trank1_mean\trank1_std\n");
    test_has(d, "0.8\t3\t0.6\t0\t0.2\t0\t54\t1\n");
    test_has(d, "0.99\t3\t0.9\t0\t0.2\t0\t57\t1\n");
    free(d);
    d = test_slurp(AX_ROOT "/arms/derived/drift_curve_mf2_0.8.tsv");
    assert_non_null(d);
    assert_string_equal(d, "step\tn\tqueue_drift_mean\tqueue_drift_std\n"
                           "0\t2\t1\t0\n50\t2\t0.6\t0.141421\n100\t2\t0.6\t0\n");
    free(d);
}

/* ---- the scale ladder ------------------------------------------------------------------------ */

/* dcq 10 % and full on both splits at 5K, 20K, 100K ids; gap dcq - full per seed:
 * mf2 1, 3, 6 (+ seed noise) -> grows; ms1m 0.5 at every rung -> stays. Beside them claim 4's
 * arm (ms1m at 20K with another class-size mean, gap -5) and a shortened full run at 5K ms1m
 * (the positive control, 100 steps): neither may enter a rung. */
static void write_scale(int ladder, int shrink)
{
    ax_open(!ladder ? "noscale" : shrink ? "shrink" : "scale");
    const int ids[3] = {5000, 20000, 100000};
    const double mf_gap[3] = {shrink ? 0.06 : 0.01, 0.03, shrink ? 0.01 : 0.06};
    for (int s = 1; s <= 3; s++) {
        /* the mirror's seed 3 "ran on another kernel": the header counts both */
        ax_blas = shrink && s == 3 ? "SkylakeX" : "Haswell";
        /* first in runs.tsv, so the smallest run_ids: a rung that let them in would pick them */
        struct ax f4 = AX("full", "ms1m", .ids = 20000, .lognorm = "6.7"),
                  d4 = AX("dcq", "ms1m", .ratio = "0.1", .ids = 20000, .lognorm = "6.7"),
                  fs = AX("full", "ms1m", .ids = 5000, .steps = 100);
        ax_row(&f4, s, 0.6, NAN, NAN, NAN, 120, NAN);
        ax_row(&d4, s, 0.55, NAN, NAN, NAN, 120, 0.9);
        ax_row(&fs, s, 0.3, NAN, NAN, NAN, 120, NAN);
    }
    for (int s = 1; s <= 3; s++) {
        ax_blas = shrink && s == 3 ? "SkylakeX" : "Haswell";
        double noise = 0.001 * (s - 2) * (s == 3 ? 2 : 1);
        for (int k = 0; k < 3; k++) {
            if (!ladder && k != 1) continue;
            struct ax f = AX("full", "mf2", .ids = ids[k]),
                      d = AX("dcq", "mf2", .ratio = "0.1", .ids = ids[k]);
            ax_row(&f, s, 0.5, NAN, NAN, NAN, 150, NAN);
            ax_row(&d, s, 0.5 + mf_gap[k] + noise * k, NAN, NAN, NAN, 150, 0.9);
        }
        for (int k = 0; k < 3; k++) {
            if (!ladder && k) continue;
            struct ax f = AX("full", "ms1m", .ids = ids[k]),
                      d = AX("dcq", "ms1m", .ratio = "0.1", .ids = ids[k]);
            ax_row(&f, s, 0.6, NAN, NAN, NAN, 120, NAN);
            ax_row(&d, s, 0.605 + noise * k * (shrink ? 5 : 0.1), NAN, NAN, NAN, 120, 0.9);
        }
    }
}

static void test_scale(void **state)
{
    (void)state;
    write_scale(1, 0);
    char *t = ax_report("scale");
    test_has(t, "- BLAS kernels (OpenBLAS core) in runs.tsv: `Haswell` (45)\n");
    /* the sweep's point first: the ladder before Table 1 */
    assert_true(strstr(t, "## Scale ladder") < strstr(t, "## Table 1"));
    char *s = part(t, "## Scale ladder");
    /* each rung judged by its split's claim, Holm over the six rungs */
    test_has(s, "| mf2 | 5000 | 3 | 3 | +1.00 [+1.00, +1.00] (n=3) | 3: better | ");
    test_has(s, "| mf2 | 100000 | 3 | 3 | +6.07 [+5.31, +6.83] (n=3) | 3: better | ");
    test_has(s, "| ms1m | 20000 | 3 | 3 | +0.50 [");
    test_has(s, "(n=3) | 1: non-inferiority at delta | ");
    test_has(s, " | reproduced |\n| mf2 | 20000");
    test_has(s,
             "The tables and claims below take each split's usual identity count (the most common "
             "in runs.tsv, ties: the smaller): ms1m 20000, mf2 5000; the other rungs");
    test_has(s, "- mf2: from 5000 to 100000 identities the gap grows toward the paper's scale");
    test_has(s,
             "- ms1m: from 5000 to 100000 identities the gap stays (within the smallest effect)");
    test_lacks(s, "-4.50");  /* claim 4's arm (gap -5) is not the 20K rung */
    test_lacks(s, "+30.50"); /* the shortened full run is not the 5K rung's full */
    free(s);
    free(t);
    char *d = test_slurp(AX_ROOT "/scale/derived/scale.tsv");
    assert_non_null(d);
    test_has(d, "split\tids\tn\tgap_mean\tgap_lo\tgap_hi\tclaim\tp_holm\tverdict\n"
                "ms1m\t5000\t3\t0.5\t");
    test_has(d, "mf2\t5000\t3\t1\t1\t1\t3\t0\treproduced\n");
    free(d);
    /* the mirror: mf2's gap 6, 3, 1 shrinks; ms1m's change +0.33 [-3.46, +4.13] is not decided */
    write_scale(1, 1);
    t = ax_report("shrink");
    test_has(t, "- BLAS kernels (OpenBLAS core) in runs.tsv: `Haswell` (30), `SkylakeX` (15)\n");
    test_has(t, "- mf2: from 5000 to 100000 identities the gap shrinks toward the paper's scale");
    test_has(t, "- ms1m: from 5000 to 100000 identities the gap is not decided by these seeds");
    free(t);
    /* default-profile shape: ms1m 5K plus claim 4's 20K arm, mf2 20K: no ladder */
    write_scale(0, 0);
    t = ax_report("noscale");
    test_lacks(t, "## Scale ladder");
    free(t);
    assert_null(test_slurp(AX_ROOT "/noscale/derived/scale.tsv"));
}

/* A ladder given epochs (cfg.steps NA, the resolved steps in runs.tsv): rungs train different
 * steps, and at one rung the seeds differ by a step (held-out images differ), two seeds sharing
 * the most common count: no rung and no seed may read as a shortened (positive-control) run.
 * The ladder's own controls at the usual ids, an A/A arm and a quarter of the epochs, must. */
static void test_scale_steps(void **state)
{
    (void)state;
    ax_open("steps");
    for (int s = 1; s <= 3; s++) {
        for (int k = 0; k < 2; k++) {
            /* per-seed steps: each count held by two runs; the controls' 25 by three */
            int ids = k ? 4000 : 1000, steps = k ? 400 : 98 + s;
            struct ax f = AX("full", "ms1m", .ids = ids, .steps = steps, .by_epochs = 1),
                      d = AX("dcq", "ms1m", .ratio = "0.1", .ids = ids, .steps = steps,
                             .by_epochs = 1);
            if (!(k && s == 3)) ax_row(&f, s, 0.6, NAN, NAN, NAN, 120, NAN);
            ax_row(&d, s, 0.6 + 0.001 * s, NAN, NAN, NAN, 120, 0.9);
        }
        struct ax sh = AX("full", "ms1m", .ids = 1000, .steps = 25, .by_epochs = 1);
        ax_row(&sh, s, 0.5 - 0.01 * s, NAN, NAN, NAN, 120, NAN);
    }
    /* a shortened full run where the 4000 rung's seed 3 has none: it must not stand in */
    struct ax sh4 = AX("full", "ms1m", .ids = 4000, .steps = 100, .by_epochs = 1);
    ax_row(&sh4, 3, 0.2, NAN, NAN, NAN, 120, NAN);
    char *t = ax_report("steps");
    /* claim 1 at the usual ids (1000, with the control the most common) has its three seeds */
    char *c = part(t, "### Claim 1");
    test_has(c, "| 3 | 60.30 | 60.00 | +0.30 |");
    test_lacks(c, "No paired seeds");
    free(c);
    test_has(t, "| ms1m | 1000 | 3 | 3 | +0.20 [");
    test_has(t, "| ms1m | 4000 | 3 | 2 | +0.15 [");
    /* the quarter-epoch arm is the positive control, and only it: 11 to 13 points worse */
    char *ctl = part(t, "## Controls");
    test_has(ctl, "**full** minus **full, a quarter of the steps**");
    test_has(ctl, "| 3 | 60.00 | 47.00 | +13.00 |");
    test_has(ctl, "- Positive control: ");
    test_lacks(ctl, "Positive control: not run");
    free(ctl);
    free(t);
    /* reported without a profile (make scale): titled by the sweep */
    struct report_opts o = {.results_dir = AX_ROOT, .sweep = "steps",
                            .out = AX_ROOT "/steps/REPORT_np.md", .bench_tsv = AX_ROOT "/none.tsv"};
    struct report_summary sum;
    assert_int_equal(report_write(&o, &sum, NULL), DCQB_OK);
    t = test_slurp(o.out);
    assert_non_null(t);
    test_has(t, "# dcqbench report: sweep steps\n");
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_labels),        cmocka_unit_test(test_ema_control),
        cmocka_unit_test(test_chosen),        cmocka_unit_test(test_new_arms),
        cmocka_unit_test(test_drift_derived), cmocka_unit_test(test_scale),
        cmocka_unit_test(test_scale_steps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
