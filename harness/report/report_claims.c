/* report_claims.c - claims 1 and 3-9 of docs/METHOD.md §5 (claim 2: report_claim2.c). Each
 * claim builds a struct claim_result: its comparisons (kind, primary or not, the paired seeds
 * and p-values) and the blocks to show; report_verdicts.c adjusts the p-values across claims and
 * decides; the renderer here turns a decided result into Markdown.
 */
#include "report_claim.h"

#include <math.h>
#include <stdlib.h>

/* ==== building blocks ======================================================================== */

void claim_text(struct claim_result *c, const char *fmt, ...)
{
    if (c->n_blk == CLAIM_MAX_BLK) return;
    struct claim_block *k = &c->blk[c->n_blk++];
    k->kind = CB_TEXT;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(k->text, sizeof k->text, fmt, ap);
    va_end(ap);
}

void claim_block(struct claim_result *c, int kind)
{
    if (c->n_blk < CLAIM_MAX_BLK) c->blk[c->n_blk++].kind = kind;
}

/* A comparison from its paired values (claim 4 builds differences of gaps itself). */
static struct claim_cmp *add_cmp(struct claim_result *c, const char *an, const char *bn,
                                 enum report_kind k, int primary, const struct report_paired *p)
{
    if (c->n_cmp == CLAIM_MAX_CMP) c->n_cmp--; /* cannot happen: claim 9 has at most 32 */
    struct claim_cmp *x = &c->cmp[c->n_cmp];
    memset(x, 0, sizeof *x);
    snprintf(x->a, sizeof x->a, "%s", an);
    snprintf(x->b, sizeof x->b, "%s", bn);
    x->kind = k;
    x->primary = primary;
    x->p = *p;
    x->p_adj = NAN;
    x->not_run = p->n == 0;
    if (c->n_blk < CLAIM_MAX_BLK) {
        c->blk[c->n_blk].kind = CB_CMP;
        c->blk[c->n_blk++].cmp = c->n_cmp;
    }
    c->n_cmp++;
    return x;
}

struct claim_cmp *claim_compare(struct claim_result *c, const struct rep *R, const struct sel *sa,
                                const char *an, const struct sel *sb, const char *bn,
                                enum report_kind k, int primary)
{
    struct cell a, b;
    struct report_paired p;
    cell_select(R, sa, &a);
    cell_select(R, sb, &b);
    paired(R, &a, &b, M_RANK1, PCT, &p);
    struct claim_cmp *x = add_cmp(c, an, bn, k, primary, &p);
    paired(R, &a, &b, M_TAR4, PCT, &x->tar4);
    paired(R, &a, &b, M_LFW, PCT, &x->lfw);
    x->not_run = a.n == 0 && b.n == 0;
    return x;
}

/* The compared side of a claim: a head at its base ratio and settings on a split. */
static struct sel base(const struct rep *R, const char *head, const char *profile)
{
    return sel_base(R, head, profile, base_ratio(R, head));
}

/* ==== the claims ============================================================================== */

static void claim1(struct claim_result *c, const struct rep *R)
{
    c->title = "10 % of classes ~ all classes (Claim B): non-inferiority at 10 %";
    struct sel a = base(R, "dcq", "ms1m"), f = base(R, "full", "ms1m");
    claim_compare(c, R, &a, "dcq 10 %", &f, "full (same loss)", REPORT_NONINF, 1);
    claim_block(c, CB_VERDICT);
    claim_text(c, "![Accuracy against the ratio L/C](%sacc_vs_ratio.png)\n\n", R->fig);
    struct sel own = {"full", "ms1m", NULL, NULL, base_ratio(R, "full"), NAN, 0, 0}, conds[8];
    int n = conditions(R, &own, conds, 8);
    for (int i = 0; i < n; i++) {
        if (!strcmp(conds[i].loss, R->common_loss)) continue;
        char lab[128];
        snprintf(lab, sizeof lab, "full (%s)", conds[i].loss);
        claim_text(c, "Second baseline (full softmax with its own loss), secondary:\n\n");
        claim_compare(c, R, &a, "dcq 10 %", &conds[i], lab, REPORT_NONINF, 0);
    }
}

