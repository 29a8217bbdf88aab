/* report_derived.c - the TSVs in results/<sweep>/derived/, the data of every figure (the
 * plots/ scripts): means and sample std over seeds of the same selections the tables use.
 * heads.tsv lists the heads in table order, so the plot scripts take head names from the data,
 * never from a list of their own.
 */
#include "report_int.h"

#include <math.h>
#include <stdlib.h>

static int put(const struct rep *R, const char *name, const struct sbuf *b, struct dcqb_err *err);

int report_derived_put(const struct rep *R, const char *name, const struct sbuf *b,
                       struct dcqb_err *err)
{
    return put(R, name, b, err);
}

static int put(const struct rep *R, const char *name, const struct sbuf *b, struct dcqb_err *err)
{
    if (b->oom) return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
    char path[1400];
    snprintf(path, sizeof path, "%s/%s", R->derived, name);
    return file_write_atomic(path, b->p, b->n, err);
}

/* A run's eval/<file> (or <file>) as a tsv; rows == 0 when missing or unreadable. */
static void run_tsv(const struct rep *R, int ri, const char *file, struct tsv *t)
{
    char path[1300];
    snprintf(path, sizeof path, "%s/%s/%s", R->dir, R->r[ri].run_id, file);
    if (tsv_load(t, path, NULL)) memset(t, 0, sizeof *t);
}

static void stat_cols(struct sbuf *b, const double *v, int n)
{
    double m = mean_of(v, n), s = std_of(v, n);
    if (n) sb_printf(b, "\t%.6g", m);
    else sb_str(b, "\tNA");
    if (n >= 2) sb_printf(b, "\t%.6g", s);
    else sb_str(b, "\tNA");
}

/* heads.tsv: every head the report knows, in table order; whole = every class in every step. */
static int derived_heads(const struct rep *R, struct dcqb_err *err)
{
    struct sbuf b = {0};
    sb_str(&b, "head\twhole\n");
    for (int h = 0; h < R->n_heads; h++) sb_printf(&b, "%s\t%d\n", R->heads[h], R->whole[h]);
    int rc = put(R, "heads.tsv", &b, err);
    sb_free(&b);
    return rc;
}

/* Table 1 as curves: the partial heads by ratio, and the band of the heads with every class. */
static int derived_t1(const struct rep *R, struct dcqb_err *err)
{
    static const char *const ms[3] = {M_RANK1, M_TAR4, M_LFW};
    struct sbuf b = {0}, band = {0};
    sb_str(&b, "head\tratio_pct\tn\trank1_mean\trank1_std\ttar4_mean\ttar4_std\tlfw_mean"
               "\tlfw_std\n");
    for (int h = 0; h < R->n_heads; h++) {
        if (R->whole[h]) continue;
        struct sel where = arm_base(R, R->heads[h], "ms1m", NAN, "-"), conds[64];
        int n = conditions(R, &where, conds, 64);
        for (int i = 0; i < n; i++) {
            struct cell c;
            cell_select(R, &conds[i], &c);
            if (!c.n) continue;
            sb_printf(&b, "%s\t%g\t%d", R->heads[h], conds[i].ratio * 100, c.n);
            for (int k = 0; k < 3; k++) {
                double v[REPORT_MAX_SEEDS];
                int m = cell_values(R, &c, ms[k], PCT, v, NULL);
                stat_cols(&b, v, m);
            }
            sb_str(&b, "\n");
        }
    }
    struct sel f = arm_base(R, "full", "ms1m", base_ratio(R, "full"), "-");
    struct cell c;
    cell_select(R, &f, &c);
    sb_str(&band, "ratio_pct\trank1_mean\trank1_lo\trank1_hi\ttar4_mean\ttar4_lo\ttar4_hi\tlfw_mean"
                  "\tlfw_lo\tlfw_hi\n");
    if (c.n)
        for (int e = 0; e < 2; e++) {
            sb_printf(&band, "%g", e ? 100.0 : 0.5);
            for (int k = 0; k < 3; k++) {
                double v[REPORT_MAX_SEEDS];
                int m = cell_values(R, &c, ms[k], PCT, v, NULL);
                double mu = mean_of(v, m), sd = m >= 2 ? std_of(v, m) : 0.0;
                if (m) sb_printf(&band, "\t%.6g\t%.6g\t%.6g", mu, mu - sd, mu + sd);
                else sb_str(&band, "\tNA\tNA\tNA");
            }
            sb_str(&band, "\n");
        }
    int rc = put(R, "t1_ratio.tsv", &b, err);
    if (!rc) rc = put(R, "t1_full_band.tsv", &band, err);
    sb_free(&b);
    sb_free(&band);
    return rc;
}

