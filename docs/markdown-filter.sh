#!/bin/sh
# SPDX-License-Identifier: MIT
# Doxygen input filter for the Markdown pages (docs/Doxyfile,
# FILTER_PATTERNS): it works around two bugs of Doxygen 1.9 so that a page
# renders as it does on GitHub. The files themselves are not changed.
#
#  1. A code span (`...`) that runs over three lines or more is not
#     recognised: its backticks stay in the text and the code spans after
#     it in the paragraph are turned inside out. Lines inside an open code
#     span are joined, so every span ends on the line it starts on.
#  2. A backslash inside a code span of a table row is read as a command
#     ('b\na' -> "unknown command \na") and, escaped, breaks the table: the
#     rest of the table leaks as text with Doxygen's internal "\ilinebr"
#     markers. Such a span is written as <code>...</code> instead, with the
#     backslashes doubled and "--" kept from becoming a dash.
#  3. A link to a heading of another page, [text](page.md#heading), is not
#     resolved: it would stay a link to the .md file. The fragment is
#     dropped, so the link goes to the page.
#
# tests/docs/api_pages.sh checks the rendered pages for both symptoms.
exec awk '
function code_html(s) {
    gsub(/&/, "\\&amp;", s)
    gsub(/</, "\\&lt;", s)
    gsub(/>/, "\\&gt;", s)
    gsub(/\\/, "\\\\\\\\", s)
    gsub(/--/, "\\--", s)
    return "<code>" s "</code>"
}
function table_row(line,    n, part, i, out) {
    n = split(line, part, "`")
    if (n % 2 == 0)          # an unmatched backtick: leave the row alone
        return line
    out = part[1]
    for (i = 2; i <= n; i += 2)
        out = out (part[i] ~ /\\/ ? code_html(part[i]) : "`" part[i] "`") part[i + 1]
    return out
}
function ticks(s) { return gsub(/`/, "`", s) }
function emit(line) {
    gsub(/\.md#[^)]*\)/, ".md)", line)
    print (line ~ /^[ \t]*\|/ ? table_row(line) : line)
}
/^[ \t]*(```|~~~)/ {
    if (held != "") { emit(held); held = "" }
    fence = !fence
    print
    next
}
fence { print; next }
{
    line = $0
    if (held != "") {
        if (line ~ /^[ \t]*$/) { emit(held); held = ""; print; next }
        sub(/^[ \t]+/, "", line)
        line = held " " line
        held = ""
    }
    if (ticks(line) % 2 == 1 && line !~ /^[ \t]*\|/) { held = line; next }
    emit(line)
}
END { if (held != "") emit(held) }
' "$1"
