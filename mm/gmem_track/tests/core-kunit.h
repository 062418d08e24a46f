/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KUnit tests of gmem_track on real chunks, included at the end of core.c.
 *
 * The vmemmap counters of /proc/vmstat (nr_memmap_pages and
 * nr_memmap_boot_pages) are the witness: removing the struct pages of a
 * private 2 MiB chunk must lower their sum by exactly 8 pages, of a 1 GiB
 * chunk by exactly 4096, and rebuilding them must bring it back.
 */

#ifdef CONFIG_GMEM_TRACK_KUNIT_TEST

#include <kunit/static_stub.h>
#include <kunit/test.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/kthread.h>
#include <linux/ktime.h>
#include <linux/sched/task.h>
#include <linux/vmstat.h>

#include "../page_alloc.h"

/* vmemmap pages behind one chunk: 64-byte struct pages, 4 KiB pages */
#define GMEM_TEST_VMEMMAP_2M	(512 * sizeof(struct page) / PAGE_SIZE)
#define GMEM_TEST_VMEMMAP_1G	(262144 * sizeof(struct page) / PAGE_SIZE)

static long gmem_test_memmap(void)
{
	long boot, runtime = memmap_pages_read(&boot);

	return boot + runtime;
}

/* Free pages, exactly: per-CPU lists drained, per-CPU counters summed. */
static long gmem_test_free_pages(void)
{
	struct zone *zone;
	long free = 0;

	drain_all_pages(NULL);
	for_each_populated_zone(zone)
		free += zone_page_state_snapshot(zone, NR_FREE_PAGES);
	return free;
}

static struct gmem_track_owner *gmem_test_owner(struct kunit *test,
						unsigned int order,
						enum gmem_track_design design)
{
	struct gmem_track_owner *owner;
	int ret;

	owner = gmem_track_owner_create(order, design, NUMA_NO_NODE);
	KUNIT_ASSERT_FALSE(test, IS_ERR(owner));
	/* Counted vmemmap changes assume chunks from the buddy allocator. */
	owner->buddy_only = true;
	ret = gmem_track_populate(owner, 0);
	if (ret == -ENOMEM) {
		gmem_track_owner_destroy(owner);
		kunit_skip(test, "no contiguous memory for an order-%u chunk", order);
	}
	KUNIT_ASSERT_EQ(test, ret, 0);
	return owner;
}

static unsigned long gmem_test_pfn(struct kunit *test,
				   struct gmem_track_owner *owner, pgoff_t index)
{
	unsigned long pfn = 0;

	KUNIT_ASSERT_EQ(test, gmem_track_lookup(owner, index, &pfn, NULL, NULL), 0);
	return pfn;
}

static bool gmem_test_sentinel_like(struct page *page)
{
	return PageReserved(page) && !page_count(page) &&
	       atomic_read(&page->_mapcount) == -1;
}

/* Private pages of the tracked design read as "reserved, refcount 0". */
static void gmem_test_expect_private(struct kunit *test, unsigned long pfn,
				     unsigned long nr)
{
	unsigned long i;

	for (i = 0; i < nr; i++) {
		if (!gmem_test_sentinel_like(pfn_to_page(pfn + i))) {
			KUNIT_FAIL(test, "pfn %#lx: flags %#lx count %d", pfn + i,
				   pfn_to_page(pfn + i)->flags.f,
				   page_count(pfn_to_page(pfn + i)));
			return;
		}
	}
}

static void gmem_test_expect_shared(struct kunit *test, unsigned long pfn,
				    unsigned long nr, int nid, struct zone *zone)
{
	unsigned long i;

	for (i = 0; i < nr; i++) {
		struct page *page = pfn_to_page(pfn + i);

		if (PageReserved(page) || page_count(page) != 1 ||
		    page_to_nid(page) != nid || page_zone(page) != zone ||
		    page_to_pfn(page) != pfn + i) {
			KUNIT_FAIL(test, "pfn %#lx: not an initialised page", pfn + i);
			return;
		}
	}
}

static void gmem_test_depopulate(struct kunit *test, unsigned int order,
				 long vmemmap_pages)
{
	unsigned long nr = 1UL << order;
	long before = gmem_test_memmap();
	long free_before = gmem_test_free_pages(), drop;
	struct gmem_track_stats st0, st;
	struct gmem_track_owner *owner;
	struct zone *zone;
	unsigned long pfn;
	int max_order, nid;

	gmem_track_read_stats(GMEM_TRACK_TRACKED, &st0);
	owner = gmem_test_owner(test, order, GMEM_TRACK_TRACKED);
	pfn = gmem_test_pfn(test, owner, 0);
	nid = pfn_to_nid(pfn);
	zone = &NODE_DATA(nid)->node_zones[page_zonenum(pfn_to_page(pfn))];
	KUNIT_EXPECT_TRUE(test, zone_spans_pfn(zone, pfn));

	/* All of its vmemmap is gone, and nothing else. */
	KUNIT_EXPECT_EQ(test, before - gmem_test_memmap(), vmemmap_pages);

	/*
	 * MemFree agrees: the chunk left the free lists, its vmemmap came
	 * back to them. The free page count drifts by the per-CPU vmstat
	 * deltas and whatever else the boot allocates meanwhile, so this is
	 * checked, to within an eighth of the vmemmap, where the vmemmap is
	 * large enough to see; the exact figure is nr_memmap_pages above.
	 */
	drop = free_before - gmem_test_free_pages();
	kunit_info(test, "order %u: free pages -%ld, vmemmap pages -%ld\n",
		   order, drop, vmemmap_pages);
	if (vmemmap_pages >= 1024)
		KUNIT_EXPECT_LE(test, abs(drop - (long)(nr - vmemmap_pages)),
				vmemmap_pages / 8);
	gmem_test_expect_private(test, pfn, nr);
	KUNIT_EXPECT_TRUE(test, gmem_track_pfn_owned(pfn));
	KUNIT_EXPECT_TRUE(test, gmem_track_pfn_owned(pfn + nr - 1));

	gmem_track_read_stats(GMEM_TRACK_TRACKED, &st);
	KUNIT_EXPECT_EQ(test, st.vmemmap_freed_pages - st0.vmemmap_freed_pages,
			vmemmap_pages);
	KUNIT_EXPECT_EQ(test, st.private_pages - st0.private_pages, (long)nr);

	/* A fully private chunk is one range, mapped at its full order. */
	KUNIT_EXPECT_EQ(test, gmem_ranges_count(&owner->ranges), 1UL);
	KUNIT_EXPECT_EQ(test, gmem_track_lookup(owner, nr / 2, NULL, &max_order,
						NULL), 0);
	KUNIT_EXPECT_EQ(test, max_order, (int)order);

	/* One shared 4 KiB page brings back one vmemmap page: 64 structs. */
	KUNIT_ASSERT_EQ(test, gmem_track_set_shared(owner, 1, 1, NULL), 0);
	KUNIT_EXPECT_EQ(test, before - gmem_test_memmap(), vmemmap_pages - 1);
	gmem_test_expect_shared(test, pfn + 1, 1, nid, zone);
	gmem_test_expect_private(test, pfn, 1);
	gmem_test_expect_private(test, pfn + 2, nr - 2);

	/* Everything shared: the whole vmemmap is back. */
	KUNIT_ASSERT_EQ(test, gmem_track_set_shared(owner, 0, nr, NULL), 0);
	KUNIT_EXPECT_EQ(test, gmem_test_memmap(), before);
	gmem_test_expect_shared(test, pfn, nr, nid, zone);
	gmem_track_read_stats(GMEM_TRACK_TRACKED, &st);
	KUNIT_EXPECT_EQ(test, st.vmemmap_pages - st0.vmemmap_pages, vmemmap_pages);
	KUNIT_EXPECT_EQ(test, st.shared_pages - st0.shared_pages, (long)nr);

	/* And private again: gone again, one range again. */
	KUNIT_ASSERT_EQ(test, gmem_track_set_private(owner, 0, nr, NULL), 0);
	KUNIT_EXPECT_EQ(test, before - gmem_test_memmap(), vmemmap_pages);
	gmem_test_expect_private(test, pfn, nr);
	KUNIT_EXPECT_EQ(test, gmem_ranges_count(&owner->ranges), 1UL);

	gmem_track_owner_destroy(owner);
	KUNIT_EXPECT_EQ(test, gmem_test_memmap(), before);
	KUNIT_EXPECT_FALSE(test, gmem_track_pfn_owned(pfn));
	gmem_track_read_stats(GMEM_TRACK_TRACKED, &st);
	KUNIT_EXPECT_EQ(test, st.vmemmap_freed_pages, st0.vmemmap_freed_pages);
	KUNIT_EXPECT_EQ(test, st.private_pages, st0.private_pages);
	KUNIT_EXPECT_EQ(test, st.chunks_2m + st.chunks_1g,
			st0.chunks_2m + st0.chunks_1g);
}

static void gmem_test_depopulate_2m(struct kunit *test)
{
	gmem_test_depopulate(test, PMD_ORDER, GMEM_TEST_VMEMMAP_2M);
}

static void gmem_test_depopulate_1g(struct kunit *test)
{
	gmem_test_depopulate(test, PUD_ORDER, GMEM_TEST_VMEMMAP_1G);
}

static void gmem_test_struct_page_design(struct kunit *test)
{
	long before = gmem_test_memmap();
	struct gmem_track_owner *owner;
	unsigned long pfn, i;
	pgoff_t err = 0;

	owner = gmem_test_owner(test, PMD_ORDER, GMEM_TRACK_STRUCT_PAGE);
	pfn = gmem_test_pfn(test, owner, 0);

	/* The plan of record: every 4 KiB page keeps its struct page. */
	KUNIT_EXPECT_EQ(test, gmem_test_memmap(), before);
	for (i = 0; i < 512; i++)
		KUNIT_EXPECT_EQ(test, page_count(pfn_to_page(pfn + i)), 1);

	KUNIT_ASSERT_EQ(test, gmem_track_set_shared(owner, 0, 512, NULL), 0);
	KUNIT_EXPECT_EQ(test, gmem_test_memmap(), before);

	get_page(pfn_to_page(pfn + 300));
	KUNIT_EXPECT_EQ(test, gmem_track_set_private(owner, 0, 512, &err), -EAGAIN);
	KUNIT_EXPECT_EQ(test, err, 300);
	put_page(pfn_to_page(pfn + 300));
	KUNIT_EXPECT_EQ(test, gmem_track_set_private(owner, 0, 512, NULL), 0);
	for (i = 0; i < 512; i++)
		KUNIT_EXPECT_EQ(test, page_count(pfn_to_page(pfn + i)), 1);
	KUNIT_EXPECT_EQ(test, gmem_test_memmap(), before);

	gmem_track_owner_destroy(owner);
	KUNIT_EXPECT_EQ(test, gmem_test_memmap(), before);
}

/* Rebuild the first run for real, fail the second. */
static int gmem_test_repopulate_calls;

static int gmem_test_repopulate_second_fails(unsigned long pfn, unsigned long nr,
					     struct gmem_vmemmap_rebuild *rb)
{
	struct kunit *test = kunit_get_current_test();
	int ret;

	if (gmem_test_repopulate_calls++)
		return -ENOMEM;
	kunit_deactivate_static_stub(test, gmem_vmemmap_repopulate);
	ret = gmem_vmemmap_repopulate(pfn, nr, rb);
	kunit_activate_static_stub(test, gmem_vmemmap_repopulate,
				   gmem_test_repopulate_second_fails);
	return ret;
}

static int gmem_test_repopulate_fails(unsigned long pfn, unsigned long nr,
				      struct gmem_vmemmap_rebuild *rb)
{
	return -ENOMEM;
}

