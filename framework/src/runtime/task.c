/* SPDX-License-Identifier: MIT */
/*
 * The task a function sees (loom_task, loom/job.h): its payload and
 * arguments, its reply, its identity, and loom_task_submit for tasks that
 * make more tasks. Also running a map chunk (many inputs packed into one
 * task's payload) through a function.
 *
 * A loom_task belongs to the one thread running it: a worker's runner
 * (worker.c) or an isolated task's process (isolate.c), which reuse it
 * from task to task (the reply buffer grows and is kept). No locks.
 *
 * A refused reply or submit is remembered: unless the task handles it
 * (returns non-zero, or replies again successfully after a refused reply)
 * it fails the task, loom__task_outcome(), instead of passing as a success
 * without its data or its children.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "loom/context.h"
#include "registry.h"
#include "task.h"
#include "wire.h"

static loom_err
get8(const void *data, size_t len, void *out)
{
    if (len != 8)
        return loom__fail(LOOM_EINVAL, "the task's payload is %zu bytes, not the 8 of a number",
                          len);
    memcpy(out, data, 8);
    return LOOM_OK;
}

const void *
loom_task_payload(const loom_task *task, size_t *len)
{
    LOOM_ASSERT(task);
    if (len)
        *len = task->len;
    return task->payload;
}

loom_err
loom_task_arg_i64(const loom_task *task, int64_t *out)
{
    return get8(task->payload, task->len, out);
}

loom_err
loom_task_arg_double(const loom_task *task, double *out)
{
    return get8(task->payload, task->len, out);
}

loom_err
loom_task_arg_str(const loom_task *task, const char **out)
{
    if (task->len == 0 || task->payload[task->len - 1] != '\0')
        return loom__fail(LOOM_EINVAL,
                          "the task's payload (%zu bytes) is not a string: it does "
                          "not end with a NUL byte",
                          task->len);
    *out = task->payload;
    return LOOM_OK;
}

loom_err
loom_task_reply(loom_task *task, const void *data, size_t len)
{
    LOOM_ASSERT(task);
    if (len > task->job->set.max_payload)
        return task->reply_err =
                   loom__fail(LOOM_ERANGE,
                              "a reply of %zu bytes is over the limit job.max_payload (%zu bytes)",
                              len, task->job->set.max_payload);
    if (len > task->reply_cap) {
        char *p = realloc(task->reply, len);
        if (!p)
            return task->reply_err =
                       loom__fail(LOOM_ENOMEM, "out of memory for a reply of %zu bytes", len);
        task->reply = p;
        task->reply_cap = len;
    }
    if (len)
        memcpy(task->reply, data, len);
    task->reply_len = len;
    task->reply_err = LOOM_OK; /* replaces a refused one */
    return LOOM_OK;
}

loom_err
loom_task_reply_i64(loom_task *task, int64_t value)
{
    return loom_task_reply(task, &value, sizeof value);
}

loom_err
loom_task_reply_double(loom_task *task, double value)
{
    return loom_task_reply(task, &value, sizeof value);
}

loom_err
loom_task_reply_str(loom_task *task, const char *value)
{
    LOOM_ASSERT(task);
    if (!value)
        return task->reply_err = loom__fail(LOOM_EINVAL, "loom_task_reply_str: the value is NULL");
    return loom_task_reply(task, value, strlen(value) + 1);
}

/* Run one map chunk (the task's payload): every input through fn, the
 * replies packed into the task's reply. */
int
loom__run_chunk(loom_task_fn fn, void *user, loom_task *t)
{
    uint32_t n;
    const char *lens, *data;
    if (wire_chunk_open(t->payload, t->len, &n, &lens, &data) != LOOM_OK)
        return -1;
    size_t head = 4 + 8 * (size_t)n, cap = head + 64, used = head;
    char *out = malloc(cap);
    if (!out)
        return -1;
    memcpy(out, &n, 4);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t l;
        memcpy(&l, lens + 4 * (size_t)i, 4);
        t->payload = data;
        t->len = l;
        t->reply_len = 0;
        loom_err why;
        int32_t st = loom__task_outcome(t, fn(t, user), &why);
        data += l;
        uint32_t rl = (uint32_t)t->reply_len;
        if (used + rl > cap) {
            while (used + rl > cap)
                cap *= 2;
            char *p = realloc(out, cap);
            if (!p) {
                free(out);
                return -1;
            }
            out = p;
        }
        memcpy(out + 4 + 4 * (size_t)i, &st, 4);
        memcpy(out + 4 + 4 * (size_t)n + 4 * (size_t)i, &rl, 4);
        if (rl)
            memcpy(out + used, t->reply, rl);
        used += rl;
    }
    /* the packed replies become the task's reply */
    loom__task_reply_free(t);
    t->reply = out;
    t->reply_len = t->reply_cap = used;
    return 0;
}

int
loom__task_outcome(loom_task *t, int status, loom_err *why)
{
    loom_err e = t->submit_err != LOOM_OK ? t->submit_err : t->reply_err;
    t->submit_err = t->reply_err = LOOM_OK;
    *why = status == 0 ? e : LOOM_OK;
    return status == 0 && e != LOOM_OK ? -1 : status;
}

void
loom__task_reply_free(loom_task *t)
{
    free(t->reply);
    t->reply = NULL;
    t->reply_len = t->reply_cap = 0;
}

uint64_t
loom_task_id(const loom_task *task)
{
    LOOM_ASSERT(task);
    return task->id;
}

unsigned
loom_task_attempt(const loom_task *task)
{
    LOOM_ASSERT(task);
    return task->attempt;
}

loom_job *
loom_task_job(const loom_task *task)
{
    LOOM_ASSERT(task);
    return task->job;
}

loom_context *
loom_task_context(const loom_task *task)
{
    (void)task;
    return loom_context_current();
}

loom_err
loom_task_submit(loom_task *task, const char *fn, const void *payload, size_t len)
{
    LOOM_ASSERT(task);
    loom_err rc;
    int idx = task->out ? loom__job_fn_index(task->job, fn) : -1;
    if (!task->out) { /* an isolated task: nobody to hand it to */
        rc = loom__fail(LOOM_ESTATE, "loom_task_submit: an isolated task cannot submit tasks");
    } else if (idx < 0) {
        rc = loom__job_no_fn(task->job, fn);
    } else if (len > task->job->set.max_payload) {
        rc = loom__fail(LOOM_ERANGE,
                        "payload of %zu bytes for \"%s\" is over the limit job.max_payload "
                        "(%zu bytes)",
                        len, fn, task->job->set.max_payload);
    } else {
        struct wire_submit s = {(uint32_t)idx, (uint32_t)len};
        rc = loom__ret(wire_put(task->out, WIRE_SUBMIT, &s, sizeof s, payload, len, NULL, 0));
    }
    if (rc != LOOM_OK && task->submit_err == LOOM_OK)
        task->submit_err = rc;
    return rc;
}
