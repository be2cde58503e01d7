/*
 * config_service.c - [service NAME], [journal] and [bridge] keys, CPU lists
 * and the host check of a configuration.
 *
 * Services are what the launcher starts, so their keys are checked as far
 * as a file alone allows (a CPU list is well formed and below 1024); what
 * depends on the machine (does CPU 40 exist, is there a NUMA node 1) is a
 * separate call, shmbus_config_check_host(), so that a production file can
 * be validated on a laptop. [journal] and [bridge] are kept as key/value
 * pairs for shmbus-journald and shmbus-bridge (which read them with
 * --config), but their keys (the programs' long option names) and simple
 * value shapes are checked here so a typo fails at load, not at 3 a.m.
 */
#define _GNU_SOURCE /* sched_getaffinity, CPU_ISSET */
#include <errno.h>
#include <numa.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_internal.h"
#include "tool_parse.h"

/* Names of the restart policies, by value: written and read by the same table. */
static const char *const restart_names[] = {
    [SHMBUS_RESTART_NEVER] = "never",
    [SHMBUS_RESTART_ON_FAILURE] = "on-failure",
    [SHMBUS_RESTART_ALWAYS] = "always",
};
#define RESTART_NAMES (int)(sizeof(restart_names) / sizeof(restart_names[0]))

