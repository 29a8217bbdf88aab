/* report_select.c - runs.tsv -> runs, heads, control arms and selections (the statistics and
 * the verdict rules: report_stats.c). Numbers only: nothing here writes Markdown.
 *
 * Everything iterates in sorted orders (runs by run_id, cells by seed), so the same runs.tsv
 * gives the same bytes. Cost is tiny (a few thousand runs x a few dozen cells), so selections are
 * plain linear scans.
 */
#include "report_int.h"

#include <math.h>
#include <stdlib.h>

#include "head.h"

const char *const report_buckets[N_BUCKETS] = {"b1_2", "b3_5", "b6_10", "b11_50", "b51_plus",
                                               "all"};

/* ==== runs ================================================================================== */

const char *run_cfg(const struct rep *R, int row, const char *key)
{
    /* a config key clashing with a fixed column is written as "cfg.<key>" (sweep.c) */
    char name[128];
    snprintf(name, sizeof name, "cfg.%s", key);
    int c = tsv_col(&R->t, name);
    if (c < 0) c = tsv_col(&R->t, key);
    const char *v = tsv_get(&R->t, row, c);
    return tsv_is_na(v) ? NULL : v;
}

double run_num(const struct rep *R, int ri, const char *col)
{
    return tsv_num(tsv_get(&R->t, R->r[ri].row, tsv_col(&R->t, col)));
}

static int cmp_run_id(const void *a, const void *b)
{
    return strcmp(((const struct rrun *)a)->run_id, ((const struct rrun *)b)->run_id);
}

/* Keep the last row of each run_id (a retried run), sorted by run_id. */
static int distinct_runs(struct rep *R, int c_id)
{
    const struct tsv *t = &R->t;
    int n = 0;
    for (int i = 1; i < t->rows; i++) {
        const char *id = tsv_get(t, i, c_id);
        if (!tsv_row_whole(t, i)) { /* a writer killed mid-row: not a run */
            R->n_torn++;
            continue;
        }
        if (tsv_is_na(id)) continue;
        R->r[n].row = i;
        R->r[n].run_id = id;
        n++;
    }
    for (int i = 1; i < n; i++) { /* insertion sort: stable in row order, n is small */
        struct rrun x = R->r[i];
        int j = i - 1;
        while (j >= 0 && strcmp(R->r[j].run_id, x.run_id) > 0) {
            R->r[j + 1] = R->r[j];
            j--;
        }
        R->r[j + 1] = x;
    }
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (i + 1 < n && strcmp(R->r[i].run_id, R->r[i + 1].run_id) == 0) {
            if (i == 0 || strcmp(R->r[i - 1].run_id, R->r[i].run_id) != 0) R->n_retried++;
            continue;
        }
        R->r[m++] = R->r[i];
    }
    return m;
}

/* The heads: every registered head in registry order, then heads only the data names, by
 * name. A head is "whole" when every run of it that reports its classes has them all active in
 * every step (head_active_classes == classes): its L/C is 1 whatever its ratio key says. */
static int find_heads(struct rep *R, struct dcqb_err *err)
{
    int n_reg = 0;
    for (const struct head_ops *const *h = head_list(); *h; h++) n_reg++;
    size_t max = (size_t)n_reg + (size_t)R->n_runs;
    R->heads = malloc(max * (sizeof *R->heads + sizeof *R->whole));
    if (!R->heads) return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
    R->whole = (unsigned char *)(R->heads + max);
    for (const struct head_ops *const *h = head_list(); *h; h++)
        R->heads[R->n_heads++] = (*h)->name;
    for (int i = 0; i < R->n_runs; i++) {
        const char *h = R->r[i].head;
        if (!strcmp(h, "?") || head_rank(R, h) < R->n_heads) continue;
        int k = R->n_heads++;
        while (k > n_reg && strcmp(R->heads[k - 1], h) > 0) {
            R->heads[k] = R->heads[k - 1];
            k--;
        }
        R->heads[k] = h;
    }
    for (int k = 0; k < R->n_heads; k++) {
        int seen = 0, all = 1;
        for (int i = 0; i < R->n_runs; i++) {
            if (strcmp(R->r[i].head, R->heads[k])) continue;
            double C = run_num(R, i, "classes"), K = run_num(R, i, "head_active_classes");
            if (isnan(C) || isnan(K)) continue;
            seen = 1;
            all &= K == C;
        }
        R->whole[k] = (unsigned char)(seen && all);
    }
    return DCQB_OK;
}

