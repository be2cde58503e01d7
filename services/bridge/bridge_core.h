/*
 * bridge_core.h - the bridge engine: ring -> window -> sinks, checkpoints,
 * journal catch-up and the hand-over to the live ring.
 *
 * Flow: bridge_open() loads the checkpoint and subscribes the ring (before
 * any catch-up, so nothing published from then on is missed);
 * bridge_catchup() sends what the journal holds after the checkpoint;
 * bridge_step() then moves live events. Every event sent sits in a bounded
 * window until every sink acknowledged it; the window's head only moves
 * over fully acknowledged events, and the checkpoint records, per source,
 * the event the head passed last. An event whose seq is <= the last one
 * sent for its source is skipped, which is the hand-over rule between
 * journal and ring. One thread owns a bridge.
 */
#ifndef SHMBUS_BRIDGE_CORE_H
#define SHMBUS_BRIDGE_CORE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <shmbus/bus.h>
#include <shmbus/consumer.h>

#include "bridge_codec.h"
#include "bridge_sink.h"

#define BRIDGE_MAX_SINKS 4

enum bridge_on_full {
	BRIDGE_ON_FULL_BLOCK = 0, /* stop polling the ring: the bus policy decides */
	BRIDGE_ON_FULL_DROP = 1,  /* keep polling, count and drop what cannot go */
};

/* Which of sub's geometry and policy the user set (bridge_core_config.sub_given). */
#define BRIDGE_SUB_CAPACITY 0x1u
#define BRIDGE_SUB_POLICY   0x2u

struct bridge_core_config {
	const char *ring;              /* ring name (default "bridge") */
	struct shmbus_sub_opts sub;    /* filter, capacity, policy of the ring */
	unsigned sub_given;            /* BRIDGE_SUB_*: set by the user; an existing
	                                  (declared) ring keeps the rest as it is */
	enum bridge_encoding enc;
	uint32_t window;               /* in-flight events, power of two (default 8192) */
	enum bridge_on_full on_full;
	const char *checkpoint;        /* checkpoint file, NULL: none */
	int64_t checkpoint_interval_ns; /* default 100 ms */
	const char *journal_dir;       /* NULL: no catch-up */
	const char *journal_bus;       /* journal's bus name (default: the bus's) */
	int64_t catchup_slack_ns;      /* < 0: scan the whole journal (default 60 s) */
	int from_journal_start;        /* no checkpoint: export the whole journal
					* first (default 0: start live) */
	int64_t retry_base_ms, retry_max_ms; /* resend backoff (100, 5000) */
	/* Hand-over: how long catch-up waits for the journal to hold what the
	 * bus had published when the ring was subscribed (default 5000; 0:
	 * no wait). See bridge_catchup. */
	int64_t handover_timeout_ms;
	/* Warnings (a damaged journal block skipped, a checkpoint past the
	 * journal's end, a journal behind the bus at the hand-over, a
	 * checkpoint that cannot be written, an event no sink can take, a
	 * source whose seq went back, a source whose progress cannot be
	 * recorded), one line each without a newline,
	 * called on the bridge's thread. NULL: catch-up's are left in
	 * bridge_catchup's err, the others only counted. */
	void (*warn)(void *ctx, const char *msg);
	void *warn_ctx;
};

void bridge_core_config_init(struct bridge_core_config *c);

struct bridge_stats {
	uint64_t received;   /* events taken from the ring */
	uint64_t journal;    /* events read from the journal in catch-up */
	uint64_t sent;       /* first sends */
	uint64_t resent;     /* sends after a failure */
	uint64_t acked;      /* events acknowledged by every sink */
	uint64_t failed;     /* negative acknowledgements / send errors */
	uint64_t skipped;    /* already exported (seq <= last sent) */
	uint64_t dropped;    /* dropped under on_full=drop */
	uint64_t encode_errors;
	/* Events let go unexported because a sink cannot take them (not
	 * encodable, or refused as invalid): not in acked, which counts only
	 * what every sink's broker acknowledged. */
	uint64_t unencodable;
	uint64_t checkpoints;
	uint64_t checkpoint_errors; /* checkpoint writes that failed */
	/* Progress of a source that could not be recorded (out of memory, or
	 * BRIDGE_SRCMAP_MAX sources), each also warned about (cfg.warn): if
	 * acknowledged progress, the checkpoint lacks that source. */
	uint64_t progress_errors;
	uint64_t reconnects;
	uint32_t inflight;
	int connected;       /* every sink connected */
	int64_t lag_ns;      /* now - publish time of the newest acknowledged event */
	uint64_t ring_depth; /* events waiting in the ring */
};

