/* SPDX-License-Identifier: MIT */
/*
 * A command's output on the worker (loomrun.h, capture.c): both streams
 * spooled as they are read (spool.h: memory, then an unlinked file in
 * $TMPDIR), so an output of any size costs bounded memory; then sent to
 * the master, in the report when the whole fits LR_SPOOL_MEM, else before
 * the report as pieces of at most OUT_PIECE_MAX bytes (and within
 * job.max_payload) on OUT_QUEUE, whose capacity holds the worker back
 * while the master writes. process.output_limit caps a stream only when
 * the user set it: the rest is counted, and the master says so.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <loom.h>

#include "loomrun.h"

static struct {
    uint64_t limit;    /* bytes kept a stream; 0: all */
    size_t max_report; /* job.max_payload */
    size_t piece;      /* bytes of output a piece carries */
    int live;          /* lr_opts.live */
    int keep;          /* live output is spooled too (--results) */
} cap_set = {0, (size_t)256 << 20, OUT_PIECE_MAX, LR_LIVE_NONE, 0};

void
lr_capture_config(const loom_config *cfg, const struct lr_opts *o)
{
    cap_set.live = o->live;
    cap_set.keep = o->results != NULL;
    int64_t v = 0;
    const char *origin = loom_config_origin(cfg, "process.output_limit");
    if (origin && strcmp(origin, "default") != 0 &&
        loom_config_get_int(cfg, "process.output_limit", &v) == LOOM_OK && v > 0)
        cap_set.limit = (uint64_t)v;
    if (loom_config_get_int(cfg, "job.max_payload", &v) == LOOM_OK && v > 0) {
        cap_set.max_report = (size_t)v;
        size_t room =
            (size_t)v > sizeof(struct out_piece) ? (size_t)v - sizeof(struct out_piece) : 0;
        cap_set.piece = room < OUT_PIECE_MAX ? room : OUT_PIECE_MAX;
    }
}

void
lr_capture_init(struct lr_capture *c)
{
    *c = (struct lr_capture){.live = LR_LIVE_NONE};
    lr_spool_init(&c->s[0], cap_set.limit);
    lr_spool_init(&c->s[1], cap_set.limit);
}

int
lr_capture_live(struct lr_capture *c, loom_task *task, uint64_t seq, uint32_t attempt,
                const char *tag, size_t tag_len)
{
    if (cap_set.live == LR_LIVE_NONE || cap_set.piece == 0)
        return 0;
    c->piece = malloc(sizeof(struct out_piece) + cap_set.piece);
    c->part[0] = cap_set.live == LR_LIVE_LINES ? malloc(cap_set.piece) : NULL;
    c->part[1] = cap_set.live == LR_LIVE_LINES ? malloc(cap_set.piece) : NULL;
    if (!c->piece || (cap_set.live == LR_LIVE_LINES && (!c->part[0] || !c->part[1])) ||
        loom_queue_open(loom_task_job(task), OUT_QUEUE, OUT_QUEUE_CAP, &c->q) != LOOM_OK) {
        lr_capture_free(c);
        lr_capture_init(c);
        return -1;
    }
    c->live = cap_set.live;
    c->keep = cap_set.keep;
    c->seq = seq;
    c->attempt = attempt;
    c->tag = cap_set.live == LR_LIVE_LINES ? tag : NULL;
    c->tag_len = tag_len;
    return 0;
}

/* Send the live piece being filled of stream (1, 2), if it holds bytes. */
static void
piece_send(struct lr_capture *c, int stream)
{
    if (!c->piece_len)
        return;
    struct out_piece h = {c->seq, c->attempt, stream == 2 ? LR_PIECE_LIVE_ERR : LR_PIECE_LIVE_OUT};
    memcpy(c->piece, &h, sizeof h);
    if (!c->lost) {
        loom_err rc = loom_queue_put(c->q, c->piece, sizeof h + c->piece_len, LOOM_FOREVER);
        if (rc == LOOM_OK)
            c->sent[stream == 2] += c->piece_len;
        else
            c->lost = rc == LOOM_ENOMEM ? ENOMEM : EPIPE;
    }
    c->piece_len = 0;
}

