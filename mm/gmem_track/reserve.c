// SPDX-License-Identifier: GPL-2.0
/*
 * gmem_track boot reservation: memory for private guest memory whose
 * struct pages are never built.
 *
 * gmem_track.reserve= takes memory from memblock before the vmemmap is
 * populated, in blocks of whole memory sections (128 MiB, or one 1 GiB
 * chunk). Each block's vmemmap PMDs are pointed at one PTE table per node
 * and zone whose entries all map the sentinel page, so a reserved GiB costs
 * no vmemmap page and no page table of its own:
 *
 *   section (128 MiB) --> vmemmap PMD --> shared PTE table --> sentinel
 *   section (128 MiB) --> vmemmap PMD ----^
 *
 * This is HVO's early path (hugetlb_vmemmap_init_early()) taken one level
 * up: HVO keeps a head page and a PTE table per section, gmem_track keeps
 * neither. As for HVO, memmap_init() still writes the struct pages of the
 * reserved PFNs, all into the sentinel, so the sentinel and its table stay
 * writable until gmem_track_bootmem_init_late() has initialised the
 * sentinel once more and write-protected the table.
 *
 * Reserved chunks are the pool's first source for tracked owners, and its
 * last for struct-page owners, which get the chunk's struct pages built
 * (gmem_reserve_take_built()); a freed reserved chunk loses the struct
 * pages it had and returns to the reservation, never to the buddy
 * allocator. Shrinking the reservation
 * through sysfs builds the struct pages of free chunks and frees them.
 */

#define pr_fmt(fmt) "gmem_track: " fmt

#include <linux/init.h>
#include <linux/kmemleak.h>
#include <linux/kstrtox.h>
#include <linux/memblock.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/page-isolation.h>
#include <linux/pgalloc.h>
#include <linux/rcupdate.h>
#include <linux/sort.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/vmstat.h>

#include <asm/tlbflush.h>

#include "../hugetlb_vmemmap.h"
#include "internal.h"
#include "reserve.h"

/**
 * struct gmem_reserve_block - one memblock allocation of the reservation
 * @pfn: first PFN.
 * @used: chunks handed to an owner.
 * @poisoned: chunks hit by a memory error: never handed out again.
 * @gone: chunks given back to the buddy allocator by a shrink.
 * @order: chunk order, PMD_ORDER or PUD_ORDER.
 * @nr: chunks in the block; 0 for a block that could not be set up.
 * @nid: node of the block.
 * @zid: zone of the block.
 * @ready: the block's vmemmap maps the sentinel.
 * @leaving: chunks being given back by a shrink, their struct pages built.
 * @held: chunks out of use, their struct pages built, until someone else's
 *	reference on a page of them goes (gmem_reserve_held_retry()).
 */
struct gmem_reserve_block {
	unsigned long pfn;
	u64 used;
	u64 poisoned;
	u64 gone;
	u64 leaving;
	u64 held;
	u8 order;
	u8 nr;
	u8 zid;
	bool ready;
	int nid;
};

static struct gmem_reserve_block *gmem_blocks;
static unsigned int gmem_nr_blocks;
/* Protects the chunk bitmaps; taken under the PFN tree's lock. */
static DEFINE_SPINLOCK(gmem_reserve_lock);
/* Serializes shrinking, which sleeps. */
static DEFINE_MUTEX(gmem_reserve_shrink_lock);

static char gmem_reserve_arg[256] __initdata;
static bool gmem_reserve_off __initdata;
static struct page *gmem_boot_sentinel[MAX_NUMNODES][MAX_NR_ZONES] __initdata;
static pte_t *gmem_boot_table[MAX_NUMNODES][MAX_NR_ZONES] __initdata;

static int __init gmem_reserve_setup(char *s)
{
	if (!s || !*s)
		return -EINVAL;
	/* "off": no reservation, not even CONFIG_GMEM_TRACK_DENSE_HOST_RESERVE. */
	gmem_reserve_off = !strcmp(s, "off");
	if (strscpy(gmem_reserve_arg, s, sizeof(gmem_reserve_arg)) < 0) {
		/* A cut item could name another node or size: take none. */
		gmem_reserve_arg[0] = 0;
		gmem_reserve_off = true;
		pr_err("reserve: gmem_track.reserve= longer than %zu characters: ignored\n",
		       sizeof(gmem_reserve_arg) - 1);
	}
	return 0;
}
early_param("gmem_track.reserve", gmem_reserve_setup);

/**
 * gmem_reserve_parse_item - parse one item of gmem_track.reserve=
 * @item: "SIZE:PAGESIZE" or "SIZE:PAGESIZE@NODE", e.g. "4G:1G", "512M:2M@1".
 * @r: the item, on success.
 *
 * SIZE must be a positive multiple of the block size: 1 GiB for 1G
 * chunks, one memory section (128 MiB on x86-64) for 2M chunks, so that
 * every vmemmap PMD of the reservation is wholly reserved. Whether the
 * node exists is checked by the caller.
 *
 * Return: 0; -EINVAL for bad syntax or an unknown page size; -ERANGE for a
 * size that is zero or not a multiple of the block size.
 */
