#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Tests of the result aggregator, run by 'make check' before anything is
# built: a run must pass only when every test passed, the guest finished and
# the console is free of kernel reports. Then those of the progress lines
# of the long stages (progress_test.py) and of make bench's report step
# (bench-report.sh).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
agg="python3 $here/../tap-summary.py"
d=$here/data
fails=0
cases=0

# expect NAME EXIT LAST-LINE-REGEX STDERR-REGEX -- aggregator args
expect() {
	local name=$1 want_rc=$2 want_last=$3 want_err=$4
	shift 5
	local out err rc
	err=$(mktemp)
	out=$($agg "$@" 2>"$err")
	rc=$?
	cases=$((cases + 1))
	local last
	last=$(printf '%s\n' "$out" | tail -n 1)
	if [ "$rc" -ne "$want_rc" ] || ! [[ "$last" =~ $want_last ]] ||
	   { [ -n "$want_err" ] && ! grep -Eq -- "$want_err" "$err"; }; then
		echo "aggregator: FAIL $name: exit $rc (want $want_rc), last line '$last'" >&2
		sed 's/^/  | /' "$err" >&2
		fails=$((fails + 1))
	fi
	rm -f "$err"
}

expect "all pass, leaves counted" 0 '^6 passed, 0 failed, 1 skipped$' '' -- \
	--guest "$d/pass.tap" --console "$d/clean.console"
expect "failing subtest" 1 '^6 passed, 1 failed$' 'failed: kvm/guest_memfd_test' -- \
	--guest "$d/fail.tap" --console "$d/clean.console"
expect "program crashed after passing cases" 1 '^5 passed, 1 failed, 1 skipped$' \
	'failed: kvm/pre_fault_memory_test' -- --guest "$d/crash.tap"
expect "kernel WARNING in console" 1 'passed, 1 failed' 'kernel WARNING' -- \
	--guest "$d/pass.tap" --console "$d/warn.console"
expect "kmemleak report" 1 'passed, 1 failed' 'kmemleak report' -- \
	--guest "$d/pass.tap" --console "$d/kmemleak.console"
expect "lockdep report" 1 'passed, 1 failed' 'lockdep report' -- \
	--guest "$d/pass.tap" --console "$d/lockdep.console"
expect "KASAN report" 1 'passed, 1 failed' 'KASAN report' -- \
	--guest "$d/pass.tap" --console "$d/kasan.console"
expect "guest hung mid-run" 1 'failed' 'died or hung.*guest_memfd_test|did not finish' -- \
	--guest "$d/hung.tap"
expect "no end marker" 1 'failed' 'did not finish' -- --guest "$d/nodone.tap"
expect "missing results file" 1 'failed' 'cannot read' -- --guest "$d/absent.tap"
expect "harness stream with a failure" 1 '^7 passed, 1 failed, 1 skipped$' \
	'failed: harness/ranges: -ENOMEM' -- \
	--tap "harness=$d/harness.tap" --guest "$d/pass.tap"
expect "two boots, both clean" 0 '^12 passed, 0 failed, 2 skipped$' '' -- \
	--guest "$d/pass.tap" --guest "reserve-boot=$d/pass.tap" \
	--console "$d/clean.console" --console "$d/clean.console"
expect "second boot's console has a WARNING" 1 'passed, 1 failed' 'kernel WARNING' -- \
	--guest "$d/pass.tap" --guest "reserve-boot=$d/pass.tap" \
	--console "$d/clean.console" --console "$d/warn.console"
expect "second boot hung" 1 'failed' 'did not finish' -- \
	--guest "$d/pass.tap" --guest "reserve-boot=$d/nodone.tap"

# Expected skips: a listed skip passes, an unlisted one fails by name,
# and a listed case that did not skip is printed for pruning.
expect "expected skip" 0 '^6 passed, 0 failed, 1 skipped$' '' -- \
	--guest "$d/pass.tap" --console "$d/clean.console" \
	--expected-skips "$d/skips.list" --label check
expect "skip expected on another kernel only" 1 '^6 passed, 1 failed, 1 skipped$' \
	'unexpected skip: kvm/guest_memfd_test/global.punch_hole: no huge pages' -- \
	--guest "$d/pass.tap" --console "$d/clean.console" \
	--expected-skips "$d/skips-other.list" --label check
expect "unreadable expected-skips list" 1 'failed' 'expected skips:' -- \
	--guest "$d/pass.tap" --expected-skips "$d/absent.list" --label check
# A binary that stopped before its plan's end fails its missing cases; a
# filter that matched no case (a nested 1..0) is a skip, unexpected here.
expect "nested plan not met, and no case run" 1 '^2 passed, 4 failed, 1 skipped$' \
	'unexpected skip: kvm/x86/gmem_track_test/reserve_1g_map: no case ran' -- \
	--guest "$d/short.tap" --expected-skips "$d/skips.list" --label check
out=$($agg --guest "$d/pass.tap" --expected-skips "$d/skips.list" --label debug 2>/dev/null)
cases=$((cases + 1))
if ! grep -q '^expected skip that did not skip: kvm/pre_fault_memory_test/\*' <<< "$out" ||
   grep -q 'did not skip: kvm/guest_memfd_test' <<< "$out"; then
	echo "aggregator: FAIL expected skips not seen are not listed right:" >&2
	printf '%s\n' "$out" | sed 's/^/  | /' >&2
	fails=$((fails + 1))
fi

# Figures: summed over variants, walkers_audited once, malformed lines
# ignored, and written to the JSON file with the counts.
json=$(mktemp)
expect "figures collected" 0 '^4 passed, 0 failed$' '' -- \
	--guest "$d/figures.tap" --reliability "$json" --label plain
want='{"bad_inputs": 40, "injected_failures": 850, "walkers_audited": 10} 4 0 plain'
got=$(python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
print(json.dumps(r["figures"], sort_keys=True), r["passed"], r["failed"], r["label"])' "$json" 2>&1)
cases=$((cases + 1))
if [ "$got" != "$want" ]; then
	echo "aggregator: FAIL figures in JSON: '$got', want '$want'" >&2
	fails=$((fails + 1))
fi
rm -f "$json"

rc=0
python3 "$here/progress_test.py" || rc=1

if [ $fails -ne 0 ]; then
	echo "aggregator: $fails of $cases cases failed" >&2
	rc=1
else
	echo "aggregator: $cases cases ok"
fi
bash "$here/bench-report.sh" || rc=1
# make series must find every patch and overlay file in one commit of
# workbench/series/: a new file nobody listed breaks it.
(cd "$here/../.." && COVERAGE_ONLY=1 bash workbench/series.sh) || rc=1
exit $rc
