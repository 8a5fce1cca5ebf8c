/* SPDX-License-Identifier: MIT */
/**
 * \file loom/error.h
 * \brief loom's error codes: one enum generated from one table.
 *
 * Every fallible loom function returns a ::loom_err; results come back
 * through out-parameters. Codes are append-only: a retired code keeps its
 * slot so numbers never change meaning between versions.
 */
#ifndef LOOM_ERROR_H
#define LOOM_ERROR_H

#include "loom/common.h"

/* Checklist when adding a code: append it at the end of the table, never
 * reorder; tests/unit/test_error.c checks names and messages are unique;
 * document the new value with a \var block below the enum (the api_reference
 * test fails otherwise). */
/**
 * \brief The table every error code is generated from: `XX(NAME, message)`
 *        for each code, in numeric order from #LOOM_OK = 0.
 * \param XX a macro taking the code's name without the `LOOM_` prefix and
 *           its message (the text loom_strerror() returns).
 */
#define LOOM_ERROR_MAP(XX)                                                                         \
    XX(OK, "success")                                                                              \
    XX(EINVAL, "invalid argument")                                                                 \
    XX(ENOMEM, "out of memory")                                                                    \
    XX(ETIMEDOUT, "timed out")                                                                     \
    XX(ECLOSED, "closed: no further submissions are accepted")                                     \
    XX(EFULL, "queue is full")                                                                     \
    XX(ECANCELED, "canceled before it ran")                                                        \
    XX(ENOTFOUND, "command not found")                                                             \
    XX(ENOEXEC, "command cannot be executed")                                                      \
    XX(ESYS, "system call failed")                                                                 \
    XX(ECONFIG, "invalid configuration")                                                           \
    XX(ESTATE, "operation not valid in the current state")                                         \
    XX(EDEADLK, "operation would deadlock")                                                        \
    XX(ERANGE, "value out of range")                                                               \
    XX(EMPI, "MPI error")                                                                          \
    XX(EDRAINED, "closed and drained: nothing more will arrive")                                   \
    XX(EPROTO, "malformed message")                                                                \
    XX(EMISMATCH, "ranks disagree: different binaries or task registrations")                      \
    XX(ENOFUNC, "no task function of that name is registered")                                     \
    XX(EAUTH, "authentication failed: wrong or stale job key")

/**
 * \brief Error codes returned by loom functions. #LOOM_OK is 0, errors are > 0.
 *
 * A function's contract lists the codes it can return; the meaning of each
 * is below. Turn one into text with loom_strerror() or loom_err_name().
 */
typedef enum loom_err {
#define LOOM__ERR_ENUM(name, msg) LOOM_##name,
    LOOM_ERROR_MAP(LOOM__ERR_ENUM)
#undef LOOM__ERR_ENUM
        LOOM__ERR_COUNT /**< number of codes; not an error code */
} loom_err;

/** \var LOOM_OK
 *  Success (0). */
/** \var LOOM_EINVAL
 *  An argument is invalid: NULL where a value is needed, a bad name or size. */
/** \var LOOM_ENOMEM
 *  Memory could not be allocated; nothing was changed. */
/** \var LOOM_ETIMEDOUT
 *  The timeout passed before the awaited event (a result, a lock, an item). */
/** \var LOOM_ECLOSED
 *  The pool, queue or job is closed: no further submissions are accepted. */
/** \var LOOM_EFULL
 *  A bounded queue (pool submissions, a named queue, the job's outstanding
 *  tasks) stayed full for the whole timeout. */
/** \var LOOM_ECANCELED
 *  A pool task was canceled (its pool destroyed) before it started. */
/** \var LOOM_ENOTFOUND
 *  A command's program or working directory does not exist. */
/** \var LOOM_ENOEXEC
 *  A command's program exists but cannot be executed. */
/** \var LOOM_ESYS
 *  A system call failed (threads, pipes, processes); the log says which. */
/** \var LOOM_ECONFIG
 *  A setting is invalid: syntax, unknown key, wrong type or out of range;
 *  loom_config_error() names the file and line, variable or option. */
/** \var LOOM_ESTATE
 *  The call is not valid now: a master-only call on a worker, before
 *  loom_job_start(), after the job ended, MPI not initialised. */
/** \var LOOM_EDEADLK
 *  The call would wait for the calling thread itself (waiting on a pool from
 *  one of its own threads). */
/** \var LOOM_ERANGE
 *  A value is out of range: a payload above `job.max_payload`, too many
 *  keys or registered functions. */
/** \var LOOM_EMPI
 *  An MPI call failed; the log has MPI's error string. */
/** \var LOOM_EDRAINED
 *  Closed and drained: nothing more will arrive (a named queue, or the job's
 *  results when no task is outstanding). */
/** \var LOOM_EPROTO
 *  A received message was malformed; it was dropped. */
/** \var LOOM_EMISMATCH
 *  Ranks disagree (different binaries or task registrations), or a resumed
 *  journal has another task under this id. */
/** \var LOOM_ENOFUNC
 *  No task function of that name is registered. */
/** \var LOOM_EAUTH
 *  Authentication failed: a peer joining a running job (or the master it
 *  joined) could not prove it holds the job's key, e.g. a join file of an
 *  earlier job. */

/**
 * \brief Human-readable description of an error code.
 * \param[in] err any value; unknown values give "unknown error".
 * \return a static string (never NULL). Cannot fail, never blocks, any thread.
 */
LOOM_EXTERN const char *loom_strerror(loom_err err);

/**
 * \brief Symbolic name of an error code ("LOOM_ETIMEDOUT").
 * \param[in] err any value; unknown values give "LOOM_E?".
 * \return a static string (never NULL). Cannot fail, never blocks, any thread.
 */
LOOM_EXTERN const char *loom_err_name(loom_err err);

/**
 * \brief What the calling thread's last failed loom call was about, with
 *        its specifics: which name, which size against which limit, which
 *        rule ("no task function named \"sqr\" is registered (2 are: ...)").
 *
 * Every loom function that returns a ::loom_err other than #LOOM_OK sets
 * it, on the thread that called it, before returning; where there is
 * nothing more specific to say it is the code's loom_strerror() text. A
 * successful call does not clear it (as errno), so read it right after the
 * call that failed. Each thread has its own: a failure on one thread never
 * changes what another reads.
 * \return a string owned by loom, valid on this thread until the next loom
 *         call on this thread that fails; "no loom call has failed on this
 *         thread" before any. Never NULL. Cannot fail, never blocks, any
 *         thread.
 */
LOOM_EXTERN const char *loom_last_error(void);

#endif /* LOOM_ERROR_H */
