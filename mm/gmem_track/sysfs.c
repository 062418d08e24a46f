// SPDX-License-Identifier: GPL-2.0
/*
 * gmem_track statistics in /sys/kernel/mm/gmem_track/.
 *
 *   sentinel_pages, parked_2M, parked_1G,
 *   used_2M_bytes, used_1G_bytes, free_2M_bytes, free_1G_bytes,
 *   pfn_tree_bytes
 *   default_backend (writable: see gmem_track_default_backend())
 *   deferred_limit_bytes, deferred_delay_ms (writable: see deferred.c)
 *   vmemmap_reserve_pages (writable: see vmemmap_reserve.c),
 *   vmemmap_reserve_bytes
 *   vmemmap_events/ pages_allocated pages_freed pte_tables_copied
 *                  pte_tables_freed tlb_flushes reserve_pages
 *                  reserve_misses
 *   tracked/       chunks_2M chunks_1G private_bytes shared_bytes
 *   struct_page/   vmemmap_bytes vmemmap_freed_bytes ranges
 *                  descriptor_bytes closed_bytes deferred_bytes
 *   reserve/       reserved_2M_bytes free_2M_bytes used_2M_bytes
 *                  poisoned_2M_bytes held_2M_bytes, the same for 1G
 *   reserve/nodeN/ the same for node N; reserved_*_bytes writable (shrink)
 *
 * See Documentation/ABI/testing/sysfs-kernel-mm-gmem_track.
 */

#define pr_fmt(fmt) "gmem_track: " fmt

#include <linux/init.h>
#include <linux/kobject.h>
#include <linux/mm.h>
#include <linux/nodemask.h>
#include <linux/slab.h>
#include <linux/sysfs.h>

#include "internal.h"

struct gmem_design_kobj {
	struct kobject kobj;
	enum gmem_track_design design;
};

static struct gmem_design_kobj gmem_design_kobjs[GMEM_TRACK_NR_DESIGNS];

static void gmem_read(struct kobject *kobj, struct gmem_track_stats *st)
{
	struct gmem_design_kobj *dk =
		container_of(kobj, struct gmem_design_kobj, kobj);

	gmem_track_read_stats(dk->design, st);
}

#define GMEM_STAT_ATTR(_name, _expr)					\
static ssize_t _name##_show(struct kobject *kobj,			\
			    struct kobj_attribute *attr, char *buf)	\
{									\
	struct gmem_track_stats st;					\
									\
	gmem_read(kobj, &st);						\
	return sysfs_emit(buf, "%ld\n", (long)(_expr));			\
}									\
static struct kobj_attribute _name##_attr = __ATTR_RO(_name)

GMEM_STAT_ATTR(chunks_2M, st.chunks_2m);
GMEM_STAT_ATTR(chunks_1G, st.chunks_1g);
GMEM_STAT_ATTR(private_bytes, st.private_pages * PAGE_SIZE);
GMEM_STAT_ATTR(shared_bytes, st.shared_pages * PAGE_SIZE);
GMEM_STAT_ATTR(vmemmap_bytes, st.vmemmap_pages * PAGE_SIZE);
GMEM_STAT_ATTR(vmemmap_freed_bytes, st.vmemmap_freed_pages * PAGE_SIZE);
GMEM_STAT_ATTR(ranges, st.ranges);
GMEM_STAT_ATTR(descriptor_bytes, st.descriptor_bytes);
GMEM_STAT_ATTR(closed_bytes, st.closed_pages * PAGE_SIZE);
GMEM_STAT_ATTR(deferred_bytes, st.deferred_pages * PAGE_SIZE);

static struct attribute *gmem_design_attrs[] = {
	&chunks_2M_attr.attr,
	&chunks_1G_attr.attr,
	&private_bytes_attr.attr,
	&shared_bytes_attr.attr,
	&vmemmap_bytes_attr.attr,
	&vmemmap_freed_bytes_attr.attr,
	&ranges_attr.attr,
	&descriptor_bytes_attr.attr,
	&closed_bytes_attr.attr,
	&deferred_bytes_attr.attr,
	NULL,
};
ATTRIBUTE_GROUPS(gmem_design);

static void gmem_design_release(struct kobject *kobj)
{
}

static const struct kobj_type gmem_design_ktype = {
	.release	= gmem_design_release,
	.sysfs_ops	= &kobj_sysfs_ops,
	.default_groups	= gmem_design_groups,
};

