// SPDX-License-Identifier: GPL-2.0
/*
 * gmem_track deferred depopulation: remove the vmemmap of a granule some
 * time after its last shared page went private, not in the conversion.
 *
 * Removing it in the conversion costs a grace period (speculative
 * references to the frozen struct pages, gmem_wait_speculative()), a walk
 * of the vmemmap under gmem_vmemmap_lock and a kernel TLB flush or two --
 * often only to rebuild the same granule milliseconds later, when the guest
 * shares the same DMA buffer again. Instead the conversion makes the
 * granule's struct pages read like the sentinel's (PG_reserved, refcount
 * frozen at zero, no mapping: gmem_page_init_private()), which is all a PFN
 * walker or memory_failure() can see of a struct page, and records the
 * granule in its owner's @deferred xarray. A conversion to shared of the
 * granule then finds its vmemmap in place and only erases the record;
 * otherwise the owner's worker removes it, gmem_deferred_delay_ms after
 * the record that queued the worker:
 *
 *   conversion to private                worker (one per owner)
 *   ---------------------                ----------------------
 *   freeze the shared pages at zero      G = deferred_gen++
 *   descriptor: private                  synchronize_rcu(): one grace
 *   init_private, record (generation)      period for every record <= G
 *   queue the worker                     remove the vmemmap of the records
 *                                          <= G, in runs of consecutive
 *                                          PFNs, and erase them
 *
 * Bounds: at most gmem_deferred_limit_pages vmemmap pages wait, over all
 * owners (sysfs deferred_limit_bytes); beyond that a conversion removes
 * the vmemmap itself, as with the limit at 0. A shrinker brings every
 * owner's worker forward under memory pressure. Releasing a chunk (punch
 * hole, close) drops its records: the release frees or removes the
 * vmemmap itself. Waiting vmemmap stays counted in vmemmap_bytes and
 * charged to the owner's memory cgroup, and shows in deferred_bytes.
 */

#define pr_fmt(fmt) "gmem_track: " fmt

#include <linux/jiffies.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/shrinker.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>

#include "internal.h"

#include <trace/events/gmem_track.h>

/* One vmemmap page per granule: 16 MiB covers 1 GiB of memory. */
unsigned long gmem_deferred_limit_pages = SZ_16M >> PAGE_SHIFT;
unsigned int gmem_deferred_delay_ms = 100;

/* Granules waiting, over all owners. */
static atomic_long_t gmem_deferred_nr = ATOMIC_LONG_INIT(0);

/* Granules a worker takes the vmemmap of before it lets the lock go. */
#define GMEM_DEFERRED_BATCH	512

/*
 * The value of a record whose vmemmap a batch removed: dropped, and the
 * pages counted out, once the batch's flush freed them, so that whoever
 * reads deferred_bytes at 0 finds them freed. Above every generation.
 */
#define GMEM_DEFERRED_DONE	(LONG_MAX >> 1)

static void gmem_deferred_workfn(struct work_struct *work)
{
	struct gmem_track_owner *owner =
		container_of(to_delayed_work(work), struct gmem_track_owner,
			     deferred_work);

	gmem_deferred_flush(owner);
}

/**
 * gmem_deferred_init - set up an owner's deferred depopulation
 * @owner: the owner being created.
 */
void gmem_deferred_init(struct gmem_track_owner *owner)
{
	xa_init(&owner->deferred);
	INIT_DELAYED_WORK(&owner->deferred_work, gmem_deferred_workfn);
}

/**
 * gmem_deferred_stop - no more worker runs for an owner being destroyed
 * @owner: the owner; its user is gone, so no conversion comes any more.
 *
 * The records left are dropped with their chunks' release.
 *
 * Context: Process context, @owner's lock not held.
 */
void gmem_deferred_stop(struct gmem_track_owner *owner)
{
	/* The shrinker queues the work under this lock. */
	mutex_lock(&gmem_owners_lock);
	WRITE_ONCE(owner->deferred_off, true);
	mutex_unlock(&gmem_owners_lock);
	cancel_delayed_work_sync(&owner->deferred_work);
}

/**
 * gmem_deferred_add - keep the vmemmap of a granule for a while
 * @owner: the owner, locked, of the tracked design.
 * @gindex: first index of a granule that has memory, no shared page, and
 *	vmemmap whose struct pages read like the sentinel's, frozen at zero.
 * @pfn: its first PFN.
 *
 * Return: true if the granule was recorded (the caller queues the worker
 * with gmem_deferred_kick()), false if the limit is reached or no memory
 * for the record could be had: the caller removes the vmemmap itself.
 */
