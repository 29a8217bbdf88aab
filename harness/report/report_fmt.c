/* report_fmt.c - how the report writes a cell: a statistic over seeds, a paired difference, a
 * ratio, a condition's label. Shared by the tables and the claims so they always agree. */
#include "report_int.h"

#include <math.h>
#include <stdlib.h>

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

void fmt_gap(struct sbuf *b, const struct report_paired *p)
{
    if (p->n == 0) sb_str(b, "–");
    else if (p->n == 1) sb_printf(b, "%+.2f (n=1)", nz(p->mean));
    else sb_printf(b, "%+.2f [%+.2f, %+.2f] (n=%d)", nz(p->mean), nz(p->lo95), nz(p->hi95), p->n);
}

/* "10 %"; "ratio missing" when runs.tsv did not say. */
void fmt_ratio(char *out, size_t n, double r)
{
    if (isnan(r)) snprintf(out, n, "ratio missing");
    else snprintf(out, n, "%g %%", r * 100.0);
}

/* "dcq 10 %, mu 0.99, kshot 2, eval online, tuned (own loss: ...)": the head, its ratio unless
 * the head has every class, then only what differs from the base settings (Partial FC v1 and the
 * uniform proposal are the base variants). */
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
    if (s->pfc_mode && strcmp(s->pfc_mode, "v1"))
        k += snprintf(out + k, n - (size_t)k, ", pfc %s", s->pfc_mode);
    if (s->sampler && strcmp(s->sampler, "uniform"))
        k += snprintf(out + k, n - (size_t)k, ", %s proposal", s->sampler);
    if (s->tune && !strcmp(s->tune, "best")) k += snprintf(out + k, n - (size_t)k, ", tuned");
    if (s->loss && strcmp(s->loss, R->common_loss))
        snprintf(out + k, n - (size_t)k, " (own loss: %s)", s->loss);
}

/* ==== shared by the tables, the arms, the scale ladder and the derived files ================= */

/* An optional column is shown when runs.tsv has it. */
static int col_shown(const struct rep *R, const struct tcol *c)
{
    return !c->opt || tsv_col(&R->t, c->metric) >= 0;
}

void tab_head(struct sbuf *b, const struct rep *R, const char *lead, const struct tcol *cols,
              const char *tail)
{
    int k = 0, n = 1;
    sb_printf(b, "| %s |", lead);
    for (int i = 0; cols[i].header; i++)
        if (col_shown(R, &cols[i])) {
            sb_printf(b, " %s |", cols[i].header);
            k++;
        }
    sb_printf(b, " %s |\n|", tail);
    for (const char *s = lead; *s; s++) n += *s == '|';
    n += k + 1;
    for (const char *s = tail; *s; s++) n += *s == '|';
    for (int i = n; i > 0; i--) sb_str(b, "---|");
    sb_str(b, "\n");
}

/* After a TAR@FAR cell: the impostor pairs above its threshold, FAR x impostor pairs (the
 * definition of FAR; docs/METHOD.md §5), mean over the cell's runs; under 100: low-count. */
static void tar_count(struct sbuf *b, const struct rep *R, const struct cell *c,
                      const char *metric)
{
    static const char pre[] = "tar_at_far_";
    if (strncmp(metric, pre, sizeof pre - 1)) return;
    double far = atof(metric + sizeof pre - 1), v[REPORT_MAX_SEEDS];
    int n = cell_values(R, c, "megaface_n_impostor", far, v, NULL);
    if (!n) return;
    double k = mean_of(v, n);
    sb_printf(b, " (%.0f imp.%s)", k, k < 100 ? ", low-count" : "");
}

void tab_cells(struct sbuf *b, const struct rep *R, const struct cell *c, const struct tcol *cols)
{
    for (int k = 0; cols[k].header; k++) {
        if (!col_shown(R, &cols[k])) continue;
        fmt_stat(b, R, c, cols[k].metric, cols[k].scale, cols[k].dec);
        tar_count(b, R, c, cols[k].metric);
        sb_str(b, " | ");
    }
}

/* The main data configuration: the first of R->datas (report_select.c: most ok runs outside the
 * tuning grid, ties to the first row). One rule for the tables and the claims. */
const char *rep_main_data(const struct rep *R)
{
    return R->n_data ? R->datas[0] : "default";
}

/* Whether any run of head records config key `key` (runs.tsv column not NA). */
static int head_records(const struct rep *R, const char *head, const char *key)
{
    for (int i = 0; i < R->n_runs; i++)
        if (!strcmp(R->r[i].head, head) && run_cfg(R, R->r[i].row, key)) return 1;
    return 0;
}

struct sel arm_base(const struct rep *R, const char *head, const char *profile, double ratio,
                    const char *tune)
{
    struct sel s = sel_base(R, head, profile, ratio);
    s.data = rep_main_data(R);
    s.tune = tune;
    if (tune && !strcmp(tune, "best")) { /* a tuned arm has its own loss, momentum, kshot */
        s.loss = NULL;
        s.mu = NAN;
        s.kshot = 0;
    }
    /* the paper's variants: Partial FC v1, the uniform proposal; other values are own arms */
    if (!strcmp(head, "random") && head_records(R, head, "pfc_mode")) s.pfc_mode = "v1";
    if (!strcmp(head, "sampled") && head_records(R, head, "sampler")) s.sampler = "uniform";
    return s;
}

int arm_positives_only(const struct rep *R, const struct cell *c)
{
    double C[REPORT_MAX_SEEDS], bl[REPORT_MAX_SEEDS];
    if (!c->n) return 0;
    const struct rrun *u = &R->r[c->run[0]];
    if ((strcmp(u->head, "random") && strcmp(u->head, "sampled")) || isnan(u->ratio)) return 0;
    int nc = cell_values(R, c, "classes", 1.0, C, NULL);
    int nb = cell_values(R, c, "batch_labels_mean", 1.0, bl, NULL);
    if (!nc || !nb) return 0;
    return (double)(long long)(u->ratio * mean_of(C, nc)) < mean_of(bl, nb);
}

void arm_label(const struct rep *R, const struct sel *s, const struct cell *c, char *out,
               size_t n)
{
    cond_label(R, s, out, n);
    size_t k = strlen(out);
    if (arm_positives_only(R, c) && k < n)
        snprintf(out + k, n - k, " (positives-only)");
}
