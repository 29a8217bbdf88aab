/* cli.c - helpers the dcqbench commands share (cli.h): one error line and the help test. They
 * live apart from main.c so the cmd_* files link without the program's entry point. */
#include "cli.h"

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
