/* test_sweep_slurm.c - what `sweep --slurm` and `--status` rely on, without a cluster:
 * runs.tsv rows appended by concurrent processes stay whole; --status reads done / running /
 * failed / to-run from runs.tsv and the folders' locks; the submission's sbatch lines (array of
 * the shards with runs left, CPUs per task, afterany chain, one array per stage with [tune],
 * the user's options last) through a fake `sbatch` first on PATH. tests/test_slurm.sh runs the
 * real thing on a one-node cluster. */
#include "test_util.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sweep.h"
#include "sweep_ledger.h"
#include "sweep_slurm.h"
#include "tsv.h"

static const char *tpath(const char *leaf)
{
    static char buf[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/slurm/%s", test_tmpdir(), leaf);
    return buf[k];
}

static void reset_dir(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s/slurm' && mkdir -p '%s/slurm/bin'", test_tmpdir(),
             test_tmpdir());
    assert_int_equal(system(cmd), 0);
}

/* 3 full + 6 dcq runs, threads 2 */
static const char sweep_text[] = "[sweep]\nname = slurmt\n[base]\nseed = 1, 2, 3\nsteps = 10\n"
                                 "threads = 2\n[head.full]\n[head.dcq]\nratio = 0.1, 0.5\n";

static void load(struct sweep *s)
{
    struct dcqb_err err = {0};
    test_write_file(tpath("s.conf"), sweep_text);
    if (sweep_load(s, tpath("s.conf"), &err)) {
        print_error("%s\n", err.msg);
        fail();
    }
    assert_int_equal(s->n_runs, 9);
}

/* A runs.tsv row of run i: status, err_msg; every other cell NA. */
static void add_row(struct sbuf *b, const struct sweep *s, int i, const char *status,
                    const char *msg, int n_cols)
{
    sb_printf(b, "%d\t%s\t%s\trev\t%s", SWEEP_SCHEMA, s->runs[i].run_id, s->name, status);
    for (int c = 5; c < n_cols - 1; c++) sb_str(b, "\tNA");
    sb_printf(b, "\t%s\n", msg);
}

static int header_cols(const struct sweep *s, char **hdr)
{
    struct dcqb_err err = {0};
    assert_int_equal(sweep_tsv_header(s, hdr, &err), DCQB_OK);
    int n = 1;
    for (const char *p = *hdr; *p; p++) n += *p == '\t';
    return n;
}

/* ---- appends from several processes ---------------------------------------------------- */

#define HAMMER_PROCS 4
#define HAMMER_ROWS 40

/* Row k of process p carries "p:k:" and a filler of one letter whose length (up to ~150 KB,
 * far past a pipe's or a page's atomic size) is a function of (p, k). */
static size_t filler_len(int p, int k) { return 100 + (size_t)((p * 7919 + k * 104729) % 150000); }

