/* sweep_expand.c - a parsed sweep file into runs (see sweep.h): [base] x [data.NAME] x each
 * head section, the grid and test runs of tuned sections, canonical text and run_id, the
 * canonical order, and the runs.tsv config columns. docs/ARCHITECTURE.md §4.
 */
#include "sweep_int.h"

#include <stdlib.h>

#include "train.h"
#include "train_keys.h"

#define SWEEP_ORDER_SEED 0x5eedc0ffee123457ULL /* fixed: the canonical order never changes */

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

/* The comment line that ends the text of a tuned section's runs (see sweep.h). */
static const char *const tune_marker[] = {"", "# tune = grid\n", "# tune = best\n"};

/* Build one run from the merged, key-sorted items and the chosen value index of each. */
static int make_run(struct sweep_run *r, const struct item *it, int n, const int *idx, int tune,
                    struct dcqb_err *err)
{
    size_t text = strlen(tune_marker[tune]), kv = 0;
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
    t += sprintf(t, "%s", tune_marker[tune]);
    *t = '\0';
    r->n_kv = n;
    r->tune = tune;
    r->group = -1;
    r->point = -1;
    uint64_t h = dcqb_fnv1a64(DCQB_FNV1A64_INIT, r->conf, strlen(r->conf));
    snprintf(r->run_id, sizeof r->run_id, "%016llx", (unsigned long long)h);
    uint64_t st = h ^ SWEEP_ORDER_SEED;
    r->order = dcqb_splitmix64(&st);
    return DCQB_OK;
}

/* What one expansion adds to [base] x head section: a data configuration, a tuning role. */
struct expand_spec {
    const struct group *data;  /* [data.NAME] or NULL */
    int tune, group, point;    /* make_run's role; point -1 with tune: no grid key */
    const char *seed;          /* the tuning seed in place of the seed list, or NULL */
    char **grid;               /* n_grid values of the point, or NULL */
    char *const *grid_key;
    int n_grid;
};

static const struct item *find_item(const struct group *g, const char *key)
{
    for (int j = 0; g && j < g->n; j++)
        if (!strcmp(g->it[j].key, key)) return &g->it[j];
    return NULL;
}

static const struct group *find_group(const struct loader *L, int kind, const char *name)
{
    for (int i = 0; i < L->n_g; i++)
        if (L->g[i].kind == kind && !strcmp(L->g[i].head, name)) return &L->g[i];
    return NULL;
}

/* The merged items of base x data x head for spec e into m (key-sorted); *n their count.
 * Precedence: head section > data section > [base]; in tuned runs grid keys are the grid's. */
static void merge_items(struct item *m, int *n, const struct group *base, const struct group *hd,
                        const struct expand_spec *e, char **fixed)
{
    int k = 0;
    for (int i = 0; i < base->n; i++) {
        const char *key = base->it[i].key;
        int grid = 0;
        for (int g = 0; e->tune && g < e->n_grid; g++) grid |= !strcmp(e->grid_key[g], key);
        if (!grid && !find_item(hd, key) && !find_item(e->data, key)) m[k++] = base->it[i];
    }
    for (int j = 0; e->data && j < e->data->n; j++) m[k++] = e->data->it[j];
    for (int j = 0; j < hd->n; j++) m[k++] = hd->it[j];
    fixed[0] = (char *)hd->head;
    m[k++] = (struct item){.key = "head", .n = 1, .vals = &fixed[0]};
    if (e->data) {
        fixed[1] = (char *)e->data->head;
        m[k++] = (struct item){.key = "report.data", .n = 1, .vals = &fixed[1]};
    }
    for (int g = 0; e->grid && g < e->n_grid; g++)
        m[k++] = (struct item){.key = e->grid_key[g], .n = 1, .vals = &e->grid[g]};
    for (int i = 0; e->seed && i < k; i++)
        if (!strcmp(m[i].key, "seed")) m[i].n = 0; /* replaced by the tuning seed */
    if (e->seed) {
        fixed[2] = (char *)e->seed;
        m[k++] = (struct item){.key = "seed", .n = 1, .vals = &fixed[2]};
    }
    int u = 0;
    for (int i = 0; i < k; i++)
        if (m[i].n) m[u++] = m[i];
    qsort(m, (size_t)u, sizeof *m, cmp_item);
    *n = u;
}

