/* report_tables.c - Tables 1-5 of REPORT.md. Each metric table is a list of columns {header,
 * metric, scale, decimals}: a column is one line here, and the header row and every cell come
 * from the same list. Rows come from the runs (report_select.c), heads from R->heads. */
#include "report_int.h"

#include <math.h>
#include <stdlib.h>

static const struct tcol t1_cols[] = {
    {"LFW acc", M_LFW, PCT, 2, 0},
    {"TAR@FAR 1e-3", M_TAR3, PCT, 2, 0},
    {"TAR@FAR 1e-4", M_TAR4, PCT, 2, 0},
    {"MegaFace rank-1 (largest)", M_RANK1, PCT, 2, 0},
    {"head memory (MB)", "head_mem_mb", 1.0, 2, 0},
    {"samples/s", "samples_per_s", 1.0, 0, 0},
    {"eff. classes / step", "eff_classes_mean", 1.0, 0, 1},
    {"L/B", "queue_staleness", 1.0, 2, 1},
    {NULL, NULL, 0, 0, 0},
};
static const struct tcol t2_cols[] = {
    {"MegaFace rank-1 (largest)", M_RANK1, PCT, 2, 0},
    {"TAR@FAR 1e-4", M_TAR4, PCT, 2, 0},
    {"TAR@FAR 1e-6", M_TAR6, PCT, 2, 0},
    {"LFW acc", M_LFW, PCT, 2, 0},
    {"eff. classes / step", "eff_classes_mean", 1.0, 0, 1},
    {"L/B", "queue_staleness", 1.0, 2, 1},
    {NULL, NULL, 0, 0, 0},
};
static const struct tcol t4_cols[] = {
    {"MegaFace rank-1 (largest)", M_RANK1, PCT, 2, 0},
    {"TAR@FAR 1e-4", M_TAR4, PCT, 2, 0},
    {"LFW acc", M_LFW, PCT, 2, 0},
    {"L/B", "queue_staleness", 1.0, 2, 1},
    {NULL, NULL, 0, 0, 0},
};

/* What the label columns and flags mean (after the first table that has them). */
static void labels_note(struct sbuf *b, const struct rep *R)
{
    sb_printf(b, "Runs on data configuration `%s` (the one with the most runs), untuned unless "
                 "marked \"tuned\" (tuning-grid runs: only under Chosen configurations). "
                 "eff. classes / step = logit columns per step, positives "
              "included (full: C; random: max(int(rC), distinct labels); sampled: S + true classes "
              "not sampled; dcq: 1 + L). L/B = dcq's queue length over the batch, how many steps "
              "a queued class weight lives (n/a: no queue). \"positives-only\": int(rC) is below "
              "the batch's mean distinct labels, so every step holds just the batch's own classes "
              "and the arm does not test its ratio.\n\n", rep_main_data(R));
}

static void table1(struct sbuf *b, const struct rep *R, struct sel *conds)
{
    struct sel where = {NULL, "ms1m", NULL, NULL, NAN, NAN, 0, RV_MAIN, rep_main_data(R), "-",
                        NULL, NULL};
    int n = conditions(R, &where, conds, MAX_COND);
    where.tune = "best"; /* the tuned arms after the common-loss rows */
    n += conditions(R, &where, conds + n, MAX_COND - n);
    sb_str(b, "## Table 1: ratio study on the balanced ms1m-like split\n\n");
    sb_printf(b, "![Accuracy against the ratio L/C](%sacc_vs_ratio.png)\n\n", R->fig);

    if (!n) {
        sb_str(b, "Not run in this profile.\n\n");
        return;
    }
    static const double paper[] = {0.01, 0.02, 0.05, 0.1, 0.2, 0.5};
    char dropped[128] = "";
    size_t k = 0;
    for (int i = 0; i < 6; i++) {
        int have = 0;
        for (int j = 0; j < n; j++)
            have |= !head_is_whole(R, conds[j].head) && same_num(conds[j].ratio, paper[i]);
        if (!have)
            k += (size_t)snprintf(dropped + k, sizeof dropped - k, "%s%g %%", k ? ", " : "",
                                  paper[i] * 100);
    }
    sb_printf(b, "Ratios run: partial heads at L/C as listed; ratios of {1, 2, 5, 10, 20, 50} %% "
                 "dropped in this profile: %s.\n\n", k ? dropped : "none");
    tab_head(b, R, "head", t1_cols, "seeds");
    for (int i = 0; i < n; i++) {
        struct cell c;
        char lab[160];
        cell_select(R, &conds[i], &c);
        arm_label(R, &conds[i], &c, lab, sizeof lab);
        sb_printf(b, "| %s | ", lab);
        tab_cells(b, R, &c, t1_cols);
        sb_printf(b, "%d%s |\n", c.n, c.failed ? " (+failed)" : "");
    }
    sb_str(b, "\n");
    labels_note(b, R);
}

