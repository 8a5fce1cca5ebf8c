/* SPDX-License-Identifier: MIT */
/*
 * Error codes: names and messages generated from LOOM_ERROR_MAP, and the
 * calling thread's last error (loom_last_error): one thread-local record,
 * written by loom__fail (a message with the specifics) or loom__ret (the
 * code's generic message when nothing more specific was noted). `fresh`
 * says the record was written since the last loom__ret, so a public
 * function passing on a code from a helper keeps the helper's message.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"
#include "loom/error.h"

#define LAST_ERROR_MAX 512

static _Thread_local struct {
    char msg[LAST_ERROR_MAX];
    loom_err code;
    int fresh;
} tls_last;

static const char *const loom_err_messages[] = {
#define LOOM__ERR_MSG(name, msg) msg,
    LOOM_ERROR_MAP(LOOM__ERR_MSG)
#undef LOOM__ERR_MSG
};

static const char *const loom_err_names[] = {
#define LOOM__ERR_NAME(name, msg) "LOOM_" #name,
    LOOM_ERROR_MAP(LOOM__ERR_NAME)
#undef LOOM__ERR_NAME
};

const char *
loom_strerror(loom_err err)
{
    if ((unsigned)err >= LOOM__ERR_COUNT)
        return "unknown error";
    return loom_err_messages[err];
}

const char *
loom_err_name(loom_err err)
{
    if ((unsigned)err >= LOOM__ERR_COUNT)
        return "LOOM_E?";
    return loom_err_names[err];
}

void
loom__panic(const char *file, int line, const char *func, const char *msg)
{
    fprintf(stderr, "loom: %s:%d: %s: %s\n", file, line, func, msg);
    fflush(stderr);
    abort();
}

void
loom__set_err(char *err, size_t errlen, const char *fmt, ...)
{
    int saved = errno;
    if (err != NULL && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    errno = saved;
}

const char *
loom_last_error(void)
{
    return tls_last.code != LOOM_OK ? tls_last.msg : "no loom call has failed on this thread";
}

loom_err
loom__fail(loom_err e, const char *fmt, ...)
{
    int saved = errno;
    if (e != LOOM_OK) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(tls_last.msg, sizeof tls_last.msg, fmt, ap);
        va_end(ap);
        tls_last.code = e;
        tls_last.fresh = 1;
    }
    errno = saved;
    return e;
}

loom_err
loom__ret(loom_err rc)
{
    int saved = errno;
    if (rc != LOOM_OK && !(tls_last.fresh && tls_last.code == rc)) {
        snprintf(tls_last.msg, sizeof tls_last.msg, "%s", loom_strerror(rc));
        tls_last.code = rc;
    }
    tls_last.fresh = 0;
    errno = saved;
    return rc;
}
