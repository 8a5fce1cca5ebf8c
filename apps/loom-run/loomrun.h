/* SPDX-License-Identifier: MIT */
/*
 * loom-run's private header: what the program's files share (the options,
 * the messages between master and workers, the master's state) and what
 * each file offers the others. Calls go one way only:
 *
 *   main.c    options, then one of:
 *     launch.c    started by hand: run mpirun on ourselves (the launcher
 *                 side), and the status file the master reports through
 *     command.c   a worker: run one command a task names, --halt watcher
 *     farm.c      the master: read, submit, record, retry, halt, summary
 *       output.c    a task's output on the terminal, --keep-order, progress
 *       resume.c    what an old job log has done (--resume)
 *
 * The building blocks (task files, input sources, --pipe's blocks, job
 * log, --halt, stats, --results) are the loomrun_core library: taskfile.h,
 * inputs.h, blocks.h, joblog.h, halt.h, stats.h, results.h.
 */
#ifndef LOOM_RUN_LOOMRUN_H
#define LOOM_RUN_LOOMRUN_H

#include <stddef.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <loom.h>

#include "blocks.h"
#include "halt.h"
#include "inputs.h"
#include "joblog.h"
#include "results.h"
#include "spool.h"
#include "stats.h"
#include "timing.h"

#define PROG          "loom-run"
#define HALT_QUEUE    "loom-run.halt"
#define OUT_QUEUE     "loom-run.out" /* outputs over LR_SPOOL_MEM, in pieces */
#define OUT_QUEUE_CAP 4              /* pieces the master holds before puts wait */
#define OUT_PIECE_MAX ((size_t)1 << 20)
/* The signal that stops a running job in order (the launcher sends it to
 * mpirun, which forwards it to every rank): workers kill their tasks'
 * process groups and start nothing more, the master records what ended
 * and exits 102. */
#define LR_STOP_SIGNAL SIGUSR2

enum {
    EXIT_OK = 0,
    EXIT_FAILED_MAX = 101, /* 1-100 failed tasks, 101 more */
    EXIT_TROUBLE = 102,
    EXIT_USAGE = 255,
};

/* ---- what travels ------------------------------------------------------------- */

/* master -> worker: this header, then the command, then the tag (the
 * input line with -c, else the command again: what --tag prints), then
 * stdin_len bytes for the command's standard input (--pipe's block) */
struct run_req {
    uint64_t seq;
    uint32_t attempt;
    int32_t timeout_ms;
    uint64_t cmd_len;
    uint64_t stdin_len;
};

enum { REP_RAN, REP_NOT_RUN, REP_KILLED }; /* run_rep.outcome */

/* worker -> master: this header, then command, tag, stdout, stderr (out_len
 * and err_len bytes: the output when it is small, else nothing and it came
 * before the report as pieces on OUT_QUEUE, out_kept and err_kept bytes) */
struct run_rep {
    uint64_t seq;
    double start, runtime;
    uint64_t out_len, err_len, out_total, err_total, cmd_len, tag_len;
    uint64_t out_kept, err_kept; /* bytes of output delivered (the rest: cut or lost) */
    int32_t exitval, signal, timed_out, spawn_errno, outcome;
    int32_t piped;               /* the output came as pieces on OUT_QUEUE */
    int32_t lost_errno;          /* output bytes were lost (the worker's $TMPDIR), or 0 */
    uint32_t attempt;            /* host, rank and thread come with the job's loom_result */
    int32_t announced;           /* -t: the command's line came first on OUT_QUEUE */
    int32_t live;                /* the output passed live (lr_opts.live) on OUT_QUEUE: */
    uint64_t live_out, live_err; /* bytes of pieces LR_PIECE_LIVE_OUT, _ERR sent */
};

/* out_piece.stream: an output spooled for the report (stdout, stderr),
 * output to print as it comes (stdout, stderr: --line-buffer, --ungroup;
 * tagged by the worker), or -t's line, the command as it starts */
