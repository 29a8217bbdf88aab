/* sweep.c - see sweep.h. Sweep files -> runs -> child processes -> runs.tsv rows (issue 6,
 * STYLE.md 2.8). Sections: tables, hashing and canonical values, parsing and expansion, the
 * runs.tsv header, small file helpers, flat JSON reading, the child-process runner, merge.
 *
 * Why children: one crashed or diverged run must never take the sweep down, and a child's peak
 * RSS is its own. Every finished run becomes one row written by one write() on an O_APPEND fd
 * plus fsync, so a crash of the sweep loses nothing already finished and concurrent shard
 * processes appending to one file never interleave within a line.
 */
#include "sweep.h"

#include "fsutil.h"

#include "eval.h"
#include "head.h"
#include "train.h"
#include "train_keys.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cfg.h"
#include "version.h"

/* ==== tables ================================================================================ */

/* Columns taken from summary.json, in runs.tsv order (head_mem_mb is head_mem_bytes / 2^20). */
static const char *const result_cols[] = {
    "steps", "wall_s", "samples_per_s", "head_mem_mb", "peak_rss_mb", "final_loss", "digest",
    "first_loss", "classes", "train_images", "head_time_share", "backbone_time_share",
    "data_time_share", "head_per_class_bytes", "head_fixed_bytes", "head_flops_per_step",
    "backbone_flops_per_step", "head_active_classes", "queue_distinct_classes", "blas_core",
    NULL};
static const char *const lead_cols[] = {"schema", "run_id", "sweep", "git_rev", "status", NULL};

#define SWEEP_ORDER_SEED 0x5eedc0ffee123457ULL /* fixed: the canonical order never changes */

/* What a sweep may set is what training reads: one source of truth (train_key_known). */
int sweep_key_known(const char *key) { return train_key_known(key); }

int sweep_head_known(const char *name) { return head_find(name) != NULL; }

static int in_list(const char *const *list, const char *s)
{
    for (int i = 0; list[i]; i++)
        if (strcmp(list[i], s) == 0) return 1;
    return 0;
}

/* ==== hashing and canonical values ========================================================== */

uint64_t sweep_fnv1a64(const void *data, size_t n)
{
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

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
    uint64_t h = sweep_fnv1a64(r->conf, strlen(r->conf));
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
        if (!c) break;
        p = c + 1;
    }
    return DCQB_OK;
}

