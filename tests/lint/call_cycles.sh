#!/bin/sh
# SPDX-License-Identifier: MIT
# Test lint_call_cycles: no call cycle among the library's source files.
#
#   call_cycles.sh OBJECT...      (the objects of the loom target)
#
# A file uses another when its object leaves undefined a global symbol the
# other's object defines (nm). tsort orders the files by these edges; a loop
# means files that cannot be read, tested or changed apart. On failure it
# prints every group of files that reach each other, then each loop tsort
# found, file by file, with the symbols on each edge.
set -u
. "$(dirname "$0")/lib.sh"
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

edges "$@" >"$tmp/edges" || exit 1
[ -s "$tmp/edges" ] || { echo "FAIL: no edge between $# objects: is nm working?"; exit 1; }
awk '{ print $1, $2 }' "$tmp/edges" | LC_ALL=C sort -u >"$tmp/pairs"
if tsort "$tmp/pairs" >/dev/null 2>"$tmp/tsort"; then
    echo "ok: no call cycle among $# files ($(wc -l <"$tmp/pairs") file-to-file edges)"
    exit 0
fi
grep -q 'contains a loop' "$tmp/tsort" || { cat "$tmp/tsort"; echo "FAIL: tsort failed"; exit 1; }

# The groups: a file is in the group of every file it reaches and is
# reached from (transitive closure of the edges); a group is named by its
# first file.
echo "files that call each other round a cycle (one group a line):"
awk '{ n[$1]; n[$2]; r[$1, $2] = 1 }
    END {
        for (k in n) for (i in n) if (r[i, k]) for (j in n) if (r[k, j]) r[i, j] = 1
        for (i in n) if (r[i, i]) {
            g = i
            for (j in n) if (r[i, j] && r[j, i] && j < g) g = j
            print g, i
        }
    }' "$tmp/pairs" | LC_ALL=C sort |
    awk '$1 != g { if (g != "") print line; g = $1; line = "   " } { line = line " " $2 }
        END { print line }'

# tsort prints each loop as "tsort: -: input contains a loop:" and then
# its files, one "tsort: FILE" line each, in the order of the edges. It
# breaks each loop it reports, so it shows some loops, not all.
echo "loops tsort found, with the symbols on each edge:"
symbols_by_edge <"$tmp/edges" >"$tmp/symbols"
awk -v symbols="$tmp/symbols" '
    BEGIN {
        while ((getline l < symbols) > 0) {
            split(l, w, " ")
            k = w[1] " " w[2]
            sub(/^[^ ]+ [^ ]+ /, "", l)
            syms[k] = l
        }
    }
    function show(i, k, line) {
        if (m == 0) return
        loops++
        line = "loop " loops ":"
        for (i = 1; i <= m; i++) line = line " " f[i] " ->"
        print line " " f[1]
        for (i = 1; i <= m; i++) {
            k = f[i] " " f[i % m + 1]
            print "    " f[i] " -> " f[i % m + 1] ": " (k in syms ? syms[k] : "(no direct edge?)")
        }
        m = 0
    }
    /contains a loop/ { show(); next }
    { sub(/^tsort: /, ""); f[++m] = $0 }
    END { show() }
' "$tmp/tsort"
echo "FAIL: call cycles among the library's files (see above): a file must not use, even"
echo "      through others, a file that uses it"
exit 1
