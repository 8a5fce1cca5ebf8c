/* SPDX-License-Identifier: MIT */
/*
 * The master's side of OUT_QUEUE (loomrun.h): outputs too big for a
 * report come as pieces before it. One thread takes each piece as it
 * arrives (so the queue's few places free up and the worker goes on) and
 * appends it to its attempt's spools (memory, then an unlinked file in
 * $TMPDIR): memory stays bounded whatever the output's size. The report's
 * handler then waits for the bytes the report counts and takes them.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <loom.h>

#include "loomrun.h"

/* One attempt's pieces so far. */
struct entry {
    struct entry *next;
    uint64_t seq;
    uint32_t attempt;
    struct lr_spool s[2];
    uint64_t printed[2]; /* live bytes printed, a stream */
    int announced;       /* -t's line printed */
};

struct lr_pieces {
    lr_pieces_print_fn print; /* live pieces and -t's lines */
    void *print_arg;
    loom_job *job;
    loom_queue *q; /* the thread's */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct entry *list;
    int ended; /* the thread has stopped taking pieces */
};

/* The entry of (seq, attempt), made when absent (NULL: out of memory);
 * under p->mu. */
static struct entry *
entry_get(struct lr_pieces *p, uint64_t seq, uint32_t attempt, int make)
{
    for (struct entry *e = p->list; e; e = e->next)
        if (e->seq == seq && e->attempt == attempt)
            return e;
    struct entry *e = make ? calloc(1, sizeof *e) : NULL;
    if (e) {
        e->seq = seq;
        e->attempt = attempt;
        lr_spool_init(&e->s[0], 0);
        lr_spool_init(&e->s[1], 0);
        e->next = p->list;
        p->list = e;
    }
    return e;
}

static void *
drain(void *arg)
{
    struct lr_pieces *p = arg;
    loom_context_set_name("Output");
    void *data = NULL;
    size_t len = 0;
    while (loom_queue_get(p->q, &data, &len, LOOM_FOREVER) == LOOM_OK) {
        struct out_piece h;
        if (len >= sizeof h) {
            memcpy(&h, data, sizeof h);
            const char *bytes = (char *)data + sizeof h;
            int live = h.stream == LR_PIECE_LIVE_OUT || h.stream == LR_PIECE_LIVE_ERR;
            if (live || h.stream == LR_PIECE_VERBOSE) /* out now, outside p->mu */
                p->print(p->print_arg, h.stream, bytes, len - sizeof h);
            pthread_mutex_lock(&p->mu);
            struct entry *e = entry_get(p, h.seq, h.attempt, 1);
            if (e && live)
                e->printed[h.stream == LR_PIECE_LIVE_ERR] += len - sizeof h;
            else if (e && h.stream == LR_PIECE_VERBOSE)
                e->announced = 1;
            else if (e)
                (void)lr_spool_add(&e->s[h.stream == LR_PIECE_ERR], bytes,
                                   len - sizeof h); /* a failure: in s->err */
            pthread_cond_broadcast(&p->cv);
            pthread_mutex_unlock(&p->mu);
        }
        free(data);
        data = NULL;
    }
    pthread_mutex_lock(&p->mu);
    p->ended = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int
lr_pieces_start(loom_job *job, lr_pieces_print_fn print, void *print_arg, struct lr_pieces **out)
{
    struct lr_pieces *p = calloc(1, sizeof *p);
    *out = NULL;
    if (p) {
        p->print = print;
        p->print_arg = print_arg;
    }
    if (!p || loom_queue_open(job, OUT_QUEUE, OUT_QUEUE_CAP, &p->q) != LOOM_OK) {
        fprintf(stderr, PROG ": cannot open the output queue: %s\n",
                p ? loom_last_error() : "out of memory");
        free(p);
        return -1;
    }
    p->job = job;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (pthread_create(&p->thread, NULL, drain, p) != 0) {
        fprintf(stderr, PROG ": cannot start the output thread\n");
        loom_queue_release(p->q);
        free(p);
        return -1;
    }
    *out = p;
    return 0;
}

/* Everything w waits for is in: bytes of both streams spooled (counting a
 * failed spool as complete: its bytes were counted, not held) and
 * printed, and -t's line. */
static int
complete(const struct entry *e, const struct lr_pieces_want *w)
{
    static const struct entry none; /* nothing came (a live task that printed nothing) */
    if (!e)
        e = &none;
    return e->s[0].total >= w->out_len && e->s[1].total >= w->err_len &&
           e->printed[0] >= w->live_out && e->printed[1] >= w->live_err &&
           (e->announced || !w->announced);
}

int
lr_pieces_take(struct lr_pieces *p, uint64_t seq, uint32_t attempt, const struct lr_pieces_want *w,
               struct lr_spool *out, struct lr_spool *err)
{
    lr_spool_init(out, 0);
    lr_spool_init(err, 0);
    if (!p)
        return -1;
    pthread_mutex_lock(&p->mu);
    struct entry *e;
    while (!complete(e = entry_get(p, seq, attempt, 0), w) && !p->ended)
        pthread_cond_wait(&p->cv, &p->mu);
    if (e) {
        struct entry **pp = &p->list;
        while (*pp != e)
            pp = &(*pp)->next;
        *pp = e->next;
    }
    pthread_mutex_unlock(&p->mu);
    int rc = complete(e, w) ? 0 : -1;
    if (rc != 0)
        fprintf(stderr, PROG ": task %llu: its output stopped coming\n", (unsigned long long)seq);
    if (e) {
        *out = e->s[0];
        *err = e->s[1];
        free(e);
    }
    return rc;
}

void
lr_pieces_stop(struct lr_pieces *p)
{
    if (!p)
        return;
    /* on a handle of its own (the thread's is in use): the thread takes
     * what is left, then ends */
    loom_queue *q = NULL;
    if (loom_queue_open(p->job, OUT_QUEUE, 0, &q) != LOOM_OK || loom_queue_close(q) != LOOM_OK)
        fprintf(stderr, PROG ": cannot close the output queue: %s\n", loom_last_error());
    loom_queue_release(q);
    pthread_join(p->thread, NULL);
    loom_queue_release(p->q);
    for (struct entry *e = p->list, *next; e; e = next) {
        next = e->next;
        lr_spool_free(&e->s[0]);
        lr_spool_free(&e->s[1]);
        free(e);
    }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}
