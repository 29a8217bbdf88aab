/* cmd_head.c - 'dcqbench head list|check': the registered heads with their keys, and one
 * forward + backward of a head on fixed inputs from .npy files, writing the loss and the
 * gradients so that any head can be checked against an independent implementation (numpy,
 * PyTorch, TensorFlow). Stochastic heads take their active classes from --classes or draw them
 * from --seed exactly as a training run with that seed would at its first step (the head
 * stream DCQB_STREAM_HEAD); the classes used are written back as classes.npy.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "cfg.h"
#include "cli.h"
#include "head.h"
#include "npy.h"

static const char *const bool_flags[] = {"help", NULL};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: dcqbench head list\n"
            "       dcqbench head check --head NAME --emb E.npy --labels y.npy --out DIR\n"
            "                 [--weights W.npy] [--keys K.npy --queue Q.npy --queue-labels QL.npy]\n"
            "                 [--classes IDX.npy] [--class-counts N.npy] [--num-classes C]\n"
            "                 [--seed S] [--ratio R] [head keys as --key value]\n\n"
            "  One forward + backward of head NAME on fixed inputs. Writes DIR/loss.txt (mean\n"
            "  loss over the B rows, %%.9g), DIR/d_emb.npy (B,D) and, for heads with class\n"
            "  weights, DIR/d_weights.npy (C,D): d loss / d W through the 1/|w| normalisation,\n"
            "  zero rows for classes the step did not touch; DIR/classes.npy: the active classes\n"
            "  (random: the subset; sampled: the S sampled classes) when the head has them.\n"
            "  --emb E.npy         (B,D) float32/64 embeddings, used as given (the heads expect\n"
            "                      unit rows; a warning names rows that are not)\n"
            "  --labels y.npy      (B,) int32/64 class labels in [0, C)\n"
            "  --weights W.npy     (C,D) class weights (default: the head's seeded init)\n"
            "  --keys K.npy        (B,D) dcq keys (required for dcq)\n"
            "  --queue Q.npy, --queue-labels QL.npy   dcq queue (L,D) and its labels (L,),\n"
            "                      -1 = empty slot; sets queue_len = L unless given\n"
            "  --classes IDX.npy   (K,) fixed active classes (random: must contain every label;\n"
            "                      sampled: the shared sampled set, tries T = K so Q = K P);\n"
            "                      sets ratio so the head holds K unless --ratio is given\n"
            "  --class-counts N.npy (C,) images per class (sampled: log_uniform, frequency)\n"
            "  --num-classes C     default: rows of --weights, else length of --class-counts,\n"
            "                      else 1 + the largest label\n"
            "  --seed S            master seed (default 1): W init and class draws as in\n"
            "                      'dcqbench train --seed S'\n"
            "  --ratio R           the head's ratio (default 0.1)\n"
            "  Head keys (margin, s, m, pfc_mode, sampler, subtract_log_q, queue_len, ...):\n"
            "  'dcqbench head list'.\n");
}

static const char *param_cb(void *ctx, const char *key)
{
    struct cfg *c = ctx;
    if (!cfg_has(c, key)) return NULL;
    return cfg_find(c, key)->val;
}

static int list_heads(void)
{
    for (const struct head_ops *const *h = head_list(); *h; h++) {
        printf("%s\n  %s\n  keys:", (*h)->name, (*h)->help ? (*h)->help : "");
        for (const char *const *k = (*h)->keys; k && *k; k++) printf(" %s", *k);
        printf("\n  check: weights %s, classes %s, queue %s\n\n",
               (*h)->set_weights ? "yes" : "no", (*h)->set_classes ? "yes" : "no",
               (*h)->set_queue ? "yes" : "no");
    }
    return 0;
}

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

static int write_out(const char *dir, const char *name, const float *x, int64_t r, int64_t k,
                     struct dcqb_err *err)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return npy_write_f32(path, x, r, k, err);
}

static int check(struct cfg *c, struct dcqb_err *err)
{
    struct inputs in = {0};
    void *st = NULL;
    const struct head_ops *h = NULL;
    float *demb = NULL, *dW = NULL;
    int32_t *act = NULL;
    int rc;
    const char *hname, *out;
    long long seed, nclass;
    int64_t r, k, n;
    if ((rc = cfg_get_str(c, "head", NULL, &hname, err))) goto done;
    if ((rc = cfg_get_str(c, "out", NULL, &out, err))) goto done;
    if (!hname || !out) {
        rc = DCQB_FAIL(err, DCQB_EINVAL, "--head and --out are required (see --help)");
        goto done;
    }
    if (!(h = head_find(hname))) {
        rc = DCQB_FAIL(err, DCQB_EINVAL, "unknown head '%s' (dcqbench head list)", hname);
        goto done;
    }
    /* ---- inputs and their shapes */
    if (!cfg_has(c, "emb") || !cfg_has(c, "labels")) {
        rc = DCQB_FAIL(err, DCQB_EINVAL, "--emb and --labels are required");
        goto done;
    }
    if ((rc = read_f32(c, "emb", &in.emb, &in.B, &in.D, err))) goto done;
    if ((rc = read_i32(c, "labels", &in.y, &n, err))) goto done;
    if (n != in.B) {
        rc = DCQB_FAIL(err, DCQB_EINVAL, "--labels has %lld entries, --emb has %lld rows",
                       (long long)n, (long long)in.B);
        goto done;
    }
    if (in.B < 1 || in.B > (1 << 20) || in.D < 1 || in.D > (1 << 16)) {
        rc = DCQB_FAIL(err, DCQB_EINVAL, "--emb shape (%lld, %lld) out of range",
                       (long long)in.B, (long long)in.D);
        goto done;
    }
    if ((rc = read_f32(c, "weights", &in.W, &in.nW, &k, err))) goto done;
    if (in.W && k != in.D) {
        rc = DCQB_FAIL(err, DCQB_EINVAL, "--weights has %lld columns, --emb has D = %lld",
                       (long long)k, (long long)in.D);
        goto done;
    }
    if ((rc = read_i32(c, "class_counts", &in.counts, &in.nc, err))) goto done;
    if ((rc = read_f32(c, "keys", &in.keys, &r, &k, err))) goto done;
    if (in.keys && (r != in.B || k != in.D)) {
        rc = DCQB_FAIL(err, DCQB_EINVAL, "--keys is (%lld, %lld), --emb is (%lld, %lld)",
                       (long long)r, (long long)k, (long long)in.B, (long long)in.D);
        goto done;
    }
    if ((rc = read_f32(c, "queue", &in.Q, &in.L, &k, err))) goto done;
    if (in.Q && k != in.D) {
        rc = DCQB_FAIL(err, DCQB_EINVAL, "--queue has %lld columns, --emb has D = %lld",
                       (long long)k, (long long)in.D);
        goto done;
    }
    if ((rc = read_i32(c, "queue_labels", &in.qlab, &n, err))) goto done;
    if (!in.Q != !in.qlab || (in.Q && n != in.L)) {
        rc = DCQB_FAIL(err, DCQB_EINVAL, "--queue and --queue-labels go together, with one label "
                                         "per queue row");
        goto done;
    }
    if ((rc = read_i32(c, "classes", &in.cls, &in.K, err))) goto done;
    int32_t ymax = 0;
    for (int64_t i = 0; i < in.B; i++) ymax = in.y[i] > ymax ? in.y[i] : ymax;
    int64_t cdef = in.W ? in.nW : (in.counts ? in.nc : (int64_t)ymax + 1);
    if ((rc = cfg_get_int(c, "num_classes", cdef, 1, INT32_MAX / 2, &nclass, err))) goto done;
    in.C = nclass;
    if (in.W && in.nW != in.C) {
        rc = DCQB_FAIL(err, DCQB_EINVAL, "--weights has %lld rows, --num-classes is %lld",
                       (long long)in.nW, (long long)in.C);
        goto done;
    }
    if (in.counts && in.nc != in.C) {
        rc = DCQB_FAIL(err, DCQB_EINVAL, "--class-counts has %lld entries for C = %lld classes",
                       (long long)in.nc, (long long)in.C);
        goto done;
    }
    for (int64_t i = 0; i < in.B; i++)
        if (in.y[i] < 0 || in.y[i] >= in.C) {
            rc = DCQB_FAIL(err, DCQB_EINVAL, "label %d of row %lld outside [0, %lld)",
                           (int)in.y[i], (long long)i, (long long)in.C);
            goto done;
        }
    for (int64_t i = 0; i < in.B * in.D; i++)
        if (!isfinite(in.emb[i])) {
            rc = DCQB_FAIL(err, DCQB_EINVAL, "--emb has a non-finite value in row %lld",
                           (long long)(i / in.D));
            goto done;
        }
    for (int64_t i = 0; i < in.B; i++) {
        double ss = 0;
        for (int64_t d = 0; d < in.D; d++) ss += (double)in.emb[i * in.D + d] * in.emb[i * in.D + d];
        if (fabs(sqrt(ss) - 1.0) > 1e-3) {
            fprintf(stderr, "dcqbench head check: warning: --emb row %lld has norm %.4g, not 1 "
                            "(used as given)\n", (long long)i, sqrt(ss));
            break;
        }
    }
    /* ---- head config: like 'dcqbench train' (same seed streams) */
    if ((rc = cfg_get_int(c, "seed", 1, 0, INT64_MAX, &seed, err))) goto done;
    double ratio, init_std;
    double rdef = in.cls ? fmin(1.0, ((double)in.K + 0.5) / (double)in.C) : 0.1;
    if ((rc = cfg_get_double(c, "ratio", rdef, 1e-9, 1.0, &ratio, err))) goto done;
    if ((rc = cfg_get_double(c, "init_std", 0.01, 0, 10, &init_std, err))) goto done;
    if (in.Q && !cfg_has(c, "queue_len")) {
        char v[32];
        snprintf(v, sizeof v, "%lld", (long long)in.L);
        if ((rc = cfg_set(c, "queue_len", v, "--queue rows", 0, err))) goto done;
    }
    struct head_cfg hc = {0};
    hc.C = in.C;
    hc.D = (int)in.D;
    hc.max_batch = (int)in.B;
    hc.ratio = ratio;
    hc.init_std = (float)init_std;
    hc.optim.momentum = 0.9f;
    hc.optim.weight_decay = 5e-4f;
    hc.seed = dcqb_stream_seed((uint64_t)seed, DCQB_STREAM_HEAD);
    hc.class_counts = in.counts;
    hc.param = param_cb;
    hc.param_ctx = c;
    struct head_req req = {0};
    req.kshot = 1;
    if (!(st = calloc(1, h->state_size ? h->state_size : 1))) {
        rc = DCQB_FAIL(err, DCQB_ENOMEM, "out of memory for the head state");
        goto done;
    }
    if ((rc = h->init(st, &hc, &req, err))) goto done;
    if ((rc = cfg_check_unused(c, err))) goto done;
    /* ---- fixed inputs into the head */
    if (in.W) {
        if (!h->set_weights) {
            rc = DCQB_FAIL(err, DCQB_EINVAL, "head '%s' has no class weights (--weights)", hname);
            goto done;
        }
        if ((rc = h->set_weights(st, in.W, in.C, (int)in.D, err))) goto done;
    }
    if (in.Q) {
        if (!h->set_queue) {
            rc = DCQB_FAIL(err, DCQB_EINVAL, "head '%s' has no queue (--queue)", hname);
            goto done;
        }
        if ((rc = h->set_queue(st, in.Q, in.qlab, in.L, err))) goto done;
    }
    if (in.cls) {
        if (!h->set_classes) {
            rc = DCQB_FAIL(err, DCQB_EINVAL, "head '%s' has no class subset (--classes)", hname);
            goto done;
        }
        if ((rc = h->set_classes(st, in.cls, in.K, err))) goto done;
    }
    if (req.pairs && !in.keys) {
        rc = DCQB_FAIL(err, DCQB_EINVAL, "head '%s' needs --keys (B,D)", hname);
        goto done;
    }
    if (!req.pairs && in.keys) {
        rc = DCQB_FAIL(err, DCQB_EINVAL, "head '%s' does not use keys (--keys)", hname);
        goto done;
    }
    /* ---- one forward + backward */
    demb = calloc((size_t)(in.B * in.D), sizeof *demb);
    if (!demb) {
        rc = DCQB_FAIL(err, DCQB_ENOMEM, "out of memory for d_emb");
        goto done;
    }
    float loss = 0;
    if ((rc = h->forward_backward(st, &loss, demb, in.emb, in.keys, in.y, (int)in.B, err)))
        goto done;
    if (mkdir(out, 0777) != 0 && errno != EEXIST) {
        rc = DCQB_FAIL(err, DCQB_EIO, "cannot create %s: %s", out, strerror(errno));
        goto done;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/loss.txt", out);
    FILE *f = fopen(path, "w");
    if (!f || fprintf(f, "%.9g\n", (double)loss) < 0 || fclose(f) != 0) {
        rc = DCQB_FAIL(err, DCQB_EIO, "cannot write %s", path);
        goto done;
    }
    if ((rc = write_out(out, "d_emb.npy", demb, in.B, in.D, err))) goto done;
    if (h->weight_grad) {
        if (!(dW = malloc(sizeof(float) * (size_t)(in.C * in.D)))) {
            rc = DCQB_FAIL(err, DCQB_ENOMEM, "out of memory for d_weights (C = %lld)",
                           (long long)in.C);
            goto done;
        }
        h->weight_grad(st, dW);
        if ((rc = write_out(out, "d_weights.npy", dW, in.C, in.D, err))) goto done;
    }
    if (h->active_classes) {
        int64_t K = 0;
        h->active_classes(st, NULL, &K);
        if (!(act = malloc(sizeof(int32_t) * (size_t)(K > 0 ? K : 1)))) {
            rc = DCQB_FAIL(err, DCQB_ENOMEM, "out of memory for classes");
            goto done;
        }
        h->active_classes(st, act, &K);
        snprintf(path, sizeof path, "%s/classes.npy", out);
        if ((rc = npy_write_i32(path, act, K, err))) goto done;
    }
    printf("%s: loss %.9g, B = %lld, D = %lld, C = %lld -> %s/\n", hname, (double)loss,
           (long long)in.B, (long long)in.D, (long long)in.C, out);
done:
    if (h && st) h->free(st);
    free(st);
    free(demb);
    free(dW);
    free(act);
    inputs_free(&in);
    return rc;
}

int cmd_head(int argc, char **argv)
{
    const char *sub = argc > 0 && strncmp(argv[0], "-", 1) != 0 ? argv[0] : NULL;
    if (cli_wants_help(argc, argv) || !sub) {
        usage(sub || cli_wants_help(argc, argv) ? stdout : stderr);
        return sub || cli_wants_help(argc, argv) ? 0 : 2;
    }
    if (strcmp(sub, "list") == 0) return list_heads();
    if (strcmp(sub, "check") != 0) {
        fprintf(stderr, "dcqbench head: unknown subcommand '%s' (list, check)\n", sub);
        return 2;
    }
    struct cfg c = {0};
    struct dcqb_err err = {0};
    int rc = cfg_parse_args(&c, argc - 1, argv + 1, bool_flags, &err);
    if (!rc && c.n_pos > 0)
        rc = DCQB_FAIL(&err, DCQB_EINVAL, "unexpected argument '%s'", c.pos[0]);
    if (!rc) rc = check(&c, &err);
    cfg_free(&c);
    if (rc) return cli_error("head check", &err);
    return 0;
}
