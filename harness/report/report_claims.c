/* report_claims.c - the nine claims of docs/METHOD.md §5. Each claim first computes a struct
 * claim_result (its verdict, the paired seeds behind it, the figures and the why, plus the blocks
 * to show: comparisons, figures, sentences); then one renderer turns a result into Markdown. The
 * statistics and the rules are report_select.c's; nothing here formats a number before render.
 */
#include "report_int.h"

#include <math.h>
#include <stdlib.h>

#define CLAIM_MAX_CMP 40
#define CLAIM_MAX_BLK 96
#define CLAIM_MAX_MU 32

/* One paired comparison of the primary metric, with the secondary ones beside it. */
struct claim_cmp {
    char a[96], b[96];          /* the two sides, as named in the text */
    int better;                 /* rule: 1 better, 0 parity */
    int not_run;                /* neither side has ok runs */
    struct report_paired p;     /* MegaFace rank-1, points */
    struct report_paired tar4, lfw;
    enum report_verdict v;
    char why[200];
};

enum claim_block_kind {
    CB_TEXT,  /* text: sentences and names, no statistics */
    CB_CMP,   /* cmp: a comparison block */
    CB_BENCH, /* claim 2's memory and step-time figures */
    CB_TAIL,  /* claim 4's gaps, tail-specific part and per-bucket gaps */
    CB_MUS    /* claim 5's every mu against the main mu */
};

struct claim_block {
    int kind;
    int cmp;
    char text[320];
};

struct claim_result {
    enum report_verdict verdict;
    int n;                     /* paired seeds (claim 2: bench rows) behind the verdict */
    char why[200];
    struct claim_block blk[CLAIM_MAX_BLK];
    int n_blk;
    struct claim_cmp cmp[CLAIM_MAX_CMP];
    int n_cmp;
    struct {                   /* claim 2 */
        int n_c, n_d, c_ok, d_ok;
        double fl_min, fl_max; /* dcq fixed bytes per queue slot */
        double C, d, T, tf, td; /* largest common C: full and dcq step ms */
    } bench;
    struct {                   /* claim 4 */
        struct report_paired lt, bal, p, q[2][N_BUCKETS];
    } tail;
    struct {                   /* claim 5 */
        int n;
        double mu[CLAIM_MAX_MU];
        struct report_paired p[CLAIM_MAX_MU];
    } mus;
};

static const char *const rule_parity_text =
    "parity: |mean paired difference| <= 2 x the baseline's std over seeds; fewer than 3 "
    "paired seeds -> inconclusive";
static const char *const rule_better_text =
    "better: paired difference > 0 in every seed and mean > 2 standard errors -> reproduced; "
    "< 0 in every seed and mean < -2 se -> not reproduced (reversed); otherwise inconclusive; "
    "fewer than 3 paired seeds -> inconclusive";

/* ==== compute ================================================================================ */

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void text(struct claim_result *c, const char *fmt, ...)
{
    if (c->n_blk == CLAIM_MAX_BLK) return;
    struct claim_block *k = &c->blk[c->n_blk++];
    k->kind = CB_TEXT;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(k->text, sizeof k->text, fmt, ap);
    va_end(ap);
}

static void block(struct claim_result *c, int kind)
{
    if (c->n_blk < CLAIM_MAX_BLK) c->blk[c->n_blk++].kind = kind;
}

static void verdict(struct claim_result *c, enum report_verdict v, const char *why, int n)
{
    c->verdict = v;
    c->n = n;
    snprintf(c->why, sizeof c->why, "%s", why);
}

