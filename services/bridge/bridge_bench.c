/*
 * bridge_bench.c - shmbus-bridge-bench: bridge throughput to a NATS
 * JetStream server, next to a plain cnats async publisher sending the same
 * payloads (same JSON, same Nats-Msg-Id header) in the same run.
 *
 *   shmbus-bridge-bench --nats nats://127.0.0.1:4222 [--events N] [--window W]
 *
 * Both runs count from the first send to the last acknowledgement. Prints
 * the machine, the command and the raw figures; asserts nothing.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include <nats/nats.h>
#include <shmbus/shmbus.h>

#include "bridge_core.h"
#include "tool_version.h"

#define N_SYMS 16u

static uint32_t g_sym[N_SYMS];
static volatile uint64_t g_acks;

static void gen(uint32_t i, struct shmbus_trade *t)
{
	memset(t, 0, sizeof *t);
	t->h.type = SHMBUS_EV_TRADE;
	t->h.version = 1;
	t->h.size = sizeof *t;
	t->h.source_id = 9;
	t->h.symbol_id = g_sym[i % N_SYMS];
	t->h.seq = i + 1;
	t->h.event_time_ns = shmbus_now_ns();
	t->price = 100 + i * 0.01;
	t->size = 1;
}

static void ack_cb(jsCtx *js, natsMsg *m, jsPubAck *pa, jsPubAckErr *pae, void *c)
{
	(void)js, (void)pa, (void)pae, (void)c;
	__atomic_fetch_add(&g_acks, 1, __ATOMIC_RELAXED);
	natsMsg_Destroy(m);
}

static void add_stream(jsCtx *js, const char *name, const char *subj)
{
	jsStreamConfig sc;
	jsStreamInfo *si = NULL;
	const char *subjects[1] = {subj};
	js_DeleteStream(js, name, NULL, NULL);
	jsStreamConfig_Init(&sc);
	sc.Name = name;
	sc.Subjects = subjects;
	sc.SubjectsLen = 1;
	sc.Storage = js_FileStorage;
	if (js_AddStream(&si, js, &sc, NULL, NULL) == NATS_OK)
		jsStreamInfo_Destroy(si);
}

static double plain_publisher(const char *url, uint32_t n, uint32_t window, shmbus_bus *bus)
{
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	jsOptions jo;
	char buf[BRIDGE_ENCODED_MAX], subj[64], id[48], sym[32];
	if (natsConnection_ConnectTo(&nc, url) != NATS_OK)
		return -1;
	jsOptions_Init(&jo);
	jo.PublishAsync.MaxPending = window;
	jo.PublishAsync.AckHandler = ack_cb;
	natsConnection_JetStream(&js, nc, &jo);
	add_stream(js, "BENCHP", "bp.>");
	g_acks = 0;
	int64_t t0 = shmbus_mono_ns();
	for (uint32_t i = 0; i < n; i++) {
		struct shmbus_trade t;
		natsMsg *m = NULL;
		gen(i, &t);
		shmbus_symbol_name(bus, t.h.symbol_id, sym, sizeof sym);
		int len = bridge_encode_json(&t.h, sym, buf, sizeof buf);
		snprintf(subj, sizeof subj, "bp.trade.%s", sym);
		snprintf(id, sizeof id, "%u:%" PRIu64, t.h.source_id, t.h.seq);
		natsMsg_Create(&m, subj, NULL, buf, len);
		natsMsgHeader_Set(m, "Nats-Msg-Id", id);
		while (js_PublishMsgAsync(js, &m, NULL) != NATS_OK)
			;
		natsMsg_Destroy(m);
	}
	jsPubOptions po;
	jsPubOptions_Init(&po);
	po.MaxWait = 60000;
	js_PublishAsyncComplete(js, &po);
	double s = (double)(shmbus_mono_ns() - t0) / 1e9;
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	return g_acks == n ? n / s : -1;
}

static double bridge_run(const char *url, uint32_t n, uint32_t window, shmbus_bus *bus)
{
	struct bridge_nats_config nc = {.url = url, .stream = "BENCHB", .subject = "bb.{type}.{symbol}",
					.create_stream = 1, .dup_window_ns = 120000000000LL,
					.ack_timeout_ms = 60000, .reconnect_base_ms = 100,
					.reconnect_max_ms = 5000, .max_pending = window};
	struct bridge_sink *sink = NULL;
	struct bridge *b = NULL;
	struct bridge_core_config cc;
	shmbus_producer *p = NULL;
	char err[512];
	natsConnection *c = NULL;
	jsCtx *js = NULL;
	if (natsConnection_ConnectTo(&c, url) == NATS_OK && natsConnection_JetStream(&js, c, NULL) == NATS_OK)
		js_DeleteStream(js, "BENCHB", NULL, NULL);
	jsCtx_Destroy(js);
	natsConnection_Destroy(c);
	if (bridge_nats_open(&nc, BRIDGE_ENC_JSON, &sink, err, sizeof err) < 0)
		return fprintf(stderr, "shmbus-bridge-bench: %s\n", err), -1;
	bridge_core_config_init(&cc);
	cc.window = window;
	cc.sub.capacity = 1u << 20;
	cc.sub.slot_size = 64;
	if (bridge_open(bus, &cc, &sink, 1, &b, err, sizeof err) < 0)
		return fprintf(stderr, "shmbus-bridge-bench: %s\n", err), -1;
	shmbus_producer_open(bus, NULL, &p);
	for (uint32_t i = 0; i < n; i++) { /* pre-filled: measures the export only */
		struct shmbus_trade t;
		gen(i, &t);
		shmbus_publish(p, &t);
	}
	int64_t t0 = shmbus_mono_ns();
	while (bridge_acked_total(b) < n)
		bridge_step(b, 100000);
	double s = (double)(shmbus_mono_ns() - t0) / 1e9;
	shmbus_producer_close(p);
	bridge_close(b);
	return n / s;
}