int gmem_reserve_parse_item(const char *item, struct gmem_reserve_item *r)
{
	unsigned long long size, psize;
	char *p = (char *)item, *end;
	unsigned int nid;

	size = memparse(p, &end);
	if (end == p || *end != ':')
		return -EINVAL;
	p = end + 1;
	psize = memparse(p, &end);
	if (end == p)
		return -EINVAL;
	if (psize == PMD_SIZE)
		r->order = PMD_ORDER;
	else if (psize == PUD_SIZE)
		r->order = PUD_ORDER;
	else
		return -EINVAL;
	r->nid = NUMA_NO_NODE;
	if (*end == '@') {
		p = end + 1;
		/* kstrtouint() would take a sign and a trailing newline. */
		if (!*p || strspn(p, "0123456789") != strlen(p) ||
		    kstrtouint(p, 10, &nid) || nid >= MAX_NUMNODES)
			return -EINVAL;
		r->nid = nid;
	} else if (*end) {
		return -EINVAL;
	}
	if (!size || size % gmem_reserve_block_size(r->order))
		return -ERANGE;
	r->size = size;
	return 0;
}

/* The zone of @pfn on node @nid, once free_area_init() has sized them. */
static int __init gmem_pfn_zone(int nid, unsigned long pfn)
{
	struct pglist_data *pgdat = NODE_DATA(nid);
	int zid;

	for (zid = 0; zid < MAX_NR_ZONES; zid++) {
		if (zone_spans_pfn(&pgdat->node_zones[zid], pfn))
			return zid;
	}
	return -1;
}

static const char *gmem_order_name(unsigned int order)
{
	return order == PUD_ORDER ? "1G" : "2M";
}

/* Blocks memblock gave that cannot be used, held until the item is done. */
#define GMEM_RESERVE_MAX_REJECTED	8

/*
 * Take one block from memblock: 1 when taken, 0 when memblock gave one that
 * cannot be used (put in @rejected, so that the next try gets another),
 * -ENOMEM when none is left.
 */
static int __init gmem_reserve_block_alloc(struct gmem_reserve_item *r,
					   struct gmem_reserve_block *b,
					   void **rejected)
{
	unsigned long bsize = gmem_reserve_block_size(r->order);
	unsigned long pfn;
	int nid, zid;
	void *p;

	if (r->nid == NUMA_NO_NODE)
		p = memblock_alloc_try_nid_raw(bsize, bsize, 0,
					       MEMBLOCK_ALLOC_ACCESSIBLE,
					       NUMA_NO_NODE);
	else
		p = memblock_alloc_exact_nid_raw(bsize, bsize, 0,
						 MEMBLOCK_ALLOC_ACCESSIBLE,
						 r->nid);
	if (!p)
		return -ENOMEM;

	pfn = PHYS_PFN(__pa(p));
	nid = early_pfn_to_nid(pfn);
	zid = gmem_pfn_zone(nid, pfn);
	/*
	 * Across a zone boundary one sentinel cannot describe the block, and
	 * ZONE_MOVABLE must stay offlinable: neither can hold reserved memory.
	 */
	if (zid < 0 || zid == ZONE_MOVABLE ||
	    zid != gmem_pfn_zone(nid, pfn + (bsize >> PAGE_SHIFT) - 1)) {
		*rejected = p;
		return 0;
	}
	/* Its struct pages are the sentinel's: memmap_init_reserved_pages() skips it. */
	memblock_reserved_mark_noinit(__pa(p), bsize);

	b->pfn = pfn;
	b->order = r->order;
	b->nr = bsize >> (r->order + PAGE_SHIFT);
	b->nid = nid;
	b->zid = zid;
	return 1;
}

/*
 * sparse_init() sets up a node's sections in one call of
 * sparse_vmemmap_init_nid_early() only if no other node's memory lies
 * between them; the reservation's vmemmap is set up there, so it needs that.
 */
static bool __init gmem_node_interleaved(int nid)
{
	unsigned long start, end, lo = ULONG_MAX, hi = 0;
	int i, n;

	for_each_mem_pfn_range(i, nid, &start, &end, NULL) {
		lo = min(lo, start);
		hi = max(hi, end);
	}
	for_each_mem_pfn_range(i, MAX_NUMNODES, &start, &end, &n) {
		if (n != nid && start < hi && end > lo)
			return true;
	}
	return false;
}

/* Memory an item may not take: a thirty-second of all, and 256 MiB more. */
static unsigned long __init gmem_reserve_floor(void)
{
	return memblock_phys_mem_size() / 32 + SZ_256M;
}

/**
 * gmem_track_bootmem_alloc - take the reservation from memblock
 *
 * Called from mm_core_init_early(), after HugeTLB's gigantic pages and
 * before sparse_init(). A bad item of gmem_track.reserve= is reported and
 * skipped; an item that does not fit is reserved as far as it fits.
 */
