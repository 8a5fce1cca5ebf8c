#!/bin/sh
# SPDX-License-Identifier: MIT
# Test lint_exported_symbols: libloom.so exports exactly the symbols of the
# committed list, so that the API (and ABI) changes only on purpose.
#
#   exported_symbols.sh LIBRARY LIST [--update]
#
# LIST (tests/lint/exported-symbols.txt) holds one symbol a line, sorted;
# lines starting with # are comments. The symbols the linker defines in
# every shared object (_edata, _end, __bss_start, _init, _fini) are left
# out. --update rewrites LIST from LIBRARY.
set -u
lib=$1 list=$2
[ -f "$lib" ] || { echo "FAIL: no library $lib (build the loom target first)"; exit 1; }
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
nm -D --defined-only "$lib" >"$tmp/nm" || { echo "FAIL: nm -D $lib failed"; exit 1; }
awk 'NF >= 3 && $NF !~ /^(_edata|_end|__bss_start|_init|_fini)$/ { print $NF }' "$tmp/nm" |
    LC_ALL=C sort -u >"$tmp/now"
[ -s "$tmp/now" ] || { echo "FAIL: $lib exports nothing: is nm working?"; exit 1; }

if [ "${3:-}" = --update ]; then
    {
        echo "# The symbols libloom.so exports (tests/lint/exported_symbols.sh). Update"
        echo "# on purpose only, when the API changes: ctest prints the command."
        cat "$tmp/now"
    } >"$list"
    echo "updated $list: $(wc -l <"$tmp/now") symbols"
    exit 0
fi
[ -r "$list" ] || { echo "FAIL: cannot read $list"; exit 1; }
grep -v '^#' "$list" | LC_ALL=C sort -u >"$tmp/want"
LC_ALL=C comm -13 "$tmp/want" "$tmp/now" | sed 's/^/FAIL: added:   /'
LC_ALL=C comm -23 "$tmp/want" "$tmp/now" | sed 's/^/FAIL: removed: /'
if ! cmp -s "$tmp/want" "$tmp/now"; then
    echo "FAIL: the exported symbols of $lib differ from $list."
    echo "      A symbol exported by mistake: make it static, or loom__ without LOOM_EXTERN."
    echo "      A change of the API on purpose: update the list and commit it with the change:"
    echo "      sh $0 $lib $list --update"
    exit 1
fi
echo "ok: $lib exports the $(wc -l <"$tmp/now") symbols of $list"
