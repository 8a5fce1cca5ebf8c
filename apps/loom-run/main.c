/* SPDX-License-Identifier: MIT */
/*
 * loom-run — run a file of shell commands across the ranks of an MPI job.
 *
 *   mpirun -np 3 --bind-to none loom-run [options] [TASKFILE|-]
 *   mpirun -np 3 --bind-to none loom-run [options] -c 'gzip -9 {}' < files.txt
 *
 * Rank 0 reads the task file as a stream (one command per line; blank lines
 * and # comments skipped; or, with -c, one input per line for a GNU
 * Parallel style template) and submits each command as a task; worker
 * ranks run it with /bin/sh -c on their pool threads, capturing stdout and
 * stderr, and send back the exit status, the output and the timings. The
 * master prints each task's output whole when it finishes (never
 * interleaved with another task's), appends a line to the job log (GNU
 * Parallel's format), and retries failures up to --retries times.
 *
 * Task numbers (Seq, LOOM_TASK_ID) are line numbers in the task file, as
 * GNU Parallel counts them, so a job log can be resumed by either tool.
 *
 * Started without an MPI launcher, it starts one itself: mpirun with a
 * master and one worker whose pool uses every core this process may use.
 *
 * This is the first cut of issue 4: see "Not yet" in --help.
 *
 * Exit status: 0 every task succeeded; 1 some task failed (after its
 * retries) or the job could not run; 2 usage or input error (nothing run).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <loom.h>

#include "../common/app.h"
#include "joblog.h"
#include "taskfile.h"

#define PROG "loom-run"

/* ---- what travels ----------------------------------------------------------- */

/* master -> worker: this header, then the command, then the tag (the
 * input line with -c, else the command again: what --tag prints) */
struct run_req {
    uint64_t seq;
    uint32_t attempt;
    int32_t timeout_ms;
    uint64_t cmd_len;
};

/* worker -> master: this header, then command, tag, stdout, stderr */
struct run_rep {
    uint64_t seq;
    double start, runtime;
    uint64_t out_len, err_len, out_total, err_total, cmd_len, tag_len;
    int32_t exitval, signal, timed_out, spawn_errno;
    uint32_t attempt;
    char host[64];
};

