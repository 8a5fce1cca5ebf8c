/* SPDX-License-Identifier: MIT */
/*
 * The join gate: a TCP listener where a joiner proves the job's key before
 * the master opens an MPI port for it (gate.h says why).
 *
 * Wire format: every message is a frame, a 2-byte big-endian length L and
 * L bytes. The exchange is auth.c's, then the grant:
 *
 *   master -> joiner   challenge      69 bytes (auth.c)
 *   joiner -> master   response       40
 *   master -> joiner   verdict         9   (#FAILURE#: the socket closes)
 *   joiner -> master   challenge      69
 *   master -> joiner   response       40
 *   joiner -> master   verdict         9
 *   master -> joiner   grant          1 byte verdict (gate.h's enum), and
 *                                     for GRANTED: 32-byte ticket, then
 *                                     the MPI port name (1..1023 bytes)
 *
 * The master's side is a state machine per connection, all in one thread
 * around poll(2): each connection is in one step, waiting for one message
 * of a known kind, under a deadline (opts.step_ms) that restarts with each
 * step. The gate reads a frame's header first and refuses (closes) at once
 * a length over LOOM__AUTH_MSG_MAX, so no peer makes it hold more than
 * one 258-byte buffer; it never reads past the frame it waits for, and a
 * byte sent when none is expected is a refusal. Connections beyond
 * opts.max_handshakes are closed as soon as they are accepted. Memory is
 * fixed when the gate opens: max_handshakes slots of about 1.4 KiB.
 * Whatever a refused peer sends afterwards meets a closed socket, i.e. the
 * kernel's RST, not a buffer of ours.
 */
#include "gate.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

#define HDR       2
#define GRANT_MAX (1 + LOOM__GATE_TICKET_LEN + LOOM__GATE_PORT_MAX - 1)
#define RETRY_MS  20 /* how often a proven joiner's port is asked for again */

enum cstate { C_FREE, C_RESPONSE, C_CHALLENGE, C_VERDICT, C_PORT, C_FLUSH };

struct conn {
    int fd;
    enum cstate st;
    int64_t deadline;      /* of this step */
    int64_t port_deadline; /* C_PORT: when the joiner is told BUSY */
    unsigned char ch[LOOM__AUTH_CHALLENGE_LEN];
    unsigned char in[HDR + LOOM__AUTH_MSG_MAX];
    size_t inlen;
    unsigned char out[HDR + GRANT_MAX];
    size_t outlen, outoff;
};

struct loom__gate {
    int lfd, port;
    unsigned char key[LOOM__AUTH_KEY_LEN];
    struct loom__gate_opts o;
    loom__gate_issue_fn issue;
    void *ctx;
    struct conn *conns;  /* o.max_handshakes */
    struct pollfd *pfds; /* o.max_handshakes + 1 */
    int *slot;           /* pfds[i] -> conns index */
    struct loom__gate_stats st;
};

static int64_t
ms_ns(int ms)
{
    return (int64_t)ms * 1000000;
}

/* ---- the master's side ---------------------------------------------------- */

static void
conn_drop(struct loom__gate *g, struct conn *c, uint64_t *counter)
{
    if (counter)
        (*counter)++;
    close(c->fd);
    explicit_bzero(c, sizeof *c);
    c->fd = -1;
    c->st = C_FREE;
    g->st.live--;
}

/* Send what is queued, as far as the socket takes it: 0, or -1 (dropped). */
static int
conn_flush(struct loom__gate *g, struct conn *c)
{
    while (c->outoff < c->outlen) {
        ssize_t n =
            send(c->fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n <= 0) {
            conn_drop(g, c, &g->st.closed);
            return -1;
        }
        c->outoff += (size_t)n;
    }
    c->outoff = c->outlen = 0;
    if (c->st == C_FLUSH) { /* the last word said: done */
        conn_drop(g, c, NULL);
        return -1;
    }
    return 0;
}

/* Queue one frame and send what the socket takes. What is queued is at
 * most one exchange's worth (about 1.2 KiB), which a socket's send buffer
 * always takes at once; a peer that somehow left it unsent is dropped. */
