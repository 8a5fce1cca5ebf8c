/* SPDX-License-Identifier: MIT */
/*
 * stranger ADDR PID SECONDS THREADS: a flood of strangers at a serving
 * master's join gate (ADDR = host:port, the join file's gate line) for the
 * gate flood test (tests/cluster/gate_flood.sh). THREADS threads connect
 * again and again for SECONDS seconds, each time as one of:
 *   wrongkey  the whole handshake with a random key (loom__gate_knock):
 *             must end in LOOM_EAUTH
 *   persist   answers the challenge with a made-up MAC, then keeps
 *             sending 4 KiB messages (issue #16's attacker): the gate
 *             must disconnect it before 16 MiB
 *   garbage   random bytes from the first byte on, 4 KiB at a time
 *   oversize  a frame header announcing 65535 bytes, then data
 *   silent    connects and never speaks (half-open): the gate must close
 *             it within 30 s
 * Meanwhile the main thread samples PID's VmRSS (/proc/PID/status) every
 * 20 ms. Prints one line per kind ("stranger: KIND tries N refused N") and
 * "stranger: rss_max_kib N samples N sent_kib N" (what the writers got
 * into the gate's socket before it was closed). Exit status 0 when every stranger
 * was refused or disconnected, 1 otherwise (the line of the kind says how
 * many were not), 2 on a usage or system error.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "gate.h"

enum { WRONGKEY, PERSIST, GARBAGE, OVERSIZE, SILENT, KINDS };
static const char *const kind_name[KINDS] = {"wrongkey", "persist", "garbage", "oversize",
                                             "silent"};
static atomic_ulong tries[KINDS], refused[KINDS], bytes_sent;
static const char *addr;
static double stop_at;

#define FLOOD_MAX (16u << 20) /* a writer not disconnected by then was not refused */
#define SILENT_S  30

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
dial(void)
{
    char host[256];
    snprintf(host, sizeof host, "%s", addr);
    char *colon = strrchr(host, ':');
    if (!colon)
        return -1;
    *colon = '\0';
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, colon + 1, &hints, &res) != 0)
        return -1;
    int fd = -1;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    return fd;
}

/* Write 4 KiB chunks until the peer is gone: 1 refused, 0 not. */
static int
flood(int fd, const unsigned char *first, size_t firstlen)
{
    unsigned char chunk[4096];
    size_t sent = 0;
    for (size_t i = 0; i < sizeof chunk; i++)
        chunk[i] = (unsigned char)rand();
    if (firstlen && send(fd, first, firstlen, MSG_NOSIGNAL) < 0)
        return 1;
    while (sent < FLOOD_MAX) {
        ssize_t n = send(fd, chunk, sizeof chunk, MSG_NOSIGNAL);
        if (n < 0)
            return errno == EPIPE || errno == ECONNRESET;
        sent += (size_t)n;
        atomic_fetch_add(&bytes_sent, (unsigned long)n);
    }
    return 0;
}

/* Wait until the gate closes fd (EOF or reset), reading what it sends. */
static int
closed_within(int fd, int secs)
{
    double end = now_s() + secs;
    unsigned char buf[512];
    while (now_s() < end) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 1000) <= 0)
            continue;
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return 1;
    }
    return 0;
}

static int
one(int kind)
{
    unsigned char key[LOOM__AUTH_KEY_LEN], msg[2 + LOOM__AUTH_RESPONSE_LEN];
    if (kind == WRONGKEY) {
        struct loom__gate_grant gr;
        char err[512];
        loom__auth_random(key, sizeof key);
        return loom__gate_knock(addr, key, 30000, &gr, err, sizeof err) == LOOM_EAUTH;
    }
    int fd = dial();
    if (fd < 0)
        return 0;
    int ok = 0;
    if (kind == PERSIST) { /* skip the challenge, answer with a made-up MAC */
        unsigned char ch[2 + LOOM__AUTH_CHALLENGE_LEN];
        ok = recv(fd, ch, sizeof ch, MSG_WAITALL) == (ssize_t)sizeof ch;
        msg[0] = 0;
        msg[1] = LOOM__AUTH_RESPONSE_LEN;
        memcpy(msg + 2, "{sha256}", 8);
        loom__auth_random(msg + 10, 32);
        ok = ok && flood(fd, msg, sizeof msg);
    } else if (kind == GARBAGE) {
        ok = flood(fd, NULL, 0);
    } else if (kind == OVERSIZE) {
        unsigned char hdr[2] = {0xff, 0xff};
        ok = flood(fd, hdr, 2);
    } else {
        ok = closed_within(fd, SILENT_S);
    }
    close(fd);
    return ok;
}

static void *
run(void *arg)
{
    unsigned k = (unsigned)(size_t)arg;
    while (now_s() < stop_at) {
        int kind = (int)(k++ % KINDS);
        atomic_fetch_add(&tries[kind], 1);
        if (one(kind))
            atomic_fetch_add(&refused[kind], 1);
    }
    return NULL;
}

static long
rss_kib(const char *status)
{
    FILE *f = fopen(status, "r");
    char line[256];
    long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &v) == 1)
            break;
    if (f)
        fclose(f);
    return v;
}

int
main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: stranger HOST:PORT PID SECONDS THREADS\n");
        return 2;
    }
    addr = argv[1];
    char status[64];
    snprintf(status, sizeof status, "/proc/%s/status", argv[2]);
    int threads = atoi(argv[4]);
    stop_at = now_s() + atof(argv[3]);
    pthread_t *t = calloc((size_t)threads, sizeof *t);
    for (int i = 0; t && i < threads; i++)
        if (pthread_create(&t[i], NULL, run, (void *)(size_t)i) != 0)
            return 2;
    printf("stranger: flooding %s with %d threads\n", addr, threads);
    fflush(stdout);
    long max = 0, samples = 0;
    while (now_s() < stop_at) {
        long v = rss_kib(status);
        if (v > max)
            max = v;
        samples++;
        nanosleep(&(struct timespec){0, 20000000}, NULL); /* the sampling period */
    }
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    long v = rss_kib(status);
    if (v > max)
        max = v;
    int bad = 0;
    for (int k = 0; k < KINDS; k++) {
        unsigned long n = atomic_load(&tries[k]), r = atomic_load(&refused[k]);
        printf("stranger: %s tries %lu refused %lu%s\n", kind_name[k], n, r,
               n == r ? "" : " NOT ALL REFUSED");
        bad |= n != r || n == 0;
    }
    printf("stranger: rss_max_kib %ld samples %ld sent_kib %lu\n", max, samples,
           atomic_load(&bytes_sent) / 1024);
    free(t);
    return bad;
}
