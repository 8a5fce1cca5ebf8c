/* SPDX-License-Identifier: MIT */
/*
 * prog_events — a C-API job whose results say where and when they ran, for
 * the tests of loom_result.host/slot/start_ns/run_ns and of job.events and
 * job.report (test_mpi_events.c, which reads the files).
 *
 *   mpirun -np 3 prog_events [loom options] [--tasks N] [--ms M] [--own]
 *
 * Task n (1..N, the payload) sleeps M ms (default 1) and replies with what
 * it sees itself: its host, its thread (loom_context_index() + 1) and the
 * wall-clock time when it started. It fails with status 3 on its first
 * attempt when n % 10 == 0 and with status 5 on every attempt when
 * n % 25 == 7 (so with --job-retries 1: 20 + 8 tasks run twice of 200).
 * The master checks each result's host, slot, start_ns and run_ns against
 * the reply and prints
 *
 *   EVENTS tasks=N results=R ok=K failed=F fields_ok=R finish=LOOM_OK
 *
 * --own: the job is created with own_attempts and the master records each
 * result itself (seq n, label "item-n", then totals with status 42), after
 * checking the API refuses what it must:
 *
 *   OWN api_ok=1
 *
 * Exit status: 0 when every result's fields matched its reply (task
 * failures are expected), 1 otherwise, 2 for a configuration error (a
 * job.events that cannot be written among them).
 */
#define _GNU_SOURCE
#include <inttypes.h>

#include "prog_common.h"

struct seen {
    char host[256];
    int32_t slot;
    int64_t start_ns; /* CLOCK_REALTIME, inside the task */
};

static int64_t
wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int sleep_ms = 1;

static int
work(loom_task *task, void *user)
{
    (void)user;
    struct seen s = {.start_ns = wall_ns()};
    loom_context *ctx = loom_task_context(task);
    snprintf(s.host, sizeof s.host, "%s", loom_context_host(ctx));
    s.slot = loom_context_index(ctx) + 1;
    int64_t n = 0;
    if (loom_task_arg_i64(task, &n) != LOOM_OK)
        return 1;
    prog_sleep_ms(sleep_ms); /* the task's work */
    if (loom_task_reply(task, &s, sizeof s) != LOOM_OK)
        return 1;
    if (n % 25 == 7)
        return 5;
    return n % 10 == 0 && loom_task_attempt(task) == 1 ? 3 : 0;
}

/* The result's where and when, as the task saw them: its start before the
 * task's first look at the clock and its end after it (give or take
 * 0.1 ms: two clocks are read), and at least the task's sleep long. */
static int
fields_ok(const loom_result *r)
{
    struct seen s;
    if (r->len != sizeof s || !r->host)
        return 0;
    memcpy(&s, r->data, sizeof s);
    int64_t slack = 100000;
    int ok = strcmp(r->host, s.host) == 0 && r->slot == s.slot && r->slot >= 1 && r->start_ns > 0 &&
             r->start_ns <= s.start_ns + slack && s.start_ns <= r->start_ns + r->run_ns + slack &&
             r->run_ns >= (int64_t)sleep_ms * 1000000;
    if (!ok)
        out("FIELDS task %" PRIu64 ": host %s/%s slot %d/%d start %" PRId64 " seen %" PRId64
            " run %" PRId64 "\n",
            r->id, r->host, s.host, r->slot, s.slot, r->start_ns, s.start_ns, r->run_ns);
    return ok;
}

/* --own: what the API must refuse, then each result as the program's. */
static int
api_checks(loom_job *job)
{
    loom_attempt bad = {.seq = 1, .attempt = 1, .outcome = (loom_outcome)9};
    loom_run_summary s = {0};
    return loom_job_record_attempt(job, &bad) == LOOM_EINVAL &&
           loom_job_record_summary(job, &s) == LOOM_OK;
}

