// SPDX-License-Identifier: GPL-2.0
/*
 * gmem_track vmemmap reserve: pages kept for rebuilding struct pages.
 *
 * A conversion to shared of a granule with no vmemmap needs a vmemmap page
 * (and, inside a vmemmap PMD that maps the shared table, a PTE table). A
 * guest asks for such conversions when it shares a page for DMA; failing
 * them because the page allocator could not find a page at that moment
 * leaves the guest nowhere to go. So each node keeps a few pages aside,
 * for vmemmap and for PTE tables alike:
 *
 *   rebuild -> take from the node's reserve -> (empty) allocate -> ENOMEM
 *                       ^
 *                       +-- refill work, in the background, up to
 *                           vmemmap_reserve_pages (sysfs)
 *
 * A rebuild takes what it needs from the reserve first and asks the
 * allocator only for the rest, so it fails only when both are out; it
 * then gives back what it took. The reserve is filled and trimmed by one
 * work item per node, queued whenever a rebuild took from it or the
 * target changed; nothing here runs in the conversion except a spinlock.
 *
 * What the reserve holds is host memory like the sentinels, not any
 * file's: it is charged to no cgroup, and counted neither in
 * nr_memmap_pages nor in PageTables, until a rebuild turns a page into
 * vmemmap (core.c charges the owner then) or a PTE table; it shows in
 * sysfs vmemmap_reserve_bytes.
 */

#define pr_fmt(fmt) "gmem_track: " fmt

#include <linux/gfp.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/nodemask.h>
#include <linux/pgalloc.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/vmstat.h>
#include <linux/workqueue.h>

#include "internal.h"

/*
 * struct gmem_vres - one node's reserve
 * @lock: guards @pages and @nr_pages, held only to move pages.
 * @pages: free pages, linked through page->lru, contents undefined; a
 *	   rebuild maps them as vmemmap or makes PTE tables of them.
 * @nr_pages: pages on @pages.
 * @refill: fills the reserve up to its target, or trims it down to it.
 * @nid: the node.
 */
struct gmem_vres {
	spinlock_t lock;	/* guards pages and nr_pages */
	struct list_head pages;
	unsigned long nr_pages;
	struct work_struct refill;
	int nid;
};

/* Pages per node; sysfs vmemmap_reserve_pages. */
unsigned long gmem_vres_target_pages = GMEM_VRES_DEFAULT_PAGES;

static struct gmem_vres *gmem_vres_nodes[MAX_NUMNODES];
static atomic_long_t gmem_vres_pages;

#define GMEM_VRES_GFP	(GFP_KERNEL | __GFP_RETRY_MAYFAIL | __GFP_NOWARN)

static void gmem_vres_refill(struct work_struct *work)
{
	struct gmem_vres *r = container_of(work, struct gmem_vres, refill);
	struct page *page;

	for (;;) {
		unsigned long target = READ_ONCE(gmem_vres_target_pages);
		bool over;

		page = NULL;
		spin_lock(&r->lock);
		over = r->nr_pages > target;
		if (over) {
			/* Trim what a lower target left over. */
			page = list_first_entry(&r->pages, struct page, lru);
			list_del(&page->lru);
			r->nr_pages--;
		} else if (r->nr_pages == target) {
			spin_unlock(&r->lock);
			break;
		}
		spin_unlock(&r->lock);

		if (over) {
			__free_page(page);
			atomic_long_dec(&gmem_vres_pages);
		} else {
			page = alloc_pages_node(r->nid, GMEM_VRES_GFP, 0);
			if (!page)
				break;
			spin_lock(&r->lock);
			list_add(&page->lru, &r->pages);
			r->nr_pages++;
			spin_unlock(&r->lock);
			atomic_long_inc(&gmem_vres_pages);
		}
		cond_resched();
	}
}

/* The reserve of @nid, made on first use; NULL if that fails. */
static struct gmem_vres *gmem_vres_get(int nid)
{
	struct gmem_vres *r = READ_ONCE(gmem_vres_nodes[nid]), *old;

	if (r)
		return r;
	r = kzalloc_node(sizeof(*r), GFP_KERNEL, nid);
	if (!r)
		return NULL;
	spin_lock_init(&r->lock);
	INIT_LIST_HEAD(&r->pages);
	INIT_WORK(&r->refill, gmem_vres_refill);
	r->nid = nid;
	old = cmpxchg(&gmem_vres_nodes[nid], NULL, r);
	if (old) {
		kfree(r);
		return old;
	}
	return r;
}

/**
 * gmem_vres_kick - bring the reserves to their target in the background
 * @nid: a node, or NUMA_NO_NODE for every node with memory.
 *
 * Called when a tracked owner is created and when the target changes.
 */
void gmem_vres_kick(int nid)
{
	struct gmem_vres *r;

	if (nid != NUMA_NO_NODE) {
		r = gmem_vres_get(nid);
		if (r)
			queue_work(system_unbound_wq, &r->refill);
		return;
	}
	for_each_node_state(nid, N_MEMORY)
		gmem_vres_kick(nid);
}

