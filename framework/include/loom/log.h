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

/** Severity, most severe first. A level shows itself and everything above. */
typedef enum loom_log_level {
    LOOM_LOG_ERROR = 0,
    LOOM_LOG_WARN = 1,
    LOOM_LOG_INFO = 2,
    LOOM_LOG_DEBUG = 3,
    LOOM_LOG_TRACE = 4
} loom_log_level;

/** \brief Set the process-wide level. Any thread; takes effect at once. */
LOOM_EXTERN void loom_log_set_level(loom_log_level level);

/** \brief The current level. Any thread. */
LOOM_EXTERN loom_log_level loom_log_get_level(void);

/** \brief 1 if a message at `level` would be written. Any thread, cheap. */
LOOM_EXTERN int loom_log_enabled(loom_log_level level);

/**
 * \brief Parse "error", "warn", "info", "debug" or "trace" (any case).
 * \return #LOOM_OK, or #LOOM_EINVAL for anything else (out untouched).
 */
LOOM_EXTERN loom_err loom_log_level_parse(const char *text, loom_log_level *out);

/** \brief Lower-case name of a level ("info"); "?" for an invalid value. */
LOOM_EXTERN const char *loom_log_level_name(loom_log_level level);

/** \brief Tag later lines with this MPI rank (negative: `rank=-`). */
LOOM_EXTERN void loom_log_set_rank(int rank);

/**
 * \brief Send log lines to `fd` instead of stderr (2). The caller keeps
 *        ownership of fd and must keep it open while loom may log.
 */
LOOM_EXTERN void loom_log_set_fd(int fd);

/**
 * \brief Write one line if `level` is enabled. Lines longer than 4 KiB are
 *        cut and end with "...". Never fails visibly; blocks only in write(2).
 *        Any thread; async-signal-unsafe.
 */
LOOM_EXTERN void loom_log(loom_log_level level, const char *fmt, ...) LOOM_PRINTF(2, 3);

#define LOOM_LOG_AT(level, ...)                                                                    \
    do {                                                                                           \
        if (loom_log_enabled(level))                                                               \
            loom_log(level, __VA_ARGS__);                                                          \
    } while (0)
#define LOOM_ERROR(...) LOOM_LOG_AT(LOOM_LOG_ERROR, __VA_ARGS__)
#define LOOM_WARN(...)  LOOM_LOG_AT(LOOM_LOG_WARN, __VA_ARGS__)
#define LOOM_INFO(...)  LOOM_LOG_AT(LOOM_LOG_INFO, __VA_ARGS__)
#define LOOM_DEBUG(...) LOOM_LOG_AT(LOOM_LOG_DEBUG, __VA_ARGS__)
#define LOOM_TRACE(...) LOOM_LOG_AT(LOOM_LOG_TRACE, __VA_ARGS__)

#endif /* LOOM_LOG_H */