int sweep_load(struct sweep *s, const char *path, struct dcqb_err *err)
{
    memset(s, 0, sizeof *s);
    struct cfg c = {0};
    struct section sec[MAX_SECTIONS];
    int n_sec = 0, cap = 0, rc;
    struct group *g = calloc(MAX_SECTIONS + 1, sizeof *g); /* g[0] = base, then heads */
    int n_g = 1;
    if (!g) return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
    if (strlen(path) >= sizeof s->path) {
        rc = DCQB_FAIL(err, DCQB_EINVAL, "%s: path too long", path);
        goto fail;
    }
    snprintf(s->path, sizeof s->path, "%s", path);
    if ((rc = scan_sections(path, sec, &n_sec, err))) goto fail;
    if ((rc = cfg_load_ini(&c, path, "base", err))) goto fail;

    /* sections: base, sweep, head.<known head> */
    int sec_group[MAX_SECTIONS];
    for (int i = 0; i < n_sec; i++) {
        sec_group[i] = -1;
        if (strcmp(sec[i].name, "base") == 0) {
            sec_group[i] = 0;
        } else if (strncmp(sec[i].name, "head.", 5) == 0) {
            /* [head.<name>] or [head.<name>.<label>]: a label lets one head appear in several
             * tables of one sweep (e.g. a momentum ablation next to the main comparison) */
            char h[CFG_KEY_MAX];
            snprintf(h, sizeof h, "%s", sec[i].name + 5);
            h[strcspn(h, ".")] = '\0';
            if (!sweep_head_known(h)) {
                char names[256] = "";
                for (const struct head_ops *const *hp = head_list(); *hp; hp++) {
                    size_t l = strlen(names);
                    snprintf(names + l, sizeof names - l, "%s%s", l ? ", " : "", (*hp)->name);
                }
                rc = DCQB_FAIL(err, DCQB_EINVAL, "%s:%d: unknown head '%s' (known: %s)", path,
                               sec[i].line, h, names);
                goto fail;
            }
            snprintf(g[n_g].head, sizeof g[n_g].head, "%s", h);
            sec_group[i] = n_g++;
        } else if (strcmp(sec[i].name, "sweep") != 0) {
            rc = DCQB_FAIL(err, DCQB_EINVAL, "%s:%d: unknown section [%s] (expected [sweep], "
                           "[base] or [head.<name>])", path, sec[i].line, sec[i].name);
            goto fail;
        }
    }

    /* entries: the section is the last header above the entry's line */
    const char *name = NULL;
    for (int e = 0; e < c.n; e++) {
        const struct cfg_entry *ce = &c.e[e];
        int si = -1;
        for (int i = 0; i < n_sec; i++)
            if (sec[i].line < ce->line) si = i;
        const char *key = ce->key;
        if (si >= 0 && strcmp(sec[si].name, "base") != 0) key += strlen(sec[si].name) + 1;
        if (si >= 0 && strcmp(sec[si].name, "sweep") == 0) {
            char where[600];
            snprintf(where, sizeof where, "%s:%d", path, ce->line);
            if (strcmp(key, "name") == 0) {
                if (!valid_name(ce->val) || strlen(ce->val) >= SWEEP_NAME_MAX) {
                    rc = DCQB_FAIL(err, DCQB_EINVAL, "%s: sweep name '%s' must be [A-Za-z0-9._-]"
                                   " (it names a folder)", where, ce->val);
                    goto fail;
                }
                name = ce->val;
            } else if (strcmp(key, "jobs") == 0) {
                char *end;
                long j = strtol(ce->val, &end, 10);
                if (end == ce->val || *end || j < 1 || j > 1024) {
                    rc = DCQB_FAIL(err, DCQB_EINVAL, "%s: jobs must be an integer in [1, 1024]",
                                   where);
                    goto fail;
                }
                s->jobs = (int)j;
            } else if (strcmp(key, "metrics") == 0) {
                if ((rc = set_metrics(s, ce->val, where, err))) goto fail;
            } else {
                rc = DCQB_FAIL(err, DCQB_EINVAL, "%s: unknown key '%s' in [sweep] (known: name, "
                               "jobs, metrics)", where, key);
                goto fail;
            }
            continue;
        }
        struct group *gr = &g[si >= 0 ? sec_group[si] : 0];
        if (!sweep_key_known(key)) {
            rc = DCQB_FAIL(err, DCQB_EINVAL, "%s:%d: unknown key '%s'", path, ce->line, key);
            goto fail;
        }
        if (strcmp(key, "head") == 0) {
            rc = DCQB_FAIL(err, DCQB_EINVAL, "%s:%d: 'head' is set by the [head.<name>] section "
                           "name, not by a key", path, ce->line);
            goto fail;
        }
        if (gr->n == MAX_ITEMS) {
            rc = DCQB_FAIL(err, DCQB_EINVAL, "%s:%d: more than %d keys in one section", path,
                           ce->line, MAX_ITEMS);
            goto fail;
        }
        struct item *it = &gr->it[gr->n++];
        it->key = key;
        it->line = ce->line;
        if ((rc = split_values(it, ce->val, path, ce->line, err))) goto fail;
    }
    if (n_g == 1) {
        rc = DCQB_FAIL(err, DCQB_EINVAL, "%s: no [head.<name>] section, so no runs", path);
        goto fail;
    }
    if (!s->metrics) {
        /* default: every metric a full evaluation writes, in metrics.json's order */
        char list[8192] = "";
        for (int i = 0; eval_metric_keys[i]; i++) {
            size_t l = strlen(list);
            snprintf(list + l, sizeof list - l, "%s%s", i ? "," : "", eval_metric_keys[i]);
        }
        if ((rc = set_metrics(s, list, "built-in metrics", err))) goto fail;
    }
    if (name) {
        memcpy(s->name, name, strlen(name) + 1); /* length checked above */
    } else {
        const char *b = strrchr(path, '/');
        b = b ? b + 1 : path;
        size_t l = strlen(b);
        if (l > 5 && strcmp(b + l - 5, ".conf") == 0) l -= 5;
        if (l >= sizeof s->name) l = sizeof s->name - 1;
        memcpy(s->name, b, l);
        s->name[l] = '\0';
        if (!valid_name(s->name)) {
            rc = DCQB_FAIL(err, DCQB_EINVAL, "%s: file name gives the sweep name '%s', which is "
                           "not [A-Za-z0-9._-]: set [sweep] name", path, s->name);
            goto fail;
        }
    }

    for (int i = 1; i < n_g; i++)
        if ((rc = expand_group(s, &g[0], &g[i], &cap, err))) goto fail;
    qsort(s->runs, (size_t)s->n_runs, sizeof *s->runs, cmp_run);
    /* The same configuration reached from two sections is one run (same run_id, same
     * canonical text): keep it once, so tables that share a cell share its runs. */
    int kept = s->n_runs ? 1 : 0;
    for (int i = 1; i < s->n_runs; i++) {
        if (strcmp(s->runs[i].run_id, s->runs[kept - 1].run_id) == 0) {
            if (strcmp(s->runs[i].conf, s->runs[kept - 1].conf) != 0) {
                rc = DCQB_FAIL(err, DCQB_EINVAL, "%s: two different runs share run_id %s "
                               "(hash collision):\n%s", path, s->runs[i].run_id, s->runs[i].conf);
                goto fail;
            }
            free((void *)s->runs[i].key);
            continue;
        }
        s->runs[kept++] = s->runs[i];
    }
    s->n_runs = kept;

    /* sorted union of keys */
    int tot = 0;
    for (int i = 0; i < s->n_runs; i++) tot += s->runs[i].n_kv;
    s->keys = malloc((size_t)(tot ? tot : 1) * sizeof *s->keys);
    if (!s->keys) {
        rc = DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
        goto fail;
    }
    for (int i = 0; i < s->n_runs; i++)
        for (int k = 0; k < s->runs[i].n_kv; k++) s->keys[s->n_keys++] = (char *)s->runs[i].key[k];
    qsort(s->keys, (size_t)s->n_keys, sizeof *s->keys, cmp_str);
    int u = 0;
    for (int i = 0; i < s->n_keys; i++)
        if (!u || strcmp(s->keys[u - 1], s->keys[i]) != 0) s->keys[u++] = s->keys[i];
    s->n_keys = u;

    for (int i = 0; i < n_g; i++) group_free(&g[i]);
    free(g);
    cfg_free(&c);
    return DCQB_OK;
fail:
    for (int i = 0; i < n_g; i++) group_free(&g[i]);
    free(g);
    cfg_free(&c);
    sweep_free(s);
    return rc;
}

