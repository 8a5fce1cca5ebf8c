/* SPDX-License-Identifier: MIT */
/*
 * The join handshake (framework/src/formats/auth.c) over a socketpair: the real
 * serve and join against each other, and each against scripted fake peers
 * that send garbage, another digest, too much, too little, or nothing.
 *
 * The transport here frames each message as a 4-byte length and the bytes,
 * as a stream connection would; it refuses a message longer than the cap
 * after reading only its length, and gives up after a deadline (poll).
 * Every message a side sends is also kept, so a test can say what a side
 * did NOT send (no MAC before the peer was verified, no reply to a
 * malformed challenge).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth.h"
#include "loom_test.h"

#define LOG_MAX 8

struct msg {
    size_t len;
    unsigned char b[LOOM__AUTH_MSG_MAX];
};

/* One end of a connection. */
struct end {
    int fd;
    int timeout_ms;
    int nsent;
    struct msg sent[LOG_MAX];
};

static int
wait_fd(int fd, short ev, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = ev};
    int n;
    do
        n = poll(&p, 1, timeout_ms);
    while (n < 0 && errno == EINTR);
    return n;
}

/* Read exactly n bytes: LOOM_OK, ECLOSED (EOF), ETIMEDOUT, ESYS. */
static loom_err
read_full(struct end *e, void *buf, size_t n)
{
    unsigned char *p = buf;
    while (n > 0) {
        int w = wait_fd(e->fd, POLLIN, e->timeout_ms);
        if (w == 0)
            return LOOM_ETIMEDOUT;
        if (w < 0)
            return LOOM_ESYS;
        ssize_t r = recv(e->fd, p, n, 0);
        if (r == 0)
            return LOOM_ECLOSED;
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return errno == ECONNRESET ? LOOM_ECLOSED : LOOM_ESYS;
        }
        p += r;
        n -= (size_t)r;
    }
    return LOOM_OK;
}

static loom_err
write_full(int fd, const void *buf, size_t n)
{
    const unsigned char *p = buf;
    while (n > 0) {
        ssize_t r = send(fd, p, n, MSG_NOSIGNAL);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return (errno == EPIPE || errno == ECONNRESET) ? LOOM_ECLOSED : LOOM_ESYS;
        }
        p += r;
        n -= (size_t)r;
    }
    return LOOM_OK;
}

/* Send a frame claiming `claim` bytes, with len bytes of body. */
static loom_err
send_frame(struct end *e, const void *buf, size_t len, uint32_t claim)
{
    if (e->nsent < LOG_MAX) {
        struct msg *m = &e->sent[e->nsent];
        m->len = len;
        memcpy(m->b, buf, len < sizeof m->b ? len : sizeof m->b);
    }
    e->nsent++;
    loom_err rc = write_full(e->fd, &claim, sizeof claim);
    if (rc == LOOM_OK)
        rc = write_full(e->fd, buf, len);
    return rc;
}

static loom_err
t_send(void *ctx, const void *buf, size_t len)
{
    return send_frame(ctx, buf, len, (uint32_t)len);
}

static loom_err
t_recv(void *ctx, void *buf, size_t cap, size_t *len)
{
    struct end *e = ctx;
    uint32_t n;
    loom_err rc = read_full(e, &n, sizeof n);
    if (rc != LOOM_OK)
        return rc;
    if (n > cap) /* refused on its length alone: the body is never read */
        return LOOM_EPROTO;
    rc = read_full(e, buf, n);
    if (rc == LOOM_OK)
        *len = n;
    return rc;
}

static void
connect_pair(struct end *a, struct end *b)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    memset(a, 0, sizeof *a);
    memset(b, 0, sizeof *b);
    a->fd = sv[0];
    b->fd = sv[1];
    a->timeout_ms = b->timeout_ms = 10000; /* only reached if a test is broken */
}

static struct loom__auth_io
io_of(struct end *e)
{
    return (struct loom__auth_io){.send = t_send, .recv = t_recv, .ctx = e};
}

static const unsigned char KEY[LOOM__AUTH_KEY_LEN] = "0123456789abcdef0123456789abcdef";
static const unsigned char OTHER[LOOM__AUTH_KEY_LEN] = "0123456789abcdef0123456789abcdeF";

/* ---- running a side in a thread --------------------------------------- */