static struct {
    int64_t output_limit;
    double kill_grace;
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

/* ---- the task every worker thread runs ---------------------------------------- */

/* A command the shell would only split on spaces and run: no quoting,
 * expansion, redirection, globbing, assignment or builtin. Such a command
 * is exec'd directly, saving the shell's fork and exec (half the cost of
 * a short task); anything else goes to /bin/sh -c, so the result is the
 * same either way. Fills argv (at most max-1 words, NULL-terminated) in
 * place in cmd. */
static int
split_simple(char *cmd, char **argv, int max)
{
    static const char *const builtins[] = {
        ".",      ":",       "alias", "bg",    "break",  "cd",    "command", "continue",
        "echo",   "eval",    "exec",  "exit",  "export", "fc",    "fg",      "getopts",
        "hash",   "jobs",    "kill",  "local", "printf", "pwd",   "read",    "readonly",
        "return", "set",     "shift", "test",  "times",  "trap",  "type",    "ulimit",
        "umask",  "unalias", "unset", "wait",  "[",      "false", "true"};
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
                            worker_set.kill_grace > 0 ? (int)(worker_set.kill_grace * 1000) : -1};
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
    snprintf(rep.host, sizeof rep.host, "%s", loom_context_host(ctx));
    if (rc == LOOM_OK || rc == LOOM_ENOTFOUND || rc == LOOM_ENOEXEC) {
        rep.runtime = r.wall_seconds;
        /* GNU Parallel's convention: a signal gives Exitval 0 and the
         * signal; a timeout gives -1 */
        rep.exitval = r.timed_out ? -1 : r.exited ? r.exit_code : 0;
        rep.signal = r.signaled ? r.term_signal : 0;
        rep.timed_out = r.timed_out;
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
    if (rc == LOOM_OK || rc == LOOM_ENOTFOUND || rc == LOOM_ENOEXEC)
        loom_proc_result_free(&r);
    free(cmd);
    return status;
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
    uint64_t out_total;
};

struct run {
    loom_job *job;
    lr_joblog *log;
    int retries, timeout_ms, quiet, keep_order, tag;
    uint64_t submitted, succeeded, failed, retried, skipped;
    uint64_t *order; /* --keep-order: seqs in submission order (a ring) */
    size_t order_head, order_count, order_cap;
    struct held *held;
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

static void
print_output(struct run *run, uint64_t seq, const char *out, size_t out_len, uint64_t out_total,
             const char *err, size_t err_len, const char *tag, size_t tag_len)
{
    const char *t = run->tag ? tag : NULL;
    emit(stdout, out, out_len, t, tag_len);
    if (out_total > out_len)
        fprintf(stdout, "%s[loom-run: task %llu: stdout truncated: %llu of %llu bytes kept]\n",
                out_len && out[out_len - 1] != '\n' && !t ? "\n" : "", (unsigned long long)seq,
                (unsigned long long)out_len, (unsigned long long)out_total);
    fflush(stdout);
    emit(stderr, err, err_len, t, tag_len);
    fflush(stderr);
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
        print_output(run, h->seq, h->out, h->out_len, h->out_total, h->err, h->err_len, h->tag,
                     h->tag_len);
        free(h->out);
        free(h->err);
        free(h->tag);
        free(h);
        run->order_head = (run->order_head + 1) % run->order_cap;
        run->order_count--;
    }
}

static loom_err
submit(struct run *run, uint64_t seq, unsigned attempt, const char *cmd, size_t len,
       const char *tag, size_t tag_len, int timeout)
{
    struct run_req req = {seq, attempt, run->timeout_ms, len};
    char *buf = malloc(sizeof req + len + tag_len);
    if (!buf)
        return LOOM_ENOMEM;
    memcpy(buf, &req, sizeof req);
    memcpy(buf + sizeof req, cmd, len);
    memcpy(buf + sizeof req + len, tag, tag_len);
    loom_err rc = loom_job_submit(run->job, "sh", buf, sizeof req + len + tag_len, timeout, NULL);
    free(buf);
    return rc;
}

/* Handle one finished attempt: output, job log, retry. */
static int
finish_one(struct run *run, const loom_result *res)
{
    struct run_rep rep;
    if (res->status != 0 || res->len < sizeof rep) {
        fprintf(stderr, PROG ": a worker could not report a task (status %d)\n", res->status);
        run->failed++;
        return -1;
    }
    memcpy(&rep, res->data, sizeof rep);
    const char *cmd = (const char *)res->data + sizeof rep;
    const char *tag = cmd + rep.cmd_len;
    const char *out = tag + rep.tag_len, *err = out + rep.out_len;
    if (sizeof rep + rep.cmd_len + rep.tag_len + rep.out_len + rep.err_len != res->len)
        return -1;
    int ok = rep.exitval == 0 && rep.signal == 0;
    int final = ok || (int)rep.attempt > run->retries;
    /* the task's output, whole: now, or (--keep-order) the final attempt's
     * once every earlier task's is out */
    if (!run->keep_order) {
        print_output(run, rep.seq, out, rep.out_len, rep.out_total, err, rep.err_len, tag,
                     rep.tag_len);
    } else if (final) {
        struct held *h = calloc(1, sizeof *h);
        if (!h)
            return -1;
        h->next = run->held;
        h->seq = rep.seq;
        h->out = dup_bytes(out, rep.out_len);
        h->err = dup_bytes(err, rep.err_len);
        h->tag = dup_bytes(tag, rep.tag_len);
        h->out_len = rep.out_len;
        h->err_len = rep.err_len;
        h->tag_len = rep.tag_len;
        h->out_total = rep.out_total;
        run->held = h;
        flush_in_order(run);
    }
    if (rep.spawn_errno)
        fprintf(stderr, PROG ": task %llu: /bin/sh could not start: %s\n",
                (unsigned long long)rep.seq, strerror(rep.spawn_errno));

    char *command = dup_bytes(cmd, rep.cmd_len);
    if (!command)
        return -1;
    if (run->log) {
        struct lr_joblog_entry e = {rep.seq,       rep.host,    rep.start,  rep.runtime, 0,
                                    rep.out_total, rep.exitval, rep.signal, command,     0};
        if (lr_joblog_write(run->log, &e) != 0)
            fprintf(stderr, PROG ": writing the job log: %s\n", strerror(errno));
    }
    int rc = 0;
    if (ok) {
        run->succeeded++;
    } else if (!final) {
        run->retried++;
        if (submit(run, rep.seq, rep.attempt + 1, command, rep.cmd_len, tag, rep.tag_len,
                   LOOM_FOREVER) != LOOM_OK)
            rc = -1;
    } else {
        run->failed++;
    }
    free(command);
    return rc;
}

static int
run_master(struct run *run, const char *path, const char *tmpl, const char *joblog, int resume,
           int resume_failed, int force)
{
    char err[512];
    struct done_set done = {0};
    lr_reader *rd = NULL;
    int status = 2;

    if (joblog) {
        if (lr_joblog_open(joblog, resume || resume_failed, &run->log, err, sizeof err) != 0) {
            fprintf(stderr, PROG ": %s\n", err);
            goto out;
        }
        if ((resume || resume_failed) &&
            lr_joblog_read(joblog, collect_done, &done, NULL, err, sizeof err) != 0) {
            fprintf(stderr, PROG ": %s\n", err);
            goto out;
        }
        if (done.n)
            qsort(done.a, done.n, sizeof *done.a, cmp_done);
    }
    struct lr_reader_opts ro = {.skip_comments = tmpl == NULL};
    if (lr_reader_open(path, &ro, &rd, err, sizeof err) != 0) {
        fprintf(stderr, PROG ": %s\n", err);
        goto out;
    }
    struct lr_line line;
    int r;
    status = 1;
    while ((r = lr_reader_next(rd, &line, err, sizeof err)) == 1) {
        char *expanded = NULL;
        const char *cmd = line.text;
        size_t len = line.len;
        if (tmpl) {
            expanded = lr_template_expand(tmpl, line.text, line.len, line.lineno, err, sizeof err);
            if (!expanded) {
                fprintf(stderr, PROG ": %s\n", err);
                goto out;
            }
            cmd = expanded;
            len = strlen(expanded);
        }
        const struct done_entry *d = find_done(&done, line.lineno);
        if (d && d->hash != lr_task_hash(cmd, len) && !force) {
            fprintf(stderr,
                    PROG ": %s:%llu: the task differs from the one the job log recorded as "
                         "task %llu: the task file changed (use --force to run it anyway)\n",
                    path, (unsigned long long)line.lineno, (unsigned long long)line.lineno);
            free(expanded);
            status = 2;
            goto out;
        }
        if (d && (resume || d->ok)) {
            run->skipped++;
            free(expanded);
            continue;
        }
        /* stream: when the job is full, take finished tasks until it has room */
        loom_err rc;
        if (run->keep_order && order_push(run, line.lineno) != 0) {
            free(expanded);
            goto out;
        }
        while ((rc = submit(run, line.lineno, 1, cmd, len, line.text, line.len, LOOM_NOWAIT)) ==
               LOOM_EFULL) {
            loom_result res;
            if (loom_job_next_result(run->job, LOOM_FOREVER, &res) == LOOM_OK) {
                finish_one(run, &res);
                loom_result_free(&res);
            }
        }
        free(expanded);
        if (rc != LOOM_OK) {
            fprintf(stderr, PROG ": submitting task %llu: %s\n", (unsigned long long)line.lineno,
                    loom_strerror(rc));
            goto out;
        }
        run->submitted++;
    }
    if (r < 0) {
        fprintf(stderr, PROG ": %s\n", err);
        status = 2;
        goto out;
    }
    struct lr_reader_stats st;
    lr_reader_stats(rd, &st);
    if (st.tasks == 0) {
        fprintf(stderr, PROG ": %s: no tasks (an empty file, or only comments)\n", path);
        status = 2;
        goto out;
    }
    loom_result res;
    loom_err rc;
    while ((rc = loom_job_next_result(run->job, LOOM_FOREVER, &res)) == LOOM_OK) {
        finish_one(run, &res);
        loom_result_free(&res);
    }
    status = run->failed ? 1 : 0;
    if (!run->quiet)
        fprintf(stderr,
                PROG ": %llu tasks: %llu succeeded, %llu failed, %llu retried, %llu skipped "
                     "(resume)\n",
                (unsigned long long)(run->submitted + run->skipped),
                (unsigned long long)run->succeeded, (unsigned long long)run->failed,
                (unsigned long long)run->retried, (unsigned long long)run->skipped);
out:
    lr_reader_close(rd);
    if (run->log && lr_joblog_close(run->log) != 0)
        fprintf(stderr, PROG ": closing the job log: %s\n", strerror(errno));
    run->log = NULL;
    free(done.a);
    free(run->order);
    for (struct held *h = run->held, *next; h; h = next) {
        next = h->next;
        free(h->out);
        free(h->err);
        free(h->tag);
        free(h);
    }
    return status;
}

/* ---- main ----------------------------------------------------------------------------- */

static void
usage(FILE *fp)
{
    fprintf(fp,
            "usage: " PROG " [options] [TASKFILE|-]\n"
            "       mpirun -np N --bind-to none " PROG " [options] [TASKFILE|-]\n"
            "       mpirun -np N --bind-to none " PROG " [options] -c TEMPLATE [INPUTFILE|-]\n\n"
            "Runs every line of TASKFILE (default: standard input) with /bin/sh -c on the\n"
            "worker ranks' threads; rank 0 hands them out and prints each task's output\n"
            "whole when it finishes. Blank lines and # comments are skipped.\n\n"
            "  -c, --command TEMPLATE  each input line fills TEMPLATE: {} the line (quoted),\n"
            "                          {#} the task number, {.} {/} {//} {/.} as GNU Parallel\n"
            "  --joblog FILE           GNU Parallel job log, one line per finished attempt\n"
            "  --resume                skip the tasks the job log has (any outcome)\n"
            "  --resume-failed         skip only the tasks the job log has as succeeded\n"
            "  --force                 resume even if a task's command changed\n"
            "  --retries N             run a failed task up to N more times (default 0)\n"
            "  --timeout SECONDS       kill a task's whole process group after this long\n"
            "  -k, --keep-order        print outputs in task-file order (a task's output\n"
            "                          waits for every earlier task's; failed attempts\n"
            "                          that are retried print nothing)\n"
            "  --tag                   prefix each output line with the task's input (with\n"
            "                          -c) or command, and a tab\n"
            "  --quiet                 no summary line\n"
            "  --help                  this text\n\n"
            "Every task sees LOOM_TASK_ID (its line number), LOOM_ATTEMPT, LOOM_RANK,\n"
            "LOOM_HOST and LOOM_SLOT.\n\n"
            "loom options (also LOOM_* variables and a config file):\n");
    loom_config_print_help(fp);
    fprintf(fp, "\nExit status: 0 every task succeeded, 1 a task failed or the job could not\n"
                "run, 2 usage or input error.\n\n"
                "Started without mpirun, loom-run starts `mpirun -np 2` itself (a master and\n"
                "one worker using every core); LOOM_MPIRUN names another launcher.\n\n"
                "Not yet (issue 4): --results, --halt, progress display, retries on another\n"
                "worker.\n");
}

/* Started by hand, not by an MPI launcher: start the MPI job ourselves,
 * a master and one worker whose pool fills this machine's cores, as
 * `loom-run tasks.txt` on a laptop should. Returns only on failure. */
static int
launched_by_mpi(void)
{
    const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (getenv(vars[i]))
            return 1;
    return 0;
}

static void
launch_self(int argc, char **argv)
{
    const char *mpirun = getenv("LOOM_MPIRUN");
    if (!mpirun || !*mpirun)
        mpirun = "mpirun";
    char **args = calloc((size_t)argc + 8, sizeof *args);
    if (!args)
        return;
    int n = 0;
    args[n++] = (char *)mpirun;
    args[n++] = "--quiet"; /* the exit status says it; no banner per failed task */
    args[n++] = "--oversubscribe";
    args[n++] = "--bind-to";
    args[n++] = "none";
    args[n++] = "-np";
    args[n++] = "2";
    /* our own path now: "/proc/self/exe" would name mpirun once it runs */
    static char self[4096];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) {
        fprintf(stderr, PROG ": cannot find my own executable: %s\n", strerror(errno));
        free(args);
        return;
    }
    self[len] = '\0';
    args[n++] = self;
    for (int i = 1; i < argc; i++)
        args[n++] = argv[i];
    /* a launcher that is not an MPI launcher must not start us again */
    setenv("LOOM_RUN_SELF_LAUNCHED", "1", 1);
    if (getuid() == 0) { /* Open MPI refuses root unless told it is meant */
        setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 0);
        setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 0);
    }
    setenv("OMPI_MCA_mpi_yield_when_idle", "1", 0);
    execvp(mpirun, args);
    fprintf(stderr, PROG ": cannot start %s: %s (run under mpirun, or set LOOM_MPIRUN)\n", mpirun,
            strerror(errno));
    free(args);
}

