/* test_interrupt.c - a sweep interrupted every way a user meets, through the real binary
 * ($DCQBENCH): killed with SIGKILL at seeded random moments (during training, during
 * evaluation, between runs) and rerun until done; the same with SIGINT; two sweeps on the same
 * sweep at once (plain, and the same shard twice); a full file system (a small tmpfs, root
 * only: skipped with a message otherwise), then rerun after space is freed. Every run must end
 * with exactly one ok row, no fail row, and the digest of an uninterrupted sweep.
 *
 * Tiny runs (8 identities, 400 steps of batch 16, checkpoint every 25 steps, a small
 * evaluation) keep the whole file to well under a minute on two cores. */
#include "test_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tsv.h"

static const char conf_text[] =
    "[sweep]\n"
    "name = it\n"
    "metrics = lfw_acc_mean\n"
    "[base]\n"
    "profile = uniform\n"
    "uniform_n = 4\n"
    "ids = 8\n"
    "batch = 16\n"
    "hidden = 8\n"
    "dim = 8\n"
    "steps = 400\n"
    "ckpt_every = 25\n"
    "lfw_pairs = 200\n"
    "eval.distractors = 100\n"
    "seed = 1, 2\n"
    "[head.full]\n"
    "[head.dcq]\n"
    "queue_len = 16\n"; /* L >= B */
#define N_RUNS 4

struct digest {
    char run_id[17];
    char digest[16];
};
static struct digest ref[N_RUNS];
static char conf_path[512];

static const char *tdir(const char *name)
{
    static char p[4][600];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", test_tmpdir(), name);
    return p[k];
}

static void rm_rf(const char *path)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    assert_int_equal(system(cmd), 0);
}