static void table2(struct sbuf *b, const struct rep *R)
{
    sb_str(b, "## Table 2: long-tail study on the mf2-like split (partial heads at 10 %)\n\n");
    sb_printf(b, "![Rank-1 against distractor size, mf2-like](%srank1_size_mf2.png)\n\n", R->fig);
    sb_printf(b, "![ROC, mf2-like](%sroc_mf2.png)\n\n", R->fig);

    tab_head(b, R, "head", t2_cols, "seeds");
    int any = 0;
    for (int h = 0; h < R->n_heads; h++)
        for (int t = 0; t < 2; t++) { /* the common-loss arm, then the tuned one */
            const char *hd = R->heads[h];
            struct sel s = arm_base(R, hd, "mf2", base_ratio(R, hd), t ? "best" : "-");
            struct cell c;
            cell_select(R, &s, &c);
            if (!c.n && !c.failed) continue;
            any = 1;
            char lab[200];
            arm_label(R, &s, &c, lab, sizeof lab);
            sb_printf(b, "| %s | ", lab);
            tab_cells(b, R, &c, t2_cols);
            sb_printf(b, "%d |\n", c.n);
        }
    sb_str(b, any ? "\n" : "| (not run in this profile) | | | | | |\n\n");
}

static void table3(struct sbuf *b, const struct rep *R)
{
    static const char *const what[3] = {"tail_acc_mean_", "tail_acc_weight_", "tail_cos_"};
    static const char *const title[3] = {
        "held-out top-1 accuracy against class means (%)",
        "held-out top-1 accuracy against learned class weights (%)",
        "cosine(learned weight, class mean) x 100"};
    static const char *const splits[2] = {"mf2", "ms1m"};
    sb_str(b, "## Table 3: tail diagnostics by training-class size (partial heads at 10 %)\n\n");
    sb_printf(b, "![Held-out accuracy by class size, mf2-like](%stail_mf2.png)\n\n", R->fig);
    sb_printf(b, "![Held-out accuracy by class size, ms1m-like](%stail_ms1m.png)\n\n", R->fig);

    for (int w = 0; w < 3; w++) {
        sb_printf(b, "%s:\n\n| split | head |", title[w]);
        for (int k = 0; k < N_BUCKETS; k++) sb_printf(b, " %s |", report_buckets[k]);
        sb_str(b, "\n|---|---|");
        for (int k = 0; k < N_BUCKETS; k++) sb_str(b, "---|");
        sb_str(b, "\n");
        for (int sp = 0; sp < 2; sp++)
            for (int h = 0; h < R->n_heads; h++) {
                const char *hd = R->heads[h];
                struct sel s = arm_base(R, hd, splits[sp], base_ratio(R, hd), "-");
                struct cell c;
                cell_select(R, &s, &c);
                if (!c.n) continue;
                sb_printf(b, "| %s | %s |", splits[sp], hd);
                for (int k = 0; k < N_BUCKETS; k++) {
                    char m[64];
                    snprintf(m, sizeof m, "%s%s", what[w], report_buckets[k]);
                    sb_str(b, " ");
                    fmt_stat(b, R, &c, m, PCT, 2);
                    sb_str(b, " |");
                }
                sb_str(b, "\n");
            }
        sb_str(b, "\n");
    }
    sb_str(b, "Buckets are training images per class (b1_2 = 1-2, ..., b51_plus = 51 or more). "
              "n/a: the head has no class weights (dcq) or the bucket is empty.\n\n");
}

/* Table 4's settings cells: a value runs.tsv lacks shows as "missing". */
static void t4_settings(struct sbuf *b, const struct sel *s)
{
    char r[32];
    fmt_ratio(r, sizeof r, s->ratio);
    sb_printf(b, "| %s | ", isnan(s->ratio) ? "missing" : r);
    if (isnan(s->mu)) sb_str(b, "missing | ");
    else sb_printf(b, "%g | ", s->mu);
    if (s->kshot) sb_printf(b, "%d | ", s->kshot);
    else sb_str(b, "missing | ");
    sb_printf(b, "%s | ", s->net ? s->net : "missing");
}

