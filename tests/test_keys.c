/* test_keys.c - the key tables (include/keyspec.h) and their reader (harness/core/keys.c): every
 * table's rows are well formed (unique names, help, one scope, defaults inside the range), a bad
 * value is refused naming its key, the generated help lists every key, the run hash follows the
 * scopes, config.ini leaves out only the CLI's keys, and train_defining_keys lists what defines
 * a run. */
#include "test_util.h"

#include <math.h>

#include "eval_rundir.h"
#include "keys.h"
#include "train_keys.h"

/* Each table with a struct holding its defaults. */
struct table {
    const char *what;
    const struct key_spec *tab;
    const void *defaults;
};

static struct train_settings g_train;
static struct synth_cfg g_synth[5];
static struct eval_rundir_opts g_eval;

static int n_tables(struct table *t)
{
    int n = 0;
    train_settings_defaults(&g_train);
    t[n++] = (struct table){"train", train_keys, &g_train};
    for (int p = 0; p < 5; p++) {
        memset(&g_synth[p], 0, sizeof g_synth[p]);
        g_synth[p].ids = 10000;
        synth_cfg_defaults(&g_synth[p], p);
        t[n++] = (struct table){synth_profile_names[p], synth_keys, &g_synth[p]};
    }
    t[n++] = (struct table){"synth_id", synth_id_keys, &g_synth[0]};
    eval_rundir_opts_defaults(&g_eval);
    t[n++] = (struct table){"eval", eval_rundir_keys, &g_eval};
    return n;
}

/* The numeric value of a row's field. */
static double field(const struct key_spec *k, const void *base)
{
    const char *p = (const char *)base + k->offset;
    int i;
    int64_t l;
    double d;
    float f;
    switch (k->type) {
    case KEY_I64: memcpy(&l, p, sizeof l); return (double)l;
    case KEY_DOUBLE: memcpy(&d, p, sizeof d); return d;
    case KEY_FLOAT: memcpy(&f, p, sizeof f); return f;
    default: memcpy(&i, p, sizeof i); return i;
    }
}

static void test_tables_well_formed(void **state)
{
    (void)state;
    struct table t[16];
    int nt = n_tables(t);
    for (int ti = 0; ti < nt; ti++) {
        int rows = 0;
        for (const struct key_spec *k = t[ti].tab; k->name; k++, rows++) {
            const char *w = t[ti].what;
            if (!k->help || !k->help[0]) print_error("%s: %s has no help\n", w, k->name);
            assert_true(k->help && k->help[0]);
            int s = k->scope;
            if (!(s == KEY_DEFINES_RUN || s == KEY_EXECUTION || s == KEY_CLI_ONLY ||
                  s == KEY_EVAL))
                print_error("%s: %s has scope %d\n", w, k->name, s);
            assert_true(s == KEY_DEFINES_RUN || s == KEY_EXECUTION || s == KEY_CLI_ONLY ||
                        s == KEY_EVAL);
            assert_true(k->type >= KEY_INT && k->type <= KEY_STR);
            if (k->type == KEY_CHOICE) {
                int v = (int)field(k, t[ti].defaults), n = 0;
                assert_non_null(k->choices);
                while (k->choices[n]) n++;
                assert_true(v >= 0 && v < n);
            }
            if (k->type == KEY_INT || k->type == KEY_I64 || k->type == KEY_DOUBLE ||
                k->type == KEY_FLOAT) {
                double v = field(k, t[ti].defaults);
                int open = (k->flags & KEY_LO_OPEN) != 0;
                assert_true(k->lo <= k->hi);
                if (k->flags & KEY_NO_DEFAULT) continue; /* the field is not a default */
                int in = v >= k->lo && v <= k->hi && !(open && v == k->lo);
                if (!in) print_error("%s: default %s = %g outside [%g, %g]\n", w, k->name, v,
                                     k->lo, k->hi);
                assert_true(in);
            }
        }
        assert_true(rows > 0);
    }
    /* names are unique across every table a run's config holds */
    const struct key_spec *run[] = {train_keys, synth_id_keys, synth_keys, eval_rundir_keys};
    for (int a = 0; a < 4; a++)
        for (const struct key_spec *k = run[a]; k->name; k++)
            for (int b = a; b < 4; b++)
                for (const struct key_spec *j = b == a ? k + 1 : run[b]; j->name; j++) {
                    if (strcmp(k->name, j->name) == 0) print_error("duplicate %s\n", k->name);
                    assert_string_not_equal(k->name, j->name);
                }
}

static void set(struct cfg *c, const char *k, const char *v)
{
    assert_int_equal(cfg_set(c, k, v, "my.ini", 4, NULL), DCQB_OK);
}

