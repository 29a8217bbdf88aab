/* report_matrix.c - the claims across data configurations (docs/METHOD.md §5): a sweep with
 * [data.NAME] sections runs every arm once per configuration (runs.tsv's report.data), and each
 * claim is judged by the same rule in each. This file renders the claim x configuration matrix,
 * one overall line per claim, the short per-configuration lines under each claim's section and
 * derived/verdict_matrix.tsv (one row per claim x configuration, for pandas or gnuplot).
 * Decisions are made before (report_verdicts.c); nothing here decides.
 */
#include "report_claim.h"

#include <math.h>

/* Claim i + 1 in configuration k (claim 2 is judged once, from bench.tsv). */
static const struct claim_result *at(const struct claim_result *c, int k, int i)
{
    return i == 1 ? &c[1] : &c[k * REPORT_N_CLAIMS + i];
}

/* The primary comparison the verdict names, or NULL (claim 2, or nothing run). */
static const struct claim_cmp *key_of(const struct claim_result *r)
{
    if (r->decided_by_cmp < 0 || r->key_cmp >= r->n_cmp || !r->cmp[r->key_cmp].primary) return NULL;
    return &r->cmp[r->key_cmp];
}

/* "reversed" (the better rule) or "beyond the margin" (equivalence, non-inferiority, slopes). */
static const char *fail_kind(const struct claim_result *r)
{
    return strstr(r->why, "reversed") ? "reversed" : "beyond the margin";
}

/* "+1.23 [+0.45, +2.01]" at the interval the comparison is judged on; "–" without pairs. */
static void mean_ci(struct sbuf *b, const struct claim_cmp *x)
{
    const struct report_paired *p = &x->p;
    if (!p->n) sb_str(b, "–");
    else if (p->n == 1) sb_printf(b, "%+.2f (n=1)", nz(p->mean));
    else {
        int w = x->kind == REPORT_BETTER;
        sb_printf(b, "%+.2f [%+.2f, %+.2f]", nz(p->mean), nz(w ? p->lo95 : p->lo90),
                  nz(w ? p->hi95 : p->hi90));
    }
}

enum overall { OV_ALL, OV_NONE, OV_NOT_RUN, OV_DEPENDS, OV_PART_HOLDS, OV_PART_FAILS, OV_UNDECIDED };

static const char *const ov_token[] = {"holds_everywhere", "fails_everywhere", "not_run",
                                       "depends",          "holds_in_part",    "fails_in_part",
                                       "inconclusive"};

/* Counts claim i's verdicts over the configurations. */
static enum overall overall_of(const struct rep *R, const struct claim_result *c, int i)
{
    int hold = 0, fail = 0, run = 0;
    for (int k = 0; k < R->n_data; k++) {
        enum report_verdict v = at(c, k, i)->verdict;
        hold += v == REPORT_REPRODUCED;
        fail += v == REPORT_NOT_REPRODUCED;
        run += v != REPORT_NOT_RUN;
    }
    if (!run) return OV_NOT_RUN;
    if (hold == R->n_data) return OV_ALL;
    if (fail == R->n_data) return OV_NONE;
    if (hold && fail) return OV_DEPENDS;
    return hold ? OV_PART_HOLDS : fail ? OV_PART_FAILS : OV_UNDECIDED;
}

/* "holds in base, hard; not in wild (reversed); inconclusive in x; not run in y". */
static void groups(struct sbuf *b, const struct rep *R, const struct claim_result *c, int i)
{
    static const char *const lead[4] = {"holds in ", "not in ", "inconclusive in ", "not run in "};
    int first_group = 1;
    for (int g = 0; g < 4; g++) {
        int n = 0;
        for (int k = 0; k < R->n_data; k++) {
            const struct claim_result *r = at(c, k, i);
            int grp = r->verdict == REPORT_REPRODUCED       ? 0
                      : r->verdict == REPORT_NOT_REPRODUCED ? 1
                      : r->verdict == REPORT_NOT_RUN        ? 3
                                                            : 2;
            if (grp != g) continue;
            sb_printf(b, "%s%s%s", n ? ", " : first_group ? "" : "; ", n ? "" : lead[g],
                      R->datas[k]);
            if (g == 1) sb_printf(b, " (%s)", fail_kind(r));
            n++;
        }
        if (n) first_group = 0;
    }
}

static void overall_line(struct sbuf *b, const struct rep *R, const struct claim_result *c, int i)
{
    if (R->smoke) {
        sb_str(b, "smoke scale: not evidence");
        return;
    }
    if (i == 1) {
        sb_printf(b, "from bench.tsv, the same in every configuration: %s", c[1].why);
        return;
    }
    switch (overall_of(R, c, i)) {
    case OV_ALL: sb_str(b, "holds in every configuration ("); break;
    case OV_NONE: sb_str(b, "fails in every configuration ("); break;
    case OV_NOT_RUN: sb_str(b, "not run in any configuration"); return;
    case OV_DEPENDS: sb_str(b, "depends on the configuration: "); break;
    case OV_PART_HOLDS: /* the groups say it: "holds in base; inconclusive in hard" */
    case OV_PART_FAILS:
    case OV_UNDECIDED: break;
    }
    enum overall o = overall_of(R, c, i);
    if (o == OV_ALL || o == OV_NONE) {
        for (int k = 0; k < R->n_data; k++) sb_printf(b, "%s%s", k ? ", " : "", R->datas[k]);
        sb_str(b, ")");
        return;
    }
    groups(b, R, c, i);
}

