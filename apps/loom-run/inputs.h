/* SPDX-License-Identifier: MIT */
/*
 * loom-run's input sources, as GNU Parallel has them (internal to the app;
 * depends only on libc and taskfile.h).
 *
 * A run reads its jobs from the task file (TASKFILE, default standard
 * input) or, when the command line has them, from input sources: "::: a b"
 * (arguments), ":::: FILE" and -a FILE (one argument a record); a source with nothing is one empty
 * argument. Several sources combine as GNU Parallel combines them: every combination, the last
 * source varying fastest; a source given with ":::+" or "::::+" (or every source, with --link) goes
 * along with the one before it instead, the shorter wrapping around (--link) or the longer cut
 * short (":::+"). Each record may be split into columns by
 * --colsep (a POSIX extended regular expression), and --header : takes the
 * first record of each source as the columns' names ({name}). A job is one
 * record, or with -n/-N, -m, -X several (their columns its arguments);
 * --shuf hands the records out in a random order.
 *
 * One source read from a file (the task file, or a single :::: / -a) is
 * streamed with lr_reader: memory bounded by the longest record, whatever
 * the number of jobs. Several sources, or ::: arguments, are held in
 * memory (GNU Parallel does the same: a combination needs them all), and
 * so is everything with --shuf.
 *
 * Handles are not thread-safe; errors are -1 with a one-line message in a
 * caller's buffer, as in taskfile.h.
 */
#ifndef LR_INPUTS_H
#define LR_INPUTS_H

#include <stddef.h>
#include <stdint.h>

#include "taskfile.h"

/* One input source of the command line. */
struct lr_source {
    int is_file;             /* 0: ":::" arguments; 1: ":::: FILE" or -a FILE */
    const char *const *args; /* the n arguments (is_file: args[0] is the file,
                                "-" standard input; n is 1) */
    size_t n;
    int linked; /* ":::+" or "::::+": goes along with the source before */
};

/* Where a run's jobs come from and how they are read. */
struct lr_input_cfg {
    const char *path;            /* no sources: this task file ("-" stdin) */
    const struct lr_source *src; /* the command line's sources, in order */
    size_t nsrc;
    int commands;  /* no template: each job is a command (its arguments
                      joined by spaces); the task file skips blank lines
                      and # comments */
    int use_delim; /* -d or -0: records end with delim, not '\n' */
    unsigned char delim;
    const char *colsep; /* --colsep REGEXP, or NULL */
    int header;         /* --header : */
    int link;           /* --link: every source goes along with the first */
    /* GNU Parallel's -n/-N, -m and -X: a job of several records, their
     * columns its arguments in order ({1}..{N} over all of them) */
    size_t max_args;  /* -n/-N: at most this many records a job (0: one) */
    int xargs;        /* 1 -m, 2 -X: as many records as fit in max_chars */
    size_t max_chars; /* -s: the bound of a -m/-X command line, its
                         terminating NUL counted (0: LR_MAX_CHARS) */
    const char *tmpl; /* -m/-X: the template whose length is bounded */
    /* --shuf: every job is read first (held in memory, as GNU Parallel
     * does), then handed out in a random order and numbered in that order
     * ({#} and Seq 1, 2, ... as they run: GNU Parallel's numbering) */
    int shuf;
    uint64_t shuf_seed; /* 0: a random seed; else this one (tests) */
};

/* The default bound of a -m/-X command line, its NUL included: 128 KiB,
 * Linux's limit on one argument (MAX_ARG_STRLEN), which "sh -c COMMAND"
 * hands the whole command in. GNU Parallel measures its system's limit
 * (about 128 KiB less the environment, on Linux). */
#define LR_MAX_CHARS ((size_t)128 * 1024)

typedef struct lr_input lr_input;

/*
 * Open the inputs cfg names (cfg and what it points to must outlive the
 * handle). Holds what must be held in memory (several sources, ::: ones)
 * at once, so a missing file or a bad --colsep is said here. 0, or -1
 * with the message in err ("x.txt: cannot open: No such file or
 * directory", "--colsep '(': ...").
 */
int lr_input_open(const struct lr_input_cfg *cfg, lr_input **out, char *err, size_t errlen);

/*
 * The next job (with max_args or xargs: the next group of records, GNU
 * Parallel's -n/-N, -m, -X; its lineno and seq the group's number, and
 * out->context set for -X): out->text its arguments joined by spaces (its command
 * without a template; what --tag prints), out->args its arguments, out->names the
 * --header names, out->lineno its number (the task file's line number
 * without sources, else the job's number, as GNU Parallel's Seq), valid
 * until the next call. Returns 1, 0 at the end, -1 on error (final; a
 * single record longer than max_chars is one: "command line too long").
 */
int lr_input_next(lr_input *in, struct lr_line *out, char *err, size_t errlen);

/* in's counters (tasks: jobs returned; eof: 1 once every job was). */
void lr_input_stats(const lr_input *in, struct lr_reader_stats *out);

/* 1 when cfg reads nothing but regular files (which may be read twice:
 * counted first), else 0. */
int lr_input_countable(const struct lr_input_cfg *cfg);

/* Free in (NULL is fine). */
void lr_input_close(lr_input *in);

#endif /* LR_INPUTS_H */