/* A vs B on the primary metric with a rule (0 parity, 1 better); the block is shown in place. */
static const struct claim_cmp *compare(struct claim_result *c, const struct rep *R,
                                       const struct sel *sa, const char *an,
                                       const struct sel *sb, const char *bn, int better)
{
    if (c->n_cmp == CLAIM_MAX_CMP) c->n_cmp--; /* cannot happen: claim 9 has at most 32 */
    struct claim_cmp *x = &c->cmp[c->n_cmp];
    memset(x, 0, sizeof *x);
    snprintf(x->a, sizeof x->a, "%s", an);
    snprintf(x->b, sizeof x->b, "%s", bn);
    x->better = better;
    struct cell a, b;
    cell_select(R, sa, &a);
    cell_select(R, sb, &b);
    paired(R, &a, &b, M_RANK1, PCT, &x->p);
    paired(R, &a, &b, M_TAR4, PCT, &x->tar4);
    paired(R, &a, &b, M_LFW, PCT, &x->lfw);
    if (a.n == 0 && b.n == 0) {
        x->not_run = 1;
        x->v = REPORT_NOT_RUN;
        snprintf(x->why, sizeof x->why, "not run in this profile");
    } else {
        x->v = better ? report_rule_better(&x->p, x->why, sizeof x->why)
                      : report_rule_parity(&x->p, x->why, sizeof x->why);
        if (x->v == REPORT_NOT_RUN)
            snprintf(x->why, sizeof x->why, "not run in this profile (no paired seeds)");
    }
    if (c->n_blk < CLAIM_MAX_BLK) {
        c->blk[c->n_blk].kind = CB_CMP;
        c->blk[c->n_blk++].cmp = c->n_cmp;
    }
    c->n_cmp++;
    return x;
}

/* The compared side of a claim: a head at its base ratio and settings on a split. */
static struct sel base(const struct rep *R, const char *head, const char *profile)
{
    return sel_base(R, head, profile, base_ratio(R, head));
}

static void claim1(struct claim_result *c, const struct rep *R)
{
    text(c, "### Claim 1: 10 %% of classes ~ all classes (Claim B)\n\n");
    struct sel a = base(R, "dcq", "ms1m"), f = base(R, "full", "ms1m");
    const struct claim_cmp *x = compare(c, R, &a, "dcq 10 %", &f, "full (same loss)", 0);
    verdict(c, x->v, x->why, x->p.n);
    text(c, "**Verdict: %s.**\n\n", x->why);
    struct sel own = {"full", "ms1m", NULL, NULL, base_ratio(R, "full"), NAN, 0}, conds[8];
    int n = conditions(R, &own, conds, 8);
    for (int i = 0; i < n; i++) {
        if (!strcmp(conds[i].loss, R->common_loss)) continue;
        char lab[128];
        snprintf(lab, sizeof lab, "full (%s)", conds[i].loss);
        text(c, "Second baseline (full softmax with its own loss):\n\n");
        x = compare(c, R, &a, "dcq 10 %", &conds[i], lab, 0);
        text(c, "Against the second baseline: %s.\n\n", x->why);
    }
}

/* Claim 2's figures: per-class memory of each bench row, and the dcq/full step time at the
 * largest C both have (same B, threads and d; then the larger d, then the fewer threads). */
static void bench_figures(struct claim_result *c, const struct rep *R, const struct bench_view *v,
                          const int *idx, int n)
{
    const struct tsv *t = &R->bench;
    c->bench.c_ok = c->bench.d_ok = 1;
    c->bench.fl_min = INFINITY;
    c->bench.C = c->bench.d = -1;
    c->bench.T = INFINITY;
    c->bench.tf = c->bench.td = NAN;
    for (int k = 0; k < n; k++) {
        const char *h = tsv_get(t, idx[k], v->c_head);
        double pcb = tsv_num(tsv_get(t, idx[k], v->c_pcb));
        if (!h) continue;
        if (!strcmp(h, "dcq")) {
            c->bench.n_d++;
            c->bench.d_ok &= pcb == 0.0;
            double L = tsv_num(tsv_get(t, idx[k], v->c_ratio)) *
                       tsv_num(tsv_get(t, idx[k], v->c_C));
            double fl = tsv_num(tsv_get(t, idx[k], v->c_fix)) / L;
            if (isfinite(fl)) {
                c->bench.fl_min = fmin(c->bench.fl_min, fl);
                c->bench.fl_max = fmax(c->bench.fl_max, fl);
            }
        } else {
            c->bench.n_c++;
            c->bench.c_ok &= pcb > 0.0;
        }
    }
    for (int k = 0; k < n; k++) {
        int i = idx[k];
        const char *h = tsv_get(t, i, v->c_head);
        if (!h || strcmp(h, "full")) continue;
        for (int l = 0; l < n; l++) {
            int j = idx[l];
            const char *h2 = tsv_get(t, j, v->c_head);
            if (!h2 || strcmp(h2, "dcq")) continue;
            int same = 1;
            const int cols[4] = {v->c_C, v->c_B, v->c_thr, v->c_d};
            for (int q = 0; q < 4; q++)
                same &= tsv_num(tsv_get(t, i, cols[q])) == tsv_num(tsv_get(t, j, cols[q]));
            if (!same) continue;
            double C = tsv_num(tsv_get(t, i, v->c_C)), d = tsv_num(tsv_get(t, i, v->c_d)),
                   T = tsv_num(tsv_get(t, i, v->c_thr));
            if (C > c->bench.C ||
                (C == c->bench.C && (d > c->bench.d || (d == c->bench.d && T < c->bench.T)))) {
                c->bench.C = C;
                c->bench.d = d;
                c->bench.T = T;
                c->bench.tf = tsv_num(tsv_get(t, i, v->c_ms));
                c->bench.td = tsv_num(tsv_get(t, j, v->c_ms));
            }
        }
    }
}

