/* SPDX-License-Identifier: MIT */
/*
 * The master's durable job journal (internal; journal.c has the on-disk
 * format, the invariants and what each kind of damage does on replay).
 *
 * One record per finished attempt of a task, appended by the master's
 * progress thread. On resume the journal is replayed: every valid record is
 * handed to a callback, a torn or corrupt tail is dropped with a warning,
 * corrupt bytes in the middle are skipped with a warning, and nothing whose
 * checksum does not verify is ever passed on.
 *
 * What a crash can lose (the number this module promises):
 *   - a crash of the master PROCESS (SIGKILL, abort, segfault) loses no
 *     record loom__journal_append() has returned LOOM_OK for: the record
 *     is in the kernel's page cache by then. The one record being written
 *     at the moment of the crash is complete, absent or torn (and a torn one
 *     is dropped on resume): that attempt is re-run.
 *   - a crash of the MACHINE (power, kernel panic) loses at most the records
 *     appended in the last LOOM__JOURNAL_LOSS_BOUND_MS = 100 ms: with the
 *     default policy a record is fdatasync'ed at most
 *     LOOM__JOURNAL_SYNC_MS_DEFAULT = 50 ms after it was appended, provided
 *     the owner calls loom__journal_sync_if_due() at least every 10 ms
 *     (loom__journal_next_sync_ms() says when it is due) and fdatasync
 *     itself takes at most 40 ms (a slower one is logged as a warning: the
 *     bound is then stretched by that latency). Those attempts are re-run.
 *
 * For these numbers to hold for a whole job, the master must append a
 * result's record as soon as it matches the result to its task (before
 * delivering it to user code or counting the task done), and call
 * loom__journal_sync_if_due on every turn of its event loop. Results still
 * in MPI buffers or in a worker when the master dies were never recorded:
 * those tasks run again on resume, like any attempt in flight.
 *
 * Threads: a handle is used by one thread at a time (the master's progress
 * thread). Replay of a path needs no handle and may run anywhere.
 * Errors: every fallible function returns a loom_err; system call failures
 * are LOOM_ESYS with the errno kept (loom__journal_errno) and a message
 * naming the file (loom__journal_errmsg, or err[errlen] where no handle
 * exists yet).
 */
#ifndef LOOM_JOURNAL_H
#define LOOM_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "loom/error.h"

#define LOOM__JOURNAL_VERSION         1
#define LOOM__JOURNAL_HOST_MAX        255 /* longest host name kept, bytes */
#define LOOM__JOURNAL_SYNC_MS_DEFAULT 50  /* oldest unsynced record's max age */
#define LOOM__JOURNAL_LOSS_BOUND_MS   100 /* what a machine crash may lose */
#define LOOM__JOURNAL_ERR_MAX         512 /* room for an error message */

/* One finished attempt of one task. */
struct loom__journal_rec {
    uint64_t task_id;    /* the id submit returned */
    uint64_t def_hash;   /* hash of the task's definition (fn + payload, or
                          * the command line): a changed task shows here */
    uint32_t attempt;    /* 1 for the first attempt */
    int32_t status;      /* 0 = success; anything else is a failure */
    int32_t exit_code;   /* a command's exit status, else 0 */
    int32_t signal;      /* signal that ended it (isolated / command), else 0 */
    int32_t rank;        /* MPI rank that ran it */
    int32_t thread;      /* pool thread index on that rank */
    int64_t start_ns;    /* CLOCK_REALTIME start, ns since the epoch */
    int64_t duration_ns; /* how long the attempt ran */
    const char *host;    /* where it ran; NULL = "". Writer: at most
                          * LOOM__JOURNAL_HOST_MAX bytes (longer is
                          * EINVAL); bytes outside '!'..'~' are written as
                          * '_'. Reader: NUL-terminated, valid during the
                          * callback only. */
};

/* A record counts as a success when status, exit_code and signal are 0. */
static inline int
loom__journal_rec_ok(const struct loom__journal_rec *r)
{
    return r->status == 0 && r->exit_code == 0 && r->signal == 0;
}