/* ==== runs.tsv header ======================================================================= */

struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
};

static void sb_add(struct sbuf *b, const char *s, size_t l)
{
    if (b->oom) return;
    if (b->n + l + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (nc < b->n + l + 1) nc *= 2;
        char *np = realloc(b->p, nc);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->n, s, l);
    b->n += l;
    b->p[b->n] = '\0';
}

static void sb_str(struct sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

/* One TSV cell: empty -> NA, tabs/newlines -> spaces. */
static void sb_cell(struct sbuf *b, const char *s, int first)
{
    if (!first) sb_add(b, "\t", 1);
    if (!s || !*s) {
        sb_add(b, "NA", 2);
        return;
    }
    for (; *s; s++) {
        char ch = (*s == '\t' || *s == '\n' || *s == '\r') ? ' ' : *s;
        sb_add(b, &ch, 1);
    }
}

/* A config key clashing with a fixed column is written as "cfg.<key>" (e.g. cfg.steps: the
 * requested steps, next to `steps`, the steps actually done). */
static const char *config_col(const char *key, char *buf, size_t n)
{
    if (in_list(lead_cols, key) || in_list(result_cols, key) || strcmp(key, "err_msg") == 0) {
        snprintf(buf, n, "cfg.%s", key);
        return buf;
    }
    return key;
}

int sweep_tsv_header(const struct sweep *s, char **out, struct dcqb_err *err)
{
    struct sbuf b = {0};
    char buf[CFG_KEY_MAX + 8];
    int first = 1;
    for (int i = 0; lead_cols[i]; i++, first = 0) sb_cell(&b, lead_cols[i], first);
    for (int i = 0; i < s->n_keys; i++) sb_cell(&b, config_col(s->keys[i], buf, sizeof buf), 0);
    for (int i = 0; result_cols[i]; i++) sb_cell(&b, result_cols[i], 0);
    for (int i = 0; i < s->n_metrics; i++) {
        const char *m = s->metrics[i];
        int clash = in_list(lead_cols, m) || in_list(result_cols, m) || !strcmp(m, "err_msg");
        for (int k = 0; k < s->n_keys; k++)
            clash |= !strcmp(config_col(s->keys[k], buf, sizeof buf), m);
        if (clash) {
            free(b.p);
            return DCQB_FAIL(err, DCQB_EINVAL, "%s: metric '%s' clashes with a runs.tsv column",
                             s->path, m);
        }
        sb_cell(&b, m, 0);
    }
    sb_cell(&b, "err_msg", 0);
    sb_add(&b, "\n", 1);
    if (b.oom) {
        free(b.p);
        return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
    }
    *out = b.p;
    return DCQB_OK;
}

/* ==== file helpers ========================================================================== */

/* Read a whole file (at most `max` bytes) NUL-terminated; *buf = NULL if it does not exist. */
static int read_all(const char *path, size_t max, char **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return errno == ENOENT ? DCQB_OK : DCQB_EIO;
    struct sbuf b = {0};
    char chunk[4096];
    size_t r;
    while ((r = fread(chunk, 1, sizeof chunk, f)) > 0 && b.n < max) sb_add(&b, chunk, r);
    int bad = ferror(f);
    fclose(f);
    if (b.oom || bad) {
        free(b.p);
        return b.oom ? DCQB_ENOMEM : DCQB_EIO;
    }
    if (!b.p) sb_add(&b, "", 0);
    if (b.oom) return DCQB_ENOMEM;
    *buf = b.p;
    *len = b.n;
    return DCQB_OK;
}

/* Last non-empty line of a log (for error messages), at most n-1 chars. */
static void log_tail(const char *path, char *out, size_t n)
{
    out[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f) return;
    char buf[2048];
    long sz = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : 0;
    long off = sz > (long)sizeof buf - 1 ? sz - (long)sizeof buf + 1 : 0;
    size_t r = 0;
    if (fseek(f, off, SEEK_SET) == 0) r = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[r] = '\0';
    while (r && (buf[r - 1] == '\n' || buf[r - 1] == '\r' || buf[r - 1] == ' ')) buf[--r] = '\0';
    char *l = strrchr(buf, '\n');
    snprintf(out, n, "%s", l ? l + 1 : buf);
}

/* ==== flat JSON ============================================================================= */

struct jkv {
    char key[64];
    char val[256]; /* number text, string content, "1"/"0" for booleans, "" for null */
};

struct jobj {
    int n;
    struct jkv kv[128];
};

static const char *json_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
    return p;
}

