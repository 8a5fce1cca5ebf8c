/* SPDX-License-Identifier: MIT */
/* The seed's Pool lessons, with events recorded instead of sleeps: tasks
 * block on a gate the test opens, and a shared sequence numbers every start
 * and finish. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <loom/cpu.h>
#include <loom/pool.h>
#include <loom/process.h>

#include "loom_test.h"

/* ---- a gate and an event log shared by the tasks --------------------- */

#define MAX_TASKS 16

struct gate_env {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int open[MAX_TASKS]; /* task i may finish once open[i] */
    int started;         /* tasks that have started */
    int seq;             /* event counter */
    int start_seq[MAX_TASKS], finish_seq[MAX_TASKS];
    char names[MAX_TASKS][32];
};

static struct gate_env env = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

struct gated {
    int id;
};

static void *
gated_task(void *p)
{
    int id = ((struct gated *)p)->id;
    pthread_mutex_lock(&env.mu);
    env.start_seq[id] = ++env.seq;
    env.started++;
    snprintf(env.names[id], sizeof env.names[id], "%s", loom_context_name(loom_context_current()));
    pthread_cond_broadcast(&env.cv);
    while (!env.open[id])
        pthread_cond_wait(&env.cv, &env.mu);
    env.finish_seq[id] = ++env.seq;
    pthread_mutex_unlock(&env.mu);
    return (void *)(intptr_t)(id * 10);
}

static void
release(int id)
{
    pthread_mutex_lock(&env.mu);
    env.open[id] = 1;
    pthread_cond_broadcast(&env.cv);
    pthread_mutex_unlock(&env.mu);
}

/* Wait (bounded by the test timeout) until n tasks have started. */
static void
wait_started(int n)
{
    pthread_mutex_lock(&env.mu);
    while (env.started < n)
        pthread_cond_wait(&env.cv, &env.mu);
    pthread_mutex_unlock(&env.mu);
}

static int
started_now(void)
{
    pthread_mutex_lock(&env.mu);
    int n = env.started;
    pthread_mutex_unlock(&env.mu);
    return n;
}

static loom_pool *
make_pool(unsigned threads, size_t capacity)
{
    loom_pool_opts o = {.threads = threads, .queue_capacity = capacity};
    loom_pool *p = NULL;
    loom_assert_ok(loom_pool_create(&o, &p));
    cr_assert_eq(loom_pool_threads(p), threads);
    return p;
}

/* ---- the seed's Pool(4) with 5 tasks ----------------------------------- */

Test(pool, four_threads_five_tasks_the_fifth_waits, .timeout = 30)
{
    loom_pool *pool = make_pool(4, 0);
    struct gated args[5];
    loom_future *f[5];
    for (int i = 0; i < 5; i++) {
        args[i].id = i;
        loom_assert_ok(loom_pool_submit(pool, gated_task, &args[i], LOOM_FOREVER, &f[i]));
    }
    wait_started(4);
    /* All four threads are held at the gate: task 4 cannot start. */
    loom_assert_err(loom_future_wait(f[4], 200, NULL), LOOM_ETIMEDOUT);
    cr_assert_eq(started_now(), 4);
    cr_assert_eq(env.start_seq[4], 0);

    release(2);      /* one of the first four finishes ... */
    wait_started(5); /* ... and only then does the fifth start */
    cr_assert_gt(env.start_seq[4], env.finish_seq[2]);
    for (int i = 0; i < 4; i++)
        cr_assert_lt(env.start_seq[i], env.finish_seq[2]);
    for (int i = 0; i < 5; i++)
        release(i);
    for (int i = 0; i < 5; i++) {
        void *r = NULL;
        loom_assert_ok(loom_future_wait(f[i], LOOM_FOREVER, &r));
        cr_assert_eq((intptr_t)r, i * 10);
        loom_future_release(f[i]);
    }
    /* the fifth ran on the thread the finished task freed */
    cr_assert_str_eq(env.names[4], env.names[2]);
    loom_pool_destroy(pool);
}

Test(pool, five_threads_run_five_tasks_at_once, .timeout = 30)
{
    loom_pool *pool = make_pool(5, 0);
    struct gated args[5];
    for (int i = 0; i < 5; i++) {
        args[i].id = i;
        loom_assert_ok(loom_pool_submit(pool, gated_task, &args[i], LOOM_FOREVER, NULL));
    }
    wait_started(5); /* all five started while none may finish */
    for (int i = 0; i < 5; i++)
        cr_assert_eq(env.finish_seq[i], 0);
    /* five distinct threads, named like the seed's */
    for (int i = 0; i < 5; i++) {
        cr_assert(strncmp(env.names[i], "Worker-", 7) == 0, "%s", env.names[i]);
        for (int j = 0; j < i; j++)
            cr_assert(strcmp(env.names[i], env.names[j]) != 0);
    }
    for (int i = 0; i < 5; i++)
        release(i);
    loom_assert_ok(loom_pool_join(pool, LOOM_FOREVER));
    loom_pool_destroy(pool);
}

