/* keys.h - key tables (include/keyspec.h) on top of struct cfg: read a table into the struct it
 * describes, format a field, write a table's help text, and write a resolved config by scope.
 *
 * One table per struct drives the parser, the --help text, the key-known checks and which keys
 * a run's config hash and config.ini hold (docs/ARCHITECTURE.md §6), so they cannot disagree.
 */
#ifndef DCQB_KEYS_H
#define DCQB_KEYS_H

#include "cfg.h"
#include "keyspec.h"

/* Read every row of `tab` whose scope is in `scopes` (a mask of enum key_scope) from c into the
 * struct at base, marking the keys used. A key's default is its field's current value (put
 * there by the struct's *_defaults() function); an absent key keeps it and records it in c
 * (source "default"), so the resolved config lists every effective value. Malformed or
 * out-of-range values are DCQB_EINVAL naming the key and where it was set. */
int keys_read(void *base, const struct key_spec *tab, int scopes, struct cfg *c,
              struct dcqb_err *err);
int keys_read_one(void *base, const struct key_spec *k, struct cfg *c, struct dcqb_err *err);

/* The row called `name`, or NULL. */
const struct key_spec *keys_find(const struct key_spec *tab, const char *name);

/* The field's value as a config value ("%g"-like shortest text, "%lld", the choice's name, the
 * string or "" for NULL). */
void keys_format(char *buf, size_t n, const struct key_spec *k, const void *base);

/* Help lines for the rows whose scope is in `scopes`, defaults read from the struct at
 * `defaults`: "  --key-name  help (default v)" with as_flags, "  key  help (default v)" without.
 * `width` is the name column's width. */
enum { KEYS_HELP_CONFIG = 0, KEYS_HELP_FLAGS = 1 };
void keys_help(FILE *f, const struct key_spec *tab, const void *defaults, int scopes, int style,
               int width);

/* The resolved config: every used key of c whose scope_of(key) is in `scopes`, "key = value"
 * sorted by key. */
typedef int (*key_scope_fn)(const char *key);
int keys_write_scoped(const struct cfg *c, FILE *f, int scopes, key_scope_fn scope_of);

#endif /* DCQB_KEYS_H */
