/* test_verdicts.c - the verdict machine of docs/METHOD.md §5: the rules on hand-made pairs,
 * Holm's step-down, the seeds an inconclusive comparison needs, a calibration by simulation
 * (false-positive rate of the better rule at zero effect, error rate of the equivalence and
 * non-inferiority rules exactly at the margin, power at a 2-sd effect), and a fixture runs.tsv
 * generator that drives every verdict branch of every claim, the controls, the secondary-metric
 * flag, the smoke label, a torn last row and an unknown profile. No training: milliseconds,
 * except the simulation (about a second). */
#include "test_util.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <string.h>

#include "report.h"

#define VX_ROOT "build/tmp-tests/verdicts_fx"

static void set_pairs(struct report_paired *p, const double *d, int n)
{
    memset(p, 0, sizeof *p);
    p->n = n;
    for (int i = 0; i < n; i++) {
        p->seed[i] = i + 1;
        p->a[i] = d[i];
        p->b[i] = 0.0;
    }
    report_paired_stats(p);
}

/* ---- the rules on hand-made numbers ---------------------------------------------------------- */

static void test_rules(void **state)
{
    (void)state;
    struct report_paired p;
    char why[200];
    int neg;
    /* d = 1, 2, 3: mean 2, sd 1, se 1/sqrt(3); t(0.975, 2) = 4.303 -> 95 % CI [-0.484, 4.484] */
    const double d1[3] = {1, 2, 3};
    set_pairs(&p, d1, 3);
    assert_close(p.mean, 2.0, 1e-12, 0);
    assert_close(p.std, 1.0, 1e-12, 0);
    assert_close(p.lo95, 2.0 - 4.302652729749464 / sqrt(3.0), 1e-9, 0);
    assert_close(p.p, 1.0 - sqrt(12.0 / 14.0), 1e-9, 0); /* df 2: P(|T| > t) = 1 - t/sqrt(t^2+2) */
    /* positive in every seed and 2 standard errors above 0, yet the interval contains 0: the
     * retired rule said "reproduced" here */
    assert_int_equal(report_rule(&p, REPORT_BETTER, 1, 0.5, NAN, &neg, why, sizeof why),
                     REPORT_INCONCLUSIVE);
    assert_string_equal(why, "inconclusive: the 95 % CI contains 0");
    /* five seeds of the same spread decide it */
    const double d2[5] = {1, 2, 3, 1.5, 2.5};
    set_pairs(&p, d2, 5);
    assert_int_equal(report_rule(&p, REPORT_BETTER, 1, 0.5, NAN, &neg, why, sizeof why),
                     REPORT_REPRODUCED);
    assert_int_equal(neg, 0);
    /* ... but not after Holm when the adjusted p is above 0.05 */
    assert_int_equal(report_rule(&p, REPORT_BETTER, 1, 0.5, 0.06, NULL, why, sizeof why),
                     REPORT_INCONCLUSIVE);
    assert_string_equal(why, "inconclusive: the 95 % CI excludes 0, not after Holm");
    /* reversed, and negligible inside +-sesoi */
    const double d3[5] = {-0.11, -0.1, -0.09, -0.1, -0.1};
    set_pairs(&p, d3, 5);
    assert_int_equal(report_rule(&p, REPORT_BETTER, 1, 0.5, NAN, &neg, why, sizeof why),
                     REPORT_NOT_REPRODUCED);
    assert_int_equal(neg, 1);
    assert_string_equal(why, "not reproduced (reversed), negligible");
    /* a head 1 point worse in every seed: never "at parity" at delta = 1 (the retired rule
     * called it parity) */
    const double d4[5] = {-1.1, -0.9, -1.0, -1.05, -0.95};
    set_pairs(&p, d4, 5);
    assert_int_equal(report_rule(&p, REPORT_EQUIV, 1, 0.5, NAN, NULL, why, sizeof why),
                     REPORT_INCONCLUSIVE);
    /* equivalence: reproduced inside, not reproduced beyond, for either sign */
    const double d5[5] = {0.1, -0.1, 0.2, 0.0, -0.2};
    set_pairs(&p, d5, 5);
    assert_int_equal(report_rule(&p, REPORT_EQUIV, 1, 0.5, NAN, NULL, why, sizeof why),
                     REPORT_REPRODUCED);
    assert_string_equal(why, "reproduced (90 % CI within +-1.00)");
    const double d6[5] = {3.1, 2.9, 3.0, 3.2, 2.8};
    set_pairs(&p, d6, 5);
    assert_int_equal(report_rule(&p, REPORT_EQUIV, 1, 0.5, NAN, NULL, why, sizeof why),
                     REPORT_NOT_REPRODUCED);
    /* non-inferiority: a head far better is non-inferior, not "not at parity" */
    assert_int_equal(report_rule(&p, REPORT_NONINF, 1, 0.5, NAN, NULL, why, sizeof why),
                     REPORT_REPRODUCED);
    for (int i = 0; i < 5; i++) p.a[i] = -p.a[i];
    report_paired_stats(&p);
    assert_int_equal(report_rule(&p, REPORT_NONINF, 1, 0.5, NAN, NULL, why, sizeof why),
                     REPORT_NOT_REPRODUCED);
    /* one seed: no interval; none: not run */
    set_pairs(&p, d1, 1);
    assert_int_equal(report_rule(&p, REPORT_BETTER, 1, 0.5, NAN, NULL, NULL, 0),
                     REPORT_FEW_SEEDS);
    set_pairs(&p, d1, 0);
    assert_int_equal(report_rule(&p, REPORT_EQUIV, 1, 0.5, NAN, NULL, NULL, 0), REPORT_NOT_RUN);
}

