/*
 * stat_out.c - the live screen and the JSON document of shmbus-stat.
 *
 * The screen is plain text redrawn from the top (ANSI home + clear), one
 * row per ring and per participant, like top or AeronStat: it works in
 * any terminal, under tmux and over ssh, with no curses dependency. JSON
 * carries the same numbers plus every raw counter, keyed by name, for
 * scripts; rates are null until a second snapshot exists.
 */
#include <inttypes.h>
#include <string.h>

#include "stat_tool.h"
#include "tool_json.h"

static void human_ns(int64_t ns, char *buf, size_t len)
{
	if (ns <= 0)
		snprintf(buf, len, "-");
	else if (ns < 1000000)
		snprintf(buf, len, "%.1fus", (double)ns / 1e3);
	else if (ns < 1000000000)
		snprintf(buf, len, "%.1fms", (double)ns / 1e6);
	else
		snprintf(buf, len, "%.1fs", (double)ns / 1e9);
}

static void cpus_text(uint64_t mask, char *buf, size_t len)
{
	buf[0] = '\0';
	for (int c = 0; c < 64; c++) {
		if (!(mask & (UINT64_C(1) << c)))
			continue;
		int e = c;
		while (e + 1 < 64 && (mask & (UINT64_C(1) << (e + 1))))
			e++;
		size_t u = strlen(buf);
		if (e > c)
			snprintf(buf + u, len - u, "%s%d-%d", u ? "," : "", c, e);
		else
			snprintf(buf + u, len - u, "%s%d", u ? "," : "", c);
		c = e;
	}
	if (!buf[0])
		snprintf(buf, len, "-");
}

static const char *part_state(const struct shmbus_participant_stat *p)
{
	return p->alive ? "alive" : p->state == SHMBUS_PART_GONE ? "gone" : "dead";
}

/* Room for any name the bus holds (bus, ring, participant, counter), as
 * screen text: tool_text_name() makes a byte outside printable ASCII (a
 * damaged segment) a '?', never a terminal control sequence. The JSON
 * and Prometheus forms escape such bytes instead. */
#define SCREEN_NAME_LEN 64
_Static_assert(SHMBUS_NAME_MAX < SCREEN_NAME_LEN && SHMBUS_PARTICIPANT_NAME_MAX < SCREEN_NAME_LEN &&
		       SHMBUS_COUNTER_NAME_MAX < SCREEN_NAME_LEN,
	       "tool_text_name() buffers hold every name");

static void screen_rings(FILE *f, const struct stat_snap *s)
{
	fprintf(f, "%-16s %-8s %5s %7s %9s %8s %11s %8s %10s %8s %8s %9s %-5s\n", "RING", "STATE",
	        "PRODS", "CONSUMR", "CAPACITY", "DEPTH", "EVENTS/S", "MB/S", "DELIVERED", "DROPS", "SKIPPED",
	        "LAG", "WAIT");
	for (size_t i = 0; i < s->nrings; i++) {
		const struct stat_ring *r = &s->rings[i];
		char lag[16], name[SCREEN_NAME_LEN];
		human_ns(r->lag_ns, lag, sizeof(lag));
		fprintf(f,
		        "%-16.16s %-8s %5u %7d %9u %8" PRIu64 " %11.0f %8.2f %10" PRIu64 " %8" PRIu64
		        " %8" PRIu64 " %9s %-5s\n",
		        tool_text_name(r->s.name, name, sizeof(name)),
		        shmbus_ring_state_name(r->s.state), r->s.producers,
		        r->s.consumer_pid, r->s.capacity, r->s.depth, r->events_per_s, r->mb_per_s, r->s.delivered,
		        r->s.dropped, r->s.skipped, lag,
		        r->s.head_stuck_pid ? "stuck" : r->s.consumer_sleeping ? "sleep" : "run");
	}
}

