// SPDX-License-Identifier: GPL-2.0
#include <linux/anon_inodes.h>
#include <linux/backing-dev.h>
#include <linux/falloc.h>
#include <linux/folio_batch.h>
#include <linux/fs.h>
#include <linux/gmem_track.h>
#include <linux/kvm_host.h>
#include <linux/maple_tree.h>
#include <linux/mempolicy.h>
#include <linux/pseudo_fs.h>
#include <linux/pagemap.h>
#include <linux/swap.h>

#include "kvm_mm.h"
#include "guest_memfd.h"

static struct vfsmount *kvm_gmem_mnt;

/*
 * A guest_memfd instance can be associated multiple VMs, each with its own
 * "view" of the underlying physical memory.
 *
 * The gmem's inode is effectively the raw underlying physical storage, and is
 * used to track properties of the physical memory, while each gmem file is
 * effectively a single VM's view of that storage, and is used to track assets
 * specific to its associated VM, e.g. memslots=>gmem bindings.
 */
struct gmem_file {
	struct kvm *kvm;
	struct xarray bindings;
	struct list_head entry;
};

/*
 * A file that converts in place (@in_place, see __kvm_gmem_create()) has
 * @attributes: they map file indices to their KVM memory attributes
 * (absent = shared), under the mapping's invalidate lock for writing and
 * RCU for reading.
 *
 * A file created with GUEST_MEMFD_FLAG_GMEM_TRACK has its memory from
 * gmem_track (@owner), in chunks of 2 MiB or 1 GiB: private memory is known
 * only to the owner (in the tracked design it has no struct page); shared
 * memory is in the page cache as order-0 folios, added when first looked
 * up. @fill_lock serializes giving a hole its chunk. So has a file that
 * asked for no gmem_track flag but got them from the system default
 * (kvm_gmem_default_flags()); @flags holds them, never seen by userspace,
 * and such a file that does not convert in place is private throughout.
 */
struct gmem_inode {
	struct shared_policy policy;
	struct inode vfs_inode;
	struct list_head gmem_file_list;
	struct maple_tree attributes;
	struct gmem_track_owner *owner;
	struct mutex fill_lock;		/* Serializes filling holes. */

	u64 flags;
	bool in_place;
};

static __always_inline struct gmem_inode *GMEM_I(struct inode *inode)
{
	return container_of(inode, struct gmem_inode, vfs_inode);
}

#define kvm_gmem_for_each_file(f, inode) \
	list_for_each_entry(f, &GMEM_I(inode)->gmem_file_list, entry)

/**
 * folio_file_pfn - like folio_file_page, but return a pfn.
 * @folio: The folio which contains this index.
 * @index: The index we want to look up.
 *
 * Return: The pfn for this index.
 */
static inline kvm_pfn_t folio_file_pfn(struct folio *folio, pgoff_t index)
{
	return folio_pfn(folio) + (index & (folio_nr_pages(folio) - 1));
}

static pgoff_t kvm_gmem_get_index(struct kvm_memory_slot *slot, gfn_t gfn)
{
	return gfn - slot->base_gfn + slot->gmem.pgoff;
}

static bool kvm_gmem_supports_mmap(struct inode *inode)
{
	return GMEM_I(inode)->flags & GUEST_MEMFD_FLAG_MMAP;
}

/*
 * kvm.gmem_in_place_conversion: whether VMs created from now on convert
 * guest_memfd memory in place (kvm_gmem_in_place()). Taken by each VM
 * when it is created, so it may change while VMs run: those keep their
 * mode. See Documentation/virt/kvm/api.rst, KVM_SET_MEMORY_ATTRIBUTES2.
 */
bool gmem_in_place_conversion = true;
EXPORT_SYMBOL_FOR_KVM_INTERNAL(gmem_in_place_conversion);
module_param(gmem_in_place_conversion, bool, 0644);

/*
 * Whether a file of @flags that @kvm creates converts in place: with
 * in-place conversion, every file of a VM with private memory, and in
 * other VMs those that can be mmap()ed (an extension: upstream converts
 * only where there is private memory).
 */
static bool kvm_gmem_in_place_file(struct kvm *kvm, u64 flags)
{
	return kvm_gmem_in_place(kvm) &&
	       (kvm_arch_has_private_mem(kvm) || (flags & GUEST_MEMFD_FLAG_MMAP));
}

static bool kvm_gmem_converts(struct inode *inode)
{
	return GMEM_I(inode)->in_place;
}

/*
 * A file that does not convert is, for the host, shared throughout if
 * created with GUEST_MEMFD_FLAG_INIT_SHARED, else private throughout, as
 * before files had attributes; KVM asks the VM what is private.
 */
static unsigned long kvm_gmem_get_attributes(struct inode *inode,
					     pgoff_t index)
{
	if (!kvm_gmem_converts(inode))
		return GMEM_I(inode)->flags & GUEST_MEMFD_FLAG_INIT_SHARED ?
		       0 : KVM_MEMORY_ATTRIBUTE_PRIVATE;

	return xa_to_value(mtree_load(&GMEM_I(inode)->attributes, index));
}

static bool kvm_gmem_is_private_mem(struct inode *inode, pgoff_t index)
{
	return kvm_gmem_get_attributes(inode, index) &
	       KVM_MEMORY_ATTRIBUTE_PRIVATE;
}

static bool kvm_gmem_is_shared_mem(struct inode *inode, pgoff_t index)
{
	return !kvm_gmem_is_private_mem(inode, index);
}

/*
 * Returns a locked folio on success.  The caller is responsible for
 * setting the up-to-date flag before the memory is mapped into the guest.
 * There is no backing storage for the memory, so the folio will remain
 * up-to-date until it's removed.
 *
 * Ignore accessed, referenced, and dirty flags.  The memory is
 * unevictable and there is no storage to write back to.
 */
static struct folio *kvm_gmem_get_folio(struct inode *inode, pgoff_t index)
{
	/* TODO: Support huge pages. */
	struct mempolicy *policy;
	struct folio *folio;

	/*
	 * Fast-path: See if folio is already present in mapping to avoid
	 * policy_lookup.
	 */
	folio = filemap_lock_folio(inode->i_mapping, index);
	if (!IS_ERR(folio))
		return folio;

	policy = mpol_shared_policy_lookup(&GMEM_I(inode)->policy, index);
	folio = __filemap_get_folio_mpol(inode->i_mapping, index,
					 FGP_LOCK | FGP_CREAT,
					 mapping_gfp_mask(inode->i_mapping), policy);
	mpol_cond_put(policy);

	/*
	 * External interfaces like kvm_gmem_get_pfn() support dealing
	 * with hugepages to a degree, but internally, guest_memfd currently
	 * assumes that all folios are order-0 and handling would need
	 * to be updated for anything otherwise (e.g. page-clearing
	 * operations).
	 */
	WARN_ON_ONCE(!IS_ERR(folio) && folio_order(folio));

	return folio;
}

static enum kvm_gfn_range_filter kvm_gmem_get_invalidate_filter(struct inode *inode)
{
	/*
	 * Either kind of memory may be anywhere in a file that converts, or
	 * in one that is mmap()ed and takes the PRIVATE attribute from the VM.
	 */
	if (kvm_gmem_converts(inode) || kvm_gmem_supports_mmap(inode))
		return KVM_FILTER_SHARED | KVM_FILTER_PRIVATE;

	/* Else its memory is all of one kind (kvm_gmem_get_attributes()). */
	if (GMEM_I(inode)->flags & GUEST_MEMFD_FLAG_INIT_SHARED)
		return KVM_FILTER_SHARED;
	return KVM_FILTER_PRIVATE;
}

static unsigned long kvm_gmem_chunk_pages(struct inode *inode)
{
	return GMEM_I(inode)->flags & GUEST_MEMFD_FLAG_HUGE_1G ?
	       1UL << PUD_ORDER : 1UL << PMD_ORDER;
}

static void kvm_gmem_invalidate_start(struct inode *inode, pgoff_t start,
				      pgoff_t end);
static void kvm_gmem_invalidate_end(struct inode *inode, pgoff_t start,
				    pgoff_t end);
static void kvm_gmem_check_unmapped(struct inode *inode, pgoff_t start,
				    pgoff_t end);

/*
 * The first stretch of shared attributes in [*index, last], as
 * [*index, *shared_end) with *index moved to its start. Shared stretches
 * are the gaps between private entries. Returns false when there is none.
 */
static bool kvm_gmem_next_shared(struct inode *inode, pgoff_t *index,
				 pgoff_t last, pgoff_t *shared_end)
{
	MA_STATE(mas, &GMEM_I(inode)->attributes, 0, 0);
	bool found = false;
	void *entry;

	/*
	 * A gmem_track file that does not convert is private throughout:
	 * KVM asks it for private memory only.
	 */
	if (!kvm_gmem_converts(inode))
		return false;

	rcu_read_lock();
	while (*index <= last) {
		mas_set(&mas, *index);
		entry = mas_find(&mas, last);
		if (!entry || mas.index > *index) {
			*shared_end = entry ? mas.index : last + 1;
			found = true;
			break;
		}
		/* Private at *index: go past the entry. */
		if (mas.last >= last)
			break;
		*index = mas.last + 1;
	}
	rcu_read_unlock();
	return found;
}

