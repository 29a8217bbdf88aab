/* head.c - the head handle's wrappers (head_close and the methods) and the helpers heads use to
 * read their own config keys (head.h). The registry and head_open, which need every head, are in
 * head_registry.c, so that the heads (which call the helpers here) and the registry (which names
 * the heads) do not call each other in a loop.
 * Error messages name the key and the bad value.
 */
#include "head.h"

#include <zlib.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "margin.h"

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
 * reference value (docs/METHOD.md §3.1): arcface m = 0.5, cosface m = 0.4, combined (1, 0, 0)
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

int head_check_class_list(const int32_t *idx, int64_t K, int64_t kmax, int64_t C,
                          struct dcqb_err *err)
{
    if (K < 1 || K > kmax)
        return DCQB_FAIL(err, DCQB_EINVAL, "%lld fixed classes; this head holds 1..%lld "
                         "(raise ratio)", (long long)K, (long long)kmax);
    for (int64_t k = 0; k < K; k++) {
        if (idx[k] < 0 || idx[k] >= C)
            return DCQB_FAIL(err, DCQB_EINVAL, "class %d at %lld outside [0, %lld)", (int)idx[k],
                             (long long)k, (long long)C);
        for (int64_t l = 0; l < k; l++)
            if (idx[l] == idx[k])
                return DCQB_FAIL(err, DCQB_EINVAL, "class %d given twice", (int)idx[k]);
    }
    return DCQB_OK;
}

int head_check_sizes(const struct head_cfg *cfg, int64_t cmax, struct dcqb_err *err)
{
    if (cfg->C < 1 || cfg->C > cmax)
        return DCQB_FAIL(err, DCQB_EINVAL, "C = %lld out of range [1, %lld]",
                         (long long)cfg->C, (long long)cmax);
    if (cfg->D < 1 || cfg->max_batch < 1)
        return DCQB_FAIL(err, DCQB_EINVAL, "D = %d and max_batch = %d must be >= 1",
                         cfg->D, cfg->max_batch);
    return DCQB_OK;
}

int head_check_batch(const int32_t *labels, int B, int max_batch, int64_t C,
                     struct dcqb_err *err)
{
    if (B < 1 || B > max_batch)
        return DCQB_FAIL(err, DCQB_EINVAL, "batch %d outside [1, %d]", B, max_batch);
    for (int i = 0; i < B; i++)
        if (labels[i] < 0 || labels[i] >= C)
            return DCQB_FAIL(err, DCQB_EINVAL, "label %d of row %d outside [0, %lld)",
                             (int)labels[i], i, (long long)C);
    return DCQB_OK;
}

int head_mean_loss(float *loss, double total, int B, struct dcqb_err *err)
{
    *loss = (float)(total / B);
    if (!isfinite(*loss))
        return DCQB_FAIL(err, DCQB_ENUMERIC, "non-finite loss %g", (double)*loss);
    return DCQB_OK;
}