static void table4(struct sbuf *b, const struct rep *R, struct sel *conds)
{
    struct sel where = {"dcq", "mf2", NULL, R->common_loss, NAN, NAN, 0, RV_MAIN,
                        rep_main_data(R), "-", NULL, NULL};
    int n = conditions(R, &where, conds, MAX_COND);
    sb_str(b, "## Table 4: DCQ ablations on the mf2-like split\n\n");
    sb_printf(b, "![Training loss, mf2-like](%sloss_mf2.png)\n\n", R->fig);

    if (!n) {
        sb_str(b, "Not run in this profile.\n\n");
        return;
    }
    struct sel base = arm_base(R, "dcq", "mf2", base_ratio(R, "dcq"), "-");
    struct cell cb;
    cell_select(R, &base, &cb);
    sb_printf(b, "Paired differences are against the base setting (ratio 10 %%, mu %g, kshot 1, "
                 "EMA network), in points.\n\n", R->main_mu);
    tab_head(b, R, "ratio | mu | kshot | eval net", t4_cols, "rank-1 minus base (paired) | seeds");
    for (int i = 0; i < n; i++) {
        struct cell c;
        cell_select(R, &conds[i], &c);
        t4_settings(b, &conds[i]);
        tab_cells(b, R, &c, t4_cols);
        if (sel_match(&base, &R->r[c.n ? c.run[0] : 0]) && c.n) {
            sb_str(b, "(base)");
        } else {
            struct report_paired p;
            paired(R, &c, &cb, M_RANK1, PCT, &p);
            fmt_diff(b, &p);
        }
        sb_printf(b, " | %d |\n", c.n);
    }
    sb_str(b, "\n");
}

/* A column of Table 5: a bench.tsv column (dec < 0: text), or (NULL) the head memory from its
 * parts. */
struct bcol {
    const char *header, *column;
    int dec;
};

static const struct bcol t5_cols[] = {
    {"d", "d", 0},
    {"C", "C", 0},
    {"B", "B", 0},
    {"threads", "threads", 0},
    {"ISA", "isa", -1},                           /* the kernels' path the row ran on */
    {"ratio", "ratio", 3},
    {"head step ms (median)", "head_ms", 3},      /* the head step alone, median */
    {"GFLOP/s", "head_gflops", 1},
    {"x GEMM bound", "bound_ratio", 2},           /* head step / its GEMMs alone */
    {"x bound (fastest reps)", "min_ratio", 2},   /* the same from the fastest reps */
    {"step ms", "total_ms", 3},                   /* training's whole step, median */
    {"x step GEMMs", "step_ratio", 2},            /* whole step / the step's GEMMs alone */
    {"head memory (MB)", NULL, 2},
    {"peak RSS (MB)", "peak_rss_mb", 1},
    {NULL, NULL, 0},
};

static void t5_row(struct sbuf *b, const struct tsv *t, const struct bench_view *v, int i)
{
    const char *h = tsv_get(t, i, v->c_head);
    sb_printf(b, "| %s |", h ? h : "?");
    for (int k = 0; t5_cols[k].header; k++) {
        if (t5_cols[k].dec < 0) {
            const char *s = tsv_get(t, i, tsv_col(t, t5_cols[k].column));
            sb_printf(b, " %s |", s && *s ? s : "NA");
            continue;
        }
        double x = t5_cols[k].column ? tsv_num(tsv_get(t, i, tsv_col(t, t5_cols[k].column)))
                                     : bench_mem_mb(t, v, i);
        if (isnan(x)) sb_str(b, " NA |");
        else sb_printf(b, " %.*f |", t5_cols[k].dec, x);
    }
    sb_str(b, "\n");
}

/* Refused configurations carry the memory they would have needed: say so. */
static void t5_refused(struct sbuf *b, const struct tsv *t, const struct bench_view *v)
{
    int first = 1;
    for (int i = 1; i < t->rows; i++) {
        const char *st = tsv_get(t, i, v->c_st);
        if (!st || strcmp(st, "refused") != 0) continue;
        if (first) sb_str(b, "Refused before allocating (memory plan):\n\n");
        first = 0;
        const char *h = tsv_get(t, i, v->c_head), *e = tsv_get(t, i, v->c_err);
        sb_printf(b, "- %s, d = %.0f, C = %.0f, %.0f thread(s): %s\n", h ? h : "?",
                  tsv_num(tsv_get(t, i, v->c_d)), tsv_num(tsv_get(t, i, v->c_C)),
                  tsv_num(tsv_get(t, i, v->c_thr)), e ? e : "");
    }
    if (!first) sb_str(b, "\n");
}

/* The machine(s) and ISA path(s) the listed rows were measured on, from the rows' own columns
 * (never the machine the report runs on): one line when they agree, a list when they do not. */