static void test_appends_never_interleave(void **state)
{
    (void)state;
    reset_dir();
    struct sweep s;
    load(&s);
    char *hdr;
    int n_cols = header_cols(&s, &hdr);
    const char *dir = tpath("res");
    mkdir(dir, 0755);
    pid_t kids[HAMMER_PROCS];
    for (int p = 0; p < HAMMER_PROCS; p++) {
        if ((kids[p] = fork()) == 0) { /* a shard: its own ledger, appending as the runner does */
            struct sweep_ledger l;
            struct dcqb_err err = {0};
            struct rundir_record none = {0};
            char *msg = malloc(200000);
            if (!msg || sweep_ledger_open(&l, &s, dir, &err)) _exit(3);
            for (int k = 0; k < HAMMER_ROWS; k++) {
                int o = snprintf(msg, 64, "%d:%d:", p, k);
                memset(msg + o, 'a' + p, filler_len(p, k));
                msg[o + (int)filler_len(p, k)] = '\0';
                if (sweep_ledger_append(&l, &s, k % s.n_runs, tpath("none"), 0, &none, &none,
                                        msg, &err))
                    _exit(4);
            }
            sweep_ledger_close(&l);
            _exit(0);
        }
        assert_true(kids[p] > 0);
    }
    for (int p = 0; p < HAMMER_PROCS; p++) {
        int st;
        assert_int_equal(waitpid(kids[p], &st, 0), kids[p]);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    struct tsv t;
    struct dcqb_err err = {0};
    char path[600];
    snprintf(path, sizeof path, "%s/runs.tsv", dir);
    assert_int_equal(tsv_load(&t, path, &err), DCQB_OK);
    assert_int_equal(t.cols, n_cols);
    assert_int_equal(t.rows, 1 + HAMMER_PROCS * HAMMER_ROWS); /* one header, no extra lines */
    int c_msg = tsv_col(&t, "err_msg");
    unsigned char seen[HAMMER_PROCS][HAMMER_ROWS] = {{0}};
    for (int r = 1; r < t.rows; r++) {
        assert_true(tsv_row_whole(&t, r));
        const char *m = tsv_get(&t, r, c_msg);
        int p = -1, k = -1, o = 0;
        assert_int_equal(sscanf(m, "%d:%d:%n", &p, &k, &o), 2);
        assert_true(p >= 0 && p < HAMMER_PROCS && k >= 0 && k < HAMMER_ROWS && !seen[p][k]);
        seen[p][k] = 1;
        size_t len = strspn(m + o, (char[]){(char)('a' + p), 0});
        if (len != filler_len(p, k) || m[o + (int)len]) {
            print_error("row %d (process %d, row %d) is torn: %zu of %zu filler bytes\n", r, p,
                        k, len, filler_len(p, k));
            fail();
        }
    }
    tsv_free(&t);
    free(hdr);
    sweep_free(&s);
}

/* ---- --status ------------------------------------------------------------------------------ */

static void write_ledger(const struct sweep *s, const char *results, struct sbuf *rows)
{
    char *hdr, path[700];
    header_cols(s, &hdr);
    snprintf(path, sizeof path, "%s/%s", results, s->name);
    mkdir(results, 0755);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/runs.tsv", results, s->name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(hdr, f);
    if (rows->p) fputs(rows->p, f);
    fclose(f);
    free(hdr);
    sb_free(rows);
}

/* Hold run i's folder lock as a running sweep does; returns the fd to close. */
static int hold_lock(const struct sweep *s, const char *results, int i)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s/%s", results, s->name, s->runs[i].run_id);
    mkdir(path, 0755);
    strcat(path, "/lock");
    int fd = open(path, O_RDWR | O_CREAT, 0644);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
    return fd;
}

static void test_status_states(void **state)
{
    (void)state;
    reset_dir();
    struct sweep s;
    load(&s);
    const char *res = tpath("res");
    char *hdr;
    int n_cols = header_cols(&s, &hdr);
    free(hdr);
    struct sbuf b = {0};
    add_row(&b, &s, 0, "ok", "NA", n_cols);
    add_row(&b, &s, 1, "fail", "train crashed", n_cols);
    add_row(&b, &s, 2, "fail", "first try", n_cols);  /* failed, then done */
    add_row(&b, &s, 2, "ok", "NA", n_cols);
    add_row(&b, &s, 3, "fail", "old", n_cols);        /* the last message is shown */
    add_row(&b, &s, 3, "fail", "eval exited 3", n_cols);
    add_row(&b, &s, 4, "fail", "was failed", n_cols); /* now running again */
    sb_printf(&b, "%d\t%s\t%s\trev\tok\tNA", SWEEP_SCHEMA, s.runs[5].run_id, s.name); /* torn */
    write_ledger(&s, res, &b);
    int fd4 = hold_lock(&s, res, 4), fd6 = hold_lock(&s, res, 6);
    struct sweep_status st;
    struct dcqb_err err = {0};
    assert_int_equal(sweep_status_read(&st, &s, res, &err), DCQB_OK);
    const int want[9] = {SWEEP_DONE,    SWEEP_FAILED,  SWEEP_DONE, SWEEP_FAILED, SWEEP_RUNNING,
                         SWEEP_TODO,    SWEEP_RUNNING, SWEEP_TODO, SWEEP_TODO};
    for (int i = 0; i < 9; i++) {
        if (st.state[i] != want[i]) {
            print_error("run %d: %s, want %s\n", i, sweep_state_name(st.state[i]),
                        sweep_state_name(want[i]));
            fail();
        }
    }
    assert_string_equal(st.err_msg[1], "train crashed");
    assert_string_equal(st.err_msg[3], "eval exited 3");
    assert_null(st.err_msg[0]);
    assert_int_equal(st.n[SWEEP_DONE], 2);
    assert_int_equal(st.n[SWEEP_FAILED], 2);
    assert_int_equal(st.n[SWEEP_RUNNING], 2);
    assert_int_equal(st.n[SWEEP_TODO], 3);
    sweep_status_free(&st);
    close(fd4); /* the lock goes with its holder: run 4 shows as failed again */
    close(fd6);
    assert_int_equal(sweep_status_read(&st, &s, res, &err), DCQB_OK);
    assert_int_equal(st.state[4], SWEEP_FAILED);
    assert_int_equal(st.state[6], SWEEP_TODO);
    sweep_status_free(&st);
    sweep_free(&s);
}

