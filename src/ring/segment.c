/*
 * segment.c - creating, attaching and validating a bus segment.
 *
 * A segment is built in a private state: the creator maps it, fills the
 * superblock and tables, registers itself, and only then stores the ABI
 * version with release (R0). Attachers read the version with acquire (A0)
 * and treat 0 as "still being created", so they never see half a bus.
 * Every geometry field is recomputed from the maxima and compared, so a
 * segment whose offsets were damaged is refused before anything follows
 * an offset.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "shmbus/clock.h"
#include "shmbus/error.h"
#include "shmbus/event.h"
#include "bus_internal.h"

#define SMALL_PAGE 4096u
#define MIN_ARENA (64u << 10)
#define MAX_ARENA ((size_t)64 << 30)

struct geometry {
	uint32_t max_rings, max_participants, max_producers, max_symbols;
	uint64_t rings_off, parts_off, prods_off, syms_off, ctrs_off, arena_off, arena_bytes, total;
};

uint64_t ring_layout_hash(void)
{
	static const uint64_t facts[] = {
		SB_ABI_VERSION,
		sizeof(struct sb),
		offsetof(struct sb, route_gen),
		sizeof(struct ring_desc),
		sizeof(struct ring_hdr),
		sizeof(struct part_entry),
		sizeof(struct prod_entry),
		offsetof(struct prod_entry, claim),
		sizeof(struct sym_entry),
		sizeof(struct ctr_entry),
		CTR_SLOTS,
		SLOT_META,
		sizeof(pthread_mutex_t),
	};
	uint64_t h = fnv1a64(FNV64_INIT, facts, sizeof(facts));
	uint64_t ev = shmbus_event_layout_hash();
	return fnv1a64(h, &ev, sizeof(ev));
}

void shmbus_bus_opts_init(struct shmbus_bus_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->arena_bytes = 64u << 20;
	o->max_rings = 64;
	o->max_participants = 128;
	o->max_producers = 256;
	o->max_symbols = 4096;
	o->mode = 0660;
	o->hugepages = SHMBUS_HUGEPAGES_AUTO;
	o->prefault = 1;
}

int bus_check_name(const char *what, const char *name)
{
	if (!name || !*name)
		return bus_err(-EINVAL, "%s name is empty", what);
	size_t n = strlen(name);
	if (n > SHMBUS_NAME_MAX)
		return bus_err(-EINVAL, "%s name '%.20s...' is %zu bytes, longer than %d", what,
			       name, n, SHMBUS_NAME_MAX);
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.'))
			return bus_err(-EINVAL,
				       "%s name '%s': character %zu is not one of [A-Za-z0-9._-]",
				       what, name, i + 1);
	}
	if (name[0] == '.')
		return bus_err(-EINVAL, "%s name '%s' starts with '.'", what, name);
	return 0;
}

int shmbus_name_check(const char *what, const char *name)
{
	bus_err_clear();
	return bus_check_name(what ? what : "name", name);
}

static int geometry_compute(struct geometry *g, uint64_t arena_bytes)
{
	if (g->max_rings < 1 || g->max_rings > 1024)
		return bus_err(-EINVAL, "max_rings %u is not in 1..1024", g->max_rings);
	if (g->max_participants < 1 || g->max_participants > 4096)
		return bus_err(-EINVAL, "max_participants %u is not in 1..4096",
			       g->max_participants);
	if (g->max_producers < 1 || g->max_producers > 65536)
		return bus_err(-EINVAL, "max_producers %u is not in 1..65536", g->max_producers);
	if (g->max_symbols < 16 || g->max_symbols > (1u << 20) ||
	    (g->max_symbols & (g->max_symbols - 1)))
		return bus_err(-EINVAL, "max_symbols %u is not a power of two in 16..1048576",
			       g->max_symbols);
	if (arena_bytes < MIN_ARENA || arena_bytes > MAX_ARENA)
		return bus_err(-EINVAL, "arena_bytes %llu is not in %u..%zu",
			       (unsigned long long)arena_bytes, MIN_ARENA, MAX_ARENA);
	g->rings_off = SB_SIZE;
	g->parts_off = align_up(g->rings_off + (uint64_t)g->max_rings * sizeof(struct ring_desc),
				CACHE_LINE);
	g->prods_off = align_up(g->parts_off +
					(uint64_t)g->max_participants * sizeof(struct part_entry),
				CACHE_LINE);
	g->syms_off = align_up(g->prods_off +
				       (uint64_t)g->max_producers * sizeof(struct prod_entry),
			       CACHE_LINE);
	g->ctrs_off = align_up(g->syms_off + (uint64_t)g->max_symbols * sizeof(struct sym_entry),
			       CACHE_LINE);
	g->arena_off = align_up(g->ctrs_off + (uint64_t)g->max_participants * CTR_SLOTS *
						      sizeof(struct ctr_entry),
				SMALL_PAGE);
	g->arena_bytes = align_up(arena_bytes, SMALL_PAGE);
	g->total = g->arena_off + g->arena_bytes;
	return 0;
}

/* Compare a mapped superblock with the geometry its maxima imply; *out
 * gets that geometry, computed from one read of each maximum, so that
 * what the handle keeps is exactly what was checked here. */