void __init gmem_track_bootmem_alloc(void)
{
	struct gmem_reserve_item items[GMEM_RESERVE_MAX_ITEMS];
	unsigned long want = 0, floor;
	unsigned int nr_items = 0, i;
	char *arg = gmem_reserve_arg, *item;
	int ret;

	if (!*arg && !gmem_reserve_off)
		strscpy(gmem_reserve_arg, CONFIG_GMEM_TRACK_DENSE_HOST_RESERVE,
			sizeof(gmem_reserve_arg));
	if (!*arg || gmem_reserve_off)
		return;
	if (IS_ENABLED(CONFIG_KMSAN)) {
		pr_warn("reserve: not available with KMSAN: ignored\n");
		return;
	}

	floor = gmem_reserve_floor();
	while ((item = strsep(&arg, ",")) != NULL) {
		struct gmem_reserve_item *r = &items[nr_items];
		unsigned long bsize;

		if (!*item)
			continue;
		if (nr_items == ARRAY_SIZE(items)) {
			pr_err("reserve: more than %d items: '%s' and after ignored\n",
			       GMEM_RESERVE_MAX_ITEMS, item);
			break;
		}
		ret = gmem_reserve_parse_item(item, r);
		if (ret == -ERANGE) {
			pr_err("reserve: '%s': size must be a positive multiple of %luM: ignored\n",
			       item, gmem_reserve_block_size(r->order) >> 20);
			continue;
		}
		if (ret) {
			pr_err("reserve: '%s': expected SIZE:2M or SIZE:1G, optionally @NODE: ignored\n",
			       item);
			continue;
		}
		if (r->nid != NUMA_NO_NODE && !node_state(r->nid, N_MEMORY)) {
			pr_err("reserve: '%s': node %d has no memory: ignored\n",
			       item, r->nid);
			continue;
		}
		bsize = gmem_reserve_block_size(r->order);
		/* Never more blocks than there is memory, whatever was asked. */
		r->size = min_t(unsigned long long, r->size,
				ALIGN_DOWN(memblock_phys_mem_size(), bsize));
		want += r->size / bsize;
		nr_items++;
	}
	if (!want)
		return;

	gmem_blocks = memblock_alloc(array_size(want, sizeof(*gmem_blocks)),
				     SMP_CACHE_BYTES);
	if (!gmem_blocks) {
		pr_err("reserve: no memory for %lu blocks: nothing reserved\n",
		       want);
		return;
	}
	for (i = 0; i < nr_items; i++) {
		struct gmem_reserve_item *r = &items[i];
		unsigned long bsize = gmem_reserve_block_size(r->order);
		void *rejected[GMEM_RESERVE_MAX_REJECTED];
		unsigned long got = 0;
		const char *why = "no more memory";
		int nr_rejected = 0;

		while (got < r->size && gmem_nr_blocks < want) {
			if (memblock_phys_mem_size() - memblock_reserved_size() <
			    floor + bsize) {
				why = "the rest is left to the kernel";
				break;
			}
			if (nr_rejected == ARRAY_SIZE(rejected)) {
				why = "the memory left crosses zones";
				break;
			}
			ret = gmem_reserve_block_alloc(r, &gmem_blocks[gmem_nr_blocks],
						       &rejected[nr_rejected]);
			if (ret < 0)
				break;
			if (!ret) {
				nr_rejected++;
				continue;
			}
			gmem_nr_blocks++;
			got += bsize;
		}
		while (nr_rejected--)
			memblock_free(rejected[nr_rejected], bsize);
		if (got < r->size)
			pr_err("reserve: %lluM of %s chunks%s: only %luM reserved, %s\n",
			       r->size >> 20, gmem_order_name(r->order),
			       r->nid == NUMA_NO_NODE ? "" : " on the node asked",
			       got >> 20, why);
	}
}

/**
 * gmem_track_vmemmap_init_early - map the reservation's vmemmap to the sentinel
 * @nid: the node sparse_init() is setting up.
 *
 * Called from sparse_vmemmap_init_nid_early(). Every section of a reserved
 * block on @nid gets its vmemmap PMD pointed at the shared table of its
 * zone and is marked pre-initialised, so that sparse_init() populates
 * nothing for it. A block whose vmemmap cannot be set up this way is given
 * back to memblock and gets an ordinary vmemmap.
 */