static void test_holm_and_seeds(void **state)
{
    (void)state;
    /* Holm: sorted 0.01, 0.02, 0.03, 0.04 -> 0.04, 0.06, 0.06 (monotone), 0.04; NaN skipped */
    const double p[5] = {0.03, 0.01, NAN, 0.04, 0.02};
    double adj[5];
    report_holm(p, 5, adj);
    assert_close(adj[1], 0.04, 1e-12, 0);
    assert_close(adj[4], 0.06, 1e-12, 0);
    assert_close(adj[0], 0.06, 1e-12, 0);
    assert_close(adj[3], 0.06, 1e-12, 0);
    assert_true(isnan(adj[2]));
    /* seeds needed: mean 2, sd 1 decides at n where t(0.975, n-1) / sqrt(n) < 2: n = 4
     * (3.182 / 2 = 1.59 < 2; n = 3: 4.303 / 1.732 = 2.48) */
    struct report_paired q;
    const double d[3] = {1, 2, 3};
    set_pairs(&q, d, 3);
    assert_int_equal(report_seeds_needed(&q, REPORT_BETTER, 1, 0.05), 4);
    assert_true(report_seeds_needed(&q, REPORT_BETTER, 1, 0.005) > 4); /* a Holm level */
    assert_int_equal(report_seeds_needed(&q, REPORT_EQUIV, 1, 0.05), -1); /* mean beyond delta */
    const double z[3] = {1, -1, 0};
    set_pairs(&q, z, 3);
    assert_int_equal(report_seeds_needed(&q, REPORT_BETTER, 1, 0.05), -1);
    assert_int_equal(report_seeds_needed(&q, REPORT_NONINF, 1, 0.05), 5); /* 2.132/sqrt5 < 1 */
}

/* ---- calibration by simulation ------------------------------------------------------------ */

/* Share of `sets` normal paired sets (mean mu, sd 1, n seeds) the rule calls reproduced. */
static double rate(gsl_rng *r, int sets, int n, double mu, enum report_kind k, double delta,
                   int *decided)
{
    struct report_paired p;
    double d[16];
    int rep = 0, dec = 0;
    for (int s = 0; s < sets; s++) {
        for (int i = 0; i < n; i++) d[i] = mu + gsl_ran_gaussian(r, 1.0);
        set_pairs(&p, d, n);
        enum report_verdict v = report_rule(&p, k, delta, 0.5, NAN, NULL, NULL, 0);
        rep += v == REPORT_REPRODUCED;
        dec += v == REPORT_REPRODUCED || v == REPORT_NOT_REPRODUCED;
    }
    if (decided) *decided = dec;
    return (double)rep / sets;
}

