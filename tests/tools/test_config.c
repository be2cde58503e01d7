/*
 * test_config.c - the host configuration parser: the shipped files and a
 * full file load cleanly with the right values; each bad file fails with
 * a message naming the file, the line and the key; [journal] and [bridge]
 * accept exactly the long options of shmbus-journald and shmbus-bridge.
 */
#define _GNU_SOURCE /* mkdtemp, mkfifo */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "shmbus_config.h"
#include "tool_conf.h"
#include "tool_util.h"

static const char full_ini[] = "; a full file\n"
                               "[bus]\n"
                               "name = test-bus\n"
                               "arena_mb = 16\n"
                               "max_rings = 8\n"
                               "max_symbols = 1024\n"
                               "hugepages = never\n"
                               "keep = yes\n"
                               "\n"
                               "[launcher]\n"
                               "stop_grace_ms = 500\n"
                               "status_file = /tmp/x.status\n"
                               "\n"
                               "[ring ticks]\n"
                               "slot_size = 64\n"
                               "capacity = 4096\n"
                               "policy = drop\n"
                               "wait = spin\n"
                               "types = trade, quote\n"
                               "symbols = SPY,IBM , BTC-USDT\n"
                               "\n"
                               "[ring ta.0]\n"
                               "capacity = 1024\n"
                               "group = ta\n"
                               "group_size = 2\n"
                               "group_member = 1\n"
                               "\n"
                               "[journal]\n"
                               "dir = /var/lib/shmbus/journal\n"
                               "fsync = interval:100\n"
                               "segment-mb = 256\n"
                               "\n"
                               "[bridge]\n"
                               "nats = nats://localhost:4222\n"
                               "window = 16\n"
                               "\n"
                               "[service ta]\n"
                               "command = shmbus-ta\n"
                               "args = --bus ${bus} --name \"two words\"\n"
                               "cores = 3,1-2,2\n"
                               "numa_node = 0\n"
                               "restart = always\n"
                               "restart_max = 3\n";

static void test_config_full_file_loads(void **state)
{
	(void)state;
	struct shmbus_config *c;
	char err[SHMBUS_CFG_ERR_MAX];
	int rc = shmbus_config_parse_string(full_ini, "full.ini", &c, err, sizeof(err));
	if (rc)
		print_error("%s\n", err);
	assert_int_equal(rc, 0);
	assert_string_equal(c->bus.name, "test-bus");
	assert_int_equal(c->bus.opts.arena_bytes, 16u << 20);
	assert_int_equal(c->bus.opts.max_rings, 8);
	assert_int_equal(c->bus.opts.max_symbols, 1024);
	assert_int_equal(c->bus.opts.hugepages, SHMBUS_HUGEPAGES_NEVER);
	assert_int_equal(c->bus.keep, 1);
	assert_int_equal(c->launcher.stop_grace_ms, 500);
	assert_string_equal(c->launcher.status_file, "/tmp/x.status");
	assert_int_equal(c->nrings, 2);
	const struct shmbus_cfg_ring *r = &c->rings[0];
	assert_string_equal(r->name, "ticks");
	assert_int_equal(r->line, 14);
	assert_int_equal(r->opts.slot_size, 64);
	assert_int_equal(r->opts.capacity, 4096);
	assert_int_equal(r->opts.policy, SHMBUS_POLICY_DROP);
	assert_int_equal(r->opts.wait, SHMBUS_WAIT_SPIN);
	assert_int_equal(r->opts.types,
	                 SHMBUS_TYPE_BIT(SHMBUS_EV_TRADE) | SHMBUS_TYPE_BIT(SHMBUS_EV_QUOTE));
	assert_int_equal(r->nsymbols, 3);
	assert_string_equal(r->symbols[2], "BTC-USDT");
	assert_string_equal(c->rings[1].opts.group, "ta");
	assert_int_equal(c->rings[1].opts.group_member, 1);
	assert_true(c->journal.present);
	int line = 0;
	assert_string_equal(shmbus_config_get(&c->journal, "fsync", &line), "interval:100");
	assert_int_equal(line, 30);
	assert_null(shmbus_config_get(&c->journal, "nope", NULL));
	assert_string_equal(shmbus_config_get(&c->bridge, "nats", NULL), "nats://localhost:4222");
	assert_int_equal(c->nservices, 1);
	const struct shmbus_cfg_service *s = &c->services[0];
	assert_string_equal(s->command, "shmbus-ta");
	assert_int_equal(s->nargs, 4);
	assert_string_equal(s->args[1], "${bus}");
	assert_string_equal(s->args[3], "two words");
	assert_int_equal(s->ncores, 3);
	assert_int_equal(s->cores[0], 1);
	assert_int_equal(s->cores[2], 3);
	assert_int_equal(s->numa_node, 0);
	assert_int_equal(s->restart, SHMBUS_RESTART_ALWAYS);
	assert_int_equal(s->restart_max, 3);
	shmbus_config_free(c);
}

