/* report_verdicts.c - every claim decided together (docs/METHOD.md §5): each claim's primary
 * p-value (the largest of its primary comparisons: all must hold), Holm's step-down across the
 * claims, the rules at the adjusted p; then the controls (A/A and the planted handicap), the
 * verdict table, and the data of the forest plot and of derived/verdicts.tsv.
 */
#include "report_claim.h"

#include <math.h>
#include <stdlib.h>

const char *report_verdict_token(enum report_verdict v)
{
    switch (v) {
    case REPORT_NOT_RUN: return "not_run";
    case REPORT_FEW_SEEDS: return "few_seeds";
    case REPORT_REPRODUCED: return "reproduced";
    case REPORT_NOT_REPRODUCED: return "not_reproduced";
    case REPORT_INCONCLUSIVE: return "inconclusive";
    }
    return "?";
}

/* The rules on one comparison at the claim's adjusted p (secondaries: raw p). */
static void decide_cmp(struct claim_cmp *x, const struct rep *R, double p_adj)
{
    x->p_raw = report_p(&x->p, x->kind, R->delta);
    x->p_adj = x->primary ? p_adj : NAN;
    x->v = report_rule(&x->p, x->kind, R->delta, R->sesoi, x->p_adj, &x->negligible, x->why,
                       sizeof x->why);
    if (x->not_run) {
        x->v = REPORT_NOT_RUN;
        snprintf(x->why, sizeof x->why, "not run in this profile");
    }
    /* the level this test is held to after Holm: alpha x raw / adjusted p */
    double level = REPORT_ALPHA;
    if (!isnan(x->p_adj) && x->p_adj > 0 && x->p_raw > 0) level *= fmin(1.0, x->p_raw / x->p_adj);
    x->need = x->v == REPORT_INCONCLUSIVE
                  ? report_seeds_needed(&x->p, x->kind, R->delta, level) : 0;
    x->v_tar = report_rule(&x->tar4, x->kind, R->delta, R->sesoi, NAN, NULL, NULL, 0);
    x->v_lfw = report_rule(&x->lfw, x->kind, R->delta, R->sesoi, NAN, NULL, NULL, 0);
}

static void primary_p(struct claim_result *c, const struct rep *R)
{
    if (c->decided_by_cmp < 0) return;
    c->p_raw = NAN;
    int first = 1;
    for (int i = 0; i < c->n_cmp; i++) {
        struct claim_cmp *x = &c->cmp[i];
        if (!x->primary) continue;
        double p = report_p(&x->p, x->kind, R->delta);
        c->p_raw = first ? p : (isnan(p) || isnan(c->p_raw) ? NAN : fmax(c->p_raw, p));
        first = 0;
    }
}

/* The claim's verdict from its primary comparisons: any not reproduced -> not reproduced; all
 * reproduced -> reproduced; none run -> not run; otherwise inconclusive (or one seed). */
static void decide(struct claim_result *c, const struct rep *R)
{
    int n_prim = 0, n_run = 0, n_rep = 0, n_few = 0, n_min = 0, bad = -1, incon = -1;
    for (int i = 0; i < c->n_cmp; i++) {
        struct claim_cmp *x = &c->cmp[i];
        decide_cmp(x, R, c->p_adj);
        if (!x->primary) continue;
        if (!n_prim || x->p.n < n_min) n_min = x->p.n;
        n_prim++;
        n_run += x->v != REPORT_NOT_RUN;
        n_rep += x->v == REPORT_REPRODUCED;
        n_few += x->v == REPORT_FEW_SEEDS;
        if (x->v == REPORT_NOT_REPRODUCED && bad < 0) bad = i;
        if (x->v != REPORT_REPRODUCED && incon < 0) incon = i;
    }
    if (c->decided_by_cmp < 0) return;
    c->n = n_min;
    if (!n_run) {
        c->verdict = REPORT_NOT_RUN;
        snprintf(c->why, sizeof c->why, "not run in this profile");
        return;
    }
    int k = bad >= 0 ? bad : incon >= 0 ? incon : 0;
    const struct claim_cmp *x = &c->cmp[k];
    c->key_cmp = k;
    c->verdict = bad >= 0 ? REPORT_NOT_REPRODUCED
                 : n_rep == n_prim ? REPORT_REPRODUCED
                 : n_few ? REPORT_FEW_SEEDS
                 : x->v == REPORT_NOT_RUN ? REPORT_NOT_RUN
                                          : REPORT_INCONCLUSIVE;
    if (n_prim > 1 && c->verdict != REPORT_REPRODUCED)
        snprintf(c->why, sizeof c->why, "%s (%s vs %s)", x->why, x->a, x->b);
    else if (n_prim > 1)
        snprintf(c->why, sizeof c->why, "reproduced (every one of %d comparisons)", n_prim);
    else snprintf(c->why, sizeof c->why, "%s", x->why);
}

