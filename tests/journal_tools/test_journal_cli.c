/*
 * test_journal_cli.c - the command lines of the journal tools: what they
 * refuse, with which exit status and message, and when.
 *
 * - Times: a date outside int64 ns (before 1677-09-21, after 2262-04-11,
 *   zones included) is a usage error naming the option, not a signed
 *   overflow that selects some other range (jtool_parse_time, and --from
 *   of shmbus-journal and shmbus-replay).
 * - A bus name with no segment in the directory is an error (exit 1), not
 *   an empty journal: verify said "OK segments=0", replay "replayed 0".
 * - shmbus-journal options that do not apply to the command are refused;
 *   verify --json prints one object, and so do verify and info --json
 *   that fail at run time; cat --format csv prints its header line when no
 *   event matches.
 * - shmbus-journald checks every option before it attaches the bus or
 *   writes DIR/<bus>.symbols: --block-kb not a multiple of 4, --types,
 *   --symbols, --capacity not a power of two.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "jtool.h"
#include "jtt.h"

/* Run argv; exit status; stdout and stderr in malloc'd strings. */
static int run2(char *const argv[], char **out, char **err)
{
	char po[200], pe[200];
	snprintf(po, sizeof(po), "%s/cli.out", jtt_shm);
	snprintf(pe, sizeof(pe), "%s/cli.err", jtt_shm);
	int rc = jtt_wait(jtt_spawn(argv, po, pe), 30);
	*out = jtt_slurp(po);
	*err = jtt_slurp(pe);
	unlink(po);
	unlink(pe);
	return rc;
}

/* argv must exit `want` with `msg` (and `msg2` when not NULL) on the first
 * line of stderr (the usage text may follow). */
static void expect(char *const argv[], int want, const char *msg, const char *msg2)
{
	char *out, *err;
	int rc = run2(argv, &out, &err);
	err[strcspn(err, "\n")] = '\0';
	if (rc != want || !strstr(err, msg) || (msg2 && !strstr(err, msg2)))
		fail_msg("%s %s %s: exit %d (want %d with '%s' '%s'); stderr: %s", argv[0], argv[1],
		         argv[2] ? argv[2] : "", rc, want, msg, msg2 ? msg2 : "", err);
	free(out);
	free(err);
}

/* n trades of bus jtt_bus into jtt_jdir, written by the library. */
/* n trades of source 3, seqs 1..n; the first `split` about symbol id 2,
 * the rest about symbol id 1 (split 0: no symbol, id 0, for all); event
 * times from 1700000000000000000 up, the last one's `last_time` if not 0. */
static void write_journal_split(int n, int split, int64_t last_time)
{
	struct shmbus_journal_writer *w = NULL;
	assert_int_equal(shmbus_journal_writer_open(jtt_jdir, jtt_bus, NULL, &w, NULL, NULL), 0);
	for (int i = 0; i < n; i++) {
		struct shmbus_trade t;
		memset(&t, 0, sizeof(t));
		t.h.type = SHMBUS_EV_TRADE;
		t.h.version = 1;
		t.h.size = sizeof(t);
		t.h.source_id = 3;
		t.h.symbol_id = split == 0 ? 0 : i < split ? 2 : 1;
		t.h.seq = (uint64_t)i + 1;
		t.h.event_time_ns = last_time && i == n - 1 ? last_time : 1700000000000000000ll + i;
		t.price = 1.5;
		t.size = 1;
		assert_int_equal(shmbus_journal_writer_append(w, &t.h), 0);
	}
	assert_int_equal(shmbus_journal_writer_close(w), 0);
}

static void write_journal(int n)
{
	write_journal_split(n, 0, 0);
}

