#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Make build/src/work = pristine + patches/ + overlay.
#
# The work tree is a hard-link copy of the pristine tree made once. On every
# run the files that patches/ or the overlay touch (now or last time) are
# rebuilt in a staging directory and copied into the work tree only when
# their content changed, so unchanged files keep their mtime and an
# incremental kernel build recompiles only what really changed. Files are
# replaced, never written through, so the pristine tree stays pristine.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/workbench/config.sh"

pristine=$top/build/src/pristine
work=$top/build/src/work
stage=$top/build/src/stage
touched=$top/build/src/touched

if [ ! -f "$work/Makefile" ]; then
	rm -rf "$work"
	cp -al "$pristine" "$work"
	: > "$touched"
fi

patches=()
for p in "$top"/patches/*.patch; do
	if [ -e "$p" ]; then patches+=("$p"); fi
done

list=$(mktemp)
trap 'rm -f "$list"' EXIT
{
	if [ -f "$touched" ]; then cat "$touched"; fi
	for p in "${patches[@]}"; do
		sed -n -e 's#^+++ b/##p' -e 's#^--- a/##p' "$p"
	done
	for d in $OVERLAY_DIRS; do
		if [ -d "$top/$d" ]; then
			(cd "$top" && find "$d" -type f)
		fi
	done
} | sed -e 's/[[:space:]].*$//' -e '\#^/dev/null$#d' | sort -u > "$list"

rm -rf "$stage"
mkdir -p "$stage"
while read -r f; do
	if [ -f "$pristine/$f" ]; then
		mkdir -p "$stage/$(dirname "$f")"
		cp -p "$pristine/$f" "$stage/$f"
	fi
done < "$list"

for p in "${patches[@]}"; do
	if ! patch -s -F0 -p1 -d "$stage" --no-backup-if-mismatch -r - < "$p"; then
		echo "tree: $(basename "$p") does not apply to $KVER" >&2
		exit 1
	fi
done

for d in $OVERLAY_DIRS; do
	if [ -d "$top/$d" ]; then
		cp -r --preserve=mode "$top/$d" "$stage/"
	fi
done

changed=0
while read -r f; do
	if [ -f "$stage/$f" ]; then
		if ! cmp -s "$stage/$f" "$work/$f"; then
			mkdir -p "$work/$(dirname "$f")"
			cp --remove-destination "$stage/$f" "$work/$f"
			changed=$((changed + 1))
		fi
	elif [ -e "$work/$f" ]; then
		rm -f "$work/$f"
		changed=$((changed + 1))
	fi
done < "$list"

# What the work tree differs from pristine in, for the next run.
(cd "$stage" && find . -type f | sed 's#^\./##' | sort) > "$touched"
rm -rf "$stage"
echo "tree: ${#patches[@]} patches, $(wc -l < "$touched") files from patches and overlay, $changed updated"
