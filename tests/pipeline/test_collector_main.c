/*
 * test_collector_main.c - shmbus-collector as a process: a CSV with
 * malformed rows publishes exactly its good rows, reports each bad row as
 * file:line on stderr and as a collection_failed event (plus a summary),
 * and ends with the end-of-stream marker; bad invocations exit 1 or 2.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "pl_test.h"

#define MAX_EV 64

struct got {
	unsigned n;
	union {
		struct shmbus_event_header h;
		struct shmbus_trade t;
		struct shmbus_collection_failed f;
		struct shmbus_heartbeat hb;
		unsigned char raw[SHMBUS_EVENT_MAX];
	} ev[MAX_EV];
};

static void on_got(const struct shmbus_event_header *ev, void *ctx)
{
	struct got *g = ctx;

	if (g->n < MAX_EV && ev->size <= SHMBUS_EVENT_MAX)
		memcpy(g->ev[g->n++].raw, ev, ev->size);
}

static const char csv_text[] = "ts_ns,symbol,price,size,exchange\n"     /* line 1 */
                               "1381236469457000000,IBM,182.10,300,N\n" /* 2: ok */
                               "1381236469458000000,IBM,18x.10,300,N\n" /* 3: bad number */
                               "1381236469459000000,IBM,182.20,100\n"   /* 4: too few columns */
                               "1381236469460000000,MSFT,33.5,200,Q\n"  /* 5: ok */
                               "1381236469461000000,IBM,-1,100,N\n"     /* 6: bad price */
                               "1381236469462000000,IBM,182.30,50,N\n"; /* 7: ok */

static void test_collector_main_malformed_rows_reported_not_published(void **state)
{
	const char *csv = pt_path("trades.csv");
	char *argv[] = {PL_BIN_COLLECTOR, "--bus",       "pt-col", "--input",
	                (char *)csv,      "--source-id", "1",      NULL};
	static struct got g;
	struct shmbus_sub_opts so;
	shmbus_bus *bus;
	shmbus_consumer *c;
	char *err, want[600];
	FILE *f = fopen(csv, "w");
	unsigned trades = 0, fails = 0;

	assert_non_null(f);
	fputs(csv_text, f);
	fclose(f);
	memset(&g, 0, sizeof(g));
	assert_int_equal(shmbus_bus_create("pt-col", NULL, &bus), 0);
	shmbus_sub_opts_init(&so); /* every type */
	assert_int_equal(shmbus_subscribe(bus, "check", &so, &c), 0);
	assert_int_equal(pt_run(argv, pt_path("col.out"), pt_path("col.err")), 0);
	while (shmbus_poll(c, on_got, &g, 64) > 0)
		;
	/* stderr names file:line of each bad row. */
	assert_non_null(err = pt_slurp(pt_path("col.err")));
	for (int line = 3; line <= 6; line += (line == 4 ? 2 : 1)) {
		snprintf(want, sizeof(want), "%s:%d:", csv, line);
		if (!strstr(err, want))
			fprintf(stderr, "missing '%s' in:\n%s", want, err);
		assert_non_null(strstr(err, want));
	}
	snprintf(want, sizeof(want), "%s:2:", csv);
	assert_null(strstr(err, want));
	free(err);

	static const double prices[3] = {182.10, 33.5, 182.30};
	static const uint32_t bad_lines[4] = {3, 4, 6, 0}; /* 0: the summary */
	for (unsigned i = 0; i < g.n; i++) {
		const struct shmbus_event_header *h = &g.ev[i].h;
		if (h->type == SHMBUS_EV_TRADE) {
			assert_true(trades < 3);
			assert_true(g.ev[i].t.price == prices[trades]);
			trades++;
		} else if (h->type == SHMBUS_EV_COLLECTION_FAILED) {
			assert_true(fails < 4);
			assert_int_equal(g.ev[i].f.line, bad_lines[fails]);
			assert_true(g.ev[i].f.error < 0);
			fails++;
		}
	}
	assert_int_equal(trades, 3);
	assert_int_equal(fails, 4);
	assert_non_null(strstr(g.ev[g.n - 2].f.reason, "3 malformed rows"));
	/* The end-of-stream marker comes last: rows read, events published. */
	const struct shmbus_heartbeat *hb =
	    shmbus_svc_as_status(&g.ev[g.n - 1].h, SHMBUS_SVC_EOS_MARKET);
	assert_non_null(hb);
	assert_int_equal(hb->events_in, 6);
	assert_int_equal(hb->events_out, 3);
	assert_true(shmbus_symbol_lookup(bus, "MSFT", 4) > 0);
	shmbus_consumer_close(c);
	shmbus_bus_close(bus);
	shmbus_bus_destroy("pt-col");
}

static void test_collector_main_bad_invocations(void **state)
{
	char *no_bus[] = {PL_BIN_COLLECTOR, "--bus", "pt-absent", "--events", "10", NULL};
	char *bad_kind[] = {PL_BIN_COLLECTOR, "--kind", "bars", NULL};
	char *bad_speed[] = {PL_BIN_COLLECTOR, "--speed", "-3", NULL};
	char *missing[] = {PL_BIN_COLLECTOR,   "--bus", "pt-col2", "--input",
	                   "/nonexistent.csv", NULL};
	shmbus_bus *bus;
	char *err;

	assert_int_equal(pt_run(no_bus, "/dev/null", pt_path("nobus.err")), 1);
	assert_non_null(err = pt_slurp(pt_path("nobus.err")));
	assert_non_null(strstr(err, "pt-absent"));
	free(err);
	assert_int_equal(pt_run(bad_kind, "/dev/null", "/dev/null"), 2);
	assert_int_equal(pt_run(bad_speed, "/dev/null", "/dev/null"), 2);
	assert_int_equal(shmbus_bus_create("pt-col2", NULL, &bus), 0);
	assert_int_equal(pt_run(missing, "/dev/null", pt_path("missing.err")), 1);
	assert_non_null(err = pt_slurp(pt_path("missing.err")));
	assert_non_null(strstr(err, "/nonexistent.csv"));
	free(err);
	shmbus_bus_close(bus);
	shmbus_bus_destroy("pt-col2");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_collector_main_malformed_rows_reported_not_published),
	    cmocka_unit_test(test_collector_main_bad_invocations),
	};
	return cmocka_run_group_tests(tests, pt_setup, pt_teardown);
}
