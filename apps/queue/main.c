/* SPDX-License-Identifier: MIT */
/*
 * loom-queue (apps/queue) — the seed's Queue lesson: one process writes A, B, C into a queue,
 * another reads them, here as two ranks of a loom job on any nodes. The
 * master (rank 0) hosts the named queue "letters" (the seed's parent
 * creating the Queue); rank 1 is the writer and rank 2 the reader, each in
 * a thread of its own while the rank's main thread serves the job:
 *
 *   mpirun -np 3 --bind-to none loom-queue [loom options] [--items N] [--capacity C]
 *
 *   Process to write: rank 1 (pid 4712)
 *   Put A to queue...
 *   Put B to queue...
 *   Put C to queue...
 *   Process to read: rank 2 (pid 4713)
 *   Get A from queue.
 *   Get B from queue.
 *   Get C from queue.
 *   loom-queue: the reader (rank 2) got 3 items from the writer (rank 1), in order
 *
 * (lines of different ranks may interleave differently; each rank's own
 * lines keep their order). Items are the letters A, B, ..., Z, AA, AB, ...
 * The seed's reader loops forever and is killed; here the writer closes the
 * queue after its last item, and the reader stops when the queue is closed
 * and drained (LOOM_EDRAINED). With a small --capacity the writer is held
 * back while the queue is full. The reader checks that every item came from
 * rank 1 in the order it was put and reports to the master through a second
 * queue, "report"; the master prints the last line.
 *
 * Exit status: 0 every item arrived once, in order; 1 an item was missing,
 * duplicated, out of order or the job failed; 2 usage or configuration
 * error (also fewer than 3 ranks: a writer and a reader are needed).
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <loom.h>

#include "../common/app.h"

#define PROG       "loom-queue"
#define WRITER     1
#define READER     2
#define WAIT_MS    60000 /* a get or put that waits longer means the job is broken */
#define MAX_ITEMS  10000000
#define REPORT_MAX 256

/* One item as it travels: who put it, its number, its text. */
struct item {
    int32_t rank;
    uint32_t pad;
    uint64_t seq; /* from 1 */
    char text[16];
};

struct side {
    loom_job *job;
    uint64_t items;
    size_t capacity;
    int status; /* out: 0 ok, 1 failed */
};

/* The i-th letter name (from 0): A..Z, AA..AZ, BA, ... */
static void
letters(uint64_t i, char *out, size_t len)
{
    char tmp[16];
    size_t n = 0;
    for (i++; i > 0 && n < sizeof tmp; i = (i - 1) / 26)
        tmp[n++] = (char)('A' + (i - 1) % 26);
    size_t k = 0;
    while (n > 0 && k + 1 < len)
        out[k++] = tmp[--n];
    out[k] = '\0';
}

/* One line with one write(2): lines of different threads never mix. */

/* The seed's write(q). */
static void *
writer(void *p)
{
    struct side *s = p;
    loom_queue *q = NULL;
    s->status = 1;
    app_say("Process to write: rank %d (pid %ld)\n", loom_job_rank(s->job), (long)getpid());
    loom_err rc = loom_queue_open(s->job, "letters", s->capacity, &q);
    for (uint64_t i = 0; rc == LOOM_OK && i < s->items; i++) {
        struct item it = {.rank = loom_job_rank(s->job), .seq = i + 1};
        letters(i, it.text, sizeof it.text);
        app_say("Put %s to queue...\n", it.text);
        rc = loom_queue_put(q, &it, sizeof it, WAIT_MS);
    }
    if (rc == LOOM_OK)
        rc = loom_queue_close(q); /* no more: the reader ends when it has all */
    if (rc != LOOM_OK)
        fprintf(stderr, PROG ": writer: %s\n", loom_last_error());
    else
        s->status = 0;
    loom_queue_release(q);
    return NULL;
}

/* The seed's read(q), checking what it reads. */
static void *
reader(void *p)
{
    struct side *s = p;
    loom_queue *q = NULL, *report = NULL;
    uint64_t got = 0, bad = 0;
    char text[16];
    s->status = 1;
    app_say("Process to read: rank %d (pid %ld)\n", loom_job_rank(s->job), (long)getpid());
    loom_err rc = loom_queue_open(s->job, "letters", s->capacity, &q);
    if (rc == LOOM_OK)
        rc = loom_queue_open(s->job, "report", 4, &report);
    while (rc == LOOM_OK) {
        void *data = NULL;
        size_t len = 0;
        rc = loom_queue_get(q, &data, &len, WAIT_MS);
        if (rc != LOOM_OK)
            break;
        struct item it;
        if (len != sizeof it) {
            bad++;
            free(data);
            continue;
        }
        memcpy(&it, data, sizeof it);
        free(data);
        it.text[sizeof it.text - 1] = '\0';
        got++;
        letters(got - 1, text, sizeof text);
        /* the got-th item must be the writer's got-th, with its letters */
        if (it.rank != WRITER || it.seq != got || strcmp(it.text, text) != 0)
            bad++;
        app_say("Get %s from queue.\n", it.text);
    }
    if (rc != LOOM_EDRAINED) {
        fprintf(stderr, PROG ": reader: %s\n", loom_last_error());
        bad++;
    }
    char msg[REPORT_MAX];
    int n = snprintf(msg, sizeof msg, "%" PRIu64 " %" PRIu64, got, bad);
    if (report && loom_queue_put(report, msg, (size_t)n + 1, WAIT_MS) == LOOM_OK)
        s->status = bad ? 1 : 0;
    loom_queue_release(report);
    loom_queue_release(q);
    return NULL;
}

