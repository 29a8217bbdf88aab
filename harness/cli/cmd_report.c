/* cmd_report.c - 'dcqbench report': results/<sweep>/runs.tsv (+ results/bench/bench.tsv) ->
 * REPORT.md with tables, claim verdicts (docs/METHOD.md §5) and results/<sweep>/derived/
 * TSVs for plots/make_plots.sh. The work is in harness/report/; this file parses options and
 * prints one summary line. */
#include "cli.h"

#include <stdlib.h>
#include <time.h>

#include "report.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: dcqbench report --profile smoke|default|paper [--sweep NAME] [--results DIR]\n"
            "                       [--out FILE] [--bench FILE] [--no-derived] [--no-timestamp]\n\n"
            "Reads DIR/<sweep>/runs.tsv (sweep defaults to reproduce_<profile>) and\n"
            "DIR/bench/bench.tsv when present, writes REPORT.md (default DIR/REPORT.md) with the\n"
            "tables, the claim verdicts (docs/METHOD.md section 5) and the controls, every table\n"
            "as LaTeX in <dir of REPORT.md>/tables/, and DIR/<sweep>/derived/*.tsv for the plots.\n"
            "Output is deterministic except the 'Generated:' line (--no-timestamp drops it).\n");
}

int cmd_report(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    struct report_opts o = {0};
    int no_ts = 0;
    struct dcqb_err err = {0};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char **dst = NULL;
        if (!strcmp(a, "--profile")) dst = &o.profile;
        else if (!strcmp(a, "--sweep")) dst = &o.sweep;
        else if (!strcmp(a, "--results")) dst = &o.results_dir;
        else if (!strcmp(a, "--out")) dst = &o.out;
        else if (!strcmp(a, "--bench")) dst = &o.bench_tsv;
        else if (!strcmp(a, "--no-derived")) o.no_derived = 1;
        else if (!strcmp(a, "--no-timestamp")) no_ts = 1;
        else {
            DCQB_FAIL(&err, DCQB_EINVAL, "unknown option '%s' (see --help)", a);
            return cli_error("report", &err);
        }
        if (dst) {
            if (i + 1 >= argc) {
                DCQB_FAIL(&err, DCQB_EINVAL, "%s needs a value", a);
                return cli_error("report", &err);
            }
            *dst = argv[++i];
        }
    }
    if (!o.profile && !o.sweep) {
        usage(stderr);
        return 2;
    }
    char ts[64];
    if (!no_ts) {
        time_t now = time(NULL);
        struct tm tmv;
        gmtime_r(&now, &tmv);
        strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S UTC", &tmv);
        o.timestamp = ts;
    }
    struct report_summary s;
    if (report_write(&o, &s, &err)) return cli_error("report", &err);
    int rep = 0, notrep = 0, inc = 0, notrun = 0;
    for (int i = 0; i < REPORT_N_CLAIMS; i++) {
        rep += s.verdict[i] == REPORT_REPRODUCED;
        notrep += s.verdict[i] == REPORT_NOT_REPRODUCED;
        inc += s.verdict[i] == REPORT_INCONCLUSIVE || s.verdict[i] == REPORT_FEW_SEEDS;
        notrun += s.verdict[i] == REPORT_NOT_RUN;
    }
    printf("report: %s (%d runs: %d ok, %d failed; claims%s: %d reproduced, %d not reproduced, "
           "%d inconclusive, %d not run)%s%s\n",
           s.out, s.runs, s.ok, s.failed, s.smoke ? " at smoke scale, not evidence" : "", rep,
           notrep, inc, notrun, s.derived[0] ? "; derived TSVs in " : "", s.derived);
    const int *l = s.ladder;
    int rungs = 0;
    for (int v = 0; v <= REPORT_INCONCLUSIVE; v++) rungs += l[v];
    if (rungs)
        printf("report: scale ladder: %d rungs: %d reproduced, %d not reproduced, %d inconclusive "
               "(%d with fewer than 2 seeds, %d not run)%s\n", rungs,
               l[REPORT_REPRODUCED], l[REPORT_NOT_REPRODUCED], l[REPORT_INCONCLUSIVE],
               l[REPORT_FEW_SEEDS], l[REPORT_NOT_RUN], s.smoke ? " (smoke scale, not evidence)" : "");
    if (s.aa_flag) printf("report: WARNING: the A/A control came out different (see REPORT.md)\n");
    if (s.pos_missed) printf("report: WARNING: the positive control was not detected\n");
    return 0;
}