static void claim3(struct claim_result *c, const struct rep *R)
{
    c->title = "long tail, DCQ beats the full-class baseline (Claim D)";
    struct sel a = base(R, "dcq", "mf2"), f = base(R, "full", "mf2");
    claim_compare(c, R, &a, "dcq 10 %", &f, "full", REPORT_BETTER, 1);
    claim_block(c, CB_VERDICT);
}

/* Per-seed (x - y) - (u - v) over the seeds all four have. */
static void gap_of_gaps(const struct report_paired *g1, const struct report_paired *g2,
                        struct report_paired *p)
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

/* The gain's source: within the same long-tail runs, the dcq - full gap on the held-out images
 * of 1-2-image classes against the gap in the largest bucket with paired values (primary);
 * beside it the long-tail gap against the balanced gap at the same identities and queue. */
static void claim4(struct claim_result *c, const struct rep *R)
{
    c->title = "the gain comes from tail classes (Claim C)";
    struct sel s[4] = {base(R, "dcq", "mf2"), base(R, "full", "mf2"), base(R, "dcq", "ms1m"),
                       base(R, "full", "ms1m")};
    s[2].variant = s[3].variant = RV_SCALE;
    struct cell cl[4];
    for (int i = 0; i < 4; i++) cell_select(R, &s[i], &cl[i]);
    c->tail.split_name[0] = "mf2 (long tail)";
    c->tail.split_name[1] = "ms1m at the long-tail scale";
    for (int sp = 0; sp < 2; sp++)
        for (int k = 0; k < N_BUCKETS; k++) {
            char m[64];
            snprintf(m, sizeof m, "tail_acc_mean_%s", report_buckets[k]);
            paired(R, &cl[2 * sp], &cl[2 * sp + 1], m, PCT, &c->tail.q[sp][k]);
        }
    int top = N_BUCKETS - 2; /* the largest bucket ("all" is not a bucket) with >= 2 pairs */
    while (top > 1 && c->tail.q[0][top].n < 2) top--;
    struct report_paired p;
    gap_of_gaps(&c->tail.q[0][0], &c->tail.q[0][top], &p);
    char an[64], bn[64];
    snprintf(an, sizeof an, "gap in %s", report_buckets[0]);
    snprintf(bn, sizeof bn, "gap in %s", report_buckets[top]);
    claim_text(c, "Primary: in the same long-tail runs, the dcq 10 %% - full gap in held-out "
                  "accuracy against the class means, classes with 1-2 training images minus "
                  "the largest bucket (%s), paired by seed.\n\n", report_buckets[top]);
    struct claim_cmp *x = add_cmp(c, an, bn, REPORT_BETTER, 1, &p);
    x->metric_name = "held-out accuracy gap dcq - full (points)";
    claim_block(c, CB_VERDICT);
    claim_block(c, CB_TAIL);
    claim_text(c, "![Held-out accuracy by training-class size, mf2-like](%stail_mf2.png)\n\n",
               R->fig);
    struct report_paired lt, bal;
    paired(R, &cl[0], &cl[1], M_RANK1, PCT, &lt);
    paired(R, &cl[2], &cl[3], M_RANK1, PCT, &bal);
    gap_of_gaps(&lt, &bal, &p);
    claim_text(c, "Secondary: the long-tail gap (dcq 10 %% - full on mf2) minus the balanced gap "
                  "at the same identities and queue length (ms1m-like class sizes, the "
                  "long-tail split's mean), MegaFace rank-1, paired by seed.\n\n");
    x = add_cmp(c, "long-tail gap", "balanced gap", REPORT_BETTER, 0, &p);
    x->metric_name = "rank-1 gap dcq - full (points)";
}

