// SPDX-License-Identifier: GPL-2.0
/*
 * In-place conversion of guest_memfd memory between shared and private,
 * seen from userspace through KVM_SET_MEMORY_ATTRIBUTES2 on the file.
 *
 * One test body runs over five backends: the upstream 4 KiB guest_memfd,
 * and gmem_track files of both designs (struct_page, tracked) with 2 MiB
 * and with 1 GiB chunks. No vCPU is created: every check is made through
 * the host mapping of the file (MAP_SHARED), where a shared offset must
 * fault in with its content and a private one must raise SIGBUS.
 *
 * Checked here:
 *  - the capabilities that announce the ioctl and its flags;
 *  - round trips at 4 KiB, 2 MiB (aligned and not) and whole-file 1 GiB
 *    granularity, with PRESERVE (content kept) and ZERO (content gone) in
 *    either direction, neighbours of the range untouched;
 *  - shared and private 4 KiB pages alternating inside one chunk;
 *  - a page referenced by a pipe (vmsplice) makes the conversion to
 *    private fail with EAGAIN, error_offset naming the first such page,
 *    and nothing changed; it succeeds once the pipe is read;
 *  - hole punching, refill, faults on holes, attributes surviving the
 *    punch; a punch of part of a chunk zeroes that part, shared or
 *    private, seen through the same mapping, and keeps the chunk, its
 *    attributes and its holes (gmem_track, as hugetlbfs does);
 *  - the file closed while mapped, and its chunks freed after munmap;
 *  - a file created with GUEST_MEMFD_FLAG_INIT_SHARED (with MMAP or
 *    without) starts shared: every page reads zeroes, holes included, and
 *    it converts to private and back, content kept;
 *  - a long conversion of a 1 GiB file killed with SIGKILL midway: the
 *    process goes and the file is as it was;
 *  - private content unreadable from the host: the mapping,
 *    /proc/self/mem, process_vm_readv(), read() and pread() of the file,
 *    /dev/mem;
 *  - gmem_track's allocation points made to fail by fail_function
 *    (vmemmap rebuild, descriptor split, chunk allocation): ENOMEM, and
 *    the file as it was, content and counters;
 *  - every slab and page allocation of a conversion either way, a punch
 *    and a fallocate made to fail in turn (failslab and fail_page_alloc
 *    through fail-nth, debug kernels only): ENOMEM and the file as it
 *    was, or the failure absorbed and the operation done;
 *  - bad input, table by table, each case refused with its documented
 *    errno and nothing changed (shared pages keep their content, a
 *    private page still SIGBUSes, the counters are the same): every
 *    invalid field of struct kvm_memory_attributes2 and of
 *    KVM_CREATE_GUEST_MEMFD (EINVAL); every fallocate() mode but
 *    allocation and punching, misaligned, negative, empty, overflowing
 *    and out-of-file ranges (EOPNOTSUPP, EINVAL, EFBIG; a punch past the
 *    end is a no-op); mmap() with MAP_PRIVATE, PROT_EXEC, bad offsets and
 *    lengths, of a file without MMAP, mprotect() to PROT_EXEC, and
 *    mappings past the end of the file (SIGBUS there); the default design
 *    knob, the debugfs owner and the read-only counters of sysfs. Each
 *    table prints "reliability: bad_inputs <N>";
 *  - the default backend (/sys/kernel/mm/gmem_track/default_backend,
 *    fixture default_backend, one variant per value): files with
 *    upstream's flags only (MMAP, none, MMAP|INIT_SHARED) of a chunk
 *    multiple become files of that design and chunk on SW-protected and
 *    default VMs, other sizes and explicit gmem_track flags do not, the
 *    knob changes no existing file and no KVM_CAP_GUEST_MEMFD_FLAGS,
 *    default_backend_files counts each file that took the default, bad
 *    values are refused; the knob is restored after every test;
 *  - the gmem_track counters (/sys/kernel/mm/gmem_track/<design>/ and
 *    nr_memmap_pages + nr_memmap_boot_pages in /proc/vmstat) after every
 *    step: the tracked design holds 4 KiB of vmemmap per 256 KiB granule
 *    with shared memory and none for private memory, the struct-page
 *    design 1/64 of its memory whatever the state.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <linux/kvm.h>
#include <linux/types.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "../kselftest_harness.h"
#include "../gmem_track/gmem_track_util.h"

#define PAGE_SZ		4096ULL
#define GRANULE		(256ULL << 10)	/* one vmemmap page of struct pages */
#define SZ_1M		(1024ULL * 1024)
#define SZ_2M		(2ULL << 20)
#define SZ_4M		(4ULL << 20)
#define SZ_1G		(1024 * SZ_1M)
#define WORDS		(PAGE_SZ / sizeof(__u64))

#define SHARED		0ULL
#define PRIVATE		KVM_MEMORY_ATTRIBUTE_PRIVATE
#define ZERO		KVM_SET_MEMORY_ATTRIBUTES2_ZERO
#define PRESERVE	KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE
#define GMEM_FLAGS	(GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_GMEM_TRACK)
#define GT_ALL_FLAGS	(GUEST_MEMFD_FLAG_GMEM_TRACK | GUEST_MEMFD_FLAG_HUGE_1G | \
			 GUEST_MEMFD_FLAG_TRACKED | GUEST_MEMFD_FLAG_STRUCT_PAGE)

/*
 * Upstream allocates KVM_CREATE_GUEST_MEMFD flags from bit 0 (bit 2 is
 * taken by NO_DIRECT_MAP); ours must stay clear of them, and below bit 31
 * so that KVM_CAP_GMEM_TRACK_FLAGS, an int, can report them.
 */
_Static_assert(!(GT_ALL_FLAGS & ((1ULL << 24) - 1)) &&
	       GT_ALL_FLAGS < (1ULL << 31),
	       "gmem_track guest_memfd flags collide with upstream's");

/* error_offset is only written: garbage in it on input is ignored. */
#define ERR_POISON	0x5a5a5a5a5a5a5a5aULL

#define TMO		300	/* 1 GiB files are slow under QEMU TCG */

/* ---- SIGBUS probing ---- */

/*
 * Accesses the compiler must emit as written, in program order with the
 * arming of the handler: a SIGBUS has to come from exactly that access.
 */
#define LOAD(p)		__atomic_load_n((p), __ATOMIC_RELAXED)
#define STORE(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELAXED)

static sigjmp_buf sigbus_jmp;
static int sigbus_armed;

static void arm(int on)
{
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	__atomic_store_n(&sigbus_armed, on, __ATOMIC_SEQ_CST);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
}

static void sigbus_handler(int sig)
{
	if (__atomic_load_n(&sigbus_armed, __ATOMIC_SEQ_CST)) {
		__atomic_store_n(&sigbus_armed, 0, __ATOMIC_SEQ_CST);
		siglongjmp(sigbus_jmp, 1);
	}
	/* Not expected: die of it on return, the harness reports it. */
	signal(SIGBUS, SIG_DFL);
}

static int install_sigbus_handler(void)
{
	struct sigaction sa = {
		.sa_handler = sigbus_handler,
		/* siglongjmp() without saving the mask: keep SIGBUS open. */
		.sa_flags = SA_NODEFER,
	};

	sigemptyset(&sa.sa_mask);
	return sigaction(SIGBUS, &sa, NULL);
}

enum { PG_OK, PG_MISMATCH, PG_SIGBUS };
enum page_op { OP_FILL, OP_CHECK };

/* Word index of the last mismatch page_op() found. */
static unsigned int bad_word;

/* Different for every word, page and seed, never 0 (that is seed 0). */
static __u64 pattern(__u64 seed, __u64 off)
{
	__u64 v = ((off + 1) * 0x9e3779b97f4a7c15ULL) ^ seed;

	if (!seed)
		return 0;
	return v ? v : 1;
}

static __u64 next_seed(void)
{
	static __u64 n;

	return 0x5eed000000000000ULL + (++n << 16);
}

/*
 * Fill or check the page at file offset @off: every word when @full, else
 * the first, the last and one that moves with the page index (1 GiB
 * files: every word would take too long under TCG). A seed of 0 means
 * zeroes.
 */
static int page_op(char *mem, __u64 off, enum page_op op, __u64 seed,
		   bool full)
{
	__u64 *w = (__u64 *)(mem + off);
	unsigned int sample[3] = { 0, 1 + (off / PAGE_SZ) % (WORDS - 2),
				   WORDS - 1 };
	unsigned int i, k, n = full ? WORDS : 3;

	if (sigsetjmp(sigbus_jmp, 0))
		return PG_SIGBUS;
	arm(1);
	for (i = 0; i < n; i++) {
		k = full ? i : sample[i];
		if (op == OP_FILL) {
			STORE(&w[k], pattern(seed, off + k * 8));
		} else if (LOAD(&w[k]) != pattern(seed, off + k * 8)) {
			arm(0);
			bad_word = k;
			return PG_MISMATCH;
		}
	}
	arm(0);
	return PG_OK;
}

/* One access to the page at @off: PG_OK or PG_SIGBUS. */
static int probe(char *mem, __u64 off, bool write)
{
	__u64 *w = (__u64 *)(mem + off);

	if (sigsetjmp(sigbus_jmp, 0))
		return PG_SIGBUS;
	arm(1);
	if (write)
		STORE(w, 0xbadbadbadbadbadULL);
	else
		LOAD(w);
	arm(0);
	return PG_OK;
}

/* ---- counters ---- */

struct counters {
	long chunks;
	long private_b;
	long shared_b;
	long vmemmap_b;
	long memmap;
	long parked;
	long reserved;	/* chunks of the boot reservation in use */
};

/* ---- KVM ---- */

static int check_cap(int fd, long cap)
{
	return ioctl(fd, KVM_CHECK_EXTENSION, cap);
}

/*
 * Every KVM_CREATE_GUEST_MEMFD flag @fd takes: upstream's from
 * KVM_CAP_GUEST_MEMFD_FLAGS, gmem_track's from KVM_CAP_GMEM_TRACK_FLAGS.
 */
static int gmem_flags_cap(int fd)
{
	int caps = check_cap(fd, KVM_CAP_GUEST_MEMFD_FLAGS);
	int gt = check_cap(fd, KVM_CAP_GMEM_TRACK_FLAGS);

	if (caps < 0)
		return caps;
	return gt > 0 ? caps | gt : caps;
}

/* Returns the new guest_memfd or -errno. */
static int create_gmem(int vm_fd, __u64 size, __u64 flags)
{
	struct kvm_create_guest_memfd args = {
		.size = size,
		.flags = flags,
	};
	int fd = ioctl(vm_fd, KVM_CREATE_GUEST_MEMFD, &args);

	return fd < 0 ? -errno : fd;
}

/* Returns 0 or -errno; *err_off (if given) gets error_offset back. */
static int set_attrs2(int fd, struct kvm_memory_attributes2 *a,
		      __u64 *err_off)
{
	int ret;

	ret = ioctl(fd, KVM_SET_MEMORY_ATTRIBUTES2, a) ? -errno : 0;
	if (err_off)
		*err_off = a->error_offset;
	return ret;
}

static int set_attrs(int fd, __u64 off, __u64 size, __u64 attrs,
		     __u64 flags, __u64 *err_off)
{
	struct kvm_memory_attributes2 a = {
		.offset = off,
		.size = size,
		.attributes = attrs,
		.flags = flags,
	};

	return set_attrs2(fd, &a, err_off);
}

/* Returns 0 or -errno. */
static int falloc(int fd, int mode, __u64 off, __u64 len)
{
	return fallocate(fd, mode, off, len) ? -errno : 0;
}

/* Distinct 256 KiB granules touched by two disjoint, ordered ranges. */
static long granules2(__u64 a, __u64 a_len, __u64 b, __u64 b_len)
{
	long n = 0;

	if (a_len)
		n += (a + a_len - 1) / GRANULE - a / GRANULE + 1;
	if (b_len)
		n += (b + b_len - 1) / GRANULE - b / GRANULE + 1;
	if (a_len && b_len && (a + a_len - 1) / GRANULE == b / GRANULE)
		n--;
	return n;
}

static long granules(__u64 off, __u64 len)
{
	return granules2(off, len, 0, 0);
}

/* ---- fixture ---- */

/* One guest_memfd file, its VM and its host mapping. */
struct gfile {
	int kvm_fd;
	int vm_fd;
	int fd;
	int pipefd[2];
	char *mem;
	__u64 flags;
	__u64 size;
	__u64 chunk;		/* unit of allocation and punching */
	const char *design;	/* sysfs directory, NULL: not gmem_track */
	bool full;		/* check every word of a page */
	struct counters before;	/* before the file existed */
};

FIXTURE(gmem) {
	struct gfile f;
};

FIXTURE_VARIANT(gmem) {
	__u64 flags;
	__u64 size;
	__u64 chunk;
	const char *design;
};

FIXTURE_VARIANT_ADD(gmem, upstream_4k) {
	.flags = GUEST_MEMFD_FLAG_MMAP,
	.size = SZ_4M, .chunk = PAGE_SZ, .design = NULL,
};

FIXTURE_VARIANT_ADD(gmem, struct_page_2m) {
	.flags = GMEM_FLAGS | GUEST_MEMFD_FLAG_STRUCT_PAGE,
	.size = SZ_4M, .chunk = SZ_2M, .design = "struct_page",
};

FIXTURE_VARIANT_ADD(gmem, struct_page_1g) {
	.flags = GMEM_FLAGS | GUEST_MEMFD_FLAG_HUGE_1G |
		 GUEST_MEMFD_FLAG_STRUCT_PAGE,
	.size = SZ_1G, .chunk = SZ_1G, .design = "struct_page",
};

FIXTURE_VARIANT_ADD(gmem, tracked_2m) {
	.flags = GMEM_FLAGS | GUEST_MEMFD_FLAG_TRACKED,
	.size = SZ_4M, .chunk = SZ_2M, .design = "tracked",
};

FIXTURE_VARIANT_ADD(gmem, tracked_1g) {
	.flags = GMEM_FLAGS | GUEST_MEMFD_FLAG_HUGE_1G |
		 GUEST_MEMFD_FLAG_TRACKED,
	.size = SZ_1G, .chunk = SZ_1G, .design = "tracked",
};

static bool is_tracked(struct gfile *f)
{
	return f->design && !strcmp(f->design, "tracked");
}

static void read_counters(struct gfile *f, struct counters *c)
{
	bool huge = f->chunk == SZ_1G;

	memset(c, 0, sizeof(*c));
	if (!f->design)
		return;
	gmem_deferred_settle();
	c->chunks = sysfs_long(f->design, huge ? "chunks_1G" : "chunks_2M");
	c->private_b = sysfs_long(f->design, "private_bytes");
	c->shared_b = sysfs_long(f->design, "shared_bytes");
	c->vmemmap_b = sysfs_long(f->design, "vmemmap_bytes");
	c->parked = sysfs_long(NULL, huge ? "parked_1G" : "parked_2M");
	c->memmap = memmap_pages();
	/* No reservation of this chunk size (or none at all): 0. */
	c->reserved = sysfs_long(NULL, huge ? "reserve/used_1G_bytes" :
					      "reserve/used_2M_bytes");
	c->reserved = c->reserved > 0 ? c->reserved / (long)f->chunk : 0;
}

static void print_counters(const char *when, const struct counters *now,
			   const struct counters *before)
{
	/* Deltas: chunks, bytes (private, shared, vmemmap), memmap pages. */
	ksft_print_msg("%s: chunks %+ld private %+ld shared %+ld vmemmap %+ld memmap %+ld\n",
		       when, now->chunks - before->chunks,
		       now->private_b - before->private_b,
		       now->shared_b - before->shared_b,
		       now->vmemmap_b - before->vmemmap_b,
		       now->memmap - before->memmap);
}

/*
 * The whole file is allocated, @shared bytes of it shared over @gran
 * granules: check every counter against the figures before the file.
 */
static void expect_accounting(struct __test_metadata *_metadata,
			      struct gfile *f,
			      long shared, long gran, const char *when)
{
	long size = f->size, rsv;
	struct counters now;

	if (!f->design)
		return;
	read_counters(f, &now);
	if (when)
		print_counters(when, &now, &f->before);
	EXPECT_EQ(size / (long)f->chunk, now.chunks - f->before.chunks);
	EXPECT_EQ(size - shared, now.private_b - f->before.private_b);
	EXPECT_EQ(shared, now.shared_b - f->before.shared_b);
	/*
	 * A chunk of the boot reservation never had struct pages: the tracked
	 * design takes such chunks first and gives back no vmemmap for them;
	 * the struct-page design takes one when the buddy allocator has no
	 * contiguous memory, and builds its struct pages.
	 */
	rsv = (now.reserved - f->before.reserved) * (long)(f->chunk / GRANULE);
	if (is_tracked(f)) {
		EXPECT_EQ(gran * (long)PAGE_SZ,
			  now.vmemmap_b - f->before.vmemmap_b);
		EXPECT_EQ(gran - size / (long)GRANULE + rsv,
			  now.memmap - f->before.memmap);
	} else {
		EXPECT_EQ(size / 64, now.vmemmap_b - f->before.vmemmap_b);
		EXPECT_EQ(rsv, now.memmap - f->before.memmap);
	}
	if (now.reserved != f->before.reserved)
		TH_LOG("%ld of the file's chunks from the boot reservation",
		       now.reserved - f->before.reserved);
}

/*
 * Files are freed when their last reference goes, which may be a little
 * after close() or munmap() returns: wait up to 2 s for the counters to
 * reach @want (only its chunk count when @chunks_only).
 */
static bool wait_counters(struct gfile *f, const struct counters *want,
			  bool chunks_only, struct counters *now)
{
	struct timespec ts = { .tv_nsec = 10 * 1000 * 1000 };
	int i;

	for (i = 0; i < 200; i++) {
		read_counters(f, now);
		if (now->chunks == want->chunks &&
		    (chunks_only || (now->private_b == want->private_b &&
				     now->shared_b == want->shared_b &&
				     now->vmemmap_b == want->vmemmap_b)))
			return true;
		nanosleep(&ts, NULL);
	}
	return false;
}

