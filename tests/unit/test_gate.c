/* SPDX-License-Identifier: MIT */
/*
 * The join gate (framework/src/formats/gate.c) on loopback TCP, no MPI: a
 * real gate, stepped by a thread of the test, against the real joining side
 * (loom__gate_knock) and against raw sockets that break each rule of the
 * handshake's state machine — a wrong key, a malformed response, a
 * reflected challenge, a byte when none is expected, an oversized or empty
 * frame, silence past a step's deadline, more connections than allowed —
 * and a legitimate joiner whose bytes arrive one at a time. Each refusal
 * must close the socket and be counted under its reason.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "gate.h"
#include "loom_test.h"

#define STEP_MS 300

static unsigned char key[LOOM__AUTH_KEY_LEN];
static struct loom__gate *gate;
static pthread_t stepper;
static atomic_int stop, verdict = LOOM__GATE_GRANTED, issued;
static char addr[64];
static char err[512];

static enum loom__gate_verdict
issue(void *ctx, char *port, unsigned char *ticket)
{
    (void)ctx;
    atomic_fetch_add(&issued, 1);
    snprintf(port, LOOM__GATE_PORT_MAX, "port-for-test:42");
    memset(ticket, 0x5a, LOOM__GATE_TICKET_LEN);
    return (enum loom__gate_verdict)atomic_load(&verdict);
}

static void *
step_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop))
        loom__gate_step(gate, 20);
    return NULL;
}

static void
open_gate(int max_handshakes, int grant_ms)
{
    struct loom__gate_opts o = {max_handshakes, STEP_MS, grant_ms};
    loom_assert_ok(loom__auth_random(key, sizeof key));
    loom_assert_ok(loom__gate_open(0, key, &o, issue, NULL, &gate, err, sizeof err));
    snprintf(addr, sizeof addr, "127.0.0.1:%d", loom__gate_port(gate));
    atomic_store(&stop, 0);
    cr_assert_eq(pthread_create(&stepper, NULL, step_main, NULL), 0);
}

/* Stop stepping and read the counters. */
static struct loom__gate_stats
close_gate(void)
{
    struct loom__gate_stats st;
    atomic_store(&stop, 1);
    pthread_join(stepper, NULL);
    loom__gate_stats(gate, &st);
    loom__gate_close(gate);
    return st;
}

static double
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int
dial(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)loom__gate_port(gate))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0, "%s", strerror(errno));
    return fd;
}

/* Read one frame (2-byte length) within 5 s: its length, or -1 on EOF or reset. */
static int
read_frame(int fd, unsigned char *buf, size_t cap)
{
    unsigned char hdr[2];
    struct pollfd p = {fd, POLLIN, 0};
    cr_assert_eq(poll(&p, 1, 5000), 1, "no frame within 5 s");
    if (recv(fd, hdr, 2, MSG_WAITALL) != 2)
        return -1;
    size_t n = (size_t)hdr[0] << 8 | hdr[1];
    cr_assert_leq(n, cap);
    cr_assert_eq(recv(fd, buf, n, MSG_WAITALL), (ssize_t)n);
    return (int)n;
}

static void
send_frame(int fd, const void *buf, size_t len)
{
    unsigned char hdr[2] = {(unsigned char)(len >> 8), (unsigned char)len};
    cr_assert_eq(send(fd, hdr, 2, MSG_NOSIGNAL), 2);
    if (len)
        cr_assert_eq(send(fd, buf, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* The gate closes fd within ms: 1, else 0. Frames it sends first are skipped. */
static int
closed_within(int fd, int ms)
{
    double end = now_ms() + ms;
    unsigned char b[512];
    while (now_ms() < end) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, (int)(end - now_ms()) + 1) <= 0)
            continue;
        ssize_t n = recv(fd, b, sizeof b, 0);
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return 1;
    }
    return 0;
}

/* A raw connection that has read the gate's challenge into ch. */
static int
challenged(unsigned char ch[LOOM__AUTH_CHALLENGE_LEN])
{
    int fd = dial();
    cr_assert_eq(read_frame(fd, ch, LOOM__AUTH_CHALLENGE_LEN), LOOM__AUTH_CHALLENGE_LEN);
    cr_assert(memcmp(ch, "#CHALLENGE#{sha256}loom-join-1:master", 37) == 0);
    return fd;
}

