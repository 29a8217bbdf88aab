/* report_int.h - what the report's files share (not for the rest of the harness: report.h is).
 *
 * report_select.c loads runs.tsv into runs, finds the heads and selects runs; report_stats.c
 * holds the statistics and verdict rules (numbers only, no Markdown); report_fmt.c formats cells;
 * report_tables.c renders Tables 1-5; report_claims.c computes each claim's result and renders
 * the results; report_verdicts.c decides them (per data configuration) and report_matrix.c
 * renders the claim x configuration view; report_derived.c writes the TSVs the plots read;
 * report.c ties them together.
 * Calls go one way: report -> tables, claims, derived -> fmt -> select.
 */
#ifndef DCQB_REPORT_INT_H
#define DCQB_REPORT_INT_H

#include "report.h"
#include "tsv.h"

#define PCT 100.0
#define MAX_COND 256
#define N_BUCKETS 6
#define M_RANK1 "megaface_rank1"
#define M_RANK1_EMA "megaface_rank1_ema"       /* rank-1 with the run's EMA network */
#define M_RANK1_ONLINE "megaface_rank1_online" /* rank-1 with the run's online network */
#define MAX_DATA 16 /* data configurations judged (report.data values); more are not judged */
#define M_TAR3 "tar_at_far_1e-3"
#define M_TAR4 "tar_at_far_1e-4"
#define M_TAR6 "tar_at_far_1e-6"
#define M_LFW "lfw_acc_mean"

/* Tail diagnostic buckets: training images per class (b1_2 = 1-2, ..., then all classes). */
extern const char *const report_buckets[N_BUCKETS];

/* Control and scale arms, told apart from the main runs by their configuration (report.h):
 * a main selection never mixes them in. */
enum rvariant {
    RV_MAIN = 0,
    RV_AA,     /* head_stream set: the A/A control's second arm */
    RV_SHORT,  /* fewer steps than the profile's runs: the positive control's handicapped arm */
    RV_SCALE   /* ids other than its split's usual: claim 4's balanced split at the long-tail scale */
};

/* Which network's MegaFace rank-1 a comparison reads (run_rank1). */
enum rnet {
    RN_EVAL = 0, /* megaface_rank1: the network eval.net chose */
    RN_EMA,      /* megaface_rank1_ema, else megaface_rank1 of a run evaluated with net ema */
    RN_ONLINE,   /* megaface_rank1_online, else megaface_rank1 of a run with only / eval online */
    RN_AUTO      /* RN_EMA when every run on both sides keeps an EMA network with a value */
};

/* One distinct run (its last row), with its configuration as runs.tsv states it. A value the
 * run's row lacks is NULL / NaN / -1 ("missing"): the report never fills in a head's default. */
struct rrun {
    int row;              /* row in the runs tsv */
    const char *run_id;
    int ok;
    const char *head, *profile, *net; /* "?" when missing; net NULL: no eval_net / eval.net */
    int seed, kshot;      /* -1 / 0 when missing */
    double ratio, mu;     /* NaN when missing; ratio 1 for a head with every class per step */
    char loss[64];        /* "margin s=.. m=.." */
    int variant;          /* enum rvariant */
    const char *data;     /* report.data; "default" when absent or NA */
    const char *tune;     /* "grid" (a tuning run), "best" (a tuned arm's test run) or "-" */
    int ema;              /* 1: the run keeps an EMA network (config `ema` = 1, or head dcq) */
    const char *sampler, *pfc_mode; /* sampled's proposal, random's update semantics; NULL if absent */
    int ids;              /* config `ids`, -1 when missing */
};

/* A resolved configuration value the report needs but runs.tsv lacks (column absent or NA). */
struct rmissing {
    const char *head, *key;
    int runs;
};

struct rep {
    const struct report_opts *o;
    char sweep[256], dir[1024], derived[1100];
    char fig[1300];       /* image links: the figures folder relative to REPORT.md + "<profile>_" */
    struct tsv t;
    struct rrun *r;       /* n_runs, sorted by run_id */
    int n_runs, n_ok, n_failed, n_retried, n_torn;
    const char **heads;   /* n_heads: registered heads in registry order, then other heads found
                           * in the data by name */
    unsigned char *whole; /* per head: its runs have every class in every step (L/C = 1) */
    int n_heads;
    struct rmissing *miss;
    int n_miss;
    char common_loss[64];
    double main_mu;       /* NaN when there are no dcq runs */
    double sesoi, delta;  /* smallest effect of interest and equivalence margin (points) */
    int sesoi_given, delta_given; /* 1: from runs.tsv (report.sesoi, report.delta) */
    int smoke;            /* smoke profile: verdicts computed, never shown as evidence */
    struct tsv bench;     /* rows == 0 when absent */
    const char *datas[MAX_DATA]; /* the data configurations, in order of their first row */
    int n_data;
    const char *data_cur; /* the configuration sel_base selects: datas[0] unless a claim pass
                           * sets another (report_verdicts.c judges each on a copy of rep) */
};

