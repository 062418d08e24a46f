#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make lint: checkpatch --strict on every patch and every new kernel file of
# the overlay, kernel-doc -Wall on our C sources and headers, and the line
# length of the series' commit messages (workbench/series/*.msg).
# Usage: lint.sh [file ...]   (default: patches/*.patch and the overlay)
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/workbench/config.sh"
bash "$top/workbench/deps.sh" >/dev/null || exit 1
bash "$top/workbench/source.sh" >/dev/null || exit 1
src=$top/build/src/pristine
cd "$top"

# checkpatch takes a file git tracks for a source file, not a patch (and
# runs spdxcheck.py with python3): point it away from this repository and
# at Debian's python3, which has ply and git.
# upstream files carried whole in the overlay are linted as the diff against
# upstream, not file by file: their upstream lines are not ours to restyle.
whole="virt/kvm/guest_memfd.c"

files=("$@")
all=0
if [ ${#files[@]} -eq 0 ]; then
	all=1
	# A lint that cannot fail is no lint: it must reject a known-bad file.
	if "$src/scripts/checkpatch.pl" --strict --terse --no-tree -q \
			-f workbench/tests/data/lint-bad.c >/dev/null 2>&1; then
		echo "lint: checkpatch accepted workbench/tests/data/lint-bad.c"
		exit 1
	fi
	for p in patches/*.patch; do
		[ -e "$p" ] && files+=("$p")
	done
	for d in $OVERLAY_DIRS; do
		[ -d "$d" ] || continue
		while IFS= read -r f; do
			files+=("$f")
		done < <(find "$d" -type f \( -name '*.[ch]' -o -name 'Kconfig*' \
			-o -name Makefile -o -name '*.rst' \) | LC_ALL=C sort)
	done
fi

fail=0
n=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for f in "${files[@]}"; do
	n=$((n + 1))
	# TRACE_EVENT() is written with open-ended lines and its own
	# alignment in every trace header of the kernel.
	extra=
	if [[ "$f" == include/trace/events/* ]]; then
		extra=--ignore=OPEN_ENDED_LINE,PARENTHESIS_ALIGNMENT
	fi
	if [[ " $whole " == *" $f "* ]] && [ -f "$src/$f" ]; then
		(diff -u --label "a/$f" --label "b/$f" "$src/$f" "$f" || true) \
			> "$tmp/whole.patch"
		# A diff, not a commit: no message or sign-off to check.
		set -- --ignore COMMIT_MESSAGE,MISSING_SIGN_OFF "$tmp/whole.patch"
	elif [[ "$f" == *.patch ]]; then
		set -- "$f"
	else
		set -- -f "$f"
	fi
	if ! out=$(GIT_DIR=/nonexistent PATH=/usr/bin:$PATH "$src/scripts/checkpatch.pl" --strict --terse --root="$src" \
			--ignore FILE_PATH_CHANGES,CAMELCASE $extra "$@" 2>&1); then
		echo "$out" | sed "s#^$tmp/whole.patch#$f#"
		fail=1
	fi
	case "$f" in
	*.c|*.h)
		case "$f" in tools/*) continue ;; esac
		if ! out=$(cd "$src" && scripts/kernel-doc -none -Wall "$top/$f" 2>&1) ||
		   [ -n "$out" ]; then
			echo "$out"
			fail=1
		fi
		;;
	esac
done

# make series runs checkpatch on the commits it writes, which rejects a
# message line over 75 columns (COMMIT_LOG_LONG_LINE): catch it here.
msg_long() {
	awk '/^#/ || /^(patch|file) / { next }
	     length > 75 { printf "%s:%d: %d columns, 75 at most\n",
			   FILENAME, FNR, length }' "$@"
}
if [ $all -eq 1 ]; then
	printf 'patch 0001\n\nsubject\n\n%080d\n' 0 > "$tmp/bad.msg"
	if [ -z "$(msg_long "$tmp/bad.msg")" ]; then
		echo "lint: the message line check accepted an 80-column line"
		exit 1
	fi
	out=$(msg_long workbench/series/*.msg)
	if [ -n "$out" ]; then
		echo "$out"
		fail=1
	fi
	n=$((n + $(ls workbench/series/*.msg | wc -l)))
fi
if [ $fail -ne 0 ]; then
	echo "lint: problems found in the files above ($n checked)"
	exit 1
fi
echo "lint: $n files clean"