/* Cartesian product of the merged items into s->runs (appended). */
static int expand_group(struct sweep *s, const struct group *base, const struct group *hd,
                        const struct expand_spec *e, int *cap, struct dcqb_err *err)
{
    enum { M = 3 * MAX_ITEMS + 8 };
    struct item *m = calloc(M + (size_t)e->n_grid, sizeof *m);
    int *idx = calloc(M + (size_t)e->n_grid, sizeof *idx);
    char *fixed[3];
    int n = 0, rc = DCQB_OK;
    if (!m || !idx) {
        rc = DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
        goto out;
    }
    merge_items(m, &n, base, hd, e, fixed);
    double count = 1;
    for (int i = 0; i < n; i++) count *= m[i].n;
    if (count + s->n_runs > SWEEP_MAX_RUNS) {
        rc = DCQB_FAIL(err, DCQB_EINVAL, "%s: [%s] expands to %.0f runs (limit %d in all)",
                       s->path, hd->sect, count, SWEEP_MAX_RUNS);
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
        struct sweep_run *r = &s->runs[s->n_runs];
        rc = make_run(r, m, n, idx, e->tune, err);
        if (rc) goto out;
        s->n_runs++;
        if (e->tune) {
            r->group = e->group;
            r->point = e->point;
            if (e->tune == SWEEP_TUNE_GRID)
                memcpy(s->groups[e->group].grid_id[e->point], r->run_id, 17);
        }
        int i = n - 1; /* odometer: last key fastest */
        while (i >= 0 && ++idx[i] == m[i].n) idx[i--] = 0;
        if (i < 0) break;
    }
out:
    free(m);
    free(idx);
    return rc;
}

/* ==== [data.*] and [tune] =================================================================== */

/* [data.*] selections and knobs of one head section. */
static int check_head_data(const struct loader *L, const struct group *h, int n_data,
                           struct dcqb_err *err)
{
    for (int v = 0; v < h->sel.n; v++)
        if (!find_group(L, G_DATA, h->sel.vals[v]))
            return DCQB_FAIL(err, DCQB_EINVAL, "%s:%d: [%s] names data configuration '%s', "
                             "which has no [data.%s] section", L->path, h->sel.line, h->sect,
                             h->sel.vals[v], h->sel.vals[v]);
    for (int j = 0; n_data && j < h->n; j++)
        for (int d = 0; d < L->n_g; d++) {
            const struct item *o = L->g[d].kind == G_DATA ? find_item(&L->g[d], h->it[j].key)
                                                          : NULL;
            if (o)
                return DCQB_FAIL(err, DCQB_EINVAL, "%s:%d: '%s' is set by [data.%s] (line %d) "
                                 "and by [%s]: a data knob belongs to the data configurations",
                                 L->path, h->it[j].line, h->it[j].key, L->g[d].head, o->line,
                                 h->sect);
        }
    return DCQB_OK;
}

/* A tuned section: no grid key of its own, only seeds listed, its seeds not the tuning seed. */
static int check_tuned(const struct loader *L, const struct group *h, const struct group *T,
                       struct dcqb_err *err)
{
    for (int j = 0; j < h->n; j++)
        if (find_item(T, h->it[j].key))
            return DCQB_FAIL(err, DCQB_EINVAL, "%s:%d: '%s' is a [tune] grid key (line %d): "
                             "a tuned section cannot also set it", L->path, h->it[j].line,
                             h->it[j].key, find_item(T, h->it[j].key)->line);
    const struct group *gs[2] = {&L->g[0], h};
    for (int g = 0; g < 2; g++)
        for (int j = 0; j < gs[g]->n; j++) {
            const struct item *it = &gs[g]->it[j];
            if (it->n > 1 && strcmp(it->key, "seed") && !find_item(T, it->key) &&
                (g == 1 || !find_item(h, it->key)))
                return DCQB_FAIL(err, DCQB_EINVAL, "%s:%d: '%s' lists %d values, and [%s] is "
                                 "tuned: a tuned section may list only seeds (one section per "
                                 "tuned configuration)", L->path, it->line, it->key, it->n,
                                 h->sect);
        }
    const struct item *seeds = find_item(h, "seed");
    if (!seeds) seeds = find_item(&L->g[0], "seed");
    struct train_settings def;
    train_settings_defaults(&def);
    char dflt[32];
    snprintf(dflt, sizeof dflt, "%llu", (unsigned long long)def.o.seed);
    for (int v = 0; v < (seeds ? seeds->n : 1); v++)
        if (!strcmp(seeds ? seeds->vals[v] : dflt, T->seed.vals[0]))
            return DCQB_FAIL(err, DCQB_EINVAL, "%s:%d: the tuning seed %s is also a seed of "
                             "[%s]'s test runs%s: choose a tuning seed outside the test seeds",
                             L->path, T->seed.line, T->seed.vals[0], h->sect,
                             seeds ? "" : " (the default seed)");
    return DCQB_OK;
}

