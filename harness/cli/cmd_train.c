/* cmd_train.c - 'dcqbench train': train a backbone with one head, write a run folder.
 *
 * Run folder: config.ini (resolved config, every effective key), provenance.json, curve.tsv
 * (step loss lr samples_per_s queue_age queue_drift), checkpoint.bin (latest state; at the end =
 * the final model), summary.json (status, final_loss, digest, samples_per_s, steps, costs, the
 * loop's records, ...).
 * Exit: 0 ok, 1 run failed (diverged, i/o), 2 bad input, 130 interrupted (checkpoint written,
 * rerun with --resume).
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cblas.h>

#include "checkpoint.h"
#include "cli.h"
#include "fsutil.h"
#include "isa.h"
#include "machine.h"
#include "memplan.h"
#include "provenance.h"
#include "rundir.h"
#include "train.h"
#include "train_keys.h"

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void usage(void)
{
    printf("usage: dcqbench train [--config FILE] [--KEY VALUE ...] --out DIR [--resume]\n"
           "\nTrain the shared backbone with one classifier head on synthetic or .npy data.\n"
           "Every config key can be given in FILE (INI 'key = value', optional [train]\n"
           "section) or as --KEY VALUE; flags win. Keys and defaults:\n\n");
    train_help(stdout);
    printf("\noptions:\n");
    struct train_settings def;
    train_settings_defaults(&def);
    keys_help(stdout, train_keys, &def, KEY_CLI_ONLY, KEYS_HELP_FLAGS, 17);
    printf("  --help-head NAME  the keys of one head\n"
           "\nSIGINT/SIGTERM write a checkpoint and exit 130; --resume continues.\n"
           "Output: DIR/{config.ini, provenance.json, curve.tsv, checkpoint.bin, summary.json},\n"
           "each written whole (temporary file, fsync, rename) or not at all.\n"
           "exit status: 0 ok, 1 the run failed, 2 bad input, 3 --resume found a checkpoint it\n"
           "cannot continue (another configuration, corrupt, or not matching curve.tsv), 130\n"
           "interrupted.\n");
}

static int help_head(const char *name)
{
    const struct head_ops *h = head_find(name);
    if (!h) {
        fprintf(stderr, "dcqbench train: unknown head '%s'\n", name);
        return 2;
    }
    printf("head '%s'\n\n%s\n", h->name, h->help ? h->help : "");
    return 0;
}

struct prog {
    int tty;
    int64_t every; /* line every N steps when stderr is not a terminal */
    int64_t t0;    /* first step of this invocation, for the ETA */
    double last;   /* time of the last terminal refresh */
};

static void on_progress(void *ctx, int64_t t, int64_t T, double loss, double lr, double sps,
                        double el)
{
    struct prog *p = ctx;
    if (p->tty) {
        if (el - p->last < 0.25 && t != T) return; /* refresh at most 4 times a second */
        p->last = el;
    } else if (t % p->every != 0 && t != T) {
        return;
    }
    char eta[32], els[32];
    double steps_per_s = el > 0 ? (double)(t - p->t0) / el : 0;
    cli_fmt_dur(eta, sizeof eta, steps_per_s > 0 ? (double)(T - t) / steps_per_s : 0);
    cli_fmt_dur(els, sizeof els, el);
    fprintf(stderr, "%s" RUNDIR_PROGRESS_TAG "%lld/%lld (%3.0f%%)  loss %.4f  lr %.4g  %.0f "
            "samples/s  elapsed %s  ETA %s%s", p->tty ? "\r" : "", (long long)t, (long long)T,
            100.0 * (double)t / (double)T, loss, lr, sps, els, eta, p->tty ? "  " : "\n");
}