static void test_simulated_error_rates(void **state)
{
    (void)state;
    const int sets = 10000;
    /* binomial sd of a 5 % rate over 10,000 sets is 0.22 %: allow 3 of them */
    const double bound = 0.05 + 3 * sqrt(0.05 * 0.95 / sets);
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    assert_non_null(r);
    gsl_rng_set(r, 12345);
    for (int n = 3; n <= 5; n += 2) {
        int dec;
        double fp = rate(r, sets, n, 0.0, REPORT_BETTER, 1.0, &dec);
        double eq = rate(r, sets, n, 1.0, REPORT_EQUIV, 1.0, NULL);
        double ni = rate(r, sets, n, -1.0, REPORT_NONINF, 1.0, NULL);
        double pw = rate(r, sets, n, 2.0, REPORT_BETTER, 1.0, NULL);
        print_message("n = %d: better at 0: reproduced %.2f %%, either direction %.2f %%; "
                      "equivalence at +delta: %.2f %%; non-inferiority at -delta: %.2f %%; "
                      "power at 2 sd: %.1f %%\n",
                      n, 100 * fp, 100.0 * dec / sets, 100 * eq, 100 * ni, 100 * pw);
        assert_true(fp <= bound);
        assert_true((double)dec / sets <= bound);
        assert_true(eq <= bound);
        assert_true(ni <= bound);
        assert_true(pw >= (n == 5 ? 0.75 : 0.3)); /* noncentral t: ~0.87 and ~0.45 */
    }
    gsl_rng_free(r);
}

/* ---- fixture runs.tsv for every claim's branches --------------------------------------------- */

enum arm {
    A_FULL_B, A_DCQ_B, A_RND_B, A_RND_2, A_FULL_OWN, A_AA, A_SHORT, A_FULL_T, A_DCQ_T, A_RND_T,
    A_DCQ_M0, A_DCQ_ON, A_DCQ_K2, A_DCQ_K4, A_FULL_S, A_DCQ_S, N_ARMS
};

static const struct {
    const char *head, *profile, *ratio, *mu, *kshot, *net, *s;
    int ids, steps, hs;
} arms[N_ARMS] = {
    {"full", "ms1m", "NA", "NA", "NA", "NA", "50", 300, 80, 0},
    {"dcq", "ms1m", "0.1", "0.9", "1", "ema", "50", 300, 80, 0},
    {"random", "ms1m", "0.1", "NA", "NA", "NA", "50", 300, 80, 0},
    {"random", "ms1m", "0.02", "NA", "NA", "NA", "50", 300, 80, 0},
    {"full", "ms1m", "NA", "NA", "NA", "NA", "64", 300, 80, 0},
    {"full", "ms1m", "NA", "NA", "NA", "NA", "50", 300, 80, 1},
    {"full", "ms1m", "NA", "NA", "NA", "NA", "50", 300, 20, 0},
    {"full", "mf2", "NA", "NA", "NA", "NA", "50", 1000, 80, 0},
    {"dcq", "mf2", "0.1", "0.9", "1", "ema", "50", 1000, 80, 0},
    {"random", "mf2", "0.1", "NA", "NA", "NA", "50", 1000, 80, 0},
    {"dcq", "mf2", "0.1", "0", "1", "ema", "50", 1000, 80, 0},
    {"dcq", "mf2", "0.1", "0.9", "1", "online", "50", 1000, 80, 0},
    {"dcq", "mf2", "0.1", "0.9", "2", "ema", "50", 1000, 80, 0},
    {"dcq", "mf2", "0.1", "0.9", "4", "ema", "50", 1000, 80, 0},
    {"full", "ms1m", "NA", "NA", "NA", "NA", "50", 1000, 80, 0},
    {"dcq", "ms1m", "0.1", "0.9", "1", "ema", "50", 1000, 80, 0},
};

