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
} cap_set = {0, (size_t)256 << 20, OUT_PIECE_MAX};

void
lr_capture_config(const loom_config *cfg)
{
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
    lr_spool_init(&c->s[0], cap_set.limit);
    lr_spool_init(&c->s[1], cap_set.limit);
}

void
lr_capture_sink(void *arg, int stream, const void *data, size_t len)
{
    struct lr_capture *c = arg;
    (void)lr_spool_add(&c->s[stream == 2], data, len); /* a failure is in s->err */
}

void
lr_capture_free(struct lr_capture *c)
{
    lr_spool_free(&c->s[0]);
    lr_spool_free(&c->s[1]);
}

/* Put stream `stream` of s on q in pieces; the bytes sent (all, unless a
 * put or a read failed). */
static uint64_t
send_pieces(loom_queue *q, const struct run_rep *rep, int stream, const struct lr_spool *s,
            char *buf)
{
    struct out_piece h = {rep->seq, rep->attempt, (uint32_t)stream};
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
