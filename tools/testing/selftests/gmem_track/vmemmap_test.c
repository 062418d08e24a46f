// SPDX-License-Identifier: GPL-2.0
/*
 * The vmemmap behind gmem_track memory, seen from userspace.
 *
 * One test body runs over both designs and both chunk sizes: the
 * struct-page design must keep every struct page, the tracked design must
 * give back 8 vmemmap pages per private 2 MiB chunk and 4096 per 1 GiB
 * chunk (nr_memmap_pages + nr_memmap_boot_pages), report the same in
 * /sys/kernel/mm/gmem_track/, show its private PFNs as reserved in
 * /proc/kpageflags, and survive the PFN walkers with private memory
 * present, and a granule of shared memory next to it (/proc/kpage*,
 * compaction, drop_caches, sysrq-m, idle page tracking, page_owner,
 * offlining the memory block, hibernation's image sizing). Memory is
 * driven through /sys/kernel/debug/gmem_track/owner.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "gmem_track_util.h"

/*
 * Per test, in seconds: a 1 GiB chunk and the PFN walkers over all memory
 * take minutes on the debug kernel (KASAN, DEBUG_PAGEALLOC, page_owner)
 * under TCG, far beyond the harness's default of 30 s.
 */
#define TMO		600

FIXTURE(vmemmap) {
	long before;
	long freed_before;
	long used_before;
	unsigned long pfn;
};

FIXTURE_VARIANT(vmemmap) {
	const char *design;
	const char *size;
	unsigned long nr;
	long vmemmap_pages;	/* what one private chunk gives back */
};

FIXTURE_VARIANT_ADD(vmemmap, tracked_2m) {
	.design = "tracked", .size = "2M", .nr = 512, .vmemmap_pages = 8,
};

FIXTURE_VARIANT_ADD(vmemmap, tracked_1g) {
	.design = "tracked", .size = "1G", .nr = 262144, .vmemmap_pages = 4096,
};

FIXTURE_VARIANT_ADD(vmemmap, struct_page_2m) {
	.design = "struct_page", .size = "2M", .nr = 512, .vmemmap_pages = 0,
};

FIXTURE_VARIANT_ADD(vmemmap, struct_page_1g) {
	.design = "struct_page", .size = "1G", .nr = 262144, .vmemmap_pages = 0,
};

/*
 * The 1 GiB variants take their chunk from the buddy allocator on purpose
 * (make check runs them in its boot with a reservation, after
 * reserve_test). With no free GiB there, give one GiB of the boot
 * reservation to the buddy allocator: a whole free GiB, which the owner
 * then gets, and which the next variant gets again once it is freed.
 * Returns true if a GiB was given.
 */
static bool give_reserved_gib(void)
{
	char val[32];
	long have = sysfs_long(NULL, "reserve/node0/reserved_1G_bytes");
	long free_b = sysfs_long(NULL, "reserve/node0/free_1G_bytes");

	if (have <= 0 || free_b < (1L << 30))
		return false;
	snprintf(val, sizeof(val), "%ld", have - (1L << 30));
	if (write_file(GMEM_TRACK_SYSFS "/reserve/node0/reserved_1G_bytes", val))
		return false;
	ksft_print_msg("no free GiB in the buddy allocator: one given from the reservation\n");
	return true;
}

FIXTURE_SETUP(vmemmap)
{
	int ret;

	if (access(GMEM_OWNER, W_OK))
		SKIP(return, GMEM_OWNER " is missing (CONFIG_GMEM_TRACK, debugfs)");
	owner_cmd("destroy");
	self->before = memmap_pages();
	self->freed_before = sysfs_long(variant->design, "vmemmap_freed_bytes");
	self->used_before = sysfs_long(NULL, variant->nr == 512 ?
				       "used_2M_bytes" : "used_1G_bytes");
	ASSERT_EQ(0, owner_cmd("create %s %s buddy", variant->design,
			       variant->size));
	ret = owner_cmd("populate 0");
	if (ret == -ENOMEM && variant->nr != 512 && give_reserved_gib())
		ret = owner_cmd("populate 0");
	if (ret == -ENOMEM) {
		owner_cmd("destroy");
		SKIP(return, "no contiguous memory for a %s chunk", variant->size);
	}
	ASSERT_EQ(0, ret);
	self->pfn = owner_pfn();
	ASSERT_NE(0, self->pfn);
}

