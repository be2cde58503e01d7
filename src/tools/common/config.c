/*
 * config.c - loading the host configuration file (INI, through libinih).
 *
 * libinih does the lexing (sections, key = value, comments) and calls us
 * once per key. It does not tell the handler which line it is on, so we
 * feed it through our own line reader (ini_parse_stream) that counts
 * lines: when the handler runs, the reader's count is the key's line. The
 * reader also sees each "[section]" line first, which lets us open empty
 * sections, report duplicates at their own line and refuse lines longer
 * than libinih's buffer instead of letting it split them silently; it
 * skips a UTF-8 byte order mark, refuses NUL bytes (libinih would cut the
 * line there) and reads at most CFG_LINE_CAP bytes of a line, from a
 * regular file only, so no input makes it block or grow without bound.
 * Only the first error is kept; parsing goes on so libinih stays simple,
 * but nothing after the first error changes the message. Sections come in
 * any order, so what one says about another (max_rings and the rings, the
 * two backoffs) is checked once the file is read (finish()).
 */
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <shmbus/event.h>

#include "config_internal.h"
#include "tool_file.h"

/* ---- [bus] and [launcher] ---------------------------------------------- */

static int bus_key(struct cfg_parse *p, const char *key, const char *v)
{
	struct shmbus_config *c = p->cfg;
	struct shmbus_bus_opts *o = &c->bus.opts;
	char why[200];
	uint64_t x;
	int b;
	if (strcmp(key, "name") == 0) {
		if (!cfg_valid_name(v, SHMBUS_NAME_MAX, why, sizeof(why)))
			return cfg_fail(p, p->line, key, -EINVAL, "%s", why);
		snprintf(c->bus.name, sizeof(c->bus.name), "%s", v);
	} else if (strcmp(key, "arena_mb") == 0) {
		if (!cfg_parse_u64(v, 1, 65536, &x, why, sizeof(why)))
			return cfg_fail(p, p->line, key, -EINVAL, "%s", why);
		o->arena_bytes = (size_t)x << 20;
		p->arena_line = p->line;
	} else if (strcmp(key, "max_rings") == 0) {
		if (!cfg_parse_u64(v, 1, CFG_MAX_RINGS, &x, why, sizeof(why)))
			return cfg_fail(p, p->line, key, -EINVAL, "%s", why);
		o->max_rings = (uint32_t)x;
		p->max_rings_line = p->line; /* checked against the rings at the end */
	} else if (strcmp(key, "max_participants") == 0) {
		if (!cfg_parse_u64(v, 1, 4096, &x, why, sizeof(why)))
			return cfg_fail(p, p->line, key, -EINVAL, "%s", why);
		o->max_participants = (uint32_t)x;
	} else if (strcmp(key, "max_producers") == 0) {
		if (!cfg_parse_u64(v, 1, 65536, &x, why, sizeof(why)))
			return cfg_fail(p, p->line, key, -EINVAL, "%s", why);
		o->max_producers = (uint32_t)x;
	} else if (strcmp(key, "max_symbols") == 0) {
		if (!cfg_parse_u64(v, 16, 1u << 20, &x, why, sizeof(why)))
			return cfg_fail(p, p->line, key, -EINVAL, "%s", why);
		if (x & (x - 1))
			return cfg_fail(p, p->line, key, -EINVAL, "%llu is not a power of two",
			                (unsigned long long)x);
		o->max_symbols = (uint32_t)x;
		p->max_symbols_line = p->line;
	} else if (strcmp(key, "hugepages") == 0) {
		if (strcmp(v, "auto") == 0)
			o->hugepages = SHMBUS_HUGEPAGES_AUTO;
		else if (strcmp(v, "never") == 0)
			o->hugepages = SHMBUS_HUGEPAGES_NEVER;
		else if (strcmp(v, "always") == 0)
			o->hugepages = SHMBUS_HUGEPAGES_ALWAYS;
		else
			return cfg_fail(p, p->line, key, -EINVAL,
			                "'%s' is not one of auto, never, always", v);
	} else if (strcmp(key, "keep") == 0 || strcmp(key, "prefault") == 0 ||
	           strcmp(key, "lock_pages") == 0) {
		if (!cfg_parse_bool(v, &b, why, sizeof(why)))
			return cfg_fail(p, p->line, key, -EINVAL, "%s", why);
		if (key[0] == 'k')
			c->bus.keep = b;
		else if (key[0] == 'p')
			o->prefault = b;
		else
			o->lock_pages = b;
	} else if (strcmp(key, "mode") == 0) {
		/* Octal digits only: strtoul alone would take "+0660", "-0" and
		 * leading blanks. */
		char *end;
		unsigned long m = strtoul(v, &end, 8);
		if (!*v || *end || m > 0777 || strspn(v, "01234567") != strlen(v))
			return cfg_fail(p, p->line, key, -EINVAL,
			                "'%s' is not an octal file mode (e.g. 0660)", v);
		o->mode = (uint32_t)m;
	} else {
		return cfg_fail(
		    p, p->line, key, -EINVAL,
		    "unknown key (known: name, arena_mb, max_rings, max_participants, "
		    "max_producers, max_symbols, hugepages, keep, prefault, lock_pages, "
		    "mode)");
	}
	return 0;
}

