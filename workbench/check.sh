#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make check / make shell: build the patched kernel and run every test.
# Usage: check.sh check|shell
# make check boots the check kernel (build/obj-check): x86_64_defconfig
# less trim.config's drivers, base.config, and check.config's lockdep,
# DEBUG_VM and kmemleak. DEBUG=1 boots the debug kernel (build/obj-debug),
# which adds KASAN, DEBUG_PAGEALLOC, failslab and the rest of
# debug.config. make bench builds a third one with no debugging at all
# (workbench/bench.sh).
# Environment: DEBUG=1 (debug kernel), ONLY=NAME (run only matching tests),
#              WB_TIMEOUT (seconds before a guest counts as hung),
#              STRESS_SECS (each stress test's length: 15, DEBUG=1: 60).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/workbench/config.sh"
cd "$top"
mode=${1:-check}
b=$top/build

if [ "${DEBUG:-0}" = 1 ]; then
	obj=$b/obj-debug
	frags=("$top/workbench/kconfig/trim.config" "$top/workbench/kconfig/base.config"
	       "$top/workbench/kconfig/debug.config")
	: "${WB_TIMEOUT:=9000}"
	# A debug kernel walks 12 GiB of PFNs too slowly for the walker tests'
	# time limits. Its 1 GiB cases take the reservation of first_args,
	# which needs 10 GiB: in 8 GiB only three 1 GiB blocks are left to
	# reserve beside the kernel and KASAN's shadow, fewer than the 1 GiB
	# cases that poison a chunk for good.
	: "${WB_MEM:=10G}"
	export WB_MEM
	flavour=" (debug)"
	# Logs, results and the initramfs of the debug run go to build/debug/,
	# so that its results stay beside make check's. The two cannot run
	# at once: four 10 GiB guests do not fit in 24 GiB.
	r=$b/debug
	export WB_SELFTESTS=$r/selftests WB_INITRAMFS_ROOT=$r/initramfs
else
	obj=$b/obj-check
	frags=("$top/workbench/kconfig/trim.config" "$top/workbench/kconfig/base.config"
	       "$top/workbench/kconfig/check.config")
	: "${WB_TIMEOUT:=3600}"
	# Two guests at once (see CHECK_SPLIT), side by side in 24 GiB.
	: "${WB_MEM:=10G}"
	export WB_MEM
	flavour=" (check: lockdep, DEBUG_VM, kmemleak)"
	r=$b
