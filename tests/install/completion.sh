#!/bin/bash
# SPDX-License-Identifier: MIT
# The bash completion of loom-run (dist/loom-run.bash), sourced in a bare
# bash as bash-completion would load it, completes what a user types:
# options from loom-run's own --help, files, directories and the words
# some options take. Run by ctest (test bash_completion):
#   completion.sh COMPLETION_FILE LOOM_RUN
set -u
file=$1 loomrun=$2
fail=0
bad() { printf 'FAIL: %s\n' "$*"; fail=1; }
# shellcheck source=/dev/null
source "$file" || { echo "FAIL: cannot source $file"; exit 1; }
spec=$(complete -p loom-run 2>/dev/null) || { echo "FAIL: $file registers no completion for loom-run"; exit 1; }
fn=$(sed -nE 's/.* -F ([^ ]+) .*/\1/p' <<<"$spec")
[ -n "$fn" ] || { echo "FAIL: no function in '$spec'"; exit 1; }
PATH="$(dirname "$loomrun"):$PATH"

# complete WORD... : the command line typed so far, the last word being
# completed; COMPREPLY as one line, sorted
complete_line()
{
    COMP_WORDS=("$@")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMP_LINE="$*"
    COMP_POINT=${#COMP_LINE}
    COMPREPLY=()
    "$fn" loom-run "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
    printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ' | sed 's/ $//'
}
expect()
{
    local want=$1
    shift
    local got
    got=$(complete_line "$@")
    [ "$got" = "$want" ] || bad "'$*': got '$got', want '$want'"
    echo "'$*' -> $got"
}

# the brief's case: --jo gives --joblog (and loom's --job-* settings)
got=$(complete_line loom-run --jo)
grep -qw -- --joblog <<<"$got" || bad "'loom-run --jo' does not offer --joblog: '$got'"
for w in $got; do
    [[ $w == --jo* ]] || bad "'loom-run --jo' offers $w"
done
echo "'loom-run --jo' -> $got"
expect "--joblog" loom-run --jobl
expect "--keep-order" loom-run --keep
expect "--no-progress" loom-run --no-p
expect "--results --resume --resume-failed" loom-run -c 'gzip {}' --res
expect "--version" loom-run --vers
expect "debug error info trace warn" loom-run --log-level ""
expect "debug" loom-run --log-level = de
expect "fork helper" loom-run --task-isolate-mode ""
expect "false true" loom-run --pool-pin ""
grep -qw never <<<"$(complete_line loom-run --halt "")" || bad "--halt does not offer never"
expect "" loom-run --retries ""
expect "--block --block-size" loom-run --pipe --blo
expect "--pipe" loom-run --pip
expect "--max-args --max-chars --max-replace-args" loom-run --max-
expect "100M 10M 1G 1M 1k" loom-run --pipe --block ""
expect "" loom-run -n ""
expect "" loom-run -c ""
# GNU Parallel's output options, and --delay taking a value
expect "--tag --tagstring" loom-run --tag
expect "--line-buffer" loom-run --line
expect "--ungroup" loom-run --ung
expect "--verbose" loom-run --verb
expect "" loom-run --delay ""

# names: files for --joblog and the task file, directories for --results
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir "$T/out.d"
: >"$T/tasks.txt"
: >"$T/run.log"
expect "$T/run.log" loom-run --joblog "$T/run"
expect "$T/tasks.txt" loom-run --quiet "$T/ta"
expect "$T/out.d" loom-run --results "$T/o"
expect "" loom-run --results "$T/run"
exit $fail
