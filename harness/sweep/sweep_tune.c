/* sweep_tune.c - the choice of a tuned section's grid point (see sweep.h): read from the grid
 * runs' rows in runs.tsv, so every process, shard and rerun that sees the same rows makes the
 * same choice; written to <results>/<sweep>/tuning.tsv for the report and the reader.
 * docs/ARCHITECTURE.md §4 describes the stages.
 */
#include "sweep.h"

#include <math.h>
#include <stdlib.h>

#include "tsv.h"

#define TUNE_LEDGER_MAX ((size_t)1 << 30) /* as sweep_ledger.c: a guard against a wrong file */

struct grid_ref {
    const char *id;
    int group, point;
};

static int cmp_ref(const void *a, const void *b)
{
    return strcmp(((const struct grid_ref *)a)->id, ((const struct grid_ref *)b)->id);
}

void sweep_choice_free(struct sweep_choice *c)
{
    if (!c) return;
    free(c->chosen);
    memset(c, 0, sizeof *c);
}

/* One block carved into chosen and n_ok (n_groups ints each), val (G x P doubles), state. */
static int choice_alloc(struct sweep_choice *c, int G, int P, struct dcqb_err *err)
{
    size_t gp = (size_t)G * (size_t)P, ints = (2 * (size_t)G * sizeof(int) + 7) / 8 * 8;
    char *blk = calloc(1, ints + gp * sizeof(double) + gp + 1);
    if (!blk) return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
    c->chosen = (int *)(void *)blk; /* owns the block: sweep_choice_free frees it */
    c->n_ok = c->chosen + G;
    c->val = (double *)(void *)(blk + ints);
    c->state = (char *)(c->val + gp);
    return DCQB_OK;
}

/* Fill state/val from the last whole row of each grid run in text (taken over). */
static int read_rows(struct sweep_choice *c, const struct sweep *s, char *text,
                     struct dcqb_err *err)
{
    int G = s->n_groups, P = s->n_points, rc;
    struct grid_ref *ref = malloc((size_t)G * (size_t)P * sizeof *ref);
    struct tsv t = {0};
    if (!ref) {
        free(text);
        return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
    }
    for (int g = 0; g < G; g++)
        for (int p = 0; p < P; p++)
            ref[g * P + p] = (struct grid_ref){s->groups[g].grid_id[p], g, p};
    qsort(ref, (size_t)(G * P), sizeof *ref, cmp_ref);
    if ((rc = tsv_parse(&t, text, "runs.tsv", err))) goto out;
    int c_id = tsv_col(&t, "run_id"), c_st = tsv_col(&t, "status"), c_v = tsv_col(&t, "val_rank1");
    if (c_id < 0 || c_st < 0) {
        rc = DCQB_FAIL(err, DCQB_EFORMAT, "runs.tsv: no run_id/status column");
        goto out;
    }
    for (int r = 1; r < t.rows; r++) {
        if (!tsv_row_whole(&t, r)) continue; /* a torn row: a writer killed mid-line */
        struct grid_ref key = {tsv_get(&t, r, c_id), 0, 0};
        const struct grid_ref *hit = bsearch(&key, ref, (size_t)(G * P), sizeof *ref, cmp_ref);
        if (!hit) continue;
        /* Sections of one arm (e.g. one per set of data configurations) tuned on the same data
         * share their grid runs: one run_id, several (group, point) entries. Fill them all. */
        while (hit > ref && !cmp_ref(hit - 1, &key)) hit--;
        int ok = !strcmp(tsv_get(&t, r, c_st), "ok");
        for (; hit < ref + G * P && !cmp_ref(hit, &key); hit++) {
            int i = hit->group * P + hit->point;
            c->state[i] = ok ? 'o' : 'f'; /* the last row is current */
            c->val[i] = ok && c_v >= 0 ? tsv_num(tsv_get(&t, r, c_v)) : NAN;
        }
    }
out:
    tsv_free(&t);
    free(ref);
    return rc;
}

int sweep_tune_choose(struct sweep_choice *c, const struct sweep *s, const char *results_dir,
                      struct dcqb_err *err)
{
    int G = s->n_groups, P = s->n_points, rc;
    memset(c, 0, sizeof *c);
    if ((rc = choice_alloc(c, G, P, err))) return rc;
    memset(c->state, '-', (size_t)G * (size_t)P);
    for (int i = 0; i < G * P; i++) c->val[i] = NAN;
    char path[1200], *text = NULL;
    snprintf(path, sizeof path, "%s/%s/runs.tsv", results_dir, s->name);
    if (G && (rc = file_read_all(&text, NULL, path, TUNE_LEDGER_MAX, err))) goto fail;
    if (text && *text) {
        rc = read_rows(c, s, text, err); /* takes text over */
        text = NULL;
        if (rc) goto fail;
    }
    free(text);
    for (int g = 0; g < G; g++) {
        int pending = 0, best = SWEEP_CHOICE_NONE;
        for (int p = 0; p < P; p++) {
            char st = c->state[g * P + p];
            double v = c->val[g * P + p];
            pending |= st == '-';
            c->n_ok[g] += st == 'o';
            /* strictly better only: a tie keeps the first point in grid order */
            if (st == 'o' && isfinite(v) && (best < 0 || v > c->val[g * P + best])) best = p;
        }
        c->chosen[g] = pending ? SWEEP_CHOICE_PENDING : best;
    }
    return DCQB_OK;
fail:
    sweep_choice_free(c);
    return rc;
}

