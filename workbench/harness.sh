#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build and run the userspace harness (tools/testing/gmem_track) in the work
# tree, where it compiles mm/gmem_track's range logic against the kernel's
# own lib/maple_tree.c. Its TAP goes to OUT; the exit status is the harness's.
# Usage: harness.sh OUT.tap
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
work=$top/build/src/work
out=$1

make -s -C "$work/tools/testing/gmem_track" -j"$(nproc)"
"$work/tools/testing/gmem_track/gmem_track" | tee "$out"
