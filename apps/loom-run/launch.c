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

/* Replace the status file's text with line, whole (a reader sees the
 * old text or the new, never a part). */
static void
status_write(const char *line)
{
    char tmp[PATH_MAX + 16];
    if (!status_path[0] || snprintf(tmp, sizeof tmp, "%s.new", status_path) >= (int)sizeof tmp)
        return;
    FILE *f = fopen(tmp, "w");
    if (!f)
        return;
    int ok = fputs(line, f) >= 0;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, status_path) != 0)
        unlink(tmp);
}

void
lr_status_running(void)
{
    char host[256] = "", line[320];
    gethostname(host, sizeof host - 1);
    snprintf(line, sizeof line, "running %s %ld\n", host, (long)getpid());
    status_write(line);
}

void
lr_status_report(int status)
{
    char line[32];
    snprintf(line, sizeof line, "%d\n", status);
    status_write(line);
}

int
lr_rank_exit(int status)
{
    return status_path[0] ? 0 : status;
}

/* The master's exit status from the status file: -1 while not there.
 * *master: the running master's pid when it runs on this host (it said
 * "running HOST PID"), -1 when it runs on another, else 0 (not started). */
static int
read_status(const char *path, long *master)
{
    char buf[320] = "", host[256] = "", word[16];
    long pid = 0;
    *master = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    if (sscanf(buf, "%15s %255s %ld", word, host, &pid) == 3 && !strcmp(word, "running")) {
        char me[256] = "";
        gethostname(me, sizeof me - 1);
        *master = !strcmp(host, me) && pid > 0 ? pid : -1;
        return -1;
    }
    char *end;
    long v = strtol(buf, &end, 10);
    return n && *end == '\n' && v >= 0 && v <= 255 ? (int)v : -1;
}

/* ---- the launcher ------------------------------------------------------------------- */

/* The signal that stopped us (TERM, HUP, INT, QUIT), and how many came. */
static volatile sig_atomic_t got_signal, signals;

static void
on_signal(int sig)
{
    if (!got_signal)
        got_signal = sig;
    signals++;
}

/* Catch the signals that stop the job (until exec: mpirun gets the
 * default actions back). */
static void
catch_signals(void)
{
    static const int sigs[] = {SIGTERM, SIGHUP, SIGINT, SIGQUIT};
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaction(sigs[i], &sa, NULL);
}

/* 1 while pid runs (a zombie does not: its parent has yet to reap it). */
static int
alive(long pid)
{
    char path[64], st[512] = "";
    if (kill((pid_t)pid, 0) != 0 && errno == ESRCH)
        return 0;
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(st, 1, sizeof st - 1, f);
    fclose(f);
    st[n] = '\0';
    const char *cp = strrchr(st, ')');
    return !(cp && cp[1] == ' ' && (cp[2] == 'Z' || cp[2] == 'X'));
}

/* What the launcher knows of the job it supervises. */
struct watch {
    pid_t mpirun;
    const char *status_file;
    double reported;    /* when the master's status appeared (0: not yet) */
    int stopping;       /* 1 asked to stop (LR_STOP_SIGNAL), 2 TERM, 3 KILL */
    double stop_at;     /* when the last step of stopping was taken */
    int master_lost;    /* the master died without an exit status */
    double launched;    /* when mpirun was started */
    double start_limit; /* s the master may take to start (0: no limit) */
    int started;        /* the master said it runs, or gave its status */
    int start_hung;     /* it did not start within start_limit: stopping */
    int group;          /* mpirun leads a process group of its own */
};

/* Stop the job (a signal to us, a dead master): first the ranks, through
 * mpirun, which forwards LR_STOP_SIGNAL to them (workers kill their
 * tasks' process groups, the master records what ended and exits); if
 * mpirun is still there after STOP_WAIT s (3 s when the master is dead;
 * at once after a second signal), SIGTERM, 3 s later SIGKILL. */
#define STOP_WAIT 6.0
static void
stop_step(struct watch *w, double now)
{
    /* a dead master records nothing more: the workers only need time to
     * kill their tasks */
    double wait = w->stopping == 1 && !w->master_lost && !w->start_hung ? STOP_WAIT : 3.0;
    if (w->stopping == 0) {
        kill(w->mpirun, LR_STOP_SIGNAL);
    } else if (w->stopping < 3 && (now - w->stop_at > wait || (w->stopping == 1 && signals > 1))) {
        /* a job that never started has no tasks: its whole group goes
         * (a rank stuck in MPI_Init would outlive its mpirun) */
        pid_t to = w->start_hung && w->group && w->stopping == 2 ? -w->mpirun : w->mpirun;
        kill(to, w->stopping == 1 ? SIGTERM : SIGKILL);
    } else {
        return;
    }
    w->stopping++;
    w->stop_at = now;
}

/* One look at the job: the master's status, its death, our signals, a
 * hung mpirun. Once the master has written its status, a hung mpirun
 * (Open MPI may wait forever for a rank lost with its node or link) gets
 * SUPERVISE_GRACE seconds, then SIGTERM, then SIGKILL. */