static void gmem_test_repopulate_failure(struct kunit *test)
{
	struct gmem_track_owner *owner;
	unsigned long pfn;
	long before;
	bool shared = true;

	owner = gmem_test_owner(test, PMD_ORDER, GMEM_TRACK_TRACKED);
	pfn = gmem_test_pfn(test, owner, 0);
	/* Granule 1 holds a shared page: granules 0 and 2 are two runs. */
	KUNIT_ASSERT_EQ(test, gmem_track_set_shared(owner, 70, 1, NULL), 0);
	before = gmem_test_memmap();

	/*
	 * Granule 0 gets its vmemmap, granule 2 cannot: granule 0 must lose
	 * it again and nothing may change.
	 */
	gmem_test_repopulate_calls = 0;
	kunit_activate_static_stub(test, gmem_vmemmap_repopulate,
				   gmem_test_repopulate_second_fails);
	KUNIT_EXPECT_EQ(test, gmem_track_set_shared(owner, 0, 192, NULL), -ENOMEM);
	kunit_deactivate_static_stub(test, gmem_vmemmap_repopulate);
	KUNIT_EXPECT_EQ(test, gmem_test_repopulate_calls, 2);

	KUNIT_EXPECT_EQ(test, gmem_test_memmap(), before);
	KUNIT_EXPECT_EQ(test, gmem_track_lookup(owner, 10, NULL, NULL, &shared), 0);
	KUNIT_EXPECT_FALSE(test, shared);
	KUNIT_EXPECT_EQ(test, gmem_track_lookup(owner, 70, NULL, NULL, &shared), 0);
	KUNIT_EXPECT_TRUE(test, shared);
	gmem_test_expect_private(test, pfn, 64);
	gmem_test_expect_private(test, pfn + 128, 384);
	KUNIT_EXPECT_EQ(test, gmem_ranges_count(&owner->ranges), 3UL);

	/* With memory it works: two more vmemmap pages. */
	KUNIT_EXPECT_EQ(test, gmem_track_set_shared(owner, 0, 192, NULL), 0);
	KUNIT_EXPECT_EQ(test, gmem_test_memmap() - before, 2L);
	gmem_track_owner_destroy(owner);
}

static void gmem_test_set_private_busy(struct kunit *test)
{
	struct gmem_track_owner *owner;
	unsigned long pfn, i;
	pgoff_t err = 0;
	bool shared = false;
	long before;

	owner = gmem_test_owner(test, PMD_ORDER, GMEM_TRACK_TRACKED);
	pfn = gmem_test_pfn(test, owner, 0);
	KUNIT_ASSERT_EQ(test, gmem_track_set_shared(owner, 0, 128, NULL), 0);
	before = gmem_test_memmap();

	/* A pin on one page: -EAGAIN, where, and nothing converted. */
	get_page(pfn_to_page(pfn + 70));
	KUNIT_EXPECT_EQ(test, gmem_track_set_private(owner, 0, 128, &err), -EAGAIN);
	KUNIT_EXPECT_EQ(test, err, 70);
	for (i = 0; i < 128; i++) {
		if (i != 70)
			KUNIT_EXPECT_EQ(test, page_count(pfn_to_page(pfn + i)), 1);
	}
	KUNIT_EXPECT_EQ(test, page_count(pfn_to_page(pfn + 70)), 2);
	KUNIT_EXPECT_EQ(test, gmem_track_lookup(owner, 0, NULL, NULL, &shared), 0);
	KUNIT_EXPECT_TRUE(test, shared);
	KUNIT_EXPECT_EQ(test, gmem_test_memmap(), before);

	/* Nor may the chunk be released under the pin. */
	KUNIT_EXPECT_EQ(test, gmem_track_release(owner, 0, 512), -EBUSY);
	put_page(pfn_to_page(pfn + 70));

	KUNIT_EXPECT_EQ(test, gmem_track_set_private(owner, 0, 128, &err), 0);
	KUNIT_EXPECT_EQ(test, gmem_test_memmap() - before, -2L);
	KUNIT_EXPECT_EQ(test, gmem_track_release(owner, 0, 512), 0);
	KUNIT_EXPECT_EQ(test, gmem_track_lookup(owner, 0, NULL, NULL, NULL), -ENOENT);
	KUNIT_EXPECT_FALSE(test, gmem_track_pfn_owned(pfn));
	gmem_track_owner_destroy(owner);
}

static void gmem_test_lookup_orders(struct kunit *test)
{
	struct gmem_track_owner *owner;
	int order = -1;
	bool shared;

	owner = gmem_test_owner(test, PMD_ORDER, GMEM_TRACK_TRACKED);
	KUNIT_ASSERT_EQ(test, gmem_track_set_shared(owner, 5, 1, NULL), 0);

	/* [0, 4] private, [5] shared, [6, 511] private */
	KUNIT_EXPECT_EQ(test, gmem_track_lookup(owner, 0, NULL, &order, &shared), 0);
	KUNIT_EXPECT_EQ(test, order, 2);
	KUNIT_EXPECT_FALSE(test, shared);
	KUNIT_EXPECT_EQ(test, gmem_track_lookup(owner, 4, NULL, &order, NULL), 0);
	KUNIT_EXPECT_EQ(test, order, 0);
	KUNIT_EXPECT_EQ(test, gmem_track_lookup(owner, 5, NULL, &order, &shared), 0);
	KUNIT_EXPECT_EQ(test, order, 0);
	KUNIT_EXPECT_TRUE(test, shared);
	KUNIT_EXPECT_EQ(test, gmem_track_lookup(owner, 6, NULL, &order, NULL), 0);
	KUNIT_EXPECT_EQ(test, order, 1);
	KUNIT_EXPECT_EQ(test, gmem_track_lookup(owner, 300, NULL, &order, NULL), 0);
	KUNIT_EXPECT_EQ(test, order, 8);
	KUNIT_EXPECT_EQ(test, gmem_track_lookup(owner, 512, NULL, &order, NULL),
			-ENOENT);
	gmem_track_owner_destroy(owner);
}

static void gmem_test_bad_input(struct kunit *test)
{
	struct gmem_track_owner *owner;
	long before;

	KUNIT_EXPECT_EQ(test, PTR_ERR(gmem_track_owner_create(10, GMEM_TRACK_TRACKED,
							      NUMA_NO_NODE)), -EINVAL);
	KUNIT_EXPECT_EQ(test, PTR_ERR(gmem_track_owner_create(PMD_ORDER,
							      GMEM_TRACK_NR_DESIGNS,
							      NUMA_NO_NODE)), -EINVAL);

	owner = gmem_test_owner(test, PMD_ORDER, GMEM_TRACK_TRACKED);
	before = gmem_test_memmap();
	KUNIT_EXPECT_EQ(test, gmem_track_populate(owner, 100), -EEXIST);
	KUNIT_EXPECT_EQ(test, gmem_track_set_shared(owner, 0, 0, NULL), -EINVAL);
	KUNIT_EXPECT_EQ(test, gmem_track_set_shared(owner, ULONG_MAX - 1, 5, NULL), -EINVAL);
	KUNIT_EXPECT_EQ(test, gmem_track_release(owner, 1, 512), -EINVAL);
	KUNIT_EXPECT_EQ(test, gmem_track_release(owner, 0, 100), -EINVAL);
	/* Holes are skipped: a span of nothing but holes changes nothing. */
	KUNIT_EXPECT_EQ(test, gmem_track_set_shared(owner, 512, 100, NULL), 0);
	KUNIT_EXPECT_EQ(test, gmem_track_set_private(owner, 1000, 1, NULL), 0);
	KUNIT_EXPECT_EQ(test, gmem_test_memmap(), before);
	KUNIT_EXPECT_EQ(test, gmem_ranges_count(&owner->ranges), 1UL);

	/* A span reaching into a hole converts only the memory it covers. */
	KUNIT_EXPECT_EQ(test, gmem_track_set_shared(owner, 500, 100, NULL), 0);
	KUNIT_EXPECT_EQ(test, gmem_test_memmap(), before + 1);
	KUNIT_EXPECT_EQ(test, gmem_ranges_count(&owner->ranges), 2UL);
	KUNIT_EXPECT_EQ(test, gmem_track_set_private(owner, 500, 100, NULL), 0);
	KUNIT_EXPECT_EQ(test, gmem_test_memmap(), before);
	KUNIT_EXPECT_EQ(test, gmem_ranges_count(&owner->ranges), 1UL);
	gmem_test_expect_private(test, gmem_test_pfn(test, owner, 0), 512);
	gmem_track_owner_destroy(owner);
}

/*
 * memory_failure() on private memory. The poisoned page stays out of the
 * allocator for the rest of the boot (4 KiB, counted in HardwareCorrupted).
 */
static void gmem_test_memory_failure(struct kunit *test)
{
	long corrupted = atomic_long_read(&num_poisoned_pages);
	struct gmem_track_owner *owner;
	struct page *other;
	unsigned long pfn;
	pgoff_t err = 0;
	bool shared;
	int flags;

	owner = gmem_test_owner(test, PMD_ORDER, GMEM_TRACK_TRACKED);
	pfn = gmem_test_pfn(test, owner, 0);
	KUNIT_ASSERT_EQ(test, gmem_track_set_shared(owner, 64, 64, NULL), 0);

	/*
	 * Private: taken by gmem_track before the sentinel is written, and
	 * counted once in HardwareCorrupted; a second hit is not counted.
	 */
	KUNIT_EXPECT_EQ(test, memory_failure(pfn + 3, MF_SW_SIMULATED), 0);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&num_poisoned_pages),
			corrupted + 1);
	KUNIT_EXPECT_EQ(test, memory_failure(pfn + 3, MF_SW_SIMULATED),
			-EHWPOISON);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&num_poisoned_pages),
			corrupted + 1);
	gmem_test_expect_private(test, pfn, 64);
	KUNIT_EXPECT_EQ(test, gmem_track_lookup(owner, 3, NULL, NULL, NULL),
			-EHWPOISON);
	KUNIT_EXPECT_EQ(test, gmem_track_lookup(owner, 2, NULL, NULL, &shared), 0);
	KUNIT_EXPECT_EQ(test, gmem_track_set_shared(owner, 0, 8, NULL), -EHWPOISON);
	flags = 0;
	KUNIT_EXPECT_EQ(test, gmem_track_memory_failure(pfn + 3, &flags),
			-EHWPOISON);

	/*
	 * Shared: poisoned here too (memory_failure() could not take a page
	 * that is on no LRU), the caller's reference dropped, the range
	 * still shared so that the page keeps its struct page.
	 */
	get_page(pfn_to_page(pfn + 64));
	flags = MF_COUNT_INCREASED;
	KUNIT_EXPECT_EQ(test, gmem_track_memory_failure(pfn + 64, &flags), 0);
	KUNIT_EXPECT_FALSE(test, flags & MF_COUNT_INCREASED);
	KUNIT_EXPECT_EQ(test, page_count(pfn_to_page(pfn + 64)), 1);
	KUNIT_EXPECT_TRUE(test, PageHWPoison(pfn_to_page(pfn + 64)));
	KUNIT_EXPECT_EQ(test, gmem_track_lookup(owner, 64, NULL, NULL, NULL),
			-EHWPOISON);
	KUNIT_EXPECT_EQ(test, gmem_track_lookup(owner, 65, NULL, NULL, &shared), 0);
	KUNIT_EXPECT_TRUE(test, shared);
	KUNIT_EXPECT_TRUE(test, gmem_vmemmap_populated(pfn + 64));
	KUNIT_EXPECT_EQ(test, memory_failure(pfn + 64, MF_SW_SIMULATED),
			-EHWPOISON);
	flags = 0;
	KUNIT_EXPECT_EQ(test, gmem_track_memory_failure(pfn + 64, &flags),
			-EHWPOISON);
	/* Conversions either way name the first poisoned index. */
	err = 0;
	KUNIT_EXPECT_EQ(test, gmem_track_set_private(owner, 0, 128, &err),
			-EHWPOISON);
	KUNIT_EXPECT_EQ(test, err, 3);
	KUNIT_EXPECT_EQ(test, gmem_track_set_private(owner, 64, 64, &err),
			-EHWPOISON);
	KUNIT_EXPECT_EQ(test, err, 64);
	KUNIT_EXPECT_EQ(test, gmem_track_set_shared(owner, 60, 8, &err),
			-EHWPOISON);
	KUNIT_EXPECT_EQ(test, err, 64);
	/*
	 * A PFN gmem_track does not hold: a page of the page allocator (the
	 * PFN after the chunk may be another chunk's, or reserved).
	 */
	other = alloc_page(GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, other);
	flags = 0;
	KUNIT_EXPECT_EQ(test, gmem_track_memory_failure(page_to_pfn(other),
							&flags), -ENOENT);
	KUNIT_EXPECT_EQ(test, flags, 0);
	__free_page(other);

	/* A shared page with PG_hwpoison never becomes private. */
	SetPageHWPoison(pfn_to_page(pfn + 100));
	KUNIT_EXPECT_EQ(test, gmem_track_set_private(owner, 65, 63, &err),
			-EHWPOISON);
	KUNIT_EXPECT_EQ(test, err, 100);
	KUNIT_EXPECT_EQ(test, page_count(pfn_to_page(pfn + 65)), 1);
	ClearPageHWPoison(pfn_to_page(pfn + 100));

	KUNIT_ASSERT_EQ(test, gmem_track_set_private(owner, 65, 63, NULL), 0);
	gmem_track_owner_destroy(owner);
	/* The chunk is freed, the poisoned pages stay out of the allocator. */
	KUNIT_EXPECT_FALSE(test, gmem_track_pfn_owned(pfn));
	KUNIT_EXPECT_TRUE(test, PageHWPoison(pfn_to_page(pfn + 3)));
	KUNIT_EXPECT_TRUE(test, PageHWPoison(pfn_to_page(pfn + 64)));
	KUNIT_EXPECT_FALSE(test, PageHWPoison(pfn_to_page(pfn + 2)));
}

