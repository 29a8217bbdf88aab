/* test_loop_fair.c - the training loop treats every head alike (docs/METHOD.md §2):
 *   same batches      for one seed every head (full, random, sampled, dcq kshot 1, 2, 4) draws the
 *                     same class, image and flip for every row of every step;
 *   refs              DCQ's references are images of the sample's identity, rendered as drawn;
 *   EMA order         the EMA update precedes the key forward within a step;
 *   EMA for any head  ema = 1 leaves training bit-identical (digest) and keeps a moving EMA net,
 *                     saved by the checkpoint; dcq records ema = 1 whatever the key says;
 *   dcq resume        N steps straight = N/2 + resume: digest, weights, queue, curve rows;
 *   records           logit columns, distinct labels, queue staleness, age by hand count, drift.
 */
#include "test_util.h"

#include <math.h>
#include <string.h>

#include "checkpoint.h"
#include "ops.h"
#include "train.h"

enum { NB = 16, STEPS = 20 };

/* 40 uniform classes of 12 images, batch 16, small MLP; dcq with a queue of 48 (>= B). */
static int setup(struct trainer *tr, const char *head, long long steps, const char *const *kv,
                 struct dcqb_err *err)
{
    struct cfg c = {0};
    char buf[32];
    static const char *const base[] = {"profile", "uniform", "uniform_n", "12", "ids", "40",
                                       "batch", "16", "hidden", "32", "dim", "16",
                                       "ckpt_every", "0", "s", "16", "lr", "0.2", NULL};
    for (int i = 0; base[i]; i += 2) cfg_set(&c, base[i], base[i + 1], "test", 1, NULL);
    cfg_set(&c, "head", head, "test", 1, NULL);
    snprintf(buf, sizeof buf, "%lld", steps);
    cfg_set(&c, "steps", buf, "test", 1, NULL);
    if (!strcmp(head, "dcq")) cfg_set(&c, "queue_len", "48", "test", 1, NULL);
    for (int i = 0; kv && kv[i]; i += 2) cfg_set(&c, kv[i], kv[i + 1], "test", 2, NULL);
    int rc = trainer_setup(tr, &c, err);
    if (rc) print_error("%s\n", err->msg);
    cfg_free(&c);
    return rc;
}

/* (class, image, flip) of every row of every step, for one head. */
static void record_batches(const char *head, const char *const *kv, int64_t *rec)
{
    struct dcqb_err err = {0};
    struct trainer tr;
    assert_int_equal(setup(&tr, head, STEPS, kv, &err), DCQB_OK);
    for (int64_t t = 0; t < STEPS; t++) {
        float loss;
        assert_int_equal(trainer_step(&tr, t, &loss, &err), DCQB_OK);
        struct trainer_batch b;
        trainer_batch(&tr, &b);
        assert_int_equal(b.B, NB);
        for (int i = 0; i < NB; i++) {
            int64_t *r = rec + ((size_t)t * NB + i) * 3;
            r[0] = b.cls[i], r[1] = b.img[i], r[2] = b.flip[i];
        }
    }
    trainer_free(&tr);
}

static void test_same_batches_for_every_head(void **state)
{
    (void)state;
    static const char *const k1[] = {"kshot", "1", NULL}, *const k2[] = {"kshot", "2", NULL},
                             *const k4[] = {"kshot", "4", NULL};
    static const struct {
        const char *head;
        const char *const *kv;
    } arms[] = {{"full", NULL}, {"random", NULL}, {"sampled", NULL},
                {"dcq", k1},    {"dcq", k2},      {"dcq", k4}};
    static int64_t ref[STEPS * NB * 3], got[STEPS * NB * 3];
    record_batches("full", NULL, ref);
    int flips = 0;
    for (int i = 0; i < STEPS * NB; i++) flips += (int)ref[i * 3 + 2];
    assert_true(flips > 0 && flips < STEPS * NB); /* flips are drawn, not constant */
    for (size_t a = 1; a < sizeof arms / sizeof arms[0]; a++) {
        record_batches(arms[a].head, arms[a].kv, got);
        for (int i = 0; i < STEPS * NB * 3; i++)
            if (got[i] != ref[i]) {
                print_error("%s (%s): step %d row %d differs from full's batch\n", arms[a].head,
                            arms[a].kv ? arms[a].kv[1] : "-", i / (NB * 3), (i / 3) % NB);
                fail();
            }
    }
}

