/* SPDX-License-Identifier: GPL-2.0 */
/*
 * gmem_track ranges: per-owner descriptor of which PFNs back which file
 * indices, kept in a maple tree of value entries.
 *
 * This header is the only one mm/gmem_track/ranges.c includes, so that
 * tools/testing/gmem_track can compile ranges.c unchanged against the real
 * lib/maple_tree.c in userspace.
 */
#ifndef _MM_GMEM_TRACK_RANGES_H
#define _MM_GMEM_TRACK_RANGES_H

#include <linux/bitops.h>
#include <linux/bug.h>
#include <linux/errno.h>
#include <linux/maple_tree.h>
#include <linux/minmax.h>
#include <linux/overflow.h>
#include <linux/rcupdate.h>
#include <linux/types.h>
#include <linux/xarray.h>

/**
 * enum gmem_range_state - state of the memory behind a range
 * @GMEM_RANGE_PRIVATE: private to the guest; no struct page behind it.
 * @GMEM_RANGE_SHARED: shared with the host; struct pages populated.
 * @GMEM_RANGE_POISONED: hit by memory_failure(); never mapped again.
 */
enum gmem_range_state {
	GMEM_RANGE_PRIVATE,
	GMEM_RANGE_SHARED,
	GMEM_RANGE_POISONED,
};

/* Number of opaque caller flag bits stored with each range. */
#define GMEM_RANGE_FLAG_BITS	4
#define GMEM_RANGE_FLAG_MASK	((1U << GMEM_RANGE_FLAG_BITS) - 1)

/**
 * struct gmem_ranges - ranges of one owner (one guest_memfd inode)
 * @mt: maple tree keyed by file index (4 KiB units) whose entries are value
 *      entries encoding {pfn - index, state, flags}.  Writers are serialized
 *      by the owner's lock (the caller's); readers use RCU.
 */
struct gmem_ranges {
	struct maple_tree mt;
};

/**
 * struct gmem_range - decoded view of one range
 * @index: first file index of the range (of the whole merged range).
 * @nr: number of 4 KiB pages in the range.
 * @pfn: PFN backing @index; index @index + i is backed by @pfn + i.
 * @state: state of the whole range.
 * @flags: opaque caller flags of the whole range.
 */
struct gmem_range {
	pgoff_t index;
	unsigned long nr;
	unsigned long pfn;
	enum gmem_range_state state;
	unsigned int flags;
};

void gmem_ranges_init(struct gmem_ranges *r);
void gmem_ranges_destroy(struct gmem_ranges *r);
int gmem_ranges_insert(struct gmem_ranges *r, pgoff_t index, unsigned long nr,
		       unsigned long pfn, enum gmem_range_state state,
		       unsigned int flags, gfp_t gfp);
int gmem_ranges_set_state(struct gmem_ranges *r, pgoff_t index,
			  unsigned long nr, enum gmem_range_state state,
			  unsigned int flags, gfp_t gfp);
int gmem_ranges_remove(struct gmem_ranges *r, pgoff_t index, unsigned long nr,
		       gfp_t gfp);
bool gmem_ranges_lookup(struct gmem_ranges *r, pgoff_t index,
			struct gmem_range *out);
bool gmem_ranges_next(struct gmem_ranges *r, pgoff_t *index, pgoff_t last,
		      struct gmem_range *out);
unsigned long gmem_ranges_bytes(struct gmem_ranges *r);
int gmem_ranges_max_order(const struct gmem_range *rg, pgoff_t index,
			  int max_order);
unsigned long gmem_ranges_count(struct gmem_ranges *r);

#endif /* _MM_GMEM_TRACK_RANGES_H */
