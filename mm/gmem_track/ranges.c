// SPDX-License-Identifier: GPL-2.0
/*
 * gmem_track ranges: which PFNs back which indices of a tracked guest_memfd.
 *
 * Encoding
 * --------
 * A maple tree maps file indices [first, last] to value entries
 * (xa_mk_value()), so no object is allocated per range:
 *
 *   value bits:  BITS_PER_LONG-2 ... 6 | 5 ... 2 | 1 ... 0
 *                base                  | flags   | state
 *
 * base is (pfn - index) modulo 2^GMEM_RANGE_BASE_BITS.  It does not depend
 * on where the entry starts, so every piece the maple tree cuts out of an
 * entry is still right (pfn(index) = base + index), and two adjacent entries
 * holding the same value are physically contiguous with the same state and
 * flags: storing that value once over both merges them.  PFNs stay below
 * GMEM_RANGE_PFN_LIMIT, so no run of equal entries wraps around.
 *
 * All or nothing
 * --------------
 * Every operation either succeeds or fails with the contents of the tree
 * unchanged.  Insert and remove are one maple tree store each, and a store
 * that fails changes nothing.  A conversion (gmem_ranges_set_state()) is
 * several stores: the entries that cross the edges of the span are cut
 * (stores that may allocate maple nodes), the entries inside are rewritten.
 * Overwriting exactly one existing entry [a, b] with another non-NULL value
 * is an exact-fit store: the maple tree writes the slot in place with
 * rcu_assign_pointer() and allocates nothing, in RCU mode too.  So a
 * conversion cuts both edges first; if the second cut fails, the first is
 * undone by an exact-fit store of its old value; only then are the entries
 * inside rewritten, which cannot fail.
 *
 * Merging adjacent equal entries is best effort: a merge that fails for lack
 * of memory (or the undo of a first cut) leaves a correct tree with more
 * entries than needed.  Readers coalesce runs of equal entries, so they see
 * the same ranges either way.
 *
 * Writers are serialized by the owner's lock.  The maple tree's own spinlock
 * is taken as well, and mas_store_gfp() drops it to allocate when @gfp may
 * sleep, so the tree must not change under a writer except by that writer.
 */

#define pr_fmt(fmt) "gmem_track: " fmt

#include "ranges.h"

#define GMEM_RANGE_STATE_BITS	2
#define GMEM_RANGE_STATE_MASK	((1U << GMEM_RANGE_STATE_BITS) - 1)
#define GMEM_RANGE_TAG_BITS	(GMEM_RANGE_STATE_BITS + GMEM_RANGE_FLAG_BITS)
/* xa_mk_value() keeps BITS_PER_LONG - 1 bits. */
#define GMEM_RANGE_BASE_BITS	(BITS_PER_LONG - 1 - GMEM_RANGE_TAG_BITS)
#define GMEM_RANGE_BASE_MASK	(BIT(GMEM_RANGE_BASE_BITS) - 1)
/* pfn + nr must not exceed this: the last PFN is below the base mask. */
#define GMEM_RANGE_PFN_LIMIT	GMEM_RANGE_BASE_MASK

static void *gmem_range_encode(unsigned long base,
			       enum gmem_range_state state, unsigned int flags)
{
	return xa_mk_value((base & GMEM_RANGE_BASE_MASK) << GMEM_RANGE_TAG_BITS |
			   flags << GMEM_RANGE_STATE_BITS | state);
}

static unsigned long gmem_range_base(void *entry)
{
	return xa_to_value(entry) >> GMEM_RANGE_TAG_BITS;
}

/* The same PFNs with a new state and new flags. */
static void *gmem_range_recode(void *entry, enum gmem_range_state state,
			       unsigned int flags)
{
	return gmem_range_encode(gmem_range_base(entry), state, flags);
}

static void gmem_range_decode(void *entry, pgoff_t first, pgoff_t last,
			      struct gmem_range *out)
{
	unsigned long v = xa_to_value(entry);

