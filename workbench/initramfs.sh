#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the selftests named in config.sh from the work tree and pack the
# guest's initramfs: busybox, init, the test list and every binary it names.
# Usage: initramfs.sh OBJDIR OUT.cpio.gz
# Environment: WB_SELFTESTS, WB_INITRAMFS_ROOT: where the selftests are
#              built and the initramfs is assembled (build/selftests,
#              build/initramfs);
#              WB_PERF, a perf binary to add as /usr/bin/perf with the
#              shared libraries it needs (make bench PERF=1).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/workbench/config.sh"
work=$top/build/src/work
obj=$1
out=$2
st=${WB_SELFTESTS:-$top/build/selftests}
root=${WB_INITRAMFS_ROOT:-$top/build/initramfs}

# The selftests' makefiles do not know that the binaries depend on the
# kernel's uapi headers: when those change (a flag of linux/kvm.h), build
# everything again rather than run binaries built against the old ones.
stamp=$(cd "$obj/usr-hdr/include" && find . -type f -print0 | sort -z |
	xargs -0 sha1sum | sha1sum | cut -d' ' -f1)
if [ "$(cat "$st/.khdr" 2>/dev/null)" != "$stamp" ]; then
	rm -rf "$st"
	mkdir -p "$st"
fi
for d in $SELFTEST_DIRS; do
	mkdir -p "$st/$d"
	make -s -C "$work/tools/testing/selftests/$d" -j"$(nproc)" \
		OUTPUT="$st/$d" KHDR_INCLUDES="-isystem $obj/usr-hdr/include" \
		EXTRA_CFLAGS=-static LDFLAGS="-static -pthread" >/dev/null
done
# gmem-bench is a tool, not a selftest; make check runs its self-check.
mkdir -p "$st/gmem-bench"
make -s -C "$work/tools/gmem-bench" OUTPUT="$st/gmem-bench" \
	KHDR_INCLUDES="-isystem $obj/usr-hdr/include" >/dev/null
# Its guest-side test of a design that cannot be allocated (tests.list).
install -m 755 "$top/workbench/initramfs/gmem-bench-unmeasured" \
	"$st/gmem-bench/unmeasured"
# The runs of upstream's tests on a default backend (tests.list).
install -m 755 "$top/workbench/initramfs/on-default-backend" \
	"$st/on-default-backend"
# ... and with the PRIVATE attribute held by the VM (tests.list).
install -m 755 "$top/workbench/initramfs/on-vm-attributes" \
	"$st/on-vm-attributes"
echo "$stamp" > "$st/.khdr"

rm -rf "$root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,etc,tests}
cp /bin/busybox "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
cp "$top/workbench/initramfs/init" "$root/init"
# tests.list for the first boot, tests-NAME.list for the boot with wb.list=NAME.
for l in "$top"/workbench/tests.list "$top"/workbench/tests-*.list; do
	n=$(basename "$l" .list)
	n=${n#tests}
	n=${n#-}
	grep -v '^[[:space:]]*#' "$l" | grep -v '^[[:space:]]*$' \
		> "$root/tests/list${n:+.$n}" || true
done

# Every /tests/ program a command names: the first word, and those a
# wrapper (on-default-backend, on-vm-attributes) runs.
cat "$root"/tests/list* | while read -r name tmo cmd; do
	for bin in $cmd; do
		case "$bin" in
		/tests/*) ;;
		*) continue ;;
		esac
		rel=${bin#/tests/}
		if [ ! -x "$st/$rel" ]; then
			echo "initramfs: $name needs $rel, which was not built in build/selftests" >&2
			exit 1
		fi
		mkdir -p "$root/tests/$(dirname "$rel")"
		cp "$st/$rel" "$root/tests/$rel"
	done
done
mkdir -p "$root/tests/gmem-bench"
cp "$st/gmem-bench/gmem-bench" "$root/tests/gmem-bench/gmem-bench"
if [ -n "${WB_PERF:-}" ]; then
	cp "$WB_PERF" "$root/usr/bin/perf"
	# The dynamic loader and each library at the path ldd resolved.
	for lib in $(ldd "$WB_PERF" | grep -o '/[^ ]*'); do
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
fi

(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) | gzip -1 > "$out"
echo "initramfs: $(wc -l < "$root/tests/list") tests, $(du -h "$out" | cut -f1)"
