/* sweep_exec.c - the sweep runner (see sweep.h): each run in a fresh child process, `dcqbench
 * train` and then `dcqbench eval`, up to `jobs` at once, one runs.tsv row per finished run
 * (sweep_ledger.c). docs/ARCHITECTURE.md §4 describes the life of a sweep.
 *
 * Why children: one crashed or diverged run must never take the sweep down, and a child's peak
 * RSS is its own.
 */
#include "sweep.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "rundir.h"
#include "sweep_ledger.h"
#include "tsv.h"

/* `train --resume`'s exit status when the folder's checkpoint cannot continue the run
 * (cmd_train.c documents it). */
#define TRAIN_EXIT_CKPT_UNUSABLE 3

struct slot {
    int run;       /* index into s->runs, -1 = free */
    pid_t pid;
    int phase;     /* 1 train, 2 eval */
    int fresh;     /* the folder's records were moved aside: train from scratch */
    int lock_fd;   /* the run folder's lock, held while the run is ours; -1 none */
    double t0;
};

struct runner {
    const struct sweep *s;
    const struct sweep_opts *o;
    char dir[1024];     /* <results>/<sweep> */
    struct sweep_ledger ledger;
    struct sweep_result *res;
    int todo_total;     /* runs to execute in this call */
    double wall_sum;
    int wall_n;
    int fwd;            /* the stop level already forwarded to children */
    struct slot *slots; /* o->jobs */
};

/* The folder of run `run`, or with f >= 0 a file in it. */
static void run_path(const struct runner *r, int run, int f, char *out, size_t n)
{
    char d[1100];
    snprintf(d, sizeof d, "%s/%s", r->dir, r->s->runs[run].run_id);
    if (f < 0) snprintf(out, n, "%s", d);
    else rundir_path(out, n, d, (enum rundir_file)f);
}

static void log_tail(const char *path, char *out, size_t n)
{
    out[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f) return;
    char buf[2048];
    long sz = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : 0;
    long off = sz > (long)sizeof buf - 1 ? sz - (long)sizeof buf + 1 : 0;
    size_t r = 0;
    if (fseek(f, off, SEEK_SET) == 0) r = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[r] = '\0';
    while (r && (buf[r - 1] == '\n' || buf[r - 1] == '\r' || buf[r - 1] == ' ')) buf[--r] = '\0';
    char *l = strrchr(buf, '\n');
    snprintf(out, n, "%s", l ? l + 1 : buf);
}



/* Start `exec <argv...>` with stdin /dev/null, stdout+stderr to log, in its own process group
 * (so a terminal's ^C reaches only the sweep, which forwards it exactly once), keep_fd (when
 * >= 0; a close-on-exec descriptor numbered above 3) as its fd 3. */
static int spawn(pid_t *pid, const char *exec, char *const argv[], const char *log, int keep_fd,
                 char *msg, size_t n)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, def;
    sigemptyset(&none);
    sigemptyset(&def);
    sigaddset(&def, SIGINT);
    sigaddset(&def, SIGTERM);
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc) goto out0;
    rc = posix_spawnattr_init(&at);
    if (rc) goto out1;
    if ((rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)) ||
        (rc = posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0644)) ||
        (rc = posix_spawn_file_actions_adddup2(&fa, 1, 2)) ||
        /* the run's lock, as fd 3 of the child: held until the child ends, even if we die */
        (keep_fd >= 0 && (rc = posix_spawn_file_actions_adddup2(&fa, keep_fd, 3))) ||
        (rc = posix_spawnattr_setpgroup(&at, 0)) ||
        (rc = posix_spawnattr_setsigmask(&at, &none)) ||
        (rc = posix_spawnattr_setsigdefault(&at, &def)) ||
        (rc = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                                POSIX_SPAWN_SETSIGDEF)))
        goto out2;
    extern char **environ;
    rc = posix_spawn(pid, exec, &fa, &at, argv, environ);
out2:
    posix_spawnattr_destroy(&at);
out1:
    posix_spawn_file_actions_destroy(&fa);
out0:
    if (rc) snprintf(msg, n, "cannot start %s: %s", exec, strerror(rc));
    return rc;
}