int head_check_state(const void *buf, size_t n, size_t hdr_bytes, uint32_t magic,
                     uint32_t version, struct dcqb_err *err)
{
    uint32_t mv[2];
    if (n < hdr_bytes || n < sizeof mv)
        return DCQB_FAIL(err, DCQB_EFORMAT, "state of %zu bytes too short", n);
    memcpy(mv, buf, sizeof mv);
    if (mv[0] != magic || mv[1] != version)
        return DCQB_FAIL(err, DCQB_EFORMAT,
                         "bad state magic/version (%08x v%u; is it another head's?)",
                         (unsigned)mv[0], (unsigned)mv[1]);
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

/* ---- the handle ------------------------------------------------------------------------- */

void head_cfg_defaults(struct head_cfg *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->max_batch = 256;
    cfg->ratio = 0.1;
    cfg->init_std = 0.01f;
    cfg->optim.momentum = 0.9f;
    cfg->optim.weight_decay = 5e-4f;
    cfg->seed = 1;
    cfg->threads = 1;
}

int head_cfg_ratio(const struct head_cfg *cfg, double *ratio, struct dcqb_err *err)
{
    if (!(cfg->ratio > 0.0 && cfg->ratio <= 1.0))
        return DCQB_FAIL(err, DCQB_EINVAL, "ratio = %g outside (0, 1]", cfg->ratio);
    *ratio = cfg->ratio;
    return DCQB_OK;
}

int head_cfg_init_std(const struct head_cfg *cfg, double *std, struct dcqb_err *err)
{
    if (!(cfg->init_std > 0) || !isfinite(cfg->init_std))
        return DCQB_FAIL(err, DCQB_EINVAL, "init_std = %g must be > 0", (double)cfg->init_std);
    *std = cfg->init_std;
    return DCQB_OK;
}

int head_err_prefix(const char *name, int rc, struct dcqb_err *err)
{
    if (rc && err) { /* shift the message right, truncating its end if it no longer fits */
        size_t cap = sizeof err->msg - 1, p = strlen(name) + 2;
        size_t n = strnlen(err->msg, cap);
        if (p > cap) p = cap;
        if (n > cap - p) n = cap - p;
        memmove(err->msg + p, err->msg, n);
        memcpy(err->msg, name, p - 2);
        memcpy(err->msg + p - 2, ": ", 2);
        err->msg[p + n] = '\0';
    }
    return rc;
}

static int prefixed(const struct head *h, int rc, struct dcqb_err *err)
{
    return head_err_prefix(h->ops->name, rc, err);
}

static int unsupported(const struct head *h, const char *what, struct dcqb_err *err)
{
    return DCQB_FAIL(err, DCQB_EINVAL, "%s: does not support %s", head_name(h), what);
}

void head_close(struct head *h)
{
    if (!h) return;
    if (h->ops && h->st) h->ops->free(h->st);
    free(h->st);
    memset(h, 0, sizeof *h);
}

const char *head_name(const struct head *h)
{
    return h && h->ops ? h->ops->name : "(closed head)";
}

int head_forward_backward(struct head *h, float *loss, float *demb, const float *emb,
                          const float *key, const int32_t *labels, int B, struct dcqb_err *err)
{
    return prefixed(h, h->ops->forward_backward(h->st, loss, demb, emb, key, labels, B, err),
                    err);
}

int head_step(struct head *h, float lr, int64_t t, struct dcqb_err *err)
{
    return prefixed(h, h->ops->step(h->st, lr, t, err), err);
}

void head_cost(const struct head *h, int B, struct head_cost *out)
{
    h->ops->cost(h->st, B, out);
}

uint32_t head_digest(const struct head *h) { return h->ops->digest(h->st); }

size_t head_state_bytes(const struct head *h) { return h->ops->state_bytes(h->st); }

int head_save(const struct head *h, void *buf, struct dcqb_err *err)
{
    int rc = h->ops->save(h->st, buf);
    if (rc) return DCQB_FAIL(err, rc, "%s: save failed (%s)", h->ops->name, dcqb_strerror(rc));
    return DCQB_OK;
}

int head_load(struct head *h, const void *buf, size_t n, struct dcqb_err *err)
{
    return prefixed(h, h->ops->load(h->st, buf, n, err), err);
}

const float *head_class_weights(const struct head *h)
{
    return h->ops->class_weights ? h->ops->class_weights(h->st) : NULL;
}

int head_set_weights(struct head *h, const float *W, int64_t C, int D, struct dcqb_err *err)
{
    if (!h->ops->set_weights) return unsupported(h, "set_weights", err);
    return prefixed(h, h->ops->set_weights(h->st, W, C, D, err), err);
}

int head_weight_grad(const struct head *h, float *dW, struct dcqb_err *err)
{
    if (!h->ops->weight_grad) return unsupported(h, "weight_grad", err);
    h->ops->weight_grad(h->st, dW);
    return DCQB_OK;
}

int head_set_classes(struct head *h, const int32_t *idx, int64_t K, struct dcqb_err *err)
{
    if (!h->ops->set_classes) return unsupported(h, "set_classes", err);
    return prefixed(h, h->ops->set_classes(h->st, idx, K, err), err);
}

int head_active_classes(const struct head *h, int32_t *idx, int64_t *K, struct dcqb_err *err)
{
    if (!h->ops->active_classes) return unsupported(h, "active_classes", err);
    h->ops->active_classes(h->st, idx, K);
    return DCQB_OK;
}

int head_set_queue(struct head *h, const float *Q, const int32_t *labels, int64_t L,
                   struct dcqb_err *err)
{
    if (!h->ops->set_queue) return unsupported(h, "set_queue", err);
    return prefixed(h, h->ops->set_queue(h->st, Q, labels, L, err), err);
}

int64_t head_queue_classes(const struct head *h)
{
    return h->ops->queue_classes ? h->ops->queue_classes(h->st) : -1;
}

int64_t head_logit_columns(const struct head *h)
{
    return h->ops->logit_columns ? h->ops->logit_columns(h->st) : -1;
}

void head_key_sources(struct head *h, const struct head_key_src *src, int n)
{
    if (h->ops->key_sources) h->ops->key_sources(h->st, src, n);
}

int head_queue_view(const struct head *h, struct head_queue_view *v, struct dcqb_err *err)
{
    memset(v, 0, sizeof *v);
    if (!h->ops->queue_view) return DCQB_OK; /* no queue: L = 0 */
    return prefixed(h, h->ops->queue_view(h->st, v), err);
}