static const char *json_string(const char *p, char *out, size_t n)
{
    size_t o = 0;
    if (*p++ != '"') return NULL;
    while (*p && *p != '"') {
        char ch = *p++;
        if (ch == '\\') {
            char e = *p++;
            switch (e) {
            case 'n': ch = '\n'; break;
            case 't': ch = '\t'; break;
            case 'r': ch = '\r'; break;
            case 'b': ch = '\b'; break;
            case 'f': ch = '\f'; break;
            case 'u':
                for (int i = 0; i < 4; i++)
                    if (!*p++) return NULL;
                ch = '?';
                break;
            case '\0': return NULL;
            default: ch = e; /* \" \\ \/ */
            }
        }
        if (o + 1 < n) out[o++] = ch;
    }
    if (*p != '"') return NULL;
    out[o] = '\0';
    return p + 1;
}

/* Parse a flat JSON object; nested values are a format error. Missing file -> o->n = -1. */
static int json_read_flat(const char *path, struct jobj *o, struct dcqb_err *err)
{
    char *buf;
    size_t len;
    o->n = -1;
    int rc = read_all(path, 1 << 20, &buf, &len);
    if (rc) return DCQB_FAIL(err, rc, "%s: cannot read", path);
    if (!buf) return DCQB_OK;
    o->n = 0;
    const char *p = json_ws(buf);
    if (*p++ != '{') goto bad;
    p = json_ws(p);
    if (*p == '}') goto done;
    for (;;) {
        struct jkv tmp, *kv = o->n < (int)(sizeof o->kv / sizeof o->kv[0]) ? &o->kv[o->n] : &tmp;
        p = json_string(json_ws(p), kv->key, sizeof kv->key);
        if (!p) goto bad;
        p = json_ws(p);
        if (*p++ != ':') goto bad;
        p = json_ws(p);
        if (*p == '"') {
            p = json_string(p, kv->val, sizeof kv->val);
            if (!p) goto bad;
        } else if (strncmp(p, "null", 4) == 0) {
            kv->val[0] = '\0';
            p += 4;
        } else if (strncmp(p, "true", 4) == 0) {
            snprintf(kv->val, sizeof kv->val, "1");
            p += 4;
        } else if (strncmp(p, "false", 5) == 0) {
            snprintf(kv->val, sizeof kv->val, "0");
            p += 5;
        } else {
            size_t l = strspn(p, "+-0123456789.eE");
            if (!l || l >= sizeof kv->val) goto bad;
            memcpy(kv->val, p, l);
            kv->val[l] = '\0';
            p += l;
        }
        if (kv != &tmp) o->n++;
        p = json_ws(p);
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p == '}') break;
        goto bad;
    }
done:
    free(buf);
    return DCQB_OK;
bad:
    free(buf);
    o->n = 0;
    return DCQB_FAIL(err, DCQB_EFORMAT, "%s: not a flat JSON object", path);
}

static const char *jget(const struct jobj *o, const char *key)
{
    for (int i = 0; i < o->n; i++)
        if (strcmp(o->kv[i].key, key) == 0) return o->kv[i].val;
    return NULL;
}

/* ==== runs.tsv reading ====================================================================== */

/* Column index of `name` in a header line, or -1. */
static int tsv_col(const char *header, const char *name)
{
    int col = 0;
    size_t nl = strlen(name);
    for (const char *p = header;; col++) {
        size_t l = strcspn(p, "\t\n");
        if (l == nl && strncmp(p, name, l) == 0) return col;
        p += l;
        if (*p != '\t') return -1;
        p++;
    }
}

/* Field `col` of a line into out. 0 if the line has fewer fields. */
static int tsv_field(const char *line, int col, char *out, size_t n)
{
    const char *p = line;
    for (int c = 0; c < col; c++) {
        p += strcspn(p, "\t\n");
        if (*p != '\t') return 0;
        p++;
    }
    size_t l = strcspn(p, "\t\n");
    if (l >= n) l = n - 1;
    memcpy(out, p, l);
    out[l] = '\0';
    return 1;
}

static int count_fields(const char *line)
{
    int n = 1;
    for (const char *p = line; *p && *p != '\n'; p++) n += *p == '\t';
    return n;
}

static int cmp_id(const void *a, const void *b) { return strcmp(a, b); } /* char[17] rows */

/* Sorted run_ids with an ok row in `text` (a whole runs.tsv). */
static int ok_ids(const char *text, char (**ids)[17], int *n_ids, struct dcqb_err *err)
{
    *ids = NULL;
    *n_ids = 0;
    if (!text || !*text) return DCQB_OK;
    int c_id = tsv_col(text, "run_id"), c_st = tsv_col(text, "status");
    int nf = count_fields(text);
    if (c_id < 0 || c_st < 0) return DCQB_FAIL(err, DCQB_EFORMAT, "runs.tsv: no run_id/status");
    int cap = 0;
    for (const char *l = strchr(text, '\n'); l && l[1]; l = strchr(l, '\n')) {
        l++;
        char id[32], st[16];
        if (count_fields(l) != nf || !strchr(l, '\n')) continue; /* torn or partial row */
        if (!tsv_field(l, c_id, id, sizeof id) || !tsv_field(l, c_st, st, sizeof st)) continue;
        if (strcmp(st, "ok") != 0 || strlen(id) != 16) continue;
        if (*n_ids == cap) {
            cap = cap ? 2 * cap : 64;
            char(*ni)[17] = realloc(*ids, (size_t)cap * sizeof *ni);
            if (!ni) return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
            *ids = ni;
        }
        memcpy((*ids)[(*n_ids)++], id, 17);
    }
    if (*n_ids) qsort(*ids, (size_t)*n_ids, sizeof **ids, cmp_id);
    return DCQB_OK;
}