/* The int64 ns range, exactly, and what lies past it. */
static void test_jtool_parse_time_range(void **state)
{
	(void)state;
	char why[JTOOL_WHY];
	int64_t t = 0;
	assert_int_equal(jtool_parse_time("2262-04-11T23:47:16.854775807Z", &t, why), 0);
	assert_true(t == INT64_MAX);
	assert_int_equal(jtool_parse_time("1677-09-21T00:12:43.145224192Z", &t, why), 0);
	assert_true(t == INT64_MIN);
	assert_int_equal(jtool_parse_time("1677-09-21T00:12:44Z", &t, why), 0);
	assert_true(t == -9223372036000000000ll);
	assert_int_equal(jtool_parse_time("1970-01-01T01:00:00+01:00", &t, why), 0);
	assert_true(t == 0);
	static const char *const out[] = {
	    "9999-01-01",
	    "0000-01-01",
	    "1000-01-01T00:00:00-23:59",
	    "2262-04-11T23:47:16.854775808Z",
	    "1677-09-21T00:12:43.145224191Z",
	    "2262-04-12",
	    "2262-04-11T23:47:17Z",
	    "2262-04-11T23:00:00-01:00",
	    /* epoch ns past int64 too (they read as "not a time") */
	    "9223372036854775808",
	    "-9223372036854775809",
	};
	for (size_t i = 0; i < sizeof(out) / sizeof(out[0]); i++) {
		why[0] = '\0';
		if (jtool_parse_time(out[i], &t, why) != -ERANGE || !strstr(why, "out of range"))
			fail_msg("%s: want -ERANGE, got t=%lld why='%s'", out[i], (long long)t,
			         why);
	}
	assert_int_equal(jtool_parse_time("2024-02-31", &t, why), -EINVAL);
	/* one reader with the collector's (tool_time.c): an offset's colon
	 * wants its minutes */
	assert_int_equal(jtool_parse_time("2024-02-01T10:00:00+05:", &t, why), -EINVAL);
	assert_int_equal(jtool_parse_time("2024-02-01T10:00:00+0530", &t, why), 0);
	assert_true(t == 1706761800000000000ll);
}

/* --from / --to out of range: exit 2 naming the option, before any file. */
static void test_journal_cli_time_out_of_range(void **state)
{
	(void)state;
	shmbus_bus *b = jtt_setup();
	write_journal(10);
	char *cat[] = {JOURNAL_BIN, "cat", "--dir", jtt_jdir, "--from", "9999-01-01", NULL};
	expect(cat, 2, "--from", "out of range");
	char *cat2[] = {JOURNAL_BIN, "cat", "--dir", jtt_jdir, "--to", "0000-01-01", NULL};
	expect(cat2, 2, "--to", "out of range");
	char *cat3[] = {
	    JOURNAL_BIN, "cat", "--dir", jtt_jdir, "--from", "1000-01-01T00:00:00-23:59", NULL};
	expect(cat3, 2, "--from", "out of range");
	char *rp[] = {REPLAY_BIN, "--bus",  jtt_bus,      "--dir",
	              jtt_jdir,   "--from", "9999-01-01", NULL};
	expect(rp, 2, "--from", "out of range");
	/* The last representable time still reads (no event is that late). */
	char *edge[] = {JOURNAL_BIN, "cat",    "--dir",
	                jtt_jdir,    "--from", "2262-04-11T23:47:16.854775807Z",
	                NULL};
	char *out, *err;
	assert_int_equal(run2(edge, &out, &err), 0);
	assert_string_equal(out, "");
	free(out);
	free(err);
	jtt_teardown(b);
}

/* A --bus (--journal-bus) with no segment in DIR: exit 1, saying so. */
static void test_journal_cli_unknown_bus_fails(void **state)
{
	(void)state;
	shmbus_bus *b = jtt_setup();
	write_journal(10);
	static const char *const cmds[] = {"verify", "info", "cat"};
	for (int i = 0; i < 3; i++) {
		char *av[] = {JOURNAL_BIN, (char *)cmds[i], "--dir", jtt_jdir,
		              "--bus",     "nonexist",      NULL};
		expect(av, 1, "no segment of bus nonexist in", jtt_jdir);
	}
	char *rp[] = {REPLAY_BIN, "--bus",         jtt_bus,    "--dir",
	              jtt_jdir,   "--journal-bus", "nonexist", NULL};
	expect(rp, 1, "no segment of bus nonexist in", jtt_jdir);
	/* The right name still works. */
	char *ok[] = {JOURNAL_BIN, "verify", "--dir", jtt_jdir, "--bus", jtt_bus, NULL};
	char *out, *err;
	assert_int_equal(run2(ok, &out, &err), 0);
	assert_non_null(strstr(out, "OK segments=1 blocks=1 events=10"));
	free(out);
	free(err);
	/* An empty directory (no --bus) was, and stays, an error. */
	char empty[200];
	snprintf(empty, sizeof(empty), "%s/empty", jtt_shm);
	assert_int_equal(mkdir(empty, 0700), 0);
	char *ev[] = {JOURNAL_BIN, "verify", "--dir", empty, NULL};
	expect(ev, 1, "no journal segment", empty);
	rmdir(empty);
	jtt_teardown(b);
}

