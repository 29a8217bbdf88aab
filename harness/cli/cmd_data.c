/* cmd_data.c - 'dcqbench data describe|export|verify': class-size statistics of a synthetic
 * profile, materialised splits (.npy or the dcqb format of datasets/dsfile.h; the work is
 * synth_export, datasets/export.h), and a check of a dcqb file. Generator keys are read by
 * synth_cfg_from_cfg (harness/core/data_cfg.c), so every knob is a flag here and a config key in
 * train/eval/sweep. */
#include <errno.h>
#include <stdlib.h>

#include "cli.h"
#include "data_cfg.h"
#include "dsfile.h"
#include "export.h"
#include "jsonw.h"
#include "keys.h"
#include "synth.h"
#include "tsv.h"

static const char *const bool_flags[] = {"json", "flip", "help", NULL};

static void print_knobs(FILE *f, const struct synth_cfg *def)
{
    fprintf(f, "generator options (synth_cfg fields; defaults shown for --profile %s):\n"
               "  --profile P         ms1m | mf2 | uniform | zipf | lognormal (default ms1m)\n"
               "  --ids N             training identities (default 10000)\n"
               "  --seed S            master seed (default 1)\n"
               "  --data-seed S       data seed (default: --seed)\n",
            synth_profile_name(def->profile));
    keys_help(f, synth_keys, def, KEY_DEFINES_RUN, KEYS_HELP_FLAGS, 19);
}

static void usage(FILE *f, const char *sub, const struct synth_cfg *def)
{
    if (!sub || strcmp(sub, "describe") == 0) {
        fprintf(f, "usage: dcqbench data describe [--profile P] [--ids N] [--seed S] [--json] "
                   "[--hist FILE] [generator options]\n"
                   "  Class-size statistics of the synthetic training split: identities, images,\n"
                   "  images per id (min/median/mean/max), share of ids under 10 images.\n"
                   "  --json              one JSON object on stdout instead of text\n"
                   "  --hist FILE         write the class-size histogram as TSV (size, count)\n\n");
    }
    if (!sub || strcmp(sub, "export") == 0) {
        fprintf(f, "usage: dcqbench data export --split S --format F --out PREFIX [--limit N] "
                   "[--flip] [generator options]\n"
                   "  --split S           train | holdout | probe | distractors | pairs "
                   "(required)\n"
                   "  --format F          npy: PREFIX_x.npy (N,D) float32 + PREFIX_y.npy (N,) "
                   "int32;\n"
                   "                      dcqb: PREFIX.dcqb (versioned, zlib, CRC32) (default "
                   "npy)\n"
                   "  --out PREFIX        output path prefix (required)\n"
                   "  --limit N           first N rows only (default: all)\n"
                   "  --flip              render every image mirrored (u[0] negated)\n"
                   "  labels: train/holdout = class, probe = probe id, distractors = -1;\n"
                   "  pairs: row i = [a | b] (2D floats), label = 1 genuine / 0 impostor;\n"
                   "  pair i is in fold i / (pairs/10).\n\n");
    }
    if (!sub || strcmp(sub, "verify") == 0) {
        fprintf(f, "usage: dcqbench data verify FILE\n"
                   "  Read a dcqb file completely, checking magic, version, header and payload "
                   "CRCs and length.\n\n");
    }
    if (!sub || strcmp(sub, "verify") != 0) print_knobs(f, def);
}

/* ------------------------------------------------------------------ describe */

static int write_hist(const struct synth *s, const char *path, struct dcqb_err *err)
{
    struct synth_stats st;
    synth_stats(s, &st);
    int64_t *h = malloc(((size_t)st.max + 1) * sizeof *h);
    if (!h) return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
    synth_size_hist(s, h);
    struct sbuf b = {0};
    sb_str(&b, "size\tcount\n");
    for (int32_t n = 0; n <= st.max; n++)
        if (h[n]) sb_printf(&b, "%d\t%lld\n", n, (long long)h[n]);
    free(h);
    int rc = b.oom ? DCQB_FAIL(err, DCQB_ENOMEM, "out of memory")
                   : file_write_atomic(path, b.p, b.n, err);
    sb_free(&b);
    return rc;
}