static void test_config_defaults_apply(void **state)
{
	(void)state;
	struct shmbus_config *c;
	char err[SHMBUS_CFG_ERR_MAX];
	assert_int_equal(shmbus_config_parse_string("[ring r]\n", "d.ini", &c, err, sizeof(err)),
	                 0);
	assert_string_equal(c->bus.name, SHMBUS_DEFAULT_BUS);
	assert_int_equal(c->nrings, 1);
	assert_int_equal(c->rings[0].opts.capacity, 65536);
	assert_int_equal(c->launcher.stop_grace_ms, 3000);
	assert_false(c->journal.present);
	shmbus_config_free(c);
}

static void load_shipped(const char *name)
{
	char path[512], err[SHMBUS_CFG_ERR_MAX];
	snprintf(path, sizeof(path), "%s/config/%s", TOOLS_SRC_DIR, name);
	struct shmbus_config *c;
	int rc = shmbus_config_load(path, &c, err, sizeof(err));
	if (rc)
		print_error("%s\n", err);
	assert_int_equal(rc, 0);
	assert_true(c->nrings >= 3);
	assert_true(c->nservices >= 4);
	assert_true(c->journal.present);
	shmbus_config_free(c);
}

static void test_config_shipped_files_load(void **state)
{
	(void)state;
	load_shipped("demo.ini");
	load_shipped("production-example.ini");
}