const char *shmbus_restart_name(enum shmbus_cfg_restart r)
{
	return (unsigned)r < RESTART_NAMES ? restart_names[r] : "unknown";
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

static bool cpu_number(const char **s, int *out, char *why, size_t n)
{
	const char *c = *s;
	long v = 0;
	if (*c < '0' || *c > '9') {
		snprintf(why, n, "expected a CPU number at '%s'", c);
		return false;
	}
	while (*c >= '0' && *c <= '9' && v < SHMBUS_CFG_MAX_CPUS)
		v = v * 10 + (*c++ - '0');
	if (v >= SHMBUS_CFG_MAX_CPUS) {
		snprintf(why, n, "CPU %s... is out of range (0..%d)", *s, SHMBUS_CFG_MAX_CPUS - 1);
		return false;
	}
	*out = (int)v;
	*s = c;
	return true;
}

int shmbus_cpulist_parse(const char *s, int *cpus, size_t max, char *why, size_t n)
{
	size_t count = 0;
	const char *c = s;
	if (!*c) {
		snprintf(why, n, "empty CPU list");
		return -EINVAL;
	}
	while (*c) {
		int lo, hi;
		while (*c == ' ')
			c++;
		if (!cpu_number(&c, &lo, why, n))
			return -EINVAL;
		hi = lo;
		if (*c == '-') {
			c++;
			if (!cpu_number(&c, &hi, why, n))
				return -EINVAL;
			if (hi < lo) {
				snprintf(why, n, "range %d-%d is backwards", lo, hi);
				return -EINVAL;
			}
		}
		for (int cpu = lo; cpu <= hi; cpu++) {
			if (count >= max) {
				snprintf(why, n, "more than %zu CPUs", max);
				return -EINVAL;
			}
			cpus[count++] = cpu;
		}
		while (*c == ' ')
			c++;
		if (*c == ',') {
			c++;
			if (!*c) {
				snprintf(why, n, "trailing ','");
				return -EINVAL;
			}
		} else if (*c) {
			snprintf(why, n, "unexpected '%c' (expected a list like 0,2-3)", *c);
			return -EINVAL;
		}
	}
	qsort(cpus, count, sizeof(*cpus), cmp_int);
	size_t u = 0;
	for (size_t i = 0; i < count; i++)
		if (u == 0 || cpus[u - 1] != cpus[i])
			cpus[u++] = cpus[i];
	return (int)u;
}

/* Split `args` on blanks; "double quotes" keep blanks inside one word. */
static int split_args(struct cfg_parse *p, struct shmbus_cfg_service *s, const char *v)
{
	const char *c = v;
	for (;;) {
		while (*c == ' ' || *c == '\t')
			c++;
		if (!*c)
			return 0;
		size_t cap = strlen(c) + 1, len = 0;
		char *w = malloc(cap);
		if (!w)
			return cfg_fail(p, p->line, "args", -ENOMEM, "no memory");
		bool quoted = false;
		while (*c && (quoted || (*c != ' ' && *c != '\t'))) {
			if (*c == '"')
				quoted = !quoted;
			else
				w[len++] = *c;
			c++;
		}
		w[len] = '\0';
		if (quoted) {
			free(w);
			return cfg_fail(p, p->line, "args", -EINVAL, "unterminated '\"'");
		}
		char **grown = realloc(s->args, (s->nargs + 1) * sizeof(*grown));
		if (!grown) {
			free(w);
			return cfg_fail(p, p->line, "args", -ENOMEM, "no memory");
		}
		s->args = grown;
		s->args[s->nargs++] = w;
	}
}

int cfg_service_key(struct cfg_parse *p, struct shmbus_cfg_service *s, const char *key,
                    const char *v)
{
	char why[200];
	uint64_t x;
	if (strcmp(key, "command") == 0) {
		if (!*v)
			return cfg_fail(p, p->line, key, -EINVAL, "empty command");
		if (!(s->command = strdup(v)))
			return cfg_fail(p, p->line, key, -ENOMEM, "no memory");
	} else if (strcmp(key, "args") == 0) {
		return split_args(p, s, v);
	} else if (strcmp(key, "cores") == 0) {
		int cpus[SHMBUS_CFG_MAX_CPUS];
		int n = shmbus_cpulist_parse(v, cpus, SHMBUS_CFG_MAX_CPUS, why, sizeof(why));
		if (n < 0)
			return cfg_fail(p, p->line, key, -EINVAL, "%s", why);
		if (!(s->cores = malloc((size_t)n * sizeof(int))))
			return cfg_fail(p, p->line, key, -ENOMEM, "no memory");
		memcpy(s->cores, cpus, (size_t)n * sizeof(int));
		s->ncores = (size_t)n;
		s->cores_line = p->line;
	} else if (strcmp(key, "numa_node") == 0) {
		if (!cfg_parse_u64(v, 0, 1023, &x, why, sizeof(why)))
			return cfg_fail(p, p->line, key, -EINVAL, "%s", why);
		s->numa_node = (int)x;
		s->numa_line = p->line;
	} else if (strcmp(key, "restart") == 0) {
		int r, rc = cfg_parse_enum(p, key, v, restart_names, RESTART_NAMES, &r);
		if (rc)
			return rc;
		s->restart = (enum shmbus_cfg_restart)r;
	} else if (strcmp(key, "restart_max") == 0) {
		if (!cfg_parse_u64(v, 0, 1000000, &x, why, sizeof(why)))
			return cfg_fail(p, p->line, key, -EINVAL, "%s", why);
		s->restart_max = (unsigned)x;
	} else {
		return cfg_fail(p, p->line, key, -EINVAL,
		                "unknown key (known: command, args, cores, numa_node, restart, "
		                "restart_max)");
	}
	return 0;
}

int cfg_service_check(struct cfg_parse *p, const struct shmbus_cfg_service *s)
{
	if (!s->command)
		return cfg_fail(p, s->line, "command", -EINVAL,
		                "missing (every service needs one)");
	return 0;
}

void cfg_service_free(struct shmbus_cfg_service *s)
{
	free(s->command);
	for (size_t i = 0; i < s->nargs; i++)
		free(s->args[i]);
	free(s->args);
	free(s->cores);
}

/* ---- [journal] and [bridge] ------------------------------------------- */

/* [journal] and [bridge] hold shmbus-journald's and shmbus-bridge's own
 * settings, read by them with --config ${config}: the keys are their long
 * option names (help and config aside), the values what their command
 * lines take. Values are checked here where the check is the programs'
 * own (ranges, powers of two, booleans, the type list); the rest (paths,
 * URLs, templates, symbol and CPU lists) is the program's to check when
 * it starts. test_config keeps these tables and the programs' --help in
 * step. */
enum kept_shape {
	K_TEXT,    /* any non-empty text */
	K_NAME,    /* a bus or ring name */
	K_UINT,    /* decimal in min..max */
	K_POW2,    /* a power of two in min..max */
	K_BOOL,    /* tool_parse_bool */
	K_ENUM,    /* one of choices */
	K_TYPES,   /* an event-type list (tool_parse_types) */
	K_FSYNC,   /* none, batch or interval:MS with MS in 1..3600000 */
	K_SLACK,   /* -1 or min..max */
	K_SECONDS, /* 0, or seconds in 0.01..86400 */
	K_KV,      /* KEY=VALUE */
};

#define KEPT_REPEAT 1u /* may be given more than once (each one counts) */
#define KEPT_MULT4  2u /* K_UINT: a multiple of 4 */

struct kept_key {
	const char *key;
	enum kept_shape shape;
	uint64_t min, max;
	const char *choices; /* K_ENUM: "a|b|c" */
	unsigned flags;
};

#define U32 UINT32_MAX
static const struct kept_key journal_keys[] = {
    {"bus", K_NAME, 0, 0, NULL, 0},
    {"dir", K_TEXT, 0, 0, NULL, 0},
    {"ring", K_NAME, 0, 0, NULL, 0},
    {"types", K_TYPES, 0, 0, NULL, 0},
    {"symbols", K_TEXT, 0, 0, NULL, 0},
    {"policy", K_ENUM, 0, 0, "block|drop", 0},
    {"fsync", K_FSYNC, 1, 3600000, NULL, 0},
    {"segment-mb", K_UINT, 1, U32, NULL, 0},
    {"segment-age", K_UINT, 1, U32, NULL, 0},
    {"retention-age", K_UINT, 1, U32, NULL, 0},
    {"retention-mb", K_UINT, 1, U32, NULL, 0},
    {"direct", K_BOOL, 0, 0, NULL, 0},
    {"block-kb", K_UINT, 4, 16384, NULL, KEPT_MULT4},
    {"capacity", K_POW2, 2, 1u << 30, NULL, 0},
    {"flush-ms", K_UINT, 1, U32, NULL, 0},
    {"stats-json", K_TEXT, 0, 0, NULL, 0},
    {"cpus", K_TEXT, 0, 0, NULL, 0},
    {NULL, K_TEXT, 0, 0, NULL, 0},
};

static const struct kept_key bridge_keys[] = {
    {"bus", K_NAME, 0, 0, NULL, 0},
    {"ring", K_NAME, 0, 0, NULL, 0},
    {"types", K_TYPES, 0, 0, NULL, 0},
    {"symbols", K_TEXT, 0, 0, NULL, 0},
    {"capacity", K_POW2, 2, 1u << 30, NULL, 0},
    {"ring-policy", K_ENUM, 0, 0, "block|drop", 0},
    {"encoding", K_ENUM, 0, 0, "json|binary", 0},
    {"window", K_POW2, 2, 1u << 24, NULL, 0},
    {"on-full", K_ENUM, 0, 0, "block|drop", 0},
    {"checkpoint", K_TEXT, 0, 0, NULL, 0},
    {"journal", K_TEXT, 0, 0, NULL, 0},
    {"journal-bus", K_TEXT, 0, 0, NULL, 0},
    {"catchup-slack-ms", K_SLACK, 0, INT64_MAX / 1000000, NULL, 0},
    {"handover-timeout-ms", K_UINT, 0, 3600000, NULL, 0},
    {"from-journal-start", K_BOOL, 0, 0, NULL, 0},
    {"nats", K_TEXT, 0, 0, NULL, 0},
    {"nats-stream", K_TEXT, 0, 0, NULL, 0},
    {"nats-subject", K_TEXT, 0, 0, NULL, 0},
    {"nats-create-stream", K_BOOL, 0, 0, NULL, 0},
    {"nats-creds", K_TEXT, 0, 0, NULL, 0},
    {"kafka", K_TEXT, 0, 0, NULL, 0},
    {"kafka-topic", K_TEXT, 0, 0, NULL, 0},
    {"kafka-set", K_KV, 0, 0, NULL, KEPT_REPEAT},
    {"stats-interval", K_SECONDS, 0, 0, NULL, 0},
    {"stats-json", K_TEXT, 0, 0, NULL, 0},
    {"json", K_BOOL, 0, 0, NULL, 0},
    {"max-events", K_UINT, 0, UINT64_MAX, NULL, 0},
    {"quiet", K_BOOL, 0, 0, NULL, 0},
    {NULL, K_TEXT, 0, 0, NULL, 0},
};
#undef U32

static const struct kept_key *kept_table(enum cfg_kind kind)
{
	return kind == CFG_JOURNAL ? journal_keys : bridge_keys;
}

static const struct kept_key *kept_find(enum cfg_kind kind, const char *key)
{
	const struct kept_key *k = kept_table(kind);
	while (k->key && strcmp(k->key, key) != 0)
		k++;
	return k->key ? k : NULL;
}

bool cfg_kept_repeatable(enum cfg_kind kind, const char *key)
{
	const struct kept_key *k = kept_find(kind, key);
	return k && (k->flags & KEPT_REPEAT);
}

const char *shmbus_config_kept_key(const char *section, size_t i)
{
	const struct kept_key *t = strcmp(section, "journal") == 0  ? journal_keys
	                           : strcmp(section, "bridge") == 0 ? bridge_keys
	                                                            : NULL;
	for (size_t k = 0; t && t[k].key; k++)
		if (k == i)
			return t[k].key;
	return NULL;
}

static bool enum_has(const char *choices, const char *v)
{
	size_t n = strlen(v);
	for (const char *c = choices; *c;) {
		const char *bar = strchr(c, '|');
		size_t len = bar ? (size_t)(bar - c) : strlen(c);
		if (len == n && strncmp(c, v, n) == 0)
			return true;
		c += len + (bar ? 1 : 0);
	}
	return false;
}

/* A decimal in k->min..max, parsed as the programs parse it
 * (tool_parse_u64: digits only, the whole uint64_t range). */
static bool kept_u64(const struct kept_key *k, const char *v, uint64_t *x, char *why, size_t n)
{
	if (tool_parse_u64(v, x) == 0 && *x >= k->min && *x <= k->max)
		return true;
	snprintf(why, n, "'%s' is not a number in %llu..%llu", v, (unsigned long long)k->min,
	         (unsigned long long)k->max);
	return false;
}

/* The fsync policy: none, batch or interval:MS (MS in k->min..max). */
static bool kept_fsync(const struct kept_key *k, const char *v, char *why, size_t n)
{
	uint64_t x;
	if (strcmp(v, "none") == 0 || strcmp(v, "batch") == 0)
		return true;
	if (strncmp(v, "interval:", 9) == 0 && kept_u64(k, v + 9, &x, why, n))
		return true;
	snprintf(why, n, "'%s' is not none, batch or interval:MS (MS in %llu..%llu)", v,
	         (unsigned long long)k->min, (unsigned long long)k->max);
	return false;
}

/* Seconds as the bridge's --stats-interval takes them (parse_interval):
 * 0 (none) or 0.01..86400, starting with a digit or '.' (no sign, no
 * blank, no nan or inf), strtod to the end. */
static bool kept_seconds(const char *v, char *why, size_t n)
{
	char *end;
	double s = -1;
	if ((*v >= '0' && *v <= '9') || *v == '.') {
		errno = 0;
		s = strtod(v, &end);
		if (errno || *end)
			s = -1;
	}
	if (s == 0 || (s >= 0.01 && s <= 86400))
		return true;
	snprintf(why, n, "'%s' is not 0 (none) or seconds in 0.01..86400", v);
	return false;
}

static bool kept_check(const struct kept_key *k, const char *v, char *why, size_t n)
{
	uint64_t x;
	int b;
	switch (k->shape) {
	case K_NAME:
		return cfg_valid_name(v, SHMBUS_NAME_MAX, why, n);
	case K_UINT:
		if (!kept_u64(k, v, &x, why, n))
			return false;
		if ((k->flags & KEPT_MULT4) && x % 4)
			return snprintf(why, n, "%llu is not a multiple of 4",
			                (unsigned long long)x),
			       false;
		return true;
	case K_POW2:
		if (!kept_u64(k, v, &x, why, n))
			return false;
		if (x & (x - 1))
			return snprintf(why, n, "%llu is not a power of two",
			                (unsigned long long)x),
			       false;
		return true;
	case K_SLACK:
		return strcmp(v, "-1") == 0 || kept_u64(k, v, &x, why, n);
	case K_BOOL:
		return cfg_parse_bool(v, &b, why, n);
	case K_ENUM:
		if (enum_has(k->choices, v))
			return true;
		return snprintf(why, n, "unknown value '%s' (expected %s)", v, k->choices), false;
	case K_TYPES:
		return tool_parse_types(v, &x, why, n) == 0;
	case K_FSYNC:
		return kept_fsync(k, v, why, n);
	case K_SECONDS:
		return kept_seconds(v, why, n);
	case K_KV:
		if (strchr(v, '=')) /* as the bridge checks it */
			return true;
		return snprintf(why, n, "'%s' is not KEY=VALUE", v), false;
	case K_TEXT:
		break;
	}
	if (!*v)
		return snprintf(why, n, "empty value"), false;
	return true;
}

int cfg_kept_key(struct cfg_parse *p, struct shmbus_cfg_section *s, enum cfg_kind kind,
                 const char *key, const char *v)
{
	char why[200];
	const struct kept_key *k = kept_find(kind, key);
	if (!k)
		return cfg_fail(p, p->line, key, -EINVAL,
		                "unknown key (the keys are the long options of %s --help, e.g. %s)",
		                kind == CFG_JOURNAL ? "shmbus-journald" : "shmbus-bridge",
		                kind == CFG_JOURNAL ? "dir, fsync, segment-mb"
		                                    : "nats, kafka, kafka-topic");
	if (!kept_check(k, v, why, sizeof(why)))
		return cfg_fail(p, p->line, key, -EINVAL, "%s", why);
	struct shmbus_cfg_kv *kv = realloc(s->kv, (s->nkv + 1) * sizeof(*kv));
	if (!kv)
		return cfg_fail(p, p->line, key, -ENOMEM, "no memory");
	s->kv = kv;
	kv[s->nkv].key = strdup(key);
	kv[s->nkv].value = strdup(v);
	kv[s->nkv].line = p->line;
	s->nkv++;
	if (!kv[s->nkv - 1].key || !kv[s->nkv - 1].value)
		return cfg_fail(p, p->line, key, -ENOMEM, "no memory");
	return 0;
}

/* ---- host check ---------------------------------------------------------- */

/* The CPUs of set as a list ("0-3,6"), into buf. */
static void cpu_list(const cpu_set_t *set, char *buf, size_t len)
{
	size_t n = 0;
	buf[0] = '\0';
	for (int c = 0; c < CPU_SETSIZE && n < len; c++) {
		if (!CPU_ISSET(c, set))
			continue;
		int e = c;
		while (e + 1 < CPU_SETSIZE && CPU_ISSET(e + 1, set))
			e++;
		int w = e > c ? snprintf(buf + n, len - n, "%s%d-%d", n ? "," : "", c, e)
		              : snprintf(buf + n, len - n, "%s%d", n ? "," : "", c);
		n += w > 0 ? (size_t)w : 0;
		c = e;
	}
}

/*
 * The CPUs a child of this process may pin itself to: an offline one, or
 * one outside the cgroup's cpuset, fails sched_setaffinity() in the
 * service (exit 126, restarted like a crash) though the host has it. Not
 * this thread's own affinity: that bounds nothing a child asks for, and
 * the systemd unit keeps the launcher on housekeeping cores while its
 * services name isolated ones. The kernel tells: asked for every CPU, it
 * grants the online ones of the cpuset. The mask is put back at once
 * (the CPU this thread runs on stays in it throughout: no migration);
 * when it cannot be widened, the affinity is all that is known.
 */
static bool usable_cpus(cpu_set_t *out)
{
	cpu_set_t old, every;
	if (sched_getaffinity(0, sizeof(old), &old) != 0)
		return false;
	*out = old;
	CPU_ZERO(&every);
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
		CPU_SET(cpu, &every);
	if (sched_setaffinity(0, sizeof(every), &every) != 0)
		return true;
	if (sched_getaffinity(0, sizeof(every), &every) == 0)
		*out = every;
	sched_setaffinity(0, sizeof(old), &old);
	return true;
}

int shmbus_config_check_host(const struct shmbus_config *c, char *err, size_t errlen)
{
	long ncpu = sysconf(_SC_NPROCESSORS_CONF);
	int max_node = numa_available() >= 0 ? numa_max_node() : 0;
	cpu_set_t allowed;
	bool have_allowed = false;
	for (size_t i = 0; i < c->nservices && !have_allowed; i++)
		if (c->services[i].ncores)
			have_allowed = usable_cpus(&allowed);
	for (size_t i = 0; i < c->nservices; i++) {
		const struct shmbus_cfg_service *s = &c->services[i];
		for (size_t j = 0; j < s->ncores; j++) {
			if (ncpu > 0 && s->cores[j] >= ncpu) {
				snprintf(err, errlen,
				         "%s:%d: [service %s] cores: CPU %d is out of range: this "
				         "host has CPUs 0..%ld",
				         c->path, s->cores_line, s->name, s->cores[j], ncpu - 1);
				return -EINVAL;
			}
			if (have_allowed && s->cores[j] < CPU_SETSIZE &&
			    !CPU_ISSET(s->cores[j], &allowed)) {
				char list[256];
				cpu_list(&allowed, list, sizeof(list));
				snprintf(err, errlen,
				         "%s:%d: [service %s] cores: CPU %d cannot be used here "
				         "(offline, or outside this process's cpuset: CPUs %s)",
				         c->path, s->cores_line, s->name, s->cores[j], list);
				return -EINVAL;
			}
		}
		if (s->numa_node > max_node) {
			snprintf(err, errlen,
			         "%s:%d: [service %s] numa_node: node %d does not exist: this host "
			         "has nodes 0..%d%s",
			         c->path, s->numa_line, s->name, s->numa_node, max_node,
			         numa_available() < 0 ? " (no NUMA support)" : "");
			return -EINVAL;
		}
	}
	return 0;
}
