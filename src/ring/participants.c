/*
 * participants.c - the participants table and liveness.
 *
 * Each attached handle owns one entry: filled under the bus lock, then
 * marked alive with release (R3) so that stat readers that acquire the
 * state (A3) see a complete entry. A process that dies leaves its entry
 * "alive" in the table; readers tell it apart by (pid, start time), and a
 * new participant takes it only when no free or departed entry is left.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "shmbus/clock.h"
#include "shmbus/error.h"
#include "shmbus/stat.h"
#include "bus_internal.h"

/* May a participant name hold byte c? The rule of ring and bus names,
 * [A-Za-z0-9._-]: names go into stat tables, JSON and Prometheus labels,
 * where a control byte, a quote or invalid UTF-8 forges or breaks output. */
static bool part_name_byte_ok(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || c == '.';
}

static int check_part_name(const char *name)
{
	size_t n = strlen(name);
	if (n > SHMBUS_PARTICIPANT_NAME_MAX)
		return bus_err(-EINVAL, "participant name '%.16s...' longer than %d bytes", name,
			       SHMBUS_PARTICIPANT_NAME_MAX);
	for (size_t i = 0; i < n; i++)
		if (!part_name_byte_ok((unsigned char)name[i]))
			return bus_err(-EINVAL,
				       "participant name '%.*s...': byte %zu (0x%02x) is not one of "
				       "[A-Za-z0-9._-]",
				       (int)i, name, i + 1, (unsigned char)name[i]);
	return 0;
}

/* The default name: the process name, which any process may set to
 * anything (prctl PR_SET_NAME), with each byte the rule refuses made '_'. */
static void self_comm(char *buf, size_t len)
{
	FILE *f = fopen("/proc/self/comm", "re");
	buf[0] = '\0';
	if (f) {
		if (fgets(buf, (int)len, f))
			buf[strcspn(buf, "\n")] = '\0';
		fclose(f);
	}
	for (char *c = buf; *c; c++)
		if (!part_name_byte_ok((unsigned char)*c))
			*c = '_';
	if (!buf[0])
		snprintf(buf, len, "pid%d", (int)getpid());
}

static uint64_t self_cpus(void)
{
	cpu_set_t set;
	uint64_t mask = 0;
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		for (int c = 0; c < 64; c++)
			if (CPU_ISSET(c, &set))
				mask |= UINT64_C(1) << c;
	return mask;
}

/* The entry a new participant takes, under the lock: a free one, else one
 * left cleanly, else the entry of the participant whose last heartbeat is
 * the oldest among the dead (the first to die, as near as the table
 * tells), so that a crash stays visible in shmbus-stat as long as the
 * table has room for the living. -1 when every entry's process lives. */
static int32_t part_pick_locked(struct shmbus_bus *b)
{
	int32_t gone = -1, dead = -1;
	int64_t dead_hb = 0;
	/* States first: a liveness check reads /proc, ~13 us each, under
	 * the lock; only a table with no free or departed entry needs them. */
	for (uint32_t i = 0; i < b->max_participants; i++) {
		uint32_t st = load_relaxed(&b->parts[i].state);
		if (st == SHMBUS_PART_FREE)
			return (int32_t)i;
		if (st != SHMBUS_PART_ALIVE && gone < 0)
			gone = (int32_t)i;
	}
	if (gone >= 0)
		return gone;
	for (uint32_t i = 0; i < b->max_participants; i++) {
		struct part_entry *p = &b->parts[i];
		if (proc_alive(p->pid, p->start_time))
			continue;
		int64_t hb = load_relaxed(&p->heartbeat_ns);
		if (dead < 0 || hb < dead_hb) {
			dead = (int32_t)i;
			dead_hb = hb;
		}
	}
	return dead;
}

