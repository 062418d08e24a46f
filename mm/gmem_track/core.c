// SPDX-License-Identifier: GPL-2.0
/*
 * gmem_track core: the memory of one owner (a guest_memfd inode).
 *
 * An owner holds whole chunks, described by its range descriptor
 * (ranges.c): file index -> {pfn, private | shared | poisoned}. In the
 * tracked design the vmemmap behind a 256 KiB granule is populated exactly
 * when the granule holds a shared page; the struct pages of its private
 * pages then look like the sentinel's (reserved, refcount zero). Shared
 * pages have a struct page with a reference count of one, held here, in
 * both designs; private pages of the struct-page design too.
 *
 * Every operation either succeeds or leaves the owner as it was: vmemmap is
 * rebuilt before the descriptor changes and removed again if the descriptor
 * cannot change; references are frozen before anything else and thawed on
 * failure.
 *
 * Locking: @owner->lock serializes all changes of an owner, and may be
 * held for as long as a 1 GiB chunk takes to convert or free. Lookups run
 * under RCU only (the descriptor is an RCU maple tree). gmem_owners_lock
 * guards the list of owners and keeps an owner alive from the moment the
 * PFN tree names it until a reference to it is taken; it is held for
 * short steps only, and never while an owner's lock is waited for, so
 * that one busy owner never holds up the creation or destruction of the
 * others.
 */

#define pr_fmt(fmt) "gmem_track: " fmt

#include <kunit/static_stub.h>
#include <linux/delay.h>
#include <linux/error-injection.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/page_ref.h>
#include <linux/rcupdate.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/wait_bit.h>
#include <linux/workqueue.h>

#include "internal.h"

#define CREATE_TRACE_POINTS
#include <trace/events/gmem_track.h>

#undef MODULE_PARAM_PREFIX
#define MODULE_PARAM_PREFIX "gmem_track."

atomic_long_t gmem_stats[GMEM_TRACK_NR_DESIGNS][GMEM_NR_STAT_ITEMS];

/*
 * fail_function may make a descriptor change fail (a split that cannot
 * allocate), to test every caller's way back. ranges.c includes only its
 * own header, for the userspace harness, so its mark is here.
 */
ALLOW_ERROR_INJECTION(gmem_ranges_set_state, ERRNO);

/* Every owner until its last reference goes; see gmem_owner_put(). */
LIST_HEAD(gmem_owners);
/* Guards gmem_owners and each owner's deferred_off. */
DEFINE_MUTEX(gmem_owners_lock);

static enum gmem_track_design gmem_default_design =
	IS_ENABLED(CONFIG_GMEM_TRACK_DENSE_HOST) ? GMEM_TRACK_TRACKED :
						  GMEM_TRACK_STRUCT_PAGE;

static const char * const gmem_design_names[] = {
	[GMEM_TRACK_TRACKED]	 = "tracked",
	[GMEM_TRACK_STRUCT_PAGE] = "struct_page",
};

static int gmem_design_set(const char *val, const struct kernel_param *kp)
{
	int i = sysfs_match_string(gmem_design_names, val);

	if (i < 0)
		return -EINVAL;
	WRITE_ONCE(gmem_default_design, i);
	return 0;
}

static int gmem_design_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%s\n",
			  gmem_design_names[READ_ONCE(gmem_default_design)]);
}

static const struct kernel_param_ops gmem_design_ops = {
	.set = gmem_design_set,
	.get = gmem_design_get,
};
module_param_cb(design, &gmem_design_ops, NULL, 0644);
MODULE_PARM_DESC(design, "Default design of new owners: tracked or struct_page");

/**
 * gmem_track_default_design - the design new owners get unless told
 *
 * Set with gmem_track.design= on the command line or in
 * /sys/module/gmem_track/parameters/design.
 *
 * Return: the default design.
 */
enum gmem_track_design gmem_track_default_design(void)
{
	return READ_ONCE(gmem_default_design);
}
EXPORT_SYMBOL_GPL(gmem_track_default_design);

/*
 * What a guest_memfd file that names no gmem_track flag gets, if its size
 * is a multiple of the chunk and its VM may use gmem_track: upstream's
 * 4 KiB folios (none) or a gmem_track owner of one design and chunk size.
 * Unlike gmem_track.design=, which only picks the design of files that
 * ask for gmem_track without naming one, this moves files of unmodified
 * VMMs onto gmem_track. One index, so that a reader never sees the
 * design of one value with the chunk of another.
 */
struct gmem_backend {
	const char *name;
	enum gmem_track_design design;
	unsigned int order;	/* 0: none */
};

static const struct gmem_backend gmem_backends[] = {
	{ "none",	   GMEM_TRACK_TRACKED,	   0 },
	{ "tracked-2m",	   GMEM_TRACK_TRACKED,	   PMD_ORDER },
	{ "tracked-1g",	   GMEM_TRACK_TRACKED,	   PUD_ORDER },
	{ "structpage-2m", GMEM_TRACK_STRUCT_PAGE, PMD_ORDER },
	{ "structpage-1g", GMEM_TRACK_STRUCT_PAGE, PUD_ORDER },
};

static unsigned int gmem_default_backend;

/**
 * gmem_default_backend_store - set the default backend by name
 * @buf: one of the names of gmem_backends[], a trailing newline allowed.
 *
 * Return: 0, or -EINVAL (nothing changed) for any other string.
 */
int gmem_default_backend_store(const char *buf)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(gmem_backends); i++) {
		if (sysfs_streq(buf, gmem_backends[i].name)) {
			WRITE_ONCE(gmem_default_backend, i);
			return 0;
		}
	}
	return -EINVAL;
}

/**
 * gmem_default_backend_show - the default backend's name
 * @buf: a sysfs buffer.
 *
 * Return: the number of bytes written, a newline included.
 */
int gmem_default_backend_show(char *buf)
{
	return sysfs_emit(buf, "%s\n",
			  gmem_backends[READ_ONCE(gmem_default_backend)].name);
}

static int gmem_default_backend_set(const char *val,
				    const struct kernel_param *kp)
{
	return gmem_default_backend_store(val);
}

static int gmem_default_backend_get(char *buf, const struct kernel_param *kp)
{
	return gmem_default_backend_show(buf);
}

static const struct kernel_param_ops gmem_default_backend_ops = {
	.set = gmem_default_backend_set,
	.get = gmem_default_backend_get,
};

/* Boot only: at run time it is /sys/kernel/mm/gmem_track/default_backend. */
module_param_cb(default_backend, &gmem_default_backend_ops, NULL, 0);
MODULE_PARM_DESC(default_backend,
		 "Backend of guest_memfd files that ask for none: none, tracked-2m, tracked-1g, structpage-2m or structpage-1g");

/**
 * gmem_track_default_backend - the backend of files that ask for none
 * @design: set to the design of the default backend.
 * @order: set to the order of its chunks, PMD_ORDER or PUD_ORDER.
 *
 * Set with gmem_track.default_backend= on the command line or in
 * /sys/kernel/mm/gmem_track/default_backend. The caller decides whether a
 * file can take it (its size, its VM, its flags).
 *
 * Return: false if the default is upstream's guest_memfd (none), leaving
 * @design and @order alone; true if it is a gmem_track owner.
 */
bool gmem_track_default_backend(enum gmem_track_design *design,
				unsigned int *order)
{
	const struct gmem_backend *b =
		&gmem_backends[READ_ONCE(gmem_default_backend)];

	if (!b->order)
		return false;
	*design = b->design;
	*order = b->order;
	return true;
}
EXPORT_SYMBOL_GPL(gmem_track_default_backend);

/* Files that took the default backend since boot. */
static atomic_long_t gmem_default_files = ATOMIC_LONG_INIT(0);

/**
 * gmem_track_default_taken - count a file that took the default backend
 *
 * Called by guest_memfd once a file that asked for no gmem_track flag has
 * been created as a gmem_track file through gmem_track_default_backend().
 * The count, /sys/kernel/mm/gmem_track/default_backend_files, tells the
 * administrator (and the tests) that the default applies.
 */
void gmem_track_default_taken(void)
{
	atomic_long_inc(&gmem_default_files);
}
EXPORT_SYMBOL_GPL(gmem_track_default_taken);

/**
 * gmem_default_files_read - the files that took the default backend
 *
 * Return: how many times gmem_track_default_taken() was called since boot.
 */
long gmem_default_files_read(void)
{
	return atomic_long_read(&gmem_default_files);
}

static unsigned long gmem_chunk_pages(struct gmem_track_owner *owner)
{
	return 1UL << owner->chunk_order;
}

static enum gmem_stat_item gmem_chunk_stat(struct gmem_track_owner *owner)
{
	return owner->chunk_order == PUD_ORDER ? GMEM_STAT_CHUNKS_1G :
						 GMEM_STAT_CHUNKS_2M;
}

/*
 * Range flag: a shared page hit by memory_failure(). The range stays
 * shared, so that its granule keeps the vmemmap the page's struct page
 * (with PG_hwpoison) lives in, but is never mapped or converted again.
 */
