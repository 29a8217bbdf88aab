/* report_arms.c - the sections of REPORT.md after Tables 1-5 that no claim decides: every head's
 * EMA network against its online one, the configuration each tuned arm chose, the arms beyond
 * the claims (the second baseline's losses, Partial FC v2, sampled softmax's proposals, the
 * ratio ladder on both splits) and the momentum table with the queue's drift. Tables only: the
 * verdicts stay in the claims. Rows come from the runs (report_select.c), cells from
 * report_fmt.c, so a number here is the number a table or claim shows for the same runs.
 */
#include "report_int.h"

#include <math.h>
#include <stdlib.h>

static const char *const splits[2] = {"ms1m", "mf2"};

static const struct tcol arm_cols[] = {
    {"MegaFace rank-1 (largest)", M_RANK1, PCT, 2, 0},
    {"TAR@FAR 1e-4", M_TAR4, PCT, 2, 0},
    {"LFW acc", M_LFW, PCT, 2, 0},
    {"eff. classes / step", "eff_classes_mean", 1.0, 0, 1},
    {NULL, NULL, 0, 0, 0},
};

/* ==== EMA control ============================================================================ */

/* megaface_rank1_ema - megaface_rank1_online within each run of the cell (same runs, so the
 * pairs are exact), in points. */
static void ema_gap(const struct rep *R, const struct cell *c, struct report_paired *p)
{
    memset(p, 0, sizeof *p);
    for (int i = 0; i < c->n; i++) {
        double e = run_num(R, c->run[i], "megaface_rank1_ema"),
               o = run_num(R, c->run[i], "megaface_rank1_online");
        if (isnan(e) || isnan(o)) continue;
        p->seed[p->n] = c->seed[i];
        p->a[p->n] = e * PCT;
        p->b[p->n] = o * PCT;
        p->n++;
    }
    report_paired_stats(p);
}

static void ema_control(struct sbuf *b, const struct rep *R)
{
    static const struct tcol cols[] = {
        {"rank-1, EMA network", "megaface_rank1_ema", PCT, 2, 1},
        {"rank-1, online network", "megaface_rank1_online", PCT, 2, 1},
        {NULL, NULL, 0, 0, 0},
    };
    sb_str(b, "## EMA control: each head's averaged network against its online one\n\n");
    int any = 0;
    for (int sp = 0; sp < 2; sp++)
        for (int h = 0; h < R->n_heads; h++) {
            const char *hd = R->heads[h];
            struct sel s = arm_base(R, hd, splits[sp], base_ratio(R, hd), "best");
            struct cell c;
            cell_select(R, &s, &c);
            if (!c.n) {
                s = arm_base(R, hd, splits[sp], base_ratio(R, hd), "-");
                cell_select(R, &s, &c);
            }
            struct report_paired p;
            ema_gap(R, &c, &p);
            if (!p.n) continue;
            if (!any)
                tab_head(b, R, "split | arm", cols, "EMA - online, same runs (95 % CI) | seeds");
            any = 1;
            char lab[200];
            arm_label(R, &s, &c, lab, sizeof lab);
            sb_printf(b, "| %s | %s | ", splits[sp], lab);
            tab_cells(b, R, &c, cols);
            fmt_gap(b, &p);
            sb_printf(b, " | %d |\n", c.n);
        }
    if (!any) {
        sb_str(b, "No run recorded rank-1 with both networks (megaface_rank1_ema / _online: runs "
                  "with `ema = 1`, or dcq).\n\n");
        return;
    }
    sb_str(b, "\nBoth numbers come from the same runs (the EMA copy f_k = EMA(f_q) kept beside "
              "the trained network, mean ± std over seeds), so the difference is exact per run. "
              "A positive difference for every head means averaging helps every head, not only "
              "DCQ; the claims compare heads evaluated the same way.\n\n");
}

/* ==== chosen configurations ================================================================== */

/* "s = 64, m = 0.4": the run's values of the grid keys (tune_keys, comma-separated). */
static void grid_point(const struct rep *R, int ri, char *out, size_t n)
{
    const char *keys = run_cfg(R, R->r[ri].row, "tune_keys");
    size_t k = 0;
    out[0] = '\0';
    if (!keys || !strcmp(keys, "-")) return;
    for (const char *q = keys; *q && k + 1 < n;) {
        char key[64];
        size_t l = strcspn(q, ",");
        snprintf(key, sizeof key, "%.*s", (int)(l < 63 ? l : 63), q);
        char *t = key;
        while (*t == ' ') t++;
        const char *v = run_cfg(R, R->r[ri].row, t);
        k += (size_t)snprintf(out + k, n - k, "%s%s = %s", k ? ", " : "", t, v ? v : "missing");
        q += l + (q[l] == ',');
    }
}