/* Sorted union of the x values of the rows passing the filter, at most max. A filter column
 * named "!ycol" keeps the rows where ycol is a number (a measurement every few steps). */
static int curve_xs(const struct tsv *t, int nt, const char *xcol, const char *filter_col,
                    double filter_val, double *xs, int max)
{
    int nx = 0;
    for (int i = 0; i < nt; i++) {
        int cx = tsv_col(&t[i], xcol), cf = filter_col ? tsv_col(&t[i], filter_col) : -1;
        int cy = filter_col && *filter_col == '!' ? tsv_col(&t[i], filter_col + 1) : -1;
        for (int r = 1; r < t[i].rows; r++) {
            if (cy >= 0) {
                if (isnan(tsv_num(tsv_get(&t[i], r, cy)))) continue;
            } else if (filter_col && tsv_num(tsv_get(&t[i], r, cf)) != filter_val) continue;
            double x = tsv_num(tsv_get(&t[i], r, cx));
            if (isnan(x)) continue;
            int k = 0;
            while (k < nx && xs[k] < x) k++;
            if ((k < nx && xs[k] == x) || nx == max) continue;
            memmove(xs + k + 1, xs + k, (size_t)(nx - k) * sizeof xs[0]);
            xs[k] = x;
            nx++;
        }
    }
    return nx;
}

/* Mean over the cell's runs of a per-run curve: rows of `file` where filter_col equals
 * filter_val (filter_col NULL = all rows), x column -> mean/std of y column x yscale. x values
 * are taken from the union. Returns the rows written. */
static int derived_curve(const struct rep *R, const struct cell *c, const char *file,
                         const char *xcol, const char *ycol, const char *filter_col,
                         double filter_val, double yscale, struct sbuf *b)
{
    double xs[256];
    struct tsv t[REPORT_MAX_SEEDS];
    for (int i = 0; i < c->n; i++) run_tsv(R, c->run[i], file, &t[i]);
    int nx = curve_xs(t, c->n, xcol, filter_col, filter_val, xs, 256);
    sb_printf(b, "%s\tn\t%s_mean\t%s_std\n", xcol, ycol, ycol);
    for (int k = 0; k < nx; k++) {
        double v[REPORT_MAX_SEEDS];
        int m = 0;
        for (int i = 0; i < c->n; i++) {
            int cx = tsv_col(&t[i], xcol), cy = tsv_col(&t[i], ycol),
                cf = filter_col && *filter_col != '!' ? tsv_col(&t[i], filter_col) : -1;
            for (int r = 1; r < t[i].rows; r++) {
                if (filter_col && *filter_col != '!' &&
                    tsv_num(tsv_get(&t[i], r, cf)) != filter_val)
                    continue;
                if (filter_col && *filter_col == '!' && isnan(tsv_num(tsv_get(&t[i], r, cy))))
                    continue;
                if (tsv_num(tsv_get(&t[i], r, cx)) != xs[k]) continue;
                double y = tsv_num(tsv_get(&t[i], r, cy));
                if (!isnan(y)) v[m++] = y * yscale;
                break;
            }
        }
        sb_printf(b, "%.10g\t%d", xs[k], m);
        stat_cols(b, v, m);
        sb_str(b, "\n");
    }
    for (int i = 0; i < c->n; i++) tsv_free(&t[i]);
    return nx;
}

/* TAR of one run's ROC at FAR x, interpolated linearly in FAR like the evaluation; NaN when x is
 * below the run's smallest positive FAR (not resolvable) or outside the curve. */
static double roc_at(const struct tsv *t, double x)
{
    int cf = tsv_col(t, "far"), ct = tsv_col(t, "tar");
    double pf = NAN, pt = NAN, minpos = INFINITY;
    for (int r = 1; r < t->rows; r++) {
        double f = tsv_num(tsv_get(t, r, cf));
        if (f > 0) minpos = fmin(minpos, f);
    }
    if (x < minpos) return NAN;
    for (int r = 1; r < t->rows; r++) {
        double f = tsv_num(tsv_get(t, r, cf)), tr = tsv_num(tsv_get(t, r, ct));
        if (isnan(f) || isnan(tr)) continue;
        if (f >= x && !isnan(pf) && pf <= x)
            return f > pf ? pt + (tr - pt) * (x - pf) / (f - pf) : tr;
        pf = f;
        pt = tr;
    }
    return NAN;
}

