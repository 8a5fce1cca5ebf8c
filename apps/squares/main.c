/* SPDX-License-Identifier: MIT */
/*
 * loom-squares — the seed's distributed-process lesson (task_master.py and
 * task_worker.py) as one loom job. Rank 0 is the master: it puts random
 * integers as tasks ("Put task 3411..."), then collects the results as they
 * arrive ("Result: 3411 * 3411 = 11634921") and says "master exit.". Every
 * other rank is a worker whose pool threads compute n * n. There is no
 * address, port or authkey to agree on: mpirun starts every rank, and the
 * master hosts the task and result queues.
 *
 *   mpirun -np 3 loom-squares [loom options] [--count N] [--seed S] [--quiet]
 *
 * The master checks that every result is n * n of its own input and that
 * each task's result arrives exactly once, then prints
 * "loom-squares: N results, all correct".
 *
 * Exit status (mpirun passes it on): 0 all results correct, 1 a result was
 * wrong or missing or the job failed, 2 usage or configuration error (every
 * rank decides that alike from the same arguments, before any MPI work).
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <loom.h>

#include "../common/app.h"

#define PROG "loom-squares"

static int quiet;
static uint64_t sleep_ms; /* --sleep: each task works this long (the seed's worker sleeps 1 s) */

/* The rank the launcher gave this process, read before MPI_Init so that
 * only rank 0 prints usage errors and help (every rank parses alike). */
/* One whole line with one write(2), so lines of several threads and ranks
 * never interleave. */

/* ---- the worker's side: task_worker.py ---------------------------------- */

static int
square(loom_task *task, void *user)
{
    int64_t n;
    if (loom_task_arg_i64(task, &n) != LOOM_OK)
        return 1;
    if (!quiet)
        app_say("run task %" PRId64 " * %" PRId64 "... (rank %d, %s)\n", n, n,
                loom_context_rank(loom_task_context(task)),
                loom_context_name(loom_task_context(task)));
    if (sleep_ms > 0) {
        struct timespec d = {(time_t)(sleep_ms / 1000), (long)(sleep_ms % 1000) * 1000000L};
        while (nanosleep(&d, &d) != 0)
            ;
    }
    return loom_task_reply_i64(task, n * n) == LOOM_OK ? 0 : 1;
}

/* ---- the master's side: task_master.py ---------------------------------- */

/* splitmix64: a small, good generator whose sequence depends only on --seed. */
static uint64_t
next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

/* Peak resident memory of this process in MiB (VmHWM); -1 if unknown. */
static long
peak_mib(void)
{
    FILE *fp = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (fp && fgets(line, sizeof line, fp))
        if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
            break;
    if (fp)
        fclose(fp);
    return kib < 0 ? -1 : (kib + 1023) / 1024;
}

struct tally {
    size_t count;    /* tasks put */
    uint64_t *ids;   /* ids[i]: the id of the i-th task put (increasing) */
    int64_t *inputs; /* inputs[i]: its n */
    unsigned char *seen;
    size_t results;   /* results received */
    size_t correct;   /* ... that were n * n of a task put once */
    size_t wrong;     /* wrong value or failed status */
    size_t dups;      /* a second result for the same id */
    size_t strangers; /* an id the master never put */
};

static int
cmp_id(const void *key, const void *elem)
{
    uint64_t a = *(const uint64_t *)key, b = *(const uint64_t *)elem;
    return (a > b) - (a < b);
}

/* Account for one result: look its input up by id. */
static void
take_result(struct tally *t, loom_result *r)
{
    t->results++;
    const uint64_t *hit = bsearch(&r->id, t->ids, t->count, sizeof *t->ids, cmp_id);
    if (!hit) {
        t->strangers++;
        app_say(PROG ": a result for id %" PRIu64 ", which was never put\n", r->id);
        return;
    }
    size_t i = (size_t)(hit - t->ids);
    if (t->seen[i]) {
        t->dups++;
        app_say(PROG ": a second result for task %" PRIu64 "\n", r->id);
        return;
    }
    t->seen[i] = 1;
    int64_t n = t->inputs[i], v = 0;
    if (r->status != 0 || loom_result_i64(r, &v) != LOOM_OK || v != n * n) {
        t->wrong++;
        app_say(PROG ": task %" PRIu64 " (%" PRId64 "): status %d, %zu reply bytes, got %" PRId64
                     ", expected %" PRId64 "\n",
                r->id, n, r->status, r->len, v, n * n);
        return;
    }
    t->correct++;
    if (!quiet)
        app_say("Result: %" PRId64 " * %" PRId64 " = %" PRId64 "\n", n, n, v);
}

