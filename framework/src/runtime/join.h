/* SPDX-License-Identifier: MIT */
/*
 * Workers that join a running job (see join.c): the master's acceptor and
 * the joining side's handshake.
 */
#ifndef LOOM_JOIN_H
#define LOOM_JOIN_H

#include <mpi.h>
#include <stdint.h>

#include "fingerprint.h"
#include "loom/error.h"

/* A joined job that passed the handshake, waiting to be adopted by the
 * master's progress thread: its ranks are remote ranks 0..n-1 of comm. */
struct loom__arrival {
    MPI_Comm comm;
    int n;
    long pid;
    char host[64];
    struct loom__arrival *next;
};

struct loom__acceptor;

/* Master: open the join gate (TCP, formats/gate.h), write DIR/loom.join
 * (the gate's address, a fresh key) and start the gate's thread, which
 * authenticates joiners and opens a one-time MPI port for each that proved
 * the key; the accept threads check and queue them. */
loom_err loom__acceptor_start(const char *dir, const struct loom__fingerprint *fp,
                              struct loom__acceptor **out);
/* Progress thread: the arrivals since the last call (a list), or NULL.
 * Cheap when there are none (one atomic load). */
struct loom__arrival *loom__acceptor_take(struct loom__acceptor *a);
/* Progress thread: tell an arrival's ranks they are workers base..base+n-1
 * (ok) or that the job has ended (!ok, and the arrival is freed). */
void loom__arrival_welcome(struct loom__arrival *j, int ok, int base, int64_t heartbeat_ns,
                           int64_t lost_ns);
/* Master at stop: refuse joins from now on (the gate tells proven joiners
 * the job ended), refuse arrivals not adopted, remove the join file. The
 * gate thread runs on, and an accept thread may stay blocked in
 * MPI_Comm_accept (MPI has no way to interrupt it); they touch nothing of
 * the master's but the acceptor. */
void loom__acceptor_stop(struct loom__acceptor *a);

/* Joining side, collective over `local` (the joining job's ranks): read the
 * join file in dir and prove the key at the gate (rank 0), connect to the
 * granted port, introduce with the ticket, get a place. On success
 * *inter is the intercommunicator to the master (remote rank 0) and *rank
 * this process's worker rank in the job. */
struct loom__join_place {
    MPI_Comm inter;
    int rank;
    int size; /* ranks known to the master when it welcomed us */
    int64_t heartbeat_ns, lost_ns;
};
loom_err loom__join(MPI_Comm local, const char *dir, int timeout_ms,
                    const struct loom__fingerprint *fp, struct loom__join_place *out);

#endif