#define T5_MAX_MACHINES 8
static const char *t5_cell(const struct tsv *t, int i, int c)
{
    const char *s = c >= 0 ? tsv_get(t, i, c) : NULL;
    return s && *s ? s : "?";
}

static void t5_machine(struct sbuf *b, const struct tsv *t, const int *idx, int n)
{
    const int c_cpu = tsv_col(t, "cpu_model"), c_isa = tsv_col(t, "isa");
    const int c_l1 = tsv_col(t, "l1d_kb"), c_l2 = tsv_col(t, "l2_kb"), c_l3 = tsv_col(t, "l3_kb");
    const int c_blas = tsv_col(t, "blas_core");
    if (c_cpu < 0 || c_isa < 0) {
        sb_str(b, "Machine: not recorded (a bench.tsv from before the machine columns).\n\n");
        return;
    }
    char mach[T5_MAX_MACHINES][320], isa[T5_MAX_MACHINES][16];
    int nm = 0, ni = 0, more = 0;
    for (int r = 0; r < n; r++) {
        const int i = idx[r];
        const char *is = t5_cell(t, i, c_isa);
        char m[320];
        snprintf(m, sizeof m, "%s (L1d %s KiB, L2 %s KiB per core, L3 %s KiB), BLAS core %s",
                 t5_cell(t, i, c_cpu), t5_cell(t, i, c_l1), t5_cell(t, i, c_l2),
                 t5_cell(t, i, c_l3), t5_cell(t, i, c_blas));
        int k = 0;
        while (k < nm && strcmp(mach[k], m) != 0) k++;
        if (k == nm && nm < T5_MAX_MACHINES) snprintf(mach[nm++], sizeof mach[0], "%s", m);
        else if (k == nm) more = 1;
        k = 0;
        while (k < ni && strcmp(isa[k], is) != 0) k++;
        if (k == ni && ni < T5_MAX_MACHINES) snprintf(isa[ni++], sizeof isa[0], "%s", is);
    }
    if (nm == 1) {
        sb_printf(b, "Machine: %s. ISA path%s: ", mach[0], ni > 1 ? "s" : "");
    } else {
        sb_printf(b, "The rows come from %d%s machines (compare rows of one machine only):\n\n",
                  nm, more ? "+" : "");
        for (int k = 0; k < nm; k++) sb_printf(b, "- %s\n", mach[k]);
        sb_printf(b, "\nISA path%s: ", ni > 1 ? "s" : "");
    }
    for (int k = 0; k < ni; k++) sb_printf(b, "%s%s", k ? ", " : "", isa[k]);
    sb_str(b, ni > 1 ? " (one row per path: see the ISA column).\n\n" : ".\n\n");
}

static void table5(struct sbuf *b, const struct rep *R)
{
    sb_str(b, "## Table 5: head cost as the number of classes grows (results/bench/bench.tsv)\n\n");
    sb_printf(b, "![Head cost against the number of classes](%scost_vs_classes.png)\n\n", R->fig);

    if (!R->bench.rows) {
        sb_str(b, "No bench results: run `make bench`.\n\n");
        return;
    }
    const struct tsv *t = &R->bench;
    struct bench_view v;
    bench_view(t, &v);
    int *idx = malloc((size_t)t->rows * sizeof *idx);
    if (!idx) return;
    int n = bench_sorted(R, &v, idx);
    int k = 0;
    t5_machine(b, t, idx, n);
    sb_str(b, "| head |");
    for (; t5_cols[k].header; k++) sb_printf(b, " %s |", t5_cols[k].header);
    sb_str(b, "\n|---|");
    for (int i = 0; i < k; i++) sb_str(b, "---|");
    sb_str(b, "\n");
    for (int i = 0; i < n; i++) t5_row(b, t, &v, idx[i]);
    if (!n) {
        sb_str(b, "| (no ok rows) |");
        for (int i = 0; i < k; i++) sb_str(b, " |");
        sb_str(b, "\n");
    }
    sb_str(b, "\nHead memory = per_class_bytes x C + fixed_bytes. x GEMM bound = median head step /"
              " median time of the head's GEMMs alone (same shapes, same run); the fastest-reps"
              " column divides the minima, steadier when other processes share the cores. x step"
              " GEMMs = median training step / median time of the step's GEMMs alone (backbone"
              " forward and backward, the EMA key forward, the head's GEMMs; docs/METHOD.md"
              " §6).\n\n");
    t5_refused(b, t, &v);
    free(idx);
}

void report_tables(struct sbuf *b, const struct rep *R, struct sel *conds)
{
    table1(b, R, conds);
    table2(b, R);
    table3(b, R);
    table4(b, R, conds);
    table5(b, R);
}