static int id_in(char (*ids)[17], int n, const char *id)
{
    return n && bsearch(id, ids, (size_t)n, sizeof *ids, cmp_id) != NULL;
}

static int header_mismatch(const char *path, const char *have, const char *want,
                           struct dcqb_err *err)
{
    int col = 0;
    const char *a = have, *b = want;
    for (;; col++) {
        size_t la = strcspn(a, "\t\n"), lb = strcspn(b, "\t\n");
        if (la != lb || strncmp(a, b, la) != 0 || a[la] != b[lb]) {
            return DCQB_FAIL(err, DCQB_EINVAL,
                             "%s has a different header (column %d: file '%.*s', this sweep "
                             "'%.*s'; the sweep's keys or metrics changed): use a new [sweep] "
                             "name or --results DIR, or move the old file away",
                             path, col + 1, (int)(la > 40 ? 40 : la), a, (int)(lb > 40 ? 40 : lb),
                             b);
        }
        if (a[la] != '\t') return DCQB_OK;
        a += la + 1;
        b += lb + 1;
    }
}

int sweep_done_mask(const struct sweep *s, const char *results_dir, unsigned char *done,
                    struct dcqb_err *err)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/runs.tsv", results_dir, s->name);
    char *text;
    size_t len;
    memset(done, 0, (size_t)s->n_runs);
    if (read_all(path, (size_t)1 << 30, &text, &len))
        return DCQB_FAIL(err, DCQB_EIO, "%s: cannot read", path);
    char(*ids)[17];
    int n_ids, rc = ok_ids(text, &ids, &n_ids, err);
    for (int i = 0; !rc && i < s->n_runs; i++) done[i] = (unsigned char)id_in(ids, n_ids, s->runs[i].run_id);
    free(ids);
    free(text);
    return rc;
}

/* ==== the runner ============================================================================ */

struct slot {
    int run;       /* index into s->runs, -1 = free */
    pid_t pid;
    int phase;     /* 1 train, 2 eval */
    double t0;
};

struct runner {
    const struct sweep *s;
    const struct sweep_opts *o;
    char dir[1024];     /* <results>/<sweep> */
    int fd;             /* runs.tsv, O_APPEND */
    struct sweep_result *res;
    int todo_total;     /* runs to execute in this call */
    double wall_sum;
    int wall_n;
};

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void run_path(const struct runner *r, int run, const char *leaf, char *out, size_t n)
{
    snprintf(out, n, "%s/%s%s%s", r->dir, r->s->runs[run].run_id, leaf ? "/" : "",
             leaf ? leaf : "");
}

/* Start `exec <argv...>` with stdin /dev/null, stdout+stderr to log, in its own process group
 * (so a terminal's ^C reaches only the sweep, which forwards it exactly once). */
static int spawn(pid_t *pid, const char *exec, char *const argv[], const char *log,
                 char *msg, size_t n)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, def;
    sigemptyset(&none);
    sigemptyset(&def);
    sigaddset(&def, SIGINT);
    sigaddset(&def, SIGTERM);
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc) goto out0;
    rc = posix_spawnattr_init(&at);
    if (rc) goto out1;
    if ((rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)) ||
        (rc = posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0644)) ||
        (rc = posix_spawn_file_actions_adddup2(&fa, 1, 2)) ||
        (rc = posix_spawnattr_setpgroup(&at, 0)) ||
        (rc = posix_spawnattr_setsigmask(&at, &none)) ||
        (rc = posix_spawnattr_setsigdefault(&at, &def)) ||
        (rc = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                                POSIX_SPAWN_SETSIGDEF)))
        goto out2;
    extern char **environ;
    rc = posix_spawn(pid, exec, &fa, &at, argv, environ);
out2:
    posix_spawnattr_destroy(&at);
out1:
    posix_spawn_file_actions_destroy(&fa);
out0:
    if (rc) snprintf(msg, n, "cannot start %s: %s", exec, strerror(rc));
    return rc;
}

static void describe_exit(int st, const char *what, const char *log, char *msg, size_t n)
{
    char tail[200];
    log_tail(log, tail, sizeof tail);
    if (WIFSIGNALED(st))
        snprintf(msg, n, "%s crashed: killed by signal %d (%s); log: %s", what, WTERMSIG(st),
                 strsignal(WTERMSIG(st)), tail[0] ? tail : "(empty)");
    else
        snprintf(msg, n, "%s exited with status %d; log: %s", what, WEXITSTATUS(st),
                 tail[0] ? tail : "(empty)");
}

