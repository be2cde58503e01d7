/*
 * svc.h - code shared by the service processes (collector, ta, threshold,
 * pipeline): common command-line flags and the parser of a service's
 * command line, stop signals, CPU pinning, a stage's hold on the bus, the
 * poll/wait loop with its participant heartbeat, the end-of-stream marker
 * and a tiny JSON writer/reader for the stats file each service leaves at
 * exit. The config file reader is svc_conf.h.
 *
 * End of stream: a stage that has published everything of a stream
 * publishes a heartbeat event (struct shmbus_heartbeat) whose status says
 * which stage finished (SHMBUS_SVC_EOS_*) and whose events_in/events_out
 * are that stage's totals. A downstream stage receives the marker in its
 * ring after every event its upstream published before it (one producer's
 * events keep their order in a ring), flushes what it holds and forwards
 * its own marker. Status 0 remains "alive, nothing special".
 *
 * Nothing here exits. The start-up and exit helpers that take a @tool
 * (the command line, pinning, attaching, saving the stats file) print
 * their errors to stderr as "tool: what failed: why" on behalf of the
 * service main, which owns every other line of output; so does the loop
 * when a ring breaks. The rest prints nothing.
 * Thread-safety: the flag and JSON helpers are pure; the signal state is
 * process-wide; a loop belongs to one thread.
 */
#ifndef SHMBUS_SVC_H
#define SHMBUS_SVC_H

#include <sched.h>
#include <stddef.h>
#include <stdint.h>

#include <shmbus/shmbus.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Heartbeat statuses that mark the end of a stream, by the stage ending. */
#define SHMBUS_SVC_EOS_MARKET    1u /* collector/replay: no more trades, quotes */
#define SHMBUS_SVC_EOS_TA        2u /* ta: every bar and indicator published */
#define SHMBUS_SVC_EOS_THRESHOLD 3u /* threshold: every alert published */

/* Source ids the pipeline gives its stages (0 elsewhere means the pid). */
#define SHMBUS_SVC_SOURCE_COLLECTOR 1u
#define SHMBUS_SVC_SOURCE_TA        2u
#define SHMBUS_SVC_SOURCE_THRESHOLD 3u
#define SHMBUS_SVC_SOURCE_PIPELINE  4u

/* Common flags every service accepts. */
struct shmbus_svc_opts {
	const char *bus;                /* --bus NAME (default $SHMBUS_BUS, else "default") */
	const char *name;               /* --name: participant name (default: the tool) */
	const char *cpus;               /* --cpus LIST: pin to these cores, e.g. "0,2-3" */
	const char *stats_json;         /* --stats-json FILE: counters written at exit */
	uint32_t source_id;             /* --source-id N (0: the pid) */
	enum shmbus_wait_strategy wait; /* --wait adaptive|spin|yield|block */
	int wait_set;                   /* --wait was given */
	int quiet;                      /* --quiet: no per-event lines */
};

/* getopt_long values of the common flags (above any short option). */
enum shmbus_svc_optval {
	SHMBUS_SVC_OPT_BUS = 0x1000,
	SHMBUS_SVC_OPT_NAME,
	SHMBUS_SVC_OPT_CPUS,
	SHMBUS_SVC_OPT_STATS,
	SHMBUS_SVC_OPT_SOURCE,
	SHMBUS_SVC_OPT_WAIT,
	SHMBUS_SVC_OPT_QUIET,
};

/* struct option entries for the common flags, to put in a tool's table. */
/* clang-format off */
#define SHMBUS_SVC_LONGOPTS                                             \
	{"bus", required_argument, 0, SHMBUS_SVC_OPT_BUS},              \
	{"name", required_argument, 0, SHMBUS_SVC_OPT_NAME},            \
	{"cpus", required_argument, 0, SHMBUS_SVC_OPT_CPUS},            \
	{"stats-json", required_argument, 0, SHMBUS_SVC_OPT_STATS},     \
	{"source-id", required_argument, 0, SHMBUS_SVC_OPT_SOURCE},     \
	{"wait", required_argument, 0, SHMBUS_SVC_OPT_WAIT},            \
	{"quiet", no_argument, 0, SHMBUS_SVC_OPT_QUIET}
