/* test_report_data.c - the report across data configurations, tuned arms and EMA-controlled
 * heads (docs/METHOD.md §5), from hand-written runs.tsv files with the round-3 columns
 * (report.data, tune, tune_keys, ema, pfc_mode, sampler, megaface_rank1_ema/_online,
 * megaface_n_distractors): the claim x configuration matrix and its overall lines, tuned against
 * common-loss arms, tuning-grid rows never selected, the EMA control sentence, the distractor
 * count read from the metrics, and the variants (Partial FC v2, non-uniform proposals) kept out
 * of the main arms. No training: milliseconds. */
#include "test_util.h"

#include <string.h>

#include "report.h"
#include "report_int.h"

#define DX_ROOT "build/tmp-tests/report_data"

static const char *const dx_header =
    "run_id\tstatus\thead\tprofile\tids\tseed\tratio\tmu\tkshot\teval.net\tema\tmargin\ts\tm\t"
    "steps\treport.data\ttune\ttune_keys\tpfc_mode\tsampler\teval.distractors\treport.sesoi\t"
    "report.delta\tclasses\thead_active_classes\tmegaface_rank1\tmegaface_rank1_ema\t"
    "megaface_rank1_online\tmegaface_n_distractors\ttar_at_far_1e-4\tlfw_acc_mean\n";

/* One run. NULL strings are written NA; NaN numbers too. */
struct row {
    const char *head, *profile, *ratio, *data, *tune, *keys, *pfc, *smp, *s;
    int seed, ema;
    double r1, r1_ema, r1_on; /* points; r1 is eval.net's (the EMA one when ema) */
    double nd;                /* megaface_n_distractors */
};

static int dx_id;
static const char *dx_mu = "0.9"; /* dcq's mu (and an EMA head's) in the rows put() writes */

static void num(FILE *f, double x, double scale)
{
    if (isnan(x)) fputs("\tNA", f);
    else fprintf(f, "\t%.6f", x * scale);
}

static void put(FILE *f, const struct row *r)
{
    int dcq = !strcmp(r->head, "dcq"), full = !strcmp(r->head, "full");
    int ids = strcmp(r->profile, "ms1m") ? 1000 : 300;
    fprintf(f, "%016x\tok\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\t%d\tcosface\t%s\t0.3\t80\t%s\t%s\t%s\t"
               "%s\t%s\t100000\t0.5\t1.0\t%d\t%d",
            ++dx_id, r->head, r->profile, ids, r->seed, full ? "NA" : r->ratio ? r->ratio : "0.1",
            dcq || r->ema ? dx_mu : "NA", dcq ? "1" : "NA", dcq || r->ema ? "ema" : "NA",
            dcq || r->ema, r->s ? r->s : "50", r->data ? r->data : "NA", r->tune ? r->tune : "-",
            r->keys ? r->keys : "-", r->pfc ? r->pfc : "NA", r->smp ? r->smp : "NA", ids,
            full ? ids : ids / 10);
    num(f, r->r1, 0.01);
    num(f, r->r1_ema, 0.01);
    num(f, r->r1_on, 0.01);
    num(f, r->nd, 1);
    num(f, r->r1, 0.01);
    num(f, 90 + r->r1 / 10, 0.01);
    fputs("\n", f);
}

static FILE *open_runs(const char *sweep)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf " DX_ROOT "/%s && mkdir -p " DX_ROOT "/%s", sweep, sweep);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd, DX_ROOT "/%s/runs.tsv", sweep);
    FILE *f = fopen(cmd, "w");
    assert_non_null(f);
    fputs(dx_header, f);
    dx_id = 0;
    return f;
}

/* Seed noise, a zero-sum pattern rotated by arm so two arms' noise does not cancel. */
static double noise(int arm, int s)
{
    static const double pat[5] = {0.2, -0.2, 0.1, -0.1, 0};
    return pat[(s + arm) % 5];
}