/* Same arm apart from data and tune: head, split, ratio, proposal, Partial FC mode. */
static int same_arm(const struct rrun *a, const struct rrun *b)
{
    return !strcmp(a->head, b->head) && !strcmp(a->profile, b->profile) &&
           (same_num(a->ratio, b->ratio) || (isnan(a->ratio) && isnan(b->ratio))) &&
           !((a->sampler == NULL) ^ (b->sampler == NULL)) &&
           (!a->sampler || !strcmp(a->sampler, b->sampler)) &&
           !((a->pfc_mode == NULL) ^ (b->pfc_mode == NULL)) &&
           (!a->pfc_mode || !strcmp(a->pfc_mode, b->pfc_mode));
}

/* The grid point the tuned arm's test runs used: a tune = best run of the same arm on the same
 * data configuration, else on any (a [tune] section with data = NAME tunes on one). */
static int chosen_run(const struct rep *R, int g)
{
    int any = -1;
    for (int i = 0; i < R->n_runs; i++) {
        const struct rrun *u = &R->r[i];
        if (strcmp(u->tune, "best") || !same_arm(u, &R->r[g])) continue;
        if (!strcmp(u->data, R->r[g].data)) return i;
        if (any < 0) any = i;
    }
    return any;
}

#define MAX_GROUPS 64
#define MAX_POINTS 64

/* One tuned arm on one data configuration: its grid points in runs.tsv's row order. */
struct tgroup {
    int first;                  /* a run of the group */
    int n;
    int run[MAX_POINTS];        /* a run per point */
    double val[MAX_POINTS];     /* val_rank1 x 100, mean over the point's ok runs; NaN none */
    int nv[MAX_POINTS];
};

/* Grid run a after grid run b in the table: split, head (registry order), ratio, then the grid
 * keys' values, numerically where both are numbers (runs.tsv rows come in completion order). */
static int grid_after(const struct rep *R, int a, int b)
{
    const struct rrun *u = &R->r[a], *v = &R->r[b];
    int c = strcmp(u->profile, v->profile);
    if (!c) c = head_rank(R, u->head) - head_rank(R, v->head);
    if (!c && !isnan(u->ratio) && !isnan(v->ratio) && !same_num(u->ratio, v->ratio))
        c = u->ratio > v->ratio ? 1 : -1;
    const char *keys = run_cfg(R, u->row, "tune_keys");
    for (const char *q = keys && strcmp(keys, "-") ? keys : ""; !c && *q;) {
        char key[64];
        size_t l = strcspn(q, ",");
        snprintf(key, sizeof key, "%.*s", (int)(l < 63 ? l : 63), q);
        const char *x = run_cfg(R, u->row, key), *y = run_cfg(R, v->row, key);
        if (x && y) {
            char *ex, *ey;
            double dx = strtod(x, &ex), dy = strtod(y, &ey);
            c = *ex || *ey ? strcmp(x, y) : (dx > dy) - (dx < dy);
        }
        q += l + (q[l] == ',');
    }
    return c > 0;
}

static int tune_groups(const struct rep *R, struct tgroup *g)
{
    int *order = malloc((size_t)(R->n_runs ? R->n_runs : 1) * sizeof *order), ng = 0, n = 0;
    if (!order) return 0;
    for (int i = 0; i < R->n_runs; i++)
        if (!strcmp(R->r[i].tune, "grid")) order[n++] = i;
    for (int i = 1; i < n; i++) { /* split, head (registry order), then the grid point */
        int x = order[i], j = i - 1;
        for (; j >= 0 && grid_after(R, order[j], x); j--) order[j + 1] = order[j];
        order[j + 1] = x;
    }
    for (int k = 0; k < n; k++) {
        int i = order[k], gi = 0;
        const struct rrun *u = &R->r[i];
        while (gi < ng && !(same_arm(&R->r[g[gi].first], u) &&
                            !strcmp(R->r[g[gi].first].data, u->data)))
            gi++;
        if (gi == ng) {
            if (ng == MAX_GROUPS) continue;
            memset(&g[ng], 0, sizeof g[ng]);
            g[ng++].first = i;
        }
        struct tgroup *t = &g[gi];
        char pt[256], q[256];
        grid_point(R, i, pt, sizeof pt);
        int p = 0;
        for (; p < t->n; p++) {
            grid_point(R, t->run[p], q, sizeof q);
            if (!strcmp(pt, q)) break;
        }
        if (p == t->n) {
            if (t->n == MAX_POINTS) continue;
            t->run[t->n] = i;
            t->val[t->n] = NAN;
            t->nv[t->n++] = 0;
        }
        double v = run_num(R, i, "val_rank1");
        if (!u->ok || isnan(v)) continue;
        t->val[p] = t->nv[p] ? t->val[p] + v * PCT : v * PCT;
        t->nv[p]++;
    }
    for (int gi = 0; gi < ng; gi++)
        for (int p = 0; p < g[gi].n; p++)
            if (g[gi].nv[p]) g[gi].val[p] /= g[gi].nv[p];
    free(order);
    return ng;
}

