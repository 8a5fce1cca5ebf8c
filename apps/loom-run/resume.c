/* SPDX-License-Identifier: MIT */
/*
 * --resume and --resume-failed: what an old job log says is done. Its
 * entries, sorted by Seq with a success first, tell which tasks to skip
 * (GNU Parallel's rules: any entry, or a successful one) and whether the
 * task file still has the command the log recorded under each number.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "joblog.h"
#include "loomrun.h"
#include "taskfile.h"

struct lr_done_entry {
    uint64_t seq;
    uint64_t hash; /* of the command */
    int ok;
};

static int
collect_done(const struct lr_joblog_entry *e, void *arg)
{
    struct lr_done *d = arg;
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 1024;
        struct lr_done_entry *a = realloc(d->a, cap * sizeof *a);
        if (!a)
            return -1;
        d->a = a;
        d->cap = cap;
    }
    d->a[d->n++] = (struct lr_done_entry){e->seq, lr_task_hash(e->command, strlen(e->command)),
                                          lr_joblog_entry_ok(e)};
    return 0;
}

static int
cmp_done(const void *a, const void *b)
{
    const struct lr_done_entry *x = a, *y = b;
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    return y->ok - x->ok; /* a success first: "any success wins", as GNU */
}

int
lr_done_load(struct lr_done *d, const char *path, char *err, size_t errlen)
{
    struct stat sb;
    /* what a failing collect_done (out of memory) leaves: lr_joblog_read
     * writes err only for its own errors */
    snprintf(err, errlen, "%s: out of memory", path);
    /* resuming without a log yet (the first run died before writing one,
     * or this is the first run of a script that always resumes): run all */
    if (stat(path, &sb) == 0 && lr_joblog_read(path, collect_done, d, NULL, err, errlen) != 0)
        return -1;
    if (d->n)
        qsort(d->a, d->n, sizeof *d->a, cmp_done);
    return 0;
}

/* The entry of seq (its success, if any), or NULL. */
static const struct lr_done_entry *
find_done(const struct lr_done *d, uint64_t seq)
{
    size_t lo = 0, hi = d->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (d->a[mid].seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < d->n && d->a[lo].seq == seq ? &d->a[lo] : NULL;
}

int
lr_done_skips(const struct lr_done *d, uint64_t seq, int resume_all)
{
    const struct lr_done_entry *e = find_done(d, seq);
    return e && (resume_all || e->ok);
}

int
lr_done_changed(const struct lr_done *d, const char *path, uint64_t seq, const char *cmd,
                size_t len, int templated, char *err, size_t errlen)
{
    const struct lr_done_entry *e = find_done(d, seq);
    if (!e || e->hash == lr_task_hash(cmd, len))
        return 0;
    snprintf(err, errlen,
             "%s:%llu: the task differs from the one the job log recorded as task %llu: %s "
             "(use --force to run it anyway)",
             path, (unsigned long long)seq, (unsigned long long)seq,
             templated ? "the command template changed, or its input did"
                       : "the task file changed");
    return 1;
}

void
lr_done_free(struct lr_done *d)
{
    free(d->a);
    d->a = NULL;
    d->n = d->cap = 0;
}
