#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make series: render the project as a git format-patch series against the
# pristine kernel in build/series/, with a cover letter.
#
# The commits and their messages are workbench/series/NN-*.msg (see the
# README there). A scratch repository (build/series/tree) holds the
# pristine version of every file the project touches as its base commit;
# each commit applies its patches/ and copies its overlay files on top.
# The series must use every patch and every overlay file exactly once, and
# its last commit must equal build/src/work in every file the project
# touches. Then checkpatch --strict runs over the series (0 errors and 0
# warnings, or make series fails), kernel-doc -Wall over our sources, and
# make htmldocs over our documents (DOCS=0 skips it).
#
# CHECK=1 then applies the patch files one by one to a copy of the
# pristine tree and builds the kernel after each, with
# CONFIG_GMEM_TRACK=y and KVM as modules and with CONFIG_GMEM_TRACK=n and
# KVM built in, both from allnoconfig plus what the series needs
# (workbench/series-check.sh, ccache, objects in build/series/obj/{y,n}),
# reports the first patch that breaks, and runs make check on the final
# tree.
#
# COVERAGE_ONLY=1 only checks that every patch and overlay file is in
# exactly one commit of workbench/series/ and writes nothing (make check
# runs it before it builds anything).
#
# SUBMITTER="Name <mail>" authors and signs off the commits (default: the
# placeholder identity of patches/, to be replaced); SUBJECT_PREFIX sets
# the subject prefix (default "RFC PATCH").
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/workbench/config.sh"
cd "$top"

placeholder="gmem_track developers <dev@gmem-track.invalid>"
submitter=${SUBMITTER:-$placeholder}
prefix=${SUBJECT_PREFIX:-RFC PATCH}
check=${CHECK:-0}
docs=${DOCS:-1}
pristine=$top/build/src/pristine
work=$top/build/src/work
out=$top/build/series
tree=$out/tree
stage=$out/stage
msgdir=$top/workbench/series

t0=$(date +%s)
ts=$t0
# lap: how long since the last lap, in $lap (not in a subshell: it
# moves the mark).
lap() {
	local now
	now=$(date +%s)
	lap=$(printf '%dm%02ds' $(((now - ts) / 60)) $(((now - ts) % 60)))
	ts=$now
}
die() {
	echo "series: $*" >&2
	exit 1
}

coverage_only=${COVERAGE_ONLY:-0}
if [ "$coverage_only" != 1 ]; then
	extra=()
	if [ "$docs" = 1 ]; then
		extra=(python3-sphinx python3-yaml)
	fi
	bash workbench/deps.sh "${extra[@]}"
	bash workbench/source.sh >/dev/null
	bash workbench/tree.sh >/dev/null
fi