#define GMEM_FLAG_HWPOISON	BIT(0)

static bool gmem_range_poisoned(const struct gmem_range *rg)
{
	return rg->state == GMEM_RANGE_POISONED ||
	       (rg->flags & GMEM_FLAG_HWPOISON);
}

/*
 * Charge @pages pages of memory held for @owner to the memory cgroup of the
 * task that created it, as upstream guest_memfd's folios are charged: a
 * chunk when it is taken, the vmemmap rebuilt for its shared granules until
 * it is removed again (deferred depopulation included). The charge is
 * kernel memory (the chunks are no page cache), so cgroup.memory=nokmem
 * charges nothing. Returns 0 or -ENOMEM at the cgroup's limit.
 */
static int gmem_charge_gfp(struct gmem_track_owner *owner,
			   unsigned long pages, gfp_t gfp)
{
	KUNIT_STATIC_STUB_REDIRECT(gmem_charge_gfp, owner, pages, gfp);

	if (!owner->objcg || !pages)
		return 0;
	return gmem_objcg_charge(owner->objcg, pages, gfp) ? -ENOMEM : 0;
}

static int gmem_charge(struct gmem_track_owner *owner, unsigned long pages)
{
	return gmem_charge_gfp(owner, pages, GFP_KERNEL);
}

/*
 * gmem_charge() for a chunk or a rebuilt vmemmap, called with the owner's
 * lock held. The owner's vmemmap waiting for deferred depopulation is
 * charged to the same cgroup and would be freed soon anyway: at the
 * cgroup's limit, give it back first (but that of the granules from
 * @keep_first to @keep_last, which the caller is making shared) rather
 * than fail or have the cgroup's OOM killer act, and charge again.
 */
static int gmem_charge_reclaim(struct gmem_track_owner *owner,
			       unsigned long pages, pgoff_t keep_first,
			       pgoff_t keep_last)
{
	if (owner->design != GMEM_TRACK_TRACKED || xa_empty(&owner->deferred))
		return gmem_charge(owner, pages);
	/* No reclaim of the cgroup's other memory before ours goes. */
	if (!gmem_charge_gfp(owner, pages, GFP_NOWAIT | __GFP_NOWARN))
		return 0;
	gmem_deferred_reclaim(owner, keep_first, keep_last);
	return gmem_charge(owner, pages);
}

void gmem_uncharge(struct gmem_track_owner *owner, unsigned long pages)
{
	if (owner->objcg && pages)
		gmem_objcg_uncharge(owner->objcg, pages);
}

/*
 * Every change of an owner's descriptor is bracketed by these, so that
 * gmem_read_ranges() can measure the descriptor without the owner's lock.
 * The owner's lock serializes the writers, and a writer may sleep in
 * between (a maple node allocation): a reader never spins on the count,
 * it tries again a little later or takes the lock.
 */
static void gmem_ranges_write_begin(struct gmem_track_owner *owner)
{
	lockdep_assert_held(&owner->lock);
	raw_write_seqcount_begin(&owner->ranges_seq);
}

static void gmem_ranges_write_end(struct gmem_track_owner *owner)
{
	raw_write_seqcount_end(&owner->ranges_seq);
}

static bool gmem_span_valid(pgoff_t index, unsigned long nr)
{
	pgoff_t last;

	return nr && !check_add_overflow(index, nr - 1, &last) &&
	       last < ULONG_MAX;
}

/*
 * Is no index of [index, index + nr) poisoned? Holes are allowed.
 * Returns 0 or -EHWPOISON, with the first poisoned index in @error_index
 * (if not NULL).
 */
static int gmem_span_check(struct gmem_track_owner *owner, pgoff_t index,
			   unsigned long nr, pgoff_t *error_index)
{
	pgoff_t last = index + nr - 1, next = index;
	struct gmem_range rg;

	while (gmem_ranges_next(&owner->ranges, &next, last, &rg)) {
		if (!gmem_range_poisoned(&rg))
			continue;
		if (error_index)
			*error_index = max(rg.index, index);
		return -EHWPOISON;
	}
	return 0;
}

/* Does the granule starting at @gindex hold a shared page? */
bool gmem_granule_shared(struct gmem_track_owner *owner, pgoff_t gindex)
{
	pgoff_t next = gindex, last = gindex + GMEM_GRANULE_PAGES - 1;
	struct gmem_range rg;

	while (gmem_ranges_next(&owner->ranges, &next, last, &rg)) {
		if (rg.state == GMEM_RANGE_SHARED)
			return true;
	}
	return false;
}

unsigned long gmem_index_to_pfn(struct gmem_track_owner *owner, pgoff_t index)
{
	struct gmem_range rg;

	if (WARN_ON_ONCE(!gmem_ranges_lookup(&owner->ranges, index, &rg)))
		return 0;
	return rg.pfn + (index - rg.index);
}

/*
 * Move *@g (a granule's first index) to the first granule at or after it,
 * up to the granule at @last, that has memory. The walk visits the ranges,
 * not every granule of the span: a span may be far larger than the memory
 * behind it. Chunks are whole granules, so memory anywhere in a granule
 * means memory at its first index.
 */
static bool gmem_next_granule(struct gmem_track_owner *owner, pgoff_t *g,
			      pgoff_t last)
{
	pgoff_t next = *g;
	struct gmem_range rg;

	if (*g > last || !gmem_ranges_next(&owner->ranges, &next,
					   last + GMEM_GRANULE_PAGES - 1, &rg))
		return false;
	*g = max(*g, ALIGN_DOWN(rg.index, GMEM_GRANULE_PAGES));
	return true;
}

/*
 * Does the granule starting at @gindex have vmemmap of its own in the
 * tracked design? If it holds a shared page, or waits for deferred
 * depopulation.
 */
static bool gmem_granule_has_vmemmap(struct gmem_track_owner *owner,
				     pgoff_t gindex)
{
	return gmem_granule_shared(owner, gindex) ||
	       gmem_granule_deferred(owner, gindex);
}

/*
 * Remove the vmemmap of every granule of [first, last] (granule indices)
 * that has memory but no vmemmap of its own by the rules (no shared page,
 * no deferred depopulation): the undo of gmem_repopulate_unshared(). Stop
 * at the first failure.
 * Returns the number of vmemmap pages freed or the error.
 */
static long gmem_depopulate_unshared(struct gmem_track_owner *owner,
				     pgoff_t first, pgoff_t last)
{
	pgoff_t g;
	long freed = 0;
	int ret;

	for (g = first; gmem_next_granule(owner, &g, last);
	     g += GMEM_GRANULE_PAGES) {
		if (gmem_granule_has_vmemmap(owner, g))
			continue;
		ret = gmem_vmemmap_depopulate(gmem_index_to_pfn(owner, g),
					      GMEM_GRANULE_PAGES);
		if (ret < 0)
			return ret;
		freed += ret;
	}
	return freed;
}

/*
 * Rebuild the vmemmap of every granule of [first, last] that has memory
 * but no vmemmap (no shared page, no deferred depopulation). Physically
 * consecutive granules of one chunk are rebuilt together, in runs of up to
 * GMEM_RUN_MAX_PAGES, and all runs share one TLB flush, made before this
 * returns (and one more for each run that copied a shared PTE table). All
 * or nothing: on failure the granules rebuilt so far are removed again.
 * When @killable, a fatal signal seen between two runs is such a failure.
 * Returns the pages allocated, -ENOMEM or -EINTR.
 */
static long gmem_repopulate_unshared(struct gmem_track_owner *owner,
				     pgoff_t first, pgoff_t last,
				     bool killable)
{
	unsigned long run = 0, run_nr = 0, pfn;
	struct gmem_vmemmap_rebuild rb;
	pgoff_t g, run_g = first;
	long added = 0;
	int ret;

	gmem_vmemmap_rebuild_begin(&rb);
	for (g = first; ; g += GMEM_GRANULE_PAGES) {
		bool more = gmem_next_granule(owner, &g, last);

		if (more && gmem_granule_has_vmemmap(owner, g))
			continue;
		pfn = more ? gmem_index_to_pfn(owner, g) : 0;
		/* One chunk per run: its pages go on the chunk's node. */
		if (more && run_nr && run + run_nr == pfn &&
		    run_nr < GMEM_RUN_MAX_PAGES &&
		    !IS_ALIGNED(pfn, gmem_chunk_pages(owner))) {
			run_nr += GMEM_GRANULE_PAGES;
			continue;
		}
		if (run_nr) {
			if (killable && fatal_signal_pending(current)) {
				ret = -EINTR;
				goto undo;
			}
			ret = gmem_vmemmap_repopulate(run, run_nr, &rb);
			if (ret < 0)
				goto undo;
			added += ret;
		}
		if (!more)
			break;
		run = pfn;
		run_g = g;
		run_nr = GMEM_GRANULE_PAGES;
	}
	/* Before anyone may take the new struct pages for shared ones. */
	gmem_vmemmap_rebuild_end(&rb);
	return added;

undo:
	gmem_vmemmap_rebuild_end(&rb);
	/* The granules before the failed run are PTE-mapped: cannot fail. */
	if (run_g > first)
		gmem_depopulate_unshared(owner, first, run_g - GMEM_GRANULE_PAGES);
	return ret;
}