struct side {
    struct end *e;
    const unsigned char *key;
    int serve;
    void (*fake)(struct side *); /* a scripted peer instead of the real one */
    loom_err rc;
    char err[LOOM__AUTH_ERR_MAX];
    /* for fake peers */
    int mode;
    struct msg got[LOG_MAX];
    int ngot;
    pthread_t th;
};

static void *
side_main(void *arg)
{
    struct side *s = arg;
    if (s->fake) {
        s->fake(s);
    } else {
        struct loom__auth_io io = io_of(s->e);
        s->rc = s->serve ? loom__auth_serve(&io, s->key, s->err, sizeof s->err)
                         : loom__auth_join(&io, s->key, s->err, sizeof s->err);
    }
    /* Hang up once done, as a real peer's connection would close. */
    shutdown(s->e->fd, SHUT_RDWR);
    return NULL;
}

static void
start(struct side *s)
{
    cr_assert_eq(pthread_create(&s->th, NULL, side_main, s), 0);
}

static void
finish(struct side *s)
{
    cr_assert_eq(pthread_join(s->th, NULL), 0);
}

/* Run a against b, each in its own thread; both ends closed afterwards. */
static void
run_pair(struct side *a, struct side *b)
{
    start(a);
    start(b);
    finish(a);
    finish(b);
    close(a->e->fd);
    close(b->e->fd);
}

/* A fake's receive: the message is kept in s->got. */
static loom_err
fake_recv(struct side *s)
{
    struct msg *m = &s->got[s->ngot < LOG_MAX ? s->ngot : LOG_MAX - 1];
    loom_err rc = t_recv(s->e, m->b, sizeof m->b, &m->len);
    if (rc == LOOM_OK)
        s->ngot++;
    return rc;
}

static void
hmac(const unsigned char *key, const void *msg, size_t len, unsigned char out[32])
{
    unsigned int n = 0;
    cr_assert_not_null(HMAC(EVP_sha256(), key, LOOM__AUTH_KEY_LEN, msg, len, out, &n));
    cr_assert_eq(n, 32u);
}

static int
starts(const struct msg *m, const char *prefix)
{
    size_t n = strlen(prefix);
    return m->len >= n && memcmp(m->b, prefix, n) == 0;
}

static int
sent_a_mac(const struct end *e)
{
    for (int i = 0; i < e->nsent && i < LOG_MAX; i++)
        if (starts(&e->sent[i], "{sha256}"))
            return 1;
    return 0;
}

#define CH_LEN  69
#define NONCE_0 (CH_LEN - 32)

/* ---- the real thing on both sides -------------------------------------- */

static void
handshake(const unsigned char *skey, const unsigned char *jkey, struct side *srv, struct side *joi,
          struct end *se, struct end *je)
{
    connect_pair(se, je);
    memset(srv, 0, sizeof *srv);
    memset(joi, 0, sizeof *joi);
    *srv = (struct side){.e = se, .key = skey, .serve = 1};
    *joi = (struct side){.e = je, .key = jkey, .serve = 0};
    run_pair(srv, joi);
}

Test(auth, right_key_both_sides_ok, .timeout = 30)
{
    struct end se, je;
    struct side srv, joi;
    handshake(KEY, KEY, &srv, &joi, &se, &je);
    cr_assert_eq(srv.rc, LOOM_OK, "serve: %s", srv.err);
    cr_assert_eq(joi.rc, LOOM_OK, "join: %s", joi.err);
    /* The exchange is exactly the documented one. */
    cr_assert_eq(se.nsent, 3);
    cr_assert_eq(je.nsent, 3);
    cr_assert(se.sent[0].len == CH_LEN &&
              memcmp(se.sent[0].b, "#CHALLENGE#{sha256}loom-join-1:master", 37) == 0);
    cr_assert(je.sent[0].len == 40 && starts(&je.sent[0], "{sha256}"));
    cr_assert(se.sent[1].len == 9 && starts(&se.sent[1], "#WELCOME#"));
    cr_assert(je.sent[1].len == CH_LEN &&
              memcmp(je.sent[1].b, "#CHALLENGE#{sha256}loom-join-1:joiner", 37) == 0);
    cr_assert(se.sent[2].len == 40 && starts(&se.sent[2], "{sha256}"));
    cr_assert(je.sent[2].len == 9 && starts(&je.sent[2], "#WELCOME#"));
    /* The response is HMAC-SHA256 over the whole challenge. */
    unsigned char want[32];
    hmac(KEY, se.sent[0].b, CH_LEN, want);
    cr_assert(memcmp(je.sent[0].b + 8, want, 32) == 0);
    hmac(KEY, je.sent[1].b, CH_LEN, want);
    cr_assert(memcmp(se.sent[2].b + 8, want, 32) == 0);
}

