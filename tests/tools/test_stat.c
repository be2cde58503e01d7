/*
 * test_stat.c - shmbus-stat against a live bus: `--once --json` reports
 * exactly what this test published, consumed and dropped, and the
 * Prometheus endpoint serves a well-formed exposition of the same numbers.
 * The exporter follows its bus: removed, it answers 503 on /health and
 * shmbus_up 0; created again (or not there yet at start), it serves the
 * new one. The live view (its JSON lines) follows the bus the same way.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <shmbus/clock.h>
#include <shmbus/shmbus.h>

#include "tool_util.h"

struct env {
	const char *dir;
	shmbus_bus *bus;
	shmbus_consumer *ca, *cb;
	shmbus_producer *p;
};

static void count(const struct shmbus_event_header *ev, void *ctx)
{
	(void)ev;
	(*(int *)ctx)++;
}

/* Ring "fast" (block, 1024) and ring "small" (drop, 4 slots) both take
 * trades; 10 trades are published, 6 consumed from "fast", none from
 * "small": fast depth 4 delivered 6; small depth 4 dropped 6. */
static int setup(void **state)
{
	static struct env e;
	e.dir = tu_tmpdir();
	struct shmbus_bus_opts bo;
	shmbus_bus_opts_init(&bo);
	bo.arena_bytes = 2u << 20;
	if (!e.dir || shmbus_bus_create("st", &bo, &e.bus))
		return -1;
	struct shmbus_sub_opts so;
	shmbus_sub_opts_init(&so);
	so.types = SHMBUS_TYPE_BIT(SHMBUS_EV_TRADE);
	so.capacity = 1024;
	so.wait = SHMBUS_WAIT_YIELD;
	if (shmbus_subscribe(e.bus, "fast", &so, &e.ca))
		return -1;
	so.capacity = 4;
	so.policy = SHMBUS_POLICY_DROP;
	if (shmbus_subscribe(e.bus, "small", &so, &e.cb) || shmbus_producer_open(e.bus, NULL, &e.p))
		return -1;
	int64_t sym = shmbus_symbol_intern(e.bus, "SPY", 3);
	for (int i = 0; i < 10; i++) {
		struct shmbus_trade t;
		memset(&t, 0, sizeof(t));
		t.h.type = SHMBUS_EV_TRADE;
		t.h.version = SHMBUS_EVENT_LAYOUT_VERSION;
		t.h.size = sizeof(t);
		t.h.symbol_id = (uint32_t)sym;
		t.price = 100 + i;
		if (shmbus_publish(e.p, &t) < 0)
			return -1;
	}
	static const char *const names[] = {"journal_events", "journal_bytes"};
	if (shmbus_counters_define(e.bus, names, 2))
		return -1;
	shmbus_counter_set(e.bus, 0, 7);
	shmbus_counter_set(e.bus, 1, 4096);
	int got = 0;
	while (got < 6)
		shmbus_poll(e.ca, count, &got, (unsigned)(6 - got));
	*state = &e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	shmbus_producer_close(e->p);
	shmbus_consumer_close(e->ca);
	shmbus_consumer_close(e->cb);
	shmbus_bus_close(e->bus);
	shmbus_bus_destroy("st");
	tu_rmdir(e->dir);
	return 0;
}

static void test_stat_once_json_matches_counters(void **state)
{
	(void)state;
	static char out[65536];
	assert_int_equal(tu_run(out, sizeof(out), "%s --bus st --once --json", SHMBUS_STAT_BIN), 0);
	assert_int_equal(tu_json_field(out, "rings", "fast", "delivered"), 6);
	assert_int_equal(tu_json_field(out, "rings", "fast", "depth"), 4);
	assert_int_equal(tu_json_field(out, "rings", "fast", "dropped"), 0);
	assert_int_equal(tu_json_field(out, "rings", "fast", "consumer_pid"), getpid());
	assert_int_equal(tu_json_field(out, "rings", "fast", "producers"), 1);
	assert_int_equal(tu_json_field(out, "rings", "small", "depth"), 4);
	assert_int_equal(tu_json_field(out, "rings", "small", "dropped"), 6);
	assert_int_equal(tu_json_field(out, "rings", "small", "delivered"), 0);
	assert_int_equal(tu_json_field(out, "rings", "small", "capacity"), 4);
	assert_true(tu_json_field(out, "rings", "fast", "lag_ns") > 0);
	assert_non_null(strstr(out, "\"published\":10"));
	assert_non_null(strstr(out, "\"alive\":true"));
	assert_non_null(strstr(out, "\"events_per_s\":null"));
	assert_non_null(strstr(out, "\"counters\":{\"journal_events\":7,\"journal_bytes\":4096}"));
	/* how full each table is: used and the limit */
	assert_non_null(strstr(out, "\"symbols\":1,\"max_symbols\":4096,\"max_rings\":64,"
	                            "\"max_participants\":128,\"max_producers\":256,"));
	/* The table form names the rings too; rates over an interval are numbers. */
	assert_int_equal(tu_run(out, sizeof(out), "%s --bus st --once", SHMBUS_STAT_BIN), 0);
	assert_non_null(strstr(out, "symbols 1/4096  rings 2/64  participants 1/128  producers 1/256"));
	assert_non_null(strstr(out, "journal_events=7 journal_bytes=4096"));
	assert_non_null(strstr(out, "fast"));
	assert_non_null(strstr(out, "small"));
	assert_int_equal(
	    tu_run(out, sizeof(out), "%s --bus st --once --json --interval 0.05", SHMBUS_STAT_BIN),
	    0);
	assert_null(strstr(out, "\"events_per_s\":null"));
	assert_int_equal(tu_run(out, sizeof(out), "%s --bus nosuch --once", SHMBUS_STAT_BIN), 1);
	assert_non_null(strstr(out, "open bus 'nosuch'"));
	assert_int_equal(tu_run(out, sizeof(out), "%s --interval x", SHMBUS_STAT_BIN), 2);
	/* a blank before the number: strtod skipped it */
	assert_int_equal(tu_run(out, sizeof(out), "%s --bus st --once --interval ' 0.05'",
	                        SHMBUS_STAT_BIN),
	                 2);
	assert_non_null(strstr(out, "--interval ' 0.05'"));
	/* a bad short option in a cluster is named, not the program */
	assert_int_equal(tu_run(out, sizeof(out), "%s -xh", SHMBUS_STAT_BIN), 2);
	assert_non_null(strstr(out, "unknown or incomplete option '-x'"));
}

