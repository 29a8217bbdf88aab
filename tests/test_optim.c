/* test_optim.c - SGD momentum + weight decay against a hand computation (PyTorch convention)
 * and the learning-rate schedules at their defining points. */
#include "test_util.h"

#include "optim.h"

static void test_sgd_by_hand(void **state)
{
    (void)state;
    struct optim_cfg o = {.momentum = 0.9f, .weight_decay = 0.1f};
    float w[2] = {1.0f, -2.0f}, v[2] = {0, 0};
    const float g1[2] = {0.5f, 0.25f}, g2[2] = {-1.0f, 0.0f};
    sgd_step(w, v, g1, 2, 0.1f, &o);
    /* g' = 0.5 + 0.1 = 0.6; v = 0.6; w = 1 - 0.06 = 0.94.  g' = 0.25 - 0.2 = 0.05; w = -2.005 */
    assert_close(v[0], 0.6, 1e-7, 0);
    assert_close(w[0], 0.94, 1e-7, 0);
    assert_close(v[1], 0.05, 1e-7, 0);
    assert_close(w[1], -2.005, 1e-6, 0);
    sgd_step(w, v, g2, 2, 0.1f, &o);
    /* g' = -1 + 0.094 = -0.906; v = 0.54 - 0.906 = -0.366; w = 0.94 + 0.0366 = 0.9766 */
    assert_close(v[0], -0.366, 1e-6, 0);
    assert_close(w[0], 0.9766, 1e-6, 0);
    /* g' = -0.2005; v = 0.045 - 0.2005 = -0.1555; w = -2.005 + 0.01555 */
    assert_close(v[1], -0.1555, 1e-6, 0);
    assert_close(w[1], -1.98945, 1e-6, 0);
}

static void test_lr_schedules(void **state)
{
    (void)state;
    struct lr_cfg c = {.base = 0.1f, .schedule = LR_COSINE, .warmup = 0.05};
    /* T = 105: W = 5 warm-up steps, then cosine over 100 */
    assert_close(lr_at(&c, 0, 105), 0.02, 1e-8, 0);
    assert_close(lr_at(&c, 4, 105), 0.1, 1e-8, 0);
    assert_close(lr_at(&c, 5, 105), 0.1, 1e-8, 0);
    assert_close(lr_at(&c, 55, 105), 0.05, 1e-7, 0);
    assert_close(lr_at(&c, 30, 105), 0.05 * (1 + cos(3.14159265358979 * 0.25)), 1e-7, 0);
    assert_close(lr_at(&c, 105, 105), 0.0, 1e-9, 0);
    c.schedule = LR_LINEAR;
    assert_close(lr_at(&c, 55, 105), 0.05, 1e-7, 0);
    assert_close(lr_at(&c, 80, 105), 0.025, 1e-7, 0);
    c.schedule = LR_CONSTANT;
    assert_close(lr_at(&c, 80, 105), 0.1, 1e-8, 0);
    c.schedule = LR_STEP;
    c.warmup = 0;
    c.step_at[0] = 0.5;
    c.step_at[1] = 0.75;
    c.n_step_at = 2;
    c.step_gamma = 0.1f;
    assert_close(lr_at(&c, 0, 100), 0.1, 1e-8, 0);
    assert_close(lr_at(&c, 49, 100), 0.1, 1e-8, 0);
    assert_close(lr_at(&c, 50, 100), 0.01, 1e-8, 0);
    assert_close(lr_at(&c, 75, 100), 0.001, 1e-9, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgd_by_hand),
        cmocka_unit_test(test_lr_schedules),
    };
    return cmocka_run_group_tests_name("optim", tests, NULL, NULL);
}