int head_rank(const struct rep *R, const char *head)
{
    for (int i = 0; i < R->n_heads; i++)
        if (strcmp(head, R->heads[i]) == 0) return i;
    return R->n_heads;
}

int head_is_whole(const struct rep *R, const char *head)
{
    int k = head_rank(R, head);
    return k < R->n_heads && R->whole[k];
}

/* Count a needed value that the run's row lacks, per (head, key), in first-seen order. */
static int note_missing(struct rep *R, const char *head, const char *key, struct dcqb_err *err)
{
    for (int i = 0; i < R->n_miss; i++)
        if (!strcmp(R->miss[i].head, head) && !strcmp(R->miss[i].key, key)) {
            R->miss[i].runs++;
            return DCQB_OK;
        }
    struct rmissing *nm = realloc(R->miss, (size_t)(R->n_miss + 1) * sizeof *nm);
    if (!nm) return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
    R->miss = nm;
    R->miss[R->n_miss++] = (struct rmissing){head, key, 1};
    return DCQB_OK;
}

static int head_has_key(const struct head_ops *ops, const char *key)
{
    for (const char *const *k = ops && ops->keys ? ops->keys : NULL; k && *k; k++)
        if (!strcmp(*k, key)) return 1;
    return 0;
}

/* A head-specific key's value: NULL for a registered head that does not read the key. */
static const char *own_cfg(const struct rep *R, int row, const struct head_ops *ops,
                           const char *key)
{
    return !ops || head_has_key(ops, key) ? run_cfg(R, row, key) : NULL;
}

/* Fill one run's configuration from its row; note what it needs but lacks. */
static int run_config(struct rep *R, struct rrun *u, struct dcqb_err *err)
{
    int row = u->row, rc = DCQB_OK;
    const struct head_ops *ops = head_find(u->head);
    const char *v = run_cfg(R, row, "profile");
    u->profile = v ? v : "?";
    if (!v) rc = note_missing(R, u->head, "profile", err);
    v = run_cfg(R, row, "seed");
    u->seed = v ? atoi(v) : -1;
    if (!v && !rc) rc = note_missing(R, u->head, "seed", err);
    u->ratio = head_is_whole(R, u->head) ? 1.0 : tsv_num(run_cfg(R, row, "ratio"));
    if (isnan(u->ratio) && !rc) rc = note_missing(R, u->head, "ratio", err);
    /* a registered head's own keys describe only that head (runs.tsv has one column per key) */
    v = own_cfg(R, row, ops, "kshot");
    u->kshot = v ? atoi(v) : 0;
    if (!v && head_has_key(ops, "kshot") && !rc) rc = note_missing(R, u->head, "kshot", err);
    /* mu is the training loop's key (every run has it); it shapes the heads that keep their own
     * EMA network, the ones with an eval_net choice (dcq) */
    int own_ema = !ops || head_has_key(ops, "eval_net");
    u->mu = own_ema ? tsv_num(run_cfg(R, row, "mu")) : NAN;
    if (isnan(u->mu) && ops && own_ema && !rc) rc = note_missing(R, u->head, "mu", err);
    /* the network evaluated: eval's own eval.net wins over the head's eval_net (eval_rundir.c);
     * failing both, the one eval took by default (summary's eval_ema_default) */
    u->net = run_cfg(R, row, "eval.net");
    if (u->net && !strcmp(u->net, "default")) u->net = NULL;
    if (!u->net) u->net = own_cfg(R, row, ops, "eval_net");
    if (!u->net && (v = run_cfg(R, row, "eval_ema_default"))) u->net = atoi(v) ? "ema" : "online";
    if (!u->net && head_has_key(ops, "eval_net") && !rc)
        rc = note_missing(R, u->head, "eval_net", err);
    static const char *const loss_keys[3] = {"margin", "s", "m"};
    const char *lv[3];
    for (int k = 0; k < 3; k++) {
        lv[k] = run_cfg(R, row, loss_keys[k]);
        if (!lv[k] && head_has_key(ops, loss_keys[k]) && !rc)
            rc = note_missing(R, u->head, loss_keys[k], err);
    }
    snprintf(u->loss, sizeof u->loss, "%s s=%s m=%s", lv[0] ? lv[0] : "missing",
             lv[1] ? lv[1] : "missing", lv[2] ? lv[2] : "missing");
    u->data = run_cfg(R, row, "report.data");
    if (!u->data) u->data = "default";
    u->tune = run_cfg(R, row, "tune");
    if (!u->tune) u->tune = "-";
    v = run_cfg(R, row, "ema");
    u->ema = !strcmp(u->head, "dcq") || (v && atoi(v) == 1);
    u->sampler = own_cfg(R, row, ops, "sampler");
    u->pfc_mode = own_cfg(R, row, ops, "pfc_mode");
    v = run_cfg(R, row, "ids");
    u->ids = v ? atoi(v) : -1;
    /* `mu` is also the momentum of any other head's EMA copy (ema = 1); a dcq run without it
     * was noted missing above */
    if (isnan(u->mu) && (u->ema || !ops)) u->mu = tsv_num(run_cfg(R, row, "mu"));
    /* the variants of a head's own algorithm: recorded or missing, never assumed (§5) */
    if (!u->sampler && head_has_key(ops, "sampler") && !rc)
        rc = note_missing(R, u->head, "sampler", err);
    if (!u->pfc_mode && head_has_key(ops, "pfc_mode") && !rc)
        rc = note_missing(R, u->head, "pfc_mode", err);
    return rc;
}

