/*
 * bridge_main.c - shmbus-bridge: export bus events to NATS JetStream and/or
 * Kafka. Argument parsing, signals, status output; the engine is
 * bridge_core.c.
 *
 * Options come from, in increasing priority: environment variables
 * (SHMBUS_BUS, NATS_URL, NATS_CREDS, NATS_TLS_*, KAFKA_BROKERS,
 * KAFKA_SASL_*, ...), --config files (keys are the long option names:
 * "key = value" lines, or the [bridge] section of the host's INI config)
 * and the command line. Secrets are never printed.
 * Exit codes: 0 clean stop, 1 runtime failure (a journal catch-up that
 * fails included), 2 usage or config error.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <shmbus/shmbus.h>

#include "bridge_core.h"
#include "tool_conf.h"
#include "tool_parse.h"
#include "tool_proc.h"
#include "tool_version.h"

#define PROG "shmbus-bridge"
#define OWNED_MAX 256 /* settings a --config file may hold */
#define STATS_INTERVAL_MIN 0.01
#define STATS_INTERVAL_MAX 86400.0
/* The slack is converted to ns: larger values would overflow int64. */
#define SLACK_MS_MAX (INT64_MAX / 1000000)
#define IDLE_WAIT_NS (50 * 1000000LL) /* longest wait of an idle step for the ring */

struct opts {
	const char *bus;
	int bus_set; /* by $SHMBUS_BUS or a bus setting: an INI file's [bus] name does not count */
	struct bridge_core_config core;
	struct bridge_nats_config nats;
	struct bridge_kafka_config kafka;
	const char *types, *symbols, *stats_json;
	double stats_interval;
	int json, quiet;
	int stats_json_failing; /* the last --stats-json write failed (said once) */
	uint64_t max_events;
	uint32_t symbol_ids[SHMBUS_SUB_MAX_SYMBOLS];
	char *owned[OWNED_MAX]; /* config values the options point into, freed at exit */
	size_t nowned;
};

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " [options]\n"
		"Export bus events to NATS JetStream and/or Kafka, resumable without gap or\n"
		"duplicate (checkpoint + journal catch-up).\n\n"
		"  --bus NAME              bus to attach (default $SHMBUS_BUS, else the [bus]\n"
		"                          name of an INI --config file, else " SHMBUS_DEFAULT_BUS ")\n"
		"  --ring NAME             ring to subscribe (default bridge)\n"
		"  --types LIST            event types, e.g. trade,quote (default all)\n"
		"  --symbols LIST          symbol names (default all; events about no\n"
		"                          symbol, heartbeats, pass it)\n"
		"  --capacity N            ring slots, a power of two (default 65536)\n"
		"  --ring-policy block|drop  ring full policy (default block)\n"
		"  --encoding json|binary  payload encoding (default json)\n"
		"  --window N              events in flight, power of two (default 8192)\n"
		"  --on-full block|drop    when the window is full or a broker is down\n"
		"  --checkpoint PATH       checkpoint file (resume point)\n"
		"  --journal DIR           journal directory for catch-up after a restart\n"
		"  --journal-bus NAME      bus name in the journal (default: --bus)\n"
		"  --catchup-slack-ms N    read the journal from checkpoint time - N ms\n"
		"                          (default 60000; -1: all)\n"
		"  --handover-timeout-ms N after a restart, wait up to N ms for the journal\n"
		"                          to hold what the bus published before the ring\n"
		"                          was subscribed (default 5000; 0: no wait)\n"
		"  --from-journal-start    without a checkpoint, export the whole journal\n"
		"                          first (default: a first start begins live; in a\n"
		"                          --config file: from-journal-start = 1)\n"
		"  --nats URL              NATS server(s) (env NATS_URL)\n"
		"  --nats-stream NAME      JetStream stream (default SHMBUS)\n"
		"  --nats-subject TPL      subject template (default shmbus.{type}.{symbol})\n"
		"  --nats-create-stream 0|1  create the stream when missing (default 1)\n"
		"  --nats-creds FILE       credentials (env NATS_CREDS; NATS_USER, NATS_PASSWORD,\n"
		"                          NATS_TOKEN, NATS_TLS=1, NATS_TLS_CA/CERT/KEY also read)\n"
		"  --kafka BROKERS         Kafka bootstrap servers (env KAFKA_BROKERS)\n"
		"  --kafka-topic TPL       topic template (default shmbus.{type})\n"
		"  --kafka-set KEY=VALUE   any librdkafka setting (repeatable); env\n"
		"                          KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_MECHANISM,\n"
		"                          KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD,\n"
		"                          KAFKA_SSL_CA_LOCATION, KAFKA_SSL_CERT_LOCATION,\n"
		"                          KAFKA_SSL_KEY_LOCATION are read\n"
		"  --stats-interval SEC    status line period, 0.01..86400 (default 5; 0: none)\n"
		"  --stats-json FILE       write the counters as JSON each period\n"
		"  --json                  status lines as JSON\n"
		"  --max-events N          stop after N events acknowledged (tests, benches)\n"
		"  --config FILE           settings from FILE: 'key = value' lines, or the\n"
		"                          [bridge] section of a shmbusctl INI config (other\n"
		"                          sections skipped); keys are the long option names\n"
		"                          but help and config, values as on the command line\n"
		"                          (json, quiet and from-journal-start take a boolean:\n"
		"                          1/0, yes/no, true/false, on/off); '#' and ';' lines\n"
		"                          are comments\n"
		"  --quiet                 no status lines\n"
		"  --help                  this text (command line only)\n"
		"  --version               the version (command line only, first argument)\n"
		"Precedence: the command line wins over --config files (read first, in\n"
		"their order, wherever they stand), which win over the environment.\n"
		"Templates: {type} {symbol} {symbol_id} {source}.\n"
		"Exit: 0 stopped cleanly, 1 runtime failure, 2 usage error. A journal that\n"
		"cannot be opened or read for catch-up (not a directory, another event\n"
		"layout, an I/O error) is a runtime failure: the bridge exits 1 instead of\n"
		"going live past what the journal holds, so that a supervisor restarts it\n"
		"once the journal is repaired. A missing journal directory starts live; a\n"
		"damaged block is a warning and its events are skipped.\n");
}

