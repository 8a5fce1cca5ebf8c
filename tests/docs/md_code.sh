#!/bin/sh
# SPDX-License-Identifier: MIT
# Test md_code: the code the documentation shows is code that works, in
# every Markdown file of the repository (README.md, CONTRIBUTING.md,
# docs/*.md, bench/README.md, the folders' READMEs...).
#
#   md_code.sh SOURCE_DIR BINARY_DIR WORK_DIR MPIEXEC BENCH_BUILT CC [compile and link args...]
#
# The files are those git knows in SOURCE_DIR (tracked, or new and not
# ignored); without git, every *.md outside build trees. Rules (the pages
# are written to them):
#  - Every ```c block is one translation unit, compiled with the project's
#    warnings and -Werror against the built headers. `#line` directives make
#    an error name the Markdown file and its line.
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
#    info string (```text, ```json, or none); no ```c block is ever skipped.
#  - In every ```sh block, each word naming a path of the build tree
#    (build/...) must exist in BINARY_DIR, and each naming a path of the
#    repository (cluster/, hostfiles/, bench/, apps/, tests/, framework/,
#    docs/) must exist in SOURCE_DIR. build/bench/... is only checked when
#    the benchmarks are built (BENCH_BUILT=1).
#  - In every fenced block, an `mpirun -...` or `srun -...` line leaves
#    workers unbound (--bind-to none, --cpu-bind=none or a pe= mapping):
#    Open MPI would otherwise bind a worker, and its whole pool, to one
#    core (docs/cluster.md). tests/cluster/binding.sh checks the same of
#    hostfiles/ and cluster/slurm/.
#  - README.md has a whole C program: the C API's example.
set -u
src=$1 bin=$2 work=$3 mpiexec=$4 bench=$5 cc=$6
shift 6
rm -rf "$work" && mkdir -p "$work" || exit 1
failed=0
fail() {
    echo "FAIL: $*" >&2
    failed=1
}

list_md() {
    if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
        git -C "$src" ls-files --cached --others --exclude-standard -- '*.md' | sort -u
    else
        (cd "$src" && find . -name '*.md' -not -path './build*' -not -path './.git/*' |
            sed 's|^\./||' | sort)
    fi
}

# Split one Markdown file into DIR/c_<line>.c (c blocks, with a first line
# "//kind program|fragment|unit") and DIR/sh_<line>.sh; <line> is the line
# of the block's first code line. Launch lines that may bind a worker go
# to DIR/binding.
split_md() {
    awk -v dir="$2" -v file="$1" '
        function kindof(info) { return info ~ /fragment/ ? "fragment" : "unit" }
        !in_block && /^[ \t]*(```|~~~)/ {
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
        in_block && /^[ \t]*(```|~~~)[ \t]*$/ { in_block = 0; if (out != "") close(out); next }
        in_block && /(mpirun|srun) +-/ &&
            !/--bind-to none|--cpu-bind=none|pe=[0-9N]|srun --mpi=list/ {
            print file ":" NR ": " $0 >> (dir "/binding")
        }
        in_block && out != "" { print substr($0, indent + 1) >> out }
    ' "$src/$1"
}

# compile_c MD DIR FILE: compile (and maybe run) one extracted C block
compile_c() {
    md=$1 d=$2 f=$3
    shift 3
    line=$(basename "$f" .c | sed 's/^c_0*//')
    kind=$(head -n 1 "$f" | sed 's|^//kind ||')
    tu=$d/tu_$line.c exe=$d/prog_$line
    if [ "$kind" = fragment ]; then
        {
            printf '#include <loom.h>\n#include <inttypes.h>\n#include <stdio.h>\n'
            printf '#include <stdlib.h>\n#include <string.h>\n'
            printf 'void md_fragment(void);\nvoid md_fragment(void)\n{\n'
            printf '#line %s "%s"\n' "$line" "$md"
            tail -n +2 "$f"
            printf '}\n'
        } >"$tu"
    else
        { printf '#line %s "%s"\n' "$line" "$md"; tail -n +2 "$f"; } >"$tu"
        grep -q 'int main(' "$tu" && kind=program
    fi
    ncomp=$((ncomp + 1))
    if [ "$kind" = program ]; then
        [ "$md" = README.md ] && readme_programs=$((readme_programs + 1))
        if ! "$cc" "$tu" -o "$exe" "$@"; then
            fail "$md:$line: the C program does not compile and link"
            return
        fi
        if grep -q 'MPI_Init' "$tu"; then
            run="$mpiexec --oversubscribe --bind-to none -np 2 $exe"
        else
            run=$exe
        fi
        echo "== $md:$line: $run"
        # shellcheck disable=SC2086
        if ! OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
            OMPI_MCA_mpi_yield_when_idle=1 timeout 60 $run; then
            fail "$md:$line: the C program did not exit 0"
        fi
        nrun=$((nrun + 1))
    elif ! "$cc" -c "$tu" -o "$d/obj_$line.o" "$@"; then
        fail "$md:$line: the C $kind does not compile"
    fi
}

# check_sh MD FILE: the repository and build-tree paths a sh block names
check_sh() {
    md=$1 f=$2
    line=$(basename "$f" .sh | sed 's/^sh_0*//')
    # one word per line; only words that are repository or build-tree paths
    words=$(tr -s ' \t"'"'"'();|<>=' '\n' <"$f" |
        grep -E '^(build|cluster|hostfiles|bench|apps|tests|framework|docs)/[A-Za-z0-9_./-]*$' |
        sort -u)
    for w in $words; do
        case $w in
        build/bench/*) [ "$bench" = 1 ] || continue ;;
        build/*.deb) continue ;; # what the block's own cpack writes
        esac
        case $w in
        build/*) path=$bin/${w#build/} ;;
        *) path=$src/$w ;;
        esac
        npath=$((npath + 1))
        [ -e "$path" ] || fail "$md: the sh block at line $line names $w, but $path does not exist"
    done
}

ncomp=0 nrun=0 npath=0 nfiles=0 readme_programs=0
mds=$(list_md)
[ -n "$mds" ] || { echo "FAIL: no Markdown file found in $src" >&2; exit 1; }
for md in $mds; do
    [ -f "$src/$md" ] || continue
    nfiles=$((nfiles + 1))
    d=$work/$(printf '%s' "$md" | tr '/.' '__')
    mkdir -p "$d" || exit 1
    split_md "$md" "$d" || exit 1
    for f in "$d"/c_*.c; do
        [ -e "$f" ] || continue
        compile_c "$md" "$d" "$f" "$@"
    done
    for f in "$d"/sh_*.sh; do
        [ -e "$f" ] || continue
        check_sh "$md" "$f"
    done
    if [ -s "$d/binding" ]; then
        fail "launch lines that may bind a worker (and its pool) to one core; add --bind-to none:"
        cat "$d/binding" >&2
    fi
done

[ "$readme_programs" -gt 0 ] ||
    fail "README.md has no \`\`\`c program (int main): the C API's example is missing"
echo "md_code: $nfiles Markdown files, $ncomp C blocks compiled, $nrun programs run," \
    "$npath paths of sh blocks found"
exit $failed
