// SPDX-License-Identifier: GPL-2.0
/*
 * Guest accesses to gmem_track backed guest_memfd files.
 *
 * A guest_memfd created with GUEST_MEMFD_FLAG_GMEM_TRACK is made of 2 MiB
 * (or, with GUEST_MEMFD_FLAG_HUGE_1G, 1 GiB) chunks of the tracked or the
 * struct-page design.  The file is mmap()able, so a memslot bound to it is
 * gmem-only: in a VM with private memory the PRIVATE attribute of each gfn
 * comes from the file and is changed with KVM_SET_MEMORY_ATTRIBUTES2 on the
 * guest_memfd.  Every test runs once per design and chunk size:
 *
 * - guest_writes_private: the guest writes private memory, the host
 *   converts it to shared keeping the content and reads the guest's bytes.
 * - payload_before_run: the host writes a payload into shared memory and
 *   converts it to private keeping the content before the first KVM_RUN;
 *   the guest finds it.
 * - guest_converts: the guest asks for conversions with KVM_HC_MAP_GPA_RANGE,
 *   the host carries them out on the guest_memfd.
 * - huge_mappings: KVM_PRE_FAULT_MEMORY of a fully private file maps it with
 *   2 MiB or 1 GiB stage-2 entries.
 * - huge_after_conversions: a chunk made shared, then private again a page
 *   at a time for its first pages and at once for the rest, is mapped by
 *   KVM with one entry of the chunk's size.
 * - default_vm: a KVM_X86_DEFAULT_VM guest writes any offset of the file and
 *   the host reads it back through mmap().
 * - vmm_flow: what a VMM written for upstream's in-place conversion does.
 *   The file is created shared (GUEST_MEMFD_FLAG_INIT_SHARED); the host
 *   loads a payload and converts the file to private keeping it (flags 0,
 *   upstream's only value, as in every conversion of it); the guest
 *   finds the payload and writes over it; the host converts parts back to
 *   shared and reads the guest's bytes there, and punches 4 KiB inside a
 *   chunk, of a shared and of a private page: both read zeroes, from the
 *   host (shared) and the guest, the pages around them are as they were,
 *   and every page keeps its attribute.  A private page raises SIGBUS in
 *   the host, a shared one maps in the guest the memory the host sees.
 *   Fixture vmm runs it again with no gmem_track flag, as a VMM unaware
 *   of gmem_track: on upstream's 4 KiB backend, and with the default
 *   backend at tracked-2m and structpage-2m, where default_backend_files
 *   must count the file.
 * - poison_private: memory_failure() on a private page the guest has mapped
 *   takes the mapping away: the guest's next access exits to the VMM with
 *   KVM_EXIT_MEMORY_FAULT, the page cannot be converted any more (EHWPOISON,
 *   error_offset naming it, whatever the span and the direction), the rest
 *   of the file keeps working; a punch of part of the chunk over it
 *   succeeds and leaves it poisoned.
 * - poison_shared: MADV_HWPOISON on a shared page the guest has mapped:
 *   the host's next read gets SIGBUS with BUS_MCEERR_AR, the guest's an
 *   exit with KVM_EXIT_MEMORY_FAULT (EHWPOISON), conversions over it fail
 *   with EHWPOISON and error_offset naming it; the page next to it works;
 *   a punch of both, part of their chunk, zeroes the neighbour and never
 *   writes the poisoned page, which stays poisoned.
 * - stress: for GMEM_STRESS_SECS seconds (default 10), at once on one file:
 *   host threads converting random ranges both ways (retrying EAGAIN), two
 *   vCPUs checking and rewriting pages, host threads faulting the shared
 *   mapping, shared pages held by a pipe (vmsplice), chunks punched out and
 *   allocated again, or left as holes that three host threads (shared
 *   pages: no SIGBUS) and two more vCPUs then fault in at once, each page
 *   reading zeroes. A punch of a chunk with a pinned page fails with EBUSY
 *   and changes no page. A file of another VM takes chunks and punches them
 *   out again and again: each reads zeroes when it comes and, when it goes,
 *   holds only what that file wrote, never a word of the stress's pattern.
 *   Every page has one owner at a time, so the guest and the host know what
 *   each must hold: no page may be found corrupt. The file is closed under
 *   the running threads; once they, the mapping and the VMs are gone,
 *   gmem_track's counters are back where they were.
 * - injected_fault: with fail_function, the chunk allocation of a guest
 *   fault on a punched-out chunk fails (KVM_RUN: ENOMEM with a
 *   KVM_EXIT_MEMORY_FAULT), and so do the conversions a guest asks for
 *   (descriptor split, vmemmap rebuild); nothing changes, the rest of the
 *   file is untouched, and the step then succeeds. An allocation that says
 *   EBUSY (no chunk for a moment) is retried within KVM_RUN instead.
 * - fill_failure_race (2M; 1G skips, see there): with fail_function, the
 *   fill of a hole shared but for private stretches fails in its last
 *   conversion (vmemmap rebuild or descriptor split), while a second
 *   vCPU, on the same host CPU, faults and writes private pages of the
 *   chunk at a random moment of the fill; at least one such burst must
 *   start during the fill. The chunk goes
 *   back (the counters), a file no guest maps takes free chunks at once
 *   and holds only what the host wrote there, the guest never reads that,
 *   and the next fill gives a chunk that holds what the guest writes and
 *   zeroes where it is shared.
 * - unreleased_fill: a fill that fails (fail_function) after a host
 *   thread mapped a shared page it had converted keeps its chunk, private
 *   beyond the failure where the attributes say shared; a private fault
 *   there is never mapped over such a page (1G: no 2 MiB entry; a 2 MiB
 *   chunk that kept a converted page is never one private run anyway),
 *   and a host fault on one repairs it (zero, shared). It must happen at
 *   least once.
 * - reserve_1g_map (tracked 2M only, in make check's boot with a 2M
 *   reservation): a 1 GiB file whose 512 chunks come from the reservation
 *   in a row from a 1 GiB boundary, one range of the descriptor, is still
 *   mapped with 2 MiB stage-2 entries, never one of 1 GiB: while a guest
 *   writes its pattern over the file, chunks punched out of it and taken
 *   by a file of another VM read back zeroes there.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/uio.h>

#include <linux/falloc.h>
#include <linux/kvm_para.h>
#include <linux/sizes.h>

#include "kselftest_harness.h"
#include "kvm_syscalls.h"
#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"
#include "ucall_common.h"

#include "gmem_track/gmem_track_util.h"

#define GMEM_SLOT		10
/* Above the memory of slot 0 and the PCI hole; 1 GiB aligned. */
#define GMEM_GPA		SZ_4G

/* Pages each test touches; see test_offset(). */
#define NR_TEST_PAGES		5

/* Under TCG a 1 GiB file takes seconds to allocate and zero. */
#define GMEM_TEST_TIMEOUT	300

/* Attempts to allocate a 1 GiB chunk that the previous test may still hold. */
#define NR_ALLOC_TRIES		5
/*
 * 100 ms waits for a 1 GiB chunk just freed to be found again, which takes
 * longer on a debug kernel.
 */
#define NR_REALLOC_WAITS	200

#define SALT_PRIVATE		0x5a5a000000000000ull
#define SALT_SHARED		0xa5a5000000000000ull
#define SALT_HOST		0x3c3c000000000000ull
#define SALT_PAYLOAD		0xc3c3000000000000ull

/*
 * File offsets of the pages a test touches: the first two pages, the last
 * page of the first 2 MiB, a page in the middle and the last page.  The
 * files are at least two 2 MiB chunks or one 1 GiB chunk large, so they are
 * distinct and lie in more than one 2 MiB range.
 */
static u64 test_offset(int i, u64 size)
{
	switch (i) {
	case 0:
		return 0;
	case 1:
		return PAGE_SIZE;
	case 2:
		return SZ_2M - PAGE_SIZE;
	case 3:
		return size / 2 + 3 * PAGE_SIZE;
	default:
		return size - PAGE_SIZE;
	}
}

/*
 * The value of the 8 bytes at file offset @offset: a function of the offset,
 * so that a page found at the wrong place is caught, or zero for @salt 0.
 */
static u64 expected_value(u64 offset, u64 salt)
{
	return salt ? offset ^ salt : 0;
}

static void fill_page(u64 *page, u64 offset, u64 salt)
{
	u64 i;

	for (i = 0; i < PAGE_SIZE / sizeof(u64); i++)
		page[i] = expected_value(offset + i * sizeof(u64), salt);
}

static void fill_test_pages(u8 *base, u64 size, u64 salt)
{
	u64 offset;
	int i;

	for (i = 0; i < NR_TEST_PAGES; i++) {
		offset = test_offset(i, size);
		fill_page((u64 *)(base + offset), offset, salt);
	}
}

static void guest_check_page(u64 gpa, u64 offset, u64 salt)
{
	u64 *page = (u64 *)(gpa + offset);
	u64 i, want;

	for (i = 0; i < PAGE_SIZE / sizeof(u64); i++) {
		want = expected_value(offset + i * sizeof(u64), salt);
		__GUEST_ASSERT(READ_ONCE(page[i]) == want,
			       "Guest expected 0x%lx at file offset 0x%lx, got 0x%lx",
			       want, offset + i * sizeof(u64), page[i]);
	}
}

static void guest_check_test_pages(u64 gpa, u64 size, u64 salt)
{
	int i;

	for (i = 0; i < NR_TEST_PAGES; i++)
		guest_check_page(gpa, test_offset(i, size), salt);
}

static void host_check_page(u8 *mem, u64 offset, u64 salt)
{
	u64 *page = (u64 *)(mem + offset);
	u64 i, want;

	for (i = 0; i < PAGE_SIZE / sizeof(u64); i++) {
		want = expected_value(offset + i * sizeof(u64), salt);
		TEST_ASSERT(READ_ONCE(page[i]) == want,
			    "Host expected 0x%lx at file offset 0x%lx, got 0x%lx",
			    want, offset + i * sizeof(u64), page[i]);
	}
}

/* A private offset is not accessible to the host. */
static void host_expect_sigbus(u8 *mem, u64 offset)
{
	TEST_EXPECT_SIGBUS((void)READ_ONCE(mem[offset]));
}

static int __gmem_set_attributes(int fd, u64 offset, u64 size, u64 attributes,
				 u64 flags, u64 *error_offset)
{
	struct kvm_memory_attributes2 attr = {
		.offset = offset,
		.size = size,
		.attributes = attributes,
		.flags = flags,
	};
	int r;

	r = kvm_do_ioctl(fd, KVM_SET_MEMORY_ATTRIBUTES2, &attr);
	*error_offset = attr.error_offset;
	return r;
}

static void gmem_set_attributes(int fd, u64 offset, u64 size, u64 attributes,
				u64 flags)
{
	u64 error_offset;
	int r;

	r = __gmem_set_attributes(fd, offset, size, attributes, flags,
				  &error_offset);
	TEST_ASSERT(!r,
		    "KVM_SET_MEMORY_ATTRIBUTES2(offset 0x%lx, size 0x%lx, attributes 0x%lx, flags 0x%lx) failed: rc %d errno %d (%s), error_offset 0x%lx",
		    offset, size, attributes, flags, r, errno, strerror(errno),
		    error_offset);
}

/* Identity-map the page at file offset @offset into the guest. */
static void map_page(struct kvm_vm *vm, u64 offset)
{
	virt_map(vm, GMEM_GPA + offset, GMEM_GPA + offset, 1);
}

static void map_test_pages(struct kvm_vm *vm, u64 size)
{
	int i;

	for (i = 0; i < NR_TEST_PAGES; i++)
		map_page(vm, test_offset(i, size));
}

/* A test's VM and guest_memfd. */
struct gmem_test {
	/* MMAP | GMEM_TRACK | the variant's flags, and its chunk size. */
	u64 gmem_flags;
	u64 chunk_size;

	struct kvm_vm *vm;
	struct kvm_vcpu *vcpu;
	int fd;
	u64 size;
	/* Host mapping of the whole file, aligned to the chunk size. */
	u8 *mem;
	void *reserved;
	size_t reserved_size;
	/* fail_function was set up: clear it whatever happens. */
	bool fail_set;
	char reason[128];
};

FIXTURE(gmem_track) {
	struct gmem_test t;
};

FIXTURE_VARIANT(gmem_track) {
	/* Design and chunk size flags. */
	u64 flags;
	u64 chunk_size;
};

FIXTURE_VARIANT_ADD(gmem_track, tracked_2m) {
	.flags = GUEST_MEMFD_FLAG_TRACKED,
	.chunk_size = SZ_2M,
};

FIXTURE_VARIANT_ADD(gmem_track, tracked_1g) {
	.flags = GUEST_MEMFD_FLAG_TRACKED | GUEST_MEMFD_FLAG_HUGE_1G,
	.chunk_size = SZ_1G,
};

FIXTURE_VARIANT_ADD(gmem_track, struct_page_2m) {
	.flags = GUEST_MEMFD_FLAG_STRUCT_PAGE,
	.chunk_size = SZ_2M,
};

FIXTURE_VARIANT_ADD(gmem_track, struct_page_1g) {
	.flags = GUEST_MEMFD_FLAG_STRUCT_PAGE | GUEST_MEMFD_FLAG_HUGE_1G,
	.chunk_size = SZ_1G,
};

/* @nr_2m chunks of 2 MiB, or one chunk of 1 GiB. */
static u64 gmem_file_size(struct gmem_test *t, u64 nr_2m)
{
	return t->chunk_size == SZ_1G ? SZ_1G : nr_2m * SZ_2M;
}

/*
 * What /dev/kvm or a KVM_X86_SW_PROTECTED_VM reports for @cap: KVM may report
 * guest_memfd capabilities only for a VM with private memory.
 */
static u64 check_cap_any(long cap)
{
	u64 r = kvm_check_cap(cap);
	struct kvm_vm *vm;

	if (kvm_check_cap(KVM_CAP_VM_TYPES) & BIT(KVM_X86_SW_PROTECTED_VM)) {
		vm = vm_create_barebones_type(KVM_X86_SW_PROTECTED_VM);
		r |= vm_check_cap(vm, cap);
		kvm_vm_free(vm);
	}
	return r;
}

/*
 * Every KVM_CREATE_GUEST_MEMFD flag @vm takes: upstream's are listed by
 * KVM_CAP_GUEST_MEMFD_FLAGS, gmem_track's by KVM_CAP_GMEM_TRACK_FLAGS.
 */
static u64 gmem_flags_supported(struct kvm_vm *vm)
{
	return vm_check_cap(vm, KVM_CAP_GUEST_MEMFD_FLAGS) |
	       vm_check_cap(vm, KVM_CAP_GMEM_TRACK_FLAGS);
}

static bool vm_has_attributes2(struct kvm_vm *vm)
{
	const u64 flags = KVM_SET_MEMORY_ATTRIBUTES2_ZERO |
			  KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE;

	return (vm_check_cap(vm, KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES) &
		KVM_MEMORY_ATTRIBUTE_PRIVATE) &&
	       (vm_check_cap(vm, KVM_CAP_MEMORY_ATTRIBUTES2_FLAGS) & flags) == flags;
}

/*
 * Set up @t for files of @gmem_flags and chunks of @chunk_size. Returns
 * NULL, or why the test is skipped: KVM has no guest_memfd with attributes.
 */
static const char *gmem_test_init(struct gmem_test *t, u64 gmem_flags,
				  u64 chunk_size)
{
	t->gmem_flags = gmem_flags;
	t->chunk_size = chunk_size;
	t->fd = -1;

	if (!kvm_has_cap(KVM_CAP_GUEST_MEMFD))
		return "KVM_CAP_GUEST_MEMFD not supported";
	if (!(check_cap_any(KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES) &
	      KVM_MEMORY_ATTRIBUTE_PRIVATE))
		return "KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES not supported";
	return NULL;
}

FIXTURE_SETUP(gmem_track)
{
	const u64 attr2_flags = KVM_SET_MEMORY_ATTRIBUTES2_ZERO |
				KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE;
	struct gmem_test *t = &self->t;
	const char *reason;

	reason = gmem_test_init(t, GUEST_MEMFD_FLAG_MMAP |
				   GUEST_MEMFD_FLAG_GMEM_TRACK | variant->flags,
				variant->chunk_size);
	if (reason)
		SKIP(return, "%s", reason);
	if ((check_cap_any(KVM_CAP_MEMORY_ATTRIBUTES2_FLAGS) & attr2_flags) !=
	    attr2_flags)
		SKIP(return, "KVM_SET_MEMORY_ATTRIBUTES2_ZERO/PRESERVE not supported");
	if (((check_cap_any(KVM_CAP_GUEST_MEMFD_FLAGS) |
	      check_cap_any(KVM_CAP_GMEM_TRACK_FLAGS)) & t->gmem_flags) !=
	    t->gmem_flags)
		SKIP(return, "guest_memfd flags 0x%lx not supported",
		     t->gmem_flags);
}

/*
 * A failed TEST_ASSERT() exits the test's process without its teardown:
 * clear fail_function at exit too, or the next test in the binary gets
 * the failure armed here.
 */
static void gmem_fail_atexit(void)
{
	gmem_fail_clear();
}

static void gmem_fail_mark(struct gmem_test *t)
{
	if (!t->fail_set)
		atexit(gmem_fail_atexit);
	t->fail_set = true;
}

static void gmem_test_release(struct gmem_test *t)
{
	if (t->fail_set)
		gmem_fail_clear();
	if (t->reserved)
		kvm_munmap(t->reserved, t->reserved_size);
	if (t->fd >= 0)
		kvm_close(t->fd);
	if (t->vm)
		kvm_vm_free(t->vm);
}

FIXTURE_TEARDOWN(gmem_track)
{
	gmem_test_release(&self->t);
}

/*
 * Create a VM of @vm_type with one vCPU running @guest_code.  Return NULL, or
 * why the test is skipped.
 */
static const char *gmem_vm_create(struct gmem_test *t,
				  unsigned long vm_type, void *guest_code)
{
	const struct vm_shape shape = {
		.mode = VM_MODE_DEFAULT,
		.type = vm_type,
	};

	if (vm_type != KVM_X86_DEFAULT_VM &&
	    !(kvm_check_cap(KVM_CAP_VM_TYPES) & BIT(vm_type))) {
		snprintf(t->reason, sizeof(t->reason),
			 "VM type %lu not supported", vm_type);
		return t->reason;
	}

	t->vm = vm_create_shape_with_one_vcpu(shape, &t->vcpu, guest_code);

	if (vm_type == KVM_X86_SW_PROTECTED_VM && !vm_has_attributes2(t->vm))
		return "KVM_X86_SW_PROTECTED_VM lacks guest_memfd memory attributes";

	return NULL;
}

/*
 * Create a guest_memfd of @size bytes with the variant's flags and
 * @extra_flags, allocate all of it, map it in the host and bind it to
 * GMEM_SLOT at GMEM_GPA.  Return NULL, or why the test is skipped: the VM
 * does not support the flags, or a 1 GiB chunk cannot be allocated.
 */
static const char *gmem_file_create(struct gmem_test *t, u64 size,
				    u64 extra_flags)
{
	u64 flags = t->gmem_flags | extra_flags;
	u64 supported = gmem_flags_supported(t->vm);
	bool huge_1g = t->chunk_size == SZ_1G;
	u8 *aligned;
	u64 align;
	int i, r;

	if ((supported & flags) != flags) {
		snprintf(t->reason, sizeof(t->reason),
			 "guest_memfd flags 0x%lx not supported by the VM (0x%lx)",
			 flags, supported);
		return t->reason;
	}

	t->size = size;
	t->fd = __vm_create_guest_memfd(t->vm, size, flags);
	if (t->fd < 0 && errno == ENOMEM && huge_1g)
		return "no memory for a 1 GiB guest_memfd";
	TEST_ASSERT(t->fd >= 0,
		    "KVM_CREATE_GUEST_MEMFD(size 0x%lx, flags 0x%lx) failed, errno %d (%s)",
		    size, flags, errno, strerror(errno));

	/*
	 * Allocate everything now, so that a missing 1 GiB chunk skips the
	 * test instead of failing a guest access.  The chunk of the previous
	 * test may be freed lazily: give it a few seconds.
	 */
	for (i = 0; i < NR_ALLOC_TRIES; i++) {
		r = fallocate(t->fd, FALLOC_FL_KEEP_SIZE, 0, size);
		if (!r || errno != ENOMEM || !huge_1g)
			break;
		sleep(1);
	}
	if (r && errno == ENOMEM && huge_1g)
		return "no memory for a 1 GiB chunk";
	TEST_ASSERT(!r, __KVM_SYSCALL_ERROR("fallocate()", r));

	/*
	 * KVM maps a gfn range huge only if the memslot's host address is
	 * aligned like its gpa, so align the mapping to the chunk size, and
	 * to 1 GiB for a file of a GiB or more: then only gmem_track decides
	 * how large KVM's mappings are.
	 */
	align = size >= SZ_1G ? SZ_1G : t->chunk_size;
	t->reserved_size = size + align;
	t->reserved = kvm_mmap(t->reserved_size, PROT_NONE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1);
	aligned = align_ptr_up(t->reserved, align);
	if (flags & GUEST_MEMFD_FLAG_MMAP)
		t->mem = mmap(aligned, size, PROT_READ | PROT_WRITE,
			      MAP_SHARED | MAP_FIXED, t->fd, 0);
	else	/* The memslot's address: KVM's faults never use it. */
		t->mem = mmap(aligned, size, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	TEST_ASSERT(t->mem == aligned,
		    __KVM_SYSCALL_ERROR("mmap()", (int)(long)t->mem));

	vm_set_user_memory_region2(t->vm, GMEM_SLOT, KVM_MEM_GUEST_MEMFD,
				   GMEM_GPA, size, t->mem, t->fd, 0);
	return NULL;
}

/* Carry out a KVM_HC_MAP_GPA_RANGE request of @vcpu on the guest_memfd. */
static void handle_map_gpa_range(struct gmem_test *t, struct kvm_vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	u64 gpa = run->hypercall.args[0];
	u64 size = run->hypercall.args[1] * PAGE_SIZE;
	bool private = run->hypercall.args[2] & KVM_MAP_GPA_RANGE_ENCRYPTED;

	TEST_ASSERT(run->hypercall.nr == KVM_HC_MAP_GPA_RANGE,
		    "Wanted MAP_GPA_RANGE (%u), got '%llu'",
		    KVM_HC_MAP_GPA_RANGE, run->hypercall.nr);
	TEST_ASSERT(gpa >= GMEM_GPA && size <= t->size &&
		    gpa - GMEM_GPA <= t->size - size,
		    "MAP_GPA_RANGE 0x%lx+0x%lx outside the guest_memfd slot",
		    gpa, size);

	gmem_set_attributes(t->fd, gpa - GMEM_GPA, size,
			    private ? KVM_MEMORY_ATTRIBUTE_PRIVATE : 0,
			    KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE);
	run->hypercall.ret = 0;
}

/* Check that @vcpu stopped at a ucall, @want: see __run_vcpu(). */
static void check_ucall(struct kvm_vcpu *vcpu, u64 want, u64 stage)
{
	struct kvm_run *run = vcpu->run;
	struct ucall uc;

	TEST_ASSERT(run->exit_reason != KVM_EXIT_MEMORY_FAULT,
		    "KVM_EXIT_MEMORY_FAULT at gpa 0x%llx size 0x%llx flags 0x%llx",
		    run->memory_fault.gpa, run->memory_fault.size,
		    run->memory_fault.flags);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);

	switch (get_ucall(vcpu, &uc)) {
	case UCALL_ABORT:
		REPORT_GUEST_ASSERT(uc);
		break;
	case UCALL_SYNC:
		TEST_ASSERT(want == UCALL_SYNC && uc.args[1] == stage,
			    "Unexpected GUEST_SYNC(%lu)", uc.args[1]);
		break;
	case UCALL_DONE:
		TEST_ASSERT(want == UCALL_DONE, "Unexpected GUEST_DONE");
		break;
	default:
		TEST_FAIL("Unknown ucall 0x%lx", uc.cmd);
	}
}

/*
 * Run @vcpu to its next ucall, carrying out MAP_GPA_RANGE requests on the
 * way, and check that it is @want: UCALL_DONE, or UCALL_SYNC of stage @stage.
 */
