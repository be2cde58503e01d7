/*
 * shmbus-collector - publishes market data into a bus.
 *
 * Input is a trades or quotes CSV file (--input) or, by default, the
 * synthetic generator. Each record becomes one shmbus_trade / shmbus_quote
 * event, written in place (claim, fill, commit) with the record's time as
 * event time; symbols are interned into the bus once and then found in a
 * small local table, so the hot loop takes no lock. Pacing maps event time
 * onto the monotonic clock (--speed 1 keeps the original timing, N is N
 * times faster, max does not wait).
 *
 * A trade price <= 0 or a negative quote price is a malformed row unless
 * --allow-nonpositive-prices is given (spreads and some futures trade at
 * such prices; for other data it catches a wrong column or a placeholder).
 *
 * A malformed CSV row is never published: the reader skips it, and this
 * program prints it as "file:line: column 'c': message", publishes one
 * shmbus_collection_failed event for it and, at the end, one more as a
 * summary (line 0). When the input ends the collector publishes the end of
 * stream marker (a heartbeat with status SHMBUS_SVC_EOS_MARKET) so the
 * stages downstream flush and pass the end on; so does a run that fails
 * (a symbol the bus cannot take, an input it cannot read or that is cut
 * short), after a collection-failed event that says why.
 *
 * Pacing sleeps in slices of at most COL_PACE_SLICE_NS and checks the stop
 * request between them, so SIGTERM/SIGINT stop a paced replay at once, as
 * they stop an unpaced one: the record being waited for is not published,
 * the end-of-stream marker and the report are.
 *
 * Exit codes: 0 ok (a few malformed rows included: they are data, not
 * failures), 1 runtime failure (bus, input file) or more than half of the
 * data rows malformed (the wrong file, columns or unit: publishing the rest
 * as a success would hide it), 2 usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <shmbus/shmbus.h>

#include "csv_reader.h"
#include "pacing.h"
#include "svc.h"
#include "synth.h"

#define TOOL              "shmbus-collector"
#define COL_PACE_SLICE_NS 50000000 /* longest sleep between stop checks */

static const char usage_text[] =
    "usage: shmbus-collector [options]\n"
    "Publishes trades and quotes into a bus: from a CSV file (--input) or from the\n"
    "synthetic market generator (the default).\n"
    "  --input FILE        CSV file with a header row (see --columns)\n"
    "  --kind trades|quotes  what the file holds (default trades)\n"
    "  --columns MAP       header names that differ from the defaults, e.g.\n"
    "                      ts=time,size=qty (trades: ts_ns,symbol,price,size;\n"
    "                      quotes: ts_ns,symbol,bid_price,bid_size,ask_price,ask_size)\n"
    "  --ts-unit UNIT      auto (default), ns, us, ms, s or iso\n"
    "  --allow-nonpositive-prices  accept trade prices <= 0 and negative quote\n"
    "                      prices (spreads, some futures); by default such a row\n"
    "                      is malformed\n"
    "  --speed S           max (default), 1 = original timing, N = N times faster\n"
    "  --synthetic         use the generator (default when --input is not given;\n"
    "                      not with --input)\n"
    "  --symbols LIST      generator symbols, e.g. AAA,BBB (default SYN00..SYN07)\n"
    "  --rate R            generator events per second of event time, 0.001..1e9\n"
    "                      (default 1000)\n"
    "  --events N          generator: events to publish (default 100000);\n"
    "                      CSV: stop after N records (default: all; 0: none)\n"
    "  --seed S            generator seed (default 1)\n"
    "  --max-report N      print at most N malformed rows (default 100)\n"
    "  --no-eos            do not publish the end-of-stream marker\n"
    "  --eos-only          publish only the end-of-stream marker and exit (not with\n"
    "                      --no-eos)\n"
    "%s"
    "  --help              this text\n"
    "  --version           the version (first argument)\n"
    "Exit codes: 0 ok (malformed rows are skipped and reported), 1 runtime failure\n"
    "or more than half of the CSV data rows malformed, 2 usage.\n";

