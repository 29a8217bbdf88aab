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

struct claim_cmp *claim_compare_net(struct claim_result *c, const struct rep *R,
                                    const struct sel *sa, const char *an, enum rnet na,
                                    const struct sel *sb, const char *bn, enum rnet nb,
                                    enum report_kind k, int primary)
{
    struct cell a, b;
    struct report_paired p;
    cell_select(R, sa, &a);
    cell_select(R, sb, &b);
    /* RN_AUTO: each side's EMA network when every run on both sides has its value (the same
     * averaging for every head); else the network eval.net chose, as the tables show */
    int ema = na == RN_AUTO && cell_has_ema(R, &a) && cell_has_ema(R, &b);
    if (na == RN_AUTO) na = nb = ema ? RN_EMA : RN_EVAL;
    if (na == RN_EVAL && nb == RN_EVAL) paired(R, &a, &b, M_RANK1, PCT, &p);
    else paired_net(R, &a, na, &b, nb, &p);
    struct claim_cmp *x = add_cmp(c, an, bn, k, primary, &p);
    if (ema) x->metric_name = "MegaFace rank-1 of each side's EMA network at the largest "
                              "distractor size (points)";
    paired(R, &a, &b, M_TAR4, PCT, &x->tar4);
    paired(R, &a, &b, M_LFW, PCT, &x->lfw);
    x->not_run = a.n == 0 && b.n == 0;
    return x;
}

struct claim_cmp *claim_compare(struct claim_result *c, const struct rep *R, const struct sel *sa,
                                const char *an, const struct sel *sb, const char *bn,
                                enum report_kind k, int primary)
{
    return claim_compare_net(c, R, sa, an, RN_AUTO, sb, bn, RN_AUTO, k, primary);
}

/* The compared side of a claim: a head at its base ratio and settings on a split. */
static struct sel base(const struct rep *R, const char *head, const char *profile)
{
    return sel_base(R, head, profile, base_ratio(R, head));
}

static int has_runs(const struct rep *R, const struct sel *s)
{
    struct cell c;
    cell_select(R, s, &c);
    return c.n > 0;
}

/* The arms a comparison judges (docs/METHOD.md §5): the tuned arms (tune = best) or the untuned
 * ones at the common loss (tune = -), whichever has ok runs on both sides, tuned first when
 * tuned_first. Never a tuning-grid run. Returns 1 when a and b became the tuned arms. */
static int pick_arms(const struct rep *R, struct sel *a, struct sel *b, int tuned_first)
{
    struct sel ta = sel_tuned(R, a), tb = sel_tuned(R, b);
    int tuned = has_runs(R, &ta) && has_runs(R, &tb), common = has_runs(R, a) && has_runs(R, b);
    if (!tuned || (!tuned_first && common)) return 0;
    *a = ta;
    *b = tb;
    return 1;
}

/* tuned_first: 0 common loss first (DCQ against DCQ: one variable at one loss), 1 tuned first
 * with the common-loss comparison as a secondary (claims 1, 3), 2 tuned first alone (the other
 * comparisons between heads, where each head's tuning budget is what makes them fair). */
static const char *arms_note(int tuned, int tuned_first)
{
    if (tuned && tuned_first == 2)
        return "The tuned arms (tune = best: each head at the grid point with the best validation "
               "rank-1, its own loss) are judged.\n\n";
    if (tuned && tuned_first)
        return "Primary: the tuned arms (tune = best: each head at the grid point with the best "
               "validation rank-1, its own loss); the untuned arms at the common loss follow as "
               "a secondary comparison.\n\n";
    if (tuned)
        return "No untuned arms at the common loss on both sides here: the tuned arms (tune = "
               "best) are judged.\n\n";
    return tuned_first ? "No tuned arms (tune = best) on both sides here: the untuned arms at "
                         "the common loss are judged.\n\n"
                       : "";
}

