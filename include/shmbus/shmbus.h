/* shmbus/shmbus.h - the bus API in one include: errors, clock, events, bus,
 * symbols, producer, consumer, stat. The journal (shmbus/journal.h) and the
 * latency histogram (shmbus/histogram.h) are included on their own. */
#ifndef SHMBUS_SHMBUS_H
#define SHMBUS_SHMBUS_H

#include "error.h"
#include "clock.h"
#include "event.h"
#include "bus.h"
#include "symbol.h"
#include "producer.h"
#include "consumer.h"
#include "stat.h"

#define SHMBUS_VERSION_STRING "0.1.0"

#ifdef __cplusplus
extern "C" {
#endif

/* The version of the library the program runs with: SHMBUS_VERSION_STRING
 * of the headers the library was built from. It differs from the macro the
 * program was compiled with when another libshmbus.so is loaded. */
const char *shmbus_version(void);

#ifdef __cplusplus
}
#endif

#endif