static void claim5(struct claim_result *c, const struct rep *R)
{
    char an[64];
    c->title = "the momentum generator matters (Fig. 2)";
    struct sel a = base(R, "dcq", "mf2"), z = a;
    z.mu = 0.0;
    snprintf(an, sizeof an, "dcq mu %g", R->main_mu);
    claim_compare(c, R, &a, an, &z, "dcq mu 0", REPORT_BETTER, 1);
    claim_block(c, CB_VERDICT);
    struct sel where = {"dcq", "mf2", "ema", R->common_loss, 0.1, NAN, 1, 0}, conds[CLAIM_MAX_MU];
    int n = conditions(R, &where, conds, CLAIM_MAX_MU);
    struct cell ca, cm;
    cell_select(R, &a, &ca);
    for (int i = 0; i < n; i++) {
        cell_select(R, &conds[i], &cm);
        c->mus.mu[i] = conds[i].mu;
        paired(R, &cm, &ca, M_RANK1, PCT, &c->mus.p[i]);
    }
    c->mus.n = n;
    claim_block(c, CB_MUS);
}

static void claim6(struct claim_result *c, const struct rep *R)
{
    c->title = "DCQ vs random subset at equal budget";
    claim_text(c, "Primary: the long-tail split; the balanced split is shown as secondary.\n\n");
    static const char *const splits[2] = {"mf2", "ms1m"};
    for (int sp = 0; sp < 2; sp++) {
        struct sel a = base(R, "dcq", splits[sp]), r = base(R, "random", splits[sp]);
        char an[64], bn[64];
        snprintf(an, sizeof an, "dcq 10 %% (%s)", splits[sp]);
        snprintf(bn, sizeof bn, "random 10 %% (%s)", splits[sp]);
        claim_compare(c, R, &a, an, &r, bn, REPORT_BETTER, sp == 0);
        if (sp == 0) claim_block(c, CB_VERDICT);
    }
}

static void claim7(struct claim_result *c, const struct rep *R)
{
    c->title = "control, Partial FC's own claim (r = 10 % ~ r = 100 %): equivalence";
    struct sel a = base(R, "random", "ms1m"), f = base(R, "full", "ms1m");
    claim_compare(c, R, &a, "random 10 %", &f, "full", REPORT_EQUIV, 1);
    claim_block(c, CB_VERDICT);
    /* "a very small r loses": the smallest ratio below 10 %, full better than it (secondary) */
    struct sel where = {"random", "ms1m", NULL, R->common_loss, NAN, NAN, 0, 0}, conds[32];
    int n = conditions(R, &where, conds, 32);
    if (n && conds[0].ratio < 0.1 - 1e-12) {
        char lab[64];
        snprintf(lab, sizeof lab, "random %g %%", conds[0].ratio * 100);
        claim_text(c, "Secondary, a very small ratio loses:\n\n");
        claim_compare(c, R, &f, "full", &conds[0], lab, REPORT_BETTER, 0);
    }
}

static void claim8(struct claim_result *c, const struct rep *R)
{
    c->title = "evaluate the right network (EMA f_k vs online f_q)";
    struct sel a = base(R, "dcq", "mf2"), o = a;
    o.net = "online";
    claim_compare(c, R, &a, "dcq EMA (f_k)", &o, "dcq online (f_q)", REPORT_BETTER, 1);
    claim_text(c, "Reproduced means the authors' choice (EMA network) is better; reversed means "
                  "the online network is better.\n\n");
    claim_block(c, CB_VERDICT);
}

/* Non-inferiority of 1-shot against each k-shot setting: every one must hold. */
static void claim9(struct claim_result *c, const struct rep *R)
{
    c->title = "1-shot suffices (k-shot generated weights): non-inferiority";
    struct sel one = base(R, "dcq", "mf2");
    struct sel where = {"dcq", "mf2", "ema", R->common_loss, 0.1, R->main_mu, 0, 0}, conds[32];
    int n = conditions(R, &where, conds, 32);
    claim_text(c, "Primary: 1-shot minus each k-shot setting, non-inferiority at the margin; "
                  "the claim holds when every one does (intersection-union: the largest p).\n\n");
    for (int i = 0; i < n; i++) {
        if (conds[i].kshot <= 1) continue;
        char bn[64];
        snprintf(bn, sizeof bn, "dcq kshot %d", conds[i].kshot);
        claim_compare(c, R, &one, "dcq kshot 1", &conds[i], bn, REPORT_NONINF, 1);
    }
    claim_block(c, CB_VERDICT);
}

