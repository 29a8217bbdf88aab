/* train_keys.h - the training keys: one table (train_keys.c) that drives trainer_setup's
 * parsing, `dcqbench train --help`, train_key_known, the run's config hash (the checkpoint
 * guard) and its resolved config.ini (docs/ARCHITECTURE.md §6).
 *
 * Scopes (include/keyspec.h): KEY_DEFINES_RUN keys enter the config hash and config.ini;
 * KEY_EXECUTION (log_every, ckpt_every) only config.ini; KEY_CLI_ONLY (config, out, resume,
 * progress, print_every) neither; eval.* keys (KEY_EVAL) belong to `dcqbench eval --run` and are
 * kept in config.ini only. The generator's keys (datasets/synth_keys.c) and the heads' keys
 * (each head's `keys`, margin keys included) all define the run.
 */
#ifndef DCQB_TRAIN_KEYS_H
#define DCQB_TRAIN_KEYS_H

#include "keys.h"
#include "train.h"

/* Everything the training keys set. The head's and the backbone's shared defaults come from
 * head_cfg_defaults() and backbone_cfg_defaults() (train_settings_defaults). */
struct train_settings {
    struct train_opts o;       /* seed, steps, batch, lr, optim, threads, ... */
    struct backbone_cfg net;   /* dim, hidden, depth, residual (in_dim: the data's) */
    struct head_cfg head;      /* ratio, init_std (the rest is the trainer's to fill) */
    const char *head_name;
    const char *train_x, *train_y; /* .npy data instead of the generator (both or neither) */
    double epochs;             /* > 0: steps = ceil(epochs * N / batch), given instead of steps */
    const char *config, *out;  /* KEY_CLI_ONLY: `dcqbench train`'s own options */
    int resume;
    int plan;                  /* KEY_CLI_ONLY: print the memory plan and timed estimate, exit */
    int64_t print_every;
    const char *progress;      /* accepted and ignored */
    int head_stream;           /* 0: the head's stream as always; N > 0: variant N (A/A control) */
    double report_sesoi, report_delta; /* read by `dcqbench report` from runs.tsv, not here */
    const char *report_data;   /* set by a sweep's [data.NAME] expansion; read by the report */
};

/* NULL-name-terminated: every key trainer_setup and `dcqbench train` read themselves. */
extern const struct key_spec train_keys[];

void train_settings_defaults(struct train_settings *s);

/* Read the rows of scope KEY_DEFINES_RUN | KEY_EXECUTION from cfg into s (which holds the
 * defaults), refuse steps together with epochs, and mark eval.* and KEY_CLI_ONLY keys used (they
 * are someone else's). Does not read the generator's or the heads' keys. */
int train_settings_read(struct train_settings *s, struct cfg *cfg, struct dcqb_err *err);

/* Hand a head's own keys through to cfg: sets hc->param, note_default and param_ctx, so a head
 * reads (and records the defaults of) its keys in the run's config. */
void train_head_keys(struct head_cfg *hc, struct cfg *cfg);

/* The scope of a key a run's config may hold (0: unknown): the table's rows, eval.<x> ->
 * KEY_EVAL, generator and head keys -> KEY_DEFINES_RUN. */
int train_key_scope(const char *key);

/* Non-zero if `key` is a config key some part of training reads (training keys but the CLI's,
 * generator keys, any registered head's keys, eval.*): what a sweep file may set. */
int train_key_known(const char *key);

/* FNV-1a 64 (dcqb_fnv1a64) of the resolved config's KEY_DEFINES_RUN lines: what a checkpoint
 * must have been trained with. */
int train_config_hash(const struct cfg *cfg, uint64_t *out, struct dcqb_err *err);

/* The resolved config.ini body: every used key of scope DEFINES_RUN, EXECUTION or EVAL. */
int train_write_resolved(const struct cfg *cfg, FILE *f);

/* `dcqbench train --help`'s key list, generated from the tables with their defaults. */
void train_help(FILE *f);

/* Every key that defines a run and can appear in a run's resolved config.ini: training keys of
 * scope KEY_DEFINES_RUN, generator keys, the shared margin keys and every registered head's own
 * keys; sorted by strcmp, each once. *keys is malloc'd (the strings are static); free(*keys). */
int train_defining_keys(const char ***keys, int *n, struct dcqb_err *err);

#endif /* DCQB_TRAIN_KEYS_H */