_Static_assert(SHMBUS_MD_SYMBOL_MAX == SHMBUS_SYMBOL_MAX, "the collector takes every bus symbol");

struct col_sym {
	char name[SHMBUS_MD_SYMBOL_MAX + 1];
	uint32_t len;
	uint32_t id; /* 0: free */
};

struct collector {
	struct shmbus_svc_opts so;
	const char *input;
	enum shmbus_md_kind kind;
	const char *columns;
	enum shmbus_ts_unit ts_unit;
	double speed;
	const char *symbols;
	double rate;
	uint64_t events; /* CSV: a limit only when events_set */
	int events_set;
	uint64_t seed;
	uint64_t max_report;
	int synthetic, no_eos, eos_only, any_price;

	shmbus_bus *bus;
	shmbus_producer *p;
	struct col_sym *symtab; /* symcap entries: twice the bus's max_symbols */
	uint32_t symcap, nsyms;
	uint64_t trades, quotes, failures_published, reported, malformed;
	uint64_t rows;
};

/* One option of the collector's own (struct shmbus_svc_cli.own): 0, 2
 * on a usage error, -ENOENT for no option of the collector. */
static int col_own_opt(void *ctx, int opt, const char *name, const char *arg)
{
	struct collector *c = ctx;
	int u;

	(void)name;
	switch (opt) {
	case 'i':
		c->input = arg;
		return 0;
	case 'k':
		if ((u = shmbus_md_kind_from_name(arg)) < 0)
			return shmbus_svc_usage_error(TOOL, "--kind '%s': expected trades or quotes",
						      arg);
		c->kind = (enum shmbus_md_kind)u;
		return 0;
	case 'c':
		c->columns = arg;
		return 0;
	case 'u':
		if ((u = shmbus_ts_unit_from_name(arg)) < 0)
			return shmbus_svc_usage_error(
			    TOOL, "--ts-unit '%s': expected auto, ns, us, ms, s or iso", arg);
		c->ts_unit = (enum shmbus_ts_unit)u;
		return 0;
	case 's':
		if (shmbus_svc_parse_speed(arg, &c->speed) != 0)
			return shmbus_svc_usage_error(
			    TOOL, "--speed '%s': expected max or a positive number", arg);
		return 0;
	case 'y': {
		/* Checked now, as --rate is: a bad list is a usage error before
		 * the bus is attached. */
		char err[256];
		if (shmbus_synth_check_symbols(arg, err, sizeof(err)) != 0)
			return shmbus_svc_usage_error(TOOL, "--symbols '%s': %s", arg, err);
		c->symbols = arg;
		return 0;
	}
	case 'r':
		/* A gap of 1/rate seconds on average: below the minimum, a few
		 * events would already run past year 2262 (int64 ns). */
		if (shmbus_svc_parse_double(arg, &c->rate) != 0 || !(c->rate >= SHMBUS_SYNTH_MIN_RATE) ||
		    c->rate > SHMBUS_SYNTH_MAX_RATE)
			return shmbus_svc_usage_error(TOOL,
			                              "--rate '%s': expected events per second in "
			                              "0.001..1e9",
			                              arg);
		return 0;
	case 'n':
		if (shmbus_svc_parse_u64(arg, &c->events) != 0)
			return shmbus_svc_usage_error(
			    TOOL, "--events '%s': expected a whole number", arg);
		c->events_set = 1;
		return 0;
	case 'e':
		if (shmbus_svc_parse_u64(arg, &c->seed) != 0)
			return shmbus_svc_usage_error(TOOL, "--seed '%s': expected a whole number",
			                              arg);
		return 0;
	case 'm':
		if (shmbus_svc_parse_u64(arg, &c->max_report) != 0)
			return shmbus_svc_usage_error(
			    TOOL, "--max-report '%s': expected a whole number", arg);
		return 0;
	case 'S':
		c->synthetic = 1;
		return 0;
	case 'E':
		c->no_eos = 1;
		return 0;
	case 'O':
		c->eos_only = 1;
		return 0;
	case 'P':
		c->any_price = 1;
		return 0;
	default:
		return -ENOENT;
	}
}

