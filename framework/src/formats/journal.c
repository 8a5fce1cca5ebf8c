/* SPDX-License-Identifier: MIT */
/*
 * The master's durable job journal: one framed, checksummed record per
 * finished attempt, appended to one file; replayed on resume.
 *
 * On-disk format (every integer little-endian, whatever the host):
 *
 *   file header, 32 bytes, written once when the journal is created:
 *     0  magic    "\x89LOOMJNL" (8 bytes)
 *     8  u32      format version (1)
 *    12  u32      header length (32)
 *    16  u64      job key (the caller's identity of the job)
 *    24  u32      reserved, 0
 *    28  u32      CRC-32C of bytes 0..27
 *
 *   then frames, back to back, no padding:
 *     0  magic    D7 4A 52 0A ("\xd7JR\n"; 0xD7 cannot occur in a host
 *                 name, see below)
 *     4  u32      payload length, <= JN_PAYLOAD_MAX (1024)
 *     8  u16      type (1 = attempt; others are skipped as unknown)
 *    10  u16      flags, 0
 *    12  u32      CRC-32C of frame bytes 0..11, then of the payload
 *    16  payload
 *
 *   attempt payload (type 1), 58 + host_len bytes exactly:
 *     0 u64 task_id   8 u64 def_hash   16 u32 attempt   20 i32 status
 *    24 i32 exit_code 28 i32 signal    32 i32 rank      36 i32 thread
 *    40 i64 start_ns  48 i64 duration_ns                56 u16 host_len
 *    58 host bytes (host_len <= 255, each in '!'..'~', no NUL)
 *   so an attempt frame is 74..329 bytes.
 *
 * Invariants.
 *  - A record reaches the file in ONE write(2) on an O_APPEND descriptor,
 *    and the file is flock'ed by its one writer, so frames never
 *    interleave. A short write (disk full) is completed; if it cannot be,
 *    the partial frame is cut off again with ftruncate, so the file always
 *    ends on a frame boundary while the handle lives. If even that fails
 *    the handle is broken and refuses to write: it never appends after its
 *    own torn frame.
 *  - Nothing is trusted unless its CRC verifies AND every length in it is
 *    in range AND the payload has exactly the size its fields say. Lengths
 *    read from the file are checked before any use; a bad frame never makes
 *    the reader jump by its length.
 *
 * Durability and the loss bound. append returns once the frame is in the
 * page cache, so a crash of the master process loses no appended record.
 * fdatasync runs when the OLDEST unsynced record is sync_ms old (default
 * 50 ms), checked on every append and by sync_if_due, which the owner's
 * event loop calls (the master's loop wakes at least every few ms;
 * next_sync_ms says when to wake). A record appended at t is therefore on
 * disk by t + 50 ms + the loop's wake-up delay (<= 10 ms) + fdatasync's
 * duration (<= 40 ms on a healthy disk; a slower one is logged): a
 * machine crash loses at most the last 100 ms of results
 * (LOOM__JOURNAL_LOSS_BOUND_MS), which are re-run on resume. Syncs happen
 * at most once per sync_ms under a steady stream of results. A failed
 * fdatasync breaks the handle: after such a failure Linux may have dropped
 * the dirty pages, so only a reopen (replay) can tell what is on disk.
 *
 * Replay, and what each kind of damage does. The reader walks the file
 * from the header; at each offset it either finds a valid frame (taken,
 * then it moves past it) or not (it moves to the next 0xD7 byte and tries
 * again). So:
 *  - torn tail (crash in the middle of a write, truncation by any number
 *    of bytes): the bytes after the last valid frame. Never passed on;
 *    counted in torn_bytes and logged as a warning. Opening for resume cuts
 *    them off (ftruncate) before appending. Their attempts are re-run.
 *  - corrupt bytes in the middle (a zeroed block, flipped bits, a bad CRC,
 *    garbage): the damaged frames are dropped; the reader resynchronises
 *    on the next valid frame and goes on. Each such run is counted
 *    (bad_regions, skipped_bytes) and logged with its offsets. Open does
 *    NOT cut the middle (valid records follow); the run stays in the file,
 *    is skipped again on every replay, and the tasks whose records it held
 *    simply run again (at-least-once). A fake frame inside a damaged
 *    region would need the magic and a matching CRC-32C (odds ~2^-32 per
 *    candidate), and can never start inside a host name (no 0xD7 there).
 *  - a duplicated record (same bytes twice): both are valid and both are
 *    passed on; the done set merges them (any success wins).
 *  - a frame of an unknown type with a valid CRC: skipped, counted.
 *  - header: an empty file or a prefix of a header (crash while creating)
 *    holds no records; open for resume writes a fresh header. A full header
 *    with the wrong magic, version or CRC is refused (LOOM_EPROTO): a
 *    journal whose identity cannot be checked is never trusted; another
 *    job's key is LOOM_EMISMATCH.
 *
 * Threads: one thread at a time per handle; no global state except the
 * CRC table, built once under pthread_once.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "io_internal.h"
#include "journal.h"
#include "loom/log.h"

#define JN_HDR_LEN      32
#define JN_FRAME_HDR    16
#define JN_PAYLOAD_MAX  1024
#define JN_FRAME_MAX    (JN_FRAME_HDR + JN_PAYLOAD_MAX)
#define JN_ATTEMPT      1 /* frame type: one finished attempt */
#define JN_ATTEMPT_HEAD 58
#define JN_READ_BUF     (64 * 1024) /* reader window; >= JN_FRAME_MAX */
#define JN_SLOW_SYNC_MS 40          /* fdatasync slower than this stretches the bound */

