/* head.h - the classifier-head interface every head implements, and the registry.
 *
 * A head is one static const `struct head_ops` (GSL rng-type style descriptor) in
 * algorithms/heads/<name>.c plus one line in head.c's registry. The training loop, data and
 * evaluation never name a particular head: they talk to this interface only.
 *
 * Per step the loop calls, in order:
 *   forward_backward(emb, key, labels)  emb: (B,D) unit rows from the online backbone;
 *                                       key: (B,D) unit rows from the EMA backbone on a second
 *                                       image of the same identity (only when the head asks,
 *                                       req.pairs), else NULL. Writes the loss, ACCUMULATES
 *                                       d loss / d emb into demb (B,D).
 *   key_sources(src, B*kshot)           (optional, heads with pairs) where the keys came from.
 *   step(lr, t)                         the head's own optimiser step / queue update, after the
 *                                       backbone update.
 * Dims: B batch, D embedding, C classes, K active classes this step.
 *
 * Callers outside the heads use the handle (struct head, head_open ... head_close, below): it
 * owns the state's allocation, the ABI check, the "<head>: " prefix of every message and the
 * "does not support" answer for the optional methods (docs/ARCHITECTURE.md §7).
 *
 * ratio and queue_len, one relation for every head: ratio is in (0, 1] (head_cfg_ratio checks
 * it, head_cfg_defaults sets 0.1); random and sampled use K = int(ratio*C) classes per step; dcq
 * keeps a queue of L = queue_len keys when that key is given, else L = round(ratio*C) (at least 1).
 */
#ifndef DCQB_HEAD_H
#define DCQB_HEAD_H

#include "dcqb.h"
#include "margin.h"
#include "optim.h"

struct pool;

#define HEAD_ABI_VERSION 2 /* 2: the loop instruments (logit_columns, key_sources, queue_view) */

/* Everything a head may be configured with. Common knobs are fields; head-specific keys are
 * read through `param`, so a new head with new knobs needs no harness change. */
struct head_cfg {
    int64_t C;                 /* number of classes */
    int D;                     /* embedding dimension */
    int max_batch;             /* B upper bound: allocate per-step buffers for this */
    double ratio;              /* partial heads: fraction of classes per step / queue, (0, 1] */
    float init_std;            /* class-weight init N(0, init_std^2) (0.01) */
    struct optim_cfg optim;    /* the head's own SGD (momentum, weight decay) */
    uint64_t seed;             /* head stream (DCQB_STREAM_HEAD): init and sampling */
    const int32_t *class_counts; /* (C) training images per class, or NULL */
    /* Head-specific keys: returns the value string of `key` (marking it used) or NULL. */
    const char *(*param)(void *ctx, const char *key);
    /* Optional: told each default a head_param_* helper used (for the resolved config). */
    void (*note_default)(void *ctx, const char *key, const char *val);
    void *param_ctx;
    int threads;               /* threads a head may use for its own passes (pool.h); 0 or 1:
                                * the caller's thread only. Results are reproducible for a
                                * given count (demb's block sums are joined in thread order). */
    struct pool *pool;         /* borrowed, may be NULL: a team of `threads` threads the head
                                * uses instead of starting its own (the training loop lends its
                                * team, docs/ARCHITECTURE.md §9). Must outlive the head. */
};

/* What a head asks of the loop, filled by init. */
struct head_req {
    int pairs;          /* needs a key image of the same identity per sample (DCQ) */
    int ema;            /* loop keeps an EMA copy of the backbone (the weight generator);
                         * its momentum is the loop key `mu` (train_keys.c), any head's */
    int ema_bn;         /* EMA the BN running stats too */
    int kshot;          /* key = normalised mean of kshot reference embeddings */
    int eval_ema;       /* evaluate with the EMA network (DCQ's default, docs/METHOD.md §3.4) */
};

/* Where a key came from: one reference image the EMA network embedded (a key of kshot
 * references has kshot of these, all of one identity). */
struct head_key_src {
    int32_t cls;  /* identity (the sample's label) */
    int32_t img;  /* image index within the identity */
    int32_t flip; /* 0 or 1 */
};

/* Read-only view of a queue head's slots (queue_view below). Pointers into the head's state,
 * valid until its next step. */
struct head_queue_view {
    int64_t L;                      /* slots */
    int D, kshot;                   /* key width; references per key */
    const float *keys;              /* (L,D) unit rows */
    const int32_t *labels;          /* (L) -1 = never written */
    const int64_t *step;            /* (L) step that enqueued the slot, -1 = no source known
                                     * (the initial random rows, or rows set by set_queue) */
    const struct head_key_src *src; /* (L*kshot) the references of slot j at j*kshot.. */
};