static void test_config_missing_file_names_it(void **state)
{
	(void)state;
	struct shmbus_config *c;
	char err[SHMBUS_CFG_ERR_MAX];
	assert_int_equal(shmbus_config_load("/nonexistent/x.ini", &c, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/x.ini: cannot open"));
}

struct bad_case {
	const char *text;
	const char *expect; /* substring of the message */
};

static const struct bad_case bad[] = {
    {"[bus]\nname = a\nfoo = 1\n", "bad.ini:3: [bus] foo: unknown key"},
    {"[bus]\narena_mb = 12x\n", "bad.ini:2: [bus] arena_mb: '12x' is not a number"},
    {"[bus]\narena_mb = 0\n", "bad.ini:2: [bus] arena_mb: 0 is not in 1..65536"},
    {"[ring a]\n[ring b]\n[ring a]\n", "bad.ini:3: [ring a]: duplicate ring 'a' (first at line 1)"},
    {"[ring a]\ncapacity = 1000\n", "bad.ini:2: [ring a] capacity: 1000 is not a power of two"},
    {"[service s]\nargs = x\n", "bad.ini:1: [service s] command: missing"},
    {"[service s]\ncommand = x\ncores = 0,1024\n", "bad.ini:3: [service s] cores: CPU 1024"},
    {"[service s]\ncommand = x\ncores = 3-1\n",
     "bad.ini:3: [service s] cores: range 3-1 is backwards"},
    {"[ring a]\npolicy = lossy\n",
     "bad.ini:2: [ring a] policy: unknown policy 'lossy' (expected block|drop)"},
    {"[ring a]\nwait = nap\n", "bad.ini:2: [ring a] wait: unknown wait 'nap'"},
    {"[ring a]\ntypes = trade,tick\n", "bad.ini:2: [ring a] types: unknown event type 'tick'"},
    {"[ring a]\ntypes = trade, all\n", "bad.ini:2: [ring a] types: 'all' stands alone"},
    {"[ring a]\ntypes = *, bar\n", "bad.ini:2: [ring a] types: '*' stands alone"},
    {"[ring a]\nslot_size = 100\n", "bad.ini:2: [ring a] slot_size: '100' is not a slot size"},
    {"[ring a]\ncapacity = 8\ncapacity = 16\n",
     "bad.ini:3: [ring a] capacity: duplicate key (first at line 2)"},
    {"[rings a]\n", "bad.ini:1: [rings a]: unknown section"},
    {"[ring bad/name]\n", "bad.ini:1: [ring bad/name]: name 'bad/name': character 4"},
    {"[service s]\ncommand = x\nrestart = sometimes\n",
     "bad.ini:3: [service s] restart: unknown restart 'sometimes'"},
    {"[journal]\nfsync = often\n", "bad.ini:2: [journal] fsync: 'often' is not none, batch"},
    {"[journal]\nfsync = interval\n", "bad.ini:2: [journal] fsync: 'interval' is not none"},
    {"[journal]\ndirectory = /x\n", "bad.ini:2: [journal] directory: unknown key"},
    /* the keys are journald's and the bridge's long options, not the old names */
    {"[journal]\ndir = /x\nsegment_mb = 256\n", "bad.ini:3: [journal] segment_mb: unknown key"},
    {"[journal]\nblock-kb = 6\n", "bad.ini:2: [journal] block-kb: 6 is not a multiple of 4"},
    {"[journal]\ncapacity = 1000\n", "bad.ini:2: [journal] capacity: 1000 is not a power"},
    {"[journal]\ndirect = maybe\n", "bad.ini:2: [journal] direct: 'maybe' is not a boolean"},
    {"[journal]\ntypes = trade,tick\n", "bad.ini:2: [journal] types: unknown event type"},
    {"[journal]\nring = a/b\n", "bad.ini:2: [journal] ring: name 'a/b'"},
    {"[journal]\nhelp = 1\n", "bad.ini:2: [journal] help: unknown key"},
    {"[bridge]\ntarget = nats\n", "bad.ini:2: [bridge] target: unknown key"},
    {"[bridge]\nurl = nats://x\n", "bad.ini:2: [bridge] url: unknown key"},
    {"[bridge]\nencoding = avro\n", "bad.ini:2: [bridge] encoding: unknown value 'avro'"},
    {"[bridge]\nwindow = 5\n", "bad.ini:2: [bridge] window: 5 is not a power of two"},
    {"[bridge]\nstats-interval = 5s\n", "bad.ini:2: [bridge] stats-interval: '5s'"},
    {"[bridge]\nstats-interval = 0.001\n", "bad.ini:2: [bridge] stats-interval: '0.001'"},
    {"[bridge]\ncatchup-slack-ms = -5\n", "bad.ini:2: [bridge] catchup-slack-ms: '-5'"},
    {"[bridge]\nkafka-set = acks\n", "bad.ini:2: [bridge] kafka-set: 'acks' is not KEY=VALUE"},
    {"[bridge]\nnats = a\nnats = b\n", "bad.ini:3: [bridge] nats: duplicate key"},
    {"[bridge]\nconfig = /x\n", "bad.ini:2: [bridge] config: unknown key"},
    {"name = x\n", "bad.ini:1: name: key outside any section"},
    {"[bus]\nname = x\nthis line has no equals\n", "bad.ini:3: syntax error"},
    {"[bus]\n[bus]\n", "bad.ini:2: [bus]: duplicate section (first at line 1)"},
    {"[ring a]\ngroup_size = 2\ngroup = g\ngroup_member = 2\n",
     "bad.ini:1: [ring a] group_member: 2 is not below group_size 2"},
    {"[bus]\nhugepages = maybe\n", "bad.ini:2: [bus] hugepages: 'maybe' is not one of auto"},
    {"[bus]\narena_mb = 1\n[ring a]\ncapacity = 65536\nslot_size = 256\n",
     "bad.ini:2: [bus] arena_mb: the rings need 17 MiB"},
    /* exactly the arena in slots: the headers and bitmaps do not fit too */
    {"[bus]\narena_mb = 1\n[ring a]\ncapacity = 16384\nslot_size = 64\n",
     "bad.ini:2: [bus] arena_mb: the rings need 2 MiB"},
    {"[bus]\nmax_symbols = 16\n[ring a]\nsymbols = A,B,C,D,E,F,G,H,I\n"
     "[ring b]\nsymbols = J,K,L,M,N,O,P,Q,R,A\n",
     "bad.ini:2: [bus] max_symbols: the rings name 18 distinct symbols, more than the "
     "table's 16"},
    {"[bus]\nmax_symbols = 1000\n", "bad.ini:2: [bus] max_symbols: 1000 is not a power of two"},
    {"[ring a]\nsymbols = SPY,THIS-SYMBOL-IS-FAR-TOO-LONG\n",
     "bad.ini:2: [ring a] symbols: symbol 'THIS-SYMBOL-IS-FAR-TOO-LONG'"},
    {"[service s]\ncommand = x\nnuma_node = -1\n",
     "bad.ini:3: [service s] numa_node: '-1' is not a number"},
    {"[service s]\ncommand = x\nargs = \"open\n", "bad.ini:3: [service s] args: unterminated"},
    /* max_rings may come after the rings: checked at the end, at the first ring too many */
    {"[ring a]\n[ring b]\n[ring c]\n[bus]\nmax_rings = 1\n",
     "bad.ini:2: [ring b]: ring 2 of 3: more rings than [bus] max_rings (1, set at line 5)"},
    {"[bus]\nmode = +0660\n", "bad.ini:2: [bus] mode: '+0660' is not an octal file mode"},
    {"[bus]\nmode = -0\n", "bad.ini:2: [bus] mode: '-0' is not an octal file mode"},
    {"[bus]\nmode = 0x1ff\n", "bad.ini:2: [bus] mode: '0x1ff' is not an octal file mode"},
    {"[launcher]\nbackoff_initial_ms = 6000\n",
     "bad.ini:2: [launcher] backoff_initial_ms: 6000 is above backoff_max_ms (5000, the "
     "default)"},
    {"[launcher]\nbackoff_max_ms = 50\n",
     "bad.ini:2: [launcher] backoff_max_ms: 50 is below backoff_initial_ms (100, the default)"},
    {"[launcher]\nbackoff_max_ms = 200\nbackoff_initial_ms = 300\n",
     "bad.ini:3: [launcher] backoff_initial_ms: 300 is above backoff_max_ms (200, set at line "
     "2)"},
    {"[launcher]\nstop_grace_ms = 1\n[launcher]\nstop_grace_ms = 2\n",
     "bad.ini:3: [launcher]: duplicate section (first at line 1)"},
    /* the first error wins over a later syntax error */
    {"[bus]\nfoo = 1\n[x\n[ring a]\ncapacity = 1024\n", "bad.ini:2: [bus] foo: unknown key"},
};

static void test_config_bad_files_name_line_and_key(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct shmbus_config *c = (void *)1;
		char err[SHMBUS_CFG_ERR_MAX] = "";
		int rc = shmbus_config_parse_string(bad[i].text, "bad.ini", &c, err, sizeof(err));
		if (rc != -EINVAL || !strstr(err, bad[i].expect))
			print_error("case %zu: rc %d\n  got:    %s\n  wanted: %s\n", i, rc, err,
			            bad[i].expect);
		assert_int_equal(rc, -EINVAL);
		assert_null(c);
		assert_non_null(strstr(err, bad[i].expect));
	}
}

static void test_config_long_line_is_refused(void **state)
{
	(void)state;
	char text[600];
	snprintf(text, sizeof(text), "[service s]\ncommand = x\nargs = %0400d\n", 1);
	struct shmbus_config *c;
	char err[SHMBUS_CFG_ERR_MAX];
	assert_int_equal(shmbus_config_parse_string(text, "long.ini", &c, err, sizeof(err)),
	                 -EINVAL);
	assert_non_null(strstr(err, "long.ini:3:"));
	assert_non_null(strstr(err, "longer than"));
}

static void test_config_bom_is_skipped(void **state)
{
	(void)state;
	struct shmbus_config *c;
	char err[SHMBUS_CFG_ERR_MAX];
	int rc = shmbus_config_parse_string("\xEF\xBB\xBF[bus]\nname = bom\n", "bom.ini", &c, err,
	                                    sizeof(err));
	if (rc)
		print_error("%s\n", err);
	assert_int_equal(rc, 0);
	assert_string_equal(c->bus.name, "bom");
	assert_int_equal(c->bus.line, 1);
	shmbus_config_free(c);
}

/* A private folder for files the loader reads (removed by the test). */
static void tmp_file(char *dir, size_t dlen, char *path, size_t plen, const char *name)
{
	snprintf(dir, dlen, "/tmp/shmbus-cfgtest-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, plen, "%s/%s", dir, name);
}

static void load_fails(const char *path, int want_rc, const char *want)
{
	struct shmbus_config *c = (void *)1;
	char err[SHMBUS_CFG_ERR_MAX] = "";
	int rc = shmbus_config_load(path, &c, err, sizeof(err));
	if (rc != want_rc || !strstr(err, want))
		print_error("%s: rc %d\n  got:    %s\n  wanted: %s\n", path, rc, err, want);
	assert_int_equal(rc, want_rc);
	assert_null(c);
	assert_non_null(strstr(err, want));
}

static void test_config_file_nul_bytes_are_refused(void **state)
{
	(void)state;
	char dir[64], path[128];
	tmp_file(dir, sizeof(dir), path, sizeof(path), "nul.ini");
	static const char mid[] = "[bus]\nname=abc\0garbage\n";
	static const char first[] = "[bus]\n\0name=abc\n";
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(mid, 1, sizeof(mid) - 1, f), sizeof(mid) - 1);
	fclose(f);
	load_fails(path, -EINVAL, "nul.ini:2: [bus]: NUL byte at column 9");
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(fwrite(first, 1, sizeof(first) - 1, f), sizeof(first) - 1);
	fclose(f);
	load_fails(path, -EINVAL, "nul.ini:2: [bus]: NUL byte at column 1");
	unlink(path);
	rmdir(dir);
}

static void test_config_file_must_be_regular(void **state)
{
	(void)state;
	char dir[64], path[128];
	tmp_file(dir, sizeof(dir), path, sizeof(path), "fifo.ini");
	load_fails(dir, -EISDIR, ": cannot read: not a regular file (a directory)");
	load_fails("/dev/null", -EINVAL, "/dev/null: cannot read: not a regular file (a character");
	/* a FIFO with no writer: refused at once, not waited on */
	assert_int_equal(mkfifo(path, 0600), 0);
	load_fails(path, -EINVAL, "fifo.ini: cannot read: not a regular file (a FIFO)");
	unlink(path);
	rmdir(dir);
}

static void test_config_file_huge_line_stops_the_reader(void **state)
{
	(void)state;
	char dir[64], path[128];
	tmp_file(dir, sizeof(dir), path, sizeof(path), "huge.ini");
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("[bus]\nname = ", f);
	for (int i = 0; i < 100000; i++)
		fputc('x', f);
	fputs("\n[bus]\n", f); /* never read: the reader stopped */
	fclose(f);
	load_fails(path, -EINVAL, "huge.ini:2: [bus]: line is longer than 4096 bytes");
	unlink(path);
	rmdir(dir);
}

/* [journal] and [bridge] take the long options of shmbus-journald and
 * shmbus-bridge, with their values as the command line takes them
 * ("fsync = interval:100" and "window = 5" were refused, "url" taken). */
static void test_config_kept_keys_are_the_programs_options(void **state)
{
	(void)state;
	static const char text[] = "[journal]\n"
	                           "dir = /srv/j\n"
	                           "ring = journal.in\n"
	                           "fsync = interval:20\n"
	                           "segment-mb = 64\n"
	                           "segment-age = 3600\n"
	                           "retention-age = 86400\n"
	                           "retention-mb = 4096\n"
	                           "direct = on\n"
	                           "block-kb = 128\n"
	                           "capacity = 1024\n"
	                           "flush-ms = 10\n"
	                           "types = trade,quote,33\n"
	                           "policy = drop\n"
	                           "\n"
	                           "[bridge]\n"
	                           "ring = bridge.out\n"
	                           "kafka = k1:9092\n"
	                           "kafka-topic = md.{type}\n"
	                           "kafka-set = acks=all\n"
	                           "kafka-set = linger.ms=5\n"
	                           "window = 4096\n"
	                           "catchup-slack-ms = -1\n"
	                           "stats-interval = 0.5\n"
	                           "max-events = 18446744073709551615\n"
	                           "from-journal-start = yes\n"
	                           "ring-policy = drop ; a comment\n";
	struct shmbus_config *c;
	char err[SHMBUS_CFG_ERR_MAX];
	int line = 0, rc = shmbus_config_parse_string(text, "keys.ini", &c, err, sizeof(err));
	if (rc)
		print_error("%s\n", err);
	assert_int_equal(rc, 0);
	assert_string_equal(shmbus_config_get(&c->journal, "fsync", NULL), "interval:20");
	assert_string_equal(shmbus_config_get(&c->journal, "block-kb", &line), "128");
	assert_int_equal(line, 10);
	assert_string_equal(shmbus_config_get(&c->bridge, "window", NULL), "4096");
	assert_string_equal(shmbus_config_get(&c->bridge, "ring-policy", NULL), "drop");
	size_t sets = 0;
	for (size_t i = 0; i < c->bridge.nkv; i++)
		sets += strcmp(c->bridge.kv[i].key, "kafka-set") == 0;
	assert_int_equal(sets, 2); /* repeatable, as on the command line */
	shmbus_config_free(c);
	assert_string_equal(shmbus_config_kept_key("journal", 0), "bus");
	assert_null(shmbus_config_kept_key("bus", 0));
}

/* shmbusctl check, end to end: the new keys pass, an unknown one is named
 * with its line. */
static void test_config_shmbusctl_check_kept_keys(void **state)
{
	(void)state;
	char dir[64], path[128], out[2048];
	tmp_file(dir, sizeof(dir), path, sizeof(path), "kept.ini");
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("[journal]\ndir = /tmp/j\nfsync = interval:100\n[bridge]\nwindow = 5\n", f);
	fclose(f);
	assert_int_equal(tu_run(out, sizeof(out), "%s check %s", SHMBUSCTL_BIN, path), 1);
	assert_non_null(strstr(out, "kept.ini:5: [bridge] window: 5 is not a power of two"));
	assert_non_null(f = fopen(path, "w"));
	fputs("[journal]\ndir = /tmp/j\nfsync = interval:100\nsegment-mb = 8\n[bridge]\n"
	      "nats = nats://127.0.0.1:4222\nnats-subject = md.{type}\nwindow = 8\n",
	      f);
	fclose(f);
	if (tu_run(out, sizeof(out), "%s check %s", SHMBUSCTL_BIN, path) != 0)
		fail_msg("shmbusctl check: %s", out);
	assert_non_null(f = fopen(path, "w"));
	fputs("[bus]\nname = k\n\n[journal]\ndir = /tmp/j\nsegment_mb = 8\n", f);
	fclose(f);
	assert_int_equal(tu_run(out, sizeof(out), "%s check %s", SHMBUSCTL_BIN, path), 1);
	assert_non_null(strstr(out, "kept.ini:6: [journal] segment_mb: unknown key"));
	unlink(path);
	rmdir(dir);
}

/* ---- continuation lines: tool_conf (journald, bridge) reads as libinih --- */

/* Settings as "key=value@where\n", appended to a buffer (ctx). */
struct conf_seen {
	char text[2048];
	int with_where;
};

static int conf_collect(void *ctx, const char *key, const char *value, const char *where)
{
	struct conf_seen *c = ctx;
	size_t n = strlen(c->text);
	if (c->with_where)
		snprintf(c->text + n, sizeof(c->text) - n, "%s=%s@%s\n", key, value,
		         strrchr(where, ':') + 1); /* the LINE of FILE:LINE */
	else
		snprintf(c->text + n, sizeof(c->text) - n, "%s=%s\n", key, value);
	return 0;
}

/* tool_conf_read of text (written to a file) into seen; returns its rc. */
static int conf_read_text(const char *text, int with_where, struct conf_seen *seen,
                          struct tool_conf_error *err)
{
	char dir[64], path[128];
	tmp_file(dir, sizeof(dir), path, sizeof(path), "cont.ini");
	assert_int_equal(tu_write(path, text), 0);
	memset(seen, 0, sizeof(*seen));
	seen->with_where = with_where;
	int rc = tool_conf_read(path, "bridge", conf_collect, seen, NULL, 0, err);
	unlink(path);
	rmdir(dir);
	return rc;
}

/* The [bridge] settings that the linked libinih gives (shmbusctl's view). */
static int inih_bridge(void *ctx, const char *section, const char *key, const char *value)
{
	if (strcmp(section, "bridge") == 0)
		conf_collect(ctx, key, value, "-:0");
	return 1;
}

/* An indented line after a key line is one more value of that key, at
 * its own line, as shmbusctl's libinih (INI_ALLOW_MULTILINE) reads it. */
static void test_config_tool_conf_reads_continuations(void **state)
{
	(void)state;
	struct conf_seen seen;
	struct tool_conf_error err;
	static const char cont[] = "[bus]\nname = c1\n\n[bridge]\nring = bridge.out\n"
	                           "kafka = localhost:9092\nkafka-topic = t\n"
	                           "kafka-set = acks=all\n   linger.ms=5\n";
	if (conf_read_text(cont, 1, &seen, &err) != 0)
		fail_msg("%s: %s (%s)", err.what, err.why, err.where);
	assert_string_equal(seen.text, "ring=bridge.out@5\nkafka=localhost:9092@6\n"
	                               "kafka-topic=t@7\nkafka-set=acks=all@8\n"
	                               "kafka-set=linger.ms=5@9\n");
	/* Comment and blank lines keep the run going; an indented "[x]" or
	 * "a = b" is a value; libinih 55 keeps a ';' comment there. */
	static const char runs[] = "[bridge]\nkafka-set = a=1 ; cut\n\n; note\n"
	                           "\t b=2 ; kept\n  # note\n  [c=3]\n  d = 4\n"
	                           "kafka : k:1\n  k:2\n";
	assert_int_equal(conf_read_text(runs, 1, &seen, &err), 0);
	assert_string_equal(seen.text, "kafka-set=a=1@2\nkafka-set=b=2 ; kept@5\n"
	                               "kafka-set=[c=3]@7\nkafka-set=d = 4@8\n"
	                               "kafka=k:1@9\nkafka=k:2@10\n");
	/* A header ends the run: an indented line with no key before it in
	 * its section is a key line, an error without '=' (libinih's too). */
	assert_int_equal(
	    conf_read_text("[journal]\ndir = /j\n[bridge]\n  window = 8\n", 1, &seen, &err), 0);
	assert_string_equal(seen.text, "window=8@4\n");
	assert_int_equal(conf_read_text("[journal]\ndir = /j\n[bridge]\n  acks=all\n"
	                                "kafka = k\n",
	                                1, &seen, &err),
	                 0); /* "acks=all" is key acks, which the bridge refuses */
	assert_string_equal(seen.text, "acks=all@4\nkafka=k@5\n");
	assert_int_equal(
	    conf_read_text("[journal]\ndir = /j\n[bridge]\n  lingerms\n", 1, &seen, &err), -EINVAL);
	assert_non_null(strstr(err.where, "cont.ini:4"));
	/* Another section's continuation is skipped, never read as a header. */
	assert_int_equal(
	    conf_read_text("[journal]\ndir = /j\n  [bridge]\nkafka = k\n", 1, &seen, &err),
	    -ENOENT);
	assert_string_equal(seen.text, "");
	/* A flat file has no continuations: indented lines stay key lines. */
	assert_int_equal(conf_read_text("kafka = k\n  window = 8\n", 1, &seen, &err), 0);
	assert_string_equal(seen.text, "kafka=k@1\nwindow=8@2\n");
}

/* tool_conf and the libinih that shmbusctl links give the same [bridge]
 * settings: a libinih that reads continuations differently (a later one
 * cuts their ';' comments) fails here instead of in production. */
static void test_config_tool_conf_matches_libinih(void **state)
{
	(void)state;
	static const char *const texts[] = {
	    "[bridge]\nkafka-set = acks=all\n   linger.ms=5\n",
	    "[bridge]\nkafka-set = a=1 ; x\n\n; c\n\t b=2 ; y\n  # c\n  [c]\n  d = 4 ;z\n",
	    "[journal]\ndir = /j\n  more\n[bridge]\n  window = 8\nkafka: k\n   k2\n",
	    "[journal]\ndir = /j\n  [bridge]\nkafka = k\n[bridge]\nnats = n\n  n2 ; q\n",
	};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct conf_seen mine, inih = {.with_where = 0};
		struct tool_conf_error err;
		assert_int_equal(ini_parse_string(texts[i], inih_bridge, &inih), 0);
		if (conf_read_text(texts[i], 0, &mine, &err) != 0)
			fail_msg("text %zu: %s: %s (%s)", i, err.what, err.why, err.where);
		if (strcmp(mine.text, inih.text) != 0)
			fail_msg("text %zu: tool_conf read\n%slibinih read\n%s", i, mine.text,
			         inih.text);
	}
}

