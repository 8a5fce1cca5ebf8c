/* SPDX-License-Identifier: MIT */
/*
 * loom-run — run a file of shell commands across the ranks of an MPI job.
 *
 *   loom-run [options] [TASKFILE|-]                  (starts mpirun itself)
 *   mpirun -np 3 --bind-to none loom-run [options] [TASKFILE|-]
 *   srun --mpi=pmix --cpu-bind=none loom-run [options] [TASKFILE|-]
 *   loom-run [options] -c 'gzip -9 {}' < files.txt
 *
 * Rank 0 reads the task file as a stream (one command per line; blank lines
 * and # comments skipped; or, with -c, one input per line for a GNU
 * Parallel style template) and submits each command as a task; worker
 * ranks run it on their pool threads — directly when it is a plain list of
 * words, else with /bin/sh -c — capturing stdout and stderr, and send back
 * the exit status, the output and the timings. The master prints each
 * task's output whole when it finishes (never interleaved with another
 * task's), stores it under --results, appends a line to the job log (GNU
 * Parallel's format), retries failures on another worker, applies the
 * --halt policy, and shows progress and a summary.
 *
 * Task numbers (Seq, LOOM_TASK_ID) are line numbers in the task file, as
 * GNU Parallel counts them, so a job log can be resumed by either tool.
 *
 * --halt: the master tells the workers through the named queue
 * "loom-run.halt" (one item per worker: "soon" or "now"), on which a
 * watcher thread of each worker waits at no cost. "soon" makes the workers
 * answer tasks not yet started with "not run"; "now" also makes an eventfd
 * readable that every running command polls (loom_proc_opts.cancel_fd), so
 * they are killed like on a timeout. Tasks not run or killed are not
 * written to the job log: --resume runs them.
 *
 * Exit status (GNU Parallel's, with a distinct code for input errors):
 *   0      every task succeeded (or --halt ...,success=... was reached)
 *   1-100  that many tasks failed (after their retries)
 *   101    more than 100 tasks failed
 *   102    the run could not be completed: MPI or a worker failed, or the
 *          job log or --results could not be written (nothing is lost:
 *          what was not recorded runs again under --resume)
 *   255    usage or input error: bad option, unreadable or empty task
 *          file, a job log from another task file; nothing was run
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <loom.h>

#include "../common/app.h"
#include "halt.h"
#include "joblog.h"
#include "results.h"
#include "stats.h"
#include "taskfile.h"

#define PROG       "loom-run"
#define HALT_QUEUE "loom-run.halt"

enum {
    EXIT_OK = 0,
    EXIT_FAILED_MAX = 101, /* 1-100 failed tasks, 101 more */
    EXIT_TROUBLE = 102,
    EXIT_USAGE = 255,
};

/* ---- what travels ----------------------------------------------------------- */

/* master -> worker: this header, then the command, then the tag (the
 * input line with -c, else the command again: what --tag prints) */
struct run_req {
    uint64_t seq;
    uint32_t attempt;
    int32_t timeout_ms;
    uint64_t cmd_len;
};

enum { REP_RAN, REP_NOT_RUN, REP_KILLED }; /* run_rep.outcome */

/* worker -> master: this header, then command, tag, stdout, stderr */
struct run_rep {
    uint64_t seq;
    double start, runtime;
    uint64_t out_len, err_len, out_total, err_total, cmd_len, tag_len;
    int32_t exitval, signal, timed_out, spawn_errno, outcome;
    uint32_t attempt; /* host, rank and thread come with the job's loom_result */
};

static struct {
    int64_t output_limit;
    double kill_grace;
    atomic_int halted; /* the master said stop: start nothing more */
    int cancel_fd;     /* readable once the master said "now"; 0 = none */
} worker_set;

/* A NUL-terminated copy of n bytes that need not be terminated (strndup
 * may read past them, looking for a NUL). */
static char *
dup_bytes(const char *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

static double
epoch_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
/* ---- the task every worker thread runs ---------------------------------------- */

/* A command the shell would only split on spaces and run: no quoting,
 * expansion, redirection, globbing, assignment or builtin. Such a command
 * is exec'd directly, saving the shell's fork and exec (half the cost of
 * a short task); anything else goes to /bin/sh -c, so the result is the
 * same either way (true and false are builtins too, but their programs
 * behave alike). Fills argv (at most max-1 words, NULL-terminated) in
 * place in cmd. */
static int
split_simple(char *cmd, char **argv, int max)
{
    static const char *const builtins[] = {
        ".",      ":",       "alias", "bg",    "break",  "cd",   "command", "continue",
        "echo",   "eval",    "exec",  "exit",  "export", "fc",   "fg",      "getopts",
        "hash",   "jobs",    "kill",  "local", "printf", "pwd",  "read",    "readonly",
        "return", "set",     "shift", "test",  "times",  "trap", "type",    "ulimit",
        "umask",  "unalias", "unset", "wait",  "["};
    for (const char *c = cmd; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              strchr(" _./:,+@%-", *c)))
            return 0;
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(cmd, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
        if (n == max - 1)
            return 0;
        argv[n++] = t;
    }
    argv[n] = NULL;
    if (n == 0)
        return 0;
    for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++)
        if (strcmp(argv[0], builtins[i]) == 0)
            return 0;
    return 1;
}

/* The reply for a task the worker did not run (--halt). */
static int
reply_not_run(loom_task *task, const struct run_req *req)
{
    struct run_rep rep = {.seq = req->seq, .attempt = req->attempt, .outcome = REP_NOT_RUN};
    return loom_task_reply(task, &rep, sizeof rep) == LOOM_OK ? 0 : 1;
}

