/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the join handshake's message handling
 * (framework/src/formats/auth.c), both sides, against a peer that says
 * anything. The input is the peer's messages, each a length byte and that
 * many bytes; then the peer hangs up. Neither side may crash, read past a
 * message, or ever return LOOM_OK: without the key (the peer never sees
 * our random nonce's answer in advance) no handshake can succeed. Every
 * failure is one of the documented codes and comes with a message.
 * Each message is also fed to the master's one-message-at-a-time steps
 * (gate.c's): as a response to a fresh challenge (never valid), as the
 * joiner's challenge (answered only when well formed) and as a verdict.
 */
#include "auth.h"
#include "fuzz_common.h"

struct peer {
    const uint8_t *data;
    size_t size, pos;
};

static loom_err
peer_send(void *ctx, const void *buf, size_t len)
{
    (void)ctx;
    if (len > LOOM__AUTH_MSG_MAX || (len && !buf))
        abort(); /* the handshake never sends more than it promises */
    return LOOM_OK;
}

static loom_err
peer_recv(void *ctx, void *buf, size_t cap, size_t *len)
{
    struct peer *p = ctx;
    if (p->pos >= p->size)
        return LOOM_ECLOSED;
    size_t n = p->data[p->pos++];
    if (n > p->size - p->pos)
        n = p->size - p->pos;
    const uint8_t *msg = p->data + p->pos;
    p->pos += n;
    if (n > cap)
        return LOOM_EPROTO;
    memcpy(buf, msg, n);
    *len = n;
    return LOOM_OK;
}

static void
check(loom_err e, const char *err)
{
    if (e == LOOM_OK)
        abort();
    if (e != LOOM_EAUTH && e != LOOM_EPROTO && e != LOOM_ECLOSED)
        abort();
    if (!err[0])
        abort();
}

/* The master's steps one message at a time, on every message of the input. */
static void
steps(const unsigned char key[LOOM__AUTH_KEY_LEN], const uint8_t *data, size_t size)
{
    unsigned char ch[LOOM__AUTH_CHALLENGE_LEN], resp[LOOM__AUTH_RESPONSE_LEN];
    char err[LOOM__AUTH_ERR_MAX];
    if (loom__auth_challenge(ch) != LOOM_OK)
        abort();
    for (size_t pos = 0; pos < size;) {
        size_t n = data[pos++];
        if (n > size - pos)
            n = size - pos;
        const uint8_t *msg = data + pos;
        pos += n;
        err[0] = '\0';
        check(loom__auth_check_response(key, ch, msg, n, err, sizeof err), err);
        err[0] = '\0';
        loom_err rc = loom__auth_answer(key, msg, n, resp, err, sizeof err);
        if (rc == LOOM_OK ? n != LOOM__AUTH_CHALLENGE_LEN : (rc != LOOM_EPROTO || !err[0]))
            abort(); /* answered something that is not a challenge, or no reason */
        err[0] = '\0';
        rc = loom__auth_check_verdict(msg, n, err, sizeof err);
        if (rc == LOOM_OK ? memcmp(msg, LOOM__AUTH_WELCOME, LOOM__AUTH_VERDICT_LEN) != 0 : !err[0])
            abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned char key[LOOM__AUTH_KEY_LEN] = "a fixed key for the fuzz target";
    char err[LOOM__AUTH_ERR_MAX];
    struct peer p = {data, size, 0};
    struct loom__auth_io io = {peer_send, peer_recv, &p};
    err[0] = '\0';
    check(loom__auth_serve(&io, key, err, sizeof err), err);
    p.pos = 0;
    err[0] = '\0';
    check(loom__auth_join(&io, key, err, sizeof err), err);
    steps(key, data, size);
    return 0;
}