static int segment_validate(const uint8_t *base, size_t size, const char *where,
			    struct geometry *out)
{
	const struct sb *sb = (const struct sb *)base;
	if (size < SB_SIZE)
		return bus_err(SHMBUS_ECORRUPT, "%s: %zu bytes, smaller than a superblock", where,
			       size);
	if (sb->magic != SB_MAGIC)
		return bus_err(SHMBUS_EBADMAGIC, "%s: bad magic 0x%016llx, not a shmbus segment",
			       where, (unsigned long long)sb->magic);
	/* A0 pairs with R0 in segment_publish(): the whole build is visible. */
	uint32_t v = load_acquire(&sb->abi_version);
	if (v != SB_ABI_VERSION)
		return bus_err(SHMBUS_EVERSION, "%s: ABI version %u, this library speaks %u", where,
			       v, SB_ABI_VERSION);
	if (sb->sb_size != SB_SIZE)
		return bus_err(SHMBUS_ECORRUPT, "%s: superblock size %u, expected %u", where,
			       sb->sb_size, SB_SIZE);
	if (sb->layout_hash != ring_layout_hash())
		return bus_err(SHMBUS_ELAYOUT, "%s: layout hash %016llx, this build has %016llx",
			       where, (unsigned long long)sb->layout_hash,
			       (unsigned long long)ring_layout_hash());
	struct geometry g = {.max_rings = sb->max_rings,
			     .max_participants = sb->max_participants,
			     .max_producers = sb->max_producers,
			     .max_symbols = sb->max_symbols};
	uint64_t arena_bytes = sb->arena_bytes, total_bytes = sb->total_bytes;
	int rc = geometry_compute(&g, arena_bytes);
	if (rc)
		return bus_err(SHMBUS_ECORRUPT, "%s: superblock geometry: %s", where,
			       shmbus_errmsg());
	if (g.rings_off != sb->rings_off || g.parts_off != sb->parts_off ||
	    g.prods_off != sb->prods_off || g.syms_off != sb->syms_off ||
	    g.ctrs_off != sb->ctrs_off || g.arena_off != sb->arena_off ||
	    g.arena_bytes != arena_bytes || g.total > total_bytes || total_bytes > size)
		return bus_err(SHMBUS_ECORRUPT,
			       "%s: table offsets or total size (%llu, file %zu) disagree with "
			       "the maxima",
			       where, (unsigned long long)total_bytes, size);
	uint64_t used = sb->arena_used;
	if (used > g.arena_bytes || used % SMALL_PAGE)
		return bus_err(SHMBUS_ECORRUPT,
			       "%s: arena used %llu: beyond the arena's %llu bytes or not a "
			       "multiple of 4096",
			       where, (unsigned long long)used, (unsigned long long)g.arena_bytes);
	if (memchr(sb->name, '\0', sizeof(sb->name)) == NULL)
		return bus_err(SHMBUS_ECORRUPT, "%s: bus name not terminated", where);
	*out = g;
	return 0;
}

/* An attacher maps every page of a bus whose creator asked for it, so its
 * hot path never takes a page fault either; without MADV_POPULATE_WRITE
 * (Linux < 5.14) it does not: touching live pages is not an option. */
static void prefault_attached(uint8_t *base, size_t size)
{
	const struct sb *sb = (const struct sb *)base;
	if (!(sb->flags & SB_F_PREFAULT))
		return;
	if (sb->backing != SHMBUS_BACKING_HUGETLBFS)
		madvise(base, size, MADV_HUGEPAGE); /* best effort: THP may be off */
#ifdef MADV_POPULATE_WRITE
	madvise(base, size, MADV_POPULATE_WRITE);
#endif
}

