/* test_rundir.c - the run folder module: file names, the records it writes read back through
 * its own reader (summary.json with head_mem_mb and the machine, metrics.json, config.ini),
 * provenance.json's machine object, a malformed or missing record, curve truncation after
 * a resume, and the train log's last progress line (sweep --status). */
#include "test_util.h"

#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include "isa.h"
#include "machine.h"
#include "rundir.h"

static const char *run_dir(const char *leaf)
{
    static char buf[400];
    snprintf(buf, sizeof buf, "%s/rundir_%s", test_tmpdir(), leaf);
    char cmd[1000];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s/eval'", buf, buf);
    assert_int_equal(system(cmd), 0);
    return buf;
}

static void write_text(const char *dir, const char *leaf, const char *text)
{
    char p[700];
    snprintf(p, sizeof p, "%s/%s", dir, leaf);
    test_write_file(p, text);
}

static void test_paths(void **state)
{
    (void)state;
    char p[64];
    assert_int_equal(rundir_path(p, sizeof p, "r/x", RUNDIR_SUMMARY), DCQB_OK);
    assert_string_equal(p, "r/x/summary.json");
    assert_int_equal(rundir_path(p, sizeof p, "r/x", RUNDIR_METRICS), DCQB_OK);
    assert_string_equal(p, "r/x/eval/metrics.json");
    rundir_path(p, sizeof p, "r/x", RUNDIR_CONFIG);
    assert_string_equal(p, "r/x/config.ini");
    rundir_path(p, sizeof p, "r/x", RUNDIR_CHECKPOINT);
    assert_string_equal(p, "r/x/checkpoint.bin");
    /* every file has a distinct non-empty name */
    for (int i = 0; i < RUNDIR_N_FILES; i++) {
        assert_true(rundir_name((enum rundir_file)i)[0] != '\0');
        for (int j = 0; j < i; j++)
            assert_true(strcmp(rundir_name((enum rundir_file)i),
                               rundir_name((enum rundir_file)j)) != 0);
    }
    char small[12];
    assert_int_equal(rundir_path(small, sizeof small, "r/x", RUNDIR_SUMMARY), DCQB_EINVAL);
}

static void test_summary_round_trip(void **state)
{
    (void)state;
    const char *dir = run_dir("summary");
    struct rundir_summary s = {.status = "ok", .has_run = 1, .head = "dcq", .classes = 300,
                               .steps = 80, .steps_done = 80, .batch = 64, .final_loss = 1.25,
                               .first_loss = NAN, .digest = 0xc0ffee, .head_mem_bytes = 3145728,
                               .has_queue = 1, .queue_distinct_classes = 17, .blas_core = "x",
                               .cpu_model = "Zen \"5\"", .isa = "avx2", .l2_bytes = 1048576,
                               .seed = 18446744073709551615ULL, .git_rev = "abc"};
    struct dcqb_err err = {0};
    assert_int_equal(rundir_summary_write(dir, &s, &err), DCQB_OK);
    struct rundir_record rec;
    assert_int_equal(rundir_record_read(&rec, dir, RUNDIR_SUMMARY, &err), DCQB_OK);
    assert_string_equal(rundir_record_get(&rec, "status"), "ok");
    assert_string_equal(rundir_record_get(&rec, "err_msg"), "");
    assert_string_equal(rundir_record_get(&rec, "head"), "dcq");
    assert_string_equal(rundir_record_get(&rec, "digest"), "00c0ffee");
    assert_string_equal(rundir_record_get(&rec, "final_loss"), "1.25");
    assert_string_equal(rundir_record_get(&rec, "first_loss"), ""); /* NaN -> null */
    assert_string_equal(rundir_record_get(&rec, "head_mem_bytes"), "3145728");
    assert_string_equal(rundir_record_get(&rec, "head_mem_mb"), "3"); /* converted on write */
    assert_string_equal(rundir_record_get(&rec, "queue_distinct_classes"), "17");
    assert_string_equal(rundir_record_get(&rec, "git_rev"), "abc");
    assert_string_equal(rundir_record_get(&rec, "cpu_model"), "Zen \"5\"");
    assert_string_equal(rundir_record_get(&rec, "isa"), "avx2");
    assert_string_equal(rundir_record_get(&rec, "l2_bytes"), "1048576");
    assert_string_equal(rundir_record_get(&rec, "l1d_bytes"), "0");
    assert_null(rundir_record_get(&rec, "nope"));
    /* setup failed: status only, and no queue member for a head without a queue */
    struct rundir_summary f = {.status = "fail", .err_msg = "bad \"lr\" \\x", .git_rev = "abc"};
    assert_int_equal(rundir_summary_write(dir, &f, &err), DCQB_OK);
    assert_int_equal(rundir_record_read(&rec, dir, RUNDIR_SUMMARY, &err), DCQB_OK);
    assert_string_equal(rundir_record_get(&rec, "err_msg"), "bad \"lr\" \\x");
    assert_null(rundir_record_get(&rec, "head"));
    assert_null(rundir_record_get(&rec, "head_mem_mb"));
}

