/*
 * shmbus-journal - read a journal directory: cat, verify, info.
 *
 * A thin front end over the journal library (shmbus/journal.h): cat runs
 * a reader query (time range from the sparse index, type and symbol
 * filters) and prints each event; verify checks every block checksum and
 * names the first bad one; info prints segments and ranges from headers
 * only. Symbol names come from the journal's own DIR/<bus>.symbols file,
 * never from a live bus, so a journal copied to another machine reads the
 * same. Exit codes: 0 ok, 1 runtime failure (or a bad journal), 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shmbus/consumer.h>
#include <shmbus/error.h>
#include <shmbus/journal.h>

#include "journal_fmt.h"
#include "tool_json.h"
#include "tool_parse.h"
#include "jtool.h"
#include "tool_version.h"

#define TOOL "shmbus-journal"

static const char usage_text[] =
    "usage: shmbus-journal cat|verify|info --dir DIR [--bus NAME] [options]\n"
    "  --dir DIR          journal directory\n"
    "  --bus NAME         journal bus name (default: the only one in DIR)\n"
    "  --version          the version (first argument, no command)\n"
    "cat: print events in journal order\n"
    "  --format text|csv|json  (default text; json = one object per line)\n"
    "  --from T --to T    event_time_ns in [from, to); T = epoch ns or ISO-8601\n"
    "                     (2024-03-01T14:30:00.25Z; UTC when no zone is given)\n"
    "  --types LIST       trade,quote,bar,indicator,threshold,collection_failed,\n"
    "                     heartbeat or numeric ids\n"
    "  --symbols LIST     symbol names (from DIR/<bus>.symbols); #ID for a raw id\n"
    "verify: check every header and block checksum; exit 0 when clean, 1 with the\n"
    "  first bad segment and byte offset printed when not\n"
    "info: segments, time ranges, counts and sizes\n"
    "  --json             (verify, info) one JSON object instead of text\n"
    "An option that does not apply to the command is a usage error. A --bus\n"
    "with no segment in DIR is an error (exit 1), not an empty journal.\n"
    "exit: 0 ok, 1 runtime failure or bad journal, 2 usage\n";

/* The output failed and that was said already (cat stops at the first
 * failed event). */
static int g_out_failed;

struct jopts {
	const char *cmd, *dir, *bus, *from, *to, *types, *symbols;
	enum jf_format format;
	int json;
	struct shmbus_journal_query q; /* --from, --to, --types, parsed */
	char busbuf[128];
};

static int usage_err(const char *what)
{
	fprintf(stderr, TOOL ": %s\n%s", what, usage_text);
	return 2;
}

static int parse_format(const char *s, enum jf_format *f)
{
	if (!strcmp(s, "text"))
		*f = JF_TEXT;
	else if (!strcmp(s, "csv"))
		*f = JF_CSV;
	else if (!strcmp(s, "json"))
		*f = JF_JSON;
	else
		return -1;
	return 0;
}

/* Options that apply to only some commands: a silently ignored option
 * would print something else than what was asked for. */
static int check_applies(const struct jopts *o, const char *given)
{
	static const struct {
		char opt;
		const char *name, *cmds, *hint;
	} only[] = {
	    {'f', "--format", "cat", " (verify and info take --json)"},
	    {'F', "--from", "cat", ""},
	    {'T', "--to", "cat", ""},
	    {'t', "--types", "cat", ""},
	    {'s', "--symbols", "cat", ""},
	    {'j', "--json", "verify info", " (cat takes --format json)"},
	};
	char why[160];
	for (size_t i = 0; i < sizeof(only) / sizeof(only[0]); i++) {
		if (!strchr(given, only[i].opt) || strstr(only[i].cmds, o->cmd))
			continue;
		snprintf(why, sizeof(why), "%s does not apply to %s%s", only[i].name, o->cmd,
		         only[i].hint);
		return usage_err(why);
	}
	return -1;
}

/* Returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, struct jopts *o)
{
	char given[16] = ""; /* option letters seen, for check_applies */
	static const struct option lo[] = {
	    {"dir", 1, 0, 'd'},   {"bus", 1, 0, 'b'},     {"format", 1, 0, 'f'},
	    {"from", 1, 0, 'F'},  {"to", 1, 0, 'T'},      {"types", 1, 0, 't'},
	    {"symbols", 1, 0, 's'}, {"json", 0, 0, 'j'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(usage_text, stdout);
		fputs(jf_csv_help, stdout);
		return 0;
	}
	if (argc < 2 || argv[1][0] == '-')
		return usage_err("missing command: cat, verify or info");
	o->cmd = argv[1];
	if (strcmp(o->cmd, "cat") && strcmp(o->cmd, "verify") && strcmp(o->cmd, "info"))
		return usage_err("unknown command (want cat, verify or info)");
	optind = 2;
	int c;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		if (c != '?' && !strchr(given, c) && strlen(given) < sizeof(given) - 1)
			given[strlen(given)] = (char)c;
		switch (c) {
		case 'd': o->dir = optarg; break;
		case 'b': o->bus = optarg; break;
		case 'F': o->from = optarg; break;
		case 'T': o->to = optarg; break;
		case 't': o->types = optarg; break;
		case 's': o->symbols = optarg; break;
		case 'j': o->json = 1; break;
		case 'f':
			if (parse_format(optarg, &o->format))
				return usage_err("--format: want text, csv or json");
			break;
		case 'h':
			fputs(usage_text, stdout);
			fputs(jf_csv_help, stdout);
			return 0;
		default: return usage_err("bad option");
		}
	}
	if (optind < argc)
		return usage_err("unexpected argument");
	if (!o->dir)
		return usage_err("--dir is required");
	int rc = check_applies(o, given);
	if (rc >= 0)
		return rc;
	/* Values parsed before any file is read: a usage error is exit 2
	 * whatever the journal holds. */
	char why[JTOOL_WHY];
	const char *opt;
	if (jtool_parse_query(o->from, o->to, o->types, &o->q, &opt, why))
		return fprintf(stderr, TOOL ": %s: %s\n", opt, why), 2;
	return -1;
}

/* --json (verify, info) that failed at run time: one object saying what
 * failed, where, so that a script reading stdout finds a result. */
static void json_error(const struct jopts *o, const char *path, const char *detail)
{
	if (o->json)
		tool_json_error(stdout, path, detail);
}

/* Resolve o->bus (the only bus in the dir when not given). */
static int resolve_bus(struct jopts *o)
{
	char why[JTOOL_WHY];
	int rc;
	if (o->bus) {
		/* A misspelt bus would otherwise read as an empty journal: "OK
		 * segments=0" from verify, nothing from cat, exit 0. */
		if ((rc = jtool_check_bus(o->dir, o->bus, why)) < 0) {
			fprintf(stderr, TOOL ": --bus %s: %s\n", o->bus, why);
			json_error(o, o->dir, why);
			return 1;
		}
		return 0;
	}
	rc = jtool_find_bus(o->dir, "--bus", o->busbuf, sizeof(o->busbuf), why);
	if (rc) {
		fprintf(stderr, TOOL ": finding the journal bus failed: %s (%s)\n", why, o->dir);
		json_error(o, o->dir, why);
		return rc == -ENOTUNIQ ? 2 : 1;
	}
	o->bus = o->busbuf;
	return 0;
}

/* Symbol names of --symbols into ids of the journal's symbols file. */
static int query_symbols(const struct jtool_symtab *st, const char *list, uint32_t **ids,
                         size_t *n)
{
	static char names[SHMBUS_SUB_MAX_SYMBOLS][32];
	char why[JTOOL_WHY];
	int k = tool_split_list(list, &names[0][0], sizeof(names[0]), SHMBUS_SUB_MAX_SYMBOLS, why,
	                        sizeof(why));
	if (k < 0) {
		fprintf(stderr, TOOL ": --symbols: %s\n", why);
		return 2;
	}
	/* Each id has one name: the names' ids fit in count, #IDs in k. */
	*ids = calloc((size_t)k + st->count, sizeof(**ids));
	*n = 0;
	for (int i = 0; i < k && *ids; i++) {
		uint64_t id = 0;
		if (names[i][0] == '#') {
			if (jtool_parse_u64(names[i] + 1, 0, UINT32_MAX, &id, why)) {
				fprintf(stderr, TOOL ": --symbols: %s\n", why);
				return 2;
			}
		} else if ((id = jtool_symtab_find(st, names[i], 0)) == 0) {
			fprintf(stderr, TOOL ": note: symbol %s never journaled (not in the symbols "
			                "file)\n", names[i]);
			continue;
		}
		(*ids)[(*n)++] = (uint32_t)id;
		/* Every id of the name (a bus recreated with other ids): cat
		 * names all their events so. */
		while (names[i][0] != '#' && (id = jtool_symtab_find(st, names[i], (uint32_t)id)))
			(*ids)[(*n)++] = (uint32_t)id;
	}
	return *ids ? 0 : 1;
}

static int build_query(const struct jopts *o, const struct jtool_symtab *st,
                       struct shmbus_journal_query *q, uint32_t **ids)
{
	*q = o->q;
	if (o->symbols) {
		int rc = query_symbols(st, o->symbols, ids, &q->n_symbols);
		if (rc)
			return rc;
		q->symbols = *ids;
		if (q->n_symbols == 0) /* only unknown names: nothing can match */
			q->t_to = INT64_MIN;
	}
	return 0;
}

