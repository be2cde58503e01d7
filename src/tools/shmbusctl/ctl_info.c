/*
 * ctl_info.c - `shmbusctl info BUS`: the static picture of one bus.
 *
 * Layout (sizes, maxima, arena use), each ring with its geometry and
 * subscription (types, symbol count, group), the participants and the
 * symbol count. Rates and live counters are shmbus-stat's job; this is
 * what an operator checks after `create` or when a service will not
 * attach. Read-only attach: never a participant, never a write. Names
 * come from the segment: the text form writes them as shmbus-stat does
 * (tool_text_name(): a damaged one's odd bytes as '?', never a terminal
 * control sequence), the JSON form escapes them.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "tool_json.h"

#define TOOL "shmbusctl"

static void types_text(uint64_t mask, char *buf, size_t len)
{
	buf[0] = '\0';
	if (!mask || (mask | 1) == UINT64_MAX) { /* 0 is stored as every bit */
		snprintf(buf, len, "all");
		return;
	}
	for (unsigned t = 0; t < SHMBUS_MAX_TYPES; t++) {
		if (!(mask & SHMBUS_TYPE_BIT(t)))
			continue;
		const char *n = shmbus_event_type_name(t);
		size_t used = strlen(buf);
		if (n)
			snprintf(buf + used, len - used, "%s%s", used ? "," : "", n);
		else
			snprintf(buf + used, len - used, "%s%u", used ? "," : "", t);
	}
}

static void ring_json(const struct shmbus_ring_stat *r, int first)
{
	char types[256];
	types_text(r->types, types, sizeof(types));
	printf("%s{\"index\":%u,\"name\":", first ? "" : ",", r->index);
	tool_json_str(stdout, r->name);
	printf(",\"state\":\"%s\",\"capacity\":%u,\"slot_size\":%u,\"policy\":\"%s\","
	       "\"wait\":\"%s\",\"types\":\"%s\",\"symbols\":%u,\"group\":",
	       shmbus_ring_state_name(r->state), r->capacity, r->slot_size,
	       shmbus_policy_name(r->policy), shmbus_wait_name(r->wait), types, r->nsymbols);
	tool_json_str(stdout, r->group);
	printf(",\"group_size\":%u,\"group_member\":%u,\"consumer_pid\":%d,"
	       "\"consumer_alive\":%s}",
	       r->group_size, r->group_member, r->consumer_pid,
	       r->consumer_alive ? "true" : "false");
}

/* Room for any name the bus holds, as text (tool_text_name()). */
#define NAME_LEN 64
_Static_assert(SHMBUS_NAME_MAX < NAME_LEN && SHMBUS_PARTICIPANT_NAME_MAX < NAME_LEN,
	       "NAME_LEN holds every name");

static void ring_text(const struct shmbus_ring_stat *r)
{
	char types[256], group[96] = "-", name[NAME_LEN];
	types_text(r->types, types, sizeof(types));
	if (r->group[0])
		snprintf(group, sizeof(group), "%s[%u/%u]",
		         tool_text_name(r->group, name, sizeof(name)), r->group_member,
		         r->group_size);
	char syms[16];
	snprintf(syms, sizeof(syms), "%u", r->nsymbols);
	printf("  %-3u %-20s %-9s %9u %5u %-5s %-8s %7d  %-16s %-8s %s\n", r->index,
	       tool_text_name(r->name, name, sizeof(name)),
	       shmbus_ring_state_name(r->state), r->capacity, r->slot_size,
	       shmbus_policy_name(r->policy), shmbus_wait_name(r->wait), r->consumer_pid, group,
	       r->nsymbols ? syms : "all", types);
}

static int rings(const shmbus_bus *bus, const struct shmbus_bus_info *bi, int json)
{
	int first = 1;
	if (!json)
		printf("rings:\n  %-3s %-20s %-9s %9s %5s %-5s %-8s %7s  %-16s %-8s %s\n", "#",
		       "NAME", "STATE", "CAPACITY", "SLOT", "FULL", "WAIT", "CONSUMR", "GROUP",
		       "SYMBOLS", "TYPES");
	for (uint32_t i = 0; i < bi->max_rings; i++) {
		struct shmbus_ring_stat r;
		int rc = shmbus_stat_ring(bus, i, &r);
		if (rc == -ENOENT)
			continue;
		if (rc)
			return rc;
		if (json)
			ring_json(&r, first);
		else
			ring_text(&r);
		first = 0;
	}
	return 0;
}