static char *report(const char *sweep, struct report_summary *s)
{
    char out[256];
    snprintf(out, sizeof out, DX_ROOT "/%s.md", sweep);
    struct report_opts o = {.results_dir = DX_ROOT, .profile = "default", .sweep = sweep,
                            .out = out, .bench_tsv = DX_ROOT "/none.tsv"};
    struct dcqb_err err = {0};
    int rc = report_write(&o, s, &err);
    if (rc) print_error("%s\n", err.msg);
    assert_int_equal(rc, DCQB_OK);
    char *t = test_slurp(out);
    assert_non_null(t);
    return t;
}

/* The text from `start` to the next "### " or "## " heading after it (malloc'd). */
static char *section(const char *text, const char *start)
{
    const char *a = strstr(text, start);
    assert_non_null(a);
    const char *e = strstr(a + 4, "\n#");
    size_t n = e ? (size_t)(e - a) : strlen(a);
    char *s = malloc(n + 1);
    assert_non_null(s);
    memcpy(s, a, n);
    s[n] = '\0';
    return s;
}

/* ---- 1. three data configurations, claim 3 reversed in one ---------------------------------- */

/* The base arms (common loss, untuned) of full, dcq and random on both splits in `data`;
 * dcq's mf2 gain over full is gain3 points. */
static void base_arms(FILE *f, const char *data, double gain3)
{
    static const char *const heads[3] = {"full", "dcq", "random"};
    static const char *const splits[2] = {"ms1m", "mf2"};
    for (int sp = 0; sp < 2; sp++)
        for (int h = 0; h < 3; h++)
            for (int s = 1; s <= 5; s++) {
                double v = 60 + 2 * s + noise(h + 3 * sp, s);
                if (h == 1) v += sp ? gain3 : 0.1;
                if (h == 2) v += sp ? gain3 - 1 : 0;
                struct row r = {heads[h], splits[sp], NULL, data, NULL, NULL,
                                h == 2 ? "v1" : NULL, NULL, NULL, s, 0, v, NAN, NAN, 20000};
                put(f, &r);
            }
}

static void test_matrix_three_configs(void **state)
{
    (void)state;
    FILE *f = open_runs("three");
    base_arms(f, "base", 3);
    base_arms(f, "hard", 3);
    base_arms(f, "wild", -3);
    assert_int_equal(fclose(f), 0);
    struct report_summary s;
    assert_int_equal(system("rm -rf " DX_ROOT "/tables"), 0);
    char *t = report("three", &s);
    /* the matrix again as LaTeX beside REPORT.md, through the path every table takes */
    assert_int_equal(system("grep -q '^claim & base & hard & wild & overall' " DX_ROOT
                            "/tables/*_verdicts-by-data-configuration.tex"), 0);
    assert_int_equal(s.verdict[2], REPORT_REPRODUCED); /* the main configuration: base */
    test_has(t,
             "- Data configurations (report.data; the first is the one the tables and the claims' "
             "details show): base, hard, wild");
    test_has(t, "## Verdicts by data configuration");
    test_has(t, "| claim | base | hard | wild | overall |");
    test_has(t, "| 3 | reproduced: +3.00 [");
    test_has(t, "not reproduced (reversed): -3.00 [");
    test_has(t, "- Claim 3: depends on the configuration: holds in base, hard; not in wild "
                "(reversed).");
    test_has(t, "- Claim 7: holds in every configuration (base, hard, wild).");
    test_has(t, "- Claim 9: not run in any configuration.");
    /* the glance table carries the other configurations' rows; Holm over every cell */
    test_has(t, "| 3 [wild] | dcq 10 % - full | better |");
    test_has(t, "Holm's step-down across the claims' primary tests in all 3 data configurations");
    char *c3 = section(t, "### Claim 3:");
    test_has(c3, "Data configuration **base** in detail");
    test_has(c3, "- **wild**: dcq 10 % - full -3.00 [");
    test_has(c3, "not reproduced (reversed)");
    free(c3);
    free(t);
    t = test_slurp(DX_ROOT "/three/derived/verdict_matrix.tsv");
    assert_non_null(t);
    test_has(t,
             "claim\tdata\tverdict\tarms\tcomparison\tkind\tmean\tlo\thi\tp\tp_holm\tn\toverall\n");
    test_has(t, "3\tbase\treproduced\tcommon loss\tdcq 10 % - full\tbetter\t3\t");
    test_has(t, "3\twild\tnot_reproduced\tcommon loss\tdcq 10 % - full\tbetter\t-3\t");
    test_has(t, "\t5\tdepends\n3\thard\t");
    free(t);
    /* the same runs without report.data: one "default" column, no other-configuration rows */
    f = open_runs("one");
    base_arms(f, NULL, 3);
    assert_int_equal(fclose(f), 0);
    t = report("one", &s);
    test_has(t, "| claim | default | overall |");
    test_has(t, "- Claim 3: holds in every configuration (default).");
    test_has(t, "Holm's step-down across the nine claims' primary tests.");
    assert_null(strstr(t, "Data configurations (report.data"));
    assert_null(strstr(t, "in the other data configurations"));
    free(t);
}