void matrix_md(struct sbuf *b, const struct rep *R, const struct claim_result *c)
{
    sb_str(b, "## Verdicts by data configuration\n\n");
    sb_str(b, "Every claim judged by the same rule in each data configuration of the sweep (its "
              "report.data; \"default\" when runs.tsv has none), Holm's step-down over all the "
              "cells together (above). A cell: the claim's verdict and the mean difference "
              "[interval] of the primary comparison it names, points, on the arms in brackets; "
              "claim 2 comes from bench.tsv and is the same in every column.\n\n| claim |");
    for (int k = 0; k < R->n_data; k++) sb_printf(b, " %s |", R->datas[k]);
    sb_str(b, " overall |\n|---|");
    for (int k = 0; k <= R->n_data; k++) sb_str(b, "---|");
    sb_str(b, "\n");
    static const char *const ov_short[] = {"every configuration", "none", "not run", "depends",
                                           "in part", "fails in part", "undecided"};
    for (int i = 0; i < REPORT_N_CLAIMS; i++) {
        sb_printf(b, "| %d |", i + 1);
        for (int k = 0; k < R->n_data; k++) {
            const struct claim_result *r = at(c, k, i);
            const struct claim_cmp *x = key_of(r);
            /* smoke: the numbers only; the overall column says they are not evidence */
            if (!R->smoke) sb_printf(b, " %s", report_verdict_name(r->verdict));
            if (r->verdict == REPORT_NOT_REPRODUCED && !R->smoke)
                sb_printf(b, " (%s)", fail_kind(r));
            if (x && x->p.n) {
                sb_str(b, R->smoke ? " " : ": ");
                mean_ci(b, x);
            } else if (R->smoke) sb_str(b, " –");
            if (r->arms && x && x->p.n) sb_printf(b, " (%s)", r->arms);
            sb_str(b, " |");
        }
        sb_printf(b, " %s |\n", R->smoke  ? "smoke scale: not evidence"
                                 : i == 1 ? "bench"
                                          : ov_short[overall_of(R, c, i)]);
    }
    sb_str(b, "\n");
    for (int i = 0; i < REPORT_N_CLAIMS; i++) {
        sb_printf(b, "- Claim %d: ", i + 1);
        overall_line(b, R, c, i);
        sb_str(b, ".\n");
    }
    sb_str(b, "\n");
}

void matrix_others(struct sbuf *b, const struct rep *R, const struct claim_result *c, int i)
{
    if (i == 1 || R->n_data < 2) return;
    sb_str(b, "In the other data configurations (the same rule and arms' kind; Holm over every "
              "configuration):\n\n");
    for (int k = 1; k < R->n_data; k++) {
        const struct claim_result *r = at(c, k, i);
        const struct claim_cmp *x = key_of(r);
        sb_printf(b, "- **%s**: ", R->datas[k]);
        if (x) {
            sb_printf(b, "%s - %s ", x->a, x->b);
            mean_ci(b, x);
            if (r->arms) sb_printf(b, ", %s arms", r->arms);
            sb_str(b, ": ");
        }
        sb_printf(b, "%s.\n", R->smoke ? "smoke scale: not evidence" : r->why);
    }
    sb_str(b, "\n");
}

static void num(struct sbuf *b, double x)
{
    if (isnan(x)) sb_str(b, "\tNA");
    else sb_printf(b, "\t%.6g", x);
}

/* A text field without tabs or newlines. */
static void field(struct sbuf *b, const char *s)
{
    sb_str(b, "\t");
    for (; s && *s; s++) sb_add(b, *s == '\t' || *s == '\n' ? " " : s, 1);
    if (!s) sb_str(b, "NA");
}

void matrix_tsv(struct sbuf *b, const struct rep *R, const struct claim_result *c)
{
    static const char *const tok[] = {"not_run", "few_seeds", "reproduced", "not_reproduced",
                                      "inconclusive"};
    static const char *const kn[3] = {"better", "equivalence", "noninferiority"};
    sb_str(b, "claim\tdata\tverdict\tarms\tcomparison\tkind\tmean\tlo\thi\tp\tp_holm\tn\t"
              "overall\n");
    for (int i = 0; i < REPORT_N_CLAIMS; i++)
        for (int k = 0; k < R->n_data; k++) {
            const struct claim_result *r = at(c, k, i);
            const struct claim_cmp *x = key_of(r);
            sb_printf(b, "%d", i + 1);
            field(b, R->datas[k]);
            sb_printf(b, "\t%s", tok[r->verdict]);
            field(b, r->arms ? r->arms : "NA");
            if (x) {
                char lab[200];
                snprintf(lab, sizeof lab, "%s - %s", x->a, x->b);
                field(b, lab);
                int w = x->kind == REPORT_BETTER;
                sb_printf(b, "\t%s", kn[x->kind]);
                num(b, x->p.n ? x->p.mean : NAN);
                num(b, w ? x->p.lo95 : x->p.lo90);
                num(b, w ? x->p.hi95 : x->p.hi90);
            } else sb_str(b, i == 1 ? "\tbench slopes\tslopes\tNA\tNA\tNA" : "\tNA\tNA\tNA\tNA\tNA");
            num(b, r->p_raw);
            num(b, r->p_adj);
            sb_printf(b, "\t%d\t%s\n", r->n, i == 1 ? "bench" : ov_token[overall_of(R, c, i)]);
        }
}
