/* SPDX-License-Identifier: MIT */
/*
 * What loom-run tells about a run: counts, failures by cause, the slowest
 * tasks, a progress line while it runs and a summary at the end. Pure
 * bookkeeping and formatting: the caller says when and where to print.
 */
#ifndef LOOMRUN_STATS_H
#define LOOMRUN_STATS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define LR_SLOWEST 5

struct lr_slow {
    uint64_t seq;
    double runtime;
    char cmd[64];
};

struct lr_stats {
    double t0;          /* when the run started (monotonic seconds) */
    uint64_t tasks;     /* tasks to run: in the input (less those resumed) */
    int tasks_final;    /* the whole input has been read */
    uint64_t skipped;   /* done before (--resume) */
    uint64_t succeeded; /* final outcomes ... */
    uint64_t failed;
    uint64_t retried;    /* failed attempts that were run again */
    uint64_t unrecorded; /* finished, but output or log could not be stored */
    uint64_t not_run;    /* --halt stopped them before they started */
    uint64_t killed;     /* --halt now killed them */
    uint64_t timeouts;   /* final failures that were timeouts */
    uint64_t by_exit[256];
    uint64_t by_signal[65];
    struct lr_slow slow[LR_SLOWEST]; /* slowest attempts, slowest first */
    int nslow;
    char stopped_by[96]; /* why the run stopped starting tasks ("" none) */
    uint64_t cut;        /* tasks whose output was cut at process.output_limit */
    uint64_t cut_limit;  /* that limit, in bytes a stream */
};

void lr_stats_init(struct lr_stats *s, double now);

/* One finished attempt; `final` when it is the task's last (success, or
 * no retry left). exitval -1 with timed_out is a timeout. */
void lr_stats_attempt(struct lr_stats *s, uint64_t seq, const char *cmd, size_t cmd_len,
                      double runtime, int exitval, int signal, int timed_out, int final);

/* The run stopped starting tasks because of why (copied; the first cause
 * given is kept): the summary names it after the tasks not started. */
void lr_stats_stopped(struct lr_stats *s, const char *why);

/* A final attempt's output was cut at limit bytes a stream (counted; the
 * summary says how many). */
void lr_stats_cut(struct lr_stats *s, uint64_t limit);

/* "1234/10000 done, 12 failed, 4 running, 100 queued, 2.1k/s, ETA 0:04:10"
 * (no newline; no rate while nothing has finished). outstanding: submitted, not finished; threads:
 * worker threads (how many of those can be running). */
void lr_stats_progress(const struct lr_stats *s, double now, uint64_t outstanding, unsigned threads,
                       char *buf, size_t len);

/* The end-of-run summary, several lines, each prefixed "loom-run: "
 * ("1 task", a rate only when tasks finished, the cause of a stop, the
 * tasks whose output was cut). */
void lr_stats_summary(const struct lr_stats *s, double now, long peak_kib, FILE *fp);

#endif /* LOOMRUN_STATS_H */
