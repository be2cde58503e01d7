/*
 * bench_common.c - machine description, pinning, clock calibration, shared
 * memory, barrier, child control and latency summaries for shmbus-bench.
 *
 * Design: every scenario runs its measured parties as forked processes,
 * each pinned to a core of its own, that meet at a barrier in a shared
 * anonymous mapping and write their raw figures back into it. The parent
 * only forks, sleeps and summarises: it blocks SIGCHLD/SIGINT/SIGTERM and
 * waits in sigtimedwait, so it never wakes up on the measured cores while
 * a round runs, and a Ctrl-C still reaches it (the caller then removes
 * the bus and exits). A child that fails sets the barrier's abort flag so
 * its peers stop waiting, prints its own error and exits 1. Latency
 * percentiles come from the shared HDR histogram (3 significant digits).
 */
#define _GNU_SOURCE
#include "bench_common.h"
#include "tool_json.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <shmbus/bus.h>
#include <shmbus/error.h>
#include <shmbus/histogram.h>

static volatile sig_atomic_t bench_got_signal;

static void bench_read_line_value(const char *path, const char *key, char *out, size_t len)
{
	FILE *f = fopen(path, "r");
	char line[512];

	snprintf(out, len, "?");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *colon;

		if (key && strncmp(line, key, strlen(key)) != 0)
			continue;
		colon = key ? strchr(line, ':') : NULL;
		const char *v = colon ? colon + 1 + (colon[1] == ' ') : line;
		size_t n = strcspn(v, "\n");

		if (n >= len)
			n = len - 1;
		memcpy(out, v, n);
		out[n] = '\0';
		break;
	}
	fclose(f);
}

void bench_machine_get(struct bench_machine *m)
{
	struct utsname u;

	memset(m, 0, sizeof(*m));
	m->nproc = sysconf(_SC_NPROCESSORS_ONLN);
	bench_read_line_value("/proc/cpuinfo", "model name", m->model, sizeof(m->model));
	bench_read_line_value("/sys/devices/system/clocksource/clocksource0/current_clocksource",
	                      NULL, m->clocksource, sizeof(m->clocksource));
	if (uname(&u) == 0)
		snprintf(m->kernel, sizeof(m->kernel), "%.20s %.100s %.20s", u.sysname, u.release,
		         u.machine);
	else
		snprintf(m->kernel, sizeof(m->kernel), "?");
	struct stat st;
	struct tm tm;
	ssize_t n = readlink("/proc/self/exe", m->binary, sizeof(m->binary) - 1);
	m->binary[n > 0 ? n : 0] = '\0';
	if (n <= 0 || stat(m->binary, &st) != 0 || !gmtime_r(&st.st_mtime, &tm) ||
	    !strftime(m->built, sizeof(m->built), "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(m->built, sizeof(m->built), "?");
	if (n <= 0)
		snprintf(m->binary, sizeof(m->binary), "?");
}

int bench_pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0 || cpu >= CPU_SETSIZE)
		return -EINVAL;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0)
		return -errno;
	return 0;
}

void *bench_shared_alloc(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static shmbus_bus *bench_bus; /* the run's bus (bench_bus_create) */
static const char *bench_baseline_kind = "none";

void *bench_baseline_alloc(size_t *bytes)
{
	if (bench_bus != NULL && shmbus_bus_backing(bench_bus) == SHMBUS_BACKING_HUGETLBFS) {
		size_t huge = (*bytes + (2u << 20) - 1) & ~(size_t)((2u << 20) - 1);
		void *p = mmap(NULL, huge, PROT_READ | PROT_WRITE,
		               MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
		if (p != MAP_FAILED) {
			*bytes = huge;
			bench_baseline_kind = "2 MiB";
			return p;
		}
		bench_baseline_kind = "4 KiB (no 2 MiB pages free)";
	} else {
		bench_baseline_kind = "4 KiB";
	}
	return bench_shared_alloc(*bytes);
}

const char *bench_baseline_pages(void)
{
	return bench_baseline_kind;
}

void bench_shared_free(void *p, size_t bytes)
{
	if (p)
		munmap(p, bytes);
}

static int bench_cpu_has_invariant_tsc(void)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[4096];
	int ok = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5) != 0)
			continue;
		ok = strstr(line, " constant_tsc") && strstr(line, " nonstop_tsc");
		break;
	}
	fclose(f);
	return ok;
}