static void
record_own(loom_job *job, const loom_result *r, int64_t n)
{
    char label[32];
    int len = snprintf(label, sizeof label, "item-%" PRId64, n);
    loom_attempt a = {.seq = (uint64_t)n,
                      .attempt = r->attempt,
                      .host = r->host,
                      .rank = r->rank,
                      .slot = r->slot,
                      .start_ns = r->start_ns,
                      .run_ns = r->run_ns,
                      .exit = r->status,
                      .outcome = r->status ? LOOM_OUTCOME_FAILED : LOOM_OUTCOME_OK,
                      .cause = r->cause,
                      .final = 1,
                      .label = label,
                      .label_len = (size_t)len};
    if (loom_job_record_attempt(job, &a) != LOOM_OK)
        out("OWN record failed for %" PRId64 "\n", n);
}

int
main(int argc, char **argv)
{
    struct prog p;
    uint64_t n = 200, ms = 1;
    int own = 0;
    int status = prog_config(&p, "prog_events", &argc, argv);
    if (status != 0)
        return prog_end(&p, status);
    for (int i = 1; i < argc; i++) {
        if (prog_opt_u64(argc, argv, &i, "--tasks", &n) ||
            prog_opt_u64(argc, argv, &i, "--ms", &ms))
            continue;
        if (strcmp(argv[i], "--own") == 0) {
            own = 1;
        } else {
            fprintf(stderr, "prog_events: unknown argument '%s'\n", argv[i]);
            return prog_end(&p, 2);
        }
    }
    sleep_ms = (int)ms;
    p.own_attempts = own;
    p.title = own ? "own attempts" : NULL;
    if ((status = prog_init(&p, &argc, &argv)) != 0)
        return prog_end(&p, status);
    if (loom_job_register(p.job, "work", work, NULL) != LOOM_OK)
        return prog_end(&p, 1);
    loom_err rc = loom_job_start(p.job);
    if (rc != LOOM_OK) {
        fprintf(stderr, "prog_events: rank %d: loom_job_start: %s\n", p.rank, loom_err_name(rc));
        return prog_end(&p, rc == LOOM_ECONFIG ? 2 : 1);
    }
    if (!loom_job_is_master(p.job))
        return prog_end(&p, loom_job_serve(p.job) == LOOM_OK ? 0 : 1);

    loom_attempt probe = {.seq = 1, .attempt = 1};
    int api_ok = own ? api_checks(p.job) : loom_job_record_attempt(p.job, &probe) == LOOM_ESTATE;
    for (uint64_t i = 1; i <= n; i++)
        if (loom_job_submit_i64(p.job, "work", (int64_t)i, LOOM_FOREVER, NULL) != LOOM_OK)
            status = 1;
    uint64_t results = 0, ok = 0, failed = 0, good = 0;
    loom_result r;
    while (loom_job_next_result(p.job, LOOM_FOREVER, &r) == LOOM_OK) {
        results++;
        if (r.status == 0)
            ok++;
        else
            failed++;
        good += fields_ok(&r);
        if (own)
            record_own(p.job, &r, (int64_t)r.id); /* ids follow the submits: 1..n */
        loom_result_free(&r);
    }
    if (own) {
        loom_run_summary s = {42, n, ok, failed, 0, 0, 0, 0, 0, 0};
        api_ok &= loom_job_record_summary(p.job, &s) == LOOM_OK;
    }
    rc = loom_job_finish(p.job);
    if (own) {
        api_ok &= loom_job_record_attempt(p.job, &probe) == LOOM_ESTATE; /* after finish */
        out("OWN api_ok=%d\n", api_ok);
    } else if (!api_ok) {
        out("API record_attempt without own_attempts was accepted\n");
    }
    out("EVENTS tasks=%" PRIu64 " results=%" PRIu64 " ok=%" PRIu64 " failed=%" PRIu64
        " fields_ok=%" PRIu64 " finish=%s\n",
        n, results, ok, failed, good, loom_err_name(rc));
    return prog_end(&p, status || good != results || results != n || !api_ok);
}
