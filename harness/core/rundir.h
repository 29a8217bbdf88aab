/* rundir.h - the run folder (docs/ARCHITECTURE.md §5): the one owner of its file names and of
 * its records. A run folder is what `dcqbench train --out DIR` writes, `dcqbench eval --run DIR`
 * reads and adds eval/ to, and a sweep creates as <results>/<sweep>/<run_id>/ with run.conf and
 * the two logs. As in ann-benchmarks' results.py, the path of every file is a pure function of
 * the folder, and storing and loading a record live next to each other here:
 *   config.ini         resolved configuration (every effective key, defaults included)
 *   summary.json       how training ended and what it cost (flat JSON, one value per key)
 *   eval/metrics.json  evaluation metrics (flat JSON, eval_metric_keys order)
 * Every record is written to a temporary file, fsynced and renamed over the old one, and every
 * write's result is checked: a crash or a full disk leaves the old record whole.
 * Library code: returns enum dcqb_status with a message, never prints.
 */
#ifndef DCQB_RUNDIR_H
#define DCQB_RUNDIR_H

#include <stdint.h>
#include <stdio.h>

#include "cfg.h"
#include "dcqb.h"

enum rundir_file {
    RUNDIR_CONFIG,     /* config.ini */
    RUNDIR_PROVENANCE, /* provenance.json */
    RUNDIR_CURVE,      /* curve.tsv: step loss lr samples_per_s queue_age queue_drift */
    RUNDIR_CHECKPOINT, /* checkpoint.bin: latest state; at the end the final model */
    RUNDIR_SUMMARY,    /* summary.json */
    RUNDIR_EVAL,       /* eval/: the evaluation folder of `eval --run` */
    RUNDIR_METRICS,    /* eval/metrics.json */
    RUNDIR_RUN_CONF,   /* run.conf: the sweep's canonical run config (its hash is the run_id) */
    RUNDIR_TRAIN_LOG,  /* train.log: the sweep's capture of train's output */
    RUNDIR_EVAL_LOG,   /* eval.log: the same for eval */
    RUNDIR_LOCK,       /* lock: flock()ed by the sweep process that owns the run, inherited by
                        * its train/eval child, released by the kernel when both are gone */
    RUNDIR_N_FILES
};

/* The file's name relative to the run folder ("eval/metrics.json"). */
const char *rundir_name(enum rundir_file f);

/* buf = "<dir>/<name>". DCQB_EINVAL (buf holds a truncated path) when it does not fit. */
int rundir_path(char *buf, size_t n, const char *dir, enum rundir_file f);

/* ---- config.ini ----------------------------------------------------------------------------- */

/* Write the resolved config: a one-line comment, then write_body(cfg, f) (the trainer's
 * train_write_resolved, which knows the key scopes; a function because core sits below train).
 * A file that already holds exactly this text is left alone (a resume does not rewrite it). */
int rundir_config_write(const char *dir, int (*write_body)(const struct cfg *cfg, FILE *f),
                        const struct cfg *cfg, struct dcqb_err *err);
/* Load DIR/config.ini flat into cfg (appending to what cfg holds). */
int rundir_config_load(struct cfg *cfg, const char *dir, struct dcqb_err *err);

/* ---- summary.json --------------------------------------------------------------------------- */

/* What training reports about a run; the caller fills it (cmd_train.c from its trainer). With
 * has_run = 0 (setup failed) only status, err_msg, peak_rss_mb and git_rev are written. */
