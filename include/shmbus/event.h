/*
 * shmbus/event.h - fixed-layout events carried by the bus.
 *
 * Every event starts with struct shmbus_event_header. Layouts are
 * little-endian, naturally aligned, and frozen by _Static_assert: a change
 * to any of them is a new layout version (and changes the layout hash the
 * bus superblock and journal headers carry). The ring code never looks past
 * the header: new types only need a new struct here and a new type id.
 *
 * Sizes: a ring slot carries 8 bytes of ring metadata, so an event fits a
 * 64-byte slot when it is at most 56 bytes (trades do; quote, bar,
 * indicator, threshold, failure and heartbeat events need 128-byte slots).
 * An event too big for a ring's slot is not delivered to that ring: it is
 * counted in the ring's too_big (shmbus_ring_stat).
 *
 * Derived events (bar, indicator, threshold) carry origin_ns, the publish
 * time of the market event that started their chain, so any stage can
 * measure end-to-end latency without a side channel.
 */
#ifndef SHMBUS_EVENT_H
#define SHMBUS_EVENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Event type ids. 0 is invalid; ids must stay below SHMBUS_MAX_TYPES so a
 * subscription's type filter is one 64-bit mask. */
enum shmbus_event_type {
	SHMBUS_EV_INVALID = 0,
	SHMBUS_EV_TRADE = 1,
	SHMBUS_EV_QUOTE = 2,
	SHMBUS_EV_BAR = 3,
	SHMBUS_EV_INDICATOR = 4,
	SHMBUS_EV_THRESHOLD = 5,
	SHMBUS_EV_COLLECTION_FAILED = 6,
	SHMBUS_EV_HEARTBEAT = 7,
	SHMBUS_EV_USER = 32, /* first id free for applications */
};
#define SHMBUS_MAX_TYPES 64
#define SHMBUS_TYPE_BIT(t) (UINT64_C(1) << (t))

/* Header flags. */
#define SHMBUS_EVF_REPLAYED 0x01u  /* republished from a journal */
#define SHMBUS_EVF_SYNTHETIC 0x02u /* produced by a generator, not a feed */
/* More events of this source, symbol and event time follow at once (a
 * bar's indicators after it, all but the last): a consumer that compares
 * values across them evaluates at the last one, never on a mix of this
 * group's values and the previous group's. */
#define SHMBUS_EVF_MORE 0x04u

/* Largest event a ring can carry (256-byte slot minus slot metadata). */
#define SHMBUS_EVENT_MAX 248u

/* Common header, 40 bytes. Identity of an event is (source_id, seq). */
struct shmbus_event_header {
	uint16_t type;           /* enum shmbus_event_type */
	uint8_t version;         /* layout version of this type */
	uint8_t flags;           /* SHMBUS_EVF_* */
	uint16_t size;           /* total bytes, header included */
	uint16_t reserved;       /* zero */
	uint32_t source_id;      /* publishing source (collector, service) */
	uint32_t symbol_id;      /* id from the bus symbol table; 0 = none */
	uint64_t seq;            /* per-source sequence, starts at 1 */
	int64_t event_time_ns;   /* when it happened (epoch ns) */
	int64_t publish_time_ns; /* when it entered the bus (epoch ns) */
};

struct shmbus_trade {
	struct shmbus_event_header h;
	double price;
	double size; /* fractional for crypto */
};

struct shmbus_quote {
	struct shmbus_event_header h;
	double bid;
	double bid_size;
	double ask;
	double ask_size;
};

struct shmbus_bar {
	struct shmbus_event_header h; /* event_time_ns = bar close (end) */
	int64_t start_ns;             /* bar open time (inclusive) */
	uint32_t interval_ms;         /* bar length */
	uint32_t trade_count;
	double open;
	double high;
	double low;
	double close;
	double volume;
	int64_t origin_ns; /* publish time of the input that closed the bar */
};

/* Indicator kinds; up to three outputs per kind (see value[]). */
enum shmbus_indicator_kind {
	SHMBUS_IND_SMA = 1,       /* value[0] */
	SHMBUS_IND_EMA = 2,       /* value[0] */
	SHMBUS_IND_RSI = 3,       /* value[0] in [0,100] */
	SHMBUS_IND_MACD = 4,      /* value[0]=macd, [1]=signal, [2]=histogram */
	SHMBUS_IND_VWAP = 5,      /* value[0] */
	SHMBUS_IND_BOLLINGER = 6, /* value[0]=middle, [1]=upper, [2]=lower */
};

struct shmbus_indicator {
	struct shmbus_event_header h; /* event_time_ns = bar close */
	uint16_t kind;                /* enum shmbus_indicator_kind */
	uint16_t param[3];            /* e.g. MACD 12,26,9; Bollinger 20,2 */
	double value[3];
	int64_t origin_ns; /* publish time of the input behind this value */
};

