/* report_scale.c - the scale ladder: the DCQ 10 % - full softmax gap in MegaFace rank-1 at
 * several identity counts of each split (the "scale" sweep: dcq at ratio 0.1 and full, ms1m and
 * mf2, ids 5K, 20K, 100K at fixed epochs), and whether it grows toward the paper's scale.
 *
 * A rung is (split, ids). Claim 4's balanced-at-scale arm (the balanced split at the long-tail
 * split's identities with its class-size mean changed, `lognorm_mean`) is another data shape,
 * not a rung: runs whose lognorm_mean differs from their split's most common one are left out. Steps grow with the images at fixed epochs, so a rung's runs are told from the positive
 * control's shortened arm by keeping, per seed, the run with the most steps.
 */
#include "report_int.h"

#include <math.h>
#include <stdlib.h>

#define MAX_RUNGS 16

static const char *const splits[2] = {"ms1m", "mf2"};

/* Same lognorm_mean (NULL: not set). */
static int same_shape(const char *a, const char *b)
{
    return (!a && !b) || (a && b && same_num(atof(a), atof(b)));
}

/* The split's usual class-size shape: the most common lognorm_mean over its runs, not set
 * counting as a value (ties: the first run's). */
static const char *usual_shape(const struct rep *R, const char *split)
{
    const char *best = NULL;
    int best_n = 0;
    for (int i = 0; i < R->n_runs; i++) {
        if (strcmp(R->r[i].profile, split)) continue;
        const char *v = run_cfg(R, R->r[i].row, "lognorm_mean");
        int c = 0;
        for (int j = 0; j < R->n_runs; j++)
            c += !strcmp(R->r[j].profile, split) &&
                 same_shape(v, run_cfg(R, R->r[j].row, "lognorm_mean"));
        if (c > best_n) {
            best_n = c;
            best = v;
        }
    }
    return best;
}

/* A run of the ladder: the head's base arm on the split (any variant but the A/A control),
 * the split's usual class-size shape. */
static int on_ladder(const struct rep *R, const struct sel *s, const struct rrun *u,
                     const char *shape)
{
    struct sel t = *s;
    t.variant = u->variant;
    if (u->variant == RV_AA || u->ids < 0 || !sel_match(&t, u)) return 0;
    return same_shape(run_cfg(R, u->row, "lognorm_mean"), shape);
}

/* The rung's cell: per seed the ok run with the most steps (ties: the smaller run_id). */
static void rung_cell(const struct rep *R, const struct sel *s, int ids, const char *shape,
                      struct cell *c)
{
    double steps[REPORT_MAX_SEEDS];
    memset(c, 0, sizeof *c);
    for (int i = 0; i < R->n_runs; i++) {
        const struct rrun *u = &R->r[i];
        if (u->ids != ids || !on_ladder(R, s, u, shape)) continue;
        if (!u->ok) {
            c->failed++;
            continue;
        }
        double st = run_num(R, i, "steps");
        int k = 0;
        while (k < c->n && c->seed[k] < u->seed) k++;
        if (k < c->n && c->seed[k] == u->seed) {
            if (st > steps[k]) {
                c->run[k] = i;
                steps[k] = st;
            }
            continue;
        }
        if (c->n == REPORT_MAX_SEEDS) continue;
        memmove(c->seed + k + 1, c->seed + k, (size_t)(c->n - k) * sizeof c->seed[0]);
        memmove(c->run + k + 1, c->run + k, (size_t)(c->n - k) * sizeof c->run[0]);
        memmove(steps + k + 1, steps + k, (size_t)(c->n - k) * sizeof steps[0]);
        c->seed[k] = u->seed;
        c->run[k] = i;
        steps[k] = st;
        c->n++;
    }
}

struct rung {
    int ids, n_dcq, n_full;
    struct report_paired gap; /* dcq - full, rank-1 points, paired by seed */
};

/* The split's rungs, ids ascending; returns their count (0 or 1: no ladder). */
static int rungs(const struct rep *R, const char *split, struct rung *out)
{
    struct sel d = arm_base(R, "dcq", split, base_ratio(R, "dcq"), "-"),
               f = arm_base(R, "full", split, base_ratio(R, "full"), "-");
    int n = 0;
    const char *shape = usual_shape(R, split);
    for (int i = 0; i < R->n_runs; i++) {
        const struct rrun *u = &R->r[i];
        if (!on_ladder(R, &d, u, shape) && !on_ladder(R, &f, u, shape)) continue;
        int k = 0;
        while (k < n && out[k].ids < u->ids) k++;
        if ((k < n && out[k].ids == u->ids) || n == MAX_RUNGS) continue;
        memmove(out + k + 1, out + k, (size_t)(n - k) * sizeof *out);
        out[k].ids = u->ids;
        n++;
    }
    for (int k = 0; k < n; k++) {
        struct cell cd, cf;
        rung_cell(R, &d, out[k].ids, shape, &cd);
        rung_cell(R, &f, out[k].ids, shape, &cf);
        out[k].n_dcq = cd.n;
        out[k].n_full = cf.n;
        paired(R, &cd, &cf, M_RANK1, PCT, &out[k].gap);
    }
    return n;
}