/* ---- controls --------------------------------------------------------------------------------- */

static void controls(struct claim_result *ctl, const struct rep *R)
{
    struct sel f = sel_base(R, "full", "ms1m", base_ratio(R, "full")), aa = f, sh = f;
    aa.variant = RV_AA;
    sh.variant = RV_SHORT;
    claim_compare(ctl, R, &f, "full", &aa, "full, other head stream", REPORT_BETTER, 0);
    claim_compare(ctl, R, &f, "full", &sh, "full, a quarter of the steps", REPORT_BETTER, 0);
    for (int i = 0; i < ctl->n_cmp; i++) decide_cmp(&ctl->cmp[i], R, NAN);
}

/* ---- rendering -------------------------------------------------------------------------------- */

static void ci_cells(struct sbuf *b, const struct claim_cmp *x)
{
    const struct report_paired *p = &x->p;
    if (p->n < 2) {
        sb_printf(b, " %s | – | – | ", p->n ? "n=1" : "–");
        return;
    }
    int w = x->kind == REPORT_BETTER;
    sb_printf(b, " %+.2f [%+.2f, %+.2f] (%s, n=%d) | %.3g | ", nz(p->mean),
              nz(w ? p->lo95 : p->lo90), nz(w ? p->hi95 : p->hi90), w ? "95 %" : "90 %", p->n,
              x->p_raw);
    if (isnan(x->p_adj)) sb_str(b, "– |");
    else sb_printf(b, "%.3g |", x->p_adj);
    sb_str(b, " ");
}

/* The glance rows of one configuration's claims; tag: "" (the main one) or " [name]". */
static void glance_rows(struct sbuf *b, const struct rep *R, const struct claim_result *c,
                        const char *tag)
{
    static const char *const kn[3] = {"better", "equivalence", "non-inferiority"};
    for (int i = 0; i < REPORT_N_CLAIMS; i++) {
        const struct claim_result *r = &c[i];
        const char *cv = R->smoke ? "smoke scale: not evidence" : report_verdict_name(r->verdict);
        if (r->decided_by_cmp < 0) {
            if (*tag) continue; /* claim 2: bench.tsv, judged once */
            sb_printf(b, "| %d | log-log slopes vs C (claim 2) | slopes | – | ", r->id);
            if (isnan(r->p_raw)) sb_str(b, "– | – |");
            else sb_printf(b, "%.3g | %.3g |", r->p_raw, r->p_adj);
            sb_printf(b, " %s | – | %s |\n", R->smoke ? "smoke scale: not evidence" : r->why, cv);
            continue;
        }
        int rows = 0;
        for (int k = 0; k < r->n_cmp; k++) {
            const struct claim_cmp *x = &r->cmp[k];
            if (!x->primary) continue;
            sb_printf(b, "| %d%s | %s - %s | %s%s |", r->id, tag, x->a, x->b, kn[x->kind],
                      x->kind == REPORT_BETTER ? "" : " (delta)");
            ci_cells(b, x);
            sb_printf(b, "%s |", R->smoke ? "smoke scale: not evidence" : x->why);
            if (R->smoke) sb_str(b, " – |");
            else if (x->v == REPORT_INCONCLUSIVE && x->need > 0) sb_printf(b, " %d |", x->need);
            else sb_str(b, x->v == REPORT_INCONCLUSIVE ? " none decides |" : " – |");
            sb_printf(b, " %s |\n", rows ? "″" : cv);
            rows++;
        }
        if (!rows) sb_printf(b, "| %d%s | – | – | – | – | – | – | – | %s |\n", r->id, tag, cv);
    }
}

