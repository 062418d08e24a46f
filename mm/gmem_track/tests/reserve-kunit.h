/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KUnit tests of the gmem_track.reserve= parser and of a reservation's
 * shrink, included at the end of reserve.c. The shrink test needs a boot
 * with a 2 MiB reservation (make check's second boot) and skips in others;
 * the reservation's uapi is tested in that boot too
 * (tools/testing/selftests/gmem_track/reserve_test.c).
 */

#ifdef CONFIG_GMEM_TRACK_KUNIT_TEST

#include <kunit/static_stub.h>
#include <kunit/test.h>

#include <linux/delay.h>
#include <linux/vmstat.h>

struct gmem_reserve_case {
	const char *item;
	int ret;
	unsigned long long size;
	unsigned int order;
	int nid;
};

static const struct gmem_reserve_case gmem_reserve_cases[] = {
	{ "4G:1G",		0,	SZ_4G,		PUD_ORDER, NUMA_NO_NODE },
	{ "1G:1G@0",		0,	SZ_1G,		PUD_ORDER, 0 },
	{ "512M:2M",		0,	SZ_512M,	PMD_ORDER, NUMA_NO_NODE },
	{ "128M:2M@0",		0,	SZ_128M,	PMD_ORDER, 0 },
	{ "2048M:1G",		0,	SZ_2G,		PUD_ORDER, NUMA_NO_NODE },
	{ "1G:2048K",		0,	SZ_1G,		PMD_ORDER, NUMA_NO_NODE },
	/* sizes that are not whole blocks */
	{ "0:1G",		-ERANGE },
	{ "0:2M",		-ERANGE },
	{ "512M:1G",		-ERANGE },
	{ "3M:2M",		-ERANGE },
	{ "200M:2M",		-ERANGE },
	/* syntax */
	{ "",			-EINVAL },
	{ "1G",			-EINVAL },
	{ "1G:",		-EINVAL },
	{ ":1G",		-EINVAL },
	{ "1G:4K",		-EINVAL },
	{ "1G:4M",		-EINVAL },
	{ "1G:1G@",		-EINVAL },
	{ "1G:1G@x",		-EINVAL },
	{ "1G:1G@-1",		-EINVAL },
	{ "1G:1G@99999",	-EINVAL },
	{ "1G:1G@0x",		-EINVAL },
	{ "1G:1G@+0",		-EINVAL },
	{ "1G:1G@0\n",		-EINVAL },
	{ "1G:1Gx",		-EINVAL },
	{ "1G:1G 2",		-EINVAL },
	{ "abc:1G",		-EINVAL },
};

static void gmem_test_reserve_parse(struct kunit *test)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(gmem_reserve_cases); i++) {
		const struct gmem_reserve_case *c = &gmem_reserve_cases[i];
		struct gmem_reserve_item r = { .size = 1234, .nid = -5 };
		int ret = gmem_reserve_parse_item(c->item, &r);

		KUNIT_EXPECT_EQ_MSG(test, ret, c->ret, "item '%s'", c->item);
		if (ret || c->ret)
			continue;
		KUNIT_EXPECT_EQ_MSG(test, r.size, c->size, "item '%s'", c->item);
		KUNIT_EXPECT_EQ_MSG(test, r.order, c->order, "item '%s'", c->item);
		KUNIT_EXPECT_EQ_MSG(test, r.nid, c->nid, "item '%s'", c->item);
	}
}

static void gmem_test_reserve_block_size(struct kunit *test)
{
	/* A 2M reservation fills whole vmemmap PMDs: one section each. */
	KUNIT_EXPECT_EQ(test, gmem_reserve_block_size(PMD_ORDER),
			1UL << PA_SECTION_SHIFT);
	KUNIT_EXPECT_EQ(test, gmem_reserve_block_size(PUD_ORDER), PUD_SIZE);
	/* One section's struct pages are exactly one vmemmap PMD. */
	KUNIT_EXPECT_EQ(test, PAGES_PER_SECTION * sizeof(struct page), PMD_SIZE);
}

