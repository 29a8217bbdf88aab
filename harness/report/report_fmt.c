/* report_fmt.c - how the report writes a cell: a statistic over seeds, a paired difference, a
 * ratio, a condition's label. Shared by the tables and the claims so they always agree. */
#include "report_int.h"

#include <math.h>

double nz(double x) { return fabs(x) < 5e-13 ? 0.0 : x; }

void fmt_stat(struct sbuf *b, const struct rep *R, const struct cell *c, const char *metric,
              double scale, int dec)
{
    double v[REPORT_MAX_SEEDS];
    int n = cell_values(R, c, metric, scale, v, NULL);
    if (c->n == 0) {
        sb_str(b, c->failed ? "failed" : "–");
        return;
    }
    if (n == 0) {
        sb_str(b, "n/a");
        return;
    }
    double m = nz(mean_of(v, n));
    if (n == 1) {
        sb_printf(b, "%.*f (n=1)", dec, m);
        return;
    }
    sb_printf(b, "%.*f ± %.*f", dec, m, dec, nz(std_of(v, n)));
    if (n < 3) sb_printf(b, " (n=%d)", n);
}

void fmt_diff(struct sbuf *b, const struct report_paired *p)
{
    if (p->n == 0) sb_str(b, "–");
    else if (p->n == 1) sb_printf(b, "%+.2f (n=1)", nz(p->mean));
    else sb_printf(b, "%+.2f ± %.2f (n=%d)", nz(p->mean), nz(p->std), p->n);
}

/* "10 %"; "ratio missing" when runs.tsv did not say. */
void fmt_ratio(char *out, size_t n, double r)
{
    if (isnan(r)) snprintf(out, n, "ratio missing");
    else snprintf(out, n, "%g %%", r * 100.0);
}

/* "dcq 10 %, mu 0.99, kshot 2, eval online (own loss: ...)": the head, its ratio unless the head
 * has every class, then only what differs from the base settings. */
void cond_label(const struct rep *R, const struct sel *s, char *out, size_t n)
{
    char r[32];
    fmt_ratio(r, sizeof r, s->ratio);
    int k = snprintf(out, n, "%s", s->head);
    if (!head_is_whole(R, s->head)) k += snprintf(out + k, n - (size_t)k, " %s", r);
    if (!isnan(s->mu) && !(s->mu == R->main_mu))
        k += snprintf(out + k, n - (size_t)k, ", mu %g", s->mu);
    if (s->kshot > 1) k += snprintf(out + k, n - (size_t)k, ", kshot %d", s->kshot);
    if (s->net && strcmp(s->net, "ema")) k += snprintf(out + k, n - (size_t)k, ", eval %s", s->net);
    if (s->loss && strcmp(s->loss, R->common_loss))
        snprintf(out + k, n - (size_t)k, " (own loss: %s)", s->loss);
}
