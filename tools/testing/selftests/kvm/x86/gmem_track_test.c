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
 * - default_vm: a KVM_X86_DEFAULT_VM guest writes any offset of the file and
 *   the host reads it back through mmap().
 * - poison_private: memory_failure() on a private page the guest has mapped
 *   takes the mapping away: the guest's next access exits to the VMM with
 *   KVM_EXIT_MEMORY_FAULT, the page cannot be converted any more, the rest
 *   of the file keeps working.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/falloc.h>
#include <linux/kvm_para.h>
#include <linux/sizes.h>

#include "kselftest_harness.h"
#include "kvm_syscalls.h"
#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"
#include "ucall_common.h"

#define GMEM_SLOT		10
/* Above the memory of slot 0 and the PCI hole; 1 GiB aligned. */
#define GMEM_GPA		SZ_4G

/* Pages each test touches; see test_offset(). */
#define NR_TEST_PAGES		5

/* Under TCG a 1 GiB file takes seconds to allocate and zero. */
#define GMEM_TEST_TIMEOUT	300

/* Attempts to allocate a 1 GiB chunk that the previous test may still hold. */
#define NR_ALLOC_TRIES		5

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

static bool vm_has_attributes2(struct kvm_vm *vm)
{
	const u64 flags = KVM_SET_MEMORY_ATTRIBUTES2_ZERO |
			  KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE;

	return (vm_check_cap(vm, KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES) &
		KVM_MEMORY_ATTRIBUTE_PRIVATE) &&
	       (vm_check_cap(vm, KVM_CAP_MEMORY_ATTRIBUTES2_FLAGS) & flags) == flags;
}

FIXTURE_SETUP(gmem_track)
{
	const u64 attr2_flags = KVM_SET_MEMORY_ATTRIBUTES2_ZERO |
				KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE;
	struct gmem_test *t = &self->t;

	t->gmem_flags = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_GMEM_TRACK |
			variant->flags;
	t->chunk_size = variant->chunk_size;
	t->fd = -1;

	if (!kvm_has_cap(KVM_CAP_GUEST_MEMFD))
		SKIP(return, "KVM_CAP_GUEST_MEMFD not supported");
	if (!(check_cap_any(KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES) &
	      KVM_MEMORY_ATTRIBUTE_PRIVATE))
		SKIP(return, "KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES not supported");
	if ((check_cap_any(KVM_CAP_MEMORY_ATTRIBUTES2_FLAGS) & attr2_flags) !=
	    attr2_flags)
		SKIP(return, "KVM_SET_MEMORY_ATTRIBUTES2_ZERO/PRESERVE not supported");
	if ((check_cap_any(KVM_CAP_GUEST_MEMFD_FLAGS) & t->gmem_flags) !=
	    t->gmem_flags)
		SKIP(return, "guest_memfd flags 0x%lx not supported",
		     t->gmem_flags);
}

FIXTURE_TEARDOWN(gmem_track)
{
	struct gmem_test *t = &self->t;

	if (t->reserved)
		kvm_munmap(t->reserved, t->reserved_size);
	if (t->fd >= 0)
		kvm_close(t->fd);
	if (t->vm)
		kvm_vm_free(t->vm);
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
	u64 supported = vm_check_cap(t->vm, KVM_CAP_GUEST_MEMFD_FLAGS);
	bool huge_1g = t->chunk_size == SZ_1G;
	u8 *aligned;
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
	 * aligned like its gpa, so align the mapping to the chunk size.
	 */
	t->reserved_size = size + t->chunk_size;
	t->reserved = kvm_mmap(t->reserved_size, PROT_NONE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1);
	aligned = align_ptr_up(t->reserved, t->chunk_size);
	t->mem = mmap(aligned, size, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_FIXED, t->fd, 0);
	TEST_ASSERT(t->mem == aligned,
		    __KVM_SYSCALL_ERROR("mmap()", (int)(long)t->mem));

	vm_set_user_memory_region2(t->vm, GMEM_SLOT, KVM_MEM_GUEST_MEMFD,
				   GMEM_GPA, size, t->mem, t->fd, 0);
	return NULL;
}

/* Carry out a KVM_HC_MAP_GPA_RANGE request on the guest_memfd. */
static void handle_map_gpa_range(struct gmem_test *t)
{
	struct kvm_run *run = t->vcpu->run;
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

/*
 * Run the vCPU to its next ucall, carrying out MAP_GPA_RANGE requests on the
 * way, and check that it is @want: UCALL_DONE, or UCALL_SYNC of stage @stage.
 */
static void __run_vcpu(struct gmem_test *t, u64 want, u64 stage)
{
	struct kvm_vcpu *vcpu = t->vcpu;
	struct kvm_run *run = vcpu->run;
	struct ucall uc;

	for (;;) {
		vcpu_run(vcpu);
		if (run->exit_reason != KVM_EXIT_HYPERCALL)
			break;
		handle_map_gpa_range(t);
	}

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

static void run_to_sync(struct gmem_test *t, u64 stage)
{
	__run_vcpu(t, UCALL_SYNC, stage);
}

static void run_to_done(struct gmem_test *t)
{
	__run_vcpu(t, UCALL_DONE, 0);
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
	 * Files start private: with memory attributes the host converts what
	 * the guest wrote, else the file starts shared.
	 */
	convert = vm_has_attributes2(t->vm);
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

	snprintf(buf, sizeof(buf), "%#lx", pfn + offset / PAGE_SIZE);
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
		    GMEM_GPA + offset);

	/* The page cannot come back; its neighbours convert as before. */
	r = __gmem_set_attributes(t->fd, 0, 2 * PAGE_SIZE, 0,
				  KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE,
				  &error_offset);
	TEST_ASSERT(r < 0 && errno == EHWPOISON,
		    "converting the poisoned page: rc %d errno %d", r, errno);
	gmem_set_attributes(t->fd, 0, PAGE_SIZE, 0,
			    KVM_SET_MEMORY_ATTRIBUTES2_ZERO);
	TEST_ASSERT(!t->mem[0], "a page next to the poisoned one");
}

TEST_HARNESS_MAIN