/* Write the row of run `run` (summary/metrics may be empty objects). */
static int append_row(struct runner *r, int run, int ok, const struct jobj *sum,
                      const struct jobj *met, const char *msg, struct dcqb_err *err)
{
    const struct sweep *s = r->s;
    const struct sweep_run *ru = &s->runs[run];
    struct sbuf b = {0};
    char num[64];
    snprintf(num, sizeof num, "%d", SWEEP_SCHEMA);
    sb_cell(&b, num, 1);
    sb_cell(&b, ru->run_id, 0);
    sb_cell(&b, s->name, 0);
    sb_cell(&b, DCQB_GIT_REV, 0);
    sb_cell(&b, ok ? "ok" : "fail", 0);
    for (int k = 0, j = 0; k < s->n_keys; k++) {
        while (j < ru->n_kv && strcmp(ru->key[j], s->keys[k]) < 0) j++;
        sb_cell(&b, j < ru->n_kv && !strcmp(ru->key[j], s->keys[k]) ? ru->val[j] : NULL, 0);
    }
    for (int i = 0; result_cols[i]; i++) {
        const char *v;
        if (strcmp(result_cols[i], "head_mem_mb") == 0) {
            v = jget(sum, "head_mem_bytes");
            if (v && *v) {
                snprintf(num, sizeof num, "%.10g", strtod(v, NULL) / 1048576.0);
                v = num;
            }
        } else {
            v = jget(sum, result_cols[i]);
        }
        sb_cell(&b, v, 0);
    }
    for (int i = 0; i < s->n_metrics; i++) sb_cell(&b, jget(met, s->metrics[i]), 0);
    sb_cell(&b, ok ? NULL : msg, 0);
    sb_add(&b, "\n", 1);
    if (b.oom) {
        free(b.p);
        return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
    }
    ssize_t w = write(r->fd, b.p, b.n); /* one write: O_APPEND keeps lines whole */
    int bad = w != (ssize_t)b.n || fsync(r->fd) != 0;
    free(b.p);
    if (bad) return DCQB_FAIL(err, DCQB_EIO, "%s/runs.tsv: write failed: %s", r->dir,
                              strerror(errno));
    return DCQB_OK;
}

static void report(struct runner *r, int run, int ok, const char *msg, double wall,
                   int running)
{
    if (!r->o->progress) return;
    struct sweep_progress p = {0};
    p.run = &r->s->runs[run];
    p.ok = ok;
    p.err_msg = ok ? "" : msg;
    p.wall_s = wall;
    p.total = r->res->total;
    p.done = r->res->skipped + r->res->ok + r->res->failed;
    p.failed = r->res->failed;
    p.running = running;
    int left = r->todo_total - r->res->ok - r->res->failed;
    p.eta_s = r->wall_n ? r->wall_sum / r->wall_n * left / r->o->jobs : -1;
    r->o->progress(r->o->progress_ctx, &p);
}

/* Start run `run` in slot sl: clean stale outputs, write run.conf, launch train. */
static int start_run(struct runner *r, struct slot *sl, int run, char *msg, size_t n,
                     struct dcqb_err *err)
{
    char p[1200], conf[1200], log[1200];
    run_path(r, run, NULL, p, sizeof p);
    int rc = fs_mkdir_p(p, err);
    if (rc) return rc;
    run_path(r, run, "summary.json", conf, sizeof conf);
    unlink(conf);
    run_path(r, run, "eval/metrics.json", conf, sizeof conf);
    unlink(conf);
    run_path(r, run, "run.conf", conf, sizeof conf);
    FILE *f = fopen(conf, "w");
    if (!f) return DCQB_FAIL(err, DCQB_EIO, "%s: cannot write: %s", conf, strerror(errno));
    fputs(r->s->runs[run].conf, f);
    if (fclose(f) != 0) return DCQB_FAIL(err, DCQB_EIO, "%s: cannot write", conf);
    run_path(r, run, "train.log", log, sizeof log);
    char *argv[] = {(char *)r->o->exec, "train", "--config", conf, "--out", p, NULL};
    sl->run = run;
    sl->phase = 1;
    sl->t0 = now_s();
    msg[0] = '\0';
    if (spawn(&sl->pid, r->o->exec, argv, log, msg, n)) sl->pid = -1; /* recorded as failed */
    return DCQB_OK;
}

/* A child of slot sl ended with wait status st (or failed to start: pid -1). Either launches
 * the next phase (returns with sl->run still set) or finishes the run. */