/*
 * Give the hole at @index its chunk of gmem_track memory, private, and
 * make shared what the file's attributes say is shared. Called with the
 * invalidate lock held, shared or not.
 *
 * Lookups take no lock, so they can see the chunk before its shared
 * stretches are converted: private for a moment where the attributes say
 * shared. KVM's mappings of the chunk are invalidated from before the
 * first conversion to after the last, so none made meanwhile survives,
 * nor one of memory a failed fill gives back; the host's faults and KVM's
 * lookups of shared memory that find private memory come back here with
 * @repair (kvm_gmem_track_get_folio(), kvm_gmem_track_get_pfn()) and wait
 * for the fill. With @repair, a chunk already there has the page at
 * @index converted if its attributes say shared and it is not: a fill
 * that failed and could not give its chunk back leaves it so. A chunk
 * with no shared stretch is in its final state as soon as it is there.
 */
static int kvm_gmem_track_fill(struct inode *inode, pgoff_t index,
			       bool repair)
{
	struct gmem_inode *gi = GMEM_I(inode);
	unsigned long nr = kvm_gmem_chunk_pages(inode);
	pgoff_t first = ALIGN_DOWN(index, nr), last = first + nr - 1;
	pgoff_t at, shared_end;
	bool shared;
	int r;

	mutex_lock(&gi->fill_lock);
	r = gmem_track_populate(gi->owner, first);
	if (r == -EEXIST) {
		r = 0;
		if (!repair || !kvm_gmem_is_shared_mem(inode, index) ||
		    gmem_track_lookup(gi->owner, index, NULL, NULL, &shared) ||
		    shared)
			goto out;
		/* Faults anywhere in the chunk retry meanwhile. */
		kvm_gmem_invalidate_start(inode, index, index + 1);
		kvm_gmem_check_unmapped(inode, index, index + 1);
		r = gmem_track_set_shared(gi->owner, index, 1, NULL);
		kvm_gmem_invalidate_end(inode, index, index + 1);
		goto out;
	}
	at = first;
	if (r || !kvm_gmem_next_shared(inode, &at, last, &shared_end))
		goto out;

	kvm_gmem_invalidate_start(inode, first, last + 1);
	kvm_gmem_check_unmapped(inode, first, last + 1);
	do {
		r = gmem_track_set_shared(gi->owner, at, shared_end - at, NULL);
		at = shared_end;
	} while (!r && kvm_gmem_next_shared(inode, &at, last, &shared_end));
	/*
	 * Under the invalidation: no stage-2 mapping of the chunk is left.
	 * If the chunk cannot go back either (a host fault took a reference
	 * to a page converted already), it stays, and lookups of its shared
	 * stretches repair it page by page.
	 */
	if (r) {
		kvm_gmem_check_unmapped(inode, first, last + 1);
		gmem_track_release(gi->owner, first, nr);
	}
	kvm_gmem_invalidate_end(inode, first, last + 1);
out:
	mutex_unlock(&gi->fill_lock);
	return r;
}

/*
 * The shared page at @index of a gmem_track file, locked and with a
 * reference, from the page cache; put there if it is not yet. Called with
 * the invalidate lock held.
 */
static struct folio *kvm_gmem_track_get_folio(struct inode *inode,
					      pgoff_t index)
{
	struct address_space *mapping = inode->i_mapping;
	bool shared, repaired = false;
	unsigned long pfn, again;
	struct folio *folio;
	int r;

	for (;;) {
		folio = filemap_lock_folio(mapping, index);
		if (!IS_ERR(folio))
			return folio;

		r = gmem_track_lookup(GMEM_I(inode)->owner, index, &pfn, NULL,
				      &shared);
		/*
		 * The attributes say shared (the caller checked, or the
		 * memory said so): private memory here is a chunk being
		 * filled, or one a failed fill left; the fill finishes it.
		 */
		if (r == -ENOENT || (!r && !shared && !repaired)) {
			repaired = !r;
			r = kvm_gmem_track_fill(inode, index, true);
			if (r)
				return ERR_PTR(r);
			continue;
		}
		if (r)
			return ERR_PTR(r);
		if (!shared)
			return ERR_PTR(-EACCES);

		/*
		 * gmem_track holds the page; the page cache takes its own.
		 * A fill that fails under the same shared lock may give the
		 * chunk back meanwhile, freezing the page first: take the
		 * reference only if the page is not frozen, and only keep it
		 * if the index still maps that page, shared.
		 */
		folio = pfn_folio(pfn);
		if (!folio_try_get(folio)) {
			cond_resched();
			continue;
		}
		if (gmem_track_lookup(GMEM_I(inode)->owner, index, &again,
				      NULL, &shared) || !shared || again != pfn ||
		    page_folio(pfn_to_page(pfn)) != folio) {
			folio_put(folio);
			continue;
		}
		folio_lock(folio);
		r = __filemap_add_folio(mapping, folio, index,
					mapping_gfp_mask(mapping), NULL);
		if (!r) {
			folio_mark_uptodate(folio);
			return folio;
		}
		folio_unlock(folio);
		folio_put(folio);
		if (r != -EEXIST)
			return ERR_PTR(r);
	}
}

/*
 * KVM maps gmem_track memory with up to one stage-2 entry per chunk and
 * re-checks a fault only against the gfns of a running invalidation: a
 * fault elsewhere in a chunk that changes (a page converted, poisoned,
 * repaired) could install a huge entry over the change after the zap.
 * So the span a fault must retry in is the whole chunks around [start,
 * end), while only [start, end) itself is zapped (a zap of a gfn takes
 * any huge entry over it).
 */
static void kvm_gmem_invalidate_span(struct inode *inode, pgoff_t *start,
				     pgoff_t *end)
{
	unsigned long nr;

	if (!GMEM_I(inode)->owner)
		return;
	nr = kvm_gmem_chunk_pages(inode);
	*start = ALIGN_DOWN(*start, nr);
	*end = ALIGN(*end, nr);
}

static void __kvm_gmem_invalidate_start(struct gmem_file *f, pgoff_t start,
					pgoff_t end, pgoff_t rstart,
					pgoff_t rend,
					enum kvm_gfn_range_filter attr_filter)
{
	bool flush = false, found_memslot = false;
	struct kvm_memory_slot *slot;
	struct kvm *kvm = f->kvm;
	unsigned long index;

	xa_for_each_range(&f->bindings, index, slot, rstart, rend - 1) {
		pgoff_t pgoff = slot->gmem.pgoff;
		pgoff_t first = max(pgoff, start);
		pgoff_t last = min(pgoff + slot->npages, end);
		pgoff_t rfirst = max(pgoff, rstart);
		pgoff_t rlast = min(pgoff + slot->npages, rend);

		struct kvm_gfn_range gfn_range = {
			.start = slot->base_gfn + first - pgoff,
			.end = slot->base_gfn + last - pgoff,
			.slot = slot,
			.may_block = true,
			.attr_filter = attr_filter,
		};

		if (!found_memslot) {
			found_memslot = true;

			KVM_MMU_LOCK(kvm);
			kvm_mmu_invalidate_start(kvm);
		}

		kvm_mmu_invalidate_range_add(kvm, slot->base_gfn + rfirst - pgoff,
					     slot->base_gfn + rlast - pgoff);
		if (first >= last)
			continue;

		flush |= kvm_mmu_unmap_gfn_range(kvm, &gfn_range);

#ifdef CONFIG_HAVE_KVM_ARCH_GMEM_INVALIDATE
		kvm_arch_gmem_invalidate_range(kvm, &gfn_range);
#endif
	}

	if (flush)
		kvm_flush_remote_tlbs(kvm);

	if (found_memslot)
		KVM_MMU_UNLOCK(kvm);
}

static void kvm_gmem_invalidate_start(struct inode *inode, pgoff_t start,
				      pgoff_t end)
{
	enum kvm_gfn_range_filter attr_filter;
	pgoff_t rstart = start, rend = end;
	struct gmem_file *f;

	attr_filter = kvm_gmem_get_invalidate_filter(inode);
	kvm_gmem_invalidate_span(inode, &rstart, &rend);

	kvm_gmem_for_each_file(f, inode)
		__kvm_gmem_invalidate_start(f, start, end, rstart, rend,
					    attr_filter);
}

static void __kvm_gmem_invalidate_end(struct gmem_file *f, pgoff_t start,
				      pgoff_t end)
{
	struct kvm *kvm = f->kvm;

	if (xa_find(&f->bindings, &start, end - 1, XA_PRESENT)) {
		KVM_MMU_LOCK(kvm);
		kvm_mmu_invalidate_end(kvm);
		KVM_MMU_UNLOCK(kvm);
	}
}

static void kvm_gmem_invalidate_end(struct inode *inode, pgoff_t start,
				    pgoff_t end)
{
	struct gmem_file *f;

	/* The same files as kvm_gmem_invalidate_start() found. */
	kvm_gmem_invalidate_span(inode, &start, &end);
	kvm_gmem_for_each_file(f, inode)
		__kvm_gmem_invalidate_end(f, start, end);
}

/* Architectures that cannot tell: nothing is checked. */
bool __weak kvm_arch_gfn_range_mapped(struct kvm *kvm,
				      struct kvm_gfn_range *range)
{
	return false;
}

/* Gfns kvm_gmem_check_unmapped() hands the architecture at a time. */
#define KVM_GMEM_CHECK_GFNS	BIT(PUD_ORDER)

/*
 * Invariant 7 of Documentation/mm/gmem_track.rst, checked with
 * CONFIG_DEBUG_VM: before the memory behind [start, end) is freed, zeroed
 * or converted, no stage-2 entry of any VM the file is bound to maps a gfn
 * of it, among those the invalidation zaps (its attr_filter). The caller
 * runs an invalidation of the range (it zapped the range, and faults in it
 * retry) and holds the invalidate lock, which keeps the bindings.
 */
