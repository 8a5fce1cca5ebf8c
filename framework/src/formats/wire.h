/* SPDX-License-Identifier: MIT */
/*
 * The wire format between master and workers.
 *
 * One MPI message carries one frame: a header, then records. Every record
 * is (type, flags, length, body) and starts 8-byte aligned. Integers are in
 * the host's byte order: loom_job_start() has checked that every rank runs
 * the same binary. Nothing received is trusted: wire_next() checks every
 * record lies inside the frame, and each body parser checks the body's
 * exact size before a field is read.
 *
 * Checklist when adding a record type: the enum, its body struct, a parser
 * below, the handler in master_frames.c or worker.c, and tests/unit/test_wire.c.
 */
#ifndef LOOM_WIRE_H
#define LOOM_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "loom/error.h"

/* MPI tags on the job's private communicator: one per direction, so all
 * records from one rank to another stay in order (MPI non-overtaking). */
enum loom__tag {
    LOOM_TAG_UP = 0x4c01,   /* worker -> master */
    LOOM_TAG_DOWN = 0x4c02, /* master -> worker */
    LOOM_TAG_JOIN = 0x4c03, /* handshake with a joining job (join.c) */
};

#define WIRE_MAGIC   0x4d4f4f4cu /* "LOOM" */
#define WIRE_VERSION 3 /* 3: host in HELLO; slot, start, run time in RESULT; PING, joins */
/* The largest frame of all; `job.max_frame` may set a lower bound, which
 * both ends then hold to: the sender cuts its frames to it, the receiver
 * refuses a frame above it. */
#define WIRE_MAX_FRAME ((size_t)1 << 30) /* well below MPI's int count */
#define WIRE_HOST_MAX  255               /* bytes of a host name in HELLO */
/* Bytes a sender keeps free in every frame for the small control records
 * it may add after the data records (CREDIT, BYE, STOP, PING): data
 * records fill a frame up to its bound less this. */
#define WIRE_CONTROL_ROOM 64

enum wire_type {
    /* worker -> master */
    WIRE_HELLO = 1,  /* a worker is up: its threads and host */
    WIRE_CREDIT = 2, /* room for this many more tasks */
    WIRE_RESULT = 3, /* a task finished */
    WIRE_SUBMIT = 4, /* a task submitted a task */
    WIRE_QREQ = 5,   /* a named-queue request */
    WIRE_BYE = 6,    /* the worker has left serve() */
    /* master -> worker */
    WIRE_TASK = 10, /* run this */
    WIRE_QREP = 11, /* answer to a WIRE_QREQ */
    WIRE_STOP = 12, /* the job is over */
    WIRE_PING = 13, /* to a joined worker: the master is alive */
};

/* Task flags */
#define WIRE_TASK_CHUNK     1u /* payload packs many map inputs */
#define WIRE_TASK_ISOLATE   2u /* run in a child process (LOOM_TASK_ISOLATED) */
#define WIRE_TASK_IN_THREAD 4u /* run in a pool thread despite job.isolate */

struct wire_hello { /* + host (host_len bytes, no NUL) */
    uint32_t threads;
    int32_t pid;
    uint32_t host_len; /* 0..WIRE_HOST_MAX */
    uint32_t pad;
};

struct wire_credit {
    uint32_t credits;
};

/* The most tasks a worker may hold (queued, running, or granted and on
 * their way): a worker asks for no more, the master refuses credits that
 * would go past it. */
#define WIRE_CREDITS_MAX ((size_t)1 << 16)

/* STOP: the job is over; `lost` workers were declared lost in it (the
 * survivors then must not wait for them in MPI_Finalize) */
struct wire_stop {
    uint32_t lost;
};

struct wire_task { /* + payload */
    uint64_t id;
    uint32_t attempt;
    uint32_t fn;
    uint32_t flags;
    uint32_t len;
};

struct wire_result { /* + reply */
    uint64_t id;
    uint32_t attempt;
    int32_t status;
    uint32_t flags;
    uint32_t len;
    uint16_t cause;   /* loom_cause */
    uint16_t slot;    /* the pool thread that ran it, from 1 (pool.threads <= 4096) */
    int32_t code;     /* signal or exit code */
    int64_t start_ns; /* when it started: CLOCK_REALTIME, ns since the epoch */
    int64_t run_ns;   /* how long it ran (CLOCK_MONOTONIC): >= 0 */
};