/* Drop the fixture's file and mapping, for a test that needs the memory. */
static void drop_file(struct gfile *f)
{
	if (f->mem != MAP_FAILED)
		munmap(f->mem, f->size);
	f->mem = MAP_FAILED;
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

static void release(struct gfile *f)
{
	int i;

	if (f->mem != MAP_FAILED)
		munmap(f->mem, f->size);
	f->mem = MAP_FAILED;
	for (i = 0; i < 2; i++) {
		if (f->pipefd[i] >= 0)
			close(f->pipefd[i]);
		f->pipefd[i] = -1;
	}
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	if (f->vm_fd >= 0)
		close(f->vm_fd);
	f->vm_fd = -1;
	if (f->kvm_fd >= 0)
		close(f->kvm_fd);
	f->kvm_fd = -1;
}

FIXTURE_SETUP(gmem)
{
	struct gfile *f = &self->f;
	int caps, ret;

	f->kvm_fd = -1;
	f->vm_fd = -1;
	f->fd = -1;
	f->pipefd[0] = -1;
	f->pipefd[1] = -1;
	f->mem = MAP_FAILED;
	f->flags = variant->flags;
	f->size = variant->size;
	f->chunk = variant->chunk;
	f->design = variant->design;
	f->full = f->size <= 64 * SZ_1M;

	ASSERT_EQ(PAGE_SZ, (__u64)getpagesize());
	ASSERT_EQ(0, install_sigbus_handler());

	f->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (f->kvm_fd < 0)
		SKIP(return, "/dev/kvm: %s", strerror(errno));
	caps = check_cap(f->kvm_fd, KVM_CAP_VM_TYPES);
	if (caps <= 0 || !(caps & (1 << KVM_X86_SW_PROTECTED_VM)))
		SKIP(release(f); return, "no KVM_X86_SW_PROTECTED_VM");
	f->vm_fd = ioctl(f->kvm_fd, KVM_CREATE_VM, KVM_X86_SW_PROTECTED_VM);
	ASSERT_LE(0, f->vm_fd);

	caps = gmem_flags_cap(f->vm_fd);
	if (caps < 0 || (caps & f->flags) != f->flags)
		SKIP(release(f); return,
		     "guest_memfd flags %#llx not supported (%#x)",
		     f->flags, caps);
	if (check_cap(f->vm_fd, KVM_CAP_MEMORY_ATTRIBUTES2_FLAGS) <= 0)
		TH_LOG("KVM_CAP_MEMORY_ATTRIBUTES2_FLAGS is 0: expect failures");

	read_counters(f, &f->before);
	f->fd = create_gmem(f->vm_fd, f->size, f->flags);
	ASSERT_LE(0, f->fd);

	/* Files start private: this allocates the whole file, zeroed. */
	ret = falloc(f->fd, FALLOC_FL_KEEP_SIZE, 0, f->size);
	if (ret == -ENOMEM && f->chunk == SZ_1G)
		SKIP(release(f); return, "no free 1 GiB chunk");
	ASSERT_EQ(0, ret);

	f->mem = mmap(NULL, f->size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      f->fd, 0);
	ASSERT_NE(MAP_FAILED, f->mem);
}

static void nth_restore(void);
static void vres_restore(void);
static void deferred_restore(void);

FIXTURE_TEARDOWN(gmem)
{
	struct gfile *f = &self->f;
	struct counters now;

	/* The fault injection a test set up, should an ASSERT end it. */
	nth_restore();
	vres_restore();
	if (!access(GMEM_FAIL_FN "/inject", W_OK))
		gmem_fail_clear();
	deferred_restore();
	release(f);
	/* Let the next test's "before" figures start clean. */
	if (f->design)
		wait_counters(f, &f->before, false, &now);
}

/* ---- range helpers: -1 when every page passed, else the first offset */

static long long fill_range(struct gfile *f, __u64 off, __u64 len,
			    __u64 seed)
{
	__u64 o;

	for (o = off; o < off + len; o += PAGE_SZ) {
		if (page_op(f->mem, o, OP_FILL, seed, f->full) != PG_OK) {
			ksft_print_msg("fill: SIGBUS at offset %#llx\n", o);
			return o;
		}
	}
	return -1;
}

static long long check_range(struct gfile *f, __u64 off, __u64 len,
			     __u64 seed)
{
	__u64 o, *w;
	int ret;

	for (o = off; o < off + len; o += PAGE_SZ) {
		ret = page_op(f->mem, o, OP_CHECK, seed, f->full);
		if (ret == PG_OK)
			continue;
		if (ret == PG_SIGBUS) {
			ksft_print_msg("offset %#llx: SIGBUS, expected %s\n",
				       o, seed ? "the pattern" : "zeroes");
		} else {
			w = (__u64 *)(f->mem + o);
			ksft_print_msg("offset %#llx word %u: %#llx, expected %#llx\n",
				       o, bad_word, LOAD(&w[bad_word]),
				       pattern(seed, o + bad_word * 8));
		}
		return o;
	}
	return -1;
}

/* Every page of a small range, 256 spread pages and the last of a big one. */
static long long check_private(struct gfile *f, __u64 off, __u64 len,
			       bool write)
{
	__u64 pages = len / PAGE_SZ, step = pages > 256 ? pages / 256 : 1;
	__u64 i, o;

	for (i = 0; i < pages; i += step) {
		o = off + i * PAGE_SZ;
		if (probe(f->mem, o, write) != PG_SIGBUS)
			goto bad;
	}
	o = off + len - PAGE_SZ;
	if (len && probe(f->mem, o, write) != PG_SIGBUS)
		goto bad;
	return -1;
bad:
	ksft_print_msg("offset %#llx: %s a private page did not SIGBUS\n",
		       o, write ? "writing" : "reading");
	return o;
}

/* ---- tests ---- */

/*
 * The capabilities, on the VM and on /dev/kvm. KVM_CAP_GUEST_MEMFD_FLAGS
 * lists no gmem_track flag: a VMM may try each flag it lists alone
 * (upstream's guest_memfd_test does), and none of ours is valid alone.
 * Ours are in KVM_CAP_GMEM_TRACK_FLAGS, numbered with
 * KVM_CAP_MEMORY_ATTRIBUTES2_FLAGS far above upstream's sequence.
 */
TEST_F_TIMEOUT(gmem, caps, TMO)
{
	struct gfile *f = &self->f;
	int caps = check_cap(f->vm_fd, KVM_CAP_GUEST_MEMFD_FLAGS);
	int gt = check_cap(f->vm_fd, KVM_CAP_GMEM_TRACK_FLAGS);
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	__u64 bit;
	int fd;

	ksft_print_msg("flags: guest_memfd %#x, gmem_track %#x, attributes %#x, attributes2 %#x\n",
		       caps, gt,
		       check_cap(f->vm_fd, KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES),
		       check_cap(f->vm_fd, KVM_CAP_MEMORY_ATTRIBUTES2_FLAGS));
	EXPECT_EQ((int)KVM_MEMORY_ATTRIBUTE_PRIVATE,
		  check_cap(f->vm_fd, KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES));
	EXPECT_EQ((int)(ZERO | PRESERVE),
		  check_cap(f->vm_fd, KVM_CAP_MEMORY_ATTRIBUTES2_FLAGS));
	EXPECT_EQ(0, caps & (int)GT_ALL_FLAGS);
	EXPECT_EQ((int)GT_ALL_FLAGS, gt);
	EXPECT_GE(KVM_CAP_GMEM_TRACK_FLAGS, 1 << 24);
	EXPECT_GE(KVM_CAP_MEMORY_ATTRIBUTES2_FLAGS, 1 << 24);
	ASSERT_LE(0, kvm);
	EXPECT_EQ(0, check_cap(kvm, KVM_CAP_GUEST_MEMFD_FLAGS) &
		     (int)GT_ALL_FLAGS);
	EXPECT_EQ((int)GT_ALL_FLAGS, check_cap(kvm, KVM_CAP_GMEM_TRACK_FLAGS));
	close(kvm);

	/* What a VMM trying each listed flag alone sees: each one works. */
	for (bit = 1; bit && bit <= (1ULL << 31); bit <<= 1) {
		if (!(caps & bit))
			continue;
		fd = create_gmem(f->vm_fd, PAGE_SZ, bit);
		EXPECT_LE(0, fd) {
			TH_LOG("flag %#llx alone: %s", bit, strerror(-fd));
		}
		if (fd >= 0)
			close(fd);
	}
	/* And each of ours alone fails, as for any unlisted flag. */
	for (bit = 1; bit && bit <= (1ULL << 31); bit <<= 1) {
		if (!(gt & bit))
			continue;
		EXPECT_EQ(-EINVAL, create_gmem(f->vm_fd, PAGE_SZ, bit)) {
			TH_LOG("gmem_track flag %#llx alone", bit);
		}
	}
}

/*
 * Share [off - 4K, off + len + 4K) with a pattern, take [off, off + len)
 * to private and back with the given flags; the neighbours must keep
 * their content and stay shared throughout.
 */
static void roundtrip(struct __test_metadata *_metadata, struct gfile *f,
		      __u64 off, __u64 len, __u64 to_private, __u64 to_shared)
{
	__u64 lo = off >= PAGE_SZ ? off - PAGE_SZ : off;
	__u64 hi = off + len + PAGE_SZ <= f->size ? off + len + PAGE_SZ :
						    f->size;
	__u64 seed = next_seed();
	bool zero = (to_private | to_shared) & ZERO;

	TH_LOG("[%#llx, +%#llx): to private %s, to shared %s", off, len,
	       to_private & ZERO ? "ZERO" : "PRESERVE",
	       to_shared & ZERO ? "ZERO" : to_shared ? "PRESERVE" : "no flag");
	ASSERT_EQ(0, set_attrs(f->fd, lo, hi - lo, SHARED, PRESERVE, NULL));
	ASSERT_EQ(-1, fill_range(f, lo, hi - lo, seed));
	expect_accounting(_metadata, f, hi - lo, granules(lo, hi - lo), NULL);

	ASSERT_EQ(0, set_attrs(f->fd, off, len, PRIVATE, to_private, NULL));
	EXPECT_EQ(-1, check_private(f, off, len, false));
	EXPECT_EQ(-1, check_range(f, lo, off - lo, seed));
	EXPECT_EQ(-1, check_range(f, off + len, hi - off - len, seed));
	expect_accounting(_metadata, f, hi - lo - len,
			  granules2(lo, off - lo, off + len, hi - off - len),
			  NULL);

	ASSERT_EQ(0, set_attrs(f->fd, off, len, SHARED, to_shared, NULL));
	EXPECT_EQ(-1, check_range(f, off, len, zero ? 0 : seed));
	EXPECT_EQ(-1, check_range(f, lo, off - lo, seed));
	EXPECT_EQ(-1, check_range(f, off + len, hi - off - len, seed));
	expect_accounting(_metadata, f, hi - lo, granules(lo, hi - lo), NULL);

	/* All private again for the next round. */
	ASSERT_EQ(0, set_attrs(f->fd, lo, hi - lo, PRIVATE, PRESERVE, NULL));
	EXPECT_EQ(-1, check_private(f, lo, hi - lo, false));
	expect_accounting(_metadata, f, 0, 0, NULL);
}

struct range {
	__u64 off;
	__u64 len;
};

/* 4K, 2M chunk-aligned, 2M across a 2M boundary, the whole 1G file. */
static int ranges(struct gfile *f, struct range *r)
{
	int n = 0;

	r[n++] = (struct range){ SZ_1M + 3 * PAGE_SZ, PAGE_SZ };
	r[n++] = (struct range){ f->size / 2, SZ_2M };
	r[n++] = (struct range){ SZ_1M + PAGE_SZ, SZ_2M };
	if (f->size == SZ_1G)
		r[n++] = (struct range){ 0, SZ_1G };
	return n;
}

TEST_F_TIMEOUT(gmem, roundtrip_preserve, TMO)
{
	struct gfile *f = &self->f;
	struct range r[4];
	int i, n = ranges(f, r);

	expect_accounting(_metadata, f, 0, 0, "allocated");
	for (i = 0; i < n; i++)
		roundtrip(_metadata, f, r[i].off, r[i].len, PRESERVE, PRESERVE);
	/* To shared without a flag keeps the content too. */
	roundtrip(_metadata, f, r[0].off, r[0].len, PRESERVE, 0);
}

TEST_F_TIMEOUT(gmem, roundtrip_zero, TMO)
{
	struct gfile *f = &self->f;
	struct range r[4];
	int i, n = ranges(f, r);

	for (i = 0; i < n; i++) {
		roundtrip(_metadata, f, r[i].off, r[i].len, ZERO, ZERO);
		if (r[i].len == SZ_1G)
			continue;
		roundtrip(_metadata, f, r[i].off, r[i].len, ZERO, PRESERVE);
		roundtrip(_metadata, f, r[i].off, r[i].len, PRESERVE, ZERO);
	}
}

/* 2 MiB inside one chunk: the second 2 MiB chunk, or the first 2 MiB. */
static __u64 mixed_base(struct gfile *f)
{
	return f->chunk == SZ_2M ? SZ_2M : 0;
}

TEST_F_TIMEOUT(gmem, mixed_mmap, TMO)
{
	struct gfile *f = &self->f;
	__u64 base = mixed_base(f), seed = next_seed(), o, i;

	/* Even pages shared, odd pages private. */
	for (i = 0; i < SZ_2M / PAGE_SZ; i += 2) {
		ASSERT_EQ(0, set_attrs(f->fd, base + i * PAGE_SZ, PAGE_SZ,
				       SHARED, PRESERVE, NULL));
	}
	expect_accounting(_metadata, f, SZ_1M, granules(base, SZ_2M),
			  "even pages shared");

	for (i = 0; i < SZ_2M / PAGE_SZ; i++) {
		o = base + i * PAGE_SZ;
		if (i % 2) {
			EXPECT_EQ(PG_SIGBUS, probe(f->mem, o, false)) {
				TH_LOG("read of private offset %#llx", o);
			}
			EXPECT_EQ(PG_SIGBUS, probe(f->mem, o, true)) {
				TH_LOG("write of private offset %#llx", o);
			}
		} else {
			EXPECT_EQ(-1, fill_range(f, o, PAGE_SZ, seed));
		}
	}
	for (i = 0; i < SZ_2M / PAGE_SZ; i += 2) {
		EXPECT_EQ(-1, check_range(f, base + i * PAGE_SZ, PAGE_SZ,
					  seed));
	}
	/* The pages around the chunk were never shared. */
	if (base) {
		EXPECT_EQ(-1, check_private(f, base - PAGE_SZ, PAGE_SZ,
					    false));
	}
	if (base + SZ_2M < f->size)
		EXPECT_EQ(-1, check_private(f, base + SZ_2M, PAGE_SZ, false));

	/* One call over mixed states, then all shared: odd pages read 0. */
	ASSERT_EQ(0, set_attrs(f->fd, base, SZ_2M, PRIVATE, PRESERVE, NULL));
	expect_accounting(_metadata, f, 0, 0, NULL);
	EXPECT_EQ(-1, check_private(f, base, SZ_2M, false));
	ASSERT_EQ(0, set_attrs(f->fd, base, SZ_2M, SHARED, PRESERVE, NULL));
	expect_accounting(_metadata, f, SZ_2M, granules(base, SZ_2M), NULL);
	for (i = 0; i < SZ_2M / PAGE_SZ; i++) {
		EXPECT_EQ(-1, check_range(f, base + i * PAGE_SZ, PAGE_SZ,
					  i % 2 ? 0 : seed));
	}
	ASSERT_EQ(0, set_attrs(f->fd, base, SZ_2M, PRIVATE, PRESERVE, NULL));
	expect_accounting(_metadata, f, 0, 0, NULL);
}

/* Reference the page at @off from the pipe, as a GUP pin would. */
static ssize_t pin_page(struct gfile *f, __u64 off)
{
	struct iovec iov = {
		.iov_base = f->mem + off,
		.iov_len = PAGE_SZ,
	};

	return vmsplice(f->pipefd[1], &iov, 1, 0);
}

/* Read @pages pages out of the pipe; each must equal the file's page. */
static int drain_pipe(struct gfile *f, const __u64 *offs, int pages)
{
	static char buf[PAGE_SZ];
	ssize_t n, got;
	int i;

	for (i = 0; i < pages; i++) {
		for (got = 0; got < (ssize_t)PAGE_SZ; got += n) {
			n = read(f->pipefd[0], buf + got, PAGE_SZ - got);
			if (n <= 0)
				return -1;
		}
		if (memcmp(buf, f->mem + offs[i], PAGE_SZ))
			return -1;
	}
	return 0;
}

TEST_F_TIMEOUT(gmem, pin_eagain, TMO)
{
	struct gfile *f = &self->f;
	__u64 off = f->size / 2, len = SZ_2M, seed = next_seed();
	__u64 pins[2], err;
	long gran = granules(off, len);

	ASSERT_EQ(0, set_attrs(f->fd, off, len, SHARED, PRESERVE, NULL));
	ASSERT_EQ(-1, fill_range(f, off, len, seed));
	ASSERT_EQ(0, pipe(f->pipefd));

	/* One page, not the first of the range. */
	pins[0] = off + 3 * PAGE_SZ;
	ASSERT_EQ((ssize_t)PAGE_SZ, pin_page(f, pins[0]));
	EXPECT_EQ(-EAGAIN, set_attrs(f->fd, off, len, PRIVATE, PRESERVE,
				     &err));
	EXPECT_EQ(pins[0], err);
	/* With ZERO: a failed call must not have zeroed anything either. */
	EXPECT_EQ(-EAGAIN, set_attrs(f->fd, off, len, PRIVATE, ZERO, &err));
	EXPECT_EQ(pins[0], err);
	EXPECT_EQ(-1, check_range(f, off, len, seed));
	expect_accounting(_metadata, f, len, gran, "after EAGAIN");

	/* The pin is outside this subrange: that one converts. */
	ASSERT_EQ(0, set_attrs(f->fd, off, 3 * PAGE_SZ, PRIVATE, PRESERVE,
			       NULL));
	EXPECT_EQ(-1, check_private(f, off, 3 * PAGE_SZ, false));
	ASSERT_EQ(0, set_attrs(f->fd, off, 3 * PAGE_SZ, SHARED, PRESERVE,
			       NULL));
	EXPECT_EQ(-1, check_range(f, off, len, seed));

	/* Reading the pipe drops the reference: the retry succeeds. */
	ASSERT_EQ(0, drain_pipe(f, pins, 1));
	EXPECT_EQ(0, set_attrs(f->fd, off, len, PRIVATE, PRESERVE, &err));
	EXPECT_EQ(-1, check_private(f, off, len, false));
	expect_accounting(_metadata, f, 0, 0, NULL);
	ASSERT_EQ(0, set_attrs(f->fd, off, len, SHARED, PRESERVE, NULL));
	EXPECT_EQ(-1, check_range(f, off, len, seed));

	/* Two pins, the higher one taken first: the lower one is reported. */
	pins[0] = off + 9 * PAGE_SZ;
	pins[1] = off + 5 * PAGE_SZ;
	ASSERT_EQ((ssize_t)PAGE_SZ, pin_page(f, pins[0]));
	ASSERT_EQ((ssize_t)PAGE_SZ, pin_page(f, pins[1]));
	EXPECT_EQ(-EAGAIN, set_attrs(f->fd, off, len, PRIVATE, PRESERVE,
				     &err));
	EXPECT_EQ(pins[1], err);
	EXPECT_EQ(-1, check_range(f, off, len, seed));
	ASSERT_EQ(0, drain_pipe(f, pins, 2));
	EXPECT_EQ(0, set_attrs(f->fd, off, len, PRIVATE, PRESERVE, NULL));
	EXPECT_EQ(-1, check_private(f, off, len, false));
	expect_accounting(_metadata, f, 0, 0, NULL);
}

TEST_F_TIMEOUT(gmem, punch_refill, TMO)
{
	struct gfile *f = &self->f;
	__u64 u = f->chunk, size = f->size;
	/* Shared with a pattern; the rest of the file stays private. */
	__u64 r_len = u == SZ_1G ? SZ_4M : size - 64 * 1024;
	/* Punched then refilled; punched then faulted (not for 1 GiB). */
	__u64 a = u == SZ_1G ? 0 : size / 2;
	__u64 b = u == PAGE_SZ ? 5 * PAGE_SZ : 0;
	__u64 seed = next_seed(), o;
	struct counters c0, now;
	int ret;

	ASSERT_EQ(0, set_attrs(f->fd, 0, r_len, SHARED, PRESERVE, NULL));
	ASSERT_EQ(-1, fill_range(f, 0, r_len, seed));
	read_counters(f, &c0);

	/*
	 * Punches not page aligned change nothing (one not aligned to the
	 * chunk zeroes part of it: punch_partial_*).
	 */
	EXPECT_EQ(-EINVAL, falloc(f->fd, FALLOC_FL_PUNCH_HOLE |
				  FALLOC_FL_KEEP_SIZE, a + 100, u));
	EXPECT_EQ(-EINVAL, falloc(f->fd, FALLOC_FL_PUNCH_HOLE |
				  FALLOC_FL_KEEP_SIZE, a, 100));
	EXPECT_EQ(-1, check_range(f, 0, r_len, seed));
	expect_accounting(_metadata, f, r_len, granules(0, r_len), NULL);

	/* Punch A: its chunk goes back, the mapping must not see old data. */
	ASSERT_EQ(0, falloc(f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			    a, u));
	if (f->design) {
		c0.chunks--;
		EXPECT_TRUE(wait_counters(f, &c0, true, &now));
		c0.chunks++;
		print_counters("A punched", &now, &c0);
	}
	ret = falloc(f->fd, FALLOC_FL_KEEP_SIZE, a, u);
	if (ret == -ENOMEM && u == SZ_1G)
		SKIP(return, "no free 1 GiB chunk to refill");
	ASSERT_EQ(0, ret);

	/* Attributes survived: R shared (zero where punched), rest private. */
	for (o = 0; o < r_len; o += PAGE_SZ) {
		EXPECT_EQ(-1, check_range(f, o, PAGE_SZ,
					  o >= a && o < a + u ? 0 : seed));
	}
	EXPECT_EQ(-1, check_private(f, r_len, size - r_len, false));
	expect_accounting(_metadata, f, r_len, granules(0, r_len),
			  "A refilled");

	/* Punch B and fault it through the mapping: a hole reads zero. */
	if (u != SZ_1G) {
		ASSERT_EQ(0, falloc(f->fd, FALLOC_FL_PUNCH_HOLE |
				    FALLOC_FL_KEEP_SIZE, b, u));
		EXPECT_EQ(-1, check_range(f, b, u, 0));
		EXPECT_EQ(-1, fill_range(f, b, u, seed));
		EXPECT_EQ(-1, check_range(f, b, u, seed));
		EXPECT_EQ(-1, check_range(f, b + u, a - b - u, seed));
		expect_accounting(_metadata, f, r_len, granules(0, r_len),
				  "B faulted");
	}
}

TEST_F_TIMEOUT(gmem, release_mapped, TMO)
{
	struct gfile *f = &self->f;
	__u64 off = f->size - SZ_2M, seed = next_seed();
	struct counters now;

	ASSERT_EQ(0, set_attrs(f->fd, off, SZ_2M, SHARED, PRESERVE, NULL));
	ASSERT_EQ(-1, fill_range(f, off, SZ_2M, seed));

	/* The mapping keeps the file alive. */
	ASSERT_EQ(0, close(f->fd));
	f->fd = -1;
	EXPECT_EQ(-1, check_range(f, off, SZ_2M, seed));
	seed = next_seed();
	EXPECT_EQ(-1, fill_range(f, off, SZ_2M, seed));
	EXPECT_EQ(-1, check_range(f, off, SZ_2M, seed));
	EXPECT_EQ(-1, check_private(f, off - PAGE_SZ, PAGE_SZ, false));
	expect_accounting(_metadata, f, SZ_2M, granules(off, SZ_2M),
			  "closed, mapped");

	ASSERT_EQ(0, munmap(f->mem, f->size));
	f->mem = MAP_FAILED;
	if (!f->design)
		return;

	EXPECT_TRUE(wait_counters(f, &f->before, false, &now));
	print_counters("unmapped", &now, &f->before);
	EXPECT_EQ(f->before.chunks, now.chunks);
	EXPECT_EQ(f->before.private_b, now.private_b);
	EXPECT_EQ(f->before.shared_b, now.shared_b);
	EXPECT_EQ(f->before.vmemmap_b, now.vmemmap_b);
	/* A parked chunk keeps its vmemmap away: only then may it differ. */
	if (now.parked != f->before.parked) {
		TH_LOG("%ld chunks parked: vmemmap not rebuilt, not checked",
		       now.parked - f->before.parked);
		return;
	}
	EXPECT_EQ(f->before.memmap, now.memmap);
}

struct bad_case {
	char name[32];
	struct kvm_memory_attributes2 a;
};

static struct kvm_memory_attributes2 *
add_case(struct bad_case *c, int *n, const char *name,
	 const struct kvm_memory_attributes2 *base)
{
	struct bad_case *bc = &c[(*n)++];

	snprintf(bc->name, sizeof(bc->name), "%s", name);
	bc->a = *base;
	return &bc->a;
}

/* Every way to get one field of a conversion of [off, +4K) wrong. */
static int bad_cases(struct bad_case *c, __u64 off, __u64 attrs, __u64 size)
{
	const struct kvm_memory_attributes2 base = {
		.offset = off, .size = PAGE_SZ, .attributes = attrs,
	};
	struct kvm_memory_attributes2 *a;
	char name[32];
	int n = 0, i;

	add_case(c, &n, "flags ZERO|PRESERVE", &base)->flags = ZERO | PRESERVE;
	add_case(c, &n, "flags bit 2", &base)->flags = 1ULL << 2;
	add_case(c, &n, "flags bit 63", &base)->flags = 1ULL << 63;
	add_case(c, &n, "attributes bit 0", &base)->attributes |= 1ULL << 0;
	add_case(c, &n, "attributes bit 4", &base)->attributes |= 1ULL << 4;
	add_case(c, &n, "attributes bit 63", &base)->attributes |= 1ULL << 63;
	for (i = 0; i < 11; i++) {
		snprintf(name, sizeof(name), "reserved[%d]", i);
		add_case(c, &n, name, &base)->reserved[i] = 1;
	}
	add_case(c, &n, "offset + 1", &base)->offset = off + 1;
	add_case(c, &n, "offset + 2048", &base)->offset = off + 2048;
	add_case(c, &n, "size 4097", &base)->size = PAGE_SZ + 1;
	add_case(c, &n, "size 2048", &base)->size = 2048;
	add_case(c, &n, "size 0", &base)->size = 0;
	a = add_case(c, &n, "last page + 1 page", &base);
	a->offset = size - PAGE_SZ;
	a->size = 2 * PAGE_SZ;
	add_case(c, &n, "offset at end", &base)->offset = size;
	a = add_case(c, &n, "offset + size wraps", &base);
	a->size = -off + PAGE_SZ;
	a = add_case(c, &n, "offset near 2^64", &base);
	a->offset = -PAGE_SZ;
	a->size = 2 * PAGE_SZ;
	return n;
}

static bool same_counters(const struct counters *a, const struct counters *b)
{
	return a->chunks == b->chunks && a->private_b == b->private_b &&
	       a->shared_b == b->shared_b && a->vmemmap_b == b->vmemmap_b &&
	       a->memmap == b->memmap && a->parked == b->parked;
}

TEST_F_TIMEOUT(gmem, bad_input, TMO)
{
	struct gfile *f = &self->f;
	/* Shared probes: two pages at 1 MiB and the last page; one private. */
	__u64 p0 = SZ_1M, pp = p0 - PAGE_SZ, last = f->size - PAGE_SZ;
	__u64 seed = next_seed(), err;
	struct kvm_memory_attributes2 a;
	struct counters c0, now;
	struct bad_case c[40];
	int i, j, n, ret;

	ASSERT_EQ(0, set_attrs(f->fd, p0, 2 * PAGE_SZ, SHARED, PRESERVE,
			       NULL));
	ASSERT_EQ(0, set_attrs(f->fd, last, PAGE_SZ, SHARED, PRESERVE,
			       NULL));
	ASSERT_EQ(-1, fill_range(f, p0, 2 * PAGE_SZ, seed));
	ASSERT_EQ(-1, fill_range(f, last, PAGE_SZ, seed));
	read_counters(f, &c0);

	/* Each case spoils a conversion that would change a probe. */
	for (j = 0; j < 2; j++) {
		n = j ? bad_cases(c, pp, SHARED, f->size) :
			bad_cases(c, p0, PRIVATE, f->size);
		ASSERT_GE(40, n);
		for (i = 0; i < n; i++) {
			ret = set_attrs2(f->fd, &c[i].a, &err);
			EXPECT_EQ(-EINVAL, ret) {
				TH_LOG("to %s, %s", j ? "shared" : "private",
				       c[i].name);
			}
			EXPECT_EQ(-1, check_range(f, p0, 2 * PAGE_SZ,
						  seed)) {
				TH_LOG("after %s", c[i].name);
			}
			EXPECT_EQ(-1, check_range(f, last, PAGE_SZ, seed)) {
				TH_LOG("after %s", c[i].name);
			}
			EXPECT_EQ(-1, check_private(f, pp, PAGE_SZ,
						    false)) {
				TH_LOG("after %s", c[i].name);
			}
			read_counters(f, &now);
			EXPECT_TRUE(same_counters(&c0, &now)) {
				print_counters(c[i].name, &now, &c0);
			}
		}
	}

	ksft_print_msg("reliability: bad_inputs %d\n", n * 2);

	/*
	 * The probes themselves still convert: the cases were the fault.
	 * With garbage in error_offset, as a VMM that reuses the structure
	 * of a failed call leaves it: the field is only an output.
	 */
	a = (struct kvm_memory_attributes2){
		.offset = p0, .size = PAGE_SZ, .attributes = PRIVATE,
		.error_offset = ERR_POISON,
	};
	EXPECT_EQ(0, set_attrs2(f->fd, &a, NULL));
	EXPECT_EQ(-1, check_private(f, p0, PAGE_SZ, false));
	a = (struct kvm_memory_attributes2){
		.offset = pp, .size = PAGE_SZ, .attributes = SHARED,
		.flags = PRESERVE, .error_offset = ERR_POISON,
	};
	EXPECT_EQ(0, set_attrs2(f->fd, &a, NULL));
	EXPECT_EQ(-1, check_range(f, pp, PAGE_SZ, 0));
}

/*
 * What a refused call must leave as it was: two shared pages with a
 * pattern at 1 MiB, the last page of the file shared with the pattern too,
 * the page before 1 MiB private, and every counter.
 */
struct witness {
	__u64 p0;
	__u64 pp;
	__u64 last;
	__u64 seed;
	struct counters c;
};

static void witness_set(struct __test_metadata *_metadata, struct gfile *f,
			struct witness *w)
{
	w->p0 = SZ_1M;
	w->pp = w->p0 - PAGE_SZ;
	w->last = f->size - PAGE_SZ;
	w->seed = next_seed();
	ASSERT_EQ(0, set_attrs(f->fd, w->p0, 2 * PAGE_SZ, SHARED, PRESERVE,
			       NULL));
	ASSERT_EQ(0, set_attrs(f->fd, w->last, PAGE_SZ, SHARED, PRESERVE,
			       NULL));
	ASSERT_EQ(-1, fill_range(f, w->p0, 2 * PAGE_SZ, w->seed));
	ASSERT_EQ(-1, fill_range(f, w->last, PAGE_SZ, w->seed));
	read_counters(f, &w->c);
}

static void witness_check(struct __test_metadata *_metadata, struct gfile *f,
			  const struct witness *w, const char *after)
{
	struct counters now;

	EXPECT_EQ(-1, check_range(f, w->p0, 2 * PAGE_SZ, w->seed)) {
		TH_LOG("after %s", after);
	}
	EXPECT_EQ(-1, check_range(f, w->last, PAGE_SZ, w->seed)) {
		TH_LOG("after %s", after);
	}
	EXPECT_EQ(-1, check_private(f, w->pp, PAGE_SZ, false)) {
		TH_LOG("after %s", after);
	}
	read_counters(f, &now);
	EXPECT_TRUE(same_counters(&w->c, &now)) {
		print_counters(after, &now, &w->c);
	}
}

#ifndef FALLOC_FL_WRITE_ZEROES
#define FALLOC_FL_WRITE_ZEROES	0x80
#endif

#define KEEP		FALLOC_FL_KEEP_SIZE
#define PUNCH		(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)

struct falloc_case {
	const char *name;
	int mode;
	__s64 off;
	__s64 len;
	int err;	/* -errno for a gmem_track file */
	int err_4k;	/* for an upstream file; 1: valid there, not tried */
};

/*
 * Every way fallocate() on a file of @size in chunks of @u can be refused.
 * A punch that went through would zero the shared witness pages of the
 * first chunk; an allocation that went through would change the counters.
 */
static int falloc_cases(struct falloc_case *c, __s64 size, __s64 u)
{
	const __s64 top = 0x7fffffffffffffffLL & ~(u - 1);
	const struct falloc_case t[] = {
		{ "allocate without KEEP_SIZE", 0, 0, u, -EOPNOTSUPP },
		{ "PUNCH_HOLE without KEEP_SIZE", FALLOC_FL_PUNCH_HOLE, 0, u,
		  -EOPNOTSUPP },
		{ "COLLAPSE_RANGE", FALLOC_FL_COLLAPSE_RANGE, 0, u,
		  -EOPNOTSUPP },
		{ "COLLAPSE_RANGE|KEEP_SIZE", FALLOC_FL_COLLAPSE_RANGE | KEEP,
		  0, u, -EOPNOTSUPP },
		{ "INSERT_RANGE", FALLOC_FL_INSERT_RANGE, 0, u, -EOPNOTSUPP },
		{ "ZERO_RANGE", FALLOC_FL_ZERO_RANGE, 0, u, -EOPNOTSUPP },
		{ "ZERO_RANGE|KEEP_SIZE", FALLOC_FL_ZERO_RANGE | KEEP, 0, u,
		  -EOPNOTSUPP },
		{ "UNSHARE_RANGE|KEEP_SIZE", FALLOC_FL_UNSHARE_RANGE | KEEP, 0,
		  u, -EOPNOTSUPP },
		{ "WRITE_ZEROES", FALLOC_FL_WRITE_ZEROES, 0, u, -EOPNOTSUPP },
		{ "PUNCH_HOLE|ZERO_RANGE", PUNCH | FALLOC_FL_ZERO_RANGE, 0, u,
		  -EOPNOTSUPP },
		{ "NO_HIDE_STALE|PUNCH_HOLE", PUNCH | FALLOC_FL_NO_HIDE_STALE,
		  0, u, -EOPNOTSUPP },
		{ "mode bit 8", PUNCH | 0x100, 0, u, -EOPNOTSUPP },
		{ "mode bit 31", PUNCH | INT_MIN, 0, u, -EOPNOTSUPP },
		{ "mode -1", -1, 0, u, -EOPNOTSUPP },
		{ "punch, offset 1", PUNCH, 1, u, -EINVAL },
		{ "punch, offset 2048", PUNCH, 2048, u, -EINVAL },
		{ "punch, length + 1", PUNCH, 0, u + 1, -EINVAL },
		/* Page aligned but not to the chunk: valid, punch_partial_*. */
		{ "punch, length 0", PUNCH, 0, 0, -EINVAL },
		{ "punch, offset -chunk", PUNCH, -u, u, -EINVAL },
		{ "punch, length -chunk", PUNCH, u, -u, -EINVAL },
		{ "punch, offset + length wraps", PUNCH, top, 2 * u, -EFBIG },
		{ "punch, length 2^63 - 1", PUNCH, 0, 0x7fffffffffffffffLL,
		  -EINVAL },
		{ "allocate, offset at the end", KEEP, size, u, -EINVAL },
		{ "allocate, last chunk + 1", KEEP, size - u, 2 * u, -EINVAL },
		{ "allocate, far past the end", KEEP, 1LL << 40, u, -EINVAL },
		{ "allocate, offset 1", KEEP, 1, u, -EINVAL },
		{ "allocate, length 2048", KEEP, 0, 2048, -EINVAL },
		{ "allocate, length 0", KEEP, 0, 0, -EINVAL },
		{ "allocate, offset -4K", KEEP, -(__s64)PAGE_SZ, u, -EINVAL },
		{ "allocate, length -4K", KEEP, 0, -(__s64)PAGE_SZ, -EINVAL },
		{ "allocate, offset + length wraps", KEEP, top, 2 * u, -EFBIG },
		{ "allocate, length 2^63 - 4K", KEEP, 0,
		  0x7fffffffffffffffLL & ~(__s64)(PAGE_SZ - 1), -EINVAL },
		/* Past the end a punch has nothing to free: a no-op. */
		{ "punch at the end", PUNCH, size, u, 0 },
		{ "punch far past the end", PUNCH, 1LL << 40, u, 0 },
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(t); i++) {
		c[i] = t[i];
		if (!c[i].err_4k)
			c[i].err_4k = c[i].err;
	}
	return i;
}

TEST_F_TIMEOUT(gmem, falloc_bad_input, TMO)
{
	struct gfile *f = &self->f;
	struct falloc_case c[48];
	struct witness w;
	int i, n, err, tried = 0;

	witness_set(_metadata, f, &w);
	n = falloc_cases(c, f->size, f->chunk);
	ASSERT_GE(48, n);
	for (i = 0; i < n; i++) {
		err = f->design ? c[i].err : c[i].err_4k;
		if (err == 1)
			continue;
		tried++;
		EXPECT_EQ(err, falloc(f->fd, c[i].mode, c[i].off, c[i].len)) {
			TH_LOG("%s", c[i].name);
		}
		witness_check(_metadata, f, &w, c[i].name);
	}
	ksft_print_msg("reliability: bad_inputs %d\n", tried);
}

/* ---- punching part of a chunk ---- */

/* Is the page at @o in one of the @n ranges of @h? */
static bool in_ranges(const struct range *h, int n, __u64 o)
{
	int i;

	for (i = 0; i < n; i++) {
		if (o >= h[i].off && o < h[i].off + h[i].len)
			return true;
	}
	return false;
}

/*
 * Punch each of @n ranges, none aligned to a 2 MiB or 1 GiB chunk: on a
 * gmem_track file each zeroes part of a chunk and frees nothing.
 */
static void punch_ranges(struct __test_metadata *_metadata, struct gfile *f,
			 const struct range *h, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		EXPECT_EQ(0, falloc(f->fd, PUNCH, h[i].off, h[i].len)) {
			TH_LOG("punch [%#llx, +%#llx)", h[i].off, h[i].len);
		}
	}
}

