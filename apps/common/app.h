/* SPDX-License-Identifier: MIT */
/*
 * What every distributed app does the same way: start MPI with threads,
 * check there is a master and a worker, create the loom job with the
 * program's settings, register its task functions and start it — saying
 * clearly which rank failed and why.
 */
#ifndef LOOM_APP_H
#define LOOM_APP_H

#include <mpi.h>
#include <stddef.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdlib.h>
#include <time.h>

#include <loom.h>

#include "args.h"
#include "version.h"

/* This process's rank as the launcher announces it, before MPI is up:
 * options are parsed on every rank before MPI_Init, and only rank 0
 * should print about them. 0 when no launcher variable is set. */
static inline int
app_launcher_rank(void)
{
    const char *vars[] = {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        char *end;
        long r = v ? strtol(v, &end, 10) : -1;
        if (v && *v && !*end && r >= 0 && r <= INT_MAX)
            return (int)r;
    }
    return 0;
}

struct app_fn {
    const char *name;
    loom_task_fn fn;
    void *user;
};

/*
 * Returns 0 with *job started, or the exit status to use: 1 (MPI or loom
 * failed, or joining a running job failed), 2 (one rank only, or bad
 * settings — an unwritable job.events too). *mpi_up says whether the
 * caller must end with app_end(job, mpi_up). opts->serve lets a master
 * start alone (workers join later); with opts->join every rank is a
 * worker of the job it joins.
 */
static inline int
app_start_opts(const char *prog, int *argc, char ***argv, const loom_job_opts *opts,
               const struct app_fn *fns, size_t nfns, int *mpi_up, loom_job **job)
{
    int provided = 0, size = 0, rank = 0;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided) != MPI_SUCCESS) {
        fprintf(stderr, "%s: MPI_Init_thread failed\n", prog);
        return 1;
    }
    *mpi_up = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (provided < MPI_THREAD_SERIALIZED) {
        fprintf(stderr,
                "%s: this MPI gives thread level %d; loom needs at least "
                "MPI_THREAD_SERIALIZED\n",
                prog, provided);
        return 1;
    }
    if (size < 2 && !opts->serve && !opts->join) {
        fprintf(stderr,
                "%s: needs a master and at least one worker: "
                "mpirun -np 3 --bind-to none %s ...\n",
                prog, prog);
        return 2;
    }
    loom_err rc = loom_job_create(MPI_COMM_WORLD, opts, job);
    for (size_t i = 0; rc == LOOM_OK && i < nfns; i++)
        rc = loom_job_register(*job, fns[i].name, fns[i].fn, fns[i].user);
    if (rc == LOOM_OK)
        rc = loom_job_start(*job);
    if (rc != LOOM_OK) {
        if (opts->join && rank == 0) /* only rank 0 knows why a join failed */
            fprintf(stderr, "%s: rank %d: %s\n", prog, rank, loom_last_error());
        else if (!opts->join)
            fprintf(stderr, "%s: rank %d: cannot start the job: %s\n", prog, rank,
                    loom_last_error());
        return rc == LOOM_ECONFIG ? 2 : 1;
    }
    return 0;
}

/* app_start_opts() with the settings in cfg and nothing else. */
static inline int
app_start(const char *prog, int *argc, char ***argv, const loom_config *cfg,
          const struct app_fn *fns, size_t nfns, int *mpi_up, loom_job **job)
{
    loom_job_opts opts = {.config = cfg};
    return app_start_opts(prog, argc, argv, &opts, fns, nfns, mpi_up, job);
}

/* Print one line (the format should end in \n) with one write(2), so
 * lines of several ranks and threads never mix. */
static inline void app_say(const char *fmt, ...) LOOM_PRINTF(1, 2);

static inline void
app_say(const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof buf)
        n = sizeof buf - 1;
    fflush(stdout);
    ssize_t w = write(STDOUT_FILENO, buf, (size_t)n);
    (void)w;
}

/*
 * A rank that refuses its arguments before MPI is up waits for the other
 * ranks before it exits with a failure: mpirun kills every rank as soon as
 * one exits non-zero, and rank 0 (the one that says why) could otherwise
 * be killed before its message is out. Every rank of an SPMD launch parses
 * the same arguments, so all arrive; a rank that refused alone (a settings
 * file unreadable on one node) gives up waiting after APP_REFUSE_WAIT_S.
 * Nothing happens outside a launcher.
 */
#define APP_REFUSE_WAIT_S 10

static inline void
app_refuse_together(void)
{
    if (!getenv("OMPI_COMM_WORLD_SIZE") && !getenv("PMIX_RANK"))
        return;
    int provided = 0, done = 0;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_SINGLE, &provided) != MPI_SUCCESS)
        return;
    MPI_Request req;
    if (MPI_Ibarrier(MPI_COMM_WORLD, &req) != MPI_SUCCESS)
        return;
    double give_up = MPI_Wtime() + APP_REFUSE_WAIT_S;
    while (!done && MPI_Wtime() < give_up) {
        MPI_Test(&req, &done, MPI_STATUS_IGNORE);
        if (!done)
            nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
    }
    if (done)
        MPI_Finalize(); /* else a rank never came: end without it */
}

/*
 * The end of every distributed app: destroy the job and finalise MPI —
 * except after a lost worker or a lost master (of a joined job), when
 * MPI_Finalize could wait for the dead process forever (Open MPI 4.1):
 * then the process just ends. A failure before MPI was up waits for the
 * other ranks first (app_refuse_together()).
 */
static inline void
app_end(loom_job *job, int mpi_up, int status)
{
    if (!mpi_up && status != 0) {
        app_refuse_together();
        return;
    }
    int lost = job ? loom_job_workers_lost(job) || loom_job_master_lost(job) : 0;
    loom_job_destroy(job);
    if (mpi_up && !lost)
        MPI_Finalize();
}

#endif