static int launcher_key(struct cfg_parse *p, const char *key, const char *v)
{
	struct shmbus_config *c = p->cfg;
	char why[200];
	uint64_t x;
	unsigned *dst = NULL;
	if (strcmp(key, "stop_grace_ms") == 0) {
		dst = &c->launcher.stop_grace_ms;
	} else if (strcmp(key, "backoff_initial_ms") == 0) {
		dst = &c->launcher.backoff_initial_ms;
		p->backoff_initial_line = p->line;
	} else if (strcmp(key, "backoff_max_ms") == 0) {
		dst = &c->launcher.backoff_max_ms;
		p->backoff_max_line = p->line;
	} else if (strcmp(key, "healthy_run_ms") == 0) {
		dst = &c->launcher.healthy_run_ms;
	}
	if (dst) {
		if (!cfg_parse_u64(v, 1, 3600000, &x, why, sizeof(why)))
			return cfg_fail(p, p->line, key, -EINVAL, "%s", why);
		*dst = (unsigned)x;
		return 0;
	}
	if (strcmp(key, "status_file") == 0) {
		if (!*v)
			return cfg_fail(p, p->line, key, -EINVAL, "empty path");
		free(c->launcher.status_file);
		c->launcher.status_file = strdup(v);
		return c->launcher.status_file ? 0
		                               : cfg_fail(p, p->line, key, -ENOMEM, "no memory");
	}
	return cfg_fail(p, p->line, key, -EINVAL,
	                "unknown key (known: stop_grace_ms, backoff_initial_ms, backoff_max_ms, "
	                "healthy_run_ms, status_file)");
}

/* ---- [ring NAME] ---------------------------------------------------------- */

static int ring_types(struct cfg_parse *p, struct shmbus_cfg_ring *r, const char *key,
                      const char *v)
{
	char buf[512];
	snprintf(buf, sizeof(buf), "%s", v);
	uint64_t mask = 0;
	char *save = NULL;
	for (char *t = strtok_r(buf, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save)) {
		if (strcmp(t, "all") == 0 || strcmp(t, "*") == 0) {
			/* `trade, all` meant every type without a word */
			if (mask || strtok_r(NULL, ", \t", &save))
				return cfg_fail(p, p->line, key, -EINVAL,
				                "'%s' stands alone (it takes every type)", t);
			r->opts.types = 0;
			return 0;
		}
		int id = shmbus_event_type_from_name(t);
		if (id < 0) {
			char *end;
			unsigned long n = strtoul(t, &end, 10); /* user types by number */
			if (*end || n < SHMBUS_EV_USER || n >= SHMBUS_MAX_TYPES)
				return cfg_fail(
				    p, p->line, key, -EINVAL,
				    "unknown event type '%s' (known: trade, quote, bar, "
				    "indicator, threshold, collection_failed, heartbeat, "
				    "or a user type number %d..%d)",
				    t, SHMBUS_EV_USER, SHMBUS_MAX_TYPES - 1);
			id = (int)n;
		}
		mask |= SHMBUS_TYPE_BIT(id);
	}
	if (!mask)
		return cfg_fail(p, p->line, key, -EINVAL, "empty type list (use 'all')");
	r->opts.types = mask;
	return 0;
}

