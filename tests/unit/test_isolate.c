/* SPDX-License-Identifier: MIT */
/*
 * Isolated tasks without MPI (isolate.c): the helper protocol and the fork
 * variant, task by task — returns, failures, crashes, exits, hangs, memory,
 * user data, chunks and what an isolated task may not do.
 *
 * The helper is this test binary, exec'd again: isolate.c's constructor
 * turns it into a helper before Criterion's main() runs.
 */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "isolate.h"
#include "job_types.h"
#include "task.h"
#include "loom_test.h"
#include "wire.h"

/* ---- task functions (found in the helper by object + offset) --------------- */

static int
echo_task(loom_task *t, void *user)
{
    (void)user;
    size_t len;
    const void *p = loom_task_payload(t, &len);
    return loom_task_reply(t, p, len) == LOOM_OK ? 0 : 99;
}

static int
fail_task(loom_task *t, void *user)
{
    (void)t;
    (void)user;
    return 7;
}

static int
segv_task(loom_task *t, void *user)
{
    (void)t;
    (void)user;
    raise(SIGSEGV);
    return 0;
}

static int
abort_task(loom_task *t, void *user)
{
    (void)t;
    (void)user;
    abort();
}

static int
exit_task(loom_task *t, void *user)
{
    (void)t;
    (void)user;
    exit(3);
}

static int
hang_task(loom_task *t, void *user)
{
    (void)t;
    (void)user;
    for (;;)
        pause();
    return 0;
}

/* Issue #16: a task that closes every descriptor it has (loom's socket to
 * it too) and goes on. Its ends must be its own, not "killed by signal 9"
 * (the SIGKILL loom sent when it took the socket's EOF for a death). It
 * lives on 100 ms after closing: that is the case, not a synchronisation. */
static void
close_all_and_live_on(void)
{
    for (int fd = 0; fd < 1024; fd++)
        close(fd);
    struct timespec d = {0, 100 * 1000000};
    nanosleep(&d, NULL);
}

static int
closeall_exit_task(loom_task *t, void *user)
{
    (void)t;
    (void)user;
    close_all_and_live_on();
    exit(4);
}

static int
closeall_segv_task(loom_task *t, void *user)
{
    (void)t;
    (void)user;
    close_all_and_live_on();
    raise(SIGSEGV);
    return 0;
}

static int
closeall_hang_task(loom_task *t, void *user)
{
    (void)t;
    (void)user;
    close_all_and_live_on();
    for (;;)
        pause();
    return 0;
}

/* Returns: its reply cannot reach loom, and its process exits 0. */
static int
closeall_return_task(loom_task *t, void *user)
{
    (void)t;
    (void)user;
    close_all_and_live_on();
    return 0;
}

/* The memory limit every_end runs its tasks under, and the timeout of
 * every task there that must not end by time. */
#define MEM_LIMIT ((uint64_t)64 << 20)
#define LONG_MS   20000

/* Goes past MEM_LIMIT in one step: one mapping of twice the limit, made
 * resident by the kernel as it is mapped (MAP_POPULATE: page by page
 * faults cost ~30 us each in this VM when the machine is busy, so touching
 * 64 MiB that way took 2 s), then waits to be killed. A broken limit
 * leaves it waiting until the task's timeout: cause TIMEOUT, not MEMORY. */