static int participants(const shmbus_bus *bus, const struct shmbus_bus_info *bi, int json)
{
	int first = 1;
	if (!json)
		printf("participants:\n  %-3s %-20s %-9s %8s %-6s %s\n", "#", "NAME", "ROLE", "PID",
		       "STATE", "CPUS");
	for (uint32_t i = 0; i < bi->max_participants; i++) {
		struct shmbus_participant_stat p;
		int rc = shmbus_stat_participant(bus, i, &p);
		if (rc == -ENOENT)
			continue;
		if (rc)
			return rc;
		const char *st = p.alive ? "alive" : p.state == SHMBUS_PART_GONE ? "gone" : "dead";
		if (json) {
			printf("%s{\"index\":%u,\"name\":", first ? "" : ",", p.index);
			tool_json_str(stdout, p.name);
			printf(",\"role\":\"%s\",\"pid\":%d,\"state\":\"%s\",\"cpus\":%llu}",
			       shmbus_role_name(p.role), p.pid, st, (unsigned long long)p.cpus);
		} else {
			char name[NAME_LEN];
			printf("  %-3u %-20s %-9s %8d %-6s 0x%llx\n", p.index,
			       tool_text_name(p.name, name, sizeof(name)),
			       shmbus_role_name(p.role), p.pid, st, (unsigned long long)p.cpus);
		}
		first = 0;
	}
	return 0;
}

static void layout(const struct shmbus_bus_info *bi, int json)
{
	if (json) {
		printf("{\"name\":");
		tool_json_str(stdout, bi->name);
		printf(",\"backing\":\"%s\",\"abi_version\":%u,\"layout_hash\":\"%016llx\","
		       "\"total_bytes\":%llu,\"arena_bytes\":%llu,\"arena_used\":%llu,"
		       "\"max_rings\":%u,\"max_participants\":%u,\"max_producers\":%u,"
		       "\"max_symbols\":%u,\"symbols\":%u,\"route_generation\":%llu,"
		       "\"creator_pid\":%d,\"created_ns\":%lld,\"kept\":%s",
		       shmbus_backing_name(bi->backing), bi->abi_version,
		       (unsigned long long)bi->layout_hash, (unsigned long long)bi->total_bytes,
		       (unsigned long long)bi->arena_bytes, (unsigned long long)bi->arena_used,
		       bi->max_rings, bi->max_participants, bi->max_producers, bi->max_symbols,
		       bi->symbols, (unsigned long long)bi->route_generation, bi->creator_pid,
		       (long long)bi->created_ns, bi->kept ? "true" : "false");
		return;
	}
	char name[NAME_LEN];
	printf("bus %s: %s, %llu bytes, ABI %u, layout %016llx, creator pid %d%s\n",
	       tool_text_name(bi->name, name, sizeof(name)),
	       shmbus_backing_name(bi->backing), (unsigned long long)bi->total_bytes,
	       bi->abi_version, (unsigned long long)bi->layout_hash, bi->creator_pid,
	       bi->kept ? ", kept" : "");
	printf("arena: %llu of %llu bytes used; max rings %u, participants %u, producers %u\n",
	       (unsigned long long)bi->arena_used, (unsigned long long)bi->arena_bytes,
	       bi->max_rings, bi->max_participants, bi->max_producers);
	printf("symbols: %u of %u; routing generation %llu\n", bi->symbols, bi->max_symbols,
	       (unsigned long long)bi->route_generation);
}

int ctl_info(const struct ctl_opts *o, const char *name)
{
	shmbus_bus *bus;
	char what[128];
	snprintf(what, sizeof(what), "open bus '%s'", name);
	int rc = shmbus_bus_open_readonly(name, &bus);
	if (rc)
		return tool_fail(TOOL, what, rc);
	struct shmbus_bus_info bi;
	rc = shmbus_stat_bus(bus, &bi);
	if (rc == 0) {
		layout(&bi, o->json);
		if (o->json)
			printf(",\"rings\":[");
		rc = rings(bus, &bi, o->json);
		if (o->json)
			printf("],\"participants\":[");
		if (rc == 0)
			rc = participants(bus, &bi, o->json);
		if (o->json)
			printf("]}\n");
	}
	shmbus_bus_close(bus);
	if (rc) {
		fflush(stdout);
		snprintf(what, sizeof(what), "read bus '%s'", name);
		return tool_fail(TOOL, what, rc);
	}
	return CTL_OK;
}
