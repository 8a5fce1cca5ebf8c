/* SPDX-License-Identifier: MIT */
/*
 * Polling back-off (backoff.c) for the threads that own MPI or wait for
 * joins: the master's progress thread, a worker's communication thread,
 * the acceptor.
 */
#ifndef LOOM_BACKOFF_H
#define LOOM_BACKOFF_H

#include <stdint.h>

/* Idle rounds from which loom__idle_pause sleeps. */
#define LOOM__IDLE_SLEEP 32u
/* Work that comes back more often than this on average is worth spinning for. */
#define LOOM__HOT_GAP_NS 100000

/* A polling thread that has done no work for LOOM__DEEP_AFTER_NS may
 * sleep up to LOOM__DEEP_IDLE_NS between polls (see loom__idle_cap). */
#define LOOM__DEEP_AFTER_NS INT64_C(50000000)
#define LOOM__DEEP_IDLE_NS  10000000

/* Average time between bursts of polling rounds that did work. Start it
 * at {0, 0}; one per polling thread, touched by that thread only. */
struct loom__gap {
    int64_t last, avg;
};

/* Name the calling thread (its loom context and the kernel's) and give it
 * a timer slack of 1 us, so its short sleeps stay short. */
void loom__polling_thread_init(const char *name);

/* A round did work at monotonic time now; after_idle: empty rounds came
 * before it (it starts a new burst, whose distance from the last burst
 * goes into the average). */
void loom__work_gap(struct loom__gap *g, int64_t now, int after_idle);

/* Where a polling thread's idle count starts after a round of work: 0
 * while work comes back within LOOM__HOT_GAP_NS on average, else
 * LOOM__IDLE_SLEEP (sleep at the first empty round). */
unsigned loom__idle_start(const struct loom__gap *g);

/* After `idle` empty polling rounds: 0 = poll again (idle < 16), -1 =
 * sched_yield() (idle < LOOM__IDLE_SLEEP), else sleep this many ns: 1 us,
 * doubling every two rounds up to 16.384 ms, cut to max_ns (but never
 * below 1 us). */
int64_t loom__idle_pause(unsigned idle, int64_t max_ns);

/* The longest sleep of a polling thread that has done no work for
 * idle_for_ns: active_cap while work was recent (a message may be right
 * behind), LOOM__DEEP_IDLE_NS (if longer) once the thread has been idle
 * for LOOM__DEEP_AFTER_NS — a job sitting idle then costs about a hundred
 * wake-ups a second instead of a thousand, and the first message after
 * the pause waits at most that long. */
int64_t loom__idle_cap(int64_t idle_for_ns, int64_t active_cap);

#endif /* LOOM_BACKOFF_H */