Test(auth, wrong_key_both_fail_and_the_master_sends_no_mac, .timeout = 30)
{
    struct end se, je;
    struct side srv, joi;
    handshake(KEY, OTHER, &srv, &joi, &se, &je);
    cr_assert_eq(srv.rc, LOOM_EAUTH, "serve: %s %s", loom_err_name(srv.rc), srv.err);
    cr_assert_eq(joi.rc, LOOM_EAUTH, "join: %s %s", loom_err_name(joi.rc), joi.err);
    cr_assert_eq(se.nsent, 2);
    cr_assert(starts(&se.sent[1], "#FAILURE#"));
    cr_assert_not(sent_a_mac(&se), "the master answered before it verified the joiner");
    cr_assert(strstr(srv.err, "does not match the job key") != NULL, "%s", srv.err);
    cr_assert(strstr(joi.err, "the master refused our key") != NULL, "%s", joi.err);
}

Test(auth, nonces_differ_between_runs_and_sides, .timeout = 30)
{
    unsigned char nonces[4][32];
    for (int run = 0; run < 2; run++) {
        struct end se, je;
        struct side srv, joi;
        handshake(KEY, KEY, &srv, &joi, &se, &je);
        cr_assert_eq(srv.rc, LOOM_OK);
        memcpy(nonces[2 * run], se.sent[0].b + NONCE_0, 32);
        memcpy(nonces[2 * run + 1], je.sent[1].b + NONCE_0, 32);
    }
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < i; j++)
            cr_assert(memcmp(nonces[i], nonces[j], 32) != 0, "nonces %d and %d equal", i, j);
}

Test(auth, random_bytes_differ, .timeout = 10)
{
    unsigned char a[32], b[32];
    loom_assert_ok(loom__auth_random(a, sizeof a));
    loom_assert_ok(loom__auth_random(b, sizeof b));
    cr_assert(memcmp(a, b, sizeof a) != 0);
    loom_assert_ok(loom__auth_random(a, 0));
}

/* ---- fake joiners against the real master ------------------------------ */

enum {
    FJ_GARBAGE,
    FJ_MD5,
    FJ_HUGE,
    FJ_TRUNCATED,
    FJ_LONG,
    FJ_CLOSE_AT_ONCE,
    FJ_CLOSE_AFTER_CHALLENGE,
    FJ_SILENT,
    FJ_FLIP_LAST,
    FJ_FLIP_FIRST,
    FJ_CORRECT,
    FJ_REFLECT,
    FJ_VERDICT_FAILURE,
};

static void
fake_joiner(struct side *s)
{
    unsigned char resp[LOOM__AUTH_MSG_MAX], mac[32];
    if (s->mode == FJ_CLOSE_AT_ONCE)
        return;
    if (fake_recv(s) != LOOM_OK)
        return;
    const struct msg *ch = &s->got[0];
    memcpy(resp, "{sha256}", 8);
    hmac(s->key, ch->b, ch->len, mac);
    memcpy(resp + 8, mac, 32);
    switch (s->mode) {
    case FJ_GARBAGE:
        (void)t_send(s->e, "hello, master", 13);
        break;
    case FJ_MD5:
        memcpy(resp, "{md5}", 5);
        memcpy(resp + 5, mac, 16); /* well-formed, for md5 */
        (void)t_send(s->e, resp, 21);
        break;
    case FJ_HUGE: {
        /* A 1 MiB message: refused on its length; our write only ends when
         * the master hangs up. */
        size_t n = (size_t)1 << 20;
        static unsigned char big[(size_t)1 << 20];
        memset(big, 'A', n);
        (void)send_frame(s->e, big, n, (uint32_t)n);
        break;
    }
    case FJ_TRUNCATED:
        (void)t_send(s->e, resp, 39);
        break;
    case FJ_LONG:
        resp[40] = 0;
        (void)t_send(s->e, resp, 41);
        break;
    case FJ_CLOSE_AFTER_CHALLENGE:
        break;
    case FJ_SILENT:
        /* Say nothing until the master hangs up. */
        (void)fake_recv(s);
        break;
    case FJ_FLIP_LAST:
        resp[39] ^= 1;
        (void)t_send(s->e, resp, 40);
        break;
    case FJ_FLIP_FIRST:
        resp[8] ^= 0x80;
        (void)t_send(s->e, resp, 40);
        break;
    case FJ_CORRECT:
    case FJ_REFLECT:
    case FJ_VERDICT_FAILURE:
        (void)t_send(s->e, resp, 40);
        if (fake_recv(s) != LOOM_OK)
            return;
        if (s->mode == FJ_REFLECT) {
            /* Hand the master its own challenge to answer. */
            (void)t_send(s->e, ch->b, ch->len);
            (void)fake_recv(s);
        } else if (s->mode == FJ_VERDICT_FAILURE) {
            unsigned char mine[CH_LEN];
            memcpy(mine, "#CHALLENGE#{sha256}loom-join-1:joiner", 37);
            memset(mine + 37, 7, 32);
            (void)t_send(s->e, mine, CH_LEN);
            if (fake_recv(s) == LOOM_OK)
                (void)t_send(s->e, "#FAILURE#", 9);
        }
        break;
    }
}