static int
memory_task(loom_task *t, void *user)
{
    (void)t;
    (void)user;
    void *p = mmap(NULL, (size_t)(2 * MEM_LIMIT), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (p == MAP_FAILED)
        return 98;
    for (;;)
        pause();
    return 97;
}

/* What an isolated task can see of its job and what it may not do. */
static int
probe_task(loom_task *t, void *user)
{
    int64_t v[5] = {loom_job_rank(loom_task_job(t)), loom_job_size(loom_task_job(t)),
                    (int64_t)loom_task_id(t), (int64_t)loom_task_attempt(t),
                    loom_task_submit(t, "echo", NULL, 0)};
    (void)user;
    return loom_task_reply(t, v, sizeof v) == LOOM_OK ? 0 : 1;
}

static const char static_user[] = "static data";

static int
user_task(loom_task *t, void *user)
{
    return loom_task_reply_str(t, user ? (const char *)user : "(null)") == LOOM_OK ? 0 : 1;
}

static int
pid_task(loom_task *t, void *user)
{
    (void)user;
    return loom_task_reply_i64(t, getpid()) == LOOM_OK ? 0 : 1;
}

/* ---- harness -------------------------------------------------------------- */

static struct loom_job job;

static void
setup(void)
{
#ifdef __SANITIZE_ADDRESS__
    /* crashes must reach the parent as signals, not as ASan reports */
    const char *o = getenv("ASAN_OPTIONS");
    char buf[512];
    snprintf(buf, sizeof buf, "%s%shandle_segv=0:handle_abort=0:detect_leaks=0", o ? o : "",
             o && *o ? ":" : "");
    setenv("ASAN_OPTIONS", buf, 1);
#endif
    memset(&job, 0, sizeof job);
    job.rank = 3;
    job.size = 5;
    job.set.threads = 2;
    job.set.max_payload = (size_t)1 << 26;
}

static struct job_fn
fn_of(const char *name, loom_task_fn fn, void *user)
{
    struct job_fn f;
    memset(&f, 0, sizeof f);
    snprintf(f.name, sizeof f.name, "%s", name);
    f.fn = fn;
    f.user = user;
    return f;
}

/* Run one task isolated; the reply stays in *t (free with
 * loom__task_reply_free). */
static struct loom__iso_outcome
run(struct loom__iso *h, int mode, const struct job_fn *f, const void *payload, size_t len,
    loom_task *t, int64_t timeout_ms, uint64_t mem)
{
    struct loom__iso_limits lim = {timeout_ms * 1000000, mem, mode};
    struct loom__iso_outcome o;
    t->job = &job;
    t->id = 42;
    t->attempt = 2;
    t->payload = payload;
    t->len = len;
    loom__iso_run(h, &lim, f, 0, t, &o);
    return o;
}

static void
expect(struct loom__iso_outcome o, int status, loom_cause cause, int code)
{
    cr_assert_eq(o.cause, cause, "cause %s (%d), want %s", loom_cause_name(o.cause), o.code,
                 loom_cause_name(cause));
    cr_assert_eq(o.status, status, "status %d, want %d", o.status, status);
    cr_assert_eq(o.code, code, "code %d, want %d", o.code, code);
}

/* Every kind of end, in one slot, in the given mode: the slot recovers
 * after each death and the next task runs normally. The hang must end by
 * its 300 ms timeout (and not before); every other task has 20 s, so that
 * only a broken limit or a lost reply, never a slow machine, can make one
 * end by time: the memory task must be ended by its limit. */
static void
every_end(int mode)
{
    struct loom__iso *h;
    loom_task t;
    memset(&t, 0, sizeof t);
    loom_assert_ok(loom__iso_create(&h));
    struct job_fn echo = fn_of("echo", echo_task, NULL), fail = fn_of("fail", fail_task, NULL),
                  segv = fn_of("segv", segv_task, NULL), abrt = fn_of("abort", abort_task, NULL),
                  ex = fn_of("exit", exit_task, NULL), hang = fn_of("hang", hang_task, NULL),
                  mem = fn_of("memory", memory_task, NULL),
                  cx = fn_of("closeall_exit", closeall_exit_task, NULL),
                  cs = fn_of("closeall_segv", closeall_segv_task, NULL),
                  ch = fn_of("closeall_hang", closeall_hang_task, NULL),
                  cr = fn_of("closeall_return", closeall_return_task, NULL);
    const struct {
        const struct job_fn *f;
        loom_cause cause;
        int status, code;
        int64_t timeout_ms;
    } cases[] = {
        {&echo, LOOM_CAUSE_OK, 0, 0, LONG_MS},
        {&fail, LOOM_CAUSE_FAILED, 7, 0, LONG_MS},
        {&segv, LOOM_CAUSE_SIGNAL, -1, SIGSEGV, LONG_MS},
        {&abrt, LOOM_CAUSE_SIGNAL, -1, SIGABRT, LONG_MS},
        {&ex, LOOM_CAUSE_EXIT, -1, 3, LONG_MS},
        {&hang, LOOM_CAUSE_TIMEOUT, -1, 0, 300},
        {&mem, LOOM_CAUSE_MEMORY, -1, 0, LONG_MS},
        {&cx, LOOM_CAUSE_EXIT, -1, 4, LONG_MS},
        {&cs, LOOM_CAUSE_SIGNAL, -1, SIGSEGV, LONG_MS},
        {&ch, LOOM_CAUSE_TIMEOUT, -1, 0, 300},
        {&cr, LOOM_CAUSE_EXIT, -1, 0, LONG_MS},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        struct loom__iso_outcome o =
            run(h, mode, cases[i].f, "x", 2, &t, cases[i].timeout_ms, MEM_LIMIT);
        clock_gettime(CLOCK_MONOTONIC, &b);
        double ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
        cr_assert_eq(o.cause, cases[i].cause,
                     "task '%s': cause %s (%d), want %s; it ended after %.0f ms (timeout %lld ms)",
                     cases[i].f->name, loom_cause_name(o.cause), o.code,
                     loom_cause_name(cases[i].cause), ms, (long long)cases[i].timeout_ms);
        expect(o, cases[i].status, cases[i].cause, cases[i].code);
        if (o.cause == LOOM_CAUSE_TIMEOUT)
            cr_assert_geq(ms, (double)cases[i].timeout_ms,
                          "killed after %.0f ms, before its %lld ms", ms,
                          (long long)cases[i].timeout_ms);
        /* and the slot still works */
        o = run(h, mode, &echo, "hello", 6, &t, LONG_MS, MEM_LIMIT);
        expect(o, 0, LOOM_CAUSE_OK, 0);
        cr_assert_eq(t.reply_len, 6);
        cr_assert_str_eq(t.reply, "hello");
    }
    loom__task_reply_free(&t);
    loom__iso_destroy(h);
}

Test(isolate, helper_every_end, .init = setup, .timeout = 60)
{
    every_end(LOOM__ISO_HELPER);
}

Test(isolate, fork_every_end, .init = setup, .timeout = 60)
{
    every_end(LOOM__ISO_FORK);
}

/* One helper serves task after task; a crash replaces it. */
Test(isolate, helper_is_reused_until_it_dies, .init = setup, .timeout = 30)
{
    struct loom__iso *h;
    loom_task t;
    memset(&t, 0, sizeof t);
    loom_assert_ok(loom__iso_create(&h));
    cr_assert_eq(loom__iso_helper_pid(h), -1, "no helper before the first task");
    struct job_fn pid = fn_of("pid", pid_task, NULL), segv = fn_of("segv", segv_task, NULL);
    int64_t first = -1, v = -1;
    for (int i = 0; i < 100; i++) {
        expect(run(h, LOOM__ISO_HELPER, &pid, NULL, 0, &t, 0, 0), 0, LOOM_CAUSE_OK, 0);
        cr_assert_eq(t.reply_len, 8);
        memcpy(&v, t.reply, 8);
        if (i == 0)
            first = v;
        cr_assert_eq(v, first, "task %d ran in pid %lld, not %lld", i, (long long)v,
                     (long long)first);
    }
    cr_assert_neq(first, getpid());
    cr_assert_eq(loom__iso_helper_pid(h), first);
    expect(run(h, LOOM__ISO_HELPER, &segv, NULL, 0, &t, 0, 0), -1, LOOM_CAUSE_SIGNAL, SIGSEGV);
    cr_assert_eq(loom__iso_helper_pid(h), -1, "the dead helper is reaped and forgotten");
    expect(run(h, LOOM__ISO_HELPER, &pid, NULL, 0, &t, 0, 0), 0, LOOM_CAUSE_OK, 0);
    memcpy(&v, t.reply, 8);
    cr_assert_neq(v, first);
    loom__task_reply_free(&t);
    loom__iso_destroy(h);
}

Test(isolate, task_sees_its_job_but_cannot_submit, .init = setup, .timeout = 30)
{
    struct loom__iso *h;
    loom_task t;
    memset(&t, 0, sizeof t);
    loom_assert_ok(loom__iso_create(&h));
    struct job_fn probe = fn_of("probe", probe_task, NULL);
    for (int mode = 0; mode < 2; mode++) {
        /* the refused submit, unhandled (it returns 0), fails the task */
        expect(run(h, mode, &probe, NULL, 0, &t, 0, 0), -1, LOOM_CAUSE_FAILED, LOOM_ESTATE);
        int64_t v[5];
        cr_assert_eq(t.reply_len, sizeof v);
        memcpy(v, t.reply, sizeof v);
        cr_assert_eq(v[0], 3);
        cr_assert_eq(v[1], 5);
        cr_assert_eq(v[2], 42);
        cr_assert_eq(v[3], 2);
        cr_assert_eq(v[4], LOOM_ESTATE, "mode %d: submit gave %lld", mode, (long long)v[4]);
    }
    loom__task_reply_free(&t);
    loom__iso_destroy(h);
}

/* Static user data is translated to the helper; heap data cannot be, and
 * the task fails with cause ISOLATION instead of getting a bad pointer.
 * fork mode passes any pointer. */
Test(isolate, user_pointers, .init = setup, .timeout = 30)
{
    struct loom__iso *h;
    loom_task t;
    memset(&t, 0, sizeof t);
    loom_assert_ok(loom__iso_create(&h));
    char *heap = strdup("heap data");
    struct job_fn st = fn_of("st", user_task, (void *)static_user),
                  none = fn_of("none", user_task, NULL), hp = fn_of("heap", user_task, heap);
    expect(run(h, LOOM__ISO_HELPER, &st, NULL, 0, &t, 0, 0), 0, LOOM_CAUSE_OK, 0);
    cr_assert_str_eq(t.reply, "static data");
    expect(run(h, LOOM__ISO_HELPER, &none, NULL, 0, &t, 0, 0), 0, LOOM_CAUSE_OK, 0);
    cr_assert_str_eq(t.reply, "(null)");
    expect(run(h, LOOM__ISO_HELPER, &hp, NULL, 0, &t, 0, 0), -1, LOOM_CAUSE_ISOLATION, 0);
    expect(run(h, LOOM__ISO_FORK, &hp, NULL, 0, &t, 0, 0), 0, LOOM_CAUSE_OK, 0);
    cr_assert_str_eq(t.reply, "heap data");
    free(heap);
    loom__task_reply_free(&t);
    loom__iso_destroy(h);
}

/* Payloads and replies larger than a socket buffer cross both ways. */
Test(isolate, large_payload_and_reply, .init = setup, .timeout = 30)
{
    struct loom__iso *h;
    loom_task t;
    memset(&t, 0, sizeof t);
    loom_assert_ok(loom__iso_create(&h));
    size_t n = (size_t)8 << 20;
    char *big = malloc(n);
    cr_assert_not_null(big);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)(i * 7);
    struct job_fn echo = fn_of("echo", echo_task, NULL);
    for (int mode = 0; mode < 2; mode++) {
        expect(run(h, mode, &echo, big, n, &t, 0, 0), 0, LOOM_CAUSE_OK, 0);
        cr_assert_eq(t.reply_len, n);
        cr_assert(memcmp(t.reply, big, n) == 0);
    }
    free(big);
    loom__task_reply_free(&t);
    loom__iso_destroy(h);
}