static void kvm_gmem_check_unmapped(struct inode *inode, pgoff_t start,
				    pgoff_t end)
{
	struct kvm_memory_slot *slot;
	struct gmem_file *f;
	unsigned long index;
	gfn_t gfn, last;

	if (!IS_ENABLED(CONFIG_DEBUG_VM))
		return;

	kvm_gmem_for_each_file(f, inode) {
		xa_for_each_range(&f->bindings, index, slot, start, end - 1) {
			pgoff_t pgoff = slot->gmem.pgoff;
			struct kvm_gfn_range range = {
				.slot = slot,
				.attr_filter =
					kvm_gmem_get_invalidate_filter(inode),
			};

			gfn = slot->base_gfn + max(pgoff, start) - pgoff;
			last = slot->base_gfn + min(pgoff + slot->npages, end) -
			       pgoff;
			/* The slot's binding covers its whole span: once. */
			index = pgoff + slot->npages - 1;
			for (; gfn < last; gfn = range.end) {
				range.start = gfn;
				range.end = min(last, gfn + KVM_GMEM_CHECK_GFNS);
				WARN_ONCE(kvm_arch_gfn_range_mapped(f->kvm, &range),
					  "guest_memfd: gfns [%llx, %llx) still mapped as their memory goes",
					  range.start, range.end);
				cond_resched();
			}
		}
	}
}

static void kvm_gmem_zero_range(struct inode *inode, pgoff_t start,
				pgoff_t end);

/*
 * Punch [offset, offset + len) out of the file. An upstream file frees
 * its folios. A gmem_track file frees the chunks the range covers whole
 * and, as hugetlbfs does with a partial huge page, zeroes the memory of
 * the parts of chunks it covers in part: the chunk stays, the attributes
 * stay, holes stay holes and poisoned pages stay poisoned (skipped, see
 * kvm_gmem_zero_range()).
 *
 * Everything happens under the invalidate lock held for writing and
 * between the invalidation's start and end over the whole range, so no
 * stage-2 mapping of a page being zeroed survives, and KVM faults in the
 * chunks concerned retry until the end. Shared pages of the range leave
 * the page cache and host page tables (a pin keeps its page and sees it
 * zeroed, as for hugetlbfs); the next host fault brings the zeroed page
 * back (kvm_gmem_track_get_folio()).
 *
 * Whole chunks are freed first, and partial chunks zeroed only if that
 * succeeded, as zeroing cannot fail: on error (-EBUSY for a chunk whose
 * shared page is still referenced, -ENOMEM) the partial chunks are as
 * they were, and so is every whole chunk from the one that failed on.
 */
static long kvm_gmem_punch_hole(struct inode *inode, loff_t offset, loff_t len)
{
	struct gmem_track_owner *owner = GMEM_I(inode)->owner;
	pgoff_t start = offset >> PAGE_SHIFT;
	pgoff_t end = (offset + len) >> PAGE_SHIFT;
	pgoff_t first, last, head_end, tail_start;
	long r = 0;

	/*
	 * Bindings must be stable across invalidation to ensure the start+end
	 * are balanced.
	 */
	filemap_invalidate_lock(inode->i_mapping);

	kvm_gmem_invalidate_start(inode, start, end);
	kvm_gmem_check_unmapped(inode, start, end);

	truncate_inode_pages_range(inode->i_mapping, offset, offset + len - 1);

	if (owner) {
		/* Whole chunks [first, last); partial ones around them. */
		first = ALIGN(start, kvm_gmem_chunk_pages(inode));
		last = ALIGN_DOWN(end, kvm_gmem_chunk_pages(inode));
		head_end = min(first, end);
		tail_start = max(last, head_end);

		/* -EBUSY: a shared page is still pinned; its chunk stays. */
		if (first < last)
			r = gmem_track_release(owner, first, last - first);
		if (!r && start < head_end)
			kvm_gmem_zero_range(inode, start, head_end);
		if (!r && tail_start < end)
			kvm_gmem_zero_range(inode, tail_start, end);
	}

	kvm_gmem_invalidate_end(inode, start, end);

	filemap_invalidate_unlock(inode->i_mapping);

	return r;
}

static long kvm_gmem_allocate(struct inode *inode, loff_t offset, loff_t len)
{
	struct address_space *mapping = inode->i_mapping;
	pgoff_t start, index, end;
	int r;

	/* Dedicated guest is immutable by default. */
	if (offset + len > i_size_read(inode))
		return -EINVAL;

	filemap_invalidate_lock_shared(mapping);

	start = offset >> PAGE_SHIFT;
	end = (offset + len) >> PAGE_SHIFT;

	r = 0;
	for (index = start; index < end; ) {
		struct folio *folio;

		if (signal_pending(current)) {
			r = -EINTR;
			break;
		}

		if (GMEM_I(inode)->owner) {
			r = kvm_gmem_track_fill(inode, index, false);
			if (r)
				break;
			index = ALIGN_DOWN(index, kvm_gmem_chunk_pages(inode)) +
				kvm_gmem_chunk_pages(inode);
			cond_resched();
			continue;
		}

		folio = kvm_gmem_get_folio(inode, index);
		if (IS_ERR(folio)) {
			r = PTR_ERR(folio);
			break;
		}

		index = folio_next_index(folio);

		folio_unlock(folio);
		folio_put(folio);

		/* 64-bit only, wrapping the index should be impossible. */
		if (WARN_ON_ONCE(!index))
			break;

		cond_resched();
	}

	filemap_invalidate_unlock_shared(mapping);

	return r;
}

static long kvm_gmem_fallocate(struct file *file, int mode, loff_t offset,
			       loff_t len)
{
	int ret;

	if (!(mode & FALLOC_FL_KEEP_SIZE))
		return -EOPNOTSUPP;

	if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE))
		return -EOPNOTSUPP;

	if (!PAGE_ALIGNED(offset) || !PAGE_ALIGNED(len))
		return -EINVAL;

	if (mode & FALLOC_FL_PUNCH_HOLE)
		ret = kvm_gmem_punch_hole(file_inode(file), offset, len);
	else
		ret = kvm_gmem_allocate(file_inode(file), offset, len);

	if (!ret)
		file_modified(file);
	return ret;
}

static int kvm_gmem_release(struct inode *inode, struct file *file)
{
	struct gmem_file *f = file->private_data;
	struct kvm_memory_slot *slot;
	struct kvm *kvm = f->kvm;
	unsigned long index;

	/*
	 * Prevent concurrent attempts to *unbind* a memslot.  This is the last
	 * reference to the file and thus no new bindings can be created, but
	 * dereferencing the slot for existing bindings needs to be protected
	 * against memslot updates, specifically so that unbind doesn't race
	 * and free the memslot (kvm_gmem_get_file() will return NULL).
	 *
	 * Since .release is called only when the reference count is zero,
	 * after which file_ref_get() and get_file_active() fail,
	 * kvm_gmem_get_pfn() cannot be using the file concurrently.
	 * file_ref_put() provides a full barrier, and get_file_active() the
	 * matching acquire barrier.
	 */
	mutex_lock(&kvm->slots_lock);

	filemap_invalidate_lock(inode->i_mapping);

	xa_for_each(&f->bindings, index, slot)
		WRITE_ONCE(slot->gmem.file, NULL);

	/*
	 * All in-flight operations are gone and new bindings can be created.
	 * Zap all SPTEs pointed at by this file.  Do not free the backing
	 * memory, as its lifetime is associated with the inode, not the file.
	 */
	__kvm_gmem_invalidate_start(f, 0, -1ul, 0, -1ul,
				    kvm_gmem_get_invalidate_filter(inode));
	__kvm_gmem_invalidate_end(f, 0, -1ul);

	list_del(&f->entry);

	filemap_invalidate_unlock(inode->i_mapping);

	mutex_unlock(&kvm->slots_lock);

	xa_destroy(&f->bindings);
	kfree(f);

	kvm_put_kvm(kvm);

	return 0;
}

static inline struct file *kvm_gmem_get_file(struct kvm_memory_slot *slot)
{
	/*
	 * Do not return slot->gmem.file if it has already been closed;
	 * there might be some time between the last fput() and when
	 * kvm_gmem_release() clears slot->gmem.file.
	 */
	return get_file_active(&slot->gmem.file);
}

DEFINE_CLASS(gmem_get_file, struct file *, if (_T) fput(_T),
	     kvm_gmem_get_file(slot), struct kvm_memory_slot *slot);

/**
 * kvm_gmem_get_memory_attributes - the attributes of a gfn of a gmem-only slot
 * @slot: a memslot bound to a guest_memfd file that converts in place.
 * @gfn: the gfn.
 *
 * Context: kvm->srcu or kvm->slots_lock held.
 * Return: KVM_MEMORY_ATTRIBUTE_PRIVATE or 0 (shared); 0 once the file is
 * closed.
 */
unsigned long kvm_gmem_get_memory_attributes(struct kvm_memory_slot *slot,
					     gfn_t gfn)
{
	CLASS(gmem_get_file, file)(slot);

	if (!file)
		return 0;

	return kvm_gmem_get_attributes(file_inode(file),
				       kvm_gmem_get_index(slot, gfn));
}
EXPORT_SYMBOL_FOR_KVM_INTERNAL(kvm_gmem_get_memory_attributes);

