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
 * having changed nothing or succeeds. Split PMDs are flushed before their
 * PTEs change; the remap is flushed once per range, or once per batch of
 * ranges (gmem_vmemmap_batch_begin()), before any page or table is freed.
 * Rebuilding takes every vmemmap page first, from the node's reserve
 * (vmemmap_reserve.c) or the allocator, so a failure changes nothing; the
 * new pages start as copies of the sentinel and are initialised by the
 * caller, after one flush.
 *
 * Splitting a vmemmap PMD costs a PTE table: 4 KiB per 128 MiB of memory.
 * Where all 512 PTEs of a table map the same sentinel, the PMD is pointed at
 * one shared read-only table per sentinel instead and its own table freed,
 * so a private 1 GiB chunk keeps no page table of its own either:
 *
 *   PMD (128 MiB of memory) --> shared PTE table --> 512 x sentinel (RO)
 *
 * Before anything is rebuilt in such a PMD it gets a table of its own
 * again (a copy of the shared one); HVO's walker never sees a shared table.
 */

#define pr_fmt(fmt) "gmem_track: " fmt

#include <kunit/static_stub.h>
#include <linux/error-injection.h>
#include <linux/gfp.h>
#include <linux/iommu.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/mmzone.h>
#include <linux/mutex.h>
#include <linux/pgalloc.h>
#include <linux/page_ref.h>
#include <linux/vmstat.h>

#include "../hugetlb_vmemmap.h"
#include "../mm_init.h"
#include "internal.h"

#include <trace/events/gmem_track.h>

atomic_long_t gmem_vmemmap_events[GMEM_NR_VMEMMAP_EVENTS];

static struct page *gmem_sentinels[MAX_NUMNODES][MAX_NR_ZONES];
static pte_t *gmem_shared_ptes[MAX_NUMNODES][MAX_NR_ZONES];
static atomic_long_t gmem_nr_sentinels;

/*
 * Serializes every vmemmap change of gmem_track: chunks of different owners
 * share vmemmap PMDs, and a PMD's table may be swapped for the shared one
 * only while nobody walks it.
 */
static DEFINE_MUTEX(gmem_vmemmap_lock);

/**
 * gmem_page_init_private - make a struct page look like the sentinel's
 * @page: a struct page of private memory in a populated vmemmap granule.
 *
 * Keeps the node and zone links, sets PG_reserved; the refcount, frozen at
 * zero by the caller, never leaves zero, so no speculative reference can
 * succeed meanwhile (__init_single_page() would set it to one).
 */
