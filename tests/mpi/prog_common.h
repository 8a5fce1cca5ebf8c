/* SPDX-License-Identifier: MIT */
/*
 * What the MPI test programs (tests/mpi/prog_*.c) share: start-up and
 * shut-down of MPI and of a loom job, and whole-line output.
 *
 * A program is run under mpirun by a Criterion test (test_mpi_*.c), which
 * asserts on the structured lines the master prints ("ROUND tasks=10 ok=10
 * dup=0 ..."). Each line is written with one write(2) so lines of several
 * ranks and threads never mix.
 *
 * Exit status of every program: 0 all checks passed, 1 a check failed or
 * the job failed, 2 usage or configuration error.
 */
#ifndef LOOM_TESTS_MPI_PROG_COMMON_H
#define LOOM_TESTS_MPI_PROG_COMMON_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <loom.h>

/* Print one whole line (the format should end in \n) with one write(2). */
static inline void out(const char *fmt, ...) LOOM_PRINTF(1, 2);

static inline void
out(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof buf)
        n = (int)sizeof buf - 1;
    fflush(stdout);
    ssize_t w = write(STDOUT_FILENO, buf, (size_t)n);
    (void)w;
}

static inline double
prog_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void
prog_sleep_ms(int ms)
{
    struct timespec d = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&d, NULL);
}

/* A program's state from prog_begin() to prog_end(). */
struct prog {
    const char *name;
    const char *journal; /* set before prog_init: the job's journal */
    const char *title;   /* ... its title (loom_job_opts.title) */
    int own_attempts;    /* ... loom_job_opts.own_attempts */
    loom_config *cfg;
    loom_job *job;
    int mpi_up;
    int rank, size;
};

/*
 * Load loom's options, removing them from argv: the program's own options
 * are what is left. Every rank does this alike before any MPI work.
 * Returns 0, or an exit status.
 */
static inline int
prog_config(struct prog *p, const char *name, int *argc, char **argv)
{
    memset(p, 0, sizeof *p);
    p->name = name;
    if (loom_config_create(&p->cfg) != LOOM_OK)
        return 1;
    if (loom_config_load(p->cfg, argc, argv) != LOOM_OK) {
        fprintf(stderr, "%s: %s\n", name, loom_config_error(p->cfg));
        return 2;
    }
    loom_config_apply(p->cfg);
    return 0;
}

/*
 * Initialise MPI with MPI_THREAD_MULTIPLE and create the job on
 * MPI_COMM_WORLD with the loaded config. Returns 0, or an exit status.
 */
static inline int
prog_init(struct prog *p, int *argc, char ***argv)
{
    const char *name = p->name;
    int provided = 0;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided) != MPI_SUCCESS) {
        fprintf(stderr, "%s: MPI_Init_thread failed\n", name);
        return 1;
    }
    p->mpi_up = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &p->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &p->size);
    if (provided < MPI_THREAD_MULTIPLE) {
        fprintf(stderr, "%s: MPI gives thread level %d, not MPI_THREAD_MULTIPLE\n", name, provided);
        return 1;
    }
    loom_job_opts opts = {.config = p->cfg,
                          .journal = p->journal,
                          .title = p->title,
                          .own_attempts = p->own_attempts};
    loom_err rc = loom_job_create(MPI_COMM_WORLD, &opts, &p->job);
    if (rc != LOOM_OK) {
        fprintf(stderr, "%s: rank %d: loom_job_create: %s\n", name, p->rank, loom_strerror(rc));
        return rc == LOOM_ECONFIG ? 2 : 1;
    }
    return 0;
}

/* loom_job_start, reporting a failure. Returns 0 or 1. */
static inline int
prog_start(struct prog *p)
{
    loom_err rc = loom_job_start(p->job);
    if (rc != LOOM_OK) {
        out("START rank=%d rc=%s msg=%s\n", p->rank, loom_err_name(rc), loom_strerror(rc));
        return 1;
    }
    /* The program's own MPI traffic on MPI_COMM_WORLD while loom's threads
     * poll their duplicate: a collective, and a ring received with
     * MPI_ANY_TAG, which would also catch any loom message that leaked onto
     * the program's communicator. */
    int one = p->rank + 1, sum = 0, got = -1, tag = -1;
    MPI_Allreduce(&one, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    MPI_Status st;
    MPI_Sendrecv(&p->rank, 1, MPI_INT, (p->rank + 1) % p->size, 7, &got, 1, MPI_INT,
                 (p->rank + p->size - 1) % p->size, MPI_ANY_TAG, MPI_COMM_WORLD, &st);
    tag = st.MPI_TAG;
    if (sum != p->size * (p->size + 1) / 2 || got != (p->rank + p->size - 1) % p->size ||
        tag != 7) {
        out("USERMPI rank=%d bad: sum=%d got=%d tag=%d\n", p->rank, sum, got, tag);
        return 1;
    }
    return 0;
}

/* Destroy the job, finalise MPI, free the config; returns status. */
static inline int
prog_end(struct prog *p, int status)
{
    /* after a lost worker, or on a worker that lost its master (killed,
     * its link cut), MPI_Finalize may wait for the dead rank forever */
    int lost = p->job ? loom_job_workers_lost(p->job) || loom_job_master_lost(p->job) : 0;
    loom_job_destroy(p->job);
    p->job = NULL;
    if (p->mpi_up && !lost)
        MPI_Finalize();
    loom_config_destroy(p->cfg);
    return status;
}

/* Parse "--name VALUE" as a non-negative integer; returns 1 if argv[*i] was it. */
static inline int
prog_opt_u64(int argc, char **argv, int *i, const char *name, uint64_t *v)
{
    if (strcmp(argv[*i], name) != 0)
        return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "%s needs a value\n", name);
        exit(2);
    }
    char *end = NULL;
    *v = strtoull(argv[++*i], &end, 10);
    if (*end || end == argv[*i]) {
        fprintf(stderr, "%s needs a number\n", name);
        exit(2);
    }
    return 1;
}

#endif /* LOOM_TESTS_MPI_PROG_COMMON_H */