static const struct option long_opts[] = {
	{"bus", 1, 0, 'b'}, {"ring", 1, 0, 'r'}, {"types", 1, 0, 't'}, {"symbols", 1, 0, 's'},
	{"capacity", 1, 0, 'C'}, {"ring-policy", 1, 0, 'P'}, {"encoding", 1, 0, 'e'},
	{"window", 1, 0, 'w'}, {"on-full", 1, 0, 'F'}, {"checkpoint", 1, 0, 'k'},
	{"journal", 1, 0, 'j'}, {"journal-bus", 1, 0, 'J'}, {"catchup-slack-ms", 1, 0, 'S'},
	{"from-journal-start", 0, 0, 'A'}, {"handover-timeout-ms", 1, 0, 'H'},
	{"nats", 1, 0, 'n'}, {"nats-stream", 1, 0, 'N'}, {"nats-subject", 1, 0, 'u'},
	{"nats-create-stream", 1, 0, 'c'}, {"nats-creds", 1, 0, 'R'}, {"kafka", 1, 0, 'K'},
	{"kafka-topic", 1, 0, 'T'}, {"kafka-set", 1, 0, 'x'}, {"stats-interval", 1, 0, 'i'},
	{"stats-json", 1, 0, 'o'}, {"json", 0, 0, 'O'}, {"max-events", 1, 0, 'm'},
	{"config", 1, 0, 'f'}, {"quiet", 0, 0, 'q'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0},
};

static int bad(const char *what, const char *why, const char *where)
{
	fprintf(stderr, PROG ": %s: %s (%s)\n", what, why, where);
	return 2;
}



/* Seconds: 0 (off) or STATS_INTERVAL_MIN..MAX; nan, inf and words refused. */
static int parse_interval(const char *s, double *out)
{
	char *end;
	if ((s[0] < '0' || s[0] > '9') && s[0] != '.')
		return -1;
	errno = 0;
	double v = strtod(s, &end);
	if (errno != 0 || *end != '\0' || !isfinite(v) ||
	    (v != 0 && (v < STATS_INTERVAL_MIN || v > STATS_INTERVAL_MAX)))
		return -1;
	*out = v;
	return 0;
}

/* Milliseconds: -1 (the whole journal) or 0..SLACK_MS_MAX, into ns. */
static int parse_slack(const char *s, int64_t *ns)
{
	uint64_t ms;
	if (strcmp(s, "-1") == 0) {
		*ns = -1;
		return 0;
	}
	if (tool_parse_u64(s, &ms) < 0 || ms > (uint64_t)SLACK_MS_MAX)
		return -1;
	*ns = (int64_t)ms * 1000000;
	return 0;
}

static int config_file(struct opts *o, const char *path);
static int parse_types(struct opts *o, const char *list, const char *where);
static int check_symbols(const char *list, const char *where);

/* Long name of option key, for messages. */
static const char *opt_name(int key)
{
	for (const struct option *lo = long_opts; lo->name != NULL; lo++)
		if (lo->val == key)
			return lo->name;
	return "?";
}

