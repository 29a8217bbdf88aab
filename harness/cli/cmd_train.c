/* cmd_train.c - 'dcqbench train': train a backbone with one head, write a run folder.
 *
 * Run folder: config.ini (resolved config, every effective key), provenance.json, curve.tsv
 * (step loss lr samples_per_s), checkpoint.bin (latest state; at the end = the final model),
 * summary.json (status, final_loss, digest, samples_per_s, steps, costs, ...).
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
#include "jsonw.h"
#include "provenance.h"
#include "train.h"

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
           "section) or as --KEY VALUE; flags win. Keys and defaults:\n\n%s\n"
           "options:\n"
           "  --config FILE     INI file with keys as above\n"
           "  --out DIR         run folder (created); refuses a folder that holds a run\n"
           "                    unless --resume\n"
           "  --resume          continue DIR's checkpoint bit-exactly (config from\n"
           "                    DIR/config.ini unless --config is given)\n"
           "  --print_every N   progress line every N steps when stderr is not a terminal "
           "(100)\n"
           "  --help-head NAME  the keys of one head\n"
           "\nSIGINT/SIGTERM write a checkpoint and exit 130; --resume continues.\n"
           "Output: DIR/{config.ini, provenance.json, curve.tsv, checkpoint.bin, summary.json}\n",
           train_help());
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

static void fmt_dur(char *buf, size_t n, double s)
{
    if (!isfinite(s) || s < 0) s = 0;
    long x = (long)(s + 0.5);
    if (x >= 3600) snprintf(buf, n, "%ldh%02ldm", x / 3600, (x / 60) % 60);
    else snprintf(buf, n, "%ldm%02lds", x / 60, x % 60);
}

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
    fmt_dur(eta, sizeof eta, steps_per_s > 0 ? (double)(T - t) / steps_per_s : 0);
    fmt_dur(els, sizeof els, el);
    fprintf(stderr, "%s[train] step %lld/%lld (%3.0f%%)  loss %.4f  lr %.4g  %.0f samples/s  "
            "elapsed %s  ETA %s%s", p->tty ? "\r" : "", (long long)t, (long long)T,
            100.0 * (double)t / (double)T, loss, lr, sps, els, eta, p->tty ? "  " : "\n");
}

static int write_summary(const char *dir, const char *status, const char *msg,
                         const struct trainer *tr, const struct train_result *res)
{
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/summary.json", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return -1;
    struct jsonw w;
    jsonw_begin(&w, f);
    jsonw_str(&w, "status", status);
    jsonw_str(&w, "err_msg", msg ? msg : "");
    if (tr && tr->head) {
        struct head_cost hc = {0};
        int B = tr->o.batch;
        tr->head->cost(tr->hst, B, &hc);
        jsonw_str(&w, "head", tr->head->name);
        jsonw_int(&w, "classes", tr->ts.C);
        jsonw_int(&w, "train_images", tr->ts.N);
        jsonw_int(&w, "steps", tr->o.steps);
        jsonw_int(&w, "steps_done", res ? res->steps_done : 0);
        jsonw_int(&w, "batch", B);
        jsonw_num(&w, "final_loss", res ? res->final_loss : NAN);
        jsonw_num(&w, "first_loss", res ? res->first_loss : NAN);
        char dg[16];
        snprintf(dg, sizeof dg, "%08x", res ? res->digest : 0);
        jsonw_str(&w, "digest", dg);
        jsonw_num(&w, "wall_s", res ? res->wall_s : NAN);
        jsonw_num(&w, "samples_per_s", res ? res->samples_per_s : NAN);
        double tot = res ? res->head_s + res->backbone_s + res->data_s : 0;
        jsonw_num(&w, "head_time_share", tot > 0 ? res->head_s / tot : NAN);
        jsonw_num(&w, "backbone_time_share", tot > 0 ? res->backbone_s / tot : NAN);
        jsonw_num(&w, "data_time_share", tot > 0 ? res->data_s / tot : NAN);
        jsonw_num(&w, "head_per_class_bytes", hc.per_class_bytes);
        jsonw_num(&w, "head_fixed_bytes", hc.fixed_bytes);
        /* per_class_bytes is per class: the head's memory is C of them plus the fixed part */
        jsonw_num(&w, "head_mem_bytes", hc.per_class_bytes * (double)tr->ts.C + hc.fixed_bytes);
        if (tr->head->queue_classes)
            jsonw_int(&w, "queue_distinct_classes", tr->head->queue_classes(tr->hst));
        jsonw_num(&w, "head_flops_per_step", hc.flops);
        jsonw_int(&w, "head_active_classes", hc.active_classes);
        double bf = backbone_flops_per_sample(&tr->net);
        /* forward + backward ~ 3x forward; the EMA key forward adds kshot x forward */
        jsonw_num(&w, "backbone_flops_per_step",
                  bf * B * (3.0 + (tr->req.pairs ? tr->req.kshot : 0)));
        jsonw_int(&w, "threads", tr->o.threads);
        jsonw_str(&w, "blas_core", openblas_get_corename());
        jsonw_int(&w, "seed", (long long)tr->o.seed);
        jsonw_int(&w, "eval_ema_default", tr->req.eval_ema);
    }
    jsonw_num(&w, "peak_rss_mb", provenance_peak_rss_mb());
    jsonw_str(&w, "git_rev", provenance_git_rev());
    jsonw_end(&w);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) return -1;
    return rename(tmp, path);
}