static void chosen_group(struct sbuf *b, const struct rep *R, const struct tgroup *t)
{
    const struct rrun *u = &R->r[t->first];
    int ch = chosen_run(R, t->first), best = -1;
    char cp[256] = "", pt[256], ratio[32];
    if (ch >= 0) grid_point(R, ch, cp, sizeof cp);
    for (int p = 0; p < t->n; p++)
        if (!isnan(t->val[p]) && (best < 0 || t->val[p] > t->val[best])) best = p;
    fmt_ratio(ratio, sizeof ratio, u->ratio);
    int chosen_at = -1;
    for (int p = 0; p < t->n; p++) {
        grid_point(R, t->run[p], pt, sizeof pt);
        int is = ch >= 0 && !strcmp(pt, cp);
        if (is) chosen_at = p;
        sb_printf(b, "| %s%s%s%s%s | %s | %s | %s | %s | ", u->head,
                  u->sampler ? ", " : "", u->sampler ? u->sampler : "",
                  u->pfc_mode ? ", pfc " : "", u->pfc_mode ? u->pfc_mode : "", u->profile,
                  u->data, head_is_whole(R, u->head) ? "100 %" : ratio, pt[0] ? pt : "(no keys)");
        if (isnan(t->val[p])) sb_str(b, "failed");
        else sb_printf(b, "%.2f", t->val[p]);
        sb_printf(b, " | %s |\n", is ? "**chosen**" : p == best ? "best val" : "");
    }
    if (ch < 0)
        sb_printf(b, "| %s | %s | %s | | no test runs (tune = best) for this arm | | |\n",
                  u->head, u->profile, u->data);
    else if (chosen_at < 0)
        sb_printf(b, "| %s | %s | %s | | test runs use %s, not a point of this grid | | |\n",
                  u->head, u->profile, u->data, cp);
    else if (best >= 0 && chosen_at != best && t->val[chosen_at] != t->val[best])
        sb_printf(b, "| %s | %s | %s | | the chosen point is not this grid's best val_rank1 "
                     "(tuned on another data configuration?) | | |\n",
                  u->head, u->profile, u->data);
}

static void chosen_configs(struct sbuf *b, const struct rep *R)
{
    struct tgroup *g = malloc(MAX_GROUPS * sizeof *g);
    if (!g) return;
    int ng = tune_groups(R, g);
    sb_str(b, "## Chosen configurations: tuning on the validation split\n\n");
    if (!ng) {
        sb_str(b, "No tuning runs (tune = grid) in runs.tsv: every arm runs at its stated "
                  "configuration.\n\n");
        free(g);
        return;
    }
    sb_str(b, "Each tuned arm ran every grid point once at the tuning seed; its test runs (tune "
              "= best, every seed) use the point with the largest val_rank1 (rank-1 of "
              "validation probes against validation distractors, identities disjoint from the "
              "test sets; ties: the first in grid order). Grid runs enter no other table.\n\n");
    sb_str(b, "| arm | split | data | ratio | grid point | val_rank1 (%) | |\n"
              "|---|---|---|---|---|---|---|\n");
    for (int gi = 0; gi < ng; gi++) chosen_group(b, R, &g[gi]);
    sb_str(b, "\n");
    free(g);
}

/* ==== arms beyond the claims ================================================================= */

/* One row per condition of `where`, with the paired rank-1 difference against `base` (NULL: no
 * such column). Returns the rows other than the reference's. */
