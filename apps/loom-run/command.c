/* SPDX-License-Identifier: MIT */
/*
 * loom-run's worker side: the "sh" task every pool thread runs (one
 * command of the task file, with its environment, directly or through
 * /bin/sh -c, and the report sent back), and the watcher that waits for
 * the master's --halt word.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <loom.h>

#include "loomrun.h"
#include "taskfile.h"

static struct {
    const struct lr_opts *o;
    int64_t output_limit;
    double kill_grace;
    pthread_mutex_t delay_mu; /* --delay: one start at a time ... */
    double last_start;        /* ... this long after the last (monotonic) */
    atomic_int halted;        /* the master said stop: start nothing more */
    int cancel_fd;            /* readable once the master said "now"; 0 = none */
} worker_set = {.delay_mu = PTHREAD_MUTEX_INITIALIZER};

/* LR_STOP_SIGNAL arrived: set only by stop_handler. */
static volatile sig_atomic_t stop_requested;

/* LR_STOP_SIGNAL: start nothing more and kill the running commands (as
 * --halt now does); the master sees it through lr_stop_requested().
 * Async-signal-safe: a lock-free atomic and write(2). */
static void
stop_handler(int sig)
{
    (void)sig;
    int saved = errno;
    stop_requested = 1;
    atomic_store(&worker_set.halted, 1);
    uint64_t one = 1;
    if (worker_set.cancel_fd > 0)
        (void)!write(worker_set.cancel_fd, &one, sizeof one);
    errno = saved;
}

int
lr_stop_requested(void)
{
    return stop_requested != 0;
}

int
lr_worker_init(loom_config *cfg, const struct lr_opts *o)
{
    worker_set.o = o;
    loom_config_get_int(cfg, "process.output_limit", &worker_set.output_limit);
    loom_config_get_double(cfg, "process.kill_grace", &worker_set.kill_grace);
    /* --halt: a worker holds no task it has no free thread for, or a
     * thread ending a failed task would start the next queued one before
     * the master's word could arrive */
    if ((o->halt.when != LR_HALT_NEVER || o->delay > 0 || o->timeout_pct > 0) &&
        !strcmp(loom_config_origin(cfg, "job.prefetch"), "default"))
        loom_config_set(cfg, "job.prefetch", "0", "loom-run --halt/--delay/--timeout P%");
    lr_capture_config(cfg, o);
    worker_set.cancel_fd = eventfd(0, EFD_CLOEXEC);
    if (worker_set.cancel_fd <= 0) {
        fprintf(stderr, PROG ": eventfd: %s\n", strerror(errno));
        return -1;
    }
    struct sigaction sa = {.sa_handler = stop_handler};
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(LR_STOP_SIGNAL, &sa, NULL);
    return 0;
}