static int describe(struct cfg *c, struct dcqb_err *err)
{
    struct synth_cfg sc;
    int json, rc;
    const char *hist;
    if ((rc = synth_cfg_from_cfg(&sc, c, err))) return rc;
    if ((rc = cfg_get_bool(c, "json", 0, &json, err))) return rc;
    if ((rc = cfg_get_str(c, "hist", NULL, &hist, err))) return rc;
    if ((rc = cfg_check_unused(c, err))) return rc;
    if (c->n_pos > 0)
        return DCQB_FAIL(err, DCQB_EINVAL, "unexpected argument '%s'", c->pos[0]);
    double t0 = dcqb_now_s();
    struct synth *s;
    if ((rc = synth_create(&s, &sc, err))) return rc;
    struct synth_stats st;
    synth_stats(s, &st);
    int64_t hold = st.images - synth_num_train(s);
    if (hist && (rc = write_hist(s, hist, err))) {
        synth_free(s);
        return rc;
    }
    double wall = dcqb_now_s() - t0;
    if (json) {
        struct jsonw w;
        jsonw_begin(&w, stdout);
        jsonw_str(&w, "profile", synth_profile_name(sc.profile));
        jsonw_int(&w, "seed", (long long)sc.seed);
        jsonw_int(&w, "identities", st.identities);
        jsonw_int(&w, "images", st.images);
        jsonw_int(&w, "min", st.min);
        jsonw_num(&w, "median", st.median);
        jsonw_num(&w, "mean", st.mean);
        jsonw_int(&w, "max", st.max);
        jsonw_num(&w, "share_under_10", st.share_under_10);
        jsonw_int(&w, "train_images", synth_num_train(s));
        jsonw_int(&w, "holdout_images", hold);
        jsonw_int(&w, "probe_images", synth_num_probe_images(s));
        jsonw_int(&w, "distractors", sc.distractors);
        jsonw_int(&w, "lfw_pairs", sc.lfw_pairs);
        jsonw_num(&w, "wall_s", wall);
        jsonw_end(&w);
    } else {
        printf("profile          %s (data seed %llu)\n", synth_profile_name(sc.profile),
               (unsigned long long)sc.seed);
        printf("identities       %lld\n", (long long)st.identities);
        printf("images           %lld (train %lld, held out %lld)\n", (long long)st.images,
               (long long)synth_num_train(s), (long long)hold);
        printf("images per id    min %d  median %g  mean %.2f  max %d\n", st.min, st.median,
               st.mean, st.max);
        printf("share under 10   %.4f\n", st.share_under_10);
        printf("evaluation       %lld probe images (%d ids), %lld distractors, %d pairs\n",
               (long long)synth_num_probe_images(s), sc.probe_ids, (long long)sc.distractors,
               sc.lfw_pairs);
        if (hist) printf("histogram        %s\n", hist);
    }
    synth_free(s);
    return DCQB_OK;
}

/* ------------------------------------------------------------------ export */

