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
 * reorder; tests/unit/test_error.c checks names and messages are unique. */
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
    XX(ENOFUNC, "no task function of that name is registered")

/** Error codes returned by loom functions. #LOOM_OK is 0, errors are > 0. */
typedef enum loom_err {
#define LOOM__ERR_ENUM(name, msg) LOOM_##name,
    LOOM_ERROR_MAP(LOOM__ERR_ENUM)
#undef LOOM__ERR_ENUM
        LOOM__ERR_COUNT /**< number of codes; not an error code */
} loom_err;

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

#endif /* LOOM_ERROR_H */
