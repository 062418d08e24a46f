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
	struct gmem_reserve_block *b;
	unsigned int idx;
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
		KUNIT_EXPECT_TRUE(test, gmem_reserve_unbuild(pfn, nr));
	}
	if (gmem_vmemmap_populated(pfn)) {
		KUNIT_FAIL(test, "%#lx: struct pages still built: kept poisoned", pfn);
		return;
	}
	spin_lock(&gmem_reserve_lock);
	b = gmem_reserve_block_of(pfn, &idx);
	if (b)
		b->poisoned &= ~BIT_ULL(idx);
	spin_unlock(&gmem_reserve_lock);
	gmem_reserve_read(0, PMD_ORDER, &after);
	KUNIT_EXPECT_EQ(test, after.free, before.free);
	KUNIT_EXPECT_EQ(test, after.poisoned, before.poisoned);
}

static struct kunit_case gmem_reserve_test_cases[] = {
	KUNIT_CASE(gmem_test_reserve_parse),
	KUNIT_CASE(gmem_test_reserve_block_size),
	KUNIT_CASE(gmem_test_reserve_shrink_input),
	KUNIT_CASE(gmem_test_reserve_leaving_hit),
	{}
};

static struct kunit_suite gmem_reserve_test_suite = {
	.name = "gmem_track_reserve",
	.test_cases = gmem_reserve_test_cases,
};

kunit_test_suite(gmem_reserve_test_suite);

#endif /* CONFIG_GMEM_TRACK_KUNIT_TEST */
