/*
 * test_bridge_nats.c - shmbus-bridge against a real nats-server with
 * JetStream on loopback: 100k events exported, the bridge SIGKILLed in the
 * middle and restarted (catching up from a journal the test writes), and
 * the stream read back: every event exactly once, same content, per-symbol
 * order kept. Then the faults a bridge meets around its broker: a server
 * down at start (the bridge must not hang in connect), an unreadable
 * .creds file or a bad URL (an error at start), a stream deleted while
 * running (created again), a missing stream it may not create (said once,
 * looked up with backoff, not flooded) and a publish the stream refuses
 * (its JetStream error printed, rate-limited). Skips (77) when nats-server
 * is not installed. BRIDGE_TEST_ONLY=pattern runs only matching tests;
 * BRIDGE_TEST_KEEP=1 keeps the temporary directory (the bridges' logs).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nats/nats.h>
#include <shmbus/shmbus.h>
#include <shmbus/journal.h>

#include "bridge_codec.h"
#include "test_fs.h"

#define N_EVENTS 100000u
#define N_SYMS   8u
#define SOURCE   77u

static char g_tmp[256], g_url[64], g_port[16];
static pid_t g_server = -1;
static const char *g_server_bin;
static uint32_t g_sym[N_SYMS];

static void nap_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static int free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || bind(fd, (void *)&a, sizeof a) < 0 || getsockname(fd, (void *)&a, &len) < 0)
		return -1;
	close(fd);
	return ntohs(a.sin_port);
}

/* stderr to `log` when given, else to /dev/null (BRIDGE_TEST_VERBOSE: kept). */
static pid_t spawn_log(char *const argv[], const char *log)
{
	pid_t p = fork();
	if (p == 0) {
		int fd = open("/dev/null", O_WRONLY);
		dup2(fd, 1);
		if (log != NULL)
			fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (log != NULL || getenv("BRIDGE_TEST_VERBOSE") == NULL)
			dup2(fd, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	return p;
}

static pid_t spawn(char *const argv[])
{
	return spawn_log(argv, NULL);
}

static void gen(uint32_t i, struct shmbus_trade *t)
{
	memset(t, 0, sizeof *t);
	t->h.type = SHMBUS_EV_TRADE;
	t->h.version = 1;
	t->h.size = sizeof *t;
	t->h.source_id = SOURCE;
	t->h.symbol_id = g_sym[i % N_SYMS];
	t->h.seq = i + 1;
	t->h.event_time_ns = 1700000000000000000LL + i;
	t->price = i * 0.25;
	t->size = i % 100 + 1;
}

static pid_t start_bridge(void)
{
	char ckpt[300], jdir[300];
	snprintf(ckpt, sizeof ckpt, "%s/ckpt", g_tmp);
	snprintf(jdir, sizeof jdir, "%s/journal", g_tmp);
	char *argv[] = {BRIDGE_EXE, "--bus",     "bt", "--nats",   g_url,  "--checkpoint",
	                ckpt,       "--journal", jdir, "--window", "4096", "--stats-interval",
	                "0",        NULL};
	return spawn(argv);
}

static void wait_ring_active(shmbus_bus *bus)
{
	for (int i = 0; i < 1000; i++) {
		struct shmbus_ring_stat rs;
		int idx = shmbus_stat_find_ring(bus, "bridge");
		if (idx >= 0 && shmbus_stat_ring(bus, (uint32_t)idx, &rs) == 0 &&
		    rs.state == SHMBUS_RING_ACTIVE)
			return;
		nap_ms(10);
	}
	fail_msg("the bridge did not subscribe its ring within 10 s");
}

static uint64_t stream_msgs(jsCtx *js, const char *stream)
{
	jsStreamInfo *si = NULL;
	uint64_t n = 0;
	if (js_GetStreamInfo(&si, js, stream, NULL, NULL) == NATS_OK) {
		n = si->State.Msgs;
		jsStreamInfo_Destroy(si);
	}
	return n;
}

static void publish_range(shmbus_producer *p, struct shmbus_journal_writer *w, uint32_t from,
                          uint32_t to)
{
	struct shmbus_trade t;
	for (uint32_t b = from; b < to; b += 1000) {
		uint32_t end = b + 1000 < to ? b + 1000 : to;
		for (uint32_t i = b; i < end; i++) { /* the journal first, as a journaller would */
			gen(i, &t);
			t.h.publish_time_ns = shmbus_now_ns();
			assert_int_equal(shmbus_journal_writer_append(w, &t.h), 0);
		}
		assert_int_equal(shmbus_journal_writer_flush(w), 0);
		for (uint32_t i = b; i < end; i++) {
			gen(i, &t);
			assert_true(shmbus_publish(p, &t) >= 0);
		}
	}
}

static void read_back(jsCtx *js)
{
	natsSubscription *sub = NULL;
	jsSubOptions so;
	jsErrCode jerr;
	uint8_t *seen = calloc(N_EVENTS + 1, 1);
	uint64_t last[N_SYMS + 1] = {0}, got = 0;
	char err[256];
	jsSubOptions_Init(&so);
	so.Stream = "SHMBUS";
	so.Config.AckPolicy = js_AckNone; /* else delivery stops at MaxAckPending */
	assert_int_equal(js_PullSubscribe(&sub, js, "shmbus.>", "check", NULL, &so, &jerr),
	                 NATS_OK);
	while (got < N_EVENTS) {
		natsMsgList list = {0};
		natsStatus st = natsSubscription_Fetch(&list, sub, 1000, 5000, &jerr);
		if (st == NATS_TIMEOUT)
			break;
		assert_int_equal(st, NATS_OK);
		for (int k = 0; k < list.Count; k++) {
			struct bridge_decoded d;
			struct shmbus_trade want;
			natsMsg *m = list.Msgs[k];
			if (bridge_decode_json(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m),
			                       &d, err, sizeof err) != 0)
				fail_msg("decode: %s", err);
			uint64_t seq = d.ev.h.seq;
			assert_true(seq >= 1 && seq <= N_EVENTS);
			if (seen[seq])
				fail_msg("seq %llu delivered twice", (unsigned long long)seq);
			seen[seq] = 1;
			gen((uint32_t)(seq - 1), &want);
			d.ev.h.publish_time_ns = 0; /* stamped by the bus */
			assert_memory_equal(d.ev.bytes, &want, sizeof want);
			uint32_t s = (uint32_t)((seq - 1) % N_SYMS);
			if (seq <= last[s])
				fail_msg("symbol %u: seq %llu after %llu", s,
				         (unsigned long long)seq, (unsigned long long)last[s]);
			last[s] = seq;
			got++;
		}
		natsMsgList_Destroy(&list);
	}
	assert_int_equal(got, N_EVENTS);
	natsSubscription_Destroy(sub);
	free(seen);
}

static void test_bridge_nats_export_survives_sigkill(void **state)
{
	shmbus_bus *bus = NULL;
	shmbus_producer *p = NULL;
	struct shmbus_journal_writer *w = NULL;
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	char jdir[300];
	int status;
	(void)state;
	assert_int_equal(shmbus_bus_create("bt", NULL, &bus), 0);
	for (uint32_t s = 0; s < N_SYMS; s++) {
		char name[8];
		snprintf(name, sizeof name, "SYM%u", s);
		g_sym[s] = (uint32_t)shmbus_symbol_intern(bus, name, strlen(name));
	}
	snprintf(jdir, sizeof jdir, "%s/journal", g_tmp);
	assert_int_equal(shmbus_journal_writer_open(jdir, "bt", NULL, &w, NULL, NULL), 0);
	struct shmbus_producer_opts po;
	shmbus_producer_opts_init(&po);
	po.source_id = SOURCE;
	assert_int_equal(shmbus_producer_open(bus, &po, &p), 0);
	for (int i = 0; i < 500 && natsConnection_ConnectTo(&nc, g_url) != NATS_OK; i++)
		nap_ms(10);
	assert_non_null(nc);
	assert_int_equal(natsConnection_JetStream(&js, nc, NULL), NATS_OK);

	pid_t br = start_bridge();
	wait_ring_active(bus);
	publish_range(p, w, 0, 40000);
	for (int i = 0; i < 3000 && stream_msgs(js, "SHMBUS") < 15000; i++)
		nap_ms(10);
	kill(br, SIGKILL);
	waitpid(br, &status, 0);
	uint64_t at_kill = stream_msgs(js, "SHMBUS");
	assert_true(at_kill >= 15000 && at_kill < N_EVENTS);
	publish_range(p, w, 40000, 70000); /* bridge down: only the journal has these */
	br = start_bridge();
	wait_ring_active(bus);
	publish_range(p, w, 70000, N_EVENTS);
	for (int i = 0; i < 6000 && stream_msgs(js, "SHMBUS") < N_EVENTS; i++)
		nap_ms(10);
	nap_ms(300); /* room for a stray duplicate to show */
	kill(br, SIGTERM);
	waitpid(br, &status, 0);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(stream_msgs(js, "SHMBUS"), N_EVENTS);
	read_back(js);

	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	shmbus_journal_writer_close(w);
	shmbus_producer_close(p);
	shmbus_bus_close(bus);
}

/* ------------------------------------------------------- broker faults */

static void start_server(void)
{
	char dir[300], *argv[12];
	int i = 0;
	snprintf(dir, sizeof dir, "%s/js", g_tmp);
	argv[i++] = (char *)g_server_bin;
	argv[i++] = "-js";
	argv[i++] = "-a";
	argv[i++] = "127.0.0.1";
	argv[i++] = "-p";
	argv[i++] = g_port;
	argv[i++] = "-sd";
	argv[i++] = dir;
	argv[i] = NULL;
	g_server = spawn(argv);
}

static void stop_server(void)
{
	if (g_server > 0) {
		kill(g_server, SIGTERM);
		waitpid(g_server, NULL, 0);
	}
	g_server = -1;
}

static void connect_js(natsConnection **nc, jsCtx **js)
{
	*nc = NULL;
	for (int i = 0; i < 500 && natsConnection_ConnectTo(nc, g_url) != NATS_OK; i++)
		nap_ms(10);
	assert_non_null(*nc);
	assert_int_equal(natsConnection_JetStream(js, *nc, NULL), NATS_OK);
}

/* Occurrences of `needle` in the file at `path`. */
static int log_count(const char *path, const char *needle)
{
	char buf[65536];
	int n = 0;
	FILE *f = fopen(path, "r");
	size_t len = f != NULL ? fread(buf, 1, sizeof buf - 1, f) : 0;
	if (f != NULL)
		fclose(f);
	buf[len] = '\0';
	for (const char *p = buf; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

static int log_wait(const char *path, const char *needle, int ms)
{
	for (int t = 0; t < ms; t += 20) {
		if (log_count(path, needle) > 0)
			return 1;
		nap_ms(20);
	}
	return log_count(path, needle) > 0;
}

/* The exit status of pid within ms, or -1 (then it is SIGKILLed). */
static int wait_exit(pid_t pid, int ms)
{
	int status = 0;
	for (int t = 0; t < ms; t += 10) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		nap_ms(10);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

static uint64_t wait_msgs(jsCtx *js, const char *stream, uint64_t want, int ms)
{
	uint64_t n = 0;
	for (int t = 0; t < ms && (n = stream_msgs(js, stream)) != want; t += 50)
		nap_ms(50);
	return n;
}

/* A bus of its own per test, one symbol, one producer. */
struct tbus {
	shmbus_bus *bus;
	shmbus_producer *p;
	uint32_t sym;
};

static void tbus_open(struct tbus *tb, const char *name, uint32_t source)
{
	struct shmbus_producer_opts po;
	assert_int_equal(shmbus_bus_create(name, NULL, &tb->bus), 0);
	tb->sym = (uint32_t)shmbus_symbol_intern(tb->bus, "SYM", 3);
	shmbus_producer_opts_init(&po);
	po.source_id = source;
	assert_int_equal(shmbus_producer_open(tb->bus, &po, &tb->p), 0);
}

static void tbus_publish(struct tbus *tb, uint32_t from, uint32_t to)
{
	struct shmbus_trade t;
	for (uint32_t i = from; i < to; i++) {
		gen(i, &t);
		t.h.symbol_id = tb->sym;
		t.h.source_id = 0; /* the producer's */
		assert_true(shmbus_publish(tb->p, &t) >= 0);
	}
}

static void tbus_close(struct tbus *tb)
{
	shmbus_producer_close(tb->p);
	shmbus_bus_close(tb->bus);
}

/* A bridge on `bus` exporting to `stream` (subjects lower(stream).*.*),
 * its stderr in `log`; extra arguments (up to 4) after those. */
static pid_t start_bridge_to(const char *bus, const char *url, const char *stream, const char *log,
                             const char *x1, const char *x2, const char *x3, const char *x4)
{
	static char subject[64];
	char *argv[20];
	int i = 0;
	snprintf(subject, sizeof subject, "%s", stream);
	for (char *c = subject; *c; c++)
		*c = (char)(*c | 0x20);
	strcat(subject, ".{type}.{symbol}");
	argv[i++] = BRIDGE_EXE;
	argv[i++] = "--bus";
	argv[i++] = (char *)bus;
	argv[i++] = "--nats";
	argv[i++] = (char *)url;
	argv[i++] = "--nats-stream";
	argv[i++] = (char *)stream;
	argv[i++] = "--nats-subject";
	argv[i++] = subject;
	argv[i++] = "--stats-interval";
	argv[i++] = "0";
	const char *x[4] = {x1, x2, x3, x4};
	for (int k = 0; k < 4 && x[k] != NULL; k++)
		argv[i++] = (char *)x[k];
	argv[i] = NULL;
	return spawn_log(argv, log);
}

/* Server down at start: the bridge says so at once, subscribes its ring,
 * answers SIGTERM with a clean exit, and exports once the server is up.
 * (cnats used to retry inside natsConnection_Connect: silent, deaf.) A
 * server restart afterwards is said once each way. */
static void test_bridge_nats_server_down_at_start(void **state)
{
	struct tbus tb;
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	char log[300];
	(void)state;
	stop_server();
	tbus_open(&tb, "btdown", 81);
	snprintf(log, sizeof log, "%s/down1.log", g_tmp);
	pid_t br = start_bridge_to("btdown", g_url, "DOWN", log, NULL, NULL, NULL, NULL);
	if (!log_wait(log, "cannot connect to", 1000)) {
		wait_exit(br, 0);
		fail_msg("no word within 1 s from a bridge whose server is down");
	}
	wait_ring_active(tb.bus);
	kill(br, SIGTERM);
	assert_int_equal(wait_exit(br, 3000), 0);
	/* A SIGTERM as soon as it speaks, while it subscribes its ring: a
	 * clean stop too (the handlers used to be set after the subscribe,
	 * so such a signal killed it by the default action). */
	for (int i = 0; i < 10; i++) { /* the window is narrow: fails 1 run in 3 with 5 */
		snprintf(log, sizeof log, "%s/down0-%d.log", g_tmp, i);
		br = start_bridge_to("btdown", g_url, "DOWN", log, NULL, NULL, NULL, NULL);
		assert_true(log_wait(log, "cannot connect to", 2000));
		kill(br, SIGTERM);
		assert_int_equal(wait_exit(br, 3000), 0);
	}

	snprintf(log, sizeof log, "%s/down2.log", g_tmp);
	br = start_bridge_to("btdown", g_url, "DOWN", log, NULL, NULL, NULL, NULL);
	assert_true(log_wait(log, "cannot connect to", 1000));
	wait_ring_active(tb.bus);
	tbus_publish(&tb, 0, 50);
	nap_ms(300);
	start_server();
	connect_js(&nc, &js);
	assert_int_equal(wait_msgs(js, "DOWN", 50, 10000), 50);
	assert_int_equal(log_count(log, "connected to nats://"), 1);
	/* A server restart: each change of state said once. */
	stop_server();
	assert_true(log_wait(log, "lost the connection to", 2000));
	start_server();
	assert_true(log_wait(log, "reconnected to nats://", 8000));
	assert_int_equal(log_count(log, "lost the connection to"), 1);
	assert_int_equal(log_count(log, "reconnected to nats://"), 1);
	kill(br, SIGTERM);
	assert_int_equal(wait_exit(br, 7000), 0);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	tbus_close(&tb);
}

/* A .creds file that cannot be read and a URL that can never connect are
 * errors at start naming the option and the value, not endless retries. */
static void test_bridge_nats_bad_config_fails_at_start(void **state)
{
	struct tbus tb;
	char log[300], creds[300];
	(void)state;
	tbus_open(&tb, "btconf", 82);
	snprintf(log, sizeof log, "%s/conf1.log", g_tmp);
	snprintf(creds, sizeof creds, "%s/missing.creds", g_tmp);
	pid_t br = start_bridge_to("btconf", g_url, "CONF", log, "--nats-creds", creds, NULL, NULL);
	int rc = wait_exit(br, 3000);
	assert_int_equal(rc, 2); /* -EINVAL from the sink's open: a usage error */
	assert_int_equal(log_count(log, creds), 1);
	assert_int_equal(log_count(log, "--nats-creds"), 1);

	snprintf(log, sizeof log, "%s/conf2.log", g_tmp);
	br = start_bridge_to("btconf", "notaurl:::", "CONF", log, NULL, NULL, NULL, NULL);
	rc = wait_exit(br, 3000);
	assert_int_equal(rc, 2);
	assert_int_equal(log_count(log, "'notaurl:::'"), 1);
	assert_int_equal(log_count(log, "--nats"), 1);
	tbus_close(&tb);
}

/* A stream deleted under a running bridge is created again (the publish
 * finds no responders, the sink looks the stream up again), and the
 * events published meanwhile arrive. */
static void test_bridge_nats_deleted_stream_is_recreated(void **state)
{
	struct tbus tb;
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	char log[300];
	(void)state;
	tbus_open(&tb, "btdel", 83);
	connect_js(&nc, &js);
	snprintf(log, sizeof log, "%s/del.log", g_tmp);
	pid_t br = start_bridge_to("btdel", g_url, "DEL", log, NULL, NULL, NULL, NULL);
	wait_ring_active(tb.bus);
	tbus_publish(&tb, 0, 50);
	assert_int_equal(wait_msgs(js, "DEL", 50, 10000), 50);
	assert_int_equal(js_DeleteStream(js, "DEL", NULL, NULL), NATS_OK);
	tbus_publish(&tb, 50, 100);
	assert_int_equal(wait_msgs(js, "DEL", 50, 15000), 50);
	assert_int_equal(log_count(log, "created stream DEL"), 2);
	assert_true(log_count(log, "publish to del.trade.SYM not stored") >= 1);
	kill(br, SIGTERM);
	assert_int_equal(wait_exit(br, 7000), 0);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	tbus_close(&tb);
}

static void count_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
	(void)nc;
	(void)sub;
	atomic_fetch_add((atomic_int *)closure, 1);
	natsMsg_Destroy(msg);
}

/* A missing stream the bridge may not create: the reason is printed
 * once, the stream is looked up with backoff (it was ~2000 STREAM.INFO
 * requests a second), and events flow once someone creates it. */
static void test_bridge_nats_missing_stream_says_why_once(void **state)
{
	struct tbus tb;
	natsConnection *nc = NULL;
	natsSubscription *sub = NULL;
	jsCtx *js = NULL;
	jsStreamInfo *si = NULL;
	jsStreamConfig sc;
	const char *subjects[1] = {"nos.*.*"};
	atomic_int lookups = 0;
	char log[300];
	(void)state;
	tbus_open(&tb, "btnos", 84);
	connect_js(&nc, &js);
	/* A plain subscriber sees every request the bridge makes. */
	assert_int_equal(natsConnection_Subscribe(&sub, nc, "$JS.API.STREAM.INFO.NOS", count_msg,
	                                          (void *)&lookups),
	                 NATS_OK);
	assert_int_equal(natsConnection_Flush(nc), NATS_OK);
	snprintf(log, sizeof log, "%s/nos.log", g_tmp);
	pid_t br =
	    start_bridge_to("btnos", g_url, "NOS", log, "--nats-create-stream", "0", NULL, NULL);
	wait_ring_active(tb.bus);
	tbus_publish(&tb, 0, 20);
	nap_ms(3000);
	int n = atomic_load(&lookups);
	if (n < 1 || n > 15)
		fail_msg("%d stream lookups in 3 s (want 1..15)", n);
	assert_int_equal(log_count(log, "stream NOS does not exist and --nats-create-stream is 0"),
	                 1);
	jsStreamConfig_Init(&sc);
	sc.Name = "NOS";
	sc.Subjects = subjects;
	sc.SubjectsLen = 1;
	sc.Storage = js_MemoryStorage;
	assert_int_equal(js_AddStream(&si, js, &sc, NULL, NULL), NATS_OK);
	jsStreamInfo_Destroy(si);
	assert_int_equal(wait_msgs(js, "NOS", 20, 10000), 20);
	assert_int_equal(log_count(log, "stream NOS is there now"), 1);
	kill(br, SIGTERM);
	assert_int_equal(wait_exit(br, 7000), 0);
	natsSubscription_Destroy(sub);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	tbus_close(&tb);
}

/* A publish the stream refuses (full, discard new) is printed with its
 * JetStream error: the first at once, then at most one line per 5 s. */
static void test_bridge_nats_refused_publish_is_reported(void **state)
{
	struct tbus tb;
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	jsStreamInfo *si = NULL;
	jsStreamConfig sc;
	const char *subjects[1] = {"full.>"};
	char log[300];
	(void)state;
	tbus_open(&tb, "btfull", 85);
	connect_js(&nc, &js);
	jsStreamConfig_Init(&sc);
	sc.Name = "FULL";
	sc.Subjects = subjects;
	sc.SubjectsLen = 1;
	sc.Storage = js_MemoryStorage;
	sc.MaxMsgs = 1;
	sc.Discard = js_DiscardNew;
	assert_int_equal(js_AddStream(&si, js, &sc, NULL, NULL), NATS_OK);
	jsStreamInfo_Destroy(si);
	snprintf(log, sizeof log, "%s/full.log", g_tmp);
	pid_t br =
	    start_bridge_to("btfull", g_url, "FULL", log, "--nats-create-stream", "0", NULL, NULL);
	wait_ring_active(tb.bus);
	tbus_publish(&tb, 0, 5);
	assert_true(log_wait(log, "refused by stream FULL", 3000));
	assert_int_equal(log_count(log, "JetStream error"), 1);
	nap_ms(3000);
	int n = log_count(log, "refused by stream FULL");
	if (n > 2)
		fail_msg("%d lines about refused publishes in 3 s (want at most 2)", n);
	assert_int_equal(wait_exit(br, 0), -1); /* SIGKILL: its drain would wait 5 s */
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	tbus_close(&tb);
}

/* A placeholder inside a subject token ('{type}-{symbol}') is a valid
 * template, but the stream the bridge created for it had the subject
 * 'tok.*-*': a literal token to NATS, not a wildcard, so no publish of
 * the bridge matched its own stream and every event was refused forever.
 * A token holding a placeholder is now a whole '*' in the stream's
 * subjects. */
static void test_bridge_nats_placeholder_in_token_is_stored(void **state)
{
	struct tbus tb;
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	char log[300];
	(void)state;
	tbus_open(&tb, "bttok", 88);
	connect_js(&nc, &js);
	snprintf(log, sizeof log, "%s/tok.log", g_tmp);
	pid_t br = start_bridge_to("bttok", g_url, "TOK", log, "--nats-subject",
	                           "tok.{type}-{symbol}.x{source}", NULL, NULL);
	wait_ring_active(tb.bus);
	tbus_publish(&tb, 0, 20);
	uint64_t n = wait_msgs(js, "TOK", 20, 10000);
	if (n != 20) {
		wait_exit(br, 0); /* SIGKILL: its drain would wait 5 s */
		fail_msg("%llu of 20 events stored in stream TOK (created with subjects "
		         "tok.*-*.x*?)",
		         (unsigned long long)n);
	}
	assert_int_equal(log_count(log, "created stream TOK (subjects tok.*.*)"), 1);
	kill(br, SIGTERM);
	assert_int_equal(wait_exit(br, 7000), 0);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	tbus_close(&tb);
}

/* Reads `stream` (one source, one symbol: seqs 1..n) and checks that each
 * seq is there exactly once. Returns how many messages were stored too
 * early: before a message with a lower seq. */
static uint64_t stored_early(jsCtx *js, const char *stream, const char *subjects, uint64_t n)
{
	natsSubscription *sub = NULL;
	jsSubOptions so;
	jsErrCode jerr;
	uint64_t got = 0, early = 0, *seqs = calloc(n, sizeof *seqs);
	uint8_t *seen = calloc(n + 1, 1);
	char err[256];
	assert_non_null(seqs);
	assert_non_null(seen);
	jsSubOptions_Init(&so);
	so.Stream = stream;
	so.Config.AckPolicy = js_AckNone;
	assert_int_equal(js_PullSubscribe(&sub, js, subjects, NULL, NULL, &so, &jerr), NATS_OK);
	while (got < n) {
		natsMsgList list = {0};
		natsStatus st = natsSubscription_Fetch(&list, sub, 1000, 5000, &jerr);
		if (st == NATS_TIMEOUT)
			break;
		assert_int_equal(st, NATS_OK);
		for (int k = 0; k < list.Count && got < n; k++) {
			struct bridge_decoded d;
			natsMsg *m = list.Msgs[k];
			if (bridge_decode_json(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m),
			                       &d, err, sizeof err) != 0)
				fail_msg("decode: %s", err);
			uint64_t q = d.ev.h.seq;
			if (q < 1 || q > n || seen[q])
				fail_msg("stream %s: seq %llu out of range or twice", stream,
				         (unsigned long long)q);
			seen[q] = 1;
			seqs[got++] = q;
		}
		natsMsgList_Destroy(&list);
	}
	assert_int_equal(got, n);
	for (uint64_t i = n, low = UINT64_MAX; i-- > 0;) { /* low: least seq stored after i */
		if (seqs[i] > low)
			early++;
		else
			low = seqs[i];
	}
	natsSubscription_Destroy(sub);
	free(seqs);
	free(seen);
	return early;
}

/* Publishes `n` events through tb at about `rate` a second (a thread). */
struct paced {
	struct tbus *tb;
	uint32_t n, rate;
};

static void *paced_publish(void *arg)
{
	struct paced *pp = arg;
	for (uint32_t i = 0; i < pp->n; i += 100) {
		tbus_publish(pp->tb, i, i + 100 < pp->n ? i + 100 : pp->n);
		nap_ms((int)(100000 / pp->rate) > 0 ? (int)(100000 / pp->rate) : 1);
	}
	return NULL;
}

/* The server killed (SIGKILL) while the bridge has thousands of publishes
 * in flight, and back within a second, three times: the publishes lost
 * with the old connection come back only as time-outs (5 s later), so the
 * bridge used to send new events on the new connection first and the
 * lost ones after them, out of order (hundreds to thousands of events per
 * crash). The sink now tells the core of the reconnection before anything
 * goes on the new connection, and the core resends in order. Each
 * event is there once. */
static void test_bridge_nats_server_crash_keeps_order(void **state)
{
	struct tbus tb;
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	char log[300];
	pthread_t th;
	struct paced pp = {.tb = &tb, .n = 300000, .rate = 50000};
	(void)state;
	tbus_open(&tb, "btcrash", 86);
	snprintf(log, sizeof log, "%s/crash.log", g_tmp);
	pid_t br = start_bridge_to("btcrash", g_url, "CRASH", log, NULL, NULL, NULL, NULL);
	wait_ring_active(tb.bus);
	assert_int_equal(pthread_create(&th, NULL, paced_publish, &pp), 0);
	for (int r = 1; r <= 3; r++) {
		nap_ms(1000);
		kill(g_server, SIGKILL);
		waitpid(g_server, NULL, 0);
		g_server = -1;
		nap_ms(200);
		start_server();
		for (int t = 0; t < 5000 && log_count(log, "reconnected to nats://") < r; t += 10)
			nap_ms(10);
	}
	pthread_join(th, NULL);
	connect_js(&nc, &js);
	assert_int_equal(wait_msgs(js, "CRASH", pp.n, 30000), pp.n);
	kill(br, SIGTERM);
	assert_int_equal(wait_exit(br, 7000), 0);
	/* cnats may still put the one publish racing with the disconnect into
	 * its reconnect buffer, which it sends first on the new connection:
	 * at most one event per crash stored early (the bug: thousands). */
	uint64_t early = stored_early(js, "CRASH", "crash.>", pp.n);
	if (early > 3)
		fail_msg("%llu events stored ahead of an earlier one after 3 server crashes "
		         "(want at most 3)",
		         (unsigned long long)early);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	tbus_close(&tb);
}

/* CPU seconds (user + system) that process pid used so far. */
static double cpu_seconds(pid_t pid)
{
	char path[64], buf[1024];
	unsigned long ut = 0, st = 0;
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	size_t n = f != NULL ? fread(buf, 1, sizeof buf - 1, f) : 0;
	if (f != NULL)
		fclose(f);
	buf[n] = '\0';
	const char *p = strrchr(buf, ')'); /* after the command name */
	if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
	                        &st) != 2)
		fail_msg("cannot read %s", path);
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* A connected bridge with nothing to send sleeps: its 1 ms ring wait used
 * to end inside the ring's adaptive spin-and-yield phase (about 2000
 * sched_yield calls) before any futex sleep, so an idle bridge burnt a
 * whole core. */
