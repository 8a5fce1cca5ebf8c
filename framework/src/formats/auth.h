/* SPDX-License-Identifier: MIT */
/*
 * The join handshake (internal): a worker started separately proves to a
 * running master, and the master to it, that both hold the job's key — the
 * role `authkey` plays in Python's multiprocessing.connection, with the
 * same mutual challenge–response (auth.c has the wire format and why each
 * check is there).
 *
 * Transport-agnostic: the caller moves whole messages through a
 * loom__auth_io (an MPI intercommunicator, a socket, or a test's pipe).
 * Nothing here calls MPI, allocates, or keeps state between calls, so two
 * handshakes may run at once in different threads.
 *
 * Keys are LOOM__AUTH_KEY_LEN raw bytes from loom__auth_random(); the
 * caller owns them (and should wipe them when the job ends). Crypto is
 * OpenSSL's libcrypto: HMAC-SHA256, RAND_bytes, CRYPTO_memcmp.
 */
#ifndef LOOM_AUTH_H
#define LOOM_AUTH_H

#include <stddef.h>

#include "loom/error.h"

#define LOOM__AUTH_KEY_LEN       32  /* raw key bytes */
#define LOOM__AUTH_NONCE_LEN     32  /* random bytes in each challenge */
#define LOOM__AUTH_MAC_LEN       32  /* HMAC-SHA256 */
#define LOOM__AUTH_MSG_MAX       256 /* no handshake message is longer */
#define LOOM__AUTH_ERR_MAX       256 /* room for any error message of this module */
#define LOOM__AUTH_CHALLENGE_LEN 69  /* a challenge message */
#define LOOM__AUTH_RESPONSE_LEN  40  /* a response message */
#define LOOM__AUTH_VERDICT_LEN   9   /* "#WELCOME#" or "#FAILURE#" */
#define LOOM__AUTH_WELCOME       "#WELCOME#"
#define LOOM__AUTH_FAILURE       "#FAILURE#"

/*
 * How the handshake moves messages. Both callbacks block, each up to a
 * deadline the transport enforces (the handshake has none of its own), and
 * return LOOM_OK or the error the handshake then returns unchanged:
 *   LOOM_ETIMEDOUT  the deadline passed
 *   LOOM_ECLOSED    the peer went away (closed, disconnected)
 *   LOOM_EPROTO     recv: the message is longer than cap (it is dropped,
 *                   never copied past cap)
 *   LOOM_ESYS, LOOM_EMPI, LOOM_ENOMEM  the transport itself failed
 * (a callback must not return LOOM_EAUTH: that is reported as LOOM_ESYS, so
 * that EAUTH always means "the key did not match").
 */
struct loom__auth_io {
    /* Send len (<= LOOM__AUTH_MSG_MAX) bytes as one message. */
    loom_err (*send)(void *ctx, const void *buf, size_t len);
    /* Receive one message of at most cap bytes into buf; *len gets its
     * length. A message longer than cap is LOOM_EPROTO. */
    loom_err (*recv)(void *ctx, void *buf, size_t cap, size_t *len);
    void *ctx; /* passed to both, owned by the caller */
};

/*
 * Fill buf with n bytes from the operating system's CSPRNG (OpenSSL
 * RAND_bytes). For keys, nonces and job ids.
 * Errors: LOOM_ESYS (the generator failed or is not seeded; buf is then
 * zeroed, never left half random). Any thread; does not block in practice.
 */
loom_err loom__auth_random(void *buf, size_t n);

/*
 * The master's side of the handshake on a freshly accepted connection.
 * Challenges the peer first and answers the peer's challenge only once the
 * peer has proved the key (so it can never be used as an oracle), then
 * waits for the peer's verdict. Returns:
 *   LOOM_OK         both sides proved the key
 *   LOOM_EAUTH      the peer's response does not match key (a wrong or
 *                   stale key: it was told #FAILURE#), or the peer rejected
 *                   our response
 *   LOOM_EPROTO     the peer sent something that is not this protocol:
 *                   garbage, truncated, too long, another digest or
 *                   protocol version (told #FAILURE# where it got that far)
 *   transport codes as listed for loom__auth_io (ETIMEDOUT, ECLOSED, ...)
 * err (may be NULL) gets one line saying what happened, for the master's
 * log, e.g. "peer's response does not match the job key". Never contains
 * key material. Blocks in io; any thread.
 */
loom_err loom__auth_serve(const struct loom__auth_io *io,
                          const unsigned char key[LOOM__AUTH_KEY_LEN], char *err, size_t errlen);

/*
 * The joining side: answers the master's challenge, then challenges the
 * master and tells it #WELCOME# or #FAILURE#. Returns as loom__auth_serve:
 *   LOOM_EAUTH   the master refused our key (wrong or stale join file), or
 *                the master could not prove the key (not the master that
 *                wrote the join file)
 *   LOOM_EPROTO  the peer does not speak this protocol (we sent nothing
 *                in reply to a malformed challenge)
 *   transport codes.
 * err (may be NULL) gets a sentence for the user, e.g. "the master refused
 * our key: wrong or stale job key (is the join file from the running job?)".
 * Blocks in io; any thread.
 */
loom_err loom__auth_join(const struct loom__auth_io *io,
                         const unsigned char key[LOOM__AUTH_KEY_LEN], char *err, size_t errlen);

/*
 * The master's side one message at a time, for a caller that runs many
 * handshakes in one thread (gate.c) and moves the bytes itself. The order is
 * loom__auth_serve's: send a challenge, check the response, send the
 * verdict (LOOM__AUTH_WELCOME, or LOOM__AUTH_FAILURE and stop), answer the
 * joiner's challenge, check its verdict.
 */

/* A fresh challenge with the master's label and a random nonce.
 * Errors: LOOM_ESYS (no randomness). */
loom_err loom__auth_challenge(unsigned char ch[LOOM__AUTH_CHALLENGE_LEN]);

/* Check the joiner's response resp[0..len) to our challenge ch: LOOM_OK,
 * LOOM_EAUTH (another key), LOOM_EPROTO (not a response of this protocol),
 * LOOM_ESYS (libcrypto failed); err gets a line for the log. Constant time
 * in the MAC's bytes. */
loom_err loom__auth_check_response(const unsigned char key[LOOM__AUTH_KEY_LEN],
                                   const unsigned char ch[LOOM__AUTH_CHALLENGE_LEN],
                                   const unsigned char *resp, size_t len, char *err, size_t errlen);

/* Answer the joiner's challenge ch[0..len) into resp. Call only after the
 * joiner proved the key (no oracle). LOOM_EPROTO for a malformed
 * challenge (nothing is computed over it), LOOM_ESYS; err says why. */
loom_err loom__auth_answer(const unsigned char key[LOOM__AUTH_KEY_LEN], const unsigned char *ch,
                           size_t len, unsigned char resp[LOOM__AUTH_RESPONSE_LEN], char *err,
                           size_t errlen);

/* The joiner's verdict on our answer: LOOM_OK (#WELCOME#), LOOM_EAUTH
 * (#FAILURE#), LOOM_EPROTO (anything else); err says why. */
loom_err loom__auth_check_verdict(const unsigned char *v, size_t len, char *err, size_t errlen);

#endif /* LOOM_AUTH_H */