fi
export WB_TIMEOUT
mkdir -p "$r"
log=$r/check.log
rel=${r#"$top"/}
: > "$log"
# Each stage's wall time, one "NAME<tab>SECONDS" line per stage (the boots
# of make check DEBUG=1 write theirs from two subshells at once), turned
# into times.json at the end.
times=$r/times.tsv
: > "$times"

harness=()
if [ -f "$top/tools/testing/gmem_track/Makefile" ]; then
	harness=(1)
fi

# make check and make check DEBUG=1 split the first boot's tests between
# two guests that run at the same time, one per core (TCG runs a guest on
# one host thread): the second guest runs the tests whose names contain
# one of the names here, the first the rest of tests.list and collects the
# KUnit suites; the boot with a reservation follows in the lane that is
# shorter without it (rsv_lane). conversion_test's 1 GiB backends take
# most of a run, so each guest gets one of them; the split is chosen so
# that both lanes take about as long (times.tsv of a run has each boot's
# time). Each guest ends with its own kmemleak scan. ONLY= runs one guest.
DEBUG_SPLIT=gmem/conversion_test/tracked,gmem/conversion_test/upstream,gmem-bench/check,kvm/guest_memfd_test,kvm/pre_fault_memory_test,kvm/x86/private_mem_conversions_test,kvm/x86/private_mem_kvm_exits_test
CHECK_SPLIT=gmem/conversion_test/tracked,gmem/conversion_test/upstream,gmem-bench/check,kvm/x86/,kvm/guest_memfd_test,kvm/pre_fault_memory_test,kvm/set_memory_region_test/default
split=
rsv_lane=2
if [ -z "${ONLY:-}" ]; then
	if [ "${DEBUG:-0}" = 1 ]; then
		split=$DEBUG_SPLIT
	else
		split=$CHECK_SPLIT
		rsv_lane=1
	fi
fi

if [ "$mode" = shell ]; then
	total=5
elif [ -n "$split" ]; then
	total=$((10 + ${#harness[@]}))
else
	total=$((9 + ${#harness[@]}))
fi

# The second boot: a gmem_track reservation of 2 GiB in 2M chunks and
# 2 GiB in 1G chunks, and four bad items that must be reported and
# skipped (tools/testing/selftests/gmem_track/reserve_test.c checks both).
# The 2M item comes first and the kernel image stays low (nokaslr), so
# that its chunks form one run holding a 1 GiB-aligned GiB
# (gmem_track_test's reserve_1g_map needs one). The log buffer keeps the
# early messages until the test reads them. The default backend is set on
# the command line here, a bad value first (reserve_test checks both, then
# sets it back to none; the tests before it name their backends).
RESERVE_ARGS="gmem_track.reserve=2G:2M,2G:1G,3M:2M,1G:4M,1G:1G@9,abc:1G nokaslr log_buf_len=4M gmem_track.default_backend=bogus gmem_track.default_backend=structpage-1g"
# The first boot of each guest: 1 GiB chunks reserved, so that no 1 GiB
# case depends on the buddy allocator still having a free GiB late in the
# run. Tracked files take them first, struct-page files when the buddy
# allocator has none. The cases that take 1 GiB from the buddy allocator on
# purpose, to keep that path tested, run in the boot with a reservation
# (vmemmap_test, see tests-reserve.list) or are named in
# expected-skips.list (KUnit's, which run at boot).
# 4 GiB: a reserved chunk hit by a memory error stays out of use for the
# rest of the boot, and the last test, poison, hits two tracked 1 GiB
# files and two struct-page ones, which take the reservation once the
# buddy allocator has no free GiB left.
first_args=(gmem_track.reserve=4G:1G)
i=0
t0=$(date +%s)

elapsed() {
	local s=$1
	if [ "$s" -ge 60 ]; then
		printf '%dm%02ds' $((s / 60)) $((s % 60))
	else
		printf '%ds' "$s"
	fi
}

. "$top/workbench/progress.sh"
trap progress_stop EXIT

# stage NAME CMD...: run one stage, output to the log, one progress line.
# If the array watch is set, it holds progress.py's arguments for the stage.
watch=()
stage() {
	local name=$1 s rc
	shift
	i=$((i + 1))
	printf '[%d/%d] %s … ' "$i" "$total" "$name"
	echo "=== [$i/$total] $name" >> "$log"
	s=$(date +%s)
	if [ ${#watch[@]} -gt 0 ]; then
		progress_start "[$i/$total] $name … " "${watch[@]}" --label "[$i/$total] ${name%% (*}"
		watch=()
	fi
	set +e
	"$@" >> "$log" 2>&1
	rc=$?
	set -e
	s=$(($(date +%s) - s))
	progress_stop
	printf '%s\t%d\n' "$name" "$s" >> "$times"
	echo "$(elapsed $s)"
	if [ $rc -ne 0 ]; then
		echo "FAILED: $name (exit $rc); last lines of $rel/check.log:"
		tail -n 40 "$log" | sed 's/^/  | /'
		exit 1
	fi
}

stage "packages" bash workbench/deps.sh
if [ "$mode" = check ]; then
	stage "result aggregator self-test" bash workbench/tests/run.sh
fi
stage "kernel source ($SRC_PKG)" bash workbench/source.sh
stage "work tree (patches + overlay)" bash workbench/tree.sh
if [ "$mode" = check ] && [ ${#harness[@]} -gt 0 ]; then
	# A failing harness is reported with the other results, not fatal here.
	stage "userspace harness" bash -c 'bash workbench/harness.sh "$1" || true' _ "$r/harness.tap"
fi
watch=(build "$obj")
stage "kernel build$flavour (ccache)" bash workbench/kbuild.sh "$obj" "${frags[@]}"
stage "selftests + initramfs" bash workbench/initramfs.sh "$obj" "$r/initramfs.cpio.gz"

# page_owner's dump is one of the PFN walkers the tests run over private
# memory. It records a stack per allocation, which makes the check run's
# 1 GiB tests several times slower under TCG, so only the debug run boots
# with it.
extra=()
scale=1
if [ "${DEBUG:-0}" = 1 ]; then
	# KASAN, lockdep and DEBUG_PAGEALLOC make every test several times
	# slower under TCG: each test binary gets four times its budget of
	# tests.list.
	scale=4
	extra+=(page_owner=on "wb.tmo_scale=$scale")
fi
# What progress.py needs to know of the tests' time limits.
limits=(--list workbench/tests.list --list workbench/tests-reserve.list --scale "$scale")
# Seconds of each concurrency stress test (per design and chunk size).
extra+=("wb.stress_secs=${STRESS_SECS:-$([ "${DEBUG:-0}" = 1 ] && echo 60 || echo 15)}")
rsv_extra=("${extra[@]}")
if [ -n "${ONLY:-}" ]; then
	extra+=("wb.only=$ONLY")
fi
if [ "$mode" = shell ]; then
	echo "booting $obj/arch/x86/boot/bzImage; 'poweroff -f' to leave"
	exec bash workbench/qemu.sh shell "$obj/arch/x86/boot/bzImage" \
		"$r/initramfs.cpio.gz" "${extra[@]}"
fi

# boot WHAT SUFFIX [cmdline...]: one boot running tests, into
# build/[debug/]{console,results,qemu}SUFFIX.{log,tap,log}; returns QEMU's exit.
# The boots of two guests at a time (lane=1) write to a file: their
# progress is shown for both at once, below.
lane=0
boot() {
	local what=$1 sfx=$2 s rc
	shift 2
	i=$((i + 1))
	printf '[%d/%d] %s in QEMU … ' "$i" "$total" "$what"
	s=$(date +%s)
	if [ $lane = 0 ]; then
		progress_start "[$i/$total] $what in QEMU … " guest --label "[$i/$total] $what" \
			--lane guest "$r/console$sfx.log" "$r/results$sfx.tap" "${limits[@]}"
	fi
	set +e
	bash workbench/qemu.sh check "$obj/arch/x86/boot/bzImage" "$r/initramfs.cpio.gz" \
		"$r/console$sfx.log" "$r/results$sfx.tap" "$@" > "$r/qemu$sfx.log" 2>&1
	rc=$?
	set -e
	progress_stop
	cat "$r/qemu$sfx.log" >> "$log"
	s=$(($(date +%s) - s))
	printf '%s\t%d\n' "$what" "$s" >> "$times"
	echo "$(elapsed $s)"
	if [ $rc -ne 0 ]; then
		echo "QEMU exited with $rc:"
		tail -n 45 "$r/qemu$sfx.log" | sed 's/^/  | /'
	fi
	return $rc
}

reserve_boot() {
	# shellcheck disable=SC2086
	boot "boot with a reservation + tests" -reserve "${rsv_extra[@]}" \
		$RESERVE_ARGS wb.list=reserve wb.only=reserve
}

qrc=0
guests=(--guest "$r/results.tap" --console "$r/console.log")
rsv_guest=()
rsv_tests="gmem_track/reserve_test kunit/gmem_track_reserve kvm/x86/gmem_track_test/reserve_1g_map gmem_track/vmemmap_test/1g_after_reserve_test"
# Is a test of the boot with a reservation among ONLY's names (or no ONLY)?
wants_reserve() {
	local name names

	[ -n "${ONLY:-}" ] || return 0
	IFS=, read -ra names <<< "$ONLY"
	for name in "${names[@]}"; do
		if [ -n "$name" ] && [[ "$rsv_tests" == *"$name"* ]]; then
			return 0
		fi
	done
	return 1
}
if [ -n "$split" ]; then
	echo "[$((i + 1))-$((i + 3))/$total] boots in QEMU, two guests at a time:"
	rm -f "$r/results-reserve.tap" "$r/console-reserve.log"
	# A kernel that died in a guest's tests would die in the reservation
	# boot too.
	i0=$i
	third_boot() {
		i=$((i0 + 2))
		reserve_boot
	}
	rsv1=true rsv2=true
	if [ $rsv_lane = 1 ]; then
		rsv1=third_boot
		then1=(--then "reservation boot" "$r/console-reserve.log" "$r/results-reserve.tap")
		then2=()
	else
		rsv2=third_boot
		then1=()
		then2=(--then "reservation boot" "$r/console-reserve.log" "$r/results-reserve.tap")
	fi
	(lane=1 prog=
	 boot "first guest: tests.list but the second's, KUnit" "" \
		"${extra[@]}" "${first_args[@]}" "wb.skip=$split" &&
		$rsv1) > "$r/lane-1.out" 2>&1 &
	lane1=$!
	(i=$((i + 1)) lane=1 prog=
	 boot "second guest: ${split//,/ }" -2 "${extra[@]}" "${first_args[@]}" \
		"wb.only=$split" &&
		$rsv2) > "$r/lane-2.out" 2>&1 &
	lane2=$!
	progress_start "" guest --label "" "${limits[@]}" \
		--lane "guest 1" "$r/console.log" "$r/results.tap" "${then1[@]}" \
		--lane "guest 2" "$r/console-2.log" "$r/results-2.tap" "${then2[@]}"
	wait $lane1 || qrc=$?
	wait $lane2 || qrc=$?
	progress_stop
	sed 's/^/  /' "$r/lane-1.out" "$r/lane-2.out"
	i=$((i + 3))
	guests+=(--guest "$r/results-2.tap" --console "$r/console-2.log")
	if [ -f "$r/results-reserve.tap" ]; then
		rsv_guest=(--guest "reserve-boot=$r/results-reserve.tap"
			   --console "$r/console-reserve.log")
	else
		echo "  boot with a reservation: not run"
	fi
else
	boot "boot + tests" "" "${extra[@]}" "${first_args[@]}" || qrc=$?
	# Only if the first boot finished: a kernel that dies there would
	# die here.
	if [ $qrc -eq 0 ] && wants_reserve; then
		reserve_boot || qrc=$?
		rsv_guest=(--guest "reserve-boot=$r/results-reserve.tap"
			   --console "$r/console-reserve.log")
	else
		i=$((i + 1))
		echo "[$i/$total] boot with a reservation: not run"
	fi
fi

total_s=$(($(date +%s) - t0))
# The stage times are for people: a failure to write them fails nothing.
python3 workbench/times.py "$times" "$r/times.json" "$total_s" \
	"$([ "${DEBUG:-0}" = 1 ] && echo debug || echo check)" 2>&1 | tee -a "$log" || true
i=$((i + 1))
echo "[$i/$total] results (total $(elapsed $(($(date +%s) - t0))); logs: $rel/check.log, $rel/console.log, $rel/results.tap)"
args=("${guests[@]}" "${rsv_guest[@]}"
      --summary "$r/summary.txt" --reliability "$r/reliability.json"
      --label "$([ "${DEBUG:-0}" = 1 ] && echo debug || echo check)"
      --expected-skips "$top/workbench/expected-skips.list")
if [ ${#harness[@]} -gt 0 ]; then
	args+=(--tap "harness=$r/harness.tap")
fi
set +e
python3 workbench/tap-summary.py "${args[@]}" 2>&1 | tee -a "$log"
rc=${PIPESTATUS[0]}
set -e
[ $qrc -eq 0 ] || rc=1
exit $rc
