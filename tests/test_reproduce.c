/* test_reproduce.c - the front door end to end: the smoke profile's sweep through the real
 * binary (train + eval for every run), the report, and a rerun that must do no work twice.
 * This is the slowest test (a few minutes on 2 cores): it is the one that proves `make
 * reproduce` works on a fresh clone. Results go to build/tmp-tests/reproduce, not results/. */
#include "test_util.h"

#include "tsv.h"

static char out[1 << 16];
static char res[512];

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

static void test_smoke_profile_end_to_end(void **state)
{
    (void)state;
    char args[2048], path[1024];
    snprintf(res, sizeof res, "%s/reproduce", test_tmpdir());
    snprintf(args, sizeof args, "rm -rf %s", res);
    assert_int_equal(system(args), 0);

    /* 1. the sweep: every run trains and evaluates */
    snprintf(args, sizeof args, "sweep sweeps/reproduce_smoke.conf --results %s --jobs 2", res);
    int st = test_run_cli(out, sizeof out, args);
    if (st != 0) print_error("sweep exited %d:\n%s\n", st, out);
    assert_int_equal(st, 0);
    snprintf(path, sizeof path, "%s/reproduce_smoke/runs.tsv", res);
    char *tsv = test_slurp(path);
    assert_non_null(tsv);
    int rows = count_lines(tsv) - 1;
    assert_true(rows >= 150); /* 169 distinct runs in the smoke profile today */
    assert_null(strstr(tsv, "\tfail\t"));
    /* the primary metric column holds a number in [0, 1] on every row (not NA) */
    int col = -1, c = 0;
    for (const char *p = tsv; *p != '\n'; c++) {
        const char *e = p + strcspn(p, "\t\n");
        if ((size_t)(e - p) == strlen("megaface_rank1") && !strncmp(p, "megaface_rank1", 14))
            col = c;
        p = *e == '\t' ? e + 1 : e;
    }
    assert_true(col >= 0);
    for (const char *l = strchr(tsv, '\n') + 1; *l; l = strchr(l, '\n') + 1) {
        const char *p = l;
        for (int k = 0; k < col; k++) p = strchr(p, '\t') + 1;
        char *end;
        double v = strtod(p, &end);
        assert_true(end != p && v >= 0 && v <= 1);
    }

    /* every row carries its resolved configuration: keys the sweep never set are filled from
     * the run's config.ini (batch, lr are set; kshot, queue_len and momentum are not), and a
     * key the run's head does not read is NA; mu and ema are the loop's, every run has them
     * (the smoke profile keeps an EMA network for every head: ema = 1 everywhere) */
    struct tsv t;
    struct dcqb_err err = {0};
    assert_int_equal(tsv_parse(&t, strdup(tsv), path, &err), DCQB_OK);
    int c_head = tsv_col(&t, "head"), c_mom = tsv_col(&t, "momentum"), c_mu = tsv_col(&t, "mu"),
        c_k = tsv_col(&t, "kshot"), c_q = tsv_col(&t, "queue_len"), c_lr = tsv_col(&t, "lr"),
        c_ema = tsv_col(&t, "ema");
    assert_true(c_head >= 0 && c_mom >= 0 && c_mu >= 0 && c_k >= 0 && c_q >= 0 && c_lr >= 0 &&
                c_ema >= 0);
    for (int r = 1; r < t.rows; r++) {
        int dcq = strcmp(tsv_get(&t, r, c_head), "dcq") == 0;
        assert_false(tsv_is_na(tsv_get(&t, r, c_mom)));
        assert_false(tsv_is_na(tsv_get(&t, r, c_lr)));
        assert_false(tsv_is_na(tsv_get(&t, r, c_mu)));
        assert_string_equal(tsv_get(&t, r, c_ema), "1");
        assert_int_equal(tsv_is_na(tsv_get(&t, r, c_k)), !dcq);
        assert_int_equal(tsv_is_na(tsv_get(&t, r, c_q)), !dcq);
    }
    tsv_free(&t);

    /* 2. the report: every table and every claim section, verdicts computed */
    snprintf(args, sizeof args, "report --profile smoke --results %s --no-timestamp", res);
    st = test_run_cli(out, sizeof out, args);
    if (st != 0) print_error("report exited %d:\n%s\n", st, out);
    assert_int_equal(st, 0);
    snprintf(path, sizeof path, "%s/REPORT.md", res);
    char *rep = test_slurp(path);
    assert_non_null(rep);
    const char *must[] = {"# dcqbench reproduction report: profile smoke",
                          "not evidence",
                          "## Table 1",
                          "## Table 2",
                          "## Table 3",
                          "## Table 4",
                          "## Table 5",
                          "## Claims",
                          "### Claim 1",
                          "### Claim 2",
                          "### Claim 3",
                          "### Claim 4",
                          "### Claim 5",
                          "### Claim 6",
                          "### Claim 7",
                          "### Claim 8",
                          "### Claim 9",
                          "## EMA control",
                          "## Chosen configurations",
                          "## Verdicts by data configuration",
                          "| claim | base | lookalike | wild | overall |",
                          "| dcq 10 % |",
                          "| full |",
                          NULL};
    for (int i = 0; must[i]; i++) {
        if (!strstr(rep, must[i])) print_error("REPORT.md lacks '%s'\n", must[i]);
        assert_non_null(strstr(rep, must[i]));
    }
    /* smoke scale: no verdict is shown as evidence, yet every rule ran: derived/verdicts.tsv
     * holds each claim's computed value. They pin the pipeline end to end (deterministic, like a
     * digest: they change only when the training arithmetic, the profile or a rule does). At
     * this toy scale (rank-1 of a few %), with three seeds and Holm's step-down over 9 claims x
     * 3 data configurations, no claim is decided; the planted handicap (a quarter of the
     * steps) is still called worse; claim 2 is not run (no bench.tsv here); the A/A control is
     * not called. */
    assert_null(strstr(rep, "**Verdict: reproduced"));
    assert_non_null(strstr(rep, "**Verdict: smoke scale: not evidence.**"));
    assert_null(strstr(rep, "> **Warning: the positive control (a quarter of the steps) was "
                            "not called worse"));
    assert_null(strstr(rep, "Warning: the A/A control"));
    snprintf(path, sizeof path, "%s/reproduce_smoke/derived/verdicts.tsv", res);
    char *vt = test_slurp(path);
    assert_non_null(vt);
    static const char *const want[] = {
        "1\tinconclusive\t", "2\tnot_run\t", "3\tinconclusive\t", "4\tinconclusive\t",
        "5\tinconclusive\t", "6\tinconclusive\t", "7\tinconclusive\t", "8\tinconclusive\t",
        "9\tinconclusive\t", "aa\tinconclusive\t", "positive\treproduced\t", NULL};
    const char *line = strchr(vt, '\n');
    for (int i = 0; want[i]; i++) {
        assert_non_null(line);
        line++;
        if (strncmp(line, want[i], strlen(want[i])))
            print_error("verdicts.tsv row %d: want '%s', got '%.40s'\n", i + 1, want[i], line);
        assert_true(!strncmp(line, want[i], strlen(want[i])));
        line = strchr(line, '\n');
    }
    free(vt);

    /* 3. a rerun does no work twice: every run is skipped, runs.tsv gains no row */
    snprintf(args, sizeof args, "sweep sweeps/reproduce_smoke.conf --results %s --jobs 2", res);
    assert_int_equal(test_run_cli(out, sizeof out, args), 0);
    snprintf(path, sizeof path, "%s/reproduce_smoke/runs.tsv", res);
    char *tsv2 = test_slurp(path);
    assert_non_null(tsv2);
    assert_int_equal(count_lines(tsv2) - 1, rows);
    free(tsv);
    free(tsv2);
    free(rep);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_smoke_profile_end_to_end),
    };
    return cmocka_run_group_tests_name("reproduce", tests, NULL, NULL);
}
