/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Counters of gmem_track for its selftests: /sys/kernel/mm/gmem_track/,
 * /proc/vmstat and /proc/meminfo, each folded from the per-CPU counters
 * first where it matters.
 */
#ifndef _GMEM_TRACK_UTIL_H
#define _GMEM_TRACK_UTIL_H

#include <errno.h>
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

	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) != (ssize_t)strlen(val))
		ret = -errno;
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

/* The vmemmap of the whole system, in pages; folded per-CPU first. */
static inline long memmap_pages(void)
{
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

/* PageTables of /proc/meminfo, in KiB: kernel PTE tables count there too. */
static inline long page_tables_kb(void)
{
	return meminfo_kb("PageTables");
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

#endif /* _GMEM_TRACK_UTIL_H */