static int
run_master(loom_job *job, size_t count, uint64_t seed)
{
    struct tally t = {.count = 0};
    int status = 1;
    loom_result r = {0};
    loom_err rc = LOOM_OK;
    t.ids = malloc((count ? count : 1) * sizeof *t.ids);
    t.inputs = malloc((count ? count : 1) * sizeof *t.inputs);
    t.seen = calloc(count ? count : 1, 1);
    if (!t.ids || !t.inputs || !t.seen) {
        fprintf(stderr, PROG ": out of memory for %zu tasks\n", count);
        goto out;
    }

    /* Put every task first, then read the results, as the seed does.
     * Submitting waits only while job.max_outstanding tasks are unfinished;
     * results that arrive meanwhile never hold it back (the master keeps
     * those beyond the bound in a temporary file), so any --count ends. */
    uint64_t state = seed;
    for (size_t i = 0; i < count; i++) {
        int64_t n = (int64_t)(next_random(&state) % 10001); /* random.randint(0, 10000) */
        if (!quiet)
            app_say("Put task %" PRId64 "...\n", n);
        uint64_t id = 0;
        rc = loom_job_submit_i64(job, "square", n, LOOM_FOREVER, &id);
        if (rc != LOOM_OK) {
            fprintf(stderr, PROG ": cannot put task %zu: %s\n", i + 1, loom_last_error());
            goto out;
        }
        if (i > 0 && id <= t.ids[i - 1]) {
            fprintf(stderr, PROG ": task ids do not increase (%" PRIu64 " after %" PRIu64 ")\n", id,
                    t.ids[i - 1]);
            goto out;
        }
        t.ids[i] = id;
        t.inputs[i] = n;
        t.count = i + 1;
    }
    if (quiet)
        app_say("Put %zu tasks.\n", count);
    app_say("Try get results...\n");

    /* Read the results as they arrive, in completion order. */
    while (t.results < count) {
        rc = loom_job_next_result(job, LOOM_FOREVER, &r);
        if (rc != LOOM_OK)
            break; /* LOOM_EDRAINED: nothing more can come */
        take_result(&t, &r);
        loom_result_free(&r);
    }
    if (rc != LOOM_OK && rc != LOOM_EDRAINED)
        fprintf(stderr, PROG ": waiting for results: %s\n", loom_last_error());
    /* Every task has answered; anything more would be a duplicate. */
    while (loom_job_next_result(job, LOOM_NOWAIT, &r) == LOOM_OK) {
        take_result(&t, &r);
        loom_result_free(&r);
    }

    rc = loom_job_finish(job);
    if (rc != LOOM_OK)
        fprintf(stderr, PROG ": finishing the job: %s\n", loom_last_error());
    app_say("master exit.\n");

    size_t missing = count - (t.correct + t.wrong);
    if (quiet) /* what holding every result until the end cost the master */
        app_say(PROG ": master peak memory %ld MiB\n", peak_mib());
    if (rc == LOOM_OK && t.correct == count && t.results == count) {
        app_say(PROG ": %zu results, all correct\n", count);
        status = 0;
    } else {
        app_say(PROG
                ": %zu tasks, %zu correct, %zu wrong, %zu missing, %zu duplicate, %zu unknown\n",
                count, t.correct, t.wrong, missing, t.dups, t.strangers);
    }
out:
    free(t.ids);
    free(t.inputs);
    free(t.seen);
    return status;
}

/* ---- main ---------------------------------------------------------------- */

