#!/bin/bash
# SPDX-License-Identifier: MIT
# The environment module (dist/loom.modulefile.in) works with Debian's
# environment-modules (or Lmod): installed into a scratch prefix, `module use
# PREFIX/share/modulefiles; module load loom` puts loom-run on PATH, the
# manual pages on MANPATH (keeping man's own search path), libloom.so on
# LD_LIBRARY_PATH, loom.pc on PKG_CONFIG_PATH, the prefix on
# CMAKE_PREFIX_PATH and its share/ on XDG_DATA_DIRS (bash completion);
# `module unload loom` takes them away again. Run by ctest (test
# modulefile): modulefile.sh BUILD_DIR WORK_DIR
set -u
build=$1 work=$2
fail=0
bad() { printf 'FAIL: %s\n' "$*"; fail=1; }
# environment-modules, or Lmod where it is installed instead (Debian lets
# only one of them be installed)
init=/usr/share/modules/init/bash
[ -r "$init" ] || [ ! -r /usr/share/lmod/lmod/init/bash ] || init=/usr/share/lmod/lmod/init/bash
[ -r "$init" ] || { echo "FAIL: $init missing: apt-get install environment-modules"; exit 1; }
echo "module system: $init"
rm -rf "$work"
prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" >"$work.install.log" 2>&1 ||
    { cat "$work.install.log"; echo "FAIL: cmake --install"; exit 1; }
mf=$(ls "$prefix"/share/modulefiles/loom/)
echo "modulefile: share/modulefiles/loom/$mf"

unset MANPATH LD_LIBRARY_PATH PKG_CONFIG_PATH CMAKE_PREFIX_PATH LOOM_ROOT XDG_DATA_DIRS
# shellcheck source=/dev/null
source "$init"
module use "$prefix/share/modulefiles"
out=$(module load loom 2>&1) || bad "module load loom: $out"
module load loom >/dev/null 2>&1

[ "$(command -v loom-run)" = "$prefix/bin/loom-run" ] || bad "loom-run on PATH is '$(command -v loom-run)'"
v=$(loom-run --version 2>&1) || bad "loom-run --version failed: $v"
case $v in
"loom-run (loom) $mf"*) ;;
*) bad "loom-run --version: $v" ;;
esac
m=$(man -w loom-run 2>&1)
[ "$m" = "$prefix/share/man/man1/loom-run.1" ] || bad "man -w loom-run: $m"
m=$(man -w 5 loom.cfg 2>&1)
[ "$m" = "$prefix/share/man/man5/loom.cfg.5" ] || bad "man -w 5 loom.cfg: $m"
case ":$MANPATH:" in
*::*) ;;
*) bad "MANPATH '$MANPATH' lost man's own search path (no empty element)" ;;
esac
p=$(pkg-config --variable=prefix loom 2>&1)
[ "$p" = "$prefix" ] || bad "pkg-config --variable=prefix loom: $p"
case ":$LD_LIBRARY_PATH:" in
*":$prefix/lib:"*) ;;
*) bad "LD_LIBRARY_PATH '$LD_LIBRARY_PATH' lacks $prefix/lib" ;;
esac
[ "${CMAKE_PREFIX_PATH-}" = "$prefix" ] || bad "CMAKE_PREFIX_PATH '${CMAKE_PREFIX_PATH-}'"
[ "${LOOM_ROOT-}" = "$prefix" ] || bad "LOOM_ROOT '${LOOM_ROOT-}'"
[ "${XDG_DATA_DIRS-}" = "$prefix/share:/usr/local/share:/usr/share" ] ||
    bad "XDG_DATA_DIRS '${XDG_DATA_DIRS-}' (bash-completion looks there)"
[ -r "$prefix/share/bash-completion/completions/loom-run" ] || bad "no completion installed"
echo "loaded: $(module list -t 2>&1 | tr '\n' ' ')"
echo "  PATH ok, MANPATH=$MANPATH, PKG_CONFIG_PATH=$PKG_CONFIG_PATH"
echo "  $(head -1 <<<"$v")"

module unload loom
case ":$PATH:${LD_LIBRARY_PATH-}:${PKG_CONFIG_PATH-}:${CMAKE_PREFIX_PATH-}:${XDG_DATA_DIRS-}" in
*"$prefix"*) bad "module unload loom left $prefix in the environment" ;;
esac
command -v loom-run >/dev/null && [ "$(command -v loom-run)" = "$prefix/bin/loom-run" ] &&
    bad "loom-run still on PATH after unload"
[ -z "${LOOM_ROOT-}" ] || bad "LOOM_ROOT still set after unload"
exit $fail
