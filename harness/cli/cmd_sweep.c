/* cmd_sweep.c - 'dcqbench sweep': expand sweep files into runs and run each as child processes
 * (`dcqbench train`, then `dcqbench eval`), resumable, shardable, one runs.tsv row per run
 * (docs/ARCHITECTURE.md §4). The mechanism is harness/sweep/; this file parses options, prints
 * progress, and owns the SIGINT handler (the one piece of process-global state it needs).
 */
#define _DEFAULT_SOURCE /* realpath: --slurm hands absolute paths to jobs on other nodes */
#include "cli.h"

#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "cfg.h"
#include "fsutil.h"
#include "rundir.h"
#include "sweep.h"
#include "sweep_slurm.h"

static const char sweep_help[] =
    "usage: dcqbench sweep FILE... [--jobs N] [--shard i/n] [--force] [--dry-run]\n"
    "                      [--results DIR] [--stage tune|test|all]\n"
    "       dcqbench sweep FILE --slurm [--sbatch \"OPTIONS\"] [--jobs N] [--shards N]\n"
    "                      [--report-cmd \"CMD\"] [--results DIR]\n"
    "       dcqbench sweep FILE --status [--results DIR]\n"
    "       dcqbench sweep --merge OUT IN...\n"
    "\n"
    "Expand each sweep FILE into runs and run each one as child processes:\n"
    "  dcqbench train --config <run>/run.conf --out <run> --resume   then, if training\n"
    "  succeeded, dcqbench eval --run <run>\n"
    "A crashed, diverged or hung-then-killed child fails only its own run.\n"
    "\n"
    "Sweep file (INI; '#' or ';' starts a comment line, ' ;' an inline comment):\n"
    "  [sweep]          optional: name = <folder name> (default: FILE's basename without\n"
    "                   .conf), jobs = N, metrics = a, b, ... (metric columns of runs.tsv)\n"
    "  [base]           keys for every run\n"
    "  [head.<name>]    adds the runs of head <name> (full, random, dcq, sampled):\n"
    "                   head = <name> plus this section's keys, which override [base]'s\n"
    "  [head.<name>.<label>]  the same; the label lets one head appear in several tables\n"
    "                   of one file. A configuration reached twice is one run.\n"
    "  [data.<NAME>]    generator knobs only (dcqbench data --help): a data configuration.\n"
    "                   With any, every head section runs once per configuration, with\n"
    "                   report.data = NAME; 'data = a, b' in a head section restricts it.\n"
    "  [tune]           grid.<key> = v1, v2, ... (any train key; several keys: their\n"
    "                   product), seed = N (the tuning seed), optional data = NAME (tune on\n"
    "                   that configuration only). A head section with 'tune = 1' runs the\n"
    "                   grid at seed N, then its own seeds at the grid point with the best\n"
    "                   val_rank1 (ties: first in grid order); it may list only seeds.\n"
    "  key = a, b, c    a list: runs cover the Cartesian product of all lists of [base] and\n"
    "                   the head section. Keys are train's keys and any eval.<x> key;\n"
    "                   an unknown key, section or head, a repeated key, an empty value or\n"
    "                   a syntax error stops the sweep before any run starts (file:line).\n"
    "\n"
    "Runs: each run's config is canonicalised (keys sorted, numbers normalised) and hashed\n"
    "(FNV-1a 64) into a 16-hex run_id; its folder is <results>/<sweep>/<run_id>/ with\n"
    "run.conf, train.log, eval.log, summary.json and eval/. Runs execute in a fixed shuffled\n"
    "order, so a partial sweep covers the grid evenly.\n"
    "\n"
    "options:\n"
    "  --jobs N        run N runs at once (default: [sweep] jobs, else 1). Each child keeps\n"
    "                  its own 'threads' key: keep jobs x threads <= CPU cores.\n"
    "  --shard i/n     take only runs whose index in the canonical order is i mod n\n"
    "                  (0 <= i < n); n processes with i = 0..n-1 cover every run once.\n"
    "  --force         rerun runs that already have an ok row.\n"
    "  --dry-run       list run_ids with their state (done, locked: running now in some\n"
    "                  process, todo) and configs, run nothing.\n"
    "  --results DIR   results root (default: results).\n"
    "  --stage S       tune: only grid runs; test: every other run (refused while a tuned\n"
    "                  section's grid runs have not all ended); all (default): grid first.\n"
    "                  The choice is read from runs.tsv and written to tuning.tsv.\n"
    "  --merge OUT IN...  append the rows of runs.tsv files IN to OUT, keeping one header;\n"
    "                  all headers must be equal (equivalent: tail -n +2 IN >> OUT).\n"
    "\n";
