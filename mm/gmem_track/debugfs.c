// SPDX-License-Identifier: GPL-2.0
/*
 * gmem_track debugfs: drive one owner from userspace, for tests.
 *
 * /sys/kernel/debug/gmem_track/owner takes one command per write:
 *
 *   create <tracked|struct_page> <2M|1G> [buddy]
 *                                          new owner (replaces none);
 *                                          buddy: its chunks come from the
 *                                          buddy allocator (or are parked
 *                                          ones), never from the boot
 *                                          reservation
 *   populate <index>                       back the chunk holding <index>
 *   shared <index> <nr>                    convert to shared
 *   private <index> <nr>                   convert to private
 *   release <index> <nr>                   free the chunks of the span
 *   destroy                                free the owner and its memory
 *
 * and reads back one line per range: "<index> <nr> <pfn> <state>", all
 * numbers in hex. Errors are returned by write() as the operation's errno.
 * This lets kselftests show the vmemmap counters and the PFN walkers
 * (/proc/kpageflags, compaction) with private memory present before a
 * guest_memfd exposes it.
 */

#define pr_fmt(fmt) "gmem_track: " fmt

#include <linux/debugfs.h>
#include <linux/init.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/seq_file.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "internal.h"

static DEFINE_MUTEX(gmem_debug_lock);
static struct gmem_track_owner *gmem_debug_owner;

static const char * const gmem_state_names[] = {
	[GMEM_RANGE_PRIVATE]	= "private",
	[GMEM_RANGE_SHARED]	= "shared",
	[GMEM_RANGE_POISONED]	= "poisoned",
};

static int gmem_debug_show(struct seq_file *m, void *v)
{
	struct gmem_range rg;
	pgoff_t next = 0;

	mutex_lock(&gmem_debug_lock);
	if (gmem_debug_owner) {
		while (gmem_ranges_next(&gmem_debug_owner->ranges, &next,
					ULONG_MAX - 1, &rg))
			seq_printf(m, "%lx %lx %lx %s\n", rg.index, rg.nr, rg.pfn,
				   gmem_state_names[rg.state]);
	}
	mutex_unlock(&gmem_debug_lock);
	return 0;
}

static int gmem_debug_open(struct inode *inode, struct file *file)
{
	return single_open(file, gmem_debug_show, NULL);
}

static int gmem_debug_cmd(char *buf)
{
	struct gmem_track_owner *owner;
	char design[16], size[4], src[8];
	unsigned long a, b;
	int n, end = 0;

	n = sscanf(buf, "create %15s %3s %7s %n", design, size, src, &end);
	if (n == 2)
		sscanf(buf, "create %15s %3s %n", design, size, &end);
	if (n >= 2) {
		enum gmem_track_design d;
		unsigned int order;

		if (buf[end] || (n == 3 && strcmp(src, "buddy")))
			return -EINVAL;
		if (gmem_debug_owner)
			return -EBUSY;
		if (!strcmp(design, "tracked"))
			d = GMEM_TRACK_TRACKED;
		else if (!strcmp(design, "struct_page"))
			d = GMEM_TRACK_STRUCT_PAGE;
		else
			return -EINVAL;
		if (!strcmp(size, "2M"))
			order = PMD_ORDER;
		else if (!strcmp(size, "1G"))
			order = PUD_ORDER;
		else
			return -EINVAL;
		owner = gmem_track_owner_create(order, d, NUMA_NO_NODE);
		if (IS_ERR(owner))
			return PTR_ERR(owner);
		owner->buddy_only = n == 3;
		gmem_debug_owner = owner;
		return 0;
	}
	if (!gmem_debug_owner)
		return -ENOENT;
	if (!strcmp(buf, "destroy")) {
		gmem_track_owner_destroy(gmem_debug_owner);
		gmem_debug_owner = NULL;
		return 0;
	}
	if (sscanf(buf, "populate %li", &a) == 1)
		return gmem_track_populate(gmem_debug_owner, a);
	if (sscanf(buf, "shared %li %li", &a, &b) == 2)
		return gmem_track_set_shared(gmem_debug_owner, a, b, NULL);
	if (sscanf(buf, "private %li %li", &a, &b) == 2)
		return gmem_track_set_private(gmem_debug_owner, a, b, NULL);
	if (sscanf(buf, "release %li %li", &a, &b) == 2)
		return gmem_track_release(gmem_debug_owner, a, b);
	return -EINVAL;
}

static ssize_t gmem_debug_write(struct file *file, const char __user *ubuf,
				size_t count, loff_t *ppos)
{
	char buf[64];
	int ret;

	if (count >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, count))
		return -EFAULT;
	buf[count] = '\0';
	strim(buf);

	mutex_lock(&gmem_debug_lock);
	ret = gmem_debug_cmd(buf);
	mutex_unlock(&gmem_debug_lock);
	return ret ? ret : count;
}

static const struct file_operations gmem_debug_fops = {
	.owner		= THIS_MODULE,
	.open		= gmem_debug_open,
	.read		= seq_read,
	.llseek		= seq_lseek,
	.release	= single_release,
	.write		= gmem_debug_write,
};

static int __init gmem_debugfs_init(void)
{
	struct dentry *dir = debugfs_create_dir("gmem_track", NULL);

	debugfs_create_file("owner", 0600, dir, NULL, &gmem_debug_fops);
	return 0;
}
late_initcall(gmem_debugfs_init);
