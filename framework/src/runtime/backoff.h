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

/* The longest sleep between two polls of a thread that may be sent
 * something at any time (loom__idle_cap): 50 ms. Measured on the 2-core
 * VM, a wake-up (timer, MPI_Improbe, back to sleep) costs 40-70 us of CPU;
 * at 20 polls a second an idle rank stays under 0.2 % of a core. */
#define LOOM__DEEP_IDLE_NS INT64_C(50000000)
/* The sleeps of loom__idle_pause double this many times from 1 us (65 ms). */
#define LOOM__PAUSE_DOUBLINGS 16

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
 * while work comes back within LOOM__HOT_GAP_NS on average, else in the
 * sleeping range (sleep at the first empty round), where the first sleep
 * is the longest 1 us << n not above a 32nd of the average gap: work is
 * not due before then, and the sleeps double toward it. */
unsigned loom__idle_start(const struct loom__gap *g);

/* After `idle` empty polling rounds: 0 = poll again (idle < 16), -1 =
 * sched_yield() (idle < LOOM__IDLE_SLEEP), else sleep this many ns: 1 us,
 * doubling every two rounds up to 1 us << LOOM__PAUSE_DOUBLINGS (65.5
 * ms), cut to max_ns (but never below 1 us). */
int64_t loom__idle_pause(unsigned idle, int64_t max_ns);

/* The longest sleep of a polling thread that may be sent something at any
 * time (credits outstanding, a worker's queue call) and has done no work
 * for idle_for_ns: active_cap, or an eighth of the time idle if longer, up
 * to LOOM__DEEP_IDLE_NS (never below active_cap). A message after a pause
 * then waits at most an eighth of the pause, and a job sitting idle costs
 * 20 wake-ups a second per polling thread instead of a thousand. */
int64_t loom__idle_cap(int64_t idle_for_ns, int64_t active_cap);

#endif /* LOOM_BACKOFF_H */