/* The whole file's [data.*] / [tune] layout, before anything expands. */
static int check_layout(const struct loader *L, const struct group **T, struct dcqb_err *err)
{
    int n_data = 0, n_tuned = 0, rc;
    *T = NULL;
    for (int i = 0; i < L->n_g; i++) {
        n_data += L->g[i].kind == G_DATA;
        if (L->g[i].kind == G_TUNE) *T = &L->g[i];
    }
    for (int i = 0; i < L->n_g; i++) {
        const struct group *h = &L->g[i];
        if (h->kind != G_HEAD) continue;
        if ((rc = check_head_data(L, h, n_data, err))) return rc;
        if (!h->tuned) continue;
        n_tuned++;
        if (!*T)
            return DCQB_FAIL(err, DCQB_EINVAL, "%s:%d: tune = 1 needs a [tune] section",
                             L->path, h->tune_line);
        if (!(*T)->n || !(*T)->seed.n)
            return DCQB_FAIL(err, DCQB_EINVAL, "%s:%d: [tune] needs grid.<key> = v1, v2, ... "
                             "and seed = N", L->path, (*T)->line);
        if ((rc = check_tuned(L, h, *T, err))) return rc;
    }
    if (*T && !n_tuned)
        return DCQB_FAIL(err, DCQB_EINVAL, "%s:%d: [tune] but no head section has tune = 1",
                         L->path, (*T)->line);
    if (*T && (*T)->dsel.n && !find_group(L, G_DATA, (*T)->dsel.vals[0]))
        return DCQB_FAIL(err, DCQB_EINVAL, "%s:%d: [tune] data = %s: no [data.%s] section",
                         L->path, (*T)->dsel.line, (*T)->dsel.vals[0], (*T)->dsel.vals[0]);
    return DCQB_OK;
}

/* s->grid_*: the grid of [tune], first key slowest; s->groups room for every choice. */
static int make_grid(struct sweep *s, const struct loader *L, const struct group *T,
                     struct dcqb_err *err)
{
    int n_head = 0, n_data = 0;
    for (int i = 0; i < L->n_g; i++) {
        n_head += L->g[i].kind == G_HEAD;
        n_data += L->g[i].kind == G_DATA;
    }
    double np = 1;
    for (int k = 0; k < T->n; k++) np *= T->it[k].n;
    if (np > SWEEP_MAX_RUNS)
        return DCQB_FAIL(err, DCQB_EINVAL, "%s:%d: the grid has %.0f points", L->path, T->line,
                         np);
    s->n_grid = T->n;
    s->n_points = (int)np;
    s->grid_key = calloc((size_t)T->n, sizeof *s->grid_key);
    s->grid_val = calloc((size_t)(T->n * s->n_points), sizeof *s->grid_val);
    s->groups = calloc((size_t)(n_head * (n_data ? n_data : 1)), sizeof *s->groups);
    if (!s->grid_key || !s->grid_val || !s->groups)
        return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
    s->tune_keys[0] = '\0';
    for (int k = 0; k < T->n; k++) {
        if (!(s->grid_key[k] = strdup(T->it[k].key)))
            return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
        size_t l = strlen(s->tune_keys);
        snprintf(s->tune_keys + l, sizeof s->tune_keys - l, "%s%s", k ? "," : "", T->it[k].key);
    }
    for (int p = 0; p < s->n_points; p++)
        for (int k = T->n - 1, q = p; k >= 0; k--) { /* mixed radix, last key fastest */
            if (!(s->grid_val[p * T->n + k] = strdup(T->it[k].vals[q % T->it[k].n])))
                return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
            q /= T->it[k].n;
        }
    return DCQB_OK;
}