void __init gmem_track_vmemmap_init_early(int nid)
{
	unsigned long section_pages = PAGES_PER_SECTION;
	bool interleaved = false, checked = false;
	unsigned int i;

	for (i = 0; i < gmem_nr_blocks; i++) {
		struct gmem_reserve_block *b = &gmem_blocks[i];
		unsigned long nr_pages = (unsigned long)b->nr << b->order;
		unsigned long start, end, pnum, s;
		struct page *map;
		pte_t *table;
		int zid = b->zid, j, ret;

		if (b->nid != nid || !b->nr || b->ready)
			continue;
		if (!checked) {
			interleaved = gmem_node_interleaved(nid);
			checked = true;
		}
		if (interleaved) {
			pr_err("reserve: node %d's memory is interleaved with another node's: block at %#lx given back\n",
			       nid, b->pfn);
			goto give_back;
		}
		if (!gmem_boot_table[nid][zid]) {
			struct page *sentinel;

			sentinel = memblock_alloc_try_nid(PAGE_SIZE, PAGE_SIZE, 0,
							  MEMBLOCK_ALLOC_ACCESSIBLE,
							  nid);
			table = memblock_alloc_try_nid(PAGE_SIZE, PAGE_SIZE, 0,
						       MEMBLOCK_ALLOC_ACCESSIBLE,
						       nid);
			if (!sentinel || !table) {
				if (sentinel)
					memblock_free(sentinel, PAGE_SIZE);
				if (table)
					memblock_free(table, PAGE_SIZE);
				pr_err("reserve: no memory for a sentinel: block at %#lx given back\n",
				       b->pfn);
				goto give_back;
			}
			/* Writable until memmap_init() is done with it. */
			for (j = 0; j < PTRS_PER_PTE; j++)
				set_pte(table + j, pfn_pte(PHYS_PFN(__pa(sentinel)),
							   PAGE_KERNEL));
			gmem_boot_sentinel[nid][zid] = virt_to_page(sentinel);
			gmem_boot_table[nid][zid] = table;
			memmap_boot_pages_add(2);
		}
		table = gmem_boot_table[nid][zid];

		map = pfn_to_page(b->pfn);
		start = (unsigned long)map;
		end = (unsigned long)pfn_to_page(b->pfn + nr_pages);
		ret = vmemmap_populate_shared_table(start, end, nid, table);
		if (ret == -EEXIST) {
			/*
			 * Someone mapped this vmemmap already: the block's
			 * struct pages may be in use, so the memory stays out
			 * of every allocator rather than risk it.
			 */
			pr_err("reserve: vmemmap of the block at %#lx already mapped: block unused\n",
			       b->pfn);
			b->nr = 0;
			continue;
		}
		if (ret) {
			pr_err("reserve: no vmemmap table for the block at %#lx: given back\n",
			       b->pfn);
			goto give_back;
		}

		pnum = pfn_to_section_nr(b->pfn);
		for (s = 0; s < nr_pages / section_pages; s++) {
			sparse_init_early_section(nid, map, pnum + s,
						  SECTION_IS_VMEMMAP_PREINIT);
			map += section_pages;
		}
		b->ready = true;
		continue;
give_back:
		/* Nothing maps the sentinel yet: an ordinary vmemmap follows. */
		memblock_free(pfn_to_kaddr(b->pfn), nr_pages << PAGE_SHIFT);
		b->nr = 0;
	}
}

static int __init gmem_block_cmp(const void *a, const void *b)
{
	const struct gmem_reserve_block *x = a, *y = b;

	return x->pfn < y->pfn ? -1 : x->pfn > y->pfn;
}

/**
 * gmem_track_bootmem_init_late - hand the reservation to the pool
 *
 * Called from page_alloc_init_late(), after memmap_init() and deferred
 * struct page initialisation have written the reserved PFNs' struct pages
 * (into the sentinel). Initialises each sentinel once more, write-protects
 * its table, counts the reserved memory as managed (as HugeTLB does for its
 * boot pages) and records every block in the PFN tree.
 */
void __init gmem_track_bootmem_init_late(void)
{
	unsigned long total[2] = { 0, 0 };
	bool any = false;
	unsigned int i;
	int nid, zid, j;

	for (nid = 0; nid < MAX_NUMNODES; nid++) {
		for (zid = 0; zid < MAX_NR_ZONES; zid++) {
			struct page *sentinel = gmem_boot_sentinel[nid][zid];
			pte_t *table = gmem_boot_table[nid][zid];

			if (!sentinel)
				continue;
			gmem_sentinel_init(sentinel, nid, zid);
			for (j = 0; j < PTRS_PER_PTE; j++)
				set_pte(table + j, mk_pte(sentinel, PAGE_KERNEL_RO));
			gmem_vmemmap_adopt(nid, zid, sentinel, table);
			any = true;
		}
	}
	if (!any)
		return;
	flush_tlb_all();
	/* Sorted by PFN, so that a PFN's block is found by bisection. */
	sort(gmem_blocks, gmem_nr_blocks, sizeof(*gmem_blocks), gmem_block_cmp,
	     NULL);

	for (i = 0; i < gmem_nr_blocks; i++) {
		struct gmem_reserve_block *b = &gmem_blocks[i];
		unsigned long nr_pages = (unsigned long)b->nr << b->order;
		unsigned long pfn;

		if (!b->nr)
			continue;
		/* Pageblock flags live in the section, not in the struct page. */
		for (pfn = b->pfn; pfn < b->pfn + nr_pages; pfn += pageblock_nr_pages)
			init_pageblock_migratetype(pfn_to_page(pfn),
						   MIGRATE_MOVABLE, false);
		/* Guest memory: kmemleak must neither scan it nor report it. */
		kmemleak_free_part_phys(PFN_PHYS(b->pfn), nr_pages << PAGE_SHIFT);
		if (gmem_pool_adopt_reserve(b->pfn, nr_pages)) {
			/* Not in the tree, so never handed out: lost, not harmful. */
			pr_err("reserve: no memory for the PFN tree: block at %#lx unused\n",
			       b->pfn);
			b->nr = 0;
			continue;
		}
		adjust_managed_page_count(pfn_to_page(b->pfn), nr_pages);
		total[b->order == PUD_ORDER] += nr_pages;
	}
	pr_info("reserve: %luM in 2M chunks, %luM in 1G chunks, no vmemmap\n",
		total[0] >> (20 - PAGE_SHIFT), total[1] >> (20 - PAGE_SHIFT));
}