/* The reviewer's cont.ini: `shmbusctl check` and the bridge agree on a
 * continued kafka-set, and name the same line when it is bad. */
static void test_config_check_and_bridge_agree_on_continuations(void **state)
{
	(void)state;
#ifdef BRIDGE_BIN
	char dir[64], path[128], out[2048], where[160];
	static const char good[] = "[bus]\nname = c1\n\n[bridge]\nring = bridge.out\n"
	                           "kafka = 127.0.0.1:1\nkafka-topic = t\n"
	                           "kafka-set = acks=all\n   linger.ms=5\n";
	static const char bad_text[] = "[bus]\nname = c1\n\n[bridge]\nring = bridge.out\n"
	                               "kafka = 127.0.0.1:1\nkafka-topic = t\n"
	                               "kafka-set = acks=all\n   lingerms\n";
	tmp_file(dir, sizeof(dir), path, sizeof(path), "cont.ini");
	assert_int_equal(tu_write(path, good), 0);
	if (tu_run(out, sizeof(out), "%s check %s", SHMBUSCTL_BIN, path) != 0)
		fail_msg("shmbusctl check: %s", out);
	/* No bus in an empty SHMBUS_DIR: the bridge stops at attaching it,
	 * once its config (kafka-set values checked by librdkafka) is read. */
	int st = tu_run(out, sizeof(out), "SHMBUS_DIR=%s %s --bus nosuch --config %s", dir,
	                BRIDGE_BIN, path);
	if (st != 1 || !strstr(out, "attach bus"))
		fail_msg("shmbus-bridge: status %d, want 1 at 'attach bus': %s", st, out);
	assert_int_equal(tu_write(path, bad_text), 0);
	assert_int_equal(tu_run(out, sizeof(out), "%s check %s", SHMBUSCTL_BIN, path), 1);
	assert_non_null(strstr(out, "cont.ini:9: [bridge] kafka-set: 'lingerms' is not KEY=VALUE"));
	st = tu_run(out, sizeof(out), "SHMBUS_DIR=%s %s --bus nosuch --config %s", dir, BRIDGE_BIN,
	            path);
	snprintf(where, sizeof(where), "(%s:9)", path);
	if (st != 2 || !strstr(out, "--kafka-set") || !strstr(out, where))
		fail_msg("shmbus-bridge: status %d, want 2 at --kafka-set %s: %s", st, where, out);
	unlink(path);
	rmdir(dir);
#else
	skip(); /* shmbus-bridge not built */
#endif
}

