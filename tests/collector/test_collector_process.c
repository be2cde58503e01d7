/*
 * test_collector_process.c - shmbus-collector as a process, for what only
 * a process shows: SIGTERM stops a paced replay that waits for a record due
 * far in the future (and the end-of-stream marker still goes out), and a
 * file where most rows are malformed exits 1 instead of passing for a run;
 * a --rate outside 0.001..1e9, a bad --symbols list or --columns map is a
 * usage error (exit 2); a symbol the bus cannot take ends the run (exit 1).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <time.h>

#include "pipeline/pl_test.h"

struct counts {
	unsigned trades, eos;
	uint64_t eos_out;
};

static void on_event(const struct shmbus_event_header *ev, void *ctx)
{
	struct counts *n = ctx;
	const struct shmbus_heartbeat *hb = shmbus_svc_as_status(ev, SHMBUS_SVC_EOS_MARKET);

	if (ev->type == SHMBUS_EV_TRADE)
		n->trades++;
	if (hb) {
		n->eos++;
		n->eos_out = hb->events_out;
	}
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void nap_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static void test_collector_process_sigterm_while_pacing(void **state)
{
	const char *csv = pt_path("gap.csv");
	char *argv[] = {COL_BIN, "--bus", "ct-pace", "--input", (char *)csv, "--speed", "1", NULL};
	struct counts n = {0};
	struct shmbus_sub_opts so;
	shmbus_bus *bus;
	shmbus_consumer *c;
	pid_t pid;
	int rc;

	/* The second record is due some 240 years after the first. */
	write_text(csv, "ts_ns,symbol,price,size\n"
	                "1381219217000000000,SPY,167.5,100\n"
	                "9000000000000000000,SPY,167.7,100\n");
	assert_int_equal(shmbus_bus_create("ct-pace", NULL, &bus), 0);
	shmbus_sub_opts_init(&so);
	assert_int_equal(shmbus_subscribe(bus, "check", &so, &c), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(pt_path("pace.err"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	/* Once the first trade is out, the collector is pacing the second. */
	for (int t = 0; t < 1000 && n.trades == 0; t++) {
		shmbus_poll(c, on_event, &n, 64);
		if (n.trades == 0)
			nap_ms(10);
	}
	assert_int_equal(n.trades, 1);
	nap_ms(100);
	kill(pid, SIGTERM);
	rc = pt_wait_exit(pid, 3);
	if (rc != 0)
		pt_show(pt_path("pace.err"));
	assert_int_equal(rc, 0); /* -1: SIGTERM ignored while pacing */
	while (shmbus_poll(c, on_event, &n, 64) > 0)
		;
	assert_int_equal(n.trades, 1);
	assert_int_equal(n.eos, 1); /* a stop is a normal end: the marker goes out */
	assert_int_equal(n.eos_out, 1);
	shmbus_consumer_close(c);
	shmbus_bus_close(bus);
	shmbus_bus_destroy("ct-pace");
}

static void test_collector_process_majority_malformed_fails(void **state)
{
	const char *bad = pt_path("poison.csv"), *few = pt_path("few.csv");
	/* No unit in the column name: guessed (seconds) from line 2, and the
	 * three ns rows after it are out of range. */
	char *argv_bad[] = {COL_BIN,     "--bus",     "ct-maj",  "--input",
	                    (char *)bad, "--columns", "ts=time", NULL};
	char *argv_few[] = {COL_BIN, "--bus", "ct-maj", "--input", (char *)few, NULL};
	char *argv_help[] = {COL_BIN, "--help", NULL};
	shmbus_bus *bus;
	char *text;

	write_text(bad, "time,symbol,price,size\n"
	                "1381219217,SPY,167.5,100\n"
	                "1381219217000000000,SPY,167.5,100\n"
	                "1381219218000000000,SPY,167.6,100\n"
	                "1381219219000000000,SPY,167.6,100\n");
	write_text(few, "ts_ns,symbol,price,size\n"
	                "1381219217000000000,SPY,167.5,100\n"
	                "1381219218000000000,SPY,abc,100\n"
	                "1381219219000000000,SPY,167.6,100\n");
	assert_int_equal(shmbus_bus_create("ct-maj", NULL, &bus), 0);
	assert_int_equal(pt_run(argv_bad, pt_path("bad.out"), pt_path("bad.err")), 1);
	assert_non_null(text = pt_slurp(pt_path("bad.err")));
	if (!strstr(text, "3 of 4 data rows malformed (more than half"))
		fprintf(stderr, "%s", text);
	assert_non_null(strstr(text, "3 of 4 data rows malformed (more than half"));
	assert_non_null(strstr(text, "(unit s, guessed from line 2)"));
	free(text);
	/* The report still comes: the run ended, its data was wrong. */
	assert_non_null(text = pt_slurp(pt_path("bad.out")));
	assert_non_null(strstr(text, "4 rows, 1 published"));
	free(text);
	/* One bad row in three is data, not a failure. */
	assert_int_equal(pt_run(argv_few, "/dev/null", "/dev/null"), 0);
	assert_int_equal(pt_run(argv_help, pt_path("help.out"), "/dev/null"), 0);
	assert_non_null(text = pt_slurp(pt_path("help.out")));
	assert_non_null(strstr(text, "more than half"));
	free(text);
	shmbus_bus_close(bus);
	shmbus_bus_destroy("ct-maj");
}

/* --rate outside 0.001..1e9 is a usage error naming the flag (exit 2,
 * before the bus is attached): 1e-300 used to overflow the generator's
 * clock (signed overflow; nonsense times in a release build). */
static void test_collector_process_rate_range(void **state)
{
	static const char *const bad[] = {"1e-300", "0.0009", "0", "-1", "nan", "inf", "1e10",
	                                  "abc", " 5"};
	char *text;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *argv[] = {COL_BIN, "--bus", "ct-none", "--events", "10", "--rate",
		                (char *)bad[i], NULL};
		assert_int_equal(pt_run(argv, "/dev/null", pt_path("rate.err")), 2);
		assert_non_null(text = pt_slurp(pt_path("rate.err")));
		if (!strstr(text, "--rate") || !strstr(text, bad[i]))
			fail_msg("--rate %s: %s", bad[i], text);
		free(text);
	}
	/* In range: on to attaching the bus (absent here: exit 1). */
	char *ok[] = {COL_BIN, "--bus", "ct-none", "--events", "10", "--rate", "0.001", NULL};
	assert_int_equal(pt_run(ok, "/dev/null", "/dev/null"), 1);
}

/* A bad generator --symbols list is a usage error naming it (exit 2)
 * before the bus is attached, as a bad --rate is: an empty list ran the
 * default symbols, and "A,,B" exited 1 when the bus was missing (the
 * list was read only after attaching). */
static void test_collector_process_symbols_checked_first(void **state)
{
	static const char *const bad[] = {"",    "A,,B", "A,",
	                                  "A B", "A,A",  "TOOLONGSYMBOLNAME1234567"};
	char *text;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *argv[] = {COL_BIN, "--bus",     "ct-none",      "--events",
		                "10",    "--symbols", (char *)bad[i], NULL};
		int rc = pt_run(argv, "/dev/null", pt_path("sym.err"));
		assert_non_null(text = pt_slurp(pt_path("sym.err")));
		if (rc != 2 || !strstr(text, "--symbols"))
			fail_msg("--symbols '%s': exit %d: %s", bad[i], rc, text);
		free(text);
	}
	/* A good list: on to attaching the bus (absent here: exit 1). */
	char *ok[] = {COL_BIN, "--bus", "ct-none", "--events", "10", "--symbols", "A,B", NULL};
	assert_int_equal(pt_run(ok, "/dev/null", "/dev/null"), 1);
}

