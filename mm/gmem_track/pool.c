// SPDX-License-Identifier: GPL-2.0
/*
 * gmem_track pool: physically contiguous chunks and who owns them.
 *
 * Chunks of 2 MiB come from the buddy allocator, chunks of 1 GiB from
 * alloc_contig_pages(). Either way each 4 KiB page is handed out with a
 * reference count of one, so a chunk is freed the same way whatever its
 * size. A global maple tree keyed by PFN records the owner of every chunk
 * gmem_track holds, the way ZONE_DEVICE's pgmap_array records the owner of
 * device memory; memory_failure() and the PFN walkers ask it.
 *
 * A tracked chunk whose struct pages cannot be rebuilt when it is freed
 * (there is no memory for its vmemmap) is parked: it stays in the tree,
 * owned by the pool, with its vmemmap still removed, and the next tracked
 * allocation of its size takes it.
 *
 * The boot reservation (reserve.c) is the first source for tracked owners,
 * and the last for struct-page owners: its chunks are in the tree as the
 * reservation's and never had struct pages (a struct-page owner's get them
 * built); freed, they return to it.
 */

#define pr_fmt(fmt) "gmem_track: " fmt

#include <kunit/static_stub.h>
#include <linux/error-injection.h>
#include <linux/gfp.h>
#include <linux/maple_tree.h>
#include <linux/mm.h>

#include "internal.h"

/* Owners of parked chunks in gmem_pfn_tree: usable, and hit by an error. */
static struct gmem_track_owner gmem_pool_owner;
static struct gmem_track_owner gmem_pool_quarantine;
static struct gmem_track_owner gmem_pool_reserve;

static struct maple_tree gmem_pfn_tree =
	MTREE_INIT(gmem_pfn_tree, MT_FLAGS_USE_RCU);
static atomic_long_t gmem_parked[2];

static int gmem_order_slot(unsigned int order)
{
	return order == PUD_ORDER;
}

static bool gmem_pool_take_parked(struct gmem_track_owner *owner,
				  unsigned int order, unsigned long *pfn)
{
	MA_STATE(mas, &gmem_pfn_tree, 0, 0);
	unsigned long nr = 1UL << order;
	void *entry;
	bool found = false;

	if (!atomic_long_read(&gmem_parked[gmem_order_slot(order)]))
		return false;

	mtree_lock(&gmem_pfn_tree);
	mas_for_each(&mas, entry, ULONG_MAX) {
		if (entry != &gmem_pool_owner ||
		    mas.last - mas.index + 1 != nr)
			continue;
		if (owner->nid != NUMA_NO_NODE &&
		    pfn_to_nid(mas.index) != owner->nid)
			continue;
		/* Same span, new owner: an exact-fit store, no allocation. */
		mas_store(&mas, owner);
		*pfn = mas.index;
		found = true;
		break;
	}
	mtree_unlock(&gmem_pfn_tree);
	if (found)
		atomic_long_dec(&gmem_parked[gmem_order_slot(order)]);
	return found;
}

/**
 * gmem_pool_alloc_buddy - a chunk of the buddy allocator
 * @nid: node wanted, or NUMA_NO_NODE.
 * @order: PMD_ORDER or PUD_ORDER.
 *
 * Return: the first page of the chunk, each of its pages with a reference
 * count of one; NULL without contiguous memory.
 */
struct page *gmem_pool_alloc_buddy(int nid, unsigned int order)
{
	gfp_t gfp = GFP_KERNEL | __GFP_NOWARN | __GFP_RETRY_MAYFAIL;
	struct page *page;

	KUNIT_STATIC_STUB_REDIRECT(gmem_pool_alloc_buddy, nid, order);

	if (order > MAX_PAGE_ORDER) {
		/* Its zonelist falls back to other nodes; it needs a real one. */
		if (nid == NUMA_NO_NODE)
			nid = numa_mem_id();
		return alloc_contig_pages(1UL << order, gfp, nid, NULL);
	}
	page = alloc_pages_node(nid, gfp, order);
	if (page)
		split_page(page, order);
	return page;
}

/*
 * A struct-page owner the buddy allocator had no contiguous memory for
 * takes a reserved chunk, its struct pages built as for a chunk of the
 * buddy allocator; gmem_pool_free() gives it back to the reservation.
 */