/* A boolean option: the flag alone (v NULL) or a config value. */
static int apply_bool(int *out, int key, const char *v, const char *where)
{
	char what[64];
	int b = v ? tool_parse_bool(v) : 1; /* the flag alone: true */
	if (b < 0) {
		snprintf(what, sizeof what, "--%s '%.24s'", opt_name(key), v);
		return bad(what, "expected 1, 0, yes, no, true, false, on or off", where);
	}
	*out = b;
	return 0;
}

/* Options naming a file, a directory, a bus or brokers: an empty value is
 * a usage error, as shmbusctl check has it. It was taken: --checkpoint ''
 * and --stats-json '' passed their start-up checks (writing ".tmp" in the
 * working directory) and every write failed after, --journal '' read no
 * journal, and --kafka '' (no broker) took events and delivered none. */
static int text_option(int key)
{
	return key != 0 && strchr("kjJRKo", key) != NULL;
}

/* Apply one option; `where` names its origin for errors. Returns 0 or 2. */
static int apply(struct opts *o, int key, const char *v, const char *where)
{
	uint64_t n;
	if (text_option(key) && v[0] == '\0') {
		char what[64];
		snprintf(what, sizeof what, "--%s", opt_name(key));
		return bad(what, "empty value", where);
	}
	switch (key) {
	case 'b': /* checked here: a --config file's bad name is its line's */
		if (shmbus_name_check("bus", v) != 0)
			return bad("--bus", shmbus_errmsg(), where ? where : "command line");
		o->bus = v;
		o->bus_set = 1;
		break;
	case 'r':
		if (shmbus_name_check("ring", v) != 0)
			return bad("--ring", shmbus_errmsg(), where ? where : "command line");
		o->core.ring = v;
		break;
	case 't': o->types = v; return parse_types(o, v, where);
	case 's': o->symbols = v; return check_symbols(v, where);
	case 'C':
		if (tool_parse_u64(v, &n) < 0 || n < 2 || n > (1u << 30) || (n & (n - 1)))
			return bad("--capacity", "expected a power of two in 2..1073741824", where);
		o->core.sub.capacity = (uint32_t)n;
		o->core.sub_given |= BRIDGE_SUB_CAPACITY;
		break;
	case 'P':
		if (strcmp(v, "block") && strcmp(v, "drop"))
			return bad("--ring-policy", "expected block or drop", where);
		o->core.sub.policy = strcmp(v, "drop") == 0 ? SHMBUS_POLICY_DROP : SHMBUS_POLICY_BLOCK;
		o->core.sub_given |= BRIDGE_SUB_POLICY;
		break;
	case 'e':
		if (bridge_encoding_from_name(v) < 0)
			return bad("--encoding", "expected json or binary", where);
		o->core.enc = (enum bridge_encoding)bridge_encoding_from_name(v);
		break;
	case 'w':
		if (tool_parse_u64(v, &n) < 0 || n < 2 || n > (1u << 24) || (n & (n - 1)))
			return bad("--window", "expected a power of two in 2..16777216", where);
		o->core.window = (uint32_t)n;
		break;
	case 'F':
		if (strcmp(v, "block") && strcmp(v, "drop"))
			return bad("--on-full", "expected block or drop", where);
		o->core.on_full = strcmp(v, "drop") == 0 ? BRIDGE_ON_FULL_DROP : BRIDGE_ON_FULL_BLOCK;
		break;
	case 'k': o->core.checkpoint = v; break;
	case 'j': o->core.journal_dir = v; break;
	case 'J': o->core.journal_bus = v; break;
	case 'S':
		if (parse_slack(v, &o->core.catchup_slack_ns) < 0)
			return bad("--catchup-slack-ms", "expected -1 or milliseconds in "
							 "0..9223372036854", where);
		break;
	case 'A': return apply_bool(&o->core.from_journal_start, key, v, where);
	case 'H':
		if (tool_parse_u64(v, &n) < 0 || n > 3600000)
			return bad("--handover-timeout-ms", "expected milliseconds in 0..3600000",
				   where);
		o->core.handover_timeout_ms = (int64_t)n;
		break;
	case 'n': o->nats.url = v; break;
	case 'N': o->nats.stream = v; break;
	case 'u': o->nats.subject = v; break;
	case 'c': return apply_bool(&o->nats.create_stream, key, v, where);
	case 'R': o->nats.creds = v; break;
	case 'K': o->kafka.brokers = v; break;
	case 'T': o->kafka.topic = v; break;
	case 'x':
		if (o->kafka.nprops == BRIDGE_KAFKA_MAX_PROPS || strchr(v, '=') == NULL)
			return bad("--kafka-set", "expected KEY=VALUE (at most 32)", where);
		o->kafka.props[o->kafka.nprops++] = v;
		break;
	case 'i':
		if (parse_interval(v, &o->stats_interval) < 0)
			return bad("--stats-interval", "expected 0 (none) or seconds in 0.01..86400",
				   where);
		break;
	case 'o': o->stats_json = v; break;
	case 'O': return apply_bool(&o->json, key, v, where);
	case 'm':
		if (tool_parse_u64(v, &o->max_events) < 0)
			return bad("--max-events", "expected a count", where);
		break;
	case 'f': return config_file(o, v);
	case 'q': return apply_bool(&o->quiet, key, v, where);
	default: return bad("option", "not handled", where); /* a long_opts entry without a case */
	}
	return 0;
}