/* The run's summary.json record from the trainer (tr NULL: setup failed, status only). */
static int write_summary(const char *dir, const char *status, const char *msg,
                         const struct trainer *tr, const struct train_result *res,
                         struct dcqb_err *err)
{
    struct rundir_summary s = {.status = status, .err_msg = msg};
    if (tr && tr->head.ops) {
        struct head_cost hc = {0};
        int B = tr->o.batch;
        head_cost(&tr->head, B, &hc);
        s.has_run = 1;
        s.head = head_name(&tr->head);
        s.classes = tr->ts.C;
        s.train_images = tr->ts.N;
        s.steps = tr->o.steps;
        s.steps_done = res ? res->steps_done : 0;
        s.batch = B;
        s.final_loss = res ? res->final_loss : NAN;
        s.first_loss = res ? res->first_loss : NAN;
        s.digest = res ? res->digest : 0;
        s.wall_s = res ? res->wall_s : NAN;
        s.samples_per_s = res ? res->samples_per_s : NAN;
        double tot = res ? res->head_s + res->backbone_s + res->data_s : 0;
        s.head_time_share = tot > 0 ? res->head_s / tot : NAN;
        s.backbone_time_share = tot > 0 ? res->backbone_s / tot : NAN;
        s.data_time_share = tot > 0 ? res->data_s / tot : NAN;
        s.head_per_class_bytes = hc.per_class_bytes;
        s.head_fixed_bytes = hc.fixed_bytes;
        /* per_class_bytes is per class: the head's memory is C of them plus the fixed part */
        s.head_mem_bytes = hc.per_class_bytes * (double)tr->ts.C + hc.fixed_bytes;
        s.queue_distinct_classes = head_queue_classes(&tr->head);
        s.has_queue = s.queue_distinct_classes >= 0;
        s.head_flops_per_step = hc.flops;
        s.head_active_classes = hc.active_classes;
        double bf = backbone_flops_per_sample(&tr->net);
        /* forward + backward ~ 3x forward; the EMA key forward adds kshot x forward */
        s.backbone_flops_per_step = bf * B * (3.0 + (tr->head.req.pairs ? tr->head.req.kshot : 0));
        s.threads = tr->o.threads;
        s.blas_core = openblas_get_corename();
        const struct dcqb_machine *m = dcqb_machine();
        s.cpu_model = m->cpu_model;
        s.isa = dcqb_isa_name(dcqb_isa());
        s.l1d_bytes = m->l1d_bytes;
        s.l2_bytes = m->l2_bytes;
        s.l3_bytes = m->l3_bytes;
        s.seed = tr->o.seed;
        s.eval_ema_default = tr->head.req.eval_ema;
        s.eff_classes_mean = res ? res->eff_classes_mean : NAN;
        s.batch_labels_mean = res ? res->batch_labels_mean : NAN;
        s.queue_staleness = res ? res->queue_staleness : NAN;
        s.queue_age_mean = res ? res->queue_age_mean : NAN;
        s.queue_drift_mean = res ? res->queue_drift_mean : NAN;
    }
    s.peak_rss_mb = provenance_peak_rss_mb();
    s.git_rev = provenance_git_rev();
    return rundir_summary_write(dir, &s, err);
}

/* A checkpoint at step t must come with the curve rows before it (trainer_run logs step t' when
 * t' % log_every == 0 and the last step, and flushes the curve before every checkpoint): a step
 * the curve does not show is refused rather than trusted. */
static int check_curve(const struct trainer *tr, const char *out, struct dcqb_err *err)
{
    int64_t t = tr->t, T = tr->o.steps, last;
    if (t == 0) return DCQB_OK;
    int64_t want = t == T ? T - 1 : (t - 1) / tr->o.log_every * tr->o.log_every;
    int rc = rundir_curve_last_step(&last, out, t, err);
    if (rc) return rc;
    if (last != want)
        return DCQB_FAIL(err, DCQB_EFORMAT, "%s: the checkpoint is at step %lld but %s's last row "
                         "before it is %s%lld (expected %lld): checkpoint and curve disagree",
                         out, (long long)t, rundir_name(RUNDIR_CURVE), last < 0 ? "missing: " : "",
                         (long long)last, (long long)want);
    return DCQB_OK;
}

/* The run's config: --config FILE, else on --resume the folder's config.ini (resolved, when
 * it exists), then every flag but the CLI's own on top: flags win over the file. */
static int load_config(struct cfg *cfg, const struct cfg *flags, const char *config,
                       const char *resolved, struct dcqb_err *err)
{
    int rc = DCQB_OK;
    if (config) rc = cfg_load_ini(cfg, config, "train", err);
    else if (resolved && fs_exists(resolved)) rc = cfg_load_ini(cfg, resolved, NULL, err);
    for (int i = 0; !rc && i < flags->n; i++) {
        const struct cfg_entry *e = &flags->e[i];
        if (train_key_scope(e->key) != KEY_CLI_ONLY)
            rc = cfg_set(cfg, e->key, e->val, e->src, e->line, err);
    }
    return rc;
}

static const char *const bool_flags[] = {"resume", "plan", NULL};

