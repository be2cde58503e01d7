/*
 * symbols.c - the symbol table: an open-addressing hash table in the
 * segment whose slot index + 1 is the symbol's id. Entries are never
 * removed, so a lock-free lookup that probes until an empty entry is
 * exact. Interning takes the bus lock, fills the name, then marks the
 * entry ready with release (R4); lookups acquire it (A4).
 */
#include <errno.h>
#include <string.h>

#include "shmbus/error.h"
#include "shmbus/symbol.h"
#include "bus_internal.h"

/* The first byte of name that no symbol may hold (a space, a comma, not
 * printable ASCII): its index, or len when there is none. */
static size_t symbol_bad_byte(const char *name, size_t len)
{
	size_t i = 0;
	for (; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c <= ' ' || c >= 127 || c == ',')
			break;
	}
	return i;
}

/* The messages quote only the bytes before the first bad one: the name is
 * the caller's input (a CSV cell, a command line) and the message goes to
 * a terminal or a log, where a control byte would act, not show. */
static int check_symbol(const char *name, size_t len)
{
	if (!name || len == 0)
		return bus_err(-EINVAL, "symbol name is empty");
	if (len > SHMBUS_SYMBOL_MAX)
		return bus_err(-EINVAL, "symbol '%.*s...' is %zu bytes, longer than %d",
			       (int)symbol_bad_byte(name, 12), name, len, SHMBUS_SYMBOL_MAX);
	size_t i = symbol_bad_byte(name, len);
	if (i < len)
		return bus_err(-EINVAL,
			       "symbol '%.*s...': byte %zu (0x%02x) is a space, comma or "
			       "not printable ASCII",
			       (int)i, name, i + 1, (unsigned char)name[i]);
	return 0;
}

static bool entry_is(const struct sym_entry *e, uint32_t h, const char *name, size_t len)
{
	return e->hash == h && strnlen(e->name, sizeof(e->name)) == len &&
	       memcmp(e->name, name, len) == 0;
}

/* Probe for name: its index, or -(first free index) - 1. */
static int64_t probe(const struct shmbus_bus *b, const char *name, size_t len, uint32_t h)
{
	uint32_t mask = b->max_symbols - 1;
	for (uint32_t n = 0, i = h & mask; n <= mask; n++, i = (i + 1) & mask) {
		const struct sym_entry *e = &b->syms[i];
		/* A4 pairs with R4 in shmbus_symbol_intern(): name is complete. */
		if (load_acquire(&e->state) == 0)
			return -(int64_t)i - 1;
		if (entry_is(e, h, name, len))
			return i;
	}
	return -(int64_t)UINT32_MAX - 2; /* full, not found */
}

/* Every public call below leaves shmbus_errmsg() saying why it failed, or
 * empty when it did not: a caller never reads an earlier call's reason. */

int64_t shmbus_symbol_lookup(const shmbus_bus *b, const char *name, size_t len)
{
	bus_err_clear();
	if (!b)
		return bus_err(-EINVAL, "symbol lookup: bus is NULL");
	int rc = check_symbol(name, len);
	if (rc)
		return rc;
	int64_t i = probe(b, name, len, fnv1a32(name, len));
	if (i < 0)
		return bus_err(-ENOENT, "bus '%s': no symbol '%.*s'", b->name, (int)len, name);
	return i + 1;
}

int64_t shmbus_symbol_intern(shmbus_bus *b, const char *name, size_t len)
{
	bus_err_clear();
	if (!b)
		return bus_err(-EINVAL, "symbol intern: bus is NULL");
	int rc = check_symbol(name, len);
	if (rc)
		return rc;
	uint32_t h = fnv1a32(name, len);
	int64_t i = probe(b, name, len, h);
	if (i >= 0)
		return i + 1;
	if ((rc = bus_lock(b)))
		return rc;
	/* Again: another process may have won. Probes are bounded by the
	 * table size, so every entry may be used. */
	i = probe(b, name, len, h);
	if (i == -(int64_t)UINT32_MAX - 2) {
		bus_unlock(b);
		return bus_err(-ENOSPC, "bus '%s': symbol table full (%u symbols)", b->name,
			       load_relaxed(&b->sb->nsymbols));
	}
	if (i < 0) {
		i = -i - 1;
		struct sym_entry *e = &b->syms[i];
		memset(e->name, 0, sizeof(e->name));
		memcpy(e->name, name, len);
		e->hash = h;
		store_release(&e->state, 1); /* R4, pairs with A4 */
		fetch_add_relaxed(&b->sb->nsymbols, 1);
	}
	bus_unlock(b);
	return i + 1;
}

int shmbus_symbol_name(const shmbus_bus *b, uint32_t id, char *buf, size_t len)
{
	bus_err_clear();
	if (!b)
		return bus_err(-ENOENT, "symbol name: bus is NULL");
	if (id == 0 || id > b->max_symbols)
		return bus_err(-ENOENT, "bus '%s': symbol id %u is not in 1..%u", b->name, id,
			       b->max_symbols);
	const struct sym_entry *e = &b->syms[id - 1];
	if (load_acquire(&e->state) != 1) /* A4 */
		return bus_err(-ENOENT, "bus '%s': no symbol has id %u", b->name, id);
	/* The table is shared memory: a name read back must still be one the
	 * interning rules allow (tools write it into CSV and JSON). */
	size_t n = strnlen(e->name, sizeof(e->name));
	if (n == 0 || n > SHMBUS_SYMBOL_MAX)
		return bus_err(SHMBUS_ECORRUPT, "bus '%s': symbol %u: name %s", b->name, id,
			       n ? "not terminated" : "empty");
	size_t bad = symbol_bad_byte(e->name, n);
	if (bad < n)
		return bus_err(SHMBUS_ECORRUPT,
			       "bus '%s': symbol %u: byte %zu of its name is 0x%02x", b->name, id,
			       bad + 1, (unsigned char)e->name[bad]);
	if (!buf || len <= n)
		return bus_err(-ENOSPC, "bus '%s': symbol %u: name of %zu bytes, buffer of %zu",
			       b->name, id, n, buf ? len : 0);
	memcpy(buf, e->name, n);
	buf[n] = '\0';
	return (int)n;
}

/* Under the bus lock, from a locker that found the last holder dead: an
 * interner killed between marking its entry ready (R4) and counting it
 * left the count one short for the life of the bus. Entries are never
 * removed, so the count is the number of entries in use (as probe()
 * reads them: any non-zero state). */
void sym_recount_locked(struct shmbus_bus *b)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < b->max_symbols; i++)
		n += load_relaxed(&b->syms[i].state) != 0;
	store_relaxed(&b->sb->nsymbols, n);
}

uint32_t shmbus_symbol_count(const shmbus_bus *b)
{
	return b ? load_relaxed(&b->sb->nsymbols) : 0;
}
