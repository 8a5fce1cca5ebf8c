/* SPDX-License-Identifier: MIT */
/*
 * loom-run's master (rank 0): reads the task file as a stream (counted and
 * checked first when it is a regular file), skips what --resume says is
 * done, submits each task as it reads, and handles every attempt that
 * comes back: its output (output.c), --results and the job log, the
 * --events/--report line, a retry on another worker, the --halt policy;
 * then the summary and the exit status.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <loom.h>

#include "loomrun.h"
#include "taskfile.h"

/* ---- submitting and stopping ---------------------------------------------------- */

/* What a task's command reads on its standard input (--pipe's block). */
struct stdin_block {
    const char *data;
    size_t len;
};

/* The task's timeout in ms (0: none): --timeout's, or with --timeout P%
 * P% of the median runtime of the attempts that succeeded so far (none
 * before the first; at least 1 ms). */
static int
timeout_ms(const struct lr_run *run)
{
    double m = lr_median_get(&run->median), pct = run->o->timeout_pct;
    if (pct > 0 && m < 0)
        return 0;
    double s = pct > 0 ? m * pct / 100 : run->o->timeout;
    if (s <= 0)
        return 0;
    return s * 1000 < 1 ? 1 : s * 1000 > 2e9 ? 2000000000 : (int)(s * 1000);
}

static loom_err
submit(struct lr_run *run, uint64_t seq, unsigned attempt, const char *cmd, size_t len,
       const char *tag, size_t tag_len, const struct stdin_block *in, int avoid_rank, int timeout)
{
    size_t in_len = in ? in->len : 0;
    struct run_req req = {seq, attempt, timeout_ms(run), len, in_len};
    char *buf = malloc(sizeof req + len + tag_len + in_len);
    if (!buf)
        return LOOM_ENOMEM;
    memcpy(buf, &req, sizeof req);
    memcpy(buf + sizeof req, cmd, len);
    memcpy(buf + sizeof req + len, tag, tag_len);
    if (in_len)
        memcpy(buf + sizeof req + len + tag_len, in->data, in_len);
    loom_err rc = loom_job_submit_avoiding(run->job, "sh", buf, sizeof req + len + tag_len + in_len,
                                           avoid_rank, timeout, NULL);
    free(buf);
    if (rc == LOOM_OK)
        run->outstanding++;
    return rc;
}

/* The --halt policy says stop (or storing failed): tell every worker,
 * through its own queue "loom-run.halt.<rank>" (a shared queue would let
 * one worker take another's word). "now" may follow "soon". */
static void
halt(struct lr_run *run, int how, const char *why)
{
    if (run->halted >= how)
        return;
    run->halted = how;
    lr_stats_stopped(&run->st, why); /* the summary names the cause */
    if (!run->o->quiet) {
        lr_progress_clear(run);
        fprintf(stderr, PROG ": %s: %s\n", why,
                how == LR_HALT_NOW ? "killing the running tasks, starting no more"
                                   : "starting no more tasks, waiting for the running ones");
    }
    const char *word = how == LR_HALT_NOW ? "now" : "soon";
    for (int r = 1; r < loom_job_size(run->job); r++) {
        loom_queue *q = NULL;
        if (lr_halt_queue_open(run->job, r, &q) != LOOM_OK ||
            loom_queue_put(q, word, strlen(word), LOOM_FOREVER) != LOOM_OK)
            fprintf(stderr, PROG ": could not tell worker %d to stop\n", r);
        loom_queue_release(q);
    }
}

/* ---- one attempt back ------------------------------------------------------------- */

/* Store an attempt: --results (the final one), then the job log. 0, or -1 when it
 * could not be recorded (said; the run then stops: 102). */
