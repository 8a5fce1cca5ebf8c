/* SPDX-License-Identifier: MIT */
/**
 * \file loom/log.h
 * \brief Leveled logging to stderr.
 *
 * One line per call, in the shape
 *
 *     2026-11-26T21:14:03.123Z INFO  host=node1 rank=2 thread=Worker-3 | message
 *
 * (`rank=-` until a rank is known). Each line is formatted in the calling
 * thread and written with a single write(2) under a lock, so whole lines
 * never interleave between threads. The level comes from the `log.level`
 * setting (config file, `LOOM_LOG_LEVEL`, `--log-level`); before any config
 * is applied, `LOOM_LOG_LEVEL` is read from the environment on first use.
 */
#ifndef LOOM_LOG_H
#define LOOM_LOG_H

#include "loom/common.h"
#include "loom/error.h"

/**
 * \brief Severity, most severe first. A level shows itself and everything
 *        above; the default is #LOOM_LOG_INFO.
 */
typedef enum loom_log_level {
    /** Something failed: a task, a job, a resource. Always shown. */
    LOOM_LOG_ERROR = 0,
    /** Something is wrong but loom carries on (an oversized pool). */
    LOOM_LOG_WARN = 1,
    /** Start-up, shutdown and progress a user wants to see. */
    LOOM_LOG_INFO = 2,
    /** What a developer needs to follow a job (batches, credits). */
    LOOM_LOG_DEBUG = 3,
    /** Every message and state change; very verbose. */
    LOOM_LOG_TRACE = 4
} loom_log_level;

/**
 * \brief Set the process-wide level.
 * \param level the new level; messages less severe are dropped.
 * \note Cannot fail, never blocks. Any thread; takes effect at once for
 *       every thread.
 */
LOOM_EXTERN void loom_log_set_level(loom_log_level level);

/**
 * \brief The current process-wide level.
 * \return the level (from `LOOM_LOG_LEVEL` on first use if never set).
 *         Never blocks, any thread.
 */
LOOM_EXTERN loom_log_level loom_log_get_level(void);

/**
 * \brief Whether a message at `level` would be written.
 * \param level the message's severity.
 * \return 1 if it would, else 0. Cheap (one atomic load), never blocks,
 *         any thread.
 */
LOOM_EXTERN int loom_log_enabled(loom_log_level level);

/**
 * \brief Parse "error", "warn", "info", "debug" or "trace" (any case).
 * \param[in]  text the name; NULL gives #LOOM_EINVAL.
 * \param[out] out  the level, set only on #LOOM_OK.
 * \return #LOOM_OK, or #LOOM_EINVAL for anything else (out untouched).
 * \note Pure: never blocks, any thread.
 */
LOOM_EXTERN loom_err loom_log_level_parse(const char *text, loom_log_level *out);

/**
 * \brief Lower-case name of a level.
 * \param level any value.
 * \return a static string ("info"); "?" for an invalid value. Never NULL,
 *         never blocks, any thread.
 */
LOOM_EXTERN const char *loom_log_level_name(loom_log_level level);

/**
 * \brief Tag later lines of this process with an MPI rank
 *        (loom_job_create() does it for its rank).
 * \param rank the rank; negative prints `rank=-`.
 * \note Cannot fail, never blocks, any thread.
 */
LOOM_EXTERN void loom_log_set_rank(int rank);

/**
 * \brief Send log lines to `fd` instead of stderr (2).
 * \param fd an open descriptor; the caller keeps ownership of it and must
 *        keep it open while loom may log (pass 2 to go back to stderr).
 * \note Cannot fail, never blocks, any thread; lines being written finish
 *       on the old descriptor.
 */
LOOM_EXTERN void loom_log_set_fd(int fd);

/**
 * \brief Write one line if `level` is enabled. Lines longer than 4 KiB are
 *        cut and end with "...".
 * \param level the message's severity.
 * \param[in] fmt printf format of the message, without a trailing newline;
 *            the format and its arguments are the caller's and not kept.
 * \param ... the format's arguments.
 * \note Never fails visibly (a failed write is dropped); blocks only in
 *       write(2) and on the lock that keeps lines whole. Any thread;
 *       async-signal-unsafe. Prefer the macros (#LOOM_INFO, ...), which skip
 *       formatting when the level is off.
 */
LOOM_EXTERN void loom_log(loom_log_level level, const char *fmt, ...) LOOM_PRINTF(2, 3);

/**
 * \brief Log at `level` only if it is enabled, without evaluating the
 *        arguments otherwise.
 * \param level a ::loom_log_level.
 * \param ... a printf format and its arguments, as for loom_log().
 */
#define LOOM_LOG_AT(level, ...)                                                                    \
    do {                                                                                           \
        if (loom_log_enabled(level))                                                               \
            loom_log(level, __VA_ARGS__);                                                          \
    } while (0)
/** \def LOOM_ERROR(...)
 *  \brief Log at #LOOM_LOG_ERROR. \param ... format and arguments, as for loom_log(). */
/** \def LOOM_WARN(...)
 *  \brief Log at #LOOM_LOG_WARN. \param ... format and arguments, as for loom_log(). */
/** \def LOOM_INFO(...)
 *  \brief Log at #LOOM_LOG_INFO. \param ... format and arguments, as for loom_log(). */
/** \def LOOM_DEBUG(...)
 *  \brief Log at #LOOM_LOG_DEBUG. \param ... format and arguments, as for loom_log(). */
/** \def LOOM_TRACE(...)
 *  \brief Log at #LOOM_LOG_TRACE. \param ... format and arguments, as for loom_log(). */
#define LOOM_ERROR(...) LOOM_LOG_AT(LOOM_LOG_ERROR, __VA_ARGS__)
#define LOOM_WARN(...)  LOOM_LOG_AT(LOOM_LOG_WARN, __VA_ARGS__)
#define LOOM_INFO(...)  LOOM_LOG_AT(LOOM_LOG_INFO, __VA_ARGS__)
#define LOOM_DEBUG(...) LOOM_LOG_AT(LOOM_LOG_DEBUG, __VA_ARGS__)
#define LOOM_TRACE(...) LOOM_LOG_AT(LOOM_LOG_TRACE, __VA_ARGS__)

#endif /* LOOM_LOG_H */
