# SPDX-License-Identifier: MIT
# bash completion of loom-run: its options and loom's settings, as the
# program's own --help lists them (so the list cannot drift), file and
# directory names where an option takes one, and the words --halt,
# --log-level and the boolean and mode settings accept. Installed to
# share/bash-completion/completions/loom-run (bash-completion loads it on
# first use of loom-run); `source` it to use it without bash-completion.

# Options of the loom-run at path $1 into _loom_run_opts (all) and
# _loom_run_valued (those taking a value), read once per path.
_loom_run_learn()
{
    [[ ${_loom_run_learnt-} == "$1" ]] && return
    local help line sep group
    help=$("$1" --help 2>/dev/null) || return
    _loom_run_opts=() _loom_run_valued=()
    # "  -c, --command TEMPLATE  ...", "  --pool-threads   <INT 0..4096> ..."
    while IFS= read -r line; do
        [[ $line =~ ^\ {1,4}(-.*)$ ]] || continue
        line=${BASH_REMATCH[1]} group=()
        while [[ $line =~ ^(--?[a-zA-Z][a-zA-Z0-9-]*)(,\ |\ +[A-Z<]|\ |=|$)(.*)$ ]]; do
            group+=("${BASH_REMATCH[1]}") sep=${BASH_REMATCH[2]} line=${BASH_REMATCH[3]}
            [[ $sep == ", " ]] || break
        done
        _loom_run_opts+=("${group[@]}")
        [[ $sep == *[A-Z\<] ]] && _loom_run_valued+=("${group[@]}")
    done <<<"$help"
    _loom_run_learnt=$1
}

_loom_run()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=
    ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
    # --opt=value: bash splits it into --opt, = and value
    if [[ $cur == "=" ]]; then
        cur=""
    elif [[ $prev == "=" ]] && ((COMP_CWORD > 1)); then
        prev=${COMP_WORDS[COMP_CWORD - 2]}
    fi
    [[ $prev == "=" ]] && prev=${COMP_WORDS[COMP_CWORD - 2]}
    COMPREPLY=()
    _loom_run_learn "${COMP_WORDS[0]}"

    local words=
    case $prev in
    --joblog | --events | --report | --ompi-server | --config | --job-events | --job-report | \
        -a | --arg-file | ::::*)
        compopt -o filenames 2>/dev/null
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
        return
        ;;
    --results | --serve | --join)
        compopt -o filenames 2>/dev/null
        mapfile -t COMPREPLY < <(compgen -d -- "$cur")
        return
        ;;
    --halt)
        words="never soon,fail=1 now,fail=1 soon,fail= now,fail= soon,success= now,success= soon,done= now,done="
        compopt -o nospace 2>/dev/null
        ;;
    --log-level) words="error warn info debug trace" ;;
    --header) words=":" ;;
    -j | --jobs) words="1 2 4 8 50% 100% +0 -1 0" ;;
    -d | --delimiter) words="\\n \\t \\0 , ;" ;;
    --shell) words="bash sh dash zsh ksh" ;;
    --block | --block-size) words="1k 1M 10M 100M 1G" ;;
    --recend | --recstart) words="\\n \\0 ;" ;;
    --pool-pin | --job-isolate) words="true false" ;;
    --task-isolate-mode) words="helper fork" ;;
    esac
    if [[ -n $words ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$words" -- "$cur")
        return
    fi
    local o
    for o in "${_loom_run_valued[@]}"; do
        [[ $prev == "$o" ]] && return # a number, a template: nothing to offer
    done
    if [[ $cur == :* ]]; then
        mapfile -t COMPREPLY < <(compgen -W "::: :::+ :::: ::::+" -- "$cur")
        return
    fi
    if [[ $cur == -* ]]; then
        mapfile -t COMPREPLY < <(compgen -W "${_loom_run_opts[*]}" -- "$cur")
        return
    fi
    compopt -o filenames 2>/dev/null # the task file
    mapfile -t COMPREPLY < <(compgen -f -- "$cur")
}

complete -F _loom_run loom-run
