/* sweep_file.c - sweep files (see sweep.h): the keys and heads a sweep may name, canonical
 * values, parsing with file:line errors, expansion into runs (Cartesian product per head
 * section), run ids (FNV-1a 64 of the canonical text) and the canonical run order.
 * docs/ARCHITECTURE.md §4 describes the life of a sweep.
 */
#include "sweep.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "cfg.h"
#include "eval.h"
#include "head.h"
#include "train.h"
#include "train_keys.h"

#define SWEEP_ORDER_SEED 0x5eedc0ffee123457ULL /* fixed: the canonical order never changes */

/* What a sweep may set is what training reads: one source of truth (train_key_known). */
int sweep_key_known(const char *key) { return train_key_known(key); }

int sweep_head_known(const char *name) { return head_find(name) != NULL; }

/* ==== canonical values ====================================================================== */

int sweep_canon_value(char *out, size_t n, const char *val)
{
    /* integer literal: exact, whatever its size (seeds are uint64 and do not fit a double) */
    const char *p = val;
    int neg = 0;
    if (*p == '+' || *p == '-') neg = *p++ == '-';
    size_t nd = strspn(p, "0123456789");
    if (nd > 0 && p[nd] == '\0') {
        while (*p == '0' && p[1]) p++;
        int zero = strcmp(p, "0") == 0;
        int w = snprintf(out, n, "%s%s", neg && !zero ? "-" : "", p);
        return w < 0 || (size_t)w >= n ? DCQB_EINVAL : DCQB_OK;
    }
    char *end;
    errno = 0;
    double d = strtod(val, &end);
    if (end != val && *end == '\0' && errno == 0 && isfinite(d)) {
        /* integral values print as integers, so "1e6" and "1000000" hash alike */
        if (d == floor(d) && fabs(d) < 1e21) {
            int w = snprintf(out, n, "%.0f", d == 0 ? 0.0 : d);
            return w < 0 || (size_t)w >= n ? DCQB_EINVAL : DCQB_OK;
        }
        /* shortest %.<p>g that reads back to the same double: same classes as %.17g */
        for (int prec = 1; prec <= 17; prec++) {
            char buf[64];
            snprintf(buf, sizeof buf, "%.*g", prec, d);
            if (strtod(buf, NULL) == d || prec == 17) {
                if (strcmp(buf, "-0") == 0) snprintf(buf, sizeof buf, "0");
                int w = snprintf(out, n, "%s", buf);
                return w < 0 || (size_t)w >= n ? DCQB_EINVAL : DCQB_OK;
            }
        }
    }
    int w = snprintf(out, n, "%s", val);
    return w < 0 || (size_t)w >= n ? DCQB_EINVAL : DCQB_OK;
}


/* ==== parsing and expansion ================================================================= */

#define MAX_SECTIONS 64
#define MAX_ITEMS 128 /* keys per section */
#define MAX_VALS 256  /* values per list */

struct section {
    char name[CFG_KEY_MAX];
    int line;
};

struct item {
    const char *key; /* points into the cfg entry */
    int line;
    int n;
    char **vals; /* MAX_VALS canonical values, each malloc'd */
};

struct group {          /* [base] or one [head.<name>] */
    char head[CFG_KEY_MAX];
    int n;
    struct item it[MAX_ITEMS];
};

static void group_free(struct group *g)
{
    for (int i = 0; i < g->n; i++) {
        for (int j = 0; j < g->it[i].n; j++) free(g->it[i].vals[j]);
        free(g->it[i].vals);
    }
    g->n = 0;
}

/* Section headers and their lines, the way libinih sees them (cfg_load_ini does not report
 * sections, and an empty [head.full] calls no handler). Also rejects lines libinih would split. */