/* Rank-1 (points) of arm a at seed s: 60 + 2 s + off + amp x a zero-sum pattern (rotated per
 * arm, so two arms' noise does not cancel); seeds[a] of them (0: the arm is absent). */
struct spec {
    double off[N_ARMS], amp[N_ARMS], tar[N_ARMS];
    int seeds[N_ARMS];
    double tail_off, tail_amp; /* dcq's extra held-out accuracy on 1-2-image classes (mf2) */
};

static const double pat[5] = {1, -1, 0.5, -0.5, 0};

static void spec_default(struct spec *x)
{
    memset(x, 0, sizeof *x);
    static const double off[N_ARMS] = {0, 0.2, 0.1, -3, 0, 0, -5, 0, 3, 1, 0, 1, 3, 3, 0, 0.5};
    static const double amp[N_ARMS] = {0, .1, .1, .3, .1, .3, .3, 0, .3, .2, .3, .2, .1, .1, 0,
                                       .2};
    for (int a = 0; a < N_ARMS; a++) {
        x->off[a] = off[a];
        x->amp[a] = amp[a];
        x->seeds[a] = 5;
    }
    x->tail_off = 3;
    x->tail_amp = 0.3;
}

static double val(const struct spec *x, int a, int s)
{
    return 60 + 2 * s + x->off[a] + x->amp[a] * pat[(s + a) % 5];
}

static void write_runs(const char *sweep, const struct spec *x, int torn)
{
    char path[256];
    snprintf(path, sizeof path, "mkdir -p " VX_ROOT "/%s", sweep);
    assert_int_equal(system(path), 0);
    snprintf(path, sizeof path, VX_ROOT "/%s/runs.tsv", sweep);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("run_id\tstatus\thead\tprofile\tids\tseed\tratio\tmu\tkshot\teval_net\tmargin\ts\tm\t"
          "steps\thead_stream\treport.sesoi\treport.delta\tclasses\thead_active_classes\t"
          "megaface_rank1\ttar_at_far_1e-4\tlfw_acc_mean\ttail_acc_mean_b1_2\t"
          "tail_acc_mean_b3_5\ttail_acc_mean_b6_10\ttail_acc_mean_b11_50\t"
          "tail_acc_mean_b51_plus\tpfc_mode\n", f);
    int id = 0;
    for (int a = 0; a < N_ARMS; a++)
        for (int s = 1; s <= x->seeds[a]; s++) {
            double r1 = val(x, a, s), tail = r1;
            int full = !strcmp(arms[a].head, "full"), dcq = !strcmp(arms[a].head, "dcq");
            if (dcq && (a == A_DCQ_T || a == A_DCQ_S))
                tail += x->tail_off + x->tail_amp * pat[(s + 2) % 5];
            fprintf(f, "%016x\tok\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\tcosface\t%s\t0.3\t%d\t%s\t0.5\t"
                       "1.0\t%d\t%d\t%.6f\t%.6f\t%.6f\t%.6f\t%.6f\t%.6f\t%.6f\t%.6f\t%s\n",
                    ++id, arms[a].head, arms[a].profile, arms[a].ids, s, arms[a].ratio,
                    arms[a].mu, arms[a].kshot, arms[a].net, arms[a].s, arms[a].steps,
                    arms[a].hs ? "1" : "NA", arms[a].ids, full ? arms[a].ids : arms[a].ids / 10,
                    r1 / 100, (r1 + x->tar[a]) / 100, (90 + r1 / 10) / 100, tail / 100, r1 / 100,
                    r1 / 100, r1 / 100, r1 / 100, strcmp(arms[a].head, "random") ? "NA" : "v1");
        }
    if (torn) fputs("00000000000ffff0\tok\tfull\tms1m\t300\t9\tNA", f); /* writer killed */
    assert_int_equal(fclose(f), 0);
}

