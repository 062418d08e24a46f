// SPDX-License-Identifier: GPL-2.0
/*
 * Userspace tests of mm/gmem_track/ranges.c.
 *
 * ranges.c is included unchanged and runs on the kernel's own
 * lib/maple_tree.c (maple-shim.o), liburcu and the slab shim of
 * tools/testing/shared, which counts every maple node.  Output is TAP; the
 * exit status is non-zero if any test fails.  An optional argument seeds the
 * randomized tests.
 */
#include "gmem_test.h"

#include <pthread.h>
#include <string.h>
#include <time.h>
#include <urcu/uatomic.h>

#include "../../../mm/gmem_track/ranges.c"

#define PAGES_2M	512UL
#define PAGES_1G	(512UL * 512)
#define ORDER_2M	9
#define ORDER_1G	18
#define PFN_1G(n)	((n) * PAGES_1G)

unsigned long gmem_test_warnings;

static bool test_failed;
static unsigned int test_messages;
static unsigned long long rng_state;

/* ---- checks ---------------------------------------------------------- */

static bool check(bool ok, const char *what, const char *func, int line)
{
	if (ok)
		return true;
	test_failed = true;
	if (test_messages++ < 20)
		fprintf(stderr, "  %s:%d: failed: %s\n", func, line, what);
	return false;
}

static bool check_eq(unsigned long a, unsigned long b, const char *sa,
		     const char *sb, const char *func, int line)
{
	if (a == b)
		return true;
	test_failed = true;
	if (test_messages++ < 20)
		fprintf(stderr, "  %s:%d: failed: %s == %#lx, expected %s == %#lx\n",
			func, line, sa, a, sb, b);
	return false;
}

#define CHECK(cond)	check(!!(cond), #cond, __func__, __LINE__)
#define CHECK_EQ(a, b)	check_eq((unsigned long)(a), (unsigned long)(b), \
				 #a, #b, __func__, __LINE__)

static unsigned long rnd(unsigned long n)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (rng_state * 2685821657736338717ULL >> 11) % n;
}

/* ---- snapshots of the tree ------------------------------------------- */

#define SNAP_MAX	8192

struct raw_snap {
	unsigned int n;
	struct {
		unsigned long first, last;
		void *entry;
	} e[SNAP_MAX];
};

struct dec_snap {
	unsigned int n;
	struct gmem_range e[SNAP_MAX];
};

static struct raw_snap raw_a, raw_b, raw_ref;
static struct dec_snap dec_a, dec_b, dec_ref;

static void raw_snap(struct gmem_ranges *r, struct raw_snap *s)
{
	MA_STATE(mas, &r->mt, 0, 0);
	void *entry;

	s->n = 0;
	rcu_read_lock();
	mas_for_each(&mas, entry, ULONG_MAX) {
		if (s->n == SNAP_MAX)
			break;
		s->e[s->n].first = mas.index;
		s->e[s->n].last = mas.last;
		s->e[s->n].entry = entry;
		s->n++;
	}
	rcu_read_unlock();
}

static void dec_snap(struct gmem_ranges *r, struct dec_snap *s)
{
	pgoff_t index = 0;

	s->n = 0;
	while (s->n < SNAP_MAX &&
	       gmem_ranges_next(r, &index, ULONG_MAX, &s->e[s->n]))
		s->n++;
}

static bool raw_equal(const struct raw_snap *a, const struct raw_snap *b)
{
	return a->n == b->n && !memcmp(a->e, b->e, a->n * sizeof(a->e[0]));
}

static bool dec_equal(const struct dec_snap *a, const struct dec_snap *b)
{
	unsigned int i;

	if (a->n != b->n)
		return false;
	for (i = 0; i < a->n; i++) {
		if (a->e[i].index != b->e[i].index || a->e[i].nr != b->e[i].nr ||
		    a->e[i].pfn != b->e[i].pfn ||
		    a->e[i].state != b->e[i].state ||
		    a->e[i].flags != b->e[i].flags)
			return false;
	}
	return true;
}

/* No two touching entries hold the same value: nothing left to merge. */
static bool canonical(struct gmem_ranges *r)
{
	unsigned int i;

	raw_snap(r, &raw_a);
	for (i = 1; i < raw_a.n; i++) {
		if (raw_a.e[i - 1].last + 1 == raw_a.e[i].first &&
		    raw_a.e[i - 1].entry == raw_a.e[i].entry)
			return false;
	}
	return true;
}

/* The maple tree's own invariants (aborts with a dump if broken). */
static void validate(struct gmem_ranges *r)
{
	mtree_lock(&r->mt);
	mt_validate(&r->mt);
	mtree_unlock(&r->mt);
}

/* ---- a per-index model ----------------------------------------------- */

#define MODEL_MAX	(2 * PAGES_1G)

struct cell {
	bool present;
	unsigned char state;
	unsigned char flags;
	unsigned long pfn;
};

static struct cell model[MODEL_MAX];
static unsigned long model_n;

static void model_reset(unsigned long n)
{
	model_n = n;
	memset(model, 0, n * sizeof(model[0]));
}

/* Index i + 1 continues index i: they belong in one entry. */
static bool model_cont(unsigned long i)
{
	const struct cell *a = &model[i], *b = &model[i + 1];

	return i + 1 < model_n && a->present && b->present &&
	       b->pfn == a->pfn + 1 && a->state == b->state &&
	       a->flags == b->flags;
}

static unsigned long model_runs(void)
{
	unsigned long i, n = 0;

	for (i = 0; i < model_n; i++)
		if (model[i].present && (!i || !model_cont(i - 1)))
			n++;
	return n;
}

static int model_insert(unsigned long index, unsigned long nr,
			unsigned long pfn, unsigned int state,
			unsigned int flags)
{
	unsigned long i;

	for (i = 0; i < nr; i++)
		if (model[index + i].present)
			return -EEXIST;
	for (i = 0; i < nr; i++) {
		model[index + i].present = true;
		model[index + i].pfn = pfn + i;
		model[index + i].state = state;
		model[index + i].flags = flags;
	}
	return 0;
}

static void model_set_state(unsigned long index, unsigned long nr,
			    unsigned int state, unsigned int flags)
{
	unsigned long i;

	for (i = index; i < index + nr; i++) {
		if (model[i].present) {
			model[i].state = state;
			model[i].flags = flags;
		}
	}
}

static void model_remove(unsigned long index, unsigned long nr)
{
	memset(&model[index], 0, nr * sizeof(model[0]));
}

/* Largest order the model allows at present index @i, by brute force. */
static int model_max_order(unsigned long i, int max_order)
{
	unsigned long first = i, last = i, start;
	int k;

	while (first && model_cont(first - 1))
		first--;
	while (model_cont(last))
		last++;
	for (k = max_order; k > 0; k--) {
		start = i & ~((1UL << k) - 1);
		if ((model[i].pfn - i) % (1UL << k) == 0 && start >= first &&
		    start + (1UL << k) - 1 <= last)
			break;
	}
	return k;
}