/* A DIR holding the journals of two buses: without a journal bus, exit 2
 * naming the option that picks one. For shmbus-replay that is
 * --journal-bus (its --bus is the bus it publishes into): the message
 * said "name one with --bus", which a replay already had. */
static void test_journal_cli_several_buses_names_the_option(void **state)
{
	(void)state;
	shmbus_bus *b = jtt_setup();
	write_journal(10);
	struct shmbus_journal_writer *w = NULL; /* and one event of bus "other" */
	struct shmbus_trade t;
	memset(&t, 0, sizeof(t));
	t.h.type = SHMBUS_EV_TRADE;
	t.h.version = 1;
	t.h.size = sizeof(t);
	t.h.source_id = 4;
	t.h.seq = 1;
	t.h.event_time_ns = 1700000000000000000ll;
	assert_int_equal(shmbus_journal_writer_open(jtt_jdir, "other", NULL, &w, NULL, NULL), 0);
	assert_int_equal(shmbus_journal_writer_append(w, &t.h), 0);
	assert_int_equal(shmbus_journal_writer_close(w), 0);
	char *jv[] = {JOURNAL_BIN, "verify", "--dir", jtt_jdir, NULL};
	expect(jv, 2, "holds journals of several buses", "name one with --bus");
	char *rp[] = {REPLAY_BIN, "--bus", jtt_bus, "--dir", jtt_jdir, NULL};
	expect(rp, 2, "holds journals of several buses", "name one with --journal-bus");
	jtt_teardown(b);
}

/* The journal's symbols file (id,name lines). */
static void write_symbols(const char *lines)
{
	char path[300];
	snprintf(path, sizeof(path), "%s/%s.symbols", jtt_jdir, jtt_bus);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(lines, f);
	assert_int_equal(fclose(f), 0);
}

/* shmbus-replay of the journal at full speed, with --symbols when given,
 * replays `want` events and exits 0. */
static void expect_replayed(const char *symbols, long want)
{
	char *r[] = {REPLAY_BIN, "--bus",  jtt_bus, "--dir", jtt_jdir, "--speed",
	             "max",      "--json", symbols ? "--symbols" : NULL, (char *)symbols, NULL};
	char *out, *err;
	assert_int_equal(run2(r, &out, &err), 0);
	if (jtt_json_i64(out, "events") != want)
		fail_msg("replay --symbols %s: want %ld events: %s %s", symbols ? symbols : "(none)",
			 want, out, err);
	free(out);
	free(err);
}

/* A name the symbols file gives two ids (a bus recreated with other ids:
 * "2,AAPL" from before, "1,AAPL" after) selects the events of both, as
 * cat names them all AAPL: --symbols took the lowest id only, so cat and
 * replay left out the events journaled under the other. */
static void test_journal_cli_symbol_of_two_ids(void **state)
{
	(void)state;
	shmbus_bus *b = jtt_setup();
	write_journal_split(6, 3, 0);
	write_symbols("1,SPY\n2,AAPL\n1,AAPL\n");

	char *c[] = {JOURNAL_BIN, "cat", "--dir", jtt_jdir, "--symbols", "AAPL", NULL};
	char *out, *err;
	assert_int_equal(run2(c, &out, &err), 0);
	int lines = 0;
	for (const char *p = out; (p = strstr(p, "sym=AAPL")) != NULL; p++)
		lines++;
	if (lines != 6)
		fail_msg("cat --symbols AAPL: %d events of 6:\n%s", lines, out);
	free(out);
	free(err);

	expect_replayed("AAPL", 6);
	jtt_teardown(b);
}

/* Lines of out that hold what. */
static int count_of(const char *out, const char *what)
{
	int n = 0;
	for (const char *p = out; (p = strstr(p, what)) != NULL; p++)
		n++;
	return n;
}