/* Touch every page so the hot path never takes a page fault. Returns 0,
 * or -ENOSPC when the pages cannot be had (a tmpfs filled since its room
 * was checked: MADV_POPULATE_WRITE says so where a touch is a SIGBUS). */
static int prefault(uint8_t *base, size_t size)
{
#ifdef MADV_POPULATE_WRITE
	if (madvise(base, size, MADV_POPULATE_WRITE) == 0)
		return 0;
	if (errno != EINVAL) /* EINVAL: a kernel before 5.14, touched below */
		return -ENOSPC;
#endif
	for (size_t off = 0; off < size; off += SMALL_PAGE)
		((volatile uint8_t *)base)[off] = 0;
	return 0;
}

static int mutex_init_shared(pthread_mutex_t *m)
{
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	int rc = pthread_mutex_init(m, &a);
	pthread_mutexattr_destroy(&a);
	return -rc;
}

/* A handle on a mapped segment of geometry g (checked, or just built):
 * its tables and bounds come from g, never from the superblock again. */
static struct shmbus_bus *handle_new(uint8_t *base, size_t size, bool ro,
				     const struct geometry *g)
{
	struct shmbus_bus *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	struct sb *sb = (struct sb *)base;
	b->base = base;
	b->size = size;
	b->readonly = ro;
	b->sb = sb;
	b->rings = (struct ring_desc *)(base + g->rings_off);
	b->parts = (struct part_entry *)(base + g->parts_off);
	b->prods = (struct prod_entry *)(base + g->prods_off);
	b->syms = (struct sym_entry *)(base + g->syms_off);
	b->ctrs = (struct ctr_entry *)(base + g->ctrs_off);
	b->max_rings = g->max_rings;
	b->max_participants = g->max_participants;
	b->max_producers = g->max_producers;
	b->max_symbols = g->max_symbols;
	b->arena_off = g->arena_off;
	b->arena_bytes = g->arena_bytes;
	b->part_index = -1;
	b->pid = getpid();
	b->forks = proc_forks();
	b->start_time = proc_self_start_time();
	snprintf(b->name, sizeof(b->name), "%.*s", SHMBUS_NAME_MAX, sb->name);
	b->anonymous = (sb->flags & SB_F_ANON) != 0;
	return b;
}

static void sb_fill(struct sb *sb, const struct geometry *g, const char *name, uint32_t backing)
{
	sb->magic = SB_MAGIC;
	sb->sb_size = SB_SIZE;
	sb->layout_hash = ring_layout_hash();
	sb->total_bytes = g->total;
	sb->max_rings = g->max_rings;
	sb->max_participants = g->max_participants;
	sb->max_producers = g->max_producers;
	sb->max_symbols = g->max_symbols;
	sb->backing = backing;
	sb->flags = name ? 0 : SB_F_ANON;
	sb->creator_pid = getpid();
	sb->creator_start = proc_self_start_time();
	sb->created_ns = shmbus_now_ns();
	sb->rings_off = g->rings_off;
	sb->parts_off = g->parts_off;
	sb->prods_off = g->prods_off;
	sb->syms_off = g->syms_off;
	sb->ctrs_off = g->ctrs_off;
	sb->arena_off = g->arena_off;
	sb->arena_bytes = g->arena_bytes;
	snprintf(sb->name, sizeof(sb->name), "%s", name ? name : "");
}