/* Returns -1 to go on, else the exit code. */
static int col_parse_args(struct collector *c, int argc, char **argv)
{
	static const struct option opts[] = {{"input", required_argument, 0, 'i'},
	                                     {"kind", required_argument, 0, 'k'},
	                                     {"columns", required_argument, 0, 'c'},
	                                     {"ts-unit", required_argument, 0, 'u'},
	                                     {"allow-nonpositive-prices", no_argument, 0, 'P'},
	                                     {"speed", required_argument, 0, 's'},
	                                     {"synthetic", no_argument, 0, 'S'},
	                                     {"symbols", required_argument, 0, 'y'},
	                                     {"rate", required_argument, 0, 'r'},
	                                     {"events", required_argument, 0, 'n'},
	                                     {"seed", required_argument, 0, 'e'},
	                                     {"max-report", required_argument, 0, 'm'},
	                                     {"no-eos", no_argument, 0, 'E'},
	                                     {"eos-only", no_argument, 0, 'O'},
	                                     {"help", no_argument, 0, 'h'},
	                                     SHMBUS_SVC_LONGOPTS,
	                                     {0, 0, 0, 0}};
	const struct shmbus_svc_cli cli = {.tool = TOOL,
	                                   .usage = usage_text,
	                                   .longopts = opts,
	                                   .shortopts = "",
	                                   .so = &c->so,
	                                   .own = col_own_opt,
	                                   .ctx = c};
	int rc = shmbus_svc_parse_args(&cli, argc, argv);
	char err[256];

	if (rc >= 0)
		return rc;
	/* Either would be ignored: the CSV ran, nothing was published. */
	if (c->synthetic && c->input)
		return shmbus_svc_usage_error(TOOL, "%s",
		                              "--synthetic and --input exclude each other");
	if (c->eos_only && c->no_eos)
		return shmbus_svc_usage_error(TOOL, "%s",
		                              "--eos-only and --no-eos exclude each other");
	/* Checked once --kind is known (it may come after): a bad map is a
	 * usage error before the bus is attached, not a failed run. */
	if (c->columns && shmbus_csv_check_columns(c->kind, c->columns, err, sizeof(err)) != 0)
		return shmbus_svc_usage_error(TOOL, "--columns '%s': %s", c->columns, err);
	if (!c->input && !c->events_set)
		c->events = 100000;
	return rc;
}

/* Id of symbol @s (@len bytes) in the bus: the local table first, the bus's
 * symbol table (cold lock) the first time. Returns the id or -errno. */