static u64 gmem_block_free(struct gmem_reserve_block *b)
{
	u64 all = b->nr ? GENMASK_ULL(b->nr - 1, 0) : 0;

	return all & ~(b->used | b->poisoned | b->gone | b->leaving | b->held);
}

/* The block holding @pfn, and the chunk's index in it; blocks are sorted. */
static struct gmem_reserve_block *gmem_reserve_block_of(unsigned long pfn,
							unsigned int *idx)
{
	unsigned int lo = 0, hi = gmem_nr_blocks;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;
		struct gmem_reserve_block *b = &gmem_blocks[mid];
		unsigned long end = b->pfn + ((unsigned long)b->nr << b->order);

		if (pfn < b->pfn) {
			hi = mid;
		} else if (pfn >= end) {
			lo = mid + 1;
		} else {
			*idx = (pfn - b->pfn) >> b->order;
			return b;
		}
	}
	return NULL;
}

/**
 * gmem_reserve_take - take a free reserved chunk
 * @nid: node wanted, or NUMA_NO_NODE for any.
 * @order: chunk order.
 * @pfn: first PFN of the chunk, on success.
 *
 * The chunk's vmemmap reads as the sentinel. It stays recorded as the
 * reservation's in the PFN tree until the caller stores its new owner.
 *
 * Return: 0, or -ENOMEM when the reservation has no free chunk to give.
 */
int gmem_reserve_take(int nid, unsigned int order, unsigned long *pfn)
{
	unsigned int i;
	int ret = -ENOMEM;

	if (!gmem_nr_blocks)
		return -ENOMEM;
	spin_lock(&gmem_reserve_lock);
	for (i = 0; i < gmem_nr_blocks; i++) {
		struct gmem_reserve_block *b = &gmem_blocks[i];
		u64 free = gmem_block_free(b);

		if (b->order != order || !free ||
		    (nid != NUMA_NO_NODE && b->nid != nid))
			continue;
		b->used |= BIT_ULL(__ffs64(free));
		*pfn = b->pfn + ((unsigned long)__ffs64(free) << order);
		ret = 0;
		break;
	}
	spin_unlock(&gmem_reserve_lock);
	return ret;
}

/**
 * gmem_reserve_holds - is a chunk the reservation's?
 * @pfn: first PFN of the chunk.
 *
 * Return: true if the chunk at @pfn belongs to the reservation (free or
 * handed out), false for a chunk of the buddy allocator.
 */
bool gmem_reserve_holds(unsigned long pfn)
{
	struct gmem_reserve_block *b;
	unsigned int idx;
	bool ret;

	if (!gmem_nr_blocks)
		return false;
	spin_lock(&gmem_reserve_lock);
	b = gmem_reserve_block_of(pfn, &idx);
	ret = b && !(b->gone & BIT_ULL(idx));
	spin_unlock(&gmem_reserve_lock);
	return ret;
}

/*
 * Chunks held (GMEM_RESERVE_HELD) are tried again this long after one came
 * back, then at twice the interval each time none could be freed, up to
 * GMEM_HELD_RETRY_MAX: a PFN walker's reference lasts a moment.
 */
#define GMEM_HELD_RETRY		(HZ / 4)
#define GMEM_HELD_RETRY_MAX	(16 * HZ)

static void gmem_reserve_held_retry(struct work_struct *work);
static DECLARE_DELAYED_WORK(gmem_reserve_held_work, gmem_reserve_held_retry);
/* The next interval; under gmem_reserve_lock. */
static unsigned long gmem_reserve_held_delay = GMEM_HELD_RETRY;

/* Record how the chunk @idx of @b is kept, as gmem_reserve_unbuild() says. */
static bool gmem_reserve_mark(struct gmem_reserve_block *b, unsigned int idx,
			      unsigned int how)
{
	lockdep_assert_held(&gmem_reserve_lock);
	if (how & GMEM_RESERVE_POISONED)
		b->poisoned |= BIT_ULL(idx);
	if (!(how & GMEM_RESERVE_HELD)) {
		b->held &= ~BIT_ULL(idx);
		return false;
	}
	b->held |= BIT_ULL(idx);
	return true;
}

/*
 * Remove the struct pages of the held chunks whose reference went: they
 * are free again (or, poisoned meanwhile, stay out of use without struct
 * pages). Nobody else touches a held chunk: it is neither free nor used,
 * and a memory error on it only marks it poisoned (gmem_reserve_poison()).
 */
