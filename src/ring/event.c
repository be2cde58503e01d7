/*
 * event.c - names, sizes and the layout hash of the event types.
 *
 * The layout hash folds every size and field offset of event.h, so a
 * reader built from other sources (a journal from last year, a process of
 * another build) is refused instead of misreading bytes.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "shmbus/event.h"
#include "bus_internal.h"

static const struct {
	const char *name;
	size_t size;
} event_types[] = {
	[SHMBUS_EV_TRADE] = {"trade", sizeof(struct shmbus_trade)},
	[SHMBUS_EV_QUOTE] = {"quote", sizeof(struct shmbus_quote)},
	[SHMBUS_EV_BAR] = {"bar", sizeof(struct shmbus_bar)},
	[SHMBUS_EV_INDICATOR] = {"indicator", sizeof(struct shmbus_indicator)},
	[SHMBUS_EV_THRESHOLD] = {"threshold", sizeof(struct shmbus_threshold)},
	[SHMBUS_EV_COLLECTION_FAILED] = {"collection_failed",
					 sizeof(struct shmbus_collection_failed)},
	[SHMBUS_EV_HEARTBEAT] = {"heartbeat", sizeof(struct shmbus_heartbeat)},
};
#define NTYPES (sizeof(event_types) / sizeof(event_types[0]))

const char *shmbus_event_type_name(unsigned type)
{
	return type < NTYPES ? event_types[type].name : NULL;
}

int shmbus_event_type_from_name(const char *name)
{
	if (!name)
		return -EINVAL;
	for (unsigned t = 1; t < NTYPES; t++)
		if (event_types[t].name && strcmp(event_types[t].name, name) == 0)
			return (int)t;
	return -EINVAL;
}

size_t shmbus_event_type_size(unsigned type)
{
	return type < NTYPES ? event_types[type].size : 0;
}

const char *shmbus_indicator_name(unsigned kind)
{
	static const char *const names[] = {
		[SHMBUS_IND_SMA] = "sma",   [SHMBUS_IND_EMA] = "ema",
		[SHMBUS_IND_RSI] = "rsi",   [SHMBUS_IND_MACD] = "macd",
		[SHMBUS_IND_VWAP] = "vwap", [SHMBUS_IND_BOLLINGER] = "bollinger",
	};
	return kind < sizeof(names) / sizeof(names[0]) ? names[kind] : NULL;
}

uint64_t shmbus_event_layout_hash(void)
{
#define F(t, m) offsetof(t, m)
	static const uint64_t facts[] = {
		SHMBUS_EVENT_LAYOUT_VERSION,
		sizeof(struct shmbus_event_header),
		F(struct shmbus_event_header, type), F(struct shmbus_event_header, version),
		F(struct shmbus_event_header, flags), F(struct shmbus_event_header, size),
		F(struct shmbus_event_header, source_id), F(struct shmbus_event_header, symbol_id),
		F(struct shmbus_event_header, seq), F(struct shmbus_event_header, event_time_ns),
		F(struct shmbus_event_header, publish_time_ns),
		sizeof(struct shmbus_trade), F(struct shmbus_trade, price), F(struct shmbus_trade, size),
		sizeof(struct shmbus_quote), F(struct shmbus_quote, bid), F(struct shmbus_quote, ask_size),
		sizeof(struct shmbus_bar), F(struct shmbus_bar, start_ns), F(struct shmbus_bar, open),
		F(struct shmbus_bar, volume), F(struct shmbus_bar, origin_ns),
		sizeof(struct shmbus_indicator), F(struct shmbus_indicator, kind),
		F(struct shmbus_indicator, value), F(struct shmbus_indicator, origin_ns),
		sizeof(struct shmbus_threshold), F(struct shmbus_threshold, rule_id),
		F(struct shmbus_threshold, value), F(struct shmbus_threshold, trigger_seq),
		F(struct shmbus_threshold, origin_ns),
		sizeof(struct shmbus_collection_failed), F(struct shmbus_collection_failed, reason),
		sizeof(struct shmbus_heartbeat), F(struct shmbus_heartbeat, events_out),
	};
#undef F
	return fnv1a64(FNV64_INIT, facts, sizeof(facts));
}
