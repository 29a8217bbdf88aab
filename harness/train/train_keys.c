/* train_keys.c - see train_keys.h. The one list of training keys: each row says its type, the
 * field it fills, its range, its scope and its help; defaults come from the defaults functions
 * (head_cfg_defaults, backbone_cfg_defaults, train_settings_defaults below), never from a row. */
#include "train_keys.h"

#include <stdlib.h>

#define F(field) offsetof(struct train_settings, field)
#define RUN KEY_DEFINES_RUN
#define EXEC KEY_EXECUTION
#define CLI KEY_CLI_ONLY

static const char *const lr_schedules[] = {"cosine", "step", "linear", "constant", NULL};

const struct key_spec train_keys[] = {
    {"head", KEY_STR, F(head_name), 0, 0, NULL, RUN, 0,
     "classifier head (its own keys: --help-head NAME)"},
    {"seed", KEY_I64, F(o.seed), 0, (double)INT64_MAX, NULL, RUN, 0,
     "master seed of every stream (data: see data_seed)"},
    {"steps", KEY_I64, F(o.steps), 1, 1e12, NULL, RUN, 0, "training steps (or epochs)"},
    {"epochs", KEY_DOUBLE, F(epochs), 1e-6, 1e6, NULL, RUN, KEY_NO_DEFAULT,
     "instead of steps: steps = ceil(epochs * images / batch)"},
    {"batch", KEY_INT, F(o.batch), 2, 1 << 16, NULL, RUN, 0, "batch size B"},
    {"threads", KEY_INT, F(o.threads), 1, 256, NULL, RUN, 0,
     "BLAS and head threads (results are reproducible per count)"},
    {"class_balanced", KEY_INT, F(o.class_balanced), 0, 1, NULL, RUN, 0,
     "1: sample classes uniformly; 0: images uniformly (instance-balanced)"},
    {"flip_aug", KEY_INT, F(o.flip_aug), 0, 1, NULL, RUN, 0, "random horizontal flip per view"},
    {"ema_key_train", KEY_INT, F(o.ema_key_train), 0, 1, NULL, RUN, 0,
     "DCQ weight generator: key forward of the EMA net in BN train mode"},
    {"ema", KEY_INT, F(o.ema), 0, 1, NULL, RUN, 0,
     "keep an EMA copy f_k of the backbone for any head (eval.net = ema evaluates it); always "
     "1 for dcq, whose weight generator it is"},
    {"mu", KEY_DOUBLE, F(o.mu), 0, 1, NULL, RUN, 0,
     "EMA momentum: f_k <- mu f_k + (1 - mu) f_q once per step (dcq's weight generator too)"},
    {"lr", KEY_FLOAT, F(o.lr.base), 0, 1e6, NULL, RUN, 0, "peak learning rate"},
    {"lr_schedule", KEY_CHOICE, F(o.lr.schedule), 0, 0, lr_schedules, RUN, 0,
     "learning-rate schedule after warm-up"},
    {"warmup", KEY_DOUBLE, F(o.lr.warmup), 0, 1, NULL, RUN, 0,
     "fraction of the steps in linear warm-up"},
    {"momentum", KEY_FLOAT, F(o.optim.momentum), 0, 0.999999, NULL, RUN, 0,
     "SGD momentum, backbone and head alike"},
    {"weight_decay", KEY_FLOAT, F(o.optim.weight_decay), 0, 1, NULL, RUN, 0,
     "SGD weight decay, backbone and head alike"},
    {"dim", KEY_INT, F(net.emb_dim), 2, 4096, NULL, RUN, 0, "backbone: embedding dimension d"},
    {"hidden", KEY_INT, F(net.hidden), 2, 16384, NULL, RUN, 0, "backbone: hidden width"},
    {"depth", KEY_INT, F(net.depth), 1, 64, NULL, RUN, 0, "backbone: Linear-BN-PReLU blocks"},
    {"residual", KEY_INT, F(net.residual), 0, 1, NULL, RUN, 0,
     "backbone: add the block input when widths match"},
    {"ratio", KEY_DOUBLE, F(head.ratio), 0, 1, NULL, RUN, KEY_LO_OPEN,
     "partial heads: classes per step K = int(ratio*C) (random, sampled); dcq's queue_len "
     "defaults to round(ratio*C)"},
    {"init_std", KEY_FLOAT, F(head.init_std), 0, 10, NULL, RUN, KEY_LO_OPEN,
     "class weights start as N(0, init_std^2)"},
    {"head_stream", KEY_INT, F(head_stream), 0, 1000000, NULL, RUN, KEY_NO_DEFAULT,
     "A/A control: variant N of the head's own stream (class-weight init, sampling); data, "
     "batches and backbone init unchanged"},
    {"report.sesoi", KEY_DOUBLE, F(report_sesoi), 0, 100, NULL, EXEC, KEY_NO_DEFAULT,
     "for `dcqbench report` (training ignores it): smallest effect of interest, rank-1 points"},
    {"report.delta", KEY_DOUBLE, F(report_delta), 0, 100, NULL, EXEC, KEY_NO_DEFAULT,
     "for `dcqbench report` (training ignores it): equivalence margin, rank-1 points"},
    {"report.data", KEY_STR, F(report_data), 0, 0, NULL, EXEC, KEY_NO_DEFAULT,
     "for `dcqbench report` (training ignores it): the sweep's data configuration [data.NAME]"},
    {"train_x", KEY_STR, F(train_x), 0, 0, NULL, RUN, 0,
     ".npy data instead of the generator: float32 (N, D) inputs"},
    {"train_y", KEY_STR, F(train_y), 0, 0, NULL, RUN, 0, "with train_x: int labels 0..C-1"},
    {"ckpt_every", KEY_I64, F(o.ckpt_every), 0, 1e12, NULL, EXEC, 0,
     "checkpoint every N steps (0: only at the end)"},
    {"log_every", KEY_I64, F(o.log_every), 1, 1e12, NULL, EXEC, 0, "curve.tsv row every N steps"},
    {"drift_every", KEY_I64, F(o.drift_every), 0, 1e12, NULL, EXEC, 0,
     "queue heads: measure queue age and key drift every N steps (0: never; outside the "
     "timed step; shown on the curve rows of those steps)"},
    {"config", KEY_STR, F(config), 0, 0, NULL, CLI, 0, "INI file with keys as above"},
    {"out", KEY_STR, F(out), 0, 0, NULL, CLI, 0,
     "run folder (created); refuses a folder that holds a run unless --resume"},
    {"resume", KEY_BOOL, F(resume), 0, 0, NULL, CLI, 0,
     "continue the folder's checkpoint bit-exactly (config from DIR/config.ini unless --config)"},
    {"plan", KEY_BOOL, F(plan), 0, 0, NULL, CLI, 0,
     "print the memory plan and a timed wall-time estimate (docs/METHOD.md §8), then exit"},
    {"print_every", KEY_I64, F(print_every), 1, 1e12, NULL, CLI, 0,
     "progress line every N steps when stderr is not a terminal"},
    {"progress", KEY_STR, F(progress), 0, 0, NULL, CLI, 0, "accepted and ignored"},
    KEY_SPEC_END,
};

