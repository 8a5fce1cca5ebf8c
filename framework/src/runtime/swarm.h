/* SPDX-License-Identifier: MIT */
/*
 * The swarm hook (swarm.c), for benchmarks only: one MPI rank stands for
 * several workers of the master (bench/swarm/ measures the master against
 * thousands of virtual workers from a few processes).
 *
 * With LOOM_SWARM=N in the environment of every rank, and a start-up
 * agreement in which every worker rank says N too (the fingerprint's
 * `swarm`: a real worker always says 0, so it can never take part), the
 * master gives each rank r >= 1 the N worker slots 1+(r-1)*N .. r*N, each
 * with its own entry in the master's table (credits, heartbeat, frame,
 * tasks in flight). Virtual worker v of a rank talks on the job's
 * communicator with its own tags, loom__swarm_tag_up(v) and
 * loom__swarm_tag_down(v); nothing else of the master changes.
 */
#ifndef LOOM_SWARM_H
#define LOOM_SWARM_H

/* The most virtual workers one rank may stand for. */
#define LOOM_SWARM_MAX 100000

/* LOOM_SWARM from the environment: virtual workers per worker rank,
 * 0 when it is not set, -1 when it is set but not a number in
 * 1..LOOM_SWARM_MAX (the master refuses to start). */
int loom__swarm_width(void);

/* The tag virtual worker v (0..width-1) of a rank sends with. */
int loom__swarm_tag_up(int v);

/* The tag the master sends to virtual worker v with. */
int loom__swarm_tag_down(int v);

/* The largest tag a swarm of `width` uses (to check against MPI_TAG_UB). */
int loom__swarm_tag_max(int width);

/* The master's worker slot for a message from rank `source` (>= 1) with
 * `tag`, in a swarm of `width` per rank; -1 when the tag is not a
 * virtual worker's upward tag. */
int loom__swarm_slot(int width, int source, int tag);

#endif /* LOOM_SWARM_H */
