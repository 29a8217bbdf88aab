/* cmd_eval.c - 'dcqbench eval': not implemented yet (issue 4). */
#include "cli.h"

int cmd_eval(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: dcqbench eval ...\n\nNot implemented yet (tracked in issue 4).\n");
        return 0;
    }
    struct dcqb_err err = {0};
    DCQB_FAIL(&err, DCQB_EINVAL, "not implemented yet (issue 4)");
    return cli_error("eval", &err);
}
