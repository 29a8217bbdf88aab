/* sweep_int.h - private to harness/sweep/: the parsed sweep file (sweep_file.c reads it into a
 * struct loader) and its expansion into runs (sweep_expand.c). See sweep.h for the format.
 */
#ifndef DCQB_SWEEP_INT_H
#define DCQB_SWEEP_INT_H

#include "cfg.h"
#include "sweep.h"

#define MAX_SECTIONS 64
#define MAX_ITEMS 128 /* keys per section */
#define MAX_VALS 256  /* values per list */

struct section {
    char name[CFG_KEY_MAX];
    int line;
};

struct item {
    const char *key; /* points into the cfg entry */
    int line;
    int n;
    char **vals; /* MAX_VALS canonical values, each malloc'd */
};

enum group_kind { G_BASE, G_HEAD, G_DATA, G_TUNE };

struct group {          /* [base], one [head.<name>], one [data.<NAME>] or [tune] */
    int kind;
    char head[CFG_KEY_MAX]; /* head name; data: the configuration's NAME */
    char sect[CFG_KEY_MAX]; /* the section's name, for messages */
    int line;
    int tuned, tune_line;   /* head: tune = 1 and its line */
    struct item sel;        /* head: data = a, b (sel.n = 0: every data configuration) */
    struct item seed;       /* tune: seed = N */
    struct item dsel;       /* tune: data = NAME */
    int n;
    struct item it[MAX_ITEMS]; /* tune: the grid.KEY lists, key without "grid." */
};

struct loader {
    struct sweep *s;
    const char *path;
    struct cfg c;
    struct section sec[MAX_SECTIONS];
    int n_sec;
    int sec_group[MAX_SECTIONS]; /* group of each section, -1 for [sweep] */
    struct group *g;             /* g[0] = base, then one per other section but [sweep] */
    int n_g;
    const char *name;            /* [sweep] name, NULL when not given */
};

/* Check the [data.*] / [tune] layout, then expand every head section into s->runs (canonical
 * order, duplicates merged) and fill s->keys, s->cols, the grid and the tuning groups. */
int sweep_expand(struct loader *L, struct dcqb_err *err);

#endif /* DCQB_SWEEP_INT_H */
