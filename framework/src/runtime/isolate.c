/* SPDX-License-Identifier: MIT */
/*
 * Isolated tasks: a task function run in a child process, so that its
 * crash, abort(), exit(), hang or runaway memory is a failed task with its
 * cause, while the worker rank lives on.
 *
 * Helper mode (default). A slot (struct loom__iso, one per running pool
 * thread) keeps one helper process: posix_spawn of /proc/self/exe — the
 * very binary of this process — with LOOM__ISO_HELPER=<fd>:<parent pid> in
 * its environment. The helper never reaches main(): a constructor of this
 * file sees the marker and enters helper_main(), so it has no MPI state
 * (nothing inherited from the threaded MPI process, unlike a bare fork) and
 * costs one exec per helper, not per task. The helper and the worker talk
 * over one AF_UNIX stream socketpair (send with MSG_NOSIGNAL: a dead peer
 * is an error, not SIGPIPE):
 *
 *   helper -> parent  hello  {magic, pid}                  once, when ready
 *   parent -> helper  request {iso_req, fn module, user module, payload}
 *   helper -> parent  reply  {iso_rep, reply bytes}
 *
 * Functions cannot travel as pointers: the parent names the loaded object
 * that contains the function (dl_iterate_phdr; "" is the executable) and
 * its offset from the object's load address; the helper, running the same
 * files, finds the object by name (dlopen()ing it if the program had), checks
 * the offset falls in one of its executable segments and adds its own load
 * address (ASLR moves bases, not layouts). The `user` pointer travels the
 * same way when it points into an object's static data; a heap pointer
 * cannot, and such a task fails with LOOM_CAUSE_ISOLATION.
 *
 * The parent waits with poll() on the socket and a pidfd of the helper:
 *  - a whole reply: the task returned (OK or FAILED);
 *  - the pidfd fires: the helper died; waitpid() gives the signal or exit
 *    code (SIGNAL / EXIT); a death before its hello is ISOLATION;
 *  - task.timeout passes: SIGKILL to the helper's process group (it is a
 *    group leader, so children the task started die too), TIMEOUT;
 *  - with task.memory_limit, every MEM_POLL_MS the helper's resident size
 *    is read from /proc/<pid>/statm; above the limit: SIGKILL, MEMORY. The
 *    limit is on resident memory (what a cgroup or the OOM killer judges),
 *    checked at that period: a task may overshoot by what it allocates in
 *    that time; tasks shorter than the period are never sampled (they cost
 *    nothing extra). RLIMIT_AS was not used: it counts address space (a
 *    sanitizer's shadow memory, untouched reservations), and malloc's NULL
 *    tells nobody that memory was the cause.
 * A dead or killed helper is reaped at once (kill -pgid is safe until then:
 * the unreaped leader keeps the group id from being reused) and the slot
 * starts a new helper for its next task.
 *
 * Fork mode (task.isolate_mode = "fork"): fork() for every task; the child
 * runs the function on the parent's copy of memory, writes the reply and
 * _exit()s. Measured against helper mode by bench/bench_isolate.c. The
 * child of a threaded process may only use what no other thread could have
 * held locked at the fork: glibc's malloc and stdio are reset by fork, loom's
 * own locks and MPI are not — the function must not call MPI.
 *
 * In both modes the child gets RLIMIT_CORE 0 (a crash is reported, not
 * dumped), its own process group, and SIGKILL when the thread that started
 * it dies (PR_SET_PDEATHSIG; the slot's helper is started by the pool thread
 * that first needs it, and pool threads live as long as the worker).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "isolate.h"
#include "loom/log.h"
#include "process_internal.h"
#include "task.h"

#define ISO_ENV        "LOOM__ISO_HELPER"
#define ISO_HELLO      0x4c4f4f48u /* "HOOL" */
#define ISO_REQ        0x4c4f4f51u
#define ISO_REP        0x4c4f4f52u
#define ISO_NAME_MAX   4096  /* a module path */
#define ISO_HELLO_MS   30000 /* a helper that is not ready by then is broken */
#define MEM_POLL_MS    5     /* resident-size sampling period with a memory limit */
#define EOF_POLL_MS    10    /* exit polling after the socket closed, without a pidfd */
#define ISO_NO_USER    UINT32_MAX
#define ISO_REP_OK     0u
#define ISO_REP_NOFN   1u /* the helper did not find the function */
#define ISO_REP_NOUSER 2u /* ... or the user data */