static int child_done(struct runner *r, struct slot *sl, int st, int stopping, char *msg,
                      size_t n, int running, struct dcqb_err *err)
{
    char path[1200], log[1200];
    struct jobj *sum = calloc(2, sizeof *sum), *met;
    if (!sum) return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
    met = sum + 1;
    met->n = 0;
    int run = sl->run, ok = 0, rc = DCQB_OK;
    struct dcqb_err jerr = {0};
    run_path(r, run, "summary.json", path, sizeof path);
    run_path(r, run, "train.log", log, sizeof log);
    if (json_read_flat(path, sum, &jerr) && !msg[0]) snprintf(msg, n, "%s", jerr.msg);
    int have_sum = sum->n >= 0;
    if (sum->n < 0) sum->n = 0;
    if (sl->phase == 1) {
        const char *status = jget(sum, "status"), *em = jget(sum, "err_msg");
        if (msg[0]) {
            /* could not start, or summary.json unreadable: msg says which */
        } else if (WIFSIGNALED(st) || (WEXITSTATUS(st) != 0 && !have_sum)) {
            describe_exit(st, "train", log, msg, n);
            if (!have_sum) snprintf(msg + strlen(msg), n - strlen(msg), " (no summary.json)");
        } else if (!have_sum) {
            snprintf(msg, n, "train exited with status 0 but wrote no summary.json");
        } else if (!status || strcmp(status, "ok") != 0 || WEXITSTATUS(st) != 0) {
            snprintf(msg, n, "train %s (exit %d)%s%s", status ? status : "status missing",
                     WEXITSTATUS(st), em && *em ? ": " : "", em ? em : "");
        } else if (stopping) {
            r->res->interrupted++;
            goto free_slot;
        } else {
            char conf[1200], elog[1200];
            run_path(r, run, NULL, conf, sizeof conf);
            run_path(r, run, "eval", elog, sizeof elog);
            mkdir(elog, 0755);
            run_path(r, run, "eval.log", elog, sizeof elog);
            char *argv[] = {(char *)r->o->exec, "eval", "--run", conf, NULL};
            sl->phase = 2;
            if (spawn(&sl->pid, r->o->exec, argv, elog, msg, n) == 0) goto out;
        }
    } else {
        char elog[1200];
        run_path(r, run, "eval.log", elog, sizeof elog);
        run_path(r, run, "eval/metrics.json", path, sizeof path);
        if (!msg[0] && (WIFSIGNALED(st) || WEXITSTATUS(st) != 0)) {
            describe_exit(st, "eval", elog, msg, n);
        } else if (!msg[0]) {
            jerr.msg[0] = '\0';
            if (json_read_flat(path, met, &jerr)) snprintf(msg, n, "%s", jerr.msg);
            else if (met->n < 0) snprintf(msg, n, "eval exited with status 0 but wrote no "
                                          "eval/metrics.json");
            else ok = 1;
        }
        if (met->n < 0) met->n = 0;
    }
    if (!ok && stopping) { /* interrupted: no row, a rerun retries it */
        r->res->interrupted++;
        goto free_slot;
    }
    rc = append_row(r, run, ok, sum, met, msg, err);
    if (rc) goto free_slot;
    double wall = now_s() - sl->t0;
    r->wall_sum += wall;
    r->wall_n++;
    if (ok) r->res->ok++;
    else r->res->failed++;
    report(r, run, ok, msg, wall, running - 1);
free_slot:
    sl->run = -1;
    sl->pid = 0;
out:
    free(sum);
    return rc;
}

static int open_tsv(struct runner *r, char (**ids)[17], int *n_ids, struct dcqb_err *err)
{
    char path[1200], *hdr = NULL, *text = NULL;
    size_t len;
    snprintf(path, sizeof path, "%s/runs.tsv", r->dir);
    int rc = sweep_tsv_header(r->s, &hdr, err);
    if (rc) return rc;
    r->fd = open(path, O_RDWR | O_CREAT | O_APPEND, 0644);
    if (r->fd < 0) {
        free(hdr);
        return DCQB_FAIL(err, DCQB_EIO, "%s: cannot open: %s", path, strerror(errno));
    }
    /* lock while checking/creating the header: shards may start together on one file */
    struct flock lk = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    while (fcntl(r->fd, F_SETLKW, &lk) != 0 && errno == EINTR) {}
    struct stat stt;
    if (fstat(r->fd, &stt) != 0) {
        rc = DCQB_FAIL(err, DCQB_EIO, "%s: stat: %s", path, strerror(errno));
    } else if (stt.st_size == 0) {
        size_t l = strlen(hdr);
        if (write(r->fd, hdr, l) != (ssize_t)l || fsync(r->fd) != 0)
            rc = DCQB_FAIL(err, DCQB_EIO, "%s: cannot write header: %s", path, strerror(errno));
    } else if ((rc = read_all(path, (size_t)1 << 30, &text, &len))) {
        rc = DCQB_FAIL(err, rc, "%s: cannot read", path);
    } else if (!(rc = header_mismatch(path, text, hdr, err))) {
        if (text[len - 1] != '\n' && write(r->fd, "\n", 1) != 1) /* torn last line */
            rc = DCQB_FAIL(err, DCQB_EIO, "%s: write failed", path);
        if (!rc) rc = ok_ids(text, ids, n_ids, err);
    }
    lk.l_type = F_UNLCK;
    fcntl(r->fd, F_SETLK, &lk);
    free(text);
    free(hdr);
    return rc;
}