static int is_grid(const struct rrun *u) { return !strcmp(u->tune, "grid"); }

/* Most common loss string over the untuned runs (tune "-": the common-loss arms; every run of
 * a sweep without tuning), ties: the smallest; "" without runs. */
static void most_common_loss(struct rep *R)
{
    int best = 0, untuned = 0;
    R->common_loss[0] = '\0';
    for (int i = 0; i < R->n_runs; i++) untuned |= !strcmp(R->r[i].tune, "-");
    for (int i = 0; i < R->n_runs; i++) {
        if (untuned && strcmp(R->r[i].tune, "-")) continue;
        int c = 0;
        for (int j = 0; j < R->n_runs; j++)
            c += strcmp(R->r[i].loss, R->r[j].loss) == 0 &&
                 (!untuned || !strcmp(R->r[j].tune, "-"));
        if (c > best || (c == best && strcmp(R->r[i].loss, R->common_loss) < 0)) {
            best = c;
            snprintf(R->common_loss, sizeof R->common_loss, "%s", R->r[i].loss);
        }
    }
}

/* The most common mu of the dcq runs on ms1m, else of all dcq runs (report.h); tuning-grid runs
 * do not count. */
static void find_main_mu(struct rep *R)
{
    R->main_mu = NAN;
    for (int pass = 0; pass < 2 && isnan(R->main_mu); pass++) {
        int best = 0;
        for (int i = 0; i < R->n_runs; i++) {
            const struct rrun *u = &R->r[i];
            if (strcmp(u->head, "dcq") || is_grid(u) || (pass == 0 && strcmp(u->profile, "ms1m")))
                continue;
            int c = 0;
            for (int j = 0; j < R->n_runs; j++) {
                const struct rrun *w = &R->r[j];
                c += !strcmp(w->head, "dcq") && !is_grid(w) &&
                     (pass || !strcmp(w->profile, "ms1m")) && w->mu == u->mu;
            }
            if (c > best || (c == best && u->mu < R->main_mu)) {
                best = c;
                R->main_mu = u->mu;
            }
        }
    }
}

static int same_ids(double a, double b) { return (isnan(a) && isnan(b)) || same_num(a, b); }

/* Run i is of `profile` (NULL: any) and, when by_ids, of identity count ids (NaN: none given). */
static int in_group(const struct rep *R, int i, const char *profile, int by_ids, double ids)
{
    return (!profile || !strcmp(R->r[i].profile, profile)) &&
           (!by_ids || same_ids(tsv_num(run_cfg(R, R->r[i].row, "ids")), ids));
}