/* What a table cell or comparison selects. NULL / NaN / 0 = any. */
struct sel {
    const char *head, *profile, *net, *loss;
    double ratio, mu;
    int kshot;
    int variant;          /* enum rvariant: RV_MAIN unless a control is asked for */
    const char *data, *tune, *sampler, *pfc_mode; /* NULL = any */
};

/* One ok run per seed (smallest run_id wins a tie), seeds ascending. */
struct cell {
    int n, failed;
    int seed[REPORT_MAX_SEEDS], run[REPORT_MAX_SEEDS];
};

/* bench.tsv columns the report reads (-1 when absent). */
struct bench_view {
    int c_head, c_C, c_d, c_B, c_thr, c_ratio, c_ms, c_gf, c_gemm, c_gmin, c_pcb, c_fix, c_rss,
        c_st, c_err;
};

/* ---- report_select.c: runs, heads, selection, statistics ------------------------------------ */

/* R->t parsed: distinct runs, heads, missing values, common loss and main mu. */
int rep_load_runs(struct rep *R, struct dcqb_err *err);
void rep_free(struct rep *R);
int head_rank(const struct rep *R, const char *head);      /* index in R->heads, else n_heads */
int head_is_whole(const struct rep *R, const char *head);
const char *run_cfg(const struct rep *R, int row, const char *key); /* NULL: absent or NA */
double run_num(const struct rep *R, int ri, const char *col);
int same_num(double a, double b);
int sel_match(const struct sel *s, const struct rrun *u);
/* The base ratio of a head: 1 for a head with every class per step, else 10 %. */
double base_ratio(const struct rep *R, const char *head);
/* The base settings of a head on a split at `ratio` (NaN any): R->data_cur, the untuned arm
 * (tune "-") at the common loss; for dcq also the main mu, kshot 1 and the EMA network; random
 * Partial FC v1, sampled the uniform proposal (as recorded: a run lacking the key matches
 * neither, docs/METHOD.md §5). */
struct sel sel_base(const struct rep *R, const char *head, const char *profile, double ratio);
void cell_select(const struct rep *R, const struct sel *s, struct cell *c);
/* The tuned arm (tune "best") of the same head and settings: its loss is the grid's choice (any),
 * its mu any when a tuned run's tune_keys name mu. */
struct sel sel_tuned(const struct rep *R, const struct sel *base);
/* Distinct conditions of the runs matching `where`, in table order; at most max. */
int conditions(const struct rep *R, const struct sel *where, struct sel *out, int max);
/* Values of `metric` x scale over the cell's runs with a finite value. */
int cell_values(const struct rep *R, const struct cell *c, const char *metric, double scale,
                double *v, int *seed);
/* The run's MegaFace rank-1 (fraction) of network `net` (RN_EVAL, RN_EMA or RN_ONLINE); NaN when
 * the run has no such value. */
double run_rank1(const struct rep *R, int ri, enum rnet net);
/* 1 when every run of the cell keeps an EMA network and has its rank-1 (n > 0). */
int cell_has_ema(const struct rep *R, const struct cell *c);
/* a's network na - b's network nb, rank-1 in points, paired by seed (a == b: within the runs). */
void paired_net(const struct rep *R, const struct cell *a, enum rnet na, const struct cell *b,
                enum rnet nb, struct report_paired *p);
/* a - b paired by seed, for metric x scale. */
void paired(const struct rep *R, const struct cell *a, const struct cell *b, const char *metric,
            double scale, struct report_paired *p);
void bench_view(const struct tsv *t, struct bench_view *v);
int bench_row_ok(const struct tsv *t, const struct bench_view *v, int i);
double bench_mem_mb(const struct tsv *t, const struct bench_view *v, int i);
/* ok rows sorted by (head rank, head, d, C, B, threads, ratio) into idx; returns the count. */
int bench_sorted(const struct rep *R, const struct bench_view *v, int *idx);

/* ---- report_stats.c: GSL means and spreads (the rules: report.h) --------------------------- */

double mean_of(const double *x, int n);
double std_of(const double *x, int n); /* sample std, n - 1 */

/* ---- report_fmt.c: cells --------------------------------------------------------------------- */

double nz(double x); /* no "-0.00" */
/* "m ± s", "m ± s (n=2)", "m (n=1)", "n/a" (runs but no value), "failed", "–" (no runs). */
void fmt_stat(struct sbuf *b, const struct rep *R, const struct cell *c, const char *metric,
              double scale, int dec);
void fmt_diff(struct sbuf *b, const struct report_paired *p);
void fmt_ratio(char *out, size_t n, double r);
void cond_label(const struct rep *R, const struct sel *s, char *out, size_t n);