/* The option of config key k, or 0 with a message (unknown key, or a
 * command-line-only flag). */
static int config_key(const char *k, const char *where)
{
	if (strcmp(k, "help") == 0)
		return bad("config 'help'", "a command-line flag, not a setting", where), 0;
	if (strcmp(k, "config") == 0)
		return bad("config 'config'", "a config file cannot include another", where), 0;
	for (const struct option *lo = long_opts; lo->name != NULL; lo++)
		if (strcmp(lo->name, k) == 0)
			return lo->val;
	char what[64];
	snprintf(what, sizeof what, "config key '%.40s'", k);
	return bad(what, "unknown (keys are the long option names)", where), 0;
}

/* One setting of a --config file (tool_conf_read calls it). 0 or 2. */
static int config_setting(void *ctx, const char *k, const char *v, const char *where)
{
	struct opts *o = ctx;
	int key = config_key(k, where);
	if (key == 0)
		return 2;
	if (o->nowned == OWNED_MAX)
		return bad("config", "too many settings (at most 256)", where);
	char *d = strdup(v);
	if (d == NULL) {
		fprintf(stderr, PROG ": out of memory (%s)\n", where);
		return 2;
	}
	o->owned[o->nowned++] = d;
	return apply(o, key, d, where);
}

/* Read a --config file (tool_conf.h): "key = value" lines, or the [bridge]
 * section of the host's INI config. Returns 0 or 2. */
static int config_file(struct opts *o, const char *path)
{
	struct tool_conf_error err;
	char bus[SHMBUS_NAME_MAX + 1];
	int rc = tool_conf_read(path, "bridge", config_setting, o, bus, sizeof(bus), &err);
	if (rc < 0)
		return bad(err.what, err.why, err.where);
	if (rc == 0 && !o->bus_set && bus[0]) { /* neither $SHMBUS_BUS nor a bus key: */
		char *d = o->nowned < OWNED_MAX ? strdup(bus) : NULL;
		if (d == NULL)
			return bad("config", "out of memory", path);
		o->owned[o->nowned++] = d;
		o->bus = d; /* the INI file's [bus] name; --bus still wins */
		o->bus_set = 1;
	}
	return rc;
}

static const char *env(const char *name)
{
	const char *v = getenv(name);
	return v != NULL && v[0] != '\0' ? v : NULL;
}

static void warn_stderr(void *ctx, const char *msg)
{
	(void)ctx;
	fprintf(stderr, PROG ": warning: %s\n", msg);
}

static void defaults(struct opts *o)
{
	memset(o, 0, sizeof *o);
	o->bus = env("SHMBUS_BUS") ? env("SHMBUS_BUS") : SHMBUS_DEFAULT_BUS; /* the launcher's */
	o->bus_set = env("SHMBUS_BUS") != NULL;
	bridge_core_config_init(&o->core);
	o->core.warn = warn_stderr;
	o->stats_interval = 5;
	o->nats = (struct bridge_nats_config){
		.url = env("NATS_URL"), .creds = env("NATS_CREDS"), .user = env("NATS_USER"),
		.password = env("NATS_PASSWORD"), .token = env("NATS_TOKEN"),
		.tls_ca = env("NATS_TLS_CA"), .tls_cert = env("NATS_TLS_CERT"),
		.tls_key = env("NATS_TLS_KEY"), .tls = env("NATS_TLS") != NULL,
		.stream = "SHMBUS", .subject = "shmbus.{type}.{symbol}", .create_stream = 1,
		.dup_window_ns = 120 * 1000000000LL, .ack_timeout_ms = 5000,
		.reconnect_base_ms = 100, .reconnect_max_ms = 5000};
	o->kafka = (struct bridge_kafka_config){
		.brokers = env("KAFKA_BROKERS"), .topic = "shmbus.{type}",
		.security_protocol = env("KAFKA_SECURITY_PROTOCOL"),
		.sasl_mechanism = env("KAFKA_SASL_MECHANISM"),
		.sasl_username = env("KAFKA_SASL_USERNAME"),
		.sasl_password = env("KAFKA_SASL_PASSWORD"),
		.ssl_ca = env("KAFKA_SSL_CA_LOCATION"), .ssl_cert = env("KAFKA_SSL_CERT_LOCATION"),
		.ssl_key = env("KAFKA_SSL_KEY_LOCATION"), .reconnect_base_ms = 100,
		.reconnect_max_ms = 5000};
}