/* Run i's value of config key `key`; NaN when not a number. */
static double cfg_num(const struct rep *R, int i, const char *key)
{
    return tsv_num(run_cfg(R, R->r[i].row, key));
}

/* Run i's training steps: the config's `steps`, else (a run given `epochs`) the steps it
 * resolved to, runs.tsv's steps column. */
static double run_steps(const struct rep *R, int i)
{
    double v = cfg_num(R, i, "steps");
    return isnan(v) ? run_num(R, i, "steps") : v;
}

/* Most common value of config key `key` over the runs of `profile` (NULL: all) and, when
 * by_ids, of identity count ids; ties: the smaller; NaN if none. */
static double mode_in(const struct rep *R, const char *key, const char *profile, int by_ids,
                      double ids)
{
    double best = NAN;
    int best_n = 0;
    for (int i = 0; i < R->n_runs; i++) {
        if (!in_group(R, i, profile, by_ids, ids)) continue;
        double v = cfg_num(R, i, key);
        if (isnan(v)) continue;
        int c = 0;
        for (int j = 0; j < R->n_runs; j++)
            c += in_group(R, j, profile, by_ids, ids) && cfg_num(R, j, key) == v;
        if (c > best_n || (c == best_n && v < best)) {
            best_n = c;
            best = v;
        }
    }
    return best;
}

static double mode_num(const struct rep *R, const char *key, const char *profile)
{
    return mode_in(R, key, profile, 0, NAN);
}

double report_usual_ids(const struct rep *R, const char *profile)
{
    return mode_num(R, "ids", profile);
}

/* The most steps among the runs of `profile` and ids: the full-length runs of that data size. */
static double max_steps(const struct rep *R, const char *profile, double ids)
{
    double m = NAN;
    for (int i = 0; i < R->n_runs; i++) {
        double v = run_steps(R, i);
        if (in_group(R, i, profile, 1, ids) && !isnan(v) && !(v <= m)) m = v;
    }
    return m;
}

/* Control arms by configuration: head_stream set (A/A); at most half the steps of the longest
 * runs of the same split and ids (the positive control's planted handicap, a quarter of the
 * steps: the longest, not the most common, since the controls' equal steps can outnumber the
 * main runs' per-seed counts; a scale ladder's rungs train different steps at fixed epochs, and
 * seeds at one rung differ by a few steps, so neither reads as shortened); other ids than the
 * split's usual (claim 4 at the long-tail scale, or a scale ladder's other rungs). */
#define VARIANT_GROUPS 64
struct vgroup {
    const char *profile;
    double ids, steps, usual; /* the group's most steps, its split's usual ids */
};

static void find_variants(struct rep *R)
{
    struct vgroup g[VARIANT_GROUPS]; /* each (split, ids) group's modes once: O(runs^2) each */
    int ng = 0;
    for (int i = 0; i < R->n_runs; i++) {
        struct rrun *u = &R->r[i];
        double hs = cfg_num(R, i, "head_stream"), st = run_steps(R, i);
        double ids = cfg_num(R, i, "ids");
        int k = 0;
        while (k < ng && (strcmp(g[k].profile, u->profile) || !same_ids(g[k].ids, ids))) k++;
        double full_st, usual;
        if (k < ng) {
            full_st = g[k].steps;
            usual = g[k].usual;
        } else {
            full_st = max_steps(R, u->profile, ids);
            usual = report_usual_ids(R, u->profile);
            if (ng < VARIANT_GROUPS) g[ng++] = (struct vgroup){u->profile, ids, full_st, usual};
        }
        if (!isnan(hs) && hs != 0) u->variant = RV_AA;
        else if (!isnan(st) && st <= 0.5 * full_st) u->variant = RV_SHORT;
        else if (!isnan(ids) && ids != usual) u->variant = RV_SCALE;
    }
}

/* report.sesoi / report.delta: the values declared in the sweep file, from runs.tsv (the most
 * common, should runs disagree), else the defaults of docs/METHOD.md §5. */
static void find_margins(struct rep *R)
{
    R->sesoi = mode_num(R, "report.sesoi", NULL);
    R->delta = mode_num(R, "report.delta", NULL);
    R->sesoi_given = !isnan(R->sesoi);
    R->delta_given = !isnan(R->delta);
    if (!R->sesoi_given) R->sesoi = 0.5;
    if (!R->delta_given) R->delta = 1.0;
}

