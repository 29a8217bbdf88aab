/* cfg.c - see cfg.h. INI parsing is libinih's (Debian libinih-dev); we only count lines so that
 * every key knows where it was written, and validate values ourselves. */
#include "cfg.h"

#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>

void cfg_free(struct cfg *c)
{
    if (!c) return;
    for (int i = 0; i < c->n_strs; i++) free(c->strs[i]);
    free(c->strs);
    free(c->e);
    free(c->pos);
    memset(c, 0, sizeof *c);
}

static struct cfg_entry *find_mut(const struct cfg *c, const char *key)
{
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->e[i].key, key) == 0) return &c->e[i];
    return NULL;
}

const struct cfg_entry *cfg_find(const struct cfg *c, const char *key) { return find_mut(c, key); }

int cfg_set(struct cfg *c, const char *key, const char *val, const char *src, int line,
            struct dcqb_err *err)
{
    if (strlen(key) >= CFG_KEY_MAX)
        return DCQB_FAIL(err, DCQB_EINVAL, "%s:%d: key '%.40s...' is too long", src, line, key);
    if (strlen(val) >= CFG_VAL_MAX)
        return DCQB_FAIL(err, DCQB_EINVAL, "%s:%d: value of '%s' is too long", src, line, key);
    struct cfg_entry *e = find_mut(c, key);
    if (!e) {
        if (c->n == c->cap) {
            int cap = c->cap ? 2 * c->cap : 32;
            struct cfg_entry *ne = realloc(c->e, (size_t)cap * sizeof *ne);
            if (!ne) return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory reading config");
            c->e = ne;
            c->cap = cap;
        }
        e = &c->e[c->n++];
        memset(e, 0, sizeof *e);
        snprintf(e->key, sizeof e->key, "%s", key);
    }
    snprintf(e->val, sizeof e->val, "%s", val);
    snprintf(e->src, sizeof e->src, "%s", src);
    e->line = line;
    e->used = 0;
    return DCQB_OK;
}

struct ini_ctx {
    struct cfg *c;
    const char *path;
    const char *flat;
    int line;
    FILE *f;
    struct dcqb_err *err;
    int rc;
};

/* fgets-compatible reader that counts lines, so the handler knows where a key was written. */
static char *cfg_ini_reader(char *str, int num, void *stream)
{
    struct ini_ctx *x = stream;
    char *r = fgets(str, num, x->f);
    if (r) x->line++;
    return r;
}

static int cfg_ini_handler(void *user, const char *section, const char *name, const char *value)
{
    struct ini_ctx *x = user;
    char key[CFG_KEY_MAX * 2];
    if (!section[0] || (x->flat && strcmp(section, x->flat) == 0))
        snprintf(key, sizeof key, "%s", name);
    else
        snprintf(key, sizeof key, "%s.%s", section, name);
    if (find_mut(x->c, key) && find_mut(x->c, key)->line > 0 &&
        strcmp(find_mut(x->c, key)->src, x->path) == 0) {
        x->rc = DCQB_FAIL(x->err, DCQB_EINVAL, "%s:%d: key '%s' is given twice", x->path, x->line,
                          key);
        return 0;
    }
    int rc = cfg_set(x->c, key, value, x->path, x->line, x->err);
    if (rc) {
        x->rc = rc;
        return 0;
    }
    return 1;
}

int cfg_load_ini(struct cfg *c, const char *path, const char *flat_section, struct dcqb_err *err)
{
    struct ini_ctx x = {c, path, flat_section, 0, NULL, err, DCQB_OK};
    x.f = fopen(path, "r");
    if (!x.f) return DCQB_FAIL(err, DCQB_EIO, "%s: cannot open: %s", path, strerror(errno));
    /* a directory opens for reading and reads as empty: it would mean "every default" */
    struct stat st;
    if (fstat(fileno(x.f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(x.f);
        return DCQB_FAIL(err, DCQB_EINVAL, "%s: not a regular file (a config file is expected)",
                         path);
    }
    int r = ini_parse_stream(cfg_ini_reader, &x, cfg_ini_handler, &x);
    fclose(x.f);
    if (x.rc) return x.rc;
    if (r < 0) return DCQB_FAIL(err, DCQB_EIO, "%s: cannot read", path);
    if (r > 0) return DCQB_FAIL(err, DCQB_EINVAL, "%s:%d: syntax error (expected 'key = value' "
                                "or '[section]')", path, r);
    return DCQB_OK;
}

int cfg_parse_args(struct cfg *c, int argc, char **argv, const char *const *bool_flags,
                   struct dcqb_err *err)
{
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            char **np = realloc(c->pos, (size_t)(c->n_pos + 1) * sizeof *np);
            if (!np) return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory parsing arguments");
            c->pos = np;
            c->pos[c->n_pos++] = argv[i];
            continue;
        }
        char key[CFG_KEY_MAX];
        const char *eq = strchr(a + 2, '=');
        size_t klen = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
        if (klen >= sizeof key)
            return DCQB_FAIL(err, DCQB_EINVAL, "command line: option '%s' is too long", a);
        memcpy(key, a + 2, klen);
        key[klen] = '\0';
        /* accept --queue-len as --queue_len: config keys use underscores */
        for (char *p = key; *p; p++)
            if (*p == '-') *p = '_';
        const char *val;
        int is_bool = 0;
        for (const char *const *b = bool_flags; b && *b; b++)
            if (strcmp(*b, key) == 0) is_bool = 1;
        if (eq)
            val = eq + 1;
        else if (is_bool)
            val = "1";
        else if (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0)
            /* `--steps --out x` must not train one step: only boolean flags stand alone */
            return DCQB_FAIL(err, DCQB_EINVAL, "command line: option '%s' needs a value", a);
        else
            val = argv[++i];
        int rc = cfg_set(c, key, val, "command line", 0, err);
        if (rc) return rc;
    }
    return DCQB_OK;
}

