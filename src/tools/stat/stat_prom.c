/*
 * stat_prom.c - Prometheus text exposition (format 0.0.4) and the small
 * HTTP server that serves it (libmicrohttpd, one internal thread).
 *
 * Every scrape takes a fresh snapshot: counters are exported raw (names
 * end in _total) and Prometheus computes rates, so the exporter keeps no
 * metric state between scrapes. Families are written together, each with
 * its HELP and TYPE line, labels bus/ring/participant escaped as the
 * format requires.
 *
 * The exporter outlives the bus it serves: on every scrape, and once a
 * second between scrapes, it follows the bus across removal and
 * re-creation (stat_watch.c). While there is none, or it does not read cleanly,
 * /health answers 503 with the reason and /metrics answers 200 with only
 * shmbus_up{bus="NAME"} 0: the exporter itself is up, the bus is not, and
 * the bus's series go stale instead of repeating a dead mapping's values.
 */
#define _GNU_SOURCE /* open_memstream */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <shmbus/clock.h>

#include "stat_tool.h"
#include "tool_json.h"

/*
 * A label value, escaped as the format requires (\\, \" and \n). The
 * names come from the segment: the library writes only [A-Za-z0-9._-],
 * but a damaged one may hold any byte, and Prometheus refuses a whole
 * scrape for one label value that is not UTF-8. So any other byte outside
 * printable ASCII is written as the text \xNN (its backslash escaped).
 */
static void label(FILE *f, const char *v)
{
	for (const unsigned char *c = (const unsigned char *)v; *c; c++) {
		if (*c == '\\' || *c == '"')
			fprintf(f, "\\%c", *c);
		else if (*c == '\n')
			fputs("\\n", f);
		else if (*c < 0x20 || *c >= 0x7f)
			fprintf(f, "\\\\x%02x", *c);
		else
			fputc(*c, f);
	}
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP shmbus_%s %s\n# TYPE shmbus_%s %s\n", name, help, name, type);
}

/* One ring sample: shmbus_NAME{bus="..",ring=".."} VALUE */
static void ring_sample(FILE *f, const char *name, const struct stat_snap *s,
                        const struct stat_ring *r, double v)
{
	fprintf(f, "shmbus_%s{bus=\"", name);
	label(f, s->bus.name);
	fputs("\",ring=\"", f);
	label(f, r->s.name);
	fprintf(f, "\"} %.17g\n", v);
}

#define RING_U64(field) offsetof(struct shmbus_ring_stat, field)