/*
 * A stage-2 mapping must never cover more than one chunk: a punch
 * invalidates only its own chunk's gfns, so a 1 GiB mapping over 512
 * separately freeable 2 MiB chunks would outlive the memory of one of them.
 * Chunks that are contiguous in PFN and index merge in the descriptor,
 * which must not make the lookup report more than the chunk order. The
 * PFNs are never touched: the ranges are put in the descriptor directly
 * and taken out again before the owner goes.
 */
static void gmem_test_lookup_chunk_order(struct kunit *test)
{
	unsigned long nr = 1UL << PMD_ORDER, base = 1UL << (2 * PUD_ORDER);
	struct gmem_track_owner *owner;
	unsigned long i;
	int order = -1;

	owner = gmem_track_owner_create(PMD_ORDER, GMEM_TRACK_TRACKED,
					NUMA_NO_NODE);
	KUNIT_ASSERT_FALSE(test, IS_ERR(owner));
	mutex_lock(&owner->lock);
	gmem_ranges_write_begin(owner);
	for (i = 0; i < (1UL << PUD_ORDER) / nr; i++) {
		if (gmem_ranges_insert(&owner->ranges, i * nr, nr,
				       base + i * nr, GMEM_RANGE_PRIVATE, 0,
				       GFP_KERNEL))
			break;
	}
	gmem_ranges_write_end(owner);
	mutex_unlock(&owner->lock);
	KUNIT_EXPECT_EQ(test, i, (1UL << PUD_ORDER) / nr);
	/* Merged: one range of 1 GiB, naturally aligned. */
	KUNIT_EXPECT_EQ(test, gmem_ranges_count(&owner->ranges), 1UL);

	KUNIT_EXPECT_EQ(test, gmem_track_lookup(owner, 0, NULL, &order, NULL), 0);
	KUNIT_EXPECT_EQ(test, order, PMD_ORDER);
	KUNIT_EXPECT_EQ(test, gmem_track_lookup(owner, 300 * nr + 7, NULL,
						&order, NULL), 0);
	KUNIT_EXPECT_EQ(test, order, PMD_ORDER);

	mutex_lock(&owner->lock);
	gmem_ranges_write_begin(owner);
	KUNIT_EXPECT_EQ(test, gmem_ranges_remove(&owner->ranges, 0,
						 1UL << PUD_ORDER, GFP_KERNEL), 0);
	gmem_ranges_write_end(owner);
	mutex_unlock(&owner->lock);
	gmem_track_owner_destroy(owner);
}

struct gmem_test_mf {
	unsigned long pfn;
	int ret;
	struct completion done;
};

/*
 * memory_failure()'s first step, the only one that matters here: without
 * -ENOENT, memory_failure() never touches the struct page.
 */
static int gmem_test_mf_thread(void *data)
{
	struct gmem_test_mf *mf = data;
	int flags = MF_SW_SIMULATED;

	mf->ret = gmem_track_memory_failure(mf->pfn, &flags);
	complete_all(&mf->done);
	return 0;
}

/* Wait until @task sleeps uninterruptibly (on a lock), up to 10 s. */
static bool gmem_test_wait_blocked(struct task_struct *task)
{
	int i;

	for (i = 0; i < 10000; i++) {
		if (READ_ONCE(task->__state) == TASK_UNINTERRUPTIBLE)
			return true;
		usleep_range(1000, 2000);
	}
	return false;
}

/*
 * memory_failure() waiting for the owner's lock while the owner gives the
 * chunk up without struct pages (parked here; a reserved chunk goes back
 * to the reservation the same way): when it gets the lock the chunk is no
 * longer the owner's, and the PFN's struct page is the read-only sentinel.
 * gmem_track must look the PFN up again and handle it (0), not hand it
 * back to memory_failure() (-ENOENT), which would write PG_hwpoison into
 * the sentinel; the chunk must end in quarantine, never handed out again.
 */
static void gmem_test_memory_failure_vs_release(struct kunit *test)
{
	/* Not on the stack: the kthread may outlive a test that gave up. */
	static struct gmem_test_mf mf;
	struct gmem_track_owner *owner;
	struct task_struct *task;
	unsigned long pfn;

	owner = gmem_test_owner(test, PMD_ORDER, GMEM_TRACK_TRACKED);
	pfn = gmem_test_pfn(test, owner, 0);
	mf.pfn = pfn + 5;
	mf.ret = -1;
	init_completion(&mf.done);

	mutex_lock(&owner->lock);
	task = kthread_run(gmem_test_mf_thread, &mf, "gmem_test_mf");
	if (IS_ERR(task)) {
		mutex_unlock(&owner->lock);
		gmem_track_owner_destroy(owner);
		kunit_skip(test, "no kthread");
	}
	KUNIT_EXPECT_TRUE(test, gmem_test_wait_blocked(task));
	/* Let it reach the owner's lock, if it is on another one yet. */
	msleep(100);

	/* No memory to rebuild the vmemmap: the chunk is parked as it is. */
	kunit_activate_static_stub(test, gmem_vmemmap_repopulate,
				   gmem_test_repopulate_fails);
	KUNIT_EXPECT_EQ(test, gmem_chunk_release(owner, 0, true), 0);
	kunit_deactivate_static_stub(test, gmem_vmemmap_repopulate);
	gmem_ranges_write_begin(owner);
	KUNIT_EXPECT_EQ(test, gmem_ranges_remove(&owner->ranges, 0,
						 1UL << PMD_ORDER, GFP_KERNEL), 0);
	gmem_ranges_write_end(owner);
	mutex_unlock(&owner->lock);

	KUNIT_ASSERT_TRUE(test, wait_for_completion_timeout(&mf.done, 30 * HZ));
	/* Handled by gmem_track: the parked chunk went into quarantine. */
	KUNIT_EXPECT_EQ(test, mf.ret, 0);
	KUNIT_EXPECT_EQ(test, PTR_ERR(gmem_pool_owner_of(pfn)), -EHWPOISON);
	KUNIT_EXPECT_FALSE(test, gmem_vmemmap_populated(pfn));
	gmem_track_owner_destroy(owner);
}

/*
 * The test threads here signal with complete_all(): a test may wait for
 * the same event twice (once bounded to judge, once to clean up), and a
 * wait must not use the event up.
 */
struct gmem_test_reader {
	enum gmem_track_design design;
	struct gmem_track_stats st;
	struct completion done;
};

/* A read of a design's statistics (sysfs, world-readable). */
static int gmem_test_reader_thread(void *data)
{
	struct gmem_test_reader *rd = data;

	gmem_track_read_stats(rd->design, &rd->st);
	complete_all(&rd->done);
	return 0;
}

struct gmem_test_creator {
	int ret;
	struct completion created;
	struct completion done;
};

/* Another user's KVM_CREATE_GUEST_MEMFD and close of an empty file. */
static int gmem_test_creator_thread(void *data)
{
	struct gmem_test_creator *cr = data;
	struct gmem_track_owner *owner;

	owner = gmem_track_owner_create(PMD_ORDER, GMEM_TRACK_STRUCT_PAGE,
					NUMA_NO_NODE);
	cr->ret = PTR_ERR_OR_ZERO(owner);
	complete_all(&cr->created);
	gmem_track_owner_destroy(owner);
	complete_all(&cr->done);
	return 0;
}

struct gmem_test_notify {
	atomic_t calls;
	pgoff_t index;
};

static void gmem_test_notify_memory_failure(void *data, pgoff_t index)
{
	struct gmem_test_notify *nt = data;

	WRITE_ONCE(nt->index, index);
	atomic_inc(&nt->calls);
}

static const struct gmem_track_owner_ops gmem_test_notify_ops = {
	.memory_failure = gmem_test_notify_memory_failure,
};

/*
 * Let @task run until it sleeps uninterruptibly (on a lock) or has done
 * its work, up to 10 s, and then a little longer: it may be on another
 * lock than the one it is going for. The caller holds a reference to
 * @task, so its state may be read even after it exited.
 */
static void gmem_test_let_block(struct task_struct *task,
				struct completion *done)
{
	int i;

	for (i = 0; i < 10000 && !completion_done(done); i++) {
		if (READ_ONCE(task->__state) == TASK_UNINTERRUPTIBLE)
			break;
		usleep_range(1000, 2000);
	}
	msleep(100);
}

/*
 * One owner's lock may be held for long (a conversion or release of a
 * 1 GiB chunk). A memory error on that owner's memory then waits for it,
 * and so does a statistics reader that meets a change of the descriptor
 * (the test holds one open), and they must not make everyone else wait
 * with them: creating and destroying another owner has to go on
 * meanwhile.
 * Once the lock is free, the memory error is handled as ever, and the
 * owner's user told of it once. The poisoned page stays out of the
 * allocator for the rest of the boot.
 */
static void gmem_test_create_vs_busy_owner(struct kunit *test)
{
	/* Not on the stack: the kthreads may outlive a test that gave up. */
	static struct gmem_test_reader rd;
	static struct gmem_test_mf mf;
	static struct gmem_test_creator cr;
	static struct gmem_test_notify nt;
	struct task_struct *tasks[3];
	struct gmem_track_owner *owner;
	bool failed = false;
	unsigned int i;

	owner = gmem_test_owner(test, PMD_ORDER, GMEM_TRACK_STRUCT_PAGE);
	rd.design = owner->design;
	init_completion(&rd.done);
	mf.pfn = gmem_test_pfn(test, owner, 0) + 5;
	mf.ret = -1;
	init_completion(&mf.done);
	cr.ret = -1;
	init_completion(&cr.created);
	init_completion(&cr.done);
	atomic_set(&nt.calls, 0);
	nt.index = 0;
	gmem_track_owner_set_ops(owner, &gmem_test_notify_ops, &nt);

	/* Created now, started below: a thread never woken runs nothing. */
	tasks[0] = kthread_create(gmem_test_reader_thread, &rd, "gmem_test_rd");
	tasks[1] = kthread_create(gmem_test_mf_thread, &mf, "gmem_test_mf");
	tasks[2] = kthread_create(gmem_test_creator_thread, &cr, "gmem_test_cr");
	for (i = 0; i < ARRAY_SIZE(tasks); i++) {
		if (IS_ERR(tasks[i]))
			failed = true;
		else
			get_task_struct(tasks[i]);
	}
	if (failed) {
		for (i = 0; i < ARRAY_SIZE(tasks); i++) {
			if (IS_ERR(tasks[i]))
				continue;
			kthread_stop(tasks[i]);
			put_task_struct(tasks[i]);
		}
		gmem_track_owner_destroy(owner);
		kunit_skip(test, "no kthread");
	}

	mutex_lock(&owner->lock);
	gmem_ranges_write_begin(owner);
	wake_up_process(tasks[0]);
	gmem_test_let_block(tasks[0], &rd.done);
	wake_up_process(tasks[1]);
	gmem_test_let_block(tasks[1], &mf.done);

	wake_up_process(tasks[2]);
	if (!wait_for_completion_timeout(&cr.created, HZ))
		KUNIT_FAIL(test,
			   "owner creation blocked behind a reader waiting for another owner's lock");
	else if (!wait_for_completion_timeout(&cr.done, HZ))
		KUNIT_FAIL(test,
			   "owner destruction blocked behind a reader waiting for another owner's lock");
	KUNIT_EXPECT_FALSE(test, completion_done(&rd.done));
	gmem_ranges_write_end(owner);
	mutex_unlock(&owner->lock);
	for (i = 0; i < ARRAY_SIZE(tasks); i++)
		put_task_struct(tasks[i]);

	/*
	 * Nobody waits for anything now: every thread finishes. If one does
	 * not, the owner is left alone rather than freed under it.
	 */
	KUNIT_ASSERT_TRUE(test, wait_for_completion_timeout(&rd.done, 30 * HZ));
	KUNIT_ASSERT_TRUE(test, wait_for_completion_timeout(&mf.done, 30 * HZ));
	KUNIT_ASSERT_TRUE(test, wait_for_completion_timeout(&cr.done, 30 * HZ));
	KUNIT_EXPECT_EQ(test, cr.ret, 0);

	/* The private page is poisoned, and the owner's user told once. */
	KUNIT_EXPECT_EQ(test, mf.ret, 0);
	KUNIT_EXPECT_EQ(test, gmem_track_lookup(owner, 5, NULL, NULL, NULL),
			-EHWPOISON);
	KUNIT_EXPECT_EQ(test, atomic_read(&nt.calls), 1);
	KUNIT_EXPECT_EQ(test, READ_ONCE(nt.index), 5);
	gmem_track_owner_destroy(owner);
}