const char *cfg_where(const struct cfg_entry *e, char *buf, size_t n)
{
    if (e->line < 0)
        snprintf(buf, n, "default");
    else if (e->line > 0)
        snprintf(buf, n, "%s:%d", e->src, e->line);
    else
        snprintf(buf, n, "%s", e->src);
    return buf;
}

int cfg_has(struct cfg *c, const char *key)
{
    struct cfg_entry *e = find_mut(c, key);
    if (e) e->used = 1;
    return e != NULL;
}

/* An absent key takes its default, which is recorded (source "default") so that the resolved
 * config written with a run lists every effective value, not only the ones the user typed. */
static int record_default(struct cfg *c, const char *key, const char *val)
{
    int rc = cfg_set(c, key, val, "default", -1, NULL);
    if (rc == DCQB_OK) find_mut(c, key)->used = 1;
    return rc;
}

/* An integer, read exactly: digits through strtoll (so seeds above 2^53 stay distinct and
 * 2^63 - 1 is 2^63 - 1), or 1e6-style text (researchers write ids = 1e6) when it is an exact
 * integer of magnitude <= 2^53, where a double holds every integer. 0 on success; -1 otherwise,
 * errno = ERANGE when the digits do not fit in 64 bits. */
static int parse_int(const char *s, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    const char *t = end;
    while (*t == ' ' || *t == '\t') t++;
    if (end != s && !*t) {
        *out = v;
        return errno ? -1 : 0;
    }
    errno = 0;
    double d = strtod(s, &end);
    while (*end == ' ' || *end == '\t') end++;
    if (end == s || *end || errno || !isfinite(d) || d != floor(d) || fabs(d) > 9007199254740992.0)
        return -1;
    *out = (long long)d;
    return 0;
}

int cfg_get_int(struct cfg *c, const char *key, long long def, long long lo, long long hi,
                long long *out, struct dcqb_err *err)
{
    struct cfg_entry *e = find_mut(c, key);
    char w[CFG_SRC_MAX + 16];
    if (!e) {
        char buf[32];
        snprintf(buf, sizeof buf, "%lld", def);
        *out = def;
        return record_default(c, key, buf);
    }
    e->used = 1;
    long long v;
    if (parse_int(e->val, &v))
        return DCQB_FAIL(err, DCQB_EINVAL, "%s: '%s' must be an integer%s, got '%s'",
                         cfg_where(e, w, sizeof w), key,
                         errno == ERANGE ? " within 64 bits" : "", e->val);
    if (v < lo || v > hi)
        return DCQB_FAIL(err, DCQB_EINVAL, "%s: '%s' = %s is outside [%lld, %lld]",
                         cfg_where(e, w, sizeof w), key, e->val, lo, hi);
    *out = v;
    return DCQB_OK;
}

int cfg_get_double(struct cfg *c, const char *key, double def, double lo, double hi, double *out,
                   struct dcqb_err *err)
{
    return cfg_get_real(c, key, def, lo, hi, 0, out, err);
}

