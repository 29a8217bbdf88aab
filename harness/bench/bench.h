/* bench.h - the head cost benchmark: time and memory of each head's training step as the
 * number of classes C grows (docs/METHOD.md §6).
 *
 * For every head x C x d x threads (B, ratio fixed) one configuration runs in a fresh child
 * process (fork), so its peak RSS is its own and a crash or OOM in one configuration becomes a
 * "failed" row while the benchmark goes on. Per configuration:
 *   plan    bytes(C) = a + b C fitted from two small-C inits of the head (cost() after init:
 *           per_class_bytes C + fixed_bytes), plus the GEMM-bound buffers and the backbone; a
 *           plan above the memory limit (MemAvailable, or mem_limit_mb) is "refused" before
 *           anything large is allocated;
 *   total   training's own step, trainer_step, on a trainer set up by trainer_setup from
 *           bench_train_cfg (synthetic data, one image per class, backbone 128-512-512 -> d):
 *           batch drawing and rendering, the EMA update + key forward when the head asks,
 *           forward, L2 norm, head forward_backward, backward, SGD, head step; median wall
 *           after one warm-up step;
 *   head    then, on that trainer's head: forward_backward + step on fixed random unit
 *           embeddings (and keys when the head asks for pairs), labels uniform over the C
 *           classes (instance-balanced sampling of a class-balanced set), 8 label batches in
 *           rotation; median wall (dcqb_now_s) and CPU (CLOCK_PROCESS_CPUTIME_ID, all threads)
 *           over reps after warm-up; allocation calls inside the timed head and step loops are
 *           counted (allocs_in_loop, 0 expected);
 *   bound   after freeing the head: the head's GEMMs alone - n_gemm of (B,D)x(K,D)^T -> (B,K),
 *           (B,K)x(K,D) -> (B,D), (B,K)^T x (B,D) -> (K,D) through the ops.h helpers, with
 *           n_gemm = round(flops / 2BKD) (3 for weight-learning heads, 2 for dcq);
 *           bound_ratio = head_ms / gemm_bound_ms (medians), min_ratio = head_min_ms /
 *           gemm_min_ms (fastest reps: steadier under load from other processes);
 *   step    the whole step's GEMMs alone, at the trainer's shapes, timed as one sequence per
 *           rep: the EMA copy's key forward (pair heads: one GEMM per layer over kshot B rows),
 *           the backbone's forward (one per layer), the head's n_gemm GEMMs as in the bound,
 *           the backbone's backward (dW per layer, dX per layer but the first: training does
 *           not need the input's gradient). step_ratio = total_ms / step_bound_ms (medians),
 *           step_min_ratio from the fastest reps. What the step does outside these GEMMs -
 *           drawing and rendering the batch, BN, PReLU, L2 norms, the head's exp and scaling,
 *           SGD, the EMA update - is what step_ratio - 1 measures (docs/METHOD.md §6).
 * Machine and path: every row records the CPU model, the per-core L1d and L2 and the L3 size
 * (algorithms/machine.h) and the ISA path its kernels ran on (algorithms/isa.h). cfg.isa lists
 * the paths to measure (empty: the one in use, i.e. DCQB_ISA's or the best); each
 * configuration runs once per path, the child sets it (dcqb_isa_set) right after the fork and
 * before any kernel, so a row's head, total, bound and step are measured on one path in one
 * process and its ratios compare like with like. The extra (big) class counts run at the
 * first listed path only. A path the CPU lacks is refused before anything runs.
 * Rows are appended to <out>/bench.tsv as each configuration finishes (one write + fflush); a
 * rerun skips configurations (head, C, d, B, threads, ratio, isa) already "ok" or "refused" at
 * the same git revision unless force.
 * Library code: no printing, progress goes through the callback.
 */
#ifndef DCQB_BENCH_H
#define DCQB_BENCH_H

#include "dcqb.h"
#include "tsv.h"

#define BENCH_MAX_LIST 16

struct bench_cfg {
    char heads[BENCH_MAX_LIST][32]; /* head names; n_heads = 0: every registered head */
    int n_heads;
    int64_t C[BENCH_MAX_LIST];      /* class counts for every head */
    int n_C;
    int64_t big_C[BENCH_MAX_LIST];  /* extra class counts for big_heads only */
    int n_big_C;
    char big_heads[BENCH_MAX_LIST][32];
    int n_big_heads;                /* 0: every head (the plan refuses what does not fit) */
    int d[BENCH_MAX_LIST];
    int n_d;
    int threads[BENCH_MAX_LIST];
    int n_threads;
    char isa[BENCH_MAX_LIST][16];   /* ISA paths (avx512, avx2, sse2, native = the best);
                                     * n_isa = 0: the path in use */
    int n_isa;
    int B;                          /* 256 */
    double ratio;                   /* 0.1: partial heads' fraction of classes */
    int reps;                       /* timed steps per phase at small C (fewer at large C) */
    double phase_budget_s;          /* target seconds per timed phase: caps reps at large C */
    double mem_limit_mb;            /* 0: MemAvailable from /proc/meminfo */
    int force;                      /* rerun configurations already in the TSV */
    uint64_t seed;
    char out_dir[512];              /* results/bench */
};

