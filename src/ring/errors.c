/*
 * errors.c - shmbus_strerror() and the thread-local detail message.
 *
 * Cold-path failures say what and where ("ring 'ta': capacity 100 is not a
 * power of two") through bus_err(); the hot path never formats.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "shmbus/error.h"
#include "bus_internal.h"

static _Thread_local char errmsg_buf[256];

int bus_err(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(errmsg_buf, sizeof(errmsg_buf), fmt, ap);
	va_end(ap);
	return code;
}

void bus_err_clear(void)
{
	errmsg_buf[0] = '\0';
}

const char *shmbus_errmsg(void)
{
	return errmsg_buf;
}

const char *shmbus_strerror(int code)
{
	switch (code) {
	case 0:
		return "success";
	case SHMBUS_EBADMAGIC:
		return "not a shmbus segment (bad magic)";
	case SHMBUS_EVERSION:
		return "shmbus ABI version mismatch";
	case SHMBUS_ELAYOUT:
		return "shmbus layout hash mismatch (built from other sources)";
	case SHMBUS_ECORRUPT:
		return "shmbus segment corrupt (offset or count out of bounds)";
	case SHMBUS_ETIMEDOUT:
		return "timed out waiting for an event";
	case SHMBUS_EFULL:
		return "ring full";
	case SHMBUS_ETOOBIG:
		return "event larger than the ring's slot";
	case SHMBUS_EDEAD:
		return "peer process is dead";
	case SHMBUS_EBUSY:
		return "busy: the ring has a live consumer, or the source id an open producer";
	default:
		break;
	}
	if (code < 0 && code > -4096)
		return strerror(-code);
	return "unknown shmbus error";
}
