/* test_eval_rundir.c - `dcqbench eval --run` on a tiny trained DCQ run (it keeps an EMA
 * network): the rank-1 of each network (eval.net's own is megaface_rank1; the other one equals
 * what `--net` of that network reports as megaface_rank1, bit for bit; raw computes both), the
 * validation split's rank-1 (its own identities, null without one), and eval.distractors above
 * the distractor set refused from the flag, from the run's config, from the library, and by
 * train before it starts. */
#include "test_util.h"

#include <unistd.h>

#include "cfg.h"
#include "eval_rundir.h"

#define TINY_DATA                                                                          \
    "--profile uniform --uniform_n 6 --ids 40 --batch 16 --hidden 32 --dim 16 --steps 60 "   \
    "--nuis_var 0.3 --group_size 2 --probe_ids 10 --probe_imgs 4 --distractors 300 "          \
    "--lfw_pairs 100"
static const char *tiny = "--head dcq --queue_len 16 --mu 0.9 " TINY_DATA;

static char out[1 << 15];
static char digest[32]; /* the training digest of the last train() */

/* A trained run `name` with extra data flags; its path into dir. */
static void train(char *dir, size_t n, const char *name, const char *extra)
{
    char cmd[2048];
    snprintf(dir, n, "%s/evr_%s", test_tmpdir(), name);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "train %s %s --out %s", tiny, extra, dir);
    int rc = test_run_cli(out, sizeof out, cmd);
    if (rc != 0) print_error("%s\n", out);
    assert_int_equal(rc, 0);
    const char *d = strstr(out, "digest ");
    assert_non_null(d);
    snprintf(digest, sizeof digest, "%.8s", d + 7);
}

/* `eval --run dir --out dir/sub ARGS`; exit status 0 asserted. */
static void eval_ok(const char *dir, const char *sub, const char *args)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "eval --run %s --out %s/%s %s", dir, dir, sub, args);
    int rc = test_run_cli(out, sizeof out, cmd);
    if (rc != 0) print_error("%s\n", out);
    assert_int_equal(rc, 0);
}

/* The value of `key` in dir/sub/metrics.json (NaN for null); fails if the key is missing. */
static double metric(const char *dir, const char *sub, const char *key)
{
    char path[1024], q[128];
    snprintf(path, sizeof path, "%s/%s/metrics.json", dir, sub);
    char *js = test_slurp(path);
    assert_non_null(js);
    snprintf(q, sizeof q, "\"%s\": ", key);
    const char *p = strstr(js, q);
    if (!p) print_error("%s: no %s\n", path, key);
    assert_non_null(p);
    p += strlen(q);
    double v = strncmp(p, "null", 4) == 0 ? NAN : strtod(p, NULL);
    free(js);
    return v;
}

/* FNV-1a 64 of the curve files of dir/sub (cmc, roc, LFW folds, tail): every score of the
 * evaluation passes through them. */
static uint64_t curves_digest(const char *dir, const char *sub)
{
    const char *files[] = {"cmc.tsv", "roc.tsv", "lfw_folds.tsv", "tail.tsv"};
    uint64_t h = DCQB_FNV1A64_INIT;
    for (int i = 0; i < 4; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s/%s", dir, sub, files[i]);
        char *t = test_slurp(path);
        assert_non_null(t);
        h = dcqb_fnv1a64(h, t, strlen(t));
        free(t);
    }
    return h;
}

/* curves_digest of the tiny full-softmax run's default evaluation (gcc 12, x86-64, OpenBLAS
 * 0.3.21): rendering, embedding and scoring must not change a bit when made cheaper. The value
 * was the same before the validation split and the faster embedding existed. */
#define EVAL_GOLDEN 0xd598bb286d857c0eULL

static void test_rank1_of_each_network(void **state)
{
    (void)state;
    char dir[600];
    train(dir, sizeof dir, "nets", "");
    eval_ok(dir, "e_default", "");  /* dcq: its EMA network */
    eval_ok(dir, "e_online", "--net online");
    eval_ok(dir, "e_raw", "--net raw");
    const double ema = metric(dir, "e_default", "megaface_rank1");
    const double online = metric(dir, "e_online", "megaface_rank1");
    /* the tiny run must tell the networks apart, else the cross-checks below check little */
    assert_true(ema > 0 && online > 0 && ema != online);
    const char *subs[] = {"e_default", "e_online", "e_raw"};
    for (int i = 0; i < 3; i++) {
        assert_true(metric(dir, subs[i], "megaface_rank1_ema") == ema);
        assert_true(metric(dir, subs[i], "megaface_rank1_online") == online);
    }
    assert_true(metric(dir, "e_raw", "megaface_rank1") != ema);
    /* a head without an EMA network: both null */
    char full[600];
    snprintf(full, sizeof full, "%s/evr_full", test_tmpdir());
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "rm -rf %s", full);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "train --head full %s --out %s", TINY_DATA, full);
    assert_int_equal(test_run_cli(out, sizeof out, cmd), 0);
    eval_ok(full, "e", "");
    if (getenv("DCQB_PRINT_GOLDEN"))
        print_message("golden %016llx\n", (unsigned long long)curves_digest(full, "e"));
    assert_true(curves_digest(full, "e") == EVAL_GOLDEN);
    assert_true(isnan(metric(full, "e", "megaface_rank1_online")));
    assert_true(isnan(metric(full, "e", "megaface_rank1_ema")));
    assert_true(isfinite(metric(full, "e", "megaface_rank1")));
}

