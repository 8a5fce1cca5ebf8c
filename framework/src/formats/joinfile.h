/* SPDX-License-Identifier: MIT */
/*
 * The join file (internal): how a worker started separately finds a
 * running master and gets the job's key. The master writes it into a
 * directory its user names; only that user can read it, so holding the key
 * (auth.h's handshake) proves the joiner runs as that user, or was given
 * the key by them. joinfile.c has the format and the checks.
 *
 * Errors: every function returns a loom_err and, where it has err/errlen
 * (may be NULL/0), one line for the user that names the file and says
 * what is wrong — never the key. Codes:
 *   LOOM_ENOTFOUND  there is no join file (no master serving there yet, or
 *                   it has ended and removed it)
 *   LOOM_EINVAL     a path or a field that loom refuses: not a directory,
 *                   not a regular file, a symbolic link, permissions that
 *                   let group or others read or write, another owner; or
 *                   an invalid field in what the caller asked to write
 *   LOOM_EPROTO     the file is corrupted (truncated, changed, damaged) or
 *                   of an unknown format version
 *   LOOM_ESYS       a system call failed (permission denied, disk full,
 *                   I/O error): the message has strerror's text
 * Threads: none kept; any thread. All calls block on the file system.
 */
#ifndef LOOM_JOINFILE_H
#define LOOM_JOINFILE_H

#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "loom/error.h"

#define LOOM__JOINFILE_NAME    "loom.join"  /* the file's name in its directory */
#define LOOM__JOINFILE_VERSION 2            /* 1: an MPI port instead of the gate (refused) */
#define LOOM__JOINFILE_MAX     8192         /* a longer file is refused unread */
#define LOOM__JOIN_GATE_MAX    300          /* "host:port" of the gate, with the NUL */
#define LOOM__JOIN_JOB_HEX     32           /* hex digits of a job id (16 random bytes) */
#define LOOM__JOIN_HOST_MAX    256          /* with the NUL */
#define LOOM__JOIN_ERR_MAX     (4096 + 256) /* room for a message with a long path */

struct loom__join_info {
    char gate[LOOM__JOIN_GATE_MAX];        /* the master's join gate (gate.h),
                                            * "host:port": printable ASCII, no
                                            * whitespace, port 1..65535 */
    unsigned char key[LOOM__AUTH_KEY_LEN]; /* the job's key: secret */
    char job[LOOM__JOIN_JOB_HEX + 1];      /* random job id, lowercase hex */
    char host[LOOM__JOIN_HOST_MAX];        /* master's host name (for messages):
                                            * 1..255 printable, no whitespace */
    long pid;                              /* master's pid (for messages), >= 1 */
    int64_t created;                       /* unix seconds, >= 0 */
};

/*
 * Fill ji for a new job: a fresh random key and job id
 * (loom__auth_random), this host's name, this process's pid, now, and the
 * gate's address: this host's name and gate_port.
 * Errors: LOOM_EINVAL (gate_port not 1..65535, or a host name too long
 * for the field), LOOM_ESYS (no randomness). ji is zeroed on failure.
 */
loom_err loom__joinfile_init(struct loom__join_info *ji, int gate_port);

/*
 * Write DIR/loom.join for ji. Creates DIR (mode 0700, not its parents) if
 * missing; refuses a DIR that is not a directory, that group or others may
 * write, or that belongs to another user (root's excepted). The file
 * appears atomically: a temporary file of mode 0600 in DIR, written,
 * fsync'ed, renamed over loom.join, then the directory fsync'ed (best
 * effort); a reader
 * sees the old file or the new one, never a part. An existing join file
 * (another master's) is replaced.
 * Errors: LOOM_EINVAL (ji's fields, or DIR refused), LOOM_ESYS (mkdir, open,
 * write, fsync, rename failed: nothing is left behind but DIR itself).
 */
loom_err loom__joinfile_write(const char *dir, const struct loom__join_info *ji, char *err,
                              size_t errlen);

/*
 * Read a join file: dir_or_file is the directory the master was given
 * (its loom.join is read) or the path of the file itself. The file must be
 * a regular file (not a symbolic link) owned by the caller's effective
 * uid, with no permission for group or others, in a directory group and
 * others may not write; it is read with a bound of LOOM__JOINFILE_MAX
 * bytes and every field is validated before ji is filled.
 * Errors: LOOM_ENOTFOUND ("no join file in DIR: is the master running with
 * --serve DIR?"), LOOM_EINVAL ("join file F is readable by group or
 * others: refusing it", a symbolic link, a directory, another owner),
 * LOOM_EPROTO ("corrupted join file F: line 3: ...", or a version this
 * loom does not read: version 1, which named an MPI port and no gate, is
 * refused as written by an older loom), LOOM_ESYS. ji is zeroed on failure.
 */
loom_err loom__joinfile_read(const char *dir_or_file, struct loom__join_info *ji, char *err,
                             size_t errlen);

/*
 * Remove DIR/loom.join when the master ends, only if it is still this
 * job's (its job id is `job`): a master that started later in the same DIR
 * has replaced it, and its file stays. Just before unlinking, the inode
 * there is compared with the one read, so only a file renamed in between
 * those two calls (microseconds) could still be lost.
 * Returns LOOM_OK (removed), LOOM_ENOTFOUND (already gone), LOOM_EMISMATCH
 * (another job's file: left in place), or what loom__joinfile_read returns
 * for a file it cannot read (left in place).
 */
loom_err loom__joinfile_remove(const char *dir, const char *job, char *err, size_t errlen);

#endif /* LOOM_JOINFILE_H */
