/* SPDX-License-Identifier: MIT */
/*
 * loom-hello — the seed's process lesson (pid, ppid, "I am child process ...")
 * for a whole job. Every rank prints one line: its rank, its role (rank 0
 * is the master, every other rank a worker), its pid and parent pid (the
 * Open MPI daemon that started it), its host, and its threads as the kernel
 * names them (`top -H` shows the same names): the main thread and the
 * threads loom started — the master's progress thread, a worker's
 * communication thread and its pool threads Worker-1, Worker-2, ...
 *
 *   mpirun -np 3 loom-hello [loom options]
 *
 *   rank=0 role=master pid=4711 ppid=4700 host=node1 pool=0 threads=MainThread,...
 *   rank=1 role=worker pid=4712 ppid=4700 host=node1 pool=2
 * threads=MainThread,...,Worker-1,Worker-2
 *
 * Each line is written with one write(2), so lines never mix; their order
 * across ranks is whatever order they reach mpirun (pipe through `sort`).
 *
 * Exit status: 0 success, 1 the job failed, 2 usage or configuration error.
 */
#define _POSIX_C_SOURCE 200809L /* gethostname, nanosleep */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <loom.h>

#include "../common/app.h"

#define PROG "loom-hello"

struct thread_name {
    long tid;
    char name[32];
};

static int
cmp_tid(const void *a, const void *b)
{
    long x = ((const struct thread_name *)a)->tid, y = ((const struct thread_name *)b)->tid;
    return (x > y) - (x < y);
}

static int
read_comm(long tid, char *name, size_t len)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%ld/comm", tid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int ok = fgets(name, (int)len, f) != NULL;
    fclose(f);
    if (!ok)
        return -1;
    name[strcspn(name, "\n")] = '\0';
    return 0;
}

/*
 * The process's named threads, oldest first, as "MainThread,a,b": every
 * thread whose kernel name differs from the main thread's (threads that MPI
 * or other libraries start unnamed keep the program's name and are left
 * out). Returns how many were listed after MainThread.
 */
static int
list_threads(char *out, size_t len)
{
    struct thread_name t[256];
    size_t n = 0;
    char main_comm[32] = "";
    read_comm((long)getpid(), main_comm, sizeof main_comm);
    DIR *d = opendir("/proc/self/task");
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) && n < sizeof t / sizeof t[0]) {
            long tid = strtol(e->d_name, NULL, 10);
            if (tid <= 0 || tid == (long)getpid())
                continue;
            if (read_comm(tid, t[n].name, sizeof t[n].name) == 0 &&
                strcmp(t[n].name, main_comm) != 0) {
                t[n].tid = tid;
                n++;
            }
        }
        closedir(d);
    }
    qsort(t, n, sizeof t[0], cmp_tid);
    size_t used = (size_t)snprintf(out, len, "%s", loom_context_name(loom_context_current()));
    for (size_t i = 0; i < n && used < len; i++)
        used += (size_t)snprintf(out + used, len - used, ",%s", t[i].name);
    return (int)n;
}

static void
usage(FILE *fp)
{
    fprintf(fp, "usage: mpirun -np 3 " PROG " [loom options]\n\n"
                "Every rank of the job prints one line: rank, role (master or worker), pid,\n"
                "parent pid, host, pool size and the names of its threads.\n\n"
                "  --help     this text\n"
                "  --version  loom, MPI and build id of this program\n\n"
                "loom options (also LOOM_* variables and a config file):\n");
    loom_config_print_help(fp);
    fprintf(fp, "\nExit status: 0 success, 1 the job failed, 2 usage or configuration error.\n");
}

int
main(int argc, char **argv)
{
    int speak = app_launcher_rank() == 0;
    loom_config *cfg = NULL;
    loom_job *job = NULL;
    int status = 2, mpi_up = 0;

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
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            if (speak)
                usage(stdout);
            status = 0;
        } else if (strcmp(argv[i], APP_VERSION_OPTION) == 0) {
            if (speak)
                app_print_version(PROG);
            status = 0;
        } else if (speak) {
            fprintf(stderr, PROG ": unknown argument '%s' (try --help)\n", argv[i]);
        }
        goto out;
    }
    loom_config_apply(cfg);

    status = app_start(PROG, &argc, &argv, cfg, NULL, 0, &mpi_up, &job);
    if (status != 0)
        goto out;
    status = 1;
    loom_err rc;

    /* loom's threads name themselves as they start: the master's progress
     * thread; a worker's communication thread and pool threads. Give any
     * that has not done so yet a moment (at most 2 s) before listing them. */
    unsigned pool = loom_job_threads(job);
    int expect = loom_job_is_master(job) ? 1 : (int)pool + 1;
    char threads[2048];
    for (int tries = 0; list_threads(threads, sizeof threads) < expect && tries < 200; tries++)
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);

    char host[256] = "?";
    gethostname(host, sizeof host - 1);
    char line[4096];
    int n =
        snprintf(line, sizeof line, "rank=%d role=%s pid=%ld ppid=%ld host=%s pool=%u threads=%s\n",
                 loom_job_rank(job), loom_job_is_master(job) ? "master" : "worker", (long)getpid(),
                 (long)getppid(), host, pool, threads);
    if (n > 0) {
        ssize_t w =
            write(STDOUT_FILENO, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
        (void)w;
    }

    rc = loom_job_is_master(job) ? loom_job_finish(job) : loom_job_serve(job);
    if (rc != LOOM_OK) {
        fprintf(stderr, PROG ": rank %d: %s\n", loom_job_rank(job), loom_last_error());
        goto out;
    }
    status = 0;
out:
    app_end(job, mpi_up, status);
    loom_config_destroy(cfg);
    return status;
}