static void test_bad_value_names_the_key(void **state)
{
    (void)state;
    int n = 0;
    for (const struct key_spec *k = train_keys; k->name; k++) {
        if (k->type == KEY_STR || !(k->scope & (KEY_DEFINES_RUN | KEY_EXECUTION))) continue;
        struct cfg c = {0};
        struct train_settings s;
        struct dcqb_err err = {0};
        train_settings_defaults(&s);
        set(&c, k->name, "12abc");
        assert_int_equal(train_settings_read(&s, &c, &err), DCQB_EINVAL);
        if (!strstr(err.msg, k->name)) print_error("'%s' does not name %s\n", err.msg, k->name);
        assert_non_null(strstr(err.msg, k->name));
        assert_non_null(strstr(err.msg, "my.ini:4"));
        cfg_free(&c);
        n++;
    }
    assert_true(n >= 15);
    /* ratio is in (0, 1]: 0 is refused, 1 accepted */
    struct cfg c = {0};
    struct train_settings s;
    struct dcqb_err err = {0};
    train_settings_defaults(&s);
    set(&c, "ratio", "0");
    assert_int_equal(train_settings_read(&s, &c, &err), DCQB_EINVAL);
    assert_non_null(strstr(err.msg, "(0, 1]"));
    set(&c, "ratio", "1");
    assert_int_equal(train_settings_read(&s, &c, &err), DCQB_OK);
    assert_close(s.head.ratio, 1.0, 0, 0);
    /* steps and epochs exclude each other */
    set(&c, "steps", "10");
    set(&c, "epochs", "2");
    assert_int_equal(train_settings_read(&s, &c, &err), DCQB_EINVAL);
    assert_non_null(strstr(err.msg, "epochs"));
    cfg_free(&c);
}

/* Defaults come from the defaults functions and are recorded as short text. */
static void test_defaults_recorded(void **state)
{
    (void)state;
    struct cfg c = {0};
    struct train_settings s;
    struct head_cfg hc;
    head_cfg_defaults(&hc);
    train_settings_defaults(&s);
    assert_int_equal(train_settings_read(&s, &c, NULL), DCQB_OK);
    assert_true(s.head.ratio == hc.ratio);
    assert_true(s.head.init_std == hc.init_std);
    assert_true(s.o.optim.momentum == hc.optim.momentum);
    assert_true(s.o.optim.weight_decay == hc.optim.weight_decay);
    assert_string_equal(cfg_find(&c, "ratio")->val, "0.1");
    assert_string_equal(cfg_find(&c, "init_std")->val, "0.01");   /* a float field */
    assert_string_equal(cfg_find(&c, "lr")->val, "0.1");
    assert_string_equal(cfg_find(&c, "weight_decay")->val, "0.0005");
    assert_string_equal(cfg_find(&c, "lr_schedule")->val, "cosine");
    assert_string_equal(cfg_find(&c, "head")->val, "full");
    assert_null(cfg_find(&c, "epochs"));    /* KEY_NO_DEFAULT */
    assert_null(cfg_find(&c, "train_x"));   /* NULL string default */
    assert_null(cfg_find(&c, "out"));       /* the CLI's, not read here */
    cfg_free(&c);
}

static void test_help_lists_every_key(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    assert_non_null(m);
    train_help(m);
    fclose(m);
    for (const struct key_spec *k = train_keys; k->name; k++) {
        if (k->scope == KEY_CLI_ONLY) continue;
        char want[80];
        snprintf(want, sizeof want, "\n  %s ", k->name);
        if (!strstr(buf, want) && strncmp(buf, want + 1, strlen(want + 1)) != 0)
            print_error("help lacks %s\n", k->name);
        assert_true(strstr(buf, want) || strncmp(buf, want + 1, strlen(want + 1)) == 0);
    }
    assert_non_null(strstr(buf, "queue_len defaults to round(ratio*C)"));
    assert_non_null(strstr(buf, "(default 0.1)"));
    free(buf);
    /* flags style: --print-every for print_every */
    m = open_memstream(&buf, &len);
    keys_help(m, train_keys, &g_train, KEY_CLI_ONLY, KEYS_HELP_FLAGS, 17);
    fclose(m);
    assert_non_null(strstr(buf, "--print-every"));
    assert_null(strstr(buf, "--steps"));
    free(buf);
}

static uint64_t hash_of(struct cfg *c)
{
    struct train_settings s;
    uint64_t h;
    train_settings_defaults(&s);
    assert_int_equal(train_settings_read(&s, c, NULL), DCQB_OK);
    assert_int_equal(train_config_hash(c, &h, NULL), DCQB_OK);
    return h;
}