int sweep_execute(const struct sweep *s, const struct sweep_opts *o, struct sweep_result *res,
                  struct dcqb_err *err)
{
    struct runner r = {.s = s, .o = o, .fd = -1, .res = res};
    memset(res, 0, sizeof *res);
    if (o->jobs < 1 || o->shard_n < 1 || o->shard_i < 0 || o->shard_i >= o->shard_n)
        return DCQB_FAIL(err, DCQB_EINVAL, "bad jobs or shard");
    if (snprintf(r.dir, sizeof r.dir, "%s/%s", o->results_dir, s->name) >= (int)sizeof r.dir)
        return DCQB_FAIL(err, DCQB_EINVAL, "results path too long");
    int rc = fs_mkdir_p(r.dir, err);
    if (rc) return rc;
    char(*ids)[17] = NULL;
    int n_ids = 0;
    int *todo = malloc((size_t)(s->n_runs ? s->n_runs : 1) * sizeof *todo);
    struct slot *slots = calloc((size_t)o->jobs, sizeof *slots);
    if (!todo || !slots) {
        rc = DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = open_tsv(&r, &ids, &n_ids, err))) goto out;
    int n_todo = 0;
    for (int i = 0; i < s->n_runs; i++) {
        if (i % o->shard_n != o->shard_i) continue;
        res->total++;
        if (!o->force && id_in(ids, n_ids, s->runs[i].run_id)) res->skipped++;
        else todo[n_todo++] = i;
    }
    r.todo_total = n_todo;
    for (int j = 0; j < o->jobs; j++) slots[j].run = -1;

    int next = 0, running = 0, fwd = 0;
    char msg[512];
    while (next < n_todo || running > 0) {
        int stop = o->stop ? (int)*o->stop : 0;
        if (stop > fwd) { /* forward once per level: SIGINT, then SIGKILL */
            for (int j = 0; j < o->jobs; j++)
                if (slots[j].run >= 0 && slots[j].pid > 0)
                    kill(-slots[j].pid, stop >= 2 ? SIGKILL : SIGINT);
            fwd = stop;
        }
        for (int j = 0; j < o->jobs && !stop && next < n_todo; j++) {
            if (slots[j].run >= 0) continue;
            if ((rc = start_run(&r, &slots[j], todo[next++], msg, sizeof msg, err))) goto wait;
            running++;
            if (slots[j].pid < 0) { /* could not start: record now */
                if ((rc = child_done(&r, &slots[j], 0, 0, msg, sizeof msg, running, err)))
                    goto wait;
                running--;
            }
        }
        if (!running) break;
        int reaped = 0;
        for (int j = 0; j < o->jobs; j++) {
            if (slots[j].run < 0) continue;
            int st;
            pid_t w = waitpid(slots[j].pid, &st, WNOHANG);
            if (w == 0 || (w < 0 && errno == EINTR)) continue;
            if (w < 0) st = 0x7f00; /* lost child: treat as exit 127 */
            reaped = 1;
            msg[0] = '\0';
            if ((rc = child_done(&r, &slots[j], st, stop > 0, msg, sizeof msg, running, err)))
                goto wait;
            if (slots[j].run < 0) running--;
        }
        if (!reaped) {
            struct timespec ts = {0, 20 * 1000 * 1000}; /* 20 ms poll: negligible CPU */
            nanosleep(&ts, NULL);
        }
    }
    if (o->stop && *o->stop) {
        rc = DCQB_FAIL(err, DCQB_EINTR, "interrupted: %d run(s) stopped before finishing",
                       res->interrupted);
    }
    goto out;
wait: /* a setup error mid-sweep: do not leave children behind */
    for (int j = 0; j < o->jobs; j++)
        if (slots[j].run >= 0 && slots[j].pid > 0) {
            kill(-slots[j].pid, SIGKILL);
            waitpid(slots[j].pid, NULL, 0);
        }
out:
    if (r.fd >= 0) close(r.fd);
    free(ids);
    free(todo);
    free(slots);
    return rc;
}

/* ==== merge ================================================================================= */

int sweep_merge(const char *out, const char *const *in, int n_in, struct dcqb_err *err)
{
    char *hdr = NULL, *old = NULL;
    size_t len;
    int rc = DCQB_OK, fd = -1;
    struct sbuf b = {0};
    if ((rc = read_all(out, (size_t)1 << 30, &old, &len)))
        return DCQB_FAIL(err, rc, "%s: cannot read", out);
    if (old && *old) {
        size_t l = strcspn(old, "\n");
        hdr = malloc(l + 2);
        if (!hdr) {
            rc = DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
            goto out;
        }
        memcpy(hdr, old, l + 1);
        hdr[l + 1] = '\0';
        if (old[len - 1] != '\n') sb_add(&b, "\n", 1);
    }
    for (int i = 0; i < n_in; i++) {
        char *t;
        if (strcmp(in[i], out) == 0) {
            rc = DCQB_FAIL(err, DCQB_EINVAL, "%s is both input and output", out);
            goto out;
        }
        if ((rc = read_all(in[i], (size_t)1 << 30, &t, &len)) || !t) {
            rc = DCQB_FAIL(err, DCQB_EIO, "%s: cannot read", in[i]);
            goto out;
        }
        if (!*t) {
            free(t);
            continue;
        }
        size_t hl = strcspn(t, "\n");
        if (!hdr) {
            hdr = malloc(hl + 2);
            if (!hdr) {
                free(t);
                rc = DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
                goto out;
            }
            memcpy(hdr, t, hl);
            hdr[hl] = '\n';
            hdr[hl + 1] = '\0';
            sb_str(&b, hdr);
        } else if ((rc = header_mismatch(in[i], t, hdr, err))) {
            free(t);
            goto out;
        }
        if (t[hl]) sb_str(&b, t + hl + 1);
        if (len && t[len - 1] != '\n') sb_add(&b, "\n", 1);
        free(t);
    }
    if (b.oom) {
        rc = DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
        goto out;
    }
    fd = open(out, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0 || (b.n && write(fd, b.p, b.n) != (ssize_t)b.n) || fsync(fd) != 0)
        rc = DCQB_FAIL(err, DCQB_EIO, "%s: cannot write: %s", out, strerror(errno));
out:
    if (fd >= 0) close(fd);
    free(b.p);
    free(hdr);
    free(old);
    return rc;
}
