/* SPDX-License-Identifier: MIT */
/*
 * The events file (job.events, loom-run's --events): JSON lines, one
 * object a line, UTF-8, "\n" after each. Pure formatting on a FILE; the
 * recorder (recorder.c) decides when lines are written and flushed.
 *
 * The schema (every event, every key, its type and meaning, how strings
 * are escaped, what may change between versions) is written once, in
 * docs/events.md, "The events file: its schema"; change both together.
 * tests/support/json_lines.h checks the schema in the tests.
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
 * written: then the file is left ending on the last whole line that was
 * written (a batch cut short by a full disk or the file-size limit is cut
 * back), and nothing more is written to it. */
int loom__events_flush(loom__events *e);

/* Flush and close. 0, or -1 (errno) when something could not be written. */
int loom__events_close(loom__events *e);

#endif /* LOOM_EVENTS_INTERNAL_H */
