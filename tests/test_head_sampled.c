/* test_head_sampled.c - the `sampled` head, docs/METHOD.md §3.5: proposal probabilities and
 * expected counts against their closed forms, empirical draw frequencies (chi-square), loss and
 * gradients against a plain double reference (accidental hits, -ln Q, margin before the
 * correction, other rows' classes not negatives), finite differences, equality with `full`
 * when every class is sampled, touched-rows-only updates, save/load. */
#include "head_fixture.h"
#include "heads/sampled.h"

enum { C = 50, D = 8, B = 4 };

static const int32_t Y[B] = {3, 17, 3, 42};
static int32_t counts[C];

static int setup(void **state)
{
    (void)state;
    for (int c = 0; c < C; c++) counts[c] = 1 + (c * 7919) % 97; /* distinct-ish, all > 0 */
    counts[7] = counts[8];                                       /* one tie: broken by index */
    return 0;
}

/* Log-uniform P by rank of decreasing count (ties: lower index first), computed here apart. */
static double p_logu(int32_t c)
{
    int r = 0;
    for (int j = 0; j < C; j++)
        if (counts[j] > counts[c] || (counts[j] == counts[c] && j < c)) r++;
    return log((r + 2.0) / (r + 1.0)) / log(C + 1.0);
}

static double p_freq(int32_t c)
{
    double t = 0;
    for (int j = 0; j < C; j++) t += counts[j];
    return counts[c] / t;
}

/* TF's sampled logits in double (cosface s, m; log-uniform Q with T tries over S samples). */
static double ref_loss(double *demb, const float *W, const float *e, const int32_t *y, int Bn,
                       const int32_t *smp, int S, int64_t T, double s, double m, int corr)
{
    double total = 0;
    double z[64];
    for (int i = 0; i < Bn; i++) {
        const float *ei = e + i * D;
        int cols[64], n = 0;
        cols[n++] = y[i];
        for (int j = 0; j < S; j++)
            if (smp[j] != y[i]) cols[n++] = smp[j]; /* accidental hit removed */
        double mx = -INFINITY;
        for (int u = 0; u < n; u++) {
            const float *w = W + cols[u] * D;
            double dot = 0, nn = 0;
            for (int d = 0; d < D; d++) dot += (double)ei[d] * w[d], nn += (double)w[d] * w[d];
            double c = dot / sqrt(nn), p = p_logu(cols[u]);
            double q = T == S ? S * p : -expm1((double)T * log1p(-p));
            z[u] = s * (u == 0 ? c - m : c) - (corr ? log(q) : 0.0);
            if (z[u] > mx) mx = z[u];
        }
        double sum = 0;
        for (int u = 0; u < n; u++) sum += exp(z[u] - mx);
        total += log(sum) + mx - z[0];
        for (int d = 0; d < D; d++) {
            double g = 0;
            for (int u = 0; u < n; u++) {
                const float *w = W + cols[u] * D;
                double nn = 0;
                for (int k = 0; k < D; k++) nn += (double)w[k] * w[k];
                g += s * (exp(z[u] - mx) / sum - (u == 0)) * w[d] / sqrt(nn);
            }
            demb[i * D + d] = g / Bn;
        }
    }
    return total / Bn;
}

static const struct kv kv_logu[] = {{"sampler", "log_uniform"}, {NULL, NULL}};

static void test_probabilities(void **state)
{
    (void)state;
    struct head_cfg cfg = fx_cfg(C, D, B, 0.2, 1, kv_logu, counts);
    struct head st = fx_open("sampled", &cfg);
    double sum = 0;
    for (int c = 0; c < C; c++) {
        assert_close(head_sampled_prob(st.st, c), p_logu(c), 1e-15, 1e-12);
        sum += head_sampled_prob(st.st, c);
    }
    assert_close(sum, 1.0, 1e-12, 0);
    /* after one step: Q(c) = -expm1(T log1p(-P(c))) with this step's T (T > S here) */
    float emb[B * D], demb[B * D];
    fx_rows(emb, B, D, 1, 1);
    fx_loss(&st, NULL, NULL, C, D, emb, NULL, Y, B, demb);
    int64_t T = head_sampled_tries(st.st);
    assert_true(T > 10);
    for (int c = 0; c < C; c++)
        assert_close(head_sampled_expected(st.st, c), -expm1((double)T * log1p(-p_logu(c))), 1e-15,
                     1e-12);
    /* fixed classes: T = S, Q = S P */
    const int32_t fx5[5] = {0, 9, 3, 11, 40};
    struct dcqb_err err = {0};
    assert_int_equal(head_set_classes(&st, fx5, 5, &err), DCQB_OK);
    fx_loss(&st, NULL, NULL, C, D, emb, NULL, Y, B, demb);
    assert_int_equal(head_sampled_tries(st.st), 5);
    for (int c = 0; c < C; c++)
        assert_close(head_sampled_expected(st.st, c), 5 * p_logu(c), 1e-15, 1e-12);
    head_close(&st);
    static const struct kv kv_f[] = {{"sampler", "frequency"}, {NULL, NULL}};
    cfg = fx_cfg(C, D, B, 0.2, 1, kv_f, counts);
    st = fx_open("sampled", &cfg);
    for (int c = 0; c < C; c++) assert_close(head_sampled_prob(st.st, c), p_freq(c), 1e-15, 1e-12);
    head_close(&st);
}

