/* SPDX-License-Identifier: MIT */
/*
 * Polling back-off for the threads that own MPI: Open MPI's blocking calls
 * spin a core, so loom polls and sleeps instead. After `idle` empty rounds
 * (reset to the idle start by any round that did work) the first ones poll
 * again, the next ones yield, then the thread sleeps on a condition
 * variable — so the program's threads can wake it at once for local work —
 * for a time that doubles up to max_ns. The caller sets the ceiling from
 * what it expects: about 1 ms while a reply is due, a fraction of the
 * measured gap while results are due, growing with the time spent idle
 * (loom__idle_cap) while a message merely could come, and no poll at all
 * (the next deadline) when none can. MPI cannot wake a thread, so an idle
 * job pays one poll per sleep, and the ceiling is the price of the first
 * message after a pause.
 *
 * Spinning only pays when work comes back within microseconds (a queue
 * round trip, tiny tasks). loom__work_gap() keeps an average of the time
 * between bursts of rounds that did work; when work comes rarely (commands
 * running for milliseconds), the caller starts its idle count in the
 * sleeping range, at a sleep of about a 32nd of that gap: on a machine
 * whose cores are busy running tasks, every spin, yield and early wake-up
 * is taken from them (each wake-up costs tens of microseconds of CPU on a
 * VM), and the sleeps still double toward the gap in a few steps.
 *
 * Pure functions of their arguments (no locks, no shared state): each
 * polling thread keeps its own idle count and struct loom__gap.
 */
#include <sys/prctl.h>

#include "backoff.h"
#include "loom/context.h"

void
loom__polling_thread_init(const char *name)
{
    loom_context_set_name(name);
    /* Sleeps of a few microseconds must not become the default 50 us of
     * timer slack: that would be the latency of every reply. */
    prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
}

void
loom__work_gap(struct loom__gap *g, int64_t now, int after_idle)
{
    if (g->last && after_idle) { /* a new burst: how long since the last */
        int64_t d = now - g->last;
        g->avg = g->avg ? (g->avg * 7 + d) / 8 : d;
    }
    g->last = now;
}

unsigned
loom__idle_start(const struct loom__gap *g)
{
    if (g->avg <= LOOM__HOT_GAP_NS)
        return 0;
    unsigned k = 0; /* the first sleep, 1 us << k/2, is at most avg / 32 */
    while (k < 2 * LOOM__PAUSE_DOUBLINGS && ((int64_t)1000 << (k / 2 + 1)) <= g->avg / 32)
        k += 2;
    return LOOM__IDLE_SLEEP + k;
}

int64_t
loom__idle_pause(unsigned idle, int64_t max_ns)
{
    if (idle < 16)
        return 0; /* a reply is often right behind: poll again */
    if (idle < LOOM__IDLE_SLEEP)
        return -1; /* still hot, but let an oversubscribed core's other threads run */
    unsigned k = idle - LOOM__IDLE_SLEEP;
    int64_t ns = (int64_t)1000 << (k < 2 * LOOM__PAUSE_DOUBLINGS ? k / 2 : LOOM__PAUSE_DOUBLINGS);
    return ns < max_ns ? ns : (max_ns > 1000 ? max_ns : 1000);
}

int64_t
loom__idle_cap(int64_t idle_for_ns, int64_t active_cap)
{
    int64_t grown = idle_for_ns / 8;
    if (grown > LOOM__DEEP_IDLE_NS)
        grown = LOOM__DEEP_IDLE_NS;
    return grown > active_cap ? grown : active_cap;
}