bool gmem_deferred_add(struct gmem_track_owner *owner, pgoff_t gindex,
		       unsigned long pfn)
{
	int ret;

	lockdep_assert_held(&owner->lock);
	if (atomic_long_read(&gmem_deferred_nr) >=
	    READ_ONCE(gmem_deferred_limit_pages))
		return false;
	ret = xa_insert(&owner->deferred, gindex / GMEM_GRANULE_PAGES,
			xa_mk_value(owner->deferred_gen), GFP_KERNEL_ACCOUNT);
	/*
	 * Recorded already (a broken invariant 12): its vmemmap is there, so
	 * the caller must not free it, and pages of it were frozen just now,
	 * so the record takes the current generation (invariant 4).
	 */
	if (WARN_ON_ONCE(ret == -EBUSY)) {
		xa_store(&owner->deferred, gindex / GMEM_GRANULE_PAGES,
			 xa_mk_value(owner->deferred_gen), GFP_KERNEL);
		return true;
	}
	if (ret)
		return false;
	atomic_long_inc(&gmem_deferred_nr);
	gmem_stat_add(owner->design, GMEM_STAT_DEFERRED, 1);
	trace_gmem_track_defer(pfn, GMEM_GRANULE_PAGES, 1);
	return true;
}

/**
 * gmem_granule_deferred - is a granule waiting for depopulation?
 * @owner: the owner, locked.
 * @gindex: first index of the granule.
 *
 * Return: true if the granule is recorded: it has its vmemmap although
 * none of its pages is shared.
 */
bool gmem_granule_deferred(struct gmem_track_owner *owner, pgoff_t gindex)
{
	lockdep_assert_held(&owner->lock);
	return xa_load(&owner->deferred, gindex / GMEM_GRANULE_PAGES);
}

/**
 * gmem_deferred_drop - forget the records of a span of granules
 * @owner: the owner, locked.
 * @first: first index of the first granule.
 * @last: an index of the last granule.
 *
 * For granules whose vmemmap is in use again (a page of them went shared)
 * or goes with their chunk.
 *
 * Return: the number of records dropped.
 */
long gmem_deferred_drop(struct gmem_track_owner *owner, pgoff_t first,
			pgoff_t last)
{
	unsigned long idx;
	void *entry;
	long n = 0;

	lockdep_assert_held(&owner->lock);
	xa_for_each_range(&owner->deferred, idx, entry,
			  first / GMEM_GRANULE_PAGES,
			  last / GMEM_GRANULE_PAGES) {
		xa_erase(&owner->deferred, idx);
		n++;
	}
	if (n) {
		atomic_long_sub(n, &gmem_deferred_nr);
		gmem_stat_add(owner->design, GMEM_STAT_DEFERRED, -n);
	}
	return n;
}

/**
 * gmem_deferred_kick - queue an owner's worker if a granule waits
 * @owner: the owner, locked.
 *
 * A worker queued already keeps its time: records made since wait for it,
 * then at most one more delay, and a steady stream of conversions cannot
 * put the work off for ever.
 */
void gmem_deferred_kick(struct gmem_track_owner *owner)
{
	lockdep_assert_held(&owner->lock);
	if (xa_empty(&owner->deferred) || READ_ONCE(owner->deferred_off))
		return;
	queue_delayed_work(system_unbound_wq, &owner->deferred_work,
			   msecs_to_jiffies(READ_ONCE(gmem_deferred_delay_ms)));
}

/*
 * Remove the vmemmap of @nr pages at @pfn, the recorded granules from
 * index @g on, in the caller's batch, and mark their records done for
 * gmem_deferred_commit(). Their PMDs are PTE-mapped (the vmemmap was
 * rebuilt in them), so no page table is allocated and this cannot fail.
 * If it did for lack of memory or across zones, the records stay for the
 * next run; a granule that reads as the sentinel already (-EINVAL, a
 * broken invariant 3) has nothing to remove, and its record goes, the
 * rest of its run tried granule by granule.
 */