	out->index = first;
	out->nr = last - first + 1;
	out->pfn = (gmem_range_base(entry) + first) & GMEM_RANGE_BASE_MASK;
	out->state = v & GMEM_RANGE_STATE_MASK;
	out->flags = (v >> GMEM_RANGE_STATE_BITS) & GMEM_RANGE_FLAG_MASK;
}

/* [index, index + nr) is not empty and index + nr does not overflow. */
static bool gmem_range_span_valid(pgoff_t index, unsigned long nr)
{
	pgoff_t end;

	return nr && !check_add_overflow(index, nr, &end);
}

static bool gmem_range_attr_valid(enum gmem_range_state state,
				  unsigned int flags)
{
	return (unsigned int)state <= GMEM_RANGE_POISONED &&
	       !(flags & ~GMEM_RANGE_FLAG_MASK);
}

static int gmem_ranges_store(struct ma_state *mas, pgoff_t first,
			     pgoff_t last, void *entry, gfp_t gfp)
{
	mas_set_range(mas, first, last);
	return mas_store_gfp(mas, entry, gfp);
}

/*
 * Extend [*first, *last], which holds @entry, over the adjacent entries that
 * hold the same value.  Returns the number of tree entries in the run.  The
 * caller holds the tree lock or the RCU read lock.
 */
static unsigned long gmem_ranges_run(struct maple_tree *mt, void *entry,
				     pgoff_t *first, pgoff_t *last)
{
	MA_STATE(mas, mt, 0, 0);
	unsigned long n = 1;

	while (*first) {
		mas_set(&mas, *first - 1);
		if (mas_walk(&mas) != entry)
			break;
		*first = mas.index;
		n++;
	}
	while (*last < ULONG_MAX) {
		mas_set(&mas, *last + 1);
		if (mas_walk(&mas) != entry)
			break;
		*last = mas.last;
		n++;
	}
	return n;
}

/*
 * Best effort: store each run of equal entries that meets [first, last] as
 * one entry.  A failed store leaves the tree as it was.
 */
static void gmem_ranges_merge(struct maple_tree *mt, pgoff_t first,
			      pgoff_t last, gfp_t gfp)
{
	MA_STATE(mas, mt, first, first);
	pgoff_t start, end;
	void *entry;

	while ((entry = mas_find(&mas, last))) {
		start = mas.index;
		end = mas.last;
		if (gmem_ranges_run(mt, entry, &start, &end) > 1 &&
		    gmem_ranges_store(&mas, start, end, entry, gfp))
			return;
		if (end >= last)
			return;
		mas_set(&mas, end + 1);
	}
}

/*
 * Very subtle: a conversion converts the entries that cross @index or @last
 * first.  Those are its only stores that cut an entry, so its only stores that
 * need new maple nodes.  If the second one fails, the first is undone by
 * storing the old value over exactly the entry the first one created: an
 * exact fit, which cannot fail.  The tree then holds what it held before,
 * possibly as one more entry, which the best-effort merge rejoins if it can.
 */
static int gmem_ranges_cut_edges(struct maple_tree *mt, pgoff_t index,
				 pgoff_t last, enum gmem_range_state state,
				 unsigned int flags, gfp_t gfp)
{
	MA_STATE(mas, mt, index, index);
	void *entry, *new, *old = NULL;
	pgoff_t cut_last = 0;
	int ret;

	entry = mas_walk(&mas);
	if (entry && mas.index < index) {
		new = gmem_range_recode(entry, state, flags);
		if (new != entry) {
			cut_last = min(mas.last, last);
			ret = gmem_ranges_store(&mas, index, cut_last, new, gfp);
			if (ret)
				return ret;
			old = entry;
		}
	}

	mas_set(&mas, last);
	entry = mas_walk(&mas);
	if (!entry || mas.last <= last)
		return 0;
	new = gmem_range_recode(entry, state, flags);
	if (new == entry)
		return 0;
	ret = gmem_ranges_store(&mas, max(mas.index, index), last, new, gfp);
	if (ret && old) {
		WARN_ON_ONCE(gmem_ranges_store(&mas, index, cut_last, old, gfp));
		gmem_ranges_merge(mt, index - 1, cut_last + 1, gfp);
	}
	return ret;
}