static int
conn_send(struct loom__gate *g, struct conn *c, const void *buf, size_t len)
{
    if (c->outoff > 0) {
        memmove(c->out, c->out + c->outoff, c->outlen - c->outoff);
        c->outlen -= c->outoff;
        c->outoff = 0;
    }
    if (c->outlen + HDR + len > sizeof c->out) {
        conn_drop(g, c, &g->st.closed);
        return -1;
    }
    c->out[c->outlen] = (unsigned char)(len >> 8);
    c->out[c->outlen + 1] = (unsigned char)(len & 0xff);
    memcpy(c->out + c->outlen + HDR, buf, len);
    c->outlen += HDR + len;
    return conn_flush(g, c);
}

/* Enter step st with a fresh deadline. */
static void
conn_step(struct loom__gate *g, struct conn *c, enum cstate st)
{
    c->st = st;
    c->deadline = loom__now_ns() + ms_ns(g->o.step_ms);
    c->inlen = 0;
}

/* Ask the owner for a port for a proven joiner; answer when there is a
 * verdict (or when grant_ms has passed). */
static void
conn_issue(struct loom__gate *g, struct conn *c)
{
    unsigned char grant[GRANT_MAX];
    char port[LOOM__GATE_PORT_MAX] = "";
    enum loom__gate_verdict v = g->issue(g->ctx, port, grant + 1);
    size_t len = 1;
    if (v == LOOM__GATE_BUSY && loom__now_ns() < c->port_deadline)
        return;
    port[sizeof port - 1] = '\0';
    size_t pl = strlen(port);
    if (v == LOOM__GATE_GRANTED && pl > 0) {
        memcpy(grant + 1 + LOOM__GATE_TICKET_LEN, port, pl);
        len += LOOM__GATE_TICKET_LEN + pl;
        g->st.granted++;
    } else if (v == LOOM__GATE_ENDED) {
        g->st.ended++;
    } else {
        v = LOOM__GATE_BUSY;
        g->st.no_port++;
    }
    grant[0] = (unsigned char)v;
    conn_step(g, c, C_FLUSH);
    conn_send(g, c, grant, len);
    explicit_bzero(grant, sizeof grant);
}

/* One whole message body[0..len) arrived in c's step: move on, or drop. */
static void
conn_message(struct loom__gate *g, struct conn *c, const unsigned char *body, size_t len)
{
    unsigned char resp[LOOM__AUTH_RESPONSE_LEN];
    loom_err rc;
    switch (c->st) {
    case C_RESPONSE:
        rc = loom__auth_check_response(g->key, c->ch, body, len, NULL, 0);
        if (rc == LOOM_EAUTH) { /* tell a wrong key so, then close */
            g->st.bad_proof++;
            conn_step(g, c, C_FLUSH);
            conn_send(g, c, LOOM__AUTH_FAILURE, LOOM__AUTH_VERDICT_LEN);
        } else if (rc != LOOM_OK) {
            conn_drop(g, c, &g->st.bad_proof);
        } else {
            conn_step(g, c, C_CHALLENGE);
            conn_send(g, c, LOOM__AUTH_WELCOME, LOOM__AUTH_VERDICT_LEN);
        }
        return;
    case C_CHALLENGE:
        if (loom__auth_answer(g->key, body, len, resp, NULL, 0) != LOOM_OK) {
            conn_drop(g, c, &g->st.bad_proof);
            return;
        }
        conn_step(g, c, C_VERDICT);
        conn_send(g, c, resp, sizeof resp);
        explicit_bzero(resp, sizeof resp);
        return;
    case C_VERDICT:
        if (loom__auth_check_verdict(body, len, NULL, 0) != LOOM_OK) {
            conn_drop(g, c, &g->st.bad_proof);
            return;
        }
        conn_step(g, c, C_PORT);
        c->port_deadline = loom__now_ns() + ms_ns(g->o.grant_ms);
        conn_issue(g, c);
        return;
    default: /* a message when none is expected */
        conn_drop(g, c, &g->st.bad_proof);
    }
}

