/* report.c - see report.h. runs.tsv (+ bench.tsv) -> REPORT.md, claim verdicts and derived TSVs
 * (issue 6; verdict rules REFERENCE.md section 9; the tail-specific gap of claim 4 is the
 * long-tail gap minus the balanced gap, CALIBRATION.md "A caution for the verdicts").
 *
 * Sections: string buffer and files; TSV tables; runs and selection; statistics and rules;
 * tables T1-T5; claims; derived TSVs; entry point. Everything iterates in sorted orders (runs by
 * run_id, cells by seed), so the same runs.tsv gives the same bytes. Cost is tiny (a few
 * thousand runs x a few dozen cells), so selections are plain linear scans.
 */
#include "report.h"

#include "fsutil.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>

/* ==== string buffer and files =============================================================== */

struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
};

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
    if (b->oom) return;
    for (;;) {
        size_t room = b->cap - b->n;
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? room : 0, fmt, ap);
        va_end(ap);
        if (k < 0) {
            b->oom = 1;
            return;
        }
        if (b->p && (size_t)k < room) {
            b->n += (size_t)k;
            return;
        }
        size_t nc = b->cap ? b->cap * 2 : 4096;
        while (nc < b->n + (size_t)k + 1) nc *= 2;
        char *np = realloc(b->p, nc);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = nc;
    }
}

static void sb_str(struct sbuf *b, const char *s) { sb_printf(b, "%s", s); }

/* Whole file, NUL-terminated; *out NULL and DCQB_OK when it does not exist. */
static int read_file(const char *path, char **out, struct dcqb_err *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT) return DCQB_OK;
        return DCQB_FAIL(err, DCQB_EIO, "%s: cannot open: %s", path, strerror(errno));
    }
    struct sbuf b = {0};
    char chunk[8192];
    size_t r;
    sb_str(&b, "");
    while (!b.oom && (r = fread(chunk, 1, sizeof chunk, f)) > 0) sb_printf(&b, "%.*s", (int)r, chunk);
    int bad = ferror(f);
    fclose(f);
    if (b.oom || bad) {
        free(b.p);
        return b.oom ? DCQB_FAIL(err, DCQB_ENOMEM, "out of memory")
                     : DCQB_FAIL(err, DCQB_EIO, "%s: read failed", path);
    }
    *out = b.p;
    return DCQB_OK;
}

/* Write atomically (tmp + rename): a reader never sees half a report. */
static int write_file(const char *path, const struct sbuf *b, struct dcqb_err *err)
{
    if (b->oom) return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return DCQB_FAIL(err, DCQB_EIO, "%s: cannot create: %s", tmp, strerror(errno));
    size_t w = b->n ? fwrite(b->p, 1, b->n, f) : 0;
    int bad = w != b->n || ferror(f);
    if (fclose(f) != 0 || bad || rename(tmp, path) != 0) {
        remove(tmp);
        return DCQB_FAIL(err, DCQB_EIO, "%s: write failed", path);
    }
    return DCQB_OK;
}

/* ==== TSV tables ============================================================================ */

/* A TSV file split in place: cell(r, c) points into buf; row 0 is the header. */
struct tsv {
    char *buf;
    char **cell; /* (rows, cols) */
    int rows, cols;
};

static void tsv_free(struct tsv *t)
{
    free(t->buf);
    free(t->cell);
    memset(t, 0, sizeof *t);
}

/* Parse text (taken over). Rows with fewer cells get NULLs; extra cells are ignored. */
static int tsv_parse(struct tsv *t, char *text, const char *path, struct dcqb_err *err)
{
    memset(t, 0, sizeof *t);
    t->buf = text;
    int lines = 0, cols = 1;
    for (char *p = text; *p; p++) lines += *p == '\n';
    lines++;
    for (char *p = text; *p && *p != '\n'; p++) cols += *p == '\t';
    t->cell = calloc((size_t)lines * (size_t)cols, sizeof *t->cell);
    if (!t->cell) {
        tsv_free(t);
        return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
    }
    t->cols = cols;
    char *p = text;
    while (*p) {
        char *eol = strchr(p, '\n');
        char *next = eol ? eol + 1 : p + strlen(p);
        if (eol) *eol = '\0';
        if (eol > p && eol[-1] == '\r') eol[-1] = '\0';
        if (*p) {
            char **row = t->cell + (size_t)t->rows * cols;
            int c = 0;
            for (char *q = p; c < cols;) {
                row[c++] = q;
                char *tab = strchr(q, '\t');
                if (!tab) break;
                *tab = '\0';
                q = tab + 1;
            }
            t->rows++;
        }
        p = next;
    }
    if (t->rows < 1) {
        tsv_free(t);
        return DCQB_FAIL(err, DCQB_EFORMAT, "%s: empty (no header line)", path);
    }
    return DCQB_OK;
}

static int tsv_col(const struct tsv *t, const char *name)
{
    for (int c = 0; c < t->cols; c++)
        if (t->cell[c] && strcmp(t->cell[c], name) == 0) return c;
    return -1;
}

static const char *tsv_get(const struct tsv *t, int row, int col)
{
    if (col < 0 || row < 0 || row >= t->rows) return NULL;
    return t->cell[(size_t)row * t->cols + col];
}

/* A number, or NaN for missing/NA/null/non-finite/not a number. */
static double num_of(const char *s)
{
    if (!s || !*s) return NAN;
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !isfinite(v)) return NAN;
    return v;
}

static int is_na(const char *s)
{
    return !s || !*s || strcmp(s, "NA") == 0 || strcmp(s, "null") == 0;
}

/* ==== runs and selection ===================================================================== */

/* One distinct run (its last row). Effective settings have defaults filled in (report.h). */
struct rrun {
    int row;              /* row in the runs tsv */
    const char *run_id;
    int ok;
    const char *head, *profile, *net;
    int seed, kshot;
    double ratio, mu;
    char loss[64];        /* "margin s=.. m=.." */
};

struct rep {
    const struct report_opts *o;
    char sweep[256], dir[1024], derived[1100];
    struct tsv t;
    struct rrun *r;       /* n_runs, sorted by run_id */
    int n_runs, n_ok, n_failed, n_retried;
    char common_loss[64];
    double main_mu;       /* NaN when there are no dcq runs */
    struct tsv bench;     /* rows == 0 when absent */
    int bench_ok;
};

static const char *const head_order[] = {"full", "random", "sampled", "dcq", NULL};

static int head_rank(const char *h)
{
    for (int i = 0; head_order[i]; i++)
        if (strcmp(h, head_order[i]) == 0) return i;
    return 99;
}

/* Config value of `key` in row: the column "cfg.<key>" if the key clashed with a fixed column,
 * else "<key>"; NULL when absent or NA. */
static const char *run_cfg(const struct rep *R, int row, const char *key)
{
    char name[128];
    snprintf(name, sizeof name, "cfg.%s", key);
    int c = tsv_col(&R->t, name);
    if (c < 0) c = tsv_col(&R->t, key);
    const char *v = tsv_get(&R->t, row, c);
    return is_na(v) ? NULL : v;
}

static double run_num(const struct rep *R, int ri, const char *col)
{
    return num_of(tsv_get(&R->t, R->r[ri].row, tsv_col(&R->t, col)));
}

static int cmp_run_id(const void *a, const void *b)
{
    return strcmp(((const struct rrun *)a)->run_id, ((const struct rrun *)b)->run_id);
}