static int ring_symbols(struct cfg_parse *p, struct shmbus_cfg_ring *r, const char *key,
                        const char *v)
{
	char *buf = strdup(v);
	if (!buf)
		return cfg_fail(p, p->line, key, -ENOMEM, "no memory");
	char *save = NULL;
	int rc = 0;
	for (char *t = strtok_r(buf, ", \t", &save); t && !rc; t = strtok_r(NULL, ", \t", &save)) {
		size_t len = strlen(t);
		bool ok = len >= 1 && len <= SHMBUS_SYMBOL_MAX;
		for (size_t i = 0; ok && i < len; i++)
			ok = t[i] > ' ' && t[i] < 127;
		if (!ok) {
			rc = cfg_fail(p, p->line, key, -EINVAL,
			              "symbol '%s' is not 1..%d printable bytes", t,
			              SHMBUS_SYMBOL_MAX);
			break;
		}
		if (r->nsymbols >= SHMBUS_SUB_MAX_SYMBOLS) {
			rc = cfg_fail(p, p->line, key, -EINVAL, "more than %d symbols",
			              SHMBUS_SUB_MAX_SYMBOLS);
			break;
		}
		char **grown = realloc(r->symbols, (r->nsymbols + 1) * sizeof(*grown));
		char *dup = grown ? strdup(t) : NULL;
		if (grown)
			r->symbols = grown;
		if (!dup) {
			rc = cfg_fail(p, p->line, key, -ENOMEM, "no memory");
			break;
		}
		r->symbols[r->nsymbols++] = dup;
	}
	free(buf);
	if (!rc && r->nsymbols == 0)
		rc = cfg_fail(p, p->line, key, -EINVAL,
		              "empty symbol list (leave the key out for "
		              "all symbols)");
	return rc;
}

static int ring_key(struct cfg_parse *p, struct shmbus_cfg_ring *r, const char *key, const char *v)
{
	static const char *const policies[] = {"block", "drop"};
	static const char *const waits[] = {"adaptive", "spin", "yield", "block"};
	char why[200];
	uint64_t x;
	int e = 0;
	if (strcmp(key, "slot_size") == 0) {
		if (!cfg_parse_u64(v, 64, 256, &x, why, sizeof(why)) ||
		    (x != 64 && x != 128 && x != 256))
			return cfg_fail(p, p->line, key, -EINVAL,
			                "'%s' is not a slot size (64, 128 or 256)", v);
		r->opts.slot_size = (uint32_t)x;
	} else if (strcmp(key, "capacity") == 0) {
		if (!cfg_parse_u64(v, 2, 1u << 30, &x, why, sizeof(why)))
			return cfg_fail(p, p->line, key, -EINVAL, "%s", why);
		if (x & (x - 1))
			return cfg_fail(p, p->line, key, -EINVAL, "%llu is not a power of two",
			                (unsigned long long)x);
		r->opts.capacity = (uint32_t)x;
	} else if (strcmp(key, "policy") == 0) {
		if (cfg_parse_enum(p, key, v, policies, 2, &e))
			return p->rc;
		r->opts.policy = (enum shmbus_full_policy)e;
	} else if (strcmp(key, "wait") == 0) {
		if (cfg_parse_enum(p, key, v, waits, 4, &e))
			return p->rc;
		r->opts.wait = (enum shmbus_wait_strategy)e;
	} else if (strcmp(key, "types") == 0) {
		return ring_types(p, r, key, v);
	} else if (strcmp(key, "symbols") == 0) {
		return ring_symbols(p, r, key, v);
	} else if (strcmp(key, "group") == 0) {
		if (!cfg_valid_name(v, SHMBUS_NAME_MAX, why, sizeof(why)))
			return cfg_fail(p, p->line, key, -EINVAL, "%s", why);
		snprintf(r->group, sizeof(r->group), "%s", v);
		r->opts.group = r->group;
	} else if (strcmp(key, "group_size") == 0 || strcmp(key, "group_member") == 0) {
		bool size = strcmp(key, "group_size") == 0;
		if (!cfg_parse_u64(v, size ? 1 : 0, size ? 64 : 63, &x, why, sizeof(why)))
			return cfg_fail(p, p->line, key, -EINVAL, "%s", why);
		*(size ? &r->opts.group_size : &r->opts.group_member) = (uint32_t)x;
	} else if (strcmp(key, "single_producer") == 0) {
		if (!cfg_parse_bool(v, &e, why, sizeof(why)))
			return cfg_fail(p, p->line, key, -EINVAL, "%s", why);
		r->opts.flags = e ? r->opts.flags | SHMBUS_SUB_SINGLE_PRODUCER
		                  : r->opts.flags & ~SHMBUS_SUB_SINGLE_PRODUCER;
	} else if (strcmp(key, "stuck_timeout_ms") == 0) {
		if (!cfg_parse_u64(v, 1, 3600000, &x, why, sizeof(why)))
			return cfg_fail(p, p->line, key, -EINVAL, "%s", why);
		r->opts.stuck_timeout_ns = (int64_t)x * 1000000;
	} else {
		return cfg_fail(p, p->line, key, -EINVAL,
		                "unknown key (known: slot_size, capacity, policy, wait, types, "
		                "symbols, group, group_size, group_member, single_producer, "
		                "stuck_timeout_ms)");
	}
	return 0;
}

