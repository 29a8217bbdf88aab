/* test_memplan.c - the memory plan (harness/train/memplan.c, docs/METHOD.md §8):
 * - the head term extrapolated from two small opens equals the head's own figures at C, for
 *   every registered head;
 * - the plan against the measured peak RSS of real `train` and `eval --run` processes (wait4),
 *   for heads whose memory is per-class (full, random) and fixed (dcq), within PLAN_TOL;
 * - `train --plan` prints the plan and a timed estimate and writes nothing; a faked small
 *   MemAvailable refuses the run before it starts (exit 2, one line naming both numbers, no
 *   curve written); one just above the peak warns and runs;
 * - eval.distractors above the run's distractor set is refused by the plan, naming both;
 * - the timed probe prints an estimate and leaves the run's digest unchanged. */
#include "test_util.h"

#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* wait4 is BSD, not POSIX 2008 (the build's -D_POSIX_C_SOURCE hides its declaration) */
pid_t wait4(pid_t pid, int *status, int options, struct rusage *rusage);

#include "cfg.h"
#include "head.h"
#include "memplan.h"

/* Allowed error of the plan against a measured peak RSS, one-sided on purpose: a plan may
 * overstate (it counts allocations, RSS counts touched pages: a checkpoint's compressed copy,
 * a head's step buffers in `eval`) by up to PLAN_OVER x rss + PLAN_SLACK_MB, but understate by
 * at most PLAN_UNDER x rss + PLAN_SLACK_MB (docs/METHOD.md §8). */
#define PLAN_OVER 0.30
#define PLAN_UNDER 0.10
#define PLAN_SLACK_MB 12.0

static void set_args(struct cfg *c, const char *const *kv)
{
    struct dcqb_err err = {0};
    for (int i = 0; kv[i]; i += 2) assert_int_equal(cfg_set(c, kv[i], kv[i + 1], "test", 0, &err), 0);
}

/* Opening a head at C and planning it at C (from opens at 2000 and 4000 classes) agree. */
static void test_head_term_extrapolates(void **state)
{
    (void)state;
    const char *heads[] = {"full", "random", "sampled", "dcq"};
    for (int h = 0; h < 4; h++) {
        struct cfg c = {0};
        const char *kv[] = {"head", heads[h], "profile", "uniform", "uniform_n", "2", "ids",
                            "40000", "hidden", "32", NULL};
        set_args(&c, kv);
        struct memplan p;
        struct dcqb_err err = {0};
        assert_int_equal(memplan_make(&p, &c, &err), 0);
        /* the same head opened at C directly, as trainer_setup opens it */
        struct head_cfg hc;
        head_cfg_defaults(&hc);
        hc.C = 40000;
        hc.D = 128;
        hc.max_batch = 256;
        struct head hd;
        assert_int_equal(head_open(&hd, heads[h], &hc, &err), 0);
        struct head_cost cost;
        head_cost(&hd, 256, &cost);
        double direct = cost.per_class_bytes * 40000.0 + cost.fixed_bytes;
        double state_direct = (double)head_state_bytes(&hd);
        head_close(&hd);
        print_message("%-8s plan head %.0f direct %.0f; state %.0f direct %.0f\n", heads[h],
                      p.head, direct, p.head_state, state_direct);
        assert_true(fabs(p.head - direct) <= 1e-3 * direct + 4096);
        assert_true(fabs(p.head_state - state_direct) <= 1e-3 * state_direct + 4096);
        assert_int_equal(p.C, 40000);
        assert_int_equal(p.N, 40000); /* uniform_n 2, one held out per class */
        cfg_free(&c);
    }
}

/* memplan_head_at, which `dcqbench bench` plans with too, against a direct open at C: every
 * figure (bytes, active classes K, flops, state) from the line through two small opens at
 * C = 40000, and exactly from one open at C = 1000 (below 2 x 2000: random's K is then the
 * batch's 256 positives, not ratio x C). */
static void test_head_at_matches_direct(void **state)
{
    (void)state;
    const char *heads[] = {"full", "random", "sampled", "dcq"};
    const int64_t Cs[2] = {40000, 1000};
    for (int h = 0; h < 4; h++)
        for (int k = 0; k < 2; k++) {
            struct head_cfg hc;
            head_cfg_defaults(&hc);
            hc.D = 64;
            hc.max_batch = 256;
            if (k && !strcmp(heads[h], "dcq")) hc.ratio = 0.3; /* a queue of 100 < B is refused */
            struct memplan_head at;
            struct dcqb_err err = {0};
            assert_int_equal(memplan_head_at(&at, heads[h], &hc, Cs[k], 256, &err), 0);
            hc.C = Cs[k];
            struct head hd;
            assert_int_equal(head_open(&hd, heads[h], &hc, &err), 0);
            struct head_cost cost;
            head_cost(&hd, 256, &cost);
            const double bytes = cost.per_class_bytes * (double)Cs[k] + cost.fixed_bytes;
            const double st = (double)head_state_bytes(&hd);
            head_close(&hd);
            print_message("%-8s C=%-6lld bytes %.0f / %.0f  K %.1f / %lld  flops %.4g / %.4g\n",
                          heads[h], (long long)Cs[k], at.bytes, bytes, at.active,
                          (long long)cost.active_classes, at.flops, cost.flops);
            const double tol = k ? 0.0 : 1e-3; /* one open at C: exact */
            assert_true(fabs(at.bytes - bytes) <= tol * bytes + (k ? 0 : 4096));
            assert_true(fabs(at.state - st) <= tol * st + (k ? 0 : 4096));
            assert_true(fabs(at.active - (double)cost.active_classes) <=
                        tol * (double)cost.active_classes + (k ? 0 : 1));
            assert_true(fabs(at.flops - cost.flops) <= tol * cost.flops);
            assert_true(at.bytes_slope > 0 || !strcmp(heads[h], "dcq"));
        }
}