static int
record(struct lr_run *run, const struct run_rep *rep, const loom_result *res, const char *cmd,
       const struct lr_output *shown, int final)
{
    char msg[PATH_MAX + 256];
    if (run->res && final) {
        struct lr_result_rec rec = {.seq = rep->seq,
                                    .attempt = rep->attempt,
                                    .exitval = rep->exitval,
                                    .signal = rep->signal,
                                    .timed_out = rep->timed_out,
                                    .rank = res->rank,
                                    .host = res->host,
                                    .start = rep->start,
                                    .runtime = rep->runtime,
                                    .cmd = cmd,
                                    .cmd_len = rep->cmd_len,
                                    .out_total = rep->out_total,
                                    .err_total = rep->err_total,
                                    .out_sp = &shown->out,
                                    .err_sp = &shown->err};
        if (lr_results_write(run->res, &rec, msg, sizeof msg) != 0)
            goto fail;
    }
    if (run->log) {
        char *command = lr_dup_bytes(cmd, rep->cmd_len);
        struct lr_joblog_entry e = {rep->seq,       res->host,    rep->start,  rep->runtime, 0,
                                    rep->out_total, rep->exitval, rep->signal, command,      0};
        int rc = command ? lr_joblog_write(run->log, &e) : -1;
        int saved = command ? errno : ENOMEM;
        free(command);
        if (rc != 0) {
            snprintf(msg, sizeof msg, "writing the job log: %s", strerror(saved));
            goto fail;
        }
    }
    return 0;
fail:
    lr_progress_clear(run);
    fprintf(stderr, PROG ": task %llu: %s\n", (unsigned long long)rep->seq, msg);
    run->trouble = 1;
    halt(run, LR_HALT_SOON, "a result could not be recorded");
    return -1;
}

/* --events and --report (the job's, loom/events.h): one attempt, any
 * outcome, as loom-run sees it — its line number, its command, the
 * command's exit status — not as the job does (the "sh" task that ran it
 * succeeded). */
static void
observe(struct lr_run *run, const struct run_rep *rep, const loom_result *res, const char *cmd,
        int final)
{
    loom_outcome oc = rep->outcome == REP_NOT_RUN             ? LOOM_OUTCOME_NOT_RUN
                      : rep->outcome == REP_KILLED            ? LOOM_OUTCOME_KILLED
                      : rep->timed_out                        ? LOOM_OUTCOME_TIMEOUT
                      : rep->exitval == 0 && rep->signal == 0 ? LOOM_OUTCOME_OK
                                                              : LOOM_OUTCOME_FAILED;
    int ran = oc != LOOM_OUTCOME_NOT_RUN;
    /* cause left 0: a failed command's is its signal, else its exit status */
    loom_attempt a = {.seq = rep->seq,
                      .attempt = rep->attempt,
                      .host = ran ? res->host : "",
                      .rank = ran ? res->rank : 0,
                      .slot = ran ? res->slot : 0,
                      .start_ns = (int64_t)(rep->start * 1e9),
                      .run_ns = (int64_t)(rep->runtime * 1e9),
                      .exit = rep->exitval,
                      .signal = rep->signal,
                      .timed_out = rep->timed_out,
                      .outcome = oc,
                      .final = final,
                      .label = cmd,
                      .label_len = ran && cmd ? rep->cmd_len : 0};
    loom_err rc = loom_job_record_attempt(run->job, &a);
    if (rc != LOOM_OK && rc != LOOM_ENOMEM) /* out of memory: the line is lost, the run goes on */
        fprintf(stderr, PROG ": recording task %llu: %s\n", (unsigned long long)rep->seq,
                loom_last_error());
}

/* An attempt's output: the report's bytes (out, err), or the pieces that
 * came before it on OUT_QUEUE (a failure to get them is said: exit 102). */
static void
take_output(struct lr_run *run, const struct run_rep *rep, const char *out, const char *err,
            const char *tag, struct lr_output *shown)
{
    *shown = (struct lr_output){.seq = rep->seq, .tag = tag, .tag_len = rep->tag_len};
    lr_spool_init(&shown->out, 0); /* fd -1: freeing it must not close fd 0 */
    lr_spool_init(&shown->err, 0);
    shown->lost_errno = rep->lost_errno;
    shown->live = rep->live;
    if (rep->piped || rep->announced || rep->live) {
        /* what came first on OUT_QUEUE is in (printed, or spooled) */
        struct lr_pieces_want w = {rep->piped ? rep->out_kept : 0, rep->piped ? rep->err_kept : 0,
                                   rep->live_out, rep->live_err, rep->announced};
        if (lr_pieces_take(run->pieces, rep->seq, rep->attempt, &w, &shown->out, &shown->err) != 0)
            run->trouble = 1;
    }
    if (!rep->piped) {
        lr_spool_free(&shown->out); /* empty */
        lr_spool_free(&shown->err);
        lr_spool_wrap(&shown->out, out, rep->out_len);
        lr_spool_wrap(&shown->err, err, rep->err_len);
    }
    shown->out.total = rep->out_total;
    shown->err.total = rep->err_total;
}