/* Raw proposal draws: chi-square over C = 50 cells, 50,000 draws, 49 degrees of freedom;
 * fail above 100 (p ~ 2e-5 under the null; fixed seed, so deterministic). */
static void test_draw_frequencies(void **state)
{
    (void)state;
    static const struct kv kv_u[] = {{"sampler", "uniform"}, {NULL, NULL}};
    static const struct kv kv_f[] = {{"sampler", "frequency"}, {NULL, NULL}};
    const struct kv *kvs[3] = {kv_u, kv_logu, kv_f};
    const int n = 50000;
    for (int k = 0; k < 3; k++) {
        struct head_cfg cfg = fx_cfg(C, D, B, 0.2, 100 + k, kvs[k], counts);
        struct head st = fx_open("sampled", &cfg);
        int hist[C] = {0};
        for (int t = 0; t < n; t++) {
            int32_t c = head_sampled_draw(st.st);
            assert_true(c >= 0 && c < C);
            hist[c]++;
        }
        double chi2 = 0;
        for (int c = 0; c < C; c++) {
            double p = k == 0 ? 1.0 / C : (k == 1 ? p_logu(c) : p_freq(c)), e = n * p;
            chi2 += (hist[c] - e) * (hist[c] - e) / e;
        }
        if (chi2 >= 100) print_error("sampler %d: chi2 = %.1f\n", k, chi2);
        assert_true(chi2 < 100);
        head_close(&st);
    }
}

/* Fixed sampled set with two accidental hits (3 and 17 are labels), correction on, against
 * the double reference; and without correction. */
static void test_against_reference(void **state)
{
    (void)state;
    static const struct kv kv[] = {{"sampler", "log_uniform"}, {"s", "16"}, {"m", "0.2"},
                                   {NULL, NULL}};
    static const struct kv kv0[] = {{"sampler", "log_uniform"}, {"s", "16"}, {"m", "0.2"},
                                    {"subtract_log_q", "0"}, {NULL, NULL}};
    const int32_t smp[6] = {3, 5, 17, 20, 30, 0};
    float emb[B * D], W[C * D], demb[B * D];
    double dref[B * D];
    fx_rows(emb, B, D, 2, 1);
    fx_rows(W, C, D, 3, 0);
    struct dcqb_err err = {0};
    for (int corr = 1; corr >= 0; corr--) {
        struct head_cfg cfg = fx_cfg(C, D, B, 0.2, 2, corr ? kv : kv0, counts);
        struct head st = fx_open("sampled", &cfg);
        assert_int_equal(head_set_classes(&st, smp, 6, &err), DCQB_OK);
        double l = fx_loss(&st, NULL, W, C, D, emb, NULL, Y, B, demb);
        double lr_ = ref_loss(dref, W, emb, Y, B, smp, 6, 6, 16.0, 0.2, corr);
        assert_close(l, lr_, 1e-5, 1e-5);
        for (int i = 0; i < B * D; i++) assert_close(demb[i], dref[i], 1e-5, 1e-4);
        int32_t a[C];
        int64_t K;
        head_active_classes(&st, a, &K, NULL);
        assert_int_equal(K, 6);
        assert_memory_equal(a, smp, sizeof smp);
        head_close(&st);
    }
}

static void test_gradcheck(void **state)
{
    (void)state;
    static const struct kv kv[] = {{"sampler", "log_uniform"}, {"s", "8"}, {NULL, NULL}};
    static const struct kv kva[] = {{"sampler", "frequency"}, {"margin", "arcface"},
                                    {"s", "8"}, {NULL, NULL}};
    for (int arc = 0; arc < 2; arc++) { /* arcface: the target slope is not s */
        struct head_cfg cfg = fx_cfg(C, D, B, 0.2, 4, arc ? kva : kv, counts);
        struct head st = fx_open("sampled", &cfg);
        float emb[B * D], W[C * D];
        fx_rows(emb, B, D, 5 + arc, 1);
        fx_rows(W, C, D, 6 + arc, 0);
        assert_true(fx_gradcheck(&st, emb, NULL, Y, B, D, W, C, 200) <= 1.0);
        head_close(&st);
    }
}

/* ratio = 1, uniform: every class is sampled (in draw order), and the correction is the same
 * constant ln Q on every column, so with or without it the loss, d emb and d W equal the full
 * head's with the same margin (cosface s = 64, m = 0.4) and the same W init, to 1e-5 relative
 * (only the summation order differs). */
