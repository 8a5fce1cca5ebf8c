#!/bin/bash
# SPDX-License-Identifier: MIT
#
# tests/cluster/binding.sh — a worker's pool follows the CPUs mpirun lets it
# use, and loom says so loudly when a pool is larger than that:
#   - mpirun --bind-to core: pool of 1, no warning
#   - mpirun --bind-to none: pool = the CPUs of the launching process
#   - taskset -c 0 mpirun --bind-to none: pool of 1 (the mask is inherited)
#   - --bind-to core with --pool-threads 3: a WARN line naming the remedy
#   - --bind-to none with a pool of exactly the CPUs: no warning
#   - the launch recipes in hostfiles/, cluster/slurm/ and the README's code
#     blocks never bind a worker to one core
# Usage (CTest sets these): BUILD=build SRC=. tests/cluster/binding.sh
# Exit status: 0 pass, 1 fail.
source "$(dirname "$0")/lib.sh"
T=$(mktemp -d "${TMPDIR:-/tmp}/loom-binding-test.XXXXXX")
trap 'rc=$?; rm -rf "$T"; finish $rc; exit $rc' EXIT
cpus=$(nproc) # this process's affinity mask, which mpirun passes on
HELLO="$BUILD/apps/loom-hello"
mpi() { timeout 60 mpirun --timeout 50 -np 2 --oversubscribe "$@"; }
worker_pool() { sed -n 's/^rank=1 role=worker .* pool=\([0-9]*\) .*/\1/p' "$1"; }

step "mpirun --bind-to core"
mpi --bind-to core:overload-allowed "$HELLO" >"$T/o" 2>"$T/e" || { cat "$T/o" "$T/e"; fail "run"; }
[ "$(worker_pool "$T/o")" = 1 ] || { cat "$T/o"; fail "bound to a core: pool is not 1"; }
! grep -q WARN "$T/e" || { cat "$T/e"; fail "unexpected warning"; }

step "mpirun --bind-to none"
mpi --bind-to none "$HELLO" >"$T/o" 2>"$T/e" || { cat "$T/o" "$T/e"; fail "run"; }
[ "$(worker_pool "$T/o")" = "$cpus" ] || { cat "$T/o"; fail "unbound: pool is not $cpus"; }
! grep -q WARN "$T/e" || { cat "$T/e"; fail "unexpected warning"; }

step "taskset -c 0 mpirun --bind-to none"
first=$(awk '/^Cpus_allowed_list/ { split($2, a, "[-,]"); print a[1] }' /proc/self/status)
taskset -c "$first" timeout 60 mpirun --timeout 50 -np 2 --oversubscribe --bind-to none "$HELLO" \
    >"$T/o" 2>"$T/e" || { cat "$T/o" "$T/e"; fail "run"; }
[ "$(worker_pool "$T/o")" = 1 ] || { cat "$T/o"; fail "one-CPU mask: pool is not 1"; }

step "an oversized pool is reported"
mpi --bind-to core:overload-allowed "$HELLO" --pool-threads 3 >"$T/o" 2>"$T/e" ||
    { cat "$T/o" "$T/e"; fail "run"; }
[ "$(worker_pool "$T/o")" = 3 ] || { cat "$T/o"; fail "pool is not 3"; }
grep -q 'WARN .*rank=1 .*pool of 3 threads but this process may only run on 1 CPU .*--bind-to none' \
    "$T/e" || { cat "$T/e"; fail "no warning for 3 threads on one core"; }
mpi --bind-to none "$HELLO" --pool-threads "$cpus" >"$T/o" 2>"$T/e" || { cat "$T/e"; fail "run"; }
! grep -q WARN "$T/e" || { cat "$T/e"; fail "warning for a pool that fits"; }

step "launch recipes leave workers unbound"
# every mpirun or srun command line (with options): in hostfiles and job
# scripts, comments included; in the README, inside code blocks
bad=$({
    grep -HnE '(mpirun|srun) +-' "$SRC"/hostfiles/* "$SRC"/cluster/slurm/*.sbatch
    awk '/^```/ { f = !f; next } f && /(mpirun|srun) +-/ { print FILENAME ":" FNR ":" $0 }' \
        "$SRC/README.md"
} | grep -vE -- '--bind-to none|--cpu-bind=none|pe=[0-9N]|srun --mpi=list' || true)
[ -z "$bad" ] || fail "launch lines that may bind a worker to one core:
$bad"