/* The option lines ("  --NAME ...") of `prog --help`, help and config
 * (and version) aside, into names (at most max of them). Returns the count. */
static size_t help_options(const char *prog, char names[][32], size_t max)
{
	static char out[16384];
	size_t n = 0;
	assert_int_equal(tu_run(out, sizeof(out), "%s --help", prog), 0);
	for (char *l = out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		l += strspn(l, " ");
		if (strncmp(l, "--", 2) != 0)
			continue;
		size_t len = strspn(l + 2, "abcdefghijklmnopqrstuvwxyz-");
		assert_true(len > 0 && len < 32 && n < max);
		snprintf(names[n], 32, "%.*s", (int)len, l + 2);
		if (strcmp(names[n], "help") != 0 && strcmp(names[n], "config") != 0 &&
		    strcmp(names[n], "version") != 0)
			n++;
	}
	return n;
}

/* [section]'s keys and prog's settable options are the same set. */
static void keys_match_help(const char *section, const char *prog)
{
	char names[64][32];
	size_t n = help_options(prog, names, 64), k = 0;
	const char *key;
	for (; (key = shmbus_config_kept_key(section, k)) != NULL; k++) {
		size_t i = 0;
		while (i < n && strcmp(names[i], key) != 0)
			i++;
		if (i == n)
			fail_msg("[%s] %s: no --%s in %s --help", section, key, key, prog);
	}
	for (size_t i = 0; i < n; i++) {
		size_t j = 0;
		while ((key = shmbus_config_kept_key(section, j)) && strcmp(key, names[i]) != 0)
			j++;
		if (!key)
			fail_msg("%s --help: --%s is no [%s] key of shmbusctl", prog, names[i],
			         section);
	}
	assert_int_equal(k, n);
}