static void describe_exit(int st, const char *what, const char *log, char *msg, size_t n)
{
    char tail[200];
    log_tail(log, tail, sizeof tail);
    if (WIFSIGNALED(st))
        snprintf(msg, n, "%s crashed: killed by signal %d (%s); log: %s", what, WTERMSIG(st),
                 strsignal(WTERMSIG(st)), tail[0] ? tail : "(empty)");
    else
        snprintf(msg, n, "%s exited with status %d; log: %s", what, WEXITSTATUS(st),
                 tail[0] ? tail : "(empty)");
}



static void report(struct runner *r, int run, int ok, const char *msg, double wall,
                   int running)
{
    if (!r->o->progress) return;
    struct sweep_progress p = {0};
    p.run = &r->s->runs[run];
    p.ok = ok;
    p.err_msg = ok ? "" : msg;
    p.wall_s = wall;
    p.total = r->res->total;
    p.done = r->res->skipped + r->res->ok + r->res->failed;
    p.failed = r->res->failed;
    p.running = running;
    int left = r->todo_total - r->res->ok - r->res->failed;
    p.eta_s = r->wall_n ? r->wall_sum / r->wall_n * left / r->o->jobs : -1;
    r->o->progress(r->o->progress_ctx, &p);
}



static void note(const struct runner *r, int run, const char *fmt, const char *a)
{
    if (!r->o->note) return;
    char buf[2048];
    snprintf(buf, sizeof buf, fmt, a);
    r->o->note(r->o->progress_ctx, r->s->runs[run].run_id, buf);
}

/* The records an attempt leaves in a run folder: what --force or an unusable checkpoint moves
 * aside (never deletes) before a fresh start. */
static const char *const attempt_files[] = {"checkpoint.bin", "config.ini", "curve.tsv",
                                            "provenance.json", "summary.json", "eval"};

static int move_aside(struct runner *r, int run, struct dcqb_err *err)
{
    char dir[1200], aside[1400];
    int moved;
    run_path(r, run, -1, dir, sizeof dir);
    int rc = fs_move_aside(aside, sizeof aside, &moved, dir, attempt_files,
                           (int)(sizeof attempt_files / sizeof attempt_files[0]), err);
    if (!rc && moved) note(r, run, "earlier records moved aside to %s", aside);
    return rc;
}

/* Launch the child of sl's current phase: train (phase 1; --resume unless sl->fresh, which
 * only saves train a look for a checkpoint that is gone) or eval (phase 2). */
static void launch(struct runner *r, struct slot *sl, char *msg, size_t n)
{
    char dir[1200], conf[1200], log[1200];
    run_path(r, sl->run, -1, dir, sizeof dir);
    run_path(r, sl->run, RUNDIR_RUN_CONF, conf, sizeof conf);
    msg[0] = '\0';
    if (sl->phase == 1) {
        run_path(r, sl->run, RUNDIR_TRAIN_LOG, log, sizeof log);
        char *argv[] = {(char *)r->o->exec, "train", "--config", conf, "--out", dir,
                        sl->fresh ? NULL : "--resume", NULL};
        if (spawn(&sl->pid, r->o->exec, argv, log, sl->lock_fd, msg, n)) sl->pid = -1;
    } else {
        char edir[1200];
        run_path(r, sl->run, RUNDIR_EVAL, edir, sizeof edir);
        mkdir(edir, 0755);
        run_path(r, sl->run, RUNDIR_EVAL_LOG, log, sizeof log);
        char *argv[] = {(char *)r->o->exec, "eval", "--run", dir, NULL};
        if (spawn(&sl->pid, r->o->exec, argv, log, sl->lock_fd, msg, n)) sl->pid = -1;
    }
}

/* Start run `run` in slot sl. *started 0: the run is not ours to run now (locked elsewhere, or
 * finished by another process since the ledger was read); nothing was written. Otherwise the
 * folder is locked, run.conf written, and train (or, when training already finished, eval)
 * launched; a retry resumes rather than deleting anything (see sweep.h). */
