/*
 * fuzz_block_reader.c - libFuzzer target for the segment/block parser.
 *
 * Input bytes are a segment file image. Half of the inputs get a valid
 * header prepended (with the checksum fixed) so the fuzzer spends its time
 * in the block parser rather than failing the header checksum. The image
 * goes through the in-memory parser and, through a memfd, through the file
 * scanner, the block reader and the public reader/verify paths; any crash,
 * out-of-bounds read or sanitizer report is a bug.
 * Build: see docs/journal-format.md ("Fuzzing").
 */
#define _GNU_SOURCE /* memfd_create */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "journal/jrnl_format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_file_paths(const uint8_t *img, size_t len)
{
	int fd = memfd_create("fuzz_seg", 0);
	if (fd < 0)
		return;
	if (write(fd, img, len) == (ssize_t)len) {
		char path[64];
		struct jrnl_seg s;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if (jrnl_seg_open_scan(&s, path) == 0) {
			uint8_t *buf = NULL;
			size_t cap = 0;
			struct shmbus_journal_error err;
			for (size_t i = 0; i < s.nblk; i++) {
				if (jrnl_seg_read_block(&s, i, &buf, &cap, &err))
					break;
				uint32_t pos = 0;
				const struct shmbus_event_header *e;
				while ((e = jrnl_next_event(buf + JRNL_BLK_HDR,
				                            s.blks[i].payload_len, &pos)))
					if (e->size < JRNL_EV_MIN || e->size > SHMBUS_EVENT_MAX ||
					    pos > s.blks[i].payload_len)
						abort(); /* a checked block must parse */
			}
			free(buf);
			jrnl_seg_close(&s);
		}
	}
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t bad_off;
	char detail[160];
	jrnl_mem_verify(data, size, &bad_off, detail, sizeof(detail));
	fuzz_file_paths(data, size);
	if (size == 0 || (data[0] & 1) == 0)
		return 0;
	/* valid header + fuzzed blocks */
	size_t len = JRNL_HEADER_SIZE + size - 1;
	uint8_t *img = malloc(len);
	if (!img)
		return 0;
	jrnl_seg_header_build(img, "fuzz", 1, (data[0] & 2) ? 4096 : 8, 0, 0);
	memcpy(img + JRNL_HEADER_SIZE, data + 1, size - 1);
	jrnl_mem_verify(img, len, &bad_off, detail, sizeof(detail));
	fuzz_file_paths(img, len);
	free(img);
	return 0;
}
