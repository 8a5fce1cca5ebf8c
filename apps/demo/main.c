/* SPDX-License-Identifier: MIT */
/*
 * loom-demo — loom's node-local layer, lesson by lesson from the seed:
 *
 *   1. Pool: a pool of 4 threads runs 5 tasks; the 5th waits for a free
 *      thread (the seed's `Pool(4)` with `apply_async`).
 *   2. Processes: run a command and read its exit code; feed a command's
 *      stdin and capture its stdout (`subprocess.call`, `communicate`).
 *   3. ThreadLocal: two threads bind their own student; a function deep
 *      down greets the right one without it being passed in.
 *
 *   loom-demo [loom options] [--max-task-ms MS] [--seed N]
 *
 * loom options (--pool-threads, --log-level, --config FILE, ...) are listed
 * by --help. Exit status: 0 success, 1 a lesson failed, 2 usage or
 * configuration error.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, nanosleep, rand_r */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <loom.h>

#include "../common/version.h"

static loom_lock out_lock = LOOM_LOCK_INITIALIZER;
static int max_task_ms = 1000;
static unsigned seed;

/* One printf per line from many threads: keep lines whole. */
#define say(...)                                                                                   \
    do {                                                                                           \
        loom_lock_acquire(&out_lock);                                                              \
        printf(__VA_ARGS__);                                                                       \
        fflush(stdout);                                                                            \
        loom_lock_release(&out_lock);                                                              \
    } while (0)

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- 1. the pool ------------------------------------------------------- */

static void *
long_time_task(void *arg)
{
    int name = (int)(intptr_t)arg;
    say("Run task %d (%s)...\n", name, loom_context_name(loom_context_current()));
    double start = now();
    unsigned r = seed + (unsigned)name;
    int ms = max_task_ms > 0 ? (int)(rand_r(&r) % (unsigned)max_task_ms) : 0;
    struct timespec d = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&d, NULL); /* stands for real work, as time.sleep does in the seed */
    say("Task %d runs %0.2f seconds.\n", name, now() - start);
    return NULL;
}

static int
lesson_pool(unsigned threads)
{
    say("== 1. Pool: %u threads, 5 tasks ==\n", threads);
    say("Parent process %d (%s).\n", (int)getpid(), loom_context_name(loom_context_current()));
    loom_pool_opts o = {.threads = threads};
    loom_pool *pool;
    loom_err rc = loom_pool_create(&o, &pool);
    if (rc != LOOM_OK) {
        fprintf(stderr, "loom-demo: cannot create the pool: %s\n", loom_last_error());
        return 1;
    }
    for (int i = 0; i < 5 && rc == LOOM_OK; i++)
        rc = loom_pool_submit(pool, long_time_task, (void *)(intptr_t)i, LOOM_FOREVER, NULL);
    say("Waiting for all tasks done...\n");
    loom_pool_close(pool);
    if (rc == LOOM_OK)
        rc = loom_pool_join(pool, LOOM_FOREVER);
    loom_pool_destroy(pool);
    if (rc != LOOM_OK) {
        fprintf(stderr, "loom-demo: pool: %s\n", loom_last_error());
        return 1;
    }
    say("All tasks done.\n\n");
    return 0;
}

/* ---- 2. processes ------------------------------------------------------ */

static int
lesson_process(const loom_config *cfg)
{
    say("== 2. Processes ==\n");
    int64_t limit = 0;
    double timeout = 0;
    loom_config_get_int(cfg, "process.output_limit", &limit);
    loom_config_get_double(cfg, "process.timeout", &timeout);

    const char *const uname_argv[] = {"uname", "-s", NULL};
    loom_proc_opts o = {
        .argv = uname_argv, .output_limit = (size_t)limit, .timeout_ms = (int)(timeout * 1000)};
    loom_proc_result r;
    say("$ uname -s\n");
    loom_err rc = loom_proc_run(&o, &r);
    if (rc != LOOM_OK) {
        fprintf(stderr, "loom-demo: uname: %s\n", loom_last_error());
        return 1;
    }
    say("%.*sExit code: %d\n", (int)r.out_len, r.out, r.exit_code);
    loom_proc_result_free(&r);

    static const char input[] = "the quick brown fox\njumps over the lazy dog\n";
    say("$ wc -w   (stdin: %zu bytes from memory)\n", sizeof input - 1);
    loom_proc_opts w = {.shell_cmd = "wc -w | tr -d ' '",
                        .stdin_data = input,
                        .stdin_len = sizeof input - 1,
                        .output_limit = (size_t)limit,
                        .timeout_ms = (int)(timeout * 1000)};
    rc = loom_proc_run(&w, &r);
    if (rc != LOOM_OK) {
        fprintf(stderr, "loom-demo: wc: %s\n", loom_last_error());
        return 1;
    }
    say("%.*sExit code: %d\n\n", (int)r.out_len, r.out, r.exit_code);
    int ok = r.exited && r.exit_code == 0 && strcmp(r.out, "9\n") == 0;
    loom_proc_result_free(&r);
    return ok ? 0 : 1;
}

