/*
 * shmbus-demo - two processes exchanging trades through a bus.
 *
 * The parent creates a bus, subscribes a ring to trades and forks a
 * producer process that publishes N trades (zero copy: claim, write,
 * commit) over a set of interned symbols. The parent consumes them,
 * checks sequence order, and prints throughput and the publish-to-receive
 * latency distribution. Exit codes: 0 ok, 1 failure, 2 usage.
 */
#include <errno.h>
#include <stdbool.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <shmbus/histogram.h>
#include <shmbus/shmbus.h>

#include "tool_version.h"

static const char *const usage_text =
	"usage: shmbus-demo [--bus NAME] [--events N] [--json] [--help] [--version]\n"
	"  Creates bus NAME (default demo-<pid>), forks a producer that publishes N\n"
	"  trades (default 2000000) at full speed and N/10 paced at 100k/s, consumes\n"
	"  them and prints the events/s of the first phase and the latency of the second.\n";

struct demo {
	const char *bus_name;
	long events;
	int json;
	struct shmbus_hist *lat;
	long got;
	long total;
	int64_t fast_end_ns;
	long order_errors;
	uint64_t last_seq;
};

static int fail(const char *what, int rc)
{
	fprintf(stderr, "shmbus-demo: %s: %s%s%s\n", what, shmbus_strerror(rc),
		*shmbus_errmsg() ? " - " : "", shmbus_errmsg());
	return 1;
}

/* Let the consumer empty the ring before the paced phase. */
static void wait_drained(shmbus_bus *bus)
{
	int idx = shmbus_stat_find_ring(bus, "demo");
	struct shmbus_ring_stat rs;
	while (idx >= 0 && shmbus_stat_ring(bus, (uint32_t)idx, &rs) == 0 && rs.depth > 0)
		usleep(1000);
}

static int run_producer(const char *bus_name, long n)
{
	shmbus_bus *bus;
	shmbus_producer *p;
	int rc = shmbus_bus_open(bus_name, "demo-producer", SHMBUS_ROLE_PRODUCER, &bus);
	if (rc)
		return fail("attach", rc);
	if ((rc = shmbus_producer_open(bus, NULL, &p)))
		return fail("producer", rc);
	static const char *const syms[] = {"SPY", "IBM", "MSFT", "AAPL", "BTC-USD"};
	uint32_t ids[5];
	for (int i = 0; i < 5; i++) {
		int64_t id = shmbus_symbol_intern(bus, syms[i], strlen(syms[i]));
		if (id < 0)
			return fail("intern", (int)id);
		ids[i] = (uint32_t)id;
	}
	double price = 100.0;
	int64_t next = 0;
	for (long i = 0; i < n + n / 10; i++) {
		struct shmbus_trade *t;
		bool paced = i >= n;
		if (i == n)
			wait_drained(bus);
		while (paced && shmbus_mono_ns() < next)
			; /* 10 us between paced events */
		if (paced)
			next = shmbus_mono_ns() + 10000;
		shmbus_claim(p, SHMBUS_EV_TRADE, ids[i % 5], sizeof(*t), (void **)&t);
		price += (i & 1) ? 0.01 : -0.01;
		t->price = price;
		t->size = paced ? 1 : 100; /* size 1 marks the paced phase */
		t->h.event_time_ns = shmbus_now_ns();
		shmbus_commit(p);
	}
	shmbus_producer_close(p);
	shmbus_bus_close(bus);
	return 0;
}

static void on_event(const struct shmbus_event_header *ev, void *ctx)
{
	struct demo *d = ctx;
	const struct shmbus_trade *t = (const struct shmbus_trade *)ev;
	if (t->size == 1)
		shmbus_hist_record(d->lat, shmbus_now_ns() - ev->publish_time_ns);
	else
		d->fast_end_ns = shmbus_mono_ns();
	if (ev->seq != d->last_seq + 1)
		d->order_errors++;
	d->last_seq = ev->seq;
	d->got++;
}

