/* SPDX-License-Identifier: MIT */
/*
 * prog_flow — results keep flowing whatever the program's shape:
 *
 *   mpirun -np N prog_flow [loom options] --backlog COUNT
 *   mpirun -np N prog_flow [loom options] --frames COUNT --size BYTES
 *
 * --backlog: the master submits COUNT "square" tasks with LOOM_FOREVER
 * before it takes a single result (the README's program, the seed's
 * task_master), then takes them all until LOOM_EDRAINED. Results that
 * arrived but are not taken must never hold the submitting thread — the
 * only one that could take them — so with COUNT above
 * `job.max_outstanding` this must end, every result once and right:
 *
 *   SUBMITTED tasks=COUNT rc=LOOM_OK
 *   BACKLOG tasks=COUNT ok=COUNT bad=0 dup=0 missing=0 drained=LOOM_EDRAINED
 *   MEMORY peak_kib=K
 *
 * --frames: COUNT "echo" tasks of BYTES patterned bytes each; every reply
 * is the payload back. With `job.max_frame` a few payloads large and
 * `job.flush_delay` long, many replies finish together on a worker and
 * many tasks go to it together: each message must still stay within
 * job.max_frame both ways, or its receiver drops it and results are lost:
 *
 *   FRAMES tasks=COUNT ok=COUNT bad=0 dup=0 missing=0 lost_workers=0
 *
 * Then `DONE status=S`. Exit status 0 when every check passed.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>

#include "prog_common.h"

static int
square_task(loom_task *task, void *user)
{
    (void)user;
    int64_t x;
    if (loom_task_arg_i64(task, &x) != LOOM_OK)
        return 1;
    return loom_task_reply_i64(task, x * x) == LOOM_OK ? 0 : 1;
}

static int
echo_task(loom_task *task, void *user)
{
    (void)user;
    size_t len = 0;
    const void *p = loom_task_payload(task, &len);
    return loom_task_reply(task, p, len) == LOOM_OK ? 0 : 1;
}

/* A pattern that differs for every task, so a reply swapped between tasks
 * or cut short would show. */
static void
fill(unsigned char *p, size_t n, uint64_t seed)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15u + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (unsigned char)(x >> 24);
    }
}

/* Peak resident memory of this process in KiB (VmHWM), -1 if unknown. */
static long
peak_kib(void)
{
    FILE *fp = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (fp && fgets(line, sizeof line, fp))
        if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
            break;
    if (fp)
        fclose(fp);
    return kib;
}

/* What take_all() counted. */
struct tally {
    size_t ok, bad, dup;
    loom_err end;
};

/* Take results until LOOM_EDRAINED; seen[id - 1] is set as each arrives.
 * `value` judges one result (1: right). */
static void
take_all(loom_job *job, unsigned char *seen, size_t count, struct tally *t,
         int (*value)(const loom_result *, void *), void *ctx)
{
    loom_result r;
    while ((t->end = loom_job_next_result(job, LOOM_FOREVER, &r)) == LOOM_OK) {
        if (r.id < 1 || r.id > count || seen[r.id - 1]) {
            t->dup++;
            out("RESULT id=%" PRIu64 " is a duplicate or unknown\n", r.id);
        } else {
            seen[r.id - 1] = 1;
            if (r.status == 0 && value(&r, ctx)) {
                t->ok++;
            } else {
                t->bad++;
                if (t->bad <= 10)
                    out("RESULT id=%" PRIu64 " status=%d cause=%s len=%zu: wrong\n", r.id, r.status,
                        loom_cause_name(r.cause), r.len);
            }
        }
        loom_result_free(&r);
    }
}

static int
square_ok(const loom_result *r, void *ctx)
{
    (void)ctx;
    int64_t v = 0;
    int64_t x = (int64_t)r->id; /* task id i squares i (ids start at 1, in order) */
    return loom_result_i64(r, &v) == LOOM_OK && v == x * x;
}