static void screen_parts(FILE *f, const struct stat_snap *s)
{
	fprintf(f, "\n%-20s %8s %-9s %-12s %-6s %10s\n", "PARTICIPANT", "PID", "ROLE", "CPUS",
	        "STATE", "HEARTBEAT");
	for (size_t i = 0; i < s->nparts; i++) {
		const struct shmbus_participant_stat *p = &s->parts[i];
		char cpus[64], hb[16], name[SCREEN_NAME_LEN];
		cpus_text(p->cpus, cpus, sizeof(cpus));
		int64_t age = stat_heartbeat_age(s, p);
		if (age == 0) /* just now: "-" says never */
			snprintf(hb, sizeof(hb), "0.0us");
		else
			human_ns(age, hb, sizeof(hb));
		fprintf(f, "%-20.20s %8d %-9s %-12.12s %-6s %10s\n",
		        tool_text_name(p->name, name, sizeof(name)), p->pid,
		        shmbus_role_name(p->role), cpus, part_state(p), hb);
	}
}

/* Named counters (journaller, bridge ...): one line per participant. */
static void screen_counters(FILE *f, const struct stat_snap *s)
{
	bool header = false;
	char name[SCREEN_NAME_LEN];
	for (size_t i = 0; i < s->nparts; i++) {
		if (!s->ncounters[i])
			continue;
		if (!header)
			fprintf(f, "\nCOUNTERS\n");
		header = true;
		fprintf(f, "%-20.20s", tool_text_name(s->parts[i].name, name, sizeof(name)));
		for (unsigned k = 0; k < s->ncounters[i]; k++)
			fprintf(f, " %s=%" PRIu64,
			        tool_text_name(s->counters[i][k].name, name, sizeof(name)),
			        s->counters[i][k].value);
		fputc('\n', f);
	}
}

void stat_print_screen(FILE *f, const struct stat_snap *s, bool clear)
{
	char name[SCREEN_NAME_LEN], dead[32] = "";
	size_t ndead = 0;
	for (size_t i = 0; i < s->nprods; i++)
		ndead += !s->prods[i].alive;
	if (ndead) /* entries in use, but not live producers: apart */
		snprintf(dead, sizeof(dead), " (+%zu dead)", ndead);
	if (clear)
		fputs("\033[H\033[2J", f);
	fprintf(f,
	        "shmbus-stat  bus %s  %s  %.1f MiB (arena %.1f/%.1f MiB)  symbols %u/%u  "
	        "rings %zu/%u  participants %zu/%u  producers %zu/%u%s  published %" PRIu64
	        "  unrouted %" PRIu64 "\n\n",
	        tool_text_name(s->bus.name, name, sizeof(name)), shmbus_backing_name(s->bus.backing),
	        (double)s->bus.total_bytes / 1048576, (double)s->bus.arena_used / 1048576,
	        (double)s->bus.arena_bytes / 1048576, s->bus.symbols, s->bus.max_symbols,
	        s->nrings, s->bus.max_rings, s->nparts, s->bus.max_participants,
	        s->nprods - ndead, s->bus.max_producers, dead, s->published, s->unrouted);
	screen_rings(f, s);
	screen_parts(f, s);
	screen_counters(f, s);
	fflush(f);
}

static void json_ring(FILE *f, const struct stat_snap *s, const struct stat_ring *r)
{
	const struct shmbus_ring_stat *x = &r->s;
	fprintf(f, "{\"index\":%u,\"name\":", x->index);
	tool_json_str(f, x->name);
	fprintf(f,
	        ",\"state\":\"%s\",\"capacity\":%u,\"slot_size\":%u,\"policy\":\"%s\","
	        "\"wait\":\"%s\",\"producers\":%u,\"consumer_pid\":%d,\"consumer_alive\":%s,"
	        "\"consumer_sleeping\":%s,\"depth\":%" PRIu64 ",\"claimed\":%" PRIu64
	        ",\"consumed\":%" PRIu64 ",\"delivered\":%" PRIu64 ",\"dropped\":%" PRIu64
	        ",\"skipped\":%" PRIu64 ",\"malformed\":%" PRIu64 ",\"routed_around\":%" PRIu64
	        ",\"too_big\":%" PRIu64
	        ",\"producer_waits\":%" PRIu64 ",\"wakeups\":%" PRIu64 ",\"lag_ns\":%" PRId64
	        ",\"head_stuck_pid\":%d",
	        shmbus_ring_state_name(x->state), x->capacity, x->slot_size,
	        shmbus_policy_name(x->policy), shmbus_wait_name(x->wait), x->producers,
	        x->consumer_pid,
	        x->consumer_alive ? "true" : "false", x->consumer_sleeping ? "true" : "false",
	        x->depth, x->claimed, x->consumed, x->delivered, x->dropped, x->skipped,
	        x->malformed, x->routed_around, x->too_big, x->producer_waits, x->wakeups, r->lag_ns,
	        x->head_stuck_pid);
	if (s->has_rates)
		fprintf(f, ",\"events_per_s\":%.3f,\"mb_per_s\":%.6f}", r->events_per_s,
		        r->mb_per_s);
	else
		fprintf(f, ",\"events_per_s\":null,\"mb_per_s\":null}");
}

