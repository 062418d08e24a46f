/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Counters of gmem_track for its selftests: /sys/kernel/mm/gmem_track/,
 * /proc/vmstat and /proc/meminfo, each folded from the per-CPU counters
 * first where it matters.
 */
#ifndef _GMEM_TRACK_UTIL_H
#define _GMEM_TRACK_UTIL_H

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define GMEM_TRACK_SYSFS	"/sys/kernel/mm/gmem_track"

/* The number @path holds, or -1. */
static inline long read_long(const char *path)
{
	long val = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	if (fscanf(f, "%ld", &val) != 1)
		val = -1;
	fclose(f);
	return val;
}

/* A counter of @design ("tracked", "struct_page"), or of the pool if NULL. */
static inline long sysfs_long(const char *design, const char *file)
{
	char path[128];

	if (design)
		snprintf(path, sizeof(path), GMEM_TRACK_SYSFS "/%s/%s", design,
			 file);
	else
		snprintf(path, sizeof(path), GMEM_TRACK_SYSFS "/%s", file);
	return read_long(path);
}

/* Returns 0 or -errno. */
static inline int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY), ret = 0;
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	if (n < 0)
		ret = -errno;
	else if (n != (ssize_t)strlen(val))
		ret = -EIO;	/* a short write: errno says nothing */
	close(fd);
	return ret;
}

static inline long read_vmstat(const char *name)
{
	char key[64];
	long val;
	FILE *f = fopen("/proc/vmstat", "r");

	if (!f)
		return -1;
	while (fscanf(f, "%63s %ld", key, &val) == 2) {
		if (!strcmp(key, name)) {
			fclose(f);
			return val;
		}
	}
	fclose(f);
	return -1;
}

/*
 * Wait, up to 5 s, until no vmemmap waits for deferred depopulation
 * (tracked/deferred_bytes reads 0, or is not there), so that the vmemmap
 * and page-table figures read next are settled. Returns the milliseconds
 * waited, or -1 if something still waits.
 */
static inline int gmem_deferred_settle(void)
{
	int ms;

	for (ms = 0; ms <= 5000; ms++) {
		if (sysfs_long("tracked", "deferred_bytes") <= 0)
			return ms;
		usleep(1000);
	}
	return -1;
}

/* deferred_delay_ms before gmem_deferred_delay() changed it; -1: never. */
static inline long *gmem_saved_delay_ms(void)
{
	static long ms = -1;

	return &ms;
}

/*
 * Set deferred_delay_ms (an hour keeps the worker out of a test), the
 * first time remembering the value for gmem_deferred_delay_restore(),
 * which a fixture's teardown calls. Returns 0 or -errno.
 */
static inline int gmem_deferred_delay(long ms)
{
	char val[32];

	if (*gmem_saved_delay_ms() < 0)
		*gmem_saved_delay_ms() = sysfs_long(NULL, "deferred_delay_ms");
	snprintf(val, sizeof(val), "%ld", ms);
	return write_file(GMEM_TRACK_SYSFS "/deferred_delay_ms", val);
}

static inline void gmem_deferred_delay_restore(void)
{
	char val[32];

	if (*gmem_saved_delay_ms() < 0)
		return;
	snprintf(val, sizeof(val), "%ld", *gmem_saved_delay_ms());
	write_file(GMEM_TRACK_SYSFS "/deferred_delay_ms", val);
	*gmem_saved_delay_ms() = -1;
}

/*
 * Every test program runs with deferred_delay_ms at 1: the worker of
 * deferred depopulation then runs at once and often, beside whatever the
 * tests do, and the counters they compare settle in a millisecond or two
 * rather than a tenth of a second. Tests of deferral set a delay of their
 * own (gmem_deferred_delay()). The value found is put back when the
 * program (not a test's forked child) exits.
 */
static long gmem_found_delay_ms = -1;
static pid_t gmem_found_delay_pid;

static void gmem_put_back_delay(void)
{
	char val[32];

	if (gmem_found_delay_ms < 0 || getpid() != gmem_found_delay_pid)
		return;
	snprintf(val, sizeof(val), "%ld", gmem_found_delay_ms);
	write_file(GMEM_TRACK_SYSFS "/deferred_delay_ms", val);
}