/* Append n bytes to the live piece of stream, sent whenever it is full. */
static void
piece_add(struct lr_capture *c, int stream, const char *p, size_t n)
{
    while (n) {
        size_t room = cap_set.piece - c->piece_len, k = n < room ? n : room;
        memcpy(c->piece + sizeof(struct out_piece) + c->piece_len, p, k);
        c->piece_len += k;
        p += k;
        n -= k;
        if (c->piece_len == cap_set.piece)
            piece_send(c, stream);
    }
}

/* A line's bytes, the tag before its start; ends: they end it. A whole
 * line starts a new piece rather than straddle two. */
static void
line_add(struct lr_capture *c, int stream, const char *p, size_t n, int ends)
{
    int i = stream == 2;
    size_t need = (c->mid[i] || !c->tag ? 0 : c->tag_len + 1) + c->part_len[i] + n;
    if (ends && c->piece_len && c->piece_len + need > cap_set.piece)
        piece_send(c, stream);
    if (!c->mid[i] && c->tag) {
        piece_add(c, stream, c->tag, c->tag_len);
        piece_add(c, stream, "\t", 1);
    }
    piece_add(c, stream, c->part[i], c->part_len[i]);
    c->part_len[i] = 0;
    piece_add(c, stream, p, n);
    c->mid[i] = !ends;
}

/* Live output: as it comes (LR_LIVE_RAW), or the lines it ends, a line's
 * start kept until its end (a line longer than a piece goes in parts). */
static void
live_sink(struct lr_capture *c, int stream, const char *data, size_t len)
{
    int i = stream == 2;
    while (c->live == LR_LIVE_LINES && len) {
        const char *nl = memchr(data, '\n', len);
        size_t n = nl ? (size_t)(nl - data) + 1 : len;
        if (nl) {
            line_add(c, stream, data, n, 1);
        } else {
            size_t room = cap_set.piece - c->part_len[i];
            n = n < room ? n : room;
            memcpy(c->part[i] + c->part_len[i], data, n);
            c->part_len[i] += n;
            if (c->part_len[i] == cap_set.piece)
                line_add(c, stream, "", 0, 0);
        }
        data += n;
        len -= n;
    }
    if (c->live == LR_LIVE_RAW)
        piece_add(c, stream, data, len);
    piece_send(c, stream);
}

/* The end of live output: a last line without its newline goes (tagged
 * lines get one, as whole outputs do). */
static void
live_end(struct lr_capture *c, struct run_rep *rep)
{
    for (int stream = 1; stream <= 2; stream++) {
        int i = stream - 1;
        if (c->part_len[i] || c->mid[i]) {
            line_add(c, stream, c->tag ? "\n" : "", c->tag ? 1 : 0, 1);
            piece_send(c, stream);
        }
    }
    rep->live = 1;
    rep->live_out = c->sent[0];
    rep->live_err = c->sent[1];
    if (c->lost && !rep->lost_errno)
        rep->lost_errno = c->lost;
}

void
lr_capture_sink(void *arg, int stream, const void *data, size_t len)
{
    struct lr_capture *c = arg;
    if (c->live != LR_LIVE_NONE) {
        live_sink(c, stream, data, len);
        if (!c->keep) { /* counted only: the job log's size */
            c->s[stream == 2].total += len;
            return;
        }
    }
    (void)lr_spool_add(&c->s[stream == 2], data, len); /* a failure is in s->err */
}

void
lr_capture_free(struct lr_capture *c)
{
    lr_spool_free(&c->s[0]);
    lr_spool_free(&c->s[1]);
    if (c->q)
        loom_queue_release(c->q);
    c->q = NULL;
    free(c->piece);
    free(c->part[0]);
    free(c->part[1]);
    c->piece = c->part[0] = c->part[1] = NULL;
}

