/*
 * test_util.h - helpers shared by the tests of the bus core (tests/ring).
 *
 * Every test runs against a fresh temporary SHMBUS_DIR (made by
 * tu_setup, removed by tu_teardown) so it never touches a real bus.
 * Forked children and extra threads must not use cmocka's assert_*
 * (they longjmp into the runner of the wrong process or thread): children
 * use TU_CHILD_CHECK, which prints the failed condition and _exit()s with
 * status TU_CHILD_FAIL; threads record failures with TU_THREAD_CHECK and
 * the main thread asserts on them after joining.
 *
 * Everything here is static so each test file is one self-contained unit.
 */
#ifndef SHMBUS_TEST_RING_UTIL_H
#define SHMBUS_TEST_RING_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <shmbus/shmbus.h>

#define TU_CHILD_FAIL 3

/* In a forked child: on failure print where and exit TU_CHILD_FAIL. */
#define TU_CHILD_CHECK(cond)                                                                       \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "child %d: %s:%d: check failed: %s\n", (int)getpid(),      \
			        __FILE__, __LINE__, #cond);                                        \
			_exit(TU_CHILD_FAIL);                                                      \
		}                                                                                  \
	} while (0)

/* In a thread: remember the first failed line in *failp (an atomic int). */
#define TU_THREAD_CHECK(failp, cond)                                                               \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			int tu_zero_ = 0;                                                          \
			atomic_compare_exchange_strong((failp), &tu_zero_, __LINE__);              \
			fprintf(stderr, "thread: %s:%d: check failed: %s\n", __FILE__, __LINE__,   \
			        #cond);                                                            \
		}                                                                                  \
	} while (0)

static char tu_dir_path[160];

/* cmocka setup: make a fresh SHMBUS_DIR (under /dev/shm, else /tmp). */
static inline int tu_setup(void **state)
{
	static const char *const bases[] = {"/dev/shm", "/tmp"};
	(void)state;
	for (size_t i = 0; i < sizeof bases / sizeof bases[0]; i++) {
		snprintf(tu_dir_path, sizeof tu_dir_path, "%s/shmbus-test-XXXXXX", bases[i]);
		if (mkdtemp(tu_dir_path) != NULL) {
			setenv("SHMBUS_DIR", tu_dir_path, 1);
			return 0;
		}
	}
	fprintf(stderr, "tu_setup: mkdtemp failed: %s\n", strerror(errno));
	return -1;
}

/* cmocka teardown: remove SHMBUS_DIR and the files in it (it is flat). */
static inline int tu_teardown(void **state)
{
	(void)state;
	if (tu_dir_path[0] == '\0')
		return 0;
	DIR *d = opendir(tu_dir_path);
	if (d != NULL) {
		struct dirent *de;
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			char p[sizeof tu_dir_path + 260];
			snprintf(p, sizeof p, "%s/%s", tu_dir_path, de->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(tu_dir_path);
	tu_dir_path[0] = '\0';
	unsetenv("SHMBUS_DIR");
	return 0;
}

#define TU_TEST(fn) cmocka_unit_test_setup_teardown(fn, tu_setup, tu_teardown)

/* Path of file `name` inside the test's SHMBUS_DIR. */
static inline void tu_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tu_dir_path, name);
}

/* Number of entries in SHMBUS_DIR (excluding . and ..). */
static inline int tu_dir_entries(void)
{
	DIR *d = opendir(tu_dir_path);
	if (d == NULL)
		return -1;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
	closedir(d);
	return n;
}

