/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Internal interfaces between the layers of mm/gmem_track.
 */
#ifndef _MM_GMEM_TRACK_INTERNAL_H
#define _MM_GMEM_TRACK_INTERNAL_H

#include <linux/atomic.h>
#include <linux/gmem_track.h>
#include <linux/list.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/refcount.h>
#include <linux/seqlock.h>
#include <linux/sizes.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>

#include "ranges.h"
#include "reserve.h"

/*
 * One vmemmap page holds 64 struct pages of 64 bytes: the granule in which
 * struct pages are removed and rebuilt, 256 KiB of memory on x86-64.
 */
#define GMEM_GRANULE_PAGES	(PAGE_SIZE / sizeof(struct page))
/*
 * Most pages whose vmemmap is rebuilt in one go: a conversion looks for a
 * fatal signal between two such runs (one TLB flush each).
 */
#define GMEM_RUN_MAX_PAGES	(SZ_128M >> PAGE_SHIFT)

/* Poisoned pages a chunk may hold and still be freed (the rest stays). */
#define GMEM_MAX_POISONED	8

/**
 * struct gmem_track_owner - memory of one guest_memfd inode
 * @ranges: file index -> {pfn, state} descriptor; read under RCU.
 * @lock: serializes every change of @ranges and of the memory behind it.
 * @chunk_order: order of the chunks backing the owner (PMD or PUD order).
 * @design: whether private memory keeps its struct pages.
 * @nid: node chunks are taken from, or NUMA_NO_NODE.
 * @ref: references to the owner. Its creation holds one until it has
 *	given back every chunk (on gmem_track_owner_destroy(), or later
 *	for a closed owner); a memory error or a statistics read at work
 *	on it holds one each, taken under gmem_owners_lock. The last one
 *	takes the owner off @list and frees it.
 * @list: entry in the list of all owners, for statistics; under
 *	gmem_owners_lock.
 * @ops: the callbacks of the owner's user, or NULL.
 * @ops_data: their argument.
 * @notifying: memory errors calling @ops, counted under @lock when they
 *	read it; gmem_track_owner_destroy() waits for none to be left.
 * @objcg: the memory cgroup of the task that created the owner, charged
 *	with its chunks and the vmemmap rebuilt for them; NULL for none.
 * @closed: entry in the list of destroyed owners still holding chunks.
 * @closed_chunks: chunks such an owner holds, counted in GMEM_STAT_CLOSED.
 * @buddy_only: take chunks from the buddy allocator (or parked ones) only,
 *	never from the boot reservation: set before the first populate, by
 *	tests of that path (debugfs "create ... buddy", KUnit).
 * @deferred: granules (file index / GMEM_GRANULE_PAGES) that lost their
 *	last shared page and still have their vmemmap, waiting for
 *	gmem_deferred_flush(); each entry's value is @deferred_gen when it
 *	was added. Under @lock.
 * @deferred_gen: generation of the entries added now; under @lock.
 * @deferred_work: runs gmem_deferred_flush() a while after an addition.
 * @deferred_off: set once the owner is destroyed, under gmem_owners_lock:
 *	nobody queues @deferred_work any more.
 * @ranges_seq: odd while @ranges changes; each change is made under @lock,
 *	and gmem_read_ranges() measures @ranges against it without @lock.
 */
struct gmem_track_owner {
	struct gmem_ranges ranges;
	struct mutex lock;	/* see above */
	unsigned int chunk_order;
	enum gmem_track_design design;
	int nid;
	refcount_t ref;
	struct list_head list;
	const struct gmem_track_owner_ops *ops;
	void *ops_data;
	atomic_t notifying;
	struct obj_cgroup *objcg;
	struct list_head closed;
	long closed_chunks;
	bool buddy_only;
	struct xarray deferred;
	unsigned long deferred_gen;
	struct delayed_work deferred_work;
	bool deferred_off;
	seqcount_t ranges_seq;
};

enum gmem_stat_item {
	GMEM_STAT_CHUNKS_2M,
	GMEM_STAT_CHUNKS_1G,
	GMEM_STAT_PRIVATE,
	GMEM_STAT_SHARED,
	GMEM_STAT_VMEMMAP,
	GMEM_STAT_VMEMMAP_FREED,
	GMEM_STAT_CLOSED,
	GMEM_STAT_DEFERRED,
	GMEM_NR_STAT_ITEMS,
};