/* The real master against a fake joiner of the given mode. */
static void
serve_fake(int mode, int timeout_ms, struct side *srv, struct side *fj, struct end *se,
           struct end *fe)
{
    connect_pair(se, fe);
    se->timeout_ms = timeout_ms;
    *srv = (struct side){.e = se, .key = KEY, .serve = 1};
    *fj = (struct side){.e = fe, .key = KEY, .fake = fake_joiner, .mode = mode};
    run_pair(srv, fj);
}

#define EXPECT_SERVE(mode, code, text)                                                             \
    do {                                                                                           \
        struct end se_, fe_;                                                                       \
        struct side srv_, fj_;                                                                     \
        serve_fake(mode, 10000, &srv_, &fj_, &se_, &fe_);                                          \
        cr_assert_eq(srv_.rc, code, "mode %d: %s (%s), expected %s", mode, loom_err_name(srv_.rc), \
                     srv_.err, loom_err_name(code));                                               \
        cr_assert(strstr(srv_.err, text) != NULL, "mode %d: '%s' lacks '%s'", mode, srv_.err,      \
                  text);                                                                           \
        cr_assert_not(sent_a_mac(&se_), "mode %d: the master sent a MAC", mode);                   \
    } while (0)

Test(auth, master_refuses_a_malformed_response, .timeout = 30)
{
    EXPECT_SERVE(FJ_GARBAGE, LOOM_EPROTO, "not a {digest} response");
    EXPECT_SERVE(FJ_MD5, LOOM_EPROTO, "digest {md5}");
    EXPECT_SERVE(FJ_TRUNCATED, LOOM_EPROTO, "MAC is 31 bytes");
    EXPECT_SERVE(FJ_LONG, LOOM_EPROTO, "MAC is 33 bytes");
}

Test(auth, master_refuses_a_1mib_message_unread, .timeout = 30)
{
    EXPECT_SERVE(FJ_HUGE, LOOM_EPROTO, "response");
}

Test(auth, master_sees_a_joiner_that_hangs_up, .timeout = 30)
{
    EXPECT_SERVE(FJ_CLOSE_AT_ONCE, LOOM_ECLOSED, "closed");
    EXPECT_SERVE(FJ_CLOSE_AFTER_CHALLENGE, LOOM_ECLOSED, "waiting for the joiner's response");
}

Test(auth, master_gives_up_on_a_silent_joiner, .timeout = 30)
{
    struct end se, fe;
    struct side srv, fj;
    serve_fake(FJ_SILENT, 50, &srv, &fj, &se, &fe); /* the transport's deadline: 50 ms */
    cr_assert_eq(srv.rc, LOOM_ETIMEDOUT, "%s", loom_err_name(srv.rc));
    cr_assert(strstr(srv.err, "timed out") != NULL, "%s", srv.err);
}

