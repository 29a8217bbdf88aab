/* cmd_data.c - 'dcqbench data': not implemented yet (issue 2). */
#include "cli.h"

int cmd_data(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: dcqbench data ...\n\nNot implemented yet (tracked in issue 2).\n");
        return 0;
    }
    struct dcqb_err err = {0};
    DCQB_FAIL(&err, DCQB_EINVAL, "not implemented yet (issue 2)");
    return cli_error("data", &err);
}