struct wire_submit { /* + payload */
    uint32_t fn;
    uint32_t len;
};

struct wire_qreq { /* + name + data */
    uint64_t req;
    uint32_t op;
    int32_t timeout_ms;
    uint64_t capacity;
    uint32_t name_len;
    uint32_t data_len;
};

struct wire_qrep { /* + data */
    uint64_t req;
    uint32_t err;
    uint32_t len;
};

/* A frame being built. */
struct wire_buf {
    char *data;
    size_t len, cap;
    uint32_t nrec;
};

/* A frame being read. */
struct wire_reader {
    const char *data;
    size_t len, pos;
    uint32_t nrec, seen;
};

void wire_buf_reset(struct wire_buf *b);
void wire_buf_free(struct wire_buf *b);
/* Append a record whose body is hdr (hlen bytes) then tail (tlen bytes)
 * then tail2 (t2len bytes); any part may be empty. */
loom_err wire_put(struct wire_buf *b, enum wire_type type, const void *hdr, size_t hlen,
                  const void *tail, size_t tlen, const void *tail2, size_t t2len);
/* Reserve a record of blen body bytes and return where to write them. */
void *wire_reserve(struct wire_buf *b, enum wire_type type, size_t blen);
/* Append every record of src (a frame being built) to dst. */
loom_err wire_append(struct wire_buf *dst, const struct wire_buf *src);
/* Bytes a record of blen body bytes takes in a frame. */
size_t wire_record_size(size_t blen);
/* Bytes of a frame holding one record of blen body bytes. */
size_t wire_frame_size(size_t blen);
/* Whether a record of blen body bytes can join frame b without taking it
 * past max bytes. */
int wire_fits(const struct wire_buf *b, size_t blen, size_t max);
/* Move records of src (a frame being built), from byte *pos (0 at first)
 * on, to the end of dst while dst stays at most max bytes; an empty dst
 * takes at least one record, whatever its size. *pos moves past what was
 * moved. 1: records are left (dst is full: send it, reset it, call
 * again), 0: all moved, -1: no memory (nothing moved). */
int wire_move_upto(struct wire_buf *dst, const struct wire_buf *src, size_t *pos, size_t max);
/* Finish the frame: writes the header. Returns the frame length. */
size_t wire_finish(struct wire_buf *b);
static inline int
wire_empty(const struct wire_buf *b)
{
    return b->nrec == 0;
}

/* Open a received frame. LOOM_EPROTO if the header is bad. */
loom_err wire_open(struct wire_reader *r, const void *data, size_t len);
/* Next record: 1 and its type/body, 0 at the end, -1 if malformed. */
int wire_next(struct wire_reader *r, uint32_t *type, const char **body, size_t *blen);

/* Body parsers: fixed header copied out, variable parts pointed into the
 * body; LOOM_EPROTO unless sizes agree exactly. */
loom_err wire_get_hello(const char *body, size_t blen, struct wire_hello *h, const char **host);
loom_err wire_get_credit(const char *body, size_t blen, struct wire_credit *c);
loom_err wire_get_stop(const char *body, size_t blen, struct wire_stop *s);
loom_err wire_get_task(const char *body, size_t blen, struct wire_task *t, const char **payload);
loom_err wire_get_result(const char *body, size_t blen, struct wire_result *r, const char **reply);
loom_err wire_get_submit(const char *body, size_t blen, struct wire_submit *s,
                         const char **payload);
loom_err wire_get_qreq(const char *body, size_t blen, struct wire_qreq *q, const char **name,
                       const char **data);
loom_err wire_get_qrep(const char *body, size_t blen, struct wire_qrep *q, const char **data);
loom_err wire_get_empty(const char *body, size_t blen);

/* Map chunks: n inputs packed as [u32 n][u32 len x n][bytes...]; replies as
 * [u32 n][i32 status x n][u32 len x n][bytes...]. */
size_t wire_chunk_size(size_t n, const size_t *lens);
void wire_chunk_pack(char *out, size_t n, const void *const *items, const size_t *lens);
/* Validate a packed input chunk; on success *n and the offsets of the
 * lengths table and the data. */
loom_err wire_chunk_open(const char *p, size_t len, uint32_t *n, const char **lens,
                         const char **data);
loom_err wire_chunk_reply_open(const char *p, size_t len, uint32_t *n, const char **status,
                               const char **lens, const char **data);

#endif
