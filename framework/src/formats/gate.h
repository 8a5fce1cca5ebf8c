/* SPDX-License-Identifier: MIT */
/*
 * The join gate (internal): a plain TCP listener in front of a serving
 * master's MPI connections. A joiner proves it holds the job's key here
 * (auth.h's handshake, the master's side one message at a time) before the
 * master opens anything of MPI for it; only then does it get a one-time
 * MPI port and a ticket (the grant). Strangers with network reach meet
 * only this: bounded messages, a deadline on every step, a bound on
 * handshakes at once, and a closed socket when refused. gate.c has the
 * wire format.
 *
 * No MPI here: the owner's `issue` callback opens the port. The gate runs
 * in whichever thread calls loom__gate_step (one at a time); the joining
 * side's loom__gate_knock blocks in its caller's thread. Any number of
 * knocks may run at once.
 */
#ifndef LOOM_GATE_H
#define LOOM_GATE_H

#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "loom/error.h"

#define LOOM__GATE_TICKET_LEN 32   /* random bytes a granted joiner shows over MPI */
#define LOOM__GATE_PORT_MAX   1024 /* an MPI port name, with the NUL */
#define LOOM__GATE_ADDR_MAX   300  /* "host:port", with the NUL */

/* Limits of a gate; a zero field takes the default in brackets. */
struct loom__gate_opts {
    int max_handshakes; /* connections in a handshake at once [256]; more are closed at once */
    int step_ms;        /* deadline of each step of a handshake [5000] */
    int grant_ms;       /* a proven joiner waits this long for a port [10000] */
};

/* What the owner answers for a proven joiner. */
enum loom__gate_verdict {
    LOOM__GATE_GRANTED = 1, /* port and ticket filled: the joiner may connect */
    LOOM__GATE_ENDED = 2,   /* the job is over: the joiner is told so */
    LOOM__GATE_BUSY = 3,    /* not now: asked again on later steps until grant_ms */
};

/* The owner's callback for a proven joiner: fill port (NUL-terminated,
 * at most LOOM__GATE_PORT_MAX with the NUL) and ticket and return
 * LOOM__GATE_GRANTED, or return ENDED or BUSY. Runs in the gate's thread;
 * must not block for long. */
typedef enum loom__gate_verdict (*loom__gate_issue_fn)(void *ctx, char *port,
                                                       unsigned char *ticket);

/* Counters since the gate opened, for logs and tests. */
struct loom__gate_stats {
    uint64_t accepted;  /* connections accepted */
    uint64_t granted;   /* proven joiners given a port */
    uint64_t ended;     /* proven joiners told the job ended */
    uint64_t bad_proof; /* refused: wrong key, malformed or out-of-order messages */
    uint64_t oversized; /* refused: a message longer than the step allows */
    uint64_t timed_out; /* refused: a step's deadline passed */
    uint64_t closed;    /* the peer closed or reset before the end */
    uint64_t busy;      /* closed at once: max_handshakes were in progress */
    uint64_t no_port;   /* proven, but no port within grant_ms */
    int live;           /* connections open now */
};

struct loom__gate;

/*
 * Listen on every address of this host (IPv6 and IPv4, or IPv4 only), TCP
 * port `port` (0: any free one), for handshakes against key (copied, and
 * wiped at close). o may be NULL (defaults). *out gets the gate.
 * Errors: LOOM_ESYS (socket, bind, listen: err says which), LOOM_ENOMEM.
 */
loom_err loom__gate_open(int port, const unsigned char key[LOOM__AUTH_KEY_LEN],
                         const struct loom__gate_opts *o, loom__gate_issue_fn issue, void *ctx,
                         struct loom__gate **out, char *err, size_t errlen);

/* The TCP port the gate listens on. */
int loom__gate_port(const struct loom__gate *g);

/*
 * One round: wait up to max_wait_ms (less when a deadline falls sooner)
 * for connections and messages, then move every handshake on, refusing
 * those that broke a rule (the socket is closed at once) and asking
 * `issue` for the proven ones. Returns LOOM_OK, or LOOM_ESYS when poll
 * itself failed (the caller may call again).
 */
loom_err loom__gate_step(struct loom__gate *g, int max_wait_ms);

/* Copy the counters into st (from the gate's thread, or after it). */
void loom__gate_stats(const struct loom__gate *g, struct loom__gate_stats *st);

/* Close every connection and the listener, wipe the key, free g (NULL: no-op). */
void loom__gate_close(struct loom__gate *g);

/* What a proven joiner is given. */
struct loom__gate_grant {
    int verdict;                                 /* enum loom__gate_verdict */
    char port[LOOM__GATE_PORT_MAX];              /* when GRANTED */
    unsigned char ticket[LOOM__GATE_TICKET_LEN]; /* when GRANTED */
};

/*
 * Joining side: connect to addr ("host:port", host a name or an address,
 * IPv6 in brackets), prove key (loom__auth_join) and read the grant, all
 * within timeout_ms. Returns LOOM_OK with *gr filled (verdict GRANTED or
 * ENDED), or:
 *   LOOM_EINVAL     addr is not host:port
 *   LOOM_ENOTFOUND  the host name does not resolve
 *   LOOM_ECLOSED    nobody listens there (connection refused), or the gate
 *                   closed the connection (busy, or the master is gone)
 *   LOOM_ETIMEDOUT  no answer in time
 *   LOOM_EAUTH      the key did not match (either way)
 *   LOOM_EPROTO     the peer is not a loom gate, or its grant is malformed
 *   LOOM_ESYS       a system call failed
 * err gets a sentence for the user. Blocks; any thread.
 */
loom_err loom__gate_knock(const char *addr, const unsigned char key[LOOM__AUTH_KEY_LEN],
                          int timeout_ms, struct loom__gate_grant *gr, char *err, size_t errlen);

#endif /* LOOM_GATE_H */