static void ring_families(FILE *f, const struct stat_snap *s)
{
	static const struct {
		const char *name, *type, *help;
		size_t off;
	} c[] = {
	    {"ring_claimed_total", "counter", "Slots claimed by producers.", RING_U64(claimed)},
	    {"ring_consumed_total", "counter", "Slots released by the consumer.",
	     RING_U64(consumed)},
	    {"ring_delivered_total", "counter", "Events handed to the consumer.",
	     RING_U64(delivered)},
	    {"ring_dropped_total", "counter", "Events dropped because the ring was full.",
	     RING_U64(dropped)},
	    {"ring_skipped_total", "counter", "Stuck slots skipped (dead producer).",
	     RING_U64(skipped)},
	    {"ring_malformed_total", "counter",
	     "Committed slots whose header was not an event fitting the slot (skipped).",
	     RING_U64(malformed)},
	    {"ring_routed_around_total", "counter", "Events not delivered: no live consumer.",
	     RING_U64(routed_around)},
	    {"ring_too_big_total", "counter", "Events larger than a slot.", RING_U64(too_big)},
	    {"ring_producer_waits_total", "counter", "Times a producer waited for space.",
	     RING_U64(producer_waits)},
	    {"ring_wakeups_total", "counter", "Futex wakes of a sleeping consumer.",
	     RING_U64(wakeups)},
	    {"ring_depth", "gauge", "Events in the ring, not yet consumed.", RING_U64(depth)},
	};
	for (size_t k = 0; k < sizeof(c) / sizeof(c[0]); k++) {
		family(f, c[k].name, c[k].type, c[k].help);
		for (size_t i = 0; i < s->nrings; i++) {
			uint64_t v;
			memcpy(&v, (const char *)&s->rings[i].s + c[k].off, sizeof(v));
			ring_sample(f, c[k].name, s, &s->rings[i], (double)v);
		}
	}
	family(f, "ring_capacity", "gauge", "Slots in the ring.");
	for (size_t i = 0; i < s->nrings; i++)
		ring_sample(f, "ring_capacity", s, &s->rings[i], s->rings[i].s.capacity);
	family(f, "ring_producers", "gauge", "Live producers that have routed to the ring.");
	for (size_t i = 0; i < s->nrings; i++)
		ring_sample(f, "ring_producers", s, &s->rings[i], s->rings[i].s.producers);
	family(f, "ring_consumer_alive", "gauge", "1 when a live consumer holds the ring.");
	for (size_t i = 0; i < s->nrings; i++)
		ring_sample(f, "ring_consumer_alive", s, &s->rings[i],
		            s->rings[i].s.consumer_alive);
	family(f, "ring_lag_seconds", "gauge",
	       "Age of the oldest committed unconsumed event (0 when there is none).");
	for (size_t i = 0; i < s->nrings; i++)
		ring_sample(f, "ring_lag_seconds", s, &s->rings[i],
		            (double)s->rings[i].lag_ns / 1e9);
	family(f, "ring_head_stuck", "gauge",
	       "1 while a dead producer's uncommitted claim holds the ring's head slot.");
	for (size_t i = 0; i < s->nrings; i++)
		ring_sample(f, "ring_head_stuck", s, &s->rings[i],
		            s->rings[i].s.head_stuck_pid != 0);
}

/* A participant's series carry its entry's index: name, pid and role are
 * not unique (a process that attached again leaves its old entry, gone,
 * beside the new one), and a label set given twice is dropped. */
static void part_sample(FILE *f, const char *name, const struct stat_snap *s,
                        const struct shmbus_participant_stat *p, double v)
{
	fprintf(f, "shmbus_%s{bus=\"", name);
	label(f, s->bus.name);
	fputs("\",participant=\"", f);
	label(f, p->name);
	fprintf(f, "\",index=\"%u\",pid=\"%d\",role=\"%s\"} %.17g\n", p->index, p->pid,
	        shmbus_role_name(p->role), v);
}

static void part_families(FILE *f, const struct stat_snap *s)
{
	family(f, "participant_alive", "gauge", "1 when the participant's process is alive.");
	for (size_t i = 0; i < s->nparts; i++)
		part_sample(f, "participant_alive", s, &s->parts[i], s->parts[i].alive);
	family(f, "participant_heartbeat_age_seconds", "gauge",
	       "Seconds since the participant's last heartbeat.");
	for (size_t i = 0; i < s->nparts; i++) {
		const struct shmbus_participant_stat *p = &s->parts[i];
		int64_t ns = stat_heartbeat_age(s, p);
		double age = ns > 0 ? (double)ns / 1e9 : 0;
		part_sample(f, "participant_heartbeat_age_seconds", s, p, age);
	}
	family(f, "participant_counter_total", "counter",
	       "Named counters a participant publishes (journaller, bridge ...).");
	for (size_t i = 0; i < s->nparts; i++)
		for (unsigned k = 0; k < s->ncounters[i]; k++) {
			fputs("shmbus_participant_counter_total{bus=\"", f);
			label(f, s->bus.name);
			fputs("\",participant=\"", f);
			label(f, s->parts[i].name);
			fprintf(f, "\",index=\"%u\",counter=\"", s->parts[i].index);
			label(f, s->counters[i][k].name);
			fprintf(f, "\"} %" PRIu64 "\n", s->counters[i][k].value);
		}
}

