// SPDX-License-Identifier: GPL-2.0
/*
 * gmem-bench - memory overhead and latency of guest_memfd designs
 *
 * Runs as root on the kernel under test (KVM, guest_memfd with in-place
 * conversion, gmem_track) and measures, for each of five designs, what one
 * guest_memfd file of S bytes (--size) costs in memory besides its own S
 * bytes, and how long allocation, conversions and faults take. Each design
 * gets its own KVM_X86_SW_PROTECTED_VM with one vCPU and one file. Only one
 * file exists at a time: between designs everything is closed and the
 * gmem_track chunk counters are given up to 5 s to return to where they
 * were, so that the next design finds the memory back.
 *
 *   design         KVM_CREATE_GUEST_MEMFD flags           memory
 *   upstream-4k    MMAP                                   4 KiB folios
 *   structpage-2m  MMAP|GMEM_TRACK|STRUCT_PAGE            2 MiB chunks
 *   structpage-1g  MMAP|GMEM_TRACK|HUGE_1G|STRUCT_PAGE    1 GiB chunks
 *   tracked-2m     MMAP|GMEM_TRACK|TRACKED                2 MiB chunks
 *   tracked-1g     MMAP|GMEM_TRACK|HUGE_1G|TRACKED        1 GiB chunks
 *
 * Counters. A snapshot reads memmap = nr_memmap_pages + nr_memmap_boot_pages
 * (/proc/vmstat, after writing 1 to /proc/sys/vm/stat_refresh), MemFree,
 * slab = SUnreclaim + SReclaimable and PageTables (/proc/meminfo), and every
 * file of /sys/kernel/mm/gmem_track/ (0 when absent). The baseline is a
 * snapshot taken once the VM and its vCPU exist, before the file does; a
 * delta is "now - baseline". Between the two nothing is allocated but by
 * the kernel for the file: buffers are allocated and touched up front and
 * counters are read with read(2) into a static buffer.
 *
 * Overhead at a shared fraction f (f = 0, 1/512, 1/64, 1/8, 1/2, 1):
 *   The file is allocated whole with fallocate() and starts private.
 *   round(f * S / 4 KiB) distinct 4 KiB pages, chosen uniformly at random
 *   with a fixed seed (selection sampling: the same pages for every design)
 *   are made shared with KVM_SET_MEMORY_ATTRIBUTES2 and PRESERVE, one ioctl
 *   per run of adjacent pages (f = 1: one ioctl over the whole file). Then
 *     vmemmap    = S / 64 + delta(memmap) * 4096: the struct pages the
 *                  file's memory still has (S / 64 with one 64-byte struct
 *                  page per 4 KiB page), less what gmem_track removed;
 *     pagetables = delta(PageTables) * 1024 (the vmemmap's kernel PTE
 *                  tables are counted there);
 *     slab       = delta(slab) * 1024: the descriptor (maple nodes for
 *                  gmem_track, xarray nodes for the page cache) and the
 *                  file's attributes;
 *     descriptor = delta(<design>/descriptor_bytes + pfn_tree_bytes) of
 *                  /sys/kernel/mm/gmem_track: the maple nodes of the
 *                  file's range descriptor and of the pool's PFN tree,
 *                  part of slab (null for upstream-4k, which has none);
 *     overhead   = vmemmap + max(0, pagetables) + max(0, slab),
 *   where S / 64 counts only the part of the file taken from the buddy
 *   allocator: chunks of the boot reservation (gmem_track.reserve=, the
 *   delta of reserve/used_2M_bytes + used_1G_bytes, reserved_bytes in the
 *   JSON) never had struct pages, so S - reserved_bytes stands for S in
 *   vmemmap and in the MemFree cross-check below (reserved memory is not
 *   in MemFree either);
 *   reported per GiB of file: overhead / (S / 1 GiB). The whole file is
 *   then made private again with one ioctl (PRESERVE) before the next f.
 *   overhead_after_roundtrip_bytes_per_gib: the same, fully private again,
 *   after the last f. descriptor_bytes_per_gib: the descriptor figure at
 *   each f, per GiB. descriptor_nodes and descriptor_ranges: at each f, the
 *   maple nodes of the file's range descriptor (delta of <design>/
 *   descriptor_bytes / 256, the PFN tree left out) and its ranges (delta of
 *   <design>/ranges), whole numbers for the file, not per GiB (null for
 *   upstream-4k). overhead_2m_ranges_bytes_per_gib: f = 1/64 of the
 *   file shared as whole random 2 MiB-aligned ranges.
 *   counters (at f = 1/64): memmap_delta_bytes is the vmemmap figure above
 *   (S / 64 + delta(memmap) * 4096, from nr_memmap), and
 *   sysfs_vmemmap_delta_bytes the delta of the design's
 *   /sys/kernel/mm/gmem_track/<design>/vmemmap_bytes (null for upstream-4k):
 *   two counters of the same struct pages, which must agree exactly.
 *   memfree_crosscheck_error (at f = 0): the drop of MemFree minus the drop
 *   expected, S + delta(memmap) * 4096 + pagetables + slab + the growth of
 *   vmemmap_reserve_bytes (pages the kernel keeps per node for conversions,
 *   host memory filled when the first tracked file appears: not the
 *   file's overhead), per GiB, in bytes (signed): what the accounting
 *   above misses or counts twice.
 *
 * Time, in ns of CLOCK_MONOTONIC around the system call:
 *   fallocate_ns_per_gib: fallocate() of the whole file, per GiB.
 *   fallocate_migrated_pages: pages the kernel migrated meanwhile
 *     (pgmigrate_success of /proc/vmstat): what alloc_contig_pages() had
 *     to move out of the way of a 1 GiB block, a cost of where the memory
 *     comes from rather than of the design. null (-1 in the progress
 *     line) without that count (no CONFIG_MIGRATION).
 *   convert_ns: --iters random distinct 4 KiB pages, each made shared and
 *     then private again, both timed (4k_to_shared, 4k_to_private); the
 *     same for min(--iters, S / 2 MiB) random 2 MiB-aligned ranges (2m_*);
 *     both again with ZERO instead of PRESERVE (*_zero); REUSE_PAGES
 *     random pages in turn, --iters times (4k_reuse_*); min(--iters,
 *     S / 64 MiB) random 64 MiB-aligned ranges (64m_*, the bulk phase).
 *     Each sample starts from a fully private file. Median and p99
 *     (nearest rank). The bulk loop takes at most BULK_MAX ranges
 *     (BULK_QUICK with --quick).
 *   convert_counts_per_roundtrip: for each of these loops, the growth of
 *     every /sys/kernel/mm/gmem_track/vmemmap_events/ count over the loop
 *     and the deferred depopulation after it, per round trip.
 *   convert_settle: for each loop, peak_deferred_bytes, the most
 *     tracked/deferred_bytes read (every 16 round trips, outside the timed
 *     calls) while it ran; settle_ms, the time from its last conversion
 *     until deferred_bytes read 0 (null: not within SETTLE_MS); and
 *     vmemmap_residue_bytes, the design's vmemmap_bytes then less before
 *     the loop (0: back to the fully private figure; null for
 *     upstream-4k).
 *   first_fault_ns: the file mapped MAP_SHARED; for --iters random pages the
 *     page is made shared, the first store to it is timed (an atomic store,
 *     emitted as written, like a volatile one) and it is made private again.
 *   prefault_ns_per_gib: the fully private file bound to memslot 1 at GPA
 *     4 GiB (userspace_addr the mapping above, 1 GiB aligned so that huge
 *     stage-2 mappings are allowed), KVM_PRE_FAULT_MEMORY over the whole
 *     slot on vCPU 0, per GiB.
 *   stage2_pages: the VM's pages_4k, pages_2m and pages_1g binary stats
 *     (KVM_GET_STATS_FD) after the pre-fault.
 *
 * A figure that could not be measured is null. A design whose file cannot
 * be created or allocated (ENOMEM: no free 1 GiB block, say, even after two
 * more tries behind a write to /proc/sys/vm/compact_memory, or memory.max
 * of gmem-bench's memory cgroup below the file's size, which is not tried
 * again) is all null, with "measured": false and the reason, as on stderr,
 * in "reason" (null for a measured design), and the run goes on. --phases names what runs
 * after fallocate: overhead (the fractions and the round trip), ranges2m,
 * convert4k and convert2m (PRESERVE and ZERO), fault, prefault, bulk; figures of
 * the phases left out are null. --sizes A,B,.. runs every design at each
 * size, the largest first (while memory is least fragmented), and the JSON
 * then holds one {"size_bytes", "designs"} per size, in increasing order,
 * under "sizes". --quick takes 100 samples
 * and only f = 0, 1/64 and 1 (the other fractions are null). --check prints
 * TAP checks of the figures (see check_design()) instead of the JSON, or,
 * with --out, besides it.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
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
#include <sys/utsname.h>

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

/* For __printf(), as the selftests have it. */
#include "../testing/selftests/kselftest.h"

#define PAGE_SZ		4096ULL
#define PAGE_BYTES	4096LL		/* the same, for signed arithmetic */
#define GRANULE		(256ULL << 10)	/* memory of one vmemmap page */
#define SZ_2M		(2ULL * 1024 * 1024)
#define SZ_64M		(64ULL * 1024 * 1024)
#define SZ_1G		(1024ULL * 1024 * 1024)
#define SLOT		1
#define SLOT_GPA	(4ULL << 30)	/* 1 GiB aligned, above the PCI hole */
#define SETTLE_MS	5000
#define ALLOC_TRIES	3	/* for a 1 GiB block */
#define MAPLE_NODE_SZ	256	/* sizeof(struct maple_node) */

#define SHARED		0ULL
#define PRIVATE		((__u64)KVM_MEMORY_ATTRIBUTE_PRIVATE)
#define ZERO		((__u64)KVM_SET_MEMORY_ATTRIBUTES2_ZERO)
#define PRESERVE	((__u64)KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE)
#define GT_FLAGS	(GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_GMEM_TRACK)

#define SYSFS		"/sys/kernel/mm/gmem_track"

/* Fixed seeds: every design converts the same pages. */
#define SEED_SWEEP	0x5eed000000000100ULL
#define SEED_2M_SWEEP	0x5eed000000000200ULL
#define SEED_LAT	0x5eed000000000300ULL
#define SEED_FAULT	0x5eed000000000400ULL

/* ---- designs and results ---- */

enum { DIR_TRACKED, DIR_STRUCT_PAGE, NR_DIRS };

struct design {
	const char *name;
	__u64 flags;
	__u64 chunk;		/* page_size: allocation unit of the file */
	int struct_page;	/* private memory keeps its struct pages */
	int dir;		/* sysfs directory, -1: not gmem_track */
};