static void claim2(struct claim_result *c, const struct rep *R)
{
    text(c, "### Claim 2: head cost scales with L, not C (Claim A)\n\n");
    if (!R->bench.rows) {
        text(c, "No bench results (run `make bench`).\n\n**Verdict: not run.**\n\n");
        verdict(c, REPORT_NOT_RUN, "not run", 0);
        return;
    }
    struct bench_view v;
    bench_view(&R->bench, &v);
    int *idx = malloc((size_t)R->bench.rows * sizeof *idx);
    if (!idx) {
        verdict(c, REPORT_NOT_RUN, "not run", 0);
        return;
    }
    int n = bench_sorted(R, &v, idx);
    bench_figures(c, R, &v, idx, n);
    free(idx);
    block(c, CB_BENCH);
    text(c, "Rule: reproduced when every full/random/sampled row has per-class memory (~ C) "
            "and every dcq row has none (memory ~ L only). Timing is reported, not judged.\n\n");
    int rows = c->bench.n_c + c->bench.n_d;
    if (c->bench.n_c == 0 || c->bench.n_d == 0)
        verdict(c, REPORT_NOT_RUN, "not run (bench.tsv lacks dcq or C-dependent heads)", rows);
    else if (c->bench.c_ok && c->bench.d_ok)
        verdict(c, REPORT_REPRODUCED, "reproduced (memory)", rows);
    else
        verdict(c, REPORT_NOT_REPRODUCED, "not reproduced (memory)", rows);
    text(c, "**Verdict: %s.**\n\n", c->why);
}

static void claim3(struct claim_result *c, const struct rep *R)
{
    text(c, "### Claim 3: long tail, DCQ beats the full-class baseline (Claim D)\n\n");
    struct sel a = base(R, "dcq", "mf2"), f = base(R, "full", "mf2");
    const struct claim_cmp *x = compare(c, R, &a, "dcq 10 %", &f, "full", 1);
    verdict(c, x->v, x->why, x->p.n);
    text(c, "**Verdict: %s.**\n\n", x->why);
}

/* The tail-specific part of the gain: the long-tail gap minus the balanced gap, by seed. */
static void claim4(struct claim_result *c, const struct rep *R)
{
    text(c, "### Claim 4: the gain comes from tail classes (Claim C)\n\n");
    struct sel s[4] = {base(R, "dcq", "mf2"), base(R, "full", "mf2"), base(R, "dcq", "ms1m"),
                       base(R, "full", "ms1m")};
    struct cell cl[4];
    for (int i = 0; i < 4; i++) cell_select(R, &s[i], &cl[i]);
    struct report_paired *lt = &c->tail.lt, *bal = &c->tail.bal, *p = &c->tail.p;
    paired(R, &cl[0], &cl[1], M_RANK1, PCT, lt);
    paired(R, &cl[2], &cl[3], M_RANK1, PCT, bal);
    memset(p, 0, sizeof *p);
    for (int i = 0; i < lt->n; i++)
        for (int j = 0; j < bal->n; j++)
            if (lt->seed[i] == bal->seed[j]) {
                p->seed[p->n] = lt->seed[i];
                p->a[p->n] = lt->d[i];
                p->b[p->n] = bal->d[j];
                p->n++;
            }
    report_paired_stats(p);
    for (int sp = 0; sp < 2; sp++)
        for (int k = 0; k < N_BUCKETS; k++) {
            char m[64];
            snprintf(m, sizeof m, "tail_acc_mean_%s", report_buckets[k]);
            paired(R, &cl[2 * sp], &cl[2 * sp + 1], m, PCT, &c->tail.q[sp][k]);
        }
    text(c, "Comparison: long-tail gap (dcq 10 %% minus full on mf2) minus balanced gap (dcq 10 %% "
            "minus full on ms1m), MegaFace rank-1 at the largest size, paired by seed: the "
            "tail-specific part of the gain (docs/METHOD.md §5).\n\n");
    block(c, CB_TAIL);
    text(c, "\nRule: %s (applied to the tail-specific part).\n\n", rule_better_text);
    char why[200];
    verdict(c, report_rule_better(p, why, sizeof why), why, p->n);
    text(c, "**Verdict: %s.**\n\n", c->why);
}