/* [off, off + len) reads zeroes in @h and the pattern of @seed elsewhere. */
static void check_punched(struct __test_metadata *_metadata, struct gfile *f,
			  __u64 off, __u64 len, const struct range *h, int n,
			  __u64 seed)
{
	__u64 o;

	for (o = off; o < off + len; o += PAGE_SZ) {
		EXPECT_EQ(-1, check_range(f, o, PAGE_SZ,
					  in_ranges(h, n, o) ? 0 : seed));
	}
}

/*
 * The holes punched by the punch_partial_* tests: one page inside the
 * first chunk, and five pages across 2 MiB, which on a file of 2 MiB
 * chunks is the boundary of its two chunks (inside the one chunk of a
 * 1 GiB file). Both lie in [0, 4 MiB - 64 KiB).
 */
static int partial_holes(struct range *h)
{
	h[0] = (struct range){ SZ_1M + 3 * PAGE_SZ, PAGE_SZ };
	h[1] = (struct range){ SZ_2M - 3 * PAGE_SZ, 5 * PAGE_SZ };
	return 2;
}

/*
 * Shared memory with a pattern, mapped and read: punching part of a chunk
 * zeroes it under the same mapping, whose next access faults the zeroed
 * page back in, and changes nothing else: the pattern around the holes,
 * the attributes, the memory held (no chunk freed), and the pages can
 * still be written, converted and read back.
 */
TEST_F_TIMEOUT(gmem, punch_partial_shared, TMO)
{
	struct gfile *f = &self->f;
	__u64 r_len = f->chunk == SZ_1G ? SZ_4M : f->size - 64 * 1024;
	__u64 seed = next_seed();
	struct counters c0, now;
	struct range h[2];
	int n = partial_holes(h);

	ASSERT_EQ(0, set_attrs(f->fd, 0, r_len, SHARED, PRESERVE, NULL));
	ASSERT_EQ(-1, fill_range(f, 0, r_len, seed));
	/* Every page of it mapped: the punch must unmap the holes. */
	ASSERT_EQ(-1, check_range(f, 0, r_len, seed));
	read_counters(f, &c0);

	punch_ranges(_metadata, f, h, n);
	read_counters(f, &now);
	EXPECT_TRUE(same_counters(&c0, &now)) {
		print_counters("partly punched", &now, &c0);
	}
	check_punched(_metadata, f, 0, r_len, h, n, seed);
	EXPECT_EQ(-1, check_private(f, r_len, PAGE_SZ, false));
	expect_accounting(_metadata, f, r_len, granules(0, r_len),
			  "partly punched, read");

	/* The holes take new data, and every page converts both ways. */
	EXPECT_EQ(-1, fill_range(f, h[0].off, h[0].len, seed));
	EXPECT_EQ(-1, check_range(f, 0, h[1].off, seed));
	ASSERT_EQ(0, set_attrs(f->fd, 0, r_len, PRIVATE, PRESERVE, NULL));
	EXPECT_EQ(-1, check_private(f, 0, r_len, false));
	expect_accounting(_metadata, f, 0, 0, NULL);
	ASSERT_EQ(0, set_attrs(f->fd, 0, r_len, SHARED, PRESERVE, NULL));
	check_punched(_metadata, f, 0, r_len, &h[1], 1, seed);
}

/*
 * Private memory with a pattern (written while shared, kept by PRESERVE):
 * punching part of a chunk zeroes it too, and the pages stay private.
 */
TEST_F_TIMEOUT(gmem, punch_partial_private, TMO)
{
	/* [1 MiB, 3 MiB) holds the holes; its first page stays shared. */
	__u64 off = SZ_1M, len = SZ_2M, seed = next_seed();
	struct gfile *f = &self->f;
	struct counters c0, now;
	struct range h[2];
	int n = partial_holes(h);

	ASSERT_EQ(0, set_attrs(f->fd, off, len, SHARED, PRESERVE, NULL));
	ASSERT_EQ(-1, fill_range(f, off, len, seed));
	ASSERT_EQ(0, set_attrs(f->fd, off + PAGE_SZ, len - PAGE_SZ, PRIVATE,
			       PRESERVE, NULL));
	read_counters(f, &c0);

	punch_ranges(_metadata, f, h, n);
	read_counters(f, &now);
	EXPECT_TRUE(same_counters(&c0, &now)) {
		print_counters("partly punched", &now, &c0);
	}
	EXPECT_EQ(-1, check_private(f, off + PAGE_SZ, len - PAGE_SZ, false));
	EXPECT_EQ(-1, check_range(f, off, PAGE_SZ, seed));
	expect_accounting(_metadata, f, PAGE_SZ, granules(off, PAGE_SZ),
			  "private, partly punched");

	ASSERT_EQ(0, set_attrs(f->fd, off + PAGE_SZ, len - PAGE_SZ, SHARED,
			       PRESERVE, NULL));
	check_punched(_metadata, f, off, len, h, n, seed);
	ASSERT_EQ(0, set_attrs(f->fd, off, len, PRIVATE, PRESERVE, NULL));
	expect_accounting(_metadata, f, 0, 0, NULL);
}

/*
 * A punch over part of a hole allocates nothing, and one from memory
 * into a hole zeroes the memory and leaves the hole. The hole is the
 * file's second chunk (2 MiB chunks), its only chunk (1 GiB) or the page
 * at 2 MiB (upstream), punched whole first.
 */
TEST_F_TIMEOUT(gmem, punch_partial_hole, TMO)
{
	struct gfile *f = &self->f;
	__u64 hole = f->chunk == SZ_1G ? 0 : SZ_2M, seed = next_seed();
	/* Inside the hole; from the memory below it into it. */
	struct range h[2] = {
		{ hole + 5 * PAGE_SZ, 3 * PAGE_SZ },
		{ hole - 2 * PAGE_SZ, 4 * PAGE_SZ },
	};
	int i, n = hole ? 2 : 1;
	struct counters c0, now;
	__u64 len;
	int ret;

	/* Shared with a pattern below the hole, to see what is zeroed. */
	if (hole) {
		ASSERT_EQ(0, set_attrs(f->fd, 0, hole, SHARED, PRESERVE,
				       NULL));
		ASSERT_EQ(-1, fill_range(f, 0, hole, seed));
	}
	read_counters(f, &c0);
	ASSERT_EQ(0, falloc(f->fd, PUNCH, hole, f->chunk));
	if (f->design) {
		c0.chunks--;
		ASSERT_TRUE(wait_counters(f, &c0, true, &now));
		read_counters(f, &c0);
	}

	for (i = 0; i < n; i++) {
		ASSERT_EQ(0, falloc(f->fd, PUNCH, h[i].off, h[i].len)) {
			TH_LOG("punch [%#llx, +%#llx)", h[i].off, h[i].len);
		}
		read_counters(f, &now);
		EXPECT_TRUE(same_counters(&c0, &now)) {
			print_counters("hole punched", &now, &c0);
		}
	}
	if (hole)
		check_punched(_metadata, f, 0, hole, &h[1], 1, seed);

	/* Still a hole, still private: allocated again, zeroed. */
	ret = falloc(f->fd, FALLOC_FL_KEEP_SIZE, hole, f->chunk);
	if (ret == -ENOMEM && f->chunk == SZ_1G)
		SKIP(return, "no free 1 GiB chunk to refill");
	ASSERT_EQ(0, ret);
	EXPECT_EQ(-1, check_private(f, hole, f->chunk, false));
	/* Its first 2 MiB at most: all of 1 GiB is slow under TCG. */
	len = f->chunk < SZ_2M ? f->chunk : SZ_2M;
	ASSERT_EQ(0, set_attrs(f->fd, hole, len, SHARED, PRESERVE, NULL));
	EXPECT_EQ(-1, check_range(f, hole, len, 0));
}

/* Bad punches of part of a chunk, at the witness pages of @w. */
static int partial_punch_cases(struct falloc_case *c, const struct witness *w)
{
	const __s64 p0 = w->p0, last = w->last, pg = PAGE_SZ;
	const struct falloc_case t[] = {
		{ "offset + 1", PUNCH, p0 + 1, pg, -EINVAL },
		{ "offset + 2048", PUNCH, p0 + 2048, pg, -EINVAL },
		{ "offset - 1", PUNCH, p0 - 1, 2 * pg, -EINVAL },
		{ "length 4K + 1", PUNCH, p0, pg + 1, -EINVAL },
		{ "length 4K - 1", PUNCH, p0, pg - 1, -EINVAL },
		{ "length 2048", PUNCH, p0, 2048, -EINVAL },
		{ "length 0", PUNCH, p0, 0, -EINVAL },
		{ "length -4K", PUNCH, p0, -pg, -EINVAL },
		{ "offset -4K", PUNCH, -pg, 2 * pg, -EINVAL },
		{ "offset + length wraps", PUNCH, p0,
		  0x7fffffffffffffffLL & ~(pg - 1), -EFBIG },
		{ "last page + 1 byte", PUNCH, last, pg + 1, -EINVAL },
		{ "without KEEP_SIZE", FALLOC_FL_PUNCH_HOLE, p0, pg,
		  -EOPNOTSUPP },
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(t); i++)
		c[i] = t[i];
	return i;
}

/*
 * Conversions of memory that is not allocated, or only in part, as the
 * in-place conversion series allows: they change the attributes alone and
 * allocate nothing; memory allocated afterwards has the state they set
 * and reads as zeroes. flags 0, the only value upstream has, keeps the
 * content in both directions. 1 GiB files are one chunk, which a punch of
 * part of it zeroes rather than frees: they have the hole, not the part.
 */
TEST_F_TIMEOUT(gmem, convert_holes, TMO)
{
	struct gfile *f = &self->f;
	/* Checked windows: all of a 4 MiB file, 2 MiB at each end of 1 GiB. */
	__u64 win = f->size > SZ_4M ? SZ_2M : f->size / 2;
	__u64 last = f->size - win, half = f->size / 2, seed = next_seed();
	struct counters c0, now;
	int ret;

	/* The whole file a hole, then shared and private again, flags 0. */
	ASSERT_EQ(0, falloc(f->fd, PUNCH, 0, f->size));
	if (f->design) {
		c0 = f->before;
		ASSERT_TRUE(wait_counters(f, &c0, true, &now));
	}
	read_counters(f, &c0);
	ASSERT_EQ(0, set_attrs(f->fd, 0, f->size, SHARED, 0, NULL));
	ASSERT_EQ(0, set_attrs(f->fd, 0, f->size, PRIVATE, 0, NULL));
	ASSERT_EQ(0, set_attrs(f->fd, 0, f->size, SHARED, 0, NULL));
	read_counters(f, &now);
	EXPECT_TRUE(same_counters(&c0, &now)) {
		print_counters("conversions of a hole", &now, &c0);
	}
	/* The first touch allocates: zeroes, shared, writable. */
	ret = check_range(f, 0, win, 0);
	if (ret >= 0 && f->chunk == SZ_1G && probe(f->mem, 0, false) == PG_SIGBUS)
		SKIP(return, "no free 1 GiB chunk to fault in");
	EXPECT_EQ(-1, ret);
	EXPECT_EQ(-1, check_range(f, last, win, 0));
	EXPECT_EQ(-1, fill_range(f, 0, win, seed));
	EXPECT_EQ(-1, fill_range(f, last, win, seed));

	/* flags 0 keeps the content to private and back. */
	ASSERT_EQ(0, set_attrs(f->fd, 0, win, PRIVATE, 0, NULL));
	EXPECT_EQ(-1, check_private(f, 0, win, false));
	EXPECT_EQ(-1, check_range(f, last, win, seed));
	ASSERT_EQ(0, set_attrs(f->fd, 0, win, SHARED, 0, NULL));
	EXPECT_EQ(-1, check_range(f, 0, win, seed));
	if (f->chunk == SZ_1G)
		return;

	/*
	 * Partly allocated: the lower half allocated and private, the upper
	 * half a hole. One conversion across both, and back.
	 */
	ASSERT_EQ(0, falloc(f->fd, PUNCH, 0, f->size));
	ASSERT_EQ(0, falloc(f->fd, FALLOC_FL_KEEP_SIZE, 0, half));
	ASSERT_EQ(0, set_attrs(f->fd, 0, f->size, PRIVATE, 0, NULL));
	read_counters(f, &c0);
	ASSERT_EQ(0, set_attrs(f->fd, PAGE_SZ, f->size - 2 * PAGE_SZ, SHARED,
			       0, NULL));
	if (f->design) {
		read_counters(f, &now);
		EXPECT_EQ(c0.chunks, now.chunks);
		EXPECT_EQ(c0.private_b - (long)(half - PAGE_SZ), now.private_b);
		EXPECT_EQ(c0.shared_b + (long)(half - PAGE_SZ), now.shared_b);
	}
	EXPECT_EQ(-1, check_private(f, 0, PAGE_SZ, false));
	EXPECT_EQ(-1, check_private(f, f->size - PAGE_SZ, PAGE_SZ, false));
	EXPECT_EQ(-1, check_range(f, PAGE_SZ, f->size - 2 * PAGE_SZ, 0));
	EXPECT_EQ(-1, fill_range(f, PAGE_SZ, f->size - 2 * PAGE_SZ, seed));
	ASSERT_EQ(0, set_attrs(f->fd, 0, f->size, PRIVATE, 0, NULL));
	EXPECT_EQ(-1, check_private(f, 0, f->size, false));
	ASSERT_EQ(0, set_attrs(f->fd, PAGE_SZ, f->size - 2 * PAGE_SZ, SHARED,
			       0, NULL));
	EXPECT_EQ(-1, check_range(f, PAGE_SZ, f->size - 2 * PAGE_SZ, seed));
}

/*
 * A punch of part of a chunk takes the same bad input as any punch and
 * changes nothing then; past the end of the file there is nothing to
 * zero (a punch wholly past it is a no-op: falloc_bad_input).
 */
TEST_F_TIMEOUT(gmem, punch_partial_bad_input, TMO)
{
	struct gfile *f = &self->f;
	struct falloc_case c[16];
	struct counters now;
	struct witness w;
	int i, n;

	witness_set(_metadata, f, &w);
	n = partial_punch_cases(c, &w);
	ASSERT_GE(16, n);
	for (i = 0; i < n; i++) {
		EXPECT_EQ(c[i].err, falloc(f->fd, c[i].mode, c[i].off,
					   c[i].len)) {
			TH_LOG("partial punch, %s", c[i].name);
		}
		witness_check(_metadata, f, &w, c[i].name);
	}
	ksft_print_msg("reliability: bad_inputs %d\n", n);

	/* Across the end: the last page is zeroed, nothing else changes. */
	ASSERT_EQ(0, falloc(f->fd, PUNCH, w.last, 2 * PAGE_SZ));
	read_counters(f, &now);
	EXPECT_TRUE(same_counters(&w.c, &now)) {
		print_counters("punched across the end", &now, &w.c);
	}
	EXPECT_EQ(-1, check_range(f, w.last, PAGE_SZ, 0));
	EXPECT_EQ(-1, check_range(f, w.p0, 2 * PAGE_SZ, w.seed));
	EXPECT_EQ(-1, check_private(f, w.pp, PAGE_SZ, false));
}

/* Every page of [p, p + len) past the end of the file SIGBUSes. */
static int beyond_sigbus(struct gfile *f, char *p, __u64 off, __u64 len)
{
	__u64 o;

	for (o = 0; o < len; o += PAGE_SZ) {
		if (off + o < f->size)
			continue;
		if (probe(p, o, false) != PG_SIGBUS ||
		    probe(p, o, true) != PG_SIGBUS)
			return -1;
	}
	return 0;
}

struct mmap_case {
	const char *name;
	int prot;
	int flags;
	__u64 off;
	__u64 len;
	int err;	/* 0: mapped, each page past the end SIGBUSes */
	bool no_mmap;	/* a file created without GUEST_MEMFD_FLAG_MMAP */
};

#define RW		(PROT_READ | PROT_WRITE)

