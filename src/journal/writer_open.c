/*
 * writer_open.c - writer construction and teardown.
 *
 * Open resolves option defaults, creates the directory, runs crash
 * recovery on the newest segment, allocates the block buffers (4 KiB
 * aligned so O_DIRECT works) and sets up io_uring with the buffers
 * registered. io_uring is optional: when the kernel or a seccomp policy
 * refuses it (ENOSYS, EPERM, ...) the writer uses pwrite and says so in
 * its stats; when only buffer registration fails (RLIMIT_MEMLOCK) it uses
 * unregistered io_uring writes.
 */
#include "journal/jrnl_writer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define JRNL_DEF_BLOCK       (64u << 10)
#define JRNL_DEF_QD          8u
#define JRNL_MAX_QD          64u
#define JRNL_DEF_SEG         (1ull << 30)
#define JRNL_DEF_INTERVAL_MS 100u

static int jrnl_opts_resolve(struct shmbus_journal_writer_opts *o,
                             const struct shmbus_journal_writer_opts *in)
{
	if (in)
		*o = *in;
	else
		memset(o, 0, sizeof(*o));
	if (!o->block_size)
		o->block_size = JRNL_DEF_BLOCK;
	if (!o->queue_depth)
		o->queue_depth = JRNL_DEF_QD;
	if (!o->segment_max_bytes)
		o->segment_max_bytes = JRNL_DEF_SEG;
	if (!o->fsync_interval_ms)
		o->fsync_interval_ms = JRNL_DEF_INTERVAL_MS;
	if (!o->layout_hash)
		o->layout_hash = jrnl_layout_hash();
	if (o->block_size < 4096 || o->block_size > JRNL_MAX_BLOCK || o->block_size % 4096)
		return -EINVAL;
	if (o->queue_depth > JRNL_MAX_QD || o->segment_max_age_ns < 0 ||
	    o->retention_max_age_ns < 0 || o->fsync_policy < SHMBUS_JOURNAL_FSYNC_NONE ||
	    o->fsync_policy > SHMBUS_JOURNAL_FSYNC_BATCH)
		return -EINVAL;
	if (o->segment_max_bytes < JRNL_HEADER_SIZE + (uint64_t)o->block_size)
		o->segment_max_bytes = JRNL_HEADER_SIZE + (uint64_t)o->block_size;
	return 0;
}

static int jrnl_bufs_alloc(struct shmbus_journal_writer *w)
{
	w->nbuf = w->o.queue_depth;
	w->bufs = calloc(w->nbuf, sizeof(*w->bufs));
	if (!w->bufs)
		return -ENOMEM;
	for (uint32_t i = 0; i < w->nbuf; i++) {
		void *m;
		if (posix_memalign(&m, 4096, w->o.block_size))
			return -ENOMEM;
		memset(m, 0, w->o.block_size);
		w->bufs[i].mem = m;
		w->bufs[i].used = JRNL_BLK_HDR;
	}
	w->bufs[0].state = JB_FILL;
	void *h;
	if (posix_memalign(&h, 4096, JRNL_HEADER_SIZE))
		return -ENOMEM;
	w->hdr_area = h;
	return 0;
}

static void jrnl_uring_setup(struct shmbus_journal_writer *w)
{
	w->st.io_path = SHMBUS_JOURNAL_IO_PWRITE;
	if (w->o.force_pwrite)
		return;
	if (io_uring_queue_init(2 * w->nbuf + 2, &w->ring, 0) < 0)
		return; /* ENOSYS, EPERM, ENOMEM: pwrite fallback */
	w->use_uring = 1;
	w->st.io_path = SHMBUS_JOURNAL_IO_URING;
	struct iovec iov[JRNL_MAX_QD];
	for (uint32_t i = 0; i < w->nbuf; i++)
		iov[i] = (struct iovec){w->bufs[i].mem, w->o.block_size};
	w->fixed_bufs = io_uring_register_buffers(&w->ring, iov, w->nbuf) == 0;
}

static void jrnl_writer_free(struct shmbus_journal_writer *w)
{
	if (w->use_uring)
		io_uring_queue_exit(&w->ring);
	if (w->fd >= 0)
		close(w->fd);
	for (uint32_t i = 0; w->bufs && i < w->nbuf; i++)
		free(w->bufs[i].mem);
	free(w->bufs);
	free(w->hdr_area);
	jrnl_srcmap_free(&w->written);
	jrnl_srcmap_free(&w->durable);
	jrnl_srcmap_free(&w->syncing);
	free(w);
}

int shmbus_journal_writer_open(const char *dir, const char *bus_name,
                               const struct shmbus_journal_writer_opts *opts,
                               struct shmbus_journal_writer **out,
                               struct shmbus_journal_recovery *rec,
                               struct shmbus_journal_error *err)
{
	struct shmbus_journal_recovery dummy;
	if (!rec)
		rec = &dummy;
	memset(rec, 0, sizeof(*rec));
	if (!dir || !out || !jrnl_bus_name_ok(bus_name))
		return jrnl_err_set(err, -EINVAL, NULL, 0, "bad directory or bus name");
	if (strlen(dir) + SHMBUS_JOURNAL_BUS_MAX + 32 > SHMBUS_JOURNAL_PATH_MAX)
		return jrnl_err_set(err, -ENAMETOOLONG, dir, 0, "journal directory path too long");
	struct shmbus_journal_writer *w = calloc(1, sizeof(*w));
	if (!w)
		return jrnl_err_set(err, -ENOMEM, NULL, 0, "out of memory");
	w->fd = -1;
	snprintf(w->dir, sizeof(w->dir), "%s", dir);
	snprintf(w->bus, sizeof(w->bus), "%s", bus_name);
	int rc = jrnl_opts_resolve(&w->o, opts);
	if (rc) {
		free(w);
		return jrnl_err_set(err, rc, NULL, 0, "bad writer options");
	}
	w->block_align = w->o.o_direct ? 4096u : JRNL_EV_ALIGN;
	if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
		rc = -errno;
		free(w);
		return jrnl_err_set(err, rc, dir, 0, "cannot create journal directory");
	}
	rc = jrnl_recover(w, rec, err);
	if (rc == 0)
		rc = jrnl_bufs_alloc(w);
	if (rc) {
		if (rc == -ENOMEM)
			jrnl_err_set(err, rc, NULL, 0, "out of memory");
		jrnl_writer_free(w);
		return rc;
	}
	jrnl_uring_setup(w);
	*out = w;
	return 0;
}

int shmbus_journal_writer_close(struct shmbus_journal_writer *w)
{
	if (!w)
		return 0;
	int rc = shmbus_journal_writer_flush(w);
	int rc2 = jrnl_wseg_close(w);
	jrnl_writer_free(w);
	return rc ? rc : rc2;
}