/* Read what c's socket has of the frame it waits for (never more). */
static void
conn_read(struct loom__gate *g, struct conn *c)
{
    for (;;) {
        size_t want = c->inlen < HDR ? HDR : HDR + ((size_t)c->in[0] << 8 | c->in[1]);
        if (c->inlen >= HDR && want - HDR > LOOM__AUTH_MSG_MAX) {
            conn_drop(g, c, &g->st.oversized);
            return;
        }
        if (c->inlen == want && want > HDR) {
            c->inlen = 0;
            conn_message(g, c, c->in + HDR, want - HDR);
            return;
        }
        if (c->inlen == want) { /* an empty frame: no step has one */
            conn_drop(g, c, &g->st.bad_proof);
            return;
        }
        if (c->st == C_PORT || c->st == C_FLUSH) { /* nothing is expected now */
            unsigned char b;
            ssize_t k = recv(c->fd, &b, 1, MSG_DONTWAIT | MSG_PEEK);
            if (k > 0)
                conn_drop(g, c, &g->st.bad_proof);
            else if (k == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
                conn_drop(g, c, &g->st.closed);
            return;
        }
        ssize_t n = recv(c->fd, c->in + c->inlen, want - c->inlen, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            conn_drop(g, c, &g->st.closed);
            return;
        }
        c->inlen += (size_t)n;
    }
}

/* Take every pending connection: a slot and our challenge, or closed. */
static void
accept_all(struct loom__gate *g)
{
    for (;;) {
        int fd = accept4(g->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0 && (errno == EINTR || errno == ECONNABORTED))
            continue;
        if (fd < 0)
            return; /* EAGAIN; EMFILE and the like: try again next round */
        g->st.accepted++;
        struct conn *c = NULL;
        for (int i = 0; i < g->o.max_handshakes && !c; i++)
            if (g->conns[i].st == C_FREE)
                c = &g->conns[i];
        if (!c || loom__auth_challenge(c->ch) != LOOM_OK) {
            close(fd);
            g->st.busy++;
            continue;
        }
        c->fd = fd;
        g->st.live++;
        conn_step(g, c, C_RESPONSE);
        conn_send(g, c, c->ch, sizeof c->ch);
    }
}

/* Poll set for this round; returns how many, and the wait in ms. */
static int
poll_set(struct loom__gate *g, int max_wait_ms, int *wait_ms)
{
    int64_t now = loom__now_ns(), wait = ms_ns(max_wait_ms);
    int n = 0;
    g->pfds[n++] = (struct pollfd){g->lfd, POLLIN, 0};
    for (int i = 0; i < g->o.max_handshakes; i++) {
        struct conn *c = &g->conns[i];
        if (c->st == C_FREE)
            continue;
        short ev = (short)((c->outoff < c->outlen ? POLLOUT : 0) | (c->st != C_FLUSH ? POLLIN : 0));
        g->slot[n] = i;
        g->pfds[n++] = (struct pollfd){c->fd, ev, 0};
        int64_t left = (c->st == C_PORT ? ms_ns(RETRY_MS) : c->deadline - now);
        if (left < wait)
            wait = left < 0 ? 0 : left;
    }
    *wait_ms = (int)((wait + 999999) / 1000000);
    return n;
}

loom_err
loom__gate_step(struct loom__gate *g, int max_wait_ms)
{
    int wait_ms = 0;
    int n = poll_set(g, max_wait_ms, &wait_ms);
    int r = poll(g->pfds, (nfds_t)n, wait_ms);
    if (r < 0 && errno != EINTR)
        return LOOM_ESYS;
    for (int k = 1; r > 0 && k < n; k++) {
        struct conn *c = &g->conns[g->slot[k]];
        short re = g->pfds[k].revents;
        if (re & POLLOUT && conn_flush(g, c) != 0)
            continue;
        if (re & (POLLIN | POLLHUP | POLLERR))
            conn_read(g, c);
    }
    int64_t now = loom__now_ns();
    for (int i = 0; i < g->o.max_handshakes; i++) {
        struct conn *c = &g->conns[i];
        if (c->st == C_PORT)
            conn_issue(g, c);
        else if (c->st != C_FREE && now >= c->deadline)
            conn_drop(g, c, &g->st.timed_out);
    }
    if (r > 0 && (g->pfds[0].revents & POLLIN))
        accept_all(g);
    return LOOM_OK;
}

/* A listening socket of family fam on every address; -1 (errno). */
static int
listen_family(int fam, int port, int *bound)
{
    struct sockaddr_storage ss;
    socklen_t len = fam == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    memset(&ss, 0, sizeof ss);
    if (fam == AF_INET6) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
        a6->sin6_family = AF_INET6;
        a6->sin6_addr = in6addr_any;
        a6->sin6_port = htons((uint16_t)port);
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
        a4->sin_family = AF_INET;
        a4->sin_addr.s_addr = htonl(INADDR_ANY);
        a4->sin_port = htons((uint16_t)port);
    }
    int fd = socket(fam, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1, off = 0;
    if (fd >= 0 && fam == AF_INET6) /* IPv4 too, as mapped addresses */
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 128) != 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        errno = e;
        return -1;
    }
    *bound = ntohs(fam == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                   : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

/* A listening socket on every address: IPv6 with IPv4 mapped, or IPv4 only
 * where the host has no IPv6; -1 with err set. */
static int
listen_any(int port, int *bound, char *err, size_t errlen)
{
    int fd = listen_family(AF_INET6, port, bound);
    if (fd < 0)
        fd = listen_family(AF_INET, port, bound);
    if (fd < 0)
        loom__set_err(err, errlen, "cannot listen on TCP port %d for joiners: %s", port,
                      strerror(errno));
    return fd;
}

loom_err
loom__gate_open(int port, const unsigned char key[LOOM__AUTH_KEY_LEN],
                const struct loom__gate_opts *o, loom__gate_issue_fn issue, void *ctx,
                struct loom__gate **out, char *err, size_t errlen)
{
    LOOM_ASSERT(key != NULL && issue != NULL && out != NULL);
    struct loom__gate *g = calloc(1, sizeof *g);
    if (!g)
        return LOOM_ENOMEM;
    g->o = o ? *o : (struct loom__gate_opts){0, 0, 0};
    if (g->o.max_handshakes <= 0)
        g->o.max_handshakes = 256;
    if (g->o.step_ms <= 0)
        g->o.step_ms = 5000;
    if (g->o.grant_ms <= 0)
        g->o.grant_ms = 10000;
    g->conns = calloc((size_t)g->o.max_handshakes, sizeof *g->conns);
    g->pfds = calloc((size_t)g->o.max_handshakes + 1, sizeof *g->pfds);
    g->slot = calloc((size_t)g->o.max_handshakes + 1, sizeof *g->slot);
    if (!g->conns || !g->pfds || !g->slot) {
        g->lfd = -1;
        loom__gate_close(g);
        return LOOM_ENOMEM;
    }
    for (int i = 0; i < g->o.max_handshakes; i++)
        g->conns[i].fd = -1;
    g->lfd = listen_any(port, &g->port, err, errlen);
    if (g->lfd < 0) {
        loom__gate_close(g);
        return LOOM_ESYS;
    }
    memcpy(g->key, key, sizeof g->key);
    g->issue = issue;
    g->ctx = ctx;
    *out = g;
    return LOOM_OK;
}

int
loom__gate_port(const struct loom__gate *g)
{
    return g->port;
}

void
loom__gate_stats(const struct loom__gate *g, struct loom__gate_stats *st)
{
    *st = g->st;
}

void
loom__gate_close(struct loom__gate *g)
{
    if (!g)
        return;
    for (int i = 0; g->conns && i < g->o.max_handshakes; i++)
        if (g->conns[i].st != C_FREE)
            close(g->conns[i].fd);
    if (g->lfd >= 0)
        close(g->lfd);
    explicit_bzero(g->key, sizeof g->key);
    if (g->conns)
        explicit_bzero(g->conns, (size_t)g->o.max_handshakes * sizeof *g->conns);
    free(g->conns);
    free(g->pfds);
    free(g->slot);
    free(g);
}

/* ---- the joining side ------------------------------------------------------ */

struct sock_io {
    int fd;
    int64_t deadline;
};

/* Wait for ev on fd until the deadline: LOOM_OK, ETIMEDOUT or ESYS. */
static loom_err
wait_fd(const struct sock_io *s, short ev)
{
    for (;;) {
        int64_t left = s->deadline - loom__now_ns();
        if (left <= 0)
            return LOOM_ETIMEDOUT;
        struct pollfd p = {s->fd, ev, 0};
        int r = poll(&p, 1, (int)((left + 999999) / 1000000));
        if (r > 0)
            return LOOM_OK;
        if (r < 0 && errno != EINTR)
            return LOOM_ESYS;
    }
}

static loom_err
sock_send_all(struct sock_io *s, const unsigned char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = send(s->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            loom_err rc = wait_fd(s, POLLOUT);
            if (rc != LOOM_OK)
                return rc;
            continue;
        }
        return (errno == EPIPE || errno == ECONNRESET) ? LOOM_ECLOSED : LOOM_ESYS;
    }
    return LOOM_OK;
}

