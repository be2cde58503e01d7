/*
 * test_journald_roundtrip.c - bus -> shmbus-journald -> shmbus-journal.
 *
 * Mixed events published by two producers reach the journal through
 * journald; `shmbus-journal cat --format json` must print exactly them, in
 * order; time-range, type and symbol filters must equal a brute-force
 * filter of what was published; indicator CSV rows follow the contract;
 * and verify must name the bad block of a corrupted copy.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "jtt_events.h"

#define RT_N 6000

static struct jtt_rec rt_recs[RT_N];
static char rt_stats[256];

/* Start journald, publish RT_N mixed events from two sources, stop it. */
static void rt_journal(shmbus_bus *b, struct jtt_gen *g)
{
	snprintf(rt_stats, sizeof(rt_stats), "%s/stats.json", jtt_shm);
	char *av[] = {JOURNALD_BIN, "--bus", jtt_bus,        "--dir",  jtt_jdir,
	              "--fsync",    "batch", "--stats-json", rt_stats, NULL};
	pid_t jd = jtt_spawn(av, "/dev/null", NULL);
	assert_int_equal(jtt_wait_ring(b, "journal", jd), 0);
	shmbus_producer *p[2];
	for (int i = 0; i < 2; i++) {
		struct shmbus_producer_opts po;
		shmbus_producer_opts_init(&po);
		po.source_id = 101 + (uint32_t)i;
		assert_int_equal(shmbus_producer_open(b, &po, &p[i]), 0);
	}
	for (int i = 0; i < RT_N; i++) {
		jtt_gen_next(g, &rt_recs[i]);
		assert_int_equal(jtt_publish(p[jtt_rand(&g->rng) % 2], &rt_recs[i]), 1);
	}
	assert_int_equal(jtt_wait_drained(b, "journal", 20), 0);
	kill(jd, SIGTERM);
	assert_int_equal(jtt_wait(jd, 30), 0);
	for (int i = 0; i < 2; i++)
		shmbus_producer_close(p[i]);
	char *st = jtt_slurp(rt_stats);
	assert_int_equal(jtt_json_i64(st, "events"), RT_N);
	assert_int_equal(jtt_json_i64(st, "events_durable"), RT_N);
	assert_int_equal(jtt_json_i64(st, "lost"), 0);
	free(st);
}

static void rt_hex(const struct shmbus_event_header *h, char *buf)
{
	for (size_t i = sizeof(*h); i < h->size; i++)
		sprintf(buf + 2 * (i - sizeof(*h)), "%02x", ((const uint8_t *)h)[i]);
}

/* The payload fields that tell this event apart. */
static void rt_check_data(const char *data, const struct shmbus_event_header *h)
{
	char s[512], want[512] = "";
	switch (h->type) {
	case SHMBUS_EV_TRADE:
		assert_true(jtt_json_d(data, "price") == ((const struct shmbus_trade *)h)->price);
		assert_true(jtt_json_d(data, "size") == 0.125);
		break;
	case SHMBUS_EV_QUOTE:
		assert_true(jtt_json_d(data, "ask") == ((const struct shmbus_quote *)h)->ask);
		break;
	case SHMBUS_EV_BAR:
		assert_true(jtt_json_d(data, "close") == ((const struct shmbus_bar *)h)->close);
		break;
	case SHMBUS_EV_INDICATOR: {
		const struct shmbus_indicator *ind = (const void *)h;
		const char *k = ind->kind == SHMBUS_IND_MACD        ? "macd_hist"
		                : ind->kind == SHMBUS_IND_BOLLINGER ? "bb_lower"
		                                                    : "value";
		double v = ind->kind == SHMBUS_IND_MACD || ind->kind == SHMBUS_IND_BOLLINGER
		               ? ind->value[2]
		               : ind->value[0];
		assert_true(jtt_json_d(data, k) == v);
		break;
	}
	case SHMBUS_EV_THRESHOLD:
		assert_int_equal(jtt_json_i64(data, "trigger_seq"),
		                 ((const struct shmbus_threshold *)h)->trigger_seq);
		break;
	case SHMBUS_EV_COLLECTION_FAILED:
		jtt_json_str(data, "reason", s, sizeof(s));
		assert_string_equal(s, ((const struct shmbus_collection_failed *)h)->reason);
		break;
	case SHMBUS_EV_HEARTBEAT:
		assert_int_equal(jtt_json_i64(data, "events_out"),
		                 ((const struct shmbus_heartbeat *)h)->events_out);
		break;
	default:
		rt_hex(h, want);
		jtt_json_str(data, "payload_hex", s, sizeof(s));
		assert_string_equal(s, want);
	}
}