/* bench.tsv: full, random and dcq at C = 1e3, 1e4, ... (n_C of them); dcq_grows: dcq's memory
 * at fixed L grows with C like the others' (a head that is not what the claim says). */
static void write_bench(const char *path, int n_C, int dcq_grows)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("head\tC\td\tB\tthreads\tratio\tstatus\thead_ms\ttotal_ms\thead_bytes\tfixed_l\t"
          "head_bytes_fixed_l\thead_ms_fixed_l\tema_bytes\n", f);
    static const char *const heads[3] = {"full", "random", "dcq"};
    for (int h = 0; h < 3; h++)
        for (int k = 0; k < n_C; k++) {
            double C = 1000 * pow(10, k), jitter = 1 + 0.01 * (k % 2);
            double bytes = 1024 * C * jitter + 4096, fixed = dcq_grows ? bytes : 5e5 * jitter;
            fprintf(f, "%s\t%.0f\t128\t256\t1\t0.1\tok\t%.4f\t%.4f\t%.0f\t", heads[h], C,
                    0.002 * C * jitter, 0.002 * C * jitter + 5, bytes);
            if (h == 2) fprintf(f, "1000\t%.0f\t%.4f\t400000\n", fixed, 0.5 * jitter);
            else fputs("NA\tNA\tNA\t0\n", f);
        }
    assert_int_equal(fclose(f), 0);
}

static struct report_summary run_report(const char *sweep, const struct spec *x,
                                        const char *bench, const char *profile, char **text)
{
    write_runs(sweep, x, 0);
    char out[256];
    snprintf(out, sizeof out, VX_ROOT "/%s.md", sweep);
    struct report_opts o = {.results_dir = VX_ROOT, .profile = profile, .sweep = sweep,
                            .out = out, .bench_tsv = bench ? bench : VX_ROOT "/none.tsv",
                            .no_derived = 1};
    struct report_summary s;
    struct dcqb_err err = {0};
    int rc = report_write(&o, &s, &err);
    if (rc) print_error("%s\n", err.msg);
    assert_int_equal(rc, DCQB_OK);
    if (text) *text = test_slurp(out);
    return s;
}

static void expect(const struct report_summary *s, int claim, enum report_verdict v,
                   const char *what)
{
    if (s->verdict[claim - 1] != v)
        print_error("claim %d, %s: got %s, want %s\n", claim, what,
                    report_verdict_name(s->verdict[claim - 1]), report_verdict_name(v));
    assert_int_equal(s->verdict[claim - 1], v);
}

