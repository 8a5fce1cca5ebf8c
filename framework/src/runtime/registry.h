/* SPDX-License-Identifier: MIT */
/*
 * The job's task functions by name (registry.c); loom_job_register is the
 * public side (loom/job.h).
 */
#ifndef LOOM_REGISTRY_H
#define LOOM_REGISTRY_H

#include "job_types.h"

/* The index of the function registered as name (its number on the wire),
 * or -1 (none, or name NULL). Any thread once the job has started: the
 * registry no longer changes then. */
int loom__job_fn_index(const loom_job *job, const char *name);

/* Record LOOM_ENOFUNC for name as the thread's last error, naming the
 * functions that are registered; returns LOOM_ENOFUNC. Same threads as
 * loom__job_fn_index. */
loom_err loom__job_no_fn(const loom_job *job, const char *name);

#endif /* LOOM_REGISTRY_H */