static loom_err
sock_recv_all(struct sock_io *s, unsigned char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = recv(s->fd, p, len, MSG_DONTWAIT);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n == 0)
            return LOOM_ECLOSED;
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            loom_err rc = wait_fd(s, POLLIN);
            if (rc != LOOM_OK)
                return rc;
            continue;
        }
        return errno == ECONNRESET ? LOOM_ECLOSED : LOOM_ESYS;
    }
    return LOOM_OK;
}

static loom_err
sock_send(void *ctx, const void *buf, size_t len)
{
    unsigned char hdr[HDR] = {(unsigned char)(len >> 8), (unsigned char)(len & 0xff)};
    if (len > LOOM__AUTH_MSG_MAX)
        return LOOM_EPROTO;
    loom_err rc = sock_send_all(ctx, hdr, HDR);
    return rc != LOOM_OK ? rc : sock_send_all(ctx, buf, len);
}

static loom_err
sock_recv(void *ctx, void *buf, size_t cap, size_t *len)
{
    unsigned char hdr[HDR];
    loom_err rc = sock_recv_all(ctx, hdr, HDR);
    if (rc != LOOM_OK)
        return rc;
    size_t n = (size_t)hdr[0] << 8 | hdr[1];
    if (n > cap)
        return LOOM_EPROTO;
    *len = n;
    return sock_recv_all(ctx, buf, n);
}

