/* test_records.c - a run folder's records through the binary: bad input refused (a directory as
 * --config, a flag with no value), every record written whole or not at all with its write
 * checked (a write that fails, simulated by pointing the record's temporary file at /dev/full,
 * fails the command instead of passing silently), an unchanged config.ini left alone on resume,
 * and a checkpoint whose step the curve does not show refused. */
#include "test_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *tiny =
    "--head full --profile uniform --uniform_n 4 --ids 8 --batch 16 --hidden 8 --dim 8 "
    "--steps 6 --ckpt_every 3";

static char out[1 << 14];

/* A finished 6-step run in a fresh folder `name`; its path into dir. */
static void fresh_run(char *dir, size_t n, const char *name)
{
    char cmd[2048];
    snprintf(dir, n, "%s/rec_%s", test_tmpdir(), name);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "train %s --out %s", tiny, dir);
    int rc = test_run_cli(out, sizeof out, cmd);
    if (rc != 0) print_error("%s\n", out);
    assert_int_equal(rc, 0);
}

/* Point DIR/name (and DIR/name.tmp) at /dev/full: every write there fails with ENOSPC. */
static void full_disk(const char *dir, const char *name)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    unlink(p);
    assert_int_equal(symlink("/dev/full", p), 0);
    snprintf(p, sizeof p, "%s/%s.tmp", dir, name);
    unlink(p);
    assert_int_equal(symlink("/dev/full", p), 0);
}

static void test_config_dir_and_flag_without_value(void **state)
{
    (void)state;
    char cmd[2048], dir[600];
    snprintf(dir, sizeof dir, "%s/rec_cfgdir", test_tmpdir());
    snprintf(cmd, sizeof cmd, "train --config %s --out %s/x", test_tmpdir(), dir);
    assert_int_equal(test_run_cli(out, sizeof out, cmd), 2);
    assert_non_null(strstr(out, "not a regular file"));
    snprintf(cmd, sizeof cmd, "train %s --steps --out %s/y", tiny, dir);
    assert_int_equal(test_run_cli(out, sizeof out, cmd), 2);
    assert_non_null(strstr(out, "'--steps' needs a value"));
}

/* provenance.json's and summary.json's writes were not checked: train exited 0 on a full disk */
static void test_record_write_errors_fail_train(void **state)
{
    (void)state;
    char dir[600], cmd[2048];
    fresh_run(dir, sizeof dir, "prov");
    full_disk(dir, "provenance.json");
    snprintf(cmd, sizeof cmd, "train %s --out %s --resume", tiny, dir);
    int rc = test_run_cli(out, sizeof out, cmd);
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(out, "provenance.json"));

    fresh_run(dir, sizeof dir, "sum");
    full_disk(dir, "summary.json");
    snprintf(cmd, sizeof cmd, "train %s --out %s --resume", tiny, dir);
    rc = test_run_cli(out, sizeof out, cmd);
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(out, "summary.json"));
}

/* eval/metrics.json means "evaluation finished": a failed write must fail eval and leave the
 * earlier file whole */
static void test_metrics_write_error_keeps_old_file(void **state)
{
    (void)state;
    char dir[600], cmd[2048], p[700], tmp[720];
    fresh_run(dir, sizeof dir, "met");
    snprintf(cmd, sizeof cmd, "eval --run %s", dir);
    int rc = test_run_cli(out, sizeof out, cmd);
    if (rc != 0) print_error("%s\n", out);
    assert_int_equal(rc, 0);
    snprintf(p, sizeof p, "%s/eval/metrics.json", dir);
    char *before = test_slurp(p);
    assert_non_null(before);
    assert_true(strlen(before) > 10);
    snprintf(tmp, sizeof tmp, "%s.tmp", p);
    unlink(tmp);
    assert_int_equal(symlink("/dev/full", tmp), 0);
    assert_int_not_equal(test_run_cli(out, sizeof out, cmd), 0);
    char *after = test_slurp(p);
    assert_non_null(after);
    assert_string_equal(before, after);
    free(before);
    free(after);
    unlink(tmp);
}

/* A resume writes the same config.ini text: the file (and its mtime) must be left alone */
static void test_unchanged_config_not_rewritten(void **state)
{
    (void)state;
    char dir[600], cmd[2048], p[700];
    fresh_run(dir, sizeof dir, "cfg");
    snprintf(p, sizeof p, "%s/config.ini", dir);
    struct timespec old[2] = {{1000000000, 0}, {1000000000, 0}};
    assert_int_equal(utimensat(AT_FDCWD, p, old, 0), 0);
    snprintf(cmd, sizeof cmd, "train %s --out %s --resume", tiny, dir);
    assert_int_equal(test_run_cli(out, sizeof out, cmd), 0);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal((long long)st.st_mtime, 1000000000LL);
}

/* The checkpoint's step must be what the curve shows (here: a curve cut to its header) */
static void test_checkpoint_step_checked_against_curve(void **state)
{
    (void)state;
    char dir[600], cmd[2048], p[700];
    fresh_run(dir, sizeof dir, "curve");
    snprintf(p, sizeof p, "%s/curve.tsv", dir);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs("step\tloss\tlr\tsamples_per_s\n", f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "train %s --out %s --resume", tiny, dir);
    assert_int_equal(test_run_cli(out, sizeof out, cmd), 3);
    assert_non_null(strstr(out, "checkpoint and curve disagree"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_dir_and_flag_without_value),
        cmocka_unit_test(test_record_write_errors_fail_train),
        cmocka_unit_test(test_metrics_write_error_keeps_old_file),
        cmocka_unit_test(test_unchanged_config_not_rewritten),
        cmocka_unit_test(test_checkpoint_step_checked_against_curve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