/* A range without --to has no upper bound: cat and replay of the whole
 * journal, and --from INT64_MAX, take an event stamped INT64_MAX (they
 * left it out: the reader's "no bound" was "< INT64_MAX"). --symbols of
 * names the journal lacks still selects nothing, that event included. */
static void test_journal_cli_range_open_at_the_top(void **state)
{
	(void)state;
	shmbus_bus *b = jtt_setup();
	write_journal_split(3, 0, INT64_MAX); /* no symbol: --symbols NOPE selects none */
	write_symbols("1,SPY\n");

	char *out, *err;
	char *all[] = {JOURNAL_BIN, "cat", "--dir", jtt_jdir, "--format", "json", NULL};
	assert_int_equal(run2(all, &out, &err), 0);
	if (count_of(out, "\n") != 3)
		fail_msg("cat: want 3 events:\n%s", out);
	free(out);
	free(err);
	char *top[] = {JOURNAL_BIN, "cat",  "--dir",  jtt_jdir,
	               "--format",  "json", "--from", "9223372036854775807",
	               NULL};
	assert_int_equal(run2(top, &out, &err), 0);
	if (count_of(out, "\n") != 1 || count_of(out, "9223372036854775807") != 1)
		fail_msg("cat --from INT64_MAX: want the one event:\n%s", out);
	free(out);
	free(err);
	char *none[] = {JOURNAL_BIN, "cat", "--dir", jtt_jdir, "--symbols", "NOPE", NULL};
	assert_int_equal(run2(none, &out, &err), 0);
	if (out[0] != '\0')
		fail_msg("cat --symbols NOPE: want no event:\n%s", out);
	free(out);
	free(err);

	expect_replayed(NULL, 3);
	expect_replayed("NOPE", 0);
	jtt_teardown(b);
}

/* A CSV selection that matches no event still prints its header line:
 * the columns --help lists for the type (or the mixed set), so that a
 * day without alerts reads as an empty table, and `cat --format csv
 * --types indicator` equals the pipeline's --tap-csv of a run that had
 * no indicator (it printed nothing at all). */
static void test_journal_cli_csv_header_without_rows(void **state)
{
	(void)state;
	shmbus_bus *b = jtt_setup();
	write_journal(3);
	static const char *const want[][2] = {
	    {"threshold", "event_time_ns,symbol,source_id,seq,rule_id,direction,value,threshold,"
	                  "trigger_source,trigger_seq,origin_ns\n"},
	    {"indicator", "event_time_ns,symbol,indicator,value\n"},
	    {"quote", "event_time_ns,symbol,source_id,seq,bid,bid_size,ask,ask_size\n"},
	    {"40", "event_time_ns,symbol,source_id,seq,payload_hex\n"},
	    {"bar,quote", "event_time_ns,type,symbol,source_id,seq,fields\n"},
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		char *c[] = {JOURNAL_BIN, "cat", "--dir",   jtt_jdir,
		             "--format",  "csv", "--types", (char *)want[i][0],
		             NULL};
		char *out, *err;
		int rc = run2(c, &out, &err);
		if (rc != 0 || strcmp(out, want[i][1]) != 0)
			fail_msg("cat --format csv --types %s: exit %d, stdout '%s' (want '%s')",
			         want[i][0], rc, out, want[i][1]);
		free(out);
		free(err);
	}
	/* trades exist, none in the range: the trade columns */
	char *c[] = {JOURNAL_BIN, "cat",   "--dir", jtt_jdir, "--format", "csv",
	             "--types",   "trade", "--to",  "5",      NULL};
	char *out, *err;
	assert_int_equal(run2(c, &out, &err), 0);
	assert_string_equal(out, "event_time_ns,symbol,source_id,seq,price,size\n");
	free(out);
	free(err);
	jtt_teardown(b);
}

/* Options of one command are refused by the others; verify --json. A
 * bad replay --speed is refused too. */