/* Handle one finished attempt: output, results, job log, retry, halt. */
static void
finish_one(struct lr_run *run, const loom_result *res)
{
    struct run_rep rep;
    run->outstanding--;
    if (res->status != 0 || res->len < sizeof rep) {
        /* no report: the task's worker was lost and none is left (status
         * -1), or it could not send one; --resume runs it */
        if (!run->st.unrecorded++) {
            lr_progress_clear(run);
            fprintf(stderr, PROG ": a task came back without a report (status %d: %s)\n",
                    res->status, res->status == -1 ? "no worker left to run it" : "worker error");
        }
        run->trouble = 1;
        return;
    }
    memcpy(&rep, res->data, sizeof rep);
    if (rep.outcome == REP_NOT_RUN) {
        observe(run, &rep, res, NULL, 1);
        run->st.not_run++;
        lr_order_forget(run, rep.seq);
        return;
    }
    const char *cmd = (const char *)res->data + sizeof rep;
    const char *tag = cmd + rep.cmd_len;
    const char *out = tag + rep.tag_len, *err = out + rep.out_len;
    if (rep.cmd_len > res->len || rep.tag_len > res->len || rep.out_len > res->len ||
        rep.err_len > res->len ||
        sizeof rep + rep.cmd_len + rep.tag_len + rep.out_len + rep.err_len != res->len) {
        fprintf(stderr, PROG ": a malformed report for task %llu\n", (unsigned long long)rep.seq);
        run->trouble = 1;
        return;
    }
    if (rep.outcome == REP_KILLED) {
        struct lr_output shown; /* what it printed live is out: not held */
        take_output(run, &rep, out, err, tag, &shown);
        lr_spool_free(&shown.out);
        lr_spool_free(&shown.err);
        observe(run, &rep, res, cmd, 1);
        run->st.killed++;
        lr_order_forget(run, rep.seq);
        return;
    }
    int ok = rep.exitval == 0 && rep.signal == 0;
    int final = ok || (int)rep.attempt > run->o->retries || run->halted;
    if (ok)
        lr_median_add(&run->median, rep.runtime); /* --timeout P% */
    observe(run, &rep, res, cmd, final);
    struct lr_output shown;
    take_output(run, &rep, out, err, tag, &shown);
    /* the job log has every attempt (as GNU's, with --retries); --results
     * the final one */
    int recorded = record(run, &rep, res, cmd, &shown, final) == 0;
    /* the task's output, whole: now, or (--keep-order) the final attempt's
     * once every earlier task's is out */
    lr_output_take(run, &shown, final);
    lr_spool_free(&shown.out);
    lr_spool_free(&shown.err);
    if (rep.spawn_errno) {
        lr_progress_clear(run);
        fprintf(stderr, PROG ": task %llu: could not start: %s\n", (unsigned long long)rep.seq,
                strerror(rep.spawn_errno));
    }
    if (!recorded) {
        run->st.unrecorded++;
        return;
    }
    lr_stats_attempt(&run->st, rep.seq, cmd, rep.cmd_len, rep.runtime, rep.exitval, rep.signal,
                     rep.timed_out, final);
    if (!final && submit(run, rep.seq, rep.attempt + 1, cmd, rep.cmd_len, tag, rep.tag_len, NULL,
                         res->rank, LOOM_FOREVER) != LOOM_OK) {
        fprintf(stderr, PROG ": task %llu: could not retry it\n", (unsigned long long)rep.seq);
        run->trouble = 1;
    }
    uint64_t known = run->st.tasks;
    if (final && lr_halt_due(&run->o->halt, run->st.failed, run->st.succeeded, known)) {
        char why[96], pol[48];
        lr_halt_describe(&run->o->halt, pol, sizeof pol);
        snprintf(why, sizeof why, "--halt %s reached", pol);
        halt(run, (int)run->o->halt.when, why);
    }
}

/* Wait for one result (handling it) or the next progress tick; 0 when
 * nothing is outstanding any more. */
#define STOP_POLL_MS 100 /* how soon LR_STOP_SIGNAL is seen */
static int
pump(struct lr_run *run)
{
    loom_result res;
    int wait = lr_progress_tick(run);
    if (wait < 0 || wait > STOP_POLL_MS)
        wait = STOP_POLL_MS;
    loom_err rc = loom_job_next_result(run->job, wait, &res);
    if (rc == LOOM_OK) {
        finish_one(run, &res);
        loom_result_free(&res);
    }
    if (lr_stop_requested() && !run->stopped) {
        /* the workers got the signal too: this is for those that did not */
        run->stopped = 1;
        halt(run, LR_HALT_NOW, "stopped by a signal");
    }
    return rc != LOOM_EDRAINED;
}

