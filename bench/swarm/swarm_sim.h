/* SPDX-License-Identifier: MIT */
/*
 * swarm_sim.h — the swarm side of bench_swarm (swarm_sim.c): one MPI rank
 * presents LOOM_SWARM virtual workers to the master over the real wire
 * protocol (framework/src/runtime/swarm.h for the master's side).
 */
#ifndef LOOM_BENCH_SWARM_SIM_H
#define LOOM_BENCH_SWARM_SIM_H

#include <stdint.h>

#include <loom.h>

/* A task's payload as bench_swarm submits it: how long the task "runs"
 * (simulated: no CPU is used) and which phase of the run it belongs to. */
struct swarm_payload {
    int64_t dur_ns;
    int64_t phase;
};

/* The phases a run may have (durations measured one after the other). */
#define SWARM_PHASES 16

/* Take part in the start-up agreement of job (created with
 * loom_job_create, never started) as a swarm of `width` virtual workers,
 * then serve the master with them, each with `threads` simulated threads,
 * until every one has received STOP and said goodbye. Prints one line
 * "SWARMCPU rank=R phase=P tasks=N cpu_s=C wall_s=W" per phase it saw.
 * 0, or 1 when the agreement failed (the log says why). */
int swarm_serve(loom_job *job, int width, unsigned threads);

#endif /* LOOM_BENCH_SWARM_SIM_H */