static void test_journal_cli_options_per_command(void **state)
{
	(void)state;
	shmbus_bus *b = jtt_setup();
	write_journal(10);
	char *a[] = {JOURNAL_BIN, "cat", "--dir", jtt_jdir, "--json", NULL};
	expect(a, 2, "--json does not apply to cat", "--format json");
	char *c[] = {JOURNAL_BIN, "info", "--dir", jtt_jdir, "--format", "csv", NULL};
	expect(c, 2, "--format does not apply to info", NULL);
	char *d[] = {JOURNAL_BIN, "verify", "--dir", jtt_jdir, "--from", "0", NULL};
	expect(d, 2, "--from does not apply to verify", NULL);
	char *e[] = {JOURNAL_BIN, "info", "--dir", jtt_jdir, "--types", "trade", NULL};
	expect(e, 2, "--types does not apply to info", NULL);
	/* --to at or before --from (a swapped pair) selected nothing, exit 0 */
	char *g[] = {JOURNAL_BIN, "cat", "--dir", jtt_jdir, "--from", "200", "--to", "100", NULL};
	expect(g, 2, "--to", "is not after --from '200'");
	char *h[] = {REPLAY_BIN, "--bus", jtt_bus, "--dir",  jtt_jdir, "--from",
	             "2024-03-01T14:30:00Z", "--to", "2024-03-01T14:30:00Z", NULL};
	expect(h, 2, "--to", "is not after --from");
	/* replay's --speed: a blank before the factor was skipped (strtod) */
	char *f[] = {REPLAY_BIN, "--bus", jtt_bus, "--dir", jtt_jdir, "--speed", " 2", NULL};
	expect(f, 2, "--speed", "want max, 1 or a factor > 0");

	char *v[] = {JOURNAL_BIN, "verify", "--dir", jtt_jdir, "--json", NULL};
	char *out, *err;
	assert_int_equal(run2(v, &out, &err), 0);
	if (strncmp(out, "{\"ok\":true,", 11) || jtt_json_i64(out, "segments") != 1 ||
	    jtt_json_i64(out, "events") != 10 || jtt_json_i64(out, "seq_gaps") != 0)
		fail_msg("verify --json: %s", out);
	free(out);
	free(err);

	/* A damaged block: "ok":false and where, exit 1. */
	char seg[600];
	DIR *dd = opendir(jtt_jdir);
	struct dirent *de;
	seg[0] = '\0';
	while ((de = readdir(dd)) != NULL)
		if (strstr(de->d_name, ".shj"))
			snprintf(seg, sizeof(seg), "%.300s/%.255s", jtt_jdir, de->d_name);
	closedir(dd);
	assert_int_equal(jtt_flip_byte(seg, 4096 + 64 + 100), 0);
	assert_int_equal(run2(v, &out, &err), 1);
	if (strncmp(out, "{\"ok\":false,", 12) || jtt_json_i64(out, "offset") != 4096 ||
	    !strstr(out, seg))
		fail_msg("verify --json on a bad block: %s", out);
	free(out);
	free(err);
	jtt_teardown(b);
}

/* verify, info and replay --json that fail at run time (a segment that cannot be
 * opened, a bus with no segment) print one object saying what failed,
 * exit 1: they printed nothing on stdout, only a line on stderr, so a
 * script reading the JSON found none. */
