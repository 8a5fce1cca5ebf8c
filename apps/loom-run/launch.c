/* SPDX-License-Identifier: MIT */
/*
 * loom-run started by hand, not by an MPI launcher: it starts the MPI job
 * itself, as `loom-run tasks.txt` on a laptop should — a master and one
 * worker whose pool fills this machine's cores, or, in a Slurm allocation
 * of N nodes, N+1 ranks placed round-robin by node (rank 0 and rank N
 * share the first node, every node gets one worker) — and supervises
 * mpirun. The master tells it its exit status through a status file
 * (with --enable-recovery mpirun's own is always 0); the ranks take out
 * the variables the launcher gave them.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <loom.h>

#include "loomrun.h"

int
lr_launched_by_mpi(void)
{
    const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (getenv(vars[i]))
            return 1;
    return 0;
}

/* ---- the status file ---------------------------------------------------------------- */

/* Where lr_status_report writes: LOOM_RUN_STATUS_FILE, noted first. */
static char status_path[PATH_MAX];

void
lr_status_remember(void)
{
    const char *status_env = getenv("LOOM_RUN_STATUS_FILE");
    snprintf(status_path, sizeof status_path, "%s", status_env ? status_env : "");
}

void
lr_status_report(int status)
{
    FILE *f = status_path[0] ? fopen(status_path, "w") : NULL;
    if (f) {
        fprintf(f, "%d\n", status);
        fclose(f);
    }
}

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

/* ---- the launcher ------------------------------------------------------------------- */

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
        double now = lr_seconds(CLOCK_MONOTONIC);
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

/* How many nodes to start workers on: LOOM_RUN_NODES, else the Slurm
 * allocation's, else 1. */
static long
node_count(void)
{
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
    return nodes;
}

/* mpirun and its options, up to "-np N", into args; returns how many. */
static int
mpirun_args(char **args, const char *mpirun, long nodes, const struct lr_opts *o)
{
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
    return n;
}

/* What the ranks inherit from us besides our environment. */
static void
set_rank_env(long nodes, const struct lr_opts *o)
{
    /* a launcher that is not an MPI launcher must not start us again */
    setenv("LOOM_RUN_SELF_LAUNCHED", "1", 1);
    /* the ranks' stderr is a pipe to mpirun: tell them it ends on a terminal */
    if (isatty(STDERR_FILENO))
        setenv("LOOM_RUN_TTY", "1", 1);
    /* stdout and stderr are one file (2>&1, one terminal): mpirun forwards
     * a rank's two streams apart, in no fixed order, so the master writes
     * both into its stdout (lr_launcher_one_stream) */
    struct stat so, se;
    if (fstat(STDOUT_FILENO, &so) == 0 && fstat(STDERR_FILENO, &se) == 0 &&
        so.st_dev == se.st_dev && so.st_ino == se.st_ino)
        setenv("LOOM_RUN_ONE_STREAM", "1", 1);
    if (getuid() == 0) { /* Open MPI refuses root unless told it is meant */
        setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 0);
        setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 0);
    }
    setenv("OMPI_MCA_mpi_yield_when_idle", "1", 0);
    /* One node, nobody joining: every message goes through shared memory
     * (ob1 + vader), so choosing ob1 skips probing the cm and ucx PMLs and
     * their network libraries, 0.2 s of every MPI_Init here (a joining job
     * must pick its master's PML); and the one worker is alone on the
     * node's CPUs, so its pool threads can be pinned (pool.pin; see
     * lr_launcher_env_take). The user's own settings win. */
    if (nodes == 1 && !o->serve && !o->join) {
        setenv("OMPI_MCA_pml", "ob1", 0);
        setenv("LOOM_RUN_PIN", "1", 1);
    }
}

int
lr_launch_self(int argc, char **argv, const struct lr_opts *o)
{
    const char *mpirun = getenv("LOOM_MPIRUN");
    if (!mpirun || !*mpirun)
        mpirun = "mpirun";
    long nodes = node_count();
    char **args = calloc((size_t)argc + 15, sizeof *args);
    if (!args)
        return EXIT_TROUBLE;
    int n = mpirun_args(args, mpirun, nodes, o);
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
    set_rank_env(nodes, o);
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

/* ---- the ranks' side ------------------------------------------------------------------ */

static int one_stream; /* LOOM_RUN_ONE_STREAM, taken */

int
lr_launcher_one_stream(void)
{
    return one_stream;
}

int
lr_launcher_env_take(loom_config *cfg)
{
    const char *v = getenv("LOOM_RUN_ONE_STREAM");
    one_stream = v && !strcmp(v, "1");
    v = getenv("LOOM_RUN_TTY");
    int tty = v && !strcmp(v, "1");
    v = getenv("LOOM_RUN_PIN");
    if (v && !strcmp(v, "1") && !strcmp(loom_config_origin(cfg, "pool.pin"), "default"))
        loom_config_set(cfg, "pool.pin", "true", "loom-run on one node");
    unsetenv("LOOM_RUN_SELF_LAUNCHED");
    unsetenv("LOOM_RUN_STATUS_FILE");
    unsetenv("LOOM_RUN_TTY");
    unsetenv("LOOM_RUN_PIN");
    unsetenv("LOOM_RUN_ONE_STREAM");
    return tty;
}
