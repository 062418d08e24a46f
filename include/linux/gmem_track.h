/* SPDX-License-Identifier: GPL-2.0 */
/*
 * gmem_track: private guest memory without struct pages.
 *
 * guest_memfd memory backed by physically contiguous 2 MiB or 1 GiB chunks.
 * In the tracked design the vmemmap behind private memory is removed: every
 * struct page of a private PFN reads as a shared, read-only sentinel
 * ("reserved, refcount 0, not yours") and the memory is described only by a
 * per-owner range descriptor. Struct pages come back, one vmemmap page (64
 * struct pages, 256 KiB of memory on x86-64) at a time, for ranges that are
 * converted to shared. The struct-page design keeps the vmemmap populated
 * and is there to be compared with. See Documentation/mm/gmem_track.rst.
 */
#ifndef _LINUX_GMEM_TRACK_H
#define _LINUX_GMEM_TRACK_H

#include <linux/err.h>
#include <linux/errno.h>
#include <linux/init.h>
#include <linux/types.h>

/**
 * enum gmem_track_design - how an owner's memory is described
 * @GMEM_TRACK_TRACKED: private memory has no struct pages; the vmemmap is
 *	populated only for 256 KiB granules holding shared memory.
 * @GMEM_TRACK_STRUCT_PAGE: the vmemmap stays populated and every 4 KiB page
 *	has a struct page, as when huge pages are split for conversion.
 * @GMEM_TRACK_NR_DESIGNS: number of designs.
 */
enum gmem_track_design {
	GMEM_TRACK_TRACKED,
	GMEM_TRACK_STRUCT_PAGE,
	GMEM_TRACK_NR_DESIGNS,
};

/**
 * struct gmem_track_stats - counters of one design
 * @chunks_2m: 2 MiB chunks held by owners.
 * @chunks_1g: 1 GiB chunks held by owners.
 * @private_pages: 4 KiB pages in the private (or poisoned) state.
 * @shared_pages: 4 KiB pages in the shared state.
 * @vmemmap_pages: vmemmap pages currently backing the owners' memory.
 * @vmemmap_freed_pages: vmemmap pages given back by depopulation.
 * @closed_pages: 4 KiB pages of chunks of destroyed owners, kept because a
 *	page of the chunk is still referenced (a pin that outlived the file);
 *	freed when the reference goes. Part of the counts above.
 * @deferred_pages: vmemmap pages of granules with no shared page left,
 *	waiting for deferred depopulation. Part of @vmemmap_pages.
 * @ranges: entries in the owners' range descriptors.
 * @descriptor_bytes: memory of the owners' range descriptors (their maple
 *	tree nodes).
 */
struct gmem_track_stats {
	long chunks_2m;
	long chunks_1g;
	long private_pages;
	long shared_pages;
	long vmemmap_pages;
	long vmemmap_freed_pages;
	long closed_pages;
	long deferred_pages;
	long ranges;
	long descriptor_bytes;
};

struct gmem_track_owner;
struct page;

/**
 * struct gmem_track_owner_ops - what an owner's user is told
 * @memory_failure: an index of memory, private or shared, was hit by an
 *	uncorrected error and is poisoned now. Called in process context,
 *	from memory_failure() under its mf_mutex, with no lock of
 *	gmem_track held. Once gmem_track_owner_destroy() has cleared the
 *	callbacks, its first step, it is not called any more, and
 *	gmem_track_owner_destroy() waits for a call that began before. The
 *	user should unmap the index from whatever maps it (KVM's stage-2
 *	tables, host page tables).
 */
struct gmem_track_owner_ops {
	void (*memory_failure)(void *data, pgoff_t index);
};

#ifdef CONFIG_GMEM_TRACK
struct gmem_track_owner *gmem_track_owner_create(unsigned int chunk_order,
						 enum gmem_track_design design,
						 int nid);
void gmem_track_owner_destroy(struct gmem_track_owner *owner);
void gmem_track_owner_set_ops(struct gmem_track_owner *owner,
			      const struct gmem_track_owner_ops *ops,
			      void *data);
enum gmem_track_design gmem_track_default_design(void);
bool gmem_track_default_backend(enum gmem_track_design *design,
				unsigned int *order);