/* ---- futures, close, join, map ----------------------------------------- */

Test(pool, future_times_out_then_completes, .timeout = 30)
{
    loom_pool *pool = make_pool(1, 0);
    struct gated a = {0};
    loom_future *f;
    loom_assert_ok(loom_pool_submit(pool, gated_task, &a, LOOM_FOREVER, &f));
    loom_assert_err(loom_future_wait(f, 50, NULL), LOOM_ETIMEDOUT);
    loom_assert_err(loom_future_wait(f, LOOM_NOWAIT, NULL), LOOM_ETIMEDOUT);
    cr_assert_not(loom_future_done(f));
    release(0);
    void *r = (void *)1;
    loom_assert_ok(loom_future_wait(f, LOOM_FOREVER, &r));
    cr_assert_eq((intptr_t)r, 0);
    cr_assert(loom_future_done(f));
    loom_assert_ok(loom_future_wait(f, LOOM_NOWAIT, NULL)); /* idempotent */
    loom_future_release(f);
    loom_pool_destroy(pool);
}

static atomic_int counter;

static void *
count_task(void *arg)
{
    atomic_fetch_add(&counter, 1);
    return arg;
}

Test(pool, close_refuses_submissions_but_queued_tasks_run, .timeout = 30)
{
    loom_pool *pool = make_pool(2, 0);
    for (int i = 0; i < 100; i++)
        loom_assert_ok(loom_pool_submit(pool, count_task, NULL, LOOM_FOREVER, NULL));
    loom_pool_close(pool);
    loom_pool_close(pool); /* idempotent */
    loom_future *f = (loom_future *)0x1;
    loom_assert_err(loom_pool_submit(pool, count_task, NULL, LOOM_FOREVER, &f), LOOM_ECLOSED);
    cr_assert_eq(f, (loom_future *)0x1, "no future handed out on failure");
    loom_assert_err(loom_pool_map(pool, count_task, NULL, NULL, 0), LOOM_ECLOSED);
    loom_assert_ok(loom_pool_join(pool, LOOM_FOREVER));
    cr_assert_eq(atomic_load(&counter), 100);
    loom_pool_destroy(pool);
}

Test(pool, join_waits_for_every_task, .timeout = 60)
{
    loom_pool *pool = make_pool(4, 64);
    for (int i = 0; i < 20000; i++)
        loom_assert_ok(loom_pool_submit(pool, count_task, NULL, LOOM_FOREVER, NULL));
    loom_assert_ok(loom_pool_join(pool, LOOM_FOREVER));
    cr_assert_eq(atomic_load(&counter), 20000);
    loom_assert_ok(loom_pool_join(pool, LOOM_NOWAIT)); /* nothing pending */
    loom_pool_destroy(pool);
}

Test(pool, join_times_out_while_a_task_runs, .timeout = 30)
{
    loom_pool *pool = make_pool(1, 0);
    struct gated a = {0};
    loom_assert_ok(loom_pool_submit(pool, gated_task, &a, LOOM_FOREVER, NULL));
    loom_assert_err(loom_pool_join(pool, 50), LOOM_ETIMEDOUT);
    loom_assert_err(loom_pool_join(pool, LOOM_NOWAIT), LOOM_ETIMEDOUT);
    release(0);
    loom_assert_ok(loom_pool_join(pool, LOOM_FOREVER));
    loom_pool_destroy(pool);
}

static void *
square_task(void *arg)
{
    intptr_t x = (intptr_t)arg;
    return (void *)(x * x);
}

Test(pool, map_preserves_order, .timeout = 60)
{
    loom_pool *pool = make_pool(4, 0);
    size_t sizes[] = {1, 3, 7, 100, 100000};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s];
        void **args = malloc(n * sizeof *args), **res = calloc(n, sizeof *res);
        for (size_t i = 0; i < n; i++)
            args[i] = (void *)(intptr_t)i;
        loom_assert_ok(loom_pool_map(pool, square_task, args, res, n));
        for (size_t i = 0; i < n; i++)
            cr_assert_eq((intptr_t)res[i], (intptr_t)(i * i), "n=%zu i=%zu", n, i);
        free(args);
        free(res);
    }
    loom_assert_ok(loom_pool_map(pool, square_task, NULL, NULL, 0));
    loom_pool_destroy(pool);
}