Test(auth, the_compare_covers_the_whole_mac, .timeout = 30)
{
    EXPECT_SERVE(FJ_FLIP_LAST, LOOM_EAUTH, "does not match the job key");
    EXPECT_SERVE(FJ_FLIP_FIRST, LOOM_EAUTH, "does not match the job key");

    /* Control: the same fake with the MAC untouched is welcomed. */
    struct end se, fe;
    struct side srv, fj;
    serve_fake(FJ_CORRECT, 10000, &srv, &fj, &se, &fe);
    cr_assert_eq(fj.ngot, 2);
    cr_assert(starts(&fj.got[1], "#WELCOME#"));
    cr_assert_eq(srv.rc, LOOM_ECLOSED, "%s", loom_err_name(srv.rc));
}

Test(auth, master_refuses_its_own_challenge_reflected, .timeout = 30)
{
    struct end se, fe;
    struct side srv, fj;
    serve_fake(FJ_REFLECT, 10000, &srv, &fj, &se, &fe);
    cr_assert_eq(srv.rc, LOOM_EPROTO, "%s", loom_err_name(srv.rc));
    cr_assert(strstr(srv.err, "reflected") != NULL, "%s", srv.err);
    cr_assert_not(sent_a_mac(&se));
}

Test(auth, master_told_failure_by_the_joiner, .timeout = 30)
{
    struct end se, fe;
    struct side srv, fj;
    serve_fake(FJ_VERDICT_FAILURE, 10000, &srv, &fj, &se, &fe);
    cr_assert_eq(srv.rc, LOOM_EAUTH, "%s", loom_err_name(srv.rc));
    cr_assert(strstr(srv.err, "rejected our response") != NULL, "%s", srv.err);
}

/* ---- fake masters against the real joiner ------------------------------ */

enum {
    FM_OVERSIZED,
    FM_NOT_A_CHALLENGE,
    FM_MD5,
    FM_NO_DIGEST,
    FM_OTHER_VERSION,
    FM_OWN_LABEL,
    FM_SHORT_NONCE,
    FM_LONG_NONCE,
    FM_EMPTY,
    FM_BAD_VERDICT,
    FM_WRONG_MAC,
    FM_CLOSE_BEFORE_VERDICT,
    FM__MALFORMED_END = FM_BAD_VERDICT, /* modes below: the challenge is bad */
};

static size_t
fake_challenge(int mode, unsigned char *b)
{
    memcpy(b, "#CHALLENGE#{sha256}loom-join-1:master", 37);
    memset(b + 37, 0x5a, LOOM__AUTH_MSG_MAX - 37);
    switch (mode) {
    case FM_OVERSIZED:
        return LOOM__AUTH_MSG_MAX + 1;
    case FM_NOT_A_CHALLENGE:
        memcpy(b, "#CHALLENGX#", 11);
        return CH_LEN;
    case FM_MD5:
        memcpy(b + 11, "{md5}", 5);
        return CH_LEN - 3;
    case FM_NO_DIGEST:
        memcpy(b + 11, "sha256", 6);
        return CH_LEN;
    case FM_OTHER_VERSION:
        memcpy(b + 19, "loom-join-2:master", 18);
        return CH_LEN;
    case FM_OWN_LABEL:
        memcpy(b + 19, "loom-join-1:joiner", 18);
        return CH_LEN;
    case FM_SHORT_NONCE:
        return CH_LEN - 1;
    case FM_LONG_NONCE:
        return CH_LEN + 1;
    case FM_EMPTY:
        return 0;
    default:
        return CH_LEN;
    }
}

static void
fake_master(struct side *s)
{
    unsigned char b[LOOM__AUTH_MSG_MAX + 1];
    size_t n = fake_challenge(s->mode, b);
    if (t_send(s->e, b, n) != LOOM_OK)
        return;
    if (fake_recv(s) != LOOM_OK) /* the response, if any */
        return;
    if (s->mode == FM_BAD_VERDICT) {
        (void)t_send(s->e, "#WELCOMe#", 9);
        return;
    }
    if (s->mode == FM_CLOSE_BEFORE_VERDICT)
        return;
    (void)t_send(s->e, "#WELCOME#", 9);
    if (fake_recv(s) != LOOM_OK) /* the joiner's challenge */
        return;
    unsigned char resp[40];
    memcpy(resp, "{sha256}", 8);
    hmac(OTHER, s->got[1].b, s->got[1].len, resp + 8); /* FM_WRONG_MAC */
    (void)t_send(s->e, resp, sizeof resp);
    (void)fake_recv(s); /* the verdict */
}

