/* test_train.c - the training step and loop: determinism, the loop as trainer_step repeated,
 * bit-exact resume, divergence detection, learning (loss falls, closed-set accuracy far above
 * chance), config errors. */
#include "test_util.h"

#include <string.h>

#include "checkpoint.h"
#include "npy.h"
#include "train.h"

/* A tiny run: 40 uniform classes of 12 images, small MLP, full head. */
static void tiny_cfg(struct cfg *c, const char *head, long long steps)
{
    char buf[32];
    cfg_set(c, "head", head, "test", 1, NULL);
    cfg_set(c, "profile", "uniform", "test", 1, NULL);
    cfg_set(c, "uniform_n", "12", "test", 1, NULL);
    cfg_set(c, "ids", "40", "test", 1, NULL);
    cfg_set(c, "batch", "32", "test", 1, NULL);
    cfg_set(c, "hidden", "64", "test", 1, NULL);
    cfg_set(c, "dim", "32", "test", 1, NULL);
    cfg_set(c, "ckpt_every", "0", "test", 1, NULL);
    cfg_set(c, "s", "16", "test", 1, NULL);
    snprintf(buf, sizeof buf, "%lld", steps);
    cfg_set(c, "steps", buf, "test", 1, NULL);
    if (!strcmp(head, "dcq")) cfg_set(c, "queue_len", "48", "test", 1, NULL); /* L >= B */
}

static int setup_tiny(struct trainer *tr, const char *head, long long steps, const char *extra_k,
                      const char *extra_v, struct dcqb_err *err)
{
    struct cfg c = {0};
    tiny_cfg(&c, head, steps);
    if (extra_k) cfg_set(&c, extra_k, extra_v, "test", 2, NULL);
    int rc = trainer_setup(tr, &c, err);
    /* the trainer keeps pointers into cfg only during setup; head params are read in init */
    cfg_free(&c);
    return rc;
}

static void test_same_seed_same_digest(void **state)
{
    (void)state;
    struct dcqb_err err = {0};
    uint32_t dg[3];
    for (int r = 0; r < 3; r++) {
        struct trainer tr;
        struct train_result res;
        assert_int_equal(setup_tiny(&tr, "full", 30, "seed", r < 2 ? "7" : "8", &err), DCQB_OK);
        assert_int_equal(trainer_run(&tr, NULL, NULL, NULL, NULL, NULL, &res, &err), DCQB_OK);
        dg[r] = res.digest;
        trainer_free(&tr);
    }
    assert_int_equal(dg[0], dg[1]);
    assert_int_not_equal(dg[0], dg[2]);
}

/* head_stream (the A/A control's second arm, docs/METHOD.md §5) moves the head's own stream
 * only: same data and class sizes, same initial backbone, other initial class weights; and it
 * is part of the run's identity (config hash). */
static void test_head_stream_moves_only_the_head(void **state)
{
    (void)state;
    struct dcqb_err err = {0};
    struct trainer a, b;
    assert_int_equal(setup_tiny(&a, "full", 10, NULL, NULL, &err), DCQB_OK);
    assert_int_equal(setup_tiny(&b, "full", 10, "head_stream", "1", &err), DCQB_OK);
    assert_int_equal(a.ts.N, b.ts.N);
    assert_memory_equal(a.ts.sizes, b.ts.sizes, sizeof(int32_t) * (size_t)a.ts.C);
    assert_int_equal(a.net.n_params, b.net.n_params);
    assert_memory_equal(a.net.params, b.net.params, sizeof(float) * a.net.n_params);
    assert_int_not_equal(head_digest(&a.head), head_digest(&b.head));
    assert_true(a.cfg_hash != b.cfg_hash);
    trainer_free(&a);
    trainer_free(&b);
}

/* threads = 2: the heads split their column blocks between two threads (pool.h) and join the
 * partial d emb in a fixed order, the backbone splits its layers by channel and the batch
 * renders by row, all by the thread count alone, so a rerun is bit-exact. 2100 classes: three
 * blocks. */
