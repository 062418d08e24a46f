#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench: build the patched kernel, boot it once and run tools/gmem-bench
# over every guest_memfd design, once more on one vCPU for the conversion
# loops alone, boot it five more ways to compare what a
# boot reservation costs (workbench/bench-boot.sh), then write
# build/bench/{results.json,results.md,overhead.svg,latency.svg} and print
# the tables.
# Environment: SIZE (guest_memfd size per design, default 2G),
#              SIZES (a size sweep instead, e.g. 1G,2G,4G,8G: every design
#              at each size in one boot with gmem_track.reserve= of the
#              largest size in 1G chunks, for tracked-1g, and a guest of
#              max(12, 2 x largest + 4) GiB unless WB_MEM says otherwise;
#              adds build/bench/scaling.svg),
#              BENCH_ARGS (more gmem-bench arguments, e.g. --quick),
#              PERF=1 (also build perf from the tree and save perf stat
#              counts of gmem_track:* and a perf record profile of the
#              conversions under build/bench/perf/),
#              WB_TIMEOUT (seconds before the guest counts as hung).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/workbench/config.sh"
cd "$top"
b=$top/build
out=$b/bench
# The bench kernel: no debugging at all (timings on a lockdep kernel mean
# nothing), the check kernel's trimmed drivers, its own object directory.
obj=$b/obj-bench
log=$b/bench.log
mkdir -p "$out"
: > "$log"
if [ -n "${SIZES:-}" ] && [ -n "${SIZE:-}" ]; then
	echo "bench: SIZE= and SIZES= exclude each other: SIZES=1G,2G,... alone runs a sweep"
	exit 1
fi
if [ -n "${SIZES:-}" ] && [ "${PERF:-0}" != 0 ]; then
	echo "bench: PERF=1 profiles one size: use it with SIZE=, not SIZES="
	exit 1
fi
: "${SIZE:=2G}"
: "${WB_TIMEOUT:=5400}"
export WB_TIMEOUT
t0=$(date +%s)
. "$top/workbench/progress.sh"
trap progress_stop EXIT

