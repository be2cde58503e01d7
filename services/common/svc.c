/*
 * svc.c - common flags, pinning, signals, start-up, the poll/wait loop
 * and the end-of-stream marker of the service processes.
 *
 * The loop is the one place that decides how a service waits: it polls in
 * batches while events flow and, when the ring is empty, hands over to
 * shmbus_wait() with the ring's strategy (adaptive: spin briefly, yield,
 * then sleep on the futex), bounded so that the stop flag and the
 * heartbeat are looked at every max_wait_ns. A stop request never drops
 * what is already in the ring: the loop drains it first, so a SIGTERM sent
 * after the producers finished loses nothing.
 */
#define _GNU_SOURCE
#include "svc.h"
#include "tool_parse.h"
#include "tool_proc.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char shmbus_svc_common_usage[] =
    "  --bus NAME          bus to attach (default $SHMBUS_BUS, else \"default\")\n"
    "  --name NAME         participant name shown by shmbus-stat\n"
    "  --cpus LIST         pin to these cores, e.g. 0 or 0,2-3\n"
    "  --stats-json FILE   write counters as JSON at exit (checked at start: a\n"
    "                      FILE that cannot be written is a usage error)\n"
    "  --source-id N       source id stamped in published events (default: pid)\n"
    "  --wait STRATEGY     adaptive (default), spin, yield or block\n"
    "  --quiet             no per-event output\n";

static volatile sig_atomic_t svc_stop;

void shmbus_svc_opts_init(struct shmbus_svc_opts *o, const char *name)
{
	const char *env = getenv("SHMBUS_BUS"); /* the launcher's, as every tool takes it */

	memset(o, 0, sizeof(*o));
	o->bus = env && *env ? env : SHMBUS_DEFAULT_BUS;
	o->name = name;
	o->wait = SHMBUS_WAIT_ADAPTIVE;
}

