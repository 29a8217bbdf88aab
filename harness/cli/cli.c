/* cli.c - helpers the dcqbench commands share (cli.h): one error line, the help test and the
 * duration format of progress lines. They live apart from main.c so the cmd_* files link
 * without the program's entry point. */
#include "cli.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

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

void cli_fmt_dur(char *buf, size_t n, double s)
{
    if (!isfinite(s) || s < 0) snprintf(buf, n, "?");
    else if (s < 10) snprintf(buf, n, "%.1fs", s);
    else if (s < 120) snprintf(buf, n, "%.0fs", s);
    else if (s < 7200) snprintf(buf, n, "%.0fm%02.0fs", floor(s / 60), floor(fmod(s, 60)));
    else snprintf(buf, n, "%.0fh%02.0fm", floor(s / 3600), floor(fmod(s, 3600) / 60));
}