/* Map a fresh segment: a file in dir (named) or anonymous memory. */
static int segment_map_new(const char *name, const char *dir, const struct shmbus_bus_opts *o,
			   uint64_t *total, uint8_t **out, char *path, size_t plen)
{
	/* An anonymous bus takes 2 MiB pages from the pool only when told to. */
	bool huge = dir ? bus_dir_is_hugetlbfs(dir) : o->hugepages == SHMBUS_HUGEPAGES_ALWAYS;
	if (huge)
		*total = align_up(*total, BUS_HUGE_PAGE);
	if (!name) {
		void *p = mmap(NULL, *total, PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_ANONYMOUS | (huge ? MAP_HUGETLB : 0), -1, 0);
		if (p == MAP_FAILED)
			return bus_err(-errno, "anonymous bus: mmap %llu bytes%s: %s",
				       (unsigned long long)*total,
				       huge ? " of 2 MiB pages (hugepages always)" : "",
				       strerror(errno));
		*out = p;
		return 0;
	}
	int rc = bus_path_in(dir, name, path, plen);
	if (rc)
		return bus_err(rc, "bus '%s': path in '%s' too long", name, dir);
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, o->mode);
	if (fd < 0)
		return bus_err(-errno, "bus '%s': create %s: %s", name, path, strerror(errno));
	void *p = MAP_FAILED;
	if (fchmod(fd, o->mode) != 0 || ftruncate(fd, (off_t)*total) != 0)
		goto fail;
	/* tmpfs gives a page only at its first touch: on a /dev/shm too full
	 * for the bus, that touch (the prefault, or a write later, in any
	 * process) is a SIGBUS. A directory without room for the whole bus is
	 * refused now. (Not posix_fallocate: pages taken without the mapping's
	 * MADV_HUGEPAGE would be small ones where shmem THP is "advise". A
	 * hugetlbfs mapping reserves its pages at mmap: ENOMEM when short.) */
	struct statvfs vfs;
	if (!huge && fstatvfs(fd, &vfs) == 0 &&
	    (uint64_t)vfs.f_bavail * vfs.f_frsize < *total) {
		close(fd);
		unlink(path);
		return bus_err(-ENOSPC, "bus '%s': no room for %llu bytes in %s (%llu free): free "
			       "some, or make the bus smaller",
			       name, (unsigned long long)*total, dir,
			       (unsigned long long)vfs.f_bavail * vfs.f_frsize);
	}
	p = mmap(NULL, *total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		goto fail;
	close(fd);
	*out = p;
	return 0;
fail:
	rc = -errno;
	close(fd);
	unlink(path);
	return bus_err(rc, "bus '%s': size %s to %llu bytes: %s", name, path,
		       (unsigned long long)*total, strerror(-rc));
}

/* R0: the version store publishes the whole segment to attachers. */
static void segment_publish(struct sb *sb)
{
	store_release(&sb->abi_version, SB_ABI_VERSION);
}

