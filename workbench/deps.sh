#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install the Debian packages the workbench needs, only when missing.
# Usage: deps.sh [extra-package ...]
set -euo pipefail

pkgs=(make gcc flex bison bc libelf-dev libssl-dev cpio xz-utils zstd
      qemu-system-x86 busybox-static ccache rsync kmod gnuplot-nox
      python3 perl patch git dwarves pkg-config liburcu-dev python3-ply python3-git "$@")

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages: ${missing[*]}" >&2
	echo "deps: run as root, or: sudo apt-get install ${missing[*]}" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null || apt-get update
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