/**
 * gmem_ranges_init() - Initialise an empty set of ranges.
 * @r: The ranges of one owner.
 *
 * Context: Any context.
 */
void gmem_ranges_init(struct gmem_ranges *r)
{
	/*
	 * ALLOC_RANGE: internal nodes keep their metadata out of the slots,
	 * which the RCU free of a large dead subtree needs (see the harness's
	 * attr_pattern test).
	 */
	mt_init_flags(&r->mt, MT_FLAGS_ALLOC_RANGE | MT_FLAGS_USE_RCU);
}

/**
 * gmem_ranges_destroy() - Forget every range and free the tree.
 * @r: The ranges of one owner.
 *
 * The memory the ranges describe is not touched.  Nodes are freed after an
 * RCU grace period, so concurrent readers stay safe.
 *
 * Context: Process context; the caller holds the owner's lock.
 */
void gmem_ranges_destroy(struct gmem_ranges *r)
{
	mtree_destroy(&r->mt);
}

/**
 * gmem_ranges_insert() - Record that [index, index + nr) is backed by PFNs.
 * @r: The ranges of one owner.
 * @index: First file index, in 4 KiB pages.
 * @nr: Number of pages.
 * @pfn: PFN backing @index; @index + i is backed by @pfn + i.
 * @state: State of the new range.
 * @flags: Opaque caller flags, below BIT(GMEM_RANGE_FLAG_BITS).
 * @gfp: Allocation flags for maple tree nodes.
 *
 * The new range merges with adjacent ranges that continue it physically and
 * have the same state and flags, in the same single store: either the whole
 * range is inserted, merged, or nothing changes.
 *
 * Context: The caller holds the owner's lock.  May sleep if @gfp allows.
 * Return: 0 on success.
 * * -EINVAL - @nr is 0, @index + @nr overflows, @state or @flags is invalid,
 *   or @pfn + @nr is too large to encode.
 * * -EEXIST - some index of the span is already present; nothing changed.
 * * -ENOMEM - no memory for maple tree nodes; nothing changed.
 */
int gmem_ranges_insert(struct gmem_ranges *r, pgoff_t index, unsigned long nr,
		       unsigned long pfn, enum gmem_range_state state,
		       unsigned int flags, gfp_t gfp)
{
	MA_STATE(mas, &r->mt, index, index);
	pgoff_t first, last;
	unsigned long end_pfn;
	void *entry;
	int ret;

	if (!gmem_range_span_valid(index, nr) ||
	    !gmem_range_attr_valid(state, flags) ||
	    check_add_overflow(pfn, nr, &end_pfn) ||
	    end_pfn > GMEM_RANGE_PFN_LIMIT)
		return -EINVAL;

	first = index;
	last = index + nr - 1;
	entry = gmem_range_encode(pfn - index, state, flags);

	mtree_lock(&r->mt);
	if (mas_find(&mas, last)) {
		ret = -EEXIST;
		goto unlock;
	}
	gmem_ranges_run(&r->mt, entry, &first, &last);
	ret = gmem_ranges_store(&mas, first, last, entry, gfp);
unlock:
	mtree_unlock(&r->mt);
	return ret;
}

/**
 * gmem_ranges_set_state() - Convert the ranges within a span.
 * @r: The ranges of one owner.
 * @index: First file index, in 4 KiB pages.
 * @nr: Number of pages.
 * @state: New state.
 * @flags: New opaque caller flags, below BIT(GMEM_RANGE_FLAG_BITS).
 * @gfp: Allocation flags for maple tree nodes.
 *
 * Every present index of [index, index + nr) gets @state and @flags and keeps
 * its PFN.  Holes in the span are skipped: they stay holes.  The conversion
 * is all or nothing: on error no index has changed.  Afterwards the converted
 * ranges merge with equal neighbours where memory allows.
 *
 * Context: The caller holds the owner's lock.  May sleep if @gfp allows.
 * Return: 0 on success, also when the span holds nothing.
 * * -EINVAL - @nr is 0, @index + @nr overflows, or @state or @flags is
 *   invalid.
 * * -ENOMEM - no memory for maple tree nodes; nothing changed.
 */