/* What a replay (or an open for resume) saw. */
struct loom__journal_stats {
    uint64_t job_key;       /* from the file's header */
    uint64_t records;       /* valid attempt records passed on */
    uint64_t unknown;       /* valid frames of an unknown type, skipped */
    uint64_t bad_regions;   /* runs of corrupt bytes followed by valid frames */
    uint64_t skipped_bytes; /* bytes in those runs (never trusted) */
    uint64_t torn_bytes;    /* bytes after the last valid frame (the tail) */
    uint64_t valid_end;     /* file offset just past the last valid frame */
    uint64_t file_size;     /* size when read */
    int header_rewritten;   /* open: a torn header (crash while creating the
                             * journal) was replaced by a fresh one */
};

/* Called for each valid record in file order; rec and rec->host are valid
 * during the call only; off is the record's file offset. Returning
 * anything but LOOM_OK stops the replay, which returns that value. */
typedef loom_err (*loom__journal_cb)(const struct loom__journal_rec *rec, uint64_t off, void *arg);

typedef struct loom__journal loom__journal;

struct loom__journal_open_opts {
    uint64_t job_key;    /* identity of the job (caller's choice, e.g. a hash
                          * of the task file or of the job's registrations);
                          * resuming a journal of another key is refused */
    int resume;          /* 0: start a new journal (an existing file is
                          * truncated); 1: keep the records, drop a torn tail,
                          * append after it (a missing or empty file is
                          * created) */
    loom__journal_cb cb; /* resume: called for each valid record (may be NULL) */
    void *arg;
};

/*
 * Open (create) the journal at path for appending; *out gets the handle
 * (NULL on failure). The file is opened O_APPEND and locked with flock for
 * the handle's life (a second opener gets LOOM_ESTATE). A new or restarted
 * journal gets its header, fdatasync'ed with its directory entry. With
 * resume, the existing records are replayed through o->cb, and bytes after
 * the last valid frame are cut off (logged as a warning, counted in
 * st->torn_bytes) so every append starts on a frame boundary.
 * Errors: LOOM_EINVAL (o NULL-ish), LOOM_ENOMEM, LOOM_ESYS (open, lock-less
 * filesystems excepted, read, write, truncate, sync failed: ENOSPC, EIO
 * ...), LOOM_ESTATE (locked by another handle or process), LOOM_EPROTO (not
 * a loom journal, unsupported version, corrupt header), LOOM_EMISMATCH
 * (another job's journal), or what o->cb returned. st may be NULL.
 * Blocks on disk I/O.
 */
loom_err loom__journal_open(const char *path, const struct loom__journal_open_opts *o,
                            loom__journal **out, struct loom__journal_stats *st, char *err,
                            size_t errlen);

/*
 * Append one record: framed and checksummed, handed to the kernel in one
 * write(2) on the O_APPEND descriptor, then fdatasync'ed if the policy says
 * a sync is due. On LOOM_OK the record survives a crash of this process.
 *   LOOM_EINVAL  nothing written: host longer than LOOM__JOURNAL_HOST_MAX.
 *   LOOM_ESYS    the write failed (ENOSPC, EDQUOT, EIO...): nothing of the
 *                record is left in the file (a partial write is cut off
 *                again) and the handle stays usable: append again once
 *                there is space. If a due fdatasync failed instead, the
 *                record was written but its durability is unknown: the
 *                handle is broken (reopen with resume to see what the disk
 *                kept).
 *   LOOM_ESTATE  the handle is broken (a partial record could not be cut
 *                off, or a sync failed): nothing written.
 * Blocks on write(2) and, when due, fdatasync.
 */
loom_err loom__journal_append(loom__journal *j, const struct loom__journal_rec *rec);

/*
 * Sync policy. ms > 0: fdatasync once the oldest unsynced record is ms
 * milliseconds old (checked by append and sync_if_due); ms == 0: after
 * every append; ms < 0: only on loom__journal_sync / close. Default
 * LOOM__JOURNAL_SYNC_MS_DEFAULT.
 */
void loom__journal_set_sync_ms(loom__journal *j, long ms);

/* fdatasync now if records are unsynced. LOOM_ESYS (handle broken) or
 * LOOM_ESTATE as for append. */
loom_err loom__journal_sync(loom__journal *j);

