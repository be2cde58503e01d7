/*
 * test_examples.c - the programs of examples/ run as a user runs them:
 * the consumers start first and say "ready", then the publisher runs 5
 * rounds (4 symbols: 2 trades and 1 quote each per round, then one end
 * marker). The filtered consumer must print exactly the trades and quotes
 * of AAPL and SPY, in publish order; the two group members must split the
 * 4 symbols between them, each symbol whole (10 trades) and in order.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <shmbus/shmbus.h>

#include "test_fs.h"

#define BUS        "ex"
#define TIMEOUT_MS 20000

struct proc {
	pid_t pid;
	int fd; /* read end of its stdout; -1 at EOF */
	char out[32768];
	size_t len;
};

static char dir[64];
static shmbus_bus *bus;

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Start argv with its stdout on a pipe (stderr stays the test's). */
static void start(struct proc *p, char *const argv[])
{
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	p->len = 0;
	p->out[0] = '\0';
	p->pid = fork();
	assert_true(p->pid >= 0);
	if (p->pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		close(fds[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	p->fd = fds[0];
}

/* Read p's output until it contains `needle` (NULL: until EOF) or the
 * deadline passes. Returns 1 when found (or EOF reached), 0 otherwise. */
static int read_until(struct proc *p, const char *needle, int64_t deadline)
{
	while (p->fd >= 0 && !(needle && strstr(p->out, needle))) {
		int64_t left = deadline - now_ms();
		struct pollfd pfd = {.fd = p->fd, .events = POLLIN};
		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			return 0;
		ssize_t n = read(p->fd, p->out + p->len, sizeof(p->out) - 1 - p->len);
		if (n <= 0) {
			close(p->fd);
			p->fd = -1;
			break;
		}
		p->len += (size_t)n;
		p->out[p->len] = '\0';
	}
	return needle ? strstr(p->out, needle) != NULL : 1;
}

/* Collect p's output to EOF and return its exit status (-1: killed after
 * the deadline or by a signal). */
static int finish(struct proc *p)
{
	int ok = read_until(p, NULL, now_ms() + TIMEOUT_MS);
	if (!ok) {
		kill(p->pid, SIGKILL);
		if (p->fd >= 0)
			close(p->fd);
	}
	int st;
	waitpid(p->pid, &st, 0);
	if (!ok || !WIFEXITED(st)) {
		fprintf(stderr, "pid %d did not finish; its output:\n%s\n", (int)p->pid, p->out);
		return -1;
	}
	return WEXITSTATUS(st);
}

static void run_publisher(const char *expect)
{
	struct proc pub;
	start(&pub, (char *const[]){EX_PUBLISHER, BUS, "5", NULL});
	assert_int_equal(finish(&pub), 0);
	assert_non_null(strstr(pub.out, expect));
}

static void test_examples_consumer_gets_only_its_symbols(void **state)
{
	(void)state;
	struct proc c;
	start(&c, (char *const[]){EX_CONSUMER, BUS, "t-consumer", NULL});
	assert_true(read_until(&c, "ready\n", now_ms() + TIMEOUT_MS));
	/* 30 events reach the consumer, plus its end marker */
	run_publisher("publisher: 40 trades, 20 quotes, 1 end marker; 31 deliveries\n");
	assert_int_equal(finish(&c), 0);
	assert_non_null(strstr(c.out, "consumer: 30 events\n"));

	int trades[2] = {0}, quotes[2] = {0};
	unsigned long long last = 0, seq;
	char kind[8], sym[8];
	for (char *line = strtok(c.out, "\n"); line; line = strtok(NULL, "\n")) { /* edits out */
		if (strncmp(line, "trade ", 6) != 0 && strncmp(line, "quote ", 6) != 0)
			continue;
		const char *s = strstr(line, " seq ");
		assert_non_null(s);
		assert_int_equal(sscanf(line, "%7s %7s", kind, sym), 2);
		assert_int_equal(sscanf(s, " seq %llu", &seq), 1);
		assert_true(seq > last); /* one ring: publish order */
		last = seq;
		int i = !strcmp(sym, "AAPL") ? 0 : !strcmp(sym, "SPY") ? 1 : -1;
		assert_true(i >= 0); /* MSFT and QQQ are filtered out */
		(kind[0] == 't' ? trades : quotes)[i]++;
	}
	assert_int_equal(trades[0], 10);
	assert_int_equal(trades[1], 10);
	assert_int_equal(quotes[0], 5);
	assert_int_equal(quotes[1], 5);
	assert_int_equal(shmbus_stat_find_ring(bus, "t-consumer"), -ENOENT); /* unsubscribed */
}

static void test_examples_group_splits_symbols_in_order(void **state)
{
	(void)state;
	struct proc m[2];
	start(&m[0], (char *const[]){EX_GROUP_MEMBER, "0", BUS, NULL});
	start(&m[1], (char *const[]){EX_GROUP_MEMBER, "1", BUS, NULL});
	for (int i = 0; i < 2; i++)
		assert_true(read_until(&m[i], "ready\n", now_ms() + TIMEOUT_MS));
	/* 40 trades, each to one member, and the end marker to both */
	run_publisher("publisher: 40 trades, 20 quotes, 1 end marker; 42 deliveries\n");

	static const char *const names[] = {"AAPL", "MSFT", "SPY", "QQQ"};
	int owners[4] = {0};
	long total = 0;
	for (int i = 0; i < 2; i++) {
		assert_int_equal(finish(&m[i]), 0);
		char want[64];
		for (int k = 0; k < 4; k++) {
			snprintf(want, sizeof(want), "member %d: %s 10 trades\n", i, names[k]);
			owners[k] += strstr(m[i].out, want) != NULL;
		}
		long n;
		int nsym;
		snprintf(want, sizeof(want), "member %d: ", i);
		const char *sum = strstr(m[i].out, want);
		while (sum && sscanf(sum, "member %*d: %ld trades, %d symbols", &n, &nsym) != 2)
			sum = strstr(sum + 1, want);
		assert_non_null(sum);
		assert_non_null(strstr(sum, "order kept\n"));
		total += n;
	}
	for (int k = 0; k < 4; k++)
		assert_int_equal(owners[k], 1); /* each symbol whole, at one member */
	assert_int_equal(total, 40);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/shmbus-examples-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	setenv("SHMBUS_DIR", dir, 1);
	/* The bus exists before the programs start (they only open it). */
	struct shmbus_bus_opts bo;
	shmbus_bus_opts_init(&bo);
	bo.arena_bytes = 4u << 20;
	bo.participant_name = "test-examples";
	return shmbus_bus_create(BUS, &bo, &bus) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	if (bus)
		shmbus_bus_close(bus);
	shmbus_bus_destroy(BUS);
	tfs_rm_rf(dir);
	return 0;
}

/* Exit 0 for -h/--help (usage on stdout), 2 for a usage error, as the
 * examples' README says: ROUNDS "2x" ran 2 rounds (atoi), "--help" was
 * taken for a bus name, and a bad bus name was a failure (exit 1). */
static void test_examples_usage(void **state)
{
	static const struct {
		const char *argv[4];
		int want;
	} runs[] = {
		{{EX_PUBLISHER, "--help"}, 0},
		{{EX_PUBLISHER, BUS, "2x"}, 2},
		{{EX_PUBLISHER, BUS, "0"}, 2},
		{{EX_PUBLISHER, "-x"}, 2},
		{{EX_PUBLISHER, "bad/name"}, 2},
		{{EX_CONSUMER, "-h"}, 0},
		{{EX_CONSUMER, "bad/name"}, 2},
		{{EX_CONSUMER, BUS, "-r"}, 2},
		{{EX_GROUP_MEMBER, "--help"}, 0},
		{{EX_GROUP_MEMBER, "2"}, 2},
		{{EX_GROUP_MEMBER, "0", "bad/name"}, 2},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
		struct proc p;
		start(&p, (char *const *)runs[i].argv);
		int rc = finish(&p);
		if (rc != runs[i].want || (runs[i].want == 0) != (strstr(p.out, "usage:") != NULL))
			fail_msg("%s %s %s: exit %d, want %d; stdout: %s", runs[i].argv[0],
				 runs[i].argv[1], runs[i].argv[2] ? runs[i].argv[2] : "", rc,
				 runs[i].want, p.out);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_examples_consumer_gets_only_its_symbols),
		cmocka_unit_test(test_examples_group_splits_symbols_in_order),
		cmocka_unit_test(test_examples_usage),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