static void gmem_reserve_held_retry(struct work_struct *work)
{
	bool left = false, progress = false;
	unsigned int i, idx, how;

	for (i = 0; i < gmem_nr_blocks; i++) {
		struct gmem_reserve_block *b = &gmem_blocks[i];
		unsigned long nr = 1UL << b->order;
		u64 held;

		spin_lock(&gmem_reserve_lock);
		held = b->held;
		spin_unlock(&gmem_reserve_lock);
		for (; held; held &= held - 1) {
			idx = __ffs64(held);
			how = gmem_reserve_unbuild(b->pfn + idx * nr, nr);
			spin_lock(&gmem_reserve_lock);
			if (gmem_reserve_mark(b, idx, how))
				left = true;
			else
				progress = true;
			spin_unlock(&gmem_reserve_lock);
			cond_resched();
		}
	}
	spin_lock(&gmem_reserve_lock);
	if (progress)
		gmem_reserve_held_delay = GMEM_HELD_RETRY;
	else
		gmem_reserve_held_delay = min(2 * gmem_reserve_held_delay,
					      (unsigned long)GMEM_HELD_RETRY_MAX);
	/* A chunk held since is queued by gmem_reserve_put() already. */
	if (left)
		queue_delayed_work(system_unbound_wq, &gmem_reserve_held_work,
				   gmem_reserve_held_delay);
	spin_unlock(&gmem_reserve_lock);
}

/**
 * gmem_reserve_put - a chunk taken with gmem_reserve_take() comes back
 * @pfn: first PFN of the chunk.
 * @how: 0 if its vmemmap reads as the sentinel again, or what
 *	gmem_reserve_unbuild() returned: GMEM_RESERVE_POISONED, the chunk
 *	holds poisoned memory (or struct pages that could not be removed),
 *	keep it out of use for good; GMEM_RESERVE_HELD, its struct pages are
 *	still built for a reference someone else holds, keep it out of use
 *	until gmem_reserve_held_retry() could remove them.
 */
void gmem_reserve_put(unsigned long pfn, unsigned int how)
{
	struct gmem_reserve_block *b;
	unsigned int idx;

	spin_lock(&gmem_reserve_lock);
	b = gmem_reserve_block_of(pfn, &idx);
	if (!WARN_ON_ONCE(!b)) {
		b->used &= ~BIT_ULL(idx);
		/*
		 * Soon, whatever the interval had grown to; but a retry due
		 * sooner keeps its time: chunks held one after the other
		 * must not put it off for ever.
		 */
		if (gmem_reserve_mark(b, idx, how)) {
			gmem_reserve_held_delay = GMEM_HELD_RETRY;
			if (!queue_delayed_work(system_unbound_wq,
						&gmem_reserve_held_work,
						GMEM_HELD_RETRY) &&
			    time_after(READ_ONCE(gmem_reserve_held_work.timer.expires),
				       jiffies + GMEM_HELD_RETRY))
				mod_delayed_work(system_unbound_wq,
						 &gmem_reserve_held_work,
						 GMEM_HELD_RETRY);
		}
	}
	spin_unlock(&gmem_reserve_lock);
}

/**
 * gmem_reserve_poison - a memory error hit a reserved chunk no owner has
 * @pfn: the PFN hit.
 *
 * Called with the PFN tree locked. The chunk is never handed out again; a
 * chunk being taken is checked for this once its owner is recorded
 * (gmem_reserve_poisoned()). A chunk leaving for the buddy allocator has
 * its struct pages built already: memory_failure() handles it as any page,
 * and PG_hwpoison keeps the page out of the free lists.
 *
 * Return: -ECANCELED if the chunk is poisoned now, -EHWPOISON if it was
 * already, -ENOENT for a chunk leaving the reservation.
 */
int gmem_reserve_poison(unsigned long pfn)
{
	struct gmem_reserve_block *b;
	unsigned int idx;
	int ret;

	spin_lock(&gmem_reserve_lock);
	b = gmem_reserve_block_of(pfn, &idx);
	if (WARN_ON_ONCE(!b || (b->gone & BIT_ULL(idx)))) {
		/* The PFN tree says reserved: never let its sentinel be written. */
		ret = -EHWPOISON;
	} else if (b->leaving & BIT_ULL(idx)) {
		ret = -ENOENT;
	} else {
		ret = b->poisoned & BIT_ULL(idx) ? -EHWPOISON : -ECANCELED;
		b->poisoned |= BIT_ULL(idx);
	}
	spin_unlock(&gmem_reserve_lock);
	if (ret == -ECANCELED)
		pr_info_ratelimited("%#lx: reserved chunk poisoned, kept out of use\n",
				    pfn);
	return ret;
}

/* Is the chunk of @pfn set in the bitmap at @field of its block? */
static bool gmem_reserve_test(unsigned long pfn, size_t field)
{
	struct gmem_reserve_block *b;
	unsigned int idx;
	bool ret;

	spin_lock(&gmem_reserve_lock);
	b = gmem_reserve_block_of(pfn, &idx);
	ret = b && (*(u64 *)((char *)b + field) & BIT_ULL(idx));
	spin_unlock(&gmem_reserve_lock);
	return ret;
}

/**
 * gmem_reserve_leaving - is a reserved chunk leaving for the buddy allocator?
 * @pfn: a PFN of the chunk.
 *
 * Such a chunk has its struct pages built: a memory error on it is
 * memory_failure()'s to handle (gmem_reserve_poison()).
 *
 * Return: true while gmem_reserve_release_one() gives the chunk back.
 */
bool gmem_reserve_leaving(unsigned long pfn)
{
	BUILD_BUG_ON(sizeof_field(struct gmem_reserve_block, leaving) !=
		     sizeof(u64));
	return gmem_reserve_test(pfn, offsetof(struct gmem_reserve_block,
					       leaving));
}