/* With a --halt policy, a task is submitted only when a worker thread is
 * free for it (workers then hold no queued task: job.prefetch 0), after
 * every result that came back has been weighed: so nothing starts once
 * the policy says stop. 1 when the task may go, 0 once halted. */
static int
wait_for_room(struct lr_run *run)
{
    const struct lr_opts *o = run->o;
    if (o->pipe) {
        /* --pipe: at most two blocks a worker thread on their way, so the
         * master's memory stays a few blocks, however long the input */
        unsigned slots = loom_job_threads(run->job);
        while (!run->halted && run->outstanding >= 2 * (uint64_t)(slots ? slots : 1))
            pump(run);
    }
    if (o->halt.when == LR_HALT_NEVER && o->delay <= 0 && o->timeout_pct <= 0)
        return !run->halted;
    for (;;) {
        unsigned slots = loom_job_threads(run->job);
        if (run->halted || run->outstanding < (slots ? slots : 1))
            break;
        pump(run);
    }
    return !run->halted;
}

/* --delay: wait until the delay has passed since the last submission
 * (taking what comes back meanwhile; each worker also keeps its starts
 * the delay apart). 1 when the task may go, 0 once halted. */
static int
wait_for_delay(struct lr_run *run)
{
    double now;
    while ((now = lr_seconds(CLOCK_MONOTONIC)) < run->next_start && !run->halted) {
        if (run->outstanding) {
            pump(run); /* up to 0.1 s */
            continue;
        }
        double w = run->next_start - now;
        w = w > 0.1 ? 0.1 : w;
        struct timespec ts = {(time_t)w, (long)((w - (double)(time_t)w) * 1e9)};
        nanosleep(&ts, NULL);
        if (lr_stop_requested())
            pump(run); /* sees the stop */
    }
    if (run->o->delay > 0)
        run->next_start = lr_seconds(CLOCK_MONOTONIC) + run->o->delay;
    return !run->halted;
}

/* ---- reading the task file ------------------------------------------------------- */

/* A task file line's command: the line itself, or (-c) the template
 * filled with it, in expanded (to free). */
struct command {
    const char *text;
    size_t len;
    char *expanded;
};

/* The command of line, checked against the job log unless --force. 0, or
 * -1 (nothing to free) with the reason in err. */
static int
line_command(const struct lr_opts *o, const struct lr_done *done, const struct lr_line *line,
             struct command *c, char *err, size_t errlen)
{
    *c = (struct command){line->text, line->len, NULL};
    if (o->tmpl || o->shell) {
        c->expanded = lr_job_command(o, line, NULL, err, errlen); /* compat.c */
        if (!c->expanded)
            return -1;
        c->text = c->expanded;
        c->len = strlen(c->expanded);
    }
    if (!o->force && lr_done_changed(done, o->path, line->lineno, c->text, c->len, o->tmpl != NULL,
                                     err, errlen)) {
        free(c->expanded);
        c->expanded = NULL;
        return -1;
    }
    return 0;
}

/* A regular task file is read once before anything runs: bad input (a NUL
 * byte, an over-long line, a bad template, no tasks at all, a task that
 * differs from the job log's) is then refused with nothing run, and the
 * number of tasks gives "done/total" and an ETA from the start. Standard
 * input is checked and counted as it streams. Returns 1 (counted), 0 (not
 * a regular file), -1 (bad input, said in err). */
static int
prescan(const struct lr_opts *o, const struct lr_done *done, uint64_t *n, char *err, size_t errlen)
{
    if (!lr_input_countable(&o->in))
        return 0;
    lr_input *rd = NULL;
    struct lr_line line;
    if (lr_input_open(&o->in, &rd, err, errlen) != 0)
        return -1;
    int r;
    while ((r = lr_input_next(rd, &line, err, errlen)) == 1) {
        if (!o->tmpl && !done->n)
            continue;
        struct command c;
        if (line_command(o, done, &line, &c, err, errlen) != 0) {
            r = -1;
            break;
        }
        free(c.expanded);
    }
    struct lr_reader_stats st;
    lr_input_stats(rd, &st);
    lr_input_close(rd);
    *n = st.tasks;
    return r == 0 ? 1 : -1;
}

/* What the master reads its tasks from. */
struct feed {
    lr_input *rd;
    struct lr_done done; /* --resume: the old job log's entries */
    uint64_t counted;    /* tasks in the task file, when have_count */
    int have_count;      /* a regular file, counted before the run */
    int input_error;     /* bad input: exit 255 */
};