/* A map chunk runs in the helper as one task: every input's reply comes
 * back packed. */
Test(isolate, chunk_runs_in_the_helper, .init = setup, .timeout = 30)
{
    struct loom__iso *h;
    loom_task t;
    memset(&t, 0, sizeof t);
    loom_assert_ok(loom__iso_create(&h));
    const char *items[3] = {"a", "bb", "ccc"};
    size_t lens[3] = {2, 3, 4};
    size_t size = wire_chunk_size(3, lens);
    char *packed = malloc(size);
    cr_assert_not_null(packed);
    wire_chunk_pack(packed, 3, (const void *const *)items, lens);
    struct job_fn echo = fn_of("echo", echo_task, NULL);
    struct loom__iso_limits lim = {0, 0, LOOM__ISO_HELPER};
    struct loom__iso_outcome o;
    t.job = &job;
    t.payload = packed;
    t.len = size;
    loom__iso_run(h, &lim, &echo, 1, &t, &o);
    expect(o, 0, LOOM_CAUSE_OK, 0);
    uint32_t n;
    const char *st, *ls, *data;
    loom_assert_ok(wire_chunk_reply_open(t.reply, t.reply_len, &n, &st, &ls, &data));
    cr_assert_eq(n, 3);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t l;
        memcpy(&l, ls + 4 * i, 4);
        cr_assert_eq(l, lens[i]);
        cr_assert_str_eq(data, items[i]);
        data += l;
    }
    free(packed);
    loom__task_reply_free(&t);
    loom__iso_destroy(h);
}

Test(isolate, cause_names, .timeout = 10)
{
    cr_assert_str_eq(loom_cause_name(LOOM_CAUSE_OK), "ok");
    cr_assert_str_eq(loom_cause_name(LOOM_CAUSE_FAILED), "failed");
    cr_assert_str_eq(loom_cause_name(LOOM_CAUSE_SIGNAL), "signal");
    cr_assert_str_eq(loom_cause_name(LOOM_CAUSE_EXIT), "exit");
    cr_assert_str_eq(loom_cause_name(LOOM_CAUSE_TIMEOUT), "timeout");
    cr_assert_str_eq(loom_cause_name(LOOM_CAUSE_MEMORY), "memory");
    cr_assert_str_eq(loom_cause_name(LOOM_CAUSE_ISOLATION), "isolation");
    cr_assert_str_eq(loom_cause_name(LOOM_CAUSE_LOST), "lost");
    cr_assert_str_eq(loom_cause_name((loom_cause)99), "unknown");
}