int bench_clock_init(struct bench_clock *c, int want_tsc)
{
	c->tsc = 0;
	c->ns_per_tick = 1.0;
#if defined(__x86_64__)
	if (want_tsc && bench_cpu_has_invariant_tsc()) {
		/* Calibrate over 50 ms against CLOCK_MONOTONIC. */
		struct timespec d = {.tv_sec = 0, .tv_nsec = 50 * 1000 * 1000};
		int64_t n0 = shmbus_mono_ns();
		uint64_t t0 = __builtin_ia32_rdtsc();
		int64_t n1;
		uint64_t t1;

		nanosleep(&d, NULL);
		n1 = shmbus_mono_ns();
		t1 = __builtin_ia32_rdtsc();
		if (t1 <= t0 || n1 <= n0)
			return -EIO;
		c->tsc = 1;
		c->ns_per_tick = (double)(n1 - n0) / (double)(t1 - t0);
	}
#endif
	return 0;
}

int bench_barrier_wait(struct bench_barrier *b, uint32_t n)
{
	unsigned spins = 0;

	atomic_fetch_add_explicit(&b->arrived, 1, memory_order_acq_rel);
	while (atomic_load_explicit(&b->arrived, memory_order_acquire) < n) {
		if (atomic_load_explicit(&b->abort, memory_order_relaxed))
			return -ECANCELED;
		if (++spins > 10000)
			sched_yield();
		else
			bench_relax();
	}
	return 0;
}

int bench_lat_compute(int64_t *samples, size_t n, struct bench_lat *out)
{
	struct shmbus_hist *h;
	double sum = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if (n == 0)
		return 0;
	rc = shmbus_hist_create(1, SHMBUS_HIST_HOUR_NS, 3, &h);
	if (rc < 0)
		return rc;
	out->min = INT64_MAX; /* not samples[0]: it may be negative, clamped below */
	for (size_t i = 0; i < n; i++) {
		int64_t v = samples[i] < 0 ? 0 : samples[i];

		shmbus_hist_record(h, v);
		sum += (double)v;
		if (v < out->min)
			out->min = v;
	}
	out->count = n;
	out->mean = sum / (double)n;
	bench_lat_percentiles(h, out);
	shmbus_hist_destroy(h);
	return 0;
}

void bench_lat_percentiles(const struct shmbus_hist *h, struct bench_lat *out)
{
	out->p50 = shmbus_hist_value_at_percentile(h, 50.0);
	out->p90 = shmbus_hist_value_at_percentile(h, 90.0);
	out->p99 = shmbus_hist_value_at_percentile(h, 99.0);
	out->p999 = shmbus_hist_value_at_percentile(h, 99.9);
	out->max = shmbus_hist_max(h);
}

int bench_rtt_summarise(const struct bench_clock *c, const char *what, uint64_t errors,
                        uint64_t *samples, uint64_t n, struct shmbus_hist *h, struct bench_lat *lat)
{
	int64_t *ns = (int64_t *)samples; /* converted in place */

	if (errors) {
		bench_err(what, "%llu replies carried the wrong payload",
		          (unsigned long long)errors);
		return BENCH_EXIT_FAIL;
	}
	for (uint64_t i = 0; i < n; i++) {
		ns[i] = bench_ticks_to_ns(c, samples[i]);
		if (h)
			shmbus_hist_record(h, ns[i] < 0 ? 0 : ns[i]);
	}
	if (bench_lat_compute(ns, n, lat) < 0) {
		bench_err(what, "histogram: out of memory");
		return BENCH_EXIT_FAIL;
	}
	return BENCH_EXIT_OK;
}

