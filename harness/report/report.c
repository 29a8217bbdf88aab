/* report.c - see report.h. runs.tsv (+ bench.tsv) -> REPORT.md, claim verdicts and derived TSVs.
 * This file writes the report's head (settings, what runs.tsv lacks) and its failed-runs
 * section and puts the sections together; the sections live in report_tables.c,
 * report_claims.c and report_derived.c, the numbers behind them in report_select.c.
 */
#include "report_int.h"

#include "fsutil.h"

#include <math.h>
#include <stdlib.h>

/* Sorted distinct strings into seen (at most 64); returns the count. */
static int add_distinct(const char **seen, int n, const char *v)
{
    for (int k = 0; k < n; k++)
        if (!strcmp(seen[k], v)) return n;
    if (n == 64) return n;
    int k = n++;
    while (k > 0 && strcmp(seen[k - 1], v) > 0) {
        seen[k] = seen[k - 1];
        k--;
    }
    seen[k] = v;
    return n;
}

/* `label` and the distinct values of runs.tsv column `col` over the runs, sorted, each with
 * its count of runs ("NA" where the column is missing or empty). */
static void distinct_col(struct sbuf *b, const struct rep *R, const char *label, const char *col)
{
    const int c = tsv_col(&R->t, col);
    const char *seen[64];
    int n = 0;
    for (int i = 0; i < R->n_runs; i++) {
        const char *v = c >= 0 ? tsv_get(&R->t, R->r[i].row, c) : NULL;
        n = add_distinct(seen, n, v && *v ? v : "NA");
    }
    sb_str(b, label);
    for (int k = 0; k < n; k++) {
        int cnt = 0;
        for (int i = 0; i < R->n_runs; i++) {
            const char *v = c >= 0 ? tsv_get(&R->t, R->r[i].row, c) : NULL;
            cnt += !strcmp(v && *v ? v : "NA", seen[k]);
        }
        sb_printf(b, "%s`%s` (%d)", k ? ", " : "", seen[k], cnt);
    }
    sb_str(b, n ? "\n" : "none\n");
}

/* Distinct values of config key `key` over runs matching profile (NULL any), comma-joined. */
static void distinct_cfg(struct sbuf *b, const struct rep *R, const char *key, const char *profile)
{
    const char *seen[64];
    int n = 0;
    for (int i = 0; i < R->n_runs; i++) {
        if (profile && strcmp(R->r[i].profile, profile)) continue;
        const char *v = run_cfg(R, R->r[i].row, key);
        n = add_distinct(seen, n, v ? v : "NA");
    }
    if (!n) sb_str(b, "–");
    for (int k = 0; k < n; k++) sb_printf(b, "%s%s", k ? ", " : "", seen[k]);
}

/* The distractor count the evaluation used, from the runs' metrics (megaface_n_distractors),
 * never from the configuration that asked for it: one value, or each value with its runs. */
static void distractors_used(struct sbuf *b, const struct rep *R)
{
    double v[64];
    int cnt[64], n = 0;
    for (int i = 0; i < R->n_runs; i++) {
        double x = run_num(R, i, "megaface_n_distractors");
        if (!R->r[i].ok || isnan(x)) continue;
        int k = 0;
        while (k < n && v[k] != x) k++;
        if (k == n) {
            if (n == 64) continue;
            while (k > 0 && v[k - 1] > x) { /* ascending */
                v[k] = v[k - 1];
                cnt[k] = cnt[k - 1];
                k--;
            }
            v[k] = x;
            cnt[k] = 0;
            n++;
        }
        cnt[k]++;
    }
    if (!n) sb_str(b, "not in the runs' metrics (megaface_n_distractors)");
    else if (n == 1) sb_printf(b, "%.0f", v[0]);
    else {
        sb_str(b, "**differ between runs**: ");
        for (int k = 0; k < n; k++)
            sb_printf(b, "%s%.0f (%d run%s)", k ? ", " : "", v[k], cnt[k], cnt[k] == 1 ? "" : "s");
    }
}

