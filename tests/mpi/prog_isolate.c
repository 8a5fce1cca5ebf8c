/* SPDX-License-Identifier: MIT */
/*
 * Isolated tasks under MPI: N tasks of which a known 5 % (chosen by their
 * index) segfault, abort, exit(3), grow past task.memory_limit or hang past
 * task.timeout; the rest succeed. The master checks every result against
 * what its task did and prints
 *   ISOLATE tasks=N ok=K segv=A abort=B exit=C memory=D timeout=E wrong=W
 *   PIDS workers=R same=S
 *   TIMES memory_killed_after_max_ms=M hang_killed_after_min_ms=H
 * where wrong counts results whose status, cause, code or reply differ
 * from the task's plan, and S the worker ranks whose pid (reported by an
 * in-thread task before and after) did not change; M and H the longest a
 * memory task and the shortest a hanging task ran before their kill. Exit
 * status: 1 when any task failed — as a job whose tasks failed should — or
 * a check failed; the test tells them apart by the lines.
 *
 * With --map M (job.isolate on) the master then maps "work" over the
 * values 0..M-1: chunks run isolated as a whole, so a chunk holding a
 * value planned to segfault fails with cause SIGNAL for all its inputs:
 *   MAP inputs=M wrong=W planned_crashes=P
 * W counts results that are neither right nor SIGNAL, and planned-to-crash
 * inputs that did not come back SIGNAL; P the planned crashes seen as SIGNAL.
 *
 *   prog_isolate [--tasks N] [--flag] [--map M]   (loom options: --task-timeout ...)
 * --flag: isolate by loom_job_submit_flags(LOOM_TASK_ISOLATED) instead of
 * the job-wide job.isolate (which the test then sets); the pid tasks always
 * run in threads (LOOM_TASK_IN_THREAD).
 */
#define _GNU_SOURCE /* MAP_POPULATE */
#include <signal.h>
#include <sys/mman.h>

#include "prog_common.h"

enum plan { P_OK, P_SEGV, P_ABORT, P_EXIT, P_MEMORY, P_HANG };

/* What a memory task makes resident: twice the 32 MiB limit the test sets,
 * in one mapping the kernel populates as it maps it (page by page faults
 * cost up to ~30 us each on a busy VM: touching 32 MiB that way took
 * longer than the task timeout). tests/mpi/test_mpi_isolate.c times the
 * same mapping to choose that timeout. */
#define MEMORY_GRAB ((size_t)64 << 20)

/* Deterministic by index: every 20th task fails (5 %); of 100 failures 30
 * segfault, 30 abort, 30 exit(3), 8 grow past the memory limit and 2 hang
 * (hangs cost task.timeout each, so they are few). */
static enum plan
plan_of(uint64_t i)
{
    if (i % 20 != 7)
        return P_OK;
    uint64_t j = (i / 20) % 100;
    return j < 30 ? P_SEGV : j < 60 ? P_ABORT : j < 90 ? P_EXIT : j < 98 ? P_MEMORY : P_HANG;
}