/* The defaults (docs/METHOD.md §6): all heads, C {1e4, 1e5, 1e6} (+ 1e7 for every head: dcq and
 * sampled run, the others are refused by the plan), d {128, 512}, threads {1, 2}, B 256,
 * ratio 0.1, reps 5. quick = 1: a ~1-minute smoke run (C {1e4, 1e5}, d 128, 1 thread, reps 3). */
void bench_cfg_defaults(struct bench_cfg *cfg, int quick);

/* One result row (one line of bench.tsv). Times in ms; -1 where not measured. */
struct bench_row {
    char head[32];
    int64_t C;
    int d, B, threads;
    double ratio;
    int64_t K;
    char status[16];        /* ok | refused | failed | skipped */
    int reps;
    double head_ms, head_cpu_ms, head_min_ms, total_ms, head_gflops;
    double gemm_bound_ms, bound_ratio, gemm_gflops;
    double gemm_min_ms, min_ratio; /* fastest bound rep; head_min_ms / gemm_min_ms */
    int n_gemm;
    /* the whole step's GEMMs (see above): median and fastest rep, GFLOP/s at the median */
    double step_bound_ms, step_min_ms, step_ratio, step_min_ratio, step_gflops;
    double per_class_bytes, fixed_bytes, plan_bytes, avail_bytes, peak_rss_mb;
    /* measured, not declared (docs/METHOD.md §6): heap bytes a head holds after head_open at
     * the row's ratio; for dcq also at a fixed queue length fixed_l (its memory and head step
     * time as C grows at fixed L); ema_bytes: the EMA backbone copy a pair head adds */
    double head_bytes, fixed_l, head_bytes_fixed_l, head_ms_fixed_l, ema_bytes;
    long head_allocs;       /* allocation calls in the timed head-alone loop (ours only) */
    long allocs_in_loop;    /* allocation calls in the timed head and head+backbone loops;
                             * -1: not counted in this build (sanitizers) */
    long bound_allocs;      /* the same in the timed GEMM-bound loop (BLAS-internal ones: the
                             * threaded OpenBLAS level-3 driver allocates its job array) */
    char isa[16];           /* the ISA path the row's kernels ran on (dcqb_isa_name) */
    char cpu_model[128];    /* the machine (dcqb_machine): CPU model and cache sizes, KiB */
    long l1d_kb, l2_kb, l3_kb;
    char blas_core[32];
    char git_rev[48];
    char err_msg[256];
};

enum bench_event {
    BENCH_PLAN,  /* msg: the memory plan of the next configuration */
    BENCH_ROW,   /* row: a configuration finished (any status), already in the TSV */
    BENCH_SKIP   /* row: already in the TSV, not rerun */
};
typedef void (*bench_report_fn)(void *ctx, enum bench_event ev, const struct bench_row *row,
                                const char *msg);

/* Run every configuration of cfg. DCQB_OK when the run went through (individual failures are
 * rows with status "failed"); an error only for bad config or an unusable output file. */
int bench_run(const struct bench_cfg *cfg, bench_report_fn report, void *ctx,
              struct dcqb_err *err);

/* ---- bench.tsv: one column table for header, writer and reader ----------------------------- */

enum bench_col_type {
    BENCH_STR,      /* char array; tabs and line breaks written as spaces */
    BENCH_STR_DASH, /* the same, written "-" when empty */
    BENCH_I64,      /* int64_t */
    BENCH_INT,      /* int */
    BENCH_LONG,     /* long */
    BENCH_DBL       /* double */
};

struct bench_col {
    const char *name; /* header name = the struct bench_row member */
    const char *fmt;  /* printf format of the cell */
    size_t off, size; /* offsetof and sizeof the member */
    enum bench_col_type type;
};

/* bench.tsv's columns in file order; ends with a NULL name. */
extern const struct bench_col bench_cols[];

/* The TSV header line (without newline): the table's names joined by tabs. */
const char *bench_tsv_header(void);
/* Append r as one bench.tsv line (with its newline) to b. */
void bench_row_format(struct sbuf *b, const struct bench_row *r);
/* Data row `row` of a parsed bench.tsv into r, every column found by name. -1 when the row is
 * torn (a writer killed mid-line) or a column is missing. */
int bench_row_read(struct bench_row *r, const struct tsv *t, int row);

#endif
