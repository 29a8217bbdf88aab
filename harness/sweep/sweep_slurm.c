/* sweep_slurm.c - see sweep_slurm.h: a sweep as Slurm job arrays, and its state from the results
 * folder alone.
 *
 * Why arrays of the ordinary runner: a task is `dcqbench sweep FILE --shard k/n`, so everything
 * the runner guarantees (one owner per run through its lock, resume from checkpoints, a failed
 * run recorded and retried, one whole runs.tsv row per run) holds on a cluster with no new code
 * path. Resubmitting the same command is the retry: tasks skip runs that have an ok row.
 */
#include "sweep_slurm.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fsutil.h"
#include "tsv.h"

/* ==== scripts =============================================================================== */

/* s single-quoted for sh ('it'\''s'). */
static void sh_quote(struct sbuf *b, const char *s)
{
    sb_add(b, "'", 1);
    for (; *s; s++) {
        if (*s == '\'') sb_str(b, "'\\''");
        else sb_add(b, s, 1);
    }
    sb_add(b, "'", 1);
}

static int write_script(const char *path, struct sbuf *b, struct dcqb_err *err)
{
    char *text;
    int rc = sb_take(b, &text, err);
    if (!rc) rc = file_write_atomic(path, text, strlen(text), err);
    free(text);
    if (!rc && chmod(path, 0755) != 0)
        rc = DCQB_FAIL(err, DCQB_EIO, "%s: chmod: %s", path, strerror(errno));
    return rc;
}

/* tasks.sh [STAGE]: one array task = one shard of the sweep. n is written out rather than taken
 * from SLURM_ARRAY_TASK_COUNT: a resubmission lists only the shards with runs left, and that
 * count is then not n. */
static int task_script(const struct sweep *s, const struct slurm_opts *o, int n,
                       const char *path, struct dcqb_err *err)
{
    struct sbuf b = {0};
    sb_printf(&b, "#!/bin/sh\n# dcqbench sweep --slurm: array task k runs shard k/%d of sweep "
                  "%s; $1 = stage (tune|test) when the sweep has a [tune] section.\n"
                  "# Exit status as the sweep's: 1 when a run failed (a resubmission retries "
                  "it).\nexec ", n, s->name);
    sh_quote(&b, o->exec);
    sb_str(&b, " sweep ");
    sh_quote(&b, o->sweep_file);
    sb_str(&b, " --results ");
    sh_quote(&b, o->results_dir);
    sb_printf(&b, " --jobs %d --shard \"$SLURM_ARRAY_TASK_ID/%d\" ${1:+--stage \"$1\"}\n",
              o->jobs, n);
    return write_script(path, &b, err);
}

/* report.sh: the state of every run, then the report (the report job runs afterany: it writes
 * whatever finished and lists the failures). */
static int report_script(const struct sweep *s, const struct slurm_opts *o, const char *path,
                         struct dcqb_err *err)
{
    struct sbuf b = {0};
    sb_str(&b, "#!/bin/sh\n# dcqbench sweep --slurm: runs after the array(s) ended, whatever "
               "their exit status.\n");
    sh_quote(&b, o->exec);
    sb_str(&b, " sweep ");
    sh_quote(&b, o->sweep_file);
    sb_str(&b, " --results ");
    sh_quote(&b, o->results_dir);
    sb_str(&b, " --status\n");
    if (o->report_cmd) {
        sb_printf(&b, "%s\n", o->report_cmd);
    } else if (strncmp(s->name, "reproduce_", 10) == 0) {
        /* what `make reproduce` does after its sweep: the report, then the figures */
        sh_quote(&b, o->exec);
        sb_printf(&b, " report --profile %s --results ", s->name + 10);
        sh_quote(&b, o->results_dir);
        sb_str(&b, " || exit $?\nif [ -f plots/make_plots.sh ]; then RESULTS=");
        sh_quote(&b, o->results_dir);
        sb_str(&b, " DCQBENCH=");
        sh_quote(&b, o->exec);
        sb_str(&b, " sh plots/make_plots.sh; fi\n");
    }
    return write_script(path, &b, err);
}