static int gmem_pool_take_reserve_built(struct gmem_track_owner *owner,
					unsigned int order, unsigned long *pfn)
{
	unsigned long nr = 1UL << order;
	int ret;

	/* A chunk hit by a memory error is never taken again. */
	while (!(ret = gmem_reserve_take_built(owner->nid, order, pfn))) {
		ret = mtree_store_range(&gmem_pfn_tree, *pfn, *pfn + nr - 1,
					owner, GFP_KERNEL);
		if (ret) {
			/* Still recorded as the reservation's. */
			gmem_reserve_put(*pfn, gmem_reserve_unbuild(*pfn, nr));
			return ret;
		}
		/*
		 * Until its owner was recorded, a memory error on the chunk
		 * was the reservation's (gmem_reserve_poison()); from here it
		 * is the owner's.
		 */
		if (!gmem_reserve_poisoned(*pfn))
			return 0;
		gmem_pool_return_reserve(*pfn, order, GMEM_RESERVE_POISONED |
					 gmem_reserve_unbuild(*pfn, nr));
	}
	return ret;
}

/**
 * gmem_pool_alloc - take a chunk for an owner
 * @owner: the new owner.
 * @order: PMD_ORDER (2 MiB) or PUD_ORDER (1 GiB).
 * @pfn: the first PFN of the chunk, on success.
 * @depopulated: set when the chunk's vmemmap is already removed (a parked
 *	chunk, for tracked owners only); otherwise every page has a struct
 *	page with a reference count of one.
 *
 * Tracked owners take a reserved chunk first, then a parked one, then
 * memory of the buddy allocator. Struct-page owners take memory of the
 * buddy allocator, and a reserved chunk, its struct pages built, when
 * the buddy allocator has no contiguous memory. An owner marked
 * buddy_only (tests of that path: debugfs, KUnit) takes memory of the
 * buddy allocator, or a parked chunk, only.
 *
 * Return: 0, -EINVAL for an unsupported order, -ENOMEM when no contiguous
 * memory (or no memory for the tree or for the struct pages of a reserved
 * chunk) is available.
 */
int gmem_pool_alloc(struct gmem_track_owner *owner, unsigned int order,
		    unsigned long *pfn, bool *depopulated)
{
	unsigned long nr = 1UL << order;
	struct page *page;
	int ret;

	KUNIT_STATIC_STUB_REDIRECT(gmem_pool_alloc, owner, order, pfn,
				   depopulated);

	if (order != PMD_ORDER && order != PUD_ORDER)
		return -EINVAL;

	*depopulated = false;
	while (owner->design == GMEM_TRACK_TRACKED && !owner->buddy_only &&
	       !gmem_reserve_take(owner->nid, order, pfn)) {
		/* A span of a block's entry: storing it may split the entry. */
		ret = mtree_store_range(&gmem_pfn_tree, *pfn, *pfn + nr - 1,
					owner, GFP_KERNEL);
		if (ret) {
			gmem_reserve_put(*pfn, 0);
			return ret;
		}
		/*
		 * An error that hit the chunk before its owner was recorded
		 * was taken by the reservation: keep the chunk there.
		 */
		if (!gmem_reserve_poisoned(*pfn)) {
			*depopulated = true;
			return 0;
		}
		gmem_pool_return_reserve(*pfn, order, GMEM_RESERVE_POISONED);
	}
	if (owner->design == GMEM_TRACK_TRACKED &&
	    gmem_pool_take_parked(owner, order, pfn)) {
		*depopulated = true;
		return 0;
	}

	page = gmem_pool_alloc_buddy(owner->nid, order);
	if (!page) {
		if (owner->design == GMEM_TRACK_TRACKED || owner->buddy_only)
			return -ENOMEM;
		return gmem_pool_take_reserve_built(owner, order, pfn);
	}

	*pfn = page_to_pfn(page);
	ret = mtree_store_range(&gmem_pfn_tree, *pfn, *pfn + nr - 1, owner,
				GFP_KERNEL);
	if (ret) {
		gmem_pool_free_buddy(*pfn, order);
		return ret;
	}
	return 0;
}
ALLOW_ERROR_INJECTION(gmem_pool_alloc, ERRNO);

/**
 * gmem_pool_free_buddy - give a chunk to the buddy allocator
 * @pfn: first PFN of the chunk, which the PFN tree no longer records.
 * @order: its order.
 *
 * The counterpart of gmem_pool_alloc_buddy(): every page must have a
 * reference count of one; a page with PG_hwpoison stays out of the free
 * lists.
 */
void gmem_pool_free_buddy(unsigned long pfn, unsigned int order)
{
	KUNIT_STATIC_STUB_REDIRECT(gmem_pool_free_buddy, pfn, order);

	free_contig_range(pfn, 1UL << order);
}