/**
 * gmem_reserve_poisoned - was a reserved chunk hit by a memory error?
 * @pfn: first PFN of the chunk.
 *
 * Return: true if gmem_reserve_poison() marked the chunk.
 */
bool gmem_reserve_poisoned(unsigned long pfn)
{
	BUILD_BUG_ON(sizeof_field(struct gmem_reserve_block, poisoned) !=
		     sizeof(u64));
	return gmem_reserve_test(pfn, offsetof(struct gmem_reserve_block,
					       poisoned));
}

/**
 * gmem_reserve_read - what the reservation holds
 * @nid: node, or NUMA_NO_NODE for all nodes.
 * @order: chunk order.
 * @st: chunks reserved (not given back), free, in use, poisoned and held.
 */
void gmem_reserve_read(int nid, unsigned int order, struct gmem_reserve_stats *st)
{
	unsigned int i;

	memset(st, 0, sizeof(*st));
	spin_lock(&gmem_reserve_lock);
	for (i = 0; i < gmem_nr_blocks; i++) {
		struct gmem_reserve_block *b = &gmem_blocks[i];
		u64 all = b->nr ? GENMASK_ULL(b->nr - 1, 0) : 0;

		if (b->order != order || (nid != NUMA_NO_NODE && b->nid != nid))
			continue;
		st->reserved += hweight64(all & ~b->gone);
		st->free += hweight64(gmem_block_free(b));
		st->used += hweight64(b->used & ~b->gone);
		st->poisoned += hweight64(b->poisoned & ~b->gone);
		st->held += hweight64(b->held & ~b->gone);
	}
	spin_unlock(&gmem_reserve_lock);
}

/*
 * Build and initialise the struct pages of a reserved chunk, as those of a
 * chunk of the buddy allocator: a reference count of one each. Returns 0,
 * or -ENOMEM with the struct pages unchanged.
 */
static int gmem_reserve_build(unsigned long pfn, unsigned long nr)
{
	unsigned long i;
	int ret;

	ret = gmem_vmemmap_repopulate(pfn, nr, NULL);
	if (ret < 0)
		return ret;
	for (i = 0; i < nr; i++) {
		gmem_page_init_shared(pfn_to_page(pfn + i), pfn + i);
		if (!((i + 1) % GMEM_GRANULE_PAGES))
			cond_resched();
	}
	return 0;
}

/**
 * gmem_reserve_take_built - take a free reserved chunk, struct pages built
 * @nid: node wanted, or NUMA_NO_NODE for any.
 * @order: chunk order.
 * @pfn: first PFN of the chunk, on success.
 *
 * For the struct-page design, when the buddy allocator has no contiguous
 * memory: the chunk's struct pages are built and initialised as those of
 * a chunk of the buddy allocator, each with a reference count of one
 * (nr_memmap_pages grows by 4096 per GiB). The chunk stays recorded as
 * the reservation's in the PFN tree until the caller stores its owner, so
 * a memory error meanwhile is the reservation's (gmem_reserve_poison()).
 * gmem_reserve_unbuild() undoes the build.
 *
 * Return: 0, or -ENOMEM when the reservation has no free chunk to give or
 * no memory for the struct pages (the chunk is then free again).
 */
int gmem_reserve_take_built(int nid, unsigned int order, unsigned long *pfn)
{
	int ret;

	ret = gmem_reserve_take(nid, order, pfn);
	if (ret)
		return ret;
	ret = gmem_reserve_build(*pfn, 1UL << order);
	if (ret)
		gmem_reserve_put(*pfn, 0);
	return ret;
}

/**
 * gmem_reserve_unbuild - turn the struct pages of a reserved chunk back
 * into the sentinel
 * @pfn: first PFN of the chunk.
 * @nr: its pages, each with a reference count of one.
 *
 * They are in no allocator, so only a speculative reference (a PFN
 * walker) can hold one, for a moment: gmem_freeze_pages() waits for it,
 * and if it stays, gmem_reserve_held_retry() tries again later.
 *
 * Return: how to give the chunk back to the reservation
 * (gmem_reserve_put()): 0, its vmemmap the sentinel again; with the
 * struct pages left built and unfrozen, GMEM_RESERVE_HELD if a reference
 * stays, GMEM_RESERVE_POISONED if a page carries PG_hwpoison (a memory
 * error hit the chunk while it was leaving, or while a struct-page owner
 * held it) or the struct pages could not be removed.
 */