#define SUPERVISE_GRACE 10.0
static void
watch_once(struct watch *w, double now)
{
    long master;
    int status = read_status(w->status_file, &master);
    if (!w->reported && status >= 0)
        w->reported = now;
    w->started |= status >= 0 || master != 0;
    if (!w->started && !w->start_hung && w->start_limit > 0 && now - w->launched > w->start_limit) {
        w->start_hung = 1;
        fprintf(stderr,
                PROG ": the job did not start within %.0f s (LOOM_RUN_START_TIMEOUT; Open MPI's "
                     "start-up hung, see its messages above): stopping it; no task ran\n",
                w->start_limit);
    }
    if (status < 0 && master > 0 && !w->master_lost && !alive(master)) {
        w->master_lost = 1;
        fprintf(stderr,
                PROG ": the master (pid %ld) died without an exit status: stopping the "
                     "job\n",
                master);
    }
    if (got_signal && !w->stopping)
        fprintf(stderr, PROG ": %s: stopping the job (killing the running tasks)\n",
                strsignal(got_signal));
    if (got_signal || w->master_lost || w->start_hung)
        stop_step(w, now);
    if (w->reported && now - w->reported > SUPERVISE_GRACE + (w->stopping > 1 ? 5 : 0) &&
        w->stopping < 3) {
        if (!w->stopping)
            fprintf(stderr,
                    PROG ": mpirun has not exited %.0f s after the master: stopping "
                         "it (a lost rank holds it)\n",
                    SUPERVISE_GRACE);
        kill(w->mpirun, w->stopping < 2 ? SIGTERM : SIGKILL);
        w->stopping = w->stopping < 2 ? 2 : 3;
    }
}

/* Run mpirun and wait for it, watching the job (watch_once). mpirun gets
 * a process group of its own (own_group), so that Ctrl-C reaches loom-run
 * alone, which stops the job in order. The result: 128+N after signal N;
 * else the master's status; 102 when it never gave one (*hung: 1 when
 * that was because the job did not start within start_limit s). */
static int
supervise(const char *mpirun, char **args, const char *status_file, int own_group,
          double start_limit, int *hung)
{
    catch_signals();
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, PROG ": fork: %s\n", strerror(errno));
        return EXIT_TROUBLE;
    }
    if (pid == 0) {
        if (own_group)
            setpgid(0, 0);
        execvp(mpirun, args);
        fprintf(stderr, PROG ": cannot start %s: %s (run under mpirun, or set LOOM_MPIRUN)\n",
                mpirun, strerror(errno));
        _exit(EXIT_TROUBLE);
    }
    if (own_group)
        setpgid(pid, pid); /* either of us may run first */
    struct watch w = {.mpirun = pid,
                      .status_file = status_file,
                      .launched = lr_seconds(CLOCK_MONOTONIC),
                      .start_limit = start_limit,
                      .group = own_group};
    int st = 0;
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid || (r < 0 && errno != EINTR))
            break;
        watch_once(&w, lr_seconds(CLOCK_MONOTONIC));
        struct timespec tick = {0, 20 * 1000 * 1000};
        nanosleep(&tick, NULL);
    }
    long master;
    int status = read_status(status_file, &master);
    *hung = w.start_hung && !got_signal && status < 0;
    if (got_signal)
        return 128 + got_signal;
    if (status >= 0)
        return status;
    if (WIFEXITED(st) && WEXITSTATUS(st) == EXIT_TROUBLE && !w.master_lost)
        return EXIT_TROUBLE; /* could not start mpirun: said above */
    if (!w.master_lost && !w.start_hung)
        fprintf(stderr, PROG ": the master ended without an exit status (mpirun: %s %d)\n",
                WIFEXITED(st) ? "exit" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    return EXIT_TROUBLE;
}

/* Seconds the master may take to start: LOOM_RUN_START_TIMEOUT, else
 * START_LIMIT (0: no limit). */
#define START_LIMIT 120.0
static double
start_limit(void)
{
    const char *v = getenv("LOOM_RUN_START_TIMEOUT");
    if (!v || !*v)
        return START_LIMIT;
    char *end;
    double s = strtod(v, &end);
    if (*end || !(s >= 0 && s <= 1e6)) {
        fprintf(stderr, PROG ": LOOM_RUN_START_TIMEOUT=%s is not a number of seconds: using %.0f\n",
                v, START_LIMIT);
        return START_LIMIT;
    }
    return s;
}

/* Whether a second mpirun would see the same standard input as the first:
 * a terminal or /dev/null (nothing was taken), or a file (read again from
 * offset *at). mpirun reads a pipe ahead for rank 0: what it took is gone. */
static int
stdin_replayable(off_t *at)
{
    struct stat sb;
    if (fstat(STDIN_FILENO, &sb) != 0)
        return 1; /* closed: nothing to read */
    if (S_ISCHR(sb.st_mode))
        return 1;
    *at = S_ISREG(sb.st_mode) ? lseek(STDIN_FILENO, 0, SEEK_CUR) : -1;
    return *at >= 0;
}