static void test_validation_split(void **state)
{
    (void)state;
    char dir[600], same[600], none[600];
    /* defaults: 80 validation identities x probe_imgs, 5000 validation distractors */
    train(dir, sizeof dir, "val", "");
    char d0[32];
    snprintf(d0, sizeof d0, "%s", digest);
    eval_ok(dir, "e", "--distractors 30");
    const double v = metric(dir, "e", "val_rank1");
    assert_true(v > 0 && v < 1);
    assert_true(metric(dir, "e", "val_n_distractors") == 5000);
    /* eval.distractors is the test split's: the validation split keeps all of its own */
    eval_ok(dir, "e2", "");
    assert_true(metric(dir, "e2", "val_rank1") == v);
    /* the validation split at the test split's sizes has other identities: another rank-1 */
    train(same, sizeof same, "val_same", "--val_probe_ids 10 --val_distractors 300");
    assert_string_equal(digest, d0); /* the validation knobs do not touch training */
    eval_ok(same, "e", "");
    assert_true(metric(same, "e", "val_n_distractors") == 300);
    const double vs = metric(same, "e", "val_rank1");
    assert_true(vs > 0 && vs < 1);
    assert_true(vs != metric(same, "e", "megaface_rank1"));
    assert_true(vs != v);
    /* no validation split: null */
    train(none, sizeof none, "val_none", "--val_probe_ids 0");
    eval_ok(none, "e", "");
    assert_true(isnan(metric(none, "e", "val_rank1")));
    assert_true(isnan(metric(none, "e", "val_n_distractors")));
}

#define REFUSAL "eval.distractors = %d exceeds the distractor set (300 identities; raise the " \
                "data key 'distractors')"

static void test_distractors_above_the_set_refused(void **state)
{
    (void)state;
    char dir[600], cmd[2048], want[256], path[700];
    train(dir, sizeof dir, "dis", "--val_distractors 50");
    /* the flag */
    snprintf(cmd, sizeof cmd, "eval --run %s --distractors 301", dir);
    assert_int_equal(test_run_cli(out, sizeof out, cmd), 2);
    snprintf(want, sizeof want, REFUSAL, 301);
    if (!strstr(out, want)) print_error("%s\n", out);
    assert_non_null(strstr(out, want));
    eval_ok(dir, "e300", "--distractors 300");
    assert_true(metric(dir, "e300", "megaface_n_distractors") == 300);
    eval_ok(dir, "e10", "--distractors 10");
    assert_true(metric(dir, "e10", "megaface_n_distractors") == 10);
    /* the key in the run's config */
    snprintf(path, sizeof path, "%s/config.ini", dir);
    FILE *f = fopen(path, "a");
    assert_non_null(f);
    fprintf(f, "eval.distractors = 100000\n");
    fclose(f);
    snprintf(cmd, sizeof cmd, "eval --run %s", dir);
    assert_int_equal(test_run_cli(out, sizeof out, cmd), 2);
    snprintf(want, sizeof want, REFUSAL, 100000);
    if (!strstr(out, want)) print_error("%s\n", out);
    assert_non_null(strstr(out, want));
    /* train refuses such a run before it starts: nothing trained, the failure recorded for a
     * sweep in summary.json */
    snprintf(path, sizeof path, "%s/evr_dis_train", test_tmpdir());
    snprintf(cmd, sizeof cmd, "rm -rf %s", path);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "train %s --eval.distractors 301 --out %s", tiny, path);
    assert_int_equal(test_run_cli(out, sizeof out, cmd), 2);
    snprintf(want, sizeof want, REFUSAL, 301);
    if (!strstr(out, want)) print_error("%s\n", out);
    assert_non_null(strstr(out, want));
    assert_null(strstr(out, "[train]"));
    char sub[800];
    snprintf(sub, sizeof sub, "%s/checkpoint.bin", path);
    assert_int_equal(access(sub, F_OK), -1);
    snprintf(sub, sizeof sub, "%s/summary.json", path);
    char *sum = test_slurp(sub);
    assert_non_null(sum);
    if (!strstr(sum, want)) print_error("%s\n", sum);
    assert_non_null(strstr(sum, want));
    free(sum);
    /* the library: DCQB_EINVAL with the message, nothing written */
    struct cfg opts = {0};
    struct dcqb_err err = {0};
    assert_int_equal(cfg_set(&opts, "eval.distractors", "5000", "test", 1, &err), DCQB_OK);
    snprintf(path, sizeof path, "%s/e_lib", dir);
    assert_int_equal(eval_rundir(dir, &opts, path, NULL, NULL, NULL, &err), DCQB_EINVAL);
    snprintf(want, sizeof want, REFUSAL, 5000);
    assert_string_equal(err.msg, want);
    cfg_free(&opts);
    snprintf(path, sizeof path, "%s/e_lib/metrics.json", dir);
    char *js = test_slurp(path);
    assert_null(js);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rank1_of_each_network),
        cmocka_unit_test(test_validation_split),
        cmocka_unit_test(test_distractors_above_the_set_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
