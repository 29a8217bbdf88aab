/* backbone.h - the shared MLP embedding network every head trains (one backbone for all heads).
 *
 *   x (B,Din) -> [Linear -> BN -> PReLU (+ residual when widths match)] x depth
 *             -> Linear (hidden -> d) -> BN  = embedding (B,d)       (BN-FC-BN, as face nets end)
 *
 * Forward and backward by hand over OpenBLAS sgemm. All trainable parameters live in one arena
 * (`params`, gradients in `grads` with the same layout); BN running statistics in `running`.
 * So a head such as DCQ gets an exact copy with one memcpy and keeps it as an EMA
 * (backbone_ema). Activations for up to `max_batch` rows are preallocated at init: forward and
 * backward never allocate.
 */
#ifndef DCQB_BACKBONE_H
#define DCQB_BACKBONE_H

#include "dcqb.h"

struct pool;

struct backbone_cfg {
    int in_dim;       /* D of the input x (128) */
    int hidden;       /* width of the hidden blocks (512) */
    int depth;        /* number of Linear-BN-PReLU blocks (2) */
    int emb_dim;      /* d of the embedding (128; 512 must work) */
    int residual;     /* 1: add the block input when widths match */
    float bn_eps;     /* 1e-5 */
    float bn_momentum;/* running-stat update: r <- (1-m) r + m batch (0.1, PyTorch convention) */
    float prelu_init; /* 0.25 */
};

void backbone_cfg_defaults(struct backbone_cfg *cfg);

struct backbone {
    struct backbone_cfg cfg;
    int max_batch;
    size_t n_params;  /* trainable floats: weights, biases, BN gamma/beta, PReLU slopes */
    size_t n_running; /* BN running mean and var floats */
    float *params;    /* (n_params) arena */
    float *grads;     /* (n_params), same layout; accumulated by backward */
    float *running;   /* (n_running) */
    void *priv;       /* layer table and activation cache (one allocation) */
    /* Borrowed, may be NULL: the threads that split the train-mode passes by channel (set by
     * the owner after init; docs/ARCHITECTURE.md §9). NULL or one thread: each GEMM is one
     * OpenBLAS call, threaded as OpenBLAS is set. */
    struct pool *pool;
};

/* Allocate and initialise (Kaiming-uniform-like, from `seed`). Undoes partial work on failure. */
int backbone_init(struct backbone *net, const struct backbone_cfg *cfg, int max_batch,
                  uint64_t seed, struct dcqb_err *err);
void backbone_free(struct backbone *net); /* NULL or zeroed: no-op */

/* emb (B,d) <- f(x (B,Din)). train = 1: batch statistics and caches for backward (updates
 * running stats); train = 0: running statistics, no caches touched. B <= max_batch. */
void backbone_forward(struct backbone *net, float *emb, const float *x, int B, int train);
/* grads += d loss / d params given demb (B,d), for the last train-mode forward. */
void backbone_backward(struct backbone *net, const float *demb, int B);
/* Same, and also dx (B,Din) += d loss / d x when dx is not NULL (input gradient checks). */
void backbone_backward_dx(struct backbone *net, float *dx, const float *demb, int B);
void backbone_zero_grad(struct backbone *net);

/* dst <- src (params and running stats). Same cfg required; DCQB_EINVAL otherwise. */
int backbone_copy(struct backbone *dst, const struct backbone *src, struct dcqb_err *err);
/* EMA: theta_dst <- mu theta_dst + (1 - mu) theta_src; running stats too when with_running.
 * mu = 0 makes dst an exact copy of src. (docs/METHOD.md §2, §3.4) */
void backbone_ema(struct backbone *dst, const struct backbone *src, float mu, int with_running);

/* crc32 over params and running stats: bit-exact determinism checks. */
uint32_t backbone_digest(const struct backbone *net);
/* Forward FLOPs per sample (2 * multiply-adds of the linear layers). */
double backbone_flops_per_sample(const struct backbone *net);

/* Layer l of the cfg->depth + 1 (0 <= l <= depth): widths in -> out, block = 1 for the
 * Linear-BN-PReLU blocks (0 for the final Linear-BN), residual = 1 where a block adds its input
 * (cfg->residual and in == out). The one statement of the layer shapes: init, the FLOP count
 * and the bench's GEMM bound all read it. */
struct backbone_layer_shape {
    int in, out, block, residual;
};
struct backbone_layer_shape backbone_layer_shape(const struct backbone_cfg *cfg, int l);

#endif
