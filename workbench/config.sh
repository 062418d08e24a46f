# SPDX-License-Identifier: GPL-2.0
# Shared settings of the workbench scripts (sourced).
SRC_PKG=linux-source-7.3
KVER=7.3
BACKPORTS=trixie-backports

# Kernel directories the overlay may hold. Only these are copied into the
# work tree: the project's own Makefile and README.md never are.
OVERLAY_DIRS="arch Documentation include mm tools virt"

# Selftest directories built from the work tree into build/selftests/<dir>.
SELFTEST_DIRS="kvm gmem_track gmem"