/* loom__journal_sync if the policy says it is due; cheap otherwise (one
 * clock read). Call it from the owner's event loop. */
loom_err loom__journal_sync_if_due(loom__journal *j);

/* Milliseconds until a sync is due: -1 if nothing is unsynced (or the
 * policy is ms < 0), 0 if due now. An event loop sleeps no longer. */
long loom__journal_next_sync_ms(const loom__journal *j);

/* Records appended since the last successful fdatasync. */
uint64_t loom__journal_unsynced(const loom__journal *j);

/* The last error's message (names the file) and errno (0 if none). */
const char *loom__journal_errmsg(const loom__journal *j);
int loom__journal_errno(const loom__journal *j);

/* Sync, unlock, close and free (NULL accepted: LOOM_OK). LOOM_ESYS or
 * LOOM_ESTATE if the final sync failed or the handle was broken; freed
 * anyway. */
loom_err loom__journal_close(loom__journal *j);

/*
 * Read the journal at path without locking or changing it, calling cb for
 * every valid record (see journal.c for how damage is handled; corrupt
 * regions and a torn tail are logged as warnings and counted in st).
 * expect_key NULL accepts any job; else another key is LOOM_EMISMATCH.
 * Errors: LOOM_ESYS (cannot open/read), LOOM_EPROTO (no valid header),
 * LOOM_ENOMEM, or what cb returned. An empty file or a torn header (a
 * prefix of a header) has no records and is not an error. st may be NULL.
 */
loom_err loom__journal_replay(const char *path, const uint64_t *expect_key, loom__journal_cb cb,
                              void *arg, struct loom__journal_stats *st, char *err, size_t errlen);

/* A task definition's hash for rec.def_hash, stable across hosts and
 * versions: 64-bit FNV-1a over fn's bytes (NULL = ""), one NUL byte, then
 * the payload's len bytes. A C-API task passes its function's registered
 * name and payload; a command passes NULL and the command line. */
uint64_t loom__journal_def_hash(const char *fn, const void *payload, size_t len);

/* CRC-32C (Castagnoli), as the journal uses it; crc = 0 to start. */
uint32_t loom__crc32c(uint32_t crc, const void *data, size_t len);

/* ---- the done set: what resume skips -------------------------------------
 * Keyed by (task id, definition hash); built from replayed records. Several
 * records of one key (retries, duplicates after a crash) merge: any success
 * wins, a later failure never undoes it. */
typedef struct loom__journal_done loom__journal_done;

struct loom__journal_done_entry {
    uint64_t task_id;
    uint64_t def_hash;
    uint32_t records;     /* how many records had this key */
    uint32_t successes;   /* how many of them succeeded (>1: duplicates) */
    uint32_t max_attempt; /* highest attempt number seen */
    int32_t last_status;  /* status of the last record in file order */
};

loom_err loom__journal_done_create(loom__journal_done **out);
void loom__journal_done_destroy(loom__journal_done *d);
/* Merge one record. LOOM_ENOMEM if the table cannot grow. */
loom_err loom__journal_done_add(loom__journal_done *d, const struct loom__journal_rec *rec);
/* A loom__journal_cb that adds to the done set passed as arg. */
loom_err loom__journal_done_cb(const struct loom__journal_rec *rec, uint64_t off, void *arg);
/* 1 and *out filled if (id, hash) was recorded, else 0. out may be NULL. */
int loom__journal_done_get(const loom__journal_done *d, uint64_t id, uint64_t hash,
                           struct loom__journal_done_entry *out);
/* 1 if (id, hash) has a successful record: resume skips it. */
int loom__journal_done_succeeded(const loom__journal_done *d, uint64_t id, uint64_t hash);
/* 1 if id was recorded with a hash other than `hash` (the task's definition
 * changed since; *other gets one such hash, may be NULL), else 0. */
int loom__journal_done_changed(const loom__journal_done *d, uint64_t id, uint64_t hash,
                               uint64_t *other);
/* Distinct keys, and how many of them have a success. */
void loom__journal_done_counts(const loom__journal_done *d, uint64_t *keys, uint64_t *succeeded);

#endif /* LOOM_JOURNAL_H */