/* ---- back-pressure ------------------------------------------------------ */

struct submitter {
    loom_pool *pool;
    loom_err rc;
};

static void *
submit_forever(void *p)
{
    struct submitter *s = p;
    s->rc = loom_pool_submit(s->pool, count_task, NULL, LOOM_FOREVER, NULL);
    return NULL;
}

Test(pool, full_queue_holds_submitters_back, .timeout = 30)
{
    loom_pool *pool = make_pool(1, 2);
    struct gated a = {0};
    loom_assert_ok(loom_pool_submit(pool, gated_task, &a, LOOM_FOREVER, NULL));
    wait_started(1);
    loom_assert_ok(loom_pool_submit(pool, count_task, NULL, LOOM_NOWAIT, NULL));
    loom_assert_ok(loom_pool_submit(pool, count_task, NULL, LOOM_NOWAIT, NULL));
    loom_assert_err(loom_pool_submit(pool, count_task, NULL, LOOM_NOWAIT, NULL), LOOM_EFULL);
    loom_future *f = NULL;
    loom_assert_err(loom_pool_submit(pool, count_task, NULL, 50, &f), LOOM_EFULL);
    cr_assert_null(f);

    struct submitter s = {pool, LOOM_EINVAL};
    pthread_t t;
    pthread_create(&t, NULL, submit_forever, &s);
    release(0); /* the queue drains and the blocked submitter gets in */
    pthread_join(t, NULL);
    loom_assert_ok(s.rc);
    loom_assert_ok(loom_pool_join(pool, LOOM_FOREVER));
    cr_assert_eq(atomic_load(&counter), 3);
    loom_pool_destroy(pool);
}

Test(pool, close_wakes_a_waiting_submitter, .timeout = 30)
{
    loom_pool *pool = make_pool(1, 1);
    struct gated a = {0};
    loom_assert_ok(loom_pool_submit(pool, gated_task, &a, LOOM_FOREVER, NULL));
    wait_started(1);
    loom_assert_ok(loom_pool_submit(pool, count_task, NULL, LOOM_NOWAIT, NULL));
    struct submitter s = {pool, LOOM_OK};
    pthread_t t;
    pthread_create(&t, NULL, submit_forever, &s);
    loom_pool_close(pool);
    pthread_join(t, NULL);
    loom_assert_err(s.rc, LOOM_ECLOSED);
    release(0);
    loom_assert_ok(loom_pool_join(pool, LOOM_FOREVER)); /* closed, but queued work runs */
    loom_pool_destroy(pool);
    cr_assert_eq(atomic_load(&counter), 1);
}

/* ---- destroy with work queued ------------------------------------------ */

static void *
destroy_pool(void *p)
{
    loom_pool_destroy(p);
    return NULL;
}

Test(pool, destroy_cancels_queued_tasks_cleanly, .timeout = 30)
{
    loom_pool *pool = make_pool(1, 0);
    struct gated a = {0};
    loom_future *running, *queued[10];
    loom_assert_ok(loom_pool_submit(pool, gated_task, &a, LOOM_FOREVER, &running));
    wait_started(1);
    for (int i = 0; i < 10; i++)
        loom_assert_ok(loom_pool_submit(pool, count_task, NULL, LOOM_FOREVER, &queued[i]));
    pthread_t t;
    pthread_create(&t, NULL, destroy_pool, pool);
    /* destroy cancels the queue at once, while the running task still runs */
    for (int i = 0; i < 10; i++)
        loom_assert_err(loom_future_wait(queued[i], LOOM_FOREVER, NULL), LOOM_ECANCELED);
    cr_assert_not(loom_future_done(running));
    release(0);
    pthread_join(t, NULL);
    loom_assert_ok(loom_future_wait(running, LOOM_FOREVER, NULL));
    cr_assert_eq(atomic_load(&counter), 0, "a canceled task ran");
    loom_future_release(running);
    for (int i = 0; i < 10; i++)
        loom_future_release(queued[i]);
}

Test(pool, destroy_null_and_release_null, .timeout = 10)
{
    loom_pool_destroy(NULL);
    loom_future_release(NULL);
}

/* ---- hooks, contexts, self-deadlock ------------------------------------ */

static loom_context_key conn_key;
static atomic_int inits, finis, conns_closed;

static void
close_conn(void *c)
{
    atomic_fetch_add(&conns_closed, 1);
    free(c);
}

