/* SPDX-License-Identifier: MIT */
/*
 * --events FILE: what happened in a run, as JSON lines (one JSON object a
 * line, UTF-8, "\n" after each), written as it happens: nothing is kept in
 * memory, a killed run leaves every line written before it died.
 *
 * Every line has "event" (a string, below) and "time" (a number: Unix
 * time, seconds, when the master wrote it). The events and their keys:
 *
 *   run_start    tasks (string: the task file, "-" for standard input),
 *                ranks (integer: MPI ranks, the master included),
 *                threads (integer: worker threads connected so far, often
 *                0: workers say hello as they start)
 *   attempt      one per attempt of a task, written when the master has
 *                its report (the master learns of an attempt only when it
 *                ends, so its start is a key, not an event of its own):
 *                seq (integer: the task's line number, LOOM_TASK_ID),
 *                attempt (integer, from 1), host (string), rank (integer:
 *                the worker's rank), slot (integer: its thread, from 1,
 *                LOOM_SLOT), start, end (numbers: Unix time on the
 *                worker's clock), runtime (number, seconds), exit
 *                (integer: exit status; -1 on a timeout, 0 when a signal
 *                ended it: GNU Parallel's convention), signal (integer, 0:
 *                none), timed_out (boolean), outcome (string: "ok",
 *                "failed", "timeout", "killed" by --halt now, "not_run":
 *                --halt stopped it before it started), final (boolean:
 *                false when the task is retried), cmd (string: the
 *                command). A "not_run" attempt has host "", rank, slot 0
 *                and start, end, runtime null; its cmd is "".
 *   worker_join  threads (integer: worker threads connected so far, in
 *                all): written when that number grows, seen as results
 *                come in
 *   worker_lost  lost (integer: workers lost so far, in all)
 *   run_end      status (integer: loom-run's exit status), wall (number:
 *                seconds), threads (integer: worker threads connected at
 *                the end), tasks, succeeded, failed, retried, timeouts,
 *                killed, not_run, skipped, unrecorded (integers: the
 *                summary's counts)
 *
 * Keys may be added in later versions; none is removed or changes type.
 * FILE is replaced at the start of a run, a --resume'd one too (keep the
 * earlier run's file under another name to keep its events).
 *
 * Strings: '"', '\\' and the control characters U+0000-U+001F are escaped
 * (\n \r \t \b \f, else \u00XX); valid UTF-8 is copied as it is; each byte
 * of a sequence that is not valid UTF-8 (a stray continuation byte, an
 * over-long form, a surrogate, a truncated sequence) becomes \ufffd, the
 * replacement character. Numbers are finite (never NaN or Infinity).
 */
#ifndef LOOMRUN_EVENTS_H
#define LOOMRUN_EVENTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum lr_outcome { LR_OUT_OK, LR_OUT_FAILED, LR_OUT_TIMEOUT, LR_OUT_KILLED, LR_OUT_NOT_RUN };

/* One attempt of a task, as --events and --report see it. */
struct lr_attempt {
    uint64_t seq;
    unsigned attempt;
    const char *host; /* NUL-terminated */
    int rank, slot;   /* slot from 1 */
    double start, runtime;
    int exitval, signal, timed_out, final;
    enum lr_outcome outcome;
    const char *cmd; /* cmd_len bytes, any bytes */
    size_t cmd_len;
};

/* The counts of run_end. */
struct lr_run_end {
    int status;
    double wall;
    unsigned threads;
    uint64_t tasks, succeeded, failed, retried, timeouts, killed, not_run, skipped, unrecorded;
};

/* "ok", "failed", ... */
const char *lr_outcome_name(enum lr_outcome o);

/* The next character of s[0..n): its code point, or -1 when s[0] does not
 * start a valid UTF-8 sequence; *adv is how many bytes it took (1 when
 * invalid). n > 0. */
long lr_utf8_next(const unsigned char *s, size_t n, size_t *adv);

/* Write n bytes as a JSON string, quotes included (see above). */
void lr_json_string(FILE *fp, const char *s, size_t n);

typedef struct lr_events lr_events;

/* Create (truncate) FILE. 0, or -1 with a message naming it in err. */
int lr_events_open(const char *path, lr_events **out, char *err, size_t errlen);

/* A stream already open (tests): not closed by lr_events_close. */
lr_events *lr_events_from(FILE *fp);

void lr_events_run_start(lr_events *e, double time, const char *tasks, int ranks, unsigned threads);
void lr_events_attempt(lr_events *e, double time, const struct lr_attempt *a);
void lr_events_worker_join(lr_events *e, double time, unsigned threads);
void lr_events_worker_lost(lr_events *e, double time, int lost);
void lr_events_run_end(lr_events *e, double time, const struct lr_run_end *s);

/* Flush and close. 0, or -1 (errno) when something could not be written. */
int lr_events_close(lr_events *e);

#endif /* LOOMRUN_EVENTS_H */
