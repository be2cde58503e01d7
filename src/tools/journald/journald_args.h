/*
 * journald_args.h - shmbus-journald's command line and --config files.
 */
#ifndef SHMBUS_JOURNALD_ARGS_H
#define SHMBUS_JOURNALD_ARGS_H

#include "journald.h"

/*
 * Fill o from the environment (SHMBUS_BUS), --config files and the command
 * line, in increasing priority, and check every value. Returns -1 to go
 * on, else the exit code (0 after --help, 2 for a usage error, printed).
 */
int jd_parse_args(int argc, char **argv, struct jd_opts *o);

/* Print "shmbus-journald: OPT: WHY" with "(WHERE)" (a FILE:LINE) or, where
 * NULL (the command line), followed by the usage text. Returns 2. */
int jd_usage_err(const char *opt, const char *why, const char *where);

#endif /* SHMBUS_JOURNALD_ARGS_H */