static int
work_task(loom_task *task, void *user)
{
    (void)user;
    int64_t i;
    if (loom_task_arg_i64(task, &i) != LOOM_OK)
        return 2;
    switch (plan_of((uint64_t)i)) {
    case P_OK:
        return loom_task_reply_i64(task, i * 3 + 1) == LOOM_OK ? 0 : 2;
    case P_SEGV:
        raise(SIGSEGV);
        return 2;
    case P_ABORT:
        abort();
    case P_EXIT:
        exit(3);
    case P_MEMORY: {
        /* past the limit in one step, then wait to be killed: a broken
         * limit ends it by the timeout instead (cause TIMEOUT: wrong) */
        void *p = mmap(NULL, MEMORY_GRAB, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
        if (p == MAP_FAILED)
            return 2;
        for (;;)
            pause();
    }
    case P_HANG:
        for (;;)
            pause();
    }
    return 2;
}

/* What the master counted: results right for their plan, by plan, the
 * wrong ones, and how long memory and hang tasks ran before their kill. */
struct tally {
    uint64_t ok, segv, abrt, ex, mem, tmo, wrong;
    int64_t mem_max_ns, hang_min_ns;
};

/* Count result r of task i against the task's plan; print the first ten
 * wrong ones. */
static void
judge(struct tally *c, uint64_t i, const loom_result *r)
{
    enum plan pl = plan_of(i);
    int64_t reply = -1;
    int right;
    switch (pl) {
    case P_OK:
        right = r->status == 0 && r->cause == LOOM_CAUSE_OK && loom_result_i64(r, &reply) == 0 &&
                reply == (int64_t)i * 3 + 1;
        c->ok += right;
        break;
    case P_SEGV:
    case P_ABORT:
        right = r->status == -1 && r->cause == LOOM_CAUSE_SIGNAL && r->len == 0 &&
                r->cause_code == (pl == P_SEGV ? SIGSEGV : SIGABRT);
        c->segv += right && pl == P_SEGV;
        c->abrt += right && pl == P_ABORT;
        break;
    case P_EXIT:
        right = r->status == -1 && r->cause == LOOM_CAUSE_EXIT && r->cause_code == 3;
        c->ex += right;
        break;
    case P_MEMORY:
        right = r->status == -1 && r->cause == LOOM_CAUSE_MEMORY;
        c->mem += right;
        if (r->run_ns > c->mem_max_ns)
            c->mem_max_ns = r->run_ns;
        break;
    case P_HANG:
    default:
        right = r->status == -1 && r->cause == LOOM_CAUSE_TIMEOUT;
        c->tmo += right;
        if (c->hang_min_ns == 0 || r->run_ns < c->hang_min_ns)
            c->hang_min_ns = r->run_ns;
        break;
    }
    if (!right && ++c->wrong <= 10)
        out("WRONG task=%llu plan=%d status=%d cause=%s code=%d len=%zu ran_ms=%.0f\n",
            (unsigned long long)i, (int)pl, r->status, loom_cause_name(r->cause), r->cause_code,
            r->len, r->run_ns / 1e6);
}

/* {rank, pid} of the worker thread that runs it (in a thread, never isolated) */
static int
pid_task(loom_task *task, void *user)
{
    (void)user;
    int64_t v[2] = {loom_job_rank(loom_task_job(task)), getpid()};
    return loom_task_reply(task, v, sizeof v) == LOOM_OK ? 0 : 1;
}

/* Fill pids[rank] for every worker rank; 0 when all answered. */
static int
collect_pids(struct prog *p, int64_t *pids)
{
    int size = loom_job_size(p->job), missing = size - 1;
    for (int r = 0; r < size; r++)
        pids[r] = -1;
    for (int round = 0; round < 1000 && missing > 0; round++) {
        for (int k = 0; k < 4 * size; k++)
            if (loom_job_submit_flags(p->job, "pid", NULL, 0, LOOM_TASK_IN_THREAD, LOOM_FOREVER,
                                      NULL) != LOOM_OK)
                return 1;
        loom_result r;
        while (loom_job_next_result(p->job, LOOM_FOREVER, &r) == LOOM_OK) {
            int64_t v[2];
            if (r.status == 0 && r.len == sizeof v) {
                memcpy(v, r.data, sizeof v);
                if (v[0] == r.rank && v[0] > 0 && v[0] < size) {
                    if (pids[v[0]] < 0)
                        missing--;
                    if (pids[v[0]] >= 0 && pids[v[0]] != v[1])
                        out("PIDCHANGE rank=%lld %lld->%lld\n", (long long)v[0],
                            (long long)pids[v[0]], (long long)v[1]);
                    pids[v[0]] = v[1];
                }
            }
            loom_result_free(&r);
        }
    }
    return missing > 0;
}

/* loom_job_map over 0..m-1 with every task isolated (job.isolate). */
static int
map_check(struct prog *p, uint64_t m)
{
    int64_t *vals = malloc(m * sizeof *vals);
    const void **in = malloc(m * sizeof *in);
    size_t *lens = malloc(m * sizeof *lens);
    loom_result *res = calloc(m, sizeof *res);
    if (!vals || !in || !lens || !res) {
        out("CHECK map: no memory\n");
        return 1;
    }
    for (uint64_t i = 0; i < m; i++) {
        vals[i] = (int64_t)i;
        in[i] = &vals[i];
        lens[i] = sizeof vals[i];
    }
    loom_err rc = loom_job_map(p->job, "work", in, lens, m, res);
    uint64_t wrong = 0, planned = 0, ok = 0, crashed = 0;
    for (uint64_t i = 0; rc == LOOM_OK && i < m; i++) {
        int64_t reply = -1;
        enum plan pl = plan_of(i);
        int sig = res[i].status == -1 && res[i].cause == LOOM_CAUSE_SIGNAL &&
                  res[i].cause_code == SIGSEGV;
        int right = pl == P_OK && res[i].status == 0 && res[i].cause == LOOM_CAUSE_OK &&
                    loom_result_i64(&res[i], &reply) == LOOM_OK && reply == (int64_t)i * 3 + 1;
        if (pl == P_SEGV && sig)
            planned++;
        else if (pl != P_OK || (!right && !sig))
            wrong++;
        ok += right;
        crashed += sig;
        loom_result_free(&res[i]);
    }
    out("MAP inputs=%llu wrong=%llu planned_crashes=%llu\n", (unsigned long long)m,
        (unsigned long long)wrong, (unsigned long long)planned);
    out("MAPINFO rc=%s ok=%llu crashed=%llu\n", loom_err_name(rc), (unsigned long long)ok,
        (unsigned long long)crashed);
    free(vals);
    free(in);
    free(lens);
    free(res);
    return rc != LOOM_OK;
}

int
main(int argc, char **argv)
{
    struct prog p;
    uint64_t n = 10000, nmap = 0;
    int by_flag = 0;
    int status = prog_config(&p, "prog_isolate", &argc, argv);
    if (status != 0)
        return prog_end(&p, status);
    for (int i = 1; i < argc; i++) {
        if (prog_opt_u64(argc, argv, &i, "--tasks", &n) ||
            prog_opt_u64(argc, argv, &i, "--map", &nmap))
            continue;
        if (strcmp(argv[i], "--flag") == 0) {
            by_flag = 1;
            continue;
        }
        fprintf(stderr, "prog_isolate: unknown argument '%s'\n", argv[i]);
        return prog_end(&p, 2);
    }
    if ((status = prog_init(&p, &argc, &argv)) != 0)
        return prog_end(&p, status);
    if (loom_job_register(p.job, "work", work_task, NULL) != LOOM_OK ||
        loom_job_register(p.job, "pid", pid_task, NULL) != LOOM_OK || prog_start(&p) != 0)
        return prog_end(&p, 1);
    if (!loom_job_is_master(p.job))
        return prog_end(&p, loom_job_serve(p.job) == LOOM_OK ? 0 : 1);

    int size = loom_job_size(p.job), checks_ok = 1;
    int64_t *before = calloc((size_t)size, sizeof *before);
    int64_t *after = calloc((size_t)size, sizeof *after);
    uint64_t *id_of = malloc(n * sizeof *id_of);
    unsigned char *seen = calloc(n ? n : 1, 1);
    if (!before || !after || !id_of || !seen || collect_pids(&p, before) != 0) {
        out("CHECK pids before: not every worker answered\n");
        return prog_end(&p, 1);
    }

    for (uint64_t i = 0; i < n; i++) {
        int64_t v = (int64_t)i;
        loom_err rc = by_flag
                          ? loom_job_submit_flags(p.job, "work", &v, sizeof v, LOOM_TASK_ISOLATED,
                                                  LOOM_FOREVER, &id_of[i])
                          : loom_job_submit(p.job, "work", &v, sizeof v, LOOM_FOREVER, &id_of[i]);
        if (rc != LOOM_OK || id_of[i] != id_of[0] + i) {
            out("CHECK submit %llu: %s (ids must be consecutive)\n", (unsigned long long)i,
                loom_err_name(rc));
            return prog_end(&p, 1);
        }
    }
    struct tally c = {0};
    uint64_t got = 0;
    loom_result r;
    while (got < n && loom_job_next_result(p.job, LOOM_FOREVER, &r) == LOOM_OK) {
        uint64_t i = r.id - id_of[0];
        got++;
        if (r.id < id_of[0] || i >= n || seen[i]) {
            out("CHECK unexpected result id %llu\n", (unsigned long long)r.id);
            c.wrong++;
        } else {
            seen[i] = 1;
            judge(&c, i, &r);
        }
        loom_result_free(&r);
    }
    if (got != n) {
        out("CHECK results: %llu of %llu\n", (unsigned long long)got, (unsigned long long)n);
        checks_ok = 0;
    }
    if (nmap > 0 && map_check(&p, nmap) != 0)
        checks_ok = 0;
    if (collect_pids(&p, after) != 0) {
        out("CHECK pids after: not every worker answered\n");
        checks_ok = 0;
    }
    int same = 0;
    for (int k = 1; k < size; k++)
        same += before[k] == after[k] && before[k] > 0;
    if (loom_job_finish(p.job) != LOOM_OK)
        checks_ok = 0;
    out("ISOLATE tasks=%llu ok=%llu segv=%llu abort=%llu exit=%llu memory=%llu timeout=%llu "
        "wrong=%llu\n",
        (unsigned long long)n, (unsigned long long)c.ok, (unsigned long long)c.segv,
        (unsigned long long)c.abrt, (unsigned long long)c.ex, (unsigned long long)c.mem,
        (unsigned long long)c.tmo, (unsigned long long)c.wrong);
    out("TIMES memory_killed_after_max_ms=%.0f hang_killed_after_min_ms=%.0f\n", c.mem_max_ns / 1e6,
        c.hang_min_ns / 1e6);
    out("PIDS workers=%d same=%d\n", size - 1, same);
    out("CHECKS %s\n", checks_ok ? "ok" : "failed");
    free(before);
    free(after);
    free(id_of);
    free(seen);
    /* a job with failed tasks fails */
    return prog_end(&p, c.ok == n && checks_ok ? 0 : 1);
}
