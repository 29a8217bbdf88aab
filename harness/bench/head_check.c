/* head_check.c - `dcqbench head check` as a library function (head_check.h). Inputs are read
 * and validated first, then the head is opened exactly as `dcqbench train --seed S` opens it
 * (same head_cfg defaults, same head seed stream), given the fixed inputs through the handle's
 * optional methods, stepped forward and backward once, and its outputs are written.
 */
#include "head_check.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "head.h"
#include "npy.h"

struct inputs {
    float *emb, *W, *keys, *Q;
    int32_t *y, *cls, *qlab, *counts;
    int64_t B, D, C, K, L, nW, nc;
};

static void inputs_free(struct inputs *in)
{
    free(in->emb), free(in->W), free(in->keys), free(in->Q);
    free(in->y), free(in->cls), free(in->qlab), free(in->counts);
}

static int read_f32(struct cfg *c, const char *key, float **x, int64_t *r, int64_t *k,
                    struct dcqb_err *err)
{
    const char *path;
    int rc = cfg_get_str(c, key, NULL, &path, err);
    if (rc || !path) return rc;
    return npy_read_f32(x, r, k, path, err);
}

static int read_i32(struct cfg *c, const char *key, int32_t **x, int64_t *n,
                    struct dcqb_err *err)
{
    const char *path;
    int rc = cfg_get_str(c, key, NULL, &path, err);
    if (rc || !path) return rc;
    return npy_read_i32(x, n, path, err);
}

static int write_f32(const char *dir, const char *name, const float *x, int64_t r, int64_t k,
                     struct dcqb_err *err)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return npy_write_f32(path, x, r, k, err);
}

/* Put "<flag>: " before the message of a failed call, so the user sees which input it was. */
static int flagged(int rc, const char *flag, struct dcqb_err *err)
{
    if (rc && err) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        DCQB_FAIL(err, rc, "%s: %.200s", flag, msg);
    }
    return rc;
}

/* The arrays and their shapes; everything but the head's own constraints is checked here. */
static int read_arrays(struct inputs *in, struct cfg *c, struct dcqb_err *err)
{
    int64_t r, k, n;
    int rc;
    if (!cfg_has(c, "emb") || !cfg_has(c, "labels"))
        return DCQB_FAIL(err, DCQB_EINVAL, "--emb and --labels are required");
    if ((rc = read_f32(c, "emb", &in->emb, &in->B, &in->D, err))) return rc;
    if ((rc = read_i32(c, "labels", &in->y, &n, err))) return rc;
    if (n != in->B)
        return DCQB_FAIL(err, DCQB_EINVAL, "--labels has %lld entries, --emb has %lld rows",
                         (long long)n, (long long)in->B);
    if (in->B < 1 || in->B > (1 << 20) || in->D < 1 || in->D > (1 << 16))
        return DCQB_FAIL(err, DCQB_EINVAL, "--emb shape (%lld, %lld) out of range",
                         (long long)in->B, (long long)in->D);
    if ((rc = read_f32(c, "weights", &in->W, &in->nW, &k, err))) return rc;
    if (in->W && k != in->D)
        return DCQB_FAIL(err, DCQB_EINVAL, "--weights has %lld columns, --emb has D = %lld",
                         (long long)k, (long long)in->D);
    if ((rc = read_i32(c, "class_counts", &in->counts, &in->nc, err))) return rc;
    if ((rc = read_f32(c, "keys", &in->keys, &r, &k, err))) return rc;
    if (in->keys && (r != in->B || k != in->D))
        return DCQB_FAIL(err, DCQB_EINVAL, "--keys is (%lld, %lld), --emb is (%lld, %lld)",
                         (long long)r, (long long)k, (long long)in->B, (long long)in->D);
    if ((rc = read_f32(c, "queue", &in->Q, &in->L, &k, err))) return rc;
    if (in->Q && k != in->D)
        return DCQB_FAIL(err, DCQB_EINVAL, "--queue has %lld columns, --emb has D = %lld",
                         (long long)k, (long long)in->D);
    if ((rc = read_i32(c, "queue_labels", &in->qlab, &n, err))) return rc;
    if (!in->Q != !in->qlab || (in->Q && n != in->L))
        return DCQB_FAIL(err, DCQB_EINVAL, "--queue and --queue-labels go together, with one "
                                           "label per queue row");
    return read_i32(c, "classes", &in->cls, &in->K, err);
}

