#!/bin/bash
# SPDX-License-Identifier: MIT
# The Debian package, as a user gets it: built by `cpack -G DEB` from the
# build directory, installed with apt-get, then used — loom-run --version
# from PATH, man -w of the three pages, a consumer built with pkg-config
# and one with find_package(loom), the completion and the module — and
# removed: every file it installed is gone, and every directory left is
# another package's. Needs root (exit 77, skipped, otherwise). Run by
# ctest (test deb_package): deb.sh BUILD_DIR CONSUMER_DIR WORK_DIR
set -u
build=$1 consumer=$2 work=$3
if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: installing a Debian package needs root"
    exit 77
fi
fail=0
bad() { printf 'FAIL: %s\n' "$*"; fail=1; }
die() { printf 'FAIL: %s\n' "$*"; exit 1; }
apt() { DEBIAN_FRONTEND=noninteractive apt-get -q -y -o DPkg::Lock::Timeout=600 "$@"; }
if dpkg-query -W -f='${Status}' loom 2>/dev/null | grep -q "installed"; then
    die "a package loom is installed already ($(dpkg-query -W loom)); this test will not replace it: dpkg --purge loom"
fi
rm -rf "$work"
mkdir -p "$work"

# 1. build the package
(cd "$build" && cpack -G DEB -B "$work") >"$work/cpack.log" 2>&1 ||
    { cat "$work/cpack.log"; die "cpack -G DEB"; }
deb=$(ls "$work"/loom_*.deb 2>/dev/null)
[ -f "$deb" ] || die "cpack wrote no loom_*.deb: $(ls "$work")"
echo "built $(basename "$deb"): $(stat -c %s "$deb") bytes"
dpkg-deb -f "$deb" Package Version Architecture Depends

# 2. install it; from here on, take it away again whatever happens
trap 'dpkg-query -W loom >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive dpkg --purge loom >/dev/null 2>&1' EXIT
apt install --no-install-recommends "$deb" >"$work/install.log" 2>&1 ||
    { cat "$work/install.log"; die "apt-get install $deb"; }
dpkg-query -W -f='${Status}\n' loom | grep -q "install ok installed" || die "loom not installed"
dpkg -L loom >"$work/files"
echo "installed: $(wc -l <"$work/files") paths"

# 3. use it
[ "$(command -v loom-run)" = /usr/bin/loom-run ] || bad "loom-run on PATH: '$(command -v loom-run)'"
v=$(cd / && env -u LD_LIBRARY_PATH loom-run --version 2>&1) || bad "loom-run --version: $v"
grep -q "^loom-run (loom) " <<<"$v" || bad "loom-run --version says: $v"
grep -q "^libloom: /usr/lib/.*libloom.so" <<<"$v" || bad "loom-run does not load /usr/lib's libloom: $v"
echo "$v" | head -2
for page in "1 loom-run" "5 loom.cfg" "7 loom"; do
    set -- $page
    m=$(man -w "$1" "$2" 2>&1)
    [ "$m" = "/usr/share/man/man$1/$2.$1" ] || bad "man -w $1 $2: '$m'"
done
echo "man -w loom-run: $(man -w loom-run)"
flags=$(env -u PKG_CONFIG_PATH pkg-config --cflags --libs loom 2>&1) || bad "pkg-config loom: $flags"
case $flags in *rpath*) bad "pkg-config --libs loom adds a run path to a system directory: $flags" ;; esac
# shellcheck disable=SC2086
cc "$consumer/consumer/main.c" $flags -o "$work/pc-consumer" 2>"$work/cc.log" ||
    { cat "$work/cc.log"; bad "cc with pkg-config loom ($flags)"; }
out=$(env -u LD_LIBRARY_PATH "$work/pc-consumer" 2>&1) || bad "pkg-config consumer: $out"
echo "pkg-config consumer ($flags): $out"
if cmake -S "$consumer/consumer" -B "$work/cmake-consumer" >"$work/cmake.log" 2>&1 &&
    cmake --build "$work/cmake-consumer" >>"$work/cmake.log" 2>&1; then
    out=$(env -u LD_LIBRARY_PATH "$work/cmake-consumer/consumer" 2>&1) || bad "find_package consumer: $out"
    echo "find_package(loom) consumer: $out"
else
    cat "$work/cmake.log"
    bad "a consumer with find_package(loom) does not build"
fi
[ -r /usr/share/bash-completion/completions/loom-run ] || bad "no bash completion"
if [ -r /usr/share/modules/init/bash ]; then
    m=$(bash -c 'source /usr/share/modules/init/bash; module use /usr/share/modulefiles &&
        module load loom && echo "LOOM_ROOT=$LOOM_ROOT PATH=$PATH"' 2>&1)
    grep -q "^LOOM_ROOT=/usr PATH=" <<<"$m" || bad "module load loom: $m"
    grep -q "PATH=/usr/bin:" <<<"$m" && bad "module load loom put /usr/bin first on PATH: $m"
    echo "module load loom: ok"
fi

# 4. remove it: nothing of it is left
apt remove loom >"$work/remove.log" 2>&1 || { cat "$work/remove.log"; bad "apt-get remove loom"; }
DEBIAN_FRONTEND=noninteractive dpkg --purge loom >>"$work/remove.log" 2>&1 || bad "dpkg --purge loom"
dpkg-query -W -f='${Status}' loom 2>/dev/null | grep -q "installed" && bad "loom still installed"
left=0
while IFS= read -r path; do
    [ -e "$path" ] || [ -L "$path" ] || continue
    if [ -d "$path" ] && [ ! -L "$path" ] && dpkg -S "$path" >/dev/null 2>&1; then
        continue # /usr/bin and the like: other packages' too
    fi
    bad "left after removal: $path"
    left=$((left + 1))
done <"$work/files"
echo "removed: $left of $(wc -l <"$work/files") paths left that no other package owns"
exit $fail
