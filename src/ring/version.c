/*
 * version.c - which shmbus a program runs with.
 */
#include "shmbus/shmbus.h"

const char *shmbus_version(void)
{
	return SHMBUS_VERSION_STRING;
}