/* clang-format on */

/* Flags of a processing stage (ta, threshold) beside the common ones. */
struct shmbus_svc_stage_opts {
	const char *ring;   /* --ring NAME: the ring to subscribe */
	uint32_t capacity;  /* --capacity N: its slots, a power of two; 0 (default): an
	                       existing ring's, else SHMBUS_SVC_STAGE_CAPACITY */
	uint64_t eos_count; /* --eos-count N: upstream markers that end a stream (default 1) */
	int exit_on_eos;    /* --exit-on-eos: leave once the end is forwarded */
};

#define SHMBUS_SVC_STAGE_CAPACITY 65536u /* slots of a ring a stage creates */

/* getopt_long values of the stage flags. */
enum shmbus_svc_stage_optval {
	SHMBUS_SVC_OPT_RING = 0x1100,
	SHMBUS_SVC_OPT_CAPACITY,
	SHMBUS_SVC_OPT_EOS_COUNT,
	SHMBUS_SVC_OPT_EXIT_ON_EOS,
};

/* struct option entries for the stage flags, to put in a stage's table. */
/* clang-format off */
#define SHMBUS_SVC_STAGE_LONGOPTS                                         \
	{"ring", required_argument, 0, SHMBUS_SVC_OPT_RING},              \
	{"capacity", required_argument, 0, SHMBUS_SVC_OPT_CAPACITY},      \
	{"eos-count", required_argument, 0, SHMBUS_SVC_OPT_EOS_COUNT},    \
	{"exit-on-eos", no_argument, 0, SHMBUS_SVC_OPT_EXIT_ON_EOS}
/* clang-format on */

/* Usage text of the common flags (one option per line, indented). */
extern const char shmbus_svc_common_usage[];

/* Fill @o with the defaults of the stage flags; @ring is the ring's name. */
void shmbus_svc_stage_opts_init(struct shmbus_svc_stage_opts *o, const char *ring);

/*
 * Print "@tool: MESSAGE" (MESSAGE: @fmt formatted) and "(see @tool --help)"
 * to stderr. Returns 2, the usage exit code, to return from main.
 */