void gmem_page_init_private(struct page *page)
{
	int nid = page_to_nid(page);
	enum zone_type zid = page_zonenum(page);
	unsigned long pfn = page_to_pfn(page);

	VM_WARN_ON_ONCE(page_ref_count(page));
	mm_zero_struct_page(page);
	set_page_links(page, zid, nid, pfn);
	atomic_set(&page->_mapcount, -1);
	page_cpupid_reset_last(page);
	page_kasan_tag_reset(page);
	INIT_LIST_HEAD(&page->lru);
	__SetPageReserved(page);
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

/**
 * gmem_sentinel_init - fill a sentinel page with its struct pages
 * @sentinel: the page.
 * @nid: the node of the memory it stands for.
 * @zid: the zone of the memory it stands for.
 *
 * Every one of the 64 struct pages is reserved, with a reference count of
 * zero and the node and zone links of the memory it stands for.
 */
void gmem_sentinel_init(struct page *sentinel, int nid, enum zone_type zid)
{
	struct page *p = page_to_virt(sentinel);
	int i;

	for (i = 0; i < GMEM_GRANULE_PAGES; i++) {
		__init_single_page(&p[i], 0, zid, nid);
		__SetPageReserved(&p[i]);
		set_page_count(&p[i], 0);
	}
}

/**
 * gmem_vmemmap_adopt - take over a sentinel and table set up at boot
 * @nid: node.
 * @zid: zone.
 * @sentinel: the sentinel, initialised.
 * @table: the shared table whose PTEs all map @sentinel read-only.
 *
 * The boot reservation maps its vmemmap to these before the allocators
 * exist; from here on they are the node's and zone's like any other.
 */
void __init gmem_vmemmap_adopt(int nid, enum zone_type zid,
			       struct page *sentinel, pte_t *table)
{
	WRITE_ONCE(gmem_shared_ptes[nid][zid], table);
	WRITE_ONCE(gmem_sentinels[nid][zid], sentinel);
	atomic_long_inc(&gmem_nr_sentinels);
}

static struct page *gmem_sentinel(int nid, enum zone_type zid)
{
	struct page *sentinel, *old;

	sentinel = READ_ONCE(gmem_sentinels[nid][zid]);
	if (sentinel)
		return sentinel;

	sentinel = alloc_pages_node(nid, GFP_KERNEL | __GFP_ZERO, 0);
	if (!sentinel)
		return NULL;
	gmem_sentinel_init(sentinel, nid, zid);
	old = cmpxchg(&gmem_sentinels[nid][zid], NULL, sentinel);
	if (old) {
		__free_page(sentinel);
		return old;
	}
	atomic_long_inc(&gmem_nr_sentinels);
	return sentinel;
}

/* The shared table of a sentinel: every PTE maps it read-only. */
static pte_t *gmem_shared_pte_table(int nid, enum zone_type zid,
				    struct page *sentinel)
{
	pte_t *table, *old;
	int i;

	table = READ_ONCE(gmem_shared_ptes[nid][zid]);
	if (table)
		return table;
	table = pte_alloc_one_kernel(&init_mm);
	if (!table)
		return NULL;
	for (i = 0; i < PTRS_PER_PTE; i++)
		set_pte(table + i, mk_pte(sentinel, PAGE_KERNEL_RO));
	old = cmpxchg(&gmem_shared_ptes[nid][zid], NULL, table);
	if (old) {
		pte_free_kernel(&init_mm, table);
		return old;
	}
	return table;
}

static bool gmem_pte_table_shared(pte_t *table)
{
	int nid, zid;

	for_each_node_state(nid, N_MEMORY) {
		for (zid = 0; zid < MAX_NR_ZONES; zid++) {
			if (READ_ONCE(gmem_shared_ptes[nid][zid]) == table)
				return true;
		}
	}
	return false;
}

/* The PMD mapping a vmemmap address, or NULL if it is not PTE-mapped. */
static pmd_t *gmem_vmemmap_pmd(unsigned long addr)
{
	pgd_t *pgd = pgd_offset_k(addr);
	p4d_t *p4d;
	pud_t *pud;
	pmd_t *pmd;

	if (pgd_none(pgdp_get(pgd)))
		return NULL;
	p4d = p4d_offset(pgd, addr);
	if (p4d_none(p4dp_get(p4d)))
		return NULL;
	pud = pud_offset(p4d, addr);
	if (pud_none(pudp_get(pud)) || pud_leaf(pudp_get(pud)))
		return NULL;
	pmd = pmd_offset(pud, addr);
	if (pmd_none(pmdp_get(pmd)) || pmd_leaf(pmdp_get(pmd)))
		return NULL;
	return pmd;
}

/* Does a PMD of the vmemmap [start, end) still map 2 MiB as a leaf? */
static bool gmem_vmemmap_has_leaf(unsigned long start, unsigned long end)
{
	unsigned long addr;

	for (addr = ALIGN_DOWN(start, PMD_SIZE); addr < end; addr += PMD_SIZE) {
		pgd_t *pgd = pgd_offset_k(addr);
		p4d_t *p4d;
		pud_t *pud;

		if (pgd_none(pgdp_get(pgd)))
			continue;
		p4d = p4d_offset(pgd, addr);
		if (p4d_none(p4dp_get(p4d)))
			continue;
		pud = pud_offset(p4d, addr);
		if (pud_none(pudp_get(pud)))
			continue;
		if (pud_leaf(pudp_get(pud)) ||
		    pmd_leaf(pmdp_get(pmd_offset(pud, addr))))
			return true;
	}
	return false;
}

/*
 * Flush the CPUs' and the IOMMUs' caches of the kernel page tables of
 * [start, end) before tables that mapped it are freed. Tables of PMD splits
 * go through pte_free_kernel(), which defers their freeing past an IOMMU
 * flush when IOMMU SVA can walk kernel page tables
 * (CONFIG_ASYNC_KERNEL_PGTABLE_FREE); boot and hot-add tables do not, so
 * the IOMMU is flushed here for all of them.
 */
static void gmem_vmemmap_flush(unsigned long start, unsigned long end)
{
	flush_tlb_kernel_range(start, end);
	iommu_sva_invalidate_kva_range(start, end);
	gmem_vmemmap_event(GMEM_EV_TLB_FLUSHES, 1);
}

/*
 * The same after a PMD of [start, end) was pointed at another PTE table:
 * every CPU's TLB and paging-structure caches, whatever the PCID. A range
 * flush becomes a full one only above tlb_single_page_flush_ceiling (a
 * debugfs knob); below it, INVLPG leaves the paging-structure caches of
 * other PCIDs, which may still hold the old table, alone.
 */
static void gmem_vmemmap_flush_all(unsigned long start, unsigned long end)
{
	flush_tlb_all();
	iommu_sva_invalidate_kva_range(start, end);
	gmem_vmemmap_event(GMEM_EV_TLB_FLUSHES, 1);
}

static void gmem_free_pte_table(pte_t *table)
{
	struct page *page = virt_to_page(table);

	/*
	 * Tables built at boot come from memblock, those of hot-added memory
	 * from vmemmap_alloc_block(), those of PMD splits are page tables.
	 */
	if (PageReserved(page))
		free_reserved_page(page);
	else if (PageTable(page))
		pte_free_kernel(&init_mm, table);
	else
		free_page((unsigned long)table);
}

/*
 * The batch of removals in progress (internal.h) and the task that runs
 * it, set under gmem_vmemmap_lock. Other tasks compare the task only, by
 * value: the batch lives on its task's stack.
 */
static struct gmem_vmemmap_batch *gmem_batch;
static struct task_struct *gmem_batch_task;

static void gmem_vmemmap_cover(unsigned long *lo, unsigned long *hi,
			       unsigned long start, unsigned long end)
{
	*lo = min(*lo, start);
	*hi = max(*hi, end);
}

static void gmem_batch_cover(struct gmem_vmemmap_batch *b,
			     unsigned long start, unsigned long end)
{
	gmem_vmemmap_cover(&b->lo, &b->hi, start, end);
}

/* One flush for everything the batch removed so far, then free it. */
static void gmem_batch_flush(struct gmem_vmemmap_batch *b)
{
	if (!b->hi)
		return;
	if (b->nr_tables)
		gmem_vmemmap_flush_all(b->lo, b->hi);
	else
		gmem_vmemmap_flush(b->lo, b->hi);
	free_vmemmap_page_list(&b->pages);
	INIT_LIST_HEAD(&b->pages);
	while (b->nr_tables)
		gmem_free_pte_table(b->tables[--b->nr_tables]);
	b->lo = ULONG_MAX;
	b->hi = 0;
}

/*
 * Point every PMD of [start, end) whose PTEs all map @sentinel at the
 * shared table; the tables replaced are freed with the batch's flush (an
 * early one if the batch has no room for more).
 */
static void gmem_vmemmap_share_pmds(struct gmem_vmemmap_batch *b,
				    unsigned long start, unsigned long end,
				    struct page *sentinel, pte_t *shared)
{
	unsigned long addr, first = ALIGN_DOWN(start, PMD_SIZE);
	unsigned long last = ALIGN(end, PMD_SIZE);
	int i;

	/* ptdump walks kernel page tables under the init_mm mmap lock. */
	mmap_write_lock(&init_mm);
	for (addr = first; addr < last; addr += PMD_SIZE) {
		pmd_t *pmd = gmem_vmemmap_pmd(addr);
		pte_t *table;

		if (!pmd)
			continue;
		table = (pte_t *)pmd_page_vaddr(pmdp_get(pmd));
		if (table == shared || gmem_pte_table_shared(table))
			continue;
		for (i = 0; i < PTRS_PER_PTE; i++) {
			if (pte_page(ptep_get(table + i)) != sentinel)
				break;
		}
		if (i < PTRS_PER_PTE)
			continue;

		if (b->nr_tables == ARRAY_SIZE(b->tables))
			gmem_batch_flush(b);
		spin_lock(&init_mm.page_table_lock);
		pmd_populate_kernel(&init_mm, pmd, shared);
		spin_unlock(&init_mm.page_table_lock);
		b->tables[b->nr_tables++] = table;
		gmem_batch_cover(b, addr, addr + PMD_SIZE);
		gmem_vmemmap_event(GMEM_EV_TABLES_FREED, 1);
	}
	mmap_write_unlock(&init_mm);
}

/**
 * gmem_vmemmap_batch_begin - start removals that share one TLB flush
 * @b: the batch, on the caller's stack.
 *
 * Every gmem_vmemmap_depopulate() of the calling task until
 * gmem_vmemmap_batch_end() joins the batch: its struct pages read as the
 * sentinel at once, and the vmemmap pages and PTE tables it frees go after
 * one flush, at the end (as HVO batches its TLB flushes). Holds
 * gmem_vmemmap_lock throughout: keep a batch short (a worker's run).
 */
void gmem_vmemmap_batch_begin(struct gmem_vmemmap_batch *b)
{
	INIT_LIST_HEAD(&b->pages);
	b->nr_tables = 0;
	b->lo = ULONG_MAX;
	b->hi = 0;
	/* Batches do not nest: the mutex is ours already. */
	WARN_ON_ONCE(READ_ONCE(gmem_batch_task) == current);
	mutex_lock(&gmem_vmemmap_lock);
	gmem_batch = b;
	WRITE_ONCE(gmem_batch_task, current);
}

/**
 * gmem_vmemmap_batch_end - flush once and free what a batch removed
 * @b: the batch gmem_vmemmap_batch_begin() started.
 */
void gmem_vmemmap_batch_end(struct gmem_vmemmap_batch *b)
{
	gmem_batch_flush(b);
	WRITE_ONCE(gmem_batch_task, NULL);
	gmem_batch = NULL;
	mutex_unlock(&gmem_vmemmap_lock);
}

/* The calling task's batch, or NULL. */
static struct gmem_vmemmap_batch *gmem_batch_current(void)
{
	return READ_ONCE(gmem_batch_task) == current ? gmem_batch : NULL;
}

/*
 * Give every PMD of [start, end) that maps a shared table a table of its
 * own, a copy, taken from @nid's reserve (vmemmap_reserve.c). Does not
 * flush: the copy maps what the shared table maps, so a CPU still walking
 * the shared one translates alike until the caller's flush, which must
 * come before gmem_vmemmap_lock goes whenever *@copied is not 0, also on
 * failure. Returns 0 or -ENOMEM, and in *@copied the number of tables
 * copied; PMDs already given a table keep it (a private table of
 * sentinel PTEs is a valid state).
 *
 * Called with gmem_vmemmap_lock held. The mmap lock is taken for reading,
 * as HVO's walker takes it: it keeps ptdump (the writer) out, and nothing
 * else walks a PMD all of whose memory is private gmem_track memory.
 */
static int gmem_vmemmap_unshare_pmds(unsigned long start, unsigned long end,
				     int nid, int *copied)
{
	unsigned long addr, first = ALIGN_DOWN(start, PMD_SIZE);
	unsigned long last = ALIGN(end, PMD_SIZE);
	int ret = 0;

	*copied = 0;
	mmap_read_lock(&init_mm);
	for (addr = first; addr < last; addr += PMD_SIZE) {
		pmd_t *pmd = gmem_vmemmap_pmd(addr);
		pte_t *shared, *table;

		if (!pmd)
			continue;
		shared = (pte_t *)pmd_page_vaddr(pmdp_get(pmd));
		if (!gmem_pte_table_shared(shared))
			continue;
		table = gmem_vres_take_table(nid);
		if (!table) {
			ret = -ENOMEM;
			break;
		}
		memcpy(table, shared, PAGE_SIZE);
		/* Make the PTEs visible before the PMD. */
		smp_wmb();
		spin_lock(&init_mm.page_table_lock);
		pmd_populate_kernel(&init_mm, pmd, table);
		spin_unlock(&init_mm.page_table_lock);
		(*copied)++;
		gmem_vmemmap_event(GMEM_EV_TABLES_COPIED, 1);
	}
	mmap_read_unlock(&init_mm);
	return ret;
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

/*
 * Does a vmemmap PTE of [start, end) map the sentinel already? Then the
 * range had no vmemmap of its own (Invariants, 3, broken by the caller),
 * and removing it would free the sentinel under every private struct page
 * of its node and zone. Called with gmem_vmemmap_lock held, after the
 * split: every PMD of the range maps a PTE table.
 */
static bool gmem_vmemmap_maps_sentinel(unsigned long start, unsigned long end,
				       struct page *sentinel)
{
	unsigned long addr;
	pmd_t *pmd;
	pte_t pte;

	for (addr = start; addr < end; addr += PAGE_SIZE) {
		pmd = gmem_vmemmap_pmd(addr);
		if (!pmd)
			continue;
		pte = ptep_get(pte_offset_kernel(pmd, addr));
		if (WARN_ON_ONCE(pte_page(pte) == sentinel))
			return true;
	}
	return false;
}

/**
 * gmem_vmemmap_depopulate - remove the struct pages of a PFN range
 * @pfn: first PFN, aligned to GMEM_GRANULE_PAGES.
 * @nr: number of pages, a non-zero multiple of GMEM_GRANULE_PAGES.
 *
 * The struct pages of the range must be unreferenced (refcount frozen at
 * zero) and its vmemmap populated; afterwards they read as the sentinel.
 *
 * The range must lie in one node and zone (one chunk): it is pointed at
 * the sentinel of its first page's.
 *
 * Return: the number of vmemmap pages freed, -ENOMEM when no sentinel or no
 * page table for a PMD split could be allocated, -EOPNOTSUPP for memory
 * whose vmemmap lives on itself (memmap_on_memory), -EINVAL (with a
 * warning) if part of the range has no vmemmap of its own already,
 * -EXDEV (with a warning) if its ends lie in two zones. On error nothing
 * changed.
 */
int gmem_vmemmap_depopulate(unsigned long pfn, unsigned long nr)
{
	unsigned long start = (unsigned long)pfn_to_page(pfn);
	unsigned long end = (unsigned long)pfn_to_page(pfn + nr);
	struct gmem_vmemmap_batch one, *b;
	struct page *page = pfn_to_page(pfn);
	struct page *sentinel, *p;
	LIST_HEAD(vmemmap_pages);
	pte_t *shared;
	int ret, freed;
	bool split;

	KUNIT_STATIC_STUB_REDIRECT(gmem_vmemmap_depopulate, pfn, nr);

	if (WARN_ON_ONCE(!nr || !IS_ALIGNED(pfn | nr, GMEM_GRANULE_PAGES)))
		return -EINVAL;
	if (WARN_ON_ONCE(page_zone_id(page) !=
			 page_zone_id(pfn_to_page(pfn + nr - 1))))
		return -EXDEV;

	sentinel = gmem_sentinel(page_to_nid(page), page_zonenum(page));
	if (!sentinel)
		return -ENOMEM;
	shared = gmem_shared_pte_table(page_to_nid(page), page_zonenum(page),
				       sentinel);
	if (!shared)
		return -ENOMEM;

	/* Alone, a batch of one: flushed and freed before this returns. */
	b = gmem_batch_current();
	if (!b) {
		b = &one;
		gmem_vmemmap_batch_begin(b);
	}
	/*
	 * Splitting allocates page tables: the only step that can fail. It
	 * does not flush: until a flush, a CPU may still use the 2 MiB entry
	 * for addresses whose 4 KiB PTEs the remap below points elsewhere,
	 * two translations of one address that disagree. Flush the split
	 * PMDs first, as HVO flushes after its splits.
	 */
	split = gmem_vmemmap_has_leaf(start, end);
	ret = vmemmap_remap_split(start, end);
	/* Also when a later split failed: the earlier ones stay split. */
	if (split)
		gmem_vmemmap_flush(ALIGN_DOWN(start, PMD_SIZE),
				   ALIGN(end, PMD_SIZE));
	if (!ret && gmem_vmemmap_maps_sentinel(start, end, sentinel)) {
		if (b == &one)
			gmem_vmemmap_batch_end(b);
		return -EINVAL;
	}
	/*
	 * Pages of this range only on @vmemmap_pages: a failed remap puts
	 * back what it took from the list, which must not be another
	 * range's.
	 */
	if (!ret)
		ret = vmemmap_remap_free(start, end, NULL, sentinel,
					 &vmemmap_pages,
					 VMEMMAP_REMAP_NO_TLB_FLUSH);
	if (ret) {
		if (b == &one)
			gmem_vmemmap_batch_end(b);
		/*
		 * Short of page tables (-ENOMEM), the walker only refuses
		 * memmap_on_memory, whose vmemmap lives on the memory itself.
		 */
		return ret == -ENOMEM ? ret : -EOPNOTSUPP;
	}

	freed = 0;
	list_for_each_entry(p, &vmemmap_pages, lru)
		freed++;
	list_splice(&vmemmap_pages, &b->pages);
	gmem_batch_cover(b, start, end);
	gmem_vmemmap_event(GMEM_EV_PAGES_FREED, freed);
	gmem_vmemmap_share_pmds(b, start, end, sentinel, shared);
	if (b == &one)
		gmem_vmemmap_batch_end(b);
	trace_gmem_track_depopulate(pfn, nr, freed);
	return freed;
}

/**
 * gmem_vmemmap_rebuild_begin - start rebuilds that share one TLB flush
 * @rb: the rebuild, on the caller's stack.
 */
void gmem_vmemmap_rebuild_begin(struct gmem_vmemmap_rebuild *rb)
{
	rb->lo = ULONG_MAX;
	rb->hi = 0;
}

/**
 * gmem_vmemmap_rebuild_end - flush once what rebuilds with @rb remapped
 * @rb: the rebuild gmem_vmemmap_rebuild_begin() started.
 *
 * Until this returns, another CPU may still translate the rebuilt range
 * to the sentinel: the caller must not initialise, nor let anyone look
 * up, the struct pages rebuilt before it. A remap that copied a shared
 * PTE table was flushed at once, under the vmemmap lock: see
 * gmem_vmemmap_repopulate().
 */
void gmem_vmemmap_rebuild_end(struct gmem_vmemmap_rebuild *rb)
{
	if (!rb->hi)
		return;
	gmem_vmemmap_flush(rb->lo, rb->hi);
	rb->lo = ULONG_MAX;
	rb->hi = 0;
}

/**
 * gmem_vmemmap_repopulate - rebuild the struct pages of a PFN range
 * @pfn: first PFN, aligned to GMEM_GRANULE_PAGES.
 * @nr: number of pages, a non-zero multiple of GMEM_GRANULE_PAGES.
 * @rb: a rebuild to leave the flush to (gmem_vmemmap_rebuild_end()), or
 *	NULL to flush before returning.
 *
 * The range must read as the sentinel. Its vmemmap pages, and a PTE table
 * for each PMD that maps the shared table, come from the node's reserve
 * (vmemmap_reserve.c) and from the allocator only when the reserve is out;
 * they are mapped read-write with one TLB flush (or none, left to @rb), and
 * start as copies of the sentinel (reserved, refcount zero) until the
 * caller initialises them.
 * nr_memmap_pages grows by the pages mapped.
 *
 * Return: the number of vmemmap pages mapped, or -ENOMEM with the struct
 * pages unchanged (a PMD may have got a page table of its own).
 */
int gmem_vmemmap_repopulate(unsigned long pfn, unsigned long nr,
			    struct gmem_vmemmap_rebuild *rb)
{
	unsigned long start = (unsigned long)pfn_to_page(pfn);
	unsigned long end = (unsigned long)pfn_to_page(pfn + nr);
	unsigned long pages = (end - start) >> PAGE_SHIFT;
	int nid = page_to_nid(pfn_to_page(pfn));
	LIST_HEAD(vmemmap_pages);
	int copied = 0, ret;

	KUNIT_STATIC_STUB_REDIRECT(gmem_vmemmap_repopulate, pfn, nr, rb);

	if (WARN_ON_ONCE(!nr || !IS_ALIGNED(pfn | nr, GMEM_GRANULE_PAGES)))
		return -EINVAL;

	if (gmem_vres_take_pages(nid, pages, &vmemmap_pages))
		return -ENOMEM;

	mutex_lock(&gmem_vmemmap_lock);
	ret = gmem_vmemmap_unshare_pmds(start, end, nid, &copied);
	if (!ret) {
		ret = vmemmap_remap_restore(start, end, &vmemmap_pages,
					    VMEMMAP_REMAP_NO_TLB_FLUSH);
		/*
		 * A range that reads as the sentinel is PTE-mapped: the remap
		 * splits nothing and cannot fail once it has the pages.
		 */
		WARN_ON_ONCE(ret);
	}
	/*
	 * One flush for the copies and the remap: every CPU's, whatever the
	 * PCID, when a table was swapped (also if a later copy failed), so
	 * that no CPU keeps walking the shared one, and before the lock
	 * goes: a later rebuild in the same PMD flushes only its own range.
	 * A remap alone may wait for @rb: only the caller looks at the
	 * struct pages it rebuilt.
	 */
	if (copied)
		gmem_vmemmap_flush_all(ALIGN_DOWN(start, PMD_SIZE),
				       ALIGN(end, PMD_SIZE));
	else if (!ret && rb)
		gmem_vmemmap_cover(&rb->lo, &rb->hi, start, end);
	else if (!ret)
		gmem_vmemmap_flush(start, end);
	mutex_unlock(&gmem_vmemmap_lock);
	if (ret) {
		/* What the remap did not take; all counted by the take. */
		gmem_vres_put_pages(nid, &vmemmap_pages, true);
		return ret;
	}
	gmem_vmemmap_event(GMEM_EV_PAGES_ALLOCATED, pages);
	trace_gmem_track_repopulate(pfn, nr, pages);
	return pages;
}
ALLOW_ERROR_INJECTION(gmem_vmemmap_repopulate, ERRNO);

/**
 * gmem_vmemmap_populated - does a granule have struct pages of its own?
 * @pfn: a PFN of the granule.
 *
 * The caller keeps the granule's vmemmap from changing (it holds the
 * memory).
 *
 * Return: false if the struct page of @pfn reads as a sentinel, true if
 * it is backed by a vmemmap page of its own.
 */
bool gmem_vmemmap_populated(unsigned long pfn)
{
	unsigned long addr = (unsigned long)pfn_to_page(pfn);
	pmd_t *pmd = gmem_vmemmap_pmd(addr);
	struct page *page = pfn_to_page(pfn);
	pte_t *table;
	bool ret;

	if (!pmd)
		return true;
	mutex_lock(&gmem_vmemmap_lock);
	table = (pte_t *)pmd_page_vaddr(pmdp_get(pmd));
	ret = !gmem_pte_table_shared(table) &&
	      pte_page(ptep_get(pte_offset_kernel(pmd, addr))) !=
	      READ_ONCE(gmem_sentinels[page_to_nid(page)][page_zonenum(page)]);
	mutex_unlock(&gmem_vmemmap_lock);
	return ret;
}