/*
 * Times a fault tries again when gmem_track_populate() could not have a
 * chunk for a moment (-EBUSY: each of the new chunks it tried was held by
 * someone else for longer than it waits, or hit by a memory error).
 */
#define KVM_GMEM_BUSY_TRIES	16

static vm_fault_t kvm_gmem_fault_user_mapping(struct vm_fault *vmf)
{
	struct inode *inode = file_inode(vmf->vma->vm_file);
	struct address_space *mapping = inode->i_mapping;
	struct folio *folio;
	vm_fault_t ret = VM_FAULT_LOCKED;
	int tries = 0;

	if (((loff_t)vmf->pgoff << PAGE_SHIFT) >= i_size_read(inode))
		return VM_FAULT_SIGBUS;

again:
	/* Conversions take the invalidate lock for writing. */
	filemap_invalidate_lock_shared(mapping);

	if (!kvm_gmem_is_shared_mem(inode, vmf->pgoff)) {
		filemap_invalidate_unlock_shared(mapping);
		return VM_FAULT_SIGBUS;
	}

	if (GMEM_I(inode)->owner)
		folio = kvm_gmem_track_get_folio(inode, vmf->pgoff);
	else
		folio = kvm_gmem_get_folio(inode, vmf->pgoff);
	filemap_invalidate_unlock_shared(mapping);
	/*
	 * No chunk for a moment: try again here, a bounded number of times
	 * and not past a fatal signal, then SIGBUS. Faulting the access
	 * again instead (VM_FAULT_NOPAGE) would have a kernel access, such
	 * as a copy_from_user(), fault on without ever seeing a signal.
	 */
	if (GMEM_I(inode)->owner && PTR_ERR_OR_ZERO(folio) == -EBUSY &&
	    ++tries < KVM_GMEM_BUSY_TRIES && !fatal_signal_pending(current)) {
		cond_resched();
		goto again;
	}
	if (IS_ERR(folio)) {
		if (PTR_ERR(folio) == -EAGAIN)
			return VM_FAULT_RETRY;
		if (PTR_ERR(folio) == -EHWPOISON)
			return VM_FAULT_HWPOISON;
		/*
		 * No 2 MiB or 1 GiB chunk, or the memory cgroup's limit: as
		 * for hugetlbfs, SIGBUS. VM_FAULT_OOM would retry the fault
		 * for ever, since a charge of that order never OOM-kills.
		 */
		if (GMEM_I(inode)->owner && PTR_ERR(folio) == -ENOMEM)
			return VM_FAULT_SIGBUS;

		return vmf_error(PTR_ERR(folio));
	}

	if (WARN_ON_ONCE(folio_test_large(folio))) {
		ret = VM_FAULT_SIGBUS;
		goto out_folio;
	}

	if (folio_test_hwpoison(folio)) {
		ret = VM_FAULT_HWPOISON;
		goto out_folio;
	}

	if (!folio_test_uptodate(folio)) {
		clear_highpage(folio_page(folio, 0));
		folio_mark_uptodate(folio);
	}

	vmf->page = folio_file_page(folio, vmf->pgoff);

out_folio:
	if (ret != VM_FAULT_LOCKED) {
		folio_unlock(folio);
		folio_put(folio);
	}

	return ret;
}

#ifdef CONFIG_NUMA
static int kvm_gmem_set_policy(struct vm_area_struct *vma, struct mempolicy *mpol)
{
	struct inode *inode = file_inode(vma->vm_file);

	return mpol_set_shared_policy(&GMEM_I(inode)->policy, vma, mpol);
}

static struct mempolicy *kvm_gmem_get_policy(struct vm_area_struct *vma,
					     unsigned long addr, pgoff_t *ilx)
{
	pgoff_t pgoff = linear_page_index(vma, addr);
	struct inode *inode = file_inode(vma->vm_file);

	*ilx = inode->i_ino;

	/*
	 * Return the memory policy for this index, or NULL if none is set.
	 *
	 * Returning NULL, e.g. instead of the current task's memory policy, is
	 * important for the .get_policy kernel ABI: it indicates that no
	 * explicit policy has been set via mbind() for this memory. The caller
	 * can then replace NULL with the default memory policy instead of the
	 * current task's memory policy.
	 */
	return mpol_shared_policy_lookup(&GMEM_I(inode)->policy, pgoff);
}
#endif /* CONFIG_NUMA */

static const struct vm_operations_struct kvm_gmem_vm_ops = {
	.fault		= kvm_gmem_fault_user_mapping,
#ifdef CONFIG_NUMA
	.get_policy	= kvm_gmem_get_policy,
	.set_policy	= kvm_gmem_set_policy,
#endif
};

static int kvm_gmem_mmap(struct file *file, struct vm_area_struct *vma)
{
	if (!kvm_gmem_supports_mmap(file_inode(file)))
		return -ENODEV;

	if ((vma->vm_flags & (VM_SHARED | VM_MAYSHARE)) !=
	    (VM_SHARED | VM_MAYSHARE)) {
		return -EINVAL;
	}

	vma->vm_ops = &kvm_gmem_vm_ops;

	return 0;
}

/*
 * Check that no folio of [start, end) is mapped or referenced beyond the
 * page cache (and gmem_track, which holds every shared page of its files).
 * The range is unmapped already and the invalidate lock held for writing,
 * so no new mapping or GUP can appear. Returns 0 or -EAGAIN with
 * @error_index set to the first busy index.
 */
static int kvm_gmem_check_unused(struct inode *inode, pgoff_t start,
				 pgoff_t end, pgoff_t *error_index)
{
	enum lru_cache_drained drained = LRU_CACHE_NOT_DRAINED;
	int extra = GMEM_I(inode)->owner ? 1 : 0;
	struct folio_batch fbatch;
	pgoff_t index = start;
	unsigned int i;
	int r = 0;

	folio_batch_init(&fbatch);
	while (!r && filemap_get_folios(inode->i_mapping, &index, end - 1,
					&fbatch)) {
		for (i = 0; i < folio_batch_count(&fbatch); i++) {
			struct folio *folio = fbatch.folios[i];
			/* The page cache, the batch, gmem_track. */
			int expected = folio_nr_pages(folio) + 1 + extra;

			/*
			 * A folio of an upstream file added to the page cache
			 * lately may still sit in a CPU's LRU batch, which
			 * holds a reference: drain the batches (this CPU's,
			 * then all) once before calling the folio busy.
			 * gmem_track's folios are never on the LRU.
			 */
			if (!extra && !folio_mapped(folio) &&
			    folio_ref_count(folio) > expected)
				lru_cache_drain_for_folio(folio, 1, &drained);
			if (folio_mapped(folio) ||
			    folio_ref_count(folio) > expected) {
				*error_index = max(folio->index, start);
				r = -EAGAIN;
				break;
			}
		}
		folio_batch_release(&fbatch);
		cond_resched();
	}
	return r;
}

/* Drop the page cache's folios of shared gmem_track memory in [start, end). */
static void kvm_gmem_track_uncache(struct inode *inode, pgoff_t start,
				   pgoff_t end)
{
	struct folio_batch fbatch;
	pgoff_t index = start;
	unsigned int i;

	folio_batch_init(&fbatch);
	while (filemap_get_folios(inode->i_mapping, &index, end - 1, &fbatch)) {
		for (i = 0; i < folio_batch_count(&fbatch); i++) {
			struct folio *folio = fbatch.folios[i];

			folio_lock(folio);
			if (folio->mapping == inode->i_mapping)
				filemap_remove_folio(folio);
			folio_unlock(folio);
		}
		folio_batch_release(&fbatch);
		cond_resched();
	}
}

/*
 * Zero the memory behind [start, end), wherever there is some. Holes stay
 * holes, and gmem_track memory found poisoned is skipped
 * (gmem_track_next()), as a store to a page with an uncorrected error may
 * raise a machine check. The walk takes no owner->lock: an error marked
 * in a run after the walk returned it is not seen.
 */
static void kvm_gmem_zero_range(struct inode *inode, pgoff_t start,
				pgoff_t end)
{
	struct gmem_track_owner *owner = GMEM_I(inode)->owner;
	unsigned long pfn, nr, i, done = 0;
	struct folio_batch fbatch;
	pgoff_t index;

	if (owner) {
		/*
		 * Private memory may have no struct page: use the direct map.
		 * Only the memory there is, not every index of the span.
		 * Reschedule every 2 MiB zeroed, counted across runs: a
		 * 1 GiB chunk of alternating shared and private pages is
		 * one run per page.
		 */
		index = start;
		while (gmem_track_next(owner, &index, end - 1, &pfn, &nr)) {
			for (i = 0; i < nr; i++) {
				clear_page(pfn_to_kaddr(pfn + i));
				if (!(++done % PTRS_PER_PTE))
					cond_resched();
			}
			index += nr;
		}
		return;
	}

	folio_batch_init(&fbatch);
	index = start;
	while (filemap_get_folios(inode->i_mapping, &index, end - 1, &fbatch)) {
		for (i = 0; i < folio_batch_count(&fbatch); i++) {
			struct folio *folio = fbatch.folios[i];

			folio_lock(folio);
			folio_zero_range(folio, 0, folio_size(folio));
			folio_mark_uptodate(folio);
			folio_unlock(folio);
		}
		folio_batch_release(&fbatch);
		cond_resched();
	}
}

/*
 * Widen the store of @entry over [*start, *end) to the neighbours that hold
 * the same entry, so that a run of private indices stays one entry of the
 * attributes however it was converted (gaps, shared, merge by themselves):
 * kvm_gmem_block_private() then walks one entry per run. Called with the
 * invalidate lock held for writing.
 */