/* Start `dcqbench sweep CONF --results RES [extra]`, output to RES.log. */
static pid_t start_sweep(const char *res, const char *extra)
{
    char log[700];
    snprintf(log, sizeof log, "%s.log", res);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        const char *exe = test_exe();
        if (extra)
            execl(exe, exe, "sweep", conf_path, "--results", res, "--shard", extra, (char *)NULL);
        else
            execl(exe, exe, "sweep", conf_path, "--results", res, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static int wait_exit(pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int run_sweep(const char *res, const char *extra)
{
    return wait_exit(start_sweep(res, extra));
}

/* The phase a sweep is in: 't' a train child runs, 'e' an eval child, 'b' neither. */
static char phase_of(pid_t pid)
{
    char p[128], buf[256];
    snprintf(p, sizeof p, "/proc/%d/task/%d/children", (int)pid, (int)pid);
    FILE *f = fopen(p, "r");
    if (!f) return 'b';
    int child = 0;
    int got = fscanf(f, "%d", &child);
    fclose(f);
    if (got != 1) return 'b';
    snprintf(p, sizeof p, "/proc/%d/cmdline", child);
    f = fopen(p, "rb");
    if (!f) return 'b';
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *arg1 = buf + strlen(buf) + 1; /* argv[1] */
    return arg1 < buf + n && !strcmp(arg1, "train") ? 't' : arg1 < buf + n && !strcmp(arg1, "eval") ? 'e' : 'b';
}

/* runs.tsv of RES: every run of the sweep has exactly one ok row (whole rows only), no fail
 * row, and (with want) the reference digest. Fills ref when want is 0. */
static void check_ledger(const char *res, int want)
{
    char path[700];
    snprintf(path, sizeof path, "%s/it/runs.tsv", res);
    struct tsv t;
    struct dcqb_err err = {0};
    int rc = tsv_load(&t, path, &err);
    if (rc) print_error("%s\n", err.msg);
    assert_int_equal(rc, DCQB_OK);
    int c_id = tsv_col(&t, "run_id"), c_st = tsv_col(&t, "status"), c_dg = tsv_col(&t, "digest");
    assert_true(c_id >= 0 && c_st >= 0 && c_dg >= 0);
    int n_ok = 0, n_fail = 0;
    for (int r = 1; r < t.rows; r++) {
        if (!tsv_row_whole(&t, r)) continue;
        const char *id = tsv_get(&t, r, c_id), *st = tsv_get(&t, r, c_st);
        const char *dg = tsv_get(&t, r, c_dg);
        if (strcmp(st, "ok") != 0) {
            n_fail++;
            print_error("%s: row %d: run %s status %s\n", path, r, id, st);
            continue;
        }
        n_ok++;
        int k = 0;
        if (!want) {
            assert_true(n_ok <= N_RUNS);
            k = n_ok - 1;
            snprintf(ref[k].run_id, sizeof ref[k].run_id, "%s", id);
            snprintf(ref[k].digest, sizeof ref[k].digest, "%s", dg);
            continue;
        }
        while (k < N_RUNS && strcmp(ref[k].run_id, id) != 0) k++;
        assert_true(k < N_RUNS);
        if (strcmp(ref[k].digest, dg) != 0)
            print_error("run %s: digest %s, uninterrupted %s\n", id, dg, ref[k].digest);
        assert_string_equal(ref[k].digest, dg);
        for (int r2 = 1; r2 < r; r2++) /* exactly once */
            if (tsv_row_whole(&t, r2) && !strcmp(tsv_get(&t, r2, c_id), id) &&
                !strcmp(tsv_get(&t, r2, c_st), "ok"))
                fail_msg("run %s has two ok rows", id);
    }
    tsv_free(&t);
    assert_int_equal(n_fail, 0);
    assert_int_equal(n_ok, N_RUNS);
}

static int setup(void **state)
{
    (void)state;
    snprintf(conf_path, sizeof conf_path, "%s/it.conf", test_tmpdir());
    FILE *f = fopen(conf_path, "w");
    assert_non_null(f);
    fputs(conf_text, f);
    fclose(f);
    const char *res = tdir("it_ref");
    rm_rf(res);
    assert_int_equal(run_sweep(res, NULL), 0);
    check_ledger(res, 0);
    return 0;
}

/* A seeded generator (numbers are reproducible, moments are not: the machine's speed varies) */
static unsigned long long lcg = 20261202ULL;
static double rnd01(void)
{
    lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(lcg >> 11) / 9007199254740992.0;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

/* Kill the sweep with sig at random moments until `kills` landed on a live sweep, then rerun
 * until it exits 0 (runs held by orphaned children of a killed sweep are skipped until those
 * end). */
static void interrupt_until_done(int sig, int kills, const char *name)
{
    const char *res = tdir(name);
    rm_rf(res);
    int landed = 0, n_t = 0, n_e = 0, n_b = 0, done = 0;
    for (int iter = 0; iter < 80 && !done; iter++) {
        pid_t pid = start_sweep(res, NULL);
        if (landed < kills) {
            double delay = 0.02 + 0.6 * rnd01();
            int st = 0;
            pid_t w = 0;
            for (double t = 0; t < delay && (w = waitpid(pid, &st, WNOHANG)) == 0; t += 0.01)
                sleep_s(0.01);
            if (w == 0) {
                char ph = phase_of(pid);
                kill(pid, sig);
                wait_exit(pid);
                landed++;
                n_t += ph == 't';
                n_e += ph == 'e';
                n_b += ph == 'b';
                continue;
            }
            done = WIFEXITED(st) && WEXITSTATUS(st) == 0;
        } else {
            done = wait_exit(pid) == 0;
        }
        if (!done) sleep_s(0.2); /* an orphan holds a run: give it time */
    }
    assert_true(done);
    printf("interrupt %s: %d kills by signal %d survived (%d during training, %d during "
           "evaluation, %d between runs)\n", name, landed, sig, n_t, n_e, n_b);
    check_ledger(res, 1);
    /* SIGINT reaches train, which checkpoints: the retry must resume, not start over */
    if (sig == SIGINT && n_t > 0) {
        char cmd[800];
        snprintf(cmd, sizeof cmd, "grep -l 'resuming' %s/it/*/train.log >/dev/null", res);
        assert_int_equal(system(cmd), 0);
    }
}

static void test_sigkill_at_random_moments(void **state)
{
    (void)state;
    interrupt_until_done(SIGKILL, 12, "it_kill");
}

static void test_sigint_at_random_moments(void **state)
{
    (void)state;
    interrupt_until_done(SIGINT, 8, "it_int");
}

/* Two sweeps at once: plain twice, then the same shard twice beside the other shard. */
static void test_concurrent_sweeps(void **state)
{
    (void)state;
    const char *res = tdir("it_two");
    rm_rf(res);
    int done = 0;
    for (int round = 0; round < 50 && !done; round++) {
        pid_t a = start_sweep(res, NULL), b = start_sweep(res, NULL);
        int ra = wait_exit(a), rb = wait_exit(b);
        assert_true(ra <= 1 && rb <= 1);
        done = ra == 0 || rb == 0;
    }
    assert_true(done);
    check_ledger(res, 1);

    res = tdir("it_shards");
    rm_rf(res);
    done = 0;
    for (int round = 0; round < 50 && !done; round++) {
        pid_t a = start_sweep(res, "0/2"), b = start_sweep(res, "0/2"), c = start_sweep(res, "1/2");
        int ra = wait_exit(a), rb = wait_exit(b), rc = wait_exit(c);
        assert_true(ra <= 1 && rb <= 1 && rc <= 1);
        done = rc == 0 && (ra == 0 || rb == 0);
    }
    assert_true(done);
    check_ledger(res, 1);
}

/* A run whose folder lock another process holds is skipped with a message (exit 1), shown as
 * locked by --dry-run, and run once the lock is released. */
static void test_locked_run_skipped(void **state)
{
    (void)state;
    const char *res = tdir("it_locked");
    rm_rf(res);
    char dir[800], lock[900], cmd[1600];
    snprintf(dir, sizeof dir, "%s/it/%s", res, ref[0].run_id);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    assert_int_equal(system(cmd), 0);
    snprintf(lock, sizeof lock, "%s/lock", dir);
    int fd = open(lock, O_RDWR | O_CREAT, 0644);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX), 0);
    static char out[1 << 15];
    snprintf(cmd, sizeof cmd, "sweep %s --results %s --dry-run", conf_path, res);
    assert_int_equal(test_run_cli(out, sizeof out, cmd), 0);
    char want[100];
    snprintf(want, sizeof want, "%s locked", ref[0].run_id);
    assert_non_null(strstr(out, want));
    snprintf(cmd, sizeof cmd, "sweep %s --results %s", conf_path, res);
    assert_int_equal(test_run_cli(out, sizeof out, cmd), 1);
    assert_non_null(strstr(out, "held by another process"));
    assert_non_null(strstr(out, "1 locked by another process"));
    close(fd); /* releases the lock */
    assert_int_equal(test_run_cli(out, sizeof out, cmd), 0);
    check_ledger(res, 1);
}

/* A full file system: the run fails cleanly (an exit status, no crash, no hang), and once space
 * is freed the rerun completes with the uninterrupted digests. */
static void test_full_filesystem(void **state)
{
    (void)state;
    if (geteuid() != 0) {
        printf("test_full_filesystem: skipped: needs root to mount a tmpfs\n");
        return;
    }
    const char *mnt = tdir("it_tmpfs");
    char cmd[1200];
    /* a mount left by an earlier failed run of this test goes first */
    snprintf(cmd, sizeof cmd, "umount '%s' 2>/dev/null; mkdir -p '%s' && "
             "mount -t tmpfs -o size=1m tmpfs '%s' 2>/dev/null", mnt, mnt, mnt);
    if (system(cmd) != 0) {
        printf("test_full_filesystem: skipped: cannot mount a tmpfs here (no CAP_SYS_ADMIN?)\n");
        return;
    }
    /* leave 48 KiB: enough to start, not to finish (a checkpoint alone is ~17 KiB, twice while
     * its temporary file is renamed over the old one) */
    snprintf(cmd, sizeof cmd, "dd if=/dev/zero of='%s/fill' bs=1k count=1000 2>/dev/null; "
             "rm -f '%s/fill'; dd if=/dev/zero of='%s/fill' bs=1k count=$(( $(df -k --output=avail "
             "'%s' | tail -n 1) - 48 )) 2>/dev/null", mnt, mnt, mnt, mnt);
    (void)!system(cmd);
    char res[700];
    snprintf(res, sizeof res, "%s/r", mnt);
    int first = run_sweep(res, NULL);
    printf("test_full_filesystem: sweep on a full disk exited %d\n", first);
    assert_true(first == 1 || first == 2); /* failed runs, or runs.tsv itself unwritable */
    snprintf(cmd, sizeof cmd, "rm -f '%s/fill'", mnt);
    assert_int_equal(system(cmd), 0);
    int rc = 1;
    for (int i = 0; i < 3 && rc != 0; i++) rc = run_sweep(res, NULL);
    assert_int_equal(rc, 0);
    /* the failed attempts left fail rows: the current (last) row of each run must be ok with
     * the reference digest, and ok exactly once */
    char path[800];
    snprintf(path, sizeof path, "%s/it/runs.tsv", res);
    struct tsv t;
    struct dcqb_err err = {0};
    assert_int_equal(tsv_load(&t, path, &err), DCQB_OK);
    int c_id = tsv_col(&t, "run_id"), c_st = tsv_col(&t, "status"), c_dg = tsv_col(&t, "digest");
    for (int k = 0; k < N_RUNS; k++) {
        int n_ok = 0, last = -1;
        for (int r = 1; r < t.rows; r++)
            if (tsv_row_whole(&t, r) && !strcmp(tsv_get(&t, r, c_id), ref[k].run_id)) {
                last = r;
                n_ok += !strcmp(tsv_get(&t, r, c_st), "ok");
            }
        assert_true(last > 0);
        assert_int_equal(n_ok, 1);
        assert_string_equal(tsv_get(&t, last, c_st), "ok");
        assert_string_equal(tsv_get(&t, last, c_dg), ref[k].digest);
    }
    tsv_free(&t);
    snprintf(cmd, sizeof cmd, "umount '%s'", mnt);
    (void)!system(cmd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigkill_at_random_moments),
        cmocka_unit_test(test_sigint_at_random_moments),
        cmocka_unit_test(test_concurrent_sweeps),
        cmocka_unit_test(test_locked_run_skipped),
        cmocka_unit_test(test_full_filesystem),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