static int svc_wait_from_name(const char *s)
{
	static const char *const names[] = {"adaptive", "spin", "yield", "block"};

	for (int i = 0; i < 4; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -EINVAL;
}

int shmbus_svc_opt(struct shmbus_svc_opts *o, int opt, const char *arg, char *err, size_t n)
{
	uint64_t v;
	cpu_set_t set;
	int w;

	switch (opt) {
	case SHMBUS_SVC_OPT_BUS: {
		char path[4096];
		if (shmbus_bus_path(arg, path, sizeof(path)) == -EINVAL) { /* a usage error */
			snprintf(err, n, "--bus: %s", shmbus_errmsg());
			return -EINVAL;
		}
		o->bus = arg;
		return 1;
	}
	case SHMBUS_SVC_OPT_NAME:
		o->name = arg;
		return 1;
	case SHMBUS_SVC_OPT_CPUS:
		if (shmbus_svc_parse_cpus(arg, &set, err, n) != 0)
			return -EINVAL;
		o->cpus = arg;
		return 1;
	case SHMBUS_SVC_OPT_STATS:
		o->stats_json = arg;
		return 1;
	case SHMBUS_SVC_OPT_SOURCE:
		if (shmbus_svc_parse_u64(arg, &v) != 0 || v > UINT32_MAX) {
			snprintf(err, n, "--source-id '%s': not a number 0..%u", arg, UINT32_MAX);
			return -EINVAL;
		}
		o->source_id = (uint32_t)v;
		return 1;
	case SHMBUS_SVC_OPT_WAIT:
		if ((w = svc_wait_from_name(arg)) < 0) {
			snprintf(err, n, "--wait '%s': expected adaptive, spin, yield or block",
			         arg);
			return -EINVAL;
		}
		o->wait = (enum shmbus_wait_strategy)w;
		o->wait_set = 1;
		return 1;
	case SHMBUS_SVC_OPT_QUIET:
		o->quiet = 1;
		return 1;
	default:
		return 0;
	}
}

/* One "N" or "N-M" item of a CPU list into @set. */
static int svc_cpu_item(const char *s, size_t len, cpu_set_t *set)
{
	char item[32], *end;
	unsigned long lo, hi;

	if (len == 0 || len >= sizeof(item))
		return -EINVAL;
	memcpy(item, s, len);
	item[len] = '\0';
	if (item[0] < '0' || item[0] > '9')
		return -EINVAL;
	lo = strtoul(item, &end, 10);
	hi = lo;
	if (*end == '-') {
		if (end[1] < '0' || end[1] > '9')
			return -EINVAL;
		hi = strtoul(end + 1, &end, 10);
	}
	if (*end || lo > hi || hi >= CPU_SETSIZE)
		return -EINVAL;
	for (unsigned long c = lo; c <= hi; c++)
		CPU_SET(c, set);
	return 0;
}

int shmbus_svc_parse_cpus(const char *list, cpu_set_t *set, char *err, size_t n)
{
	const char *p = list;

	CPU_ZERO(set);
	if (!list || !*list) {
		snprintf(err, n, "--cpus: empty CPU list");
		return -EINVAL;
	}
	while (*p) {
		size_t len = strcspn(p, ",");
		if (svc_cpu_item(p, len, set) != 0) {
			snprintf(err, n, "--cpus '%s': bad item '%.*s' (expected N or N-M, N < %d)",
			         list, (int)len, p, CPU_SETSIZE);
			return -EINVAL;
		}
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}

int shmbus_svc_pin(const char *list, char *err, size_t n)
{
	cpu_set_t set;

	if (!list || !*list)
		return 0;
	if (shmbus_svc_parse_cpus(list, &set, err, n) != 0)
		return -EINVAL;
	if (sched_setaffinity(0, sizeof(set), &set) != 0) {
		int e = errno;
		snprintf(err, n, "sched_setaffinity(%s): %s", list, strerror(e));
		return -e;
	}
	return 0;
}

int shmbus_svc_parse_u64(const char *s, uint64_t *out)
{
	return tool_parse_u64(s, out);
}

int shmbus_svc_parse_double(const char *s, double *out)
{
	return tool_parse_double(s, out);
}

int shmbus_svc_parse_speed(const char *s, double *out)
{
	double v;

	if (s && strcmp(s, "max") == 0) {
		*out = 0;
		return 0;
	}
	if (shmbus_svc_parse_double(s, &v) != 0 || v <= 0)
		return -EINVAL;
	*out = v;
	return 0;
}

static void svc_on_signal(int sig)
{
	(void)sig;
	svc_stop = 1;
}

int shmbus_svc_signals_install(void)
{
	return tool_stop_signals(svc_on_signal);
}

/* sig_atomic_t is what a handler may write; the producer reads an int */
_Static_assert(__builtin_types_compatible_p(sig_atomic_t, int), "sig_atomic_t is int");

const volatile int *shmbus_svc_stop_flag(void)
{
	return &svc_stop;
}

int shmbus_svc_stop_requested(void)
{
	return svc_stop != 0;
}

void shmbus_svc_request_stop(void)
{
	svc_stop = 1;
}

int shmbus_svc_start(const char *tool, const struct shmbus_svc_opts *o)
{
	char err[256];

	shmbus_svc_signals_install();
	if (shmbus_svc_pin(o->cpus, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s: pinning failed: %s\n", tool, err);
		return 1;
	}
	return 0;
}

int shmbus_svc_run(const struct shmbus_svc_loop *l)
{
	unsigned batch = l->batch ? l->batch : 256;
	int64_t max_wait = l->max_wait_ns > 0 ? l->max_wait_ns : 100 * 1000 * 1000;
	int64_t next_beat = 0;

	for (;;) {
		int got = shmbus_poll(l->c, l->on_event, l->ctx, batch);
		int64_t now;

		if (got < 0) {
			fprintf(stderr, "%s: %s\n", shmbus_consumer_name(l->c), shmbus_errmsg());
			return got;
		}
		if (got > 0) {
			if (l->done && l->done(l->ctx))
				return 1;
			continue;
		}
		if (l->done && l->done(l->ctx))
			return 1;
		if (svc_stop) {
			/* Drain: whatever producers committed before the
			 * signal is handled before we go. */
			while (shmbus_poll(l->c, l->on_event, l->ctx, batch) > 0)
				;
			return 0;
		}
		now = shmbus_mono_ns();
		if (now >= next_beat) {
			shmbus_bus_heartbeat(l->bus);
			next_beat = now + 1000 * 1000 * 1000;
		}
		shmbus_wait(l->c, max_wait);
	}
}

int shmbus_svc_publish_status(shmbus_producer *p, uint32_t status, uint64_t events_in,
                              uint64_t events_out)
{
	struct shmbus_heartbeat hb;

	memset(&hb, 0, sizeof(hb));
	hb.h.type = SHMBUS_EV_HEARTBEAT;
	hb.h.version = SHMBUS_EVENT_LAYOUT_VERSION;
	hb.h.size = sizeof(hb);
	hb.h.event_time_ns = shmbus_now_ns();
	hb.pid = (uint32_t)getpid();
	hb.status = status;
	hb.events_in = events_in;
	hb.events_out = events_out;
	return shmbus_publish(p, &hb);
}

const struct shmbus_heartbeat *shmbus_svc_as_status(const struct shmbus_event_header *ev,
                                                    uint32_t status)
{
	const struct shmbus_heartbeat *hb = (const struct shmbus_heartbeat *)ev;

	if (ev->type != SHMBUS_EV_HEARTBEAT || ev->size < sizeof(*hb) || hb->status != status)
		return NULL;
	return hb;
}

const char *shmbus_svc_strerror(int rc, char *buf, size_t n)
{
	const char *detail = shmbus_errmsg();

	snprintf(buf, n, "%s%s%s", shmbus_strerror(rc), *detail ? " - " : "", detail);
	return buf;
}

const char *shmbus_svc_iso_time(int64_t ns, char *buf, size_t n)
{
	time_t s = (time_t)(ns / 1000000000);
	long frac = (long)(ns % 1000000000);
	struct tm tm;
	char date[24];

	if (frac < 0) {
		frac += 1000000000;
		s--;
	}
	gmtime_r(&s, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, n, "%s.%09ldZ", date, frac);
	return buf;
}