Test(gate, the_right_key_gets_the_grant, .timeout = 30)
{
    open_gate(8, 1000);
    struct loom__gate_grant gr;
    loom_assert_ok(loom__gate_knock(addr, key, 5000, &gr, err, sizeof err));
    cr_assert_eq(gr.verdict, LOOM__GATE_GRANTED);
    cr_assert_str_eq(gr.port, "port-for-test:42");
    for (int i = 0; i < LOOM__GATE_TICKET_LEN; i++)
        cr_assert_eq(gr.ticket[i], 0x5a);
    atomic_store(&verdict, LOOM__GATE_ENDED);
    loom_assert_ok(loom__gate_knock(addr, key, 5000, &gr, err, sizeof err));
    cr_assert_eq(gr.verdict, LOOM__GATE_ENDED);
    struct loom__gate_stats st = close_gate();
    cr_assert_eq(st.granted, 1);
    cr_assert_eq(st.ended, 1);
    cr_assert_eq(st.accepted, 2);
    cr_assert_eq(st.live, 0);
}

Test(gate, a_wrong_key_is_refused_and_gets_nothing, .timeout = 30)
{
    open_gate(8, 1000);
    unsigned char other[LOOM__AUTH_KEY_LEN];
    struct loom__gate_grant gr;
    loom_assert_ok(loom__auth_random(other, sizeof other));
    loom_assert_err(loom__gate_knock(addr, other, 5000, &gr, err, sizeof err), LOOM_EAUTH);
    cr_assert(strstr(err, "the master refused our key") != NULL, "%s", err);
    cr_assert_eq(atomic_load(&issued), 0, "a port was asked for an unproven joiner");
    struct loom__gate_stats st = close_gate();
    cr_assert_eq(st.bad_proof, 1);
    cr_assert_eq(st.granted, 0);
}

Test(gate, a_joiner_that_cannot_get_a_port_is_told_busy, .timeout = 30)
{
    atomic_store(&verdict, LOOM__GATE_BUSY);
    open_gate(8, 200);
    struct loom__gate_grant gr;
    double t0 = now_ms();
    loom_assert_err(loom__gate_knock(addr, key, 5000, &gr, err, sizeof err), LOOM_ETIMEDOUT);
    double took = now_ms() - t0;
    cr_assert(strstr(err, "busy") != NULL, "%s", err);
    cr_assert_geq(took, 200, "told busy after %.0f ms, before grant_ms", took);
    cr_assert_geq(atomic_load(&issued), 2, "asked only %d times", atomic_load(&issued));
    struct loom__gate_stats st = close_gate();
    cr_assert_eq(st.no_port, 1);
}

Test(gate, malformed_and_reflected_messages_are_refused, .timeout = 30)
{
    open_gate(8, 1000);
    unsigned char ch[LOOM__AUTH_CHALLENGE_LEN];
    /* not a {digest} response */
    int fd = challenged(ch);
    send_frame(fd, "hello there, gate", 17);
    cr_assert(closed_within(fd, 2000));
    close(fd);
    /* the gate's own challenge sent back as a response, then as a challenge */
    fd = challenged(ch);
    send_frame(fd, ch, sizeof ch);
    cr_assert(closed_within(fd, 2000));
    close(fd);
    /* an empty frame */
    fd = challenged(ch);
    send_frame(fd, NULL, 0);
    cr_assert(closed_within(fd, 2000));
    close(fd);
    struct loom__gate_stats st = close_gate();
    cr_assert_eq(st.bad_proof, 3, "bad_proof %llu", (unsigned long long)st.bad_proof);
    cr_assert_eq(atomic_load(&issued), 0);
}

Test(gate, an_oversized_frame_is_refused_after_its_header, .timeout = 30)
{
    open_gate(8, 1000);
    unsigned char ch[LOOM__AUTH_CHALLENGE_LEN];
    int fd = challenged(ch);
    unsigned char hdr[2] = {(LOOM__AUTH_MSG_MAX + 1) >> 8, (LOOM__AUTH_MSG_MAX + 1) & 0xff};
    cr_assert_eq(send(fd, hdr, 2, MSG_NOSIGNAL), 2);
    cr_assert(closed_within(fd, 2000), "the gate waited for a 257-byte message");
    close(fd);
    /* and one that keeps sending: disconnected long before 16 MiB */
    fd = challenged(ch);
    static unsigned char chunk[4096];
    memset(chunk, 0xff, sizeof chunk);
    size_t sent = 0;
    while (sent < (16u << 20)) {
        ssize_t n = send(fd, chunk, sizeof chunk, MSG_NOSIGNAL);
        if (n < 0)
            break;
        sent += (size_t)n;
    }
    cr_assert_lt(sent, 16u << 20, "still connected after 16 MiB");
    close(fd);
    struct loom__gate_stats st = close_gate();
    cr_assert_eq(st.oversized, 2);
}