void train_settings_defaults(struct train_settings *s)
{
    memset(s, 0, sizeof *s);
    head_cfg_defaults(&s->head);
    backbone_cfg_defaults(&s->net);
    struct train_opts *o = &s->o;
    /* the shared seed, threads and SGD defaults are the head's: one owner */
    o->seed = s->head.seed;
    o->threads = s->head.threads;
    o->optim = s->head.optim;
    o->steps = 1000;
    o->batch = 256;
    o->lr.base = 0.1f;
    o->lr.schedule = LR_COSINE;
    o->lr.warmup = 0.05;
    o->lr.step_at[0] = 0.5;
    o->lr.step_at[1] = 0.75;
    o->lr.n_step_at = 2;
    o->lr.step_gamma = 0.1f;
    o->class_balanced = 0;
    o->flip_aug = 1;
    o->ema_key_train = 1;
    o->ema = 0;
    o->mu = 0.999;
    o->drift_every = 50;
    o->ckpt_every = 500;
    o->log_every = 10;
    s->head_name = "full";
    s->print_every = 100;
}

int train_settings_read(struct train_settings *s, struct cfg *cfg, struct dcqb_err *err)
{
    /* eval.* keys belong to 'dcqbench eval --run', KEY_CLI_ONLY ones to the CLI */
    for (int i = 0; i < cfg->n; i++)
        if (strncmp(cfg->e[i].key, "eval.", 5) == 0) cfg->e[i].used = 1;
    for (const struct key_spec *k = train_keys; k->name; k++)
        if (k->scope == KEY_CLI_ONLY) cfg_has(cfg, k->name);
    int has_epochs = cfg_find(cfg, "epochs") != NULL;
    if (has_epochs && cfg_find(cfg, "steps"))
        return DCQB_FAIL(err, DCQB_EINVAL, "give either 'steps' or 'epochs', not both");
    for (const struct key_spec *k = train_keys; k->name; k++) {
        if (!(k->scope & (KEY_DEFINES_RUN | KEY_EXECUTION))) continue;
        if (has_epochs && k->offset == offsetof(struct train_settings, o.steps)) continue;
        int rc = keys_read_one(s, k, cfg, err);
        if (rc) return rc;
    }
    return DCQB_OK;
}

/* ---------------------------------------------------------------- head keys */

