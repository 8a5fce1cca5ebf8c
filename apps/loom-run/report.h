/* SPDX-License-Identifier: MIT */
/*
 * --report FILE.html: one self-contained HTML page about a run (inline CSS
 * and SVG, no script, nothing fetched), written at the end of the run:
 *
 *   - a summary: attempts by outcome, wall time, nodes, threads;
 *   - a timeline: one row per worker thread, grouped by node (host), one
 *     bar per attempt coloured by outcome, its <title> (the tooltip) the
 *     task's number, command, host, duration and exit status;
 *   - a histogram of attempt durations (log scale: 5 buckets a decade);
 *   - utilisation per node over time (busy thread-seconds / thread-seconds);
 *   - the slowest attempts and the failed ones, with their causes.
 *
 * Memory is bounded, whatever the number of attempts: the timeline draws
 * a uniform sample (reservoir sampling) of at most `sample_cap` attempts
 * and the page says so when it is a sample; the failures table keeps the
 * first LR_REPORT_FAILS failed attempts (counts by cause cover all); the
 * slowest table keeps LR_REPORT_SLOWEST; the histogram and the
 * utilisation (LR_REPORT_BUCKETS time buckets a node, whose width doubles
 * as the run goes on) count every attempt. Threads beyond LR_REPORT_ROWS
 * are counted, not drawn, and the page says so.
 */
#ifndef LOOMRUN_REPORT_H
#define LOOMRUN_REPORT_H

#include <stddef.h>
#include <stdio.h>

#include "events.h"

#define LR_REPORT_SAMPLE  20000 /* attempts drawn on the timeline, by default */
#define LR_REPORT_FAILS   1000
#define LR_REPORT_SLOWEST 20
#define LR_REPORT_BUCKETS 240
#define LR_REPORT_ROWS    4096
#define LR_REPORT_HOSTS   256

typedef struct lr_report lr_report;

/* A report to be written to path at lr_report_finish() (path is created,
 * truncated, now: an unwritable path fails before the run), or, with path
 * NULL, only to a stream given to lr_report_write(). sample_cap 0: the
 * default. 0, or -1 with a message naming the file in err. */
int lr_report_create(const char *path, size_t sample_cap, lr_report **out, char *err,
                     size_t errlen);

/* The run started at `t0` (Unix time); tasks, ranks, threads as in
 * lr_events_run_start(). */
void lr_report_run_start(lr_report *r, double t0, const char *tasks, int ranks, unsigned threads);

void lr_report_attempt(lr_report *r, const struct lr_attempt *a);

void lr_report_worker_lost(lr_report *r, double time, int lost);

/* The page, to fp. 0, or -1 if fp reports an error. */
int lr_report_write(const lr_report *r, const struct lr_run_end *s, FILE *fp);

/* The page, to the path given to lr_report_create(). 0, or -1 with a
 * message in err. */
int lr_report_finish(lr_report *r, const struct lr_run_end *s, char *err, size_t errlen);

/* Bytes the report holds (for tests of the bound). */
size_t lr_report_bytes(const lr_report *r);

void lr_report_free(lr_report *r);

#endif /* LOOMRUN_REPORT_H */