/* A participant whose process died without detaching is "dead", after a
 * reap too (producers reap when a ring stays full): the reap marked it
 * "gone", which says it detached cleanly, so a crash no longer showed. */
static void test_stat_dead_participant_stays_dead_after_reap(void **state)
{
	struct env *e = *state;
	static char out[65536];
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		shmbus_bus *b;
		_exit(shmbus_bus_open("st", "crasher", SHMBUS_ROLE_CLIENT, &b) ? 1 : 0);
	}
	int ws;
	assert_int_equal(waitpid(pid, &ws, 0), pid);
	assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
	assert_true(shmbus_bus_reap(e->bus) >= 0);
	char want[128];
	snprintf(want, sizeof(want),
	         "\"name\":\"crasher\",\"pid\":%d,\"role\":\"client\",\"state\":\"dead\"",
	         (int)pid);
	assert_int_equal(tu_run(out, sizeof(out), "%s --bus st --once --json", SHMBUS_STAT_BIN), 0);
	const char *parts = strstr(out, "\"participants\"");
	if (!parts || !strstr(parts, want))
		fail_msg("no %s in:\n%s", want, parts ? parts : out);
	assert_int_equal(tu_run(out, sizeof(out), "%s --bus st --once", SHMBUS_STAT_BIN), 0);
	const char *row = strstr(out, "crasher");
	if (!row || !strstr(row, " dead "))
		fail_msg("crasher not dead in:\n%s", out);
}

/* Bus `name` with ring "held" (trades, nobody polls it): a child producer
 * claims its first slot and exits without committing, then this process
 * publishes 5 trades behind it. Returns the child's pid; *pp is the live
 * producer. */
static pid_t dead_claimer_bus(const char *name, shmbus_bus **bp, shmbus_consumer **cp,
                              shmbus_producer **pp)
{
	struct shmbus_bus_opts bo;
	shmbus_bus_opts_init(&bo);
	bo.arena_bytes = 1u << 20;
	assert_int_equal(shmbus_bus_create(name, &bo, bp), 0);
	struct shmbus_sub_opts so;
	shmbus_sub_opts_init(&so);
	so.types = SHMBUS_TYPE_BIT(SHMBUS_EV_TRADE);
	so.capacity = 64;
	assert_int_equal(shmbus_subscribe(*bp, "held", &so, cp), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		shmbus_bus *b;
		shmbus_producer *p;
		void *mem;
		_exit(shmbus_bus_open(name, "claimer", SHMBUS_ROLE_PRODUCER, &b) ||
		              shmbus_producer_open(b, NULL, &p) ||
		              shmbus_claim(p, SHMBUS_EV_TRADE, 1, sizeof(struct shmbus_trade), &mem)
		          ? 1
		          : 0);
	}
	int ws;
	assert_int_equal(waitpid(pid, &ws, 0), pid);
	assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
	assert_int_equal(shmbus_producer_open(*bp, NULL, pp), 0);
	for (int i = 0; i < 5; i++) {
		struct shmbus_trade t;
		memset(&t, 0, sizeof(t));
		t.h.type = SHMBUS_EV_TRADE;
		t.h.version = SHMBUS_EVENT_LAYOUT_VERSION;
		t.h.size = sizeof(t);
		t.h.symbol_id = 1;
		assert_int_equal(shmbus_publish(*pp, &t), 1);
	}
	return pid;
}

static void dead_claimer_bus_close(const char *name, shmbus_bus *b, shmbus_consumer *c,
                                   shmbus_producer *p)
{
	shmbus_producer_close(p);
	shmbus_consumer_close(c);
	assert_int_equal(shmbus_bus_close(b), 0);
	assert_int_equal(shmbus_bus_destroy(name), 0);
}

/* A producer that died between claim and commit holds the head slot: the
 * 5 events committed behind it wait, but the lag read 0 ("-"), as for an
 * empty ring, since the head slot holds no publish time; and nothing said
 * that the head slot was stuck, nor whose claim it was. */
