/* SPDX-License-Identifier: MIT */
/* --halt policies: parse and decide (see halt.h). */
#include "halt.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
lr_halt_parse(const char *text, struct lr_halt *h, char *err, size_t errlen)
{
    static const struct {
        const char *name;
        struct lr_halt h;
    } shorthand[] = {
        {"never", {LR_HALT_NEVER, LR_HALT_FAIL, 0, 0}},
        {"0", {LR_HALT_NEVER, LR_HALT_FAIL, 0, 0}},
        {"1", {LR_HALT_SOON, LR_HALT_FAIL, 0, 1}},
        {"2", {LR_HALT_NOW, LR_HALT_FAIL, 0, 1}},
        {"-1", {LR_HALT_SOON, LR_HALT_SUCCESS, 0, 1}},
        {"-2", {LR_HALT_NOW, LR_HALT_SUCCESS, 0, 1}},
    };
    for (size_t i = 0; i < sizeof shorthand / sizeof shorthand[0]; i++)
        if (strcmp(text, shorthand[i].name) == 0) {
            *h = shorthand[i].h;
            return 0;
        }
    struct lr_halt r = {0};
    const char *p = text;
    if (strncmp(p, "soon,", 5) == 0) {
        r.when = LR_HALT_SOON;
        p += 5;
    } else if (strncmp(p, "now,", 4) == 0) {
        r.when = LR_HALT_NOW;
        p += 4;
    } else {
        goto bad;
    }
    if (strncmp(p, "fail=", 5) == 0) {
        r.on = LR_HALT_FAIL;
        p += 5;
    } else if (strncmp(p, "success=", 8) == 0) {
        r.on = LR_HALT_SUCCESS;
        p += 8;
    } else if (strncmp(p, "done=", 5) == 0) {
        r.on = LR_HALT_DONE;
        p += 5;
    } else {
        goto bad;
    }
    char *end = NULL;
    errno = 0;
    r.limit = strtod(p, &end);
    if (end == p || errno || !isfinite(r.limit))
        goto bad;
    if (*end == '%') {
        r.percent = 1;
        end++;
        if (*end || !(r.limit > 0 && r.limit <= 100))
            goto bad;
    } else if (*end || r.limit < 1 || r.limit > 1e15 || r.limit != floor(r.limit)) {
        goto bad;
    }
    *h = r;
    return 0;
bad:
    snprintf(err, errlen,
             "--halt '%s': expected never, soon|now,fail|success|done=N or =P%% (0 < P <= 100), "
             "or 0, 1, 2, -1, -2",
             text);
    return -1;
}

int
lr_halt_due(const struct lr_halt *h, uint64_t failed, uint64_t succeeded, uint64_t tasks)
{
    if (h->when == LR_HALT_NEVER)
        return 0;
    uint64_t n = h->on == LR_HALT_FAIL      ? failed
                 : h->on == LR_HALT_SUCCESS ? succeeded
                                            : failed + succeeded;
    if (!h->percent)
        return n > 0 && (double)n >= h->limit;
    return n > 0 && tasks > 0 && (double)n * 100.0 >= h->limit * (double)tasks;
}

void
lr_halt_describe(const struct lr_halt *h, char *buf, size_t len)
{
    static const char *const on[] = {"fail", "success", "done"};
    if (h->when == LR_HALT_NEVER)
        snprintf(buf, len, "never");
    else
        snprintf(buf, len, "%s,%s=%g%s", h->when == LR_HALT_NOW ? "now" : "soon", on[h->on],
                 h->limit, h->percent ? "%" : "");
}