/* Run `dcqbench ARGS` with stdout and stderr to `log`; its peak RSS in MB from wait4. */
static int run_rss(double *rss_mb, const char *args, const char *log)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "exec %s %s > %s 2>&1", test_exe(), args, log);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    assert_int_equal(wait4(pid, &st, 0, &ru), pid);
    *rss_mb = (double)ru.ru_maxrss / 1024.0;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Plan the run `args` describes (--key value pairs) with memplan_make. */
static void plan_of(struct memplan *p, const char *args)
{
    struct cfg c = {0};
    struct dcqb_err err = {0};
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", args);
    char *argv[64];
    int argc = 0;
    for (char *t = strtok(buf, " "); t && argc < 64; t = strtok(NULL, " ")) argv[argc++] = t;
    assert_int_equal(cfg_parse_args(&c, argc, argv, NULL, &err), 0);
    assert_int_equal(memplan_make(p, &c, &err), 0);
    cfg_free(&c);
}

static void check_within(const char *what, double plan_mb, double rss_mb)
{
    print_message("  %-6s plan %7.1f MB  measured %7.1f MB  (%+.1f %%)\n", what, plan_mb, rss_mb,
                  100.0 * (plan_mb - rss_mb) / rss_mb);
    assert_true(plan_mb <= (1.0 + PLAN_OVER) * rss_mb + PLAN_SLACK_MB);
    assert_true(plan_mb >= (1.0 - PLAN_UNDER) * rss_mb - PLAN_SLACK_MB);
}

/* Small runs whose memory the head (full, random: per class, and their checkpoints) or the
 * evaluation sets (dcq: a queue of 10 %, 200K distractors) dominate; a narrow backbone keeps
 * them fast. */
static void test_plan_matches_measured_rss(void **state)
{
    (void)state;
    /* the tail diagnostics cost O(C^2): on only where C is small */
    const char *cases[] = {
        "--head full --ids 60000 --distractors 100000 --eval.tail 0",
        "--head random --ids 60000 --distractors 20000 --eval.tail 0",
        "--head dcq --ids 8000 --distractors 200000",
    };
    const double MB = 1024.0 * 1024.0;
    for (int i = 0; i < 3; i++) {
        char args[1024], dir[600], log[700], cmd[2048];
        snprintf(dir, sizeof dir, "%s/memplan_%d", test_tmpdir(), i);
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        assert_int_equal(system(cmd), 0);
        snprintf(args, sizeof args, "%s --profile uniform --uniform_n 3 --hidden 64 --steps 4",
                 cases[i]);
        struct memplan p;
        plan_of(&p, args);
        print_message("%s\n", cases[i]);
        print_message("  terms MB: base %.1f data %.1f nets %.1f steps %.1f head %.1f ckpt %.1f "
                      "load %.1f eval sets %.1f\n", p.base / MB, p.data / MB, p.nets / MB,
                      p.step_bufs / MB, p.head / MB, p.ckpt / MB, p.load / MB, p.eval_sets / MB);
        double rss;
        snprintf(cmd, sizeof cmd, "train %s --out %s", args, dir);
        snprintf(log, sizeof log, "%s.train.log", dir);
        assert_int_equal(run_rss(&rss, cmd, log), 0);
        check_within("train", p.train_peak / MB, rss);
        snprintf(cmd, sizeof cmd, "eval --run %s", dir);
        snprintf(log, sizeof log, "%s.eval.log", dir);
        assert_int_equal(run_rss(&rss, cmd, log), 0);
        check_within("eval", p.eval_peak / MB, rss);
    }
}