int part_register(struct shmbus_bus *b, const char *name, enum shmbus_role role)
{
	char comm[32];
	int rc = name && *name ? check_part_name(name) : 0;
	if (rc)
		return rc;
	if ((unsigned)role > SHMBUS_ROLE_CREATOR)
		return bus_err(-EINVAL, "participant role %d unknown", (int)role);
	if (!name || !*name) {
		self_comm(comm, sizeof(comm));
		name = comm;
	}
	rc = bus_lock(b);
	if (rc)
		return rc;
	int32_t idx = part_pick_locked(b);
	if (idx < 0) {
		bus_unlock(b);
		return bus_err(-ENOSPC, "bus '%s': participants table full (%u entries)", b->name,
			       b->max_participants);
	}
	struct part_entry *p = &b->parts[idx];
	store_relaxed(&p->state, SHMBUS_PART_FREE);
	/* R17: a stat reader that reads the new count (A17) sees FREE too.
	 * W18: the count is visible to a stat reader that saw any write
	 * below (pairs with A18 in shmbus_stat_participant()). */
	store_release(&p->incarnation, load_relaxed(&p->incarnation) + 1);
	atomic_thread_fence(memory_order_release);
	p->pid = b->pid;
	p->start_time = b->start_time;
	p->role = role;
	p->attached_ns = shmbus_now_ns();
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->cpus = self_cpus();
	store_relaxed(&p->ctr_count, 0);
	store_relaxed(&p->heartbeat_ns, p->attached_ns);
	store_release(&p->state, SHMBUS_PART_ALIVE); /* R3, pairs with A3 in stat.c */
	bus_unlock(b);
	b->part_index = idx;
	return idx;
}

void part_unregister(struct shmbus_bus *b)
{
	if (b->part_index < 0 || b->pid != getpid())
		return; /* a forked child must not free its parent's entry */
	store_release(&b->parts[b->part_index].state, SHMBUS_PART_GONE);
	b->part_index = -1;
}

void shmbus_bus_heartbeat(shmbus_bus *b)
{
	/* Not from a forked child: the entry is its parent's, which may be
	 * dead, its entry even taken by another participant since. */
	if (b && !b->readonly && b->part_index >= 0 && b->forks == proc_forks())
		store_relaxed(&b->parts[b->part_index].heartbeat_ns, shmbus_now_ns());
}

int shmbus_bus_reap(shmbus_bus *b)
{
	if (!b)
		return -EINVAL;
	int orphaned = 0;
	for (uint32_t i = 0; i < b->max_rings; i++) {
		struct ring_desc *d = &b->rings[i];
		if (load_acquire(&d->state) == RING_STATE_ACTIVE && ring_orphan_if_dead(b, d))
			orphaned++;
	}
	int rc = bus_lock(b);
	if (rc)
		return rc;
	/* A dead participant's entry is left as it is: part_register() takes
	 * it when no other entry is left, and marked GONE it would read as a
	 * clean detach, so a crash would no longer show in shmbus-stat. */
	for (uint32_t i = 0; i < b->max_producers; i++) {
		struct prod_entry *e = &b->prods[i];
		if (load_relaxed(&e->state) && !prod_alive(e)) {
			prod_retire_begin(b);
			prod_retire_counts(b, e);
			store_release(&e->state, 0);
			prod_retire_end(b);
		}
	}
	bus_unlock(b);
	return orphaned;
}

int shmbus_bus_set_kept(shmbus_bus *b, int kept)
{
	if (!b || b->anonymous)
		return bus_err(-EINVAL, "set kept: %s", b ? "bus is anonymous" : "bus is NULL");
	if (b->readonly)
		return bus_err(-EROFS, "set kept: bus handle is read-only");
	store_relaxed(&b->sb->kept, kept ? 1u : 0u);
	return 0;
}

const char *shmbus_role_name(enum shmbus_role r)
{
	static const char *const names[] = {"client", "producer", "consumer",
					    "service", "tool", "creator"};
	return (unsigned)r < sizeof(names) / sizeof(names[0]) ? names[r] : "unknown";
}

/* The first byte of a counter name outside [a-z0-9_], or len. */
static size_t counter_name_bad_byte(const char *n, size_t len)
{
	size_t i = 0;
	while (i < len && ((n[i] >= 'a' && n[i] <= 'z') || (n[i] >= '0' && n[i] <= '9') ||
			   n[i] == '_'))
		i++;
	return i;
}

static int check_counter_name(const char *n)
{
	size_t len = n ? strlen(n) : 0;
	if (len == 0 || len > SHMBUS_COUNTER_NAME_MAX)
		return bus_err(-EINVAL, "counter name '%s' is not 1..%d bytes", n ? n : "(null)",
			       SHMBUS_COUNTER_NAME_MAX);
	size_t i = counter_name_bad_byte(n, len);
	if (i < len)
		return bus_err(-EINVAL, "counter name '%s': byte %zu is not [a-z0-9_]", n, i + 1);
	return 0;
}

