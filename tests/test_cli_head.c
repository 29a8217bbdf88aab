/* test_cli_head.c - 'dcqbench head check' end to end through the built binary ($DCQBENCH, set by
 * `make test`; bin/dcqbench otherwise): its loss.txt, d_emb.npy, d_weights.npy and classes.npy
 * equal (to float rounding: the binary may use another BLAS kernel) an in-process
 * forward_backward of the same head on the same inputs (full, random with fixed classes,
 * sampled with fixed classes, dcq with a given queue), and bad inputs are refused with a
 * message naming the problem. head_check(), the command's body, is also called in process. */
#include "head_fixture.h"

#include <sys/wait.h>

#include "cfg.h"
#include "head_check.h"
#include "npy.h"

enum { C = 20, D = 6, B = 3, L = 5 };

static char dir[128];
static float emb[B * D], W[C * D], keys[B * D], Q[L * D];
static const int32_t y[B] = {2, 7, 2}, qlab[L] = {2, -1, 5, 9, 7}, cls[4] = {7, 11, 2, 0};

static int setup(void **state)
{
    (void)state;
    if (strlen(test_tmpdir()) > 100) return -1;
    memcpy(dir, test_tmpdir(), strlen(test_tmpdir()));
    strcat(dir, "/cli_head");
    char cmd[200];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", dir);
    if (system(cmd) != 0) return -1;
    fx_rows(emb, B, D, 1, 1);
    fx_rows(W, C, D, 2, 0);
    fx_rows(keys, B, D, 3, 1);
    fx_rows(Q, L, D, 4, 1);
    struct dcqb_err err = {0};
    char p[400];
#define W32(name, x, r, k)                                                                     \
    snprintf(p, sizeof p, "%s/%s", dir, name);                                                 \
    if (npy_write_f32(p, x, r, k, &err)) return -1;
#define WI(name, x, n)                                                                         \
    snprintf(p, sizeof p, "%s/%s", dir, name);                                                 \
    if (npy_write_i32(p, x, n, &err)) return -1;
    W32("emb.npy", emb, B, D);
    W32("w.npy", W, C, D);
    W32("k.npy", keys, B, D);
    W32("q.npy", Q, L, D);
    WI("y.npy", y, B);
    WI("ql.npy", qlab, L);
    WI("cls.npy", cls, 4);
    return 0;
}

