/* SPDX-License-Identifier: MIT */
/*
 * loom-run's job log: GNU Parallel's --joblog format, written as tasks
 * finish and read back for --resume / --resume-failed (internal to
 * loom-run; libc only, no MPI).
 *
 * Format (GNU Parallel 20221122, /usr/bin/parallel: open_joblog() writes the
 * header, Job::print_joblog() the lines). One header line, then one line
 * per finished attempt, fields separated by one TAB, line ended by '\n':
 *
 *   Seq Host Starttime JobRuntime Send Receive Exitval Signal Command
 *   1   :    1795733123.640     0.002 0 2 1 0 echo 1; exit 1
 *   (TABs shown as spaces; in the file "...\t     0.002\t...")
 *
 *   Seq         1-based position of the task in its input (decimal).
 *   Host        where it ran; ":" means the local machine (GNU's notation).
 *   Starttime   epoch seconds, printf "%.3f" (rounded).
 *   JobRuntime  seconds truncated (not rounded) to milliseconds, then
 *               printf "%10.3f": right-aligned in 10 columns.
 *   Send        bytes sent to the job: its stdin under --pipe, files sent
 *               with --transferfile (integer; 0 otherwise).
 *   Receive     bytes of the job's stdout (stderr is not counted) plus
 *               files brought back with --return (integer).
 *   Exitval     exit status; GNU writes 0 when the command was killed by a
 *               signal, -1 when it killed it for --timeout.
 *   Signal      number of the signal that ended the command, else 0.
 *   Command     the command as run. It is the last field, so TABs in it
 *               are written raw (a reader splits at the first 8 TABs only);
 *               each '\n' in it is written as a NUL byte, as GNU does (its
 *               --retry-failed turns NUL back into '\n'). The reader here
 *               does the same, so a command read back equals the one
 *               written.
 *
 * How GNU Parallel resumes (open_joblog(), is_already_in_joblog()): the
 * first line is taken as the header unread; then a Seq is skipped when
 *   --resume          any line starts with that Seq (`^(\d+)`), whatever
 *                     its status;
 *   --resume-failed   some line for that Seq has Exitval 0 and Signal 0
 *                     (`^(\d+)(?:\t[^\t]+){5}\t0\t0\t`); a success is
 *                     never undone by a later failed line of the same Seq.
 * The Command column is NOT compared: GNU matches by Seq only and runs the
 * current input's command. So loom's Seq must be numbered exactly as GNU
 * numbers its input (task file line k, blank lines included, is Seq k, as
 * for `parallel -a FILE`), and "a task file that changed under the log" is
 * loom's own check: compare each entry's command with the task file's
 * command of the same Seq (and a Seq beyond the task file is a change).
 * Duplicates of a Seq appear after retries or resumes; use GNU's rule
 * above: a Seq is done iff any of its entries succeeded
 * (lr_joblog_entry_ok()), else failed if it has entries, else never run.
 *
 * Writing. Each line is formatted into memory and written with ONE write(2)
 * on an O_APPEND descriptor, so lines from concurrent writers never
 * interleave (on a local filesystem; NFS does not make O_APPEND atomic
 * across clients). A short write (disk full) is completed with further
 * writes; if that fails too the handle is marked broken and every later
 * write fails, so this handle never appends after a torn line.
 * The file is locked with flock(LOCK_EX|LOCK_NB) while open: a second
 * loom-run on the same log is refused instead of running the same tasks.
 *
 * What a kill can lose. lr_joblog_write returns once the line is in the
 * kernel's page cache. A SIGKILL of loom-run (or any crash of the process)
 * therefore loses NOTHING that lr_joblog_write already returned: the kernel
 * writes it out on its own. The one line being written at the moment of the
 * kill is either complete, or absent, or torn: a final line without its
 * '\n', because Linux may stop a buffered write between two pages of the
 * file when a fatal signal arrives (rare for ordinary lines; for lines of
 * hundreds of KiB most kills during the write tear it, as
 * test_joblog.c's kill tests see). Only a crash of the machine (kernel panic,
 * power loss) can lose lines written since the last fdatasync, and may leave
 * a torn final line. The sync policy (lr_joblog_set_sync_ms) bounds that
 * window; lr_joblog_close always syncs.
 *
 * Torn final lines are never trusted: lr_joblog_read reports and skips
 * one, and lr_joblog_open(append) cuts it off before appending (GNU
 * Parallel itself would count a torn "7\t:\t17..." as Seq 7 done under
 * --resume and append its next line onto it; its --resume-failed rejects
 * the file).
 *
 * Resume, in this order: lr_joblog_open(path, 1) (takes the lock, checks
 * the header, cuts a torn tail), then lr_joblog_read(path) to learn which
 * Seqs are done and whether the task file changed, then run the rest
 * through the handle.
 *
 * Threads: a handle is used by one thread at a time. After fork() a child
 * may write through an inherited handle (the line buffer is copied).
 * Every function that can fail returns 0, or -1 with errno set; open and
 * read also put a message naming the file in err[errlen] (err may be NULL).
 */
#ifndef LOOM_RUN_JOBLOG_H
#define LOOM_RUN_JOBLOG_H

#include <stddef.h>
#include <stdint.h>

/* The header line GNU Parallel writes, byte for byte. */
#define LR_JOBLOG_HEADER                                                                           \
    "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n"

#define LR_JOBLOG_CMD_MAX  (1024 * 1024) /* longest Command, in bytes */
#define LR_JOBLOG_HOST_MAX 1024          /* longest Host, in bytes */
/* Longest line the reader accepts, '\n' included: Command, Host and room
 * for the eight numeric fields and nine separators. */
#define LR_JOBLOG_LINE_MAX (LR_JOBLOG_CMD_MAX + LR_JOBLOG_HOST_MAX + 4096)