static void rt_check_line(const char *line, const struct shmbus_event_header *h)
{
	assert_int_equal(jtt_json_i64(line, "type_id"), h->type);
	assert_int_equal(jtt_json_i64(line, "source_id"), h->source_id);
	assert_int_equal(jtt_json_i64(line, "seq"), h->seq);
	assert_int_equal(jtt_json_i64(line, "size"), h->size);
	assert_int_equal(jtt_json_i64(line, "flags"), 0);
	assert_true(jtt_json_i64(line, "event_time_ns") == h->event_time_ns);
	const char *data = strstr(line, "\"data\":{");
	assert_non_null(data);
	rt_check_data(data, h);
}

/* cat lines with their (source, seq) checked against recs[idx[i]]. */
static void rt_compare(const char *out, const int *idx, int n, const char *const *names,
                       const uint32_t *ids)
{
	const char *line = out;
	int i = 0;
	for (; *line; i++) {
		const char *nl = strchr(line, '\n');
		assert_non_null(nl);
		assert_true(i < n);
		const struct shmbus_event_header *h = (const void *)rt_recs[idx[i]].b;
		char buf[2048];
		size_t len =
		    (size_t)(nl - line) < sizeof(buf) - 1 ? (size_t)(nl - line) : sizeof(buf) - 1;
		memcpy(buf, line, len);
		buf[len] = '\0';
		rt_check_line(buf, h);
		if (h->symbol_id) {
			char sym[32];
			jtt_json_str(buf, "symbol", sym, sizeof(sym));
			for (int k = 0; k < JTT_NSYM; k++)
				if (ids[k] == h->symbol_id)
					assert_string_equal(sym, names[k]);
		}
		line = nl + 1;
	}
	assert_int_equal(i, n);
}

static void test_journald_roundtrip_cat_equals_published(void **state)
{
	(void)state;
	shmbus_bus *b = jtt_setup();
	struct jtt_gen g;
	jtt_gen_init(&g, b, 42);
	rt_journal(b, &g);

	char *out;
	char *av[] = {JOURNAL_BIN, "cat", "--dir", jtt_jdir, "--format", "json", NULL};
	assert_int_equal(jtt_run(av, &out), 0);
	static int idx[RT_N];
	for (int i = 0; i < RT_N; i++)
		idx[i] = i;
	rt_compare(out, idx, RT_N, jtt_symnames, g.sym);
	free(out);

	/* filters: a time window (ISO and ns), two types, two symbols */
	const struct shmbus_event_header *h1 = (const void *)rt_recs[RT_N / 4].b;
	const struct shmbus_event_header *h2 = (const void *)rt_recs[3 * RT_N / 4].b;
	int64_t from = h1->event_time_ns, to = h2->event_time_ns;
	char fbuf[64], tbuf[32];
	time_t fs = (time_t)(from / 1000000000);
	struct tm tm;
	gmtime_r(&fs, &tm);
	strftime(fbuf, sizeof(fbuf), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(fbuf + strlen(fbuf), sizeof(fbuf) - strlen(fbuf), ".%09lldZ",
	         (long long)(from % 1000000000));
	snprintf(tbuf, sizeof(tbuf), "%lld", (long long)to);
	char *fv[] = {
	    JOURNAL_BIN, "cat",         "--dir", jtt_jdir, "--bus", jtt_bus,   "--format",
	    "json",      "--from",      fbuf,    "--to",   tbuf,    "--types", "trade,indicator,35",
	    "--symbols", "SPY,BTC-USD", NULL};
	assert_int_equal(jtt_run(fv, &out), 0);
	int n = 0;
	for (int i = 0; i < RT_N; i++) {
		const struct shmbus_event_header *h = (const void *)rt_recs[i].b;
		int type_ok =
		    h->type == SHMBUS_EV_TRADE || h->type == SHMBUS_EV_INDICATOR || h->type == 35;
		int sym_ok = h->symbol_id == g.sym[0] || h->symbol_id == g.sym[3];
		if (h->event_time_ns >= from && h->event_time_ns < to && type_ok && sym_ok)
			idx[n++] = i;
	}
	assert_true(n > 100);
	rt_compare(out, idx, n, jtt_symnames, g.sym);
	free(out);
	jtt_teardown(b);
}

/* The first segment file of the journal dir. */
static void rt_first_segment(const char *dir, char *path, size_t len)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char best[256] = "";
	while (d && (de = readdir(d)) != NULL)
		if (strstr(de->d_name, ".shj") && (!best[0] || strcmp(de->d_name, best) < 0))
			snprintf(best, sizeof(best), "%s", de->d_name);
	if (d)
		closedir(d);
	snprintf(path, len, "%s/%s", dir, best);
}

