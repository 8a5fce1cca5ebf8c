/* SPDX-License-Identifier: MIT */
/*
 * What loom-run's master shows: each task's output, whole, when it
 * finishes (--tag prefixes, the note of a cut at process.output_limit),
 * or with --keep-order held back until every task submitted before it is
 * out; and the progress line (redrawn in place on a terminal, else a
 * line every --progress-interval seconds).
 */
#include <errno.h>
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
    uint64_t seq;
    char *out, *err, *tag;
    size_t out_len, err_len, tag_len;
    uint64_t out_total, err_total;
};

/* ---- progress ------------------------------------------------------------------- */

void
lr_progress_clear(struct lr_run *run)
{
    if (run->drawn) {
        /* out now: stderr is line-buffered (main.c), and what follows may
         * go to stdout */
        fputs("\r\033[K", stderr);
        fflush(stderr);
        run->drawn = 0;
    }
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
    if (!run->o->quiet && (run->live || run->o->progress_interval > 0))
        run->next_tick = run->st.t0 + progress_every(run);
}

static void
progress_show(struct lr_run *run, double now)
{
    char line[256];
    lr_stats_progress(&run->st, now, run->outstanding, loom_job_threads(run->job), line,
                      sizeof line);
    if (run->live) {
        fprintf(stderr, "\r\033[K" PROG ": %s", line);
        run->drawn = 1;
    } else {
        fprintf(stderr, PROG ": progress: %s\n", line);
    }
    fflush(stderr);
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
 * "TAG<tab>" when tag is not NULL. */
static void
emit(FILE *fp, const char *data, size_t len, const char *tag, size_t tag_len)
{
    if (!tag) {
        fwrite(data, 1, len, fp);
        return;
    }
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(data + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - (data + i)) + 1 : len - i;
        fwrite(tag, 1, tag_len, fp);
        fputc('\t', fp);
        fwrite(data + i, 1, n, fp);
        i += n;
    }
    if (len && data[len - 1] != '\n')
        fputc('\n', fp);
}

/* Say a stream was cut at process.output_limit, on that stream. */
static void
say_truncated(FILE *fp, uint64_t seq, const char *name, const char *data, size_t len,
              uint64_t total, int tagged)
{
    if (total > len)
        fprintf(fp, "%s[loom-run: task %llu: %s truncated: %llu of %llu bytes kept]\n",
                len && data[len - 1] != '\n' && !tagged ? "\n" : "", (unsigned long long)seq, name,
                (unsigned long long)len, (unsigned long long)total);
}

static void
print_output(struct lr_run *run, const struct lr_output *t)
{
    const char *tag = run->o->tag ? t->tag : NULL;
    int was_drawn = run->drawn;
    lr_progress_clear(run);
    emit(stdout, t->out, t->out_len, tag, t->tag_len);
    say_truncated(stdout, t->seq, "stdout", t->out, t->out_len, t->out_total, tag != NULL);
    fflush(stdout);
    emit(stderr, t->err, t->err_len, tag, t->tag_len);
    say_truncated(stderr, t->seq, "stderr", t->err, t->err_len, t->err_total, tag != NULL);
    fflush(stderr);
    if (was_drawn) /* the live line back below the output at the next tick,
                    * now, once this task is counted */
        run->next_tick = run->st.t0;
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
    free(h->out);
    free(h->err);
    free(h->tag);
    free(h);
}

/* Hold a copy of t's output (when out of memory: said, run->trouble set). */
static void
hold(struct lr_run *run, const struct lr_output *t)
{
    struct lr_held *h = calloc(1, sizeof *h);
    if (h) {
        *h = (struct lr_held){run->held,
                              t->seq,
                              lr_dup_bytes(t->out, t->out_len),
                              lr_dup_bytes(t->err, t->err_len),
                              lr_dup_bytes(t->tag, t->tag_len),
                              t->out_len,
                              t->err_len,
                              t->tag_len,
                              t->out_total,
                              t->err_total};
        run->held = h;
    }
    if (!h || !h->out || !h->err || !h->tag) {
        fprintf(stderr, PROG ": out of memory holding task %llu's output\n",
                (unsigned long long)t->seq);
        run->trouble = 1;
    }
}

/* Print what is due, in submission order. */
static void
flush_in_order(struct lr_run *run)
{
    while (run->order_count) {
        uint64_t next = run->order[run->order_head];
        struct lr_held **pp = &run->held, *h = NULL;
        for (; *pp; pp = &(*pp)->next)
            if ((*pp)->seq == next) {
                h = *pp;
                *pp = h->next;
                break;
            }
        if (!h)
            return;
        struct lr_output t = {h->seq,     h->out,     h->err,       h->tag,      h->out_len,
                              h->err_len, h->tag_len, h->out_total, h->err_total};
        print_output(run, &t);
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
lr_output_take(struct lr_run *run, const struct lr_output *t, int final)
{
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
    free(run->order);
    for (struct lr_held *h = run->held, *next; h; h = next) {
        next = h->next;
        held_free(h);
    }
}
