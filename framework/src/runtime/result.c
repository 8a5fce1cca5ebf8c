/* SPDX-License-Identifier: MIT */
/*
 * A task's result as the program holds it (loom_result, loom/job.h):
 * freeing it, reading a number from it, naming its cause. Any thread; no
 * state of its own. A result's data either points into a received
 * message (loom__buf, shared: msg.c) or is the result's own allocation.
 * A result handed to the program that holds a message is counted on its
 * job's ledger (msg.c) until loom_result_free(); loom's own code drops the
 * results the program never got with loom__result_drop().
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "loom/job.h"
#include "msg.h"
#include "result.h"

void
loom__result_handed(loom_result *res)
{
    struct loom__msg *msg = res->loom__buf;
    if (msg)
        loom__ledger_hold(msg->ledger);
}

void
loom__result_drop(loom_result *res)
{
    if (!res)
        return;
    if (res->loom__buf)
        loom__msg_release(res->loom__buf);
    else
        free(res->data);
    memset(res, 0, sizeof *res);
}

void
loom_result_free(loom_result *res)
{
    if (!res)
        return;
    struct loom__msg *msg = res->loom__buf;
    struct loom__ledger *ledger = msg ? msg->ledger : NULL; /* read before the release */
    loom__result_drop(res);
    loom__ledger_release(ledger);
}

static loom_err
get8(const void *data, size_t len, void *out)
{
    if (len != 8)
        return loom__fail(LOOM_EINVAL, "the result's data is %zu bytes, not the 8 of a number",
                          len);
    memcpy(out, data, 8);
    return LOOM_OK;
}

loom_err
loom_result_i64(const loom_result *res, int64_t *out)
{
    return get8(res->data, res->len, out);
}

loom_err
loom_result_double(const loom_result *res, double *out)
{
    return get8(res->data, res->len, out);
}

const char *
loom_cause_name(loom_cause cause)
{
    switch (cause) {
    case LOOM_CAUSE_OK:
        return "ok";
    case LOOM_CAUSE_FAILED:
        return "failed";
    case LOOM_CAUSE_SIGNAL:
        return "signal";
    case LOOM_CAUSE_EXIT:
        return "exit";
    case LOOM_CAUSE_TIMEOUT:
        return "timeout";
    case LOOM_CAUSE_MEMORY:
        return "memory";
    case LOOM_CAUSE_ISOLATION:
        return "isolation";
    case LOOM_CAUSE_LOST:
        return "lost";
    }
    return "unknown";
}