static void gmem_test_reserve_shrink_input(struct kunit *test)
{
	struct gmem_reserve_stats before, after;
	u64 grow;

	gmem_reserve_read(0, PUD_ORDER, &before);
	/* Not a multiple of the chunk: refused, nothing given back. */
	KUNIT_EXPECT_EQ(test, gmem_reserve_shrink(0, PUD_ORDER, SZ_2M), -EINVAL);
	/* Growing after boot is not possible. */
	grow = (u64)(before.reserved + 1) << PUD_SHIFT;
	KUNIT_EXPECT_EQ(test, gmem_reserve_shrink(0, PUD_ORDER, grow), -EINVAL);
	gmem_reserve_read(0, PUD_ORDER, &after);
	KUNIT_EXPECT_EQ(test, after.reserved, before.reserved);
	KUNIT_EXPECT_EQ(test, after.free, before.free);
}

/* A made-up memory error is over: the chunk of @pfn is not poisoned. */
static void gmem_test_rsv_unpoison(unsigned long pfn)
{
	struct gmem_reserve_block *b;
	unsigned int idx;

	spin_lock(&gmem_reserve_lock);
	b = gmem_reserve_block_of(pfn, &idx);
	if (b)
		b->poisoned &= ~BIT_ULL(idx);
	spin_unlock(&gmem_reserve_lock);
}

/* The PFN the memory error below hit; 0 before it did. */
static unsigned long gmem_test_leaving_hit;
static int gmem_test_leaving_ret;

/*
 * A chunk leaving for the buddy allocator has real struct pages, so
 * memory_failure() handles an error on it as on any page (the PFN tree
 * says -ENOENT for it) and sets PG_hwpoison; then the tree has no memory
 * to record that the chunk left, and it stays reserved.
 */
static int gmem_test_drop_hit(unsigned long pfn, unsigned long nr)
{
	gmem_test_leaving_hit = pfn + 3;
	gmem_test_leaving_ret =
		gmem_track_test_set_hwpoison(gmem_test_leaving_hit,
					     pfn_to_page(gmem_test_leaving_hit));
	return -ENOMEM;
}

/*
 * Such a chunk must stay out of use, poisoned: given back to the
 * reservation free, with its struct pages (and PG_hwpoison) gone, the
 * next file would get the page.
 */
static void gmem_test_reserve_leaving_hit(struct kunit *test)
{
	unsigned long nr = 1UL << PMD_ORDER, hit, pfn;
	struct gmem_reserve_stats before, after;
	int ret;

	gmem_reserve_read(0, PMD_ORDER, &before);
	if (!before.free)
		kunit_skip(test, "no free 2 MiB chunk reserved on node 0");

	gmem_test_leaving_hit = 0;
	gmem_test_leaving_ret = -1;
	kunit_activate_static_stub(test, gmem_pool_drop_reserve,
				   gmem_test_drop_hit);
	ret = gmem_reserve_shrink(0, PMD_ORDER,
				  (u64)(before.reserved - 1) << PMD_SHIFT);
	kunit_deactivate_static_stub(test, gmem_pool_drop_reserve);
	KUNIT_EXPECT_EQ(test, ret, -ENOMEM);
	hit = gmem_test_leaving_hit;
	KUNIT_ASSERT_NE(test, hit, 0);
	pfn = ALIGN_DOWN(hit, nr);
	/* Leaving, the chunk is not gmem_track's: the page was marked. */
	KUNIT_EXPECT_EQ(test, gmem_test_leaving_ret, 0);
	/* Back in the reservation, it is: nothing is written. */
	KUNIT_EXPECT_EQ(test, gmem_track_test_set_hwpoison(pfn + 4,
							   pfn_to_page(pfn + 4)),
			-EAGAIN);

	gmem_reserve_read(0, PMD_ORDER, &after);
	KUNIT_EXPECT_EQ(test, after.reserved, before.reserved);
	KUNIT_EXPECT_EQ_MSG(test, after.poisoned, before.poisoned + 1,
			    "the chunk at %#lx, hit by a memory error while it left, went back to the reservation free: its PG_hwpoison went with its struct pages",
			    pfn);
	KUNIT_EXPECT_EQ(test, after.free, before.free - 1);

	/*
	 * The error was made up: the chunk is put back as it was, free
	 * only once its struct pages are the sentinel again.
	 */
	if (gmem_vmemmap_populated(pfn)) {
		KUNIT_EXPECT_TRUE(test, PageHWPoison(pfn_to_page(hit)));
		ClearPageHWPoison(pfn_to_page(hit));
		KUNIT_EXPECT_EQ(test, gmem_reserve_unbuild(pfn, nr), 0U);
	}
	if (gmem_vmemmap_populated(pfn)) {
		KUNIT_FAIL(test, "%#lx: struct pages still built: kept poisoned", pfn);
		return;
	}
	gmem_test_rsv_unpoison(pfn);
	gmem_reserve_read(0, PMD_ORDER, &after);
	KUNIT_EXPECT_EQ(test, after.free, before.free);
	KUNIT_EXPECT_EQ(test, after.poisoned, before.poisoned);
}