extern char **environ;

struct iso_hello {
    uint32_t magic;
    int32_t pid;
};

struct iso_req { /* + fn module name + user module name + payload */
    uint32_t magic;
    uint32_t chunk;
    uint64_t id;
    uint32_t attempt;
    int32_t rank;
    int32_t size;
    uint32_t threads;
    uint64_t fn_off, user_off;
    uint32_t fn_mod_len, user_mod_len; /* ISO_NO_USER: user is NULL */
    uint64_t len;
    uint64_t max_payload;
};

struct iso_rep { /* + reply */
    uint32_t magic;
    uint32_t err; /* ISO_REP_* */
    int32_t status;
    uint32_t refused; /* loom_err of the refusal that failed the task, else 0 */
    uint64_t len;
};

/* ---- byte streams ---------------------------------------------------------- */

static int
write_full(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

/* 1 done, 0 EOF before the first byte, -1 error or EOF inside. */
static int
read_full(int fd, void *p, size_t n)
{
    char *c = p;
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, c + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            return got ? -1 : 0;
        got += (size_t)r;
    }
    return 1;
}

/* ---- locating code and data in loaded objects ----------------------------- */

struct locate {
    uintptr_t addr;
    int need_exec;
    const char *name; /* helper side: the object to look in; parent: found */
    uintptr_t base;
    int found;
};

static int
segment_holds(const struct dl_phdr_info *info, uintptr_t addr, int need_exec)
{
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && addr >= lo && addr - lo < ph->p_memsz &&
            (!need_exec || (ph->p_flags & PF_X)))
            return 1;
    }
    return 0;
}

/* Parent: which object holds addr. */
static int
find_holder(struct dl_phdr_info *info, size_t size, void *arg)
{
    struct locate *l = arg;
    (void)size;
    if (!segment_holds(info, l->addr, l->need_exec))
        return 0;
    l->name = info->dlpi_name ? info->dlpi_name : "";
    l->base = info->dlpi_addr;
    l->found = 1;
    return 1;
}

/* Helper: the object named l->name; addr is the offset to check. */
static int
find_named(struct dl_phdr_info *info, size_t size, void *arg)
{
    struct locate *l = arg;
    (void)size;
    const char *name = info->dlpi_name ? info->dlpi_name : "";
    if (strcmp(name, l->name) != 0 || !segment_holds(info, info->dlpi_addr + l->addr, l->need_exec))
        return 0;
    l->base = info->dlpi_addr;
    l->found = 1;
    return 1;
}

/* Helper: the address of offset `off` in object `name`, or 0. */
static uintptr_t
resolve(const char *name, uint64_t off, int need_exec)
{
    struct locate l = {(uintptr_t)off, need_exec, name, 0, 0};
    dl_iterate_phdr(find_named, &l);
    if (!l.found && name[0]) {
        /* loaded by the program at run time (a plugin): load it here too */
        if (!dlopen(name, RTLD_NOW | RTLD_LOCAL))
            return 0;
        dl_iterate_phdr(find_named, &l);
    }
    return l.found ? l.base + (uintptr_t)off : 0;
}

/* ---- the helper process ---------------------------------------------------- */

