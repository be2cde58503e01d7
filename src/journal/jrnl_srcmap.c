/*
 * jrnl_srcmap.c - a tiny hash map from source id to a sequence number.
 *
 * The writer keeps two of them (written, durable) and the verifier one
 * (last seq seen per source). Keys are stored as id + 1 so that a zeroed
 * table is empty without a separate occupancy array.
 */
#include "journal/jrnl_srcmap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static size_t jrnl_srcmap_slot(uint64_t key, size_t cap)
{
	return (size_t)((key * 0x9e3779b97f4a7c15ull >> 32) & (cap - 1));
}

static int jrnl_srcmap_grow(struct jrnl_srcmap *m)
{
	size_t nc = m->cap ? m->cap * 2 : 16;
	uint64_t *nk = calloc(nc, sizeof(*nk));
	uint64_t *nv = calloc(nc, sizeof(*nv));
	if (!nk || !nv) {
		free(nk);
		free(nv);
		return -ENOMEM;
	}
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->keys[i])
			continue;
		size_t j = jrnl_srcmap_slot(m->keys[i], nc);
		while (nk[j])
			j = (j + 1) & (nc - 1);
		nk[j] = m->keys[i];
		nv[j] = m->vals[i];
	}
	free(m->keys);
	free(m->vals);
	m->keys = nk;
	m->vals = nv;
	m->cap = nc;
	return 0;
}

static int jrnl_srcmap_put(struct jrnl_srcmap *m, uint32_t source, uint64_t seq, int only_up)
{
	uint64_t key = (uint64_t)source + 1;
	if ((m->len + 1) * 2 > m->cap) {
		int rc = jrnl_srcmap_grow(m);
		if (rc)
			return rc;
	}
	size_t j = jrnl_srcmap_slot(key, m->cap);
	while (m->keys[j] && m->keys[j] != key)
		j = (j + 1) & (m->cap - 1);
	if (!m->keys[j]) {
		m->keys[j] = key;
		m->vals[j] = seq;
		m->len++;
	} else if (!only_up || seq > m->vals[j]) {
		m->vals[j] = seq;
	}
	return 0;
}

int jrnl_srcmap_put_max(struct jrnl_srcmap *m, uint32_t source, uint64_t seq)
{
	return jrnl_srcmap_put(m, source, seq, 1);
}

int jrnl_srcmap_set(struct jrnl_srcmap *m, uint32_t source, uint64_t seq)
{
	return jrnl_srcmap_put(m, source, seq, 0);
}

int jrnl_srcmap_get(const struct jrnl_srcmap *m, uint32_t source, uint64_t *seq)
{
	uint64_t key = (uint64_t)source + 1;
	if (!m->cap)
		return -ENOENT;
	size_t j = jrnl_srcmap_slot(key, m->cap);
	while (m->keys[j]) {
		if (m->keys[j] == key) {
			*seq = m->vals[j];
			return 0;
		}
		j = (j + 1) & (m->cap - 1);
	}
	return -ENOENT;
}

int jrnl_srcmap_copy(struct jrnl_srcmap *dst, const struct jrnl_srcmap *src)
{
	if (dst->cap != src->cap) {
		jrnl_srcmap_free(dst);
		if (!src->cap)
			return 0;
		dst->keys = malloc(src->cap * sizeof(*dst->keys));
		dst->vals = malloc(src->cap * sizeof(*dst->vals));
		if (!dst->keys || !dst->vals) {
			jrnl_srcmap_free(dst);
			return -ENOMEM;
		}
		dst->cap = src->cap;
	}
	if (src->cap) {
		memcpy(dst->keys, src->keys, src->cap * sizeof(*dst->keys));
		memcpy(dst->vals, src->vals, src->cap * sizeof(*dst->vals));
	}
	dst->len = src->len;
	return 0;
}

void jrnl_srcmap_free(struct jrnl_srcmap *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}