static struct page *gmem_test_no_buddy(int nid, unsigned int order)
{
	return NULL;
}

static int gmem_test_no_vmemmap(unsigned long pfn, unsigned long nr,
				struct gmem_vmemmap_rebuild *rb)
{
	return -ENOMEM;
}

/*
 * The struct-page design's chunk count when a released chunk's struct
 * pages are being removed: the counters and the memmap must not disagree,
 * so the chunk must still be counted. Then the real removal. The counter
 * is read directly: gmem_track_read_stats() takes the owners' locks, one
 * of which the release holds.
 */
static long gmem_test_chunks_at_depopulate;
static unsigned int gmem_test_depopulate_order;

static long gmem_test_struct_page_chunks(unsigned int order)
{
	return atomic_long_read(&gmem_stats[GMEM_TRACK_STRUCT_PAGE]
				[order == PUD_ORDER ? GMEM_STAT_CHUNKS_1G :
						      GMEM_STAT_CHUNKS_2M]);
}

static int gmem_test_depopulate_counted(unsigned long pfn, unsigned long nr)
{
	gmem_test_chunks_at_depopulate =
		gmem_test_struct_page_chunks(gmem_test_depopulate_order);
	kunit_deactivate_static_stub(kunit_get_current_test(),
				     gmem_vmemmap_depopulate);
	return gmem_vmemmap_depopulate(pfn, nr);
}

static long gmem_test_rsv_memmap(void)
{
	long boot, runtime = memmap_pages_read(&boot);

	return boot + runtime;
}

static const unsigned int gmem_test_rsv_orders[] = { PMD_ORDER, PUD_ORDER };

static void gmem_test_rsv_order_desc(const unsigned int *order, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "%s", gmem_order_name(*order));
}

KUNIT_ARRAY_PARAM(gmem_test_rsv_order, gmem_test_rsv_orders,
		  gmem_test_rsv_order_desc);

/*
 * A struct-page owner for which the buddy allocator has nothing, once the
 * reservation has @need free chunks of @order (the test skips otherwise);
 * the reservation's figures and the vmemmap pages before it, in @before
 * and @memmap.
 */
static struct gmem_track_owner *
gmem_test_rsv_owner(struct kunit *test, unsigned int order, unsigned long need,
		    struct gmem_reserve_stats *before, long *memmap)
{
	struct gmem_track_owner *owner;