#define LR_JOBLOG_SYNC_MS_DEFAULT 1000 /* fdatasync at most once a second */

/* One line of the job log: one finished attempt of one task. */
struct lr_joblog_entry {
    uint64_t seq;        /* Seq, >= 1 */
    const char *host;    /* Host; NULL or "" is written as ":" (local). The
                          * writer replaces bytes <= ' ' and DEL by '_' (GNU's
                          * reader wants a non-blank word here). */
    double start;        /* Starttime, epoch seconds (finite) */
    double runtime;      /* JobRuntime, seconds (finite) */
    uint64_t send;       /* Send, bytes */
    uint64_t receive;    /* Receive, bytes */
    int exitval;         /* Exitval (GNU: 0 if killed by a signal, -1 timeout) */
    int signal;          /* Signal, >= 0 */
    const char *command; /* Command, may contain '\t' and '\n' */
    unsigned long line;  /* reader: its line number in the file (header = 1);
                          * ignored by the writer */
};

/* What lr_joblog_read saw. */
struct lr_joblog_stats {
    uint64_t entries;     /* complete lines passed to the callback */
    uint64_t max_seq;     /* largest Seq among them, 0 if none */
    uint64_t valid_bytes; /* offset just past the last complete line */
    uint64_t torn_bytes;  /* length of the torn final line, 0 if none */
    int torn;             /* 1 if the file ended with a line without '\n'
                           * (ignored, never passed to the callback) */
    int has_header;       /* 0 for an empty file or a torn header */
};

typedef struct lr_joblog lr_joblog;

/* 1 if the entry records a success (Exitval 0 and Signal 0): GNU's
 * --resume-failed rule for "done". */
static inline int
lr_joblog_entry_ok(const struct lr_joblog_entry *e)
{
    return e->exitval == 0 && e->signal == 0;
}

/*
 * Open the job log at path for writing; *out receives the handle (NULL on
 * failure). The file is created if missing (mode 0666 & ~umask), opened
 * O_APPEND|O_CLOEXEC and locked (EWOULDBLOCK: another process has it open
 * through this module).
 *   append == 0: a new run, as GNU Parallel without --resume: the file is
 *                truncated and the header written.
 *   append != 0: resume: an empty file gets the header; otherwise its first
 *                line must be the header (else EINVAL, "not a job log") and
 *                a torn final line is cut off (lr_joblog_trimmed() says how
 *                many bytes). A file holding only part of the header (torn
 *                on creation) is restarted with the full header.
 * The header is synced (file and directory) before returning. Blocks on
 * disk I/O only.
 */
int lr_joblog_open(const char *path, int append, lr_joblog **out, char *err, size_t errlen);

/*
 * Append one line for e (see struct lr_joblog_entry) with one write(2),
 * then fdatasync if the sync policy says it is due. EINVAL, nothing
 * written: seq 0, signal < 0, start or runtime NaN, infinite or beyond
 * +-1e15, command longer than LR_JOBLOG_CMD_MAX, host longer than
 * LR_JOBLOG_HOST_MAX. A failed write(2) returns its errno (ENOSPC, EIO...);
 * if part of the line had been written and the rest cannot be, the handle
 * is broken and every later write fails with EIO. If the line was written
 * but the due fdatasync failed, -1 with fdatasync's errno (the line is in
 * the file; its durability is not assured). Blocks on disk I/O (and on
 * fdatasync when due). e and its strings stay the caller's.
 */
int lr_joblog_write(lr_joblog *j, const struct lr_joblog_entry *e);

/*
 * Sync policy, checked after each write and by lr_joblog_sync_if_due:
 * ms == 0 fdatasync after every line; ms > 0 at most once per ms
 * milliseconds (default LR_JOBLOG_SYNC_MS_DEFAULT); ms < 0 only on
 * lr_joblog_sync and lr_joblog_close. With ms > 0 a line written just after
 * a sync waits for the next write: call lr_joblog_sync_if_due from the
 * event loop (e.g. once per ms) so a machine crash loses at most about ms
 * milliseconds of lines.
 */
void lr_joblog_set_sync_ms(lr_joblog *j, long ms);

/* fdatasync now if lines were written since the last sync. Logs that cannot
 * be synced (a pipe, /dev/stdout) are accepted silently. */
int lr_joblog_sync(lr_joblog *j);

/* lr_joblog_sync if lines are unsynced and the interval has passed. */
int lr_joblog_sync_if_due(lr_joblog *j);

/* Bytes of a torn final line lr_joblog_open(append) removed, 0 if none. */
uint64_t lr_joblog_trimmed(const lr_joblog *j);

/* Sync, unlock and close; frees j (NULL accepted, returns 0). Returns -1 if
 * the final sync or close failed or the handle was broken; j is freed
 * anyway. */
int lr_joblog_close(lr_joblog *j);

/*
 * Read the job log at path and call cb for every complete line, in file
 * order (e and its strings are valid during the call only). The first line
 * must be LR_JOBLOG_HEADER, else EINVAL "not a job log"; an empty file
 * has no entries. Each line is parsed strictly (nine fields, numbers as
 * GNU writes them, Seq >= 1, at most LR_JOBLOG_LINE_MAX bytes); a malformed
 * line that ends with '\n' is an error (EINVAL) naming its line number.
 * A final line without '\n' is torn: not parsed, not passed on, counted
 * in *st. cb returns 0 to go on; a non-zero value stops the reading and is
 * returned as is (err untouched). st may be NULL. Does not lock the file.
 */
int lr_joblog_read(const char *path, int (*cb)(const struct lr_joblog_entry *e, void *arg),
                   void *arg, struct lr_joblog_stats *st, char *err, size_t errlen);

#endif