int gmem_ranges_set_state(struct gmem_ranges *r, pgoff_t index,
			  unsigned long nr, enum gmem_range_state state,
			  unsigned int flags, gfp_t gfp)
{
	MA_STATE(mas, &r->mt, index, index);
	pgoff_t last, end;
	void *entry, *new;
	int ret;

	if (!gmem_range_span_valid(index, nr) ||
	    !gmem_range_attr_valid(state, flags))
		return -EINVAL;
	last = index + nr - 1;

	mtree_lock(&r->mt);
	ret = gmem_ranges_cut_edges(&r->mt, index, last, state, flags, gfp);
	if (ret)
		goto unlock;

	/*
	 * Both edges are cut: every entry that still needs converting lies
	 * inside the span, so each store below is an exact fit and cannot fail.
	 */
	while ((entry = mas_find(&mas, last))) {
		end = mas.last;
		new = gmem_range_recode(entry, state, flags);
		if (new != entry) {
			WARN_ON_ONCE(mas.index < index || end > last);
			WARN_ON_ONCE(gmem_ranges_store(&mas, mas.index, end,
						       new, gfp));
		}
		if (end >= last)
			break;
		mas_set(&mas, end + 1);
	}
	gmem_ranges_merge(&r->mt, index ? index - 1 : 0, last + 1, gfp);
unlock:
	mtree_unlock(&r->mt);
	return ret;
}

/**
 * gmem_ranges_remove() - Forget the ranges within a span.
 * @r: The ranges of one owner.
 * @index: First file index, in 4 KiB pages.
 * @nr: Number of pages.
 * @gfp: Allocation flags for maple tree nodes (cutting a range needs some).
 *
 * Holes in the span are allowed.  The memory is not touched.
 *
 * Context: The caller holds the owner's lock.  May sleep if @gfp allows.
 * Return: 0 on success.
 * * -EINVAL - @nr is 0 or @index + @nr overflows.
 * * -ENOMEM - no memory for maple tree nodes; nothing changed.
 */
int gmem_ranges_remove(struct gmem_ranges *r, pgoff_t index, unsigned long nr,
		       gfp_t gfp)
{
	MA_STATE(mas, &r->mt, index, index);
	int ret;

	if (!gmem_range_span_valid(index, nr))
		return -EINVAL;

	mtree_lock(&r->mt);
	ret = gmem_ranges_store(&mas, index, index + nr - 1, NULL, gfp);
	mtree_unlock(&r->mt);
	return ret;
}

/**
 * gmem_ranges_lookup() - Find the range that holds an index.
 * @r: The ranges of one owner.
 * @index: File index, in 4 KiB pages.
 * @out: Filled with the whole range holding @index, if there is one.
 *
 * Context: Any context; takes the RCU read lock.  A lookup that races with a
 * writer may see each piece before or after the write; callers that need a
 * stable answer hold the owner's lock (shared is enough).
 * Return: true if @index is present, false if it is a hole.
 */
bool gmem_ranges_lookup(struct gmem_ranges *r, pgoff_t index,
			struct gmem_range *out)
{
	MA_STATE(mas, &r->mt, index, index);
	pgoff_t first, last;
	void *entry;

	rcu_read_lock();
	entry = mas_walk(&mas);
	if (entry) {
		first = mas.index;
		last = mas.last;
		gmem_ranges_run(&r->mt, entry, &first, &last);
		gmem_range_decode(entry, first, last, out);
	}
	rcu_read_unlock();
	return !!entry;
}