	gmem_reserve_read(NUMA_NO_NODE, order, before);
	if (before->free < need)
		kunit_skip(test, "fewer than %lu free %s chunks reserved", need,
			   gmem_order_name(order));
	*memmap = gmem_test_rsv_memmap();
	owner = gmem_track_owner_create(order, GMEM_TRACK_STRUCT_PAGE,
					NUMA_NO_NODE);
	KUNIT_ASSERT_FALSE(test, IS_ERR(owner));
	kunit_activate_static_stub(test, gmem_pool_alloc_buddy,
				   gmem_test_no_buddy);
	return owner;
}

/*
 * A struct-page owner the buddy allocator has no contiguous memory for
 * takes a reserved chunk, its struct pages built as a buddy chunk's, and
 * gives it back to the reservation with them removed again; without
 * memory for the struct pages it fails with nothing taken.
 */
static void gmem_test_reserve_struct_page(struct kunit *test)
{
	const unsigned int order = *(const unsigned int *)test->param_value;
	unsigned long nr = 1UL << order, pfn = 0, i;
	struct gmem_reserve_stats before, st;
	struct gmem_track_owner *owner;
	long memmap, chunks;
	int ret;

	owner = gmem_test_rsv_owner(test, order, 1, &before, &memmap);

	kunit_activate_static_stub(test, gmem_vmemmap_repopulate,
				   gmem_test_no_vmemmap);
	KUNIT_EXPECT_EQ(test, gmem_track_populate(owner, 0), -ENOMEM);
	kunit_deactivate_static_stub(test, gmem_vmemmap_repopulate);
	gmem_reserve_read(NUMA_NO_NODE, order, &st);
	KUNIT_EXPECT_EQ(test, st.free, before.free);
	KUNIT_EXPECT_EQ(test, st.used, before.used);
	KUNIT_EXPECT_EQ(test, gmem_test_rsv_memmap(), memmap);

	ret = gmem_track_populate(owner, 0);
	kunit_deactivate_static_stub(test, gmem_pool_alloc_buddy);
	KUNIT_ASSERT_EQ_MSG(test, ret, 0,
			    "a struct-page owner with no memory in the buddy allocator and %lu reserved %s chunks free",
			    before.free,
			    gmem_order_name(order));
	KUNIT_ASSERT_EQ(test, gmem_track_lookup(owner, 0, &pfn, NULL, NULL), 0);
	KUNIT_EXPECT_TRUE(test, gmem_reserve_holds(pfn));
	KUNIT_EXPECT_TRUE(test, gmem_pool_owns(pfn, owner));
	gmem_reserve_read(NUMA_NO_NODE, order, &st);
	KUNIT_EXPECT_EQ(test, st.free, before.free - 1);
	KUNIT_EXPECT_EQ(test, st.used, before.used + 1);

	/* Every page has a struct page of its own, as in a buddy chunk. */
	KUNIT_EXPECT_EQ(test, gmem_test_rsv_memmap() - memmap,
			(long)(nr / GMEM_GRANULE_PAGES));
	for (i = 0; i < nr; i++) {
		struct page *page = pfn_to_page(pfn + i);

		if (page_count(page) != 1 || PageReserved(page)) {
			KUNIT_FAIL(test, "%#lx: count %d, reserved %d: no own struct page",
				   pfn + i, page_count(page), PageReserved(page));
			break;
		}
	}
	KUNIT_EXPECT_EQ(test, gmem_track_set_shared(owner, 0, nr, NULL), 0);
	KUNIT_EXPECT_EQ(test, gmem_track_set_private(owner, 0, nr, NULL), 0);
	KUNIT_EXPECT_EQ(test, gmem_test_rsv_memmap() - memmap,
			(long)(nr / GMEM_GRANULE_PAGES));

	/*
	 * Released, it is the reservation's again, with no struct pages; it
	 * is counted until they are gone.
	 */
	chunks = gmem_test_struct_page_chunks(order);
	gmem_test_chunks_at_depopulate = -1;
	gmem_test_depopulate_order = order;
	kunit_activate_static_stub(test, gmem_vmemmap_depopulate,
				   gmem_test_depopulate_counted);
	KUNIT_EXPECT_EQ(test, gmem_track_release(owner, 0, nr), 0);
	/* The stub deactivates itself when it runs. */
	if (gmem_test_chunks_at_depopulate < 0)
		kunit_deactivate_static_stub(test, gmem_vmemmap_depopulate);
	KUNIT_EXPECT_EQ_MSG(test, gmem_test_chunks_at_depopulate, chunks,
			    "the released chunk was no longer counted while its struct pages were removed");
	gmem_reserve_read(NUMA_NO_NODE, order, &st);
	KUNIT_EXPECT_EQ(test, st.free, before.free);
	KUNIT_EXPECT_EQ(test, st.used, before.used);
	KUNIT_EXPECT_EQ(test, st.poisoned, before.poisoned);
	KUNIT_EXPECT_FALSE(test, gmem_pool_owns(pfn, owner));
	KUNIT_EXPECT_TRUE(test, gmem_track_pfn_owned(pfn));
	KUNIT_EXPECT_FALSE(test, gmem_vmemmap_populated(pfn));
	KUNIT_EXPECT_FALSE(test, gmem_vmemmap_populated(pfn + nr - 1));
	KUNIT_EXPECT_EQ(test, gmem_test_rsv_memmap(), memmap);

	/* With memory in the buddy allocator, that is where it comes from. */
	if (order == PMD_ORDER) {
		KUNIT_EXPECT_EQ(test, gmem_track_populate(owner, 0), 0);
		KUNIT_EXPECT_EQ(test, gmem_track_lookup(owner, 0, &pfn, NULL,
							NULL), 0);
		KUNIT_EXPECT_FALSE_MSG(test, gmem_reserve_holds(pfn),
				       "a struct-page owner took the reservation's chunk %#lx while the buddy allocator had one",
				       pfn);
	}
	gmem_track_owner_destroy(owner);
	gmem_reserve_read(NUMA_NO_NODE, order, &st);
	KUNIT_EXPECT_EQ(test, st.free, before.free);
}