static void claim5(struct claim_result *c, const struct rep *R)
{
    char an[64];
    text(c, "### Claim 5: the momentum generator matters (Fig. 2)\n\n");
    struct sel a = base(R, "dcq", "mf2"), z = a;
    z.mu = 0.0;
    snprintf(an, sizeof an, "dcq mu %g", R->main_mu);
    const struct claim_cmp *x = compare(c, R, &a, an, &z, "dcq mu 0", 1);
    verdict(c, x->v, x->why, x->p.n);
    text(c, "**Verdict: %s.**\n\n", x->why);
    struct sel where = {"dcq", "mf2", "ema", R->common_loss, 0.1, NAN, 1}, conds[CLAIM_MAX_MU];
    int n = conditions(R, &where, conds, CLAIM_MAX_MU);
    struct cell ca, cm;
    cell_select(R, &a, &ca);
    for (int i = 0; i < n; i++) {
        cell_select(R, &conds[i], &cm);
        c->mus.mu[i] = conds[i].mu;
        paired(R, &cm, &ca, M_RANK1, PCT, &c->mus.p[i]);
    }
    c->mus.n = n;
    block(c, CB_MUS);
}

static void claim6(struct claim_result *c, const struct rep *R)
{
    text(c, "### Claim 6: DCQ vs random subset at equal budget\n\n"
            "The direction is judged with the better rule; the mf2 verdict is the claim's.\n\n");
    static const char *const splits[2] = {"mf2", "ms1m"};
    for (int sp = 0; sp < 2; sp++) {
        struct sel a = base(R, "dcq", splits[sp]), r = base(R, "random", splits[sp]);
        char an[64], bn[64];
        snprintf(an, sizeof an, "dcq 10 %% (%s)", splits[sp]);
        snprintf(bn, sizeof bn, "random 10 %% (%s)", splits[sp]);
        const struct claim_cmp *x = compare(c, R, &a, an, &r, bn, 1);
        if (sp == 0) verdict(c, x->v, x->why, x->p.n);
        text(c, "**Verdict (%s): %s.**\n\n", splits[sp], x->why);
    }
}

static void claim7(struct claim_result *c, const struct rep *R)
{
    text(c, "### Claim 7: control, Partial FC's own claim (r = 10 %% ~ r = 100 %%)\n\n");
    struct sel a = base(R, "random", "ms1m"), f = base(R, "full", "ms1m");
    const struct claim_cmp *x = compare(c, R, &a, "random 10 %", &f, "full", 0);
    verdict(c, x->v, x->why, x->p.n);
    text(c, "**Verdict: %s.**\n\n", x->why);
    /* "a very small r loses": the smallest ratio below 10 %, better rule full over it */
    struct sel where = {"random", "ms1m", NULL, R->common_loss, NAN, NAN, 0}, conds[32];
    int n = conditions(R, &where, conds, 32);
    if (n && conds[0].ratio < 0.1 - 1e-12) {
        char lab[64];
        snprintf(lab, sizeof lab, "random %g %%", conds[0].ratio * 100);
        text(c, "Second part, a very small ratio loses:\n\n");
        x = compare(c, R, &f, "full", &conds[0], lab, 1);
        text(c, "**Verdict (full beats %s): %s.**\n\n", lab, x->why);
    }
}

static void claim8(struct claim_result *c, const struct rep *R)
{
    text(c, "### Claim 8: evaluate the right network (EMA f_k vs online f_q)\n\n");
    struct sel a = base(R, "dcq", "mf2"), o = a;
    o.net = "online";
    const struct claim_cmp *x = compare(c, R, &a, "dcq EMA (f_k)", &o, "dcq online (f_q)", 1);
    verdict(c, x->v, x->why, x->p.n);
    text(c, "Reproduced means the authors' choice (EMA network) is better by the rule; reversed "
            "means the online network is better.\n\n");
    text(c, "**Verdict: %s.**\n\n", x->why);
}