/* two strings: C11 compilers need only support 4095 characters in one literal */
static const char sweep_help2[] =
    "Resume: a run whose run_id has a row with status ok in runs.tsv is skipped (whatever\n"
    "git_rev wrote it: use --force or a new --results DIR after changing code). Failed runs\n"
    "are retried on every rerun and get a new row, so runs.tsv can hold several rows per\n"
    "run_id: the last one is current (pandas: df.drop_duplicates('run_id', keep='last')).\n"
    "\n"
    "results/<sweep>/runs.tsv: tab-separated, header line, NA = missing, one row per finished\n"
    "run appended by one write() + fsync (shards may share the file). Columns: schema run_id\n"
    "sweep git_rev status tune (grid, best or -) tune_keys; the run's resolved configuration:\n"
    "every key that defines a run (training, generator and every head's keys) and every key\n"
    "of the sweep, sorted, read from the run's config.ini, so defaults are written out (NA:\n"
    "the run's head does not read the key; a key named like a fixed column is written\n"
    "cfg.<key>); steps wall_s\n"
    "samples_per_s head_mem_mb (MiB) peak_rss_mb final_loss digest ... queue_drift_mean from\n"
    "summary.json; the metric columns; err_msg. If runs.tsv exists with another header (the\n"
    "sweep gained an eval.* key or a metric, or an older schema), the sweep refuses: choose a\n"
    "new name or --results.\n"
    "Read with pandas.read_csv(f, sep='\\t', na_values='NA') or gnuplot 'set datafile\n"
    "separator tab'.\n"
    "\n"
    "Progress goes to stderr: runs done/total, failed, ETA (mean wall time of finished runs);\n"
    "one line per finished run when stderr is not a terminal.\n"
    "^C (SIGINT/SIGTERM): stop launching, forward SIGINT to running children (train\n"
    "checkpoints), wait for them and record what finished; a second ^C kills them.\n"
    "Interrupted runs get no row and run again next time.\n"
    "\n"
    "Each run folder has a 'lock' file: the sweep that runs it holds an flock() on it, handed\n"
    "to its train and eval children, so a second sweep (or a rerun while children of a killed\n"
    "sweep still run) skips that run and says so. A rerun resumes each unfinished run from its\n"
    "checkpoint (train --resume); a run whose training finished but whose evaluation did not\n"
    "is evaluated again, not retrained. Records that cannot be resumed (another configuration,\n"
    "a corrupt checkpoint), and with --force every earlier record, are moved to\n"
    "<run>/aside-<UTC time>/, never deleted.\n"
    "\n"
    "exit status: 0 all runs ok, 1 some run failed, was locked by another process or waits\n"
    "for tuning runs not yet ended (every other run was still attempted), 2 bad input,\n"
    "130 interrupted.\n";
