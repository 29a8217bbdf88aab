/* test_cli_data.c - 'dcqbench data' end to end through the built binary ($DCQBENCH, set by
 * `make test`; bin/dcqbench otherwise): describe (text, --json, --hist), export to npy and dcqb
 * byte-equal to the library's rendering, verify (good and corrupt), unknown flags, --help; and
 * synth_export (datasets/export.h), the export command's body, called in process. */
#include "test_util.h"

#include <sys/wait.h>

#include "dsfile.h"
#include "export.h"
#include "npy.h"
#include "synth.h"

static void test_describe_json(void **state)
{
    (void)state;
    static char out[8192];
    assert_int_equal(test_run_cli(out, sizeof out, "data describe --profile mf2 --ids 20000 --json"), 0);
    assert_non_null(strstr(out, "\"identities\": 20000"));
    assert_non_null(strstr(out, "\"images\": "));
    assert_non_null(strstr(out, "\"profile\": \"mf2\""));
    const char *s = strstr(out, "\"share_under_10\": ");
    assert_non_null(s);
    double share = atof(s + strlen("\"share_under_10\": "));
    assert_true(share > 0.85 && share < 0.92);
    for (const char *k = "min\0median\0mean\0max\0seed\0"; *k; k += strlen(k) + 1) {
        char key[32];
        snprintf(key, sizeof key, "\"%s\": ", k);
        assert_non_null(strstr(out, key));
    }
    /* the same statistics as the library */
    struct synth_cfg cfg = {.seed = 1, .ids = 20000};
    synth_cfg_defaults(&cfg, SYNTH_MF2);
    struct synth *sy;
    assert_int_equal(synth_create(&sy, &cfg, NULL), DCQB_OK);
    struct synth_stats st;
    synth_stats(sy, &st);
    char want[64];
    snprintf(want, sizeof want, "\"images\": %lld,", (long long)st.images);
    assert_non_null(strstr(out, want));
    synth_free(sy);
}

static void test_describe_text_and_hist(void **state)
{
    (void)state;
    static char out[8192], cmd[1024];
    snprintf(cmd, sizeof cmd, "data describe --profile uniform --ids 50 --uniform-n 12 --hist "
             "%s/hist.tsv", test_tmpdir());
    assert_int_equal(test_run_cli(out, sizeof out, cmd), 0);
    assert_non_null(strstr(out, "identities       50"));
    assert_non_null(strstr(out, "images           600"));
    char p[512], line[128];
    snprintf(p, sizeof p, "%s/hist.tsv", test_tmpdir());
    FILE *f = fopen(p, "r");
    assert_non_null(f);
    assert_non_null(fgets(line, sizeof line, f));
    assert_string_equal(line, "size\tcount\n");
    assert_non_null(fgets(line, sizeof line, f));
    assert_string_equal(line, "12\t50\n");
    assert_null(fgets(line, sizeof line, f));
    fclose(f);
}

static void test_unknown_flag_and_bad_value(void **state)
{
    (void)state;
    static char out[4096];
    assert_int_equal(test_run_cli(out, sizeof out, "data describe --ids 10 --nuis-varr 2"), 2);
    assert_non_null(strstr(out, "nuis_varr"));
    assert_int_equal(test_run_cli(out, sizeof out, "data describe --ids 10 --label-noise 2"), 2);
    assert_non_null(strstr(out, "label_noise"));
    assert_int_equal(test_run_cli(out, sizeof out, "data describe --profile bogus"), 2);
    assert_non_null(strstr(out, "bogus"));
    assert_int_equal(test_run_cli(out, sizeof out, "data frobnicate"), 2);
}

