/* test_data_cfg.c - synth_cfg_from_cfg (harness/core/data_cfg.c) over datasets/synth_keys.c: the
 * keys train/eval/sweep share.
 * Defaults per profile, data_seed falling back to seed, every knob settable by its field name,
 * range errors naming the key, and unknown keys left for cfg_check_unused. */
#include "test_util.h"

#include "data_cfg.h"
#include "keys.h"

static void test_defaults_and_seed(void **state)
{
    (void)state;
    struct cfg c = {0};
    struct synth_cfg sc, want = {.seed = 1, .ids = 10000};
    assert_int_equal(synth_cfg_from_cfg(&sc, &c, NULL), DCQB_OK);
    synth_cfg_defaults(&want, SYNTH_MS1M);
    assert_memory_equal(&sc, &want, sizeof sc);
    /* seed feeds data_seed unless data_seed is given (a fresh cfg: getters record defaults) */
    cfg_free(&c);
    assert_int_equal(cfg_set(&c, "seed", "17", "test", 1, NULL), DCQB_OK);
    assert_int_equal(cfg_set(&c, "profile", "mf2", "test", 2, NULL), DCQB_OK);
    assert_int_equal(synth_cfg_from_cfg(&sc, &c, NULL), DCQB_OK);
    assert_int_equal(sc.seed, 17);
    assert_int_equal(sc.profile, SYNTH_MF2);
    assert_close(sc.zipf_alpha, 2.2, 0, 0);
    assert_int_equal(cfg_set(&c, "data_seed", "5", "test", 3, NULL), DCQB_OK);
    assert_int_equal(synth_cfg_from_cfg(&sc, &c, NULL), DCQB_OK);
    assert_int_equal(sc.seed, 5);
    cfg_free(&c);
}

static void test_every_knob_by_field_name(void **state)
{
    (void)state;
    struct cfg c = {0};
    struct synth_cfg sc, def = {.seed = 1, .ids = 10000};
    synth_cfg_defaults(&def, SYNTH_MS1M);
    int n = 0;
    for (const struct key_spec *k = synth_keys; k->name; k++, n++) {
        /* a value inside the range and different from the default */
        char v[32];
        snprintf(v, sizeof v, "%s", k->type == KEY_DOUBLE ? "0.25" : "1");
        if (strcmp(k->name, "lfw_pairs") == 0) snprintf(v, sizeof v, "20");
        if (strcmp(k->name, "id_dim") == 0 || strcmp(k->name, "holdout") == 0)
            snprintf(v, sizeof v, "%s", strcmp(k->name, "holdout") == 0 ? "0" : "2");
        assert_int_equal(cfg_set(&c, k->name, v, "test", n + 1, NULL), DCQB_OK);
    }
    assert_true(n >= 23);
    assert_int_equal(synth_cfg_from_cfg(&sc, &c, NULL), DCQB_OK);
    assert_int_equal(cfg_check_unused(&c, NULL), DCQB_OK); /* every key was read */
    for (const struct key_spec *k = synth_keys; k->name; k++) {
        char a[48], b[48];
        keys_format(a, sizeof a, k, &sc);
        keys_format(b, sizeof b, k, &def);
        if (strcmp(a, b) == 0) print_error("knob %s not applied (%s)\n", k->name, a);
        assert_string_not_equal(a, b);
    }
    cfg_free(&c);
}

static void test_errors_name_the_key(void **state)
{
    (void)state;
    struct cfg c = {0};
    struct synth_cfg sc;
    struct dcqb_err err = {0};
    assert_int_equal(cfg_set(&c, "nuis_var", "-1", "my.conf", 7, NULL), DCQB_OK);
    assert_int_equal(synth_cfg_from_cfg(&sc, &c, &err), DCQB_EINVAL);
    assert_non_null(strstr(err.msg, "nuis_var"));
    assert_non_null(strstr(err.msg, "my.conf"));
    cfg_free(&c);
    assert_int_equal(cfg_set(&c, "profile", "celeb", "my.conf", 2, NULL), DCQB_OK);
    assert_int_equal(synth_cfg_from_cfg(&sc, &c, &err), DCQB_EINVAL);
    assert_non_null(strstr(err.msg, "celeb"));
    cfg_free(&c);
    assert_int_equal(cfg_set(&c, "nuis_varr", "1", "my.conf", 3, NULL), DCQB_OK);
    assert_int_equal(synth_cfg_from_cfg(&sc, &c, &err), DCQB_OK);
    assert_int_equal(cfg_check_unused(&c, &err), DCQB_EINVAL);
    assert_non_null(strstr(err.msg, "nuis_varr"));
    cfg_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_seed),
        cmocka_unit_test(test_every_knob_by_field_name),
        cmocka_unit_test(test_errors_name_the_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
