#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot the workbench kernel under QEMU.
# Usage: qemu.sh check|bench BZIMAGE INITRD CONSOLE_LOG OUT [cmdline...]
#        qemu.sh shell BZIMAGE INITRD [cmdline...]
# check writes the TAP stream of the tests to OUT, bench the JSON of
# gmem-bench (see workbench/initramfs/init). WB_SERIAL3 names a file for a
# third serial port (make bench PERF=1).
#
# TCG only: the host's /dev/kvm cannot boot a normal kernel, and
# multi-threaded TCG has produced spurious oopses, so thread=single. The
# guest runs KVM itself on nested SVM with NPT.
set -euo pipefail

mode=$1
kernel=$2
initrd=$3
shift 3

: "${WB_MEM:=12G}"
: "${WB_SMP:=2}"
: "${WB_TIMEOUT:=1200}"

qemu=(qemu-system-x86_64 -M q35 -m "$WB_MEM" -smp "$WB_SMP"
      -cpu EPYC,+svm,+npt -accel tcg,thread=single
      -no-reboot -nic none -kernel "$kernel" -initrd "$initrd")
base="console=ttyS0 panic=-1 loglevel=7"

if [ "$mode" = shell ]; then
	exec "${qemu[@]}" -nographic -serial mon:stdio -serial null \
		-append "$base wb.mode=shell $*"
fi

console=$1
tap=$2
shift 2
rm -f "$console" "$tap"
extra=()
# A benchmark's guest memory is backed by the host from the start: QEMU
# otherwise faults it in on the guest's first write, which made the first
# allocation of each guest GiB (e.g. the first 1 GiB design's fallocate())
# pay several times the cost of every later one.
if [ "$mode" = bench ]; then
	extra+=(-mem-prealloc)
fi
if [ -n "${WB_SERIAL3:-}" ]; then
	rm -f "$WB_SERIAL3"
	extra+=(-serial "file:$WB_SERIAL3")
fi
set +e
# TCG names the EPYC features it cannot emulate, twice per boot: not news.
timeout -k 10 "$WB_TIMEOUT" "${qemu[@]}" -display none -monitor none \
	-serial "file:$console" -serial "file:$tap" "${extra[@]}" \
	-append "$base wb.mode=$mode $*" < /dev/null 2>&1 |
	grep -v "TCG doesn't support requested feature" >&2
rc=${PIPESTATUS[0]}
set -e
if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
	echo "qemu: guest hung: killed after ${WB_TIMEOUT}s (WB_TIMEOUT); console tail:" >&2
	tail -n 40 "$console" >&2
	exit 3
fi
exit $rc