/*
 * A read of the statistics does not wait for an owner's lock: a sysfs
 * reader must not be held up by a 1 GiB conversion or release, however
 * slow the kernel. With the lock held by this test, a reader has to return
 * within a second, with the figures the owners' locks give. With a change
 * of the descriptor open as well, it must not use what it sees: it waits
 * for the lock, and returns once the change is done and the lock free.
 */
static void gmem_test_read_stats_busy_owner(struct kunit *test)
{
	/* Not on the stack: the kthread may outlive a test that gave up. */
	static struct gmem_test_reader rd;
	struct gmem_track_owner *owner;
	struct task_struct *task;
	long ranges, bytes;
	int ret;

	owner = gmem_test_owner(test, PMD_ORDER, GMEM_TRACK_TRACKED);
	/* A second chunk, not next to the first in the file: two entries. */
	ret = gmem_track_populate(owner, 4 << PMD_ORDER);
	if (ret == -ENOMEM) {
		gmem_track_owner_destroy(owner);
		kunit_skip(test, "no contiguous memory for a second chunk");
	}
	KUNIT_ASSERT_EQ(test, ret, 0);
	/* What the owners' locks give: each owner measured under its lock. */
	gmem_ranges_sum(owner->design, &ranges, &bytes, true);
	KUNIT_EXPECT_LE(test, 2, ranges);
	KUNIT_EXPECT_LT(test, 0, bytes);

	for (int open = 0; open < 2; open++) {
		rd.design = owner->design;
		memset(&rd.st, 0, sizeof(rd.st));
		init_completion(&rd.done);
		mutex_lock(&owner->lock);
		if (open)
			gmem_ranges_write_begin(owner);
		task = kthread_run(gmem_test_reader_thread, &rd, "gmem_test_rd");
		if (IS_ERR(task)) {
			if (open)
				gmem_ranges_write_end(owner);
			mutex_unlock(&owner->lock);
			gmem_track_owner_destroy(owner);
			kunit_skip(test, "no kthread");
		}
		if (!open && !wait_for_completion_timeout(&rd.done, HZ))
			KUNIT_FAIL(test, "a statistics read waited a second for an owner's lock");
		if (open) {
			/* Past its tries without the lock (10 to 20 ms). */
			msleep(200);
			KUNIT_EXPECT_FALSE_MSG(test, completion_done(&rd.done),
					       "a statistics read used a descriptor being changed");
			gmem_ranges_write_end(owner);
		}
		mutex_unlock(&owner->lock);
		/* Left alone rather than freed under a reader that never finished. */
		KUNIT_ASSERT_TRUE(test, wait_for_completion_timeout(&rd.done, 30 * HZ));
		KUNIT_EXPECT_EQ(test, rd.st.ranges, ranges);
		KUNIT_EXPECT_EQ(test, rd.st.descriptor_bytes, bytes);
	}
	gmem_track_owner_destroy(owner);
}

struct gmem_test_slow_notify {
	pgoff_t index;
	struct completion entered;
	struct completion release;
};

/* An owner's user that takes its time over a memory error. */
static void gmem_test_slow_memory_failure(void *data, pgoff_t index)
{
	struct gmem_test_slow_notify *sn = data;

	WRITE_ONCE(sn->index, index);
	complete_all(&sn->entered);
	/* Never for ever, whatever becomes of the test. */
	wait_for_completion_timeout(&sn->release, 30 * HZ);
}

static const struct gmem_track_owner_ops gmem_test_slow_ops = {
	.memory_failure = gmem_test_slow_memory_failure,
};

struct gmem_test_destroyer {
	struct gmem_track_owner *owner;
	struct completion done;
};

static int gmem_test_destroyer_thread(void *data)
{
	struct gmem_test_destroyer *ds = data;

	gmem_track_owner_destroy(ds->owner);
	complete_all(&ds->done);
	return 0;
}

/*
 * The owner's user is told of a memory error with no lock of gmem_track
 * held, and frees what its callback uses once gmem_track_owner_destroy()
 * has returned: destruction must wait for a call that has begun. Other
 * owners are created and destroyed meanwhile.
 */
static void gmem_test_destroy_vs_notify(struct kunit *test)
{
	/* Not on the stack: the kthreads may outlive a test that gave up. */
	static struct gmem_test_slow_notify sn;
	static struct gmem_test_mf mf;
	static struct gmem_test_destroyer ds;
	static struct gmem_test_creator cr;
	struct gmem_track_owner *owner;
	struct task_struct *task;

	owner = gmem_test_owner(test, PMD_ORDER, GMEM_TRACK_STRUCT_PAGE);
	sn.index = 0;
	init_completion(&sn.entered);
	init_completion(&sn.release);
	mf.pfn = gmem_test_pfn(test, owner, 0) + 7;
	mf.ret = -1;
	init_completion(&mf.done);
	ds.owner = owner;
	init_completion(&ds.done);
	cr.ret = -1;
	init_completion(&cr.created);
	init_completion(&cr.done);
	gmem_track_owner_set_ops(owner, &gmem_test_slow_ops, &sn);

	task = kthread_run(gmem_test_mf_thread, &mf, "gmem_test_mf");
	if (IS_ERR(task)) {
		gmem_track_owner_destroy(owner);
		kunit_skip(test, "no kthread");
	}
	KUNIT_ASSERT_TRUE(test, wait_for_completion_timeout(&sn.entered,
							    10 * HZ));

	/* Held: the destroyer's state is read while it may be exiting. */
	task = kthread_create(gmem_test_destroyer_thread, &ds, "gmem_test_ds");
	if (IS_ERR(task)) {
		complete(&sn.release);
		KUNIT_ASSERT_TRUE(test, wait_for_completion_timeout(&mf.done,
								    30 * HZ));
		gmem_track_owner_destroy(owner);
		kunit_skip(test, "no kthread");
	}
	get_task_struct(task);
	wake_up_process(task);
	/* The destroyer must be waiting for the user before it is judged. */
	gmem_test_let_block(task, &ds.done);
	put_task_struct(task);
	task = kthread_run(gmem_test_creator_thread, &cr, "gmem_test_cr");
	if (!IS_ERR(task) && !wait_for_completion_timeout(&cr.done, HZ))
		KUNIT_FAIL(test,
			   "owner creation or destruction blocked behind the user of another owner");

	if (completion_done(&ds.done))
		KUNIT_FAIL(test,
			   "owner destroyed while its user was being told of a memory error");
	complete(&sn.release);

	KUNIT_ASSERT_TRUE(test, wait_for_completion_timeout(&ds.done, 30 * HZ));
	KUNIT_ASSERT_TRUE(test, wait_for_completion_timeout(&mf.done, 30 * HZ));
	if (!IS_ERR(task)) {
		KUNIT_ASSERT_TRUE(test, wait_for_completion_timeout(&cr.done,
								    30 * HZ));
		KUNIT_EXPECT_EQ(test, cr.ret, 0);
	}
	KUNIT_EXPECT_EQ(test, mf.ret, 0);
	KUNIT_EXPECT_EQ(test, READ_ONCE(sn.index), 7);
}

/*
 * A speculative reference, taken as folio_try_get() takes one on a page it
 * found without holding a reference (a page cache lookup, GUP-fast, a PFN
 * walker), all under RCU: read the count, then add one with a cmpxchg
 * unless it read zero. The cmpxchg writes the struct page even when it
 * fails, so the page must still be writable then. The window between the
 * two steps is widened here: once it has read the count, the reader waits
 * until the page is frozen and the operation under test has returned, up
 * to 2 s. It does not try if the operation returned: the struct page may
 * be the read-only sentinel by then, and the cmpxchg would oops.
 */
struct gmem_test_spec {
	struct page *page;
	bool returned;		/* the operation under test returned */
	bool left;		/* the reader left its RCU read side */
	bool raced;		/* the operation returned inside the window */
	bool remapped;		/* a remap came while the reader was inside */
	bool frozen;		/* the reader saw the page frozen */
	bool got;		/* the reader got its reference */
	struct completion read;
	struct completion done;
};

/* The reader gmem_test_depopulate_probe() watches. */
static struct gmem_test_spec *gmem_test_spec_watched;

/*
 * Every vmemmap removal of the operation under test: was the reader still
 * between its read and its cmpxchg? Then the real removal.
 */
static int gmem_test_depopulate_probe(unsigned long pfn, unsigned long nr)
{
	struct gmem_test_spec *sp = READ_ONCE(gmem_test_spec_watched);
	struct kunit *test = kunit_get_current_test();
	int ret;

	if (sp && !READ_ONCE(sp->left))
		sp->remapped = true;
	kunit_deactivate_static_stub(test, gmem_vmemmap_depopulate);
	ret = gmem_vmemmap_depopulate(pfn, nr);
	kunit_activate_static_stub(test, gmem_vmemmap_depopulate,
				   gmem_test_depopulate_probe);
	return ret;
}

static int gmem_test_spec_thread(void *data)
{
	struct gmem_test_spec *sp = data;
	atomic_t *count = &sp->page->_refcount;
	ktime_t end;
	int c;

	rcu_read_lock();
	c = atomic_read(count);
	complete_all(&sp->read);
	/* Spinning: nothing may sleep in an RCU read-side section. */
	end = ktime_add_ms(ktime_get(), 2000);
	while (ktime_before(ktime_get(), end)) {
		if (!atomic_read(count) && READ_ONCE(sp->returned))
			break;
		cpu_relax();
	}
	sp->frozen = !atomic_read(count);
	if (READ_ONCE(sp->returned))
		sp->raced = true;
	else
		sp->got = c && atomic_try_cmpxchg(count, &c, c + 1);
	WRITE_ONCE(sp->left, true);
	rcu_read_unlock();
	complete_all(&sp->done);
	return 0;
}

/*
 * Start the reader on another CPU than the test's, which stays where it
 * is until gmem_test_spec_judge(): the reader spins, and on one CPU the
 * operation under test would not run before the reader gave up. Returns
 * an error, with the test free to migrate, if it cannot.
 */
static struct task_struct *gmem_test_spec_start(struct kunit *test,
						struct gmem_test_spec *sp,
						struct page *page)
{
	struct task_struct *task;
	unsigned int cpu;

	memset(sp, 0, sizeof(*sp));
	sp->page = page;
	init_completion(&sp->read);
	init_completion(&sp->done);
	migrate_disable();
	cpu = cpumask_any_but(cpu_online_mask, raw_smp_processor_id());
	if (cpu >= nr_cpu_ids) {
		migrate_enable();
		return ERR_PTR(-ENODEV);
	}
	task = kthread_create(gmem_test_spec_thread, sp, "gmem_test_spec");
	if (IS_ERR(task)) {
		migrate_enable();
		return task;
	}
	kthread_bind(task, cpu);
	wake_up_process(task);
	KUNIT_EXPECT_TRUE(test, wait_for_completion_timeout(&sp->read, 10 * HZ));
	WRITE_ONCE(gmem_test_spec_watched, sp);
	kunit_activate_static_stub(test, gmem_vmemmap_depopulate,
				   gmem_test_depopulate_probe);
	return task;
}

/* Judge the reader once the operation under test returned. */
static void gmem_test_spec_judge(struct kunit *test, struct gmem_test_spec *sp,
				 const char *op)
{
	bool left = READ_ONCE(sp->left);

	WRITE_ONCE(sp->returned, true);
	kunit_deactivate_static_stub(test, gmem_vmemmap_depopulate);
	WRITE_ONCE(gmem_test_spec_watched, NULL);
	migrate_enable();
	/* No assertion: the release test holds the owner's lock here. */
	if (!wait_for_completion_timeout(&sp->done, 30 * HZ)) {
		KUNIT_FAIL(test, "the reader did not finish in 30 s");
		return;
	}
	if (sp->remapped)
		KUNIT_FAIL(test,
			   "%s removed the vmemmap while a speculative reference read count 1 and had yet to write it: its cmpxchg would hit the read-only sentinel",
			   op);
	else if (!left || sp->raced)
		KUNIT_FAIL(test,
			   "%s returned while a speculative reference read count 1 and had yet to write it",
			   op);
	/* Frozen before the reader tried, the page cannot be had. */
	if (sp->got) {
		if (sp->frozen)
			KUNIT_FAIL(test, "%s let a reference in after its freeze",
				   op);
		else
			KUNIT_FAIL(test, "%s did not freeze the page in 2 s", op);
		put_page(sp->page);
	}
}

/*
 * A tracked 2 MiB chunk whose first granule is shared, and a reader in its
 * window on page 3 of it. Skips without a second CPU or a kthread.
 */