extern atomic_long_t gmem_stats[GMEM_TRACK_NR_DESIGNS][GMEM_NR_STAT_ITEMS];

/*
 * What vmemmap changes cost since boot, all designs: the counts that
 * Documentation/mm/gmem_track.rst ("Conversion cost") derives, kept so that
 * a benchmark can put them beside its times (sysfs vmemmap_events/).
 */
enum gmem_vmemmap_event {
	GMEM_EV_PAGES_ALLOCATED,	/* vmemmap pages, rebuilds */
	GMEM_EV_PAGES_FREED,		/* vmemmap pages, removals */
	GMEM_EV_TABLES_COPIED,		/* PTE tables copied from a shared one */
	GMEM_EV_TABLES_FREED,		/* PTE tables replaced by a shared one */
	GMEM_EV_TLB_FLUSHES,		/* kernel TLB flushes */
	GMEM_EV_RESERVE_PAGES,		/* pages and tables from the reserve */
	GMEM_EV_RESERVE_MISSES,		/* pages and tables a rebuild allocated */
	GMEM_NR_VMEMMAP_EVENTS,
};

extern atomic_long_t gmem_vmemmap_events[GMEM_NR_VMEMMAP_EVENTS];

static inline void gmem_vmemmap_event(enum gmem_vmemmap_event ev, long n)
{
	atomic_long_add(n, &gmem_vmemmap_events[ev]);
}

static inline void gmem_stat_add(enum gmem_track_design design,
				 enum gmem_stat_item item, long delta)
{
	atomic_long_add(delta, &gmem_stats[design][item]);
}

/*
 * The memory cgroup charged with an owner's memory. Without memory cgroups
 * nothing is charged.
 */
#ifdef CONFIG_MEMCG
static inline struct obj_cgroup *gmem_objcg_get(void)
{
	return get_obj_cgroup_from_current();
}

static inline void gmem_objcg_put(struct obj_cgroup *objcg)
{
	if (objcg)
		obj_cgroup_put(objcg);
}

static inline int gmem_objcg_charge(struct obj_cgroup *objcg,
				    unsigned long pages, gfp_t gfp)
{
	return obj_cgroup_charge(objcg, gfp, pages << PAGE_SHIFT);
}

static inline void gmem_objcg_uncharge(struct obj_cgroup *objcg,
				       unsigned long pages)
{
	obj_cgroup_uncharge(objcg, pages << PAGE_SHIFT);
}
#else
static inline struct obj_cgroup *gmem_objcg_get(void)
{
	return NULL;
}

static inline void gmem_objcg_put(struct obj_cgroup *objcg)
{
}

static inline int gmem_objcg_charge(struct obj_cgroup *objcg,
				    unsigned long pages, gfp_t gfp)
{
	return 0;
}

static inline void gmem_objcg_uncharge(struct obj_cgroup *objcg,
				       unsigned long pages)
{
}
#endif

/* pool.c */
int gmem_pool_alloc(struct gmem_track_owner *owner, unsigned int order,
		    unsigned long *pfn, bool *depopulated);
struct page *gmem_pool_alloc_buddy(int nid, unsigned int order);
void gmem_pool_free_buddy(unsigned long pfn, unsigned int order);
void gmem_pool_free(unsigned long pfn, unsigned int order);
void gmem_pool_park(unsigned long pfn, unsigned int order, bool poisoned);
long gmem_pool_parked(unsigned int order);
long gmem_pool_tree_bytes(void);
struct gmem_track_owner *gmem_pool_owner_of(unsigned long pfn);
int gmem_pool_adopt_reserve(unsigned long pfn, unsigned long nr);
int gmem_pool_drop_reserve(unsigned long pfn, unsigned long nr);
void gmem_pool_return_reserve(unsigned long pfn, unsigned int order,
			      unsigned int how);
bool gmem_pool_owns(unsigned long pfn, struct gmem_track_owner *owner);

/* vmemmap.c */