/**
 * gmem_pool_free - give a chunk back to where it came from
 * @pfn: first PFN of the chunk.
 * @order: its order.
 *
 * Every page of the chunk must have a struct page with a reference count
 * of one and no other state. A reserved chunk (one a struct-page owner
 * took) returns to the reservation, its struct pages removed again; if a
 * page is poisoned, the reservation keeps it out of use for good with its
 * struct pages, and if one is still referenced, until the reference goes.
 * Other chunks go to the buddy allocator.
 */
void gmem_pool_free(unsigned long pfn, unsigned int order)
{
	if (gmem_reserve_holds(pfn)) {
		gmem_pool_return_reserve(pfn, order,
					 gmem_reserve_unbuild(pfn, 1UL << order));
		return;
	}
	mtree_erase(&gmem_pfn_tree, pfn);
	gmem_pool_free_buddy(pfn, order);
}

/**
 * gmem_pool_park - keep a chunk gmem_track cannot free
 * @pfn: first PFN of the chunk.
 * @order: its order.
 * @poisoned: the chunk holds poisoned memory: never hand it out again.
 *
 * The chunk stays in the PFN tree, owned by the pool: parked, for the next
 * tracked owner (its vmemmap must already be removed), or quarantined. Its
 * span is unchanged, so this never allocates.
 */
void gmem_pool_park(unsigned long pfn, unsigned int order, bool poisoned)
{
	MA_STATE(mas, &gmem_pfn_tree, pfn, pfn + (1UL << order) - 1);

	mtree_lock(&gmem_pfn_tree);
	mas_store(&mas, poisoned ? &gmem_pool_quarantine : &gmem_pool_owner);
	mtree_unlock(&gmem_pfn_tree);
	if (!poisoned)
		atomic_long_inc(&gmem_parked[gmem_order_slot(order)]);
}

/**
 * gmem_pool_adopt_reserve - record a block of the boot reservation
 * @pfn: first PFN of the block.
 * @nr: its pages.
 *
 * Return: 0, or -ENOMEM without memory for the tree.
 */
int __init gmem_pool_adopt_reserve(unsigned long pfn, unsigned long nr)
{
	return mtree_store_range(&gmem_pfn_tree, pfn, pfn + nr - 1,
				 &gmem_pool_reserve, GFP_KERNEL);
}

/**
 * gmem_pool_drop_reserve - a reserved chunk goes to the buddy allocator
 * @pfn: first PFN of the chunk, taken from the reservation.
 * @nr: its pages.
 *
 * Return: 0, or -ENOMEM without memory to split the block's entry (the
 * chunk is then still recorded as reserved).
 */
int gmem_pool_drop_reserve(unsigned long pfn, unsigned long nr)
{
	KUNIT_STATIC_STUB_REDIRECT(gmem_pool_drop_reserve, pfn, nr);

	return mtree_store_range(&gmem_pfn_tree, pfn, pfn + nr - 1, NULL,
				 GFP_KERNEL);
}

/**
 * gmem_pool_return_reserve - give a reserved chunk back to the reservation
 * @pfn: first PFN of the chunk; its vmemmap must read as the sentinel
 *	unless @how says otherwise.
 * @order: its order.
 * @how: as for gmem_reserve_put(): 0, GMEM_RESERVE_POISONED (never hand
 *	it out again), GMEM_RESERVE_HELD (struct pages still built).
 *
 * The chunk's span in the tree is unchanged, so this never allocates.
 */
void gmem_pool_return_reserve(unsigned long pfn, unsigned int order,
			      unsigned int how)
{
	MA_STATE(mas, &gmem_pfn_tree, pfn, pfn + (1UL << order) - 1);

	mtree_lock(&gmem_pfn_tree);
	mas_store(&mas, &gmem_pool_reserve);
	mtree_unlock(&gmem_pfn_tree);
	gmem_reserve_put(pfn, how);
}

/**
 * gmem_pool_parked - number of parked chunks of an order
 * @order: PMD_ORDER or PUD_ORDER.
 *
 * Return: the number of chunks of @order the pool keeps.
 */
long gmem_pool_parked(unsigned int order)
{
	return atomic_long_read(&gmem_parked[gmem_order_slot(order)]);
}

/**
 * gmem_pool_tree_bytes - memory of the pool's PFN tree
 *
 * Return: the bytes of the maple nodes of the tree that records the owner
 * of every chunk, parked ones included.
 */
long gmem_pool_tree_bytes(void)
{
	unsigned long nodes;

	mtree_lock(&gmem_pfn_tree);
	nodes = mt_nr_nodes(&gmem_pfn_tree);
	mtree_unlock(&gmem_pfn_tree);
	return nodes * sizeof(struct maple_node);
}

