#!/bin/sh
# SPDX-License-Identifier: MIT
# Test lint_layers: includes and calls go one way, node <- formats <- runtime.
#
#   layers.sh SOURCE_DIR OBJECT...      (the objects of the loom target)
#
# The library's files sit in framework/src/{node,formats,runtime}/, layer 0,
# 1 and 2. A file may include the private headers, and use the symbols, of
# its own layer and the ones below only: node/ only node/, formats/ node/ and
# formats/, runtime/ all three.
#  - Includes: `#include "x.h"` is resolved by bare name to the layer folder
#    that holds x.h (the three folders are the include path). Public headers
#    (<loom/x.h>, framework/include/) are the API: allowed anywhere.
#  - Calls: the symbol edges between the objects (nm, as lint_call_cycles).
set -u
. "$(dirname "$0")/lib.sh"
src=$1
shift
failed=0

# Includes. The layer of a file is the folder under framework/src/.
files=$(tracked "$src" framework/src)
[ -n "$files" ] || { echo "FAIL: no source file under $src/framework/src"; exit 1; }
# shellcheck disable=SC2086 # one word per file
(cd "$src" && awk '
    BEGIN {
        rank["node"] = 0; rank["formats"] = 1; rank["runtime"] = 2
        for (i = 1; i < ARGC; i++) {
            n = split(ARGV[i], p, "/")
            if (p[n] !~ /\.h$/) continue
            if ((p[n] in home) && home[p[n]] != p[3]) two[p[n]] = home[p[n]] " and " p[3]
            home[p[n]] = p[3]
        }
    }
    FNR == 1 {
        split(FILENAME, p, "/")
        layer = p[3]
        if (!(layer in rank)) {
            print "FAIL: " FILENAME ": not in a layer folder (node, formats, runtime)"
            bad++
        }
    }
    /^[ \t]*#[ \t]*include[ \t]*"/ {
        h = $0
        sub(/^[^"]*"/, "", h)
        sub(/".*/, "", h)
        if (h in two) {
            print "FAIL: " FILENAME ":" FNR ": " h " is in two layers (" two[h] ")"
            bad++
        } else if ((h in home) && (layer in rank) && rank[home[h]] > rank[layer]) {
            print "FAIL: " FILENAME ":" FNR ": " layer "/ includes " home[h] "/" h; bad++
        }
    }
    END { exit bad > 0 }' $files) || failed=1

# Calls.
edges=$(edges "$@") || exit 1
[ -n "$edges" ] || { echo "FAIL: no edge between $# objects: is nm working?"; exit 1; }
printf '%s\n' "$edges" | symbols_by_edge | awk '
    BEGIN { rank["node"] = 0; rank["formats"] = 1; rank["runtime"] = 2 }
    {
        split($1, a, "/"); split($2, b, "/")
        if (!(a[1] in rank) || !(b[1] in rank)) {
            print "FAIL: " $1 " -> " $2 ": not in a layer folder (node, formats, runtime)"; bad++
        } else if (rank[b[1]] > rank[a[1]]) {
            s = $0
            sub(/^[^ ]+ [^ ]+ /, "", s)
            print "FAIL: " $1 " calls " $2 ": " s; bad++
        }
    }
    END { exit bad > 0 }' || failed=1

if [ "$failed" -ne 0 ]; then
    echo "FAIL: node/ may use only node/; formats/ node/ and formats/; runtime/ all three"
    exit 1
fi
echo "ok: includes of $(echo "$files" | wc -l) files and $(echo "$edges" | wc -l) symbol edges" \
    "go node <- formats <- runtime"