struct bridge;

/*
 * Load the checkpoint and subscribe the ring on `bus` (owned by the
 * caller, who closes it after bridge_close). sinks[0..nsinks-1] become
 * owned by the bridge. Returns 0 or a negative code with
 * "what failed: why (where)" in err.
 */
int bridge_open(shmbus_bus *bus, const struct bridge_core_config *cfg, struct bridge_sink **sinks,
		int nsinks, struct bridge **out, char *err, size_t errlen);

/*
 * Send what the journal holds after the checkpoint (same filter), waiting
 * for window room as needed. Without a checkpoint (first start) nothing
 * is read unless cfg->from_journal_start, which sends the whole journal.
 * Damaged data (-EBADMSG from the reader: a bad block, an entry that is
 * no segment file) is warned about (cfg->warn) and skipped; the reader
 * goes on. After a full read, every checkpoint source whose seq is past
 * the journal's last seq of that source, whose time is past the
 * journal's latest event, or of which the journal holds nothing since
 * the checkpoint, is warned about: nothing of it was caught up, e.g.
 * because the journal was rotated or replaced.
 * Hand-over: events a producer published before bridge_open subscribed
 * the ring reach the bridge only through the journal, and the journaller
 * may not have written the last of them yet. So at the journal's end the
 * catch-up checks, per source, that the journal holds the seq the bus's
 * counters showed at subscription; while it does not, it reads on as the
 * journal grows, for up to cfg->handover_timeout_ms, then warns naming
 * the sources and seqs it could not catch up.
 * Returns the number of events read, -ENOENT when there is no journal
 * directory (nothing done), -EINTR when *stop was set, or another
 * negative code with err filled when the journal cannot be opened or
 * read (an I/O error): the caller should not go live then, as that would
 * skip the rest of the journal for good (see bridge_main.c); what was
 * sent is in the window and reaches the checkpoint on drain. Not
 * thread-safe (the bridge's thread).
 */
int64_t bridge_catchup(struct bridge *b, volatile sig_atomic_t *stop, char *err, size_t errlen);

/*
 * One round: take acknowledgements, resend failures when due, poll the
 * ring when the window has room (or drop under on_full=drop), advance the
 * window and write the checkpoint when due. Waits up to wait_ns on the ring
 * when there was nothing to do. Returns the events moved (>= 0), or the
 * negative error of shmbus_poll() when the ring is unusable.
 */
int bridge_step(struct bridge *b, int64_t wait_ns);

/* Run steps until the window is empty or timeout_ms passes, then write
 * the checkpoint. Returns 0, -ETIMEDOUT (events still in flight) or the
 * checkpoint error. */
int bridge_drain(struct bridge *b, int timeout_ms, char *err, size_t errlen);

/* Write the checkpoint now (no-op without a checkpoint path). */
int bridge_checkpoint(struct bridge *b, char *err, size_t errlen);

void bridge_get_stats(struct bridge *b, struct bridge_stats *st);
/* stats.acked alone, for a loop that stops after so many: bridge_get_stats
 * also reads the ring's statistics (shmbus_stat_ring(), which looks at
 * /proc for each producer feeding it), too dear for every step. */
uint64_t bridge_acked_total(const struct bridge *b);

/* Last acknowledged seq of `source` (0 when none). */
uint64_t bridge_acked_seq(struct bridge *b, uint32_t source);

/* Detach from the ring (it keeps what it holds), destroy the sinks, free. */
void bridge_close(struct bridge *b);

#endif