/* The runs of one tuned head section over its data configurations d[0..nd) (NULL: none). */
static int expand_tuned(struct sweep *s, const struct loader *L, const struct group *h,
                        const struct group *T, const struct group *const *d, int nd, int *cap,
                        struct dcqb_err *err)
{
    const struct group *td = T->dsel.n ? find_group(L, G_DATA, T->dsel.vals[0]) : NULL;
    int n_td = T->dsel.n ? 1 : nd, g0 = s->n_groups, rc;
    for (int t = 0; t < n_td; t++) { /* grid runs: one group per data configuration tuned on */
        int gi = s->n_groups;
        struct sweep_group *g = &s->groups[gi];
        const struct group *data = T->dsel.n ? td : d[t];
        snprintf(g->section, sizeof g->section, "%s", h->sect);
        snprintf(g->data, sizeof g->data, "%s", data ? data->head : "");
        if (!(g->grid_id = calloc((size_t)s->n_points, sizeof *g->grid_id)))
            return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
        s->n_groups++; /* sweep_free frees grid_id from here on */
        for (int p = 0; p < s->n_points; p++) {
            struct expand_spec e = {data, SWEEP_TUNE_GRID, gi, p, T->seed.vals[0],
                                    &s->grid_val[p * s->n_grid], s->grid_key, s->n_grid};
            if ((rc = expand_group(s, &L->g[0], h, &e, cap, err))) return rc;
        }
    }
    for (int t = 0; t < nd; t++) /* test runs: every point's candidates and the open slot */
        for (int p = -1; p < s->n_points; p++) {
            struct expand_spec e = {d[t], SWEEP_TUNE_BEST, g0 + (T->dsel.n ? 0 : t), p, NULL,
                                    p < 0 ? NULL : &s->grid_val[p * s->n_grid], s->grid_key,
                                    s->n_grid};
            if ((rc = expand_group(s, &L->g[0], h, &e, cap, err))) return rc;
        }
    return DCQB_OK;
}

/* Every head section x its data configurations, in file order. */
static int expand_all(struct sweep *s, const struct loader *L, const struct group *T,
                      struct dcqb_err *err)
{
    const struct group *d[MAX_SECTIONS + 1];
    int cap = 0, rc;
    for (int i = 1; i < L->n_g; i++) {
        const struct group *h = &L->g[i];
        if (h->kind != G_HEAD) continue;
        int nd = 0, any = 0;
        for (int j = 0; j < L->n_g; j++) {
            if (L->g[j].kind != G_DATA) continue;
            any = 1;
            int in = !h->sel.n;
            for (int v = 0; v < h->sel.n; v++) in |= !strcmp(h->sel.vals[v], L->g[j].head);
            if (in) d[nd++] = &L->g[j];
        }
        if (!any) d[nd++] = NULL;
        if (h->tuned) {
            if ((rc = expand_tuned(s, L, h, T, d, nd, &cap, err))) return rc;
            continue;
        }
        for (int t = 0; t < nd; t++) {
            struct expand_spec e = {.data = d[t]};
            if ((rc = expand_group(s, &L->g[0], h, &e, &cap, err))) return rc;
        }
    }
    return DCQB_OK;
}

/* ==== order and columns ===================================================================== */

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

int sweep_expand(struct loader *L, struct dcqb_err *err)
{
    struct sweep *s = L->s;
    const struct group *T = NULL;
    int rc;
    if ((rc = check_layout(L, &T, err))) return rc;
    if (T) {
        int val = 0;
        for (int i = 0; i < s->n_metrics; i++) val |= !strcmp(s->metrics[i], "val_rank1");
        if (!val)
            return DCQB_FAIL(err, DCQB_EINVAL, "%s:%d: [tune] chooses by val_rank1: add it to "
                             "[sweep] metrics", L->path, T->line);
        if ((rc = make_grid(s, L, T, err))) return rc;
    }
    if ((rc = expand_all(s, L, T, err)) || (rc = sort_and_dedupe(s, err)) ||
        (rc = collect_keys(s, err)) || (rc = collect_cols(s, err)))
        return rc;
    return DCQB_OK;
}
