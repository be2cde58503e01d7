/*
 * ta_session.h - trading sessions, for the session VWAP.
 *
 * A session starts each day at a local time (HH:MM) of a time zone (an IANA
 * name from tzdata, "UTC" by default): 09:30 America/New_York is 13:30 UTC
 * in summer and 14:30 in winter. Each bar belongs to the session its start
 * falls in; the VWAP restarts at the first bar of a new session.
 */
#ifndef SHMBUS_TA_SESSION_H
#define SHMBUS_TA_SESSION_H

#include <stdint.h>

/* "HH:MM" (00:00 .. 23:59) into minutes after midnight. 0 or -EINVAL. */
int ta_session_parse_start(const char *s, int *minutes);

/*
 * Make `zone` the process's local time zone (TZ), after checking that it is
 * "UTC" or a zone file (TZif) installed under TZDIR (default
 * /usr/share/zoneinfo), whole: its headers, data blocks and (version 2 on)
 * footer all there. An unknown name or a zone file cut short would
 * silently be taken for UTC.
 * A service that uses sessions sets one always ("UTC" by default), never
 * the zone it inherited. 0, -EINVAL (not a zone
 * name: empty, "..", a byte outside [A-Za-z0-9_+/-]), -ENOENT (no such
 * zone installed, or its file is not a whole TZif file).
 */
int ta_session_set_zone(const char *zone);

/*
 * The session holding time t_ns, as a day number (days since 1970-01-01 of
 * the local date the session started on), for sessions starting at
 * `start_min` minutes after local midnight in the zone set last.
 */
int64_t ta_session_day(int start_min, int64_t t_ns);

#endif