static int ring_check(struct cfg_parse *p, const struct shmbus_cfg_ring *r, int line)
{
	snprintf(p->section, sizeof(p->section), "ring %s", r->name);
	const struct shmbus_sub_opts *o = &r->opts;
	uint32_t size = o->group_size ? o->group_size : 1;
	if (o->group_member >= size)
		return cfg_fail(p, line, "group_member", -EINVAL, "%u is not below group_size %u",
		                o->group_member, size);
	if (!r->group[0] && o->group_size > 1)
		return cfg_fail(p, line, "group", -EINVAL,
		                "missing: group_size %u needs a group name", o->group_size);
	return 0;
}

/* ---- sections ------------------------------------------------------------ */

static bool key_seen(struct cfg_parse *p, const char *key, int *first)
{
	for (int i = 0; i < p->nkeys; i++)
		if (strcmp(p->keys[i], key) == 0)
			return *first = p->key_lines[i], true;
	if (p->nkeys < CFG_MAX_KEYS) {
		snprintf(p->keys[p->nkeys], sizeof(p->keys[0]), "%s", key);
		p->key_lines[p->nkeys++] = p->line;
	}
	return false;
}

static void *grow(void **arr, size_t *n, size_t elem)
{
	void *a = realloc(*arr, (*n + 1) * elem);
	if (!a)
		return NULL;
	*arr = a;
	void *e = (char *)a + *n * elem;
	memset(e, 0, elem);
	(*n)++;
	return e;
}

static int named_section(struct cfg_parse *p, const char *kind, const char *name)
{
	struct shmbus_config *c = p->cfg;
	char why[200];
	if (!cfg_valid_name(name, SHMBUS_NAME_MAX, why, sizeof(why)))
		return cfg_fail(p, p->line, NULL, -EINVAL, "%s", why);
	bool ring = strcmp(kind, "ring") == 0;
	size_t n = ring ? c->nrings : c->nservices;
	for (size_t i = 0; i < n; i++) {
		const char *other = ring ? c->rings[i].name : c->services[i].name;
		int line = ring ? c->rings[i].line : c->services[i].line;
		if (strcmp(other, name) == 0)
			return cfg_fail(p, p->line, NULL, -EINVAL,
			                "duplicate %s '%s' (first at line %d)", kind, name, line);
	}
	if (ring) {
		/* [bus] max_rings may come later in the file: finish() checks
		 * the count against it; this only bounds the parse. */
		if (c->nrings >= CFG_MAX_RINGS)
			return cfg_fail(p, p->line, NULL, -EINVAL,
			                "more than %d rings (the largest max_rings)",
			                CFG_MAX_RINGS);
		struct shmbus_cfg_ring *r = grow((void **)&c->rings, &c->nrings, sizeof(*r));
		if (!r)
			return cfg_fail(p, p->line, NULL, -ENOMEM, "no memory");
		snprintf(r->name, sizeof(r->name), "%s", name);
		r->line = p->line;
		shmbus_sub_opts_init(&r->opts);
		p->cur = r;
		p->kind = CFG_RING;
	} else {
		struct shmbus_cfg_service *s =
		    grow((void **)&c->services, &c->nservices, sizeof(*s));
		if (!s)
			return cfg_fail(p, p->line, NULL, -ENOMEM, "no memory");
		snprintf(s->name, sizeof(s->name), "%s", name);
		s->line = p->line;
		s->numa_node = -1;
		s->restart = SHMBUS_RESTART_ON_FAILURE;
		s->restart_max = 10;
		p->cur = s;
		p->kind = CFG_SERVICE;
	}
	return 0;
}