static _Noreturn void
helper_main(int fd)
{
    struct iso_hello hello = {ISO_HELLO, (int32_t)getpid()};
    char *names = NULL, *payload = NULL;
    size_t payload_cap = 0;
    loom_task t;
    memset(&t, 0, sizeof t);
    if (write_full(fd, &hello, sizeof hello) != 0)
        _exit(0);
    if (!(names = malloc(2 * (ISO_NAME_MAX + 1))))
        _exit(0);
    for (;;) {
        struct iso_req q;
        if (read_full(fd, &q, sizeof q) != 1)
            _exit(0); /* the worker closed the slot (or died) */
        if (q.magic != ISO_REQ || q.fn_mod_len > ISO_NAME_MAX ||
            (q.user_mod_len != ISO_NO_USER && q.user_mod_len > ISO_NAME_MAX) ||
            q.len > q.max_payload)
            _exit(0);
        char *fn_mod = names, *user_mod = names + ISO_NAME_MAX + 1;
        size_t ulen = q.user_mod_len == ISO_NO_USER ? 0 : q.user_mod_len;
        if ((q.fn_mod_len && read_full(fd, fn_mod, q.fn_mod_len) != 1) ||
            (ulen && read_full(fd, user_mod, ulen) != 1))
            _exit(0);
        fn_mod[q.fn_mod_len] = '\0';
        user_mod[ulen] = '\0';
        if (q.len > payload_cap) {
            free(payload);
            if (!(payload = malloc(q.len)))
                _exit(0);
            payload_cap = q.len;
        }
        if (q.len && read_full(fd, payload, q.len) != 1)
            _exit(0);

        struct iso_rep rep = {ISO_REP, ISO_REP_OK, -1, 0, 0};
        uintptr_t fn = resolve(fn_mod, q.fn_off, 1), user = 0;
        if (q.user_mod_len != ISO_NO_USER)
            user = resolve(user_mod, q.user_off, 0);
        if (!fn) {
            rep.err = ISO_REP_NOFN;
        } else if (q.user_mod_len != ISO_NO_USER && !user) {
            rep.err = ISO_REP_NOUSER;
        } else {
            /* The task sees a job that answers rank/size/threads; it is not
             * started, so queue calls refuse, and out == NULL makes
             * loom_task_submit refuse. */
            struct loom_job job;
            memset(&job, 0, sizeof job);
            job.rank = q.rank;
            job.size = q.size;
            job.set.threads = q.threads;
            job.set.max_payload = (size_t)q.max_payload;
            t.job = &job;
            t.id = q.id;
            t.attempt = q.attempt;
            t.payload = payload;
            t.len = (size_t)q.len;
            t.reply_len = 0;
            t.out = NULL;
            loom_task_fn f;
            memcpy(&f, &fn, sizeof f);
            loom_err why;
            rep.status = q.chunk ? loom__run_chunk(f, (void *)user, &t) : f(&t, (void *)user);
            rep.status = loom__task_outcome(&t, rep.status, &why);
            rep.refused = (uint32_t)why;
            rep.len = t.reply_len;
            t.job = NULL;
        }
        if (write_full(fd, &rep, sizeof rep) != 0 ||
            (rep.len && write_full(fd, t.reply, (size_t)rep.len) != 0))
            _exit(0);
        if (q.chunk)
            loom__task_reply_free(&t); /* chunk replies can be large */
    }
}

/* Runs in every process that loads loom, before main(). In a helper (the
 * marker is set) it never returns. */
__attribute__((constructor)) static void
iso_constructor(void)
{
    const char *m = getenv(ISO_ENV);
    if (!m)
        return;
    int fd = -1;
    long parent = 0;
    if (sscanf(m, "%d:%ld", &fd, &parent) != 2 || fd < 3)
        _exit(127);
    /* the task's own children must not think they are helpers */
    unsetenv(ISO_ENV);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != (pid_t)parent)
        _exit(0);
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    /* Descriptors the worker had open without CLOEXEC (MPI's) stay there. */
    if (fd > 3)
        syscall(SYS_close_range, 3u, (unsigned)fd - 1, 0u);
    syscall(SYS_close_range, (unsigned)fd + 1, ~0u, 0u);
    /* commands the task starts must not inherit the helper's socket */
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    helper_main(fd);
}

/* ---- the parent side ------------------------------------------------------- */