void claims_compute(struct claim_result *c, const struct rep *R)
{
    static void (*const claims[REPORT_N_CLAIMS])(struct claim_result *, const struct rep *) = {
        claim1, NULL, claim3, claim4, claim5, claim6, claim7, claim8, claim9};
    for (int i = 0; i < REPORT_N_CLAIMS; i++) {
        c[i].id = i + 1;
        if (claims[i]) claims[i](&c[i], R);
    }
}

/* ==== render ================================================================================= */

static const char *kind_rule(enum report_kind k)
{
    switch (k) {
    case REPORT_BETTER: return "better: 95 % CI above 0 (and Holm-adjusted p < 0.05)";
    case REPORT_EQUIV: return "equivalence: 90 % CI within +-delta (two one-sided tests)";
    case REPORT_NONINF: return "non-inferiority: 90 % CI above -delta (one-sided test)";
    }
    return "?";
}

/* "+1.23 [0.45, 2.01]" with the interval the kind is judged on; "–" without pairs. */
static void fmt_ci(struct sbuf *b, const struct report_paired *p, enum report_kind k)
{
    if (p->n == 0) sb_str(b, "–");
    else if (p->n == 1) sb_printf(b, "%+.2f (n=1)", nz(p->mean));
    else if (k == REPORT_BETTER)
        sb_printf(b, "%+.2f [%+.2f, %+.2f]", nz(p->mean), nz(p->lo95), nz(p->hi95));
    else sb_printf(b, "%+.2f [%+.2f, %+.2f]", nz(p->mean), nz(p->lo90), nz(p->hi90));
}

static void secondary(struct sbuf *b, const struct rep *R, const char *name,
                      const struct report_paired *p, enum report_kind k, enum report_verdict v,
                      enum report_verdict primary)
{
    sb_printf(b, "%s ", name);
    fmt_ci(b, p, k);
    if (R->smoke) return;
    if (p->n >= 2) sb_printf(b, " (%s)", report_verdict_name(v));
    int decided = primary == REPORT_REPRODUCED || primary == REPORT_NOT_REPRODUCED;
    int sdec = v == REPORT_REPRODUCED || v == REPORT_NOT_REPRODUCED;
    if (decided && sdec && v != primary) sb_str(b, " **contradicts the primary verdict**");
}

void claim_render_cmp(struct sbuf *b, const struct rep *R, const struct claim_cmp *x)
{
    sb_printf(b, "%s: **%s** minus **%s**, %s, paired by seed.\n\n",
              x->primary ? "Comparison" : "Secondary comparison", x->a, x->b,
              x->metric_name ? x->metric_name : "MegaFace rank-1 at the largest distractor size "
                                                "(points)");
    if (x->not_run) {
        sb_str(b, "Not run in this profile.\n\n");
        return;
    }
    const struct report_paired *p = &x->p;
    if (!p->n) {
        sb_str(b, "No paired seeds (one side has no ok runs).\n\n");
        return;
    }
    sb_printf(b, "| seed | %s | %s | difference |\n|---|---|---|---|\n", x->a, x->b);
    for (int i = 0; i < p->n; i++)
        sb_printf(b, "| %d | %.2f | %.2f | %+.2f |\n", p->seed[i], p->a[i], p->b[i], nz(p->d[i]));
    sb_printf(b, "\nMean difference %+.2f points", nz(p->mean));
    if (p->n >= 2) {
        sb_printf(b, ", sd %.2f, %s CI [%+.2f, %+.2f]", p->std,
                  x->kind == REPORT_BETTER ? "95 %" : "90 %",
                  nz(x->kind == REPORT_BETTER ? p->lo95 : p->lo90),
                  nz(x->kind == REPORT_BETTER ? p->hi95 : p->hi90));
        sb_printf(b, ", p = %.3g", x->p_raw);
        if (!isnan(x->p_adj)) sb_printf(b, " (Holm-adjusted %.3g)", x->p_adj);
        else sb_str(b, " (not adjusted: secondary)");
    }
    if (x->kind != REPORT_BETTER) sb_printf(b, "; margin delta = %.2f", R->delta);
    sb_printf(b, ". Rule: %s. Outcome: %s", kind_rule(x->kind),
              R->smoke ? "smoke scale: not evidence" : x->why);
    if (x->v == REPORT_INCONCLUSIVE && !R->smoke) {
        if (x->need > 0) sb_printf(b, "; the observed spread would need about %d paired seeds "
                                      "to decide at this test's Holm level", x->need);
        else sb_str(b, "; no number of seeds decides it at the observed mean");
    }
    sb_str(b, ".\n\n");
    if (x->tar4.n || x->lfw.n) {
        sb_str(b, "Secondary metrics, same rule, not adjusted: ");
        secondary(b, R, "TAR@FAR 1e-4", &x->tar4, x->kind, x->v_tar, x->v);
        sb_str(b, "; ");
        secondary(b, R, "LFW accuracy", &x->lfw, x->kind, x->v_lfw, x->v);
        sb_str(b, ".\n\n");
    }
}

