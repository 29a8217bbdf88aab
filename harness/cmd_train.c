/* cmd_train.c - 'dcqbench train': not implemented yet (issue 3). */
#include "cli.h"

int cmd_train(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: dcqbench train ...\n\nNot implemented yet (tracked in issue 3).\n");
        return 0;
    }
    struct dcqb_err err = {0};
    DCQB_FAIL(&err, DCQB_EINVAL, "not implemented yet (issue 3)");
    return cli_error("train", &err);
}
