/* test_cli_train.c - 'dcqbench train' through the binary: a real SIGINT writes a checkpoint and
 * exits 130, --resume finishes the run with the digest of an uninterrupted one; config.ini
 * holds the run's keys but not the CLI's; summary.json names the machine and ISA path; a
 * refused --out; a bad flag exits 2 naming it. */
#include "test_util.h"

#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "isa.h"
#include "machine.h"

static const char *args =
    "--profile uniform --uniform_n 12 --ids 200 --batch 64 --hidden 64 --dim 32 --steps 400 "
    "--ckpt_every 1000 --seed 3";

static void test_sigint_then_resume_is_bit_exact(void **state)
{
    (void)state;
    char a[600], b[600], cmd[2048];
    static char out[1 << 14];
    snprintf(a, sizeof a, "%s/cli_train_a", test_tmpdir());
    snprintf(b, sizeof b, "%s/cli_train_b", test_tmpdir());
    snprintf(cmd, sizeof cmd, "rm -rf %s %s", a, b);
    assert_int_equal(system(cmd), 0);

    /* uninterrupted reference */
    snprintf(cmd, sizeof cmd, "train %s --out %s", args, a);
    assert_int_equal(test_run_cli(out, sizeof out, cmd), 0);
    char ref[16];
    snprintf(ref, sizeof ref, "%s", test_run_digest(a));
    /* summary.json names the machine and the ISA path the kernels ran on */
    snprintf(cmd, sizeof cmd, "%s/summary.json", a);
    char *sum = test_slurp(cmd);
    assert_non_null(sum);
    char want[256];
    snprintf(want, sizeof want, "\"cpu_model\": \"%s\"", dcqb_machine()->cpu_model);
    assert_non_null(strstr(sum, want));
    snprintf(want, sizeof want, "\"isa\": \"%s\"", dcqb_isa_name(dcqb_isa()));
    assert_non_null(strstr(sum, want));
    snprintf(want, sizeof want, "\"l2_bytes\": %lld", (long long)dcqb_machine()->l2_bytes);
    assert_non_null(strstr(sum, want));
    free(sum);
    /* config.ini: every key of the run, execution keys too, none of the CLI's own */
    snprintf(cmd, sizeof cmd, "%s/config.ini", a);
    char *ini = test_slurp(cmd);
    assert_non_null(ini);
    assert_non_null(strstr(ini, "\nckpt_every = 1000\n"));
    assert_non_null(strstr(ini, "\nratio = 0.1\n"));
    assert_non_null(strstr(ini, "\nnuis_var = 1\n"));
    assert_null(strstr(ini, "\nout ="));
    assert_null(strstr(ini, "\nresume ="));
    free(ini);

    /* the same run, interrupted by SIGINT once its curve has rows */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char outdir[640];
        snprintf(outdir, sizeof outdir, "%s", b);
        (void)!freopen("/dev/null", "w", stderr);
        execl(test_exe(), test_exe(), "train", "--profile", "uniform", "--uniform_n", "12",
              "--ids", "200", "--batch", "64", "--hidden", "64", "--dim", "32", "--steps", "400",
              "--ckpt_every", "1000", "--seed", "3", "--log_every", "1", "--out", outdir,
              (char *)NULL);
        _exit(127);
    }
    char curve[700];
    snprintf(curve, sizeof curve, "%s/curve.tsv", b);
    for (int i = 0; i < 2000; i++) { /* up to 20 s for the first 20 steps */
        char *c = test_slurp(curve);
        int lines = 0;
        for (char *p = c; p && *p; p++) lines += *p == '\n';
        free(c);
        if (lines > 20) break;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGINT);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    int code = WEXITSTATUS(st);
    if (code == 0) {
        print_message("run finished before the signal; resume path not exercised\n");
    } else {
        assert_int_equal(code, 130);
        char p[700];
        snprintf(p, sizeof p, "%s/summary.json", b);
        char *s = test_slurp(p);
        assert_non_null(s);
        assert_non_null(strstr(s, "\"status\": \"interrupted\""));
        free(s);
        snprintf(cmd, sizeof cmd, "train --out %s --resume", b);
        int rc = test_run_cli(out, sizeof out, cmd);
        if (rc != 0) print_error("%s\n", out);
        assert_int_equal(rc, 0);
        assert_non_null(strstr(out, "resuming"));
    }
    assert_string_equal(test_run_digest(b), ref);
}

static void test_refusals(void **state)
{
    (void)state;
    static char out[1 << 14];
    char a[600], cmd[2048];
    snprintf(a, sizeof a, "%s/cli_train_a", test_tmpdir());
    /* a folder that holds a run is not overwritten */
    snprintf(cmd, sizeof cmd, "train %s --out %s", args, a);
    assert_int_equal(test_run_cli(out, sizeof out, cmd), 2);
    assert_non_null(strstr(out, "already holds a run"));
    /* a misspelt flag is named */
    assert_int_equal(test_run_cli(out, sizeof out, "train --stpes 10 --out build/tmp-tests/never"), 2);
    assert_non_null(strstr(out, "stpes"));
    /* the help is generated from the key table: training keys and the CLI's own options */
    assert_int_equal(test_run_cli(out, sizeof out, "train --help"), 0);
    assert_non_null(strstr(out, "\n  ratio "));
    assert_non_null(strstr(out, "\n  log_every "));
    assert_non_null(strstr(out, "\n  --print-every "));
    /* a bad value names its key */
    assert_int_equal(test_run_cli(out, sizeof out, "train --batch -3 --out build/tmp-tests/never"), 2);
    assert_non_null(strstr(out, "batch"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigint_then_resume_is_bit_exact),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests_name("cli_train", tests, NULL, NULL);
}