/* Every reference is an image of the sample's identity, and xk holds exactly that image. */
static void test_refs_share_the_identity(void **state)
{
    (void)state;
    static const char *const ks[2] = {"1", "4"};
    for (int k = 0; k < 2; k++) {
        const char *const kv[] = {"kshot", ks[k], NULL};
        struct dcqb_err err = {0};
        struct trainer tr;
        assert_int_equal(setup(&tr, "dcq", 30, kv, &err), DCQB_OK);
        float *x = malloc(sizeof(float) * (size_t)tr.ts.D);
        int other_image = 0;
        for (int64_t t = 0; t < 30; t++) {
            float loss;
            assert_int_equal(trainer_step(&tr, t, &loss, &err), DCQB_OK);
            struct trainer_batch b;
            trainer_batch(&tr, &b);
            assert_int_equal(b.kshot, atoi(ks[k]));
            assert_int_equal(b.nref, b.kshot * NB);
            for (int i = 0; i < NB; i++)
                for (int r = 0; r < b.kshot; r++) {
                    const struct head_key_src *s = &b.ref[i * b.kshot + r];
                    assert_int_equal(s->cls, b.cls[i]);
                    assert_true(s->img >= 0 && s->img < tr.ts.sizes[s->cls]);
                    other_image += s->img != b.img[i];
                    trainset_render(&tr.ts, x, s->cls, s->img, s->flip);
                    assert_memory_equal(x, b.xk + (size_t)(i * b.kshot + r) * tr.ts.D,
                                        sizeof(float) * (size_t)tr.ts.D);
                }
        }
        assert_true(other_image > 0); /* a second image, not the sample again */
        free(x);
        trainer_free(&tr);
    }
}

/* mu = 0: the EMA net is the online net as it was before step t's update, and step t's keys
 * (the slots it enqueued) are that net's embeddings of the references. Were the key forward
 * before the EMA update, they would be the previous step's net's, off by a whole SGD step. */
static void test_ema_update_precedes_key_forward(void **state)
{
    (void)state;
    static const char *const kv[] = {"mu", "0", "ema_key_train", "0", NULL};
    struct dcqb_err err = {0};
    struct trainer tr;
    assert_int_equal(setup(&tr, "dcq", 12, kv, &err), DCQB_OK);
    int d = tr.net.cfg.emb_dim, Din = tr.ts.D;
    float *before = malloc(sizeof(float) * tr.net.n_params);
    float *x = malloc(sizeof(float) * (size_t)Din), *e = malloc(sizeof(float) * (size_t)d);
    double worst = 0;
    for (int64_t t = 0; t < 12; t++) {
        memcpy(before, tr.net.params, sizeof(float) * tr.net.n_params);
        float loss;
        assert_int_equal(trainer_step(&tr, t, &loss, &err), DCQB_OK);
        assert_memory_equal(tr.ema.params, before, sizeof(float) * tr.net.n_params);
        struct head_queue_view v;
        assert_int_equal(head_queue_view(&tr.head, &v, &err), DCQB_OK);
        int n = 0;
        for (int64_t j = 0; j < v.L; j++) {
            if (v.step[j] != t) continue;
            n++;
            trainset_render(&tr.ts, x, v.src[j].cls, v.src[j].img, v.src[j].flip);
            trainer_embed(&tr, e, x, 1, 1);
            double nn = 0;
            for (int c = 0; c < d; c++) nn += (double)e[c] * e[c];
            for (int c = 0; c < d; c++) {
                double diff = fabs(e[c] / sqrt(nn) - v.keys[j * d + c]);
                if (diff > worst) worst = diff;
            }
        }
        assert_int_equal(n, NB);
    }
    if (worst > 1e-5) print_error("keys differ from the updated EMA net's by %g\n", worst);
    assert_true(worst < 1e-5);
    free(before), free(x), free(e);
    trainer_free(&tr);
}

/* ema = 1 for full: the same digest as ema = 0 (the EMA only observes), an EMA net that moved
 * off the online one and off its start, a checkpoint that restores it bit-exactly; dcq with
 * ema = 0 still keeps its EMA and records ema = 1. */
