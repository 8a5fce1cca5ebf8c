/* SPDX-License-Identifier: MIT */
/*
 * Process module: run one external command, feed its stdin, capture its
 * stdout/stderr, report how it ended (loom/process.h).
 *
 * Start. The child is created with vfork(), as glibc's posix_spawn does:
 * no page tables are copied, so starting a command costs about as much as
 * posix_spawn while we still get to run our own setup code in the child
 * (process group, parent-death signal, pipes, cwd). The parent thread is
 * suspended until the child execs or exits, and the child shares our memory,
 * so the child only makes async-signal-safe system calls on data prepared
 * beforehand (argv, envp: no malloc after vfork) and writes nothing but the
 * `fail_*` fields of its spawn context, through which it reports a failed
 * chdir/exec (the parent reads them once vfork returns; under TSan, whose
 * vfork is a fork, a CLOEXEC report pipe is used instead). All signals are
 * blocked in the parent around vfork so that no handler of ours runs on the
 * shared stack; the child resets every disposition to SIG_DFL and clears its
 * mask just before exec ("signals are reset to their defaults"), moves to a
 * process group of its own (pgid == pid), asks for SIGKILL when the thread
 * that started it dies, re-checks its parent is still alive and, when a
 * pool pinned the starting thread to one CPU, takes back the process's
 * CPUs (cpu.c). Every fd we create is O_CLOEXEC, so commands started
 * concurrently by other threads never inherit our pipes.
 *
 * States of a run: RUNNING -> (deadline) GRACE -> KILLED, or RUNNING ->
 * done. The command is done when the leader has exited (seen through a
 * pidfd, without reaping it) AND stdout and stderr have reached EOF: a
 * background grandchild holding the pipes keeps us reading, as `$(...)` in
 * a shell would. With exit_ends, the leader's exit is the end: what the
 * pipes already hold then is read (non-blocking, no more than they held),
 * and they are closed. One poll() loop serves stdin (non-blocking writes), both
 * outputs (capture up to the limit, then read and discard, so the child
 * never blocks on a full pipe) and the pidfd.
 *
 * Timeout. At the deadline SIGTERM (+SIGCONT) goes to the group; GRACE lasts
 * until the command is done or kill_grace_ms pass; then SIGKILL goes to the
 * group unconditionally. The leader is reaped only after that last kill:
 * while it is an unreaped zombie its pid, hence the group id, cannot be
 * reused, so kill(-pgid) can never hit an unrelated process group. After
 * SIGKILL the pipes are drained until EOF or for PROC_DRAIN_MS at most
 * (a process that left the group may still hold them).
 *
 * Cancel. A readable cancel_fd in the same poll() acts as a deadline
 * reached now: the same TERM, grace, KILL, with `cancelled` instead of
 * `timed_out`. The descriptor is only polled, so it stays readable for
 * every other command watching it.
 *
 * SIGPIPE. Writing to a stdin pipe the child has closed raises SIGPIPE in
 * the calling thread; while stdin is fed the signal is blocked in this
 * thread and a SIGPIPE we caused is consumed with sigtimedwait before the
 * old mask comes back.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "loom/process.h"
#include "process_internal.h"

#define PROC_BUF_INITIAL      1024           /* first capture buffer per stream */
#define PROC_BUF_MIN_ROOM     512            /* grow a capture buffer below this */
#define PROC_DISCARD_SIZE     (64 * 1024)    /* scratch for output past the limit */
#define PROC_DRAIN_MS         200            /* pipe draining after SIGKILL */
#define PROC_FALLBACK_POLL_MS 5              /* exit polling when no pidfd */
#define PROC_LIMIT_MAX        (SIZE_MAX / 4) /* keeps buffer arithmetic safe */

/* ThreadSanitizer turns vfork() into fork(): the child's memory is then a
 * copy and a failure it writes into the spawn context never reaches us. In
 * that build (or with -DLOOM_PROC_ERRPIPE=1) the child also reports through
 * a CLOEXEC pipe: EOF means exec succeeded. */
#ifndef LOOM_PROC_ERRPIPE
#if defined(__SANITIZE_THREAD__)
#define LOOM_PROC_ERRPIPE 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define LOOM_PROC_ERRPIPE 1
#endif
#endif
#endif
#ifndef LOOM_PROC_ERRPIPE
#define LOOM_PROC_ERRPIPE 0
#endif

/* ---- child side (runs between vfork and exec) --------------------------- */