static void test_journal_verify_names_bad_block(void **state)
{
	(void)state;
	shmbus_bus *b = jtt_setup();
	struct jtt_gen g;
	jtt_gen_init(&g, b, 7);
	rt_journal(b, &g);
	char *out;
	char *ok[] = {JOURNAL_BIN, "verify", "--dir", jtt_jdir, NULL};
	assert_int_equal(jtt_run(ok, &out), 0);
	assert_non_null(strstr(out, "OK segments="));
	free(out);

	char copy[200], cmd[600], seg[512], want[600];
	snprintf(copy, sizeof(copy), "%s/copy", jtt_shm);
	snprintf(cmd, sizeof(cmd), "cp -r %s %s", jtt_jdir, copy);
	assert_int_equal(system(cmd), 0);
	rt_first_segment(copy, seg, sizeof(seg));
	assert_int_equal(jtt_flip_byte(seg, 4096 + 64 + 100), 0);
	char *bad[] = {JOURNAL_BIN, "verify", "--dir", copy, NULL};
	assert_int_equal(jtt_run(bad, &out), 1);
	snprintf(want, sizeof(want), "BAD segment=%s offset=4096 ", seg);
	assert_non_null(strstr(out, want));
	free(out);
	jtt_teardown(b);
}

/* A bus with journald (fsync none) on it and a producer. */
static shmbus_bus *od_start(pid_t *jd, shmbus_producer **p)
{
	shmbus_bus *b = jtt_setup();
	char *av[] = {JOURNALD_BIN, "--bus", jtt_bus, "--dir", jtt_jdir, "--fsync", "none", NULL};
	*jd = jtt_spawn(av, "/dev/null", NULL);
	assert_int_equal(jtt_wait_ring(b, "journal", *jd), 0);
	assert_int_equal(shmbus_producer_open(b, NULL, p), 0);
	return b;
}

/* Let journald take everything, stop it (it must exit 0), close p. */
static void od_stop(shmbus_bus *b, pid_t jd, shmbus_producer *p)
{
	assert_int_equal(jtt_wait_drained(b, "journal", 20), 0);
	kill(jd, SIGTERM);
	assert_int_equal(jtt_wait(jd, 30), 0);
	shmbus_producer_close(p);
}