struct loom__iso {
    pid_t pid; /* the helper, or -1 */
    int pidfd; /* -1: none (old kernel): socket EOF is the death notice */
    int sock;
    int statm; /* /proc/<pid>/statm, opened on the first memory check */
    /* the last function's and user data's location (a runner repeats them) */
    loom_task_fn last_fn;
    void *last_user;
    const struct job_fn *warned; /* the last function that could not be located */
    char fn_mod[ISO_NAME_MAX + 1], user_mod[ISO_NAME_MAX + 1];
    uint64_t fn_off, user_off;
    uint32_t fn_mod_len, user_mod_len;
};

static void
close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

loom_err
loom__iso_create(struct loom__iso **out)
{
    struct loom__iso *h = calloc(1, sizeof *h);
    if (!h)
        return LOOM_ENOMEM;
    h->pid = -1;
    h->pidfd = h->sock = h->statm = -1;
    *out = h;
    return LOOM_OK;
}

pid_t
loom__iso_helper_pid(const struct loom__iso *h)
{
    return h->pid;
}

/* Kill the child and its group, reap it; its wait status (or -1). */
static int
kill_reap(pid_t pid)
{
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    return loom__proc_reap(pid);
}

static void
helper_forget(struct loom__iso *h)
{
    h->pid = -1;
    close_fd(&h->pidfd);
    close_fd(&h->sock);
    close_fd(&h->statm);
}

void
loom__iso_destroy(struct loom__iso *h)
{
    if (!h)
        return;
    if (h->pid > 0) {
        /* closing the socket ends an idle helper's loop; kill in case not */
        close_fd(&h->sock);
        kill_reap(h->pid);
    }
    helper_forget(h);
    free(h);
}

static void
outcome_from_status(int st, struct loom__iso_outcome *o)
{
    o->status = -1;
    if (st != -1 && WIFSIGNALED(st)) {
        o->cause = LOOM_CAUSE_SIGNAL;
        o->code = WTERMSIG(st);
    } else if (st != -1 && WIFEXITED(st)) {
        o->cause = LOOM_CAUSE_EXIT;
        o->code = WEXITSTATUS(st);
    } else {
        o->cause = LOOM_CAUSE_ISOLATION; /* reaped by someone else */
        o->code = 0;
    }
}

/* Resident bytes of the child, or 0 if unknown. */
static uint64_t
resident_bytes(struct loom__iso *h, pid_t pid)
{
    char buf[128];
    if (h->statm < 0) {
        snprintf(buf, sizeof buf, "/proc/%d/statm", (int)pid);
        if ((h->statm = open(buf, O_RDONLY | O_CLOEXEC)) < 0)
            return 0;
    }
    ssize_t n = pread(h->statm, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    unsigned long long size = 0, res = 0;
    if (sscanf(buf, "%llu %llu", &size, &res) != 2)
        return 0;
    return (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE);
}

enum wait_end { W_DATA, W_DEAD, W_TIMEOUT, W_MEMORY, W_ERROR };

/* Whether the child has ended (not reaped: WNOWAIT), without a pidfd. */
static int
child_gone(pid_t pid)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0)
        return si.si_pid == pid;
    return errno == ECHILD;
}

/* Wait until n bytes arrived on h->sock (W_DATA), the child died (W_DEAD),
 * or a limit was hit (the child is still alive then). The socket's end
 * (EOF) is not the child's: a task may close every descriptor it has, ours
 * too, and go on; from then on only its death or a limit ends the wait, so
 * it is reported as it really ends, not as killed by us. */