static const char sweep_help_slurm[] =
    "\n"
    "On a Slurm cluster (results on a file system every node mounts):\n"
    "  --slurm         submit instead of running: one job array, task k running\n"
    "                  'dcqbench sweep FILE --shard k/n' (n: one shard per run, at most 1000),\n"
    "                  each with --cpus-per-task = jobs x the runs' largest 'threads'; then a\n"
    "                  report job (afterany: after every task ended, ok or not) printing\n"
    "                  --status and, for reproduce_<profile> sweeps, writing the report and\n"
    "                  figures as 'make reproduce' does. A sweep with a [tune] section gets an\n"
    "                  array per stage (tune, then test afterany tune). Scripts and job output:\n"
    "                  <results>/<sweep>/slurm/. Retry = the same command again: finished runs\n"
    "                  are skipped, only shards with runs left are submitted, and a run that is\n"
    "                  running now (locked) is left to its task.\n"
    "  --sbatch \"OPTS\" extra sbatch options for every job, split into words as a shell\n"
    "                  would (quotes keep blanks: --comment='a b'; nothing is expanded),\n"
    "                  e.g. \"--partition=cpu --time=2:00:00\"; they come last, so they win.\n"
    "  --jobs N        runs at once in one task (default 1).\n"
    "  --shards N      n of --shard k/n, the number of array tasks (default: runs, <= 1000).\n"
    "  --report-cmd C  shell command the report job runs after --status (cwd: this\n"
    "                  directory), instead of the reproduce_<profile> default.\n"
    "  --status        from the results folder alone (any node, while the array runs): each\n"
    "                  run done (ok row), running (its lock is held), failed (only fail rows;\n"
    "                  the last message shown) or to run; one line per run not done (the\n"
    "                  keys that tell it apart; running: its train.log's last step t/T, or\n"
    "                  evaluating and its eval.log's last stage), then the counts. Exit 0\n"
    "                  when every run is done, 1 otherwise.\n";

/* Set by the handler, read by sweep_execute: 1 = stop launching + forward SIGINT, 2 = kill. */
static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    if (g_stop < 2) g_stop++;
}

struct progress_ctx {
    const char *sweep;
    int tty;
};

static void on_progress(void *ctx, const struct sweep_progress *p)
{
    const struct progress_ctx *c = ctx;
    const char *head = "?";
    for (int i = 0; i < p->run->n_kv; i++)
        if (strcmp(p->run->key[i], "head") == 0) head = p->run->val[i];
    char eta[32], wall[32];
    cli_fmt_dur(eta, sizeof eta, p->eta_s);
    cli_fmt_dur(wall, sizeof wall, p->wall_s);
    if (c->tty) {
        if (!p->ok)
            fprintf(stderr, "\r\033[Ksweep %s: run %s (%s) failed: %s\n", c->sweep, p->run->run_id,
                    head, p->err_msg);
        fprintf(stderr, "\r\033[Ksweep %s: %d/%d done, %d failed, %d running, ETA %s", c->sweep,
                p->done, p->total, p->failed, p->running, eta);
    } else {
        fprintf(stderr, "sweep %s: [%d/%d] %s %s %s in %s (failed %d, ETA %s)%s%s\n", c->sweep,
                p->done, p->total, p->run->run_id, head, p->ok ? "ok" : "FAILED", wall, p->failed,
                eta, p->ok ? "" : ": ", p->err_msg);
    }
}

static int do_merge(struct cfg *c, const char *out)
{
    struct dcqb_err err = {0};
    if (c->n_pos < 1) {
        DCQB_FAIL(&err, DCQB_EINVAL, "--merge OUT needs at least one input runs.tsv");
        return cli_error("sweep", &err);
    }
    if (sweep_merge(out, (const char *const *)c->pos, c->n_pos, &err))
        return cli_error("sweep", &err);
    return 0;
}

