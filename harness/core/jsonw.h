/* jsonw.h - a minimal writer for flat JSON objects (summary.json, metrics.json, --json output).
 * Non-finite numbers become null, which pandas and jq read. Keys are written in call order. */
#ifndef DCQB_JSONW_H
#define DCQB_JSONW_H

#include <math.h>

#include "dcqb.h"

struct jsonw {
    FILE *f;
    int n; /* members written so far */
};

static inline void jsonw_begin(struct jsonw *w, FILE *f)
{
    w->f = f;
    w->n = 0;
    fputs("{", f);
}

static inline void jsonw_key(struct jsonw *w, const char *key)
{
    fprintf(w->f, "%s\n  \"%s\": ", w->n++ ? "," : "", key);
}

static inline void jsonw_str(struct jsonw *w, const char *key, const char *val)
{
    jsonw_key(w, key);
    fputc('"', w->f);
    for (const char *p = val ? val : ""; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '"' || ch == '\\') fprintf(w->f, "\\%c", ch);
        else if (ch < 0x20) fprintf(w->f, "\\u%04x", ch);
        else fputc(ch, w->f);
    }
    fputc('"', w->f);
}

static inline void jsonw_num(struct jsonw *w, const char *key, double val)
{
    jsonw_key(w, key);
    if (isfinite(val)) fprintf(w->f, "%.10g", val);
    else fputs("null", w->f);
}

static inline void jsonw_int(struct jsonw *w, const char *key, long long val)
{
    jsonw_key(w, key);
    fprintf(w->f, "%lld", val);
}

static inline void jsonw_end(struct jsonw *w) { fputs("\n}\n", w->f); }

#endif
