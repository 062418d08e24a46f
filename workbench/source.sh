#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Fetch Debian's linux-source-7.3 and unpack it once into build/src/pristine.
#
# Debian 12 carries only linux-source-6.12; 7.3 comes from trixie-backports.
# The sources entry reuses the mirror URI already configured for the main
# Debian suites, so no registry host is named here, and is pinned low so
# nothing else is upgraded from it.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/workbench/config.sh"

cache=$top/build/src
pristine=$cache/pristine
stamp=$cache/.pristine-$KVER

if [ -f "$stamp" ] && [ -f "$pristine/Makefile" ]; then
	exit 0
fi

bp_sources=/etc/apt/sources.list.d/gmem-track-backports.sources
bp_pref=/etc/apt/preferences.d/gmem-track-backports

add_backports() {
	local uri
	uri=$(awk '/^URIs:/ { u = $2 } /^Suites:/ && u != "" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+$/) { print u; exit } }' \
		/etc/apt/sources.list.d/*.sources 2>/dev/null || true)
	if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
		uri=$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' \
			/etc/apt/sources.list)
	fi
	if [ -z "$uri" ]; then
		echo "source: cannot find the Debian mirror URI in /etc/apt/sources.list.d/*.sources" >&2
		echo "source: add a '$BACKPORTS' entry for your mirror by hand" >&2
		exit 1
	fi
	cat > "$bp_sources" <<EOS
Types: deb
URIs: $uri
Suites: $BACKPORTS
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOS
	cat > "$bp_pref" <<EOS
Package: *
Pin: release n=$BACKPORTS
Pin-Priority: 100
EOS
	apt-get update -qq >/dev/null || apt-get update
}

if ! apt-cache policy "$SRC_PKG" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "source: $SRC_PKG is not known to apt and adding $BACKPORTS needs root" >&2
		exit 1
	fi
	add_backports
fi

ver=$(apt-cache policy "$SRC_PKG" | awk '/Candidate:/ { print $2 }')
if [ -z "$ver" ] || [ "$ver" = "(none)" ]; then
	echo "source: package $SRC_PKG is not available from $BACKPORTS any more." >&2
	echo "source: change SRC_PKG/KVER in workbench/config.sh to a linux-source package apt can see" >&2
	echo "source: ('apt-cache search ^linux-source-' lists them)." >&2
	exit 1
fi
case "$ver" in
$KVER*) ;;
*)
	echo "source: $SRC_PKG is version $ver, the workbench expects $KVER." >&2
	echo "source: the patch series was made against $KVER; set KVER in workbench/config.sh to" >&2
	echo "source: the new version and refresh patches/ if they no longer apply." >&2
	exit 1
	;;
esac

mkdir -p "$cache"
deb=$(ls "$cache"/"${SRC_PKG}"_"${ver}"_*.deb 2>/dev/null | head -1 || true)
if [ -z "$deb" ]; then
	(cd "$cache" && apt-get download -qq "$SRC_PKG=$ver")
	deb=$(ls "$cache"/"${SRC_PKG}"_*.deb | head -1)
fi

rm -rf "$cache/unpack" "$pristine"
mkdir -p "$cache/unpack"
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$cache/unpack" --wildcards './usr/src/*.tar.*'
tarball=$(ls "$cache"/unpack/usr/src/linux-source-*.tar.* | head -1)
mkdir -p "$pristine"
tar -xf "$tarball" -C "$pristine" --strip-components=1
rm -rf "$cache/unpack"
# Keep the .deb only as long as needed; the pristine tree is the cache.
rm -f "$deb"
touch "$stamp"
echo "source: $SRC_PKG $ver unpacked in build/src/pristine"
