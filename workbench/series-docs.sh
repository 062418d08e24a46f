#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The documentation part of make series: make htmldocs over the documents
# the series adds or changes (SPHINXDIRS: mm, admin-guide/mm, virt/kvm,
# out of tree), and the ABI files through the kernel's ABI parser. Fails on
# any warning of ours; the last line of OUT/summary is the result.
# Usage: series-docs.sh OUTDIR
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
work=$top/build/src/work
out=$1
mkdir -p "$out"
log=$out/htmldocs.log
dirs="mm admin-guide/mm virt/kvm"

s=$(date +%s)
# Out of tree: nothing is written into the work tree, which shares its
# files with the pristine one (no byte code either).
rm -rf "$out/obj"
mkdir -p "$out/obj"
set +e
PYTHONDONTWRITEBYTECODE=1 make -C "$work" O="$out/obj" SPHINXDIRS="$dirs" \
	htmldocs > "$log" 2>&1
rc=$?
set -e
# The ABI files are rendered under admin-guide/abi-testing, a build of all
# of Documentation/ABI: validate them with the parser that build uses.
PYTHONDONTWRITEBYTECODE=1 python3 "$work/tools/docs/get_abi.py" \
	--dir "$work/Documentation/ABI" validate > "$out/abi.log" 2>&1 ||
	echo "warning: get_abi.py failed on gmem_track" >> "$out/abi.log"

# Ours: a warning in one of our documents, at a line the patches added to
# an upstream one, or naming gmem_track. Restricting SPHINXDIRS leaves
# upstream references into other directories undefined; those are not.
python3 - "$work" "$top/build/src/pristine" "$log" "$out/abi.log" \
	> "$out/warnings" <<'EOF'
import os, re, subprocess, sys
work, pristine, logs = sys.argv[1], sys.argv[2], sys.argv[3:]
added = {}

def ours(path, line):
    rel = os.path.relpath(path, work)
    if not os.path.exists(os.path.join(pristine, rel)):
        return True
    if rel not in added:
        d = subprocess.run(['diff', '--old-line-format=',
                            '--new-line-format=%dn\n',
                            '--unchanged-line-format=',
                            os.path.join(pristine, rel), path],
                           capture_output=True, text=True).stdout
        added[rel] = set(int(x) for x in d.split())
    return line in added[rel]

for log in logs:
    for l in open(log, errors='replace'):
        if not re.search(r'warning|error|critical', l, re.I):
            continue
        m = re.match(r'(/\S+?):(\d+):', l)
        if m and m.group(1).startswith(work + '/'):
            if ours(m.group(1), int(m.group(2))):
                sys.stdout.write(l)
        elif 'gmem_track' in l:
            sys.stdout.write(l)
EOF
nwarn=$(grep -c . "$out/warnings" || true)
all=$(grep -ciE 'warning|error' "$log" || true)
t=$(($(date +%s) - s))
html=$out/obj/Documentation/output
summary="htmldocs SPHINXDIRS=\"$dirs\": $nwarn warnings from our documents ($all upstream ones outside them), $((t / 60))m$((t % 60))s"
for f in mm/gmem_track.html admin-guide/mm/gmem_track.html; do
	if [ ! -s "$html/$f" ]; then
		summary="$summary; $f missing"
		rc=1
	fi
done
echo "$summary" >> "$out/summary"
if [ "$rc" -ne 0 ] || [ "$nwarn" -ne 0 ]; then
	cat "$out/warnings" >&2
	tail -n 20 "$log" >&2
	echo "series-docs: $summary (log: $log)" >&2
	exit 1
fi