static struct gmem_track_owner *gmem_test_spec_owner(struct kunit *test,
						     struct gmem_test_spec *sp,
						     unsigned long *pfn)
{
	struct gmem_track_owner *owner;

	owner = gmem_test_owner(test, PMD_ORDER, GMEM_TRACK_TRACKED);
	*pfn = gmem_test_pfn(test, owner, 0);
	KUNIT_ASSERT_EQ(test, gmem_track_set_shared(owner, 0, 64, NULL), 0);
	if (IS_ERR(gmem_test_spec_start(test, sp, pfn_to_page(*pfn + 3)))) {
		gmem_track_owner_destroy(owner);
		kunit_skip(test, "no second CPU or no kthread");
	}
	return owner;
}

/*
 * A shared granule converted to private loses its vmemmap: its struct
 * pages are frozen, then remapped to the read-only sentinel. A speculative
 * reference that read a shared page's count before the freeze must be
 * done before the remap.
 */
static void gmem_test_spec_ref_vs_set_private(struct kunit *test)
{
	/* Not on the stack: the kthread may outlive a test that gave up. */
	static struct gmem_test_spec sp;
	struct gmem_track_owner *owner;
	unsigned long pfn;
	bool shared = true;

	owner = gmem_test_spec_owner(test, &sp, &pfn);
	KUNIT_EXPECT_EQ(test, gmem_track_set_private(owner, 0, 64, NULL), 0);
	gmem_test_spec_judge(test, &sp, "set_private");

	KUNIT_EXPECT_FALSE(test, gmem_vmemmap_populated(pfn));
	KUNIT_EXPECT_EQ(test, gmem_track_lookup(owner, 3, NULL, NULL, &shared), 0);
	KUNIT_EXPECT_FALSE(test, shared);
	gmem_test_expect_private(test, pfn, 64);
	gmem_track_owner_destroy(owner);
}

/*
 * A chunk given up without struct pages (parked here, as when no memory
 * is left to rebuild them; a reserved chunk goes back the same way) has
 * its shared granules' vmemmap removed: the same rule holds.
 */
static void gmem_test_spec_ref_vs_release(struct kunit *test)
{
	/* Not on the stack: the kthread may outlive a test that gave up. */
	static struct gmem_test_spec sp;
	struct gmem_track_owner *owner;
	unsigned long pfn, taken = 0;

	owner = gmem_test_spec_owner(test, &sp, &pfn);
	mutex_lock(&owner->lock);
	kunit_activate_static_stub(test, gmem_vmemmap_repopulate,
				   gmem_test_repopulate_fails);
	KUNIT_EXPECT_EQ(test, gmem_chunk_release(owner, 0, true), 0);
	kunit_deactivate_static_stub(test, gmem_vmemmap_repopulate);
	gmem_test_spec_judge(test, &sp, "chunk_release");
	KUNIT_EXPECT_EQ(test, gmem_ranges_remove(&owner->ranges, 0,
						 1UL << PMD_ORDER, GFP_KERNEL), 0);
	mutex_unlock(&owner->lock);

	KUNIT_EXPECT_FALSE(test, gmem_vmemmap_populated(pfn));
	gmem_track_owner_destroy(owner);

	/*
	 * The parked chunk would be the next tracked owner's, without the
	 * vmemmap removal later tests count: a new owner takes it and gives
	 * it back to the buddy allocator, struct pages rebuilt.
	 */
	owner = gmem_track_owner_create(PMD_ORDER, GMEM_TRACK_TRACKED,
					NUMA_NO_NODE);
	KUNIT_ASSERT_FALSE(test, IS_ERR(owner));
	/* Not a reserved chunk: parked ones come after the reservation. */
	owner->buddy_only = true;
	KUNIT_EXPECT_EQ(test, gmem_track_populate(owner, 0), 0);
	KUNIT_EXPECT_EQ(test, gmem_track_lookup(owner, 0, &taken, NULL, NULL), 0);
	KUNIT_EXPECT_EQ(test, taken, pfn);
	gmem_track_owner_destroy(owner);
	KUNIT_EXPECT_FALSE(test, gmem_track_pfn_owned(pfn));
}

/* The PFN the memory error below hit; 0 before it did. */
static unsigned long gmem_test_mf_hit;

/*
 * A memory error on a page of a new chunk, from a memory_failure() that
 * found the PFN free: it set PG_hwpoison once the page was allocated and
 * before gmem_track recorded the chunk (it was preempted after it asked
 * gmem_track). The stub marks the page once the call returns, which the
 * look that follows cannot tell from before the record. Only the first
 * chunk: the stub goes at its call.
 */
static int gmem_test_alloc_hit(struct gmem_track_owner *owner,
			       unsigned int order, unsigned long *pfn,
			       bool *depopulated)
{
	struct kunit *test = kunit_get_current_test();
	int ret;

	kunit_deactivate_static_stub(test, gmem_pool_alloc);
	ret = gmem_pool_alloc(owner, order, pfn, depopulated);
	if (!ret && !*depopulated) {
		gmem_test_mf_hit = *pfn + 7;
		SetPageHWPoison(pfn_to_page(gmem_test_mf_hit));
	}
	return ret;
}

static const enum gmem_track_design gmem_test_designs[] = {
	GMEM_TRACK_TRACKED, GMEM_TRACK_STRUCT_PAGE,
};

static void gmem_test_design_desc(const enum gmem_track_design *d, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "%s", gmem_design_names[*d]);
}

KUNIT_ARRAY_PARAM(gmem_test_design, gmem_test_designs, gmem_test_design_desc);

/*
 * A page memory_failure() marked while its chunk was being taken must
 * never be handed out: the new chunk goes back with the page kept out of
 * the allocator, and another chunk backs the file. In the tracked design
 * PG_hwpoison would otherwise go with the struct pages, in both the
 * descriptor would not know of it.
 */
static void gmem_test_mf_new_chunk(struct kunit *test)
{
	const enum gmem_track_design *design = test->param_value;
	struct gmem_track_owner *owner;
	unsigned long hit;
	struct page *page;
	bool owned;
	int ret;

	owner = gmem_track_owner_create(PMD_ORDER, *design, NUMA_NO_NODE);
	KUNIT_ASSERT_FALSE(test, IS_ERR(owner));
	/* The window is in taking a chunk from the buddy allocator. */
	owner->buddy_only = true;

	gmem_test_mf_hit = 0;
	kunit_activate_static_stub(test, gmem_pool_alloc, gmem_test_alloc_hit);
	ret = gmem_track_populate(owner, 0);
	hit = gmem_test_mf_hit;
	if (ret == -ENOMEM || !hit) {
		gmem_track_owner_destroy(owner);
		kunit_skip(test, "no order-%u chunk from the buddy allocator",
			   PMD_ORDER);
	}
	page = pfn_to_page(hit);
	owned = gmem_track_pfn_owned(hit);
	KUNIT_EXPECT_EQ(test, ret, 0);
	KUNIT_EXPECT_FALSE_MSG(test, owned,
			       "%#lx, marked by memory_failure() while its chunk was taken, was handed out as %s memory%s",
			       hit, gmem_design_names[*design],
			       *design == GMEM_TRACK_TRACKED ?
			       ": its PG_hwpoison went with the struct pages" :
			       " the descriptor does not know is poisoned");
	if (!owned) {
		/* Kept out of the allocator with PG_hwpoison... */
		KUNIT_EXPECT_TRUE(test, PageHWPoison(page));
		KUNIT_EXPECT_FALSE(test, PageBuddy(page));
		KUNIT_EXPECT_EQ(test, page_count(page), 0);
		/* ...while another chunk backs the file. */
		KUNIT_EXPECT_NE(test, ALIGN_DOWN(gmem_test_pfn(test, owner, 0),
						 1UL << PMD_ORDER),
				ALIGN_DOWN(hit, 1UL << PMD_ORDER));
	}
	/*
	 * The page stays out of use, as after a real error: the allocator
	 * let it go already, and unpoison_memory() leaves such a page too.
	 */
	gmem_track_owner_destroy(owner);
}

/*
 * memory_failure()'s side: once gmem_track said the PFN is not its own,
 * PG_hwpoison is set only if that still holds. On a shared page a wrong
 * write shows as the flag; on a tracked private page it would hit the
 * read-only sentinel.
 */
static void gmem_test_mf_set_hwpoison(struct kunit *test)
{
	const enum gmem_track_design *design = test->param_value;
	struct gmem_track_owner *owner;
	unsigned long pfn;
	struct page *page;

	owner = gmem_test_owner(test, PMD_ORDER, *design);
	pfn = gmem_test_pfn(test, owner, 0);
	KUNIT_ASSERT_EQ(test, gmem_track_set_shared(owner, 0, 64, NULL), 0);
	KUNIT_EXPECT_EQ(test, gmem_track_test_set_hwpoison(pfn + 9,
							   pfn_to_page(pfn + 9)),
			-EAGAIN);
	KUNIT_EXPECT_FALSE(test, PageHWPoison(pfn_to_page(pfn + 9)));
	KUNIT_EXPECT_EQ(test, gmem_track_test_set_hwpoison(pfn + 100,
							   pfn_to_page(pfn + 100)),
			-EAGAIN);
	gmem_track_owner_destroy(owner);

	/* A page of somebody else: marked, once. */
	page = alloc_page(GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, page);
	pfn = page_to_pfn(page);
	KUNIT_EXPECT_EQ(test, gmem_track_test_set_hwpoison(pfn, page), 0);
	KUNIT_EXPECT_TRUE(test, PageHWPoison(page));
	KUNIT_EXPECT_EQ(test, gmem_track_test_set_hwpoison(pfn, page), 1);
	ClearPageHWPoison(page);
	__free_page(page);
}

#ifdef CONFIG_MEMORY_FAILURE
/*
 * memory_failure() itself, from a kthread and at a random moment, while
 * the test gives its chunk back and takes one in a loop: the windows that
 * gmem_test_mf_new_chunk() holds open with stubs, hit by timing alone.
 * The chunks come from blocks the test allocated (static stubs of
 * gmem_pool_alloc_buddy() and gmem_pool_free_buddy()), so that the page
 * hit is always gmem_track's or the test's, never the rest of the
 * kernel's: in the chunk the owner holds, in a block the test keeps free
 * (handed out again next, as the buddy allocator would), or in one on its
 * way in or out. Wherever it lands it must end up out of use: poisoned in
 * the descriptor while the owner's chunk holds it, else with PG_hwpoison.
 * A block given back with a poisoned page is not handed out again; at the
 * end the test frees its blocks and the allocator keeps the poisoned pages.
 */
#define GMEM_TEST_CHURN_BLOCKS	8	/* allocated at the start */
#define GMEM_TEST_CHURN_MAX	16	/* and parked chunks adopted */
#define GMEM_TEST_CHURN_HITS	8
#define GMEM_TEST_CHURN_MS	3000
#define GMEM_TEST_CHURN_TRIES	100

enum { GMEM_CHURN_OUT, GMEM_CHURN_FREE, GMEM_CHURN_DEAD };

/* Not on the stack: the kthread may outlive a test that gave up. */
static struct gmem_test_churn {
	unsigned long block[GMEM_TEST_CHURN_MAX];
	int state[GMEM_TEST_CHURN_MAX];
	int nr;
	bool overflow;		/* more parked chunks than room */
	unsigned long pfn;	/* the next page to hit */
	int handled, unowned;	/* memory_failure() returns: 0, -EBUSY */
	unsigned long bad;	/* a poisoned page handed out, or 0 */
	bool stop;
	struct completion go, done, exited;
} gmem_test_churn;

/* The lowest free block: the one just given back, while it lives. */
static struct page *gmem_test_churn_alloc(int nid, unsigned int order)
{
	struct gmem_test_churn *c = &gmem_test_churn;
	int i;

	for (i = 0; i < c->nr; i++) {
		if (c->state[i] == GMEM_CHURN_FREE) {
			c->state[i] = GMEM_CHURN_OUT;
			return pfn_to_page(c->block[i]);
		}
	}
	return NULL;
}

/*
 * A block back from the owner stays the test's: free for the next chunk,
 * or dead if a page of it is poisoned. A chunk that was not one of the
 * test's blocks (a parked one the owner took) becomes one, so that no
 * page the kthread may still hit goes to the buddy allocator.
 */
static void gmem_test_churn_free(unsigned long pfn, unsigned int order)
{
	struct gmem_test_churn *c = &gmem_test_churn;
	unsigned long j;
	int i;

	for (i = 0; i < c->nr && c->block[i] != pfn; i++)
		;
	if (i == c->nr) {
		/* Never seen (< 1 parked chunk per boot): leak it, fail. */
		if (c->nr == GMEM_TEST_CHURN_MAX) {
			c->overflow = true;
			return;
		}
		c->block[c->nr++] = pfn;
	}
	c->state[i] = GMEM_CHURN_FREE;
	for (j = 0; j < (1UL << order); j++)
		if (PageHWPoison(pfn_to_page(pfn + j)))
			c->state[i] = GMEM_CHURN_DEAD;
}