/* ==== sbatch ================================================================================ */

/* Run argv (argv[0] looked up in PATH), its stdout+stderr into out (NUL-terminated, cut at n);
 * *status its wait status. */
static int run_capture(char *const argv[], char *out, size_t n, int *status, struct dcqb_err *err)
{
    int p[2];
    if (pipe(p) != 0) return DCQB_FAIL(err, DCQB_EIO, "pipe: %s", strerror(errno));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    posix_spawn_file_actions_adddup2(&fa, p[1], 2);
    posix_spawn_file_actions_addclose(&fa, p[0]);
    extern char **environ;
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    if (rc) {
        close(p[0]);
        return DCQB_FAIL(err, DCQB_EIO, "cannot start %s: %s (is Slurm's client installed?)",
                         argv[0], strerror(rc));
    }
    size_t got = 0;
    for (;;) {
        char tmp[512];
        ssize_t r = read(p[0], tmp, sizeof tmp);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        size_t k = (size_t)r < n - 1 - got ? (size_t)r : n - 1 - got;
        memcpy(out + got, tmp, k);
        got += k;
    }
    out[got] = '\0';
    close(p[0]);
    while (waitpid(pid, status, 0) < 0)
        if (errno != EINTR) return DCQB_FAIL(err, DCQB_EIO, "waitpid: %s", strerror(errno));
    return DCQB_OK;
}

#define MAX_ARGS 96

struct argv_b {
    char *a[MAX_ARGS + 1];
    int n;
    char mem[8192]; /* the argument strings */
    size_t used;
};

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int arg(struct argv_b *v, struct dcqb_err *err, const char *fmt, ...);
/* Append one argument (printf-formatted) to v. */
static int arg(struct argv_b *v, struct dcqb_err *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = v->n < MAX_ARGS ? vsnprintf(v->mem + v->used, sizeof v->mem - v->used, fmt, ap) : -1;
    va_end(ap);
    if (k < 0 || (size_t)k >= sizeof v->mem - v->used)
        return DCQB_FAIL(err, DCQB_EINVAL, "sbatch command line too long");
    v->a[v->n++] = v->mem + v->used;
    v->a[v->n] = NULL;
    v->used += (size_t)k + 1;
    return DCQB_OK;
}

/* The user's --sbatch options as words, split as a POSIX shell splits them, with nothing
 * expanded: blanks separate words; '...' is literal; "..." is literal but for \" \\ \$ \`; a
 * backslash outside quotes takes the next character literally. So --comment='two words' is one
 * argument, as it would be on an sbatch command line. An unterminated quote is refused. */
static int extra_args(struct argv_b *v, const char *s, struct dcqb_err *err)
{
    char word[1024];
    int rc = DCQB_OK;
    while (!rc && *(s += strspn(s, " \t\n"))) {
        size_t n = 0;
        char q = 0;
        for (; *s && (q || !strchr(" \t\n", *s)); s++) {
            char c = *s;
            if (q == '\'') {
                if (c == '\'') q = 0;
                else if (n < sizeof word - 1) word[n++] = c;
                continue;
            }
            if (c == '\\' && s[1] && (!q || strchr("\"\\$`", s[1]))) c = *++s;
            else if (c == '\'' && !q) {
                q = '\'';
                continue;
            } else if (c == '"') {
                q = q ? 0 : '"';
                continue;
            }
            if (n < sizeof word - 1) word[n++] = c;
        }
        if (q)
            return DCQB_FAIL(err, DCQB_EINVAL, "--sbatch: unterminated %c quote", q);
        if (n == sizeof word - 1)
            return DCQB_FAIL(err, DCQB_EINVAL, "--sbatch: an option of over %zu characters",
                             sizeof word - 2);
        word[n] = '\0';
        rc = arg(v, err, "%s", word);
    }
    return rc;
}

