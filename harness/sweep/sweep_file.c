/* sweep_file.c - sweep files (see sweep.h): the keys and heads a sweep may name, canonical
 * values, and parsing with file:line errors into a struct loader (sweep_int.h), which
 * sweep_expand.c turns into runs.
 * docs/ARCHITECTURE.md §4 describes the life of a sweep.
 */
#include "sweep.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "cfg.h"
#include "eval.h"
#include "head.h"
#include "keys.h"
#include "synth.h"
#include "train.h"
#include "train_keys.h"
#include "sweep_int.h"

/* What a sweep may set is what training reads: one source of truth (train_key_known). */
int sweep_key_known(const char *key) { return train_key_known(key); }

int sweep_head_known(const char *name) { return head_find(name) != NULL; }

/* A [data.NAME] section sets the generator's keys only: a data configuration is a data set. */
static int data_key(const char *key)
{
    return keys_find(synth_id_keys, key) || keys_find(synth_keys, key);
}

static int metric_known(const char *m)
{
    for (int i = 0; eval_metric_keys[i]; i++)
        if (!strcmp(eval_metric_keys[i], m)) return 1;
    return 0;
}

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

static void item_free(struct item *it)
{
    for (int j = 0; j < it->n; j++) free(it->vals[j]);
    free(it->vals);
    it->n = 0;
    it->vals = NULL;
}

static void group_free(struct group *g)
{
    for (int i = 0; i < g->n; i++) item_free(&g->it[i]);
    item_free(&g->sel);
    item_free(&g->seed);
    item_free(&g->dsel);
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
    for (int i = 0; s->grid_key && i < s->n_grid; i++) free(s->grid_key[i]);
    free(s->grid_key);
    for (int i = 0; s->grid_val && i < s->n_grid * s->n_points; i++) free(s->grid_val[i]);
    free(s->grid_val);
    for (int i = 0; i < s->n_groups; i++) free(s->groups[i].grid_id);
    free(s->groups);
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
        if (!metric_known(m))
            return DCQB_FAIL(err, DCQB_EINVAL, "%s: unknown metric '%s' (metrics are the keys of "
                             "eval/metrics.json, e.g. lfw_acc, megaface_rank1)", where, m);
        if (!c) break;
        p = c + 1;
    }
    return DCQB_OK;
}


/* ==== loading =============================================================================== */

/* A new group of kind k for section i. */
static struct group *new_group(struct loader *L, int i, int kind, const char *name)
{
    struct group *g = &L->g[L->n_g];
    g->kind = kind;
    g->line = L->sec[i].line;
    snprintf(g->head, sizeof g->head, "%s", name);
    snprintf(g->sect, sizeof g->sect, "%s", L->sec[i].name);
    L->sec_group[i] = L->n_g++;
    return g;
}

/* Sections: base, sweep, tune, data.<NAME>, head.<known head>[.<label>]; each but [sweep]
 * becomes a group. */
static int classify_sections(struct loader *L, struct dcqb_err *err)
{
    for (int i = 0; i < L->n_sec; i++) {
        const struct section *sc = &L->sec[i];
        L->sec_group[i] = -1;
        if (strcmp(sc->name, "base") == 0) {
            L->sec_group[i] = 0;
        } else if (strcmp(sc->name, "tune") == 0) {
            new_group(L, i, G_TUNE, "");
        } else if (strncmp(sc->name, "data.", 5) == 0) {
            if (!valid_name(sc->name + 5) || strchr(sc->name + 5, '.'))
                return DCQB_FAIL(err, DCQB_EINVAL, "%s:%d: data configuration name '%s' must "
                                 "be [A-Za-z0-9_-]", L->path, sc->line, sc->name + 5);
            new_group(L, i, G_DATA, sc->name + 5);
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
            new_group(L, i, G_HEAD, h);
        } else if (strcmp(sc->name, "sweep") != 0) {
            return DCQB_FAIL(err, DCQB_EINVAL, "%s:%d: unknown section [%s] (expected [sweep], "
                             "[base], [data.<NAME>], [tune] or [head.<name>])", L->path,
                             sc->line, sc->name);
        }
    }
    return DCQB_OK;
}

