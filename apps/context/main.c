/* SPDX-License-Identifier: MIT */
/*
 * loom-context (apps/context) — the seed's ThreadLocal lesson with loom_context.
 *
 * 1. Alice and Bob: two threads, Thread-A and Thread-B, each bind their own
 *    student to one key (the seed's `local_school.student = name`); a
 *    function deep down, process_student(), greets the student of whatever
 *    thread calls it without being passed anything. Both threads bind
 *    before either reads (a barrier), so each really reads its own value
 *    while the other's is bound too:
 *
 *      Hello, Alice (in Thread-A)
 *      Hello, Bob (in Thread-B)
 *
 *    (the two lines may come in either order: the threads run at once).
 *
 * 2. One connection per thread, the use the seed names for ThreadLocal: a
 *    pool whose thread_init hook opens a "connection" for its thread and
 *    binds it to a key whose destructor closes it when the thread ends.
 *    Tasks reach their thread's connection through loom_context_current()
 *    and check it is their thread's own:
 *
 *      Worker-1 opens connection #1
 *      task 0 on Worker-1 uses connection #1 (owner Worker-1)
 *      ...
 *      Worker-1 closes connection #1 after 4 tasks
 *      loom-context: 8 tasks on 2 threads, 2 connections, every task used its own thread's
 *
 *   loom-context [--threads N] [--tasks N] [--quiet]
 *
 * Exit status: 0 success, 1 a thread saw a value that was not its own (or a
 * count does not add up, or threads could not start), 2 usage error.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <loom.h>

#include "../common/args.h"
#include "../common/version.h"

#define PROG "loom-context"

static loom_lock out_lock = LOOM_LOCK_INITIALIZER;
static int quiet;

/* One whole line at a time from many threads. */
#define say(...)                                                                                   \
    do {                                                                                           \
        loom_lock_acquire(&out_lock);                                                              \
        printf(__VA_ARGS__);                                                                       \
        fflush(stdout);                                                                            \
        loom_lock_release(&out_lock);                                                              \
    } while (0)

/* ---- 1. Alice and Bob ------------------------------------------------------ */

static loom_context_key student_key;
static pthread_barrier_t both_bound;

struct student_arg {
    const char *student;
    const char *thread_name;
    int ok; /* out: the thread read back its own student */
};

/* Knows nothing of the caller: reads the current thread's student. */
static int
process_student(const char *expected)
{
    loom_context *ctx = loom_context_current();
    const char *std = loom_context_get(ctx, student_key);
    say("Hello, %s (in %s)\n", std ? std : "(nobody)", loom_context_name(ctx));
    return std && strcmp(std, expected) == 0;
}

static void *
process_thread(void *p)
{
    struct student_arg *a = p;
    loom_context_set_name(a->thread_name);
    int bound = loom_context_set(loom_context_current(), student_key, (void *)a->student) == 0;
    pthread_barrier_wait(&both_bound); /* both values are bound now */
    a->ok = bound && process_student(a->student);
    return NULL;
}

static int
lesson_students(void)
{
    struct student_arg args[2] = {{"Alice", "Thread-A", 0}, {"Bob", "Thread-B", 0}};
    pthread_t t[2];
    int started = 0;
    if (loom_context_key_create(&student_key, NULL) != LOOM_OK ||
        pthread_barrier_init(&both_bound, NULL, 2) != 0) {
        fprintf(stderr, PROG ": cannot create the key or the barrier\n");
        return 1;
    }
    for (; started < 2; started++)
        if (pthread_create(&t[started], NULL, process_thread, &args[started]) != 0)
            break;
    if (started < 2) {
        /* a thread waits at the barrier: nothing sensible to do but leave */
        fprintf(stderr, PROG ": cannot start threads\n");
        exit(1);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&both_bound);
    return args[0].ok && args[1].ok ? 0 : 1;
}

/* ---- 2. one connection per pool thread ------------------------------------- */

struct connection {
    unsigned id;
    char owner[LOOM_CONTEXT_NAME_MAX + 1]; /* the thread that opened it */
    unsigned long used;                    /* tasks that used it */
};

static loom_context_key conn_key;
static loom_lock count_lock = LOOM_LOCK_INITIALIZER;
static unsigned opened, closed;
static unsigned long uses_closed; /* sum of `used` over closed connections */
static unsigned long wrong;       /* tasks that found someone else's connection */