/* A malformed --columns map is a usage error naming it (exit 2) before
 * the bus is attached: it was read only when the file was opened, after
 * attaching (exit 1, or a bus error). It is checked for the --kind given,
 * wherever that stands. */
static void test_collector_process_columns_checked_first(void **state)
{
	static const char *const bad[][2] = {{"trades", "foo"},
	                                     {"trades", "ts=time,bid=b"},
	                                     {"quotes", "price=px"},
	                                     {"trades", "size="}};
	char *text;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *argv[] = {COL_BIN, "--bus", "ct-none", "--input", "/nonexistent",
		                "--columns", (char *)bad[i][1], "--kind", (char *)bad[i][0], NULL};
		int rc = pt_run(argv, "/dev/null", pt_path("cols.err"));
		assert_non_null(text = pt_slurp(pt_path("cols.err")));
		if (rc != 2 || !strstr(text, "--columns") || !strstr(text, "column mapping"))
			fail_msg("--kind %s --columns '%s': exit %d: %s", bad[i][0], bad[i][1], rc,
			         text);
		free(text);
	}
	/* A good map: on to attaching the bus (absent here: exit 1). */
	char *ok[] = {COL_BIN,     "--bus",     "ct-none", "--input", "/nonexistent",
	              "--columns", "bid=bp", "--kind",  "quotes",  NULL};
	assert_int_equal(pt_run(ok, "/dev/null", "/dev/null"), 1);
}