enum proc_stage { STAGE_NONE, STAGE_SETUP, STAGE_CHDIR, STAGE_EXEC };

struct spawn_ctx {
    const char *file;
    char *const *argv;
    char *const *envp;
    const char *cwd;
    int fd[3];     /* the child's stdin (-1: /dev/null), stdout, stderr */
    int report_fd; /* write end of the report pipe, or -1 */
    pid_t parent;
    const void *cpus; /* a cpu_set_t the child takes back (pool pinning), or NULL */
    size_t cpus_size;
    /* Written by the child only, read by the parent after vfork returns. */
    volatile int fail_stage;
    volatile int fail_errno;
};

static _Noreturn void
child_fail(struct spawn_ctx *c, int report_fd, int stage)
{
    int msg[2] = {stage, errno};

    c->fail_errno = msg[1];
    c->fail_stage = stage;
    if (report_fd >= 0)
        (void)!write(report_fd, msg, sizeof msg);
    _exit(127);
}

static _Noreturn void
child_main(struct spawn_ctx *c)
{
    struct sigaction sa;
    sigset_t none;
    int src[3], report_fd = c->report_fd;

    /* A handler of the parent must not run here (shared memory), and the
     * command gets default dispositions. glibc's internal signals fail with
     * EINVAL and are skipped. */
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP)
            continue;
        if (sigaction(sig, NULL, &sa) != 0 || sa.sa_handler == SIG_DFL)
            continue;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = SIG_DFL;
        (void)sigaction(sig, &sa, NULL);
    }
    if (setpgid(0, 0) != 0)
        child_fail(c, report_fd, STAGE_SETUP);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
        child_fail(c, report_fd, STAGE_SETUP);
    if (getppid() != c->parent)
        _exit(127); /* the parent died before prctl: nobody to report to */
    /* a pinned pool thread's command runs on the process's CPUs, not on
     * its launcher's one core; a failure leaves it where it is */
    if (c->cpus)
        (void)sched_setaffinity(0, c->cpus_size, (const cpu_set_t *)c->cpus);

    if (report_fd >= 0 && report_fd < 3 && (report_fd = fcntl(report_fd, F_DUPFD_CLOEXEC, 3)) < 0)
        _exit(127);
    src[0] = c->fd[0];
    src[1] = c->fd[1];
    src[2] = c->fd[2];
    if (src[0] < 0 && (src[0] = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
        child_fail(c, report_fd, STAGE_SETUP);
    /* If the caller had closed 0/1/2, a source may sit on a target slot:
     * move sources to >= 3 first so that no dup2 clobbers another source.
     * The CLOEXEC sources vanish at exec; the dup2 copies stay. */
    for (int i = 0; i < 3; i++) {
        if (src[i] < 3 && (src[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 3)) < 0)
            child_fail(c, report_fd, STAGE_SETUP);
    }
    for (int i = 0; i < 3; i++) {
        if (dup2(src[i], i) < 0)
            child_fail(c, report_fd, STAGE_SETUP);
    }
    if (c->cwd && chdir(c->cwd) != 0)
        child_fail(c, report_fd, STAGE_CHDIR);

    sigemptyset(&none);
    (void)sigprocmask(SIG_SETMASK, &none, NULL);
    (void)execvpe(c->file, c->argv, c->envp);
    child_fail(c, report_fd, STAGE_EXEC);
}

/* Kept apart so that nothing of loom_proc_run's frame lives across the
 * returns-twice vfork() call. */
__attribute__((noinline)) static pid_t
spawn_vfork(struct spawn_ctx *c)
{
    pid_t pid = vfork();
    if (pid == 0)
        child_main(c);
    return pid;
}

/* ---- parent side --------------------------------------------------------- */

struct stream {
    int fd;
    char *buf; /* cap bytes, of which len captured, +1 for the NUL */
    size_t len, cap;
    uint64_t total; /* all bytes read, captured or not */
};

struct run {
    pid_t pid;
    int pidfd; /* -1: poll for exit with waitid(WNOWAIT) instead */
    int in_fd;
    const char *in_data;
    size_t in_len, in_off;
    int in_epipe;
    struct stream s[2];
    size_t limit;
    char *discard;                 /* lazily allocated scratch for bytes past the limit */
    loom_proc_output_fn output_fn; /* set: nothing captured, all goes there */
    void *output_arg;
    int exited;    /* the leader's exit was seen; it is not reaped yet */
    int exit_ends; /* loom_proc_opts.exit_ends */
    int timed_out;
    int cancelled;
};

static void
close_fd(int *fd)
{
    if (*fd >= 0) {
        (void)close(*fd);
        *fd = -1;
    }
}

/* Signal the group and, separately, the leader (in case it moved to another
 * group): both are safe while the leader is unreaped. */
static void
group_kill(pid_t pid, int sig)
{
    (void)kill(-pid, sig);
    (void)kill(pid, sig);
}

static int
ms_until(int64_t deadline_ns, int64_t now_ns)
{
    int64_t ms;

    if (deadline_ns < 0)
        return -1;
    if (deadline_ns <= now_ns)
        return 0;
    ms = (deadline_ns - now_ns + 999999) / 1000000;
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* One read on a readable output pipe. EOF (or an unexpected error, which a
 * pipe does not produce) ends the stream. Growth failure is ENOMEM. */
static loom_err
stream_read(struct run *r, struct stream *s)
{
    char small[512];
    char *dst;
    size_t want;
    ssize_t n;
    int capture = !r->output_fn && s->len < r->limit;

    if (capture) {
        if (s->cap - 1 - s->len < PROC_BUF_MIN_ROOM && s->cap - 1 < r->limit) {
            size_t ncap = s->cap * 2;
            char *nb;
            if (ncap - 1 > r->limit)
                ncap = r->limit + 1;
            if (!(nb = realloc(s->buf, ncap)))
                return LOOM_ENOMEM;
            s->buf = nb;
            s->cap = ncap;
        }
        dst = s->buf + s->len;
        want = s->cap - 1 - s->len;
        if (want > r->limit - s->len)
            want = r->limit - s->len;
    } else {
        if (!r->discard)
            r->discard = malloc(PROC_DISCARD_SIZE);
        dst = r->discard ? r->discard : small;
        want = r->discard ? PROC_DISCARD_SIZE : sizeof small;
    }
    do {
        n = read(s->fd, dst, want);
    } while (n < 0 && errno == EINTR);
    if (n > 0) {
        s->total += (uint64_t)n;
        if (capture)
            s->len += (size_t)n;
        else if (r->output_fn)
            r->output_fn(r->output_arg, s == &r->s[0] ? 1 : 2, dst, (size_t)n);
    } else if (n == 0 || errno != EAGAIN) {
        close_fd(&s->fd);
    }
    return LOOM_OK;
}

/* exit_ends: read what the pipe held when the leader's exit was seen
 * (without waiting for more), then close it. */
static loom_err
stream_drain(struct run *r, struct stream *s)
{
    int avail = 0, fl;

    if (s->fd < 0)
        return LOOM_OK;
    if (ioctl(s->fd, FIONREAD, &avail) != 0 || avail < 0)
        avail = 0;
    if ((fl = fcntl(s->fd, F_GETFL)) >= 0)
        (void)fcntl(s->fd, F_SETFL, fl | O_NONBLOCK);
    uint64_t until = s->total + (uint64_t)avail;
    while (s->fd >= 0 && s->total < until) {
        uint64_t before = s->total;
        loom_err rc = stream_read(r, s);
        if (rc != LOOM_OK)
            return rc;
        if (s->total == before)
            break; /* EAGAIN: nothing more there */
    }
    close_fd(&s->fd);
    return LOOM_OK;
}

static void
stdin_write(struct run *r)
{
    ssize_t n;

    do {
        n = write(r->in_fd, r->in_data + r->in_off, r->in_len - r->in_off);
    } while (n < 0 && errno == EINTR);
    if (n >= 0) {
        r->in_off += (size_t)n;
        if (r->in_off == r->in_len)
            close_fd(&r->in_fd); /* the child sees EOF */
    } else if (errno != EAGAIN) {
        /* EPIPE: the child closed its stdin without reading it all, which
         * is not an error. */
        if (errno == EPIPE)
            r->in_epipe = 1;
        close_fd(&r->in_fd);
    }
}

static void
check_exit_without_pidfd(struct run *r)
{
    siginfo_t si;

    memset(&si, 0, sizeof si);
    if (waitid(P_PID, (id_t)r->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0) {
        if (si.si_pid == r->pid)
            r->exited = 1;
    } else if (errno == ECHILD) {
        r->exited = 1; /* reaped behind our back (SIGCHLD ignored) */
    }
}

/* The poll loop: returns when the command is done, or after the post-kill
 * drain. Only a failing poll() or ENOMEM is an error. */
static loom_err
run_io(struct run *r, int64_t t0, int timeout_ms, int grace_ms, int cancel_fd)
{
    enum { PH_RUN, PH_GRACE, PH_KILLED } phase = PH_RUN;
    int64_t deadline = timeout_ms > 0 ? t0 + (int64_t)timeout_ms * 1000000 : -1;
    int64_t next = -1;

    for (;;) {
        struct pollfd pfd[5];
        int idx_in = -1, idx_out[2] = {-1, -1}, idx_pid = -1, idx_cancel = -1;
        int nfds = 0, wait_ms, n;
        int64_t now = loom__now_ns();

        if (r->exited && r->exit_ends && phase == PH_RUN) {
            for (int i = 0; i < 2; i++) {
                loom_err rc = stream_drain(r, &r->s[i]);
                if (rc != LOOM_OK)
                    return rc;
            }
        }
        if (r->exited && r->s[0].fd < 0 && r->s[1].fd < 0)
            return LOOM_OK; /* done */
        if (phase == PH_RUN && (r->cancelled || (deadline >= 0 && now >= deadline))) {
            r->timed_out = !r->cancelled;
            close_fd(&r->in_fd);
            if (grace_ms < 0) {
                group_kill(r->pid, SIGKILL);
                phase = PH_KILLED;
                next = now + (int64_t)PROC_DRAIN_MS * 1000000;
            } else {
                group_kill(r->pid, SIGTERM);
                group_kill(r->pid, SIGCONT); /* a stopped member gets TERM too */
                phase = PH_GRACE;
                next = now + (int64_t)grace_ms * 1000000;
            }
        }
        if (phase == PH_GRACE && now >= next) {
            group_kill(r->pid, SIGKILL);
            phase = PH_KILLED;
            next = now + (int64_t)PROC_DRAIN_MS * 1000000;
        }
        if (phase == PH_KILLED && now >= next)
            return LOOM_OK; /* what still holds the pipes left the group */

        wait_ms = ms_until(phase == PH_RUN ? deadline : next, now);
        if (r->pidfd < 0 && !r->exited && (wait_ms < 0 || wait_ms > PROC_FALLBACK_POLL_MS))
            wait_ms = PROC_FALLBACK_POLL_MS;
        if (r->in_fd >= 0) {
            idx_in = nfds;
            pfd[nfds++] = (struct pollfd){.fd = r->in_fd, .events = POLLOUT};
        }
        for (int i = 0; i < 2; i++) {
            if (r->s[i].fd >= 0) {
                idx_out[i] = nfds;
                pfd[nfds++] = (struct pollfd){.fd = r->s[i].fd, .events = POLLIN};
            }
        }
        if (r->pidfd >= 0 && !r->exited) {
            idx_pid = nfds;
            pfd[nfds++] = (struct pollfd){.fd = r->pidfd, .events = POLLIN};
        }
        if (cancel_fd > 0 && phase == PH_RUN && !r->exited) {
            idx_cancel = nfds;
            pfd[nfds++] = (struct pollfd){.fd = cancel_fd, .events = POLLIN};
        }

        n = poll(pfd, (nfds_t)nfds, wait_ms);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return LOOM_ESYS;
        }
        if (idx_in >= 0 && pfd[idx_in].revents)
            stdin_write(r);
        for (int i = 0; i < 2; i++) {
            if (idx_out[i] >= 0 && pfd[idx_out[i]].revents) {
                loom_err rc = stream_read(r, &r->s[i]);
                if (rc != LOOM_OK)
                    return rc;
            }
        }
        if (idx_pid >= 0 && pfd[idx_pid].revents)
            r->exited = 1;
        if (idx_cancel >= 0 && pfd[idx_cancel].revents && !r->exited)
            r->cancelled = 1;
        if (r->pidfd < 0 && !r->exited)
            check_exit_without_pidfd(r);
    }
}

int
loom__proc_reap(pid_t pid)
{
    int st;
    pid_t w;

    do {
        w = waitpid(pid, &st, 0);
    } while (w < 0 && errno == EINTR);
    return w == pid ? st : -1;
}

static loom_err
spawn_error(int stage, int e)
{
    if (e == ENOMEM)
        return LOOM_ENOMEM;
    if (stage == STAGE_SETUP)
        return LOOM_ESYS;
    switch (e) {
    case ENOENT:
    case ENOTDIR:
    case ELOOP:
    case ENAMETOOLONG:
        return LOOM_ENOTFOUND;
    default: /* EACCES, ENOEXEC, EPERM, EISDIR, ETXTBSY, E2BIG, ... */
        return LOOM_ENOEXEC;
    }
}

static size_t
env_name_len(const char *entry)
{
    const char *eq = strchr(entry, '=');
    return eq ? (size_t)(eq - entry) : strlen(entry);
}

static int
env_has_name(const char *entry, const char *name, size_t len)
{
    return strncmp(entry, name, len) == 0 && (entry[len] == '=' || entry[len] == '\0');
}

/* Whether an environment entry is one of the variables Open MPI 4.1
 * (mpirun and its daemons, or srun's PMIx or PMI-2 plugin) sets for one process of
 * one MPI job: its rank, its job, the address of its PMIx server. A command
 * is not that process: with them, an MPI program run as a command (a
 * singleton, or its own mpirun) tries to join the caller's job and aborts
 * in MPI_Init. Settings (other OMPI_MCA_*, PMIX_MCA_*) pass. */
static int
mpi_launch_var(const char *e)
{
    static const char *const prefixes[] = {"PMIX_", "PMI_", "OMPI_COMM_WORLD_", "OMPI_MCA_orte_",
                                           "OMPI_MCA_ess_base_"};
    static const char *const names[] = {"OMPI_MCA_ess",
                                        "OMPI_MCA_pmix",
                                        "OMPI_MCA_initial_wdir",
                                        "OMPI_MCA_shmem_RUNTIME_QUERY_hint",
                                        "OMPI_UNIVERSE_SIZE",
                                        "OMPI_NUM_APP_CTX",
                                        "OMPI_FIRST_RANKS",
                                        "OMPI_APP_CTX_NUM_PROCS",
                                        "OMPI_FILE_LOCATION",
                                        "OMPI_COMMAND",
                                        "OMPI_ARGV"};
    if (e[0] != 'P' && e[0] != 'O')
        return 0;
    if (strncmp(e, "PMIX_MCA_", 9) == 0)
        return 0;
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (strncmp(e, prefixes[i], strlen(prefixes[i])) == 0)
            return 1;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (env_has_name(e, names[i], strlen(names[i])))
            return 1;
    return 0;
}

/* The child's environment: environ without the MPI job's own variables,
 * the names in `drop` (may be NULL) and the names that `extra` (may be
 * NULL) overrides, then `extra` (the
 * last of duplicate names wins). Pointers only: the strings stay where
 * they are. */
static loom_err
build_env(const char *const *extra, const char *const *drop, char ***out)
{
    static const char *const none[] = {NULL};
    size_t n = 0, m = 0, k = 0;
    char **envp;

    if (!extra)
        extra = none;
    while (environ && environ[n])
        n++;
    while (extra[m])
        m++;
    if (!(envp = malloc((n + m + 1) * sizeof *envp)))
        return LOOM_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        int dropped = mpi_launch_var(environ[i]);
        for (size_t j = 0; drop && drop[j] && !dropped; j++)
            dropped = env_has_name(environ[i], drop[j], strlen(drop[j]));
        for (size_t j = 0; j < m && !dropped; j++)
            dropped = env_has_name(environ[i], extra[j], env_name_len(extra[j]));
        if (!dropped)
            envp[k++] = environ[i];
    }
    for (size_t j = 0; j < m; j++) {
        size_t len = env_name_len(extra[j]);
        int later = 0;
        for (size_t l = j + 1; l < m && !later; l++)
            later = env_has_name(extra[l], extra[j], len);
        if (!later)
            envp[k++] = (char *)extra[j];
    }
    envp[k] = NULL;
    *out = envp;
    return LOOM_OK;
}

static int
opts_valid(const loom_proc_opts *o)
{
    if ((o->argv == NULL) == (o->shell_cmd == NULL))
        return 0;
    if (o->argv && o->argv[0] == NULL)
        return 0;
    if (o->stdin_data == NULL && o->stdin_len > 0)
        return 0;
    for (size_t i = 0; o->env && o->env[i]; i++) {
        const char *eq = strchr(o->env[i], '=');
        if (!eq || eq == o->env[i])
            return 0;
    }
    return 1;
}

static void
stream_finish(struct stream *s, char **buf, size_t *len, uint64_t *total, int *truncated)
{
    s->buf[s->len] = '\0';
    *buf = s->buf;
    *len = s->len;
    *total = s->total;
    *truncated = s->total > s->len;
    s->buf = NULL;
}

/* Hand both captured outputs over to res (NUL-terminated). */
static void
result_take_output(loom_proc_result *res, struct run *r)
{
    stream_finish(&r->s[0], &res->out, &res->out_len, &res->out_total, &res->out_truncated);
    stream_finish(&r->s[1], &res->err, &res->err_len, &res->err_total, &res->err_truncated);
    if (r->output_fn) /* all went to output_fn: nothing was cut */
        res->out_truncated = res->err_truncated = 0;
}

/* The run's state before anything is allocated: no child, no descriptor. */
static void
run_init(struct run *r, const loom_proc_opts *opts)
{
    memset(r, 0, sizeof *r);
    r->pid = -1;
    r->pidfd = -1;
    r->in_fd = -1;
    r->s[0].fd = r->s[1].fd = -1;
    r->limit = opts->output_limit ? opts->output_limit : LOOM_PROC_OUTPUT_LIMIT_DEFAULT;
    if (r->limit > PROC_LIMIT_MAX)
        r->limit = PROC_LIMIT_MAX;
    r->in_data = opts->stdin_data;
    r->in_len = opts->stdin_len;
    r->exit_ends = opts->exit_ends;
    r->output_fn = opts->output_fn;
    r->output_arg = opts->output_arg;
}

/* The first capture buffer of each stream. LOOM_ENOMEM or LOOM_OK. */
static loom_err
run_alloc_buffers(struct run *r)
{
    for (int i = 0; i < 2; i++) {
        r->s[i].cap = (r->limit < PROC_BUF_INITIAL ? r->limit : PROC_BUF_INITIAL - 1) + 1;
        if (!(r->s[i].buf = malloc(r->s[i].cap)))
            return LOOM_ENOMEM;
    }
    return LOOM_OK;
}

static void
run_free(struct run *r)
{
    close_fd(&r->pidfd);
    free(r->discard);
    free(r->s[0].buf);
    free(r->s[1].buf);
}

/* The pipes of one start; [0] is the read end, [1] the write end, -1 when
 * closed or not made. */
struct pipes {
    int in[2];     /* the child's stdin: made only when there is input */
    int out[2];    /* the child's stdout */
    int err[2];    /* the child's stderr */
    int report[2]; /* the child's failure report (LOOM_PROC_ERRPIPE only) */
};

static void
pipes_init(struct pipes *p)
{
    p->in[0] = p->in[1] = p->out[0] = p->out[1] = -1;
    p->err[0] = p->err[1] = p->report[0] = p->report[1] = -1;
}

/* Make the pipes a start needs, all O_CLOEXEC. LOOM_ESYS or LOOM_OK. */
static loom_err
pipes_open(struct pipes *p, int with_stdin)
{
    if (pipe2(p->out, O_CLOEXEC) != 0 || pipe2(p->err, O_CLOEXEC) != 0)
        return LOOM_ESYS;
    /* Only our end is non-blocking: the child's end is a shared file
     * description and the command expects blocking I/O. */
    if (with_stdin && (pipe2(p->in, O_CLOEXEC) != 0 || fcntl(p->in[1], F_SETFL, O_NONBLOCK) != 0))
        return LOOM_ESYS;
    if (LOOM_PROC_ERRPIPE && pipe2(p->report, O_CLOEXEC) != 0)
        return LOOM_ESYS;
    return LOOM_OK;
}

/* Close the child's ends, once it has them. */
static void
pipes_close_child_ends(struct pipes *p)
{
    close_fd(&p->in[0]);
    close_fd(&p->out[1]);
    close_fd(&p->err[1]);
    close_fd(&p->report[1]);
}

static void
pipes_close(struct pipes *p)
{
    pipes_close_child_ends(p);
    close_fd(&p->in[1]);
    close_fd(&p->out[0]);
    close_fd(&p->err[0]);
    close_fd(&p->report[0]);
}

/* What the child needs, prepared before vfork (the child may not
 * allocate). sh_argv: {"/bin/sh", "-c", NULL, NULL}, used for a shell
 * command; it must outlive the start. */
static void
spawn_ctx_fill(struct spawn_ctx *ctx, const loom_proc_opts *opts, const char **sh_argv, char **envp,
               const struct pipes *p)
{
    memset(ctx, 0, sizeof *ctx);
    sh_argv[2] = opts->shell_cmd;
    ctx->argv = (char *const *)(opts->argv ? opts->argv : sh_argv);
    ctx->file = ctx->argv[0];
    ctx->envp = envp;
    ctx->cwd = opts->cwd;
    ctx->fd[0] = p->in[0];
    ctx->fd[1] = p->out[1];
    ctx->fd[2] = p->err[1];
    ctx->report_fd = p->report[1];
    ctx->parent = getpid();
    ctx->cpus = loom__cpu_unpinned(&ctx->cpus_size);
}

/* With a report pipe: what the child wrote into it before failing (EOF,
 * nothing: exec succeeded) goes into ctx's fail_* fields. */
static void
spawn_report_read(struct spawn_ctx *ctx, int report_fd)
{
    int msg[2];
    ssize_t n;

    if (report_fd < 0)
        return;
    do {
        n = read(report_fd, msg, sizeof msg);
    } while (n < 0 && errno == EINTR);
    if (n == (ssize_t)sizeof msg) {
        ctx->fail_stage = msg[0];
        ctx->fail_errno = msg[1];
    }
}

/* Start the child with every signal blocked in this thread, then close
 * the child's ends of the pipes. *pid: the child, or -1 when vfork failed
 * (LOOM_ENOMEM or LOOM_ESYS). A child that could not exec is reported in
 * ctx's fail_* fields, with LOOM_OK. */
static loom_err
spawn(struct spawn_ctx *ctx, struct pipes *p, pid_t *pid)
{
    sigset_t all, saved_mask;
    loom_err rc = LOOM_OK;

    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &saved_mask);
    *pid = spawn_vfork(ctx);
    if (*pid < 0)
        rc = errno == ENOMEM ? LOOM_ENOMEM : LOOM_ESYS;
    pthread_sigmask(SIG_SETMASK, &saved_mask, NULL);
    pipes_close_child_ends(p);
    if (*pid < 0)
        return rc;
    spawn_report_read(ctx, p->report[0]);
    return LOOM_OK;
}

