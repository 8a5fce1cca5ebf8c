/* SPDX-License-Identifier: MIT */
/*
 * What every loom test includes instead of <criterion/criterion.h>.
 *
 * Normally this is Criterion. Criterion cannot start under ThreadSanitizer
 * (its inheritable arena fails to map: Criterion issue #274), so the TSan
 * build compiles the same test files against mini_runner.h, which provides
 * the subset of Criterion used here (Test, .timeout, cr_assert*) and runs
 * each test in a forked child, as Criterion does.
 */
#ifndef LOOM_TEST_H
#define LOOM_TEST_H

#ifdef LOOM_TEST_MINI
#include "mini_runner.h"
#else
#include <criterion/criterion.h>
#endif

#if defined(__SANITIZE_ADDRESS__) && !defined(LOOM_TEST_MINI)
/* Criterion ignores how a test's process exits once the test has passed,
 * so LeakSanitizer's report at exit would fail nothing. Under ASan every
 * Test() therefore runs its body, then checks for leaks while it can still
 * fail the test. */
#include <sanitizer/lsan_interface.h>
#undef Test
#define Test(Suite, Name, ...)                                                                     \
    static void Suite##_##Name##_body(void);                                                       \
    CR_EXPAND(CR_TEST_BASE(Suite, Name, ##__VA_ARGS__, .sentinel_ = 0))                            \
    {                                                                                              \
        Suite##_##Name##_body();                                                                   \
        cr_assert(__lsan_do_recoverable_leak_check() == 0,                                         \
                  "memory leaked: see the LeakSanitizer report above");                            \
    }                                                                                              \
    static void Suite##_##Name##_body(void)
#endif

#include <loom/error.h>

/* Assert that a loom call succeeded, printing the error's name if not. */
#define loom_assert_ok(expr)                                                                       \
    do {                                                                                           \
        loom_err loom_assert_rc_ = (expr);                                                         \
        cr_assert(loom_assert_rc_ == LOOM_OK, "%s failed: %s (%s)", #expr,                         \
                  loom_err_name(loom_assert_rc_), loom_strerror(loom_assert_rc_));                 \
    } while (0)

/* Assert that a loom call failed with a given code. */
#define loom_assert_err(expr, code)                                                                \
    do {                                                                                           \
        loom_err loom_assert_rc_ = (expr);                                                         \
        cr_assert(loom_assert_rc_ == (code), "%s returned %s, expected %s", #expr,                 \
                  loom_err_name(loom_assert_rc_), loom_err_name(code));                            \
    } while (0)

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

/*
 * Call fn(pid, state, stat, arg) for every process of session `sid`
 * (state: the letter of /proc/PID/stat, 'Z' for a zombie; stat: that
 * line). Returns how many calls returned non-zero.
 */
static inline int
loom_test_session_each(pid_t sid, int (*fn)(long pid, char state, const char *stat, void *arg),
                       void *arg)
{
    int n = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char path[300], buf[512];
        long pid = strtol(e->d_name, NULL, 10);
        if (pid <= 1)
            continue;
        snprintf(path, sizeof path, "/proc/%ld/stat", pid);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t len = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[len] = '\0';
        /* pid (comm) state ppid pgrp session ...; comm may hold spaces */
        const char *p = strrchr(buf, ')');
        char state;
        long ppid, pgrp, session;
        if (p && sscanf(p + 1, " %c %ld %ld %ld", &state, &ppid, &pgrp, &session) == 4 &&
            session == (long)sid && fn(pid, state, buf, arg))
            n++;
    }
    if (d)
        closedir(d);
    return n;
}

static inline int
loom_test_kill_one(long pid, char state, const char *stat, void *arg)
{
    (void)state, (void)stat, (void)arg;
    return kill((pid_t)pid, SIGKILL) == 0;
}

static inline int
loom_test_stop_one(long pid, char state, const char *stat, void *arg)
{
    (void)stat, (void)arg;
    return state != 'T' && state != 'Z' && state != 'X' && kill((pid_t)pid, SIGSTOP) == 0;
}

/*
 * SIGKILL every process of session `sid` — a whole MPI job started with
 * setsid(): Open MPI puts each rank in a process group of its own, so
 * kill(-pgid) would reach mpirun alone and leave the ranks running. Every
 * process is stopped first (SIGSTOP, again until none runs, at most 100
 * rounds), so none of them sees another die and records it: pids wrap, so
 * /proc's order may put a task before the master that would log its death.
 * Returns how many processes were killed.
 */
static inline int
loom_test_kill_session(pid_t sid)
{
    for (int round = 0; round < 100; round++)
        if (loom_test_session_each(sid, loom_test_stop_one, NULL) == 0)
            break;
    return loom_test_session_each(sid, loom_test_kill_one, NULL);
}

/* The CPUs of the calling thread's affinity mask, in order; how many. */
#include <sched.h>

static inline int
loom_test_thread_cpus(int *cpus, int max)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return 0;
    int n = 0;
    for (int c = 0; c < CPU_SETSIZE && n < max; c++)
        if (CPU_ISSET(c, &set))
            cpus[n++] = c;
    return n;
}

#endif /* LOOM_TEST_H */
