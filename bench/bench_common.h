/*
 * bench_common.h - what every shmbus-bench scenario shares: the machine
 * description, CPU pinning, a calibrated cycle clock, shared anonymous
 * memory for the processes of one run, a start barrier, child process
 * control with a watchdog, and latency summaries.
 *
 * Bench code sees only the public API (include/shmbus); nothing here
 * knows the ring layout.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <shmbus/clock.h>
#include <shmbus/error.h>

struct shmbus_hist;

#define BENCH_LINE          64
#define BENCH_MAX_CPUS      64
#define BENCH_MAX_PRODUCERS 64
#define BENCH_MAX_ROUNDS    100

/* Exit codes of the tool. */
#define BENCH_EXIT_OK    0
#define BENCH_EXIT_FAIL  1
#define BENCH_EXIT_USAGE 2

struct bench_machine {
	long nproc;
	char model[128];
	char kernel[160];
	char clocksource[32];
	char binary[256]; /* this executable */
	char built[32];   /* its modification time, UTC: a stale build shows */
};

/* Fill m from sysconf, /proc/cpuinfo, uname and sysfs ("?" when unknown). */
void bench_machine_get(struct bench_machine *m);

/* Pin the calling process to `cpu`. Returns 0 or -errno. */
int bench_pin(int cpu);

/*
 * Memory for a hand-written baseline ring, on pages of the bus's kind, so
 * that a ratio compares like with like: 2 MiB pages (MAP_HUGETLB, *bytes
 * rounded up) when the run's bus is on hugetlbfs and the pool has them,
 * else bench_shared_alloc(*bytes). Free with bench_shared_free(p, *bytes).
 * Call after bench_bus_create. bench_baseline_pages() says which ("2 MiB",
 * "4 KiB", "none"), for the reports.
 */
void *bench_baseline_alloc(size_t *bytes);
const char *bench_baseline_pages(void);

/* A zeroed MAP_SHARED anonymous mapping, shared with children forked
 * later. Returns NULL on failure (errno set). */
void *bench_shared_alloc(size_t bytes);
void bench_shared_free(void *p, size_t bytes);

/*
 * The interval clock. On x86-64 with an invariant TSC (constant_tsc and
 * nonstop_tsc) it reads the TSC and converts ticks with a ratio measured
 * against CLOCK_MONOTONIC at start; elsewhere it is shmbus_mono_ns().
 */
struct bench_clock {
	int tsc;            /* 1: ticks are TSC cycles; 0: nanoseconds */
	double ns_per_tick; /* 1.0 when tsc == 0 */
};

/* want: 1 prefer the TSC, 0 force CLOCK_MONOTONIC. Returns 0 or -errno. */
int bench_clock_init(struct bench_clock *c, int want_tsc);

static inline uint64_t bench_ticks(const struct bench_clock *c)
{
#if defined(__x86_64__)
	if (c->tsc) {
		/* lfence keeps rdtsc from running ahead of earlier loads (the
		 * load that saw the reply must be done before we read time). */
		__builtin_ia32_lfence();
		return __builtin_ia32_rdtsc();
	}
#endif
	return (uint64_t)shmbus_mono_ns();
}

static inline int64_t bench_ticks_to_ns(const struct bench_clock *c, uint64_t ticks)
{
	return c->tsc ? (int64_t)((double)ticks * c->ns_per_tick + 0.5) : (int64_t)ticks;
}

static inline void bench_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

/* A start barrier in shared memory for `n` processes. Each waits with
 * pause, then sched_yield after a while (processes may share a core). */
struct bench_barrier {
	_Atomic uint32_t arrived;
	_Atomic uint32_t abort; /* set by a child that failed */
};
/* Returns 0, or -ECANCELED when another process aborted the run. */
int bench_barrier_wait(struct bench_barrier *b, uint32_t n);

/* Latency summary of one set of samples, in ns. */
struct bench_lat {
	uint64_t count;
	int64_t min, p50, p90, p99, p999, max;
	double mean;
};

/* Summarise n samples (ns); may reorder them. Returns 0 or -ENOMEM/-EINVAL. */
int bench_lat_compute(int64_t *samples, size_t n, struct bench_lat *out);

/* Median over n rounds (1..BENCH_MAX_ROUNDS) of every field of r. */
void bench_lat_median(const struct bench_lat *r, int n, struct bench_lat *out);

/* Median of n doubles (n >= 1); reorders them. */
double bench_median(double *v, size_t n);

/* out's p50, p90, p99, p999 and max from the histogram h. */
void bench_lat_percentiles(const struct shmbus_hist *h, struct bench_lat *out);

/*
 * A round-trip round's samples into figures: when errors (replies that
 * carried the wrong payload) is not 0, print "what: N replies carried the
 * wrong payload" and fail; else convert the n samples from ticks to ns in
 * place, record each into h (when not NULL) and summarise them into lat.
 * Returns a BENCH_EXIT_* code after printing why on failure.
 */