/* Submit one job: sbatch --parsable <ours> [--dependency=afterany:dep] <extra> script [stage].
 * Our options come first so that the user's --sbatch options win. */
static int submit(struct slurm_result *res, const struct slurm_opts *o, const struct sweep *s,
                  const char *what, const char *array, int cpus, const char *dep,
                  const char *script, const char *stage, struct dcqb_err *err)
{
    struct argv_b *v = calloc(1, sizeof *v);
    if (!v) return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
    /* every arg() failure is DCQB_EINVAL: the chain keeps the code */
    int rc = arg(v, err, "%s", o->sbatch ? o->sbatch : "sbatch") ||
             arg(v, err, "--parsable") ||
             arg(v, err, "--job-name=dcqb-%s%s%s", s->name, strcmp(what, "array") ? "-" : "",
                 strcmp(what, "array") ? what : "") ||
             arg(v, err, "--chdir=%s", o->workdir) || arg(v, err, "--ntasks=1") ||
             arg(v, err, "--cpus-per-task=%d", cpus) ||
             arg(v, err, "--output=%s/%%x-%s.out", res->dir, array ? "%A_%a" : "%j")
                 ? DCQB_EINVAL : DCQB_OK;
    if (!rc && array) rc = arg(v, err, "--array=%s", array);
    if (!rc && dep) rc = arg(v, err, "--dependency=afterany:%s", dep);
    if (!rc && o->extra) rc = extra_args(v, o->extra, err);
    if (!rc) rc = arg(v, err, "%s", script);
    if (!rc && stage) rc = arg(v, err, "%s", stage);
    struct slurm_submit *sub = &res->sub[res->n_sub];
    if (!rc) {
        struct sbuf line = {0};
        for (int i = 0; i < v->n; i++) {
            if (i) sb_add(&line, " ", 1);
            if (strpbrk(v->a[i], " \t'\"$&;|<>()*?\\")) sh_quote(&line, v->a[i]);
            else sb_str(&line, v->a[i]);
        }
        snprintf(sub->line, sizeof sub->line, "%s", line.p ? line.p : "");
        sb_free(&line);
        char out[2048] = "";
        int st = 0;
        rc = run_capture(v->a, out, sizeof out, &st, err);
        size_t idn = strspn(out, "0123456789");
        if (!rc && (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || idn == 0 || idn >= sizeof sub->id)) {
            for (char *c = out; *c; c++) /* one line for the message */
                if (*c == '\n') *c = ' ';
            rc = DCQB_FAIL(err, DCQB_EIO, "%s (%s job) failed: %s", v->a[0], what,
                           out[0] ? out : "no job id printed");
        } else if (!rc) {
            memcpy(sub->id, out, idn);
            sub->id[idn] = '\0';
            snprintf(sub->what, sizeof sub->what, "%s", what);
            res->n_sub++;
        }
    }
    free(v);
    return rc;
}

/* "0-4,7,9-12" from the sorted task ids; DCQB_EINVAL when it does not fit. */
static int ranges(char *out, size_t n, const int *ids, int k, struct dcqb_err *err)
{
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < k;) {
        int j = i;
        while (j + 1 < k && ids[j + 1] == ids[j] + 1) j++;
        int w = j > i ? snprintf(out + used, n - used, "%s%d-%d", i ? "," : "", ids[i], ids[j])
                      : snprintf(out + used, n - used, "%s%d", i ? "," : "", ids[i]);
        if (w < 0 || (size_t)w >= n - used)
            return DCQB_FAIL(err, DCQB_EINVAL, "array task list too long");
        used += (size_t)w;
        i = j + 1;
    }
    return DCQB_OK;
}