/**
 * gmem_track_owner_create - create the memory descriptor of a guest_memfd
 * @chunk_order: PMD_ORDER for 2 MiB chunks, PUD_ORDER for 1 GiB chunks.
 * @design: %GMEM_TRACK_TRACKED or %GMEM_TRACK_STRUCT_PAGE.
 * @nid: node to take chunks from, or NUMA_NO_NODE.
 *
 * Return: the owner, ERR_PTR(-EINVAL) for a bad order, design or node,
 * ERR_PTR(-ENOMEM).
 */
struct gmem_track_owner *gmem_track_owner_create(unsigned int chunk_order,
						 enum gmem_track_design design,
						 int nid)
{
	struct gmem_track_owner *owner;

	if (chunk_order != PMD_ORDER && chunk_order != PUD_ORDER)
		return ERR_PTR(-EINVAL);
	if (design >= GMEM_TRACK_NR_DESIGNS)
		return ERR_PTR(-EINVAL);
	if (nid != NUMA_NO_NODE && (nid < 0 || nid >= MAX_NUMNODES ||
				    !node_online(nid)))
		return ERR_PTR(-EINVAL);

	owner = kzalloc_obj(*owner, GFP_KERNEL);
	if (!owner)
		return ERR_PTR(-ENOMEM);
	gmem_ranges_init(&owner->ranges);
	seqcount_init(&owner->ranges_seq);
	mutex_init(&owner->lock);
	/* Dropped once the owner is destroyed and has no chunk left. */
	refcount_set(&owner->ref, 1);
	atomic_set(&owner->notifying, 0);
	owner->objcg = gmem_objcg_get();
	owner->chunk_order = chunk_order;
	owner->design = design;
	owner->nid = nid;
	gmem_deferred_init(owner);
	/* Its conversions to shared rebuild vmemmap from the reserves. */
	if (design == GMEM_TRACK_TRACKED)
		gmem_vres_kick(nid);

	mutex_lock(&gmem_owners_lock);
	list_add(&owner->list, &gmem_owners);
	mutex_unlock(&gmem_owners_lock);
	return owner;
}
EXPORT_SYMBOL_GPL(gmem_track_owner_create);

/**
 * gmem_track_owner_set_ops - tell an owner whom to notify
 * @owner: the owner, before it holds any memory.
 * @ops: the callbacks; must outlive the owner.
 * @data: their argument.
 */
void gmem_track_owner_set_ops(struct gmem_track_owner *owner,
			      const struct gmem_track_owner_ops *ops,
			      void *data)
{
	mutex_lock(&owner->lock);
	owner->ops = ops;
	owner->ops_data = data;
	mutex_unlock(&owner->lock);
}
EXPORT_SYMBOL_GPL(gmem_track_owner_set_ops);

/*
 * Undo the freezing of [first, frozen_to): every page that has a struct
 * page (shared, or any page of the struct-page design) goes back to the
 * single reference gmem_track holds.
 */
static void gmem_thaw(struct gmem_track_owner *owner, pgoff_t first,
		      pgoff_t last, pgoff_t frozen_to)
{
	bool tracked = owner->design == GMEM_TRACK_TRACKED;
	pgoff_t next = first, i;
	struct gmem_range rg;

	while (gmem_ranges_next(&owner->ranges, &next, last, &rg)) {
		pgoff_t a = max(rg.index, first);
		pgoff_t b = min(rg.index + rg.nr - 1, last);

		if (tracked && rg.state != GMEM_RANGE_SHARED)
			continue;
		for (i = a; i <= b && i < frozen_to; i++)
			page_ref_unfreeze(pfn_to_page(rg.pfn + i - rg.index), 1);
	}
}

/*
 * Struct pages frozen at zero may still be written: a speculative reference
 * (folio_try_get() on a page found without a reference: a page cache
 * lookup, GUP-fast, a PFN walker) reads the count, then adds to it with a
 * cmpxchg, which writes even when the count changed to zero in between.
 * Remapped read-only to the sentinel, the struct page would make that write
 * oops. Every such reader runs under RCU (page_ref_add_unless_zero() takes
 * it), so a grace period after the last freeze is enough: freeze, take
 * @cookie, and call this before the first remap, which waits once per
 * operation, for an expedited grace period unless one ended since the
 * cookie: a guest converts and faults in chunks at its own pace, and a
 * normal grace period per conversion or new 2 MiB chunk would cost
 * milliseconds each (rcupdate.rcu_normal=1, the default of PREEMPT_RT,
 * makes it a normal one). Take the cookie with get_state_synchronize_rcu(),
 * or with start_poll_synchronize_rcu_expedited() where there is work to do
 * meanwhile (a new chunk is zeroed).
 */
static void gmem_wait_speculative(unsigned long *cookie)
{
	might_sleep();
	cond_synchronize_rcu_expedited(*cookie);
	*cookie = get_completed_synchronize_rcu();
}

/*
 * Count a released chunk out of the statistics and its owner's memory
 * cgroup: @shared of its pages were shared, @populated of its granules had
 * vmemmap of their own (tracked design; every granule otherwise).
 */
static void gmem_chunk_release_account(struct gmem_track_owner *owner,
				       long shared, long populated)
{
	unsigned long nr = gmem_chunk_pages(owner);
	long granules = nr / GMEM_GRANULE_PAGES;
	bool tracked = owner->design == GMEM_TRACK_TRACKED;

	gmem_stat_add(owner->design, gmem_chunk_stat(owner), -1);
	gmem_stat_add(owner->design, GMEM_STAT_PRIVATE, -(long)(nr - shared));
	gmem_stat_add(owner->design, GMEM_STAT_SHARED, -shared);
	gmem_stat_add(owner->design, GMEM_STAT_VMEMMAP, -populated);
	if (tracked)
		gmem_stat_add(owner->design, GMEM_STAT_VMEMMAP_FREED,
			      -(granules - populated));
	/* The chunk, and in the tracked design its shared granules' vmemmap. */
	gmem_uncharge(owner, nr + (tracked ? populated : 0));
}

/*
 * Give the chunk at @cindex back. Pages that have a struct page must hold
 * only gmem_track's reference. Poisoned pages are freed with PG_hwpoison,
 * which keeps them out of the free lists. Returns 0, -EBUSY (a reference,
 * or more than GMEM_MAX_POISONED poisoned pages) or -ENOMEM; on error
 * nothing changed. When @destroying, the descriptor is left for
 * gmem_ranges_destroy(), a tracked chunk whose vmemmap cannot be rebuilt is
 * parked in the pool, without struct pages, instead of freed, and a chunk
 * with too many poisoned pages is quarantined there.
 */