/* Called by the reader for each "[...]" line, before libinih sees it. */
static void section_begin(struct cfg_parse *p, const char *sec)
{
	static const struct {
		const char *name;
		enum cfg_kind kind;
	} plain[] = {{"bus", CFG_BUS},
	             {"launcher", CFG_LAUNCHER},
	             {"journal", CFG_JOURNAL},
	             {"bridge", CFG_BRIDGE}};
	snprintf(p->section, sizeof(p->section), "%s", sec);
	p->nkeys = 0;
	p->kind = CFG_SKIP;
	p->cur = NULL;
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		if (strcmp(sec, plain[i].name) != 0)
			continue;
		struct shmbus_config *c = p->cfg;
		int *line = plain[i].kind == CFG_BUS       ? &c->bus.line
		            : plain[i].kind == CFG_JOURNAL ? &c->journal.line
		            : plain[i].kind == CFG_BRIDGE  ? &c->bridge.line
		                                           : &c->launcher.line;
		if (*line) {
			cfg_fail(p, p->line, NULL, -EINVAL, "duplicate section (first at line %d)",
			         *line);
			return;
		}
		*line = p->line;
		if (plain[i].kind == CFG_JOURNAL)
			c->journal.present = 1;
		if (plain[i].kind == CFG_BRIDGE)
			c->bridge.present = 1;
		p->kind = plain[i].kind;
		return;
	}
	const char *sp = strchr(sec, ' ');
	if (sp && (strncmp(sec, "ring ", 5) == 0 || strncmp(sec, "service ", 8) == 0)) {
		char kind[16];
		snprintf(kind, sizeof(kind), "%.*s", (int)(sp - sec), sec);
		while (*sp == ' ')
			sp++;
		named_section(p, kind, sp);
		return;
	}
	cfg_fail(p, p->line, NULL, -EINVAL,
	         "unknown section (known: bus, launcher, ring NAME, service NAME, journal, "
	         "bridge)");
}

static int handler(void *user, const char *section, const char *key, const char *value)
{
	struct cfg_parse *p = user;
	(void)section; /* the reader already opened it */
	int first;
	if (p->kind == CFG_SKIP)
		return 1;
	if (p->kind == CFG_NONE) {
		cfg_fail(p, p->line, key, -EINVAL, "key outside any section");
		return 1;
	}
	/* a repeatable [bridge] key (kafka-set) counts each time */
	if (!((p->kind == CFG_JOURNAL || p->kind == CFG_BRIDGE) &&
	      cfg_kept_repeatable(p->kind, key)) &&
	    key_seen(p, key, &first)) {
		cfg_fail(p, p->line, key, -EINVAL, "duplicate key (first at line %d)", first);
		return 1;
	}
	switch (p->kind) {
	case CFG_BUS:
		bus_key(p, key, value);
		break;
	case CFG_LAUNCHER:
		launcher_key(p, key, value);
		break;
	case CFG_RING:
		ring_key(p, p->cur, key, value);
		break;
	case CFG_SERVICE:
		cfg_service_key(p, p->cur, key, value);
		break;
	case CFG_JOURNAL:
		cfg_kept_key(p, &p->cfg->journal, CFG_JOURNAL, key, value);
		break;
	case CFG_BRIDGE:
		cfg_kept_key(p, &p->cfg->bridge, CFG_BRIDGE, key, value);
		break;
	default:
		break;
	}
	return 1;
}

