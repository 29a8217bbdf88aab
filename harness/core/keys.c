/* keys.c - see keys.h. Each row goes through the typed getters of cfg.c, so messages and the
 * recorded defaults are the same whether a key is read from a table or by hand. */
#include "keys.h"

#include <limits.h>

/* Table ranges are doubles; INT64_MAX does not convert back exactly (2^63 overflows). */
static long long to_ll(double x)
{
    if (x >= 9223372036854775807.0) return LLONG_MAX;
    if (x <= -9223372036854775807.0) return LLONG_MIN;
    return (long long)x;
}

static int read_int(char *p, const struct key_spec *k, struct cfg *c, struct dcqb_err *err)
{
    long long v;
    int rc;
    if (k->type == KEY_I64) {
        int64_t def;
        memcpy(&def, p, sizeof def);
        if ((rc = cfg_get_int(c, k->name, def, to_ll(k->lo), to_ll(k->hi), &v, err))) return rc;
        int64_t w = v;
        memcpy(p, &w, sizeof w);
    } else {
        int def;
        memcpy(&def, p, sizeof def);
        if ((rc = cfg_get_int(c, k->name, def, to_ll(k->lo), to_ll(k->hi), &v, err))) return rc;
        int w = (int)v;
        memcpy(p, &w, sizeof w);
    }
    return DCQB_OK;
}

static int read_real(char *p, const struct key_spec *k, struct cfg *c, struct dcqb_err *err)
{
    int flags = (k->flags & KEY_LO_OPEN) ? CFG_LO_OPEN : 0;
    double def, v;
    int rc;
    if (k->type == KEY_FLOAT) {
        float f;
        memcpy(&f, p, sizeof f);
        def = f;
        flags |= CFG_AS_FLOAT;
    } else {
        memcpy(&def, p, sizeof def);
    }
    if ((rc = cfg_get_real(c, k->name, def, k->lo, k->hi, flags, &v, err))) return rc;
    if (k->type == KEY_FLOAT) {
        float f = (float)v;
        memcpy(p, &f, sizeof f);
    } else {
        memcpy(p, &v, sizeof v);
    }
    return DCQB_OK;
}

int keys_read_one(void *base, const struct key_spec *k, struct cfg *c, struct dcqb_err *err)
{
    char *p = (char *)base + k->offset;
    if ((k->flags & KEY_NO_DEFAULT) && !cfg_find(c, k->name)) return DCQB_OK;
    int v, rc = DCQB_OK;
    switch (k->type) {
    case KEY_INT:
    case KEY_I64: return read_int(p, k, c, err);
    case KEY_DOUBLE:
    case KEY_FLOAT: return read_real(p, k, c, err);
    case KEY_BOOL:
        memcpy(&v, p, sizeof v);
        if ((rc = cfg_get_bool(c, k->name, v, &v, err)) == DCQB_OK) memcpy(p, &v, sizeof v);
        return rc;
    case KEY_CHOICE: {
        memcpy(&v, p, sizeof v);
        int n = 0;
        while (k->choices[n]) n++;
        const char *def = v >= 0 && v < n ? k->choices[v] : "";
        if ((rc = cfg_get_choice(c, k->name, def, k->choices, &v, err)) == DCQB_OK)
            memcpy(p, &v, sizeof v);
        return rc;
    }
    case KEY_STR: {
        const char *s;
        memcpy(&s, p, sizeof s);
        if ((rc = cfg_get_str(c, k->name, s, &s, err)) == DCQB_OK) memcpy(p, &s, sizeof s);
        return rc;
    }
    default:
        return DCQB_FAIL(err, DCQB_EINVAL, "key '%s' has no type %d (table error)", k->name,
                         k->type);
    }
}

int keys_read(void *base, const struct key_spec *tab, int scopes, struct cfg *c,
              struct dcqb_err *err)
{
    for (const struct key_spec *k = tab; k->name; k++) {
        if (!(k->scope & scopes)) continue;
        int rc = keys_read_one(base, k, c, err);
        if (rc) return rc;
    }
    return DCQB_OK;
}