/* Claims 3 and 4: DCQ against full evaluated with its online network and with its own EMA
 * network, side by side (the EMA average helps every head, not only DCQ). */
static void ema_control(struct claim_result *c, const struct rep *R, const struct sel *d,
                        const char *dn, const struct sel *f)
{
    struct cell cd, cf;
    struct report_paired p;
    cell_select(R, d, &cd);
    cell_select(R, f, &cf);
    paired_net(R, &cd, RN_EMA, &cf, RN_EMA, &p);
    if (!p.n) { /* nothing to set beside the claim: one sentence, no copy of the primary */
        claim_text(c, "EMA control: not possible here: full's runs keep no EMA network with a "
                      "rank-1 (megaface_rank1_ema; run them with ema = 1).\n\n");
        return;
    }
    claim_text(c, "EMA control (beside the claim, raw p): DCQ's EMA network against full "
                  "evaluated with its online network and with its own EMA network, the same "
                  "runs.\n\n");
    int k = c->n_cmp;
    claim_compare_net(c, R, d, dn, RN_EMA, f, "full online", RN_ONLINE, REPORT_BETTER, 0)->aside =
        1;
    claim_compare_net(c, R, d, dn, RN_EMA, f, "full EMA", RN_EMA, REPORT_BETTER, 0)->aside = 1;
    if (c->n_blk < CLAIM_MAX_BLK) {
        c->blk[c->n_blk].kind = CB_EMA;
        c->blk[c->n_blk++].cmp = k;
    }
}

/* ==== the claims ============================================================================== */

/* Claims 1 and 3: dcq 10 % against full on `split` by `rule`, the tuned arms when both heads
 * have them (then the common-loss arms as a secondary, after the ratio figure when
 * ratio_figure), else the common-loss arms, full named full_name. a, f: the common-loss arms;
 * ta, tf: the judged ones; returns 1 when they are the tuned arms. */
static int dcq_vs_full(struct claim_result *c, const struct rep *R, const char *split,
                       const char *full_name, enum report_kind rule, int ratio_figure,
                       struct sel *a, struct sel *f, struct sel *ta, struct sel *tf)
{
    *a = *ta = base(R, "dcq", split);
    *f = *tf = base(R, "full", split);
    int tuned = pick_arms(R, ta, tf, 1);
    c->arms = tuned ? "tuned" : "common loss";
    claim_text(c, "%s", arms_note(tuned, 1));
    if (tuned) claim_compare(c, R, ta, "dcq 10 % (tuned)", tf, "full (tuned)", rule, 1);
    else claim_compare(c, R, a, "dcq 10 %", f, full_name, rule, 1);
    claim_block(c, CB_VERDICT);
    if (ratio_figure)
        claim_text(c, "![Accuracy against the ratio L/C](%sacc_vs_ratio.png)\n\n", R->fig);
    if (tuned) {
        claim_text(c, "The common-loss comparison (untuned arms), secondary:\n\n");
        claim_compare(c, R, a, "dcq 10 %", f, full_name, rule, 0);
    }
    return tuned;
}

static void claim1(struct claim_result *c, const struct rep *R)
{
    c->title = "10 % of classes ~ all classes (Claim B): non-inferiority at 10 %";
    struct sel a, f, ta, tf;
    dcq_vs_full(c, R, "ms1m", "full (same loss)", REPORT_NONINF, 1, &a, &f, &ta, &tf);
    struct sel own = f, conds[8];
    own.loss = NULL;
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
    struct sel a, f, ta, tf;
    int tuned = dcq_vs_full(c, R, "mf2", "full", REPORT_BETTER, 0, &a, &f, &ta, &tf);
    ema_control(c, R, &ta, tuned ? "dcq 10 % (tuned)" : "dcq 10 %", &tf);
}

/* The gain's source: within the same long-tail runs, the dcq - full gap on the held-out images
 * of 1-2-image classes against the gap in the largest bucket with paired values (primary);
 * beside it the long-tail gap against the balanced gap at the same identities and queue. */