static int start_run(struct runner *r, struct slot *sl, int run, int *started, char *msg,
                     size_t n, struct dcqb_err *err)
{
    char p[1200], path[1200];
    *started = 0;
    run_path(r, run, -1, p, sizeof p);
    int rc = fs_mkdir_p(p, err), busy, fd;
    if (rc) return rc;
    run_path(r, run, RUNDIR_LOCK, path, sizeof path);
    if ((rc = fs_lock_try(&fd, &busy, path, err))) return rc;
    if (busy) {
        r->res->locked++;
        note(r, run, "skipped: %s is held by another process (a concurrent sweep, or a child "
             "of a killed one still running); rerun when it is done", rundir_name(RUNDIR_LOCK));
        return DCQB_OK;
    }
    if ((rc = sweep_ledger_refresh(&r->ledger, err))) goto unlock;
    if (!r->o->force && sweep_ledger_has_ok(&r->ledger, r->s->runs[run].run_id)) {
        r->res->skipped++; /* finished by another process since we looked */
        goto unlock;
    }
    sl->fresh = 0;
    if (r->o->force) {
        if ((rc = move_aside(r, run, err))) goto unlock;
        sl->fresh = 1;
    }
    run_path(r, run, RUNDIR_RUN_CONF, path, sizeof path);
    const char *conf = r->s->runs[run].conf;
    if ((rc = file_write_atomic(path, conf, strlen(conf), err))) goto unlock;
    /* training finished (summary ok, final checkpoint there): evaluation alone is retried */
    struct rundir_record *sum = malloc(sizeof *sum);
    if (!sum) {
        rc = DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
        goto unlock;
    }
    const char *st = NULL;
    run_path(r, run, RUNDIR_CHECKPOINT, path, sizeof path);
    if (!sl->fresh && rundir_record_read(sum, p, RUNDIR_SUMMARY, NULL) == DCQB_OK)
        st = rundir_record_get(sum, "status");
    sl->phase = st && strcmp(st, "ok") == 0 && fs_exists(path) ? 2 : 1;
    free(sum);
    if (sl->phase == 2) note(r, run, "%s", "training finished earlier: evaluating only");
    sl->run = run;
    sl->lock_fd = fd;
    sl->t0 = dcqb_now_s();
    launch(r, sl, msg, n); /* a failed start is recorded as a failed run (pid -1) */
    *started = 1;
    return DCQB_OK;
unlock:
    close(fd);
    return rc;
}

/* Training ended (wait status st): why the run failed into msg, or "" when it may go on to
 * evaluation. sum is its summary.json (n = -1: none). */
static void train_verdict(const struct rundir_record *sum, int st, const char *log, char *msg,
                          size_t n)
{
    const char *status = rundir_record_get(sum, "status"), *em = rundir_record_get(sum, "err_msg");
    const char *name = rundir_name(RUNDIR_SUMMARY);
    int have_sum = sum->n >= 0;
    if (msg[0]) {
        /* could not start, or summary.json unreadable: msg says which */
    } else if (WIFSIGNALED(st) || (WEXITSTATUS(st) != 0 && !have_sum)) {
        describe_exit(st, "train", log, msg, n);
        if (!have_sum) snprintf(msg + strlen(msg), n - strlen(msg), " (no %s)", name);
    } else if (!have_sum) {
        snprintf(msg, n, "train exited with status 0 but wrote no %s", name);
    } else if (!status || strcmp(status, "ok") != 0 || WEXITSTATUS(st) != 0) {
        snprintf(msg, n, "train %s (exit %d)%s%s", status ? status : "status missing",
                 WEXITSTATUS(st), em && *em ? ": " : "", em ? em : "");
    }
}

/* A child of slot sl ended with wait status st (or failed to start: pid -1). Either launches
 * the next phase (returns with sl->run still set) or finishes the run. */