/* C from --num-classes or the inputs; labels in range; finite embeddings; unit rows noted. */
static int check_values(struct inputs *in, struct head_check_result *res, struct cfg *c,
                        struct dcqb_err *err)
{
    long long nclass;
    int32_t ymax = 0;
    int rc;
    for (int64_t i = 0; i < in->B; i++) ymax = in->y[i] > ymax ? in->y[i] : ymax;
    int64_t cdef = in->W ? in->nW : (in->counts ? in->nc : (int64_t)ymax + 1);
    if ((rc = cfg_get_int(c, "num_classes", cdef, 1, INT32_MAX / 2, &nclass, err))) return rc;
    in->C = nclass;
    if (in->W && in->nW != in->C)
        return DCQB_FAIL(err, DCQB_EINVAL, "--weights has %lld rows, --num-classes is %lld",
                         (long long)in->nW, (long long)in->C);
    if (in->counts && in->nc != in->C)
        return DCQB_FAIL(err, DCQB_EINVAL, "--class-counts has %lld entries for C = %lld "
                         "classes", (long long)in->nc, (long long)in->C);
    for (int64_t i = 0; i < in->B; i++)
        if (in->y[i] < 0 || in->y[i] >= in->C)
            return DCQB_FAIL(err, DCQB_EINVAL, "label %d of row %lld outside [0, %lld)",
                             (int)in->y[i], (long long)i, (long long)in->C);
    for (int64_t i = 0; i < in->B * in->D; i++)
        if (!isfinite(in->emb[i]))
            return DCQB_FAIL(err, DCQB_EINVAL, "--emb has a non-finite value in row %lld",
                             (long long)(i / in->D));
    for (int64_t i = 0; i < in->B && res->nonunit_row < 0; i++) {
        double ss = 0;
        for (int64_t d = 0; d < in->D; d++)
            ss += (double)in->emb[i * in->D + d] * in->emb[i * in->D + d];
        if (fabs(sqrt(ss) - 1.0) > 1e-3) res->nonunit_row = i, res->nonunit_norm = sqrt(ss);
    }
    return DCQB_OK;
}

static const char *param_cb(void *ctx, const char *key)
{
    struct cfg *c = ctx;
    if (!cfg_has(c, key)) return NULL;
    return cfg_find(c, key)->val;
}

/* The head as `dcqbench train --seed S` would open it; --classes sets the ratio so the head
 * holds K classes, --queue sets queue_len = L, unless given. */
static int open_head(struct head *h, const struct inputs *in, struct cfg *c,
                     struct dcqb_err *err)
{
    struct head_cfg hc;
    head_cfg_defaults(&hc);
    const char *hname;
    long long seed;
    double ratio, init_std;
    int rc;
    if ((rc = cfg_get_str(c, "head", NULL, &hname, err))) return rc;
    if ((rc = cfg_get_int(c, "seed", 1, 0, INT64_MAX, &seed, err))) return rc;
    double rdef = in->cls ? fmin(1.0, ((double)in->K + 0.5) / (double)in->C) : hc.ratio;
    if ((rc = cfg_get_double(c, "ratio", rdef, 1e-9, 1.0, &ratio, err))) return rc;
    if ((rc = cfg_get_double(c, "init_std", hc.init_std, 0, 10, &init_std, err))) return rc;
    if (in->Q && !cfg_has(c, "queue_len")) {
        char v[32];
        snprintf(v, sizeof v, "%lld", (long long)in->L);
        if ((rc = cfg_set(c, "queue_len", v, "--queue rows", 0, err))) return rc;
    }
    hc.C = in->C;
    hc.D = (int)in->D;
    hc.max_batch = (int)in->B;
    hc.ratio = ratio;
    hc.init_std = (float)init_std;
    hc.seed = dcqb_stream_seed((uint64_t)seed, DCQB_STREAM_HEAD);
    hc.class_counts = in->counts;
    hc.param = param_cb;
    hc.param_ctx = c;
    if ((rc = head_open(h, hname, &hc, err))) return rc;
    if ((rc = cfg_check_unused(c, err))) return rc;
    if (in->W && (rc = flagged(head_set_weights(h, in->W, in->C, (int)in->D, err), "--weights",
                               err)))
        return rc;
    if (in->Q && (rc = flagged(head_set_queue(h, in->Q, in->qlab, in->L, err), "--queue", err)))
        return rc;
    if (in->cls && (rc = flagged(head_set_classes(h, in->cls, in->K, err), "--classes", err)))
        return rc;
    if (h->req.pairs && !in->keys)
        return DCQB_FAIL(err, DCQB_EINVAL, "head '%s' needs --keys (B,D)", hname);
    if (!h->req.pairs && in->keys)
        return DCQB_FAIL(err, DCQB_EINVAL, "head '%s' does not use keys (--keys)", hname);
    return DCQB_OK;
}

