/* cmd_sweep.c - 'dcqbench sweep': expand sweep files into runs and run each as child processes
 * (`dcqbench train`, then `dcqbench eval`), resumable, shardable, one runs.tsv row per run
 * (docs/ARCHITECTURE.md §4). The mechanism is harness/sweep/; this file parses options, prints
 * progress, and owns the SIGINT handler (the one piece of process-global state it needs).
 */
#include "cli.h"

#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "cfg.h"
#include "sweep.h"

static const char sweep_help[] =
    "usage: dcqbench sweep FILE... [--jobs N] [--shard i/n] [--force] [--dry-run]\n"
    "                      [--results DIR] [--stage tune|test|all]\n"
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

static void fmt_time(char *out, size_t n, double s)
{
    if (s < 0) snprintf(out, n, "?");
    else if (s < 10) snprintf(out, n, "%.1fs", s);
    else if (s < 120) snprintf(out, n, "%.0fs", s);
    else if (s < 7200) snprintf(out, n, "%.0fm%02.0fs", floor(s / 60), fmod(s, 60));
    else snprintf(out, n, "%.0fh%02.0fm", floor(s / 3600), floor(fmod(s, 3600) / 60));
}

static void on_progress(void *ctx, const struct sweep_progress *p)
{
    const struct progress_ctx *c = ctx;
    const char *head = "?";
    for (int i = 0; i < p->run->n_kv; i++)
        if (strcmp(p->run->key[i], "head") == 0) head = p->run->val[i];
    char eta[32], wall[32];
    fmt_time(eta, sizeof eta, p->eta_s);
    fmt_time(wall, sizeof wall, p->wall_s);
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
        return 0;
    }
    static const char *const bools[] = {"force", "dry_run", NULL};
    struct cfg c = {0};
    struct dcqb_err err = {0};
    long long jobs = 0;
    int force = 0, dry = 0, si = 0, sn = 1, status = 0, n_loaded = 0;
    const char *shard = NULL, *results = "results", *exec = NULL, *merge = NULL;
    static const char *const stages[] = {"all", "tune", "test", NULL}; /* enum sweep_stage */
    int stage = SWEEP_STAGE_ALL;
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
        cfg_get_choice(&c, "stage", "all", stages, &stage, &err) || cfg_check_unused(&c, &err) ||
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
