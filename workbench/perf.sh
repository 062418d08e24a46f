#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build perf from the work tree's tools/perf with the smallest feature set
# that still parses tracepoints (libtraceevent), for make bench PERF=1.
# perf links a dlfilter shared object and cannot be linked statically, so
# initramfs.sh copies the shared libraries ldd names next to it.
# Usage: perf.sh OUTDIR
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
work=$top/build/src/work
out=$1
mkdir -p "$out"

export CCACHE_DIR=$top/build/ccache
# No Rust: the perf test workload written in it does not build with
# Debian 12's rustc; the rest are libraries perf can do without here.
no=(NO_RUST=1 NO_LIBLLVM=1 NO_CAPSTONE=1 NO_LIBPYTHON=1 NO_LIBPERL=1
    NO_GTK2=1 NO_SLANG=1 NO_LIBUNWIND=1 NO_LIBDW=1 NO_LIBBPF=1 NO_JEVENTS=1
    NO_LIBCAP=1 NO_LIBNUMA=1 NO_BABELTRACE=1 NO_LIBZSTD=1 NO_LIBLZMA=1
    NO_LIBCRYPTO=1 NO_SHELLCHECK=1 NO_DEMANGLE=1)
make -s -C "$work/tools/perf" O="$out" CC="ccache gcc" -j"$(nproc)" \
	"${no[@]}" >/dev/null
# Without libtraceevent, perf cannot name tracepoints: gmem_track:* would
# be an error in the guest, so fail here instead.
if ! "$out/perf" version --build-options | grep -Eq 'libtraceevent: \[ on'; then
	echo "perf: built without libtraceevent (is libtraceevent-dev installed?)" >&2
	exit 1
fi
echo "perf: $("$out/perf" version)"
