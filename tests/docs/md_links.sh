#!/bin/sh
# SPDX-License-Identifier: MIT
# Test md_links: every relative link of every Markdown file of the
# repository leads somewhere.
#
#   md_links.sh SOURCE_DIR
#
# The files are those git knows (tracked, or new and not ignored); without
# git, every *.md outside build trees. In each, outside fenced blocks and
# code spans, every link [text](target) or image ![alt](target) whose
# target has no scheme (http:, https:, mailto: ... are not followed):
#  - PATH names an existing file or directory, relative to the Markdown
#    file's own folder;
#  - PATH#FRAGMENT, when PATH is a Markdown file, and #FRAGMENT alone (the
#    same file), name a heading of that file by its GitHub anchor: the
#    heading's text in lower case, without what is not a letter, digit,
#    space, '-' or '_', spaces turned into '-'; a repeated heading gets
#    -1, -2... as GitHub numbers them.
# Every broken link is printed as FILE:LINE: target: why.
set -u
src=$1
cd "$src" || exit 1
work=$(mktemp -d) || exit 1
trap 'rm -rf "$work"' EXIT

if git rev-parse --git-dir >/dev/null 2>&1; then
    git ls-files --cached --others --exclude-standard -- '*.md' | sort -u >"$work/files"
else
    find . -name '*.md' -not -path './build*' -not -path './.git/*' | sed 's|^\./||' |
        sort >"$work/files"
fi
[ -s "$work/files" ] || { echo "FAIL: no Markdown file in $src"; exit 1; }

# anchors FILE: the GitHub anchor of each heading, one a line
anchors() {
    LC_ALL=C awk '
        /^[ \t]*(```|~~~)/ { fence = !fence; next }
        fence || !/^#+[ \t]/ { next }
        {
            h = $0
            sub(/^#+[ \t]+/, "", h); sub(/[ \t]+#+[ \t]*$/, "", h)
            gsub(/\]\([^)]*\)/, "", h)          # [text](url): the text only
            h = tolower(h)
            gsub(/[^a-z0-9 _-]/, "", h)
            gsub(/ /, "-", h)
            n = seen[h]++
            print (n ? h "-" n : h)
        }
    ' "$1"
}

# links FILE: "LINE TARGET" for each link outside code
links() {
    awk '
        /^[ \t]*(```|~~~)/ { fence = !fence; next }
        fence { next }
        {
            s = $0
            gsub(/`[^`]*`/, "", s)              # code spans
            while (match(s, /\]\([^) \t]+\)/)) {
                print NR, substr(s, RSTART + 2, RLENGTH - 3)
                s = substr(s, RSTART + RLENGTH)
            }
        }
    ' "$1"
}

failed=0 nlinks=0 nfrag=0
while read -r md; do
    [ -f "$md" ] || continue
    dir=$(dirname "$md")
    links "$md" >"$work/links"
    while read -r line target; do
        case $target in
        *:*) continue ;; # a scheme: http:, https:, mailto:
        esac
        nlinks=$((nlinks + 1))
        path=${target%%#*}
        frag=
        case $target in
        *#*) frag=${target#*#} ;;
        esac
        if [ -z "$path" ]; then
            file=$md
        else
            file=$dir/$path
        fi
        if [ ! -e "$file" ]; then
            echo "$md:$line: $target: $file does not exist"
            failed=1
            continue
        fi
        [ -n "$frag" ] || continue
        nfrag=$((nfrag + 1))
        case $file in
        *.md) ;;
        *)
            echo "$md:$line: $target: a #fragment of a file that is not Markdown"
            failed=1
            continue
            ;;
        esac
        if ! anchors "$file" | grep -qxF -- "$frag"; then
            echo "$md:$line: $target: $file has no heading whose anchor is #$frag; its anchors:"
            anchors "$file" | sed 's/^/    #/'
            failed=1
        fi
    done <"$work/links"
done <"$work/files"

echo "md_links: $(wc -l <"$work/files") Markdown files, $nlinks relative links," \
    "$nfrag with a #fragment"
[ "$failed" = 0 ] || echo "FAIL: broken links above"
exit $failed