/* A faked MemAvailable below the plan refuses before anything runs; just above it warns. */
static void test_refuse_and_warn(void **state)
{
    (void)state;
    const char *args = "--head full --profile uniform --uniform_n 3 --ids 20000 --hidden 64 "
                       "--steps 3";
    char dir[600], cmd[2048];
    static char out[1 << 14];
    snprintf(dir, sizeof dir, "%s/memplan_refuse", test_tmpdir());
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    struct memplan p;
    plan_of(&p, args);

    /* --plan: the figures and a timed estimate, nothing written */
    snprintf(cmd, sizeof cmd, "train --plan %s --out %s", args, dir);
    assert_int_equal(test_run_cli(out, sizeof out, cmd), 0);
    assert_non_null(strstr(out, "plan: classes 20000, images 40000, steps 3, peak_bytes "));
    assert_non_null(strstr(out, "[plan] estimated wall time "));
    assert_int_equal(access(dir, F_OK), -1);

    setenv("DCQB_MEM_AVAILABLE_MB", "20", 1);
    snprintf(cmd, sizeof cmd, "train %s --out %s", args, dir);
    assert_int_equal(test_run_cli(out, sizeof out, cmd), 2);
    print_message("%s", out);
    assert_non_null(strstr(out, "dcqbench train: memory plan: does not fit: peak "));
    assert_non_null(strstr(out, "of 0.02 GiB DCQB_MEM_AVAILABLE_MB"));
    assert_null(strchr(strchr(out, '\n') + 1, '\n')); /* one line */
    snprintf(cmd, sizeof cmd, "%s/curve.tsv", dir);
    assert_int_equal(access(cmd, F_OK), -1); /* refused before the run started */

    /* peak at ~90 % of the faked memory: a warning, and the run goes ahead */
    char avail[64];
    snprintf(avail, sizeof avail, "%.3f", p.peak / (1024.0 * 1024.0) / 0.9);
    setenv("DCQB_MEM_AVAILABLE_MB", avail, 1);
    snprintf(cmd, sizeof cmd, "rm -rf %s && true", dir);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "train %s --out %s", args, dir);
    assert_int_equal(test_run_cli(out, sizeof out, cmd), 0);
    assert_non_null(strstr(out, "[plan] warning: above 80 % of the memory: peak "));
    unsetenv("DCQB_MEM_AVAILABLE_MB");
}

/* A run whose evaluation would ask for more distractors than its set holds is refused by the
 * plan, so train stops before it starts (docs/METHOD.md §4.1); at the set's size it plans. */
static void test_eval_distractors_above_the_set(void **state)
{
    (void)state;
    struct cfg c = {0};
    struct dcqb_err err = {0};
    struct memplan p;
    char *argv[] = {"--head",        "dcq", "--profile",          "uniform", "--ids", "100",
                    "--distractors", "500", "--eval.distractors", "501",     "--batch", "8"};
    assert_int_equal(cfg_parse_args(&c, 12, argv, NULL, &err), 0);
    assert_int_equal(memplan_make(&p, &c, &err), DCQB_EINVAL);
    assert_string_equal(err.msg, "eval.distractors = 501 exceeds the distractor set (500 "
                                 "identities; raise the data key 'distractors')");
    cfg_free(&c);
    argv[9] = "500";
    assert_int_equal(cfg_parse_args(&c, 12, argv, NULL, &err), 0);
    assert_int_equal(memplan_make(&p, &c, &err), 0);
    assert_int_equal((int)p.n_distractors, 500);
    cfg_free(&c);
}

/* The probe runs on a throw-away trainer: the run's numbers are those of an unprobed run. */
static void test_probe_estimates_and_changes_nothing(void **state)
{
    (void)state;
    const char *args = "--head dcq --profile uniform --uniform_n 4 --ids 3000 --hidden 64 "
                       "--steps 30 --mu 0.9";
    char a[600], b[600], cmd[2048], ref[16];
    static char out[1 << 14];
    snprintf(a, sizeof a, "%s/memplan_probe_a", test_tmpdir());
    snprintf(b, sizeof b, "%s/memplan_probe_b", test_tmpdir());
    snprintf(cmd, sizeof cmd, "rm -rf %s %s", a, b);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "train %s --out %s", args, a);
    assert_int_equal(test_run_cli(out, sizeof out, cmd), 0);
    assert_null(strstr(out, "estimated wall time")); /* short: no probe */
    snprintf(ref, sizeof ref, "%s", test_run_digest(a));
    setenv("DCQB_PLAN_PROBE_MIN_S", "0", 1);
    snprintf(cmd, sizeof cmd, "train %s --out %s", args, b);
    assert_int_equal(test_run_cli(out, sizeof out, cmd), 0);
    unsetenv("DCQB_PLAN_PROBE_MIN_S");
    print_message("%s", out);
    assert_non_null(strstr(out, "[plan] estimated wall time "));
    assert_non_null(strstr(out, ": 30 steps x "));
    assert_string_equal(test_run_digest(b), ref);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_head_term_extrapolates),
        cmocka_unit_test(test_head_at_matches_direct),
        cmocka_unit_test(test_plan_matches_measured_rss),
        cmocka_unit_test(test_refuse_and_warn),
        cmocka_unit_test(test_eval_distractors_above_the_set),
        cmocka_unit_test(test_probe_estimates_and_changes_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
