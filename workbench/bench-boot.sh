#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench's boot comparison: boot the same kernel and initramfs with the
# same guest memory five ways and record what each boot leaves
# (MemTotal, MemFree, nr_memmap_boot_pages, nr_memmap_pages), one JSON
# object per boot in OUTDIR/<name>.json:
#
#   plain           no reservation
#   hugetlb         N HugeTLB 1G pages, HVO off
#   hugetlb-hvo     N HugeTLB 1G pages, HVO on (vmemmap optimised at boot)
#   gmem_track      gmem_track.reserve=NG:1G
#   gmem_track-2x   gmem_track.reserve=2NG:1G, for the cost per GiB
#
# KUnit is off in these boots so that they do nothing but boot.
# Usage: bench-boot.sh BZIMAGE INITRD OUTDIR N
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
kernel=$1
initrd=$2
out=$3
n=$4
mkdir -p "$out"
rm -f "$out"/*.json

boots=(
	"plain|"
	"hugetlb|hugepagesz=1G hugepages=$n hugetlb_free_vmemmap=off"
	"hugetlb-hvo|hugepagesz=1G hugepages=$n hugetlb_free_vmemmap=on"
	"gmem_track|gmem_track.reserve=${n}G:1G"
	"gmem_track-2x|gmem_track.reserve=$((2 * n))G:1G"
)
for b in "${boots[@]}"; do
	name=${b%%|*}
	args=${b#*|}
	s=$(date +%s)
	# shellcheck disable=SC2086
	WB_TIMEOUT=600 bash "$top/workbench/qemu.sh" bootstat "$kernel" "$initrd" \
		"$out/$name.console" "$out/$name.raw" kunit.enable=0 $args
	if grep -aqE 'Oops|BUG:|WARNING:|KASAN|Call Trace' "$out/$name.console"; then
		echo "bench-boot: $name: the kernel reported a problem; see $out/$name.console" >&2
		exit 1
	fi
	if ! tr -d '\r' < "$out/$name.raw" | grep -a '^{' > "$out/$name.json"; then
		echo "bench-boot: $name: no figures came back; see $out/$name.console" >&2
		exit 1
	fi
	echo "bench-boot: $name ($args): $(cat "$out/$name.json") in $(($(date +%s) - s))s"
done