static int child_done(struct runner *r, struct slot *sl, int st, int stopping, char *msg,
                      size_t n, int running, struct dcqb_err *err)
{
    char dir[1200], log[1200];
    struct rundir_record *sum = calloc(2, sizeof *sum), *met;
    if (!sum) return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
    met = sum + 1;
    met->n = 0;
    int run = sl->run, ok = 0, rc = DCQB_OK;
    struct dcqb_err jerr = {0};
    run_path(r, run, -1, dir, sizeof dir);
    if (rundir_record_read(sum, dir, RUNDIR_SUMMARY, &jerr) && !msg[0])
        snprintf(msg, n, "%s", jerr.msg);
    if (sl->phase == 1 && !msg[0] && !stopping && !sl->fresh && sl->pid > 0 &&
        WIFEXITED(st) && WEXITSTATUS(st) == TRAIN_EXIT_CKPT_UNUSABLE) {
        /* the folder's checkpoint cannot continue this run: keep it aside, train afresh */
        char tail[300];
        run_path(r, run, RUNDIR_TRAIN_LOG, log, sizeof log);
        log_tail(log, tail, sizeof tail);
        note(r, run, "cannot resume (%s)", tail);
        if ((rc = move_aside(r, run, err))) goto free_slot;
        sl->fresh = 1;
        launch(r, sl, msg, n);
        if (sl->pid > 0) goto out;
    } else if (sl->phase == 1) {
        run_path(r, run, RUNDIR_TRAIN_LOG, log, sizeof log);
        train_verdict(sum, st, log, msg, n);
        if (!msg[0] && stopping) {
            r->res->interrupted++;
            goto free_slot;
        }
        if (!msg[0]) {
            sl->phase = 2;
            launch(r, sl, msg, n);
            if (sl->pid > 0) goto out;
        }
    } else {
        run_path(r, run, RUNDIR_EVAL_LOG, log, sizeof log);
        if (!msg[0] && (WIFSIGNALED(st) || WEXITSTATUS(st) != 0)) {
            describe_exit(st, "eval", log, msg, n);
        } else if (!msg[0]) {
            jerr.msg[0] = '\0';
            if (rundir_record_read(met, dir, RUNDIR_METRICS, &jerr))
                snprintf(msg, n, "%s", jerr.msg);
            else if (met->n < 0)
                snprintf(msg, n, "eval exited with status 0 but wrote no %s",
                         rundir_name(RUNDIR_METRICS));
            else ok = 1;
        }
    }
    if (sum->n < 0) sum->n = 0;
    if (met->n < 0) met->n = 0;
    if (!ok && stopping) { /* interrupted: no row, a rerun retries it */
        r->res->interrupted++;
        goto free_slot;
    }
    rc = sweep_ledger_append(&r->ledger, r->s, run, dir, ok, sum, met, msg, err);
    if (rc) goto free_slot;
    double wall = dcqb_now_s() - sl->t0;
    r->wall_sum += wall;
    r->wall_n++;
    if (ok) r->res->ok++;
    else r->res->failed++;
    report(r, run, ok, msg, wall, running - 1);
free_slot: /* the row is written: the run is no longer ours */
    if (sl->lock_fd >= 0) close(sl->lock_fd);
    sl->lock_fd = -1;
    sl->run = -1;
    sl->pid = 0;
out:
    free(sum);
    return rc;
}

int sweep_run_locked(const struct sweep *s, const char *results_dir, int i)
{
    char dir[1200], path[1300];
    snprintf(dir, sizeof dir, "%s/%s/%s", results_dir, s->name, s->runs[i].run_id);
    if (rundir_path(path, sizeof path, dir, RUNDIR_LOCK)) return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    int held = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    close(fd); /* also drops the shared lock we may have taken */
    return held;
}