/* --types into the subscription, when given (a later one replaces an
 * earlier one). 0 or 2. */
static int parse_types(struct opts *o, const char *list, const char *where)
{
	char why[320];
	if (tool_parse_types(list, &o->core.sub.types, why, sizeof why))
		return bad("--types", why, where);
	return 0;
}

/* The syntax of a --symbols list (interned once the bus is attached):
 * names as shmbus_symbol_intern takes them, 1..SHMBUS_SYMBOL_MAX bytes of
 * printable ASCII without spaces, so that a bad one is a usage error
 * before the bus is attached and the names before it interned. */
static int check_symbols(const char *list, const char *where)
{
	char t[SHMBUS_SYMBOL_MAX + 1], why[320];
	const char *p = list;
	size_t k = 0;
	int rc;
	if (*list == '\0')
		return bad("--symbols", "empty list", where);
	while ((rc = tool_list_next(&p, list, t, sizeof t, why, sizeof why)) > 0) {
		if (++k > SHMBUS_SUB_MAX_SYMBOLS)
			return bad("--symbols", "too many symbols", where);
		for (const char *c = t; *c != '\0'; c++)
			if (*c <= ' ' || *c >= 0x7f) { /* the byte itself is not shown */
				snprintf(why, sizeof why, "symbol '%.*s...': byte %d (0x%02x) is a "
					 "space or not printable ASCII", (int)(c - t), t,
					 (int)(c - t) + 1, (unsigned char)*c);
				return bad("--symbols", why, where);
			}
	}
	if (rc < 0)
		snprintf(why + strlen(why), sizeof why - strlen(why), " (a symbol has 1..%d bytes)",
			 SHMBUS_SYMBOL_MAX);
	return rc < 0 ? bad("--symbols", why, where) : 0;
}

/* --symbols into the subscription (symbols are interned so a filter may
 * name symbols no collector registered yet). 0 or 2. */
static int resolve_symbols(struct opts *o, shmbus_bus *bus)
{
	char t[256], why[320];
	size_t k = 0;
	const char *p = o->symbols;
	if (p == NULL)
		return 0;
	/* check_symbols saw the list: no bad item, at most SHMBUS_SUB_MAX_SYMBOLS */
	while (k < SHMBUS_SUB_MAX_SYMBOLS &&
	       tool_list_next(&p, o->symbols, t, sizeof t, why, sizeof why) > 0) {
		int64_t id = shmbus_symbol_intern(bus, t, strlen(t));
		if (id < 0) { /* the bus's table is full */
			snprintf(why, sizeof why, "%s: %s", shmbus_strerror((int)id),
				 shmbus_errmsg());
			return bad("--symbols", why, t);
		}
		o->symbol_ids[k++] = (uint32_t)id;
	}
	o->core.sub.symbols = o->symbol_ids;
	o->core.sub.nsymbols = k;
	return 0;
}

static int make_sinks(struct opts *o, struct bridge_sink **sinks, int *n)
{
	char err[512];
	*n = 0;
	o->nats.max_pending = o->core.window;
	o->kafka.max_pending = o->core.window;
	int rc;
	/* -EINVAL: a setting the sink refuses, a usage error (exit 2) */
	if (o->nats.url != NULL) {
		if ((rc = bridge_nats_open(&o->nats, o->core.enc, &sinks[*n], err, sizeof err)) < 0) {
			fprintf(stderr, PROG ": %s\n", err);
			return rc == -EINVAL ? 2 : 1;
		}
		(*n)++;
	}
	if (o->kafka.brokers != NULL) {
		if ((rc = bridge_kafka_open(&o->kafka, o->core.enc, &sinks[*n], err, sizeof err)) <
		    0) {
			fprintf(stderr, PROG ": %s\n", err);
			for (; *n > 0; (*n)--) /* the NATS sink opened above */
				sinks[*n - 1]->ops->destroy(sinks[*n - 1]);
			return rc == -EINVAL ? 2 : 1;
		}
		(*n)++;
	}
	if (*n == 0)
		return bad("no sink", "give --nats URL and/or --kafka BROKERS", "command line");
	return 0;
}

