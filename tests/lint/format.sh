#!/bin/sh
# SPDX-License-Identifier: MIT
# Test lint_format: every tracked *.c and *.h file is as clang-format, with
# the repository's .clang-format, writes it.
#
#   format.sh CLANG_FORMAT SOURCE_DIR
#
# CLANG_FORMAT empty: clang-format was not found (cluster/bootstrap installs
# it, Debian package clang-format), and the test fails saying so. Other
# versions than the one CI runs (14) may format differently.
set -u
. "$(dirname "$0")/lib.sh"
cf=$1 src=$2
if [ -z "$cf" ]; then
    echo "FAIL: clang-format not found; install it (Debian: apt-get install clang-format)"
    exit 1
fi
[ -f "$src/.clang-format" ] || { echo "FAIL: no $src/.clang-format"; exit 1; }
files=$(tracked "$src" .)
[ -n "$files" ] || { echo "FAIL: no *.c or *.h file under $src"; exit 1; }
"$cf" --version
cd "$src" || exit 1
out=$(mktemp) || exit 1
trap 'rm -f "$out"' EXIT
# shellcheck disable=SC2086 # one word per file
if "$cf" --dry-run --Werror $files >"$out" 2>&1; then
    echo "ok: $(echo "$files" | wc -l) files are clang-format clean"
    exit 0
fi
# Each difference is "FILE:LINE:COL: error: code should be clang-formatted
# [...]" and two lines that show the place. Per file: the count and the first two.
awk '
    /: (error|warning): code should be clang-formatted/ {
        f = $0
        sub(/:[0-9]+:[0-9]+: .*/, "", f)
        if (!(f in n)) order[++files] = f
        k = ++n[f]
        show = k <= 2
    }
    show { text[f] = text[f] "    " $0 "\n" }
    END {
        if (files == 0) { print "FAIL: clang-format failed:"; system("cat " FILENAME); exit 1 }
        for (i = 1; i <= files; i++) {
            f = order[i]
            printf "FAIL: %s: %d place(s) to reformat, the first:\n%s", f, n[f], text[f]
        }
        print "FAIL: " files " file(s) not clang-format clean; fix with: clang-format -i FILE..."
        exit 1
    }' "$out"