/* Run the runs todo[0..n) (indices into s->runs), up to o->jobs at once. */
static int run_list(struct runner *r, const int *todo, int n_todo, struct dcqb_err *err)
{
    const struct sweep_opts *o = r->o;
    struct slot *slots = r->slots;
    int next = 0, running = 0, rc = DCQB_OK;
    char msg[512];
    r->todo_total += n_todo;
    while (next < n_todo || running > 0) {
        int stop = o->stop ? (int)*o->stop : 0;
        if (stop > r->fwd) { /* forward once per level: SIGINT, then SIGKILL */
            for (int j = 0; j < o->jobs; j++)
                if (slots[j].run >= 0 && slots[j].pid > 0)
                    kill(-slots[j].pid, stop >= 2 ? SIGKILL : SIGINT);
            r->fwd = stop;
        }
        for (int j = 0; j < o->jobs && !stop && next < n_todo; j++) {
            if (slots[j].run >= 0) continue;
            int started;
            if ((rc = start_run(r, &slots[j], todo[next++], &started, msg, sizeof msg, err)))
                goto wait;
            if (!started) {
                j--; /* the slot is still free: try the next run in it */
                continue;
            }
            running++;
            if (slots[j].pid < 0) { /* could not start: record now */
                if ((rc = child_done(r, &slots[j], 0, 0, msg, sizeof msg, running, err)))
                    goto wait;
                running--;
            }
        }
        if (!running) break;
        int reaped = 0;
        for (int j = 0; j < o->jobs; j++) {
            if (slots[j].run < 0) continue;
            int st;
            pid_t w = waitpid(slots[j].pid, &st, WNOHANG);
            if (w == 0 || (w < 0 && errno == EINTR)) continue;
            if (w < 0) st = 0x7f00; /* lost child: treat as exit 127 */
            reaped = 1;
            msg[0] = '\0';
            if ((rc = child_done(r, &slots[j], st, stop > 0, msg, sizeof msg, running, err)))
                goto wait;
            if (slots[j].run < 0) running--;
        }
        if (!reaped) {
            struct timespec ts = {0, 20 * 1000 * 1000}; /* 20 ms poll: negligible CPU */
            nanosleep(&ts, NULL);
        }
    }
    return DCQB_OK;
wait: /* a setup error mid-sweep: do not leave children behind */
    for (int j = 0; j < o->jobs; j++)
        if (slots[j].run >= 0 && slots[j].pid > 0) {
            kill(-slots[j].pid, SIGKILL);
            waitpid(slots[j].pid, NULL, 0);
        }
    return rc;
}

/* A test slot of a section none of whose grid runs succeeded: a failed row, no child. */
static int record_tune_failed(struct runner *r, const struct sweep_choice *c, int run,
                              struct dcqb_err *err)
{
    char dir[1200];
    struct rundir_record *none = calloc(1, sizeof *none);
    if (!none) return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
    const char *msg = sweep_tune_failure(c, r->s->runs[run].group);
    run_path(r, run, -1, dir, sizeof dir); /* never created: the row's config is the sweep's */
    int rc = sweep_ledger_append(&r->ledger, r->s, run, dir, 0, none, none, msg, err);
    free(none);
    if (rc) return rc;
    r->res->failed++;
    r->todo_total++; /* a run of this call, for the ETA's count of runs left */
    report(r, run, 0, msg, 0, 0);
    return DCQB_OK;
}

/* Every group's choice: computed from runs.tsv, written to tuning.tsv, one note each. With
 * need_ended, a group whose grid runs have not all ended is an error (--stage test). */
static int choose(struct runner *r, struct sweep_choice *c, int need_ended, struct dcqb_err *err)
{
    const struct sweep *s = r->s;
    int rc = sweep_tune_choose(c, s, r->o->results_dir, err);
    if (rc) return rc;
    for (int g = 0; g < s->n_groups; g++)
        if (need_ended && c->chosen[g] == SWEEP_CHOICE_PENDING) {
            char d[600];
            sweep_tune_describe(d, sizeof d, s, c, g);
            return DCQB_FAIL(err, DCQB_EINVAL, "--stage test: the grid runs of [%s]%s%s have "
                             "not all ended (%s): run --stage tune first (or merge the shards' "
                             "runs.tsv into %s/%s/)", s->groups[g].section,
                             s->groups[g].data[0] ? " on data " : "", s->groups[g].data, d,
                             r->o->results_dir, s->name);
        }
    if ((rc = sweep_tune_write(s, c, r->o->results_dir, err))) return rc;
    for (int g = 0; g < s->n_groups && r->o->note; g++) {
        char d[600];
        sweep_tune_describe(d, sizeof d, s, c, g);
        int p = c->chosen[g] >= 0 ? c->chosen[g] : 0;
        r->o->note(r->o->progress_ctx, s->groups[g].grid_id[p], d);
    }
    return DCQB_OK;
}