/* ---- the line reader ---------------------------------------------------- */

/* One line of the file, '\n' included, into p->linebuf. A line longer
 * than CFG_LINE_CAP or a read error ends the file with an error: nothing
 * after it could be trusted, and a file without newlines (a device, a
 * huge binary) must not be read into memory whole. */
static bool next_file_line(struct cfg_parse *p, size_t *len)
{
	size_t n = 0;
	int ch;
	errno = 0;
	while ((ch = getc(p->file)) != EOF) {
		if (n == CFG_LINE_CAP && ch != '\n') {
			cfg_fail(p, p->line + 1, NULL, -EINVAL,
			         "line is longer than %d bytes (is this a config file?)",
			         CFG_LINE_CAP);
			return false;
		}
		p->linebuf[n++] = (char)ch;
		if (ch == '\n')
			break;
	}
	if (ch == EOF && ferror(p->file)) {
		int e = errno ? errno : EIO;
		cfg_fail(p, p->line + 1, NULL, -e, "read error: %s", strerror(e));
		return false;
	}
	*len = n;
	return n > 0;
}

static bool next_line(struct cfg_parse *p, const char **line, size_t *len)
{
	if (p->file) {
		*line = p->linebuf;
		return next_file_line(p, len);
	}
	if (!p->text[p->pos])
		return false;
	const char *s = p->text + p->pos;
	const char *nl = strchr(s, '\n');
	*len = nl ? (size_t)(nl - s) + 1 : strlen(s);
	*line = s;
	p->pos += *len;
	return true;
}

static void maybe_section(struct cfg_parse *p, const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s != '[')
		return;
	const char *end = strchr(s, ']');
	if (!end)
		return; /* libinih reports it as a syntax error */
	char sec[96];
	size_t n = (size_t)(end - s - 1);
	if (n >= sizeof(sec)) {
		cfg_fail(p, p->line, NULL, -EINVAL, "section name longer than %zu bytes",
		         sizeof(sec) - 1);
		p->kind = CFG_SKIP;
		return;
	}
	memcpy(sec, s + 1, n);
	sec[n] = '\0';
	section_begin(p, sec);
}

static char *reader(char *str, int num, void *stream)
{
	struct cfg_parse *p = stream;
	const char *line;
	size_t len;
	if (!next_line(p, &line, &len))
		return NULL;
	p->line++;
	/* A UTF-8 byte order mark: libinih would skip it too, but the
	 * section detection below sees the line first. */
	if (p->line == 1 && len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
		line += 3;
		len -= 3;
	}
	size_t body = len;
	while (body && (line[body - 1] == '\n' || line[body - 1] == '\r'))
		body--;
	/* libinih works on C strings: a NUL would silently cut the line. */
	const char *nul = memchr(line, '\0', body);
	if (nul) {
		cfg_fail(p, p->line, NULL, -EINVAL, "NUL byte at column %zu (not a text line)",
		         (size_t)(nul - line) + 1);
		body = 0; /* hand libinih an empty line */
	} else if (body >= (size_t)num - 1) {
		cfg_fail(p, p->line, NULL, -EINVAL, "line is %zu bytes, longer than %d", body,
		         num - 2);
		body = 0; /* hand libinih an empty line */
	}
	memcpy(str, line, body);
	str[body] = '\n';
	str[body + 1] = '\0';
	char tmp[INI_MAX_LINE + 2];
	memcpy(tmp, str, body + 2);
	maybe_section(p, tmp);
	return str;
}

/* ---- load / free --------------------------------------------------------- */