static void test_two_threads_same_digest(void **state)
{
    (void)state;
    const char *heads[] = {"full", "dcq", "sampled"};
    for (int h = 0; h < 3; h++) {
        uint32_t dg[2];
        for (int r = 0; r < 2; r++) {
            struct dcqb_err err = {0};
            struct cfg c = {0};
            tiny_cfg(&c, heads[h], 12);
            cfg_set(&c, "ids", "2100", "test", 2, NULL);
            cfg_set(&c, "uniform_n", "2", "test", 2, NULL);
            cfg_set(&c, "threads", "2", "test", 2, NULL);
            if (h > 0) cfg_set(&c, "ratio", "0.9", "test", 2, NULL); /* L, S > 1024 */
            struct trainer tr;
            struct train_result res;
            int rc = trainer_setup(&tr, &c, &err);
            cfg_free(&c);
            assert_int_equal(rc, DCQB_OK);
            assert_int_equal(trainer_run(&tr, NULL, NULL, NULL, NULL, NULL, &res, &err), DCQB_OK);
            dg[r] = res.digest;
            trainer_free(&tr);
        }
        assert_int_equal(dg[0], dg[1]);
    }
}

/* trainer_run is the loop around trainer_step: stepping by hand ends in the run's digest and
 * the first step's loss is the run's first loss (DCQ: the EMA and key path too). */
static void test_step_by_hand_equals_run(void **state)
{
    (void)state;
    struct dcqb_err err = {0};
    const char *heads[] = {"full", "dcq"};
    for (int h = 0; h < 2; h++) {
        struct trainer a, b;
        struct train_result ra;
        assert_int_equal(setup_tiny(&a, heads[h], 12, NULL, NULL, &err), DCQB_OK);
        assert_int_equal(trainer_run(&a, NULL, NULL, NULL, NULL, NULL, &ra, &err), DCQB_OK);
        assert_int_equal(setup_tiny(&b, heads[h], 12, NULL, NULL, &err), DCQB_OK);
        float loss, first = 0;
        for (int64_t t = 0; t < 12; t++) {
            assert_int_equal(trainer_step(&b, t, &loss, &err), DCQB_OK);
            if (t == 0) first = loss;
        }
        assert_int_equal(b.t, 0); /* the step leaves the position to the loop */
        assert_true(first == ra.first_loss); /* ring of 1 step at 12 steps: step 0 exactly */
        assert_int_equal(trainer_digest(&b), ra.digest);
        assert_true(b.data_s > 0 && b.backbone_s > 0 && b.head_s > 0);
        trainer_free(&a);
        trainer_free(&b);
    }
}

static void test_resume_is_bit_exact(void **state)
{
    (void)state;
    struct dcqb_err err = {0};
    char path[512];
    snprintf(path, sizeof path, "%s/train_resume.ckpt", test_tmpdir());
    remove(path);
    struct trainer a, b;
    struct train_result ra, rb;
    /* uninterrupted */
    assert_int_equal(setup_tiny(&a, "full", 40, NULL, NULL, &err), DCQB_OK);
    assert_int_equal(trainer_run(&a, NULL, NULL, NULL, NULL, NULL, &ra, &err), DCQB_OK);
    /* interrupted after 17 steps by the stop flag, then resumed in a fresh trainer */
    assert_int_equal(setup_tiny(&b, "full", 40, NULL, NULL, &err), DCQB_OK);
    volatile sig_atomic_t stop = 0;
    struct test_stop_at sa = {&stop, 17};
    assert_int_equal(trainer_run(&b, NULL, path, &stop, test_stop_progress, &sa, &rb, &err),
                     DCQB_EINTR);
    trainer_free(&b);
    assert_int_equal(setup_tiny(&b, "full", 40, NULL, NULL, &err), DCQB_OK);
    assert_int_equal(trainer_load(&b, path, &err), DCQB_OK);
    assert_int_equal(b.t, 17);
    assert_int_equal(trainer_run(&b, NULL, NULL, NULL, NULL, NULL, &rb, &err), DCQB_OK);
    assert_int_equal(ra.digest, rb.digest);
    trainer_free(&a);
    trainer_free(&b);
}

static void test_checkpoint_refuses_other_config_and_corruption(void **state)
{
    (void)state;
    struct dcqb_err err = {0};
    char path[512];
    snprintf(path, sizeof path, "%s/train_cfg.ckpt", test_tmpdir());
    struct trainer a, b;
    struct train_result r;
    assert_int_equal(setup_tiny(&a, "full", 5, NULL, NULL, &err), DCQB_OK);
    assert_int_equal(trainer_run(&a, NULL, path, NULL, NULL, NULL, &r, &err), DCQB_OK);
    trainer_free(&a);
    assert_int_equal(setup_tiny(&b, "full", 5, "lr", "0.05", &err), DCQB_OK);
    assert_int_equal(trainer_load(&b, path, &err), DCQB_EINVAL);
    assert_non_null(strstr(err.msg, "another configuration"));
    trainer_free(&b);
    /* flip one byte in the compressed payload */
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    fseek(f, 100, SEEK_SET);
    int ch = fgetc(f);
    fseek(f, 100, SEEK_SET);
    fputc(ch ^ 0x40, f);
    fclose(f);
    assert_int_equal(setup_tiny(&b, "full", 5, NULL, NULL, &err), DCQB_OK);
    assert_int_equal(trainer_load(&b, path, &err), DCQB_EFORMAT);
    trainer_free(&b);
}