static void __run_vcpu(struct gmem_test *t, struct kvm_vcpu *vcpu, u64 want,
		       u64 stage)
{
	struct kvm_run *run = vcpu->run;

	for (;;) {
		vcpu_run(vcpu);
		if (run->exit_reason != KVM_EXIT_HYPERCALL)
			break;
		handle_map_gpa_range(t, vcpu);
	}
	check_ucall(vcpu, want, stage);
}

static void run_to_sync(struct gmem_test *t, u64 stage)
{
	__run_vcpu(t, t->vcpu, UCALL_SYNC, stage);
}

static void run_to_done(struct gmem_test *t)
{
	__run_vcpu(t, t->vcpu, UCALL_DONE, 0);
}

static void guest_writes_private(u64 gpa, u64 size)
{
	fill_test_pages((u8 *)gpa, size, SALT_PRIVATE);
	GUEST_SYNC(1);

	/* The host made the pages shared, keeping what the guest wrote. */
	guest_check_test_pages(gpa, size, SALT_PRIVATE);
	GUEST_DONE();
}

TEST_F_TIMEOUT(gmem_track, guest_writes_private, GMEM_TEST_TIMEOUT)
{
	struct gmem_test *t = &self->t;
	u64 size = gmem_file_size(t, 2);
	const char *reason;
	u64 offset;
	int i;

	reason = gmem_vm_create(t, KVM_X86_SW_PROTECTED_VM,
				guest_writes_private);
	if (!reason)
		reason = gmem_file_create(t, size, 0);
	if (reason)
		SKIP(return, "%s", reason);

	map_test_pages(t->vm, size);
	vcpu_args_set(t->vcpu, 2, GMEM_GPA, size);

	run_to_sync(t, 1);

	host_expect_sigbus(t->mem, 0);

	for (i = 0; i < NR_TEST_PAGES; i++) {
		offset = test_offset(i, size);
		gmem_set_attributes(t->fd, offset, PAGE_SIZE, 0,
				    KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE);
		host_check_page(t->mem, offset, SALT_PRIVATE);
	}

	run_to_done(t);
}

static void guest_reads_payload(u64 gpa, u64 size)
{
	guest_check_test_pages(gpa, size, SALT_PAYLOAD);
	/* A page the host did not write holds zeroes. */
	guest_check_page(gpa, 2 * PAGE_SIZE, 0);
	GUEST_DONE();
}

TEST_F_TIMEOUT(gmem_track, payload_before_run, GMEM_TEST_TIMEOUT)
{
	struct gmem_test *t = &self->t;
	u64 size = gmem_file_size(t, 2);
	const char *reason;
	bool init_shared;
	u64 offset;
	int i;

	reason = gmem_vm_create(t, KVM_X86_SW_PROTECTED_VM,
				guest_reads_payload);
	if (reason)
		SKIP(return, "%s", reason);

	init_shared = vm_check_cap(t->vm, KVM_CAP_GUEST_MEMFD_FLAGS) &
		      GUEST_MEMFD_FLAG_INIT_SHARED;
	reason = gmem_file_create(t, size,
				  init_shared ? GUEST_MEMFD_FLAG_INIT_SHARED : 0);
	if (reason)
		SKIP(return, "%s", reason);

	map_test_pages(t->vm, size);
	map_page(t->vm, 2 * PAGE_SIZE);
	vcpu_args_set(t->vcpu, 2, GMEM_GPA, size);

	for (i = 0; i < NR_TEST_PAGES; i++) {
		offset = test_offset(i, size);
		if (!init_shared)
			gmem_set_attributes(t->fd, offset, PAGE_SIZE, 0,
					    KVM_SET_MEMORY_ATTRIBUTES2_ZERO);
		host_check_page(t->mem, offset, 0);
	}
	fill_test_pages(t->mem, size, SALT_PAYLOAD);

	/* All of the file, shared or not yet: one all-or-nothing call. */
	gmem_set_attributes(t->fd, 0, size, KVM_MEMORY_ATTRIBUTE_PRIVATE,
			    KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE);
	host_expect_sigbus(t->mem, 0);

	run_to_done(t);
}

static void guest_converts(u64 gpa, u64 size)
{
	u64 offset;
	int i;

	fill_test_pages((u8 *)gpa, size, SALT_PRIVATE);

	for (i = 0; i < NR_TEST_PAGES; i++) {
		offset = test_offset(i, size);
		kvm_hypercall_map_gpa_range(gpa + offset, PAGE_SIZE,
					    KVM_MAP_GPA_RANGE_DECRYPTED);
	}
	/* The host converted with PRESERVE. */
	guest_check_test_pages(gpa, size, SALT_PRIVATE);

	fill_test_pages((u8 *)gpa, size, SALT_SHARED);
	GUEST_SYNC(1);
	guest_check_test_pages(gpa, size, SALT_HOST);

	/*
	 * Back to private: the first 2 MiB, of which only the test pages are
	 * shared.  Their content stays.
	 */
	kvm_hypercall_map_gpa_range(gpa, SZ_2M, KVM_MAP_GPA_RANGE_ENCRYPTED);
	for (i = 0; i < NR_TEST_PAGES; i++) {
		offset = test_offset(i, size);
		if (offset < SZ_2M)
			guest_check_page(gpa, offset, SALT_HOST);
	}
	GUEST_SYNC(2);
	GUEST_DONE();
}

TEST_F_TIMEOUT(gmem_track, guest_converts, GMEM_TEST_TIMEOUT)
{
	struct gmem_test *t = &self->t;
	u64 size = gmem_file_size(t, 2);
	const char *reason;
	u64 offset;
	int i;

	if (!(kvm_check_cap(KVM_CAP_EXIT_HYPERCALL) & BIT(KVM_HC_MAP_GPA_RANGE)))
		SKIP(return, "KVM_CAP_EXIT_HYPERCALL lacks KVM_HC_MAP_GPA_RANGE");

	reason = gmem_vm_create(t, KVM_X86_SW_PROTECTED_VM, guest_converts);
	if (!reason)
		reason = gmem_file_create(t, size, 0);
	if (reason)
		SKIP(return, "%s", reason);

	vm_enable_cap(t->vm, KVM_CAP_EXIT_HYPERCALL,
		      BIT(KVM_HC_MAP_GPA_RANGE));
	map_test_pages(t->vm, size);
	vcpu_args_set(t->vcpu, 2, GMEM_GPA, size);

	run_to_sync(t, 1);
	for (i = 0; i < NR_TEST_PAGES; i++) {
		offset = test_offset(i, size);
		host_check_page(t->mem, offset, SALT_SHARED);
		fill_page((u64 *)(t->mem + offset), offset, SALT_HOST);
	}

	run_to_sync(t, 2);
	for (i = 0; i < NR_TEST_PAGES; i++) {
		offset = test_offset(i, size);
		if (offset < SZ_2M)
			host_expect_sigbus(t->mem, offset);
		else
			host_check_page(t->mem, offset, SALT_HOST);
	}

	run_to_done(t);
}

static void guest_reads_chunks(u64 gpa, u64 size, u64 chunk_size)
{
	u64 offset;

	for (offset = 0; offset < size; offset += chunk_size)
		__GUEST_ASSERT(!READ_ONCE(*(u64 *)(gpa + offset)),
			       "Guest expected 0 at file offset 0x%lx", offset);
	GUEST_DONE();
}

static void pre_fault_range(struct kvm_vcpu *vcpu, u64 gpa, u64 size)
{
	struct kvm_pre_fault_memory range = {
		.gpa = gpa,
		.size = size,
	};
	int r;

	while (range.size) {
		r = __vcpu_ioctl(vcpu, KVM_PRE_FAULT_MEMORY, &range);
		if (r && (errno == EINTR || errno == EAGAIN))
			continue;
		TEST_ASSERT_VM_VCPU_IOCTL(!r, KVM_PRE_FAULT_MEMORY, r, vcpu->vm);
	}
}

TEST_F_TIMEOUT(gmem_track, huge_mappings, GMEM_TEST_TIMEOUT)
{
	struct gmem_test *t = &self->t;
	u64 size = gmem_file_size(t, 4);
	u64 nr_chunks = size / t->chunk_size;
	u64 pages_4k, pages_2m, pages_1g, huge;
	const char *reason;
	u64 offset;

	if (!kvm_has_cap(KVM_CAP_PRE_FAULT_MEMORY))
		SKIP(return, "KVM_CAP_PRE_FAULT_MEMORY not supported");
	if (t->chunk_size == SZ_1G && !kvm_cpu_has(X86_FEATURE_GBPAGES))
		SKIP(return, "no 1 GiB pages in the stage-2 page tables");

	reason = gmem_vm_create(t, KVM_X86_SW_PROTECTED_VM,
				guest_reads_chunks);
	if (!reason)
		reason = gmem_file_create(t, size, 0);
	if (reason)
		SKIP(return, "%s", reason);

	pre_fault_range(t->vcpu, GMEM_GPA, size);

	pages_4k = vm_get_stat(t->vm, pages_4k);
	pages_2m = vm_get_stat(t->vm, pages_2m);
	pages_1g = vm_get_stat(t->vm, pages_1g);
	ksft_print_msg("%s: %lu chunk(s) pre-faulted: pages_4k %lu pages_2m %lu pages_1g %lu\n",
		       t->chunk_size == SZ_1G ? "1G" : "2M", nr_chunks,
		       pages_4k, pages_2m, pages_1g);

	huge = t->chunk_size == SZ_1G ? pages_1g : pages_2m;
	TEST_ASSERT(huge >= nr_chunks,
		    "Wanted at least %lu %s mappings, got %lu",
		    nr_chunks, t->chunk_size == SZ_1G ? "1G" : "2M",
		    huge);

	/* And the guest runs on them. */
	for (offset = 0; offset < size; offset += t->chunk_size)
		map_page(t->vm, offset);
	vcpu_args_set(t->vcpu, 3, GMEM_GPA, size, t->chunk_size);
	run_to_done(t);
}

/* Pages converted back to private one by one, each way. */
#define HAC_PAGES	100

/*
 * A chunk made shared, then private again: from page 2 * HAC_PAGES on at
 * once, then a page at a time from page 2 * HAC_PAGES - 1 down to
 * HAC_PAGES (each touching a private run on its right) and from page 0 up
 * to HAC_PAGES - 1 (on its left, the last on both sides). It is private
 * all over, and KVM maps it with one entry of the chunk's size, as before.
 * Each conversion stores its own range of the attributes; those that
 * touch must become one run, or each private fault walks them all, and
 * the walk, which gives up past 64 entries, maps the chunk smaller.
 */
TEST_F_TIMEOUT(gmem_track, huge_after_conversions, GMEM_TEST_TIMEOUT)
{
	struct gmem_test *t = &self->t;
	const u64 chunk = t->chunk_size;
	u64 pages_4k, pages_2m, pages_1g, huge, i;
	const char *reason;

	if (!kvm_has_cap(KVM_CAP_PRE_FAULT_MEMORY))
		SKIP(return, "KVM_CAP_PRE_FAULT_MEMORY not supported");
	if (chunk == SZ_1G && !kvm_cpu_has(X86_FEATURE_GBPAGES))
		SKIP(return, "no 1 GiB pages in the stage-2 page tables");

	reason = gmem_vm_create(t, KVM_X86_SW_PROTECTED_VM,
				guest_reads_chunks);
	if (!reason)
		reason = gmem_file_create(t, chunk, 0);
	if (reason)
		SKIP(return, "%s", reason);

	gmem_set_attributes(t->fd, 0, chunk, 0,
			    KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE);
	gmem_set_attributes(t->fd, 2 * HAC_PAGES * PAGE_SIZE,
			    chunk - 2 * HAC_PAGES * PAGE_SIZE,
			    KVM_MEMORY_ATTRIBUTE_PRIVATE,
			    KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE);
	for (i = 2 * HAC_PAGES; i-- > HAC_PAGES; )
		gmem_set_attributes(t->fd, i * PAGE_SIZE, PAGE_SIZE,
				    KVM_MEMORY_ATTRIBUTE_PRIVATE,
				    KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE);
	for (i = 0; i < HAC_PAGES; i++)
		gmem_set_attributes(t->fd, i * PAGE_SIZE, PAGE_SIZE,
				    KVM_MEMORY_ATTRIBUTE_PRIVATE,
				    KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE);

	pre_fault_range(t->vcpu, GMEM_GPA, chunk);
	pages_4k = vm_get_stat(t->vm, pages_4k);
	pages_2m = vm_get_stat(t->vm, pages_2m);
	pages_1g = vm_get_stat(t->vm, pages_1g);
	ksft_print_msg("%s: pre-faulted: pages_4k %lu pages_2m %lu pages_1g %lu\n",
		       chunk == SZ_1G ? "1G" : "2M", pages_4k, pages_2m,
		       pages_1g);
	huge = chunk == SZ_1G ? pages_1g : pages_2m;
	TEST_ASSERT(huge == 1,
		    "a chunk private again after %d single-page conversions is mapped with %lu entries of its size, not 1",
		    2 * HAC_PAGES, huge);
}

static void guest_default_vm(u64 gpa, u64 size)
{
	fill_test_pages((u8 *)gpa, size, SALT_PRIVATE);
	GUEST_SYNC(1);
	fill_test_pages((u8 *)gpa, size, SALT_SHARED);
	GUEST_SYNC(2);
	GUEST_DONE();
}

TEST_F_TIMEOUT(gmem_track, default_vm, GMEM_TEST_TIMEOUT)
{
	struct gmem_test *t = &self->t;
	u64 size = gmem_file_size(t, 2);
	const char *reason;
	bool convert;
	int i;

	reason = gmem_vm_create(t, KVM_X86_DEFAULT_VM, guest_default_vm);
	if (reason)
		SKIP(return, "%s", reason);

	/*
	 * As upstream's, KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES is 0 on a VM
	 * without private memory; gmem_track converts there all the same,
	 * an extension KVM_CAP_MEMORY_ATTRIBUTES2_FLAGS advertises.
	 */
	TEST_ASSERT_EQ(vm_check_cap(t->vm, KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES), 0);
	TEST_ASSERT_EQ(vm_check_cap(t->vm, KVM_CAP_MEMORY_ATTRIBUTES2_FLAGS),
		       KVM_SET_MEMORY_ATTRIBUTES2_ZERO |
		       KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE);

	/*
	 * Files start private: with memory attributes the host converts what
	 * the guest wrote, else the file starts shared.
	 */
	convert = vm_check_cap(t->vm, KVM_CAP_MEMORY_ATTRIBUTES2_FLAGS) &
		  KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE;
	reason = gmem_file_create(t, size,
				  convert ? 0 : GUEST_MEMFD_FLAG_INIT_SHARED);
	if (reason)
		SKIP(return, "%s", reason);

	map_test_pages(t->vm, size);
	vcpu_args_set(t->vcpu, 2, GMEM_GPA, size);

	run_to_sync(t, 1);
	if (convert) {
		host_expect_sigbus(t->mem, 0);
		for (i = 0; i < NR_TEST_PAGES; i++)
			gmem_set_attributes(t->fd, test_offset(i, size),
					    PAGE_SIZE, 0,
					    KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE);
	}
	for (i = 0; i < NR_TEST_PAGES; i++)
		host_check_page(t->mem, test_offset(i, size), SALT_PRIVATE);

	/* The guest writes the now shared pages, the host sees it at once. */
	run_to_sync(t, 2);
	for (i = 0; i < NR_TEST_PAGES; i++)
		host_check_page(t->mem, test_offset(i, size), SALT_SHARED);

	run_to_done(t);
}

/*
 * vmm_flow's pages: the test pages, and the pages around test page 3, which
 * is punched while shared; test page 2 is punched while private.
 */
static u64 vmm_flow_punched(u64 size)
{
	return test_offset(3, size);
}

static u64 vmm_flow_private(u64 size)
{
	return test_offset(2, size);
}

static void guest_vmm_flow(u64 gpa, u64 size)
{
	u64 punched = vmm_flow_punched(size);

	/* The payload the host loaded, now in private memory. */
	guest_check_test_pages(gpa, size, SALT_PAYLOAD);
	guest_check_page(gpa, punched - PAGE_SIZE, 0);
	guest_check_page(gpa, punched + PAGE_SIZE, 0);
	fill_test_pages((u8 *)gpa, size, SALT_PRIVATE);
	fill_page((u64 *)(gpa + punched - PAGE_SIZE), punched - PAGE_SIZE,
		  SALT_PRIVATE);
	fill_page((u64 *)(gpa + punched + PAGE_SIZE), punched + PAGE_SIZE,
		  SALT_PRIVATE);
	GUEST_SYNC(1);

	/*
	 * Pages 0, 1 and the three around the punch are shared, the others
	 * private; the two punched pages read zeroes, the rest is the guest's.
	 */
	guest_check_page(gpa, 0, SALT_PRIVATE);
	guest_check_page(gpa, PAGE_SIZE, SALT_PRIVATE);
	guest_check_page(gpa, punched - PAGE_SIZE, SALT_PRIVATE);
	guest_check_page(gpa, punched, 0);
	guest_check_page(gpa, punched + PAGE_SIZE, SALT_PRIVATE);
	guest_check_page(gpa, vmm_flow_private(size), 0);
	guest_check_page(gpa, size - PAGE_SIZE, SALT_PRIVATE);

	/* A shared page: the host sees this at once. */
	fill_page((u64 *)gpa, 0, SALT_SHARED);
	GUEST_DONE();
}

static void vmm_flow_punch(struct gmem_test *t, u64 offset)
{
	int r;

	r = fallocate(t->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      offset, PAGE_SIZE);
	TEST_ASSERT(!r, "punching 4 KiB at 0x%lx: errno %d (%s)", offset,
		    errno, strerror(errno));
}

/*
 * A VMM's file of @size bytes, created shared and allocated, its test
 * pages mapped in the guest; @created, if set, is called once it exists.
 * Returns NULL, or why the test is skipped.
 */
static const char *vmm_file_create(struct gmem_test *t, u64 size,
				   void (*created)(struct gmem_test *t))
{
	const char *reason;

	reason = gmem_file_create(t, size, GUEST_MEMFD_FLAG_INIT_SHARED);
	if (reason)
		return reason;
	if (created)
		created(t);
	map_test_pages(t->vm, size);
	return NULL;
}

/*
 * The flow of vmm_flow on the file @t describes. Returns NULL, or why the
 * test is skipped. @created, if set, is called once the file exists.
 */
static const char *vmm_flow_run(struct gmem_test *t,
				void (*created)(struct gmem_test *t))
{
	u64 size = gmem_file_size(t, 2);
	u64 punched = vmm_flow_punched(size);
	u64 priv = vmm_flow_private(size);
	const char *reason;
	u64 supported;
	int i;

	reason = gmem_vm_create(t, KVM_X86_SW_PROTECTED_VM, guest_vmm_flow);
	if (reason)
		return reason;

	/* What the VMM asks first: a SW-protected VM's file, shared. */
	supported = vm_check_cap(t->vm, KVM_CAP_GUEST_MEMFD_FLAGS);
	TEST_ASSERT(supported & GUEST_MEMFD_FLAG_INIT_SHARED,
		    "KVM_X86_SW_PROTECTED_VM lacks GUEST_MEMFD_FLAG_INIT_SHARED (0x%lx)",
		    supported);
	reason = vmm_file_create(t, size, created);
	if (reason)
		return reason;
	map_page(t->vm, punched - PAGE_SIZE);
	map_page(t->vm, punched + PAGE_SIZE);
	vcpu_args_set(t->vcpu, 2, GMEM_GPA, size);

	/* Shared from the start, zeroed: the host loads the payload. */
	for (i = 0; i < NR_TEST_PAGES; i++)
		host_check_page(t->mem, test_offset(i, size), 0);
	fill_test_pages(t->mem, size, SALT_PAYLOAD);

	/*
	 * All of the file private in one call, the payload kept.  With flags
	 * 0, as upstream's uapi has no other value: the content is kept (see
	 * Documentation/virt/kvm/gmem_track_uapi.rst).
	 */
	gmem_set_attributes(t->fd, 0, size, KVM_MEMORY_ATTRIBUTE_PRIVATE, 0);
	for (i = 0; i < NR_TEST_PAGES; i++)
		host_expect_sigbus(t->mem, test_offset(i, size));

	run_to_sync(t, 1);

	/* Parts shared again: the host reads what the guest wrote. */
	gmem_set_attributes(t->fd, 0, 2 * PAGE_SIZE, 0, 0);
	gmem_set_attributes(t->fd, punched - PAGE_SIZE, 3 * PAGE_SIZE, 0, 0);
	host_check_page(t->mem, 0, SALT_PRIVATE);
	host_check_page(t->mem, PAGE_SIZE, SALT_PRIVATE);
	host_check_page(t->mem, punched - PAGE_SIZE, SALT_PRIVATE);
	host_check_page(t->mem, punched, SALT_PRIVATE);
	host_check_page(t->mem, punched + PAGE_SIZE, SALT_PRIVATE);

	/*
	 * 4 KiB inside a chunk, shared and private: the memory is zeroed,
	 * the chunk and the attributes stay.
	 */
	vmm_flow_punch(t, punched);
	vmm_flow_punch(t, priv);
	host_check_page(t->mem, punched, 0);
	host_check_page(t->mem, punched - PAGE_SIZE, SALT_PRIVATE);
	host_check_page(t->mem, punched + PAGE_SIZE, SALT_PRIVATE);
	host_expect_sigbus(t->mem, priv);
	host_expect_sigbus(t->mem, size - PAGE_SIZE);
	host_expect_sigbus(t->mem, 2 * PAGE_SIZE);

	run_to_done(t);
	host_check_page(t->mem, 0, SALT_SHARED);
	host_check_page(t->mem, punched, 0);
	return NULL;
}

TEST_F_TIMEOUT(gmem_track, vmm_flow, GMEM_TEST_TIMEOUT)
{
	const char *reason = vmm_flow_run(&self->t, NULL);

	if (reason)
		SKIP(return, "%s", reason);
}

/*
 * vmm_flow_no_mmap's guest. The host cannot look into a file without
 * GUEST_MEMFD_FLAG_MMAP, so the guest checks what each conversion and
 * punch of the host left: test pages 0 and 3 made shared keeping the
 * content, then page 3 punched; page 1 made shared zeroed; page 2 punched
 * while private; page 4 private throughout.
 */
static void guest_no_mmap_flow(u64 gpa, u64 size)
{
	guest_check_test_pages(gpa, size, 0);
	fill_test_pages((u8 *)gpa, size, SALT_SHARED);
	GUEST_SYNC(1);

	/* All private, the content kept. */
	guest_check_test_pages(gpa, size, SALT_SHARED);
	fill_test_pages((u8 *)gpa, size, SALT_PRIVATE);
	GUEST_SYNC(2);

	guest_check_page(gpa, test_offset(0, size), SALT_PRIVATE);
	guest_check_page(gpa, test_offset(1, size), 0);
	guest_check_page(gpa, test_offset(2, size), 0);
	guest_check_page(gpa, test_offset(3, size), 0);
	guest_check_page(gpa, test_offset(4, size), SALT_PRIVATE);
	GUEST_DONE();
}

/* The memslot's own address, untouched: KVM's faults map the file alone. */
static void host_check_unused(struct gmem_test *t, u64 size)
{
	int i;

	for (i = 0; i < NR_TEST_PAGES; i++)
		host_check_page(t->mem, test_offset(i, size), 0);
}

/*
 * A VMM that creates its file without GUEST_MEMFD_FLAG_MMAP, as upstream's
 * in-place conversion allows: the file still holds the PRIVATE attribute
 * (the VM has none: KVM_SET_MEMORY_ATTRIBUTES of PRIVATE is EINVAL), KVM
 * maps shared memory from it too, and it converts and punches as a mapped
 * one does.
 */