/* Cost figures of one step with batch B (for the summary and the benchmark). */
struct head_cost {
    double per_class_bytes;  /* bytes that grow with C: weights + optimiser state */
    double fixed_bytes;      /* bytes independent of C: queue, per-step buffers */
    double flops;            /* FLOPs of forward + backward + update of the head */
    int64_t active_classes;  /* K: columns of the logit matrix */
};

struct head_ops {
    const char *name;
    int abi_version;    /* HEAD_ABI_VERSION */
    size_t state_size;  /* the loop callocs this; the head casts `void *st` */
    const char *help;   /* one paragraph: what it is, its keys and defaults */
    const char *const *keys; /* NULL-terminated head-specific keys it reads via param */

    int (*init)(void *st, const struct head_cfg *cfg, struct head_req *req,
                struct dcqb_err *err);
    int (*forward_backward)(void *st, float *loss, float *demb, const float *emb,
                            const float *key, const int32_t *labels, int B,
                            struct dcqb_err *err);
    int (*step)(void *st, float lr, int64_t t, struct dcqb_err *err);
    void (*free)(void *st); /* safe on a zeroed state */
    void (*cost)(const void *st, int B, struct head_cost *out);
    uint32_t (*digest)(const void *st);
    /* checkpoint: all mutable state (weights, momentum, queue, pointer, RNG) as bytes */
    size_t (*state_bytes)(const void *st);
    int (*save)(const void *st, void *buf);
    int (*load)(void *st, const void *buf, size_t n, struct dcqb_err *err);

    /* optional, NULL = not available */
    const float *(*class_weights)(const void *st); /* (C,D) learned weights, tail diagnostics */

    /* Optional cross-check hooks (`dcqbench head check`, tests); NULL = unsupported.
     * set_weights: W (C,D) replaces the class weights (momentum untouched); C, D must match.
     * weight_grad: dW (C,D) <- d loss / d W of the last forward_backward, dense, zero rows for
     *   classes it did not touch (through the 1/|w| normalisation, before decay/momentum).
     * set_classes: fix the active classes of the NEXT forward_backward instead of drawing them
     *   (random: the whole subset, must contain the batch labels; sampled: the S shared sampled
     *   classes, tries T = S). Consumes no random numbers. Unique, in [0, C).
     * active_classes: the class of each logit column of the last forward_backward (random:
     *   the subset; sampled: the S sampled classes). idx may be NULL; *K gets the count.
     * set_queue: Q (L,D) unit rows and labels (L) (-1 = empty) replace the queue; write pointer
     *   0. L must equal the head's queue length.
     * queue_classes: number of distinct labels >= 0 currently in the queue. */
    int (*set_weights)(void *st, const float *W, int64_t C, int D, struct dcqb_err *err);
    void (*weight_grad)(const void *st, float *dW);
    int (*set_classes)(void *st, const int32_t *idx, int64_t K, struct dcqb_err *err);
    void (*active_classes)(const void *st, int32_t *idx, int64_t *K);
    int (*set_queue)(void *st, const float *Q, const int32_t *labels, int64_t L,
                     struct dcqb_err *err);
    int64_t (*queue_classes)(const void *st);

    /* Optional loop instruments (docs/METHOD.md §2, records); NULL = unsupported.
     * logit_columns: columns of the last forward_backward's logit matrix, positives included
     *   (full C; random its subset; sampled S + true classes not sampled; dcq 1 + L).
     * key_sources: the references behind this step's keys, n = B*kshot rows in key order,
     *   given after forward_backward and before step; step() stores them with the keys.
     * queue_view: the queue's keys, labels and the source and step of every slot. */
    int64_t (*logit_columns)(const void *st);
    void (*key_sources)(void *st, const struct head_key_src *src, int n);
    int (*queue_view)(const void *st, struct head_queue_view *v);
};

/* Handle over one head instance. A zeroed struct is a closed handle. */
struct head {
    const struct head_ops *ops;
    void *st;                        /* the head's state, calloc'd by head_open */
    struct head_req req;             /* what the head asks of the loop, filled by init */
};

/* Every shared default once: ratio 0.1, init_std 0.01, optim {momentum 0.9, weight_decay 5e-4},
 * seed 1, threads 1, max_batch 256; C, D and class_counts left 0/NULL for the caller. */
void head_cfg_defaults(struct head_cfg *cfg);
/* Find `name` in the registry (unknown: DCQB_EINVAL naming it and listing the heads), check its
 * abi_version, calloc state_size, run init; on any failure free what was made, leave *h zeroed. */
int  head_open(struct head *h, const char *name, const struct head_cfg *cfg, struct dcqb_err *err);
void head_close(struct head *h);     /* NULL or zeroed: no-op; leaves *h zeroed */
const char *head_name(const struct head *h);
/* Thin wrappers: messages come out as "<head>: <what the head said>". */
int  head_forward_backward(struct head *h, float *loss, float *demb, const float *emb,
                           const float *key, const int32_t *labels, int B, struct dcqb_err *err);