static int
run_command(loom_task *task, void *user)
{
    (void)user;
    size_t len;
    const char *p = loom_task_payload(task, &len);
    struct run_req req;
    if (len < sizeof req)
        return 1;
    memcpy(&req, p, sizeof req);
    if (req.cmd_len > len - sizeof req)
        return 1;
    if (atomic_load(&worker_set.halted))
        return reply_not_run(task, &req);
    size_t cmd_len = req.cmd_len, tag_len = len - sizeof req - cmd_len;
    const char *tag = p + sizeof req + cmd_len;
    char *cmd = dup_bytes(p + sizeof req, cmd_len);
    if (!cmd)
        return 1;

    loom_context *ctx = loom_task_context(task);
    char env_task[40], env_attempt[32], env_rank[32], env_host[300], env_slot[32];
    snprintf(env_task, sizeof env_task, "LOOM_TASK_ID=%llu", (unsigned long long)req.seq);
    snprintf(env_attempt, sizeof env_attempt, "LOOM_ATTEMPT=%u", req.attempt);
    snprintf(env_rank, sizeof env_rank, "LOOM_RANK=%d", loom_context_rank(ctx));
    snprintf(env_host, sizeof env_host, "LOOM_HOST=%s", loom_context_host(ctx));
    snprintf(env_slot, sizeof env_slot, "LOOM_SLOT=%d", loom_context_index(ctx) + 1);
    const char *const env[] = {env_task, env_attempt, env_rank, env_host, env_slot, NULL};

    char *words = dup_bytes(cmd, cmd_len), *argv[64];
    int direct = words && split_simple(words, argv, 64);
    loom_proc_opts o = {.shell_cmd = direct ? NULL : cmd,
                        .argv = direct ? (const char *const *)argv : NULL,
                        .env = env,
                        .output_limit = (size_t)worker_set.output_limit,
                        .timeout_ms = req.timeout_ms,
                        .kill_grace_ms =
                            worker_set.kill_grace > 0 ? (int)(worker_set.kill_grace * 1000) : -1,
                        .cancel_fd = worker_set.cancel_fd};
    loom_proc_result r;
    double start = epoch_now();
    loom_err rc = loom_proc_run(&o, &r);
    if (direct && (rc == LOOM_ENOTFOUND || rc == LOOM_ENOEXEC)) {
        /* let the shell say what is wrong, with its exit codes 127/126 */
        loom_proc_result_free(&r);
        o.argv = NULL;
        o.shell_cmd = cmd;
        rc = loom_proc_run(&o, &r);
    }
    free(words);
    struct run_rep rep = {.seq = req.seq,
                          .start = start,
                          .attempt = req.attempt,
                          .cmd_len = cmd_len,
                          .tag_len = tag_len};
    int ran = rc == LOOM_OK || rc == LOOM_ENOTFOUND || rc == LOOM_ENOEXEC;
    if (ran) {
        rep.runtime = r.wall_seconds;
        /* GNU Parallel's convention: a signal gives Exitval 0 and the
         * signal; a timeout gives -1 */
        rep.exitval = r.timed_out ? -1 : r.exited ? r.exit_code : 0;
        rep.signal = r.signaled ? r.term_signal : 0;
        rep.timed_out = r.timed_out;
        rep.outcome = r.cancelled ? REP_KILLED : REP_RAN;
        rep.spawn_errno = r.spawn_errno;
        rep.out_len = r.out_len;
        rep.err_len = r.err_len;
        rep.out_total = r.out_total;
        rep.err_total = r.err_total;
    } else {
        rep.exitval = 127;
        rep.spawn_errno = ENOMEM;
    }
    size_t total = sizeof rep + cmd_len + tag_len + rep.out_len + rep.err_len;
    char *buf = malloc(total);
    int status = 1;
    if (buf) {
        char *q = buf;
        memcpy(q, &rep, sizeof rep);
        q += sizeof rep;
        memcpy(q, cmd, cmd_len);
        q += cmd_len;
        memcpy(q, tag, tag_len);
        q += tag_len;
        if (rep.out_len)
            memcpy(q, r.out, rep.out_len);
        q += rep.out_len;
        if (rep.err_len)
            memcpy(q, r.err, rep.err_len);
        status = loom_task_reply(task, buf, total) == LOOM_OK ? 0 : 1;
        free(buf);
    }
    if (ran)
        loom_proc_result_free(&r);
    free(cmd);
    return status;
}

/* A worker's --halt watcher: waits on its queue "loom-run.halt.<rank>"
 * (no traffic while it waits) for the master's "soon" or "now", until
 * loom_job_serve() returns and the queue stops working. */
static void *
halt_watch(void *arg)
{
    loom_job *job = arg;
    loom_queue *q = NULL;
    char name[64];
    loom_context_set_name("Halt");
    snprintf(name, sizeof name, HALT_QUEUE ".%d", loom_job_rank(job));
    if (loom_queue_open(job, name, 4, &q) != LOOM_OK)
        return NULL;
    void *data = NULL;
    size_t len = 0;
    while (loom_queue_get(q, &data, &len, LOOM_FOREVER) == LOOM_OK) {
        atomic_store(&worker_set.halted, 1);
        if (len == 3 && memcmp(data, "now", 3) == 0) {
            uint64_t one = 1;
            if (write(worker_set.cancel_fd, &one, sizeof one) != sizeof one)
                fprintf(stderr, PROG ": cannot stop running tasks: %s\n", strerror(errno));
        }
        free(data);
        data = NULL;
    }
    loom_queue_release(q);
    return NULL;
}

/* A worker: serve tasks, with a watcher for the master's "stop" (--halt,
 * or results that cannot be recorded). */
static int
serve_worker(loom_job *job)
{
    pthread_t watcher;
    int watching = pthread_create(&watcher, NULL, halt_watch, job) == 0;
    loom_err rc = loom_job_serve(job);
    if (watching)
        pthread_join(watcher, NULL);
    return rc == LOOM_OK && watching ? EXIT_OK : EXIT_TROUBLE;
}

/* ---- resume: what the job log says is done ------------------------------------- */

struct done_entry {
    uint64_t seq;
    uint64_t hash; /* of the command */
    int ok;
};

struct done_set {
    struct done_entry *a;
    size_t n, cap;
};

static int
collect_done(const struct lr_joblog_entry *e, void *arg)
{
    struct done_set *d = arg;
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 1024;
        struct done_entry *a = realloc(d->a, cap * sizeof *a);
        if (!a)
            return -1;
        d->a = a;
        d->cap = cap;
    }
    d->a[d->n++] = (struct done_entry){e->seq, lr_task_hash(e->command, strlen(e->command)),
                                       lr_joblog_entry_ok(e)};
    return 0;
}

static int
cmp_done(const void *a, const void *b)
{
    const struct done_entry *x = a, *y = b;
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    return y->ok - x->ok; /* a success first: "any success wins", as GNU */
}