/* supervise() the job; if it did not start (Open MPI's start-up can hang
 * on a rank that failed in MPI_Init), once more, when that is safe: no
 * task ran, and the second mpirun sees the same standard input. */
static int
run_job(const char *mpirun, char **args, const char *status_file, int own_group)
{
    double limit = start_limit();
    off_t at = -1;
    int replay = stdin_replayable(&at), hung = 0;
    int status = supervise(mpirun, args, status_file, own_group, limit, &hung);
    if (!hung)
        return status;
    if (!replay || (at >= 0 && lseek(STDIN_FILENO, at, SEEK_SET) != at)) {
        fprintf(stderr, PROG ": not starting it again (its standard input may be partly read): "
                             "run the command again\n");
        return status;
    }
    fprintf(stderr, PROG ": starting the job again (once)\n");
    unlink(status_file);
    status = supervise(mpirun, args, status_file, own_group, limit, &hung);
    if (hung)
        fprintf(stderr, PROG ": the job did not start twice: nothing ran\n");
    return status;
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

/* The names of the user's own OMPI_MCA_* and PMIX_MCA_* settings, comma
 * separated, into LOOM_RUN_USER_MCA: a task sees those, not the ones
 * loom-run and mpirun add (lr_launcher_env_take). */
static void
note_user_mca(void)
{
    size_t len = 1;
    for (char **e = environ; *e; e++)
        len += strcspn(*e, "=") + 1;
    char *names = calloc(len, 1);
    if (!names)
        return;
    for (char **e = environ; *e; e++)
        if (!strncmp(*e, "OMPI_MCA_", 9) || !strncmp(*e, "PMIX_MCA_", 9)) {
            strncat(names, *e, strcspn(*e, "="));
            strcat(names, ",");
        }
    setenv("LOOM_RUN_USER_MCA", names, 1);
    free(names);
}

/* What the ranks inherit from us besides our environment. */
static void
set_rank_env(long nodes, const struct lr_opts *o)
{
    note_user_mca();
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
    const char *tmp = getenv("TMPDIR");
    char status_file[PATH_MAX];
    snprintf(status_file, sizeof status_file, "%s/loom-run-status-XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    int sfd = mkstemp(status_file);
    if (sfd < 0) {
        fprintf(stderr, PROG ": cannot create a status file (%s): %s\n", status_file,
                strerror(errno));
        free(args);
        return EXIT_TROUBLE;
    }
    close(sfd);
    setenv("LOOM_RUN_STATUS_FILE", status_file, 1);
    /* tasks read from a terminal: mpirun must stay in its foreground
     * process group to read it (Ctrl-C then reaches mpirun too) */
    int own_group = !(strcmp(o->path, "-") == 0 && isatty(STDIN_FILENO));
    int status = run_job(mpirun, args, status_file, own_group);
    char stale[PATH_MAX + 16];
    snprintf(stale, sizeof stale, "%s.new", status_file);
    unlink(stale); /* a master killed while writing it */
    unlink(status_file);
    free(args);
    return status;
}

/* ---- the ranks' side ------------------------------------------------------------------ */

/* Task variables to drop (lr_task_env_drop), NULL-terminated. */
static char **drop_names;

const char *const *
lr_task_env_drop(void)
{
    return (const char *const *)drop_names;
}

/* 1 when name (len bytes) is one of the comma-separated names in list. */
static int
listed(const char *list, const char *name, size_t len)
{
    for (const char *p = list; *p; p += strcspn(p, ",") + (p[strcspn(p, ",")] == ',')) {
        size_t n = strcspn(p, ",");
        if (n == len && !strncmp(p, name, len))
            return 1;
    }
    return 0;
}

/* Under our own mpirun: the user's OMPI_MCA_* and PMIX_MCA_* names
 * (LOOM_RUN_USER_MCA, kept by lr_launcher_env_take), else NULL. */
static char *user_mca;

void
lr_task_env_note(void)
{
    const char *user = user_mca;
    size_t n = 0;
    if (!user || drop_names)
        return;
    for (char **e = environ; *e; e++)
        n++;
    drop_names = calloc(n + 1, sizeof *drop_names);
    n = 0;
    for (char **e = environ; *e && drop_names; e++) {
        size_t len = strcspn(*e, "=");
        if ((!strncmp(*e, "OMPI_MCA_", 9) || !strncmp(*e, "PMIX_MCA_", 9)) &&
            !listed(user, *e, len) && (drop_names[n] = lr_dup_bytes(*e, len)))
            n++;
    }
}

static int one_stream; /* LOOM_RUN_ONE_STREAM, taken */

int
lr_launcher_one_stream(void)
{
    return one_stream;
}

int
lr_launcher_env_take(loom_config *cfg)
{
    const char *v = getenv("LOOM_RUN_USER_MCA");
    if (v && getenv("LOOM_RUN_SELF_LAUNCHED"))
        user_mca = strdup(v);
    v = getenv("LOOM_RUN_ONE_STREAM");
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
    unsetenv("LOOM_RUN_USER_MCA");
    unsetenv("LOOM_RUN_ONE_STREAM");
    return tty;
}