name=${submitter%% <*}
mail=${submitter##*<}
mail=${mail%>}
if [ -z "$name" ] || [ -z "$mail" ] || [ "$name <$mail>" != "$submitter" ]; then
	die "SUBMITTER must be \"Name <mail>\", not \"$submitter\""
fi

# ---- read the commit list -------------------------------------------------
overlay=()
for d in $OVERLAY_DIRS; do
	if [ -d "$d" ]; then
		while IFS= read -r f; do
			overlay+=("$f")
		done < <(find "$d" -type f | LC_ALL=C sort)
	fi
done
all_patches=()
for p in patches/*.patch; do
	if [ -e "$p" ]; then all_patches+=("$p"); fi
done

msgs=()
for m in "$msgdir"/[0-9]*.msg; do
	if [ -e "$m" ]; then msgs+=("$m"); fi
done
[ ${#msgs[@]} -gt 0 ] || die "no commits in $msgdir"

declare -A used
bad=0
for m in "${msgs[@]}"; do
	while read -r kind arg rest; do
		case "$kind" in
		patch)
			p=(patches/"$arg"-*.patch)
			if [ ${#p[@]} -ne 1 ] || [ ! -e "${p[0]}" ]; then
				echo "series: $(basename "$m"): no single patches/$arg-*.patch" >&2
				bad=1
				continue
			fi
			key=${p[0]}
			;;
		file)
			key=$arg
			if [ ! -f "$key" ]; then
				echo "series: $(basename "$m"): $key does not exist" >&2
				bad=1
				continue
			fi
			;;
		*) break ;;
		esac
		if [ -n "${used[$key]:-}" ]; then
			echo "series: $key is in both ${used[$key]} and $(basename "$m")" >&2
			bad=1
		fi
		used[$key]=$(basename "$m")
	done < <(grep -v '^#' "$m")
done
for f in "${all_patches[@]}" "${overlay[@]}"; do
	if [ -z "${used[$f]:-}" ]; then
		echo "series: $f is in no commit of workbench/series/" >&2
		bad=1
	fi
done
[ $bad -eq 0 ] || die "every patch and overlay file must be in exactly one commit"
if [ "$coverage_only" = 1 ]; then
	echo "series: ${#all_patches[@]} patches and ${#overlay[@]} overlay files, each in one commit"
	exit 0
fi

# ---- the scratch repository -----------------------------------------------
# Every file a patch touches or the overlay holds, as in pristine (if it
# is there): the base of the series.
touched=$(
	{
		for p in "${all_patches[@]}"; do
			sed -n -e 's#^+++ b/##p' -e 's#^--- a/##p' "$p"
		done
		printf '%s\n' "${overlay[@]}"
	} | sed -e 's/[[:space:]].*$//' -e '\#^/dev/null$#d' | LC_ALL=C sort -u
)

rm -rf "$out"
mkdir -p "$tree" "$stage"
while IFS= read -r f; do
	if [ -f "$pristine/$f" ]; then
		mkdir -p "$tree/$(dirname "$f")" "$stage/$(dirname "$f")"
		cp -p "$pristine/$f" "$tree/$f"
		cp -p "$pristine/$f" "$stage/$f"
	fi
done <<< "$touched"

date=$(git log -1 --format=%cI 2>/dev/null || date -Iseconds)
export GIT_AUTHOR_NAME=$name GIT_AUTHOR_EMAIL=$mail
export GIT_COMMITTER_NAME=$name GIT_COMMITTER_EMAIL=$mail
export GIT_AUTHOR_DATE=$date GIT_COMMITTER_DATE=$date
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
g() { git -C "$tree" "$@"; }
kver=$(awk '/^(VERSION|PATCHLEVEL|SUBLEVEL) =/ { v = v sep $3; sep = "." }
	END { print v }' "$pristine/Makefile")
g init -q
g add -A
g commit -q -m "Linux $kver (the files this series touches)"
base=$(g rev-parse HEAD)

# MAINTAINERS: keep only the F: lines added by patches that match a file
# of the tree, so each F: line comes in with the first commit adding a
# file it matches (checkpatch asks every commit adding files to update
# MAINTAINERS).
maintainers_filter() {
	python3 - "$pristine/MAINTAINERS" "$stage/MAINTAINERS" "$tree" \
		> "$tree/MAINTAINERS.new" <<'EOF'
import difflib, fnmatch, os, sys
old = open(sys.argv[1]).read().splitlines(True)
new = open(sys.argv[2]).read().splitlines(True)
root = sys.argv[3]
files = []
for d, dirs, names in os.walk(root):
    dirs[:] = [x for x in dirs if x != '.git']
    for n in names:
        files.append(os.path.relpath(os.path.join(d, n), root))

def matches(pat):
    if pat.endswith('/'):
        return any(f.startswith(pat) for f in files)
    return any(fnmatch.fnmatch(f, pat) for f in files)

res = []
sm = difflib.SequenceMatcher(None, old, new, autojunk=False)
for op, a1, a2, b1, b2 in sm.get_opcodes():
    if op == 'equal':
        res += new[b1:b2]
        continue
    block = new[b1:b2]
    fl = [l for l in block if l.startswith('F:\t')]
    keep = [l for l in block
            if not l.startswith('F:\t') or matches(l[3:].strip())]
    if fl and not any(l.startswith('F:\t') for l in keep):
        keep = []	# an entry none of whose files exists yet
    res += keep
sys.stdout.write(''.join(res))
EOF
	if cmp -s "$tree/MAINTAINERS.new" "$tree/MAINTAINERS"; then
		rm "$tree/MAINTAINERS.new"
	else
		mv "$tree/MAINTAINERS.new" "$tree/MAINTAINERS"
	fi
}

n=0
for m in "${msgs[@]}"; do
	n=$((n + 1))
	mine=()
	msgfile=$out/msg.$n
	: > "$msgfile"
	inmsg=0
	while IFS= read -r line; do
		if [ $inmsg -eq 0 ]; then
			case "$line" in
			'#'*) continue ;;
			'patch '*)
				p=(patches/"${line#patch }"-*.patch)
				mine+=("${p[0]}")
				while IFS= read -r f; do
					mkdir -p "$tree/$(dirname "$f")"
				done < <(sed -n 's#^+++ b/##p' "${p[0]}" | sed 's/[[:space:]].*$//')
				if ! patch -s -F0 -p1 -d "$stage" --no-backup-if-mismatch -r - \
						< "${p[0]}"; then
					die "$(basename "${p[0]}") does not apply in $(basename "$m")"
				fi
				while IFS= read -r f; do
					cp -p "$stage/$f" "$tree/$f"
				done < <(sed -n 's#^+++ b/##p' "${p[0]}" | sed 's/[[:space:]].*$//')
				continue
				;;
			'file '*)
				f=${line#file }
				mkdir -p "$tree/$(dirname "$f")"
				cp --preserve=mode "$f" "$tree/$f"
				continue
				;;
			'') continue ;;
			*) inmsg=1 ;;
			esac
		fi
		printf '%s\n' "$line" >> "$msgfile"
	done < "$m"
	if [ ! -s "$msgfile" ]; then
		if [ ${#mine[@]} -ne 1 ]; then
			die "$(basename "$m") has no message and not exactly one patch"
		fi
		# The patch's own message, without its Signed-off-by.
		git mailinfo "$out/body" /dev/null < "${mine[0]}" > "$out/info"
		sed -n 's/^Subject: //p' "$out/info" > "$msgfile"
		echo >> "$msgfile"
		grep -v '^Signed-off-by:' "$out/body" >> "$msgfile"
	fi
	if [ -f "$stage/MAINTAINERS" ]; then
		maintainers_filter
	fi
	printf '\nSigned-off-by: %s\n' "$submitter" >> "$msgfile"
	g add -A
	g commit -q --cleanup=whitespace -F "$msgfile"
done
rm -f "$out"/msg.* "$out/body" "$out/info"

# The last commit must be build/src/work, file by file.
bad=0
while IFS= read -r f; do
	if [ -f "$work/$f" ] || [ -f "$tree/$f" ]; then
		if ! cmp -s "$work/$f" "$tree/$f"; then
			echo "series: $f differs from build/src/work" >&2
			bad=1
		fi
	fi
done <<< "$touched"
extra_files=$(g ls-files | grep -vxF -f <(printf '%s\n' "$touched") || true)
if [ -n "$extra_files" ]; then
	echo "series: files the project does not touch: $extra_files" >&2
	bad=1
fi
[ $bad -eq 0 ] || die "the series does not end with build/src/work"
nfiles=$(printf '%s\n' "$touched" | wc -l)
lap
echo "series: $n commits over $nfiles files, the last equal to build/src/work ($lap)"

g format-patch -q --cover-letter --subject-prefix="$prefix" -o "$out" "$base"..HEAD
rm -rf "$stage"

# ---- checkpatch -------------------------------------------------------------
# As in lint.sh: checkpatch must not take this repository for the kernel's.
series=("$out"/[0-9][0-9][0-9][0-9]-*.patch)
series=("${series[@]:1}")
log=$out/checkpatch.log
: > "$log"
errors=0 warnings=0 checks=0 lines=0
for p in "${series[@]}"; do
	(cd "$pristine" && GIT_DIR=/nonexistent PATH=/usr/bin:$PATH \
		scripts/checkpatch.pl --strict --root="$pristine" \
		--show-types "$p") > "$out/cp.out" 2>&1 || true
	{ echo "== $(basename "$p")"; cat "$out/cp.out"; } >> "$log"
	tot=$(sed -n 's/^total: \([0-9]*\) errors, \([0-9]*\) warnings, \([0-9]*\) checks, \([0-9]*\) lines checked$/\1 \2 \3 \4/p' \
		"$out/cp.out")
	[ -n "$tot" ] || die "checkpatch gave no total for $(basename "$p"): $(tail -n 3 "$out/cp.out")"
	read -r e w c l <<< "$tot"
	errors=$((errors + e)) warnings=$((warnings + w))
	checks=$((checks + c)) lines=$((lines + l))
done
rm -f "$out/cp.out"
check_types=$(grep -o '^CHECK:[A-Z_]*' "$log" | sort | uniq -c |
	awk '{ sub("CHECK:", "", $2); printf "%s%s x%d", sep, $2, $1; sep = ", " }')
cp_summary="checkpatch --strict: ${#series[@]} patches, total: $errors errors, $warnings warnings, $checks checks, $lines lines checked"
lap
echo "series: ${cp_summary} ($lap)"
if [ -n "$check_types" ]; then
	echo "series: checks: $check_types"
fi
if [ $((errors + warnings)) -ne 0 ]; then
	grep -E -B1 -A4 '^(ERROR|WARNING):' "$log" | head -n 60 >&2
	die "checkpatch found errors or warnings (all of it: $log)"
fi
# Every kind of check left must be justified in the cover letter.
for t in $(grep -o '^CHECK:[A-Z_]*' "$log" | sed 's/^CHECK://' | sort -u); do
	if ! grep -q "^@CHECK $t@" "$msgdir/cover-letter.txt"; then
		die "checkpatch CHECK $t is not justified in workbench/series/cover-letter.txt"
	fi
done

# ---- kernel-doc ---------------------------------------------------------------
# Our own C files whole; of the upstream files the patches change, only
# what they add: the warnings of the final file that pristine did not have.
kd_log=$out/kernel-doc.log
: > "$kd_log"
kd_files=0
while IFS= read -r f; do
	case "$f" in
	tools/*) continue ;;
	*.c|*.h) ;;
	*) continue ;;
	esac
	kd_files=$((kd_files + 1))
	(cd "$work" && scripts/kernel-doc -none -Wall "$f" 2>&1) |
		sed -E 's/:[0-9]+( |:)/\1/' | sort -u > "$out/kd.new" || true
	if [ -f "$pristine/$f" ]; then
		(cd "$pristine" && scripts/kernel-doc -none -Wall "$f" 2>&1) |
			sed -E 's/:[0-9]+( |:)/\1/' | sort -u > "$out/kd.old" || true
		grep -vxF -f "$out/kd.old" "$out/kd.new" >> "$kd_log" || true
	else
		cat "$out/kd.new" >> "$kd_log"
	fi
done <<< "$touched"
rm -f "$out/kd.new" "$out/kd.old"
kd_warn=$(grep -c . "$kd_log" || true)
kd_summary="kernel-doc -none -Wall: $kd_warn warnings in $kd_files files (ours whole; of upstream ones, what the patches add)"
lap
echo "series: $kd_summary ($lap)"
if [ "$kd_warn" -ne 0 ]; then
	cat "$kd_log" >&2
	die "kernel-doc warnings"
fi

# ---- htmldocs ---------------------------------------------------------------
doc_summary="htmldocs: not built (DOCS=0)"
if [ "$docs" = 1 ]; then
	bash workbench/series-docs.sh "$out/docs"
	doc_summary=$(tail -n 1 "$out/docs/summary")
	lap
	echo "series: $doc_summary ($lap)"
fi

# ---- the cover letter -------------------------------------------------------
python3 - "$out"/0000-cover-letter.patch "$msgdir/cover-letter.txt" \
	doc/bench/results.md "$cp_summary" "$kd_summary" "$doc_summary" \
	"$kver" "$log" <<'EOF'
import re, sys
cover, tmpl, bench, cp, kd, doc, kver, log = sys.argv[1:]
lines = [l for l in open(tmpl).read().splitlines()
         if not l.startswith('#')]
subject = lines[0]
text = '\n'.join(lines[1:]).strip('\n') + '\n'
counts = {}
for l in open(log):
    m = re.match(r'CHECK:([A-Z_]+)', l)
    if m:
        counts[m.group(1)] = counts.get(m.group(1), 0) + 1
out = []
for l in text.splitlines():
    m = re.match(r'@CHECK ([A-Z_]+)@ ?(.*)', l)
    if m:
        if m.group(1) in counts:
            out.append('- %s (%d): %s' % (m.group(1), counts[m.group(1)],
                                          m.group(2)))
        continue
    out.append(l)
text = '\n'.join(out) + '\n'
if not counts:
    text = re.sub(r'@IFCHECKS@.*?@ENDCHECKS@\n', '', text, flags=re.S)
text = text.replace('@IFCHECKS@\n', '').replace('@ENDCHECKS@\n', '')
text = text.replace('@BENCH@', open(bench).read().strip())
text = text.replace('@CHECKPATCH@', cp).replace('@KERNELDOC@', kd)
text = text.replace('@HTMLDOCS@', doc).replace('@KVER@', kver)
text = text.replace('@BUILDCHECK@',
                    'Build check: not run (make series CHECK=1 runs it)')
left = re.findall(r'@[A-Z]+@', text)
if left:
    sys.exit('series: unknown markers in the cover letter: %s' % left)
c = open(cover).read()
c = c.replace('*** SUBJECT HERE ***', subject)
c = c.replace('*** BLURB HERE ***', text.rstrip('\n'))
open(cover, 'w').write(c)
EOF

echo "series: build/series/: cover letter and ${#series[@]} patches against Linux $kver"
g log --reverse --format='  %s' "$base"..HEAD
echo "series: ${cp_summary}"

# ---- CHECK=1: build every step ------------------------------------------------
if [ "$check" = 1 ]; then
	bash workbench/series-check.sh
fi
echo "series: done in $(( ($(date +%s) - t0) / 60 ))m$(( ($(date +%s) - t0) % 60 ))s"