static int gmem_chunk_release(struct gmem_track_owner *owner, pgoff_t cindex,
			      bool destroying)
{
	unsigned long nr = gmem_chunk_pages(owner);
	unsigned long pfn = gmem_index_to_pfn(owner, cindex);
	unsigned long granules = nr / GMEM_GRANULE_PAGES;
	pgoff_t next = cindex, last = cindex + nr - 1, g, frozen_to;
	bool tracked = owner->design == GMEM_TRACK_TRACKED;
	/* Tracked, or a struct-page owner's taken when the buddy had none. */
	bool reserved = gmem_reserve_holds(pfn);
	long shared = 0, populated = granules, added = 0;
	unsigned long frozen;
	unsigned long poisoned[GMEM_MAX_POISONED];
	unsigned int poisoned_nr = 0;
	bool quarantine = false;
	struct gmem_range rg;
	unsigned long i;
	int ret = 0;

	/*
	 * Freeze every page that has a struct page at zero: a speculative
	 * reference taken now fails instead of being overwritten below.
	 */
	frozen_to = cindex;
	while (gmem_ranges_next(&owner->ranges, &next, last, &rg)) {
		pgoff_t a = max(rg.index, cindex);
		pgoff_t b = min(rg.index + rg.nr - 1, last);
		bool has_page = !tracked || rg.state == GMEM_RANGE_SHARED;

		if (rg.state == GMEM_RANGE_SHARED)
			shared += b - a + 1;
		for (i = a; i <= b; i++) {
			struct page *page = pfn_to_page(pfn + i - cindex);

			if (rg.state == GMEM_RANGE_POISONED ||
			    (has_page && PageHWPoison(page))) {
				if (poisoned_nr < ARRAY_SIZE(poisoned))
					poisoned[poisoned_nr++] = pfn + i - cindex;
				else
					quarantine = true;
			}
			if (!has_page)
				continue;
			if (!page_ref_freeze(page, 1)) {
				frozen_to = i;
				ret = -EBUSY;
				goto thaw;
			}
		}
		cond_resched();
	}
	frozen_to = last + 1;
	frozen = get_state_synchronize_rcu();
	if (quarantine && !destroying) {
		ret = -EBUSY;
		goto thaw;
	}

	if (tracked) {
		populated = 0;
		for (g = cindex; g <= last; g += GMEM_GRANULE_PAGES)
			populated += gmem_granule_has_vmemmap(owner, g);
		/* A reserved chunk goes back without struct pages. */
		if (!reserved)
			added = quarantine ? -ENOMEM :
				gmem_repopulate_unshared(owner, cindex, last,
							 false);
		if (added < 0 && !destroying) {
			ret = added;
			goto thaw;
		}
	}

	if (!destroying) {
		gmem_ranges_write_begin(owner);
		ret = gmem_ranges_remove(&owner->ranges, cindex, nr, GFP_KERNEL);
		gmem_ranges_write_end(owner);
		if (ret) {
			if (added > 0)
				gmem_depopulate_unshared(owner, cindex, last);
			goto thaw;
		}
	}

	/* Its vmemmap goes with the chunk, not with the worker. */
	gmem_deferred_drop(owner, cindex, last);
	if (quarantine && !tracked && !reserved) {
		gmem_chunk_release_account(owner, shared, populated);
		gmem_pool_park(pfn, owner->chunk_order, true);
		trace_gmem_track_chunk_free(pfn, owner->chunk_order,
					    owner->design, true);
		return 0;
	}
	if (added < 0 || reserved) {
		/*
		 * No memory for the vmemmap, or a reserved chunk: remove what
		 * is left of the vmemmap (the granules of shared memory, or
		 * all of a struct-page owner's chunk; their pages are frozen)
		 * and keep the chunk in the pool or give it back to the
		 * reservation.
		 */
		if (!tracked) {
			gmem_wait_speculative(&frozen);
			/*
			 * Cannot fail (the rebuild gave the PMDs their tables);
			 * if it did, the struct pages stay, and so must the
			 * chunk, out of use.
			 */
			if (WARN_ON_ONCE(gmem_vmemmap_depopulate(pfn, nr) < 0)) {
				for (i = 0; i < nr; i++)
					page_ref_unfreeze(pfn_to_page(pfn + i), 1);
				quarantine = true;
			}
		}
		for (g = 0; tracked && g < nr; g += GMEM_GRANULE_PAGES) {
			if (!gmem_vmemmap_populated(pfn + g))
				continue;
			gmem_wait_speculative(&frozen);
			ret = gmem_vmemmap_depopulate(pfn + g,
						      GMEM_GRANULE_PAGES);
			/* Struct pages left behind: never hand it out again. */
			if (WARN_ON_ONCE(ret < 0))
				quarantine = true;
		}
		/* Counted out once its struct pages are gone, not before. */
		gmem_chunk_release_account(owner, shared, populated);
		if (reserved)
			gmem_pool_return_reserve(pfn, owner->chunk_order,
						 poisoned_nr > 0 || quarantine ?
						 GMEM_RESERVE_POISONED : 0);
		else
			gmem_pool_park(pfn, owner->chunk_order,
				       poisoned_nr > 0 || quarantine);
		trace_gmem_track_chunk_free(pfn, owner->chunk_order,
					    owner->design, true);
		return 0;
	}

	gmem_chunk_release_account(owner, shared, populated);
	for (i = 0; i < nr; i++) {
		gmem_page_init_shared(pfn_to_page(pfn + i), pfn + i);
		if (!(i % GMEM_GRANULE_PAGES))
			cond_resched();
	}
	/* Freed with PG_hwpoison, a page never reaches the free lists. */
	for (i = 0; i < poisoned_nr; i++)
		SetPageHWPoison(pfn_to_page(poisoned[i]));
	gmem_pool_free(pfn, owner->chunk_order);
	trace_gmem_track_chunk_free(pfn, owner->chunk_order, owner->design,
				    false);
	return 0;

thaw:
	gmem_thaw(owner, cindex, last, frozen_to);
	return ret;
}

/*
 * Give back every chunk the owner still holds; the descriptor is left for
 * gmem_ranges_destroy(). A chunk the pool no longer says is the owner's
 * went back on an earlier call. Returns the number of chunks that cannot
 * go back yet: a page of them is still referenced by someone else (a pin
 * that outlived the file). Called with the owner's lock held.
 */
static long gmem_owner_release_all(struct gmem_track_owner *owner)
{
	unsigned long nr = gmem_chunk_pages(owner);
	pgoff_t pos = 0, next = 0, cindex;
	struct gmem_range rg;
	long busy = 0;

	while (gmem_ranges_next(&owner->ranges, &next, ULONG_MAX - 1, &rg)) {
		cindex = ALIGN_DOWN(max(rg.index, pos), nr);
		if (gmem_pool_owns(gmem_index_to_pfn(owner, cindex), owner) &&
		    gmem_chunk_release(owner, cindex, true))
			busy++;
		pos = cindex + nr;
		next = pos;
		cond_resched();
	}
	return busy;
}

/*
 * Owners destroyed while a page of theirs was still referenced: they keep
 * the chunks concerned (in the statistics too, and in closed_bytes) and are
 * retried until the last reference goes, then freed.
 */
static LIST_HEAD(gmem_closed_owners);
static DEFINE_MUTEX(gmem_closed_lock);
static void gmem_closed_retry(struct work_struct *work);
static DECLARE_DELAYED_WORK(gmem_closed_work, gmem_closed_retry);

/*
 * How soon a closed owner's chunks are tried again: a quarter second at
 * first, twice as long after each try that frees nothing, up to 8 s.
 */
#define GMEM_CLOSED_RETRY	(HZ / 4)
#define GMEM_CLOSED_RETRY_MAX	(8 * HZ)
static unsigned long gmem_closed_delay = GMEM_CLOSED_RETRY;

#ifdef CONFIG_LOCKDEP
/*
 * gmem_track_owner_destroy() waits for a memory error's call of the
 * owner's user, which lockdep cannot see through wait_var_event(). It
 * sees the wait as taking this map and the call as holding it, so that a
 * destroy under a lock the call takes is reported, as flush_work() is.
 */
static struct lockdep_map gmem_notify_map =
	STATIC_LOCKDEP_MAP_INIT("gmem_track_notify", &gmem_notify_map);
#define gmem_notify_acquire()	lock_map_acquire(&gmem_notify_map)
#define gmem_notify_release()	lock_map_release(&gmem_notify_map)
#else
#define gmem_notify_acquire()	do { } while (0)
#define gmem_notify_release()	do { } while (0)
#endif

/*
 * Drop a reference to an owner. The last one goes only once the owner was
 * destroyed and gave back every chunk, so no PFN names it any more; it is
 * dropped under gmem_owners_lock, which makes the PFN tree's answer safe
 * to take a reference on under that lock (gmem_track_memory_failure()).
 * Called with no lock of gmem_track held (memory_failure() holds its
 * mf_mutex).
 */
static void gmem_owner_put(struct gmem_track_owner *owner)
{
	if (!refcount_dec_and_mutex_lock(&owner->ref, &gmem_owners_lock))
		return;
	list_del(&owner->list);
	mutex_unlock(&gmem_owners_lock);
	/* Every chunk went, and its records with it. */
	WARN_ON_ONCE(!xa_empty(&owner->deferred));
	xa_destroy(&owner->deferred);
	gmem_ranges_destroy(&owner->ranges);
	gmem_objcg_put(owner->objcg);
	kfree(owner);
}

/*
 * Try the closed owners' chunks again. The owners are taken off the list
 * first: releasing a chunk takes long, and gmem_track_owner_destroy() of
 * another file must not wait for it on gmem_closed_lock. Only this work
 * takes owners off the list, and it never runs twice at once.
 */
static void gmem_closed_retry(struct work_struct *work)
{
	struct gmem_track_owner *owner, *tmp;
	bool progress = false;
	LIST_HEAD(todo);
	long busy;

	mutex_lock(&gmem_closed_lock);
	list_splice_init(&gmem_closed_owners, &todo);
	mutex_unlock(&gmem_closed_lock);

	list_for_each_entry_safe(owner, tmp, &todo, closed) {
		mutex_lock(&owner->lock);
		busy = gmem_owner_release_all(owner);
		progress |= busy < owner->closed_chunks;
		gmem_stat_add(owner->design, GMEM_STAT_CLOSED,
			      (busy - owner->closed_chunks) *
			      (long)gmem_chunk_pages(owner));
		owner->closed_chunks = busy;
		mutex_unlock(&owner->lock);
		if (busy)
			continue;
		list_del(&owner->closed);
		gmem_owner_put(owner);
	}

	mutex_lock(&gmem_closed_lock);
	/* Those still busy go first again, before any closed meanwhile. */
	list_splice(&todo, &gmem_closed_owners);
	if (progress)
		gmem_closed_delay = GMEM_CLOSED_RETRY;
	else
		gmem_closed_delay = min(2 * gmem_closed_delay,
					(unsigned long)GMEM_CLOSED_RETRY_MAX);
	if (!list_empty(&gmem_closed_owners))
		queue_delayed_work(system_unbound_wq, &gmem_closed_work,
				   gmem_closed_delay);
	mutex_unlock(&gmem_closed_lock);
}

