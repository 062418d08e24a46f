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
 * work item per node, queued when a take leaves it below half its target,
 * when a give-back leaves it above it, and when the target changes;
 * nothing here runs in the conversion but a spinlock.
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

/*
 * Is the reserve below half its target? Only then does a take queue the
 * refill: one wakeup of a worker per half a reserve of takes, not one per
 * conversion (a wakeup costs a conversion more than the page it brings).
 * Called with r->lock held.
 */
static bool gmem_vres_low(struct gmem_vres *r)
{
	return r->nr_pages * 2 < READ_ONCE(gmem_vres_target_pages);
}

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

/*
 * Take up to @nr pages off @r onto @list; returns how many. A page that
 * memory_failure() hit while it waited is not handed out: it goes to the
 * buddy allocator, which keeps hwpoisoned pages out of use.
 */
static unsigned long gmem_vres_pop(struct gmem_vres *r, unsigned long nr,
				   struct list_head *list)
{
	unsigned long got = 0, popped = 0;
	struct page *page, *next;
	LIST_HEAD(poisoned);
	bool low;

	spin_lock(&r->lock);
	while (got < nr && r->nr_pages) {
		page = list_first_entry(&r->pages, struct page, lru);
		r->nr_pages--;
		popped++;
		if (PageHWPoison(page)) {
			list_move(&page->lru, &poisoned);
			continue;
		}
		list_move(&page->lru, list);
		got++;
	}
	low = gmem_vres_low(r);
	spin_unlock(&r->lock);
	atomic_long_sub(popped, &gmem_vres_pages);
	list_for_each_entry_safe(page, next, &poisoned, lru) {
		list_del(&page->lru);
		__free_page(page);
	}
	if (low)
		queue_work(system_unbound_wq, &r->refill);
	return got;
}

/* Allocate up to @nr pages on @nid onto @list; returns how many. */
static unsigned long gmem_vres_alloc(int nid, unsigned long nr,
				     struct list_head *list)
{
	unsigned long got;
	struct page *page;

	for (got = 0; got < nr; got++) {
		page = alloc_pages_node(nid, GMEM_VRES_GFP, 0);
		if (!page)
			break;
		list_add(&page->lru, list);
	}
	return got;
}

/**
 * gmem_vres_take_pages - pages for rebuilding a vmemmap range
 * @nid: the node of the memory the struct pages describe.
 * @nr: the number of pages.
 * @list: where to put them, linked through page->lru.
 *
 * Takes from @nid's reserve first and allocates the rest; a rebuild of
 * more than half the reserve (a whole 1 GiB chunk, say) asks the
 * allocator first and the reserve only for what it could not give, so
 * that one large rebuild does not leave the next guest's DMA buffer with
 * an empty reserve. The pages are counted in nr_memmap_pages from here on.
 * gmem_vres_put_pages() gives back pages not used.
 *
 * Return: 0, or -ENOMEM with nothing taken when the reserve and the
 * allocator together could not give @nr pages.
 */
int gmem_vres_take_pages(int nid, unsigned long nr, struct list_head *list)
{
	struct gmem_vres *r = gmem_vres_get(nid);
	unsigned long got = 0, from_reserve = 0;
	LIST_HEAD(taken);

	if (nr * 2 > READ_ONCE(gmem_vres_target_pages))
		got = gmem_vres_alloc(nid, nr, &taken);
	if (got < nr && r) {
		from_reserve = gmem_vres_pop(r, nr - got, &taken);
		got += from_reserve;
	}
	if (got < nr)
		got += gmem_vres_alloc(nid, nr - got, &taken);
	if (got < nr) {
		gmem_vres_put_pages(nid, &taken, false);
		return -ENOMEM;
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
 * @counted: whether they are counted in nr_memmap_pages (false for pages
 *	     the take itself gives back).
 *
 * They go back to the reserve, which the refill work trims to its target.
 */
void gmem_vres_put_pages(int nid, struct list_head *list, bool counted)
{
	struct gmem_vres *r = gmem_vres_get(nid);
	struct page *page, *next;
	unsigned long n = 0;
	bool over;

	list_for_each_entry(page, list, lru)
		n++;
	if (!n)
		return;
	if (counted)
		memmap_pages_add(-(long)n);
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
	over = r->nr_pages > READ_ONCE(gmem_vres_target_pages);
	spin_unlock(&r->lock);
	atomic_long_add(n, &gmem_vres_pages);
	if (over)
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
	LIST_HEAD(one);
	pte_t *table;

	if (r && gmem_vres_pop(r, 1, &one)) {
		struct page *page = list_first_entry(&one, struct page, lru);

		list_del(&page->lru);
		gmem_vmemmap_event(GMEM_EV_RESERVE_PAGES, 1);
		ptdesc = page_ptdesc(page);
		/* Cannot fail for init_mm: no split page table lock. */
		WARN_ON_ONCE(!pagetable_pte_ctor(&init_mm, ptdesc));
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