/* The child reported a failed start and has _exit()ed: reap it and say
 * why. A command not found or not executable is a result (exit_code -1,
 * empty outputs) as well as an error code. */
static loom_err
spawn_failed(const struct spawn_ctx *ctx, struct run *r, int64_t t0, loom_proc_result *res)
{
    loom_err rc;

    (void)loom__proc_reap(r->pid); /* it has _exit()ed already */
    rc = spawn_error(ctx->fail_stage, ctx->fail_errno);
    res->spawn_errno = ctx->fail_errno;
    if (rc != LOOM_ENOTFOUND && rc != LOOM_ENOEXEC)
        return rc;
    res->exit_code = -1;
    res->wall_seconds = (double)(loom__now_ns() - t0) / 1e9;
    result_take_output(res, r);
    return rc;
}

/* Our ends of the pipes move into the run; from here on the child runs
 * and must be reaped on every path. */
static void
run_adopt(struct run *r, struct pipes *p)
{
    r->in_fd = p->in[1];
    p->in[1] = -1;
    r->s[0].fd = p->out[0];
    p->out[0] = -1;
    r->s[1].fd = p->err[0];
    p->err[0] = -1;
    /* pidfds are born O_CLOEXEC; without one (kernel < 5.3, seccomp) the
     * loop polls for the exit with waitid(WNOWAIT). */
    r->pidfd = (int)syscall(SYS_pidfd_open, r->pid, 0);
}