static void test_stat_lag_counts_events_behind_a_dead_claim(void **state)
{
	(void)state;
	static char out[65536];
	shmbus_bus *b;
	shmbus_consumer *c;
	shmbus_producer *p;
	pid_t dead = dead_claimer_bus("stk", &b, &c, &p);
	assert_int_equal(tu_run(out, sizeof(out), "%s --bus stk --once --json", SHMBUS_STAT_BIN),
	                 0);
	assert_int_equal(tu_json_field(out, "rings", "held", "depth"), 6);
	assert_true(tu_json_field(out, "rings", "held", "lag_ns") > 0);
	assert_int_equal(tu_json_field(out, "rings", "held", "head_stuck_pid"), dead);
	assert_int_equal(tu_run(out, sizeof(out), "%s --bus stk --once", SHMBUS_STAT_BIN), 0);
	const char *row = strstr(out, "\nheld ");
	if (!row || !strstr(row, " stuck") || strstr(row, " - stuck"))
		fail_msg("ring held not shown stuck with a lag in:\n%s", out);
	/* Once the consumer skipped it, the slot is stuck no more. */
	int got = 0;
	while (got < 5)
		assert_true(shmbus_poll(c, count, &got, 8) >= 0);
	assert_int_equal(tu_run(out, sizeof(out), "%s --bus stk --once --json", SHMBUS_STAT_BIN),
	                 0);
	assert_int_equal(tu_json_field(out, "rings", "held", "skipped"), 1);
	assert_int_equal(tu_json_field(out, "rings", "held", "head_stuck_pid"), 0);
	assert_int_equal(tu_json_field(out, "rings", "held", "lag_ns"), 0);
	dead_claimer_bus_close("stk", b, c, p);
}

/* A producer whose process died keeps its entry until a reap: it was
 * counted in its ring's PRODS and in the bus's producers as a live one,
 * while the participants table beside marked its process dead. */
static void test_stat_dead_producer_is_not_counted_live(void **state)
{
	(void)state;
	static char out[65536];
	shmbus_bus *b;
	shmbus_consumer *c;
	shmbus_producer *p;
	pid_t dead = dead_claimer_bus("dpr", &b, &c, &p);
	assert_int_equal(tu_run(out, sizeof(out), "%s --bus dpr --once --json", SHMBUS_STAT_BIN),
	                 0);
	assert_int_equal(tu_json_field(out, "rings", "held", "producers"), 1);
	char want[96];
	snprintf(want, sizeof(want), "\"pid\":%d,\"alive\":false,", (int)dead);
	const char *prods = strstr(out, "\"producers\":[");
	if (!prods || !strstr(prods, want))
		fail_msg("no %s in:\n%s", want, prods ? prods : out);
	snprintf(want, sizeof(want), "\"pid\":%d,\"alive\":true,", (int)getpid());
	assert_non_null(strstr(prods, want));
	assert_int_equal(tu_run(out, sizeof(out), "%s --bus dpr --once", SHMBUS_STAT_BIN), 0);
	if (!strstr(out, "  producers 1/256 (+1 dead)  "))
		fail_msg("the dead producer not shown apart in:\n%s", out);
	const char *row = strstr(out, "\nheld ");
	assert_non_null(row);
	char name[16], st[16];
	unsigned prods_col = 0;
	assert_int_equal(sscanf(row + 1, "%15s %15s %u", name, st, &prods_col), 3);
	assert_int_equal(prods_col, 1);
	dead_claimer_bus_close("dpr", b, c, p);
}

/* --count is a whole number >= 1 like every count the tools take: an
 * overflowing one, or one with a sign or a space before it, was taken
 * (strtol saturates and skips both) and the run went on. */
static void test_stat_count_is_a_whole_number(void **state)
{
	(void)state;
	static char out[8192];
	static const char *const bad[] = {
	    "99999999999999999999", "' 5'", "+5", "-1", "0", "''", "10x"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = tu_run(out, sizeof(out), "%s --bus st --once --count %s 2>&1",
		                SHMBUS_STAT_BIN, bad[i]);
		if (rc != 2 || !strstr(out, "--count"))
			fail_msg("--count %s: exit %d, output:\n%s", bad[i], rc, out);
	}
	assert_int_equal(tu_run(out, sizeof(out), "%s --bus st --json --count 1", SHMBUS_STAT_BIN),
	                 0);
}

/* Options of another form than the one used are usage errors naming
 * both: --once --prometheus served for ever, --once ignored. */
static void test_stat_forms_exclude_each_other(void **state)
{
	(void)state;
	static char out[8192];
	static const char *const bad[][2] = {
	    {"--once", "--prometheus"}, {"--json", "--prometheus"}, {"--interval 1", "--prometheus"},
	    {"--count 2", "--prometheus"}, {"--no-clear", "--prometheus"}, {"--count 2", "--once"},
	    {"--no-clear", "--once"}};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = tu_run(out, sizeof(out), "timeout 10 %s --bus st %s %s%s", SHMBUS_STAT_BIN,
		                bad[i][0], bad[i][1],
		                strcmp(bad[i][1], "--prometheus") ? "" : " 127.0.0.1:0");
		char a[32];
		snprintf(a, sizeof(a), "%.*s", (int)strcspn(bad[i][0], " "), bad[i][0]);
		if (rc != 2 || !strstr(out, a) || !strstr(out, bad[i][1]) ||
		    !strstr(out, "exclude each other"))
			fail_msg("%s %s: exit %d, output:\n%s", bad[i][0], bad[i][1], rc, out);
	}
	assert_int_equal(tu_run(out, sizeof(out), "%s --bus st --once --json --interval 0.01",
	                        SHMBUS_STAT_BIN),
	                 0);
}