/* ---- 2. tuned arms first, common loss secondary, grid rows never ----------------------------- */

static void test_tuned_and_grid(void **state)
{
    (void)state;
    FILE *f = open_runs("tuned");
    /* grid points first (smaller run_ids: they would win a seed if they were ever selected) */
    for (int g = 0; g < 8; g++) /* more grid rows at s = 64 than common-loss rows */
        for (int s = 1; s <= 5; s++) {
            struct row r = {g % 2 ? "full" : "dcq", "mf2", NULL, "base", "grid", "s,m", NULL,
                            NULL, g < 2 ? "30" : "64", s, 0, 99, NAN, NAN, 20000};
            put(f, &r);
        }
    base_arms(f, "base", -2); /* common loss: dcq 2 points below full on mf2 */
    for (int h = 0; h < 2; h++)
        for (int s = 1; s <= 5; s++) {
            double v = 70 + 2 * s + noise(h, s) + (h ? 0 : 2); /* tuned: dcq 2 points above */
            struct row r = {h ? "full" : "dcq", "mf2", NULL, "base", "best", "s,m", NULL, NULL,
                            "64", s, 0, v, NAN, NAN, 20000};
            put(f, &r);
        }
    assert_int_equal(fclose(f), 0);
    struct report_summary s;
    char *t = report("tuned", &s);
    assert_int_equal(s.verdict[2], REPORT_REPRODUCED); /* claim 3 on the tuned arms */
    test_has(t, "Common loss (every head unless marked \"own loss\"): cosface s=50 m=0.3");
    test_has(t,
             "- Tuning: 40 grid runs (tune = grid: judged on the validation split only, never in a "
             "comparison), 10 test runs of tuned arms (tune = best)");
    char *c3 = section(t, "### Claim 3:");
    test_has(c3, "Primary: the tuned arms (tune = best");
    test_has(c3, "Comparison: **dcq 10 % (tuned)** minus **full (tuned)**");
    test_has(c3, "| 1 | 73.80 | 72.10 | +1.70 |");
    test_has(c3, "The common-loss comparison (untuned arms), secondary:");
    test_has(c3, "Secondary comparison: **dcq 10 %** minus **full**");
    test_has(c3, "Outcome: not reproduced (reversed)");
    assert_null(strstr(c3, "99.00")); /* no grid point */
    free(c3);
    char *c1 = section(t, "### Claim 1:"); /* no tuned arms on ms1m: said, and untuned judged */
    test_has(c1, "No tuned arms (tune = best) on both sides here: the untuned arms at the common "
                 "loss are judged.");
    test_has(c1, "Comparison: **dcq 10 %** minus **full (same loss)**");
    free(c1);
    assert_null(strstr(t, "| 99.00"));
    free(t);
}

/* ---- 3. the EMA control ----------------------------------------------------------------------- */

/* full and dcq on mf2 with ema = 1: dcq's EMA net gains `gain` over full's online net; full's
 * EMA net is full_avg above its online net; dcq's EMA net 1 point above its online net. */
static void ema_runs(const char *sweep, double gain, double full_avg)
{
    FILE *f = open_runs(sweep);
    for (int h = 0; h < 2; h++)
        for (int s = 1; s <= 5; s++) {
            double on = 60 + 2 * s + noise(h, s), em = on + (h ? full_avg : 1);
            if (!h) {
                em = 60 + 2 * s + noise(h, s) + gain;
                on = em - 1;
            }
            struct row r = {h ? "full" : "dcq", "mf2", NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                            s, 1, em, em, on, 20000};
            put(f, &r);
        }
    assert_int_equal(fclose(f), 0);
}

