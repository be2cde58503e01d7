/*
 * use_shmbus.c - a program of "another project": built by test_install
 * against an installed shmbus, with nothing but
 * `cc use_shmbus.c $(pkg-config --cflags --libs shmbus)` (and the same
 * with c++), then run. Not part of the build: the test compiles it. It
 * is both C and C++, and prints "ok" after a publish/poll round trip. It
 * defines functions named as the library's internal ones: only the
 * installed library's public names may clash with a program's.
 */
#include <shmbus/shmbus.h>
#include <stdio.h>
#include <string.h>

static int got;

/* Names a program of its own may well have, which the library uses inside
 * (bus_lock is in the same object as shmbus_bus_create): the installed
 * libshmbus.a exports only shmbus_*, so these link beside it, and the
 * library still calls its own. */
#ifdef __cplusplus
extern "C" {
#endif
int bus_lock(void *bus);
int proc_alive(int pid, unsigned long long start);
void futex_wake_all(void *word);
int bus_lock(void *bus)
{
	return bus != NULL ? -1 : -2;
}
int proc_alive(int pid, unsigned long long start)
{
	return pid == 0 && start == 0;
}
void futex_wake_all(void *word)
{
	(void)word;
}
#ifdef __cplusplus
}
#endif

static void on_event(const struct shmbus_event_header *ev, void *ctx)
{
	(void)ctx;
	got += ev->type == SHMBUS_EV_TRADE && ev->seq == 1;
}

int main(void)
{
	shmbus_bus *bus;
	struct shmbus_sub_opts so;
	struct shmbus_producer_opts po;
	shmbus_consumer *c;
	shmbus_producer *p;
	struct shmbus_trade t;
	int rc = shmbus_bus_create(NULL, NULL, &bus);

	if (rc != 0) {
		fprintf(stderr, "bus: %s\n", shmbus_strerror(rc));
		return 1;
	}
	shmbus_sub_opts_init(&so);
	so.capacity = 16;
	so.slot_size = 64;
	shmbus_producer_opts_init(&po);
	if (shmbus_subscribe(bus, "probe", &so, &c) != 0 || shmbus_producer_open(bus, &po, &p) != 0)
		return 2;
	memset(&t, 0, sizeof t);
	t.h.type = SHMBUS_EV_TRADE;
	t.h.version = SHMBUS_EVENT_LAYOUT_VERSION;
	t.h.size = sizeof t;
	t.h.symbol_id = 1;
	t.price = 1.25;
	if (shmbus_publish(p, &t) != 1 || shmbus_poll(c, on_event, NULL, 16) != 1 || got != 1)
		return 3;
	shmbus_producer_close(p);
	shmbus_consumer_close(c);
	shmbus_bus_close(bus);
	printf("ok\n");
	return 0;
}