static void dry_run(const struct sweep *s, const char *results, int si, int sn, int stage)
{
    unsigned char *done = calloc((size_t)(s->n_runs ? s->n_runs : 1), 1);
    struct dcqb_err err = {0};
    struct sweep_choice ch = {0};
    if (done && sweep_done_mask(s, results, done, &err))
        fprintf(stderr, "dcqbench sweep: %s (finished runs not marked)\n", err.msg);
    if (s->n_groups && sweep_tune_choose(&ch, s, results, &err)) {
        fprintf(stderr, "dcqbench sweep: %s\n", err.msg);
        free(done);
        return;
    }
    int n = 0, nd = 0, nl = 0, all = 0;
    for (int i = 0; i < s->n_runs; i++) {
        int st = s->n_groups ? sweep_run_state(s, &ch, i) : SWEEP_RUN_ACTIVE;
        all += st != SWEEP_RUN_UNCHOSEN;
        int grid = s->runs[i].tune == SWEEP_TUNE_GRID;
        if (i % sn != si || st == SWEEP_RUN_UNCHOSEN || (stage == SWEEP_STAGE_TUNE && !grid) ||
            (stage == SWEEP_STAGE_TEST && grid))
            continue;
        n++;
        if (st != SWEEP_RUN_ACTIVE) { /* a test slot: no grid point, so no run_id yet */
            printf("- %s", st == SWEEP_RUN_WAITING ? "waiting-for-tuning" : "tuning-failed");
            for (int k = 0; k < s->runs[i].n_kv; k++)
                printf(" %s=%s", s->runs[i].key[k], s->runs[i].val[k]);
            printf(" %s=?\n", s->tune_keys);
            continue;
        }
        nd += done && done[i];
        /* locked: a sweep (or an orphaned child of a killed one) is running it right now */
        int locked = !(done && done[i]) && sweep_run_locked(s, results, i);
        nl += locked;
        printf("%s %s %s/%s/%s", s->runs[i].run_id,
               done && done[i] ? "done" : locked ? "locked" : "todo", results, s->name,
               s->runs[i].run_id);
        for (int k = 0; k < s->runs[i].n_kv; k++)
            printf(" %s=%s", s->runs[i].key[k], s->runs[i].val[k]);
        printf("%s\n", s->runs[i].tune == SWEEP_TUNE_GRID ? " (tune: grid)"
                        : s->runs[i].tune == SWEEP_TUNE_BEST ? " (tune: best)" : "");
    }
    printf("# sweep %s: %d runs in this shard, %d done, %d to run (%d of them locked: running "
           "now), %d in the whole sweep\n", s->name, n, nd, n - nd, nl, all);
    for (int g = 0; g < s->n_groups; g++) {
        char d[600];
        sweep_tune_describe(d, sizeof d, s, &ch, g);
        printf("# %s\n", d);
    }
    sweep_choice_free(&ch);
    free(done);
}

static void on_note(void *ctx, const char *run_id, const char *msg)
{
    const struct progress_ctx *c = ctx;
    fprintf(stderr, "%ssweep %s: run %s: %s\n", c->tty ? "\r\033[K" : "", c->sweep, run_id, msg);
}

/* --slurm and --status replace running; the options of one make no sense with the other. */
static int slurm_flags_check(int slurm, int show, int dry, int force, const char *shard,
                             const char *sbatch, const char *report_cmd, long long shards,
                             struct dcqb_err *err)
{
    if (slurm + show + dry > 1)
        return DCQB_FAIL(err, DCQB_EINVAL, "--slurm, --status and --dry-run exclude each other");
    if ((slurm || show) && (shard || force))
        return DCQB_FAIL(err, DCQB_EINVAL, "--shard and --force do not go with --slurm or "
                                           "--status (the array's tasks are the shards; "
                                           "--shards N sets how many)");
    if (!slurm && (sbatch || report_cmd || shards))
        return DCQB_FAIL(err, DCQB_EINVAL, "--sbatch, --shards and --report-cmd need --slurm");
    return DCQB_OK;
}

/* Run r's value of key, or NULL. */
static const char *run_val(const struct sweep_run *r, const char *key)
{
    for (int k = 0; k < r->n_kv; k++)
        if (strcmp(r->key[k], key) == 0) return r->val[k];
    return NULL;
}

/* What tells the runs apart: the keys (head aside) whose value is not the same in every run,
 * in the order the runs state them; at most max. */
static int varying_keys(const struct sweep *s, const char **out, int max)
{
    int n = 0;
    for (int i = 0; i < s->n_runs; i++)
        for (int k = 0; k < s->runs[i].n_kv && n < max; k++) {
            const char *key = s->runs[i].key[k], *v0 = run_val(&s->runs[0], key);
            int have = !strcmp(key, "head"), differs = 0;
            for (int j = 0; j < n && !have; j++) have = !strcmp(out[j], key);
            for (int j = 1; j < s->n_runs && !have && !differs; j++) {
                const char *v = run_val(&s->runs[j], key);
                differs = !v != !v0 || (v && strcmp(v, v0));
            }
            if (!have && (differs || !v0)) out[n++] = key;
        }
    return n;
}

/* A running run's stage from its folder: once training has ended ok "evaluating" and the eval
 * log's last stage line ("distractors: 400000/1000000 (40%)"), else the train log's last
 * "step t/T (p%)", else "starting". */
