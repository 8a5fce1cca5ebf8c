/* SPDX-License-Identifier: MIT */
/*
 * The registry: the job's task functions in registration order
 * (job->fns, JOB_MAX_FUNCS slots allocated at create). A function's index
 * is its number on the wire, so every rank must register the same names
 * in the same order (the start-up check compares them: fingerprint.c).
 *
 * Written only before start, by the program's thread that registers;
 * read-only afterwards, by any thread, without a lock.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "registry.h"

loom_err
loom_job_register(loom_job *job, const char *name, loom_task_fn fn, void *user)
{
    LOOM_ASSERT(job);
    if (job->started)
        return LOOM_ESTATE;
    if (!name || !*name || strlen(name) > JOB_FN_NAME_MAX || !fn)
        return LOOM_EINVAL;
    if (loom__job_fn_index(job, name) >= 0)
        return LOOM_EINVAL;
    if (job->nfns == JOB_MAX_FUNCS)
        return LOOM_ERANGE;
    struct job_fn *f = &job->fns[job->nfns++];
    snprintf(f->name, sizeof f->name, "%s", name);
    f->fn = fn;
    f->user = user;
    return LOOM_OK;
}

int
loom__job_fn_index(const loom_job *job, const char *name)
{
    if (!name)
        return -1;
    for (unsigned i = 0; i < job->nfns; i++)
        if (strcmp(job->fns[i].name, name) == 0)
            return (int)i;
    return -1;
}