int shmbus_bus_create(const char *name, const struct shmbus_bus_opts *opts, shmbus_bus **out)
{
	struct shmbus_bus_opts o;
	int rc;
	bus_err_clear();
	if (!out)
		return bus_err(-EINVAL, "bus create: out is NULL");
	*out = NULL;
	if (opts)
		o = *opts;
	else
		shmbus_bus_opts_init(&o);
	if (name && (rc = bus_check_name("bus", name)))
		return rc;
	if (o.mode & ~0777u)
		return bus_err(-EINVAL, "mode %o has bits outside 0777", o.mode);
	if ((unsigned)o.hugepages > SHMBUS_HUGEPAGES_ALWAYS)
		return bus_err(-EINVAL, "hugepages %d is not auto (0), never (1) or always (2)",
			       o.hugepages);
	struct geometry g = {.max_rings = o.max_rings,
			     .max_participants = o.max_participants,
			     .max_producers = o.max_producers,
			     .max_symbols = o.max_symbols};
	if ((rc = geometry_compute(&g, o.arena_bytes)))
		return rc;

	char dirbuf[256], path[512] = "";
	const char *dir = NULL;
	uint32_t backing = o.hugepages == SHMBUS_HUGEPAGES_ALWAYS ? SHMBUS_BACKING_HUGETLBFS
								   : SHMBUS_BACKING_ANON;
	if (name) {
		bool always = o.hugepages == SHMBUS_HUGEPAGES_ALWAYS;
		uint64_t need = align_up(g.total, BUS_HUGE_PAGE);
		if (!(dir = bus_dir_for_create(need, o.hugepages, dirbuf, sizeof(dirbuf))))
			return bus_err(-ENOMEM, "bus '%s': hugepages always, but no hugetlbfs "
				       "mount has %llu bytes of 2 MiB pages free", name,
				       (unsigned long long)need);
		backing = bus_dir_is_hugetlbfs(dir) ? SHMBUS_BACKING_HUGETLBFS : SHMBUS_BACKING_SHM;
		if (always && backing != SHMBUS_BACKING_HUGETLBFS)
			return bus_err(-ENOMEM, "bus '%s': hugepages always, but SHMBUS_DIR %s is "
				       "not a hugetlbfs mount", name, dir);
		/* Another directory may already hold a bus of that name. */
		char existing[512];
		if (shmbus_bus_path(name, existing, sizeof(existing)) == 0 &&
		    access(existing, F_OK) == 0)
			return bus_err(-EEXIST, "bus '%s' already exists (%s)", name, existing);
	}
	uint64_t total = g.total;
	uint8_t *base = NULL;
	rc = segment_map_new(name, dir, &o, &total, &base, path, sizeof(path));
	if (rc == -ENOMEM && name && o.hugepages == SHMBUS_HUGEPAGES_AUTO &&
	    backing == SHMBUS_BACKING_HUGETLBFS && !(getenv("SHMBUS_DIR") && *getenv("SHMBUS_DIR"))) {
		/* The mount's pages went to another mapping since they were
		 * counted: auto takes /dev/shm instead. */
		bus_err_clear();
		dir = "/dev/shm";
		backing = SHMBUS_BACKING_SHM;
		total = g.total;
		rc = segment_map_new(name, dir, &o, &total, &base, path, sizeof(path));
	}
	if (rc)
		return rc;
	if (backing != SHMBUS_BACKING_HUGETLBFS)
		madvise(base, total, MADV_HUGEPAGE); /* best effort: THP may be off */
	if (o.prefault && (rc = prefault(base, total)) != 0) {
		rc = bus_err(rc, "bus '%s': taking its %llu bytes failed (%s full?)",
			     name ? name : "(anon)", (unsigned long long)total, dir ? dir : "memory");
		goto fail;
	}
	if (o.lock_pages && mlock(base, total) != 0) {
		rc = bus_err(-errno, "bus '%s': mlock %llu bytes: %s", name ? name : "(anon)",
			     (unsigned long long)total, strerror(errno));
		goto fail;
	}
	struct sb *sb = (struct sb *)base;
	g.total = total;
	sb_fill(sb, &g, name, backing);
	if (o.prefault)
		sb->flags |= SB_F_PREFAULT;
	if ((rc = mutex_init_shared(&sb->lock)))
		goto fail;
	struct shmbus_bus *b = handle_new(base, total, false, &g);
	if (!b) {
		rc = -ENOMEM;
		goto fail;
	}
	if ((rc = part_register(b, o.participant_name, SHMBUS_ROLE_CREATOR)) < 0) {
		free(b);
		goto fail;
	}
	segment_publish(sb);
	*out = b;
	return 0;
fail:
	munmap(base, total);
	if (path[0])
		unlink(path);
	return rc;
}

/*
 * A creator builds its bus in the file under its final name: the file is
 * empty until sized, then all zero until the superblock is filled (after a
 * prefault that may take a while on a large bus), then has its magic but
 * version 0 until segment_publish(). An opener that comes in between
 * waits, while the file is younger than BUILD_GRACE_NS (by its mtime, which
 * creation and sizing set, and a prefault of /dev/shm pages moves) and has
 * changed within that time by the opener's own clock, instead of taking
 * the bus for damaged; a file still unbuilt past that was left by a
 * creator that died while building. (A prefault of hugetlbfs pages longer
 * than that, which does not move the mtime, is taken for a dead creator.)
 */
#define BUILD_GRACE_NS (2 * 1000000000LL)

static bool segment_unbuilt(const uint8_t *p, size_t size)
{
	if (size == 0)
		return true;
	const struct sb *sb = (const struct sb *)p;
	return size >= SB_SIZE && (sb->magic == 0 ||
				   (sb->magic == SB_MAGIC && load_acquire(&sb->abi_version) == 0));
}

/* How long ago the file was created or last sized, in ns (0 if later). */
static int64_t file_age_ns(const struct stat *st)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	int64_t age = (int64_t)(now.tv_sec - st->st_mtim.tv_sec) * 1000000000LL +
		      (now.tv_nsec - st->st_mtim.tv_nsec);
	return age > 0 ? age : 0;
}

