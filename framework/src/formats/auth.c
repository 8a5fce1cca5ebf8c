/* SPDX-License-Identifier: MIT */
/*
 * The join handshake: mutual HMAC-SHA256 challenge–response over random
 * nonces, as Python's multiprocessing.connection does it for `authkey`
 * (deliver_challenge / answer_challenge), with loom's protocol label in the
 * challenge.
 *
 * Wire format (byte strings; N = 32 random bytes, M = 32 MAC bytes):
 *
 *   challenge  "#CHALLENGE#" "{sha256}" LABEL N          69 bytes
 *              LABEL = "loom-join-1:master" in the master's challenge,
 *                      "loom-join-1:joiner" in the joiner's
 *   response   "{sha256}" M                              40 bytes
 *              M = HMAC-SHA256(key, the whole challenge message)
 *   verdict    "#WELCOME#" or "#FAILURE#"                 9 bytes
 *
 * The exchange, each line one message:
 *
 *   master -> joiner   challenge (master's label)
 *   joiner -> master   response
 *   master -> joiner   verdict   (on #FAILURE# both stop: EAUTH)
 *   joiner -> master   challenge (joiner's label)
 *   master -> joiner   response
 *   joiner -> master   verdict   (#WELCOME#: both return LOOM_OK)
 *
 * Why each rule:
 *  - The algorithm's name is inside every challenge and response, and
 *    anything but {sha256} is refused: no downgrade, and a peer of another
 *    kind fails with a message that says so rather than "wrong key".
 *  - The MAC covers the whole challenge, label included, and the label
 *    says who issued it: a response to the master's challenge is never a
 *    valid response to the joiner's, and a challenge carrying our own label
 *    (a reflected one) is refused as malformed.
 *  - The master answers a challenge only after the joiner has proved the
 *    key, so an unauthenticated peer can never get a MAC computed for a
 *    message of its choosing (no reflection, no oracle). The joiner does
 *    answer first: it trusts the join file it read, which only its user
 *    can read.
 *  - MACs are compared with CRYPTO_memcmp over all 32 bytes (constant
 *    time: no timing leak of how many leading bytes matched).
 *  - Every message has a fixed size; recv is given LOOM__AUTH_MSG_MAX as
 *    its cap and the transport rejects anything longer, so no peer can make
 *    us allocate or read more. Lengths are checked before any byte is
 *    compared.
 *  - Verdicts are sent best-effort: a refusal is reported as EAUTH/EPROTO
 *    whether or not the #FAILURE# got through.
 * Errors are told apart for the master's log: EAUTH (the key does not
 * match), EPROTO (not this protocol), or the transport's own code.
 *
 * The master's side also comes one message at a time (loom__auth_challenge
 * ... loom__auth_check_verdict), for gate.c, which runs many handshakes in
 * one thread; the checks are the same functions.
 *
 * No state lives here between calls; secrets (MACs) are wiped from the
 * stack with OPENSSL_cleanse before returning.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "auth.h"
#include "internal.h"

#define CHALLENGE       "#CHALLENGE#"
#define DIGEST          "{sha256}"
#define LABEL_MASTER    "loom-join-1:master"
#define LABEL_JOINER    "loom-join-1:joiner"
#define WELCOME         "#WELCOME#"
#define FAILURE         "#FAILURE#"
#define LIT_LEN(s)      (sizeof(s) - 1)
#define LABEL_LEN       LIT_LEN(LABEL_MASTER)
#define CHALLENGE_LEN   (LIT_LEN(CHALLENGE) + LIT_LEN(DIGEST) + LABEL_LEN + LOOM__AUTH_NONCE_LEN)
#define RESPONSE_LEN    (LIT_LEN(DIGEST) + LOOM__AUTH_MAC_LEN)
#define VERDICT_LEN     LIT_LEN(WELCOME)
#define DIGEST_NAME_MAX 32 /* longest "{name}" looked at when reporting */

_Static_assert(LIT_LEN(LABEL_MASTER) == LIT_LEN(LABEL_JOINER), "labels differ in length");
_Static_assert(LIT_LEN(WELCOME) == LIT_LEN(FAILURE), "verdicts differ in length");
_Static_assert(CHALLENGE_LEN <= LOOM__AUTH_MSG_MAX, "challenge too long");
_Static_assert(CHALLENGE_LEN == LOOM__AUTH_CHALLENGE_LEN, "auth.h's challenge length is wrong");
_Static_assert(RESPONSE_LEN == LOOM__AUTH_RESPONSE_LEN, "auth.h's response length is wrong");
_Static_assert(VERDICT_LEN == LOOM__AUTH_VERDICT_LEN, "auth.h's verdict length is wrong");