__attribute__((constructor)) static void gmem_quick_worker(void)
{
	gmem_found_delay_ms = sysfs_long(NULL, "deferred_delay_ms");
	if (gmem_found_delay_ms < 0 ||
	    write_file(GMEM_TRACK_SYSFS "/deferred_delay_ms", "1"))
		return;
	gmem_found_delay_pid = getpid();
	atexit(gmem_put_back_delay);
}

/*
 * Memory pressure, as drop_caches makes it: the shrinker of deferred
 * depopulation brings every worker forward. Its scan skips a round when
 * the list of owners is busy, so ask again every 100 ms, up to 5 s, until
 * nothing waits. Returns the milliseconds taken, or -1.
 */
static inline int gmem_deferred_reclaim(void)
{
	int ms;

	for (ms = 0; ms <= 5000; ms++) {
		if (sysfs_long("tracked", "deferred_bytes") <= 0)
			return ms;
		if (!(ms % 100))
			write_file("/proc/sys/vm/drop_caches", "2");
		usleep(1000);
	}
	return -1;
}

/*
 * The vmemmap of the whole system, in pages; folded per-CPU first, and
 * once no granule waits for deferred depopulation.
 */
static inline long memmap_pages(void)
{
	gmem_deferred_settle();
	write_file("/proc/sys/vm/stat_refresh", "1");
	return read_vmstat("nr_memmap_pages") +
	       read_vmstat("nr_memmap_boot_pages");
}

/*
 * A line of /proc/meminfo, in KiB ("PageTables", "SUnreclaim", ...), or
 * -1. Most are per-CPU counters: fold them first, or a change of a few
 * pages does not show for up to a second.
 */
static inline long meminfo_kb(const char *name)
{
	char line[128], key[64];
	long kb = -1, v;
	FILE *f;

	write_file("/proc/sys/vm/stat_refresh", "1");
	f = fopen("/proc/meminfo", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63[^:]: %ld", key, &v) == 2 &&
		    !strcmp(key, name)) {
			kb = v;
			break;
		}
	}
	fclose(f);
	return kb;
}

/*
 * PageTables of /proc/meminfo, in KiB: kernel PTE tables count there too
 * (read once deferred depopulation, which frees some, has settled).
 */
static inline long page_tables_kb(void)
{
	gmem_deferred_settle();
	return meminfo_kb("PageTables");
}

/*
 * PageTables once it has stopped moving: unchanged over a second, or after
 * 30 s. A process that just exited (a KVM test before) still has its page
 * tables freed for a while, and a measurement taken from a moving baseline
 * sees that as its own.
 */
static inline long page_tables_settled_kb(void)
{
	long kb = page_tables_kb(), prev;
	int i, same = 0;

	for (i = 0; i < 150 && same < 5; i++) {
		usleep(200 * 1000);
		prev = kb;
		kb = page_tables_kb();
		same = kb == prev ? same + 1 : 0;
	}
	return kb;
}

/*
 * Free memory in KiB: MemFree plus the pages on the per-CPU free lists
 * ("count:" in /proc/zoneinfo), which MemFree leaves out and where freed
 * pages land first.
 */
static inline long free_kb(void)
{
	char line[128];
	long kb = meminfo_kb("MemFree"), n;
	FILE *f = fopen("/proc/zoneinfo", "r");

	if (!f || kb < 0) {
		if (f)
			fclose(f);
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, " count: %ld", &n) == 1)
			kb += n * 4;
	}
	fclose(f);
	return kb;
}

#define GMEM_OWNER	"/sys/kernel/debug/gmem_track/owner"
#define KPF_RESERVED	32	/* include/uapi/linux/kernel-page-flags.h */
#define SYS_MEMORY	"/sys/devices/system/memory"

/* Returns 0 or -errno of the command. */
static inline int owner_cmd(const char *fmt, ...)
{
	char buf[64];
	va_list ap;
	int fd, len, ret = 0;

	va_start(ap, fmt);
	len = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fd = open(GMEM_OWNER, O_WRONLY);
	if (fd < 0)
		return -errno;
	if (write(fd, buf, len) != len)
		ret = -errno;
	close(fd);
	return ret;
}

/* PFN backing index 0 of the owner, or 0. */
static inline unsigned long owner_pfn(void)
{
	unsigned long index, nr, pfn = 0;
	char state[16];
	FILE *f = fopen(GMEM_OWNER, "r");

	if (!f)
		return 0;
	if (fscanf(f, "%lx %lx %lx %15s", &index, &nr, &pfn, state) != 4 ||
	    index != 0)
		pfn = 0;
	fclose(f);
	return pfn;
}