static int
backlog(loom_job *job, size_t count)
{
    loom_err rc = LOOM_OK;
    size_t submitted = 0;
    out("SUBMIT tasks=%zu\n", count);
    for (size_t i = 1; i <= count && rc == LOOM_OK; i++) {
        uint64_t id = 0;
        rc = loom_job_submit_i64(job, "square", (int64_t)i, LOOM_FOREVER, &id);
        if (rc == LOOM_OK && id != i) {
            out("SUBMIT task %zu got id %" PRIu64 "\n", i, id);
            rc = LOOM_EINVAL;
        }
        submitted += rc == LOOM_OK;
    }
    out("SUBMITTED tasks=%zu rc=%s\n", submitted, loom_err_name(rc));
    unsigned char *seen = calloc(count ? count : 1, 1);
    if (!seen)
        return 1;
    struct tally t = {0, 0, 0, LOOM_OK};
    take_all(job, seen, count, &t, square_ok, NULL);
    size_t missing = count - t.ok - t.bad;
    out("BACKLOG tasks=%zu ok=%zu bad=%zu dup=%zu missing=%zu drained=%s\n", count, t.ok, t.bad,
        t.dup, missing, loom_err_name(t.end));
    out("MEMORY peak_kib=%ld\n", peak_kib());
    free(seen);
    return rc == LOOM_OK && t.ok == count && !t.dup && t.end == LOOM_EDRAINED ? 0 : 1;
}

struct echo_ctx {
    size_t size;
    unsigned char *want;
};

static int
echo_ok(const loom_result *r, void *ctx)
{
    struct echo_ctx *e = ctx;
    if (r->len != e->size)
        return 0;
    fill(e->want, e->size, r->id);
    return memcmp(r->data, e->want, e->size) == 0;
}

static int
frames(loom_job *job, size_t count, size_t size)
{
    unsigned char *buf = malloc(size ? size : 1);
    unsigned char *want = malloc(size ? size : 1);
    unsigned char *seen = calloc(count ? count : 1, 1);
    if (!buf || !want || !seen) {
        free(buf);
        free(want);
        free(seen);
        return 1;
    }
    loom_err rc = LOOM_OK;
    for (size_t i = 1; i <= count && rc == LOOM_OK; i++) {
        uint64_t id = 0;
        fill(buf, size, i);
        rc = loom_job_submit(job, "echo", buf, size, LOOM_FOREVER, &id);
        if (rc == LOOM_OK && id != i)
            rc = LOOM_EINVAL;
    }
    if (rc != LOOM_OK)
        out("SUBMIT rc=%s\n", loom_err_name(rc));
    struct echo_ctx e = {size, want};
    struct tally t = {0, 0, 0, LOOM_OK};
    take_all(job, seen, count, &t, echo_ok, &e);
    size_t missing = count - t.ok - t.bad;
    int lost = loom_job_workers_lost(job);
    out("FRAMES tasks=%zu ok=%zu bad=%zu dup=%zu missing=%zu lost_workers=%d\n", count, t.ok, t.bad,
        t.dup, missing, lost);
    free(buf);
    free(want);
    free(seen);
    return rc == LOOM_OK && t.ok == count && !t.dup && !lost ? 0 : 1;
}

int
main(int argc, char **argv)
{
    struct prog p;
    uint64_t nbacklog = 0, nframes = 0, size = 0;
    int status = prog_config(&p, "prog_flow", &argc, argv);
    if (status != 0)
        return prog_end(&p, status);
    for (int i = 1; i < argc; i++) {
        if (!prog_opt_u64(argc, argv, &i, "--backlog", &nbacklog) &&
            !prog_opt_u64(argc, argv, &i, "--frames", &nframes) &&
            !prog_opt_u64(argc, argv, &i, "--size", &size)) {
            fprintf(stderr, "prog_flow: unknown argument '%s'\n", argv[i]);
            return prog_end(&p, 2);
        }
    }
    if ((status = prog_init(&p, &argc, &argv)) != 0)
        return prog_end(&p, status);
    if (loom_job_register(p.job, "square", square_task, NULL) != LOOM_OK ||
        loom_job_register(p.job, "echo", echo_task, NULL) != LOOM_OK || prog_start(&p) != 0)
        return prog_end(&p, 1);

    if (!loom_job_is_master(p.job)) {
        loom_err rc = loom_job_serve(p.job);
        if (rc != LOOM_OK)
            out("SERVE rank=%d rc=%s\n", p.rank, loom_err_name(rc));
        return prog_end(&p, rc == LOOM_OK ? 0 : 1);
    }
    status = 0;
    if (nbacklog)
        status |= backlog(p.job, (size_t)nbacklog);
    if (nframes)
        status |= frames(p.job, (size_t)nframes, (size_t)size);
    loom_err rc = loom_job_finish(p.job);
    if (rc != LOOM_OK) {
        out("FINISH rc=%s\n", loom_err_name(rc));
        status = 1;
    }
    out("DONE status=%d\n", status);
    return prog_end(&p, status);
}