static const char *vmm_flow_no_mmap_run(struct gmem_test *t,
					void (*created)(struct gmem_test *t))
{
	struct kvm_memory_attributes vm_attrs = {
		.address = GMEM_GPA,
		.size = PAGE_SIZE,
		.attributes = KVM_MEMORY_ATTRIBUTE_PRIVATE,
	};
	u64 size = gmem_file_size(t, 2);
	const char *reason;
	int r;

	reason = gmem_vm_create(t, KVM_X86_SW_PROTECTED_VM, guest_no_mmap_flow);
	if (reason)
		return reason;
	TEST_ASSERT(!(vm_check_cap(t->vm, KVM_CAP_MEMORY_ATTRIBUTES) &
		      KVM_MEMORY_ATTRIBUTE_PRIVATE),
		    "KVM_CAP_MEMORY_ATTRIBUTES lists PRIVATE with in-place conversion");
	r = __vm_ioctl(t->vm, KVM_SET_MEMORY_ATTRIBUTES, &vm_attrs);
	TEST_ASSERT(r < 0 && errno == EINVAL,
		    "VM-level PRIVATE: rc %d errno %d, wanted EINVAL", r, errno);

	t->gmem_flags &= ~GUEST_MEMFD_FLAG_MMAP;
	reason = vmm_file_create(t, size, created);
	if (reason)
		return reason;
	vcpu_args_set(t->vcpu, 2, GMEM_GPA, size);

	run_to_sync(t, 1);
	host_check_unused(t, size);
	gmem_set_attributes(t->fd, 0, size, KVM_MEMORY_ATTRIBUTE_PRIVATE, 0);

	run_to_sync(t, 2);
	gmem_set_attributes(t->fd, test_offset(0, size), PAGE_SIZE, 0, 0);
	gmem_set_attributes(t->fd, test_offset(3, size), PAGE_SIZE, 0, 0);
	gmem_set_attributes(t->fd, test_offset(1, size), PAGE_SIZE, 0,
			    KVM_SET_MEMORY_ATTRIBUTES2_ZERO);
	vmm_flow_punch(t, test_offset(3, size));
	vmm_flow_punch(t, test_offset(2, size));

	run_to_done(t);
	host_check_unused(t, size);
	return NULL;
}

TEST_F_TIMEOUT(gmem_track, vmm_flow_no_mmap, GMEM_TEST_TIMEOUT)
{
	const char *reason = vmm_flow_no_mmap_run(&self->t, NULL);

	if (reason)
		SKIP(return, "%s", reason);
}

/*
 * vmm_flow as a VMM that knows nothing of gmem_track runs it: no
 * gmem_track flag, on upstream's 4 KiB backend and on each design the
 * administrator can make the default for such files, whose count of
 * files (default_backend_files) shows that the test's file took it.
 */
FIXTURE(vmm) {
	struct gmem_test t;
};

FIXTURE_VARIANT(vmm) {
	const char *default_backend;
	u64 chunk_size;
};

FIXTURE_VARIANT_ADD(vmm, upstream_4k) {
	.default_backend = "none",
	.chunk_size = SZ_2M,	/* for the file's size only */
};

FIXTURE_VARIANT_ADD(vmm, default_tracked_2m) {
	.default_backend = "tracked-2m",
	.chunk_size = SZ_2M,
};

FIXTURE_VARIANT_ADD(vmm, default_structpage_2m) {
	.default_backend = "structpage-2m",
	.chunk_size = SZ_2M,
};

#define DEFAULT_BACKEND		GMEM_TRACK_SYSFS "/default_backend"
#define DEFAULT_BACKEND_FILES	GMEM_TRACK_SYSFS "/default_backend_files"

static long vmm_default_files;
static int vmm_default_want;	/* 1 if the file takes the default */
static char vmm_default_was[32] = "none";	/* the knob before the test */

static void vmm_default_restore(void)
{
	write_file(DEFAULT_BACKEND, vmm_default_was);
}

FIXTURE_SETUP(vmm)
{
	const char *reason;
	FILE *f;

	reason = gmem_test_init(&self->t, GUEST_MEMFD_FLAG_MMAP,
				variant->chunk_size);
	if (reason)
		SKIP(return, "%s", reason);
	vmm_default_files = read_long(DEFAULT_BACKEND_FILES);
	vmm_default_want = !!strcmp(variant->default_backend, "none");
	f = fopen(DEFAULT_BACKEND, "r");
	ASSERT_NE(NULL, f);
	ASSERT_NE(NULL, fgets(vmm_default_was, sizeof(vmm_default_was), f));
	fclose(f);
	vmm_default_was[strcspn(vmm_default_was, "\n")] = 0;
	ASSERT_LE(0, vmm_default_files);
	/* A failed TEST_ASSERT() skips the teardown: restore at exit too. */
	atexit(vmm_default_restore);
	ASSERT_EQ(0, write_file(DEFAULT_BACKEND, variant->default_backend));
}

FIXTURE_TEARDOWN(vmm)
{
	vmm_default_restore();
	gmem_test_release(&self->t);
}

/* Right after the file's creation: whether it took the default. */
static void vmm_file_created(struct gmem_test *t)
{
	long now = read_long(DEFAULT_BACKEND_FILES);

	TEST_ASSERT(now == vmm_default_files + vmm_default_want,
		    "default_backend_files went from %ld to %ld, wanted +%d",
		    vmm_default_files, now, vmm_default_want);
}

TEST_F_TIMEOUT(vmm, vmm_flow, GMEM_TEST_TIMEOUT)
{
	const char *reason = vmm_flow_run(&self->t, vmm_file_created);

	if (reason)
		SKIP(return, "%s", reason);
}

TEST_F_TIMEOUT(vmm, vmm_flow_no_mmap, GMEM_TEST_TIMEOUT)
{
	const char *reason = vmm_flow_no_mmap_run(&self->t, vmm_file_created);

	if (reason)
		SKIP(return, "%s", reason);
}

#define TRACING		"/sys/kernel/tracing"
#define CORRUPT_PFN	"/sys/kernel/debug/hwpoison/corrupt-pfn"

/* Write @val to @path, truncating it (which clears a trace buffer). */
static int write_str(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_TRUNC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -EIO;
}

/* The PFN of the first chunk allocated since the trace was cleared. */
static u64 first_chunk_pfn(void)
{
	char line[512], *p;
	u64 pfn = 0;
	FILE *f;

	f = fopen(TRACING "/trace", "r");
	TEST_ASSERT(f, "open " TRACING "/trace");
	while (fgets(line, sizeof(line), f)) {
		p = strstr(line, "gmem_track_chunk_alloc: pfn=");
		if (p) {
			pfn = strtoull(p + strlen("gmem_track_chunk_alloc: pfn="),
				       NULL, 16);
			break;
		}
	}
	fclose(f);
	return pfn;
}

static void guest_reads_twice(u64 gpa)
{
	READ_ONCE(*(u64 *)gpa);
	GUEST_SYNC(1);
	/* The page was poisoned meanwhile: this access must not succeed. */
	READ_ONCE(*(u64 *)gpa);
	GUEST_DONE();
}

/*
 * Conversions of the whole file, either way, must fail with EHWPOISON and
 * name the poisoned page at @offset in error_offset.
 */
static void expect_poison_refused(struct gmem_test *t, u64 size, u64 offset)
{
	u64 attrs[] = { 0, KVM_MEMORY_ATTRIBUTE_PRIVATE }, error_offset;
	int i, r;

	for (i = 0; i < ARRAY_SIZE(attrs); i++) {
		r = __gmem_set_attributes(t->fd, 0, size, attrs[i],
					  KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE,
					  &error_offset);
		TEST_ASSERT(r < 0 && errno == EHWPOISON && error_offset == offset,
			    "converting the file to %s: rc %d errno %d error_offset 0x%lx, wanted EHWPOISON at 0x%lx",
			    attrs[i] ? "private" : "shared", r, errno,
			    error_offset, offset);
	}
}

TEST_F_TIMEOUT(gmem_track, poison_private, GMEM_TEST_TIMEOUT)
{
	const char *enable = TRACING "/events/gmem_track/gmem_track_chunk_alloc/enable";
	struct gmem_test *t = &self->t;
	u64 size = gmem_file_size(t, 2);
	u64 offset = PAGE_SIZE, pfn, error_offset;
	struct kvm_run *run;
	const char *reason;
	char buf[32];
	int r;

	if (access(enable, W_OK) || access(CORRUPT_PFN, W_OK))
		SKIP(return, "no gmem_track tracepoint or hwpoison injector");

	reason = gmem_vm_create(t, KVM_X86_SW_PROTECTED_VM, guest_reads_twice);
	if (reason)
		SKIP(return, "%s", reason);

	/* The chunk allocation tracepoint tells where the memory is. */
	TEST_ASSERT(!write_str(TRACING "/trace", ""), "clear the trace");
	TEST_ASSERT(!write_str(enable, "1"), "enable the tracepoint");
	reason = gmem_file_create(t, size, 0);
	write_str(enable, "0");
	if (reason)
		SKIP(return, "%s", reason);
	pfn = first_chunk_pfn();
	TEST_ASSERT(pfn, "no gmem_track_chunk_alloc event for the file");

	map_page(t->vm, offset);
	vcpu_args_set(t->vcpu, 1, GMEM_GPA + offset);
	run_to_sync(t, 1);

	snprintf(buf, sizeof(buf), "%#lx", pfn + offset / (u64)PAGE_SIZE);
	TEST_ASSERT(!write_str(CORRUPT_PFN, buf), "poison pfn %s", buf);

	run = t->vcpu->run;
	r = _vcpu_run(t->vcpu);
	TEST_ASSERT(r < 0 && run->exit_reason == KVM_EXIT_MEMORY_FAULT,
		    "access to a poisoned page: rc %d errno %d, exit reason %u",
		    r, errno, run->exit_reason);
	TEST_ASSERT(run->memory_fault.gpa == GMEM_GPA + offset &&
		    (run->memory_fault.flags & KVM_MEMORY_EXIT_FLAG_PRIVATE),
		    "memory fault at gpa 0x%llx flags 0x%llx, wanted 0x%lx private",
		    run->memory_fault.gpa, run->memory_fault.flags,
		    (u64)GMEM_GPA + offset);

	/* The page cannot come back; its neighbours convert as before. */
	r = __gmem_set_attributes(t->fd, 0, 2 * PAGE_SIZE, 0,
				  KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE,
				  &error_offset);
	TEST_ASSERT(r < 0 && errno == EHWPOISON,
		    "converting the poisoned page: rc %d errno %d", r, errno);
	TEST_ASSERT(error_offset == offset,
		    "converting [0, 0x%lx) to shared: error_offset 0x%lx, wanted 0x%lx",
		    (unsigned long)(2 * PAGE_SIZE), error_offset, offset);
	/* The whole file, either way: error_offset names the page. */
	expect_poison_refused(t, size, offset);
	gmem_set_attributes(t->fd, 0, PAGE_SIZE, 0,
			    KVM_SET_MEMORY_ATTRIBUTES2_ZERO);
	TEST_ASSERT(!t->mem[0], "a page next to the poisoned one");

	/* A punch of part of the chunk over it skips it: still poisoned. */
	t->mem[0] = 0x5a;
	r = fallocate(t->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
		      2 * PAGE_SIZE);
	TEST_ASSERT(!r, "punching [0, 0x%lx): errno %d (%s)",
		    (u64)(2 * PAGE_SIZE), errno, strerror(errno));
	TEST_ASSERT(!t->mem[0], "the punched page next to the poisoned one");
	expect_poison_refused(t, size, offset);
	ksft_print_msg("reliability: hwpoison_cases 1\n");
}

/* si_code of the SIGBUS a host read of @p raised, or 0 if none. */
static sigjmp_buf poison_jmp;
static int poison_code;

static void poison_sigbus(int sig, siginfo_t *si, void *uc)
{
	__atomic_store_n(&poison_code, si->si_code, __ATOMIC_SEQ_CST);
	siglongjmp(poison_jmp, 1);
}

static int host_read_poison_code(u8 *p)
{
	struct sigaction sa = {
		.sa_sigaction = poison_sigbus,
		.sa_flags = SA_SIGINFO,
	}, old;

	__atomic_store_n(&poison_code, 0, __ATOMIC_SEQ_CST);
	TEST_ASSERT(!sigaction(SIGBUS, &sa, &old), "sigaction(SIGBUS)");
	if (!sigsetjmp(poison_jmp, 1))
		(void)READ_ONCE(*p);
	TEST_ASSERT(!sigaction(SIGBUS, &old, NULL), "sigaction(SIGBUS)");
	return __atomic_load_n(&poison_code, __ATOMIC_SEQ_CST);
}

TEST_F_TIMEOUT(gmem_track, poison_shared, GMEM_TEST_TIMEOUT)
{
	struct gmem_test *t = &self->t;
	u64 size = gmem_file_size(t, 2);
	u64 offset = 3 * PAGE_SIZE, next = offset + PAGE_SIZE, i;
	struct kvm_run *run;
	const char *reason;
	int r, code;

	reason = gmem_vm_create(t, KVM_X86_SW_PROTECTED_VM, guest_reads_twice);
	if (!reason)
		reason = gmem_file_create(t, size, 0);
	if (reason)
		SKIP(return, "%s", reason);

	/* Two shared pages; the guest maps the first. */
	gmem_set_attributes(t->fd, offset, 2 * PAGE_SIZE, 0,
			    KVM_SET_MEMORY_ATTRIBUTES2_ZERO);
	fill_page((u64 *)(t->mem + offset), offset, SALT_HOST);
	fill_page((u64 *)(t->mem + next), next, SALT_HOST);
	map_page(t->vm, offset);
	vcpu_args_set(t->vcpu, 1, GMEM_GPA + offset);
	run_to_sync(t, 1);

	r = madvise(t->mem + offset, PAGE_SIZE, MADV_HWPOISON);
	TEST_ASSERT(!r, "MADV_HWPOISON of a shared page: rc %d errno %d (%s)",
		    r, errno, strerror(errno));

	/* The host: SIGBUS, as for a machine check on the access. */
	code = host_read_poison_code(t->mem + offset);
	TEST_ASSERT(code == BUS_MCEERR_AR,
		    "host read of the poisoned page: si_code %d, wanted BUS_MCEERR_AR (%d)",
		    code, BUS_MCEERR_AR);

	/* The guest: its mapping is gone, the VMM gets a memory fault exit. */
	run = t->vcpu->run;
	r = _vcpu_run(t->vcpu);
	TEST_ASSERT(r < 0 && errno == EHWPOISON &&
		    run->exit_reason == KVM_EXIT_MEMORY_FAULT &&
		    run->memory_fault.gpa == GMEM_GPA + offset,
		    "guest read of the poisoned page: rc %d errno %d, exit reason %u, gpa 0x%llx",
		    r, errno, run->exit_reason,
		    (unsigned long long)run->memory_fault.gpa);

	/* Conversions either way name the page. */
	expect_poison_refused(t, size, offset);

	/* The page next to it works as before. */
	host_check_page(t->mem, next, SALT_HOST);
	gmem_set_attributes(t->fd, next, PAGE_SIZE, KVM_MEMORY_ATTRIBUTE_PRIVATE,
			    KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE);
	host_expect_sigbus(t->mem, next);
	gmem_set_attributes(t->fd, next, PAGE_SIZE, 0,
			    KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE);
	host_check_page(t->mem, next, SALT_HOST);

	/*
	 * Punching both pages, part of their chunk, zeroes the one next to
	 * it and never writes the poisoned page: it stays poisoned.
	 */
	r = fallocate(t->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      offset, 2 * PAGE_SIZE);
	TEST_ASSERT(!r, "punching [0x%lx, +0x%lx): errno %d (%s)", offset,
		    (u64)(2 * PAGE_SIZE), errno, strerror(errno));
	code = host_read_poison_code(t->mem + offset);
	TEST_ASSERT(code == BUS_MCEERR_AR,
		    "host read of the poisoned page after a punch: si_code %d, wanted BUS_MCEERR_AR (%d)",
		    code, BUS_MCEERR_AR);
	for (i = 0; i < PAGE_SIZE / sizeof(u64); i++) {
		TEST_ASSERT(!((u64 *)(t->mem + next))[i],
			    "punched page at 0x%lx: word %lu is 0x%lx", next, i,
			    ((u64 *)(t->mem + next))[i]);
	}
	expect_poison_refused(t, size, offset);
	ksft_print_msg("reliability: hwpoison_cases 1\n");
}

/*
 * The stress and injected_fault tests drive a vCPU with commands in memory
 * the guest and the host share: the host fills a struct guest_cmd, runs the
 * vCPU to its next GUEST_SYNC, and reads the result.
 */
#define CMD_MAX_PAGES		64

enum {
	CMD_CHECK_WRITE = 1,
	CMD_MAP_GPA,
	CMD_EXIT,
};

/**
 * struct guest_cmd - what the host asks of a vCPU
 * @op: CMD_CHECK_WRITE, CMD_MAP_GPA or CMD_EXIT.
 * @offset: file offset of the first page.
 * @npages: number of pages from @offset, at most CMD_MAX_PAGES.
 * @private: CMD_MAP_GPA converts to private, else to shared.
 * @corrupt: pages CMD_CHECK_WRITE found not to hold their @old_gen; the
 *	host zeroes it before each command, the guest only adds to it.
 * @bad_offset: file offset of the command's first wrong word.
 * @bad_want: what it should have held.
 * @bad_got: what it held.
 * @retries: MAP_GPA_RANGE calls the host answered with an error.
 * @old_gen: the generation each page holds, 0 for zeroes.
 * @new_gen: the generation CMD_CHECK_WRITE writes, unless it is @old_gen.
 */
struct guest_cmd {
	u64 op;
	u64 offset;
	u64 npages;
	u64 private;
	u64 corrupt;
	u64 bad_offset;
	u64 bad_want;
	u64 bad_got;
	u64 retries;
	u32 old_gen[CMD_MAX_PAGES];
	u32 new_gen[CMD_MAX_PAGES];
};

#define SALT_GEN		0x6b6b6b6b00000000ull

/*
 * The salt of generation @gen of a page's content: every word depends on
 * its file offset and the generation; generation 0 is all zeroes.
 */
static u64 gen_salt(u32 gen)
{
	return gen ? SALT_GEN ^ ((u64)gen << 32) : 0;
}

/* Index of the first word of @page not of generation @gen, or -1. */
static int page_bad_word(const u64 *page, u64 offset, u32 gen)
{
	u64 salt = gen_salt(gen);
	int i;

	for (i = 0; i < PAGE_SIZE / sizeof(u64); i++) {
		if (READ_ONCE(page[i]) !=
		    expected_value(offset + i * sizeof(u64), salt))
			return i;
	}
	return -1;
}

static void guest_check_write(struct guest_cmd *cmd, u64 gpa)
{
	u64 npages = READ_ONCE(cmd->npages), offset, i;
	u64 *page;
	int w;

	GUEST_ASSERT(npages <= CMD_MAX_PAGES);
	for (i = 0; i < npages; i++) {
		offset = READ_ONCE(cmd->offset) + i * PAGE_SIZE;
		page = (u64 *)(gpa + offset);
		w = page_bad_word(page, offset, cmd->old_gen[i]);
		if (w >= 0 && !cmd->corrupt++) {
			cmd->bad_offset = offset + w * sizeof(u64);
			cmd->bad_want = expected_value(cmd->bad_offset,
						       gen_salt(cmd->old_gen[i]));
			cmd->bad_got = page[w];
		}
		if (cmd->new_gen[i] != cmd->old_gen[i])
			fill_page(page, offset, gen_salt(cmd->new_gen[i]));
	}
}

/* Ask the host to convert; it may refuse a few times (injected failures). */
static void guest_map_gpa(struct guest_cmd *cmd, u64 gpa)
{
	u64 flags = READ_ONCE(cmd->private) ? KVM_MAP_GPA_RANGE_ENCRYPTED :
					      KVM_MAP_GPA_RANGE_DECRYPTED;

	while (__kvm_hypercall_map_gpa_range(gpa + READ_ONCE(cmd->offset),
					     cmd->npages * PAGE_SIZE, flags)) {
		cmd->retries++;
		GUEST_ASSERT(cmd->retries < 100);
	}
}

/* @gpa is where the guest_memfd is; pages are identity-mapped. */
static void guest_cmd_loop(struct guest_cmd *cmd, u64 gpa)
{
	for (;;) {
		GUEST_SYNC(1);
		switch (READ_ONCE(cmd->op)) {
		case CMD_CHECK_WRITE:
			guest_check_write(cmd, gpa);
			break;
		case CMD_MAP_GPA:
			guest_map_gpa(cmd, gpa);
			break;
		case CMD_EXIT:
			GUEST_DONE();
			break;
		default:
			GUEST_FAIL("Unknown command %lu", cmd->op);
		}
	}
}

/* A page of guest memory for the commands of @vcpu; the guest waits. */
static struct guest_cmd *cmd_setup(struct gmem_test *t, struct kvm_vcpu *vcpu)
{
	gva_t gva = vm_alloc_page(t->vm);

	vcpu_args_set(vcpu, 2, gva, GMEM_GPA);
	__run_vcpu(t, vcpu, UCALL_SYNC, 1);
	return addr_gva2hva(t->vm, gva);
}

/*
 * Have @vcpu check that the @npages pages at @offset hold generation @old
 * (each its own, if @old is NULL) and write generation @new (if not NULL).
 * Returns the pages found corrupt.
 */
static u64 cmd_check_write(struct gmem_test *t, struct kvm_vcpu *vcpu,
			   struct guest_cmd *cmd, u64 offset, u64 npages,
			   const u32 *old, const u32 *new)
{
	u64 i;

	TEST_ASSERT(npages <= CMD_MAX_PAGES, "%lu pages in a command", npages);
	cmd->op = CMD_CHECK_WRITE;
	cmd->corrupt = 0;
	cmd->offset = offset;
	cmd->npages = npages;
	for (i = 0; i < npages; i++) {
		cmd->old_gen[i] = old[i];
		cmd->new_gen[i] = new ? new[i] : old[i];
	}
	__run_vcpu(t, vcpu, UCALL_SYNC, 1);
	return cmd->corrupt;
}

/*
 * Set up, for the caller to run, a command that checks that the page at
 * @offset holds zeroes and writes generation @gen into it.
 */
static void cmd_zero_write(struct guest_cmd *cmd, u64 offset, u32 gen)
{
	cmd->op = CMD_CHECK_WRITE;
	cmd->corrupt = 0;
	cmd->offset = offset;
	cmd->npages = 1;
	cmd->old_gen[0] = 0;
	cmd->new_gen[0] = gen;
}

static void cmd_exit(struct gmem_test *t, struct kvm_vcpu *vcpu,
		     struct guest_cmd *cmd)
{
	cmd->op = CMD_EXIT;
	__run_vcpu(t, vcpu, UCALL_DONE, 0);
}

static const char *gmem_design(struct gmem_test *t)
{
	return t->gmem_flags & GUEST_MEMFD_FLAG_TRACKED ? "tracked" :
							  "struct_page";
}

/* gmem_track's counters of the design and chunk size of a test. */
struct gmem_counters {
	long chunks;
	long private_b;
	long shared_b;
	long vmemmap_b;
};

static void read_gmem_counters(struct gmem_test *t, struct gmem_counters *c)
{
	const char *design = gmem_design(t);

	gmem_deferred_settle();
	c->chunks = sysfs_long(design, t->chunk_size == SZ_1G ? "chunks_1G" :
								"chunks_2M");
	c->private_b = sysfs_long(design, "private_bytes");
	c->shared_b = sysfs_long(design, "shared_bytes");
	c->vmemmap_b = sysfs_long(design, "vmemmap_bytes");
}

static bool same_counters(const struct gmem_counters *a,
			  const struct gmem_counters *b)
{
	return !memcmp(a, b, sizeof(*a));
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

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Wait up to @ms for the counters to hold still for 300 ms (@want NULL), or
 * to equal @want: memory is freed when the last reference to a file goes,
 * which may be a little after close() or munmap() return.
 */
static bool settle_counters(struct gmem_test *t, struct gmem_counters *c,
			    const struct gmem_counters *want, unsigned int ms)
{
	struct gmem_counters prev;
	unsigned int waited, still = 0;

	read_gmem_counters(t, c);
	for (waited = 0; waited < ms; waited += 50) {
		if (want && same_counters(c, want))
			return true;
		prev = *c;
		sleep_ms(50);
		read_gmem_counters(t, c);
		still = same_counters(c, &prev) ? still + 50 : 0;
		if (!want && still >= 300)
			return true;
	}
	return want ? same_counters(c, want) : false;
}

static int punch_hole(int fd, u64 offset, u64 len)
{
	return fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			 offset, len);
}

/*
 * Back [@offset, @offset + @len) with memory again; a 1 GiB chunk just freed
 * may take a moment to come back to the allocator.
 */