int cfg_get_real(struct cfg *c, const char *key, double def, double lo, double hi, int flags,
                 double *out, struct dcqb_err *err)
{
    struct cfg_entry *e = find_mut(c, key);
    char w[CFG_SRC_MAX + 16];
    if (!e) {
        char buf[32];
        dcqb_fmt_double(buf, sizeof buf, def, (flags & CFG_AS_FLOAT) != 0);
        *out = def;
        return record_default(c, key, buf);
    }
    e->used = 1;
    char *end;
    errno = 0;
    double d = strtod(e->val, &end);
    while (*end == ' ' || *end == '\t') end++;
    if (errno || end == e->val || *end || !isfinite(d))
        return DCQB_FAIL(err, DCQB_EINVAL, "%s: '%s' must be a number, got '%s'",
                         cfg_where(e, w, sizeof w), key, e->val);
    int lo_open = (flags & CFG_LO_OPEN) != 0;
    if (d < lo || (lo_open && d == lo) || d > hi)
        return DCQB_FAIL(err, DCQB_EINVAL, "%s: '%s' = %s is outside %c%g, %g]",
                         cfg_where(e, w, sizeof w), key, e->val, lo_open ? '(' : '[', lo, hi);
    *out = d;
    return DCQB_OK;
}

int cfg_get_bool(struct cfg *c, const char *key, int def, int *out, struct dcqb_err *err)
{
    static const char *const ch[] = {"0", "1", "false", "true", "no", "yes", "off", "on", NULL};
    int idx;
    int rc = cfg_get_choice(c, key, def ? "1" : "0", ch, &idx, err);
    if (rc) return rc;
    *out = idx & 1;
    return DCQB_OK;
}

/* A copy of v owned by c: entries live in one array that moves when it grows, so a pointer
 * into it would dangle after the next cfg_set. */
static int keep_str(struct cfg *c, const char *v, const char **out, struct dcqb_err *err)
{
    char **ns = realloc(c->strs, (size_t)(c->n_strs + 1) * sizeof *ns);
    char *d = ns ? strdup(v) : NULL;
    if (ns) c->strs = ns;
    if (!d) return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory reading config");
    c->strs[c->n_strs++] = d;
    *out = d;
    return DCQB_OK;
}

int cfg_get_str(struct cfg *c, const char *key, const char *def, const char **out,
                struct dcqb_err *err)
{
    struct cfg_entry *e = find_mut(c, key);
    if (!e) {
        *out = def;
        if (!def) return DCQB_OK;
        int rc = record_default(c, key, def);
        if (rc) return DCQB_FAIL(err, rc, "out of memory reading config");
        return keep_str(c, def, out, err);
    }
    e->used = 1;
    return keep_str(c, e->val, out, err);
}

int cfg_get_choice(struct cfg *c, const char *key, const char *def, const char *const *choices,
                   int *out, struct dcqb_err *err)
{
    struct cfg_entry *e = find_mut(c, key);
    const char *v = def;
    if (e) {
        e->used = 1;
        v = e->val;
    }
    for (int i = 0; choices[i]; i++)
        if (strcmp(choices[i], v) == 0) {
            *out = i;
            return e ? DCQB_OK : record_default(c, key, v);
        }
    char list[256] = "";
    for (int i = 0; choices[i]; i++) {
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, "%s%s", i ? ", " : "", choices[i]);
    }
    char w[CFG_SRC_MAX + 16];
    if (!e) return DCQB_FAIL(err, DCQB_EINVAL, "default '%s' of '%s' is not one of: %s", v, key,
                             list);
    return DCQB_FAIL(err, DCQB_EINVAL, "%s: '%s' = '%s' is not one of: %s",
                     cfg_where(e, w, sizeof w), key, v, list);
}

int cfg_check_unused(const struct cfg *c, struct dcqb_err *err)
{
    char w[CFG_SRC_MAX + 16];
    for (int i = 0; i < c->n; i++)
        if (!c->e[i].used) {
            const struct cfg_entry *e = &c->e[i];
            if (e->line == 0)
                return DCQB_FAIL(err, DCQB_EINVAL, "unknown option '--%s' (see --help)", e->key);
            return DCQB_FAIL(err, DCQB_EINVAL, "%s: unknown key '%s'", cfg_where(e, w, sizeof w),
                             e->key);
        }
    return DCQB_OK;
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const struct cfg_entry *)a)->key, ((const struct cfg_entry *)b)->key);
}

int cfg_write(const struct cfg *c, FILE *f) { return cfg_write_if(c, f, NULL, NULL); }

int cfg_write_if(const struct cfg *c, FILE *f, int (*keep)(void *ctx, const char *key),
                 void *ctx)
{
    struct cfg_entry *tmp = malloc((size_t)(c->n ? c->n : 1) * sizeof *tmp);
    if (!tmp) return DCQB_ENOMEM;
    int m = 0;
    for (int i = 0; i < c->n; i++)
        if (c->e[i].used && (!keep || keep(ctx, c->e[i].key))) tmp[m++] = c->e[i];
    qsort(tmp, (size_t)m, sizeof *tmp, cmp_entry);
    for (int i = 0; i < m; i++) fprintf(f, "%s = %s\n", tmp[i].key, tmp[i].val);
    free(tmp);
    return ferror(f) ? DCQB_EIO : DCQB_OK;
}