/* Overwrite the checkpoint header's step (offset 40: magic 8, version 4, crc 4, three u64). */
static void patch_step(const char *path, int64_t step)
{
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, 40, SEEK_SET), 0);
    assert_int_equal(fwrite(&step, sizeof step, 1, f), 1);
    fclose(f);
}

/* The header is inside the CRC: a finished 40-step run whose step was set to 10 resumed with
 * another digest and exit 0, and a negative step wrote before a buffer. Both are refused. */
static void test_checkpoint_header_in_crc(void **state)
{
    (void)state;
    struct dcqb_err err = {0};
    char path[512];
    snprintf(path, sizeof path, "%s/train_hdr.ckpt", test_tmpdir());
    struct trainer a, b;
    struct train_result r;
    assert_int_equal(setup_tiny(&a, "full", 40, NULL, NULL, &err), DCQB_OK);
    assert_int_equal(trainer_run(&a, NULL, path, NULL, NULL, NULL, &r, &err), DCQB_OK);
    trainer_free(&a);
    assert_int_equal(setup_tiny(&b, "full", 40, NULL, NULL, &err), DCQB_OK);
    assert_int_equal(trainer_load(&b, path, &err), DCQB_OK);
    assert_int_equal(b.t, 40);
    patch_step(path, 10);
    assert_int_equal(trainer_load(&b, path, &err), DCQB_EFORMAT);
    patch_step(path, -5);
    assert_int_equal(trainer_load(&b, path, &err), DCQB_EFORMAT);
    trainer_free(&b);
}

static void test_divergence_is_reported_with_step(void **state)
{
    (void)state;
    struct dcqb_err err = {0};
    struct trainer tr;
    struct train_result r;
    /* lr 1e4 with weight decay 5e-4 multiplies weights by |1 - 5| per step: overflow */
    assert_int_equal(setup_tiny(&tr, "full", 200, "lr", "1e4", &err), DCQB_OK);
    int rc = trainer_run(&tr, NULL, NULL, NULL, NULL, NULL, &r, &err);
    assert_int_equal(rc, DCQB_ENUMERIC);
    assert_non_null(strstr(err.msg, "at step"));
    trainer_free(&tr);
}

static void test_unknown_key_and_bad_value(void **state)
{
    (void)state;
    struct dcqb_err err = {0};
    struct trainer tr;
    assert_int_equal(setup_tiny(&tr, "full", 5, "no_such_key", "1", &err), DCQB_EINVAL);
    assert_non_null(strstr(err.msg, "no_such_key"));
    assert_int_equal(setup_tiny(&tr, "full", 5, "batch", "many", &err), DCQB_EINVAL);
    assert_non_null(strstr(err.msg, "batch"));
    assert_int_equal(setup_tiny(&tr, "nohead", 5, NULL, NULL, &err), DCQB_EINVAL);
    assert_non_null(strstr(err.msg, "nohead"));
}

/* Loss falls, and nearest-class-mean accuracy of held-out images is far above chance. */
static void test_learns(void **state)
{
    (void)state;
    struct dcqb_err err = {0};
    struct trainer tr;
    struct train_result r;
    assert_int_equal(setup_tiny(&tr, "full", 1000, "lr", "0.1", &err), DCQB_OK);
    assert_int_equal(trainer_run(&tr, NULL, NULL, NULL, NULL, NULL, &r, &err), DCQB_OK);
    assert_true(r.final_loss < 0.5 * r.first_loss);
    int64_t C = tr.ts.C;
    int D = tr.ts.D, d = tr.net.cfg.emb_dim;
    float *x = malloc(sizeof(float) * D), *e = malloc(sizeof(float) * d);
    double *mean = calloc((size_t)(C * d), sizeof(double));
    assert_non_null(x);
    assert_non_null(e);
    assert_non_null(mean);
    for (int64_t c = 0; c < C; c++)
        for (int32_t j = 0; j < tr.ts.sizes[c]; j++) {
            trainset_render(&tr.ts, x, c, j, 0);
            trainer_embed(&tr, e, x, 1, 0);
            double n = 0;
            for (int k = 0; k < d; k++) n += (double)e[k] * e[k];
            for (int k = 0; k < d; k++) mean[c * d + k] += e[k] / sqrt(n);
        }
    int hit = 0, tot = 0;
    for (int64_t c = 0; c < C; c++) {
        if (synth_render_holdout(tr.ts.syn, x, c, 0) != 0) continue;
        trainer_embed(&tr, e, x, 1, 0);
        int64_t best = -1;
        double bs = -1e30;
        for (int64_t k = 0; k < C; k++) {
            double s = 0, n = 0;
            for (int q = 0; q < d; q++) {
                s += mean[k * d + q] * e[q];
                n += mean[k * d + q] * mean[k * d + q];
            }
            s /= sqrt(n);
            if (s > bs) {
                bs = s;
                best = k;
            }
        }
        hit += best == c;
        tot++;
    }
    double acc = (double)hit / tot;
    print_message("held-out nearest-mean accuracy %.3f over %d classes (chance %.3f)\n", acc, tot,
                  1.0 / C);
    assert_true(tot == C);
    assert_true(acc > 10.0 / C);
    free(x);
    free(e);
    free(mean);
    trainer_free(&tr);
}

