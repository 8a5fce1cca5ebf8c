/* SPDX-License-Identifier: MIT */
/*
 * Launching MPI programs from a Criterion test (tests/mpi/test_mpi_*.c).
 *
 * Criterion binaries are never run under mpirun (each test process would
 * inherit one rank's PMIx identity). A test instead starts mpirun with
 * popen, reads everything the ranks print, and asserts on the structured
 * lines the master prints — never on timing. Every launch carries
 * mpirun's own --timeout, so a hung job ends with Open MPI's "time limit"
 * message instead of hanging the suite; the test's .timeout is the outer
 * bound.
 */
#ifndef LOOM_TESTS_MPI_RUN_H
#define LOOM_TESTS_MPI_RUN_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "loom_test.h"

#ifndef MPIEXEC
#define MPIEXEC "mpirun"
#endif

#define PROG(name) PROG_DIR "/" name
#define APP(name)  LOOM_BINARY_DIR "/apps/" name

/* Seconds mpirun lets a job run before it kills it (mpi_run). */
#define MPI_TIMEOUT_S 60

/* Root may run Open MPI only when asked to; oversubscribed ranks must
 * yield when idle or they busy-poll the 2 cores away from each other. */
#define MPI_ENV                                                                                    \
    "env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "                               \
    "OMPI_MCA_mpi_yield_when_idle=1 "

/* The output of one launch. */
struct mpi_out {
    char *text; /* NUL-terminated; the first `cap` bytes of stdout+stderr */
    size_t len, cap;
    int truncated;  /* more was printed than kept */
    int status;     /* exit status of mpirun, or -1 if it died of a signal */
    double seconds; /* how long mpirun ran */
};

/* Run `mpirun --oversubscribe --bind-to none --timeout <limit_s> <args>`,
 * with stderr joined to stdout, reading everything it prints (so it never
 * blocks on a full pipe); prints how long it took to stderr. Frees
 * nothing: call mpi_out_free(). For a job whose size needs more than
 * MPI_TIMEOUT_S on a slow day. */
static inline void mpi_run_for(struct mpi_out *o, int limit_s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* mpi_run_for(o, MPI_TIMEOUT_S, ...). */
static inline void mpi_run(struct mpi_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* mpi_run_for with its arguments as a va_list. */
static inline void
mpi_vrun(struct mpi_out *o, int limit_s, const char *fmt, va_list ap)
{
    char args[4096], cmd[8192];
    struct timespec a, b;
    vsnprintf(args, sizeof args, fmt, ap);
    snprintf(cmd, sizeof cmd,
             MPI_ENV MPIEXEC " --oversubscribe --bind-to none --timeout %d %s 2>&1", limit_s, args);
    memset(o, 0, sizeof *o);
    o->cap = 1 << 20;
    o->text = malloc(o->cap + 1);
    cr_assert_not_null(o->text);
    clock_gettime(CLOCK_MONOTONIC, &a);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p, "popen %s", cmd);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, p)) > 0) {
        size_t keep = o->cap - o->len < n ? o->cap - o->len : n;
        memcpy(o->text + o->len, chunk, keep);
        o->len += keep;
        o->truncated |= keep < n;
    }
    o->text[o->len] = '\0';
    int st = pclose(p);
    clock_gettime(CLOCK_MONOTONIC, &b);
    o->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    o->seconds = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    /* every launch's time against its limit, in the test's log */
    fprintf(stderr, "mpi_run: %.1f s of mpirun's %d s: %.200s\n", o->seconds, limit_s, args);
}

static inline void
mpi_run_for(struct mpi_out *o, int limit_s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mpi_vrun(o, limit_s, fmt, ap);
    va_end(ap);
}

static inline void
mpi_run(struct mpi_out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mpi_vrun(o, MPI_TIMEOUT_S, fmt, ap);
    va_end(ap);
}

static inline void
mpi_out_free(struct mpi_out *o)
{
    free(o->text);
    o->text = NULL;
}

/* How many times needle occurs in hay. */
static inline int
count_of(const char *hay, const char *needle)
{
    int n = 0;
    size_t len = strlen(needle);
    for (const char *p = hay; (p = strstr(p, needle)); p += len)
        n++;
    return n;
}

/* Does some line of the output equal `line` exactly (without its \n)? */
static inline int
has_line(const char *text, const char *line)
{
    size_t len = strlen(line);
    for (const char *p = text; (p = strstr(p, line)); p += len)
        if ((p == text || p[-1] == '\n') && (p[len] == '\n' || p[len] == '\0'))
            return 1;
    return 0;
}

/* Assert that the output has this exact line (printf-style). */
#define assert_line(o, ...)                                                                        \
    do {                                                                                           \
        char want_[512];                                                                           \
        snprintf(want_, sizeof want_, __VA_ARGS__);                                                \
        cr_assert(has_line((o)->text, want_), "expected the line\n  %s\nin the output:\n%s",       \
                  want_, (o)->text);                                                               \
    } while (0)

/* Assert that mpirun exited 0 and no time limit was hit. */
#define assert_clean_exit(o)                                                                       \
    do {                                                                                           \
        cr_assert(!strstr((o)->text, "time limit"), "mpirun's --timeout fired after %.0f s:\n%s",  \
                  (o)->seconds, (o)->text);                                                        \
        cr_assert_eq((o)->status, 0, "mpirun exit status %d, output:\n%s", (o)->status,            \
                     (o)->text);                                                                   \
    } while (0)

/* The common case: run `mpirun ... <args>` (no format), assert a clean
 * exit and that the master printed `line`. */
#define mpi_expect(args, line)                                                                     \
    do {                                                                                           \
        struct mpi_out expect_out_;                                                                \
        mpi_run(&expect_out_, "%s", (args));                                                       \
        assert_clean_exit(&expect_out_);                                                           \
        assert_line(&expect_out_, "%s", (line));                                                   \
        mpi_out_free(&expect_out_);                                                                \
    } while (0)

#endif /* LOOM_TESTS_MPI_RUN_H */