static int64_t col_symbol(struct collector *c, const char *s, uint32_t len)
{
	uint32_t h = 2166136261u;

	for (uint32_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	for (uint32_t k = 0; k < c->symcap; k++) {
		struct col_sym *e = &c->symtab[(h + k) & (c->symcap - 1)];
		if (e->id == 0) {
			int64_t id;
			if (c->nsyms >= c->symcap / 2)
				return -ENOSPC;
			id = shmbus_symbol_intern(c->bus, s, len);
			if (id < 0)
				return id;
			memcpy(e->name, s, len);
			e->len = len;
			e->id = (uint32_t)id;
			c->nsyms++;
			return id;
		}
		if (e->len == len && memcmp(e->name, s, len) == 0)
			return e->id;
	}
	return -ENOSPC;
}

/* Publish one collection_failed event. */
static void col_publish_failure(struct collector *c, int error, uint64_t line, const char *reason)
{
	struct shmbus_collection_failed *f;

	if (shmbus_claim(c->p, SHMBUS_EV_COLLECTION_FAILED, 0, sizeof(*f), (void **)&f) != 0)
		return;
	f->h.event_time_ns = shmbus_now_ns();
	f->error = error;
	f->line = line > UINT32_MAX ? UINT32_MAX : (uint32_t)line;
	memset(f->reason, 0, sizeof(f->reason));
	snprintf(f->reason, sizeof(f->reason), "%.*s", (int)sizeof(f->reason) - 1, reason);
	if (shmbus_commit(c->p) >= 0)
		c->failures_published++;
}

/* The reader's callback for each malformed row. */
static void col_on_bad_row(void *user, const struct shmbus_csv_error *e)
{
	struct collector *c = user;
	char line[320], reason[160];

	c->malformed++;
	if (c->reported < c->max_report) {
		shmbus_csv_format_error(e, line, sizeof(line));
		fprintf(stderr, TOOL ": malformed row skipped: %s\n", line);
		c->reported++;
	}
	snprintf(reason, sizeof(reason), "%s%s%s", shmbus_csv_errkind_name(e->kind),
	         e->column[0] ? " in " : "", e->column);
	col_publish_failure(c, -EBADMSG, e->line, reason);
}

/* Sleep until the record of @event_ns is due. Returns 0 when it is, -1
 * when a stop was requested first (a record due in a year must not keep
 * SIGTERM waiting: sleeps are sliced, and the flag is checked between). */
static int col_pace(struct shmbus_pacer *pc, int64_t event_ns)
{
	int64_t wait;

	if (pc->speed <= 0)
		return 0;
	while ((wait = shmbus_pacer_wait(pc, event_ns, shmbus_mono_ns())) > 0) {
		struct timespec ts;
		if (shmbus_svc_stop_requested())
			return -1;
		if (wait < 50000)
			continue; /* the last few microseconds: spin */
		wait -= 20000;
		if (wait > COL_PACE_SLICE_NS)
			wait = COL_PACE_SLICE_NS;
		ts.tv_sec = wait / 1000000000;
		ts.tv_nsec = wait % 1000000000;
		nanosleep(&ts, NULL);
	}
	return 0;
}

/* Publish one record. Returns 0, or a negative code (symbol table). */
static int col_publish(struct collector *c, const struct shmbus_md_record *r, uint8_t flags)
{
	int64_t id = col_symbol(c, r->symbol, r->symbol_len);

	if (id < 0)
		return (int)id;
	if (r->kind == SHMBUS_MD_TRADE) {
		struct shmbus_trade *t;
		if (shmbus_claim(c->p, SHMBUS_EV_TRADE, (uint32_t)id, sizeof(*t), (void **)&t) != 0)
			return -EINVAL;
		t->h.flags |= flags;
		t->h.event_time_ns = r->time_ns;
		t->price = r->price;
		t->size = r->size;
		c->trades++;
	} else {
		struct shmbus_quote *q;
		if (shmbus_claim(c->p, SHMBUS_EV_QUOTE, (uint32_t)id, sizeof(*q), (void **)&q) != 0)
			return -EINVAL;
		q->h.flags |= flags;
		q->h.event_time_ns = r->time_ns;
		q->bid = r->bid;
		q->bid_size = r->bid_size;
		q->ask = r->ask;
		q->ask_size = r->ask_size;
		c->quotes++;
	}
	shmbus_commit(c->p);
	return 0;
}

static int col_fail_symbol(struct collector *c, const struct shmbus_md_record *r, int rc)
{
	char reason[64];

	fprintf(stderr, TOOL ": interning symbol '%.*s' (line %llu) failed: %s\n",
	        (int)r->symbol_len, r->symbol, (unsigned long long)r->line, shmbus_strerror(rc));
	snprintf(reason, sizeof(reason), "interning symbol '%.*s' failed", (int)r->symbol_len,
	         r->symbol);
	col_publish_failure(c, rc, r->line, reason);
	return 1;
}

/* More than half of the data rows malformed is not a file with a few bad
 * rows but the wrong file, columns or timestamp unit: exit 1 (after the
 * end-of-stream marker and the report, so downstream still flushes). */
static int col_check_majority(const struct collector *c)
{
	if (c->malformed == 0 || c->malformed * 2 <= c->rows)
		return 0;
	fprintf(stderr,
	        TOOL ": %s: %llu of %llu data rows malformed (more than half: the wrong "
	             "file, --columns or --ts-unit?)\n",
	        c->input, (unsigned long long)c->malformed, (unsigned long long)c->rows);
	return 1;
}

/* The input is read through a mapping of the file: a file cut short while
 * it is read (a feed rotated, truncated by another program) makes the next
 * read of a page past its new end a SIGBUS. While the reader reads, that
 * SIGBUS returns to col_run_csv, which ends the run with a message; the
 * row's symbol is copied out then, so that nothing after (the pacing
 * sleep, interning under the bus lock) reads the mapping. */
static sigjmp_buf *volatile col_sigbus_jmp;

static void col_on_sigbus(int sig)
{
	if (col_sigbus_jmp)
		siglongjmp(*col_sigbus_jmp, 1);
	signal(sig, SIG_DFL); /* elsewhere: a fault of ours, as without the handler */
	raise(sig);
}

static int col_next(struct shmbus_csv_reader *r, struct shmbus_md_record *rec, sigjmp_buf *jb,
                    char sym[SHMBUS_MD_SYMBOL_MAX + 1])
{
	col_sigbus_jmp = jb;
	int got = shmbus_csv_next(r, rec);
	if (got == 1) {
		memcpy(sym, rec->symbol, rec->symbol_len); /* at most SHMBUS_MD_SYMBOL_MAX */
		rec->symbol = sym;
	}
	col_sigbus_jmp = NULL;
	return got;
}

static int col_run_csv(struct collector *c, struct shmbus_pacer *pc)
{
	struct shmbus_csv_options o = {.kind = c->kind,
	                               .columns = c->columns,
	                               .ts_unit = c->ts_unit,
	                               .allow_nonpositive_prices = c->any_price,
	                               .on_error = col_on_bad_row,
	                               .user = c};
	struct shmbus_csv_reader *r;
	struct shmbus_csv_error err;
	struct shmbus_csv_stats st;
	struct shmbus_md_record rec;
	char line[320], sym[SHMBUS_MD_SYMBOL_MAX + 1];
	int rc;
	volatile int stopped = 0; /* kept across the siglongjmp below */

	memset(&err, 0, sizeof(err));
	if ((rc = shmbus_csv_open(&r, c->input, &o, &err)) != 0) {
		shmbus_csv_format_error(&err, line, sizeof(line));
		fprintf(stderr, TOOL ": cannot read input: %s\n", line);
		col_publish_failure(c, rc, err.line, "cannot read input");
		return 1;
	}
	sigjmp_buf jb;
	struct sigaction sa = {.sa_handler = col_on_sigbus}, old_sa;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &old_sa);
	if (sigsetjmp(jb, 1)) {
		sigaction(SIGBUS, &old_sa, NULL);
		fprintf(stderr,
		        TOOL ": %s was cut short while being read (SIGBUS on its mapping): stopped "
		             "after %llu events published\n",
		        c->input, (unsigned long long)(c->trades + c->quotes));
		shmbus_csv_close(r);
		col_publish_failure(c, -EIO, 0, "input file cut short while being read");
		return 1;
	}
	while (!shmbus_svc_stop_requested() &&
	       (!c->events_set || c->trades + c->quotes < c->events) &&
	       col_next(r, &rec, &jb, sym) == 1) {
		if (col_pace(pc, rec.time_ns) != 0) {
			stopped = 1; /* read, not published: not counted */
			break;
		}
		if ((rc = col_publish(c, &rec, 0)) != 0) {
			rc = col_fail_symbol(c, &rec, rc);
			sigaction(SIGBUS, &old_sa, NULL);
			shmbus_csv_close(r);
			return rc;
		}
	}
	sigaction(SIGBUS, &old_sa, NULL);
	shmbus_csv_get_stats(r, &st);
	c->rows = st.rows_ok + st.rows_bad - (uint64_t)stopped;
	shmbus_csv_close(r);
	if (c->malformed > c->reported)
		fprintf(stderr, TOOL ": ... %llu more malformed rows not shown\n",
		        (unsigned long long)(c->malformed - c->reported));
	if (c->malformed) {
		const char *base = strrchr(c->input, '/');
		char reason[64];
		snprintf(reason, sizeof(reason), "%llu malformed rows in %s",
		         (unsigned long long)c->malformed, base ? base + 1 : c->input);
		col_publish_failure(c, -EBADMSG, 0, reason);
	}
	return 0;
}