/* The memory plan (memplan.h) before anything large is allocated: one line with the figures,
 * a warning above 80 % of MemAvailable, a refusal (DCQB_ENOMEM, exit 2) above it; and for a long
 * run the wall time from a short timed probe. */
static int plan_run(const struct cfg *cfg, int only, struct dcqb_err *err)
{
    struct memplan mp;
    char line[512], eta[32];
    int rc = memplan_make(&mp, cfg, err);
    if (rc) return rc;
    memplan_format(line, sizeof line, &mp);
    int v = memplan_verdict(&mp);
    if (v == MEMPLAN_REFUSE)
        return DCQB_FAIL(err, DCQB_ENOMEM, "memory plan: does not fit: %s", line);
    fprintf(stderr, "[plan] %s%s\n", v == MEMPLAN_WARN ? "warning: above 80 % of the memory: " : "",
            line);
    if (only)
        printf("plan: classes %lld, images %lld, steps %lld, peak_bytes %.0f, train_bytes %.0f, "
               "eval_bytes %.0f, head_bytes %.0f, flops_per_step %.4g\n", (long long)mp.C,
               (long long)mp.N, (long long)mp.steps, mp.peak, mp.train_peak, mp.eval_peak,
               mp.head, mp.flops_per_step);
    if (!only && !memplan_wants_probe(&mp)) return DCQB_OK;
    if ((rc = memplan_probe(&mp, cfg, MEMPLAN_PROBE_STEPS, err))) return rc;
    cli_fmt_dur(eta, sizeof eta, mp.est_s);
    fprintf(stderr, "[plan] estimated wall time %s: %lld steps x %.3f s/step (%d timed steps)\n",
            eta, (long long)mp.steps, mp.s_per_step, MEMPLAN_PROBE_STEPS);
    if (only) printf("plan: s_per_step %.6f, est_s %.1f\n", mp.s_per_step, mp.est_s);
    return DCQB_OK;
}

/* `train --plan`: the plan and the timed estimate of the run the flags describe; nothing is
 * written. Frees flags. */
static int plan_only(struct cfg *flags, const char *config)
{
    struct cfg cfg = {0};
    struct dcqb_err err = {0};
    int rc = load_config(&cfg, flags, config, NULL, &err) || plan_run(&cfg, 1, &err);
    cfg_free(&cfg);
    cfg_free(flags);
    return rc ? cli_error("train", &err) : 0;
}

/* The exit status of `train --resume` when the folder's checkpoint cannot continue this run
 * (another configuration, corrupt, or disagreeing with the curve): the sweep moves the folder's
 * records aside and trains afresh; by hand, pick another --out. */
#define EXIT_CKPT_UNUSABLE 3