/* Values the report needs that runs.tsv does not hold: shown, never filled with a default. */
static void missing_line(struct sbuf *b, const struct rep *R)
{
    if (!R->n_miss) return;
    sb_str(b, "- Missing in runs.tsv (shown as \"missing\"; the report never fills in a default): ");
    for (int i = 0; i < R->n_miss; i++)
        sb_printf(b, "%s%s %s (%d run%s)", i ? "; " : "", R->miss[i].head, R->miss[i].key,
                  R->miss[i].runs, R->miss[i].runs == 1 ? "" : "s");
    sb_str(b, "\n");
}

static void header(struct sbuf *b, const struct rep *R, const char *profile)
{
    if (R->o->profile) sb_printf(b, "# dcqbench reproduction report: profile %s\n\n", profile);
    else sb_printf(b, "# dcqbench report: sweep %s\n\n", R->sweep);
    if (R->smoke)
        sb_str(b, "> **Smoke profile: toy scale. These numbers exercise the pipeline; they are not "
                  "evidence for or against any claim (smoke scale: not evidence).**\n\n");
    if (R->o->timestamp) sb_printf(b, "Generated: %s\n\n", R->o->timestamp);
    sb_printf(b, "- Sweep: `%s` (results in `%s/`)\n", R->sweep, R->dir);
    sb_printf(b, "- Runs: %d distinct (%d ok, %d failed; %d retried, the last row counts)\n",
              R->n_runs, R->n_ok, R->n_failed, R->n_retried);
    if (R->n_torn)
        sb_printf(b, "- Torn rows in runs.tsv (a writer stopped mid-line), not counted: %d\n",
                  R->n_torn);
    int n_grid = 0, n_best = 0;
    for (int i = 0; i < R->n_runs; i++) {
        n_grid += !strcmp(R->r[i].tune, "grid");
        n_best += !strcmp(R->r[i].tune, "best");
    }
    if (n_grid || n_best)
        sb_printf(b, "- Tuning: %d grid runs (tune = grid: judged on the validation split only, "
                     "never in a comparison), %d test runs of tuned arms (tune = best)\n",
                  n_grid, n_best);
    distinct_col(b, R, "- Git revisions in runs.tsv: ", "git_rev");
    /* bits are reproducible per BLAS kernel (README "Determinism"): a sweep finished on
     * another machine or kernel shows here */
    distinct_col(b, R, "- BLAS kernels (OpenBLAS core) in runs.tsv: ", "blas_core");
    static const char *const scale[6][3] = {
        {"- Scale: ms1m-like ids ", "ids", "ms1m"}, {"; mf2-like ids ", "ids", "mf2"},
        {"; steps ", "steps", NULL}, {"; batch ", "batch", NULL},
        {"; distractors ", NULL, NULL}, {"; seeds ", "seed", NULL}};
    int by_epochs = 0; /* runs given epochs, not steps (a scale ladder): show the epochs */
    for (int i = 0; i < R->n_runs; i++)
        by_epochs |= !run_cfg(R, R->r[i].row, "steps") && run_cfg(R, R->r[i].row, "epochs");
    for (int i = 0; i < 6; i++) {
        sb_str(b, scale[i][0]);
        if (by_epochs && !strcmp(scale[i][0], "; steps ")) {
            distinct_cfg(b, R, "steps", NULL);
            sb_str(b, "; epochs ");
            distinct_cfg(b, R, "epochs", NULL);
        } else if (scale[i][1]) {
            distinct_cfg(b, R, scale[i][1], scale[i][2]);
        } else {
            distractors_used(b, R);
        }
    }
    if (R->n_data > 1 || strcmp(R->datas[0], "default")) {
        sb_str(b, "\n- Data configurations (report.data; the first is the one the tables and the "
                  "claims' details show): ");
        for (int k = 0; k < R->n_data; k++) sb_printf(b, "%s%s", k ? ", " : "", R->datas[k]);
    }
    sb_printf(b, "\n- Common loss (every head unless marked \"own loss\"): %s\n",
              R->common_loss[0] ? R->common_loss : "–");
    if (!isnan(R->main_mu))
        sb_printf(b, "- DCQ main momentum mu: %g (the mu of the dcq runs on ms1m)\n", R->main_mu);
    missing_line(b, R);
    sb_str(b, "- Cells: mean ± sample std over seeds, in % with 2 decimals for accuracies; "
              "\"(n=2)\" marks fewer than 3 seeds; \"n/a\" = runs exist but the metric is undefined "
              "(e.g. TAR at a FAR below 1 / impostor pairs); \"–\" = not run.\n");
    sb_str(b, "- Primary metric of every claim: MegaFace rank-1 at the largest distractor size; "
              "TAR@FAR 1e-4 and LFW accuracy get the same interval and are flagged when they "
              "contradict it.\n");
    sb_printf(b, "- Rules (docs/METHOD.md §5): unit of evidence = the paired difference per seed "
                 "(same data, batches and backbone init). Better: 95 %% t interval above 0, "
                 "reversed below 0, else inconclusive; |difference| within %.2f points "
                 "(smallest effect of interest%s) = negligible. Equivalence / non-inferiority: "
                 "two one-sided tests, margin delta = %.2f points%s, 90 %% interval within "
                 "+-delta (above -delta). Holm's step-down across the claims' primary tests; "
                 "an inconclusive comparison states the seeds its observed spread would need. "
                 "Controls under the verdicts.\n\n",
              R->sesoi, R->sesoi_given ? ", declared in the sweep" : ", default", R->delta,
              R->delta_given ? ", declared in the sweep" : ", default");
}