static long http_request(int port, const char *method, const char *path, char *buf, size_t len)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* An exporter that stopped answering fails the test, not hangs it. */
	struct timeval tv = {.tv_sec = 10};
	if (s < 0 || setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
	    connect(s, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		return -1;
	char req[256];
	int n =
	    snprintf(req, sizeof(req), "%s %s HTTP/1.0\r\nHost: localhost\r\n\r\n", method, path);
	if (write(s, req, (size_t)n) != n)
		return -1;
	size_t got = 0;
	ssize_t r;
	while (got < len - 1 && (r = read(s, buf + got, len - 1 - got)) > 0)
		got += (size_t)r;
	buf[got] = '\0';
	close(s);
	return (long)got;
}

static long http_get(int port, const char *path, char *buf, size_t len)
{
	return http_request(port, "GET", path, buf, len);
}

/* Every sample line is NAME{labels} VALUE with a TYPE line for NAME before it. */
static void check_exposition(const char *body)
{
	regex_t sample;
	assert_int_equal(regcomp(&sample,
	                         "^(shmbus_[a-z_]+)\\{bus=\"[^\"]*\"(,[a-z_]+=\"[^\"]*\")*\\} "
	                         "[-+0-9.eE]+$",
	                         REG_EXTENDED),
	                 0);
	char typed[64][80];
	int ntyped = 0, samples = 0;
	char *copy = strdup(body), *save = NULL;
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char name[80], type[32];
		if (sscanf(l, "# TYPE %79s %31s", name, type) == 2) {
			assert_true(strcmp(type, "counter") == 0 || strcmp(type, "gauge") == 0);
			if (strcmp(type, "counter") == 0)
				assert_non_null(strstr(name, "_total"));
			assert_true(ntyped < 64);
			snprintf(typed[ntyped++], sizeof(typed[0]), "%s", name);
			continue;
		}
		if (l[0] == '#') {
			assert_int_equal(strncmp(l, "# HELP shmbus_", 14), 0);
			continue;
		}
		regmatch_t m[2];
		if (regexec(&sample, l, 2, m, 0) != 0)
			fail_msg("bad sample line: '%s'", l);
		int found = 0;
		for (int i = 0; i < ntyped; i++)
			found |= (int)(m[1].rm_eo - m[1].rm_so) == (int)strlen(typed[i]) &&
			         strncmp(l + m[1].rm_so, typed[i], strlen(typed[i])) == 0;
		if (!found)
			fail_msg("sample without TYPE: '%s'", l);
		/* each series once: Prometheus drops a second sample of a series */
		const char *close = strstr(l, "} ");
		size_t key = close ? (size_t)(close - l) + 2 : strlen(l);
		for (const char *o = strstr(body, "\n"); o; o = strstr(o + 1, "\n"))
			if (o + 1 != body + (l - copy) && strncmp(o + 1, l, key) == 0)
				fail_msg("series twice: '%.*s'", (int)key, l);
		samples++;
	}
	assert_true(samples > 10);
	free(copy);
	regfree(&sample);
}

static void test_stat_prometheus_endpoint_parses(void **state)
{
	(void)state;
	int fd;
	char *argv[] = {SHMBUS_STAT_BIN, "--bus", "st", "--prometheus", "127.0.0.1:0", NULL};
	pid_t pid = tu_spawn(argv, &fd);
	assert_true(pid > 0);
	char line[256];
	ssize_t n = read(fd, line, sizeof(line) - 1);
	assert_true(n > 0);
	line[n] = '\0';
	const char *colon = strrchr(line, ':');
	assert_non_null(colon);
	int port = atoi(colon + 1);
	assert_true(port > 0);

	static char buf[131072];
	assert_true(http_get(port, "/metrics", buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "200 OK"));
	char *body = strstr(buf, "\r\n\r\n");
	assert_non_null(body);
	body += 4;
	check_exposition(body);
	assert_non_null(strstr(body, "# TYPE shmbus_ring_dropped_total counter\n"));
	assert_non_null(strstr(body, "shmbus_ring_dropped_total{bus=\"st\",ring=\"small\"} 6\n"));
	assert_non_null(strstr(body, "shmbus_ring_delivered_total{bus=\"st\",ring=\"fast\"} 6\n"));
	assert_non_null(strstr(body, "shmbus_ring_depth{bus=\"st\",ring=\"fast\"} 4\n"));
	assert_non_null(strstr(body, "shmbus_participant_alive{bus=\"st\",participant="));
	assert_non_null(strstr(body, ",counter=\"journal_bytes\"} 4096\n"));

	assert_true(http_get(port, "/health", buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "200 OK"));
	assert_true(http_get(port, "/nope", buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "404"));
	assert_true(http_request(port, "POST", "/metrics", buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, " 405 "));
	assert_non_null(strstr(buf, "\r\nAllow: GET, HEAD\r\n"));

	assert_int_equal(kill(pid, SIGTERM), 0);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	close(fd);
}

/* The exporter a test started; killed by its teardown even when it fails. */
static pid_t exporter = -1;

static int kill_exporter(void **state)
{
	(void)state;
	if (exporter > 0) {
		kill(exporter, SIGKILL);
		waitpid(exporter, NULL, 0);
	}
	exporter = -1;
	return 0;
}

/* Start `shmbus-stat --prometheus` for `bus`; returns its port. */
static int start_exporter(const char *bus)
{
	int fd;
	char *argv[] = {SHMBUS_STAT_BIN, "--bus", (char *)bus, "--prometheus", "127.0.0.1:0", NULL};
	exporter = tu_spawn(argv, &fd);
	assert_true(exporter > 0);
	char line[256];
	size_t got = 0;
	ssize_t n;
	while (got < sizeof(line) - 1 && (n = read(fd, line + got, sizeof(line) - 1 - got)) > 0) {
		got += (size_t)n;
		if (memchr(line, '\n', got))
			break;
	}
	line[got] = '\0';
	close(fd);
	const char *colon = strrchr(line, ':');
	if (!colon)
		fail_msg("exporter for '%s' printed no port: '%s'", bus, line);
	int port = atoi(colon + 1);
	assert_true(port > 0);
	return port;
}