static int load_symbols(const struct jopts *o, struct jtool_symtab *st)
{
	char why[JTOOL_WHY];
	if (jtool_symtab_load_bus(st, o->dir, o->bus, why)) {
		fprintf(stderr, TOOL ": reading the symbols file failed: %s\n", why);
		return 1;
	}
	return 0;
}

static int report_jerr(const char *what, int rc, const struct shmbus_journal_error *e)
{
	fprintf(stderr, TOOL ": %s: %s (%s offset %" PRIu64 ")\n", what,
	        e->detail[0] ? e->detail : shmbus_strerror(rc),
	        e->segment[0] ? e->segment : "journal", e->offset);
	return 1;
}

static int cmd_cat(const struct jopts *o)
{
	struct jtool_symtab st = {0};
	struct shmbus_journal_query q;
	struct shmbus_journal_reader *r = NULL;
	struct shmbus_journal_error err = {0};
	uint32_t *ids = NULL;
	int ret = load_symbols(o, &st);
	if (!ret)
		ret = build_query(o, &st, &q, &ids);
	if (ret)
		goto out;
	int rc = shmbus_journal_reader_open(o->dir, o->bus, 0, &r, &err);
	if (!rc)
		rc = shmbus_journal_reader_seek(r, &q);
	if (rc) {
		ret = report_jerr("opening the journal failed", rc, &err);
		goto out;
	}
	struct jf_printer p = {.format = o->format, .syms = &st, .out = stdout};
	if (o->format == JF_CSV && q.type_mask && !(q.type_mask & (q.type_mask - 1)))
		p.csv_type = __builtin_ctzll(q.type_mask);
	const struct shmbus_event_header *ev;
	while ((rc = shmbus_journal_reader_next(r, &ev, &err)) != 0) {
		if (rc < 0) { /* a bad block: say where, go on with what follows */
			ret = report_jerr("reading the journal failed", rc, &err);
			continue;
		}
		if (jf_print(&p, ev)) {
			fprintf(stderr, TOOL ": writing the output failed: %s (stdout)\n",
			        strerror(errno));
			g_out_failed = 1;
			ret = 1;
			break;
		}
	}
	if (!g_out_failed && jf_finish(&p)) {
		fprintf(stderr, TOOL ": writing the output failed: %s (stdout)\n", strerror(errno));
		g_out_failed = 1;
		ret = 1;
	}
	if (p.csv_skipped) {
		fprintf(stderr, TOOL ": %" PRIu64 " events of the wrong size left out of the CSV\n",
		        p.csv_skipped);
		ret = 1;
	}
out:
	shmbus_journal_reader_close(r);
	free(ids);
	jtool_symtab_free(&st);
	return ret;
}

/* verify --json: the report as one object; "ok" false with the first bad
 * block when the journal is damaged. */
static void verify_json(const struct shmbus_journal_verify_report *rep, int ok)
{
	printf("{\"ok\":%s,\"segments\":%" PRIu64 ",\"blocks\":%" PRIu64 ",\"events\":%" PRIu64
	       ",\"seq_gaps\":%" PRIu64,
	       ok ? "true" : "false", rep->segments, rep->blocks, rep->events, rep->seq_gaps);
	if (rep->seq_gaps)
		printf(",\"first_gap\":{\"source\":%u,\"expected\":%" PRIu64 ",\"got\":%" PRIu64 "}",
		       rep->first_gap_source, rep->first_gap_expected, rep->first_gap_seq);
	if (!ok) {
		printf(",\"bad\":{\"segment\":");
		tool_json_str(stdout, rep->bad.segment);
		printf(",\"offset\":%" PRIu64 ",\"detail\":", rep->bad.offset);
		tool_json_str(stdout, rep->bad.detail);
		printf("}");
	}
	printf("}\n");
}

static int cmd_verify(const struct jopts *o)
{
	struct shmbus_journal_verify_report rep;
	memset(&rep, 0, sizeof(rep));
	int rc = shmbus_journal_verify(o->dir, o->bus, &rep);
	if (rc == -EBADMSG) {
		fprintf(stderr, TOOL ": verify failed: %s (%s offset %" PRIu64 ")\n", rep.bad.detail,
		        rep.bad.segment, rep.bad.offset);
		if (o->json)
			verify_json(&rep, 0);
		else
			printf("BAD segment=%s offset=%" PRIu64 " detail=%s\n", rep.bad.segment,
			       rep.bad.offset, rep.bad.detail);
		return 1;
	}
	if (rc) {
		const char *why = rep.bad.detail[0] ? rep.bad.detail : shmbus_strerror(rc);
		const char *where = rep.bad.segment[0] ? rep.bad.segment : o->dir;
		fprintf(stderr, TOOL ": verify failed: %s (%s)\n", why, where);
		json_error(o, where, why);
		return 1;
	}
	if (o->json) {
		verify_json(&rep, 1);
		return 0;
	}
	printf("OK segments=%" PRIu64 " blocks=%" PRIu64 " events=%" PRIu64 " seq_gaps=%" PRIu64,
	       rep.segments, rep.blocks, rep.events, rep.seq_gaps);
	if (rep.seq_gaps)
		printf(" first_gap=source %u expected %" PRIu64 " got %" PRIu64, rep.first_gap_source,
		       rep.first_gap_expected, rep.first_gap_seq);
	printf("\n");
	return 0;
}

