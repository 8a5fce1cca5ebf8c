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
 *
 * This file parses the options and starts the part this process plays:
 * the launcher (launch.c), a worker (command.c) or the master (farm.c);
 * loomrun.h says what each file holds.
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <loom.h>

#include "../common/app.h"
#include "loomrun.h"
#include "timing.h"

/* --help's part on GNU Parallel's command lines. */
static void
usage_parallel(FILE *fp)
{
    fprintf(fp,
            "As in GNU Parallel, with ::: (arguments), :::: (files of arguments) or -a FILE\n"
            "the words before them are the command template (none: the arguments are the\n"
            "commands). Several sources give every combination (the last varies fastest);\n"
            ":::+ and ::::+ (or --link) pair a source with the one before.\n\n"
            "  -c, --command TEMPLATE  each input line fills TEMPLATE: {} the line (quoted),\n"
            "                          {#} the task number, {.} {/} {//} {/.} as GNU Parallel,\n"
            "                          {N} {N.} {N/} {N//} {N/.} {-N} the Nth argument, {%%}\n"
            "                          the slot, {name} a --header column; {= perl =} refused\n"
            "  -a, --arg-file FILE     an input source (like :::: FILE)\n"
            "  --link                  pair every source with the first (shorter ones wrap)\n"
            "  -0, --null              records end with NUL, not newline\n"
            "  -d, --delimiter D       records end with byte D (or \\n \\t \\0 \\NNN \\xHH)\n"
            "  -C, --colsep REGEXP     split each record into columns {1} {2} ... (a POSIX\n"
            "                          extended regular expression)\n"
            "  --header :              the first record of each source names its columns\n"
            "  -j, --jobs N            slots (pool threads) on each worker node: N, N%% of\n"
            "                          its CPUs, +N or -N CPUs more or less, 0 for 256\n"
            "  --dry-run               print the commands, run nothing (no MPI job)\n"
            "  --shell SHELL           run each command with SHELL -c (default\n"
            "                          $PARALLEL_SHELL, else /bin/sh for anything not\n"
            "                          plain words)\n"
            "  -n, --max-args N        up to N records a job, their columns its arguments\n"
            "                          ({#} counts jobs); the last job takes what is left\n"
            "  -N, --max-replace-args N\n"
            "                          the same, {1}..{N} the job's arguments (--pipe: N\n"
            "                          records a block)\n"
            "  -m                      as many records a job as fit: {} all their arguments\n"
            "  -X                      as many as fit: the word around {} once for each\n"
            "  -s, --max-chars N       -m/-X command lines up to N bytes, NUL counted\n"
            "                          (default and most 131072)\n"
            "  --pipe                  cut standard input into blocks, each the standard\n"
            "                          input of one task; a record is never split\n"
            "  --block, --block-size SIZE\n"
            "                          --pipe's block size (default 1M; k m g: powers of\n"
            "                          1000, K M G Ki Mi Gi: of 1024; up to 1G)\n"
            "  --recstart STR          a record starts with STR (default nothing)\n"
            "  --recend STR            a record ends with STR (default \\n; nothing when\n"
            "                          only --recstart is given); escapes \\n \\t \\0\n"
            "  --shuf                  run the jobs in a random order (read them all first;\n"
            "                          {#} numbers them as they run)\n"
            "  -t, --verbose           print each command on stderr as it starts\n"
            "  --tagstring STR         prefix each output line with STR and a tab; STR's\n"
            "                          replacement strings are filled in, unquoted\n"
            "  --line-buffer, --lb     pass a running task's output in whole lines as they\n"
            "                          come (lines of tasks mix; with -k: whole and in order)\n"
            "  -u, --ungroup           pass output as it comes (lines may mix; no --tag, no\n"
            "                          -k)\n"
            "  --delay DURATION        at least DURATION between two task starts (seconds,\n"
            "                          or with s, m, h, d: 1.5, 2m, 1m30s)\n");
}