static void stop_exporter(void)
{
	assert_int_equal(kill(exporter, SIGTERM), 0);
	int st;
	assert_int_equal(waitpid(exporter, &st, 0), exporter);
	exporter = -1;
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* GET path: the HTTP status (0 when none) and *body, the part after the headers. */
static int http_status(int port, const char *path, char *buf, size_t len, const char **body)
{
	int code = 0;
	*body = "";
	if (http_get(port, path, buf, len) <= 0 || sscanf(buf, "HTTP/1.%*d %d", &code) != 1)
		return 0;
	const char *b = strstr(buf, "\r\n\r\n");
	*body = b ? b + 4 : "";
	return code;
}

/* A bus whose creator publishes one named counter, "generation". */
static shmbus_bus *counter_bus(const char *name, uint64_t generation)
{
	struct shmbus_bus_opts bo;
	shmbus_bus_opts_init(&bo);
	bo.arena_bytes = 1u << 20;
	shmbus_bus *b;
	assert_int_equal(shmbus_bus_create(name, &bo, &b), 0);
	static const char *const names[] = {"generation"};
	assert_int_equal(shmbus_counters_define(b, names, 1), 0);
	shmbus_counter_set(b, 0, generation);
	return b;
}

/* Two participant entries of one name, pid and role (a process that
 * detached and attached again, or holds two handles) are two series: they
 * were one label set given twice, which Prometheus drops as duplicates. */
static void test_stat_prometheus_series_are_unique(void **state)
{
	(void)state;
	shmbus_bus *gone, *twin;
	assert_int_equal(shmbus_bus_open("st", "twin", SHMBUS_ROLE_SERVICE, &gone), 0);
	assert_int_equal(shmbus_bus_open("st", "twin", SHMBUS_ROLE_SERVICE, &twin), 0);
	assert_int_equal(shmbus_bus_close(gone), 0);
	int port = start_exporter("st");
	static char buf[131072];
	const char *body;
	assert_int_equal(http_status(port, "/metrics", buf, sizeof(buf), &body), 200);
	assert_non_null(strstr(body, "participant=\"twin\""));
	check_exposition(body);
	stop_exporter();
	assert_int_equal(shmbus_bus_close(twin), 0);
}

/* Scrape /metrics until it is 200 and shows `want`: a new bus is opened on
 * the next scrape, or within a second when an open was just tried. */
static void wait_metrics(int port, const char *want)
{
	static char buf[131072];
	const char *body = "";
	for (int i = 0; i < 40; i++) {
		if (http_status(port, "/metrics", buf, sizeof(buf), &body) == 200 &&
		    strstr(body, want))
			return;
		tu_msleep(100);
	}
	fail_msg("/metrics never showed '%s'; last body:\n%s", want, body);
}

static void test_stat_prometheus_follows_recreated_bus(void **state)
{
	(void)state;
	static char buf[131072];
	const char *body;
	shmbus_bus *b = counter_bus("re", 11);
	int port = start_exporter("re");
	assert_int_equal(http_status(port, "/metrics", buf, sizeof(buf), &body), 200);
	assert_non_null(strstr(body, "shmbus_up{bus=\"re\"} 1\n"));
	assert_non_null(strstr(body, ",counter=\"generation\"} 11\n"));
	assert_int_equal(http_status(port, "/health", buf, sizeof(buf), &body), 200);

	/* Removed (shmbusctl stopping): unhealthy at once, and no stale series. */
	assert_int_equal(shmbus_bus_close(b), 0);
	assert_int_equal(shmbus_bus_destroy("re"), 0);
	assert_int_equal(http_status(port, "/health", buf, sizeof(buf), &body), 503);
	assert_non_null(strstr(body, "bus 're' was removed"));
	assert_int_equal(http_status(port, "/metrics", buf, sizeof(buf), &body), 200);
	assert_non_null(strstr(body, "shmbus_up{bus=\"re\"} 0\n"));
	assert_null(strstr(body, "generation"));

	/* Created again: the new bus's numbers, healthy again. */
	b = counter_bus("re", 22);
	wait_metrics(port, ",counter=\"generation\"} 22\n");
	assert_int_equal(http_status(port, "/metrics", buf, sizeof(buf), &body), 200);
	assert_non_null(strstr(body, "shmbus_up{bus=\"re\"} 1\n"));
	assert_int_equal(http_status(port, "/health", buf, sizeof(buf), &body), 200);

	/* Replaced between two scrapes: same path, a new file. */
	assert_int_equal(shmbus_bus_close(b), 0);
	assert_int_equal(shmbus_bus_destroy("re"), 0);
	b = counter_bus("re", 33);
	wait_metrics(port, ",counter=\"generation\"} 33\n");
	assert_int_equal(http_status(port, "/health", buf, sizeof(buf), &body), 200);

	stop_exporter();
	assert_int_equal(shmbus_bus_close(b), 0);
	assert_int_equal(shmbus_bus_destroy("re"), 0);
}

static void test_stat_prometheus_waits_for_bus(void **state)
{
	(void)state;
	static char buf[16384];
	const char *body;
	int port = start_exporter("late"); /* no such bus yet: it waits */
	assert_int_equal(http_status(port, "/health", buf, sizeof(buf), &body), 503);
	assert_non_null(strstr(body, "bus 'late' does not exist"));
	assert_int_equal(http_status(port, "/metrics", buf, sizeof(buf), &body), 200);
	assert_non_null(strstr(body, "shmbus_up{bus=\"late\"} 0\n"));
	shmbus_bus *b = counter_bus("late", 5);
	wait_metrics(port, ",counter=\"generation\"} 5\n");
	assert_int_equal(http_status(port, "/health", buf, sizeof(buf), &body), 200);
	stop_exporter();
	assert_int_equal(shmbus_bus_close(b), 0);
	assert_int_equal(shmbus_bus_destroy("late"), 0);
}

/* A bus still being built (its file young and growing, no superblock yet)
 * is waited for after the port is bound and apart from the scrapes: the
 * exporter printed its port, and then answered scrapes, only once the
 * file stopped changing, so an exporter started beside the launcher's
 * bus creation looked dead for as long as that took. */
static void test_stat_prometheus_binds_before_a_bus_is_built(void **state)
{
	(void)state;
	static char buf[16384];
	const char *body;
	char path[512];
	assert_int_equal(shmbus_bus_path("young", path, sizeof(path)), 0);
	int fd = open(path, O_CREAT | O_EXCL | O_RDWR, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 4096), 0);
	pid_t toucher = fork(); /* a creator still writing: the file changes for 20 s */
	assert_true(toucher >= 0);
	if (toucher == 0) {
		for (int i = 0; i < 200; i++) {
			futimens(fd, NULL);
			tu_msleep(100);
		}
		_exit(0);
	}
	close(fd);
	int port = start_exporter("young");
	int st;
	bool building = waitpid(toucher, &st, WNOHANG) == 0;
	/* and scrapes are answered meanwhile: the open that waits for the
	 * bus runs apart from them (a scrape waited for it, for as long as
	 * the file kept changing) */
	int code = http_status(port, "/health", buf, sizeof(buf), &body);
	bool answered_building = waitpid(toucher, &st, WNOHANG) == 0;
	kill(toucher, SIGKILL);
	waitpid(toucher, &st, 0);
	assert_true(building); /* the port came while the bus was being built */
	if (code != 503 || !answered_building)
		fail_msg("/health while the bus was being built: status %d (0: no answer), %s",
		         code, answered_building ? "in time" : "only once the file settled");
	assert_non_null(strstr(body, "bus 'young' not opened yet"));
	assert_int_equal(http_status(port, "/metrics", buf, sizeof(buf), &body), 200);
	stop_exporter();
	unlink(path);
}