static const struct design designs[] = {
	{ "upstream-4k", GUEST_MEMFD_FLAG_MMAP, PAGE_SZ, 1, -1 },
	{ "structpage-2m", GT_FLAGS | GUEST_MEMFD_FLAG_STRUCT_PAGE, SZ_2M, 1,
	  DIR_STRUCT_PAGE },
	{ "structpage-1g", GT_FLAGS | GUEST_MEMFD_FLAG_HUGE_1G |
	  GUEST_MEMFD_FLAG_STRUCT_PAGE, SZ_1G, 1, DIR_STRUCT_PAGE },
	{ "tracked-2m", GT_FLAGS | GUEST_MEMFD_FLAG_TRACKED, SZ_2M, 0,
	  DIR_TRACKED },
	{ "tracked-1g", GT_FLAGS | GUEST_MEMFD_FLAG_HUGE_1G |
	  GUEST_MEMFD_FLAG_TRACKED, SZ_1G, 0, DIR_TRACKED },
};

#define NR_DESIGNS	((int)ARRAY_SIZE(designs))

struct frac {
	const char *key;
	unsigned int num;
	unsigned int den;
	int quick;		/* measured with --quick too */
};

static const struct frac fracs[] = {
	{ "0", 0, 1, 1 },
	{ "0.001953", 1, 512, 0 },
	{ "0.015625", 1, 64, 1 },
	{ "0.125", 1, 8, 0 },
	{ "0.5", 1, 2, 0 },
	{ "1", 1, 1, 1 },
};

#define NR_FRAC		((int)ARRAY_SIZE(fracs))
#define FRAC_0		0
#define FRAC_64		2	/* 1/64: counters, 2 MiB ranges */

enum {
	LAT_4K_SH, LAT_4K_PR, LAT_2M_SH, LAT_2M_PR,
	LAT_4K_SH_Z, LAT_4K_PR_Z, LAT_2M_SH_Z, LAT_2M_PR_Z,
	LAT_4K_SH_R, LAT_4K_PR_R, LAT_64M_SH, LAT_64M_PR,
	NR_CONVERT,
	LAT_FAULT = NR_CONVERT,
	NR_LAT,
};

static const char * const lat_keys[NR_CONVERT] = {
	"4k_to_shared", "4k_to_private", "2m_to_shared", "2m_to_private",
	"4k_to_shared_zero", "4k_to_private_zero",
	"2m_to_shared_zero", "2m_to_private_zero",
	"4k_reuse_to_shared", "4k_reuse_to_private",
	"64m_to_shared", "64m_to_private",
};

/*
 * The conversion loops, one per pair of lat_keys: random units of the file
 * each converted once ("cold": their granule mostly has no struct pages),
 * or a few pages over and over, as a guest reuses its DMA buffers
 * ("reuse": a page converted back to private a moment before), or random
 * 64 MiB ranges ("bulk": a confidential guest's swiotlb, about 6 % of its
 * memory, converted at boot).
 */
#define NR_LOOPS	(NR_CONVERT / 2)
#define REUSE_PAGES	16
#define BULK_MAX	16	/* 64 MiB ranges per bulk loop */
#define BULK_QUICK	4	/* the same with --quick */

static const char * const loop_keys[NR_LOOPS] = {
	"4k", "2m", "4k_zero", "2m_zero", "4k_reuse", "64m",
};

/* sysfs vmemmap_events/: what the vmemmap changes of a loop cost. */
enum {
	EV_ALLOC, EV_FREE, EV_PT_COPY, EV_PT_FREE, EV_FLUSH, EV_RSV,
	EV_RSV_MISS, NR_EV,
};

static const char * const ev_files[NR_EV] = {
	"pages_allocated", "pages_freed", "pte_tables_copied",
	"pte_tables_freed", "tlb_flushes", "reserve_pages", "reserve_misses",
};

/* --phases: what run_design() measures after fallocate. */
enum {
	PH_OVERHEAD, PH_RANGES_2M, PH_CONVERT_4K, PH_CONVERT_2M, PH_FAULT,
	PH_PREFAULT, PH_BULK,
	NR_PHASES,
};

static const char * const phase_names[NR_PHASES] = {
	"overhead", "ranges2m", "convert4k", "convert2m", "fault", "prefault",
	"bulk",
};

/* A JSON number or null. */
struct val {
	int set;
	double v;
};

struct lat {
	struct val median;
	struct val p99;
};

/* Exact figures behind an overhead value, for --check. */
struct raw {
	int ok;
	long long vmemmap;	/* bytes, from nr_memmap */
	long long sysfs_vm;	/* bytes, delta of <design>/vmemmap_bytes */
	long long granules;	/* 256 KiB granules holding a shared page */
	long long units;	/* units converted (pages or 2 MiB ranges) */
};

struct result {
	const struct design *d;
	__u64 size;		/* of its file */
	char label[48];		/* its name, and its size in a sweep */
	int selected;
	int measured;		/* the file was allocated */
	char skip[192];		/* why not, when not */
	struct val overhead[NR_FRAC];
	struct val desc[NR_FRAC];
	struct val nodes[NR_FRAC];
	struct val ranges[NR_FRAC];
	struct val reserved;
	struct val roundtrip;
	struct val memfree_err;
	struct val fallocate_ns;
	struct val falloc_migrated;
	struct val prefault_ns;
	struct lat lat[NR_LAT];
	struct val counts[NR_LOOPS][NR_EV];	/* per round trip */
	/* After each loop: see settle_loop(). */
	struct val settle_ms[NR_LOOPS];
	struct val peak_deferred[NR_LOOPS];
	struct val residue[NR_LOOPS];
	struct val stage2[3];
	struct val ovh_2m;
	struct val memmap_fig;
	struct val sysfs_fig;
	struct raw frac_raw[NR_FRAC];
	struct raw rt_raw;
	struct raw r2m_raw;
};

#define MAX_SIZES	8

/* results[size][design], sizes in increasing order */
static struct result results[MAX_SIZES][NR_DESIGNS];

static struct {
	__u64 size;
	__u64 sizes[MAX_SIZES];	/* --sizes, increasing; else { size } */
	int nr_sizes;
	int sweep;		/* --sizes given: the JSON has "sizes" */
	long iters;
	int iters_set;
	int quick;
	int check;
	unsigned int phases;	/* 1 << PH_* */
	const char *perf_ctl;	/* perf's control FIFO, ",", its ack FIFO */
	int perf_falloc;	/* perf covers fallocate(), no phase runs */
	const char *out;
} opt = {
	.size = 2 * SZ_1G,
	.iters = 1000,
	.phases = (1U << NR_PHASES) - 1,
};

static int kvm_fd = -1;
static __u64 *samples[NR_LAT];	/* opt.iters each */
static __u64 *picks;		/* opt.iters */
static __u64 t_prog;

static int want(int phase)
{
	return !!(opt.phases & (1U << phase));
}

/* ---- small helpers ---- */

static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = {
		.tv_sec = ms / 1000,
		.tv_nsec = (ms % 1000) * 1000000L,
	};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static void val_set(struct val *x, double v)
{
	x->set = 1;
	x->v = v;
}

static __u64 min_u64(__u64 a, __u64 b)
{
	return a < b ? a : b;
}

static long long max0(long long x)
{
	return x > 0 ? x : 0;
}