static void report(const struct demo *d, int64_t ns)
{
	double rate = d->events * 1e9 / (double)ns;
	struct shmbus_hist *h = d->lat;
	if (d->json) {
		printf("{\"events\":%ld,\"order_errors\":%ld,\"events_per_sec\":%.0f,"
		       "\"latency\":",
		       d->events, d->order_errors, rate);
		shmbus_hist_write_json_summary(h, stdout, 1.0);
		printf("}\n");
		return;
	}
	printf("shmbus-demo: %ld events in %.3f s: %.2f M events/s, %ld out of order\n", d->events,
	       ns / 1e9, rate / 1e6, d->order_errors);
	printf("publish->receive latency at 100k events/s (%lld samples, ns): p50 %lld  p90 %lld  p99 %lld  p99.9 %lld  max "
	       "%lld\n",
	       (long long)shmbus_hist_total_count(h), (long long)shmbus_hist_value_at_percentile(h, 50),
	       (long long)shmbus_hist_value_at_percentile(h, 90),
	       (long long)shmbus_hist_value_at_percentile(h, 99),
	       (long long)shmbus_hist_value_at_percentile(h, 99.9), (long long)shmbus_hist_max(h));
}

static int parse_args(int argc, char **argv, struct demo *d, char *namebuf, size_t len)
{
	static const struct option opts[] = {{"bus", required_argument, 0, 'b'},
					     {"events", required_argument, 0, 'n'},
					     {"json", no_argument, 0, 'j'},
					     {"help", no_argument, 0, 'h'},
					     {0, 0, 0, 0}};
	int c;
	snprintf(namebuf, len, "demo-%d", (int)getpid());
	d->bus_name = namebuf;
	d->events = 2000000;
	while ((c = getopt_long(argc, argv, "b:n:jh", opts, NULL)) != -1) {
		char *end;
		switch (c) {
		case 'b': {
			char path[4096];
			if (shmbus_bus_path(optarg, path, sizeof(path)) == -EINVAL) {
				fprintf(stderr, "shmbus-demo: --bus: %s\n", shmbus_errmsg());
				return 2;
			}
			d->bus_name = optarg;
			break;
		}
		case 'n':
			errno = 0;
			d->events = strtol(optarg, &end, 10);
			if (errno || *end || d->events <= 0) {
				fprintf(stderr, "shmbus-demo: --events '%s' is not a positive "
						"integer\n", optarg);
				return 2;
			}
			break;
		case 'j':
			d->json = 1;
			break;
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		default:
			fputs(usage_text, stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "shmbus-demo: unexpected argument '%s'\n%s", argv[optind], usage_text);
		return 2;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (tool_version_asked(argc, argv))
		return tool_version_print("shmbus-demo");
	struct demo d = {0};
	char namebuf[SHMBUS_NAME_MAX + 1];
	int rc = parse_args(argc, argv, &d, namebuf, sizeof(namebuf));
	if (rc)
		return rc;
	struct shmbus_bus_opts bo;
	shmbus_bus_opts_init(&bo);
	bo.arena_bytes = 16u << 20;
	bo.participant_name = "demo-consumer";
	shmbus_bus *bus;
	shmbus_consumer *c;
	if ((rc = shmbus_bus_create(d.bus_name, &bo, &bus)))
		return fail("create bus", rc);
	struct shmbus_sub_opts so;
	shmbus_sub_opts_init(&so);
	so.types = SHMBUS_TYPE_BIT(SHMBUS_EV_TRADE);
	so.slot_size = 64;
	so.capacity = 1u << 16;
	if ((rc = shmbus_subscribe(bus, "demo", &so, &c)) ||
	    (rc = shmbus_hist_create(1, 3600LL * 1000000000, 3, &d.lat))) {
		shmbus_bus_destroy(d.bus_name);
		return fail("subscribe", rc);
	}
	int64_t t0 = shmbus_mono_ns();
	pid_t child = fork();
	if (child == 0)
		_exit(run_producer(d.bus_name, d.events));
	int status = 0;
	d.total = d.events + d.events / 10;
	while (d.got < d.total) {
		if (shmbus_poll(c, on_event, &d, 256) > 0)
			continue;
		if (waitpid(child, &status, WNOHANG) == child && d.got < d.total &&
		    shmbus_poll(c, on_event, &d, 256) == 0) {
			child = 0;
			break; /* producer died early */
		}
		shmbus_wait(c, 100 * 1000 * 1000);
	}
	if (child > 0)
		waitpid(child, &status, 0);
	shmbus_consumer_close(c);
	shmbus_bus_close(bus);
	shmbus_bus_destroy(d.bus_name);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || d.got != d.total) {
		fprintf(stderr, "shmbus-demo: producer failed (status %d), %ld of %ld events\n",
			status, d.got, d.total);
		return 1;
	}
	report(&d, d.fast_end_ns - t0);
	shmbus_hist_destroy(d.lat);
	return d.order_errors ? 1 : 0;
}