/* One side of the handshake: who we are, who the peer is, and what to say
 * when the key does not match (the master logs, the joiner tells a user). */
struct side {
    const char *peer;       /* "joiner" or "master", for messages */
    const char *my_label;   /* label in the challenges we issue */
    const char *peer_label; /* label a challenge from the peer must carry */
    const char *bad_mac;    /* the peer's response does not match the key */
    const char *refused;    /* the peer answered our response #FAILURE# */
};

static const struct side SERVE = {
    "joiner",
    LABEL_MASTER,
    LABEL_JOINER,
    "the joiner's response does not match the job key (a wrong or stale key)",
    "the joiner rejected our response: it holds another key",
};

static const struct side JOIN = {
    "master",
    LABEL_JOINER,
    LABEL_MASTER,
    "the master's response does not match the job key: it is not the master that wrote the "
    "join file",
    "the master refused our key: wrong or stale job key (is the join file from the running "
    "job?)",
};

/* Copy at most n bytes of untrusted text for a message: printable ASCII
 * kept, everything else '?', stopping at the first NUL. */
static void
printable(char *out, size_t cap, const unsigned char *in, size_t n)
{
    size_t i = 0;
    for (; i < n && i + 1 < cap && in[i] != '\0'; i++)
        out[i] = (in[i] >= ' ' && in[i] <= '~') ? (char)in[i] : '?';
    out[i] = '\0';
}

/* A transport's code, as the handshake reports it. */
static loom_err
io_code(loom_err rc)
{
    return rc == LOOM_EAUTH ? LOOM_ESYS : rc;
}

/* What a transport's code means here, for messages (loom_strerror's text
 * for ECLOSED is about queues). */
static const char *
io_text(loom_err rc)
{
    switch (rc) {
    case LOOM_ETIMEDOUT:
        return "timed out";
    case LOOM_ECLOSED:
        return "the connection closed";
    case LOOM_EPROTO:
        return "a message too long or malformed";
    default:
        return loom_strerror(rc);
    }
}

static loom_err
io_recv(const struct loom__auth_io *io, unsigned char *buf, size_t *len)
{
    *len = 0;
    loom_err rc = io->recv(io->ctx, buf, LOOM__AUTH_MSG_MAX, len);
    if (rc != LOOM_OK)
        return io_code(rc);
    if (*len > LOOM__AUTH_MSG_MAX) /* a broken transport: trust nothing */
        return LOOM_EPROTO;
    return LOOM_OK;
}

/* Send one message of the handshake; on failure say what it was
 * ("sending <what> to the <peer>: ..."). */
static loom_err
send_step(const struct side *s, const struct loom__auth_io *io, const void *msg, size_t len,
          const char *what, char *err, size_t errlen)
{
    loom_err rc = io->send(io->ctx, msg, len);
    if (rc != LOOM_OK) {
        rc = io_code(rc);
        loom__set_err(err, errlen, "sending %s to the %s: %s", what, s->peer, io_text(rc));
    }
    return rc;
}

/* Receive one message of the handshake into buf (LOOM__AUTH_MSG_MAX); on
 * failure say what was awaited ("waiting for the <peer>'s <what>: ..."). */
static loom_err
recv_step(const struct side *s, const struct loom__auth_io *io, unsigned char *buf, size_t *len,
          const char *what, char *err, size_t errlen)
{
    loom_err rc = io_recv(io, buf, len);
    if (rc != LOOM_OK)
        loom__set_err(err, errlen, "waiting for the %s's %s: %s", s->peer, what, io_text(rc));
    return rc;
}

static loom_err
mac(const unsigned char key[LOOM__AUTH_KEY_LEN], const unsigned char *msg, size_t len,
    unsigned char out[LOOM__AUTH_MAC_LEN])
{
    unsigned int outlen = 0;
    if (HMAC(EVP_sha256(), key, LOOM__AUTH_KEY_LEN, msg, len, out, &outlen) == NULL ||
        outlen != LOOM__AUTH_MAC_LEN) {
        ERR_clear_error();
        return LOOM_ESYS;
    }
    return LOOM_OK;
}

/* Parse "{name}" at the start of p[0..n): 1 and *used = its length if it is
 * {sha256}; 0 and name (printable) if it is another digest; -1 if there is
 * no "{...}" at all. */