static void
open_conn(loom_context *ctx, void *arg)
{
    cr_assert_eq(arg, &conn_key);
    char *conn = malloc(48);
    snprintf(conn, 48, "connection of %s", loom_context_name(ctx));
    loom_context_set(ctx, conn_key, conn);
    atomic_fetch_add(&inits, 1);
}

static void
fini_conn(loom_context *ctx, void *arg)
{
    cr_assert_not_null(loom_context_get(ctx, conn_key), "fini runs before slot destructors");
    atomic_fetch_add(&finis, 1);
}

static void *
use_conn(void *arg)
{
    loom_context *ctx = loom_context_current();
    char expect[48];
    snprintf(expect, sizeof expect, "connection of %s", loom_context_name(ctx));
    const char *conn = loom_context_get(ctx, conn_key);
    return (void *)(intptr_t)(conn && strcmp(conn, expect) == 0 && loom_context_index(ctx) >= 0);
}

Test(pool, thread_hooks_give_each_thread_its_connection, .timeout = 30)
{
    loom_assert_ok(loom_context_key_create(&conn_key, close_conn));
    loom_pool_opts o = {.threads = 3,
                        .name_prefix = "DbWorker",
                        .thread_init = open_conn,
                        .thread_fini = fini_conn,
                        .hook_arg = &conn_key};
    loom_pool *pool;
    loom_assert_ok(loom_pool_create(&o, &pool));
    cr_assert_eq(atomic_load(&inits), 3, "create returns after every init hook");
    void *res[300];
    loom_assert_ok(loom_pool_map(pool, use_conn, NULL, res, 300));
    for (int i = 0; i < 300; i++)
        cr_assert_eq((intptr_t)res[i], 1);
    loom_pool_destroy(pool);
    cr_assert_eq(atomic_load(&finis), 3);
    cr_assert_eq(atomic_load(&conns_closed), 3);
}

Test(pool, prefix_is_checked, .timeout = 10)
{
    loom_pool *pool = NULL;
    loom_pool_opts o = {.threads = 1, .name_prefix = "a-prefix-longer-than-twenty"};
    loom_assert_err(loom_pool_create(&o, &pool), LOOM_EINVAL);
    o.name_prefix = "";
    loom_assert_err(loom_pool_create(&o, &pool), LOOM_EINVAL);
    cr_assert_null(pool);
}

static loom_pool *self_pool;

static void *
call_back_into_pool(void *arg)
{
    loom_err m = loom_pool_map(self_pool, square_task, NULL, NULL, 4);
    loom_err j = loom_pool_join(self_pool, LOOM_FOREVER);
    loom_err s = loom_pool_submit(self_pool, count_task, NULL, LOOM_FOREVER, NULL);
    return (void *)(intptr_t)(m == LOOM_EDEADLK && j == LOOM_EDEADLK && s == LOOM_OK);
}

Test(pool, calls_that_would_deadlock_are_refused_inside_tasks, .timeout = 30)
{
    self_pool = make_pool(2, 0);
    loom_future *f;
    loom_assert_ok(loom_pool_submit(self_pool, call_back_into_pool, NULL, LOOM_FOREVER, &f));
    void *r;
    loom_assert_ok(loom_future_wait(f, LOOM_FOREVER, &r));
    cr_assert_eq((intptr_t)r, 1);
    loom_future_release(f);
    loom_assert_ok(loom_pool_join(self_pool, LOOM_FOREVER));
    cr_assert_eq(atomic_load(&counter), 1, "a task may submit tasks");
    loom_pool_destroy(self_pool);
}

Test(pool, default_size_is_the_cpus_we_may_use, .timeout = 10)
{
    loom_pool *pool;
    loom_assert_ok(loom_pool_create(NULL, &pool));
    cr_assert_eq(loom_pool_threads(pool), loom_cpu_count(NULL));
    loom_pool_destroy(pool);
}

/* ---- pinning ------------------------------------------------------------ */

#define PIN_THREADS 5
static int pinned[PIN_THREADS][2]; /* thread i: its mask's size, its first CPU */

static void
record_mask(loom_context *ctx, void *arg)
{
    (void)arg;
    int cpus[CPU_SETSIZE], i = loom_context_index(ctx);
    cr_assert(i >= 0 && i < PIN_THREADS);
    pinned[i][0] = loom_test_thread_cpus(cpus, CPU_SETSIZE);
    pinned[i][1] = cpus[0];
}

/* A command's CPUs as the kernel says (Cpus_allowed_list), run from a
 * pool thread. */