TEST_F_TIMEOUT(gmem, mmap_bad_input, TMO)
{
	struct gfile *f = &self->f;
	__u64 size = f->size;
	const struct mmap_case c[] = {
		{ "MAP_PRIVATE", RW, MAP_PRIVATE, 0, PAGE_SZ, -EINVAL },
		{ "MAP_PRIVATE, read only", PROT_READ, MAP_PRIVATE, 0, PAGE_SZ,
		  -EINVAL },
		{ "no map type", RW, 0, 0, PAGE_SZ, -EINVAL },
		{ "PROT_EXEC", RW | PROT_EXEC, MAP_SHARED, 0, PAGE_SZ, -EPERM },
		{ "PROT_READ|PROT_EXEC", PROT_READ | PROT_EXEC, MAP_SHARED, 0,
		  PAGE_SZ, -EPERM },
		{ "offset 1", RW, MAP_SHARED, 1, PAGE_SZ, -EINVAL },
		{ "offset 2048", RW, MAP_SHARED, 2048, PAGE_SZ, -EINVAL },
		{ "length 0", RW, MAP_SHARED, 0, 0, -EINVAL },
		{ "length 2^64 - 1", RW, MAP_SHARED, 0, -1ULL, -ENOMEM },
		{ "length 2^64 - 4K", RW, MAP_SHARED, 0, -PAGE_SZ, -ENOMEM },
		{ "offset near 2^63", RW, MAP_SHARED, 0x7ffffffffffff000ULL,
		  2 * PAGE_SZ, -EOVERFLOW },
		{ "MAP_SYNC", RW, MAP_SHARED_VALIDATE | MAP_SYNC, 0, PAGE_SZ,
		  -EOPNOTSUPP },
		{ "MAP_HUGETLB", RW, MAP_SHARED | MAP_HUGETLB, 0, SZ_2M,
		  -EINVAL },
		{ "MAP_GROWSDOWN", RW, MAP_SHARED | MAP_GROWSDOWN, 0, PAGE_SZ,
		  -EINVAL },
		{ "without GUEST_MEMFD_FLAG_MMAP", RW, MAP_SHARED, 0, PAGE_SZ,
		  -ENODEV, true },
		{ "offset at the end", RW, MAP_SHARED, size, 2 * PAGE_SZ, 0 },
		{ "across the end", RW, MAP_SHARED, size - PAGE_SZ,
		  4 * PAGE_SZ, 0 },
		{ "far past the end", RW, MAP_SHARED, 1ULL << 40, PAGE_SZ, 0 },
	};
	int i, fd, ret, tried = 0;
	struct witness w;
	char *p, *q;

	witness_set(_metadata, f, &w);
	for (i = 0; i < (int)ARRAY_SIZE(c); i++, tried++) {
		fd = f->fd;
		if (c[i].no_mmap) {
			fd = create_gmem(f->vm_fd, SZ_2M, 0);
			ASSERT_LE(0, fd);
		}
		p = mmap(NULL, c[i].len, c[i].prot, c[i].flags, fd,
			 c[i].off);
		ret = p == MAP_FAILED ? -errno : 0;
		EXPECT_EQ(c[i].err, ret) {
			TH_LOG("%s", c[i].name);
		}
		if (!ret) {
			EXPECT_EQ(0, beyond_sigbus(f, p, c[i].off, c[i].len)) {
				TH_LOG("%s: a page past the end did not SIGBUS",
				       c[i].name);
			}
			munmap(p, c[i].len);
		}
		if (fd != f->fd)
			close(fd);
		witness_check(_metadata, f, &w, c[i].name);
	}

	/* The file system is noexec: no mapping of it becomes executable. */
	p = mmap(NULL, 2 * PAGE_SZ, PROT_READ, MAP_SHARED, f->fd, w.p0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(-1, mprotect(p, PAGE_SZ, PROT_READ | PROT_EXEC));
	EXPECT_EQ(EACCES, errno);
	EXPECT_EQ(-1, mprotect(p, 2 * PAGE_SZ, RW | PROT_EXEC));
	EXPECT_EQ(EACCES, errno);
	tried += 2;
	witness_check(_metadata, f, &w, "mprotect(PROT_EXEC)");
	EXPECT_EQ(-1, check_range(f, w.p0, 2 * PAGE_SZ, w.seed));
	munmap(p, 2 * PAGE_SZ);

	/* Grown past the end by mremap(): the new pages SIGBUS. */
	p = mmap(NULL, PAGE_SZ, RW, MAP_SHARED, f->fd, w.last);
	ASSERT_NE(MAP_FAILED, p);
	q = mremap(p, PAGE_SZ, 3 * PAGE_SZ, MREMAP_MAYMOVE);
	EXPECT_NE(MAP_FAILED, q);
	tried++;
	if (q != MAP_FAILED) {
		p = q;
		EXPECT_EQ(pattern(w.seed, w.last), LOAD((__u64 *)p));
		EXPECT_EQ(0, beyond_sigbus(f, p, w.last, 3 * PAGE_SZ));
	}
	munmap(p, q != MAP_FAILED ? 3 * PAGE_SZ : PAGE_SZ);
	witness_check(_metadata, f, &w, "mremap() past the end");
	ksft_print_msg("reliability: bad_inputs %d\n", tried);
}

#define DESIGN_PARAM	"/sys/module/gmem_track/parameters/design"

/* A sysfs or debugfs file's first line, without the newline. */
static void read_line(const char *path, char *buf, size_t len)
{
	FILE *fp = fopen(path, "r");

	buf[0] = 0;
	if (fp) {
		if (!fgets(buf, len, fp))
			buf[0] = 0;
		fclose(fp);
	}
	buf[strcspn(buf, "\n")] = 0;
}

/* The whole of a debugfs file, as text; empty if unreadable. */
static void read_text(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n = fd < 0 ? 0 : read(fd, buf, len - 1);

	buf[n > 0 ? n : 0] = 0;
	if (fd >= 0)
		close(fd);
}

struct knob_case {
	const char *name;
	const char *val;
	int err;
};

/* Writes the cases of @c to @path: each refused, @path reading the same. */
static int knob_cases(struct __test_metadata *_metadata, struct gfile *f,
		      const char *path, const struct knob_case *c, int n,
		      const struct witness *w)
{
	static char before[4096], after[4096];
	int i;

	for (i = 0; i < n; i++) {
		read_text(path, before, sizeof(before));
		EXPECT_EQ(c[i].err, write_file(path, c[i].val)) {
			TH_LOG("%s: %s", path, c[i].name);
		}
		read_text(path, after, sizeof(after));
		EXPECT_STREQ(before, after) {
			TH_LOG("%s: %s", path, c[i].name);
		}
		witness_check(_metadata, f, w, c[i].name);
	}
	return n;
}

/* The read-only files of /sys/kernel/mm/gmem_track (reserve/ apart). */
static const char * const gmem_ro_files[] = {
	"tracked/chunks_2M", "tracked/chunks_1G", "tracked/private_bytes",
	"tracked/shared_bytes", "tracked/vmemmap_bytes",
	"tracked/vmemmap_freed_bytes", "tracked/ranges",
	"tracked/descriptor_bytes",
	"struct_page/chunks_2M", "struct_page/chunks_1G",
	"struct_page/private_bytes", "struct_page/shared_bytes",
	"struct_page/vmemmap_bytes", "struct_page/vmemmap_freed_bytes",
	"struct_page/ranges", "struct_page/descriptor_bytes",
	"sentinel_pages", "parked_2M", "parked_1G", "used_2M_bytes",
	"used_1G_bytes", "free_2M_bytes", "free_1G_bytes", "pfn_tree_bytes",
	"default_backend_files",
};

/*
 * The writable knobs of gmem_track other than the reservation's (see
 * gmem_track/reserve_test.c): the default design and the debugfs owner.
 * Every bad value is refused with its errno and changes nothing: the knob
 * reads the same, the fixture's file and the counters are as they were.
 * The read-only counters refuse to be opened for writing.
 */
TEST_F_TIMEOUT(gmem, knob_bad_input, TMO)
{
	struct gfile *f = &self->f;
	static char longval[4096], owner0[4096], owner1[4096];
	const struct knob_case design[] = {
		{ "garbage", "bogus", -EINVAL },
		/* sysfs passes no empty write on: a no-op. */
		{ "empty", "", 0 },
		{ "newline", "\n", -EINVAL },
		{ "two names", "tracked struct_page", -EINVAL },
		{ "upper case", "TRACKED", -EINVAL },
		{ "a prefix", "track", -EINVAL },
		{ "a suffix", "trackedx", -EINVAL },
		{ "dash", "struct-page", -EINVAL },
		{ "negative", "-1", -EINVAL },
		{ "an index", "0", -EINVAL },
		{ "overflow", "18446744073709551616", -EINVAL },
		{ "4095 bytes", longval, -EINVAL },
	};
	const struct knob_case no_owner[] = {
		{ "create, unknown design", "create bogus 2M", -EINVAL },
		{ "create, 4M chunks", "create tracked 4M", -EINVAL },
		{ "create, lower case size", "create tracked 2m", -EINVAL },
		{ "create, no size", "create tracked", -ENOENT },
		{ "create, unknown source", "create tracked 2M reserve", -EINVAL },
		{ "create, source in upper case", "create tracked 2M BUDDY", -EINVAL },
		{ "garbage, no owner", "bogus", -ENOENT },
		{ "shared, no owner", "shared 0 1", -ENOENT },
		{ "destroy, no owner", "destroy", -ENOENT },
	};
	const struct knob_case owner[] = {
		{ "create, owner exists", "create tracked 2M", -EBUSY },
		{ "create, trailing word", "create tracked 2M buddy x", -EINVAL },
		{ "garbage", "bogus", -EINVAL },
		{ "empty", "", -EINVAL },
		{ "64 bytes", longval + sizeof(longval) - 65, -EINVAL },
		{ "populate, backed", "populate 0", -EEXIST },
		{ "populate -1", "populate -1", -EINVAL },
		{ "shared, nr 0", "shared 0 0", -EINVAL },
		{ "shared, nr -1 from 1", "shared 1 -1", -EINVAL },
		{ "shared, index -1", "shared -1 2", -EINVAL },
		{ "private, nr 0", "private 0 0", -EINVAL },
		{ "private, wraps", "private 5 -5", -EINVAL },
		{ "release, nr 0", "release 0 0", -EINVAL },
		{ "release, unaligned index", "release 1 0x40000", -EINVAL },
		{ "release, unaligned nr", "release 0 1", -EINVAL },
		{ "shared, missing nr", "shared 0", -EINVAL },
	};
	char path[160], was[64], now[64];
	int i, ret, tried = 0;
	struct witness w;

	memset(longval, 'a', sizeof(longval) - 1);
	witness_set(_metadata, f, &w);

	if (access(DESIGN_PARAM, W_OK)) {
		TH_LOG(DESIGN_PARAM ": %s: not checked", strerror(errno));
	} else {
		read_line(DESIGN_PARAM, was, sizeof(was));
		tried += knob_cases(_metadata, f, DESIGN_PARAM, design,
				    ARRAY_SIZE(design), &w);
		read_line(DESIGN_PARAM, now, sizeof(now));
		EXPECT_STREQ(was, now);
	}

	for (i = 0; i < (int)ARRAY_SIZE(gmem_ro_files); i++, tried++) {
		snprintf(path, sizeof(path), GMEM_TRACK_SYSFS "/%s",
			 gmem_ro_files[i]);
		read_line(path, was, sizeof(was));
		EXPECT_EQ(-EACCES, write_file(path, "0")) {
			TH_LOG("%s", path);
		}
		read_line(path, now, sizeof(now));
		EXPECT_STREQ(was, now) {
			TH_LOG("%s", path);
		}
	}

	if (!f->design || access(GMEM_OWNER, W_OK)) {
		ksft_print_msg("debugfs owner not checked: %s\n",
			       f->design ? strerror(errno) :
			       "not a gmem_track file");
		goto out;
	}
	if (owner_cmd("destroy") != -ENOENT)
		SKIP(goto out, "the debugfs owner is in use");
	tried += knob_cases(_metadata, f, GMEM_OWNER, no_owner,
			    ARRAY_SIZE(no_owner), &w);

	ASSERT_EQ(0, owner_cmd("create %s %s", f->design,
			       f->chunk == SZ_1G ? "1G" : "2M"));
	ret = owner_cmd("populate 0");
	if (ret == -ENOMEM && f->chunk == SZ_1G) {
		owner_cmd("destroy");
		SKIP(goto out, "no free 1 GiB chunk for the debugfs owner");
	}
	ASSERT_EQ(0, ret);
	ASSERT_EQ(0, owner_cmd("shared 0x10 0x20"));
	read_counters(f, &w.c);
	read_text(GMEM_OWNER, owner0, sizeof(owner0));
	tried += knob_cases(_metadata, f, GMEM_OWNER, owner, ARRAY_SIZE(owner),
			    &w);
	read_text(GMEM_OWNER, owner1, sizeof(owner1));
	EXPECT_STREQ(owner0, owner1);
	EXPECT_EQ(0, owner_cmd("destroy"));
out:
	ksft_print_msg("reliability: bad_inputs %d\n", tried);
}

TEST_F_TIMEOUT(gmem, counters, TMO)
{
	struct gfile *f = &self->f;
	__u64 size = f->size, eighth = size / 8, g;
	long scattered = 0;

	if (!f->design)
		SKIP(return, "not a gmem_track file");

	ksft_print_msg("%s, %llu MiB file:\n", f->design, size >> 20);
	expect_accounting(_metadata, f, 0, 0, "fully private");

	ASSERT_EQ(0, set_attrs(f->fd, 0, eighth, SHARED, PRESERVE, NULL));
	expect_accounting(_metadata, f, eighth, eighth / GRANULE,
			  "first 1/8 shared");
	ASSERT_EQ(0, set_attrs(f->fd, 0, eighth, PRIVATE, PRESERVE, NULL));
	expect_accounting(_metadata, f, 0, 0, "private again");

	/* One 4 KiB page in each granule of the second eighth. */
	for (g = eighth; g < 2 * eighth; g += GRANULE, scattered++) {
		ASSERT_EQ(0, set_attrs(f->fd, g + 17 * PAGE_SZ, PAGE_SZ,
				       SHARED, PRESERVE, NULL));
	}
	expect_accounting(_metadata, f, scattered * PAGE_SZ, scattered,
			  "one page per granule shared");
	ASSERT_EQ(0, set_attrs(f->fd, eighth, eighth, PRIVATE, PRESERVE,
			       NULL));
	expect_accounting(_metadata, f, 0, 0, "private again");
}

/* ---- deferred depopulation ---- */

/* The knobs as they were before a test changed them; see deferred_restore(). */
static long deferred_saved_limit = -1, deferred_saved_delay = -1;

static int top_knob_write(const char *name, long val)
{
	char path[128], buf[32];

	snprintf(path, sizeof(path), GMEM_TRACK_SYSFS "/%s", name);
	snprintf(buf, sizeof(buf), "%ld", val);
	return write_file(path, buf);
}

static void deferred_restore(void)
{
	if (deferred_saved_limit >= 0)
		top_knob_write("deferred_limit_bytes", deferred_saved_limit);
	if (deferred_saved_delay >= 0)
		top_knob_write("deferred_delay_ms", deferred_saved_delay);
	deferred_saved_limit = -1;
	deferred_saved_delay = -1;
}

/* A count of /sys/kernel/mm/gmem_track/vmemmap_events/. */
static long vm_event(const char *name)
{
	char file[64];

	snprintf(file, sizeof(file), "vmemmap_events/%s", name);
	return sysfs_long(NULL, file);
}

/* Wait up to @ms for deferred_bytes to read @want; returns the time taken or -1. */
static int deferred_wait(long want, int ms)
{
	int t;

	for (t = 0; t <= ms; t++) {
		if (sysfs_long("tracked", "deferred_bytes") == want)
			return t;
		usleep(1000);
	}
	return -1;
}

/*
 * A granule whose last shared page goes private keeps its vmemmap for a
 * while, counted in deferred_bytes (Documentation/mm/gmem_track.rst,
 * "Conversion cost"): a conversion back to shared meanwhile allocates
 * none; memory pressure (drop_caches runs the shrinker), a punch hole of
 * its chunk and the worker, deferred_delay_ms later, each take it; with
 * deferred_limit_bytes at 0 nothing waits. The knobs take numbers only.
 */
TEST_F_TIMEOUT(gmem, deferred, TMO)
{
	struct gfile *f = &self->f;
	const long pg = PAGE_SZ;
	long vm0, t, alloc0, free0, flush0;

	deferred_saved_limit = sysfs_long(NULL, "deferred_limit_bytes");
	deferred_saved_delay = sysfs_long(NULL, "deferred_delay_ms");
	ASSERT_LE(0, deferred_saved_limit);
	ASSERT_LE(0, deferred_saved_delay);

	/* Bad input: an errno, and the knob unchanged. */
	EXPECT_EQ(-EINVAL, top_knob_write("deferred_delay_ms", 3600001));
	EXPECT_EQ(-EINVAL, top_knob_write("deferred_delay_ms", -1));
	EXPECT_EQ(-EINVAL, write_file(GMEM_TRACK_SYSFS "/deferred_delay_ms",
				      "soon"));
	EXPECT_EQ(-EINVAL, write_file(GMEM_TRACK_SYSFS "/deferred_limit_bytes",
				      "lots"));
	EXPECT_EQ(-EINVAL, top_knob_write("deferred_limit_bytes", -1));
	EXPECT_EQ(deferred_saved_delay, sysfs_long(NULL, "deferred_delay_ms"));
	EXPECT_EQ(deferred_saved_limit,
		  sysfs_long(NULL, "deferred_limit_bytes"));

	/* An hour: only what the test does takes the vmemmap. */
	ASSERT_EQ(0, top_knob_write("deferred_delay_ms", 3600000));
	ASSERT_EQ(0, top_knob_write("deferred_limit_bytes", SZ_1G));
	ASSERT_LE(0, gmem_deferred_settle());

	/* The other designs keep their struct pages: nothing waits. */
	if (!is_tracked(f)) {
		alloc0 = vm_event("pages_allocated");
		free0 = vm_event("pages_freed");
		ASSERT_EQ(0, set_attrs(f->fd, 0, 4 * GRANULE, SHARED, PRESERVE,
				       NULL));
		ASSERT_EQ(0, set_attrs(f->fd, 0, 4 * GRANULE, PRIVATE,
				       PRESERVE, NULL));
		EXPECT_EQ(0, sysfs_long("tracked", "deferred_bytes"));
		EXPECT_EQ(alloc0, vm_event("pages_allocated"));
		EXPECT_EQ(free0, vm_event("pages_freed"));
		deferred_restore();
		return;
	}
	vm0 = sysfs_long(f->design, "vmemmap_bytes");
	alloc0 = vm_event("pages_allocated");
	free0 = vm_event("pages_freed");
	ASSERT_LE(0, alloc0);

	/* One page in each of four granules, and back. */
	for (t = 0; t < 4; t++)
		ASSERT_EQ(0, set_attrs(f->fd, t * GRANULE + 9 * pg, pg, SHARED,
				       PRESERVE, NULL));
	EXPECT_EQ(vm0 + 4 * pg, sysfs_long(f->design, "vmemmap_bytes"));
	EXPECT_EQ(alloc0 + 4, vm_event("pages_allocated"));
	flush0 = vm_event("tlb_flushes");
	ASSERT_EQ(0, set_attrs(f->fd, 0, 4 * GRANULE, PRIVATE, PRESERVE,
			       NULL));
	EXPECT_EQ(4 * pg, sysfs_long("tracked", "deferred_bytes"));
	EXPECT_EQ(vm0 + 4 * pg, sysfs_long(f->design, "vmemmap_bytes"));
	/* Nothing freed, nothing flushed in the conversion. */
	EXPECT_EQ(free0, vm_event("pages_freed"));
	EXPECT_EQ(flush0, vm_event("tlb_flushes"));

	/* Shared again while it waits: no vmemmap allocated, no flush. */
	ASSERT_EQ(0, set_attrs(f->fd, 2 * GRANULE, 3 * pg, SHARED, PRESERVE,
			       NULL));
	EXPECT_EQ(3 * pg, sysfs_long("tracked", "deferred_bytes"));
	EXPECT_EQ(vm0 + 4 * pg, sysfs_long(f->design, "vmemmap_bytes"));
	EXPECT_EQ(alloc0 + 4, vm_event("pages_allocated"));
	EXPECT_EQ(flush0, vm_event("tlb_flushes"));
	EXPECT_EQ(-1, fill_range(f, 2 * GRANULE, 3 * pg, 77));
	EXPECT_EQ(-1, check_range(f, 2 * GRANULE, 3 * pg, 77));
	ASSERT_EQ(0, set_attrs(f->fd, 2 * GRANULE, 3 * pg, PRIVATE, PRESERVE,
			       NULL));
	EXPECT_EQ(4 * pg, sysfs_long("tracked", "deferred_bytes"));

	/* Memory pressure: the shrinker brings the worker forward. */
	t = gmem_deferred_reclaim();
	ksft_print_msg("drop_caches: settled in %ld ms\n", t);
	EXPECT_LE(0, t);
	EXPECT_EQ(vm0, sysfs_long(f->design, "vmemmap_bytes"));
	EXPECT_EQ(free0 + 4, vm_event("pages_freed"));
	/* One batch: one flush for the four granules. */
	ksft_print_msg("worker: %ld TLB flushes for 4 granules\n",
		       vm_event("tlb_flushes") - flush0);
	EXPECT_EQ(1, vm_event("tlb_flushes") - flush0);
	EXPECT_EQ(-1, check_private(f, 0, 4 * GRANULE, false));

	/* The worker, deferred_delay_ms after the conversion. */
	ASSERT_EQ(0, top_knob_write("deferred_delay_ms", 50));
	ASSERT_EQ(0, set_attrs(f->fd, GRANULE, 2 * GRANULE, SHARED, PRESERVE,
			       NULL));
	ASSERT_EQ(0, set_attrs(f->fd, GRANULE, 2 * GRANULE, PRIVATE, PRESERVE,
			       NULL));
	t = deferred_wait(0, 5000);
	ksft_print_msg("worker: settled in %ld ms\n", t);
	EXPECT_LE(0, t);
	EXPECT_EQ(vm0, sysfs_long(f->design, "vmemmap_bytes"));

	/* No room to wait: the conversion removes the vmemmap itself. */
	ASSERT_EQ(0, top_knob_write("deferred_limit_bytes", 0));
	vm0 = sysfs_long(f->design, "vmemmap_bytes");
	ASSERT_EQ(0, set_attrs(f->fd, 0, GRANULE, SHARED, PRESERVE, NULL));
	ASSERT_EQ(0, set_attrs(f->fd, 0, GRANULE, PRIVATE, PRESERVE, NULL));
	EXPECT_EQ(0, sysfs_long("tracked", "deferred_bytes"));
	EXPECT_EQ(vm0, sysfs_long(f->design, "vmemmap_bytes"));

	/* A punch hole takes what waits in its chunk at once. */
	ASSERT_EQ(0, top_knob_write("deferred_delay_ms", 3600000));
	ASSERT_EQ(0, top_knob_write("deferred_limit_bytes", SZ_1G));
	ASSERT_EQ(0, set_attrs(f->fd, 0, pg, SHARED, PRESERVE, NULL));
	ASSERT_EQ(0, set_attrs(f->fd, 0, pg, PRIVATE, PRESERVE, NULL));
	EXPECT_EQ(pg, sysfs_long("tracked", "deferred_bytes"));
	vm0 = sysfs_long(f->design, "vmemmap_bytes");
	ASSERT_EQ(0, falloc(f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			    0, f->chunk));
	EXPECT_EQ(0, sysfs_long("tracked", "deferred_bytes"));
	/* The waiting page went with the chunk, and nothing else is left. */
	EXPECT_EQ(vm0 - pg, sysfs_long(f->design, "vmemmap_bytes"));

	deferred_restore();
}

/* The PFN behind a mapped page, from /proc/self/pagemap (root only). */
static __u64 mapped_pfn(const char *addr)
{
	__u64 entry = 0;
	int fd;

	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (pread(fd, &entry, sizeof(entry),
		  (unsigned long)addr / PAGE_SZ * sizeof(entry)) != sizeof(entry))
		entry = 0;
	close(fd);
	/* Bit 63: present; bits 0-54: the PFN. */
	return entry >> 63 ? entry & ((1ULL << 55) - 1) : 0;
}

/* Whether @buf holds any word of the page's pattern. */
static bool leaked(const __u64 *buf, __u64 seed, __u64 off)
{
	unsigned int i;

	for (i = 0; i < WORDS; i++) {
		if (buf[i] == pattern(seed, off + i * 8))
			return true;
	}
	return false;
}

/*
 * Private memory is not readable from the host, by any of the ways a
 * process can read another one's memory or a file: a page written while
 * shared, then made private with PRESERVE (so its content is still there,
 * and leaks if any of these reads succeeds), must fail each read and show
 * none of its words: the mapping (SIGBUS), /proc/self/mem and
 * process_vm_readv() (both fault the mapping in through GUP), read() and
 * pread() on the file, and /dev/mem at its physical address where the
 * kernel has /dev/mem.
 */
TEST_F_TIMEOUT(gmem, private_unreadable, TMO)
{
	struct gfile *f = &self->f;
	__u64 off = mixed_base(f) + 5 * PAGE_SZ, seed = next_seed(), pfn;
	__u64 *buf = malloc(PAGE_SZ);
	struct iovec local, remote;
	ssize_t n;
	int fd;

	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, set_attrs(f->fd, off, PAGE_SZ, SHARED, PRESERVE, NULL));
	ASSERT_EQ(-1, fill_range(f, off, PAGE_SZ, seed));
	pfn = mapped_pfn(f->mem + off);
	ASSERT_EQ(0, set_attrs(f->fd, off, PAGE_SZ, PRIVATE, PRESERVE, NULL));

	EXPECT_EQ(PG_SIGBUS, probe(f->mem, off, false));

	fd = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	memset(buf, 0, PAGE_SZ);
	n = pread(fd, buf, PAGE_SZ, (off_t)(unsigned long)(f->mem + off));
	EXPECT_EQ(-1, n);
	EXPECT_EQ(EIO, errno);
	EXPECT_FALSE(leaked(buf, seed, off));
	close(fd);

	memset(buf, 0, PAGE_SZ);
	local.iov_base = buf;
	local.iov_len = PAGE_SZ;
	remote.iov_base = f->mem + off;
	remote.iov_len = PAGE_SZ;
	n = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
	EXPECT_EQ(-1, n);
	EXPECT_EQ(EFAULT, errno);
	EXPECT_FALSE(leaked(buf, seed, off));

	/* No read_iter, no llseek: read() is EINVAL, pread() ESPIPE. */
	memset(buf, 0, PAGE_SZ);
	EXPECT_EQ(-1, pread(f->fd, buf, PAGE_SZ, off));
	EXPECT_EQ(ESPIPE, errno);
	EXPECT_EQ(-1, read(f->fd, buf, PAGE_SZ));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_FALSE(leaked(buf, seed, off));

	fd = open("/dev/mem", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ksft_print_msg("/dev/mem: %s: not checked\n", strerror(errno));
	} else {
		ASSERT_NE(0, pfn) TH_LOG("no PFN in /proc/self/pagemap");
		memset(buf, 0, PAGE_SZ);
		n = pread(fd, buf, PAGE_SZ, (off_t)(pfn * PAGE_SZ));
		ksft_print_msg("/dev/mem at PFN %#llx: %zd (%s)\n", pfn, n,
			       n < 0 ? strerror(errno) : "read");
		EXPECT_FALSE(leaked(buf, seed, off));
		close(fd);
	}

	/* The content was there all along: shared again, it reads back. */
	ASSERT_EQ(0, set_attrs(f->fd, off, PAGE_SZ, SHARED, PRESERVE, NULL));
	EXPECT_EQ(-1, check_range(f, off, PAGE_SZ, seed));
	ASSERT_EQ(0, set_attrs(f->fd, off, PAGE_SZ, PRIVATE, PRESERVE, NULL));
	free(buf);
}

/* ---- leaks ---- */

/* What a file cycle must give back, every figure of the whole system. */
struct leak_snap {
	long free_kb;		/* MemFree + per-CPU free lists */
	long slab_kb;		/* SUnreclaim: maple nodes, inodes, KVM */
	long memmap;		/* pages of vmemmap */
	long used_b;		/* gmem_track chunks held, all designs */
	long pool_free_b;	/* parked chunks */
};

static void leak_read(struct leak_snap *s)
{
	gmem_deferred_settle();
	s->free_kb = free_kb();
	s->slab_kb = meminfo_kb("SUnreclaim");
	s->memmap = memmap_pages();
	s->used_b = sysfs_long(NULL, "used_2M_bytes") +
		    sysfs_long(NULL, "used_1G_bytes");
	s->pool_free_b = sysfs_long(NULL, "free_2M_bytes") +
			 sysfs_long(NULL, "free_1G_bytes");
}

/*
 * Tolerances of the leak check, in KiB over the whole run. 200 cycles:
 * one page kept per cycle would be 800 KiB, one guest_memfd inode with its
 * maple nodes (~1 KiB) 200 KiB. Below that, the slab and per-CPU caches of
 * the rest of the system move on their own; smaller leaks are kmemleak's
 * to find (the check and debug kernels scan at the end of each boot).
 * Free memory that grew is no leak: per-CPU page lists and the debug
 * kernels' pools (kmemleak's objects, lockdep's) give memory back late, and
 * the check kernel's came back 1.9 MiB above the baseline once.
 */
#define LEAK_FREE_KB	256
#define LEAK_SLAB_KB	128

#define SLAB_SYSFS	"/sys/kernel/slab"

/*
 * Shrink every slab cache, as /sys/kernel/slab/<cache>/shrink does: empty
 * slabs go back to the page allocator and, on a KASAN kernel, the cache's
 * objects leave the quarantine, where freed objects wait (up to 1/32 of
 * memory) still counted as slab: without this, 200 cycles read as tens of
 * MiB leaked on the debug kernel. Aliases are symlinks: skipped.
 */
static void slab_shrink_all(void)
{
	char path[PATH_MAX];
	struct dirent *e;
	DIR *d = opendir(SLAB_SYSFS);

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || e->d_type == DT_LNK)
			continue;
		snprintf(path, sizeof(path), SLAB_SYSFS "/%s/shrink",
			 e->d_name);
		write_file(path, "1");
	}
	closedir(d);
}

/*
 * Wait up to 5 s for @now to match @base: exactly, and within tolerance.
 * Every slab cache is shrunk first and every half second, so that both
 * readings leave out what the slab allocator merely holds on to.
 */
static bool leak_back(const struct leak_snap *base, struct leak_snap *now,
		      bool exact_only)
{
	struct timespec ts = { .tv_nsec = 20 * 1000 * 1000 };
	int i;

	/* Files, maple nodes and slabs go after an RCU grace period. */
	for (i = 0; i < 250; i++) {
		if (i % 25 == 0)
			slab_shrink_all();
		leak_read(now);
		if (now->memmap == base->memmap &&
		    now->used_b == base->used_b &&
		    now->pool_free_b == base->pool_free_b &&
		    (exact_only ||
		     (base->free_kb - now->free_kb <= LEAK_FREE_KB &&
		      now->slab_kb - base->slab_kb <= LEAK_SLAB_KB)))
			return true;
		nanosleep(&ts, NULL);
	}
	return false;
}

/* What @n file lives (@what) left behind, from @base to @now. */
static void leak_print(int n, const char *what, const struct leak_snap *base,
		       const struct leak_snap *now)
{
	ksft_print_msg("%d %s: free %+ldK, slab %+ldK, memmap %+ld, chunks %+ld, parked %+ld\n",
		       n, what, now->free_kb - base->free_kb,
		       now->slab_kb - base->slab_kb, now->memmap - base->memmap,
		       now->used_b - base->used_b,
		       now->pool_free_b - base->pool_free_b);
}

