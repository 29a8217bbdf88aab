/* sweep_ledger.c - see sweep_ledger.h: runs.tsv's header and rows, which runs are done, and
 * merging the runs.tsv files of shards. docs/ARCHITECTURE.md §5 lists the columns.
 */
#include "sweep_ledger.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg.h"
#include "tsv.h"
#include "version.h"

/* Columns copied from summary.json, in runs.tsv order. eval_ema_default: the network `eval
 * --run` embeds with when eval.net is "default" or not set (1 EMA, 0 online). */
static const char *const result_cols[] = {
    "steps", "wall_s", "samples_per_s", "head_mem_mb", "peak_rss_mb", "final_loss", "digest",
    "first_loss", "classes", "train_images", "head_time_share", "backbone_time_share",
    "data_time_share", "head_per_class_bytes", "head_fixed_bytes", "head_flops_per_step",
    "backbone_flops_per_step", "head_active_classes", "queue_distinct_classes", "blas_core",
    "eval_ema_default", "eff_classes_mean", "batch_labels_mean", "queue_staleness",
    "queue_age_mean", "queue_drift_mean", NULL};
#define LEDGER_MAX_BYTES ((size_t)1 << 30) /* a guard against reading a huge wrong file */

/* tune: grid (a tuning run), best (a tuned section's test run) or - ; tune_keys: the grid keys */
static const char *const lead_cols[] = {"schema", "run_id", "sweep", "git_rev", "status",
                                        "tune", "tune_keys", NULL};
static const char *const tune_names[] = {"-", "grid", "best"};

static int in_list(const char *const *list, const char *s)
{
    for (int i = 0; list[i]; i++)
        if (strcmp(list[i], s) == 0) return 1;
    return 0;
}

/* ==== runs.tsv header ======================================================================= */

/* One TSV cell: empty -> NA, tabs/newlines -> spaces. */
static void cell(struct sbuf *b, const char *s, int first)
{
    if (!first) sb_add(b, "\t", 1);
    sb_cell(b, s, "NA");
}

/* A config key clashing with a fixed column is written as "cfg.<key>" (e.g. cfg.steps: the
 * requested steps, next to `steps`, the steps actually done). */
static const char *config_col(const char *key, char *buf, size_t n)
{
    if (in_list(lead_cols, key) || in_list(result_cols, key) || strcmp(key, "err_msg") == 0) {
        snprintf(buf, n, "cfg.%s", key);
        return buf;
    }
    return key;
}

int sweep_tsv_header(const struct sweep *s, char **out, struct dcqb_err *err)
{
    struct sbuf b = {0};
    char buf[CFG_KEY_MAX + 8];
    int first = 1;
    for (int i = 0; lead_cols[i]; i++, first = 0) cell(&b, lead_cols[i], first);
    for (int i = 0; i < s->n_cols; i++) cell(&b, config_col(s->cols[i], buf, sizeof buf), 0);
    for (int i = 0; result_cols[i]; i++) cell(&b, result_cols[i], 0);
    for (int i = 0; i < s->n_metrics; i++) {
        const char *m = s->metrics[i];
        int clash = in_list(lead_cols, m) || in_list(result_cols, m) || !strcmp(m, "err_msg");
        for (int k = 0; k < s->n_cols; k++)
            clash |= !strcmp(config_col(s->cols[k], buf, sizeof buf), m);
        if (clash) {
            free(b.p);
            return DCQB_FAIL(err, DCQB_EINVAL, "%s: metric '%s' clashes with a runs.tsv column",
                             s->path, m);
        }
        cell(&b, m, 0);
    }
    cell(&b, "err_msg", 0);
    sb_add(&b, "\n", 1);
    if (b.oom) {
        free(b.p);
        return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
    }
    *out = b.p;
    return DCQB_OK;
}


/* ==== runs.tsv reading ====================================================================== */

static int cmp_id(const void *a, const void *b) { return strcmp(a, b); } /* char[17] rows */

/* Sorted run_ids with an ok row in `text` (a whole runs.tsv, taken over and freed). Torn or
 * partial rows (a writer killed mid-line) do not count. */