int sweep_run_state(const struct sweep *s, const struct sweep_choice *c, int i)
{
    const struct sweep_run *r = &s->runs[i];
    if (r->tune != SWEEP_TUNE_BEST) return SWEEP_RUN_ACTIVE;
    int ch = c->chosen[r->group];
    if (r->point >= 0) return ch == r->point ? SWEEP_RUN_ACTIVE : SWEEP_RUN_UNCHOSEN;
    return ch == SWEEP_CHOICE_PENDING ? SWEEP_RUN_WAITING
           : ch == SWEEP_CHOICE_NONE  ? SWEEP_RUN_TUNE_FAILED
                                      : SWEEP_RUN_UNCHOSEN;
}

const char *sweep_tune_failure(const struct sweep_choice *c, int group)
{
    return c->n_ok[group] ? "tuning: no ok run of the grid has a val_rank1"
                          : "tuning: no run of the grid succeeded";
}

static void point_label(struct sbuf *b, const struct sweep *s, int p, const char *sep)
{
    for (int k = 0; k < s->n_grid; k++)
        sb_printf(b, "%s%s=%s", k ? sep : "", s->grid_key[k], s->grid_val[p * s->n_grid + k]);
}

int sweep_tune_write(const struct sweep *s, const struct sweep_choice *c, const char *results_dir,
                     struct dcqb_err *err)
{
    if (!s->n_groups) return DCQB_OK;
    struct sbuf b = {0};
    int P = s->n_points;
    sb_str(&b, "section\tdata\tpoint");
    for (int k = 0; k < s->n_grid; k++) sb_printf(&b, "\t%s", s->grid_key[k]);
    sb_str(&b, "\trun_id\tstate\tval_rank1\tchosen\n");
    for (int g = 0; g < s->n_groups; g++)
        for (int p = 0; p < P; p++) {
            const struct sweep_group *gr = &s->groups[g];
            char st = c->state[g * P + p];
            double v = c->val[g * P + p];
            sb_printf(&b, "%s\t%s\t%d", gr->section, gr->data[0] ? gr->data : "NA", p);
            for (int k = 0; k < s->n_grid; k++)
                sb_printf(&b, "\t%s", s->grid_val[p * s->n_grid + k]);
            sb_printf(&b, "\t%s\t%s\t", gr->grid_id[p],
                      st == 'o' ? "ok" : st == 'f' ? "fail" : "pending");
            if (isfinite(v)) sb_printf(&b, "%.17g", v);
            else sb_str(&b, "NA");
            sb_printf(&b, "\t%d\n", c->chosen[g] == p);
        }
    if (b.oom) {
        sb_free(&b);
        return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory");
    }
    char path[1200];
    snprintf(path, sizeof path, "%s/%s/tuning.tsv", results_dir, s->name);
    int rc = file_write_atomic(path, b.p, b.n, err);
    sb_free(&b);
    return rc;
}

void sweep_tune_describe(char *out, size_t n, const struct sweep *s, const struct sweep_choice *c,
                         int g)
{
    const struct sweep_group *gr = &s->groups[g];
    int P = s->n_points, ch = c->chosen[g], ended = 0;
    for (int p = 0; p < P; p++) ended += c->state[g * P + p] != '-';
    struct sbuf b = {0};
    sb_printf(&b, "tuning [%s]%s%s: ", gr->section, gr->data[0] ? " on data " : "", gr->data);
    if (ch == SWEEP_CHOICE_PENDING) {
        sb_printf(&b, "waiting: %d of %d grid runs ended", ended, P);
    } else if (ch == SWEEP_CHOICE_NONE) {
        sb_str(&b, sweep_tune_failure(c, g));
    } else {
        sb_str(&b, "chose ");
        point_label(&b, s, ch, " ");
        sb_printf(&b, " (val_rank1 %.4f; %d of %d grid runs ok)", c->val[g * P + ch], c->n_ok[g],
                  P);
    }
    snprintf(out, n, "%s", b.oom || !b.p ? "tuning: out of memory" : b.p);
    sb_free(&b);
}
