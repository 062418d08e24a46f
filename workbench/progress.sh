# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Progress of a long stage on stdout (sourced by check.sh and bench.sh,
# which set top).
#
# progress_start PREFIX ARGS...: run workbench/progress.py ARGS in the
# background, a live line on a terminal and plain lines otherwise; PREFIX
# is what the current line of stdout holds. progress_stop ends it and
# waits for its last lines. The caller traps EXIT with progress_stop, and
# progress.py also ends by itself when the caller ($$) goes.
prog=
progress_start() {
	local prefix=$1
	shift
	python3 "${top:?}/workbench/progress.py" --parent $$ "$@" --prefix "$prefix" &
	prog=$!
}
progress_stop() {
	if [ -n "$prog" ]; then
		kill "$prog" 2>/dev/null || true
		wait "$prog" 2>/dev/null || true
		prog=
	fi
}