/* The data configurations, the main one first: most ok runs outside the tuning grid, ties to
 * the one whose first such row comes first (runs.tsv rows come in completion order, so the
 * sweep file's order is not known here); configurations seen only in tuning-grid rows last.
 * At most MAX_DATA. */
static void find_datas(struct rep *R)
{
    int first[MAX_DATA], cnt[MAX_DATA];
    R->n_data = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < R->n_runs; i++) {
            const struct rrun *u = &R->r[i];
            if (is_grid(u) != pass) continue;
            int k = 0;
            while (k < R->n_data && strcmp(R->datas[k], u->data)) k++;
            if (k < R->n_data) {
                if (!pass && u->row < first[k]) first[k] = u->row;
                if (!pass) cnt[k] += u->ok;
                continue;
            }
            if (R->n_data == MAX_DATA) continue;
            R->datas[R->n_data] = u->data;
            cnt[R->n_data] = pass ? -1 : u->ok;
            first[R->n_data++] = u->row + (pass ? R->t.rows : 0);
        }
    for (int i = 1; i < R->n_data; i++) { /* most ok runs, then first row */
        const char *d = R->datas[i];
        int f = first[i], c = cnt[i], j = i - 1;
        for (; j >= 0 && (cnt[j] < c || (cnt[j] == c && first[j] > f)); j--) {
            R->datas[j + 1] = R->datas[j];
            first[j + 1] = first[j];
            cnt[j + 1] = cnt[j];
        }
        R->datas[j + 1] = d;
        first[j + 1] = f;
        cnt[j + 1] = c;
    }
    if (!R->n_data) R->datas[R->n_data++] = "default";
    R->data_cur = R->datas[0];
}

int rep_load_runs(struct rep *R, struct dcqb_err *err)
{
    const struct tsv *t = &R->t;
    int c_id = tsv_col(t, "run_id"), c_st = tsv_col(t, "status"), c_head = tsv_col(t, "head");
    if (c_id < 0 || c_st < 0 || c_head < 0)
        return DCQB_FAIL(err, DCQB_EFORMAT, "%s/runs.tsv: header lacks run_id, status or head",
                         R->dir);
    R->r = calloc((size_t)t->rows, sizeof *R->r);
    if (!R->r) return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
    R->n_runs = distinct_runs(R, c_id);
    for (int i = 0; i < R->n_runs; i++) {
        struct rrun *u = &R->r[i];
        const char *st = tsv_get(t, u->row, c_st);
        u->ok = st && strcmp(st, "ok") == 0;
        R->n_ok += u->ok;
        R->n_failed += !u->ok;
        u->head = run_cfg(R, u->row, "head");
        if (!u->head) u->head = "?";
    }
    int rc = find_heads(R, err);
    for (int i = 0; i < R->n_runs && !rc; i++) rc = run_config(R, &R->r[i], err);
    if (rc) return rc;
    qsort(R->r, (size_t)R->n_runs, sizeof *R->r, cmp_run_id); /* already sorted; the contract */
    find_datas(R);
    most_common_loss(R);
    find_variants(R);
    find_main_mu(R);
    find_margins(R);
    return DCQB_OK;
}

void rep_free(struct rep *R)
{
    tsv_free(&R->t);
    tsv_free(&R->bench);
    free(R->r);
    free(R->heads);
    free(R->miss);
    R->r = NULL;
    R->heads = NULL;
    R->miss = NULL;
}

/* ==== selection ============================================================================== */

int same_num(double a, double b) { return fabs(a - b) <= 1e-9 * fmax(1.0, fabs(b)); }

static int str_eq(const char *a, const char *b) { return a == b || (a && b && !strcmp(a, b)); }

/* strcmp with NULL (missing) first. */
static int str_cmp(const char *a, const char *b)
{
    if (!a || !b) return (a != NULL) - (b != NULL);
    return strcmp(a, b);
}

