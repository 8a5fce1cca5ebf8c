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
        return loom__fail(LOOM_ESTATE,
                          "loom_job_register(\"%s\"): functions are registered "
                          "before loom_job_start(), this job has started",
                          name ? name : "(null)");
    if (!name || !*name || strlen(name) > JOB_FN_NAME_MAX || !fn)
        return loom__fail(LOOM_EINVAL,
                          "loom_job_register: %s (a name of 1 to %d bytes and a function)",
                          !name || !*name ? "no name"
                          : !fn           ? "no function"
                                          : "name too long",
                          JOB_FN_NAME_MAX);
    if (loom__job_fn_index(job, name) >= 0)
        return loom__fail(LOOM_EINVAL,
                          "loom_job_register: a function named \"%s\" is already "
                          "registered",
                          name);
    if (job->nfns == JOB_MAX_FUNCS)
        return loom__fail(LOOM_ERANGE,
                          "loom_job_register(\"%s\"): %u functions registered, "
                          "the limit is %d",
                          name, job->nfns, JOB_MAX_FUNCS);
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

loom_err
loom__job_no_fn(const loom_job *job, const char *name)
{
    char names[256] = "";
    size_t at = 0;
    for (unsigned i = 0; i < job->nfns && at < sizeof names; i++) {
        int k =
            snprintf(names + at, sizeof names - at, "%s\"%s\"", i ? ", " : "", job->fns[i].name);
        at += k > 0 ? (size_t)k : 0;
    }
    return loom__fail(LOOM_ENOFUNC, "no task function named \"%s\" is registered (registered: %s)",
                      name ? name : "(null)", job->nfns ? names : "none");
}