static void refill(struct gmem_test *t, int fd, u64 offset, u64 len)
{
	int i, r;

	for (i = 0; i < NR_REALLOC_WAITS; i++) {
		r = fallocate(fd, FALLOC_FL_KEEP_SIZE, offset, len);
		if (!r || errno != ENOMEM || t->chunk_size != SZ_1G)
			break;
		sleep_ms(100);
	}
	TEST_ASSERT(!r, "fallocate(0x%lx, 0x%lx): errno %d (%s)", offset, len,
		    errno, strerror(errno));
}

/*
 * The stress test. The file is cut into STRESS_REGIONS regions of 2 MiB
 * (back to back in a 2 MiB file, spread over a 1 GiB one), each with a lock
 * and, for each page, whether it is private and which generation of its
 * pattern it holds. A thread holds the locks of the regions it works on,
 * so every access and every change of a page has one author who knows
 * what the page must hold; the only things that outlive a lock are the
 * pipes' references to pinned pages, counted per region. The threads that
 * fault a hole in at once work for the puncher, which holds the locks.
 */
#define STRESS_REGIONS		16
#define REGION_PAGES		(SZ_2M / PAGE_SIZE)
#define STRESS_VCPUS		2
#define STRESS_CONVERTERS	2
#define STRESS_FAULTERS		2
#define STRESS_SECS		10
/* Longest wait for a pinned page to be let go, TCG included. */
#define EAGAIN_LIMIT_S		60
#define STRESS_TIMEOUT		900
/* Host threads and vCPUs that fault a punched-out chunk in at once. */
#define HOLE_HOSTS		3
#define HOLE_VCPUS		2
#define HOLE_WORKERS		(HOLE_HOSTS + HOLE_VCPUS)
/* Chunks of the file of another VM that takes memory as it is freed. */
#define REUSE_CHUNKS_2M		4
/* What that file writes into the first word of each page, ^ the offset. */
#define REUSE_MAGIC		0x5e5e5e5e00000000ull

enum stress_op {
	OP_TO_PRIVATE,
	OP_TO_SHARED,
	OP_ZERO,
	OP_GUEST,
	OP_HOST,
	OP_SIGBUS,
	OP_PUNCH,
	OP_PIN,
	OP_HOLE_HOST,
	OP_HOLE_GUEST,
	OP_PUNCH_PINNED,
	OP_REUSE,
	NR_STRESS_OPS
};

static const char * const stress_op_name[NR_STRESS_OPS] = {
	[OP_TO_PRIVATE] = "to_private",
	[OP_TO_SHARED] = "to_shared",
	[OP_ZERO] = "zeroing",
	[OP_GUEST] = "guest",
	[OP_HOST] = "host",
	[OP_SIGBUS] = "sigbus",
	[OP_PUNCH] = "punch",
	[OP_PIN] = "pin",
	[OP_HOLE_HOST] = "hole_host",
	[OP_HOLE_GUEST] = "hole_guest",
	[OP_PUNCH_PINNED] = "punch_pinned",
	[OP_REUSE] = "reuse",
};

struct stress_region {
	pthread_mutex_t lock;
	u64 offset;
	/* Pages of the region a pipe holds; no punching while there are. */
	int pins;
	bool private[REGION_PAGES];
	u32 gen[REGION_PAGES];
};

/**
 * struct hole_task - a page of a hole that one worker faults in
 * @active: the worker has a page this time.
 * @region: its region.
 * @page: its index in the region.
 * @gen: the generation the worker writes, once it found zeroes.
 * @bad: the page did not read zeroes; @bad_offset and @bad_got say where
 *	and what.
 * @bad_offset: file offset of the first wrong word.
 * @bad_got: what it held.
 * @nomem: faults retried for want of a 1 GiB chunk.
 */
struct hole_task {
	bool active;
	int region;
	u64 page;
	u32 gen;
	bool bad;
	u64 bad_offset;
	u64 bad_got;
	u64 nomem;
};

/* The puncher and the hole's workers meet at @start and at @done. */
struct stress_hole {
	pthread_barrier_t start;
	pthread_barrier_t done;
	bool quit;
	struct hole_task task[HOLE_WORKERS];
};

/**
 * struct stress_reuse - the file of another VM that takes freed chunks
 * @vm: its VM, of the same type as the stress's.
 * @fd: the file, of the same design and chunk size, all shared.
 * @size: its size.
 * @mem: its host mapping.
 * @held: which chunks it holds.
 * @extra: per chunk, a 2 MiB window checked besides the regions' (1 GiB).
 */
struct stress_reuse {
	struct kvm_vm *vm;
	int fd;
	u64 size;
	u64 *mem;
	bool held[REUSE_CHUNKS_2M];
	u64 extra[REUSE_CHUNKS_2M];
};

struct stress {
	struct gmem_test *t;
	struct stress_region region[STRESS_REGIONS];
	struct stress_hole hole;
	struct stress_reuse reuse;
	/* Regions are back to back: conversions may span several. */
	bool contiguous;
	bool stop;
	u32 gen;
	u64 ops[NR_STRESS_OPS];
	u64 eagain;
	/* EAGAIN where no pin was known, for the record. */
	u64 eagain_unpinned;
	u64 corrupt;
	u64 leaks;
	u64 pages_checked;
	/* Time spent punching and allocating again, in ms. */
	u64 punch_ms;
	/* First faults of a hole retried for want of a 1 GiB chunk. */
	u64 hole_nomem;
	/* Chunks the reuse file did not get for want of memory (1 GiB). */
	u64 reuse_nomem;
	/* Pages of the reuse file found holding what it did not write. */
	u64 foreign;
};

struct stress_thread {
	struct stress *s;
	pthread_t thread;
	u64 rnd;
	int fd;
	struct kvm_vcpu *vcpu;
	struct guest_cmd *cmd;
	/* A hole worker's task in s->hole.task[]. */
	int slot;
};

static u64 stress_rnd(struct stress_thread *th)
{
	u64 x = th->rnd;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	th->rnd = x;
	return x;
}

static bool stress_stopped(struct stress *s)
{
	return __atomic_load_n(&s->stop, __ATOMIC_ACQUIRE);
}

