/* cfg.h - flat key/value configuration from INI files (libinih) and `--key value` flags.
 *
 * Every command reads its options through one `struct cfg`: entries remember where they came
 * from (file:line or "command line"), getters mark them used and validate ranges, and
 * `cfg_check_unused` turns any key nobody asked for into an error naming its file and line.
 * Later sets win, so "config file, then flags" gives the documented "flags win" precedence.
 */
#ifndef DCQB_CFG_H
#define DCQB_CFG_H

#include "dcqb.h"

#define CFG_KEY_MAX 64
#define CFG_VAL_MAX 512
#define CFG_SRC_MAX 256

struct cfg_entry {
    char key[CFG_KEY_MAX];     /* "section.key" for sections other than the one loaded flat */
    char val[CFG_VAL_MAX];
    char src[CFG_SRC_MAX];     /* file name, or "command line" */
    int line;                  /* 1-based line in src, 0 for the command line */
    int used;
};

struct cfg {
    struct cfg_entry *e;
    int n, cap;
    int n_pos;                 /* positional arguments collected by cfg_parse_args */
    char **pos;
    char **strs;               /* copies handed out by cfg_get_str: `e` moves when it grows */
    int n_strs;
};

void cfg_free(struct cfg *c);

/* Set (or replace) key. Returns DCQB_ENOMEM or DCQB_EINVAL (key/value too long). */
int cfg_set(struct cfg *c, const char *key, const char *val, const char *src, int line,
            struct dcqb_err *err);

/* Load an INI file. Keys in section `flat_section` (or outside any section) are stored as
 * "key"; keys in other sections as "section.key". `flat_section` may be NULL. */
int cfg_load_ini(struct cfg *c, const char *path, const char *flat_section, struct dcqb_err *err);

/* Parse argv[0..argc): `--key value`, `--key=value`, and bare `--flag` (value "1") when the
 * next word starts with "--" or there is none. Words not starting with "--" are positional.
 * `bool_flags` is a NULL-terminated list of keys that never take a value (may be NULL). */
int cfg_parse_args(struct cfg *c, int argc, char **argv, const char *const *bool_flags,
                   struct dcqb_err *err);

const struct cfg_entry *cfg_find(const struct cfg *c, const char *key);
int cfg_has(struct cfg *c, const char *key); /* marks used */

/* Typed getters: absent key -> *out = def, DCQB_OK, and the default is recorded in the cfg
 * (source "default", line -1) so that cfg_write lists it. Present but malformed or out of
 * [lo, hi] -> DCQB_EINVAL naming the key and its source. */
int cfg_get_int(struct cfg *c, const char *key, long long def, long long lo, long long hi,
                long long *out, struct dcqb_err *err);
int cfg_get_double(struct cfg *c, const char *key, double def, double lo, double hi, double *out,
                   struct dcqb_err *err);
/* cfg_get_double's general form. CFG_LO_OPEN: lo itself is refused, the range is (lo, hi].
 * CFG_AS_FLOAT: the field is a float, so an absent key records the shortest text of (float)def
 * ("0.1", not the double nearest 0.1f). */
enum { CFG_LO_OPEN = 1, CFG_AS_FLOAT = 2 };
int cfg_get_real(struct cfg *c, const char *key, double def, double lo, double hi, int flags,
                 double *out, struct dcqb_err *err);
int cfg_get_bool(struct cfg *c, const char *key, int def, int *out, struct dcqb_err *err);
/* String getter: the returned pointer lives as long as the cfg (it is a copy, so later sets
 * neither move nor change it). */
int cfg_get_str(struct cfg *c, const char *key, const char *def, const char **out,
                struct dcqb_err *err);
/* One of a NULL-terminated list of choices; *out is its index. */
int cfg_get_choice(struct cfg *c, const char *key, const char *def, const char *const *choices,
                   int *out, struct dcqb_err *err);

/* Where an entry was set ("file:line", "command line" or "default"), for error messages. */
const char *cfg_where(const struct cfg_entry *e, char *buf, size_t n);

/* First key that was set but never read -> DCQB_EINVAL "unknown key 'x' (file:line)". */
int cfg_check_unused(const struct cfg *c, struct dcqb_err *err);

/* Write all used entries (defaults included: getters record them) as "key = value" lines,
 * sorted by key: the resolved config. cfg_write_if writes only the keys keep(ctx, key) accepts
 * (keys.h's keys_write_scoped picks them by scope). */
int cfg_write(const struct cfg *c, FILE *f);
int cfg_write_if(const struct cfg *c, FILE *f, int (*keep)(void *ctx, const char *key),
                 void *ctx);

#endif /* DCQB_CFG_H */