void gmem_track_default_taken(void);
int gmem_track_populate(struct gmem_track_owner *owner, pgoff_t index);
int gmem_track_release(struct gmem_track_owner *owner, pgoff_t index,
		       unsigned long nr);
int gmem_track_set_shared(struct gmem_track_owner *owner, pgoff_t index,
			  unsigned long nr, pgoff_t *error_index);
int gmem_track_set_private(struct gmem_track_owner *owner, pgoff_t index,
			   unsigned long nr, pgoff_t *error_index);
int gmem_track_lookup(struct gmem_track_owner *owner, pgoff_t index,
		      unsigned long *pfn, int *max_order, bool *shared);
bool gmem_track_next(struct gmem_track_owner *owner, pgoff_t *index,
		     pgoff_t last, unsigned long *pfn, unsigned long *nr);
bool gmem_track_pfn_owned(unsigned long pfn);
int gmem_track_memory_failure(unsigned long pfn, int *flags);
int gmem_track_test_set_hwpoison(unsigned long pfn, struct page *page);
void __init gmem_track_bootmem_alloc(void);
void __init gmem_track_vmemmap_init_early(int nid);
void __init gmem_track_bootmem_init_late(void);
void gmem_track_read_stats(enum gmem_track_design design,
			   struct gmem_track_stats *stats);
#else
static inline struct gmem_track_owner *
gmem_track_owner_create(unsigned int chunk_order, enum gmem_track_design design,
			int nid)
{
	return ERR_PTR(-EOPNOTSUPP);
}

static inline void gmem_track_owner_destroy(struct gmem_track_owner *owner)
{
}

static inline void
gmem_track_owner_set_ops(struct gmem_track_owner *owner,
			 const struct gmem_track_owner_ops *ops, void *data)
{
}

static inline enum gmem_track_design gmem_track_default_design(void)
{
	return GMEM_TRACK_STRUCT_PAGE;
}

static inline bool gmem_track_default_backend(enum gmem_track_design *design,
					      unsigned int *order)
{
	return false;
}

static inline void gmem_track_default_taken(void)
{
}

static inline int gmem_track_populate(struct gmem_track_owner *owner,
				      pgoff_t index)
{
	return -EOPNOTSUPP;
}

static inline int gmem_track_release(struct gmem_track_owner *owner,
				     pgoff_t index, unsigned long nr)
{
	return -EOPNOTSUPP;
}

static inline int gmem_track_set_shared(struct gmem_track_owner *owner,
					pgoff_t index, unsigned long nr,
					pgoff_t *error_index)
{
	return -EOPNOTSUPP;
}

static inline int gmem_track_set_private(struct gmem_track_owner *owner,
					 pgoff_t index, unsigned long nr,
					 pgoff_t *error_index)
{
	return -EOPNOTSUPP;
}

static inline int gmem_track_lookup(struct gmem_track_owner *owner,
				    pgoff_t index, unsigned long *pfn,
				    int *max_order, bool *shared)
{
	return -EOPNOTSUPP;
}

static inline bool gmem_track_next(struct gmem_track_owner *owner,
				   pgoff_t *index, pgoff_t last,
				   unsigned long *pfn, unsigned long *nr)
{
	return false;
}

static inline bool gmem_track_pfn_owned(unsigned long pfn)
{
	return false;
}

static inline int gmem_track_memory_failure(unsigned long pfn, int *flags)
{
	return -ENOENT;
}

#ifdef CONFIG_MEMORY_FAILURE
#include <linux/page-flags.h>

static inline int gmem_track_test_set_hwpoison(unsigned long pfn,
					       struct page *page)
{
	return TestSetPageHWPoison(page) ? 1 : 0;
}
#endif

static inline void gmem_track_read_stats(enum gmem_track_design design,
					 struct gmem_track_stats *stats)
{
}

static inline void gmem_track_bootmem_alloc(void)
{
}

static inline void gmem_track_vmemmap_init_early(int nid)
{
}

static inline void gmem_track_bootmem_init_late(void)
{
}
#endif /* CONFIG_GMEM_TRACK */

#endif /* _LINUX_GMEM_TRACK_H */