static int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double bench_median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), bench_cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

static sigset_t bench_waitset;

void bench_proc_init(void)
{
	sigemptyset(&bench_waitset);
	sigaddset(&bench_waitset, SIGCHLD);
	sigaddset(&bench_waitset, SIGINT);
	sigaddset(&bench_waitset, SIGTERM);
	sigprocmask(SIG_BLOCK, &bench_waitset, NULL);
}

int bench_spawn(pid_t *pid, int (*fn)(void *), void *arg)
{
	pid_t p;

	fflush(NULL);
	p = fork();
	if (p < 0)
		return -errno;
	if (p == 0) {
		sigprocmask(SIG_UNBLOCK, &bench_waitset, NULL);
		_exit(fn(arg));
	}
	*pid = p;
	return 0;
}

static void bench_kill_all(pid_t *pids, int n)
{
	for (int i = 0; i < n; i++) {
		if (pids[i] > 0) {
			kill(pids[i], SIGKILL);
			waitpid(pids[i], NULL, 0);
			pids[i] = 0;
		}
	}
}

/* Reap every exited child among pids; returns -ECHILD on a failed one. */
static int bench_reap(pid_t *pids, int n, int *left, char *why, size_t len)
{
	for (int i = 0; i < n; i++) {
		int st;
		pid_t r;

		if (pids[i] <= 0)
			continue;
		r = waitpid(pids[i], &st, WNOHANG);
		if (r != pids[i])
			continue;
		pids[i] = 0;
		(*left)--;
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			continue;
		if (WIFEXITED(st))
			snprintf(why, len, "child %d exited with status %d", (int)r,
			         WEXITSTATUS(st));
		else
			snprintf(why, len, "child %d killed by signal %d", (int)r,
			         WIFSIGNALED(st) ? WTERMSIG(st) : 0);
		return -ECHILD;
	}
	return 0;
}

int bench_children_wait(pid_t *pids, int n, int timeout_s, char *why, size_t len)
{
	int64_t deadline = shmbus_mono_ns() + (int64_t)timeout_s * 1000000000;
	int left = n;

	while (left > 0) {
		int64_t rest = deadline - shmbus_mono_ns();
		struct timespec ts;
		int sig;

		if (bench_reap(pids, n, &left, why, len) < 0) {
			bench_kill_all(pids, n);
			return -ECHILD;
		}
		if (left == 0)
			break;
		if (rest <= 0) {
			snprintf(why, len, "round did not finish within %d s (raise --timeout)",
			         timeout_s);
			bench_kill_all(pids, n);
			return -ETIMEDOUT;
		}
		ts.tv_sec = rest / 1000000000;
		ts.tv_nsec = rest % 1000000000;
		sig = sigtimedwait(&bench_waitset, NULL, &ts);
		if (sig == SIGINT || sig == SIGTERM) {
			bench_got_signal = 1;
			snprintf(why, len, "interrupted by signal %d", sig);
			bench_kill_all(pids, n);
			return -EINTR;
		}
	}
	return 0;
}

int bench_round_wait(pid_t *pids, int n, int spawn_rc, int timeout_s, const char *what)
{
	char why[160];

	if (spawn_rc < 0) {
		bench_err("fork", "%s", strerror(-spawn_rc));
		bench_children_wait(pids, n, 0, why, sizeof(why));
		return BENCH_EXIT_FAIL;
	}
	if (bench_children_wait(pids, n, timeout_s, why, sizeof(why)) < 0) {
		bench_err(what, "%s", why);
		return BENCH_EXIT_FAIL;
	}
	return BENCH_EXIT_OK;
}