/* How many of [pfn, pfn + nr) /proc/kpageflags reports as reserved. */
static inline long count_reserved(unsigned long pfn, unsigned long nr)
{
	uint64_t *flags = calloc(nr, sizeof(*flags));
	long reserved = 0;
	unsigned long i;
	int fd;

	if (!flags)
		return -1;
	fd = open("/proc/kpageflags", O_RDONLY);
	if (fd < 0 || pread(fd, flags, nr * 8, pfn * 8) != (ssize_t)(nr * 8)) {
		reserved = -1;
		goto out;
	}
	for (i = 0; i < nr; i++)
		reserved += !!(flags[i] & (1ULL << KPF_RESERVED));
out:
	if (fd >= 0)
		close(fd);
	free(flags);
	return reserved;
}

/* Read a whole /proc file in large blocks; returns the bytes read. */
static inline long read_all(const char *path)
{
	static char buf[1 << 20];
	long total = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return -1;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		total += n;
	close(fd);
	return n < 0 ? -1 : total;
}

/*
 * Offline the memory block holding @pfn: must fail, the block staying
 * online. Returns the errno of the write, 0 if it succeeded, or -1 when
 * memory blocks cannot be offlined in this kernel.
 */
static inline int offline_block(unsigned long pfn, char *state, size_t len)
{
	char path[128];
	long bs = -1;
	FILE *f;
	int ret;

	f = fopen(SYS_MEMORY "/block_size_bytes", "r");
	if (!f)
		return -1;
	if (fscanf(f, "%lx", &bs) != 1)
		bs = -1;
	fclose(f);
	if (bs <= 0)
		return -1;
	snprintf(path, sizeof(path), SYS_MEMORY "/memory%lu/state",
		 pfn * 4096 / bs);
	if (access(path, W_OK))
		return -1;
	ret = -write_file(path, "offline");
	f = fopen(path, "r");
	if (!f || !fgets(state, len, f))
		snprintf(state, len, "?");
	if (f)
		fclose(f);
	state[strcspn(state, "\n")] = 0;
	return ret;
}

#define GMEM_FAIL_FN	"/sys/kernel/debug/fail_function"

static inline int gmem_fail_knob(const char *knob, const char *val)
{
	char path[160];

	snprintf(path, sizeof(path), GMEM_FAIL_FN "/%s", knob);
	return write_file(path, val);
}

/* fail_function's remaining failures: 0 once the armed one fired. */
static inline long gmem_fail_times(void)
{
	return read_long(GMEM_FAIL_FN "/times");
}

/*
 * Make @fn, one of gmem_track's ALLOW_ERROR_INJECTION() points, return
 * @err whenever fail_function is armed (gmem_fail_arm()), quietly: a
 * stack dump per failure would read as a kernel report on the console.
 * Returns 0 or -errno.
 */
static inline int gmem_fail_target_err(const char *fn, int err)
{
	char knob[96], val[32];
	int ret;

	gmem_fail_knob("inject", " ");	/* a blank clears the list */
	ret = gmem_fail_knob("inject", fn);
	snprintf(knob, sizeof(knob), "%s/retval", fn);
	snprintf(val, sizeof(val), "%#lx", (unsigned long)(long)err);
	if (!ret)
		ret = gmem_fail_knob(knob, val);
	if (!ret)
		ret = gmem_fail_knob("verbose", "0");
	if (!ret)
		ret = gmem_fail_knob("probability", "100");
	if (!ret)
		ret = gmem_fail_knob("interval", "1");
	if (!ret)
		ret = gmem_fail_knob("space", "0");
	if (!ret)
		ret = gmem_fail_knob("times", "0");
	return ret;
}

/* gmem_fail_target_err() with -ENOMEM, what an allocation point says. */
static inline int gmem_fail_target(const char *fn)
{
	return gmem_fail_target_err(fn, -ENOMEM);
}

/* Let the next call of the target fail, once. Returns 0 or -errno. */
static inline int gmem_fail_arm(void)
{
	return gmem_fail_knob("times", "1");
}

/*
 * Forget the target: nothing fails any more, and no call is let through
 * first ('space') when the next test arms it.
 */
static inline void gmem_fail_clear(void)
{
	gmem_fail_knob("times", "0");
	gmem_fail_knob("space", "0");
	gmem_fail_knob("inject", " ");
}

#endif /* _GMEM_TRACK_UTIL_H */