static void test_ema_for_any_head(void **state)
{
    (void)state;
    struct dcqb_err err = {0};
    static const char *const on[] = {"ema", "1", "mu", "0.9", NULL};
    static const char *const off[] = {"ema", "0", "mu", "0.9", NULL};
    struct trainer a, b, c;
    struct train_result ra, rb;
    assert_int_equal(setup(&a, "full", 30, off, &err), DCQB_OK);
    assert_int_equal(setup(&b, "full", 30, on, &err), DCQB_OK);
    assert_int_equal(a.has_ema, 0);
    assert_int_equal(b.has_ema, 1);
    assert_true(a.cfg_hash != b.cfg_hash);
    float *start = malloc(sizeof(float) * b.ema.n_params);
    memcpy(start, b.ema.params, sizeof(float) * b.ema.n_params);
    assert_int_equal(trainer_run(&a, NULL, NULL, NULL, NULL, NULL, &ra, &err), DCQB_OK);
    char path[512];
    snprintf(path, sizeof path, "%s/loop_ema.ckpt", test_tmpdir());
    remove(path);
    volatile sig_atomic_t stop = 0;
    assert_int_equal(trainer_run(&b, NULL, path, &stop, NULL, NULL, &rb, &err), DCQB_OK);
    assert_int_equal(ra.digest, rb.digest);
    assert_memory_equal(a.net.params, b.net.params, sizeof(float) * a.net.n_params);
    assert_memory_not_equal(b.ema.params, b.net.params, sizeof(float) * b.net.n_params);
    assert_memory_not_equal(b.ema.params, start, sizeof(float) * b.net.n_params);
    /* the EMA embeds differently from the online net (what eval.net = ema evaluates) */
    float *x = malloc(sizeof(float) * (size_t)b.ts.D), e0[16], e1[16];
    trainset_render(&b.ts, x, 3, 0, 0);
    trainer_embed(&b, e0, x, 1, 0);
    trainer_embed(&b, e1, x, 1, 1);
    assert_memory_not_equal(e0, e1, sizeof e0);
    free(x);
    /* the checkpoint carries it */
    assert_int_equal(setup(&c, "full", 30, on, &err), DCQB_OK);
    assert_int_equal(trainer_load(&c, path, &err), DCQB_OK);
    assert_memory_equal(c.ema.params, b.ema.params, sizeof(float) * b.ema.n_params);
    assert_memory_equal(c.ema.running, b.ema.running, sizeof(float) * b.ema.n_running);
    trainer_free(&a), trainer_free(&b), trainer_free(&c);
    free(start);
    /* dcq: ema = 0 is overruled and recorded as 1 */
    struct cfg k = {0};
    cfg_set(&k, "head", "dcq", "test", 1, NULL);
    cfg_set(&k, "ema", "0", "test", 1, NULL);
    cfg_set(&k, "profile", "uniform", "test", 1, NULL);
    cfg_set(&k, "ids", "40", "test", 1, NULL);
    cfg_set(&k, "batch", "16", "test", 1, NULL);
    cfg_set(&k, "queue_len", "16", "test", 1, NULL);
    cfg_set(&k, "hidden", "16", "test", 1, NULL);
    cfg_set(&k, "dim", "8", "test", 1, NULL);
    assert_int_equal(trainer_setup(&a, &k, &err), DCQB_OK);
    assert_int_equal(a.has_ema, 1);
    assert_int_equal(a.o.ema, 1);
    assert_string_equal(cfg_find(&k, "ema")->val, "1");
    trainer_free(&a);
    cfg_free(&k);
}

/* Read a curve file's rows without the samples_per_s column (timing). */
static char *curve_rows(const char *path)
{
    char *s = test_slurp(path);
    assert_non_null(s);
    char *out = calloc(1, strlen(s) + 1), *o = out;
    for (char *line = s; *line;) {
        char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        int col = 0;
        for (size_t i = 0; i < n; i++) {
            if (line[i] == '\t') col++;
            if (col != 3 || line[i] == '\t') *o++ = line[i];
        }
        *o++ = '\n';
        line += n + (nl ? 1 : 0);
    }
    free(s);
    return out;
}

/* N steps straight vs N/2, interrupted and resumed in a fresh trainer: digest, weights (online
 * and EMA), queue (keys, labels, sources, steps), records and curve rows (timing aside). */