static long gmem_deferred_depopulate(struct gmem_track_owner *owner,
				     pgoff_t g, unsigned long pfn,
				     unsigned long nr)
{
	unsigned long i;
	long freed = 0;
	int ret;

	if (!nr)
		return 0;
	ret = gmem_vmemmap_depopulate(pfn, nr);
	/*
	 * Part of the run reads as the sentinel already: one granule at a
	 * time then, so that the others still lose their vmemmap.
	 */
	if (ret == -EINVAL && nr > GMEM_GRANULE_PAGES) {
		for (i = 0; i < nr; i += GMEM_GRANULE_PAGES)
			freed += gmem_deferred_depopulate(owner, g + i, pfn + i,
							  GMEM_GRANULE_PAGES);
		return freed;
	}
	if (WARN_ON_ONCE(ret < 0) && ret != -EINVAL)
		return 0;
	/* Replacing an entry allocates nothing. */
	for (i = 0; i < nr; i += GMEM_GRANULE_PAGES)
		xa_store(&owner->deferred, (g + i) / GMEM_GRANULE_PAGES,
			 xa_mk_value(GMEM_DEFERRED_DONE), GFP_NOWAIT);
	return max(ret, 0);
}

/*
 * After a batch's flush freed the vmemmap of the records marked done, all
 * of them with keys up to @last: count out the @freed pages, then drop
 * the records, so that whoever sees deferred_bytes fall sees
 * vmemmap_bytes fallen already.
 */
static void gmem_deferred_commit(struct gmem_track_owner *owner,
				 unsigned long last, long freed)
{
	unsigned long idx;
	void *entry;
	long n = 0;

	gmem_stat_add(owner->design, GMEM_STAT_VMEMMAP, -freed);
	gmem_stat_add(owner->design, GMEM_STAT_VMEMMAP_FREED, freed);
	gmem_uncharge(owner, freed);
	xa_for_each_range(&owner->deferred, idx, entry, 0, last) {
		if (xa_to_value(entry) != GMEM_DEFERRED_DONE)
			continue;
		xa_erase(&owner->deferred, idx);
		n++;
	}
	if (n) {
		/* The counts above before deferred_bytes falls. */
		smp_mb__before_atomic();
		atomic_long_sub(n, &gmem_deferred_nr);
		gmem_stat_add(owner->design, GMEM_STAT_DEFERRED, -n);
	}
}

/*
 * Remove the vmemmap of the records of generation <= @gen, a grace period
 * after it was taken, but those of the granules from @keep_first to
 * @keep_last (none if @keep_first > @keep_last), in runs of granules
 * consecutive in both index and PFN within one chunk. Every
 * GMEM_DEFERRED_BATCH records the batch ends (one flush) and the task
 * reschedules, with @unlock letting the owner's lock go meanwhile. Called,
 * and returns, with the owner's lock held. Returns the vmemmap pages
 * freed.
 */
static long gmem_deferred_walk(struct gmem_track_owner *owner,
			       unsigned long gen, pgoff_t keep_first,
			       pgoff_t keep_last, bool unlock)
{
	unsigned long idx, pfn, run_pfn = 0, run_nr = 0, batch = 0;
	struct gmem_vmemmap_batch vb;
	pgoff_t g, run_g = 0;
	long freed = 0, total = 0;
	void *entry;

	/* One TLB flush for all the runs (per GMEM_DEFERRED_BATCH records). */
	gmem_vmemmap_batch_begin(&vb);
	xa_for_each(&owner->deferred, idx, entry) {
		g = idx * GMEM_GRANULE_PAGES;
		if (xa_to_value(entry) > gen ||
		    (g >= keep_first && g <= keep_last))
			goto next;
		/* A record names a private granule with memory, or a bug. */
		pfn = gmem_index_to_pfn(owner, g);
		if (WARN_ON_ONCE(!pfn || gmem_granule_shared(owner, g))) {
			gmem_deferred_drop(owner, g, g);
			goto next;
		}
		/* One chunk per run: two may be in different zones. */
		if (run_nr && run_pfn + run_nr == pfn && run_g + run_nr == g &&
		    !IS_ALIGNED(pfn, 1UL << owner->chunk_order)) {
			run_nr += GMEM_GRANULE_PAGES;
		} else {
			freed += gmem_deferred_depopulate(owner, run_g,
							  run_pfn, run_nr);
			run_g = g;
			run_pfn = pfn;
			run_nr = GMEM_GRANULE_PAGES;
		}
next:
		if (++batch < GMEM_DEFERRED_BATCH)
			continue;
		freed += gmem_deferred_depopulate(owner, run_g, run_pfn,
						  run_nr);
		run_nr = 0;
		batch = 0;
		/* Never the vmemmap lock without the owner's: lock order. */
		gmem_vmemmap_batch_end(&vb);
		gmem_deferred_commit(owner, idx, freed);
		total += freed;
		freed = 0;
		/* Conversions of the owner wait for the lock meanwhile. */
		if (unlock)
			mutex_unlock(&owner->lock);
		cond_resched();
		if (unlock)
			mutex_lock(&owner->lock);
		gmem_vmemmap_batch_begin(&vb);
	}
	freed += gmem_deferred_depopulate(owner, run_g, run_pfn, run_nr);
	gmem_vmemmap_batch_end(&vb);
	gmem_deferred_commit(owner, ULONG_MAX, freed);
	return total + freed;
}