static inline int64_t tu_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void tu_sleep_us(long us)
{
	struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Small-bus options: arena `arena_mib` MiB, no hugetlbfs, defaults else. */
static inline void tu_bus_opts(struct shmbus_bus_opts *o, size_t arena_mib)
{
	shmbus_bus_opts_init(o);
	o->arena_bytes = arena_mib << 20;
	o->hugepages = SHMBUS_HUGEPAGES_NEVER;
	o->max_rings = 16;
	o->max_participants = 32;
	o->max_producers = 32;
	o->max_symbols = 1024;
}

/* Create a small named (or anonymous, name NULL) bus; 0 or the error. */
static inline int tu_bus_create(const char *name, size_t arena_mib, shmbus_bus **out)
{
	struct shmbus_bus_opts o;
	tu_bus_opts(&o, arena_mib);
	return shmbus_bus_create(name, &o, out);
}

/* Subscription options for a small ring. */
static inline void tu_sub_opts(struct shmbus_sub_opts *s, uint32_t capacity, uint32_t slot_size,
                               enum shmbus_full_policy policy)
{
	shmbus_sub_opts_init(s);
	s->capacity = capacity;
	s->slot_size = slot_size;
	s->policy = policy;
}

/* A trade event for publish (seq 0: the producer assigns identity). */
static inline struct shmbus_trade tu_trade(uint32_t symbol, double price)
{
	struct shmbus_trade t;
	memset(&t, 0, sizeof t);
	t.h.type = SHMBUS_EV_TRADE;
	t.h.version = SHMBUS_EVENT_LAYOUT_VERSION;
	t.h.size = sizeof t;
	t.h.symbol_id = symbol;
	t.price = price;
	t.size = 1.0;
	return t;
}

/* Fill a generic event of `type` in buf (zeroed, header set). */
static inline void tu_event(void *buf, uint16_t type, uint32_t symbol, uint16_t size)
{
	struct shmbus_event_header *h = buf;
	memset(buf, 0, size);
	h->type = type;
	h->version = SHMBUS_EVENT_LAYOUT_VERSION;
	h->size = size;
	h->symbol_id = symbol;
}

/* ---- a sink that copies every polled event ---- */

struct tu_rec {
	union {
		struct shmbus_event_header h;
		uint8_t bytes[SHMBUS_EVENT_MAX];
	};
};

struct tu_sink {
	struct tu_rec *ev;
	size_t n, cap;
	size_t overflow;
};

static inline void tu_sink_init(struct tu_sink *s, size_t cap)
{
	s->ev = calloc(cap ? cap : 1, sizeof *s->ev);
	s->n = 0;
	s->cap = cap;
	s->overflow = 0;
}

static inline void tu_sink_free(struct tu_sink *s)
{
	free(s->ev);
	s->ev = NULL;
}

static inline void tu_sink_fn(const struct shmbus_event_header *ev, void *ctx)
{
	struct tu_sink *s = ctx;
	if (s->n >= s->cap) {
		s->overflow++;
		return;
	}
	size_t len = ev->size <= SHMBUS_EVENT_MAX ? ev->size : SHMBUS_EVENT_MAX;
	memcpy(s->ev[s->n].bytes, ev, len);
	s->n++;
}

/* Poll until `want` events sit in the sink or timeout_ms passes. */
static inline size_t tu_poll_until(shmbus_consumer *c, struct tu_sink *s, size_t want,
                                   int timeout_ms)
{
	int64_t end = tu_mono_ms() + timeout_ms;
	while (s->n + s->overflow < want && tu_mono_ms() < end) {
		if (shmbus_poll(c, tu_sink_fn, s, 64) == 0)
			shmbus_wait(c, 1000000);
	}
	return s->n + s->overflow;
}

/* Poll until the ring gives nothing; returns the events added. */
static inline size_t tu_drain(shmbus_consumer *c, struct tu_sink *s)
{
	size_t before = s->n + s->overflow;
	while (shmbus_poll(c, tu_sink_fn, s, 64) > 0)
		;
	return s->n + s->overflow - before;
}

/* ---- stats ---- */

static inline int tu_ring_stat(const shmbus_bus *bus, const char *ring, struct shmbus_ring_stat *rs)
{
	int idx = shmbus_stat_find_ring(bus, ring);
	if (idx < 0)
		return idx;
	return shmbus_stat_ring(bus, (uint32_t)idx, rs);
}

/* Find the producer counter slot with source_id (and pid, unless 0). */
static inline int tu_producer_stat(const shmbus_bus *bus, uint32_t source_id, int32_t pid,
                                   struct shmbus_producer_stat *out)
{
	for (uint32_t i = 0; i < 65536; i++) {
		int rc = shmbus_stat_producer(bus, i, out);
		if (rc == -ERANGE)
			break;
		if (rc == 0 && out->source_id == source_id && (pid == 0 || out->pid == pid))
			return (int)i;
	}
	return -ENOENT;
}

/* Find the participant entry of pid named `name` (NULL: any name). */
static inline int tu_participant_stat(const shmbus_bus *bus, int32_t pid, const char *name,
                                      struct shmbus_participant_stat *out)
{
	for (uint32_t i = 0; i < 65536; i++) {
		int rc = shmbus_stat_participant(bus, i, out);
		if (rc == -ERANGE)
			break;
		if (rc == 0 && out->pid == pid && (name == NULL || strcmp(out->name, name) == 0))
			return (int)i;
	}
	return -ENOENT;
}

/* ---- processes and pipes ---- */

/* Write all len bytes (retrying on EINTR); 0 or -errno. */
static inline int tu_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read exactly len bytes within timeout_ms (< 0: forever); 0, -ETIMEDOUT,
 * -EPIPE (writer closed early) or -errno. */
static inline int tu_read_all(int fd, void *buf, size_t len, int timeout_ms)
{
	char *p = buf;
	int64_t end = tu_mono_ms() + timeout_ms;
	while (len > 0) {
		int left = timeout_ms < 0 ? -1 : (int)(end - tu_mono_ms());
		if (timeout_ms >= 0 && left <= 0)
			return -ETIMEDOUT;
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int pr = poll(&pfd, 1, left);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0)
			return -errno;
		if (pr == 0)
			return -ETIMEDOUT;
		ssize_t n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EPIPE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Wait for child pid up to timeout_ms; on timeout SIGKILL it and reap it.
 * Returns 0 with the wait status in *status, or -ETIMEDOUT (killed).
 */
static inline int tu_wait_child(pid_t pid, int timeout_ms, int *status)
{
	int64_t end = tu_mono_ms() + timeout_ms;
	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);
		if (r == pid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
		if (tu_mono_ms() >= end) {
			kill(pid, SIGKILL);
			waitpid(pid, status, 0);
			return -ETIMEDOUT;
		}
		tu_sleep_us(1000);
	}
}

/* 1 when a wait status says "exited normally with 0". */
static inline int tu_exited_ok(int status)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 1;
	if (WIFSIGNALED(status))
		fprintf(stderr, "child killed by signal %d (%s)\n", WTERMSIG(status),
		        strsignal(WTERMSIG(status)));
	else if (WIFEXITED(status))
		fprintf(stderr, "child exited with status %d\n", WEXITSTATUS(status));
	return 0;
}