/**
 * gmem_track_owner_destroy - free an owner and every chunk it holds
 * @owner: the owner; its user is gone.
 *
 * Chunks of the tracked design whose vmemmap cannot be rebuilt for lack of
 * memory are kept by the pool for later owners rather than leaked. A chunk
 * with a page still referenced by someone else (a pin that outlived the
 * file) cannot be freed under it: the owner lives on, without its user,
 * holding that chunk until the reference goes, and is freed then. Such
 * chunks are counted in the design's ``closed_bytes``.
 *
 * The owner's &gmem_track_owner_ops are not called once this has begun,
 * and a call that began before has returned when this returns. A memory
 * error or a statistics read at work on the owner may keep its
 * descriptor (not its chunks) a little longer; the last of them frees it.
 *
 * Context: Process context; may sleep, also waiting for a memory error's
 * call of the owner's user to return: the caller holds no lock that call
 * takes (guest_memfd's invalidate lock, a folio's lock).
 */
void gmem_track_owner_destroy(struct gmem_track_owner *owner)
{
	long busy;

	if (IS_ERR_OR_NULL(owner))
		return;

	mutex_lock(&owner->lock);
	/* Nobody to tell of a memory error any more... */
	owner->ops = NULL;
	mutex_unlock(&owner->lock);
	/*
	 * ...once every memory_failure() that read them is done with them:
	 * they counted themselves under the lock, before it was dropped.
	 */
	gmem_notify_acquire();
	gmem_notify_release();
	wait_var_event(&owner->notifying,
		       !atomic_read_acquire(&owner->notifying));
	/* The chunks' release takes the vmemmap waiting for the worker. */
	gmem_deferred_stop(owner);

	mutex_lock(&owner->lock);
	busy = gmem_owner_release_all(owner);
	owner->closed_chunks = busy;
	mutex_unlock(&owner->lock);

	/*
	 * The busy chunks' waiting vmemmap goes now, not with them: they may
	 * stay for as long as a pin holds, and what waits counts against
	 * every owner's deferred_limit_bytes. The worker is off already.
	 */
	if (busy)
		gmem_deferred_flush(owner);
	if (!busy) {
		gmem_owner_put(owner);
		return;
	}
	pr_info_ratelimited("%ld chunk(s) of a closed file still referenced: kept until the reference goes\n",
			    busy);
	gmem_stat_add(owner->design, GMEM_STAT_CLOSED,
		      busy * (long)gmem_chunk_pages(owner));
	mutex_lock(&gmem_closed_lock);
	list_add_tail(&owner->closed, &gmem_closed_owners);
	/*
	 * A retry soon: one queued for later (backed off behind a pin held
	 * long) is brought forward, but one due sooner is never pushed back,
	 * or files closed more often than GMEM_CLOSED_RETRY would put it off
	 * for ever. The expiry is read racily; at worst a retry comes one
	 * GMEM_CLOSED_RETRY early or late.
	 */
	gmem_closed_delay = GMEM_CLOSED_RETRY;
	if (!queue_delayed_work(system_unbound_wq, &gmem_closed_work,
				GMEM_CLOSED_RETRY) &&
	    time_after(READ_ONCE(gmem_closed_work.timer.expires),
		       jiffies + GMEM_CLOSED_RETRY))
		mod_delayed_work(system_unbound_wq, &gmem_closed_work,
				 GMEM_CLOSED_RETRY);
	mutex_unlock(&gmem_closed_lock);
}
EXPORT_SYMBOL_GPL(gmem_track_owner_destroy);

/* Passes gmem_freeze_pages() makes before it gives up. */
#define GMEM_FREEZE_TRIES	100

/**
 * gmem_freeze_pages - freeze struct pages nobody else should hold
 * @pfn: first PFN.
 * @nr: number of pages, each with the one reference gmem_track holds.
 *
 * For a chunk just allocated, or one whose struct pages were built for
 * it: a PFN walker (compaction, a speculative page cache or GUP-fast
 * lookup of a stale entry) may hold a reference for a moment. Undo, let it
 * go and try again, rather than fail a guest fault or a host fault for it.
 * A grace period must still pass before the struct pages are remapped
 * (gmem_wait_speculative()).
 *
 * Return: true with every page frozen at zero; false, with nothing frozen,
 * if a reference stays.
 */
bool gmem_freeze_pages(unsigned long pfn, unsigned long nr)
{
	unsigned long i;
	int tries;

	for (tries = 0; tries < GMEM_FREEZE_TRIES; tries++) {
		for (i = 0; i < nr; i++) {
			if (!page_ref_freeze(pfn_to_page(pfn + i), 1))
				break;
		}
		if (i == nr)
			return true;
		while (i--)
			page_ref_unfreeze(pfn_to_page(pfn + i), 1);
		cond_resched();
	}
	return false;
}

/**
 * gmem_pages_hwpoisoned - did memory_failure() mark a page of a chunk?
 * @pfn: first PFN.
 * @nr: number of pages, each with a struct page of its own.
 *
 * memory_failure() sets PG_hwpoison on a page gmem_track does not hold
 * only under the PFN tree's lock (gmem_track_test_set_hwpoison()): once a
 * chunk is recorded there, this sees every mark made before, and no more
 * come. For a reserved chunk that stopped leaving, look a grace period
 * after its leaving mark went.
 *
 * Return: true if a page of the range has PG_hwpoison.
 */
bool gmem_pages_hwpoisoned(unsigned long pfn, unsigned long nr)
{
	unsigned long i;

	for (i = 0; i < nr; i++) {
		if (PageHWPoison(pfn_to_page(pfn + i)))
			return true;
		if (!((i + 1) % GMEM_GRANULE_PAGES))
			cond_resched();
	}
	return false;
}

/* New chunks gmem_track_populate() takes, at most, for one fault. */
#define GMEM_POPULATE_TRIES	4

/**
 * gmem_track_populate - back the chunk containing an index with memory
 * @owner: the owner.
 * @index: any file index (4 KiB units) of the chunk.
 *
 * The new memory is private and zeroed. In the tracked design its vmemmap
 * is removed before this returns.
 *
 * Return: 0; -EEXIST if the chunk is already backed; -EINVAL if the chunk
 * lies beyond the largest index; -ENOMEM without contiguous memory or
 * memory for the descriptor, or at the limit of the owner's memory cgroup;
 * -EBUSY if each of the GMEM_POPULATE_TRIES new chunks tried was hit by
 * a memory error or had a page referenced by someone else for longer than
 * gmem_freeze_pages() waits. On error nothing changed.
 */
int gmem_track_populate(struct gmem_track_owner *owner, pgoff_t index)
{
	unsigned long nr = gmem_chunk_pages(owner);
	pgoff_t cindex = ALIGN_DOWN(index, nr);
	bool tracked = owner->design == GMEM_TRACK_TRACKED;
	bool depopulated, charged = false;
	unsigned long pfn, i, frozen = 0;
	struct gmem_range rg;
	int ret, tries = 0;

	if (!gmem_span_valid(cindex, nr))
		return -EINVAL;

	mutex_lock(&owner->lock);
	ret = -EEXIST;
	if (gmem_ranges_lookup(&owner->ranges, cindex, &rg))
		goto out;

	ret = gmem_charge_reclaim(owner, nr, 1, 0);
	if (ret)
		goto out;
	charged = true;
again:
	ret = gmem_pool_alloc(owner, owner->chunk_order, &pfn, &depopulated);
	if (ret)
		goto out;

	/*
	 * A memory error on a page of the chunk before it was recorded in
	 * the PFN tree: memory_failure() set PG_hwpoison, and the page must
	 * never be handed out. Give the chunk back (the page stays out of
	 * the free lists) and take another. Later errors come to us.
	 */
	if (!depopulated && gmem_pages_hwpoisoned(pfn, nr)) {
		gmem_pool_free(pfn, owner->chunk_order);
		pr_info_ratelimited("%#lx: new chunk hit by a memory error, given back\n",
				    pfn);
		ret = -EBUSY;
		if (++tries < GMEM_POPULATE_TRIES)
			goto again;
		goto out;
	}

	if (tracked && !depopulated) {
		/*
		 * Someone holds a page of it for longer than a moment: give
		 * it back (the holder's reference frees that page later) and
		 * take another, as for a memory error above.
		 */
		if (!gmem_freeze_pages(pfn, nr)) {
			gmem_pool_free(pfn, owner->chunk_order);
			pr_info_ratelimited("%#lx: new chunk still referenced, given back\n",
					    pfn);
			ret = -EBUSY;
			if (++tries < GMEM_POPULATE_TRIES)
				goto again;
			goto out;
		}
		frozen = start_poll_synchronize_rcu_expedited();
	}

	/*
	 * Through the direct map: the struct pages may be gone already. The
	 * expedited grace period the remap below waits for runs meanwhile.
	 */
	for (i = 0; i < nr; i++) {
		clear_page(pfn_to_kaddr(pfn + i));
		if (!((i + 1) % GMEM_GRANULE_PAGES))
			cond_resched();
	}

	if (tracked && !depopulated) {
		gmem_wait_speculative(&frozen);
		ret = gmem_vmemmap_depopulate(pfn, nr);
		if (ret < 0) {
			for (i = 0; i < nr; i++)
				page_ref_unfreeze(pfn_to_page(pfn + i), 1);
			gmem_pool_free(pfn, owner->chunk_order);
			goto out;
		}
	}

	gmem_ranges_write_begin(owner);
	ret = gmem_ranges_insert(&owner->ranges, cindex, nr, pfn,
				 GMEM_RANGE_PRIVATE, 0, GFP_KERNEL);
	gmem_ranges_write_end(owner);
	if (ret) {
		if (tracked && gmem_reserve_holds(pfn))
			gmem_pool_return_reserve(pfn, owner->chunk_order, 0);
		else if (tracked)
			gmem_pool_park(pfn, owner->chunk_order, false);
		else
			gmem_pool_free(pfn, owner->chunk_order);
		goto out;
	}

	trace_gmem_track_chunk_alloc(pfn, owner->chunk_order, owner->design,
				     depopulated);
	gmem_stat_add(owner->design, gmem_chunk_stat(owner), 1);
	gmem_stat_add(owner->design, GMEM_STAT_PRIVATE, nr);
	if (tracked)
		gmem_stat_add(owner->design, GMEM_STAT_VMEMMAP_FREED,
			      nr / GMEM_GRANULE_PAGES);
	else
		gmem_stat_add(owner->design, GMEM_STAT_VMEMMAP,
			      nr / GMEM_GRANULE_PAGES);
out:
	if (ret && charged)
		gmem_uncharge(owner, nr);
	mutex_unlock(&owner->lock);
	return ret;
}
EXPORT_SYMBOL_GPL(gmem_track_populate);