/* Run head check, then the same step in process; compare all outputs. */
static void check_head(const char *name, const char *extra, const struct kv *kv,
                       double ratio, int use_w, int use_cls, int dcq)
{
    static char out[4096];
    char args[2048];
    snprintf(args, sizeof args,
             "head check --head %s --emb %s/emb.npy --labels %s/y.npy --num-classes %d "
             "--out %s/out_%s %s",
             name, dir, dir, C, dir, name, extra);
    if (use_w) snprintf(args + strlen(args), sizeof args - strlen(args), " --weights %s/w.npy", dir);
    if (use_cls) snprintf(args + strlen(args), sizeof args - strlen(args), " --classes %s/cls.npy", dir);
    if (dcq)
        snprintf(args + strlen(args), sizeof args - strlen(args),
                 " --keys %s/k.npy --queue %s/q.npy --queue-labels %s/ql.npy", dir, dir, dir);
    int rc = test_run_cli(out, sizeof out, args);
    if (rc) print_error("%s\n", out);
    assert_int_equal(rc, 0);

    struct head_cfg cfg = fx_cfg(C, D, B, ratio, dcqb_stream_seed(1, DCQB_STREAM_HEAD), kv, NULL);
    struct head st = fx_open(name, &cfg);
    struct dcqb_err err = {0};
    if (use_w) assert_int_equal(head_set_weights(&st, W, C, D, &err), DCQB_OK);
    if (use_cls) assert_int_equal(head_set_classes(&st, cls, 4, &err), DCQB_OK);
    if (dcq) assert_int_equal(head_set_queue(&st, Q, qlab, L, &err), DCQB_OK);
    float demb[B * D];
    double loss = fx_loss(&st, NULL, NULL, C, D, emb, dcq ? keys : NULL, y, B, demb);

    char p[400];
    snprintf(p, sizeof p, "%s/out_%s/loss.txt", dir, name);
    FILE *f = fopen(p, "r");
    assert_non_null(f);
    double lf = 0;
    assert_int_equal(fscanf(f, "%lf", &lf), 1);
    fclose(f);
    /* the binary may pick another OpenBLAS kernel than this process (main.c): last bits */
    assert_close(lf, loss, 0, 1e-6);
    float *x = NULL;
    int64_t r, k;
    snprintf(p, sizeof p, "%s/out_%s/d_emb.npy", dir, name);
    assert_int_equal(npy_read_f32(&x, &r, &k, p, &err), DCQB_OK);
    assert_int_equal(r, B);
    assert_int_equal(k, D);
    assert_close_array(x, demb, B * D, 1e-6, 1e-4);
    free(x);
    snprintf(p, sizeof p, "%s/out_%s/d_weights.npy", dir, name);
    if (head_class_weights(&st)) {
        float dW[C * D];
        assert_int_equal(head_weight_grad(&st, dW, NULL), DCQB_OK);
        assert_int_equal(npy_read_f32(&x, &r, &k, p, &err), DCQB_OK);
        assert_int_equal(r, C);
        assert_close_array(x, dW, C * D, 1e-6, 1e-4);
        free(x);
    } else {
        assert_null(fopen(p, "r"));
    }
    if (use_cls) {
        int32_t *a = NULL;
        int64_t n;
        snprintf(p, sizeof p, "%s/out_%s/classes.npy", dir, name);
        assert_int_equal(npy_read_i32(&a, &n, p, &err), DCQB_OK);
        assert_int_equal(n, 4);
        assert_memory_equal(a, cls, sizeof cls);
        free(a);
    }
    head_close(&st);
}

static void test_full(void **state)
{
    (void)state;
    static const struct kv kv[] = {{"margin", "arcface"}, {NULL, NULL}};
    check_head("full", "--margin arcface", kv, 0.1, 1, 0, 0);
}

static void test_random_fixed(void **state)
{
    (void)state;
    static const struct kv kv[] = {{"s", "30"}, {NULL, NULL}};
    check_head("random", "--s 30", kv, (4 + 0.5) / C, 1, 1, 0);
}

static void test_random_seeded(void **state)
{
    (void)state; /* classes drawn from --seed 1 exactly as in process with the head stream */
    check_head("random", "--seed 1 --ratio 0.25", NULL, 0.25, 0, 0, 0);
}

static void test_sampled_fixed(void **state)
{
    (void)state;
    static const struct kv kv[] = {{"subtract_log_q", "1"}, {NULL, NULL}};
    check_head("sampled", "--subtract-log-q 1", kv, (4 + 0.5) / C, 1, 1, 0);
}

static void test_dcq(void **state)
{
    (void)state;
    static const struct kv kv[] = {{"queue_len", "5"}, {NULL, NULL}};
    check_head("dcq", "", kv, 0.1, 0, 0, 1);
}

static void test_errors(void **state)
{
    (void)state;
    static char out[4096];
    char args[2048];
    snprintf(args, sizeof args, "head check --head dcq --emb %s/emb.npy --labels %s/y.npy "
                                "--queue_len 5 --out %s/o", dir, dir, dir);
    assert_int_equal(test_run_cli(out, sizeof out, args), 2);
    assert_non_null(strstr(out, "--keys"));
    snprintf(args, sizeof args, "head check --head full --emb %s/emb.npy --labels %s/ql.npy "
                                "--out %s/o", dir, dir, dir);
    assert_int_equal(test_run_cli(out, sizeof out, args), 2);
    assert_non_null(strstr(out, "entries"));
    snprintf(args, sizeof args, "head check --head full --emb %s/emb.npy --labels %s/y.npy "
                                "--num-classes 5 --out %s/o", dir, dir, dir);
    assert_int_equal(test_run_cli(out, sizeof out, args), 2);
    assert_non_null(strstr(out, "label 7"));
    snprintf(args, sizeof args, "head check --head full --emb %s/emb.npy --labels %s/y.npy "
                                "--weights %s/q.npy --out %s/o", dir, dir, dir, dir);
    assert_int_equal(test_run_cli(out, sizeof out, args), 2);
    snprintf(args, sizeof args, "head check --head full --emb %s/emb.npy --labels %s/y.npy "
                                "--bogus 1 --out %s/o", dir, dir, dir);
    assert_int_equal(test_run_cli(out, sizeof out, args), 2);
    assert_non_null(strstr(out, "bogus"));
    snprintf(args, sizeof args, "head check --head random --emb %s/emb.npy --labels %s/y.npy "
                                "--classes %s/ql.npy --out %s/o", dir, dir, dir, dir);
    assert_int_equal(test_run_cli(out, sizeof out, args), 2); /* -1 in the class list */
    assert_int_equal(test_run_cli(out, sizeof out, "head list"), 0);
    assert_non_null(strstr(out, "sampled"));
    assert_non_null(strstr(out, "pfc_mode"));
}

