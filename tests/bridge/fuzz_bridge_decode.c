/*
 * fuzz_bridge_decode.c - libFuzzer target for the bridge's decoders and its
 * checkpoint loader.
 *
 * Every input goes through bridge_decode_json and bridge_decode_binary
 * (from an exact-size copy, so a read past the end is an ASan report). A
 * JSON event that decodes must encode again, and decoding that encoding
 * must give the same encoding back (encode . decode is a fixed point;
 * NaN payloads make a byte comparison of the events too strict); an event
 * the binary decoder accepts (any bytes of a valid size, as a bus event
 * from another process) must pass the same JSON round trip. An input
 * that does not start like JSON ('{' or a blank) is also written to a
 * memfd and loaded as a checkpoint file with bridge_ckpt_load; a map that
 * loads is saved and must load again with the same entries.
 * Build: -DSHMBUS_FUZZ=ON with clang (tests/bridge/CMakeLists.txt).
 */
#define _GNU_SOURCE /* memfd_create */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "bridge_ckpt.h"
#include "bridge_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct bridge_decoded dec1, dec2;
static char enc1[BRIDGE_ENCODED_MAX], enc2[BRIDGE_ENCODED_MAX];

/* dec1 holds a decoded event: encode it as JSON, decode, encode again.
 * @same_header: dec1 came from JSON, so its header (reserved included)
 * must come back bit for bit. */
static void json_fixpoint(int same_header)
{
	char err[256];
	int n1 = bridge_encode_json(&dec1.ev.h, dec1.symbol, enc1, sizeof enc1);
	if (n1 <= 0)
		abort(); /* a decoded event must encode */
	if (bridge_decode_json(enc1, (size_t)n1, &dec2, err, sizeof err) != 0)
		abort(); /* the encoder's output must decode */
	int n2 = bridge_encode_json(&dec2.ev.h, dec2.symbol, enc2, sizeof enc2);
	if (n2 != n1 || memcmp(enc1, enc2, (size_t)n1) != 0)
		abort();
	if (same_header && memcmp(&dec1.ev.h, &dec2.ev.h, sizeof dec1.ev.h) != 0)
		abort();
}

static void ckpt_roundtrip(const uint8_t *data, size_t size)
{
	static char dir[] = "/dev/shm/fuzz_ckpt_XXXXXX";
	static int have_dir = -1;
	char path[64], err[256], saved[128];
	struct bridge_srcmap m = {0}, m2 = {0};
	int fd = memfd_create("fuzz_ckpt", 0);

	if (fd < 0)
		return;
	if (write(fd, data, size) != (ssize_t)size || bridge_srcmap_init(&m) != 0)
		goto out;
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	err[0] = '\0';
	int rc = bridge_ckpt_load(path, &m, err, sizeof err);
	if (rc != 0) {
		if (rc != -EBADMSG && rc != -ENOMEM && rc != -EFBIG)
			abort();
		if (memchr(err, '\0', sizeof err) == NULL || err[0] == '\0')
			abort();
		goto out;
	}
	/* Loaded: save and load again (a small map only, to keep it fast; in
	 * /dev/shm, where the saver's fsyncs cost nothing). */
	if (have_dir < 0)
		have_dir = mkdtemp(dir) != NULL;
	if (m.n > 64 || !have_dir)
		goto out;
	snprintf(saved, sizeof saved, "%s/ckpt", dir);
	if (bridge_ckpt_save(saved, &m, err, sizeof err) != 0 || bridge_srcmap_init(&m2) != 0 ||
	    bridge_ckpt_load(saved, &m2, err, sizeof err) != 0 || m2.n != m.n)
		abort();
	const struct bridge_src *s, *t;
	for (uint32_t it = 0; (s = bridge_srcmap_next(&m, &it)) != NULL;)
		if ((t = bridge_srcmap_get(&m2, s->source)) == NULL || t->seq != s->seq ||
		    t->event_time_ns != s->event_time_ns)
			abort();
	unlink(saved);
out:
	bridge_srcmap_free(&m);
	bridge_srcmap_free(&m2);
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	char *buf = malloc(size ? size : 1);

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	err[0] = '\0';
	int rc = bridge_decode_json(buf, size, &dec1, err, sizeof err);
	if (rc == 0)
		json_fixpoint(1);
	else if (rc != -EBADMSG || memchr(err, '\0', sizeof err) == NULL || err[0] == '\0')
		abort();
	if (bridge_decode_binary(buf, size, &dec1, err, sizeof err) == 0) {
		if (dec1.ev.h.size + 1u != size)
			abort();
		int n = bridge_encode_binary(&dec1.ev.h, enc1, sizeof enc1);
		if (n != (int)size || memcmp(enc1, buf, size) != 0)
			abort();
		json_fixpoint(0); /* what the bridge does with a bus event */
	}
	if (size > 0 && buf[0] != '{' && buf[0] != ' ' && buf[0] != '\t' && buf[0] != '\n' &&
	    buf[0] != '\r')
		ckpt_roundtrip(data, size);
	free(buf);
	return 0;
}