int sel_match(const struct sel *s, const struct rrun *u)
{
    if (s->head && strcmp(s->head, u->head)) return 0;
    if (s->profile && strcmp(s->profile, u->profile)) return 0;
    if (s->net && !str_eq(s->net, u->net)) return 0;
    if (s->loss && strcmp(s->loss, u->loss)) return 0;
    if (!isnan(s->ratio) && !same_num(s->ratio, u->ratio)) return 0;
    if (!isnan(s->mu) && !(u->mu == s->mu || same_num(s->mu, u->mu))) return 0;
    if (s->kshot && s->kshot != u->kshot) return 0;
    if ((s->data && !str_eq(s->data, u->data)) || (s->tune && !str_eq(s->tune, u->tune)) ||
        (s->sampler && !str_eq(s->sampler, u->sampler)) ||
        (s->pfc_mode && !str_eq(s->pfc_mode, u->pfc_mode)))
        return 0;
    return s->variant == u->variant;
}

double base_ratio(const struct rep *R, const char *head)
{
    return head_is_whole(R, head) ? 1.0 : 0.1;
}

struct sel sel_base(const struct rep *R, const char *head, const char *profile, double ratio)
{
    struct sel s = {head, profile, NULL, R->common_loss, ratio, NAN, 0, RV_MAIN, R->data_cur, "-",
                    NULL, NULL};
    if (strcmp(head, "dcq") == 0) {
        s.mu = R->main_mu;
        s.kshot = 1;
        s.net = "ema";
    }
    if (strcmp(head, "random") == 0) s.pfc_mode = "v1";
    if (strcmp(head, "sampled") == 0) s.sampler = "uniform";
    return s;
}

/* 1 when `key` is one of the comma-separated tune_keys of a run. */
static int tuned_key(const struct rep *R, const struct rrun *u, const char *key)
{
    const char *k = run_cfg(R, u->row, "tune_keys");
    size_t n = strlen(key);
    while (k && *k) {
        while (*k == ' ' || *k == ',') k++;
        if (!strncmp(k, key, n) && (k[n] == ',' || k[n] == ' ' || !k[n])) return 1;
        k += strcspn(k, ",");
    }
    return 0;
}

struct sel sel_tuned(const struct rep *R, const struct sel *base)
{
    struct sel s = *base;
    s.tune = "best";
    s.loss = NULL; /* the grid's choice; one tuned section reaches one loss */
    for (int i = 0; i < R->n_runs && !isnan(s.mu); i++) {
        const struct rrun *u = &R->r[i];
        if (!strcmp(u->tune, "best") && !strcmp(u->head, s.head) && tuned_key(R, u, "mu"))
            s.mu = NAN;
    }
    return s;
}

void cell_select(const struct rep *R, const struct sel *s, struct cell *c)
{
    memset(c, 0, sizeof *c);
    for (int i = 0; i < R->n_runs; i++) {
        const struct rrun *u = &R->r[i];
        if (!sel_match(s, u)) continue;
        if (!u->ok) {
            c->failed++;
            continue;
        }
        int k = 0;
        while (k < c->n && c->seed[k] < u->seed) k++;
        if (k < c->n && c->seed[k] == u->seed) continue;
        if (c->n == REPORT_MAX_SEEDS) continue;
        memmove(c->seed + k + 1, c->seed + k, (size_t)(c->n - k) * sizeof c->seed[0]);
        memmove(c->run + k + 1, c->run + k, (size_t)(c->n - k) * sizeof c->run[0]);
        c->seed[k] = u->seed;
        c->run[k] = i;
        c->n++;
    }
}

static int same_cond(const struct sel *a, const struct sel *b)
{
    return !strcmp(a->head, b->head) && str_eq(a->net, b->net) && !strcmp(a->loss, b->loss) &&
           (same_num(a->ratio, b->ratio) || (isnan(a->ratio) && isnan(b->ratio))) &&
           ((isnan(a->mu) && isnan(b->mu)) || a->mu == b->mu) && a->kshot == b->kshot &&
           a->variant == b->variant && str_eq(a->data, b->data) && str_eq(a->tune, b->tune) &&
           str_eq(a->sampler, b->sampler) && str_eq(a->pfc_mode, b->pfc_mode);
}

/* Index of a data configuration in R->datas (unknown ones last). */
static int data_rank(const struct rep *R, const char *d)
{
    int k = 0;
    while (k < R->n_data && !str_eq(R->datas[k], d)) k++;
    return k;
}

