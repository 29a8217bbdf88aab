/* cmd_head.c - 'dcqbench head': not implemented yet (issue 5). */
#include "cli.h"

int cmd_head(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: dcqbench head ...\n\nNot implemented yet (tracked in issue 5).\n");
        return 0;
    }
    struct dcqb_err err = {0};
    DCQB_FAIL(&err, DCQB_EINVAL, "not implemented yet (issue 5)");
    return cli_error("head", &err);
}