/* A FIFO at the bus's path: an open() of it would wait for a writer, the
 * exporter with it. It is no bus: /health says so, scrapes and SIGTERM
 * are answered. */
static void test_stat_prometheus_fifo_is_no_bus(void **state)
{
	(void)state;
	static char buf[16384];
	const char *body = "";
	char path[512];
	assert_int_equal(shmbus_bus_path("ff", path, sizeof(path)), 0);
	int port = start_exporter("ff");
	assert_int_equal(mkfifo(path, 0600), 0);
	for (int i = 0; i < 40 && !strstr(body, "not a regular file"); i++) {
		int code = http_status(port, "/health", buf, sizeof(buf), &body);
		if (code != 503)
			fail_msg("/health with a FIFO at %s: status %d (0: no answer)", path, code);
		tu_msleep(100);
	}
	assert_non_null(strstr(body, "not a regular file"));
	assert_int_equal(http_status(port, "/metrics", buf, sizeof(buf), &body), 200);
	assert_non_null(strstr(body, "shmbus_up{bus=\"ff\"} 0\n"));
	stop_exporter();
	assert_int_equal(unlink(path), 0);
}

/* Send raw bytes on a new connection, read the answer into buf until the
 * exporter closes (or for `read_answer` false, close at once). */
static void http_raw(int port, const char *raw, bool read_answer, char *buf, size_t len)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	struct timeval tv = {.tv_sec = 10};
	assert_true(s >= 0);
	assert_int_equal(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	assert_int_equal(connect(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(write(s, raw, strlen(raw)), (ssize_t)strlen(raw));
	size_t got = 0;
	ssize_t r;
	while (read_answer && got < len - 1 && (r = read(s, buf + got, len - 1 - got)) > 0)
		got += (size_t)r;
	buf[got] = '\0';
	close(s);
}

/* Whatever a client sends, the exporter answers it and logs nothing: a
 * scanner or a broken client must not fill the journal, a line a
 * connection. stderr logs only the bus's changes of state. */
static void test_stat_prometheus_bad_clients_not_logged(void **state)
{
	(void)state;
	int fd;
	char *argv[] = {SHMBUS_STAT_BIN, "--bus", "st", "--prometheus", "127.0.0.1:0", NULL};
	exporter = tu_spawn_all(argv, &fd);
	assert_true(exporter > 0);
	static char out[65536];
	size_t got = 0;
	const char *at = NULL;
	ssize_t n;
	while (!(at && strchr(at, '\n')) && got < sizeof(out) - 1 &&
	       (n = read(fd, out + got, sizeof(out) - 1 - got)) > 0) {
		got += (size_t)n;
		out[got] = '\0';
		at = strstr(out, "serving /metrics and /health on ");
	}
	if (!at || !strchr(at, '\n'))
		fail_msg("exporter printed no port: '%s'", out);
	int port = atoi(strchr(at, ':') + 1);
	assert_true(port > 0);

	static char buf[131072];
	http_raw(port, "GET /metrics\r\n\r\n", true, buf, sizeof(buf)); /* no version */
	assert_non_null(strstr(buf, " 400 "));
	http_raw(port, "GET /metr", false, buf, sizeof(buf)); /* closed half-way */
	http_raw(port, "GET /metrics HTTP/1.0\r\n\r\n", true, buf, sizeof(buf));
	assert_non_null(strstr(buf, " 200 "));

	stop_exporter();
	while (got < sizeof(out) - 1 && (n = read(fd, out + got, sizeof(out) - 1 - got)) > 0)
		got += (size_t)n;
	out[got] = '\0';
	close(fd);
	for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n"))
		if (strncmp(l, "shmbus-stat: ", 13) != 0)
			fail_msg("exporter logged for a client: '%s'", l);
}

/* Names come from the segment: a damaged one (bytes the library never
 * writes) still gives an exposition Prometheus parses: the format's
 * escapes, any other byte as the text \xNN, nothing but ASCII. */
static void test_stat_prometheus_escapes_damaged_names(void **state)
{
	(void)state;
	shmbus_bus *b = counter_bus("dmg", 1);
	struct shmbus_sub_opts so;
	shmbus_sub_opts_init(&so);
	so.capacity = 64;
	assert_int_equal(shmbus_ring_declare(b, "ring-to-damage", &so), 0);
	char path[512];
	assert_int_equal(shmbus_bus_path("dmg", path, sizeof(path)), 0);
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	size_t size = (size_t)st.st_size;
	char *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	assert_true(map != MAP_FAILED);
	static const char name[] = "ring-to-damage";
	int patched = 0;
	for (size_t i = 0; i + sizeof(name) - 1 <= size; i++)
		if (memcmp(map + i, name, sizeof(name) - 1) == 0) {
			memcpy(map + i + 4, "\xff\"\x01", 3);
			patched++;
		}
	munmap(map, size);
	assert_true(patched > 0);

	static char buf[131072];
	const char *body;
	int port = start_exporter("dmg");
	assert_int_equal(http_status(port, "/metrics", buf, sizeof(buf), &body), 200);
	assert_non_null(strstr(body, "shmbus_up{bus=\"dmg\"} 1\n"));
	assert_non_null(strstr(body, ",ring=\"ring\\\\xff\\\"\\\\x01-damage\"} 64\n"));
	for (const char *c = body; *c; c++)
		if ((unsigned char)*c >= 0x80)
			fail_msg("byte 0x%02x in the exposition", (unsigned char)*c);
	stop_exporter();
	/* the screen view writes such bytes as '?': never a control sequence */
	assert_int_equal(tu_run(buf, sizeof(buf), "%s --bus dmg --once", SHMBUS_STAT_BIN), 0);
	assert_non_null(strstr(buf, "ring?\"?-damage"));
	for (const char *c = buf; *c; c++)
		if ((unsigned char)*c >= 0x80 || ((unsigned char)*c < ' ' && *c != '\n'))
			fail_msg("byte 0x%02x in the screen view", (unsigned char)*c);
	assert_int_equal(shmbus_bus_close(b), 0);
	assert_int_equal(shmbus_bus_destroy("dmg"), 0);
}

/* Raise this process's open-file limit to at least `want` (the exporters
 * it starts inherit it); false when the hard limit is lower. */
static bool raise_nofile(rlim_t want)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_max < want)
		return false;
	if (rl.rlim_cur >= want)
		return true;
	rl.rlim_cur = want;
	return setrlimit(RLIMIT_NOFILE, &rl) == 0;
}