static void kvm_gmem_attr_merge(struct maple_tree *mt, void *entry,
				pgoff_t *start, pgoff_t *end)
{
	MA_STATE(mas, mt, 0, 0);

	if (!entry)
		return;
	rcu_read_lock();
	if (*start) {
		mas_set(&mas, *start - 1);
		if (mas_walk(&mas) == entry)
			*start = mas.index;
	}
	mas_set(&mas, *end);
	if (mas_walk(&mas) == entry)
		*end = mas.last + 1;
	rcu_read_unlock();
}

/*
 * Convert [start, end) of an inode. All or nothing: on error the
 * attributes, the memory and its content are as they were.
 */
static int kvm_gmem_convert(struct inode *inode, pgoff_t start, pgoff_t end,
			    bool to_private, bool zero, pgoff_t *error_index)
{
	struct gmem_inode *gi = GMEM_I(inode);
	struct address_space *mapping = inode->i_mapping;
	void *entry = to_private ?
		      xa_mk_value(KVM_MEMORY_ATTRIBUTE_PRIVATE) : NULL;
	MA_STATE(mas, &gi->attributes, start, end - 1);
	pgoff_t mstart = start, mend = end;
	int r;

	filemap_invalidate_lock(mapping);

	/* The store at the end must not fail: allocate its nodes now. */
	kvm_gmem_attr_merge(&gi->attributes, entry, &mstart, &mend);
	mas_set_range(&mas, mstart, mend - 1);
	r = mas_preallocate(&mas, entry, GFP_KERNEL_ACCOUNT);
	if (r)
		goto out_unlock;

	kvm_gmem_invalidate_start(inode, start, end);
	kvm_gmem_check_unmapped(inode, start, end);

	if (to_private) {
		unmap_mapping_pages(mapping, start, end - start, false);
		r = kvm_gmem_check_unused(inode, start, end, error_index);
		if (r)
			goto out_end;
		if (gi->owner) {
			kvm_gmem_track_uncache(inode, start, end);
			r = gmem_track_set_private(gi->owner, start, end - start,
						   error_index);
		}
	} else if (gi->owner) {
		r = gmem_track_set_shared(gi->owner, start, end - start,
					  error_index);
	}
	if (r)
		goto out_end;

	if (zero)
		kvm_gmem_zero_range(inode, start, end);

	mas_store_prealloc(&mas, entry);
out_end:
	mas_destroy(&mas);
	kvm_gmem_invalidate_end(inode, start, end);
out_unlock:
	filemap_invalidate_unlock(mapping);
	return r;
}

static long kvm_gmem_set_memory_attributes(struct file *file,
					   void __user *argp)
{
	const u64 valid_flags = KVM_SET_MEMORY_ATTRIBUTES2_ZERO |
				KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE;
	struct inode *inode = file_inode(file);
	struct kvm_memory_attributes2 attrs;
	pgoff_t error_index = 0;
	u64 end;
	int i, r;

	if (copy_from_user(&attrs, argp, sizeof(attrs)))
		return -EFAULT;

	if (!kvm_gmem_converts(inode))
		return -EINVAL;
	if (attrs.flags & ~valid_flags || attrs.flags == valid_flags)
		return -EINVAL;
	if (attrs.attributes & ~KVM_MEMORY_ATTRIBUTE_PRIVATE)
		return -EINVAL;
	/* Only an output: its value on input is ignored, as upstream's. */
	for (i = 0; i < ARRAY_SIZE(attrs.reserved); i++) {
		if (attrs.reserved[i])
			return -EINVAL;
	}
	if (!attrs.size || !PAGE_ALIGNED(attrs.offset) ||
	    !PAGE_ALIGNED(attrs.size) ||
	    check_add_overflow(attrs.offset, attrs.size, &end) ||
	    end > i_size_read(inode))
		return -EINVAL;

	r = kvm_gmem_convert(inode, attrs.offset >> PAGE_SHIFT,
			     end >> PAGE_SHIFT,
			     attrs.attributes & KVM_MEMORY_ATTRIBUTE_PRIVATE,
			     attrs.flags & KVM_SET_MEMORY_ATTRIBUTES2_ZERO,
			     &error_index);
	/* Where the conversion stopped; nothing changed, so its start. */
	if (r == -ENOMEM)
		error_index = attrs.offset >> PAGE_SHIFT;
	if (r == -EAGAIN || r == -EHWPOISON || r == -ENOMEM) {
		attrs.error_offset = (u64)error_index << PAGE_SHIFT;
		if (copy_to_user(argp, &attrs, sizeof(attrs)))
			return -EFAULT;
	}
	return r;
}

static long kvm_gmem_ioctl(struct file *file, unsigned int ioctl,
			   unsigned long arg)
{
	struct gmem_file *f = file->private_data;

	switch (ioctl) {
	case KVM_SET_MEMORY_ATTRIBUTES2:
		/* Without in-place conversion the VM's attributes decide. */
		if (!kvm_gmem_in_place(f->kvm))
			return -ENOTTY;
		return kvm_gmem_set_memory_attributes(file, (void __user *)arg);
	default:
		return -ENOTTY;
	}
}

static struct file_operations kvm_gmem_fops = {
	.mmap		= kvm_gmem_mmap,
	.open		= generic_file_open,
	.release	= kvm_gmem_release,
	.fallocate	= kvm_gmem_fallocate,
	.unlocked_ioctl	= kvm_gmem_ioctl,
};

static int kvm_gmem_migrate_folio(struct address_space *mapping,
				  struct folio *dst, struct folio *src,
				  enum migrate_mode mode)
{
	WARN_ON_ONCE(1);
	return -EINVAL;
}

static int kvm_gmem_error_folio(struct address_space *mapping, struct folio *folio)
{
	pgoff_t start, end;

	filemap_invalidate_lock_shared(mapping);

	start = folio->index;
	end = start + folio_nr_pages(folio);

	kvm_gmem_invalidate_start(mapping->host, start, end);

	/*
	 * Do not truncate the range, what action is taken in response to the
	 * error is userspace's decision (assuming the architecture supports
	 * gracefully handling memory errors).  If/when the guest attempts to
	 * access a poisoned page, kvm_gmem_get_pfn() will return -EHWPOISON,
	 * at which point KVM can either terminate the VM or propagate the
	 * error to userspace.
	 */

	kvm_gmem_invalidate_end(mapping->host, start, end);

	filemap_invalidate_unlock_shared(mapping);

	return MF_DELAYED;
}

#ifdef CONFIG_HAVE_KVM_ARCH_GMEM_RECLAIM
static void kvm_gmem_free_folio(struct folio *folio)
{
	kvm_arch_gmem_reclaim(folio_file_pfn(folio, 0), folio_nr_pages(folio));
}
#endif

static const struct address_space_operations kvm_gmem_aops = {
	.dirty_folio = noop_dirty_folio,
	.migrate_folio	= kvm_gmem_migrate_folio,
	.error_remove_folio = kvm_gmem_error_folio,
#ifdef CONFIG_HAVE_KVM_ARCH_GMEM_RECLAIM
	.free_folio = kvm_gmem_free_folio,
#endif
};

static int kvm_gmem_setattr(struct mnt_idmap *idmap, struct dentry *dentry,
			    struct iattr *attr)
{
	return -EINVAL;
}
static const struct inode_operations kvm_gmem_iops = {
	.setattr	= kvm_gmem_setattr,
};

bool __weak kvm_arch_supports_gmem_init_shared(struct kvm *kvm)
{
	return true;
}

/**
 * kvm_gmem_track_allowed - may @kvm create gmem_track files?
 * @kvm: the VM.
 *
 * Private gmem_track memory goes to KVM by PFN alone, without the
 * architecture's guest_memfd hooks (making memory private in SEV-SNP's RMP
 * or TDX's S-EPT, reclaiming it when freed), so only VMs that need none of
 * them may use it: on x86, default and software-protected VMs.
 *
 * Return: true if the gmem_track flags of KVM_CREATE_GUEST_MEMFD are valid.
 */
bool kvm_gmem_track_allowed(struct kvm *kvm)
{
#ifdef CONFIG_X86
	return kvm->arch.vm_type == KVM_X86_DEFAULT_VM ||
	       kvm->arch.vm_type == KVM_X86_SW_PROTECTED_VM;
#else
	return !kvm_arch_has_private_mem(kvm);
#endif
}

/*
 * gmem_track memory was hit by an uncorrected error: gmem_track has marked
 * the index poisoned, so kvm_gmem_get_pfn() fails with -EHWPOISON from now
 * on, and a shared page's folio has PG_hwpoison. Drop KVM's mappings so
 * that the guest's next access gets there and userspace hears of it
 * (KVM_EXIT_MEMORY_FAULT), and the host's, so that its next access faults
 * and gets SIGBUS (BUS_MCEERR_AR). The folio stays in the page cache, as
 * upstream's kvm_gmem_error_folio() leaves it: what to do about the
 * error is the VMM's decision.
 */
static void kvm_gmem_track_memory_failure(void *data, pgoff_t index)
{
	struct inode *inode = data;
	struct folio *folio;

	filemap_invalidate_lock_shared(inode->i_mapping);
	kvm_gmem_invalidate_start(inode, index, index + 1);
	kvm_gmem_check_unmapped(inode, index, index + 1);
	/*
	 * A host fault checks PG_hwpoison and maps the folio with it
	 * locked: under the lock, the unmap cannot come between the two.
	 */
	folio = filemap_lock_folio(inode->i_mapping, index);
	unmap_mapping_pages(inode->i_mapping, index, 1, false);
	if (!IS_ERR(folio)) {
		folio_unlock(folio);
		folio_put(folio);
	}
	kvm_gmem_invalidate_end(inode, index, index + 1);
	filemap_invalidate_unlock_shared(inode->i_mapping);
}

