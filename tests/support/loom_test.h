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

/*
 * SIGKILL every process of session `sid` — a whole MPI job started with
 * setsid(): Open MPI puts each rank in a process group of its own, so
 * kill(-pgid) would reach mpirun alone and leave the ranks running.
 * Returns how many processes were signalled.
 */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

static inline int
loom_test_kill_session(pid_t sid)
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
            session == (long)sid && kill((pid_t)pid, SIGKILL) == 0)
            n++;
    }
    if (d)
        closedir(d);
    return n;
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
