/* cmd_report.c - 'dcqbench report': not implemented yet (issue 6). */
#include "cli.h"

int cmd_report(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: dcqbench report ...\n\nNot implemented yet (tracked in issue 6).\n");
        return 0;
    }
    struct dcqb_err err = {0};
    DCQB_FAIL(&err, DCQB_EINVAL, "not implemented yet (issue 6)");
    return cli_error("report", &err);
}