static enum wait_end
wait_read(struct loom__iso *h, pid_t pid, void *buf, size_t n, int64_t deadline, uint64_t mem)
{
    char *p = buf;
    size_t got = 0;
    int eof = 0;
    while (got < n) {
        int64_t now = loom__now_ns();
        if (deadline && now >= deadline)
            return W_TIMEOUT;
        int ms = -1;
        if (deadline) {
            int64_t left = (deadline - now + 999999) / 1000000;
            ms = left > 60000 ? 60000 : (int)left;
        }
        if (mem && (ms < 0 || ms > MEM_POLL_MS))
            ms = MEM_POLL_MS;
        if (eof && h->pidfd < 0 && (ms < 0 || ms > EOF_POLL_MS))
            ms = EOF_POLL_MS;
        /* after EOF the socket is left out (-1: poll ignores it) */
        struct pollfd pfd[2] = {{eof ? -1 : h->sock, POLLIN, 0}, {h->pidfd, POLLIN, 0}};
        int r = poll(pfd, h->pidfd >= 0 ? 2 : 1, ms);
        if (r < 0 && errno != EINTR)
            return W_ERROR;
        if (r > 0 && pfd[0].revents) {
            ssize_t k = read(h->sock, p + got, n - got);
            if (k > 0) {
                got += (size_t)k;
                continue;
            }
            if (k == 0 || (errno != EINTR && errno != EAGAIN))
                eof = 1; /* it is dying, or the task closed our socket */
        }
        if (r > 0 && h->pidfd >= 0 && pfd[1].revents)
            return W_DEAD; /* dead; whatever it still wrote does not matter */
        if (eof && h->pidfd < 0 && child_gone(pid))
            return W_DEAD;
        if (mem && resident_bytes(h, pid) > mem)
            return W_MEMORY;
    }
    return W_DATA;
}

/* After wait_read ended without the data: finish the child and say why. */
static void
child_end(struct loom__iso *h, pid_t pid, enum wait_end why, struct loom__iso_outcome *o)
{
    int st = kill_reap(pid); /* a dead child is only reaped */
    if (why == W_DEAD) {
        outcome_from_status(st, o);
        return;
    }
    o->status = -1;
    o->code = 0;
    o->cause = why == W_TIMEOUT  ? LOOM_CAUSE_TIMEOUT
               : why == W_MEMORY ? LOOM_CAUSE_MEMORY
                                 : LOOM_CAUSE_ISOLATION;
    (void)h;
}

/* The reply: header, then its bytes into t->reply. */
static enum wait_end
read_reply(struct loom__iso *h, pid_t pid, loom_task *t, int64_t deadline, uint64_t mem,
           struct iso_rep *rep)
{
    enum wait_end e = wait_read(h, pid, rep, sizeof *rep, deadline, mem);
    if (e != W_DATA)
        return e;
    if (rep->magic != ISO_REP || rep->len > t->job->set.max_payload)
        return W_ERROR;
    if (rep->len > t->reply_cap) {
        char *p = realloc(t->reply, (size_t)rep->len);
        if (!p)
            return W_ERROR;
        t->reply = p;
        t->reply_cap = (size_t)rep->len;
    }
    t->reply_len = 0;
    if (rep->len) {
        e = wait_read(h, pid, t->reply, (size_t)rep->len, deadline, mem);
        if (e != W_DATA)
            return e;
    }
    t->reply_len = (size_t)rep->len;
    return W_DATA;
}

static loom_err
helper_spawn(struct loom__iso *h)
{
    int sv[2] = {-1, -1};
    char marker[64];
    char *argv[] = {"loom-isolate-helper", NULL};
    char **envp = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none, all;
    pid_t pid = -1;
    loom_err rc = LOOM_ESYS;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        goto out;
    snprintf(marker, sizeof marker, ISO_ENV "=%d:%ld", sv[1], (long)getpid());
    size_t n = 0, k = 0;
    while (environ && environ[n])
        n++;
    rc = LOOM_ENOMEM;
    if (!(envp = malloc((n + 2) * sizeof *envp)))
        goto out_sock;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], ISO_ENV "=", sizeof ISO_ENV) != 0)
            envp[k++] = environ[i];
    envp[k++] = marker;
    envp[k] = NULL;

    rc = LOOM_ESYS;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    /* dup2 onto itself clears CLOEXEC (glibc >= 2.29): only this end
     * reaches the helper */
    posix_spawn_file_actions_adddup2(&fa, sv[1], sv[1]);
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all); /* SIG_IGN would survive exec */
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                        POSIX_SPAWN_SETPGROUP);
    int e = posix_spawn(&pid, "/proc/self/exe", &fa, &attr, argv, envp);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    if (e != 0) {
        LOOM_ERROR("cannot start a helper process for isolated tasks: %s", strerror(e));
        rc = e == ENOMEM ? LOOM_ENOMEM : LOOM_ESYS;
        goto out_env;
    }
    close_fd(&sv[1]);
    h->pid = pid;
    h->sock = sv[0];
    sv[0] = -1;
    h->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    struct iso_hello hello;
    enum wait_end w = wait_read(h, pid, &hello, sizeof hello,
                                loom__now_ns() + (int64_t)ISO_HELLO_MS * 1000000, 0);
    if (w != W_DATA || hello.magic != ISO_HELLO || hello.pid != pid) {
        int st = kill_reap(pid);
        LOOM_ERROR("a helper process for isolated tasks did not start (wait status %#x)", st);
        helper_forget(h);
        goto out_env;
    }
    rc = LOOM_OK;