static void glance(struct sbuf *b, const struct rep *R, const struct claim_result *c, int n_tests)
{
    sb_str(b, "## Verdicts\n\n");
    if (R->smoke)
        sb_str(b, "Smoke scale: the rules are computed (derived/verdicts.tsv) but are not "
                  "evidence; the verdict column says so.\n\n");
    sb_printf(b, "Primary metric: MegaFace rank-1 at the largest distractor size, points. "
                 "Smallest effect of interest %.2f%s; equivalence margin delta %.2f%s. ",
              R->sesoi, R->sesoi_given ? " (declared in the sweep)" : " (default)", R->delta,
              R->delta_given ? " (declared in the sweep)" : " (default)");
    if (R->n_data == 1) sb_str(b, "Holm's step-down across the nine claims' primary tests.\n\n");
    else
        sb_printf(b, "Holm's step-down across the claims' primary tests in all %d data "
                     "configurations together (claim 2, from bench.tsv, once): %d tests in one "
                     "family. Rows of the configurations after the first carry its name.\n\n",
                  R->n_data, n_tests);
    sb_str(b, "| claim | comparison (A - B) | rule | mean [CI] | p | Holm p | outcome | "
              "seeds needed | claim verdict |\n|---|---|---|---|---|---|---|---|---|\n");
    for (int k = 0; k < R->n_data; k++) {
        char tag[80] = "";
        if (k) snprintf(tag, sizeof tag, " [%.60s]", R->datas[k]);
        glance_rows(b, R, c + k * REPORT_N_CLAIMS, tag);
    }
    sb_printf(b, "\n![Forest plot: every claim's paired difference with its CI and margin]"
                 "(%sforest.png)\n\n", R->fig);
}

static void controls_md(struct sbuf *b, const struct rep *R, const struct claim_result *ctl)
{
    sb_str(b, "## Controls\n\nA/A: full softmax twice on the same data, batches and backbone, "
              "differing only in the head's own random stream; the better rule must not pick "
              "either. Positive control: full softmax against itself with a quarter of the "
              "steps; the better rule must call the handicapped arm worse.\n\n");
    for (int i = 0; i < ctl->n_cmp; i++) claim_render_cmp(b, R, &ctl->cmp[i]);
    const struct claim_cmp *aa = &ctl->cmp[0], *pos = &ctl->cmp[1];
    int aa_bad = aa->v == REPORT_REPRODUCED || aa->v == REPORT_NOT_REPRODUCED;
    sb_printf(b, "- A/A control: %s.\n",
              aa->v == REPORT_NOT_RUN ? "not run"
              : aa_bad                ? "**came out different: the rules are too loose here**"
                                      : "no difference called (as it must be)");
    sb_printf(b, "- Positive control: %s.\n\n",
              pos->v == REPORT_NOT_RUN     ? "not run"
              : pos->v == REPORT_REPRODUCED ? "handicap detected (as it must be)"
                                            : "**handicap not detected: the rules lack power here**");
}

static void forest_rows(struct sbuf *f, const struct rep *R, const struct claim_cmp *x,
                        const char *label, int *y)
{
    const struct report_paired *p = &x->p;
    if (p->n < 2) return;
    int w = x->kind == REPORT_BETTER;
    sb_printf(f, "%d\t%s\t%s\t%.6g\t%.6g\t%.6g\t%.6g\t%s\n", (*y)++, label,
              w ? "better" : x->kind == REPORT_EQUIV ? "equivalence" : "noninferiority",
              p->mean, w ? p->lo95 : p->lo90, w ? p->hi95 : p->hi90, w ? R->sesoi : R->delta,
              report_verdict_token(x->v));
}

static void num_cell(struct sbuf *b, double x)
{
    if (isnan(x)) sb_str(b, "\tNA");
    else sb_printf(b, "\t%.6g", x);
}

static void verdict_row(struct sbuf *b, const char *name, int id, enum report_verdict v,
                        double p, double p_adj, int n)
{
    if (*name) sb_str(b, name);
    else sb_printf(b, "%d", id);
    sb_printf(b, "\t%s", report_verdict_token(v));
    num_cell(b, p);
    num_cell(b, p_adj);
    sb_printf(b, "\t%d\n", n);
}

static void forest_and_tsv(struct claims_md *o, const struct rep *R, const struct claim_result *c,
                           const struct claim_result *ctl)
{
    sb_str(&o->forest, "y\tlabel\tkind\tmean\tlo\thi\tmargin\toutcome\n");
    sb_str(&o->verdicts, "claim\tverdict\tp\tp_holm\tn\n");
    int y = 0, N = R->n_data * REPORT_N_CLAIMS;
    for (int i = N - 1; i >= 0; i--) /* claim 1 of the main configuration on top of the plot */
        for (int k = c[i].n_cmp - 1; k >= 0; k--) {
            if (!c[i].cmp[k].primary) continue;
            char lab[240], tag[80] = "";
            if (i >= REPORT_N_CLAIMS) snprintf(tag, sizeof tag, " [%.60s]", c[i].data);
            snprintf(lab, sizeof lab, "%d%s: %s - %s", c[i].id, tag, c[i].cmp[k].a,
                     c[i].cmp[k].b);
            for (char *q = lab; *q; q++)
                if (*q == '\t') *q = ' ';
            forest_rows(&o->forest, R, &c[i].cmp[k], lab, &y);
        }
    forest_rows(&o->forest, R, &ctl->cmp[1], "control: full - quarter steps", &y);
    forest_rows(&o->forest, R, &ctl->cmp[0], "A/A: full - other head stream", &y);
    for (int i = 0; i < REPORT_N_CLAIMS; i++)
        verdict_row(&o->verdicts, "", c[i].id, c[i].verdict, c[i].p_raw, c[i].p_adj, c[i].n);
    verdict_row(&o->verdicts, "aa", 0, ctl->cmp[0].v, ctl->cmp[0].p_raw, NAN, ctl->cmp[0].p.n);
    verdict_row(&o->verdicts, "positive", 0, ctl->cmp[1].v, ctl->cmp[1].p_raw, NAN,
                ctl->cmp[1].p.n);
}