static ssize_t sentinel_pages_show(struct kobject *kobj,
				   struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%ld\n", gmem_sentinel_pages());
}

static struct kobj_attribute sentinel_pages_attr = __ATTR_RO(sentinel_pages);

static ssize_t parked_2M_show(struct kobject *kobj,
			      struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%ld\n", gmem_pool_parked(PMD_ORDER));
}

static struct kobj_attribute parked_2M_attr = __ATTR_RO(parked_2M);

static ssize_t parked_1G_show(struct kobject *kobj,
			      struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%ld\n", gmem_pool_parked(PUD_ORDER));
}

static struct kobj_attribute parked_1G_attr = __ATTR_RO(parked_1G);

static ssize_t default_backend_show(struct kobject *kobj,
				    struct kobj_attribute *attr, char *buf)
{
	return gmem_default_backend_show(buf);
}

static ssize_t default_backend_store(struct kobject *kobj,
				     struct kobj_attribute *attr,
				     const char *buf, size_t count)
{
	int ret = gmem_default_backend_store(buf);

	return ret ? ret : count;
}

static struct kobj_attribute default_backend_attr = __ATTR_RW(default_backend);

static ssize_t default_backend_files_show(struct kobject *kobj,
					  struct kobj_attribute *attr,
					  char *buf)
{
	return sysfs_emit(buf, "%ld\n", gmem_default_files_read());
}

static struct kobj_attribute default_backend_files_attr =
	__ATTR_RO(default_backend_files);

static ssize_t deferred_limit_bytes_show(struct kobject *kobj,
					 struct kobj_attribute *attr,
					 char *buf)
{
	return sysfs_emit(buf, "%lu\n",
			  READ_ONCE(gmem_deferred_limit_pages) << PAGE_SHIFT);
}

static ssize_t deferred_limit_bytes_store(struct kobject *kobj,
					  struct kobj_attribute *attr,
					  const char *buf, size_t count)
{
	unsigned long bytes;
	int ret;

	ret = kstrtoul(buf, 0, &bytes);
	if (ret)
		return ret;
	WRITE_ONCE(gmem_deferred_limit_pages, bytes >> PAGE_SHIFT);
	return count;
}

static struct kobj_attribute deferred_limit_bytes_attr =
	__ATTR_RW(deferred_limit_bytes);

/* Longer than an hour is a mistake, not a tuning. */
#define GMEM_DEFERRED_DELAY_MAX_MS	(3600 * MSEC_PER_SEC)

static ssize_t deferred_delay_ms_show(struct kobject *kobj,
				      struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(gmem_deferred_delay_ms));
}

/*
 * A knob's number: 0 and -EINVAL (or kstrtoul()'s -ERANGE) unless @buf is
 * a non-negative integer of at most @max.
 */
static int gmem_knob_parse(const char *buf, unsigned long max,
			   unsigned long *val)
{
	int ret = kstrtoul(buf, 0, val);

	if (ret)
		return ret;
	return *val > max ? -EINVAL : 0;
}

static ssize_t deferred_delay_ms_store(struct kobject *kobj,
				       struct kobj_attribute *attr,
				       const char *buf, size_t count)
{
	unsigned long ms;
	int ret;

	ret = gmem_knob_parse(buf, GMEM_DEFERRED_DELAY_MAX_MS, &ms);
	if (ret)
		return ret;
	WRITE_ONCE(gmem_deferred_delay_ms, ms);
	return count;
}

static struct kobj_attribute deferred_delay_ms_attr =
	__ATTR_RW(deferred_delay_ms);

/* More than 1 GiB of struct pages' worth per node is a mistake. */
#define GMEM_VRES_MAX_PAGES	(SZ_1G >> PAGE_SHIFT)

static ssize_t vmemmap_reserve_pages_show(struct kobject *kobj,
					  struct kobj_attribute *attr,
					  char *buf)
{
	return sysfs_emit(buf, "%lu\n", READ_ONCE(gmem_vres_target_pages));
}