FIXTURE_TEARDOWN(vmemmap)
{
	owner_cmd("destroy");
	gmem_deferred_delay_restore();
}

TEST_F_TIMEOUT(vmemmap, private_chunk, TMO)
{
	long gone = self->before - memmap_pages();
	long freed = sysfs_long(variant->design, "vmemmap_freed_bytes") -
		     self->freed_before;
	long reserved = count_reserved(self->pfn, variant->nr);
	long pt, pt_shared, pt_private, expect_pt;

	ksft_print_msg("%s %s private: vmemmap %ld pages given back (%ld KiB)\n",
		       variant->design, variant->size, gone, gone * 4);
	ksft_print_msg("sysfs vmemmap_freed_bytes +%ld, %ld of %lu PFNs reserved\n",
		       freed, reserved, variant->nr);
	EXPECT_EQ(variant->vmemmap_pages, gone);
	EXPECT_EQ(variant->vmemmap_pages * 4096, freed);
	EXPECT_EQ((long)variant->nr * 4096,
		  sysfs_long(NULL, variant->nr == 512 ? "used_2M_bytes" :
							"used_1G_bytes") -
		  self->used_before);
	/* Private PFNs without struct pages read as the reserved sentinel. */
	EXPECT_EQ(variant->vmemmap_pages ? (long)variant->nr : 0, reserved);

	/*
	 * The 8 vmemmap PMDs of a private 1 GiB chunk point at one shared
	 * PTE table: sharing the chunk gives each a table of its own again
	 * (+32 KiB) and making it private frees them (-32 KiB). Without the
	 * shared table they would stay. A 2 MiB chunk shares its PMD with
	 * other memory and keeps the table either way. Other page tables of
	 * the system move by a page or two meanwhile: 12 KiB of slack still
	 * tells 32 KiB from nothing.
	 */
	pt = page_tables_kb();
	ASSERT_EQ(0, owner_cmd("shared 0 %lu", variant->nr));
	pt_shared = page_tables_kb() - pt;
	ksft_print_msg("%s %s shared: vmemmap %+ld pages against before\n",
		       variant->design, variant->size,
		       memmap_pages() - self->before);
	EXPECT_EQ(self->before, memmap_pages());
	EXPECT_EQ(0, count_reserved(self->pfn, variant->nr));

	/* And private again. */
	pt = page_tables_kb();
	ASSERT_EQ(0, owner_cmd("private 0 %lu", variant->nr));
	pt_private = page_tables_kb() - pt;
	EXPECT_EQ(variant->vmemmap_pages, self->before - memmap_pages());
	ksft_print_msg("page tables: %+ld KiB when shared, %+ld KiB when private again\n",
		       pt_shared, pt_private);
	expect_pt = variant->vmemmap_pages == 4096 ? 32 : 0;
	EXPECT_GE(12, labs(pt_shared - expect_pt));
	EXPECT_GE(12, labs(pt_private + expect_pt));

	ASSERT_EQ(0, owner_cmd("destroy"));
	EXPECT_EQ(self->before, memmap_pages());
}

TEST_F_TIMEOUT(vmemmap, one_shared_page_per_granule, TMO)
{
	unsigned long granules = variant->nr / 64, g, n = 0;

	if (granules > 256)
		granules = 256;
	for (g = 0; g < granules; g++, n++)
		ASSERT_EQ(0, owner_cmd("shared %lu 1", g * 64 + 17));
	/* One vmemmap page (64 struct pages) back per granule touched. */
	if (variant->vmemmap_pages) {
		EXPECT_EQ(variant->vmemmap_pages - (long)n,
			  self->before - memmap_pages());
	} else {
		EXPECT_EQ(self->before, memmap_pages());
	}
	ksft_print_msg("%s %s: %lu granules shared, vmemmap %+ld pages\n",
		       variant->design, variant->size, n,
		       memmap_pages() - self->before);

	ASSERT_EQ(0, owner_cmd("private 0 %lu", variant->nr));
	EXPECT_EQ(variant->vmemmap_pages, self->before - memmap_pages());
}

