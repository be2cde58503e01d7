/*
 * md_record.h - the neutral market-data record the collector's inputs (CSV
 * reader, synthetic generator) produce. It knows nothing of the bus: the
 * collector main turns records into shmbus_trade / shmbus_quote events,
 * interns the symbol and handles pacing.
 */
#ifndef SHMBUS_MD_RECORD_H
#define SHMBUS_MD_RECORD_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Longest symbol accepted, in bytes: the bus symbol table's limit
 * (SHMBUS_SYMBOL_MAX, asserted equal where the collector meets the bus). */
#define SHMBUS_MD_SYMBOL_MAX 23

enum shmbus_md_kind {
	SHMBUS_MD_TRADE = 1,
	SHMBUS_MD_QUOTE = 2,
};

struct shmbus_md_record {
	enum shmbus_md_kind kind;
	uint32_t symbol_len;  /* 1..SHMBUS_MD_SYMBOL_MAX */
	const char *symbol;   /* NOT NUL-terminated; valid until the next call
			       * on the producer (reader or generator) */
	int64_t time_ns;      /* event time, epoch nanoseconds (UTC) */
	uint64_t line;        /* input line (1 = header), 0 for synthetic */
	double price, size;   /* trades; 0 for quotes */
	double bid, bid_size; /* quotes; 0 for trades (0 price = side absent) */
	double ask, ask_size;
};

#ifdef __cplusplus
}
#endif
#endif /* SHMBUS_MD_RECORD_H */