static int arm_rows(struct sbuf *b, const struct rep *R, const struct sel *where,
                    const struct sel *base, struct sel *conds, const char *split)
{
    int n = conditions(R, where, conds, MAX_COND), rows = 0;
    struct cell cb;
    if (base) cell_select(R, base, &cb);
    for (int i = 0; i < n; i++) {
        struct cell c;
        char lab[200];
        cell_select(R, &conds[i], &c);
        if (!c.n && !c.failed) continue;
        arm_label(R, &conds[i], &c, lab, sizeof lab);
        sb_printf(b, "| %s | %s | ", split, lab);
        tab_cells(b, R, &c, arm_cols);
        if (base) {
            struct report_paired p;
            if (c.n && sel_match(base, &R->r[c.run[0]])) {
                sb_str(b, "(reference)");
                rows--;
            } else {
                paired(R, &c, &cb, M_RANK1, PCT, &p);
                fmt_gap(b, &p);
            }
            sb_str(b, " | ");
        }
        sb_printf(b, "%d%s |\n", c.n, c.failed ? " (+failed)" : "");
        rows++;
    }
    return rows;
}

/* A table of one head's conditions on both splits against its base arm on the split. */
static void arm_table(struct sbuf *b, const struct rep *R, struct sel *conds, const char *title,
                      const char *head, const char *only_split, double ratio, const char *note)
{
    struct sbuf t = {0};
    int rows = 0;
    tab_head(&t, R, "split | arm", arm_cols, "rank-1 minus reference (paired, 95 % CI) | seeds");
    for (int sp = 0; sp < 2; sp++) {
        if (only_split && strcmp(only_split, splits[sp])) continue;
        struct sel base = arm_base(R, head, splits[sp], base_ratio(R, head), "-");
        struct sel where = {head, splits[sp], NULL, NULL, ratio, NAN, 0, RV_MAIN,
                            rep_main_data(R), "-", NULL, NULL};
        rows += arm_rows(&t, R, &where, &base, conds, splits[sp]);
    }
    /* the references alone say nothing a claim does not: shown when there is another arm */
    if (rows > 0) {
        sb_printf(b, "### %s\n\n%s\n\n", title, note);
        sb_add(b, t.p ? t.p : "", t.n);
        sb_str(b, "\n");
    }
    sb_free(&t);
}

/* The partial heads' ratios on both splits side by side. */
static void ladder(struct sbuf *b, const struct rep *R, struct sel *conds)
{
    struct sbuf t = {0};
    int rows = 0, two = 0, eff = tsv_col(&R->t, "eff_classes_mean") >= 0;
    if (eff)
        sb_str(&t, "| head | ratio | ms1m rank-1 | ms1m eff. classes / step | mf2 rank-1 | "
                   "mf2 eff. classes / step | seeds (ms1m, mf2) |\n"
                   "|---|---|---|---|---|---|---|\n");
    else
        sb_str(&t, "| head | ratio | ms1m rank-1 | mf2 rank-1 | seeds (ms1m, mf2) |\n"
                   "|---|---|---|---|---|\n");
    for (int h = 0; h < R->n_heads; h++) {
        if (R->whole[h]) continue;
        struct sel where = arm_base(R, R->heads[h], NULL, NAN, "-");
        int n = conditions(R, &where, conds, MAX_COND);
        double seen[64];
        int ns = 0;
        for (int i = 0; i < n && ns < 64; i++) {
            int dup = 0;
            for (int k = 0; k < ns; k++) dup |= same_num(seen[k], conds[i].ratio);
            if (dup || isnan(conds[i].ratio)) continue;
            seen[ns++] = conds[i].ratio;
            char r[32];
            fmt_ratio(r, sizeof r, conds[i].ratio);
            sb_printf(&t, "| %s | %s | ", R->heads[h], r);
            int cnt[2];
            for (int sp = 0; sp < 2; sp++) {
                struct sel s = conds[i];
                s.profile = splits[sp];
                struct cell c;
                cell_select(R, &s, &c);
                cnt[sp] = c.n;
                fmt_stat(&t, R, &c, M_RANK1, PCT, 2);
                if (eff) {
                    sb_str(&t, " | ");
                    fmt_stat(&t, R, &c, "eff_classes_mean", 1.0, 0);
                }
                sb_str(&t, arm_positives_only(R, &c) ? " (positives-only) | " : " | ");
            }
            sb_printf(&t, "%d, %d |\n", cnt[0], cnt[1]);
            two += cnt[0] && cnt[1];
            rows++;
        }
    }
    if (rows && two) {
        sb_str(b, "### Ratio ladder on both splits\n\nThe partial heads at every ratio run, the "
                  "balanced split beside the long-tail one (common loss). On the long-tail split "
                  "a small ratio can fall below the batch's distinct labels: such rows are "
                  "positives-only and say nothing about the ratio.\n\n");
        sb_add(b, t.p ? t.p : "", t.n);
        sb_str(b, "\n");
    }
    sb_free(&t);
}