static int gmem_test_churn_thread(void *data)
{
	struct gmem_test_churn *c = data;

	for (;;) {
		wait_for_completion(&c->go);
		if (READ_ONCE(c->stop))
			break;
		/* Somewhere in the release and populate that run meanwhile. */
		udelay(get_random_u32_below(400));
		/*
		 * 0: gmem_track held the page. -EBUSY: it did not (a block in
		 * the test's hands, or a chunk in flight), and memory_failure()
		 * marked it PG_hwpoison and could do nothing more.
		 */
		switch (memory_failure(READ_ONCE(c->pfn), MF_SW_SIMULATED)) {
		case 0:
			c->handled++;
			break;
		case -EBUSY:
			c->unowned++;
			break;
		}
		complete(&c->done);
	}
	complete(&c->exited);
	return 0;
}

/*
 * Give chunk 0 back and take one; a transient reference (a PFN walker)
 * makes either fail with -EBUSY: try again. In the struct-page design
 * every page of the new chunk has its struct page: one with PG_hwpoison
 * that the descriptor does not know is poisoned was handed out.
 */
static int gmem_test_churn_cycle(struct gmem_track_owner *owner)
{
	unsigned long pfn;
	pgoff_t j;
	int i, ret;

	for (i = 0; i < GMEM_TEST_CHURN_TRIES; i++) {
		ret = gmem_track_release(owner, 0, 1UL << PMD_ORDER);
		if (ret != -EBUSY)
			break;
		cond_resched();
	}
	if (ret)
		return ret;
	for (i = 0; i < GMEM_TEST_CHURN_TRIES; i++) {
		ret = gmem_track_populate(owner, 0);
		if (ret != -EBUSY)
			break;
		cond_resched();
	}
	if (ret || owner->design != GMEM_TRACK_STRUCT_PAGE)
		return ret;
	for (j = 0; j < (1UL << PMD_ORDER); j++) {
		if (gmem_track_lookup(owner, j, &pfn, NULL, NULL))
			continue;
		if (PageHWPoison(pfn_to_page(pfn)) && !gmem_test_churn.bad)
			gmem_test_churn.bad = pfn;
	}
	return 0;
}

/* Whether a page memory_failure() was called on is out of use. */
static bool gmem_test_churn_safe(struct gmem_track_owner *owner,
				 unsigned long hit)
{
	unsigned long base, pfn = 0;
	pgoff_t i;
	int ret;

	/* The owner's chunk, from its first index that is not poisoned. */
	for (i = 0; i < (1UL << PMD_ORDER); i++) {
		ret = gmem_track_lookup(owner, i, &pfn, NULL, NULL);
		if (ret != -EHWPOISON)
			break;
	}
	base = pfn - i;
	if (!ret && hit >= base && hit < base + (1UL << PMD_ORDER))
		return gmem_track_lookup(owner, hit - base, &pfn, NULL,
					 NULL) == -EHWPOISON;
	/* Kept by gmem_track for no owner, or in one of the test's blocks. */
	if (gmem_track_pfn_owned(hit))
		return !gmem_pool_owns(hit, owner);
	return PageHWPoison(pfn_to_page(hit));
}

static void gmem_test_mf_churn(struct kunit *test)
{
	const enum gmem_track_design *design = test->param_value;
	struct gmem_test_churn *c = &gmem_test_churn;
	unsigned long hits[GMEM_TEST_CHURN_HITS], pfn, end, cycles = 0, j;
	struct gmem_track_owner *owner;
	struct task_struct *task;
	struct page *page;
	int n = 0, i, ret;

	memset(c, 0, sizeof(*c));
	owner = gmem_track_owner_create(PMD_ORDER, *design, NUMA_NO_NODE);
	KUNIT_ASSERT_FALSE(test, IS_ERR(owner));
	owner->buddy_only = true;
	for (i = 0; i < GMEM_TEST_CHURN_BLOCKS; i++) {
		page = gmem_pool_alloc_buddy(NUMA_NO_NODE, PMD_ORDER);
		if (!page)
			break;
		c->block[c->nr] = page_to_pfn(page);
		c->state[c->nr++] = GMEM_CHURN_FREE;
	}
	kunit_activate_static_stub(test, gmem_pool_alloc_buddy,
				   gmem_test_churn_alloc);
	kunit_activate_static_stub(test, gmem_pool_free_buddy,
				   gmem_test_churn_free);
	if (c->nr < 2)
		goto out;
	ret = gmem_track_populate(owner, 0);
	KUNIT_EXPECT_EQ(test, ret, 0);
	if (ret)
		goto out;
	init_completion(&c->go);
	init_completion(&c->done);
	init_completion(&c->exited);
	task = kthread_run(gmem_test_churn_thread, c, "gmem_test_churn");
	KUNIT_EXPECT_FALSE(test, IS_ERR(task));
	if (IS_ERR(task))
		goto out;

	end = jiffies + msecs_to_jiffies(GMEM_TEST_CHURN_MS);
	while (n < GMEM_TEST_CHURN_HITS && time_before(jiffies, end)) {
		/* A page of the chunk held now, never its first. */
		ret = gmem_track_lookup(owner, 0, &pfn, NULL, NULL);
		if (ret)
			break;
		hits[n++] = pfn + 1 + get_random_u32_below((1U << PMD_ORDER) - 1);
		WRITE_ONCE(c->pfn, hits[n - 1]);
		complete(&c->go);
		while (!try_wait_for_completion(&c->done)) {
			ret = gmem_test_churn_cycle(owner);
			if (ret) {
				wait_for_completion(&c->done);
				break;
			}
			cycles++;
		}
		/* Once more, as the page may have been in flight. */
		if (!ret)
			ret = gmem_test_churn_cycle(owner);
		if (ret)
			break;
	}
	WRITE_ONCE(c->stop, true);
	complete(&c->go);
	wait_for_completion(&c->exited);

	kunit_info(test, "%d pages hit during %lu chunk cycles over %d blocks: %d held by gmem_track, %d not\n",
		   n, cycles, c->nr, c->handled, c->unowned);
	KUNIT_EXPECT_EQ_MSG(test, c->bad, 0,
			    "%#lx, marked by memory_failure(), was handed out as good memory",
			    c->bad);
	for (i = 0; i < n; i++)
		KUNIT_EXPECT_TRUE_MSG(test, gmem_test_churn_safe(owner, hits[i]),
				      "%#lx, hit by memory_failure() during %lu chunk cycles, is in use",
				      hits[i], cycles);
	/* Only running out of blocks, as hit ones die, ends it early. */
	KUNIT_EXPECT_TRUE_MSG(test, !ret || ret == -ENOMEM, "ret %d", ret);
	KUNIT_EXPECT_GT(test, n, 0);
out:
	gmem_track_owner_destroy(owner);
	KUNIT_EXPECT_FALSE(test, c->overflow);
	kunit_deactivate_static_stub(test, gmem_pool_free_buddy);
	kunit_deactivate_static_stub(test, gmem_pool_alloc_buddy);
	/*
	 * Blocks still out are gmem_track's (parked or quarantined) and stay
	 * there. The others go back page by page: the allocator keeps a
	 * poisoned page out of its free lists.
	 */
	for (i = 0; i < c->nr; i++) {
		if (c->state[i] == GMEM_CHURN_OUT)
			continue;
		for (j = 0; j < (1UL << PMD_ORDER); j++) {
			page = pfn_to_page(c->block[i] + j);
			KUNIT_EXPECT_EQ(test, page_count(page), 1);
			if (page_count(page) == 1)
				__free_page(page);
		}
	}
	if (c->nr < 2)
		kunit_skip(test, "no two order-%u blocks", PMD_ORDER);
}

/* The block the struct-page test below lends gmem_track, and gets back. */
static unsigned long gmem_test_lent, gmem_test_returned;
static bool gmem_test_lent_out;

static struct page *gmem_test_lend(int nid, unsigned int order)
{
	/* Once: gmem_track gives a chunk back with a page still marked. */
	if (gmem_test_lent_out)
		return NULL;
	gmem_test_lent_out = true;
	return pfn_to_page(gmem_test_lent);
}

/* Has a task queued on @lock? */
static bool gmem_test_mutex_waited(struct mutex *lock)
{
#ifdef CONFIG_PREEMPT_RT
	return true;
#else
	/* data_race(): a peek the test repeats until it holds. */
	return !!data_race(lock->first_waiter);
#endif
}

static void gmem_test_take_back(unsigned long pfn, unsigned int order)
{
	gmem_test_returned = pfn;
}

/* memory_failure() itself, all of it. */
static int gmem_test_mf_full_thread(void *data)
{
	struct gmem_test_mf *mf = data;

	mf->ret = memory_failure(mf->pfn, MF_SW_SIMULATED);
	complete_all(&mf->done);
	return 0;
}

/*
 * The struct-page design's release while memory_failure() waits for the
 * owner's lock: the release rewrites every struct page of the chunk
 * (PG_hwpoison included, gmem_page_init_shared()) and erases the chunk
 * from the PFN tree. When memory_failure() gets the lock the page is
 * nobody's: gmem_track must say so (-ENOENT) after looking again, and
 * memory_failure() then marks it, after the rewrite, so the mark stays
 * and the page never reaches the free lists. The chunk is a block the
 * test lends (stubs of gmem_pool_alloc_buddy() and
 * gmem_pool_free_buddy()), so the page hit is never the rest of the
 * kernel's; the allocator keeps it out of its free lists at the end.
 */
static void gmem_test_mf_vs_release_struct_page(struct kunit *test)
{
	/* Not on the stack: the kthread may outlive a test that gave up. */
	static struct gmem_test_mf mf;
	unsigned long nr = 1UL << PMD_ORDER, pfn, i;
	struct gmem_track_owner *owner;
	struct task_struct *task;
	struct page *block;
	int ret;

	block = gmem_pool_alloc_buddy(NUMA_NO_NODE, PMD_ORDER);
	if (!block)
		kunit_skip(test, "no order-%u block", PMD_ORDER);
	gmem_test_lent = page_to_pfn(block);
	gmem_test_returned = 0;
	gmem_test_lent_out = false;
	owner = gmem_track_owner_create(PMD_ORDER, GMEM_TRACK_STRUCT_PAGE,
					NUMA_NO_NODE);
	KUNIT_ASSERT_FALSE(test, IS_ERR(owner));
	owner->buddy_only = true;
	kunit_activate_static_stub(test, gmem_pool_alloc_buddy, gmem_test_lend);
	kunit_activate_static_stub(test, gmem_pool_free_buddy,
				   gmem_test_take_back);
	ret = gmem_track_populate(owner, 0);
	KUNIT_EXPECT_EQ(test, ret, 0);
	pfn = ret ? 0 : gmem_test_pfn(test, owner, 0);
	KUNIT_EXPECT_EQ(test, pfn, gmem_test_lent);
	if (pfn != gmem_test_lent)
		goto out;
	/* Some of it shared, as a VM's would be. */
	KUNIT_EXPECT_EQ(test, gmem_track_set_shared(owner, 0, 64, NULL), 0);

	mf.pfn = pfn + 5;
	mf.ret = 1;
	init_completion(&mf.done);
	mutex_lock(&owner->lock);
	task = kthread_run(gmem_test_mf_full_thread, &mf, "gmem_test_mf");
	if (IS_ERR(task)) {
		mutex_unlock(&owner->lock);
		KUNIT_FAIL(test, "no kthread");
		goto out;
	}
	KUNIT_EXPECT_TRUE(test, gmem_test_wait_blocked(task));
	/* Let it reach the owner's lock, if it is on another one yet. */
	for (i = 0; i < 50 && !gmem_test_mutex_waited(&owner->lock); i++)
		msleep(20);
	KUNIT_EXPECT_TRUE_MSG(test, gmem_test_mutex_waited(&owner->lock),
			      "memory_failure() never waited for the owner's lock");
	KUNIT_EXPECT_EQ(test, gmem_chunk_release(owner, 0, false), 0);
	mutex_unlock(&owner->lock);

	KUNIT_ASSERT_TRUE(test, wait_for_completion_timeout(&mf.done, 30 * HZ));
	KUNIT_EXPECT_EQ(test, gmem_test_returned, pfn);
	KUNIT_EXPECT_FALSE(test, gmem_track_pfn_owned(pfn));
	/* Not gmem_track's any more: memory_failure() could only mark it. */
	KUNIT_EXPECT_EQ(test, mf.ret, -EBUSY);
	KUNIT_EXPECT_TRUE_MSG(test, PageHWPoison(pfn_to_page(pfn + 5)),
			      "%#lx: the mark of a memory error that waited for the struct-page release was lost",
			      pfn + 5);
	for (i = 0; i < nr; i++) {
		if (i != 5 && PageHWPoison(pfn_to_page(pfn + i))) {
			KUNIT_FAIL(test, "%#lx: PG_hwpoison on a page not hit",
				   pfn + i);
			break;
		}
	}
out:
	gmem_track_owner_destroy(owner);
	kunit_deactivate_static_stub(test, gmem_pool_free_buddy);
	kunit_deactivate_static_stub(test, gmem_pool_alloc_buddy);
	/* Still gmem_track's (parked or quarantined): it stays there. */
	if (gmem_test_returned != gmem_test_lent &&
	    gmem_track_pfn_owned(gmem_test_lent))
		return;
	/* Page by page: the allocator keeps the poisoned page out. */
	for (i = 0; i < nr; i++) {
		struct page *page = pfn_to_page(gmem_test_lent + i);

		KUNIT_EXPECT_EQ(test, page_count(page), 1);
		if (page_count(page) == 1)
			__free_page(page);
	}
}
#endif