static void test_bridge_nats_idle_bridge_sleeps(void **state)
{
	struct tbus tb;
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	char log[300];
	(void)state;
	tbus_open(&tb, "btidle", 87);
	snprintf(log, sizeof log, "%s/idle.log", g_tmp);
	pid_t br = start_bridge_to("btidle", g_url, "IDLE", log, NULL, NULL, NULL, NULL);
	wait_ring_active(tb.bus);
	tbus_publish(&tb, 0, 10);
	connect_js(&nc, &js);
	assert_int_equal(wait_msgs(js, "IDLE", 10, 10000), 10);
	double c0 = cpu_seconds(br);
	nap_ms(2000);
	double used = cpu_seconds(br) - c0;
	if (used > 0.4) {
		wait_exit(br, 0); /* SIGKILL: not left running */
		fail_msg("an idle bridge used %.2f s of CPU in 2 s", used);
	}
	tbus_publish(&tb, 10, 20); /* and still wakes up for new events */
	assert_int_equal(wait_msgs(js, "IDLE", 20, 5000), 20);
	kill(br, SIGTERM);
	assert_int_equal(wait_exit(br, 7000), 0);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	tbus_close(&tb);
}

static int setup(void **state)
{
	char dir[300];
	(void)state;
	snprintf(g_tmp, sizeof g_tmp, "/tmp/shmbus-bridge-nats-XXXXXX");
	if (mkdtemp(g_tmp) == NULL)
		return -1;
	snprintf(dir, sizeof dir, "%s/bus", g_tmp);
	mkdir(dir, 0700);
	setenv("SHMBUS_DIR", dir, 1);
	int prt = free_port();
	snprintf(g_port, sizeof g_port, "%d", prt);
	snprintf(g_url, sizeof g_url, "nats://127.0.0.1:%d", prt);
	start_server();
	return g_server > 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	stop_server();
	if (getenv("BRIDGE_TEST_KEEP") != NULL) { /* the bridges' logs, for a look */
		printf("kept %s\n", g_tmp);
		return 0;
	}
	return tfs_rm_rf(g_tmp);
}

