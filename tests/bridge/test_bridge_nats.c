/*
 * test_bridge_nats.c - shmbus-bridge against a real nats-server with
 * JetStream on loopback: 100k events exported, the bridge SIGKILLed in the
 * middle and restarted (catching up from a journal the test writes), and
 * the stream read back: every event exactly once, same content, per-symbol
 * order kept. Skips (77) when nats-server is not installed.
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
#include <signal.h>
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
#define N_SYMS 8u
#define SOURCE 77u

static char g_tmp[256], g_url[64];
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

static pid_t spawn(char *const argv[])
{
	pid_t p = fork();
	if (p == 0) {
		int fd = open("/dev/null", O_WRONLY);
		dup2(fd, 1);
		if (getenv("BRIDGE_TEST_VERBOSE") == NULL)
			dup2(fd, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	return p;
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
	char *argv[] = {BRIDGE_EXE, "--bus", "bt", "--nats", g_url, "--checkpoint", ckpt,
			"--journal", jdir, "--window", "4096", "--stats-interval", "0", NULL};
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

static uint64_t stream_msgs(jsCtx *js)
{
	jsStreamInfo *si = NULL;
	uint64_t n = 0;
	if (js_GetStreamInfo(&si, js, "SHMBUS", NULL, NULL) == NATS_OK) {
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
	assert_int_equal(js_PullSubscribe(&sub, js, "shmbus.>", "check", NULL, &so, &jerr), NATS_OK);
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
			if (bridge_decode_json(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), &d,
					       err, sizeof err) != 0)
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
				fail_msg("symbol %u: seq %llu after %llu", s, (unsigned long long)seq,
					 (unsigned long long)last[s]);
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
	for (int i = 0; i < 3000 && stream_msgs(js) < 15000; i++)
		nap_ms(10);
	kill(br, SIGKILL);
	waitpid(br, &status, 0);
	uint64_t at_kill = stream_msgs(js);
	assert_true(at_kill >= 15000 && at_kill < N_EVENTS);
	publish_range(p, w, 40000, 70000); /* bridge down: only the journal has these */
	br = start_bridge();
	wait_ring_active(bus);
	publish_range(p, w, 70000, N_EVENTS);
	for (int i = 0; i < 6000 && stream_msgs(js) < N_EVENTS; i++)
		nap_ms(10);
	nap_ms(300); /* room for a stray duplicate to show */
	kill(br, SIGTERM);
	waitpid(br, &status, 0);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(stream_msgs(js), N_EVENTS);
	read_back(js);

	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	shmbus_journal_writer_close(w);
	shmbus_producer_close(p);
	shmbus_bus_close(bus);
}

static int setup(void **state)
{
	char dir[300], port[16], *argv[12];
	(void)state;
	snprintf(g_tmp, sizeof g_tmp, "/tmp/shmbus-bridge-nats-XXXXXX");
	if (mkdtemp(g_tmp) == NULL)
		return -1;
	snprintf(dir, sizeof dir, "%s/bus", g_tmp);
	mkdir(dir, 0700);
	setenv("SHMBUS_DIR", dir, 1);
	int prt = free_port();
	snprintf(port, sizeof port, "%d", prt);
	snprintf(g_url, sizeof g_url, "nats://127.0.0.1:%d", prt);
	snprintf(dir, sizeof dir, "%s/js", g_tmp);
	int i = 0;
	argv[i++] = (char *)g_server_bin;
	argv[i++] = "-js";
	argv[i++] = "-a";
	argv[i++] = "127.0.0.1";
	argv[i++] = "-p";
	argv[i++] = port;
	argv[i++] = "-sd";
	argv[i++] = dir;
	argv[i] = NULL;
	g_server = spawn(argv);
	return g_server > 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	if (g_server > 0) {
		kill(g_server, SIGTERM);
		waitpid(g_server, NULL, 0);
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
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