int bench_rtt_summarise(const struct bench_clock *c, const char *what, uint64_t errors,
                        uint64_t *samples, uint64_t n, struct shmbus_hist *h,
                        struct bench_lat *lat);

/* a / b, with b taken as 1 when it is 0 (a ratio of two figures). */
static inline double bench_ratio(int64_t a, int64_t b)
{
	return (double)a / (double)(b ? b : 1);
}

/*
 * Child processes. bench_proc_init() blocks SIGCHLD/SIGINT/SIGTERM in the
 * parent so that bench_children_wait() can sleep in sigtimedwait without
 * any periodic wakeup (a parent waking up would disturb the pinned
 * children). bench_spawn() forks; the child restores default signal
 * handling, runs fn(arg) and _exits with its return value.
 */
void bench_proc_init(void);
int bench_spawn(pid_t *pid, int (*fn)(void *), void *arg);

/*
 * Wait for n children. Returns 0 when all exited with 0; -ETIMEDOUT after
 * timeout_s; -EINTR on SIGINT/SIGTERM; -ECHILD when one failed (then the
 * rest are killed). On any error every child still running is killed and
 * reaped. `why` receives a sentence.
 */
int bench_children_wait(pid_t *pids, int n, int timeout_s, char *why, size_t len);

/*
 * The end of a round's fork: spawn_rc is 0, or the error of the first
 * bench_spawn() that failed (pids[] holds those that ran, 0 elsewhere).
 * On a failed spawn prints "fork: why" and kills the children already
 * running; else waits for all n (bench_children_wait) and prints
 * "what: why" when one failed or the round timed out. Returns a
 * BENCH_EXIT_* code.
 */
int bench_round_wait(pid_t *pids, int n, int spawn_rc, int timeout_s, const char *what);

/* Whether SIGINT/SIGTERM arrived while waiting: the caller exits 130. */
int bench_interrupted(void);

/* Print "shmbus-bench: what: why" to stderr. */
void bench_err(const char *what, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * In a child: flag the round as failed (the peers waiting at barrier b
 * give up), print "shmbus-bench: what: <shmbus_strerror(rc)>[: detail]"
 * and return 1, the child's exit code. Inline on purpose: the functions
 * that hold the timed loops call it, and an out-of-line call would change
 * their code (its layout moves the figures).
 */
static inline int bench_fail(struct bench_barrier *b, const char *what, int rc)
{
	atomic_store(&b->abort, 1);
	bench_err(what, "%s%s%s", shmbus_strerror(rc), shmbus_errmsg()[0] ? ": " : "",
	          shmbus_errmsg());
	return 1;
}

/* argv joined by spaces, JSON-escaped when written with bench_json_str. */
void bench_command_line(int argc, char **argv, char *buf, size_t len);
void bench_json_str(FILE *f, const char *s);
void bench_json_machine(FILE *f, const struct bench_machine *m);
/* Open a scenario's JSON report: {"scenario":..,"machine":..,"command":.. (the
 * caller goes on with ",\"config\":..." and closes it). */
void bench_json_head(FILE *f, const char *scenario, const struct bench_machine *m,
                     const char *command);
void bench_json_lat(FILE *f, const struct bench_lat *l);
/* s as a JSON string, or null when s is NULL. */
void bench_json_str_or_null(FILE *f, const char *s);
/* ,"key":v (a member after another) for a ratio, finite, with four
 * significant digits whatever its size: a fixed three decimals wrote
 * 0.00047 as 0.000. */
void bench_json_ratio(FILE *f, const char *key, double v);
/* One table row on stdout: the label left-aligned in label_width columns,
 * then min, p50, p90, p99, p99.9, max and mean. */
void bench_lat_row(int label_width, const char *label, const struct bench_lat *l);
void bench_print_machine(FILE *f, const struct bench_machine *m, const char *command,
                         const struct bench_clock *c);

/*
 * The run's private bus "bench-<pid>", in SHMBUS_DIR when set, else the
 * library's default directory. bench_bus_create() creates it (arena of
 * arena_bytes) and arranges for bench_bus_remove() to run at exit;
 * bench_bus_remove() closes the creator handle and destroys the bus, and
 * may be called more than once. Returns 0 or a negative shmbus code.
 */
int bench_bus_create(size_t arena_bytes, const char **name);
void bench_bus_remove(void);
/* The backing of that bus (shmbus_backing_name: "hugetlbfs", "shm+thp"),
 * which reports print beside the machine: 2 MiB pages or small ones. */
const char *bench_bus_backing(void);

/* Parse "A,B[,C...]" into cpus; returns the count or -EINVAL. */
int bench_parse_cpus(const char *s, int *cpus, int max);
/* How many different cpus cpus[0..n-1] name. */
int bench_distinct_cpus(const int *cpus, int n);
/* Parse a non-negative integer with optional k/M/G suffix; -EINVAL. */
int bench_parse_u64(const char *s, uint64_t *out);

#endif