/*
 * One file's life: created, allocated, 64 KiB made shared and written,
 * mapped and read, made private again, another 64 KiB shared, unmapped
 * and closed with it still shared. Return: 0, or -ENOMEM when no 1 GiB
 * block was free for the file (a small guest's memory gets fragmented;
 * that is not a leak, which the caller's counters would show).
 */
static int leak_cycle(struct __test_metadata *_metadata, struct gfile *f,
		      __u64 size, __u64 seed)
{
	__u64 off = size - SZ_2M + 3 * GRANULE, len = 64 << 10;
	__u64 *w;
	char *mem;
	int fd, ret;

	fd = create_gmem(f->vm_fd, size, f->flags);
	ASSERT_LE(0, fd);
	ret = falloc(fd, FALLOC_FL_KEEP_SIZE, 0, size);
	if (ret == -ENOMEM && size == SZ_1G) {
		close(fd);
		return ret;
	}
	ASSERT_EQ(0, ret);
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, mem);
	ASSERT_EQ(0, set_attrs(fd, off, len, SHARED, PRESERVE, NULL));
	w = (__u64 *)(mem + off);
	STORE(w, seed);
	ASSERT_EQ(seed, LOAD(w));
	ASSERT_EQ(0, set_attrs(fd, off, len, PRIVATE, PRESERVE, NULL));
	ASSERT_EQ(0, set_attrs(fd, off + len, len, SHARED, ZERO, NULL));
	ASSERT_EQ(0, LOAD((__u64 *)(mem + off + len)));
	ASSERT_EQ(0, munmap(mem, size));
	ASSERT_EQ(0, close(fd));
	return 0;
}

/* ---- injected failures ---- */

/* fail_function is driven by the gmem_fail_*() helpers of gmem_track_util.h. */

/*
 * Every allocation point of gmem_track that fail_function can make fail,
 * hit again and again through the uapi: converting to shared (the vmemmap
 * cannot be rebuilt), converting either way (the descriptor cannot be
 * split) and fallocate (no chunk). Each failure must fire (fail_function
 * counts it), give ENOMEM, and leave the file as it was: the same state
 * page by page, the same content, the same counters. The same operation
 * then succeeds. The struct-page design has no vmemmap to rebuild. A host
 * fault whose chunk allocation says EBUSY (for a moment, no chunk could
 * be had) is taken again instead.
 * Each punch and refill of a tracked 1 GiB chunk rebuilds and removes
 * 16 MiB of vmemmap: on a debug kernel the eight of them took longer than
 * TMO, hence three times TMO.
 */
TEST_F_TIMEOUT(gmem, injected_failures, 3 * TMO)
{
	struct gfile *f = &self->f;
	bool tracked = is_tracked(f), big = f->chunk == SZ_1G;
	int n_rebuild = tracked ? 150 : 0, n_split = big ? 100 : 150;
	int n_alloc = big ? (tracked ? 8 : 4) : 50, n_busy = big ? 2 : 10;
	int fired = 0, i, ret;
	struct counters c0, c1;
	__u64 off, seed, err_off;

	if (!f->design)
		SKIP(return, "not a gmem_track file");
	if (access(GMEM_FAIL_FN "/inject", W_OK))
		SKIP(return, GMEM_FAIL_FN " is missing (CONFIG_FAIL_FUNCTION)");

	/* Converting to shared: the vmemmap of the granule cannot be rebuilt. */
	ASSERT_EQ(0, gmem_fail_target("gmem_vmemmap_repopulate"));
	for (i = 0; i < n_rebuild; i++) {
		off = ((__u64)i * 37 * GRANULE + (i % 64) * PAGE_SZ) % f->size;
		read_counters(f, &c0);
		ASSERT_EQ(0, gmem_fail_arm());
		EXPECT_EQ(-ENOMEM, set_attrs(f->fd, off, PAGE_SZ, SHARED,
					     PRESERVE, &err_off));
		/* ENOMEM says where: the start of the range. */
		EXPECT_EQ(off, err_off);
		EXPECT_EQ(0, gmem_fail_times());
		fired += !gmem_fail_times();
		EXPECT_EQ(PG_SIGBUS, probe(f->mem, off, false));
		read_counters(f, &c1);
		EXPECT_TRUE(same_counters(&c0, &c1));
		/* Unarmed, it works, and the page goes back. */
		ASSERT_EQ(0, set_attrs(f->fd, off, PAGE_SZ, SHARED, ZERO, NULL));
		ASSERT_EQ(0, set_attrs(f->fd, off, PAGE_SZ, PRIVATE, ZERO, NULL));
		if (_metadata->exit_code)
			break;
	}

	/* Both ways: the descriptor cannot be split. */
	ASSERT_EQ(0, gmem_fail_target("gmem_ranges_set_state"));
	for (i = 0; i < n_split; i++) {
		off = ((__u64)i * 53 * PAGE_SZ + PAGE_SZ) % f->size;
		seed = next_seed();
		read_counters(f, &c0);
		ASSERT_EQ(0, gmem_fail_arm());
		EXPECT_EQ(-ENOMEM, set_attrs(f->fd, off, PAGE_SZ, SHARED,
					     PRESERVE, &err_off));
		EXPECT_EQ(off, err_off);
		fired += !gmem_fail_times();
		EXPECT_EQ(0, gmem_fail_times());
		EXPECT_EQ(PG_SIGBUS, probe(f->mem, off, false));
		read_counters(f, &c1);
		EXPECT_TRUE(same_counters(&c0, &c1));

		ASSERT_EQ(0, set_attrs(f->fd, off, PAGE_SZ, SHARED, ZERO, NULL));
		ASSERT_EQ(-1, fill_range(f, off, PAGE_SZ, seed));
		read_counters(f, &c0);
		ASSERT_EQ(0, gmem_fail_arm());
		EXPECT_EQ(-ENOMEM, set_attrs(f->fd, off, PAGE_SZ, PRIVATE,
					     PRESERVE, &err_off));
		EXPECT_EQ(off, err_off);
		fired += !gmem_fail_times();
		EXPECT_EQ(0, gmem_fail_times());
		/* Still shared, content and all. */
		EXPECT_EQ(-1, check_range(f, off, PAGE_SZ, seed));
		read_counters(f, &c1);
		EXPECT_TRUE(same_counters(&c0, &c1));
		ASSERT_EQ(0, set_attrs(f->fd, off, PAGE_SZ, PRIVATE, ZERO, NULL));
		if (_metadata->exit_code)
			break;
	}

	/* fallocate: no chunk for a punched hole. */
	ASSERT_EQ(0, gmem_fail_target("gmem_pool_alloc"));
	for (i = 0; i < n_alloc; i++) {
		off = (i % (f->size / f->chunk)) * f->chunk;
		ASSERT_EQ(0, falloc(f->fd, FALLOC_FL_PUNCH_HOLE |
				    FALLOC_FL_KEEP_SIZE, off, f->chunk));
		read_counters(f, &c0);
		ASSERT_EQ(0, gmem_fail_arm());
		EXPECT_EQ(-ENOMEM, falloc(f->fd, FALLOC_FL_KEEP_SIZE, off,
					  f->chunk));
		fired += !gmem_fail_times();
		EXPECT_EQ(0, gmem_fail_times());
		read_counters(f, &c1);
		EXPECT_TRUE(same_counters(&c0, &c1));
		ret = falloc(f->fd, FALLOC_FL_KEEP_SIZE, off, f->chunk);
		if (ret == -ENOMEM && big) {
			gmem_fail_clear();
			ksft_print_msg("reliability: injected_failures %d\n",
				       fired);
			SKIP(return, "no free 1 GiB chunk to refill");
		}
		ASSERT_EQ(0, ret);
		if (_metadata->exit_code)
			break;
	}

	/*
	 * A host fault on a shared page of a hole whose chunk cannot be had
	 * for a moment (-EBUSY: gmem_track_populate() found each new chunk
	 * it tried held by someone else, or hit by a memory error) is taken
	 * again, not a SIGBUS; the page then reads as zeroes.
	 */
	ASSERT_EQ(0, gmem_fail_target_err("gmem_pool_alloc", -EBUSY));
	for (i = 0; i < n_busy; i++) {
		off = (i % (f->size / f->chunk)) * f->chunk + (i % 64) * PAGE_SZ;
		ASSERT_EQ(0, set_attrs(f->fd, off, PAGE_SZ, SHARED, PRESERVE,
				       NULL));
		ASSERT_EQ(0, falloc(f->fd, FALLOC_FL_PUNCH_HOLE |
				    FALLOC_FL_KEEP_SIZE, off - off % f->chunk,
				    f->chunk));
		ASSERT_EQ(0, gmem_fail_arm());
		ret = probe(f->mem, off, false);
		EXPECT_EQ(0, gmem_fail_times());
		fired += !gmem_fail_times();
		/* As above: a freed GiB may not be whole again at once. */
		if (ret != PG_OK && big &&
		    falloc(f->fd, FALLOC_FL_KEEP_SIZE, off - off % f->chunk,
			   f->chunk) == -ENOMEM) {
			gmem_fail_clear();
			ksft_print_msg("reliability: injected_failures %d\n",
				       fired);
			SKIP(return, "no free 1 GiB chunk to refill");
		}
		if (ret != PG_OK)
			ksft_print_msg("offset %#llx: SIGBUS, allocation EBUSY once\n",
				       off);
		EXPECT_EQ(PG_OK, ret);
		EXPECT_EQ(PG_OK, page_op(f->mem, off, OP_CHECK, 0, true));
		/* Back to private, as the rest of the file. */
		ASSERT_EQ(0, set_attrs(f->fd, off, PAGE_SZ, PRIVATE, PRESERVE,
				       NULL));
		if (_metadata->exit_code)
			break;
	}
	gmem_fail_clear();

	ksft_print_msg("%s: %d injected failures, %d of them EBUSY faults retried\n",
		       f->design, fired, n_busy);
	ksft_print_msg("reliability: injected_failures %d\n", fired);
	EXPECT_EQ(n_rebuild + 2 * n_split + n_alloc + n_busy, fired);
	/* The whole file is private and allocated again, as at the start. */
	expect_accounting(_metadata, f, 0, 0, NULL);
}

/* ---- failslab and fail_page_alloc, through fail-nth ---- */

#define FAILSLAB	"/sys/kernel/debug/failslab"
#define FAIL_PAGE	"/sys/kernel/debug/fail_page_alloc"
#define FAIL_NTH	"/proc/thread-self/fail-nth"
/*
 * Bounds per operation, not expectations: a 1 GiB chunk taken from the
 * buddy allocator migrates pages, each migration an allocation that may
 * fail and be retried elsewhere, and each retry is slow on a debug kernel.
 */
#define NTH_MAX		400
#define NTH_SECS	90

/*
 * The fault attributes as the test needs them, and as they were: every
 * allocation of the task may fail, order 0 and sleeping ones included,
 * but only the one fail-nth names (probability 0), and silently (verbose
 * 0: no "FAULT_INJECTION: forcing a failure" and no stack).
 */
static struct {
	const char *path;
	const char *val;
	char old[32];
} nth_attrs[] = {
	{ FAILSLAB "/probability", "0" },
	{ FAILSLAB "/verbose", "0" },
	{ FAILSLAB "/ignore-gfp-wait", "N" },
	{ FAIL_PAGE "/probability", "0" },
	{ FAIL_PAGE "/verbose", "0" },
	{ FAIL_PAGE "/ignore-gfp-wait", "N" },
	{ FAIL_PAGE "/ignore-gfp-highmem", "N" },
	{ FAIL_PAGE "/min-order", "0" },
};

static int nth_fd = -1;

static int nth_setup(void)
{
	unsigned int i;
	int ret;

	/* fail_function's points would count too: none. */
	if (!access(GMEM_FAIL_FN "/inject", W_OK))
		gmem_fail_clear();
	for (i = 0; i < ARRAY_SIZE(nth_attrs); i++) {
		read_line(nth_attrs[i].path, nth_attrs[i].old,
			  sizeof(nth_attrs[i].old));
		ret = write_file(nth_attrs[i].path, nth_attrs[i].val);
		if (ret)
			return ret;
	}
	nth_fd = open(FAIL_NTH, O_RDWR | O_CLOEXEC);
	return nth_fd < 0 ? -errno : 0;
}

/* Puts back what nth_setup() changed; a no-op when nothing was. */
static void nth_restore(void)
{
	unsigned int i;

	for (i = ARRAY_SIZE(nth_attrs); i--; ) {
		if (nth_attrs[i].old[0])
			write_file(nth_attrs[i].path, nth_attrs[i].old);
		nth_attrs[i].old[0] = '\0';
	}
	if (nth_fd >= 0)
		close(nth_fd);
	nth_fd = -1;
}

static int nth_arm(unsigned int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", n);

	return write(nth_fd, buf, len) == len ? 0 : -1;
}

/* Disarm; true if the armed failure fired (the counter had reached 0). */
static bool nth_fired(void)
{
	char buf[16] = "";
	ssize_t len = pread(nth_fd, buf, sizeof(buf) - 1, 0);

	if (write(nth_fd, "0", 1) != 1 || len <= 0)
		return false;
	return atoi(buf) == 0;
}

enum nth_op { NTH_SHARED, NTH_PRIVATE, NTH_PUNCH, NTH_ALLOC, NTH_OPS };

static const char * const nth_op_names[] = {
	[NTH_SHARED]	= "to shared",
	[NTH_PRIVATE]	= "to private",
	[NTH_PUNCH]	= "punch",
	[NTH_ALLOC]	= "fallocate",
};

/*
 * The stage: the witness pages (two shared at 1 MiB, the last page
 * shared, a private one below 1 MiB), R converted either way across three
 * 256 KiB granules and a descriptor split at each end, and T, the last
 * chunk, punched and refilled, with a shared page @t_wit of its own.
 */
struct nth_stage {
	struct witness w;
	__u64 r_off, r_len, r_seed;
	__u64 t_off, t_len, t_wit, t_seed;
};

static bool file_counters_same(const struct counters *a,
			       const struct counters *b)
{
	return a->chunks == b->chunks && a->private_b == b->private_b &&
	       a->shared_b == b->shared_b && a->vmemmap_b == b->vmemmap_b;
}

/*
 * After a failure the file's counters are as they were. The pool's may
 * have moved one way only: a tracked chunk taken from the buddy allocator
 * (its vmemmap removed) and then not needed, because the descriptor could
 * not take it, is parked rather than rebuilt, for the next file.
 */
static void nth_check_pool(struct __test_metadata *_metadata,
			   struct gfile *f, const struct counters *c0,
			   const struct counters *c1, const char *when)
{
	long parked = c1->parked - c0->parked;

	EXPECT_TRUE(file_counters_same(c0, c1))
		print_counters(when, c1, c0);
	EXPECT_EQ(-parked * (long)(f->chunk / GRANULE), c1->memmap - c0->memmap)
		print_counters(when, c1, c0);
	if (parked)
		ksft_print_msg("%s: %+ld chunk parked\n", when, parked);
}

/* The witness pages and T's shared page, written again after a punch. */
static void nth_refill(struct __test_metadata *_metadata, struct gfile *f,
		       struct nth_stage *s)
{
	ASSERT_EQ(-1, fill_range(f, s->w.p0, 2 * PAGE_SZ, s->w.seed));
	ASSERT_EQ(-1, fill_range(f, s->w.last, PAGE_SZ, s->w.seed));
	ASSERT_EQ(-1, fill_range(f, s->t_wit, PAGE_SZ, s->t_seed));
}

static bool in_t(const struct nth_stage *s, __u64 off)
{
	return off >= s->t_off && off < s->t_off + s->t_len;
}

/*
 * The part of the file @op must not have changed is as it was. A hole (T
 * before NTH_ALLOC) is not probed: that would fill it.
 */
static void nth_check_rest(struct __test_metadata *_metadata,
			   struct gfile *f, struct nth_stage *s,
			   enum nth_op op, const char *when)
{
	bool hole = op == NTH_ALLOC;

	if (!hole || !in_t(s, s->w.p0)) {
		EXPECT_EQ(-1, check_range(f, s->w.p0, 2 * PAGE_SZ,
					  s->w.seed)) TH_LOG("%s", when);
	}
	if (!hole || !in_t(s, s->w.pp)) {
		EXPECT_EQ(-1, check_private(f, s->w.pp, PAGE_SZ, false))
			TH_LOG("%s", when);
	}
	if (!hole || !in_t(s, s->w.last)) {
		EXPECT_EQ(-1, check_range(f, s->w.last, PAGE_SZ, s->w.seed))
			TH_LOG("%s", when);
	}
	if (!hole) {
		EXPECT_EQ(-1, check_range(f, s->t_wit, PAGE_SZ, s->t_seed))
			TH_LOG("%s", when);
	}
}

static int nth_call(struct gfile *f, struct nth_stage *s, enum nth_op op)
{
	switch (op) {
	case NTH_SHARED:
		return set_attrs(f->fd, s->r_off, s->r_len, SHARED, PRESERVE,
				 NULL);
	case NTH_PRIVATE:
		return set_attrs(f->fd, s->r_off, s->r_len, PRIVATE, PRESERVE,
				 NULL);
	case NTH_PUNCH:
		return falloc(f->fd, PUNCH, s->t_off, s->t_len);
	default:
		return falloc(f->fd, KEEP, s->t_off, s->t_len);
	}
}

/* After @op succeeded: check its effect, then undo it. */
static void nth_done_undo(struct __test_metadata *_metadata, struct gfile *f,
			  struct nth_stage *s, enum nth_op op)
{
	struct counters want = s->w.c, now;

	switch (op) {
	case NTH_SHARED:
		EXPECT_EQ(-1, check_range(f, s->r_off, s->r_len, s->r_seed));
		ASSERT_EQ(0, set_attrs(f->fd, s->r_off, s->r_len, PRIVATE,
				       PRESERVE, NULL));
		break;
	case NTH_PRIVATE:
		EXPECT_EQ(-1, check_private(f, s->r_off, s->r_len, false));
		ASSERT_EQ(0, set_attrs(f->fd, s->r_off, s->r_len, SHARED,
				       PRESERVE, NULL));
		EXPECT_EQ(-1, check_range(f, s->r_off, s->r_len, s->r_seed));
		break;
	case NTH_PUNCH:
		if (f->design) {
			want.chunks--;
			EXPECT_TRUE(wait_counters(f, &want, true, &now));
		}
		ASSERT_EQ(0, falloc(f->fd, KEEP, s->t_off, s->t_len));
		nth_refill(_metadata, f, s);
		break;
	default:
		nth_refill(_metadata, f, s);
		break;
	}
	/* The file holds what it held; the pool may have moved chunks. */
	read_counters(f, &now);
	EXPECT_TRUE(file_counters_same(&s->w.c, &now))
		print_counters(nth_op_names[op], &now, &s->w.c);
	if (op == NTH_ALLOC)
		ASSERT_EQ(0, falloc(f->fd, PUNCH, s->t_off, s->t_len));
}

/*
 * Fail the 1st, 2nd, 3rd, ... allocation (slab or page) that @op makes,
 * until it makes no more: each failure must give ENOMEM and leave the file
 * exactly as it was, or be absorbed with the operation done. Returns the
 * failures injected.
 */
static int nth_run(struct __test_metadata *_metadata, struct gfile *f,
		   struct nth_stage *s, enum nth_op op)
{
	int n, ret, fired = 0, absorbed = 0;
	struct timespec t0, t;
	struct counters c0, c1;
	bool hit, bound = false;
	char when[64];

	if (op == NTH_ALLOC)
		ASSERT_EQ(0, falloc(f->fd, PUNCH, s->t_off, s->t_len));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (n = 1; ; n++) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (n > NTH_MAX || t.tv_sec - t0.tv_sec > NTH_SECS) {
			bound = true;
			break;
		}
		snprintf(when, sizeof(when), "%s, allocation %d failed",
			 nth_op_names[op], n);
		read_counters(f, &c0);
		ASSERT_EQ(0, nth_arm(n));
		ret = nth_call(f, s, op);
		hit = nth_fired();
		fired += hit;
		if (ret) {
			EXPECT_TRUE(hit) TH_LOG("%s: %s", when, strerror(-ret));
			EXPECT_EQ(-ENOMEM, ret) TH_LOG("%s", when);
			read_counters(f, &c1);
			nth_check_pool(_metadata, f, &c0, &c1, when);
			if (op == NTH_SHARED)
				EXPECT_EQ(-1, check_private(f, s->r_off,
							    s->r_len, false))
					TH_LOG("%s", when);
			if (op == NTH_PRIVATE)
				EXPECT_EQ(-1, check_range(f, s->r_off, s->r_len,
							  s->r_seed))
					TH_LOG("%s", when);
			nth_check_rest(_metadata, f, s, op, when);
		} else {
			absorbed += hit;
			nth_done_undo(_metadata, f, s, op);
			if (!hit)
				break;
		}
		if (_metadata->exit_code)
			break;
	}
	if (op == NTH_ALLOC) {
		ASSERT_EQ(0, falloc(f->fd, KEEP, s->t_off, s->t_len));
		nth_refill(_metadata, f, s);
	}
	ksft_print_msg("%s: %d allocations, %d failures injected, %d absorbed%s\n",
		       nth_op_names[op], n - 1, fired, absorbed,
		       bound ? " (stopped at the bound)" : "");
	return fired;
}

/*
 * failslab and fail_page_alloc, driven by fail-nth, at every allocation a
 * conversion either way (descriptor split, vmemmap rebuilt for the tracked
 * design, the attributes' maple nodes), a punch (vmemmap rebuilt for a
 * freed chunk) and a fallocate (chunk, descriptor, page cache) make: each
 * injected failure gives ENOMEM with the file as it was (content, states,
 * counters), or is absorbed with the operation done. Needs
 * CONFIG_FAILSLAB and CONFIG_FAIL_PAGE_ALLOC (the debug kernel).
 */
TEST_F_TIMEOUT(gmem, injected_alloc_failures, 3 * TMO)
{
	struct gfile *f = &self->f;
	struct nth_stage s;
	int op, ret, fired = 0;

	if (access(FAILSLAB "/ignore-gfp-wait", W_OK) ||
	    access(FAIL_PAGE "/min-order", W_OK))
		SKIP(return, "no failslab or fail_page_alloc in debugfs");

	witness_set(_metadata, f, &s.w);
	s.r_off = mixed_base(f) + GRANULE - 2 * PAGE_SZ;
	s.r_len = GRANULE + 4 * PAGE_SZ;
	s.r_seed = next_seed();
	s.t_len = f->design ? f->chunk : 16 * PAGE_SZ;
	s.t_off = f->design ? f->size - f->chunk : SZ_2M;
	s.t_wit = s.t_off + s.t_len / 2 + 2 * PAGE_SZ;
	s.t_seed = next_seed();
	ASSERT_EQ(0, set_attrs(f->fd, s.t_wit, PAGE_SZ, SHARED, PRESERVE,
			       NULL));
	ASSERT_EQ(-1, fill_range(f, s.t_wit, PAGE_SZ, s.t_seed));
	ASSERT_EQ(0, set_attrs(f->fd, s.r_off, s.r_len, SHARED, PRESERVE,
			       NULL));
	ASSERT_EQ(-1, fill_range(f, s.r_off, s.r_len, s.r_seed));
	ASSERT_EQ(0, set_attrs(f->fd, s.r_off, s.r_len, PRIVATE, PRESERVE,
			       NULL));
	read_counters(f, &s.w.c);

	ret = nth_setup();
	if (ret) {
		nth_restore();
		SKIP(return, "fault attributes: %s", strerror(-ret));
	}
	for (op = 0; op < NTH_OPS && !_metadata->exit_code; op++) {
		if (op == NTH_PRIVATE)
			ASSERT_EQ(0, set_attrs(f->fd, s.r_off, s.r_len, SHARED,
					       PRESERVE, NULL));
		if (op == NTH_PUNCH)
			ASSERT_EQ(0, set_attrs(f->fd, s.r_off, s.r_len, PRIVATE,
					       PRESERVE, NULL));
		read_counters(f, &s.w.c);
		fired += nth_run(_metadata, f, &s, op);
	}
	nth_restore();
	ksft_print_msg("reliability: injected_failures %d\n", fired);
	EXPECT_LT(0, fired);
}

/* ---- the vmemmap reserve, with the allocator failing ---- */

/* fail_page_alloc's require-start and require-end, as text. */
static char fpa_start[24], fpa_end[24];

/*
 * fail_page_alloc as the reserve test needs it: every page allocation of
 * this task that gmem_vmemmap_repopulate() makes, directly or through the
 * reserve's functions, fails, order 0 and sleeping ones included,
 * silently; the task's other allocations (the descriptor's maple nodes,
 * page tables of its own mappings) and other tasks' (the reserve's refill
 * work) are left alone: a KASAN kernel's quarantine makes a fresh slab
 * page likely in any conversion. times counts down the failures made. In
 * this order, so that no other allocation fails while the attributes
 * change: the filters first, the probability last (and back first).
 */
#define FPA_TIMES	1000000
static struct {
	const char *path;
	const char *val;
	char old[32];
} fpa_attrs[] = {
	{ FAIL_PAGE "/task-filter", "Y" },
	{ FAIL_PAGE "/stacktrace-depth", "32" },
	{ FAIL_PAGE "/require-start", fpa_start },
	{ FAIL_PAGE "/require-end", fpa_end },
	{ FAIL_PAGE "/verbose", "0" },
	{ FAIL_PAGE "/ignore-gfp-wait", "N" },
	{ FAIL_PAGE "/ignore-gfp-highmem", "N" },
	{ FAIL_PAGE "/min-order", "0" },
	{ FAIL_PAGE "/interval", "1" },
	{ FAIL_PAGE "/space", "0" },
	{ FAIL_PAGE "/times", "1000000" },	/* FPA_TIMES */
	{ FAIL_PAGE "/probability", "100" },
};

#define MAKE_IT_FAIL	"/proc/thread-self/make-it-fail"

/* The reserve's target as it was; see vres_restore(). */
static long vres_saved = -1;

/* This task's make-it-fail, opened before arming, written to disarm. */
static int fpa_fd = -1;