enum shmbus_threshold_direction {
	SHMBUS_CROSS_ABOVE = 1,
	SHMBUS_CROSS_BELOW = 2,
	SHMBUS_SIGN_CHANGE = 3,
	SHMBUS_LEVEL_ENTER = 4,
};

struct shmbus_threshold {
	struct shmbus_event_header h;
	uint32_t rule_id;
	uint16_t direction; /* enum shmbus_threshold_direction */
	uint16_t trigger_type;
	double value;      /* observed value */
	double threshold;  /* level or compared value */
	uint32_t trigger_source; /* identity of the triggering event */
	uint32_t reserved;
	uint64_t trigger_seq;
	int64_t origin_ns; /* publish time of the market event at the chain's
			      start: end-to-end latency = publish - origin */
};

struct shmbus_collection_failed {
	struct shmbus_event_header h;
	int32_t error;  /* negative errno-style code */
	uint32_t line;  /* input line, 0 when not applicable */
	char reason[48]; /* NUL-terminated, truncated */
};

struct shmbus_heartbeat {
	struct shmbus_event_header h;
	uint32_t pid;
	uint32_t status; /* 0 = ok; service-defined otherwise */
	uint64_t events_in;
	uint64_t events_out;
};

/* Layout version of every type above. */
#define SHMBUS_EVENT_LAYOUT_VERSION 1

/* C11 and C++ spell a compile-time assertion differently; the header is
 * for both (the extern "C" block above). */
#ifdef __cplusplus
#define SHMBUS__STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define SHMBUS__STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif
#define SHMBUS__ASSERT_SIZE(t, n) SHMBUS__STATIC_ASSERT(sizeof(t) == (n), #t " size")
SHMBUS__ASSERT_SIZE(struct shmbus_event_header, 40);
SHMBUS__STATIC_ASSERT(offsetof(struct shmbus_event_header, size) == 4, "hdr size");
SHMBUS__STATIC_ASSERT(offsetof(struct shmbus_event_header, source_id) == 8, "hdr src");
SHMBUS__STATIC_ASSERT(offsetof(struct shmbus_event_header, symbol_id) == 12, "hdr sym");
SHMBUS__STATIC_ASSERT(offsetof(struct shmbus_event_header, seq) == 16, "hdr seq");
SHMBUS__STATIC_ASSERT(offsetof(struct shmbus_event_header, event_time_ns) == 24, "hdr et");
SHMBUS__STATIC_ASSERT(offsetof(struct shmbus_event_header, publish_time_ns) == 32, "hdr pt");
SHMBUS__ASSERT_SIZE(struct shmbus_trade, 56); /* + 8 slot bytes = 64 */
SHMBUS__ASSERT_SIZE(struct shmbus_quote, 72);
SHMBUS__ASSERT_SIZE(struct shmbus_bar, 104);
SHMBUS__ASSERT_SIZE(struct shmbus_indicator, 80);
SHMBUS__ASSERT_SIZE(struct shmbus_threshold, 88);
SHMBUS__ASSERT_SIZE(struct shmbus_collection_failed, 96);
SHMBUS__ASSERT_SIZE(struct shmbus_heartbeat, 64);
SHMBUS__STATIC_ASSERT(offsetof(struct shmbus_indicator, value) == 48, "ind value");
SHMBUS__STATIC_ASSERT(offsetof(struct shmbus_threshold, trigger_seq) == 72, "thr seq");
SHMBUS__STATIC_ASSERT(offsetof(struct shmbus_bar, open) == 56, "bar open");
SHMBUS__STATIC_ASSERT(offsetof(struct shmbus_bar, origin_ns) == 96, "bar origin");
SHMBUS__STATIC_ASSERT(offsetof(struct shmbus_indicator, origin_ns) == 72, "ind origin");
SHMBUS__STATIC_ASSERT(offsetof(struct shmbus_threshold, origin_ns) == 80, "thr origin");

/* A hash of every layout above; stored in bus superblocks and journal
 * headers so readers refuse data written with other layouts. */
uint64_t shmbus_event_layout_hash(void);

/* Name of a type ("trade", ...), or NULL for an unknown id. */
const char *shmbus_event_type_name(unsigned type);
/* Type id for a name, or a negative error code (-EINVAL). */
int shmbus_event_type_from_name(const char *name);
/* Expected size of a known type, or 0 for an unknown/user type. */
size_t shmbus_event_type_size(unsigned type);
/* Name of an indicator kind ("sma", ...), or NULL. */
const char *shmbus_indicator_name(unsigned kind);

#ifdef __cplusplus
}
#endif
#endif /* SHMBUS_EVENT_H */