/* A k-shot setting beating 1-shot contradicts the claim; 1-shot beating every one supports it. */
static void claim9(struct claim_result *c, const struct rep *R)
{
    text(c, "### Claim 9: 1-shot suffices (k-shot generated weights)\n\n");
    struct sel one = base(R, "dcq", "mf2");
    struct sel where = {"dcq", "mf2", "ema", R->common_loss, 0.1, R->main_mu, 0}, conds[32];
    int n = conditions(R, &where, conds, 32), any = 0, better = 0, all_rev = 1, n_min = 0;
    for (int i = 0; i < n; i++) {
        if (conds[i].kshot <= 1) continue;
        char an[64];
        snprintf(an, sizeof an, "dcq kshot %d", conds[i].kshot);
        const struct claim_cmp *x = compare(c, R, &conds[i], an, &one, "dcq kshot 1", 1);
        text(c, "**kshot %d better than kshot 1: %s.**\n\n", conds[i].kshot, x->why);
        n_min = any ? (x->p.n < n_min ? x->p.n : n_min) : x->p.n;
        any = 1;
        better |= x->v == REPORT_REPRODUCED;
        all_rev &= x->v == REPORT_NOT_REPRODUCED;
        if (x->v == REPORT_FEW_SEEDS || x->v == REPORT_NOT_RUN) all_rev = 0;
    }
    if (!any) {
        verdict(c, REPORT_NOT_RUN, "not run in this profile", 0);
        text(c, "**Verdict: %s.**\n\n", c->why);
        return;
    }
    if (better) verdict(c, REPORT_NOT_REPRODUCED, "not reproduced (multi-shot is better)", n_min);
    else if (all_rev)
        verdict(c, REPORT_REPRODUCED, "reproduced (1-shot is better than every k-shot setting)",
                n_min);
    else verdict(c, REPORT_INCONCLUSIVE, "inconclusive at this scale", n_min);
    text(c, "Claim verdict: a k-shot setting beating 1-shot by the better rule contradicts "
            "the claim; 1-shot beating every k-shot setting supports it.\n\n**Verdict: %s.**\n\n",
         c->why);
}

/* ==== render ================================================================================= */

/* Per-seed table and summary of a paired comparison of the primary metric. */
static void paired_block(struct sbuf *b, const struct report_paired *p, const char *an,
                         const char *bn)
{
    if (!p->n) {
        sb_str(b, "No paired seeds (one side has no ok runs).\n\n");
        return;
    }
    sb_printf(b, "| seed | %s | %s | difference |\n|---|---|---|---|\n", an, bn);
    for (int i = 0; i < p->n; i++)
        sb_printf(b, "| %d | %.2f | %.2f | %+.2f |\n", p->seed[i], p->a[i], p->b[i], nz(p->d[i]));
    sb_str(b, "\nMean difference ");
    fmt_diff(b, p);
    if (p->n >= 2)
        sb_printf(b, "; standard error %.2f; baseline std over seeds %.2f", p->se, p->base_std);
    sb_str(b, " (points).\n\n");
}

static void render_cmp(struct sbuf *b, const struct claim_cmp *x)
{
    sb_printf(b, "Comparison: **%s** minus **%s**, MegaFace rank-1 at the largest distractor size "
                 "(%%), paired by seed.\n\n", x->a, x->b);
    if (x->not_run) {
        sb_str(b, "Not run in this profile.\n\n");
        return;
    }
    paired_block(b, &x->p, x->a, x->b);
    sb_str(b, "Secondary (no verdict): TAR@FAR 1e-4 difference ");
    fmt_diff(b, &x->tar4);
    sb_str(b, "; LFW accuracy difference ");
    fmt_diff(b, &x->lfw);
    sb_str(b, ".\n\n");
    sb_printf(b, "Rule: %s.\n\n", x->better ? rule_better_text : rule_parity_text);
}