#define PAGE_IDLE	"/sys/kernel/mm/page_idle/bitmap"
#define PAGE_OWNER	"/sys/kernel/debug/page_owner"

/*
 * The bitmap is a sysfs binary file: at most a page per read() or write().
 * Returns 0, or -1 if a transfer fell short.
 */
static int idle_io(int fd, uint64_t *bits, size_t len, off_t off, bool write)
{
	size_t done, n;

	for (done = 0; done < len; done += n) {
		n = len - done < 4096 ? len - done : 4096;
		if ((write ? pwrite(fd, (char *)bits + done, n, off + done) :
			     pread(fd, (char *)bits + done, n, off + done)) !=
		    (ssize_t)n)
			return -1;
	}
	return 0;
}

/*
 * Idle page tracking over [pfn, pfn + nr): mark every page idle, then
 * count the pages still marked. Only LRU folios can be marked, so the
 * chunk's pages, private or not, must count 0. -1 on error.
 */
static long idle_marked(unsigned long pfn, unsigned long nr)
{
	size_t len = nr / 64 * sizeof(uint64_t);
	uint64_t *bits = malloc(len);
	off_t off = pfn / 64 * 8;
	long marked = -1;
	unsigned long i;
	int fd;

	fd = open(PAGE_IDLE, O_RDWR);
	if (!bits || fd < 0)
		goto out;
	memset(bits, 0xff, len);
	if (idle_io(fd, bits, len, off, true))
		goto out;
	memset(bits, 0, len);
	if (idle_io(fd, bits, len, off, false))
		goto out;
	marked = 0;
	for (i = 0; i < nr / 64; i++)
		marked += __builtin_popcountll(bits[i]);
out:
	if (fd >= 0)
		close(fd);
	free(bits);
	return marked;
}

/*
 * page_owner's dump walks PFNs from its file position: start at @pfn and
 * read records until the position passes the chunk (at most 64 reads).
 * Returns the bytes read, or -errno (-EINVAL: booted without
 * page_owner=on).
 */
static long page_owner_walk(unsigned long pfn, unsigned long nr)
{
	static char buf[4096];
	long total = 0;
	ssize_t n = 0;
	int fd, i;

	fd = open(PAGE_OWNER, O_RDONLY);
	if (fd < 0)
		return -errno;
	if (lseek(fd, pfn, SEEK_SET) != (off_t)pfn) {
		total = -errno;
		goto out;
	}
	for (i = 0; i < 64; i++) {
		n = read(fd, buf, sizeof(buf));
		if (n <= 0 || lseek(fd, 0, SEEK_CUR) >= (off_t)(pfn + nr))
			break;
		total += n;
	}
	if (n < 0)
		total = -errno;
out:
	close(fd);
	return total;
}

#define PM_TEST		"/sys/power/pm_test"
#define PM_STATE	"/sys/power/state"

/*
 * Hibernation up to its freezer test point (/sys/power/pm_test): the
 * image is sized by count_data_pages(), which calls saveable_page() on
 * every PFN of every zone, and preallocated; then everything is thawed
 * and nothing is written. Returns 0, -ENOENT when this kernel cannot
 * hibernate (no CONFIG_HIBERNATION or CONFIG_PM_DEBUG, nohibernate), or
 * the error of the write to /sys/power/state.
 */
static int hibernation_scan(void)
{
	char states[128] = "";
	FILE *f;
	int ret;

	f = fopen(PM_STATE, "r");
	if (f) {
		if (!fgets(states, sizeof(states), f))
			states[0] = 0;
		fclose(f);
	}
	if (!strstr(states, "disk") || access(PM_TEST, W_OK))
		return -ENOENT;
	ret = write_file(PM_TEST, "freezer");
	if (ret)
		return ret;
	ret = write_file(PM_STATE, "disk");
	write_file(PM_TEST, "none");
	return ret;
}

