#!/bin/bash
# SPDX-License-Identifier: MIT
#
# tests/cluster/linkcut.sh — a node's link is cut in the middle of a job.
# SKIPPED until loom's failure handling exists (heartbeats and re-queueing
# of a lost worker's tasks; today a lost worker stalls loom_job_finish, and
# Open MPI 4.1 reports no error for a dead peer).
#
# What it will do then, with the commands cluster/simnet already has:
#   cluster/simnet up 3
#   cluster/simnet run --enable-recovery --timeout 60 -np 4 --bind-to none \
#       build/apps/loom-run/loom-run --joblog J tasks.txt &     (tasks: sleep 0.5 each)
#   poll J until some tasks are done; cluster/simnet cut loom-node3
#   expect: loom-run's summary line says every task succeeded once (those of
#   loom-node3 re-run elsewhere), judged by the master's output, not by
#   mpirun's exit status (mpirun may hang in Finalize: kill it after the
#   summary, then cluster/simnet down).
# Exit status: 77 (skipped).
echo "linkcut: SKIP: needs loom's failure handling (lost workers), not built yet"
exit 77
