/*
 * jtool_symbols.c - the journal's symbols file, DIR/<bus>.symbols.
 *
 * Events carry symbol ids that only mean something inside the bus that
 * stamped them, so shmbus-journald appends "id,name" the first time it
 * journals each id: with it a journal is self-contained, and replay can
 * re-intern the names in a fresh bus and rewrite the ids. The table here
 * is a plain array indexed by id (ids are small and dense), loaded whole;
 * a later line for an id wins, which is what a bus recreated with other
 * ids needs for the events journaled after it.
 */
#include "jtool.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shmbus/symbol.h>

#define JT_SYM_ID_MAX (1u << 20) /* a bus's largest max_symbols */

int jtool_symbols_path(const char *dir, const char *bus, char *path, size_t len)
{
	int n = snprintf(path, len, "%s/%s.symbols", dir, bus);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int jt_name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > SHMBUS_SYMBOL_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (name[i] <= ' ' || name[i] > '~' || name[i] == ',')
			return 0;
	return 1;
}

int jtool_symtab_set(struct jtool_symtab *t, uint32_t id, const char *name)
{
	if (id == 0 || id > JT_SYM_ID_MAX || !jt_name_ok(name))
		return -EINVAL;
	if (id >= t->cap) {
		uint32_t cap = t->cap ? t->cap : 256;
		while (cap <= id)
			cap *= 2;
		if (cap > JT_SYM_ID_MAX + 1)
			cap = JT_SYM_ID_MAX + 1; /* 32 MiB at most, whatever one line says */
		char(*nn)[32] = realloc(t->names, cap * sizeof(*nn));
		if (!nn)
			return -ENOMEM;
		memset(nn + t->cap, 0, (cap - t->cap) * sizeof(*nn));
		t->names = nn;
		t->cap = cap;
	}
	if (!t->names[id][0])
		t->count++;
	snprintf(t->names[id], sizeof(t->names[id]), "%s", name);
	return 0;
}

int jtool_symtab_load(struct jtool_symtab *t, const char *path, char *why)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		if (errno == ENOENT)
			return 0;
		int e = errno;
		snprintf(why, JTOOL_WHY, "cannot read %s: %s", path, strerror(e));
		return -e;
	}
	char line[128];
	int rc = 0;
	for (unsigned no = 1; fgets(line, sizeof(line), f); no++) {
		size_t n = strlen(line);
		if (n && line[n - 1] == '\n') {
			line[--n] = '\0';
		} else if (feof(f)) {
			break; /* torn last line of a crashed writer: not written yet */
		} else {
			snprintf(why, JTOOL_WHY, "%s:%u: line too long", path, no);
			rc = -EINVAL;
			break;
		}
		if (n == 0)
			continue;
		char *comma = strchr(line, ',');
		uint64_t id;
		char w2[JTOOL_WHY];
		if (comma)
			*comma = '\0';
		if (!comma || jtool_parse_u64(line, 1, JT_SYM_ID_MAX, &id, w2) ||
		    jtool_symtab_set(t, (uint32_t)id, comma + 1)) {
			snprintf(why, JTOOL_WHY, "%s:%u: want 'id,name' (id 1..%u, name of 1..%d "
			         "printable characters without spaces or commas)",
			         path, no, JT_SYM_ID_MAX, SHMBUS_SYMBOL_MAX);
			rc = -EINVAL;
			break;
		}
	}
	fclose(f);
	return rc;
}

int jtool_symtab_load_bus(struct jtool_symtab *t, const char *dir, const char *bus, char *why)
{
	char path[1024];
	if (jtool_symbols_path(dir, bus, path, sizeof(path))) {
		snprintf(why, JTOOL_WHY, "symbols file path too long (%.200s)", dir);
		return -ENAMETOOLONG;
	}
	return jtool_symtab_load(t, path, why);
}

const char *jtool_symtab_name(const struct jtool_symtab *t, uint32_t id)
{
	return id < t->cap && t->names[id][0] ? t->names[id] : NULL;
}

uint32_t jtool_symtab_find(const struct jtool_symtab *t, const char *name, uint32_t after)
{
	for (uint32_t id = after + 1; id < t->cap; id++)
		if (!strcmp(t->names[id], name))
			return id;
	return 0;
}

void jtool_symtab_free(struct jtool_symtab *t)
{
	free(t->names);
	memset(t, 0, sizeof(*t));
}
