// SPDX-License-Identifier: GPL-2.0
/*
 * The gmem_track boot reservation, in a boot that has one.
 *
 * make check boots a second time with
 *
 *   gmem_track.reserve=2G:2M,2G:1G,3M:2M,1G:4M,1G:1G@9,abc:1G nokaslr
 *   gmem_track.default_backend=bogus gmem_track.default_backend=structpage-1g
 *
 * (see workbench/check.sh): two good items, four bad ones. The 2M item
 * comes first, right below the top of memory's early allocations, and the
 * kernel image stays low (nokaslr): its 16 blocks of 128 MiB are then one
 * run of PFNs, which holds a whole GiB aligned to 1 GiB, for a file of
 * 2 MiB chunks that KVM could map with one 1 GiB entry. This test then
 * checks that
 *  - each bad item was reported at boot and left out, and the boot goes on;
 *  - /sys/kernel/mm/gmem_track/reserve/ reports 2 GiB of 1G chunks and
 *    2 GiB of 2M chunks, all free, per node and in total;
 *  - reserved memory never had struct pages: its PFNs read as the sentinel
 *    (reserved) in /proc/kpageflags, and taking or freeing a reserved
 *    chunk changes no vmemmap counter, where a chunk of the buddy
 *    allocator gives back 4096 vmemmap pages per GiB;
 *  - guest_memfd files of the tracked design take reserved chunks first,
 *    conversion round trips keep their content, and closing the file
 *    returns the chunks to the reservation;
 *  - the PFN walkers survive reserved memory;
 *  - shrinking the reservation through sysfs gives memory back to the
 *    buddy allocator with struct pages built, refuses bad values, and
 *    cannot take chunks in use;
 *  - a memory error in a free reserved chunk keeps it out of use;
 *  - gmem_track.default_backend= on the command line: a bad value is
 *    reported and changes nothing, a good one is what sysfs reads.
 * The tests run in order: later ones rely on what earlier ones left.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "../kselftest_harness.h"
#include "gmem_track_util.h"

#define SZ_1M		(1024UL * 1024)
#define SZ_2M		(2 * SZ_1M)
#define SZ_1G		(1024 * SZ_1M)
#define PAGES_1G	(SZ_1G / 4096)
#define PAGES_2M	(SZ_2M / 4096)
#define RESERVE		GMEM_TRACK_SYSFS "/reserve"
#define NODE0		RESERVE "/node0"
#define HWPOISON	"/sys/kernel/debug/hwpoison/corrupt-pfn"
#define TMO		600
/* The 2M item of gmem_track.reserve= (RESERVE_ARGS in workbench/check.sh). */
#define RESERVED_2M	(2 * SZ_1G)

#define TRACKED_1G	(GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_GMEM_TRACK | \
			 GUEST_MEMFD_FLAG_TRACKED | GUEST_MEMFD_FLAG_HUGE_1G)
#define TRACKED_2M	(GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_GMEM_TRACK | \
			 GUEST_MEMFD_FLAG_TRACKED)

static long rsv(const char *dir, const char *file)
{
	char path[160];

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	return read_long(path);
}

static int rsv_write(const char *file, unsigned long bytes)
{
	char path[160], val[32];

	snprintf(path, sizeof(path), NODE0 "/%s", file);
	snprintf(val, sizeof(val), "%lu", bytes);
	return write_file(path, val);
}

/* The kernel log since boot, NUL-terminated, or NULL. */
static char *kernel_log(void)
{
	int len = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);
	char *buf;

	if (len <= 0)
		return NULL;
	buf = calloc(1, len + 1);
	if (!buf)
		return NULL;
	len = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, len);
	if (len < 0) {
		free(buf);
		return NULL;
	}
	buf[len] = 0;
	return buf;
}

/* A VM of the software-protected type, for its guest_memfd files. */
struct vm {
	int kvm_fd;
	int vm_fd;
};

static int vm_open(struct vm *vm)
{
	vm->vm_fd = -1;
	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0)
		return -errno;
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, KVM_X86_SW_PROTECTED_VM);
	return vm->vm_fd < 0 ? -errno : 0;
}