static void test_all_classes_equals_full(void **state)
{
    (void)state;
    static const struct kv kv0[] = {{"subtract_log_q", "0"}, {NULL, NULL}};
    static const struct kv kv1[] = {{"subtract_log_q", "1"}, {NULL, NULL}};
    float emb[B * D], ds[B * D], df[B * D], gs[C * D], gf[C * D];
    fx_rows(emb, B, D, 7, 1);
    for (int corr = 0; corr < 2; corr++) {
        struct head_cfg cfg = fx_cfg(C, D, B, 1.0, 8, corr ? kv1 : kv0, NULL);
        struct head s = fx_open("sampled", &cfg), f = fx_open("full", &cfg);
        double ls = fx_loss(&s, NULL, NULL, C, D, emb, NULL, Y, B, ds);
        double lf = fx_loss(&f, NULL, NULL, C, D, emb, NULL, Y, B, df);
        assert_close(ls, lf, 1e-6, 1e-5);
        assert_close_array(ds, df, B * D, 1e-6, 1e-4);
        head_weight_grad(&s, gs, NULL);
        head_weight_grad(&f, gf, NULL);
        assert_close_array(gs, gf, C * D, 1e-4, 1e-4);
        head_close(&s);
        head_close(&f);
    }
}

/* Rows outside (sampled + true) are bit-identical after step(); touched rows move. */
static void test_touched_rows_only(void **state)
{
    (void)state;
    struct head_cfg cfg = fx_cfg(C, D, B, 0.1, 9, kv_logu, counts);
    struct head st = fx_open("sampled", &cfg);
    float emb[B * D], demb[B * D], before[C * D];
    int32_t a[C];
    int64_t K;
    struct dcqb_err err = {0};
    fx_rows(emb, B, D, 9, 1);
    memcpy(before, head_class_weights(&st), sizeof before);
    fx_loss(&st, NULL, NULL, C, D, emb, NULL, Y, B, demb);
    head_active_classes(&st, a, &K, NULL);
    assert_int_equal(K, 5);
    assert_int_equal(head_step(&st, 0.1f, 0, &err), DCQB_OK);
    int touched[C] = {0};
    for (int k = 0; k < K; k++) touched[a[k]] = 1;
    for (int i = 0; i < B; i++) touched[Y[i]] = 1;
    const float *W = head_class_weights(&st);
    for (int c = 0; c < C; c++) {
        int same = memcmp(W + c * D, before + c * D, sizeof(float) * D) == 0;
        if (touched[c]) assert_false(same);
        else assert_true(same);
    }
    head_close(&st);
}

static void test_save_load_and_errors(void **state)
{
    (void)state;
    struct head_cfg cfg = fx_cfg(C, D, B, 0.2, 10, kv_logu, counts);
    struct head a = fx_open("sampled", &cfg);
    float emb[B * D], demb[B * D];
    struct dcqb_err err = {0};
    for (int t = 0; t < 3; t++) {
        fx_rows(emb, B, D, 30 + t, 1);
        fx_loss(&a, NULL, NULL, C, D, emb, NULL, Y, B, demb);
        assert_int_equal(head_step(&a, 0.1f, t, &err), DCQB_OK);
    }
    struct fx_snap s = fx_save(&a);
    cfg.seed = 11;
    struct head b = fx_open("sampled", &cfg);
    fx_load(&b, &s);
    assert_int_equal(head_digest(&a), head_digest(&b));
    for (int t = 0; t < 2; t++) {
        fx_rows(emb, B, D, 50 + t, 1);
        double la = fx_loss(&a, NULL, NULL, C, D, emb, NULL, Y, B, demb);
        double lb = fx_loss(&b, NULL, NULL, C, D, emb, NULL, Y, B, demb);
        assert_true(la == lb);
        assert_int_equal(head_step(&a, 0.1f, t, &err), DCQB_OK);
        assert_int_equal(head_step(&b, 0.1f, t, &err), DCQB_OK);
    }
    assert_int_equal(head_digest(&a), head_digest(&b));
    free(s.buf);
    head_close(&a);
    head_close(&b);
    /* log_uniform needs class counts; bad sampler names are named */
    struct head st;
    cfg = fx_cfg(C, D, B, 0.2, 1, kv_logu, NULL);
    assert_int_equal(head_open(&st, "sampled", &cfg, &err), DCQB_EINVAL);
    static const struct kv bad[] = {{"sampler", "zipf"}, {NULL, NULL}};
    cfg = fx_cfg(C, D, B, 0.2, 1, bad, counts);
    assert_int_equal(head_open(&st, "sampled", &cfg, &err), DCQB_EINVAL);
    assert_non_null(strstr(err.msg, "sampled: sampler = 'zipf'"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_probabilities),      cmocka_unit_test(test_draw_frequencies),
        cmocka_unit_test(test_against_reference),  cmocka_unit_test(test_gradcheck),
        cmocka_unit_test(test_all_classes_equals_full), cmocka_unit_test(test_touched_rows_only),
        cmocka_unit_test(test_save_load_and_errors),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
