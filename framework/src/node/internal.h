/* SPDX-License-Identifier: MIT */
/*
 * Internal helpers shared by loom's source files (prefix loom__). Never
 * installed.
 */
#ifndef LOOM_INTERNAL_H
#define LOOM_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "loom/common.h"
#include "loom/error.h"

/* Programmer errors (NULL handle, broken invariant) are assertions that stay
 * on in release builds: they print where and abort. Runtime failures return
 * a loom_err instead. */
#define LOOM_ASSERT(cond)                                                                          \
    ((cond) ? (void)0 : loom__panic(__FILE__, __LINE__, __func__, "assertion failed: " #cond))

_Noreturn void loom__panic(const char *file, int line, const char *func, const char *msg);

/* The calling thread's last error (loom_last_error, error.c). loom__fail:
 * record e with a printf message naming the specifics and return e, so a failure path reads
 * `return loom__fail(LOOM_ERANGE, "...", ...);`; LOOM_OK records nothing.
 * loom__ret: where a public function passes on a code it got from a
 * helper: a failure the helper recorded (with this code) since the last
 * loom__ret keeps its message, any other gets the generic one; returns
 * rc. Both leave errno as it was. */
loom_err loom__fail(loom_err e, const char *fmt, ...) LOOM_PRINTF(2, 3);
loom_err loom__ret(loom_err rc);

/* Parse a boolean setting ("true/false/yes/no/on/off/1/0", any case).
 * Shared with test_config: no key is a boolean yet. */
loom_err loom__config_parse_bool(const char *text, int *out);

/* Settings of cfg that contradict each other (job.worker_timeout not above
 * job.heartbeat): LOOM_ECONFIG with the message in buf (size bytes), or
 * LOOM_OK (buf ""). loom_config_load refuses them once every source is
 * applied; loom_job_create checks any config here (one changed with
 * loom_config_set or loom_config_load_file, which check keys one by one). */
struct loom_config;
loom_err loom__config_check(const struct loom_config *cfg, char *buf, size_t size);

/* Write a message into a caller's buffer (err may be NULL, errlen 0: then
 * nothing); errno is left as it was, so a caller can still report it. */
void loom__set_err(char *err, size_t errlen, const char *fmt, ...) LOOM_PRINTF(3, 4);

/* Pinning pool threads (cpu.c). loom__cpu_pin_list: the CPUs of the mask
 * saved by the first call (the calling thread's: the process's, before
 * any pinning), malloc'ed, *n of them; NULL when unknown or no memory.
 * loom__cpu_pin_self: bind the calling thread to one CPU; 0 or -1 (errno).
 * loom__cpu_unpinned: that saved mask (a cpu_set_t of *size bytes, for
 * sched_setaffinity in a command's child), NULL before any pinning. */
unsigned *loom__cpu_pin_list(unsigned *n);
int loom__cpu_pin_self(unsigned cpu);
const void *loom__cpu_unpinned(size_t *size);

/* Monotonic clock in nanoseconds. */
static inline int64_t
loom__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Wall clock (CLOCK_REALTIME) in nanoseconds since the epoch: for times
 * shown to people or compared across nodes, never for durations. */
static inline int64_t
loom__wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Initialise a condition variable whose timed waits use CLOCK_MONOTONIC
 * (a wall-clock jump must not stretch or cut a timeout). 0 or -1. */
int loom__cond_init_monotonic(pthread_cond_t *cv);

/* Wait on cv (mu held, as for pthread_cond_timedwait) for at most ns
 * nanoseconds; cv must use CLOCK_MONOTONIC (loom__cond_init_monotonic).
 * Returns when woken, at the deadline, or spuriously: callers re-check
 * what they wait for. */
void loom__cond_sleep(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t ns);

/* Absolute CLOCK_MONOTONIC deadline timeout_ms from now, for
 * pthread_cond_timedwait on condition variables created with
 * loom__cond_init_monotonic. */
static inline struct timespec
loom__deadline(int timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

#endif /* LOOM_INTERNAL_H */