/* The chunk the memory error below hit; 0 before it did. */
static unsigned long gmem_test_rsv_hit;

/*
 * A memory error on a reserved chunk a struct-page owner is taking, while
 * its struct pages are built and before its owner is recorded: what
 * memory_failure() does then (gmem_track_memory_failure() finds the
 * reservation's entry). Only the first chunk.
 */
static int gmem_test_repopulate_hit(unsigned long pfn, unsigned long nr,
				    struct gmem_vmemmap_rebuild *rb)
{
	struct kunit *test = kunit_get_current_test();
	int ret;

	kunit_deactivate_static_stub(test, gmem_vmemmap_repopulate);
	ret = gmem_vmemmap_repopulate(pfn, nr, rb);
	if (ret >= 0) {
		gmem_test_rsv_hit = pfn;
		KUNIT_EXPECT_EQ(test, PTR_ERR(gmem_pool_owner_of(pfn + 7)),
				-ECANCELED);
	}
	return ret;
}

/*
 * The chunk hit while it was being taken stays in the reservation,
 * poisoned, its struct pages removed again, and the owner gets another.
 */
static void gmem_test_reserve_struct_page_hit(struct kunit *test)
{
	const unsigned int order = *(const unsigned int *)test->param_value;
	unsigned long nr = 1UL << order, pfn = 0, hit;
	struct gmem_reserve_stats before, st;
	struct gmem_track_owner *owner;
	long memmap;
	int ret;

	owner = gmem_test_rsv_owner(test, order, 2, &before, &memmap);
	gmem_test_rsv_hit = 0;
	kunit_activate_static_stub(test, gmem_vmemmap_repopulate,
				   gmem_test_repopulate_hit);
	/* The repopulate stub goes at its first call. */
	ret = gmem_track_populate(owner, 0);
	kunit_deactivate_static_stub(test, gmem_pool_alloc_buddy);
	hit = gmem_test_rsv_hit;
	KUNIT_ASSERT_NE(test, hit, 0);
	KUNIT_EXPECT_EQ(test, ret, 0);
	KUNIT_EXPECT_EQ(test, gmem_track_lookup(owner, 0, &pfn, NULL, NULL), 0);
	KUNIT_EXPECT_NE_MSG(test, pfn, hit,
			    "the chunk at %#lx, hit by a memory error while a struct-page owner took it, was handed out",
			    hit);
	KUNIT_EXPECT_FALSE(test, gmem_pool_owns(hit, owner));
	KUNIT_EXPECT_FALSE(test, gmem_vmemmap_populated(hit));
	gmem_reserve_read(NUMA_NO_NODE, order, &st);
	KUNIT_EXPECT_EQ(test, st.poisoned, before.poisoned + 1);
	KUNIT_EXPECT_EQ(test, st.used, before.used + 1);
	KUNIT_EXPECT_EQ(test, st.free, before.free - 2);
	/* Only the chunk handed out has struct pages. */
	KUNIT_EXPECT_EQ(test, gmem_test_rsv_memmap() - memmap,
			(long)(nr / GMEM_GRANULE_PAGES));
	gmem_track_owner_destroy(owner);

	/* The error was made up: the chunk is free again. */
	gmem_test_rsv_unpoison(hit);
	gmem_reserve_read(NUMA_NO_NODE, order, &st);
	KUNIT_EXPECT_EQ(test, st.free, before.free);
	KUNIT_EXPECT_EQ(test, st.poisoned, before.poisoned);
	KUNIT_EXPECT_EQ(test, gmem_test_rsv_memmap(), memmap);
}