static int col_run_synth(struct collector *c, struct shmbus_pacer *pc)
{
	struct shmbus_synth_options o = {.symbols = c->symbols, .rate = c->rate, .seed = c->seed};
	struct shmbus_synth *g;
	struct shmbus_md_record rec;
	char err[256] = "";
	int rc;

	if ((rc = shmbus_synth_create(&g, &o, err, sizeof(err))) != 0) {
		fprintf(stderr, TOOL ": generator: %s\n", err[0] ? err : strerror(-rc));
		return rc == -EINVAL ? 2 : 1;
	}
	for (uint64_t i = 0; i < c->events && !shmbus_svc_stop_requested(); i++) {
		shmbus_synth_next(g, &rec);
		if (col_pace(pc, rec.time_ns) != 0)
			break;
		if ((rc = col_publish(c, &rec, SHMBUS_EVF_SYNTHETIC)) != 0) {
			rc = col_fail_symbol(c, &rec, rc); /* rec.symbol is the generator's */
			shmbus_synth_destroy(g);
			return rc;
		}
		c->rows++;
	}
	shmbus_synth_destroy(g);
	return 0;
}

static void col_report(struct collector *c, double secs)
{
	uint64_t pub = c->trades + c->quotes;
	struct shmbus_svc_json j;

	printf(TOOL ": %s: %llu rows, %llu published (%llu trades, %llu quotes), %llu malformed, "
	            "%u symbols, %.3f s (%.0f events/s)\n",
	       c->input ? c->input : "synthetic", (unsigned long long)c->rows,
	       (unsigned long long)pub, (unsigned long long)c->trades,
	       (unsigned long long)c->quotes, (unsigned long long)c->malformed, c->nsyms, secs,
	       secs > 0 ? pub / secs : 0.0);
	fflush(stdout);
	if (!c->so.stats_json)
		return;
	shmbus_svc_json_begin(&j);
	shmbus_svc_json_str(&j, "service", "collector");
	shmbus_svc_json_str(&j, "input", c->input ? c->input : "synthetic");
	shmbus_svc_json_u64(&j, "source_id", shmbus_producer_source(c->p));
	shmbus_svc_json_u64(&j, "rows", c->rows);
	shmbus_svc_json_u64(&j, "events_in", c->rows);
	shmbus_svc_json_u64(&j, "events_out", pub);
	shmbus_svc_json_u64(&j, "trades", c->trades);
	shmbus_svc_json_u64(&j, "quotes", c->quotes);
	shmbus_svc_json_u64(&j, "malformed", c->malformed);
	shmbus_svc_json_u64(&j, "failure_events", c->failures_published);
	shmbus_svc_json_u64(&j, "symbols", c->nsyms);
	shmbus_svc_json_f64(&j, "elapsed_s", secs);
	shmbus_svc_json_save(&j, TOOL, c->so.stats_json);
}