/* Options that exclude each other are a usage error naming both (exit 2,
 * before the bus is attached): --synthetic --input F ran the CSV, and
 * --eos-only --no-eos published nothing and exited 0. */
static void test_collector_process_exclusive_options(void **state)
{
	static const char *const pairs[][3] = {{"--synthetic", "--input", "/nonexistent"},
	                                       {"--eos-only", "--no-eos", NULL}};
	char *text;

	(void)state;
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		char *argv[] = {COL_BIN, "--bus", "ct-none", (char *)pairs[i][0],
		                (char *)pairs[i][1], (char *)pairs[i][2], NULL};
		int rc = pt_run(argv, "/dev/null", pt_path("excl.err"));
		assert_non_null(text = pt_slurp(pt_path("excl.err")));
		if (rc != 2 || !strstr(text, pairs[i][0]) || !strstr(text, pairs[i][1]))
			fail_msg("%s %s: exit %d: %s", pairs[i][0], pairs[i][1], rc, text);
		free(text);
	}
}

/* A path that is not UTF-8 (any bytes but '/' and NUL make a file name)
 * is escaped in the --stats-json file, byte by byte: it went out raw and
 * the file was no valid JSON. */
static void test_collector_process_stats_json_path_not_utf8(void **state)
{
	const char *csv = pt_path("caf\xc3\xa9-\xff.csv"), *js = pt_path("col.json");
	char *argv[] = {COL_BIN, "--bus", "ct-json", "--input", (char *)csv, "--stats-json",
	                (char *)js, NULL};
	shmbus_bus *bus;
	char *text;

	(void)state;
	write_text(csv, "ts_ns,symbol,price,size\n1381219217000000000,SPY,167.5,100\n");
	assert_int_equal(shmbus_bus_create("ct-json", NULL, &bus), 0);
	assert_int_equal(pt_run(argv, "/dev/null", "/dev/null"), 0);
	assert_non_null(text = pt_slurp(js));
	if (!strstr(text, "caf\xc3\xa9-\\u00ff.csv\""))
		fail_msg("input not escaped: %s", text);
	assert_null(strchr(text, '\xff'));
	free(text);
	shmbus_bus_close(bus);
	shmbus_bus_destroy("ct-json");
}

/* A --stats-json file that cannot be written (its folder is missing) is
 * a usage error naming it, before the bus is attached: it was found at
 * exit, a warning after the whole run, and the exit code was 0. */
static void test_collector_process_stats_json_checked_first(void **state)
{
	const char *js = pt_path("missing/col.json");
	char *argv[] = {COL_BIN, "--bus", "ct-none", "--events", "10", "--stats-json", (char *)js,
	                NULL};
	char *text;

	(void)state;
	assert_int_equal(pt_run(argv, "/dev/null", pt_path("sj.err")), 2);
	assert_non_null(text = pt_slurp(pt_path("sj.err")));
	if (!strstr(text, "--stats-json") || !strstr(text, js))
		fail_msg("%s", text);
	free(text);
}

/* Collect a CSV of n trades of n symbols (S00, S01... two digits at
 * least) into a new bus `name` of max_symbols; *bus is it, *text the
 * collector's stdout when it exits 0, else its stderr (free it). Returns
 * the exit status. */