/**
 * gmem_track_release - free the chunks of a span
 * @owner: the owner.
 * @index: first index, aligned to the chunk size.
 * @nr: number of indices, a multiple of the chunk size.
 *
 * Holes in the span are skipped. Chunks are freed in order; the first that
 * cannot be freed stops the walk, leaving it and those after it in place.
 *
 * Return: 0; -EINVAL for a span that is empty, unaligned or overflows;
 * -EBUSY if a shared page is still referenced; -ENOMEM if the descriptor
 * or (struct-page design excepted) the vmemmap of a chunk cannot be
 * rebuilt.
 */
int gmem_track_release(struct gmem_track_owner *owner, pgoff_t index,
		       unsigned long nr)
{
	unsigned long cnr = gmem_chunk_pages(owner);
	pgoff_t pos = index, next = index, last;
	struct gmem_range rg;
	int ret = 0;

	if (!gmem_span_valid(index, nr) || !IS_ALIGNED(index | nr, cnr))
		return -EINVAL;
	last = index + nr - 1;

	mutex_lock(&owner->lock);
	while (gmem_ranges_next(&owner->ranges, &next, last, &rg)) {
		pgoff_t cindex = ALIGN_DOWN(max(rg.index, pos), cnr);

		ret = gmem_chunk_release(owner, cindex, false);
		if (ret || cindex + cnr - 1 >= last)
			break;
		pos = cindex + cnr;
		next = pos;
	}
	mutex_unlock(&owner->lock);
	return ret;
}
EXPORT_SYMBOL_GPL(gmem_track_release);

/**
 * gmem_track_set_shared - convert a span to shared
 * @owner: the owner.
 * @index: first index.
 * @nr: number of indices.
 * @error_index: on -EHWPOISON, the first poisoned index (may be NULL).
 *
 * Indices already shared stay as they are; indices without memory are
 * skipped. In the tracked design the vmemmap of every granule that gains
 * its first shared page is rebuilt;
 * each newly shared page then has a struct page with a reference count of
 * one. Content is not touched.
 *
 * Return: 0; -EINVAL for an empty or overflowing span; -EHWPOISON if part
 * of it is poisoned (@error_index says where); -ENOMEM if vmemmap or
 * descriptor memory is short, or the owner's memory cgroup is at its limit
 * for the vmemmap; -EINTR if a fatal signal arrived while the vmemmap was
 * rebuilt. On error nothing changed.
 */
int gmem_track_set_shared(struct gmem_track_owner *owner, pgoff_t index,
			  unsigned long nr, pgoff_t *error_index)
{
	bool tracked = owner->design == GMEM_TRACK_TRACKED;
	pgoff_t gfirst, glast, last, next;
	struct gmem_range rg;
	long added = 0, converted = 0;
	int ret;

	if (!gmem_span_valid(index, nr))
		return -EINVAL;
	last = index + nr - 1;
	gfirst = ALIGN_DOWN(index, GMEM_GRANULE_PAGES);
	glast = ALIGN_DOWN(last, GMEM_GRANULE_PAGES);

	mutex_lock(&owner->lock);
	ret = gmem_span_check(owner, index, nr, error_index);
	if (ret)
		goto out;

	next = index;
	while (gmem_ranges_next(&owner->ranges, &next, last, &rg)) {
		if (rg.state == GMEM_RANGE_PRIVATE)
			converted += min(rg.index + rg.nr - 1, last) -
				     max(rg.index, index) + 1;
	}

	if (tracked) {
		added = gmem_repopulate_unshared(owner, gfirst, glast, true);
		if (added < 0) {
			ret = added;
			goto out;
		}
		ret = gmem_charge_reclaim(owner, added, gfirst, glast);
		if (ret) {
			if (added)
				gmem_depopulate_unshared(owner, gfirst, glast);
			goto out;
		}
	}

	gmem_ranges_write_begin(owner);
	ret = gmem_ranges_set_state(&owner->ranges, index, nr,
				    GMEM_RANGE_SHARED, 0, GFP_KERNEL);
	gmem_ranges_write_end(owner);
	if (ret) {
		if (added) {
			gmem_depopulate_unshared(owner, gfirst, glast);
			gmem_uncharge(owner, added);
		}
		goto out;
	}

	if (tracked) {
		/* Their vmemmap is in use again. */
		gmem_deferred_drop(owner, gfirst, glast);
		/* Private pages read as the sentinel: reserved, refcount 0. */
		next = index;
		while (gmem_ranges_next(&owner->ranges, &next, last, &rg)) {
			pgoff_t a = max(rg.index, index);
			pgoff_t b = min(rg.index + rg.nr - 1, last), i;

			for (i = a; i <= b; i++) {
				unsigned long pfn = rg.pfn + i - rg.index;
				struct page *page = pfn_to_page(pfn);

				if (PageReserved(page) && !page_count(page))
					gmem_page_init_shared(page, pfn);
				if (!(i % GMEM_GRANULE_PAGES))
					cond_resched();
			}
		}
		gmem_stat_add(owner->design, GMEM_STAT_VMEMMAP, added);
		gmem_stat_add(owner->design, GMEM_STAT_VMEMMAP_FREED, -added);
	}
	gmem_stat_add(owner->design, GMEM_STAT_PRIVATE, -converted);
	gmem_stat_add(owner->design, GMEM_STAT_SHARED, converted);
out:
	mutex_unlock(&owner->lock);
	trace_gmem_track_convert(index, nr, true, ret);
	return ret;
}
EXPORT_SYMBOL_GPL(gmem_track_set_shared);

/*
 * Remove the vmemmap of a run of granules that all lost their last shared
 * page. They are PTE-mapped already, so this cannot fail.
 */
static long gmem_depopulate_run(unsigned long pfn, unsigned long nr,
				unsigned long *frozen)
{
	int ret;

	if (!nr)
		return 0;
	gmem_wait_speculative(frozen);
	ret = gmem_vmemmap_depopulate(pfn, nr);
	if (WARN_ON_ONCE(ret < 0))
		return 0;
	return ret;
}

/**
 * gmem_track_set_private - convert a span to private
 * @owner: the owner.
 * @index: first index.
 * @nr: number of indices.
 * @error_index: on -EAGAIN, the first index whose page is still referenced;
 *	on -EHWPOISON, the first poisoned index (may be NULL).
 *
 * Indices without memory are skipped. The reference gmem_track holds on
 * each shared page must be the only one: the caller unmaps the span from
 * userspace and drops its page-cache references first. In the tracked
 * design the vmemmap of every granule left without a shared page is
 * removed, by the owner's worker a while later (deferred.c) unless too
 * much waits already. Content is not touched.
 *
 * Return: 0; -EINVAL for an empty or overflowing span; -EHWPOISON if part
 * of it is poisoned, or a shared page of it was marked by memory_failure()
 * (@error_index says where);
 * -EAGAIN if a page is still referenced; -ENOMEM if the descriptor cannot be
 * split; -EINTR if a fatal signal arrived while the shared pages were
 * frozen. On error nothing changed.
 */
