/* test_head_dcq.c - the `dcq` head, docs/METHOD.md §3.4: gradient by finite differences,
 * loss and d q against a plain double reference (positive in column 0, own label masked, keys
 * constants), queue init, ring order with wrap-around when L % B != 0, enqueue only in step(),
 * what the head asks of the loop, save/load. (EMA with mu = 0 equals the online network is the
 * training loop's property: harness/train/train.c owns the EMA copy.) */
#include "head_fixture.h"
#include "heads/dcq.h"

enum { C = 50, D = 8, B = 4 };

static const int32_t Y[B] = {3, 17, 3, 42};

/* loss and dq (B,D) of docs/METHOD.md §3.4 in double, cosface (s, m), skipping Qlab == y_i. */
static double ref_loss(double *dq, const float *q, const float *k, const int32_t *y, int Bn,
                       const float *Q, const int32_t *Ql, int L, double s, double m)
{
    double total = 0;
    double *z = malloc(sizeof(double) * (size_t)(L + 1));
    for (int i = 0; i < Bn; i++) {
        const float *qi = q + i * D, *ki = k + i * D;
        double c0 = 0;
        for (int d = 0; d < D; d++) c0 += (double)qi[d] * ki[d];
        z[0] = s * (c0 - m);
        double mx = z[0];
        for (int j = 0; j < L; j++) {
            double c = 0;
            for (int d = 0; d < D; d++) c += (double)qi[d] * Q[j * D + d];
            z[j + 1] = Ql[j] == y[i] ? -INFINITY : s * c;
            if (z[j + 1] > mx) mx = z[j + 1];
        }
        double sum = 0;
        for (int j = 0; j <= L; j++) sum += exp(z[j] - mx);
        total += log(sum) + mx - z[0];
        for (int d = 0; d < D; d++) {
            double g = s * (exp(z[0] - mx) / sum - 1.0) * ki[d];
            for (int j = 0; j < L; j++) g += s * exp(z[j + 1] - mx) / sum * Q[j * D + d];
            dq[i * D + d] = g / Bn;
        }
    }
    free(z);
    return total / Bn;
}

static void test_init_and_req(void **state)
{
    (void)state;
    struct head_cfg cfg = fx_cfg(C, D, B, 0.1, 1, NULL, NULL);
    struct head st = fx_open("dcq", &cfg);
    struct head_req req = st.req;
    assert_int_equal(req.pairs, 1);
    assert_int_equal(req.ema, 1);
    assert_int_equal(req.ema_bn, 1);
    assert_int_equal(req.kshot, 1);
    assert_int_equal(req.eval_ema, 1);
    const int32_t *ql;
    int ptr, L;
    const float *Q = head_dcq_queue(st.st, &ql, &ptr, &L);
    assert_int_equal(L, 5); /* round(0.1 * 50) */
    assert_int_equal(ptr, 0);
    for (int j = 0; j < L; j++) {
        assert_int_equal(ql[j], -1);
        double n = 0;
        for (int d = 0; d < D; d++) n += (double)Q[j * D + d] * Q[j * D + d];
        assert_close(n, 1.0, 1e-5, 0);
    }
    assert_int_equal(head_queue_classes(&st), 0);
    struct head_cost cost;
    head_cost(&st, B, &cost);
    assert_true(cost.per_class_bytes == 0.0);
    assert_int_equal(cost.active_classes, 6);
    head_close(&st);
    static const struct kv kv[] = {{"queue_len", "7"}, {"kshot", "3"},
                                   {"eval_net", "online"}, {"ema_bn", "0"}, {NULL, NULL}};
    cfg = fx_cfg(C, D, B, 0.1, 1, kv, NULL);
    st = fx_open("dcq", &cfg);
    req = st.req;
    head_dcq_queue(st.st, NULL, NULL, &L);
    assert_int_equal(L, 7);
    assert_int_equal(req.kshot, 3);
    assert_int_equal(req.eval_ema, 0);
    assert_int_equal(req.ema_bn, 0);
    head_close(&st);
    /* a queue shorter than the batch is refused (docs/METHOD.md §3.4); L = B is fine */
    static const struct kv kshort[] = {{"queue_len", "3"}, {NULL, NULL}};
    static const struct kv kequal[] = {{"queue_len", "4"}, {NULL, NULL}};
    struct dcqb_err err;
    cfg = fx_cfg(C, D, B, 0.1, 1, kshort, NULL);
    assert_int_equal(head_open(&st, "dcq", &cfg, &err), DCQB_EINVAL);
    assert_non_null(strstr(err.msg, "dcq: queue length L = 3 is shorter than the batch B = 4"));
    cfg = fx_cfg(C, D, B, 0.1, 1, kequal, NULL);
    st = fx_open("dcq", &cfg);
    head_close(&st);
}