static void running_stage(char *buf, size_t n, const char *dir)
{
    struct rundir_record rec;
    struct dcqb_err err = {0};
    int64_t t, T;
    const char *st = NULL;
    if (rundir_record_read(&rec, dir, RUNDIR_SUMMARY, &err) == DCQB_OK)
        st = rundir_record_get(&rec, "status");
    char line[64];
    if (st && !strcmp(st, "ok")) {
        if (rundir_log_last(line, sizeof line, dir, RUNDIR_EVAL_LOG, RUNDIR_EVAL_TAG)) {
            char *el = strstr(line, "  elapsed"); /* the stage and its share, not the times */
            if (el) *el = '\0';
            snprintf(buf, n, "evaluating, %s", line);
        } else {
            snprintf(buf, n, "evaluating");
        }
    } else if (rundir_train_progress(&t, &T, dir))
        snprintf(buf, n, "step %lld/%lld (%.0f%%)", (long long)t, (long long)T,
                 T > 0 ? 100.0 * (double)t / (double)T : 0.0);
    else snprintf(buf, n, "starting");
}

/* --status: every run's state from the results folder alone; 0 when all are done. Each run not
 * done on one line: state, run_id, head, the keys that tell it apart, a running run's stage,
 * its folder and a failed run's message. */
static int show_status(const struct sweep *s, const char *results)
{
    struct sweep_status st;
    struct dcqb_err err = {0};
    if (sweep_status_read(&st, s, results, &err)) return cli_error("sweep", &err);
    const char *vary[16];
    const int nv = varying_keys(s, vary, 16);
    for (int i = 0; i < s->n_runs; i++) {
        if (st.state[i] == SWEEP_DONE || st.state[i] == SWEEP_NOT_CHOSEN) continue;
        const struct sweep_run *r = &s->runs[i];
        const char *head = run_val(r, "head");
        char dir[2048], stage[96] = "";
        snprintf(dir, sizeof dir, "%s/%s/%s", results, s->name, r->run_id);
        printf("%-7s %s %-7s", sweep_state_name(st.state[i]), r->run_id, head ? head : "?");
        for (int k = 0; k < nv; k++) {
            const char *v = run_val(r, vary[k]);
            if (v) printf(" %s=%s", vary[k], v);
        }
        if (st.state[i] == SWEEP_RUNNING) running_stage(stage, sizeof stage, dir);
        printf("%s%s  %s%s%s\n", *stage ? "  " : "", stage, dir, st.err_msg[i] ? ": " : "",
               st.err_msg[i] ? st.err_msg[i] : "");
    }
    printf("sweep %s: %d runs: %d done, %d running, %d failed, %d to-run\n", s->name, s->n_runs,
           st.n[SWEEP_DONE], st.n[SWEEP_RUNNING], st.n[SWEEP_FAILED], st.n[SWEEP_TODO]);
    int rc = st.n[SWEEP_DONE] == s->n_runs ? 0 : 1;
    sweep_status_free(&st);
    return rc;
}

/* --slurm: submit the sweep's array(s) and report job; print each sbatch line and job id. */
static int submit_slurm(const struct sweep *s, const char *file, const char *results,
                        const char *exec, const char *sbatch, const char *report_cmd, int shards,
                        int jobs)
{
    struct dcqb_err err = {0};
    char afile[PATH_MAX], ares[PATH_MAX], aexec[PATH_MAX], cwd[PATH_MAX];
    /* absolute paths: the jobs may start elsewhere, on another node */
    if (fs_mkdir_p(results, &err)) return cli_error("sweep", &err);
    if (!realpath(file, afile) || !realpath(results, ares) || !realpath(exec, aexec) ||
        !getcwd(cwd, sizeof cwd)) {
        DCQB_FAIL(&err, DCQB_EIO, "cannot resolve %s, %s or %s to an absolute path", file,
                  results, exec);
        return cli_error("sweep", &err);
    }
    struct slurm_opts o = {.exec = aexec, .sweep_file = afile, .results_dir = ares,
                           .workdir = cwd, .extra = sbatch, .report_cmd = report_cmd,
                           .shards = shards, .jobs = jobs};
    struct slurm_result r;
    int rc = sweep_slurm_submit(s, &o, &r, &err);
    for (int i = 0; i < r.n_sub; i++)
        printf("%s\n  -> %s job %s\n", r.sub[i].line, r.sub[i].what, r.sub[i].id);
    if (rc) return cli_error("sweep", &err);
    printf("sweep %s: %d runs, %d to run, %d running now (left to their tasks): %d array "
           "task(s) of --shard k/%d, %d CPU(s) each; job output in %s\n", s->name, r.n_runs,
           r.n_todo, r.n_running, r.n_tasks, r.shards, r.cpus, r.dir);
    printf("watch: squeue");
    for (int i = 0; i < r.n_sub; i++) printf("%s%s", i ? "," : " -j ", r.sub[i].id);
    printf("   and: %s sweep %s --status --results %s\n", exec, file, results);
    return 0;
}