/*
 * Every PFN walker that may read a private PFN's struct page, which is
 * the read-only sentinel: each must skip it or read it, never write it
 * (a write would oops on the read-only mapping), and none may move or
 * rebuild the chunk. The first granule of the chunk is shared, so that
 * walkers meet both kinds of struct page side by side, and in the tracked
 * design the second waits for deferred depopulation: its struct pages are
 * real ones made to read like the sentinel's, until the hibernation image
 * is sized (reclaim runs the shrinker that ends that wait).
 * Documentation/mm/gmem_track.rst lists why each is safe.
 */
TEST_F_TIMEOUT(vmemmap, pfn_walkers, TMO)
{
	const unsigned long nr_shared = 64;	/* one 256 KiB granule */
	long rsv_kb, avail_kb, unreclaimable_kb;
	long gone, ret, deferred;
	int ran = 5;	/* kpageflags, kpagecount, compaction, drop_caches, sysrq-m */
	char state[32];

	ASSERT_EQ(0, owner_cmd("shared 0 %lu", nr_shared));
	gone = self->before - memmap_pages();
	ASSERT_EQ(0, gmem_deferred_delay(3600000));
	ASSERT_EQ(0, owner_cmd("shared %lu %lu", nr_shared, nr_shared));
	ASSERT_EQ(0, owner_cmd("private %lu %lu", nr_shared, nr_shared));
	deferred = sysfs_long("tracked", "deferred_bytes");
	ksft_print_msg("deferred granules during the walk: %ld\n",
		       deferred / 4096);
	if (variant->vmemmap_pages)
		EXPECT_LE(4096, deferred);

	EXPECT_LT(0, read_all("/proc/kpageflags"));
	EXPECT_LT(0, read_all("/proc/kpagecount"));
	if (access("/proc/kpagecgroup", R_OK)) {
		ksft_print_msg("no /proc/kpagecgroup (CONFIG_MEMCG)\n");
	} else {
		EXPECT_LT(0, read_all("/proc/kpagecgroup"));
		ran++;
	}
	EXPECT_EQ(0, write_file("/proc/sys/vm/compact_memory", "1"));
	EXPECT_EQ(0, write_file("/proc/sysrq-trigger", "m"));

	if (access(PAGE_IDLE, R_OK)) {
		ksft_print_msg("no " PAGE_IDLE " (CONFIG_IDLE_PAGE_TRACKING)\n");
	} else {
		EXPECT_LT(0, read_all(PAGE_IDLE));
		EXPECT_EQ(0, idle_marked(self->pfn, variant->nr));
		ran++;
	}

	ret = page_owner_walk(self->pfn, variant->nr);
	ksft_print_msg("page_owner from PFN %#lx: %ld\n", self->pfn, ret);
	if (ret == -ENOENT || ret == -EINVAL) {
		ksft_print_msg("page_owner off (CONFIG_PAGE_OWNER, page_owner=on)\n");
	} else {
		EXPECT_LT(0, ret);
		ran++;
	}

	ret = offline_block(self->pfn, state, sizeof(state));
	ksft_print_msg("offlining the block of PFN %#lx: %s, block %s\n",
		       self->pfn, ret > 0 ? strerror(ret) :
		       ret ? "not offered" : "done", state);
	if (ret >= 0) {
		EXPECT_EQ(EBUSY, ret);
		EXPECT_STREQ("online", state);
		ran++;
	}

	/*
	 * Every walker so far met the granule waiting; the hibernation image
	 * is sized after reclaim, whose shrinkers end the wait.
	 */
	EXPECT_EQ(deferred, sysfs_long("tracked", "deferred_bytes"));

	/*
	 * Only where struct pages are missing: the struct-page design's are
	 * ordinary ones, and preallocating the image takes minutes per run
	 * on the debug kernel.
	 */
	/*
	 * The count of saveable pages comes first and reads every PFN; the
	 * boot reservation counts as data (Documentation/mm/gmem_track.rst,
	 * Limitations). An image needs a free page per saveable one: if the
	 * reservation and the memory that cannot be reclaimed are more than
	 * what can be, -ENOMEM after the count is the right answer.
	 */
	rsv_kb = (sysfs_long(NULL, "reserve/reserved_1G_bytes") +
		  sysfs_long(NULL, "reserve/reserved_2M_bytes")) / 1024;
	avail_kb = meminfo_kb("MemAvailable");
	unreclaimable_kb = meminfo_kb("MemTotal") - avail_kb;
	ret = variant->vmemmap_pages ? hibernation_scan() : -ENOENT;
	ksft_print_msg("hibernation image sizing: %s\n",
		       ret == -ENOENT ? "not run" : ret ? strerror(-ret) :
		       "done");
	if (ret == -ENOMEM && rsv_kb > 0 &&
	    rsv_kb + unreclaimable_kb > avail_kb) {
		ksft_print_msg("no room: %ld KiB reserved + %ld in use > %ld available\n",
			       rsv_kb, unreclaimable_kb, avail_kb);
		ret = 0;
	}
	if (ret != -ENOENT) {
		EXPECT_EQ(0, ret);
		ran++;
	}

	EXPECT_EQ(0, write_file("/proc/sys/vm/drop_caches", "3"));
	EXPECT_LE(0, gmem_deferred_reclaim());
	gmem_deferred_delay_restore();

	/* Nothing moved, nothing was rebuilt. */
	EXPECT_EQ(self->pfn, owner_pfn());
	EXPECT_EQ(gone, self->before - memmap_pages());
	EXPECT_EQ(variant->vmemmap_pages ? (long)(variant->nr - nr_shared) : 0,
		  count_reserved(self->pfn, variant->nr));
	/* The walkers that did run here, for the figures of make check. */
	ksft_print_msg("reliability: walkers_audited %d\n", ran);
}

