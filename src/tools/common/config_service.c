/*
 * config_service.c - [service NAME], [journal] and [bridge] keys, CPU lists
 * and the host check of a configuration.
 *
 * Services are what the launcher starts, so their keys are checked as far
 * as a file alone allows (a CPU list is well formed and below 1024); what
 * depends on the machine (does CPU 40 exist, is there a NUMA node 1) is a
 * separate call, shmbus_config_check_host(), so that a production file can
 * be validated on a laptop. [journal] and [bridge] are kept as key/value
 * pairs for their services, but their keys and simple value shapes are
 * checked here so a typo fails at load, not at 3 a.m.
 */
#include <errno.h>
#include <numa.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_internal.h"

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

enum kept_shape { K_TEXT, K_UINT, K_BOOL, K_ENUM };

struct kept_key {
	const char *key;
	enum kept_shape shape;
	const char *choices; /* K_ENUM: "a|b|c" */
};

static const struct kept_key journal_keys[] = {
    {"dir", K_TEXT, NULL},
    {"ring", K_TEXT, NULL},
    {"fsync", K_ENUM, "none|interval|batch"},
    {"fsync_interval_ms", K_UINT, NULL},
    {"segment_mb", K_UINT, NULL},
    {"segment_max_age_s", K_UINT, NULL},
    {"retention_mb", K_UINT, NULL},
    {"retention_days", K_UINT, NULL},
    {"o_direct", K_BOOL, NULL},
    {"block_events", K_UINT, NULL},
    {NULL, K_TEXT, NULL},
};

static const struct kept_key bridge_keys[] = {
    {"ring", K_TEXT, NULL},       {"target", K_ENUM, "nats|kafka"},
    {"url", K_TEXT, NULL},        {"subject", K_TEXT, NULL},
    {"topic", K_TEXT, NULL},      {"encoding", K_ENUM, "json|binary"},
    {"checkpoint", K_TEXT, NULL}, {"journal_dir", K_TEXT, NULL},
    {"batch", K_UINT, NULL},      {NULL, K_TEXT, NULL},
};

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

static int kept_value(struct cfg_parse *p, const struct kept_key *k, const char *v)
{
	char why[200];
	uint64_t x;
	int b;
	switch (k->shape) {
	case K_TEXT:
		if (!*v)
			return cfg_fail(p, p->line, k->key, -EINVAL, "empty value");
		return 0;
	case K_UINT:
		if (!cfg_parse_u64(v, 0, UINT32_MAX, &x, why, sizeof(why)))
			return cfg_fail(p, p->line, k->key, -EINVAL, "%s", why);
		return 0;
	case K_BOOL:
		if (!cfg_parse_bool(v, &b, why, sizeof(why)))
			return cfg_fail(p, p->line, k->key, -EINVAL, "%s", why);
		return 0;
	case K_ENUM:
		if (!enum_has(k->choices, v))
			return cfg_fail(p, p->line, k->key, -EINVAL,
			                "unknown value '%s' (expected %s)", v, k->choices);
		return 0;
	}
	return 0;
}

int cfg_kept_key(struct cfg_parse *p, struct shmbus_cfg_section *s, enum cfg_kind kind,
                 const char *key, const char *v)
{
	const struct kept_key *table = kind == CFG_JOURNAL ? journal_keys : bridge_keys;
	const struct kept_key *k = table;
	while (k->key && strcmp(k->key, key) != 0)
		k++;
	if (!k->key) {
		char known[256] = "";
		for (const struct kept_key *t = table; t->key; t++)
			snprintf(known + strlen(known), sizeof(known) - strlen(known), "%s%s",
			         known[0] ? ", " : "", t->key);
		return cfg_fail(p, p->line, key, -EINVAL, "unknown key (known: %s)", known);
	}
	int rc = kept_value(p, k, v);
	if (rc)
		return rc;
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

int shmbus_config_check_host(const struct shmbus_config *c, char *err, size_t errlen)
{
	long ncpu = sysconf(_SC_NPROCESSORS_CONF);
	int max_node = numa_available() >= 0 ? numa_max_node() : 0;
	for (size_t i = 0; i < c->nservices; i++) {
		const struct shmbus_cfg_service *s = &c->services[i];
		for (size_t j = 0; j < s->ncores; j++)
			if (ncpu > 0 && s->cores[j] >= ncpu) {
				snprintf(err, errlen,
				         "%s:%d: [service %s] cores: CPU %d is out of range: this "
				         "host has CPUs 0..%ld",
				         c->path, s->cores_line, s->name, s->cores[j], ncpu - 1);
				return -EINVAL;
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