static void test_help_documents_every_knob(void **state)
{
    (void)state;
    static char out[16384];
    const char *knobs[] = {"--profile", "--ids", "--seed", "--data-seed", "--lognorm-mean",
                           "--lognorm-sigma", "--zipf-alpha", "--zipf-min", "--zipf-max",
                           "--uniform-n", "--id-dim", "--nuis-dim", "--x-dim", "--render-hidden",
                           "--group-size", "--group-spread", "--id-scale", "--nuis-bias",
                           "--nuis-var", "--noise", "--label-noise", "--dup-ids", "--probe-ids",
                           "--probe-imgs", "--distractors", "--lfw-pairs", "--holdout", NULL};
    const char *subs[] = {"describe", "export", NULL};
    for (int s = 0; subs[s]; s++) {
        char cmd[64];
        snprintf(cmd, sizeof cmd, "data %s --help", subs[s]);
        assert_int_equal(test_run_cli(out, sizeof out, cmd), 0);
        for (int k = 0; knobs[k]; k++) {
            if (!strstr(out, knobs[k])) print_error("%s: %s undocumented\n", cmd, knobs[k]);
            assert_non_null(strstr(out, knobs[k]));
        }
        assert_non_null(strstr(out, "default"));
    }
    assert_int_equal(test_run_cli(out, sizeof out, "data export --help"), 0);
    for (const char *k = "--split\0--format\0--out\0--limit\0--flip\0"; *k; k += strlen(k) + 1)
        assert_non_null(strstr(out, k));
    assert_int_equal(test_run_cli(out, sizeof out, "data verify --help"), 0);
    assert_non_null(strstr(out, "verify FILE"));
}

/* Exported rows equal the library's rendering byte for byte, in both formats. */
static void test_export_matches_library(void **state)
{
    (void)state;
    static char out[4096], cmd[1024];
    const char *d = test_tmpdir();
    const char *gen = "--profile ms1m --ids 30 --data-seed 5 --nuis-var 0.7 --x-dim 16";
    snprintf(cmd, sizeof cmd, "data export --split train --format npy --out %s/tr --limit 50 %s",
             d, gen);
    assert_int_equal(test_run_cli(out, sizeof out, cmd), 0);
    snprintf(cmd, sizeof cmd, "data export --split probe --format dcqb --out %s/pr --limit 60 "
             "--flip %s", d, gen);
    assert_int_equal(test_run_cli(out, sizeof out, cmd), 0);
    snprintf(cmd, sizeof cmd, "data export --split pairs --format dcqb --out %s/pa --limit 40 %s",
             d, gen);
    assert_int_equal(test_run_cli(out, sizeof out, cmd), 0);

    struct synth_cfg cfg = {.seed = 5, .ids = 30};
    synth_cfg_defaults(&cfg, SYNTH_MS1M);
    cfg.nuis_var = 0.7;
    cfg.x_dim = 16;
    struct synth *s;
    assert_int_equal(synth_create(&s, &cfg, NULL), DCQB_OK);
    char p[512];
    float *x, want[32];
    int32_t *y, lab;
    int64_t rows, cols;
    struct dcqb_err err = {0};
    snprintf(p, sizeof p, "%s/tr_x.npy", d);
    assert_int_equal(npy_read_f32(&x, &rows, &cols, p, &err), DCQB_OK);
    snprintf(p, sizeof p, "%s/tr_y.npy", d);
    assert_int_equal(npy_read_i32(&y, &rows, p, &err), DCQB_OK);
    assert_int_equal(rows, 50);
    assert_int_equal(cols, 16);
    for (int64_t n = 0; n < 50; n++) {
        synth_render_train_n(s, want, &lab, n, 0);
        assert_memory_equal(x + n * 16, want, 16 * sizeof(float));
        assert_int_equal(y[n], lab);
    }
    free(x);
    free(y);
    snprintf(p, sizeof p, "%s/pr.dcqb", d);
    assert_int_equal(dsfile_read(&x, &y, &rows, &cols, p, &err), DCQB_OK);
    assert_int_equal(rows, 60);
    for (int64_t n = 0; n < 60; n++) {
        synth_render_probe(s, want, &lab, n, 1);
        assert_memory_equal(x + n * 16, want, 16 * sizeof(float));
        assert_int_equal(y[n], lab);
    }
    free(x);
    free(y);
    snprintf(p, sizeof p, "%s/pa.dcqb", d);
    assert_int_equal(dsfile_read(&x, &y, &rows, &cols, p, &err), DCQB_OK);
    assert_int_equal(cols, 32);
    for (int64_t n = 0; n < 40; n++) {
        int same;
        synth_render_pair(s, want, want + 16, &same, n, 0);
        assert_memory_equal(x + n * 32, want, 32 * sizeof(float));
        assert_int_equal(y[n], same);
    }
    free(x);
    free(y);
    synth_free(s);
}