static void test_dcq_resume_is_bit_exact(void **state)
{
    (void)state;
    static const char *const kv[] = {"kshot", "2", "log_every", "1", "drift_every", "4", NULL};
    struct dcqb_err err = {0};
    char ck[512], ca[512], cb[512];
    snprintf(ck, sizeof ck, "%s/loop_dcq.ckpt", test_tmpdir());
    snprintf(ca, sizeof ca, "%s/loop_dcq_a.tsv", test_tmpdir());
    snprintf(cb, sizeof cb, "%s/loop_dcq_b.tsv", test_tmpdir());
    remove(ck);
    struct trainer a, b;
    struct train_result ra, rb;
    FILE *fa = fopen(ca, "w"), *fb = fopen(cb, "w");
    assert_non_null(fa);
    assert_non_null(fb);
    assert_int_equal(setup(&a, "dcq", 40, kv, &err), DCQB_OK);
    assert_int_equal(trainer_run(&a, fa, NULL, NULL, NULL, NULL, &ra, &err), DCQB_OK);
    assert_int_equal(setup(&b, "dcq", 40, kv, &err), DCQB_OK);
    volatile sig_atomic_t stop = 0;
    struct test_stop_at sa = {&stop, 20};
    assert_int_equal(trainer_run(&b, fb, ck, &stop, test_stop_progress, &sa, &rb, &err),
                     DCQB_EINTR);
    trainer_free(&b);
    assert_int_equal(setup(&b, "dcq", 40, kv, &err), DCQB_OK);
    assert_int_equal(trainer_load(&b, ck, &err), DCQB_OK);
    assert_int_equal(b.t, 20);
    assert_int_equal(trainer_run(&b, fb, NULL, NULL, NULL, NULL, &rb, &err), DCQB_OK);
    fclose(fa), fclose(fb);
    assert_int_equal(ra.digest, rb.digest);
    assert_memory_equal(a.net.params, b.net.params, sizeof(float) * a.net.n_params);
    assert_memory_equal(a.ema.params, b.ema.params, sizeof(float) * a.ema.n_params);
    struct head_queue_view va, vb;
    assert_int_equal(head_queue_view(&a.head, &va, &err), DCQB_OK);
    assert_int_equal(head_queue_view(&b.head, &vb, &err), DCQB_OK);
    assert_int_equal(va.L, 48);
    assert_memory_equal(va.keys, vb.keys, sizeof(float) * 48 * (size_t)va.D);
    assert_memory_equal(va.labels, vb.labels, sizeof(int32_t) * 48);
    assert_memory_equal(va.step, vb.step, sizeof(int64_t) * 48);
    assert_memory_equal(va.src, vb.src, sizeof(struct head_key_src) * 48 * 2);
    assert_true(ra.eff_classes_mean == rb.eff_classes_mean);
    assert_true(ra.batch_labels_mean == rb.batch_labels_mean);
    assert_true(ra.queue_age_mean == rb.queue_age_mean);
    assert_true(ra.queue_drift_mean == rb.queue_drift_mean);
    char *rows_a = curve_rows(ca), *rows_b = curve_rows(cb);
    assert_string_equal(rows_a, rows_b);
    assert_non_null(strstr(rows_a, "\n36\t")); /* a drift row is there */
    free(rows_a), free(rows_b);
    trainer_free(&a), trainer_free(&b);
}

/* Queue age by hand: L = 40, B = 16, 16 slots written per step. After step 0: 16 slots of age
 * 0; step 1: 16 of age 1, 16 of age 0 (0.5); step 2: slots 0-7 and 32-39 step 2, 8-15 step 0,
 * 16-31 step 1: (0*16 + 1*16 + 2*8)/40 = 0.8; step 3: 8-23 step 3, 0-7 and 32-39 step 2,
 * 24-31 step 1: (16 + 2*8)/40 = 0.8. Heads without a queue: NaN. */
static void test_queue_age_by_hand(void **state)
{
    (void)state;
    static const char *const kv[] = {"queue_len", "40", NULL};
    static const double want[4] = {0.0, 0.5, 0.8, 0.8};
    struct dcqb_err err = {0};
    struct trainer tr;
    assert_int_equal(setup(&tr, "dcq", 10, kv, &err), DCQB_OK);
    double age, drift;
    assert_int_equal(trainer_queue_instruments(&tr, 0, &age, &drift, &err), DCQB_OK);
    assert_true(isnan(age) && isnan(drift)); /* nothing enqueued yet */
    for (int64_t t = 0; t < 4; t++) {
        float loss;
        assert_int_equal(trainer_step(&tr, t, &loss, &err), DCQB_OK);
        assert_int_equal(trainer_queue_instruments(&tr, t, &age, &drift, &err), DCQB_OK);
        if (fabs(age - want[t]) > 1e-12) print_error("step %d: age %g, want %g\n", (int)t, age,
                                                     want[t]);
        assert_true(fabs(age - want[t]) <= 1e-12);
        assert_true(drift > -1.0 && drift <= 1.0 + 1e-9);
    }
    trainer_free(&tr);
    assert_int_equal(setup(&tr, "full", 10, NULL, &err), DCQB_OK);
    float loss;
    assert_int_equal(trainer_step(&tr, 0, &loss, &err), DCQB_OK);
    assert_int_equal(trainer_queue_instruments(&tr, 0, &age, &drift, &err), DCQB_OK);
    assert_true(isnan(age) && isnan(drift));
    trainer_free(&tr);
}

