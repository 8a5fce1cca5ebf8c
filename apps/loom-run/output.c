/* SPDX-License-Identifier: MIT */
/*
 * What loom-run's master shows: each task's output, whole, when it
 * finishes (its stdout, then its stderr, with --tag prefixes), or with
 * --keep-order held back until every task submitted before it is out; a
 * cut at process.output_limit said on stderr (never inside the data); and
 * the progress line (redrawn in place on a terminal, else a line every
 * --progress-interval seconds). Outputs are spools (spool.h): a big one
 * is copied from its file in bounded pieces.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <loom.h>

#include "loomrun.h"

/* --keep-order: a finished task's output waits here until every task
 * submitted before it has been printed. */
struct lr_held {
    struct lr_held *next;
    struct lr_output t; /* its spools and tag are the held one's own */
};

/* What prints (task output, the progress line) holds this: the pieces'
 * thread prints live output and -t's lines while the master's prints the
 * rest. */
static pthread_mutex_t print_mu = PTHREAD_MUTEX_INITIALIZER;

/* ---- progress ------------------------------------------------------------------- */

/* lr_progress_clear, under print_mu. */
static void
clear_locked(struct lr_run *run)
{
    if (run->drawn) {
        /* out now: stderr is line-buffered (main.c), and what follows may
         * go to stdout */
        fputs("\r\033[K", stderr);
        fflush(stderr);
        run->drawn = 0;
    }
}

void
lr_progress_clear(struct lr_run *run)
{
    pthread_mutex_lock(&print_mu);
    clear_locked(run);
    pthread_mutex_unlock(&print_mu);
}

/* lr_pieces_print_fn: a piece printed as it comes, on the pieces' thread
 * (arg: the run). */
static void
print_live(void *arg, uint32_t stream, const char *data, size_t len)
{
    FILE *fp = stream == LR_PIECE_LIVE_OUT ? stdout : stderr;
    pthread_mutex_lock(&print_mu);
    clear_locked(arg);
    fwrite(data, 1, len, fp);
    fflush(fp);
    pthread_mutex_unlock(&print_mu);
}

/* Seconds between two progress lines. */
static double
progress_every(const struct lr_run *run)
{
    return run->live ? 0.2 : run->o->progress_interval;
}

void
lr_output_start(struct lr_run *run)
{
    fflush(stdout);
    if (lr_launcher_one_stream() && dup2(STDOUT_FILENO, STDERR_FILENO) < 0)
        fprintf(stderr, PROG ": cannot merge stderr into stdout: %s\n", strerror(errno));
    if (lr_pieces_start(run->job, print_live, run, &run->pieces) != 0)
        run->trouble = 1; /* big outputs cannot come: said */
    if (!run->o->quiet && (run->live || run->o->progress_interval > 0))
        run->next_tick = run->st.t0 + progress_every(run);
}

static void
progress_show(struct lr_run *run, double now)
{
    char line[256];
    lr_stats_progress(&run->st, now, run->outstanding, loom_job_threads(run->job), line,
                      sizeof line);
    pthread_mutex_lock(&print_mu);
    if (run->live) {
        fprintf(stderr, "\r\033[K" PROG ": %s", line);
        run->drawn = 1;
    } else {
        fprintf(stderr, PROG ": progress: %s\n", line);
    }
    fflush(stderr);
    pthread_mutex_unlock(&print_mu);
}

int
lr_progress_tick(struct lr_run *run)
{
    if (run->o->quiet || run->next_tick <= 0)
        return LOOM_FOREVER;
    double now = lr_seconds(CLOCK_MONOTONIC);
    if (now >= run->next_tick) {
        progress_show(run, now);
        run->next_tick = now + progress_every(run);
    }
    double ms = (run->next_tick - now) * 1000.0;
    return ms < 1 ? 1 : (int)ms;
}

/* ---- a task's output -------------------------------------------------------------- */

/* Write len bytes of a task's output to fp, each line prefixed with
 * "TAG<tab>" when tag is not NULL; *bol: the next byte starts a line. */
static void
emit(FILE *fp, const char *data, size_t len, const char *tag, size_t tag_len, int *bol)
{
    if (!tag) {
        fwrite(data, 1, len, fp);
        return;
    }
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(data + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - (data + i)) + 1 : len - i;
        if (*bol) {
            fwrite(tag, 1, tag_len, fp);
            fputc('\t', fp);
        }
        fwrite(data + i, 1, n, fp);
        *bol = nl != NULL;
        i += n;
    }
}

/* Write a stream of a task's output (emit), read from its spool in
 * bounded pieces; a tagged last line gets its newline. */
static void
emit_spool(struct lr_run *run, FILE *fp, const struct lr_spool *s, const char *tag, size_t tag_len,
           uint64_t seq)
{
    static char buf[65536];
    int bol = 1;
    for (uint64_t off = 0; off < s->len;) {
        ssize_t n = lr_spool_read(s, off, buf, sizeof buf);
        if (n <= 0) {
            fprintf(stderr, PROG ": task %llu: reading its spooled output: %s\n",
                    (unsigned long long)seq, n == 0 ? "short file" : strerror(errno));
            run->trouble = 1;
            break;
        }
        emit(fp, buf, (size_t)n, tag, tag_len, &bol);
        off += (uint64_t)n;
    }
    if (tag && !bol)
        fputc('\n', fp);
}