static void claim4(struct claim_result *c, const struct rep *R)
{
    c->title = "the gain comes from tail classes (Claim C)";
    struct sel s[4] = {base(R, "dcq", "mf2"), base(R, "full", "mf2"), base(R, "dcq", "ms1m"),
                       base(R, "full", "ms1m")};
    struct sel lt_common[2] = {s[0], s[1]};
    int tuned = pick_arms(R, &s[0], &s[1], 2);
    c->arms = tuned ? "tuned" : "common loss";
    claim_text(c, "%s", arms_note(tuned, 2));
    s[2].variant = s[3].variant = RV_SCALE;
    /* the secondary's four arms share one tuning role: tuned balanced arms if the sweep has
     * them, else all four at the common loss */
    int sec_tuned = 0;
    if (tuned) {
        struct sel t2 = sel_tuned(R, &s[2]), t3 = sel_tuned(R, &s[3]);
        if (has_runs(R, &t2) && has_runs(R, &t3)) {
            s[2] = t2;
            s[3] = t3;
            sec_tuned = 1;
        }
    }
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
    report_paired_gaps(&p, &c->tail.q[0][0], &c->tail.q[0][top]);
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
    struct cell lc[2] = {cl[0], cl[1]};
    if (tuned && !sec_tuned) {
        cell_select(R, &lt_common[0], &lc[0]);
        cell_select(R, &lt_common[1], &lc[1]);
    }
    paired(R, &lc[0], &lc[1], M_RANK1, PCT, &lt);
    paired(R, &cl[2], &cl[3], M_RANK1, PCT, &bal);
    report_paired_gaps(&p, &lt, &bal);
    claim_text(c, "Secondary: the long-tail gap (dcq 10 %% - full on mf2) minus the balanced gap "
                  "at the same identities and queue length (ms1m-like class sizes, the "
                  "long-tail split's mean), MegaFace rank-1, paired by seed%s.\n\n",
               tuned && !sec_tuned ? "; all four arms at the common loss (the balanced arms are "
                                     "not tuned)" : "");
    x = add_cmp(c, "long-tail gap", "balanced gap", REPORT_BETTER, 0, &p);
    x->metric_name = "rank-1 gap dcq - full (points)";
    claim_text(c, "The held-out accuracies are those of each run's evaluated network (eval.net). "
                  "The long-tail rank-1 gain of the same arms:\n\n");
    ema_control(c, R, &s[0], "dcq 10 %", &s[1]);
}

/* The configuration's recorded steps (the most common over the cell's runs; NaN if none). */
static double cell_steps(const struct rep *R, const struct cell *c)
{
    double best = NAN;
    int best_n = 0;
    for (int i = 0; i < c->n; i++) {
        double v = tsv_num(run_cfg(R, R->r[c->run[i]].row, "steps")), n = 0;
        for (int j = 0; j < c->n; j++) n += tsv_num(run_cfg(R, R->r[c->run[j]].row, "steps")) == v;
        if (!isnan(v) && n > best_n) {
            best_n = (int)n;
            best = v;
        }
    }
    return best;
}

static void claim5(struct claim_result *c, const struct rep *R)
{
    char an[64];
    c->title = "the momentum generator matters (Fig. 2)";
    struct sel a = base(R, "dcq", "mf2"), z = a;
    z.mu = 0.0;
    int tuned = pick_arms(R, &a, &z, 0);
    c->arms = tuned ? "tuned" : "common loss";
    claim_text(c, "%s", arms_note(tuned, 0));
    snprintf(an, sizeof an, "dcq mu %g", R->main_mu);
    claim_compare(c, R, &a, an, &z, "dcq mu 0", REPORT_BETTER, 1);
    claim_block(c, CB_VERDICT);
    struct sel where = a, conds[CLAIM_MAX_MU];
    where.mu = NAN;
    where.ratio = 0.1;
    int n = conditions(R, &where, conds, CLAIM_MAX_MU);
    struct cell ca, cm;
    cell_select(R, &a, &ca);
    for (int i = 0; i < n; i++) {
        cell_select(R, &conds[i], &cm);
        c->mus.mu[i] = conds[i].mu;
        c->mus.steps[i] = cell_steps(R, &cm);
        paired(R, &cm, &ca, M_RANK1, PCT, &c->mus.p[i]);
    }
    c->mus.n = n;
    claim_block(c, CB_MUS);
}

