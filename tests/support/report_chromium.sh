#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Render a report page (job.report, loom-run --report) in a real browser:
# Debian's chromium, headless. Writes a screenshot (a test artefact) and
# the DOM chromium built from the page, then checks what every report must
# show: the timeline with BARS bars (its data-bars and that many bar
# elements), the histogram, the utilisation per node and the slowest
# attempts. The caller checks the rest in the DOM file.
#
#   report_chromium.sh PAGE SCREENSHOT.png DOM_OUT BARS
#
# Exits 1
# (saying why) on the first failed check. chromium is a test dependency
# (cluster/bootstrap installs it): without it the test fails, it is not
# skipped.
set -euo pipefail

PAGE=$1
SHOT=$2
DOM=$3
BARS=$4
fail() {
    echo "FAIL: $*" >&2
    exit 1
}

BROWSER=$(command -v chromium || command -v chromium-browser || true)
[ -n "$BROWSER" ] || fail "chromium is not installed (apt-get install chromium; cluster/bootstrap does)"
[ -s "$PAGE" ] || fail "no page at $PAGE"
PROFILE=$(mktemp -d /tmp/loom-chromium.XXXXXX)
trap 'rm -rf "$PROFILE"' EXIT

rm -f "$SHOT"
timeout 120 "$BROWSER" --headless --no-sandbox --disable-gpu --user-data-dir="$PROFILE" \
    --screenshot="$SHOT" --window-size=1400,1000 "file://$PAGE" >"$PROFILE/shot.log" 2>&1 ||
    fail "chromium --screenshot failed: $(tail -5 "$PROFILE/shot.log")"
[ -s "$SHOT" ] || fail "no screenshot"
size=$(stat -c %s "$SHOT")
[ "$(head -c 8 "$SHOT" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "not a PNG"
[ "$size" -gt 20000 ] || fail "a screenshot of $size bytes: a blank page?"

timeout 120 "$BROWSER" --headless --no-sandbox --disable-gpu --user-data-dir="$PROFILE" \
    --dump-dom "file://$PAGE" >"$DOM" 2>"$PROFILE/dom.log" ||
    fail "chromium --dump-dom failed: $(tail -5 "$PROFILE/dom.log")"
grep -q "<svg id=\"timeline\" data-bars=\"$BARS\"" "$DOM" || fail "no timeline of $BARS bars in the DOM"
bars=$(grep -o '<rect class="bar o-[a-z_]*' "$DOM" | wc -l)
[ "$bars" -eq "$BARS" ] || fail "$bars bars in the DOM, not $BARS"
grep -q '<svg id="histogram"' "$DOM" || fail "no histogram"
grep -q '<svg id="utilisation"' "$DOM" || fail "no utilisation"
grep -q '<div id="slowest">' "$DOM" || fail "no slowest table"
echo "rendered: $SHOT ($size bytes), $bars bars"