/* Split "host:port" ("[v6]:port" too) into host and port. */
static int
split_addr(const char *addr, char *host, size_t hcap, char *port, size_t pcap)
{
    const char *colon = strrchr(addr, ':');
    if (!colon || colon == addr || strlen(colon + 1) == 0 || strlen(colon + 1) >= pcap)
        return -1;
    const char *h = addr;
    size_t hl = (size_t)(colon - addr);
    if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl == 0 || hl >= hcap)
        return -1;
    long v = 0;
    for (const char *p = colon + 1; *p; p++) {
        if (*p < '0' || *p > '9' || v > 65535)
            return -1;
        v = v * 10 + (*p - '0');
    }
    if (v < 1 || v > 65535)
        return -1;
    memcpy(host, h, hl);
    host[hl] = '\0';
    snprintf(port, pcap, "%ld", v);
    return 0;
}

/* Connect to one address before the deadline: the socket, or -1 (errno). */
static int
connect_one(const struct addrinfo *ai, int64_t deadline)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0)
        return -1;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    struct sock_io s = {fd, deadline};
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    loom_err rc = wait_fd(&s, POLLOUT);
    if (rc != LOOM_OK || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0) {
        close(fd);
        errno = rc == LOOM_ETIMEDOUT ? ETIMEDOUT : soerr ? soerr : errno;
        return -1;
    }
    return fd;
}