/* Every claim's branches, one change to the all-reproduced fixture at a time. */
static void test_claim_branches(void **state)
{
    (void)state;
    assert_int_equal(system("rm -rf " VX_ROOT " && mkdir -p " VX_ROOT), 0);
    write_bench(VX_ROOT "/bench_ok.tsv", 3, 0);
    write_bench(VX_ROOT "/bench_grows.tsv", 3, 1);
    write_bench(VX_ROOT "/bench_two.tsv", 2, 0);
    struct spec x;
    spec_default(&x);
    char *t;
    struct report_summary s = run_report("all", &x, VX_ROOT "/bench_ok.tsv", "default", &t);
    for (int c = 1; c <= REPORT_N_CLAIMS; c++) expect(&s, c, REPORT_REPRODUCED, "default");
    assert_int_equal(s.aa_flag, 0);
    assert_int_equal(s.pos_missed, 0);
    assert_null(strstr(t, "Warning"));
    assert_non_null(strstr(t, "- A/A control: no difference called (as it must be)."));
    assert_non_null(strstr(t, "- Positive control: handicap detected (as it must be)."));
    assert_non_null(strstr(t, "equivalence margin delta 1.00 (declared in the sweep)"));
    free(t);
    /* claim 2: measured slopes */
    s = run_report("c2", &x, VX_ROOT "/bench_grows.tsv", "default", NULL);
    expect(&s, 2, REPORT_NOT_REPRODUCED, "dcq memory grows");
    s = run_report("c2", &x, VX_ROOT "/bench_two.tsv", "default", NULL);
    expect(&s, 2, REPORT_INCONCLUSIVE, "two C values");
    s = run_report("c2", &x, NULL, "default", NULL);
    expect(&s, 2, REPORT_NOT_RUN, "no bench.tsv");
    struct {
        int claim, arm;
        double off, amp;
        int seeds;
        enum report_verdict want;
        const char *what;
    } const cases[] = {
        {1, A_DCQ_B, -5, 0.1, 5, REPORT_NOT_REPRODUCED, "dcq 5 points worse"},
        {1, A_DCQ_B, -0.8, 1.5, 5, REPORT_INCONCLUSIVE, "interval crosses -delta"},
        {1, A_DCQ_B, 0.2, 0.1, 0, REPORT_NOT_RUN, "no dcq runs"},
        {1, A_DCQ_B, 0.2, 0.1, 1, REPORT_FEW_SEEDS, "one seed"},
        {3, A_FULL_T, 6, 0, 5, REPORT_NOT_REPRODUCED, "full better"},
        {3, A_FULL_T, 2.8, 2, 5, REPORT_INCONCLUSIVE, "noisy"},
        {5, A_DCQ_M0, 6, 0.3, 5, REPORT_NOT_REPRODUCED, "mu 0 better"},
        {5, A_DCQ_M0, 2.9, 2, 5, REPORT_INCONCLUSIVE, "noisy"},
        {5, A_DCQ_M0, 0, 0.3, 0, REPORT_NOT_RUN, "no mu 0"},
        {6, A_RND_T, 6, 0.2, 5, REPORT_NOT_REPRODUCED, "random better"},
        {6, A_RND_T, 3, 2, 5, REPORT_INCONCLUSIVE, "noisy"},
        {7, A_RND_B, -5, 0.1, 5, REPORT_NOT_REPRODUCED, "random 5 points worse"},
        {7, A_RND_B, 0.8, 1, 5, REPORT_INCONCLUSIVE, "interval crosses delta"},
        {7, A_RND_B, 0.1, 0.1, 1, REPORT_FEW_SEEDS, "one seed"},
        {8, A_DCQ_ON, 6, 0.2, 5, REPORT_NOT_REPRODUCED, "online better"},
        {8, A_DCQ_ON, 3, 2, 5, REPORT_INCONCLUSIVE, "noisy"},
        {8, A_DCQ_ON, 1, 0.2, 0, REPORT_NOT_RUN, "no online runs"},
        {9, A_DCQ_K2, 8, 0.1, 5, REPORT_NOT_REPRODUCED, "2-shot 5 points better"},
        {9, A_DCQ_K2, 3, 2, 5, REPORT_INCONCLUSIVE, "noisy 2-shot"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        spec_default(&x);
        x.off[cases[i].arm] = cases[i].off;
        x.amp[cases[i].arm] = cases[i].amp;
        x.seeds[cases[i].arm] = cases[i].seeds;
        s = run_report("branch", &x, VX_ROOT "/bench_ok.tsv", "default", NULL);
        expect(&s, cases[i].claim, cases[i].want, cases[i].what);
    }
    /* claim 9 not run: no k-shot arms */
    spec_default(&x);
    x.seeds[A_DCQ_K2] = x.seeds[A_DCQ_K4] = 0;
    s = run_report("branch", &x, NULL, "default", NULL);
    expect(&s, 9, REPORT_NOT_RUN, "no k-shot runs");
    /* claim 4: the tail gap against the largest bucket's, in the same runs */
    spec_default(&x);
    x.tail_off = -3;
    s = run_report("branch", &x, NULL, "default", NULL);
    expect(&s, 4, REPORT_NOT_REPRODUCED, "tail gap smaller");
    x.tail_off = 0.1;
    x.tail_amp = 1;
    s = run_report("branch", &x, NULL, "default", NULL);
    expect(&s, 4, REPORT_INCONCLUSIVE, "tail gap noisy");
    x.seeds[A_DCQ_T] = 0;
    s = run_report("branch", &x, NULL, "default", NULL);
    expect(&s, 4, REPORT_NOT_RUN, "no long-tail dcq runs");
    expect(&s, 3, REPORT_NOT_RUN, "no long-tail dcq runs");
}

/* Controls, the secondary-metric flag, the smoke label, a torn row and an unknown profile. */
static void test_controls_and_labels(void **state)
{
    (void)state;
    assert_int_equal(system("mkdir -p " VX_ROOT), 0);
    struct spec x;
    spec_default(&x);
    x.off[A_AA] = 3;      /* the A/A arm differs: the rules must say so on top */
    x.off[A_SHORT] = 0.1; /* the handicap is not detected */
    x.amp[A_SHORT] = 2;
    x.tar[A_DCQ_T] = -6;  /* TAR says dcq is worse on the long tail: contradicts claim 3 */
    char *t;
    struct report_summary s = run_report("ctl", &x, NULL, "default", &t);
    assert_int_equal(s.aa_flag, 1);
    assert_int_equal(s.pos_missed, 1);
    const char *w = strstr(t, "> **Warning: the A/A control came out worse");
    assert_non_null(w);
    assert_true(w < strstr(t, "## Table 1")); /* at the top */
    assert_non_null(strstr(t, "> **Warning: the positive control"));
    const char *c3 = strstr(t, "### Claim 3:");
    assert_non_null(c3);
    const char *flag = strstr(c3, "**contradicts the primary verdict**");
    assert_true(flag && flag < strstr(c3, "### Claim 4:"));
    expect(&s, 3, REPORT_REPRODUCED, "TAR contradicts, primary stands");
    assert_null(strstr(t, "contradicts the claim's verdict"));
    free(t);
    /* claim 4's secondary (long-tail gap - balanced gap at equal scale) decided the other way */
    spec_default(&x);
    x.off[A_DCQ_S] = 8;
    s = run_report("ctl4", &x, NULL, "default", &t);
    expect(&s, 4, REPORT_REPRODUCED, "secondary reversed, primary stands");
    const char *c4 = strstr(t, "### Claim 4:"), *fl = strstr(t, "**This secondary comparison "
                                                                 "contradicts the claim's verdict.**");
    assert_true(c4 && fl && c4 < fl && fl < strstr(t, "### Claim 5:"));
    free(t);
    /* smoke: the rules run, REPORT.md shows no verdict as evidence */
    spec_default(&x);
    s = run_report("reproduce_smoke", &x, NULL, "smoke", &t);
    assert_int_equal(s.smoke, 1);
    expect(&s, 1, REPORT_REPRODUCED, "smoke still computes");
    assert_non_null(strstr(t, "**Verdict: smoke scale: not evidence.**"));
    assert_null(strstr(t, "**Verdict: reproduced"));
    free(t);
    /* a torn last row is not a run */
    write_runs("torn", &x, 1);
    struct report_opts o = {.results_dir = VX_ROOT, .profile = "default", .sweep = "torn",
                            .out = VX_ROOT "/torn.md", .bench_tsv = VX_ROOT "/none.tsv",
                            .no_derived = 1};
    struct dcqb_err err = {0};
    assert_int_equal(report_write(&o, &s, &err), DCQB_OK);
    int runs = 0;
    for (int a = 0; a < N_ARMS; a++) runs += x.seeds[a];
    assert_int_equal(s.runs, runs);
    t = test_slurp(VX_ROOT "/torn.md");
    assert_non_null(strstr(t, "Torn rows in runs.tsv (a writer stopped mid-line), not counted: 1"));
    free(t);
    /* an unknown profile names itself */
    struct report_opts bad = {.results_dir = VX_ROOT, .profile = "nope"};
    assert_int_equal(report_write(&bad, &s, &err), DCQB_EINVAL);
    assert_non_null(strstr(err.msg, "'nope'"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_holm_and_seeds),
        cmocka_unit_test(test_simulated_error_rates),
        cmocka_unit_test(test_claim_branches),
        cmocka_unit_test(test_controls_and_labels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
