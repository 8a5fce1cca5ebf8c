#!/bin/sh
# SPDX-License-Identifier: MIT
# Test lint_function_length: no function over 100 lines in framework/ and
# apps/ (*.c), so that each one can be read in one go.
#
#   function_length.sh SOURCE_DIR ALLOWLIST
#
# The code style (.clang-format) puts a definition's name at column 0, its
# `{` and its closing `}` at column 0; a function's length counts from the
# name's line to the closing brace, both included. ALLOWLIST
# (tests/lint/long-functions.allow) holds "path:function" lines, e.g.
# framework/src/runtime/master.c:loom__master_run, for exceptions made on
# purpose; it is kept empty, and an entry that is no longer needed fails.
set -u
. "$(dirname "$0")/lib.sh"
src=$1 allow=$2 max=100
[ -r "$allow" ] || { echo "FAIL: cannot read the allowlist $allow"; exit 1; }
case $allow in /*) ;; *) allow=$PWD/$allow ;; esac
files=$(tracked "$src" framework apps | grep '\.c$')
[ -n "$files" ] || { echo "FAIL: no *.c file under $src/framework or $src/apps"; exit 1; }
# shellcheck disable=SC2086 # one word per file
cd "$src" && awk -v max=$max -v allow="$allow" '
    BEGIN { while ((getline l < allow) > 0) if (l !~ /^[ \t]*(#|$)/) allowed[l] = 1 }
    FNR == 1 { name = ""; body = 0 }
    !body && /^[A-Za-z_][A-Za-z0-9_]*[ \t]*\(/ {
        name = $0
        sub(/[ \t]*\(.*/, "", name)
        start = FNR
        if ($0 ~ /;[ \t]*$/) name = ""
        next
    }
    !body && /^\{/ && name != "" { body = 1; next }
    body && /^\}/ {
        body = 0
        len = FNR - start + 1
        key = FILENAME ":" name
        if (len > max && (key in allowed)) {
            print "allowed: " key ": " len " lines (line " start ")"
            used[key] = 1
            nused++
        } else if (len > max) {
            print "FAIL: " key ": " len " lines (line " start ")"
            bad++
        }
        name = ""
        checked++
    }
    END {
        for (k in allowed) if (!(k in used)) {
            print "FAIL: " k ": in the allowlist but not over " max " lines: remove it"
            bad++
        }
        if (checked == 0) { print "FAIL: no function found: has the code style changed?"; exit 1 }
        if (bad) {
            print "FAIL: " bad " problem(s) among " checked " functions: split the long ones" \
                " (exceptions on purpose: " allow ")"
            exit 1
        }
        print "ok: " checked " functions, none over " max " lines" (nused ? " but the allowed" : "")
    }' $files