static void
usage(FILE *fp)
{
    fprintf(fp, "usage: mpirun -np 3 " PROG " [loom options] [--count N] [--seed S] [--quiet]\n"
                "       mpirun -np 1 " PROG " --serve DIR [...]   (master only; workers join)\n"
                "       mpirun -np 2 " PROG " --join DIR [...]    (workers of that master)\n\n"
                "The seed's task_master / task_worker: rank 0 puts N random integers\n"
                "(0..10000) as tasks, the other ranks' pool threads compute n * n, and the\n"
                "master prints each result as it arrives and checks it.\n\n"
                "  --count N  tasks to put (default 10; 0..100000000)\n"
                "  --seed S   seed of the random integers (default: the time)\n"
                "  --quiet    no line per task: only a summary (for large N)\n"
                "  --sleep MS each task also works MS ms, as the seed's worker sleeps\n"
                "  --serve DIR  also accept workers started later with --join DIR: writes\n"
                "             DIR/loom.join (the job's gate and key, readable by you only);\n"
                "             give both mpiruns --ompi-server file:URI (cluster/ompi-server)\n"
                "  --join DIR   every rank is a worker of the master serving DIR\n"
                "  --help     this text\n"
                "  --version  loom, MPI and build id of this program\n\n"
                "loom options (also LOOM_* variables and a config file):\n");
    loom_config_print_help(fp);
    fprintf(fp, "\nExit status: 0 all results correct, 1 a result was wrong or missing or the\n"
                "job failed, 2 usage or configuration error.\n");
}

int
main(int argc, char **argv)
{
    int speak = app_launcher_rank() == 0; /* only rank 0 reports usage errors */
    loom_config *cfg = NULL;
    loom_job *job = NULL;
    int status = 2, mpi_up = 0;
    long long count = 10;
    uint64_t seed = (uint64_t)time(NULL);
    const char *serve = NULL, *join = NULL;

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
        char *end = NULL;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            if (speak)
                usage(stdout);
            status = 0;
            goto out;
        } else if (strcmp(argv[i], APP_VERSION_OPTION) == 0) {
            if (speak)
                app_print_version(PROG);
            status = 0;
            goto out;
        } else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc) {
            count = strtoll(argv[++i], &end, 10);
            if (*end || end == argv[i] || count < 0 || count > 100000000) {
                if (speak)
                    fprintf(stderr, PROG ": --count needs 0..100000000\n");
                goto out;
            }
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            seed = strtoull(argv[++i], &end, 10);
            if (*end || end == argv[i]) {
                if (speak)
                    fprintf(stderr, PROG ": --seed needs a number\n");
                goto out;
            }
        } else if (strcmp(argv[i], "--quiet") == 0 || strcmp(argv[i], "-q") == 0) {
            quiet = 1;
        } else if (strcmp(argv[i], "--sleep") == 0 && i + 1 < argc) {
            if (app_parse_u64(argv[++i], 0, 3600000, &sleep_ms) != 0) {
                if (speak)
                    fprintf(stderr, PROG ": --sleep needs 0..3600000 (ms)\n");
                goto out;
            }
        } else if (strcmp(argv[i], "--serve") == 0 && i + 1 < argc && !join) {
            serve = argv[++i];
        } else if (strcmp(argv[i], "--join") == 0 && i + 1 < argc && !serve) {
            join = argv[++i];
        } else {
            if (speak)
                fprintf(stderr, PROG ": unknown argument '%s' (try --help)\n", argv[i]);
            goto out;
        }
    }
    loom_config_apply(cfg);

    static const struct app_fn fns[] = {{"square", square, NULL}};
    loom_job_opts opts = {.config = cfg, .serve = serve, .join = join};
    status = app_start_opts(PROG, &argc, &argv, &opts, fns, 1, &mpi_up, &job);
    if (status != 0)
        goto out;
    status = 1;
    loom_err rc;

    if (loom_job_is_master(job)) {
        status = run_master(job, (size_t)count, seed);
    } else {
        rc = loom_job_serve(job);
        if (rc != LOOM_OK) {
            fprintf(stderr, PROG ": rank %d: %s\n", loom_job_rank(job), loom_last_error());
            goto out;
        }
        if (!quiet)
            app_say("worker exit. (rank %d)\n", loom_job_rank(job));
        status = 0;
    }
out:
    app_end(job, mpi_up, status);
    loom_config_destroy(cfg);
    return status;
}