static ssize_t vmemmap_reserve_pages_store(struct kobject *kobj,
					   struct kobj_attribute *attr,
					   const char *buf, size_t count)
{
	unsigned long pages;
	int ret;

	ret = gmem_knob_parse(buf, GMEM_VRES_MAX_PAGES, &pages);
	if (ret)
		return ret;
	WRITE_ONCE(gmem_vres_target_pages, pages);
	gmem_vres_kick(NUMA_NO_NODE);
	return count;
}

static struct kobj_attribute vmemmap_reserve_pages_attr =
	__ATTR_RW(vmemmap_reserve_pages);

static ssize_t vmemmap_reserve_bytes_show(struct kobject *kobj,
					  struct kobj_attribute *attr,
					  char *buf)
{
	return sysfs_emit(buf, "%ld\n", gmem_vres_bytes_read());
}

static struct kobj_attribute vmemmap_reserve_bytes_attr =
	__ATTR_RO(vmemmap_reserve_bytes);

/* Bytes of chunks of one size held by the owners of every design. */
static long gmem_used_bytes(unsigned int order)
{
	struct gmem_track_stats st;
	long chunks = 0;
	int d;

	for (d = 0; d < GMEM_TRACK_NR_DESIGNS; d++) {
		gmem_track_read_stats(d, &st);
		chunks += order == PUD_ORDER ? st.chunks_1g : st.chunks_2m;
	}
	return chunks << (order + PAGE_SHIFT);
}

#define GMEM_POOL_ATTR(_name, _expr)					\
static ssize_t _name##_show(struct kobject *kobj,			\
			    struct kobj_attribute *attr, char *buf)	\
{									\
	return sysfs_emit(buf, "%ld\n", (long)(_expr));		\
}									\
static struct kobj_attribute _name##_attr = __ATTR_RO(_name)

GMEM_POOL_ATTR(used_2M_bytes, gmem_used_bytes(PMD_ORDER));
GMEM_POOL_ATTR(used_1G_bytes, gmem_used_bytes(PUD_ORDER));
GMEM_POOL_ATTR(free_2M_bytes, gmem_pool_parked(PMD_ORDER) << PMD_SHIFT);
GMEM_POOL_ATTR(free_1G_bytes, gmem_pool_parked(PUD_ORDER) << PUD_SHIFT);
GMEM_POOL_ATTR(pfn_tree_bytes, gmem_pool_tree_bytes());

static struct attribute *gmem_top_attrs[] = {
	&sentinel_pages_attr.attr,
	&parked_2M_attr.attr,
	&parked_1G_attr.attr,
	&used_2M_bytes_attr.attr,
	&used_1G_bytes_attr.attr,
	&free_2M_bytes_attr.attr,
	&free_1G_bytes_attr.attr,
	&pfn_tree_bytes_attr.attr,
	&default_backend_attr.attr,
	&default_backend_files_attr.attr,
	&deferred_limit_bytes_attr.attr,
	&deferred_delay_ms_attr.attr,
	&vmemmap_reserve_pages_attr.attr,
	&vmemmap_reserve_bytes_attr.attr,
	NULL,
};

static const struct attribute_group gmem_top_group = {
	.attrs = gmem_top_attrs,
};

/* vmemmap_events/: one cumulative count of enum gmem_vmemmap_event each. */
struct gmem_event_attr {
	struct kobj_attribute attr;
	enum gmem_vmemmap_event ev;
};

static ssize_t gmem_event_show(struct kobject *kobj,
			       struct kobj_attribute *attr, char *buf)
{
	struct gmem_event_attr *ea =
		container_of(attr, struct gmem_event_attr, attr);

	return sysfs_emit(buf, "%ld\n",
			  atomic_long_read(&gmem_vmemmap_events[ea->ev]));
}

#define GMEM_EVENT_ATTR(_name, _ev)					\
static struct gmem_event_attr gmem_ev_##_name = {			\
	.attr	= __ATTR(_name, 0444, gmem_event_show, NULL),		\
	.ev	= _ev,							\
}

GMEM_EVENT_ATTR(pages_allocated, GMEM_EV_PAGES_ALLOCATED);
GMEM_EVENT_ATTR(pages_freed, GMEM_EV_PAGES_FREED);
GMEM_EVENT_ATTR(pte_tables_copied, GMEM_EV_TABLES_COPIED);
GMEM_EVENT_ATTR(pte_tables_freed, GMEM_EV_TABLES_FREED);
GMEM_EVENT_ATTR(tlb_flushes, GMEM_EV_TLB_FLUSHES);
GMEM_EVENT_ATTR(reserve_pages, GMEM_EV_RESERVE_PAGES);
GMEM_EVENT_ATTR(reserve_misses, GMEM_EV_RESERVE_MISSES);