/*
 * Deferred depopulation (deferred.c). The suite runs with it off, as the
 * tests above count vmemmap pages right after each conversion; these turn
 * it on, with a delay long enough that the worker stays out of the way
 * unless a test wants it.
 */
static void gmem_test_deferred_on(unsigned int delay_ms)
{
	WRITE_ONCE(gmem_deferred_limit_pages, ULONG_MAX);
	WRITE_ONCE(gmem_deferred_delay_ms, delay_ms);
}

static long gmem_test_deferred_stat(void)
{
	return atomic_long_read(&gmem_stats[GMEM_TRACK_TRACKED][GMEM_STAT_DEFERRED]);
}

/*
 * A granule whose last shared page goes private keeps its vmemmap until
 * the flush; a conversion back to shared meanwhile allocates nothing; the
 * flush removes it, and a chunk released meanwhile takes it along.
 */
static void gmem_test_deferred(struct kunit *test)
{
	long before = gmem_test_memmap(), deferred0 = gmem_test_deferred_stat();
	struct gmem_track_stats st0, st;
	struct gmem_track_owner *owner;
	unsigned long pfn;
	long memmap;

	gmem_test_deferred_on(3600 * MSEC_PER_SEC);
	gmem_track_read_stats(GMEM_TRACK_TRACKED, &st0);
	owner = gmem_test_owner(test, PMD_ORDER, GMEM_TRACK_TRACKED);
	pfn = gmem_test_pfn(test, owner, 0);
	memmap = gmem_test_memmap();
	KUNIT_EXPECT_EQ(test, before - memmap, (long)GMEM_TEST_VMEMMAP_2M);

	/* Shared, then private again: the vmemmap page stays, recorded. */
	KUNIT_ASSERT_EQ(test, gmem_track_set_shared(owner, 5, 1, NULL), 0);
	KUNIT_EXPECT_EQ(test, gmem_test_memmap(), memmap + 1);
	KUNIT_ASSERT_EQ(test, gmem_track_set_private(owner, 5, 1, NULL), 0);
	KUNIT_EXPECT_EQ(test, gmem_test_memmap(), memmap + 1);
	KUNIT_EXPECT_TRUE(test, gmem_vmemmap_populated(pfn));
	KUNIT_EXPECT_EQ(test, gmem_test_deferred_stat() - deferred0, 1);
	/* Its struct pages read as the sentinel's, as a walker sees them. */
	gmem_test_expect_private(test, pfn, 64);

	/* Shared again before the flush: nothing to allocate. */
	KUNIT_ASSERT_EQ(test, gmem_track_set_shared(owner, 7, 2, NULL), 0);
	KUNIT_EXPECT_EQ(test, gmem_test_memmap(), memmap + 1);
	KUNIT_EXPECT_EQ(test, gmem_test_deferred_stat(), deferred0);
	gmem_test_expect_shared(test, pfn + 7, 2, pfn_to_nid(pfn),
				page_zone(pfn_to_page(pfn + 7)));
	gmem_test_expect_private(test, pfn + 9, 55);

	/* One shared page left keeps the record away. */
	KUNIT_ASSERT_EQ(test, gmem_track_set_private(owner, 7, 1, NULL), 0);
	KUNIT_EXPECT_EQ(test, gmem_test_deferred_stat(), deferred0);
	KUNIT_ASSERT_EQ(test, gmem_track_set_private(owner, 8, 1, NULL), 0);
	KUNIT_EXPECT_EQ(test, gmem_test_deferred_stat() - deferred0, 1);

	/* The flush takes it. */
	KUNIT_EXPECT_EQ(test, gmem_deferred_flush(owner), 1);
	KUNIT_EXPECT_EQ(test, gmem_test_memmap(), memmap);
	KUNIT_EXPECT_FALSE(test, gmem_vmemmap_populated(pfn));
	KUNIT_EXPECT_EQ(test, gmem_test_deferred_stat(), deferred0);
	KUNIT_EXPECT_EQ(test, gmem_deferred_flush(owner), 0);
	gmem_test_expect_private(test, pfn, 512);

	/* Two granules waiting when the chunk goes: they go with it. */
	KUNIT_ASSERT_EQ(test, gmem_track_set_shared(owner, 64, 128, NULL), 0);
	KUNIT_ASSERT_EQ(test, gmem_track_set_private(owner, 64, 128, NULL), 0);
	KUNIT_EXPECT_EQ(test, gmem_test_deferred_stat() - deferred0, 2);
	KUNIT_EXPECT_EQ(test, gmem_test_memmap(), memmap + 2);
	gmem_track_read_stats(GMEM_TRACK_TRACKED, &st);
	KUNIT_EXPECT_EQ(test, st.deferred_pages - st0.deferred_pages, 2);
	KUNIT_EXPECT_EQ(test, st.vmemmap_freed_pages - st0.vmemmap_freed_pages,
			(long)GMEM_TEST_VMEMMAP_2M - 2);
	KUNIT_EXPECT_EQ(test, gmem_track_release(owner, 0, 512), 0);
	KUNIT_EXPECT_EQ(test, gmem_test_deferred_stat(), deferred0);
	KUNIT_EXPECT_EQ(test, gmem_test_memmap(), before);
	KUNIT_EXPECT_TRUE(test, xa_empty(&owner->deferred));

	/* And on destroy: no record may outlive the owner's chunks. */
	KUNIT_ASSERT_EQ(test, gmem_track_populate(owner, 0), 0);
	pfn = gmem_test_pfn(test, owner, 0);
	KUNIT_ASSERT_EQ(test, gmem_track_set_shared(owner, 300, 1, NULL), 0);
	KUNIT_ASSERT_EQ(test, gmem_track_set_private(owner, 300, 1, NULL), 0);
	KUNIT_EXPECT_EQ(test, gmem_test_deferred_stat() - deferred0, 1);
	gmem_track_owner_destroy(owner);
	KUNIT_EXPECT_EQ(test, gmem_test_deferred_stat(), deferred0);
	KUNIT_EXPECT_EQ(test, gmem_test_memmap(), before);
	gmem_track_read_stats(GMEM_TRACK_TRACKED, &st);
	KUNIT_EXPECT_EQ(test, st.vmemmap_pages, st0.vmemmap_pages);
	KUNIT_EXPECT_EQ(test, st.vmemmap_freed_pages, st0.vmemmap_freed_pages);
}

/* Past the limit, a conversion removes the vmemmap itself. */
static void gmem_test_deferred_limit(struct kunit *test)
{
	long deferred0 = gmem_test_deferred_stat();
	struct gmem_track_owner *owner;
	unsigned long pfn;
	long memmap;

	gmem_test_deferred_on(3600 * MSEC_PER_SEC);
	owner = gmem_test_owner(test, PMD_ORDER, GMEM_TRACK_TRACKED);
	pfn = gmem_test_pfn(test, owner, 0);
	memmap = gmem_test_memmap();
	/* Room for exactly one more granule. */
	WRITE_ONCE(gmem_deferred_limit_pages, deferred0 + 1);
	KUNIT_ASSERT_EQ(test, gmem_track_set_shared(owner, 0, 192, NULL), 0);
	KUNIT_EXPECT_EQ(test, gmem_test_memmap(), memmap + 3);
	KUNIT_ASSERT_EQ(test, gmem_track_set_private(owner, 0, 192, NULL), 0);
	KUNIT_EXPECT_EQ(test, gmem_test_deferred_stat() - deferred0, 1);
	KUNIT_EXPECT_EQ(test, gmem_test_memmap(), memmap + 1);
	KUNIT_EXPECT_TRUE(test, gmem_vmemmap_populated(pfn));
	KUNIT_EXPECT_FALSE(test, gmem_vmemmap_populated(pfn + 64));
	KUNIT_EXPECT_FALSE(test, gmem_vmemmap_populated(pfn + 128));
	gmem_test_expect_private(test, pfn, 512);
	gmem_track_owner_destroy(owner);
	KUNIT_EXPECT_EQ(test, gmem_test_deferred_stat(), deferred0);
}

/* The worker takes what waits, a delay after the conversion. */
static void gmem_test_deferred_worker(struct kunit *test)
{
	long deferred0 = gmem_test_deferred_stat();
	struct gmem_track_owner *owner;
	unsigned long pfn;
	long memmap;
	int ms;

	gmem_test_deferred_on(10);
	owner = gmem_test_owner(test, PMD_ORDER, GMEM_TRACK_TRACKED);
	pfn = gmem_test_pfn(test, owner, 0);
	memmap = gmem_test_memmap();
	KUNIT_ASSERT_EQ(test, gmem_track_set_shared(owner, 0, 512, NULL), 0);
	KUNIT_ASSERT_EQ(test, gmem_track_set_private(owner, 0, 512, NULL), 0);
	for (ms = 0; ms < 5000 && gmem_test_deferred_stat() != deferred0; ms += 20)
		msleep(20);
	kunit_info(test, "settled after %d ms\n", ms);
	KUNIT_EXPECT_EQ(test, gmem_test_deferred_stat(), deferred0);
	KUNIT_EXPECT_EQ(test, gmem_test_memmap(), memmap);
	KUNIT_EXPECT_FALSE(test, gmem_vmemmap_populated(pfn));
	KUNIT_EXPECT_FALSE(test, gmem_vmemmap_populated(pfn + 511));
	gmem_test_expect_private(test, pfn, 512);
	gmem_track_owner_destroy(owner);
}

/*
 * With the removal deferred, the grace period that keeps a speculative
 * reference's cmpxchg off the read-only sentinel is the flush's.
 */
static void gmem_test_spec_ref_vs_deferred(struct kunit *test)
{
	/* Not on the stack: the kthread may outlive a test that gave up. */
	static struct gmem_test_spec sp;
	struct gmem_track_owner *owner;
	unsigned long pfn;

	gmem_test_deferred_on(3600 * MSEC_PER_SEC);
	owner = gmem_test_spec_owner(test, &sp, &pfn);
	KUNIT_EXPECT_EQ(test, gmem_track_set_private(owner, 0, 64, NULL), 0);
	KUNIT_EXPECT_TRUE(test, gmem_vmemmap_populated(pfn));
	KUNIT_EXPECT_EQ(test, gmem_deferred_flush(owner), 1);
	gmem_test_spec_judge(test, &sp, "the deferred flush");
	KUNIT_EXPECT_FALSE(test, gmem_vmemmap_populated(pfn));
	gmem_test_expect_private(test, pfn, 64);
	gmem_track_owner_destroy(owner);
}

/*
 * A memory cgroup at its limit, modelled by a stub of the charge: room
 * for gmem_test_charge_room pages besides the vmemmap waiting for
 * deferred depopulation, which the cgroup holds too.
 */
static long gmem_test_charge_room, gmem_test_charge_base;

static int gmem_test_charge_full(struct gmem_track_owner *owner,
				 unsigned long pages, gfp_t gfp)
{
	long waiting = gmem_test_deferred_stat() - gmem_test_charge_base;

	return waiting + (long)pages > gmem_test_charge_room ? -ENOMEM : 0;
}

/*
 * At the limit, a conversion to shared or a new chunk first gives back
 * the owner's waiting vmemmap, but that of the granules it converts.
 */