/* ---- submission through a fake sbatch ------------------------------------------------------ */

/* Records each call's arguments as one line of calls.txt and prints job id 100 + call number;
 * with FAKE_SBATCH_FAIL set, fails like sbatch does. */
static const char fake_sbatch[] =
    "#!/bin/sh\n"
    "d=$(dirname \"$0\")\n"
    "if [ -n \"${FAKE_SBATCH_FAIL:-}\" ]; then echo 'sbatch: error: invalid partition "
    "specified: nope' >&2; exit 1; fi\n"
    "echo \"$*\" >> \"$d/calls.txt\"\n"
    "for a in \"$@\"; do printf '[%s]' \"$a\"; done >> \"$d/args.txt\"; echo >> \"$d/args.txt\"\n"
    "echo $((100 + $(wc -l < \"$d/calls.txt\")))\n";

/* Submit s through the fake sbatch with --sbatch options `extra`; wants return code want_rc
 * and, when it is not DCQB_OK, an error naming want_msg. calls.txt's text, or NULL. */
static char *submit_fake_msg(const struct sweep *s, const char *extra, struct slurm_result *r,
                             int want_rc, const char *want_msg)
{
    static char path_env[4096];
    const char *bin = tpath("bin");
    test_write_file(tpath("bin/sbatch"), fake_sbatch);
    chmod(tpath("bin/sbatch"), 0755);
    remove(tpath("bin/calls.txt"));
    remove(tpath("bin/args.txt"));
    char cwd[512];
    assert_non_null(getcwd(cwd, sizeof cwd));
    snprintf(path_env, sizeof path_env, "%s/%s:%s", cwd, bin, getenv("PATH"));
    char *old = strdup(getenv("PATH"));
    setenv("PATH", path_env, 1);
    struct slurm_opts o = {.exec = "/opt/dcqbench", .sweep_file = "/data/s.conf",
                           .results_dir = tpath("res"), .workdir = "/work", .extra = extra,
                           .jobs = 3};
    struct dcqb_err err = {0};
    int rc = sweep_slurm_submit(s, &o, r, &err);
    setenv("PATH", old, 1);
    free(old);
    if (rc != want_rc) {
        print_error("rc %d, want %d: %s\n", rc, want_rc, err.msg);
        fail();
    }
    if (rc) {
        test_has(err.msg, want_msg);
        return NULL;
    }
    char *calls = test_slurp(tpath("bin/calls.txt"));
    assert_non_null(calls);
    return calls;
}

static char *submit_fake(const struct sweep *s, const char *extra, struct slurm_result *r,
                         int want_rc)
{
    return submit_fake_msg(s, extra, r, want_rc, "invalid partition specified: nope");
}

/* Line n (0-based) of text, copied into a static buffer. */
static const char *line_of(const char *text, int n)
{
    static char buf[4096];
    for (; n > 0 && text; n--) text = strchr(text, '\n') ? strchr(text, '\n') + 1 : NULL;
    assert_non_null(text);
    snprintf(buf, sizeof buf, "%.*s", (int)strcspn(text, "\n"), text);
    return buf;
}

