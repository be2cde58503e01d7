/* shmbus/shmbus.h - the whole public API in one include. */
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

#endif
