/* SPDX-License-Identifier: MIT */
/* --results DIR: see results.h. */
#include "results.h"
#include "spool.h"
#include "taskfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct lr_results {
    char *dir;
    uint64_t made_level; /* seq / 1000 of the last leaf parent made, +1 */
};

/* mkdir -p for one path; 0 or -1 (errno). */
static int
mkdirs(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int rc = mkdir(path, 0777);
        *p = '/';
        if (rc != 0 && errno != EEXIST)
            return -1;
    }
    return mkdir(path, 0777) != 0 && errno != EEXIST ? -1 : 0;
}

int
lr_results_open(const char *dir, lr_results **out, char *err, size_t errlen)
{
    *out = NULL;
    struct lr_results *r = calloc(1, sizeof *r);
    char probe[PATH_MAX];
    if (!r || !(r->dir = strdup(dir))) {
        free(r);
        snprintf(err, errlen, "--results %s: out of memory", dir);
        return -1;
    }
    int n = snprintf(probe, sizeof probe, "%s/.loom-run-probe.%ld", dir, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof probe - 32) {
        snprintf(err, errlen, "--results %s: path too long", dir);
        goto fail;
    }
    char *copy = strdup(dir);
    int rc = copy ? mkdirs(copy) : -1;
    free(copy);
    int fd = rc == 0 ? open(probe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666) : -1;
    if (fd < 0) {
        snprintf(err, errlen, "--results %s: cannot write there: %s", dir, strerror(errno));
        goto fail;
    }
    close(fd);
    unlink(probe);
    *out = r;
    return 0;
fail:
    free(r->dir);
    free(r);
    return -1;
}

void
lr_results_path(uint64_t seq, char *buf, size_t len)
{
    snprintf(buf, len, "%03llu/%03llu/%llu", (unsigned long long)(seq / 1000000),
             (unsigned long long)(seq / 1000 % 1000), (unsigned long long)seq);
}

/* Write a whole file; 0 or -1 (errno). */
static int
put_file(const char *path, const char *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0)
        return -1;
    int rc = lr_write_all(fd, data, len);
    int e = errno;
    if (close(fd) != 0 && rc == 0)
        return -1;
    errno = e;
    return rc;
}

/* Write a spool's bytes as a whole file; 0 or -1 (errno). */
static int
put_spool(const char *path, const struct lr_spool *sp)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0)
        return -1;
    static _Thread_local char buf[65536];
    int rc = 0;
    for (uint64_t off = 0; rc == 0 && off < sp->len;) {
        ssize_t n = lr_spool_read(sp, off, buf, sizeof buf);
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            rc = -1;
        } else {
            rc = lr_write_all(fd, buf, (size_t)n);
            off += (uint64_t)n;
        }
    }
    int e = errno;
    if (close(fd) != 0 && rc == 0)
        return -1;
    errno = e;
    return rc;
}

int
lr_results_write(lr_results *r, const struct lr_result_rec *rec, char *err, size_t errlen)
{
    char rel[64], path[PATH_MAX + 128], tmp[PATH_MAX + 160];
    lr_results_path(rec->seq, rel, sizeof rel);
    int n = snprintf(path, sizeof path, "%s/%s", r->dir, rel);
    if (n < 0 || (size_t)n >= sizeof path - 16) {
        errno = ENAMETOOLONG;
        goto fail;
    }
    if (r->made_level != rec->seq / 1000 + 1) { /* a new leaf parent */
        if (mkdirs(path) != 0)
            goto fail;
        r->made_level = rec->seq / 1000 + 1;
    } else if (mkdir(path, 0777) != 0 && errno != EEXIST) {
        goto fail;
    }
    static const char *const names[] = {"command", "stdout", "stderr"};
    const char *data[] = {rec->cmd, rec->out, rec->err};
    size_t lens[] = {rec->cmd_len, rec->out_len, rec->err_len};
    const struct lr_spool *sp[] = {NULL, rec->out_sp, rec->err_sp};
    uint64_t kept[] = {0, rec->out_sp ? rec->out_sp->len : rec->out_len,
                       rec->err_sp ? rec->err_sp->len : rec->err_len};
    for (int i = 0; i < 3; i++) {
        snprintf(path + n, sizeof path - (size_t)n, "/%s", names[i]);
        if ((sp[i] ? put_spool(path, sp[i]) : put_file(path, data[i] ? data[i] : "", lens[i])) != 0)
            goto fail;
    }
    char status[1024];
    int sl =
        snprintf(status, sizeof status,
                 "seq %llu\nattempt %u\nexitval %d\nsignal %d\ntimed_out %d\nhost %s\n"
                 "rank %d\nstart %.3f\nruntime %.3f\nstdout_bytes %llu\nstderr_bytes %llu\n"
                 "stdout_kept %llu\nstderr_kept %llu\noutput_cut %d\ncommand_hash %016llx\n",
                 (unsigned long long)rec->seq, rec->attempt, rec->exitval, rec->signal,
                 rec->timed_out, rec->host ? rec->host : "", rec->rank, rec->start, rec->runtime,
                 (unsigned long long)rec->out_total, (unsigned long long)rec->err_total,
                 (unsigned long long)kept[1], (unsigned long long)kept[2],
                 rec->out_total > kept[1] || rec->err_total > kept[2],
                 (unsigned long long)lr_task_hash(rec->cmd, rec->cmd_len));
    if (sl < 0 || (size_t)sl >= sizeof status) {
        errno = EOVERFLOW;
        goto fail;
    }
    path[n] = '\0';
    snprintf(tmp, sizeof tmp, "%s/.status.tmp", path);
    snprintf(path + n, sizeof path - (size_t)n, "/status");
    if (put_file(tmp, status, (size_t)sl) != 0 || rename(tmp, path) != 0)
        goto fail;
    return 0;
fail:;
    int e = errno;
    snprintf(err, errlen, "--results: storing task %llu in %s/%s: %s", (unsigned long long)rec->seq,
             r->dir, rel, strerror(e));
    errno = e;
    return -1;
}

void
lr_results_close(lr_results *r)
{
    if (!r)
        return;
    free(r->dir);
    free(r);
}