/* Loss and d q against the double reference, on a queue holding own-label slots that are
 * near-copies of q (they would dominate the softmax if not masked). */
static void test_against_reference(void **state)
{
    (void)state;
    static const struct kv kv[] = {{"queue_len", "9"}, {NULL, NULL}};
    struct head_cfg cfg = fx_cfg(C, D, B, 0.1, 2, kv, NULL);
    struct head st = fx_open("dcq", &cfg);
    float q[B * D], k[B * D], Q[9 * D], demb[B * D];
    double dref[B * D];
    int32_t ql[9] = {5, 3, -1, 17, 8, 3, 9, 42, 11};
    fx_rows(q, B, D, 1, 1);
    fx_rows(k, B, D, 2, 1);
    fx_rows(Q, 9, D, 3, 1);
    memcpy(Q + 1 * D, q, sizeof(float) * D);     /* label 3 = y_0: masked for rows 0, 2 */
    memcpy(Q + 3 * D, q + D, sizeof(float) * D); /* label 17 = y_1 */
    struct dcqb_err err = {0};
    assert_int_equal(head_set_queue(&st, Q, ql, 9, &err), DCQB_OK);
    double l = fx_loss(&st, NULL, NULL, C, D, q, k, Y, B, demb);
    double lref = ref_loss(dref, q, k, Y, B, Q, ql, 9, 50.0, 0.3);
    assert_close(l, lref, 1e-5, 1e-5);
    for (int i = 0; i < B * D; i++) assert_close(demb[i], dref[i], 1e-5, 1e-4);
    /* demb accumulates */
    float loss;
    assert_int_equal(head_forward_backward(&st, &loss, demb, q, k, Y, B, &err), DCQB_OK);
    for (int i = 0; i < B * D; i++) assert_close(demb[i], 2 * dref[i], 1e-5, 1e-4);
    /* rows labelled 3 do not see the label-3 slots at all: change slots 1 and 5, same loss
     * for them; rows labelled 17 and 42 do see them (the full batch loss moves) */
    float Q2[9 * D], q3[2 * D], k3[2 * D];
    const int32_t y3[2] = {3, 3};
    memcpy(q3, q, sizeof(float) * D), memcpy(q3 + D, q + 2 * D, sizeof(float) * D);
    memcpy(k3, k, sizeof(float) * D), memcpy(k3 + D, k + 2 * D, sizeof(float) * D);
    double l3 = fx_loss(&st, NULL, NULL, C, D, q3, k3, y3, 2, demb);
    memcpy(Q2, Q, sizeof Q2);
    fx_rows(Q2 + 1 * D, 1, D, 77, 1);
    fx_rows(Q2 + 5 * D, 1, D, 78, 1);
    assert_int_equal(head_set_queue(&st, Q2, ql, 9, &err), DCQB_OK);
    assert_true(fx_loss(&st, NULL, NULL, C, D, q3, k3, y3, 2, demb) == l3);
    double l2 = fx_loss(&st, NULL, NULL, C, D, q, k, Y, B, demb);
    assert_true(fabs(l2 - l) > 1e-3);
    assert_close(l2, ref_loss(dref, q, k, Y, B, Q2, ql, 9, 50.0, 0.3), 1e-5, 1e-5);
    /* the positive is column 0 and it is the key: key = q gives a lower loss than key = -q */
    float negq[B * D];
    for (int i = 0; i < B * D; i++) negq[i] = -q[i];
    double lpos = fx_loss(&st, NULL, NULL, C, D, q, q, Y, B, demb);
    double lneg = fx_loss(&st, NULL, NULL, C, D, q, negq, Y, B, demb);
    assert_true(lpos < lneg);
    assert_close(lpos, ref_loss(dref, q, q, Y, B, Q2, ql, 9, 50.0, 0.3), 1e-5, 1e-5);
    head_close(&st);
}

