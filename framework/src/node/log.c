/* SPDX-License-Identifier: MIT */
/*
 * Logging. A line is formatted entirely in a stack buffer of the calling
 * thread, then written with one write(2) under log_mutex, so lines from
 * different threads never interleave, even on a regular file or a pipe
 * longer than PIPE_BUF. The level is an atomic; LOOM_LOG_LEVEL is read once,
 * lazily, unless a level was set explicitly first.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "context_internal.h"
#include "internal.h"
#include "io_internal.h"
#include "loom/log.h"

#define LOG_LINE_MAX 4096

static atomic_int log_level = LOOM_LOG_INFO;
static atomic_int log_fd = 2;
static pthread_once_t log_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t log_mutex = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"error", "warn", "info", "debug", "trace"};
static const char *const level_tags[] = {"ERROR", "WARN ", "INFO ", "DEBUG", "TRACE"};

static void log_vemit(loom_log_level level, const char *fmt, va_list ap) LOOM_PRINTF(2, 0);
static void log_emit(loom_log_level level, const char *fmt, ...) LOOM_PRINTF(2, 3);

static void
log_init_from_env(void)
{
    const char *s = getenv("LOOM_LOG_LEVEL");
    loom_log_level lv;
    if (!s || !*s)
        return;
    if (loom_log_level_parse(s, &lv) == LOOM_OK)
        atomic_store(&log_level, (int)lv);
    else
        log_emit(LOOM_LOG_WARN,
                 "ignoring LOOM_LOG_LEVEL='%.40s': expected one of "
                 "error, warn, info, debug, trace",
                 s);
}

void
loom_log_set_level(loom_log_level level)
{
    LOOM_ASSERT((unsigned)level <= LOOM_LOG_TRACE);
    pthread_once(&log_once, log_init_from_env); /* an explicit level wins */
    atomic_store(&log_level, (int)level);
}

loom_log_level
loom_log_get_level(void)
{
    pthread_once(&log_once, log_init_from_env);
    return (loom_log_level)atomic_load(&log_level);
}

int
loom_log_enabled(loom_log_level level)
{
    return (int)level <= (int)loom_log_get_level();
}

loom_err
loom_log_level_parse(const char *text, loom_log_level *out)
{
    if (!text)
        return loom__fail(LOOM_EINVAL, "loom_log_level_parse: no text");
    for (unsigned i = 0; i < sizeof level_names / sizeof level_names[0]; i++) {
        if (strcasecmp(text, level_names[i]) == 0) {
            *out = (loom_log_level)i;
            return LOOM_OK;
        }
    }
    return loom__fail(LOOM_EINVAL, "'%s' is not a log level (error, warn, info, debug, trace)",
                      text);
}

const char *
loom_log_level_name(loom_log_level level)
{
    if ((unsigned)level > LOOM_LOG_TRACE)
        return "?";
    return level_names[level];
}

void
loom_log_set_rank(int rank)
{
    loom__context_set_rank(rank);
}

void
loom_log_set_fd(int fd)
{
    atomic_store(&log_fd, fd);
}

static void
log_vemit(loom_log_level level, const char *fmt, va_list ap)
{
    int saved_errno = errno; /* callers may log between a failure and its errno */
    char line[LOG_LINE_MAX];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);

    loom_context *ctx = loom_context_current();
    char rank[16] = "-";
    if (loom_context_rank(ctx) >= 0)
        snprintf(rank, sizeof rank, "%d", loom_context_rank(ctx));

    int n = snprintf(line, sizeof line,
                     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s host=%s rank=%s thread=%s | ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, level_tags[level], loom_context_host(ctx), rank,
                     loom_context_name(ctx));
    size_t len = n < 0 ? 0 : (size_t)n;
    if (len < sizeof line - 1) {
        errno = saved_errno; /* so %m works */
        int m = vsnprintf(line + len, sizeof line - 1 - len, fmt, ap);
        if (m > 0)
            len += (size_t)m;
    }
    if (len >= sizeof line - 1) { /* cut: say so */
        len = sizeof line - 1;
        memcpy(line + len - 3, "...", 3);
    }
    /* one message, one line: embedded newlines would forge log lines */
    for (size_t i = 0; i < len; i++)
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    line[len++] = '\n';

    pthread_mutex_lock(&log_mutex);
    /* a failing write is dropped: there is nowhere left to report it */
    (void)loom__write_all(atomic_load(&log_fd), line, len, NULL);
    pthread_mutex_unlock(&log_mutex);
    errno = saved_errno;
}

static void
log_emit(loom_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vemit(level, fmt, ap);
    va_end(ap);
}

void
loom_log(loom_log_level level, const char *fmt, ...)
{
    if ((unsigned)level > LOOM_LOG_TRACE || !loom_log_enabled(level))
        return;
    va_list ap;
    va_start(ap, fmt);
    log_vemit(level, fmt, ap);
    va_end(ap);
}
