/* report_claim2.c - claim 2 (head cost scales with L, not C) judged from measurements in
 * bench.tsv, never from a head's declared cost: log-log least-squares slopes (gsl_fit_linear)
 * of the heap bytes a head holds after head_open and of its median head step time against C,
 * DCQ at a fixed queue length, the other heads at their fixed ratio (docs/METHOD.md §5).
 * Rule: DCQ's memory slope is flat (90 % CI within +-CLAIM2_FLAT) and every other head's grows
 * (90 % CI lower bound above CLAIM2_GROWS); p of the claim = the largest p of these tests.
 * Step-time slopes are shown beside them and flagged when they disagree; not judged.
 */
#include "report_claim.h"

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_fit.h>
#include <math.h>
#include <stdlib.h>

#define FIT_MAX_PTS 64

/* bench.tsv columns claim 2 reads (-1 when absent). */
struct c2cols {
    int head, C, d, thr, ms, hb, fl, hbl, msl, ema, tot;
};

static double num(const struct tsv *t, int row, int col) { return tsv_num(tsv_get(t, row, col)); }

/* One fit over the ok rows of `head` at dimension d and thread count thr: y column yc vs C. */
static void fit_one(struct claim_fit *f, const struct tsv *t, const struct c2cols *k,
                    const int *idx, int n, const char *head, double d, double thr, int yc,
                    double yscale)
{
    double x[FIT_MAX_PTS], y[FIT_MAX_PTS], C[FIT_MAX_PTS], Y[FIT_MAX_PTS];
    int m = 0;
    for (int i = 0; i < n && m < FIT_MAX_PTS; i++) {
        const char *h = tsv_get(t, idx[i], k->head);
        if (!h || strcmp(h, head) || num(t, idx[i], k->d) != d || num(t, idx[i], k->thr) != thr)
            continue;
        double c = num(t, idx[i], k->C), v = num(t, idx[i], yc);
        if (!(c > 0) || !(v > 0)) continue;
        C[m] = c;
        Y[m] = v * yscale;
        x[m] = log10(c);
        y[m] = log10(v);
        m++;
    }
    f->n = m;
    f->slope = f->se = f->lo = f->hi = f->p = NAN;
    if (!m) return;
    int lo = 0, hi = 0;
    for (int i = 1; i < m; i++) {
        if (C[i] < C[lo]) lo = i;
        if (C[i] > C[hi]) hi = i;
    }
    f->C_min = C[lo];
    f->C_max = C[hi];
    f->y_min = Y[lo];
    f->y_max = Y[hi];
    if (m < 3) return; /* a slope needs a residual degree of freedom for its error */
    double c0, c1, cov00, cov01, cov11, sumsq;
    gsl_fit_linear(x, 1, y, 1, (size_t)m, &c0, &c1, &cov00, &cov01, &cov11, &sumsq);
    f->slope = c1;
    f->se = sqrt(cov11);
    double q = gsl_cdf_tdist_Pinv(1.0 - REPORT_ALPHA / 2, m - 2);
    f->lo = c1 - q * f->se;
    f->hi = c1 + q * f->se;
}

/* The one-sided / TOST p of a fit's test and its outcome at the 90 % interval. */
static void judge_fit(struct claim_fit *f)
{
    f->holds = f->fails = 0;
    if (isnan(f->slope)) return;
    int df = f->n - 2;
    double t90 = gsl_cdf_tdist_Pinv(1.0 - REPORT_ALPHA, df);
    double lo = f->slope - t90 * f->se, hi = f->slope + t90 * f->se;
    if (f->equiv) {
        double pl, ph;
        if (f->se > 0) {
            pl = gsl_cdf_tdist_Q((f->slope + CLAIM2_FLAT) / f->se, df);
            ph = gsl_cdf_tdist_P((f->slope - CLAIM2_FLAT) / f->se, df);
        } else {
            pl = f->slope > -CLAIM2_FLAT ? 0.0 : 1.0;
            ph = f->slope < CLAIM2_FLAT ? 0.0 : 1.0;
        }
        f->p = fmax(pl, ph);
        f->holds = lo > -CLAIM2_FLAT && hi < CLAIM2_FLAT;
        f->fails = lo > CLAIM2_FLAT || hi < -CLAIM2_FLAT;
    } else {
        f->p = f->se > 0 ? gsl_cdf_tdist_Q((f->slope - CLAIM2_GROWS) / f->se, df)
                         : (f->slope > CLAIM2_GROWS ? 0.0 : 1.0);
        f->holds = lo > CLAIM2_GROWS;
        f->fails = hi < CLAIM2_GROWS;
    }
}

