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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <loom.h>

#include "../common/app.h"
#include "loomrun.h"

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
                "                          docs/events.md); the same as --job-events FILE\n"
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

/* Options of loom-run itself (loom's own were taken out before). Returns
 * -1 to go on, else the exit status. */
static int
parse_args(int argc, char **argv, struct lr_opts *o, int speak)
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
    struct lr_opts o = {.path = "-", .progress_interval = 5};
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
    if (o.timeout == 0)
        loom_config_get_double(cfg, "process.timeout", &o.timeout);

    if (!lr_launched_by_mpi() && !getenv("LOOM_RUN_SELF_LAUNCHED")) {
        status = lr_launch_self(given_argc, given_argv, &o);
        free(given_argv);
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
    loom_config_destroy(cfg);
    return lr_rank_exit(status);
}
