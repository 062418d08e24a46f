#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Configure and build the kernel out of tree.
# Usage: kbuild.sh OBJDIR [fragment ...]
# The source tree is build/src/work, or $WB_SRC (make series CHECK=1 builds
# the tree of each commit of the series). WB_MODULES=1 builds the modules
# too, so that modpost checks every symbol they use is exported;
# WB_DEFCONFIG names the configuration the fragments go on top of
# (x86_64_defconfig; make series CHECK=1 starts from allnoconfig).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
work=${WB_SRC:-$top/build/src/work}
obj=$1
shift
# kvm_guest.config names symbols of every architecture; only our own
# fragments are checked symbol by symbol.
ours=("$@")
frags=("$work/kernel/configs/kvm_guest.config" "${ours[@]}")

export CCACHE_DIR=$top/build/ccache
export CCACHE_MAXSIZE=5G
export KBUILD_BUILD_TIMESTAMP='2026-01-01'
export KBUILD_BUILD_USER=gmem_track KBUILD_BUILD_HOST=workbench
jobs=$(nproc)
mk=(make -s -C "$work" O="$obj" CC="ccache gcc" -j"$jobs")
mkdir -p "$obj"

# One kernel build at a time: two makes in one tree corrupt each other.
exec 9> "$obj/.wb-lock"
if ! flock -n 9; then
	echo "kbuild: another build of $obj is running" >&2
	exit 1
fi

# Generate the config aside and install it only when it changed, so an
# unchanged config does not disturb the incremental build.
cfg=$obj/.config.wb
rm -rf "$obj/.cfgtmp"
mkdir -p "$obj/.cfgtmp"
make -s -C "$work" O="$obj/.cfgtmp" "${WB_DEFCONFIG:-x86_64_defconfig}" >/dev/null
"$work/scripts/kconfig/merge_config.sh" -m -O "$obj/.cfgtmp" \
	"$obj/.cfgtmp/.config" "${frags[@]}" >/dev/null
make -s -C "$work" O="$obj/.cfgtmp" olddefconfig >/dev/null
cp "$obj/.cfgtmp/.config" "$cfg"
rm -rf "$obj/.cfgtmp"

bad=0
for f in "${ours[@]}"; do
	while IFS= read -r line; do
		case "$line" in
		CONFIG_*=*)
			sym=${line%%=*}
			if ! grep -qx "$line" "$cfg"; then
				got=$(grep -E "^$sym=|^# $sym is not set" "$cfg" || echo "$sym absent")
				echo "kbuild: $(basename "$f") asks for $line, Kconfig gave: $got" >&2
				bad=1
			fi
			;;
		"# CONFIG_"*" is not set")
			sym=${line#\# }
			sym=${sym%% *}
			if grep -q "^$sym=" "$cfg"; then
				echo "kbuild: $(basename "$f") asks for $sym off, Kconfig set it" >&2
				bad=1
			fi
			;;
		esac
	done < "$f"
done
if [ $bad -ne 0 ]; then
	echo "kbuild: Kconfig dropped requested symbols (missing dependency?)" >&2
	exit 1
fi

# Nothing to do when the last build of this object directory succeeded
# with this configuration and nothing in the work tree changed since it
# started (the selftests, gmem-bench and Documentation/ aside, which the
# kernel does not build from): make would take 20-30 s on two cores to
# find that out, find takes one. .wb-built holds what the build was asked for; its mtime is
# the build's start, so that an edit made during a build is seen.
built=$obj/.wb-built
want="src=$work modules=${WB_MODULES:-0}"
if [ -f "$obj/arch/x86/boot/bzImage" ] && [ -f "$built" ] &&
   [ "$(cat "$built")" = "$want" ] && cmp -s "$cfg" "$obj/.config" &&
   [ -z "$(find "$work" \( -path "$work/tools/testing" -o \
	     -path "$work/tools/gmem-bench" -o -path "$work/Documentation" \) \
	     -prune -o -newer "$built" -print -quit)" ]; then
	echo "kbuild: $obj is up to date"
	exit 0
fi
rm -f "$built"
touch "$built.start"

if ! cmp -s "$cfg" "$obj/.config"; then
	cp "$cfg" "$obj/.config"
fi
"${mk[@]}" olddefconfig >/dev/null
"${mk[@]}" bzImage
if [ "${WB_MODULES:-0}" = 1 ]; then
	"${mk[@]}" modules
fi
"${mk[@]}" headers_install INSTALL_HDR_PATH="$obj/usr-hdr" >/dev/null
echo "$want" > "$built"
touch -r "$built.start" "$built"
rm -f "$built.start"
# The number of objects this configuration builds: the next build's
# progress line counts against it (workbench/progress.py).
if n=$(python3 "$top/workbench/progress.py" count "$obj"); then
	echo "$n" > "$obj/.wb-objects"
fi