/* Descriptors past select()'s reach: an exporter started with every
 * number below this one taken gets its sockets past FD_SETSIZE. */
#define HIGH_FD (FD_SETSIZE + 16)

/* An exporter in a process with more than FD_SETSIZE descriptors open
 * serves: libmicrohttpd's select() loop took no listening socket (or
 * connection) numbered FD_SETSIZE or more, so the exporter of such a
 * process failed to start, or closed every connection unanswered. */
/* Descriptors a test holds open: closed by its teardown even when it fails. */
static int held[HIGH_FD], nheld;

static void drop_held(void)
{
	while (nheld > 0)
		close(held[--nheld]);
}

static int close_held(void **state)
{
	drop_held();
	return kill_exporter(state);
}

static void test_stat_prometheus_serves_past_fd_setsize(void **state)
{
	(void)state;
	if (!raise_nofile(HIGH_FD + 64))
		skip(); /* the hard limit keeps descriptors below FD_SETSIZE */
	int fd;
	while (nheld < HIGH_FD && (fd = open("/dev/null", O_RDONLY)) >= 0) {
		held[nheld++] = fd; /* inherited: no O_CLOEXEC */
		if (fd >= HIGH_FD)
			break;
	}
	assert_true(nheld > 0 && held[nheld - 1] >= HIGH_FD);
	int port = start_exporter("st");
	drop_held();
	static char buf[131072];
	const char *body;
	assert_int_equal(http_status(port, "/metrics", buf, sizeof(buf), &body), 200);
	assert_non_null(strstr(body, "shmbus_up{bus=\"st\"} 1\n"));
	assert_int_equal(http_status(port, "/health", buf, sizeof(buf), &body), 200);
	stop_exporter();
}

/* A host that opens more connections than select() can watch and leaves
 * them idle (no request, or half of one) does not keep another host's
 * scrape out: the exporter holds a few connections of each host, closes
 * the rest at once, and serves the scraper. Here the idle host is
 * 127.0.0.2, the scraper 127.0.0.1. */