/* Table order: head, common loss first, ratio, mu, kshot, net. */
static int cond_cmp(const struct rep *R, const struct sel *y, const struct sel *x)
{
    int c = head_rank(R, y->head) - head_rank(R, x->head);
    if (!c) c = strcmp(y->head, x->head);
    if (!c) c = (strcmp(y->loss, R->common_loss) != 0) - (strcmp(x->loss, R->common_loss) != 0);
    if (!c) c = strcmp(y->loss, x->loss);
    if (!c) c = (y->ratio > x->ratio) - (y->ratio < x->ratio);
    if (!c && !isnan(x->mu) && !isnan(y->mu)) c = (y->mu > x->mu) - (y->mu < x->mu);
    if (!c) c = y->kshot - x->kshot;
    if (!c) c = str_cmp(y->net, x->net);
    if (!c) c = str_cmp(y->pfc_mode, x->pfc_mode);
    if (!c) c = str_cmp(y->sampler, x->sampler);
    if (!c) c = str_cmp(y->tune, x->tune);
    if (!c) c = data_rank(R, y->data) - data_rank(R, x->data);
    return c;
}

int conditions(const struct rep *R, const struct sel *where, struct sel *out, int max)
{
    int n = 0;
    for (int i = 0; i < R->n_runs; i++) {
        const struct rrun *u = &R->r[i];
        if (!sel_match(where, u)) continue;
        struct sel s = {u->head, u->profile, u->net, u->loss, u->ratio, u->mu, u->kshot,
                        u->variant, u->data, u->tune, u->sampler, u->pfc_mode};
        int dup = 0;
        for (int k = 0; k < n && !dup; k++) dup = same_cond(&out[k], &s);
        if (dup || n == max) continue;
        out[n++] = s;
    }
    for (int i = 1; i < n; i++) {
        struct sel x = out[i];
        int j = i - 1;
        for (; j >= 0 && cond_cmp(R, &out[j], &x) > 0; j--) out[j + 1] = out[j];
        out[j + 1] = x;
    }
    return n;
}

/* ==== paired values (the statistics and rules: report_stats.c) ============================== */

const char *report_verdict_name(enum report_verdict v)
{
    switch (v) {
    case REPORT_NOT_RUN: return "not run";
    case REPORT_FEW_SEEDS: return "inconclusive (1 seed)";
    case REPORT_REPRODUCED: return "reproduced";
    case REPORT_NOT_REPRODUCED: return "not reproduced";
    case REPORT_INCONCLUSIVE: return "inconclusive";
    }
    return "?";
}

int cell_values(const struct rep *R, const struct cell *c, const char *metric, double scale,
                double *v, int *seed)
{
    int k = 0;
    for (int i = 0; i < c->n; i++) {
        double x = run_num(R, c->run[i], metric);
        if (isnan(x)) continue;
        if (seed) seed[k] = c->seed[i];
        v[k++] = x * scale;
    }
    return k;
}

double run_rank1(const struct rep *R, int ri, enum rnet net)
{
    const struct rrun *u = &R->r[ri];
    double x = NAN;
    if (net == RN_EMA) {
        x = run_num(R, ri, M_RANK1_EMA);
        if (isnan(x) && u->ema && str_eq(u->net, "ema")) x = run_num(R, ri, M_RANK1);
    } else if (net == RN_ONLINE) {
        x = run_num(R, ri, M_RANK1_ONLINE);
        /* without an EMA network the online one is the only one evaluated */
        if (isnan(x) && (!u->ema || str_eq(u->net, "online"))) x = run_num(R, ri, M_RANK1);
    } else x = run_num(R, ri, M_RANK1);
    return x;
}

int cell_has_ema(const struct rep *R, const struct cell *c)
{
    for (int i = 0; i < c->n; i++)
        if (!R->r[c->run[i]].ema || isnan(run_rank1(R, c->run[i], RN_EMA))) return 0;
    return c->n > 0;
}

