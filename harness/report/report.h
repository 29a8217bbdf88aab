/* report.h - 'dcqbench report': results/<sweep>/runs.tsv (+ results/bench/bench.tsv) ->
 * REPORT.md tables, claim verdicts (docs/METHOD.md §5), a claim x data-configuration matrix and
 * derived TSVs for the plots (verdicts.tsv, verdict_matrix.tsv, ...).
 *
 * Runs are selected by config VALUES, never by sweep section labels (runs.tsv does not record
 * them): Table 1 = profile ms1m; Table 2 = profile mf2 at the base settings; Table 4 = profile
 * mf2, head dcq, grouped by mu, kshot and eval net. The values are the run's resolved
 * configuration as runs.tsv records it; a value a head needs that runs.tsv lacks (column absent
 * or NA) is reported as missing, never filled in with a default. A head whose runs have every
 * class active in every step (summary head_active_classes == classes) is at L/C = 100 % whatever
 * its ratio key says. The heads are the registered ones (head_list(), in registry order) and any
 * other head named in runs.tsv. "The profile's main mu" is the most common mu of the dcq runs
 * on ms1m (else of all dcq runs). "The common loss" is the most common (margin, s, m) over all
 * runs. Of several rows with one run_id the last is current (a retried run). Two runs with the
 * same settings and seed (e.g. two sweep sections reaching one configuration) are one
 * observation: the one with the smaller run_id is used.
 *
 * Statistics (in percentage points for metrics in [0,1]), docs/METHOD.md §5: the unit of
 * evidence is the paired difference per seed (same seed = same data draw, batches and backbone
 * init); mean, sample std (n - 1), t confidence intervals and p-values from GSL. Rules:
 *   better (A better than B): reproduced when the 95 % CI lies above 0 and the Holm-adjusted
 *     p < 0.05, reversed (not reproduced) in the mirror case, inconclusive otherwise; a decided
 *     difference whose 95 % CI lies inside +- the smallest effect of interest is "negligible";
 *   equivalence (A ~ B) / non-inferiority (A not worse than B by more than delta): two one-sided
 *     tests; reproduced when the 90 % CI lies within +-delta (above -delta) and the adjusted
 *     p < 0.05, not reproduced when the 90 % CI lies entirely beyond the margin, inconclusive
 *     otherwise;
 *   Holm's step-down across the claims' primary tests (with several data configurations,
 *     runs.tsv's report.data: every claim in every configuration, one family, claim 2 once);
 *     fewer than 2 paired seeds -> no interval.
 * Tuning-grid runs (tune = grid) never enter a comparison; claims 1 and 3 judge the tuned arms
 * (tune = best) when both sides have them, the untuned common-loss arms beside them. Variants
 * (pfc_mode, sampler) are selected as recorded: a row lacking the value is in no arm. The
 * distractor count printed is the metrics' (megaface_n_distractors), not the config's.
 * Library code: writes files, never prints (only cmd_report.c does).
 */
#ifndef DCQB_REPORT_H
#define DCQB_REPORT_H

#include "dcqb.h"

#define REPORT_MAX_SEEDS 64
#define REPORT_N_CLAIMS 9

enum report_verdict {
    REPORT_NOT_RUN = 0,      /* no data for the comparison in this profile */
    REPORT_FEW_SEEDS,        /* fewer than 2 paired seeds: no interval */
    REPORT_REPRODUCED,
    REPORT_NOT_REPRODUCED,   /* reversed (better rule) or beyond the margin (equivalence) */
    REPORT_INCONCLUSIVE      /* the interval does not decide (or not after Holm) */
};

/* What a comparison claims about A - B. */
enum report_kind {
    REPORT_BETTER = 0,       /* A > B: two-sided t-test, 95 % CI */
    REPORT_EQUIV,            /* |A - B| < delta: two one-sided tests, 90 % CI */
    REPORT_NONINF            /* A - B > -delta: one-sided test, 90 % CI */
};

#define REPORT_ALPHA 0.05

