/*
 * shmbus/symbol.h - the bus's symbol table (a small security master).
 *
 * Symbols ("SPY", "BTC-USDT") are interned once into the bus and referred
 * to by small ids (1 .. max_symbols) in every event. Ids are not dense (the
 * first symbol may get id 780): index arrays by id with max_symbols + 1
 * entries, or map them. Ids never change while the bus exists: intern once
 * at start, not per event. Lookups are lock-free; interning takes the
 * bus's cold-path lock.
 */
#ifndef SHMBUS_SYMBOL_H
#define SHMBUS_SYMBOL_H

#include <stddef.h>
#include <stdint.h>

#include "bus.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SHMBUS_SYMBOL_MAX 23 /* bytes in a symbol name */

/*
 * Intern `name` (len bytes, no NUL needed; 1..SHMBUS_SYMBOL_MAX, printable
 * ASCII without spaces or commas) and return its id (>= 1), the existing
 * id when it is already there. Errors: -EINVAL (bad name), -ENOSPC (table
 * full), -EROFS (read-only handle). Thread-safe; any process.
 */
int64_t shmbus_symbol_intern(shmbus_bus *bus, const char *name, size_t len);

/* Id of `name`, or -ENOENT. Lock-free; read-only handles too. */
int64_t shmbus_symbol_lookup(const shmbus_bus *bus, const char *name, size_t len);

/* Copy the name of symbol `id` into buf (NUL-terminated). Returns its
 * length, -ENOENT (no such id) or -ENOSPC (buf too small). */
int shmbus_symbol_name(const shmbus_bus *bus, uint32_t id, char *buf, size_t len);

/* Number of interned symbols. */
uint32_t shmbus_symbol_count(const shmbus_bus *bus);

#ifdef __cplusplus
}
#endif
#endif
