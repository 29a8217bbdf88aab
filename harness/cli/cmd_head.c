/* cmd_head.c - 'dcqbench head list|check': the registered heads with their keys, and one
 * forward + backward of a head on fixed inputs from .npy files (the work is head_check(),
 * harness/bench/head_check.h), writing the loss and the gradients so that any head can be
 * checked against an independent implementation (numpy, PyTorch, TensorFlow). Stochastic heads
 * take their active classes from --classes or draw them from --seed exactly as a training run
 * with that seed would at its first step (the head stream DCQB_STREAM_HEAD); the classes used
 * are written back as classes.npy.
 */
#include "cfg.h"
#include "cli.h"
#include "head.h"
#include "head_check.h"

static const char *const bool_flags[] = {"help", NULL};

static void usage(FILE *f)
{
    struct head_cfg d;
    head_cfg_defaults(&d);
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
            "  --ratio R           the head's ratio, in (0, 1] (default %g); dcq's queue holds\n"
            "                      round(ratio*C) keys unless queue_len is given\n"
            "  Head keys (margin, s, m, pfc_mode, sampler, subtract_log_q, queue_len, ...):\n"
            "  'dcqbench head list'.\n", d.ratio);
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

static int check(struct cfg *c, struct dcqb_err *err)
{
    struct head_check_result r;
    const char *out = NULL;
    int rc = head_check(&r, c, err);
    if (r.nonunit_row >= 0)
        fprintf(stderr, "dcqbench head check: warning: --emb row %lld has norm %.4g, not 1 "
                        "(used as given)\n", (long long)r.nonunit_row, r.nonunit_norm);
    if (rc) return rc;
    cfg_get_str(c, "out", NULL, &out, NULL);
    printf("%s: loss %.9g, B = %lld, D = %lld, C = %lld -> %s/\n", cfg_find(c, "head")->val,
           (double)r.loss, (long long)r.B, (long long)r.D, (long long)r.C, out);
    return 0;
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