/* Keep curve rows with step < t (after a resume the rows past the checkpoint are redone). */
static int curve_truncate(const char *path, int64_t t)
{
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *g = fopen(tmp, "w");
    if (!g) {
        fclose(f);
        return -1;
    }
    char line[512];
    while (fgets(line, sizeof line, f)) {
        char *end;
        long long s = strtoll(line, &end, 10);
        if (end == line || s < t) fputs(line, g); /* header or earlier row */
    }
    fclose(f);
    if (fclose(g) != 0) return -1;
    return rename(tmp, path);
}

static const char *const bool_flags[] = {"resume", NULL};

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
    cfg_get_str(&flags, "config", NULL, &config, &err);
    cfg_get_str(&flags, "out", NULL, &out, &err);
    cfg_get_bool(&flags, "resume", 0, &resume, &err);
    if (!out) {
        DCQB_FAIL(&err, DCQB_EINVAL, "--out DIR is required");
        goto fail;
    }
    snprintf(path, sizeof path, "%s/config.ini", out);
    if (config) {
        if ((rc = cfg_load_ini(&cfg, config, "train", &err))) goto fail;
    } else if (resume && fs_exists(path)) {
        if ((rc = cfg_load_ini(&cfg, path, NULL, &err))) goto fail;
    }
    /* flags win over the file */
    long long print_every = 100;
    for (int i = 0; i < flags.n; i++) {
        const struct cfg_entry *e = &flags.e[i];
        if (!strcmp(e->key, "config") || !strcmp(e->key, "out") || !strcmp(e->key, "resume"))
            continue;
        if (!strcmp(e->key, "print_every")) {
            if ((rc = cfg_get_int(&flags, "print_every", 100, 1, (long long)1e12, &print_every,
                                  &err)))
                goto fail;
            continue;
        }
        if ((rc = cfg_set(&cfg, e->key, e->val, e->src, e->line, &err))) goto fail;
    }
    if ((rc = trainer_setup(&tr, &cfg, &err))) goto fail;

    snprintf(path, sizeof path, "%s/checkpoint.bin", out);
    int have_ckpt = fs_exists(path);
    if (have_ckpt && !resume) {
        DCQB_FAIL(&err, DCQB_EINVAL, "%s already holds a run (checkpoint.bin); use --resume "
                  "or another --out", out);
        goto fail;
    }
    if ((rc = fs_mkdir_p(out, &err))) goto fail;
    if (resume && have_ckpt) {
        if ((rc = trainer_load(&tr, path, &err))) goto fail;
        fprintf(stderr, "[train] resuming %s at step %lld\n", out, (long long)tr.t);
    }
    /* resolved config and provenance */
    static const char *const skip[] = {"out", "resume", "config", "progress", NULL};
    snprintf(path, sizeof path, "%s/config.ini", out);
    FILE *f = fopen(path, "w");
    if (!f) {
        DCQB_FAIL(&err, DCQB_EIO, "%s: cannot write: %s", path, strerror(errno));
        goto fail;
    }
    fprintf(f, "# resolved configuration of this run (every effective key)\n");
    cfg_write_except(&cfg, f, skip);
    fclose(f);
    snprintf(path, sizeof path, "%s/provenance.json", out);
    if ((f = fopen(path, "w"))) {
        struct jsonw w;
        jsonw_begin(&w, f);
        provenance_write(&w, tr.o.threads, (unsigned long long)tr.o.seed);
        jsonw_end(&w);
        fclose(f);
    }
    snprintf(path, sizeof path, "%s/curve.tsv", out);
    if (tr.t > 0) curve_truncate(path, tr.t);
    FILE *curve = fopen(path, tr.t > 0 ? "a" : "w");
    if (!curve) {
        DCQB_FAIL(&err, DCQB_EIO, "%s: cannot write: %s", path, strerror(errno));
        goto fail;
    }
    if (tr.t == 0) fprintf(curve, "step\tloss\tlr\tsamples_per_s\n");

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    struct prog pr = {isatty(2), print_every, tr.t, -1};
    struct train_result res;
    snprintf(path, sizeof path, "%s/checkpoint.bin", out);
    fprintf(stderr, "[train] head %s, %lld classes, %lld images, %lld steps x batch %d\n",
            tr.head->name, (long long)tr.ts.C, (long long)tr.ts.N, (long long)tr.o.steps,
            tr.o.batch);
    rc = trainer_run(&tr, curve, path, &g_stop, on_progress, &pr, &res, &err);
    fclose(curve);
    if (pr.tty) fprintf(stderr, "\n");
    if (rc == DCQB_OK) {
        write_summary(out, "ok", NULL, &tr, &res);
        printf("ok: %lld steps, final loss %.4f (first %.4f), %.0f samples/s, digest %08x\n",
               (long long)res.steps_done, res.final_loss, res.first_loss, res.samples_per_s,
               res.digest);
        exit_code = 0;
    } else if (rc == DCQB_EINTR) {
        write_summary(out, "interrupted", err.msg, &tr, &res);
        fprintf(stderr, "dcqbench train: %s; checkpoint written, rerun with --resume\n", err.msg);
        exit_code = 130;
    } else {
        write_summary(out, "fail", err.msg, &tr, &res);
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
        snprintf(path, sizeof path, "%s/checkpoint.bin", out);
        if (!fs_exists(path) && fs_mkdir_p(out, NULL) == DCQB_OK)
            write_summary(out, "fail", err.msg, NULL, NULL);
    }
    trainer_free(&tr);
    cfg_free(&cfg);
    cfg_free(&flags);
    return cli_error("train", &err);
}