static int load_runs(struct rep *R, struct dcqb_err *err)
{
    const struct tsv *t = &R->t;
    int c_id = tsv_col(t, "run_id"), c_st = tsv_col(t, "status"), c_head = tsv_col(t, "head");
    if (c_id < 0 || c_st < 0 || c_head < 0)
        return DCQB_FAIL(err, DCQB_EFORMAT, "%s/runs.tsv: header lacks run_id, status or head",
                         R->dir);
    R->r = calloc((size_t)t->rows, sizeof *R->r);
    if (!R->r) return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
    /* last row per run_id: collect all, sort by (run_id, row), keep the last of each run */
    int n = 0;
    for (int i = 1; i < t->rows; i++) {
        const char *id = tsv_get(t, i, c_id);
        if (is_na(id)) continue;
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
    R->n_runs = m;
    for (int i = 0; i < m; i++) {
        struct rrun *u = &R->r[i];
        int row = u->row;
        const char *st = tsv_get(t, row, c_st);
        u->ok = st && strcmp(st, "ok") == 0;
        R->n_ok += u->ok;
        R->n_failed += !u->ok;
        u->head = run_cfg(R, row, "head");
        if (!u->head) u->head = "?";
        u->profile = run_cfg(R, row, "profile");
        if (!u->profile) u->profile = "?";
        const char *v = run_cfg(R, row, "seed");
        u->seed = v ? atoi(v) : 1;
        v = run_cfg(R, row, "kshot");
        u->kshot = v ? atoi(v) : 1;
        /* eval's own eval.net overrides the head's eval_net (eval_rundir.c) */
        u->net = run_cfg(R, row, "eval.net");
        if (!u->net || !strcmp(u->net, "default")) u->net = run_cfg(R, row, "eval_net");
        if (!u->net) u->net = "ema";
        double def_ratio = strcmp(u->head, "full") == 0 ? 1.0 : 0.1;
        u->ratio = num_of(run_cfg(R, row, "ratio"));
        if (isnan(u->ratio)) u->ratio = def_ratio;
        u->mu = strcmp(u->head, "dcq") == 0 ? num_of(run_cfg(R, row, "mu")) : NAN;
        if (strcmp(u->head, "dcq") == 0 && isnan(u->mu)) u->mu = 0.999; /* dcq.c's default */
        const char *mg = run_cfg(R, row, "margin"), *s = run_cfg(R, row, "s"),
                   *mm = run_cfg(R, row, "m");
        snprintf(u->loss, sizeof u->loss, "%s s=%s m=%s", mg ? mg : "default", s ? s : "default",
                 mm ? mm : "default");
    }
    qsort(R->r, (size_t)m, sizeof *R->r, cmp_run_id); /* already sorted; keeps the contract */
    return DCQB_OK;
}

/* Most common string among n (ties: the smallest); out gets "" for n == 0. */
static void most_common_loss(struct rep *R)
{
    int best = 0;
    R->common_loss[0] = '\0';
    for (int i = 0; i < R->n_runs; i++) {
        int c = 0;
        for (int j = 0; j < R->n_runs; j++) c += strcmp(R->r[i].loss, R->r[j].loss) == 0;
        if (c > best || (c == best && strcmp(R->r[i].loss, R->common_loss) < 0)) {
            best = c;
            snprintf(R->common_loss, sizeof R->common_loss, "%s", R->r[i].loss);
        }
    }
}

static void find_main_mu(struct rep *R)
{
    R->main_mu = NAN;
    for (int pass = 0; pass < 2 && isnan(R->main_mu); pass++) {
        int best = 0;
        for (int i = 0; i < R->n_runs; i++) {
            const struct rrun *u = &R->r[i];
            if (strcmp(u->head, "dcq") || (pass == 0 && strcmp(u->profile, "ms1m"))) continue;
            int c = 0;
            for (int j = 0; j < R->n_runs; j++) {
                const struct rrun *w = &R->r[j];
                c += !strcmp(w->head, "dcq") && (pass || !strcmp(w->profile, "ms1m")) &&
                     w->mu == u->mu;
            }
            if (c > best || (c == best && u->mu < R->main_mu)) {
                best = c;
                R->main_mu = u->mu;
            }
        }
    }
}

/* What a table cell or comparison selects. NULL / NaN / 0 = any. */
struct sel {
    const char *head, *profile, *net, *loss;
    double ratio, mu;
    int kshot;
};

static int same_num(double a, double b) { return fabs(a - b) <= 1e-9 * fmax(1.0, fabs(b)); }

static int sel_match(const struct sel *s, const struct rrun *u)
{
    if (s->head && strcmp(s->head, u->head)) return 0;
    if (s->profile && strcmp(s->profile, u->profile)) return 0;
    if (s->net && strcmp(s->net, u->net)) return 0;
    if (s->loss && strcmp(s->loss, u->loss)) return 0;
    if (!isnan(s->ratio) && !same_num(s->ratio, u->ratio)) return 0;
    if (!isnan(s->mu) && !(u->mu == s->mu || same_num(s->mu, u->mu))) return 0;
    if (s->kshot && s->kshot != u->kshot) return 0;
    return 1;
}

/* The base settings of a head on a split (Table 2's settings; the dcq main mu, kshot 1, ema). */
static struct sel sel_base(const struct rep *R, const char *head, const char *profile,
                           double ratio)
{
    struct sel s = {head, profile, NULL, R->common_loss, ratio, NAN, 0};
    if (strcmp(head, "dcq") == 0) {
        s.mu = R->main_mu;
        s.kshot = 1;
        s.net = "ema";
    }
    return s;
}

/* One ok run per seed (smallest run_id wins a tie), seeds ascending. */
struct cell {
    int n, failed;
    int seed[REPORT_MAX_SEEDS], run[REPORT_MAX_SEEDS];
};

static void cell_select(const struct rep *R, const struct sel *s, struct cell *c)
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

/* ==== statistics and rules ================================================================== */

static double mean_of(const double *x, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++) s += x[i];
    return n ? s / n : NAN;
}

static double std_of(const double *x, int n) /* sample std, n - 1 */
{
    if (n < 2) return NAN;
    double m = mean_of(x, n), s = 0;
    for (int i = 0; i < n; i++) s += (x[i] - m) * (x[i] - m);
    return sqrt(s / (n - 1));
}

void report_paired_stats(struct report_paired *p)
{
    for (int i = 0; i < p->n; i++) p->d[i] = p->a[i] - p->b[i];
    p->mean = mean_of(p->d, p->n);
    p->std = std_of(p->d, p->n);
    p->se = p->n >= 2 ? p->std / sqrt((double)p->n) : NAN;
    p->base_std = std_of(p->b, p->n);
}

const char *report_verdict_name(enum report_verdict v)
{
    switch (v) {
    case REPORT_NOT_RUN: return "not run";
    case REPORT_FEW_SEEDS: return "inconclusive (few seeds)";
    case REPORT_REPRODUCED: return "reproduced";
    case REPORT_NOT_REPRODUCED: return "not reproduced";
    case REPORT_INCONCLUSIVE: return "inconclusive at this scale";
    }
    return "?";
}

static enum report_verdict few(const struct report_paired *p, char *why, size_t n)
{
    if (p->n == 0) {
        if (why) snprintf(why, n, "not run in this profile");
        return REPORT_NOT_RUN;
    }
    if (why) snprintf(why, n, "inconclusive: only %d seed%s", p->n, p->n == 1 ? "" : "s");
    return REPORT_FEW_SEEDS;
}

enum report_verdict report_rule_parity(const struct report_paired *p, char *why, size_t n)
{
    if (p->n < 3) return few(p, why, n);
    if (fabs(p->mean) <= 2.0 * p->base_std) {
        if (why) snprintf(why, n, "reproduced");
        return REPORT_REPRODUCED;
    }
    if (why)
        snprintf(why, n, "not reproduced (the compared setting is %s by %.2f, > 2 x %.2f)",
                 p->mean > 0 ? "higher" : "lower", fabs(p->mean), p->base_std);
    return REPORT_NOT_REPRODUCED;
}

enum report_verdict report_rule_better(const struct report_paired *p, char *why, size_t n)
{
    if (p->n < 3) return few(p, why, n);
    int pos = 1, neg = 1;
    for (int i = 0; i < p->n; i++) {
        pos &= p->d[i] > 0;
        neg &= p->d[i] < 0;
    }
    if (pos && p->mean > 2.0 * p->se) {
        if (why) snprintf(why, n, "reproduced");
        return REPORT_REPRODUCED;
    }
    if (neg && p->mean < -2.0 * p->se) {
        if (why) snprintf(why, n, "not reproduced (reversed)");
        return REPORT_NOT_REPRODUCED;
    }
    if (why) snprintf(why, n, "inconclusive at this scale");
    return REPORT_INCONCLUSIVE;
}

/* Values of `metric` x scale over the cell's runs with a finite value. */
static int cell_values(const struct rep *R, const struct cell *c, const char *metric,
                       double scale, double *v, int *seed)
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

/* a - b paired by seed, for metric x scale. */
static void paired(const struct rep *R, const struct cell *a, const struct cell *b,
                   const char *metric, double scale, struct report_paired *p)
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

/* ==== formatting ============================================================================ */

static double nz(double x) { return fabs(x) < 5e-13 ? 0.0 : x; } /* no "-0.00" */

/* "m ± s", "m ± s (n=2)", "m (n=1)", "n/a" (runs but no value), "–" (no runs). */
static void fmt_stat(struct sbuf *b, const struct rep *R, const struct cell *c,
                     const char *metric, double scale, int dec)
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

static void fmt_diff(struct sbuf *b, const struct report_paired *p)
{
    if (p->n == 0) sb_str(b, "–");
    else if (p->n == 1) sb_printf(b, "%+.2f (n=1)", nz(p->mean));
    else sb_printf(b, "%+.2f ± %.2f (n=%d)", nz(p->mean), nz(p->std), p->n);
}

static void fmt_ratio(char *out, size_t n, double r)
{
    snprintf(out, n, "%g %%", r * 100.0);
}

/* ==== tables ================================================================================ */

#define PCT 100.0
static const char *const M_RANK1 = "megaface_rank1";
static const char *const M_TAR3 = "tar_at_far_1e-3";
static const char *const M_TAR4 = "tar_at_far_1e-4";
static const char *const M_TAR6 = "tar_at_far_1e-6";
static const char *const M_LFW = "lfw_acc_mean";
static const char *const buckets[] = {"b1_2", "b3_5", "b6_10", "b11_50", "b51_plus", "all"};
#define N_BUCKETS 6