enum {
    LR_PIECE_OUT = 1,
    LR_PIECE_ERR = 2,
    LR_PIECE_LIVE_OUT = 3,
    LR_PIECE_LIVE_ERR = 4,
    LR_PIECE_VERBOSE = 5,
};

/* worker -> master on OUT_QUEUE: this header, then up to OUT_PIECE_MAX
 * bytes of one stream (LR_PIECE_*) of one attempt, in order */
struct out_piece {
    uint64_t seq;
    uint32_t attempt, stream;
};

/* ---- the options ------------------------------------------------------------- */

/* lr_opts.live: a task's output is printed whole when it ends (none), or
 * passes while it runs, in whole lines (--line-buffer without -k) or as
 * it comes (--ungroup) */
enum { LR_LIVE_NONE, LR_LIVE_LINES, LR_LIVE_RAW };

struct lr_opts {
    const char *path, *tmpl, *joblog, *results, *events, *report;
    const char *serve, *join, *ompi_server; /* workers joining later */
    int resume, resume_failed, force, retries, quiet, keep_order, tag;
    int progress; /* 1 --progress, -1 --no-progress, 0 a terminal decides */
    double timeout, progress_interval;
    struct lr_halt halt;
    /* GNU Parallel's ways (compat.c) */
    struct lr_input_cfg in; /* where the jobs come from (inputs.h) */
    struct lr_source *src;  /* in.src's storage (main.c frees it) */
    const char **arg_files; /* -a FILE names (main.c frees it) */
    char *words;            /* the command words before ':::', joined */
    int dry_run;            /* --dry-run: print the commands, run nothing */
    int verbose;            /* -t, --verbose: each command on stderr as it starts */
    const char *tagstring;  /* --tagstring STR: the tag, filled in as a template */
    int line_buffer;        /* --line-buffer, --lb */
    int ungroup;            /* --ungroup, -u */
    int live;               /* LR_LIVE_*: how output passes while a task runs */
    double delay;           /* --delay: seconds at least between two starts */
    double timeout_pct;     /* --timeout P%: P, 0 when not given so */
    const char *shell;      /* --shell or $PARALLEL_SHELL: runs each command */
    int jobs;               /* -j: pool threads a worker, 0 not given */
    /* --pipe: standard input cut into blocks (blocks.h), each the stdin of
     * one task; in.max_args (-N) is then records a block */
    int pipe;
    size_t block;                  /* --block, 0: LR_BLOCK_DEFAULT */
    const char *recstart, *recend; /* NULL: not given */
};

/* ---- the master's state ------------------------------------------------------- */

struct lr_held; /* output.c: a final attempt's output waiting its turn */

struct lr_run {
    const struct lr_opts *o;
    loom_job *job;
    lr_joblog *log;
    lr_results *res;
    struct lr_stats st;
    int halted;           /* 0, LR_HALT_SOON or LR_HALT_NOW: stop submitting */
    int trouble;          /* something could not be recorded: exit 102 */
    int stopped;          /* LR_STOP_SIGNAL came: exit 102 */
    uint64_t outstanding; /* submitted, not yet back */
    uint64_t *order;      /* --keep-order: seqs in submission order (a ring) */
    size_t order_head, order_count, order_cap;
    struct lr_held *held;
    struct lr_pieces *pieces; /* outputs coming on OUT_QUEUE */
    struct lr_median median;  /* --timeout P%: runtimes of succeeded attempts */
    double next_start;        /* --delay: no submission before (monotonic) */
    /* progress display */
    int live;  /* a terminal: one line redrawn in place */
    int drawn; /* the live line is on the screen */
    double next_tick;
};

/* A task's output: its two streams (total: what the command wrote, len:
 * what was kept) and its tag (not NUL-terminated). */
struct lr_output {
    uint64_t seq;
    struct lr_spool out, err;
    const char *tag;
    size_t tag_len;
    int lost_errno; /* bytes were lost on the worker: why */
    int live;       /* printed as it came (lr_opts.live): not again */
};