static int scan_sections(const char *path, struct section *sec, int *n_sec, struct dcqb_err *err)
{
    FILE *f = fopen(path, "r");
    if (!f) return DCQB_FAIL(err, DCQB_EIO, "%s: cannot open: %s", path, strerror(errno));
    char line[1024];
    int ln = 0, n = 0, rc = DCQB_OK, have_key = 0;
    while (fgets(line, sizeof line, f)) {
        ln++;
        size_t len = strlen(line);
        if (len >= 198 || (len == sizeof line - 1 && line[len - 1] != '\n')) {
            rc = DCQB_FAIL(err, DCQB_EINVAL, "%s:%d: line too long (libinih reads at most "
                           "197 characters per line)", path, ln);
            break;
        }
        const char *s = line + strspn(line, " \t\r\n");
        if (!*s || *s == ';' || *s == '#') continue;
        if (*s == '[' && !(s > line && have_key)) { /* indented after a key: a continuation */
            const char *e = strchr(s, ']');
            if (!e) continue; /* libinih reports the syntax error */
            if (n == MAX_SECTIONS) {
                rc = DCQB_FAIL(err, DCQB_EINVAL, "%s:%d: more than %d sections", path, ln,
                               MAX_SECTIONS);
                break;
            }
            size_t l = (size_t)(e - s - 1);
            if (l >= CFG_KEY_MAX) l = CFG_KEY_MAX - 1;
            memcpy(sec[n].name, s + 1, l);
            sec[n].name[l] = '\0';
            sec[n].line = ln;
            for (int i = 0; i < n; i++)
                if (strcmp(sec[i].name, sec[n].name) == 0) {
                    rc = DCQB_FAIL(err, DCQB_EINVAL, "%s:%d: section [%s] given twice (first at "
                                   "line %d)", path, ln, sec[n].name, sec[i].line);
                    goto out;
                }
            n++;
            have_key = 0;
        } else {
            have_key = 1;
        }
    }
out:
    fclose(f);
    *n_sec = n;
    return rc;
}