static const struct gmem_track_owner_ops kvm_gmem_track_ops = {
	.memory_failure = kvm_gmem_track_memory_failure,
};

/*
 * Set up what a file that converts in place or uses gmem_track needs:
 * its attributes (private unless GUEST_MEMFD_FLAG_INIT_SHARED) and its
 * gmem_track owner. @inode's in_place is set.
 */
static int kvm_gmem_init_backend(struct inode *inode, loff_t size, u64 flags)
{
	struct gmem_inode *gi = GMEM_I(inode);
	enum gmem_track_design design;
	int r = 0;

	if (flags & GUEST_MEMFD_FLAG_GMEM_TRACK) {
		if (flags & GUEST_MEMFD_FLAG_TRACKED)
			design = GMEM_TRACK_TRACKED;
		else if (flags & GUEST_MEMFD_FLAG_STRUCT_PAGE)
			design = GMEM_TRACK_STRUCT_PAGE;
		else
			design = gmem_track_default_design();
		gi->owner = gmem_track_owner_create(flags & GUEST_MEMFD_FLAG_HUGE_1G ?
						    PUD_ORDER : PMD_ORDER,
						    design, NUMA_NO_NODE);
		if (IS_ERR(gi->owner)) {
			r = PTR_ERR(gi->owner);
			gi->owner = NULL;
			return r;
		}
		gmem_track_owner_set_ops(gi->owner, &kvm_gmem_track_ops, inode);
	}

	if (gi->in_place && !(flags & GUEST_MEMFD_FLAG_INIT_SHARED)) {
		MA_STATE(mas, &gi->attributes, 0, (size >> PAGE_SHIFT) - 1);

		filemap_invalidate_lock(inode->i_mapping);
		r = mas_store_gfp(&mas, xa_mk_value(KVM_MEMORY_ATTRIBUTE_PRIVATE),
				  GFP_KERNEL_ACCOUNT);
		filemap_invalidate_unlock(inode->i_mapping);
	}
	return r;
}

static int __kvm_gmem_create(struct kvm *kvm, loff_t size, u64 flags)
{
	static const char *name = "[kvm-gmem]";
	struct gmem_file *f;
	struct inode *inode;
	struct file *file;
	int fd, err;

	fd = get_unused_fd_flags(0);
	if (fd < 0)
		return fd;

	f = kzalloc_obj(*f);
	if (!f) {
		err = -ENOMEM;
		goto err_fd;
	}

	/* __fput() will take care of fops_put(). */
	if (!fops_get(&kvm_gmem_fops)) {
		err = -ENOENT;
		goto err_gmem;
	}

	inode = anon_inode_make_secure_inode(kvm_gmem_mnt->mnt_sb, name, NULL);
	if (IS_ERR(inode)) {
		err = PTR_ERR(inode);
		goto err_fops;
	}

	inode->i_op = &kvm_gmem_iops;
	inode->i_mapping->a_ops = &kvm_gmem_aops;
	inode->i_mode |= S_IFREG;
	inode->i_size = size;
	mapping_set_gfp_mask(inode->i_mapping, GFP_HIGHUSER);
	mapping_set_inaccessible(inode->i_mapping);
	/* Unmovable mappings are supposed to be marked unevictable as well. */
	WARN_ON_ONCE(!mapping_unevictable(inode->i_mapping));

	GMEM_I(inode)->flags = flags;
	GMEM_I(inode)->in_place = kvm_gmem_in_place_file(kvm, flags);

	err = kvm_gmem_init_backend(inode, size, flags);
	if (err)
		goto err_inode;

	file = alloc_file_pseudo(inode, kvm_gmem_mnt, name, O_RDWR, &kvm_gmem_fops);
	if (IS_ERR(file)) {
		err = PTR_ERR(file);
		goto err_inode;
	}

	file->f_flags |= O_LARGEFILE;
	file->private_data = f;

	kvm_get_kvm(kvm);
	f->kvm = kvm;
	xa_init(&f->bindings);
	list_add(&f->entry, &GMEM_I(inode)->gmem_file_list);

	fd_install(fd, file);
	return fd;

err_inode:
	iput(inode);
err_fops:
	fops_put(&kvm_gmem_fops);
err_gmem:
	kfree(f);
err_fd:
	put_unused_fd(fd);
	return err;
}

/*
 * The gmem_track flags that a file asking for none gets from the system
 * default (gmem_track_default_backend()), or 0 for upstream's 4 KiB folios:
 * when the default is none, when @kvm may not use gmem_track, when @size
 * is not a multiple of the default's chunk, or when @flags ask for
 * something gmem_track does not do (any flag but MMAP and INIT_SHARED).
 * The file then behaves for the VMM as an upstream one: its flags, and so
 * KVM_CAP_GUEST_MEMFD_FLAGS and every check of KVM_CREATE_GUEST_MEMFD,
 * are the VMM's. Taken once: later changes of the default leave the file
 * alone.
 */
static u64 kvm_gmem_default_flags(struct kvm *kvm, loff_t size, u64 flags)
{
	enum gmem_track_design design;
	unsigned int order;

	if (flags & ~(GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED))
		return 0;
	if (!IS_ENABLED(CONFIG_GMEM_TRACK) || !kvm_gmem_track_allowed(kvm))
		return 0;
	/*
	 * One that does not convert must be private throughout to be a
	 * gmem_track file: not mmap()ed, not shared from the start.
	 */
	if ((flags & (GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED)) &&
	    !kvm_gmem_in_place_file(kvm, flags))
		return 0;
	if (!gmem_track_default_backend(&design, &order))
		return 0;
	if (!IS_ALIGNED(size, PAGE_SIZE << order))
		return 0;

	flags = GUEST_MEMFD_FLAG_GMEM_TRACK;
	if (order == PUD_ORDER)
		flags |= GUEST_MEMFD_FLAG_HUGE_1G;
	if (design == GMEM_TRACK_TRACKED)
		flags |= GUEST_MEMFD_FLAG_TRACKED;
	else
		flags |= GUEST_MEMFD_FLAG_STRUCT_PAGE;
	return flags;
}

int kvm_gmem_create(struct kvm *kvm, struct kvm_create_guest_memfd *args)
{
	loff_t size = args->size;
	u64 flags = args->flags;
	u64 dflt;
	int fd;

	if (flags & ~(kvm_gmem_get_supported_flags(kvm) |
		      kvm_gmem_track_supported_flags(kvm)))
		return -EINVAL;

	if (size <= 0 || !PAGE_ALIGNED(size))
		return -EINVAL;

	/*
	 * In a VM with private memory, only files that convert in place may
	 * start shared; without in-place conversion the VM's attributes
	 * decide what is private.
	 */
	if ((flags & GUEST_MEMFD_FLAG_INIT_SHARED) &&
	    kvm_arch_has_private_mem(kvm) && !kvm_gmem_in_place(kvm))
		return -EINVAL;

	if (flags & GUEST_MEMFD_FLAG_GMEM_TRACK) {
		u64 chunk = flags & GUEST_MEMFD_FLAG_HUGE_1G ? PUD_SIZE : PMD_SIZE;
		int i;

		/* New flags, strict from the start: reserved must be zero. */
		for (i = 0; i < ARRAY_SIZE(args->reserved); i++) {
			if (args->reserved[i])
				return -EINVAL;
		}
		/* gmem_track keeps what is private: the file must convert. */
		if (!kvm_gmem_in_place_file(kvm, flags))
			return -EINVAL;
		if ((flags & GUEST_MEMFD_FLAG_TRACKED) &&
		    (flags & GUEST_MEMFD_FLAG_STRUCT_PAGE))
			return -EINVAL;
		if (!IS_ALIGNED(size, chunk))
			return -EINVAL;
	} else if (flags & (GUEST_MEMFD_FLAG_HUGE_1G | GUEST_MEMFD_FLAG_TRACKED |
			    GUEST_MEMFD_FLAG_STRUCT_PAGE)) {
		return -EINVAL;
	}

	/* Nothing for a file that names gmem_track flags itself. */
	dflt = kvm_gmem_default_flags(kvm, size, flags);
	fd = __kvm_gmem_create(kvm, size, flags | dflt);
	if (fd >= 0 && dflt)
		gmem_track_default_taken();
	return fd;
}