static void gmem_test_deferred_charge(struct kunit *test)
{
	struct gmem_track_owner *owner;
	unsigned long pfn;
	long memmap;

	gmem_test_deferred_on(3600 * MSEC_PER_SEC);
	gmem_test_charge_base = gmem_test_deferred_stat();
	owner = gmem_test_owner(test, PMD_ORDER, GMEM_TRACK_TRACKED);
	pfn = gmem_test_pfn(test, owner, 0);
	memmap = gmem_test_memmap();
	KUNIT_ASSERT_EQ(test, gmem_track_set_shared(owner, 0, 192, NULL), 0);
	KUNIT_ASSERT_EQ(test, gmem_track_set_private(owner, 0, 192, NULL), 0);
	KUNIT_EXPECT_EQ(test, gmem_test_deferred_stat() - gmem_test_charge_base, 3);

	/* Granule 2 waits and is converted; granule 3 needs a page. */
	gmem_test_charge_room = 2;
	kunit_activate_static_stub(test, gmem_charge_gfp, gmem_test_charge_full);
	KUNIT_EXPECT_EQ(test, gmem_track_set_shared(owner, 131, 64, NULL), 0);
	KUNIT_EXPECT_EQ(test, gmem_test_deferred_stat(), gmem_test_charge_base);
	KUNIT_EXPECT_EQ(test, gmem_test_memmap(), memmap + 2);
	KUNIT_EXPECT_FALSE(test, gmem_vmemmap_populated(pfn));
	KUNIT_EXPECT_FALSE(test, gmem_vmemmap_populated(pfn + 64));
	KUNIT_EXPECT_TRUE(test, gmem_vmemmap_populated(pfn + 128));
	KUNIT_EXPECT_TRUE(test, gmem_vmemmap_populated(pfn + 192));
	gmem_test_expect_shared(test, pfn + 131, 64, pfn_to_nid(pfn),
				page_zone(pfn_to_page(pfn + 131)));

	/* A new chunk, with one granule waiting. */
	KUNIT_ASSERT_EQ(test, gmem_track_set_private(owner, 131, 64, NULL), 0);
	KUNIT_EXPECT_EQ(test, gmem_test_deferred_stat() - gmem_test_charge_base, 2);
	gmem_test_charge_room = 512;
	KUNIT_EXPECT_EQ(test, gmem_track_populate(owner, 512), 0);
	KUNIT_EXPECT_EQ(test, gmem_test_deferred_stat(), gmem_test_charge_base);
	KUNIT_EXPECT_EQ(test, gmem_test_memmap(), memmap - 8);
	kunit_deactivate_static_stub(test, gmem_charge_gfp);
	gmem_track_owner_destroy(owner);
}

/*
 * Two chunks next to each other in both index and PFN: a run of granules
 * whose vmemmap is removed in one go must not cross from one to the
 * other. The removal points the whole run at the sentinel of its first
 * page's node and zone, and two chunks that touch may lie in different
 * zones (one ends at 4 GiB, in DMA32, the next starts there, in Normal):
 * the second would read, and later be freed into, the wrong zone.
 */
static struct {
	unsigned long block;		/* two chunks, handed out in turn */
	int handed, returned;
	int crossed;			/* removals across a chunk boundary */
	unsigned long at, nr;		/* the first of them */
} gmem_test_pair;

static struct page *gmem_test_pair_alloc(int nid, unsigned int order)
{
	if (gmem_test_pair.handed == 2)
		return NULL;
	return pfn_to_page(gmem_test_pair.block +
			   (gmem_test_pair.handed++ << PMD_ORDER));
}

static void gmem_test_pair_free(unsigned long pfn, unsigned int order)
{
	gmem_test_pair.returned++;
}

static int gmem_test_pair_depopulate(unsigned long pfn, unsigned long nr)
{
	struct kunit *test = kunit_get_current_test();
	int ret;

	if (pfn >> PMD_ORDER != (pfn + nr - 1) >> PMD_ORDER &&
	    !gmem_test_pair.crossed++) {
		gmem_test_pair.at = pfn;
		gmem_test_pair.nr = nr;
	}
	kunit_deactivate_static_stub(test, gmem_vmemmap_depopulate);
	ret = gmem_vmemmap_depopulate(pfn, nr);
	kunit_activate_static_stub(test, gmem_vmemmap_depopulate,
				   gmem_test_pair_depopulate);
	return ret;
}

/*
 * A tracked 2 MiB owner whose chunks come, through the pool's static
 * stubs, from one 4 MiB block of the test's: its first half, then its
 * second. Skips without a free 4 MiB block.
 */
static struct gmem_track_owner *gmem_test_pair_owner(struct kunit *test)
{
	struct gmem_track_owner *owner;
	struct page *page;

	memset(&gmem_test_pair, 0, sizeof(gmem_test_pair));
	page = alloc_pages(GFP_KERNEL | __GFP_NOWARN, PMD_ORDER + 1);
	if (!page)
		kunit_skip(test, "no free 4 MiB block");
	split_page(page, PMD_ORDER + 1);
	gmem_test_pair.block = page_to_pfn(page);
	owner = gmem_track_owner_create(PMD_ORDER, GMEM_TRACK_TRACKED,
					NUMA_NO_NODE);
	KUNIT_ASSERT_FALSE(test, IS_ERR(owner));
	owner->buddy_only = true;
	kunit_activate_static_stub(test, gmem_pool_alloc_buddy,
				   gmem_test_pair_alloc);
	kunit_activate_static_stub(test, gmem_pool_free_buddy,
				   gmem_test_pair_free);
	return owner;
}

/*
 * Destroy it: every chunk handed out must have come back, and the block
 * whole, every page unreferenced.
 */
static void gmem_test_pair_done(struct kunit *test,
				struct gmem_track_owner *owner)
{
	struct page *page;
	unsigned long i;

	gmem_track_owner_destroy(owner);
	KUNIT_EXPECT_EQ(test, gmem_test_pair.returned, gmem_test_pair.handed);
	kunit_deactivate_static_stub(test, gmem_pool_free_buddy);
	kunit_deactivate_static_stub(test, gmem_pool_alloc_buddy);
	for (i = 0; i < 2UL << PMD_ORDER; i++) {
		page = pfn_to_page(gmem_test_pair.block + i);
		KUNIT_EXPECT_EQ(test, page_count(page), 1);
		if (page_count(page) == 1)
			__free_page(page);
	}
}

static void gmem_test_runs_in_chunk(struct kunit *test)
{
	const unsigned long nr = 1UL << PMD_ORDER;
	struct gmem_track_owner *owner;

	owner = gmem_test_pair_owner(test);
	KUNIT_ASSERT_EQ(test, gmem_track_populate(owner, 0), 0);
	KUNIT_ASSERT_EQ(test, gmem_track_populate(owner, nr), 0);
	KUNIT_EXPECT_EQ(test, gmem_test_pfn(test, owner, nr),
			gmem_test_pfn(test, owner, 0) + nr);
	kunit_activate_static_stub(test, gmem_vmemmap_depopulate,
				   gmem_test_pair_depopulate);

	/* The last granule of the first chunk, the first of the second. */
	KUNIT_EXPECT_EQ(test, gmem_track_set_shared(owner, nr - 64, 128, NULL), 0);
	KUNIT_EXPECT_EQ(test, gmem_track_set_private(owner, nr - 64, 128, NULL), 0);
	KUNIT_EXPECT_EQ_MSG(test, gmem_test_pair.crossed, 0,
			    "a conversion removed the vmemmap of pfn %#lx + %lu, across two chunks",
			    gmem_test_pair.at, gmem_test_pair.nr);

	/* The same, waiting for the worker. */
	gmem_test_pair.crossed = 0;
	gmem_test_deferred_on(3600 * MSEC_PER_SEC);
	KUNIT_EXPECT_EQ(test, gmem_track_set_shared(owner, nr - 64, 128, NULL), 0);
	KUNIT_EXPECT_EQ(test, gmem_track_set_private(owner, nr - 64, 128, NULL), 0);
	KUNIT_EXPECT_EQ(test, gmem_deferred_flush(owner), 2);
	KUNIT_EXPECT_EQ_MSG(test, gmem_test_pair.crossed, 0,
			    "the deferred flush removed the vmemmap of pfn %#lx + %lu, across two chunks",
			    gmem_test_pair.at, gmem_test_pair.nr);
	kunit_deactivate_static_stub(test, gmem_vmemmap_depopulate);

	KUNIT_EXPECT_EQ(test, gmem_test_pair.handed, 2);
	gmem_test_pair_done(test, owner);
}

/*
 * A new chunk from the buddy allocator one of whose pages someone holds
 * for longer than gmem_freeze_pages() retries (a PFN walker that is slow
 * to let go): the chunk goes back and another one backs the file, as for
 * a chunk hit by a memory error, rather than the fault failing (SIGBUS)
 * for a reference that will go.
 */
static void gmem_test_populate_held(struct kunit *test)
{
	const unsigned long nr = 1UL << PMD_ORDER;
	struct gmem_track_owner *owner;
	struct page *held;
	int ret;

	owner = gmem_test_pair_owner(test);
	/* The first chunk handed out has a page held by the test. */
	held = pfn_to_page(gmem_test_pair.block + 77);
	get_page(held);
	ret = gmem_track_populate(owner, 0);
	KUNIT_EXPECT_EQ_MSG(test, ret, 0,
			    "a chunk with a page held elsewhere failed the fill: %d",
			    ret);
	if (!ret)
		KUNIT_EXPECT_EQ(test, gmem_test_pfn(test, owner, 0),
				gmem_test_pair.block + nr);
	KUNIT_EXPECT_EQ(test, gmem_test_pair.handed, ret ? 1 : 2);
	KUNIT_EXPECT_EQ(test, gmem_test_pair.returned, 1);
	/* The held page was never frozen or remapped: still ours to drop. */
	KUNIT_EXPECT_EQ(test, page_count(held), 2);
	put_page(held);

	gmem_test_pair_done(test, owner);
}

static struct kunit_case gmem_track_test_cases[] = {
	KUNIT_CASE(gmem_test_depopulate_2m),
	KUNIT_CASE_SLOW(gmem_test_depopulate_1g),
	KUNIT_CASE(gmem_test_struct_page_design),
	KUNIT_CASE(gmem_test_repopulate_failure),
	KUNIT_CASE(gmem_test_set_private_busy),
	KUNIT_CASE(gmem_test_lookup_orders),
	KUNIT_CASE(gmem_test_bad_input),
	KUNIT_CASE(gmem_test_memory_failure),
	KUNIT_CASE(gmem_test_lookup_chunk_order),
	KUNIT_CASE(gmem_test_memory_failure_vs_release),
	KUNIT_CASE(gmem_test_create_vs_busy_owner),
	KUNIT_CASE(gmem_test_read_stats_busy_owner),
	KUNIT_CASE(gmem_test_destroy_vs_notify),
	KUNIT_CASE_SLOW(gmem_test_spec_ref_vs_set_private),
	KUNIT_CASE_SLOW(gmem_test_spec_ref_vs_release),
	KUNIT_CASE(gmem_test_deferred),
	KUNIT_CASE(gmem_test_deferred_limit),
	KUNIT_CASE(gmem_test_deferred_worker),
	KUNIT_CASE_SLOW(gmem_test_spec_ref_vs_deferred),
	KUNIT_CASE(gmem_test_runs_in_chunk),
	KUNIT_CASE(gmem_test_deferred_charge),
	KUNIT_CASE_SLOW(gmem_test_populate_held),
	KUNIT_CASE_PARAM(gmem_test_mf_new_chunk, gmem_test_design_gen_params),
	KUNIT_CASE_PARAM(gmem_test_mf_set_hwpoison, gmem_test_design_gen_params),
#ifdef CONFIG_MEMORY_FAILURE
	KUNIT_CASE_PARAM(gmem_test_mf_churn, gmem_test_design_gen_params),
	KUNIT_CASE(gmem_test_mf_vs_release_struct_page),
#endif
	{}
};

static unsigned long gmem_test_saved_limit;
static unsigned int gmem_test_saved_delay;

/* Conversions remove the vmemmap at once unless a test says otherwise. */
static int gmem_test_init(struct kunit *test)
{
	gmem_test_saved_limit = READ_ONCE(gmem_deferred_limit_pages);
	gmem_test_saved_delay = READ_ONCE(gmem_deferred_delay_ms);
	WRITE_ONCE(gmem_deferred_limit_pages, 0);
	return 0;
}

static void gmem_test_exit(struct kunit *test)
{
	WRITE_ONCE(gmem_deferred_limit_pages, gmem_test_saved_limit);
	WRITE_ONCE(gmem_deferred_delay_ms, gmem_test_saved_delay);
}

static struct kunit_suite gmem_track_test_suite = {
	.name = "gmem_track",
	.init = gmem_test_init,
	.exit = gmem_test_exit,
	.test_cases = gmem_track_test_cases,
};

kunit_test_suite(gmem_track_test_suite);

#endif /* CONFIG_GMEM_TRACK_KUNIT_TEST */
