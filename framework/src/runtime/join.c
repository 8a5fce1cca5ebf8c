/* SPDX-License-Identifier: MIT */
/*
 * Workers that join a running job: the seed's task_worker started by hand,
 * later, elsewhere, proving it holds the job's authkey.
 *
 * Open MPI connects separately launched jobs through an MPI port
 * (MPI_Open_port / MPI_Comm_accept / MPI_Comm_connect); both mpiruns must
 * know the same ompi-server (cluster/ompi-server). But an MPI connection
 * cannot be made safe against a stranger: once accepted, Open MPI buffers
 * whatever the peer sends, even after loom refused it (issue #16: 18 MB to
 * 549 MB of resident memory). So nothing of MPI is offered before the key
 * is proved: the master listens on a TCP gate (formats/gate.c), whose
 * address and a fresh random key go into DIR/loom.join (joinfile.c, mode
 * 0600), and runs the HMAC challenge-response of auth.c there.
 *
 * Master side, two kinds of threads (MPI_THREAD_MULTIPLE), so the progress
 * thread never waits for a stranger:
 *  - the gate thread runs the gate: many handshakes at once, each bounded.
 *    For a joiner that proved the key it opens a one-time MPI port
 *    (MPI_Open_port), draws a random ticket and starts an accept thread;
 *    the joiner is given both (the grant). At most PORTS_MAX grants are
 *    open at once; a proven joiner waits in the gate for a free one.
 *  - an accept thread blocks in MPI_Comm_accept on its port, on
 *    MPI_COMM_SELF. On tag LOOM_TAG_JOIN with remote rank 0 of the joining
 *    job, every message bounded and every step under a deadline:
 *      joiner -> master  INTRO    magic, version, ticket, ranks, pid, host,
 *                                 fingerprint
 *      master -> joiner  STATE    open, or ended (the job is over: go away)
 *      master -> joiner  WELCOME  ok + first worker rank, or why not
 *    A wrong ticket or a connection after the grant's deadline
 *    (ACCEPT_MS) is refused; then the port is closed and the thread ends.
 *    MPI has no way to interrupt MPI_Comm_accept: a proven joiner that
 *    never connects keeps its thread and grant slot blocked (the port is
 *    useless to anyone else: the ticket is one-time, the deadline passed).
 * A joiner that passed is handed to the progress thread
 * (loom__acceptor_take), which gives its ranks their worker numbers in the
 * WELCOME, so numbers are never handed out after the job has stopped.
 * After the master stops, the gate answers "ended" to whoever proves the
 * key. Refusals are counted by the gate and logged as a summary at most
 * every GATE_LOG_S seconds (a flood of strangers does not flood the log).
 *
 * Joining side (collective over the joining job): rank 0 reads the join
 * file and knocks at the gate (proof, grant); every rank connects to the
 * granted port; rank 0 talks for all of them and broadcasts the verdict.
 * MPI_Comm_connect to a port whose master has gone never returns (Open MPI
 * 4.1 retries the TCP connection forever), so it runs in a thread that the
 * caller waits for with a deadline; after a timeout that thread stays
 * blocked and the process must end without MPI_Finalize.
 */
#include "join.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "backoff.h"
#include "gate.h"
#include "internal.h"
#include "joinfile.h"
#include "loom/log.h"
#include "wire.h"

#define JOIN_MAGIC   0x4e494f4a4d4f4f4cull /* "LOOMJOIN" */
#define JOIN_VERSION 2
#define STEP_MS      10000 /* each step of the master's side of the handshake */
#define WELCOME_MS   2000  /* the welcome is small: it goes at once or never */
#define ACCEPT_MS    30000 /* a grant's joiner connects within this */
#define PORTS_MAX    4     /* grants open at once */
#define GATE_LOG_S   10    /* at most one refusal summary this often */

struct join_intro {
    uint64_t magic;
    uint32_t version;
    uint32_t ranks;
    unsigned char ticket[LOOM__GATE_TICKET_LEN];
    int64_t pid;
    char host[64];
    struct loom__fingerprint fp;
};

enum { STATE_OPEN = 1, STATE_ENDED = 2 };
struct join_state {
    uint64_t magic;
    uint32_t state;
    uint32_t pad;
};

enum { WELCOME_OK = 1, WELCOME_ENDED = 2, WELCOME_MISMATCH = 3 };
struct join_welcome {
    uint64_t magic;
    uint32_t verdict;
    int32_t base;
    int64_t heartbeat_ns, lost_ns;
};