/* One key of [tune]: grid.KEY = list, seed = N, data = NAME. */
static int tune_section_key(struct loader *L, struct group *gr, const char *key,
                            const struct cfg_entry *ce, struct dcqb_err *err)
{
    struct item *it;
    if (!strncmp(key, "grid.", 5)) {
        const char *k = key + 5;
        if (!sweep_key_known(k) || !strcmp(k, "head"))
            return DCQB_FAIL(err, DCQB_EINVAL, "%s:%d: unknown grid key '%s'", L->path,
                             ce->line, k);
        if (!strcmp(k, "seed") || data_key(k))
            return DCQB_FAIL(err, DCQB_EINVAL, "%s:%d: '%s' cannot be tuned (the grid is of "
                             "training choices; seed is [tune] seed, data knobs are [data.*])",
                             L->path, ce->line, k);
        if (gr->n == MAX_ITEMS)
            return DCQB_FAIL(err, DCQB_EINVAL, "%s:%d: too many grid keys", L->path, ce->line);
        it = &gr->it[gr->n++];
        it->key = k;
    } else if (!strcmp(key, "seed") || !strcmp(key, "data")) {
        it = key[0] == 's' ? &gr->seed : &gr->dsel;
        it->key = key;
    } else {
        return DCQB_FAIL(err, DCQB_EINVAL, "%s:%d: unknown key '%s' in [tune] (known: "
                         "grid.<key>, seed, data)", L->path, ce->line, key);
    }
    it->line = ce->line;
    int rc = split_values(it, ce->val, L->path, ce->line, err);
    if (!rc && it->n > 1 && strncmp(key, "grid.", 5) != 0)
        rc = DCQB_FAIL(err, DCQB_EINVAL, "%s:%d: [tune] %s takes one value", L->path, ce->line,
                       key);
    if (!rc && !strcmp(key, "seed") && strspn(it->vals[0], "0123456789") != strlen(it->vals[0]))
        rc = DCQB_FAIL(err, DCQB_EINVAL, "%s:%d: [tune] seed must be a non-negative integer",
                       L->path, ce->line);
    return rc;
}

/* A head section's own keys: data = a, b and tune = 0|1. Returns 1 when key was one. */
static int head_section_key(struct loader *L, struct group *gr, const char *key,
                            const struct cfg_entry *ce, int *rc, struct dcqb_err *err)
{
    if (!strcmp(key, "data")) {
        gr->sel.key = "data";
        gr->sel.line = ce->line;
        *rc = split_values(&gr->sel, ce->val, L->path, ce->line, err);
        return 1;
    }
    if (!strcmp(key, "tune")) {
        if (strcmp(ce->val, "0") && strcmp(ce->val, "1"))
            *rc = DCQB_FAIL(err, DCQB_EINVAL, "%s:%d: tune must be 0 or 1", L->path, ce->line);
        gr->tuned = ce->val[0] == '1';
        gr->tune_line = ce->line;
        return 1;
    }
    return 0;
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
        if (gr->kind == G_TUNE) {
            if ((rc = tune_section_key(L, gr, key, ce, err))) return rc;
            continue;
        }
        rc = DCQB_OK;
        if (gr->kind == G_HEAD && head_section_key(L, gr, key, ce, &rc, err)) {
            if (rc) return rc;
            continue;
        }
        if (!sweep_key_known(key))
            return DCQB_FAIL(err, DCQB_EINVAL, "%s:%d: unknown key '%s'", L->path, ce->line,
                             key);
        if (gr->kind == G_DATA && !data_key(key))
            return DCQB_FAIL(err, DCQB_EINVAL, "%s:%d: '%s' is not a data key: [data.%s] sets "
                             "generator knobs only (dcqbench data --help)", L->path, ce->line,
                             key, gr->head);
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
        if (gr->kind == G_DATA && it->n > 1)
            return DCQB_FAIL(err, DCQB_EINVAL, "%s:%d: '%s' lists values in [data.%s]: a data "
                             "configuration sets one value per knob (one section per data set)",
                             L->path, ce->line, key, gr->head);
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

static int load(struct loader *L, struct dcqb_err *err)
{
    struct sweep *s = L->s;
    int rc, n_head = 0;
    if (strlen(L->path) >= sizeof s->path)
        return DCQB_FAIL(err, DCQB_EINVAL, "%s: path too long", L->path);
    snprintf(s->path, sizeof s->path, "%s", L->path);
    snprintf(s->tune_keys, sizeof s->tune_keys, "-");
    if ((rc = scan_sections(L->path, L->sec, &L->n_sec, err)) ||
        (rc = cfg_load_ini(&L->c, L->path, "base", err)) ||
        (rc = classify_sections(L, err)) || (rc = read_entries(L, err)))
        return rc;
    for (int i = 0; i < L->n_g; i++) n_head += L->g[i].kind == G_HEAD;
    if (!n_head)
        return DCQB_FAIL(err, DCQB_EINVAL, "%s: no [head.<name>] section, so no runs", L->path);
    if ((rc = metrics_and_name(L, err))) return rc;
    return sweep_expand(L, err);
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
    if (L->g) snprintf(L->g[0].sect, sizeof L->g[0].sect, "base");
    int rc = L->g ? load(L, err) : DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
    for (int i = 0; L->g && i < L->n_g; i++) group_free(&L->g[i]);
    free(L->g);
    cfg_free(&L->c);
    free(L);
    if (rc) sweep_free(s);
    return rc;
}