int cmd_train(int argc, char **argv)
{
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--help-head") == 0)
            return i + 1 < argc ? help_head(argv[i + 1]) : 2;
    if (cli_wants_help(argc, argv)) {
        usage();
        return 0;
    }
    struct dcqb_err err = {0};
    struct cfg flags = {0}, cfg = {0};
    struct trainer tr;
    memset(&tr, 0, sizeof tr);
    int rc, exit_code = 2, resume = 0;
    const char *out = NULL, *config = NULL;
    char path[4096];

    if ((rc = cfg_parse_args(&flags, argc, argv, bool_flags, &err))) goto fail;
    if (flags.n_pos) {
        DCQB_FAIL(&err, DCQB_EINVAL, "unexpected argument '%s' (options are --key value)",
                  flags.pos[0]);
        goto fail;
    }
    /* the CLI's own keys (config, out, resume, print_every) from the same table */
    struct train_settings cli;
    train_settings_defaults(&cli);
    if ((rc = keys_read(&cli, train_keys, KEY_CLI_ONLY, &flags, &err))) goto fail;
    config = cli.config;
    out = cli.out;
    resume = cli.resume;
    if (cli.plan) return plan_only(&flags, config);
    /* From here on SIGINT/SIGTERM only ask to stop: a signal during the memory plan, the setup
     * or the checkpoint load stops the run at its first step with a checkpoint, so a retry
     * resumes instead of starting over (the plan's probe makes that window seconds long). */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (!out) {
        DCQB_FAIL(&err, DCQB_EINVAL, "--out DIR is required");
        goto fail;
    }
    if (rundir_path(path, sizeof path, out, RUNDIR_CONFIG)) {
        DCQB_FAIL(&err, DCQB_EINVAL, "--out %s: path too long", out);
        goto fail;
    }
    if ((rc = load_config(&cfg, &flags, config, resume ? path : NULL, &err)) ||
        (rc = plan_run(&cfg, 0, &err)) || (rc = trainer_setup(&tr, &cfg, &err)))
        goto fail;

    rundir_path(path, sizeof path, out, RUNDIR_CHECKPOINT);
    int have_ckpt = fs_exists(path);
    if (have_ckpt && !resume) {
        DCQB_FAIL(&err, DCQB_EINVAL, "%s already holds a run (%s); use --resume "
                  "or another --out", out, rundir_name(RUNDIR_CHECKPOINT));
        goto fail;
    }
    if ((rc = fs_mkdir_p(out, &err))) goto fail;
    if (resume && have_ckpt) {
        if ((rc = trainer_load(&tr, path, &err)) || (rc = check_curve(&tr, out, &err))) {
            /* the folder's checkpoint cannot continue this run: a sweep moves it aside */
            exit_code = EXIT_CKPT_UNUSABLE;
            goto fail;
        }
        fprintf(stderr, "[train] resuming %s at step %lld\n", out, (long long)tr.t);
    }
    /* resolved config (every key but the CLI's) and provenance, each written whole or not */
    if ((rc = rundir_config_write(out, train_write_resolved, &cfg, &err)) ||
        (rc = rundir_provenance_write(out, tr.o.threads, (unsigned long long)tr.o.seed, &err)) ||
        (tr.t > 0 && (rc = rundir_curve_truncate(out, tr.t, &err))))
        goto fail;
    rundir_path(path, sizeof path, out, RUNDIR_CURVE);
    FILE *curve = fopen(path, tr.t > 0 ? "a" : "w");
    if (!curve) {
        DCQB_FAIL(&err, DCQB_EIO, "%s: cannot write: %s", path, strerror(errno));
        goto fail;
    }
    if (tr.t == 0) fprintf(curve, "step\tloss\tlr\tsamples_per_s\tqueue_age\tqueue_drift\n");

    struct prog pr = {isatty(2), cli.print_every, tr.t, -1};
    struct train_result res;
    rundir_path(path, sizeof path, out, RUNDIR_CHECKPOINT);
    fprintf(stderr, "[train] head %s, %lld classes, %lld images, %lld steps x batch %d\n",
            head_name(&tr.head), (long long)tr.ts.C, (long long)tr.ts.N, (long long)tr.o.steps,
            tr.o.batch);
    rc = trainer_run(&tr, curve, path, &g_stop, on_progress, &pr, &res, &err);
    if (fclose(curve) != 0 && rc == DCQB_OK)
        rc = DCQB_FAIL(&err, DCQB_EIO, "%s: write failed: %s", path, strerror(errno));
    if (pr.tty) fprintf(stderr, "\n");
    /* "ok" only once summary.json says so: a run whose record could not be written failed */
    if (rc == DCQB_OK && (rc = write_summary(out, "ok", NULL, &tr, &res, &err)) != DCQB_OK)
        fprintf(stderr, "dcqbench train: %s\n", err.msg);
    if (rc == DCQB_OK) {
        printf("ok: %lld steps, final loss %.4f (first %.4f), %.0f samples/s, digest %08x\n",
               (long long)res.steps_done, res.final_loss, res.first_loss, res.samples_per_s,
               res.digest);
        exit_code = 0;
    } else if (rc == DCQB_EINTR) {
        write_summary(out, "interrupted", err.msg, &tr, &res, NULL);
        fprintf(stderr, "dcqbench train: %s; checkpoint written, rerun with --resume\n", err.msg);
        exit_code = 130;
    } else {
        write_summary(out, "fail", err.msg, &tr, &res, NULL);
        fprintf(stderr, "dcqbench train: run failed: %s\n", err.msg);
        exit_code = 1;
    }
    trainer_free(&tr);
    cfg_free(&cfg);
    cfg_free(&flags);
    return exit_code;
fail:
    /* record the failure for a sweep, unless the folder holds someone's run */
    if (out) {
        rundir_path(path, sizeof path, out, RUNDIR_CHECKPOINT);
        if (!fs_exists(path) && fs_mkdir_p(out, NULL) == DCQB_OK)
            write_summary(out, "fail", err.msg, NULL, NULL, NULL);
    }
    trainer_free(&tr);
    cfg_free(&cfg);
    cfg_free(&flags);
    int code = cli_error("train", &err);
    return exit_code == EXIT_CKPT_UNUSABLE ? exit_code : code;
}