static const struct done_entry *
find_done(const struct done_set *d, uint64_t seq)
{
    size_t lo = 0, hi = d->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (d->a[mid].seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < d->n && d->a[lo].seq == seq ? &d->a[lo] : NULL;
}

/* ---- the master ------------------------------------------------------------------ */

/* --keep-order: a finished task's output waits here until every task
 * submitted before it has been printed. */
struct held {
    struct held *next;
    uint64_t seq;
    char *out, *err, *tag;
    size_t out_len, err_len, tag_len;
    uint64_t out_total, err_total;
};

struct opts {
    const char *path, *tmpl, *joblog, *results, *events, *report;
    const char *serve, *join, *ompi_server; /* workers joining later */
    int resume, resume_failed, force, retries, quiet, keep_order, tag;
    int progress; /* 1 --progress, -1 --no-progress, 0 a terminal decides */
    double timeout, progress_interval;
    struct lr_halt halt;
};

struct run {
    const struct opts *o;
    loom_job *job;
    lr_joblog *log;
    lr_results *res;
    struct lr_stats st;
    int halted;           /* 0, LR_HALT_SOON or LR_HALT_NOW: stop submitting */
    int trouble;          /* something could not be recorded: exit 102 */
    uint64_t outstanding; /* submitted, not yet back */
    uint64_t *order;      /* --keep-order: seqs in submission order (a ring) */
    size_t order_head, order_count, order_cap;
    struct held *held;
    /* progress display */
    int live;  /* a terminal: one line redrawn in place */
    int drawn; /* the live line is on the screen */
    double next_tick;
};

static int
order_push(struct run *run, uint64_t seq)
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

/* Drop seq from the --keep-order ring: a task that will print nothing
 * (not run, killed) must not hold back those after it. */
static void
order_forget(struct run *run, uint64_t seq)
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
        return;
    }
}

/* Clear the live progress line before anything else is printed. */
static void
progress_clear(struct run *run)
{
    if (run->drawn) {
        fputs("\r\033[K", stderr);
        run->drawn = 0;
    }
}

static void
progress_show(struct run *run, double now)
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

/* Time to redraw? Returns ms until the next tick (LOOM_FOREVER: none). */
static int
progress_tick(struct run *run)
{
    if (run->o->quiet || run->next_tick <= 0)
        return LOOM_FOREVER;
    double now = mono_now();
    if (now >= run->next_tick) {
        progress_show(run, now);
        double every = run->live ? 0.2 : run->o->progress_interval;
        run->next_tick = now + every;
    }
    double ms = (run->next_tick - now) * 1000.0;
    return ms < 1 ? 1 : (int)ms;
}

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
print_output(struct run *run, uint64_t seq, const char *out, size_t out_len, uint64_t out_total,
             const char *err, size_t err_len, uint64_t err_total, const char *tag, size_t tag_len)
{
    const char *t = run->o->tag ? tag : NULL;
    progress_clear(run);
    emit(stdout, out, out_len, t, tag_len);
    say_truncated(stdout, seq, "stdout", out, out_len, out_total, t != NULL);
    fflush(stdout);
    emit(stderr, err, err_len, t, tag_len);
    say_truncated(stderr, seq, "stderr", err, err_len, err_total, t != NULL);
    fflush(stderr);
}

static void
held_free(struct held *h)
{
    free(h->out);
    free(h->err);
    free(h->tag);
    free(h);
}

/* --keep-order: print what is due, in submission order. */
static void
flush_in_order(struct run *run)
{
    while (run->order_count) {
        uint64_t next = run->order[run->order_head];
        struct held **pp = &run->held, *h = NULL;
        for (; *pp; pp = &(*pp)->next)
            if ((*pp)->seq == next) {
                h = *pp;
                *pp = h->next;
                break;
            }
        if (!h)
            return;
        print_output(run, h->seq, h->out, h->out_len, h->out_total, h->err, h->err_len,
                     h->err_total, h->tag, h->tag_len);
        held_free(h);
        run->order_head = (run->order_head + 1) % run->order_cap;
        run->order_count--;
    }
}