/* The master hosts the queues and waits for the reader's report. */
static int
run_master(loom_job *job, uint64_t items, size_t capacity)
{
    loom_queue *q = NULL, *report = NULL;
    void *data = NULL;
    size_t len = 0;
    int status = 1;
    loom_err rc = loom_queue_open(job, "letters", capacity, &q);
    if (rc == LOOM_OK)
        rc = loom_queue_open(job, "report", 4, &report);
    if (rc == LOOM_OK)
        rc = loom_queue_get(report, &data, &len, LOOM_FOREVER);
    if (rc != LOOM_OK) {
        fprintf(stderr, PROG ": master: %s\n", loom_last_error());
        goto out;
    }
    unsigned long long got = 0, bad = 0;
    if (len == 0 || ((char *)data)[len - 1] != '\0' || sscanf(data, "%llu %llu", &got, &bad) != 2) {
        fprintf(stderr, PROG ": master: a malformed report\n");
        goto out;
    }
    if (got == items && bad == 0) {
        app_say(PROG ": the reader (rank %d) got %llu items from the writer (rank %d), in order\n",
                READER, got, WRITER);
        status = 0;
    } else {
        app_say(PROG ": the reader got %llu items of %" PRIu64 ", %llu missing, wrong or out of "
                     "order\n",
                got, items, bad + (got < items ? items - got : 0));
    }
out:
    free(data);
    loom_queue_release(report);
    loom_queue_release(q);
    return status;
}

static void
usage(FILE *fp)
{
    fprintf(fp, "usage: mpirun -np 3 --bind-to none " PROG " [loom options] [--items N]\n"
                "           [--capacity C]\n\n"
                "Rank 1 puts N items (A, B, C, ...) into a queue the master hosts; rank 2\n"
                "gets them and checks they arrive in order.\n\n"
                "  --items N     items to put (default 3; 0..10000000)\n"
                "  --capacity C  items the queue holds before a put waits (default 1024;\n"
                "                1..1000000)\n"
                "  --help        this text\n"
                "  --version     loom, MPI and build id of this program\n\n"
                "loom options (also LOOM_* variables and a config file):\n");
    loom_config_print_help(fp);
    fprintf(fp, "\nExit status: 0 every item arrived once and in order, 1 one did not or the\n"
                "job failed, 2 usage or configuration error, or fewer than 3 ranks.\n");
}

int
main(int argc, char **argv)
{
    int speak = app_launcher_rank() == 0;
    loom_config *cfg = NULL;
    loom_job *job = NULL;
    int status = 2, mpi_up = 0;
    uint64_t items = 3, capacity = 1024;

    if (loom_config_create(&cfg) != LOOM_OK) {
        fprintf(stderr, PROG ": out of memory\n");
        return 1;
    }
    if (loom_config_load(cfg, &argc, argv) != LOOM_OK) {
        if (speak)
            fprintf(stderr, PROG ": %s\n", loom_config_error(cfg));
        goto out;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            if (speak)
                usage(stdout);
            status = 0;
            goto out;
        } else if (strcmp(a, APP_VERSION_OPTION) == 0) {
            if (speak)
                app_print_version(PROG);
            status = 0;
            goto out;
        } else if (strcmp(a, "--items") == 0) {
            bad = app_parse_u64(v, 0, MAX_ITEMS, &items);
        } else if (strcmp(a, "--capacity") == 0) {
            bad = app_parse_u64(v, 1, 1000000, &capacity);
        } else {
            if (speak)
                fprintf(stderr, PROG ": unknown argument '%s' (try --help)\n", a);
            goto out;
        }
        if (bad) {
            if (speak)
                fprintf(stderr, PROG ": %s needs a number in range (try --help)\n", a);
            goto out;
        }
        i++;
    }
    loom_config_apply(cfg);

    status = app_start(PROG, &argc, &argv, cfg, NULL, 0, &mpi_up, &job);
    if (status != 0)
        goto out;
    int too_few = loom_job_size(job) < 3;
    loom_err rc;
    if (loom_job_is_master(job)) {
        if (too_few) {
            fprintf(stderr, PROG ": needs a writer and a reader: mpirun -np 3 ...\n");
            status = 2;
        } else {
            status = run_master(job, items, (size_t)capacity);
        }
        rc = loom_job_finish(job);
    } else {
        struct side s = {.job = job, .items = items, .capacity = (size_t)capacity};
        int rank = loom_job_rank(job), started = 0;
        pthread_t t;
        if (!too_few && (rank == WRITER || rank == READER)) {
            if (pthread_create(&t, NULL, rank == WRITER ? writer : reader, &s) != 0) {
                fprintf(stderr, PROG ": rank %d: cannot start a thread\n", rank);
                s.status = 1;
            } else {
                started = 1;
            }
        }
        rc = loom_job_serve(job);
        if (started)
            pthread_join(t, NULL);
        status = too_few ? 2 : s.status;
    }
    if (rc != LOOM_OK) {
        fprintf(stderr, PROG ": rank %d: %s\n", loom_job_rank(job), loom_last_error());
        if (status == 0)
            status = 1;
    }
out:
    app_end(job, mpi_up, status);
    loom_config_destroy(cfg);
    return status;
}
