/* rundir.c - see rundir.h. File names, then config.ini, summary.json, metrics.json (writers and
 * the one flat JSON reader), curve truncation and provenance. */
#include "rundir.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "jsonw.h"
#include "provenance.h"
#include "tsv.h"

#define METRICS_LEAF "metrics.json" /* inside an evaluation folder */

static const char *const names[RUNDIR_N_FILES] = {
    [RUNDIR_CONFIG] = "config.ini",
    [RUNDIR_PROVENANCE] = "provenance.json",
    [RUNDIR_CURVE] = "curve.tsv",
    [RUNDIR_CHECKPOINT] = "checkpoint.bin",
    [RUNDIR_SUMMARY] = "summary.json",
    [RUNDIR_EVAL] = "eval",
    [RUNDIR_METRICS] = "eval/" METRICS_LEAF,
    [RUNDIR_RUN_CONF] = "run.conf",
    [RUNDIR_TRAIN_LOG] = "train.log",
    [RUNDIR_EVAL_LOG] = "eval.log",
    [RUNDIR_LOCK] = "lock",
};

const char *rundir_name(enum rundir_file f)
{
    return (unsigned)f < RUNDIR_N_FILES ? names[f] : "";
}

int rundir_path(char *buf, size_t n, const char *dir, enum rundir_file f)
{
    int w = snprintf(buf, n, "%s/%s", dir, rundir_name(f));
    return w < 0 || (size_t)w >= n ? DCQB_EINVAL : DCQB_OK;
}

/* buf = dir/leaf, or DCQB_EINVAL naming it. */
static int leaf_path(char *buf, size_t n, const char *dir, const char *leaf,
                     struct dcqb_err *err)
{
    int w = snprintf(buf, n, "%s/%s", dir, leaf);
    if (w < 0 || (size_t)w >= n)
        return DCQB_FAIL(err, DCQB_EINVAL, "path too long: %s/%s", dir, leaf);
    return DCQB_OK;
}

/* Every record is composed in memory (a memstream) and handed to file_write_atomic: temporary
 * file, fsync, rename. A full disk or a crash leaves the previous record whole, never a
 * truncated one that a later resume or evaluation would misread. */
struct mem {
    FILE *f;
    char *p;
    size_t n;
};

static int mem_open(struct mem *m, const char *path, struct dcqb_err *err)
{
    m->p = NULL;
    m->n = 0;
    m->f = open_memstream(&m->p, &m->n);
    return m->f ? DCQB_OK : DCQB_FAIL(err, DCQB_ENOMEM, "out of memory writing %s", path);
}

/* Close m; unless `same` says the file already holds these bytes, write them to path. */
static int mem_commit(struct mem *m, const char *path, int skip_if_same, struct dcqb_err *err)
{
    int bad = ferror(m->f);
    if (fclose(m->f) != 0 || bad) {
        free(m->p);
        return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory writing %s", path);
    }
    int rc = DCQB_OK, same = 0;
    if (skip_if_same) {
        char *old = NULL;
        size_t n = 0;
        same = file_read_all(&old, &n, path, m->n + 1, NULL) == DCQB_OK && old && n == m->n &&
               memcmp(old, m->p, n) == 0;
        free(old);
    }
    if (!same) rc = file_write_atomic(path, m->p, m->n, err);
    free(m->p);
    return rc;
}

/* ---- config.ini ----------------------------------------------------------------------------- */

int rundir_config_write(const char *dir, int (*write_body)(const struct cfg *cfg, FILE *f),
                        const struct cfg *cfg, struct dcqb_err *err)
{
    char path[4096];
    struct mem m;
    int rc = leaf_path(path, sizeof path, dir, names[RUNDIR_CONFIG], err);
    if (rc || (rc = mem_open(&m, path, err))) return rc;
    fprintf(m.f, "# resolved configuration of this run (every effective key)\n");
    write_body(cfg, m.f);
    /* a resume writes the same text: leave the file (and its mtime) alone */
    return mem_commit(&m, path, 1, err);
}