/* ROC averaged on a log FAR grid 1e-7 .. 1 (tenths of a decade). */
static int derived_roc(const struct rep *R, const struct cell *c, struct sbuf *b)
{
    struct tsv t[REPORT_MAX_SEEDS];
    for (int i = 0; i < c->n; i++) run_tsv(R, c->run[i], "eval/roc.tsv", &t[i]);
    sb_str(b, "far\tn\ttar_mean\ttar_std\n");
    int rows = 0;
    for (int g = 0; g <= 70; g++) {
        double x = pow(10.0, -7.0 + g / 10.0), v[REPORT_MAX_SEEDS];
        int m = 0;
        for (int i = 0; i < c->n; i++) {
            double y = roc_at(&t[i], x);
            if (!isnan(y)) v[m++] = y * PCT;
        }
        if (!m) continue;
        sb_printf(b, "%.3g\t%d", x, m);
        stat_cols(b, v, m);
        sb_str(b, "\n");
        rows++;
    }
    for (int i = 0; i < c->n; i++) tsv_free(&t[i]);
    return rows;
}

/* Largest distractor size in the cell's runs' cmc.tsv. */
static double cmc_largest(const struct rep *R, const struct cell *c)
{
    double best = NAN;
    for (int i = 0; i < c->n; i++) {
        struct tsv t;
        run_tsv(R, c->run[i], "eval/cmc.tsv", &t);
        int cs = tsv_col(&t, "size");
        for (int r = 1; r < t.rows; r++) {
            double s = tsv_num(tsv_get(&t, r, cs));
            if (!isnan(s) && (isnan(best) || s > best)) best = s;
        }
        tsv_free(&t);
    }
    return best;
}

/* tail_<split>.tsv: per bucket, per head accuracy and cosine (columns named <head>_...). */
static int derived_tail(const struct rep *R, const struct cell *cells, const char *split,
                        struct dcqb_err *err)
{
    struct sbuf tail = {0};
    int any = 0;
    sb_str(&tail, "idx\tbucket");
    for (int h = 0; h < R->n_heads; h++) {
        const char *hd = R->heads[h];
        sb_printf(&tail, "\t%s_acc_mean\t%s_acc_std\t%s_cos_mean\t%s_cos_std", hd, hd, hd, hd);
        any |= cells[h].n > 0;
    }
    sb_str(&tail, "\n");
    for (int k = 0; k < N_BUCKETS - 1; k++) {
        sb_printf(&tail, "%d\t%s", k, report_buckets[k]);
        for (int h = 0; h < R->n_heads; h++) {
            char m[64];
            double v[REPORT_MAX_SEEDS];
            snprintf(m, sizeof m, "tail_acc_mean_%s", report_buckets[k]);
            stat_cols(&tail, v, cell_values(R, &cells[h], m, PCT, v, NULL));
            snprintf(m, sizeof m, "tail_cos_%s", report_buckets[k]);
            stat_cols(&tail, v, cell_values(R, &cells[h], m, 1.0, v, NULL));
        }
        sb_str(&tail, "\n");
    }
    char name[128];
    snprintf(name, sizeof name, "tail_%s.tsv", split);
    int rc = any ? put(R, name, &tail, err) : DCQB_OK;
    sb_free(&tail);
    return rc;
}

/* One head's curves on a split: rank-1 vs size, CMC at the largest size, ROC, training loss. */
static int derived_head_curves(const struct rep *R, const struct cell *c, const char *split,
                               const char *head, struct dcqb_err *err)
{
    struct sbuf b = {0};
    char name[256];
    int rc = DCQB_OK;
    if (derived_curve(R, c, "eval/rank1_vs_size.tsv", "size", "rank1", NULL, 0, PCT, &b)) {
        snprintf(name, sizeof name, "rank1_vs_size_%s_%s.tsv", split, head);
        rc = put(R, name, &b, err);
    }
    b.n = 0;
    double L = cmc_largest(R, c);
    if (!rc && !isnan(L) &&
        derived_curve(R, c, "eval/cmc.tsv", "rank", "rate", "size", L, PCT, &b)) {
        snprintf(name, sizeof name, "cmc_%s_%s.tsv", split, head);
        rc = put(R, name, &b, err);
    }
    b.n = 0;
    if (!rc && derived_roc(R, c, &b)) {
        snprintf(name, sizeof name, "roc_%s_%s.tsv", split, head);
        rc = put(R, name, &b, err);
    }
    sb_free(&b);
    /* training loss of the lowest seed, copied as is (step loss lr samples_per_s) */
    char path[1300], *text = NULL;
    size_t len = 0;
    snprintf(path, sizeof path, "%s/%s/curve.tsv", R->dir, R->r[c->run[0]].run_id);
    if (!rc && !file_read_all(&text, &len, path, 0, NULL) && text) {
        struct sbuf cv = {text, len, len + 1, 0};
        snprintf(name, sizeof name, "curve_%s_%s.tsv", split, head);
        rc = put(R, name, &cv, err);
    }
    free(text);
    return rc;
}