static void stress_count(struct stress *s, u64 *counter, u64 n)
{
	__atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

static u32 stress_next_gen(struct stress *s)
{
	return __atomic_add_fetch(&s->gen, 1, __ATOMIC_RELAXED);
}

static bool is_reuse_word(u64 w)
{
	return w >> 32 == REUSE_MAGIC >> 32;
}

static void stress_corrupt(struct stress *s, const char *who, u64 offset,
			   u64 want, u64 got)
{
	if (__atomic_fetch_add(&s->corrupt, 1, __ATOMIC_RELAXED) >= 8)
		return;
	ksft_print_msg("corrupt page (%s): file offset 0x%lx holds 0x%lx, expected 0x%lx\n",
		       who, offset, got, want);
	if (is_reuse_word(got))
		ksft_print_msg("  the reuse file's tag of its offset 0x%lx\n",
			       (u64)(u32)got);
}

/*
 * The generation of @w if it is a word of the stress's pattern, else 0;
 * @offset gets the file offset it was written at. expected_value() of an
 * offset below 4 GiB with gen_salt() leaves the offset in the low half
 * and SALT_GEN ^ the generation in the high half.
 */
static u32 stress_word_gen(struct stress *s, u64 w, u64 *offset)
{
	u32 gen = (w >> 32) ^ (SALT_GEN >> 32);
	u64 off = (u32)w;

	if (!gen || gen > __atomic_load_n(&s->gen, __ATOMIC_RELAXED) ||
	    off % sizeof(u64) || off >= s->t->size)
		return 0;
	*offset = off;
	return gen;
}

/* Check the page at @offset (host address @page) for generation @gen. */
static void stress_check(struct stress *s, const char *who, const u64 *page,
			 u64 offset, u32 gen)
{
	int w = page_bad_word(page, offset, gen);

	stress_count(s, &s->pages_checked, 1);
	if (w >= 0)
		stress_corrupt(s, who, offset + w * sizeof(u64),
			       expected_value(offset + w * sizeof(u64),
					      gen_salt(gen)),
			       page[w]);
}

static void lock_regions(struct stress *s, int first, int n)
{
	int i;

	for (i = first; i < first + n; i++)
		pthread_mutex_lock(&s->region[i].lock);
}

static void unlock_regions(struct stress *s, int first, int n)
{
	int i;

	for (i = first + n - 1; i >= first; i--)
		pthread_mutex_unlock(&s->region[i].lock);
}

static int pins_in(struct stress *s, int first, int n)
{
	int i, pins = 0;

	for (i = first; i < first + n; i++)
		pins += s->region[i].pins;
	return pins;
}

static u64 page_offset(struct stress *s, int region, u64 page)
{
	return s->region[region].offset + page * PAGE_SIZE;
}

/* A host SIGBUS is expected only inside read_sigbus(), per thread. */
static __thread sigjmp_buf sigbus_jmp;
static __thread sig_atomic_t sigbus_armed;

static void stress_sigbus(int sig, siginfo_t *si, void *uc)
{
	TEST_ASSERT(READ_ONCE(sigbus_armed), "Unexpected SIGBUS at %p",
		    si->si_addr);
	WRITE_ONCE(sigbus_armed, 0);
	siglongjmp(sigbus_jmp, 1);
}

/* Whether reading @p raises SIGBUS. */
static bool read_sigbus(const u64 *p)
{
	if (sigsetjmp(sigbus_jmp, 1))
		return true;
	/* Volatile accesses: the compiler keeps them in order. */
	WRITE_ONCE(sigbus_armed, 1);
	(void)READ_ONCE(*p);
	WRITE_ONCE(sigbus_armed, 0);
	return false;
}

/*
 * Convert a random range, 4 KiB to 6 MiB, to private or shared, keeping
 * the content (or, one time in eight, zeroing it). A pinned page makes
 * the conversion to private fail with EAGAIN: let the regions go so that
 * the pin can be dropped, and try again.
 */
static void stress_convert(struct stress_thread *th)
{
	const u64 flags_keep = KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE;
	struct stress *s = th->s;
	u64 r = stress_rnd(th), start, len, total, i, error_offset;
	u64 offset, bytes;
	int kind = r % 4, first = (r >> 8) % STRESS_REGIONS, n = 1, ret;
	bool private = (r >> 16) & 1, zero = !((r >> 17) % 8);
	double t0 = now_s();

	if (s->contiguous && kind == 3) {
		n = 1 + (r >> 24) % 3;
		first = min_t(int, first, STRESS_REGIONS - n);
	}
	total = n * REGION_PAGES;
	start = (r >> 32) % REGION_PAGES;
	if (kind < 2)
		len = 1 + (r >> 48) % 8;
	else if (kind == 2)
		len = 1 + (r >> 48) % REGION_PAGES;
	else
		len = total - start;
	len = min_t(u64, len, total - start);

	offset = page_offset(s, first, start);
	bytes = len * PAGE_SIZE;
	lock_regions(s, first, n);
	for (;;) {
		ret = __gmem_set_attributes(th->fd, offset, bytes,
					    private ? KVM_MEMORY_ATTRIBUTE_PRIVATE : 0,
					    zero ? KVM_SET_MEMORY_ATTRIBUTES2_ZERO :
						   flags_keep,
					    &error_offset);
		if (!ret)
			break;
		TEST_ASSERT(errno == EAGAIN,
			    "KVM_SET_MEMORY_ATTRIBUTES2(0x%lx, 0x%lx, %s): errno %d (%s)",
			    offset, bytes, private ? "private" : "shared",
			    errno, strerror(errno));
		TEST_ASSERT(error_offset >= offset &&
			    error_offset < offset + bytes,
			    "error_offset 0x%lx outside 0x%lx+0x%lx",
			    error_offset, offset, bytes);
		stress_count(s, &s->eagain, 1);
		if (!pins_in(s, first, n))
			stress_count(s, &s->eagain_unpinned, 1);
		unlock_regions(s, first, n);
		TEST_ASSERT(now_s() - t0 < EAGAIN_LIMIT_S,
			    "EAGAIN for %d s converting 0x%lx+0x%lx, at 0x%lx",
			    EAGAIN_LIMIT_S, offset, bytes, error_offset);
		sleep_ms(1);
		lock_regions(s, first, n);
	}
	for (i = start; i < start + len; i++) {
		struct stress_region *rg = &s->region[first + i / REGION_PAGES];

		rg->private[i % REGION_PAGES] = private;
		if (zero)
			rg->gen[i % REGION_PAGES] = 0;
	}
	unlock_regions(s, first, n);
	stress_count(s, &s->ops[zero ? OP_ZERO : private ? OP_TO_PRIVATE :
						  OP_TO_SHARED], 1);
}

static void *stress_converter(void *arg)
{
	struct stress_thread *th = arg;

	while (!stress_stopped(th->s))
		stress_convert(th);
	return NULL;
}

/*
 * Through the host mapping: check and rewrite the shared pages of a random
 * stretch of a region, and check that its first private page, if any,
 * cannot be read.
 */
static void stress_host_access(struct stress_thread *th)
{
	struct stress *s = th->s;
	u64 r = stress_rnd(th), start, len, i, offset;
	int region = r % STRESS_REGIONS;
	struct stress_region *rg = &s->region[region];
	bool probed = false;
	u64 *page;
	u32 gen;

	start = (r >> 16) % REGION_PAGES;
	len = min_t(u64, 1 + (r >> 32) % 32, REGION_PAGES - start);

	pthread_mutex_lock(&rg->lock);
	for (i = start; i < start + len; i++) {
		offset = page_offset(s, region, i);
		page = (u64 *)(s->t->mem + offset);
		if (rg->private[i]) {
			if (probed)
				continue;
			probed = true;
			if (!read_sigbus(page)) {
				stress_count(s, &s->leaks, 1);
				ksft_print_msg("private page at 0x%lx readable by the host\n",
					       offset);
			}
			stress_count(s, &s->ops[OP_SIGBUS], 1);
			continue;
		}
		stress_check(s, "host", page, offset, rg->gen[i]);
		gen = stress_next_gen(s);
		fill_page(page, offset, gen_salt(gen));
		rg->gen[i] = gen;
	}
	pthread_mutex_unlock(&rg->lock);
	stress_count(s, &s->ops[OP_HOST], 1);
}

static void *stress_faulter(void *arg)
{
	struct stress_thread *th = arg;

	while (!stress_stopped(th->s))
		stress_host_access(th);
	return NULL;
}

/* A host worker's page: the first fault must map it, and it reads zero. */
static void hole_host_task(struct stress *s, struct hole_task *task)
{
	u64 offset = page_offset(s, task->region, task->page);
	u64 *page = (u64 *)(s->t->mem + offset);
	int w, tries;

	for (tries = 0; read_sigbus(page); tries++) {
		/* No 1 GiB chunk for a moment (see refill()) is a SIGBUS too. */
		TEST_ASSERT(s->t->chunk_size == SZ_1G &&
			    tries < NR_REALLOC_WAITS,
			    "SIGBUS on a first fault of shared page 0x%lx of a punched-out chunk (%d times)",
			    offset, tries + 1);
		task->nomem++;
		sleep_ms(100);
	}
	w = page_bad_word(page, offset, 0);
	if (w >= 0) {
		task->bad = true;
		task->bad_offset = offset + w * sizeof(u64);
		task->bad_got = page[w];
	}
	fill_page(page, offset, gen_salt(task->gen));
}

/* A vCPU worker's page: the guest checks for zeroes and writes it. */
static void hole_guest_task(struct stress_thread *th, struct hole_task *task)
{
	struct stress *s = th->s;
	u64 offset = page_offset(s, task->region, task->page);
	struct kvm_run *run = th->vcpu->run;
	struct guest_cmd *cmd = th->cmd;
	int r, tries;

	cmd_zero_write(cmd, offset, task->gen);
	for (tries = 0;; tries++) {
		r = _vcpu_run(th->vcpu);
		if (!r)
			break;
		TEST_ASSERT(errno == ENOMEM &&
			    run->exit_reason == KVM_EXIT_MEMORY_FAULT &&
			    s->t->chunk_size == SZ_1G &&
			    tries < NR_REALLOC_WAITS,
			    "vCPU's first fault of page 0x%lx of a punched-out chunk: rc %d errno %d (%s), exit reason %u (%d times)",
			    offset, r, errno, strerror(errno), run->exit_reason,
			    tries + 1);
		task->nomem++;
		sleep_ms(100);
	}
	check_ucall(th->vcpu, UCALL_SYNC, 1);
	if (cmd->corrupt) {
		task->bad = true;
		task->bad_offset = cmd->bad_offset;
		task->bad_got = cmd->bad_got;
	}
}

/* Fault in the page the puncher gives, each time it asks. */
static void *stress_hole_worker(void *arg)
{
	struct stress_thread *th = arg;
	struct stress_hole *h = &th->s->hole;
	struct hole_task *task = &h->task[th->slot];

	for (;;) {
		pthread_barrier_wait(&h->start);
		if (READ_ONCE(h->quit))
			break;
		if (task->active && th->vcpu)
			hole_guest_task(th, task);
		else if (task->active)
			hole_host_task(th->s, task);
		pthread_barrier_wait(&h->done);
	}
	return NULL;
}

/*
 * Give @task a page of regions [@first, @first + @n), from a random one
 * on, that no other task has: private or shared as @private says, or
 * either with @any. Returns whether there was one.
 */
static bool hole_pick(struct stress_thread *th, struct hole_task *task,
		      int first, int n, bool private, bool any)
{
	struct stress *s = th->s;
	u64 total = n * REGION_PAGES, p = stress_rnd(th) % total, i, page;
	int region, j;

	for (i = 0; i < total; i++, p = (p + 1) % total) {
		region = first + p / REGION_PAGES;
		page = p % REGION_PAGES;
		if (!any && s->region[region].private[page] != private)
			continue;
		for (j = 0; j < HOLE_WORKERS; j++) {
			if (s->hole.task[j].active &&
			    s->hole.task[j].region == region &&
			    s->hole.task[j].page == page)
				break;
		}
		if (j < HOLE_WORKERS)
			continue;
		task->region = region;
		task->page = page;
		task->active = true;
		return true;
	}
	return false;
}

/*
 * The chunk of regions [@first, @first + @n) was just punched out and is
 * still a hole: HOLE_HOSTS host threads fault shared pages of it in at
 * once with HOLE_VCPUS vCPUs private ones (any, if none is private), all
 * released together. Each page must read zeroes; each worker writes a new
 * generation, which the host reads back where the page is shared (a write
 * that went to a chunk a concurrent fill then dropped is lost).
 */
static void stress_first_faults(struct stress_thread *th, int first, int n)
{
	struct stress *s = th->s;
	struct stress_hole *h = &s->hole;
	bool host = false, guest = false;
	struct hole_task *task;
	struct stress_region *rg;
	u64 offset;
	int i;

	memset(h->task, 0, sizeof(h->task));
	for (i = 0; i < HOLE_WORKERS; i++) {
		task = &h->task[i];
		if (i < HOLE_HOSTS)
			hole_pick(th, task, first, n, false, false);
		else if (!hole_pick(th, task, first, n, true, false))
			hole_pick(th, task, first, n, false, true);
		if (task->active)
			task->gen = stress_next_gen(s);
	}
	pthread_barrier_wait(&h->start);
	pthread_barrier_wait(&h->done);

	for (i = 0; i < HOLE_WORKERS; i++) {
		task = &h->task[i];
		if (!task->active)
			continue;
		rg = &s->region[task->region];
		offset = page_offset(s, task->region, task->page);
		if (task->bad)
			stress_corrupt(s, i < HOLE_HOSTS ? "host, first fault of a hole" :
							   "guest, first fault of a hole",
				       task->bad_offset, 0, task->bad_got);
		stress_count(s, &s->pages_checked, 1);
		stress_count(s, &s->hole_nomem, task->nomem);
		rg->gen[task->page] = task->gen;
		if (!rg->private[task->page])
			stress_check(s, "host, after the first faults",
				     (u64 *)(s->t->mem + offset), offset,
				     task->gen);
		if (i < HOLE_HOSTS)
			host = true;
		else
			guest = true;
	}
	if (host)
		stress_count(s, &s->ops[OP_HOLE_HOST], 1);
	if (guest)
		stress_count(s, &s->ops[OP_HOLE_GUEST], 1);
}

/*
 * Try to punch out the chunk at @offset, regions [@first, @first + @n),
 * while a pipe holds one of its shared pages: the punch must fail with
 * EBUSY and leave every page as it was. Its page cache is gone by then,
 * so the host's check of the shared pages maps them again; the vCPUs
 * check the private ones as they go on.
 */
static void stress_punch_pinned(struct stress_thread *th, u64 offset,
				int first, int n)
{
	struct stress *s = th->s;
	u64 chunk_size = s->t->chunk_size, p, off;
	int ret, i;

	ret = punch_hole(th->fd, offset, chunk_size);
	TEST_ASSERT(ret == -1 && errno == EBUSY,
		    "punch of 0x%lx+0x%lx with %d pages in it pinned: rc %d errno %d (%s), wanted EBUSY",
		    offset, chunk_size, pins_in(s, first, n), ret, errno,
		    strerror(errno));
	for (i = first; i < first + n; i++) {
		for (p = 0; p < REGION_PAGES; p++) {
			if (s->region[i].private[p])
				continue;
			off = page_offset(s, i, p);
			stress_check(s, "host, after a refused punch",
				     (u64 *)(s->t->mem + off), off,
				     s->region[i].gen[p]);
		}
	}
	stress_count(s, &s->ops[OP_PUNCH_PINNED], 1);
}

/*
 * Punch a chunk out while nobody uses its regions and no pipe holds one of
 * its pages, and allocate it again: all of it reads as zeroes after,
 * private or shared as before. Every other time (@hole), the chunk stays
 * a hole until the first faults of stress_first_faults() fill it. On the
 * first try of a round (@first_try), one time in four the chunk is one a
 * pipe holds a page of, if there is one, and a chunk with a pinned page is
 * tried all the same (stress_punch_pinned()). Returns whether it punched.
 */
static bool stress_punch(struct stress_thread *th, bool hole, bool first_try)
{
	struct stress *s = th->s;
	struct gmem_test *t = s->t;
	u64 r = stress_rnd(th), chunk = r % (t->size / t->chunk_size);
	u64 offset;
	int first, n = 0, i;
	double t0;

	if (first_try && !((r >> 32) % 4)) {
		for (i = 0; i < STRESS_REGIONS; i++) {
			if (__atomic_load_n(&s->region[i].pins,
					    __ATOMIC_RELAXED)) {
				chunk = s->region[i].offset / t->chunk_size;
				break;
			}
		}
	}
	offset = chunk * t->chunk_size;
	for (first = 0; first < STRESS_REGIONS; first++)
		if (s->region[first].offset >= offset)
			break;
	while (first + n < STRESS_REGIONS &&
	       s->region[first + n].offset < offset + t->chunk_size)
		n++;

	lock_regions(s, first, n);
	if (pins_in(s, first, n)) {
		if (first_try)
			stress_punch_pinned(th, offset, first, n);
		unlock_regions(s, first, n);
		return false;
	}
	t0 = now_s();
	TEST_ASSERT(!punch_hole(th->fd, offset, t->chunk_size),
		    "punch 0x%lx+0x%lx: errno %d (%s)", offset, t->chunk_size,
		    errno, strerror(errno));
	for (i = first; i < first + n; i++)
		memset(s->region[i].gen, 0, sizeof(s->region[i].gen));
	if (hole)
		stress_first_faults(th, first, n);
	/* After the first faults, the chunk is there: a no-op. */
	refill(t, th->fd, offset, t->chunk_size);
	stress_count(s, &s->punch_ms, (now_s() - t0) * 1000);
	unlock_regions(s, first, n);
	stress_count(s, &s->ops[OP_PUNCH], 1);
	return true;
}

static void *stress_puncher(void *arg)
{
	struct stress_thread *th = arg;
	struct stress *s = th->s;
	/* A 1 GiB chunk takes a while to zero under TCG. */
	unsigned int pause = s->t->chunk_size == SZ_1G ? 2000 : 50, waited;
	bool first_try, hole = true;

	while (!stress_stopped(s)) {
		for (waited = 0; waited < pause && !stress_stopped(s);
		     waited += 50)
			sleep_ms(50);
		/* A pinned page is let go within a few ms. */
		for (first_try = true;
		     !stress_stopped(s) && !stress_punch(th, hole, first_try);
		     first_try = false)
			sleep_ms(5);
		hole = !hole;
	}
	/* The hole's workers go too. */
	WRITE_ONCE(s->hole.quit, true);
	pthread_barrier_wait(&s->hole.start);
	return NULL;
}

/*
 * Splice a shared page into a pipe, which keeps a reference to it while
 * the regions go on being used (converting it to private must fail with
 * EAGAIN meanwhile), then read it out: it holds what its last writer
 * wrote.
 */
static void stress_pin(struct stress_thread *th, int pipefd[2])
{
	struct stress *s = th->s;
	u64 r = stress_rnd(th), i, page = REGION_PAGES, offset;
	int region = r % STRESS_REGIONS;
	struct stress_region *rg = &s->region[region];
	struct iovec iov;
	u64 buf[PAGE_SIZE / sizeof(u64)];
	ssize_t n;

	pthread_mutex_lock(&rg->lock);
	for (i = 0; i < REGION_PAGES; i++) {
		if (!rg->private[((r >> 16) + i) % REGION_PAGES]) {
			page = ((r >> 16) + i) % REGION_PAGES;
			break;
		}
	}
	if (page == REGION_PAGES) {
		pthread_mutex_unlock(&rg->lock);
		return;
	}
	offset = page_offset(s, region, page);
	iov.iov_base = s->t->mem + offset;
	iov.iov_len = PAGE_SIZE;
	n = vmsplice(pipefd[1], &iov, 1, 0);
	TEST_ASSERT(n == PAGE_SIZE, "vmsplice of 0x%lx: %zd, errno %d",
		    offset, n, errno);
	rg->pins++;
	pthread_mutex_unlock(&rg->lock);

	sleep_ms(2 + (r >> 32) % 20);

	pthread_mutex_lock(&rg->lock);
	TEST_ASSERT(!rg->private[page],
		    "pinned page at 0x%lx was converted to private", offset);
	n = read(pipefd[0], buf, sizeof(buf));
	TEST_ASSERT(n == PAGE_SIZE, "read of the pipe: %zd, errno %d", n,
		    errno);
	stress_check(s, "pipe", buf, offset, rg->gen[page]);
	rg->pins--;
	pthread_mutex_unlock(&rg->lock);
	stress_count(s, &s->ops[OP_PIN], 1);
}

static void *stress_pinner(void *arg)
{
	struct stress_thread *th = arg;
	int pipefd[2];

	TEST_ASSERT(!pipe(pipefd), "pipe()");
	while (!stress_stopped(th->s)) {
		stress_pin(th, pipefd);
		/* Gaps without a pin, for the puncher. */
		sleep_ms(stress_rnd(th) % 10);
	}
	close(pipefd[0]);
	close(pipefd[1]);
	return NULL;
}

/*
 * The guest checks and rewrites a random stretch of a region, private and
 * shared pages alike (a KVM_X86_SW_PROTECTED_VM accesses each page as its
 * attribute says).
 */
static void stress_guest_access(struct stress_thread *th)
{
	struct stress *s = th->s;
	u64 r = stress_rnd(th), start, len, i, corrupt;
	int region = r % STRESS_REGIONS;
	struct stress_region *rg = &s->region[region];
	struct guest_cmd *cmd = th->cmd;
	u32 new[CMD_MAX_PAGES];

	start = (r >> 16) % REGION_PAGES;
	len = min_t(u64, 1 + (r >> 32) % CMD_MAX_PAGES,
		    REGION_PAGES - start);

	pthread_mutex_lock(&rg->lock);
	for (i = 0; i < len; i++)
		new[i] = stress_next_gen(s);
	corrupt = cmd_check_write(s->t, th->vcpu, cmd,
				  page_offset(s, region, start), len,
				  &rg->gen[start], new);
	if (corrupt) {
		stress_corrupt(s, "guest", cmd->bad_offset, cmd->bad_want,
			       cmd->bad_got);
		stress_count(s, &s->corrupt, corrupt - 1);
	}
	memcpy(&rg->gen[start], new, len * sizeof(*new));
	pthread_mutex_unlock(&rg->lock);
	stress_count(s, &s->pages_checked, len);
	stress_count(s, &s->ops[OP_GUEST], 1);
}

static void *stress_vcpu(void *arg)
{
	struct stress_thread *th = arg;

	while (!stress_stopped(th->s))
		stress_guest_access(th);
	return NULL;
}

/* What the reuse file writes into the first word of its page at @roffset. */
static u64 reuse_tag(u64 roffset)
{
	return REUSE_MAGIC ^ roffset;
}

/*
 * Check the reuse file's page at @roffset: zeroes, but for the tag in its
 * first word once @tagged. Returns whether it was right; the first wrong
 * word of at most 8 pages is reported, named as the stress's when it is.
 */
static bool reuse_check_page(struct stress *s, u64 roffset, bool tagged)
{
	const char *when = tagged ? "before its punch" : "on first use";
	const u64 *page = s->reuse.mem + roffset / sizeof(u64);
	u64 i, want, got, offset;
	u32 gen;

	for (i = 0; i < PAGE_SIZE / sizeof(u64); i++) {
		want = !i && tagged ? reuse_tag(roffset) : 0;
		got = READ_ONCE(page[i]);
		if (got == want)
			continue;
		if (__atomic_fetch_add(&s->foreign, 1, __ATOMIC_RELAXED) >= 8)
			return false;
		ksft_print_msg("reuse file, %s: offset 0x%lx holds 0x%lx, expected 0x%lx\n",
			       when, roffset + i * sizeof(u64), got, want);
		gen = stress_word_gen(s, got, &offset);
		if (gen)
			ksft_print_msg("  the stress's word of file offset 0x%lx, generation %u\n",
				       offset, gen);
		return false;
	}
	return true;
}

/*
 * The 2 MiB windows of the reuse file's chunk @c that are checked: all of
 * a 2 MiB chunk; of a 1 GiB one, where the stress's regions lie in its
 * chunk (the only places the stress writes) and one window chosen when
 * the chunk came. Returns how many.
 */
static int reuse_windows(struct stress *s, int c, u64 *win)
{
	u64 chunk_size = s->t->chunk_size;
	int i;

	if (chunk_size == SZ_2M) {
		win[0] = c * chunk_size;
		return 1;
	}
	for (i = 0; i < STRESS_REGIONS; i++)
		win[i] = c * chunk_size + s->region[i].offset % chunk_size;
	win[i] = c * chunk_size + s->reuse.extra[c];
	return STRESS_REGIONS + 1;
}

/*
 * Take chunk @c into the reuse file: its pages must read zeroes on first
 * use; then each gets the file's tag. Returns whether there was memory.
 */
static bool reuse_take(struct stress_thread *th, int c)
{
	struct stress *s = th->s;
	struct stress_reuse *ru = &s->reuse;
	u64 chunk_size = s->t->chunk_size, win[STRESS_REGIONS + 1];
	u64 roffset, p;
	int nwin, i;

	if (fallocate(ru->fd, FALLOC_FL_KEEP_SIZE, c * chunk_size,
		      chunk_size)) {
		/* Another 1 GiB chunk may not be there at once. */
		TEST_ASSERT(errno == ENOMEM && chunk_size == SZ_1G,
			    "reuse file: fallocate 0x%lx+0x%lx: errno %d (%s)",
			    c * chunk_size, chunk_size, errno,
			    strerror(errno));
		stress_count(s, &s->reuse_nomem, 1);
		return false;
	}
	ru->held[c] = true;
	/* Not a window of a region: each window is checked once. */
	do {
		ru->extra[c] = stress_rnd(th) % (chunk_size / SZ_2M) * SZ_2M;
		for (i = 0; chunk_size != SZ_2M && i < STRESS_REGIONS; i++) {
			if (s->region[i].offset % chunk_size == ru->extra[c])
				break;
		}
	} while (chunk_size != SZ_2M && i < STRESS_REGIONS);
	nwin = reuse_windows(s, c, win);
	for (i = 0; i < nwin; i++) {
		for (p = 0; p < SZ_2M; p += PAGE_SIZE) {
			roffset = win[i] + p;
			/* Reported: start the page afresh. */
			if (!reuse_check_page(s, roffset, false))
				memset(ru->mem + roffset / sizeof(u64), 0,
				       PAGE_SIZE);
			WRITE_ONCE(ru->mem[roffset / sizeof(u64)],
				   reuse_tag(roffset));
		}
		stress_count(s, &s->pages_checked, SZ_2M / PAGE_SIZE);
	}
	stress_count(s, &s->ops[OP_REUSE], 1);
	return true;
}

/*
 * Give chunk @c of the reuse file back: its pages hold what the file
 * wrote, nothing the stress wrote through a mapping of memory freed under
 * it.
 */
static void reuse_give_back(struct stress *s, int c)
{
	struct stress_reuse *ru = &s->reuse;
	u64 chunk_size = s->t->chunk_size, win[STRESS_REGIONS + 1], p;
	int nwin, i;

	nwin = reuse_windows(s, c, win);
	for (i = 0; i < nwin; i++) {
		for (p = 0; p < SZ_2M; p += PAGE_SIZE)
			reuse_check_page(s, win[i] + p, true);
		stress_count(s, &s->pages_checked, SZ_2M / PAGE_SIZE);
	}
	TEST_ASSERT(!punch_hole(ru->fd, c * chunk_size, chunk_size),
		    "reuse file: punch 0x%lx+0x%lx: errno %d (%s)",
		    c * chunk_size, chunk_size, errno, strerror(errno));
	ru->held[c] = false;
}

/*
 * The reuse file takes its chunks in turn, each given back the next time
 * its turn comes: memory the stress's punches free is the likeliest to
 * come to it.
 */
static void *stress_reuser(void *arg)
{
	struct stress_thread *th = arg;
	struct stress *s = th->s;
	struct stress_reuse *ru = &s->reuse;
	int nr = ru->size / s->t->chunk_size, c;
	u64 round;

	for (round = 0; !stress_stopped(s); round++) {
		c = round % nr;
		if (ru->held[c])
			reuse_give_back(s, c);
		if (reuse_take(th, c))
			sleep_ms(1 + stress_rnd(th) % 10);
		else
			sleep_ms(100);
	}
	for (c = 0; c < nr; c++) {
		if (ru->held[c])
			reuse_give_back(s, c);
	}
	return NULL;
}

/*
 * The file of another VM of the same type, of the stress's design and
 * chunk size, REUSE_CHUNKS_2M chunks of 2 MiB or one of 1 GiB, shared
 * everywhere (a hole keeps its attribute), without memory yet.
 */
static void reuse_create(struct stress *s)
{
	struct stress_reuse *ru = &s->reuse;
	struct gmem_test *t = s->t;

	ru->vm = vm_create_barebones_type(KVM_X86_SW_PROTECTED_VM);
	TEST_ASSERT(vm_has_attributes2(ru->vm),
		    "the reuse file's VM lacks guest_memfd memory attributes");
	ru->size = t->chunk_size == SZ_1G ? SZ_1G : REUSE_CHUNKS_2M * SZ_2M;
	ru->fd = __vm_create_guest_memfd(ru->vm, ru->size, t->gmem_flags);
	TEST_ASSERT(ru->fd >= 0,
		    "reuse file: KVM_CREATE_GUEST_MEMFD(size 0x%lx, flags 0x%lx): errno %d (%s)",
		    ru->size, t->gmem_flags, errno, strerror(errno));
	gmem_set_attributes(ru->fd, 0, ru->size, 0,
			    KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE);
	ru->mem = kvm_mmap(ru->size, PROT_READ | PROT_WRITE, MAP_SHARED,
			   ru->fd);
}

static void reuse_destroy(struct stress *s)
{
	struct stress_reuse *ru = &s->reuse;

	kvm_munmap(ru->mem, ru->size);
	kvm_close(ru->fd);
	kvm_vm_free(ru->vm);
}

static void stress_start(struct stress_thread *th, struct stress *s,
			 void *(*fn)(void *), u64 seed)
{
	th->s = s;
	th->rnd = seed * 0x9e3779b97f4a7c15ull + 1;
	th->fd = dup(s->t->fd);
	TEST_ASSERT(th->fd >= 0, "dup()");
	TEST_ASSERT(!pthread_create(&th->thread, NULL, fn, th),
		    "pthread_create()");
}

static void stress_join(struct stress_thread *th)
{
	pthread_join(th->thread, NULL);
	close(th->fd);
}

/* After the threads: the guest checks every page, the host the shared. */
static void stress_final_check(struct stress *s, struct stress_thread *vth)
{
	struct stress_region *rg;
	u64 corrupt, p, offset;
	int i;

	for (i = 0; i < STRESS_REGIONS; i++) {
		rg = &s->region[i];
		for (p = 0; p < REGION_PAGES; p += CMD_MAX_PAGES) {
			corrupt = cmd_check_write(s->t, vth->vcpu, vth->cmd,
						  page_offset(s, i, p),
						  CMD_MAX_PAGES, &rg->gen[p],
						  NULL);
			if (corrupt) {
				stress_corrupt(s, "guest, final",
					       vth->cmd->bad_offset,
					       vth->cmd->bad_want,
					       vth->cmd->bad_got);
				stress_count(s, &s->corrupt, corrupt - 1);
			}
			stress_count(s, &s->pages_checked, CMD_MAX_PAGES);
		}
		for (p = 0; p < REGION_PAGES; p++) {
			offset = page_offset(s, i, p);
			if (!rg->private[p])
				stress_check(s, "host, final",
					     (u64 *)(s->t->mem + offset),
					     offset, rg->gen[p]);
		}
	}
}

static unsigned int stress_seconds(void)
{
	const char *env = getenv("GMEM_STRESS_SECS");
	long secs = env ? strtol(env, NULL, 0) : 0;

	return secs > 0 ? secs : STRESS_SECS;
}

/*
 * Everything at once on one file for GMEM_STRESS_SECS seconds: host threads
 * converting random ranges both ways, vCPUs checking and writing pages,
 * host threads faulting the shared mapping, a thread punching chunks out
 * and allocating them again or having host threads and vCPUs fault them in
 * at once, and trying to punch chunks a pipe holds a page of, a thread
 * holding shared pages in a pipe, and a file of another VM taking chunks
 * and giving them back. The file is then closed under the running threads,
 * and once they, the mappings and the VMs are gone every counter is back
 * where it was.
 */
TEST_F_TIMEOUT(gmem_track, stress, STRESS_TIMEOUT)
{
	struct stress_thread vth[STRESS_VCPUS], cth[STRESS_CONVERTERS];
	struct stress_thread fth[STRESS_FAULTERS], pth, ith, rth;
	struct stress_thread hth[HOLE_WORKERS];
	struct gmem_test *t = &self->t;
	u64 size = gmem_file_size(t, STRESS_REGIONS), stride, total = 0;
	unsigned int secs = stress_seconds();
	struct gmem_counters before, after;
	struct sigaction sa = {
		.sa_sigaction = stress_sigbus,
		.sa_flags = SA_SIGINFO,
	}, old_sa;
	char ops[NR_STRESS_OPS * 32];
	const char *reason;
	struct stress *s;
	double t0, elapsed;
	int i, len;

	TEST_ASSERT(!sigaction(SIGBUS, &sa, &old_sa), "sigaction()");
	settle_counters(t, &before, NULL, 5000);

	reason = gmem_vm_create(t, KVM_X86_SW_PROTECTED_VM, guest_cmd_loop);
	if (!reason)
		reason = gmem_file_create(t, size, 0);
	if (reason)
		SKIP(return, "%s", reason);

	s = calloc(1, sizeof(*s));
	TEST_ASSERT(s, "calloc()");
	s->t = t;
	stride = size / STRESS_REGIONS;
	s->contiguous = stride == SZ_2M;
	for (i = 0; i < STRESS_REGIONS; i++) {
		pthread_mutex_init(&s->region[i].lock, NULL);
		/* Private and zeroed, as the file starts. */
		s->region[i].offset = i * stride;
		memset(s->region[i].private, 1, sizeof(s->region[i].private));
		virt_map(t->vm, GMEM_GPA + s->region[i].offset,
			 GMEM_GPA + s->region[i].offset, REGION_PAGES);
	}

	vth[0].vcpu = t->vcpu;
	for (i = 1; i < STRESS_VCPUS; i++)
		vth[i].vcpu = vm_vcpu_add(t->vm, i, guest_cmd_loop);
	for (i = 0; i < STRESS_VCPUS; i++)
		vth[i].cmd = cmd_setup(t, vth[i].vcpu);
	memset(hth, 0, sizeof(hth));
	for (i = 0; i < HOLE_WORKERS; i++) {
		hth[i].slot = i;
		if (i < HOLE_HOSTS)
			continue;
		hth[i].vcpu = vm_vcpu_add(t->vm, STRESS_VCPUS + i - HOLE_HOSTS,
					  guest_cmd_loop);
		hth[i].cmd = cmd_setup(t, hth[i].vcpu);
	}
	TEST_ASSERT(!pthread_barrier_init(&s->hole.start, NULL,
					  HOLE_WORKERS + 1) &&
		    !pthread_barrier_init(&s->hole.done, NULL,
					  HOLE_WORKERS + 1),
		    "pthread_barrier_init()");
	reuse_create(s);

	t0 = now_s();
	for (i = 0; i < STRESS_VCPUS; i++)
		stress_start(&vth[i], s, stress_vcpu, 1 + i);
	for (i = 0; i < STRESS_CONVERTERS; i++)
		stress_start(&cth[i], s, stress_converter, 11 + i);
	for (i = 0; i < STRESS_FAULTERS; i++)
		stress_start(&fth[i], s, stress_faulter, 21 + i);
	for (i = 0; i < HOLE_WORKERS; i++)
		stress_start(&hth[i], s, stress_hole_worker, 51 + i);
	stress_start(&pth, s, stress_puncher, 31);
	stress_start(&ith, s, stress_pinner, 41);
	stress_start(&rth, s, stress_reuser, 61);

	sleep_ms(secs * 1000);

	/*
	 * Close the file under the running threads: they go on through
	 * their own descriptors, the mapping and the memslot.
	 */
	kvm_close(t->fd);
	t->fd = -1;
	sleep_ms(300);

	__atomic_store_n(&s->stop, true, __ATOMIC_RELEASE);
	for (i = 0; i < STRESS_VCPUS; i++)
		stress_join(&vth[i]);
	for (i = 0; i < STRESS_CONVERTERS; i++)
		stress_join(&cth[i]);
	for (i = 0; i < STRESS_FAULTERS; i++)
		stress_join(&fth[i]);
	stress_join(&pth);
	for (i = 0; i < HOLE_WORKERS; i++)
		stress_join(&hth[i]);
	stress_join(&ith);
	stress_join(&rth);
	elapsed = now_s() - t0;

	stress_final_check(s, &vth[0]);
	sigaction(SIGBUS, &old_sa, NULL);
	for (i = 0; i < STRESS_VCPUS; i++)
		cmd_exit(t, vth[i].vcpu, vth[i].cmd);
	for (i = HOLE_HOSTS; i < HOLE_WORKERS; i++)
		cmd_exit(t, hth[i].vcpu, hth[i].cmd);
	reuse_destroy(s);

	/* The last references: the mapping, then the memslot's. */
	kvm_munmap(t->reserved, t->reserved_size);
	t->reserved = NULL;
	kvm_vm_free(t->vm);
	t->vm = NULL;
	settle_counters(t, &after, &before, 60000);

	for (i = 0, len = 0; i < NR_STRESS_OPS; i++) {
		total += s->ops[i];
		len += snprintf(ops + len, sizeof(ops) - len, " %s %lu",
				stress_op_name[i], s->ops[i]);
	}
	ksft_print_msg("%s %s: %.1f s, ops:%s; %lu ms punching\n",
		       gmem_design(t), t->chunk_size == SZ_1G ? "1G" : "2M",
		       elapsed, ops, s->punch_ms);
	ksft_print_msg("%lu EAGAIN retried (%lu with no pin); %lu pages checked\n",
		       s->eagain, s->eagain_unpinned, s->pages_checked);
	/* 1 GiB chunks only: one may be missing for a moment. */
	ksft_print_msg("%lu hole first faults retried, %lu reuse chunks not taken\n",
		       s->hole_nomem, s->reuse_nomem);
	ksft_print_msg("reliability: stress_seconds %u\n", secs);
	ksft_print_msg("reliability: stress_ops %lu\n", total);
	ksft_print_msg("reliability: stress_eagain_retried %lu\n", s->eagain);
	ksft_print_msg("reliability: corrupt_pages %lu\n", s->corrupt);
	ksft_print_msg("reliability: reuse_foreign_pages %lu\n", s->foreign);

	/*
	 * A kind of work that never happened would leave its race untested.
	 * With 1 GiB chunks a run punches two or three times: whether one of
	 * them found a pin is luck, and the 2 MiB variants punch pinned
	 * chunks by the dozen.
	 */
	for (i = 0; i < NR_STRESS_OPS; i++) {
		if (i == OP_PUNCH_PINNED && s->t->chunk_size == SZ_1G) {
			ksft_print_msg("%lu punch_pinned: not required with 1 GiB chunks\n",
				       s->ops[i]);
			continue;
		}
		TEST_ASSERT(s->ops[i], "no %s in %u s%s", stress_op_name[i],
			    secs, i == OP_REUSE && s->reuse_nomem ?
			    " (no second 1 GiB chunk)" : "");
	}
	TEST_ASSERT(s->pages_checked, "no page checked");
	TEST_ASSERT(!s->corrupt, "%lu corrupt pages", s->corrupt);
	TEST_ASSERT(!s->foreign,
		    "%lu pages of the reuse file held what it did not write",
		    s->foreign);
	TEST_ASSERT(!s->leaks, "%lu private pages readable by the host",
		    s->leaks);
	TEST_ASSERT(same_counters(&after, &before),
		    "gmem_track counters not back after teardown: chunks %ld -> %ld, private %ld -> %ld, shared %ld -> %ld, vmemmap %ld -> %ld",
		    before.chunks, after.chunks, before.private_b,
		    after.private_b, before.shared_b, after.shared_b,
		    before.vmemmap_b, after.vmemmap_b);
	for (i = 0; i < STRESS_REGIONS; i++)
		pthread_mutex_destroy(&s->region[i].lock);
	pthread_barrier_destroy(&s->hole.start);
	pthread_barrier_destroy(&s->hole.done);
	free(s);
}

/* Pages of the first chunk whose content must survive every failure. */
#define NR_KEEPERS		4
/* Pages of the victim chunk the guest faults on, in turn. */
#define NR_VICTIMS		16

static u64 keeper_offset(int i)
{
	return i * (SZ_2M / NR_KEEPERS) + i * PAGE_SIZE;
}

/* Victims rotate over the chunks after the first. */
static u64 victim_offset(struct gmem_test *t, int i)
{
	u64 chunk = 1 + i % (t->size / t->chunk_size - 1);
	int j = i % NR_VICTIMS;

	return chunk * t->chunk_size + j * (t->chunk_size / NR_VICTIMS) +
	       j * PAGE_SIZE;
}

static void expect_counters(struct gmem_test *t,
			    const struct gmem_counters *want, long chunks,
			    const char *when)
{
	struct gmem_counters now;

	read_gmem_counters(t, &now);
	TEST_ASSERT(now.chunks == want->chunks + chunks &&
		    (chunks || same_counters(&now, want)),
		    "%s: chunks %ld (wanted %ld), private %ld (%ld), shared %ld (%ld), vmemmap %ld (%ld)",
		    when, now.chunks, want->chunks + chunks, now.private_b,
		    want->private_b, now.shared_b, want->shared_b,
		    now.vmemmap_b, want->vmemmap_b);
}

/*
 * The guest's pages of the first chunk hold what it wrote; the one the
 * host owns (keeper 1, shared) what the host wrote.
 */
static void check_keepers(struct gmem_test *t, struct guest_cmd *cmd,
			  const u32 *gen)
{
	int i;

	for (i = 0; i < NR_KEEPERS; i++)
		TEST_ASSERT(!cmd_check_write(t, t->vcpu, cmd, keeper_offset(i),
					     1, &gen[i], NULL),
			    "keeper at 0x%lx: 0x%lx instead of 0x%lx",
			    cmd->bad_offset, cmd->bad_got, cmd->bad_want);
	TEST_ASSERT(page_bad_word((u64 *)(t->mem + keeper_offset(1)),
				  keeper_offset(1), gen[1]) < 0,
		    "the host's keeper page changed");
}

/*
 * A guest fault on a punched-out chunk whose allocation fails: KVM_RUN
 * fails with ENOMEM and a KVM_EXIT_MEMORY_FAULT for the page, nothing is
 * allocated, and the next KVM_RUN, without failure, gives the guest a
 * zeroed chunk. Returns the failures injected.
 */
static int inject_fault_alloc(struct gmem_test *t, struct guest_cmd *cmd,
			      const u32 *keeper_gen, int iterations)
{
	struct kvm_run *run = t->vcpu->run;
	struct gmem_counters before;
	u64 offset, chunk;
	int i, j, r, fired = 0;
	bool shared;
	u32 gen;

	TEST_ASSERT(!gmem_fail_target("gmem_pool_alloc"),
		    "fail_function: gmem_pool_alloc");
	for (i = 0; i < iterations; i++) {
		offset = victim_offset(t, i);
		chunk = offset - offset % t->chunk_size;
		/* Every other time the page is shared: the same path. */
		shared = i & 1;
		if (shared)
			gmem_set_attributes(t->fd, offset, PAGE_SIZE, 0,
					    KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE);
		TEST_ASSERT(!punch_hole(t->fd, chunk, t->chunk_size),
			    "punch 0x%lx: errno %d", chunk, errno);
		read_gmem_counters(t, &before);

		gen = 1000 + i;
		cmd_zero_write(cmd, offset, gen);

		TEST_ASSERT(!gmem_fail_arm(), "fail_function: arm");
		r = _vcpu_run(t->vcpu);
		TEST_ASSERT(r == -1 && errno == ENOMEM &&
			    run->exit_reason == KVM_EXIT_MEMORY_FAULT,
			    "fault on a hole, allocation failing: rc %d errno %d (%s), exit reason %u",
			    r, errno, strerror(errno), run->exit_reason);
		TEST_ASSERT(run->memory_fault.gpa == GMEM_GPA + offset &&
			    run->memory_fault.size == PAGE_SIZE &&
			    !!(run->memory_fault.flags &
			       KVM_MEMORY_EXIT_FLAG_PRIVATE) == !shared,
			    "memory fault gpa 0x%llx size 0x%llx flags 0x%llx, wanted 0x%lx %s",
			    run->memory_fault.gpa, run->memory_fault.size,
			    run->memory_fault.flags, (u64)GMEM_GPA + offset,
			    shared ? "shared" : "private");
		TEST_ASSERT(!gmem_fail_times(), "the injected failure did not fire");
		fired++;
		expect_counters(t, &before, 0, "after a failed fault");
		TEST_ASSERT(page_bad_word((u64 *)(t->mem + keeper_offset(1)),
					  keeper_offset(1), keeper_gen[1]) < 0,
			    "the host's keeper page changed");

		/* Again, without failure; 1 GiB may need a moment. */
		for (j = 0; j < NR_REALLOC_WAITS; j++) {
			r = _vcpu_run(t->vcpu);
			if (!r || errno != ENOMEM || t->chunk_size != SZ_1G)
				break;
			sleep_ms(100);
		}
		TEST_ASSERT(!r, "fault on a hole: rc %d errno %d (%s)", r,
			    errno, strerror(errno));
		check_ucall(t->vcpu, UCALL_SYNC, 1);
		TEST_ASSERT(!cmd->corrupt,
			    "new chunk: 0x%lx at 0x%lx instead of zeroes",
			    cmd->bad_got, cmd->bad_offset);
		expect_counters(t, &before, 1, "after the fault");

		if (shared) {
			TEST_ASSERT(page_bad_word((u64 *)(t->mem + offset),
						  offset, gen) < 0,
				    "shared page 0x%lx: not what the guest wrote",
				    offset);
			gmem_set_attributes(t->fd, offset, PAGE_SIZE,
					    KVM_MEMORY_ATTRIBUTE_PRIVATE,
					    KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE);
		}
		check_keepers(t, cmd, keeper_gen);
	}
	return fired;
}

/*
 * A guest fault on a hole whose chunk cannot be had for a moment (-EBUSY
 * from the allocation: gmem_track_populate() found each new chunk it tried
 * held by someone else, or hit by a memory error) is taken again within
 * KVM_RUN: the guest's access completes, with no exit to the VMM. Returns
 * the failures injected.
 */
static int inject_fault_busy(struct gmem_test *t, struct guest_cmd *cmd,
			     const u32 *keeper_gen, int iterations)
{
	struct gmem_counters before;
	u64 offset, chunk;
	int i, j, r, fired = 0;
	u32 gen;

	TEST_ASSERT(!gmem_fail_target_err("gmem_pool_alloc", -EBUSY),
		    "fail_function: gmem_pool_alloc");
	for (i = 0; i < iterations; i++) {
		offset = victim_offset(t, i);
		chunk = offset - offset % t->chunk_size;
		TEST_ASSERT(!punch_hole(t->fd, chunk, t->chunk_size),
			    "punch 0x%lx: errno %d", chunk, errno);
		read_gmem_counters(t, &before);

		gen = 2000 + i;
		cmd_zero_write(cmd, offset, gen);

		TEST_ASSERT(!gmem_fail_arm(), "fail_function: arm");
		/* A freed GiB may take a moment to be whole again. */
		for (j = 0; j < NR_REALLOC_WAITS; j++) {
			r = _vcpu_run(t->vcpu);
			if (!r || errno != ENOMEM || t->chunk_size != SZ_1G)
				break;
			sleep_ms(100);
		}
		TEST_ASSERT(!r,
			    "fault on a hole, allocation busy once: rc %d errno %d (%s), exit reason %u",
			    r, errno, strerror(errno), t->vcpu->run->exit_reason);
		TEST_ASSERT(!gmem_fail_times(), "the injected failure did not fire");
		fired++;
		check_ucall(t->vcpu, UCALL_SYNC, 1);
		TEST_ASSERT(!cmd->corrupt,
			    "new chunk: 0x%lx at 0x%lx instead of zeroes",
			    cmd->bad_got, cmd->bad_offset);
		expect_counters(t, &before, 1, "after the busy fault");
		check_keepers(t, cmd, keeper_gen);
	}
	return fired;
}

/*
 * The guest asks for a conversion of the page at @offset, which holds
 * generation @gen; the host's first attempt fails in the armed function
 * and must leave the page as it was, and the guest asks again. Returns the
 * failures injected.
 */
static int inject_fault_convert(struct gmem_test *t, struct guest_cmd *cmd,
				u64 offset, bool private, u32 gen)
{
	struct kvm_run *run = t->vcpu->run;
	struct gmem_counters before;
	u64 error_offset;
	int r;

	cmd->op = CMD_MAP_GPA;
	cmd->offset = offset;
	cmd->npages = 1;
	cmd->private = private;
	cmd->retries = 0;
	vcpu_run(t->vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(t->vcpu, KVM_EXIT_HYPERCALL);

	read_gmem_counters(t, &before);
	TEST_ASSERT(!gmem_fail_arm(), "fail_function: arm");
	r = __gmem_set_attributes(t->fd, offset, PAGE_SIZE,
				  private ? KVM_MEMORY_ATTRIBUTE_PRIVATE : 0,
				  KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE,
				  &error_offset);
	TEST_ASSERT(r == -1 && errno == ENOMEM,
		    "conversion to %s, failing: rc %d errno %d (%s)",
		    private ? "private" : "shared", r, errno, strerror(errno));
	TEST_ASSERT(!gmem_fail_times(), "the injected failure did not fire");
	expect_counters(t, &before, 0, "after a failed conversion");
	if (private)
		TEST_ASSERT(page_bad_word((u64 *)(t->mem + offset), offset,
					  gen) < 0,
			    "page 0x%lx changed by a failed conversion",
			    offset);
	else
		host_expect_sigbus(t->mem, offset);

	/* The guest is told and asks again; this time it works. */
	run->hypercall.ret = -ENOMEM;
	__run_vcpu(t, t->vcpu, UCALL_SYNC, 1);
	TEST_ASSERT(cmd->retries == 1, "%lu retries of MAP_GPA_RANGE",
		    cmd->retries);
	return 1;
}

#define NR_CONVERT_PAGES	64

/*
 * Conversions the guest asks for, failing in @fn to shared and, if
 * @both_ways, to private: the guest's content survives every round trip.
 * Returns the failures injected.
 */
static int inject_conversions(struct gmem_test *t, struct guest_cmd *cmd,
			      const char *fn, bool both_ways, int iterations,
			      u32 *gens)
{
	u64 offset;
	int i, k, fired = 0;
	u32 gen;

	TEST_ASSERT(!gmem_fail_target(fn), "fail_function: %s", fn);
	for (i = 0; i < iterations; i++) {
		/* Private pages of the first chunk, none of them a keeper. */
		k = i % NR_CONVERT_PAGES;
		offset = (8 + k) * PAGE_SIZE;
		gen = gens[k] + 1;
		TEST_ASSERT(!cmd_check_write(t, t->vcpu, cmd, offset, 1,
					     &gens[k], &gen),
			    "page 0x%lx: 0x%lx instead of 0x%lx", offset,
			    cmd->bad_got, cmd->bad_want);
		gens[k] = gen;

		fired += inject_fault_convert(t, cmd, offset, false, gen);
		TEST_ASSERT(page_bad_word((u64 *)(t->mem + offset), offset,
					  gen) < 0,
			    "page 0x%lx lost its content going shared", offset);
		if (both_ways)
			fired += inject_fault_convert(t, cmd, offset, true, gen);
		else
			gmem_set_attributes(t->fd, offset, PAGE_SIZE,
					    KVM_MEMORY_ATTRIBUTE_PRIVATE,
					    KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE);
		TEST_ASSERT(!cmd_check_write(t, t->vcpu, cmd, offset, 1, &gen,
					     NULL),
			    "page 0x%lx: 0x%lx instead of 0x%lx after the round trip",
			    offset, cmd->bad_got, cmd->bad_want);
	}
	return fired;
}

/*
 * gmem_track's allocation points made to fail by fail_function under KVM:
 * the chunk for a guest fault on a hole (KVM_RUN fails with ENOMEM and a
 * KVM_EXIT_MEMORY_FAULT), and the conversions a guest asks for with
 * MAP_GPA_RANGE (the descriptor cannot be split, the vmemmap cannot be
 * rebuilt). Each failure fires, changes nothing, and the same step then
 * succeeds; the rest of the file is untouched.
 */
TEST_F_TIMEOUT(gmem_track, injected_fault, GMEM_TEST_TIMEOUT)
{
	bool huge = self->t.chunk_size == SZ_1G;
	bool tracked = self->t.gmem_flags & GUEST_MEMFD_FLAG_TRACKED;
	int n_alloc = huge ? 6 : 50, n_convert = huge ? 10 : 30;
	int n_busy = huge ? 2 : 10;
	struct gmem_test *t = &self->t;
	u64 size = huge ? 2ull * SZ_1G : gmem_file_size(t, 4);
	u32 keeper_gen[NR_KEEPERS], gens[NR_CONVERT_PAGES] = {};
	struct guest_cmd *cmd;
	const char *reason;
	bool convert;
	int i, fired = 0;
	double t0;

	if (access(GMEM_FAIL_FN "/inject", W_OK))
		SKIP(return, GMEM_FAIL_FN " is missing (CONFIG_FAIL_FUNCTION)");
	t0 = now_s();

	reason = gmem_vm_create(t, KVM_X86_SW_PROTECTED_VM, guest_cmd_loop);
	if (!reason)
		reason = gmem_file_create(t, size, 0);
	if (reason)
		SKIP(return, "%s", reason);
	gmem_fail_mark(t);

	convert = kvm_check_cap(KVM_CAP_EXIT_HYPERCALL) &
		  BIT(KVM_HC_MAP_GPA_RANGE);
	if (convert)
		vm_enable_cap(t->vm, KVM_CAP_EXIT_HYPERCALL,
			      BIT(KVM_HC_MAP_GPA_RANGE));
	for (i = 0; i < NR_KEEPERS; i++)
		map_page(t->vm, keeper_offset(i));
	for (i = 0; i < NR_CONVERT_PAGES; i++)
		map_page(t->vm, (8 + i) * PAGE_SIZE);
	/* victim_offset() repeats after this many, all distinct. */
	for (i = 0; i < (size / t->chunk_size - 1) * NR_VICTIMS; i++)
		map_page(t->vm, victim_offset(t, i));
	cmd = cmd_setup(t, t->vcpu);

	/* The guest writes its keepers; keeper 1 goes to the host. */
	for (i = 0; i < NR_KEEPERS; i++) {
		u32 zero = 0;

		keeper_gen[i] = 100 + i;
		TEST_ASSERT(!cmd_check_write(t, t->vcpu, cmd, keeper_offset(i),
					     1, &zero, &keeper_gen[i]),
			    "keeper 0x%lx not zeroed", keeper_offset(i));
	}
	gmem_set_attributes(t->fd, keeper_offset(1), PAGE_SIZE, 0,
			    KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE);
	check_keepers(t, cmd, keeper_gen);

	fired += inject_fault_alloc(t, cmd, keeper_gen, n_alloc);
	fired += inject_fault_busy(t, cmd, keeper_gen, n_busy);
	if (convert) {
		fired += inject_conversions(t, cmd, "gmem_ranges_set_state",
					    true, n_convert, gens);
		if (tracked)
			fired += inject_conversions(t, cmd,
						    "gmem_vmemmap_repopulate",
						    false, n_convert, gens);
	}
	gmem_fail_clear();
	check_keepers(t, cmd, keeper_gen);
	cmd_exit(t, t->vcpu, cmd);

	ksft_print_msg("%s %s: %.1f s, %d failures: %d hole faults (%d busy), %d conversions\n",
		       gmem_design(t), huge ? "1G" : "2M", now_s() - t0, fired,
		       n_alloc + n_busy, n_busy, fired - n_alloc - n_busy);
	ksft_print_msg("reliability: injected_failures %d\n", fired);
}

/*
 * fill_failure_race: a fill of a hole whose attributes are partly shared
 * puts the chunk into the descriptor private, converts the shared
 * stretches and, when a conversion fails, gives the chunk back. A vCPU
 * that faults in the chunk meanwhile finds private memory by a lookup that
 * takes no lock; only the fill's invalidation, from before its first
 * conversion to after the release, keeps it from mapping memory that is
 * freed under it. The hole is shared but for a private stretch at the
 * start of each period of pages, and fail_function ('space') lets every
 * call of the target but the fill's last one through, so that the chunk is
 * visible, private, for most of the fill. A second vCPU faults and writes
 * private pages of the chunk at a chosen moment of the fill, a file the
 * guest does not map takes the freed memory right after and is written by
 * the host, and the first vCPU then reads and writes every page of a
 * 2 MiB chunk, or of a sample of a 1 GiB one that holds the racer's pages.
 *
 * The test's guest runs under TCG with thread=single: its vCPUs take turns
 * on one thread of the machine, 100 ms each unless one idles, so a racer
 * on another vCPU than the fill's runs during a fill of 30 ms almost
 * never (0 of 13 rounds in make check). Both threads are pinned to one
 * CPU instead, whose scheduler interleaves them at its tick: each runs
 * about half the time, so a racer that pauses for a fraction of the fill's
 * length as measured alone (at its pause loop's speed alone) starts its
 * burst at about that fraction of the fill. The burst is aimed past the
 * chunk's allocation, at the conversions. A 1 GiB chunk makes the window
 * long: one period per vmemmap granule, 4096 conversions each rebuilding
 * a granule's vmemmap (tracked), against 128 conversions in 2 MiB.
 */
#define FR_STRETCH_PAGES	8
/* A period of the hole: FR_STRETCH_PAGES private pages, then shared ones. */
#define FR_PERIOD_2M		16
#define FR_PERIOD_1G		(SZ_256K / PAGE_SIZE)
/* Pages checked in a chunk larger than this, the racer's besides. */
#define FR_SAMPLES		512
/* Private pages the racing vCPU faults per round, spread over the chunk. */
#define FR_BURST		4
#define FR_BURST_STRIDE		67
/* Rounds with no racing vCPU: the failure alone, and the fill's length. */
#define FR_SOLO_ROUNDS_2M	2
#define FR_SOLO_ROUNDS_1G	1
#define FR_MAX_ROUNDS_2M	400
#define FR_MAX_ROUNDS_1G	16
/*
 * Past its time (stress_seconds()) the test stops once this many bursts
 * started during the host's fill, or at FR_TIME_FACTOR times its time.
 */
#define FR_WANT_OVERLAPS_2M	3
#define FR_WANT_OVERLAPS_1G	1
#define FR_TIME_FACTOR		2
/* The burst's aim, in percent of the fill's conversions. */
#define FR_AIM_LO		10
#define FR_AIM_HI		95
/* At most this fraction of the fill is taken for the allocation. */
#define FR_ALLOC_MAX		0.75
#define FR_OTHER_CHUNKS_2M	2
#define FR_CALIBRATE		(~0ull)
#define FR_CALIBRATE_MS		50
#define FR_WAIT_S		60
#define SALT_RACE		0x7e7e000000000000ull
#define SALT_OTHER		0xe7e7000000000000ull

/*
 * Pin the calling thread to the CPU it runs on, keeping its affinity in
 * @saved; threads it creates afterwards inherit the pinning. Two threads
 * pinned so are interleaved by the test guest's scheduler every few ms,
 * where its vCPUs on different CPUs would take turns only every 100 ms
 * under single-threaded TCG (see fill_failure_race).
 */
static void pin_to_this_cpu(cpu_set_t *saved)
{
	cpu_set_t one;
	int cpu;

	TEST_ASSERT(!pthread_getaffinity_np(pthread_self(), sizeof(*saved),
					    saved),
		    "pthread_getaffinity_np()");
	cpu = sched_getcpu();
	TEST_ASSERT(cpu >= 0, "sched_getcpu(): errno %d", errno);
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	TEST_ASSERT(!pthread_setaffinity_np(pthread_self(), sizeof(one), &one),
		    "pin to CPU %d", cpu);
}

/*
 * Shared by the host and both vCPUs, in a page of slot 0. The racer waits
 * for @round, pauses @delay iterations (or counts them until @stop, to
 * calibrate), notes in @in_fill the round whose fill the host is in
 * (@filling), then reads, writes and reads again the first word of
 * FR_BURST private pages from private page @first on. The checker reads
 * the checked pages of the chunk (fr_sample()) and writes the private ones
 * with @salt. @chunk_pages and @period give the layout.
 */
struct fr_ctl {
	u64 round;
	u64 waiting;
	u64 delay;
	u64 stop;
	u64 spins;
	u64 first;
	u64 started;
	u64 filling;
	u64 in_fill;
	u64 corrupt;
	u64 bad_offset;
	u64 bad_got;
	u64 salt;
	u64 chk_corrupt;
	u64 chk_offset;
	u64 chk_got;
	u64 chunk_pages;
	u64 period;
};

static u64 fr_stretches(const struct fr_ctl *ctl)
{
	return ctl->chunk_pages / ctl->period;
}

/* File offset of private page @k: each period's private stretch comes first. */
static u64 fr_private_offset(const struct fr_ctl *ctl, u64 k)
{
	k %= fr_stretches(ctl) * FR_STRETCH_PAGES;
	return (k / FR_STRETCH_PAGES * ctl->period + k % FR_STRETCH_PAGES) *
	       PAGE_SIZE;
}

static bool fr_is_private(const struct fr_ctl *ctl, u64 offset)
{
	return offset / PAGE_SIZE % ctl->period < FR_STRETCH_PAGES;
}

static u64 fr_nr_samples(const struct fr_ctl *ctl)
{
	return ctl->chunk_pages <= FR_SAMPLES ? ctl->chunk_pages :
						FR_SAMPLES + FR_BURST;
}

/*
 * Offset of checked page @k: every page of a 2 MiB chunk; in a 1 GiB one
 * (reading all of it would take minutes under TCG) one page in each
 * FR_SAMPLES-th of the chunk, private and shared in turn, then the pages
 * the racer wrote last, where a mapping left behind would be.
 */
static u64 fr_sample(const struct fr_ctl *ctl, u64 k)
{
	u64 stride = ctl->chunk_pages / FR_SAMPLES;

	if (ctl->chunk_pages <= FR_SAMPLES)
		return k * PAGE_SIZE;
	if (k >= FR_SAMPLES)
		return fr_private_offset(ctl, READ_ONCE(ctl->first) +
					 (k - FR_SAMPLES) * FR_BURST_STRIDE);
	return (k * stride + k % (2 * FR_STRETCH_PAGES)) * PAGE_SIZE;
}

static void guest_fr_bad(struct fr_ctl *ctl, u64 offset, u64 got)
{
	if (!ctl->corrupt++) {
		ctl->bad_offset = offset;
		ctl->bad_got = got;
	}
}

static void guest_fill_racer(struct fr_ctl *ctl, u64 gpa)
{
	u64 round, n, j, offset, got, *p;

	for (round = 1; ; round++) {
		WRITE_ONCE(ctl->waiting, round);
		while (READ_ONCE(ctl->round) != round)
			cpu_relax();
		n = READ_ONCE(ctl->delay);
		if (n == FR_CALIBRATE) {
			for (n = 0; READ_ONCE(ctl->stop) != round; n++)
				cpu_relax();
			WRITE_ONCE(ctl->spins, n);
			GUEST_SYNC(round);
			continue;
		}
		for (; n; n--)
			cpu_relax();
		WRITE_ONCE(ctl->in_fill, READ_ONCE(ctl->filling));
		WRITE_ONCE(ctl->started, round);
		for (j = 0; j < FR_BURST; j++) {
			offset = fr_private_offset(ctl, READ_ONCE(ctl->first) +
						   j * FR_BURST_STRIDE);
			p = (u64 *)(gpa + offset);
			/* Zero, or the word written here (it may be lost). */
			got = READ_ONCE(*p);
			if (got && got != (SALT_RACE ^ offset))
				guest_fr_bad(ctl, offset, got);
			WRITE_ONCE(*p, SALT_RACE ^ offset);
			got = READ_ONCE(*p);
			if (got && got != (SALT_RACE ^ offset))
				guest_fr_bad(ctl, offset, got);
		}
		GUEST_SYNC(round);
	}
}

static void guest_fill_checker(struct fr_ctl *ctl, u64 gpa)
{
	u64 offset, k, i, got, *p;
	bool private;

	for (;;) {
		GUEST_SYNC(0);
		for (k = 0; k < fr_nr_samples(ctl); k++) {
			offset = fr_sample(ctl, k);
			p = (u64 *)(gpa + offset);
			private = fr_is_private(ctl, offset);
			for (i = 0; i < PAGE_SIZE / sizeof(u64); i++) {
				got = READ_ONCE(p[i]);
				if (!got || (private && !i &&
					     got == (SALT_RACE ^ offset)))
					continue;
				if (!ctl->chk_corrupt++) {
					ctl->chk_offset = offset + i * sizeof(u64);
					ctl->chk_got = got;
				}
			}
		}
		/*
		 * Written once all are read: the racer's pages may be among
		 * the sampled ones, and a page is checked before it is written.
		 */
		for (k = 0; k < fr_nr_samples(ctl); k++) {
			offset = fr_sample(ctl, k);
			if (fr_is_private(ctl, offset))
				fill_page((u64 *)(gpa + offset), offset,
					  READ_ONCE(ctl->salt));
		}
	}
}

/* The racing vCPU's thread: one round each time @go is posted. */
struct fr_racer {
	struct kvm_vcpu *vcpu;
	sem_t go;
	sem_t done;
	bool exit;
	/* KVM_RUN failed with ENOMEM: the racer's own fill failed. */
	u64 enomem;
};

static void *fr_racer_thread(void *arg)
{
	struct fr_racer *r = arg;
	struct kvm_run *run = r->vcpu->run;
	struct ucall uc;
	int ret;

	for (;;) {
		while (sem_wait(&r->go) && errno == EINTR)
			;
		if (READ_ONCE(r->exit))
			return NULL;
		for (;;) {
			ret = _vcpu_run(r->vcpu);
			if (ret) {
				TEST_ASSERT(errno == ENOMEM &&
					    run->exit_reason == KVM_EXIT_MEMORY_FAULT,
					    "racer: KVM_RUN rc %d errno %d (%s), exit reason %u",
					    ret, errno, strerror(errno),
					    run->exit_reason);
				/*
				 * The injected failure, or a 1 GiB chunk not
				 * back yet: the host shares this CPU.
				 */
				if (r->enomem++)
					sleep_ms(10);
				continue;
			}
			TEST_ASSERT_KVM_EXIT_REASON(r->vcpu, KVM_EXIT_IO);
			ret = get_ucall(r->vcpu, &uc);
			if (ret == UCALL_SYNC)
				break;
			if (ret == UCALL_ABORT)
				REPORT_GUEST_ASSERT(uc);
			TEST_FAIL("racer: unknown ucall 0x%x", ret);
		}
		sem_post(&r->done);
	}
}

/*
 * Wait for the racer's round. If it does not end, say where its vCPU is:
 * retrying memory-fault exits (ENOMEM), or inside KVM_RUN taking faults.
 */
static void fr_wait(struct fr_racer *racer, struct fr_ctl *ctl,
		    const char *what)
{
	struct timespec ts;
	int r;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += FR_WAIT_S;
	while ((r = sem_timedwait(&racer->done, &ts)) && errno == EINTR)
		;
	TEST_ASSERT(!r,
		    "%s: not in %d s, errno %d; racer: %lu ENOMEM exits, pf_taken %lu pf_fixed %lu pf_spurious %lu; round %lu, burst of round %lu started, pause %lu spins, %lu in %d ms alone",
		    what, FR_WAIT_S, errno, READ_ONCE(racer->enomem),
		    vcpu_get_stat(racer->vcpu, pf_taken),
		    vcpu_get_stat(racer->vcpu, pf_fixed),
		    vcpu_get_stat(racer->vcpu, pf_spurious),
		    READ_ONCE(ctl->round), READ_ONCE(ctl->started),
		    READ_ONCE(ctl->delay), READ_ONCE(ctl->spins),
		    FR_CALIBRATE_MS);
}

/*
 * Start round @round of the racer with @delay, once it waits for it in the
 * guest; the caller waits for fr_racer.done.
 */
static void fr_start(struct fr_racer *r, struct fr_ctl *ctl, u64 round,
		     u64 delay, u64 first)
{
	double t0 = now_s();

	sem_post(&r->go);
	while (READ_ONCE(ctl->waiting) != round) {
		TEST_ASSERT(now_s() - t0 < FR_WAIT_S,
			    "the racer does not wait for round %lu", round);
		sched_yield();
	}
	WRITE_ONCE(ctl->delay, delay);
	WRITE_ONCE(ctl->first, first);
	__atomic_store_n(&ctl->round, round, __ATOMIC_RELEASE);
}

/* The hole at 0: shared, but for the private stretch of each period. */
static void fr_set_attributes(struct gmem_test *t, const struct fr_ctl *ctl)
{
	u64 s;

	gmem_set_attributes(t->fd, 0, t->chunk_size, 0,
			    KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE);
	for (s = 0; s < fr_stretches(ctl); s++)
		gmem_set_attributes(t->fd, s * ctl->period * PAGE_SIZE,
				    FR_STRETCH_PAGES * PAGE_SIZE,
				    KVM_MEMORY_ATTRIBUTE_PRIVATE,
				    KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE);
}

/* Write (@check false) or check the host's pattern in the other file. */
static void fr_other_pattern(const struct fr_ctl *ctl, u64 *omem, u64 osize,
			     u64 round, bool check)
{
	const u64 chunk = ctl->chunk_pages * PAGE_SIZE;
	u64 c, k, i, offset, got;

	for (c = 0; c < osize; c += chunk) {
		for (k = 0; k < fr_nr_samples(ctl); k++) {
			offset = c + fr_sample(ctl, k);
			for (i = offset; i < offset + PAGE_SIZE; i += sizeof(u64)) {
				if (!check) {
					omem[i / sizeof(u64)] = SALT_OTHER ^ i;
					continue;
				}
				got = READ_ONCE(omem[i / sizeof(u64)]);
				TEST_ASSERT(got == (SALT_OTHER ^ i),
					    "round %lu: the other file holds 0x%lx at 0x%lx, not its own pattern: the guest wrote into memory its file gave back",
					    round, got, i);
			}
		}
	}
}

/*
 * After a failed fill of the guest's chunk at offset 0: the other file
 * takes free chunks at once and the host writes them; the checker vCPU
 * reads the checked pages of the chunk (zero, or a word the racer wrote)
 * and writes the private ones; the other file holds the host's pattern
 * only; converted to shared, the chunk holds the checker's pages where it
 * was private and zeroes elsewhere; the counters are what a filled chunk
 * and the other file's give, and back where they were once both are
 * punched.
 */
static void fr_check(struct gmem_test *t, struct fr_ctl *ctl, int ofd,
		     u64 *omem, u64 osize, u64 round,
		     const struct gmem_counters *full,
		     const struct gmem_counters *empty)
{
	u64 k, i, offset, want, got;

	refill(t, ofd, 0, osize);
	fr_other_pattern(ctl, omem, osize, round, false);

	ctl->salt = gen_salt(round);
	ctl->chk_corrupt = 0;
	run_to_sync(t, 0);
	TEST_ASSERT(!ctl->chk_corrupt,
		    "round %lu: the guest read 0x%lx at offset 0x%lx of the chunk whose fill failed (%lu bad words; other file's pattern is 0x%llx ^ offset)",
		    round, ctl->chk_got, ctl->chk_offset, ctl->chk_corrupt,
		    SALT_OTHER);
	TEST_ASSERT(!ctl->corrupt,
		    "round %lu: the racing vCPU read 0x%lx at offset 0x%lx (%lu times)",
		    round, ctl->bad_got, ctl->bad_offset, ctl->corrupt);

	fr_other_pattern(ctl, omem, osize, round, true);

	gmem_set_attributes(t->fd, 0, t->chunk_size, 0,
			    KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE);
	for (k = 0; k < fr_nr_samples(ctl); k++) {
		offset = fr_sample(ctl, k);
		for (i = offset; i < offset + PAGE_SIZE; i += sizeof(u64)) {
			want = fr_is_private(ctl, i) ?
			       expected_value(i, gen_salt(round)) : 0;
			got = READ_ONCE(*(u64 *)(t->mem + i));
			TEST_ASSERT(got == want,
				    "round %lu: offset 0x%lx holds 0x%lx, not 0x%lx: the guest's write went elsewhere",
				    round, i, got, want);
		}
	}
	expect_counters(t, full, 0, "the chunk filled again, the other file");

	TEST_ASSERT(!punch_hole(t->fd, 0, t->chunk_size) &&
		    !punch_hole(ofd, 0, osize),
		    "punch: errno %d", errno);
	expect_counters(t, empty, 0, "the chunk and the other file punched");
}

/* The fill failed for want of a 1 GiB chunk, before the armed failure. */
static bool fr_chunk_short(struct gmem_test *t, int r, int err)
{
	return r && err == ENOMEM && t->chunk_size == SZ_1G &&
	       gmem_fail_times() > 0;
}

/*
 * A fill of a partly shared hole that fails (fail_function in
 * gmem_vmemmap_repopulate() or gmem_ranges_set_state() of the last
 * stretch) while a second vCPU faults and writes private pages of the
 * chunk: the chunk is given back, no vCPU reaches it any more (the memory
 * a file of nobody's takes at once holds only what the host wrote there,
 * and the guest never reads that), and the next fill gives a chunk that
 * holds what the guest writes. Without the fill's invalidation a fault
 * that looked the chunk up during the fill keeps its stage-2 entry to the
 * freed memory. At least one burst must have started during the host's
 * fill, or the race was not run.
 */
TEST_F_TIMEOUT(gmem_track, fill_failure_race, GMEM_TEST_TIMEOUT)
{
	bool tracked = self->t.gmem_flags & GUEST_MEMFD_FLAG_TRACKED;
	bool huge = self->t.chunk_size == SZ_1G;
	struct gmem_test *t = &self->t;
	const u64 chunk = t->chunk_size;
	const u64 osize = huge ? chunk : FR_OTHER_CHUNKS_2M * chunk;
	const unsigned int solo_rounds = huge ? FR_SOLO_ROUNDS_1G :
						FR_SOLO_ROUNDS_2M;
	const unsigned int max_rounds = huge ? FR_MAX_ROUNDS_1G :
					       FR_MAX_ROUNDS_2M;
	const unsigned int want = huge ? FR_WANT_OVERLAPS_1G :
					 FR_WANT_OVERLAPS_2M;
	unsigned int secs = stress_seconds(), round, fired = 0;
	unsigned int host_failed = 0, overlapped = 0, vmemmap_rounds = 0;
	unsigned int racer_round = 1, raced = 0, short_retries = 0, tries;
	u64 retried, rnd = 0x2545f4914f6cdd1dull, *omem;
	double t0, t1, fill_s = 0, alloc_s, alloc_frac = 0, spins_per_s;
	double elapsed, aim;
	struct gmem_counters full, empty;
	struct kvm_vcpu *racer_vcpu;
	struct fr_racer racer = {};
	cpu_set_t cpus;
	struct fr_ctl *ctl;
	const char *reason, *fn;
	bool init_shared, solo, vmemmap;
	pthread_t thread;
	char space[16];
	int ofd, r, err, calls;
	gva_t gva;

	if (huge) {
		/*
		 * A round zeroes and converts 1 GiB under TCG (25 s), and
		 * its one burst seldom lands in the fill; the fill is the
		 * same code as for 2 MiB, whose variants race it.
		 */
		SKIP(return, "1 GiB chunks: the 2 MiB variant races the fill");
	}
	if (access(GMEM_FAIL_FN "/inject", W_OK))
		SKIP(return, GMEM_FAIL_FN " is missing (CONFIG_FAIL_FUNCTION)");
	t0 = now_s();

	reason = gmem_vm_create(t, KVM_X86_SW_PROTECTED_VM, guest_fill_checker);
	if (reason)
		SKIP(return, "%s", reason);
	init_shared = vm_check_cap(t->vm, KVM_CAP_GUEST_MEMFD_FLAGS) &
		      GUEST_MEMFD_FLAG_INIT_SHARED;
	reason = gmem_file_create(t, chunk,
				  init_shared ? GUEST_MEMFD_FLAG_INIT_SHARED : 0);
	if (reason)
		SKIP(return, "%s", reason);
	gmem_fail_mark(t);

	/* A file of the same design and chunk size, mapped by no guest. */
	ofd = __vm_create_guest_memfd(t->vm, osize, t->gmem_flags);
	if (ofd < 0 && errno == ENOMEM && huge)
		SKIP(return, "no memory for a second 1 GiB guest_memfd");
	TEST_ASSERT(ofd >= 0, "KVM_CREATE_GUEST_MEMFD: errno %d (%s)", errno,
		    strerror(errno));
	gmem_set_attributes(ofd, 0, osize, 0,
			    KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE);
	omem = kvm_mmap(osize, PROT_READ | PROT_WRITE, MAP_SHARED, ofd);

	if (huge)
		virt_map_level(t->vm, GMEM_GPA, GMEM_GPA, chunk, PG_LEVEL_2M);
	else
		virt_map(t->vm, GMEM_GPA, GMEM_GPA, chunk / PAGE_SIZE);
	gva = vm_alloc_page(t->vm);
	ctl = addr_gva2hva(t->vm, gva);
	ctl->chunk_pages = chunk / PAGE_SIZE;
	ctl->period = huge ? FR_PERIOD_1G : FR_PERIOD_2M;
	vcpu_args_set(t->vcpu, 2, gva, GMEM_GPA);
	racer_vcpu = vm_vcpu_add(t->vm, 1, guest_fill_racer);
	vcpu_args_set(racer_vcpu, 2, gva, GMEM_GPA);
	run_to_sync(t, 0);

	/*
	 * The counters with both files filled and shared, and with neither;
	 * the other file's fill, all shared, is about the allocation of its
	 * chunks.
	 */
	gmem_set_attributes(t->fd, 0, chunk, 0,
			    KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE);
	t1 = now_s();
	refill(t, ofd, 0, osize);
	alloc_s = (now_s() - t1) * chunk / osize;
	read_gmem_counters(t, &full);
	TEST_ASSERT(!punch_hole(t->fd, 0, chunk) && !punch_hole(ofd, 0, osize),
		    "punch: errno %d", errno);
	read_gmem_counters(t, &empty);

	/* This thread and the racer's share one CPU: see above. */
	pin_to_this_cpu(&cpus);

	racer.vcpu = racer_vcpu;
	TEST_ASSERT(!sem_init(&racer.go, 0, 0) && !sem_init(&racer.done, 0, 0),
		    "sem_init()");
	/* The new thread inherits the pinning. */
	TEST_ASSERT(!pthread_create(&thread, NULL, fr_racer_thread, &racer),
		    "pthread_create()");

	/* How fast the racer's pause loop runs, alone on the CPU. */
	fr_start(&racer, ctl, 1, FR_CALIBRATE, 0);
	sleep_ms(FR_CALIBRATE_MS);
	WRITE_ONCE(ctl->stop, 1);
	fr_wait(&racer, ctl, "racer calibration");
	spins_per_s = ctl->spins * 1000.0 / FR_CALIBRATE_MS;

	retried = vcpu_get_stat(racer_vcpu, pf_taken) -
		  vcpu_get_stat(racer_vcpu, pf_fixed) -
		  vcpu_get_stat(racer_vcpu, pf_spurious) -
		  vcpu_get_stat(racer_vcpu, pf_emulate);
	for (round = 1; round <= max_rounds; round++) {
		elapsed = now_s() - t0;
		if (round > solo_rounds && elapsed >= secs &&
		    (overlapped >= want || elapsed >= FR_TIME_FACTOR * secs))
			break;
		solo = round <= solo_rounds;
		fr_set_attributes(t, ctl);

		/*
		 * Every stretch's conversion goes through the descriptor,
		 * and in the tracked design every granule's first one
		 * rebuilds its vmemmap: let all calls but the last through.
		 */
		vmemmap = tracked && round % 2;
		vmemmap_rounds += vmemmap;
		fn = vmemmap ? "gmem_vmemmap_repopulate" :
			       "gmem_ranges_set_state";
		calls = vmemmap ? chunk / SZ_256K : fr_stretches(ctl);
		TEST_ASSERT(!gmem_fail_target(fn), "fail_function: %s", fn);
		snprintf(space, sizeof(space), "%d", calls);
		TEST_ASSERT(!gmem_fail_knob("space", space) && !gmem_fail_arm(),
			    "fail_function: arm");

		if (!solo) {
			rnd ^= rnd << 13;
			rnd ^= rnd >> 7;
			rnd ^= rnd << 17;
			/* A fraction of the fill, past the allocation. */
			aim = FR_AIM_LO + rnd % (FR_AIM_HI - FR_AIM_LO + 1);
			aim = alloc_frac + (1 - alloc_frac) * aim / 100;
			fr_start(&racer, ctl, ++racer_round,
				 aim * fill_s / solo_rounds * spins_per_s,
				 rnd >> 32);
			WRITE_ONCE(ctl->filling, racer_round);
			raced++;
		}
		for (tries = 0; ; tries++) {
			t1 = now_s();
			r = fallocate(t->fd, FALLOC_FL_KEEP_SIZE, 0, chunk);
			err = r ? errno : 0;
			t1 = now_s() - t1;
			/* A 1 GiB chunk just punched may not be back yet. */
			if (!fr_chunk_short(t, r, err) ||
			    tries >= NR_REALLOC_WAITS)
				break;
			short_retries++;
			sleep_ms(100);
		}
		WRITE_ONCE(ctl->filling, 0);
		if (!solo) {
			fr_wait(&racer, ctl, "racer round");
			/* The host's own fill failed around the burst. */
			overlapped += READ_ONCE(ctl->in_fill) == racer_round &&
				      r;
		}
		TEST_ASSERT(!gmem_fail_times(),
			    "round %u: the injected failure in %s did not fire",
			    round, fn);
		fired++;
		gmem_fail_clear();
		if (solo) {
			/* The fill failed, and the chunk went back. */
			TEST_ASSERT(r == -1 && err == ENOMEM,
				    "round %u: fill failing in %s: rc %d errno %d (%s)",
				    round, fn, r, err, strerror(err));
			expect_counters(t, &empty, 0, "after the failed fill");
			fill_s += t1;
			alloc_frac = alloc_s * round / fill_s;
			if (alloc_frac > FR_ALLOC_MAX)
				alloc_frac = FR_ALLOC_MAX;
		} else {
			/* Or the racer filled first, and its fill failed. */
			TEST_ASSERT(!r || err == ENOMEM,
				    "round %u: fallocate: errno %d (%s)",
				    round, err, strerror(err));
			host_failed += !!r;
		}
		fr_check(t, ctl, ofd, omem, osize, round, &full, &empty);
	}
	retried = vcpu_get_stat(racer_vcpu, pf_taken) -
		  vcpu_get_stat(racer_vcpu, pf_fixed) -
		  vcpu_get_stat(racer_vcpu, pf_spurious) -
		  vcpu_get_stat(racer_vcpu, pf_emulate) - retried;

	WRITE_ONCE(racer.exit, true);
	sem_post(&racer.go);
	pthread_join(thread, NULL);
	TEST_ASSERT(!pthread_setaffinity_np(pthread_self(), sizeof(cpus), &cpus),
		    "unpin");
	kvm_munmap(omem, osize);
	kvm_close(ofd);

	round--;
	ksft_print_msg("%s %s: %.1f s, %u rounds, %u of them without a racer\n",
		       gmem_design(t), huge ? "1G" : "2M", now_s() - t0, round,
		       solo_rounds);
	ksft_print_msg("injected failures: %u, %u of them in the vmemmap rebuild\n",
		       fired, vmemmap_rounds);
	ksft_print_msg("a failing fill: %.2f ms; the host's fill failed %u times\n",
		       fill_s / solo_rounds * 1000, host_failed);
	ksft_print_msg("a chunk's allocation: %.2f ms; bursts aimed past it\n",
		       alloc_s * 1000);
	ksft_print_msg("racer: %u of %u bursts during the host's failing fill, %u fills failed\n",
		       overlapped, raced, (unsigned int)racer.enomem);
	ksft_print_msg("racer: %lu faults retried or exited\n", retried);
	if (short_retries)
		ksft_print_msg("fills retried for a 1 GiB chunk not back yet: %u\n",
			       short_retries);
	ksft_print_msg("reliability: injected_failures %u\n", fired);
	TEST_ASSERT(overlapped,
		    "no racer burst of %u started during a failing fill of the host (%.2f ms): the race did not happen",
		    raced, fill_s / solo_rounds * 1000);
}

/*
 * A fill that fails after the host mapped a shared page of the chunk cannot
 * give the chunk back, the page cache holding that page: the chunk stays,
 * converted up to the failure and private beyond it where the attributes
 * say shared, and lookups repair it page by page (kvm_gmem_track_fill()).
 * Until then the memory's runs are not the attributes': a private fault
 * next to a page left so must not be mapped with an entry that covers it.
 * Only a 1 GiB chunk shows that: a 2 MiB one that kept a converted page
 * is no private run of 2 MiB whatever the attributes say, and its
 * variants check the repair.
 *
 * The hole is private but for one shared page per period (one per 2 MiB
 * block in a 1 GiB chunk), and fail_function lets half of the fill's
 * conversions through. A host thread on the same CPU as the fill waits
 * for the first conversion (shared_bytes) and reads that page; the round
 * counts when the chunk is then still there, partly converted.
 */
#define UF_PERIOD_2M		4
#define UF_PERIOD_1G		(SZ_2M / PAGE_SIZE)
/* The shared page of each period. */
#define UF_SHARED_2M		2
#define UF_SHARED_1G		8
#define UF_MAX_ROUNDS_2M	300
#define UF_MAX_ROUNDS_1G	30
/* Rounds that left the chunk there, partly converted: enough. */
#define UF_WANT_HITS		2

struct uf_host {
	const char *design;
	u8 *mem;
	u64 offset;
	long base;
	bool stop;
	bool touched;
};

/* Read the page at @offset once the fill converted its first page. */
static void *uf_host_thread(void *arg)
{
	struct uf_host *h = arg;

	while (!READ_ONCE(h->stop)) {
		if (sysfs_long(h->design, "shared_bytes") <= h->base)
			continue;
		(void)READ_ONCE(*(u64 *)(h->mem + h->offset));
		WRITE_ONCE(h->touched, true);
		break;
	}
	return NULL;
}

static void uf_set_attributes(struct gmem_test *t, u64 period, u64 shared)
{
	u64 offset;

	gmem_set_attributes(t->fd, 0, t->chunk_size,
			    KVM_MEMORY_ATTRIBUTE_PRIVATE,
			    KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE);
	for (offset = shared * PAGE_SIZE; offset < t->chunk_size;
	     offset += period * PAGE_SIZE)
		gmem_set_attributes(t->fd, offset, PAGE_SIZE, 0,
				    KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE);
}

TEST_F_TIMEOUT(gmem_track, unreleased_fill, GMEM_TEST_TIMEOUT)
{
	struct gmem_test *t = &self->t;
	bool huge = t->chunk_size == SZ_1G;
	const u64 chunk = t->chunk_size;
	const u64 period = huge ? UF_PERIOD_1G : UF_PERIOD_2M;
	const u64 shared = huge ? UF_SHARED_1G : UF_SHARED_2M;
	const u64 nr_shared = chunk / PAGE_SIZE / period;
	const unsigned int max_rounds = huge ? UF_MAX_ROUNDS_1G :
					       UF_MAX_ROUNDS_2M;
	/* A private page of the last period, and that period's shared one. */
	const u64 last_private = chunk - period * PAGE_SIZE;
	const u64 last_shared = last_private + shared * PAGE_SIZE;
	unsigned int secs = stress_seconds(), round, hits = 0, missed = 0;
	unsigned int short_retries = 0, tries;
	struct gmem_counters empty, c;
	u64 pages_2m, pages_1g, got;
	cpu_set_t cpus;
	struct uf_host h;
	const char *reason;
	pthread_t thread;
	char space[16];
	int r, err;
	double t0;

	if (access(GMEM_FAIL_FN "/inject", W_OK))
		SKIP(return, GMEM_FAIL_FN " is missing (CONFIG_FAIL_FUNCTION)");
	if (!kvm_has_cap(KVM_CAP_PRE_FAULT_MEMORY))
		SKIP(return, "KVM_CAP_PRE_FAULT_MEMORY not supported");
	t0 = now_s();

	reason = gmem_vm_create(t, KVM_X86_SW_PROTECTED_VM, guest_reads_chunks);
	if (!reason)
		reason = gmem_file_create(t, chunk, 0);
	if (reason)
		SKIP(return, "%s", reason);
	gmem_fail_mark(t);
	TEST_ASSERT(!punch_hole(t->fd, 0, chunk), "punch: errno %d", errno);
	read_gmem_counters(t, &empty);

	/* The fill and the host thread share one CPU (fill_failure_race). */
	pin_to_this_cpu(&cpus);

	h.design = gmem_design(t);
	h.mem = t->mem;
	h.offset = shared * PAGE_SIZE;
	TEST_ASSERT(!gmem_fail_target("gmem_ranges_set_state"),
		    "fail_function: gmem_ranges_set_state");
	snprintf(space, sizeof(space), "%lu", nr_shared / 2);
	for (round = 1; round <= max_rounds && hits < UF_WANT_HITS &&
	     now_s() - t0 < 2 * secs; round++) {
		uf_set_attributes(t, period, shared);
		TEST_ASSERT(!gmem_fail_knob("space", space) && !gmem_fail_arm(),
			    "fail_function: arm");
		h.base = sysfs_long(h.design, "shared_bytes");
		h.stop = false;
		h.touched = false;
		TEST_ASSERT(!pthread_create(&thread, NULL, uf_host_thread, &h),
			    "pthread_create()");
		for (tries = 0; ; tries++) {
			r = fallocate(t->fd, FALLOC_FL_KEEP_SIZE, 0, chunk);
			err = r ? errno : 0;
			/* A 1 GiB chunk just punched may not be back yet. */
			if (!r || err != ENOMEM || gmem_fail_times() <= 0 ||
			    tries >= NR_REALLOC_WAITS)
				break;
			short_retries++;
			sleep_ms(100);
		}
		WRITE_ONCE(h.stop, true);
		pthread_join(thread, NULL);
		TEST_ASSERT(!gmem_fail_times(),
			    "round %u: the injected failure did not fire", round);
		TEST_ASSERT(r && err == ENOMEM,
			    "round %u: the fill that failed returned %d (%s)",
			    round, r, strerror(err));

		read_gmem_counters(t, &c);
		if (!h.touched || c.chunks == empty.chunks ||
		    c.shared_b - h.base >= (long)(nr_shared * PAGE_SIZE)) {
			/* Too early or too late: no chunk left half-done. */
			missed++;
			TEST_ASSERT(!punch_hole(t->fd, 0, chunk),
				    "round %u: punch: errno %d", round, errno);
			continue;
		}
		hits++;

		/*
		 * A private page of the last period, whose shared page the
		 * fill never reached: mapped 4 KiB, as the attributes are
		 * not private over any larger block around it.
		 */
		pages_2m = vm_get_stat(t->vm, pages_2m);
		pages_1g = vm_get_stat(t->vm, pages_1g);
		pre_fault_range(t->vcpu, GMEM_GPA + last_private, PAGE_SIZE);
		TEST_ASSERT(vm_get_stat(t->vm, pages_2m) == pages_2m &&
			    vm_get_stat(t->vm, pages_1g) == pages_1g,
			    "round %u: a fault at offset 0x%lx was mapped huge (pages_2m %lu -> %lu, pages_1g %lu -> %lu) over offset 0x%lx, which is shared",
			    round, last_private, pages_2m,
			    vm_get_stat(t->vm, pages_2m), pages_1g,
			    vm_get_stat(t->vm, pages_1g), last_shared);

		/* The host's fault repairs that shared page: zero. */
		got = READ_ONCE(*(u64 *)(t->mem + last_shared));
		TEST_ASSERT(!got, "round %u: offset 0x%lx holds 0x%lx",
			    round, last_shared, got);
		read_gmem_counters(t, &c);
		TEST_ASSERT(c.shared_b - h.base >= PAGE_SIZE,
			    "round %u: the shared page the host faulted is not shared",
			    round);

		TEST_ASSERT(!punch_hole(t->fd, 0, chunk),
			    "round %u: punch: errno %d", round, errno);
		expect_counters(t, &empty, 0, "the chunk left by the fill, punched");
	}
	TEST_ASSERT(!pthread_setaffinity_np(pthread_self(), sizeof(cpus), &cpus),
		    "unpin");

	ksft_print_msg("%s %s: %.1f s, %u rounds: %u left the chunk half-converted, %u did not\n",
		       gmem_design(t), huge ? "1G" : "2M", now_s() - t0,
		       round - 1, hits, missed);
	if (short_retries)
		ksft_print_msg("fills retried for a 1 GiB chunk not back yet: %u\n",
			       short_retries);
	ksft_print_msg("reliability: injected_failures %u\n", round - 1);
	ksft_print_msg("reliability: isolation_cases %u\n", hits);
	TEST_ASSERT(hits,
		    "no round of %u left the chunk half-converted: the case was not reached",
		    round - 1);
}

/*
 * reserve_1g_map: a tracked 2M file of 1 GiB whose 512 chunks are
 * contiguous in PFN from a 1 GiB boundary on, as the boot reservation's 2M
 * chunks give them. They merge into one range of the descriptor, but each
 * is freed on its own and a punch invalidates only its chunk, so KVM must
 * map them with 2 MiB entries: a 1 GiB entry installed again while a punch
 * runs would let the guest write into a chunk already given to another
 * file. Run by make check's boot with a reservation only
 * (workbench/tests-reserve.list), which gives 2 GiB of 2M chunks in one run.
 */
#define RESERVE_TIMEOUT		900
#define RACE_MAGIC		0xfeedf00d00000000ull
/*
 * How far ahead of the guest a chunk is punched, in seconds of its pace;
 * doubled, up to RACE_LEAD_MAX_S, whenever the guest got there too soon.
 */
#define RACE_LEAD_S		0.5
#define RACE_LEAD_MAX_S		4
#define RACE_AHEAD_MIN		8
/* Longest wait for the guest to start, or to get past a punched chunk. */
#define RACE_WAIT_S		10
#define RACE_MAX_ROUNDS		256
/* Memory-fault exits the vCPU may take before the test gives up. */
#define RACE_MAX_FAULTS		1000
#define RACE_NR_CHUNKS		(SZ_1G / SZ_2M)
/* The file that takes a punched chunk, in another, plain VM. */
#define RACE_OTHER_FLAGS	(GUEST_MEMFD_FLAG_MMAP |		\
				 GUEST_MEMFD_FLAG_INIT_SHARED |		\
				 GUEST_MEMFD_FLAG_GMEM_TRACK |		\
				 GUEST_MEMFD_FLAG_TRACKED)
#define CHUNK_EVENT(e)		\
	TRACING "/events/gmem_track/gmem_track_chunk_" e "/enable"

/* Chunks the guest has written since it started, read by the host. */
static u64 race_pos;
/* Set by the host: the guest stops after the chunk it is writing. */
static u64 race_stop;

static void guest_race_write(u64 *p)
{
	u64 *end = p + SZ_2M / sizeof(u64);

	for (; p < end; p++)
		*p = RACE_MAGIC ^ (u64)p;
}

/*
 * Write every word of the file with RACE_MAGIC ^ its address, 2 MiB at a
 * time, round and round until the host says stop; then all of it once
 * more, and read it back.
 */
static void guest_race(u64 gpa, u64 size)
{
	u64 nr = size / SZ_2M, c, *p, want;

	for (c = 0; !READ_ONCE(race_stop); c++) {
		guest_race_write((u64 *)(gpa + c % nr * SZ_2M));
		WRITE_ONCE(race_pos, c + 1);
	}
	GUEST_SYNC(1);

	for (c = 0; c < nr; c++)
		guest_race_write((u64 *)(gpa + c * SZ_2M));
	for (p = (u64 *)gpa; p < (u64 *)(gpa + size); p++) {
		want = RACE_MAGIC ^ (u64)p;
		__GUEST_ASSERT(READ_ONCE(*p) == want,
			       "Guest expected 0x%lx at gpa 0x%lx, got 0x%lx",
			       want, (u64)p, *p);
	}
	GUEST_DONE();
}

/* A figure of the boot reservation's 2M chunks ("free", "used", ...). */
static long reserve_2m_chunks(const char *what)
{
	char path[128];
	long bytes;

	snprintf(path, sizeof(path), GMEM_TRACK_SYSFS "/reserve/%s_2M_bytes",
		 what);
	bytes = read_long(path);
	return bytes < 0 ? bytes : bytes / SZ_2M;
}

/*
 * The PFNs of the chunks this thread allocated (@what "alloc") or freed
 * ("free") since the trace was cleared, in order, at most @max of them.
 * Returns how many there were.
 */
static u64 chunk_events(const char *what, u64 *pfns, u64 max)
{
	char line[512], key[64], who[24], *p;
	u64 n = 0;
	FILE *f;

	snprintf(key, sizeof(key), "gmem_track_chunk_%s: pfn=", what);
	/* The task column reads "comm-TID ". */
	snprintf(who, sizeof(who), "-%d ", kvm_gettid());
	f = fopen(TRACING "/trace", "r");
	TEST_ASSERT(f, "open " TRACING "/trace");
	while (fgets(line, sizeof(line), f)) {
		p = strstr(line, key);
		if (!p || !strstr(line, who))
			continue;
		if (n < max)
			pfns[n] = strtoull(p + strlen(key), NULL, 16);
		n++;
	}
	fclose(f);
	return n;
}

/*
 * A file that holds every free chunk of the 2M reservation but those a
 * step of the test gives back, so that the chunk the next allocation takes
 * is known: the reservation hands out its lowest free chunk.
 */
struct holder {
	int fd;
	/* Size of the file, in chunks: room for the chunks it takes later. */
	u64 size;
	/* Indices of the chunks it holds, a stack. */
	u64 *held;
	u64 nr_held;
	/* The next index that never held a chunk. */
	u64 next;
};

/*
 * Take every free chunk of the reservation into the holder, as far as it
 * has room (the race stops before it has none).
 */
static void holder_absorb(struct holder *h)
{
	long n = reserve_2m_chunks("free");

	TEST_ASSERT(n >= 0, "read the reservation's free_2M_bytes");
	for (; n > 0 && h->next < h->size; n--) {
		TEST_ASSERT(!fallocate(h->fd, FALLOC_FL_KEEP_SIZE,
				       h->next * SZ_2M, SZ_2M),
			    "holder: fallocate at 0x%lx: errno %d (%s)",
			    h->next * SZ_2M, errno, strerror(errno));
		h->held[h->nr_held++] = h->next++;
	}
}

/* Give one chunk back to the reservation: the one free chunk there. */
static void holder_release(struct holder *h)
{
	u64 index;

	TEST_ASSERT(h->nr_held, "the holder holds no chunk");
	index = h->held[--h->nr_held];
	TEST_ASSERT(!punch_hole(h->fd, index * SZ_2M, SZ_2M),
		    "holder: punch 0x%lx: errno %d (%s)", index * SZ_2M, errno,
		    strerror(errno));
}

/*
 * Take every free chunk of the 2M reservation into a holder, find 512 of
 * them in a row from a 1 GiB boundary on, and give those back: the next
 * 1 GiB file takes them, in PFN order. Returns the PFN of the first.
 */
static u64 reserve_aligned_gib(struct gmem_test *t, struct holder *h)
{
	const u64 chunk_pages = SZ_2M / PAGE_SIZE;
	long nfree = reserve_2m_chunks("free");
	u64 *pfns, n, i, j, pfn;

	TEST_ASSERT(nfree > RACE_NR_CHUNKS,
		    "the 2M reservation has %ld free chunks, not a GiB and more",
		    nfree);
	h->size = nfree + 2 * RACE_MAX_ROUNDS + 2;
	h->held = calloc(h->size, sizeof(*h->held));
	pfns = calloc(nfree, sizeof(*pfns));
	TEST_ASSERT(h->held && pfns, "calloc()");
	h->fd = vm_create_guest_memfd(t->vm, h->size * SZ_2M, t->gmem_flags);

	TEST_ASSERT(!write_str(TRACING "/trace", ""), "clear the trace");
	TEST_ASSERT(!fallocate(h->fd, FALLOC_FL_KEEP_SIZE, 0, nfree * SZ_2M),
		    "holder: fallocate of %ld chunks: errno %d (%s)", nfree,
		    errno, strerror(errno));
	n = chunk_events("alloc", pfns, nfree);
	TEST_ASSERT(n == nfree && !reserve_2m_chunks("free"),
		    "%lu chunk allocations traced for %ld free reserved chunks, %ld still free",
		    n, nfree, reserve_2m_chunks("free"));

	for (j = 0; j + RACE_NR_CHUNKS <= n; j++) {
		if (pfns[j] % (SZ_1G / PAGE_SIZE))
			continue;
		for (i = 1; i < RACE_NR_CHUNKS; i++) {
			if (pfns[j + i] != pfns[j] + i * chunk_pages)
				break;
		}
		if (i == RACE_NR_CHUNKS)
			break;
	}
	TEST_ASSERT(j + RACE_NR_CHUNKS <= n,
		    "The 2M reservation's %lu free chunks (PFN 0x%lx first, 0x%lx last) hold no 512 in a row from a 1 GiB boundary: KVM could not map 2 MiB chunks with one 1 GiB entry here, and the test would show nothing. Reserve 2 GiB in 2M chunks, first (RESERVE_ARGS, workbench/check.sh)",
		    n, pfns[0], pfns[n - 1]);
	pfn = pfns[j];
	free(pfns);

	for (i = 0; i < n; i++) {
		if (i < j || i >= j + RACE_NR_CHUNKS)
			h->held[h->nr_held++] = i;
	}
	h->next = n;
	TEST_ASSERT(!punch_hole(h->fd, j * SZ_2M, SZ_1G),
		    "holder: punch 0x%lx+1G: errno %d (%s)", j * SZ_2M, errno,
		    strerror(errno));
	return pfn;
}

/* The guest's progress, and what its vCPU thread saw. */
struct race {
	struct gmem_test *t;
	/* The host's views of race_pos and race_stop. */
	u64 *pos;
	u64 *stop;
	u64 memory_faults;
};

static void *race_vcpu(void *arg)
{
	struct race *r = arg;
	struct kvm_vcpu *vcpu = r->t->vcpu;
	struct kvm_run *run = vcpu->run;
	struct ucall uc;
	int ret;

	for (;;) {
		ret = _vcpu_run(vcpu);
		if (ret) {
			/*
			 * A fault on the punched chunk finds a hole and fills
			 * it; if that fails for a moment, KVM tells with a
			 * memory-fault exit. Run again.
			 */
			TEST_ASSERT(run->exit_reason == KVM_EXIT_MEMORY_FAULT,
				    "KVM_RUN: rc %d errno %d (%s), exit reason %u",
				    ret, errno, strerror(errno),
				    run->exit_reason);
			r->memory_faults++;
			TEST_ASSERT(r->memory_faults < RACE_MAX_FAULTS,
				    "%lu memory-fault exits, the last at gpa 0x%llx: errno %d (%s)",
				    r->memory_faults, run->memory_fault.gpa,
				    errno, strerror(errno));
			sleep_ms(1);
			continue;
		}
		TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
		switch (get_ucall(vcpu, &uc)) {
		case UCALL_SYNC:
			break;
		case UCALL_DONE:
			return NULL;
		case UCALL_ABORT:
			REPORT_GUEST_ASSERT(uc);
			break;
		default:
			TEST_FAIL("Unknown ucall 0x%lx", uc.cmd);
		}
	}
}

/* What one round of the race saw. */
struct race_round {
	/* The file that took a chunk got the one punched. */
	bool reused;
	/* It did before the guest got to the punched chunk... */
	bool in_time;
	/* ...and the guest wrote past it before the file was read. */
	bool passed;
	/* Words of that file that are not zero, and of the guest's pattern. */
	u64 nonzero;
	u64 pattern;
	u64 bad_offset;
	u64 bad_word;
};

/*
 * Punch the chunk @ahead chunks in front of the guest out of its file,
 * have a file of another VM take the chunk, fill the hole again with a
 * chunk of the holder, and once the guest has written past the chunk,
 * read the other file: it must hold zeroes.
 */
static void race_round(struct gmem_test *t, struct race *r, struct holder *h,
		       struct kvm_vm *other, u64 ahead, struct race_round *rr)
{
	u64 pos = READ_ONCE(*r->pos), freed = 0, got = 0, i, w, a, offset;
	const u64 *mem;
	double t0;
	int fd;

	memset(rr, 0, sizeof(*rr));
	offset = (pos + ahead) % RACE_NR_CHUNKS * SZ_2M;

	TEST_ASSERT(!write_str(TRACING "/trace", ""), "clear the trace");
	TEST_ASSERT(!punch_hole(t->fd, offset, SZ_2M),
		    "punch 0x%lx: errno %d (%s)", offset, errno,
		    strerror(errno));
	fd = vm_create_guest_memfd(other, SZ_2M, RACE_OTHER_FLAGS);
	TEST_ASSERT(!fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, SZ_2M),
		    "fallocate of the other file: errno %d (%s)", errno,
		    strerror(errno));
	rr->in_time = READ_ONCE(*r->pos) < pos + ahead;

	/* The guest's hole gets the one free reserved chunk. */
	holder_release(h);
	refill(t, t->fd, offset, SZ_2M);

	chunk_events("free", &freed, 1);
	chunk_events("alloc", &got, 1);
	rr->reused = freed && got == freed;

	mem = kvm_mmap(SZ_2M, PROT_READ, MAP_SHARED, fd);
	t0 = now_s();
	while (READ_ONCE(*r->pos) <= pos + ahead && now_s() - t0 < RACE_WAIT_S)
		sleep_ms(1);
	rr->passed = READ_ONCE(*r->pos) > pos + ahead;

	for (i = 0; i < SZ_2M / sizeof(u64); i++) {
		w = READ_ONCE(mem[i]);
		if (!w)
			continue;
		if (!rr->nonzero++) {
			rr->bad_offset = i * sizeof(u64);
			rr->bad_word = w;
		}
		a = w ^ RACE_MAGIC;
		if (a >= GMEM_GPA && a < GMEM_GPA + SZ_1G && !(a % sizeof(u64)))
			rr->pattern++;
	}
	kvm_munmap((void *)mem, SZ_2M);
	kvm_close(fd);

	/* Its chunk is free again: into the holder with it. */
	holder_absorb(h);
}

