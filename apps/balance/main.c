/* SPDX-License-Identifier: MIT */
/*
 * loom-balance — the seed's Lock lesson. Two threads deposit and withdraw the
 * same amount a million times each. Without a lock the read-modify-write
 * steps of the two threads interleave and the balance drifts away from 0;
 * with a loom_lock around each change it always ends at exactly 0.
 *
 *   balance [--iterations N]
 *
 * Exit status: 0 when the locked run ends at 0, 1 if it does not, 2 for a
 * usage error.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, nanosleep, rand_r */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <loom.h>

#include "../common/version.h"

#define PROG "loom-balance"

static long iterations = 1000000;
/* volatile: keep every load and store, as Python does, so the race shows */
static volatile long balance;
static loom_lock lock = LOOM_LOCK_INITIALIZER;

static void
change_it(long n)
{
    balance = balance + n;
    balance = balance - n;
}

static void *
run_unlocked(void *arg)
{
    long n = (long)(intptr_t)arg;
    for (long i = 0; i < iterations; i++)
        change_it(n);
    return NULL;
}

static void *
run_locked(void *arg)
{
    long n = (long)(intptr_t)arg;
    for (long i = 0; i < iterations; i++) {
        loom_lock_acquire(&lock);
        change_it(n);
        loom_lock_release(&lock);
    }
    return NULL;
}

static long
run_twice(void *(*fn)(void *))
{
    pthread_t t1, t2;
    balance = 0;
    if (pthread_create(&t1, NULL, fn, (void *)5) != 0 ||
        pthread_create(&t2, NULL, fn, (void *)8) != 0) {
        fprintf(stderr, PROG ": cannot start threads\n");
        exit(1);
    }
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    return balance;
}

int
main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: " PROG " [--iterations N]\n"
                   "       " PROG " --version  (loom, MPI and build id of this program)\n"
                   "Two threads change a shared balance N times each (default 1000000),\n"
                   "first without a lock (a race), then with a loom_lock (always 0).\n");
            return 0;
        }
        if (strcmp(argv[i], APP_VERSION_OPTION) == 0) {
            app_print_version(PROG);
            return 0;
        }
        if (strcmp(argv[i], "--iterations") == 0 && i + 1 < argc) {
            char *end;
            iterations = strtol(argv[++i], &end, 10);
            if (*end || iterations <= 0) {
                fprintf(stderr, PROG ": --iterations needs a positive number\n");
                return 2;
            }
            continue;
        }
        fprintf(stderr, PROG ": unknown argument '%s' (try --help)\n", argv[i]);
        return 2;
    }
    long racy = run_twice(run_unlocked);
    printf("without a lock:    balance = %ld%s\n", racy,
           racy ? "   <- the threads' updates interleaved"
                : "   (this time the race did not show)");
    long locked = run_twice(run_locked);
    printf("with a loom_lock:  balance = %ld\n", locked);
    return locked == 0 ? 0 : 1;
}
