#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make series CHECK=1, after make series has written build/series/: apply
# its patches one by one to a copy of the pristine tree (build/series/src)
# and build after each:
#  - the kernel (workbench/kbuild.sh, ccache) with CONFIG_GMEM_TRACK=y and
#    KVM modular (CONFIG_KVM=m, CONFIG_KVM_AMD=m: modpost then finds any
#    symbol kvm.ko uses that is not exported), and with CONFIG_GMEM_TRACK
#    off and KVM built in, as make check builds it, in build/series/obj/y
#    and build/series/obj/n; before the patch that adds
#    mm/gmem_track/Kconfig the gmem_track symbols do not exist and only
#    the first build is made; both start from allnoconfig with
#    series-min.config, not from x86_64_defconfig, so that the drivers,
#    sound and most of the networking no patch touches or serves are not
#    built (CONFIG_GMEM_TRACK=y with KVM built in, make check's
#    combination, is built for the last patch only: nothing in the series
#    depends on whether KVM is a module);
#  - the selftests, harness or tool directories a patch changes.
# Stops at the first patch that does not apply or build, and names it.
# With every patch built, runs make check on build/src/work, which the
# last patch equals (make series checked that).
# Environment: SERIES_N=0 skips the CONFIG_GMEM_TRACK=n builds.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/workbench/config.sh"
cd "$top"
out=$top/build/series
src=$out/src
obj=$out/obj
pristine=$top/build/src/pristine
base=$top/workbench/kconfig/base.config
min=$top/workbench/kconfig/series-min.config
log=$out/check.log
: > "$log"

series=("$out"/[0-9][0-9][0-9][0-9]-*.patch)
series=("${series[@]:1}")
[ ${#series[@]} -gt 0 ] || { echo "series-check: run make series first" >&2; exit 1; }

t0=$(date +%s)
since() {
	local s=$(($(date +%s) - $1))
	printf '%dm%02ds' $((s / 60)) $((s % 60))
}

echo "series-check: copying the pristine tree"
rm -rf "$src"
cp -al "$pristine" "$src"
mkdir -p "$obj"

# The fragment for one build: base.config less the symbols the tree does
# not define yet; for "y", KVM and KVM_AMD as modules; for "n", every
# gmem_track symbol off.
fragment() {
	local flavour=$1 f=$2 line sym syms
	syms=$(find "$src" -name 'Kconfig*' -type f -print0 |
		xargs -0 grep -hoE '^[[:space:]]*(menu)?config [A-Za-z0-9_]+' |
		awk '{ print "CONFIG_" $2 }' | sort -u)
	: > "$f"
	while IFS= read -r line; do
		case "$line" in
		CONFIG_*=*) sym=${line%%=*} ;;
		"# CONFIG_"*" is not set") sym=${line#\# }; sym=${sym%% *} ;;
		*) continue ;;
		esac
		if ! grep -qx "$sym" <<< "$syms"; then
			continue
		fi
		if [ "$flavour" = n ] && [[ "$sym" == CONFIG_GMEM_TRACK* ]]; then
			if [ "$sym" = CONFIG_GMEM_TRACK ]; then
				echo "# CONFIG_GMEM_TRACK is not set" >> "$f"
			fi
			continue
		fi
		if [ "$flavour" = y ] && { [ "$line" = CONFIG_KVM=y ] ||
				[ "$line" = CONFIG_KVM_AMD=y ]; }; then
			line=${line%=y}=m
		fi
		echo "$line" >> "$f"
	done < "$base"
}

fail() {
	echo "series-check: FIRST BROKEN: $1" | tee -a "$log"
	echo "series-check: $2 (log: $log)"
	tail -n 30 "$log" | sed 's/^/  | /'
	exit 1
}

i=0
for p in "${series[@]}"; do
	i=$((i + 1))
	name=$(basename "$p")
	s=$(date +%s)
	echo "== $name" >> "$log"
	files=$(sed -n -e 's#^+++ b/##p' -e 's#^--- a/##p' "$p" |
		sed -e 's/[[:space:]].*$//' -e '\#^/dev/null$#d' | sort -u)
	# Patched files get inodes of their own: the rest is shared with
	# the pristine tree, which must stay pristine.
	while IFS= read -r f; do
		if [ -f "$src/$f" ]; then
			cp -p "$src/$f" "$src/$f.wb-tmp"
			mv -f "$src/$f.wb-tmp" "$src/$f"
		fi
	done <<< "$files"
	if ! patch -s -F0 -p1 -d "$src" --no-backup-if-mismatch -r - < "$p" \
			>> "$log" 2>&1; then
		fail "$name" "does not apply"
	fi

	what=()
	if grep -qv -E '^(tools/|Documentation/|MAINTAINERS$)' <<< "$files"; then
		flavours=(y)
		if [ "${SERIES_N:-1}" = 1 ] && [ -f "$src/mm/gmem_track/Kconfig" ]; then
			flavours+=(n)
		fi
		for fl in "${flavours[@]}"; do
			fragment "$fl" "$obj/frag-$fl.config"
			mods=0
			if [ "$fl" = y ]; then mods=1; fi
			if ! WB_SRC=$src WB_MODULES=$mods \
					WB_DEFCONFIG=allnoconfig bash workbench/kbuild.sh \
					"$obj/$fl" "$obj/frag-$fl.config" "$min" \
					>> "$log" 2>&1; then
				fail "$name" "kernel build of flavour $fl failed"
			fi
			what+=("kernel($fl)")
		done
	fi
	hdr="-isystem $obj/y/usr-hdr/include"
	for d in $(grep -o -E '^tools/(testing/selftests/[^/]+|testing/gmem_track|gmem-bench)/' \
			<<< "$files" | sort -u); do
		d=${d%/}
		if [ ! -d "$obj/y/usr-hdr" ]; then
			fail "$name" "no kernel headers built to build $d against"
		fi
		mkdir -p "$obj/tools/$d"
		case "$d" in
		tools/testing/gmem_track)
			cmd=(make -s -C "$src/$d" -j"$(nproc)") ;;
		*)
			cmd=(make -s -C "$src/$d" -j"$(nproc)" OUTPUT="$obj/tools/$d"
			     KHDR_INCLUDES="$hdr") ;;
		esac
		if ! "${cmd[@]}" >> "$log" 2>&1; then
			fail "$name" "$d does not build"
		fi
		what+=("${d#tools/}")
	done
	echo "[$i/${#series[@]}] $name: ${what[*]:-nothing to build} ($(since "$s"))" | tee -a "$log"
done
flv="CONFIG_GMEM_TRACK=y with KVM=m and CONFIG_GMEM_TRACK=n with KVM=y"
if [ "${SERIES_N:-1}" != 1 ]; then flv="CONFIG_GMEM_TRACK=y with KVM=m"; fi
flv="$flv (allnoconfig + series-min.config)"
echo "series-check: every patch applies and builds with $flv ($(since "$t0"))"
cover=$out/0000-cover-letter.patch
sed -i "s/^- Build check: not run.*/- Build check: each of the ${#series[@]} patches applied and built on x86_64 with $flv/" "$cover"

# The last patch is build/src/work: make series compared them file by file.
if ! make check; then
	echo "series-check: make check failed on the last patch"
	exit 1
fi
sed -i "/^- Build check: /s/\$/; the last passed make check/" "$cover"
echo "series-check: every patch builds and the last passes make check ($(since "$t0"))"
