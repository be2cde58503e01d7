/*
 * tool_version.h - `PROG --version`, the same in every tool and service.
 *
 * Scripts and bug reports need to know which shmbus a binary is: each
 * prints "PROG (shmbus) VERSION" on stdout and exits 0, where VERSION is
 * that of the library it runs with (shmbus_version(): with a shared
 * libshmbus, the one loaded, not the headers it was built against).
 */
#ifndef SHMBUS_TOOL_VERSION_H
#define SHMBUS_TOOL_VERSION_H

#include <stdbool.h>

/* Is the command `PROG --version` (--version as its first argument)? */
bool tool_version_asked(int argc, char **argv);

/* Print "prog (shmbus) VERSION"; returns 0, or 1 when stdout failed. */
int tool_version_print(const char *prog);

#endif