static int run_distinct_symbols(const char *name, uint32_t max_symbols, int n, shmbus_bus **bus,
				char **text)
{
	const char *csv = pt_path("syms.csv");
	char *argv[] = {COL_BIN, "--bus", (char *)name, "--input", (char *)csv, NULL};
	struct shmbus_bus_opts bo;
	FILE *f;

	assert_non_null(f = fopen(csv, "w"));
	fputs("ts_ns,symbol,price,size\n", f);
	for (int i = 0; i < n; i++)
		fprintf(f, "%lld,S%02d,10.5,1\n", 1381219217000000000LL + i, i);
	fclose(f);
	shmbus_bus_opts_init(&bo);
	bo.max_symbols = max_symbols;
	assert_int_equal(shmbus_bus_create(name, &bo, bus), 0);
	int rc = pt_run(argv, pt_path("syms.out"), pt_path("syms.err"));
	assert_non_null(*text = pt_slurp(pt_path(rc == 0 ? "syms.out" : "syms.err")));
	return rc;
}

/* A symbol the bus cannot take (its table is full) ends the run with
 * exit 1 and a message naming the symbol and its line: the message read
 * the symbol from the CSV mapping after the reader had unmapped it, and
 * the collector died of SIGSEGV (and from the generator after freeing it). */
static void test_collector_process_symbol_table_full(void **state)
{
	shmbus_bus *bus;
	char *text;

	(void)state;
	int rc = run_distinct_symbols("ct-full", 16, 20, &bus, &text);
	if (rc != 1 || !strstr(text, "interning symbol 'S16' (line 18) failed"))
		fail_msg("exit %d: %s", rc, text);
	free(text);
	/* The generator's symbols too (the table is full: T0 fails; the read
	 * after the generator freed it shows in a sanitizer build). */
	char *argv_syn[] = {COL_BIN, "--bus", "ct-full", "--events", "10", "--symbols", "T0", NULL};
	rc = pt_run(argv_syn, "/dev/null", pt_path("full.err"));
	assert_non_null(text = pt_slurp(pt_path("full.err")));
	if (rc != 1 || !strstr(text, "interning symbol 'T0' (line 0)"))
		fail_msg("--symbols: exit %d: %s", rc, text);
	free(text);
	shmbus_bus_close(bus);
	shmbus_bus_destroy("ct-full");
}

/* Every symbol the bus can take is published: the collector's local
 * name table held at most 4096 names whatever the bus's max_symbols, and
 * the 4097th distinct symbol of a file ended the run (exit 1). */
static void test_collector_process_symbols_past_local_table(void **state)
{
	shmbus_bus *bus;
	char *text;

	(void)state;
	int rc = run_distinct_symbols("ct-many", 8192, 5000, &bus, &text);
	if (rc != 0 || !strstr(text, "5000 published (5000 trades, 0 quotes), 0 malformed, "
	                             "5000 symbols"))
		fail_msg("exit %d: %s", rc, text);
	free(text);
	assert_int_equal(shmbus_symbol_count(bus), 5000);
	shmbus_bus_close(bus);
	shmbus_bus_destroy("ct-many");
}

/* --allow-nonpositive-prices publishes trades at zero or negative
 * prices, which are malformed rows without it (the default). */
static void test_collector_process_allow_nonpositive_prices(void **state)
{
	const char *csv = pt_path("neg.csv");
	char *argv[] = {COL_BIN, "--bus", "ct-neg", "--input", (char *)csv, NULL, NULL};
	struct shmbus_sub_opts so;
	struct counts n = {0};
	shmbus_consumer *c;
	shmbus_bus *bus;
	char *text;

	(void)state;
	write_text(csv, "ts_ns,symbol,price,size\n"
	                "1587412800000000000,CLK0,-37.63,5\n"
	                "1587412800000000001,CLK0,0,1\n"
	                "1587412800000000002,CLK0,10.01,1\n");
	assert_int_equal(shmbus_bus_create("ct-neg", NULL, &bus), 0);
	shmbus_sub_opts_init(&so);
	assert_int_equal(shmbus_subscribe(bus, "check", &so, &c), 0);
	/* Two of three rows malformed: more than half, exit 1. */
	assert_int_equal(pt_run(argv, pt_path("neg.out"), "/dev/null"), 1);
	assert_non_null(text = pt_slurp(pt_path("neg.out")));
	assert_non_null(strstr(text, "3 rows, 1 published"));
	free(text);
	argv[5] = "--allow-nonpositive-prices";
	assert_int_equal(pt_run(argv, pt_path("neg.out"), "/dev/null"), 0);
	assert_non_null(text = pt_slurp(pt_path("neg.out")));
	assert_non_null(strstr(text, "3 rows, 3 published (3 trades, 0 quotes), 0 malformed"));
	free(text);
	while (shmbus_poll(c, on_event, &n, 64) > 0)
		;
	assert_int_equal(n.trades, 4);
	assert_int_equal(n.eos, 2);
	/* --events limits a CSV run as it does the generator's: 0 publishes
	 * no trade (it published every row, as if no limit were given) */
	char *none[] = {COL_BIN,    "--bus",    "ct-neg", "--input", (char *)csv,
	                "--events", "0",        "--allow-nonpositive-prices", NULL};
	assert_int_equal(pt_run(none, pt_path("neg.out"), "/dev/null"), 0);
	none[6] = "2";
	assert_int_equal(pt_run(none, pt_path("neg.out"), "/dev/null"), 0);
	n = (struct counts){0};
	while (shmbus_poll(c, on_event, &n, 64) > 0)
		;
	assert_int_equal(n.trades, 2);
	assert_int_equal(n.eos, 2);
	shmbus_consumer_close(c);
	shmbus_bus_close(bus);
	shmbus_bus_destroy("ct-neg");
}