/* SIGPIPE blocked in this thread while stdin is fed (see the top). */
struct sigpipe_guard {
    int blocked;     /* the mask below is to be restored */
    int was_pending; /* a SIGPIPE was pending before: not ours to consume */
    sigset_t set, saved_mask;
};

static void
sigpipe_block(struct sigpipe_guard *g, int feeding_stdin)
{
    sigset_t pending;

    g->blocked = 0;
    g->was_pending = 0;
    if (!feeding_stdin)
        return;
    sigemptyset(&g->set);
    sigaddset(&g->set, SIGPIPE);
    sigpending(&pending);
    g->was_pending = sigismember(&pending, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &g->set, &g->saved_mask);
    g->blocked = 1;
}

/* Consume the SIGPIPE a write of ours raised (got_epipe), then give the
 * thread its mask back. */
static void
sigpipe_restore(struct sigpipe_guard *g, int got_epipe)
{
    if (!g->blocked)
        return;
    if (got_epipe && !g->was_pending) {
        const struct timespec zero = {0, 0};
        while (sigtimedwait(&g->set, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &g->saved_mask, NULL);
}

/* Serve the running child until it is done (or killed), then close our
 * pipes and reap it: *status is its wait status, or -1. Only a failing
 * poll() or ENOMEM is an error; the child is reaped either way. */
static loom_err
run_supervise(struct run *r, const loom_proc_opts *opts, int64_t t0, int *status)
{
    struct sigpipe_guard guard;
    int grace_ms;
    loom_err rc;

    grace_ms = opts->kill_grace_ms == 0 ? LOOM_PROC_KILL_GRACE_DEFAULT_MS : opts->kill_grace_ms;
    sigpipe_block(&guard, r->in_fd >= 0);
    rc = run_io(r, t0, opts->timeout_ms, grace_ms, opts->cancel_fd);
    if (rc != LOOM_OK || r->timed_out || r->cancelled)
        group_kill(r->pid, SIGKILL); /* before reaping: the pgid is still ours */
    close_fd(&r->in_fd);
    close_fd(&r->s[0].fd);
    close_fd(&r->s[1].fd);
    *status = loom__proc_reap(r->pid);
    sigpipe_restore(&guard, r->in_epipe);
    return rc;
}

/* How the command ended, from its wait status (-1: unknown). */
static void
result_fill(loom_proc_result *res, struct run *r, int status, int64_t t0)
{
    res->pid = (int)r->pid;
    res->timed_out = r->timed_out;
    res->cancelled = r->cancelled;
    res->exit_code = -1;
    if (status != -1 && WIFEXITED(status)) {
        res->exited = 1;
        res->exit_code = WEXITSTATUS(status);
    } else if (status != -1 && WIFSIGNALED(status)) {
        res->signaled = 1;
        res->term_signal = WTERMSIG(status);
    }
    res->wall_seconds = (double)(loom__now_ns() - t0) / 1e9;
    result_take_output(res, r);
}

/* loom_proc_run once the options are checked: prepare, start, serve,
 * reap, and free what the run held. */
static loom_err
run_command(const loom_proc_opts *opts, loom_proc_result *res)
{
    const char *sh_argv[4] = {"/bin/sh", "-c", NULL, NULL};
    int64_t t0 = loom__now_ns();
    struct spawn_ctx ctx;
    struct pipes p;
    struct run r;
    char **envp = NULL;
    int status;
    loom_err rc;

    run_init(&r, opts);
    pipes_init(&p);
    if ((rc = build_env(opts->env, opts->env_drop, &envp)) != LOOM_OK)
        goto out;
    if ((rc = run_alloc_buffers(&r)) != LOOM_OK)
        goto out;
    if ((rc = pipes_open(&p, r.in_len > 0)) != LOOM_OK)
        goto out;
    spawn_ctx_fill(&ctx, opts, sh_argv, envp, &p);
    if ((rc = spawn(&ctx, &p, &r.pid)) != LOOM_OK)
        goto out;
    if (ctx.fail_stage != STAGE_NONE) {
        rc = spawn_failed(&ctx, &r, t0, res);
        goto out;
    }
    run_adopt(&r, &p);
    if ((rc = run_supervise(&r, opts, t0, &status)) != LOOM_OK)
        goto out;
    result_fill(res, &r, status, t0);

out:
    pipes_close(&p);
    run_free(&r);
    free(envp);
    return rc;
}

loom_err
loom_proc_run(const loom_proc_opts *opts, loom_proc_result *res)
{
    int cancel_state;
    loom_err rc;

    LOOM_ASSERT(opts != NULL);
    LOOM_ASSERT(res != NULL);
    memset(res, 0, sizeof *res);
    if (!opts_valid(opts))
        return loom__fail(LOOM_EINVAL, "loom_proc_run: exactly one of argv and shell_cmd must be "
                                       "set, and the options must be valid");
    /* poll/read/waitpid are cancellation points: a cancelled caller would
     * leak the child and its pipes, so the run is not cancellable. */
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
    rc = run_command(opts, res);
    if (rc != LOOM_OK && rc != LOOM_ENOTFOUND && rc != LOOM_ENOEXEC) {
        int e = res->spawn_errno;
        memset(res, 0, sizeof *res);
        res->spawn_errno = e;
    }
    pthread_setcancelstate(cancel_state, NULL);
    if (rc == LOOM_ENOTFOUND || rc == LOOM_ENOEXEC)
        return loom__fail(rc, "cannot run \"%s\": %s", opts->argv ? opts->argv[0] : "/bin/sh",
                          strerror(res->spawn_errno));
    return loom__ret(rc);
}

void
loom_proc_result_free(loom_proc_result *res)
{
    if (!res)
        return;
    free(res->out);
    free(res->err);
    memset(res, 0, sizeof *res);
}