int
lr_capture_announce(loom_task *task, uint64_t seq, uint32_t attempt, const char *cmd, size_t len)
{
    struct out_piece h = {seq, attempt, LR_PIECE_VERBOSE};
    loom_queue *q = NULL;
    if (len > cap_set.piece - 1 || cap_set.piece == 0)
        return 0; /* a command over a piece is not shown */
    char *buf = malloc(sizeof h + len + 1);
    if (!buf || loom_queue_open(loom_task_job(task), OUT_QUEUE, OUT_QUEUE_CAP, &q) != LOOM_OK) {
        free(buf);
        return 0;
    }
    memcpy(buf, &h, sizeof h);
    memcpy(buf + sizeof h, cmd, len);
    buf[sizeof h + len] = '\n';
    int sent = loom_queue_put(q, buf, sizeof h + len + 1, LOOM_FOREVER) == LOOM_OK;
    loom_queue_release(q);
    free(buf);
    return sent;
}

/* Put stream `stream` of s on q in pieces; the bytes sent (all, unless a
 * put or a read failed). */
static uint64_t
send_pieces(loom_queue *q, const struct run_rep *rep, int stream, const struct lr_spool *s,
            char *buf)
{
    struct out_piece h = {rep->seq, rep->attempt,
                          (uint32_t)(stream == 2 ? LR_PIECE_ERR : LR_PIECE_OUT)};
    memcpy(buf, &h, sizeof h);
    uint64_t off = 0;
    while (off < s->len) {
        ssize_t n = lr_spool_read(s, off, buf + sizeof h, cap_set.piece);
        if (n <= 0 || loom_queue_put(q, buf, sizeof h + (size_t)n, LOOM_FOREVER) != LOOM_OK)
            break;
        off += (uint64_t)n;
    }
    return off;
}

/* The output as pieces on OUT_QUEUE; fills rep's kept bytes. 0, or -1
 * when the queue could not be opened or nothing could be allocated. */
static int
pipe_output(loom_task *task, struct run_rep *rep, const struct lr_capture *c)
{
    loom_queue *q = NULL;
    char *buf = malloc(sizeof(struct out_piece) + cap_set.piece);
    if (!buf || loom_queue_open(loom_task_job(task), OUT_QUEUE, OUT_QUEUE_CAP, &q) != LOOM_OK) {
        free(buf);
        return -1;
    }
    rep->piped = 1;
    rep->out_kept = send_pieces(q, rep, 1, &c->s[0], buf);
    if (rep->out_kept == c->s[0].len)
        rep->err_kept = send_pieces(q, rep, 2, &c->s[1], buf);
    loom_queue_release(q);
    free(buf);
    return 0;
}

int
lr_capture_send(loom_task *task, struct run_rep *rep, const char *cmd, const char *tag,
                struct lr_capture *c)
{
    const struct lr_spool *o = &c->s[0], *e = &c->s[1];
    rep->out_total = o->total;
    rep->err_total = e->total;
    rep->lost_errno = o->err ? o->err : e->err;
    if (c->live != LR_LIVE_NONE)
        live_end(c, rep);
    size_t head = sizeof *rep + rep->cmd_len + rep->tag_len;
    int small = o->fd < 0 && e->fd < 0 && head + o->len + e->len <= cap_set.max_report;
    if (rep->outcome == REP_RAN && !small && cap_set.piece > 0 && pipe_output(task, rep, c) != 0)
        rep->lost_errno = ENOMEM;
    if (!rep->piped && small) {
        rep->out_len = rep->out_kept = o->len;
        rep->err_len = rep->err_kept = e->len;
    }
    size_t total = head + rep->out_len + rep->err_len;
    char *buf = malloc(total);
    if (!buf)
        return 1;
    char *q = buf;
    memcpy(q, rep, sizeof *rep);
    q += sizeof *rep;
    memcpy(q, cmd, rep->cmd_len);
    q += rep->cmd_len;
    memcpy(q, tag, rep->tag_len);
    q += rep->tag_len;
    if (rep->out_len)
        memcpy(q, o->mem, rep->out_len);
    q += rep->out_len;
    if (rep->err_len)
        memcpy(q, e->mem, rep->err_len);
    int status = loom_task_reply(task, buf, total) == LOOM_OK ? 0 : 1;
    free(buf);
    return status;
}
