#!/bin/sh
# SPDX-License-Identifier: MIT
# Test readme_code: the code README.md shows is the code that works.
#
#   readme_code.sh SOURCE_DIR BINARY_DIR WORK_DIR MPIEXEC BENCH_BUILT CC [compile and link args...]
#
# Rules (README.md is written to them):
#  - Every ```c block is one translation unit, compiled with the project's
#    warnings and -Werror against the built headers. `#line` directives make
#    an error name README.md and its line.
#      * A block with `int main(` is a whole program: it is linked against
#        libloom and MPI and run — under `MPIEXEC --oversubscribe --bind-to
#        none -np 2` when it calls MPI_Init, else directly — and must exit 0
#        within 60 s.
#      * A block whose fence says ```c fragment is statements: it is
#        compiled (not run) as the body of a function, after <loom.h>,
#        <inttypes.h>, <stdio.h>, <stdlib.h> and <string.h>. A fragment
#        must declare what it uses.
#      * Any other ```c block (declarations, functions) is compiled only.
#    Text that is not C, or not meant to compile, is fenced with another
#    info string (```text, or none); no ```c block is ever skipped.
#  - In every ```sh block, each word naming a path of the build tree
#    (build/...) must exist in BINARY_DIR, and each naming a path of the
#    repository (cluster/, hostfiles/, bench/, apps/, tests/, framework/)
#    must exist in SOURCE_DIR. build/bench/... is only checked when the
#    benchmarks are built (BENCH_BUILT=1).
set -u
src=$1 bin=$2 work=$3 mpiexec=$4 bench=$5 cc=$6
shift 6
readme=$src/README.md
rm -rf "$work" && mkdir -p "$work" || exit 1
failed=0
fail() {
    echo "FAIL: $*" >&2
    failed=1
}

# Split README.md into work/c_<line>.c (c blocks, with a first line
# "//kind program|fragment|unit") and work/sh_<line>.sh; <line> is the line
# of the block's first code line in README.md.
awk -v dir="$work" '
    function kindof(info) { return info ~ /fragment/ ? "fragment" : "unit" }
    !in_block && /^[ \t]*```/ {
        match($0, /^[ \t]*/); indent = RLENGTH
        info = substr($0, indent + 4); sub(/^[ \t]+/, "", info)
        split(info, w, /[ \t]+/)
        in_block = 1; out = ""
        if (w[1] == "c") {
            out = sprintf("%s/c_%05d.c", dir, NR + 1)
            print "//kind " kindof(info) > out
        } else if (w[1] == "sh") {
            out = sprintf("%s/sh_%05d.sh", dir, NR + 1)
            printf "" > out
        }
        next
    }
    in_block && /^[ \t]*```[ \t]*$/ { in_block = 0; if (out != "") close(out); next }
    in_block && out != "" { print substr($0, indent + 1) >> out }
' "$readme" || exit 1

ncomp=0 nrun=0 npath=0
for f in "$work"/c_*.c; do
    [ -e "$f" ] || continue
    line=$(basename "$f" .c | sed 's/^c_0*//')
    kind=$(head -n 1 "$f" | sed 's|^//kind ||')
    tu=$work/tu_$line.c exe=$work/prog_$line
    if [ "$kind" = fragment ]; then
        {
            printf '#include <loom.h>\n#include <inttypes.h>\n#include <stdio.h>\n'
            printf '#include <stdlib.h>\n#include <string.h>\n'
            printf 'void readme_fragment(void);\nvoid readme_fragment(void)\n{\n'
            printf '#line %s "README.md"\n' "$line"
            tail -n +2 "$f"
            printf '}\n'
        } >"$tu"
    else
        { printf '#line %s "README.md"\n' "$line"; tail -n +2 "$f"; } >"$tu"
        grep -q 'int main(' "$tu" && kind=program
    fi
    ncomp=$((ncomp + 1))
    if [ "$kind" = program ]; then
        if ! "$cc" "$tu" -o "$exe" "$@"; then
            fail "README.md:$line: the C program does not compile and link"
            continue
        fi
        if grep -q 'MPI_Init' "$tu"; then
            run="$mpiexec --oversubscribe --bind-to none -np 2 $exe"
        else
            run=$exe
        fi
        echo "== README.md:$line: $run"
        # shellcheck disable=SC2086
        if ! OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
            OMPI_MCA_mpi_yield_when_idle=1 timeout 60 $run; then
            fail "README.md:$line: the C program did not exit 0"
        fi
        nrun=$((nrun + 1))
    elif ! "$cc" -c "$tu" -o "$work/obj_$line.o" "$@"; then
        fail "README.md:$line: the C $kind does not compile"
    fi
done

for f in "$work"/sh_*.sh; do
    [ -e "$f" ] || continue
    line=$(basename "$f" .sh | sed 's/^sh_0*//')
    # one word per line; only words that are repository or build-tree paths
    words=$(tr -s ' \t"'"'"'();|<>=' '\n' <"$f" |
        grep -E '^(build|cluster|hostfiles|bench|apps|tests|framework)/[A-Za-z0-9_./-]*$' | sort -u)
    for w in $words; do
        case $w in
        build/bench/*) [ "$bench" = 1 ] || continue ;;
        esac
        case $w in
        build/*) path=$bin/${w#build/} ;;
        *) path=$src/$w ;;
        esac
        npath=$((npath + 1))
        [ -e "$path" ] || fail "README.md: the sh block at line $line names $w, but $path does not exist"
    done
done

[ "$ncomp" -gt 0 ] || fail "README.md has no \`\`\`c block: the C API's example is missing"
echo "readme_code: $ncomp C blocks compiled, $nrun programs run, $npath paths of sh blocks found"
exit $failed