/* One look at the bus file: maps it into *base (size *size), or fails. */
static int segment_map_once(const char *name, const char *path, bool ro, uint8_t **base,
			    size_t *size, struct stat *st)
{
	/* O_NONBLOCK: a FIFO at the bus's path would block a plain open()
	 * until a writer came (for ever, in shmbus-stat's exporter); it is
	 * refused below like any file that is not a bus. */
	int fd = open(path, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 && errno == EISDIR) /* O_RDWR refuses it before fstat sees it */
		return bus_err(SHMBUS_EBADMAGIC, "bus '%s': %s is not a regular file", name, path);
	if (fd < 0)
		return bus_err(-errno, "bus '%s': open %s: %s", name, path, strerror(errno));
	int rc = 0;
	if (fstat(fd, st) != 0) {
		rc = -errno;
		close(fd);
		return bus_err(rc, "bus '%s': stat %s: %s", name, path, strerror(-rc));
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		return bus_err(SHMBUS_EBADMAGIC, "bus '%s': %s is not a regular file", name, path);
	}
	*base = NULL;
	*size = (size_t)st->st_size;
	if (st->st_size == 0) {
		close(fd);
		return 0;
	}
	if ((size_t)st->st_size < SB_SIZE) {
		close(fd);
		return bus_err(SHMBUS_ECORRUPT, "bus '%s': %s is %lld bytes, smaller than a "
			       "superblock", name, path, (long long)st->st_size);
	}
	void *p = mmap(NULL, (size_t)st->st_size, ro ? PROT_READ : PROT_READ | PROT_WRITE,
		       MAP_SHARED, fd, 0);
	rc = -errno;
	close(fd);
	if (p == MAP_FAILED)
		return bus_err(rc, "bus '%s': mmap %s: %s", name, path, strerror(-rc));
	*base = p;
	return 0;
}

/* Map an existing bus file, waiting for one still being built. */
static int segment_map_existing(const char *name, bool ro, uint8_t **base, size_t *size,
				struct geometry *g)
{
	char path[512];
	int rc = shmbus_bus_path(name, path, sizeof(path));
	if (rc)
		return rc;
	uint8_t *p = NULL;
	size_t sz = 0;
	struct stat st, seen = {0};
	int64_t still_since = 0; /* monotonic: when the file last changed */
	for (;;) {
		if ((rc = segment_map_once(name, path, ro, &p, &sz, &st)))
			return rc;
		if (!segment_unbuilt(p, sz))
			break;
		if (p)
			munmap(p, sz);
		/* Old by its mtime, or not changed for the grace by our own
		 * clock (an mtime in the future, after the wall clock stepped
		 * back, would never age). */
		int64_t now = shmbus_mono_ns(), age = file_age_ns(&st);
		if (!still_since || st.st_ino != seen.st_ino || st.st_size != seen.st_size ||
		    st.st_mtim.tv_sec != seen.st_mtim.tv_sec ||
		    st.st_mtim.tv_nsec != seen.st_mtim.tv_nsec) {
			seen = st;
			still_since = now;
		}
		if (age >= BUILD_GRACE_NS || now - still_since >= BUILD_GRACE_NS)
			return bus_err(SHMBUS_ECORRUPT,
				       "bus '%s': %s is %s %lld ms after it was created or "
				       "last changed: its creator died while building it "
				       "(remove the file and create the bus again)",
				       name, path, sz ? "not initialised" : "empty",
				       (long long)((age > now - still_since ? age : now - still_since) /
						   1000000));
		struct timespec ts = {0, 5 * 1000 * 1000};
		nanosleep(&ts, NULL); /* the file is opened again: it may be replaced */
	}
	rc = segment_validate(p, sz, path, g);
	if (rc) {
		munmap(p, sz);
		return rc;
	}
	*base = p;
	*size = sz;
	return 0;
}

int shmbus_bus_open(const char *name, const char *participant, enum shmbus_role role,
		    shmbus_bus **out)
{
	bus_err_clear();
	if (!out)
		return bus_err(-EINVAL, "bus open: out is NULL");
	*out = NULL;
	uint8_t *base;
	size_t size;
	struct geometry g;
	int rc = segment_map_existing(name, false, &base, &size, &g);
	if (rc)
		return rc;
	prefault_attached(base, size);
	struct shmbus_bus *b = handle_new(base, size, false, &g);
	if (!b) {
		munmap(base, size);
		return -ENOMEM;
	}
	if ((rc = part_register(b, participant, role)) < 0) {
		munmap(base, size);
		free(b);
		return rc;
	}
	*out = b;
	return 0;
}

int shmbus_bus_open_readonly(const char *name, shmbus_bus **out)
{
	bus_err_clear();
	if (!out)
		return bus_err(-EINVAL, "bus open: out is NULL");
	*out = NULL;
	uint8_t *base;
	size_t size;
	struct geometry g;
	int rc = segment_map_existing(name, true, &base, &size, &g);
	if (rc)
		return rc;
	struct shmbus_bus *b = handle_new(base, size, true, &g);
	if (!b) {
		munmap(base, size);
		return -ENOMEM;
	}
	*out = b;
	return 0;
}