/* Drift: with the EMA frozen (mu = 1) and the keys made in eval mode like the recomputation,
 * every queued key is recomputed as enqueued: cosine 1 (to float rounding of a forward of
 * another row count). With mu = 0 the EMA follows the online net, which moves at lr 0.2: the
 * queued keys of older steps no longer match (the instrument sees it). */
static void test_queue_drift(void **state)
{
    (void)state;
    static const char *const frozen[] = {"mu", "1", "ema_key_train", "0", "drift_every", "5",
                                         NULL};
    static const char *const moving[] = {"mu", "0", "ema_key_train", "0", "drift_every", "5",
                                         "queue_len", "160", NULL}; /* ages up to 9 steps */
    struct dcqb_err err = {0};
    struct trainer tr;
    struct train_result r;
    assert_int_equal(setup(&tr, "dcq", 21, frozen, &err), DCQB_OK);
    assert_int_equal(trainer_run(&tr, NULL, NULL, NULL, NULL, NULL, &r, &err), DCQB_OK);
    double frozen_drift = r.queue_drift_mean;
    assert_true(fabs(r.queue_age_mean - 1.0) < 1e-12); /* L = 3B: ages 0, 1, 2 */
    trainer_free(&tr);
    assert_int_equal(setup(&tr, "dcq", 21, moving, &err), DCQB_OK);
    assert_int_equal(trainer_run(&tr, NULL, NULL, NULL, NULL, NULL, &r, &err), DCQB_OK);
    double moving_drift = r.queue_drift_mean;
    trainer_free(&tr);
    print_message("drift: frozen EMA %.17g, mu = 0 %.9f\n", frozen_drift, moving_drift);
    assert_true(fabs(frozen_drift - 1.0) < 1e-6);
    assert_true(moving_drift < 0.99);
}

/* summary records: full C columns, dcq 1 + L, random between its floor and C, sampled at least
 * S; distinct labels in [1, B]; staleness L/B for dcq only. */
static void test_loop_records(void **state)
{
    (void)state;
    static const char *const heads[] = {"full", "random", "sampled", "dcq"};
    struct dcqb_err err = {0};
    for (int h = 0; h < 4; h++) {
        struct trainer tr;
        struct train_result r;
        assert_int_equal(setup(&tr, heads[h], 12, NULL, &err), DCQB_OK);
        assert_int_equal(trainer_run(&tr, NULL, NULL, NULL, NULL, NULL, &r, &err), DCQB_OK);
        assert_true(r.batch_labels_mean >= 1 && r.batch_labels_mean <= NB);
        assert_true(r.batch_labels_mean > 8); /* 16 draws over 40 classes: mostly distinct */
        switch (h) {
        case 0: assert_true(r.eff_classes_mean == 40.0); break;
        case 1: assert_true(r.eff_classes_mean >= r.batch_labels_mean &&
                            r.eff_classes_mean <= 40.0);
                break;
        case 2: assert_true(r.eff_classes_mean >= 4.0 && r.eff_classes_mean <= 4.0 + NB); break;
        case 3: assert_true(r.eff_classes_mean == 49.0); break;
        }
        if (h == 3) {
            assert_true(r.queue_staleness == 3.0);
            assert_false(isnan(r.queue_age_mean));
            assert_false(isnan(r.queue_drift_mean));
        } else {
            assert_true(isnan(r.queue_staleness) && isnan(r.queue_age_mean) &&
                        isnan(r.queue_drift_mean));
        }
        trainer_free(&tr);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_batches_for_every_head),
        cmocka_unit_test(test_refs_share_the_identity),
        cmocka_unit_test(test_ema_update_precedes_key_forward),
        cmocka_unit_test(test_ema_for_any_head),
        cmocka_unit_test(test_dcq_resume_is_bit_exact),
        cmocka_unit_test(test_queue_age_by_hand),
        cmocka_unit_test(test_queue_drift),
        cmocka_unit_test(test_loop_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