out_env:
    free(envp);
out_sock:
    close_fd(&sv[0]);
    close_fd(&sv[1]);
out:
    return rc;
}

/* Locate f's function and user data for the helper (cached per function). */
static int
locate_fn(struct loom__iso *h, const struct job_fn *f)
{
    if (h->last_fn == f->fn && h->last_user == f->user)
        return 0;
    h->last_fn = NULL;
    struct locate l = {0, 1, NULL, 0, 0};
    memcpy(&l.addr, &f->fn, sizeof l.addr);
    dl_iterate_phdr(find_holder, &l);
    if (!l.found || strlen(l.name) > ISO_NAME_MAX)
        return -1;
    h->fn_off = (uint64_t)(l.addr - l.base);
    h->fn_mod_len = (uint32_t)strlen(l.name);
    memcpy(h->fn_mod, l.name, h->fn_mod_len);
    h->user_mod_len = ISO_NO_USER;
    h->user_off = 0;
    if (f->user) {
        struct locate u = {(uintptr_t)f->user, 0, NULL, 0, 0};
        dl_iterate_phdr(find_holder, &u);
        if (!u.found || strlen(u.name) > ISO_NAME_MAX)
            return -2;
        h->user_off = (uint64_t)(u.addr - u.base);
        h->user_mod_len = (uint32_t)strlen(u.name);
        memcpy(h->user_mod, u.name, h->user_mod_len);
    }
    h->last_fn = f->fn;
    h->last_user = f->user;
    return 0;
}

static void
run_helper(struct loom__iso *h, const struct loom__iso_limits *lim, const struct job_fn *f,
           int chunk, loom_task *t, struct loom__iso_outcome *o)
{
    int where = locate_fn(h, f);
    if (where != 0) {
        if (h->warned != f) /* once per function and slot, not per task */
            LOOM_ERROR("isolated task '%s': its %s is not in a loaded object's static storage; "
                       "it cannot run in a helper process",
                       f->name, where == -1 ? "function" : "user pointer");
        h->warned = f;
        return;
    }
    /* a helper that died while idle (OOM killer, a kill) is replaced */
    if (h->pid > 0 && h->pidfd >= 0) {
        struct pollfd pfd = {h->pidfd, POLLIN, 0};
        if (poll(&pfd, 1, 0) > 0) {
            kill_reap(h->pid);
            helper_forget(h);
        }
    }
    if (h->pid < 0 && helper_spawn(h) != LOOM_OK)
        return;

    int64_t t0 = loom__now_ns();
    struct iso_req q = {ISO_REQ,
                        (uint32_t)chunk,
                        t->id,
                        t->attempt,
                        t->job->rank,
                        t->job->size,
                        t->job->set.threads,
                        h->fn_off,
                        h->user_off,
                        h->fn_mod_len,
                        h->user_mod_len,
                        t->len,
                        t->job->set.max_payload};
    size_t ulen = h->user_mod_len == ISO_NO_USER ? 0 : h->user_mod_len;
    enum wait_end w = W_ERROR;
    if (write_full(h->sock, &q, sizeof q) == 0 &&
        (!h->fn_mod_len || write_full(h->sock, h->fn_mod, h->fn_mod_len) == 0) &&
        (!ulen || write_full(h->sock, h->user_mod, ulen) == 0) &&
        (!t->len || write_full(h->sock, t->payload, t->len) == 0)) {
        struct iso_rep rep;
        w = read_reply(h, h->pid, t, lim->timeout_ns ? t0 + lim->timeout_ns : 0, lim->mem_bytes,
                       &rep);
        if (w == W_DATA) {
            if (rep.err != ISO_REP_OK) {
                LOOM_ERROR("isolated task '%s': the helper process found no %s at the same "
                           "place",
                           f->name, rep.err == ISO_REP_NOFN ? "function" : "user data");
                return;
            }
            o->status = rep.status;
            o->cause = rep.status == 0 ? LOOM_CAUSE_OK : LOOM_CAUSE_FAILED;
            o->code = (int32_t)rep.refused;
            return;
        }
    } else {
        w = W_DEAD; /* the send failed: it died before or while reading */
    }
    child_end(h, h->pid, w, o);
    helper_forget(h);
}