/**
 * gmem_vres_take_pages - pages for rebuilding a vmemmap range
 * @nid: the node of the memory the struct pages describe.
 * @nr: the number of pages.
 * @list: where to put them, linked through page->lru.
 *
 * Takes from @nid's reserve first and allocates the rest; the pages are
 * counted in nr_memmap_pages from here on. gmem_vres_put_pages() gives
 * back pages not used.
 *
 * Return: 0, or -ENOMEM with nothing taken when the reserve and the
 * allocator together could not give @nr pages.
 */
int gmem_vres_take_pages(int nid, unsigned long nr, struct list_head *list)
{
	struct gmem_vres *r = gmem_vres_get(nid);
	unsigned long got = 0, from_reserve;
	struct page *page;
	LIST_HEAD(taken);

	if (r) {
		spin_lock(&r->lock);
		while (got < nr && r->nr_pages) {
			page = list_first_entry(&r->pages, struct page, lru);
			list_move(&page->lru, &taken);
			r->nr_pages--;
			got++;
		}
		spin_unlock(&r->lock);
		if (got) {
			atomic_long_sub(got, &gmem_vres_pages);
			queue_work(system_unbound_wq, &r->refill);
		}
	}
	from_reserve = got;
	for (; got < nr; got++) {
		page = alloc_pages_node(nid, GMEM_VRES_GFP, 0);
		if (!page) {
			gmem_vres_put_pages(nid, &taken, 0);
			return -ENOMEM;
		}
		list_add(&page->lru, &taken);
	}
	gmem_vmemmap_event(GMEM_EV_RESERVE_PAGES, from_reserve);
	gmem_vmemmap_event(GMEM_EV_RESERVE_MISSES, nr - from_reserve);
	list_splice(&taken, list);
	memmap_pages_add(nr);
	return 0;
}

/**
 * gmem_vres_put_pages - give back pages gmem_vres_take_pages() gave
 * @nid: the node they were taken for.
 * @list: the pages; emptied.
 * @counted: how many of them are counted in nr_memmap_pages (0 for pages
 *	     the take itself gives back).
 *
 * They go back to the reserve, which the refill work trims to its target.
 */
void gmem_vres_put_pages(int nid, struct list_head *list,
			 unsigned long counted)
{
	struct gmem_vres *r = gmem_vres_get(nid);
	struct page *page, *next;
	unsigned long n = 0;

	if (counted)
		memmap_pages_add(-counted);
	list_for_each_entry(page, list, lru)
		n++;
	if (!n)
		return;
	if (!r) {
		list_for_each_entry_safe(page, next, list, lru) {
			list_del(&page->lru);
			__free_page(page);
		}
		return;
	}
	spin_lock(&r->lock);
	list_splice_init(list, &r->pages);
	r->nr_pages += n;
	spin_unlock(&r->lock);
	atomic_long_add(n, &gmem_vres_pages);
	queue_work(system_unbound_wq, &r->refill);
}

/**
 * gmem_vres_take_table - a PTE table for a vmemmap PMD of node @nid
 * @nid: the node of the memory the PMD's struct pages describe.
 *
 * A page of the reserve made a kernel PTE table as pte_alloc_one_kernel()
 * makes one (counted in PageTables from here on, freed with
 * pte_free_kernel()), or a table from pte_alloc_one_kernel() when the
 * reserve is out.
 *
 * Return: the table, contents undefined, or NULL when neither the reserve
 * nor the allocator has a page.
 */
pte_t *gmem_vres_take_table(int nid)
{
	struct gmem_vres *r = gmem_vres_get(nid);
	struct ptdesc *ptdesc;
	struct page *page = NULL;
	pte_t *table;

	if (r) {
		spin_lock(&r->lock);
		if (r->nr_pages) {
			page = list_first_entry(&r->pages, struct page, lru);
			list_del(&page->lru);
			r->nr_pages--;
		}
		spin_unlock(&r->lock);
	}
	if (page) {
		atomic_long_dec(&gmem_vres_pages);
		gmem_vmemmap_event(GMEM_EV_RESERVE_PAGES, 1);
		queue_work(system_unbound_wq, &r->refill);
		ptdesc = page_ptdesc(page);
		/* Cannot fail for init_mm: no split page table lock. */
		pagetable_pte_ctor(&init_mm, ptdesc);
		ptdesc_set_kernel(ptdesc);
		return ptdesc_address(ptdesc);
	}
	table = pte_alloc_one_kernel(&init_mm);
	if (table)
		gmem_vmemmap_event(GMEM_EV_RESERVE_MISSES, 1);
	return table;
}

/**
 * gmem_vres_bytes_read - memory the reserves hold
 *
 * Return: bytes of free pages in every node's reserve.
 */
long gmem_vres_bytes_read(void)
{
	return atomic_long_read(&gmem_vres_pages) << PAGE_SHIFT;
}