static const unsigned char jn_file_magic[8] = {0x89, 'L', 'O', 'O', 'M', 'J', 'N', 'L'};
static const unsigned char jn_frame_magic[4] = {0xD7, 'J', 'R', '\n'};

struct loom__journal {
    int fd;
    int broken; /* refuses to write: see the invariants */
    char *path;
    long sync_ms;      /* policy, see loom__journal_set_sync_ms */
    uint64_t unsynced; /* records appended since the last fdatasync */
    int64_t oldest_ms; /* CLOCK_MONOTONIC ms of the first of them */
    int slow_sync_warned;
    int sys_errno; /* errno of the last failure, 0 if none */
    char msg[LOOM__JOURNAL_ERR_MAX];
    unsigned char frame[JN_FRAME_MAX];
};

/* ---- CRC-32C ---------------------------------------------------------- */

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void
crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc_table[i] = c;
    }
}

uint32_t
loom__crc32c(uint32_t crc, const void *data, size_t len)
{
    const unsigned char *p = data;

    pthread_once(&crc_once, crc_init);
    crc = ~crc;
    for (size_t i = 0; i < len; i++)
        crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

uint64_t
loom__journal_def_hash(const char *fn, const void *payload, size_t len)
{
    const unsigned char *p = payload;
    uint64_t h = 0xcbf29ce484222325ull;

    for (const char *c = fn != NULL ? fn : ""; *c != '\0'; c++)
        h = (h ^ (unsigned char)*c) * 0x100000001b3ull;
    h *= 0x100000001b3ull; /* the NUL after the name: h ^= 0 */
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

/* ---- little-endian fields --------------------------------------------- */

static void
put_u16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static void
put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void
put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint16_t
get_u16(const unsigned char *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t
get_u32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t
get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static int
host_byte_ok(unsigned char c)
{
    return c >= '!' && c <= '~';
}

static int64_t
mono_ms(void)
{
    return loom__now_ns() / 1000000;
}

/* ---- encoding --------------------------------------------------------- */

static void
encode_header(unsigned char *h, uint64_t job_key)
{
    memcpy(h, jn_file_magic, sizeof jn_file_magic);
    put_u32(h + 8, LOOM__JOURNAL_VERSION);
    put_u32(h + 12, JN_HDR_LEN);
    put_u64(h + 16, job_key);
    put_u32(h + 24, 0);
    put_u32(h + 28, loom__crc32c(0, h, 28));
}

/* Frame one attempt record into f; returns its length. host_len has been
 * checked by the caller. */
static size_t
encode_attempt(unsigned char *f, const struct loom__journal_rec *r, const char *host,
               size_t host_len)
{
    unsigned char *p = f + JN_FRAME_HDR;
    size_t plen = JN_ATTEMPT_HEAD + host_len;
    uint32_t crc;

    put_u64(p + 0, r->task_id);
    put_u64(p + 8, r->def_hash);
    put_u32(p + 16, r->attempt);
    put_u32(p + 20, (uint32_t)r->status);
    put_u32(p + 24, (uint32_t)r->exit_code);
    put_u32(p + 28, (uint32_t)r->signal);
    put_u32(p + 32, (uint32_t)r->rank);
    put_u32(p + 36, (uint32_t)r->thread);
    put_u64(p + 40, (uint64_t)r->start_ns);
    put_u64(p + 48, (uint64_t)r->duration_ns);
    put_u16(p + 56, (uint16_t)host_len);
    /* The reader refuses other bytes; keeping 0xD7 out of host names also
     * means a frame magic never starts inside one. */
    for (size_t i = 0; i < host_len; i++)
        p[JN_ATTEMPT_HEAD + i] =
            host_byte_ok((unsigned char)host[i]) ? (unsigned char)host[i] : '_';

    memcpy(f, jn_frame_magic, sizeof jn_frame_magic);
    put_u32(f + 4, (uint32_t)plen);
    put_u16(f + 8, JN_ATTEMPT);
    put_u16(f + 10, 0);
    crc = loom__crc32c(0, f, 12);
    crc = loom__crc32c(crc, p, plen);
    put_u32(f + 12, crc);
    return JN_FRAME_HDR + plen;
}

/* ---- decoding --------------------------------------------------------- */

/* Is there a valid frame at p (avail bytes readable)? 1 with its total
 * length and type, else 0. Every length is checked before it is used. */
static int
frame_at(const unsigned char *p, size_t avail, size_t *flen, uint16_t *type)
{
    uint32_t len, crc;

    if (avail < JN_FRAME_HDR || memcmp(p, jn_frame_magic, sizeof jn_frame_magic) != 0)
        return 0;
    len = get_u32(p + 4);
    if (len > JN_PAYLOAD_MAX || avail - JN_FRAME_HDR < len || get_u16(p + 10) != 0)
        return 0;
    crc = loom__crc32c(0, p, 12);
    crc = loom__crc32c(crc, p + JN_FRAME_HDR, len);
    if (crc != get_u32(p + 12))
        return 0;
    *flen = JN_FRAME_HDR + len;
    *type = get_u16(p + 8);
    return 1;
}

/* Decode an attempt payload; host[] gets the NUL-terminated host name.
 * 0 if the payload is not exactly what its fields say. */
static int
decode_attempt(const unsigned char *p, size_t len, struct loom__journal_rec *r,
               char host[LOOM__JOURNAL_HOST_MAX + 1])
{
    size_t host_len;

    if (len < JN_ATTEMPT_HEAD)
        return 0;
    host_len = get_u16(p + 56);
    if (host_len > LOOM__JOURNAL_HOST_MAX || len != JN_ATTEMPT_HEAD + host_len)
        return 0;
    for (size_t i = 0; i < host_len; i++) {
        if (!host_byte_ok(p[JN_ATTEMPT_HEAD + i]))
            return 0;
    }
    memcpy(host, p + JN_ATTEMPT_HEAD, host_len);
    host[host_len] = '\0';
    r->task_id = get_u64(p + 0);
    r->def_hash = get_u64(p + 8);
    r->attempt = get_u32(p + 16);
    r->status = (int32_t)get_u32(p + 20);
    r->exit_code = (int32_t)get_u32(p + 24);
    r->signal = (int32_t)get_u32(p + 28);
    r->rank = (int32_t)get_u32(p + 32);
    r->thread = (int32_t)get_u32(p + 36);
    r->start_ns = (int64_t)get_u64(p + 40);
    r->duration_ns = (int64_t)get_u64(p + 48);
    r->host = host;
    return 1;
}

/* Header check. LOOM_OK with *torn = 1 for an empty file or a prefix of a
 * header (n < JN_HDR_LEN), LOOM_OK with *key for a valid one, else
 * LOOM_EPROTO with a message. */
static loom_err
check_header(const unsigned char *h, size_t n, const char *path, uint64_t *key, int *torn,
             char *err, size_t errlen)
{
    size_t m = n < sizeof jn_file_magic ? n : sizeof jn_file_magic;

    *torn = 0;
    if (memcmp(h, jn_file_magic, m) != 0) {
        loom__set_err(err, errlen, "%s: not a loom journal (bad magic)", path);
        return LOOM_EPROTO;
    }
    if (n < JN_HDR_LEN) {
        *torn = 1;
        return LOOM_OK;
    }
    /* The version first: a later format may lay its header out otherwise. */
    if (get_u32(h + 8) != LOOM__JOURNAL_VERSION) {
        loom__set_err(err, errlen,
                      "%s: journal format version %" PRIu32
                      " is not supported (this is %d), or the "
                      "header is corrupt",
                      path, get_u32(h + 8), LOOM__JOURNAL_VERSION);
        return LOOM_EPROTO;
    }
    if (get_u32(h + 12) != JN_HDR_LEN || get_u32(h + 28) != loom__crc32c(0, h, 28)) {
        loom__set_err(err, errlen, "%s: the journal's header is corrupt (checksum mismatch)", path);
        return LOOM_EPROTO;
    }
    *key = get_u64(h + 16);
    return LOOM_OK;
}

/* pread exactly len bytes at off, or fewer at end of file: *got. */
static int
pread_some(int fd, unsigned char *buf, size_t len, uint64_t off, size_t *got)
{
    size_t done = 0;

    while (done < len) {
        ssize_t r = pread(fd, buf + done, len - done, (off_t)(off + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        done += (size_t)r;
    }
    *got = done;
    return 0;
}

/* The reader's window over the file: buf holds bytes [boff, boff + blen). */
struct scan {
    int fd;
    const char *path;
    unsigned char *buf;
    uint64_t boff;
    size_t blen;
    int eof;
};

/* Make the window start at off and hold at least JN_FRAME_MAX bytes (or
 * everything up to the end of the file). */
static loom_err
scan_fill(struct scan *s, uint64_t off, char *err, size_t errlen)
{
    size_t keep, got;

    if (off + JN_FRAME_MAX <= s->boff + s->blen || (s->eof && off <= s->boff + s->blen))
        return LOOM_OK;
    keep = off < s->boff + s->blen ? (size_t)(s->boff + s->blen - off) : 0;
    if (keep > 0)
        memmove(s->buf, s->buf + (off - s->boff), keep);
    s->boff = off;
    s->blen = keep;
    if (s->eof)
        return LOOM_OK;
    if (pread_some(s->fd, s->buf + keep, JN_READ_BUF - keep, off + keep, &got) != 0) {
        loom__set_err(err, errlen, "%s: cannot read the journal: %s", s->path, strerror(errno));
        return LOOM_ESYS;
    }
    s->blen += got;
    if (got < JN_READ_BUF - keep)
        s->eof = 1;
    return LOOM_OK;
}

/* Walk the frames from `start` to the end of the file (see the top of the
 * file for what happens to damage). */
static loom_err
scan_frames(int fd, const char *path, uint64_t start, loom__journal_cb cb, void *arg,
            struct loom__journal_stats *st, char *err, size_t errlen)
{
    struct scan s = {fd, path, NULL, start, 0, 0};
    char host[LOOM__JOURNAL_HOST_MAX + 1];
    uint64_t off = start, bad_start = 0;
    int in_bad = 0;
    loom_err rc = LOOM_OK;

    st->valid_end = start;
    s.buf = malloc(JN_READ_BUF);
    if (s.buf == NULL) {
        loom__set_err(err, errlen, "%s: out of memory", path);
        return LOOM_ENOMEM;
    }
    for (;;) {
        const unsigned char *p;
        size_t avail, flen;
        uint16_t type;
        struct loom__journal_rec r;

        rc = scan_fill(&s, off, err, errlen);
        if (rc != LOOM_OK)
            goto cleanup;
        avail = (size_t)(s.boff + s.blen - off);
        if (avail == 0)
            break;
        p = s.buf + (off - s.boff);
        if (frame_at(p, avail, &flen, &type) &&
            (type != JN_ATTEMPT ||
             decode_attempt(p + JN_FRAME_HDR, flen - JN_FRAME_HDR, &r, host))) {
            if (in_bad) {
                in_bad = 0;
                st->bad_regions++;
                st->skipped_bytes += off - bad_start;
                LOOM_WARN("%s: skipped %" PRIu64 " corrupt bytes at offsets %" PRIu64 "..%" PRIu64
                          " (records there are dropped; their tasks run again)",
                          path, off - bad_start, bad_start, off - 1);
            }
            if (type == JN_ATTEMPT) {
                st->records++;
                if (cb != NULL) {
                    rc = cb(&r, off, arg);
                    if (rc != LOOM_OK)
                        goto cleanup;
                }
            } else {
                st->unknown++;
            }
            off += flen;
            st->valid_end = off;
            continue;
        }
        if (!in_bad) {
            in_bad = 1;
            bad_start = off;
        }
        /* Never jump by a length read from a frame that did not verify:
         * try the next byte that could start a frame. */
        {
            const unsigned char *q = memchr(p + 1, jn_frame_magic[0], avail - 1);
            off += q != NULL ? (uint64_t)(q - p) : avail;
        }
    }
    st->file_size = off;
    if (in_bad) {
        st->torn_bytes = off - bad_start;
        LOOM_WARN("%s: the last %" PRIu64 " bytes (from offset %" PRIu64
                  ") are a torn or corrupt tail: dropped, never trusted",
                  path, st->torn_bytes, bad_start);
    }
cleanup:
    free(s.buf);
    return rc;
}

loom_err
loom__journal_replay(const char *path, const uint64_t *expect_key, loom__journal_cb cb, void *arg,
                     struct loom__journal_stats *st, char *err, size_t errlen)
{
    struct loom__journal_stats s = {0};
    unsigned char h[JN_HDR_LEN];
    size_t got;
    int fd, torn;
    loom_err rc;

    LOOM_ASSERT(path != NULL);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        loom__set_err(err, errlen, "%s: cannot open the journal: %s", path, strerror(errno));
        rc = LOOM_ESYS;
        goto done;
    }
    if (pread_some(fd, h, sizeof h, 0, &got) != 0) {
        loom__set_err(err, errlen, "%s: cannot read the journal: %s", path, strerror(errno));
        rc = LOOM_ESYS;
        goto cleanup;
    }
    rc = check_header(h, got, path, &s.job_key, &torn, err, errlen);
    if (rc != LOOM_OK)
        goto cleanup;
    if (torn) {
        s.torn_bytes = got;
        s.file_size = got;
        if (got > 0)
            LOOM_WARN("%s: torn header (%zu bytes): no records", path, got);
        goto cleanup;
    }
    if (expect_key != NULL && *expect_key != s.job_key) {
        loom__set_err(err, errlen,
                      "%s: the journal belongs to another job (key %016" PRIx64
                      ", expected %016" PRIx64 ")",
                      path, s.job_key, *expect_key);
        rc = LOOM_EMISMATCH;
        goto cleanup;
    }
    rc = scan_frames(fd, path, JN_HDR_LEN, cb, arg, &s, err, errlen);
cleanup:
    close(fd);
done:
    if (st != NULL)
        *st = s;
    return rc;
}

/* ---- writer ----------------------------------------------------------- */

/* Record a failure on the handle: message naming the file, errno kept. */
static loom_err jfail(struct loom__journal *j, loom_err rc, int sys_errno, const char *fmt, ...)
    LOOM_PRINTF(4, 5);

static loom_err
jfail(struct loom__journal *j, loom_err rc, int sys_errno, const char *fmt, ...)
{
    va_list ap;
    int n;

    n = snprintf(j->msg, sizeof j->msg, "%s: ", j->path);
    if (n < 0 || (size_t)n >= sizeof j->msg)
        n = 0;
    va_start(ap, fmt);
    vsnprintf(j->msg + n, sizeof j->msg - (size_t)n, fmt, ap);
    va_end(ap);
    j->sys_errno = sys_errno;
    return rc;
}

/* fdatasync, accepting descriptors that cannot be synced. */
static int
sync_fd(int fd)
{
    if (fdatasync(fd) == 0 || errno == EINVAL || errno == EROFS)
        return 0;
    return -1;
}

/* fsync the directory holding path, so a new file's name is durable. */
static int
sync_dir_of(const char *path)
{
    char *copy = strdup(path);
    int fd, rc = -1, saved;

    if (copy == NULL)
        return -1;
    fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        rc = sync_fd(fd);
        saved = errno;
        close(fd);
        errno = saved;
    }
    free(copy);
    return rc;
}

/* Write the file header at the start of an empty file. On failure the
 * file is emptied again so no torn header is left behind (if that fails
 * too, the reader treats the prefix as a torn header anyway). */
static loom_err
write_header(struct loom__journal *j, uint64_t job_key)
{
    unsigned char h[JN_HDR_LEN];
    size_t done;
    int e;

    encode_header(h, job_key);
    if (loom__write_all(j->fd, h, sizeof h, &done) != 0) {
        e = errno;
        /* If even this fails, a prefix of a header holds no records and
         * resume starts the journal again. */
        if (done > 0 && ftruncate(j->fd, 0) != 0)
            LOOM_DEBUG("%s: cannot empty the journal again: %s", j->path, strerror(errno));
        return jfail(j, LOOM_ESYS, e, "cannot write the journal's header: %s", strerror(e));
    }
    if (sync_fd(j->fd) != 0 || sync_dir_of(j->path) != 0) {
        e = errno;
        return jfail(j, LOOM_ESYS, e, "cannot sync the journal's header: %s", strerror(e));
    }
    return LOOM_OK;
}

/* Resume: check the header, replay, cut a torn tail. *need_header = 1 if
 * the file holds no complete header (it has been emptied). */
static loom_err
open_resume(struct loom__journal *j, const struct loom__journal_open_opts *o,
            struct loom__journal_stats *s, int *need_header)
{
    unsigned char h[JN_HDR_LEN];
    size_t got;
    int torn;
    loom_err rc;

    if (pread_some(j->fd, h, sizeof h, 0, &got) != 0)
        return jfail(j, LOOM_ESYS, errno, "cannot read the journal: %s", strerror(errno));
    rc = check_header(h, got, j->path, &s->job_key, &torn, j->msg, sizeof j->msg);
    if (rc != LOOM_OK)
        return rc;
    if (torn) {
        LOOM_WARN("%s: torn header (%zu bytes, a crash while the journal was created): "
                  "starting it again",
                  j->path, got);
        if (ftruncate(j->fd, 0) != 0)
            return jfail(j, LOOM_ESYS, errno, "cannot restart a journal with a torn header: %s",
                         strerror(errno));
        s->header_rewritten = 1;
        s->torn_bytes = got;
        *need_header = 1;
        return LOOM_OK;
    }
    if (s->job_key != o->job_key)
        return jfail(j, LOOM_EMISMATCH, 0,
                     "the journal belongs to another job (key %016" PRIx64 ", this job %016" PRIx64
                     "); refusing to resume it",
                     s->job_key, o->job_key);
    rc = scan_frames(j->fd, j->path, JN_HDR_LEN, o->cb, o->arg, s, j->msg, sizeof j->msg);
    if (rc != LOOM_OK)
        return rc;
    if (s->torn_bytes > 0) {
        /* Appending after the tail would bury it in the middle: cut it. */
        if (ftruncate(j->fd, (off_t)s->valid_end) != 0)
            return jfail(j, LOOM_ESYS, errno, "cannot cut off the journal's torn tail: %s",
                         strerror(errno));
        if (sync_fd(j->fd) != 0)
            return jfail(j, LOOM_ESYS, errno, "cannot sync: %s", strerror(errno));
        LOOM_WARN("%s: cut off %" PRIu64 " bytes of torn tail before appending", j->path,
                  s->torn_bytes);
    }
    return LOOM_OK;
}

loom_err
loom__journal_open(const char *path, const struct loom__journal_open_opts *o, loom__journal **out,
                   struct loom__journal_stats *st, char *err, size_t errlen)
{
    struct loom__journal_stats s = {0};
    struct loom__journal *j = NULL;
    struct stat sb;
    int need_header = 0;
    loom_err rc;

    LOOM_ASSERT(out != NULL);
    *out = NULL;
    if (path == NULL || o == NULL) {
        loom__set_err(err, errlen, "journal: no path or options");
        rc = LOOM_EINVAL;
        goto done;
    }
    j = calloc(1, sizeof *j);
    if (j == NULL || (j->path = strdup(path)) == NULL) {
        loom__set_err(err, errlen, "%s: out of memory", path);
        rc = LOOM_ENOMEM;
        goto fail;
    }
    j->fd = -1;
    j->sync_ms = LOOM__JOURNAL_SYNC_MS_DEFAULT;
    /* 0664 & ~umask: the user's umask, never world-writable. Never O_TRUNC:
     * the lock must be ours before anything changes. */
    j->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0664);
    if (j->fd < 0) {
        rc = jfail(j, LOOM_ESYS, errno, "cannot open the journal: %s", strerror(errno));
        goto fail;
    }
    if (flock(j->fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
        rc = jfail(j, LOOM_ESTATE, EWOULDBLOCK, "the journal is in use by another master");
        goto fail;
    }
    /* Other flock failures (a filesystem without locks) only lose the
     * protection against a second writer. */
    if (fstat(j->fd, &sb) != 0) {
        rc = jfail(j, LOOM_ESYS, errno, "cannot stat: %s", strerror(errno));
        goto fail;
    }
    if (!S_ISREG(sb.st_mode)) {
        rc = jfail(j, LOOM_EINVAL, 0, "the journal must be a regular file");
        goto fail;
    }
    if (!o->resume || sb.st_size == 0) {
        if (sb.st_size != 0 && ftruncate(j->fd, 0) != 0) {
            rc = jfail(j, LOOM_ESYS, errno, "cannot truncate: %s", strerror(errno));
            goto fail;
        }
        need_header = 1;
    } else {
        rc = open_resume(j, o, &s, &need_header);
        if (rc != LOOM_OK)
            goto fail;
    }
    if (need_header) {
        rc = write_header(j, o->job_key);
        if (rc != LOOM_OK)
            goto fail;
        s.job_key = o->job_key;
        s.valid_end = JN_HDR_LEN;
    }
    *out = j;
    rc = LOOM_OK;
    goto done;
fail:
    if (j != NULL) {
        if (j->msg[0] != '\0')
            loom__set_err(err, errlen, "%s", j->msg);
        if (j->fd >= 0)
            close(j->fd);
        free(j->path);
        free(j);
    }
done:
    if (st != NULL)
        *st = s;
    return rc;
}

/* Hand one frame to the kernel; see the invariants for short writes. */
static loom_err
write_frame(struct loom__journal *j, const unsigned char *f, size_t len)
{
    size_t done;
    off_t pos, start;
    int e;

    if (loom__write_all(j->fd, f, len, &done) == 0)
        return LOOM_OK;
    e = errno;
    if (done == 0)
        return jfail(j, LOOM_ESYS, e, "cannot append a record: %s", strerror(e));
    /* O_APPEND left the offset just past the bytes that made it. */
    pos = lseek(j->fd, 0, SEEK_CUR);
    start = pos - (off_t)done;
    if (pos >= 0 && start >= JN_HDR_LEN && ftruncate(j->fd, start) == 0)
        return jfail(j, LOOM_ESYS, e,
                     "cannot append a record: %s (%zu of %zu bytes were written and cut off "
                     "again)",
                     strerror(e), done, len);
    j->broken = 1;
    return jfail(j, LOOM_ESYS, e,
                 "cannot append a record: %s; the partial record could not be cut off, so this "
                 "handle writes no more (resume drops it)",
                 strerror(e));
}

loom_err
loom__journal_append(loom__journal *j, const struct loom__journal_rec *rec)
{
    const char *host;
    size_t host_len, len;
    loom_err rc;

    LOOM_ASSERT(j != NULL && rec != NULL);
    if (j->broken)
        return jfail(j, LOOM_ESTATE, EIO, "the journal handle is broken by an earlier failure");
    host = rec->host != NULL ? rec->host : "";
    host_len = strnlen(host, (size_t)LOOM__JOURNAL_HOST_MAX + 1);
    if (host_len > LOOM__JOURNAL_HOST_MAX)
        return jfail(j, LOOM_EINVAL, 0, "host name longer than %d bytes", LOOM__JOURNAL_HOST_MAX);
    len = encode_attempt(j->frame, rec, host, host_len);
    rc = write_frame(j, j->frame, len);
    if (rc != LOOM_OK)
        return rc;
    if (j->unsynced++ == 0)
        j->oldest_ms = mono_ms();
    return loom__journal_sync_if_due(j);
}

void
loom__journal_set_sync_ms(loom__journal *j, long ms)
{
    LOOM_ASSERT(j != NULL);
    j->sync_ms = ms;
}

loom_err
loom__journal_sync(loom__journal *j)
{
    int64_t t0, dt;

    LOOM_ASSERT(j != NULL);
    if (j->broken)
        return jfail(j, LOOM_ESTATE, EIO, "the journal handle is broken by an earlier failure");
    if (j->unsynced == 0)
        return LOOM_OK;
    t0 = mono_ms();
    if (sync_fd(j->fd) != 0) {
        /* Linux may have dropped the dirty pages it failed to write: only a
         * replay can tell what is on disk now. */
        j->broken = 1;
        return jfail(j, LOOM_ESYS, errno,
                     "fdatasync failed: %s; %" PRIu64
                     " record(s) may be lost, this handle writes no more (reopen to resume)",
                     strerror(errno), j->unsynced);
    }
    dt = mono_ms() - t0;
    if (dt > JN_SLOW_SYNC_MS && !j->slow_sync_warned) {
        j->slow_sync_warned = 1;
        LOOM_WARN("%s: fdatasync took %" PRId64 " ms: a machine crash may lose more than the "
                  "last %d ms of results (warned once)",
                  j->path, dt, LOOM__JOURNAL_LOSS_BOUND_MS);
    }
    j->unsynced = 0;
    return LOOM_OK;
}

long
loom__journal_next_sync_ms(const loom__journal *j)
{
    int64_t left;

    LOOM_ASSERT(j != NULL);
    if (j->unsynced == 0 || j->sync_ms < 0)
        return -1;
    left = j->oldest_ms + j->sync_ms - mono_ms();
    return left > 0 ? (long)left : 0;
}

loom_err
loom__journal_sync_if_due(loom__journal *j)
{
    LOOM_ASSERT(j != NULL);
    if (j->broken)
        return jfail(j, LOOM_ESTATE, EIO, "the journal handle is broken by an earlier failure");
    if (loom__journal_next_sync_ms(j) != 0)
        return LOOM_OK;
    return loom__journal_sync(j);
}

uint64_t
loom__journal_unsynced(const loom__journal *j)
{
    LOOM_ASSERT(j != NULL);
    return j->unsynced;
}

const char *
loom__journal_errmsg(const loom__journal *j)
{
    LOOM_ASSERT(j != NULL);
    return j->msg;
}

int
loom__journal_errno(const loom__journal *j)
{
    LOOM_ASSERT(j != NULL);
    return j->sys_errno;
}

loom_err
loom__journal_close(loom__journal *j)
{
    loom_err rc;

    if (j == NULL)
        return LOOM_OK;
    rc = loom__journal_sync(j);
    if (rc != LOOM_OK)
        LOOM_ERROR("%s", j->msg);
    if (close(j->fd) != 0 && rc == LOOM_OK) {
        rc = jfail(j, LOOM_ESYS, errno, "cannot close: %s", strerror(errno));
        LOOM_ERROR("%s", j->msg);
    }
    free(j->path);
    free(j);
    return rc;
}

/* ---- the done set ----------------------------------------------------- */

/* Open addressing with linear probing, slot chosen by the task id alone:
 * every key of one id lies on the probe run starting at that id's slot,
 * so "was this id recorded with another hash?" is one short scan. No
 * deletions, so runs never break. */
struct loom__journal_done {
    struct loom__journal_done_entry *slots;
    unsigned char *used;
    size_t cap; /* power of two */
    size_t n;
    uint64_t succeeded;
};

static size_t
done_slot(uint64_t id, size_t cap)
{
    id ^= id >> 33;
    id *= 0xff51afd7ed558ccdull;
    id ^= id >> 33;
    return (size_t)id & (cap - 1);
}

static loom_err
done_alloc(loom__journal_done *d, size_t cap)
{
    d->slots = calloc(cap, sizeof *d->slots);
    d->used = calloc(cap, 1);
    if (d->slots == NULL || d->used == NULL) {
        free(d->slots);
        free(d->used);
        return LOOM_ENOMEM;
    }
    d->cap = cap;
    return LOOM_OK;
}

loom_err
loom__journal_done_create(loom__journal_done **out)
{
    loom__journal_done *d;

    LOOM_ASSERT(out != NULL);
    *out = NULL;
    d = calloc(1, sizeof *d);
    if (d == NULL)
        return LOOM_ENOMEM;
    if (done_alloc(d, 64) != LOOM_OK) {
        free(d);
        return LOOM_ENOMEM;
    }
    *out = d;
    return LOOM_OK;
}

void
loom__journal_done_destroy(loom__journal_done *d)
{
    if (d == NULL)
        return;
    free(d->slots);
    free(d->used);
    free(d);
}

static size_t
done_find(const loom__journal_done *d, uint64_t id, uint64_t hash, int *found)
{
    size_t i = done_slot(id, d->cap);

    while (d->used[i]) {
        if (d->slots[i].task_id == id && d->slots[i].def_hash == hash) {
            *found = 1;
            return i;
        }
        i = (i + 1) & (d->cap - 1);
    }
    *found = 0;
    return i;
}

static loom_err
done_grow(loom__journal_done *d)
{
    loom__journal_done old = *d;
    int found;

    if (done_alloc(d, old.cap * 2) != LOOM_OK) {
        *d = old;
        return LOOM_ENOMEM;
    }
    for (size_t i = 0; i < old.cap; i++) {
        if (old.used[i]) {
            size_t k = done_find(d, old.slots[i].task_id, old.slots[i].def_hash, &found);
            d->slots[k] = old.slots[i];
            d->used[k] = 1;
        }
    }
    free(old.slots);
    free(old.used);
    return LOOM_OK;
}

loom_err
loom__journal_done_add(loom__journal_done *d, const struct loom__journal_rec *rec)
{
    struct loom__journal_done_entry *e;
    size_t i;
    int found;

    LOOM_ASSERT(d != NULL && rec != NULL);
    i = done_find(d, rec->task_id, rec->def_hash, &found);
    if (!found) {
        if ((d->n + 1) * 2 > d->cap) {
            if (done_grow(d) != LOOM_OK)
                return LOOM_ENOMEM;
            i = done_find(d, rec->task_id, rec->def_hash, &found);
        }
        d->used[i] = 1;
        d->n++;
        d->slots[i] =
            (struct loom__journal_done_entry){.task_id = rec->task_id, .def_hash = rec->def_hash};
    }
    e = &d->slots[i];
    e->records++;
    if (loom__journal_rec_ok(rec) && e->successes++ == 0)
        d->succeeded++;
    if (rec->attempt > e->max_attempt)
        e->max_attempt = rec->attempt;
    e->last_status = rec->status;
    return LOOM_OK;
}

loom_err
loom__journal_done_cb(const struct loom__journal_rec *rec, uint64_t off, void *arg)
{
    (void)off;
    return loom__journal_done_add(arg, rec);
}

int
loom__journal_done_get(const loom__journal_done *d, uint64_t id, uint64_t hash,
                       struct loom__journal_done_entry *out)
{
    int found;
    size_t i = done_find(d, id, hash, &found);

    if (found && out != NULL)
        *out = d->slots[i];
    return found;
}

int
loom__journal_done_succeeded(const loom__journal_done *d, uint64_t id, uint64_t hash)
{
    struct loom__journal_done_entry e;

    return loom__journal_done_get(d, id, hash, &e) && e.successes > 0;
}

int
loom__journal_done_changed(const loom__journal_done *d, uint64_t id, uint64_t hash, uint64_t *other)
{
    for (size_t i = done_slot(id, d->cap); d->used[i]; i = (i + 1) & (d->cap - 1)) {
        if (d->slots[i].task_id == id && d->slots[i].def_hash != hash) {
            if (other != NULL)
                *other = d->slots[i].def_hash;
            return 1;
        }
    }
    return 0;
}

void
loom__journal_done_counts(const loom__journal_done *d, uint64_t *keys, uint64_t *succeeded)
{
    if (keys != NULL)
        *keys = d->n;
    if (succeeded != NULL)
        *succeeded = d->succeeded;
}