/* The runs of this shard and stage that are not yet ok, into todo; returns their count, or
 * minus an error code. Grid runs in phase 1; in phase 2 every other run the choice c makes part
 * of the sweep (c NULL: no tuning), recording the test slots of failed tunings as it goes. */
static int collect(struct runner *r, int phase, const struct sweep_choice *c, int *todo,
                   struct dcqb_err *err)
{
    const struct sweep *s = r->s;
    const struct sweep_opts *o = r->o;
    int n = 0, rc;
    for (int i = 0; i < s->n_runs; i++) {
        if (i % o->shard_n != o->shard_i) continue;
        if ((s->runs[i].tune == SWEEP_TUNE_GRID) != (phase == 1)) continue;
        int st = c ? sweep_run_state(s, c, i) : SWEEP_RUN_ACTIVE;
        if (st == SWEEP_RUN_UNCHOSEN) continue;
        r->res->total++;
        if (st == SWEEP_RUN_WAITING) {
            r->res->waiting++;
        } else if (st == SWEEP_RUN_TUNE_FAILED) {
            if ((rc = record_tune_failed(r, c, i, err))) return -rc;
        } else if (!o->force && sweep_ledger_has_ok(&r->ledger, s->runs[i].run_id)) {
            r->res->skipped++;
        } else {
            todo[n++] = i;
        }
    }
    return n;
}

int sweep_execute(const struct sweep *s, const struct sweep_opts *o, struct sweep_result *res,
                  struct dcqb_err *err)
{
    struct runner r = {.s = s, .o = o, .ledger = {.fd = -1}, .res = res};
    struct sweep_choice c = {0};
    memset(res, 0, sizeof *res);
    if (o->jobs < 1 || o->shard_n < 1 || o->shard_i < 0 || o->shard_i >= o->shard_n ||
        o->stage < SWEEP_STAGE_ALL || o->stage > SWEEP_STAGE_TEST)
        return DCQB_FAIL(err, DCQB_EINVAL, "bad jobs, shard or stage");
    if (snprintf(r.dir, sizeof r.dir, "%s/%s", o->results_dir, s->name) >= (int)sizeof r.dir)
        return DCQB_FAIL(err, DCQB_EINVAL, "results path too long");
    int rc = fs_mkdir_p(r.dir, err), n;
    if (rc) return rc;
    int *todo = malloc((size_t)(s->n_runs ? s->n_runs : 1) * sizeof *todo);
    r.slots = calloc((size_t)o->jobs, sizeof *r.slots);
    if (!todo || !r.slots) {
        rc = DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
        goto out;
    }
    for (int j = 0; j < o->jobs; j++) {
        r.slots[j].run = -1;
        r.slots[j].lock_fd = -1;
    }
    if ((rc = sweep_ledger_open(&r.ledger, s, r.dir, err))) goto out;
    /* --stage test refuses before running anything when some section is still tuning */
    if (o->stage == SWEEP_STAGE_TEST && s->n_groups && (rc = choose(&r, &c, 1, err))) goto out;
    if (o->stage != SWEEP_STAGE_TEST) { /* grid runs first: the test runs need their rows */
        if ((n = collect(&r, 1, NULL, todo, err)) < 0) {
            rc = -n;
            goto out;
        }
        if ((rc = run_list(&r, todo, n, err))) goto out;
        if (o->stop && *o->stop) goto stopped;
        if (s->n_groups && (rc = choose(&r, &c, 0, err))) goto out;
    }
    if (o->stage != SWEEP_STAGE_TUNE) {
        if ((n = collect(&r, 2, s->n_groups ? &c : NULL, todo, err)) < 0) {
            rc = -n;
            goto out;
        }
        if ((rc = run_list(&r, todo, n, err))) goto out;
    }
stopped:
    if (o->stop && *o->stop) {
        rc = DCQB_FAIL(err, DCQB_EINTR, "interrupted: %d run(s) stopped before finishing",
                       res->interrupted);
    }
out:
    for (int j = 0; r.slots && j < o->jobs; j++)
        if (r.slots[j].lock_fd >= 0) close(r.slots[j].lock_fd);
    sweep_ledger_close(&r.ledger);
    sweep_choice_free(&c);
    free(todo);
    free(r.slots);
    return rc;
}