int gmem_track_set_private(struct gmem_track_owner *owner, pgoff_t index,
			   unsigned long nr, pgoff_t *error_index)
{
	bool tracked = owner->design == GMEM_TRACK_TRACKED;
	unsigned long run, run_nr, frozen;
	pgoff_t last, next, i, frozen_to, prev_g;
	struct gmem_range rg;
	long converted = 0, freed = 0;
	int ret;

	if (!gmem_span_valid(index, nr))
		return -EINVAL;
	last = index + nr - 1;

	mutex_lock(&owner->lock);
	ret = gmem_span_check(owner, index, nr, error_index);
	if (ret)
		goto out;

	/* Freeze the shared pages at zero: nobody may take a reference. */
	next = index;
	frozen_to = index;
	while (gmem_ranges_next(&owner->ranges, &next, last, &rg)) {
		pgoff_t a = max(rg.index, index);
		pgoff_t b = min(rg.index + rg.nr - 1, last);

		if (rg.state != GMEM_RANGE_SHARED)
			continue;
		for (i = a; i <= b; i++) {
			struct page *page = pfn_to_page(rg.pfn + i - rg.index);

			if (!(i % GMEM_GRANULE_PAGES)) {
				cond_resched();
				if (fatal_signal_pending(current)) {
					ret = -EINTR;
					frozen_to = i;
					goto thaw;
				}
			}
			/* memory_failure() marked it: never private again. */
			if (PageHWPoison(page))
				ret = -EHWPOISON;
			else if (!page_ref_freeze(page, 1))
				ret = -EAGAIN;
			if (ret) {
				if (error_index)
					*error_index = i;
				frozen_to = i;
				goto thaw;
			}
			converted++;
		}
		cond_resched();
	}
	frozen_to = last + 1;
	frozen = get_state_synchronize_rcu();

	gmem_ranges_write_begin(owner);
	ret = gmem_ranges_set_state(&owner->ranges, index, nr,
				    GMEM_RANGE_PRIVATE, 0, GFP_KERNEL);
	gmem_ranges_write_end(owner);
	if (ret)
		goto thaw;

	/*
	 * The frozen pages are the ones that were shared. A granule that held
	 * one had its vmemmap; if it holds no shared page now, it waits for
	 * the owner's worker (deferred.c), or past the limit of waiting
	 * vmemmap is removed now: consecutive such granules of one chunk
	 * together, one TLB flush each run. Pages of a granule already removed read as the sentinel
	 * (reserved) and are skipped.
	 */
	run = 0;
	run_nr = 0;
	prev_g = ULONG_MAX;
	next = index;
	while (converted && gmem_ranges_next(&owner->ranges, &next, last, &rg)) {
		pgoff_t a = max(rg.index, index);
		pgoff_t b = min(rg.index + rg.nr - 1, last);

		for (i = a; i <= b; i++) {
			unsigned long pfn = rg.pfn + i - rg.index;
			struct page *page = pfn_to_page(pfn);
			pgoff_t g = ALIGN_DOWN(i, GMEM_GRANULE_PAGES);

			if (!(i % GMEM_GRANULE_PAGES))
				cond_resched();
			if (tracked ? PageReserved(page) : page_count(page))
				continue;
			if (!tracked) {
				page_ref_unfreeze(page, 1);
				continue;
			}
			gmem_page_init_private(page);
			if (g == prev_g)
				continue;
			prev_g = g;
			pfn = ALIGN_DOWN(pfn, GMEM_GRANULE_PAGES);
			if (gmem_granule_shared(owner, g) ||
			    gmem_deferred_add(owner, g, pfn))
				continue;
			/* Never across chunks: they may be in two zones. */
			if (run_nr && run + run_nr == pfn &&
			    !IS_ALIGNED(pfn, gmem_chunk_pages(owner))) {
				run_nr += GMEM_GRANULE_PAGES;
				continue;
			}
			freed += gmem_depopulate_run(run, run_nr, &frozen);
			run = pfn;
			run_nr = GMEM_GRANULE_PAGES;
		}
	}
	freed += gmem_depopulate_run(run, run_nr, &frozen);
	if (tracked) {
		gmem_deferred_kick(owner);
		gmem_stat_add(owner->design, GMEM_STAT_VMEMMAP, -freed);
		gmem_stat_add(owner->design, GMEM_STAT_VMEMMAP_FREED, freed);
		gmem_uncharge(owner, freed);
	}
	gmem_stat_add(owner->design, GMEM_STAT_PRIVATE, converted);
	gmem_stat_add(owner->design, GMEM_STAT_SHARED, -converted);
	goto out;

thaw:
	next = index;
	while (gmem_ranges_next(&owner->ranges, &next, last, &rg)) {
		pgoff_t a = max(rg.index, index);
		pgoff_t b = min(rg.index + rg.nr - 1, last);

		if (rg.state != GMEM_RANGE_SHARED)
			continue;
		for (i = a; i <= b && i < frozen_to; i++)
			page_ref_unfreeze(pfn_to_page(rg.pfn + i - rg.index), 1);
	}
out:
	mutex_unlock(&owner->lock);
	trace_gmem_track_convert(index, nr, false, ret);
	return ret;
}
EXPORT_SYMBOL_GPL(gmem_track_set_private);

/**
 * gmem_track_memory_failure - take a page hit by memory_failure()
 * @pfn: the PFN with the error.
 * @flags: memory_failure()'s MF_* flags. With MF_COUNT_INCREASED the
 *	caller holds a reference to the page, which is dropped here when the
 *	page is handled here.
 *
 * Called by memory_failure() before it touches the struct page: a private
 * PFN's struct page is the read-only sentinel, and gmem_track's shared
 * pages are not on an LRU, so memory_failure() could not take them either.
 * memory_failure() reports and counts the outcome (MF_MSG_GUEST_PRIVATE).
 *
 * A private page's index becomes poisoned in the descriptor. A shared page
 * stays shared, so that its granule keeps its vmemmap, with the range
 * marked poisoned and PG_hwpoison set. Either way the index is never
 * converted, looked up for mapping or handed out again, and when its chunk
 * is freed the page stays out of the allocator. The owner's user is told
 * through &gmem_track_owner_ops.memory_failure, and takes the page out of
 * KVM's and the host's mappings.
 *
 * The owner is found and a reference to it taken under gmem_owners_lock,
 * and its lock waited for without it: a memory error on a busy owner
 * holds up nobody else.
 *
 * Return: 0 when handled (a page poisoned, or a parked chunk put in
 * quarantine); -EHWPOISON if the page was poisoned already (or its chunk
 * is in quarantine); -ENOENT if gmem_track does not hold the page and
 * memory_failure() is to handle it; -ENOMEM if the descriptor cannot be
 * split (the page is then not isolated); -EBUSY, with a warning, if the
 * owner of the page had no reference left, which cannot happen.
 */
int gmem_track_memory_failure(unsigned long pfn, int *flags)
{
	const struct gmem_track_owner_ops *ops = NULL;
	struct gmem_track_owner *owner;
	void *ops_data = NULL;
	pgoff_t next = 0, poisoned = 0;
	bool notify = false, held;
	struct gmem_range rg;
	int ret = -ENOENT;

again:
	/*
	 * An owner the PFN tree names still holds a chunk, so its creation's
	 * reference too: its last reference, dropped under the list lock,
	 * goes only after its last chunk did. Taking one under the list lock
	 * keeps the owner from being freed under us once the lock is dropped.
	 */
	mutex_lock(&gmem_owners_lock);
	owner = gmem_pool_owner_of(pfn);
	held = !IS_ERR_OR_NULL(owner) && refcount_inc_not_zero(&owner->ref);
	mutex_unlock(&gmem_owners_lock);
	if (IS_ERR_OR_NULL(owner)) {
		ret = owner ? PTR_ERR(owner) : -ENOENT;
		/* A parked chunk quarantined now: handled, and never reused. */
		if (ret == -ECANCELED)
			ret = 0;
		goto out;
	}
	/* Cannot happen (see above): never loop under mf_mutex for it. */
	if (WARN_ON_ONCE(!held)) {
		ret = -EBUSY;
		goto out;
	}

	mutex_lock(&owner->lock);
	/*
	 * The chunk may have left the owner while we waited for the lock:
	 * freed (the struct pages are real again), parked or given back to
	 * the reservation (they are the sentinel still). Ask the pool again;
	 * -ENOENT only when gmem_track no longer holds the PFN at all.
	 */
	if (!gmem_pool_owns(pfn, owner)) {
		mutex_unlock(&owner->lock);
		gmem_owner_put(owner);
		goto again;
	}
	while (gmem_ranges_next(&owner->ranges, &next, ULONG_MAX - 1, &rg)) {
		pgoff_t index = rg.index + (pfn - rg.pfn);
		bool shared = rg.state == GMEM_RANGE_SHARED;

		if (pfn < rg.pfn || pfn - rg.pfn >= rg.nr)
			continue;
		if (gmem_range_poisoned(&rg)) {
			ret = -EHWPOISON;
			break;
		}
		gmem_ranges_write_begin(owner);
		ret = gmem_ranges_set_state(&owner->ranges, index, 1,
					    shared ? GMEM_RANGE_SHARED :
						     GMEM_RANGE_POISONED,
					    shared ? GMEM_FLAG_HWPOISON : 0,
					    GFP_KERNEL);
		gmem_ranges_write_end(owner);
		if (ret)
			break;
		if (shared)
			SetPageHWPoison(pfn_to_page(pfn));
		pr_info_ratelimited("%#lx: %s guest page poisoned at index %#lx\n",
				    pfn, shared ? "shared" : "private", index);
		ops = owner->ops;
		ops_data = owner->ops_data;
		notify = ops && ops->memory_failure;
		/* gmem_track_owner_destroy() waits for us from now on. */
		if (notify)
			atomic_inc(&owner->notifying);
		poisoned = index;
		break;
	}
	mutex_unlock(&owner->lock);
	if (notify) {
		/* With no lock held: it takes guest_memfd's locks. */
		gmem_notify_acquire();
		ops->memory_failure(ops_data, poisoned);
		gmem_notify_release();
		/* Fully ordered: a destroy that sleeps on it sees 0. */
		if (atomic_dec_and_test(&owner->notifying))
			wake_up_var(&owner->notifying);
	}
	gmem_owner_put(owner);
out:
	/* Only a page with a struct page of its own can have been pinned. */
	if (ret != -ENOENT && (*flags & MF_COUNT_INCREASED)) {
		put_page(pfn_to_page(pfn));
		*flags &= ~MF_COUNT_INCREASED;
	}
	return ret;
}

