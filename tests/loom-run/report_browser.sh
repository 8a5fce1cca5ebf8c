#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# loom-run --report in a real browser: 100 real tasks under mpirun (3
# ranks), then Debian's chromium, headless, renders the page: a screenshot
# (kept as a test artefact) and the DOM it built, in which the timeline and
# one bar per attempt must be. Also: --events has one attempt line per task
# between run_start and run_end, and unwritable --report / --events paths
# are refused with 255 before anything runs.
#
#   report_browser.sh LOOM_RUN ARTEFACT_DIR
#
# chromium is a test dependency (cluster/bootstrap installs it): without it
# this test fails, it is not skipped.
set -euo pipefail

LOOMRUN=$1
ART=$2
mkdir -p "$ART"
T=$(mktemp -d /tmp/loom-report-test.XXXXXX)
trap 'rm -rf "$T"' EXIT
step() { printf '[%s] %s\n' "$(date +%T.%N | cut -c1-12)" "$*"; }
fail() {
    echo "FAIL: $*" >&2
    exit 1
}

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1
loomrun() {
    mpirun --oversubscribe --bind-to none --timeout 120 -np 3 "$LOOMRUN" "$@"
}

# 100 tasks: short sleeps, 10 failures (exit 3), commands with HTML in them
for i in $(seq 1 100); do
    if [ $((i % 10)) -eq 0 ]; then
        echo "exit 3"
    elif [ $((i % 10)) -eq 5 ]; then
        echo "echo '<b>&amp;\"$i\"</b>' >/dev/null"
    else
        echo "sleep 0.0$((i % 7))"
    fi
done >"$T/tasks.txt"

step "unwritable --report and --events: 255, nothing run"
set +e
loomrun --report /nonexistent-dir/r.html "$T/tasks.txt" >"$T/out" 2>"$T/err"
rc=$?
set -e
[ $rc -eq 255 ] || fail "--report to an unwritable path: exit $rc, not 255"
grep -q -- "--report /nonexistent-dir/r.html: cannot write it" "$T/err" || fail "no message: $(cat "$T/err")"
[ ! -s "$T/out" ] || fail "tasks ran: $(cat "$T/out")"
set +e
loomrun --events /nonexistent-dir/e.jsonl "$T/tasks.txt" >"$T/out" 2>"$T/err"
rc=$?
set -e
[ $rc -eq 255 ] || fail "--events to an unwritable path: exit $rc, not 255"
grep -q -- "--events /nonexistent-dir/e.jsonl: cannot write it" "$T/err" || fail "no message: $(cat "$T/err")"

step "loom-run --report --events on 100 tasks (3 ranks)"
set +e
loomrun --quiet --report "$T/report.html" --events "$T/events.jsonl" "$T/tasks.txt" >"$T/out" 2>"$T/err"
rc=$?
set -e
[ $rc -eq 10 ] || fail "loom-run exit $rc, not 10 (10 tasks fail): $(cat "$T/err")"
cp "$T/report.html" "$ART/report.html"
cp "$T/events.jsonl" "$ART/events.jsonl"

step "--events: run_start, 100 attempts, run_end"
head -n1 "$T/events.jsonl" | grep -q '^{"event":"run_start",' || fail "first line is not run_start"
tail -n1 "$T/events.jsonl" | grep -q '^{"event":"run_end",.*"status":10,.*"failed":10,' ||
    fail "last line is not run_end with status 10: $(tail -n1 "$T/events.jsonl")"
n=$(grep -c '^{"event":"attempt",' "$T/events.jsonl")
[ "$n" -eq 100 ] || fail "$n attempt lines, not 100"
n=$(grep -c '"outcome":"failed"' "$T/events.jsonl")
[ "$n" -eq 10 ] || fail "$n failed attempts, not 10"

step "chromium: screenshot and DOM (tests/support/report_chromium.sh)"
SHOT="$ART/report-screenshot.png"
bash "$(dirname "$0")/../support/report_chromium.sh" "$T/report.html" "$SHOT" "$T/dom.html" 100
size=$(stat -c %s "$SHOT")
failed=$(grep -o '<rect class="bar o-failed"' "$T/dom.html" | wc -l)
[ "$failed" -eq 10 ] || fail "$failed red bars, not 10"
grep -q 'Showing all 100 attempts' "$T/dom.html" || fail "no sampling note"
grep -q '10 &times; exit 3\|10 × exit 3' "$T/dom.html" || fail "no failure causes"
# the commands' HTML stayed text: no <b> element was made of it
! grep -q '<b>' "$T/dom.html" || fail "a command's <b> became an element"
grep -q "echo '&lt;b&gt;&amp;amp;" "$T/dom.html" || fail "a command's text is not in the page"

step "ok: screenshot $SHOT ($size bytes), page $ART/report.html"