static void test_ema_control(void **state)
{
    (void)state;
    ema_runs("ema_ok", 3, 1); /* dcq - full EMA = +2 */
    struct report_summary s;
    char *t = report("ema_ok", &s);
    char *c3 = section(t, "### Claim 3:");
    test_has(c3, "MegaFace rank-1 of each side's EMA network");
    test_has(c3, "Secondary comparison: **dcq 10 %** minus **full online**");
    test_has(c3, "Secondary comparison: **dcq 10 %** minus **full EMA**");
    test_has(c3, "**The gain survives the EMA control**: DCQ beats full evaluated with its own EMA "
                 "network too (+2.00 points).");
    free(c3);
    char *c8 = section(t, "### Claim 8:");
    test_has(c8, "Both networks of the same runs (megaface_rank1_ema - megaface_rank1_online)");
    test_has(c8, "**dcq online (f_q), same runs**");
    test_has(c8, "| full | mf2 | common loss | +1.00 [");
    test_has(c8, "| dcq | mf2 | common loss | +1.00 [");
    test_has(c8, "| EMA better |");
    free(c8);
    assert_int_equal(s.verdict[7], REPORT_REPRODUCED);
    free(t);
    ema_runs("ema_gone", 2, 3); /* dcq - full online = +2, dcq - full EMA = -1 */
    t = report("ema_gone", &s);
    c3 = section(t, "### Claim 3:");
    test_has(c3, "**The gain does not survive the EMA control**: DCQ beats full's online network "
                 "(+2.00) but against full's EMA network it is not reproduced (-1.00).");
    free(c3);
    assert_int_equal(s.verdict[2], REPORT_NOT_REPRODUCED); /* the primary: EMA against EMA */
    free(t);
}

/* ---- 4. the distractor count comes from the metrics ------------------------------------------ */

static void test_distractors_from_metrics(void **state)
{
    (void)state;
    FILE *f = open_runs("nd"); /* every run asked for 100000 (eval.distractors) */
    base_arms(f, NULL, 3);
    assert_int_equal(fclose(f), 0);
    struct report_summary s;
    char *t = report("nd", &s);
    test_has(t, "; distractors 20000; seeds");
    assert_null(strstr(t, "100000"));
    free(t);
    f = open_runs("nd2");
    base_arms(f, NULL, 3);
    struct row r = {"sampled", "mf2", NULL, NULL, NULL, NULL, NULL, "uniform", NULL, 1, 0, 50,
                    NAN, NAN, 5000};
    put(f, &r);
    assert_int_equal(fclose(f), 0);
    t = report("nd2", &s);
    test_has(t, "; distractors **differ between runs**: 5000 (1 run), 20000 (30 runs); seeds");
    free(t);
}

/* ---- 5. claim 5 lists every mu, with the EMA's memory as a share of the run; claim 6 shows
 * Partial FC v2 beside v1 -------------------------------------------------------------------- */

static void test_every_mu(void **state)
{
    (void)state;
    FILE *f = open_runs("mus");
    base_arms(f, NULL, 3);
    static const char *const mus[3] = {"0", "0.8", "0.99"};
    for (int k = 0; k < 3; k++)
        for (int s = 1; s <= 5; s++) {
            dx_mu = mus[k];
            struct row r = {"dcq", "mf2", NULL, NULL, NULL, NULL, NULL, NULL, NULL, s, 0,
                            60 + 2 * s - 1 - k + noise(k, s), NAN, NAN, 20000};
            put(f, &r);
        }
    dx_mu = "0.9";
    for (int s = 1; s <= 5; s++) { /* Partial FC v2: claim 6's secondary, never its v1 arm */
        struct row r = {"random", "mf2", NULL, NULL, NULL, NULL, "v2", NULL, NULL, s, 0,
                        40 + 2 * s + noise(7, s), NAN, NAN, 20000};
        put(f, &r);
    }
    assert_int_equal(fclose(f), 0);
    struct report_summary s;
    char *t = report("mus", &s);
    char *c6 = section(t, "### Claim 6:");
    test_has(c6, "Comparison: **dcq 10 % (mf2)** minus **random 10 % (mf2)**");
    test_has(c6, "Secondary comparison: **dcq 10 % (mf2)** minus **random v2 10 % (mf2)**");
    free(c6);
    test_has(t, "| 6 | reproduced: +1.00 [");
    char *c5 = section(t, "### Claim 5:");
    test_has(c5, "**dcq mu 0.9** minus **dcq mu 0**");
    test_has(c5, "mu 0.8 (5 steps, 6.25 % of 80): -5.00 [");
    test_has(c5, "mu 0.9 (10 steps, 12.5 % of 80): +0.00 [");
    test_has(c5, "mu 0.99 (100 steps, 125 % of 80): -6.00 [");
    free(c5);
    free(t);
}