static void test_journal_cli_json_says_runtime_failure(void **state)
{
	(void)state;
	shmbus_bus *b = jtt_setup();
	write_journal(10);
	char seg[400], *out, *err;
	/* a directory named like a segment: it cannot be opened as one */
	snprintf(seg, sizeof(seg), "%s/%s-00000000000000000001.shj", jtt_jdir, jtt_bus);
	assert_int_equal(mkdir(seg, 0750), 0);
	char *v[] = {JOURNAL_BIN, "verify", "--dir", jtt_jdir, "--json", NULL};
	assert_int_equal(run2(v, &out, &err), 1);
	if (strncmp(out, "{\"ok\":false,", 12) || !strstr(out, "\"error\":") ||
	    !strstr(out, seg) || !strstr(out, "cannot open segment"))
		fail_msg("verify --json on a segment it cannot open: '%s'; stderr: %s", out, err);
	free(out);
	free(err);
	assert_int_equal(rmdir(seg), 0);
	char *vb[] = {JOURNAL_BIN, "verify", "--dir", jtt_jdir, "--bus", "nosuch", "--json", NULL};
	char *ib[] = {JOURNAL_BIN, "info", "--dir", jtt_jdir, "--bus", "nosuch", "--json", NULL};
	char **nobus[] = {vb, ib};
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(run2(nobus[i], &out, &err), 1);
		if (strncmp(out, "{\"ok\":false,", 12) || !strstr(out, "no segment of bus nosuch"))
			fail_msg("%s --json, unknown bus: '%s'; stderr: %s", nobus[i][1], out, err);
		free(out);
		free(err);
	}
	char nodir[200];
	snprintf(nodir, sizeof(nodir), "%s/nosuch", jtt_jdir);
	char *vd[] = {JOURNAL_BIN, "verify", "--dir", nodir, "--bus", jtt_bus, "--json", NULL};
	char *id[] = {JOURNAL_BIN, "info", "--dir", nodir, "--bus", jtt_bus, "--json", NULL};
	char **gone[] = {vd, id};
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(run2(gone[i], &out, &err), 1);
		if (strncmp(out, "{\"ok\":false,", 12) || !strstr(out, nodir))
			fail_msg("%s --json, no such dir: '%s'; stderr: %s", gone[i][1], out, err);
		free(out);
		free(err);
	}
	/* replay --json too: it printed nothing when it failed before replaying */
	char *rb[] = {REPLAY_BIN, "--bus", jtt_bus, "--dir", jtt_jdir, "--journal-bus", "nosuch",
	              "--json", NULL};
	char *rd[] = {REPLAY_BIN, "--bus", jtt_bus, "--dir", nodir, "--json", NULL};
	char *ra[] = {REPLAY_BIN, "--bus", "nosuch-bus", "--dir", jtt_jdir, "--json", NULL};
	struct {
		char **argv;
		const char *says;
	} rp[] = {{rb, "no segment of bus nosuch"}, {rd, nodir}, {ra, "nosuch-bus"}};
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(run2(rp[i].argv, &out, &err), 1);
		if (strncmp(out, "{\"ok\":false,\"error\":", 20) || !strstr(out, rp[i].says) ||
		    strchr(out, '\n') != out + strlen(out) - 1)
			fail_msg("replay --json failing (%zu): '%s'; stderr: %s", i, out, err);
		free(out);
		free(err);
	}
	jtt_teardown(b);
}

/* Output that cannot be written (stdout on a full disk: /dev/full) is a
 * failure, exit 1 with a message: verify, info and replay exited 0 with
 * their report lost, so a script saw success and read nothing. */
static void test_journal_cli_output_failure_fails(void **state)
{
	(void)state;
	shmbus_bus *b = jtt_setup();
	write_journal(10);
	char pe[200];
	snprintf(pe, sizeof(pe), "%s/full.err", jtt_shm);
	char *verify[] = {JOURNAL_BIN, "verify", "--dir", jtt_jdir, NULL};
	char *verifyj[] = {JOURNAL_BIN, "verify", "--dir", jtt_jdir, "--json", NULL};
	char *info[] = {JOURNAL_BIN, "info", "--dir", jtt_jdir, NULL};
	char *infoj[] = {JOURNAL_BIN, "info", "--dir", jtt_jdir, "--json", NULL};
	char *cat[] = {JOURNAL_BIN, "cat", "--dir", jtt_jdir, "--format", "json", NULL};
	char *rp[] = {REPLAY_BIN, "--bus", jtt_bus, "--dir", jtt_jdir, "--json", NULL};
	char **all[] = {verify, verifyj, info, infoj, cat, rp};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		int rc = jtt_wait(jtt_spawn(all[i], "/dev/full", pe), 30);
		char *err = jtt_slurp(pe);
		if (rc != 1 || !strstr(err, "No space left on device (stdout)"))
			fail_msg("%s %s > /dev/full: exit %d (want 1, saying so); stderr: %s",
			         all[i][0], all[i][1], rc, err);
		/* one message, not one per failed line */
		assert_ptr_equal(strstr(err, "(stdout)"), strrchr(err, '('));
		free(err);
		/* the same command to a file still succeeds */
		char *out;
		assert_int_equal(jtt_run(all[i], &out), 0);
		assert_true(out[0] != '\0');
		free(out);
	}
	jtt_teardown(b);
}

/* An empty newest segment (a crash before its header was written) is
 * deleted by recovery, and journald must say so: it printed "intact: 0
 * blocks" for a file it had just deleted. */