int bench_interrupted(void)
{
	sigset_t pending;

	if (bench_got_signal)
		return 1;
	if (sigpending(&pending) == 0 &&
	    (sigismember(&pending, SIGINT) || sigismember(&pending, SIGTERM)))
		bench_got_signal = 1;
	return bench_got_signal;
}

void bench_err(const char *what, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "shmbus-bench: %s: %s\n", what, buf);
}

void bench_command_line(int argc, char **argv, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int i = 0; i < argc && off < len; i++) {
		int w = snprintf(buf + off, len - off, "%s%s", i ? " " : "", argv[i]);

		if (w < 0)
			break;
		off += (size_t)w;
	}
}

/* JSON text is UTF-8 (RFC 8259): a byte of argv or of a path that is not
 * part of a UTF-8 character is escaped (as the tools' JSON does), or
 * readers refuse the whole report. */
void bench_json_str(FILE *f, const char *s)
{
	tool_json_str(f, s);
}

void bench_json_head(FILE *f, const char *scenario, const struct bench_machine *m,
                     const char *command)
{
	fprintf(f, "{\"scenario\":");
	bench_json_str(f, scenario);
	fprintf(f, ",\"machine\":");
	bench_json_machine(f, m);
	fprintf(f, ",\"command\":");
	bench_json_str(f, command);
}

void bench_json_machine(FILE *f, const struct bench_machine *m)
{
	fprintf(f, "{\"nproc\":%ld,\"model\":", m->nproc);
	bench_json_str(f, m->model);
	fprintf(f, ",\"kernel\":");
	bench_json_str(f, m->kernel);
	fprintf(f, ",\"clocksource\":");
	bench_json_str(f, m->clocksource);
	fprintf(f, ",\"binary\":");
	bench_json_str(f, m->binary);
	fprintf(f, ",\"binary_built\":");
	bench_json_str(f, m->built);
	fprintf(f, ",\"bus_backing\":");
	bench_json_str(f, bench_bus_backing());
	fprintf(f, ",\"baseline_ring_pages\":");
	bench_json_str(f, bench_baseline_pages());
	fputc('}', f);
}

void bench_json_lat(FILE *f, const struct bench_lat *l)
{
	fprintf(f,
	        "\"count\":%llu,\"min_ns\":%lld,\"mean_ns\":%.1f,\"p50_ns\":%lld,\"p90_ns\":%lld,"
	        "\"p99_ns\":%lld,\"p999_ns\":%lld,\"max_ns\":%lld",
	        (unsigned long long)l->count, (long long)l->min, l->mean, (long long)l->p50,
	        (long long)l->p90, (long long)l->p99, (long long)l->p999, (long long)l->max);
}

void bench_json_str_or_null(FILE *f, const char *s)
{
	if (s)
		bench_json_str(f, s);
	else
		fputs("null", f);
}

void bench_json_ratio(FILE *f, const char *key, double v)
{
	fprintf(f, ",\"%s\":%.4g", key, v);
}

void bench_lat_row(int label_width, const char *label, const struct bench_lat *l)
{
	printf("  %-*s %8lld %8lld %8lld %8lld %9lld %10lld %10.1f\n", label_width, label,
	       (long long)l->min, (long long)l->p50, (long long)l->p90, (long long)l->p99,
	       (long long)l->p999, (long long)l->max, l->mean);
}

void bench_print_machine(FILE *f, const struct bench_machine *m, const char *command,
                         const struct bench_clock *c)
{
	fprintf(f, "machine: %ld cpus, %s, %s, clocksource %s\n", m->nproc, m->model, m->kernel,
	        m->clocksource);
	fprintf(f, "command: %s\n", command);
	fprintf(f, "binary:  %s (built %s)\n", m->binary, m->built);
	fprintf(f, "bus:     %s pages; baseline rings: %s pages\n", bench_bus_backing(),
	        bench_baseline_pages());
	if (c)
		fprintf(f, "clock:   %s (%.4f ns/tick)\n", c->tsc ? "tsc" : "CLOCK_MONOTONIC",
		        c->ns_per_tick);
}

