/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the job-log reader (apps/loom-run/joblog.c), which decides
 * what --resume skips. Any bytes as a job log: it is read strictly; each
 * entry passed on is checked against the reader's promises (Seq >= 1,
 * Signal >= 0, finite times, Host no longer than its bound), the stats
 * against what was passed on; then the same file is opened for appending
 * (resume), which must cut a torn tail and leave a file the reader accepts.
 */
#include <math.h>

#include "fuzz_common.h"
#include "joblog.h"

struct seen {
    uint64_t entries, max_seq;
};

static int
check_entry(const struct lr_joblog_entry *e, void *arg)
{
    struct seen *s = arg;
    if (e->seq < 1 || e->signal < 0 || !isfinite(e->start) || !isfinite(e->runtime) ||
        !e->command || strlen(e->host ? e->host : "") > LR_JOBLOG_HOST_MAX)
        abort();
    s->entries++;
    if (e->seq > s->max_seq)
        s->max_seq = e->seq;
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file("joblog", data, size);
    struct seen s = {0};
    struct lr_joblog_stats st;
    char err[512];
    int rc = lr_joblog_read(path, check_entry, &s, &st, err, sizeof err);
    if (rc == 0 && (st.entries != s.entries || st.max_seq != s.max_seq ||
                    st.valid_bytes + st.torn_bytes != size))
        abort();
    if (rc != 0)
        return 0;
    /* A log the reader accepts can be resumed: opening it to append cuts
     * the torn tail, and what is left reads the same entries, none torn. */
    lr_joblog *j;
    if (lr_joblog_open(path, 1, &j, err, sizeof err) != 0)
        return 0; /* e.g. only part of a header: restarted or refused, both fine */
    lr_joblog_close(j);
    struct seen again = {0};
    struct lr_joblog_stats st2;
    if (lr_joblog_read(path, check_entry, &again, &st2, err, sizeof err) != 0 || st2.torn ||
        again.entries != s.entries)
        abort();
    return 0;
}