int kvm_gmem_prepare_memory_region(struct kvm *kvm, struct kvm_memory_slot *slot,
				   unsigned int fd, uoff_t offset)
{
	uoff_t size = slot->npages << PAGE_SHIFT;
	struct gmem_file *f;
	struct inode *inode;
	struct file *file;


	BUILD_BUG_ON(sizeof(gpa_t) != sizeof(offset));
	BUILD_BUG_ON(sizeof(gfn_t) != sizeof(slot->gmem.pgoff));

	if (WARN_ON_ONCE(slot->flags & KVM_MEMSLOT_GMEM_ONLY))
		return -EINVAL;

	file = fget(fd);
	if (!file)
		return -EBADF;

	if (file->f_op != &kvm_gmem_fops)
		goto err;

	f = file->private_data;
	if (f->kvm != kvm)
		goto err;

	inode = file_inode(file);

	if (!PAGE_ALIGNED(offset) || offset + size > i_size_read(inode))
		goto err;

	/*
	 * memslots of flag KVM_MEM_GUEST_MEMFD are immutable to change, so
	 * kvm_gmem_bind() must occur on a new memslot.  Because the memslot
	 * is not visible yet, kvm_gmem_get_pfn() is guaranteed to see the file.
	 */
	WRITE_ONCE(slot->gmem.file, file);
	slot->gmem.pgoff = offset >> PAGE_SHIFT;
	if (kvm_gmem_supports_mmap(inode) || kvm_gmem_converts(inode))
		slot->flags |= KVM_MEMSLOT_GMEM_ONLY;

	/*
	 * Gift the caller a reference to the file.  The reference will be
	 * dropped after bindings are established, or if installing the new
	 * memslot ultimately fails.
	 */
	return 0;

err:
	fput(file);
	return -EINVAL;
}

int kvm_gmem_commit_memory_region(struct kvm *kvm, struct kvm_memory_slot *slot)
{
	struct gmem_file *f = slot->gmem.file->private_data;
	struct inode *inode = file_inode(slot->gmem.file);
	unsigned long start, end;
	int r;

	if (WARN_ON_ONCE(slot->gmem.file->f_op != &kvm_gmem_fops))
		return -EIO;

	filemap_invalidate_lock(inode->i_mapping);

	start = slot->gmem.pgoff;
	end = start + slot->npages;

	if (!xa_empty(&f->bindings) &&
	    xa_find(&f->bindings, &start, end - 1, XA_PRESENT)) {
		filemap_invalidate_unlock(inode->i_mapping);
		return -EEXIST;
	}

	r = xa_err(xa_store_range(&f->bindings, start, end - 1, slot, GFP_KERNEL));
	if (r)
		xa_store_range(&f->bindings, start, end - 1, NULL, GFP_KERNEL);

	filemap_invalidate_unlock(inode->i_mapping);

	return r;
}

void kvm_gmem_unbind(struct kvm_memory_slot *slot)
{
	struct file *file = slot->gmem.file;
	unsigned long start = slot->gmem.pgoff;
	unsigned long end = start + slot->npages;
	struct gmem_file *f;

	/*
	 * Nothing to do if the underlying file was _already_ closed, as
	 * kvm_gmem_release() invalidates and nullifies all bindings.
	 */
	if (!file)
		return;

	/*
	 * However, if the file is _being_ closed, then the bindings need to be
	 * removed as kvm_gmem_release() might not run until after the memslot
	 * is freed.  Modifying the bindings is safe even if the file is dying
	 * as kvm_gmem_release() nullifies slot->gmem.file under slots_lock,
	 * and only puts its reference to KVM after destroying all bindings.
	 * I.e. reaching this point means kvm_gmem_release() hasn't destroyed
	 * the bindings or freed the gmem_file and can't do so until the caller
	 * drops slots_lock, so there's no need to verify the file is live.
	 */
	f = file->private_data;

	filemap_invalidate_lock(file->f_mapping);
	xa_store_range(&f->bindings, start, end - 1, NULL, GFP_KERNEL);

	/*
	 * synchronize_srcu(&kvm->srcu) ensured that kvm_gmem_get_pfn()
	 * cannot see this memslot.
	 */
	WRITE_ONCE(slot->gmem.file, NULL);
	filemap_invalidate_unlock(file->f_mapping);
}

static int kvm_gmem_check_binding(struct file *file,
				  struct kvm_memory_slot *slot, pgoff_t index)
{
	struct file *slot_file = READ_ONCE(slot->gmem.file);
	struct gmem_file *f = file->private_data;

	if (file != slot_file) {
		WARN_ON_ONCE(slot_file);
		return -EFAULT;
	}

	if (xa_load(&f->bindings, index) != slot) {
		WARN_ON_ONCE(xa_load(&f->bindings, index));
		return -EIO;
	}
	return 0;
}

/* Returns a locked folio on success.  */
static struct folio *__kvm_gmem_get_pfn(struct file *file,
					struct kvm_memory_slot *slot,
					pgoff_t index, kvm_pfn_t *pfn,
					int *max_order)
{
	struct folio *folio;
	int r;

	r = kvm_gmem_check_binding(file, slot, index);
	if (r)
		return ERR_PTR(r);

	/* Private gmem_track memory has no folio to hand out. */
	if (GMEM_I(file_inode(file))->owner)
		return ERR_PTR(-EOPNOTSUPP);

	folio = kvm_gmem_get_folio(file_inode(file), index);
	if (IS_ERR(folio))
		return folio;

	if (folio_test_hwpoison(folio)) {
		folio_unlock(folio);
		folio_put(folio);
		return ERR_PTR(-EHWPOISON);
	}

	*pfn = folio_file_pfn(folio, index);
	if (max_order)
		*max_order = 0;

	return folio;
}

/*
 * The largest order KVM can map @gfn with, given that the memory is uniform
 * over the naturally aligned block of @order around @index: the gfn and the
 * index must agree below it, and KVM maps 4 KiB, 2 MiB or 1 GiB. The
 * attributes are the caller's to check (kvm_gmem_block_private()).
 */
static int kvm_gmem_mapping_order(int order, gfn_t gfn, pgoff_t index)
{
	if (order >= PUD_ORDER && !((gfn ^ index) & (BIT(PUD_ORDER) - 1)))
		return PUD_ORDER;
	if (order >= PMD_ORDER && !((gfn ^ index) & (BIT(PMD_ORDER) - 1)))
		return PMD_ORDER;
	return 0;
}

/*
 * Whether the file's attributes say private for every index of the
 * naturally aligned block of @order around @index. The memory's state
 * follows the attributes except in a chunk whose fill is not done, or one
 * a failed fill could not give back (kvm_gmem_track_fill()): there, a run
 * of private memory can cover indices the attributes say are shared. A
 * conversion that changes the attributes after this looked runs an
 * invalidation, which makes the fault retry.
 *
 * A private run is one entry (kvm_gmem_attr_merge()), so the walk
 * normally ends at its first entry; it gives up after
 * KVM_GMEM_BLOCK_ENTRIES all the same (the block is then mapped smaller),
 * so that no layout of the attributes can make a fault spend long under
 * RCU.
 */
#define KVM_GMEM_BLOCK_ENTRIES	64

static bool kvm_gmem_block_private(struct inode *inode, pgoff_t index,
				   int order)
{
	MA_STATE(mas, &GMEM_I(inode)->attributes, 0, 0);
	pgoff_t next = ALIGN_DOWN(index, 1UL << order);
	pgoff_t last = next + (1UL << order) - 1;
	unsigned int entries = 0;
	bool private = false;
	void *entry;

	mas_set(&mas, next);
	rcu_read_lock();
	mas_for_each(&mas, entry, last) {
		/* A gap is shared, and so is an entry without PRIVATE. */
		if (mas.index > next ||
		    !(xa_to_value(entry) & KVM_MEMORY_ATTRIBUTE_PRIVATE))
			break;
		if (mas.last >= last) {
			private = true;
			break;
		}
		if (++entries >= KVM_GMEM_BLOCK_ENTRIES)
			break;
		next = mas.last + 1;
	}
	rcu_read_unlock();
	return private;
}

/*
 * gmem_track memory for KVM. Private memory is returned by PFN alone, with
 * no page reference: it has no struct page in the tracked design, and
 * anything that takes it away invalidates KVM's mappings first. Shared
 * memory comes from the page cache like any guest_memfd folio.
 */
static int kvm_gmem_track_get_pfn(struct file *file,
				  struct kvm_memory_slot *slot, gfn_t gfn,
				  kvm_pfn_t *pfn, struct page **page,
				  int *max_order)
{
	pgoff_t index = kvm_gmem_get_index(slot, gfn);
	struct inode *inode = file_inode(file);
	struct address_space *mapping = inode->i_mapping;
	struct folio *folio;
	unsigned long p;
	int r, order;
	bool shared;

	r = kvm_gmem_check_binding(file, slot, index);
	if (r)
		return r;

	r = gmem_track_lookup(GMEM_I(inode)->owner, index, &p, &order, &shared);
	/* Private where the attributes say shared: a fill is not done. */
	if (r == -ENOENT ||
	    (!r && !shared && kvm_gmem_is_shared_mem(inode, index))) {
		filemap_invalidate_lock_shared(mapping);
		r = kvm_gmem_track_fill(inode, index,
					kvm_gmem_is_shared_mem(inode, index));
		filemap_invalidate_unlock_shared(mapping);
		if (!r)
			r = gmem_track_lookup(GMEM_I(inode)->owner, index, &p,
					      &order, &shared);
	}
	if (r)
		return r;

	if (!shared) {
		*pfn = p;
		*page = NULL;
		/* No larger than the attributes' private block around it. */
		order = kvm_gmem_mapping_order(order, gfn, index);
		while (order && kvm_gmem_converts(inode) &&
		       !kvm_gmem_block_private(inode, index, order))
			order = order == PUD_ORDER ? PMD_ORDER : 0;
		*max_order = order;
		return 0;
	}

	filemap_invalidate_lock_shared(mapping);
	folio = kvm_gmem_track_get_folio(inode, index);
	filemap_invalidate_unlock_shared(mapping);
	if (IS_ERR(folio))
		return PTR_ERR(folio);
	if (folio_test_hwpoison(folio)) {
		folio_unlock(folio);
		folio_put(folio);
		return -EHWPOISON;
	}

	*pfn = folio_pfn(folio);
	*page = folio_page(folio, 0);
	*max_order = 0;
	folio_unlock(folio);
	return 0;
}

