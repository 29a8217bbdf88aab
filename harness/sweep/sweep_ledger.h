/* sweep_ledger.h - runs.tsv, a sweep's ledger (private to harness/sweep/): its header, one row
 * per finished run, which runs already have an ok row. sweep_exec.c runs the children and calls
 * these; sweep.h's sweep_tsv_header, sweep_done_mask and sweep_merge are the public part.
 *
 * Every finished run becomes one row written by one write() on an O_APPEND fd plus fsync, so a
 * crash of the sweep loses nothing already finished and shard processes appending to one file
 * never interleave within a line.
 */
#ifndef DCQB_SWEEP_LEDGER_H
#define DCQB_SWEEP_LEDGER_H

#include "rundir.h"
#include "sweep.h"

struct sweep_ledger {
    int fd;            /* runs.tsv, O_APPEND; -1 when closed */
    char path[1200];
    char (*ok)[17];    /* sorted run_ids with an ok row, as of the last read */
    int n_ok;
    long long seen;    /* bytes of runs.tsv read so far (whole lines) */
};

/* Open (creating with the header, under a lock) <dir>/runs.tsv; an existing file must have this
 * sweep's header. sweep_ledger_close also after a failed open. */
int sweep_ledger_open(struct sweep_ledger *l, const struct sweep *s, const char *dir,
                      struct dcqb_err *err);
void sweep_ledger_close(struct sweep_ledger *l);

/* Did run_id have an ok row when the ledger was opened or last refreshed? */
int sweep_ledger_has_ok(const struct sweep_ledger *l, const char *run_id);
/* Read the rows other processes appended since (whole lines only): called after taking a run's
 * lock, so a run another sweep finished meanwhile is seen as done. */
int sweep_ledger_refresh(struct sweep_ledger *l, struct dcqb_err *err);

/* Append the row of run `run` of s: the records of its folder rundir (sum, met: summary.json
 * and eval/metrics.json as read; empty or missing is fine) and, when not ok, msg. */
int sweep_ledger_append(struct sweep_ledger *l, const struct sweep *s, int run,
                        const char *rundir, int ok, const struct rundir_record *sum,
                        const struct rundir_record *met, const char *msg,
                        struct dcqb_err *err);

#endif /* DCQB_SWEEP_LEDGER_H */