/* Every claim in every data configuration (a copy of R per configuration: sel_base selects
 * R->data_cur), then Holm's step-down over all their primary tests together (docs/METHOD.md §5:
 * the matrix is read cell by cell, so its cells are one family); claim 2 (bench.tsv) once. */
static int compute_all(struct claim_result *c, const struct rep *R, int *n_tests,
                       struct dcqb_err *err)
{
    int N = R->n_data * REPORT_N_CLAIMS;
    struct rep *Rk = malloc(sizeof *Rk);
    double *p = malloc(2 * (size_t)N * sizeof *p), *adj = p + N;
    if (!Rk || !p) {
        free(Rk);
        free(p);
        return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
    }
    for (int k = 0; k < R->n_data; k++) {
        *Rk = *R;
        Rk->data_cur = R->datas[k];
        claims_compute(c + k * REPORT_N_CLAIMS, Rk);
        c[k * REPORT_N_CLAIMS + 1].decided_by_cmp = -1;
        c[k * REPORT_N_CLAIMS + 1].p_raw = NAN;
    }
    claim2_compute(&c[1], R);
    *n_tests = 0;
    for (int i = 0; i < N; i++) {
        primary_p(&c[i], R);
        p[i] = c[i].p_raw;
        *n_tests += !isnan(p[i]);
    }
    report_holm(p, N, adj);
    for (int i = 0; i < N; i++) {
        c[i].p_adj = adj[i];
        decide(&c[i], R);
        if (i == 1) claim2_decide(&c[i], R);
        else if (c[i].decided_by_cmp < 0) c[i].verdict = c[1].verdict; /* set for the matrix */
    }
    free(Rk);
    free(p);
    return DCQB_OK;
}

int report_claims(struct claims_md *o, const struct rep *R, struct report_summary *sum,
                  struct dcqb_err *err)
{
    int N = R->n_data * REPORT_N_CLAIMS, n_tests = 0;
    struct claim_result *c = calloc((size_t)N + 1, sizeof *c);
    if (!c) return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
    struct claim_result *ctl = &c[N];
    int rc = compute_all(c, R, &n_tests, err);
    if (rc) {
        free(c);
        return rc;
    }
    for (int i = 0; i < REPORT_N_CLAIMS; i++) sum->verdict[i] = c[i].verdict;
    controls(ctl, R);
    const struct claim_cmp *aa = &ctl->cmp[0], *pos = &ctl->cmp[1];
    sum->aa_flag = aa->v == REPORT_REPRODUCED || aa->v == REPORT_NOT_REPRODUCED;
    sum->pos_missed = pos->v != REPORT_NOT_RUN && pos->v != REPORT_REPRODUCED;
    if (sum->aa_flag)
        sb_printf(&o->top, "> **Warning: the A/A control came out %s (%s): two arms that differ "
                           "only in the head's random stream were called different. Treat every "
                           "verdict below with suspicion.**\n\n",
                  aa->p.mean > 0 ? "better" : "worse", aa->why);
    if (sum->pos_missed)
        sb_printf(&o->top, "> **Warning: the positive control (a quarter of the steps) was not "
                           "called worse (%s): the rules lack power at this scale.**\n\n",
                  pos->why);
    sb_str(&o->body, "## Claims (docs/METHOD.md §5)\n\n");
    for (int i = 0; i < REPORT_N_CLAIMS; i++) {
        claim_render(&o->body, R, &c[i]);
        if (R->n_data > 1) matrix_others(&o->body, R, c, i);
    }
    glance(&o->body, R, c, n_tests);
    matrix_md(&o->body, R, c);
    controls_md(&o->body, R, ctl);
    forest_and_tsv(o, R, c, ctl);
    matrix_tsv(&o->matrix, R, c);
    free(c);
    return DCQB_OK;
}