/*
 * With the boot reservation's 2M chunks: a 1 GiB file of 512 chunks in a
 * row from a 1 GiB boundary, one range of the descriptor, KVM_PRE_FAULT_MEMORY
 * over all of it makes 512 2 MiB mappings and no 1 GiB one. Then a guest
 * writes its pattern over the file again and again while the host punches
 * a chunk out ahead of it, has a file of another VM take that chunk, fills
 * the hole again and, once the guest has written past it, reads the other
 * file: it must hold zeroes, never the guest's pattern. The guest's own
 * file keeps working, and the reservation gets every chunk back.
 */
TEST_F_TIMEOUT(gmem_track, reserve_1g_map, RESERVE_TIMEOUT)
{
	const u64 chunk_pages = SZ_2M / PAGE_SIZE;
	u64 pages_4k, pages_2m, pages_1g, pfn, *pfns, ahead = 0, i, n;
	unsigned int secs = stress_seconds(), rounds = 0, reused = 0;
	unsigned int in_time = 0, covered = 0;
	struct gmem_test *t = &self->t;
	double t0, elapsed, lead = RACE_LEAD_S;
	long ranges, used, waited;
	struct race_round rr = {};
	struct holder h = {};
	struct race r = {};
	struct kvm_vm *other;
	const char *reason;
	pthread_t vth;

	if (t->chunk_size != SZ_2M ||
	    !(t->gmem_flags & GUEST_MEMFD_FLAG_TRACKED))
		SKIP(return, "only tracked 2M files take the reservation's 2M chunks");
	if (reserve_2m_chunks("reserved") <= 0)
		SKIP(return, "no 2M reservation: make check's boot with one runs this");
	if (!kvm_has_cap(KVM_CAP_PRE_FAULT_MEMORY))
		SKIP(return, "KVM_CAP_PRE_FAULT_MEMORY not supported");
	if (!kvm_cpu_has(X86_FEATURE_GBPAGES))
		SKIP(return, "no 1 GiB pages in the stage-2 page tables");

	used = reserve_2m_chunks("used");
	reason = gmem_vm_create(t, KVM_X86_SW_PROTECTED_VM, guest_race);
	if (reason)
		SKIP(return, "%s", reason);
	TEST_ASSERT(!write_str(CHUNK_EVENT("alloc"), "1") &&
		    !write_str(CHUNK_EVENT("free"), "1"),
		    "enable the gmem_track_chunk_alloc and _free tracepoints");

	/* The precondition: 512 chunks in a row, 1 GiB aligned, one range. */
	pfn = reserve_aligned_gib(t, &h);
	pfns = calloc(RACE_NR_CHUNKS, sizeof(*pfns));
	TEST_ASSERT(pfns, "calloc()");
	TEST_ASSERT(!write_str(TRACING "/trace", ""), "clear the trace");
	ranges = sysfs_long("tracked", "ranges");
	reason = gmem_file_create(t, SZ_1G, 0);
	if (reason)
		SKIP(return, "%s", reason);
	ranges = sysfs_long("tracked", "ranges") - ranges;
	n = chunk_events("alloc", pfns, RACE_NR_CHUNKS);
	TEST_ASSERT(n == RACE_NR_CHUNKS,
		    "%lu chunk allocations traced for the 1 GiB file", n);
	for (i = 0; i < RACE_NR_CHUNKS; i++)
		TEST_ASSERT(pfns[i] == pfn + i * chunk_pages,
			    "chunk %lu of the file at PFN 0x%lx, not 0x%lx: not the run the reservation gave back",
			    i, pfns[i], pfn + i * chunk_pages);
	free(pfns);
	TEST_ASSERT(ranges == 1,
		    "512 chunks in a row are %ld ranges of the descriptor, not one",
		    ranges);
	ksft_print_msg("1 GiB file: 512 reserved 2M chunks at PFN 0x%lx-0x%lx, one range\n",
		       pfn, pfn + RACE_NR_CHUNKS * chunk_pages - 1);

	virt_map_level(t->vm, GMEM_GPA, GMEM_GPA, SZ_1G, PG_LEVEL_2M);
	vcpu_args_set(t->vcpu, 2, GMEM_GPA, (u64)SZ_1G);
	pre_fault_range(t->vcpu, GMEM_GPA, SZ_1G);
	pages_4k = vm_get_stat(t->vm, pages_4k);
	pages_2m = vm_get_stat(t->vm, pages_2m);
	pages_1g = vm_get_stat(t->vm, pages_1g);
	ksft_print_msg("pre-faulted: pages_4k %lu pages_2m %lu pages_1g %lu\n",
		       pages_4k, pages_2m, pages_1g);
	/* Not fatal: the race below shows what a 1 GiB entry does. */
	EXPECT_EQ(0, pages_1g);
	EXPECT_EQ(RACE_NR_CHUNKS, pages_2m);

	other = vm_create_barebones();
	TEST_ASSERT((gmem_flags_supported(other) & RACE_OTHER_FLAGS) ==
		    RACE_OTHER_FLAGS,
		    "a plain VM does not take guest_memfd flags 0x%llx",
		    RACE_OTHER_FLAGS);
	r.t = t;
	r.pos = addr_gva2hva(t->vm, (gva_t)&race_pos);
	r.stop = addr_gva2hva(t->vm, (gva_t)&race_stop);
	TEST_ASSERT(!pthread_create(&vth, NULL, race_vcpu, &r),
		    "pthread_create()");

	/* The guest's pace says how far ahead of it to punch. */
	t0 = now_s();
	while (READ_ONCE(*r.pos) < RACE_AHEAD_MIN && now_s() - t0 < RACE_WAIT_S)
		sleep_ms(10);
	TEST_ASSERT(READ_ONCE(*r.pos), "the guest wrote no chunk in %d s",
		    RACE_WAIT_S);
	while (rounds < RACE_MAX_ROUNDS && now_s() - t0 < secs &&
	       h.next + 2 < h.size) {
		elapsed = max_t(double, now_s() - t0, 0.01);
		ahead = READ_ONCE(*r.pos) / elapsed * lead;
		ahead = max_t(u64, ahead, RACE_AHEAD_MIN);
		ahead = min_t(u64, ahead, RACE_NR_CHUNKS / 2);
		race_round(t, &r, &h, other, ahead, &rr);
		rounds++;
		reused += rr.reused;
		in_time += rr.reused && rr.in_time;
		covered += rr.reused && rr.in_time && rr.passed;
		if (rr.nonzero)
			break;
		if (!rr.in_time && lead < RACE_LEAD_MAX_S)
			lead *= 2;
	}
	elapsed = now_s() - t0;

	/* The guest writes all of its file once more and reads it back. */
	__atomic_store_n(r.stop, 1, __ATOMIC_RELEASE);
	pthread_join(vth, NULL);

	ksft_print_msg("race: %u rounds in %.1f s, the last %lu chunks ahead of the guest\n",
		       rounds, elapsed, ahead);
	ksft_print_msg("race: the other file took the punched chunk %u times,\n",
		       reused);
	ksft_print_msg("race: %u before the guest got there, %u read after it wrote there\n",
		       in_time, covered);
	ksft_print_msg("race: %lu chunks written by the guest, %lu memory-fault exits\n",
		       READ_ONCE(*r.pos), r.memory_faults);
	TEST_ASSERT(!rr.nonzero,
		    "round %u: the file of another VM that took the chunk punched out of the guest's holds %lu nonzero words, %lu of them the guest's pattern; the first at 0x%lx: 0x%lx",
		    rounds, rr.nonzero, rr.pattern, rr.bad_offset, rr.bad_word);
	TEST_ASSERT(covered,
		    "in %u rounds, the other file never held the punched chunk while the guest wrote there",
		    rounds);

	/* Every chunk goes back to the reservation. */
	write_str(CHUNK_EVENT("alloc"), "0");
	write_str(CHUNK_EVENT("free"), "0");
	kvm_vm_free(other);
	kvm_close(h.fd);
	free(h.held);
	kvm_munmap(t->reserved, t->reserved_size);
	t->reserved = NULL;
	kvm_close(t->fd);
	t->fd = -1;
	kvm_vm_free(t->vm);
	t->vm = NULL;
	for (waited = 0; reserve_2m_chunks("used") != used && waited < 60000;
	     waited += 50)
		sleep_ms(50);
	TEST_ASSERT(reserve_2m_chunks("used") == used,
		    "%ld chunks of the 2M reservation in use after every file is gone, %ld before",
		    reserve_2m_chunks("used"), used);
}

TEST_HARNESS_MAIN