/* Distinct conditions of the ok-or-failed runs matching `where`, in table order. */
static int conditions(const struct rep *R, const struct sel *where, struct sel *out, int max)
{
    int n = 0;
    for (int i = 0; i < R->n_runs; i++) {
        const struct rrun *u = &R->r[i];
        if (!sel_match(where, u)) continue;
        struct sel s = {u->head, u->profile, u->net, u->loss, u->ratio, u->mu, u->kshot};
        int dup = 0;
        for (int k = 0; k < n && !dup; k++)
            dup = !strcmp(out[k].head, s.head) && !strcmp(out[k].net, s.net) &&
                  !strcmp(out[k].loss, s.loss) && same_num(out[k].ratio, s.ratio) &&
                  ((isnan(out[k].mu) && isnan(s.mu)) || out[k].mu == s.mu) &&
                  out[k].kshot == s.kshot;
        if (dup || n == max) continue;
        out[n++] = s;
    }
    /* order: head, common loss first, ratio, mu, kshot, net */
    for (int i = 1; i < n; i++) {
        struct sel x = out[i];
        int j = i - 1;
        for (; j >= 0; j--) {
            const struct sel *y = &out[j];
            int c = head_rank(y->head) - head_rank(x.head);
            if (!c) c = strcmp(y->head, x.head);
            if (!c) c = (strcmp(y->loss, R->common_loss) != 0) - (strcmp(x.loss, R->common_loss) != 0);
            if (!c) c = strcmp(y->loss, x.loss);
            if (!c) c = (y->ratio > x.ratio) - (y->ratio < x.ratio);
            if (!c && !isnan(x.mu) && !isnan(y->mu)) c = (y->mu > x.mu) - (y->mu < x.mu);
            if (!c) c = y->kshot - x.kshot;
            if (!c) c = strcmp(y->net, x.net);
            if (c <= 0) break;
            out[j + 1] = out[j];
        }
        out[j + 1] = x;
    }
    return n;
}

static void cond_label(const struct rep *R, const struct sel *s, char *out, size_t n)
{
    char r[32];
    fmt_ratio(r, sizeof r, s->ratio);
    int k = snprintf(out, n, "%s", s->head);
    if (strcmp(s->head, "full")) k += snprintf(out + k, n - (size_t)k, " %s", r);
    if (!isnan(s->mu) && !(s->mu == R->main_mu))
        k += snprintf(out + k, n - (size_t)k, ", mu %g", s->mu);
    if (s->kshot > 1) k += snprintf(out + k, n - (size_t)k, ", kshot %d", s->kshot);
    if (s->net && strcmp(s->net, "ema")) k += snprintf(out + k, n - (size_t)k, ", eval %s", s->net);
    if (s->loss && strcmp(s->loss, R->common_loss))
        snprintf(out + k, n - (size_t)k, " (own loss: %s)", s->loss);
}

#define MAX_COND 256

static void table1(struct sbuf *b, const struct rep *R, struct sel *conds)
{
    struct sel where = {NULL, "ms1m", NULL, NULL, NAN, NAN, 0};
    int n = conditions(R, &where, conds, MAX_COND);
    sb_str(b, "## Table 1: ratio study on the balanced ms1m-like split\n\n");
    if (!n) {
        sb_str(b, "Not run in this profile.\n\n");
        return;
    }
    static const double paper[] = {0.01, 0.02, 0.05, 0.1, 0.2, 0.5};
    char dropped[128] = "";
    size_t k = 0;
    for (int i = 0; i < 6; i++) {
        int have = 0;
        for (int j = 0; j < n; j++) have |= strcmp(conds[j].head, "full") && same_num(conds[j].ratio, paper[i]);
        if (!have) k += (size_t)snprintf(dropped + k, sizeof dropped - k, "%s%g %%", k ? ", " : "", paper[i] * 100);
    }
    sb_printf(b, "Ratios run: partial heads at L/C as listed; ratios of {1, 2, 5, 10, 20, 50} %% "
                 "dropped in this profile: %s.\n\n", k ? dropped : "none");
    sb_str(b, "| head | LFW acc | TAR@FAR 1e-3 | TAR@FAR 1e-4 | MegaFace rank-1 (largest) | "
              "head memory (MB) | samples/s | seeds |\n|---|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < n; i++) {
        struct cell c;
        char lab[160];
        cell_select(R, &conds[i], &c);
        cond_label(R, &conds[i], lab, sizeof lab);
        sb_printf(b, "| %s | ", lab);
        fmt_stat(b, R, &c, M_LFW, PCT, 2);
        sb_str(b, " | ");
        fmt_stat(b, R, &c, M_TAR3, PCT, 2);
        sb_str(b, " | ");
        fmt_stat(b, R, &c, M_TAR4, PCT, 2);
        sb_str(b, " | ");
        fmt_stat(b, R, &c, M_RANK1, PCT, 2);
        sb_str(b, " | ");
        fmt_stat(b, R, &c, "head_mem_mb", 1.0, 2);
        sb_str(b, " | ");
        fmt_stat(b, R, &c, "samples_per_s", 1.0, 0);
        sb_printf(b, " | %d%s |\n", c.n, c.failed ? " (+failed)" : "");
    }
    sb_str(b, "\n");
}