/* ---- the sections ------------------------------------------------------------------------- */

void report_tables(struct sbuf *b, const struct rep *R, struct sel *conds); /* conds: MAX_COND */
/* Claims 1-9 decided together (report_verdicts.c): warnings for the top of REPORT.md (the
 * controls), the claims with the verdict table, the claim x data-configuration matrix and the
 * controls, the forest plot's data, derived/verdicts.tsv (the main configuration) and
 * derived/verdict_matrix.tsv (every configuration). Fills sum->verdict (the main configuration),
 * aa_flag, pos_missed. DCQB_ENOMEM only. */
struct claims_md {
    struct sbuf top, body, forest, verdicts, matrix;
};
int report_claims(struct claims_md *o, const struct rep *R, struct report_summary *sum,
                  struct dcqb_err *err);
int report_derived(const struct rep *R, struct dcqb_err *err);
/* b into R->derived/name. */
int report_derived_put(const struct rep *R, const char *name, const struct sbuf *b,
                       struct dcqb_err *err);
/* Every Markdown table of the report text md as a LaTeX booktabs file in <dir of out>/tables/
 * (report_latex.c): table_<n>.tex, named after the heading above it in a comment. */
int report_latex(const char *out, const char *md, size_t n, struct dcqb_err *err);

/* ==== tables beyond the claims: arms, tuning, EMA control, drift, scale (report_fmt.c,
 * report_arms.c, report_scale.c). Calls: report -> arms, scale; derived -> scale; every
 * section -> fmt -> select. ================================================================== */

/* A paired difference with its 95 % t interval: "+1.23 [+0.40, +2.06] (n=5)"; "–": no pairs. */
void fmt_gap(struct sbuf *b, const struct report_paired *p);
/* A column of a runs table: mean ± std over seeds of metric x scale. opt = 1: a column only
 * newer runs.tsv files have (the step's labels): left out of the table when runs.tsv lacks it. */
struct tcol {
    const char *header, *metric;
    double scale;
    int dec, opt;
};
/* "| lead | <headers> | tail |\n|---|...|\n"; lead and tail are " | "-joined header cells. */
void tab_head(struct sbuf *b, const struct rep *R, const char *lead, const struct tcol *cols,
              const char *tail);
/* The metric cells of one row, each followed by " | " (TAR cells with their impostor count). */
void tab_cells(struct sbuf *b, const struct rep *R, const struct cell *c, const struct tcol *cols);
/* The data configuration the main tables and the claims show: the one with the most ok runs
 * outside the tuning grid, ties to the first row; "default" without [data.NAME] sections. */
const char *rep_main_data(const struct rep *R);
/* sel_base on the main data configuration with tune = `tune` ("-" common loss, "best" the tuned
 * arm: its own loss, mu and kshot); random at pfc_mode v1 and sampled with the uniform proposal
 * when their runs record those keys (v2 and the other proposals are arms of their own). */
struct sel arm_base(const struct rep *R, const char *head, const char *profile, double ratio,
                    const char *tune);
/* 1: a random / sampled cell whose int(ratio x classes) is below the batch's mean distinct
 * labels (batch_labels_mean): every step then holds only the batch's positives (K_t = the
 * labels), so the arm does not test its ratio. 0 when runs.tsv lacks the columns. */
int arm_positives_only(const struct rep *R, const struct cell *c);
/* cond_label plus " (positives-only)" when arm_positives_only. */
void arm_label(const struct rep *R, const struct sel *s, const struct cell *c, char *out,
               size_t n);
/* The sections after the tables (report_arms.c): EMA control, chosen configurations, the arms
 * beyond the claims (second baseline, Partial FC v2, proposals, ladder on both splits, mu and
 * queue drift). conds: MAX_COND. */
void report_arms(struct sbuf *b, const struct rep *R, struct sel *conds);
/* The scale ladder (report_scale.c): DCQ - full by identities per split with claim 1's rule
 * on the balanced split's rungs and claim 3's on the long-tail split's, when the runs have
 * several ids of a split (claim 4's balanced-at-scale arm aside), then a note on what the
 * sections after it take; returns 1 when it wrote the section, 0 (nothing written) otherwise. */
int report_scale(struct sbuf *b, const struct rep *R, struct report_summary *sum);
/* A verdict as a token without spaces, for the derived TSVs (reproduced, not_reproduced,
 * inconclusive, few_seeds, not_run). */
const char *report_verdict_token(enum report_verdict v);
/* A split's usual identity count: the most common ids of its runs (ties: the smaller; NaN: no
 * runs). The main selection takes these; other ids are variants (report_select.c). */
double report_usual_ids(const struct rep *R, const char *profile);
/* derived/scale.tsv's text (report_scale.c); returns its data rows (0: no ladder). */
int report_scale_tsv(struct sbuf *b, const struct rep *R);

#endif /* DCQB_REPORT_INT_H */
