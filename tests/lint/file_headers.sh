#!/bin/sh
# SPDX-License-Identifier: MIT
# Test lint_file_headers: every *.c and *.h file under framework/, apps/,
# bench/ and tests/ starts with its licence and says what it is.
#
#   file_headers.sh SOURCE_DIR
#
# Line 1 is exactly `/* SPDX-License-Identifier: MIT */`; the next line
# that is not blank opens a comment (`/*`) that says what the file is.
set -u
. "$(dirname "$0")/lib.sh"
src=$1
files=$(tracked "$src" framework apps bench tests)
[ -n "$files" ] || { echo "FAIL: no *.c or *.h file under $src"; exit 1; }
# shellcheck disable=SC2086 # one word per file
cd "$src" && awk '
    BEGIN { for (i = 1; i < ARGC; i++) empty[ARGV[i]] = 1 }
    function bad(why) { print "FAIL: " FILENAME ":" FNR ": " why; n++; want = 0 }
    FNR == 1 {
        delete empty[FILENAME]
        if (want) { print "FAIL: " prev ": no comment saying what the file is"; n++ }
        prev = FILENAME
        want = 1
        if ($0 != "/* SPDX-License-Identifier: MIT */")
            bad("the first line must be /* SPDX-License-Identifier: MIT */")
        next
    }
    !want || /^[ \t]*$/ { next }
    /^\/\*/ { want = 0; next }
    { bad("after the licence line, a /* comment must say what the file is") }
    END {
        if (want) { print "FAIL: " prev ": no comment saying what the file is"; n++ }
        for (f in empty) { print "FAIL: " f ": empty file"; n++ }
        if (n) { print "FAIL: " n " file(s) without the licence line or the comment"; exit 1 }
        print "ok: " ARGC - 1 " files start with the licence line and say what they are"
    }' $files