/*
 * The text of kernel function @name, [start, end) from /proc/kallsyms (as
 * root, with its real addresses): its address and the next one above it.
 * Returns 0 or -ENOENT.
 */
static int ksym_range(const char *name, unsigned long *start,
		      unsigned long *end)
{
	char line[256], sym[128], type;
	unsigned long addr;
	FILE *fp;
	int pass;

	*start = 0;
	*end = ~0UL;
	for (pass = 0; pass < 2; pass++) {
		fp = fopen("/proc/kallsyms", "r");
		if (!fp)
			return -ENOENT;
		while (fgets(line, sizeof(line), fp)) {
			if (sscanf(line, "%lx %c %127s", &addr, &type, sym) != 3)
				continue;
			if (!pass && !strcmp(sym, name))
				*start = addr;
			else if (pass && addr > *start && addr < *end)
				*end = addr;
		}
		fclose(fp);
		if (!*start)
			return -ENOENT;
	}
	return *end == ~0UL ? -ENOENT : 0;
}

static void fpa_disarm(void)
{
	unsigned int i;

	if (fpa_fd >= 0) {
		if (write(fpa_fd, "0", 1) != 1)
			ksft_print_msg("make-it-fail: %s\n", strerror(errno));
		close(fpa_fd);
		fpa_fd = -1;
	}
	for (i = ARRAY_SIZE(fpa_attrs); i--; ) {
		if (fpa_attrs[i].old[0])
			write_file(fpa_attrs[i].path, fpa_attrs[i].old);
		fpa_attrs[i].old[0] = '\0';
	}
}

static int fpa_arm(void)
{
	unsigned long start, end;
	unsigned int i;
	int ret;

	ret = ksym_range("gmem_vmemmap_repopulate", &start, &end);
	if (ret)
		return ret;
	snprintf(fpa_start, sizeof(fpa_start), "%#lx", start);
	snprintf(fpa_end, sizeof(fpa_end), "%#lx", end);
	for (i = 0; i < ARRAY_SIZE(fpa_attrs); i++) {
		read_line(fpa_attrs[i].path, fpa_attrs[i].old,
			  sizeof(fpa_attrs[i].old));
		ret = write_file(fpa_attrs[i].path, fpa_attrs[i].val);
		if (ret)
			return ret;
	}
	fpa_fd = open(MAKE_IT_FAIL, O_WRONLY | O_CLOEXEC);
	if (fpa_fd < 0)
		return -errno;
	return write(fpa_fd, "1", 1) == 1 ? 0 : -EIO;
}

/* Failures fail_page_alloc injected since it was armed. */
static long fpa_failures(void)
{
	char buf[32];

	read_line(FAIL_PAGE "/times", buf, sizeof(buf));
	return FPA_TIMES - atol(buf);
}

static void vres_restore(void)
{
	fpa_disarm();
	if (vres_saved >= 0)
		top_knob_write("vmemmap_reserve_pages", vres_saved);
	vres_saved = -1;
}

/* Wait up to 5 s for vmemmap_reserve_bytes to satisfy @full; true if so. */
static bool vres_wait(bool full, long bytes)
{
	int ms;

	for (ms = 0; ms < 5000; ms++) {
		long b = sysfs_long(NULL, "vmemmap_reserve_bytes");

		if (full ? b >= bytes : b == bytes)
			return true;
		usleep(1000);
	}
	return false;
}

/* A shared page reads zero throughout. */
static bool page_zero(struct gfile *f, __u64 off)
{
	const __u64 *w = (const __u64 *)(f->mem + off);
	unsigned int i;

	for (i = 0; i < PAGE_SZ / sizeof(*w); i++) {
		if (w[i])
			return false;
	}
	return true;
}

#define VRES_PAGES	8

/*
 * A conversion to shared must not depend on the page allocator's mood: the
 * tracked design rebuilds struct pages from the node's reserve of vmemmap
 * pages and PTE tables (vmemmap_reserve_pages, refilled in the
 * background), so conversions of VRES_PAGES granules that have no vmemmap
 * succeed while every page allocation of the rebuild fails
 * (fail_page_alloc, filtered to gmem_vmemmap_repopulate()'s stack), and
 * take their vmemmap pages and PTE tables from the reserve
 * (vmemmap_events/reserve_pages) without asking the allocator once
 * (reserve_misses, and no failure injected), with one kernel TLB flush
 * each. With the reserve at 0, such a conversion fails with ENOMEM, the
 * injection having failed its allocation, and changes nothing; with one
 * page in the reserve and two granules to rebuild, it fails the same,
 * and the page it took is back in the reserve, in no other count
 * (nr_memmap_pages). The other designs allocate nothing to convert. The
 * knob takes a page count up to 1 GiB's worth.
 */
TEST_F_TIMEOUT(gmem, reserve_no_alloc, TMO)
{
	struct gfile *f = &self->f;
	long taken0, miss0, flush0, copied0, shared0, vm0, need, memmap0;
	bool done[VRES_PAGES];
	int i, ret;
	__u64 off;

	if (access(FAIL_PAGE "/min-order", W_OK))
		SKIP(return, "no fail_page_alloc in debugfs");
	vres_saved = sysfs_long(NULL, "vmemmap_reserve_pages");
	ASSERT_LE(0, vres_saved);

	/* Bad input: an errno, and the knob unchanged. */
	EXPECT_EQ(-EINVAL, top_knob_write("vmemmap_reserve_pages", -1));
	EXPECT_EQ(-EINVAL, top_knob_write("vmemmap_reserve_pages",
					  (SZ_1G / PAGE_SZ) + 1));
	EXPECT_EQ(-EINVAL, write_file(GMEM_TRACK_SYSFS
				      "/vmemmap_reserve_pages", "lots"));
	EXPECT_EQ(vres_saved, sysfs_long(NULL, "vmemmap_reserve_pages"));

	/*
	 * Room for the pages, and a PTE table for each vmemmap PMD that maps
	 * the shared table (1 GiB chunks), made of a page of the reserve.
	 */
	need = 4 * VRES_PAGES;
	ASSERT_EQ(0, top_knob_write("vmemmap_reserve_pages", need));
	if (is_tracked(f))
		ASSERT_TRUE(vres_wait(true, need * PAGE_SZ));

	taken0 = vm_event("reserve_pages");
	miss0 = vm_event("reserve_misses");
	flush0 = vm_event("tlb_flushes");
	copied0 = vm_event("pte_tables_copied");
	vm0 = f->design ? sysfs_long(f->design, "vmemmap_bytes") : 0;
	ret = fpa_arm();
	if (ret) {
		vres_restore();
		SKIP(return, "fault attributes: %s", strerror(-ret));
	}
	for (i = 0; i < VRES_PAGES; i++) {
		/* A page in each of VRES_PAGES granules with no vmemmap. */
		off = i * GRANULE + (i + 1) * PAGE_SZ;
		ret = set_attrs(f->fd, off, PAGE_SZ, SHARED, PRESERVE, NULL);
		done[i] = !ret;
		EXPECT_EQ(0, ret) {
			TH_LOG("conversion %d (%#llx) with the allocator out",
			       i, off);
		}
	}
	/* Nothing asked the allocator, so nothing was failed. */
	EXPECT_EQ(0, fpa_failures());
	fpa_disarm();

	if (is_tracked(f)) {
		ksft_print_msg("reserve: %ld pages taken, %ld allocated\n",
			       vm_event("reserve_pages") - taken0,
			       vm_event("reserve_misses") - miss0);
		ksft_print_msg("reserve: %ld tables copied, %ld TLB flushes\n",
			       vm_event("pte_tables_copied") - copied0,
			       vm_event("tlb_flushes") - flush0);
		/* One flush per conversion, a table copy included. */
		EXPECT_EQ(flush0 + VRES_PAGES, vm_event("tlb_flushes"));
		/* The pages, and the tables copied, from the reserve. */
		EXPECT_EQ(taken0 + VRES_PAGES + vm_event("pte_tables_copied") -
			  copied0, vm_event("reserve_pages"));
		EXPECT_EQ(miss0, vm_event("reserve_misses"));
		EXPECT_EQ(vm0 + VRES_PAGES * (long)PAGE_SZ,
			  sysfs_long(f->design, "vmemmap_bytes"));
	} else {
		EXPECT_EQ(taken0, vm_event("reserve_pages"));
		EXPECT_EQ(miss0, vm_event("reserve_misses"));
	}
	/* Shared, zero as the file started, and writable. */
	for (i = 0; i < VRES_PAGES; i++) {
		off = i * GRANULE + (i + 1) * PAGE_SZ;
		if (!done[i])
			continue;
		EXPECT_TRUE(page_zero(f, off));
		EXPECT_EQ(-1, fill_range(f, off, PAGE_SZ, 40 + i));
		EXPECT_EQ(-1, check_range(f, off, PAGE_SZ, 40 + i));
	}

	if (is_tracked(f)) {
		/* No reserve and no allocator: ENOMEM, nothing changed. */
		ASSERT_EQ(0, top_knob_write("vmemmap_reserve_pages", 0));
		ASSERT_TRUE(vres_wait(false, 0));
		shared0 = sysfs_long(f->design, "shared_bytes");
		vm0 = sysfs_long(f->design, "vmemmap_bytes");
		off = VRES_PAGES * GRANULE + PAGE_SZ;
		ASSERT_EQ(0, fpa_arm());
		EXPECT_EQ(-ENOMEM, set_attrs(f->fd, off, PAGE_SZ, SHARED,
					     PRESERVE, NULL));
		/* The rebuild asked, and was failed. */
		EXPECT_LT(0, fpa_failures());
		fpa_disarm();
		EXPECT_EQ(shared0, sysfs_long(f->design, "shared_bytes"));
		EXPECT_EQ(vm0, sysfs_long(f->design, "vmemmap_bytes"));
		EXPECT_EQ(-1, check_private(f, off, PAGE_SZ, false));
		/* And with the allocator back, it converts. */
		EXPECT_EQ(0, set_attrs(f->fd, off, PAGE_SZ, SHARED, PRESERVE,
				       NULL));
		EXPECT_LT(miss0, vm_event("reserve_misses"));

		/*
		 * One page in the reserve, two granules to rebuild: the
		 * conversion takes the page, finds no second one and gives
		 * the first back, counted nowhere else.
		 */
		ASSERT_EQ(0, top_knob_write("vmemmap_reserve_pages", 1));
		ASSERT_TRUE(vres_wait(false, PAGE_SZ));
		off = (VRES_PAGES + 2) * GRANULE - PAGE_SZ;
		memmap0 = memmap_pages();
		shared0 = sysfs_long(f->design, "shared_bytes");
		ASSERT_EQ(0, fpa_arm());
		EXPECT_EQ(-ENOMEM, set_attrs(f->fd, off, 2 * PAGE_SZ, SHARED,
					     PRESERVE, NULL));
		EXPECT_LT(0, fpa_failures());
		fpa_disarm();
		EXPECT_TRUE(vres_wait(false, PAGE_SZ));
		EXPECT_EQ(memmap0, memmap_pages());
		EXPECT_EQ(shared0, sysfs_long(f->design, "shared_bytes"));
		EXPECT_EQ(-1, check_private(f, off, 2 * PAGE_SZ, false));
	}
	vres_restore();
	ASSERT_EQ(0, set_attrs(f->fd, 0, f->size, PRIVATE, PRESERVE, NULL));
}

/*
 * A conversion to shared over many runs of granules (the tracked design
 * rebuilds each chunk's granules as a run) flushes the kernel TLB once,
 * plus once for each run that had to copy a vmemmap PMD's shared PTE
 * table: the whole file, two 2 MiB chunks or eight 128 MiB runs of a
 * 1 GiB one. The other designs flush nothing.
 */
TEST_F_TIMEOUT(gmem, rebuild_flush, TMO)
{
	struct gfile *f = &self->f;
	long flush0, copied0, flushes, copied;

	ASSERT_LE(0, gmem_deferred_settle());
	flush0 = vm_event("tlb_flushes");
	copied0 = vm_event("pte_tables_copied");
	ASSERT_EQ(0, set_attrs(f->fd, 0, f->size, SHARED, PRESERVE, NULL));
	flushes = vm_event("tlb_flushes") - flush0;
	copied = vm_event("pte_tables_copied") - copied0;
	ksft_print_msg("whole file to shared: %ld TLB flushes, %ld tables copied\n",
		       flushes, copied);
	if (is_tracked(f)) {
		EXPECT_LE(1, flushes);
		EXPECT_GE(copied + 1, flushes);
	} else {
		EXPECT_EQ(0, flushes);
	}
	EXPECT_EQ(-1, fill_range(f, 0, f->size, 61));
	EXPECT_EQ(-1, check_range(f, 0, f->size, 61));
	ASSERT_EQ(0, set_attrs(f->fd, 0, f->size, PRIVATE, PRESERVE, NULL));
}

/*
 * 200 file lives give back everything: pool, vmemmap exactly, free memory
 * and slab within the tolerances above, measured after cycles that warm
 * the caches up. A kernel with lockdep (the check kernel) or KASAN and
 * DEBUG_PAGEALLOC (the debug kernel) allocating, zeroing and freeing
 * 1 GiB chunks does not get through 200 in reasonable time: the test stops
 * after LEAK_SECS with at least a minimum done (20, or 5 of 1 GiB after 3
 * to warm up: 30 of those took longer than TMO on the debug kernel), or
 * when the small guest has no free 1 GiB block left, and says how many.
 * The check kernel does about 110 lives of 1 GiB in that time: a page
 * lost per life shows as 440 KiB, above the tolerances, and a 1 GiB life
 * exercises the same code as a 2 MiB one, 200 of which run in full.
 */
#define LEAK_SECS	40
TEST_F_TIMEOUT(gmem, leak_cycles, 3 * TMO)
{
	struct gfile *f = &self->f;
	bool big = f->chunk == SZ_1G;
	__u64 size = big ? SZ_1G : SZ_4M, seed = next_seed();
	int i, cycles = 200, warm = big ? 3 : 10, least = big ? 5 : 20;
	struct leak_snap pre, base, now;
	struct timespec t0, t;
	struct counters c;

	/* The fixture's file would hold the 1 GiB block a cycle needs. */
	drop_file(f);
	if (f->design)
		wait_counters(f, &f->before, false, &c);
	leak_read(&pre);
	for (i = 0; i < warm; i++)
		if (leak_cycle(_metadata, f, size, seed + i) == -ENOMEM)
			SKIP(return, "no free 1 GiB chunk");
	ASSERT_FALSE(_metadata->exit_code);
	ASSERT_TRUE(leak_back(&pre, &base, true));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < cycles; i++) {
		if (leak_cycle(_metadata, f, size, seed + i) == -ENOMEM) {
			ksft_print_msg("no free 1 GiB block after %d cycles\n",
				       i);
			cycles = i;
			break;
		}
		ASSERT_FALSE(_metadata->exit_code);
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (i + 1 >= least && t.tv_sec - t0.tv_sec > LEAK_SECS) {
			cycles = i + 1;
			break;
		}
	}
	EXPECT_TRUE(leak_back(&base, &now, false));
	leak_print(cycles, "cycles", &base, &now);
	ksft_print_msg("reliability: leak_cycles %d\n", cycles);
}

/*
 * A file's memory is charged to the memory cgroup of the task that
 * creates it, as upstream charges guest_memfd folios: allocation fails
 * with ENOMEM at memory.max, memory.current follows the file's memory,
 * and closing the file gives the charge back.
 */
#define CG_ROOT		"/sys/fs/cgroup"

static long cg_read(const char *cg, const char *file)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", cg, file);
	return read_long(path);
}

static int cg_write(const char *cg, const char *file, const char *val)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", cg, file);
	return write_file(path, val);
}

/* A count of the cgroup's memory.events, e.g. "oom"; -1 if not found. */
static long cg_event(const char *cg, const char *name)
{
	char path[256], key[64];
	long val, ret = -1;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/memory.events", cg);
	fp = fopen(path, "r");
	if (!fp)
		return -1;
	while (fscanf(fp, "%63s %ld", key, &val) == 2) {
		if (!strcmp(key, name)) {
			ret = val;
			break;
		}
	}
	fclose(fp);
	return ret;
}

TEST_F_TIMEOUT(gmem, memcg_limit, TMO)
{
	struct gfile *f = &self->f;
	bool big = f->chunk == SZ_1G;
	/* Within the limit: @ok bytes; beyond it: @size. */
	__u64 size = big ? SZ_1G : 64 * SZ_1M, ok = big ? 0 : 8 * SZ_1M;
	long limit = big ? 512 * SZ_1M : 16 * SZ_1M, cur0, cur, fd_cur;
	char cg[64], buf[32];
	int fd, ret, i;

	if (access(CG_ROOT "/cgroup.subtree_control", W_OK))
		SKIP(return, "no cgroup v2 at " CG_ROOT);
	/* Only one 1 GiB chunk at a time: drop the fixture's file. */
	drop_file(f);

	snprintf(cg, sizeof(cg), CG_ROOT "/gmem_test_%d", getpid());
	ASSERT_EQ(0, cg_write(CG_ROOT, "cgroup.subtree_control", "+memory"));
	ASSERT_EQ(0, mkdir(cg, 0755));
	snprintf(buf, sizeof(buf), "%ld", limit);
	ASSERT_EQ(0, cg_write(cg, "memory.max", buf));
	snprintf(buf, sizeof(buf), "%d", getpid());
	ASSERT_EQ(0, cg_write(cg, "cgroup.procs", buf));

	cur0 = cg_read(cg, "memory.current");
	fd = create_gmem(f->vm_fd, size, f->flags);
	EXPECT_LE(0, fd);
	/*
	 * Beyond the limit: ENOMEM, within it. Not for the upstream file:
	 * its 4 KiB folios are charged like page cache, for which the
	 * cgroup's OOM killer acts first.
	 */
	if (fd >= 0 && f->design) {
		ret = falloc(fd, FALLOC_FL_KEEP_SIZE, 0, size);
		EXPECT_EQ(-ENOMEM, ret);
		cur = cg_read(cg, "memory.current");
		ksft_print_msg("%s: %llu MiB in %ld MiB: %s, %+ld KiB charged\n",
			       f->design, size >> 20, limit >> 20,
			       ret ? strerror(-ret) : "done", (cur - cur0) >> 10);
		EXPECT_GE(limit, cur);
	}
	if (fd >= 0) {
		if (ok) {
			/* Within it: charged, as much as the memory. */
			EXPECT_EQ(0, falloc(fd, FALLOC_FL_PUNCH_HOLE |
					    FALLOC_FL_KEEP_SIZE, 0, size));
			EXPECT_EQ(0, falloc(fd, FALLOC_FL_KEEP_SIZE, 0, ok));
			fd_cur = cg_read(cg, "memory.current") - cur0;
			EXPECT_LE((long)ok, fd_cur);
			EXPECT_GE((long)ok + 4 * (long)SZ_1M, fd_cur);
		}
		close(fd);
		/* Closed: given back (after an RCU grace period). */
		for (i = 0; i < 200; i++) {
			cur = cg_read(cg, "memory.current");
			if (cur - cur0 < 1024 * 1024)
				break;
			usleep(10000);
		}
		EXPECT_GT(1024 * 1024, cur - cur0);
	}

	snprintf(buf, sizeof(buf), "%d", getpid());
	EXPECT_EQ(0, cg_write(CG_ROOT, "cgroup.procs", buf));
	EXPECT_EQ(0, rmdir(cg));
	ksft_print_msg("reliability: memcg_cases 1\n");
}

/*
 * The vmemmap of granules waiting for deferred depopulation stays charged
 * to the file's cgroup until it is removed. At memory.max, a conversion
 * to shared that needs vmemmap gives the waiting vmemmap back first and
 * then succeeds: a guest sharing a buffer must not get ENOMEM for memory
 * that would have been freed a moment later. 64 MiB of memory has 1 MiB
 * of vmemmap: with an eighth of it left below the limit, what the two
 * CPUs' charge stocks may hold (64 pages each) does not make up the rest,
 * so the limit is really reached. The other designs keep their struct pages: nothing
 * waits, and their conversions charge nothing.
 */
TEST_F_TIMEOUT(gmem, memcg_deferred, TMO)
{
	struct gfile *f = &self->f;
	__u64 size = f->chunk == SZ_1G ? SZ_1G : 128 * SZ_1M;
	__u64 part = 64 * SZ_1M;
	long need = part / GRANULE * PAGE_SZ, cur = 0, max = 0, oom;
	char cg[64], buf[32];
	int fd, ret, try;

	if (!is_tracked(f)) {
		ASSERT_EQ(0, set_attrs(f->fd, 0, f->chunk, SHARED, PRESERVE,
				       NULL));
		ASSERT_EQ(0, set_attrs(f->fd, 0, f->chunk, PRIVATE, PRESERVE,
				       NULL));
		EXPECT_EQ(0, sysfs_long("tracked", "deferred_bytes"));
		return;
	}
	if (access(CG_ROOT "/cgroup.subtree_control", W_OK))
		SKIP(return, "no cgroup v2 at " CG_ROOT);
	/* A 1 GiB file needs the fixture's chunk. */
	drop_file(f);
	deferred_saved_limit = sysfs_long(NULL, "deferred_limit_bytes");
	deferred_saved_delay = sysfs_long(NULL, "deferred_delay_ms");
	/* An hour: nothing but the reclaim below takes the vmemmap. */
	ASSERT_EQ(0, top_knob_write("deferred_delay_ms", 3600000));
	ASSERT_EQ(0, top_knob_write("deferred_limit_bytes", SZ_1G));
	ASSERT_LE(0, gmem_deferred_settle());

	snprintf(cg, sizeof(cg), CG_ROOT "/gmem_test_%d", getpid());
	ASSERT_EQ(0, cg_write(CG_ROOT, "cgroup.subtree_control", "+memory"));
	ASSERT_EQ(0, mkdir(cg, 0755));
	snprintf(buf, sizeof(buf), "%d", getpid());
	EXPECT_EQ(0, cg_write(cg, "cgroup.procs", buf));

	fd = create_gmem(f->vm_fd, size, f->flags);
	EXPECT_LE(0, fd);
	ret = fd < 0 ? fd : falloc(fd, FALLOC_FL_KEEP_SIZE, 0, size);
	EXPECT_EQ(0, ret);
	/*
	 * Memory pressure elsewhere (the shrinker) may take the waiting
	 * vmemmap before the limit is set: set it up again then.
	 */
	for (try = 0; !ret && try < 3; try++) {
		EXPECT_EQ(0, cg_write(cg, "memory.max", "max"));
		ret = set_attrs(fd, 0, part, SHARED, PRESERVE, NULL);
		if (!ret)
			ret = set_attrs(fd, 0, part, PRIVATE, PRESERVE, NULL);
		EXPECT_EQ(0, ret);
		/* An eighth of what the next conversion needs is left. */
		cur = cg_read(cg, "memory.current");
		max = cur + need / 8;
		snprintf(buf, sizeof(buf), "%ld", max);
		EXPECT_EQ(0, cg_write(cg, "memory.max", buf));
		if (sysfs_long("tracked", "deferred_bytes") == need)
			break;
	}
	EXPECT_EQ(need, sysfs_long("tracked", "deferred_bytes"));
	if (!ret && !_metadata->exit_code) {
		oom = cg_event(cg, "oom");
		ret = set_attrs(fd, part, part, SHARED, PRESERVE, NULL);
		ksft_print_msg("%s: %ld KiB waiting and needed, %ld KiB under memory.max: %s\n",
			       f->design, need >> 10, (max - cur) >> 10,
			       ret ? strerror(-ret) : "done");
		EXPECT_EQ(0, ret);
		EXPECT_EQ(0, sysfs_long("tracked", "deferred_bytes"));
		EXPECT_GE(max, cg_read(cg, "memory.current"));
		/* Given back, not taken by the cgroup's OOM killer. */
		EXPECT_EQ(oom, cg_event(cg, "oom"));
	}
	EXPECT_EQ(0, cg_write(cg, "memory.max", "max"));
	if (fd >= 0)
		close(fd);
	snprintf(buf, sizeof(buf), "%d", getpid());
	EXPECT_EQ(0, cg_write(CG_ROOT, "cgroup.procs", buf));
	EXPECT_EQ(0, rmdir(cg));
	deferred_restore();
	ksft_print_msg("reliability: memcg_cases 1\n");
}

/*
 * A page referenced when its file is closed (by a pipe, as vmsplice()
 * leaves it; a GUP pin is the same) keeps its chunk only as long as the
 * reference: share a page, reference it, close the file, then drop the
 * reference, PIN_CYCLES times. While the reference is held the chunk is
 * counted in closed_bytes; afterwards the chunks, the vmemmap, the free
 * memory and the slab are where they were.
 */
#define PIN_CYCLES	100

/*
 * closed_bytes once it reads 0, or after 5 s. The counter drops after the
 * chunk went back, so free memory may be back a moment before it.
 */
static long closed_settled(struct gfile *f)
{
	long closed = 0;
	int i;

	for (i = 0; i < 500; i++) {
		closed = sysfs_long(f->design, "closed_bytes");
		if (!closed)
			break;
		usleep(10000);
	}
	return closed;
}

static void pin_cycle(struct __test_metadata *_metadata, struct gfile *f,
		      __u64 size, __u64 seed, bool check_closed)
{
	__u64 off = size - PAGE_SZ;
	struct iovec iov;
	char buf[PAGE_SZ];
	long closed = 0;
	int fd, p[2], i;
	char *mem;

	/* The chunk of the cycle before may not have been retried yet. */
	if (check_closed && f->design)
		closed_settled(f);

	fd = create_gmem(f->vm_fd, size, f->flags);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, falloc(fd, FALLOC_FL_KEEP_SIZE, 0, size));
	ASSERT_EQ(0, set_attrs(fd, off, PAGE_SZ, SHARED, PRESERVE, NULL));
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, mem);
	STORE((__u64 *)(mem + off), seed);
	ASSERT_EQ(0, pipe(p));
	iov.iov_base = mem + off;
	iov.iov_len = PAGE_SZ;
	ASSERT_EQ((ssize_t)PAGE_SZ, vmsplice(p[1], &iov, 1, 0));
	ASSERT_EQ(0, munmap(mem, size));
	ASSERT_EQ(0, close(fd));

	/* The file is gone (after an RCU grace period); its chunk is not. */
	for (i = 0; check_closed && f->design && i < 200; i++) {
		closed = sysfs_long(f->design, "closed_bytes");
		if (closed >= (long)f->chunk)
			break;
		usleep(10000);
	}
	if (check_closed && f->design)
		EXPECT_EQ((long)f->chunk, closed);

	/* The pipe still reads what was written. */
	ASSERT_EQ((ssize_t)PAGE_SZ, read(p[0], buf, PAGE_SZ));
	ASSERT_EQ(seed, *(__u64 *)buf);
	close(p[0]);
	close(p[1]);
}