static const char *head_param_cb(void *ctx, const char *key)
{
    struct cfg *c = ctx;
    if (!cfg_has(c, key)) return NULL;
    return cfg_find(c, key)->val;
}

static void head_default_cb(void *ctx, const char *key, const char *val)
{
    struct cfg *c = ctx;
    if (cfg_find(c, key)) return;
    if (cfg_set(c, key, val, "default", -1, NULL) == DCQB_OK) cfg_has(c, key);
}

void train_head_keys(struct head_cfg *hc, struct cfg *cfg)
{
    hc->param = head_param_cb;
    hc->note_default = head_default_cb;
    hc->param_ctx = cfg;
}

static int head_key(const char *key)
{
    for (const struct head_ops *const *h = head_list(); *h; h++)
        for (const char *const *k = (*h)->keys; k && *k; k++)
            if (strcmp(*k, key) == 0) return 1;
    return 0;
}

/* ---------------------------------------------------------------- scopes, hash, config.ini */

int train_key_scope(const char *key)
{
    const struct key_spec *k = keys_find(train_keys, key);
    if (k) return k->scope;
    if (strncmp(key, "eval.", 5) == 0 && key[5]) return KEY_EVAL;
    if (keys_find(synth_id_keys, key) || keys_find(synth_keys, key) || head_key(key))
        return KEY_DEFINES_RUN;
    return 0;
}

int train_key_known(const char *key)
{
    return (train_key_scope(key) & (KEY_DEFINES_RUN | KEY_EXECUTION | KEY_EVAL)) != 0;
}

/* A key a run read that no table names (a head reading a key its `keys` list forgot) still
 * defines the run: the hash must not silently ignore it. */
static int resolved_scope(const char *key)
{
    int s = train_key_scope(key);
    return s ? s : KEY_DEFINES_RUN;
}

int train_config_hash(const struct cfg *cfg, uint64_t *out, struct dcqb_err *err)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m) return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory hashing the config");
    int rc = keys_write_scoped(cfg, m, KEY_DEFINES_RUN, resolved_scope);
    if (fclose(m) != 0 && rc == DCQB_OK) rc = DCQB_ENOMEM;
    if (rc) {
        free(buf);
        return DCQB_FAIL(err, rc, "out of memory hashing the config");
    }
    *out = dcqb_fnv1a64(DCQB_FNV1A64_INIT, buf, len);
    free(buf);
    return DCQB_OK;
}

int train_write_resolved(const struct cfg *cfg, FILE *f)
{
    return keys_write_scoped(cfg, f, KEY_DEFINES_RUN | KEY_EXECUTION | KEY_EVAL, resolved_scope);
}

/* ---------------------------------------------------------------- help, key lists */

void train_help(FILE *f)
{
    struct train_settings def;
    train_settings_defaults(&def);
    keys_help(f, train_keys, &def, KEY_DEFINES_RUN | KEY_EXECUTION, KEYS_HELP_CONFIG, 15);
    fprintf(f, "  data (synthetic): profile, ids, data_seed and every generator knob (see "
               "'dcqbench data --help')\n"
               "  head keys: margin=cosface|arcface|combined|none s m m1 m2 m3 straight_through\n"
               "    easy_margin (defaults per head) and each head's own: --help-head NAME\n"
               "  eval.* keys are kept for 'dcqbench eval --run' and ignored by training.\n");
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int train_defining_keys(const char ***keys, int *n, struct dcqb_err *err)
{
    const struct key_spec *const tabs[] = {train_keys, synth_id_keys, synth_keys};
    size_t cap = 0;
    for (size_t t = 0; t < sizeof tabs / sizeof tabs[0]; t++)
        for (const struct key_spec *k = tabs[t]; k->name; k++) cap++;
    for (const struct head_ops *const *h = head_list(); *h; h++)
        for (const char *const *k = (*h)->keys; k && *k; k++) cap++;
    const char **v = malloc((cap ? cap : 1) * sizeof *v);
    if (!v) return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory listing the run keys");
    size_t m = 0;
    for (size_t t = 0; t < sizeof tabs / sizeof tabs[0]; t++)
        for (const struct key_spec *k = tabs[t]; k->name; k++)
            if (k->scope == KEY_DEFINES_RUN) v[m++] = k->name;
    for (const struct head_ops *const *h = head_list(); *h; h++)
        for (const char *const *k = (*h)->keys; k && *k; k++) v[m++] = *k;
    qsort(v, m, sizeof *v, cmp_str);
    size_t u = 0;
    for (size_t i = 0; i < m; i++)
        if (u == 0 || strcmp(v[u - 1], v[i]) != 0) v[u++] = v[i];
    *keys = v;
    *n = (int)u;
    return DCQB_OK;
}