static __printf(1, 2) void warnx(const char *fmt, ...)
{
	va_list ap;

	fputs("gmem-bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- random numbers: splitmix64, fixed seeds ---- */

static __u64 rng_state;

static void rng_seed(__u64 seed)
{
	rng_state = seed;
}

static __u64 rng_next(void)
{
	__u64 z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double rng_u01(void)
{
	return (double)(rng_next() >> 11) * (1.0 / 9007199254740992.0);
}

/*
 * Selection sampling (Knuth's algorithm S): unit t of n is taken when
 * (n - t) * U < k - m, m the units taken so far. Exactly k units come out,
 * in increasing order, each k-subset equally likely.
 */
static int rng_take(__u64 n, __u64 t, __u64 k, __u64 m)
{
	return (double)(n - t) * rng_u01() < (double)(k - m);
}

/* @k distinct units out of @n, uniformly, in random order, into @out. */
static void pick(__u64 *out, __u64 k, __u64 n, __u64 seed)
{
	__u64 t, m = 0, i, j, tmp;

	rng_seed(seed);
	for (t = 0; t < n && m < k; t++)
		if (rng_take(n, t, k, m))
			out[m++] = t;
	for (i = k; i > 1; i--) {
		j = rng_next() % i;
		tmp = out[i - 1];
		out[i - 1] = out[j];
		out[j] = tmp;
	}
}

/* ---- counters ---- */

enum {
	GT_CHUNKS_2M, GT_CHUNKS_1G, GT_PRIVATE, GT_SHARED, GT_VMEMMAP,
	GT_VMEMMAP_FREED, GT_RANGES, GT_DESC, NR_GT,
};

static const char * const gt_files[NR_GT] = {
	"chunks_2M", "chunks_1G", "private_bytes", "shared_bytes",
	"vmemmap_bytes", "vmemmap_freed_bytes", "ranges", "descriptor_bytes",
};

static const char * const gt_dirs[NR_DIRS] = { "tracked", "struct_page" };

enum {
	TOP_SENTINEL, TOP_PARKED_2M, TOP_PARKED_1G, TOP_USED_2M, TOP_USED_1G,
	TOP_FREE_2M, TOP_FREE_1G, TOP_PFN_TREE, TOP_RSV_USED_2M,
	TOP_RSV_USED_1G, TOP_VRES, NR_TOP,
};

static const char * const top_files[NR_TOP] = {
	"sentinel_pages", "parked_2M", "parked_1G", "used_2M_bytes",
	"used_1G_bytes", "free_2M_bytes", "free_1G_bytes", "pfn_tree_bytes",
	"reserve/used_2M_bytes", "reserve/used_1G_bytes",
	"vmemmap_reserve_bytes",
};

struct snap {
	long long memmap;		/* pages */
	long long memfree_kb;
	long long slab_kb;
	long long pagetables_kb;
	long long gt[NR_DIRS][NR_GT];
	long long top[NR_TOP];
};

/* Counter files are read here: no allocation while measuring. */
static char fbuf[1 << 16];

/* The whole of @path into fbuf, NUL-terminated; its length or -1. */
static long slurp(const char *path)
{
	long len = 0;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while (len < (long)sizeof(fbuf) - 1) {
		n = read(fd, fbuf + len, sizeof(fbuf) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += n;
	}
	close(fd);
	fbuf[len] = '\0';
	return len;
}

/* The number after "key" (then ':' or blanks) at the start of a line. */
static int find_key(const char *key, long long *val)
{
	size_t kl = strlen(key);
	const char *p = fbuf;

	while (p && *p) {
		if (!strncmp(p, key, kl) &&
		    (p[kl] == ':' || p[kl] == ' ' || p[kl] == '\t')) {
			*val = strtoll(p + kl + 1, NULL, 10);
			return 0;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -1;
}

static long long read_ll(const char *path)
{
	if (slurp(path) <= 0)
		return 0;
	return strtoll(fbuf, NULL, 10);
}

static int write_str(const char *path, const char *s)
{
	ssize_t len = strlen(s);
	int fd, ret = 0;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, s, len) != len)
		ret = -errno;
	close(fd);
	return ret;
}

/*
 * memory.max of our memory cgroup (cgroup v2), or -1 when there is none
 * or it is "max". Not for use while measuring: it reads into fbuf.
 */
static long long memcg_max(void)
{
	char path[320], *p, *nl;

	if (slurp("/proc/self/cgroup") <= 0)
		return -1;
	p = strstr(fbuf, "0::");
	if (p != fbuf && (!p || p[-1] != '\n'))
		return -1;
	p += 3;
	nl = strchr(p, '\n');
	if (nl)
		*nl = '\0';
	snprintf(path, sizeof(path), "/sys/fs/cgroup%s/memory.max", p);
	if (slurp(path) <= 0 || fbuf[0] < '0' || fbuf[0] > '9')
		return -1;
	return strtoll(fbuf, NULL, 10);
}

/*
 * Tell the perf that runs us (perf stat or record -D -1 --control
 * fifo:CTL,ACK) to enable or disable its events, and wait for its ack, so
 * that it counts the conversion phases and nothing else.
 */
static void perf_ctl(const char *cmd)
{
	static int ctl = -1, ack = -1;
	struct pollfd pfd = { .events = POLLIN };
	char path[256], *comma, buf[8];
	ssize_t len = strlen(cmd);

	if (!opt.perf_ctl)
		return;
	if (ctl < 0) {
		snprintf(path, sizeof(path), "%s", opt.perf_ctl);
		comma = strchr(path, ',');
		if (!comma) {
			warnx("--perf-ctl wants CTL,ACK");
			exit(1);
		}
		*comma = 0;
		ctl = open(path, O_WRONLY | O_CLOEXEC);
		ack = open(comma + 1, O_RDONLY | O_CLOEXEC);
		if (ctl < 0 || ack < 0) {
			warnx("--perf-ctl %s: %s", opt.perf_ctl, strerror(errno));
			exit(1);
		}
	}
	/* perf answers "ack\n" once the command took effect: wait 10 s. */
	if (write(ctl, cmd, len) != len || write(ctl, "\n", 1) != 1) {
		warnx("perf control FIFO: %s", strerror(errno));
		exit(1);
	}
	pfd.fd = ack;
	if (poll(&pfd, 1, 10000) != 1 || read(ack, buf, sizeof(buf)) <= 0) {
		warnx("perf did not acknowledge '%s' on its ack FIFO", cmd);
		exit(1);
	}
}

static void read_snap(struct snap *s)
{
	static int warned_refresh, warned_memmap;
	long long a = 0, b = 0;
	char path[128];
	int d, i, missing;

	memset(s, 0, sizeof(*s));
	/* Fold the per-CPU vmstat diffs, or memmap lags behind. */
	if (write_str("/proc/sys/vm/stat_refresh", "1") && !warned_refresh++)
		warnx("cannot write /proc/sys/vm/stat_refresh (not root?): counters may lag");
	if (slurp("/proc/vmstat") > 0) {
		/* Either may be absent (then 0), not both. */
		missing = find_key("nr_memmap_pages", &a);
		missing += find_key("nr_memmap_boot_pages", &b);
		if (missing == -2 && !warned_memmap++)
			warnx("no nr_memmap_pages or nr_memmap_boot_pages in /proc/vmstat");
		s->memmap = a + b;
	}
	/*
	 * Free pages on the per-CPU lists are not in MemFree; freed vmemmap
	 * and chunk pages land there first. Count them, from /proc/zoneinfo.
	 */
	if (slurp("/proc/zoneinfo") > 0) {
		const char *p = fbuf;

		while ((p = strstr(p, "\n              count: "))) {
			p += strlen("\n              count: ");
			s->memfree_kb += strtoll(p, NULL, 10) * 4;
		}
	}
	if (slurp("/proc/meminfo") > 0) {
		a = 0;
		find_key("MemFree", &a);
		s->memfree_kb += a;
		find_key("PageTables", &s->pagetables_kb);
		a = 0;
		b = 0;
		find_key("SUnreclaim", &a);
		find_key("SReclaimable", &b);
		s->slab_kb = a + b;
	}
	for (d = 0; d < NR_DIRS; d++) {
		for (i = 0; i < NR_GT; i++) {
			snprintf(path, sizeof(path), SYSFS "/%s/%s", gt_dirs[d],
				 gt_files[i]);
			s->gt[d][i] = read_ll(path);
		}
	}
	for (i = 0; i < NR_TOP; i++) {
		snprintf(path, sizeof(path), SYSFS "/%s", top_files[i]);
		s->top[i] = read_ll(path);
	}
}

static int same_chunks(const struct snap *a, const struct snap *b)
{
	int d;

	for (d = 0; d < NR_DIRS; d++) {
		if (a->gt[d][GT_CHUNKS_2M] != b->gt[d][GT_CHUNKS_2M] ||
		    a->gt[d][GT_CHUNKS_1G] != b->gt[d][GT_CHUNKS_1G])
			return 0;
	}
	return 1;
}

/* ---- one design's file ---- */

struct bench {
	const struct design *d;
	struct result *r;
	__u64 size;
	__u64 pages;		/* size / 4 KiB */
	double gib;		/* size / 1 GiB */
	int vm_fd;
	int vcpu_fd;
	int fd;
	int have_base;
	char *mem;		/* MAP_SHARED mapping, 1 GiB aligned */
	__u64 falloc_ns;
	long long falloc_migrated;
	struct snap base;
};

static __printf(3, 4) void progress(const struct bench *b, __u64 t_phase,
				    const char *fmt, ...)
{
	char buf[320];
	va_list ap;
	__u64 t = now_ns();

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "gmem-bench: %s: %s (%.1f s; %.1f s in all)\n",
		b->r->label, buf, (t - t_phase) / 1e9, (t - t_prog) / 1e9);
}

static __printf(2, 3) void note(const struct bench *b, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "gmem-bench: %s: ", b->r->label);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* The design is not measured: all its figures stay null. */
static __printf(2, 3) void skip(struct bench *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(b->r->skip, sizeof(b->r->skip), fmt, ap);
	va_end(ap);
	note(b, "not measured, its figures are null: %s", b->r->skip);
}

static int check_cap(int fd, long cap)
{
	return ioctl(fd, KVM_CHECK_EXTENSION, cap);
}

static long attrs_retries;

/*
 * KVM_SET_MEMORY_ATTRIBUTES2 on the file; 0 or -errno. EAGAIN (a page of
 * the range still referenced) and EINTR are retried for up to a second.
 */
static int set_attrs(int fd, __u64 off, __u64 len, __u64 attrs, __u64 flags)
{
	struct kvm_memory_attributes2 a;
	int tries = 0;

	for (;;) {
		memset(&a, 0, sizeof(a));
		a.offset = off;
		a.size = len;
		a.attributes = attrs;
		a.flags = flags;
		if (!ioctl(fd, KVM_SET_MEMORY_ATTRIBUTES2, &a))
			return 0;
		if ((errno != EAGAIN && errno != EINTR) || ++tries > 1000)
			return -errno;
		attrs_retries++;
		if (errno == EAGAIN)
			sleep_ms(1);
	}
}

static int all_private(struct bench *b)
{
	int ret = set_attrs(b->fd, 0, b->size, PRIVATE, PRESERVE);

	if (ret)
		note(b, "cannot make the file private again: %s", strerror(-ret));
	return ret;
}

/* ---- overhead ---- */

struct ovh {
	long long memmap_pages;	/* delta */
	long long vmemmap;
	long long pagetables;
	long long slab;
	long long memfree_drop;
	long long sysfs_vm;
	long long desc;		/* -1: the design has no descriptor */
	long long nodes;	/* of the file's descriptor; -1: none */
	long long ranges;	/* -1: no descriptor */
	long long reserved;	/* bytes of the file from the reservation */
	long long vres;		/* growth of the vmemmap reserve, bytes */
	long long total;
	int settle_ms;		/* waited for deferred depopulation; -1: still waiting */
};

/*
 * Wait, up to SETTLE_MS, until no vmemmap waits for deferred depopulation
 * (tracked/deferred_bytes reads 0, or is not there): the figures are
 * those of the settled state. Returns the milliseconds taken, or -1.
 */
static int settle_deferred(void)
{
	int ms;

	for (ms = 0; ms <= SETTLE_MS; ms++) {
		if (read_ll(SYSFS "/tracked/deferred_bytes") <= 0)
			return ms;
		usleep(1000);
	}
	return -1;
}

static void measure(const struct bench *b, struct ovh *o)
{
	const struct snap *base = &b->base;
	struct snap now;

	o->settle_ms = settle_deferred();
	read_snap(&now);
	o->memmap_pages = now.memmap - base->memmap;
	o->reserved = now.top[TOP_RSV_USED_2M] - base->top[TOP_RSV_USED_2M] +
		      now.top[TOP_RSV_USED_1G] - base->top[TOP_RSV_USED_1G];
	/* Reserved chunks never had struct pages. */
	o->vmemmap = ((long long)b->size - o->reserved) / 64 +
		     o->memmap_pages * PAGE_BYTES;
	o->pagetables = (now.pagetables_kb - base->pagetables_kb) * 1024;
	o->slab = (now.slab_kb - base->slab_kb) * 1024;
	o->memfree_drop = (base->memfree_kb - now.memfree_kb) * 1024;
	o->vres = now.top[TOP_VRES] - base->top[TOP_VRES];
	o->sysfs_vm = 0;
	o->desc = -1;
	o->nodes = -1;
	o->ranges = -1;
	if (b->d->dir >= 0) {
		o->sysfs_vm = now.gt[b->d->dir][GT_VMEMMAP] -
			      base->gt[b->d->dir][GT_VMEMMAP];
		o->desc = now.gt[b->d->dir][GT_DESC] -
			  base->gt[b->d->dir][GT_DESC] +
			  now.top[TOP_PFN_TREE] - base->top[TOP_PFN_TREE];
		o->nodes = (now.gt[b->d->dir][GT_DESC] -
			    base->gt[b->d->dir][GT_DESC]) / MAPLE_NODE_SZ;
		o->ranges = now.gt[b->d->dir][GT_RANGES] -
			    base->gt[b->d->dir][GT_RANGES];
	}
	o->total = o->vmemmap + max0(o->pagetables) + max0(o->slab);
}

static void keep_raw(struct raw *raw, const struct ovh *o, long long gran,
		     long long units)
{
	raw->ok = 1;
	raw->vmemmap = o->vmemmap;
	raw->sysfs_vm = o->sysfs_vm;
	raw->granules = gran;
	raw->units = units;
}

static void report_ovh(const struct bench *b, __u64 t, const char *what,
		       const struct ovh *o, long long ioctls)
{
	char desc[40] = "", settle[48] = "";

	if (o->desc >= 0)
		snprintf(desc, sizeof(desc), " (descriptor %+lld)", o->desc);
	if (o->settle_ms)
		snprintf(settle, sizeof(settle), o->settle_ms < 0 ?
			 ", deferred vmemmap still waiting" :
			 ", deferred vmemmap settled in %d ms", o->settle_ms);
	progress(b, t,
		 "%s: %lld ioctls, vmemmap %lld (%+lld pg), PT %+lld, slab %+lld%s: %.0f B/GiB%s",
		 what, ioctls, o->vmemmap, o->memmap_pages, o->pagetables,
		 o->slab, desc, o->total / b->gib, settle);
}

static int flush_run(struct bench *b, __u64 unit, __u64 first, __u64 len,
		     long long *ioctls)
{
	(*ioctls)++;
	return set_attrs(b->fd, first * unit, len * unit, SHARED, PRESERVE);
}

/*
 * Make @k of the file's units of @unit bytes shared, chosen uniformly with
 * @seed; one ioctl per run of adjacent units. Counts the ioctls and the
 * 256 KiB granules (the memory of one vmemmap page) holding a shared page.
 * Returns 0 or -errno.
 */
static int share_random(struct bench *b, __u64 unit, __u64 k, __u64 seed,
			long long *ioctls, long long *granules)
{
	__u64 n = b->size / unit, t, m = 0, run = 0, run_len = 0;
	long long g0, g1, last_g = -1;
	int ret;

	*ioctls = 0;
	*granules = 0;
	rng_seed(seed);
	for (t = 0; t < n && m < k; t++) {
		if (!rng_take(n, t, k, m)) {
			if (run_len) {
				ret = flush_run(b, unit, run, run_len, ioctls);
				if (ret)
					return ret;
				run_len = 0;
			}
			continue;
		}
		m++;
		if (!run_len)
			run = t;
		run_len++;
		g0 = t * unit / GRANULE;
		g1 = ((t + 1) * unit - 1) / GRANULE;
		if (g0 <= last_g)
			g0 = last_g + 1;
		if (g1 >= g0)
			*granules += g1 - g0 + 1;
		last_g = g1;
	}
	if (run_len)
		return flush_run(b, unit, run, run_len, ioctls);
	return 0;
}

/* The fraction sweep and the round trip; -1 if the file's state is lost. */
static int phase_overhead(struct bench *b)
{
	struct result *r = b->r;
	long long ioctls = 0, gran = 0, expect;
	char what[64];
	struct ovh o;
	__u64 t, k;
	int i, ret;

	for (i = 0; i < NR_FRAC; i++) {
		if (opt.quick && !fracs[i].quick)
			continue;
		t = now_ns();
		k = (b->pages * fracs[i].num + fracs[i].den / 2) / fracs[i].den;
		snprintf(what, sizeof(what), "overhead f=%s (%llu pages)",
			 fracs[i].key, (unsigned long long)k);
		ret = share_random(b, PAGE_SZ, k, SEED_SWEEP + i, &ioctls, &gran);
		if (ret) {
			note(b, "%s: conversion to shared failed: %s", what,
			     strerror(-ret));
		} else {
			measure(b, &o);
			val_set(&r->overhead[i], o.total / b->gib);
			if (o.desc >= 0) {
				val_set(&r->desc[i], o.desc / b->gib);
				val_set(&r->nodes[i], o.nodes);
				val_set(&r->ranges[i], o.ranges);
			}
			keep_raw(&r->frac_raw[i], &o, gran, k);
		}
		/* Back to private for the next fraction: one ioctl. */
		if (k && all_private(b))
			return -1;
		if (!ret)
			report_ovh(b, t, what, &o, ioctls);
		if (!ret && i == FRAC_0) {
			/*
			 * The vmemmap reserve is the host's, not the
			 * file's (filled when the first tracked file
			 * appears): in MemFree, not in the overhead.
			 */
			expect = (long long)b->size - o.reserved +
				 o.memmap_pages * PAGE_BYTES + o.pagetables +
				 o.slab + o.vres;
			val_set(&r->memfree_err,
				(o.memfree_drop - expect) / b->gib);
			note(b,
			     "MemFree dropped %lld B, expected %lld B (the vmemmap reserve's %+lld B included): %+.0f B/GiB unaccounted",
			     o.memfree_drop, expect, o.vres,
			     r->memfree_err.v);
		}
		if (!ret && i == FRAC_64) {
			val_set(&r->memmap_fig, o.vmemmap);
			if (b->d->dir >= 0)
				val_set(&r->sysfs_fig, o.sysfs_vm);
			if (b->d->dir >= 0)
				note(b, "f=1/64: vmemmap %lld (memmap) %lld (sysfs), %lld granules",
				     o.vmemmap, o.sysfs_vm, gran);
		}
	}

	t = now_ns();
	measure(b, &o);
	val_set(&r->roundtrip, o.total / b->gib);
	keep_raw(&r->rt_raw, &o, 0, 0);
	report_ovh(b, t, "overhead after the round trip", &o, 0);
	return 0;
}

static int phase_2m_ranges(struct bench *b)
{
	__u64 n = b->size / SZ_2M, k = (n + 32) / 64, t = now_ns();
	long long ioctls, gran;
	struct ovh o;
	int ret;

	ret = share_random(b, SZ_2M, k, SEED_2M_SWEEP, &ioctls, &gran);
	if (ret) {
		note(b, "2M ranges f=1/64: conversion to shared failed: %s",
		     strerror(-ret));
	} else {
		measure(b, &o);
		val_set(&b->r->ovh_2m, o.total / b->gib);
		keep_raw(&b->r->r2m_raw, &o, gran, k);
	}
	if (k && all_private(b))
		return -1;
	if (!ret)
		report_ovh(b, t, "overhead f=1/64 as 2M ranges", &o, ioctls);
	return 0;
}

/* ---- latency ---- */

static int cmp_u64(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return x < y ? -1 : x > y;
}

/* Median and p99 (nearest rank) of @n samples; sorts them. */
static void summarize(struct lat *l, __u64 *s, __u64 n)
{
	if (!n)
		return;
	qsort(s, n, sizeof(*s), cmp_u64);
	if (n % 2)
		val_set(&l->median, s[n / 2]);
	else
		val_set(&l->median, (s[n / 2 - 1] + s[n / 2]) / 2.0);
	val_set(&l->p99, s[(99 * n + 99) / 100 - 1]);
}

static void read_events(long long *ev)
{
	char path[128];
	int i;

	for (i = 0; i < NR_EV; i++) {
		snprintf(path, sizeof(path), SYSFS "/vmemmap_events/%s",
			 ev_files[i]);
		ev[i] = read_ll(path);
	}
}

/* vmemmap_bytes of the design's sysfs directory, or -1 if it has none. */
static long long design_vmemmap(const struct bench *b)
{
	char path[128];

	if (b->d->dir < 0)
		return -1;
	snprintf(path, sizeof(path), SYSFS "/%s/vmemmap_bytes",
		 gt_dirs[b->d->dir]);
	return read_ll(path);
}

/*
 * After a loop's last conversion back to private: how long until nothing
 * waits for deferred depopulation (ms from the end of the loop, or -1
 * after SETTLE_MS), and the design's vmemmap left then, above what it was
 * before the loop (the residue, 0 when the file is fully private again
 * with the struct pages it had). @vm0 is that figure before the loop.
 */
static void settle_loop(struct bench *b, int loop, long long vm0,
			long long peak)
{
	struct result *r = b->r;
	int ms = settle_deferred();

	val_set(&r->peak_deferred[loop], peak);
	if (ms >= 0)
		val_set(&r->settle_ms[loop], ms);
	if (vm0 >= 0)
		val_set(&r->residue[loop], design_vmemmap(b) - vm0);
}

/*
 * Units of @unit bytes, each made shared and private again with @flags,
 * both timed into samples[@i_sh] and samples[@i_pr]: random ones, or with
 * @reuse, the same @reuse random ones in turn. The vmemmap events of the
 * loop, the deferred depopulation that follows it included, go into
 * counts[@loop], per round trip.
 */
static int lat_set(struct bench *b, __u64 unit, __u64 flags, __u64 seed,
		   int i_sh, int i_pr, int loop, __u64 reuse)
{
	__u64 n = b->size / unit, k = min_u64(opt.iters, n), j, off, t0, t1;
	__u64 t = now_ns();
	struct result *r = b->r;
	long long ev0[NR_EV], ev1[NR_EV], vm0, peak = 0, w;
	int ret, i;

	if (!n) {
		note(b, "%s: the file is smaller than one unit", lat_keys[i_sh]);
		return 0;
	}
	if (reuse) {
		reuse = min_u64(reuse, n);
		k = opt.iters;
	}
	/* A 64 MiB conversion of upstream-4k takes seconds under TCG. */
	if (unit >= SZ_64M)
		k = min_u64(k, opt.quick ? BULK_QUICK : BULK_MAX);
	pick(picks, reuse ? reuse : k, n, seed);
	settle_deferred();
	read_events(ev0);
	vm0 = design_vmemmap(b);
	for (j = 0; j < k; j++) {
		off = picks[reuse ? j % reuse : j] * unit;
		t0 = now_ns();
		ret = set_attrs(b->fd, off, unit, SHARED, flags);
		t1 = now_ns();
		if (ret) {
			note(b, "%s at %#llx: %s", lat_keys[i_sh],
			     (unsigned long long)off, strerror(-ret));
			return 0;
		}
		samples[i_sh][j] = t1 - t0;
		t0 = now_ns();
		ret = set_attrs(b->fd, off, unit, PRIVATE, flags);
		t1 = now_ns();
		if (ret) {
			note(b, "%s at %#llx: %s", lat_keys[i_pr],
			     (unsigned long long)off, strerror(-ret));
			return all_private(b);
		}
		samples[i_pr][j] = t1 - t0;
		/* What waits for depopulation, outside the timed calls. */
		if (j % 16 == 15 || j == k - 1) {
			w = read_ll(SYSFS "/tracked/deferred_bytes");
			peak = w > peak ? w : peak;
		}
	}
	summarize(&r->lat[i_sh], samples[i_sh], k);
	summarize(&r->lat[i_pr], samples[i_pr], k);
	settle_loop(b, loop, vm0, peak);
	read_events(ev1);
	for (i = 0; i < NR_EV; i++)
		val_set(&r->counts[loop][i], (double)(ev1[i] - ev0[i]) / k);
	progress(b, t,
		 "%s/%s x %llu: median %.0f/%.0f ns, p99 %.0f/%.0f ns; per round trip: vmemmap pages +%.2f -%.2f (%.2f from the reserve, %.2f allocated), PTE tables copied %.2f freed %.2f, TLB flushes %.2f",
		 lat_keys[i_sh], lat_keys[i_pr], (unsigned long long)k,
		 r->lat[i_sh].median.v, r->lat[i_pr].median.v,
		 r->lat[i_sh].p99.v, r->lat[i_pr].p99.v,
		 r->counts[loop][EV_ALLOC].v, r->counts[loop][EV_FREE].v,
		 r->counts[loop][EV_RSV].v, r->counts[loop][EV_RSV_MISS].v,
		 r->counts[loop][EV_PT_COPY].v, r->counts[loop][EV_PT_FREE].v,
		 r->counts[loop][EV_FLUSH].v);
	progress(b, t,
		 "%s loop: at most %.0f B of vmemmap waited; settled %.0f ms after the last conversion, %.0f B of vmemmap left",
		 loop_keys[loop], r->peak_deferred[loop].v,
		 r->settle_ms[loop].set ? r->settle_ms[loop].v : -1.0,
		 r->residue[loop].set ? r->residue[loop].v : 0.0);
	return 0;
}

static int phase_convert(struct bench *b)
{
	static const struct {
		__u64 unit;
		__u64 flags;
		int sh;
		int pr;
		int phase;
		__u64 reuse;
	} sets[NR_LOOPS] = {
		{ PAGE_SZ, PRESERVE, LAT_4K_SH, LAT_4K_PR, PH_CONVERT_4K, 0 },
		{ SZ_2M, PRESERVE, LAT_2M_SH, LAT_2M_PR, PH_CONVERT_2M, 0 },
		{ PAGE_SZ, ZERO, LAT_4K_SH_Z, LAT_4K_PR_Z, PH_CONVERT_4K, 0 },
		{ SZ_2M, ZERO, LAT_2M_SH_Z, LAT_2M_PR_Z, PH_CONVERT_2M, 0 },
		{ PAGE_SZ, PRESERVE, LAT_4K_SH_R, LAT_4K_PR_R, PH_CONVERT_4K,
		  REUSE_PAGES },
		{ SZ_64M, PRESERVE, LAT_64M_SH, LAT_64M_PR, PH_BULK, 0 },
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(sets); i++) {
		if (!want(sets[i].phase))
			continue;
		if (lat_set(b, sets[i].unit, sets[i].flags, SEED_LAT + i,
			    sets[i].sh, sets[i].pr, i, sets[i].reuse))
			return -1;
	}
	return 0;
}

/* ---- first fault ---- */

static sigjmp_buf bus_jmp;
static int bus_armed;

static void on_sigbus(int sig)
{
	(void)sig;
	if (__atomic_load_n(&bus_armed, __ATOMIC_SEQ_CST)) {
		__atomic_store_n(&bus_armed, 0, __ATOMIC_SEQ_CST);
		siglongjmp(bus_jmp, 1);
	}
	/* Not expected: die of it on return. */
	signal(SIGBUS, SIG_DFL);
}

/* ns taken by one store to @p, or -1 if it raised SIGBUS. */
static long long timed_store(char *p)
{
	__u64 t0, t1;

	if (sigsetjmp(bus_jmp, 0))
		return -1;
	__atomic_store_n(&bus_armed, 1, __ATOMIC_SEQ_CST);
	t0 = now_ns();
	/* The store stays between the two clock reads. */
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	__atomic_store_n((__u64 *)p, t0, __ATOMIC_RELAXED);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	t1 = now_ns();
	__atomic_store_n(&bus_armed, 0, __ATOMIC_SEQ_CST);
	return t1 - t0;
}

/*
 * Map the file MAP_SHARED at a 1 GiB aligned address, as a memslot needs
 * for 1 GiB stage-2 mappings: reserve S + 1 GiB, map the file over the
 * aligned part, give back the rest.
 */
static int map_file(struct bench *b)
{
	size_t len = b->size + SZ_1G;
	char *res, *al, *end;
	void *p;
	int ret;

	res = mmap(NULL, len, PROT_NONE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (res == MAP_FAILED)
		return -errno;
	al = (char *)(((uintptr_t)res + SZ_1G - 1) & ~(uintptr_t)(SZ_1G - 1));
	p = mmap(al, b->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		 b->fd, 0);
	if (p == MAP_FAILED) {
		ret = -errno;
		munmap(res, len);
		return ret;
	}
	end = res + len;
	if (al > res)
		munmap(res, al - res);
	if (end > al + b->size)
		munmap(al + b->size, end - (al + b->size));
	b->mem = al;
	return 0;
}

static int phase_first_fault(struct bench *b)
{
	__u64 k = min_u64(opt.iters, b->pages), j, off, t = now_ns();
	struct result *r = b->r;
	long long ns;
	int ret;

	pick(picks, k, b->pages, SEED_FAULT);
	for (j = 0; j < k; j++) {
		off = picks[j] * PAGE_SZ;
		ret = set_attrs(b->fd, off, PAGE_SZ, SHARED, PRESERVE);
		if (ret) {
			note(b, "first fault: to shared at %#llx: %s",
			     (unsigned long long)off, strerror(-ret));
			return 0;
		}
		ns = timed_store(b->mem + off);
		ret = set_attrs(b->fd, off, PAGE_SZ, PRIVATE, PRESERVE);
		if (ns < 0) {
			note(b, "first fault: SIGBUS writing shared offset %#llx",
			     (unsigned long long)off);
			return ret ? all_private(b) : 0;
		}
		if (ret) {
			note(b, "first fault: to private at %#llx: %s",
			     (unsigned long long)off, strerror(-ret));
			return all_private(b);
		}
		samples[LAT_FAULT][j] = ns;
	}
	summarize(&r->lat[LAT_FAULT], samples[LAT_FAULT], k);
	progress(b, t, "first fault x %llu: median %.0f ns, p99 %.0f ns",
		 (unsigned long long)k, r->lat[LAT_FAULT].median.v,
		 r->lat[LAT_FAULT].p99.v);
	return 0;
}

/* ---- KVM_PRE_FAULT_MEMORY and stage-2 statistics ---- */

static int pread_full(int fd, void *buf, size_t len, off_t off)
{
	ssize_t n;
	size_t got = 0;

	while (got < len) {
		n = pread(fd, (char *)buf + got, len - got, off + got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n ? -errno : -EIO;
		got += n;
	}
	return 0;
}

/* The VM's pages_4k, pages_2m and pages_1g binary stats into @out. */
static int read_stage2_stats(int vm_fd, long long out[3])
{
	static const char * const names[3] = {
		"pages_4k", "pages_2m", "pages_1g",
	};
	struct kvm_stats_header h;
	struct kvm_stats_desc d;
	size_t dsz;
	char *buf = NULL, *name;
	int sfd, ret, found = 0, i, j;
	__u64 v;

	sfd = ioctl(vm_fd, KVM_GET_STATS_FD, NULL);
	if (sfd < 0)
		return -errno;
	ret = pread_full(sfd, &h, sizeof(h), 0);
	if (ret)
		goto out;
	dsz = sizeof(struct kvm_stats_desc) + h.name_size;
	buf = malloc(dsz * h.num_desc);
	ret = -ENOMEM;
	if (!buf)
		goto out;
	ret = pread_full(sfd, buf, dsz * h.num_desc, h.desc_offset);
	if (ret)
		goto out;
	for (i = 0; i < (int)h.num_desc; i++) {
		memcpy(&d, buf + i * dsz, sizeof(d));
		name = buf + i * dsz + sizeof(struct kvm_stats_desc);
		for (j = 0; j < 3; j++) {
			if (strnlen(name, h.name_size) == h.name_size ||
			    strcmp(name, names[j]))
				continue;
			ret = pread_full(sfd, &v, sizeof(v),
					 h.data_offset + d.offset);
			if (ret)
				goto out;
			out[j] = v;
			found |= 1 << j;
		}
	}
	ret = found == 7 ? 0 : -ENOENT;
out:
	free(buf);
	close(sfd);
	return ret;
}

static int phase_prefault(struct bench *b)
{
	struct kvm_userspace_memory_region2 reg = {
		.slot = SLOT,
		.flags = KVM_MEM_GUEST_MEMFD,
		.guest_phys_addr = SLOT_GPA,
		.memory_size = b->size,
		.userspace_addr = (uintptr_t)b->mem,
		.guest_memfd_offset = 0,
		.guest_memfd = b->fd,
	};
	struct kvm_pre_fault_memory pf = {
		.gpa = SLOT_GPA,
		.size = b->size,
	};
	struct result *r = b->r;
	long long st[3] = { 0, 0, 0 };
	__u64 t = now_ns(), t0, t1, left;
	long stalls = 0;
	int ret, i;

	if (b->vcpu_fd < 0) {
		note(b, "pre-fault: no vCPU");
		return 0;
	}
	if (check_cap(b->vm_fd, KVM_CAP_PRE_FAULT_MEMORY) <= 0) {
		note(b, "pre-fault: no KVM_CAP_PRE_FAULT_MEMORY");
		return 0;
	}
	if (ioctl(b->vm_fd, KVM_SET_USER_MEMORY_REGION2, &reg)) {
		note(b, "pre-fault: KVM_SET_USER_MEMORY_REGION2: %s",
		     strerror(errno));
		return 0;
	}
	t0 = now_ns();
	while (pf.size) {
		left = pf.size;
		ret = ioctl(b->vcpu_fd, KVM_PRE_FAULT_MEMORY, &pf);
		if (ret < 0 && errno != EINTR && errno != EAGAIN) {
			note(b, "pre-fault: KVM_PRE_FAULT_MEMORY at gpa %#llx: %s",
			     (unsigned long long)pf.gpa, strerror(errno));
			return 0;
		}
		stalls = pf.size < left ? 0 : stalls + 1;
		if (stalls > 100000) {
			note(b, "pre-fault: no progress at gpa %#llx",
			     (unsigned long long)pf.gpa);
			return 0;
		}
	}
	t1 = now_ns();
	val_set(&r->prefault_ns, (t1 - t0) / b->gib);

	ret = read_stage2_stats(b->vm_fd, st);
	if (ret) {
		note(b, "pre-fault: VM stats pages_4k/2m/1g: %s", strerror(-ret));
	} else {
		for (i = 0; i < 3; i++)
			val_set(&r->stage2[i], st[i]);
	}
	progress(b, t, "pre-fault: %.0f ns/GiB, stage-2 pages 4k %lld 2m %lld 1g %lld",
		 r->prefault_ns.v, st[0], st[1], st[2]);
	return 0;
}

/* ---- one design ---- */

static void teardown(struct bench *b)
{
	if (b->mem)
		munmap(b->mem, b->size);
	b->mem = NULL;
	if (b->fd >= 0)
		close(b->fd);
	b->fd = -1;
	if (b->vcpu_fd >= 0)
		close(b->vcpu_fd);
	b->vcpu_fd = -1;
	if (b->vm_fd >= 0)
		close(b->vm_fd);
	b->vm_fd = -1;
}

/* Wait for the chunks to be given back (the last fput may be deferred). */
static void settle(const struct bench *b)
{
	struct snap now;
	int ms;

	if (!b->have_base)
		return;
	for (ms = 0; ms <= SETTLE_MS; ms += 10) {
		read_snap(&now);
		if (same_chunks(&now, &b->base))
			return;
		sleep_ms(10);
	}
	note(b, "chunks not back in %d ms: tracked %+lld/%+lld struct_page %+lld/%+lld (2M/1G)",
	     SETTLE_MS,
	     now.gt[DIR_TRACKED][GT_CHUNKS_2M] - b->base.gt[DIR_TRACKED][GT_CHUNKS_2M],
	     now.gt[DIR_TRACKED][GT_CHUNKS_1G] - b->base.gt[DIR_TRACKED][GT_CHUNKS_1G],
	     now.gt[DIR_STRUCT_PAGE][GT_CHUNKS_2M] -
	     b->base.gt[DIR_STRUCT_PAGE][GT_CHUNKS_2M],
	     now.gt[DIR_STRUCT_PAGE][GT_CHUNKS_1G] -
	     b->base.gt[DIR_STRUCT_PAGE][GT_CHUNKS_1G]);
}

/*
 * Before a baseline: wait (up to SETTLE_MS) until free memory holds still
 * for 200 ms, so that what the previous design freed late (RCU, deferred
 * fput, KVM teardown) does not count against this one.
 */
static void quiesce(const struct bench *b)
{
	struct snap prev, now;
	int ms, still = 0;

	read_snap(&prev);
	for (ms = 0; ms <= SETTLE_MS && still < 200; ms += 50) {
		sleep_ms(50);
		read_snap(&now);
		if (llabs(now.memfree_kb - prev.memfree_kb) <= 256)
			still += 50;
		else
			still = 0;
		prev = now;
	}
	if (still < 200)
		note(b, "free memory still moving after %d ms", SETTLE_MS);
}

/*
 * Pages migrated since boot (pgmigrate_success), folded first; -1 when
 * /proc/vmstat has no such count (no CONFIG_MIGRATION) or cannot be read.
 */
static long long vmstat_migrated(void)
{
	long long v = -1;

	write_str("/proc/sys/vm/stat_refresh", "1");
	if (slurp("/proc/vmstat") <= 0 || find_key("pgmigrate_success", &v))
		return -1;
	return v;
}

/* Create the file and allocate it whole, timed; 0 or -errno. */
static int create_file(struct bench *b)
{
	struct kvm_create_guest_memfd gm = {
		.size = b->size,
		.flags = b->d->flags,
	};
	long long before, after;
	int ret = 0;
	__u64 t;

	b->fd = ioctl(b->vm_fd, KVM_CREATE_GUEST_MEMFD, &gm);
	if (b->fd < 0)
		return -errno;
	if (opt.perf_falloc)
		perf_ctl("enable");
	before = vmstat_migrated();
	t = now_ns();
	if (fallocate(b->fd, FALLOC_FL_KEEP_SIZE, 0, b->size))
		ret = -errno;
	b->falloc_ns = now_ns() - t;
	after = vmstat_migrated();
	/* Unknown (null in the JSON), not 0, without the count. */
	b->falloc_migrated = before < 0 || after < 0 ? -1 : after - before;
	if (opt.perf_falloc)
		perf_ctl("disable");
	return ret;
}

static void run_design(struct result *r)
{
	const struct design *d = r->d;
	struct bench b = {
		.d = d, .r = r, .size = r->size, .pages = r->size / PAGE_SZ,
		.gib = (double)r->size / SZ_1G,
		.vm_fd = -1, .vcpu_fd = -1, .fd = -1,
	};
	__u64 t = now_ns();
	int caps, ret, tries, capped;
	long long mmax;
	struct ovh o;

	if (r->size % d->chunk) {
		skip(&b, "size %llu is not a multiple of its %llu-byte chunks",
		     (unsigned long long)r->size,
		     (unsigned long long)d->chunk);
		return;
	}
	b.vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, KVM_X86_SW_PROTECTED_VM);
	if (b.vm_fd < 0) {
		skip(&b, "KVM_CREATE_VM(KVM_X86_SW_PROTECTED_VM): %s",
		     strerror(errno));
		goto out;
	}
	/* gmem_track's flags have a capability of their own. */
	caps = check_cap(b.vm_fd, KVM_CAP_GUEST_MEMFD_FLAGS);
	if (caps >= 0 && check_cap(b.vm_fd, KVM_CAP_GMEM_TRACK_FLAGS) > 0)
		caps |= check_cap(b.vm_fd, KVM_CAP_GMEM_TRACK_FLAGS);
	if (caps < 0 || ((__u64)caps & d->flags) != d->flags) {
		skip(&b, "guest_memfd flags %#llx not supported (capabilities %#x)",
		     (unsigned long long)d->flags, caps);
		goto out;
	}
	/* Before the baseline: the vCPU's memory is not the file's. */
	b.vcpu_fd = ioctl(b.vm_fd, KVM_CREATE_VCPU, 0);
	if (b.vcpu_fd < 0)
		note(&b, "KVM_CREATE_VCPU: %s: no pre-fault", strerror(errno));

	/* A cgroup limit below the file: no compaction can help. */
	mmax = memcg_max();
	capped = mmax >= 0 && (__u64)mmax < b.size;
	t = now_ns();
	for (tries = 1; ; tries++) {
		quiesce(&b);
		read_snap(&b.base);	/* warms up the paths it takes */
		read_snap(&b.base);
		b.have_base = 1;
		ret = create_file(&b);
		if (ret != -ENOMEM || d->chunk != SZ_1G || capped ||
		    tries == ALLOC_TRIES)
			break;
		/* A 1 GiB block may just need compacting: once more, anew. */
		note(&b, "fallocate: no free 1 GiB block, compacting (try %d of %d)",
		     tries + 1, ALLOC_TRIES);
		if (b.fd >= 0)
			close(b.fd);
		b.fd = -1;
		settle(&b);
		write_str("/proc/sys/vm/compact_memory", "1");
		sleep_ms(1000);
	}
	if (ret) {
		char why[96] = "";

		if (b.fd >= 0 && ret == -ENOMEM && capped)
			snprintf(why, sizeof(why),
				 " (memory.max of its memory cgroup is %lld bytes)",
				 mmax);
		else if (b.fd >= 0 && ret == -ENOMEM && d->chunk == SZ_1G)
			snprintf(why, sizeof(why), " (no free 1 GiB block)");
		skip(&b, "%s: %s%s",
		     b.fd < 0 ? "KVM_CREATE_GUEST_MEMFD" : "fallocate of the file",
		     strerror(-ret), why);
		goto out;
	}
	if (b.base.top[TOP_PARKED_2M] || b.base.top[TOP_PARKED_1G])
		note(&b, "%lld 2M, %lld 1G chunks parked: tracked vmemmap figures may be off",
		     b.base.top[TOP_PARKED_2M], b.base.top[TOP_PARKED_1G]);
	r->measured = 1;
	val_set(&r->fallocate_ns, b.falloc_ns / b.gib);
	if (b.falloc_migrated >= 0)
		val_set(&r->falloc_migrated, b.falloc_migrated);
	measure(&b, &o);
	val_set(&r->reserved, o.reserved);
	progress(&b, t,
		 "fallocate %llu MiB: %.0f ns/GiB, %lld pages migrated, %lld MiB of it reserved",
		 (unsigned long long)(r->size >> 20), r->fallocate_ns.v,
		 b.falloc_migrated, o.reserved >> 20);

	if (opt.perf_falloc ||
	    (want(PH_OVERHEAD) && phase_overhead(&b)) ||
	    (want(PH_RANGES_2M) && phase_2m_ranges(&b)))
		goto out;
	perf_ctl("enable");
	ret = phase_convert(&b);
	perf_ctl("disable");
	if (ret)
		goto out;
	if (!want(PH_FAULT) && !want(PH_PREFAULT))
		goto out;
	ret = map_file(&b);
	if (ret) {
		note(&b, "mmap of the file: %s: no first fault, no pre-fault",
		     strerror(-ret));
		goto out;
	}
	if (want(PH_FAULT) && phase_first_fault(&b))
		goto out;
	if (want(PH_PREFAULT))
		phase_prefault(&b);
out:
	teardown(&b);
	settle(&b);
}

/* ---- JSON ---- */

static void json_num(FILE *f, const struct val *x)
{
	if (!x->set || !isfinite(x->v))
		fputs("null", f);
	else if (fabs(x->v) < 9e15 && x->v == (double)(long long)x->v)
		fprintf(f, "%lld", (long long)x->v);
	else
		fprintf(f, "%.3f", x->v);
}

static void json_lat(FILE *f, const struct lat *l)
{
	fputs("{\"median\": ", f);
	json_num(f, &l->median);
	fputs(", \"p99\": ", f);
	json_num(f, &l->p99);
	fputc('}', f);
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", (unsigned char)*s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static void json_design(FILE *f, const struct result *r)
{
	static const char * const s2[3] = { "4k", "2m", "1g" };
	int i;

	fprintf(f, "    \"%s\": {\n", r->d->name);
	fprintf(f, "      \"page_size\": %llu,\n",
		(unsigned long long)r->d->chunk);
	fprintf(f, "      \"struct_page\": %s,\n",
		r->d->struct_page ? "true" : "false");
	fprintf(f, "      \"measured\": %s,\n      \"reason\": ",
		r->measured ? "true" : "false");
	if (r->measured)
		fputs("null", f);
	else
		json_str(f, r->skip[0] ? r->skip : "not measured");
	fputs(",\n", f);
	fputs("      \"overhead_bytes_per_gib\": {", f);
	for (i = 0; i < NR_FRAC; i++) {
		fprintf(f, "%s\"%s\": ", i ? ", " : "", fracs[i].key);
		json_num(f, &r->overhead[i]);
	}
	fputs("},\n      \"descriptor_bytes_per_gib\": {", f);
	for (i = 0; i < NR_FRAC; i++) {
		fprintf(f, "%s\"%s\": ", i ? ", " : "", fracs[i].key);
		json_num(f, &r->desc[i]);
	}
	fputs("},\n      \"descriptor_nodes\": {", f);
	for (i = 0; i < NR_FRAC; i++) {
		fprintf(f, "%s\"%s\": ", i ? ", " : "", fracs[i].key);
		json_num(f, &r->nodes[i]);
	}
	fputs("},\n      \"descriptor_ranges\": {", f);
	for (i = 0; i < NR_FRAC; i++) {
		fprintf(f, "%s\"%s\": ", i ? ", " : "", fracs[i].key);
		json_num(f, &r->ranges[i]);
	}
	fputs("},\n      \"reserved_bytes\": ", f);
	json_num(f, &r->reserved);
	fputs(",\n      \"overhead_after_roundtrip_bytes_per_gib\": ", f);
	json_num(f, &r->roundtrip);
	fputs(",\n      \"memfree_crosscheck_error\": ", f);
	json_num(f, &r->memfree_err);
	fputs(",\n      \"fallocate_ns_per_gib\": ", f);
	json_num(f, &r->fallocate_ns);
	fputs(",\n      \"fallocate_migrated_pages\": ", f);
	json_num(f, &r->falloc_migrated);
	fputs(",\n      \"prefault_ns_per_gib\": ", f);
	json_num(f, &r->prefault_ns);
	fputs(",\n      \"convert_ns\": {", f);
	for (i = 0; i < NR_CONVERT; i++) {
		fprintf(f, "%s\n        \"%s\": ", i ? "," : "", lat_keys[i]);
		json_lat(f, &r->lat[i]);
	}
	fputs("\n      },\n      \"convert_counts_per_roundtrip\": {", f);
	for (i = 0; i < NR_LOOPS; i++) {
		int e;

		fprintf(f, "%s\n        \"%s\": {", i ? "," : "", loop_keys[i]);
		for (e = 0; e < NR_EV; e++) {
			fprintf(f, "%s\"%s\": ", e ? ", " : "", ev_files[e]);
			json_num(f, &r->counts[i][e]);
		}
		fputs("}", f);
	}
	fputs("\n      },\n      \"convert_settle\": {", f);
	for (i = 0; i < NR_LOOPS; i++) {
		fprintf(f, "%s\n        \"%s\": {\"settle_ms\": ",
			i ? "," : "", loop_keys[i]);
		json_num(f, &r->settle_ms[i]);
		fputs(", \"peak_deferred_bytes\": ", f);
		json_num(f, &r->peak_deferred[i]);
		fputs(", \"vmemmap_residue_bytes\": ", f);
		json_num(f, &r->residue[i]);
		fputs("}", f);
	}
	fputs("\n      },\n      \"first_fault_ns\": ", f);
	json_lat(f, &r->lat[LAT_FAULT]);
	fputs(",\n      \"stage2_pages\": {", f);
	for (i = 0; i < 3; i++) {
		fprintf(f, "%s\"%s\": ", i ? ", " : "", s2[i]);
		json_num(f, &r->stage2[i]);
	}
	fprintf(f, "},\n      \"overhead_2m_ranges_bytes_per_gib\": {\"%s\": ",
		fracs[FRAC_64].key);
	json_num(f, &r->ovh_2m);
	fputs("},\n      \"counters\": {\"memmap_delta_bytes\": ", f);
	json_num(f, &r->memmap_fig);
	fputs(", \"sysfs_vmemmap_delta_bytes\": ", f);
	json_num(f, &r->sysfs_fig);
	fputs("}\n    }", f);
}

/* "size_bytes" and "designs" of one size, indented by @ind. */
static void json_size(FILE *f, int s, const char *ind)
{
	int i, first = 1;

	fprintf(f, "%s\"size_bytes\": %llu,\n%s\"designs\": {\n", ind,
		(unsigned long long)opt.sizes[s], ind);
	for (i = 0; i < NR_DESIGNS; i++) {
		if (!results[s][i].selected)
			continue;
		if (!first)
			fputs(",\n", f);
		first = 0;
		json_design(f, &results[s][i]);
	}
	fprintf(f, "\n%s}", ind);
}

/*
 * One size: {"kernel", "size_bytes", "designs"}. A sweep (--sizes):
 * {"kernel", "sizes": [{"size_bytes", "designs"}, ...]}, sizes increasing.
 * Design objects are indented alike either way.
 */
static void json_all(FILE *f)
{
	struct utsname u;
	int s;

	if (uname(&u))
		snprintf(u.release, sizeof(u.release), "unknown");
	fputs("{\n  \"kernel\": ", f);
	json_str(f, u.release);
	fputs(",\n", f);
	if (!opt.sweep) {
		json_size(f, 0, "  ");
		fputs("\n}\n", f);
		return;
	}
	fputs("  \"sizes\": [", f);
	for (s = 0; s < opt.nr_sizes; s++) {
		fprintf(f, "%s\n  {\n", s ? "," : "");
		json_size(f, s, "  ");
		fputs("\n  }", f);
	}
	fputs("\n  ]\n}\n", f);
}

/* ---- --check ---- */

/* At most 8 checks per design and size. */
#define MAX_CHECKS	(8 * NR_DESIGNS * MAX_SIZES)

struct check {
	int ok;
	char desc[160];
	char skip[192];		/* a SKIP directive when set */
	char diag[512];
};

static struct check checks[MAX_CHECKS];
static int nr_checks;

static __printf(2, 3) struct check *add_check(int ok, const char *fmt, ...)
{
	struct check *c = &checks[nr_checks < MAX_CHECKS - 1 ? nr_checks++ :
					 nr_checks - 1];
	va_list ap;

	memset(c, 0, sizeof(*c));
	c->ok = ok;
	va_start(ap, fmt);
	vsnprintf(c->desc, sizeof(c->desc), fmt, ap);
	va_end(ap);
	return c;
}

static void missing(char *buf, size_t len, const struct val *x,
		    const char *key)
{
	size_t n = strlen(buf);

	if (x->set || n + strlen(key) + 2 >= len)
		return;
	snprintf(buf + n, len - n, "%s%s", n ? " " : "", key);
}

/* Every figure the JSON has for a measured design is a number. */
static void check_shape(const struct result *r)
{
	char m[384] = "", key[64];
	struct check *c;
	int i;

	for (i = 0; i < NR_FRAC; i++) {
		if (opt.quick && !fracs[i].quick)
			continue;
		snprintf(key, sizeof(key), "overhead[%s]", fracs[i].key);
		missing(m, sizeof(m), &r->overhead[i], key);
		if (r->d->dir < 0)
			continue;
		snprintf(key, sizeof(key), "descriptor_nodes[%s]", fracs[i].key);
		missing(m, sizeof(m), &r->nodes[i], key);
	}
	missing(m, sizeof(m), &r->reserved, "reserved_bytes");
	missing(m, sizeof(m), &r->roundtrip, "overhead_after_roundtrip");
	missing(m, sizeof(m), &r->memfree_err, "memfree_crosscheck_error");
	missing(m, sizeof(m), &r->fallocate_ns, "fallocate_ns_per_gib");
	missing(m, sizeof(m), &r->prefault_ns, "prefault_ns_per_gib");
	for (i = 0; i < NR_LAT; i++) {
		snprintf(key, sizeof(key), "%s.median",
			 i == LAT_FAULT ? "first_fault_ns" : lat_keys[i]);
		missing(m, sizeof(m), &r->lat[i].median, key);
		snprintf(key, sizeof(key), "%s.p99",
			 i == LAT_FAULT ? "first_fault_ns" : lat_keys[i]);
		missing(m, sizeof(m), &r->lat[i].p99, key);
	}
	missing(m, sizeof(m), &r->stage2[0], "stage2_pages.4k");
	missing(m, sizeof(m), &r->stage2[1], "stage2_pages.2m");
	missing(m, sizeof(m), &r->stage2[2], "stage2_pages.1g");
	missing(m, sizeof(m), &r->ovh_2m, "overhead_2m_ranges");
	missing(m, sizeof(m), &r->memmap_fig, "counters.memmap_delta_bytes");
	if (r->d->dir >= 0)
		missing(m, sizeof(m), &r->sysfs_fig,
			"counters.sysfs_vmemmap_delta_bytes");
	c = add_check(!m[0], "%s: every figure measured (JSON shape complete)",
		      r->label);
	if (m[0])
		snprintf(c->diag, sizeof(c->diag), "null: %s", m);
}

/* @got == @want exactly, both from counters; diagnostics either way. */
static void check_eq(const struct result *r, const struct raw *raw,
		     long long got, long long want, const char *what)
{
	struct check *c;

	if (!raw->ok) {
		c = add_check(0, "%s: %s", r->label, what);
		snprintf(c->diag, sizeof(c->diag), "not measured");
		return;
	}
	c = add_check(got == want, "%s: %s", r->label, what);
	snprintf(c->diag, sizeof(c->diag), "got %lld, want %lld (%+lld)",
		 got, want, got - want);
}

/*
 * The vmemmap figures are derived from nr_memmap (and sysfs), never from
 * the design: here they are held against what each design must give.
 *  - gmem_track: nr_memmap and <design>/vmemmap_bytes agree at f = 1/64;
 *  - every design: back to private, the vmemmap is what it was at f = 0;
 *  - tracked: private memory has no vmemmap (0 B at f = 0), shared memory
 *    4 KiB per 256 KiB granule holding a shared page, 32 KiB per 2 MiB;
 *  - struct-page and upstream: S / 64 whatever is shared.
 */
static void check_design(const struct result *r)
{
	const struct raw *f0 = &r->frac_raw[FRAC_0];
	const struct raw *f64 = &r->frac_raw[FRAC_64];
	const struct raw *r2m = &r->r2m_raw;
	long long s64 = (long long)(r->size / 64);
	struct check *c;

	if (!r->measured) {
		c = add_check(1, "%s: measured", r->label);
		snprintf(c->skip, sizeof(c->skip), "%s", r->skip);
		return;
	}
	check_shape(r);
	if (r->d->dir >= 0)
		check_eq(r, f64, f64->vmemmap, f64->sysfs_vm,
			 "f=1/64: vmemmap from nr_memmap == sysfs vmemmap_bytes delta");
	check_eq(r, r->rt_raw.ok ? f0 : &r->rt_raw, r->rt_raw.vmemmap,
		 f0->vmemmap, "vmemmap after the round trip == vmemmap at f=0");
	if (!r->d->struct_page) {
		check_eq(r, f0, f0->vmemmap, 0,
			 "f=0: fully private memory holds 0 B of vmemmap");
		check_eq(r, f64, f64->vmemmap, f64->granules * PAGE_BYTES,
			 "f=1/64: vmemmap == 4 KiB x granules holding a shared page");
		check_eq(r, r2m, r2m->vmemmap, r2m->granules * PAGE_BYTES,
			 "2M ranges at f=1/64: vmemmap == 32 KiB x ranges");
	} else {
		check_eq(r, f0, f0->vmemmap, s64,
			 "f=0: vmemmap == S/64 (nr_memmap unchanged)");
		check_eq(r, f64, f64->vmemmap, s64,
			 "f=1/64: vmemmap == S/64 (nr_memmap unchanged)");
		check_eq(r, r2m, r2m->vmemmap, s64,
			 "2M ranges at f=1/64: vmemmap == S/64");
	}
}

/* TAP on stdout; 0 if every check passed. */
static int tap(void)
{
	int i, s, fails = 0;

	for (s = 0; s < opt.nr_sizes; s++) {
		for (i = 0; i < NR_DESIGNS; i++) {
			if (results[s][i].selected)
				check_design(&results[s][i]);
		}
	}
	printf("TAP version 13\n1..%d\n", nr_checks);
	printf("# gmem-bench: size %llu", (unsigned long long)opt.sizes[0]);
	for (s = 1; s < opt.nr_sizes; s++)
		printf(", %llu", (unsigned long long)opt.sizes[s]);
	printf(", iters %ld%s\n", opt.iters, opt.quick ? ", quick" : "");
	for (i = 0; i < nr_checks; i++) {
		if (checks[i].diag[0])
			printf("# %s\n", checks[i].diag);
		printf("%sok %d - %s", checks[i].ok ? "" : "not ", i + 1,
		       checks[i].desc);
		if (checks[i].skip[0])
			printf(" # SKIP %s", checks[i].skip);
		putchar('\n');
		fails += !checks[i].ok;
	}
	printf("# %d passed, %d failed\n", nr_checks - fails, fails);
	fflush(stdout);
	return fails ? 1 : 0;
}

/* ---- command line ---- */

static void print_help(FILE *f)
{
	int i;

	fputs("usage: gmem-bench [--size BYTES | --sizes A,B,..] [--designs a,b,c]\n"
	      "                  [--phases a,b,c]\n"
	      "                  [--iters N] [--quick] [--out FILE] [--check]\n"
	      "                  [--perf-ctl CTL,ACK [--perf-fallocate]]\n"
	      "\n"
	      "Memory overhead and latency of guest_memfd designs, one file of --size\n"
	      "bytes at a time in a KVM_X86_SW_PROTECTED_VM; JSON on stdout (or --out).\n"
	      "Runs as root on the kernel under test.\n"
	      "\n"
	      "  --size BYTES    file size, a multiple of 2 MiB; suffix K, M or G (default\n"
	      "                  2G); 1g designs need a multiple of 1 GiB, else are null\n"
	      "  --sizes LIST    comma-separated sizes (at most 8): every design at each,\n"
	      "                  the largest first; the JSON has \"sizes\": [{\"size_bytes\",\n"
	      "                  \"designs\"}, ...] in increasing order instead of one\n"
	      "                  \"size_bytes\" and \"designs\"\n"
	      "  --designs LIST  comma-separated designs, run in the order below (default:\n"
	      "                  all)\n"
	      "  --phases LIST   comma-separated phases after fallocate (default: all;\n"
	      "                  the others are null), e.g. convert4k to profile the\n"
	      "                  4 KiB conversions alone\n"
	      "  --iters N       samples per latency figure (default 1000)\n"
	      "  --quick         --iters 100 (unless given) and shared fractions 0, 1/64\n"
	      "                  and 1 only (the others null)\n"
	      "  --out FILE      write the JSON to FILE\n"
	      "  --check         print TAP checks of the figures on stdout instead of\n"
	      "                  the JSON (with --out, the JSON still goes to FILE);\n"
	      "                  exit 0 if all pass, 1 if not, 4 if KVM is missing\n"
	      "  --perf-ctl CTL,ACK\n"
	      "                  under perf stat/record -D -1 --control fifo:CTL,ACK:\n"
	      "                  enable perf's events for the conversion phases only\n"
	      "  --perf-fallocate with --perf-ctl: for the fallocate() of the file\n"
	      "                  instead, and run no phase after it\n"
	      "  --help          this text\n"
	      "\n"
	      "designs:", f);
	for (i = 0; i < NR_DESIGNS; i++)
		fprintf(f, " %s", designs[i].name);
	fputs("\nphases:", f);
	for (i = 0; i < NR_PHASES; i++)
		fprintf(f, " %s", phase_names[i]);
	fputs("\nProgress goes to stderr. The comment at the top of the source defines\n"
	      "every figure.\n", f);
}

static int parse_size(const char *s, __u64 *out)
{
	unsigned long long v;
	unsigned int shift = 0;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return -1;
	switch (*end) {
	case 'k':
	case 'K':
		shift = 10;
		break;
	case 'm':
	case 'M':
		shift = 20;
		break;
	case 'g':
	case 'G':
		shift = 30;
		break;
	}
	if (shift)
		end++;
	if (shift && *end == 'i')
		end++;
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end || (shift && v > (~0ULL >> shift)))
		return -1;
	*out = v << shift;
	return 0;
}

static int cmp_u64(const void *a, const void *b);

/* --sizes: into opt.sizes, increasing, each once. */
static int parse_sizes(const char *list)
{
	char tok[32];
	const char *p = list, *e;
	size_t len;
	int i;

	opt.nr_sizes = 0;
	while (*p) {
		e = strchr(p, ',');
		len = e ? (size_t)(e - p) : strlen(p);
		if (len >= sizeof(tok) || opt.nr_sizes == MAX_SIZES) {
			warnx("bad --sizes '%s': at most %d sizes", list,
			      MAX_SIZES);
			return -1;
		}
		memcpy(tok, p, len);
		tok[len] = '\0';
		if (len && parse_size(tok, &opt.sizes[opt.nr_sizes++])) {
			warnx("bad size '%s' in --sizes", tok);
			return -1;
		}
		p += len + (e ? 1 : 0);
	}
	if (!opt.nr_sizes) {
		warnx("--sizes names no size");
		return -1;
	}
	qsort(opt.sizes, opt.nr_sizes, sizeof(opt.sizes[0]), cmp_u64);
	for (i = 1; i < opt.nr_sizes; i++) {
		if (opt.sizes[i] == opt.sizes[i - 1]) {
			warnx("--sizes names %llu twice",
			      (unsigned long long)opt.sizes[i]);
			return -1;
		}
	}
	return 0;
}

/* A comma-separated list of names into a bit mask; -1 if a name is unknown. */
static int parse_list(const char *list, const char *what,
		      const char *(*name_of)(int), int n, unsigned int *mask)
{
	const char *p = list, *e;
	size_t len;
	int i;

	*mask = 0;
	while (*p) {
		e = strchr(p, ',');
		len = e ? (size_t)(e - p) : strlen(p);
		for (i = 0; i < n; i++) {
			if (strlen(name_of(i)) == len &&
			    !strncmp(name_of(i), p, len))
				break;
		}
		if (len && i == n) {
			warnx("unknown %s '%.*s'", what, (int)len, p);
			return -1;
		}
		if (len)
			*mask |= 1U << i;
		p += len + (e ? 1 : 0);
	}
	return *mask ? 0 : -1;
}

static const char *design_name(int i)
{
	return designs[i].name;
}

static const char *phase_name(int i)
{
	return phase_names[i];
}

static int parse_args(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "sizes", required_argument, NULL, 'S' },
		{ "designs", required_argument, NULL, 'd' },
		{ "phases", required_argument, NULL, 'p' },
		{ "iters", required_argument, NULL, 'i' },
		{ "quick", no_argument, NULL, 'q' },
		{ "out", required_argument, NULL, 'o' },
		{ "check", no_argument, NULL, 'c' },
		{ "perf-ctl", required_argument, NULL, 'P' },
		{ "perf-fallocate", no_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned int designs_mask = (1U << NR_DESIGNS) - 1;
	int c, i, s, size_set = 0;
	char *end;

	while ((c = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (parse_size(optarg, &opt.size)) {
				warnx("bad --size '%s'", optarg);
				return -1;
			}
			size_set = 1;
			break;
		case 'S':
			if (parse_sizes(optarg))
				return -1;
			opt.sweep = 1;
			break;
		case 'd':
			if (parse_list(optarg, "design", design_name,
				       NR_DESIGNS, &designs_mask))
				return -1;
			break;
		case 'p':
			if (parse_list(optarg, "phase", phase_name,
				       NR_PHASES, &opt.phases))
				return -1;
			break;
		case 'i':
			errno = 0;
			opt.iters = strtol(optarg, &end, 10);
			if (errno || *end || opt.iters < 1 ||
			    opt.iters > 1000000) {
				warnx("bad --iters '%s'", optarg);
				return -1;
			}
			opt.iters_set = 1;
			break;
		case 'q':
			opt.quick = 1;
			break;
		case 'o':
			opt.out = optarg;
			break;
		case 'c':
			opt.check = 1;
			break;
		case 'P':
			opt.perf_ctl = optarg;
			break;
		case 'F':
			opt.perf_falloc = 1;
			break;
		case 'h':
			print_help(stdout);
			exit(0);
		default:
			return -1;
		}
	}
	if (opt.perf_falloc && !opt.perf_ctl) {
		warnx("--perf-fallocate needs --perf-ctl");
		return -1;
	}
	if (optind < argc) {
		warnx("unexpected argument '%s'", argv[optind]);
		return -1;
	}
	if (opt.sweep && size_set) {
		warnx("--size and --sizes exclude each other");
		return -1;
	}
	if (!opt.sweep) {
		opt.sizes[0] = opt.size;
		opt.nr_sizes = 1;
	}
	for (s = 0; s < opt.nr_sizes; s++) {
		if (!opt.sizes[s] || opt.sizes[s] % SZ_2M) {
			warnx("every size must be a positive multiple of 2 MiB");
			return -1;
		}
	}
	if (opt.quick && !opt.iters_set)
		opt.iters = 100;
	if (opt.check && opt.phases != (1U << NR_PHASES) - 1) {
		warnx("--check needs every phase");
		return -1;
	}
	for (s = 0; s < opt.nr_sizes; s++) {
		for (i = 0; i < NR_DESIGNS; i++) {
			struct result *r = &results[s][i];

			r->d = &designs[i];
			r->size = opt.sizes[s];
			r->selected = !!(designs_mask & (1U << i));
			if (!opt.sweep)
				snprintf(r->label, sizeof(r->label), "%s",
					 r->d->name);
			else if (r->size % SZ_1G)
				snprintf(r->label, sizeof(r->label), "%s %lluM",
					 r->d->name,
					 (unsigned long long)(r->size >> 20));
			else
				snprintf(r->label, sizeof(r->label), "%s %lluG",
					 r->d->name,
					 (unsigned long long)(r->size >> 30));
		}
	}
	return 0;
}

/* ---- main ---- */

/* Buffers for the whole run, touched now: no page faults while measuring. */
static int alloc_buffers(void)
{
	size_t len = opt.iters * sizeof(__u64);
	int i;

	picks = malloc(len);
	if (!picks)
		return -1;
	memset(picks, 0, len);
	for (i = 0; i < NR_LAT; i++) {
		samples[i] = malloc(len);
		if (!samples[i])
			return -1;
		memset(samples[i], 0, len);
	}
	return 0;
}

/* KVM with SW-protected VMs, or why not. */
static const char *open_kvm(void)
{
	static char why[128];
	int types;

	kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm_fd < 0) {
		snprintf(why, sizeof(why), "/dev/kvm: %s", strerror(errno));
		return why;
	}
	types = check_cap(kvm_fd, KVM_CAP_VM_TYPES);
	if (types <= 0 || !(types & (1 << KVM_X86_SW_PROTECTED_VM)))
		return "KVM has no KVM_X86_SW_PROTECTED_VM";
	return NULL;
}

int main(int argc, char **argv)
{
	struct sigaction sa = {
		.sa_handler = on_sigbus,
		/* siglongjmp() without restoring the mask: keep SIGBUS open. */
		.sa_flags = SA_NODEFER,
	};
	const char *why;
	FILE *out = NULL;
	int i, s;

	t_prog = now_ns();
	if (parse_args(argc, argv)) {
		print_help(stderr);
		return 2;
	}
	if (sysconf(_SC_PAGESIZE) != (long)PAGE_SZ) {
		warnx("needs 4 KiB pages");
		return 1;
	}
	why = open_kvm();
	if (why) {
		warnx("%s: needs the kernel under test, with KVM and gmem_track, as root",
		      why);
		if (opt.check) {
			printf("TAP version 13\n1..0 # SKIP %s\n", why);
			return 4;
		}
		return 1;
	}
	if (getuid())
		warnx("not root: /proc/sys/vm/stat_refresh is not writable, counters may lag");
	if (opt.out) {
		out = fopen(opt.out, "w");
		if (!out) {
			warnx("%s: %s", opt.out, strerror(errno));
			return 1;
		}
	} else if (!opt.check) {
		out = stdout;
	}
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, NULL) || alloc_buffers()) {
		warnx("setup: %s", strerror(errno));
		return 1;
	}

	/* The largest size first, while memory is least fragmented. */
	for (s = opt.nr_sizes - 1; s >= 0; s--) {
		for (i = 0; i < NR_DESIGNS; i++) {
			if (results[s][i].selected)
				run_design(&results[s][i]);
		}
	}
	if (attrs_retries)
		warnx("%ld conversions retried after EAGAIN or EINTR",
		      attrs_retries);
	warnx("done in %.1f s", (now_ns() - t_prog) / 1e9);

	if (out) {
		json_all(out);
		if (out != stdout && fclose(out)) {
			warnx("%s: %s", opt.out, strerror(errno));
			return 1;
		}
		fflush(stdout);
	}
	return opt.check ? tap() : 0;
}