int main(void)
{
	static const char *const bins[] = {"/usr/sbin/nats-server", "/usr/bin/nats-server",
	                                   "/usr/local/bin/nats-server"};
	for (size_t i = 0; i < sizeof bins / sizeof bins[0]; i++)
		if (access(bins[i], X_OK) == 0)
			g_server_bin = bins[i];
	if (g_server_bin == NULL) {
		printf("skip: nats-server is not installed (apt-get install nats-server)\n");
		return 77;
	}
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bridge_nats_export_survives_sigkill),
	    cmocka_unit_test(test_bridge_nats_server_down_at_start),
	    cmocka_unit_test(test_bridge_nats_bad_config_fails_at_start),
	    cmocka_unit_test(test_bridge_nats_deleted_stream_is_recreated),
	    cmocka_unit_test(test_bridge_nats_missing_stream_says_why_once),
	    cmocka_unit_test(test_bridge_nats_refused_publish_is_reported),
	    cmocka_unit_test(test_bridge_nats_placeholder_in_token_is_stored),
	    cmocka_unit_test(test_bridge_nats_server_crash_keeps_order),
	    cmocka_unit_test(test_bridge_nats_idle_bridge_sleeps),
	};
	if (getenv("BRIDGE_TEST_ONLY") != NULL)
		cmocka_set_test_filter(getenv("BRIDGE_TEST_ONLY"));
	return cmocka_run_group_tests(tests, setup, teardown);
}