static void test_gradcheck(void **state)
{
    (void)state;
    static const struct kv kv[] = {{"queue_len", "11"}, {"s", "8"}, {NULL, NULL}};
    static const struct kv kva[] = {{"queue_len", "11"}, {"s", "8"}, {"margin", "arcface"},
                                    {NULL, NULL}};
    for (int arc = 0; arc < 2; arc++) { /* arcface: the positive's slope is not s */
        struct head_cfg cfg = fx_cfg(C, D, B, 0.1, 3, arc ? kva : kv, NULL);
        struct head st = fx_open("dcq", &cfg);
        float q[B * D], k[B * D], Q[11 * D];
        int32_t ql[11] = {3, 1, 2, 17, 4, 5, 6, 7, 8, 9, 42};
        fx_rows(q, B, D, 4, 1);
        fx_rows(k, B, D, 5, 1);
        fx_rows(Q, 11, D, 6, 1);
        struct dcqb_err err = {0};
        assert_int_equal(head_set_queue(&st, Q, ql, 11, &err), DCQB_OK);
        assert_true(fx_gradcheck(&st, q, k, Y, B, D, NULL, C, 0) <= 1.0);
        head_close(&st);
    }
}

/* L = 7, B = 3: slots fill 0-2, 3-5, then 6, 0, 1 (wrap), ptr 2. forward_backward leaves the
 * queue alone (keys of this step are not negatives in it); step() writes. */
static void test_ring_order(void **state)
{
    (void)state;
    static const struct kv kv[] = {{"queue_len", "7"}, {NULL, NULL}};
    enum { Bs = 3 };
    struct head_cfg cfg = fx_cfg(C, D, Bs, 0.1, 4, kv, NULL);
    struct head st = fx_open("dcq", &cfg);
    float q[Bs * D], k[3][Bs * D], demb[Bs * D];
    int32_t y[3][Bs] = {{1, 2, 3}, {4, 5, 6}, {7, 8, 9}};
    struct dcqb_err err = {0};
    fx_rows(q, Bs, D, 7, 1);
    const int32_t *ql;
    int ptr, L;
    for (int t = 0; t < 3; t++) {
        fx_rows(k[t], Bs, D, 10 + t, 1);
        uint32_t before = head_digest(&st);
        fx_loss(&st, NULL, NULL, C, D, q, k[t], y[t], Bs, demb);
        assert_int_equal(head_digest(&st), before); /* no enqueue before step */
        assert_int_equal(head_step(&st, 0.1f, t, &err), DCQB_OK);
        assert_int_not_equal(head_digest(&st), before);
    }
    const float *Q = head_dcq_queue(st.st, &ql, &ptr, &L);
    assert_int_equal(ptr, 2);
    /* slot j holds row who_i[j] of step who_t[j] */
    const int who_t[7] = {2, 2, 0, 1, 1, 1, 2}, who_i[7] = {1, 2, 2, 0, 1, 2, 0};
    for (int j = 0; j < 7; j++) {
        assert_int_equal(ql[j], y[who_t[j]][who_i[j]]);
        assert_memory_equal(Q + j * D, k[who_t[j]] + who_i[j] * D, sizeof(float) * D);
    }
    assert_int_equal(head_queue_classes(&st), 7);
    /* step without a forward_backward is refused; a missing key too */
    assert_int_equal(head_step(&st, 0.1f, 3, &err), DCQB_EINVAL);
    float loss;
    assert_int_equal(head_forward_backward(&st, &loss, demb, q, NULL, y[0], Bs, &err),
                     DCQB_EINVAL);
    head_close(&st);
}

