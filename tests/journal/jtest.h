/*
 * jtest.h - helpers shared by the journal tests: a seeded RNG, an event
 * generator (every type, odd-sized user events, several sources, times
 * that mostly rise), temporary directories, and file copies.
 */
#ifndef SHMBUS_JTEST_H
#define SHMBUS_JTEST_H

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <shmbus/event.h>
#include <shmbus/journal.h>

#include "test_fs.h"

#define JT_SLOT    256 /* bytes per stored event in test arrays */
#define JT_SOURCES 3

static inline uint64_t jt_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline uint64_t jt_range(uint64_t *s, uint64_t n)
{
	return n ? jt_rand(s) % n : 0;
}

struct jt_gen {
	uint64_t rng;
	uint64_t seq[JT_SOURCES + 1];
	int64_t t;
};

static inline void jt_gen_init(struct jt_gen *g, uint64_t seed)
{
	memset(g, 0, sizeof(*g));
	g->rng = seed;
	g->t = 1700000000000000000ll;
}

/* Make the next event into slot (JT_SLOT bytes); source 1..JT_SOURCES. */
static inline struct shmbus_event_header *jt_gen_next(struct jt_gen *g, void *slot)
{
	static const uint16_t sizes[] = {0,
	                                 sizeof(struct shmbus_trade),
	                                 sizeof(struct shmbus_quote),
	                                 sizeof(struct shmbus_bar),
	                                 sizeof(struct shmbus_indicator),
	                                 sizeof(struct shmbus_threshold),
	                                 sizeof(struct shmbus_collection_failed),
	                                 sizeof(struct shmbus_heartbeat)};
	struct shmbus_event_header *h = slot;
	uint8_t *p = slot;
	memset(slot, 0, JT_SLOT);
	unsigned type = 1 + (unsigned)jt_range(&g->rng, 8);
	uint16_t size;
	if (type == 8) {
		type = SHMBUS_EV_USER + (unsigned)jt_range(&g->rng, 4);
		size = (uint16_t)(40 + jt_range(&g->rng, SHMBUS_EVENT_MAX - 40 + 1));
	} else {
		size = sizes[type];
	}
	for (uint16_t i = sizeof(*h); i < size; i++)
		p[i] = (uint8_t)jt_rand(&g->rng);
	h->type = (uint16_t)type;
	h->version = 1;
	h->size = size;
	h->source_id = 1 + (uint32_t)jt_range(&g->rng, JT_SOURCES);
	h->symbol_id = (uint32_t)jt_range(&g->rng, 20);
	h->seq = ++g->seq[h->source_id];
	g->t += (int64_t)jt_range(&g->rng, 2000000) - 200000; /* mostly rising */
	h->event_time_ns = g->t;
	h->publish_time_ns = g->t + 1000;
	return h;
}

static inline void jt_mkdtemp(char *out, size_t n, const char *tag)
{
	snprintf(out, n, "/tmp/shmbus-jt-%s-XXXXXX", tag);
	if (!mkdtemp(out))
		abort();
}

/* Copy every file of src into dst (created). Returns 0 or -1. */
static inline int jt_copy_dir(const char *src, const char *dst)
{
	mkdir(dst, 0750);
	DIR *d = opendir(src);
	if (!d)
		return -1;
	struct dirent *de;
	char a[1024], b[1024];
	static char buf[1 << 16];
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(a, sizeof(a), "%s/%s", src, de->d_name);
		snprintf(b, sizeof(b), "%s/%s", dst, de->d_name);
		int in = open(a, O_RDONLY), out = open(b, O_WRONLY | O_CREAT | O_TRUNC, 0640);
		ssize_t n;
		while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof(buf))) > 0)
			if (write(out, buf, (size_t)n) != n)
				break;
		close(in);
		close(out);
	}
	closedir(d);
	return 0;
}

#endif /* SHMBUS_JTEST_H */
