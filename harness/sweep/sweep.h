/* sweep.h - sweep files: parse, expand to runs, hash, and drive `dcqbench train`/`eval` as child
 * processes, appending one row per finished run to results/<sweep>/runs.tsv (docs/ARCHITECTURE.md
 * §4 and §5; the layout follows ann-benchmarks: a run's folder is a pure function of its config,
 * so finished runs are skipped and an interrupted sweep resumes). Files: sweep_file.c (parse,
 * expand, canonicalise, hash), sweep_exec.c (child runner), sweep_ledger.c (runs.tsv).
 *
 * Sweep file (INI, parsed by libinih through cfg.h):
 *   [sweep]          optional: name (default: file basename without .conf), jobs, metrics
 *   [base]           keys for every run (keys before any section count as [base])
 *   [head.<name>]    adds the runs of head <name>: head = <name> plus the section's keys; a key
 *                    given in both [base] and the head section takes the head section's value
 * "a, b, c" lists expand to the Cartesian product over [base] + that head section.
 *
 * Canonical run config: one "key = value\n" line per key, keys sorted (strcmp); integer
 * literals lose '+' and leading zeros, other numbers are printed with the shortest "%.<p>g",
 * p <= 17, that strtod reads back to the same double (same equivalence as %.17g, but 0.1 stays
 * "0.1"); non-numbers are kept verbatim. run_id = 16 hex digits of FNV-1a 64 (dcqb_fnv1a64) of
 * that text, which is also the run's run.conf.
 *
 * Only cmd_sweep.c prints; everything here returns enum dcqb_status with a message.
 */
#ifndef DCQB_SWEEP_H
#define DCQB_SWEEP_H

#include <signal.h>

#include "dcqb.h"

#define SWEEP_NAME_MAX 128
#define SWEEP_MAX_RUNS 100000 /* guards against a typo expanding to millions of runs */
/* The `schema` column of runs.tsv; bump when columns change. 2: the config columns are every
 * run-defining key plus the sweep's own keys, filled from each run's resolved config.ini. */
#define SWEEP_SCHEMA 2

/* The keys a sweep may set (train keys, one table; extend it there) and eval.<anything>. */
int sweep_key_known(const char *key);
/* Head names a [head.<name>] section may use. TODO(lead): use head_find() from head.h. */
int sweep_head_known(const char *name);

/* Normalise one value as described above into out (NUL-terminated, at most n bytes).
 * DCQB_EINVAL when it does not fit. */
int sweep_canon_value(char *out, size_t n, const char *val);

struct sweep_run {
    char run_id[17];
    int n_kv;
    const char **key;  /* n_kv keys, sorted; both arrays point into `canon`'s block */
    const char **val;
    char *conf;        /* canonical text (= run.conf); one malloc holds all of the above */
    uint64_t order;    /* sort key of the canonical order */
};

struct sweep {
    char name[SWEEP_NAME_MAX];
    char path[512];
    int jobs;            /* [sweep] jobs, 0 = not given */
    int has_tune;        /* the file has a [tune] section: it runs in stages (--slurm submits
                          * one array per stage). Merge point: set by the [tune] parser. */
    int n_metrics;
    char **metrics;      /* metric columns of runs.tsv */
    int n_keys;
    char **keys;         /* sorted union of the runs' config keys */
    int n_cols;
    const char **cols;   /* runs.tsv's config columns: keys and every run-defining key
                          * (train_defining_keys), sorted, each once */
    int n_runs;
    struct sweep_run *runs; /* in canonical order: sorted by a seeded mix of the run_id */
};

/* Parse and expand `path`. Any syntax error, unknown key or section, duplicate, empty value or
 * unknown head fails with "file:line: ..." before anything runs. sweep_free on success only
 * (a failed load leaves *s zeroed). */
int sweep_load(struct sweep *s, const char *path, struct dcqb_err *err);
void sweep_free(struct sweep *s);