static void test_journal_cat_indicator_csv_rows(void **state)
{
	(void)state;
	shmbus_producer *p;
	pid_t jd;
	shmbus_bus *b = od_start(&jd, &p);
	uint32_t spy = (uint32_t)shmbus_symbol_intern(b, "SPY", 3);
	struct shmbus_indicator ind[3];
	memset(ind, 0, sizeof(ind));
	for (int i = 0; i < 3; i++) {
		ind[i].h.type = SHMBUS_EV_INDICATOR;
		ind[i].h.version = 1;
		ind[i].h.size = sizeof(ind[i]);
		ind[i].h.symbol_id = spy;
		ind[i].h.event_time_ns = 1700000001000000000ll + i;
	}
	ind[0].kind = SHMBUS_IND_SMA, ind[0].param[0] = 20, ind[0].value[0] = 101.25;
	ind[1].kind = SHMBUS_IND_MACD, ind[1].param[0] = 12, ind[1].param[1] = 26;
	ind[1].param[2] = 9, ind[1].value[0] = 0.5, ind[1].value[1] = 0.25, ind[1].value[2] = 0.25;
	ind[2].kind = SHMBUS_IND_BOLLINGER, ind[2].param[0] = 20, ind[2].param[1] = 2;
	ind[2].value[0] = 100, ind[2].value[1] = 104.5, ind[2].value[2] = 95.5;
	for (int i = 0; i < 3; i++)
		assert_int_equal(shmbus_publish(p, &ind[i]), 1);
	od_stop(b, jd, p);
	char *out;
	char *cv[] = {JOURNAL_BIN, "cat",     "--dir",     jtt_jdir, "--format",
	              "csv",       "--types", "indicator", NULL};
	assert_int_equal(jtt_run(cv, &out), 0);
	assert_string_equal(out, "event_time_ns,symbol,indicator,value\n"
	                         "1700000001000000000,SPY,sma20,101.25\n"
	                         "1700000001000000001,SPY,macd12_26_9,0.5\n"
	                         "1700000001000000001,SPY,macd12_26_9_signal,0.25\n"
	                         "1700000001000000001,SPY,macd12_26_9_hist,0.25\n"
	                         "1700000001000000002,SPY,bb20_2_middle,100\n"
	                         "1700000001000000002,SPY,bb20_2_upper,104.5\n"
	                         "1700000001000000002,SPY,bb20_2_lower,95.5\n");
	free(out);
	jtt_teardown(b);
}

/* Events no producer of ours would write, taken from the bus as they
 * are: journald must not size a table by a symbol id past the bus's
 * (2^31 looped forever), and a one-type CSV takes its header and rows
 * only from events of that type's own size. */
static void test_journal_odd_events_csv(void **state)
{
	(void)state;
	shmbus_producer *p;
	pid_t jd;
	shmbus_bus *b = od_start(&jd, &p);
	uint32_t spy = (uint32_t)shmbus_symbol_intern(b, "SPY", 3);
	struct {
		struct shmbus_trade t;
		uint64_t extra;
	} big;
	struct shmbus_trade t[2];
	memset(&big, 0, sizeof(big));
	memset(t, 0, sizeof(t));
	big.t.h.type = SHMBUS_EV_TRADE;
	big.t.h.size = sizeof(big); /* 64 bytes: not a trade's 56 */
	big.t.h.symbol_id = spy;
	big.t.h.event_time_ns = 1700000002000000000ll;
	for (int i = 0; i < 2; i++) {
		t[i].h.type = SHMBUS_EV_TRADE;
		t[i].h.version = 1;
		t[i].h.size = sizeof(t[i]);
		t[i].h.event_time_ns = 1700000002000000001ll + i;
		t[i].price = 10.5 + i;
		t[i].size = 100;
	}
	t[0].h.symbol_id = spy;
	t[1].h.symbol_id = 0x80000000u;
	assert_int_equal(shmbus_publish(p, &big), 1);
	for (int i = 0; i < 2; i++)
		assert_int_equal(shmbus_publish(p, &t[i]), 1);
	od_stop(b, jd, p);
	char *out;
	char *cv[] = {JOURNAL_BIN, "cat",     "--dir", jtt_jdir, "--format",
	              "csv",       "--types", "trade", NULL};
	assert_int_equal(jtt_run(cv, &out), 1); /* one event left out */
	assert_non_null(strstr(out, "event_time_ns,symbol,source_id,seq,price,size\n"
	                            "1700000002000000001,SPY,"));
	assert_non_null(strstr(out, ",10.5,100\n1700000002000000002,#2147483648,"));
	assert_non_null(strstr(out, ",11.5,100\n"));
	assert_null(strstr(out, "payload_hex"));
	free(out);
	jtt_teardown(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_journald_roundtrip_cat_equals_published),
	    cmocka_unit_test(test_journal_verify_names_bad_block),
	    cmocka_unit_test(test_journal_cat_indicator_csv_rows),
	    cmocka_unit_test(test_journal_odd_events_csv),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