static void stats_text(const struct bridge_stats *st, int json, char *buf, size_t len)
{
	if (json)
		snprintf(buf, len,
			 "{\"connected\":%d,\"inflight\":%u,\"received\":%" PRIu64
			 ",\"journal\":%" PRIu64 ",\"sent\":%" PRIu64 ",\"resent\":%" PRIu64
			 ",\"acked\":%" PRIu64 ",\"failed\":%" PRIu64 ",\"skipped\":%" PRIu64
			 ",\"dropped\":%" PRIu64 ",\"encode_errors\":%" PRIu64
			 ",\"unencodable\":%" PRIu64 ",\"checkpoints\":%" PRIu64 ",\"checkpoint_errors\":%" PRIu64
			 ",\"progress_errors\":%" PRIu64 ",\"reconnects\":%" PRIu64
			 ",\"lag_ns\":%" PRId64 ",\"ring_depth\":%" PRIu64 "}",
			 st->connected, st->inflight, st->received, st->journal, st->sent,
			 st->resent, st->acked, st->failed, st->skipped, st->dropped,
			 st->encode_errors, st->unencodable, st->checkpoints, st->checkpoint_errors,
			 st->progress_errors, st->reconnects, st->lag_ns, st->ring_depth);
	else
		snprintf(buf, len,
			 "connected=%d inflight=%u received=%" PRIu64 " acked=%" PRIu64
			 " sent=%" PRIu64 " resent=%" PRIu64 " failed=%" PRIu64 " skipped=%" PRIu64
			 " dropped=%" PRIu64 " encode_errors=%" PRIu64 " unencodable=%" PRIu64
			 " journal=%" PRIu64
			 " checkpoints=%" PRIu64 " checkpoint_errors=%" PRIu64
			 " progress_errors=%" PRIu64 " reconnects=%" PRIu64
			 " lag_ms=%.1f ring_depth=%" PRIu64,
			 st->connected, st->inflight, st->received, st->acked, st->sent, st->resent,
			 st->failed, st->skipped, st->dropped, st->encode_errors, st->unencodable,
			 st->journal,
			 st->checkpoints, st->checkpoint_errors, st->progress_errors, st->reconnects,
			 (double)st->lag_ns / 1e6, st->ring_depth);
}

static void report(struct opts *o, struct bridge *b)
{
	struct bridge_stats st;
	char line[1024], tmp[4200];
	bridge_get_stats(b, &st);
	if (!o->quiet) {
		stats_text(&st, o->json, line, sizeof line);
		printf("%s\n", line);
		fflush(stdout);
	}
	if (o->stats_json != NULL) {
		stats_text(&st, 1, line, sizeof line);
		snprintf(tmp, sizeof tmp, "%s.tmp", o->stats_json);
		FILE *f = fopen(tmp, "w");
		int ok = f != NULL;
		if (f != NULL) {
			fprintf(f, "%s\n", line);
			ok = fclose(f) == 0 && rename(tmp, o->stats_json) == 0;
		}
		if (!ok && !o->stats_json_failing)
			fprintf(stderr, PROG ": warning: --stats-json %s not written: %s\n",
				o->stats_json, strerror(errno));
		else if (ok && o->stats_json_failing)
			fprintf(stderr, PROG ": --stats-json %s written again\n", o->stats_json);
		o->stats_json_failing = !ok;
	}
}

/* The bridge's state as named counters in the bus, for shmbus-stat. */
static const char *const bus_counter_names[] = {
	"connected", "inflight", "acked",   "sent",       "resent", "failed",
	"skipped",   "dropped",  "journal", "reconnects", "lag_ns", "ring_depth",
	"encode_errors", "checkpoint_errors", "progress_errors", "unencodable",
};