static void
run_fork(struct loom__iso *h, const struct loom__iso_limits *lim, const struct job_fn *f, int chunk,
         loom_task *t, struct loom__iso_outcome *o)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return;
    pid_t parent = getpid();
    int64_t t0 = loom__now_ns();
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        setpgid(0, 0);
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
            _exit(0);
        /* the worker's handlers (Open MPI prints a backtrace on SIGSEGV)
         * are not the task's: a crash must end the child as the signal */
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        for (int sig = 1; sig < NSIG; sig++)
            if (sig != SIGKILL && sig != SIGSTOP)
                (void)sigaction(sig, &dfl, NULL);
        sigset_t none;
        sigemptyset(&none);
        pthread_sigmask(SIG_SETMASK, &none, NULL);
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        t->out = NULL; /* loom_task_submit refuses */
        struct iso_rep rep = {ISO_REP, ISO_REP_OK, -1, 0, 0};
        loom_err why;
        rep.status = chunk ? loom__run_chunk(f->fn, f->user, t) : f->fn(t, f->user);
        rep.status = loom__task_outcome(t, rep.status, &why);
        rep.refused = (uint32_t)why;
        rep.len = t->reply_len;
        if (write_full(sv[1], &rep, sizeof rep) != 0 ||
            (rep.len && write_full(sv[1], t->reply, t->reply_len) != 0))
            _exit(0);
        _exit(0);
    }
    close(sv[1]);
    if (pid < 0) {
        close(sv[0]);
        LOOM_ERROR("fork for an isolated task failed: %s", strerror(errno));
        return;
    }
    /* the slot's fields serve this child for the duration */
    int saved_sock = h->sock, saved_pidfd = h->pidfd, saved_statm = h->statm;
    h->sock = sv[0];
    h->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    h->statm = -1;
    struct iso_rep rep;
    enum wait_end w =
        read_reply(h, pid, t, lim->timeout_ns ? t0 + lim->timeout_ns : 0, lim->mem_bytes, &rep);
    if (w == W_DATA) {
        o->status = rep.status;
        o->cause = rep.status == 0 ? LOOM_CAUSE_OK : LOOM_CAUSE_FAILED;
        o->code = (int32_t)rep.refused;
        loom__proc_reap(pid); /* it _exit()s right after its reply */
    } else {
        child_end(h, pid, w, o);
    }
    close_fd(&h->sock);
    close_fd(&h->pidfd);
    close_fd(&h->statm);
    h->sock = saved_sock;
    h->pidfd = saved_pidfd;
    h->statm = saved_statm;
}

void
loom__iso_run(struct loom__iso *h, const struct loom__iso_limits *lim, const struct job_fn *f,
              int chunk, loom_task *t, struct loom__iso_outcome *o)
{
    /* until something better is known: loom could not run it */
    o->status = -1;
    o->cause = LOOM_CAUSE_ISOLATION;
    o->code = 0;
    t->reply_len = 0;
    if (lim->mode == LOOM__ISO_FORK)
        run_fork(h, lim, f, chunk, t, o);
    else
        run_helper(h, lim, f, chunk, t, o);
}