static int derived_per_head(const struct rep *R, struct dcqb_err *err)
{
    static const char *const splits[2] = {"mf2", "ms1m"};
    struct cell *cells = malloc((size_t)(R->n_heads ? R->n_heads : 1) * sizeof *cells);
    if (!cells) return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
    int rc = DCQB_OK;
    for (int sp = 0; sp < 2 && !rc; sp++) {
        for (int h = 0; h < R->n_heads; h++) {
            const char *hd = R->heads[h];
            struct sel s = arm_base(R, hd, splits[sp], base_ratio(R, hd), "-");
            cell_select(R, &s, &cells[h]);
        }
        rc = derived_tail(R, cells, splits[sp], err);
        for (int h = 0; h < R->n_heads && !rc; h++)
            if (cells[h].n) rc = derived_head_curves(R, &cells[h], splits[sp], R->heads[h], err);
    }
    free(cells);
    return rc;
}

/* splits.tsv: the (profile, ids) pairs the runs used, for the class-size histograms. */
static int derived_splits(const struct rep *R, struct dcqb_err *err)
{
    struct sbuf b = {0};
    sb_str(&b, "profile\tids\n");
    static const char *const splits[2] = {"ms1m", "mf2"};
    for (int sp = 0; sp < 2; sp++) {
        const char *seen[16];
        int n = 0;
        for (int i = 0; i < R->n_runs; i++) {
            if (strcmp(R->r[i].profile, splits[sp])) continue;
            const char *v = run_cfg(R, R->r[i].row, "ids");
            int dup = !v;
            for (int k = 0; k < n && !dup; k++) dup = !strcmp(seen[k], v);
            if (!dup && n < 16) {
                seen[n++] = v;
                sb_printf(&b, "%s\t%s\n", splits[sp], v);
            }
        }
    }
    int rc = put(R, "splits.tsv", &b, err);
    sb_free(&b);
    return rc;
}

/* cost_<head>.tsv from bench.tsv: the series compared across C is the fewest threads (per-head
 * cost, no threading noise) at the largest embedding dimension measured (the paper's d = 512
 * when present). */
static int derived_cost(const struct rep *R, struct dcqb_err *err)
{
    const struct tsv *t = &R->bench;
    struct bench_view v;
    bench_view(t, &v);
    int *idx = malloc((size_t)t->rows * sizeof *idx);
    if (!idx) return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
    int n = bench_sorted(R, &v, idx), rc = DCQB_OK;
    double bT = NAN, bD = NAN;
    for (int k = 0; k < n; k++) {
        double T = tsv_num(tsv_get(t, idx[k], v.c_thr)), d = tsv_num(tsv_get(t, idx[k], v.c_d));
        if (isnan(bT) || T < bT) bT = T;
        if (isnan(bD) || d > bD) bD = d;
    }
    for (int h = 0; h < R->n_heads && !rc; h++) {
        struct sbuf c = {0};
        sb_str(&c, "C\tstep_ms\tmem_mb\tB\tthreads\td\n");
        int rows = 0;
        for (int k = 0; k < n; k++) {
            int i = idx[k];
            const char *hh = tsv_get(t, i, v.c_head);
            if (!hh || strcmp(hh, R->heads[h])) continue;
            double B = tsv_num(tsv_get(t, i, v.c_B)), T = tsv_num(tsv_get(t, i, v.c_thr)),
                   d = tsv_num(tsv_get(t, i, v.c_d));
            if (!((T == bT || (isnan(T) && isnan(bT))) && (d == bD || (isnan(d) && isnan(bD)))))
                continue;
            sb_printf(&c, "%.10g\t%.6g\t%.6g\t%g\t%g\t%g\n", tsv_num(tsv_get(t, i, v.c_C)),
                      tsv_num(tsv_get(t, i, v.c_ms)), bench_mem_mb(t, &v, i), B, T, d);
            rows++;
        }
        char name[256];
        snprintf(name, sizeof name, "cost_%s.tsv", R->heads[h]);
        if (rows) rc = put(R, name, &c, err);
        sb_free(&c);
    }
    free(idx);
    return rc;
}