static void test_stat_prometheus_idle_clients_do_not_block_scrapes(void **state)
{
	(void)state;
	if (!raise_nofile(HIGH_FD + 256))
		skip(); /* the hard limit keeps descriptors below FD_SETSIZE */
	int port = start_exporter("st");
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	struct sockaddr_in from = {.sin_family = AF_INET};
	assert_int_equal(inet_pton(AF_INET, "127.0.0.2", &from.sin_addr), 1);
	while (nheld < HIGH_FD) {
		int s = socket(AF_INET, SOCK_STREAM, 0);
		assert_true(s >= 0);
		held[nheld++] = s;
		assert_int_equal(bind(s, (struct sockaddr *)&from, sizeof(from)), 0);
		assert_int_equal(connect(s, (struct sockaddr *)&to, sizeof(to)), 0);
		if (nheld % 2) /* half a request; the exporter may have closed it already */
			(void)send(s, "GET /metr", 9, MSG_NOSIGNAL);
	}
	static char buf[131072];
	const char *body;
	int code = http_status(port, "/metrics", buf, sizeof(buf), &body);
	drop_held();
	if (code != 200)
		fail_msg("/metrics beside %d idle connections: status %d (0: no answer)", HIGH_FD,
		         code);
	assert_non_null(strstr(body, "shmbus_up{bus=\"st\"} 1\n"));
	stop_exporter();
}

/* Read the live view's lines from fd until one holds every string of
 * want[] (NULL-terminated); fails after 10 s. */
static void wait_line(int fd, const char *const want[])
{
	static char buf[65536];
	size_t got = 0;
	int64_t deadline = shmbus_mono_ns() + 10 * INT64_C(1000000000);
	while (shmbus_mono_ns() < deadline) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		ssize_t n = read(fd, buf + got, sizeof(buf) - 1 - got);
		assert_true(n > 0);
		got += (size_t)n;
		buf[got] = '\0';
		char *nl;
		while ((nl = strchr(buf, '\n')) != NULL) {
			*nl = '\0';
			bool all = true;
			for (size_t i = 0; want[i]; i++)
				all = all && strstr(buf, want[i]) != NULL;
			if (all)
				return;
			got -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, got + 1);
		}
		if (got == sizeof(buf) - 1)
			got = 0; /* a line longer than the buffer: not one of ours */
	}
	fail_msg("the live view never printed a line with '%s'", want[0]);
}

static void test_stat_live_follows_recreated_bus(void **state)
{
	(void)state;
	shmbus_bus *b = counter_bus("lv", 11);
	int fd;
	char *argv[] = {SHMBUS_STAT_BIN, "--bus", "lv", "--json", "--interval", "0.05", NULL};
	exporter = tu_spawn(argv, &fd);
	assert_true(exporter > 0);
	wait_line(fd, (const char *const[]){"\"up\":true", "\"generation\":11", NULL});

	/* Removed: it says so instead of repeating the dead mapping's numbers. */
	assert_int_equal(shmbus_bus_close(b), 0);
	assert_int_equal(shmbus_bus_destroy("lv"), 0);
	wait_line(fd, (const char *const[]){"\"up\":false", "bus 'lv' was removed", NULL});

	/* Created again: the new bus's numbers. */
	b = counter_bus("lv", 22);
	wait_line(fd, (const char *const[]){"\"up\":true", "\"generation\":22", NULL});

	/* Replaced between two refreshes: same path, a new file. */
	assert_int_equal(shmbus_bus_close(b), 0);
	assert_int_equal(shmbus_bus_destroy("lv"), 0);
	b = counter_bus("lv", 33);
	wait_line(fd, (const char *const[]){"\"up\":true", "\"generation\":33", NULL});
	close(fd);
	stop_exporter();
	assert_int_equal(shmbus_bus_close(b), 0);
	assert_int_equal(shmbus_bus_destroy("lv"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_stat_once_json_matches_counters),
	    cmocka_unit_test(test_stat_dead_participant_stays_dead_after_reap),
	    cmocka_unit_test(test_stat_lag_counts_events_behind_a_dead_claim),
	    cmocka_unit_test(test_stat_dead_producer_is_not_counted_live),
	    cmocka_unit_test(test_stat_count_is_a_whole_number),
	    cmocka_unit_test(test_stat_forms_exclude_each_other),
	    cmocka_unit_test(test_stat_prometheus_endpoint_parses),
	    cmocka_unit_test_teardown(test_stat_prometheus_series_are_unique, kill_exporter),
	    cmocka_unit_test_teardown(test_stat_prometheus_follows_recreated_bus, kill_exporter),
	    cmocka_unit_test_teardown(test_stat_prometheus_waits_for_bus, kill_exporter),
	    cmocka_unit_test_teardown(test_stat_prometheus_fifo_is_no_bus, kill_exporter),
	    cmocka_unit_test_teardown(test_stat_prometheus_binds_before_a_bus_is_built, kill_exporter),
	    cmocka_unit_test_teardown(test_stat_prometheus_bad_clients_not_logged, kill_exporter),
	    cmocka_unit_test_teardown(test_stat_prometheus_escapes_damaged_names, kill_exporter),
	    cmocka_unit_test_teardown(test_stat_prometheus_serves_past_fd_setsize, close_held),
	    cmocka_unit_test_teardown(test_stat_prometheus_idle_clients_do_not_block_scrapes,
	                              close_held),
	    cmocka_unit_test_teardown(test_stat_live_follows_recreated_bus, kill_exporter),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