static void claim6(struct claim_result *c, const struct rep *R)
{
    c->title = "DCQ vs random subset at equal budget";
    claim_text(c, "Primary: the long-tail split with Partial FC v1 (pfc_mode = v1 as recorded); "
                  "Partial FC v2 and the balanced split are shown as secondary.\n\n");
    static const char *const splits[2] = {"mf2", "ms1m"};
    for (int sp = 0; sp < 2; sp++) {
        struct sel a = base(R, "dcq", splits[sp]), r = base(R, "random", splits[sp]);
        int tuned = pick_arms(R, &a, &r, 2);
        if (sp == 0) {
            c->arms = tuned ? "tuned" : "common loss";
            claim_text(c, "%s", arms_note(tuned, 2));
        }
        struct sel r2 = r;
        r2.pfc_mode = "v2";
        char an[64], bn[64];
        snprintf(an, sizeof an, "dcq 10 %% (%s)", splits[sp]);
        snprintf(bn, sizeof bn, "random 10 %% (%s)", splits[sp]);
        claim_compare(c, R, &a, an, &r, bn, REPORT_BETTER, sp == 0);
        if (sp == 0) claim_block(c, CB_VERDICT);
        snprintf(bn, sizeof bn, "random v2 10 %% (%s)", splits[sp]);
        if (has_runs(R, &r2)) claim_compare(c, R, &a, an, &r2, bn, REPORT_BETTER, 0);
    }
}

static void claim7(struct claim_result *c, const struct rep *R)
{
    c->title = "control, Partial FC's own claim (r = 10 % ~ r = 100 %): equivalence";
    struct sel a = base(R, "random", "ms1m"), f = base(R, "full", "ms1m");
    int tuned = pick_arms(R, &a, &f, 2);
    c->arms = tuned ? "tuned" : "common loss";
    claim_text(c, "%s", arms_note(tuned, 2));
    claim_compare(c, R, &a, "random 10 %", &f, "full", REPORT_EQUIV, 1);
    claim_block(c, CB_VERDICT);
    /* "a very small r loses": the smallest ratio below 10 %, full better than it (secondary) */
    struct sel where = a, conds[32];
    where.ratio = NAN;
    int n = conditions(R, &where, conds, 32);
    if (n && conds[0].ratio < 0.1 - 1e-12) {
        char lab[64];
        snprintf(lab, sizeof lab, "random %g %%", conds[0].ratio * 100);
        claim_text(c, "Secondary, a very small ratio loses:\n\n");
        claim_compare(c, R, &f, "full", &conds[0], lab, REPORT_BETTER, 0);
    }
}

/* EMA - online within the runs of every head, on both splits, at the base settings (the
 * untuned arms, else the tuned ones): the average helps every head, or not. */
static void ema_every_head(struct claim_result *c, const struct rep *R)
{
    static const char *const splits[2] = {"mf2", "ms1m"};
    for (int h = 0; h < R->n_heads; h++)
        for (int sp = 0; sp < 2 && c->emactl.n < CLAIM_MAX_EMA; sp++) {
            struct sel s = base(R, R->heads[h], splits[sp]);
            struct report_paired *p = &c->emactl.p[c->emactl.n];
            int tuned = 0;
            for (; tuned < 2; tuned++) {
                struct sel t = tuned ? sel_tuned(R, &s) : s;
                struct cell cl;
                cell_select(R, &t, &cl);
                paired_net(R, &cl, RN_EMA, &cl, RN_ONLINE, p);
                if (p->n) break;
            }
            if (tuned == 2) continue;
            snprintf(c->emactl.what[c->emactl.n++], sizeof c->emactl.what[0], "%s | %s | %s",
                     R->heads[h], splits[sp], tuned ? "tuned" : "common loss");
        }
    claim_block(c, CB_EMACTL);
}

