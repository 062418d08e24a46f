#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Tests of make bench's report step (workbench/bench-report.py), run by
# workbench/tests/run.sh: no kernel, no guest. The fixtures are built from
# the committed real run, doc/bench/results.json, with designs made
# unmeasured the way gmem-bench reports them ("measured": false, a
# "reason", every figure null). The report must still be made from what
# was measured, with a line per unmeasured design, and exit 0; with no
# design measured it must exit 1 with one sentence; never a traceback.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
report="python3 $top/workbench/bench-report.py"
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
fails=0
cases=0
plots=0
command -v gnuplot > /dev/null && plots=1

fail() {
	echo "bench-report: FAIL $1" >&2
	[ -f "$t/err" ] && sed 's/^/  | /' "$t/err" >&2
	fails=$((fails + 1))
}

# run NAME WANT-EXIT ARGS...: the report's exit status, and no traceback.
run() {
	local name=$1 want=$2 rc
	shift 2
	cases=$((cases + 1))
	$report "$@" > "$t/out" 2> "$t/err"
	rc=$?
	if [ $rc -ne "$want" ]; then
		fail "$name: exit $rc, want $want"
		return 1
	fi
	if grep -q 'Traceback' "$t/err"; then
		fail "$name: a Python traceback"
		return 1
	fi
	return 0
}

# json NAME FILE PYTHON-EXPR: the expression, over r (the results.json
# loaded), must be true.
json() {
	cases=$((cases + 1))
	if ! python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2]) else 1)' "$2" "$3" 2> "$t/err"; then
		fail "$1: results.json: $3"
	fi
}

# svg NAME FILE: made and not empty, when gnuplot is there to make it.
svg() {
	[ $plots = 1 ] || return 0
	cases=$((cases + 1))
	[ -s "$2" ] && grep -q '<svg' "$2" || fail "$1: no $(basename "$2")"
}

reason="fallocate of the file: Cannot allocate memory (no free 1 GiB block)"
python3 - "$top/doc/bench/results.json" "$t" "$reason" <<'PY' || fail "fixtures"
import copy, json, sys
src = json.load(open(sys.argv[1]))
out, reason = sys.argv[2], sys.argv[3]
raw = {k: src[k] for k in ("kernel", "size_bytes", "designs")}


def null(x):
    if isinstance(x, dict):
        return {k: null(v) for k, v in x.items()}
    return None if isinstance(x, (int, float)) and not isinstance(x, bool) else x


def unmeasured(d):
    e = null(d)
    e.update(page_size=d["page_size"], struct_page=d["struct_page"],
             measured=False, reason=reason)
    return e


def write(name, r):
    with open("%s/%s.json" % (out, name), "w") as f:
        json.dump(r, f, indent=1)


write("old", raw)
part = copy.deepcopy(raw)
for n in ("structpage-1g", "tracked-1g"):
    part["designs"][n] = unmeasured(part["designs"][n])
write("partial", part)
none = copy.deepcopy(raw)
for n in none["designs"]:
    none["designs"][n] = unmeasured(none["designs"][n])
write("none", none)

# A sweep (gmem-bench --sizes): the run at 1, 2, 4 and 8 GiB, figures
# scaled a little per size, descriptor nodes added; structpage-1g not
# measured at 8 GiB. Then every design unmeasured at 8 GiB (the tables
# fall back to 4 GiB), then at every size.
runs = []
for g in (1, 2, 4, 8):
    ds = copy.deepcopy(raw["designs"])
    for n, d in ds.items():
        d["fallocate_ns_per_gib"] *= 1 + g / 100.0
        d["descriptor_nodes"] = {"0": None if n == "upstream-4k" else g,
                                 "0.015625": None if n == "upstream-4k"
                                 else 640 * g}
    if g == 8:
        ds["structpage-1g"] = unmeasured(ds["structpage-1g"])
    runs.append({"size_bytes": g << 30, "designs": ds})
sweep = {"kernel": raw["kernel"], "sizes": runs[::-1]}
write("sweep", sweep)
for n in runs[3]["designs"]:
    runs[3]["designs"][n] = unmeasured(runs[3]["designs"][n])
write("sweep-8g-none", sweep)
for r in runs:
    for n in r["designs"]:
        r["designs"][n] = unmeasured(r["designs"][n])
write("sweep-none", sweep)
PY

# The committed run as it is (no "measured" keys), with its boots.
if run "every design measured" 0 "$t/old.json" "$t/o-old" "$top/doc/bench/boot"; then
	json "every design measured" "$t/o-old/results.json" \
		'all(d["measured"] and d["reason"] is None for d in r["designs"].values()) and "boot" in r and len(r["ratios"]) == 6'
	svg "every design measured" "$t/o-old/overhead.svg"
	svg "every design measured" "$t/o-old/latency.svg"
fi