static void test_journald_cli_recovery_says_empty_segment_deleted(void **state)
{
	(void)state;
	shmbus_bus *b = jtt_setup();
	write_journal(10);
	char seg[400], po[200];
	snprintf(seg, sizeof(seg), "%s/%s-09000000000000000000.shj", jtt_jdir, jtt_bus);
	int fd = open(seg, O_WRONLY | O_CREAT | O_TRUNC, 0640);
	assert_true(fd >= 0);
	close(fd);
	snprintf(po, sizeof(po), "%s/jd.out", jtt_shm);
	char *av[] = {JOURNALD_BIN, "--bus", jtt_bus, "--dir", jtt_jdir, "--ring", "jrec", NULL};
	pid_t pid = jtt_spawn(av, po, po);
	assert_int_equal(jtt_wait_ring(b, "jrec", pid), 0);
	kill(pid, SIGTERM);
	assert_int_equal(jtt_wait(pid, 10), 0);
	char *out = jtt_slurp(po);
	if (!strstr(out, "(file deleted)") || strstr(out, "intact"))
		fail_msg("journald on an empty newest segment: %s", out);
	assert_int_equal(access(seg, F_OK), -1);
	free(out);
	jtt_teardown(b);
}

/* Number of entries in jtt_jdir. */
static int dir_entries(void)
{
	int n = 0;
	DIR *d = opendir(jtt_jdir);
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL)
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	if (d)
		closedir(d);
	return n;
}

/* Every bad option is exit 2 naming the flag, with nothing written to the
 * journal directory and no ring made (the bus exists). */
static void test_journald_cli_checks_options_first(void **state)
{
	(void)state;
	shmbus_bus *b = jtt_setup();
	static const char *const bad[][3] = {
	    {"--block-kb", "3", "multiple of 4"},   {"--block-kb", "6", "multiple of 4"},
	    {"--block-kb", "0", "multiple of 4"},   {"--types", "bogus", "unknown event type"},
	    {"--block-kb", "16388", "multiple of 4"},
	    {"--symbols", ",,", "empty"},           {"--symbols", "SPY,", "comma"},
	    {"--capacity", "1000", "power of two"}, {"--capacity", "1", "not a number"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *av[] = {JOURNALD_BIN, "--bus", jtt_bus,           "--dir",           jtt_jdir,
		              "--ring",     "jcli",  (char *)bad[i][0], (char *)bad[i][1], NULL};
		expect(av, 2, bad[i][0], bad[i][2]);
		if (dir_entries() != 0)
			fail_msg("%s %s: the journal dir was written to", bad[i][0], bad[i][1]);
		assert_true(shmbus_stat_find_ring(b, "jcli") < 0);
	}
	/* A good --block-kb (4 KiB) and --capacity still run. */
	char *ok[] = {JOURNALD_BIN, "--bus",      jtt_bus, "--dir",      jtt_jdir, "--ring",
	              "jcli",       "--block-kb", "4",     "--capacity", "1024",   NULL};
	char po[200];
	snprintf(po, sizeof(po), "%s/jd.out", jtt_shm);
	pid_t pid = jtt_spawn(ok, po, po);
	assert_int_equal(jtt_wait_ring(b, "jcli", pid), 0);
	kill(pid, SIGTERM);
	assert_int_equal(jtt_wait(pid, 10), 0);
	jtt_teardown(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_jtool_parse_time_range),
	    cmocka_unit_test(test_journal_cli_time_out_of_range),
	    cmocka_unit_test(test_journal_cli_unknown_bus_fails),
	    cmocka_unit_test(test_journal_cli_several_buses_names_the_option),
	    cmocka_unit_test(test_journal_cli_symbol_of_two_ids),
	    cmocka_unit_test(test_journal_cli_range_open_at_the_top),
	    cmocka_unit_test(test_journal_cli_csv_header_without_rows),
	    cmocka_unit_test(test_journal_cli_options_per_command),
	    cmocka_unit_test(test_journal_cli_json_says_runtime_failure),
	    cmocka_unit_test(test_journal_cli_output_failure_fails),
	    cmocka_unit_test(test_journald_cli_checks_options_first),
	    cmocka_unit_test(test_journald_cli_recovery_says_empty_segment_deleted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