static int ok_ids(char *text, char (**ids)[17], int *n_ids, struct dcqb_err *err)
{
    *ids = NULL;
    *n_ids = 0;
    if (!text || !*text) {
        free(text);
        return DCQB_OK;
    }
    struct tsv t;
    int rc = tsv_parse(&t, text, "runs.tsv", err), cap = 0;
    if (rc) return rc;
    int c_id = tsv_col(&t, "run_id"), c_st = tsv_col(&t, "status");
    if (c_id < 0 || c_st < 0) rc = DCQB_FAIL(err, DCQB_EFORMAT, "runs.tsv: no run_id/status");
    for (int r = 1; !rc && r < t.rows; r++) {
        const char *id = tsv_get(&t, r, c_id), *st = tsv_get(&t, r, c_st);
        if (!tsv_row_whole(&t, r) || strcmp(st, "ok") != 0 || strlen(id) != 16) continue;
        if (*n_ids == cap) {
            cap = cap ? 2 * cap : 64;
            char(*ni)[17] = realloc(*ids, (size_t)cap * sizeof *ni);
            if (!ni) {
                rc = DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
                break;
            }
            *ids = ni;
        }
        memcpy((*ids)[(*n_ids)++], id, 17);
    }
    tsv_free(&t);
    if (*n_ids) qsort(*ids, (size_t)*n_ids, sizeof **ids, cmp_id);
    return rc;
}

static int id_in(char (*ids)[17], int n, const char *id)
{
    return n && bsearch(id, ids, (size_t)n, sizeof *ids, cmp_id) != NULL;
}

static int header_mismatch(const char *path, const char *have, const char *want,
                           struct dcqb_err *err)
{
    int col = 0;
    const char *a = have, *b = want;
    for (;; col++) {
        size_t la = strcspn(a, "\t\n"), lb = strcspn(b, "\t\n");
        if (la != lb || strncmp(a, b, la) != 0 || a[la] != b[lb]) {
            return DCQB_FAIL(err, DCQB_EINVAL,
                             "%s has a different header (column %d: file '%.*s', this sweep "
                             "'%.*s'; the sweep's keys or metrics changed, or runs.tsv's columns "
                             "did (schema %d now)): use a new [sweep] name or --results DIR, or "
                             "move the old file away",
                             path, col + 1, (int)(la > 40 ? 40 : la), a, (int)(lb > 40 ? 40 : lb),
                             b, SWEEP_SCHEMA);
        }
        if (a[la] != '\t') return DCQB_OK;
        a += la + 1;
        b += lb + 1;
    }
}

int sweep_done_mask(const struct sweep *s, const char *results_dir, unsigned char *done,
                    struct dcqb_err *err)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/runs.tsv", results_dir, s->name);
    char *text;
    memset(done, 0, (size_t)s->n_runs);
    if (file_read_all(&text, NULL, path, LEDGER_MAX_BYTES, NULL))
        return DCQB_FAIL(err, DCQB_EIO, "%s: cannot read", path);
    char(*ids)[17];
    int n_ids, rc = ok_ids(text, &ids, &n_ids, err);
    for (int i = 0; !rc && i < s->n_runs; i++)
        done[i] = (unsigned char)id_in(ids, n_ids, s->runs[i].run_id);
    free(ids);
    return rc;
}

/* ==== the ledger ============================================================================ */

int sweep_ledger_open(struct sweep_ledger *l, const struct sweep *s, const char *dir,
                      struct dcqb_err *err)
{
    char *hdr = NULL, *text = NULL;
    size_t len;
    memset(l, 0, sizeof *l);
    l->fd = -1;
    if (snprintf(l->path, sizeof l->path, "%s/runs.tsv", dir) >= (int)sizeof l->path)
        return DCQB_FAIL(err, DCQB_EINVAL, "results path too long");
    int rc = sweep_tsv_header(s, &hdr, err);
    if (rc) return rc;
    l->fd = open(l->path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644); /* not the children's */
    if (l->fd < 0) {
        free(hdr);
        return DCQB_FAIL(err, DCQB_EIO, "%s: cannot open: %s", l->path, strerror(errno));
    }
    /* lock while checking/creating the header: shards may start together on one file */
    struct flock lk = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    while (fcntl(l->fd, F_SETLKW, &lk) != 0 && errno == EINTR) {}
    struct stat stt;
    if (fstat(l->fd, &stt) != 0) {
        rc = DCQB_FAIL(err, DCQB_EIO, "%s: stat: %s", l->path, strerror(errno));
    } else if (stt.st_size == 0) {
        size_t hl = strlen(hdr);
        if (write(l->fd, hdr, hl) != (ssize_t)hl || fsync(l->fd) != 0)
            rc = DCQB_FAIL(err, DCQB_EIO, "%s: cannot write header: %s", l->path,
                           strerror(errno));
    } else if ((rc = file_read_all(&text, &len, l->path, LEDGER_MAX_BYTES, NULL)) || !text) {
        rc = DCQB_FAIL(err, rc ? rc : DCQB_EIO, "%s: cannot read", l->path);
    } else if (!(rc = header_mismatch(l->path, text, hdr, err))) {
        if (text[len - 1] != '\n' && write(l->fd, "\n", 1) != 1) /* torn last line */
            rc = DCQB_FAIL(err, DCQB_EIO, "%s: write failed", l->path);
        if (!rc) {
            rc = ok_ids(text, &l->ok, &l->n_ok, err);
            text = NULL; /* ok_ids took it */
        }
    }
    if (!rc && fstat(l->fd, &stt) == 0) l->seen = (long long)stt.st_size;
    lk.l_type = F_UNLCK;
    fcntl(l->fd, F_SETLK, &lk);
    free(text);
    free(hdr);
    return rc;
}