/* ---- bounded, deadline-checked messages on tag LOOM_TAG_JOIN ------------- */

struct mpi_io {
    MPI_Comm comm;
    int peer;
    int64_t deadline;
};

static void
pause_briefly(void)
{
    struct timespec ts = {0, 200000}; /* 200 us: a handshake is rare */
    nanosleep(&ts, NULL);
}

/* A send that cannot complete in time is abandoned (MPI_Request_free):
 * every buffer sent here lives until the process ends or the handshake's
 * caller returns, by which time the peer has been given up. */
static loom_err
io_send(void *ctx, const void *buf, size_t len)
{
    struct mpi_io *io = ctx;
    MPI_Request req;
    if (len > LOOM__AUTH_MSG_MAX)
        return LOOM_EPROTO;
    if (MPI_Isend(buf, (int)len, MPI_BYTE, io->peer, LOOM_TAG_JOIN, io->comm, &req) != MPI_SUCCESS)
        return LOOM_EMPI;
    for (;;) {
        int done = 0;
        if (MPI_Test(&req, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS)
            return LOOM_EMPI;
        if (done)
            return LOOM_OK;
        if (loom__now_ns() >= io->deadline) {
            MPI_Request_free(&req);
            return LOOM_ETIMEDOUT;
        }
        pause_briefly();
    }
}

static loom_err
io_recv(void *ctx, void *buf, size_t cap, size_t *len)
{
    struct mpi_io *io = ctx;
    for (;;) {
        int flag = 0;
        MPI_Message msg;
        MPI_Status st;
        if (MPI_Improbe(io->peer, LOOM_TAG_JOIN, io->comm, &flag, &msg, &st) != MPI_SUCCESS)
            return LOOM_EMPI;
        if (flag) {
            int count = 0;
            MPI_Get_count(&st, MPI_BYTE, &count);
            /* a longer message is cut to cap (MPI_ERR_TRUNCATE) and refused */
            int rc = MPI_Mrecv(buf, (int)cap, MPI_BYTE, &msg, MPI_STATUS_IGNORE);
            if (count < 0 || (size_t)count > cap)
                return LOOM_EPROTO;
            if (rc != MPI_SUCCESS)
                return LOOM_EMPI;
            *len = (size_t)count;
            return LOOM_OK;
        }
        if (loom__now_ns() >= io->deadline)
            return LOOM_ETIMEDOUT;
        pause_briefly();
    }
}

/* One fixed-size message; 0 or -1 (wrong size, timeout, wrong magic). */
static int
recv_fixed(struct mpi_io *io, void *buf, size_t size)
{
    size_t len = 0;
    if (io_recv(io, buf, size, &len) != LOOM_OK || len != size)
        return -1;
    uint64_t magic;
    memcpy(&magic, buf, sizeof magic);
    return magic == JOIN_MAGIC ? 0 : -1;
}

static void
set_deadline(struct mpi_io *io, int ms)
{
    io->deadline = loom__now_ns() + (int64_t)ms * 1000000;
}

/* ---- master: the acceptor ------------------------------------------------------ */

struct loom__acceptor;

/* One grant: a one-time MPI port, its ticket and deadline. */
struct grant {
    struct loom__acceptor *a;
    int used;                     /* under a->mu */
    char port[MPI_MAX_PORT_NAME]; /* the accept thread's */
    unsigned char ticket[LOOM__GATE_TICKET_LEN];
    int64_t deadline;
};

struct loom__acceptor {
    pthread_mutex_t mu;
    int closed;                  /* under mu */
    struct loom__arrival *ready; /* under mu: passed, not taken yet */
    atomic_int any;              /* ready != NULL, read without the lock */
    char dir[4096];
    struct loom__join_info info;
    struct loom__fingerprint fp;
    struct loom__gate *gate; /* the gate thread's */
    struct grant grants[PORTS_MAX];
    pthread_t thread;
};

/* Printable host names only in the log: the intro is not trusted. */
static void
clean_host(char *h, size_t cap)
{
    h[cap - 1] = '\0';
    for (char *p = h; *p; p++)
        if (*p < 0x21 || *p > 0x7e)
            *p = '?';
}

static void
send_state(struct mpi_io *io, uint32_t state)
{
    struct join_state s = {JOIN_MAGIC, state, 0};
    set_deadline(io, STEP_MS);
    io_send(io, &s, sizeof s);
}

static void
send_welcome(struct mpi_io *io, uint32_t verdict, int base, int64_t hb, int64_t lost)
{
    struct join_welcome w = {JOIN_MAGIC, verdict, base, hb, lost};
    set_deadline(io, WELCOME_MS);
    io_send(io, &w, sizeof w);
}

static int
ticket_ok(const unsigned char *a, const unsigned char *b)
{
    unsigned char d = 0;
    for (int i = 0; i < LOOM__GATE_TICKET_LEN; i++)
        d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

/* Queue a joiner that passed for the progress thread; 0, or -1 (the job
 * stopped meanwhile: told so). */
static int
queue_arrival(struct loom__acceptor *a, MPI_Comm ic, const struct join_intro *in)
{
    struct mpi_io io = {ic, 0, 0};
    struct loom__arrival *j = calloc(1, sizeof *j);
    if (!j) {
        LOOM_ERROR("out of memory accepting a joining job");
        return -1;
    }
    j->comm = ic;
    j->n = (int)in->ranks;
    j->pid = (long)in->pid;
    memcpy(j->host, in->host, sizeof j->host);
    pthread_mutex_lock(&a->mu);
    int closed = a->closed;
    if (!closed) {
        j->next = a->ready;
        a->ready = j;
        atomic_store(&a->any, 1);
    }
    pthread_mutex_unlock(&a->mu);
    if (closed) {
        free(j);
        send_welcome(&io, WELCOME_ENDED, 0, 0, 0);
        return -1;
    }
    return 0;
}

/* One connection on a grant's port: refuse it (logged, freed) or queue it
 * for the master. */
static void
handle_connection(struct loom__acceptor *a, struct grant *g, MPI_Comm ic)
{
    struct mpi_io io = {ic, 0, 0};
    struct join_intro in;
    memset(&in, 0, sizeof in);
    set_deadline(&io, STEP_MS);
    if (recv_fixed(&io, &in, sizeof in) != 0 || in.version != JOIN_VERSION || in.ranks == 0 ||
        in.ranks > 65536 || !ticket_ok(in.ticket, g->ticket) || loom__now_ns() > g->deadline) {
        LOOM_WARN("refused a job joining on a granted port: no valid introduction with its "
                  "ticket within %d s of the grant",
                  ACCEPT_MS / 1000);
        goto refuse;
    }
    clean_host(in.host, sizeof in.host);
    pthread_mutex_lock(&a->mu);
    int closed = a->closed;
    pthread_mutex_unlock(&a->mu);
    if (closed) {
        send_state(&io, STATE_ENDED);
        goto refuse;
    }
    send_state(&io, STATE_OPEN);
    const char *differs = loom__fingerprint_differs(&in.fp, &a->fp);
    if (differs) {
        LOOM_WARN("refused a job joining from %s (pid %lld): it %s the master", in.host,
                  (long long)in.pid, differs);
        send_welcome(&io, WELCOME_MISMATCH, 0, 0, 0);
        goto refuse;
    }
    if (queue_arrival(a, ic, &in) != 0)
        goto refuse;
    LOOM_INFO("a job of %u ranks from %s (pid %lld) proved the key: joining", in.ranks, in.host,
              (long long)in.pid);
    return;
refuse:
    /* not MPI_Comm_disconnect: it would wait for a peer that may never act */
    MPI_Comm_free(&ic);
}

/* An accept thread: one connection on one grant's port, then the port
 * closes and the grant is free again. */
static void *
accept_main(void *arg)
{
    struct grant *g = arg;
    struct loom__acceptor *a = g->a;
    loom__polling_thread_init("Accept");
    MPI_Comm ic = MPI_COMM_NULL;
    if (MPI_Comm_accept(g->port, MPI_INFO_NULL, 0, MPI_COMM_SELF, &ic) == MPI_SUCCESS) {
        MPI_Comm_set_errhandler(ic, MPI_ERRORS_RETURN);
        handle_connection(a, g, ic);
    } else {
        LOOM_WARN("MPI_Comm_accept failed on a granted port");
    }
    MPI_Close_port(g->port);
    pthread_mutex_lock(&a->mu);
    explicit_bzero(g->ticket, sizeof g->ticket);
    g->used = 0;
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

/* The gate's callback for a joiner that proved the key (gate thread). */
static enum loom__gate_verdict
issue(void *ctx, char *port, unsigned char *ticket)
{
    struct loom__acceptor *a = ctx;
    struct grant *g = NULL;
    pthread_mutex_lock(&a->mu);
    int closed = a->closed;
    for (int i = 0; i < PORTS_MAX && !g && !closed; i++)
        if (!a->grants[i].used)
            g = &a->grants[i];
    if (g)
        g->used = 1;
    pthread_mutex_unlock(&a->mu);
    if (closed)
        return LOOM__GATE_ENDED;
    if (!g)
        return LOOM__GATE_BUSY;
    pthread_t t;
    g->a = a;
    g->deadline = loom__now_ns() + (int64_t)ACCEPT_MS * 1000000;
    if (loom__auth_random(g->ticket, sizeof g->ticket) != LOOM_OK ||
        MPI_Open_port(MPI_INFO_NULL, g->port) != MPI_SUCCESS) {
        LOOM_WARN("cannot open an MPI port for a joining job");
        goto unused;
    }
    /* copied out first: the accept thread wipes the ticket when it ends */
    snprintf(port, LOOM__GATE_PORT_MAX, "%s", g->port);
    memcpy(ticket, g->ticket, sizeof g->ticket);
    if (pthread_create(&t, NULL, accept_main, g) != 0) {
        MPI_Close_port(g->port);
        explicit_bzero(ticket, LOOM__GATE_TICKET_LEN);
        goto unused;
    }
    pthread_detach(t);
    return LOOM__GATE_GRANTED;
unused:
    pthread_mutex_lock(&a->mu);
    g->used = 0;
    pthread_mutex_unlock(&a->mu);
    return LOOM__GATE_BUSY;
}

/* Log what the gate refused since *last, if anything. */
static void
log_refusals(struct loom__acceptor *a, struct loom__gate_stats *last)
{
    struct loom__gate_stats s;
    loom__gate_stats(a->gate, &s);
    uint64_t n = (s.bad_proof - last->bad_proof) + (s.oversized - last->oversized) +
                 (s.timed_out - last->timed_out) + (s.busy - last->busy) +
                 (s.no_port - last->no_port);
    if (n > 0)
        LOOM_WARN("join gate: refused %llu connections (wrong key or not the protocol %llu, "
                  "oversized message %llu, too slow %llu, too many at once %llu, no port in "
                  "time %llu); %d open",
                  (unsigned long long)n, (unsigned long long)(s.bad_proof - last->bad_proof),
                  (unsigned long long)(s.oversized - last->oversized),
                  (unsigned long long)(s.timed_out - last->timed_out),
                  (unsigned long long)(s.busy - last->busy),
                  (unsigned long long)(s.no_port - last->no_port), s.live);
    *last = s;
}

/* The gate thread: runs until the process ends (after the master stops
 * it tells proven joiners the job ended). */
static void *
gate_main(void *arg)
{
    struct loom__acceptor *a = arg;
    loom__polling_thread_init("Gate");
    struct loom__gate_stats last;
    memset(&last, 0, sizeof last);
    int64_t next_log = 0;
    for (;;) {
        if (loom__gate_step(a->gate, 1000) != LOOM_OK)
            sleep(1);
        int64_t now = loom__now_ns();
        if (now >= next_log) {
            log_refusals(a, &last);
            next_log = now + (int64_t)GATE_LOG_S * 1000000000;
        }
    }
    return NULL;
}

/* Open the gate and write the join file (its key is the gate's); the gate
 * thread not started. */
static loom_err
open_gate(struct loom__acceptor *a)
{
    char err[LOOM__JOIN_ERR_MAX];
    unsigned char key[LOOM__AUTH_KEY_LEN];
    struct loom__join_info *ji = &a->info;
    loom_err rc = loom__auth_random(key, sizeof key);
    if (rc == LOOM_OK)
        rc = loom__gate_open(0, key, NULL, issue, a, &a->gate, err, sizeof err);
    if (rc != LOOM_OK) {
        LOOM_ERROR("workers cannot join this job: %s", rc == LOOM_ESYS ? err : loom_strerror(rc));
        goto done;
    }
    if ((rc = loom__joinfile_init(ji, loom__gate_port(a->gate))) != LOOM_OK) {
        LOOM_ERROR("cannot make a join file: %s", loom_strerror(rc));
        goto fail;
    }
    memcpy(ji->key, key, sizeof key);
    if ((rc = loom__joinfile_write(a->dir, ji, err, sizeof err)) != LOOM_OK) {
        LOOM_ERROR("%s", err);
        goto fail;
    }
    goto done;
fail:
    loom__gate_close(a->gate);
    a->gate = NULL;
done:
    explicit_bzero(key, sizeof key);
    return rc;
}

loom_err
loom__acceptor_start(const char *dir, const struct loom__fingerprint *fp,
                     struct loom__acceptor **out)
{
    int level = MPI_THREAD_SINGLE;
    MPI_Query_thread(&level);
    if (level < MPI_THREAD_MULTIPLE) {
        LOOM_ERROR("accepting workers that join later needs MPI_THREAD_MULTIPLE (got level %d)",
                   level);
        return loom__fail(LOOM_ESTATE,
                          "accepting workers that join later needs MPI_THREAD_MULTIPLE (got "
                          "level %d)",
                          level);
    }
    if (strlen(dir) >= sizeof((struct loom__acceptor *)0)->dir)
        return loom__fail(LOOM_EINVAL, "the join file directory's name is over %zu bytes: %s",
                          sizeof((struct loom__acceptor *)0)->dir - 1, dir);
    struct loom__acceptor *a = calloc(1, sizeof *a);
    if (!a)
        return LOOM_ENOMEM;
    pthread_mutex_init(&a->mu, NULL);
    a->fp = *fp;
    strcpy(a->dir, dir);
    loom_err rc = open_gate(a);
    if (rc != LOOM_OK)
        goto fail;
    rc = LOOM_ESYS;
    if (pthread_create(&a->thread, NULL, gate_main, a) != 0) {
        char err[LOOM__JOIN_ERR_MAX];
        loom__joinfile_remove(dir, a->info.job, err, sizeof err);
        loom__gate_close(a->gate);
        goto fail;
    }
    /* never joined nor freed: the gate thread runs until the process ends,
     * and accept threads may stay blocked in MPI_Comm_accept; they use `a` */
    pthread_detach(a->thread);
    LOOM_INFO("accepting workers: join file %s/loom.join, gate %s", dir, a->info.gate);
    *out = a;
    return LOOM_OK;
fail:
    pthread_mutex_destroy(&a->mu);
    explicit_bzero(a->info.key, sizeof a->info.key);
    free(a);
    return rc;
}

struct loom__arrival *
loom__acceptor_take(struct loom__acceptor *a)
{
    if (!a || !atomic_load(&a->any))
        return NULL;
    pthread_mutex_lock(&a->mu);
    struct loom__arrival *j = a->ready;
    a->ready = NULL;
    atomic_store(&a->any, 0);
    pthread_mutex_unlock(&a->mu);
    return j;
}

void
loom__arrival_welcome(struct loom__arrival *j, int ok, int base, int64_t heartbeat_ns,
                      int64_t lost_ns)
{
    struct mpi_io io = {j->comm, 0, 0};
    send_welcome(&io, ok ? WELCOME_OK : WELCOME_ENDED, base, heartbeat_ns, lost_ns);
    if (!ok) {
        MPI_Comm_free(&j->comm);
        free(j);
    }
}

void
loom__acceptor_stop(struct loom__acceptor *a)
{
    if (!a)
        return;
    pthread_mutex_lock(&a->mu);
    a->closed = 1;
    struct loom__arrival *left = a->ready;
    a->ready = NULL;
    pthread_mutex_unlock(&a->mu);
    while (left) {
        struct loom__arrival *next = left->next;
        loom__arrival_welcome(left, 0, 0, 0, 0);
        left = next;
    }
    char err[LOOM__JOIN_ERR_MAX];
    loom_err rc = loom__joinfile_remove(a->dir, a->info.job, err, sizeof err);
    if (rc != LOOM_OK && rc != LOOM_ENOTFOUND && rc != LOOM_EMISMATCH)
        LOOM_WARN("%s", err);
    /* The gate stays open: a joiner that read the file just before it went
     * is told "ended" there instead of being refused a connection. */
}

/* ---- joining side ---------------------------------------------------------------- */

struct connector {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, refs;
    int rc;
    char port[MPI_MAX_PORT_NAME];
    MPI_Comm local, inter;
};

static void
connector_release(struct connector *c)
{
    pthread_mutex_lock(&c->mu);
    int last = --c->refs == 0;
    pthread_mutex_unlock(&c->mu);
    if (last) {
        pthread_cond_destroy(&c->cv);
        pthread_mutex_destroy(&c->mu);
        free(c);
    }
}

static void *
connect_main(void *arg)
{
    struct connector *c = arg;
    MPI_Comm inter = MPI_COMM_NULL;
    int rc = MPI_Comm_connect(c->port, MPI_INFO_NULL, 0, c->local, &inter);
    pthread_mutex_lock(&c->mu);
    c->rc = rc;
    c->inter = inter;
    c->done = 1;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    connector_release(c);
    return NULL;
}

/* MPI_Comm_connect with a deadline: 0 and *inter, 1 timed out (the
 * connecting thread stays blocked), -1 failed. */
static int
connect_bounded(MPI_Comm local, const char *port, int timeout_ms, MPI_Comm *inter)
{
    struct connector *c = calloc(1, sizeof *c);
    if (!c)
        return -1;
    pthread_mutex_init(&c->mu, NULL);
    loom__cond_init_monotonic(&c->cv);
    c->refs = 2;
    c->local = local;
    snprintf(c->port, sizeof c->port, "%s", port);
    pthread_t t;
    if (pthread_create(&t, NULL, connect_main, c) != 0) {
        c->refs = 1;
        connector_release(c);
        return -1;
    }
    pthread_detach(t);
    int64_t deadline = loom__now_ns() + (int64_t)timeout_ms * 1000000;
    pthread_mutex_lock(&c->mu);
    while (!c->done && loom__now_ns() < deadline)
        loom__cond_sleep(&c->cv, &c->mu, deadline - loom__now_ns());
    int out = !c->done ? 1 : c->rc != MPI_SUCCESS ? -1 : 0;
    if (out == 0)
        *inter = c->inter;
    pthread_mutex_unlock(&c->mu);
    connector_release(c);
    return out;
}

/* What rank 0 learnt, shared with the others in one broadcast. */
struct verdict {
    int32_t rc; /* loom_err */
    int32_t connect;
    struct join_welcome w;
    char port[MPI_MAX_PORT_NAME];
};

/* Rank 0 before connecting: read the file, catch the common stale case
 * (the master was on this host and its process is gone) at once, prove
 * the key at the gate and get a port (v->port, *ticket). */
static loom_err
knock(const char *dir, int timeout_ms, struct loom__join_info *ji, struct verdict *v,
      unsigned char *ticket)
{
    char err[LOOM__JOIN_ERR_MAX];
    loom_err rc = loom__joinfile_read(dir, ji, err, sizeof err);
    if (rc != LOOM_OK)
        return loom__fail(rc, "cannot join: %s", err);
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) == 0 && strcmp(host, ji->host) == 0 && ji->pid > 0 &&
        kill((pid_t)ji->pid, 0) != 0 && errno == ESRCH) {
        return loom__fail(LOOM_ECLOSED,
                          "cannot join: the master of %s (pid %ld on this host) has ended; the "
                          "join file is stale",
                          dir, ji->pid);
    }
    struct loom__gate_grant *gr = calloc(1, sizeof *gr);
    if (!gr)
        return LOOM_ENOMEM;
    rc = loom__gate_knock(ji->gate, ji->key, timeout_ms, gr, err, sizeof err);
    if (rc != LOOM_OK)
        loom__fail(rc, "cannot join: %s", err);
    else if (gr->verdict != LOOM__GATE_GRANTED)
        rc = loom__fail(LOOM_ECLOSED,
                        "cannot join: the job of this join file (master pid %ld on %s) has ended",
                        ji->pid, ji->host);
    else {
        snprintf(v->port, sizeof v->port, "%s", gr->port);
        memcpy(ticket, gr->ticket, LOOM__GATE_TICKET_LEN);
    }
    explicit_bzero(gr, sizeof *gr);
    free(gr);
    return rc;
}

/* Rank 0 after connecting: introduce with the ticket, be welcomed. */
static loom_err
handshake(MPI_Comm inter, int ranks, const struct loom__join_info *ji, const unsigned char *ticket,
          const struct loom__fingerprint *fp, int timeout_ms, struct join_welcome *w)
{
    struct mpi_io io = {inter, 0, 0};
    struct join_intro in;
    memset(&in, 0, sizeof in);
    in.magic = JOIN_MAGIC;
    in.version = JOIN_VERSION;
    in.ranks = (uint32_t)ranks;
    in.pid = getpid();
    if (gethostname(in.host, sizeof in.host - 1) != 0)
        strcpy(in.host, "?");
    in.fp = *fp;
    memcpy(in.ticket, ticket, sizeof in.ticket);
    struct join_state st;
    set_deadline(&io, timeout_ms);
    if (io_send(&io, &in, sizeof in) != 0 || recv_fixed(&io, &st, sizeof st) != 0) {
        return loom__fail(LOOM_ETIMEDOUT,
                          "cannot join: the master at %s (pid %ld) did not answer the "
                          "introduction",
                          ji->host, ji->pid);
    }
    if (st.state != STATE_OPEN) {
        return loom__fail(LOOM_ECLOSED,
                          "cannot join: the job of this join file (master pid %ld on %s) has "
                          "ended",
                          ji->pid, ji->host);
    }
    set_deadline(&io, timeout_ms);
    if (recv_fixed(&io, w, sizeof *w) != 0) {
        return loom__fail(LOOM_ETIMEDOUT, "cannot join: no welcome from the master");
    }
    if (w->verdict == WELCOME_MISMATCH) {
        return loom__fail(LOOM_EMISMATCH, "cannot join: the master runs a different program "
                                          "(binary or task functions differ)");
    }
    if (w->verdict != WELCOME_OK || w->base < 1 || w->heartbeat_ns <= 0 || w->lost_ns < 0) {
        return loom__fail(LOOM_ECLOSED, "cannot join: the job has ended");
    }
    return LOOM_OK;
}

loom_err
loom__join(MPI_Comm local, const char *dir, int timeout_ms, const struct loom__fingerprint *fp,
           struct loom__join_place *out)
{
    int rank = 0, size = 0;
    MPI_Comm_rank(local, &rank);
    MPI_Comm_size(local, &size);
    struct verdict *v = calloc(1, sizeof *v);
    struct loom__join_info *ji = calloc(1, sizeof *ji);
    if (!v || !ji) {
        free(v);
        free(ji);
        return LOOM_ENOMEM; /* every rank runs out alike, or the job breaks anyway */
    }
    unsigned char ticket[LOOM__GATE_TICKET_LEN] = {0};
    if (rank == 0)
        v->rc = knock(dir, timeout_ms, ji, v, ticket);
    loom_err rc = LOOM_EMPI;
    if (MPI_Bcast(v, sizeof *v, MPI_BYTE, 0, local) != MPI_SUCCESS)
        goto done;
    if ((rc = v->rc) != LOOM_OK)
        goto refused;

    MPI_Comm inter = MPI_COMM_NULL;
    int c = connect_bounded(local, v->port, timeout_ms, &inter);
    if (c != 0) {
        rc = c > 0 ? LOOM_ETIMEDOUT : LOOM_EMPI;
        if (rank == 0)
            loom__fail(rc, "cannot join: %s",
                       c > 0 ? "no answer from the master within the join timeout: it has "
                               "probably ended (a stale join file), or the mpiruns were not "
                               "given the same --ompi-server"
                             : "MPI_Comm_connect failed: start both mpiruns with "
                               "--ompi-server file:URI (see cluster/ompi-server)");
        goto done; /* a timed-out connect left a thread in MPI: no MPI_Finalize */
    }
    MPI_Comm_set_errhandler(inter, MPI_ERRORS_RETURN);
    if (rank == 0)
        v->rc = handshake(inter, size, ji, ticket, fp, timeout_ms, &v->w);
    if (MPI_Bcast(v, sizeof *v, MPI_BYTE, 0, local) != MPI_SUCCESS || v->rc != LOOM_OK) {
        rc = v->rc != LOOM_OK ? v->rc : LOOM_EMPI;
        MPI_Comm_free(&inter);
        goto refused;
    }
    out->inter = inter;
    out->rank = v->w.base + rank;
    out->size = v->w.base + size;
    out->heartbeat_ns = v->w.heartbeat_ns;
    out->lost_ns = v->w.lost_ns;
    rc = LOOM_OK;
refused:
    /* rank 0's own message names the file and the problem; the others
     * only say where to look, not the code's name */
    if (rc != LOOM_OK && rank != 0)
        loom__fail(rc, "cannot join: rank 0 of this job could not join (it says why)");
done:
    explicit_bzero(ticket, sizeof ticket);
    memset(ji->key, 0, sizeof ji->key);
    free(ji);
    free(v);
    return rc;
}
