/* report.h - 'dcqbench report': results/<sweep>/runs.tsv (+ results/bench/bench.tsv) ->
 * REPORT.md tables, claim verdicts (docs/METHOD.md §5) and derived TSVs for the plots.
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
 * Statistics (in percentage points for metrics in [0,1]): mean and sample std (n - 1) over
 * seeds; paired differences by seed (same seed = same data draw and backbone init); se = std of
 * the differences / sqrt(n). Verdict rules, docs/METHOD.md §5:
 *   parity: |mean diff| <= 2 x std over seeds of the baseline -> reproduced
 *   better: diff > 0 in every seed and mean > 2 se -> reproduced; the mirror -> reversed
 *   n < 3 paired seeds -> "inconclusive: only n seeds".
 * Library code: writes files, never prints (only cmd_report.c does).
 */
#ifndef DCQB_REPORT_H
#define DCQB_REPORT_H

#include "dcqb.h"

#define REPORT_MAX_SEEDS 64
#define REPORT_N_CLAIMS 9

enum report_verdict {
    REPORT_NOT_RUN = 0,      /* no data for the comparison in this profile */
    REPORT_FEW_SEEDS,        /* fewer than 3 paired seeds */
    REPORT_REPRODUCED,
    REPORT_NOT_REPRODUCED,   /* parity failed, or (better rule) the reverse holds */
    REPORT_INCONCLUSIVE      /* better rule: neither direction is strong enough */
};

/* Paired differences a_s - b_s over the seeds both have, and the baseline b's values. */
struct report_paired {
    int n;
    int seed[REPORT_MAX_SEEDS];
    double a[REPORT_MAX_SEEDS], b[REPORT_MAX_SEEDS], d[REPORT_MAX_SEEDS];
    double mean, std, se;   /* of d; std and se NaN for n < 2 */
    double base_std;        /* sample std of b; NaN for n < 2 */
};

/* Fill mean/std/se/base_std from n, a[], b[] (d = a - b is computed here). */
void report_paired_stats(struct report_paired *p);

/* The rules. `why` (may be NULL) gets a one-line human verdict, e.g. "reproduced",
 * "not reproduced (A lower by 1.20 points)", "inconclusive: only 2 seeds",
 * "not reproduced (reversed)", "inconclusive at this scale". */
enum report_verdict report_rule_parity(const struct report_paired *p, char *why, size_t n);
enum report_verdict report_rule_better(const struct report_paired *p, char *why, size_t n);
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
    enum report_verdict verdict[REPORT_N_CLAIMS]; /* claim i+1 */
    char out[512];           /* the REPORT.md written */
    char derived[512];       /* the derived/ folder, "" if not written */
};

/* Read runs.tsv (and bench.tsv), write REPORT.md and the derived TSVs. DCQB_EIO when runs.tsv
 * is missing; DCQB_EFORMAT when it lacks run_id/status/head columns. */
int report_write(const struct report_opts *o, struct report_summary *sum, struct dcqb_err *err);

#endif /* DCQB_REPORT_H */