static void render_bench(struct sbuf *b, const struct claim_result *c)
{
    sb_printf(b, "Memory: %d rows of full/random/sampled, per_class_bytes > 0 in %s of them; "
                 "%d rows of dcq, per_class_bytes == 0 in %s of them",
              c->bench.n_c, c->bench.c_ok ? "all" : "not all", c->bench.n_d,
              c->bench.d_ok ? "all" : "not all");
    if (c->bench.fl_max > 0)
        sb_printf(b, "; dcq fixed bytes per queue slot (L = ratio x C): %.0f to %.0f",
                  c->bench.fl_min, c->bench.fl_max);
    sb_str(b, ".\n\n");
    if (c->bench.C > 0)
        sb_printf(b, "Head step time at the largest common C = %.0f (d = %.0f, %.0f thread(s)): "
                     "dcq %.3f ms, full %.3f ms, ratio dcq/full = %.3f (full / dcq = %.1fx).\n\n",
                  c->bench.C, c->bench.d, c->bench.T, c->bench.td, c->bench.tf,
                  c->bench.td / c->bench.tf, c->bench.tf / c->bench.td);
    else
        sb_str(b, "No C with both a full and a dcq row: no step-time ratio.\n\n");
}

static void render_tail(struct sbuf *b, const struct claim_result *c)
{
    const struct report_paired *p = &c->tail.p;
    sb_str(b, "Long-tail gap ");
    fmt_diff(b, &c->tail.lt);
    sb_str(b, "; balanced gap ");
    fmt_diff(b, &c->tail.bal);
    sb_str(b, ".\n\n");
    if (!p->n) {
        sb_str(b, "No seed has all four runs.\n\n");
    } else {
        sb_str(b, "| seed | long-tail gap | balanced gap | tail-specific |\n|---|---|---|---|\n");
        for (int i = 0; i < p->n; i++)
            sb_printf(b, "| %d | %+.2f | %+.2f | %+.2f |\n", p->seed[i], nz(p->a[i]), nz(p->b[i]),
                      nz(p->d[i]));
        sb_str(b, "\nTail-specific part ");
        fmt_diff(b, p);
        if (p->n >= 2) sb_printf(b, "; standard error %.2f", p->se);
        sb_str(b, " (points).\n\n");
    }
    sb_str(b, "Per-bucket accuracy gaps (dcq minus full, held-out accuracy against class means, "
              "points, paired by seed):\n\n| split |");
    for (int k = 0; k < N_BUCKETS; k++) sb_printf(b, " %s |", report_buckets[k]);
    sb_str(b, "\n|---|");
    for (int k = 0; k < N_BUCKETS; k++) sb_str(b, "---|");
    sb_str(b, "\n");
    for (int sp = 0; sp < 2; sp++) {
        sb_printf(b, "| %s |", sp ? "ms1m" : "mf2");
        for (int k = 0; k < N_BUCKETS; k++) {
            sb_str(b, " ");
            fmt_diff(b, &c->tail.q[sp][k]);
            sb_str(b, " |");
        }
        sb_str(b, "\n");
    }
}

static void render_mus(struct sbuf *b, const struct claim_result *c)
{
    sb_str(b, "Every mu against the main mu (rank-1, points): ");
    for (int i = 0; i < c->mus.n; i++) {
        sb_printf(b, "%smu %g: ", i ? "; " : "", c->mus.mu[i]);
        fmt_diff(b, &c->mus.p[i]);
    }
    sb_str(b, c->mus.n ? ".\n\n" : "none.\n\n");
}

/* The one renderer: a claim's blocks in order. */
static void render(struct sbuf *b, const struct claim_result *c)
{
    for (int i = 0; i < c->n_blk; i++) {
        const struct claim_block *k = &c->blk[i];
        switch (k->kind) {
        case CB_TEXT: sb_str(b, k->text); break;
        case CB_CMP: render_cmp(b, &c->cmp[k->cmp]); break;
        case CB_BENCH: render_bench(b, c); break;
        case CB_TAIL: render_tail(b, c); break;
        case CB_MUS: render_mus(b, c); break;
        }
    }
}

int report_claims(struct sbuf *b, const struct rep *R, enum report_verdict *v,
                  struct dcqb_err *err)
{
    static void (*const claims[REPORT_N_CLAIMS])(struct claim_result *, const struct rep *) = {
        claim1, claim2, claim3, claim4, claim5, claim6, claim7, claim8, claim9};
    struct claim_result *c = malloc(sizeof *c);
    if (!c) return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
    for (int i = 0; i < REPORT_N_CLAIMS; i++) {
        memset(c, 0, sizeof *c);
        claims[i](c, R);
        v[i] = c->verdict;
        render(b, c);
    }
    free(c);
    return DCQB_OK;
}