int kvm_gmem_get_pfn(struct kvm *kvm, struct kvm_memory_slot *slot,
		     gfn_t gfn, kvm_pfn_t *pfn, struct page **page,
		     int *max_order)
{
	pgoff_t index = kvm_gmem_get_index(slot, gfn);
	struct folio *folio;
	int r = 0, __order;

	max_order = max_order ?: &__order;

	CLASS(gmem_get_file, file)(slot);
	if (!file)
		return -EFAULT;

	if (GMEM_I(file_inode(file))->owner) {
		/*
		 * -EBUSY: no chunk could be had for a moment (see
		 * KVM_GMEM_BUSY_TRIES). Take the fault again here rather than
		 * fail KVM_RUN, until a signal is pending (-EINTR: KVM_RUN
		 * returns to the VMM, which runs the vCPU again).
		 */
		while ((r = kvm_gmem_track_get_pfn(file, slot, gfn, pfn, page,
						   max_order)) == -EBUSY) {
			if (signal_pending(current))
				return -EINTR;
			cond_resched();
		}
		return r;
	}

	folio = __kvm_gmem_get_pfn(file, slot, index, pfn, max_order);
	if (IS_ERR(folio))
		return PTR_ERR(folio);

	if (!folio_test_uptodate(folio)) {
		clear_highpage(folio_page(folio, 0));
		folio_mark_uptodate(folio);
	}

#ifdef CONFIG_HAVE_KVM_ARCH_GMEM_CONVERT
	if (kvm_gmem_is_private_mem(file_inode(file), index))
		r = kvm_arch_gmem_make_private(kvm, gfn, *pfn,
					       (kvm_pfn_t)1 << *max_order);
#endif

	folio_unlock(folio);

	if (!r)
		*page = folio_file_page(folio, index);
	else
		folio_put(folio);

	return r;
}
EXPORT_SYMBOL_FOR_KVM_INTERNAL(kvm_gmem_get_pfn);

#ifdef CONFIG_HAVE_KVM_ARCH_GMEM_POPULATE

static long __kvm_gmem_populate(struct kvm *kvm, struct kvm_memory_slot *slot,
				struct file *file, gfn_t gfn, struct page *src_page,
				kvm_gmem_populate_cb post_populate, void *opaque)
{
	pgoff_t index = kvm_gmem_get_index(slot, gfn);
	struct folio *folio;
	kvm_pfn_t pfn;
	int ret;

	filemap_invalidate_lock(file->f_mapping);

	folio = __kvm_gmem_get_pfn(file, slot, index, &pfn, NULL);
	if (IS_ERR(folio)) {
		ret = PTR_ERR(folio);
		goto out_unlock;
	}

	folio_unlock(folio);

	if (!kvm_range_has_memory_attributes(kvm, gfn, gfn + 1,
					     KVM_MEMORY_ATTRIBUTE_PRIVATE,
					     KVM_MEMORY_ATTRIBUTE_PRIVATE)) {
		ret = -EINVAL;
		goto out_put_folio;
	}

	ret = post_populate(kvm, gfn, pfn, src_page, opaque);
	if (!ret)
		folio_mark_uptodate(folio);

out_put_folio:
	folio_put(folio);
out_unlock:
	filemap_invalidate_unlock(file->f_mapping);
	return ret;
}

long kvm_gmem_populate(struct kvm *kvm, gfn_t start_gfn, void __user *src,
		       long npages, bool may_writeback_src,
		       kvm_gmem_populate_cb post_populate, void *opaque)
{
	struct kvm_memory_slot *slot;
	int ret = 0;
	long i;

	lockdep_assert_held(&kvm->slots_lock);

	if (WARN_ON_ONCE(npages <= 0))
		return -EINVAL;

	if (WARN_ON_ONCE(!PAGE_ALIGNED(src)))
		return -EINVAL;

	slot = gfn_to_memslot(kvm, start_gfn);
	if (!kvm_slot_has_gmem(slot))
		return -EINVAL;

	CLASS(gmem_get_file, file)(slot);
	if (!file)
		return -EFAULT;

	npages = min_t(ulong, slot->npages - (start_gfn - slot->base_gfn), npages);
	for (i = 0; i < npages; i++) {
		struct page *src_page = NULL;

		if (signal_pending(current)) {
			ret = -EINTR;
			break;
		}

		if (src) {
			unsigned long uaddr = (unsigned long)src + i * PAGE_SIZE;
			unsigned int flags = may_writeback_src ? FOLL_WRITE : 0;

			ret = get_user_pages_fast(uaddr, 1, flags, &src_page);
			if (ret < 0)
				break;
			if (ret != 1) {
				ret = -ENOMEM;
				break;
			}
		}

		ret = __kvm_gmem_populate(kvm, slot, file, start_gfn + i, src_page,
					  post_populate, opaque);

		if (src_page)
			put_page(src_page);

		if (ret)
			break;
	}

	return ret && !i ? ret : i;
}
EXPORT_SYMBOL_FOR_KVM_INTERNAL(kvm_gmem_populate);
#endif

static struct kmem_cache *kvm_gmem_inode_cachep;

static void kvm_gmem_init_inode_once(void *__gi)
{
	struct gmem_inode *gi = __gi;

	/*
	 * Note!  Don't initialize the inode with anything specific to the
	 * guest_memfd instance, or that might be specific to how the inode is
	 * used (from the VFS-layer's perspective).  This hook is called only
	 * during the initial slab allocation, i.e. only fields/state that are
	 * idempotent across _all_ use of the inode _object_ can be initialized
	 * at this time!
	 */
	inode_init_once(&gi->vfs_inode);
}

static struct inode *kvm_gmem_alloc_inode(struct super_block *sb)
{
	struct gmem_inode *gi;

	gi = alloc_inode_sb(sb, kvm_gmem_inode_cachep, GFP_KERNEL);
	if (!gi)
		return NULL;

	mpol_shared_policy_init(&gi->policy, NULL);

	gi->flags = 0;
	gi->owner = NULL;
	INIT_LIST_HEAD(&gi->gmem_file_list);
	/*
	 * MT_FLAGS_ALLOC_RANGE keeps node metadata out of the slots: the RCU
	 * free of a large subtree that a spanning store kills (converting a
	 * fragmented file back whole) reads past the last child of a full
	 * range_64 node otherwise.
	 */
	mt_init_flags(&gi->attributes, MT_FLAGS_LOCK_EXTERN |
		      MT_FLAGS_ALLOC_RANGE | MT_FLAGS_USE_RCU);
	mt_set_external_lock(&gi->attributes,
			     &gi->vfs_inode.i_data.invalidate_lock);
	mutex_init(&gi->fill_lock);
	return &gi->vfs_inode;
}

static void kvm_gmem_destroy_inode(struct inode *inode)
{
	struct gmem_inode *gi = GMEM_I(inode);

	mpol_free_shared_policy(&gi->policy);

	/* The page cache is gone: every chunk is free to go back. */
	if (gi->owner)
		gmem_track_owner_destroy(gi->owner);

	filemap_invalidate_lock(inode->i_mapping);
	__mt_destroy(&gi->attributes);
	filemap_invalidate_unlock(inode->i_mapping);
}

static void kvm_gmem_free_inode(struct inode *inode)
{
	kmem_cache_free(kvm_gmem_inode_cachep, GMEM_I(inode));
}

static const struct super_operations kvm_gmem_super_operations = {
	.statfs		= simple_statfs,
	.alloc_inode	= kvm_gmem_alloc_inode,
	.destroy_inode	= kvm_gmem_destroy_inode,
	.free_inode	= kvm_gmem_free_inode,
};

static int kvm_gmem_init_fs_context(struct fs_context *fc)
{
	struct pseudo_fs_context *ctx;

	if (!init_pseudo(fc, GUEST_MEMFD_MAGIC))
		return -ENOMEM;

	ctx = fc->fs_private;
	ctx->ops = &kvm_gmem_super_operations;

	return 0;
}

static struct file_system_type kvm_gmem_fs = {
	.name		 = "guest_memfd",
	.init_fs_context = kvm_gmem_init_fs_context,
	.kill_sb	 = kill_anon_super,
};

static int kvm_gmem_init_mount(void)
{
	kvm_gmem_mnt = kern_mount(&kvm_gmem_fs);

	if (IS_ERR(kvm_gmem_mnt))
		return PTR_ERR(kvm_gmem_mnt);

	kvm_gmem_mnt->mnt_flags |= MNT_NOEXEC;
	return 0;
}

int kvm_gmem_init(struct module *module)
{
	struct kmem_cache_args args = {
		.align = 0,
		.ctor = kvm_gmem_init_inode_once,
	};
	int ret;

	kvm_gmem_fops.owner = module;
	kvm_gmem_inode_cachep = kmem_cache_create("kvm_gmem_inode_cache",
						  sizeof(struct gmem_inode),
						  &args, SLAB_ACCOUNT);
	if (!kvm_gmem_inode_cachep)
		return -ENOMEM;

	ret = kvm_gmem_init_mount();
	if (ret) {
		kmem_cache_destroy(kvm_gmem_inode_cachep);
		return ret;
	}
	return 0;
}

void kvm_gmem_exit(void)
{
	kern_unmount(kvm_gmem_mnt);
	kvm_gmem_mnt = NULL;
	rcu_barrier();
	kmem_cache_destroy(kvm_gmem_inode_cachep);
}