void
lr_worker_end(void)
{
    if (worker_set.cancel_fd > 0)
        close(worker_set.cancel_fd);
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

/* What every task sees besides the worker's environment: LOOM_TASK_ID,
 * LOOM_ATTEMPT, LOOM_RANK, LOOM_HOST and LOOM_SLOT (list: NULL-ended). */
struct task_env {
    char task[40], attempt[32], rank[32], host[300], slot[32];
    const char *list[6];
};

static void
task_env_fill(struct task_env *e, loom_task *task, const struct run_req *req)
{
    loom_context *ctx = loom_task_context(task);
    snprintf(e->task, sizeof e->task, "LOOM_TASK_ID=%llu", (unsigned long long)req->seq);
    snprintf(e->attempt, sizeof e->attempt, "LOOM_ATTEMPT=%u", req->attempt);
    snprintf(e->rank, sizeof e->rank, "LOOM_RANK=%d", loom_context_rank(ctx));
    snprintf(e->host, sizeof e->host, "LOOM_HOST=%s", loom_context_host(ctx));
    snprintf(e->slot, sizeof e->slot, "LOOM_SLOT=%d", loom_context_index(ctx) + 1);
    const char *list[] = {e->task, e->attempt, e->rank, e->host, e->slot, NULL};
    memcpy(e->list, list, sizeof list);
}

/* --delay: wait until o->delay after the last start on this worker (one
 * start at a time). When it started (epoch seconds: the job log's
 * Starttime, taken in turn, so two are at least the delay apart), or 0
 * without --delay. */
static double
delay_start(void)
{
    double d = worker_set.o->delay, start;
    if (d <= 0)
        return 0;
    pthread_mutex_lock(&worker_set.delay_mu);
    for (;;) {
        double now = lr_seconds(CLOCK_REALTIME), wait = worker_set.last_start + d - now;
        if (worker_set.last_start == 0 || wait <= 0 || wait > d || atomic_load(&worker_set.halted))
            break;                      /* wait > d: the clock went back */
        wait = wait > 0.1 ? 0.1 : wait; /* a halt is seen within 0.1 s */
        struct timespec ts = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
        nanosleep(&ts, NULL);
    }
    worker_set.last_start = start = lr_seconds(CLOCK_REALTIME);
    pthread_mutex_unlock(&worker_set.delay_mu);
    return start;
}

/* --tagstring's {%} (LR_TAG_SLOT bytes in the tag the master sent): this
 * thread's slot, in a copy (*len: its bytes) to free; NULL when there is
 * none or no memory (the tag is then used as it came). */
static char *
tag_slot(const char *tag, size_t tag_len, loom_task *task, size_t *len)
{
    if (!worker_set.o->tagstring || !memchr(tag, LR_TAG_SLOT, tag_len))
        return NULL;
    char slot[16];
    int sl = snprintf(slot, sizeof slot, "%d", loom_context_index(loom_task_context(task)) + 1);
    size_t n = 0;
    for (size_t i = 0; i < tag_len; i++)
        n += tag[i] == LR_TAG_SLOT ? (size_t)sl : 1;
    char *t = malloc(n + 1);
    if (!t)
        return NULL;
    for (size_t i = 0, o = 0; i < tag_len; i++) {
        if (tag[i] == LR_TAG_SLOT)
            memcpy(t + o, slot, (size_t)sl), o += (size_t)sl;
        else
            t[o++] = tag[i];
    }
    t[n] = '\0';
    *len = n;
    return t;
}

/* Run cmd (cmd_len bytes) to completion with env: exec'd directly when it
 * is plain words, else with /bin/sh -c; a program that is not found or
 * cannot be executed is given to the shell too, to say what is wrong with
 * its exit codes 127/126; in: req->stdin_len bytes for its standard
 * input. *start: when it started (epoch seconds; kept when the caller set
 * it, --delay). Returns loom_proc_run's result (r to free on OK, ENOTFOUND,
 * ENOEXEC). */
static loom_err
run_it(const char *cmd, size_t cmd_len, const struct run_req *req, const char *in,
       const char *const *env, double *start, loom_proc_result *r, struct lr_capture *cap)
{
    char *words = lr_dup_bytes(cmd, cmd_len), *argv[64];
    int direct = words && split_simple(words, argv, 64);
    loom_proc_opts o = {.shell_cmd = direct ? NULL : cmd,
                        .argv = direct ? (const char *const *)argv : NULL,
                        .env = env,
                        .stdin_data = req->stdin_len ? in : NULL, /* --pipe's block */
                        .stdin_len = req->stdin_len,
                        .output_limit = (size_t)worker_set.output_limit,
                        .timeout_ms = req->timeout_ms,
                        .kill_grace_ms =
                            worker_set.kill_grace > 0 ? (int)(worker_set.kill_grace * 1000) : -1,
                        .cancel_fd = worker_set.cancel_fd,
                        /* the task ends with its command: a daemon it
                         * started keeps its pipes, not the task */
                        .exit_ends = 1,
                        .env_drop = lr_task_env_drop(),
                        .output_fn = lr_capture_sink, /* capture.c spools it */
                        .output_arg = cap};
    if (*start <= 0)
        *start = lr_seconds(CLOCK_REALTIME);
    loom_err rc = loom_proc_run(&o, r);
    if (direct && (rc == LOOM_ENOTFOUND || rc == LOOM_ENOEXEC)) {
        loom_proc_result_free(r);
        o.argv = NULL;
        o.shell_cmd = cmd;
        rc = loom_proc_run(&o, r);
    }
    free(words);
    return rc;
}

/* How the command ended (run_it's rc), into rep: from r when it ran;
 * else, as a shell says it, 127 when the program was not found, 126 when
 * it could not be executed (E2BIG, EACCES, ...) or not even started
 * (ENOMEM: spawn_errno says why). */
static void
fill_rep(struct run_rep *rep, loom_err rc, const loom_proc_result *r)
{
    if (rc != LOOM_OK) {
        rep->exitval = rc == LOOM_ENOTFOUND ? 127 : 126;
        rep->spawn_errno = r->spawn_errno ? r->spawn_errno : rc == LOOM_ENOMEM ? ENOMEM : EIO;
        return;
    }
    rep->runtime = r->wall_seconds;
    /* GNU Parallel's convention: a signal gives Exitval 0 and the
     * signal; a timeout gives -1 */
    rep->exitval = r->timed_out ? -1 : r->exited ? r->exit_code : 0;
    rep->signal = r->signaled ? r->term_signal : 0;
    rep->timed_out = r->timed_out;
    rep->outcome = r->cancelled ? REP_KILLED : REP_RAN;
    rep->spawn_errno = r->spawn_errno;
}

int
lr_run_command(loom_task *task, void *user)
{
    (void)user;
    size_t len;
    const char *p = loom_task_payload(task, &len);
    struct run_req req;
    if (len < sizeof req)
        return 1;
    memcpy(&req, p, sizeof req);
    if (req.cmd_len > len - sizeof req || req.stdin_len > len - sizeof req - req.cmd_len)
        return 1;
    if (atomic_load(&worker_set.halted))
        return reply_not_run(task, &req);
    size_t cmd_len = req.cmd_len, tag_len = len - sizeof req - cmd_len - req.stdin_len;
    const char *tag = p + sizeof req + cmd_len;
    const char *in = tag + tag_len; /* --pipe's block */
    char *slotted = tag_slot(tag, tag_len, task, &tag_len);
    tag = slotted ? slotted : tag;
    char *cmd = lr_dup_bytes(p + sizeof req, cmd_len);
    double start = delay_start();
    if (!cmd || atomic_load(&worker_set.halted)) {
        int status = cmd ? reply_not_run(task, &req) : 1;
        free(slotted);
        free(cmd);
        return status;
    }
    struct task_env env;
    task_env_fill(&env, task, &req);
    loom_proc_result r = {0};
    struct lr_capture cap;
    lr_capture_init(&cap);
    struct run_rep rep = {.seq = req.seq, .attempt = req.attempt, .cmd_len = cmd_len};
    rep.tag_len = tag_len;
    if (worker_set.o->verbose) /* -t: the command on the master's stderr first */
        rep.announced = lr_capture_announce(task, req.seq, req.attempt, cmd, cmd_len);
    (void)lr_capture_live(&cap, task, req.seq, req.attempt, worker_set.o->tag ? tag : NULL,
                          tag_len); /* failing, the output comes whole */
    loom_err rc = run_it(cmd, cmd_len, &req, in, env.list, &start, &r, &cap);
    int ran = rc == LOOM_OK || rc == LOOM_ENOTFOUND || rc == LOOM_ENOEXEC;
    rep.start = start;
    fill_rep(&rep, rc, &r);
    int status = lr_capture_send(task, &rep, cmd, tag, &cap);
    lr_capture_free(&cap);
    if (ran)
        loom_proc_result_free(&r);
    free(cmd);
    free(slotted);
    return status;
}

/* ---- the --halt watcher ----------------------------------------------------------- */

/* A worker's --halt watcher: waits on its queue "loom-run.halt.<rank>"
 * (no traffic while it waits) for the master's "soon" or "now", until
 * loom_job_serve() returns and the queue stops working. */
static void *
halt_watch(void *arg)
{
    loom_job *job = arg;
    loom_queue *q = NULL;
    loom_context_set_name("Halt");
    if (lr_halt_queue_open(job, loom_job_rank(job), &q) != LOOM_OK)
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

int
lr_serve_worker(loom_job *job)
{
    lr_task_env_note(); /* before the first task: MPI_Init has set its own */
    pthread_t watcher;
    int watching = pthread_create(&watcher, NULL, halt_watch, job) == 0;
    loom_err rc = loom_job_serve(job);
    if (watching)
        pthread_join(watcher, NULL);
    return rc == LOOM_OK && watching ? EXIT_OK : EXIT_TROUBLE;
}