/* Imported features train like synthetic ones: 30 classes x 6 rows of separable clusters. */
static void test_trains_on_npy_features(void **state)
{
    (void)state;
    enum { C = 30, PER = 6, N = C * PER, D = 16 };
    static float x[N * D];
    static int32_t y[N];
    uint64_t st = 42;
    for (int i = 0; i < N; i++) {
        y[i] = i % C;
        for (int k = 0; k < D; k++) {
            double u = (double)(dcqb_splitmix64(&st) >> 11) / 9007199254740992.0;
            x[i * D + k] = (float)((k == y[i] % D ? 2.0 : 0.0) + (y[i] / D) * 0.5 * (k == 0) +
                                   0.3 * (u - 0.5));
        }
    }
    char xp[512], yp[512];
    snprintf(xp, sizeof xp, "%s/feat_x.npy", test_tmpdir());
    snprintf(yp, sizeof yp, "%s/feat_y.npy", test_tmpdir());
    assert_int_equal(npy_write_f32(xp, x, N, D, NULL), DCQB_OK);
    assert_int_equal(npy_write_i32(yp, y, N, NULL), DCQB_OK);
    struct cfg c = {0};
    struct dcqb_err err = {0};
    cfg_set(&c, "train_x", xp, "test", 1, NULL);
    cfg_set(&c, "train_y", yp, "test", 1, NULL);
    cfg_set(&c, "batch", "16", "test", 1, NULL);
    cfg_set(&c, "hidden", "32", "test", 1, NULL);
    cfg_set(&c, "dim", "8", "test", 1, NULL);
    cfg_set(&c, "steps", "60", "test", 1, NULL);
    cfg_set(&c, "s", "16", "test", 1, NULL);
    struct trainer tr;
    int rc = trainer_setup(&tr, &c, &err);
    if (rc) print_error("%s\n", err.msg);
    assert_int_equal(rc, DCQB_OK);
    assert_int_equal(tr.ts.C, C);
    assert_int_equal(tr.ts.N, N);
    assert_int_equal(tr.ts.D, D);
    struct train_result r;
    assert_int_equal(trainer_run(&tr, NULL, NULL, NULL, NULL, NULL, &r, &err), DCQB_OK);
    assert_true(r.final_loss < r.first_loss);
    trainer_free(&tr);
    cfg_free(&c);
    /* a label file that does not match the features is refused with both names */
    cfg_set(&c, "train_x", xp, "test", 1, NULL);
    cfg_set(&c, "train_y", xp, "test", 1, NULL);
    assert_int_not_equal(trainer_setup(&tr, &c, &err), DCQB_OK);
    assert_non_null(strstr(err.msg, "feat_x.npy"));
    cfg_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_seed_same_digest),
        cmocka_unit_test(test_head_stream_moves_only_the_head),
        cmocka_unit_test(test_two_threads_same_digest),
        cmocka_unit_test(test_step_by_hand_equals_run),
        cmocka_unit_test(test_resume_is_bit_exact),
        cmocka_unit_test(test_checkpoint_refuses_other_config_and_corruption),
        cmocka_unit_test(test_checkpoint_header_in_crc),
        cmocka_unit_test(test_divergence_is_reported_with_step),
        cmocka_unit_test(test_unknown_key_and_bad_value),
        cmocka_unit_test(test_learns),
        cmocka_unit_test(test_trains_on_npy_features),
    };
    return cmocka_run_group_tests_name("train", tests, NULL, NULL);
}