TEST_F_TIMEOUT(gmem, pin_outlives_file, TMO)
{
	struct gfile *f = &self->f;
	bool big = f->chunk == SZ_1G;
	__u64 size = big ? SZ_1G : SZ_2M, seed = next_seed();
	int cycles = big ? 2 : PIN_CYCLES, i;
	struct leak_snap pre, base, now;
	struct counters c;

	/* The fixture's file would hold the 1 GiB block a cycle needs. */
	drop_file(f);
	if (f->design)
		wait_counters(f, &f->before, false, &c);
	leak_read(&pre);
	pin_cycle(_metadata, f, size, seed, false);
	ASSERT_FALSE(_metadata->exit_code);
	ASSERT_TRUE(leak_back(&pre, &base, true));
	for (i = 0; i < cycles; i++) {
		pin_cycle(_metadata, f, size, seed + i, i < 3);
		ASSERT_FALSE(_metadata->exit_code);
	}
	EXPECT_TRUE(leak_back(&base, &now, false));
	leak_print(cycles, "closed", &base, &now);
	if (f->design)
		EXPECT_EQ(0, closed_settled(f));
	ksft_print_msg("reliability: isolation_cases %d\n", cycles);
}

/*
 * First faults racing in one unfilled chunk of shared memory: the chunk is
 * punched out (its attributes stay shared), then FF_THREADS threads fault
 * distinct pages of it at once. Every fault must find the page shared and
 * zero: a chunk may be seen only in its final state, never as the private
 * memory it is for a moment while it is being filled.
 */
#define FF_THREADS	8

struct ff_ctx {
	struct gfile *f;
	pthread_barrier_t start, end;
	__u64 unit;		/* bytes punched and faulted in a round */
	__u64 chunk_off;	/* where, this round */
	int stop;
	long failed;		/* faults that failed (EFAULT: SIGBUS) */
	long nonzero;		/* pages that did not read as zeroes */
};

struct ff_thread {
	struct ff_ctx *ctx;
	int nr;
};

static void *ff_worker(void *arg)
{
	struct ff_thread *t = arg;
	struct ff_ctx *c = t->ctx;
	__u64 off, *p;

	for (;;) {
		pthread_barrier_wait(&c->start);
		if (__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE))
			return NULL;
		/* Distinct pages, spread over the chunk. */
		off = c->chunk_off + t->nr * (c->unit / FF_THREADS);
		p = (__u64 *)(c->f->mem + off);
		if (madvise(p, PAGE_SZ, MADV_POPULATE_WRITE))
			__atomic_add_fetch(&c->failed, 1, __ATOMIC_RELAXED);
		else if (LOAD(p) || LOAD(&p[WORDS - 1]))
			__atomic_add_fetch(&c->nonzero, 1, __ATOMIC_RELAXED);
		pthread_barrier_wait(&c->end);
	}
}

TEST_F_TIMEOUT(gmem, first_fault_race, TMO)
{
	struct gfile *f = &self->f;
	bool big = f->chunk == SZ_1G;
	/* The upstream file has no chunks: 2 MiB of its 4 KiB folios. */
	__u64 unit = f->chunk < SZ_2M ? SZ_2M : f->chunk;
	int rounds = big ? 6 : 256, i, nr_units = f->size / unit;
	struct ff_thread th[FF_THREADS];
	pthread_t tid[FF_THREADS];
	struct ff_ctx c = { .f = f, .unit = unit };
	int ret;

	ASSERT_EQ(0, set_attrs(f->fd, 0, f->size, SHARED, PRESERVE, NULL));
	ASSERT_EQ(0, pthread_barrier_init(&c.start, NULL, FF_THREADS + 1));
	ASSERT_EQ(0, pthread_barrier_init(&c.end, NULL, FF_THREADS + 1));
	for (i = 0; i < FF_THREADS; i++) {
		th[i].ctx = &c;
		th[i].nr = i;
		ASSERT_EQ(0, pthread_create(&tid[i], NULL, ff_worker, &th[i]));
	}

	for (i = 0; i < rounds; i++) {
		c.chunk_off = (i % nr_units) * unit;
		ret = falloc(f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			     c.chunk_off, unit);
		if (ret) {
			EXPECT_EQ(0, ret);
			break;
		}
		pthread_barrier_wait(&c.start);
		pthread_barrier_wait(&c.end);
	}
	__atomic_store_n(&c.stop, 1, __ATOMIC_RELEASE);
	pthread_barrier_wait(&c.start);
	for (i = 0; i < FF_THREADS; i++)
		pthread_join(tid[i], NULL);
	pthread_barrier_destroy(&c.start);
	pthread_barrier_destroy(&c.end);

	ksft_print_msg("%d rounds of %d first faults in one chunk: %ld failed, %ld not zero\n",
		       rounds, FF_THREADS, c.failed, c.nonzero);
	ksft_print_msg("reliability: isolation_cases %d\n", rounds);
	EXPECT_EQ(0, c.failed);
	EXPECT_EQ(0, c.nonzero);
	/* The file is whole and shared again. */
	EXPECT_EQ(-1, check_range(f, 0, PAGE_SZ, 0));
	if (f->design) {
		struct counters now;

		read_counters(f, &now);
		EXPECT_EQ(f->size / (long)f->chunk,
			  now.chunks - f->before.chunks);
		EXPECT_EQ((long)f->size, now.shared_b - f->before.shared_b);
	}
}

/*
 * A conversion of a huge, sparse file does work for the memory it holds,
 * not for its size: 1 PiB with one chunk converts both ways in well under
 * SPARSE_SECS, and while it runs another file's creation and a read of the
 * sysfs counters each take under a second (no global lock waits behind
 * it). If it does not finish in time, it must die of SIGKILL. Both run in
 * processes of their own, so that the test reports whatever they do.
 */
#define SPARSE_SIZE	(SZ_1G * SZ_1M)
#define SPARSE_SECS	10

/* Shared with the bystander process, read and written with atomics. */
struct sparse_ctx {
	int stop;
	long op_start;		/* when the operation in flight began, ns */
	long worst;		/* slowest creation or sysfs read, ns */
	long rounds;
};

static long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static double now_secs(void)
{
	return now_ns() / 1e9;
}

#define SET(p, v)	__atomic_store_n((p), (v), __ATOMIC_SEQ_CST)
#define GET(p)		__atomic_load_n((p), __ATOMIC_SEQ_CST)

/*
 * A child that may be stuck in the kernel must not hold the test's output
 * open: whoever reads it would wait for it too.
 */
static void sparse_child_quiet(void)
{
	int fd = open("/dev/null", O_WRONLY);

	if (fd >= 0) {
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		close(fd);
	}
}

static void sparse_bystander(struct gfile *f, struct sparse_ctx *c)
{
	long d;
	int fd;

	sparse_child_quiet();
	while (!GET(&c->stop)) {
		SET(&c->op_start, now_ns());
		/* gmem_track files register their owner globally. */
		fd = create_gmem(f->vm_fd, SZ_2M,
				 f->flags & ~GUEST_MEMFD_FLAG_HUGE_1G);
		if (fd >= 0)
			close(fd);
		if (f->design)
			sysfs_long(f->design, "ranges");
		d = now_ns() - GET(&c->op_start);
		SET(&c->op_start, 0);
		if (d > GET(&c->worst))
			SET(&c->worst, d);
		SET(&c->rounds, GET(&c->rounds) + 1);
		usleep(10000);
	}
	_exit(0);
}

/*
 * In a child: convert all of @fd both ways, keeping the content one way
 * and zeroing it the other; exit 0 or the errno.
 */
static void sparse_convert_child(int fd)
{
	int ret;

	sparse_child_quiet();
	ret = set_attrs(fd, 0, SPARSE_SIZE, SHARED, PRESERVE, NULL);
	if (!ret)
		ret = set_attrs(fd, 0, SPARSE_SIZE, PRIVATE, ZERO, NULL);
	_exit(ret ? -ret : 0);
}

/* Wait up to @secs for @pid; returns waitpid()'s answer (0: still there). */
static pid_t wait_secs(pid_t pid, int *status, double secs)
{
	double t0 = now_secs();
	pid_t w;

	do {
		w = waitpid(pid, status, WNOHANG);
		if (w)
			return w;
		usleep(10000);
	} while (now_secs() - t0 < secs);
	return 0;
}

TEST_F_TIMEOUT(gmem, huge_sparse_convert, TMO)
{
	struct gfile *f = &self->f;
	struct sparse_ctx *c;
	int fd, status = -1, bstatus, ret;
	double t0, took, stuck = 0, worst;
	pid_t pid, bpid, w;

	/* Only one 1 GiB chunk at a time: drop the fixture's file. */
	drop_file(f);

	c = mmap(NULL, sizeof(*c), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, c);
	memset(c, 0, sizeof(*c));
	fd = create_gmem(f->vm_fd, SPARSE_SIZE, f->flags);
	ASSERT_LE(0, fd);
	ret = falloc(fd, FALLOC_FL_KEEP_SIZE, SPARSE_SIZE / 2, f->chunk);
	if (ret == -ENOMEM && f->chunk == SZ_1G) {
		close(fd);
		SKIP(return, "no free 1 GiB chunk");
	}
	ASSERT_EQ(0, ret);

	bpid = fork();
	ASSERT_LE(0, bpid);
	if (!bpid)
		sparse_bystander(f, c);
	t0 = now_secs();
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		sparse_convert_child(fd);
	w = wait_secs(pid, &status, SPARSE_SECS);
	took = now_secs() - t0;
	if (!w) {
		ksft_print_msg("converting 1 PiB still runs after %.1f s: SIGKILL\n",
			       took);
		kill(pid, SIGKILL);
		w = wait_secs(pid, &status, SPARSE_SECS);
		if (!w)
			ksft_print_msg("and ignored SIGKILL for %d s\n",
				       SPARSE_SECS);
	}

	/* The bystander: how long its operation in flight has waited. */
	SET(&c->stop, 1);
	if (!wait_secs(bpid, &bstatus, 2)) {
		kill(bpid, SIGKILL);
		if (GET(&c->op_start))
			stuck = (now_ns() - GET(&c->op_start)) / 1e9;
	}
	worst = GET(&c->worst) / 1e9;
	close(fd);

	ksft_print_msg("1 PiB, one chunk, both ways: %.3f s; %ld other calls, slowest %.3f s\n",
		       took, GET(&c->rounds), worst > stuck ? worst : stuck);
	EXPECT_TRUE(w > 0 && WIFEXITED(status) && !WEXITSTATUS(status)) {
		ksft_print_msg("conversion child: %s %d\n",
			       w > 0 && WIFEXITED(status) ? "exit" : "status",
			       w > 0 && WIFEXITED(status) ?
			       WEXITSTATUS(status) : status);
	}
	EXPECT_GT(1.0, worst);
	EXPECT_GT(1.0, stuck);
	munmap(c, sizeof(*c));
	ksft_print_msg("reliability: isolation_cases 1\n");
}

/*
 * A conversion is killable: SIGKILL during a long conversion of a whole
 * 1 GiB file ends it early with the file as it was (all or nothing, the
 * counters too), and the process goes. Each direction is timed first;
 * then a child converts the file and is killed an eighth of the way
 * through. A fatal signal is looked for where the conversion can still be
 * undone: to shared, between the runs of vmemmap the tracked design
 * rebuilds; to private, while the shared pages are frozen. Where that is
 * not where the time goes, the state must only be whole: a direction
 * that takes under KILL_MIN_MS (the struct-page design's conversion to
 * shared only changes the descriptor), and the tracked design's
 * conversion to private, whose time goes mostly to removing the vmemmap
 * after the descriptor changed, which runs to its end.
 */
#define KILL_SIZE	SZ_1G
#define KILL_MIN_MS	40
/* The kill comes after 1/KILL_AT of the conversion's time. */
#define KILL_AT		8
#define KILL_PROBES	512

/* Sampled pages of @mem (one per KILL_SIZE / KILL_PROBES) that are shared. */
static int shared_probes(char *mem)
{
	int i, n = 0;

	for (i = 0; i < KILL_PROBES; i++)
		n += probe(mem, i * (KILL_SIZE / KILL_PROBES), false) == PG_OK;
	return n;
}

static void kill_child(int fd, int go, __u64 to)
{
	int ret;

	sparse_child_quiet();
	if (write(go, "x", 1) != 1)
		_exit(100);
	ret = set_attrs(fd, 0, KILL_SIZE, to, PRESERVE, NULL);
	_exit(ret ? -ret : 0);
}

TEST_F_TIMEOUT(gmem, killed_conversion, TMO)
{
	struct gfile *f = &self->f;
	struct counters c0, c1;
	int fd, i, p[2], status, n;
	double t0, took, dt;
	char *mem, x;
	pid_t pid, w;

	if (!f->design)
		SKIP(return, "upstream file: its conversions do no work per page");
	/* Only one 1 GiB chunk at a time: drop the fixture's file. */
	drop_file(f);
	fd = create_gmem(f->vm_fd, KILL_SIZE, f->flags);
	ASSERT_LE(0, fd);
	n = falloc(fd, FALLOC_FL_KEEP_SIZE, 0, KILL_SIZE);
	if (n == -ENOMEM && f->chunk == SZ_1G) {
		close(fd);
		SKIP(return, "no free 1 GiB chunk");
	}
	ASSERT_EQ(0, n);
	mem = mmap(NULL, KILL_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, mem);

	for (i = 0; i < 2; i++) {
		__u64 to = i ? PRIVATE : SHARED, from = i ? SHARED : PRIVATE;
		const char *dir = i ? "to private" : "to shared";

		/*
		 * The file is all @from: time the way there, twice (and
		 * back). The shorter time counts: the first conversion may
		 * pay for what the second does not.
		 */
		took = 1e9;
		for (n = 0; n < 2; n++) {
			t0 = now_secs();
			ASSERT_EQ(0, set_attrs(fd, 0, KILL_SIZE, to, PRESERVE,
					       NULL));
			if (now_secs() - t0 < took)
				took = now_secs() - t0;
			ASSERT_EQ(0, set_attrs(fd, 0, KILL_SIZE, from, PRESERVE,
					       NULL));
		}
		read_counters(f, &c0);

		ASSERT_EQ(0, pipe(p));
		pid = fork();
		ASSERT_LE(0, pid);
		if (!pid) {
			close(p[0]);
			kill_child(fd, p[1], to);
		}
		close(p[1]);
		ASSERT_EQ(1, read(p[0], &x, 1));
		close(p[0]);
		usleep(took * 1e6 / KILL_AT);
		kill(pid, SIGKILL);
		t0 = now_secs();
		w = wait_secs(pid, &status, 30);
		dt = now_secs() - t0;
		ASSERT_LT(0, w) {
			kill(pid, SIGKILL);
			ksft_print_msg("%s: the child outlived SIGKILL by 30 s\n",
				       dir);
		}

		/* All or nothing, the counters with the pages. */
		n = shared_probes(mem);
		read_counters(f, &c1);
		ksft_print_msg("%s, %s: %.0f ms; killed after %.0f ms\n",
			       f->design, dir, took * 1e3, took * 1e3 / KILL_AT);
		ksft_print_msg("gone %.0f ms later, %s; %d of %d probes shared\n",
			       dt * 1e3,
			       WIFSIGNALED(status) ? "killed" : "exited",
			       n, KILL_PROBES);
		EXPECT_TRUE(n == 0 || n == KILL_PROBES);
		if (took * 1e3 >= KILL_MIN_MS &&
		    !(is_tracked(f) && to == PRIVATE)) {
			/* Interrupted, so the file is as it was. */
			EXPECT_TRUE(WIFSIGNALED(status));
			EXPECT_EQ(from == SHARED ? KILL_PROBES : 0, n)
				ksft_print_msg("%s: ran to its end through SIGKILL\n",
					       dir);
			EXPECT_EQ(c0.shared_b, c1.shared_b);
			EXPECT_EQ(c0.private_b, c1.private_b);
			EXPECT_EQ(c0.vmemmap_b, c1.vmemmap_b);
		}
		/* Start the next direction from @to. */
		if (n != (to == SHARED ? KILL_PROBES : 0))
			ASSERT_EQ(0, set_attrs(fd, 0, KILL_SIZE, to, PRESERVE,
					       NULL));
	}
	munmap(mem, KILL_SIZE);
	close(fd);
	ksft_print_msg("reliability: isolation_cases 1\n");
}

/*
 * Give @f a new file of its size and flags plus INIT_SHARED, mapped. A 1 GiB
 * file is allocated first: its faults cannot fail softly for want of a
 * chunk. Returns 0, -ENOMEM when no 1 GiB chunk is free, or another
 * -errno.
 */
static int open_init_shared(struct gfile *f)
{
	int ret;

	f->fd = create_gmem(f->vm_fd, f->size,
			    f->flags | GUEST_MEMFD_FLAG_INIT_SHARED);
	if (f->fd < 0)
		return f->fd;
	if (f->chunk == SZ_1G) {
		ret = falloc(f->fd, FALLOC_FL_KEEP_SIZE, 0, f->size);
		if (ret)
			return ret;
	}
	f->mem = mmap(NULL, f->size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      f->fd, 0);
	return f->mem == MAP_FAILED ? -errno : 0;
}

/* A VM without private memory of its own (KVM_X86_DEFAULT_VM) too. */
TEST_F_TIMEOUT(gmem, default_vm, TMO)
{
	struct gfile *f = &self->f;
	__u64 seed = next_seed();
	int caps, ret;

	/* Only one 1 GiB file at a time: drop the fixture's file first. */
	drop_file(f);
	close(f->vm_fd);
	f->vm_fd = ioctl(f->kvm_fd, KVM_CREATE_VM, KVM_X86_DEFAULT_VM);
	ASSERT_LE(0, f->vm_fd);

	caps = gmem_flags_cap(f->vm_fd);
	if (caps < 0 || (caps & f->flags) != f->flags)
		SKIP(return, "flags %#llx not supported on a default VM (%#x)",
		     f->flags, caps);
	f->fd = create_gmem(f->vm_fd, f->size, f->flags);
	ASSERT_LE(0, f->fd);
	ret = falloc(f->fd, FALLOC_FL_KEEP_SIZE, 0, f->size);
	if (ret == -ENOMEM && f->chunk == SZ_1G)
		SKIP(return, "no free 1 GiB chunk");
	ASSERT_EQ(0, ret);
	f->mem = mmap(NULL, f->size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      f->fd, 0);
	ASSERT_NE(MAP_FAILED, f->mem);

	/* Without INIT_SHARED the file starts private here too. */
	EXPECT_EQ(-1, check_private(f, 0, f->size, false));

	/*
	 * As upstream's, KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES is 0 on a VM
	 * without private memory; the file converts there all the same, an
	 * extension KVM_CAP_MEMORY_ATTRIBUTES2_FLAGS advertises.
	 */
	EXPECT_EQ(0, check_cap(f->vm_fd, KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES));
	EXPECT_EQ((int)(ZERO | PRESERVE),
		  check_cap(f->vm_fd, KVM_CAP_MEMORY_ATTRIBUTES2_FLAGS));
	if (check_cap(f->vm_fd, KVM_CAP_MEMORY_ATTRIBUTES2_FLAGS) & PRESERVE) {
		ASSERT_EQ(0, set_attrs(f->fd, 0, PAGE_SZ, SHARED, PRESERVE,
				       NULL));
		EXPECT_EQ(-1, check_range(f, 0, PAGE_SZ, 0));
		EXPECT_EQ(-1, fill_range(f, 0, PAGE_SZ, seed));
		ASSERT_EQ(0, set_attrs(f->fd, 0, PAGE_SZ, PRIVATE, PRESERVE,
				       NULL));
		EXPECT_EQ(-1, check_private(f, 0, PAGE_SZ, false));
		ASSERT_EQ(0, set_attrs(f->fd, 0, PAGE_SZ, SHARED, PRESERVE,
				       NULL));
		EXPECT_EQ(-1, check_range(f, 0, PAGE_SZ, seed));
	} else {
		TH_LOG("no guest_memfd attributes on a default VM");
	}

	if (!(caps & GUEST_MEMFD_FLAG_INIT_SHARED))
		return;
	/* With INIT_SHARED it starts shared: a hole faults in as zeroes. */
	drop_file(f);
	ret = open_init_shared(f);
	if (ret == -ENOMEM)
		SKIP(return, "no free 1 GiB chunk (INIT_SHARED)");
	ASSERT_EQ(0, ret);
	EXPECT_EQ(-1, check_range(f, 0, PAGE_SZ, 0));
	EXPECT_EQ(-1, check_range(f, f->size - PAGE_SZ, PAGE_SZ, 0));
}

/*
 * The fixture's VM has private memory (KVM_X86_SW_PROTECTED_VM), and takes
 * GUEST_MEMFD_FLAG_INIT_SHARED with MMAP, as a VMM written for upstream's
 * in-place conversion asks for: the file's attributes start shared.
 */
TEST_F_TIMEOUT(gmem, init_shared, TMO)
{
	struct gfile *f = &self->f;
	/* Across a 2 MiB boundary; inside the chunk of a 1 GiB file. */
	__u64 off = SZ_1M + PAGE_SZ, len = SZ_2M, end = off + len;
	__u64 seed = next_seed();
	struct counters now;
	int caps, ret;

	/* Only one 1 GiB chunk at a time: drop the fixture's file first. */
	drop_file(f);
	if (f->design)
		wait_counters(f, &f->before, false, &now);

	caps = check_cap(f->vm_fd, KVM_CAP_GUEST_MEMFD_FLAGS);
	ASSERT_TRUE(caps > 0 && (caps & GUEST_MEMFD_FLAG_INIT_SHARED)) {
		TH_LOG("KVM_CAP_GUEST_MEMFD_FLAGS %#x lacks INIT_SHARED", caps);
	}
	/* Without MMAP too: every file of the VM converts in place. */
	ret = create_gmem(f->vm_fd, f->size, GUEST_MEMFD_FLAG_INIT_SHARED);
	EXPECT_LE(0, ret);
	if (ret >= 0)
		close(ret);

	ret = open_init_shared(f);
	if (ret == -ENOMEM)
		SKIP(return, "no free 1 GiB chunk");
	ASSERT_EQ(0, ret);

	/* Shared everywhere; the smaller files fault their holes in. */
	ASSERT_EQ(-1, check_range(f, 0, f->size, 0));
	expect_accounting(_metadata, f, f->size, granules(0, f->size),
			  "created shared");

	ASSERT_EQ(-1, fill_range(f, off, len, seed));
	ASSERT_EQ(0, set_attrs(f->fd, off, len, PRIVATE, PRESERVE, NULL));
	EXPECT_EQ(-1, check_private(f, off, len, false));
	EXPECT_EQ(-1, check_range(f, off - PAGE_SZ, PAGE_SZ, 0));
	EXPECT_EQ(-1, check_range(f, end, PAGE_SZ, 0));
	expect_accounting(_metadata, f, f->size - len,
			  granules2(0, off, end, f->size - end), NULL);
	ASSERT_EQ(0, set_attrs(f->fd, off, len, SHARED, PRESERVE, NULL));
	EXPECT_EQ(-1, check_range(f, off, len, seed));

	/* All of it private and back. */
	ASSERT_EQ(0, set_attrs(f->fd, 0, f->size, PRIVATE, PRESERVE, NULL));
	EXPECT_EQ(-1, check_private(f, 0, f->size, true));
	expect_accounting(_metadata, f, 0, 0, NULL);
	ASSERT_EQ(0, set_attrs(f->fd, 0, f->size, SHARED, PRESERVE, NULL));
	EXPECT_EQ(-1, check_range(f, off, len, seed));
	EXPECT_EQ(-1, check_range(f, 0, off, 0));
	EXPECT_EQ(-1, check_range(f, end, PAGE_SZ, 0));
	EXPECT_EQ(-1, check_range(f, f->size - PAGE_SZ, PAGE_SZ, 0));
	expect_accounting(_metadata, f, f->size, granules(0, f->size), NULL);
}

/* ---- the default backend of files that ask for no gmem_track flag ---- */

#define DEFAULT_BACKEND	GMEM_TRACK_SYSFS "/default_backend"

FIXTURE(default_backend) {
	int kvm_fd;
	char saved[64];		/* the knob before the test, to restore */
};

FIXTURE_VARIANT(default_backend) {
	const char *value;
	const char *design;
	__u64 chunk;
};

/* Named as gmem's variants: each runs with that backend's line. */
FIXTURE_VARIANT_ADD(default_backend, struct_page_2m) {
	.value = "structpage-2m", .design = "struct_page", .chunk = SZ_2M,
};

FIXTURE_VARIANT_ADD(default_backend, struct_page_1g) {
	.value = "structpage-1g", .design = "struct_page", .chunk = SZ_1G,
};

FIXTURE_VARIANT_ADD(default_backend, tracked_2m) {
	.value = "tracked-2m", .design = "tracked", .chunk = SZ_2M,
};

FIXTURE_VARIANT_ADD(default_backend, tracked_1g) {
	.value = "tracked-1g", .design = "tracked", .chunk = SZ_1G,
};

FIXTURE_SETUP(default_backend)
{
	self->kvm_fd = -1;
	self->saved[0] = 0;
	ASSERT_EQ(0, install_sigbus_handler());
	if (access(DEFAULT_BACKEND, W_OK))
		SKIP(return, DEFAULT_BACKEND ": %s", strerror(errno));
	self->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (self->kvm_fd < 0)
		SKIP(return, "/dev/kvm: %s", strerror(errno));
	read_line(DEFAULT_BACKEND, self->saved, sizeof(self->saved));
	ASSERT_NE(0, self->saved[0]);
}