/* The shmbus_up family: 1 when the bus was read, 0 while it cannot be. */
static void up_sample(FILE *f, const char *bus, int up)
{
	family(f, "up", "gauge", "1 when the bus segment was read successfully.");
	fputs("shmbus_up{bus=\"", f);
	label(f, bus);
	fprintf(f, "\"} %d\n", up);
}

char *stat_prometheus_text(const struct stat_snap *s, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	if (!f)
		return NULL;
	up_sample(f, s->bus.name, 1);
	family(f, "published_total", "counter", "Events given to producers (every producer the bus has had).");
	fputs("shmbus_published_total{bus=\"", f);
	label(f, s->bus.name);
	fprintf(f, "\"} %" PRIu64 "\n", s->published);
	family(f, "unrouted_total", "counter", "Events that matched no ring (every producer the bus has had).");
	fputs("shmbus_unrouted_total{bus=\"", f);
	label(f, s->bus.name);
	fprintf(f, "\"} %" PRIu64 "\n", s->unrouted);
	ring_families(f, s);
	part_families(f, s);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, char *body, size_t len,
                             const char *type)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", type);
	if (code == 405) /* RFC 9110 15.5.6: a 405 must list the methods allowed */
		MHD_add_response_header(r, "Allow", "GET, HEAD");
	enum MHD_Result ok = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ok;
}

/* The bus being served: the HTTP thread scrapes it, the main thread
 * checks it between scrapes and opens it, all under this lock (the open
 * itself outside it). first_try is signalled when the first open attempt
 * has completed. */
static pthread_mutex_t watch_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t first_try;

#define FIRST_TRY_WAIT_S 2 /* a scrape's longest wait for the first open */

/* A snapshot for a scrape: stat_watch_snap() under the lock. A scrape
 * that comes before the first open attempt has completed (the exporter
 * has just started) waits for it, 2 s at most: a bus being built keeps
 * that attempt waiting, and the scrape is answered meanwhile. */
static int watch_snap(struct stat_watch *w, struct stat_snap *s, char **why)
{
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += FIRST_TRY_WAIT_S;
	pthread_mutex_lock(&watch_lock);
	while (w->attempts == 0 &&
	       pthread_cond_timedwait(&first_try, &watch_lock, &until) != ETIMEDOUT)
		;
	int rc = stat_watch_snap(w, NULL, s, why);
	pthread_mutex_unlock(&watch_lock);
	return rc;
}

/* /metrics while the bus cannot be read: the exporter answers, up is 0. */
static char *down_text(const char *bus, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	if (!f)
		return NULL;
	up_sample(f, bus, 0);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *data_len, void **req)
{
	struct stat_watch *w = cls;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply(c, 405, strdup("method not allowed\n"), 19, "text/plain");
	bool metrics = strcmp(url, "/metrics") == 0;
	if (!metrics && strcmp(url, "/health") != 0)
		return reply(c, 404, strdup("not found: try /metrics or /health\n"), 35,
		             "text/plain");
	struct stat_snap s = {0};
	char *why;
	int rc = watch_snap(w, &s, &why);
	char *body = NULL;
	size_t len = 0;
	unsigned code = 200;
	if (rc && !why) {
		body = NULL;
	} else if (metrics) {
		body = rc ? down_text(w->name, &len) : stat_prometheus_text(&s, &len);
		if (!body)
			code = 500;
	} else {
		/* asprintf leaves body undefined when it fails: NULL then */
		int n = rc ? asprintf(&body, "bus unavailable: %s\n", why) : asprintf(&body, "ok\n");
		code = rc ? 503 : 200;
		if (n < 0)
			body = NULL;
		else
			len = (size_t)n;
	}
	stat_snap_free(&s);
	free(why);
	if (!body)
		return reply(c, 500, strdup("out of memory\n"), 14, "text/plain");
	return reply(c, code, body, len,
	             metrics && code == 200 ? "text/plain; version=0.0.4; charset=utf-8"
	                                    : "text/plain");
}