int main(int argc, char **argv)
{
	if (tool_version_asked(argc, argv))
		return tool_version_print("shmbus-bridge-bench");
	const char *url = getenv("NATS_URL");
	uint32_t n = 200000, window = 8192;
	shmbus_bus *bus = NULL;
	struct shmbus_bus_opts bo;
	struct utsname u;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--nats") == 0 && i + 1 < argc)
			url = argv[++i];
		else if (strcmp(argv[i], "--events") == 0 && i + 1 < argc)
			n = (uint32_t)strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--window") == 0 && i + 1 < argc)
			window = (uint32_t)strtoul(argv[++i], NULL, 10);
		else {
			fprintf(stderr, "usage: shmbus-bridge-bench --nats URL [--events N] [--window W]\n");
			return strcmp(argv[i], "--help") == 0 ? 0 : 2;
		}
	}
	if (url == NULL || n == 0 || n > (1u << 20)) {
		fprintf(stderr, "shmbus-bridge-bench: bad arguments: --nats URL needed, --events 1..1048576 (command line)\n");
		return 2;
	}
	shmbus_bus_opts_init(&bo);
	bo.arena_bytes = 128u << 20;
	if (shmbus_bus_create(NULL, &bo, &bus) < 0) {
		fprintf(stderr, "shmbus-bridge-bench: create bus: %s (anonymous)\n", shmbus_errmsg());
		return 1;
	}
	for (uint32_t s = 0; s < N_SYMS; s++) {
		char name[8];
		snprintf(name, sizeof name, "S%u", s);
		g_sym[s] = (uint32_t)shmbus_symbol_intern(bus, name, strlen(name));
	}
	uname(&u);
	printf("machine: %s %s %s\ncommand:", u.nodename, u.sysname, u.release);
	for (int i = 0; i < argc; i++)
		printf(" %s", argv[i]);
	double br = bridge_run(url, n, window, bus);
	double pl = plain_publisher(url, n, window, bus);
	printf("\nevents: %u, window: %u, encoding: json, 1 nats-server on loopback\n", n, window);
	printf("bridge (ring -> JetStream):   %.0f events/s\n", br);
	printf("plain cnats async publisher:  %.0f events/s\n", pl);
	shmbus_bus_close(bus);
	return br > 0 && pl > 0 ? 0 : 1;
}