static void test_submit_array_of_what_is_left(void **state)
{
    (void)state;
    reset_dir();
    struct sweep s;
    load(&s);
    char *hdr;
    int n_cols = header_cols(&s, &hdr);
    free(hdr);
    /* runs 0, 2, 3, 4 done; 1 failed (retried); 5..8 never ran */
    struct sbuf b = {0};
    for (int i = 0; i < 5; i++) add_row(&b, &s, i, i == 1 ? "fail" : "ok", "x", n_cols);
    write_ledger(&s, tpath("res"), &b);
    struct slurm_result r;
    char *calls = submit_fake(&s, "--partition=cpu  --time=1:00", &r, DCQB_OK);
    assert_int_equal(r.n_sub, 2);
    assert_int_equal(r.n_todo, 5);
    assert_int_equal(r.shards, 9);
    assert_int_equal(r.cpus, 6); /* jobs 3 x threads 2 */
    assert_string_equal(r.sub[0].what, "array");
    assert_string_equal(r.sub[0].id, "101");
    const char *a = line_of(calls, 0);
    assert_non_null(strstr(a, "--array=1,5-8 "));
    assert_non_null(strstr(a, "--cpus-per-task=6 "));
    assert_non_null(strstr(a, "--chdir=/work "));
    /* the user's options after ours (they win), the script last */
    assert_non_null(strstr(a, "--array=1,5-8 --partition=cpu --time=1:00 "));
    assert_non_null(strstr(a, "/slurm/tasks.sh"));
    assert_null(strstr(a, "--dependency"));
    const char *rep = line_of(calls, 1);
    assert_non_null(strstr(rep, "--dependency=afterany:101 "));
    assert_non_null(strstr(rep, "/slurm/report.sh"));
    assert_null(strstr(rep, "--array"));
    free(calls);
    /* the task script: shard k/9 with the runs' jobs, nothing else */
    char *task = test_slurp(tpath("res/slurmt/slurm/tasks.sh"));
    assert_non_null(task);
    assert_non_null(strstr(task, "exec '/opt/dcqbench' sweep '/data/s.conf' --results '"));
    assert_non_null(strstr(task, "--jobs 3 --shard \"$SLURM_ARRAY_TASK_ID/9\""));
    free(task);
    /* everything done: the report job alone, depending on nothing */
    b = (struct sbuf){0};
    for (int i = 0; i < 9; i++) add_row(&b, &s, i, "ok", "NA", n_cols);
    write_ledger(&s, tpath("res"), &b);
    calls = submit_fake(&s, NULL, &r, DCQB_OK);
    assert_int_equal(r.n_sub, 1);
    assert_int_equal(r.n_tasks, 0);
    assert_string_equal(r.sub[0].what, "report");
    assert_null(strstr(calls, "--dependency"));
    free(calls);
    sweep_free(&s);
}

static void test_submit_stages(void **state)
{
    (void)state;
    reset_dir();
    struct sweep s;
    load(&s);
    s.n_points = 1; /* as a [tune] section makes it: the submission goes in stages */
    struct slurm_result r;
    char *calls = submit_fake(&s, NULL, &r, DCQB_OK);
    assert_int_equal(r.n_sub, 3);
    const char *l0 = line_of(calls, 0);
    assert_non_null(strstr(l0, "--array=0-8 "));
    assert_null(strstr(l0, "--dependency"));
    assert_non_null(strstr(l0, "tasks.sh tune"));
    const char *l1 = line_of(calls, 1);
    assert_non_null(strstr(l1, "--dependency=afterany:101 "));
    assert_non_null(strstr(l1, "tasks.sh test"));
    const char *l2 = line_of(calls, 2);
    assert_non_null(strstr(l2, "--dependency=afterany:102 "));
    assert_non_null(strstr(l2, "report.sh"));
    assert_string_equal(r.sub[0].what, "tune");
    assert_string_equal(r.sub[1].what, "test");
    assert_string_equal(r.sub[2].what, "report");
    free(calls);
    /* a failing sbatch: its message, nothing recorded as submitted */
    setenv("FAKE_SBATCH_FAIL", "1", 1);
    submit_fake(&s, NULL, &r, DCQB_EIO);
    unsetenv("FAKE_SBATCH_FAIL");
    assert_int_equal(r.n_sub, 0);
    s.n_points = 0;
    sweep_free(&s);
}

/* The CLI: options that do not go together are refused by name (exit 2); --status prints one
 * line per run not done and the counts, exit 1 until every run is done. */