static void
usage(FILE *fp)
{
    fprintf(fp, "usage: " PROG " [options] [TASKFILE|-]\n"
                "       " PROG " [options] -c TEMPLATE [INPUTFILE|-]\n"
                "       " PROG
                " [options] [COMMAND WORDS] ::: ARGS... [:::[+] ARGS | ::::[+] FILES]...\n"
                "       mpirun -np N --bind-to none " PROG " [options] [TASKFILE|-]\n"
                "       srun --mpi=pmix --cpu-bind=none " PROG " [options] [TASKFILE|-]\n\n"
                "Runs every line of TASKFILE (default: standard input) on the worker ranks'\n"
                "threads: plain words are exec'd, anything else goes to /bin/sh -c. Rank 0\n"
                "hands them out and prints each task's output whole when it finishes. Blank\n"
                "lines and # comments are skipped.\n\n");
    usage_parallel(fp);
    fprintf(fp, "  --joblog FILE           GNU Parallel job log, one line per finished attempt\n"
                "  --resume                skip the tasks the job log has (any outcome)\n"
                "  --resume-failed         skip only the tasks the job log has as succeeded\n"
                "                          (given with --resume, --resume-failed wins, as in\n"
                "                          GNU Parallel)\n"
                "  --force                 resume even if a task's command changed\n"
                "  --results DIR           store each task's command, stdout, stderr and status\n"
                "                          in DIR/<seq/1e6>/<seq/1e3%%1000>/<seq>/ (at most 1000\n"
                "                          entries a directory); output is printed as well\n"
                "  --events FILE           JSON lines, written as they happen: run_start, one per\n"
                "                          attempt, workers joined and lost, run_end (schema:\n"
                "                          docs/events.md); the same as --job-events FILE\n"
                "  --report FILE.html      a self-contained HTML page at the end: timeline per\n"
                "                          thread and node, durations, utilisation, slowest and\n"
                "                          failed tasks (a uniform sample past 20,000 attempts);\n"
                "                          the same as --job-report FILE.html\n"
                "  --retries N             run a failed task up to N times in all (as GNU\n"
                "                          Parallel counts; 0 is refused), preferably on\n"
                "                          another worker (default 1: no retry)\n"
                "  --timeout DURATION      kill a task's whole process group after this long\n"
                "                          (seconds, or 2m, 1h30m ...); P%% kills a task\n"
                "                          running longer than P%% of the median runtime of\n"
                "                          the tasks that succeeded so far\n"
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
                "                          DIR/loom.join, the job's gate and key (yours only)\n"
                "  --join DIR              run workers only, for the loom-run serving DIR; no\n"
                "                          task file. Both need an ompi-server:\n"
                "  --ompi-server FILE      its URI file (cluster/ompi-server start DIR writes\n"
                "                          DIR/ompi-server.uri); passed to the mpirun loom-run\n"
                "                          starts (under your own mpirun, give it\n"
                "                          --ompi-server file:FILE yourself)\n"
                "  --quiet                 no progress and no summary\n"
                "Every option with a value also takes it as --option=VALUE.\n"
                "  --help                  this text\n"
                "  --version               loom, MPI and build id of this program (loom-run,\n"
                "                          not GNU Parallel)\n\n"
                "Every task sees LOOM_TASK_ID (its line number), LOOM_ATTEMPT, LOOM_RANK,\n"
                "LOOM_HOST and LOOM_SLOT. A task's output passes whole, whatever its size\n"
                "(spooled in $TMPDIR); --process-output-limit SIZE keeps the first SIZE\n"
                "bytes a stream, and the cut is said on stderr and in the summary.\n\n");
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

/* Free what parse_args allocated. */
static void
free_opts(struct lr_opts *o)
{
    free(o->src);
    free(o->arg_files);
    free(o->words);
}

/* ---- the options ------------------------------------------------------------- */

enum opt_id {
    /* flags */
    O_HELP,
    O_VERSION,
    O_RESUME,
    O_RESUME_FAILED,
    O_FORCE,
    O_QUIET,
    O_KEEP_ORDER,
    O_TAG,
    O_PROGRESS,
    O_NO_PROGRESS,
    O_NULL,
    O_LINK,
    O_DRY_RUN,
    O_CONTEXT,
    O_MULTI,
    O_PIPE,
    O_SHUF,
    O_VERBOSE,
    O_LINE_BUFFER,
    O_UNGROUP,
    /* with a value: --name VALUE, --name=VALUE, -xVALUE */
    O_VALUE,
    O_COMMAND = O_VALUE,
    O_JOBLOG,
    O_RESULTS,
    O_EVENTS,
    O_REPORT,
    O_SERVE,
    O_JOIN,
    O_OMPI_SERVER,
    O_HALT,
    O_RETRIES,
    O_TIMEOUT,
    O_PROGRESS_INTERVAL,
    O_JOBS,
    O_DELIMITER,
    O_COLSEP,
    O_HEADER,
    O_ARG_FILE,
    O_SHELL,
    O_MAX_ARGS,
    O_MAX_REPLACE,
    O_MAX_CHARS,
    O_BLOCK,
    O_RECSTART,
    O_RECEND,
    O_TAGSTRING,
    O_DELAY,
};

static const struct opt_def {
    const char *name, *alias; /* alias: the short form, or NULL */
    enum opt_id id;
} opt_defs[] = {
    {"--help", "-h", O_HELP},
    {APP_VERSION_OPTION, NULL, O_VERSION},
    {"--resume", NULL, O_RESUME},
    {"--resume-failed", NULL, O_RESUME_FAILED},
    {"--force", NULL, O_FORCE},
    {"--quiet", NULL, O_QUIET},
    {"--keep-order", "-k", O_KEEP_ORDER},
    {"--tag", NULL, O_TAG},
    {"--progress", NULL, O_PROGRESS},
    {"--no-progress", NULL, O_NO_PROGRESS},
    {"--null", "-0", O_NULL},
    {"--link", NULL, O_LINK},
    {"--dry-run", NULL, O_DRY_RUN},
    {"--verbose", "-t", O_VERBOSE},
    {"--line-buffer", "--lb", O_LINE_BUFFER},
    {"--ungroup", "-u", O_UNGROUP},
    {"--command", "-c", O_COMMAND},
    {"--joblog", NULL, O_JOBLOG},
    {"--results", NULL, O_RESULTS},
    {"--events", NULL, O_EVENTS},
    {"--report", NULL, O_REPORT},
    {"--serve", NULL, O_SERVE},
    {"--join", NULL, O_JOIN},
    {"--ompi-server", NULL, O_OMPI_SERVER},
    {"--halt", NULL, O_HALT},
    {"--retries", NULL, O_RETRIES},
    {"--timeout", NULL, O_TIMEOUT},
    {"--progress-interval", NULL, O_PROGRESS_INTERVAL},
    {"--jobs", "-j", O_JOBS},
    {"--delimiter", "-d", O_DELIMITER},
    {"--colsep", "-C", O_COLSEP},
    {"--header", NULL, O_HEADER},
    {"--arg-file", "-a", O_ARG_FILE},
    {"--shell", NULL, O_SHELL},
    {"-X", NULL, O_CONTEXT},
    {"-m", NULL, O_MULTI},
    {"--pipe", NULL, O_PIPE},
    {"--spreadstdin", NULL, O_PIPE},
    {"--shuf", NULL, O_SHUF},
    {"--max-args", "-n", O_MAX_ARGS},
    {"--max-replace-args", "-N", O_MAX_REPLACE},
    {"--max-chars", "-s", O_MAX_CHARS},
    {"--block", NULL, O_BLOCK},
    {"--block-size", NULL, O_BLOCK},
    {"--recstart", NULL, O_RECSTART},
    {"--recend", NULL, O_RECEND},
    {"--tagstring", NULL, O_TAGSTRING},
    {"--delay", NULL, O_DELAY},
};

#define BAD(...)                                                                                   \
    do {                                                                                           \
        if (speak)                                                                                 \
            fprintf(stderr, PROG ": " __VA_ARGS__);                                                \
        return EXIT_USAGE;                                                                         \
    } while (0)

/* The option named name (its long or short form), or NULL. */
static const struct opt_def *
find_opt(const char *name)
{
    for (size_t i = 0; i < sizeof opt_defs / sizeof opt_defs[0]; i++)
        if (!strcmp(name, opt_defs[i].name) ||
            (opt_defs[i].alias && !strcmp(name, opt_defs[i].alias)))
            return &opt_defs[i];
    return NULL;
}

/* ":::", ":::+", "::::" or "::::+": an input source follows. */
static int
is_sep(const char *a)
{
    return !strcmp(a, ":::") || !strcmp(a, ":::+") || !strcmp(a, "::::") || !strcmp(a, "::::+");
}

/* A flag: -1 to go on, else the exit status (help, version). */
static int
apply_flag(enum opt_id id, struct lr_opts *o, int speak)
{
    switch (id) {
    case O_HELP:
        if (speak)
            usage(stdout);
        return EXIT_OK;
    case O_VERSION:
        if (speak) {
            app_print_version(PROG);
            printf("This is loom-run, not GNU Parallel: it takes much of GNU Parallel's command\n"
                   "line and runs the jobs across an MPI job (see loom-run(1)).\n");
        }
        return EXIT_OK;
    case O_RESUME:
        o->resume = 1;
        break;
    case O_RESUME_FAILED:
        o->resume_failed = 1;
        break;
    case O_FORCE:
        o->force = 1;
        break;
    case O_QUIET:
        o->quiet = 1;
        break;
    case O_KEEP_ORDER:
        o->keep_order = 1;
        break;
    case O_TAG:
        o->tag = 1;
        break;
    case O_PROGRESS:
        o->progress = 1;
        break;
    case O_NO_PROGRESS:
        o->progress = -1;
        break;
    case O_NULL:
        o->in.use_delim = 1;
        o->in.delim = '\0';
        break;
    case O_LINK:
        o->in.link = 1;
        break;
    case O_DRY_RUN:
        o->dry_run = 1;
        break;
    case O_CONTEXT:
    case O_MULTI:
        o->in.xargs = id == O_CONTEXT ? 2 : 1;
        break;
    case O_PIPE:
        o->pipe = 1;
        break;
    case O_SHUF:
        o->in.shuf = 1;
        break;
    case O_VERBOSE:
        o->verbose = 1;
        break;
    case O_LINE_BUFFER:
        o->line_buffer = 1;
        break;
    case O_UNGROUP:
        o->ungroup = 1;
        break;
    default:
        break;
    }
    return -1;
}

/* A number of seconds in [lo, hi] (lo itself only when lo_ok). */
static int
seconds(const char *v, double lo, int lo_ok, double hi, double *out)
{
    char *end;
    double d = strtod(v, &end);
    if (*end || end == v || !(d > lo || (lo_ok && d == lo)) || !(d <= hi))
        return -1;
    *out = d;
    return 0;
}

/* --timeout: a duration (GNU Parallel's postfixes) up to 2e6 s, or P% of
 * the median runtime of the tasks that succeeded (P > 0). 0, or -1. */
static int
timeout_value(const char *v, struct lr_opts *o)
{
    size_t n = strlen(v);
    if (n > 1 && v[n - 1] == '%') {
        char *end;
        double p = strtod(v, &end);
        if (end != v + n - 1 || !(p > 0) || p > 1e6 || v[0] == '-' || v[0] == '+')
            return -1;
        o->timeout_pct = p;
        o->timeout = 0;
        return 0;
    }
    double d;
    if (lr_duration_parse(v, &d) != 0 || !(d > 0) || d > 2000000)
        return -1;
    o->timeout = d;
    o->timeout_pct = 0;
    return 0;
}

/* -d's delimiter: one byte, written as itself or as a C escape (\n \t
 * \r \0 \\ \NNN octal \xHH). 0, or -1. */
static int
delimiter(const char *v, unsigned char *out)
{
    char *end = NULL;
    if (v[0] && !v[1]) {
        *out = (unsigned char)v[0];
        return 0;
    }
    if (v[0] != '\\' || !v[1])
        return -1;
    const char *simple = strchr("ntr\\", v[1]);
    if (simple && !v[2]) {
        *out = (unsigned char)"\n\t\r\\"[simple - "ntr\\"];
        return 0;
    }
    long n = v[1] == 'x' ? strtol(v + 2, &end, 16) : strtol(v + 1, &end, 8);
    if (end == v + (v[1] == 'x' ? 2 : 1) || *end || n < 0 || n > 255)
        return -1;
    *out = (unsigned char)n;
    return 0;
}

/* -j/--jobs: N, N% of the CPUs, +N or -N CPUs more or less, 0 as many as
 * possible (256), as GNU Parallel counts them; on each node, with the CPUs
 * this process may use there. 0, or -1. */
static int
jobs_value(const char *v, int *out)
{
    cpu_set_t set;
    long cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
    char *end;
    long n = strtol(v, &end, 10);
    if (end == v || (*end && strcmp(end, "%")) || n < -100000 || n > 100000)
        return -1;
    if (*end == '%')
        n = n * cpus / 100;
    else if (v[0] == '+' || v[0] == '-')
        n = cpus + n;
    else if (n == 0)
        n = 256;
    *out = n < 1 ? 1 : n > 4096 ? 4096 : (int)n;
    return 0;
}

/* A count of 1..max: 0, or -1. */
static int
count_value(const char *v, size_t max, size_t *out)
{
    char *end;
    unsigned long long n = strtoull(v, &end, 10);
    if (end == v || *end || v[0] == '-' || n < 1 || n > max)
        return -1;
    *out = (size_t)n;
    return 0;
}

/* -n, -N, -s, --block, --recstart, --recend: -1 to go on, else EXIT_USAGE. */
static int
apply_group_value(enum opt_id id, const char *name, const char *v, struct lr_opts *o, int speak)
{
    switch (id) {
    case O_MAX_ARGS:
    case O_MAX_REPLACE:
        if (count_value(v, 1000000000, &o->in.max_args) != 0)
            BAD("%s needs a number of arguments >= 1 (GNU Parallel's -N0 is not supported)\n",
                name);
        break;
    case O_MAX_CHARS:
        if (count_value(v, LR_MAX_CHARS, &o->in.max_chars) != 0)
            BAD("%s needs 1..%zu (bytes of a command line, its NUL included)\n", name,
                LR_MAX_CHARS);
        break;
    case O_BLOCK:
        if (lr_size_parse(v, &o->block) != 0)
            BAD("%s needs a size of 1 byte to 1G: a number with k, m, g (powers of 1000) or\n"
                "K, M, G, Ki, Mi, Gi (powers of 1024) ('%s')\n",
                name, v);
        break;
    case O_RECSTART:
        o->recstart = v;
        break;
    case O_RECEND:
        o->recend = v;
        break;
    default:
        break;
    }
    return -1;
}

/* The options about input and slots: -1 to go on, else EXIT_USAGE. */
static int
apply_input_value(enum opt_id id, const char *name, const char *v, struct lr_opts *o, int speak)
{
    switch (id) {
    case O_JOBS:
        if (jobs_value(v, &o->jobs) != 0)
            BAD("%s needs N, N%%, +N, -N or 0 (slots on each worker node)\n", name);
        break;
    case O_DELIMITER:
        if (delimiter(v, &o->in.delim) != 0)
            BAD("%s needs one byte (or \\n, \\t, \\0, \\NNN, \\xHH); longer "
                "delimiters are not supported\n",
                name);
        o->in.use_delim = 1;
        break;
    case O_COLSEP:
        o->in.colsep = v;
        break;
    case O_HEADER:
        if (strcmp(v, ":") != 0)
            BAD("--header: only ':' (the first record names the columns) is supported\n");
        o->in.header = 1;
        break;
    case O_ARG_FILE:
        o->arg_files[o->in.nsrc] = v;
        o->src[o->in.nsrc] = (struct lr_source){1, &o->arg_files[o->in.nsrc], 1, 0};
        o->in.nsrc++;
        break;
    default:
        return apply_group_value(id, name, v, o, speak);
    }
    return -1;
}

/* An option with a value: -1 to go on, else EXIT_USAGE (said). */
static int
apply_value(enum opt_id id, const char *name, const char *v, struct lr_opts *o, int speak)
{
    char err[256];
    switch (id) {
    case O_COMMAND:
        o->tmpl = v;
        break;
    case O_JOBLOG:
        o->joblog = v;
        break;
    case O_RESULTS:
        o->results = v;
        break;
    case O_EVENTS:
        o->events = v;
        break;
    case O_REPORT:
        o->report = v;
        break;
    case O_SERVE:
        o->serve = v;
        break;
    case O_JOIN:
        o->join = v;
        break;
    case O_OMPI_SERVER:
        o->ompi_server = v;
        break;
    case O_SHELL:
        o->shell = v;
        break;
    case O_HALT:
        if (lr_halt_parse(v, &o->halt, err, sizeof err) != 0)
            BAD("%s\n", err);
        break;
    case O_RETRIES: {
        char *end;
        long n = strtol(v, &end, 10);
        if (*end || end == v || n == 0)
            BAD("--retries counts attempts in all, as in GNU Parallel: give 1..1000 (GNU\n"
                "Parallel's 0, retry for ever, is refused: a task that always fails would\n"
                "never let the run end)\n");
        if (n < 1 || n > 1000)
            BAD("--retries needs 1..1000 (attempts in all)\n");
        o->retries = (int)n - 1; /* the farm counts the attempts after the first */
        break;
    }
    case O_TIMEOUT:
        if (timeout_value(v, o) != 0)
            BAD("--timeout needs a duration > 0 (seconds, or 2m, 1h30m ...) or P%% (of the\n"
                "median runtime of the tasks that succeeded)\n");
        break;
    case O_DELAY:
        if (lr_duration_parse(v, &o->delay) != 0 || o->delay > 1e6)
            BAD("--delay needs a duration (seconds, or 1.5s, 2m, 1m30s ...)\n");
        break;
    case O_TAGSTRING:
        o->tagstring = v;
        break;
    case O_PROGRESS_INTERVAL:
        if (seconds(v, 0, 1, 1e6, &o->progress_interval) != 0)
            BAD("--progress-interval needs seconds >= 0\n");
        break;
    default:
        return apply_input_value(id, name, v, o, speak);
    }
    return -1;
}

/* Option argv[*i] (its value the rest of it or argv[*i + 1], which *i then
 * passes): -1 to go on, else the exit status. */
static int
take_option(int argc, char **argv, int *i, struct lr_opts *o, int speak)
{
    const char *a = argv[*i], *v = NULL, *eq = strchr(a, '=');
    char name[64];
    if (a[1] == '-' && eq && (size_t)(eq - a) < sizeof name) {
        snprintf(name, sizeof name, "%.*s", (int)(eq - a), a); /* --name=value */
        v = eq + 1;
    } else if (a[1] != '-' && a[1] && a[2]) {
        snprintf(name, sizeof name, "%.2s", a); /* -j4, -d, */
        v = a + 2;
    } else {
        snprintf(name, sizeof name, "%s", a);
    }
    const struct opt_def *d = find_opt(name);
    if (!d || (d->id < O_VALUE && v && a[1] != '-'))
        BAD("unknown option '%s' (try --help)\n", a);
    if (d->id < O_VALUE) {
        if (v)
            BAD("%s takes no value ('%s')\n", name, a);
        return apply_flag(d->id, o, speak);
    }
    if (!v) {
        if (*i + 1 >= argc)
            BAD("%s needs a value (try --help)\n", name);
        v = argv[++*i];
    }
    return apply_value(d->id, name, v, o, speak);
}
/* The input sources from argv[i] (a separator) on. */
static void
parse_sources(int argc, char **argv, int i, struct lr_opts *o)
{
    while (i < argc) {
        const char *sep = argv[i++];
        int files = sep[3] == ':', linked = sep[strlen(sep) - 1] == '+', first = i;
        while (i < argc && !is_sep(argv[i]))
            i++;
        if (!files) {
            o->src[o->in.nsrc++] = (struct lr_source){0, (const char *const *)&argv[first],
                                                      (size_t)(i - first), linked};
            continue;
        }
        for (int f = first; f < i; f++) /* ":::: a b": two sources */
            o->src[o->in.nsrc++] =
                (struct lr_source){1, (const char *const *)&argv[f], 1, linked && f == first};
    }
}

/* The command words argv[from..to) joined by spaces, as GNU Parallel joins
 * them, into o->tmpl. 0, or -1 (out of memory). */
static int
join_words(char **argv, int from, int to, struct lr_opts *o)
{
    size_t n = 1;
    for (int w = from; w < to; w++)
        n += strlen(argv[w]) + 1;
    if (!(o->words = calloc(1, n)))
        return -1;
    for (int w = from; w < to; w++) {
        if (w > from)
            strcat(o->words, " ");
        strcat(o->words, argv[w]);
    }
    o->tmpl = o->words;
    return 0;
}

/* What --pipe and --block... say with the rest; -1 to go on, else
 * EXIT_USAGE (said). */
static int
check_pipe(struct lr_opts *o, int have_path, int speak)
{
    if (!o->pipe) {
        if (o->block || o->recstart || o->recend)
            BAD("--block, --recstart and --recend go with --pipe\n");
        return -1;
    }
    if (!o->tmpl)
        BAD("--pipe needs a command, which reads each block on its standard input\n");
    if (o->in.nsrc || have_path)
        BAD("--pipe cuts standard input into blocks: no input source (:::, ::::, -a) and no\n"
            "task file (give it as standard input: < FILE)\n");
    if (o->retries > 0)
        BAD("--retries is not supported with --pipe (a block is not kept for a retry)\n");
    if (o->in.xargs || o->in.shuf || o->in.colsep || o->in.header || o->in.use_delim)
        BAD("--pipe goes without -X, -m, --shuf, --colsep, --header, -0 and -d (use\n"
            "--recend for the end of a record)\n");
    if (o->join)
        BAD("--join runs workers only: --pipe belongs to the master's loom-run\n");
    return -1;
}

/* What the options say together; -1 to go on, else EXIT_USAGE (said). */
static int
check_args(struct lr_opts *o, int have_path, int speak)
{
    /* both: the job log's failed tasks run again, as in GNU Parallel */
    if (o->resume && o->resume_failed)
        o->resume = 0;
    if ((o->resume || o->resume_failed) && !o->joblog)
        BAD("--resume and --resume-failed need --joblog FILE\n");
    if (o->serve && o->join)
        BAD("--serve and --join exclude each other\n");
    if (o->join && (have_path || o->tmpl || o->in.nsrc || o->joblog || o->results || o->events ||
                    o->report || o->dry_run))
        BAD("--join runs workers only: the task file and what records tasks belong to the\n"
            "master's loom-run\n");
    if (!o->shell && getenv("PARALLEL_SHELL") && *getenv("PARALLEL_SHELL"))
        o->shell = getenv("PARALLEL_SHELL");
    o->in.commands = o->tmpl == NULL;
    if (o->ungroup) { /* as GNU Parallel: no tags, and output as it comes */
        o->tag = 0;
        o->tagstring = NULL;
        o->keep_order = 0;
    }
    if (o->tagstring) /* the tag is STR filled in (--tag or not) */
        o->tag = 1;
    o->live = o->ungroup                         ? LR_LIVE_RAW
              : o->line_buffer && !o->keep_order ? LR_LIVE_LINES
                                                 : LR_LIVE_NONE;
    o->in.tmpl = o->tmpl;
    return check_pipe(o, have_path, speak);
}

/* 1 when the first word w that is not an option starts a command (GNU
 * Parallel's "parallel gzip -9 < files"), 0 when it names the task file:
 * "-", an existing file, or a word that looks like a file name and no
 * command on PATH has. */
static int
is_command(const char *w)
{
    struct stat sb;
    if (!strcmp(w, "-") || stat(w, &sb) == 0)
        return 0;
    if (strpbrk(w, " {'\"$;|&<>()"))
        return 1;
    const char *path = getenv("PATH");
    char full[4096];
    for (const char *p = path ? path : ""; *p;) {
        size_t n = strcspn(p, ":");
        snprintf(full, sizeof full, "%.*s/%s", (int)n, p, w);
        if (n && strchr(w, '/') == NULL && access(full, X_OK) == 0)
            return 1;
        p += n + (p[n] == ':');
    }
    return 0;
}

/* Options of loom-run itself (loom's own were taken out before), then, as
 * in GNU Parallel, the command words and the input sources (":::", "::::",
 * -a): with those, the first word that is not an option starts the
 * command; without, it is the task file. Returns -1 to go on, else the
 * exit status. */
static int
parse_args(int argc, char **argv, struct lr_opts *o, int speak)
{
    int have_path = 0, sep = 1, status, i;
    while (sep < argc && !is_sep(argv[sep]))
        sep++;
    int sources = sep < argc;
    for (int k = 1; k < sep; k++)
        sources |= !strcmp(argv[k], "-a") || !strncmp(argv[k], "--arg-file", 10) ||
                   !strcmp(argv[k], "--pipe") || !strcmp(argv[k], "--spreadstdin");
    o->src = calloc((size_t)argc + 1, sizeof *o->src);
    o->arg_files = calloc((size_t)argc + 1, sizeof *o->arg_files);
    if (!o->src || !o->arg_files)
        BAD("out of memory\n");
    o->in.src = o->src;
    for (i = 1; i < sep; i++) {
        const char *a = argv[i];
        if ((a[0] != '-' || !a[1]) && (sources || (!have_path && is_command(a))))
            break; /* the command */
        if (a[0] != '-' || !a[1]) {
            if (have_path)
                BAD("one task file only ('%s' and '%s')\n", o->in.path, a);
            o->in.path = a;
            have_path = 1;
        } else if ((status = take_option(sep, argv, &i, o, speak)) >= 0) {
            return status;
        }
    }
    if (i < sep && !sources && argv[i][0] != '-' && !is_command(argv[i])) {
        o->in.path = argv[i++]; /* "loom-run tasks.txt" */
        have_path = 1;
    }
    if (i < sep && o->tmpl)
        BAD("the command is given twice: -c '%s' and '%s'\n", o->tmpl, argv[i]);
    if (i < sep && join_words(argv, i, sep, o) != 0)
        BAD("out of memory\n");
    parse_sources(argc, argv, sep, o);
    o->path = o->in.nsrc ? "(input sources)" : o->in.path;
    return check_args(o, have_path, speak);
}
#undef BAD

/* mpirun takes a lone ":" for its own (a second program follows): pass
 * "--header :" as "--header=:". Returns the new argc. */
static int
header_colon(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--header") && !strcmp(argv[i + 1], ":")) {
            argv[i] = "--header=:";
            memmove(argv + i + 1, argv + i + 2, (size_t)(argc - i - 1) * sizeof *argv);
            argc--;
        }
    return argc;
}