static void publish_counters(shmbus_bus *bus, struct bridge *b)
{
	struct bridge_stats st;
	bridge_get_stats(b, &st);
	const uint64_t v[] = {(uint64_t)st.connected, st.inflight, st.acked,   st.sent,
			      st.resent,   st.failed,  st.skipped,  st.dropped, st.journal,
			      st.reconnects, (uint64_t)(st.lag_ns > 0 ? st.lag_ns : 0),
			      st.ring_depth, st.encode_errors, st.checkpoint_errors,
			      st.progress_errors, st.unencodable};
	_Static_assert(sizeof(v) / sizeof(v[0]) ==
			       sizeof(bus_counter_names) / sizeof(bus_counter_names[0]),
		       "one value per counter name");
	for (unsigned i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		shmbus_counter_set(bus, i, v[i]);
	shmbus_bus_heartbeat(bus);
}

static int run(struct opts *o, shmbus_bus *bus, struct bridge *b)
{
	char err[600] = "";
	int64_t next_counters = 0;
	int ring_broken = 0, catchup_failed = 0;
	if (shmbus_counters_define(bus, bus_counter_names,
				   sizeof(bus_counter_names) / sizeof(bus_counter_names[0])) != 0)
		fprintf(stderr, PROG ": counters: %s\n", shmbus_errmsg());
	int64_t next = shmbus_mono_ns();
	int64_t caught = bridge_catchup(b, &g_stop, err, sizeof err);
	if (caught == -ENOENT)
		fprintf(stderr, PROG ": no journal%s%s: starting live (events published while the "
				"bridge was down are not exported)\n",
			o->core.journal_dir ? " at " : "",
			o->core.journal_dir ? o->core.journal_dir : " given");
	else if (caught < 0 && caught != -EINTR) {
		/* Going live now would move the hand-over point past what the
		 * journal holds after the checkpoint: those events would never
		 * be exported. Exit 1 instead, so that a supervisor retries
		 * once the journal is readable again. */
		fprintf(stderr,
			PROG ": journal catch-up failed: %s: not starting live (the journal's "
			     "events after the checkpoint would never be exported); repair the "
			     "journal, or drop --journal to start live without it, and restart\n",
			err);
		catchup_failed = 1;
	} else if (err[0] != '\0') {
		fprintf(stderr, PROG ": %s\n", err);
	}
	while (!g_stop && !catchup_failed) {
		/* How long an idle step may wait for the ring (bridge_step
		 * waits only when nothing is in flight; a publish wakes it at
		 * once). Not 1 ms: the ring's adaptive wait spins and yields
		 * about 2000 times before it sleeps, which takes about 1 ms, so
		 * a 1 ms wait never slept and an idle bridge burnt a whole core
		 * in sched_yield. */
		int64_t wait = IDLE_WAIT_NS, to_report = next - shmbus_mono_ns();
		if ((o->stats_interval > 0 || o->stats_json != NULL) && to_report < wait)
			wait = to_report > 1000000 ? to_report : 1000000;
		if (bridge_step(b, wait) < 0) {
			fprintf(stderr, PROG ": %s\n", shmbus_errmsg());
			ring_broken = 1;
			break;
		}
		int64_t now = shmbus_mono_ns();
		if (now >= next_counters) {
			publish_counters(bus, b);
			next_counters = now + 100000000; /* 10 times a second */
		}
		if (o->max_events != 0 && bridge_acked_total(b) >= o->max_events)
			break;
		if ((o->stats_interval > 0 || o->stats_json != NULL) && now >= next) {
			report(o, b);
			next = now + (int64_t)((o->stats_interval > 0 ? o->stats_interval : 1) * 1e9);
		}
	}
	int rc = bridge_drain(b, 5000, err, sizeof err);
	publish_counters(bus, b);
	if (o->stats_interval > 0 || o->stats_json != NULL)
		report(o, b);
	if (rc < 0) {
		fprintf(stderr, PROG ": stopping: %s\n", err);
		return 1;
	}
	return ring_broken || catchup_failed;
}

/* The items of a --kafka broker list: none empty (librdkafka takes ","
 * or "a,,b" and reports connected with no broker, so every event would
 * wait out its timeout). 0, or -1 with why said. */
static int kafka_brokers_check(const char *list, char *why, size_t len)
{
	unsigned item = 1;
	for (const char *p = list;; item++) {
		size_t n = strcspn(p, ","), lead = strspn(p, " \t");
		if (lead >= n) {
			snprintf(why, len, "broker %u of '%.200s' is empty", item, list);
			return -1;
		}
		if (p[n] == '\0')
			return 0;
		p += n + 1;
	}
}

/* A subject or topic template that cannot expand to a valid name would
 * have every event refused by its sink, so it is a usage error; so is a
 * broker list with an empty item, a librdkafka setting it refuses, and a
 * --stats-json path that cannot be written. Returns -1 (all good) or 2. */
static int check_outputs(struct opts *o)
{
	char why[256], what[600];
	if (o->nats.url != NULL &&
	    bridge_check_template(o->nats.subject, BRIDGE_NAME_NATS_SUBJECT, why, sizeof why) < 0) {
		snprintf(what, sizeof what, "--nats-subject '%.200s'", o->nats.subject);
		return bad(what, why, "command line or config");
	}
	if (o->nats.url != NULL && bridge_nats_check(&o->nats, what, sizeof what) < 0) {
		fprintf(stderr, PROG ": %s\n", what); /* names the option and the value */
		return 2;
	}
	if (o->kafka.brokers != NULL) {
		if (bridge_check_template(o->kafka.topic, BRIDGE_NAME_KAFKA_TOPIC, why, sizeof why) <
		    0) {
			snprintf(what, sizeof what, "--kafka-topic '%.200s'", o->kafka.topic);
			return bad(what, why, "command line or config");
		}
		if (kafka_brokers_check(o->kafka.brokers, why, sizeof why) < 0)
			return bad("--kafka", why, "command line, config or environment");
		if (bridge_kafka_check(&o->kafka, why, sizeof why) < 0)
			return bad("--kafka-set", why, "command line, config or environment");
	}
	if (o->stats_json != NULL) {
		/* the file report() writes and renames, whole: a path cut short
		 * here would create and remove another file of that name */
		char tmp[4200];
		if (snprintf(tmp, sizeof tmp, "%s.tmp", o->stats_json) >= (int)sizeof tmp)
			return bad("--stats-json", "path too long", "command line or config");
		FILE *f = fopen(tmp, "w");
		if (f == NULL) {
			int e = errno;
			snprintf(what, sizeof what, "%.290s%s.tmp", o->stats_json,
				 strlen(o->stats_json) > 290 ? "..." : "");
			return bad("--stats-json", strerror(e), what);
		}
		fclose(f);
		unlink(tmp);
	}
	return -1;
}

/* Command line, config files included. Returns -1 to go on, else the
 * exit code. A --config file is applied first wherever it stands, so that
 * the command line overrides it (the priority the header comment gives). */
static int parse_args(struct opts *o, int argc, char **argv)
{
	int c;
	for (int pass = 0; pass < 2; pass++) {
		optind = 0; /* glibc: a full rescan */
		opterr = pass == 0;
		while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
			if (c == '?') {
				usage(stderr);
				return 2;
			}
			if (c == 'h') {
				usage(stdout);
				return 0;
			}
			if ((c == 'f') == (pass == 0) && apply(o, c, optarg, "command line") != 0)
				return 2;
		}
	}
	if (optind < argc)
		return bad("unexpected argument", argv[optind], "command line");
	/* What needs no bus is checked before attaching to it. */
	char path[4096];
	if (shmbus_bus_path(o->bus, path, sizeof path) == -EINVAL) {
		const char *from = tool_bus_origin(o->bus);
		return bad(from, shmbus_errmsg(), from[0] == '-' ? "command line" : "environment");
	}
	if (o->nats.url == NULL && o->kafka.brokers == NULL)
		return bad("no sink", "give --nats URL and/or --kafka BROKERS", "command line");
	return check_outputs(o);
}

