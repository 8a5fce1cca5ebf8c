/* SPDX-License-Identifier: MIT */
/*
 * The events file (job.events, loom-run's --events): JSON lines, one
 * object a line, UTF-8, "\n" after each. Pure formatting on a FILE; the
 * recorder (recorder.c) decides when lines are written and flushed.
 *
 * Every line has "event" (a string, below) and "time" (a number: Unix
 * time, seconds, when the master recorded it). The events and their keys:
 *
 *   run_start    tasks (string: what the job runs: loom-run's task file,
 *                "-" for standard input; a C-API job's command line, or
 *                loom_job_opts.title), ranks (integer: MPI ranks, the
 *                master included), threads (integer: worker threads
 *                connected so far, often 0: workers say hello as they start)
 *   attempt      one per attempt of a task, written when the master has
 *                its result (the master learns of an attempt only when it
 *                ends, so its start is a key, not an event of its own):
 *                seq (integer: the task's number: loom-run's line number,
 *                LOOM_TASK_ID; a C-API job's task id), attempt (integer,
 *                from 1), host (string), rank (integer: the worker's rank),
 *                slot (integer: its pool thread, from 1, LOOM_SLOT), start,
 *                end (numbers: Unix time on the worker's clock), runtime
 *                (number, seconds), exit (integer: a command's exit status,
 *                -1 on a timeout, 0 when a signal ended it: GNU Parallel's
 *                convention; a task function's status, or the code an
 *                isolated task exit()ed with), signal (integer, 0: none),
 *                timed_out (boolean), outcome (string: "ok", "failed",
 *                "timeout", "killed" by loom-run's --halt now, "not_run"),
 *                cause (string: "ok", "failed" (the function returned
 *                non-zero), "exit", "signal", "timeout", "memory",
 *                "isolation", "killed", "not_run", "lost" (not run: no
 *                worker was left)), final (boolean: false when the task
 *                runs again), cmd (string: the command; a C-API job's
 *                function name). A "not_run" attempt has start, end and
 *                runtime null; when it never reached a worker, host "" and
 *                rank and slot 0. An attempt running on a worker that is
 *                lost has no line (its result never comes); the task's
 *                next attempt, numbered one more, has its own.
 *   worker_join  rank (integer), host (string), worker_threads (integer:
 *                its pool threads), threads (integer: worker threads
 *                connected now, in all): when a worker has said hello
 *   worker_lost  rank, host, lost (integer: workers lost so far, in all),
 *                threads (worker threads connected now, in all)
 *   run_end      status (integer: loom-run's exit status; a C-API job's 0
 *                when every task succeeded, else 1, unless the program
 *                recorded its own), wall (number: seconds since run_start),
 *                threads (integer: worker threads connected at the end),
 *                tasks, succeeded, failed, retried, timeouts, killed,
 *                not_run, skipped, unrecorded (integers: loom_run_summary)
 *
 * Keys may be added in later versions; none is removed or changes type.
 *
 * Strings: '"', '\\' and the control characters U+0000-U+001F are escaped
 * (\n \r \t \b \f, else \u00XX); valid UTF-8 is copied as it is; each byte
 * of a sequence that is not valid UTF-8 (a stray continuation byte, an
 * over-long form, a surrogate, a truncated sequence) becomes \ufffd, the
 * replacement character. Numbers are finite (never NaN or Infinity).
 */
#ifndef LOOM_EVENTS_INTERNAL_H
#define LOOM_EVENTS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "loom/events.h"

/* The totals of run_end: the program's (or the recorder's) counts, plus
 * what the recorder measures. */
struct loom__run_end {
    loom_run_summary s;
    int64_t wall_ns;  /* from run_start */
    unsigned threads; /* worker threads connected at the end */
};

/* The next character of s[0..n): its code point, or -1 when s[0] does not
 * start a valid UTF-8 sequence; *adv is how many bytes it took (1 when
 * invalid). n > 0. */
long loom__utf8_next(const unsigned char *s, size_t n, size_t *adv);

/* Write n bytes as a JSON string, quotes included (see above). */
void loom__json_string(FILE *fp, const char *s, size_t n);

/* The `cause` words (see above), in the order the report lists them. */
enum loom__cause_word {
    LOOM__CW_OK,
    LOOM__CW_FAILED,
    LOOM__CW_EXIT,
    LOOM__CW_SIGNAL,
    LOOM__CW_TIMEOUT,
    LOOM__CW_MEMORY,
    LOOM__CW_ISOLATION,
    LOOM__CW_KILLED,
    LOOM__CW_NOT_RUN,
    LOOM__CW_LOST,
    LOOM__CW_COUNT
};
extern const char *const loom__cause_words[LOOM__CW_COUNT];

/* The `cause` word of an attempt: its index, or the word (static). */
enum loom__cause_word loom__attempt_cause_word(const loom_attempt *a);
const char *loom__attempt_cause(const loom_attempt *a);

typedef struct loom__events loom__events;

/* Create (truncate) path, 0664 & ~umask; `name` says in err which setting
 * gave it ("--events", "LOOM_JOB_EVENTS"). 0, or -1 with "<name> <path>:
 * cannot write it: <why>" in err. */
int loom__events_open(const char *path, const char *name, loom__events **out, char *err,
                      size_t errlen);

/* A stream already open (tests): not closed by loom__events_close. */
loom__events *loom__events_from(FILE *fp);

/* One line each; time_ns: when it happened, Unix time in ns (the "time"
 * key, in seconds to the microsecond). */
void loom__events_run_start(loom__events *e, int64_t time_ns, const char *tasks, int ranks,
                            unsigned threads);
void loom__events_attempt(loom__events *e, int64_t time_ns, const loom_attempt *a);
void loom__events_worker_join(loom__events *e, int64_t time_ns, int rank, const char *host,
                              unsigned worker_threads, unsigned threads);
void loom__events_worker_lost(loom__events *e, int64_t time_ns, int rank, const char *host,
                              int lost, unsigned threads);
void loom__events_run_end(loom__events *e, int64_t time_ns, const struct loom__run_end *s);

/* Hand what is buffered to the file. 0, or -1 (errno) when it could not be
 * written. */
int loom__events_flush(loom__events *e);

/* Flush and close. 0, or -1 (errno) when something could not be written. */
int loom__events_close(loom__events *e);

#endif /* LOOM_EVENTS_INTERNAL_H */