/* synth_export, the command's body, in process: the holdout split (not covered through the
 * binary above) equals the library's rendering; refusals name the problem. */
static void test_export_library(void **state)
{
    (void)state;
    struct synth_cfg cfg = {.seed = 3, .ids = 25};
    synth_cfg_defaults(&cfg, SYNTH_MS1M);
    cfg.x_dim = 8;
    cfg.holdout = 0;
    struct export_result r;
    struct dcqb_err err = {0};
    char prefix[512];
    snprintf(prefix, sizeof prefix, "%s/lib_ho", test_tmpdir());
    assert_int_equal(synth_export(&r, &cfg, EXPORT_HOLDOUT, EXPORT_NPY, prefix, -1, 0, &err),
                     DCQB_EINVAL);
    assert_non_null(strstr(err.msg, "--holdout 1"));
    assert_int_equal(synth_export(&r, &cfg, EXPORT_TRAIN, EXPORT_NPY, "", -1, 0, &err),
                     DCQB_EINVAL);
    assert_non_null(strstr(err.msg, "--out"));
    cfg.holdout = 1;
    int rc = synth_export(&r, &cfg, EXPORT_HOLDOUT, EXPORT_NPY, prefix, -1, 1, &err);
    if (rc) print_error("%s\n", err.msg);
    assert_int_equal(rc, DCQB_OK);
    struct synth *s;
    assert_int_equal(synth_create(&s, &cfg, NULL), DCQB_OK);
    int64_t n = 0;
    for (int64_t k = 0; k < synth_num_classes(s); k++) n += synth_class_size(s, k) >= 2;
    assert_int_equal(r.rows, n);
    assert_int_equal(r.cols, 8);
    float *x, want[8];
    int32_t *y;
    int64_t rows, cols;
    assert_int_equal(npy_read_f32(&x, &rows, &cols, r.path_x, &err), DCQB_OK);
    assert_int_equal(npy_read_i32(&y, &rows, r.path_y, &err), DCQB_OK);
    assert_int_equal(rows, n);
    for (int64_t k = 0, i = 0; k < synth_num_classes(s); k++) {
        if (synth_class_size(s, k) < 2) continue;
        assert_int_equal(synth_render_holdout(s, want, k, 1), 0);
        assert_memory_equal(x + i * 8, want, sizeof want);
        assert_int_equal(y[i], k);
        i++;
    }
    free(x);
    free(y);
    synth_free(s);
}

static void test_verify(void **state)
{
    (void)state;
    static char out[4096], cmd[1024];
    const char *d = test_tmpdir();
    snprintf(cmd, sizeof cmd, "data export --split distractors --format dcqb --out %s/ver "
             "--distractors 100 --ids 10", d);
    assert_int_equal(test_run_cli(out, sizeof out, cmd), 0);
    snprintf(cmd, sizeof cmd, "data verify %s/ver.dcqb", d);
    assert_int_equal(test_run_cli(out, sizeof out, cmd), 0);
    assert_non_null(strstr(out, "ok"));
    assert_non_null(strstr(out, "100 rows"));
    /* flip one payload byte */
    char p[512];
    snprintf(p, sizeof p, "%s/ver.dcqb", d);
    FILE *f = fopen(p, "r+b");
    assert_non_null(f);
    fseek(f, 100, SEEK_SET);
    int ch = fgetc(f);
    fseek(f, 100, SEEK_SET);
    fputc(ch ^ 0x01, f);
    fclose(f);
    assert_int_not_equal(test_run_cli(out, sizeof out, cmd), 0);
    assert_non_null(strstr(out, "ver.dcqb"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_describe_json),
        cmocka_unit_test(test_describe_text_and_hist),
        cmocka_unit_test(test_unknown_flag_and_bad_value),
        cmocka_unit_test(test_help_documents_every_knob),
        cmocka_unit_test(test_export_matches_library),
        cmocka_unit_test(test_export_library),
        cmocka_unit_test(test_verify),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