unsigned int gmem_reserve_unbuild(unsigned long pfn, unsigned long nr)
{
	unsigned long i;

	if (!gmem_freeze_pages(pfn, nr)) {
		pr_info_ratelimited("%#lx: reserved chunk still referenced, kept out of use until the reference goes\n",
				    pfn);
		return GMEM_RESERVE_HELD;
	}
	/*
	 * A speculative reference may have read a count before the freeze:
	 * let it write its cmpxchg before the struct pages turn read-only
	 * (gmem_wait_speculative() in core.c). So may memory_failure() that
	 * found the chunk leaving have set PG_hwpoison: it did so in an RCU
	 * read-side section (gmem_track_test_set_hwpoison()). Rare paths (a
	 * failed shrink or fill, a struct-page owner's chunk): a normal grace
	 * period.
	 */
	synchronize_rcu();
	if (gmem_pages_hwpoisoned(pfn, nr)) {
		for (i = 0; i < nr; i++)
			page_ref_unfreeze(pfn_to_page(pfn + i), 1);
		pr_info_ratelimited("%#lx: reserved chunk hit by a memory error, kept out of use\n",
				    pfn);
		return GMEM_RESERVE_POISONED;
	}
	/* Cannot fail: the rebuild gave the chunk's PMDs their tables. */
	if (WARN_ON_ONCE(gmem_vmemmap_depopulate(pfn, nr) < 0)) {
		for (i = 0; i < nr; i++)
			page_ref_unfreeze(pfn_to_page(pfn + i), 1);
		return GMEM_RESERVE_POISONED;
	}
	return 0;
}

/*
 * Give one free chunk of @b (marked used by the caller) back to the buddy
 * allocator: struct pages built and initialised first, then the chunk
 * leaves the PFN tree. Returns 0, -ENOMEM, or -EHWPOISON if a memory error
 * hit the chunk meanwhile (it stays reserved, poisoned). On error the chunk
 * is put back (gmem_reserve_put()), free unless it is poisoned or held.
 */
static int gmem_reserve_release_one(struct gmem_reserve_block *b,
				    unsigned int idx)
{
	unsigned long nr = 1UL << b->order;
	unsigned long pfn = b->pfn + idx * nr;
	unsigned int how;
	int ret;

	ret = gmem_reserve_build(pfn, nr);
	if (ret) {
		gmem_reserve_put(pfn, 0);
		return ret;
	}

	/*
	 * From here a memory error is memory_failure()'s to handle on the
	 * real struct page (gmem_reserve_poison() says -ENOENT); one that
	 * came before is seen here.
	 */
	spin_lock(&gmem_reserve_lock);
	if (b->poisoned & BIT_ULL(idx))
		ret = -EHWPOISON;
	else
		b->leaving |= BIT_ULL(idx);
	spin_unlock(&gmem_reserve_lock);
	if (!ret)
		ret = gmem_pool_drop_reserve(pfn, nr);
	if (ret) {
		spin_lock(&gmem_reserve_lock);
		b->leaving &= ~BIT_ULL(idx);
		spin_unlock(&gmem_reserve_lock);
		how = gmem_reserve_unbuild(pfn, nr);
		gmem_reserve_put(pfn, how);
		return ret;
	}

	spin_lock(&gmem_reserve_lock);
	b->gone |= BIT_ULL(idx);
	b->used &= ~BIT_ULL(idx);
	b->leaving &= ~BIT_ULL(idx);
	spin_unlock(&gmem_reserve_lock);
	/* A page poisoned meanwhile carries PG_hwpoison and is not freed. */
	free_contig_range(pfn, nr);
	return 0;
}

/**
 * gmem_reserve_shrink - give reserved memory back to the buddy allocator
 * @nid: node.
 * @order: chunk order.
 * @bytes: the size the node's reservation of @order is to have.
 *
 * Free chunks are given back, from the highest-PFN block down and the
 * highest chunk of a block first, each with its struct pages built first
 * (nr_memmap_pages grows by 4096 per GiB). Chunks in use or poisoned stay.
 *
 * Return: 0; -EINVAL if @bytes is not a multiple of the chunk size or is
 * larger than the reservation (it cannot grow after boot); -EBUSY if too
 * few chunks are free, -ENOMEM if struct pages or the PFN tree could not
 * be allocated: in both cases the chunks given back until then stay given
 * back.
 */
int gmem_reserve_shrink(int nid, unsigned int order, u64 bytes)
{
	unsigned long chunk = 1UL << (order + PAGE_SHIFT);
	struct gmem_reserve_stats st;
	u64 have;
	int ret = 0;

	if (bytes % chunk)
		return -EINVAL;
	mutex_lock(&gmem_reserve_shrink_lock);
	gmem_reserve_read(nid, order, &st);
	have = (u64)st.reserved * chunk;
	if (bytes > have) {
		ret = -EINVAL;
		goto out;
	}
	while (have > bytes) {
		struct gmem_reserve_block *b = NULL;
		unsigned int i, idx = 0;

		spin_lock(&gmem_reserve_lock);
		for (i = gmem_nr_blocks; i--; ) {
			u64 free;

			b = &gmem_blocks[i];
			free = gmem_block_free(b);
			if (b->order == order && b->nid == nid && free) {
				idx = fls64(free) - 1;
				/* Taken, so that no owner gets it meanwhile. */
				b->used |= BIT_ULL(idx);
				break;
			}
			b = NULL;
		}
		spin_unlock(&gmem_reserve_lock);
		if (!b) {
			ret = -EBUSY;
			break;
		}
		ret = gmem_reserve_release_one(b, idx);
		if (ret) {
			/* Poisoned meanwhile: it stays; try the next. */
			if (ret == -EHWPOISON) {
				ret = 0;
				continue;
			}
			break;
		}
		have -= chunk;
		cond_resched();
	}
out:
	mutex_unlock(&gmem_reserve_shrink_lock);
	return ret;
}

#include "tests/reserve-kunit.h"
