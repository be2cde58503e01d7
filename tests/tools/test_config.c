/*
 * test_config.c - the host configuration parser: the shipped files and a
 * full file load cleanly with the right values; each bad file fails with
 * a message naming the file, the line and the key.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "shmbus_config.h"

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
                               "fsync = interval\n"
                               "segment_mb = 256\n"
                               "\n"
                               "[bridge]\n"
                               "target = nats\n"
                               "url = nats://localhost:4222\n"
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
	assert_string_equal(shmbus_config_get(&c->journal, "fsync", &line), "interval");
	assert_int_equal(line, 30);
	assert_null(shmbus_config_get(&c->journal, "nope", NULL));
	assert_string_equal(shmbus_config_get(&c->bridge, "target", NULL), "nats");
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
    {"[ring a]\nslot_size = 100\n", "bad.ini:2: [ring a] slot_size: '100' is not a slot size"},
    {"[ring a]\ncapacity = 8\ncapacity = 16\n",
     "bad.ini:3: [ring a] capacity: duplicate key (first at line 2)"},
    {"[rings a]\n", "bad.ini:1: [rings a]: unknown section"},
    {"[ring bad/name]\n", "bad.ini:1: [ring bad/name]: name 'bad/name': character 4"},
    {"[service s]\ncommand = x\nrestart = sometimes\n",
     "bad.ini:3: [service s] restart: unknown restart 'sometimes'"},
    {"[journal]\nfsync = often\n", "bad.ini:2: [journal] fsync: unknown value 'often'"},
    {"[journal]\ndirectory = /x\n", "bad.ini:2: [journal] directory: unknown key"},
    {"[bridge]\ntarget = pulsar\n", "bad.ini:2: [bridge] target: unknown value 'pulsar'"},
    {"name = x\n", "bad.ini:1: name: key outside any section"},
    {"[bus]\nname = x\nthis line has no equals\n", "bad.ini:3: syntax error"},
    {"[bus]\n[bus]\n", "bad.ini:2: [bus]: duplicate section (first at line 1)"},
    {"[ring a]\ngroup_size = 2\ngroup = g\ngroup_member = 2\n",
     "bad.ini:1: [ring a] group_member: 2 is not below group_size 2"},
    {"[bus]\nhugepages = maybe\n", "bad.ini:2: [bus] hugepages: 'maybe' is not one of auto"},
    {"[bus]\narena_mb = 1\n[ring a]\ncapacity = 65536\nslot_size = 256\n",
     "bad.ini:1: [bus] arena_mb: the rings need 16 MiB"},
    {"[bus]\nmax_symbols = 1000\n", "bad.ini:2: [bus] max_symbols: 1000 is not a power of two"},
    {"[ring a]\nsymbols = SPY,THIS-SYMBOL-IS-FAR-TOO-LONG\n",
     "bad.ini:2: [ring a] symbols: symbol 'THIS-SYMBOL-IS-FAR-TOO-LONG'"},
    {"[service s]\ncommand = x\nnuma_node = -1\n",
     "bad.ini:3: [service s] numa_node: '-1' is not a number"},
    {"[service s]\ncommand = x\nargs = \"open\n", "bad.ini:3: [service s] args: unterminated"},
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_config_full_file_loads),
	    cmocka_unit_test(test_config_defaults_apply),
	    cmocka_unit_test(test_config_shipped_files_load),
	    cmocka_unit_test(test_config_missing_file_names_it),
	    cmocka_unit_test(test_config_bad_files_name_line_and_key),
	    cmocka_unit_test(test_config_long_line_is_refused),
	    cmocka_unit_test(test_config_cpulist_parses_ranges),
	    cmocka_unit_test(test_config_host_check_refuses_missing_cpu),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