static void claim8(struct claim_result *c, const struct rep *R)
{
    c->title = "evaluate the right network (EMA f_k vs online f_q)";
    struct sel a = base(R, "dcq", "mf2"), o = a;
    o.net = "online";
    struct sel t = sel_tuned(R, &a);
    if (!has_runs(R, &a) && has_runs(R, &t)) {
        a = t;
        o = sel_tuned(R, &o);
    }
    c->arms = !strcmp(a.tune, "best") ? "tuned" : "common loss";
    struct cell cl;
    struct report_paired w;
    cell_select(R, &a, &cl);
    paired_net(R, &cl, RN_EMA, &cl, RN_ONLINE, &w);
    if (w.n) { /* both networks evaluated in the same runs: pair within them */
        claim_text(c, "Both networks of the same runs (megaface_rank1_ema - megaface_rank1_online)"
                      ", %s arms.\n\n", c->arms);
        claim_compare_net(c, R, &a, "dcq EMA (f_k)", RN_EMA, &a, "dcq online (f_q), same runs",
                          RN_ONLINE, REPORT_BETTER, 1);
    } else
        claim_compare_net(c, R, &a, "dcq EMA (f_k)", RN_EVAL, &o, "dcq online (f_q)", RN_EVAL,
                          REPORT_BETTER, 1);
    claim_text(c, "Reproduced means the authors' choice (EMA network) is better; reversed means "
                  "the online network is better.\n\n");
    claim_block(c, CB_VERDICT);
    ema_every_head(c, R);
}

/* Non-inferiority of 1-shot against each k-shot setting: every one must hold. */
static void claim9(struct claim_result *c, const struct rep *R)
{
    c->title = "1-shot suffices (k-shot generated weights): non-inferiority";
    struct sel one = base(R, "dcq", "mf2"), t = sel_tuned(R, &one);
    if (!has_runs(R, &one) && has_runs(R, &t)) one = t;
    c->arms = !strcmp(one.tune, "best") ? "tuned" : "common loss";
    struct sel where = one, conds[32];
    where.kshot = 0;
    where.ratio = 0.1;
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
        c[i].data = R->data_cur;
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
    sb_str(b, "Every mu against the main mu (rank-1, points, mean [95 % CI]; the EMA's memory "
              "1/(1-mu) in steps and as a share of the run): ");
    for (int i = 0; i < c->mus.n; i++) {
        double mu = c->mus.mu[i], st = c->mus.steps[i];
        sb_printf(b, "%smu %g", i ? "; " : "", mu);
        if (mu < 1 && !isnan(st) && st > 0)
            sb_printf(b, " (%.4g step%s, %.4g %% of %.0f)", 1 / (1 - mu), mu == 0 ? "" : "s",
                      100 / (1 - mu) / st, st);
        sb_str(b, ": ");
        fmt_ci(b, &c->mus.p[i], REPORT_BETTER);
    }
    sb_str(b, c->mus.n ? ".\n\n" : "none.\n\n");
}

