/* SPDX-License-Identifier: MIT */
/* Error codes: names and messages generated from LOOM_ERROR_MAP. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"
#include "loom/error.h"

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