static struct attribute *gmem_event_attrs[] = {
	&gmem_ev_pages_allocated.attr.attr,
	&gmem_ev_pages_freed.attr.attr,
	&gmem_ev_pte_tables_copied.attr.attr,
	&gmem_ev_pte_tables_freed.attr.attr,
	&gmem_ev_tlb_flushes.attr.attr,
	&gmem_ev_reserve_pages.attr.attr,
	&gmem_ev_reserve_misses.attr.attr,
	NULL,
};

static const struct attribute_group gmem_event_group = {
	.name	= "vmemmap_events",
	.attrs	= gmem_event_attrs,
};

/* reserve/ (nid NUMA_NO_NODE, the totals) and reserve/nodeN/ */
struct gmem_reserve_kobj {
	struct kobject kobj;
	int nid;
};

static int gmem_reserve_kobj_nid(struct kobject *kobj)
{
	return container_of(kobj, struct gmem_reserve_kobj, kobj)->nid;
}

/* A file of reserve/: one chunk order, one figure of its stats. */
struct gmem_reserve_attr {
	struct kobj_attribute attr;
	unsigned int order;
	int field;
};

static ssize_t gmem_reserve_show(struct kobject *kobj,
				 struct kobj_attribute *attr, char *buf)
{
	struct gmem_reserve_attr *ra =
		container_of(attr, struct gmem_reserve_attr, attr);
	struct gmem_reserve_stats st;
	unsigned long vals[5];

	gmem_reserve_read(gmem_reserve_kobj_nid(kobj), ra->order, &st);
	vals[0] = st.reserved;
	vals[1] = st.free;
	vals[2] = st.used;
	vals[3] = st.poisoned;
	vals[4] = st.held;
	return sysfs_emit(buf, "%llu\n",
			  (u64)vals[ra->field] << (ra->order + PAGE_SHIFT));
}

static ssize_t gmem_reserve_store(struct kobject *kobj,
				  struct kobj_attribute *attr,
				  const char *buf, size_t count)
{
	struct gmem_reserve_attr *ra =
		container_of(attr, struct gmem_reserve_attr, attr);
	int nid = gmem_reserve_kobj_nid(kobj);
	u64 bytes;
	int ret;

	/* Only reserved_* of a node is writable (see is_visible). */
	if (nid == NUMA_NO_NODE || ra->field)
		return -EPERM;
	ret = kstrtoull(buf, 0, &bytes);
	if (ret)
		return ret;
	ret = gmem_reserve_shrink(nid, ra->order, bytes);
	return ret ? ret : count;
}

#define GMEM_RESERVE_ATTR(_name, _mode, _order, _field)		\
static struct gmem_reserve_attr gmem_rsv_##_name = {			\
	.attr	= __ATTR(_name, _mode, gmem_reserve_show,		\
			 gmem_reserve_store),				\
	.order	= _order,						\
	.field	= _field,						\
}

GMEM_RESERVE_ATTR(reserved_2M_bytes, 0644, PMD_ORDER, 0);
GMEM_RESERVE_ATTR(free_2M_bytes, 0444, PMD_ORDER, 1);
GMEM_RESERVE_ATTR(used_2M_bytes, 0444, PMD_ORDER, 2);
GMEM_RESERVE_ATTR(poisoned_2M_bytes, 0444, PMD_ORDER, 3);
GMEM_RESERVE_ATTR(held_2M_bytes, 0444, PMD_ORDER, 4);
GMEM_RESERVE_ATTR(reserved_1G_bytes, 0644, PUD_ORDER, 0);
GMEM_RESERVE_ATTR(free_1G_bytes, 0444, PUD_ORDER, 1);
GMEM_RESERVE_ATTR(used_1G_bytes, 0444, PUD_ORDER, 2);
GMEM_RESERVE_ATTR(poisoned_1G_bytes, 0444, PUD_ORDER, 3);
GMEM_RESERVE_ATTR(held_1G_bytes, 0444, PUD_ORDER, 4);