struct rundir_summary {
    const char *status;  /* ok | fail | interrupted */
    const char *err_msg; /* NULL = "" */
    int has_run;
    const char *head;
    int64_t classes, train_images, steps, steps_done;
    int batch;
    double final_loss, first_loss; /* NAN -> null */
    uint32_t digest;
    double wall_s, samples_per_s; /* this invocation's steps: a resumed run counts from the
                                   * resume (its checkpointed sums above do not) */
    double head_time_share, backbone_time_share, data_time_share;
    double head_per_class_bytes, head_fixed_bytes;
    double head_mem_bytes;         /* summary.json also gets head_mem_mb = this / 2^20 */
    int has_queue;                 /* 1: the head keeps a queue; write queue_distinct_classes */
    int64_t queue_distinct_classes;
    double head_flops_per_step;
    int64_t head_active_classes;
    double backbone_flops_per_step;
    int threads;
    const char *blas_core;
    /* the machine (docs/ARCHITECTURE.md "Machine"): CPU model, the kernels' ISA path in use,
     * per-core L1d and L2 and the L3 in bytes (0: unknown) */
    const char *cpu_model, *isa;
    int64_t l1d_bytes, l2_bytes, l3_bytes;
    uint64_t seed;
    int eval_ema_default;
    /* the training loop's records (docs/METHOD.md §2); NAN -> null */
    double eff_classes_mean;       /* mean logit columns per step, positives included */
    double batch_labels_mean;      /* mean distinct labels per batch */
    double queue_staleness;        /* queue heads: L/B */
    double queue_age_mean;         /* queue heads: last measured mean slot age, steps */
    double queue_drift_mean;       /* queue heads: last measured mean cosine, queued vs
                                    * recomputed key */
    double peak_rss_mb;
    const char *git_rev;
};

/* Write DIR/summary.json atomically (a temporary file renamed over it). */
int rundir_summary_write(const char *dir, const struct rundir_summary *s, struct dcqb_err *err);

/* ---- eval/metrics.json ---------------------------------------------------------------------- */

/* Write <evaldir>/metrics.json: n numbers, keys[i] = v[i] in order (non-finite -> null).
 * evaldir is the evaluation's output folder (RUNDIR_EVAL of a run, or `eval --out DIR`). */
int rundir_metrics_write(const char *evaldir, const char *const *keys, const double *v, int n,
                         struct dcqb_err *err);

/* ---- reading the flat JSON records ---------------------------------------------------------- */

struct rundir_kv {
    char key[64];
    char val[256]; /* number text, string content, "1"/"0" for booleans, "" for null */
};

struct rundir_record {
    int n; /* members read; -1 when the file does not exist */
    struct rundir_kv kv[128];
};

/* Read DIR/<f> (RUNDIR_SUMMARY or RUNDIR_METRICS) into rec. A missing file is not an error
 * (rec->n = -1); a nested or malformed object is DCQB_EFORMAT (rec->n = 0). */
int rundir_record_read(struct rundir_record *rec, const char *dir, enum rundir_file f,
                       struct dcqb_err *err);
/* The value of key, or NULL when absent. */
const char *rundir_record_get(const struct rundir_record *rec, const char *key);

/* ---- curve.tsv, provenance.json ------------------------------------------------------------- */

/* Keep DIR/curve.tsv's header and rows with step < t (after a resume the rows past the
 * checkpoint are redone). A missing curve is fine. */
int rundir_curve_truncate(const char *dir, int64_t t, struct dcqb_err *err);
/* The largest step < below that DIR/curve.tsv logs, or -1 (no curve, or no such row): what a
 * resume checks its checkpoint's step against. */
int rundir_curve_last_step(int64_t *last, const char *dir, int64_t below, struct dcqb_err *err);

/* The progress line `dcqbench train` prints every print-every steps ("[train] step t/T ..."),
 * which a sweep captures in train.log. */
#define RUNDIR_PROGRESS_TAG "[train] step "
/* The last progress line in DIR/train.log: *t steps of *T done. Returns 1 when found, 0 (with
 * *t = *T = -1) when there is no log or no such line yet. For `sweep --status`. */
int rundir_train_progress(int64_t *t, int64_t *T, const char *dir);
/* The progress line `dcqbench eval` logs per stage ("[eval] distractors: 400000/1000000 ..."). */
#define RUNDIR_EVAL_TAG "[eval] "
/* The rest of the last line of DIR/<f> (a log) after the last `tag` in its last 4 KiB, into
 * line (at most n - 1 bytes). Returns 1 when found, 0 ("" in line) otherwise. */
int rundir_log_last(char *line, size_t n, const char *dir, enum rundir_file f, const char *tag);

/* Write DIR/provenance.json (provenance_write). DCQB_EIO when it cannot be written. */
int rundir_provenance_write(const char *dir, int threads, unsigned long long seed,
                            struct dcqb_err *err);

#endif /* DCQB_RUNDIR_H */