/* Checks between keys of different sections, which may come in any order. */
static int finish_cross(struct cfg_parse *p)
{
	struct shmbus_config *c = p->cfg;
	char where[48];
	if (c->nrings > c->bus.opts.max_rings) {
		const struct shmbus_cfg_ring *r = &c->rings[c->bus.opts.max_rings];
		snprintf(where, sizeof(where), p->max_rings_line ? "set at line %d" : "the default",
		         p->max_rings_line);
		snprintf(p->section, sizeof(p->section), "ring %s", r->name);
		return cfg_fail(p, r->line, NULL, -EINVAL,
		                "ring %zu of %zu: more rings than [bus] max_rings (%u, %s)",
		                (size_t)c->bus.opts.max_rings + 1, c->nrings, c->bus.opts.max_rings,
		                where);
	}
	if (c->launcher.backoff_initial_ms > c->launcher.backoff_max_ms) {
		bool at_max = p->backoff_max_line && !p->backoff_initial_line;
		snprintf(p->section, sizeof(p->section), "launcher");
		if (at_max)
			return cfg_fail(p, p->backoff_max_line, "backoff_max_ms", -EINVAL,
			                "%u is below backoff_initial_ms (%u, the default)",
			                c->launcher.backoff_max_ms, c->launcher.backoff_initial_ms);
		snprintf(where, sizeof(where),
		         p->backoff_max_line ? "set at line %d" : "the default",
		         p->backoff_max_line);
		return cfg_fail(p, p->backoff_initial_line, "backoff_initial_ms", -EINVAL,
		                "%u is above backoff_max_ms (%u, %s)",
		                c->launcher.backoff_initial_ms, c->launcher.backoff_max_ms, where);
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The rings' symbols are interned into the bus's table at creation: more
 * distinct names than max_symbols would fail there, after check said ok. */
static void symbols_check(struct cfg_parse *p)
{
	struct shmbus_config *c = p->cfg;
	size_t total = 0, distinct = 0;
	for (size_t i = 0; i < c->nrings; i++)
		total += c->rings[i].nsymbols;
	if (total <= c->bus.opts.max_symbols)
		return; /* cannot be more distinct ones than that */
	const char **all = malloc(total * sizeof(*all));
	if (!all) {
		p->rc = -ENOMEM;
		return;
	}
	size_t k = 0;
	for (size_t i = 0; i < c->nrings; i++)
		for (size_t j = 0; j < c->rings[i].nsymbols; j++)
			all[k++] = c->rings[i].symbols[j];
	qsort(all, total, sizeof(*all), cmp_str);
	for (size_t i = 0; i < total; i++)
		distinct += i == 0 || strcmp(all[i], all[i - 1]) != 0;
	free(all);
	if (distinct > c->bus.opts.max_symbols) {
		snprintf(p->section, sizeof(p->section), "bus");
		cfg_fail(p, p->max_symbols_line ? p->max_symbols_line : c->bus.line ? c->bus.line : 1,
		         "max_symbols", -EINVAL,
		         "the rings name %zu distinct symbols, more than the table's %u",
		         distinct, c->bus.opts.max_symbols);
	}
}

static int finish(struct cfg_parse *p)
{
	struct shmbus_config *c = p->cfg;
	uint64_t need = 0;
	if (finish_cross(p))
		return p->rc;
	for (size_t i = 0; i < c->nrings && !p->rc; i++) {
		ring_check(p, &c->rings[i], c->rings[i].line);
		need += shmbus_ring_arena_bytes(c->rings[i].opts.capacity, c->rings[i].opts.slot_size,
		                                c->bus.opts.max_symbols);
	}
	for (size_t i = 0; i < c->nservices && !p->rc; i++) {
		snprintf(p->section, sizeof(p->section), "service %s", c->services[i].name);
		cfg_service_check(p, &c->services[i]);
	}
	if (!p->rc)
		symbols_check(p);
	if (!p->rc && need > c->bus.opts.arena_bytes) {
		snprintf(p->section, sizeof(p->section), "bus");
		cfg_fail(p, p->arena_line ? p->arena_line : c->bus.line ? c->bus.line : 1, "arena_mb",
		         -EINVAL,
		         "the rings need %llu MiB (slots, headers, symbol filters), more than the "
		         "arena's %zu MiB",
		         (unsigned long long)((need + (1u << 20) - 1) >> 20),
		         c->bus.opts.arena_bytes >> 20);
	}
	return p->rc;
}

static int parse(struct cfg_parse *p, struct shmbus_config **out)
{
	struct shmbus_config *c = calloc(1, sizeof(*c));
	if (!c || !(c->path = strdup(p->path))) {
		free(c);
		return -ENOMEM;
	}
	p->cfg = c;
	snprintf(c->bus.name, sizeof(c->bus.name), "%s", SHMBUS_DEFAULT_BUS);
	shmbus_bus_opts_init(&c->bus.opts);
	c->launcher.stop_grace_ms = 3000;
	c->launcher.backoff_initial_ms = 100;
	c->launcher.backoff_max_ms = 5000;
	c->launcher.healthy_run_ms = 10000;
	int line = ini_parse_stream(reader, p, handler, p);
	/* libinih's syntax error replaces ours only when it comes first. */
	if (line > 0 && (!p->rc || line < p->err_line)) {
		p->rc = 0;
		p->section[0] = '\0';
		cfg_fail(p, line, NULL, -EINVAL,
		         "syntax error (expected [section], key = value or a ; or # comment)");
	} else if (line < 0 && !p->rc) {
		cfg_fail(p, 0, NULL, -ENOMEM, "out of memory while parsing");
	}
	if (!p->rc)
		finish(p);
	if (p->rc) {
		shmbus_config_free(c);
		return p->rc;
	}
	*out = c;
	return 0;
}

/* Open `path` for reading, refusing anything but a regular file
 * (tool_file.h): a directory would read as an empty (valid!) config, a
 * device or FIFO would block or never end. */
static int open_regular(const char *path, FILE **out, char *err, size_t errlen)
{
	const char *kind;
	int rc = 0, fd = tool_open_regular(path, &kind, NULL);
	if (fd >= 0 && !(*out = fdopen(fd, "r"))) {
		rc = -errno;
		close(fd);
	} else if (fd < 0) {
		rc = fd;
	}
	if (rc && err && errlen) {
		if (kind)
			snprintf(err, errlen, "%s: cannot read: not a regular file (%s)", path, kind);
		else
			snprintf(err, errlen, "%s: cannot open: %s", path, strerror(-rc));
	}
	return rc;
}

int shmbus_config_load(const char *path, struct shmbus_config **out, char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	if (!path || !out)
		return -EINVAL;
	*out = NULL;
	struct cfg_parse p = {.path = path, .err = err, .errlen = errlen};
	int rc = open_regular(path, &p.file, err, errlen);
	if (rc)
		return rc;
	rc = parse(&p, out);
	fclose(p.file);
	return rc;
}

int shmbus_config_parse_string(const char *text, const char *name, struct shmbus_config **out,
                               char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	if (!text || !out)
		return -EINVAL;
	*out = NULL;
	struct cfg_parse p = {
	    .path = name ? name : "<string>", .err = err, .errlen = errlen, .text = text};
	return parse(&p, out);
}

static void kv_free(struct shmbus_cfg_section *s)
{
	for (size_t i = 0; i < s->nkv; i++) {
		free(s->kv[i].key);
		free(s->kv[i].value);
	}
	free(s->kv);
}

void shmbus_config_free(struct shmbus_config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nrings; i++) {
		for (size_t j = 0; j < c->rings[i].nsymbols; j++)
			free(c->rings[i].symbols[j]);
		free(c->rings[i].symbols);
	}
	free(c->rings);
	for (size_t i = 0; i < c->nservices; i++)
		cfg_service_free(&c->services[i]);
	free(c->services);
	kv_free(&c->journal);
	kv_free(&c->bridge);
	free(c->launcher.status_file);
	free(c->path);
	free(c);
}

const char *shmbus_config_get(const struct shmbus_cfg_section *s, const char *key, int *line)
{
	for (size_t i = 0; s && i < s->nkv; i++)
		if (strcmp(s->kv[i].key, key) == 0) {
			if (line)
				*line = s->kv[i].line;
			return s->kv[i].value;
		}
	return NULL;
}