/* shmbusctl checks [journal] and [bridge] against tables of the programs'
 * options: a new option must be added there too, or `shmbusctl check`
 * refuses a file that the program would take. */
static void test_config_kept_keys_match_programs(void **state)
{
	(void)state;
	keys_match_help("journal", JOURNALD_BIN);
#ifdef BRIDGE_BIN
	keys_match_help("bridge", BRIDGE_BIN);
#else
	skip(); /* shmbus-bridge not built (libnats-dev, librdkafka-dev) */
#endif
}

static void test_config_cpulist_parses_ranges(void **state)
{
	(void)state;
	int cpus[16];
	char why[128];
	assert_int_equal(shmbus_cpulist_parse("0,2-3", cpus, 16, why, sizeof(why)), 3);
	assert_int_equal(cpus[0], 0);
	assert_int_equal(cpus[1], 2);
	assert_int_equal(cpus[2], 3);
	assert_int_equal(shmbus_cpulist_parse("5, 1", cpus, 16, why, sizeof(why)), 2);
	assert_int_equal(cpus[0], 1);
	assert_int_equal(shmbus_cpulist_parse("", cpus, 16, why, sizeof(why)), -EINVAL);
	assert_int_equal(shmbus_cpulist_parse("1,", cpus, 16, why, sizeof(why)), -EINVAL);
	assert_int_equal(shmbus_cpulist_parse("a", cpus, 16, why, sizeof(why)), -EINVAL);
	assert_int_equal(shmbus_cpulist_parse("0-20", cpus, 16, why, sizeof(why)), -EINVAL);
}

