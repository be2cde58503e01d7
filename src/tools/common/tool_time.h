/*
 * tool_time.h - the one ISO-8601 timestamp reader of the tools and
 * services (the collector's CSV times, the journal tools' --from/--to).
 * Cold path per call (no allocation, no locale); thread-safe.
 */
#ifndef SHMBUS_TOOL_TIME_H
#define SHMBUS_TOOL_TIME_H

#include <stddef.h>
#include <stdint.h>

/*
 * Read s[0..n) (need not be NUL-terminated) as
 *   YYYY-MM-DD[(T|t| )HH:MM[:SS[(.|,)digits]]][Z|z|(+|-)HH[[:]MM]]
 * (UTC without a zone; fraction digits past the ninth are ignored) into
 * ns since 1970-01-01T00:00:00Z in *out_ns. Returns 0; -EINVAL with *why
 * saying what is wrong (a fixed string); or -ERANGE when the time is
 * outside int64 ns, 1677-09-21T00:12:43.145224192Z ..
 * 2262-04-11T23:47:16.854775807Z.
 */
int tool_parse_iso8601(const char *s, size_t n, int64_t *out_ns, const char **why);

#endif