static void *
command_cpus(void *arg)
{
    (void)arg;
    const char *argv[] = {"/bin/grep", "^Cpus_allowed_list:", "/proc/self/status", NULL};
    loom_proc_opts o = {.argv = argv};
    loom_proc_result r;
    if (loom_proc_run(&o, &r) != LOOM_OK)
        return NULL;
    char *out = r.exit_code == 0 ? strdup(r.out) : NULL;
    loom_proc_result_free(&r);
    return out;
}

/* pool.pin: thread i on the i-th CPU of the mask (round robin), one CPU
 * each; a command it starts gets the whole mask back. */
Test(pool, pinned_threads_take_one_cpu_each_and_commands_get_all, .timeout = 30)
{
    int cpus[CPU_SETSIZE];
    int n = loom_test_thread_cpus(cpus, CPU_SETSIZE);
    loom_pool_opts o = {.threads = PIN_THREADS, .pin = 1, .thread_init = record_mask};
    loom_pool *pool;
    loom_assert_ok(loom_pool_create(&o, &pool));
    for (int i = 0; i < PIN_THREADS; i++) {
        cr_assert_eq(pinned[i][0], 1, "thread %d may run on %d CPUs", i + 1, pinned[i][0]);
        cr_assert_eq(pinned[i][1], cpus[i % n], "thread %d on CPU %d, not %d", i + 1, pinned[i][1],
                     cpus[i % n]);
    }
    /* the process (this thread) keeps its mask */
    int again[CPU_SETSIZE];
    cr_assert_eq(loom_test_thread_cpus(again, CPU_SETSIZE), n);

    /* what a command sees, from a pinned thread, against this thread's own */
    const char *argv[] = {"/bin/grep", "^Cpus_allowed_list:", "/proc/self/status", NULL};
    loom_proc_opts po = {.argv = argv};
    loom_proc_result mine;
    loom_assert_ok(loom_proc_run(&po, &mine));
    cr_assert_eq(mine.exit_code, 0);
    void *res[PIN_THREADS * 4];
    loom_assert_ok(loom_pool_map(pool, command_cpus, NULL, res, PIN_THREADS * 4));
    for (int i = 0; i < PIN_THREADS * 4; i++) {
        cr_assert_not_null(res[i]);
        cr_assert_str_eq(res[i], mine.out, "a command of a pinned thread: %s", (char *)res[i]);
        free(res[i]);
    }
    loom_proc_result_free(&mine);
    loom_pool_destroy(pool);
}

Test(pool, unpinned_threads_keep_the_whole_mask, .timeout = 30)
{
    int cpus[CPU_SETSIZE];
    int n = loom_test_thread_cpus(cpus, CPU_SETSIZE);
    loom_pool_opts o = {.threads = PIN_THREADS, .thread_init = record_mask};
    loom_pool *pool;
    loom_assert_ok(loom_pool_create(&o, &pool));
    for (int i = 0; i < PIN_THREADS; i++)
        cr_assert_eq(pinned[i][0], n, "thread %d may run on %d of %d CPUs", i + 1, pinned[i][0], n);
    loom_pool_destroy(pool);
}

/* ---- many producers, many waiters (the TSan build leans on this) ------- */

#define PRODUCERS    4
#define PER_PRODUCER 5000

static void *
produce(void *p)
{
    loom_pool *pool = p;
    intptr_t sum = 0;
    for (intptr_t i = 0; i < PER_PRODUCER; i++) {
        loom_future *f;
        loom_assert_ok(loom_pool_submit(pool, square_task, (void *)i, LOOM_FOREVER, &f));
        void *r;
        if (i % 2 == 0) { /* wait on half of them, drop the rest unwaited */
            loom_assert_ok(loom_future_wait(f, LOOM_FOREVER, &r));
            sum += (intptr_t)r;
        }
        loom_future_release(f);
    }
    return (void *)sum;
}

Test(pool, concurrent_producers_and_waiters, .timeout = 120)
{
    loom_pool *pool = make_pool(4, 16);
    pthread_t t[PRODUCERS];
    for (int i = 0; i < PRODUCERS; i++)
        pthread_create(&t[i], NULL, produce, pool);
    intptr_t expect = 0;
    for (intptr_t i = 0; i < PER_PRODUCER; i += 2)
        expect += i * i;
    for (int i = 0; i < PRODUCERS; i++) {
        void *sum;
        pthread_join(t[i], &sum);
        cr_assert_eq((intptr_t)sum, expect);
    }
    loom_pool_destroy(pool);
}
