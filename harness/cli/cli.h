/* cli.h - the subcommands of bin/dcqbench. Each lives in harness/cli/cmd_<name>.c, returns a
 * process exit status (0 ok, 1 run failed, 2 usage/input error), and prints its own --help; the
 * helpers they share are in cli.c. Only these functions and main() print to the terminal or
 * decide the exit status; the work itself is library code they call. */
#ifndef DCQB_CLI_H
#define DCQB_CLI_H

#include "dcqb.h"

int cmd_data(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_head(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_bench(int argc, char **argv);

/* cli.c: print "dcqbench <cmd>: <msg>" on stderr, one line. Returns 2 (usage/input error). */
int cli_error(const char *cmd, const struct dcqb_err *err);
/* Non-zero if argv contains -h or --help. */
int cli_wants_help(int argc, char **argv);
/* A duration for progress lines and ETAs: "9.5s", "45s", "3m05s", "2h05m"; "?" when negative
 * or not finite. */
void cli_fmt_dur(char *buf, size_t n, double s);

#endif
