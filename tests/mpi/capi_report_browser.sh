#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# A C-API job's job.report in a real browser: squares (300 tasks, 3 ranks)
# with LOOM_JOB_EVENTS and --job-report, then Debian's chromium, headless,
# renders the page (tests/support/report_chromium.sh: a screenshot kept as
# a test artefact, and the DOM, in which the timeline and one bar per
# attempt must be). The events file has one attempt line per task, a
# worker_join per worker, run_start first and run_end last.
#
#   capi_report_browser.sh SQUARES ARTEFACT_DIR
set -euo pipefail

SQUARES=$1
ART=$2
mkdir -p "$ART"
T=$(mktemp -d /tmp/loom-capi-report.XXXXXX)
trap 'rm -rf "$T"' EXIT
step() { printf '[%s] %s\n' "$(date +%T.%N | cut -c1-12)" "$*"; }
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1

step "squares --count 300 with LOOM_JOB_EVENTS and --job-report (3 ranks)"
export LOOM_JOB_EVENTS="$T/events.jsonl"
set +e
mpirun --oversubscribe --bind-to none --timeout 120 -np 3 -x LOOM_JOB_EVENTS "$SQUARES" \
    --count 300 --quiet --seed 11 --pool-threads 2 --job-report "$T/report.html" >"$T/out" 2>&1
rc=$?
set -e
[ $rc -eq 0 ] || fail "squares exit $rc: $(cat "$T/out")"
grep -qx 'loom-squares: 300 results, all correct' "$T/out" || fail "no verdict: $(cat "$T/out")"
cp "$T/report.html" "$ART/capi-report.html"
cp "$T/events.jsonl" "$ART/capi-events.jsonl"

step "job.events: run_start, 2 workers, 300 attempts, run_end"
E="$T/events.jsonl"
head -n1 "$E" | grep -q '^{"event":"run_start",.*"ranks":3,' || fail "first line: $(head -n1 "$E")"
tail -n1 "$E" | grep -q '^{"event":"run_end",.*"status":0,.*"tasks":300,"succeeded":300,"failed":0,' ||
    fail "last line: $(tail -n1 "$E")"
n=$(grep -c '^{"event":"worker_join",' "$E" || true)
[ "$n" -eq 2 ] || fail "$n worker_join lines, not 2"
n=$(grep -c '^{"event":"attempt",.*"outcome":"ok","cause":"ok","final":true,"cmd":"square"}$' "$E" || true)
[ "$n" -eq 300 ] || fail "$n ok attempt lines of square, not 300"

step "chromium: screenshot and DOM (tests/support/report_chromium.sh)"
SHOT="$ART/capi-report-screenshot.png"
bash "$(dirname "$0")/../support/report_chromium.sh" "$T/report.html" "$SHOT" "$T/dom.html" 300
grep -q 'Showing all 300 attempts' "$T/dom.html" || fail "no sampling note"
grep -q '<title>loom-squares report: ' "$T/dom.html" || fail "no title naming the program"
n=$(grep -c '<title>#[0-9]*: square' "$T/dom.html" || true)
[ "$n" -ge 300 ] || fail "$n tooltips naming the function, not 300"
grep -q 'No attempt failed.' "$T/dom.html" || fail "failures reported"

step "ok: screenshot $SHOT, page $ART/capi-report.html"