static void failed_section(struct sbuf *b, const struct rep *R)
{
    sb_str(b, "## Failed runs\n\n");
    if (!R->n_failed) {
        sb_str(b, "None.\n\n");
        return;
    }
    int c_err = tsv_col(&R->t, "err_msg");
    sb_str(b, "| run_id | head | profile | seed | error |\n|---|---|---|---|---|\n");
    for (int i = 0; i < R->n_runs; i++) {
        const struct rrun *u = &R->r[i];
        if (u->ok) continue;
        const char *e = tsv_get(&R->t, u->row, c_err);
        sb_printf(b, "| %s | %s | %s | ", u->run_id, u->head, u->profile);
        if (u->seed >= 0) sb_printf(b, "%d | ", u->seed);
        else sb_str(b, "missing | ");
        for (const char *q = e ? e : "NA"; *q; q++) {
            if (*q == '|') sb_str(b, "\\|");
            else sb_add(b, q, 1);
        }
        sb_str(b, " |\n");
    }
    sb_str(b, "\n");
}

/* runs.tsv and (when present) bench.tsv into R. */
static int load(struct rep *R, const char *root, struct report_summary *sum,
                struct dcqb_err *err)
{
    const struct report_opts *o = R->o;
    char path[1200], *text = NULL;
    snprintf(path, sizeof path, "%s/runs.tsv", R->dir);
    int rc = file_read_all(&text, NULL, path, 0, err);
    if (rc) return rc;
    if (!text) return DCQB_FAIL(err, DCQB_EIO, "%s: not found (run the sweep first)", path);
    if ((rc = tsv_parse(&R->t, text, path, err))) return rc;
    if ((rc = rep_load_runs(R, err))) return rc;
    sum->rows = R->t.rows - 1;
    sum->runs = R->n_runs;
    sum->ok = R->n_ok;
    sum->failed = R->n_failed;
    sum->retried = R->n_retried;
    sum->bench_rows = -1;
    if (o->bench_tsv) snprintf(path, sizeof path, "%s", o->bench_tsv);
    else snprintf(path, sizeof path, "%s/bench/bench.tsv", root);
    if ((rc = file_read_all(&text, NULL, path, 0, err))) return rc;
    if (text && (rc = tsv_parse(&R->bench, text, path, err))) return rc;
    if (R->bench.rows) {
        struct bench_view v;
        bench_view(&R->bench, &v);
        sum->bench_rows = 0;
        for (int i = 1; i < R->bench.rows; i++) sum->bench_rows += bench_row_ok(&R->bench, &v, i);
    }
    return DCQB_OK;
}

/* REPORT.md: head, control warnings, tables, claims, verdicts, controls, failed runs; the
 * forest data and derived/verdicts.tsv are kept in o for report_derived's folder. */