static int
digest_prefix(const unsigned char *p, size_t n, size_t *used, char *name, size_t namecap)
{
    name[0] = '\0';
    if (n == 0 || p[0] != '{')
        return -1;
    size_t lim = n < DIGEST_NAME_MAX ? n : DIGEST_NAME_MAX;
    const unsigned char *close = memchr(p, '}', lim);
    if (close == NULL)
        return -1;
    size_t dl = (size_t)(close - p) + 1;
    if (dl == LIT_LEN(DIGEST) && memcmp(p, DIGEST, dl) == 0) {
        *used = dl;
        return 1;
    }
    printable(name, namecap, p, dl);
    return 0;
}

/* Check a response to our challenge ch: EPROTO with why, EAUTH, or OK. */
static loom_err
check_response(const unsigned char key[LOOM__AUTH_KEY_LEN], const unsigned char *ch,
               const unsigned char *resp, size_t len, char *why, size_t whylen)
{
    char name[DIGEST_NAME_MAX + 1];
    size_t used = 0;
    int d = digest_prefix(resp, len, &used, name, sizeof name);
    if (d < 0) {
        loom__set_err(why, whylen, "not a {digest} response (%zu bytes)", len);
        return LOOM_EPROTO;
    }
    if (d == 0) {
        loom__set_err(why, whylen, "it uses digest %s; loom accepts only " DIGEST, name);
        return LOOM_EPROTO;
    }
    if (len != RESPONSE_LEN) {
        loom__set_err(why, whylen, "its MAC is %zu bytes, expected %d", len - used,
                      LOOM__AUTH_MAC_LEN);
        return LOOM_EPROTO;
    }
    unsigned char want[LOOM__AUTH_MAC_LEN];
    loom_err rc = mac(key, ch, CHALLENGE_LEN, want);
    if (rc == LOOM_OK && CRYPTO_memcmp(want, resp + used, LOOM__AUTH_MAC_LEN) != 0)
        rc = LOOM_EAUTH;
    OPENSSL_cleanse(want, sizeof want);
    if (rc == LOOM_ESYS)
        loom__set_err(why, whylen, "HMAC-SHA256 failed in libcrypto");
    return rc;
}

/* Check a challenge from the peer: OK, or EPROTO with why. */
static loom_err
check_challenge(const struct side *s, const unsigned char *ch, size_t len, char *why, size_t whylen)
{
    if (len < LIT_LEN(CHALLENGE) || memcmp(ch, CHALLENGE, LIT_LEN(CHALLENGE)) != 0) {
        loom__set_err(why, whylen, "not a challenge (%zu bytes)", len);
        return LOOM_EPROTO;
    }
    const unsigned char *p = ch + LIT_LEN(CHALLENGE);
    size_t n = len - LIT_LEN(CHALLENGE), used = 0;
    char name[DIGEST_NAME_MAX + 1];
    int d = digest_prefix(p, n, &used, name, sizeof name);
    if (d < 0) {
        loom__set_err(why, whylen, "no {digest} after " CHALLENGE);
        return LOOM_EPROTO;
    }
    if (d == 0) {
        loom__set_err(why, whylen, "it asks for digest %s; loom speaks only " DIGEST, name);
        return LOOM_EPROTO;
    }
    p += used;
    n -= used;
    if (n < LABEL_LEN || memcmp(p, s->peer_label, LABEL_LEN) != 0) {
        char got[LABEL_LEN + 1];
        printable(got, sizeof got, p, n < LABEL_LEN ? n : LABEL_LEN);
        loom__set_err(why, whylen, "protocol label '%s', expected '%s'%s", got, s->peer_label,
                      strcmp(got, s->my_label) == 0 ? " (our own challenge reflected back)" : "");
        return LOOM_EPROTO;
    }
    if (n - LABEL_LEN != LOOM__AUTH_NONCE_LEN) {
        loom__set_err(why, whylen, "its nonce is %zu bytes, expected %d", n - LABEL_LEN,
                      LOOM__AUTH_NONCE_LEN);
        return LOOM_EPROTO;
    }
    return LOOM_OK;
}

/* Steps 1-3 from the issuer's side: challenge the peer, check its
 * response, send the verdict. */