/*
 * Compare every index of the model with the tree, through gmem_ranges_next()
 * and a few gmem_ranges_lookup() and gmem_ranges_max_order() calls; if
 * @compact, the tree must also hold exactly one entry per run.
 */
static bool model_check(struct gmem_ranges *r, bool compact)
{
	struct gmem_range rg, lk;
	pgoff_t index = 0, i, pos = 0;
	unsigned int k;

	while (gmem_ranges_next(r, &index, model_n - 1, &rg)) {
		if (!CHECK(rg.index >= pos && rg.nr &&
			   rg.index + rg.nr <= model_n))
			return false;
		for (i = pos; i < rg.index; i++)
			if (!CHECK(!model[i].present))
				return false;
		/* A decoded range is a whole run of the model. */
		if (!CHECK(!rg.index || !model_cont(rg.index - 1)) ||
		    !CHECK(!model_cont(rg.index + rg.nr - 1)))
			return false;
		for (i = rg.index; i < rg.index + rg.nr; i++) {
			if (!CHECK(model[i].present) ||
			    !CHECK_EQ(rg.pfn + (i - rg.index), model[i].pfn) ||
			    !CHECK_EQ(rg.state, model[i].state) ||
			    !CHECK_EQ(rg.flags, model[i].flags))
				return false;
		}
		pos = rg.index + rg.nr;
	}
	for (i = pos; i < model_n; i++)
		if (!CHECK(!model[i].present))
			return false;

	for (k = 0; k < 8; k++) {
		i = rnd(model_n);
		if (!CHECK_EQ(gmem_ranges_lookup(r, i, &lk), model[i].present))
			return false;
		if (model[i].present &&
		    !CHECK_EQ(gmem_ranges_max_order(&lk, i, ORDER_1G),
			      model_max_order(i, ORDER_1G)))
			return false;
	}
	if (compact)
		return CHECK(canonical(r)) &&
		       CHECK_EQ(gmem_ranges_count(r), model_runs());
	return CHECK(gmem_ranges_count(r) >= model_runs());
}

/* ---- deterministic tests --------------------------------------------- */

static void test_insert_lookup(void)
{
	struct gmem_ranges r;
	struct gmem_range rg;
	pgoff_t index;

	gmem_ranges_init(&r);
	CHECK(!gmem_ranges_lookup(&r, 0, &rg));
	CHECK_EQ(gmem_ranges_count(&r), 0);
	index = 0;
	CHECK(!gmem_ranges_next(&r, &index, ULONG_MAX, &rg));

	CHECK_EQ(gmem_ranges_insert(&r, 100, 10, 5000, GMEM_RANGE_PRIVATE, 0,
				    GFP_KERNEL), 0);
	CHECK(gmem_ranges_lookup(&r, 105, &rg));
	CHECK_EQ(rg.index, 100);
	CHECK_EQ(rg.nr, 10);
	CHECK_EQ(rg.pfn, 5000);
	CHECK_EQ(rg.state, GMEM_RANGE_PRIVATE);
	CHECK_EQ(rg.flags, 0);
	CHECK(!gmem_ranges_lookup(&r, 99, &rg));
	CHECK(!gmem_ranges_lookup(&r, 110, &rg));

	/* Index 0 alone: the maple tree keeps it in the root pointer. */
	CHECK_EQ(gmem_ranges_insert(&r, 0, 1, 77, GMEM_RANGE_SHARED, 15,
				    GFP_KERNEL), 0);
	CHECK(gmem_ranges_lookup(&r, 0, &rg));
	CHECK_EQ(rg.pfn, 77);
	CHECK_EQ(rg.state, GMEM_RANGE_SHARED);
	CHECK_EQ(rg.flags, 15);

	/* The highest indices: index + nr may reach but not pass ULONG_MAX. */
	CHECK_EQ(gmem_ranges_insert(&r, ULONG_MAX - 16, 16, 1UL << 40,
				    GMEM_RANGE_POISONED, 0, GFP_KERNEL), 0);
	CHECK(gmem_ranges_lookup(&r, ULONG_MAX - 1, &rg));
	CHECK_EQ(rg.pfn, (1UL << 40));
	CHECK_EQ(rg.nr, 16);
	CHECK(!gmem_ranges_lookup(&r, ULONG_MAX, &rg));
	CHECK_EQ(gmem_ranges_count(&r), 3);

	/* Iteration returns the entries in order and stops. */
	index = 0;
	CHECK(gmem_ranges_next(&r, &index, ULONG_MAX, &rg));
	CHECK_EQ(rg.index, 0);
	CHECK_EQ(index, 1);
	CHECK(gmem_ranges_next(&r, &index, ULONG_MAX, &rg));
	CHECK_EQ(rg.index, 100);
	CHECK(gmem_ranges_next(&r, &index, ULONG_MAX, &rg));
	CHECK_EQ(rg.index, ULONG_MAX - 16);
	CHECK_EQ(index, ULONG_MAX);
	CHECK(!gmem_ranges_next(&r, &index, ULONG_MAX, &rg));
	validate(&r);
	gmem_ranges_destroy(&r);
}

