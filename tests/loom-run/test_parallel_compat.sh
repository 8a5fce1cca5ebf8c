#!/bin/bash
# SPDX-License-Identifier: MIT
# What a GNU Parallel user types, run by GNU Parallel and by loom-run (-k:
# outputs in input order): their standard output and exit status must be
# the same, and with --joblog their job logs less Host and times (Seq,
# Exitval, Signal, Command). A few cases check what cannot be diffed ({%}
# with several slots). Every difference is printed; the test fails on any.
#
#   test_parallel_compat.sh LOOM_RUN_BINARY [WORKDIR]
#
# Needs GNU Parallel (Debian package parallel; cluster/bootstrap installs
# it). Differences kept on purpose are in docs/loom-run.md, "Differences
# from GNU Parallel", and are not cases here.
set -u
LOOMRUN=${1:?usage: $0 LOOM_RUN_BINARY [WORKDIR]}
WORK=${2:-$(mktemp -d /tmp/parallel-compat-XXXXXX)}
PARALLEL_BIN=${PARALLEL_BIN:-parallel}
command -v "$PARALLEL_BIN" >/dev/null || { echo "GNU Parallel not installed"; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
unset PARALLEL PARALLEL_SHELL
mkdir -p "$WORK" && cd "$WORK" || exit 1

cases=0 failed=0
fail() {
    failed=$((failed + 1))
    printf 'FAIL %s: %s\n' "$1" "$2"
}

# run NAME STDIN ARGS...: both tools, outputs in p.* and l.*
run_both() {
    local in=$2
    shift 2
    "$PARALLEL_BIN" --will-cite -k "$@" <"$in" >p.out 2>p.err
    echo $? >p.rc
    "$LOOMRUN" -k --quiet "$@" <"$in" >l.out 2>l.err
    echo $? >l.rc
}

# check NAME STDIN ARGS...: same stdout and exit status
check() {
    local name=$1
    cases=$((cases + 1))
    run_both "$@"
    if ! cmp -s p.rc l.rc; then
        fail "$name" "exit status parallel $(cat p.rc), loom-run $(cat l.rc): $(head -c 300 l.err)"
    elif ! cmp -s p.out l.out; then
        fail "$name" "stdout differs:
$(diff p.out l.out | head -20)"
    fi
}

# Seq, Exitval, Signal and Command of a job log, by Seq then Command
log_cols() {
    tail -n +2 "$1" | awk -F'\t' '{print $1 "\t" $7 "\t" $8 "\t" $9}' | sort -n -k1,1 -s
}

# checklog NAME STDIN ARGS...: check, and the job logs agree
checklog() {
    local name=$1 in=$2
    shift 2
    rm -f p.log l.log
    cases=$((cases + 1))
    "$PARALLEL_BIN" --will-cite -k --joblog p.log "$@" <"$in" >p.out 2>p.err
    echo $? >p.rc
    "$LOOMRUN" -k --quiet --joblog=l.log "$@" <"$in" >l.out 2>l.err
    echo $? >l.rc
    if ! cmp -s p.rc l.rc; then
        fail "$name" "exit status parallel $(cat p.rc), loom-run $(cat l.rc): $(head -c 300 l.err)"
    elif ! cmp -s p.out l.out; then
        fail "$name" "stdout differs:
$(diff p.out l.out | head -20)"
    elif ! diff <(log_cols p.log) <(log_cols l.log) >log.diff; then
        fail "$name" "job logs differ:
$(head -20 log.diff)"
    fi
}

N=/dev/null
# ---- input files ------------------------------------------------------------
printf 'a\nb c\n' >two.txt
printf '1\n2\n3\n' >three.txt
printf 'echo one\necho two\nexit 3\n' >cmds.txt
printf 'plain\nwith space\nit'\''s\n$HOME\n`id`\n"dq"\n\\\n*\n\n  lead\ntrail  \nt\tab\n~\n;\n|\n#x\n{}\n%%s\n-n\n\xc3\xa9\n' >nasty.txt
printf 'a.b/c.tar.gz\na.b/c\n.bashrc\na/.bashrc\n/a/b.c/\n/\nfoo.\n./x.y\na//b\n..\n' >paths.txt
printf 'line\none\0two words\0it'\''s\0' >nul.txt
printf 'x,y,z w,' >comma.txt
printf 'name,n\nalpha,1\nbeta b,2\n' >header.csv
printf 'a,1;x\nb,2;y\n' >cols.txt
printf 'a  b\tc\n' >spaces.txt
: >empty.txt

# ---- quoting, one input ----------------------------------------------------
check quote-stdin nasty.txt echo
check quote-stdin-braces nasty.txt echo {} x
check quote-printf nasty.txt printf '[%s]\n' {}
check quote-args $N echo {} ::: "a b" "it's" '$HOME' '"dq"' '`id`' '\' '*' '' "t	ab" "'" "''" "a'b'c"
check quote-args-appended $N printf '<%s>\n' ::: "a b" "it's" '' "'"
check quote-template-word $N 'echo "{}"' ::: 'x y' 'a$b'
check quote-semicolon $N 'echo {}; echo done' ::: 'a;b' 'c&d'
check paths-stdin paths.txt echo {} - {.} - {/} - {//} - {/.}
check paths-args $N echo {1.} {1/} {1//} {1/.} ::: a.b/c.tar.gz dir/.hid.txt /x
check seq $N echo {#} {} ::: a b c d e
check seq-alone $N echo {#} ::: a b c
check empty-line-input two.txt echo x{}y
check dry-run-quoting nasty.txt --dry-run echo {}
check dry-run-args $N --dry-run printf '%s\n' {} ::: "it's" 'a b' '' "'"
check dry-run-multi $N --dry-run echo {2} {1} ::: a b ::: 1 2
check dry-run-paths paths.txt --dry-run echo {/.} {//}

# ---- commands ----------------------------------------------------------------
check commands-stdin cmds.txt
check commands-args $N ::: "echo a" "echo 'b c'" "exit 2"
check commands-product $N ::: echo printf ::: a b
check exit-status $N sh -c 'exit {}' ::: 0 1 2 0 3
check exit-status-false $N false ::: 1 2 3
check exit-many $N false ::: $(seq 1 105)
check signal $N sh -c 'kill -{} $$' ::: TERM INT

# ---- several inputs ---------------------------------------------------------
check product-2 $N echo ::: a b ::: 1 2
check product-3 $N echo {3} {2} {1} ::: a b ::: 1 2 ::: x y
check positional $N echo {} {1} {2} {-1} {3} ::: a b ::: 1 2
check link $N --link echo ::: a b c ::: 1 2
check link-long-first $N --link echo ::: a b ::: 1 2 3 4
check link-plus $N echo ::: a b ::: 1 2 :::+ x y
check link-plus-files $N echo :::: two.txt ::::+ three.txt
check argfile $N echo :::: three.txt
check argfiles $N echo :::: two.txt three.txt
check argfile-and-args $N echo :::: two.txt ::: x y
check args-and-argfile $N echo ::: x y :::: three.txt
check dash-a $N -a three.txt echo
check dash-a-twice $N -a two.txt -a three.txt echo {2}-{1}
check argfile-stdin three.txt echo :::: -
check multi-paths $N echo {1/} {2.} ::: d/a.x e/b.y ::: f.g h
check empty-source $N echo ::: a b :::: empty.txt

# ---- -0, -d ------------------------------------------------------------------
check null-stdin nul.txt -0 echo {}
check null-argfile $N -0 printf '<%s>\n' :::: nul.txt
check null-long $N --null echo {#} :::: nul.txt
check null-filenames $N -0 sh -c 'cat "$1"' sh {} :::: nul.txt
check delim-comma comma.txt -d , echo {}
check delim-eq comma.txt --delimiter=, echo x{}x
check delim-newline-escape two.txt -d '\n' echo {}
check delim-tab spaces.txt -d '\t' echo {}

# ---- --colsep, --header ------------------------------------------------------
check colsep cols.txt --colsep , echo {2} {1}
check colsep-class cols.txt --colsep '[,;]' echo {3} {1} {2}
check colsep-eq cols.txt --colsep=';' echo {2}
check colsep-appended cols.txt --colsep , echo
check colsep-args $N --colsep , echo {2}/{1} ::: a,b c,d
check colsep-spaces spaces.txt --colsep ' +' echo {2}
check header-csv header.csv --header : --colsep , echo {n} {name}
check header-args $N --header : echo {b} {a} ::: a 1 2 ::: b x y
check header-argfile $N --header : --colsep , echo {name}={n} :::: header.csv
check header-eq header.csv --header=: --colsep=, echo {1}:{n}

# ---- -j ------------------------------------------------------------------------
check jobs-1 three.txt -j1 echo
check jobs-2 three.txt -j 2 echo
check jobs-eq three.txt --jobs=3 echo
check jobs-attached three.txt -j4 echo
check jobs-percent three.txt -j 50% echo
check jobs-plus three.txt -j +0 echo
check jobs-minus three.txt -j -1 echo
check jobs-zero three.txt -j0 echo
check slot-one $N -j1 echo {%} ::: a b c
# Parallel's own slot in a dry run with -j3 varies from run to run (a dry job
# ends at once); with one slot both tools print 1
check dry-run-slot $N --dry-run -j1 echo {%} ::: a b

# {%} with several slots: the slots used lie in 1..j (which one a job gets
# is up to the scheduler, in both tools)
cases=$((cases + 1))
"$LOOMRUN" -k --quiet -j 3 sh -c 'sleep 0.2; echo {%}' ::: 1 2 3 4 5 6 >l.out 2>l.err
if grep -qv '^[123]$' l.out || [ "$(wc -l <l.out)" -ne 6 ]; then
    fail slot-range "{%} outside 1..3: $(tr '\n' ' ' <l.out)"
fi

# ---- options with = and Parallel's conventions --------------------------------
check retries-eq $N --retries=2 sh -c 'exit 1' ::: a
check timeout-eq $N --timeout=1 sh -c 'sleep {}' ::: 0 5
check tag $N --tag echo ::: a b
check tag-multi $N --tag echo ::: a ::: 1 2
check empty-input empty.txt echo
check empty-commands empty.txt
PARALLEL_SHELL=bash check shell-env $N 'echo ${BASH_VERSION:+bash}' ::: 1
PARALLEL_SHELL=bash check shell-env-array $N 'a=({} x); echo ${#a[@]} ${a[0]}' ::: 1 2

# ---- job logs ---------------------------------------------------------------
checklog joblog-args $N echo ::: a 'b c' "it's"
checklog joblog-exit $N sh -c 'exit {}' ::: 0 1 2
checklog joblog-product $N echo {2}{1} ::: a b ::: 1 2
checklog joblog-retries $N --retries 3 sh -c 'exit 1' ::: a b
checklog joblog-retries-succeed $N --retries 2 true ::: a b
checklog joblog-commands cmds.txt
checklog joblog-colsep cols.txt --colsep , echo {2}
checklog joblog-null nul.txt -0 echo

# --- p15-input: -n -N -X -m --pipe --shuf
printf 'aaa\nbbb\nccc\nddd\neee\n' >five.txt
seq 1 1000 >thousand.txt
seq 1 100 >hundred.txt
printf 'x1\n> r1\nl1\n> r2\nl2\nl3\n> r3\n> r4\nl4\n' >fasta.txt
printf 'r1 a;;r2 bb;;r3 ccc;;r4 dddd;;' >semi.txt
printf 'one\0two words\0it'\''s\0four\0five\0' >nul5.txt
printf 'my file.txt\nit'\''s.txt\n"dq".txt\nplain.txt\n' >names.txt
check group-n2 $N -n2 echo ::: a b c d e
check group-n2-stdin five.txt -n2 echo
check group-N2-positional $N -N2 echo {1}-{2} {#} ::: a b c d e
check group-n2-braces $N -n2 echo {} / {1} {2} {#} ::: a b c d e
check group-N3-files $N -N3 printf '[%s]' {3} {1} ::: a 'b c' "d'e" f g
check group-N2-product $N -N2 echo {1} {2} {3} {4} ::: a b ::: 1 2
check group-n2-colsep cols.txt -N2 --colsep , echo {1} {3}
check group-N2-null nul5.txt -0 -N2 printf '[%s]' {2} {1}
check group-n1-null nul5.txt --null -n1 echo
check group-n3-commands cmds.txt -n3 echo
check group-N2-eq $N --max-replace-args=2 echo {2} ::: a b c
check group-n-attached $N -n3 echo ::: 1 2 3 4 5 6 7
check context-X $N -j1 -X echo pre{}post ::: a b 'c d' "e'f"
check context-X-names names.txt -j1 -X printf '[%s]\n' dir/{} x{.}y
check context-X-s $N -j1 -s 25 -X echo x{}y ::: aa bb cc dd ee
check context-X-two-words $N -j1 -X echo {}.in {/.}.out ::: a/b.c d/e.f
check multi-m $N -j1 -m echo pre{}post ::: a b 'c d'
check multi-m-names names.txt -j1 -m printf '[%s]\n' {}
check multi-m-s $N -j1 -s 17 -m echo ::: aa bb cc dd ee
check multi-m-s-eq thousand.txt -j1 --max-chars=200 -m echo
check multi-m-n $N -j1 -m -n 3 echo ::: a b c d e f g
check multi-X-seq thousand.txt -j1 -s 100 -X echo {#}:{}
check pipe-block five.txt --pipe --block 10 'echo "[{#}]"; cat'
check pipe-default thousand.txt --pipe wc -l
check pipe-block-k thousand.txt --pipe --block 1k 'echo {#}; wc -lc'
check pipe-block-K thousand.txt --pipe --block=1K 'echo {#}; tail -n1'
check pipe-block-small five.txt --pipe --block 2 cat
check pipe-N2 five.txt --pipe -N2 'echo "[{#}] {}"; cat'
check pipe-N3 thousand.txt --pipe -N 300 'echo {#}; head -n1'
check pipe-recstart fasta.txt --pipe --block 12 --recstart '>' 'echo "<{#}>"; cat'
check pipe-recstart-N fasta.txt --pipe -N1 --recstart '>' 'echo "<{#}>"; cat'
check pipe-recend semi.txt --pipe --block 9 --recend ';;' 'cat; echo "|"'
check pipe-recend-recstart semi.txt --pipe --block 5 --recend ';;' --recstart r 'cat; echo'
check pipe-recend-none five.txt --pipe --block 7 --recend '' 'cat; echo "|"'
check pipe-recend-escape five.txt --pipe --block 8 --recend '\n' 'cat; echo "|"'
check pipe-empty empty.txt --pipe cat
check pipe-exit five.txt --pipe --block 10 'cat >/dev/null; exit {#}'
checklog joblog-pipe five.txt --pipe --block 10 'cat; exit {#}'
checklog joblog-n2 $N -n2 echo ::: a b c d e
checklog joblog-X $N -j1 -s 20 -X echo x{}y ::: aa bb 'c d' "e'f" gg
checklog joblog-m-null nul5.txt -j1 -0 -m echo

# --shuf: the same jobs in a different order from one run to another
# ({#} numbers the jobs as they run, 1..n, in both tools), and with -n the
# shuffled arguments are grouped: so the words of stdout and of the job
# log's Exitval, Signal and Command columns are compared sorted, and Seq
words() { tr ' \t' '\n\n' | sort; }
check_sorted() {
    local name=$1 in=$2
    shift 2
    rm -f p.log l.log
    cases=$((cases + 1))
    "$PARALLEL_BIN" --will-cite --joblog p.log "$@" <"$in" >p.out 2>p.err
    echo $? >p.rc
    "$LOOMRUN" --quiet --joblog=l.log "$@" <"$in" >l.out 2>l.err
    echo $? >l.rc
    if ! cmp -s p.rc l.rc; then
        fail "$name" "exit status parallel $(cat p.rc), loom-run $(cat l.rc): $(head -c 300 l.err)"
    elif ! diff <(words <p.out) <(words <l.out) >out.diff; then
        fail "$name" "sorted stdout differs:
$(head -20 out.diff)"
    elif ! diff <(log_cols p.log | cut -f2- | words) <(log_cols l.log | cut -f2- | words) >log.diff ||
        ! diff <(log_cols p.log | cut -f1) <(log_cols l.log | cut -f1) >>log.diff; then
        fail "$name" "job logs differ:
$(head -20 log.diff)"
    fi
}
check_sorted shuf-args $N --shuf echo ::: a b c d e f g h
check_sorted shuf-stdin hundred.txt --shuf sh -c 'exit $(({} % 3))'
check_sorted shuf-product $N --shuf echo ::: a b c ::: 1 2 3
check_sorted shuf-n2 $N --shuf -n2 echo ::: a b c d e f g
cases=$((cases + 1))
"$LOOMRUN" --quiet -k --shuf echo {#} {} ::: $(seq 1 50) >l.out 2>l.err
if [ "$(cut -d' ' -f1 l.out | tr '\n' ' ')" != "$(seq 1 50 | tr '\n' ' ')" ] ||
    [ "$(cut -d' ' -f2 l.out | sort -n | tr '\n' ' ')" != "$(seq 1 50 | tr '\n' ' ')" ] ||
    [ "$(cut -d' ' -f2 l.out | tr '\n' ' ')" = "$(seq 1 50 | tr '\n' ' ')" ]; then
    fail shuf-order "{#} not 1..50 in run order, or the jobs not shuffled: $(tr '\n' ' ' <l.out)"
fi

# bad values: refused before anything runs, as GNU Parallel refuses them
for bad in '-n 0' '-N x' '--block 0' '--block 1Q' '-s 0'; do
    cases=$((cases + 1))
    # shellcheck disable=SC2086
    "$LOOMRUN" --quiet $bad --pipe cat <five.txt >l.out 2>l.err
    rc=$?
    if [ "$rc" -ne 255 ] || [ -s l.out ] || ! grep -q . l.err; then
        fail "bad-value $bad" "exit $rc (want 255), stdout $(head -c 100 l.out), stderr $(head -c 200 l.err)"
    fi
done
cases=$((cases + 1))
"$LOOMRUN" --quiet --pipe cat ::: a <five.txt >l.out 2>l.err
rc=$?
if [ "$rc" -ne 255 ] || [ -s l.out ] || ! grep -q 'pipe' l.err; then
    fail "pipe-with-source" "exit $rc (want 255): $(head -c 200 l.err)"
fi

# --- p15-outopts: -t --verbose --tagstring --line-buffer --ungroup --delay --version --timeout P%
# checkerr NAME STDIN ARGS...: check, and the same stderr lines (sorted: -t
# prints each command as it starts, in whatever order the jobs start)
checkerr() {
    local name=$1
    check "$@"
    if cmp -s p.rc l.rc && cmp -s p.out l.out && ! diff <(sort p.err) <(sort l.err) >err.diff; then
        fail "$name" "stderr differs:
$(head -20 err.diff)"
    fi
}
# checksorted NAME STDIN ARGS...: the same lines on stdout, in any order
# (output passed as it comes), and the same exit status; with -j 3 so
# that jobs run side by side
checksorted() {
    local name=$1 in=$2
    shift 2
    cases=$((cases + 1))
    "$PARALLEL_BIN" --will-cite -j 3 "$@" <"$in" >p.out 2>p.err
    echo $? >p.rc
    "$LOOMRUN" --quiet -j 3 "$@" <"$in" >l.out 2>l.err
    echo $? >l.rc
    if ! cmp -s p.rc l.rc; then
        fail "$name" "exit status parallel $(cat p.rc), loom-run $(cat l.rc): $(head -c 300 l.err)"
    elif ! diff <(sort p.out) <(sort l.out) >out.diff; then
        fail "$name" "sorted stdout differs:
$(head -20 out.diff)"
    fi
}
checkerr verbose-t $N -t echo ::: a 'b c' "it's"
checkerr verbose-long $N --verbose printf '%s\n' ::: x 'y z'
checkerr verbose-commands cmds.txt -t
checkerr verbose-stderr $N -t sh -c 'echo out {}; echo err {} >&2' ::: 1 2
check tagstring $N --tagstring '{}-{#}<{1}>' echo ::: 'a b' "it's" '$HOME'
check tagstring-multi $N --tagstring '{2}:{1}' echo ::: a b ::: 1 2
check tagstring-plain $N --tagstring T echo ::: a b
check tagstring-eq $N --tagstring='[{/.}]' echo ::: d/a.x e/b.y
check tagstring-over-tag $N --tag --tagstring Z echo ::: a b
check tagstring-slot $N -j1 --tagstring 'slot{%}' echo ::: a b
check tagstring-lines $N --tagstring 'n{}' 'seq {}' ::: 2 3
check tagstring-stdin two.txt --tagstring '<{}>' echo
check line-buffer-k $N --line-buffer sh -c 'echo {}; echo {}{}' ::: a b c
check line-buffer-k-lb $N --lb --tag sh -c 'echo {}; echo x >&2' ::: a b
checksorted line-buffer $N --line-buffer sh -c 'echo {}; echo {}{}' ::: a b c d
checksorted line-buffer-tag $N --lb --tag 'seq 3 | sed s/^/{}/' ::: a b c
checksorted line-buffer-tagstring $N --lb --tagstring '{#}' echo ::: a b c
checksorted line-buffer-exit $N --lb sh -c 'echo {}; exit {}' ::: 0 1 2
checksorted ungroup $N --ungroup echo ::: a b c d
checksorted ungroup-u $N -u sh -c 'echo {}; echo {}{}' ::: a b c
checksorted ungroup-no-tag $N -u --tag echo ::: a b
checksorted ungroup-no-tagstring $N -u --tagstring X echo ::: a b
checksorted ungroup-keep-order $N -u -k echo ::: a b c
checksorted ungroup-exit $N -u sh -c 'exit {}' ::: 0 3 0
check delay $N --delay 0.1 echo ::: a b c
check delay-s $N --delay 0.05s echo ::: a b
check delay-eq $N --delay=0 echo ::: a b
checklog delay-log $N --delay 0.1 echo ::: a b
check timeout-postfix $N --timeout 1m echo ::: a
checklog timeout-postfix-kill $N --timeout 0.02m sh -c 'sleep {}' ::: 0 30
# --timeout P%: with one slot the 0.2 s jobs succeed and set the median;
# the 30 s job is killed at 200% of it (both tools: Exitval -1, signal 15)
checklog timeout-percent $N -j1 --timeout 200% sh -c 'sleep {}' ::: 0.2 0.2 0.2 30 0.2
cases=$((cases + 1))
"$PARALLEL_BIN" --version >p.out 2>&1
echo $? >p.rc
"$LOOMRUN" --version >l.out 2>&1
echo $? >l.rc
if ! cmp -s p.rc l.rc || ! grep -q '^loom-run (loom)' l.out || ! grep -q 'not GNU Parallel' l.out; then
    fail version "exit status parallel $(cat p.rc), loom-run $(cat l.rc): $(head -c 400 l.out)"
fi
# --delay: the job log's start times are at least the delay apart (less
# the log's millisecond rounding)
cases=$((cases + 1))
rm -f l.log
"$LOOMRUN" --quiet -j 3 --delay 0.3 --joblog l.log true ::: 1 2 3 4 >l.out 2>l.err
if ! tail -n +2 l.log | cut -f3 | sort -n |
    awk 'NR > 1 && $1 - prev < 0.299 { bad = 1; print "starts " prev " and " $1 }
         { prev = $1 } END { exit bad || NR != 4 }' >delay.txt; then
    fail delay-starts "start times closer than 0.3 s, or not 4: $(cat delay.txt) $(cut -f3 l.log | tr '\n' ' ')"
fi

echo "$cases cases, $failed failed (work dir $WORK)"
[ "$failed" -eq 0 ]