/* --shard i/n into *si, *sn. */
static int parse_shard(int *si, int *sn, const char *shard, struct dcqb_err *err)
{
    char *end;
    *si = (int)strtol(shard, &end, 10);
    if (*end == '/') *sn = (int)strtol(end + 1, &end, 10);
    if (*end || *sn < 1 || *si < 0 || *si >= *sn || !strchr(shard, '/'))
        return DCQB_FAIL(err, DCQB_EINVAL, "--shard wants i/n with 0 <= i < n, got '%s'", shard);
    return DCQB_OK;
}

/* Run one loaded sweep; folds its outcome into *status (0, 1 some run failed or was locked
 * elsewhere, 2 setup error, 130 interrupted). Returns non-zero to stop the remaining files. */
static int run_sweep(const struct sweep *sw, struct sweep_opts o, int tty, int *status)
{
    struct dcqb_err err = {0};
    struct progress_ctx pc = {sw->name, tty};
    o.progress = on_progress;
    o.note = on_note;
    o.progress_ctx = &pc;
    o.jobs = o.jobs ? o.jobs : (sw->jobs ? sw->jobs : 1);
    long cores = sysconf(_SC_NPROCESSORS_ONLN), threads = 1;
    for (int r = 0; r < sw->n_runs; r++)
        for (int k = 0; k < sw->runs[r].n_kv; k++)
            if (!strcmp(sw->runs[r].key[k], "threads") && atol(sw->runs[r].val[k]) > threads)
                threads = atol(sw->runs[r].val[k]);
    if (cores > 0 && o.jobs * threads > cores)
        fprintf(stderr, "dcqbench sweep: warning: %d jobs x %ld threads > %ld cores: runs "
                        "will compete for CPUs and their timings will suffer\n",
                o.jobs, threads, cores);
    struct sweep_result res;
    int rc = sweep_execute(sw, &o, &res, &err);
    if (tty && res.ok + res.failed) fputc('\n', stderr);
    fprintf(stderr, "sweep %s: %d runs in this shard, %d already done, %d ok, %d failed, "
                    "%d interrupted, %d locked by another process, %d waiting for tuning -> "
                    "%s/%s/runs.tsv\n",
            sw->name, res.total, res.skipped, res.ok, res.failed, res.interrupted, res.locked,
            res.waiting, o.results_dir, sw->name);
    if (rc == DCQB_EINTR) {
        fprintf(stderr, "dcqbench sweep: %s; rerun the same command to resume\n", err.msg);
        *status = 130;
    } else if (rc) {
        *status = cli_error("sweep", &err);
        return 1;
    } else if ((res.failed || res.locked || res.waiting) && *status == 0) {
        *status = 1;
    }
    return 0;
}