/**
 * struct gmem_vmemmap_batch - vmemmap removals that share one TLB flush
 * @pages: vmemmap pages removed, freed after the flush.
 * @tables: PTE tables replaced by a sentinel's shared table, freed after
 *	the flush (an early one when there is no room for more).
 * @nr_tables: entries of @tables.
 * @lo: start of the vmemmap span to flush...
 * @hi: ...and its end; 0 when there is nothing to flush.
 */
struct gmem_vmemmap_batch {
	struct list_head pages;
	pte_t *tables[16];
	int nr_tables;
	unsigned long lo, hi;
};

void gmem_vmemmap_batch_begin(struct gmem_vmemmap_batch *b);
void gmem_vmemmap_batch_end(struct gmem_vmemmap_batch *b);

/**
 * struct gmem_vmemmap_rebuild - vmemmap rebuilds that share one TLB flush
 * @lo: start of the vmemmap span remapped and not flushed yet...
 * @hi: ...and its end; 0 when there is nothing to flush.
 *
 * Rebuilds of one conversion (gmem_vmemmap_repopulate() with it) leave
 * their remap unflushed until gmem_vmemmap_rebuild_end(); see there.
 */
struct gmem_vmemmap_rebuild {
	unsigned long lo, hi;
};

void gmem_vmemmap_rebuild_begin(struct gmem_vmemmap_rebuild *rb);
void gmem_vmemmap_rebuild_end(struct gmem_vmemmap_rebuild *rb);
int gmem_vmemmap_depopulate(unsigned long pfn, unsigned long nr);
int gmem_vmemmap_repopulate(unsigned long pfn, unsigned long nr,
			    struct gmem_vmemmap_rebuild *rb);
void gmem_page_init_private(struct page *page);
void gmem_page_init_shared(struct page *page, unsigned long pfn);
long gmem_sentinel_pages(void);
void gmem_sentinel_init(struct page *sentinel, int nid, enum zone_type zid);
void gmem_vmemmap_adopt(int nid, enum zone_type zid, struct page *sentinel,
			pte_t *table);
bool gmem_vmemmap_populated(unsigned long pfn);

/* vmemmap_reserve.c */
#define GMEM_VRES_DEFAULT_PAGES	512	/* 2 MiB per node */
extern unsigned long gmem_vres_target_pages;
void gmem_vres_kick(int nid);
int gmem_vres_take_pages(int nid, unsigned long nr, struct list_head *list);
void gmem_vres_put_pages(int nid, struct list_head *list, bool counted);
pte_t *gmem_vres_take_table(int nid);
long gmem_vres_bytes_read(void);

/* core.c */
extern struct list_head gmem_owners;
extern struct mutex gmem_owners_lock;
void gmem_uncharge(struct gmem_track_owner *owner, unsigned long pages);
bool gmem_granule_shared(struct gmem_track_owner *owner, pgoff_t gindex);
unsigned long gmem_index_to_pfn(struct gmem_track_owner *owner,
				pgoff_t index);
bool gmem_freeze_pages(unsigned long pfn, unsigned long nr);
bool gmem_pages_hwpoisoned(unsigned long pfn, unsigned long nr);
void gmem_read_ranges(enum gmem_track_design design, long *ranges,
		      long *bytes);
int gmem_default_backend_store(const char *buf);
int gmem_default_backend_show(char *buf);
long gmem_default_files_read(void);

/* deferred.c */
extern unsigned long gmem_deferred_limit_pages;
extern unsigned int gmem_deferred_delay_ms;
void gmem_deferred_init(struct gmem_track_owner *owner);
void gmem_deferred_stop(struct gmem_track_owner *owner);
bool gmem_deferred_add(struct gmem_track_owner *owner, pgoff_t gindex,
		       unsigned long pfn);
bool gmem_granule_deferred(struct gmem_track_owner *owner, pgoff_t gindex);
long gmem_deferred_drop(struct gmem_track_owner *owner, pgoff_t first,
			pgoff_t last);
void gmem_deferred_kick(struct gmem_track_owner *owner);
long gmem_deferred_flush(struct gmem_track_owner *owner);
long gmem_deferred_reclaim(struct gmem_track_owner *owner, pgoff_t keep_first,
			   pgoff_t keep_last);

#endif /* _MM_GMEM_TRACK_INTERNAL_H */