const struct key_spec *keys_find(const struct key_spec *tab, const char *name)
{
    for (const struct key_spec *k = tab; k->name; k++)
        if (strcmp(k->name, name) == 0) return k;
    return NULL;
}

void keys_format(char *buf, size_t n, const struct key_spec *k, const void *base)
{
    const char *p = (const char *)base + k->offset;
    int i;
    switch (k->type) {
    case KEY_I64: {
        int64_t v;
        memcpy(&v, p, sizeof v);
        snprintf(buf, n, "%lld", (long long)v);
        break;
    }
    case KEY_DOUBLE: {
        double v;
        memcpy(&v, p, sizeof v);
        dcqb_fmt_double(buf, n, v, 0);
        break;
    }
    case KEY_FLOAT: {
        float v;
        memcpy(&v, p, sizeof v);
        dcqb_fmt_double(buf, n, v, 1);
        break;
    }
    case KEY_CHOICE: {
        memcpy(&i, p, sizeof i);
        int m = 0;
        while (k->choices[m]) m++;
        snprintf(buf, n, "%s", i >= 0 && i < m ? k->choices[i] : "?");
        break;
    }
    case KEY_STR: {
        const char *s;
        memcpy(&s, p, sizeof s);
        snprintf(buf, n, "%s", s ? s : "");
        break;
    }
    default: /* KEY_INT, KEY_BOOL */
        memcpy(&i, p, sizeof i);
        snprintf(buf, n, "%d", i);
        break;
    }
}

/* Print text after a name column of `indent` characters, wrapped at 99 columns on spaces. */
static void wrap(FILE *f, const char *text, int indent)
{
    const int cols = 99 - indent;
    int first = 1;
    while (*text) {
        int n = (int)strlen(text);
        if (n > cols) {
            n = cols;
            while (n > 0 && text[n] != ' ') n--;
            if (n == 0) n = cols; /* one long word: cut it */
        }
        fprintf(f, "%*s%.*s\n", first ? 0 : indent, "", n, text);
        first = 0;
        text += n;
        while (*text == ' ') text++;
    }
    if (first) fprintf(f, "\n");
}

void keys_help(FILE *f, const struct key_spec *tab, const void *defaults, int scopes, int style,
               int width)
{
    for (const struct key_spec *k = tab; k->name; k++) {
        if (!(k->scope & scopes)) continue;
        char name[72], val[64], text[512];
        snprintf(name, sizeof name, "%s%s", style == KEYS_HELP_FLAGS ? "--" : "", k->name);
        if (style == KEYS_HELP_FLAGS)
            for (char *q = name + 2; *q; q++)
                if (*q == '_') *q = '-';
        keys_format(val, sizeof val, k, defaults);
        size_t l = (size_t)snprintf(text, sizeof text, "%s", k->help);
        for (int i = 0; k->type == KEY_CHOICE && k->choices[i] && l < sizeof text; i++)
            l += (size_t)snprintf(text + l, sizeof text - l, "%s%s", i ? "|" : " (",
                                  k->choices[i]);
        if (k->type == KEY_CHOICE && l < sizeof text)
            l += (size_t)snprintf(text + l, sizeof text - l, ")");
        if (val[0] && !(k->flags & KEY_NO_DEFAULT) && l < sizeof text)
            snprintf(text + l, sizeof text - l, " (default %s)", val);
        fprintf(f, "  %-*s ", width, name);
        wrap(f, text, width + 3);
    }
}

struct scoped {
    int scopes;
    key_scope_fn scope_of;
};

static int keep_scoped(void *ctx, const char *key)
{
    const struct scoped *x = ctx;
    return (x->scope_of(key) & x->scopes) != 0;
}

int keys_write_scoped(const struct cfg *c, FILE *f, int scopes, key_scope_fn scope_of)
{
    struct scoped x = {scopes, scope_of};
    return cfg_write_if(c, f, keep_scoped, &x);
}
