/* head.c - the head registry and the helpers heads use to read their own config keys
 * (head.h; STYLE.md 2.2: a new head is one .c file plus one line in `registry` below).
 * Error messages name the key and the bad value.
 */
#include "head.h"

#include <zlib.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "margin.h"

extern const struct head_ops head_full, head_random, head_dcq, head_sampled;

static const struct head_ops *const registry[] = {
    &head_full,
    &head_random,
    &head_dcq,
    &head_sampled,
    NULL,
};

const struct head_ops *head_find(const char *name)
{
    if (!name) return NULL;
    for (int i = 0; registry[i]; i++)
        if (strcmp(registry[i]->name, name) == 0) return registry[i];
    return NULL;
}

const struct head_ops *const *head_list(void) { return registry; }

static const char *param_get(const struct head_cfg *cfg, const char *key)
{
    return cfg->param ? cfg->param(cfg->param_ctx, key) : NULL;
}

/* Tell the harness which default a head used, so the run's resolved config lists it. */
static void param_default(const struct head_cfg *cfg, const char *key, const char *val)
{
    if (cfg->note_default) cfg->note_default(cfg->param_ctx, key, val);
}

int head_param_double(const struct head_cfg *cfg, const char *key, double def, double lo,
                      double hi, double *out, struct dcqb_err *err)
{
    const char *v = param_get(cfg, key);
    if (!v) {
        char buf[32];
        dcqb_fmt_double(buf, sizeof buf, def, 1); /* heads keep float knobs */
        param_default(cfg, key, buf);
        *out = def;
        return DCQB_OK;
    }
    char *end = NULL;
    errno = 0;
    double x = strtod(v, &end);
    if (end == v || errno == ERANGE || !isfinite(x))
        return DCQB_FAIL(err, DCQB_EINVAL, "%s = '%s': not a finite number", key, v);
    while (*end == ' ' || *end == '\t') end++;
    if (*end)
        return DCQB_FAIL(err, DCQB_EINVAL, "%s = '%s': trailing characters", key, v);
    if (x < lo || x > hi)
        return DCQB_FAIL(err, DCQB_EINVAL, "%s = %s: out of range [%g, %g]", key, v, lo, hi);
    *out = x;
    return DCQB_OK;
}

int head_param_int(const struct head_cfg *cfg, const char *key, long long def, long long lo,
                   long long hi, long long *out, struct dcqb_err *err)
{
    const char *v = param_get(cfg, key);
    if (!v) {
        char buf[32];
        snprintf(buf, sizeof buf, "%lld", def);
        param_default(cfg, key, buf);
        *out = def;
        return DCQB_OK;
    }
    char *end = NULL;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (end == v || errno == ERANGE)
        return DCQB_FAIL(err, DCQB_EINVAL, "%s = '%s': not an integer", key, v);
    while (*end == ' ' || *end == '\t') end++;
    if (*end)
        return DCQB_FAIL(err, DCQB_EINVAL, "%s = '%s': not an integer", key, v);
    if (x < lo || x > hi)
        return DCQB_FAIL(err, DCQB_EINVAL, "%s = %s: out of range [%lld, %lld]", key, v, lo, hi);
    *out = x;
    return DCQB_OK;
}

int head_param_choice(const struct head_cfg *cfg, const char *key, const char *def,
                      const char *const *choices, int *out, struct dcqb_err *err)
{
    const char *v = param_get(cfg, key);
    if (!v) {
        v = def;
        param_default(cfg, key, def);
    }
    for (int i = 0; choices[i]; i++)
        if (strcmp(choices[i], v) == 0) {
            *out = i;
            return DCQB_OK;
        }
    char list[160] = "";
    for (int i = 0; choices[i]; i++) {
        size_t n = strlen(list);
        snprintf(list + n, sizeof list - n, "%s%s", i ? "|" : "", choices[i]);
    }
    return DCQB_FAIL(err, DCQB_EINVAL, "%s = '%s': expected one of %s", key, v, list);
}

/* Defaults: the head's (def_type, def_s, def_m); a margin type other than def_type takes the
 * reference value of REFERENCE.md 3/4: arcface m = 0.5, cosface m = 0.4, combined (1, 0, 0)
 * unless m1/m2/m3 are given. `m` sets m3 (cosface) or m2 (arcface); m1, m2, m3 are read for `combined` only. */
int head_margin_params(const struct head_cfg *cfg, struct margin_cfg *out, int def_type,
                       float def_s, float def_m, struct dcqb_err *err)
{
    static const char *const types[] = {"cosface", "arcface", "combined", "none", NULL};
    int type, rc;
    if ((rc = head_param_choice(cfg, "margin", margin_type_name(def_type), types, &type, err)))
        return rc;
    double dm = type == def_type ? def_m : (type == MARGIN_ARCFACE ? 0.5 : 0.4);
    if (type == MARGIN_COMBINED || type == MARGIN_NONE) dm = 0.0;
    double s, m, m1, m2, m3;
    long long st, easy;
    if ((rc = head_param_double(cfg, "s", def_s, 1e-6, 1e6, &s, err))) return rc;
    if ((rc = head_param_double(cfg, "m", dm, 0.0, 3.14159, &m, err))) return rc;
    margin_cfg_set(out, type, (float)s, (float)m);
    m1 = out->m1, m2 = out->m2, m3 = out->m3;
    if (type == MARGIN_COMBINED) { /* read only where they mean something */
        if ((rc = head_param_double(cfg, "m1", 1.0, 1.0, 100.0, &m1, err))) return rc;
        if ((rc = head_param_double(cfg, "m2", 0.0, 0.0, 3.14159, &m2, err))) return rc;
        if ((rc = head_param_double(cfg, "m3", 0.0, 0.0, 100.0, &m3, err))) return rc;
    }
    if ((rc = head_param_int(cfg, "straight_through", 0, 0, 1, &st, err))) return rc;
    if ((rc = head_param_int(cfg, "easy_margin", 0, 0, 1, &easy, err))) return rc;
    out->m1 = (float)m1;
    out->m2 = (float)m2;
    out->m3 = (float)m3;
    out->straight_through = (int)st;
    out->easy_margin = (int)easy;
    return margin_validate(out, err);
}

int head_check_class_list(const char *head, const int32_t *idx, int64_t K, int64_t kmax,
                          int64_t C, struct dcqb_err *err)
{
    if (K < 1 || K > kmax)
        return DCQB_FAIL(err, DCQB_EINVAL, "%s: %lld fixed classes; this head holds 1..%lld "
                         "(raise ratio)", head, (long long)K, (long long)kmax);
    for (int64_t k = 0; k < K; k++) {
        if (idx[k] < 0 || idx[k] >= C)
            return DCQB_FAIL(err, DCQB_EINVAL, "%s: class %d at %lld outside [0, %lld)", head,
                             (int)idx[k], (long long)k, (long long)C);
        for (int64_t l = 0; l < k; l++)
            if (idx[l] == idx[k])
                return DCQB_FAIL(err, DCQB_EINVAL, "%s: class %d given twice", head, (int)idx[k]);
    }
    return DCQB_OK;
}

uint32_t head_crc32(uint32_t crc, const void *p, size_t n)
{
    uLong c = crc;
    const Bytef *b = p;
    while (n) {
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = crc32(c, b, k);
        b += k;
        n -= k;
    }
    return (uint32_t)c;
}