int rundir_config_load(struct cfg *cfg, const char *dir, struct dcqb_err *err)
{
    char path[4096];
    int rc = leaf_path(path, sizeof path, dir, names[RUNDIR_CONFIG], err);
    return rc ? rc : cfg_load_ini(cfg, path, NULL, err);
}

/* ---- summary.json --------------------------------------------------------------------------- */

static void summary_members(struct jsonw *w, const struct rundir_summary *s)
{
    jsonw_str(w, "head", s->head);
    jsonw_int(w, "classes", s->classes);
    jsonw_int(w, "train_images", s->train_images);
    jsonw_int(w, "steps", s->steps);
    jsonw_int(w, "steps_done", s->steps_done);
    jsonw_int(w, "batch", s->batch);
    jsonw_num(w, "final_loss", s->final_loss);
    jsonw_num(w, "first_loss", s->first_loss);
    char dg[16];
    snprintf(dg, sizeof dg, "%08x", (unsigned)s->digest);
    jsonw_str(w, "digest", dg);
    jsonw_num(w, "wall_s", s->wall_s);
    jsonw_num(w, "samples_per_s", s->samples_per_s);
    jsonw_num(w, "head_time_share", s->head_time_share);
    jsonw_num(w, "backbone_time_share", s->backbone_time_share);
    jsonw_num(w, "data_time_share", s->data_time_share);
    jsonw_num(w, "head_per_class_bytes", s->head_per_class_bytes);
    jsonw_num(w, "head_fixed_bytes", s->head_fixed_bytes);
    jsonw_num(w, "head_mem_bytes", s->head_mem_bytes);
    /* the unit runs.tsv and the report use; converted here, where the record is written */
    jsonw_num(w, "head_mem_mb", s->head_mem_bytes / 1048576.0);
    if (s->has_queue) jsonw_int(w, "queue_distinct_classes", s->queue_distinct_classes);
    jsonw_num(w, "head_flops_per_step", s->head_flops_per_step);
    jsonw_int(w, "head_active_classes", s->head_active_classes);
    jsonw_num(w, "backbone_flops_per_step", s->backbone_flops_per_step);
    jsonw_int(w, "threads", s->threads);
    jsonw_str(w, "blas_core", s->blas_core);
    jsonw_str(w, "cpu_model", s->cpu_model);
    jsonw_str(w, "isa", s->isa);
    jsonw_int(w, "l1d_bytes", (long long)s->l1d_bytes);
    jsonw_int(w, "l2_bytes", (long long)s->l2_bytes);
    jsonw_int(w, "l3_bytes", (long long)s->l3_bytes);
    jsonw_int(w, "seed", (long long)s->seed);
    jsonw_int(w, "eval_ema_default", s->eval_ema_default);
    jsonw_num(w, "eff_classes_mean", s->eff_classes_mean);
    jsonw_num(w, "batch_labels_mean", s->batch_labels_mean);
    jsonw_num(w, "queue_staleness", s->queue_staleness);
    jsonw_num(w, "queue_age_mean", s->queue_age_mean);
    jsonw_num(w, "queue_drift_mean", s->queue_drift_mean);
}

int rundir_summary_write(const char *dir, const struct rundir_summary *s, struct dcqb_err *err)
{
    char path[4096];
    struct mem m;
    int rc = leaf_path(path, sizeof path, dir, names[RUNDIR_SUMMARY], err);
    if (rc || (rc = mem_open(&m, path, err))) return rc;
    struct jsonw w;
    jsonw_begin(&w, m.f);
    jsonw_str(&w, "status", s->status);
    jsonw_str(&w, "err_msg", s->err_msg ? s->err_msg : "");
    if (s->has_run) summary_members(&w, s);
    jsonw_num(&w, "peak_rss_mb", s->peak_rss_mb);
    jsonw_str(&w, "git_rev", s->git_rev);
    jsonw_end(&w);
    return mem_commit(&m, path, 0, err);
}