/*
 * Memory errors on a reserved chunk a struct-page owner holds, one private
 * page and one shared: the owner handles them as on any of its chunks, and
 * the released chunk goes back to the reservation poisoned, its struct
 * pages (and their PG_hwpoison) removed.
 */
static void gmem_test_reserve_struct_page_poisoned(struct kunit *test)
{
	const unsigned int order = *(const unsigned int *)test->param_value;
	unsigned long nr = 1UL << order, pfn = 0;
	struct gmem_reserve_stats before, st;
	struct gmem_track_owner *owner;
	long memmap;
	int flags = 0;

	owner = gmem_test_rsv_owner(test, order, 1, &before, &memmap);
	KUNIT_ASSERT_EQ(test, gmem_track_populate(owner, 0), 0);
	kunit_deactivate_static_stub(test, gmem_pool_alloc_buddy);
	KUNIT_ASSERT_EQ(test, gmem_track_lookup(owner, 0, &pfn, NULL, NULL), 0);
	KUNIT_ASSERT_TRUE(test, gmem_reserve_holds(pfn));
	KUNIT_ASSERT_EQ(test, gmem_track_set_shared(owner, 64, 64, NULL), 0);

	KUNIT_EXPECT_EQ(test, gmem_track_memory_failure(pfn + 3, &flags), 0);
	KUNIT_EXPECT_EQ(test, gmem_track_memory_failure(pfn + 65, &flags), 0);
	KUNIT_EXPECT_TRUE(test, PageHWPoison(pfn_to_page(pfn + 65)));
	gmem_reserve_read(NUMA_NO_NODE, order, &st);
	KUNIT_EXPECT_EQ(test, st.poisoned, before.poisoned);

	KUNIT_EXPECT_EQ(test, gmem_track_release(owner, 0, nr), 0);
	gmem_reserve_read(NUMA_NO_NODE, order, &st);
	KUNIT_EXPECT_EQ_MSG(test, st.poisoned, before.poisoned + 1,
			    "the chunk at %#lx, poisoned while a struct-page owner held it, went back to the reservation free",
			    pfn);
	KUNIT_EXPECT_EQ(test, st.used, before.used);
	KUNIT_EXPECT_EQ(test, st.free, before.free - 1);
	KUNIT_EXPECT_FALSE(test, gmem_vmemmap_populated(pfn));
	KUNIT_EXPECT_EQ(test, gmem_test_rsv_memmap(), memmap);
	gmem_track_owner_destroy(owner);

	/* The errors were made up: the chunk is free again. */
	gmem_test_rsv_unpoison(pfn);
	gmem_reserve_read(NUMA_NO_NODE, order, &st);
	KUNIT_EXPECT_EQ(test, st.free, before.free);
}