static void render_tail(struct sbuf *b, const struct claim_result *c)
{
    sb_str(b, "Per-bucket held-out accuracy gaps (dcq 10 % minus full, points, mean [95 % CI], "
              "paired by seed):\n\n| split |");
    for (int k = 0; k < N_BUCKETS; k++) sb_printf(b, " %s |", report_buckets[k]);
    sb_str(b, "\n|---|");
    for (int k = 0; k < N_BUCKETS; k++) sb_str(b, "---|");
    sb_str(b, "\n");
    for (int sp = 0; sp < 2; sp++) {
        sb_printf(b, "| %s |", c->tail.split_name[sp]);
        for (int k = 0; k < N_BUCKETS; k++) {
            sb_str(b, " ");
            fmt_ci(b, &c->tail.q[sp][k], REPORT_BETTER);
            sb_str(b, " |");
        }
        sb_str(b, "\n");
    }
    sb_str(b, "\n");
}

static void render_mus(struct sbuf *b, const struct claim_result *c)
{
    sb_str(b, "Every mu against the main mu (rank-1, points, mean [95 % CI]): ");
    for (int i = 0; i < c->mus.n; i++) {
        sb_printf(b, "%smu %g: ", i ? "; " : "", c->mus.mu[i]);
        fmt_ci(b, &c->mus.p[i], REPORT_BETTER);
    }
    sb_str(b, c->mus.n ? ".\n\n" : "none.\n\n");
}

/* A secondary comparison of the primary's kind decided the other way: say so where it stands. */
static void contradiction(struct sbuf *b, const struct rep *R, const struct claim_result *c,
                          const struct claim_cmp *x)
{
    const struct claim_cmp *p = NULL;
    for (int i = 0; i < c->n_cmp && !p; i++)
        if (c->cmp[i].primary) p = &c->cmp[i];
    if (R->smoke || x->primary || !p || p->kind != x->kind) return;
    int d1 = c->verdict == REPORT_REPRODUCED || c->verdict == REPORT_NOT_REPRODUCED;
    int d2 = x->v == REPORT_REPRODUCED || x->v == REPORT_NOT_REPRODUCED;
    if (d1 && d2 && x->v != c->verdict)
        sb_str(b, "**This secondary comparison contradicts the claim's verdict.**\n\n");
}

void claim_render(struct sbuf *b, const struct rep *R, const struct claim_result *c)
{
    sb_printf(b, "### Claim %d: %s\n\n", c->id, c->title ? c->title : "");
    for (int i = 0; i < c->n_blk; i++) {
        const struct claim_block *k = &c->blk[i];
        switch (k->kind) {
        case CB_TEXT: sb_str(b, k->text); break;
        case CB_CMP:
            claim_render_cmp(b, R, &c->cmp[k->cmp]);
            contradiction(b, R, c, &c->cmp[k->cmp]);
            break;
        case CB_BENCH: claim2_render(b, R, c); break;
        case CB_TAIL: render_tail(b, c); break;
        case CB_MUS: render_mus(b, c); break;
        case CB_VERDICT:
            if (R->smoke) sb_str(b, "**Verdict: smoke scale: not evidence.**\n\n");
            else sb_printf(b, "**Verdict: %s.**\n\n", c->why);
            break;
        }
    }
}