/* head_check() in process, as the command calls it: same loss bit for bit as the handle driven
 * here (same process, same BLAS kernel), the result's shapes, and its refusals. */
static void test_library_call(void **state)
{
    (void)state;
    struct cfg c = {0};
    struct dcqb_err err = {0};
    char v[400];
#define SET(k, fmt, ...)                                                                       \
    snprintf(v, sizeof v, fmt, __VA_ARGS__);                                                   \
    assert_int_equal(cfg_set(&c, k, v, "test", 0, &err), DCQB_OK);
    SET("head", "%s", "random");
    SET("emb", "%s/emb.npy", dir);
    SET("labels", "%s/y.npy", dir);
    SET("weights", "%s/w.npy", dir);
    SET("classes", "%s/cls.npy", dir);
    SET("out", "%s/lib", dir);
    SET("s", "%s", "30");
    struct head_check_result r;
    int rc = head_check(&r, &c, &err);
    if (rc) print_error("%s\n", err.msg);
    assert_int_equal(rc, DCQB_OK);
    assert_true(r.B == B && r.D == D && r.C == C && r.nonunit_row == -1);
    static const struct kv kv[] = {{"s", "30"}, {NULL, NULL}};
    struct head_cfg cfg =
        fx_cfg(C, D, B, (4 + 0.5) / C, dcqb_stream_seed(1, DCQB_STREAM_HEAD), kv, NULL);
    struct head h = fx_open("random", &cfg);
    assert_int_equal(head_set_weights(&h, W, C, D, &err), DCQB_OK);
    assert_int_equal(head_set_classes(&h, cls, 4, &err), DCQB_OK);
    float demb[B * D];
    float loss = (float)fx_loss(&h, NULL, NULL, C, D, emb, NULL, y, B, demb);
    assert_memory_equal(&loss, &r.loss, sizeof loss);
    head_close(&h);
    /* a key nobody reads, and a head without a queue given one */
    SET("bogus", "%s", "1");
    assert_int_equal(head_check(&r, &c, &err), DCQB_EINVAL);
    assert_non_null(strstr(err.msg, "bogus"));
    cfg_free(&c);
    memset(&c, 0, sizeof c);
    SET("head", "%s", "full");
    SET("emb", "%s/emb.npy", dir);
    SET("labels", "%s/y.npy", dir);
    SET("num_classes", "%d", C);
    SET("queue", "%s/q.npy", dir);
    SET("queue_labels", "%s/ql.npy", dir);
    SET("queue_len", "%d", L);
    SET("out", "%s/lib", dir);
    assert_int_equal(head_check(&r, &c, &err), DCQB_EINVAL);
    assert_non_null(strstr(err.msg, "--queue: full: does not support set_queue"));
    cfg_free(&c);
#undef SET
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full),          cmocka_unit_test(test_random_fixed),
        cmocka_unit_test(test_random_seeded), cmocka_unit_test(test_sampled_fixed),
        cmocka_unit_test(test_dcq),           cmocka_unit_test(test_errors),
        cmocka_unit_test(test_library_call),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