# step NAME CMD...: one stage, output to the log. If the array watch is
# set, it holds progress.py's arguments for the stage.
watch=()
step() {
	local name=$1 rc
	shift
	printf 'bench: %s … ' "$name"
	local s
	s=$(date +%s)
	if [ ${#watch[@]} -gt 0 ]; then
		progress_start "bench: $name … " "${watch[@]}" --label "${name%% (*}"
		watch=()
	fi
	set +e
	"$@" >> "$log" 2>&1
	rc=$?
	set -e
	s=$(($(date +%s) - s))
	progress_stop
	if [ $rc -ne 0 ]; then
		echo "failed; last lines of build/bench.log:"
		tail -n 30 "$log" | sed 's/^/  | /'
		exit 1
	fi
	echo "${s}s"
}

perf=${PERF:-0}
[ "$perf" = 0 ] || perf=1
if [ $perf = 1 ]; then
	step "packages" bash workbench/deps.sh libtraceevent-dev
else
	step "packages" bash workbench/deps.sh
fi
step "kernel source" bash workbench/source.sh
step "work tree" bash workbench/tree.sh
watch=(build "$obj")
step "bench kernel build (ccache)" bash workbench/kbuild.sh "$obj" \
	"$top/workbench/kconfig/trim.config" "$top/workbench/kconfig/base.config"
extra=()
serial3=
if [ $perf = 1 ]; then
	step "perf (tools/perf)" bash workbench/perf.sh "$b/perf"
	export WB_PERF=$b/perf/perf
	# The bench boot's third serial port only: qemu.sh empties the file
	# for every boot it is given to, bench-boot.sh's five too.
	serial3=$out/perf.b64
	extra=(wb.perf=1)
	rm -rf "$out/perf"
fi
step "gmem-bench + initramfs" bash workbench/initramfs.sh "$obj" "$b/initramfs.cpio.gz"

# bytes SIZE: a size with an optional K, M, G or T suffix in bytes.
bytes() {
	python3 -c 'import sys; s = sys.argv[1].upper().rstrip("B").rstrip("I"); m = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}; print(int(s[:-1]) * m[s[-1]] if s[-1] in m else int(s))' "$1" 2>/dev/null
}

# One word on the kernel command line: ";" stands for a space.
args="--size;$SIZE"
boot_size=$SIZE
if [ -n "${SIZES:-}" ]; then
	# The sweep: the largest size decides the reservation and the guest.
	largest=0
	for s in ${SIZES//,/ }; do
		n=$(bytes "$s") || { echo "bench: bad size '$s' in SIZES=$SIZES"; exit 1; }
		[ "$n" -gt "$largest" ] && largest=$n
	done
	rsv=$(((largest + (1 << 30) - 1) >> 30))
	# tracked-1g takes the reservation; the other designs the rest, with
	# room for the kernel, the 2 GiB below 4 GiB that hold no whole free
	# 1 GiB block, and fragmentation.
	if [ -z "${WB_MEM:-}" ]; then
		mem=$((2 * rsv + 4))
		[ $mem -ge 12 ] || mem=12
		WB_MEM=${mem}G
	fi
	export WB_MEM
	mem_g=$(($(bytes "$WB_MEM") >> 30))
	host_g=$(awk '$1 == "MemTotal:" { print int($2 / 1048576 * 10) / 10 }' /proc/meminfo)
	# The host keeps 3 GiB, and QEMU itself takes about half a GiB.
	if ! awk -v m="$mem_g" -v h="$host_g" 'BEGIN { exit !(m + 3.5 <= h) }'; then
		echo "bench: SIZES=$SIZES needs a ${mem_g} GiB guest, more than this host's $host_g GiB can give while keeping 3 GiB (see README, make bench)"
		exit 1
	fi
	args="--sizes;$SIZES"
	extra+=("gmem_track.reserve=${rsv}G:1G")
	boot_size=${rsv}G
	echo "bench: sweep $SIZES in one boot: ${WB_MEM} guest, gmem_track.reserve=${rsv}G:1G"
fi
for a in ${BENCH_ARGS:-}; do
	args="$args;$a"
done
echo "bench: booting; gmem-bench ${args//;/ } (progress below)"
rm -f "$out/raw.json" "$out/console.log"
WB_SERIAL3=$serial3 bash workbench/qemu.sh bench \
	"$obj/arch/x86/boot/bzImage" "$b/initramfs.cpio.gz" \
	"$out/console.log" "$out/raw.json" "wb.bench=$args" "${extra[@]}" \
	>> "$log" 2>&1 &
qpid=$!
# Follow the guest's progress lines while it runs.
progress_start "" bench "$out/console.log" --timeout "$WB_TIMEOUT"
set +e
wait $qpid
qrc=$?
set -e
progress_stop
if [ $qrc -ne 0 ] || ! [ -s "$out/raw.json" ]; then
	echo "bench: the guest run failed (qemu exit $qrc); console tail:"
	tail -n 40 "$out/console.log" | sed 's/^/  | /'
	exit 1
fi
if grep -aqE 'Oops|BUG:|WARNING:|KASAN|possible circular|kmemleak' "$out/console.log"; then
	echo "bench: the kernel reported a problem; see build/bench/console.log"
	exit 1
fi
# A design whose file could not be allocated is reported as such; with
# none measured there is nothing to report, and no reason to boot again.
python3 workbench/bench-report.py --any-measured "$out/raw.json"

# The conversion loops again on one vCPU: a kernel TLB flush then sends no
# IPI, which under TCG waits for the other vCPU's turn on the one thread.
# The report puts the two beside each other (raw.json's "one_vcpu").
# Not for a sweep: the loops do not depend on the size.
rm -f "$out/raw-1vcpu.json"
if [ -z "${SIZES:-}" ]; then
	step "conversions on 1 vCPU" env WB_SMP=1 bash workbench/qemu.sh \
		bench "$obj/arch/x86/boot/bzImage" "$b/initramfs.cpio.gz" \
		"$out/console-1vcpu.log" "$out/raw-1vcpu.json" \
		"wb.bench=$args;--phases;convert4k,convert2m,bulk"
	if grep -aqE 'Oops|BUG:|WARNING:|KASAN|possible circular|kmemleak' \
			"$out/console-1vcpu.log"; then
		echo "bench: the kernel reported a problem; see build/bench/console-1vcpu.log"
		exit 1
	fi
	python3 workbench/bench-report.py --merge-one-vcpu "$out/raw.json" \
		"$out/raw-1vcpu.json"
fi

# The boot comparison reserves SIZE (a sweep's largest size) rounded down
# to whole GiB, at least 1, in the same guest memory as the bench boot.
gib=$(($(bytes "$boot_size") >> 30))
[ "$gib" -ge 1 ] || gib=1
step "boot comparison (5 boots, ${gib} GiB reserved)" bash workbench/bench-boot.sh \
	"$obj/arch/x86/boot/bzImage" "$b/initramfs.cpio.gz" "$out/boot" "$gib"
echo
python3 workbench/bench-report.py "$out/raw.json" "$out" "$out/boot"
echo
files="build/bench/results.{json,md}, overhead.svg, latency.svg"
[ -z "${SIZES:-}" ] || files="$files, scaling.svg"
if [ $perf = 1 ]; then
	if ! tr -d '\r' < "$out/perf.b64" | base64 -d | tar -C "$out" -xz; then
		echo "bench: no perf results came back; see build/bench/console.log"
		exit 1
	fi
	if grep -aq 'gmem-bench: perf .* failed' "$out/console.log"; then
		echo "bench: a perf run failed; see build/bench/console.log:"
		grep -a 'gmem-bench: perf .* failed' "$out/console.log" | sed 's/^/  | /'
		exit 1
	fi
	python3 workbench/perf-report.py "$out/perf"
	echo
	files="$files, perf/"
fi
echo "bench: done in $(($(date +%s) - t0))s: $files"