/* ---- eval/metrics.json ---------------------------------------------------------------------- */

int rundir_metrics_write(const char *evaldir, const char *const *keys, const double *v, int n,
                         struct dcqb_err *err)
{
    char path[4096];
    struct mem m;
    int rc = leaf_path(path, sizeof path, evaldir, METRICS_LEAF, err);
    if (rc || (rc = mem_open(&m, path, err))) return rc;
    struct jsonw w;
    jsonw_begin(&w, m.f);
    for (int i = 0; i < n; i++) jsonw_num(&w, keys[i], v[i]);
    jsonw_end(&w);
    /* its presence means "evaluation finished": it must never exist half-written */
    return mem_commit(&m, path, 0, err);
}

/* ---- reading the flat JSON records ---------------------------------------------------------- */

#define RECORD_MAX_BYTES (1 << 20) /* a summary is ~1 kB; more is not one of ours */

static const char *json_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
    return p;
}

static const char *json_string(const char *p, char *out, size_t n)
{
    size_t o = 0;
    if (*p++ != '"') return NULL;
    while (*p && *p != '"') {
        char ch = *p++;
        if (ch == '\\') {
            char e = *p++;
            switch (e) {
            case 'n': ch = '\n'; break;
            case 't': ch = '\t'; break;
            case 'r': ch = '\r'; break;
            case 'b': ch = '\b'; break;
            case 'f': ch = '\f'; break;
            case 'u':
                for (int i = 0; i < 4; i++)
                    if (!*p++) return NULL;
                ch = '?';
                break;
            case '\0': return NULL;
            default: ch = e; /* \" \\ \/ */
            }
        }
        if (o + 1 < n) out[o++] = ch;
    }
    if (*p != '"') return NULL;
    out[o] = '\0';
    return p + 1;
}

/* One value after the ':' into kv->val; the position after it, or NULL. */
static const char *json_value(const char *p, struct rundir_kv *kv)
{
    if (*p == '"') return json_string(p, kv->val, sizeof kv->val);
    if (strncmp(p, "null", 4) == 0) {
        kv->val[0] = '\0';
        return p + 4;
    }
    if (strncmp(p, "true", 4) == 0) {
        snprintf(kv->val, sizeof kv->val, "1");
        return p + 4;
    }
    if (strncmp(p, "false", 5) == 0) {
        snprintf(kv->val, sizeof kv->val, "0");
        return p + 5;
    }
    size_t l = strspn(p, "+-0123456789.eE");
    if (!l || l >= sizeof kv->val) return NULL;
    memcpy(kv->val, p, l);
    kv->val[l] = '\0';
    return p + l;
}

/* Parse a flat JSON object; members past the record's capacity are read and dropped. */
static int parse_flat(const char *p, struct rundir_record *rec)
{
    const int cap = (int)(sizeof rec->kv / sizeof rec->kv[0]);
    p = json_ws(p);
    if (*p++ != '{') return -1;
    p = json_ws(p);
    if (*p == '}') return 0;
    for (;;) {
        struct rundir_kv tmp, *kv = rec->n < cap ? &rec->kv[rec->n] : &tmp;
        p = json_string(json_ws(p), kv->key, sizeof kv->key);
        if (!p) return -1;
        p = json_ws(p);
        if (*p++ != ':') return -1;
        p = json_value(json_ws(p), kv);
        if (!p) return -1;
        if (kv != &tmp) rec->n++;
        p = json_ws(p);
        if (*p == ',') {
            p++;
            continue;
        }
        return *p == '}' ? 0 : -1;
    }
}

int rundir_record_read(struct rundir_record *rec, const char *dir, enum rundir_file f,
                       struct dcqb_err *err)
{
    char path[4096], *buf;
    rec->n = -1;
    int rc = rundir_path(path, sizeof path, dir, f);
    if (rc) return DCQB_FAIL(err, rc, "path too long: %s/%s", dir, rundir_name(f));
    if ((rc = file_read_all(&buf, NULL, path, RECORD_MAX_BYTES, NULL)))
        return DCQB_FAIL(err, rc, "%s: cannot read", path);
    if (!buf) return DCQB_OK;
    rec->n = 0;
    rc = parse_flat(buf, rec);
    free(buf);
    if (rc) {
        rec->n = 0;
        return DCQB_FAIL(err, DCQB_EFORMAT, "%s: not a flat JSON object", path);
    }
    return DCQB_OK;
}