/* ---- 6. the main arms never take a variant or a grid point ------------------------------------ */

static void test_variants_never_mixed(void **state)
{
    (void)state;
    FILE *f = open_runs("variants");
    /* variants first, so their run_ids are the smaller: a leak would win the seed */
    static const struct {
        const char *head, *tune, *pfc, *smp;
        double r1;
    } v[] = {{"random", "-", "v2", NULL, 11},       {"sampled", "-", NULL, "log_uniform", 12},
             {"sampled", "-", NULL, "frequency", 13}, {"dcq", "grid", NULL, NULL, 14},
             {"random", "-", NULL, NULL, 15} /* pfc_mode not recorded: in neither arm */};
    for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
        struct row r = {v[k].head, "mf2", NULL, NULL, v[k].tune, "-", v[k].pfc, v[k].smp,
                        NULL, 1, 0, v[k].r1, NAN, NAN, 20000};
        put(f, &r);
    }
    static const char *const heads[3] = {"random", "sampled", "dcq"};
    for (int h = 0; h < 3; h++)
        for (const char *tune = "-";; tune = "best") {
            struct row r = {heads[h], "mf2", NULL, NULL, tune, tune[0] == 'b' ? "s" : "-",
                            h == 0 ? "v1" : NULL, h == 1 ? "uniform" : NULL, NULL, 1, 0,
                            tune[0] == 'b' ? 70 : 60, NAN, NAN, 20000};
            put(f, &r);
            if (tune[0] == 'b') break;
        }
    assert_int_equal(fclose(f), 0);
    struct rep R;
    memset(&R, 0, sizeof R);
    struct report_opts o = {0};
    R.o = &o;
    struct dcqb_err err = {0};
    char *text = test_slurp(DX_ROOT "/variants/runs.tsv");
    assert_non_null(text);
    assert_int_equal(tsv_parse(&R.t, text, "runs.tsv", &err), DCQB_OK);
    assert_int_equal(rep_load_runs(&R, &err), DCQB_OK);
    for (int h = 0; h < 3; h++) {
        struct sel b = sel_base(&R, heads[h], "mf2", 0.1), tu = sel_tuned(&R, &b);
        struct cell c;
        cell_select(&R, &b, &c);
        assert_int_equal(c.n, 1);
        assert_close(run_num(&R, c.run[0], M_RANK1), 0.60, 1e-9, 0);
        cell_select(&R, &tu, &c);
        assert_int_equal(c.n, 1);
        assert_close(run_num(&R, c.run[0], M_RANK1), 0.70, 1e-9, 0);
    }
    struct sel v2 = sel_base(&R, "random", "mf2", 0.1);
    v2.pfc_mode = "v2";
    struct cell c;
    cell_select(&R, &v2, &c);
    assert_int_equal(c.n, 1);
    assert_close(run_num(&R, c.run[0], M_RANK1), 0.11, 1e-9, 0);
    assert_int_equal(R.n_miss, 1); /* random's pfc_mode, missing in one run */
    assert_string_equal(R.miss[0].key, "pfc_mode");
    rep_free(&R);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matrix_three_configs),
        cmocka_unit_test(test_tuned_and_grid),
        cmocka_unit_test(test_ema_control),
        cmocka_unit_test(test_distractors_from_metrics),
        cmocka_unit_test(test_every_mu),
        cmocka_unit_test(test_variants_never_mixed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