/* The page the shrink's stub below took a reference on; NULL before. */
static struct page *gmem_test_rsv_held;

/*
 * A PFN walker's speculative reference on a page of a chunk leaving the
 * reservation (compaction, a stale page cache entry), and no memory for
 * the PFN tree: the chunk stays reserved.
 */
static int gmem_test_drop_held(unsigned long pfn, unsigned long nr)
{
	gmem_test_rsv_held = pfn_to_page(pfn + 5);
	get_page(gmem_test_rsv_held);
	return -ENOMEM;
}

/*
 * While the reference stays, the chunk is held: out of use, counted, its
 * struct pages built, not poisoned.
 */
static void gmem_test_rsv_is_held(struct kunit *test, unsigned int order,
				  unsigned long pfn,
				  const struct gmem_reserve_stats *before)
{
	struct gmem_reserve_stats st;

	gmem_reserve_read(NUMA_NO_NODE, order, &st);
	KUNIT_EXPECT_EQ(test, st.held, before->held + 1);
	KUNIT_EXPECT_EQ(test, st.free, before->free - 1);
	KUNIT_EXPECT_EQ(test, st.poisoned, before->poisoned);
	KUNIT_EXPECT_EQ(test, st.used, before->used);
	KUNIT_EXPECT_TRUE(test, gmem_vmemmap_populated(pfn));
	/* Recorded as the reservation's: nothing writes its struct pages. */
	KUNIT_EXPECT_EQ(test, gmem_track_test_set_hwpoison(pfn + 1,
							   pfn_to_page(pfn + 1)),
			-EAGAIN);
}

/*
 * Once the reference on @pfn's chunk went, the reservation must hold the
 * chunk free again, its struct pages removed, within a few seconds: a
 * moment's reference must not take a chunk out of use for good. @before
 * and @memmap are the figures from before the chunk was taken.
 */
static void gmem_test_rsv_back(struct kunit *test, unsigned int order,
			       unsigned long pfn,
			       const struct gmem_reserve_stats *before,
			       long memmap, const char *what)
{
	unsigned long deadline = jiffies + 5 * HZ;
	struct gmem_reserve_stats st;

	do {
		gmem_reserve_read(NUMA_NO_NODE, order, &st);
		if (st.free == before->free)
			break;
		msleep(20);
	} while (time_before(jiffies, deadline));
	KUNIT_EXPECT_EQ_MSG(test, st.free, before->free,
			    "the chunk at %#lx, referenced for a moment when %s, was still out of use 5 s after the reference went (poisoned %lu, was %lu)",
			    pfn, what, st.poisoned, before->poisoned);
	KUNIT_EXPECT_EQ(test, st.poisoned, before->poisoned);
	KUNIT_EXPECT_EQ(test, st.used, before->used);
	KUNIT_EXPECT_EQ(test, st.reserved, before->reserved);
	KUNIT_EXPECT_EQ(test, st.held, before->held);
	KUNIT_EXPECT_FALSE(test, gmem_vmemmap_populated(pfn));
	KUNIT_EXPECT_EQ(test, gmem_test_rsv_memmap(), memmap);
	if (st.free == before->free || !gmem_reserve_poisoned(pfn))
		return;

	/* Kept out of use for good: the reference is gone, put it back. */
	if (gmem_vmemmap_populated(pfn) &&
	    gmem_reserve_unbuild(pfn, 1UL << order)) {
		KUNIT_FAIL(test, "%#lx: struct pages still built", pfn);
		return;
	}
	gmem_test_rsv_unpoison(pfn);
}