/* Paired differences a_s - b_s over the seeds both have, and the baseline b's values. */
struct report_paired {
    int n;
    int seed[REPORT_MAX_SEEDS];
    double a[REPORT_MAX_SEEDS], b[REPORT_MAX_SEEDS], d[REPORT_MAX_SEEDS];
    double mean, std, se;   /* of d; std and se NaN for n < 2 */
    double lo95, hi95;      /* 95 % t interval of the mean difference; NaN for n < 2 */
    double lo90, hi90;      /* 90 % t interval (equivalence tests) */
    double p;               /* two-sided t-test of mean 0; NaN for n < 2 */
    double base_std;        /* sample std of b; NaN for n < 2 */
};

/* Fill the statistics from n, a[], b[] (d = a - b is computed here). GSL throughout. */
void report_paired_stats(struct report_paired *p);
/* The difference of two paired differences, per seed both have: p->a = g1's d, p->b = g2's d,
 * so p->d = (A1 - B1) - (A2 - B2) (how one gap compares with another), with its statistics. */
void report_paired_gaps(struct report_paired *p, const struct report_paired *g1,
                        const struct report_paired *g2);

/* p-value of the comparison's null hypothesis: better: two-sided H0 mean = 0; equivalence:
 * the larger of the two one-sided p (H0 mean <= -delta, H0 mean >= delta); non-inferiority:
 * H0 mean <= -delta. NaN for n < 2. */
double report_p(const struct report_paired *p, enum report_kind k, double delta);

/* The rule of kind k at margin delta (equivalence kinds) with p_adj the Holm-adjusted p (NaN:
 * the raw p). *negligible (may be NULL) = 1 when a decided better-rule difference has its 95 %
 * CI inside +-sesoi (sesoi <= 0: never). `why` (may be NULL) gets one line, e.g.
 * "reproduced", "not reproduced (reversed)", "inconclusive: 95 % CI contains 0". */
enum report_verdict report_rule(const struct report_paired *p, enum report_kind k, double delta,
                                double sesoi, double p_adj, int *negligible, char *why,
                                size_t n);

/* Paired seeds the observed mean and spread would need for the rule to decide toward the
 * observed side at level alpha (the test's Holm level: REPORT_ALPHA x p / adjusted p); -1 when
 * no number would (a zero mean, or an equivalence mean at or beyond the margin), 0 for n < 2. */
int report_seeds_needed(const struct report_paired *p, enum report_kind k, double delta,
                        double alpha);

/* Holm's step-down adjustment of p[0..n) into adj (NaN entries stay NaN and do not count). */
void report_holm(const double *p, int n, double *adj);

const char *report_verdict_name(enum report_verdict v);

struct report_opts {
    const char *results_dir; /* root; NULL = "results" */
    const char *profile;     /* smoke|default|paper (free text); may be NULL if sweep given */
    const char *sweep;       /* sweep name; NULL = "reproduce_<profile>" */
    const char *out;         /* REPORT.md path; NULL = <results_dir>/REPORT.md */
    const char *bench_tsv;   /* NULL = <results_dir>/bench/bench.tsv (absent is fine) */
    const char *timestamp;   /* text of the "Generated:" line; NULL = no such line */
    int no_derived;          /* 1 = skip results/<sweep>/derived/ */
};

struct report_summary {
    int rows;                /* data rows in runs.tsv */
    int runs, ok, failed;    /* distinct run_ids, by their last row */
    int retried;             /* run_ids with more than one row */
    int bench_rows;          /* ok rows in bench.tsv, -1 when absent */
    enum report_verdict verdict[REPORT_N_CLAIMS]; /* claim i+1 in the first data configuration,
                                                   * computed at every scale */
    int smoke;               /* 1: smoke scale, REPORT.md shows no verdict as evidence */
    int aa_flag;             /* 1: the A/A control came out different (a warning on top) */
    int pos_missed;          /* 1: the positive control was not called worse */
    int ladder[REPORT_INCONCLUSIVE + 1]; /* a scale ladder's rungs by verdict (none: all 0) */
    char out[512];           /* the REPORT.md written */
    char derived[512];       /* the derived/ folder, "" if not written */
};

/* Read runs.tsv (and bench.tsv), write REPORT.md and the derived TSVs. DCQB_EIO when runs.tsv
 * is missing; DCQB_EFORMAT when it lacks run_id/status/head columns. */
int report_write(const struct report_opts *o, struct report_summary *sum, struct dcqb_err *err);

#endif /* DCQB_REPORT_H */