static loom_err
submit(struct run *run, uint64_t seq, unsigned attempt, const char *cmd, size_t len,
       const char *tag, size_t tag_len, int avoid_rank, int timeout)
{
    struct run_req req = {seq, attempt, run->o->timeout > 0 ? (int)(run->o->timeout * 1000) : 0,
                          len};
    char *buf = malloc(sizeof req + len + tag_len);
    if (!buf)
        return LOOM_ENOMEM;
    memcpy(buf, &req, sizeof req);
    memcpy(buf + sizeof req, cmd, len);
    memcpy(buf + sizeof req + len, tag, tag_len);
    loom_err rc = loom_job_submit_avoiding(run->job, "sh", buf, sizeof req + len + tag_len,
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
halt(struct run *run, int how, const char *why)
{
    if (run->halted >= how)
        return;
    run->halted = how;
    if (!run->o->quiet) {
        progress_clear(run);
        fprintf(stderr, PROG ": %s: %s\n", why,
                how == LR_HALT_NOW ? "killing the running tasks, starting no more"
                                   : "starting no more tasks, waiting for the running ones");
    }
    const char *word = how == LR_HALT_NOW ? "now" : "soon";
    for (int r = 1; r < loom_job_size(run->job); r++) {
        char name[64];
        loom_queue *q = NULL;
        snprintf(name, sizeof name, HALT_QUEUE ".%d", r);
        if (loom_queue_open(run->job, name, 4, &q) != LOOM_OK ||
            loom_queue_put(q, word, strlen(word), LOOM_FOREVER) != LOOM_OK)
            fprintf(stderr, PROG ": could not tell worker %d to stop\n", r);
        loom_queue_release(q);
    }
}

/* Store an attempt: --results (the final one), then the job log. 0, or -1 when it
 * could not be recorded (said; the run then stops: 102). */
static int
record(struct run *run, const struct run_rep *rep, const loom_result *res, const char *cmd,
       const char *out, const char *err, int final)
{
    char msg[PATH_MAX + 256];
    if (run->res && final) {
        struct lr_result_rec rec = {rep->seq,       rep->attempt, rep->exitval, rep->signal,
                                    rep->timed_out, res->rank,    res->host,    rep->start,
                                    rep->runtime,   cmd,          out,          err,
                                    rep->cmd_len,   rep->out_len, rep->err_len, rep->out_total,
                                    rep->err_total};
        if (lr_results_write(run->res, &rec, msg, sizeof msg) != 0)
            goto fail;
    }
    if (run->log) {
        char *command = dup_bytes(cmd, rep->cmd_len);
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
    progress_clear(run);
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
observe(struct run *run, const struct run_rep *rep, const loom_result *res, const char *cmd,
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
                loom_strerror(rc));
}

/* Handle one finished attempt: output, results, job log, retry, halt. */
static void
finish_one(struct run *run, const loom_result *res)
{
    struct run_rep rep;
    run->outstanding--;
    if (res->status != 0 || res->len < sizeof rep) {
        /* no report: the task's worker was lost and none is left (status
         * -1), or it could not send one; --resume runs it */
        if (!run->st.unrecorded++) {
            progress_clear(run);
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
        order_forget(run, rep.seq);
        flush_in_order(run);
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
        observe(run, &rep, res, cmd, 1);
        run->st.killed++;
        order_forget(run, rep.seq);
        flush_in_order(run);
        return;
    }
    int ok = rep.exitval == 0 && rep.signal == 0;
    int final = ok || (int)rep.attempt > run->o->retries || run->halted;
    observe(run, &rep, res, cmd, final);
    /* the task's output, whole: now, or (--keep-order) the final attempt's
     * once every earlier task's is out */
    if (!run->o->keep_order) {
        print_output(run, rep.seq, out, rep.out_len, rep.out_total, err, rep.err_len, rep.err_total,
                     tag, rep.tag_len);
    } else if (final) {
        struct held *h = calloc(1, sizeof *h);
        if (h) {
            *h = (struct held){run->held,
                               rep.seq,
                               dup_bytes(out, rep.out_len),
                               dup_bytes(err, rep.err_len),
                               dup_bytes(tag, rep.tag_len),
                               rep.out_len,
                               rep.err_len,
                               rep.tag_len,
                               rep.out_total,
                               rep.err_total};
            run->held = h;
        }
        if (!h || !h->out || !h->err || !h->tag) {
            fprintf(stderr, PROG ": out of memory holding task %llu's output\n",
                    (unsigned long long)rep.seq);
            run->trouble = 1;
        }
        flush_in_order(run);
    }
    if (rep.spawn_errno) {
        progress_clear(run);
        fprintf(stderr, PROG ": task %llu: could not start: %s\n", (unsigned long long)rep.seq,
                strerror(rep.spawn_errno));
    }
    /* the job log has every attempt (as GNU's, with --retries); --results
     * the final one */
    if (record(run, &rep, res, cmd, out, err, final) != 0) {
        run->st.unrecorded++;
        return;
    }
    lr_stats_attempt(&run->st, rep.seq, cmd, rep.cmd_len, rep.runtime, rep.exitval, rep.signal,
                     rep.timed_out, final);
    if (!final && submit(run, rep.seq, rep.attempt + 1, cmd, rep.cmd_len, tag, rep.tag_len,
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
static int
pump(struct run *run)
{
    loom_result res;
    loom_err rc = loom_job_next_result(run->job, progress_tick(run), &res);
    if (rc == LOOM_OK) {
        finish_one(run, &res);
        loom_result_free(&res);
    }
    return rc != LOOM_EDRAINED;
}

/* Does the task of line `lineno` differ from what the job log recorded
 * under that number? Says so in err. */
static int
changed(const struct done_set *done, const char *path, uint64_t lineno, const char *cmd, size_t len,
        char *err, size_t errlen)
{
    const struct done_entry *d = find_done(done, lineno);
    if (!d || d->hash == lr_task_hash(cmd, len))
        return 0;
    snprintf(err, errlen,
             "%s:%llu: the task differs from the one the job log recorded as task %llu: the "
             "task file changed (use --force to run it anyway)",
             path, (unsigned long long)lineno, (unsigned long long)lineno);
    return 1;
}

/* A regular task file is read once before anything runs: bad input (a NUL
 * byte, an over-long line, a bad template, no tasks at all, a task that
 * differs from the job log's) is then refused with nothing run, and the
 * number of tasks gives "done/total" and an ETA from the start. Standard
 * input is checked and counted as it streams. Returns 1 (counted), 0 (not
 * a regular file), -1 (bad input, said in err). */
static int
prescan(const struct opts *o, const struct done_set *done, uint64_t *n, char *err, size_t errlen)
{
    struct stat sb;
    if (strcmp(o->path, "-") == 0 || stat(o->path, &sb) != 0 || !S_ISREG(sb.st_mode))
        return 0;
    struct lr_reader_opts ro = {.skip_comments = o->tmpl == NULL};
    lr_reader *rd = NULL;
    struct lr_line line;
    if (lr_reader_open(o->path, &ro, &rd, err, errlen) != 0)
        return -1;
    int r;
    while ((r = lr_reader_next(rd, &line, err, errlen)) == 1) {
        if (!o->tmpl && !done->n)
            continue;
        char *expanded = NULL;
        if (o->tmpl && !(expanded = lr_template_expand(o->tmpl, line.text, line.len, line.lineno,
                                                       err, errlen))) {
            r = -1;
            break;
        }
        int differs =
            !o->force && changed(done, o->path, line.lineno, expanded ? expanded : line.text,
                                 expanded ? strlen(expanded) : line.len, err, errlen);
        free(expanded);
        if (differs) {
            r = -1;
            break;
        }
    }
    struct lr_reader_stats st;
    lr_reader_stats(rd, &st);
    lr_reader_close(rd);
    *n = st.tasks;
    if (r == 0 && st.tasks == 0) {
        snprintf(err, errlen, "%s: no tasks (an empty file, or only comments)", o->path);
        r = -1;
    }
    return r == 0 ? 1 : -1;
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
record_summary(struct run *run, int status)
{
    loom_run_summary s = {status,          run->st.tasks,     run->st.succeeded, run->st.failed,
                          run->st.retried, run->st.timeouts,  run->st.killed,    run->st.not_run,
                          run->st.skipped, run->st.unrecorded};
    loom_job_record_summary(run->job, &s);
}

static int
run_master(struct run *run)
{
    const struct opts *o = run->o;
    char err[PATH_MAX + 256];
    struct done_set done = {0};
    lr_reader *rd = NULL;
    int status = EXIT_USAGE;
    uint64_t counted = 0;
    int have_count = 0;

    int resume = o->resume || o->resume_failed;
    struct stat sb;
    /* resuming without a log yet (the first run died before writing one,
     * or this is the first run of a script that always resumes): run all */
    if (resume && stat(o->joblog, &sb) == 0 &&
        lr_joblog_read(o->joblog, collect_done, &done, NULL, err, sizeof err) != 0) {
        fprintf(stderr, PROG ": %s\n", err);
        goto out;
    }
    if (done.n)
        qsort(done.a, done.n, sizeof *done.a, cmp_done);
    if ((have_count = prescan(o, &done, &counted, err, sizeof err)) < 0) {
        fprintf(stderr, PROG ": %s\n", err);
        goto out;
    }
    if (o->results && lr_results_open(o->results, &run->res, err, sizeof err) != 0) {
        fprintf(stderr, PROG ": %s\n", err);
        goto out;
    }
    if (o->joblog && lr_joblog_open(o->joblog, resume, &run->log, err, sizeof err) != 0) {
        fprintf(stderr, PROG ": %s\n", err);
        goto out;
    }
    struct lr_reader_opts ro = {.skip_comments = o->tmpl == NULL};
    if (lr_reader_open(o->path, &ro, &rd, err, sizeof err) != 0) {
        fprintf(stderr, PROG ": %s\n", err);
        goto out;
    }
    lr_stats_init(&run->st, mono_now());
    if (!o->quiet && (run->live || o->progress_interval > 0))
        run->next_tick = run->st.t0 + (run->live ? 0.2 : o->progress_interval);

    struct lr_line line;
    int r = 0, input_error = 0;
    while (!run->halted && (r = lr_reader_next(rd, &line, err, sizeof err)) == 1) {
        char *expanded = NULL;
        const char *cmd = line.text;
        size_t len = line.len;
        if (o->tmpl) {
            expanded =
                lr_template_expand(o->tmpl, line.text, line.len, line.lineno, err, sizeof err);
            if (!expanded) {
                fprintf(stderr, PROG ": %s\n", err);
                input_error = 1;
                break;
            }
            cmd = expanded;
            len = strlen(expanded);
        }
        if (!o->force && changed(&done, o->path, line.lineno, cmd, len, err, sizeof err)) {
            fprintf(stderr, PROG ": %s\n", err);
            free(expanded);
            input_error = 1;
            break;
        }
        const struct done_entry *d = find_done(&done, line.lineno);
        if (d && (o->resume || d->ok)) {
            run->st.skipped++;
            free(expanded);
            continue;
        }
        run->st.tasks = have_count ? counted - run->st.skipped : run->st.tasks + 1;
        loom_err rc = LOOM_ENOMEM;
        if (!o->keep_order || order_push(run, line.lineno) == 0) {
            /* stream: when the job is full, take finished tasks until it has room */
            while ((rc = submit(run, line.lineno, 1, cmd, len, line.text, line.len, 0,
                                LOOM_NOWAIT)) == LOOM_EFULL)
                pump(run);
        }
        free(expanded);
        if (rc != LOOM_OK) {
            fprintf(stderr, PROG ": submitting task %llu: %s\n", (unsigned long long)line.lineno,
                    loom_strerror(rc));
            run->trouble = 1;
            break;
        }
        progress_tick(run);
    }
    if (r < 0) {
        fprintf(stderr, PROG ": %s\n", err);
        input_error = 1;
    }
    struct lr_reader_stats rst;
    lr_reader_stats(rd, &rst);
    if (r == 0 && rst.tasks == 0) {
        fprintf(stderr, PROG ": %s: no tasks (an empty file, or only comments)\n", o->path);
        input_error = 1;
    }
    if (r == 0 && !run->halted) {
        run->st.tasks = rst.tasks - run->st.skipped;
        run->st.tasks_final = 1;
    }
    /* what was submitted finishes and is recorded, whatever stopped the
     * reading: a later --resume must not run it again */
    while (pump(run))
        ;
    if (input_error)
        status = EXIT_USAGE;
    else if (run->trouble)
        status = EXIT_TROUBLE;
    else if (o->halt.on == LR_HALT_SUCCESS && run->halted)
        status = EXIT_OK;
    else
        status = run->st.failed > 100 ? EXIT_FAILED_MAX : (int)run->st.failed;
    if (input_error && !run->st.succeeded && !run->st.failed)
        goto out; /* nothing ran: no summary */
    if (!o->quiet) {
        progress_clear(run);
        lr_stats_summary(&run->st, mono_now(), peak_kib(), stderr);
    }
out:
    lr_reader_close(rd);
    if (run->log && lr_joblog_close(run->log) != 0) {
        fprintf(stderr, PROG ": closing the job log: %s\n", strerror(errno));
        status = EXIT_TROUBLE;
    }
    run->log = NULL;
    lr_results_close(run->res);
    record_summary(run, status);
    free(done.a);
    free(run->order);
    for (struct held *h = run->held, *next; h; h = next) {
        next = h->next;
        held_free(h);
    }
    return status;
}
/* ---- main ----------------------------------------------------------------------------- */

static void
usage(FILE *fp)
{
    fprintf(fp, "usage: " PROG " [options] [TASKFILE|-]\n"
                "       " PROG " [options] -c TEMPLATE [INPUTFILE|-]\n"
                "       mpirun -np N --bind-to none " PROG " [options] [TASKFILE|-]\n"
                "       srun --mpi=pmix --cpu-bind=none " PROG " [options] [TASKFILE|-]\n\n"
                "Runs every line of TASKFILE (default: standard input) on the worker ranks'\n"
                "threads: plain words are exec'd, anything else goes to /bin/sh -c. Rank 0\n"
                "hands them out and prints each task's output whole when it finishes. Blank\n"
                "lines and # comments are skipped.\n\n"
                "  -c, --command TEMPLATE  each input line fills TEMPLATE: {} the line (quoted),\n"
                "                          {#} the task number, {.} {/} {//} {/.} as GNU Parallel\n"
                "  --joblog FILE           GNU Parallel job log, one line per finished attempt\n"
                "  --resume                skip the tasks the job log has (any outcome)\n"
                "  --resume-failed         skip only the tasks the job log has as succeeded\n"
                "  --force                 resume even if a task's command changed\n"
                "  --results DIR           store each task's command, stdout, stderr and status\n"
                "                          in DIR/<seq/1e6>/<seq/1e3%%1000>/<seq>/ (at most 1000\n"
                "                          entries a directory); output is printed as well\n"
                "  --events FILE           JSON lines, written as they happen: run_start, one per\n"
                "                          attempt, workers joined and lost, run_end (schema:\n"
                "                          README); the same as --job-events FILE\n"
                "  --report FILE.html      a self-contained HTML page at the end: timeline per\n"
                "                          thread and node, durations, utilisation, slowest and\n"
                "                          failed tasks (a uniform sample past 20,000 attempts);\n"
                "                          the same as --job-report FILE.html\n"
                "  --retries N             run a failed task up to N more times, preferably on\n"
                "                          another worker (default 0)\n"
                "  --timeout SECONDS       kill a task's whole process group after this long\n"
                "  --halt POLICY           stop early: never (default), soon|now,fail=N,\n"
                "                          fail=P%%, success=N|P%%, done=N|P%% (GNU Parallel's);\n"
                "                          soon lets running tasks finish, now kills them;\n"
                "                          tasks not run or killed stay out of the job log\n"
                "  -k, --keep-order        print outputs in task-file order (a task's output\n"
                "                          waits for every earlier task's; failed attempts\n"
                "                          that are retried print nothing)\n"
                "  --tag                   prefix each output line with the task's input (with\n"
                "                          -c) or command, and a tab\n"
                "  --progress-interval S   without a terminal, a progress line every S seconds\n"
                "                          (default 5; 0: none). On a terminal one line is\n"
                "                          redrawn in place.\n"
                "  --progress, --no-progress\n"
                "                          the line redrawn in place, or plain lines, whatever\n"
                "                          stderr is (under your own mpirun, loom-run cannot\n"
                "                          tell that mpirun's stderr is a terminal)\n"
                "  --serve DIR             also accept workers of loom-runs started later with\n"
                "                          --join DIR (e.g. another Slurm allocation): writes\n"
                "                          DIR/loom.join, the job's port and key (yours only)\n"
                "  --join DIR              run workers only, for the loom-run serving DIR; no\n"
                "                          task file. Both need an ompi-server:\n"
                "  --ompi-server FILE      its URI file (cluster/ompi-server start DIR writes\n"
                "                          DIR/ompi-server.uri); passed to the mpirun loom-run\n"
                "                          starts (under your own mpirun, give it\n"
                "                          --ompi-server file:FILE yourself)\n"
                "  --quiet                 no progress and no summary\n"
                "  --help                  this text\n"
                "  --version               loom, MPI and build id of this program\n\n"
                "Every task sees LOOM_TASK_ID (its line number), LOOM_ATTEMPT, LOOM_RANK,\n"
                "LOOM_HOST and LOOM_SLOT. A task's captured output is capped at\n"
                "process.output_limit bytes a stream (--process-output-limit); the rest is\n"
                "counted, not kept, and the cut is said.\n\n"
                "loom options (also LOOM_* variables and a config file):\n");
    loom_config_print_help(fp);
    fprintf(fp, "\nExit status: 0 every task succeeded; 1-100 that many tasks failed; 101 more\n"
                "than 100 failed; 102 the run could not complete (MPI, a worker, the job log\n"
                "or --results failed: --resume runs what was not recorded); 255 usage or\n"
                "input error, nothing run.\n\n"
                "Started without an MPI launcher, loom-run starts mpirun itself: a master\n"
                "and one worker using every core, or inside a Slurm allocation one worker\n"
                "per node. LOOM_MPIRUN names another launcher (e.g. a script adding\n"
                "--hostfile), LOOM_RUN_NODES=N makes it N+1 ranks mapped by node. It\n"
                "passes --enable-recovery (a lost worker's tasks run elsewhere) and\n"
                "stops an mpirun still running 10 s after the master finished. On one\n"
                "node (not with --serve/--join) it also sets OMPI_MCA_pml=ob1 and pool.pin\n"
                "unless you set them.\n");
}

static int
launched_by_mpi(void)
{
    const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (getenv(vars[i]))
            return 1;
    return 0;
}

/* Started by hand, not by an MPI launcher: start the MPI job ourselves, as
 * `loom-run tasks.txt` on a laptop should — a master and one worker whose
 * pool fills this machine's cores, or, in a Slurm allocation of N nodes,
 * N+1 ranks placed round-robin by node (rank 0 and rank N share the first
 * node, every node gets one worker). Returns only on failure. */
/* The master's exit status from the status file: -1 while not there. */
static int
read_status(const char *path)
{
    char buf[16] = "";
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *end;
    long v = strtol(buf, &end, 10);
    return n && *end == '\n' && v >= 0 && v <= 255 ? (int)v : -1;
}

/* Run mpirun and wait for it. Once the master has written its status, a
 * hung mpirun (Open MPI may wait forever for a rank lost with its node or
 * link) gets SUPERVISE_GRACE seconds, then SIGTERM, then SIGKILL. The
 * result is the master's status; 102 when it never gave one. */
#define SUPERVISE_GRACE 10.0
static int
supervise(const char *mpirun, char **args, const char *status_file)
{
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, PROG ": fork: %s\n", strerror(errno));
        return EXIT_TROUBLE;
    }
    if (pid == 0) {
        execvp(mpirun, args);
        fprintf(stderr, PROG ": cannot start %s: %s (run under mpirun, or set LOOM_MPIRUN)\n",
                mpirun, strerror(errno));
        _exit(EXIT_TROUBLE);
    }
    /* Ctrl-C reaches mpirun too (same process group): wait for it */
    signal(SIGINT, SIG_IGN);
    signal(SIGQUIT, SIG_IGN);
    double reported = 0;
    int st = 0, termed = 0;
    for (;;) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid || (w < 0 && errno != EINTR))
            break;
        double now = mono_now();
        if (!reported && read_status(status_file) >= 0)
            reported = now;
        if (reported && now - reported > SUPERVISE_GRACE + (termed ? 5 : 0)) {
            if (!termed)
                fprintf(stderr,
                        PROG ": mpirun has not exited %.0f s after the master: stopping "
                             "it (a lost rank holds it)\n",
                        SUPERVISE_GRACE);
            kill(pid, termed ? SIGKILL : SIGTERM);
            termed++;
        }
        struct timespec tick = {0, 50 * 1000 * 1000};
        nanosleep(&tick, NULL);
    }
    int master = read_status(status_file);
    if (master >= 0)
        return master;
    if (WIFEXITED(st) && WEXITSTATUS(st) == EXIT_TROUBLE)
        return EXIT_TROUBLE; /* could not start mpirun: said above */
    fprintf(stderr, PROG ": the master ended without an exit status (mpirun: %s %d)\n",
            WIFEXITED(st) ? "exit" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    return EXIT_TROUBLE;
}

static int
launch_self(int argc, char **argv, const struct opts *o)
{
    const char *mpirun = getenv("LOOM_MPIRUN");
    if (!mpirun || !*mpirun)
        mpirun = "mpirun";
    long nodes = 1;
    const char *sn = getenv("SLURM_JOB_NUM_NODES");
    if (!sn)
        sn = getenv("SLURM_NNODES");
    if (!getenv("SLURM_JOB_ID"))
        sn = NULL;
    /* a launcher that knows the hosts (LOOM_MPIRUN) and how many */
    if (getenv("LOOM_RUN_NODES"))
        sn = getenv("LOOM_RUN_NODES");
    if (sn) {
        char *end;
        long v = strtol(sn, &end, 10);
        if (!*end && v >= 1 && v <= 100000)
            nodes = v;
    }
    char **args = calloc((size_t)argc + 15, sizeof *args);
    if (!args)
        return EXIT_TROUBLE;
    static char np[24], server[4200];
    /* joining: workers only, one per node */
    snprintf(np, sizeof np, "%ld", o->join ? nodes : nodes + 1);
    int n = 0;
    args[n++] = (char *)mpirun;
    args[n++] = "--quiet"; /* the exit status says it; no banner per failed task */
    /* a dead worker must not take the job down: loom re-runs its tasks */
    args[n++] = "--enable-recovery";
    args[n++] = "--oversubscribe";
    args[n++] = "--bind-to";
    args[n++] = "none";
    if (nodes > 1) {
        args[n++] = "--map-by";
        args[n++] = "node";
    }
    if (o->ompi_server) { /* the rendezvous that lets jobs join (--serve, --join) */
        snprintf(server, sizeof server, "file:%s", o->ompi_server);
        args[n++] = "--ompi-server";
        args[n++] = server;
    }
    args[n++] = "-np";
    args[n++] = np;
    /* our own path now: "/proc/self/exe" would name mpirun once it runs */
    static char self[4096];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) {
        fprintf(stderr, PROG ": cannot find my own executable: %s\n", strerror(errno));
        free(args);
        return EXIT_TROUBLE;
    }
    self[len] = '\0';
    args[n++] = self;
    for (int i = 1; i < argc; i++)
        args[n++] = argv[i];
    /* a launcher that is not an MPI launcher must not start us again */
    setenv("LOOM_RUN_SELF_LAUNCHED", "1", 1);
    /* the ranks' stderr is a pipe to mpirun: tell them it ends on a terminal */
    if (isatty(STDERR_FILENO))
        setenv("LOOM_RUN_TTY", "1", 1);
    if (getuid() == 0) { /* Open MPI refuses root unless told it is meant */
        setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 0);
        setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 0);
    }
    setenv("OMPI_MCA_mpi_yield_when_idle", "1", 0);
    /* One node, nobody joining: every message goes through shared memory
     * (ob1 + vader), so choosing ob1 skips probing the cm and ucx PMLs and
     * their network libraries, 0.2 s of every MPI_Init here (a joining job
     * must pick its master's PML); and the one worker is alone on the
     * node's CPUs, so its pool threads can be pinned (pool.pin; see main).
     * The user's own settings win. */
    if (nodes == 1 && !o->serve && !o->join) {
        setenv("OMPI_MCA_pml", "ob1", 0);
        setenv("LOOM_RUN_PIN", "1", 1);
    }
    /* the master reports its exit status here: with --enable-recovery
     * mpirun's own is always 0 */
    char status_file[] = "/tmp/loom-run-status-XXXXXX";
    int sfd = mkstemp(status_file);
    if (sfd < 0) {
        fprintf(stderr, PROG ": cannot create a status file in /tmp: %s\n", strerror(errno));
        free(args);
        return EXIT_TROUBLE;
    }
    close(sfd);
    setenv("LOOM_RUN_STATUS_FILE", status_file, 1);
    int status = supervise(mpirun, args, status_file);
    unlink(status_file);
    free(args);
    return status;
}

/* Where report_status writes: LOOM_RUN_STATUS_FILE, read by main first. */
static char status_path[PATH_MAX];

/* Under loom-run's own mpirun: tell the launcher the exit status. */
static void
report_status(int status)
{
    FILE *f = status_path[0] ? fopen(status_path, "w") : NULL;
    if (f) {
        fprintf(f, "%d\n", status);
        fclose(f);
    }
}

/* Options of loom-run itself (loom's own were taken out before). Returns
 * -1 to go on, else the exit status. */
static int
parse_args(int argc, char **argv, struct opts *o, int speak)
{
    int have_path = 0;
    char err[256];
#define BAD(...)                                                                                   \
    do {                                                                                           \
        if (speak)                                                                                 \
            fprintf(stderr, PROG ": " __VA_ARGS__);                                                \
        return EXIT_USAGE;                                                                         \
    } while (0)
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            if (speak)
                usage(stdout);
            return EXIT_OK;
        } else if (!strcmp(a, APP_VERSION_OPTION)) {
            if (speak)
                app_print_version(PROG);
            return EXIT_OK;
        } else if (!strcmp(a, "--resume")) {
            o->resume = 1;
        } else if (!strcmp(a, "--resume-failed")) {
            o->resume_failed = 1;
        } else if (!strcmp(a, "--force")) {
            o->force = 1;
        } else if (!strcmp(a, "--quiet")) {
            o->quiet = 1;
        } else if (!strcmp(a, "--keep-order") || !strcmp(a, "-k")) {
            o->keep_order = 1;
        } else if (!strcmp(a, "--tag")) {
            o->tag = 1;
        } else if (!strcmp(a, "--progress")) {
            o->progress = 1;
        } else if (!strcmp(a, "--no-progress")) {
            o->progress = -1;
        } else if (a[0] != '-' || !strcmp(a, "-")) {
            if (have_path)
                BAD("one task file only ('%s' and '%s')\n", o->path, a);
            o->path = a;
            have_path = 1;
        } else if (!v) {
            BAD("unknown argument '%s', or it needs a value (try --help)\n", a);
        } else if (!strcmp(a, "-c") || !strcmp(a, "--command")) {
            o->tmpl = argv[++i];
        } else if (!strcmp(a, "--joblog")) {
            o->joblog = argv[++i];
        } else if (!strcmp(a, "--results")) {
            o->results = argv[++i];
        } else if (!strcmp(a, "--events")) {
            o->events = argv[++i];
        } else if (!strcmp(a, "--report")) {
            o->report = argv[++i];
        } else if (!strcmp(a, "--serve")) {
            o->serve = argv[++i];
        } else if (!strcmp(a, "--join")) {
            o->join = argv[++i];
        } else if (!strcmp(a, "--ompi-server")) {
            o->ompi_server = argv[++i];
        } else if (!strcmp(a, "--halt")) {
            if (lr_halt_parse(v, &o->halt, err, sizeof err) != 0)
                BAD("%s\n", err);
            i++;
        } else if (!strcmp(a, "--retries")) {
            long n = strtol(v, &end, 10);
            if (*end || end == v || n < 0 || n > 1000)
                BAD("--retries needs 0..1000\n");
            o->retries = (int)n;
            i++;
        } else if (!strcmp(a, "--timeout")) {
            o->timeout = strtod(v, &end);
            if (*end || end == v || !(o->timeout > 0 && o->timeout <= 2000000))
                BAD("--timeout needs seconds > 0\n");
            i++;
        } else if (!strcmp(a, "--progress-interval")) {
            o->progress_interval = strtod(v, &end);
            if (*end || end == v || !(o->progress_interval >= 0 && o->progress_interval <= 1e6))
                BAD("--progress-interval needs seconds >= 0\n");
            i++;
        } else {
            BAD("unknown argument '%s' (try --help)\n", a);
        }
    }
    if ((o->resume || o->resume_failed) && !o->joblog)
        BAD("--resume and --resume-failed need --joblog FILE\n");
    if (o->serve && o->join)
        BAD("--serve and --join exclude each other\n");
    if (o->join && (have_path || o->tmpl || o->joblog || o->results || o->events || o->report))
        BAD("--join runs workers only: the task file and what records tasks belong to the\n"
            "master's loom-run\n");
#undef BAD
    return -1;
}