static loom_err
deliver_challenge(const struct side *s, const struct loom__auth_io *io,
                  const unsigned char key[LOOM__AUTH_KEY_LEN], char *err, size_t errlen)
{
    unsigned char ch[CHALLENGE_LEN], buf[LOOM__AUTH_MSG_MAX];
    unsigned char *p = ch;
    size_t len = 0;
    char why[LOOM__AUTH_ERR_MAX / 2];
    loom_err rc;

    memcpy(p, CHALLENGE, LIT_LEN(CHALLENGE));
    p += LIT_LEN(CHALLENGE);
    memcpy(p, DIGEST, LIT_LEN(DIGEST));
    p += LIT_LEN(DIGEST);
    memcpy(p, s->my_label, LABEL_LEN);
    p += LABEL_LEN;
    rc = loom__auth_random(p, LOOM__AUTH_NONCE_LEN);
    if (rc != LOOM_OK) {
        loom__set_err(err, errlen, "no random nonce: the system's random generator failed");
        goto cleanup;
    }
    rc = send_step(s, io, ch, sizeof ch, "our challenge", err, errlen);
    if (rc != LOOM_OK)
        goto cleanup;
    rc = recv_step(s, io, buf, &len, "response", err, errlen);
    if (rc != LOOM_OK)
        goto refuse;
    rc = check_response(key, ch, buf, len, why, sizeof why);
    if (rc == LOOM_EPROTO)
        loom__set_err(err, errlen, "the %s's response is malformed: %s", s->peer, why);
    else if (rc == LOOM_EAUTH)
        loom__set_err(err, errlen, "%s", s->bad_mac);
    else if (rc != LOOM_OK)
        loom__set_err(err, errlen, "%s", why);
    if (rc != LOOM_OK)
        goto refuse;
    rc = send_step(s, io, WELCOME, VERDICT_LEN, WELCOME, err, errlen);
    goto cleanup;

refuse:
    /* Best effort: the peer may be gone; our result is rc either way. */
    if (rc != LOOM_ECLOSED)
        (void)io->send(io->ctx, FAILURE, VERDICT_LEN);
cleanup:
    return rc;
}

/* Steps 1-3 from the answering side: check the peer's challenge, answer
 * it, read the verdict. */
static loom_err
answer_challenge(const struct side *s, const struct loom__auth_io *io,
                 const unsigned char key[LOOM__AUTH_KEY_LEN], char *err, size_t errlen)
{
    unsigned char buf[LOOM__AUTH_MSG_MAX], resp[RESPONSE_LEN];
    size_t len = 0;
    char why[LOOM__AUTH_ERR_MAX / 2];
    loom_err rc;

    rc = recv_step(s, io, buf, &len, "challenge", err, errlen);
    if (rc != LOOM_OK)
        goto cleanup;
    /* A malformed challenge gets no answer at all: nothing is computed
     * over bytes we did not check. */
    rc = check_challenge(s, buf, len, why, sizeof why);
    if (rc != LOOM_OK) {
        loom__set_err(err, errlen, "the %s's challenge is malformed: %s", s->peer, why);
        goto cleanup;
    }
    memcpy(resp, DIGEST, LIT_LEN(DIGEST));
    rc = mac(key, buf, len, resp + LIT_LEN(DIGEST));
    if (rc != LOOM_OK) {
        loom__set_err(err, errlen, "HMAC-SHA256 failed in libcrypto");
        goto cleanup;
    }
    rc = send_step(s, io, resp, sizeof resp, "our response", err, errlen);
    if (rc != LOOM_OK)
        goto cleanup;
    rc = recv_step(s, io, buf, &len, "verdict", err, errlen);
    if (rc != LOOM_OK)
        goto cleanup;
    if (len == VERDICT_LEN && memcmp(buf, WELCOME, VERDICT_LEN) == 0) {
        rc = LOOM_OK;
    } else if (len == VERDICT_LEN && memcmp(buf, FAILURE, VERDICT_LEN) == 0) {
        rc = LOOM_EAUTH;
        loom__set_err(err, errlen, "%s", s->refused);
    } else {
        rc = LOOM_EPROTO;
        loom__set_err(err, errlen,
                      "the %s's verdict is malformed (%zu bytes, neither " WELCOME " nor " FAILURE
                      ")",
                      s->peer, len);
    }
cleanup:
    OPENSSL_cleanse(resp, sizeof resp);
    return rc;
}

