// SPDX-License-Identifier: GPL-2.0
/*
 * Allocation failure injection for the maple tree, by link-time wrapping
 * (-Wl,--wrap=...) of the slab calls of tools/testing/shared/linux.c, so that
 * neither lib/maple_tree.c nor the shared shim needs changing.
 */
#include "gmem_test.h"
#include <linux/slab.h>

static unsigned long points;
static unsigned long failed;
static unsigned long fail_first = ULONG_MAX;
static unsigned long fail_len;

void inject_reset(void)
{
	points = 0;
	failed = 0;
	fail_first = ULONG_MAX;
	fail_len = 0;
}

void inject_fail(unsigned long first, unsigned long len)
{
	inject_reset();
	fail_first = first;
	fail_len = len;
}

unsigned long inject_points(void)
{
	return points;
}

unsigned long inject_failed(void)
{
	return failed;
}

/* Count one allocation point; true if it must fail. */
static bool inject_point(void)
{
	unsigned long n = points++;

	if (n < fail_first || n - fail_first >= fail_len)
		return false;
	failed++;
	return true;
}

void *__wrap_kmem_cache_alloc_lru(struct kmem_cache *cachep,
				  struct list_lru *lru, int flags)
{
	if (inject_point())
		return NULL;
	return __real_kmem_cache_alloc_lru(cachep, lru, flags);
}

struct slab_sheaf *__wrap_kmem_cache_prefill_sheaf(struct kmem_cache *s,
						   gfp_t gfp,
						   unsigned int size)
{
	if (inject_point())
		return NULL;
	return __real_kmem_cache_prefill_sheaf(s, gfp, size);
}

int __wrap_kmem_cache_refill_sheaf(struct kmem_cache *s, gfp_t gfp,
				   struct slab_sheaf **sheafp,
				   unsigned int size)
{
	if (inject_point())
		return -ENOMEM;
	return __real_kmem_cache_refill_sheaf(s, gfp, sheafp, size);
}