int main(int argc, char **argv)
{
	if (tool_version_asked(argc, argv))
		return tool_version_print("shmbus-bridge");
	struct opts o;
	int rc, nsinks = 0;
	struct bridge_sink *sinks[BRIDGE_MAX_SINKS];
	shmbus_bus *bus = NULL;
	struct bridge *b = NULL;
	char err[600];
	defaults(&o);
	if ((rc = parse_args(&o, argc, argv)) >= 0)
		goto out;
	/* From here on a SIGTERM stops the bridge cleanly (catch-up and the
	 * loop look at g_stop; the window is drained and checkpointed): one
	 * that came while the sinks connected or the ring was subscribed
	 * used to kill it by the default action; one blocked and pending
	 * from the parent, as the other services do, is unblocked. */
	tool_stop_signals(on_signal);
	rc = shmbus_bus_open(o.bus, "shmbus-bridge", SHMBUS_ROLE_CONSUMER, &bus);
	if (rc < 0) {
		fprintf(stderr, PROG ": attach bus: %s (bus %s%s%s)\n", shmbus_strerror(rc), o.bus,
			shmbus_errmsg()[0] ? ": " : "", shmbus_errmsg());
		rc = 1;
		goto out;
	}
	if ((rc = resolve_symbols(&o, bus)) != 0 || (rc = make_sinks(&o, sinks, &nsinks)) != 0)
		goto out;
	if (bridge_open(bus, &o.core, sinks, nsinks, &b, err, sizeof err) < 0) {
		fprintf(stderr, PROG ": %s\n", err);
		for (int k = 0; k < nsinks; k++)
			sinks[k]->ops->destroy(sinks[k]);
		rc = 1;
		goto out;
	}
	rc = run(&o, bus, b);
out:
	bridge_close(b);
	shmbus_bus_close(bus);
	for (size_t k = 0; k < o.nowned; k++)
		free(o.owned[k]);
	return rc;
}