/* Split a comma list into canonical values (trimmed, non-empty, no repeats). */
static int split_values(struct item *it, const char *val, const char *path, int line,
                        struct dcqb_err *err)
{
    if (!val[0]) return DCQB_FAIL(err, DCQB_EINVAL, "%s:%d: '%s' has an empty value", path, line,
                                  it->key);
    if (strchr(val, '#'))
        return DCQB_FAIL(err, DCQB_EINVAL, "%s:%d: '#' in the value of '%s' (inline comments "
                         "start with ' ;')", path, line, it->key);
    if (strchr(val, '\t'))
        return DCQB_FAIL(err, DCQB_EINVAL, "%s:%d: tab in the value of '%s'", path, line,
                         it->key);
    it->vals = calloc(MAX_VALS, sizeof *it->vals);
    if (!it->vals) return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
    const char *p = val;
    for (;;) {
        const char *c = strchr(p, ',');
        size_t l = c ? (size_t)(c - p) : strlen(p);
        while (l && (*p == ' ')) p++, l--;
        while (l && p[l - 1] == ' ') l--;
        char raw[CFG_VAL_MAX], canon[CFG_VAL_MAX];
        memcpy(raw, p, l);
        raw[l] = '\0';
        if (!l) return DCQB_FAIL(err, DCQB_EINVAL, "%s:%d: empty item in the list of '%s'",
                                 path, line, it->key);
        if (it->n == MAX_VALS)
            return DCQB_FAIL(err, DCQB_EINVAL, "%s:%d: more than %d values for '%s'", path,
                             line, MAX_VALS, it->key);
        if (sweep_canon_value(canon, sizeof canon, raw))
            return DCQB_FAIL(err, DCQB_EINVAL, "%s:%d: value too long", path, line);
        for (int j = 0; j < it->n; j++)
            if (strcmp(it->vals[j], canon) == 0)
                return DCQB_FAIL(err, DCQB_EINVAL, "%s:%d: '%s' lists the value %s twice",
                                 path, line, it->key, canon);
        it->vals[it->n] = malloc(strlen(canon) + 1);
        if (!it->vals[it->n]) return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
        strcpy(it->vals[it->n++], canon);
        if (!c) break;
        p = c + 1;
    }
    return DCQB_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_item(const void *a, const void *b)
{
    return strcmp(((const struct item *)a)->key, ((const struct item *)b)->key);
}

static int cmp_run(const void *a, const void *b)
{
    const struct sweep_run *x = a, *y = b;
    if (x->order != y->order) return x->order < y->order ? -1 : 1;
    return strcmp(x->run_id, y->run_id);
}

/* Build one run from the merged, key-sorted items and the chosen value index of each. */
static int make_run(struct sweep_run *r, const struct item *it, int n, const int *idx,
                    struct dcqb_err *err)
{
    size_t text = 0, kv = 0;
    for (int i = 0; i < n; i++) {
        size_t kl = strlen(it[i].key), vl = strlen(it[i].vals[idx[i]]);
        text += kl + vl + 4;
        kv += kl + vl + 2;
    }
    size_t ptrs = 2 * (size_t)n * sizeof(char *);
    char *blk = malloc(ptrs + text + 1 + kv);
    if (!blk) return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory expanding the sweep");
    r->key = (const char **)(void *)blk;
    r->val = r->key + n;
    r->conf = blk + ptrs;
    char *t = r->conf, *s = r->conf + text + 1;
    for (int i = 0; i < n; i++) {
        const char *v = it[i].vals[idx[i]];
        t += sprintf(t, "%s = %s\n", it[i].key, v);
        r->key[i] = s;
        s += sprintf(s, "%s", it[i].key) + 1;
        r->val[i] = s;
        s += sprintf(s, "%s", v) + 1;
    }
    *t = '\0';
    r->n_kv = n;
    uint64_t h = dcqb_fnv1a64(DCQB_FNV1A64_INIT, r->conf, strlen(r->conf));
    snprintf(r->run_id, sizeof r->run_id, "%016llx", (unsigned long long)h);
    uint64_t st = h ^ SWEEP_ORDER_SEED;
    r->order = dcqb_splitmix64(&st);
    return DCQB_OK;
}

/* Cartesian product of base x head group into s->runs (appended). */
static int expand_group(struct sweep *s, const struct group *base, const struct group *hd,
                        int *cap, struct dcqb_err *err)
{
    struct item *m = calloc(2 * MAX_ITEMS + 1, sizeof *m);
    int idx[2 * MAX_ITEMS + 1] = {0};
    if (!m) return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
    int n = 0, rc = DCQB_OK;
    char *headval[1] = {(char *)hd->head};
    for (int i = 0; i < base->n; i++) { /* a head section's key overrides [base]'s */
        int over = 0;
        for (int j = 0; j < hd->n; j++) over |= strcmp(hd->it[j].key, base->it[i].key) == 0;
        if (!over) m[n++] = base->it[i];
    }
    for (int j = 0; j < hd->n; j++) m[n++] = hd->it[j];
    m[n].key = "head";
    m[n].n = 1;
    m[n].vals = headval;
    n++;
    qsort(m, (size_t)n, sizeof *m, cmp_item);
    double count = 1;
    for (int i = 0; i < n; i++) count *= m[i].n;
    if (count + s->n_runs > SWEEP_MAX_RUNS) {
        rc = DCQB_FAIL(err, DCQB_EINVAL, "%s: [head.%s] expands to %.0f runs (limit %d in all)",
                       s->path, hd->head, count, SWEEP_MAX_RUNS);
        goto out;
    }
    for (;;) {
        if (s->n_runs == *cap) {
            int nc = *cap ? 2 * *cap : 64;
            struct sweep_run *nr = realloc(s->runs, (size_t)nc * sizeof *nr);
            if (!nr) {
                rc = DCQB_FAIL(err, DCQB_ENOMEM, "out of memory expanding the sweep");
                goto out;
            }
            s->runs = nr;
            *cap = nc;
        }
        rc = make_run(&s->runs[s->n_runs], m, n, idx, err);
        if (rc) goto out;
        s->n_runs++;
        int i = n - 1; /* odometer: last key fastest */
        while (i >= 0 && ++idx[i] == m[i].n) idx[i--] = 0;
        if (i < 0) break;
    }
out:
    free(m);
    return rc;
}

static int valid_name(const char *s)
{
    if (!s[0] || s[0] == '.') return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-' || *s == '.'))
            return 0;
    return 1;
}

void sweep_free(struct sweep *s)
{
    if (!s) return;
    for (int i = 0; i < s->n_runs; i++) free((void *)s->runs[i].key);
    free(s->runs);
    for (int i = 0; i < s->n_metrics; i++) free(s->metrics[i]);
    free(s->metrics);
    free(s->keys);
    free(s->cols);
    memset(s, 0, sizeof *s);
}

static int set_metrics(struct sweep *s, const char *list, const char *where,
                       struct dcqb_err *err)
{
    if (s->metrics) return DCQB_FAIL(err, DCQB_EINVAL, "%s: metrics given twice", where);
    int n = 1;
    for (const char *p = list; *p; p++) n += *p == ',';
    s->metrics = calloc((size_t)n, sizeof *s->metrics);
    if (!s->metrics) return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
    const char *p = list;
    for (;;) {
        const char *c = strchr(p, ',');
        size_t l = c ? (size_t)(c - p) : strlen(p);
        while (l && *p == ' ') p++, l--;
        while (l && p[l - 1] == ' ') l--;
        char *m = malloc(l + 1);
        if (!m) return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
        memcpy(m, p, l);
        m[l] = '\0';
        s->metrics[s->n_metrics++] = m;
        if (!valid_name(m))
            return DCQB_FAIL(err, DCQB_EINVAL, "%s: metric name '%s' must be non-empty "
                             "[A-Za-z0-9._-]", where, m);
        for (int i = 0; i < s->n_metrics - 1; i++)
            if (strcmp(s->metrics[i], m) == 0)
                return DCQB_FAIL(err, DCQB_EINVAL, "%s: metric '%s' listed twice", where, m);
        /* a typo would be a silent all-NA column: only keys metrics.json writes are metrics */
        int known = 0;
        for (int i = 0; eval_metric_keys[i] && !known; i++) known = !strcmp(eval_metric_keys[i], m);
        if (!known)
            return DCQB_FAIL(err, DCQB_EINVAL, "%s: unknown metric '%s' (metrics are the keys of "
                             "eval/metrics.json, e.g. lfw_acc, megaface_rank1)", where, m);
        if (!c) break;
        p = c + 1;
    }
    return DCQB_OK;
}


/* ==== loading =============================================================================== */

struct loader {
    struct sweep *s;
    const char *path;
    struct cfg c;
    struct section sec[MAX_SECTIONS];
    int n_sec;
    int sec_group[MAX_SECTIONS]; /* group of each section, -1 for [sweep] */
    struct group *g;             /* g[0] = base, then one per head section */
    int n_g;
    const char *name;            /* [sweep] name, NULL when not given */
};

/* Sections: base, sweep, head.<known head>[.<label>]; each head section becomes a group. */
static int classify_sections(struct loader *L, struct dcqb_err *err)
{
    for (int i = 0; i < L->n_sec; i++) {
        const struct section *sc = &L->sec[i];
        L->sec_group[i] = -1;
        if (strcmp(sc->name, "base") == 0) {
            L->sec_group[i] = 0;
        } else if (strncmp(sc->name, "head.", 5) == 0) {
            /* [head.<name>] or [head.<name>.<label>]: a label lets one head appear in several
             * tables of one sweep (e.g. a momentum ablation next to the main comparison) */
            char h[CFG_KEY_MAX];
            snprintf(h, sizeof h, "%s", sc->name + 5);
            h[strcspn(h, ".")] = '\0';
            if (!sweep_head_known(h)) {
                char names[256] = "";
                for (const struct head_ops *const *hp = head_list(); *hp; hp++) {
                    size_t l = strlen(names);
                    snprintf(names + l, sizeof names - l, "%s%s", l ? ", " : "", (*hp)->name);
                }
                return DCQB_FAIL(err, DCQB_EINVAL, "%s:%d: unknown head '%s' (known: %s)",
                                 L->path, sc->line, h, names);
            }
            snprintf(L->g[L->n_g].head, sizeof L->g[L->n_g].head, "%s", h);
            L->sec_group[i] = L->n_g++;
        } else if (strcmp(sc->name, "sweep") != 0) {
            return DCQB_FAIL(err, DCQB_EINVAL, "%s:%d: unknown section [%s] (expected [sweep], "
                             "[base] or [head.<name>])", L->path, sc->line, sc->name);
        }
    }
    return DCQB_OK;
}

/* One key of the [sweep] section. */
static int sweep_section_key(struct loader *L, const char *key, const struct cfg_entry *ce,
                             struct dcqb_err *err)
{
    char where[600];
    snprintf(where, sizeof where, "%s:%d", L->path, ce->line);
    if (strcmp(key, "name") == 0) {
        if (!valid_name(ce->val) || strlen(ce->val) >= SWEEP_NAME_MAX)
            return DCQB_FAIL(err, DCQB_EINVAL, "%s: sweep name '%s' must be [A-Za-z0-9._-]"
                             " (it names a folder)", where, ce->val);
        L->name = ce->val;
    } else if (strcmp(key, "jobs") == 0) {
        char *end;
        long j = strtol(ce->val, &end, 10);
        if (end == ce->val || *end || j < 1 || j > 1024)
            return DCQB_FAIL(err, DCQB_EINVAL, "%s: jobs must be an integer in [1, 1024]",
                             where);
        L->s->jobs = (int)j;
    } else if (strcmp(key, "metrics") == 0) {
        return set_metrics(L->s, ce->val, where, err);
    } else {
        return DCQB_FAIL(err, DCQB_EINVAL, "%s: unknown key '%s' in [sweep] (known: name, "
                         "jobs, metrics)", where, key);
    }
    return DCQB_OK;
}

/* Every entry into its group; the section is the last header above the entry's line. */
static int read_entries(struct loader *L, struct dcqb_err *err)
{
    for (int e = 0; e < L->c.n; e++) {
        const struct cfg_entry *ce = &L->c.e[e];
        int si = -1, rc;
        for (int i = 0; i < L->n_sec; i++)
            if (L->sec[i].line < ce->line) si = i;
        const char *key = ce->key;
        if (si >= 0 && strcmp(L->sec[si].name, "base") != 0) key += strlen(L->sec[si].name) + 1;
        if (si >= 0 && strcmp(L->sec[si].name, "sweep") == 0) {
            if ((rc = sweep_section_key(L, key, ce, err))) return rc;
            continue;
        }
        struct group *gr = &L->g[si >= 0 ? L->sec_group[si] : 0];
        if (!sweep_key_known(key))
            return DCQB_FAIL(err, DCQB_EINVAL, "%s:%d: unknown key '%s'", L->path, ce->line,
                             key);
        if (strcmp(key, "head") == 0)
            return DCQB_FAIL(err, DCQB_EINVAL, "%s:%d: 'head' is set by the [head.<name>] "
                             "section name, not by a key", L->path, ce->line);
        if (gr->n == MAX_ITEMS)
            return DCQB_FAIL(err, DCQB_EINVAL, "%s:%d: more than %d keys in one section",
                             L->path, ce->line, MAX_ITEMS);
        struct item *it = &gr->it[gr->n++];
        it->key = key;
        it->line = ce->line;
        if ((rc = split_values(it, ce->val, L->path, ce->line, err))) return rc;
    }
    return DCQB_OK;
}

/* [sweep] metrics when given, else every metric a full evaluation writes, in metrics.json's
 * order; then the name: [sweep] name, else the file's basename without .conf. */
static int metrics_and_name(struct loader *L, struct dcqb_err *err)
{
    struct sweep *s = L->s;
    int rc;
    if (!s->metrics) {
        char list[8192] = "";
        for (int i = 0; eval_metric_keys[i]; i++) {
            size_t l = strlen(list);
            snprintf(list + l, sizeof list - l, "%s%s", i ? "," : "", eval_metric_keys[i]);
        }
        if ((rc = set_metrics(s, list, "built-in metrics", err))) return rc;
    }
    if (L->name) {
        memcpy(s->name, L->name, strlen(L->name) + 1); /* length checked when read */
        return DCQB_OK;
    }
    const char *b = strrchr(L->path, '/');
    b = b ? b + 1 : L->path;
    size_t l = strlen(b);
    if (l > 5 && strcmp(b + l - 5, ".conf") == 0) l -= 5;
    if (l >= sizeof s->name) l = sizeof s->name - 1;
    memcpy(s->name, b, l);
    s->name[l] = '\0';
    if (!valid_name(s->name))
        return DCQB_FAIL(err, DCQB_EINVAL, "%s: file name gives the sweep name '%s', which is "
                         "not [A-Za-z0-9._-]: set [sweep] name", L->path, s->name);
    return DCQB_OK;
}

/* Canonical order; the same configuration reached from two sections is one run (same run_id,
 * same canonical text): keep it once, so tables that share a cell share its runs. */
static int sort_and_dedupe(struct sweep *s, struct dcqb_err *err)
{
    qsort(s->runs, (size_t)s->n_runs, sizeof *s->runs, cmp_run);
    int kept = s->n_runs ? 1 : 0;
    for (int i = 1; i < s->n_runs; i++) {
        if (strcmp(s->runs[i].run_id, s->runs[kept - 1].run_id) == 0) {
            if (strcmp(s->runs[i].conf, s->runs[kept - 1].conf) != 0)
                return DCQB_FAIL(err, DCQB_EINVAL, "%s: two different runs share run_id %s "
                                 "(hash collision):\n%s", s->path, s->runs[i].run_id,
                                 s->runs[i].conf);
            free((void *)s->runs[i].key);
            continue;
        }
        s->runs[kept++] = s->runs[i];
    }
    s->n_runs = kept;
    return DCQB_OK;
}

/* s->keys = sorted union of the runs' keys. */
static int collect_keys(struct sweep *s, struct dcqb_err *err)
{
    int tot = 0;
    for (int i = 0; i < s->n_runs; i++) tot += s->runs[i].n_kv;
    s->keys = malloc((size_t)(tot ? tot : 1) * sizeof *s->keys);
    if (!s->keys) return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
    for (int i = 0; i < s->n_runs; i++)
        for (int k = 0; k < s->runs[i].n_kv; k++) s->keys[s->n_keys++] = (char *)s->runs[i].key[k];
    qsort(s->keys, (size_t)s->n_keys, sizeof *s->keys, cmp_str);
    int u = 0;
    for (int i = 0; i < s->n_keys; i++)
        if (!u || strcmp(s->keys[u - 1], s->keys[i]) != 0) s->keys[u++] = s->keys[i];
    s->n_keys = u;
    return DCQB_OK;
}

/* s->cols = sorted union of s->keys and every run-defining key: fixed when the header is
 * written, so each run's resolved value has a column whatever the sweep itself set. */
static int collect_cols(struct sweep *s, struct dcqb_err *err)
{
    const char **def = NULL;
    int n_def = 0, rc = train_defining_keys(&def, &n_def, err);
    if (rc) return rc;
    s->cols = malloc((size_t)(s->n_keys + n_def + 1) * sizeof *s->cols);
    if (!s->cols) {
        free(def);
        return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
    }
    int i = 0, j = 0; /* merge of two sorted lists */
    while (i < s->n_keys || j < n_def) {
        int c = i == s->n_keys ? 1 : j == n_def ? -1 : strcmp(s->keys[i], def[j]);
        s->cols[s->n_cols++] = c <= 0 ? s->keys[i] : def[j];
        i += c <= 0;
        j += c >= 0;
    }
    free(def);
    return DCQB_OK;
}

static int load(struct loader *L, struct dcqb_err *err)
{
    struct sweep *s = L->s;
    int rc, cap = 0;
    if (strlen(L->path) >= sizeof s->path)
        return DCQB_FAIL(err, DCQB_EINVAL, "%s: path too long", L->path);
    snprintf(s->path, sizeof s->path, "%s", L->path);
    if ((rc = scan_sections(L->path, L->sec, &L->n_sec, err)) ||
        (rc = cfg_load_ini(&L->c, L->path, "base", err)) ||
        (rc = classify_sections(L, err)) || (rc = read_entries(L, err)))
        return rc;
    if (L->n_g == 1)
        return DCQB_FAIL(err, DCQB_EINVAL, "%s: no [head.<name>] section, so no runs", L->path);
    if ((rc = metrics_and_name(L, err))) return rc;
    for (int i = 1; i < L->n_g; i++)
        if ((rc = expand_group(s, &L->g[0], &L->g[i], &cap, err))) return rc;
    if ((rc = sort_and_dedupe(s, err)) || (rc = collect_keys(s, err)) ||
        (rc = collect_cols(s, err)))
        return rc;
    return DCQB_OK;
}

int sweep_load(struct sweep *s, const char *path, struct dcqb_err *err)
{
    memset(s, 0, sizeof *s);
    struct loader *L = calloc(1, sizeof *L);
    if (!L) return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
    L->s = s;
    L->path = path;
    L->n_g = 1;
    L->g = calloc(MAX_SECTIONS + 1, sizeof *L->g);
    int rc = L->g ? load(L, err) : DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
    for (int i = 0; L->g && i < L->n_g; i++) group_free(&L->g[i]);
    free(L->g);
    cfg_free(&L->c);
    free(L);
    if (rc) sweep_free(s);
    return rc;
}