static void
print_output(struct lr_run *run, const struct lr_output *t)
{
    const char *tag = run->o->tag ? t->tag : NULL;
    pthread_mutex_lock(&print_mu);
    int was_drawn = run->drawn;
    clear_locked(run);
    emit_spool(run, stdout, &t->out, tag, t->tag_len, t->seq);
    fflush(stdout);
    emit_spool(run, stderr, &t->err, tag, t->tag_len, t->seq);
    fflush(stderr);
    pthread_mutex_unlock(&print_mu);
    if (was_drawn) /* the live line back below the output at the next tick,
                    * now, once this task is counted */
        run->next_tick = run->st.t0;
}

/* A final attempt's output was not all kept: say so on stderr, outside
 * the data, and count it for the summary. */
static void
say_cut(struct lr_run *run, const struct lr_output *t)
{
    static const char *const names[] = {"stdout", "stderr"};
    const struct lr_spool *s[] = {&t->out, &t->err};
    int cut = 0;
    for (int i = 0; i < 2; i++) {
        if (s[i]->total <= s[i]->len)
            continue;
        lr_progress_clear(run);
        if (t->lost_errno)
            fprintf(stderr, PROG ": task %llu: %s: %llu of %llu bytes lost: %s\n",
                    (unsigned long long)t->seq, names[i],
                    (unsigned long long)(s[i]->total - s[i]->len), (unsigned long long)s[i]->total,
                    strerror(t->lost_errno));
        else
            fprintf(stderr,
                    PROG ": task %llu: %s cut at %llu of %llu bytes (process.output_limit)\n",
                    (unsigned long long)t->seq, names[i], (unsigned long long)s[i]->len,
                    (unsigned long long)s[i]->total);
        cut = 1;
    }
    if (cut && t->lost_errno)
        run->trouble = 1;
    else if (cut)
        lr_stats_cut(&run->st, t->out.total > t->out.len ? t->out.len : t->err.len);
}

/* ---- --keep-order ------------------------------------------------------------------ */

int
lr_order_push(struct lr_run *run, uint64_t seq)
{
    if (run->order_count == run->order_cap) {
        size_t cap = run->order_cap ? run->order_cap * 2 : 1024;
        uint64_t *a = malloc(cap * sizeof *a);
        if (!a)
            return -1;
        for (size_t i = 0; i < run->order_count; i++)
            a[i] = run->order[(run->order_head + i) % run->order_cap];
        free(run->order);
        run->order = a;
        run->order_cap = cap;
        run->order_head = 0;
    }
    run->order[(run->order_head + run->order_count++) % run->order_cap] = seq;
    return 0;
}

static void
held_free(struct lr_held *h)
{
    lr_spool_free(&h->t.out);
    lr_spool_free(&h->t.err);
    free((char *)h->t.tag);
    free(h);
}

/* Hold t's output, taking its spools (t keeps empty ones); when out of
 * memory: said, run->trouble set. */
static void
hold(struct lr_run *run, struct lr_output *t)
{
    struct lr_held *h = calloc(1, sizeof *h);
    char *tag = h ? lr_dup_bytes(t->tag, t->tag_len) : NULL;
    if (!h || !tag || lr_spool_own(&t->out) != 0 || lr_spool_own(&t->err) != 0) {
        free(h);
        free(tag);
        fprintf(stderr, PROG ": out of memory holding task %llu's output\n",
                (unsigned long long)t->seq);
        run->trouble = 1;
        return;
    }
    h->t = *t;
    h->t.tag = tag;
    h->next = run->held;
    run->held = h;
    lr_spool_init(&t->out, 0);
    lr_spool_init(&t->err, 0);
}

/* Print what is due, in submission order. */
static void
flush_in_order(struct lr_run *run)
{
    while (run->order_count) {
        uint64_t next = run->order[run->order_head];
        struct lr_held **pp = &run->held, *h = NULL;
        for (; *pp; pp = &(*pp)->next)
            if ((*pp)->t.seq == next) {
                h = *pp;
                *pp = h->next;
                break;
            }
        if (!h)
            return;
        print_output(run, &h->t);
        held_free(h);
        run->order_head = (run->order_head + 1) % run->order_cap;
        run->order_count--;
    }
}

void
lr_order_forget(struct lr_run *run, uint64_t seq)
{
    for (size_t i = 0; i < run->order_count; i++) {
        size_t at = (run->order_head + i) % run->order_cap;
        if (run->order[at] != seq)
            continue;
        for (size_t j = i; j > 0; j--)
            run->order[(run->order_head + j) % run->order_cap] =
                run->order[(run->order_head + j - 1) % run->order_cap];
        run->order_head = (run->order_head + 1) % run->order_cap;
        run->order_count--;
        break;
    }
    flush_in_order(run);
}

void
lr_output_take(struct lr_run *run, struct lr_output *t, int final)
{
    if (t->live)
        return; /* printed as it came */
    if (final)
        say_cut(run, t);
    if (!run->o->keep_order) {
        print_output(run, t);
    } else if (final) {
        hold(run, t);
        flush_in_order(run);
    }
}

void
lr_output_free(struct lr_run *run)
{
    lr_pieces_stop(run->pieces);
    run->pieces = NULL;
    free(run->order);
    for (struct lr_held *h = run->held, *next; h; h = next) {
        next = h->next;
        held_free(h);
    }
}