/* loss.txt, d_emb.npy, and d_weights.npy / classes.npy where the head has them. */
static int write_outputs(const char *out, struct head *h, const struct inputs *in, float loss,
                         const float *demb, struct dcqb_err *err)
{
    char path[1024];
    int rc;
    if (mkdir(out, 0777) != 0 && errno != EEXIST)
        return DCQB_FAIL(err, DCQB_EIO, "cannot create %s: %s", out, strerror(errno));
    snprintf(path, sizeof path, "%s/loss.txt", out);
    FILE *f = fopen(path, "w");
    int bad = !f || fprintf(f, "%.9g\n", (double)loss) < 0;
    if (f && fclose(f) != 0) bad = 1;
    if (bad) return DCQB_FAIL(err, DCQB_EIO, "cannot write %s", path);
    if ((rc = write_f32(out, "d_emb.npy", demb, in->B, in->D, err))) return rc;
    if (head_class_weights(h)) { /* the heads with weights have their gradient */
        float *dW = malloc(sizeof(float) * (size_t)(in->C * in->D));
        if (!dW)
            return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory for d_weights (C = %lld)",
                             (long long)in->C);
        rc = head_weight_grad(h, dW, err);
        if (!rc) rc = write_f32(out, "d_weights.npy", dW, in->C, in->D, err);
        free(dW);
        if (rc) return rc;
    }
    int64_t K = 0;
    if (head_active_classes(h, NULL, &K, NULL) == DCQB_OK) {
        int32_t *act = malloc(sizeof(int32_t) * (size_t)(K > 0 ? K : 1));
        if (!act) return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory for classes");
        rc = head_active_classes(h, act, &K, err);
        snprintf(path, sizeof path, "%s/classes.npy", out);
        if (!rc) rc = npy_write_i32(path, act, K, err);
        free(act);
    }
    return rc;
}

int head_check(struct head_check_result *res, struct cfg *c, struct dcqb_err *err)
{
    struct inputs in = {0};
    struct head h = {0};
    float *demb = NULL;
    const char *hname, *out;
    int rc;
    memset(res, 0, sizeof *res);
    res->nonunit_row = -1;
    if ((rc = cfg_get_str(c, "head", NULL, &hname, err))) goto done;
    if ((rc = cfg_get_str(c, "out", NULL, &out, err))) goto done;
    if (!hname || !out) {
        rc = DCQB_FAIL(err, DCQB_EINVAL, "--head and --out are required (see --help)");
        goto done;
    }
    if (!head_find(hname)) { /* before reading any file */
        rc = head_open(&h, hname, NULL, err);
        goto done;
    }
    if ((rc = read_arrays(&in, c, err))) goto done;
    if ((rc = check_values(&in, res, c, err))) goto done;
    if ((rc = open_head(&h, &in, c, err))) goto done;
    if (!(demb = calloc((size_t)(in.B * in.D), sizeof *demb))) {
        rc = DCQB_FAIL(err, DCQB_ENOMEM, "out of memory for d_emb");
        goto done;
    }
    if ((rc = head_forward_backward(&h, &res->loss, demb, in.emb, in.keys, in.y, (int)in.B,
                                    err)))
        goto done;
    rc = write_outputs(out, &h, &in, res->loss, demb, err);
    res->B = in.B, res->D = in.D, res->C = in.C;
done:
    head_close(&h);
    free(demb);
    inputs_free(&in);
    return rc;
}
