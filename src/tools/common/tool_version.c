/*
 * tool_version.c - `PROG --version` (see tool_version.h).
 */
#include "tool_version.h"

#include <stdio.h>
#include <string.h>

#include "shmbus/shmbus.h"

bool tool_version_asked(int argc, char **argv)
{
	return argc >= 2 && strcmp(argv[1], "--version") == 0;
}

int tool_version_print(const char *prog)
{
	printf("%s (shmbus) %s\n", prog, shmbus_version());
	/* a closed or full stdout is an error a script must see */
	return fflush(stdout) != 0 || ferror(stdout) ? 1 : 0;
}