/* runs.tsv header line (with '\n') for this sweep, malloc'd, into *out: schema run_id sweep
 * git_rev status, the config columns (s->cols; a key named like a fixed column is written
 * cfg.<key>), the summary.json columns, the metrics, err_msg. A run's config cells hold its
 * resolved config.ini values (canonical form), the sweep's values when it wrote none, NA for a
 * key its head does not read. */
int sweep_tsv_header(const struct sweep *s, char **out, struct dcqb_err *err);

/* ---- running ------------------------------------------------------------------------------ */

struct sweep_progress {
    const struct sweep_run *run; /* the run that just finished */
    int ok;                      /* 1 ok, 0 failed */
    const char *err_msg;         /* "" when ok */
    double wall_s;               /* wall time of train + eval, measured by the sweep */
    int done, total;             /* done includes runs skipped as already finished */
    int failed, running;
    double eta_s;                /* -1 when unknown */
};

struct sweep_opts {
    const char *exec;         /* dcqbench binary (or a test's fake script) */
    const char *results_dir;  /* root, "results" */
    int jobs;                 /* children at once, >= 1 */
    int shard_i, shard_n;     /* this process takes canonical index % shard_n == shard_i */
    int force;                /* rerun runs that already have an ok row */
    /* Set by the caller's SIGINT handler: 1 = stop launching and forward SIGINT to running
     * children (then wait for them), 2 = forward SIGKILL. May be NULL. */
    const volatile sig_atomic_t *stop;
    void (*progress)(void *ctx, const struct sweep_progress *p); /* may be NULL */
    /* One line about a run that is not a finished row: skipped because locked, records moved
     * aside, evaluation retried alone. May be NULL. Gets progress_ctx. */
    void (*note)(void *ctx, const char *run_id, const char *msg);
    void *progress_ctx;
};

struct sweep_result {
    int total;       /* runs in this shard */
    int skipped;     /* already ok in runs.tsv */
    int ok, failed;  /* finished in this call */
    int interrupted; /* stopped by SIGINT before finishing: no row written, rerun retries */
    int locked;      /* skipped: another process holds the run folder's lock */
};

/* Run every run of shard i/n not yet ok in <results_dir>/<name>/runs.tsv.
 *
 * Each run is owned through an flock() on its folder's `lock` file, taken before anything is
 * written there and handed to its train and eval children, so it outlives a killed sweep
 * until those children end. A run whose lock is held elsewhere is skipped (res->locked, a note);
 * after taking the lock the ledger is read again, so a run another process just finished is
 * not run twice. A retried run resumes: a folder whose summary.json says ok and that holds the
 * checkpoint goes straight to evaluation; otherwise train runs with --resume, and when it
 * cannot use the folder's checkpoint (exit 3: another configuration, corrupt, not matching the
 * curve) the folder's records are moved to aside-<UTC time>/ (noted, never deleted) and the
 * run trains afresh. --force moves the records aside before training. Returns DCQB_OK
 * whether or not runs failed (see *res); an error only for setup problems (header mismatch,
 * unwritable results) or DCQB_EINTR when stopped. */
int sweep_execute(const struct sweep *s, const struct sweep_opts *o, struct sweep_result *res,
                  struct dcqb_err *err);

/* Is run i done (an ok row in runs.tsv)? Fills done[n_runs] with 0/1; a missing runs.tsv means
 * none. Used by --dry-run. */
int sweep_done_mask(const struct sweep *s, const char *results_dir, unsigned char *done,
                    struct dcqb_err *err);

/* 1 when run i's folder lock is held by a live process (a sweep running it, or its orphaned
 * child), 0 otherwise. For --dry-run's status view. */
int sweep_run_locked(const struct sweep *s, const char *results_dir, int i);

/* Concatenate runs.tsv files into out, keeping the first header; all headers must be equal. */
int sweep_merge(const char *out, const char *const *in, int n_in, struct dcqb_err *err);

#endif /* DCQB_SWEEP_H */
