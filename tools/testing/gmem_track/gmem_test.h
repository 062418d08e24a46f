/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace stand-ins for what mm/gmem_track/ranges.h takes from the kernel.
 *
 * ranges.h includes only <linux/...> headers; with the include paths of
 * tools/testing/shared/shared.mk they resolve to tools/include and
 * tools/testing/shared (plus linux/minmax.h in this directory).  What those
 * lack is defined here, before ranges.c is included.
 */
#ifndef _GMEM_TEST_H
#define _GMEM_TEST_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "maple-shared.h"
#include <linux/bug.h>

#define pgoff_t unsigned long

/* Count every WARN*() so that a test fails on a warning. */
extern unsigned long gmem_test_warnings;
#undef __WARN_printf
#define __WARN_printf(arg...) do {			\
	gmem_test_warnings++;				\
	fprintf(stderr, arg);				\
} while (0)

/* From tools/testing/shared/linux.c and tools/lib/slab.c. */
extern int nr_allocated;
extern int kmalloc_nr_allocated;

/* From lib/maple_tree.c, userspace only: GFP_NOWAIT nodes the shim grants. */
void mt_set_non_kernel(unsigned int val);

/*
 * Allocation failure injection (inject.c): every call that can allocate a
 * maple node (kmem_cache_alloc(), kmem_cache_prefill_sheaf(),
 * kmem_cache_refill_sheaf()) is an allocation point, numbered from 0 since
 * inject_reset().  Points in [fail_first, fail_first + fail_len) fail.
 */
void inject_reset(void);
void inject_fail(unsigned long fail_first, unsigned long fail_len);
unsigned long inject_points(void);
unsigned long inject_failed(void);

struct kmem_cache;
struct list_lru;
struct slab_sheaf;

/* The wrappers, and the wrapped originals (-Wl,--wrap=...). */
void *__real_kmem_cache_alloc_lru(struct kmem_cache *cachep,
				  struct list_lru *lru, int flags);
void *__wrap_kmem_cache_alloc_lru(struct kmem_cache *cachep,
				  struct list_lru *lru, int flags);
struct slab_sheaf *__real_kmem_cache_prefill_sheaf(struct kmem_cache *s,
						   gfp_t gfp,
						   unsigned int size);
struct slab_sheaf *__wrap_kmem_cache_prefill_sheaf(struct kmem_cache *s,
						   gfp_t gfp,
						   unsigned int size);
int __real_kmem_cache_refill_sheaf(struct kmem_cache *s, gfp_t gfp,
				   struct slab_sheaf **sheafp,
				   unsigned int size);
int __wrap_kmem_cache_refill_sheaf(struct kmem_cache *s, gfp_t gfp,
				   struct slab_sheaf **sheafp,
				   unsigned int size);

#endif /* _GMEM_TEST_H */