static int write_report(struct rep *R, const char *profile, struct report_summary *sum,
                        struct claims_md *o, struct dcqb_err *err)
{
    struct sel *conds = malloc(MAX_COND * sizeof *conds);
    if (!conds) return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
    struct sbuf b = {0};
    int rc = report_claims(o, R, sum, err);
    header(&b, R, profile);
    sb_add(&b, o->top.p ? o->top.p : "", o->top.n);
    /* a scale ladder is the sweep's point: its section first */
    report_scale(&b, R, sum);
    report_tables(&b, R, conds);
    report_arms(&b, R, conds);
    free(conds);
    sb_add(&b, o->body.p ? o->body.p : "", o->body.n);
    failed_section(&b, R);
    if (!rc && (b.oom || o->top.oom || o->body.oom))
        rc = DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
    if (!rc) rc = file_write_atomic(sum->out, b.p, b.n, err);
    if (!rc) rc = report_latex(sum->out, b.p, b.n, err);
    sb_free(&b);
    return rc;
}

static const char *const known_profiles[] = {"smoke", "default", "paper", NULL};

/* make_plots.sh writes <root>/figures/<profile>_<figure>.png, profile = the sweep name without
 * "reproduce_": the link from REPORT.md's folder (the root, or the sweep's folder). */
static void figure_prefix(struct rep *R, const char *root, const char *out)
{
    const char *prof = strncmp(R->sweep, "reproduce_", 10) ? R->sweep : R->sweep + 10;
    const char *sl = strrchr(out, '/');
    size_t dl = sl ? (size_t)(sl - out) : 0;
    if (dl == strlen(root) && !strncmp(out, root, dl))
        snprintf(R->fig, sizeof R->fig, "figures/%s_", prof);
    else if (dl == strlen(R->dir) && !strncmp(out, R->dir, dl))
        snprintf(R->fig, sizeof R->fig, "../figures/%s_", prof);
    else if (!sl && !strcmp(root, "."))
        snprintf(R->fig, sizeof R->fig, "figures/%s_", prof);
    else snprintf(R->fig, sizeof R->fig, "%s/figures/%s_", root, prof);
}

int report_write(const struct report_opts *o, struct report_summary *sum, struct dcqb_err *err)
{
    struct rep R;
    memset(&R, 0, sizeof R);
    memset(sum, 0, sizeof *sum);
    R.o = o;
    const char *root = o->results_dir ? o->results_dir : "results";
    const char *profile = o->profile ? o->profile : "(unnamed)";
    if (o->sweep) snprintf(R.sweep, sizeof R.sweep, "%s", o->sweep);
    else if (o->profile) {
        int k = 0;
        while (known_profiles[k] && strcmp(known_profiles[k], o->profile)) k++;
        if (!known_profiles[k])
            return DCQB_FAIL(err, DCQB_EINVAL, "unknown profile '%s' (known: smoke, default, "
                             "paper; or name the sweep with --sweep)", o->profile);
        snprintf(R.sweep, sizeof R.sweep, "reproduce_%s", o->profile);
    } else return DCQB_FAIL(err, DCQB_EINVAL, "report: give a profile or a sweep name");
    R.smoke = strstr(R.sweep, "smoke") || (o->profile && !strcmp(o->profile, "smoke"));
    sum->smoke = R.smoke;
    snprintf(R.dir, sizeof R.dir, "%s/%s", root, R.sweep);
    if (o->out) snprintf(sum->out, sizeof sum->out, "%.500s", o->out);
    else snprintf(sum->out, sizeof sum->out, "%.480s/REPORT.md", root);
    figure_prefix(&R, root, sum->out);
    struct claims_md cm;
    memset(&cm, 0, sizeof cm);
    int rc = load(&R, root, sum, err);
    if (!rc) rc = write_report(&R, profile, sum, &cm, err);
    if (!rc && !o->no_derived) {
        snprintf(R.derived, sizeof R.derived, "%s/derived", R.dir);
        rc = fs_mkdir_p(R.derived, err);
        if (!rc) rc = report_derived(&R, err);
        if (!rc) rc = report_derived_put(&R, "forest.tsv", &cm.forest, err);
        if (!rc) rc = report_derived_put(&R, "verdicts.tsv", &cm.verdicts, err);
        if (!rc) rc = report_derived_put(&R, "verdict_matrix.tsv", &cm.matrix, err);
        if (!rc) snprintf(sum->derived, sizeof sum->derived, "%.500s", R.derived);
    }
    sb_free(&cm.top);
    sb_free(&cm.body);
    sb_free(&cm.forest);
    sb_free(&cm.verdicts);
    sb_free(&cm.matrix);
    rep_free(&R);
    return rc;
}