static void vm_close(struct vm *vm)
{
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
}

/* A guest_memfd of @size, all of it allocated (private); -errno on error. */
static int gmem_file(struct vm *vm, unsigned long size, __u64 flags)
{
	struct kvm_create_guest_memfd args = { .size = size, .flags = flags };
	int fd = ioctl(vm->vm_fd, KVM_CREATE_GUEST_MEMFD, &args);

	if (fd < 0)
		return -errno;
	if (fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, size)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static int convert(int fd, unsigned long off, unsigned long size, bool private,
		   __u64 flags)
{
	struct kvm_memory_attributes2 a = {
		.offset = off,
		.size = size,
		.attributes = private ? KVM_MEMORY_ATTRIBUTE_PRIVATE : 0,
		.flags = flags,
	};

	return ioctl(fd, KVM_SET_MEMORY_ATTRIBUTES2, &a) ? -errno : 0;
}

static uint64_t word(unsigned long off, unsigned int i)
{
	return (off + i * 8 + 1) * 0x9e3779b97f4a7c15ULL;
}

/* Fill (or check) the first and last words of each page of a range. */
static long pattern(char *mem, unsigned long off, unsigned long len, bool check)
{
	unsigned long o;

	for (o = off; o < off + len; o += 4096) {
		uint64_t *w = (uint64_t *)(mem + o);

		if (!check) {
			w[0] = word(o, 0);
			w[511] = word(o, 511);
		} else if (w[0] != word(o, 0) || w[511] != word(o, 511)) {
			return o;
		}
	}
	return -1;
}

/* Every flag /proc/kpageflags reports for a PFN, or ~0. */
static uint64_t pfn_flags(unsigned long pfn)
{
	uint64_t flags = ~0ULL;
	int fd = open("/proc/kpageflags", O_RDONLY);

	if (fd >= 0 && pread(fd, &flags, 8, pfn * 8) != 8)
		flags = ~0ULL;
	if (fd >= 0)
		close(fd);
	return flags;
}

/* The PFN of a reserved chunk, found by taking it and giving it back. */
static unsigned long reserved_chunk(const char *size)
{
	unsigned long pfn;

	if (owner_cmd("create tracked %s", size) || owner_cmd("populate 0"))
		return 0;
	pfn = owner_pfn();
	owner_cmd("destroy");
	return pfn;
}

/*
 * The tests share the boot's one reservation and run in order; the
 * fixture is empty and only gives them the harness's per-test timeout.
 */
FIXTURE(rsv) {};
FIXTURE_SETUP(rsv) {}
FIXTURE_TEARDOWN(rsv) {}

TEST_F_TIMEOUT(rsv, boot_messages, TMO)
{
	static const char * const want[] = {
		"gmem_track: reserve: '3M:2M': size must be a positive multiple of 128M: ignored",
		"gmem_track: reserve: '1G:4M': expected SIZE:2M or SIZE:1G, optionally @NODE: ignored",
		"gmem_track: reserve: '1G:1G@9': node 9 has no memory: ignored",
		"gmem_track: reserve: 'abc:1G': expected SIZE:2M or SIZE:1G, optionally @NODE: ignored",
		"gmem_track: reserve: 2048M in 2M chunks, 2048M in 1G chunks, no vmemmap",
	};
	char *log = kernel_log();
	unsigned int i;

	ASSERT_NE(NULL, log);
	for (i = 0; i < ARRAY_SIZE(want); i++) {
		if (!strstr(log, want[i]))
			TH_LOG("missing from the kernel log: %s", want[i]);
		EXPECT_NE(NULL, strstr(log, want[i]));
	}
	free(log);
}

/*
 * The default backend set on the command line, the only test of that
 * path: the bad value reported by the kernel's parameter parser, the good
 * one after it in sysfs. Back to none at once, so that later tests (and
 * the next boot's) see the default every boot starts with.
 */
#define DEFAULT_BACKEND	GMEM_TRACK_SYSFS "/default_backend"

TEST_F_TIMEOUT(rsv, default_backend_param, TMO)
{
	static const char bad[] =
		"`bogus' invalid for parameter `gmem_track.default_backend'";
	char *log = kernel_log(), val[32] = "";
	int fd = open(DEFAULT_BACKEND, O_RDONLY);
	ssize_t n;

	ASSERT_LE(0, fd);
	n = read(fd, val, sizeof(val) - 1);
	close(fd);
	ASSERT_LT(0, n);
	EXPECT_STREQ("structpage-1g\n", val);
	EXPECT_EQ(0, write_file(DEFAULT_BACKEND, "none"));
	ASSERT_NE(NULL, log);
	EXPECT_NE(NULL, strstr(log, bad)) {
		TH_LOG("missing from the kernel log: %s", bad);
	}
	free(log);
}

TEST_F_TIMEOUT(rsv, pool_reports, TMO)
{
	static const char * const dirs[] = { RESERVE, NODE0 };
	struct stat st;
	unsigned int i;

	for (i = 0; i < 2; i++) {
		EXPECT_EQ(2 * SZ_1G, rsv(dirs[i], "reserved_1G_bytes"));
		EXPECT_EQ(2 * SZ_1G, rsv(dirs[i], "free_1G_bytes"));
		EXPECT_EQ(0, rsv(dirs[i], "used_1G_bytes"));
		EXPECT_EQ(0, rsv(dirs[i], "poisoned_1G_bytes"));
		EXPECT_EQ(0, rsv(dirs[i], "held_1G_bytes"));
		EXPECT_EQ(RESERVED_2M, rsv(dirs[i], "reserved_2M_bytes"));
		EXPECT_EQ(RESERVED_2M, rsv(dirs[i], "free_2M_bytes"));
		EXPECT_EQ(0, rsv(dirs[i], "used_2M_bytes"));
		EXPECT_EQ(0, rsv(dirs[i], "poisoned_2M_bytes"));
		EXPECT_EQ(0, rsv(dirs[i], "held_2M_bytes"));
	}
	/* Only a node's reservation can be shrunk. */
	ASSERT_EQ(0, stat(RESERVE "/reserved_1G_bytes", &st));
	EXPECT_EQ(0444, st.st_mode & 0777);
	ASSERT_EQ(0, stat(NODE0 "/reserved_1G_bytes", &st));
	EXPECT_EQ(0644, st.st_mode & 0777);
	ASSERT_EQ(0, stat(NODE0 "/free_1G_bytes", &st));
	EXPECT_EQ(0444, st.st_mode & 0777);
	EXPECT_EQ(-EACCES, write_file(RESERVE "/reserved_1G_bytes", "0"));
	EXPECT_EQ(2 * SZ_1G, rsv(RESERVE, "reserved_1G_bytes"));
}

/* A reserved chunk is taken and freed without any vmemmap change. */
TEST_F_TIMEOUT(rsv, no_vmemmap, TMO)
{
	long pt = page_tables_settled_kb(), memmap = memmap_pages();
	unsigned long pfn, i;

	ASSERT_EQ(0, owner_cmd("create tracked 1G"));
	ASSERT_EQ(0, owner_cmd("populate 0"));
	pfn = owner_pfn();
	ASSERT_NE(0, pfn);
	EXPECT_EQ(SZ_1G, rsv(RESERVE, "used_1G_bytes"));
	EXPECT_EQ(SZ_1G, rsv(RESERVE, "free_1G_bytes"));
	EXPECT_EQ(memmap, memmap_pages());
	/*
	 * A rebuilt vmemmap of 1 GiB would add 8 PTE tables (32 KiB); other
	 * page tables of the system move by a page or two meanwhile, so
	 * allow 12 KiB, as vmemmap_test does.
	 */
	EXPECT_GE(12, labs(page_tables_kb() - pt));
	/* Every PFN reads as the sentinel: reserved and nothing else. */
	EXPECT_EQ(PAGES_1G, count_reserved(pfn, PAGES_1G));
	for (i = 0; i < PAGES_1G; i += 4099)
		EXPECT_EQ(1ULL << KPF_RESERVED, pfn_flags(pfn + i));

	/* Shared memory brings back the struct pages of its granule only. */
	ASSERT_EQ(0, owner_cmd("shared 0 40"));
	EXPECT_EQ(memmap + 1, memmap_pages());
	/* The rest of the granule is private: reserved, in a real page. */
	EXPECT_EQ(64 - 40, count_reserved(pfn, 64));
	ASSERT_EQ(0, owner_cmd("private 0 40"));
	EXPECT_EQ(memmap, memmap_pages());

	ASSERT_EQ(0, owner_cmd("destroy"));
	EXPECT_EQ(0, rsv(RESERVE, "used_1G_bytes"));
	EXPECT_EQ(2 * SZ_1G, rsv(RESERVE, "free_1G_bytes"));
	EXPECT_EQ(memmap, memmap_pages());
	EXPECT_EQ(PAGES_1G, count_reserved(pfn, PAGES_1G));
	EXPECT_EQ(pfn, reserved_chunk("1G"));
}

/*
 * A 3 GiB file takes both reserved chunks, then one from the buddy
 * allocator: only that one gives vmemmap back. Closing the file returns
 * two chunks to the reservation and one to the buddy allocator.
 */
TEST_F_TIMEOUT(rsv, reserve_first, TMO)
{
	long memmap = memmap_pages();
	struct vm vm;
	int fd;

	ASSERT_EQ(0, vm_open(&vm));
	fd = gmem_file(&vm, 3 * SZ_1G, TRACKED_1G);
	if (fd == -ENOMEM)
		SKIP(vm_close(&vm); return, "no 1 GiB block in the buddy allocator");
	ASSERT_LE(0, fd);
	EXPECT_EQ(2 * SZ_1G, rsv(RESERVE, "used_1G_bytes"));
	EXPECT_EQ(0, rsv(RESERVE, "free_1G_bytes"));
	EXPECT_EQ(PAGES_1G / 64, memmap - memmap_pages());
	close(fd);
	vm_close(&vm);
	EXPECT_EQ(0, rsv(RESERVE, "used_1G_bytes"));
	EXPECT_EQ(2 * SZ_1G, rsv(RESERVE, "free_1G_bytes"));
	EXPECT_EQ(memmap, memmap_pages());
}

/* Round trips on reserved chunks keep their content, 4 KiB and 2 MiB. */
TEST_F_TIMEOUT(rsv, conversion_roundtrip, TMO)
{
	const __u64 keep = KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE;
	const __u64 zero = KVM_SET_MEMORY_ATTRIBUTES2_ZERO;
	unsigned long offs[] = { 0, 5 * 4096, 300 * SZ_2M + 4096 * 17 };
	long memmap = memmap_pages();
	struct vm vm;
	unsigned int i;
	char *mem;
	int fd;

	ASSERT_EQ(0, vm_open(&vm));
	fd = gmem_file(&vm, SZ_1G, TRACKED_1G);
	ASSERT_LE(0, fd);
	EXPECT_EQ(SZ_1G, rsv(RESERVE, "used_1G_bytes"));
	mem = mmap(NULL, SZ_1G, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, mem);

	/* 4 KiB pages: shared, written, private, shared again. */
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, convert(fd, offs[i], 4096, false, zero));
		pattern(mem, offs[i], 4096, false);
	}
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, convert(fd, offs[i], 4096, true, keep));
	EXPECT_EQ(memmap, memmap_pages());
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, convert(fd, offs[i], 4096, false, keep));
		EXPECT_EQ(-1, pattern(mem, offs[i], 4096, true));
	}

	/* A whole 2 MiB range, both ways with its content. */
	ASSERT_EQ(0, convert(fd, 7 * SZ_2M, SZ_2M, false, zero));
	pattern(mem, 7 * SZ_2M, SZ_2M, false);
	/* Two granules of 4 KiB pages, eight of the 2 MiB range. */
	EXPECT_EQ(memmap + 2 + 8, memmap_pages());
	ASSERT_EQ(0, convert(fd, 7 * SZ_2M, SZ_2M, true, keep));
	ASSERT_EQ(0, convert(fd, 7 * SZ_2M, SZ_2M, false, keep));
	EXPECT_EQ(-1, pattern(mem, 7 * SZ_2M, SZ_2M, true));

	/* Closed with shared memory mapped: the chunk still goes back. */
	close(fd);
	munmap(mem, SZ_1G);
	vm_close(&vm);
	EXPECT_EQ(0, rsv(RESERVE, "used_1G_bytes"));
	EXPECT_EQ(2 * SZ_1G, rsv(RESERVE, "free_1G_bytes"));
	EXPECT_EQ(memmap, memmap_pages());
}