int sweep_slurm_submit(const struct sweep *s, const struct slurm_opts *o,
                       struct slurm_result *res, struct dcqb_err *err)
{
    memset(res, 0, sizeof *res);
    if (o->jobs < 1 || o->shards < 0)
        return DCQB_FAIL(err, DCQB_EINVAL, "--jobs and --shards must be positive");
    if (snprintf(res->dir, sizeof res->dir, "%s/%s/slurm", o->results_dir, s->name) >=
        (int)sizeof res->dir)
        return DCQB_FAIL(err, DCQB_EINVAL, "results path too long");
    int rc = fs_mkdir_p(res->dir, err);
    if (rc) return rc;
    struct sweep_status st;
    if ((rc = sweep_status_read(&st, s, o->results_dir, err))) return rc;
    int n = o->shards ? o->shards : s->n_runs < SLURM_MAX_TASKS ? s->n_runs : SLURM_MAX_TASKS;
    if (n < 1) n = 1;
    long threads = 1;
    for (int r = 0; r < s->n_runs; r++)
        for (int k = 0; k < s->runs[r].n_kv; k++)
            if (!strcmp(s->runs[r].key[k], "threads") && atol(s->runs[r].val[k]) > threads)
                threads = atol(s->runs[r].val[k]);
    res->n_runs = s->n_runs;
    res->n_running = st.n[SWEEP_RUNNING];
    res->shards = n;
    res->cpus = (int)(o->jobs * threads);
    /* shards with a run to do (a running run is left to the task that holds its lock) */
    unsigned char *want = calloc((size_t)n, 1);
    int *ids = malloc((size_t)n * sizeof *ids);
    char *list = malloc((size_t)n * 12 + 16);
    char p_task[1200], p_report[1200];
    if (!want || !ids || !list) {
        rc = DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
        goto out;
    }
    for (int r = 0; r < s->n_runs; r++) {
        int todo = st.state[r] == SWEEP_TODO || st.state[r] == SWEEP_FAILED;
        res->n_todo += todo;
        if (todo || s->n_points) want[r % n] = 1;
    }
    for (int k = 0; k < n; k++)
        if (want[k]) ids[res->n_tasks++] = k;
    snprintf(p_task, sizeof p_task, "%s/tasks.sh", res->dir);
    snprintf(p_report, sizeof p_report, "%s/report.sh", res->dir);
    if ((rc = ranges(list, (size_t)n * 12 + 16, ids, res->n_tasks, err)) ||
        (rc = task_script(s, o, n, p_task, err)) || (rc = report_script(s, o, p_report, err)))
        goto out;
    const char *last = NULL;
    if (s->n_points) { /* a [tune] section: the grid stage, then the test stage */
        if ((rc = submit(res, o, s, "tune", list, res->cpus, NULL, p_task, "tune", err)) ||
            (rc = submit(res, o, s, "test", list, res->cpus, res->sub[0].id, p_task, "test",
                         err)))
            goto out;
        last = res->sub[1].id;
    } else if (res->n_tasks) {
        if ((rc = submit(res, o, s, "array", list, res->cpus, NULL, p_task, NULL, err)))
            goto out;
        last = res->sub[0].id;
    }
    rc = submit(res, o, s, "report", NULL, 1, last, p_report, NULL, err);
out:
    free(want);
    free(ids);
    free(list);
    sweep_status_free(&st);
    return rc;
}

/* ==== status ================================================================================ */

const char *sweep_state_name(enum sweep_state x)
{
    static const char *const names[] = {"to-run", "done", "running", "failed"};
    return x < SWEEP_N_STATES ? names[x] : "?";
}

struct row_ref {
    const char *id;
    int row;
};

static int cmp_ref(const void *a, const void *b)
{
    const struct row_ref *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    return c ? c : (x->row > y->row) - (x->row < y->row);
}