/* -j: this rank's pool threads. 0, or -1 (said when speak). */
static int
set_jobs(loom_config *cfg, int jobs, int speak)
{
    char n[16];
    snprintf(n, sizeof n, "%d", jobs);
    if (loom_config_set(cfg, "pool.threads", n, "-j") == LOOM_OK)
        return 0;
    if (speak)
        fprintf(stderr, PROG ": %s\n", loom_config_error(cfg));
    return -1;
}

int
main(int argc, char **argv)
{
    loom_config *cfg = NULL;
    loom_job *job = NULL;
    int status = EXIT_USAGE, mpi_up = 0, speak = app_launcher_rank() == 0;
    struct lr_opts o = {.path = "-", .in.path = "-", .progress_interval = 5};
    /* Every line of ours in one write(2), also those printed in pieces
     * (the summary, tagged task output): under mpirun stdout and stderr
     * travel through separate pipes, and a line written in pieces could
     * get another stream's lines in the middle. */
    static char errbuf[1 << 16];
    setvbuf(stderr, errbuf, _IOLBF, sizeof errbuf);
    lr_status_remember();

    /* the command line as given, loom's options included: the ranks of a
     * self-launched run read them again (loom_config_load takes them out) */
    int given_argc = argc;
    char **given_argv = calloc((size_t)argc + 1, sizeof *given_argv);
    if (!given_argv || loom_config_create(&cfg) != LOOM_OK) {
        free(given_argv);
        return EXIT_TROUBLE;
    }
    memcpy(given_argv, argv, (size_t)argc * sizeof *argv);
    given_argc = header_colon(given_argc, given_argv);
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
    if (o.jobs > 0 && set_jobs(cfg, o.jobs, speak) != 0) {
        status = EXIT_USAGE;
        goto out;
    }
    loom_config_apply(cfg);
    if (o.timeout == 0 && o.timeout_pct == 0)
        loom_config_get_double(cfg, "process.timeout", &o.timeout);

    if (o.dry_run) {
        status = speak ? lr_dry_run(&o) : EXIT_OK;
        goto out;
    }
    if (!lr_launched_by_mpi() && !getenv("LOOM_RUN_SELF_LAUNCHED")) {
        /* what can be checked here is said at once, not after mpirun */
        status = lr_inputs_check(&o) == 0 ? lr_launch_self(given_argc, given_argv, &o) : EXIT_USAGE;
        free(given_argv);
        free_opts(&o);
        loom_config_destroy(cfg);
        return status;
    }
    int tty = lr_launcher_env_take(cfg);
    /* before the job starts: its threads may run tasks at once */
    if (lr_worker_init(cfg, &o) != 0) {
        status = EXIT_TROUBLE;
        goto out;
    }
    static const struct app_fn fns[] = {{"sh", lr_run_command, NULL}};
    loom_job_opts jo = {
        .config = cfg, .title = o.path, .own_attempts = 1, .serve = o.serve, .join = o.join};
    status = app_start_opts(PROG, &argc, &argv, &jo, fns, 1, &mpi_up, &job);
    if (status != 0) {
        status = status == 2 ? EXIT_USAGE : EXIT_TROUBLE;
        goto out;
    }
    if (loom_job_is_master(job)) {
        int live = o.progress == 1 || (o.progress == 0 && (isatty(STDERR_FILENO) || tty));
        struct lr_run run = {.o = &o, .job = job, .live = !o.quiet && live};
        status = lr_run_master(&run);
        /* also writes --events' run_end and --report: a write error is 102 */
        if (loom_job_finish(job) != LOOM_OK)
            status = EXIT_TROUBLE;
    } else {
        status = lr_serve_worker(job);
    }
out:
    free(given_argv);
    if (speak)
        lr_status_report(status);
    app_end(job, mpi_up, status);
    lr_worker_end();
    free_opts(&o);
    loom_config_destroy(cfg);
    return lr_rank_exit(status);
}