static int export(struct cfg *c, struct dcqb_err *err)
{
    struct synth_cfg sc;
    int split, format, flip, rc;
    long long limit;
    const char *out;
    if ((rc = synth_cfg_from_cfg(&sc, c, err))) return rc;
    if (!cfg_find(c, "split"))
        return DCQB_FAIL(err, DCQB_EINVAL, "export needs --split (train, holdout, probe, "
                         "distractors or pairs)");
    if ((rc = cfg_get_choice(c, "split", "train", export_split_names, &split, err))) return rc;
    if ((rc = cfg_get_choice(c, "format", "npy", export_format_names, &format, err))) return rc;
    if ((rc = cfg_get_str(c, "out", NULL, &out, err))) return rc;
    if ((rc = cfg_get_int(c, "limit", -1, -1, INT64_MAX, &limit, err))) return rc;
    if ((rc = cfg_get_bool(c, "flip", 0, &flip, err))) return rc;
    if ((rc = cfg_check_unused(c, err))) return rc;
    if (c->n_pos > 0)
        return DCQB_FAIL(err, DCQB_EINVAL, "unexpected argument '%s'", c->pos[0]);
    struct export_result r;
    double t0 = dcqb_now_s();
    if ((rc = synth_export(&r, &sc, split, format, out, limit, flip, err))) return rc;
    printf("wrote %lld rows x %lld cols (%s split, profile %s, data seed %llu) to %s%s%s in "
           "%.2f s\n", (long long)r.rows, (long long)r.cols, export_split_names[split],
           synth_profile_name(sc.profile), (unsigned long long)sc.seed, r.path_x,
           r.path_y[0] ? " and " : "", r.path_y, dcqb_now_s() - t0);
    return DCQB_OK;
}

/* ------------------------------------------------------------------ verify */

static int verify(struct cfg *c, struct dcqb_err *err)
{
    int rc;
    if ((rc = cfg_check_unused(c, err))) return rc;
    if (c->n_pos != 1) return DCQB_FAIL(err, DCQB_EINVAL, "verify takes exactly one FILE");
    const char *path = c->pos[0];
    struct dsfile_info info;
    if ((rc = dsfile_read_info(&info, path, err))) return rc;
    int64_t rows, cols;
    if ((rc = dsfile_read(NULL, NULL, &rows, &cols, path, err))) return rc;
    printf("%s: ok (format version %u, %lld rows x %lld cols, %llu compressed bytes, "
           "payload crc32 %08x)\n", path, info.version, (long long)rows, (long long)cols,
           (unsigned long long)info.comp_bytes, info.payload_crc);
    return DCQB_OK;
}

int cmd_data(int argc, char **argv)
{
    struct synth_cfg def = {.seed = 1, .ids = 10000};
    const char *sub = argc > 0 && strncmp(argv[0], "-", 1) != 0 ? argv[0] : NULL;
    if (sub && strcmp(sub, "describe") && strcmp(sub, "export") && strcmp(sub, "verify")) {
        fprintf(stderr, "dcqbench data: unknown subcommand '%s' (describe, export, verify)\n",
                sub);
        return 2;
    }
    if (!sub || cli_wants_help(argc, argv)) {
        /* help shows the defaults of the --profile given, if any */
        int prof = SYNTH_MS1M;
        for (int i = 0; i + 1 < argc; i++)
            if (strcmp(argv[i], "--profile") == 0 && synth_profile_from_name(argv[i + 1]) >= 0)
                prof = synth_profile_from_name(argv[i + 1]);
        synth_cfg_defaults(&def, prof);
        if (!sub) {
            FILE *f = cli_wants_help(argc, argv) ? stdout : stderr;
            fprintf(f, "usage: dcqbench data describe|export|verify [options]\n\n");
            usage(f, NULL, &def);
            return f == stdout ? 0 : 2;
        }
        usage(stdout, sub, &def);
        return 0;
    }
    struct cfg c = {0};
    struct dcqb_err err = {0};
    int rc = cfg_parse_args(&c, argc - 1, argv + 1, bool_flags, &err);
    if (!rc) {
        if (strcmp(sub, "describe") == 0) rc = describe(&c, &err);
        else if (strcmp(sub, "export") == 0) rc = export(&c, &err);
        else rc = verify(&c, &err);
    }
    cfg_free(&c);
    if (rc) {
        char cmd[32];
        snprintf(cmd, sizeof cmd, "data %s", sub);
        return cli_error(cmd, &err);
    }
    return 0;
}