static void table2(struct sbuf *b, const struct rep *R)
{
    sb_str(b, "## Table 2: long-tail study on the mf2-like split (partial heads at 10 %)\n\n"
              "| head | MegaFace rank-1 (largest) | TAR@FAR 1e-4 | TAR@FAR 1e-6 | LFW acc | seeds |\n"
              "|---|---|---|---|---|---|\n");
    int any = 0;
    for (int h = 0; head_order[h]; h++) {
        struct sel s = sel_base(R, head_order[h], "mf2", strcmp(head_order[h], "full") ? 0.1 : 1.0);
        struct cell c;
        cell_select(R, &s, &c);
        if (!c.n && !c.failed) continue;
        any = 1;
        char lab[160];
        cond_label(R, &s, lab, sizeof lab);
        sb_printf(b, "| %s | ", lab);
        fmt_stat(b, R, &c, M_RANK1, PCT, 2);
        sb_str(b, " | ");
        fmt_stat(b, R, &c, M_TAR4, PCT, 2);
        sb_str(b, " | ");
        fmt_stat(b, R, &c, M_TAR6, PCT, 2);
        sb_str(b, " | ");
        fmt_stat(b, R, &c, M_LFW, PCT, 2);
        sb_printf(b, " | %d |\n", c.n);
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
    for (int w = 0; w < 3; w++) {
        sb_printf(b, "%s:\n\n| split | head |", title[w]);
        for (int k = 0; k < N_BUCKETS; k++) sb_printf(b, " %s |", buckets[k]);
        sb_str(b, "\n|---|---|");
        for (int k = 0; k < N_BUCKETS; k++) sb_str(b, "---|");
        sb_str(b, "\n");
        for (int sp = 0; sp < 2; sp++)
            for (int h = 0; head_order[h]; h++) {
                struct sel s = sel_base(R, head_order[h], splits[sp],
                                        strcmp(head_order[h], "full") ? 0.1 : 1.0);
                struct cell c;
                cell_select(R, &s, &c);
                if (!c.n) continue;
                sb_printf(b, "| %s | %s |", splits[sp], head_order[h]);
                for (int k = 0; k < N_BUCKETS; k++) {
                    char m[64];
                    snprintf(m, sizeof m, "%s%s", what[w], buckets[k]);
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

static void table4(struct sbuf *b, const struct rep *R, struct sel *conds)
{
    struct sel where = {"dcq", "mf2", NULL, R->common_loss, NAN, NAN, 0};
    int n = conditions(R, &where, conds, MAX_COND);
    sb_str(b, "## Table 4: DCQ ablations on the mf2-like split\n\n");
    if (!n) {
        sb_str(b, "Not run in this profile.\n\n");
        return;
    }
    struct sel base = sel_base(R, "dcq", "mf2", 0.1);
    struct cell cb;
    cell_select(R, &base, &cb);
    sb_printf(b, "Paired differences are against the base setting (ratio 10 %%, mu %g, kshot 1, "
                 "EMA network), in points.\n\n", R->main_mu);
    sb_str(b, "| ratio | mu | kshot | eval net | MegaFace rank-1 (largest) | TAR@FAR 1e-4 | LFW acc "
              "| rank-1 minus base (paired) | seeds |\n|---|---|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < n; i++) {
        struct cell c;
        cell_select(R, &conds[i], &c);
        char r[32];
        fmt_ratio(r, sizeof r, conds[i].ratio);
        sb_printf(b, "| %s | %g | %d | %s | ", r, conds[i].mu, conds[i].kshot, conds[i].net);
        fmt_stat(b, R, &c, M_RANK1, PCT, 2);
        sb_str(b, " | ");
        fmt_stat(b, R, &c, M_TAR4, PCT, 2);
        sb_str(b, " | ");
        fmt_stat(b, R, &c, M_LFW, PCT, 2);
        sb_str(b, " | ");
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

/* bench.tsv: the most common (B, threads, ratio) setting is the one compared across C. */
struct bench_view {
    int c_head, c_C, c_d, c_B, c_thr, c_ratio, c_ms, c_gf, c_gemm, c_gmin, c_pcb, c_fix, c_rss,
        c_st, c_err;
};

static void bench_view(const struct tsv *t, struct bench_view *v)
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

static int bench_row_ok(const struct tsv *t, const struct bench_view *v, int i)
{
    const char *st = tsv_get(t, i, v->c_st);
    return v->c_st < 0 || (st && strcmp(st, "ok") == 0);
}

static double bench_mem_mb(const struct tsv *t, const struct bench_view *v, int i)
{
    double pcb = num_of(tsv_get(t, i, v->c_pcb)), fix = num_of(tsv_get(t, i, v->c_fix)),
           C = num_of(tsv_get(t, i, v->c_C));
    return (pcb * C + fix) / 1048576.0;
}

/* Rows sorted by (head rank, head, C, B, threads, ratio) into idx; returns count of ok rows. */
static int bench_sorted(const struct tsv *t, const struct bench_view *v, int *idx)
{
    int n = 0;
    for (int i = 1; i < t->rows; i++)
        if (bench_row_ok(t, v, i)) idx[n++] = i;
    for (int i = 1; i < n; i++) {
        int x = idx[i], j = i - 1;
        for (; j >= 0; j--) {
            int y = idx[j];
            const char *hx = tsv_get(t, x, v->c_head), *hy = tsv_get(t, y, v->c_head);
            hx = hx ? hx : "";
            hy = hy ? hy : "";
            int c = head_rank(hy) - head_rank(hx);
            if (!c) c = strcmp(hy, hx);
            const int cols[5] = {v->c_d, v->c_C, v->c_B, v->c_thr, v->c_ratio};
            for (int k = 0; k < 5 && !c; k++) {
                double a = num_of(tsv_get(t, y, cols[k])), bb = num_of(tsv_get(t, x, cols[k]));
                c = (a > bb) - (a < bb);
            }
            if (c <= 0) break;
            idx[j + 1] = idx[j];
        }
        idx[j + 1] = x;
    }
    return n;
}

static void cell_num(struct sbuf *b, const char *s, int dec)
{
    double x = num_of(s);
    if (isnan(x)) sb_str(b, " NA |");
    else sb_printf(b, " %.*f |", dec, x);
}

static void table5(struct sbuf *b, const struct rep *R)
{
    sb_str(b, "## Table 5: head cost as the number of classes grows (results/bench/bench.tsv)\n\n");
    if (!R->bench.rows) {
        sb_str(b, "No bench results: run `make bench`.\n\n");
        return;
    }
    const struct tsv *t = &R->bench;
    struct bench_view v;
    bench_view(t, &v);
    int *idx = malloc((size_t)t->rows * sizeof *idx);
    if (!idx) return;
    int n = bench_sorted(t, &v, idx);
    sb_str(b, "| head | d | C | B | threads | ratio | head step ms (median) | GFLOP/s | "
              "x GEMM bound | x bound (fastest reps) | head memory (MB) | peak RSS (MB) |\n"
              "|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (int k = 0; k < n; k++) {
        int i = idx[k];
        const char *h = tsv_get(t, i, v.c_head);
        sb_printf(b, "| %s |", h ? h : "?");
        cell_num(b, tsv_get(t, i, v.c_d), 0);
        cell_num(b, tsv_get(t, i, v.c_C), 0);
        cell_num(b, tsv_get(t, i, v.c_B), 0);
        cell_num(b, tsv_get(t, i, v.c_thr), 0);
        cell_num(b, tsv_get(t, i, v.c_ratio), 3);
        cell_num(b, tsv_get(t, i, v.c_ms), 3);
        cell_num(b, tsv_get(t, i, v.c_gf), 1);
        cell_num(b, tsv_get(t, i, v.c_gemm), 2);
        cell_num(b, v.c_gmin >= 0 ? tsv_get(t, i, v.c_gmin) : NULL, 2);
        double mb = bench_mem_mb(t, &v, i);
        if (isnan(mb)) sb_str(b, " NA |");
        else sb_printf(b, " %.2f |", mb);
        cell_num(b, tsv_get(t, i, v.c_rss), 1);
        sb_str(b, "\n");
    }
    if (!n) sb_str(b, "| (no ok rows) | | | | | | | | | | | |\n");
    sb_str(b, "\nHead memory = per_class_bytes x C + fixed_bytes. x GEMM bound = median head step /"
              " median time of the head's GEMMs alone (same shapes, same run); the fastest-reps"
              " column divides the minima, steadier when other processes share the cores.\n\n");
    /* refused configurations carry the memory they would have needed: say so */
    int first = 1;
    for (int i = 1; i < t->rows; i++) {
        const char *st = tsv_get(t, i, v.c_st);
        if (!st || strcmp(st, "refused") != 0) continue;
        if (first) sb_str(b, "Refused before allocating (memory plan):\n\n");
        first = 0;
        const char *h = tsv_get(t, i, v.c_head), *e = tsv_get(t, i, v.c_err);
        sb_printf(b, "- %s, d = %.0f, C = %.0f, %.0f thread(s): %s\n", h ? h : "?",
                  num_of(tsv_get(t, i, v.c_d)), num_of(tsv_get(t, i, v.c_C)),
                  num_of(tsv_get(t, i, v.c_thr)), e ? e : "");
    }
    if (!first) sb_str(b, "\n");
    free(idx);
}

/* ==== claims ================================================================================ */

static const char *const rule_parity_text =
    "parity: |mean paired difference| <= 2 x the baseline's std over seeds; fewer than 3 "
    "paired seeds -> inconclusive";
static const char *const rule_better_text =
    "better: paired difference > 0 in every seed and mean > 2 standard errors -> reproduced; "
    "< 0 in every seed and mean < -2 se -> not reproduced (reversed); otherwise inconclusive; "
    "fewer than 3 paired seeds -> inconclusive";

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

/* Secondary metrics next to the primary one: no verdict. */
static void secondary(struct sbuf *b, const struct rep *R, const struct cell *a,
                      const struct cell *c)
{
    struct report_paired p;
    sb_str(b, "Secondary (no verdict): TAR@FAR 1e-4 difference ");
    paired(R, a, c, M_TAR4, PCT, &p);
    fmt_diff(b, &p);
    sb_str(b, "; LFW accuracy difference ");
    paired(R, a, c, M_LFW, PCT, &p);
    fmt_diff(b, &p);
    sb_str(b, ".\n\n");
}

/* A comparison A vs B on the primary metric with a rule (0 parity, 1 better). */
static enum report_verdict compare(struct sbuf *b, const struct rep *R, const struct sel *sa,
                                   const char *an, const struct sel *sb_, const char *bn,
                                   int better, char *why, size_t nwhy)
{
    struct cell a, c;
    cell_select(R, sa, &a);
    cell_select(R, sb_, &c);
    struct report_paired p;
    paired(R, &a, &c, M_RANK1, PCT, &p);
    sb_printf(b, "Comparison: **%s** minus **%s**, MegaFace rank-1 at the largest distractor size "
                 "(%%), paired by seed.\n\n", an, bn);
    if (a.n == 0 && c.n == 0) {
        snprintf(why, nwhy, "not run in this profile");
        sb_str(b, "Not run in this profile.\n\n");
        return REPORT_NOT_RUN;
    }
    paired_block(b, &p, an, bn);
    secondary(b, R, &a, &c);
    enum report_verdict v =
        better ? report_rule_better(&p, why, nwhy) : report_rule_parity(&p, why, nwhy);
    if (v == REPORT_NOT_RUN) snprintf(why, nwhy, "not run in this profile (no paired seeds)");
    sb_printf(b, "Rule: %s.\n\n", better ? rule_better_text : rule_parity_text);
    return v;
}

static void verdict_line(struct sbuf *b, const char *why) { sb_printf(b, "**Verdict: %s.**\n\n", why); }

static void claim1(struct sbuf *b, const struct rep *R, enum report_verdict *v)
{
    char why[200];
    sb_str(b, "### Claim 1: 10 % of classes ~ all classes (Claim B)\n\n");
    struct sel a = sel_base(R, "dcq", "ms1m", 0.1), f = sel_base(R, "full", "ms1m", 1.0);
    *v = compare(b, R, &a, "dcq 10 %", &f, "full (same loss)", 0, why, sizeof why);
    verdict_line(b, why);
    struct cell c;
    struct sel own = {"full", "ms1m", NULL, NULL, 1.0, NAN, 0};
    struct sel conds[8];
    int n = conditions(R, &own, conds, 8);
    for (int i = 0; i < n; i++) {
        if (!strcmp(conds[i].loss, R->common_loss)) continue;
        cell_select(R, &conds[i], &c);
        char lab[128], w2[200];
        snprintf(lab, sizeof lab, "full (%s)", conds[i].loss);
        sb_str(b, "Second baseline (full softmax with its own loss):\n\n");
        enum report_verdict v2 = compare(b, R, &a, "dcq 10 %", &conds[i], lab, 0, w2, sizeof w2);
        (void)v2;
        sb_printf(b, "Against the second baseline: %s.\n\n", w2);
    }
}

static void claim2(struct sbuf *b, const struct rep *R, enum report_verdict *v)
{
    sb_str(b, "### Claim 2: head cost scales with L, not C (Claim A)\n\n");
    if (!R->bench.rows) {
        sb_str(b, "No bench results (run `make bench`).\n\n**Verdict: not run.**\n\n");
        *v = REPORT_NOT_RUN;
        return;
    }
    const struct tsv *t = &R->bench;
    struct bench_view bv;
    bench_view(t, &bv);
    int *idx = malloc((size_t)t->rows * sizeof *idx);
    if (!idx) {
        *v = REPORT_NOT_RUN;
        return;
    }
    int n = bench_sorted(t, &bv, &idx[0]);
    int c_ok = 1, d_ok = 1, n_c = 0, n_d = 0;
    double fl_min = INFINITY, fl_max = 0;
    for (int k = 0; k < n; k++) {
        int i = idx[k];
        const char *h = tsv_get(t, i, bv.c_head);
        double pcb = num_of(tsv_get(t, i, bv.c_pcb));
        if (!h) continue;
        if (!strcmp(h, "dcq")) {
            n_d++;
            d_ok &= pcb == 0.0;
            double L = num_of(tsv_get(t, i, bv.c_ratio)) * num_of(tsv_get(t, i, bv.c_C));
            double fl = num_of(tsv_get(t, i, bv.c_fix)) / L;
            if (isfinite(fl)) {
                fl_min = fmin(fl_min, fl);
                fl_max = fmax(fl_max, fl);
            }
        } else {
            n_c++;
            c_ok &= pcb > 0.0;
        }
    }
    sb_printf(b, "Memory: %d rows of full/random/sampled, per_class_bytes > 0 in %s of them; "
                 "%d rows of dcq, per_class_bytes == 0 in %s of them",
              n_c, c_ok ? "all" : "not all", n_d, d_ok ? "all" : "not all");
    if (fl_max > 0) sb_printf(b, "; dcq fixed bytes per queue slot (L = ratio x C): %.0f to %.0f", fl_min, fl_max);
    sb_str(b, ".\n\n");
    /* step time dcq/full at the largest C both have (same B, threads) */
    double bestC = -1, bestD = -1, bestT = INFINITY, tf = NAN, td = NAN;
    for (int k = 0; k < n; k++) {
        int i = idx[k];
        const char *h = tsv_get(t, i, bv.c_head);
        if (!h || strcmp(h, "full")) continue;
        for (int l = 0; l < n; l++) {
            int j = idx[l];
            const char *h2 = tsv_get(t, j, bv.c_head);
            if (!h2 || strcmp(h2, "dcq")) continue;
            double C = num_of(tsv_get(t, i, bv.c_C));
            if (C != num_of(tsv_get(t, j, bv.c_C))) continue;
            if (num_of(tsv_get(t, i, bv.c_B)) != num_of(tsv_get(t, j, bv.c_B))) continue;
            if (num_of(tsv_get(t, i, bv.c_thr)) != num_of(tsv_get(t, j, bv.c_thr))) continue;
            if (num_of(tsv_get(t, i, bv.c_d)) != num_of(tsv_get(t, j, bv.c_d))) continue;
            /* largest C, then the larger d, then the fewer threads */
            double d = num_of(tsv_get(t, i, bv.c_d)), T = num_of(tsv_get(t, i, bv.c_thr));
            if (C > bestC || (C == bestC && (d > bestD || (d == bestD && T < bestT)))) {
                bestD = d;
                bestT = T;
                bestC = C;
                tf = num_of(tsv_get(t, i, bv.c_ms));
                td = num_of(tsv_get(t, j, bv.c_ms));
            }
        }
    }
    if (bestC > 0)
        sb_printf(b, "Head step time at the largest common C = %.0f (d = %.0f, %.0f thread(s)): "
                     "dcq %.3f ms, full %.3f ms, ratio dcq/full = %.3f (full / dcq = %.1fx).\n\n",
                  bestC, bestD, bestT, td, tf, td / tf, tf / td);
    else
        sb_str(b, "No C with both a full and a dcq row: no step-time ratio.\n\n");
    sb_str(b, "Rule: reproduced when every full/random/sampled row has per-class memory (~ C) "
              "and every dcq row has none (memory ~ L only). Timing is reported, not judged.\n\n");
    if (n_c == 0 || n_d == 0) {
        *v = REPORT_NOT_RUN;
        sb_str(b, "**Verdict: not run (bench.tsv lacks dcq or C-dependent heads).**\n\n");
    } else if (c_ok && d_ok) {
        *v = REPORT_REPRODUCED;
        sb_str(b, "**Verdict: reproduced (memory).**\n\n");
    } else {
        *v = REPORT_NOT_REPRODUCED;
        sb_str(b, "**Verdict: not reproduced (memory).**\n\n");
    }
    free(idx);
}

static void claim3(struct sbuf *b, const struct rep *R, enum report_verdict *v)
{
    char why[200];
    sb_str(b, "### Claim 3: long tail, DCQ beats the full-class baseline (Claim D)\n\n");
    struct sel a = sel_base(R, "dcq", "mf2", 0.1), f = sel_base(R, "full", "mf2", 1.0);
    *v = compare(b, R, &a, "dcq 10 %", &f, "full", 1, why, sizeof why);
    verdict_line(b, why);
}

static void claim4(struct sbuf *b, const struct rep *R, enum report_verdict *v)
{
    char why[200];
    sb_str(b, "### Claim 4: the gain comes from tail classes (Claim C)\n\n");
    struct sel s[4] = {sel_base(R, "dcq", "mf2", 0.1), sel_base(R, "full", "mf2", 1.0),
                       sel_base(R, "dcq", "ms1m", 0.1), sel_base(R, "full", "ms1m", 1.0)};
    struct cell c[4];
    for (int i = 0; i < 4; i++) cell_select(R, &s[i], &c[i]);
    struct report_paired lt, bal, p;
    paired(R, &c[0], &c[1], M_RANK1, PCT, &lt);
    paired(R, &c[2], &c[3], M_RANK1, PCT, &bal);
    memset(&p, 0, sizeof p);
    for (int i = 0; i < lt.n; i++)
        for (int j = 0; j < bal.n; j++)
            if (lt.seed[i] == bal.seed[j]) {
                p.seed[p.n] = lt.seed[i];
                p.a[p.n] = lt.d[i];
                p.b[p.n] = bal.d[j];
                p.n++;
            }
    report_paired_stats(&p);
    sb_str(b, "Comparison: long-tail gap (dcq 10 % minus full on mf2) minus balanced gap (dcq 10 % "
              "minus full on ms1m), MegaFace rank-1 at the largest size, paired by seed: the "
              "tail-specific part of the gain (CALIBRATION.md).\n\n");
    sb_str(b, "Long-tail gap ");
    fmt_diff(b, &lt);
    sb_str(b, "; balanced gap ");
    fmt_diff(b, &bal);
    sb_str(b, ".\n\n");
    if (!p.n) {
        sb_str(b, "No seed has all four runs.\n\n");
    } else {
        sb_str(b, "| seed | long-tail gap | balanced gap | tail-specific |\n|---|---|---|---|\n");
        for (int i = 0; i < p.n; i++)
            sb_printf(b, "| %d | %+.2f | %+.2f | %+.2f |\n", p.seed[i], nz(p.a[i]), nz(p.b[i]),
                      nz(p.d[i]));
        sb_str(b, "\nTail-specific part ");
        fmt_diff(b, &p);
        if (p.n >= 2) sb_printf(b, "; standard error %.2f", p.se);
        sb_str(b, " (points).\n\n");
    }
    sb_str(b, "Per-bucket accuracy gaps (dcq minus full, held-out accuracy against class means, "
              "points, paired by seed):\n\n| split |");
    for (int k = 0; k < N_BUCKETS; k++) sb_printf(b, " %s |", buckets[k]);
    sb_str(b, "\n|---|");
    for (int k = 0; k < N_BUCKETS; k++) sb_str(b, "---|");
    sb_str(b, "\n");
    for (int sp = 0; sp < 2; sp++) {
        sb_printf(b, "| %s |", sp ? "ms1m" : "mf2");
        for (int k = 0; k < N_BUCKETS; k++) {
            char m[64];
            snprintf(m, sizeof m, "tail_acc_mean_%s", buckets[k]);
            struct report_paired q;
            paired(R, &c[2 * sp], &c[2 * sp + 1], m, PCT, &q);
            sb_str(b, " ");
            fmt_diff(b, &q);
            sb_str(b, " |");
        }
        sb_str(b, "\n");
    }
    sb_printf(b, "\nRule: %s (applied to the tail-specific part).\n\n", rule_better_text);
    *v = report_rule_better(&p, why, sizeof why);
    verdict_line(b, why);
}

static void claim5(struct sbuf *b, const struct rep *R, enum report_verdict *v)
{
    char why[200], an[64];
    sb_str(b, "### Claim 5: the momentum generator matters (Fig. 2)\n\n");
    struct sel a = sel_base(R, "dcq", "mf2", 0.1), z = a;
    z.mu = 0.0;
    snprintf(an, sizeof an, "dcq mu %g", R->main_mu);
    *v = compare(b, R, &a, an, &z, "dcq mu 0", 1, why, sizeof why);
    verdict_line(b, why);
    struct sel where = {"dcq", "mf2", "ema", R->common_loss, 0.1, NAN, 1}, conds[32];
    int n = conditions(R, &where, conds, 32);
    struct cell ca, cm;
    cell_select(R, &a, &ca);
    sb_str(b, "Every mu against the main mu (rank-1, points): ");
    for (int i = 0; i < n; i++) {
        cell_select(R, &conds[i], &cm);
        struct report_paired p;
        paired(R, &cm, &ca, M_RANK1, PCT, &p);
        sb_printf(b, "%smu %g: ", i ? "; " : "", conds[i].mu);
        fmt_diff(b, &p);
    }
    sb_str(b, n ? ".\n\n" : "none.\n\n");
}

static void claim6(struct sbuf *b, const struct rep *R, enum report_verdict *v)
{
    char why[200];
    sb_str(b, "### Claim 6: DCQ vs random subset at equal budget\n\n"
              "The direction is judged with the better rule; the mf2 verdict is the claim's.\n\n");
    static const char *const splits[2] = {"mf2", "ms1m"};
    for (int sp = 0; sp < 2; sp++) {
        struct sel a = sel_base(R, "dcq", splits[sp], 0.1), r = sel_base(R, "random", splits[sp], 0.1);
        char an[64], bn[64];
        snprintf(an, sizeof an, "dcq 10 %% (%s)", splits[sp]);
        snprintf(bn, sizeof bn, "random 10 %% (%s)", splits[sp]);
        enum report_verdict x = compare(b, R, &a, an, &r, bn, 1, why, sizeof why);
        if (sp == 0) *v = x;
        sb_printf(b, "**Verdict (%s): %s.**\n\n", splits[sp], why);
    }
}

static void claim7(struct sbuf *b, const struct rep *R, enum report_verdict *v)
{
    char why[200];
    sb_str(b, "### Claim 7: control, Partial FC's own claim (r = 10 % ~ r = 100 %)\n\n");
    struct sel a = sel_base(R, "random", "ms1m", 0.1), f = sel_base(R, "full", "ms1m", 1.0);
    *v = compare(b, R, &a, "random 10 %", &f, "full", 0, why, sizeof why);
    verdict_line(b, why);
    /* "a very small r loses": the smallest ratio below 10 %, better rule full over it */
    struct sel where = {"random", "ms1m", NULL, R->common_loss, NAN, NAN, 0}, conds[32];
    int n = conditions(R, &where, conds, 32);
    if (n && conds[0].ratio < 0.1 - 1e-12) {
        char lab[64];
        snprintf(lab, sizeof lab, "random %g %%", conds[0].ratio * 100);
        sb_str(b, "Second part, a very small ratio loses:\n\n");
        compare(b, R, &f, "full", &conds[0], lab, 1, why, sizeof why);
        sb_printf(b, "**Verdict (full beats %s): %s.**\n\n", lab, why);
    }
}

static void claim8(struct sbuf *b, const struct rep *R, enum report_verdict *v)
{
    char why[200];
    sb_str(b, "### Claim 8: evaluate the right network (EMA f_k vs online f_q)\n\n");
    struct sel a = sel_base(R, "dcq", "mf2", 0.1), o = a;
    o.net = "online";
    *v = compare(b, R, &a, "dcq EMA (f_k)", &o, "dcq online (f_q)", 1, why, sizeof why);
    sb_str(b, "Reproduced means the authors' choice (EMA network) is better by the rule; reversed "
              "means the online network is better.\n\n");
    verdict_line(b, why);
}

static void claim9(struct sbuf *b, const struct rep *R, enum report_verdict *v)
{
    sb_str(b, "### Claim 9: 1-shot suffices (k-shot generated weights)\n\n");
    struct sel one = sel_base(R, "dcq", "mf2", 0.1);
    struct sel where = {"dcq", "mf2", "ema", R->common_loss, 0.1, R->main_mu, 0}, conds[32];
    int n = conditions(R, &where, conds, 32), any = 0, better = 0, all_rev = 1;
    for (int i = 0; i < n; i++) {
        if (conds[i].kshot <= 1) continue;
        char an[64], why[200];
        snprintf(an, sizeof an, "dcq kshot %d", conds[i].kshot);
        enum report_verdict x = compare(b, R, &conds[i], an, &one, "dcq kshot 1", 1, why, sizeof why);
        sb_printf(b, "**kshot %d better than kshot 1: %s.**\n\n", conds[i].kshot, why);
        any = 1;
        better |= x == REPORT_REPRODUCED;
        all_rev &= x == REPORT_NOT_REPRODUCED;
        if (x == REPORT_FEW_SEEDS || x == REPORT_NOT_RUN) all_rev = 0;
    }
    if (!any) {
        *v = REPORT_NOT_RUN;
        sb_str(b, "**Verdict: not run in this profile.**\n\n");
        return;
    }
    *v = better ? REPORT_NOT_REPRODUCED : all_rev ? REPORT_REPRODUCED : REPORT_INCONCLUSIVE;
    sb_printf(b, "Claim verdict: a k-shot setting beating 1-shot by the better rule contradicts "
                 "the claim; 1-shot beating every k-shot setting supports it.\n\n**Verdict: %s.**\n\n",
              better ? "not reproduced (multi-shot is better)"
                     : all_rev ? "reproduced (1-shot is better than every k-shot setting)"
                               : "inconclusive at this scale");
}

/* ==== header ================================================================================ */

/* Distinct values of config key `key` over runs matching profile (NULL any), comma-joined. */
static void distinct_cfg(struct sbuf *b, const struct rep *R, const char *key, const char *profile)
{
    const char *seen[64];
    int n = 0;
    for (int i = 0; i < R->n_runs; i++) {
        if (profile && strcmp(R->r[i].profile, profile)) continue;
        const char *v = run_cfg(R, R->r[i].row, key);
        if (!v) v = "NA";
        int dup = 0;
        for (int k = 0; k < n && !dup; k++) dup = !strcmp(seen[k], v);
        if (!dup && n < 64) {
            int k = n++;
            while (k > 0 && strcmp(seen[k - 1], v) > 0) {
                seen[k] = seen[k - 1];
                k--;
            }
            seen[k] = v;
        }
    }
    if (!n) sb_str(b, "–");
    for (int k = 0; k < n; k++) sb_printf(b, "%s%s", k ? ", " : "", seen[k]);
}

static void header(struct sbuf *b, const struct rep *R, const char *profile)
{
    sb_printf(b, "# dcqbench reproduction report: profile %s\n\n", profile);
    if (strstr(R->sweep, "smoke") || (profile && strcmp(profile, "smoke") == 0))
        sb_str(b, "> **Smoke profile: toy scale. These numbers exercise the pipeline; they are not "
                  "evidence for or against any claim.**\n\n");
    if (R->o->timestamp) sb_printf(b, "Generated: %s\n\n", R->o->timestamp);
    sb_printf(b, "- Sweep: `%s` (results in `%s/`)\n", R->sweep, R->dir);
    sb_printf(b, "- Runs: %d distinct (%d ok, %d failed; %d retried, the last row counts)\n",
              R->n_runs, R->n_ok, R->n_failed, R->n_retried);
    sb_str(b, "- Git revisions in runs.tsv: ");
    int c_rev = tsv_col(&R->t, "git_rev");
    const char *seen[64];
    int n = 0;
    for (int i = 0; i < R->n_runs; i++) {
        const char *v = tsv_get(&R->t, R->r[i].row, c_rev);
        v = v ? v : "NA";
        int dup = 0;
        for (int k = 0; k < n && !dup; k++) dup = !strcmp(seen[k], v);
        if (!dup && n < 64) {
            int k = n++;
            while (k > 0 && strcmp(seen[k - 1], v) > 0) {
                seen[k] = seen[k - 1];
                k--;
            }
            seen[k] = v;
        }
    }
    for (int k = 0; k < n; k++) sb_printf(b, "%s`%s`", k ? ", " : "", seen[k]);
    sb_str(b, n ? "\n" : "none\n");
    sb_str(b, "- Scale: ms1m-like ids ");
    distinct_cfg(b, R, "ids", "ms1m");
    sb_str(b, "; mf2-like ids ");
    distinct_cfg(b, R, "ids", "mf2");
    sb_str(b, "; steps ");
    distinct_cfg(b, R, "steps", NULL);
    sb_str(b, "; batch ");
    distinct_cfg(b, R, "batch", NULL);
    sb_str(b, "; distractors ");
    distinct_cfg(b, R, "eval.distractors", NULL);
    sb_str(b, "; seeds ");
    distinct_cfg(b, R, "seed", NULL);
    sb_printf(b, "\n- Common loss (every head unless marked \"own loss\"): %s\n",
              R->common_loss[0] ? R->common_loss : "–");
    if (!isnan(R->main_mu)) sb_printf(b, "- DCQ main momentum mu: %g (the mu of the dcq runs on ms1m)\n", R->main_mu);
    sb_str(b, "- Cells: mean ± sample std over seeds, in % with 2 decimals for accuracies; "
              "\"(n=2)\" marks fewer than 3 seeds; \"n/a\" = runs exist but the metric is undefined "
              "(e.g. TAR at a FAR below 1 / impostor pairs); \"–\" = not run.\n");
    sb_str(b, "- Primary metric of every claim: MegaFace rank-1 at the largest distractor size; "
              "TAR@FAR 1e-4 and LFW accuracy are shown next to it without a verdict.\n\n");
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
        sb_printf(b, "| %s | %s | %s | %d | ", u->run_id, u->head, u->profile, u->seed);
        for (const char *q = e ? e : "NA"; *q; q++) sb_str(b, *q == '|' ? "\\|" : (char[2]){*q, 0});
        sb_str(b, " |\n");
    }
    sb_str(b, "\n");
}

/* ==== derived TSVs ========================================================================== */

static int put(const struct rep *R, const char *name, const struct sbuf *b, struct dcqb_err *err)
{
    char path[1300];
    snprintf(path, sizeof path, "%s/%s", R->derived, name);
    return write_file(path, b, err);
}

/* A run's eval/<file> (or <file>) as a tsv; rows == 0 when missing. */
static void run_tsv(const struct rep *R, int ri, const char *file, struct tsv *t)
{
    char path[1300], *text = NULL;
    memset(t, 0, sizeof *t);
    snprintf(path, sizeof path, "%s/%s/%s", R->dir, R->r[ri].run_id, file);
    if (read_file(path, &text, NULL) || !text) return;
    if (tsv_parse(t, text, path, NULL)) memset(t, 0, sizeof *t);
}

static void stat_cols(struct sbuf *b, const double *v, int n)
{
    double m = mean_of(v, n), s = std_of(v, n);
    if (n) sb_printf(b, "\t%.6g", m);
    else sb_str(b, "\tNA");
    if (n >= 2) sb_printf(b, "\t%.6g", s);
    else sb_str(b, "\tNA");
}

static int derived_t1(const struct rep *R, struct dcqb_err *err)
{
    static const char *const ms[3] = {"megaface_rank1", "tar_at_far_1e-4", "lfw_acc_mean"};
    struct sbuf b = {0}, band = {0};
    sb_str(&b, "head\tratio_pct\tn\trank1_mean\trank1_std\ttar4_mean\ttar4_std\tlfw_mean\tlfw_std\n");
    for (int h = 1; head_order[h]; h++) {
        struct sel where = sel_base(R, head_order[h], "ms1m", NAN), conds[64];
        int n = conditions(R, &where, conds, 64);
        for (int i = 0; i < n; i++) {
            struct cell c;
            cell_select(R, &conds[i], &c);
            if (!c.n) continue;
            sb_printf(&b, "%s\t%g\t%d", head_order[h], conds[i].ratio * 100, c.n);
            for (int k = 0; k < 3; k++) {
                double v[REPORT_MAX_SEEDS];
                int m = cell_values(R, &c, ms[k], PCT, v, NULL);
                stat_cols(&b, v, m);
            }
            sb_str(&b, "\n");
        }
    }
    struct sel f = sel_base(R, "full", "ms1m", 1.0);
    struct cell c;
    cell_select(R, &f, &c);
    sb_str(&band, "ratio_pct\trank1_mean\trank1_lo\trank1_hi\ttar4_mean\ttar4_lo\ttar4_hi\tlfw_mean"
                  "\tlfw_lo\tlfw_hi\n");
    if (c.n)
        for (int e = 0; e < 2; e++) {
            sb_printf(&band, "%g", e ? 100.0 : 0.5);
            for (int k = 0; k < 3; k++) {
                double v[REPORT_MAX_SEEDS];
                int m = cell_values(R, &c, ms[k], PCT, v, NULL);
                double mu = mean_of(v, m), sd = m >= 2 ? std_of(v, m) : 0.0;
                if (m) sb_printf(&band, "\t%.6g\t%.6g\t%.6g", mu, mu - sd, mu + sd);
                else sb_str(&band, "\tNA\tNA\tNA");
            }
            sb_str(&band, "\n");
        }
    int rc = put(R, "t1_ratio.tsv", &b, err);
    if (!rc) rc = put(R, "t1_full_band.tsv", &band, err);
    free(b.p);
    free(band.p);
    return rc;
}

/* Mean over the cell's runs of a per-run curve: rows of `file` where key column equals `keyv`
 * (NULL = all rows), x column -> mean/std of y column. x values are taken from the union. */
static int derived_curve(const struct rep *R, const struct cell *c, const char *file,
                         const char *xcol, const char *ycol, const char *filter_col,
                         double filter_val, double yscale, struct sbuf *b)
{
    double xs[256];
    int nx = 0;
    struct tsv t[REPORT_MAX_SEEDS];
    for (int i = 0; i < c->n; i++) run_tsv(R, c->run[i], file, &t[i]);
    for (int i = 0; i < c->n; i++) {
        int cx = tsv_col(&t[i], xcol), cf = filter_col ? tsv_col(&t[i], filter_col) : -1;
        for (int r = 1; r < t[i].rows; r++) {
            if (filter_col && num_of(tsv_get(&t[i], r, cf)) != filter_val) continue;
            double x = num_of(tsv_get(&t[i], r, cx));
            if (isnan(x)) continue;
            int k = 0;
            while (k < nx && xs[k] < x) k++;
            if ((k < nx && xs[k] == x) || nx == 256) continue;
            memmove(xs + k + 1, xs + k, (size_t)(nx - k) * sizeof xs[0]);
            xs[k] = x;
            nx++;
        }
    }
    sb_printf(b, "%s\tn\t%s_mean\t%s_std\n", xcol, ycol, ycol);
    for (int k = 0; k < nx; k++) {
        double v[REPORT_MAX_SEEDS];
        int m = 0;
        for (int i = 0; i < c->n; i++) {
            int cx = tsv_col(&t[i], xcol), cy = tsv_col(&t[i], ycol),
                cf = filter_col ? tsv_col(&t[i], filter_col) : -1;
            for (int r = 1; r < t[i].rows; r++) {
                if (filter_col && num_of(tsv_get(&t[i], r, cf)) != filter_val) continue;
                if (num_of(tsv_get(&t[i], r, cx)) != xs[k]) continue;
                double y = num_of(tsv_get(&t[i], r, cy));
                if (!isnan(y)) v[m++] = y * yscale;
                break;
            }
        }
        sb_printf(b, "%.10g\t%d", xs[k], m);
        stat_cols(b, v, m);
        sb_str(b, "\n");
    }
    for (int i = 0; i < c->n; i++) tsv_free(&t[i]);
    return nx;
}

/* ROC averaged on a log FAR grid 1e-7 .. 1 (tenths of a decade), linear interpolation in FAR
 * like the evaluation; a grid point below a run's smallest positive FAR is not resolvable. */
static int derived_roc(const struct rep *R, const struct cell *c, struct sbuf *b)
{
    struct tsv t[REPORT_MAX_SEEDS];
    for (int i = 0; i < c->n; i++) run_tsv(R, c->run[i], "eval/roc.tsv", &t[i]);
    sb_str(b, "far\tn\ttar_mean\ttar_std\n");
    int rows = 0;
    for (int g = 0; g <= 70; g++) {
        double x = pow(10.0, -7.0 + g / 10.0), v[REPORT_MAX_SEEDS];
        int m = 0;
        for (int i = 0; i < c->n; i++) {
            int cf = tsv_col(&t[i], "far"), ct = tsv_col(&t[i], "tar");
            double pf = NAN, pt = NAN, minpos = INFINITY;
            for (int r = 1; r < t[i].rows; r++) {
                double f = num_of(tsv_get(&t[i], r, cf));
                if (f > 0) minpos = fmin(minpos, f);
            }
            if (x < minpos) continue;
            for (int r = 1; r < t[i].rows; r++) {
                double f = num_of(tsv_get(&t[i], r, cf)), tr = num_of(tsv_get(&t[i], r, ct));
                if (isnan(f) || isnan(tr)) continue;
                if (f >= x && !isnan(pf) && pf <= x) {
                    v[m++] = (f > pf ? pt + (tr - pt) * (x - pf) / (f - pf) : tr) * PCT;
                    break;
                }
                pf = f;
                pt = tr;
            }
        }
        if (!m) continue;
        sb_printf(b, "%.3g\t%d", x, m);
        stat_cols(b, v, m);
        sb_str(b, "\n");
        rows++;
    }
    for (int i = 0; i < c->n; i++) tsv_free(&t[i]);
    return rows;
}

/* Largest distractor size in a run's cmc.tsv. */
static double cmc_largest(const struct rep *R, const struct cell *c)
{
    double best = NAN;
    for (int i = 0; i < c->n; i++) {
        struct tsv t;
        run_tsv(R, c->run[i], "eval/cmc.tsv", &t);
        int cs = tsv_col(&t, "size");
        for (int r = 1; r < t.rows; r++) {
            double s = num_of(tsv_get(&t, r, cs));
            if (!isnan(s) && (isnan(best) || s > best)) best = s;
        }
        tsv_free(&t);
    }
    return best;
}

static int derived_per_head(const struct rep *R, struct dcqb_err *err)
{
    static const char *const splits[2] = {"mf2", "ms1m"};
    int rc = DCQB_OK;
    for (int sp = 0; sp < 2 && !rc; sp++) {
        struct sbuf tail = {0};
        sb_str(&tail, "idx\tbucket");
        struct cell cells[4];
        for (int h = 0; head_order[h]; h++) {
            struct sel s = sel_base(R, head_order[h], splits[sp], strcmp(head_order[h], "full") ? 0.1 : 1.0);
            cell_select(R, &s, &cells[h]);
            sb_printf(&tail, "\t%s_acc_mean\t%s_acc_std\t%s_cos_mean\t%s_cos_std", head_order[h],
                      head_order[h], head_order[h], head_order[h]);
        }
        sb_str(&tail, "\n");
        for (int k = 0; k < N_BUCKETS - 1; k++) {
            sb_printf(&tail, "%d\t%s", k, buckets[k]);
            for (int h = 0; head_order[h]; h++) {
                char m[64];
                double v[REPORT_MAX_SEEDS];
                snprintf(m, sizeof m, "tail_acc_mean_%s", buckets[k]);
                stat_cols(&tail, v, cell_values(R, &cells[h], m, PCT, v, NULL));
                snprintf(m, sizeof m, "tail_cos_%s", buckets[k]);
                stat_cols(&tail, v, cell_values(R, &cells[h], m, 1.0, v, NULL));
            }
            sb_str(&tail, "\n");
        }
        char name[128];
        int any = 0;
        for (int h = 0; head_order[h]; h++) any |= cells[h].n > 0;
        snprintf(name, sizeof name, "tail_%s.tsv", splits[sp]);
        if (any) rc = put(R, name, &tail, err);
        free(tail.p);
        for (int h = 0; head_order[h] && !rc; h++) {
            const struct cell *c = &cells[h];
            if (!c->n) continue;
            struct sbuf b = {0};
            if (derived_curve(R, c, "eval/rank1_vs_size.tsv", "size", "rank1", NULL, 0, PCT, &b)) {
                snprintf(name, sizeof name, "rank1_vs_size_%s_%s.tsv", splits[sp], head_order[h]);
                rc = put(R, name, &b, err);
            }
            b.n = 0;
            double L = cmc_largest(R, c);
            if (!rc && !isnan(L) &&
                derived_curve(R, c, "eval/cmc.tsv", "rank", "rate", "size", L, PCT, &b)) {
                snprintf(name, sizeof name, "cmc_%s_%s.tsv", splits[sp], head_order[h]);
                rc = put(R, name, &b, err);
            }
            b.n = 0;
            if (!rc && derived_roc(R, c, &b)) {
                snprintf(name, sizeof name, "roc_%s_%s.tsv", splits[sp], head_order[h]);
                rc = put(R, name, &b, err);
            }
            /* training loss of the lowest seed, copied as is (step loss lr samples_per_s) */
            b.n = 0;
            char path[1300], *text = NULL;
            snprintf(path, sizeof path, "%s/%s/curve.tsv", R->dir, R->r[c->run[0]].run_id);
            if (!rc && !read_file(path, &text, NULL) && text) {
                sb_str(&b, text);
                snprintf(name, sizeof name, "curve_%s_%s.tsv", splits[sp], head_order[h]);
                rc = put(R, name, &b, err);
            }
            free(text);
            free(b.p);
        }
    }
    return rc;
}

static int derived_splits_cost(const struct rep *R, struct dcqb_err *err)
{
    struct sbuf b = {0};
    sb_str(&b, "profile\tids\n");
    static const char *const splits[2] = {"ms1m", "mf2"};
    for (int sp = 0; sp < 2; sp++) {
        const char *seen[16];
        int n = 0;
        for (int i = 0; i < R->n_runs; i++) {
            if (strcmp(R->r[i].profile, splits[sp])) continue;
            const char *v = run_cfg(R, R->r[i].row, "ids");
            int dup = !v;
            for (int k = 0; k < n && !dup; k++) dup = !strcmp(seen[k], v);
            if (!dup && n < 16) {
                seen[n++] = v;
                sb_printf(&b, "%s\t%s\n", splits[sp], v);
            }
        }
    }
    int rc = put(R, "splits.tsv", &b, err);
    free(b.p);
    if (rc || !R->bench.rows) return rc;
    const struct tsv *t = &R->bench;
    struct bench_view v;
    bench_view(t, &v);
    int *idx = malloc((size_t)t->rows * sizeof *idx);
    if (!idx) return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
    int n = bench_sorted(t, &v, idx);
    /* the series compared across C: the fewest threads (per-head cost, no threading noise) at
     * the largest embedding dimension measured (the paper's d = 512 when present) */
    double bT = NAN, bD = NAN;
    for (int k = 0; k < n; k++) {
        double T = num_of(tsv_get(t, idx[k], v.c_thr)), d = num_of(tsv_get(t, idx[k], v.c_d));
        if (isnan(bT) || T < bT) bT = T;
        if (isnan(bD) || d > bD) bD = d;
    }
    for (int h = 0; head_order[h] && !rc; h++) {
        struct sbuf c = {0};
        sb_str(&c, "C\tstep_ms\tmem_mb\tB\tthreads\td\n");
        int rows = 0;
        for (int k = 0; k < n; k++) {
            int i = idx[k];
            const char *hh = tsv_get(t, i, v.c_head);
            if (!hh || strcmp(hh, head_order[h])) continue;
            double B = num_of(tsv_get(t, i, v.c_B)), T = num_of(tsv_get(t, i, v.c_thr)),
                   d = num_of(tsv_get(t, i, v.c_d));
            if (!((T == bT || (isnan(T) && isnan(bT))) && (d == bD || (isnan(d) && isnan(bD)))))
                continue;
            sb_printf(&c, "%.10g\t%.6g\t%.6g\t%g\t%g\t%g\n", num_of(tsv_get(t, i, v.c_C)),
                      num_of(tsv_get(t, i, v.c_ms)), bench_mem_mb(t, &v, i), B, T, d);
            rows++;
        }
        char name[64];
        snprintf(name, sizeof name, "cost_%s.tsv", head_order[h]);
        if (rows) rc = put(R, name, &c, err);
        free(c.p);
    }
    free(idx);
    return rc;
}

/* ==== entry point =========================================================================== */

int report_write(const struct report_opts *o, struct report_summary *sum, struct dcqb_err *err)
{
    struct rep R;
    memset(&R, 0, sizeof R);
    memset(sum, 0, sizeof *sum);
    R.o = o;
    const char *root = o->results_dir ? o->results_dir : "results";
    const char *profile = o->profile ? o->profile : "(unnamed)";
    if (o->sweep) snprintf(R.sweep, sizeof R.sweep, "%s", o->sweep);
    else if (o->profile) snprintf(R.sweep, sizeof R.sweep, "reproduce_%s", o->profile);
    else return DCQB_FAIL(err, DCQB_EINVAL, "report: give a profile or a sweep name");
    snprintf(R.dir, sizeof R.dir, "%s/%s", root, R.sweep);
    char path[1200], *text = NULL;
    snprintf(path, sizeof path, "%s/runs.tsv", R.dir);
    int rc = read_file(path, &text, err);
    if (rc) return rc;
    if (!text) return DCQB_FAIL(err, DCQB_EIO, "%s: not found (run the sweep first)", path);
    if ((rc = tsv_parse(&R.t, text, path, err))) return rc;
    if ((rc = load_runs(&R, err))) goto out;
    most_common_loss(&R);
    find_main_mu(&R);
    sum->rows = R.t.rows - 1;
    sum->runs = R.n_runs;
    sum->ok = R.n_ok;
    sum->failed = R.n_failed;
    sum->retried = R.n_retried;
    sum->bench_rows = -1;
    if (o->bench_tsv) snprintf(path, sizeof path, "%s", o->bench_tsv);
    else snprintf(path, sizeof path, "%s/bench/bench.tsv", root);
    if ((rc = read_file(path, &text, err))) goto out;
    if (text && (rc = tsv_parse(&R.bench, text, path, err))) goto out;
    if (R.bench.rows) {
        struct bench_view v;
        bench_view(&R.bench, &v);
        sum->bench_rows = 0;
        for (int i = 1; i < R.bench.rows; i++) sum->bench_rows += bench_row_ok(&R.bench, &v, i);
    }

    struct sel *conds = malloc(MAX_COND * sizeof *conds);
    if (!conds) {
        rc = DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
        goto out;
    }
    struct sbuf b = {0};
    header(&b, &R, profile);
    table1(&b, &R, conds);
    table2(&b, &R);
    table3(&b, &R);
    table4(&b, &R, conds);
    table5(&b, &R);
    free(conds);
    sb_str(&b, "## Claims (REFERENCE.md section 9)\n\n");
    void (*claims[REPORT_N_CLAIMS])(struct sbuf *, const struct rep *, enum report_verdict *) = {
        claim1, claim2, claim3, claim4, claim5, claim6, claim7, claim8, claim9};
    for (int i = 0; i < REPORT_N_CLAIMS; i++) claims[i](&b, &R, &sum->verdict[i]);
    sb_str(&b, "## Verdicts at a glance\n\n| claim | verdict |\n|---|---|\n");
    for (int i = 0; i < REPORT_N_CLAIMS; i++)
        sb_printf(&b, "| %d | %s |\n", i + 1, report_verdict_name(sum->verdict[i]));
    sb_str(&b, "\n");
    failed_section(&b, &R);
    if (o->out) snprintf(sum->out, sizeof sum->out, "%.500s", o->out);
    else snprintf(sum->out, sizeof sum->out, "%.480s/REPORT.md", root);
    rc = write_file(sum->out, &b, err);
    free(b.p);
    if (rc || o->no_derived) goto out;
    snprintf(R.derived, sizeof R.derived, "%s/derived", R.dir);
    if ((rc = fs_mkdir_p(R.derived, err))) goto out;
    if (!(rc = derived_t1(&R, err)) && !(rc = derived_per_head(&R, err)))
        rc = derived_splits_cost(&R, err);
    if (!rc) snprintf(sum->derived, sizeof sum->derived, "%.500s", R.derived);
out:
    tsv_free(&R.t);
    tsv_free(&R.bench);
    free(R.r);
    return rc;
}