static long count_in(const char *path, const char *word)
{
	char line[512];
	long n = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n += !!strstr(line, word);
	fclose(f);
	return n;
}

#define TRACING "/sys/kernel/tracing"

/* Every state change of the vmemmap and of an owner is a tracepoint. */
TEST(tracepoints)
{
	if (access(GMEM_OWNER, W_OK) || access(TRACING "/events/gmem_track/enable", W_OK))
		SKIP(return, "no gmem_track debugfs or tracefs events");
	owner_cmd("destroy");
	/* No worker run in the middle: the granules wait until the close. */
	ASSERT_EQ(0, gmem_deferred_delay(3600000));
	ASSERT_EQ(0, write_file(TRACING "/trace", ""));
	ASSERT_EQ(0, write_file(TRACING "/events/gmem_track/enable", "1"));

	ASSERT_EQ(0, owner_cmd("create tracked 2M"));
	ASSERT_EQ(0, owner_cmd("populate 0"));
	ASSERT_EQ(0, owner_cmd("shared 0 1"));
	ASSERT_EQ(0, owner_cmd("private 0 1"));
	ASSERT_EQ(0, owner_cmd("shared 64 1"));
	ASSERT_EQ(0, owner_cmd("private 64 1"));
	/* A hole: skipped, so a conversion that changes nothing. */
	ASSERT_EQ(0, owner_cmd("shared 512 1"));
	ASSERT_EQ(0, owner_cmd("destroy"));
	ASSERT_EQ(0, write_file(TRACING "/events/gmem_track/enable", "0"));
	gmem_deferred_delay_restore();

	EXPECT_EQ(1, count_in(TRACING "/trace", "gmem_track_chunk_alloc:"));
	/*
	 * Once when populated; the two granules whose shared page went
	 * private wait for deferred depopulation, and go with the chunk.
	 */
	EXPECT_EQ(2, count_in(TRACING "/trace", "gmem_track_defer:"));
	EXPECT_EQ(1, count_in(TRACING "/trace", "gmem_track_depopulate:"));
	/*
	 * Once for each shared page, once for the rest of the chunk when
	 * freed (the deferred granules are skipped: they have vmemmap).
	 */
	EXPECT_EQ(3, count_in(TRACING "/trace", "gmem_track_repopulate:"));
	EXPECT_EQ(5, count_in(TRACING "/trace", "gmem_track_convert:"));
	EXPECT_EQ(0, count_in(TRACING "/trace", "ret=-"));
	EXPECT_EQ(1, count_in(TRACING "/trace", "gmem_track_chunk_free:"));
}

TEST_HARNESS_MAIN