/* A connected socket to addr, or -1 with rc and err set. */
static int
dial(const char *addr, int64_t deadline, loom_err *rc, char *err, size_t errlen)
{
    char host[LOOM__GATE_ADDR_MAX], port[8];
    if (split_addr(addr, host, sizeof host, port, sizeof port) != 0) {
        loom__set_err(err, errlen, "the gate address '%s' is not host:port", addr);
        *rc = LOOM_EINVAL;
        return -1;
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    int gr = getaddrinfo(host, port, &hints, &res);
    if (gr != 0) {
        loom__set_err(err, errlen, "cannot resolve the master's host %s: %s", host,
                      gai_strerror(gr));
        *rc = LOOM_ENOTFOUND;
        return -1;
    }
    int fd = -1, e = 0;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next)
        if ((fd = connect_one(ai, deadline)) < 0)
            e = errno;
    freeaddrinfo(res);
    if (fd < 0) {
        loom__set_err(err, errlen, "cannot reach the master's gate at %s: %s%s", addr, strerror(e),
                      e == ECONNREFUSED ? " (the master has ended: a stale join file?)" : "");
        *rc = e == ETIMEDOUT ? LOOM_ETIMEDOUT : e == ECONNREFUSED ? LOOM_ECLOSED : LOOM_ESYS;
    }
    return fd;
}

/* Read and check the grant after a proof. */
static loom_err
read_grant(struct sock_io *s, struct loom__gate_grant *gr, char *err, size_t errlen)
{
    unsigned char buf[GRANT_MAX];
    size_t len = 0;
    loom_err rc = sock_recv(s, buf, sizeof buf, &len);
    if (rc != LOOM_OK) {
        loom__set_err(err, errlen, "no port from the master after the handshake: %s",
                      rc == LOOM_ETIMEDOUT ? "timed out" : loom_strerror(rc));
        return rc == LOOM_EPROTO ? LOOM_EPROTO : rc;
    }
    gr->verdict = len >= 1 ? buf[0] : 0;
    size_t pl = len > 1 + LOOM__GATE_TICKET_LEN ? len - 1 - LOOM__GATE_TICKET_LEN : 0;
    if (gr->verdict == LOOM__GATE_GRANTED && pl > 0) {
        memcpy(gr->ticket, buf + 1, LOOM__GATE_TICKET_LEN);
        memcpy(gr->port, buf + 1 + LOOM__GATE_TICKET_LEN, pl);
        gr->port[pl] = '\0';
        for (size_t i = 0; i < pl; i++)
            if (gr->port[i] <= ' ' || gr->port[i] > '~')
                pl = 0;
        if (pl > 0)
            return LOOM_OK;
    } else if (gr->verdict == LOOM__GATE_ENDED && len == 1) {
        return LOOM_OK;
    } else if (gr->verdict == LOOM__GATE_BUSY && len == 1) {
        loom__set_err(err, errlen,
                      "the master had no MPI port for us in time (busy with "
                      "other joins): try again");
        return LOOM_ETIMEDOUT;
    }
    loom__set_err(err, errlen, "the master's grant is malformed (%zu bytes)", len);
    return LOOM_EPROTO;
}

loom_err
loom__gate_knock(const char *addr, const unsigned char key[LOOM__AUTH_KEY_LEN], int timeout_ms,
                 struct loom__gate_grant *gr, char *err, size_t errlen)
{
    LOOM_ASSERT(addr != NULL && key != NULL && gr != NULL);
    memset(gr, 0, sizeof *gr);
    loom_err rc = LOOM_OK;
    struct sock_io s = {-1, loom__now_ns() + ms_ns(timeout_ms)};
    s.fd = dial(addr, s.deadline, &rc, err, errlen);
    if (s.fd < 0)
        return rc;
    struct loom__auth_io aio = {sock_send, sock_recv, &s};
    char why[LOOM__AUTH_ERR_MAX];
    rc = loom__auth_join(&aio, key, why, sizeof why);
    if (rc == LOOM_ECLOSED)
        loom__set_err(err, errlen,
                      "the master's gate at %s closed the connection during the "
                      "handshake (%s; too many at once?)",
                      addr, why);
    else if (rc != LOOM_OK)
        loom__set_err(err, errlen, "%s", why);
    else
        rc = read_grant(&s, gr, err, errlen);
    close(s.fd);
    if (rc != LOOM_OK)
        explicit_bzero(gr, sizeof *gr);
    return rc;
}