void sweep_ledger_close(struct sweep_ledger *l)
{
    if (l->fd >= 0) close(l->fd);
    free(l->ok);
    l->fd = -1;
    l->ok = NULL;
    l->n_ok = 0;
}

int sweep_ledger_has_ok(const struct sweep_ledger *l, const char *run_id)
{
    return id_in(l->ok, l->n_ok, run_id);
}

int sweep_ledger_refresh(struct sweep_ledger *l, struct dcqb_err *err)
{
    struct stat st;
    if (fstat(l->fd, &st) != 0)
        return DCQB_FAIL(err, DCQB_EIO, "%s: stat: %s", l->path, strerror(errno));
    if ((long long)st.st_size <= l->seen) return DCQB_OK;
    size_t n = (size_t)((long long)st.st_size - l->seen);
    char *buf = malloc(n + 1);
    if (!buf) return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
    ssize_t got = pread(l->fd, buf, n, (off_t)l->seen);
    if (got < 0) {
        free(buf);
        return DCQB_FAIL(err, DCQB_EIO, "%s: read: %s", l->path, strerror(errno));
    }
    buf[got] = '\0';
    char *end = strrchr(buf, '\n'); /* whole lines only: a torn one is read again next time */
    int rc = DCQB_OK;
    if (end) {
        l->seen += (long long)(end - buf) + 1;
        for (char *line = buf; !rc && line <= end;) {
            char *nl = strchr(line, '\n');
            *nl = '\0';
            /* lead columns: schema run_id sweep git_rev status */
            char *c[5] = {line, NULL, NULL, NULL, NULL};
            for (int k = 1; k < 5 && c[k - 1]; k++) {
                char *tab = strchr(c[k - 1], '\t');
                if (tab) {
                    *tab = '\0';
                    c[k] = tab + 1;
                }
            }
            if (c[4] && strncmp(c[4], "ok", 2) == 0 && (c[4][2] == '\t' || !c[4][2]) &&
                strlen(c[1]) == 16 && !id_in(l->ok, l->n_ok, c[1])) {
                char(*ni)[17] = realloc(l->ok, (size_t)(l->n_ok + 1) * sizeof *ni);
                if (!ni) rc = DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
                else {
                    l->ok = ni;
                    memcpy(l->ok[l->n_ok++], c[1], 17);
                    qsort(l->ok, (size_t)l->n_ok, sizeof *l->ok, cmp_id);
                }
            }
            line = nl + 1;
        }
    }
    free(buf);
    return rc;
}

/* The run's config columns: its resolved config.ini (canonical form, so "5e+01" reads as the
 * sweep's "50"), else the sweep's own value (train failed before writing config.ini), else NA:
 * a key the run's head does not read. */
static void config_cells(struct sbuf *b, const struct sweep *s, const struct sweep_run *ru,
                         const char *rundir)
{
    struct cfg resolved = {0};
    int have = rundir_config_load(&resolved, rundir, NULL) == DCQB_OK;
    for (int k = 0, j = 0; k < s->n_cols; k++) {
        const char *key = s->cols[k], *v = NULL;
        const struct cfg_entry *e = have ? cfg_find(&resolved, key) : NULL;
        char canon[CFG_VAL_MAX];
        while (j < ru->n_kv && strcmp(ru->key[j], key) < 0) j++;
        if (e && sweep_canon_value(canon, sizeof canon, e->val) == DCQB_OK) v = canon;
        else if (j < ru->n_kv && !strcmp(ru->key[j], key)) v = ru->val[j];
        cell(b, v, 0);
    }
    cfg_free(&resolved);
}

