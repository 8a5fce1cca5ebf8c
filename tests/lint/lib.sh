# SPDX-License-Identifier: MIT
# Shared by the lint checks (tests/lint/*.sh), which source it.

# tracked SRC DIR...: the *.c and *.h files under DIR... (relative to the
# source tree SRC) that git tracks, one a line, sorted. Outside a git
# checkout: the files on disk, build and install trees left out.
tracked() {
    src=$1
    shift
    if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        git -C "$src" ls-files -- "$@" | grep '\.[ch]$'
    else
        (cd "$src" && find "$@" -type d \( -name 'build*' -o -name 'install*' -o -name .git \) \
            -prune -o -type f \( -name '*.c' -o -name '*.h' \) -print) | sed 's|^\./||'
    fi | LC_ALL=C sort
}

# edges OBJECT...: one line "FROM TO SYMBOL" for each global symbol the object
# of FROM leaves undefined and the object of TO defines (nm). Files are named
# by their path under src/, from CMake's object names:
# .../loom.dir/src/runtime/job.c.o is runtime/job.c.
edges() {
    for o in "$@"; do
        [ -f "$o" ] || { echo "FAIL: no object $o (build the loom target first)" >&2; return 1; }
    done
    # nm -A: "OBJECT:VALUE TYPE SYMBOL", and no value for undefined symbols.
    { nm -A --defined-only -g "$@" | sed 's/^/D /' && nm -A -u "$@" | sed 's/^/U /'; } |
        awk '{
            f = $0
            sub(/^. /, "", f); sub(/:[^:]*$/, "", f); sub(/.*\/src\//, "", f); sub(/\.o$/, "", f)
            if ($1 == "D") def[$NF] = f
            else { from[++n] = f; sym[n] = $NF }
        }
        END {
            for (i = 1; i <= n; i++)
                if ((sym[i] in def) && def[sym[i]] != from[i])
                    print from[i], def[sym[i]], sym[i]
        }' | LC_ALL=C sort -u
}

# symbols_by_edge: read "FROM TO SYMBOL" lines, print "FROM TO SYM SYM..."
# once per pair, at most 6 symbols then "(+N more)".
symbols_by_edge() {
    awk '{ k = $1 " " $2; n[k]++; if (n[k] <= 6) s[k] = s[k] " " $3 }
        END { for (k in n) print k s[k] (n[k] > 6 ? " (+" n[k] - 6 " more)" : "") }' |
        LC_ALL=C sort
}