int bench_parse_cpus(const char *s, int *cpus, int max)
{
	int n = 0;

	while (*s) {
		char *end;
		long v;

		errno = 0;
		v = strtol(s, &end, 10);
		if (end == s || errno || v < 0 || v >= CPU_SETSIZE || n >= max)
			return -EINVAL;
		cpus[n++] = (int)v;
		if (*end == ',' && end[1])
			s = end + 1;
		else if (*end == '\0')
			s = end;
		else
			return -EINVAL;
	}
	return n > 0 ? n : -EINVAL;
}

int bench_distinct_cpus(const int *cpus, int n)
{
	int distinct = 0;

	for (int i = 0; i < n; i++) {
		int seen = 0;

		for (int j = 0; j < i; j++)
			seen |= cpus[j] == cpus[i];
		distinct += !seen;
	}
	return distinct;
}

int bench_parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	uint64_t mul = 1;

	if (!s || !*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (end == s || errno)
		return -EINVAL;
	if (*end == 'k' || *end == 'K')
		mul = 1000;
	else if (*end == 'M')
		mul = 1000000;
	else if (*end == 'G')
		mul = 1000000000;
	if (mul != 1)
		end++;
	if (*end != '\0' || v > UINT64_MAX / mul)
		return -EINVAL;
	*out = v * mul;
	return 0;
}

static char bench_bus_name[SHMBUS_NAME_MAX + 1];
static pid_t bench_bus_owner;

void bench_bus_remove(void)
{
	/* Only the process that created the bus removes it (children forked
	 * from it inherit the atexit handler but _exit past it anyway). */
	if (!bench_bus_name[0] || getpid() != bench_bus_owner)
		return;
	if (bench_bus)
		shmbus_bus_close(bench_bus);
	bench_bus = NULL;
	shmbus_bus_destroy(bench_bus_name);
	bench_bus_name[0] = '\0';
}

const char *bench_bus_backing(void)
{
	return bench_bus ? shmbus_backing_name(shmbus_bus_backing(bench_bus)) : "no bus";
}

int bench_bus_create(size_t arena_bytes, const char **name)
{
	struct shmbus_bus_opts opts;
	int rc;

	shmbus_bus_opts_init(&opts);
	opts.arena_bytes = arena_bytes;
	opts.participant_name = "shmbus-bench";
	snprintf(bench_bus_name, sizeof(bench_bus_name), "bench-%d", (int)getpid());
	bench_bus_owner = getpid();
	rc = shmbus_bus_create(bench_bus_name, &opts, &bench_bus);
	if (rc < 0) {
		bench_bus_name[0] = '\0';
		return rc;
	}
	atexit(bench_bus_remove);
	*name = bench_bus_name;
	return 0;
}

void bench_lat_median(const struct bench_lat *r, int n, struct bench_lat *out)
{
	double v[BENCH_MAX_ROUNDS];

#define LAT_MED(field)                                                                             \
	do {                                                                                       \
		for (int i = 0; i < n; i++)                                                        \
			v[i] = (double)r[i].field;                                                 \
		out->field = (int64_t)(bench_median(v, (size_t)n) + 0.5);                          \
	} while (0)
	memset(out, 0, sizeof(*out));
	LAT_MED(min);
	LAT_MED(p50);
	LAT_MED(p90);
	LAT_MED(p99);
	LAT_MED(p999);
	LAT_MED(max);
#undef LAT_MED
	for (int i = 0; i < n; i++)
		v[i] = r[i].mean;
	out->mean = bench_median(v, (size_t)n);
	for (int i = 0; i < n; i++)
		v[i] = (double)r[i].count;
	out->count = (uint64_t)(bench_median(v, (size_t)n) + 0.5);
}