int sweep_ledger_append(struct sweep_ledger *l, const struct sweep *s, int run,
                        const char *rundir, int ok, const struct rundir_record *sum,
                        const struct rundir_record *met, const char *msg,
                        struct dcqb_err *err)
{
    const struct sweep_run *ru = &s->runs[run];
    struct sbuf b = {0};
    char num[64];
    snprintf(num, sizeof num, "%d", SWEEP_SCHEMA);
    cell(&b, num, 1);
    cell(&b, ru->run_id, 0);
    cell(&b, s->name, 0);
    cell(&b, DCQB_GIT_REV, 0);
    cell(&b, ok ? "ok" : "fail", 0);
    cell(&b, tune_names[ru->tune], 0);
    cell(&b, ru->tune ? s->tune_keys : "-", 0);
    config_cells(&b, s, ru, rundir);
    for (int i = 0; result_cols[i]; i++) cell(&b, rundir_record_get(sum, result_cols[i]), 0);
    for (int i = 0; i < s->n_metrics; i++)
        cell(&b, rundir_record_get(met, s->metrics[i]), 0);
    cell(&b, ok ? NULL : msg, 0);
    sb_add(&b, "\n", 1);
    if (b.oom) {
        free(b.p);
        return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
    }
    /* One write on an O_APPEND descriptor: a local file system appends it whole (the write
     * holds the inode's lock), so shards on one machine never interleave (tests/
     * test_sweep_slurm.c hammers it). Over NFS, O_APPEND is not atomic between clients
     * (open(2)): the POSIX lock makes nodes take turns; the client re-reads the file's size
     * when it takes the lock, and the row is on the server (fsync) before the lock goes. A
     * file system without locks (ENOLCK) gets the plain append. */
    struct flock lk = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    while (fcntl(l->fd, F_SETLKW, &lk) != 0 && errno == EINTR) {}
    ssize_t w = write(l->fd, b.p, b.n);
    int bad = w != (ssize_t)b.n || fsync(l->fd) != 0;
    lk.l_type = F_UNLCK;
    fcntl(l->fd, F_SETLK, &lk);
    free(b.p);
    if (bad) return DCQB_FAIL(err, DCQB_EIO, "%s: write failed: %s", l->path, strerror(errno));
    return DCQB_OK;
}

/* ==== merge ================================================================================= */

int sweep_merge(const char *out, const char *const *in, int n_in, struct dcqb_err *err)
{
    char *hdr = NULL, *old = NULL;
    size_t len;
    int rc = DCQB_OK, fd = -1;
    struct sbuf b = {0};
    if ((rc = file_read_all(&old, &len, out, LEDGER_MAX_BYTES, NULL)))
        return DCQB_FAIL(err, rc, "%s: cannot read", out);
    if (old && *old) {
        size_t l = strcspn(old, "\n");
        hdr = malloc(l + 2);
        if (!hdr) {
            rc = DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
            goto out;
        }
        memcpy(hdr, old, l + 1);
        hdr[l + 1] = '\0';
        if (old[len - 1] != '\n') sb_add(&b, "\n", 1);
    }
    for (int i = 0; i < n_in; i++) {
        char *t;
        /* the same file under another name (./m1.tsv, a link) counts: it would double */
        struct stat si, so;
        if (strcmp(in[i], out) == 0 || (stat(in[i], &si) == 0 && stat(out, &so) == 0 &&
                                         si.st_dev == so.st_dev && si.st_ino == so.st_ino)) {
            rc = DCQB_FAIL(err, DCQB_EINVAL, "%s is both input and output (as %s)", out, in[i]);
            goto out;
        }
        if ((rc = file_read_all(&t, &len, in[i], LEDGER_MAX_BYTES, NULL)) || !t) {
            rc = DCQB_FAIL(err, DCQB_EIO, "%s: cannot read", in[i]);
            goto out;
        }
        if (!*t) {
            free(t);
            continue;
        }
        size_t hl = strcspn(t, "\n");
        if (!hdr) {
            hdr = malloc(hl + 2);
            if (!hdr) {
                free(t);
                rc = DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
                goto out;
            }
            memcpy(hdr, t, hl);
            hdr[hl] = '\n';
            hdr[hl + 1] = '\0';
            sb_str(&b, hdr);
        } else if ((rc = header_mismatch(in[i], t, hdr, err))) {
            free(t);
            goto out;
        }
        if (t[hl]) sb_str(&b, t + hl + 1);
        if (len && t[len - 1] != '\n') sb_add(&b, "\n", 1);
        free(t);
    }
    if (b.oom) {
        rc = DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
        goto out;
    }
    fd = open(out, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0 || (b.n && write(fd, b.p, b.n) != (ssize_t)b.n) || fsync(fd) != 0)
        rc = DCQB_FAIL(err, DCQB_EIO, "%s: cannot write: %s", out, strerror(errno));
out:
    if (fd >= 0) close(fd);
    free(b.p);
    free(hdr);
    free(old);
    return rc;
}