/* The local name table, sized from the bus: twice its symbol table (a
 * power of two, so the table stays at most half full) holds every symbol
 * the bus can take, so the bus, not this cache, says when it is full.
 * Returns 0 or -errno. */
static int col_symtab_alloc(struct collector *c)
{
	struct shmbus_bus_info bi;
	int rc;

	if ((rc = shmbus_stat_bus(c->bus, &bi)) != 0)
		return rc;
	c->symcap = 2 * bi.max_symbols;
	c->symtab = calloc(c->symcap, sizeof(*c->symtab));
	return c->symtab ? 0 : -ENOMEM;
}

/* Attach, make the producer. Returns 0 or an exit code. */
static int col_attach(struct collector *c)
{
	struct shmbus_producer_opts po;
	char err[256];
	int rc;

	if ((rc = shmbus_bus_open(c->so.bus, c->so.name, SHMBUS_ROLE_PRODUCER, &c->bus)) != 0) {
		fprintf(stderr, TOOL ": attaching bus '%s' failed: %s\n", c->so.bus,
		        shmbus_svc_strerror(rc, err, sizeof(err)));
		return 1;
	}
	if ((rc = col_symtab_alloc(c)) != 0) {
		fprintf(stderr, TOOL ": symbol table of bus '%s': %s\n", c->so.bus,
		        shmbus_svc_strerror(rc, err, sizeof(err)));
		shmbus_bus_close(c->bus);
		return 1;
	}
	shmbus_producer_opts_init(&po);
	po.source_id = c->so.source_id;
	po.cancel = shmbus_svc_stop_flag(); /* its SIGTERM ends a wait behind a stuck consumer */
	if ((rc = shmbus_producer_open(c->bus, &po, &c->p)) != 0) {
		fprintf(stderr, TOOL ": producer on bus '%s' failed: %s\n", c->so.bus,
		        shmbus_svc_strerror(rc, err, sizeof(err)));
		shmbus_bus_close(c->bus);
		return 1;
	}
	/* Its consumers count it as a feeder before its first event (the
	 * launcher stops them after its end-of-stream marker). */
	rc = shmbus_producer_announce(c->p, SHMBUS_TYPE_BIT(SHMBUS_EV_TRADE) |
	                                        SHMBUS_TYPE_BIT(SHMBUS_EV_QUOTE) |
	                                        SHMBUS_TYPE_BIT(SHMBUS_EV_COLLECTION_FAILED) |
	                                        SHMBUS_TYPE_BIT(SHMBUS_EV_HEARTBEAT));
	if (rc != 0) {
		fprintf(stderr, TOOL ": announcing the producer's types failed: %s\n",
		        shmbus_svc_strerror(rc, err, sizeof(err)));
		shmbus_producer_close(c->p);
		shmbus_bus_close(c->bus);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct collector c;
	struct shmbus_pacer pc;
	int64_t t0;
	int rc;

	shmbus_svc_opts_init(&c.so, "collector");
	c.kind = SHMBUS_MD_TRADE;
	c.seed = 1;
	c.max_report = 100;
	if ((rc = col_parse_args(&c, argc, argv)) >= 0)
		return rc;
	if ((rc = shmbus_svc_start(TOOL, &c.so)) != 0 || (rc = col_attach(&c)) != 0)
		return rc;
	t0 = shmbus_mono_ns();
	shmbus_pacer_init(&pc, c.speed, t0);
	if (!c.eos_only)
		rc = c.input ? col_run_csv(&c, &pc) : col_run_synth(&c, &pc);
	/* A failed run ends the stream as well (its collection-failed event
	 * says why): without the marker, the stages downstream would wait
	 * for the rest of it for ever. */
	if (!c.no_eos)
		shmbus_svc_publish_status(c.p, SHMBUS_SVC_EOS_MARKET, c.rows, c.trades + c.quotes);
	if (rc == 0)
		col_report(&c, (shmbus_mono_ns() - t0) / 1e9);
	if (rc == 0 && c.input)
		rc = col_check_majority(&c);
	shmbus_producer_close(c.p);
	shmbus_bus_close(c.bus);
	free(c.symtab);
	return rc;
}