static void info_text(const struct shmbus_journal_info *in)
{
	char a[40], b[40];
	for (size_t i = 0; i < in->n_segments; i++) {
		const struct shmbus_journal_segment_info *s = &in->segments[i];
		jtool_fmt_time(a, sizeof(a), s->min_time_ns);
		jtool_fmt_time(b, sizeof(b), s->max_time_ns);
		printf("%s  bytes=%" PRIu64 " blocks=%" PRIu64 " events=%" PRIu64 " %s .. %s%s\n",
		       s->path, s->file_bytes, s->blocks, s->events, a, b, s->bad ? "  BAD" : "");
		if (s->bad)
			printf("  bad block at offset %" PRIu64 "\n", s->bad_offset);
	}
	jtool_fmt_time(a, sizeof(a), in->min_time_ns);
	jtool_fmt_time(b, sizeof(b), in->max_time_ns);
	printf("total: segments=%zu bytes=%" PRIu64 " blocks=%" PRIu64 " events=%" PRIu64
	       " %s .. %s\n",
	       in->n_segments, in->file_bytes, in->blocks, in->events, a, b);
}

static void info_json(const struct shmbus_journal_info *in)
{
	printf("{\"segments\":[");
	for (size_t i = 0; i < in->n_segments; i++) {
		const struct shmbus_journal_segment_info *s = &in->segments[i];
		printf("%s{\"path\":", i ? "," : "");
		tool_json_str(stdout, s->path);
		printf(",\"bus\":");
		tool_json_str(stdout, s->bus);
		printf(",\"layout_hash\":%" PRIu64 ",\"first_ts_ns\":%" PRId64 ",\"created_ns\":%" PRId64 ",\"file_bytes\":%" PRIu64
		       ",\"blocks\":%" PRIu64 ",\"events\":%" PRIu64 ",\"min_time_ns\":%" PRId64
		       ",\"max_time_ns\":%" PRId64 ",\"bad\":%d,\"bad_offset\":%" PRIu64 "}",
		       s->layout_hash, s->first_ts_ns, s->created_ns,
		       s->file_bytes, s->blocks, s->events, s->min_time_ns, s->max_time_ns, s->bad,
		       s->bad_offset);
	}
	printf("],\"n_segments\":%zu,\"blocks\":%" PRIu64 ",\"events\":%" PRIu64
	       ",\"file_bytes\":%" PRIu64 ",\"min_time_ns\":%" PRId64 ",\"max_time_ns\":%" PRId64
	       "}\n",
	       in->n_segments, in->blocks, in->events, in->file_bytes, in->min_time_ns,
	       in->max_time_ns);
}

static int cmd_info(const struct jopts *o)
{
	struct shmbus_journal_info in;
	memset(&in, 0, sizeof(in));
	int rc = shmbus_journal_info_get(o->dir, o->bus, &in);
	if (rc) {
		fprintf(stderr, TOOL ": info failed: %s (%s)\n", shmbus_strerror(rc), o->dir);
		json_error(o, o->dir, shmbus_strerror(rc));
		return 1;
	}
	if (o->json)
		info_json(&in);
	else
		info_text(&in);
	shmbus_journal_info_free(&in);
	return 0;
}

/* rc, or 1 when stdout could not be written (a full disk, a closed pipe):
 * a report that did not reach its reader is no success. verify and info
 * used to exit 0 with their output lost. */
static int out_check(int rc)
{
	errno = 0;
	if ((fflush(stdout) == 0 && !ferror(stdout)) || g_out_failed)
		return g_out_failed ? 1 : rc;
	fprintf(stderr, TOOL ": writing the output failed: %s (stdout)\n",
	        errno ? strerror(errno) : "write error");
	return 1;
}

int main(int argc, char **argv)
{
	if (tool_version_asked(argc, argv))
		return tool_version_print("shmbus-journal");
	struct jopts o;
	memset(&o, 0, sizeof(o));
	int rc = parse_args(argc, argv, &o);
	if (rc >= 0)
		return rc;
	if ((rc = resolve_bus(&o)) != 0)
		return rc;
	if (!strcmp(o.cmd, "cat"))
		return out_check(cmd_cat(&o));
	if (!strcmp(o.cmd, "verify"))
		return out_check(cmd_verify(&o));
	return out_check(cmd_info(&o));
}