/* What a failed run leaves in a ring: the failure events, and whether the
 * end-of-stream marker came after the last of them. */
struct ending {
	unsigned failed, eos, eos_after_failure;
};

static void on_ending(const struct shmbus_event_header *ev, void *ctx)
{
	struct ending *e = ctx;

	if (ev->type == SHMBUS_EV_COLLECTION_FAILED) {
		e->failed++;
		e->eos_after_failure = 0;
	} else if (shmbus_svc_as_status(ev, SHMBUS_SVC_EOS_MARKET)) {
		e->eos++;
		e->eos_after_failure = e->failed > 0;
	}
}

/* The input file cut short while the collector reads it (a feed file
 * truncated or rotated in place): the next read of its mapping past the new
 * end was a SIGBUS that killed the collector with no word. It now stops
 * with exit 1, saying so, after a collection-failed event and before the
 * end-of-stream marker; what it had published stays delivered. */
static void test_collector_process_input_cut_short(void **state)
{
	const char *csv = pt_path("cut.csv");
	char *argv[] = {COL_BIN, "--bus", "ct-cut", "--input", (char *)csv, "--speed", "1", NULL};
	struct shmbus_sub_opts so;
	struct counts n = {0};
	shmbus_consumer *c;
	shmbus_bus *bus;
	FILE *f;

	(void)state;
	assert_non_null(f = fopen(csv, "w"));
	fputs("ts_ns,symbol,price,size\n", f);
	for (int i = 0; i < 200; i++) /* a row a second: it reads, then waits */
		fprintf(f, "%lld,IBM,182.5,100\n", 1381219217000000000LL + i * 1000000000LL);
	fclose(f);
	assert_int_equal(shmbus_bus_create("ct-cut", NULL, &bus), 0);
	shmbus_sub_opts_init(&so);
	so.slot_size = 128; /* the end-of-stream marker is a heartbeat */
	so.types = SHMBUS_TYPE_BIT(SHMBUS_EV_TRADE) | SHMBUS_TYPE_BIT(SHMBUS_EV_COLLECTION_FAILED) |
	           SHMBUS_TYPE_BIT(SHMBUS_EV_HEARTBEAT);
	assert_int_equal(shmbus_subscribe(bus, "cut", &so, &c), 0);
	pid_t pid = pt_spawn(argv, pt_path("cut.err"), 0);
	for (int i = 0; i < 1000 && n.trades == 0; i++) {
		shmbus_poll(c, on_event, &n, 16);
		nap_ms(10);
	}
	assert_true(n.trades > 0); /* it is reading */
	assert_int_equal(truncate(csv, 0), 0);
	int rc = pt_wait_exit(pid, 30);
	char *text = pt_slurp(pt_path("cut.err"));
	assert_non_null(text);
	if (rc != 1 || !strstr(text, "cut short while being read"))
		fail_msg("exit %d, want 1 with a message: %s", rc, text);
	free(text);
	struct ending e = {0};
	while (shmbus_poll(c, on_ending, &e, 16) > 0)
		;
	assert_int_equal(e.failed, 1);
	assert_int_equal(e.eos, 1); /* the stream ended, after the failure */
	assert_true(e.eos_after_failure);
	shmbus_consumer_close(c);
	shmbus_bus_close(bus);
	shmbus_bus_destroy("ct-cut");
}