static void test_config_host_check_refuses_missing_cpu(void **state)
{
	(void)state;
	struct shmbus_config *c;
	char err[SHMBUS_CFG_ERR_MAX];
	const char *text = "[service s]\ncommand = x\ncores = 1023\n";
	assert_int_equal(shmbus_config_parse_string(text, "host.ini", &c, err, sizeof(err)), 0);
	/* No test machine has 1024 CPUs configured; skip if this one does. */
	if (shmbus_config_check_host(c, err, sizeof(err)) == 0) {
		shmbus_config_free(c);
		skip();
	}
	assert_non_null(strstr(err, "host.ini:3: [service s] cores: CPU 1023 is out of range"));
	shmbus_config_free(c);
}

/* A CPU outside this process's affinity but in its cpuset is taken: a
 * service re-pins itself (sched_setaffinity is bounded by the cpuset, not
 * by its parent's mask), and the systemd unit keeps the launcher on
 * housekeeping cores while its services name isolated ones. The check
 * used to compare with the affinity, so `check` (the unit's
 * ExecStartPre) and `up` refused such a config. A CPU the host lacks is
 * still refused, with the CPUs that may be used. */
static void test_config_host_check_takes_cpu_outside_affinity(void **state)
{
	(void)state;
	cpu_set_t old, one;
	assert_int_equal(sched_getaffinity(0, sizeof(old), &old), 0);
	int a = -1, b = -1;
	for (int cpu = 0; cpu < CPU_SETSIZE && b < 0; cpu++)
		if (CPU_ISSET(cpu, &old)) {
			if (a < 0)
				a = cpu;
			else
				b = cpu;
		}
	if (b < 0)
		skip(); /* one CPU allowed: nothing to leave out */
	CPU_ZERO(&one);
	CPU_SET(a, &one);
	assert_int_equal(sched_setaffinity(0, sizeof(one), &one), 0);
	char text[128], err[SHMBUS_CFG_ERR_MAX] = "", err_bad[SHMBUS_CFG_ERR_MAX] = "";
	struct shmbus_config *c;
	snprintf(text, sizeof(text), "[service s]\ncommand = x\ncores = %d\n", b);
	int parsed = shmbus_config_parse_string(text, "aff.ini", &c, err, sizeof(err));
	int checked = parsed == 0 ? shmbus_config_check_host(c, err, sizeof(err)) : -1;
	if (parsed == 0)
		shmbus_config_free(c);
	snprintf(text, sizeof(text), "[service s]\ncommand = x\ncores = %d\n",
	         SHMBUS_CFG_MAX_CPUS - 1);
	int parsed_bad = shmbus_config_parse_string(text, "aff.ini", &c, err_bad, sizeof(err_bad));
	int checked_bad =
	    parsed_bad == 0 ? shmbus_config_check_host(c, err_bad, sizeof(err_bad)) : -1;
	if (parsed_bad == 0)
		shmbus_config_free(c);
	cpu_set_t after;
	assert_int_equal(sched_getaffinity(0, sizeof(after), &after), 0);
	assert_int_equal(sched_setaffinity(0, sizeof(old), &old), 0);
	assert_true(CPU_EQUAL(&after, &one)); /* the check leaves the mask as it was */
	assert_int_equal(parsed, 0);
	if (checked != 0)
		fail_msg("CPU %d outside the affinity (CPU %d) refused: %s", b, a, err);
	assert_int_equal(parsed_bad, 0);
	assert_int_equal(checked_bad, -EINVAL);
	assert_non_null(strstr(err_bad, "aff.ini:3: [service s] cores: CPU 1023 "));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_config_full_file_loads),
	    cmocka_unit_test(test_config_defaults_apply),
	    cmocka_unit_test(test_config_shipped_files_load),
	    cmocka_unit_test(test_config_missing_file_names_it),
	    cmocka_unit_test(test_config_bad_files_name_line_and_key),
	    cmocka_unit_test(test_config_kept_keys_are_the_programs_options),
	    cmocka_unit_test(test_config_shmbusctl_check_kept_keys),
	    cmocka_unit_test(test_config_kept_keys_match_programs),
	    cmocka_unit_test(test_config_tool_conf_reads_continuations),
	    cmocka_unit_test(test_config_tool_conf_matches_libinih),
	    cmocka_unit_test(test_config_check_and_bridge_agree_on_continuations),
	    cmocka_unit_test(test_config_long_line_is_refused),
	    cmocka_unit_test(test_config_bom_is_skipped),
	    cmocka_unit_test(test_config_file_nul_bytes_are_refused),
	    cmocka_unit_test(test_config_file_must_be_regular),
	    cmocka_unit_test(test_config_file_huge_line_stops_the_reader),
	    cmocka_unit_test(test_config_cpulist_parses_ranges),
	    cmocka_unit_test(test_config_host_check_refuses_missing_cpu),
	    cmocka_unit_test(test_config_host_check_takes_cpu_outside_affinity),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