int shmbus_bus_close(shmbus_bus *b)
{
	if (!b)
		return -EINVAL;
	if (!b->readonly)
		part_unregister(b);
	munmap(b->base, b->size);
	free(b);
	return 0;
}

int shmbus_bus_destroy(const char *name)
{
	char path[512];
	bus_err_clear();
	int rc = shmbus_bus_path(name, path, sizeof(path));
	if (rc)
		return rc;
	if (unlink(path) != 0)
		return bus_err(-errno, "bus '%s': unlink %s: %s", name, path, strerror(errno));
	return 0;
}

/* Free what a lock holder that died mid-operation left half-built. */
static void repair_after_owner_death(struct shmbus_bus *b)
{
	for (uint32_t i = 0; i < b->max_rings; i++)
		if (load_relaxed(&b->rings[i].state) == RING_STATE_BUILDING)
			store_relaxed(&b->rings[i].state, RING_STATE_FREE);
	/* A producer's counters cut short mid-move (prod_retire_begin()):
	 * readers of the totals wait for an even seq. */
	uint32_t seq = load_relaxed(&b->sb->retire_seq);
	if (seq & 1)
		store_release(&b->sb->retire_seq, seq + 1);
	/* A subscriber killed rewriting a ring's filter (desc_set_filter()):
	 * readers of the bitmap wait for an even seq. */
	for (uint32_t i = 0; i < b->max_rings; i++) {
		uint32_t fs = load_relaxed(&b->rings[i].filter_seq);
		if (fs & 1)
			store_release(&b->rings[i].filter_seq, fs + 1);
	}
	/* An interner killed between its entry and the symbol count. */
	sym_recount_locked(b);
}

/* The bus lock guards directory changes of a few microseconds; one held
 * this long is a damaged lock word, or a holder stopped in a debugger. */
#define BUS_LOCK_TIMEOUT_S 5

/* The holder's thread id, for the message (glibc keeps it in the word). */
static int lock_owner(const pthread_mutex_t *m)
{
#ifdef __GLIBC__
	return m->__data.__owner;
#else
	(void)m;
	return 0;
#endif
}

int bus_lock(struct shmbus_bus *b)
{
	if (b->readonly)
		return bus_err(-EROFS, "bus '%s' is attached read-only", b->name);
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += BUS_LOCK_TIMEOUT_S;
	int rc = pthread_mutex_timedlock(&b->sb->lock, &until);
	if (rc == ETIMEDOUT)
		return bus_err(-ETIMEDOUT,
			       "bus '%s': lock still held after %d s by thread %d (stopped, or "
			       "the lock word is damaged: recreate the bus)",
			       b->name, BUS_LOCK_TIMEOUT_S, lock_owner(&b->sb->lock));
	if (rc == EOWNERDEAD) {
		repair_after_owner_death(b);
		pthread_mutex_consistent(&b->sb->lock);
		rc = 0;
	}
	if (rc)
		return bus_err(-rc, "bus '%s': lock: %s", b->name, strerror(rc));
	return 0;
}

void bus_unlock(struct shmbus_bus *b)
{
	pthread_mutex_unlock(&b->sb->lock);
}

/* R1: a new generation publishes the directory changes made before it;
 * producers read it with acquire (A1 in routing.c) before rebuilding. */
void bus_bump_generation(struct shmbus_bus *b)
{
	atomic_fetch_add_explicit(&b->sb->route_gen, 1, memory_order_release);
}

const char *shmbus_bus_name(const shmbus_bus *b)
{
	return b ? b->name : "";
}

enum shmbus_backing shmbus_bus_backing(const shmbus_bus *b)
{
	if (!b)
		return SHMBUS_BACKING_ANON;
	uint32_t v = b->sb->backing;
	return v <= SHMBUS_BACKING_SHM ? (enum shmbus_backing)v : SHMBUS_BACKING_SHM;
}

const char *shmbus_backing_name(enum shmbus_backing k)
{
	switch (k) {
	case SHMBUS_BACKING_ANON:
		return "anonymous";
	case SHMBUS_BACKING_HUGETLBFS:
		return "hugetlbfs";
	case SHMBUS_BACKING_SHM:
		return "shm+thp";
	}
	return "unknown";
}
