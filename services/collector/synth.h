/*
 * synth.h - synthetic market generator, the collector's default input.
 *
 * Model: each symbol's mid price follows a geometric random walk; event
 * times form a Poisson process whose intensity is the sum of per-symbol
 * intensities. Every symbol switches at random into "bursts" (a Poisson
 * process of burst starts, exponential durations) during which its activity
 * is multiplied by burst_intensity and its volatility and spread by
 * burst_vol. Each event is a trade (at the bid or the ask, random side) or
 * a two-sided quote, prices on a tick grid (0.01, or 0.0001 below 1.0).
 *
 * Output is a pure function of the options: the same seed gives the same
 * records, bit for bit, on the same build. Event times are synthetic (they
 * start at start_ns and advance by the model), so a replay is paced by the
 * caller like any input. A generator is not thread-safe.
 */
#ifndef SHMBUS_SYNTH_H
#define SHMBUS_SYNTH_H

#include <stddef.h>
#include <stdint.h>

#include "md_record.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SHMBUS_SYNTH_MAX_SYMBOLS 1024
/* Bounds of rate, events/s. Below the minimum the generator would step
 * through ~1e9 burst toggles per event and times would run past year 2262
 * (int64 ns); the clock saturates at INT64_MAX anyway, never wraps. */
#define SHMBUS_SYNTH_MIN_RATE 0.001
#define SHMBUS_SYNTH_MAX_RATE 1e9
/* Default first event time: 2024-01-02T14:30:00Z. */
#define SHMBUS_SYNTH_DEFAULT_START_NS INT64_C(1704205800000000000)

/* Every field's 0 means "the default" shown in brackets. */
struct shmbus_synth_options {
	const char *symbols;     /* comma-separated names; NULL or "" = SYN00.. */
	uint32_t nsymbols;       /* count of SYNnn names when symbols is unset [8] */
	double rate;             /* mean events/s (event time), all symbols, calm, in
				    SHMBUS_SYNTH_MIN_RATE..MAX_RATE [1000] */
	uint64_t seed;           /* any value, 0 included */
	int64_t start_ns;        /* event time of the start [DEFAULT_START_NS] */
	double trade_fraction;   /* share of events that are trades, (0, 1] [0.25] */
	double volatility;       /* relative volatility per sqrt(second) [0.0005] */
	double burst_rate;       /* burst starts per symbol per second [1/120] */
	double burst_mean_s;     /* mean burst length in seconds [5] */
	double burst_intensity;  /* activity multiplier in a burst [8] */
	double burst_vol;        /* volatility and spread multiplier in a burst [4] */
	int fractional_sizes;    /* nonzero: crypto-like fractional trade sizes */
};

struct shmbus_synth;

/*
 * Create a generator.
 * @out: the new generator. @opt: options (copied; NULL = all defaults).
 * @errbuf, @errlen: on -EINVAL a message naming the bad option or symbol
 * (may be NULL/0).
 * Returns 0, -EINVAL (bad option value, rate out of bounds, empty/too
 * long/duplicate symbol,
 * more than SHMBUS_SYNTH_MAX_SYMBOLS) or -ENOMEM. Thread-safe.
 */
int shmbus_synth_create(struct shmbus_synth **out, const struct shmbus_synth_options *opt,
			char *errbuf, size_t errlen);

/*
 * Check a --symbols list as shmbus_synth_create() would take it: 0, or
 * -EINVAL with @errbuf naming the fault (an empty list is one here: the
 * generator would read it as "the default symbols"). Thread-safe.
 */
int shmbus_synth_check_symbols(const char *list, char *errbuf, size_t errlen);

/*
 * Produce the next record into @rec (never fails; times never decrease).
 * The symbol points into the generator and stays valid until destroy.
 */
void shmbus_synth_next(struct shmbus_synth *g, struct shmbus_md_record *rec);

/* Number of symbols, and the name of symbol @i (NUL-terminated) or NULL. */
uint32_t shmbus_synth_symbol_count(const struct shmbus_synth *g);
const char *shmbus_synth_symbol(const struct shmbus_synth *g, uint32_t i);

/* Whether symbol @i is in a burst now (for tests and monitoring). */
int shmbus_synth_in_burst(const struct shmbus_synth *g, uint32_t i);

/* Free the generator (NULL is a no-op). */
void shmbus_synth_destroy(struct shmbus_synth *g);

#ifdef __cplusplus
}
#endif
#endif /* SHMBUS_SYNTH_H */
