/* test_margin.c - margin values against their formulas (docs/METHOD.md §3.1) and exact slopes
 * against central differences in double for every type, kinks skipped. */
#include "test_util.h"

#include "margin.h"

static const double PI_ = 3.14159265358979323846;

static void fd_check(const struct margin_cfg *mc, double kink)
{
    int checked = 0;
    for (double c = -0.97; c <= 0.97; c += 0.013) {
        if (fabs(c - kink) < 2e-3) continue; /* guard switch */
        double e = 1e-6;
        double num = (margin_forward_d(mc, c + e) - margin_forward_d(mc, c - e)) / (2 * e);
        double ana = margin_backward_d(mc, c);
        assert_close(ana, num, 1e-5, 1e-5);
        assert_close(margin_backward(mc, (float)c), ana, 1e-3, 1e-5);
        checked++;
    }
    assert_true(checked > 100);
}

static void test_cosface(void **state)
{
    (void)state;
    struct margin_cfg mc;
    margin_cfg_set(&mc, MARGIN_COSFACE, 64.0f, 0.4f);
    assert_int_equal(margin_validate(&mc, NULL), DCQB_OK);
    assert_close(margin_forward_d(&mc, 0.3), 64.0 * (0.3 - 0.4), 1e-5, 1e-6);
    assert_close(margin_forward(&mc, 0.3f), 64.0 * (0.3 - 0.4), 1e-4, 1e-6);
    fd_check(&mc, 9);
    margin_cfg_set(&mc, MARGIN_NONE, 30.0f, 0.4f);
    assert_close(margin_forward_d(&mc, 0.3), 9.0, 1e-9, 0);
    fd_check(&mc, 9);
}

static void test_arcface_guard(void **state)
{
    (void)state;
    struct margin_cfg mc;
    double m = 0.5, th = cos(PI_ - m);
    margin_cfg_set(&mc, MARGIN_ARCFACE, 64.0f, (float)m);
    double c = cos(1.0);
    assert_close(margin_forward_d(&mc, c), 64.0 * cos(1.0 + (float)m), 1e-4, 1e-6);
    /* below the guard: s (c - m sin m) */
    assert_close(margin_forward_d(&mc, -0.95), 64.0 * (-0.95 - sin(PI_ - (float)m) * (float)m),
                 1e-4, 1e-6);
    assert_close(margin_backward_d(&mc, -0.95), 64.0, 1e-9, 0);
    fd_check(&mc, th);
    /* easy margin: guard at 0, plain cos below */
    mc.easy_margin = 1;
    assert_close(margin_forward_d(&mc, -0.2), 64.0 * -0.2, 1e-4, 1e-6);
    fd_check(&mc, 0.0);
    /* straight-through: cos(theta + m) everywhere, slope s */
    mc.easy_margin = 0;
    mc.straight_through = 1;
    assert_close(margin_forward_d(&mc, -0.95), 64.0 * cos(acos(-0.95) + (float)m), 1e-4, 1e-6);
    assert_close(margin_backward_d(&mc, 0.5), 64.0, 0, 0);
    assert_close(margin_backward_d(&mc, -0.95), 64.0, 0, 0);
}

static void test_combined(void **state)
{
    (void)state;
    struct margin_cfg mc, ref;
    margin_cfg_set(&mc, MARGIN_COMBINED, 32.0f, 0.0f);
    mc.m1 = 1.2f;
    mc.m2 = 0.1f;
    mc.m3 = 0.05f;
    assert_int_equal(margin_validate(&mc, NULL), DCQB_OK);
    double c = 0.4;
    assert_close(margin_forward_d(&mc, c), 32.0 * (cos(1.2f * acos(c) + 0.1f) - 0.05f), 1e-4, 1e-6);
    fd_check(&mc, 9);
    /* (1, m2, 0) is ArcFace with its guard; (1, 0, m3) is CosFace */
    mc.m1 = 1.0f, mc.m2 = 0.5f, mc.m3 = 0.0f;
    margin_cfg_set(&ref, MARGIN_ARCFACE, 32.0f, 0.5f);
    for (double x = -0.99; x < 1.0; x += 0.01) {
        assert_close(margin_forward_d(&mc, x), margin_forward_d(&ref, x), 0, 0);
        assert_close(margin_backward_d(&mc, x), margin_backward_d(&ref, x), 0, 0);
    }
    mc.m2 = 0.0f, mc.m3 = 0.35f;
    margin_cfg_set(&ref, MARGIN_COSFACE, 32.0f, 0.35f);
    assert_close(margin_forward_d(&mc, 0.2), margin_forward_d(&ref, 0.2), 0, 0);
}

static void test_validate_and_ends(void **state)
{
    (void)state;
    struct margin_cfg mc;
    struct dcqb_err err = {0};
    margin_cfg_set(&mc, MARGIN_ARCFACE, 0.0f, 0.5f);
    assert_int_equal(margin_validate(&mc, &err), DCQB_EINVAL);
    assert_non_null(strstr(err.msg, "s = 0"));
    margin_cfg_set(&mc, MARGIN_COSFACE, 64.0f, -0.1f);
    assert_int_equal(margin_validate(&mc, NULL), DCQB_EINVAL);
    /* |cos| = 1 and beyond (rounding): finite value and slope */
    margin_cfg_set(&mc, MARGIN_ARCFACE, 64.0f, 0.5f);
    assert_true(isfinite(margin_forward(&mc, 1.0f)) && isfinite(margin_backward(&mc, 1.0f)));
    assert_true(isfinite(margin_forward(&mc, 1.0000001f)));
    assert_close(margin_forward_d(&mc, 1.0), 64.0 * cos((float)0.5), 1e-4, 1e-6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cosface),
        cmocka_unit_test(test_arcface_guard),
        cmocka_unit_test(test_combined),
        cmocka_unit_test(test_validate_and_ends),
    };
    return cmocka_run_group_tests_name("margin", tests, NULL, NULL);
}