int
main(int argc, char **argv)
{
    loom_config *cfg = NULL;
    loom_job *job = NULL;
    int status = EXIT_USAGE, mpi_up = 0, speak = app_launcher_rank() == 0;
    struct opts o = {.path = "-", .progress_interval = 5};
    /* Every line of ours in one write(2), also those printed in pieces
     * (the summary, tagged task output): under mpirun stdout and stderr
     * travel through separate pipes, and a line written in pieces could
     * get another stream's lines in the middle. */
    static char errbuf[1 << 16];
    setvbuf(stderr, errbuf, _IOLBF, sizeof errbuf);
    const char *status_env = getenv("LOOM_RUN_STATUS_FILE");
    snprintf(status_path, sizeof status_path, "%s", status_env ? status_env : "");

    /* the command line as given, loom's options included: the ranks of a
     * self-launched run read them again (loom_config_load takes them out) */
    int given_argc = argc;
    char **given_argv = calloc((size_t)argc + 1, sizeof *given_argv);
    if (!given_argv || loom_config_create(&cfg) != LOOM_OK) {
        free(given_argv);
        return EXIT_TROUBLE;
    }
    memcpy(given_argv, argv, (size_t)argc * sizeof *argv);
    if (loom_config_load(cfg, &argc, argv) != LOOM_OK) {
        if (speak)
            fprintf(stderr, PROG ": %s\n", loom_config_error(cfg));
        goto out;
    }
    if ((status = parse_args(argc, argv, &o, speak)) >= 0)
        goto out;
    /* --events and --report are the job's job.events and job.report
     * (--job-events, LOOM_JOB_EVENTS, ...): the job writes them, with the
     * attempts loom-run records (own_attempts below) */
    if ((o.events && loom_config_set(cfg, "job.events", o.events, "--events") != LOOM_OK) ||
        (o.report && loom_config_set(cfg, "job.report", o.report, "--report") != LOOM_OK)) {
        if (speak)
            fprintf(stderr, PROG ": %s\n", loom_config_error(cfg));
        status = EXIT_USAGE;
        goto out;
    }
    loom_config_apply(cfg);
    loom_config_get_int(cfg, "process.output_limit", &worker_set.output_limit);
    loom_config_get_double(cfg, "process.kill_grace", &worker_set.kill_grace);
    if (o.timeout == 0)
        loom_config_get_double(cfg, "process.timeout", &o.timeout);

    if (!launched_by_mpi() && !getenv("LOOM_RUN_SELF_LAUNCHED")) {
        status = launch_self(given_argc, given_argv, &o);
        free(given_argv);
        loom_config_destroy(cfg);
        return status;
    }
    /* What our launcher (launch_self) told us is ours, not our tasks': a
     * task may itself be a loom-run that must start its own mpirun. Taken
     * out before MPI_Init, while this process has one thread. */
    const char *v = getenv("LOOM_RUN_TTY");
    int tty = v && !strcmp(v, "1");
    v = getenv("LOOM_RUN_PIN");
    if (v && !strcmp(v, "1") && !strcmp(loom_config_origin(cfg, "pool.pin"), "default"))
        loom_config_set(cfg, "pool.pin", "true", "loom-run on one node");
    unsetenv("LOOM_RUN_SELF_LAUNCHED");
    unsetenv("LOOM_RUN_STATUS_FILE");
    unsetenv("LOOM_RUN_TTY");
    unsetenv("LOOM_RUN_PIN");
    /* before the job starts: its threads may run tasks at once */
    worker_set.cancel_fd = eventfd(0, EFD_CLOEXEC);
    if (worker_set.cancel_fd <= 0) {
        fprintf(stderr, PROG ": eventfd: %s\n", strerror(errno));
        status = EXIT_TROUBLE;
        goto out;
    }
    static const struct app_fn fns[] = {{"sh", run_command, NULL}};
    loom_job_opts jo = {
        .config = cfg, .title = o.path, .own_attempts = 1, .serve = o.serve, .join = o.join};
    status = app_start_opts(PROG, &argc, &argv, &jo, fns, 1, &mpi_up, &job);
    if (status != 0) {
        status = status == 2 ? EXIT_USAGE : EXIT_TROUBLE;
        goto out;
    }
    if (loom_job_is_master(job)) {
        int live = o.progress == 1 || (o.progress == 0 && (isatty(STDERR_FILENO) || tty));
        struct run run = {.o = &o, .job = job, .live = !o.quiet && live};
        status = run_master(&run);
        /* also writes --events' run_end and --report: a write error is 102 */
        if (loom_job_finish(job) != LOOM_OK)
            status = EXIT_TROUBLE;
    } else {
        status = serve_worker(job);
    }
out:
    free(given_argv);
    if (speak)
        report_status(status);
    app_end(job, mpi_up);
    if (worker_set.cancel_fd > 0)
        close(worker_set.cancel_fd);
    loom_config_destroy(cfg);
    return status;
}