static void test_cli_flags_and_status(void **state)
{
    (void)state;
    reset_dir();
    struct sweep s;
    load(&s);
    char *hdr;
    int n_cols = header_cols(&s, &hdr);
    free(hdr);
    struct sbuf b = {0};
    add_row(&b, &s, 0, "fail", "train crashed", n_cols);
    for (int i = 1; i < 9; i++) add_row(&b, &s, i, "ok", "NA", n_cols);
    write_ledger(&s, tpath("res"), &b);
    static const struct { const char *args, *want; int st; } cases[] = {
        {"--slurm --force", "--shard and --force do not go with --slurm", 2},
        {"--status --shard 0/2", "--shard and --force do not go with --slurm", 2},
        {"--slurm --status", "exclude each other", 2},
        {"--sbatch=--time=1", "need --slurm", 2},
        {"--status --results",
         "sweep slurmt: 9 runs: 8 done, 0 running, 1 failed, 0 to-run", 1},
    };
    char out[4096], args[1024];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(args, sizeof args, "sweep %s %s%s%s", tpath("s.conf"), cases[i].args,
                 strstr(cases[i].args, "--results") ? " " : "",
                 strstr(cases[i].args, "--results") ? tpath("res") : "");
        int st = test_run_cli(out, sizeof out, args);
        if (st != cases[i].st || !strstr(out, cases[i].want)) {
            print_error("%s: exit %d, want %d; output:\n%s\n", args, st, cases[i].st, out);
            fail();
        }
    }
    assert_non_null(strstr(out, "failed  "));
    assert_non_null(strstr(out, ": train crashed"));
    /* running runs show their stage: run 2 in training (its train.log's last progress line),
     * run 3 evaluating (summary.json says training ended ok; its eval.log's last stage line,
     * without the times); every line the keys that tell
     * the runs apart (seed for all, ratio for dcq) */
    char dir[700], f[800];
    snprintf(dir, sizeof dir, "%s/slurmt/%s", tpath("res"), s.runs[2].run_id);
    mkdir(dir, 0755);
    snprintf(f, sizeof f, "%s/train.log", dir);
    test_write_file(f,
                    "[train] step 200/1000 ( 20%)  loss 3\n[train] step 300/1000 ( 30%)  loss 2\n");
    snprintf(dir, sizeof dir, "%s/slurmt/%s", tpath("res"), s.runs[3].run_id);
    mkdir(dir, 0755);
    snprintf(f, sizeof f, "%s/summary.json", dir);
    test_write_file(f, "{\"status\": \"ok\", \"steps\": 10}\n");
    snprintf(f, sizeof f, "%s/eval.log", dir);
    test_write_file(f, "[eval] probes: 3520 done in 0.0s\n"
                       "[eval] distractors: 400/1000 (40%)  elapsed 21s  ETA 31s\n");
    int fd2 = hold_lock(&s, tpath("res"), 2), fd3 = hold_lock(&s, tpath("res"), 3);
    snprintf(args, sizeof args, "sweep %s --status --results %s", tpath("s.conf"), tpath("res"));
    assert_int_equal(test_run_cli(out, sizeof out, args), 1);
    close(fd2);
    close(fd3);
    static const char *const stage[2] = {"step 300/1000 (30%)",
                                         "evaluating, distractors: 400/1000 (40%)  build/"};
    for (int k = 0; k < 2; k++) {
        const char *l = strstr(out, s.runs[2 + k].run_id);
        assert_non_null(l);
        const char *e = strchr(l, '\n');
        char line[600];
        snprintf(line, sizeof line, "%.*s", (int)(e ? e - l : (long)strlen(l)), l);
        const char *head = NULL, *seed = NULL;
        for (int j = 0; j < s.runs[2 + k].n_kv; j++) {
            if (!strcmp(s.runs[2 + k].key[j], "head")) head = s.runs[2 + k].val[j];
            if (!strcmp(s.runs[2 + k].key[j], "seed")) seed = s.runs[2 + k].val[j];
        }
        char want_seed[32];
        snprintf(want_seed, sizeof want_seed, " seed=%s", seed);
        if (!strstr(line, stage[k]) || !strstr(line, want_seed) ||
            l - out < 8 || strncmp(l - 8, "running ", 8) || (!strcmp(head, "dcq") != !!strstr(line, "ratio="))) {
            print_error("status line of run %d (%s): '%s'\n", 2 + k, head, line);
            fail();
        }
    }
    assert_non_null(strstr(out, "sweep slurmt: 9 runs: 6 done, 2 running, 1 failed, 0 to-run"));
    sweep_free(&s);
}

/* --sbatch options are split as a shell splits them, nothing expanded: quoted blanks stay in
 * one argument; an unterminated quote is refused before anything is submitted. */
static void test_sbatch_quoting(void **state)
{
    (void)state;
    reset_dir();
    struct sweep s;
    load(&s);
    struct slurm_result r;
    char *calls = submit_fake(&s, "--comment='two words'  --x=\"a \\\"b\\\" $c\" --y=c\\ d --z=$HOME",
                              &r, DCQB_OK);
    free(calls);
    char *args = test_slurp(tpath("bin/args.txt"));
    assert_non_null(args);
    test_has(args, "[--comment=two words][--x=a \"b\" $c][--y=c d][--z=$HOME][");
    free(args);
    test_has(r.sub[0].line, " '--comment=two words' ");
    assert_null(submit_fake_msg(&s, "--time=1 --comment='oops", &r, DCQB_EINVAL,
                                "--sbatch: unterminated ' quote"));
    assert_null(test_slurp(tpath("bin/calls.txt"))); /* nothing was submitted */
    sweep_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_appends_never_interleave),
        cmocka_unit_test(test_status_states),
        cmocka_unit_test(test_submit_array_of_what_is_left),
        cmocka_unit_test(test_submit_stages),
        cmocka_unit_test(test_cli_flags_and_status),
        cmocka_unit_test(test_sbatch_quoting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