# Both 1 GiB designs unmeasured: the rest reported and plotted.
if run "1 GiB designs unmeasured" 0 "$t/partial.json" "$t/o-part" "$top/doc/bench/boot"; then
	cases=$((cases + 1))
	n=$(grep -cF "| tracked-1g | not measured: $reason |" "$t/o-part/results.md")
	[ "$n" = 6 ] || fail "1 GiB designs unmeasured: $n 'not measured' lines for tracked-1g in results.md, want 6 (metadata, latency, reuse and counts, settling, bulk, dense host)"
	cases=$((cases + 1))
	cmp -s "$t/out" "$t/o-part/results.md" || fail "1 GiB designs unmeasured: printed tables differ from results.md"
	json "1 GiB designs unmeasured" "$t/o-part/results.json" \
		'r["designs"]["tracked-1g"]["measured"] is False and r["designs"]["tracked-1g"]["reason"].startswith("fallocate") and r["designs"]["tracked-1g"]["fallocate_ns_per_gib"] is None'
	json "1 GiB designs unmeasured" "$t/o-part/results.json" \
		'r["designs"]["tracked-2m"]["measured"] is True and "tracked-1g" not in r["projection"] and not [k for k in r["ratios"] if "1g" in k] and "tracked-2m_vs_structpage-2m" in r["ratios"]'
	svg "1 GiB designs unmeasured" "$t/o-part/overhead.svg"
	svg "1 GiB designs unmeasured" "$t/o-part/latency.svg"
fi

# No design measured: exit 1, one sentence, the tables still written.
if run "no design measured" 1 "$t/none.json" "$t/o-none"; then
	cases=$((cases + 1))
	if [ "$(wc -l < "$t/err")" != 1 ] ||
	   ! grep -q '^bench-report: no design was measured (upstream-4k, .*tracked-1g: fallocate' "$t/err"; then
		fail "no design measured: want one sentence on stderr"
	fi
	cases=$((cases + 1))
	[ -s "$t/o-none/results.md" ] && ! [ -e "$t/o-none/overhead.svg" ] ||
		fail "no design measured: want results.md and no plot"
fi
# A size sweep: the tables of 8 GiB, a scaling table and plot of every size.
if run "sweep" 0 "$t/sweep.json" "$t/o-sweep"; then
	json "sweep" "$t/o-sweep/results.json" \
		'r["size_bytes"] == 8 << 30 and r["scaling"]["sizes_bytes"] == [g << 30 for g in (1, 2, 4, 8)] and [x["fallocate_ns_per_gib"] is None for x in r["scaling"]["designs"]["structpage-1g"]] == [False, False, False, True] and r["scaling"]["designs"]["structpage-1g"][3]["reason"].startswith("fallocate") and r["scaling"]["designs"]["tracked-2m"][2]["descriptor_nodes_1/64"] == 2560 and len(r["scaling"]["runs"]) == 4'
	cases=$((cases + 1))
	grep -qF "| structpage-1g | 8G | not measured: $reason |" "$t/o-sweep/results.md" &&
		grep -q '^| tracked-1g | 4G | 0 B | ' "$t/o-sweep/results.md" ||
		fail "sweep: no scaling table, or no unmeasured line in it"
	svg "sweep" "$t/o-sweep/scaling.svg"
fi
if run "sweep, nothing measured at 8 GiB" 0 "$t/sweep-8g-none.json" "$t/o-sweep8"; then
	json "sweep, nothing measured at 8 GiB" "$t/o-sweep8/results.json" \
		'r["size_bytes"] == 4 << 30 and r["designs"]["tracked-1g"]["measured"] and not r["scaling"]["designs"]["tracked-1g"][3]["measured"]'
	svg "sweep, nothing measured at 8 GiB" "$t/o-sweep8/scaling.svg"
fi
if run "sweep, nothing measured" 1 "$t/sweep-none.json" "$t/o-sweepn"; then
	cases=$((cases + 1))
	[ "$(wc -l < "$t/err")" = 1 ] &&
		grep -q '^bench-report: no design was measured at any size' "$t/err" ||
		fail "sweep, nothing measured: want one sentence on stderr"
fi
# One size: no scaling section, no scaling plot.
json "one size: no scaling" "$t/o-part/results.json" '"scaling" not in r'
cases=$((cases + 1))
! [ -e "$t/o-part/scaling.svg" ] || fail "one size: a scaling.svg"
run "--any-measured, none" 1 --any-measured "$t/none.json"
run "--any-measured, sweep of none" 1 --any-measured "$t/sweep-none.json"
run "--any-measured, sweep" 0 --any-measured "$t/sweep-8g-none.json"
run "--any-measured, some" 0 --any-measured "$t/partial.json"
run "unreadable results" 1 "$t/absent.json" "$t/o-absent"

# The one-vCPU run merged in: its figures beside the two-vCPU ones, and a
# design it could not measure reported as such.
cp "$t/old.json" "$t/merged.json"
if run "--merge-one-vcpu" 0 --merge-one-vcpu "$t/merged.json" "$t/partial.json" &&
   run "one vCPU merged" 0 "$t/merged.json" "$t/o-merged"; then
	json "one vCPU merged" "$t/o-merged/results.json" \
		'r["one_vcpu"]["designs"]["tracked-2m"]["measured"] and not r["one_vcpu"]["designs"]["tracked-1g"]["measured"]'
	cases=$((cases + 1))
	grep -q '^Two vCPUs against one' "$t/o-merged/results.md" &&
		grep -q '^| tracked-1g | not measured: ' "$t/o-merged/results.md" ||
		fail "one vCPU merged: no two-against-one table, or no unmeasured line in it"
fi

if [ $fails -ne 0 ]; then
	echo "bench-report: $fails of $cases cases failed" >&2
	exit 1
fi
echo "bench-report: $cases cases ok"