/* 2 MiB chunks come from the 2M reservation. */
TEST_F_TIMEOUT(rsv, two_meg_chunks, TMO)
{
	long memmap = memmap_pages();
	struct vm vm;
	int fd;

	ASSERT_EQ(0, vm_open(&vm));
	fd = gmem_file(&vm, 64 * SZ_2M, TRACKED_2M);
	ASSERT_LE(0, fd);
	EXPECT_EQ(128UL << 20, rsv(RESERVE, "used_2M_bytes"));
	EXPECT_EQ(RESERVED_2M - (128UL << 20), rsv(RESERVE, "free_2M_bytes"));
	EXPECT_EQ(0, rsv(RESERVE, "used_1G_bytes"));
	EXPECT_EQ(memmap, memmap_pages());
	close(fd);
	vm_close(&vm);
	EXPECT_EQ(0, rsv(RESERVE, "used_2M_bytes"));
	EXPECT_EQ(memmap, memmap_pages());
}

/* The PFN walkers read the sentinel of reserved memory, never write it. */
TEST_F_TIMEOUT(rsv, pfn_walkers, TMO)
{
	unsigned long pfn = reserved_chunk("1G");
	long memmap = memmap_pages();
	char state[32];
	int ret;

	ASSERT_NE(0, pfn);
	EXPECT_LT(0, read_all("/proc/kpageflags"));
	EXPECT_LT(0, read_all("/proc/kpagecount"));
	EXPECT_EQ(0, write_file("/proc/sys/vm/compact_memory", "1"));
	EXPECT_EQ(0, write_file("/proc/sys/vm/drop_caches", "3"));
	EXPECT_EQ(0, write_file("/proc/sysrq-trigger", "m"));
	ret = offline_block(pfn, state, sizeof(state));
	ksft_print_msg("offlining the block of reserved PFN %#lx: %s, block %s\n",
		       pfn, ret > 0 ? strerror(ret) : ret ? "not offered" : "done",
		       state);
	/* MEMORY_HOTPLUG is in the test kernel: the block must be offered. */
	EXPECT_EQ(EBUSY, ret);
	EXPECT_STREQ("online", state);
	EXPECT_EQ(memmap, memmap_pages());
	EXPECT_EQ(PAGES_1G, count_reserved(pfn, PAGES_1G));
	EXPECT_EQ(2 * SZ_1G, rsv(RESERVE, "free_1G_bytes"));
}

