/* SPDX-License-Identifier: MIT */
/*
 * Task files for loom-run (internal to the app; depends only on libc).
 *
 * Three small pieces:
 *
 *  - lr_reader streams a file (or stdin) line by line with memory bounded by
 *    the longest line allowed, so a task file of millions of lines never has
 *    to fit in the master's memory. In command mode (skip_comments = 1) each
 *    non-blank, non-comment line is a command for /bin/sh -c; in input mode
 *    (skip_comments = 0) every line, empty ones included, is an input for a
 *    command template, as GNU Parallel reads its inputs.
 *
 *  - lr_task_hash() and the reader's running hash of the raw bytes let a
 *    resumed run notice that the task file changed under its job log.
 *
 *  - lr_shell_quote() and lr_template_expand() build a command line from a
 *    GNU Parallel style template ("gzip -9 {}") and one input line.
 *
 * Nothing here reports through loom_err: every fallible function returns -1
 * (or NULL) and writes a one-line message, naming the file and line where
 * there is one, into a caller's buffer. Handles are not thread-safe; one
 * thread uses a reader at a time. Nothing blocks except reads of the file.
 */
#ifndef LR_TASKFILE_H
#define LR_TASKFILE_H

#include <stddef.h>
#include <stdint.h>

/* Longest line accepted when lr_reader_opts.max_line is 0: 1 MiB. */
#define LR_MAX_LINE_DEFAULT ((size_t)1 << 20)

/* Reader options. A zeroed struct (or NULL) gives the defaults. */
struct lr_reader_opts {
    /* Longest line accepted, in bytes, not counting the line terminator
     * ("\n", or "\r\n" unless keep_cr). A longer line is an error naming its
     * line number; lines are never silently truncated or split. 0 means
     * LR_MAX_LINE_DEFAULT. The reader's memory is bounded by about this. */
    size_t max_line;
    /* 1 for command files: skip lines that are blank (only spaces, tabs,
     * '\r', '\v', '\f') and lines whose first non-blank byte is '#'. The
     * comment must start the line: "cmd # note" is a command, and the shell
     * treats the rest as its own comment. 0 for template input: every line,
     * blank or starting with '#', is an input (GNU Parallel does the same). */
    int skip_comments;
    /* 0 (default): one '\r' just before the '\n' (or at the end of a final
     * line without '\n') is removed, so files written on Windows work; a
     * '\r' elsewhere is kept. 1: keep it, as GNU Parallel does. */
    int keep_cr;
    /* 0 (default): records end with '\n'. 1: they end with the byte delim
     * instead (GNU Parallel's -d, or -0 with delim '\0'); no '\r' is
     * removed then. A NUL byte inside a record is refused as in a line. */
    int use_delim;
    unsigned char delim;
};

/* One line handed out by lr_reader_next(). */
struct lr_line {
    const char *text; /* NUL-terminated, without terminator; valid until the
                         next lr_reader_next() or lr_reader_close() */
    size_t len;       /* bytes in text (text never contains NUL) */
    uint64_t lineno;  /* 1-based line number in the file */
    uint64_t seq;     /* 1-based task number: tasks returned so far, this one
                         included ({#} in a template, GNU Parallel's Seq) */
    /* The job's arguments, one per input source and column (inputs.h);
     * nargs 0 (lr_reader_next) means text is the one argument. names, when
     * not NULL, holds nargs column names (--header) for {name}. */
    size_t nargs;
    const char *const *args;
    const size_t *arglen;
    const char *const *names;
    /* GNU Parallel's -X: a word of the template around {} (or {.} {/}
     * {//} {/.}) is repeated for each argument, joined by spaces. */
    int context;
    /* --pipe: the job has no argument ({} is '') and nothing is appended
     * to a template without replacement strings. */
    int no_append;
};

/* Counters of a reader, valid at any time; final once next() returned 0. */
struct lr_reader_stats {
    uint64_t lines;    /* lines read, skipped ones included */
    uint64_t tasks;    /* lines returned as tasks; 0 at the end means "no
                          tasks (empty file or only comments)" */
    uint64_t bytes;    /* raw bytes read from the file */
    uint64_t raw_hash; /* FNV-1a 64 of those raw bytes, comments and line
                          terminators included: at the end, the file's hash */
    int eof;           /* 1 once the whole file has been read */
};

typedef struct lr_reader lr_reader;

/*
 * Open a task file for streaming.
 *   path    file to read; "-" reads standard input (named "stdin" in
 *           messages; fd 0 is not closed by lr_reader_close()).
 *   opts    options, or NULL for the defaults.
 *   out     receives the reader on success; NULL on failure.
 *   err     receives a message on failure ("tasks.txt: cannot open: No such
 *           file or directory", "tasks.txt: is a directory"); may be NULL if
 *           errlen is 0.
 * Returns 0, or -1 on failure. Opening an empty file succeeds: emptiness is
 * only known after reading (see lr_reader_stats). Blocks only as open(2)
 * does (a FIFO waits for a writer). path must not be NULL. The reader owns
 * its buffers and file descriptor (opened O_CLOEXEC); free it with
 * lr_reader_close().
 */
int lr_reader_open(const char *path, const struct lr_reader_opts *opts, lr_reader **out, char *err,
                   size_t errlen);

/*
 * Read the next task.
 *   r       an open reader.
 *   out     on a return of 1, the task (see struct lr_line).
 *   err     on a return of -1, the message: "tasks.txt:1234: line longer than
 *           1048576 bytes", "tasks.txt:7: NUL byte in line", "tasks.txt: read
 *           error: Input/output error".
 * Returns 1 with a task, 0 at the end of the file (and again on every later
 * call), -1 on error. Errors are final: later calls return -1 with the same
 * message. A final line without '\n' is a line like any other. Blocks while
 * the file (a pipe, say) has no data.
 */