static int parse_addr(const char *spec, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(spec, ':');
	if (!colon || (size_t)(colon - spec) >= sizeof(host))
		return -EINVAL;
	snprintf(host, sizeof(host), "%.*s", (int)(colon - spec), spec);
	char *end;
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || port > 65535)
		return -EINVAL;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	if (!host[0] || strcmp(host, "*") == 0)
		sa->sin_addr.s_addr = htonl(INADDR_ANY);
	else if (strcmp(host, "localhost") == 0)
		sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return -EINVAL;
	return 0;
}

/* Connections served at once, and at most from one address: a scraper
 * uses one, a few scrapers and a curl are all that come. */
#define PROM_CONN_MAX      128u
#define PROM_CONN_PER_HOST 16u

int stat_serve(const char *bus, const char *addr, volatile int *stop)
{
	struct sockaddr_in sa;
	if (parse_addr(addr, &sa)) {
		fprintf(stderr,
		        STAT_TOOL ": --prometheus '%s': expected IPV4:PORT (e.g. "
		                  "127.0.0.1:9464, *:9464, port 0 picks one)\n",
		        addr);
		return 2;
	}
	char path[512];
	int rc = shmbus_bus_path(bus, path, sizeof(path));
	if (rc) { /* a bad name never starts to exist: say so now */
		char what[128];
		snprintf(what, sizeof(what), "bus '%s'", bus);
		return tool_fail(STAT_TOOL, what, rc);
	}
	static struct stat_watch w;
	stat_watch_init(&w, bus, true);
	w.open_apart = true; /* a scrape never waits for a bus being built */
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&first_try, &ca);
	pthread_condattr_destroy(&ca);
	/* No MHD_USE_ERROR_LOG: what libmicrohttpd logs is mostly what clients
	 * did (a malformed request, a connection closed half-way), a line each,
	 * so anything that reaches the port could fill the journal. A failed
	 * start is said below; clients get their 4xx.
	 * MHD_USE_AUTO: epoll (poll where there is none), never select(),
	 * which watches no descriptor numbered FD_SETSIZE or more: in a
	 * process with that many open the exporter failed to start, and past
	 * that many connections it closed each new one unanswered. The limits
	 * keep slow or idle clients from holding the exporter: a connection
	 * silent for 10 s is closed, and one host holds at most
	 * PROM_CONN_PER_HOST of the PROM_CONN_MAX connections (its others are
	 * closed at once), so it cannot keep a scraper out. */
	struct MHD_Daemon *d = MHD_start_daemon(
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO, 0, NULL, NULL, on_request, &w,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_TIMEOUT, 10u,
	    MHD_OPTION_CONNECTION_LIMIT, PROM_CONN_MAX, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	    PROM_CONN_PER_HOST, MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, STAT_TOOL ": cannot serve on %s: %s\n", addr, strerror(errno));
		stat_watch_close(&w);
		return 1;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	char ip[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof(ip));
	printf("shmbus-stat: serving /metrics and /health on %s:%u\n", ip,
	       info ? info->port : ntohs(sa.sin_port));
	fflush(stdout);
	/* The port first, and the bus opened here alone, outside the lock:
	 * opening a bus that is being built waits for it (as long as its
	 * creator is still filling the file), and scrapes meanwhile say so. */
	stat_watch_open_apart(&w, &watch_lock);
	pthread_mutex_lock(&watch_lock);
	pthread_cond_broadcast(&first_try);
	pthread_mutex_unlock(&watch_lock);
	/* Between scrapes too: unmap a removed bus (its memory is freed only
	 * when the last mapping goes) and pick up a new one. */
	for (unsigned tick = 1; !*stop; tick++) {
		struct timespec ts = {0, 100000000};
		nanosleep(&ts, NULL);
		if (tick % 10 == 0) {
			pthread_mutex_lock(&watch_lock);
			stat_watch_check(&w);
			pthread_mutex_unlock(&watch_lock);
		}
		stat_watch_open_apart(&w, &watch_lock);
	}
	MHD_stop_daemon(d);
	stat_watch_close(&w);
	return 0;
}