/* The (d, threads) of a head with the most distinct C (ties: smaller d, fewer threads). */
static int pick_group(const struct tsv *t, const struct c2cols *k, const int *idx, int n,
                      const char *head, double *d, double *thr)
{
    int best = 0;
    for (int i = 0; i < n; i++) {
        const char *h = tsv_get(t, idx[i], k->head);
        if (!h || strcmp(h, head)) continue;
        double di = num(t, idx[i], k->d), ti = num(t, idx[i], k->thr);
        int c = 0;
        for (int j = 0; j < n; j++) {
            const char *h2 = tsv_get(t, idx[j], k->head);
            c += h2 && !strcmp(h2, head) && num(t, idx[j], k->d) == di &&
                 num(t, idx[j], k->thr) == ti;
        }
        if (c > best || (c == best && (di < *d || (di == *d && ti < *thr)))) {
            best = c;
            *d = di;
            *thr = ti;
        }
    }
    return best;
}

/* DCQ's extra cost beside its head: the EMA backbone copy, and backbone + key forward per step
 * (total step - head step) against full's backbone step at the largest C both have. */
static void dcq_extra(struct claim_result *c, const struct tsv *t, const struct c2cols *k,
                      const int *idx, int n, double d, double thr)
{
    c->bench.ema_mb = c->bench.key_ms = c->bench.full_bb_ms = c->bench.key_C = NAN;
    for (int i = 0; i < n; i++) {
        const char *h = tsv_get(t, idx[i], k->head);
        if (!h || strcmp(h, "dcq") || num(t, idx[i], k->d) != d || num(t, idx[i], k->thr) != thr)
            continue;
        double C = num(t, idx[i], k->C);
        for (int j = 0; j < n; j++) {
            const char *h2 = tsv_get(t, idx[j], k->head);
            if (!h2 || strcmp(h2, "full") || num(t, idx[j], k->C) != C ||
                num(t, idx[j], k->d) != d || num(t, idx[j], k->thr) != thr)
                continue;
            if (!isnan(c->bench.key_C) && C < c->bench.key_C) continue;
            c->bench.key_C = C;
            c->bench.ema_mb = num(t, idx[i], k->ema) / 1048576.0;
            c->bench.key_ms = num(t, idx[i], k->tot) - num(t, idx[i], k->ms);
            c->bench.full_bb_ms = num(t, idx[j], k->tot) - num(t, idx[j], k->ms);
        }
    }
}

void claim2_compute(struct claim_result *c, const struct rep *R)
{
    c->id = 2;
    c->title = "head cost scales with L, not C (Claim A), from measurements";
    c->decided_by_cmp = -1;
    c->p_raw = NAN;
    /* the blocks directly (claim_block is report_claims.c's, which calls this file) */
    c->blk[c->n_blk++].kind = CB_BENCH;
    c->blk[c->n_blk++].kind = CB_VERDICT;
    const struct tsv *t = &R->bench;
    if (!t->rows) return;
    struct bench_view v;
    bench_view(t, &v);
    struct c2cols k = {v.c_head, v.c_C, v.c_d, v.c_thr, v.c_ms, tsv_col(t, "head_bytes"),
                       tsv_col(t, "fixed_l"), tsv_col(t, "head_bytes_fixed_l"),
                       tsv_col(t, "head_ms_fixed_l"), tsv_col(t, "ema_bytes"),
                       tsv_col(t, "total_ms")};
    if (k.hb < 0 || k.hbl < 0) return; /* a bench.tsv from before memory was measured */
    int *idx = malloc((size_t)t->rows * sizeof *idx);
    if (!idx) return;
    int n = bench_sorted(R, &v, idx);
    for (int h = 0; h < R->n_heads && c->bench.n_fit + 2 <= CLAIM2_MAX_FIT; h++) {
        const char *head = R->heads[h];
        double d = INFINITY, thr = INFINITY;
        if (!pick_group(t, &k, idx, n, head, &d, &thr)) continue;
        int is_dcq = !strcmp(head, "dcq");
        for (int q = 0; q < 2; q++) {
            struct claim_fit *f = &c->bench.fit[c->bench.n_fit++];
            snprintf(f->head, sizeof f->head, "%s", head);
            snprintf(f->what, sizeof f->what, "%s", q ? "time" : "memory");
            int yc = is_dcq ? (q ? k.msl : k.hbl) : (q ? k.ms : k.hb);
            fit_one(f, t, &k, idx, n, head, d, thr, yc, q ? 1.0 : 1.0 / 1048576.0);
            double L = tsv_num(tsv_get(t, idx[0], k.fl));
            for (int i = 0; i < n && is_dcq; i++) {
                const char *hh = tsv_get(t, idx[i], k.head);
                if (hh && !strcmp(hh, "dcq")) L = num(t, idx[i], k.fl);
            }
            if (is_dcq) snprintf(f->at, sizeof f->at, "L = %.0f, d = %.0f", L, d);
            else snprintf(f->at, sizeof f->at, "L/C = ratio, d = %.0f", d);
            f->equiv = is_dcq;
            judge_fit(f);
        }
        if (is_dcq) dcq_extra(c, t, &k, idx, n, d, thr);
    }
    free(idx);
    int dcq = 0, other = 0, nan = 0;
    c->p_raw = 0.0;
    for (int i = 0; i < c->bench.n_fit; i++) {
        const struct claim_fit *f = &c->bench.fit[i];
        if (strcmp(f->what, "memory")) continue;
        dcq += f->equiv;
        other += !f->equiv;
        if (isnan(f->p)) nan = 1;
        else c->p_raw = fmax(c->p_raw, f->p);
        c->n = c->n ? (f->n < c->n ? f->n : c->n) : f->n;
    }
    if (!dcq || !other || nan) c->p_raw = NAN;
}

