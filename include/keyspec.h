/* keyspec.h - one row per configuration key: the type of every key table (the training keys,
 * the generator's knobs, the evaluation keys of a run, the benchmark's flags).
 *
 * Types only, so that datasets/ can declare its table without the harness; harness/core/keys.c
 * reads a table from a struct cfg, writes its help text and the resolved config of a run
 * (docs/ARCHITECTURE.md §6). A row has no default of its own: a key's default is the value its
 * field holds when the table is read, i.e. what the struct's *_defaults() function put there, so
 * the defaults function stays the one place a default is written.
 */
#ifndef DCQB_KEYSPEC_H
#define DCQB_KEYSPEC_H

#include <stddef.h>

/* The field a row fills: KEY_INT int, KEY_I64 int64_t, KEY_DOUBLE double, KEY_FLOAT float (read
 * as a double, recorded as the shortest text of the float), KEY_BOOL int 0/1 (0/1, true/false,
 * yes/no, on/off), KEY_CHOICE int index into `choices`, KEY_STR const char * (owned by the cfg
 * it was read from; NULL default: nothing is recorded when the key is absent). */
enum key_type  { KEY_INT, KEY_I64, KEY_DOUBLE, KEY_FLOAT, KEY_BOOL, KEY_CHOICE, KEY_STR };

/* What a key says about a run: KEY_DEFINES_RUN enters the run's config hash (the checkpoint
 * guard) and its resolved config.ini; KEY_EXECUTION (how often to log or checkpoint) only
 * config.ini; KEY_CLI_ONLY (where to write, resume) neither; KEY_EVAL (eval.*) how a run is
 * evaluated: config.ini, not the hash. */
enum key_scope { KEY_DEFINES_RUN = 1, KEY_EXECUTION = 2, KEY_CLI_ONLY = 4, KEY_EVAL = 8 };

enum key_flag {
    KEY_LO_OPEN = 1,     /* numbers: lo itself is refused, the range is (lo, hi] */
    KEY_NO_DEFAULT = 2   /* absent: the field is left alone and nothing is recorded */
};

struct key_spec {
    const char *name;            /* config key; on the command line '-' may stand for '_' */
    int type;                    /* enum key_type */
    size_t offset;               /* offsetof(struct the table fills, field) */
    double lo, hi;               /* accepted range of numbers (KEY_INT/I64/DOUBLE/FLOAT) */
    const char *const *choices;  /* KEY_CHOICE: NULL-terminated names */
    int scope;                   /* enum key_scope, exactly one bit */
    int flags;                   /* enum key_flag bits */
    const char *help;            /* one line */
};

/* The row that ends a table. */
#define KEY_SPEC_END {NULL, 0, 0, 0, 0, NULL, 0, 0, NULL}

#endif /* DCQB_KEYSPEC_H */
