// SPDX-License-Identifier: GPL-2.0
/*
 * gmem_track vmemmap: remove and rebuild the struct pages of private memory.
 *
 * The vmemmap of a private range is not freed outright: pfn_valid() stays
 * true, so PFN walkers (compaction, /proc/kpageflags, page_owner, memory
 * offline) still read pfn_to_page(). Every vmemmap PTE of the range is
 * pointed, read-only, at one sentinel page per node and zone, and the
 * pages the PTEs used go back to the allocator:
 *
 *    vmemmap (virtual)                    physical pages
 *   +----------------+
 *   | struct pages   | --------+
 *   | 0..63          |         |       +---------------------------+
 *   +----------------+         +-----> | sentinel (node, zone):    |
 *   | struct pages   | --------+       | 64 x struct page          |
 *   | 64..127        |         |       | PG_reserved, refcount 0,  |
 *   +----------------+         |       | no mapping, not compound  |
 *   |      ...       | --------+       +---------------------------+
 *   +----------------+
 *
 * A sentinel struct page says "reserved, not yours": the PFN walkers skip
 * reserved pages, speculative references fail on a zero refcount, and a
 * write through the read-only mapping faults instead of corrupting anyone.
 * A struct page encodes its node and zone in page->flags, so there is one
 * sentinel per node and zone, as HVO keeps one tail page per zone.
 *
 * The walk is HVO's (mm/hugetlb_vmemmap.c): PMDs are split first, which is
 * the only step that can fail when removing, so a removal either fails
 * having changed nothing or succeeds; the TLB is flushed once per range.
 * Rebuilding allocates every vmemmap page first on the node the sentinel
 * names, so a failure changes nothing; the new pages start as copies of the
 * sentinel and are initialised by the caller.
 */

#define pr_fmt(fmt) "gmem_track: " fmt

#include <kunit/static_stub.h>
#include <linux/gfp.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/page_ref.h>
#include <linux/vmstat.h>

#include "../hugetlb_vmemmap.h"
#include "../mm_init.h"
#include "internal.h"

static struct page *gmem_sentinels[MAX_NUMNODES][MAX_NR_ZONES];
static atomic_long_t gmem_nr_sentinels;

/**
 * gmem_page_init_private - make a struct page look like the sentinel's
 * @page: a struct page of private memory in a populated vmemmap granule.
 *
 * Keeps the node and zone links, sets PG_reserved and a zero refcount.
 */
void gmem_page_init_private(struct page *page)
{
	int nid = page_to_nid(page);
	enum zone_type zid = page_zonenum(page);

	__init_single_page(page, page_to_pfn(page), zid, nid);
	__SetPageReserved(page);
	set_page_count(page, 0);
}

/**
 * gmem_page_init_shared - initialise the struct page of a shared page
 * @page: the struct page, rebuilt from the sentinel.
 * @pfn: its PFN.
 *
 * The page gets a reference count of one, owned by gmem_track.
 */
void gmem_page_init_shared(struct page *page, unsigned long pfn)
{
	__init_single_page(page, pfn, page_zonenum(page), page_to_nid(page));
}

static struct page *gmem_sentinel(int nid, enum zone_type zid)
{
	struct page *sentinel, *old;
	struct page *p;
	int i;

	sentinel = READ_ONCE(gmem_sentinels[nid][zid]);
	if (sentinel)
		return sentinel;

	sentinel = alloc_pages_node(nid, GFP_KERNEL | __GFP_ZERO, 0);
	if (!sentinel)
		return NULL;
	p = page_to_virt(sentinel);
	for (i = 0; i < GMEM_GRANULE_PAGES; i++) {
		__init_single_page(&p[i], 0, zid, nid);
		__SetPageReserved(&p[i]);
		set_page_count(&p[i], 0);
	}
	old = cmpxchg(&gmem_sentinels[nid][zid], NULL, sentinel);
	if (old) {
		__free_page(sentinel);
		return old;
	}
	atomic_long_inc(&gmem_nr_sentinels);
	return sentinel;
}

/**
 * gmem_sentinel_pages - number of sentinel pages
 *
 * Return: the pages used as sentinels, one per node and zone in use.
 */
long gmem_sentinel_pages(void)
{
	return atomic_long_read(&gmem_nr_sentinels);
}

/**
 * gmem_vmemmap_depopulate - remove the struct pages of a PFN range
 * @pfn: first PFN, aligned to GMEM_GRANULE_PAGES.
 * @nr: number of pages, a multiple of GMEM_GRANULE_PAGES.
 *
 * The struct pages of the range must be unreferenced (refcount frozen at
 * zero) and its vmemmap populated; afterwards they read as the sentinel.
 *
 * Return: the number of vmemmap pages freed, -ENOMEM when no sentinel or no
 * page table for a PMD split could be allocated, -ENOTSUPP for memory whose
 * vmemmap lives on itself (memmap_on_memory). On error nothing changed.
 */
int gmem_vmemmap_depopulate(unsigned long pfn, unsigned long nr)
{
	unsigned long start = (unsigned long)pfn_to_page(pfn);
	unsigned long end = (unsigned long)pfn_to_page(pfn + nr);
	struct page *page = pfn_to_page(pfn);
	struct page *sentinel, *p;
	LIST_HEAD(vmemmap_pages);
	int ret, freed;

	KUNIT_STATIC_STUB_REDIRECT(gmem_vmemmap_depopulate, pfn, nr);

	if (WARN_ON_ONCE(!IS_ALIGNED(pfn | nr, GMEM_GRANULE_PAGES)))
		return -EINVAL;

	sentinel = gmem_sentinel(page_to_nid(page), page_zonenum(page));
	if (!sentinel)
		return -ENOMEM;

	/* Splitting allocates page tables: the only step that can fail. */
	ret = vmemmap_remap_split(start, end);
	if (ret)
		return ret;

	ret = vmemmap_remap_free(start, end, NULL, sentinel, &vmemmap_pages, 0);
	if (ret)
		return ret;

	freed = 0;
	list_for_each_entry(p, &vmemmap_pages, lru)
		freed++;
	free_vmemmap_page_list(&vmemmap_pages);
	return freed;
}

/**
 * gmem_vmemmap_repopulate - rebuild the struct pages of a PFN range
 * @pfn: first PFN, aligned to GMEM_GRANULE_PAGES.
 * @nr: number of pages, a multiple of GMEM_GRANULE_PAGES.
 *
 * The range must read as the sentinel. New vmemmap pages are allocated on
 * the sentinel's node first, then mapped read-write; they start as copies
 * of the sentinel (reserved, refcount zero) until the caller initialises
 * them. nr_memmap_pages grows by the pages allocated.
 *
 * Return: the number of vmemmap pages allocated, or -ENOMEM with nothing
 * changed.
 */
int gmem_vmemmap_repopulate(unsigned long pfn, unsigned long nr)
{
	unsigned long start = (unsigned long)pfn_to_page(pfn);
	unsigned long end = (unsigned long)pfn_to_page(pfn + nr);
	int ret;

	KUNIT_STATIC_STUB_REDIRECT(gmem_vmemmap_repopulate, pfn, nr);

	if (WARN_ON_ONCE(!IS_ALIGNED(pfn | nr, GMEM_GRANULE_PAGES)))
		return -EINVAL;

	ret = vmemmap_remap_alloc(start, end, 0);
	if (ret)
		return ret;
	return (end - start) >> PAGE_SHIFT;
}
