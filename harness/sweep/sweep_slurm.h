/* sweep_slurm.h - a sweep on a Slurm cluster, and a sweep's state read from its results folder
 * alone (docs/ARCHITECTURE.md §4, "On a cluster").
 *
 * Submission: one job array whose task k runs `dcqbench sweep FILE --shard k/n` (the ordinary
 * runner: locks, resume, one runs.tsv row per run), then a report job that depends (afterany)
 * on the array. A sweep with a [tune] section gets two arrays, stage `tune` then stage `test`
 * (afterany on the first), and the report job waits for the second. Nothing here talks to
 * slurmctld but `sbatch`; a resubmission is safe because the tasks skip finished runs.
 *
 * Status: done (an ok row), running (its folder's lock is held: by a task on any node whose
 * file system shares flock()s, as NFS and Lustre with -o flock do), failed (only fail rows),
 * to run (nothing yet). Only cmd_sweep.c prints.
 */
#ifndef DCQB_SWEEP_SLURM_H
#define DCQB_SWEEP_SLURM_H

#include "sweep.h"

/* Slurm's default MaxArraySize is 1001: task ids 0..1000. More runs share tasks (shard i/n). */
#define SLURM_MAX_TASKS 1000

struct slurm_opts {
    const char *exec;        /* absolute path of dcqbench, as the tasks will run it */
    const char *sweep_file;  /* absolute path of the sweep file */
    const char *results_dir; /* absolute results root */
    const char *workdir;     /* the jobs' working directory (--chdir), absolute */
    const char *sbatch;      /* "sbatch" or a path; NULL = "sbatch" from PATH */
    const char *extra;       /* extra sbatch options, split on blanks; NULL = none */
    const char *report_cmd;  /* shell command of the report job; NULL = the default (sweep.h) */
    int shards;              /* array tasks' n in --shard k/n; 0 = one per run (capped) */
    int jobs;                /* runs at once in one task (>= 1) */
};

#define SLURM_MAX_SUBMITS 3
struct slurm_submit {
    char id[32];             /* the job id sbatch printed */
    char what[16];           /* "array", "tune", "test" or "report" */
    char line[2048];         /* the sbatch command line, shell-quoted, for the user */
};

struct slurm_result {
    int n_runs, n_todo, n_running; /* runs; not done and not running; running now (locked) */
    int shards, n_tasks, cpus;     /* n of --shard, tasks submitted per array, CPUs per task */
    int n_sub;
    struct slurm_submit sub[SLURM_MAX_SUBMITS];
    char dir[1100];                /* <results>/<sweep>/slurm: scripts and job output */
};

/* Write the task and report scripts to <results>/<sweep>/slurm/ and submit them. Without a
 * [tune] section only shards that hold a run still to do are submitted (every run done: the
 * report job alone); with one, every shard of both stages (the test runs are known only once
 * tuning has ended). DCQB_EIO naming sbatch and its message when a submission fails; jobs
 * submitted before the failure are listed in res. */
int sweep_slurm_submit(const struct sweep *s, const struct slurm_opts *o,
                       struct slurm_result *res, struct dcqb_err *err);

enum sweep_state { SWEEP_TODO, SWEEP_DONE, SWEEP_RUNNING, SWEEP_FAILED, SWEEP_N_STATES,
                   /* a tuned section's test candidate at a grid point not chosen: not part of
                    * the sweep, counted nowhere (a test slot still waiting for tuning is to-run) */
                   SWEEP_NOT_CHOSEN };

struct sweep_status {
    int n[SWEEP_N_STATES];   /* runs in each state */
    unsigned char *state;    /* [n_runs] enum sweep_state */
    const char **err_msg;    /* [n_runs] the last fail row's message, or NULL */
    char *mem;               /* one allocation: the arrays and the messages */
};

/* Every run's state from <results>/<sweep>/runs.tsv and its folder's lock. A run with an ok row
 * is done (as the runner skips it) unless its lock is held (a --force rerun). Torn rows do not
 * count. sweep_status_free after success; a failure leaves *st zeroed. */
int sweep_status_read(struct sweep_status *st, const struct sweep *s, const char *results_dir,
                      struct dcqb_err *err);
void sweep_status_free(struct sweep_status *st);
const char *sweep_state_name(enum sweep_state x);

#endif /* DCQB_SWEEP_SLURM_H */
