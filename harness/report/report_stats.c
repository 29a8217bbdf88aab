/* report_stats.c - the statistics and the verdict rules of docs/METHOD.md §5: paired
 * differences, t intervals, p-values, two one-sided tests, Holm's step-down and the seeds an
 * inconclusive comparison would need. Numbers only; every quantile and tail probability is GSL's
 * (gsl_cdf_tdist_*), every mean and spread gsl_stats_*.
 */
#include "report_int.h"

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_statistics_double.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

double mean_of(const double *x, int n) { return n ? gsl_stats_mean(x, 1, (size_t)n) : NAN; }

double std_of(const double *x, int n) { return n >= 2 ? gsl_stats_sd(x, 1, (size_t)n) : NAN; }

/* Upper tail of Student's t with df degrees of freedom; se == 0 handled by the caller. */
static double t_upper(double t, double df) { return gsl_cdf_tdist_Q(t, df); }

void report_paired_stats(struct report_paired *p)
{
    for (int i = 0; i < p->n; i++) p->d[i] = p->a[i] - p->b[i];
    p->mean = mean_of(p->d, p->n);
    p->std = std_of(p->d, p->n);
    p->base_std = std_of(p->b, p->n);
    p->se = p->lo95 = p->hi95 = p->lo90 = p->hi90 = p->p = NAN;
    if (p->n < 2) return;
    double df = p->n - 1;
    p->se = p->std / sqrt((double)p->n);
    double t95 = gsl_cdf_tdist_Pinv(1.0 - REPORT_ALPHA / 2, df);
    double t90 = gsl_cdf_tdist_Pinv(1.0 - REPORT_ALPHA, df);
    p->lo95 = p->mean - t95 * p->se;
    p->hi95 = p->mean + t95 * p->se;
    p->lo90 = p->mean - t90 * p->se;
    p->hi90 = p->mean + t90 * p->se;
    if (p->se > 0) p->p = fmin(1.0, 2.0 * t_upper(fabs(p->mean) / p->se, df));
    else p->p = p->mean != 0 ? 0.0 : 1.0; /* identical differences: no spread to test against */
}

void report_paired_gaps(struct report_paired *p, const struct report_paired *g1,
                        const struct report_paired *g2)
{
    memset(p, 0, sizeof *p);
    for (int i = 0; i < g1->n; i++)
        for (int j = 0; j < g2->n; j++)
            if (g1->seed[i] == g2->seed[j]) {
                p->seed[p->n] = g1->seed[i];
                p->a[p->n] = g1->d[i];
                p->b[p->n] = g2->d[j];
                p->n++;
            }
    report_paired_stats(p);
}

/* P(T >= (mean - mu0) / se) under H0 mean = mu0: the one-sided p of H0 mean <= mu0. */
static double p_above(const struct report_paired *p, double mu0)
{
    if (p->se > 0) return t_upper((p->mean - mu0) / p->se, p->n - 1);
    return p->mean > mu0 ? 0.0 : 1.0;
}

double report_p(const struct report_paired *p, enum report_kind k, double delta)
{
    if (p->n < 2) return NAN;
    switch (k) {
    case REPORT_BETTER: return p->p;
    case REPORT_NONINF: return p_above(p, -delta);
    case REPORT_EQUIV: {
        /* H0 mean >= delta is rejected when -mean is far above -delta: mirror the pairs */
        struct report_paired m = *p;
        m.mean = -p->mean;
        return fmax(p_above(p, -delta), p_above(&m, -delta));
    }
    }
    return NAN;
}

enum report_verdict report_rule(const struct report_paired *p, enum report_kind k, double delta,
                                double sesoi, double p_adj, int *negligible, char *why,
                                size_t n)
{
    char tmp[8];
    if (!why) {
        why = tmp;
        n = sizeof tmp;
    }
    if (negligible) *negligible = 0;
    if (p->n == 0) {
        snprintf(why, n, "not run in this profile");
        return REPORT_NOT_RUN;
    }
    if (p->n < 2) {
        snprintf(why, n, "inconclusive: only 1 paired seed, no interval");
        return REPORT_FEW_SEEDS;
    }
    double raw = report_p(p, k, delta), pu = isnan(p_adj) ? raw : p_adj;
    int holm = !isnan(p_adj) && raw < REPORT_ALPHA && p_adj >= REPORT_ALPHA;
    if (k == REPORT_BETTER) {
        if (pu < REPORT_ALPHA) {
            int neg = sesoi > 0 && p->lo95 >= -sesoi && p->hi95 <= sesoi;
            if (negligible) *negligible = neg;
            snprintf(why, n, "%s%s", p->mean > 0 ? "reproduced" : "not reproduced (reversed)",
                     neg ? ", negligible" : "");
            return p->mean > 0 ? REPORT_REPRODUCED : REPORT_NOT_REPRODUCED;
        }
        snprintf(why, n, "%s", holm ? "inconclusive: the 95 % CI excludes 0, not after Holm"
                                    : "inconclusive: the 95 % CI contains 0");
        return REPORT_INCONCLUSIVE;
    }
    if (pu < REPORT_ALPHA) {
        if (k == REPORT_EQUIV) snprintf(why, n, "reproduced (90 %% CI within +-%.2f)", delta);
        else snprintf(why, n, "reproduced (90 %% CI above %.2f)", -delta);
        return REPORT_REPRODUCED;
    }
    if (p->hi90 < -delta || (k == REPORT_EQUIV && p->lo90 > delta)) {
        snprintf(why, n, "not reproduced (90 %% CI beyond the margin %.2f)", delta);
        return REPORT_NOT_REPRODUCED;
    }
    if (holm) snprintf(why, n, "inconclusive: within the margin, not after Holm");
    else snprintf(why, n, "inconclusive: the 90 %% CI crosses the margin %.2f", delta);
    return REPORT_INCONCLUSIVE;
}

int report_seeds_needed(const struct report_paired *p, enum report_kind k, double delta,
                        double alpha)
{
    if (p->n < 2) return 0;
    double room = k == REPORT_BETTER   ? fabs(p->mean)
                  : k == REPORT_EQUIV ? delta - fabs(p->mean)
                                      : p->mean + delta;
    if (!(room > 0)) return -1;
    if (!(p->std > 0)) return p->n;
    double q = k == REPORT_BETTER ? 1.0 - alpha / 2 : 1.0 - alpha;
    for (int m = 2; m <= 100000; m++)
        if (gsl_cdf_tdist_Pinv(q, m - 1) * p->std / sqrt((double)m) < room) return m;
    return -1;
}

void report_holm(const double *p, int n, double *adj)
{
    int *o = malloc((size_t)(n > 0 ? n : 1) * sizeof *o), m = 0;
    for (int i = 0; i < n; i++) {
        adj[i] = NAN;
        if (!o || isnan(p[i])) continue;
        int k = m++; /* insertion sort by p, ties by index: deterministic */
        while (k > 0 && p[o[k - 1]] > p[i]) {
            o[k] = o[k - 1];
            k--;
        }
        o[k] = i;
    }
    double run = 0.0;
    for (int r = 0; r < m; r++) {
        double a = fmin(1.0, (double)(m - r) * p[o[r]]);
        run = fmax(run, a); /* step-down: adjusted p never decreases along the order */
        adj[o[r]] = run;
    }
    if (!o) /* out of memory: Bonferroni, which Holm never exceeds */
        for (int i = 0; i < n; i++) {
            int c = 0;
            for (int j = 0; j < n; j++) c += !isnan(p[j]);
            adj[i] = isnan(p[i]) ? NAN : fmin(1.0, c * p[i]);
        }
    free(o);
}