int  head_step(struct head *h, float lr, int64_t t, struct dcqb_err *err);
void head_cost(const struct head *h, int B, struct head_cost *out);
uint32_t head_digest(const struct head *h);
size_t head_state_bytes(const struct head *h);
int  head_save(const struct head *h, void *buf, struct dcqb_err *err);
int  head_load(struct head *h, const void *buf, size_t n, struct dcqb_err *err);
/* Optional methods: DCQB_EINVAL "<head>: does not support <what>" when the head lacks them. */
const float *head_class_weights(const struct head *h);   /* NULL when unsupported */
int  head_set_weights(struct head *h, const float *W, int64_t C, int D, struct dcqb_err *err);
int  head_weight_grad(const struct head *h, float *dW, struct dcqb_err *err);
int  head_set_classes(struct head *h, const int32_t *idx, int64_t K, struct dcqb_err *err);
int  head_active_classes(const struct head *h, int32_t *idx, int64_t *K, struct dcqb_err *err);
int  head_set_queue(struct head *h, const float *Q, const int32_t *labels, int64_t L,
                    struct dcqb_err *err);
int64_t head_queue_classes(const struct head *h);         /* -1 when unsupported */
int64_t head_logit_columns(const struct head *h);         /* -1 when unsupported */
void head_key_sources(struct head *h, const struct head_key_src *src, int n); /* no-op if so */
/* A head without a queue answers v->L = 0 (not an error). */
int  head_queue_view(const struct head *h, struct head_queue_view *v, struct dcqb_err *err);

/* For head init: cfg->ratio checked against the one range every head shares, (0, 1]. */
int head_cfg_ratio(const struct head_cfg *cfg, double *ratio, struct dcqb_err *err);
/* For heads with learned class weights: cfg->init_std checked (> 0, finite) into *std. */
int head_cfg_init_std(const struct head_cfg *cfg, double *std, struct dcqb_err *err);

const struct head_ops *head_find(const char *name);
/* NULL-terminated list of every registered head. */
const struct head_ops *const *head_list(void);

/* Helpers for head init: read a head-specific key through cfg->param with validation. */
int head_param_double(const struct head_cfg *cfg, const char *key, double def, double lo,
                      double hi, double *out, struct dcqb_err *err);
int head_param_int(const struct head_cfg *cfg, const char *key, long long def, long long lo,
                   long long hi, long long *out, struct dcqb_err *err);
int head_param_choice(const struct head_cfg *cfg, const char *key, const char *def,
                      const char *const *choices, int *out, struct dcqb_err *err);
/* Validate a fixed class list for set_classes: 1 <= K <= kmax, every index in [0, C), no
 * repeats (O(K^2): callers are tests and `head check`). */
int head_check_class_list(const int32_t *idx, int64_t K, int64_t kmax, int64_t C,
                          struct dcqb_err *err);

/* The checks every built-in head makes, one message each (a new head should use them too):
 * init: 1 <= C <= cmax, D >= 1, max_batch >= 1; forward_backward: 1 <= B <= max_batch and
 * every label in [0, C); the mean loss total / B, refused when not finite; load: at least
 * hdr_bytes, starting with this head's magic and version (both uint32). */
int head_check_sizes(const struct head_cfg *cfg, int64_t cmax, struct dcqb_err *err);
int head_check_batch(const int32_t *labels, int B, int max_batch, int64_t C,
                     struct dcqb_err *err);
int head_mean_loss(float *loss, double total, int B, struct dcqb_err *err);
int head_check_state(const void *buf, size_t n, size_t hdr_bytes, uint32_t magic,
                     uint32_t version, struct dcqb_err *err);

/* crc32 (zlib) of n bytes continued from crc (0 to start), fed in chunks: zlib takes uInt
 * lengths, and a head's tables pass 4 GB. For the heads' digests. */
uint32_t head_crc32(uint32_t crc, const void *p, size_t n);

/* For the wrappers and head_open: put "<name>: " in front of the message a head left in err
 * when rc != 0, truncating its end if it no longer fits. Returns rc. */
int head_err_prefix(const char *name, int rc, struct dcqb_err *err);

/* Read the shared margin keys through cfg->param: margin (cosface|arcface|combined|none), s, m
 * (m3 for cosface, m2 for arcface), m1, m2, m3 (combined), straight_through, easy_margin.
 * Absent keys take the head's defaults given here (each head has the reference defaults of
 * its own code base: full s=64 cosface m=0.4, dcq s=50 cosface m=0.3, ...). */
int head_margin_params(const struct head_cfg *cfg, struct margin_cfg *out, int def_type,
                       float def_s, float def_m, struct dcqb_err *err);

#endif
