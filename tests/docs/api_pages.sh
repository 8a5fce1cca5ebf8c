#!/bin/sh
# SPDX-License-Identifier: MIT
# Test api_pages: the pages of the API reference made from Markdown
# (README.md is the main page, index.html; docs/*.md and the other pages
# in docs/Doxyfile's INPUT are md_<path>.html) read as the Markdown does.
# Doxygen 1.9 garbles some Markdown that GitHub renders well
# (docs/markdown-filter.sh works around what is known); this test is how
# we learn of it.
#
#   api_pages.sh HTML_DIR SOURCE_DIR      (HTML_DIR: what api_reference built)
#
# For each Markdown file that has a page, in the page's contents outside
# code blocks:
#  1. no Doxygen markup leaks as text: its internal line markers
#     (\ilinebr, \iline, \ifile), table or paragraph tags shown as text
#     (&lt;/td&gt;, &lt;tr ...), and outside <code>: a backslash command
#     (\word) or a backtick (a code span that was not recognised);
#  2. every paragraph and list item of the Markdown file is in the page,
#     word for word: its words (runs of letters and digits; link targets
#     dropped) appear in this order in the page's text. A paragraph whose
#     code spans were turned inside out, or which lost text, fails;
#  3. every link of the page that is not to the web leads to a page of the
#     reference (a link left pointing at a .md file does not).
# README.md and every docs/*.md must have their page.
set -u
html=$1 src=$2
work=$(mktemp -d) || exit 1
trap 'rm -rf "$work"' EXIT
failed=0
fail() {
    echo "FAIL: $*"
    failed=1
}
[ -f "$html/index.html" ] || { echo "FAIL: $html/index.html does not exist"; exit 1; }

# contents PAGE: the page's contents, code blocks (fragments) removed
contents() {
    awk '
        /<div class="contents">/ { on = 1 }
        !on { next }
        /<!-- contents -->/ { on = 0 }
        {
            s = $0
            while (s != "") {
                if (!frag) {
                    i = index(s, "<div class=\"fragment\">")
                    if (!i) { print s; break }
                    printf "%s\n", substr(s, 1, i - 1)
                    s = substr(s, i); frag = 1
                } else {
                    j = index(s, "<!-- fragment -->")
                    if (!j) break
                    s = substr(s, j + 17); frag = 0
                }
            }
        }
    ' "$1"
}

# nocode: drop <code>...</code> (one line each)
nocode() {
    awk '{
        s = $0; out = ""
        while ((i = index(s, "<code>")) > 0) {
            out = out substr(s, 1, i - 1)
            s = substr(s, i)
            j = index(s, "</code>")
            if (!j) { s = ""; break }
            s = substr(s, j + 7)
        }
        print out s
    }'
}

# words: runs of letters and digits, one line, space-separated and
# space-framed, from HTML. Block and emphasis tags and entities separate
# words; code, links and spans do not, so "<code>x</code>y" is the word "xy", as
# a reader sees it.
html_words() {
    sed -E -e 's#</?(p|li|ul|ol|dl|dd|dt|div|table|tr|td|th|h[1-6]|br|hr|pre|blockquote|b|em|strong)( [^>]*)?/?>#  #g' \
        -e 's/<[^>]*>//g' -e 's/&[A-Za-z0-9#]*;/ /g' | LC_ALL=C tr -cs 'A-Za-z0-9' ' ' |
        sed -e 's/^ */ /' -e 's/ *$/ /'
}

# paragraphs MD: one line per paragraph or list item of prose (not code
# blocks, tables, headings), link targets dropped, words space-separated
paragraphs() {
    awk '
        function flush() { if (p != "") print p; p = "" }
        /^[ \t]*(```|~~~)/ { flush(); fence = !fence; next }
        fence { next }
        /^[ \t]*$/ || /^[ \t]*\|/ || /^#/ { flush(); next }
        /^[ \t]*([-*+]|[0-9]+\.)[ \t]/ { flush() }
        {
            s = $0
            sub(/^[ \t]*([-*+]|[0-9]+\.)[ \t]+/, "", s)   # the list marker
            gsub(/\]\([^)]*\)/, "]", s)
            gsub(/`/, "", s)                            # code spans join their neighbours
            p = p " " s
        }
        END { flush() }
    ' "$1" | LC_ALL=C tr -cs 'A-Za-z0-9\n' ' ' | sed -e 's/^ */ /' -e 's/ *$/ /' | grep -v '^ *$'
}

page_of() {
    case $1 in
    README.md) echo index.html ;;
    *) echo "md_$(printf '%s' "${1%.md}" | LC_ALL=C tr -c 'A-Za-z0-9\n' '_').html" ;;
    esac
}

if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
    git -C "$src" ls-files --cached --others --exclude-standard -- '*.md' | sort -u >"$work/files"
else
    (cd "$src" && find . -name '*.md' -not -path './build*' | sed 's|^\./||' | sort) >"$work/files"
fi
npages=0 nparas=0
while read -r md; do
    page=$(page_of "$md")
    if [ ! -f "$html/$page" ]; then
        case $md in
        README.md | docs/*.md) fail "$md has no page in the API reference ($page)" ;;
        esac
        continue
    fi
    npages=$((npages + 1))
    contents "$html/$page" >"$work/text"
    # 1. leaked markup
    grep -n -o -E '\\i(linebr|line|file)\b.{0,60}' "$work/text" >"$work/leak"
    grep -n -o -E '&lt;/?(td|tr|th|table|p|div|code)( |&gt;).{0,60}' "$work/text" >>"$work/leak"
    nocode <"$work/text" | sed 's/<[^>]*>/ /g' >"$work/prose"
    grep -n -o -E '\\[A-Za-z]+.{0,40}' "$work/prose" | sed 's/^/backslash command: /' >>"$work/leak"
    grep -n -o -E '.{0,40}`.{0,40}' "$work/prose" | sed 's/^/backtick: /' >>"$work/leak"
    if [ -s "$work/leak" ]; then
        fail "$page ($md) shows markup as text ($(wc -l <"$work/leak") places; the first of each kind):"
        sort -t: -k3,3 -u "$work/leak" | head -n 20
    fi
    # 2. every paragraph, word for word
    html_words <"$work/text" | tr -d '\n' >"$work/words"
    paragraphs "$src/$md" >"$work/paras"
    while IFS= read -r para; do
        nparas=$((nparas + 1))
        if ! grep -qF -- "$para" "$work/words"; then
            fail "$page: a paragraph of $md is not in the page as written:"
            echo "   $para" | cut -c1-300
            # where it goes wrong: the longest prefix of the paragraph found
            pre=""
            for w in $para; do
                grep -qF -- "$pre $w " "$work/words" || break
                pre="$pre $w"
            done
            echo "   the page has it as far as: ...$(printf '%s' "$pre" | tail -c 120)"
        fi
    done <"$work/paras"
    # 3. links stay inside the reference
    grep -o 'href="[^"]*"' "$html/$page" | sed 's/^href="//; s/"$//' | sort -u |
        while read -r href; do
            case $href in
            http://* | https://* | mailto:* | \#*) continue ;;
            *:*) echo "$page: link to $href" ;;
            *) [ -f "$html/${href%%#*}" ] || echo "$page: link to $href, which is not a page" ;;
            esac
        done >"$work/links"
    if [ -s "$work/links" ]; then
        fail "links that lead out of the reference:"
        cat "$work/links"
    fi
done <"$work/files"

echo "api_pages: $npages pages from Markdown, $nparas paragraphs checked"
exit $failed