/* Run fn(arg) in a forked child that exits with fn's return value; wait
 * up to timeout_ms. Returns the wait status (or -1 on timeout). A crash
 * of fn shows as WIFSIGNALED instead of killing the test runner. */
static inline int tu_run_in_child(int (*fn)(void *), void *arg, int timeout_ms)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0)
		_exit(fn(arg));
	int status = 0;
	if (tu_wait_child(pid, timeout_ms, &status) != 0)
		return -1;
	return status;
}

/* Intern symbols "S1".."Sn" on bus: sym[i] = id of "S<i>" (sym has n + 1). */
static inline void tu_intern_symbols(shmbus_bus *bus, uint32_t *sym, int n)
{
	for (int i = 1; i <= n; i++) {
		char name[16];
		int len = snprintf(name, sizeof name, "S%d", i);
		int64_t id = shmbus_symbol_intern(bus, name, (size_t)len);
		assert_true(id >= 1);
		sym[i] = (uint32_t)id;
	}
}

/* ---- a bus with one producer and named symbols (routing, batch tests) ---- */

#define TU_ENV_NSYM 30 /* symbols S1..S30 */
#define TU_ENV_SRC  11 /* the producer's source id */

struct tu_env {
	shmbus_bus *bus;
	shmbus_producer *p;
	uint32_t sym[TU_ENV_NSYM + 1]; /* sym[i]: id of "S<i>" */
};

/* An anonymous bus, symbols S1..S30, a producer (source 11, `flags`). */
static inline void tu_env_open_flags(struct tu_env *e, uint32_t flags)
{
	memset(e, 0, sizeof *e);
	assert_int_equal(tu_bus_create(NULL, 16, &e->bus), 0);
	tu_intern_symbols(e->bus, e->sym, TU_ENV_NSYM);
	struct shmbus_producer_opts po;
	shmbus_producer_opts_init(&po);
	po.source_id = TU_ENV_SRC;
	po.flags = flags;
	assert_int_equal(shmbus_producer_open(e->bus, &po, &e->p), 0);
	assert_int_equal(shmbus_producer_source(e->p), TU_ENV_SRC);
}

static inline void tu_env_open(struct tu_env *e)
{
	tu_env_open_flags(e, 0);
}

static inline void tu_env_close(struct tu_env *e)
{
	shmbus_producer_close(e->p);
	assert_int_equal(shmbus_bus_close(e->bus), 0);
}

/* The bus's counters of this process's producer. */
static inline struct shmbus_producer_stat tu_env_prod_stat(const struct tu_env *e)
{
	struct shmbus_producer_stat ps;
	assert_true(tu_producer_stat(e->bus, TU_ENV_SRC, getpid(), &ps) >= 0);
	return ps;
}

/* Subscribe ring `name` with so; the test fails with the reason if not. */
static inline shmbus_consumer *tu_env_sub(struct tu_env *e, const char *name,
                                          const struct shmbus_sub_opts *so)
{
	shmbus_consumer *c = NULL;
	int rc = shmbus_subscribe(e->bus, name, so, &c);
	if (rc != 0)
		fail_msg("subscribe %s: %s (%s)", name, shmbus_strerror(rc), shmbus_errmsg());
	return c;
}

/* Subscribe the n members of consumer group `group` (rings "<group>0"..,
 * block policy, capacity slots of slot_size bytes) into m[0..n). */
static inline void tu_env_group(struct tu_env *e, const char *group, uint32_t n, uint32_t capacity,
                                uint32_t slot_size, shmbus_consumer **m)
{
	for (uint32_t k = 0; k < n; k++) {
		struct shmbus_sub_opts so;
		char name[48];
		tu_sub_opts(&so, capacity, slot_size, SHMBUS_POLICY_BLOCK);
		so.group = group;
		so.group_size = n;
		so.group_member = k;
		snprintf(name, sizeof name, "%s%u", group, k);
		m[k] = tu_env_sub(e, name, &so);
	}
}

/* A deterministic PRNG (splitmix64) for corruption and payloads. */
static inline uint64_t tu_rand(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/* Mix of a (source, seq) pair, used as payload and checksum. */
static inline uint64_t tu_mix(uint64_t a, uint64_t b)
{
	uint64_t s = a * UINT64_C(0x9E3779B97F4A7C15) ^ b;
	return tu_rand(&s);
}

#endif