static void json_part(FILE *f, const struct stat_snap *s, size_t i)
{
	const struct shmbus_participant_stat *p = &s->parts[i];
	fprintf(f, "{\"index\":%u,\"name\":", p->index);
	tool_json_str(f, p->name);
	fprintf(f,
	        ",\"pid\":%d,\"role\":\"%s\",\"state\":\"%s\",\"alive\":%s,\"cpus\":%" PRIu64
	        ",\"heartbeat_age_ns\":%" PRId64 ",\"counters\":{",
	        p->pid, shmbus_role_name(p->role), part_state(p), p->alive ? "true" : "false",
	        p->cpus, stat_heartbeat_age(s, p));
	for (unsigned k = 0; k < s->ncounters[i]; k++) {
		fputs(k ? "," : "", f);
		tool_json_str(f, s->counters[i][k].name);
		fprintf(f, ":%" PRIu64, s->counters[i][k].value);
	}
	fputs("}}", f);
}

void stat_print_json(FILE *f, const struct stat_snap *s)
{
	fprintf(f, "{\"time_ns\":%" PRId64 ",\"up\":true,\"bus\":{\"name\":", s->now_ns);
	tool_json_str(f, s->bus.name);
	fprintf(f,
	        ",\"backing\":\"%s\",\"total_bytes\":%" PRIu64 ",\"arena_bytes\":%" PRIu64
	        ",\"arena_used\":%" PRIu64 ",\"symbols\":%u,\"max_symbols\":%u,\"max_rings\":%u"
	        ",\"max_participants\":%u,\"max_producers\":%u,\"creator_pid\":%d},\"rings\":[",
	        shmbus_backing_name(s->bus.backing), s->bus.total_bytes, s->bus.arena_bytes,
	        s->bus.arena_used, s->bus.symbols, s->bus.max_symbols, s->bus.max_rings,
	        s->bus.max_participants, s->bus.max_producers, s->bus.creator_pid);
	for (size_t i = 0; i < s->nrings; i++) {
		fputs(i ? "," : "", f);
		json_ring(f, s, &s->rings[i]);
	}
	fputs("],\"participants\":[", f);
	for (size_t i = 0; i < s->nparts; i++) {
		fputs(i ? "," : "", f);
		json_part(f, s, i);
	}
	fputs("],\"producers\":[", f);
	for (size_t i = 0; i < s->nprods; i++) {
		const struct shmbus_producer_stat *p = &s->prods[i];
		fprintf(f,
		        "%s{\"index\":%u,\"pid\":%d,\"alive\":%s,\"source_id\":%u,"
		        "\"published\":%" PRIu64
		        ",\"delivered\":%" PRIu64 ",\"dropped\":%" PRIu64
		        ",\"routed_around\":%" PRIu64 ",\"unrouted\":%" PRIu64
		        ",\"last_seq\":%" PRIu64 "}",
		        i ? "," : "", p->index, p->pid, p->alive ? "true" : "false", p->source_id,
		        p->published, p->delivered,
		        p->dropped, p->routed_around, p->unrouted, p->last_seq);
	}
	fputs("]}\n", f);
	fflush(f);
}

void stat_print_down(FILE *f, const char *bus, const char *why, bool json, bool clear)
{
	if (json) {
		fprintf(f, "{\"time_ns\":%" PRId64 ",\"up\":false,\"bus\":{\"name\":",
		        shmbus_now_ns());
		tool_json_str(f, bus);
		fputs("},\"reason\":", f);
		tool_json_str(f, why);
		fputs("}\n", f);
	} else {
		if (clear)
			fputs("\033[H\033[2J", f);
		fprintf(f, "shmbus-stat  bus %s  DOWN: %s\n", bus, why);
	}
	fflush(f);
}