static void
join_fake(int mode, struct side *joi, struct side *fm, struct end *je, struct end *fe)
{
    connect_pair(je, fe);
    *joi = (struct side){.e = je, .key = KEY, .serve = 0};
    *fm = (struct side){.e = fe, .key = KEY, .fake = fake_master, .mode = mode};
    run_pair(joi, fm);
}

Test(auth, joiner_sends_nothing_in_reply_to_a_malformed_challenge, .timeout = 30)
{
    static const char *const why[] = {
        [FM_OVERSIZED] = "too long",
        [FM_NOT_A_CHALLENGE] = "not a challenge",
        [FM_MD5] = "digest {md5}",
        [FM_NO_DIGEST] = "no {digest}",
        [FM_OTHER_VERSION] = "protocol label 'loom-join-2:master'",
        [FM_OWN_LABEL] = "reflected",
        [FM_SHORT_NONCE] = "nonce is 31 bytes",
        [FM_LONG_NONCE] = "nonce is 33 bytes",
        [FM_EMPTY] = "not a challenge (0 bytes)",
    };
    for (int mode = 0; mode < FM__MALFORMED_END; mode++) {
        struct end je, fe;
        struct side joi, fm;
        join_fake(mode, &joi, &fm, &je, &fe);
        cr_assert_eq(joi.rc, LOOM_EPROTO, "mode %d: %s (%s)", mode, loom_err_name(joi.rc), joi.err);
        cr_assert(strstr(joi.err, why[mode]) != NULL, "mode %d: '%s' lacks '%s'", mode, joi.err,
                  why[mode]);
        cr_assert_eq(je.nsent, 0, "mode %d: the joiner answered", mode);
    }
}

Test(auth, joiner_refuses_a_bad_verdict, .timeout = 30)
{
    struct end je, fe;
    struct side joi, fm;
    join_fake(FM_BAD_VERDICT, &joi, &fm, &je, &fe);
    cr_assert_eq(joi.rc, LOOM_EPROTO, "%s", loom_err_name(joi.rc));
    cr_assert(strstr(joi.err, "verdict is malformed") != NULL, "%s", joi.err);

    join_fake(FM_CLOSE_BEFORE_VERDICT, &joi, &fm, &je, &fe);
    cr_assert_eq(joi.rc, LOOM_ECLOSED, "%s", loom_err_name(joi.rc));
    cr_assert(strstr(joi.err, "waiting for the master's verdict") != NULL, "%s", joi.err);
}

Test(auth, joiner_refuses_a_master_without_the_key, .timeout = 30)
{
    struct end je, fe;
    struct side joi, fm;
    join_fake(FM_WRONG_MAC, &joi, &fm, &je, &fe);
    cr_assert_eq(joi.rc, LOOM_EAUTH, "%s", loom_err_name(joi.rc));
    cr_assert(strstr(joi.err, "not the master that wrote the join file") != NULL, "%s", joi.err);
    cr_assert_eq(fm.ngot, 3);
    cr_assert(starts(&fm.got[2], "#FAILURE#"));
}

/* ---- a broken transport ------------------------------------------------ */

static loom_err
liar_send(void *ctx, const void *buf, size_t len)
{
    (void)ctx, (void)buf, (void)len;
    return LOOM_OK;
}

static loom_err
liar_recv(void *ctx, void *buf, size_t cap, size_t *len)
{
    (void)buf;
    int *mode = ctx;
    *len = cap + 1;
    return *mode == 0 ? LOOM_OK : LOOM_EAUTH;
}

Test(auth, a_broken_transport_is_not_trusted, .timeout = 10)
{
    int mode = 0;
    struct loom__auth_io io = {.send = liar_send, .recv = liar_recv, .ctx = &mode};
    char err[LOOM__AUTH_ERR_MAX];
    /* It claims more bytes than the cap: nothing past the cap is read. */
    loom_assert_err(loom__auth_serve(&io, KEY, err, sizeof err), LOOM_EPROTO);
    loom_assert_err(loom__auth_join(&io, KEY, err, sizeof err), LOOM_EPROTO);
    /* It returns EAUTH: only a key mismatch may be reported as EAUTH. */
    mode = 1;
    loom_assert_err(loom__auth_serve(&io, KEY, NULL, 0), LOOM_ESYS);
    loom_assert_err(loom__auth_join(&io, KEY, err, sizeof err), LOOM_ESYS);
}
