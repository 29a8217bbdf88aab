/* main.c - bin/dcqbench: dispatch to subcommands. The only translation unit besides the cmd_*
 * files that may print or exit (STYLE.md 2.4). */
#include "cli.h"

#include <stdlib.h>

#include <gsl/gsl_errno.h>

#include "version.h"

struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    {"data", cmd_data, "describe, export and import synthetic or .npy datasets"},
    {"train", cmd_train, "train a backbone with one classifier head"},
    {"eval", cmd_eval, "MegaFace-style, LFW-style and tail evaluation of embeddings"},
    {"head", cmd_head, "cross-check one head's forward/backward on fixed inputs"},
    {"sweep", cmd_sweep, "run a sweep config (heads x ratios x splits x seeds), resumable"},
    {"report", cmd_report, "write results/REPORT.md from sweep results"},
    {"bench", cmd_bench, "time and memory of each head as the number of classes grows"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: dcqbench [--version] [--help] <command> [options]\n\n"
               "Benchmark harness for large-scale face-recognition classifier heads\n"
               "(full softmax, Partial FC, Dynamic Class Queue, sampled softmax).\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'dcqbench <command> --help' documents each command's options.\n");
}

int cli_error(const char *cmd, const struct dcqb_err *err)
{
    fprintf(stderr, "dcqbench %s: %s\n", cmd, err && err->msg[0] ? err->msg
                                                 : dcqb_strerror(err ? err->code : 0));
    return 2;
}

int cli_wants_help(int argc, char **argv)
{
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) return 1;
    return 0;
}

int main(int argc, char **argv)
{
    /* GSL's default handler aborts; every GSL return is checked instead (STYLE.md 2.4). */
    gsl_set_error_handler_off();
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("dcqbench %s (%s)\n", DCQB_VERSION, DCQB_GIT_REV);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0) return commands[i].fn(argc - 2, argv + 2);
    fprintf(stderr, "dcqbench: unknown command '%s' (see dcqbench --help)\n", argv[1]);
    return 2;
}