void paired_net(const struct rep *R, const struct cell *a, enum rnet na, const struct cell *b,
                enum rnet nb, struct report_paired *p)
{
    memset(p, 0, sizeof *p);
    for (int i = 0; i < a->n; i++)
        for (int j = 0; j < b->n; j++) {
            if (a->seed[i] != b->seed[j]) continue;
            double x = run_rank1(R, a->run[i], na), y = run_rank1(R, b->run[j], nb);
            if (isnan(x) || isnan(y)) continue;
            p->seed[p->n] = a->seed[i];
            p->a[p->n] = x * PCT;
            p->b[p->n] = y * PCT;
            p->n++;
        }
    report_paired_stats(p);
}

void paired(const struct rep *R, const struct cell *a, const struct cell *b, const char *metric,
            double scale, struct report_paired *p)
{
    memset(p, 0, sizeof *p);
    for (int i = 0; i < a->n; i++)
        for (int j = 0; j < b->n; j++) {
            if (a->seed[i] != b->seed[j]) continue;
            double x = run_num(R, a->run[i], metric), y = run_num(R, b->run[j], metric);
            if (isnan(x) || isnan(y)) continue;
            p->seed[p->n] = a->seed[i];
            p->a[p->n] = x * scale;
            p->b[p->n] = y * scale;
            p->n++;
        }
    report_paired_stats(p);
}

/* ==== bench.tsv ============================================================================== */

void bench_view(const struct tsv *t, struct bench_view *v)
{
    v->c_head = tsv_col(t, "head");
    v->c_C = tsv_col(t, "C");
    v->c_B = tsv_col(t, "B");
    v->c_thr = tsv_col(t, "threads");
    v->c_ratio = tsv_col(t, "ratio");
    v->c_d = tsv_col(t, "d");
    v->c_ms = tsv_col(t, "head_ms");      /* the head step alone, median */
    v->c_gf = tsv_col(t, "head_gflops");
    v->c_gemm = tsv_col(t, "bound_ratio"); /* head step / its GEMMs at the measured sgemm rate */
    v->c_gmin = tsv_col(t, "min_ratio");   /* the same from the fastest reps (NA if absent) */
    v->c_err = tsv_col(t, "err_msg");
    v->c_pcb = tsv_col(t, "per_class_bytes");
    v->c_fix = tsv_col(t, "fixed_bytes");
    v->c_rss = tsv_col(t, "peak_rss_mb");
    v->c_st = tsv_col(t, "status");
}

int bench_row_ok(const struct tsv *t, const struct bench_view *v, int i)
{
    const char *st = tsv_get(t, i, v->c_st);
    return v->c_st < 0 || (st && strcmp(st, "ok") == 0);
}

double bench_mem_mb(const struct tsv *t, const struct bench_view *v, int i)
{
    double pcb = tsv_num(tsv_get(t, i, v->c_pcb)), fix = tsv_num(tsv_get(t, i, v->c_fix)),
           C = tsv_num(tsv_get(t, i, v->c_C));
    return (pcb * C + fix) / 1048576.0;
}

static int bench_cmp(const struct rep *R, const struct bench_view *v, int y, int x)
{
    const struct tsv *t = &R->bench;
    const char *hx = tsv_get(t, x, v->c_head), *hy = tsv_get(t, y, v->c_head);
    hx = hx ? hx : "";
    hy = hy ? hy : "";
    int c = head_rank(R, hy) - head_rank(R, hx);
    if (!c) c = strcmp(hy, hx);
    const int cols[5] = {v->c_d, v->c_C, v->c_B, v->c_thr, v->c_ratio};
    for (int k = 0; k < 5 && !c; k++) {
        double a = tsv_num(tsv_get(t, y, cols[k])), b = tsv_num(tsv_get(t, x, cols[k]));
        c = (a > b) - (a < b);
    }
    return c;
}

int bench_sorted(const struct rep *R, const struct bench_view *v, int *idx)
{
    const struct tsv *t = &R->bench;
    int n = 0;
    for (int i = 1; i < t->rows; i++)
        if (bench_row_ok(t, v, i)) idx[n++] = i;
    for (int i = 1; i < n; i++) {
        int x = idx[i], j = i - 1;
        for (; j >= 0 && bench_cmp(R, v, idx[j], x) > 0; j--) idx[j + 1] = idx[j];
        idx[j + 1] = x;
    }
    return n;
}