int lr_reader_next(lr_reader *r, struct lr_line *out, char *err, size_t errlen);

/* Fill *out with r's counters (see struct lr_reader_stats). */
void lr_reader_stats(const lr_reader *r, struct lr_reader_stats *out);

/* Close the file (unless it is stdin) and free r. r may be NULL. */
void lr_reader_close(lr_reader *r);

/*
 * 64-bit FNV-1a hash of len bytes at text (the empty string hashes to
 * 0xcbf29ce484222325). loom-run records one per task in its job log to see,
 * on resume, whether task N is still the same command. Never fails.
 */
uint64_t lr_task_hash(const char *text, size_t len);

/*
 * Quote len bytes at s as one word for a POSIX shell.
 * A non-empty string of only [A-Za-z0-9] and "-_.+/" is returned as is (as
 * GNU Parallel does: no shell treats these specially); anything else is put
 * in single quotes, each ' written as '"'"' ("it's" gives 'it'"'"'s'),
 * dropping the '' a leading or trailing ' leaves ("'" gives "'"): GNU
 * Parallel's quoting, byte for byte; the empty string gives ''. Bytes >= 0x80 (UTF-8) are passed
 * through quoted. Returns a NUL-terminated string the caller frees, or NULL with errno ENOMEM, or
 * EINVAL if s contains a NUL byte (a shell word cannot).
 */
char *lr_shell_quote(const char *s, size_t len);

/*
 * Build the command for one input from a GNU Parallel style template.
 *   tmpl    NUL-terminated template, e.g. "gzip -9 {}".
 *   input   len bytes: one input line, without its terminator.
 *   seq     the task number, for {#}.
 *   err     on failure: "out of memory" or "input contains a NUL byte".
 * Replacement strings (those of GNU Parallel 20221122, checked against its
 * --dry-run output), each replaced by the lr_shell_quote()d value:
 *   {}    the input                       a.b/c.tar.gz -> a.b/c.tar.gz
 *   {.}   without its last extension      a.b/c.tar.gz -> a.b/c.tar
 *   {/}   basename                        a.b/c.tar.gz -> c.tar.gz
 *   {//}  dirname                         a.b/c.tar.gz -> a.b
 *   {/.}  basename without extension      a.b/c.tar.gz -> c.tar
 *   {#}   seq in decimal (not quoted)
 * The extension is the last '.' and what follows, if no '/' follows it; like
 * GNU Parallel this also takes a leading dot: {.} of ".bashrc" is '' and of
 * "a.b/c" is "a.b/c". {//} is Perl's File::Basename dirname, as in GNU
 * Parallel: trailing slashes ignored, "." when there is no '/'.
 * If the template contains no replacement string at all ({#} counts, as in
 * GNU Parallel), " " and the quoted input are appended.
 * {1} is the input, {%} "$LOOM_SLOT" (lr_template_line has the rest);
 * {= perl =} is refused (NULL, said in err); any other brace sequence
 * ({foo}, {+.}) is copied literally, so is an unmatched '{' or '}'. Like
 * GNU Parallel, {} in the command position is quoted too.
 * Returns a NUL-terminated command the caller frees, or NULL on failure.
 */
char *lr_template_expand(const char *tmpl, const char *input, size_t len, uint64_t seq, char *err,
                         size_t errlen);

/*
 * The command of one job: lr_template_expand's rules over a job's several
 * arguments (GNU Parallel's, checked against its --dry-run output).
 *   tmpl    NUL-terminated template.
 *   line    the job (struct lr_line: its arguments, names and seq).
 *   slot    what {%} becomes, unquoted: a number, or "$LOOM_SLOT" when the
 *           worker's shell is to fill it in; NULL means "$LOOM_SLOT".
 *   err     on failure: "out of memory", "input contains a NUL byte",
 *           "{= perl expression =} replacement strings are not supported".
 * With several arguments {} {.} {/} {//} {/.} give each argument so
 * changed, quoted, separated by spaces; {N} {N.} {N/} {N//} {N/.} the Nth
 * (1-based; {-N} counts from the last; past the end: nothing); {name} the
 * column named so by --header; {%} the slot. Without any replacement
 * string every argument is appended, quoted. A {= ... =} (or {N= ... =})
 * is refused; other unknown braces are copied as they are.
 * line->context (-X): each word (a run of non-blanks) holding {} {.} {/}
 * {//} or {/.} is written once per argument, that argument in it, the
 * copies separated by one space ("x{}y" over a, b: "xay xby").
 * line->no_append: nothing is appended (--pipe).
 * Returns a NUL-terminated command the caller frees, or NULL on failure.
 */
char *lr_template_line(const char *tmpl, const struct lr_line *line, const char *slot, char *err,
                       size_t errlen);

/* What {%} becomes in a --tagstring tag: one NUL byte, which the worker
 * that runs the job replaces with its slot. */
#define LR_TAG_SLOT '\0'

/*
 * A --tagstring tag: tmpl filled with line's values as lr_template_line
 * does, but unquoted (GNU Parallel's --tagstring prints them as they
 * are), nothing appended when tmpl has no replacement string, and {%} as
 * LR_TAG_SLOT. Returns the tag (*len bytes, NUL-terminated past them) to
 * free, or NULL with the reason in err.
 */
char *lr_tagstring_line(const char *tmpl, const struct lr_line *line, size_t *len, char *err,
                        size_t errlen);

#endif /* LR_TASKFILE_H */
