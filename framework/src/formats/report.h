/* SPDX-License-Identifier: MIT */
/*
 * The report (job.report, loom-run's --report FILE.html): one
 * self-contained HTML page about a run (inline CSS and SVG, no script,
 * nothing fetched), written at the end of the run by the recorder
 * (recorder.c) from every attempt it was given:
 *
 *   - a summary: attempts by outcome, wall time, nodes, threads;
 *   - a timeline: one row per worker thread, grouped by node (host), one
 *     bar per attempt coloured by outcome, its <title> (the tooltip) the
 *     task's number, command (a C-API job: function), host, duration and
 *     cause;
 *   - a histogram of attempt durations (log scale: 5 buckets a decade);
 *   - utilisation per node over time (busy thread-seconds / thread-seconds);
 *   - the slowest attempts and the failed ones, with their causes.
 *
 * Memory is bounded, whatever the number of attempts: the timeline draws
 * a uniform sample (reservoir sampling) of at most `sample_cap` attempts
 * and the page says so when it is a sample; the failures table keeps the
 * first LOOM__REPORT_FAILS failed attempts (counts by cause cover all); the
 * slowest table keeps LOOM__REPORT_SLOWEST; the histogram and the
 * utilisation (LOOM__REPORT_BUCKETS time buckets a node, whose width doubles
 * as the run goes on) count every attempt. Threads beyond LOOM__REPORT_ROWS
 * are counted, not drawn, and the page says so.
 */
#ifndef LOOM_REPORT_H
#define LOOM_REPORT_H

#include <stddef.h>
#include <stdio.h>

#include "events.h"

#define LOOM__REPORT_SAMPLE  20000 /* attempts drawn on the timeline, by default */
#define LOOM__REPORT_FAILS   1000
#define LOOM__REPORT_SLOWEST 20
#define LOOM__REPORT_BUCKETS 240
#define LOOM__REPORT_ROWS    4096
#define LOOM__REPORT_HOSTS   256

typedef struct loom__report loom__report;

/* A report to be written to path at loom__report_finish() (path is created,
 * truncated, now, 0664 & ~umask: an unwritable path fails before the run),
 * or, with path NULL, only to a stream given to loom__report_write().
 * sample_cap 0: the default. 0, or -1 with "<name> <path>: cannot write
 * it: <why>" in err (name: the setting that gave path, "--report"). */
int loom__report_create(const char *path, const char *name, size_t sample_cap, loom__report **out,
                        char *err, size_t errlen);

/* The run started at `t0` (Unix time); prog names the program in the
 * page's title ("loom-run", "squares"); tasks, ranks, threads as in
 * loom__events_run_start(). Strings are copied (cut at 255 bytes). */
void loom__report_run_start(loom__report *r, double t0, const char *prog, const char *tasks,
                            int ranks, unsigned threads);

void loom__report_attempt(loom__report *r, const loom_attempt *a);

void loom__report_worker_lost(loom__report *r, double time, int lost);

/* The page, to fp. 0, or -1 if fp reports an error. */
int loom__report_write(const loom__report *r, const struct loom__run_end *s, FILE *fp);

/* The page, to the path given to loom__report_create(). 0, or -1 with a
 * message in err. */
int loom__report_finish(loom__report *r, const struct loom__run_end *s, char *err, size_t errlen);

/* Bytes the report holds (for tests of the bound). */
size_t loom__report_bytes(const loom__report *r);

void loom__report_free(loom__report *r);

#endif /* LOOM_REPORT_H */