static struct attribute *gmem_reserve_attrs[] = {
	&gmem_rsv_reserved_2M_bytes.attr.attr,
	&gmem_rsv_free_2M_bytes.attr.attr,
	&gmem_rsv_used_2M_bytes.attr.attr,
	&gmem_rsv_poisoned_2M_bytes.attr.attr,
	&gmem_rsv_held_2M_bytes.attr.attr,
	&gmem_rsv_reserved_1G_bytes.attr.attr,
	&gmem_rsv_free_1G_bytes.attr.attr,
	&gmem_rsv_used_1G_bytes.attr.attr,
	&gmem_rsv_poisoned_1G_bytes.attr.attr,
	&gmem_rsv_held_1G_bytes.attr.attr,
	NULL,
};

static umode_t gmem_reserve_is_visible(struct kobject *kobj,
				       struct attribute *attr, int n)
{
	/* Only a node's reservation can be shrunk. */
	if (gmem_reserve_kobj_nid(kobj) == NUMA_NO_NODE)
		return attr->mode & 0444;
	return attr->mode;
}

static const struct attribute_group gmem_reserve_group = {
	.attrs		= gmem_reserve_attrs,
	.is_visible	= gmem_reserve_is_visible,
};
__ATTRIBUTE_GROUPS(gmem_reserve);

static void gmem_reserve_release(struct kobject *kobj)
{
	kfree(container_of(kobj, struct gmem_reserve_kobj, kobj));
}

static const struct kobj_type gmem_reserve_ktype = {
	.release	= gmem_reserve_release,
	.sysfs_ops	= &kobj_sysfs_ops,
	.default_groups	= gmem_reserve_groups,
};

static struct gmem_reserve_kobj *gmem_reserve_kobj_add(struct kobject *parent,
						       int nid)
{
	struct gmem_reserve_kobj *rk = kzalloc(sizeof(*rk), GFP_KERNEL);
	int ret;

	if (!rk)
		return NULL;
	rk->nid = nid;
	if (nid == NUMA_NO_NODE)
		ret = kobject_init_and_add(&rk->kobj, &gmem_reserve_ktype,
					   parent, "reserve");
	else
		ret = kobject_init_and_add(&rk->kobj, &gmem_reserve_ktype,
					   parent, "node%d", nid);
	if (ret) {
		kobject_put(&rk->kobj);
		return NULL;
	}
	return rk;
}

/* reserve/ and reserve/nodeN/ for every node with memory. */
static int __init gmem_reserve_sysfs_init(struct kobject *top)
{
	struct gmem_reserve_kobj *dir;
	int nid;

	dir = gmem_reserve_kobj_add(top, NUMA_NO_NODE);
	if (!dir)
		return -ENOMEM;
	for_each_node_state(nid, N_MEMORY) {
		if (!gmem_reserve_kobj_add(&dir->kobj, nid))
			return -ENOMEM;
	}
	return 0;
}

static const char * const gmem_dir_names[] = {
	[GMEM_TRACK_TRACKED]	 = "tracked",
	[GMEM_TRACK_STRUCT_PAGE] = "struct_page",
};

static int __init gmem_sysfs_init(void)
{
	struct kobject *top;
	int i, ret;

	top = kobject_create_and_add("gmem_track", mm_kobj);
	if (!top)
		return -ENOMEM;
	ret = sysfs_create_group(top, &gmem_top_group);
	if (ret)
		goto out_put;
	ret = sysfs_create_group(top, &gmem_event_group);
	if (ret)
		goto out_put;

	for (i = 0; i < GMEM_TRACK_NR_DESIGNS; i++) {
		gmem_design_kobjs[i].design = i;
		ret = kobject_init_and_add(&gmem_design_kobjs[i].kobj,
					   &gmem_design_ktype, top, "%s",
					   gmem_dir_names[i]);
		if (ret)
			goto out_dirs;
	}
	/* The statistics above stay if the reservation's files fail. */
	if (gmem_reserve_sysfs_init(top))
		pr_err("cannot create /sys/kernel/mm/gmem_track/reserve\n");
	return 0;

out_dirs:
	kobject_put(&gmem_design_kobjs[i].kobj);
	while (i--)
		kobject_put(&gmem_design_kobjs[i].kobj);
out_put:
	kobject_put(top);
	pr_err("cannot create /sys/kernel/mm/gmem_track: %d\n", ret);
	return ret;
}
subsys_initcall(gmem_sysfs_init);