/* One line of the task file: skipped when the job log has it done, else
 * submitted (taking finished tasks while the job is full). 0 to read on,
 * -1 to stop (bad input, or a task that could not be submitted; said). */
static int
take_line(struct lr_run *run, struct feed *f, const struct lr_line *line,
          const struct stdin_block *in)
{
    const struct lr_opts *o = run->o;
    char err[PATH_MAX + 256];
    struct command c;
    if (line_command(o, &f->done, line, &c, err, sizeof err) != 0) {
        fprintf(stderr, PROG ": %s\n", err);
        f->input_error = 1;
        return -1;
    }
    if (lr_done_skips(&f->done, line->lineno, o->resume)) {
        run->st.skipped++;
        free(c.expanded);
        return 0;
    }
    const char *tag = line->text; /* what --tag prints */
    size_t tag_len = line->len;
    char *tagged =
        o->tagstring ? lr_tagstring_line(o->tagstring, line, &tag_len, err, sizeof err) : NULL;
    if (o->tagstring && !tagged) {
        fprintf(stderr, PROG ": --tagstring: %s\n", err);
        free(c.expanded);
        f->input_error = 1;
        return -1;
    }
    tag = tagged ? tagged : tag;
    if (!wait_for_room(run) || !wait_for_delay(run)) {
        free(c.expanded);
        free(tagged);
        return 0; /* halted: the line is not submitted (feed_tasks stops) */
    }
    run->st.tasks = f->have_count ? f->counted - run->st.skipped : run->st.tasks + 1;
    loom_err rc = LOOM_ENOMEM;
    if (!o->keep_order || lr_order_push(run, line->lineno) == 0) {
        /* stream: when the job is full, take finished tasks until it has room */
        while ((rc = submit(run, line->lineno, 1, c.text, c.len, tag, tag_len, in, 0,
                            LOOM_NOWAIT)) == LOOM_EFULL &&
               !run->halted)
            pump(run);
    }
    free(c.expanded);
    free(tagged);
    if (rc == LOOM_EFULL && run->halted) { /* stopped while waiting for room */
        if (o->keep_order)
            lr_order_forget(run, line->lineno);
        return 0;
    }
    if (rc != LOOM_OK) {
        fprintf(stderr, PROG ": submitting task %llu: %s\n", (unsigned long long)line->lineno,
                loom_last_error());
        run->trouble = 1;
        return -1;
    }
    lr_progress_tick(run);
    return 0;
}

/* Submit the task file's tasks until its end, bad input or a halt; at the
 * end of the file the number of tasks is final. */
static void
feed_tasks(struct lr_run *run, struct feed *f)
{
    char err[PATH_MAX + 256];
    struct lr_line line;
    int r = 0;
    while (!run->halted && (r = lr_input_next(f->rd, &line, err, sizeof err)) == 1)
        if (take_line(run, f, &line, NULL) != 0)
            break;
    if (r < 0) {
        fprintf(stderr, PROG ": %s\n", err);
        f->input_error = 1;
    }
    struct lr_reader_stats rst;
    lr_input_stats(f->rd, &rst);
    /* as GNU Parallel: nothing to do is done (exit 0), but said */
    if (r == 0 && rst.tasks == 0)
        fprintf(stderr, PROG ": %s: no tasks (empty input, or only comments): nothing run\n",
                run->o->path);
    if (r == 0 && !run->halted) {
        run->st.tasks = rst.tasks - run->st.skipped;
        run->st.tasks_final = 1;
    }
}

/* --pipe: standard input cut into blocks, each one task's standard input
 * (its job number {#} and Seq the block's). At the end the number of
 * tasks is final. */
static void
feed_blocks(struct lr_run *run, struct feed *f)
{
    const struct lr_opts *o = run->o;
    char err[256];
    struct lr_blocks_opts bo = {o->block, o->recstart, o->recend, o->in.max_args, stderr};
    lr_blocks *b = NULL;
    int r = lr_blocks_open(STDIN_FILENO, &bo, &b, err, sizeof err);
    uint64_t seq = 0;
    struct stdin_block in;
    while (r == 0 && !run->halted &&
           (r = lr_blocks_next(b, &in.data, &in.len, err, sizeof err)) == 1) {
        seq++;
        struct lr_line line = {.text = "", .lineno = seq, .seq = seq, .no_append = 1};
        r = take_line(run, f, &line, &in) == 0 ? 0 : 1;
    }
    lr_blocks_close(b);
    if (r < 0) {
        fprintf(stderr, PROG ": %s\n", err);
        f->input_error = 1;
    }
    if (r == 0 && seq == 0)
        fprintf(stderr, PROG ": --pipe: empty standard input: nothing run\n");
    if (r == 0 && !run->halted) {
        run->st.tasks = seq - run->st.skipped;
        run->st.tasks_final = 1;
    }
}