/**
 * gmem_track_lookup - the memory behind an index
 * @owner: the owner.
 * @index: file index.
 * @pfn: the PFN backing @index.
 * @max_order: the largest order over which the PFNs are contiguous,
 *	naturally aligned and in one state (for huge stage-2 mappings), never
 *	more than the owner's chunk order.
 * @shared: whether @index is shared.
 *
 * Runs under RCU and takes no lock; the caller keeps the answer valid with
 * its own lock (guest_memfd's invalidate lock).
 *
 * Return: 0, -ENOENT for a hole, -EHWPOISON for poisoned memory.
 */
int gmem_track_lookup(struct gmem_track_owner *owner, pgoff_t index,
		      unsigned long *pfn, int *max_order, bool *shared)
{
	struct gmem_range rg;

	if (!gmem_ranges_lookup(&owner->ranges, index, &rg))
		return -ENOENT;
	if (gmem_range_poisoned(&rg))
		return -EHWPOISON;
	if (pfn)
		*pfn = rg.pfn + (index - rg.index);
	/*
	 * Never more than the chunk: chunks contiguous in PFN and index merge
	 * in the descriptor, but each is freed on its own, and a punch
	 * invalidates only the chunk it frees.
	 */
	if (max_order)
		*max_order = gmem_ranges_max_order(&rg, index,
						   owner->chunk_order);
	if (shared)
		*shared = rg.state == GMEM_RANGE_SHARED;
	return 0;
}
EXPORT_SYMBOL_GPL(gmem_track_lookup);

/**
 * gmem_track_next - the next memory in a span
 * @owner: the owner.
 * @index: in, the first index to look at; out, the first index of the
 *	memory found.
 * @last: the last index to look at.
 * @pfn: the PFN behind the index found.
 * @nr: the number of indices from there, up to @last, whose PFNs follow
 *	on and are not poisoned.
 *
 * Walks the descriptor, not the span: holes cost nothing, however large.
 * Poisoned memory is skipped. Runs under RCU and takes no lock, like
 * gmem_track_lookup().
 *
 * Return: true if memory was found in [*@index, @last].
 */
bool gmem_track_next(struct gmem_track_owner *owner, pgoff_t *index,
		     pgoff_t last, unsigned long *pfn, unsigned long *nr)
{
	pgoff_t next = *index, a;
	struct gmem_range rg;

	do {
		if (!gmem_ranges_next(&owner->ranges, &next, last, &rg))
			return false;
	} while (gmem_range_poisoned(&rg));
	a = max(rg.index, *index);
	*pfn = rg.pfn + (a - rg.index);
	*nr = min(rg.index + rg.nr - 1, last) - a + 1;
	*index = a;
	return true;
}
EXPORT_SYMBOL_GPL(gmem_track_next);

/*
 * Tries without the owner's lock before gmem_read_ranges() takes it, 100 to
 * 200 us apart: 10 to 20 ms in all. A change is one gmem_ranges_*() call,
 * short unless its node allocation has to reclaim; the lock may be held
 * for as long as a 1 GiB chunk takes to convert.
 */
#define GMEM_RANGES_READ_TRIES	100

/*
 * Measure one owner's descriptor between two of its changes, without the
 * owner's lock: the walks run under RCU, which keeps every node they may
 * reach, and a change seen in @ranges_seq during them discards the figures.
 * Returns false if a change ran alongside each try.
 */
static bool gmem_ranges_measure(struct gmem_track_owner *owner,
				unsigned long *ranges, unsigned long *bytes)
{
	unsigned int seq, i;

	for (i = 0; i < GMEM_RANGES_READ_TRIES; i++) {
		if (i)
			usleep_range(100, 200);
		seq = raw_read_seqcount(&owner->ranges_seq);
		if (seq & 1)
			continue;
		*ranges = gmem_ranges_count(&owner->ranges);
		*bytes = gmem_ranges_bytes(&owner->ranges);
		if (!read_seqcount_retry(&owner->ranges_seq, seq))
			return true;
	}
	return false;
}

/*
 * Sum the descriptors of @design's owners, each measured without its lock
 * (gmem_ranges_measure()) unless that fails or @locked, then under it.
 */
static void gmem_ranges_sum(enum gmem_track_design design, long *ranges,
			    long *bytes, bool locked)
{
	struct gmem_track_owner *owner, *done = NULL;
	unsigned long n, b;

	*ranges = 0;
	*bytes = 0;
	mutex_lock(&gmem_owners_lock);
	list_for_each_entry(owner, &gmem_owners, list) {
		if (owner->design != design ||
		    !refcount_inc_not_zero(&owner->ref))
			continue;
		mutex_unlock(&gmem_owners_lock);
		/* Not under the list lock: the last put takes it. */
		if (done)
			gmem_owner_put(done);

		if (locked || !gmem_ranges_measure(owner, &n, &b)) {
			mutex_lock(&owner->lock);
			n = gmem_ranges_count(&owner->ranges);
			b = gmem_ranges_bytes(&owner->ranges);
			mutex_unlock(&owner->lock);
		}
		*ranges += n;
		*bytes += b;

		/* Our reference keeps it on the list: go on from there. */
		done = owner;
		mutex_lock(&gmem_owners_lock);
	}
	mutex_unlock(&gmem_owners_lock);
	if (done)
		gmem_owner_put(done);
}

/**
 * gmem_read_ranges - measure the descriptors of a design's owners
 * @design: the design.
 * @ranges: the number of entries.
 * @bytes: the memory of their maple trees.
 *
 * Each owner is measured between two changes of its descriptor, without
 * its lock, so the read does not wait for a conversion or release that
 * holds it for long. Only if changes keep coming does the read take the
 * owner's lock, waited for holding a reference to the owner, not the list
 * of owners. The sums are not a snapshot: each owner is measured at
 * another moment, and an owner created or destroyed during the read may
 * be counted or not.
 *
 * Context: Process context, no lock of gmem_track held; may sleep.
 */
void gmem_read_ranges(enum gmem_track_design design, long *ranges,
		      long *bytes)
{
	gmem_ranges_sum(design, ranges, bytes, false);
}

/**
 * gmem_track_read_stats - read the counters of one design
 * @design: the design.
 * @stats: filled with the counters.
 *
 * The counters are read one by one, without a lock, while owners change:
 * a conversion or release running alongside may be seen half-done, its
 * pages counted in one counter already and not yet taken out of another.
 * The descriptor figures are summed as gmem_read_ranges() says.
 *
 * Context: Process context, no lock of gmem_track held; may sleep.
 */
void gmem_track_read_stats(enum gmem_track_design design,
			   struct gmem_track_stats *stats)
{
	atomic_long_t *s = gmem_stats[design];

	memset(stats, 0, sizeof(*stats));
	if (design >= GMEM_TRACK_NR_DESIGNS)
		return;
	stats->chunks_2m = atomic_long_read(&s[GMEM_STAT_CHUNKS_2M]);
	stats->chunks_1g = atomic_long_read(&s[GMEM_STAT_CHUNKS_1G]);
	stats->private_pages = atomic_long_read(&s[GMEM_STAT_PRIVATE]);
	stats->shared_pages = atomic_long_read(&s[GMEM_STAT_SHARED]);
	stats->vmemmap_pages = atomic_long_read(&s[GMEM_STAT_VMEMMAP]);
	stats->vmemmap_freed_pages = atomic_long_read(&s[GMEM_STAT_VMEMMAP_FREED]);
	stats->closed_pages = atomic_long_read(&s[GMEM_STAT_CLOSED]);
	stats->deferred_pages = atomic_long_read(&s[GMEM_STAT_DEFERRED]);
	gmem_read_ranges(design, &stats->ranges, &stats->descriptor_bytes);
}
EXPORT_SYMBOL_GPL(gmem_track_read_stats);

#include "tests/core-kunit.h"
