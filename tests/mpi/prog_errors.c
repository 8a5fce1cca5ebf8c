/* SPDX-License-Identifier: MIT */
/*
 * prog_errors — errors carry their context: after a failed call,
 * loom_last_error() names the specifics, on the thread that made the call.
 *
 *   mpirun -np N prog_errors [loom options] [--tasks K]
 *
 * With job.max_payload set to 1000 (the program sets it), the master prints
 * one line per failure it provokes, the code and the message:
 *
 *   ENOFUNC rc=LOOM_ENOFUNC msg=...      submit to "no_such_task"
 *   ENOFUNC_MAP rc=LOOM_ENOFUNC msg=...  map over "no_such_map"
 *   ERANGE rc=LOOM_ERANGE msg=...        a payload of 1001 bytes
 *   ESTATE_REGISTER rc=LOOM_ESTATE msg=... register after start
 *   ESTATE_FINISHED rc=LOOM_ESTATE msg=... submit after loom_job_finish()
 *
 * each worker rank, from its main thread, tries a master-only call:
 *
 *   ESTATE_WORKER rank=R rc=LOOM_ESTATE msg=...
 *
 * and K tasks ("probe", payload i) run on the workers' pool threads at the
 * same time; each submits to "missing-<i>" from inside the task, which fails,
 * replies with its own loom_last_error() and ends with status 4 (a task
 * that handles a refused submit itself returns non-zero). The master counts the replies
 * that name their own task's function and those that name another's:
 *
 *   TASKS n=K own=K other=0 codes_ok=1
 *   DONE status=0
 *
 * The exit status says whether every call failed with the expected code;
 * what the messages say is for the test (test_mpi_errors.c) to judge.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>

#include "prog_common.h"

#define LIMIT   1000
#define WAIT_MS 60000
#define HANDLED 4 /* a probe task's status: it handled its refused submit */

static int
probe_task(loom_task *task, void *user)
{
    (void)user;
    int64_t i = 0;
    if (loom_task_arg_i64(task, &i) != LOOM_OK)
        return 2;
    char name[64];
    snprintf(name, sizeof name, "missing-%" PRId64, i);
    loom_err rc = loom_task_submit(task, name, NULL, 0);
    if (rc != LOOM_ENOFUNC)
        return 1;
    /* other pool threads fail the same way meanwhile: the message read
     * here must still be this thread's. Returning HANDLED (not 0) says the
     * task handled the refused submit itself (loom/job.h): its status
     * stands and its reply arrives. */
    const char *msg = loom_last_error();
    return loom_task_reply_str(task, msg) == LOOM_OK ? HANDLED : 3;
}

/* Print one provoked failure; 1 when the code is not the expected one. */
static int
report(const char *what, loom_err rc, loom_err want)
{
    out("%s rc=%s msg=%s\n", what, loom_err_name(rc), rc != LOOM_OK ? loom_last_error() : "-");
    return rc != want;
}

static int
run_tasks(loom_job *job, int64_t k)
{
    int bad = 0;
    uint64_t first = 0;
    for (int64_t i = 0; i < k; i++) {
        uint64_t id = 0;
        loom_err rc = loom_job_submit_i64(job, "probe", i, LOOM_FOREVER, &id);
        if (i == 0)
            first = id;
        if (rc != LOOM_OK) {
            out("SUBMIT i=%" PRId64 " rc=%s msg=%s\n", i, loom_err_name(rc), loom_last_error());
            return 1;
        }
    }
    int64_t own = 0, other = 0, n = 0;
    for (int64_t i = 0; i < k; i++) {
        loom_result r;
        loom_err rc = loom_job_next_result(job, WAIT_MS, &r);
        if (rc != LOOM_OK) {
            out("RESULT rc=%s msg=%s\n", loom_err_name(rc), loom_last_error());
            return 1;
        }
        n++;
        bad |= r.status != HANDLED;
        char want[64];
        /* ids are given in submission order: task `first + i` had payload i */
        snprintf(want, sizeof want, "\"missing-%" PRIu64 "\"", r.id - first);
        const char *text = r.status == HANDLED && r.len ? (const char *)r.data : "";
        if (strstr(text, want))
            own++;
        else if (strstr(text, "missing-"))
            other++;
        if (!strstr(text, want) && n - own <= 3)
            out("REPLY id=%" PRIu64 " status=%d text=%s\n", r.id, r.status, text);
        loom_result_free(&r);
    }
    out("TASKS n=%" PRId64 " own=%" PRId64 " other=%" PRId64 " codes_ok=%d\n", n, own, other, !bad);
    return bad;
}

static int
run_master(loom_job *job, int64_t k)
{
    int bad = 0;
    char big[LIMIT + 1];
    memset(big, 'x', sizeof big);
    bad |= report("ENOFUNC", loom_job_submit(job, "no_such_task", "a", 1, LOOM_FOREVER, NULL),
                  LOOM_ENOFUNC);
    const void *in[1] = {"a"};
    size_t lens[1] = {1};
    loom_result res[1];
    bad |= report("ENOFUNC_MAP", loom_job_map(job, "no_such_map", in, lens, 1, res), LOOM_ENOFUNC);
    bad |= report("ERANGE", loom_job_submit(job, "probe", big, sizeof big, LOOM_FOREVER, NULL),
                  LOOM_ERANGE);
    bad |= report("ESTATE_REGISTER", loom_job_register(job, "late", probe_task, NULL), LOOM_ESTATE);
    bad |= run_tasks(job, k);
    loom_err rc = loom_job_finish(job);
    if (rc != LOOM_OK) {
        out("FINISH rc=%s msg=%s\n", loom_err_name(rc), loom_last_error());
        return 1;
    }
    bad |= report("ESTATE_FINISHED", loom_job_submit(job, "probe", "a", 1, LOOM_NOWAIT, NULL),
                  LOOM_ESTATE);
    return bad;
}

int
main(int argc, char **argv)
{
    struct prog p;
    int st = prog_config(&p, "prog_errors", &argc, argv);
    if (st)
        return st;
    uint64_t k = 200;
    for (int i = 1; i < argc; i++) {
        if (!prog_opt_u64(argc, argv, &i, "--tasks", &k)) {
            fprintf(stderr, "prog_errors: unknown argument %s\n", argv[i]);
            return prog_end(&p, 2);
        }
    }
    if (loom_config_set(p.cfg, "job.max_payload", "1000", "prog_errors") != LOOM_OK) {
        fprintf(stderr, "prog_errors: %s\n", loom_config_error(p.cfg));
        return prog_end(&p, 2);
    }
    if ((st = prog_init(&p, &argc, &argv)) != 0)
        return prog_end(&p, st);
    if (loom_job_register(p.job, "probe", probe_task, NULL) != LOOM_OK || prog_start(&p) != 0)
        return prog_end(&p, 1);
    int status;
    if (loom_job_is_master(p.job)) {
        status = run_master(p.job, (int64_t)k);
        out("DONE status=%d\n", status);
    } else {
        char what[32];
        snprintf(what, sizeof what, "ESTATE_WORKER rank=%d", p.rank);
        status =
            report(what, loom_job_submit(p.job, "probe", "a", 1, LOOM_NOWAIT, NULL), LOOM_ESTATE);
        loom_err rc = loom_job_serve(p.job);
        if (rc != LOOM_OK) {
            out("SERVE rank=%d rc=%s msg=%s\n", p.rank, loom_err_name(rc), loom_last_error());
            status = 1;
        }
    }
    return prog_end(&p, status);
}