static void test_hash_follows_scopes(void **state)
{
    (void)state;
    struct cfg c = {0};
    set(&c, "steps", "40");
    uint64_t h0 = hash_of(&c);
    set(&c, "log_every", "3");     /* KEY_EXECUTION */
    set(&c, "ckpt_every", "7");
    set(&c, "out", "somewhere");   /* KEY_CLI_ONLY */
    set(&c, "eval.net", "ema");    /* KEY_EVAL */
    assert_true(hash_of(&c) == h0);
    set(&c, "batch", "32");        /* defines the run */
    uint64_t h1 = hash_of(&c);
    assert_true(h1 != h0);
    set(&c, "queue_len", "50");    /* a head's key defines it too */
    cfg_has(&c, "queue_len");
    assert_true(hash_of(&c) != h1);
    /* the hash is FNV-1a 64 of the resolved defining lines */
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    assert_int_equal(keys_write_scoped(&c, m, KEY_DEFINES_RUN, train_key_scope), DCQB_OK);
    fclose(m);
    assert_null(strstr(buf, "log_every"));
    assert_null(strstr(buf, "eval."));
    assert_true(dcqb_fnv1a64(DCQB_FNV1A64_INIT, buf, len) == hash_of(&c));
    free(buf);
    /* config.ini keeps execution and eval keys, drops the CLI's */
    m = open_memstream(&buf, &len);
    assert_int_equal(train_write_resolved(&c, m), DCQB_OK);
    fclose(m);
    assert_non_null(strstr(buf, "log_every = 3\n"));
    assert_non_null(strstr(buf, "eval.net = ema\n"));
    assert_non_null(strstr(buf, "batch = 32\n"));
    assert_null(strstr(buf, "out ="));
    free(buf);
    cfg_free(&c);
}

/* The defaults' resolved lines, pinned: a run's hash (and so every checkpoint's guard) depends
 * on exactly this text, which the hand-written getters produced before the table. */
static void test_default_lines_pinned(void **state)
{
    (void)state;
    struct cfg c = {0};
    struct train_settings s;
    train_settings_defaults(&s);
    assert_int_equal(train_settings_read(&s, &c, NULL), DCQB_OK);
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    assert_int_equal(keys_write_scoped(&c, m, KEY_DEFINES_RUN, train_key_scope), DCQB_OK);
    fclose(m);
    assert_string_equal(buf, "batch = 256\nclass_balanced = 0\ndepth = 2\ndim = 128\n"
                             "ema = 0\nema_key_train = 1\nflip_aug = 1\nhead = full\n"
                             "hidden = 512\ninit_std = 0.01\nlr = 0.1\nlr_schedule = cosine\n"
                             "momentum = 0.9\nmu = 0.999\nratio = 0.1\nresidual = 1\nseed = 1\n"
                             "steps = 1000\nthreads = 1\n"
                             "warmup = 0.05\nweight_decay = 0.0005\n");
    uint64_t h;
    assert_int_equal(train_config_hash(&c, &h, NULL), DCQB_OK);
    assert_true(h == dcqb_fnv1a64(DCQB_FNV1A64_INIT, buf, len));
    free(buf);
    cfg_free(&c);
}

static void test_defining_keys(void **state)
{
    (void)state;
    const char **keys = NULL;
    int n = 0;
    assert_int_equal(train_defining_keys(&keys, &n, NULL), DCQB_OK);
    assert_true(n > 40);
    for (int i = 1; i < n; i++) assert_true(strcmp(keys[i - 1], keys[i]) < 0);
    const char *want[] = {"ratio", "seed", "head", "nuis_var", "data_seed", "queue_len",
                          "margin", "s", "epochs"};
    const char *never[] = {"log_every", "ckpt_every", "out", "resume", "eval.net",
                           "print_every"};
    for (size_t w = 0; w < sizeof want / sizeof *want; w++) {
        int found = 0;
        for (int i = 0; i < n; i++) found |= strcmp(keys[i], want[w]) == 0;
        if (!found) print_error("missing %s\n", want[w]);
        assert_true(found);
    }
    for (size_t w = 0; w < sizeof never / sizeof *never; w++)
        for (int i = 0; i < n; i++) assert_string_not_equal(keys[i], never[w]);
    /* every listed key is known to training */
    for (int i = 0; i < n; i++) assert_true(train_key_known(keys[i]));
    free(keys);
    assert_false(train_key_known("out"));
    assert_false(train_key_known("stpes"));
    assert_true(train_key_known("log_every"));
    assert_true(train_key_known("eval.anything"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tables_well_formed),
        cmocka_unit_test(test_bad_value_names_the_key),
        cmocka_unit_test(test_defaults_recorded),
        cmocka_unit_test(test_help_lists_every_key),
        cmocka_unit_test(test_hash_follows_scopes),
        cmocka_unit_test(test_default_lines_pinned),
        cmocka_unit_test(test_defining_keys),
    };
    return cmocka_run_group_tests_name("keys", tests, NULL, NULL);
}