const char *rundir_record_get(const struct rundir_record *rec, const char *key)
{
    for (int i = 0; i < rec->n; i++)
        if (strcmp(rec->kv[i].key, key) == 0) return rec->kv[i].val;
    return NULL;
}

/* ---- curve.tsv, provenance.json ------------------------------------------------------------- */

int rundir_curve_truncate(const char *dir, int64_t t, struct dcqb_err *err)
{
    char path[4096];
    struct mem m;
    int rc = leaf_path(path, sizeof path, dir, names[RUNDIR_CURVE], err);
    if (rc) return rc;
    FILE *f = fopen(path, "r");
    if (!f) return DCQB_OK;
    if ((rc = mem_open(&m, path, err))) {
        fclose(f);
        return rc;
    }
    char line[512];
    while (fgets(line, sizeof line, f)) {
        char *end;
        long long s = strtoll(line, &end, 10);
        if (end == line || s < t) fputs(line, m.f); /* header or earlier row */
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        fclose(m.f);
        free(m.p);
        return DCQB_FAIL(err, DCQB_EIO, "%s: cannot read", path);
    }
    return mem_commit(&m, path, 1, err);
}

int rundir_curve_last_step(int64_t *last, const char *dir, int64_t below, struct dcqb_err *err)
{
    char path[4096];
    *last = -1;
    int rc = leaf_path(path, sizeof path, dir, names[RUNDIR_CURVE], err);
    if (rc) return rc;
    FILE *f = fopen(path, "r");
    if (!f) return DCQB_OK;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        char *end;
        errno = 0;
        long long s = strtoll(line, &end, 10);
        if (end != line && !errno && *end == '\t' && s < below && s > *last) *last = s;
    }
    fclose(f);
    return DCQB_OK;
}

int rundir_log_last(char *line, size_t n, const char *dir, enum rundir_file f, const char *tag)
{
    char path[4096], buf[4097];
    if (n) line[0] = '\0';
    if (rundir_path(path, sizeof path, dir, f)) return 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) return 0;
    /* the tail holds the last line: a log only grows by lines of ~100 bytes */
    long len = 0;
    if (fseek(fp, 0, SEEK_END) == 0 && (len = ftell(fp)) > 4096) fseek(fp, len - 4096, SEEK_SET);
    else rewind(fp);
    size_t got = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[got] = '\0';
    const char *p = buf, *last = NULL;
    while ((p = strstr(p, tag))) last = p++;
    if (!last) return 0;
    last += strlen(tag);
    snprintf(line, n, "%.*s", (int)strcspn(last, "\r\n"), last);
    return 1;
}

int rundir_train_progress(int64_t *t, int64_t *T, const char *dir)
{
    char line[256];
    long long a, b;
    *t = *T = -1;
    if (!rundir_log_last(line, sizeof line, dir, RUNDIR_TRAIN_LOG, RUNDIR_PROGRESS_TAG) ||
        sscanf(line, "%lld/%lld", &a, &b) != 2 || a < 0 || b < a)
        return 0;
    *t = a;
    *T = b;
    return 1;
}

int rundir_provenance_write(const char *dir, int threads, unsigned long long seed,
                            struct dcqb_err *err)
{
    char path[4096];
    struct mem m;
    int rc = leaf_path(path, sizeof path, dir, names[RUNDIR_PROVENANCE], err);
    if (rc || (rc = mem_open(&m, path, err))) return rc;
    struct jsonw w;
    jsonw_begin(&w, m.f);
    provenance_write(&w, threads, seed);
    jsonw_end(&w);
    return mem_commit(&m, path, 0, err);
}