/**
 * gmem_ranges_next() - Iterate over the ranges that meet a span.
 * @r: The ranges of one owner.
 * @index: In: first index to look at.  Out: the index after the range found.
 * @last: Last index to look at.
 * @out: Filled with the whole first range that meets [*index, last].
 *
 * Ranges come in increasing order of index; @out may start before *@index
 * and end after @last.  Use it as
 * ``while (gmem_ranges_next(r, &index, last, &rg)) { ... }``.
 *
 * Context: Any context; takes the RCU read lock (see gmem_ranges_lookup()).
 * Return: true if a range was found, false if [*index, last] holds none.
 */
bool gmem_ranges_next(struct gmem_ranges *r, pgoff_t *index, pgoff_t last,
		      struct gmem_range *out)
{
	MA_STATE(mas, &r->mt, *index, *index);
	pgoff_t first, end;
	void *entry;

	if (*index > last)
		return false;

	rcu_read_lock();
	entry = mas_find(&mas, last);
	if (entry) {
		first = mas.index;
		end = mas.last;
		gmem_ranges_run(&r->mt, entry, &first, &end);
		gmem_range_decode(entry, first, end, out);
		*index = end + 1;
	}
	rcu_read_unlock();
	return !!entry;
}

/**
 * gmem_ranges_max_order() - Largest order one mapping of an index can have.
 * @rg: A range, as filled by gmem_ranges_lookup() or gmem_ranges_next().
 * @index: A file index inside @rg.
 * @max_order: Largest order the caller can map.
 *
 * Finds the largest order k <= @max_order such that the naturally aligned
 * block of 2^k indices holding @index lies inside @rg and is backed by a
 * naturally aligned block of 2^k PFNs (pfn(@index) - @index is a multiple
 * of 2^k): what a 2 MiB or 1 GiB stage-2 mapping needs.
 *
 * Context: Any context.
 * Return: The order, from 0 to @max_order.
 * * -EINVAL - @index is outside @rg or @max_order is negative.
 */
int gmem_ranges_max_order(const struct gmem_range *rg, pgoff_t index,
			  int max_order)
{
	unsigned long base = rg->pfn - rg->index;
	pgoff_t last = rg->index + rg->nr - 1, start;
	int order;

	if (max_order < 0 || index < rg->index || index > last)
		return -EINVAL;

	order = min(max_order, BITS_PER_LONG - 1);
	if (base)
		order = min_t(int, order, __ffs(base));
	for (; order > 0; order--) {
		start = index & ~(BIT(order) - 1);
		if (start >= rg->index && start + (BIT(order) - 1) <= last)
			break;
	}
	return order;
}

/**
 * gmem_ranges_count() - Count the entries of the tree.
 * @r: The ranges of one owner.
 *
 * Counts maple tree entries, the memory the descriptor costs: equal adjacent
 * entries that are not merged yet count separately.
 *
 * Context: Any context; takes the RCU read lock.
 * Return: The number of entries.
 */
unsigned long gmem_ranges_count(struct gmem_ranges *r)
{
	MA_STATE(mas, &r->mt, 0, 0);
	unsigned long n = 0;
	void *entry;

	rcu_read_lock();
	mas_for_each(&mas, entry, ULONG_MAX)
		n++;
	rcu_read_unlock();
	return n;
}

/**
 * gmem_ranges_bytes() - Memory the descriptor takes.
 * @r: The ranges of one owner.
 *
 * Counts the maple nodes the tree is built of, leaves and internal nodes:
 * the entries are values stored in the nodes, so the nodes are all of it.
 * An empty tree, or one whose only entry is index 0 alone, takes no node;
 * a single range [0, n) takes one leaf.
 *
 * Context: The caller holds the owner's lock, which excludes writers, or
 * discards the figure if a writer ran alongside (the owner's sequence
 * count): such a walk reads only nodes RCU keeps, but may count nodes a
 * writer has just replaced.
 * Return: The bytes of the tree's nodes.
 */
unsigned long gmem_ranges_bytes(struct gmem_ranges *r)
{
	unsigned long nodes;

	rcu_read_lock();
	nodes = mt_nr_nodes(&r->mt);
	rcu_read_unlock();
	return nodes * sizeof(struct maple_node);
}