/*
 * A reserved chunk whose struct pages were built (for a struct-page owner,
 * or to leave for the buddy allocator) goes back to the reservation while
 * someone else holds a reference on one of its pages for a moment longer
 * than gmem_freeze_pages() waits. Its struct pages cannot be removed then;
 * they must be once the reference goes, and the chunk be free again.
 */
static void gmem_test_reserve_held(struct kunit *test)
{
	const unsigned int order = *(const unsigned int *)test->param_value;
	unsigned long nr = 1UL << order, pfn = 0;
	struct gmem_reserve_stats before, node0;
	struct gmem_track_owner *owner;
	struct page *held;
	bool depopulated;
	long memmap;
	int ret;

	/* A struct-page owner's error path gives back the chunk it took. */
	owner = gmem_test_rsv_owner(test, order, 1, &before, &memmap);
	ret = gmem_pool_alloc(owner, order, &pfn, &depopulated);
	kunit_deactivate_static_stub(test, gmem_pool_alloc_buddy);
	KUNIT_ASSERT_EQ(test, ret, 0);
	KUNIT_ASSERT_TRUE(test, gmem_reserve_holds(pfn));
	held = pfn_to_page(pfn + 9);
	get_page(held);
	gmem_pool_free(pfn, order);
	gmem_test_rsv_is_held(test, order, pfn, &before);
	put_page(held);
	gmem_test_rsv_back(test, order, pfn, &before, memmap,
			   "a struct-page owner gave it back");
	gmem_track_owner_destroy(owner);

	/* A shrink that fails gives back the chunk it built to leave. */
	if (order != PMD_ORDER)
		return;
	gmem_reserve_read(0, order, &node0);
	if (!node0.free)
		kunit_skip(test, "no free 2 MiB chunk reserved on node 0");
	gmem_reserve_read(NUMA_NO_NODE, order, &before);
	memmap = gmem_test_rsv_memmap();
	gmem_test_rsv_held = NULL;
	kunit_activate_static_stub(test, gmem_pool_drop_reserve,
				   gmem_test_drop_held);
	ret = gmem_reserve_shrink(0, order,
				  (u64)(node0.reserved - 1) << PMD_SHIFT);
	kunit_deactivate_static_stub(test, gmem_pool_drop_reserve);
	KUNIT_EXPECT_EQ(test, ret, -ENOMEM);
	KUNIT_ASSERT_NOT_NULL(test, gmem_test_rsv_held);
	pfn = ALIGN_DOWN(page_to_pfn(gmem_test_rsv_held), nr);
	gmem_test_rsv_is_held(test, order, pfn, &before);
	put_page(gmem_test_rsv_held);
	gmem_test_rsv_back(test, order, pfn, &before, memmap,
			   "a failed shrink gave it back");
}

static struct kunit_case gmem_reserve_test_cases[] = {
	KUNIT_CASE(gmem_test_reserve_parse),
	KUNIT_CASE(gmem_test_reserve_block_size),
	KUNIT_CASE(gmem_test_reserve_shrink_input),
	KUNIT_CASE(gmem_test_reserve_leaving_hit),
	KUNIT_CASE_PARAM(gmem_test_reserve_struct_page,
			 gmem_test_rsv_order_gen_params),
	KUNIT_CASE_PARAM(gmem_test_reserve_struct_page_hit,
			 gmem_test_rsv_order_gen_params),
	KUNIT_CASE_PARAM(gmem_test_reserve_struct_page_poisoned,
			 gmem_test_rsv_order_gen_params),
	KUNIT_CASE_PARAM(gmem_test_reserve_held,
			 gmem_test_rsv_order_gen_params),
	{}
};

static struct kunit_suite gmem_reserve_test_suite = {
	.name = "gmem_track_reserve",
	.test_cases = gmem_reserve_test_cases,
};

kunit_test_suite(gmem_reserve_test_suite);

#endif /* CONFIG_GMEM_TRACK_KUNIT_TEST */