/* thread_init hook: runs on each pool thread before its first task. */
static void
open_connection(loom_context *ctx, void *arg)
{
    (void)arg;
    struct connection *c = calloc(1, sizeof *c);
    if (!c)
        return; /* tasks will find no connection and count as wrong */
    loom_lock_acquire(&count_lock);
    c->id = ++opened;
    loom_lock_release(&count_lock);
    snprintf(c->owner, sizeof c->owner, "%s", loom_context_name(ctx));
    if (loom_context_set(ctx, conn_key, c) != LOOM_OK) {
        free(c);
        return;
    }
    say("%s opens connection #%u\n", c->owner, c->id);
}

/* The key's destructor: runs on the pool thread as it ends. */
static void
close_connection(void *value)
{
    struct connection *c = value;
    say("%s closes connection #%u after %lu tasks\n", loom_context_name(loom_context_current()),
        c->id, c->used);
    loom_lock_acquire(&count_lock);
    closed++;
    uses_closed += c->used;
    loom_lock_release(&count_lock);
    free(c);
}

/* Deep inside a task: the connection comes from the context, not an argument. */
static void
do_query(long task)
{
    loom_context *ctx = loom_context_current();
    struct connection *c = loom_context_get(ctx, conn_key);
    int own = c && strcmp(c->owner, loom_context_name(ctx)) == 0;
    if (c)
        c->used++; /* only this thread ever touches its connection: no lock */
    if (!quiet || !own)
        say("task %ld on %s uses connection #%u (owner %s)\n", task, loom_context_name(ctx),
            c ? c->id : 0, c ? c->owner : "none");
    if (!own) {
        loom_lock_acquire(&count_lock);
        wrong++;
        loom_lock_release(&count_lock);
    }
}

static void *
query_task(void *arg)
{
    do_query((long)(intptr_t)arg);
    return NULL;
}

static int
lesson_connections(unsigned threads, unsigned tasks)
{
    loom_pool *pool = NULL;
    if (loom_context_key_create(&conn_key, close_connection) != LOOM_OK) {
        fprintf(stderr, PROG ": cannot create the key\n");
        return 1;
    }
    loom_pool_opts o = {.threads = threads, .thread_init = open_connection};
    loom_err rc = loom_pool_create(&o, &pool);
    if (rc != LOOM_OK) {
        fprintf(stderr, PROG ": cannot create the pool: %s\n", loom_last_error());
        return 1;
    }
    for (unsigned i = 0; i < tasks && rc == LOOM_OK; i++)
        rc = loom_pool_submit(pool, query_task, (void *)(intptr_t)i, LOOM_FOREVER, NULL);
    if (rc == LOOM_OK)
        rc = loom_pool_join(pool, LOOM_FOREVER);
    loom_pool_destroy(pool); /* each thread closes its connection as it ends */
    if (rc != LOOM_OK) {
        fprintf(stderr, PROG ": pool: %s\n", loom_last_error());
        return 1;
    }
    printf(PROG ": %u tasks on %u threads, %u connections", tasks, threads, closed);
    if (wrong == 0 && opened == threads && closed == threads && uses_closed == tasks) {
        printf(", every task used its own thread's\n");
        return 0;
    }
    printf(": %lu tasks used another's, %u opened, %u closed, %lu uses\n", wrong, opened, closed,
           uses_closed);
    return 1;
}

int
main(int argc, char **argv)
{
    uint64_t threads = 2, tasks = 8;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf("usage: " PROG " [--threads N] [--tasks N] [--quiet]\n\n"
                   "The seed's ThreadLocal: Alice and Bob each see their own student;\n"
                   "then a pool of N threads (default 2) opens one connection per thread\n"
                   "and runs the tasks (default 8), each using its thread's connection.\n\n"
                   "  --quiet    no line per task\n"
                   "  --version  loom, MPI and build id of this program\n\n"
                   "Exit status: 0 success, 1 a thread saw a value not its own, 2 usage error.\n");
            return 0;
        } else if (strcmp(a, APP_VERSION_OPTION) == 0) {
            app_print_version(PROG);
            return 0;
        } else if (strcmp(a, "--threads") == 0) {
            bad = app_parse_u64(v, 1, 256, &threads);
            i++;
        } else if (strcmp(a, "--tasks") == 0) {
            bad = app_parse_u64(v, 0, 1000000, &tasks);
            i++;
        } else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
            quiet = 1;
        } else {
            fprintf(stderr, PROG ": unknown argument '%s' (try --help)\n", a);
            return 2;
        }
        if (bad) {
            fprintf(stderr, PROG ": %s needs a number in range (try --help)\n", a);
            return 2;
        }
    }
    if (lesson_students() != 0)
        return 1;
    printf("\n");
    return lesson_connections((unsigned)threads, (unsigned)tasks);
}