/* provenance.json carries the machine as an object: CPU model, caches, CPUs, the ISA path in
 * use and the best one, from machine.h and isa.h. */
static void test_provenance_machine(void **state)
{
    (void)state;
    const char *dir = run_dir("prov");
    struct dcqb_err err = {0};
    assert_int_equal(rundir_provenance_write(dir, 1, 7, &err), DCQB_OK);
    char path[600];
    snprintf(path, sizeof path, "%s/provenance.json", dir);
    char *t = test_slurp(path);
    assert_non_null(t);
    const char *m = strstr(t, "\"machine\": {");
    assert_non_null(m);
    const char *end = strchr(m, '}');
    assert_non_null(end);
    char want[256];
    snprintf(want, sizeof want, "\"cpu_model\": \"%s\"", dcqb_machine()->cpu_model);
    const char *p = strstr(m, want);
    assert_true(p && p < end);
    snprintf(want, sizeof want, "\"l2_bytes\": %lld", (long long)dcqb_machine()->l2_bytes);
    assert_true((p = strstr(m, want)) && p < end);
    snprintf(want, sizeof want, "\"isa\": \"%s\"", dcqb_isa_name(dcqb_isa()));
    assert_true((p = strstr(m, want)) && p < end);
    snprintf(want, sizeof want, "\"isa_best\": \"%s\"", dcqb_isa_name(dcqb_isa_best()));
    assert_true((p = strstr(m, want)) && p < end);
    assert_true((p = strstr(m, "\"l1d_bytes\": ")) && p < end);
    assert_true((p = strstr(m, "\"l3_bytes\": ")) && p < end);
    assert_true((p = strstr(m, "\"cpus\": ")) && p < end);
#ifdef __linux__
    assert_true(dcqb_machine()->l2_bytes > 0);
#endif
    /* the object closes and the record goes on: valid JSON around it */
    assert_non_null(strstr(end, "},\n  \"utc_start\""));
    free(t);
}

static void test_metrics_and_bad_records(void **state)
{
    (void)state;
    const char *dir = run_dir("metrics");
    char eval[600];
    rundir_path(eval, sizeof eval, dir, RUNDIR_EVAL);
    static const char *const keys[] = {"a", "b_rank1", "c"};
    const double v[] = {0.5, NAN, 3};
    struct dcqb_err err = {0};
    struct rundir_record rec;
    assert_int_equal(rundir_record_read(&rec, dir, RUNDIR_METRICS, &err), DCQB_OK);
    assert_int_equal(rec.n, -1); /* missing: not an error */
    assert_int_equal(rundir_metrics_write(eval, keys, v, 3, &err), DCQB_OK);
    assert_int_equal(rundir_record_read(&rec, dir, RUNDIR_METRICS, &err), DCQB_OK);
    assert_int_equal(rec.n, 3);
    assert_string_equal(rec.kv[0].key, "a"); /* in the given order */
    assert_string_equal(rec.kv[1].val, "");
    assert_string_equal(rundir_record_get(&rec, "c"), "3");
    write_text(dir, "eval/metrics.json", "{\"a\": {\"nested\": 1}}\n");
    assert_int_equal(rundir_record_read(&rec, dir, RUNDIR_METRICS, &err), DCQB_EFORMAT);
    assert_int_equal(rec.n, 0);
    assert_non_null(strstr(err.msg, "not a flat JSON object"));
    write_text(dir, "summary.json", "{\"a\": 1, \"b\": true, \"c\": false}");
    assert_int_equal(rundir_record_read(&rec, dir, RUNDIR_SUMMARY, &err), DCQB_OK);
    assert_string_equal(rundir_record_get(&rec, "b"), "1");
    assert_string_equal(rundir_record_get(&rec, "c"), "0");
}

static int not_out(void *ctx, const char *key)
{
    (void)ctx;
    return strcmp(key, "out") != 0;
}

static int write_but_out(const struct cfg *c, FILE *f) { return cfg_write_if(c, f, not_out, NULL); }