/**
 * gmem_pool_owner_of - the owner of the chunk holding a PFN
 * @pfn: the PFN.
 *
 * A parked chunk is moved to quarantine, so that it is never handed out
 * again, and reported as owned by nobody.
 *
 * A free reserved chunk is marked poisoned in the reservation the same way.
 *
 * Return: the owner; ERR_PTR(-ECANCELED) for a parked or free reserved
 * chunk, which this call quarantined; ERR_PTR(-EHWPOISON) for a chunk in quarantine
 * already; NULL if gmem_track does not hold @pfn.
 */
struct gmem_track_owner *gmem_pool_owner_of(unsigned long pfn)
{
	MA_STATE(mas, &gmem_pfn_tree, pfn, pfn);
	struct gmem_track_owner *owner;

	mtree_lock(&gmem_pfn_tree);
	owner = mas_walk(&mas);
	if (owner == &gmem_pool_owner) {
		/* Same span, other value: an exact-fit store. */
		mas_store(&mas, &gmem_pool_quarantine);
		atomic_long_dec(&gmem_parked[gmem_order_slot(ilog2(mas.last -
							mas.index + 1))]);
		owner = ERR_PTR(-ECANCELED);
	} else if (owner == &gmem_pool_quarantine) {
		owner = ERR_PTR(-EHWPOISON);
	} else if (owner == &gmem_pool_reserve) {
		/* A free reserved chunk: the reservation keeps it out of use. */
		owner = ERR_PTR(gmem_reserve_poison(pfn));
	}
	mtree_unlock(&gmem_pfn_tree);
	return owner;
}

/**
 * gmem_pool_owns - does an owner hold the chunk of a PFN?
 * @pfn: the PFN.
 * @owner: the owner.
 *
 * Return: true if @owner holds the chunk containing @pfn.
 */
bool gmem_pool_owns(unsigned long pfn, struct gmem_track_owner *owner)
{
	return mtree_load(&gmem_pfn_tree, pfn) == owner;
}

#ifdef CONFIG_MEMORY_FAILURE
/*
 * Does gmem_track hold the chunk of @pfn, its struct pages liable to be
 * removed? A reserved chunk leaving for the buddy allocator has its struct
 * pages built and is memory_failure()'s (gmem_reserve_poison()).
 * Called with the PFN tree locked.
 */
static bool gmem_pool_taken(unsigned long pfn)
{
	void *entry = mtree_load(&gmem_pfn_tree, pfn);

	if (entry == &gmem_pool_reserve)
		return !gmem_reserve_leaving(pfn);
	return entry;
}

/**
 * gmem_track_test_set_hwpoison - set PG_hwpoison on a page gmem_track let go
 * @pfn: the PFN with the error.
 * @page: its struct page.
 *
 * For memory_failure(), once gmem_track_memory_failure() said -ENOENT: in
 * the meantime gmem_track may have taken the page into a new chunk, whose
 * struct pages it may remove, or released a chunk, whose struct pages it
 * rewrites, or a reserved chunk whose struct pages were built to leave
 * may have failed to leave. The check and the write are made under the
 * PFN tree's lock, which every record and removal of a chunk takes, so a
 * chunk is recorded either after the write, and gmem_track then finds
 * PG_hwpoison on it (gmem_pages_hwpoisoned()), or before the check, and
 * nothing is written. They are in an RCU read-side section too: a
 * reserved chunk that stops leaving is looked at a grace period later.
 *
 * Context: Process context, with memory_failure()'s mf_mutex held.
 * Return: -EAGAIN, with nothing written, if gmem_track holds the page now
 * (ask gmem_track_memory_failure() again); otherwise the old value of
 * PG_hwpoison, as TestSetPageHWPoison().
 */
int gmem_track_test_set_hwpoison(unsigned long pfn, struct page *page)
{
	int ret = -EAGAIN;

	rcu_read_lock();
	mtree_lock(&gmem_pfn_tree);
	if (!gmem_pool_taken(pfn))
		ret = TestSetPageHWPoison(page) ? 1 : 0;
	mtree_unlock(&gmem_pfn_tree);
	rcu_read_unlock();
	return ret;
}
#endif /* CONFIG_MEMORY_FAILURE */

/**
 * gmem_track_pfn_owned - is a PFN part of a gmem_track chunk?
 * @pfn: the PFN.
 *
 * Safe from any context that may take rcu_read_lock().
 *
 * Return: true if gmem_track holds the chunk containing @pfn.
 */
bool gmem_track_pfn_owned(unsigned long pfn)
{
	return !!mtree_load(&gmem_pfn_tree, pfn);
}
EXPORT_SYMBOL_GPL(gmem_track_pfn_owned);