/* Shrinking gives memory to the buddy allocator, struct pages built. */
TEST_F_TIMEOUT(rsv, shrink, TMO)
{
	long memmap = memmap_pages(), free = free_kb();
	struct vm vm;
	int fd;

	/* Bad values change nothing. */
	EXPECT_EQ(-EINVAL, write_file(NODE0 "/reserved_1G_bytes", "lots"));
	EXPECT_EQ(-EINVAL, rsv_write("reserved_1G_bytes", 3 * SZ_1G));
	EXPECT_EQ(-EINVAL, rsv_write("reserved_1G_bytes", SZ_1G / 2));
	EXPECT_EQ(-EINVAL, rsv_write("reserved_2M_bytes", SZ_2M + 4096));
	EXPECT_EQ(2 * SZ_1G, rsv(NODE0, "reserved_1G_bytes"));
	EXPECT_EQ(RESERVED_2M, rsv(NODE0, "reserved_2M_bytes"));
	EXPECT_EQ(memmap, memmap_pages());

	ASSERT_EQ(0, rsv_write("reserved_1G_bytes", SZ_1G));
	EXPECT_EQ(SZ_1G, rsv(NODE0, "reserved_1G_bytes"));
	EXPECT_EQ(SZ_1G, rsv(RESERVE, "free_1G_bytes"));
	/* 4096 struct page pages for the GiB given back, allocated at run time. */
	EXPECT_EQ(PAGES_1G / 64, memmap_pages() - memmap);
	/* A GiB more is free, less its vmemmap (and a little noise). */
	EXPECT_LT(free + (long)(SZ_1G >> 10) - 16 * 1024 - 2048, free_kb());
	ksft_print_msg("shrink by 1 GiB: free %+ld KiB, vmemmap %+ld pages\n",
		       free_kb() - free, memmap_pages() - memmap);

	/* A chunk in use cannot be given back. */
	ASSERT_EQ(0, vm_open(&vm));
	fd = gmem_file(&vm, SZ_1G, TRACKED_1G);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EBUSY, rsv_write("reserved_1G_bytes", 0));
	EXPECT_EQ(SZ_1G, rsv(NODE0, "reserved_1G_bytes"));
	EXPECT_EQ(SZ_1G, rsv(NODE0, "used_1G_bytes"));
	close(fd);
	vm_close(&vm);
	EXPECT_EQ(0, rsv_write("reserved_1G_bytes", 0));
	EXPECT_EQ(0, rsv(RESERVE, "reserved_1G_bytes"));
	EXPECT_EQ(PAGES_1G / 32, memmap_pages() - memmap);

	/* 2M chunks, from 2 GiB to 128 MiB: 8 vmemmap pages per chunk. */
	memmap = memmap_pages();
	ASSERT_EQ(0, rsv_write("reserved_2M_bytes", 128UL << 20));
	EXPECT_EQ(128UL << 20, rsv(RESERVE, "reserved_2M_bytes"));
	EXPECT_EQ(128UL << 20, rsv(RESERVE, "free_2M_bytes"));
	EXPECT_EQ((RESERVED_2M - (128UL << 20)) / SZ_2M * PAGES_2M / 64,
		  memmap_pages() - memmap);
}