/* 512 physically contiguous 2M pieces, inserted in random order: one entry. */
static void test_merge_1g_from_2m(void)
{
	unsigned long order[512], i, j, t, runs = 0;
	unsigned long base = PAGES_1G, pfn = PFN_1G(3);
	bool present[514] = {};
	struct gmem_ranges r;
	struct gmem_range rg;

	for (i = 0; i < 512; i++)
		order[i] = i;
	for (i = 511; i > 0; i--) {
		j = rnd(i + 1);
		t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	gmem_ranges_init(&r);
	model_reset(2 * PAGES_1G);
	for (i = 0; i < 512; i++) {
		j = order[i];
		CHECK_EQ(gmem_ranges_insert(&r, base + j * PAGES_2M, PAGES_2M,
					    pfn + j * PAGES_2M,
					    GMEM_RANGE_PRIVATE, 0, GFP_KERNEL), 0);
		model_insert(base + j * PAGES_2M, PAGES_2M, pfn + j * PAGES_2M,
			     GMEM_RANGE_PRIVATE, 0);
		/* present[] is shifted by one: present[0], present[513] stay false. */
		runs += !present[j] + !present[j + 2] - 1;
		present[j + 1] = true;
		if (!CHECK(canonical(&r)) ||
		    !CHECK_EQ(gmem_ranges_count(&r), runs))
			break;
	}
	CHECK_EQ(gmem_ranges_count(&r), 1);
	CHECK(gmem_ranges_lookup(&r, base + 12345, &rg));
	CHECK_EQ(rg.index, base);
	CHECK_EQ(rg.nr, PAGES_1G);
	CHECK_EQ(rg.pfn, pfn);
	CHECK_EQ(gmem_ranges_max_order(&rg, base + 12345, ORDER_1G), ORDER_1G);
	CHECK_EQ(gmem_ranges_max_order(&rg, base + 12345, ORDER_2M), ORDER_2M);
	/* pfn - index is 2^19 but the entry holds no aligned 2^19 block. */
	CHECK_EQ(gmem_ranges_max_order(&rg, base + 12345, 30), ORDER_1G);
	model_check(&r, true);
	validate(&r);
	gmem_ranges_destroy(&r);
}

static void setup_1g(struct gmem_ranges *r)
{
	gmem_ranges_init(r);
	model_reset(PAGES_1G + 1024);
	gmem_ranges_insert(r, 0, PAGES_1G, PFN_1G(5), GMEM_RANGE_PRIVATE, 0,
			   GFP_KERNEL);
	model_insert(0, PAGES_1G, PFN_1G(5), GMEM_RANGE_PRIVATE, 0);
}

static bool set_state_both(struct gmem_ranges *r, unsigned long index,
			   unsigned long nr, unsigned int state,
			   unsigned int flags)
{
	model_set_state(index, nr, state, flags);
	return CHECK_EQ(gmem_ranges_set_state(r, index, nr, state, flags,
					      GFP_KERNEL), 0);
}

/* Conversion splits into exactly the entries needed, and converting back
 * merges them again.
 */
static void test_split_and_remerge(void)
{
	struct gmem_ranges r;
	struct gmem_range rg;

	setup_1g(&r);
	set_state_both(&r, 3 * PAGES_2M, PAGES_2M, GMEM_RANGE_SHARED, 0);
	CHECK_EQ(gmem_ranges_count(&r), 3);
	CHECK(gmem_ranges_lookup(&r, 3 * PAGES_2M + 7, &rg));
	CHECK_EQ(rg.index, 3 * PAGES_2M);
	CHECK_EQ(rg.nr, PAGES_2M);
	CHECK_EQ(rg.pfn, PFN_1G(5) + 3 * PAGES_2M);
	CHECK_EQ(rg.state, GMEM_RANGE_SHARED);
	CHECK_EQ(gmem_ranges_max_order(&rg, 3 * PAGES_2M + 7, ORDER_1G),
		 ORDER_2M);
	model_check(&r, true);

	/* Neighbouring 2M converted too: merges with the first one. */
	set_state_both(&r, 4 * PAGES_2M, PAGES_2M, GMEM_RANGE_SHARED, 0);
	CHECK_EQ(gmem_ranges_count(&r), 3);
	model_check(&r, true);

	/* A span over three entries, cutting two of them. */
	set_state_both(&r, 2 * PAGES_2M + 100, 2 * PAGES_2M,
		       GMEM_RANGE_POISONED, 1);
	model_check(&r, true);
	CHECK_EQ(gmem_ranges_count(&r), 4);

	/* One page, different flags, in the middle of the poisoned range. */
	set_state_both(&r, 3 * PAGES_2M, 1, GMEM_RANGE_POISONED, 2);
	model_check(&r, true);
	CHECK_EQ(gmem_ranges_count(&r), 6);

	/* Converting to what is there already changes nothing. */
	set_state_both(&r, 3 * PAGES_2M, 1, GMEM_RANGE_POISONED, 2);
	CHECK_EQ(gmem_ranges_count(&r), 6);

	/* Everything back: one entry again. */
	set_state_both(&r, 0, PAGES_1G, GMEM_RANGE_PRIVATE, 0);
	CHECK_EQ(gmem_ranges_count(&r), 1);
	CHECK(gmem_ranges_lookup(&r, 0, &rg));
	CHECK_EQ(rg.nr, PAGES_1G);
	model_check(&r, true);

	/* Every other 2M shared, then back one by one. */
	for (unsigned long i = 0; i < 512; i += 2)
		set_state_both(&r, i * PAGES_2M, PAGES_2M, GMEM_RANGE_SHARED, 0);
	CHECK_EQ(gmem_ranges_count(&r), 512);
	model_check(&r, true);
	for (unsigned long i = 0; i < 512; i += 2)
		set_state_both(&r, i * PAGES_2M, PAGES_2M, GMEM_RANGE_PRIVATE, 0);
	CHECK_EQ(gmem_ranges_count(&r), 1);
	model_check(&r, true);
	validate(&r);
	gmem_ranges_destroy(&r);
}

/*
 * Tens of thousands of entries merged back into one: the spanning store
 * kills a subtree three levels deep, which an RCU tree frees from an RCU
 * callback (mt_free_walk()). That walk must not take the metadata of a
 * node with 15 children for a child pointer.
 */
static void test_deep_merge(void)
{
	struct gmem_ranges r;
	unsigned long i, pages;

	for (pages = 2000; pages <= 64000; pages += 1000 + rnd(500) * 2) {
		setup_1g(&r);
		for (i = 0; i < pages; i += 2)
			CHECK_EQ(gmem_ranges_set_state(&r, i, 1,
						       GMEM_RANGE_SHARED, 0,
						       GFP_KERNEL), 0);
		CHECK_EQ(gmem_ranges_count(&r), pages);
		CHECK_EQ(gmem_ranges_set_state(&r, 0, PAGES_1G,
					       GMEM_RANGE_PRIVATE, 0,
					       GFP_KERNEL), 0);
		CHECK_EQ(gmem_ranges_count(&r), 1);
		rcu_barrier();
		validate(&r);
		gmem_ranges_destroy(&r);
	}
}

static long allocated(void);

/*
 * gmem_ranges_bytes() against the allocator: with one tree alive, every
 * maple node allocated is one of its nodes, so the count mt_nr_nodes()
 * walks must be what the allocator holds, while the tree grows from one
 * entry to tens of thousands (internal nodes on several levels) and when
 * it is merged back.
 */
static void test_descriptor_bytes(void)
{
	unsigned long i, pages, node = sizeof(struct maple_node);
	long base = allocated();
	struct gmem_ranges r;

	gmem_ranges_init(&r);
	CHECK_EQ(gmem_ranges_bytes(&r), 0);
	for (pages = 0; pages <= 40000; pages = pages * 3 + 2 + rnd(50) * 2) {
		setup_1g(&r);
		/* One entry from index 0 to the end: one leaf. */
		CHECK_EQ(gmem_ranges_bytes(&r), node);
		for (i = 0; i < pages; i += 2)
			CHECK_EQ(gmem_ranges_set_state(&r, i, 1,
						       GMEM_RANGE_SHARED, 0,
						       GFP_KERNEL), 0);
		CHECK_EQ(gmem_ranges_bytes(&r), (allocated() - base) * node);
		CHECK_EQ(gmem_ranges_set_state(&r, 0, PAGES_1G,
					       GMEM_RANGE_PRIVATE, 0,
					       GFP_KERNEL), 0);
		CHECK_EQ(gmem_ranges_bytes(&r), (allocated() - base) * node);
		CHECK_EQ(gmem_ranges_bytes(&r), node);
		gmem_ranges_destroy(&r);
		CHECK_EQ(allocated(), base);
	}

	/*
	 * A tree without MT_FLAGS_ALLOC_RANGE, as the pool's PFN tree:
	 * range_64 internal nodes, whose last child's range ends at the
	 * parent's maximum rather than at a pivot.
	 */
	for (pages = 1; pages <= 40000; pages = pages * 3 + rnd(50)) {
		struct maple_tree mt;
		unsigned long nodes;
		long held;

		mt_init_flags(&mt, MT_FLAGS_USE_RCU);
		for (i = 0; i < pages; i++)
			CHECK_EQ(mtree_store_range(&mt, i * 4, i * 4 + 1,
						   xa_mk_value(i), GFP_KERNEL), 0);
		held = allocated() - base;
		mtree_lock(&mt);
		nodes = mt_nr_nodes(&mt);
		mtree_unlock(&mt);
		CHECK_EQ(nodes, held);
		mtree_destroy(&mt);
		CHECK_EQ(allocated(), base);
	}
}

/*
 * The pattern of guest_memfd's attribute tree: value entries for private
 * pages, NULL for shared ones, random pages made shared, then the whole
 * file made private with one preallocated store. Linux 7.3's RCU free of
 * the dead subtree (mt_free_walk()) takes the metadata of a range_64 node
 * with 15 children for a 16th child and frees garbage; MT_FLAGS_ALLOC_RANGE
 * keeps internal nodes' metadata out of their slots, so guest_memfd and
 * ranges.c both set it. Without it this test fails under ASan.
 */
static void test_attr_pattern(void)
{
	struct maple_tree mt;
	unsigned long i, n, pages = 262144;
	void *priv = xa_mk_value(8);
	int round;

	for (round = 0; round < 6; round++) {
		unsigned long want = 1000UL << round;

		mt_init_flags(&mt, MT_FLAGS_ALLOC_RANGE | MT_FLAGS_USE_RCU);
		mtree_store_range(&mt, 0, pages - 1, priv, GFP_KERNEL);
		for (n = 0; n < want; n++) {
			i = rnd(pages);
			mtree_store_range(&mt, i, i, NULL, GFP_KERNEL);
		}
		{
			MA_STATE(mas, &mt, 0, pages - 1);

			CHECK_EQ(mas_preallocate(&mas, priv, GFP_KERNEL), 0);
			mas_store_prealloc(&mas, priv);
			mas_destroy(&mas);
		}
		rcu_barrier();
		CHECK(mtree_load(&mt, 12345) == priv);
		mtree_destroy(&mt);
		rcu_barrier();
	}
}

static void test_no_merge(void)
{
	struct gmem_ranges r;

	gmem_ranges_init(&r);
	model_reset(4096);
	/* Adjacent indices, PFNs not contiguous. */
	CHECK_EQ(model_insert(0, 512, 1000, 0, 0), 0);
	CHECK_EQ(gmem_ranges_insert(&r, 0, 512, 1000, 0, 0, GFP_KERNEL), 0);
	CHECK_EQ(model_insert(512, 512, 3000, 0, 0), 0);
	CHECK_EQ(gmem_ranges_insert(&r, 512, 512, 3000, 0, 0, GFP_KERNEL), 0);
	CHECK_EQ(gmem_ranges_count(&r), 2);
	/* Contiguous with the second: merges. */
	CHECK_EQ(model_insert(1024, 512, 3512, 0, 0), 0);
	CHECK_EQ(gmem_ranges_insert(&r, 1024, 512, 3512, 0, 0, GFP_KERNEL), 0);
	CHECK_EQ(gmem_ranges_count(&r), 2);
	/* Contiguous PFNs, other state; then other flags. */
	CHECK_EQ(model_insert(1536, 16, 4024, GMEM_RANGE_SHARED, 0), 0);
	CHECK_EQ(gmem_ranges_insert(&r, 1536, 16, 4024, GMEM_RANGE_SHARED, 0,
				    GFP_KERNEL), 0);
	CHECK_EQ(model_insert(1552, 16, 4040, GMEM_RANGE_SHARED, 1), 0);
	CHECK_EQ(gmem_ranges_insert(&r, 1552, 16, 4040, GMEM_RANGE_SHARED, 1,
				    GFP_KERNEL), 0);
	CHECK_EQ(gmem_ranges_count(&r), 4);
	/* Contiguous PFNs across a hole: no merge until the hole is filled. */
	CHECK_EQ(model_insert(3000, 100, 10000, 0, 0), 0);
	CHECK_EQ(gmem_ranges_insert(&r, 3000, 100, 10000, 0, 0, GFP_KERNEL), 0);
	CHECK_EQ(model_insert(3101, 99, 10101, 0, 0), 0);
	CHECK_EQ(gmem_ranges_insert(&r, 3101, 99, 10101, 0, 0, GFP_KERNEL), 0);
	CHECK_EQ(gmem_ranges_count(&r), 6);
	CHECK_EQ(model_insert(3100, 1, 10100, 0, 0), 0);
	CHECK_EQ(gmem_ranges_insert(&r, 3100, 1, 10100, 0, 0, GFP_KERNEL), 0);
	CHECK_EQ(gmem_ranges_count(&r), 5);
	model_check(&r, true);
	validate(&r);
	gmem_ranges_destroy(&r);
}

static bool range_is(const struct gmem_range *rg, unsigned long index,
		     unsigned long nr, unsigned long pfn, unsigned int state,
		     unsigned int flags)
{
	return CHECK_EQ(rg->index, index) && CHECK_EQ(rg->nr, nr) &&
	       CHECK_EQ(rg->pfn, pfn) && CHECK_EQ(rg->state, state) &&
	       CHECK_EQ(rg->flags, flags);
}

/* Lookups and iteration on mixed ranges, and holes skipped by conversion. */
static void test_mixed_and_holes(void)
{
	struct gmem_ranges r;
	struct gmem_range rg;
	pgoff_t index;

	gmem_ranges_init(&r);
	gmem_ranges_insert(&r, 0, 512, 0x200000, GMEM_RANGE_PRIVATE, 0,
			   GFP_KERNEL);
	gmem_ranges_insert(&r, 512, 512, 0x400200, GMEM_RANGE_SHARED, 0,
			   GFP_KERNEL);
	gmem_ranges_insert(&r, 2048, 52, 0x600005, GMEM_RANGE_PRIVATE, 3,
			   GFP_KERNEL);

	index = 0;
	CHECK(gmem_ranges_next(&r, &index, ULONG_MAX, &rg));
	range_is(&rg, 0, 512, 0x200000, GMEM_RANGE_PRIVATE, 0);
	CHECK(gmem_ranges_next(&r, &index, ULONG_MAX, &rg));
	range_is(&rg, 512, 512, 0x400200, GMEM_RANGE_SHARED, 0);
	CHECK(gmem_ranges_next(&r, &index, ULONG_MAX, &rg));
	range_is(&rg, 2048, 52, 0x600005, GMEM_RANGE_PRIVATE, 3);
	CHECK(!gmem_ranges_next(&r, &index, ULONG_MAX, &rg));

	/* Starting inside a range returns the whole range. */
	index = 600;
	CHECK(gmem_ranges_next(&r, &index, 700, &rg));
	range_is(&rg, 512, 512, 0x400200, GMEM_RANGE_SHARED, 0);
	CHECK_EQ(index, 1024);
	CHECK(!gmem_ranges_next(&r, &index, 700, &rg));
	index = 1024;
	CHECK(!gmem_ranges_next(&r, &index, 2047, &rg));
	CHECK(gmem_ranges_next(&r, &index, 2048, &rg));
	range_is(&rg, 2048, 52, 0x600005, GMEM_RANGE_PRIVATE, 3);

	CHECK(gmem_ranges_lookup(&r, 1023, &rg));
	range_is(&rg, 512, 512, 0x400200, GMEM_RANGE_SHARED, 0);
	CHECK_EQ(gmem_ranges_max_order(&rg, 1023, ORDER_1G), ORDER_2M);
	CHECK(gmem_ranges_lookup(&r, 2050, &rg));
	CHECK_EQ(gmem_ranges_max_order(&rg, 2050, ORDER_1G), 0);

	/* Conversion over holes converts only what is present. */
	CHECK_EQ(gmem_ranges_set_state(&r, 1000, 1100, GMEM_RANGE_POISONED, 0,
				       GFP_KERNEL), 0);
	CHECK(!gmem_ranges_lookup(&r, 1024, &rg));
	CHECK(!gmem_ranges_lookup(&r, 2047, &rg));
	CHECK(gmem_ranges_lookup(&r, 1000, &rg));
	range_is(&rg, 1000, 24, 0x400200 + 488, GMEM_RANGE_POISONED, 0);
	CHECK(gmem_ranges_lookup(&r, 2099, &rg));
	range_is(&rg, 2048, 52, 0x600005, GMEM_RANGE_POISONED, 0);
	CHECK_EQ(gmem_ranges_count(&r), 4);
	/* A span that is only a hole. */
	CHECK_EQ(gmem_ranges_set_state(&r, 1024, 1024, GMEM_RANGE_SHARED, 0,
				       GFP_KERNEL), 0);
	CHECK_EQ(gmem_ranges_count(&r), 4);
	validate(&r);
	gmem_ranges_destroy(&r);
}

static void test_remove(void)
{
	struct gmem_ranges r;
	struct gmem_range rg;

	setup_1g(&r);
	model_remove(1000, 100);
	CHECK_EQ(gmem_ranges_remove(&r, 1000, 100, GFP_KERNEL), 0);
	CHECK(!gmem_ranges_lookup(&r, 1050, &rg));
	CHECK_EQ(gmem_ranges_count(&r), 2);
	model_check(&r, true);
	/* Removing a hole is fine. */
	CHECK_EQ(gmem_ranges_remove(&r, 1000, 100, GFP_KERNEL), 0);
	/* Put it back: one entry again. */
	model_insert(1000, 100, PFN_1G(5) + 1000, 0, 0);
	CHECK_EQ(gmem_ranges_insert(&r, 1000, 100, PFN_1G(5) + 1000, 0, 0,
				    GFP_KERNEL), 0);
	CHECK_EQ(gmem_ranges_count(&r), 1);
	model_check(&r, true);
	/* Remove everything, with holes around it. */
	CHECK_EQ(gmem_ranges_remove(&r, 0, PAGES_1G + 1000, GFP_KERNEL), 0);
	CHECK_EQ(gmem_ranges_count(&r), 0);
	validate(&r);
	gmem_ranges_destroy(&r);
}

/* Brute force max_order on entries of every alignment. */
static void test_max_order(void)
{
	static const unsigned long pfns[] = {
		0x100000, 0x100003, 0x100020, 0x100200, 0x140000 - 512,
	};
	struct gmem_range rg;
	struct gmem_ranges r;
	unsigned long p, i;

	for (p = 0; p < ARRAY_SIZE(pfns); p++) {
		gmem_ranges_init(&r);
		model_reset(5000);
		model_insert(700, 4000, pfns[p], 0, 0);
		gmem_ranges_insert(&r, 700, 4000, pfns[p], 0, 0, GFP_KERNEL);
		for (i = 700; i < 4700; i++) {
			CHECK(gmem_ranges_lookup(&r, i, &rg));
			if (!CHECK_EQ(gmem_ranges_max_order(&rg, i, ORDER_1G),
				      model_max_order(i, ORDER_1G)) ||
			    !CHECK_EQ(gmem_ranges_max_order(&rg, i, 3),
				      model_max_order(i, 3)))
				break;
		}
		gmem_ranges_destroy(&r);
	}
	rg = (struct gmem_range){ .index = 10, .nr = 10, .pfn = 10 };
	CHECK_EQ(gmem_ranges_max_order(&rg, 9, 9), -EINVAL);
	CHECK_EQ(gmem_ranges_max_order(&rg, 20, 9), -EINVAL);
	CHECK_EQ(gmem_ranges_max_order(&rg, 10, -1), -EINVAL);
	CHECK_EQ(gmem_ranges_max_order(&rg, 12, 0), 0);
	CHECK_EQ(gmem_ranges_max_order(&rg, 12, 9), 2);
}

/* Invalid requests fail, change nothing and allocate nothing. */
static void test_errors_change_nothing(void)
{
	struct gmem_ranges r;
	int k;

	gmem_ranges_init(&r);
	gmem_ranges_insert(&r, 100, 100, 5000, 0, 0, GFP_KERNEL);
	gmem_ranges_insert(&r, 300, 100, 9000, GMEM_RANGE_SHARED, 1,
			   GFP_KERNEL);
	raw_snap(&r, &raw_b);
	inject_reset();

	for (k = 0; k < 21; k++) {
		int ret = 0, want = -EINVAL;

		switch (k) {
		case 0:
			ret = gmem_ranges_insert(&r, 150, 10, 1, 0, 0, GFP_KERNEL);
			want = -EEXIST;
			break;
		case 1:
			ret = gmem_ranges_insert(&r, 50, 60, 1, 0, 0, GFP_KERNEL);
			want = -EEXIST;
			break;
		case 2:
			ret = gmem_ranges_insert(&r, 0, 1000, 1, 0, 0,
						 GFP_KERNEL);
			want = -EEXIST;
			break;
		case 3:
			ret = gmem_ranges_insert(&r, 100, 100, 5000, 0, 0,
						 GFP_KERNEL);
			want = -EEXIST;
			break;
		case 4:
			ret = gmem_ranges_insert(&r, 199, 2, 5099, 0, 0,
						 GFP_KERNEL);
			want = -EEXIST;
			break;
		case 5:
			ret = gmem_ranges_insert(&r, 0, 0, 1, 0, 0, GFP_KERNEL);
			break;
		case 6:
			ret = gmem_ranges_insert(&r, ULONG_MAX, 1, 1, 0, 0,
						 GFP_KERNEL);
			break;
		case 7:
			ret = gmem_ranges_insert(&r, ULONG_MAX - 9, 11, 1, 0, 0,
						 GFP_KERNEL);
			break;
		case 8:
			ret = gmem_ranges_insert(&r, 0, 1, 1, 3, 0, GFP_KERNEL);
			break;
		case 9:
			ret = gmem_ranges_insert(&r, 0, 1, 1, 0, 16, GFP_KERNEL);
			break;
		case 10:
			ret = gmem_ranges_insert(&r, 0, 10,
						 GMEM_RANGE_PFN_LIMIT - 9, 0, 0,
						 GFP_KERNEL);
			break;
		case 11:
			ret = gmem_ranges_insert(&r, 0, 10, ULONG_MAX - 3, 0, 0,
						 GFP_KERNEL);
			break;
		case 12:
			ret = gmem_ranges_set_state(&r, 100, 0, 0, 0,
						    GFP_KERNEL);
			break;
		case 13:
			ret = gmem_ranges_set_state(&r, 100, ULONG_MAX, 0, 0,
						    GFP_KERNEL);
			break;
		case 14:
			ret = gmem_ranges_set_state(&r, 100, 10, 4, 0,
						    GFP_KERNEL);
			break;
		case 15:
			ret = gmem_ranges_set_state(&r, 100, 10, 0, 0x10,
						    GFP_KERNEL);
			break;
		case 16:
			ret = gmem_ranges_remove(&r, 100, 0, GFP_KERNEL);
			break;
		case 17:
			ret = gmem_ranges_remove(&r, 2, ULONG_MAX, GFP_KERNEL);
			break;
		case 18:
			ret = gmem_ranges_insert(&r, 0, 1, 1, -1, 0, GFP_KERNEL);
			break;
		case 19:
			/* 200..299 are free, 300 is not. */
			ret = gmem_ranges_insert(&r, 200, 101, 5100, 0, 0,
						 GFP_KERNEL);
			want = -EEXIST;
			break;
		default:
			ret = gmem_ranges_insert(&r, 50, 60, 1, 0, 0, GFP_NOWAIT);
			want = -EEXIST;
			break;
		}
		CHECK_EQ(ret, want);
		raw_snap(&r, &raw_a);
		if (!CHECK(raw_equal(&raw_a, &raw_b)))
			fprintf(stderr, "  case %d changed the tree\n", k);
	}
	CHECK_EQ(inject_points(), 0);

	/* The largest PFN that can be encoded is accepted. */
	CHECK_EQ(gmem_ranges_insert(&r, 1000, 10, GMEM_RANGE_PFN_LIMIT - 10, 0,
				    0, GFP_KERNEL), 0);
	validate(&r);
	gmem_ranges_destroy(&r);
}

/*
 * What the all-or-nothing rule rests on: overwriting exactly one entry with
 * another non-NULL value never allocates, whatever the shape of the tree,
 * in RCU mode.
 */
static void test_exact_fit_never_allocates(void)
{
	static const unsigned long sizes[] = { 1, 2, 10, 100, 3000 };
	struct gmem_ranges r;
	unsigned long s, i, j, bad = 0, total = 0;

	for (s = 0; s < ARRAY_SIZE(sizes); s++) {
		gmem_ranges_init(&r);
		CHECK(mt_in_rcu(&r.mt));
		/* Alternating flags: nothing merges. */
		for (i = 0; i < sizes[s]; i++)
			gmem_ranges_insert(&r, i * 3, 2 + (i & 1), 1000 + i * 3,
					   0, i & 1, GFP_KERNEL);
		raw_snap(&r, &raw_b);
		CHECK_EQ(raw_b.n, sizes[s]);
		for (j = 0; j < raw_b.n; j++) {
			MA_STATE(mas, &r.mt, raw_b.e[j].first, raw_b.e[j].last);
			void *other = xa_mk_value(xa_to_value(raw_b.e[j].entry) ^
						  (1UL << GMEM_RANGE_STATE_BITS));

			inject_fail(0, ULONG_MAX);
			mtree_lock(&r.mt);
			CHECK_EQ(mas_store_gfp(&mas, other, GFP_KERNEL), 0);
			mas_set_range(&mas, raw_b.e[j].first, raw_b.e[j].last);
			CHECK_EQ(mas_store_gfp(&mas, raw_b.e[j].entry,
					       GFP_KERNEL), 0);
			mtree_unlock(&r.mt);
			bad += inject_points();
			total++;
			inject_reset();
		}
		raw_snap(&r, &raw_a);
		CHECK(raw_equal(&raw_a, &raw_b));
		validate(&r);
		gmem_ranges_destroy(&r);
	}
	CHECK_EQ(bad, 0);
	printf("# %lu exact-fit stores, %lu allocation attempts\n", 2 * total,
	       bad);
}

/* ---- allocation failures --------------------------------------------- */

/* 300 entries of 12 pages, 4-page holes, no two of them mergeable. */
static void setup_many(struct gmem_ranges *r)
{
	unsigned long i;

	gmem_ranges_init(r);
	for (i = 0; i < 300; i++)
		gmem_ranges_insert(r, i * 16, 12, 0x10000 + i * 64, i % 3,
				   i % 2, GFP_KERNEL);
}

/* The same, but all PFNs contiguous: filling a hole merges both sides. */
static void setup_chain(struct gmem_ranges *r)
{
	unsigned long i;

	gmem_ranges_init(r);
	for (i = 0; i < 300; i++)
		gmem_ranges_insert(r, i * 16, 12, 0x10000 + i * 16, 0, 0,
				   GFP_KERNEL);
}

/* 1G with one 2M in the middle shared. */
static void setup_split_1g(struct gmem_ranges *r)
{
	gmem_ranges_init(r);
	gmem_ranges_insert(r, 0, PAGES_1G, PFN_1G(1), 0, 0, GFP_KERNEL);
	gmem_ranges_set_state(r, 100 * PAGES_2M, PAGES_2M, GMEM_RANGE_SHARED,
			      0, GFP_KERNEL);
}

static int op_insert_hole(struct gmem_ranges *r)
{
	return gmem_ranges_insert(r, 150 * 16 + 13, 2, 0x900000, 0, 0,
				  GFP_KERNEL);
}

static int op_insert_merge(struct gmem_ranges *r)
{
	return gmem_ranges_insert(r, 150 * 16 + 12, 4, 0x10000 + 150 * 16 + 12,
				  0, 0, GFP_KERNEL);
}

static int op_convert_two_cuts(struct gmem_ranges *r)
{
	return gmem_ranges_set_state(r, 100 * 16 + 4, 100 * 16,
				     GMEM_RANGE_POISONED, 5, GFP_KERNEL);
}

static int op_convert_three_way(struct gmem_ranges *r)
{
	return gmem_ranges_set_state(r, 150 * 16 + 2, 4, GMEM_RANGE_POISONED,
				     5, GFP_KERNEL);
}

static int op_convert_back(struct gmem_ranges *r)
{
	return gmem_ranges_set_state(r, 100 * PAGES_2M, PAGES_2M,
				     GMEM_RANGE_PRIVATE, 0, GFP_KERNEL);
}

static int op_convert_2m_in_1g(struct gmem_ranges *r)
{
	return gmem_ranges_set_state(r, 7 * PAGES_2M, 2 * PAGES_2M,
				     GMEM_RANGE_SHARED, 0, GFP_KERNEL);
}

static int op_remove_cut(struct gmem_ranges *r)
{
	return gmem_ranges_remove(r, 150 * 16 + 2, 4, GFP_KERNEL);
}

static int op_remove_span(struct gmem_ranges *r)
{
	return gmem_ranges_remove(r, 100 * 16 + 4, 100 * 16, GFP_KERNEL);
}

struct scenario {
	const char *name;
	void (*setup)(struct gmem_ranges *r);
	int (*op)(struct gmem_ranges *r);
	/*
	 * A conversion whose first cut succeeded and second failed: with no
	 * memory at all, the undo leaves the first cut as two equal entries.
	 */
	bool may_leave_cut;
	/* Allocation failure can only make the op less compact, not fail it. */
	bool never_fails;
};

static const struct scenario scenarios[] = {
	{ "insert in a hole", setup_many, op_insert_hole },
	{ "insert merging both sides", setup_chain, op_insert_merge },
	{ "convert, two cuts", setup_many, op_convert_two_cuts, true },
	{ "convert, three-way cut", setup_many, op_convert_three_way },
	{ "convert 2M of 1G", setup_split_1g, op_convert_2m_in_1g },
	{ "convert back, merge", setup_split_1g, op_convert_back, false, true },
	{ "remove, cut", setup_many, op_remove_cut },
	{ "remove, spanning", setup_many, op_remove_span },
};

static unsigned long left_cuts;

/*
 * Fail allocation points [k, k + len) for every k in turn, until the
 * operation runs without reaching k; len == ULONG_MAX: memory never comes
 * back.  @non_kernel: GFP_NOWAIT allocations the slab shim lets succeed.
 */
static void fail_every_point(const struct scenario *sc, unsigned long len,
			     unsigned int non_kernel)
{
	struct gmem_ranges r;
	unsigned long k, points, nomem = 0;
	int ret, ret_ref;

	sc->setup(&r);
	ret_ref = sc->op(&r);
	raw_snap(&r, &raw_ref);
	dec_snap(&r, &dec_ref);
	gmem_ranges_destroy(&r);
	CHECK_EQ(ret_ref, 0);

	for (k = 0; ; k++) {
		sc->setup(&r);
		raw_snap(&r, &raw_b);
		dec_snap(&r, &dec_b);
		mt_set_non_kernel(non_kernel);
		inject_fail(k, len);
		ret = sc->op(&r);
		points = inject_points();
		inject_reset();
		mt_set_non_kernel(0);
		validate(&r);
		raw_snap(&r, &raw_a);
		dec_snap(&r, &dec_a);
		if (ret == -ENOMEM) {
			nomem++;
			CHECK(!sc->never_fails);
			CHECK(dec_equal(&dec_a, &dec_b));
			if (!raw_equal(&raw_a, &raw_b)) {
				CHECK(sc->may_leave_cut && len == ULONG_MAX);
				CHECK_EQ(raw_a.n, raw_b.n + 1);
				left_cuts++;
			}
		} else {
			CHECK_EQ(ret, ret_ref);
			CHECK(dec_equal(&dec_a, &dec_ref));
			if (points <= k)
				CHECK(raw_equal(&raw_a, &raw_ref));
		}
		gmem_ranges_destroy(&r);
		if (test_failed) {
			fprintf(stderr, "  %s: k %lu len %lu non_kernel %u\n",
				sc->name, k, len, non_kernel);
			break;
		}
		if (points <= k)
			break;
	}
	/* Each scenario allocates, so a failure that never comes back shows. */
	if (len == ULONG_MAX && !sc->never_fails)
		CHECK(nomem > 0);
	if (len == ULONG_MAX && !non_kernel)
		printf("# %s: %lu allocation points, -ENOMEM at %lu\n",
		       sc->name, k, nomem);
}

static void test_alloc_failures(void)
{
	static const unsigned long lens[] = { 1, 2, ULONG_MAX };
	unsigned long s, l;

	for (s = 0; s < ARRAY_SIZE(scenarios); s++)
		for (l = 0; l < ARRAY_SIZE(lens); l++) {
			fail_every_point(&scenarios[s], lens[l], 0);
			fail_every_point(&scenarios[s], lens[l], 1U << 30);
		}
	printf("# undo of a first cut left %lu extra entries (no memory)\n",
	       left_cuts);
}

/* ---- randomized ------------------------------------------------------ */

#define RANDOM_N	2048
#define RANDOM_OPS	4000

static unsigned long random_len(void)
{
	switch (rnd(4)) {
	case 0:
		return 1 + rnd(4);
	case 1:
	case 2:
		return 1 + rnd(64);
	default:
		return 1 + rnd(600);
	}
}

/*
 * One random insert, conversion or removal on tree and model, with
 * allocation failures injected if @inject.  Returns false on a mismatch.
 */
static bool random_op(struct gmem_ranges *r, bool inject, bool *failed)
{
	static const unsigned long bases[] = { 0x100000, 0x300000, 0x500007 };
	unsigned long index = rnd(RANDOM_N), nr = random_len(), pfn, i;
	unsigned int state = rnd(3), flags = rnd(4) ? 0 : rnd(16);
	unsigned int op = rnd(10);
	unsigned long hit;
	int ret, want = 0;

	if (index + nr > RANDOM_N)
		nr = RANDOM_N - index;
	if (inject && !rnd(3))
		inject_fail(rnd(6), rnd(2) ? ULONG_MAX : 1 + rnd(2));

	if (op < 4) {
		/* Mostly into a hole, with PFNs that continue a neighbour. */
		if (rnd(4)) {
			for (i = 0; i < nr; i++)
				if (model[index + i].present)
					break;
			nr = i ? i : nr;
		}
		pfn = rnd(8) ? bases[rnd(3)] + index : rnd(1UL << 40);
		ret = gmem_ranges_insert(r, index, nr, pfn, state, flags,
					 GFP_KERNEL);
		if (ret != -ENOMEM)
			want = model_insert(index, nr, pfn, state, flags);
	} else if (op < 8) {
		ret = gmem_ranges_set_state(r, index, nr, state, flags,
					    GFP_KERNEL);
		if (ret != -ENOMEM)
			model_set_state(index, nr, state, flags);
	} else {
		ret = gmem_ranges_remove(r, index, nr, GFP_KERNEL);
		if (ret != -ENOMEM)
			model_remove(index, nr);
	}
	hit = inject_failed();
	inject_reset();
	if (hit)
		*failed = true;
	if (ret == -ENOMEM)
		return CHECK(hit);
	return CHECK_EQ(ret, want);
}

static void random_test(bool inject)
{
	struct gmem_ranges r;
	bool failed = false;
	unsigned long i;

	gmem_ranges_init(&r);
	model_reset(RANDOM_N);
	for (i = 0; i < RANDOM_OPS; i++) {
		if (!random_op(&r, inject, &failed) ||
		    !model_check(&r, !failed)) {
			fprintf(stderr, "  at op %lu\n", i);
			break;
		}
		if (i % 256 == 0)
			validate(&r);
	}
	validate(&r);
	gmem_ranges_destroy(&r);
}

static void test_random(void)
{
	random_test(false);
}

static void test_random_alloc_failures(void)
{
	random_test(true);
}

/* ---- RCU readers against a converting writer ------------------------- */

struct reader {
	pthread_t thread;
	struct gmem_ranges *r;
	unsigned long lookups;
	unsigned long errors;
	unsigned long long seed;
};

static int readers_stop;

static void *reader_fn(void *arg)
{
	struct reader *rd = arg;
	struct gmem_range rg;
	unsigned long long s = rd->seed;
	pgoff_t i;

	rcu_register_thread();
	while (!uatomic_read(&readers_stop)) {
		s = s * 6364136223846793005ULL + 1442695040888963407ULL;
		i = (s >> 20) % PAGES_1G;
		if (!gmem_ranges_lookup(rd->r, i, &rg) || rg.index > i ||
		    i - rg.index >= rg.nr ||
		    rg.pfn + (i - rg.index) != PFN_1G(2) + i ||
		    rg.state > GMEM_RANGE_SHARED)
			rd->errors++;
		rd->lookups++;
	}
	rcu_unregister_thread();
	return NULL;
}

static void test_rcu_readers(void)
{
	struct reader rd[2] = {};
	struct gmem_ranges r;
	unsigned long i, n;

	gmem_ranges_init(&r);
	gmem_ranges_insert(&r, 0, PAGES_1G, PFN_1G(2), 0, 0, GFP_KERNEL);
	uatomic_set(&readers_stop, 0);
	for (i = 0; i < ARRAY_SIZE(rd); i++) {
		rd[i].r = &r;
		rd[i].seed = i + 1;
		pthread_create(&rd[i].thread, NULL, reader_fn, &rd[i]);
	}
	for (i = 0; i < 3000; i++) {
		n = 1 + rnd(8);
		gmem_ranges_set_state(&r, rnd(512 - n) * PAGES_2M,
				      n * PAGES_2M, rnd(2), 0, GFP_KERNEL);
		if (i % 500 == 499)
			gmem_ranges_set_state(&r, 0, PAGES_1G, 0, 0,
					      GFP_KERNEL);
	}
	uatomic_set(&readers_stop, 1);
	for (i = 0; i < ARRAY_SIZE(rd); i++) {
		pthread_join(rd[i].thread, NULL);
		CHECK_EQ(rd[i].errors, 0);
		CHECK(rd[i].lookups > 0);
	}
	gmem_ranges_destroy(&r);
}

/* ---- runner ---------------------------------------------------------- */

static const struct {
	const char *name;
	void (*fn)(void);
} tests[] = {
	{ "insert_lookup", test_insert_lookup },
	{ "merge_1g_from_512_2m", test_merge_1g_from_2m },
	{ "split_and_remerge", test_split_and_remerge },
	{ "deep_merge_frees_subtree", test_deep_merge },
	{ "descriptor_bytes", test_descriptor_bytes },
	{ "attr_pattern", test_attr_pattern },
	{ "no_merge", test_no_merge },
	{ "mixed_ranges_and_holes", test_mixed_and_holes },
	{ "remove", test_remove },
	{ "max_order", test_max_order },
	{ "errors_change_nothing", test_errors_change_nothing },
	{ "exact_fit_never_allocates", test_exact_fit_never_allocates },
	{ "alloc_failure_every_point", test_alloc_failures },
	{ "random_vs_model", test_random },
	{ "random_vs_model_alloc_failures", test_random_alloc_failures },
	{ "rcu_readers", test_rcu_readers },
};

/* Maple nodes and kmalloc()ed memory still allocated, after RCU frees. */
static long allocated(void)
{
	rcu_barrier();
	return uatomic_read(&nr_allocated) + uatomic_read(&kmalloc_nr_allocated);
}

int main(int argc, char **argv)
{
	unsigned long seed = argc > 1 ? strtoul(argv[1], NULL, 0) : 1;
	unsigned int i, failures = 0;
	unsigned long warnings;
	long before, after;

	rcu_register_thread();
	maple_tree_init();
	printf("TAP version 13\n1..%zu\n# seed %lu\n", ARRAY_SIZE(tests), seed);
	for (i = 0; i < ARRAY_SIZE(tests); i++) {
		rng_state = seed * 0x9E3779B97F4A7C15ULL + i + 1;
		test_failed = false;
		test_messages = 0;
		before = allocated();
		warnings = gmem_test_warnings;
		tests[i].fn();
		inject_reset();
		after = allocated();
		check_eq(after, before, "allocated after", "before",
			 tests[i].name, 0);
		check_eq(gmem_test_warnings, warnings, "warnings", "before",
			 tests[i].name, 0);
		printf("%sok %u %s\n", test_failed ? "not " : "", i + 1,
		       tests[i].name);
		fflush(stdout);
		failures += test_failed;
	}
	printf("# %zu passed, %u failed\n", ARRAY_SIZE(tests) - failures,
	       failures);
	rcu_unregister_thread();
	return failures ? EXIT_FAILURE : EXIT_SUCCESS;
}