void claim2_decide(struct claim_result *c, const struct rep *R)
{
    (void)R;
    if (!R->bench.rows) {
        c->verdict = REPORT_NOT_RUN;
        snprintf(c->why, sizeof c->why, "not run (no bench.tsv: run `make bench`)");
        return;
    }
    int dcq = 0, other = 0, holds = 1, fails = 0, short_ = 0;
    for (int i = 0; i < c->bench.n_fit; i++) {
        const struct claim_fit *f = &c->bench.fit[i];
        if (strcmp(f->what, "memory")) continue;
        dcq += f->equiv;
        other += !f->equiv;
        short_ |= f->n < 3;
        holds &= f->holds;
        fails |= f->fails;
    }
    if (!dcq || !other) {
        c->verdict = REPORT_NOT_RUN;
        snprintf(c->why, sizeof c->why, "not run (bench.tsv lacks measured memory of dcq and a "
                                        "C-dependent head: rerun `make bench`)");
    } else if (fails) {
        c->verdict = REPORT_NOT_REPRODUCED;
        snprintf(c->why, sizeof c->why, "not reproduced (a memory slope is on the wrong side)");
    } else if (short_) {
        c->verdict = REPORT_INCONCLUSIVE;
        snprintf(c->why, sizeof c->why, "inconclusive: fewer than 3 C values on the ladder");
    } else if (holds && c->p_adj < REPORT_ALPHA) {
        c->verdict = REPORT_REPRODUCED;
        snprintf(c->why, sizeof c->why, "reproduced (memory slopes)");
    } else {
        c->verdict = REPORT_INCONCLUSIVE;
        snprintf(c->why, sizeof c->why, "inconclusive: a slope interval crosses its bound%s",
                 holds ? " after Holm" : "");
    }
}

void claim2_render(struct sbuf *b, const struct rep *R, const struct claim_result *c)
{
    if (!c->bench.n_fit) {
        sb_str(b, "No measured head memory in bench.tsv (run `make bench`).\n\n");
        return;
    }
    sb_printf(b, "Measured on the bench ladder (results/bench/bench.tsv): heap bytes a head "
                 "holds after head_open (allocation counting, not a declared cost) and the "
                 "median head step, log-log least squares against C (gsl_fit_linear), 95 %% t "
                 "interval on n - 2 degrees of freedom. Rule: dcq's memory slope at fixed L flat "
                 "(90 %% CI within +-%.1f), every other head's memory slope growing (90 %% CI "
                 "above %.1f); step-time slopes shown, not judged.\n\n", CLAIM2_FLAT,
              CLAIM2_GROWS);
    sb_str(b, "| head | quantity | at | C range | n | slope | se | 95 % CI | value at C min "
              "-> max | test |\n|---|---|---|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < c->bench.n_fit; i++) {
        const struct claim_fit *f = &c->bench.fit[i];
        sb_printf(b, "| %s | %s | %s | %.0f - %.0f | %d |", f->head, f->what, f->at, f->C_min,
                  f->C_max, f->n);
        if (isnan(f->slope)) sb_str(b, " – | – | – |");
        else sb_printf(b, " %.3f | %.3f | [%.3f, %.3f] |", f->slope, f->se, f->lo, f->hi);
        int time = !strcmp(f->what, "time");
        sb_printf(b, " %.3g -> %.3g %s | %s%s%s |\n", f->y_min, f->y_max, time ? "ms" : "MB",
                  f->equiv ? "flat" : "grows",
                  isnan(f->slope) ? ": no slope" : f->holds ? ": holds"
                                                 : f->fails ? ": fails"
                                                            : ": undecided",
                  time ? " (shown, not judged)" : "");
    }
    sb_str(b, "\n");
    if (!isnan(c->bench.key_C))
        sb_printf(b, "DCQ's cost beside its head, at C = %.0f: EMA backbone copy %.2f MB of "
                     "weights; backbone with the key forward %.3f ms per step against full "
                     "softmax's backbone %.3f ms (step minus head step).\n\n",
                  c->bench.key_C, c->bench.ema_mb, c->bench.key_ms, c->bench.full_bb_ms);
    sb_printf(b, "![Head memory and step time against C](%scost_vs_classes.png)\n\n", R->fig);
}
