/* main.c - bin/dcqbench: dispatch to subcommands. The only translation unit besides the cmd_*
 * files and cli.c that may print or exit (docs/ARCHITECTURE.md §1). */
#include "cli.h"

#include <cblas.h>
#include <stdlib.h>
#include <strings.h>
#include <unistd.h>

#include <gsl/gsl_errno.h>

#include "isa.h"
#include "machine.h"
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

/* OpenBLAS 0.3.21 picks its kernel from the CPU model name; on virtual machines that report a
 * generic "Intel Xeon Processor" it falls back to the Prescott (SSE3) kernel although the CPU
 * has AVX-512: sgemm ran 4x slower here. The kernel is chosen when the library loads, so the
 * only fix is to set OPENBLAS_CORETYPE from the CPU's feature flags and re-execute ourselves.
 * A user's own OPENBLAS_CORETYPE (even empty) is never overridden. The kernel in use is part of
 * provenance.json: results are bit-reproducible for a given seed, thread count and kernel. */
static void blas_pick_core(char **argv)
{
    if (getenv("OPENBLAS_CORETYPE")) return;
    const char *core = openblas_get_corename();
    if (!core || (strcasecmp(core, "prescott") != 0 && strcasecmp(core, "core2") != 0 &&
                  strcasecmp(core, "nehalem") != 0))
        return;
    const char *want = NULL;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512cd"))
        want = "SkylakeX";
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        want = "Haswell";
    if (!want) return;
    setenv("OPENBLAS_CORETYPE", want, 1);
    execv("/proc/self/exe", argv);
    /* exec failed: carry on with the generic kernel (slower, still correct) */
}

int main(int argc, char **argv)
{
    blas_pick_core(argv);
    /* the kernels' ISA path (algorithms/isa.h): a bad DCQB_ISA is an error, not a silent
     * fallback, since a forced path is asked for to be measured */
    const char *isa = getenv("DCQB_ISA");
    struct dcqb_err ierr = {0};
    if (isa && dcqb_isa_set(isa, &ierr)) {
        fprintf(stderr, "dcqbench: %s\n", ierr.msg);
        return 2;
    }
    /* GSL's default handler aborts; every GSL return is checked instead (docs/ARCHITECTURE.md
     * §1: library code never exits). */
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
        /* the machine every timing is recorded with (docs/ARCHITECTURE.md "Machine") */
        const struct dcqb_machine *m = dcqb_machine();
        printf("machine: %s, %d CPU(s); ISA path %s (best %s); L1d %lld KiB, L2 %lld KiB per "
               "core, L3 %lld KiB; BLAS core %s\n",
               m->cpu_model, m->cpus, dcqb_isa_name(dcqb_isa()), dcqb_isa_name(dcqb_isa_best()),
               (long long)(m->l1d_bytes / 1024), (long long)(m->l2_bytes / 1024),
               (long long)(m->l3_bytes / 1024), openblas_get_corename());
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0) return commands[i].fn(argc - 2, argv + 2);
    fprintf(stderr, "dcqbench: unknown command '%s' (see dcqbench --help)\n", argv[1]);
    return 2;
}