int
main(int argc, char **argv)
{
    loom_config *cfg = NULL;
    loom_job *job = NULL;
    int status = 2, mpi_up = 0, speak = app_launcher_rank() == 0;
    const char *path = "-", *tmpl = NULL, *joblog = NULL;
    int resume = 0, resume_failed = 0, force = 0, retries = 0, quiet = 0, have_path = 0;
    int keep_order = 0, tag = 0;
    double timeout = 0;

    if (loom_config_create(&cfg) != LOOM_OK)
        return 1;
    if (loom_config_load(cfg, &argc, argv) != LOOM_OK) {
        if (speak)
            fprintf(stderr, PROG ": %s\n", loom_config_error(cfg));
        goto out;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            if (speak)
                usage(stdout);
            status = 0;
            goto out;
        } else if ((!strcmp(a, "-c") || !strcmp(a, "--command")) && v) {
            tmpl = v;
            i++;
        } else if (!strcmp(a, "--joblog") && v) {
            joblog = v;
            i++;
        } else if (!strcmp(a, "--resume")) {
            resume = 1;
        } else if (!strcmp(a, "--resume-failed")) {
            resume_failed = 1;
        } else if (!strcmp(a, "--force")) {
            force = 1;
        } else if (!strcmp(a, "--quiet")) {
            quiet = 1;
        } else if (!strcmp(a, "--keep-order") || !strcmp(a, "-k")) {
            keep_order = 1;
        } else if (!strcmp(a, "--tag")) {
            tag = 1;
        } else if (!strcmp(a, "--retries") && v) {
            long n = strtol(v, &end, 10);
            if (*end || end == v || n < 0 || n > 1000) {
                if (speak)
                    fprintf(stderr, PROG ": --retries needs 0..1000\n");
                goto out;
            }
            retries = (int)n;
            i++;
        } else if (!strcmp(a, "--timeout") && v) {
            timeout = strtod(v, &end);
            if (*end || end == v || !(timeout > 0 && timeout <= 2000000)) {
                if (speak)
                    fprintf(stderr, PROG ": --timeout needs seconds > 0\n");
                goto out;
            }
            i++;
        } else if (a[0] != '-' || !strcmp(a, "-")) {
            if (have_path) {
                if (speak)
                    fprintf(stderr, PROG ": one task file only ('%s' and '%s')\n", path, a);
                goto out;
            }
            path = a;
            have_path = 1;
        } else {
            if (speak)
                fprintf(stderr, PROG ": unknown argument '%s' (try --help)\n", a);
            goto out;
        }
    }
    if ((resume || resume_failed) && !joblog) {
        if (speak)
            fprintf(stderr, PROG ": --resume and --resume-failed need --joblog FILE\n");
        goto out;
    }
    loom_config_apply(cfg);
    loom_config_get_int(cfg, "process.output_limit", &worker_set.output_limit);
    loom_config_get_double(cfg, "process.kill_grace", &worker_set.kill_grace);
    if (timeout == 0) {
        loom_config_get_double(cfg, "process.timeout", &timeout);
    }

    if (!launched_by_mpi() && !getenv("LOOM_RUN_SELF_LAUNCHED")) {
        launch_self(argc, argv);
        status = 1;
        goto out;
    }
    static const struct app_fn fns[] = {{"sh", run_command, NULL}};
    status = app_start(PROG, &argc, &argv, cfg, fns, 1, &mpi_up, &job);
    if (status != 0)
        goto out;
    if (loom_job_is_master(job)) {
        struct run run = {.job = job,
                          .retries = retries,
                          .timeout_ms = timeout > 0 ? (int)(timeout * 1000) : 0,
                          .quiet = quiet,
                          .keep_order = keep_order,
                          .tag = tag};
        status = run_master(&run, path, tmpl, joblog, resume, resume_failed, force);
        if (loom_job_finish(job) != LOOM_OK && status == 0)
            status = 1;
    } else if (loom_job_serve(job) != LOOM_OK) {
        status = 1;
    } else {
        status = 0;
    }
out:
    loom_job_destroy(job);
    if (mpi_up)
        MPI_Finalize();
    loom_config_destroy(cfg);
    return status;
}