/* ---- the run ------------------------------------------------------------------------ */

/* Open what the run reads and writes: the old job log (--resume), the
 * task file (counted and checked first when it is a regular file),
 * --results and the job log. 0, or -1 (said). */
static int
open_run(struct lr_run *run, struct feed *f)
{
    const struct lr_opts *o = run->o;
    char err[PATH_MAX + 256];
    int resume = o->resume || o->resume_failed;
    if ((resume && lr_done_load(&f->done, o->joblog, err, sizeof err) != 0) ||
        (f->have_count = prescan(o, &f->done, &f->counted, err, sizeof err)) < 0 ||
        (o->results && lr_results_open(o->results, &run->res, err, sizeof err) != 0) ||
        (o->joblog && lr_joblog_open(o->joblog, resume, &run->log, err, sizeof err) != 0) ||
        (!o->pipe && lr_input_open(&o->in, &f->rd, err, sizeof err) != 0)) {
        fprintf(stderr, PROG ": %s\n", err);
        return -1;
    }
    return 0;
}

/* After a halt or a stop: the tasks known (in a counted file, or read)
 * that were never submitted count as not started, as those a worker
 * answered "not run". */
static void
count_not_started(struct lr_run *run)
{
    const struct lr_stats *s = &run->st;
    uint64_t accounted = s->succeeded + s->failed + s->not_run + s->killed + s->unrecorded;
    if (run->halted && s->tasks > accounted)
        run->st.not_run += s->tasks - accounted;
}

/* GNU Parallel's exit status (see main.c), 255 after bad input. */
static int
exit_status(const struct lr_run *run, int input_error)
{
    if (input_error)
        return EXIT_USAGE;
    if (run->trouble || run->stopped)
        return EXIT_TROUBLE;
    if (run->o->halt.on == LR_HALT_SUCCESS && run->halted)
        return EXIT_OK;
    return run->st.failed > 100 ? EXIT_FAILED_MAX : (int)run->st.failed;
}

static long
peak_kib(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : 0;
}

/* --events' run_end and --report's summary: loom-run's counts (the job
 * writes both at loom_job_finish()). */
static void
record_summary(struct lr_run *run, int status)
{
    loom_run_summary s = {status,          run->st.tasks,     run->st.succeeded, run->st.failed,
                          run->st.retried, run->st.timeouts,  run->st.killed,    run->st.not_run,
                          run->st.skipped, run->st.unrecorded};
    loom_job_record_summary(run->job, &s);
}

/* Close and free what the run opened, and record its summary. Returns
 * status, or EXIT_TROUBLE when the job log could not be closed. */
static int
close_run(struct lr_run *run, struct feed *f, int status)
{
    lr_input_close(f->rd);
    if (run->log && lr_joblog_close(run->log) != 0) {
        fprintf(stderr, PROG ": closing the job log: %s\n", strerror(errno));
        status = EXIT_TROUBLE;
    }
    run->log = NULL;
    lr_results_close(run->res);
    record_summary(run, status);
    lr_done_free(&f->done);
    lr_output_free(run);
    return status;
}

int
lr_run_master(struct lr_run *run)
{
    struct feed f = {0};
    int status = EXIT_USAGE;
    lr_status_running();
    if (open_run(run, &f) == 0) {
        lr_stats_init(&run->st, lr_seconds(CLOCK_MONOTONIC));
        lr_output_start(run);
        if (run->o->pipe)
            feed_blocks(run, &f);
        else
            feed_tasks(run, &f);
        /* what was submitted finishes and is recorded, whatever stopped the
         * reading: a later --resume must not run it again */
        while (pump(run))
            ;
        count_not_started(run);
        status = exit_status(run, f.input_error);
        /* after bad input with nothing run: no summary */
        int ran = !f.input_error || run->st.succeeded || run->st.failed;
        if (ran && !run->o->quiet) {
            lr_progress_clear(run);
            lr_stats_summary(&run->st, lr_seconds(CLOCK_MONOTONIC), peak_kib(), stderr);
        }
    }
    return close_run(run, &f, status);
}