int cmd_sweep(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        fputs(sweep_help, stdout);
        fputs(sweep_help2, stdout);
        fputs(sweep_help_slurm, stdout);
        return 0;
    }
    static const char *const bools[] = {"force", "dry_run", "slurm", "status", NULL};
    struct cfg c = {0};
    struct dcqb_err err = {0};
    long long jobs = 0;
    int force = 0, dry = 0, si = 0, sn = 1, status = 0, n_loaded = 0, slurm = 0, show = 0;
    long long shards = 0;
    const char *shard = NULL, *results = "results", *exec = NULL, *merge = NULL;
    static const char *const stages[] = {"all", "tune", "test", NULL}; /* enum sweep_stage */
    int stage = SWEEP_STAGE_ALL;
    const char *sbatch = NULL, *report_cmd = NULL;
    char self[PATH_MAX];
    struct sweep *sw = NULL;
    if (cfg_parse_args(&c, argc, argv, bools, &err) ||
        cfg_get_int(&c, "jobs", 0, 1, 1024, &jobs, &err) ||
        cfg_get_bool(&c, "force", 0, &force, &err) ||
        cfg_get_bool(&c, "dry_run", 0, &dry, &err) ||
        cfg_get_str(&c, "shard", NULL, &shard, &err) ||
        cfg_get_str(&c, "results", "results", &results, &err) ||
        cfg_get_str(&c, "exec", NULL, &exec, &err) || /* hidden: a fake binary for tests */
        cfg_get_str(&c, "merge", NULL, &merge, &err) ||
        cfg_get_choice(&c, "stage", "all", stages, &stage, &err) ||
        cfg_get_bool(&c, "slurm", 0, &slurm, &err) || cfg_get_bool(&c, "status", 0, &show, &err) ||
        cfg_get_str(&c, "sbatch", NULL, &sbatch, &err) ||
        cfg_get_str(&c, "report_cmd", NULL, &report_cmd, &err) ||
        cfg_get_int(&c, "shards", 0, 1, SLURM_MAX_TASKS, &shards, &err) ||
        cfg_check_unused(&c, &err) || slurm_flags_check(slurm, show, dry, force, shard,
                                                        sbatch, report_cmd, shards, &err) ||
        (shard && parse_shard(&si, &sn, shard, &err)))
        goto fail;
    if (merge) {
        status = do_merge(&c, merge);
        goto out;
    }
    if (c.n_pos < 1) {
        DCQB_FAIL(&err, DCQB_EINVAL, "no sweep file given (see dcqbench sweep --help)");
        goto fail;
    }
    if (!exec) {
        ssize_t l = readlink("/proc/self/exe", self, sizeof self - 1);
        if (l < 0) {
            DCQB_FAIL(&err, DCQB_EIO, "cannot find my own executable (/proc/self/exe)");
            goto fail;
        }
        self[l] = '\0';
        exec = self;
    }
    /* every file is parsed before anything runs: a typo in the last one costs nothing */
    if (!(sw = calloc((size_t)c.n_pos, sizeof *sw))) {
        DCQB_FAIL(&err, DCQB_ENOMEM, "out of memory");
        goto fail;
    }
    for (; n_loaded < c.n_pos; n_loaded++) {
        char *hdr = NULL;
        if (sweep_load(&sw[n_loaded], c.pos[n_loaded], &err) ||
            sweep_tsv_header(&sw[n_loaded], &hdr, &err)) {
            n_loaded++; /* sweep_free is safe on a zeroed sweep */
            goto fail;
        }
        free(hdr);
    }
    if (dry) {
        for (int i = 0; i < n_loaded; i++) dry_run(&sw[i], results, si, sn, stage);
        goto out;
    }
    if (show || slurm) {
        for (int i = 0; i < n_loaded && status != 2; i++) {
            int st = show ? show_status(&sw[i], results)
                          : submit_slurm(&sw[i], c.pos[i], results, exec, sbatch, report_cmd,
                                         (int)shards, jobs ? (int)jobs : 1);
            if (st > status) status = st;
        }
        goto out;
    }
    struct sigaction sa = {0}, old_int, old_term;
    sa.sa_handler = on_signal; /* no SA_RESTART: sleeps and waits return early */
    sigemptyset(&sa.sa_mask);
    g_stop = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    struct sweep_opts o = {.exec = exec, .results_dir = results, .jobs = (int)jobs,
                           .shard_i = si, .shard_n = sn, .force = force, .stop = &g_stop,
                           .stage = stage};
    for (int i = 0; i < n_loaded && !g_stop; i++)
        if (run_sweep(&sw[i], o, isatty(STDERR_FILENO), &status)) break;
    if (g_stop && status != 2) status = 130;
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    goto out;
fail:
    status = cli_error("sweep", &err);
out:
    for (int i = 0; i < n_loaded; i++) sweep_free(&sw[i]);
    free(sw);
    cfg_free(&c);
    return status;
}