int shmbus_svc_usage_error(const char *tool, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

struct option;

/* A service's command line: the common flags, the stage flags when @stage
 * is set, and the tool's own, handled by @own. */
struct shmbus_svc_cli {
	const char *tool;              /* "shmbus-ta": the name messages start with */
	const char *usage;             /* --help text: a printf format whose one %s is
	                                  shmbus_svc_common_usage */
	const struct option *longopts; /* the table: the tool's flags, {"help", .., 'h'},
	                                  SHMBUS_SVC_LONGOPTS (and SHMBUS_SVC_STAGE_LONGOPTS) */
	const char *shortopts;         /* getopt_long's: "" or "h" */
	struct shmbus_svc_opts *so;
	struct shmbus_svc_stage_opts *stage; /* NULL: a tool that is no stage */
	/* One option of the tool's own: @opt as getopt_long returned it, @name
	 * its long name (NULL for a short option), @arg its argument. Returns
	 * 0 (applied), an exit code (its message printed) or -ENOENT (not an
	 * option of the tool: the usage text is printed). */
	int (*own)(void *ctx, int opt, const char *name, const char *arg);
	void *ctx;
};

/*
 * Parse the command line as @cli says ('h' is --help: the usage text goes
 * to stdout; `TOOL --version` prints the version). Returns -1 to go on, else
 * the exit code for main to return: 0 after --help or --version, 2 for a usage error (printed, naming the flag), or what
 * cli->own returned. Uses getopt_long's global state: call once, from main.
 */
int shmbus_svc_parse_args(const struct shmbus_svc_cli *cli, int argc, char **argv);

/* Fill @o with the defaults; @name is the participant name. */
void shmbus_svc_opts_init(struct shmbus_svc_opts *o, const char *name);

/*
 * Apply one getopt_long result @opt with argument @arg to @o.
 * Returns 1 when @opt is a common flag and was applied, 0 when it is not a
 * common flag, -EINVAL for a bad value (@err, @n: a sentence naming it).
 * @arg must outlive @o (argv does).
 */
int shmbus_svc_opt(struct shmbus_svc_opts *o, int opt, const char *arg, char *err, size_t n);

/*
 * Parse a CPU list ("0", "0,2", "1-3,6") into @set.
 * Returns 0, or -EINVAL (@err names the bad token). Pure.
 */
int shmbus_svc_parse_cpus(const char *list, cpu_set_t *set, char *err, size_t n);

/*
 * Pin the calling process to the CPUs of @list (sched_setaffinity).
 * NULL or "" does nothing. Returns 0, -EINVAL (bad list, @err says why) or
 * -errno of sched_setaffinity.
 */
int shmbus_svc_pin(const char *list, char *err, size_t n);

/* Whole-number and decimal parsers of flag values: the entire text must be
 * a number. Return 0 or -EINVAL (also for out of range). Pure. */
int shmbus_svc_parse_u64(const char *s, uint64_t *out);
int shmbus_svc_parse_double(const char *s, double *out);

/* Speed of a replay: "max" (0), or a positive finite number ("1", "10",
 * "0.5"). Returns 0 or -EINVAL. Pure. */
int shmbus_svc_parse_speed(const char *s, double *out);

/*
 * Catch SIGTERM and SIGINT (they set the stop flag: the loop drains the
 * ring and returns) and ignore SIGPIPE. Returns 0 or -errno.
 */
int shmbus_svc_signals_install(void);

/* Whether a stop was requested (a signal, or shmbus_svc_request_stop).
 * Async-signal-safe. */
int shmbus_svc_stop_requested(void);
/* The stop flag itself, for shmbus_producer_opts.cancel: a producer
 * blocked behind a consumer that stands still gives up once it is set. */
const volatile int *shmbus_svc_stop_flag(void);
void shmbus_svc_request_stop(void);

/*
 * Start a service process: catch the stop signals and pin it to o->cpus.
 * Returns 0, or 1 (the runtime-failure exit code) when pinning failed,
 * with "@tool: pinning failed: why" printed.
 */
int shmbus_svc_start(const char *tool, const struct shmbus_svc_opts *o);

/* What a processing stage (ta, threshold) attaches: its bus, the producer
 * it publishes with and the ring it consumes. */
struct shmbus_svc_stage {
	shmbus_bus *bus;
	shmbus_producer *p;
	shmbus_consumer *c;
	uint32_t max_symbols; /* the bus's symbol table size */
};

/*
 * Attach a stage: open bus o->bus as participant o->name, open a producer
 * with o->source_id, and subscribe `ring`. A new ring takes the event
 * types `types` (policy block, 128-byte slots since a heartbeat does not
 * fit 64, `capacity` slots or SHMBUS_SVC_STAGE_CAPACITY when 0, wait
 * o->wait). An existing ring (declared from the config by shmbusctl, or
 * left by an earlier run) keeps its geometry, filter and policy, and its
 * wait unless --wait was given; a `capacity` other than its own fails;
 * the stage's own `outputs` (bar, indicator ...; heartbeats aside) are
 * kept out of its filter (a ring of its own output would stall it); what
 * of `types` it will never deliver is warned about as @tool.
 * Returns 0, or a negative code with *what naming the step that failed
 * (what was opened stays open: the caller exits).
 */
int shmbus_svc_stage_attach(const char *tool, const struct shmbus_svc_opts *o, const char *ring,
                            uint64_t types, uint64_t outputs, uint32_t capacity,
                            struct shmbus_svc_stage *st, const char **what);

/*
 * Print "@tool: @what (bus 'B', ring '@ring') failed: why" for the error
 * @rc of a stage's start-up step @what (shmbus_svc_stage_attach's, or the
 * stage's own allocations). Returns 1, the runtime-failure exit code.
 */
int shmbus_svc_stage_fail(const char *tool, const struct shmbus_svc_opts *o, const char *ring,
                          const char *what, int rc);

/* Close what shmbus_svc_stage_attach opened: the consumer, the producer,
 * the bus. */
void shmbus_svc_stage_close(struct shmbus_svc_stage *st);

/*
 * Count the upstream end-of-stream marker @ev, if it is one (a heartbeat
 * with @status): *in counts every marker, *seen those since the last end
 * of stream. Returns 1 when @ev is the @count-th marker since then (the
 * stream ended: *seen restarts at 0), 0 for another marker, -1 when @ev is
 * no marker.
 */
int shmbus_svc_eos_arrived(const struct shmbus_event_header *ev, uint32_t status, uint64_t count,
                           uint64_t *seen, uint64_t *in);

/* The poll/wait loop of a consuming service. */
struct shmbus_svc_loop {
	shmbus_bus *bus;
	shmbus_consumer *c;
	shmbus_handler on_event; /* called per event, in ring order */
	void *ctx;
	int (*done)(void *ctx); /* may be NULL; nonzero: leave the loop */
	unsigned batch;         /* events per poll (0: 256) */
	int64_t max_wait_ns;    /* longest single wait (0: 100 ms) */
};

/*
 * Run the loop: poll batches into on_event; when the ring is empty, leave
 * if done() says so, or -- once a stop was requested -- after draining the
 * ring; otherwise wait by the ring's strategy (adaptive by default: never
 * a pure spin on a shared core). Calls shmbus_bus_heartbeat() about once a
 * second. Returns 0 after a stop request, 1 when done() ended it, or the
 * negative error of shmbus_poll() (printed) when the ring is unusable.
 */
int shmbus_svc_run(const struct shmbus_svc_loop *l);

/*
 * Publish a heartbeat event with @status and the stage's totals (symbol 0,
 * event time now). Returns the number of rings it reached (>= 0) or a
 * negative code from the producer. Call from the producer's thread.
 */
int shmbus_svc_publish_status(shmbus_producer *p, uint32_t status, uint64_t events_in,
                              uint64_t events_out);

/* If @ev is a heartbeat with @status, its body, else NULL. Pure. */
const struct shmbus_heartbeat *shmbus_svc_as_status(const struct shmbus_event_header *ev,
                                                    uint32_t status);

/*
 * Format the error @rc (and the thread's shmbus_errmsg(), when set) as
 * "strerror - detail" into @buf. Returns @buf.
 */
const char *shmbus_svc_strerror(int rc, char *buf, size_t n);

/* Format @ns (epoch) as ISO-8601 UTC with nanoseconds into @buf (>= 32
 * bytes). Returns @buf. Pure. */
const char *shmbus_svc_iso_time(int64_t ns, char *buf, size_t n);

/*
 * Stats JSON: a growing buffer holding one flat object. Building never
 * fails loudly: after an allocation failure every call is a no-op and
 * shmbus_svc_json_write() returns -ENOMEM.
 */
struct shmbus_svc_json {
	char *buf;
	size_t len, cap;
	int nfields;
	int oom;
};

void shmbus_svc_json_begin(struct shmbus_svc_json *j);
void shmbus_svc_json_u64(struct shmbus_svc_json *j, const char *key, uint64_t v);
void shmbus_svc_json_i64(struct shmbus_svc_json *j, const char *key, int64_t v);
void shmbus_svc_json_f64(struct shmbus_svc_json *j, const char *key, double v); /* NaN: null */
void shmbus_svc_json_str(struct shmbus_svc_json *j, const char *key, const char *v);
/* A value already formatted as JSON (an object from another writer). */
void shmbus_svc_json_raw(struct shmbus_svc_json *j, const char *key, const char *json);
/*
 * Begin the stats object of a stage with the fields every stage writes
 * first and the pipeline reads: "service" (@service), "source_id" (of
 * @p), "events_in", "events_out".
 */
void shmbus_svc_json_begin_stage(struct shmbus_svc_json *j, const char *service, shmbus_producer *p,
                                 uint64_t events_in, uint64_t events_out);
/* Close the object; the text is then j->buf (NUL-terminated). */
void shmbus_svc_json_end(struct shmbus_svc_json *j);
void shmbus_svc_json_free(struct shmbus_svc_json *j);

/*
 * Write the finished object and a newline to @path atomically (a temporary
 * file renamed over it). Returns 0, -ENOMEM (building failed) or -errno.
 */
int shmbus_svc_json_write(const struct shmbus_svc_json *j, const char *path);

/*
 * Whether a stats file can be written at @path as shmbus_svc_json_write()
 * writes it (@path.tmp created, then renamed over @path): 0, or -errno
 * (-ENOENT for "" or a missing folder, -EISDIR for a directory). Creates
 * and removes @path.tmp. shmbus_svc_parse_args() calls it for --stats-json.
 */
int shmbus_svc_json_check(const char *path);

/*
 * Close the object, write it to @path (shmbus_svc_json_write) and free it.
 * A failed write is printed as "@tool: writing PATH failed: why" (the
 * stats file is a by-product: the caller's exit code does not change;
 * that it can be written was checked at start).
 */
void shmbus_svc_json_save(struct shmbus_svc_json *j, const char *tool, const char *path);

/*
 * Read the number of top-level key @key from the JSON text @text (the
 * flat objects written above; nested objects are skipped over only as far
 * as a key search goes: use unique key names). Returns 0, -ENOENT when the
 * key is absent, -EINVAL when its value is not a number.
 */
int shmbus_svc_json_get_f64(const char *text, const char *key, double *out);

struct shmbus_rule;

/* "rsi14 > 70", "macd_hist sign_change": a rule as text. Returns 0 or
 * -ENOSPC. Pure. */
int shmbus_svc_rule_text(const struct shmbus_rule *r, char *buf, size_t n);

/*
 * One alert as a line (no newline): "alert TIME SYMBOL ID: RULE DIRECTION
 * value=V threshold=T trigger=TYPE:SOURCE:SEQ". @rule may be NULL (the id
 * is then "rule#N"). Returns 0 or -ENOSPC (truncated). Pure.
 */
int shmbus_svc_alert_line(char *buf, size_t n, const struct shmbus_threshold *e, const char *symbol,
                          const struct shmbus_rule *rule);

/*
 * Name of output @index of an indicator event with the parameters in it,
 * as the journal tools' CSV writes it: sma20, ema20, rsi14, vwap,
 * macd12_26_9, macd12_26_9_signal, macd12_26_9_hist, bb20_2_middle,
 * bb20_2_upper, bb20_2_lower. Returns 0, -EINVAL (unknown kind or index),
 * -ENOSPC. Pure.
 */
int shmbus_svc_indicator_name(unsigned kind, const uint16_t p[3], unsigned index, char *buf,
                              size_t n);

/* Outputs an indicator kind carries in value[]: 3 for MACD and Bollinger,
 * else 1. */
unsigned shmbus_svc_indicator_outputs(unsigned kind);

/* Read a whole (small) file into a NUL-terminated malloc'd buffer.
 * Returns 0 or -errno (-EFBIG past 16 MiB). */
int shmbus_svc_read_file(const char *path, char **out, size_t *len);

#ifdef __cplusplus
}
#endif
#endif /* SHMBUS_SVC_H */
