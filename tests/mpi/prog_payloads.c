/* SPDX-License-Identifier: MIT */
/*
 * prog_payloads — payloads and replies of many sizes cross the wire intact:
 * 0 bytes, 1 byte, sizes around buffer boundaries, and 64 MiB.
 *
 *   mpirun -np N prog_payloads [loom options] [--sizes S1,S2,...]
 *
 * For each size the master sends a patterned payload to "echo" (the reply
 * is the payload itself, read back through loom_job_next_result) and to
 * "sum" (the reply is the payload's length and FNV-1a hash as the worker
 * computed them, read back through a future), and compares both with its
 * own copy:
 *
 *   PAYLOAD size=S echo_ok=1 sum_ok=1
 *
 * If `job.max_payload` is below the largest size it is raised to fit (the
 * documented knob); if it is at most 256 MiB, a payload one byte above it
 * must be refused with #LOOM_ERANGE:
 *
 *   LIMIT max=M over_rc=LOOM_ERANGE
 *   DONE status=0
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>

#include "prog_common.h"

#define WAIT_MS 120000

struct sum {
    uint64_t len, hash;
};

static uint64_t
fnv1a(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3u;
    return h;
}

static int
echo_task(loom_task *task, void *user)
{
    size_t len = 0;
    const void *p = loom_task_payload(task, &len);
    return loom_task_reply(task, p, len) == LOOM_OK ? 0 : 1;
}

static int
sum_task(loom_task *task, void *user)
{
    size_t len = 0;
    const unsigned char *p = loom_task_payload(task, &len);
    struct sum s = {len, fnv1a(p, len)};
    return loom_task_reply(task, &s, sizeof s) == LOOM_OK ? 0 : 1;
}

/* A pattern without short periods, so a misplaced block would show. */
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

static int
check_size(loom_job *job, size_t size)
{
    unsigned char *buf = malloc(size ? size : 1);
    if (!buf) {
        out("PAYLOAD size=%zu out of memory\n", size);
        return 1;
    }
    fill(buf, size, size);
    int echo_ok = 0, sum_ok = 0;

    uint64_t id = 0;
    loom_err rc = loom_job_submit(job, "echo", size ? buf : NULL, size, LOOM_FOREVER, &id);
    if (rc != LOOM_OK) {
        out("ECHO-SUBMIT size=%zu rc=%s\n", size, loom_err_name(rc));
    } else {
        loom_result res;
        rc = loom_job_next_result(job, WAIT_MS, &res);
        if (rc != LOOM_OK) {
            out("ECHO-WAIT size=%zu rc=%s\n", size, loom_err_name(rc));
        } else {
            echo_ok = res.id == id && res.status == 0 && res.len == size &&
                      (size == 0 ? res.data == NULL : memcmp(res.data, buf, size) == 0);
            if (!echo_ok)
                out("ECHO size=%zu id=%" PRIu64 "/%" PRIu64 " status=%d len=%zu data=%s\n", size,
                    res.id, id, res.status, res.len, res.data ? "set" : "NULL");
            loom_result_free(&res);
        }
    }

    loom_job_future *fut = NULL;
    rc = loom_job_submit_future(job, "sum", size ? buf : NULL, size, LOOM_FOREVER, &fut);
    if (rc != LOOM_OK) {
        out("SUM-SUBMIT size=%zu rc=%s\n", size, loom_err_name(rc));
    } else {
        loom_result res;
        rc = loom_job_future_wait(fut, WAIT_MS, &res);
        if (rc != LOOM_OK) {
            out("SUM-WAIT size=%zu rc=%s\n", size, loom_err_name(rc));
        } else {
            struct sum s = {0, 0};
            if (res.status == 0 && res.len == sizeof s)
                memcpy(&s, res.data, sizeof s);
            sum_ok = s.len == size && s.hash == fnv1a(buf, size);
            if (!sum_ok)
                out("SUM size=%zu status=%d worker_len=%" PRIu64 "\n", size, res.status, s.len);
            loom_result_free(&res);
        }
        loom_job_future_release(fut);
    }
    out("PAYLOAD size=%zu echo_ok=%d sum_ok=%d\n", size, echo_ok, sum_ok);
    free(buf);
    return echo_ok && sum_ok ? 0 : 1;
}

int
main(int argc, char **argv)
{
    struct prog p;
    const char *sizes = "0,1,2,4095,4096,65537,1048577,67108864";
    int status = prog_config(&p, "prog_payloads", &argc, argv);
    if (status != 0)
        return prog_end(&p, status);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--sizes") == 0 && i + 1 < argc) {
            sizes = argv[++i];
        } else {
            fprintf(stderr, "prog_payloads: unknown argument '%s'\n", argv[i]);
            return prog_end(&p, 2);
        }
    }
    /* Every rank raises the limit alike, before the job reads its config. */
    uint64_t largest = 0;
    for (const char *s = sizes; *s;) {
        char *end;
        uint64_t v = strtoull(s, &end, 10);
        largest = v > largest ? v : largest;
        s = *end == ',' ? end + 1 : (*end ? end + 1 : end);
    }
    int64_t limit = -1;
    if (loom_config_get_int(p.cfg, "job.max_payload", &limit) == LOOM_OK &&
        (uint64_t)limit < largest) {
        char text[32];
        snprintf(text, sizeof text, "%" PRIu64, largest + 4096);
        if (loom_config_set(p.cfg, "job.max_payload", text, "prog_payloads") != LOOM_OK) {
            fprintf(stderr, "prog_payloads: %s\n", loom_config_error(p.cfg));
            return prog_end(&p, 1);
        }
        loom_config_get_int(p.cfg, "job.max_payload", &limit);
    }

    if ((status = prog_init(&p, &argc, &argv)) != 0)
        return prog_end(&p, status);
    if (loom_job_register(p.job, "echo", echo_task, NULL) != LOOM_OK ||
        loom_job_register(p.job, "sum", sum_task, NULL) != LOOM_OK || prog_start(&p) != 0)
        return prog_end(&p, 1);

    if (!loom_job_is_master(p.job)) {
        loom_err rc = loom_job_serve(p.job);
        if (rc != LOOM_OK)
            out("SERVE rank=%d rc=%s\n", p.rank, loom_err_name(rc));
        return prog_end(&p, rc == LOOM_OK ? 0 : 1);
    }

    status = 0;
    for (const char *s = sizes; *s;) {
        char *end;
        uint64_t v = strtoull(s, &end, 10);
        status |= check_size(p.job, (size_t)v);
        s = *end == ',' ? end + 1 : (*end ? end + 1 : end);
    }
    if (limit > 0 && limit <= (INT64_C(256) << 20)) {
        size_t over = (size_t)limit + 1;
        void *big = calloc(over, 1);
        loom_err rc =
            big ? loom_job_submit(p.job, "echo", big, over, LOOM_NOWAIT, NULL) : LOOM_ENOMEM;
        out("LIMIT max=%" PRId64 " over_rc=%s\n", limit, loom_err_name(rc));
        if (rc != LOOM_ERANGE)
            status = 1;
        free(big);
    } else {
        out("LIMIT max=%" PRId64 " over_rc=skipped\n", limit);
    }
    loom_err rc = loom_job_finish(p.job);
    if (rc != LOOM_OK) {
        out("FINISH rc=%s\n", loom_err_name(rc));
        status = 1;
    }
    out("DONE status=%d\n", status);
    return prog_end(&p, status);
}