/* Run @argv (exit 1 expected, @msg in its stderr) on bus @name while a
 * ring takes failures and heartbeats; check that the run published a
 * failure event and then the end-of-stream marker. */
static void expect_failed_run_ends_stream(shmbus_bus *bus, char *const argv[], const char *msg)
{
	struct shmbus_sub_opts so;
	struct ending e = {0};
	shmbus_consumer *c;
	char *text;

	shmbus_sub_opts_init(&so);
	so.slot_size = 128;
	so.types = SHMBUS_TYPE_BIT(SHMBUS_EV_COLLECTION_FAILED) | SHMBUS_TYPE_BIT(SHMBUS_EV_HEARTBEAT);
	assert_int_equal(shmbus_subscribe(bus, "ending", &so, &c), 0);
	int rc = pt_run(argv, "/dev/null", pt_path("ending.err"));
	assert_non_null(text = pt_slurp(pt_path("ending.err")));
	if (rc != 1 || !strstr(text, msg))
		fail_msg("exit %d, want 1 with '%s': %s", rc, msg, text);
	free(text);
	while (shmbus_poll(c, on_ending, &e, 64) > 0)
		;
	if (e.failed == 0 || e.eos != 1 || !e.eos_after_failure)
		fail_msg("%s: %u failure events, %u markers, marker after them: %u", argv[4],
		         e.failed, e.eos, e.eos_after_failure);
	shmbus_consumer_close(c);
	shmbus_ring_remove(bus, "ending");
}

/* A run that fails (exit 1: a symbol the bus cannot take, an input it
 * cannot read) still ends the stream: a collection-failed event says why,
 * then the end-of-stream marker goes out, so that a ta started on its
 * own on the bus flushes and forwards the end instead of waiting for
 * more forever (only a normal end published the marker). */
static void test_collector_process_failure_ends_stream(void **state)
{
	const char *csv = pt_path("fail.csv");
	char *argv_full[] = {COL_BIN, "--bus", "ct-fail", "--input", (char *)csv, NULL};
	char *argv_syn[] = {COL_BIN, "--bus", "ct-fail", "--symbols", "T0", "--events", "10", NULL};
	char *argv_none[] = {COL_BIN, "--bus", "ct-fail", "--input", "/nonexistent", NULL};
	struct shmbus_bus_opts bo;
	shmbus_bus *bus;
	FILE *f;

	(void)state;
	assert_non_null(f = fopen(csv, "w"));
	fputs("ts_ns,symbol,price,size\n", f);
	for (int i = 0; i < 20; i++)
		fprintf(f, "%lld,S%02d,10.5,1\n", 1381219217000000000LL + i, i);
	fclose(f);
	shmbus_bus_opts_init(&bo);
	bo.max_symbols = 16;
	assert_int_equal(shmbus_bus_create("ct-fail", &bo, &bus), 0);
	expect_failed_run_ends_stream(bus, argv_full, "interning symbol 'S16' (line 18) failed");
	expect_failed_run_ends_stream(bus, argv_syn, "interning symbol 'T0'");
	expect_failed_run_ends_stream(bus, argv_none, "cannot read input");
	shmbus_bus_close(bus);
	shmbus_bus_destroy("ct-fail");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_collector_process_sigterm_while_pacing),
	    cmocka_unit_test(test_collector_process_rate_range),
	    cmocka_unit_test(test_collector_process_symbols_checked_first),
	    cmocka_unit_test(test_collector_process_columns_checked_first),
	    cmocka_unit_test(test_collector_process_exclusive_options),
	    cmocka_unit_test(test_collector_process_stats_json_path_not_utf8),
	    cmocka_unit_test(test_collector_process_stats_json_checked_first),
	    cmocka_unit_test(test_collector_process_majority_malformed_fails),
	    cmocka_unit_test(test_collector_process_symbol_table_full),
	    cmocka_unit_test(test_collector_process_symbols_past_local_table),
	    cmocka_unit_test(test_collector_process_allow_nonpositive_prices),
	    cmocka_unit_test(test_collector_process_input_cut_short),
	    cmocka_unit_test(test_collector_process_failure_ends_stream),
	};
	return cmocka_run_group_tests(tests, pt_setup, pt_teardown);
}