/* The gap at the largest rung minus the gap at the smallest, paired by seed. */
static void gap_change(const struct rung *lo, const struct rung *hi, struct report_paired *p)
{
    memset(p, 0, sizeof *p);
    for (int i = 0; i < hi->gap.n; i++)
        for (int j = 0; j < lo->gap.n; j++)
            if (hi->gap.seed[i] == lo->gap.seed[j]) {
                p->seed[p->n] = hi->gap.seed[i];
                p->a[p->n] = hi->gap.d[i];
                p->b[p->n] = lo->gap.d[j];
                p->n++;
            }
    report_paired_stats(p);
}

/* The rule printed in the section: on the change of the gap from the smallest to the largest
 * rung with two or more paired seeds at both. */
static const char *trend(const struct rep *R, const struct report_paired *p)
{
    if (p->n < 2) return "cannot be judged (fewer than 2 seeds paired across the rungs)";
    if (p->lo95 > 0) return "grows toward the paper's scale";
    if (p->hi95 < 0) return "shrinks toward the paper's scale";
    if (p->lo95 > -R->sesoi && p->hi95 < R->sesoi) return "stays (within the smallest effect)";
    return "is not decided by these seeds (the interval spans more than the smallest effect)";
}

void report_scale(struct sbuf *b, const struct rep *R)
{
    struct rung r[2][MAX_RUNGS];
    int n[2], any = 0;
    for (int sp = 0; sp < 2; sp++) {
        n[sp] = rungs(R, splits[sp], r[sp]);
        any |= n[sp] > 1;
    }
    if (!any) return;
    sb_str(b, "## Scale ladder: the DCQ - full gap against the number of identities\n\n");
    sb_printf(b, "![DCQ - full rank-1 gap against identities](%sscale.png)\n\n", R->fig);
    sb_str(b, "DCQ 10 % minus the full softmax (common loss), MegaFace rank-1 at the largest "
              "distractor size, paired by seed at each rung (same epochs on every rung). Rule: "
              "the change of the gap from the smallest to the largest rung, paired by seed, "
              "with its 95 % t interval: above 0 = grows, below 0 = shrinks, inside +-the "
              "smallest effect of interest = stays, else not decided.\n\n");
    sb_str(b, "| split | identities | dcq seeds | full seeds | gap dcq - full (points, 95 % CI) "
              "|\n|---|---|---|---|---|\n");
    for (int sp = 0; sp < 2; sp++)
        for (int k = 0; k < n[sp]; k++) {
            sb_printf(b, "| %s | %d | %d | %d | ", splits[sp], r[sp][k].ids, r[sp][k].n_dcq,
                      r[sp][k].n_full);
            fmt_gap(b, &r[sp][k].gap);
            sb_str(b, " |\n");
        }
    sb_str(b, "\n");
    for (int sp = 0; sp < 2; sp++) {
        if (n[sp] < 2) continue;
        struct report_paired p;
        const struct rung *lo = &r[sp][0], *hi = &r[sp][n[sp] - 1];
        gap_change(lo, hi, &p);
        sb_printf(b, "- %s: from %d to %d identities the gap %s: change ", splits[sp], lo->ids,
                  hi->ids, trend(R, &p));
        fmt_gap(b, &p);
        sb_str(b, R->smoke ? " (smoke scale: not evidence).\n" : ".\n");
    }
    sb_str(b, "\n");
}

int report_scale_tsv(struct sbuf *b, const struct rep *R)
{
    int rows = 0;
    sb_str(b, "split\tids\tn\tgap_mean\tgap_lo\tgap_hi\n");
    for (int sp = 0; sp < 2; sp++) {
        struct rung r[MAX_RUNGS];
        int n = rungs(R, splits[sp], r);
        for (int k = 0; k < n && n > 1; k++) {
            const struct report_paired *g = &r[k].gap;
            sb_printf(b, "%s\t%d\t%d", splits[sp], r[k].ids, g->n);
            if (g->n) sb_printf(b, "\t%.6g", g->mean);
            else sb_str(b, "\tNA");
            if (g->n >= 2) sb_printf(b, "\t%.6g\t%.6g\n", g->lo95, g->hi95);
            else sb_str(b, "\tNA\tNA\n");
            rows++;
        }
    }
    return rows;
}