/* ---- small shared helpers ------------------------------------------------------ */

/* The time of clock c (CLOCK_MONOTONIC, CLOCK_REALTIME) in seconds. */
static inline double
lr_seconds(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A NUL-terminated copy of n bytes that need not be terminated (strndup
 * may read past them, looking for a NUL); NULL when out of memory. */
static inline char *
lr_dup_bytes(const char *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

/* Open worker `rank`'s own --halt queue "loom-run.halt.<rank>" (both
 * sides must name it and size it alike); loom_queue_open's result. */
static inline loom_err
lr_halt_queue_open(loom_job *job, int rank, loom_queue **q)
{
    char name[64];
    snprintf(name, sizeof name, HALT_QUEUE ".%d", rank);
    return loom_queue_open(job, name, 4, q);
}

/* ---- launch.c ------------------------------------------------------------------- */

/* 1 when an MPI launcher (mpirun, srun) started this process, else 0. */
int lr_launched_by_mpi(void);

/* Run mpirun on this program with argv (loom's options included) and wait;
 * returns the master's exit status, EXIT_TROUBLE when there is none. */
int lr_launch_self(int argc, char **argv, const struct lr_opts *o);

/* Note LOOM_RUN_STATUS_FILE for lr_status_report; call before
 * lr_launcher_env_take unsets it. */
void lr_status_remember(void);

/* Under loom-run's own mpirun: write status where the launcher reads it
 * (nothing otherwise). */
void lr_status_report(int status);

/* Under loom-run's own mpirun, on the master: say where it runs ("running
 * HOST PID" in the status file), so that the launcher sees it die. */
void lr_status_running(void);

/* The exit code of a rank with exit status status: 0 under loom-run's own
 * mpirun (the status file carries it: a rank exiting non-zero makes Open
 * MPI print PMIx errors), else status. */
int lr_rank_exit(int status);

/* Under loom-run's own mpirun: note the OMPI_MCA_* and PMIX_MCA_*
 * variables that loom-run, mpirun and MPI_Init set and the user did not,
 * for the tasks to go without (the rank itself needs them). On a worker,
 * after MPI_Init, before the first task. */
void lr_task_env_note(void);

/* What lr_task_env_note noted (NULL-terminated), for
 * loom_proc_opts.env_drop; NULL when nothing. */
const char *const *lr_task_env_drop(void);

/* Take out what lr_launch_self told the ranks (a task may be a loom-run
 * starting its own mpirun): sets pool.pin in cfg when asked and the user
 * did not; returns 1 when our stderr ends on a terminal. Call while the
 * process has one thread. */
int lr_launcher_env_take(loom_config *cfg);

/* 1 when the launcher's stdout and stderr are one file (2>&1, or one
 * terminal): the master then writes its stderr into its stdout, the one
 * stream whose order mpirun keeps (after lr_launcher_env_take). */
int lr_launcher_one_stream(void);

/* ---- capture.c ------------------------------------------------------------------ */

/* A command's output on the worker: its two streams, spooled (when live,
 * only with --results; else counted), and what passes live. */
struct lr_capture {
    struct lr_spool s[2];
    int live;           /* LR_LIVE_*, or LR_LIVE_NONE */
    int keep;           /* live and spooled too (--results) */
    loom_queue *q;      /* OUT_QUEUE, live */
    uint64_t seq;       /* the attempt */
    uint32_t attempt;   /* ... */
    const char *tag;    /* each live line's prefix (with a tab), or NULL */
    size_t tag_len;     /* ... */
    char *piece;        /* a piece being filled: header, then bytes */
    size_t piece_len;   /* bytes after the header */
    char *part[2];      /* LR_LIVE_LINES: a line begun, not ended */
    size_t part_len[2]; /* ... */
    int mid[2];         /* a line's start has been sent, not its end */
    uint64_t sent[2];   /* live bytes sent a stream */
    int lost;           /* a live piece could not be sent: errno */
};

/* Read process.output_limit (a cap only when the user set it) and
 * job.max_payload (the size of a piece) from cfg, and o's ways with
 * output (live, --results); before the job starts. */
void lr_capture_config(const loom_config *cfg, const struct lr_opts *o);

/* An empty capture, capped as configured. */
void lr_capture_init(struct lr_capture *c);

/* Make c pass output live, as configured, for attempt (seq, attempt) of
 * task, each line prefixed with tag (tag_len bytes and a tab; NULL: none);
 * a no-op when output is not live. 0, or -1 (out of memory, no queue: the
 * output is then spooled as without). */
int lr_capture_live(struct lr_capture *c, loom_task *task, uint64_t seq, uint32_t attempt,
                    const char *tag, size_t tag_len);

/* -t: put the command's line (cmd, len bytes, and a newline) on OUT_QUEUE
 * for attempt (seq, attempt) of task. 1 when sent, else 0. */
int lr_capture_announce(loom_task *task, uint64_t seq, uint32_t attempt, const char *cmd,
                        size_t len);

/* loom_proc_opts.output_fn: arg is a struct lr_capture. */
void lr_capture_sink(void *arg, int stream, const void *data, size_t len);

/* Send rep with the command, tag and the output of c: in the report when
 * it is small, else first as pieces on OUT_QUEUE (rep->piped). Fills rep's
 * output fields. 0, or 1 when no report could be sent. */
int lr_capture_send(loom_task *task, struct run_rep *rep, const char *cmd, const char *tag,
                    struct lr_capture *c);

/* Free what c holds. */
void lr_capture_free(struct lr_capture *c);

/* ---- command.c ------------------------------------------------------------------ */

/* Read process.output_limit and process.kill_grace from cfg (and, with
 * o's --halt, set job.prefetch 0 unless the user set it), make the --halt
 * "now" eventfd and catch LR_STOP_SIGNAL; before the job starts. 0, or -1
 * (said). */
int lr_worker_init(loom_config *cfg, const struct lr_opts *o);

/* 1 once LR_STOP_SIGNAL has come. Any thread. */
int lr_stop_requested(void);

/* Close what lr_worker_init made (safe without it). */
void lr_worker_end(void);

/* The "sh" task: run the command of a run_req payload and reply with a
 * run_rep, its output and timings. 0, or 1 when no reply could be sent. */
int lr_run_command(loom_task *task, void *user);

/* A worker rank: serve tasks until the job ends, with a watcher for the
 * master's --halt word. EXIT_OK or EXIT_TROUBLE. */
int lr_serve_worker(loom_job *job);

/* ---- compat.c ------------------------------------------------------------------ */

/* The command line of job `line` (o->tmpl filled in, or the job itself),
 * run by o->shell when there is one; slot as lr_template_line's. A string
 * to free, or NULL with the reason in err. */
char *lr_job_command(const struct lr_opts *o, const struct lr_line *line, const char *slot,
                     char *err, size_t errlen);

/* --dry-run: print every job's command on stdout, run nothing. EXIT_OK,
 * or EXIT_USAGE after bad input (said). */
int lr_dry_run(const struct lr_opts *o);

/* Before mpirun starts: every file the run reads can be opened and
 * --colsep compiles. 0, or -1 (said on stderr). */
int lr_inputs_check(const struct lr_opts *o);

/* ---- farm.c --------------------------------------------------------------------- */

/* The master: run every task of run->o->path and record them; frees what
 * it opened. Returns the exit status (loom_job_finish is the caller's). */
int lr_run_master(struct lr_run *run);

/* ---- output.c ------------------------------------------------------------------- */

/* --keep-order: note seq as submitted (the order outputs print in). 0, or
 * -1 when out of memory. */
int lr_order_push(struct lr_run *run, uint64_t seq);

/* --keep-order: seq will print nothing (not run, killed): print what it
 * held back. */
void lr_order_forget(struct lr_run *run, uint64_t seq);

/* A finished attempt's output: printed whole now (stdout, then stderr), or
 * with --keep-order (final attempts only; its spools are then taken, t
 * keeps empty ones) once every earlier task's is out. A final attempt's
 * cut or lost bytes are said on stderr and counted. The caller frees t's
 * spools. */
void lr_output_take(struct lr_run *run, struct lr_output *t, int final);

/* Stop taking output pieces (lr_pieces_stop); free the outputs still held
 * (--keep-order) and the order ring. */
void lr_output_free(struct lr_run *run);

/* Clear the live progress line before anything else is printed. */
void lr_progress_clear(struct lr_run *run);

/* Start the master's output (after lr_stats_init): with
 * lr_launcher_one_stream() its stderr becomes a copy of its stdout (the
 * order of a task's stdout, its stderr and the progress line is then
 * kept on the way through mpirun); the output pieces' thread
 * (lr_pieces_start); the progress display. */
void lr_output_start(struct lr_run *run);

/* Redraw progress when due; returns ms until the next tick (LOOM_FOREVER:
 * none). */
int lr_progress_tick(struct lr_run *run);

/* ---- pieces.c -------------------------------------------------------------------- */

/* The master's side of OUT_QUEUE: a thread takes every piece as it comes
 * and spools it by attempt. */
struct lr_pieces;

/* Print a piece that is printed as it comes (stream: LR_PIECE_LIVE_OUT,
 * LR_PIECE_LIVE_ERR, LR_PIECE_VERBOSE); called on the pieces' thread. */
typedef void (*lr_pieces_print_fn)(void *arg, uint32_t stream, const char *data, size_t len);

/* Open OUT_QUEUE and start the thread, which prints live pieces and -t's
 * lines with print(print_arg, ...) as they come. 0, or -1 (said). */
int lr_pieces_start(loom_job *job, lr_pieces_print_fn print, void *print_arg,
                    struct lr_pieces **out);

/* What an attempt's report says came before it on OUT_QUEUE. */
struct lr_pieces_want {
    uint64_t out_len, err_len;   /* bytes spooled for the report */
    uint64_t live_out, live_err; /* bytes printed as they came */
    int announced;               /* -t's line */
};

/* Wait until attempt (seq, attempt) has everything w says in (spooled or
 * printed), then hand the spooled bytes over in out and err (to free with
 * lr_spool_free). 0, or -1 when they cannot come any more (said). */
int lr_pieces_take(struct lr_pieces *p, uint64_t seq, uint32_t attempt,
                   const struct lr_pieces_want *w, struct lr_spool *out, struct lr_spool *err);

/* Close OUT_QUEUE, end the thread and free what is left (NULL: nothing). */
void lr_pieces_stop(struct lr_pieces *p);

/* ---- resume.c ------------------------------------------------------------------- */

/* What an old job log recorded, by Seq (struct in resume.c). */
struct lr_done_entry;
struct lr_done {
    struct lr_done_entry *a;
    size_t n, cap;
};

/* Read the job log at path into d (empty when the file does not exist);
 * 0, or -1 with the reason in err. */
int lr_done_load(struct lr_done *d, const char *path, char *err, size_t errlen);

/* 1 when task seq need not run: the log has it (--resume: resume_all), or
 * has it succeeded (--resume-failed). */
int lr_done_skips(const struct lr_done *d, uint64_t seq, int resume_all);

/* 1 (said in err, naming path and line, and what changed: the template
 * when templated, else the task file) when the task of line seq is not
 * the command the log recorded under that number, else 0. */
int lr_done_changed(const struct lr_done *d, const char *path, uint64_t seq, const char *cmd,
                    size_t len, int templated, char *err, size_t errlen);

/* Free d's entries. */
void lr_done_free(struct lr_done *d);

#endif