/* ---- 3. thread-local context ------------------------------------------- */

static loom_context_key student_key;

static void
process_student(void)
{
    loom_context *ctx = loom_context_current();
    say("Hello, %s (in %s)\n", (const char *)loom_context_get(ctx, student_key),
        loom_context_name(ctx));
}

static void *
process_thread(void *name)
{
    loom_context_set_name(strcmp(name, "Alice") == 0 ? "Thread-A" : "Thread-B");
    loom_context_set(loom_context_current(), student_key, name);
    process_student();
    return NULL;
}

static int
lesson_context(void)
{
    say("== 3. ThreadLocal ==\n");
    if (loom_context_key_create(&student_key, NULL) != LOOM_OK)
        return 1;
    pthread_t a, b;
    if (pthread_create(&a, NULL, process_thread, "Alice") != 0)
        return 1;
    pthread_join(a, NULL); /* one after the other, so the output is stable */
    if (pthread_create(&b, NULL, process_thread, "Bob") != 0)
        return 1;
    pthread_join(b, NULL);
    return 0;
}

static void
usage(FILE *fp)
{
    fprintf(fp, "usage: loom-demo [loom options] [--max-task-ms MS] [--seed N]\n\n"
                "Shows loom's node-local layer: a thread pool, external commands and\n"
                "thread-local context, following the seed tutorial's lessons.\n\n"
                "  --max-task-ms MS  each pool task works a random 0..MS ms (default 1000)\n"
                "  --seed N          seed of those random durations (default: the time)\n"
                "  --help            this text\n"
                "  --version         loom, MPI and build id of this program\n\n"
                "loom options (also LOOM_* variables and a config file):\n");
    loom_config_print_help(fp);
    fprintf(fp, "\nExit status: 0 success, 1 a lesson failed, 2 usage or configuration error.\n");
}

int
main(int argc, char **argv)
{
    loom_config *cfg = NULL;
    int status = 2;
    seed = (unsigned)time(NULL);
    if (loom_config_create(&cfg) != LOOM_OK) {
        fprintf(stderr, "loom-demo: out of memory\n");
        return 1;
    }
    if (loom_config_load(cfg, &argc, argv) != LOOM_OK) {
        fprintf(stderr, "loom-demo: %s\n", loom_config_error(cfg));
        goto out;
    }
    loom_config_apply(cfg);
    for (int i = 1; i < argc; i++) {
        char *end = NULL;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            status = 0;
            goto out;
        } else if (strcmp(argv[i], APP_VERSION_OPTION) == 0) {
            app_print_version("loom-demo");
            status = 0;
            goto out;
        } else if (strcmp(argv[i], "--max-task-ms") == 0 && i + 1 < argc) {
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 0 || v > 60000) {
                fprintf(stderr, "loom-demo: --max-task-ms needs 0..60000\n");
                goto out;
            }
            max_task_ms = (int)v;
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            seed = (unsigned)strtoul(argv[++i], &end, 10);
            if (*end) {
                fprintf(stderr, "loom-demo: --seed needs a number\n");
                goto out;
            }
        } else {
            fprintf(stderr, "loom-demo: unknown argument '%s' (try --help)\n", argv[i]);
            goto out;
        }
    }

    /* The seed's Pool(4): use 4 unless the user chose a size. */
    int64_t threads = 0;
    loom_config_get_int(cfg, "pool.threads", &threads);
    if (threads == 0 && strcmp(loom_config_origin(cfg, "pool.threads"), "default") == 0)
        threads = 4;
    LOOM_INFO("loom %s demo: pool of %lld threads (this process may use %u CPUs)", loom_version(),
              (long long)(threads ? threads : (int64_t)loom_cpu_count(NULL)), loom_cpu_count(NULL));

    status = 1;
    if (lesson_pool((unsigned)threads) || lesson_process(cfg) || lesson_context())
        goto out;
    status = 0;
out:
    loom_config_destroy(cfg);
    return status;
}