/* Claims 3, 4: one sentence from the two EMA-control comparisons (online baseline, EMA one). */
static void render_ema(struct sbuf *b, const struct rep *R, const struct claim_result *c, int k)
{
    const struct claim_cmp *on = &c->cmp[k], *em = &c->cmp[k + 1];
    if (R->smoke) sb_str(b, "EMA control: smoke scale: not evidence.\n\n");
    else if (em->v == REPORT_REPRODUCED)
        sb_printf(b, "**The gain survives the EMA control**: DCQ beats full evaluated with its "
                     "own EMA network too (%+.2f points).\n\n", nz(em->p.mean));
    else if (on->v == REPORT_REPRODUCED)
        sb_printf(b, "**The gain does not survive the EMA control**: DCQ beats full's online "
                     "network (%+.2f) but against full's EMA network it is %s (%+.2f).\n\n",
                  nz(on->p.mean), report_verdict_name(em->v), nz(em->p.mean));
    else
        sb_printf(b, "EMA control: no gain to control (against full's online network: %s; "
                     "against its EMA network: %s).\n\n",
                  report_verdict_name(on->v), report_verdict_name(em->v));
}

/* Claim 8: EMA - online per head, raw p, the better rule. */
static void render_emactl(struct sbuf *b, const struct rep *R, const struct claim_result *c)
{
    sb_str(b, "EMA control, every head: EMA network minus online network in the same runs "
              "(rank-1, points, 95 % CI, raw p):\n\n");
    if (!c->emactl.n) {
        sb_str(b, "No run has both networks' rank-1 (megaface_rank1_ema and "
                  "megaface_rank1_online: runs with ema = 1).\n\n");
        return;
    }
    sb_str(b, "| head | split | arms | EMA - online | outcome |\n|---|---|---|---|---|\n");
    for (int i = 0; i < c->emactl.n; i++) {
        const struct report_paired *p = &c->emactl.p[i];
        sb_printf(b, "| %s | ", c->emactl.what[i]);
        fmt_ci(b, p, REPORT_BETTER);
        if (p->n >= 2) sb_printf(b, " (n=%d)", p->n);
        enum report_verdict v = report_rule(p, REPORT_BETTER, R->delta, R->sesoi, NAN, NULL,
                                            NULL, 0);
        sb_printf(b, " | %s |\n", R->smoke                        ? "smoke scale: not evidence"
                                  : v == REPORT_REPRODUCED      ? "EMA better"
                                  : v == REPORT_NOT_REPRODUCED  ? "online better"
                                  : v == REPORT_FEW_SEEDS       ? "1 seed: no interval"
                                                                : "no difference called");
    }
    sb_str(b, "\n");
}

/* A secondary comparison of the primary's kind decided the other way: say so where it stands. */
static void contradiction(struct sbuf *b, const struct rep *R, const struct claim_result *c,
                          const struct claim_cmp *x)
{
    const struct claim_cmp *p = NULL;
    for (int i = 0; i < c->n_cmp && !p; i++)
        if (c->cmp[i].primary) p = &c->cmp[i];
    if (R->smoke || x->primary || x->aside || !p || p->kind != x->kind) return;
    int d1 = c->verdict == REPORT_REPRODUCED || c->verdict == REPORT_NOT_REPRODUCED;
    int d2 = x->v == REPORT_REPRODUCED || x->v == REPORT_NOT_REPRODUCED;
    if (d1 && d2 && x->v != c->verdict)
        sb_str(b, "**This secondary comparison contradicts the claim's verdict.**\n\n");
}

void claim_render(struct sbuf *b, const struct rep *R, const struct claim_result *c)
{
    sb_printf(b, "### Claim %d: %s\n\n", c->id, c->title ? c->title : "");
    if (R->n_data > 1 && c->decided_by_cmp >= 0)
        sb_printf(b, "Data configuration **%s** in detail; the others follow the section and "
                     "the matrix under the verdicts.\n\n", c->data);
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
        case CB_EMA: render_ema(b, R, c, k->cmp); break;
        case CB_EMACTL: render_emactl(b, R, c); break;
        case CB_VERDICT:
            if (R->smoke) sb_str(b, "**Verdict: smoke scale: not evidence.**\n\n");
            else sb_printf(b, "**Verdict: %s.**\n\n", c->why);
            break;
        }
    }
}