/* drift.tsv: every ok run with a measured queue (one row each, for pandas); drift_<split>.tsv:
 * the base dcq arm at each mu, mean and std over seeds (the mu table); drift_curve_<split>_<mu>
 * .tsv: queue_drift over the steps it was measured, from the runs' curve.tsv. */
static int derived_drift(const struct rep *R, struct dcqb_err *err)
{
    static const char *const splits[2] = {"ms1m", "mf2"};
    static const char *const ms[3] = {"queue_drift_mean", "queue_age_mean", M_RANK1};
    struct sbuf b = {0};
    int rc = DCQB_OK, rows = 0;
    sb_str(&b, "run_id\thead\tprofile\tdata\ttune\tseed\tmu\tqueue_drift_mean\tqueue_age_mean"
               "\tqueue_staleness\trank1\n");
    for (int i = 0; i < R->n_runs; i++) {
        const struct rrun *u = &R->r[i];
        double d = run_num(R, i, "queue_drift_mean");
        if (!u->ok || isnan(d)) continue;
        sb_printf(&b, "%s\t%s\t%s\t%s\t%s\t%d\t%g\t%.6g\t%.6g\t%.6g\t%.6g\n", u->run_id, u->head,
                  u->profile, u->data, u->tune, u->seed, u->mu, d,
                  run_num(R, i, "queue_age_mean"), run_num(R, i, "queue_staleness"),
                  run_num(R, i, M_RANK1) * PCT);
        rows++;
    }
    if (rows) rc = put(R, "drift.tsv", &b, err);
    struct sel *conds = malloc(MAX_COND * sizeof *conds);
    if (!rc && !conds) rc = DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
    for (int sp = 0; sp < 2 && !rc && rows; sp++) {
        struct sel where = arm_base(R, "dcq", splits[sp], base_ratio(R, "dcq"), "-");
        where.mu = NAN;
        int n = conditions(R, &where, conds, MAX_COND), k = 0;
        b.n = 0;
        sb_str(&b, "mu\tn\tdrift_mean\tdrift_std\tage_mean\tage_std\trank1_mean\trank1_std\n");
        for (int i = 0; i < n && !rc; i++) {
            struct cell c;
            double v[REPORT_MAX_SEEDS];
            cell_select(R, &conds[i], &c);
            if (!c.n || !cell_values(R, &c, ms[0], 1.0, v, NULL)) continue;
            sb_printf(&b, "%g\t%d", conds[i].mu, c.n);
            for (int m = 0; m < 3; m++)
                stat_cols(&b, v, cell_values(R, &c, ms[m], m == 2 ? PCT : 1.0, v, NULL));
            sb_str(&b, "\n");
            k++;
            struct sbuf cv = {0};
            char name[128];
            if (derived_curve(R, &c, "curve.tsv", "step", "queue_drift", "!queue_drift", 0, 1.0,
                              &cv)) {
                snprintf(name, sizeof name, "drift_curve_%s_%g.tsv", splits[sp], conds[i].mu);
                rc = put(R, name, &cv, err);
            }
            sb_free(&cv);
        }
        char name[64];
        snprintf(name, sizeof name, "drift_%s.tsv", splits[sp]);
        if (k && !rc) rc = put(R, name, &b, err);
    }
    free(conds);
    sb_free(&b);
    return rc;
}

/* scale.tsv: the ladder's gaps (report_scale.c), when there is a ladder. */
static int derived_scale(const struct rep *R, struct dcqb_err *err)
{
    struct sbuf b = {0};
    int rc = report_scale_tsv(&b, R) ? put(R, "scale.tsv", &b, err) : DCQB_OK;
    sb_free(&b);
    return rc;
}

int report_derived(const struct rep *R, struct dcqb_err *err)
{
    int rc = derived_heads(R, err);
    if (!rc) rc = derived_t1(R, err);
    if (!rc) rc = derived_per_head(R, err);
    if (!rc) rc = derived_splits(R, err);
    if (!rc && R->bench.rows) rc = derived_cost(R, err);
    if (!rc) rc = derived_drift(R, err);
    if (!rc) rc = derived_scale(R, err);
    return rc;
}