static void test_config_round_trip(void **state)
{
    (void)state;
    const char *dir = run_dir("config");
    struct cfg c = {0}, back = {0};
    struct dcqb_err err = {0};
    assert_int_equal(cfg_set(&c, "lr", "0.1", "x", 1, &err), DCQB_OK);
    assert_int_equal(cfg_set(&c, "out", "somewhere", "x", 2, &err), DCQB_OK);
    long long steps;
    assert_int_equal(cfg_get_int(&c, "steps", 80, 1, 1000, &steps, &err), DCQB_OK);
    assert_true(cfg_has(&c, "lr") && cfg_has(&c, "out"));
    assert_int_equal(rundir_config_write(dir, write_but_out, &c, &err), DCQB_OK);
    assert_int_equal(rundir_config_load(&back, dir, &err), DCQB_OK);
    assert_int_equal(back.n, 2); /* lr and the recorded default of steps; out skipped */
    assert_string_equal(cfg_find(&back, "lr")->val, "0.1");
    assert_string_equal(cfg_find(&back, "steps")->val, "80");
    assert_null(cfg_find(&back, "out"));
    cfg_free(&c);
    cfg_free(&back);
    struct cfg none = {0};
    assert_int_equal(rundir_config_load(&none, run_dir("noconfig"), &err), DCQB_EIO);
    cfg_free(&none);
}

static void test_curve_truncate(void **state)
{
    (void)state;
    const char *dir = run_dir("curve");
    struct dcqb_err err = {0};
    assert_int_equal(rundir_curve_truncate(dir, 3, &err), DCQB_OK); /* no curve yet: fine */
    write_text(dir, "curve.tsv", "step\tloss\n1\t9\n2\t8\n3\t7\n4\t6\n");
    assert_int_equal(rundir_curve_truncate(dir, 3, &err), DCQB_OK);
    char p[700];
    rundir_path(p, sizeof p, dir, RUNDIR_CURVE);
    char *t = test_slurp(p);
    assert_non_null(t);
    assert_string_equal(t, "step\tloss\n1\t9\n2\t8\n");
    free(t);
}

/* The last "[train] step t/T" line, also past a 4 KiB tail of other lines; none: 0 and -1s. */
static void test_train_progress(void **state)
{
    (void)state;
    const char *d = run_dir("progress");
    int64_t t = 7, T = 7;
    assert_int_equal(rundir_train_progress(&t, &T, d), 0); /* no train.log */
    assert_true(t == -1 && T == -1);
    write_text(d, "train.log", "dcqbench train: starting\n");
    assert_int_equal(rundir_train_progress(&t, &T, d), 0);
    char log[16384] = "";
    for (int s = 100; s <= 300; s += 100) {
        char line[160];
        snprintf(line, sizeof line, RUNDIR_PROGRESS_TAG "%d/19634 (  1%%)  loss 12.0  lr 0.1  "
                 "900 samples/s  elapsed 1m  ETA 1h\n", s);
        strcat(log, line);
    }
    for (int k = 0; k < 80; k++) strcat(log, "[train] checkpoint written to a folder whose name "
                                             "is long enough to push the line out\n");
    write_text(d, "train.log", log);
    assert_int_equal(rundir_train_progress(&t, &T, d), 0); /* the line is past the tail */
    strcat(log, RUNDIR_PROGRESS_TAG "400/19634 ( 2%)  loss 11.9");
    write_text(d, "train.log", log);
    assert_int_equal(rundir_train_progress(&t, &T, d), 1);
    assert_true(t == 400 && T == 19634);
    write_text(d, "train.log", RUNDIR_PROGRESS_TAG "500/x\n"); /* not a count: not progress */
    assert_int_equal(rundir_train_progress(&t, &T, d), 0);
    /* any log's last tagged line: the eval log's stage line, the tag and newline stripped */
    char line[64];
    assert_int_equal(rundir_log_last(line, sizeof line, d, RUNDIR_EVAL_LOG, RUNDIR_EVAL_TAG), 0);
    assert_string_equal(line, "");
    write_text(d, "eval.log", RUNDIR_EVAL_TAG "probes: 3520 done in 0.0s\n" RUNDIR_EVAL_TAG
               "distractors: 400/1000 (40%)  elapsed 21s  ETA 31s\nmetrics written\n");
    assert_int_equal(rundir_log_last(line, sizeof line, d, RUNDIR_EVAL_LOG, RUNDIR_EVAL_TAG), 1);
    assert_string_equal(line, "distractors: 400/1000 (40%)  elapsed 21s  ETA 31s");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_summary_round_trip),
        cmocka_unit_test(test_provenance_machine),
        cmocka_unit_test(test_metrics_and_bad_records),
        cmocka_unit_test(test_config_round_trip),
        cmocka_unit_test(test_curve_truncate),
        cmocka_unit_test(test_train_progress),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