/* The batch's own key is never a negative in its own step, and an enqueued key with a different
 * label is a negative next step: with key = q (cos 1) enqueued under label 8, a row with label
 * 9 and the same q sees it as a hard negative next step (loss rises), a row with label 8 not. */
static void test_enqueue_after_loss(void **state)
{
    (void)state;
    static const struct kv kv[] = {{"queue_len", "5"}, {"s", "10"}, {NULL, NULL}};
    struct head_cfg cfg = fx_cfg(C, D, 1, 0.1, 5, kv, NULL);
    struct head st = fx_open("dcq", &cfg);
    float q[D], demb[D];
    struct dcqb_err err = {0};
    fx_rows(q, 1, D, 8, 1);
    const int32_t y8[1] = {8}, y9[1] = {9};
    struct fx_snap s0 = fx_save(&st);
    double l0 = fx_loss(&st, NULL, NULL, C, D, q, q, y8, 1, demb);
    assert_int_equal(head_step(&st, 0.1f, 0, &err), DCQB_OK);
    struct fx_snap s1 = fx_save(&st);
    double l_same = fx_loss(&st, &s1, NULL, C, D, q, q, y8, 1, demb);
    double l_other = fx_loss(&st, &s1, NULL, C, D, q, q, y9, 1, demb);
    double l_other0 = fx_loss(&st, &s0, NULL, C, D, q, q, y9, 1, demb);
    assert_close(l_other0, l0, 1e-6, 1e-6); /* initial queue: labels -1, label irrelevant */
    assert_true(l_other > l0 + 0.5);        /* own key now a hard negative for label 9 */
    assert_true(l_same < l_other);          /* masked for label 8 */
    free(s0.buf);
    free(s1.buf);
    head_close(&st);
}

static void test_save_load(void **state)
{
    (void)state;
    static const struct kv kv[] = {{"queue_len", "6"}, {NULL, NULL}};
    struct head_cfg cfg = fx_cfg(C, D, B, 0.1, 6, kv, NULL);
    struct head a = fx_open("dcq", &cfg);
    float q[B * D], k[B * D], demb[B * D];
    struct dcqb_err err = {0};
    for (int t = 0; t < 3; t++) {
        fx_rows(q, B, D, 20 + t, 1);
        fx_rows(k, B, D, 40 + t, 1);
        fx_loss(&a, NULL, NULL, C, D, q, k, Y, B, demb);
        assert_int_equal(head_step(&a, 0.1f, t, &err), DCQB_OK);
    }
    struct fx_snap s = fx_save(&a);
    cfg.seed = 60;
    struct head b = fx_open("dcq", &cfg);
    assert_int_not_equal(head_digest(&a), head_digest(&b));
    fx_load(&b, &s);
    assert_int_equal(head_digest(&a), head_digest(&b));
    fx_rows(q, B, D, 90, 1);
    fx_rows(k, B, D, 91, 1);
    double la = fx_loss(&a, NULL, NULL, C, D, q, k, Y, B, demb);
    double lb = fx_loss(&b, NULL, NULL, C, D, q, k, Y, B, demb);
    assert_true(la == lb);
    assert_int_equal(head_queue_classes(&a), 3); /* labels 3, 17, 42 */
    assert_int_equal(head_load(&b, s.buf, s.n - 4, &err), DCQB_EFORMAT);
    free(s.buf);
    head_close(&a);
    head_close(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_and_req),  cmocka_unit_test(test_against_reference),
        cmocka_unit_test(test_gradcheck),     cmocka_unit_test(test_ring_order),
        cmocka_unit_test(test_enqueue_after_loss), cmocka_unit_test(test_save_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
