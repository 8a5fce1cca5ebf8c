#!/bin/sh
# SPDX-License-Identifier: MIT
# The manual pages (man/) render without a warning, and loom-run.1 cannot
# drift from the program: every option `loom-run --help` lists appears in
# the rendered page, and every option the page lists under OPTIONS is one
# --help has. Run by ctest (test man_pages):
#   man_pages.sh MAN_DIR LOOM_RUN
set -u
dir=$1 loomrun=$2
fail=0
bad() { printf 'FAIL: %s\n' "$*"; fail=1; }

# 1. each page, by every renderer there is: groff (groff-base) always,
#    mandoc when installed (cluster/bootstrap test installs it)
command -v groff >/dev/null || { echo "FAIL: groff not installed (Debian: groff-base)"; exit 1; }
for page in "$dir"/loom-run.1 "$dir"/loom.cfg.5 "$dir"/loom.7; do
    [ -s "$page" ] || { bad "$page missing"; continue; }
    out=$(groff -ww -mandoc -Tutf8 -z "$page" 2>&1)
    [ -z "$out" ] || bad "groff warns about $page: $out"
    if command -v mandoc >/dev/null; then
        out=$(mandoc -T lint -W warning "$page" 2>&1)
        [ -z "$out" ] || bad "mandoc -T lint warns about $page: $out"
    fi
    echo "rendered without a warning: $page"
done

# 2. loom-run --help against loom-run.1
help=$("$loomrun" --help) || { bad "loom-run --help failed"; exit 1; }
# the options: words starting with - at the start of a help line or after ", "
opts=$(printf '%s\n' "$help" | grep -E '^ {1,4}-' |
    sed -E 's/^ +//; s/  .*$//; s/, /\n/g' | sed -E 's/[ =].*$//' | grep -E '^--?[a-zA-Z0-9]' | sort -u)
n=$(printf '%s\n' "$opts" | grep -c .)
[ "$n" -ge 40 ] || bad "only $n options found in loom-run --help: $opts"
text=$(groff -mandoc -Tascii -P-c -P-b -P-u "$dir/loom-run.1" 2>/dev/null)
for o in $opts; do
    printf '%s\n' "$text" | grep -Eq -- "(^|[^a-zA-Z0-9-])$o([^a-zA-Z0-9-]|\$)" ||
        bad "loom-run --help lists $o, loom-run.1 does not"
done
# and back: the items of the page's option lists
items=$(sed -n '/^\.Sh OPTIONS/,/^\.Sh /p' "$dir/loom-run.1" | grep '^\.It Fl ' |
    sed -E 's/^\.It //; s/ Ar [^,]*//g; s/ Cm [^,]*//g; s/ Ns.*//' | tr ',' '\n' |
    sed -E 's/^ *Fl /-/; s/ *$//' | sort -u)
# -h: accepted as --help's short form, which --help does not list
for o in $items; do
    [ "$o" = -h ] && continue
    printf '%s\n' "$opts" | grep -qx -- "$o" || bad "loom-run.1 lists $o, loom-run --help does not"
done
[ $fail -eq 0 ] && echo "loom-run --help: $n options, all in loom-run.1; $(printf '%s\n' "$items" | grep -c .) option items in the page, all in --help"
exit $fail