/* A memory error in a free reserved chunk takes it out of use for good. */
TEST_F_TIMEOUT(rsv, memory_failure, TMO)
{
	unsigned long pfn = reserved_chunk("2M"), other;
	char val[32];

	if (access(HWPOISON, W_OK))
		SKIP(return, HWPOISON " is missing (CONFIG_HWPOISON_INJECT)");
	ASSERT_NE(0, pfn);
	snprintf(val, sizeof(val), "%#lx", pfn + 3);
	ASSERT_EQ(0, write_file(HWPOISON, val));
	EXPECT_EQ(SZ_2M, rsv(RESERVE, "poisoned_2M_bytes"));
	EXPECT_EQ((128UL << 20) - SZ_2M, rsv(RESERVE, "free_2M_bytes"));
	/* Never handed out again: another chunk comes instead. */
	other = reserved_chunk("2M");
	EXPECT_NE(0, other);
	EXPECT_NE(pfn, other);
	/* A second error on it changes nothing. */
	write_file(HWPOISON, val);
	EXPECT_EQ(SZ_2M, rsv(RESERVE, "poisoned_2M_bytes"));
	/* It cannot be given back either: the rest can. */
	EXPECT_EQ(-EBUSY, rsv_write("reserved_2M_bytes", 0));
	EXPECT_EQ(SZ_2M, rsv(RESERVE, "reserved_2M_bytes"));
	EXPECT_EQ(0, rsv(RESERVE, "free_2M_bytes"));
}

TEST_HARNESS_MAIN