int sweep_status_read(struct sweep_status *st, const struct sweep *s, const char *results_dir,
                      struct dcqb_err *err)
{
    memset(st, 0, sizeof *st);
    char path[1100];
    snprintf(path, sizeof path, "%s/%s/runs.tsv", results_dir, s->name);
    char *text;
    if (file_read_all(&text, NULL, path, 0, err)) return DCQB_FAIL(err, DCQB_EIO,
                                                                   "%s: cannot read", path);
    struct tsv t = {0};
    int rc = DCQB_OK, c_id = -1, c_st = -1, c_msg = -1, n_ref = 0;
    if (text && *text) {
        if ((rc = tsv_parse(&t, text, path, err))) return rc;
        c_id = tsv_col(&t, "run_id");
        c_st = tsv_col(&t, "status");
        c_msg = tsv_col(&t, "err_msg");
        if (c_id < 0 || c_st < 0) {
            tsv_free(&t);
            return DCQB_FAIL(err, DCQB_EFORMAT, "%s: no run_id or status column", path);
        }
    } else {
        free(text);
    }
    /* one block: states, message pointers, row index, then the messages' text */
    size_t nr = (size_t)s->n_runs, msgs = 0;
    for (int r = 1; r < t.rows; r++)
        if (c_msg >= 0 && tsv_get(&t, r, c_msg)) msgs += strlen(tsv_get(&t, r, c_msg)) + 1;
    size_t sz = nr * sizeof(char *) + (size_t)(t.rows + 1) * sizeof(struct row_ref) + nr + msgs;
    if (!(st->mem = calloc(1, sz ? sz : 1))) {
        tsv_free(&t);
        return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
    }
    st->err_msg = (const char **)(void *)st->mem;
    struct row_ref *ref = (struct row_ref *)(void *)(st->mem + nr * sizeof(char *));
    st->state = (unsigned char *)(ref + t.rows + 1);
    char *mtext = (char *)st->state + nr;
    for (int r = 1; r < t.rows; r++)
        if (tsv_row_whole(&t, r) && tsv_get(&t, r, c_id))
            ref[n_ref++] = (struct row_ref){tsv_get(&t, r, c_id), r};
    qsort(ref, (size_t)n_ref, sizeof *ref, cmp_ref);
    struct sweep_choice ch = {0};
    if (s->n_groups && (rc = sweep_tune_choose(&ch, s, results_dir, err))) {
        tsv_free(&t);
        sweep_status_free(st);
        return rc;
    }
    for (int i = 0; i < s->n_runs; i++) {
        if (s->n_groups && sweep_run_state(s, &ch, i) == SWEEP_RUN_UNCHOSEN) {
            st->state[i] = SWEEP_NOT_CHOSEN;
            continue;
        }
        struct row_ref key = {s->runs[i].run_id, 0};
        const struct row_ref *lo = ref, *hi = ref + n_ref;
        while (lo < hi) { /* first row of this id */
            const struct row_ref *mid = lo + (hi - lo) / 2;
            if (cmp_ref(mid, &key) < 0) lo = mid + 1;
            else hi = mid;
        }
        int ok = 0, fail = -1;
        for (; lo < ref + n_ref && !strcmp(lo->id, key.id); lo++) {
            if (!strcmp(tsv_get(&t, lo->row, c_st), "ok")) ok = 1;
            else fail = lo->row; /* rows sorted by position: the last one wins */
        }
        enum sweep_state x = ok ? SWEEP_DONE : fail >= 0 ? SWEEP_FAILED : SWEEP_TODO;
        if (sweep_run_locked(s, results_dir, i)) x = SWEEP_RUNNING;
        if (x == SWEEP_FAILED && c_msg >= 0 && tsv_get(&t, fail, c_msg)) {
            const char *m = tsv_get(&t, fail, c_msg);
            size_t l = strlen(m) + 1;
            memcpy(mtext, m, l);
            st->err_msg[i] = mtext;
            mtext += l;
        }
        st->state[i] = (unsigned char)x;
        st->n[x]++;
    }
    sweep_choice_free(&ch);
    tsv_free(&t);
    return rc;
}

void sweep_status_free(struct sweep_status *st)
{
    free(st->mem);
    memset(st, 0, sizeof *st);
}
