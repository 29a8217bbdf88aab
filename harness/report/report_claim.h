/* report_claim.h - what the claim files share (report_claims.c computes claims 1 and 3-9,
 * report_claim2.c claim 2 from bench.tsv, report_verdicts.c adjusts and decides them all and
 * renders the verdicts, the controls and the forest data). A claim is computed first (its
 * comparisons, p-values, blocks to show), decided after Holm's step-down across every claim's
 * primary test, and rendered last: nothing formats a number before the verdicts are known.
 */
#ifndef DCQB_REPORT_CLAIM_H
#define DCQB_REPORT_CLAIM_H

#include "report_int.h"

#define CLAIM_MAX_CMP 40
#define CLAIM_MAX_BLK 96
#define CLAIM_MAX_MU 32
#define CLAIM2_MAX_FIT 16
#define CLAIM_MAX_EMA 16

/* One paired comparison of the primary metric, with the secondary ones beside it. */
struct claim_cmp {
    char a[96], b[96];          /* the two sides, as named in the text */
    enum report_kind kind;
    int primary;                /* 1: part of the claim's test (Holm); 0: shown, raw p */
    int aside;                  /* 1: a control beside the claim (another quantity): never
                                 * flagged as contradicting the claim's verdict */
    int not_run;                /* neither side has ok runs */
    const char *metric_name;    /* what p measures (NULL: MegaFace rank-1 at the largest size) */
    struct report_paired p;     /* primary metric, points */
    struct report_paired tar4, lfw; /* n = 0 when not applicable */
    double p_raw, p_adj;        /* p_adj: the claim's Holm-adjusted p (NaN for secondaries) */
    enum report_verdict v, v_tar, v_lfw;
    int negligible, need;       /* need: report_seeds_needed when inconclusive */
    char why[200];
};

enum claim_block_kind {
    CB_TEXT,    /* text: sentences and names, no statistics */
    CB_CMP,     /* cmp: a comparison block */
    CB_BENCH,   /* claim 2's slopes */
    CB_TAIL,    /* claim 4's per-bucket gaps */
    CB_MUS,     /* claim 5's every mu against the main mu */
    CB_VERDICT, /* "**Verdict: ...**" (known only after Holm) */
    CB_EMA,     /* claims 3, 4: does the gain survive the EMA control (cmp, cmp + 1) */
    CB_EMACTL   /* claim 8: EMA - online within the runs of every head */
};

struct claim_block {
    int kind;
    int cmp;
    char text[320];
};

/* One log-log fit of a bench quantity against C (claim 2). */
struct claim_fit {
    char head[32], what[16];    /* what: "memory" or "time" */
    char at[48];                /* "L = 512" or "L/C = 10 %" */
    int n;
    double C_min, C_max;
    double slope, se, lo, hi;   /* 95 % t interval, n - 2 degrees of freedom */
    double y_min, y_max;        /* the measured quantity at C_min and C_max (MB or ms) */
    int equiv;                  /* 1: judged "flat" (|slope| < CLAIM2_FLAT); 0: "grows" */
    double p;                   /* the one-sided / TOST p of that test (NaN: n < 3) */
    int holds, fails;           /* the test's outcome at the 90 % interval */
};

#define CLAIM2_FLAT 0.1  /* |slope| below this: does not grow with C */
#define CLAIM2_GROWS 0.5 /* slope above this: grows with C */

struct claim_result {
    int id;                    /* 1..9 */
    const char *title;
    enum report_verdict verdict;
    int n;                     /* paired seeds (claim 2: bench rows) behind the verdict */
    int decided_by_cmp;        /* -1: the claim decides itself (claim 2); else first primary */
    int key_cmp;               /* the primary comparison the verdict names (after decide) */
    const char *data;          /* the data configuration judged */
    const char *arms;          /* "tuned", "common loss" or NULL: the arms the primary judges */
    double p_raw, p_adj;       /* the claim's test: the largest primary p (intersection-union) */
    char why[200];
    struct claim_block blk[CLAIM_MAX_BLK];
    int n_blk;
    struct claim_cmp cmp[CLAIM_MAX_CMP];
    int n_cmp;
    struct {                   /* claim 2 */
        struct claim_fit fit[CLAIM2_MAX_FIT];
        int n_fit;
        double ema_mb, key_ms, full_bb_ms; /* dcq's EMA copy, its backbone+key step, full's */
        double key_C;
    } bench;
    struct {                   /* claim 4: per-bucket gaps dcq - full, [split][bucket] */
        struct report_paired q[2][N_BUCKETS];
        const char *split_name[2];
    } tail;
    struct {                   /* claim 5 */
        int n;
        double mu[CLAIM_MAX_MU], steps[CLAIM_MAX_MU]; /* steps: NaN when not recorded */
        struct report_paired p[CLAIM_MAX_MU];
    } mus;
    struct {                   /* claim 8: per head x split, EMA - online in the same runs */
        int n;
        char what[CLAIM_MAX_EMA][64];
        struct report_paired p[CLAIM_MAX_EMA];
    } emactl;
};

/* ---- report_claims.c ---------------------------------------------------------------------- */

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void claim_text(struct claim_result *c, const char *fmt, ...);
void claim_block(struct claim_result *c, int kind);
/* Comparison A - B of kind k on the primary metric (with TAR@1e-4 and LFW beside it). */
struct claim_cmp *claim_compare(struct claim_result *c, const struct rep *R, const struct sel *sa,
                                const char *an, const struct sel *sb, const char *bn,
                                enum report_kind k, int primary);
/* The same with the rank-1 of network na for A and nb for B (a == b: within the same runs). */
struct claim_cmp *claim_compare_net(struct claim_result *c, const struct rep *R,
                                    const struct sel *sa, const char *an, enum rnet na,
                                    const struct sel *sb, const char *bn, enum rnet nb,
                                    enum report_kind k, int primary);
/* Claims 1 and 3-9 of the data configuration R->data_cur into c[0..8] (c[1] left to claim 2). */
void claims_compute(struct claim_result *c, const struct rep *R);
/* A claim's blocks, in order, as Markdown. */
void claim_render(struct sbuf *b, const struct rep *R, const struct claim_result *c);
void claim_render_cmp(struct sbuf *b, const struct rep *R, const struct claim_cmp *x);

/* ---- report_matrix.c: the claim x data-configuration view ----------------------------------- */

/* c[k * REPORT_N_CLAIMS + i]: claim i + 1 in R->datas[k] (claim 2 only at k = 0). */
void matrix_md(struct sbuf *b, const struct rep *R, const struct claim_result *c);
void matrix_tsv(struct sbuf *b, const struct rep *R, const struct claim_result *c);
/* Claim i's primary outcome in the other configurations, one line each (n_data > 1). */
void matrix_others(struct sbuf *b, const struct rep *R, const struct claim_result *c, int i);

/* ---- report_claim2.c ---------------------------------------------------------------------- */

/* Slopes from bench.tsv; sets decided_by_cmp = -1 and p_raw (the claim's test). */
void claim2_compute(struct claim_result *c, const struct rep *R);
/* The verdict at the Holm-adjusted c->p_adj. */
void claim2_decide(struct claim_result *c, const struct rep *R);
void claim2_render(struct sbuf *b, const struct rep *R, const struct claim_result *c);

#endif /* DCQB_REPORT_CLAIM_H */
