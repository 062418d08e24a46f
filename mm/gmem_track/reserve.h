/* SPDX-License-Identifier: GPL-2.0 */
/*
 * gmem_track boot reservation (gmem_track.reserve=), between its parser,
 * the pool and sysfs.
 */
#ifndef _MM_GMEM_TRACK_RESERVE_H
#define _MM_GMEM_TRACK_RESERVE_H

#include <linux/mmzone.h>
#include <linux/types.h>

/* Items of gmem_track.reserve= taken; more are reported and ignored. */
#define GMEM_RESERVE_MAX_ITEMS	16

/**
 * struct gmem_reserve_item - one item of gmem_track.reserve=
 * @size: bytes to reserve.
 * @order: chunk order, PMD_ORDER or PUD_ORDER.
 * @nid: node, or NUMA_NO_NODE for any.
 */
struct gmem_reserve_item {
	unsigned long long size;
	unsigned int order;
	int nid;
};

/**
 * struct gmem_reserve_stats - chunks of the reservation, of one order
 * @reserved: chunks reserved and not given back to the buddy allocator.
 * @free: chunks an owner may take.
 * @used: chunks held by owners.
 * @poisoned: chunks hit by a memory error (in use or not).
 * @held: chunks out of use until someone else's reference on a page of
 *	them goes, their struct pages built (gmem_reserve_unbuild()).
 */
struct gmem_reserve_stats {
	unsigned long reserved;
	unsigned long free;
	unsigned long used;
	unsigned long poisoned;
	unsigned long held;
};

/*
 * How a chunk comes back to the reservation (gmem_reserve_put()), as
 * gmem_reserve_unbuild() says: free, or kept out of use for good
 * (poisoned), or until a reference goes (held).
 */
#define GMEM_RESERVE_POISONED	BIT(0)
#define GMEM_RESERVE_HELD	BIT(1)

/*
 * The reservation is taken in blocks of whole vmemmap PMDs: one memory
 * section (128 MiB, whose struct pages fill one 2 MiB PMD) for 2 MiB
 * chunks, one chunk for 1 GiB chunks.
 */
static inline unsigned long gmem_reserve_block_size(unsigned int order)
{
	return max(1UL << (order + PAGE_SHIFT), 1UL << PA_SECTION_SHIFT);
}

int gmem_reserve_parse_item(const char *item, struct gmem_reserve_item *r);
int gmem_reserve_take(int nid, unsigned int order, unsigned long *pfn);
int gmem_reserve_take_built(int nid, unsigned int order, unsigned long *pfn);
unsigned int gmem_reserve_unbuild(unsigned long pfn, unsigned long nr);
bool gmem_reserve_holds(unsigned long pfn);
void gmem_reserve_put(unsigned long pfn, unsigned int how);
int gmem_reserve_poison(unsigned long pfn);
bool gmem_reserve_poisoned(unsigned long pfn);
bool gmem_reserve_leaving(unsigned long pfn);
void gmem_reserve_read(int nid, unsigned int order,
		       struct gmem_reserve_stats *st);
int gmem_reserve_shrink(int nid, unsigned int order, u64 bytes);

#endif /* _MM_GMEM_TRACK_RESERVE_H */
