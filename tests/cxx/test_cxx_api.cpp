/*
 * test_cxx_api.cpp - the public headers serve C++ programs too (trading
 * systems are mostly C++): every header compiles as C++17 with -Wall
 * -Wextra -pedantic, the layouts C++ sees are the ones C sees, and a
 * publish / batch publish / poll round trip through an anonymous bus
 * works from C++ code. (event.h once used C11's _Static_assert, which
 * no C++ compiler accepts.)
 */
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <csetjmp>
#include <cerrno>
#include <cstring>
#include <vector>

extern "C" {
#include <cmocka.h>
}

#include <shmbus/shmbus.h>
#include <shmbus/histogram.h>
#include <shmbus/journal.h>
#include <shmbus/stat.h>

static_assert(sizeof(shmbus_trade) == 56, "a trade fits a 64-byte slot with its metadata");
static_assert(offsetof(shmbus_event_header, seq) == 16, "header layout as in C");
static_assert(sizeof(shmbus_quote) == 72, "quote layout as in C");

namespace {

struct sink {
	std::vector<shmbus_trade> got;
};

void on_event(const shmbus_event_header *ev, void *ctx)
{
	auto *s = static_cast<sink *>(ctx);
	shmbus_trade t;
	std::memcpy(&t, ev, sizeof t);
	s->got.push_back(t);
}

shmbus_trade make_trade(uint32_t sym, double price)
{
	shmbus_trade t;
	std::memset(&t, 0, sizeof t);
	t.h.type = SHMBUS_EV_TRADE;
	t.h.version = SHMBUS_EVENT_LAYOUT_VERSION;
	t.h.size = sizeof t;
	t.h.symbol_id = sym;
	t.price = price;
	t.size = 1.0;
	return t;
}

void test_cxx_round_trip(void **)
{
	shmbus_bus *bus = nullptr;
	assert_int_equal(shmbus_bus_create(nullptr, nullptr, &bus), 0);
	int64_t spy = shmbus_symbol_intern(bus, "SPY", 3);
	assert_true(spy >= 1);
	shmbus_sub_opts so;
	shmbus_sub_opts_init(&so);
	so.capacity = 64;
	so.slot_size = 64;
	shmbus_consumer *c = nullptr;
	assert_int_equal(shmbus_subscribe(bus, "cxx", &so, &c), 0);
	shmbus_producer_opts po;
	shmbus_producer_opts_init(&po);
	po.source_id = 7;
	shmbus_producer *p = nullptr;
	assert_int_equal(shmbus_producer_open(bus, &po, &p), 0);

	shmbus_trade one = make_trade(static_cast<uint32_t>(spy), 1.5);
	assert_int_equal(shmbus_publish(p, &one), 1);
	std::vector<shmbus_trade> burst;
	for (int i = 0; i < 10; i++)
		burst.push_back(make_trade(static_cast<uint32_t>(spy), 2.0 + i));
	std::vector<const void *> evs;
	for (const auto &t : burst)
		evs.push_back(&t);
	assert_int_equal(shmbus_publish_batch(p, evs.data(), static_cast<unsigned>(evs.size())), 10);

	sink s;
	assert_int_equal(shmbus_poll(c, on_event, &s, 64), 11);
	assert_int_equal(s.got.size(), 11);
	for (size_t i = 0; i < s.got.size(); i++) {
		assert_int_equal(s.got[i].h.source_id, 7);
		assert_int_equal(s.got[i].h.seq, i + 1);
		assert_true(s.got[i].price == (i == 0 ? 1.5 : 2.0 + static_cast<double>(i - 1)));
		assert_true(s.got[i].h.publish_time_ns > 0);
	}
	/* errors read the same from C++ */
	shmbus_trade bad = make_trade(1, 0);
	bad.h.type = 0;
	assert_int_equal(shmbus_publish(p, &bad), -EINVAL);
	assert_non_null(shmbus_strerror(-EINVAL));

	shmbus_producer_close(p);
	shmbus_consumer_close(c);
	assert_int_equal(shmbus_bus_close(bus), 0);
}

} // namespace

int main()
{
	const CMUnitTest tests[] = {
		cmocka_unit_test(test_cxx_round_trip),
	};
	return cmocka_run_group_tests(tests, nullptr, nullptr);
}