/*
 * In the parent, so that the knob is back even when the test dies of a
 * signal: every later test expects upstream files where it asks for
 * them. The test's descriptors went with its process.
 */
FIXTURE_TEARDOWN_PARENT(default_backend)
{
	char now[64];

	if (!self->saved[0])
		return;
	EXPECT_EQ(0, write_file(DEFAULT_BACKEND, self->saved));
	read_line(DEFAULT_BACKEND, now, sizeof(now));
	EXPECT_STREQ(self->saved, now);
}

/* chunks_2M, chunks_1G, private_bytes, shared_bytes of both designs. */
#define DB_DESIGNS	2
#define DB_FILES	4

struct db_counts {
	long v[DB_DESIGNS][DB_FILES];
};

static const char db_designs[DB_DESIGNS][16] = { "tracked",
						 "struct_page" };
static const char db_files[DB_FILES][16] = {
	"chunks_2M", "chunks_1G", "private_bytes", "shared_bytes",
};

static void db_read(struct db_counts *c)
{
	int d, i;

	for (d = 0; d < DB_DESIGNS; d++)
		for (i = 0; i < DB_FILES; i++)
			c->v[d][i] = sysfs_long(db_designs[d], db_files[i]);
}

/*
 * Wait up to 2 s for the counters to read @want (files are freed a little
 * after their last close), or, with @want NULL, to stop moving. Returns
 * whether they did; @now gets the last figures.
 */
static bool db_settle(const struct db_counts *want, struct db_counts *now)
{
	struct timespec ts = { .tv_nsec = 10 * 1000 * 1000 };
	struct db_counts prev;
	int i;

	db_read(&prev);
	for (i = 0; i < 200; i++) {
		nanosleep(&ts, NULL);
		db_read(now);
		if (!memcmp(now, want ? want : &prev, sizeof(*now)))
			return true;
		prev = *now;
	}
	return false;
}

/*
 * What a file of @size bytes (negative: taken away), all private or all
 * shared, adds to the counters of @design.
 */
static void db_expect(struct db_counts *c, const char *design, __u64 chunk,
		      long size, bool shared)
{
	int d = strcmp(design, "tracked") ? 1 : 0;

	c->v[d][chunk == SZ_1G ? 1 : 0] += size / (long)chunk;
	c->v[d][shared ? 3 : 2] += size;
}

static void db_check(struct __test_metadata *_metadata,
		     const struct db_counts *want, const struct db_counts *now,
		     const char *what)
{
	int d, i;

	for (d = 0; d < DB_DESIGNS; d++)
		for (i = 0; i < DB_FILES; i++)
			EXPECT_EQ(want->v[d][i], now->v[d][i]) {
				TH_LOG("%s: %s/%s", what, db_designs[d],
				       db_files[i]);
			}
}

struct db_case {
	const char *name;
	__u64 flags;
	__u64 size;
	bool gmem_track;	/* a gmem_track file: counters move */
	bool shared;		/* its memory starts shared */
	bool knob_after;	/* the knob goes back to none before fallocate */
	const char *design;	/* if not the variant's (explicit flags) */
	__u64 chunk;
};

/*
 * Creates the file of @c on @vm_fd, allocates it and checks the counters
 * and the mapping. Returns 0, or KSFT_SKIP when a 1 GiB chunk is not to
 * be had.
 */
static int db_file(struct __test_metadata *_metadata,
		   const struct _fixture_variant_default_backend *variant,
		   int vm_fd, const struct db_case *c)
{
	const char *design = c->design ?: variant->design;
	__u64 chunk = c->chunk ?: variant->chunk;
	struct db_counts want, now;
	long taken;
	char *mem;
	int fd, ret;

	db_settle(NULL, &want);
	taken = sysfs_long(NULL, "default_backend_files");
	fd = create_gmem(vm_fd, c->size, c->flags);
	EXPECT_LE(0, fd) {
		TH_LOG("%s: KVM_CREATE_GUEST_MEMFD", c->name);
	}
	if (fd < 0)
		return 0;
	/* Counted if the file took the default, not if it named a design. */
	EXPECT_EQ(taken + (c->gmem_track && !c->design),
		  sysfs_long(NULL, "default_backend_files")) {
		TH_LOG("%s: default_backend_files", c->name);
	}
	if (c->knob_after)
		EXPECT_EQ(0, write_file(DEFAULT_BACKEND, "none"));
	ret = falloc(fd, FALLOC_FL_KEEP_SIZE, 0, c->size);
	if (c->knob_after)
		EXPECT_EQ(0, write_file(DEFAULT_BACKEND, variant->value));
	if (ret == -ENOMEM && c->gmem_track && chunk == SZ_1G) {
		close(fd);
		db_settle(&want, &now);
		return KSFT_SKIP;
	}
	EXPECT_EQ(0, ret) {
		TH_LOG("%s: fallocate", c->name);
	}
	db_read(&now);
	if (c->gmem_track)
		db_expect(&want, design, chunk, c->size, c->shared);
	db_check(_metadata, &want, &now, c->name);

	/* MMAP and INIT_SHARED honoured as upstream's: private SIGBUSes. */
	if (c->flags & GUEST_MEMFD_FLAG_MMAP) {
		mem = mmap(NULL, c->size, PROT_READ | PROT_WRITE, MAP_SHARED,
			   fd, 0);
		EXPECT_NE(MAP_FAILED, mem) {
			TH_LOG("%s: mmap", c->name);
		}
		if (mem != MAP_FAILED) {
			EXPECT_EQ(c->shared ? PG_OK : PG_SIGBUS,
				  probe(mem, c->size - PAGE_SZ, false)) {
				TH_LOG("%s: last page", c->name);
			}
			if (c->shared)
				EXPECT_EQ(PG_OK, page_op(mem, 0, OP_CHECK, 0,
							 true));
			munmap(mem, c->size);
		}
	} else {
		EXPECT_EQ(MAP_FAILED, mmap(NULL, c->size, PROT_READ,
					   MAP_SHARED, fd, 0));
	}
	close(fd);

	/* Closed: everything back, so that the next case starts clean. */
	if (c->gmem_track)
		db_expect(&want, design, chunk, -(long)c->size, c->shared);
	EXPECT_TRUE(db_settle(&want, &now)) {
		TH_LOG("%s: counters not back after close", c->name);
	}
	return 0;
}

/*
 * With the knob at the variant's value, a file with upstream's flags only
 * and a size that is a multiple of the chunk becomes a file of that design
 * and chunk, on a SW-protected and on a default VM: its fallocate() raises
 * that design's chunks_2M or chunks_1G and private_bytes (shared_bytes
 * with INIT_SHARED) by its size, and nothing else. A size that is not a
 * multiple, and a file that names a gmem_track flag itself, do not get it;
 * a file keeps its backend when the knob changes after its creation; the
 * knob does not change KVM_CAP_GUEST_MEMFD_FLAGS.
 */
TEST_F_TIMEOUT(default_backend, new_files, 2 * TMO)
{
	const unsigned long types[] = { KVM_X86_SW_PROTECTED_VM,
					KVM_X86_DEFAULT_VM };
	const bool huge = variant->chunk == SZ_1G;
	const __u64 size = huge ? SZ_1G : SZ_4M;
	const struct db_case c[] = {
		{ "MMAP", GUEST_MEMFD_FLAG_MMAP, size, true },
		/* As SW-protected VMMs create them: private, no mmap. */
		{ "no flags, knob to none after creation", 0, size, true,
		  false, true },
		{ "MMAP|INIT_SHARED",
		  GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED, size,
		  true, true },
		/* Not a multiple of the chunk (4M: 2M-aligned, not 1G). */
		{ "MMAP, size not a multiple of the chunk",
		  GUEST_MEMFD_FLAG_MMAP, huge ? SZ_4M : SZ_4M + PAGE_SZ,
		  false },
		{ "explicit GMEM_TRACK|TRACKED, 2M chunks",
		  GMEM_FLAGS | GUEST_MEMFD_FLAG_TRACKED, SZ_4M, true, false,
		  false, "tracked", SZ_2M },
	};
	int vm_types, vm_fd, caps_none, caps, gt, skipped = 0;
	unsigned int t, i;

	vm_types = check_cap(self->kvm_fd, KVM_CAP_VM_TYPES);
	for (t = 0; t < ARRAY_SIZE(types); t++) {
		if (vm_types <= 0 || !(vm_types & (1 << types[t]))) {
			TH_LOG("VM type %lu not supported", types[t]);
			continue;
		}
		vm_fd = ioctl(self->kvm_fd, KVM_CREATE_VM, types[t]);
		ASSERT_LE(0, vm_fd);

		ASSERT_EQ(0, write_file(DEFAULT_BACKEND, "none"));
		caps_none = check_cap(vm_fd, KVM_CAP_GUEST_MEMFD_FLAGS);
		ASSERT_EQ(0, write_file(DEFAULT_BACKEND, variant->value));
		caps = check_cap(vm_fd, KVM_CAP_GUEST_MEMFD_FLAGS);
		EXPECT_EQ(caps_none, caps);
		gt = check_cap(vm_fd, KVM_CAP_GMEM_TRACK_FLAGS);
		if (caps <= 0 || gt <= 0 || !(gt & GUEST_MEMFD_FLAG_GMEM_TRACK)) {
			TH_LOG("VM type %lu: no gmem_track (%#x)", types[t],
			       gt);
			close(vm_fd);
			continue;
		}
		caps |= gt;

		for (i = 0; i < ARRAY_SIZE(c); i++) {
			/* Flags the VM type refuses (INIT_SHARED if private). */
			if (c[i].flags & ~(__u64)caps)
				continue;
			/*
			 * 1 GiB files are slow under TCG: the default VM,
			 * which has INIT_SHARED, leaves out the no-flags file.
			 */
			if (huge && i == 1 && (caps & GUEST_MEMFD_FLAG_INIT_SHARED))
				continue;
			if (db_file(_metadata, variant, vm_fd, &c[i]))
				skipped++;
		}
		close(vm_fd);
	}
	if (skipped)
		SKIP(return, "no free 1 GiB chunk for %d file(s)", skipped);
}

/*
 * Bad values are refused with EINVAL and leave the knob as it was (the
 * variant's value, set first); good ones, with or without a newline, read
 * back as written.
 */
TEST_F_TIMEOUT(default_backend, bad_input, TMO)
{
	static char longval[4096];
	const struct {
		const char *name;
		const char *val;
		int err;
	} c[] = {
		{ "garbage", "bogus", -EINVAL },
		/* sysfs passes no empty write on: a no-op. */
		{ "empty", "", 0 },
		{ "newline", "\n", -EINVAL },
		{ "a design", "tracked", -EINVAL },
		{ "a design", "struct_page", -EINVAL },
		{ "underscore", "tracked_2m", -EINVAL },
		{ "struct_page-2m", "struct_page-2m", -EINVAL },
		{ "upper case", "TRACKED-2M", -EINVAL },
		{ "upper case size", "tracked-2M", -EINVAL },
		{ "4m chunks", "tracked-4m", -EINVAL },
		{ "no size", "tracked-", -EINVAL },
		{ "two values", "tracked-2m tracked-1g", -EINVAL },
		{ "leading space", " none", -EINVAL },
		{ "upstream", "upstream", -EINVAL },
		{ "an index", "1", -EINVAL },
		{ "negative", "-1", -EINVAL },
		{ "4095 bytes", longval, -EINVAL },
	};
	const char * const good[] = {
		"none", "tracked-2m", "tracked-1g", "structpage-2m",
		"structpage-1g",
	};
	char was[64], now[64], nl[64];
	unsigned int i;

	memset(longval, 'a', sizeof(longval) - 1);
	for (i = 0; i < ARRAY_SIZE(good); i++) {
		snprintf(nl, sizeof(nl), "%s\n", good[i]);
		ASSERT_EQ(0, write_file(DEFAULT_BACKEND, nl));
		read_line(DEFAULT_BACKEND, now, sizeof(now));
		EXPECT_STREQ(good[i], now);
	}

	ASSERT_EQ(0, write_file(DEFAULT_BACKEND, variant->value));
	read_line(DEFAULT_BACKEND, was, sizeof(was));
	EXPECT_STREQ(variant->value, was);
	for (i = 0; i < ARRAY_SIZE(c); i++) {
		EXPECT_EQ(c[i].err, write_file(DEFAULT_BACKEND, c[i].val)) {
			TH_LOG("%s", c[i].name);
		}
		read_line(DEFAULT_BACKEND, now, sizeof(now));
		EXPECT_STREQ(was, now) {
			TH_LOG("%s", c[i].name);
		}
	}
	ksft_print_msg("reliability: bad_inputs %d\n", (int)ARRAY_SIZE(c));
}

static int open_vm(int *kvm_fd)
{
	int types;

	*kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (*kvm_fd < 0)
		return -errno;
	types = check_cap(*kvm_fd, KVM_CAP_VM_TYPES);
	if (types <= 0 || !(types & (1 << KVM_X86_SW_PROTECTED_VM)))
		return -EOPNOTSUPP;
	return ioctl(*kvm_fd, KVM_CREATE_VM, KVM_X86_SW_PROTECTED_VM);
}

TEST(create_bad_input)
{
	const struct {
		const char *name;
		__u64 flags;
		__u64 size;
	} c[] = {
		{ "HUGE_1G without GMEM_TRACK",
		  GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_HUGE_1G, SZ_1G },
		{ "TRACKED without GMEM_TRACK",
		  GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_TRACKED, SZ_4M },
		{ "STRUCT_PAGE without GMEM_TRACK",
		  GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_STRUCT_PAGE, SZ_4M },
		{ "TRACKED|STRUCT_PAGE", GMEM_FLAGS | GUEST_MEMFD_FLAG_TRACKED |
		  GUEST_MEMFD_FLAG_STRUCT_PAGE, SZ_4M },
		{ "size 2M + 4K", GMEM_FLAGS, SZ_2M + PAGE_SZ },
		{ "size 4K", GMEM_FLAGS, PAGE_SZ },
		{ "tracked, size 2M + 4K", GMEM_FLAGS | GUEST_MEMFD_FLAG_TRACKED,
		  SZ_2M + PAGE_SZ },
		{ "1G chunks, size 2M", GMEM_FLAGS | GUEST_MEMFD_FLAG_HUGE_1G,
		  SZ_2M },
		{ "1G chunks, size 1G + 2M",
		  GMEM_FLAGS | GUEST_MEMFD_FLAG_HUGE_1G, SZ_1G + SZ_2M },
	};
	struct kvm_create_guest_memfd args = {
		.size = SZ_2M,
		.flags = GMEM_FLAGS,
		.reserved[0] = 1,
	};
	int kvm_fd, vm_fd, fd, caps;
	unsigned int i;

	vm_fd = open_vm(&kvm_fd);
	if (vm_fd < 0)
		SKIP(return, "no SW-protected VM: %s", strerror(-vm_fd));
	caps = check_cap(vm_fd, KVM_CAP_GMEM_TRACK_FLAGS);
	if (caps < 0 || !(caps & GUEST_MEMFD_FLAG_GMEM_TRACK))
		SKIP(return, "no GUEST_MEMFD_FLAG_GMEM_TRACK (%#x)", caps);

	for (i = 0; i < ARRAY_SIZE(c); i++) {
		fd = create_gmem(vm_fd, c[i].size, c[i].flags);
		EXPECT_EQ(-EINVAL, fd) {
			TH_LOG("%s", c[i].name);
		}
		if (fd >= 0)
			close(fd);
	}
	fd = ioctl(vm_fd, KVM_CREATE_GUEST_MEMFD, &args);
	EXPECT_EQ(-1, fd);
	EXPECT_EQ(EINVAL, errno);
	if (fd >= 0)
		close(fd);
	ksft_print_msg("reliability: bad_inputs %d\n", (int)ARRAY_SIZE(c) + 1);

	/* The same sizes and flags, right this time, are accepted. */
	fd = create_gmem(vm_fd, SZ_4M, GMEM_FLAGS);
	EXPECT_LE(0, fd);
	if (fd >= 0)
		close(fd);
	if (caps & GUEST_MEMFD_FLAG_TRACKED) {
		fd = create_gmem(vm_fd, SZ_2M,
				 GMEM_FLAGS | GUEST_MEMFD_FLAG_TRACKED);
		EXPECT_LE(0, fd);
		if (fd >= 0)
			close(fd);
	}

	close(vm_fd);
	close(kvm_fd);
}

/*
 * In a VM with private memory every file converts in place, mmap()able or
 * not, upstream's and gmem_track's alike (gmem_track_test's
 * vmm_flow_no_mmap runs a guest on such files); only mmap() needs MMAP.
 * In a VM without private memory a file without MMAP has no attributes.
 */
TEST(no_mmap_file)
{
	const __u64 flags[] = { 0, GUEST_MEMFD_FLAG_GMEM_TRACK,
				GUEST_MEMFD_FLAG_GMEM_TRACK |
				GUEST_MEMFD_FLAG_STRUCT_PAGE };
	int kvm_fd, vm_fd, fd, i;

	vm_fd = open_vm(&kvm_fd);
	if (vm_fd < 0)
		SKIP(return, "no SW-protected VM: %s", strerror(-vm_fd));
	for (i = 0; i < ARRAY_SIZE(flags); i++) {
		fd = create_gmem(vm_fd, SZ_4M, flags[i]);
		ASSERT_LE(0, fd) {
			TH_LOG("flags %#llx: %s", flags[i], strerror(-fd));
		}
		EXPECT_EQ(0, set_attrs(fd, 0, PAGE_SZ, SHARED, PRESERVE, NULL));
		EXPECT_EQ(0, set_attrs(fd, 0, PAGE_SZ, PRIVATE, PRESERVE, NULL));
		EXPECT_EQ(0, set_attrs(fd, 0, SZ_4M, SHARED, 0, NULL));
		EXPECT_EQ(MAP_FAILED, mmap(NULL, SZ_4M, PROT_READ, MAP_SHARED,
					   fd, 0));
		EXPECT_EQ(ENODEV, errno);
		close(fd);
	}
	close(vm_fd);

	vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, KVM_X86_DEFAULT_VM);
	ASSERT_LE(0, vm_fd);
	fd = create_gmem(vm_fd, SZ_4M, 0);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EINVAL, set_attrs(fd, 0, PAGE_SZ, PRIVATE, PRESERVE, NULL));
	close(fd);
	EXPECT_EQ(-EINVAL, create_gmem(vm_fd, SZ_4M, GUEST_MEMFD_FLAG_GMEM_TRACK));
	close(vm_fd);
	close(kvm_fd);
}

#define IN_PLACE_PARAM	"/sys/module/kvm/parameters/gmem_in_place_conversion"

/*
 * kvm.gmem_in_place_conversion: VMs created while it is off take the
 * PRIVATE attribute from the VM (KVM_SET_MEMORY_ATTRIBUTES), as before
 * guest_memfd files had attributes; VMs created while it is on (the
 * default) from their files, whatever it is later.
 */
FIXTURE(in_place) {
	int kvm_fd;
	int vm_fd;	/* created while on */
	char was[8];	/* the parameter before the test */
};

FIXTURE_SETUP(in_place)
{
	FILE *f;

	self->kvm_fd = -1;
	self->vm_fd = -1;
	self->was[0] = 0;
	f = fopen(IN_PLACE_PARAM, "r");
	ASSERT_NE(NULL, f);
	ASSERT_NE(NULL, fgets(self->was, sizeof(self->was), f));
	fclose(f);
	self->was[strcspn(self->was, "\n")] = 0;
	if (self->was[0] != 'Y')
		SKIP(return, "kvm.gmem_in_place_conversion is off");
	ASSERT_EQ(0, install_sigbus_handler());
	self->vm_fd = open_vm(&self->kvm_fd);
	if (self->vm_fd < 0)
		SKIP(return, "no SW-protected VM: %s", strerror(-self->vm_fd));
}

/*
 * In the parent, so that the parameter is back even when the test dies
 * of a signal or its time limit: every later test expects in-place
 * conversion. The test's descriptors went with its process.
 */
FIXTURE_TEARDOWN_PARENT(in_place)
{
	if (self->was[0])
		EXPECT_EQ(0, write_file(IN_PLACE_PARAM, self->was));
}

/* VM-level PRIVATE on the first page of @vm_fd: 0 or -errno. */
static int vm_set_private(int vm_fd)
{
	struct kvm_memory_attributes a = {
		.address = 0,
		.size = PAGE_SZ,
		.attributes = KVM_MEMORY_ATTRIBUTE_PRIVATE,
	};

	return ioctl(vm_fd, KVM_SET_MEMORY_ATTRIBUTES, &a) ? -errno : 0;
}

TEST_F_TIMEOUT(in_place, param, TMO)
{
	const int dev_caps[] = { KVM_CAP_MEMORY_ATTRIBUTES,
				 KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES,
				 KVM_CAP_MEMORY_ATTRIBUTES2_FLAGS };
	int old_caps[ARRAY_SIZE(dev_caps)];
	int kvm_fd = self->kvm_fd, vm_fd, fd, i;
	char *mem;

	/* On: the files hold PRIVATE, the VM none. */
	EXPECT_EQ(0, check_cap(self->vm_fd, KVM_CAP_MEMORY_ATTRIBUTES));
	EXPECT_EQ((int)PRIVATE,
		  check_cap(self->vm_fd, KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES));
	EXPECT_EQ(-EINVAL, vm_set_private(self->vm_fd));
	EXPECT_EQ(0, check_cap(kvm_fd, KVM_CAP_MEMORY_ATTRIBUTES));
	for (i = 0; i < ARRAY_SIZE(dev_caps); i++)
		old_caps[i] = check_cap(kvm_fd, dev_caps[i]);

	ASSERT_EQ(0, write_file(IN_PLACE_PARAM, "N"));
	vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, KVM_X86_SW_PROTECTED_VM);
	ASSERT_LE(0, vm_fd);

	/* Off: the VM holds PRIVATE, its files have no attributes. */
	EXPECT_EQ((int)PRIVATE, check_cap(vm_fd, KVM_CAP_MEMORY_ATTRIBUTES));
	EXPECT_EQ(0, check_cap(vm_fd, KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES));
	EXPECT_EQ(0, check_cap(vm_fd, KVM_CAP_MEMORY_ATTRIBUTES2_FLAGS));
	EXPECT_EQ(0, check_cap(vm_fd, KVM_CAP_GMEM_TRACK_FLAGS));
	EXPECT_EQ((int)GUEST_MEMFD_FLAG_MMAP,
		  check_cap(vm_fd, KVM_CAP_GUEST_MEMFD_FLAGS));
	EXPECT_EQ(0, vm_set_private(vm_fd));
	EXPECT_EQ(-EINVAL, create_gmem(vm_fd, SZ_4M, GUEST_MEMFD_FLAG_MMAP |
						    GUEST_MEMFD_FLAG_INIT_SHARED));
	EXPECT_EQ(-EINVAL, create_gmem(vm_fd, SZ_4M, GMEM_FLAGS));
	EXPECT_EQ(-EINVAL, create_gmem(vm_fd, SZ_4M, GUEST_MEMFD_FLAG_GMEM_TRACK));
	fd = create_gmem(vm_fd, SZ_4M, GUEST_MEMFD_FLAG_MMAP);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-ENOTTY, set_attrs(fd, 0, PAGE_SZ, PRIVATE, 0, NULL));
	EXPECT_EQ(-ENOTTY, set_attrs(fd, 0, PAGE_SZ, SHARED, 0, NULL));
	/* Private throughout for the host, as in 7.3: no INIT_SHARED. */
	mem = mmap(NULL, SZ_4M, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, mem);
	EXPECT_EQ(PG_SIGBUS, probe(mem, 0, false));
	EXPECT_EQ(PG_SIGBUS, probe(mem, SZ_4M - PAGE_SZ, true));
	munmap(mem, SZ_4M);
	close(fd);
	fd = create_gmem(vm_fd, SZ_4M, 0);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-ENOTTY, set_attrs(fd, 0, PAGE_SZ, SHARED, 0, NULL));
	close(fd);
	close(vm_fd);

	/* A default VM's INIT_SHARED file: shared throughout, as in 7.3. */
	vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, KVM_X86_DEFAULT_VM);
	ASSERT_LE(0, vm_fd);
	EXPECT_EQ(0, check_cap(vm_fd, KVM_CAP_MEMORY_ATTRIBUTES2_FLAGS));
	fd = create_gmem(vm_fd, SZ_4M, GUEST_MEMFD_FLAG_MMAP |
				       GUEST_MEMFD_FLAG_INIT_SHARED);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-ENOTTY, set_attrs(fd, 0, PAGE_SZ, PRIVATE, 0, NULL));
	mem = mmap(NULL, SZ_4M, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, mem);
	EXPECT_EQ(PG_OK, page_op(mem, 0, OP_FILL, 1, true));
	EXPECT_EQ(PG_OK, page_op(mem, 0, OP_CHECK, 1, true));
	munmap(mem, SZ_4M);
	close(fd);
	close(vm_fd);
	/* /dev/kvm tells what a VM created now gets. */
	EXPECT_EQ((int)PRIVATE, check_cap(kvm_fd, KVM_CAP_MEMORY_ATTRIBUTES));
	EXPECT_EQ(0, check_cap(kvm_fd, KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES));
	EXPECT_EQ(0, check_cap(kvm_fd, KVM_CAP_MEMORY_ATTRIBUTES2_FLAGS));

	/* The VM created while on keeps converting in place. */
	EXPECT_EQ(0, check_cap(self->vm_fd, KVM_CAP_MEMORY_ATTRIBUTES));
	EXPECT_EQ(-EINVAL, vm_set_private(self->vm_fd));
	fd = create_gmem(self->vm_fd, SZ_4M, GMEM_FLAGS |
					     GUEST_MEMFD_FLAG_INIT_SHARED);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, set_attrs(fd, 0, SZ_2M, PRIVATE, 0, NULL));
	close(fd);

	ASSERT_EQ(0, write_file(IN_PLACE_PARAM, "Y"));
	for (i = 0; i < ARRAY_SIZE(dev_caps); i++)
		EXPECT_EQ(old_caps[i], check_cap(kvm_fd, dev_caps[i]));
}

TEST_HARNESS_MAIN
