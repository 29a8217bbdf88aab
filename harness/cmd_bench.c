/* cmd_bench.c - 'dcqbench bench': not implemented yet (issue 7). */
#include "cli.h"

int cmd_bench(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: dcqbench bench ...\n\nNot implemented yet (tracked in issue 7).\n");
        return 0;
    }
    struct dcqb_err err = {0};
    DCQB_FAIL(&err, DCQB_EINVAL, "not implemented yet (issue 7)");
    return cli_error("bench", &err);
}