/**
 * gmem_deferred_flush - remove the vmemmap of an owner's waiting granules
 * @owner: the owner.
 *
 * Takes every granule recorded before the call: one grace period covers
 * them all, then their vmemmap is removed in runs of granules consecutive
 * in both index and PFN within one chunk, up to GMEM_DEFERRED_BATCH
 * granules per hold of the owner's lock. Records made meanwhile wait for
 * the next run, which is queued.
 *
 * Context: Process context, no lock of gmem_track held; sleeps.
 * Return: the number of vmemmap pages freed.
 */
long gmem_deferred_flush(struct gmem_track_owner *owner)
{
	unsigned long gen;
	long freed;

	mutex_lock(&owner->lock);
	if (xa_empty(&owner->deferred)) {
		mutex_unlock(&owner->lock);
		return 0;
	}
	gen = owner->deferred_gen++;
	mutex_unlock(&owner->lock);

	/*
	 * The pages of every record of generation <= @gen were frozen before
	 * the lock was dropped above: a speculative reference that saw them
	 * unfrozen has ended after this (gmem_wait_speculative()). A normal
	 * grace period: nobody waits for this one.
	 */
	synchronize_rcu();

	mutex_lock(&owner->lock);
	freed = gmem_deferred_walk(owner, gen, 1, 0, true);
	gmem_deferred_kick(owner);
	mutex_unlock(&owner->lock);
	return freed;
}

/**
 * gmem_deferred_reclaim - remove an owner's waiting vmemmap now
 * @owner: the owner, locked.
 * @keep_first: first index of the granules whose records stay, those a
 *	conversion in progress relies on...
 * @keep_last: ...and an index of the last; none if @keep_first is larger.
 *
 * For a charge that failed at the limit of the owner's memory cgroup,
 * which holds the waiting vmemmap too. Waits for a grace period with the
 * owner's lock held: a rare path.
 *
 * Return: the number of vmemmap pages freed.
 */
long gmem_deferred_reclaim(struct gmem_track_owner *owner, pgoff_t keep_first,
			   pgoff_t keep_last)
{
	unsigned long gen;

	lockdep_assert_held(&owner->lock);
	if (xa_empty(&owner->deferred))
		return 0;
	gen = owner->deferred_gen++;
	synchronize_rcu();
	return gmem_deferred_walk(owner, gen, keep_first, keep_last, false);
}

/*
 * Memory pressure: bring every owner's worker forward. Reclaim may run in
 * a task holding an owner's lock or the vmemmap lock, so the shrinker
 * itself takes neither.
 */
static unsigned long gmem_deferred_count(struct shrinker *shrinker,
					 struct shrink_control *sc)
{
	long nr = atomic_long_read(&gmem_deferred_nr);

	return nr > 0 ? nr : SHRINK_EMPTY;
}

static unsigned long gmem_deferred_scan(struct shrinker *shrinker,
					struct shrink_control *sc)
{
	struct gmem_track_owner *owner;

	if (!mutex_trylock(&gmem_owners_lock))
		return SHRINK_STOP;
	list_for_each_entry(owner, &gmem_owners, list) {
		if (!owner->deferred_off && !xa_empty(&owner->deferred))
			mod_delayed_work(system_unbound_wq,
					 &owner->deferred_work, 0);
	}
	mutex_unlock(&gmem_owners_lock);
	/* What the workers free is not freed yet: do not ask again now. */
	return SHRINK_STOP;
}

static int __init gmem_deferred_shrinker_init(void)
{
	struct shrinker *shrinker;

	shrinker = shrinker_alloc(0, "gmem_track-deferred");
	if (!shrinker)
		return -ENOMEM;
	shrinker->count_objects = gmem_deferred_count;
	shrinker->scan_objects = gmem_deferred_scan;
	shrinker_register(shrinker);
	return 0;
}
subsys_initcall(gmem_deferred_shrinker_init);
