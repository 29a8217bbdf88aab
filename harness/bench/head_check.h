/* head_check.h - the body of `dcqbench head check`: one forward + backward of a head on fixed
 * inputs read from .npy files, with the loss and gradients written as files, so that any head
 * can be checked against an independent implementation (numpy, PyTorch, TensorFlow). The
 * command parses flags into a struct cfg and prints; tests call head_check() directly.
 *
 * Keys read from `c` (the command's flags, see `dcqbench head check --help`): head, out, emb,
 * labels, weights, keys, queue, queue_labels, classes, class_counts, num_classes, seed, ratio,
 * init_std and the head's own keys. Any other key is refused (cfg_check_unused).
 * Written to DIR = out: loss.txt (%.9g), d_emb.npy (B,D), d_weights.npy (C,D) for heads with
 * class weights, classes.npy (K) for heads with active classes.
 */
#ifndef DCQB_HEAD_CHECK_H
#define DCQB_HEAD_CHECK_H

#include "cfg.h"
#include "dcqb.h"

struct head_check_result {
    float loss;
    int64_t B, D, C;
    int64_t nonunit_row;   /* first --emb row whose norm is off 1 by > 1e-3, or -1 */
    double nonunit_norm;   /* its norm */
};

int head_check(struct head_check_result *res, struct cfg *c, struct dcqb_err *err);

#endif