/* dcq at every mu on a split: the averaging window, rank-1 against the main mu, the drift. */
static void mu_table(struct sbuf *b, const struct rep *R, struct sel *conds)
{
    static const struct tcol cols[] = {
        {"MegaFace rank-1 (largest)", M_RANK1, PCT, 2, 0},
        {"queue drift (cosine)", "queue_drift_mean", 1.0, 3, 1},
        {"queue age (steps)", "queue_age_mean", 1.0, 1, 1},
        {"L/B", "queue_staleness", 1.0, 2, 1},
        {NULL, NULL, 0, 0, 0},
    };
    int any = 0;
    for (int sp = 0; sp < 2; sp++) {
        struct sel base = arm_base(R, "dcq", splits[sp], base_ratio(R, "dcq"), "-");
        struct sel where = base;
        where.mu = NAN;
        int n = conditions(R, &where, conds, MAX_COND);
        if (n < 2) continue;
        if (!any && tsv_col(&R->t, "queue_drift_mean") < 0) {
            sb_str(b, "### DCQ momentum\n\nruns.tsv has no queue drift (runs older than the "
                      "measurement): the averaging window and rank-1 only.\n\n");
        } else if (!any) {
            sb_printf(b, "### DCQ momentum and queue drift\n\n![Queue drift against mu and "
                         "over training](%sdrift.png)\n\n", R->fig);
            sb_str(b, "Queue drift = the mean cosine between a queued key (a class weight) and "
                      "the same image's key under the current EMA network, over up to 256 "
                      "slots, the last measurement of the run (1 = the queue is as fresh as a "
                      "key computed now). Window = 1/(1 - mu) steps, the EMA's averaging length, "
                      "as a share of the run.\n\n");
        }
        if (!any)
            tab_head(b, R, "split | mu | window (steps, % of run)", cols,
                     "rank-1 minus main mu (paired, 95 % CI) | seeds");
        any = 1;
        struct cell cb;
        cell_select(R, &base, &cb);
        for (int i = 0; i < n; i++) {
            struct cell c;
            cell_select(R, &conds[i], &c);
            double mu = conds[i].mu, steps = c.n ? run_num(R, c.run[0], "steps") : NAN;
            sb_printf(b, "| %s | %g | ", splits[sp], mu);
            if (isnan(mu) || mu >= 1) sb_str(b, "– | ");
            else if (isnan(steps)) sb_printf(b, "%.0f | ", 1.0 / (1.0 - mu));
            else sb_printf(b, "%.0f (%.1f %%) | ", 1.0 / (1.0 - mu), PCT / (1.0 - mu) / steps);
            tab_cells(b, R, &c, cols);
            if (same_num(mu, R->main_mu)) sb_str(b, "(main mu)");
            else {
                struct report_paired p;
                paired(R, &c, &cb, M_RANK1, PCT, &p);
                fmt_gap(b, &p);
            }
            sb_printf(b, " | %d |\n", c.n);
        }
    }
    if (any) sb_str(b, "\n");
}

void report_arms(struct sbuf *b, const struct rep *R, struct sel *conds)
{
    ema_control(b, R);
    chosen_configs(b, R);
    sb_str(b, "## Arms beyond the claims\n\nRows on the main data configuration, common loss, "
              "against the head's reference arm on the same split (paired by seed, points). "
              "A table appears when the runs hold more than its reference.\n\n");
    arm_table(b, R, conds, "Full softmax: second baseline losses", "full", NULL, NAN,
              "The full softmax under the common loss and under its own (e.g. ArcFace s = 64, "
              "m = 0.5).");
    arm_table(b, R, conds, "Partial FC v1 and v2", "random", NULL, 0.1,
              "v1 updates only the sampled rows; v2 steps the dense optimiser over every row "
              "(docs/METHOD.md §3.3).");
    arm_table(b, R, conds, "Sampled softmax proposals on the long-tail split", "sampled", "mf2",
              0.1, "Uniform, log-uniform and frequency proposals with the log-Q correction.");
    ladder(b, R, conds);
    mu_table(b, R, conds);
}