Test(gate, silence_past_a_steps_deadline_is_refused, .timeout = 30)
{
    open_gate(8, 1000);
    unsigned char ch[LOOM__AUTH_CHALLENGE_LEN];
    int fd = challenged(ch);
    double t0 = now_ms();
    cr_assert(closed_within(fd, 5000));
    double took = now_ms() - t0;
    close(fd);
    /* half a response, then silence: the deadline is the step's, not a byte's */
    fd = challenged(ch);
    send(fd, "\0\x28{sha256}", 10, MSG_NOSIGNAL);
    cr_assert(closed_within(fd, 5000));
    close(fd);
    struct loom__gate_stats st = close_gate();
    cr_assert_eq(st.timed_out, 2);
    cr_assert_geq(took, STEP_MS - 50, "closed after %.0f ms", took);
    cr_assert_lt(took, STEP_MS + 2000, "closed after %.0f ms", took);
}

/* A joiner's transport that sends each byte in its own segment. */
struct slow {
    int fd;
};

static loom_err
slow_send(void *ctx, const void *buf, size_t len)
{
    struct slow *s = ctx;
    unsigned char hdr[2] = {(unsigned char)(len >> 8), (unsigned char)len};
    for (int i = 0; i < 2; i++)
        if (send(s->fd, hdr + i, 1, MSG_NOSIGNAL) != 1)
            return LOOM_ECLOSED;
    for (size_t i = 0; i < len; i++)
        if (send(s->fd, (const unsigned char *)buf + i, 1, MSG_NOSIGNAL) != 1)
            return LOOM_ECLOSED;
    return LOOM_OK;
}

static loom_err
slow_recv(void *ctx, void *buf, size_t cap, size_t *len)
{
    struct slow *s = ctx;
    int n = read_frame(s->fd, buf, cap);
    if (n < 0)
        return LOOM_ECLOSED;
    *len = (size_t)n;
    return LOOM_OK;
}

Test(gate, a_joiner_whose_bytes_come_one_at_a_time_is_granted, .timeout = 30)
{
    open_gate(8, 1000);
    int fd = dial();
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct slow s = {fd};
    struct loom__auth_io io = {slow_send, slow_recv, &s};
    loom_assert_ok(loom__auth_join(&io, key, err, sizeof err));
    unsigned char grant[1 + LOOM__GATE_TICKET_LEN + LOOM__GATE_PORT_MAX];
    int n = read_frame(fd, grant, sizeof grant);
    cr_assert_eq(n, 1 + LOOM__GATE_TICKET_LEN + 16);
    cr_assert_eq(grant[0], LOOM__GATE_GRANTED);
    cr_assert(memcmp(grant + 1 + LOOM__GATE_TICKET_LEN, "port-for-test:42", 16) == 0);
    cr_assert(closed_within(fd, 2000), "the gate kept the connection after the grant");
    close(fd);
    struct loom__gate_stats st = close_gate();
    cr_assert_eq(st.granted, 1);
    cr_assert_eq(st.live, 0);
}

Test(gate, a_byte_when_none_is_expected_is_refused, .timeout = 30)
{
    atomic_store(&verdict, LOOM__GATE_BUSY);
    open_gate(8, 3000);
    int fd = dial();
    struct slow s = {fd};
    struct loom__auth_io io = {slow_send, slow_recv, &s};
    loom_assert_ok(loom__auth_join(&io, key, err, sizeof err));
    /* proven, waiting for a port: nothing may come from the joiner now */
    cr_assert_eq(send(fd, "x", 1, MSG_NOSIGNAL), 1);
    double t0 = now_ms();
    cr_assert(closed_within(fd, 2500));
    cr_assert_lt(now_ms() - t0, 2500, "refused only when grant_ms passed");
    close(fd);
    struct loom__gate_stats st = close_gate();
    cr_assert_eq(st.bad_proof, 1);
    cr_assert_eq(st.no_port, 0);
}

Test(gate, connections_beyond_the_bound_are_closed_at_once, .timeout = 30)
{
    open_gate(2, 1000);
    unsigned char ch[LOOM__AUTH_CHALLENGE_LEN];
    int a = challenged(ch), b = challenged(ch);
    int c = dial();
    double t0 = now_ms();
    cr_assert(closed_within(c, 2000));
    double took = now_ms() - t0;
    cr_assert_lt(took, STEP_MS, "the third connection waited %.0f ms", took);
    close(a);
    close(b);
    close(c);
    /* slots come back once their connections end: a later one is challenged */
    int challenged_later = 0;
    for (double end = now_ms() + 5000; !challenged_later && now_ms() < end;) {
        int d = dial();
        unsigned char hdr[2];
        challenged_later = recv(d, hdr, 2, MSG_WAITALL) == 2;
        close(d);
    }
    cr_assert(challenged_later, "no slot came back");
    struct loom__gate_stats st = close_gate();
    cr_assert_geq(st.busy, 1, "busy %llu", (unsigned long long)st.busy);
}