int shmbus_counters_define(shmbus_bus *b, const char *const names[], unsigned n)
{
	bus_err_clear();
	if (!b || (n && !names))
		return bus_err(-EINVAL, "counters: bus or names is NULL");
	if (b->readonly || b->part_index < 0)
		return bus_err(-EROFS, "counters: bus '%s' is attached read-only", b->name);
	/* The counters are the participant's, its entry's: a forked child's
	 * would replace its parent's, or another participant's once the
	 * parent died and its entry was taken. */
	if (b->forks != proc_forks())
		return bus_err(-EPERM,
			       "counters: bus '%s': a forked child is not the participant its "
			       "parent (pid %d) is; open the bus to be one",
			       b->name, (int)b->pid);
	if (n > SHMBUS_MAX_COUNTERS)
		return bus_err(-EINVAL, "counters: %u names, at most %d", n, SHMBUS_MAX_COUNTERS);
	for (unsigned i = 0; i < n; i++) {
		int rc = check_counter_name(names[i]);
		if (rc)
			return rc;
		/* A name is a JSON key and a Prometheus label value: twice would
		 * make a duplicate key (one value lost) and a duplicate series. */
		for (unsigned j = 0; j < i; j++)
			if (strcmp(names[j], names[i]) == 0)
				return bus_err(-EINVAL, "counters: name '%s' given twice (%u and %u)",
					       names[i], j + 1, i + 1);
	}
	struct part_entry *p = &b->parts[b->part_index];
	struct ctr_entry *c = &b->ctrs[(size_t)b->part_index * CTR_SLOTS];
	store_release(&p->ctr_count, 0);
	for (unsigned i = 0; i < n; i++) {
		memset(c[i].name, 0, sizeof(c[i].name));
		memcpy(c[i].name, names[i], strlen(names[i]));
		store_relaxed(&c[i].value, 0);
	}
	store_release(&p->ctr_count, n); /* R7, pairs with A7 */
	return 0;
}

void shmbus_counter_set(shmbus_bus *b, unsigned index, uint64_t value)
{
	if (!b || b->readonly || b->part_index < 0 || index >= CTR_SLOTS ||
	    b->forks != proc_forks()) /* a forked child's: as for define */
		return;
	store_relaxed(&b->ctrs[(size_t)b->part_index * CTR_SLOTS + index].value, value);
}

int shmbus_stat_counters(const shmbus_bus *b, uint32_t index, struct shmbus_counter *out,
			 unsigned max)
{
	if (!b || (max && !out))
		return -EINVAL;
	if (index >= b->max_participants)
		return -ERANGE;
	struct part_entry *p = &b->parts[index];
	if (load_acquire(&p->state) == SHMBUS_PART_FREE)
		return -ENOENT;
	uint32_t n = load_acquire(&p->ctr_count); /* A7 */
	if (n > CTR_SLOTS)
		return bus_err(SHMBUS_ECORRUPT, "participant %u: %u counters", index, n);
	const struct ctr_entry *c = &b->ctrs[(size_t)index * CTR_SLOTS];
	for (uint32_t i = 0; i < n && i < max; i++) {
		size_t len = strnlen(c[i].name, sizeof(c[i].name));
		if (len > SHMBUS_COUNTER_NAME_MAX)
			len = SHMBUS_COUNTER_NAME_MAX;
		memcpy(out[i].name, c[i].name, len);
		out[i].name[len] = '\0';
		/* Shared memory: names go into JSON and Prometheus labels. */
		size_t bad = counter_name_bad_byte(out[i].name, len);
		if (len == 0 || bad < len)
			return bus_err(SHMBUS_ECORRUPT,
				       "participant %u: counter %u: name %s (byte %zu is 0x%02x)",
				       index, i, len ? "not [a-z0-9_]" : "empty", bad + 1,
				       (unsigned char)out[i].name[bad]);
		out[i].value = load_relaxed(&((struct ctr_entry *)c)[i].value);
	}
	return (int)n;
}