loom_err
loom__auth_random(void *buf, size_t n)
{
    LOOM_ASSERT(buf != NULL || n == 0);
    unsigned char *p = buf;
    while (n > 0) {
        int chunk = n > (1u << 30) ? (1 << 30) : (int)n;
        if (RAND_bytes(p, chunk) != 1) {
            ERR_clear_error();
            OPENSSL_cleanse(buf, (size_t)(p - (unsigned char *)buf) + n);
            return LOOM_ESYS;
        }
        p += chunk;
        n -= (size_t)chunk;
    }
    return LOOM_OK;
}

loom_err
loom__auth_serve(const struct loom__auth_io *io, const unsigned char key[LOOM__AUTH_KEY_LEN],
                 char *err, size_t errlen)
{
    LOOM_ASSERT(io != NULL && io->send != NULL && io->recv != NULL && key != NULL);
    loom__set_err(err, errlen, "authenticated");
    loom_err rc = deliver_challenge(&SERVE, io, key, err, errlen);
    if (rc == LOOM_OK)
        rc = answer_challenge(&SERVE, io, key, err, errlen);
    return rc;
}

loom_err
loom__auth_join(const struct loom__auth_io *io, const unsigned char key[LOOM__AUTH_KEY_LEN],
                char *err, size_t errlen)
{
    LOOM_ASSERT(io != NULL && io->send != NULL && io->recv != NULL && key != NULL);
    loom__set_err(err, errlen, "authenticated");
    loom_err rc = answer_challenge(&JOIN, io, key, err, errlen);
    if (rc == LOOM_OK)
        rc = deliver_challenge(&JOIN, io, key, err, errlen);
    return rc;
}

/* ---- the master's side one message at a time (gate.c) ------------------ */

loom_err
loom__auth_challenge(unsigned char ch[LOOM__AUTH_CHALLENGE_LEN])
{
    unsigned char *p = ch;
    memcpy(p, CHALLENGE, LIT_LEN(CHALLENGE));
    p += LIT_LEN(CHALLENGE);
    memcpy(p, DIGEST, LIT_LEN(DIGEST));
    p += LIT_LEN(DIGEST);
    memcpy(p, SERVE.my_label, LABEL_LEN);
    p += LABEL_LEN;
    return loom__auth_random(p, LOOM__AUTH_NONCE_LEN);
}

loom_err
loom__auth_check_response(const unsigned char key[LOOM__AUTH_KEY_LEN],
                          const unsigned char ch[LOOM__AUTH_CHALLENGE_LEN],
                          const unsigned char *resp, size_t len, char *err, size_t errlen)
{
    char why[LOOM__AUTH_ERR_MAX / 2];
    loom_err rc = check_response(key, ch, resp, len, why, sizeof why);
    if (rc == LOOM_EPROTO)
        loom__set_err(err, errlen, "the joiner's response is malformed: %s", why);
    else if (rc == LOOM_EAUTH)
        loom__set_err(err, errlen, "%s", SERVE.bad_mac);
    else if (rc != LOOM_OK)
        loom__set_err(err, errlen, "%s", why);
    return rc;
}

loom_err
loom__auth_answer(const unsigned char key[LOOM__AUTH_KEY_LEN], const unsigned char *ch, size_t len,
                  unsigned char resp[LOOM__AUTH_RESPONSE_LEN], char *err, size_t errlen)
{
    char why[LOOM__AUTH_ERR_MAX / 2];
    if (check_challenge(&SERVE, ch, len, why, sizeof why) != LOOM_OK) {
        loom__set_err(err, errlen, "the joiner's challenge is malformed: %s", why);
        return LOOM_EPROTO;
    }
    memcpy(resp, DIGEST, LIT_LEN(DIGEST));
    if (mac(key, ch, len, resp + LIT_LEN(DIGEST)) != LOOM_OK) {
        OPENSSL_cleanse(resp, LOOM__AUTH_RESPONSE_LEN);
        loom__set_err(err, errlen, "HMAC-SHA256 failed in libcrypto");
        return LOOM_ESYS;
    }
    return LOOM_OK;
}

loom_err
loom__auth_check_verdict(const unsigned char *v, size_t len, char *err, size_t errlen)
{
    if (len == VERDICT_LEN && memcmp(v, WELCOME, VERDICT_LEN) == 0)
        return LOOM_OK;
    if (len == VERDICT_LEN && memcmp(v, FAILURE, VERDICT_LEN) == 0) {
        loom__set_err(err, errlen, "%s", SERVE.refused);
        return LOOM_EAUTH;
    }
    loom__set_err(
        err, errlen,
        "the joiner's verdict is malformed (%zu bytes, neither " WELCOME " nor " FAILURE ")", len);
    return LOOM_EPROTO;
}
