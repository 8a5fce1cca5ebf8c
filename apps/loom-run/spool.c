/* SPDX-License-Identifier: MIT */
/* A task's output stream in bounded memory: see spool.h. */
#include "spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void
lr_spool_init(struct lr_spool *s, uint64_t limit)
{
    memset(s, 0, sizeof *s);
    s->fd = -1;
    s->limit = limit;
}

void
lr_spool_wrap(struct lr_spool *s, const char *p, size_t n)
{
    lr_spool_init(s, 0);
    s->mem = (char *)p;
    s->cap = n;
    s->len = s->total = n;
    s->borrowed = 1;
}

/* An unlinked file in $TMPDIR (else /tmp); -1 (errno) when none. */
static int
temp_file(void)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
        return fd;
    char path[4096];
    snprintf(path, sizeof path, "%s/loom-run-spool-XXXXXX", dir);
    fd = mkostemp(path, O_CLOEXEC);
    if (fd >= 0)
        unlink(path);
    return fd;
}

int
lr_write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w == 0)
            errno = ENOSPC;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Move what is in memory to a new file; 0 or -1 (errno). */
static int
to_file(struct lr_spool *s)
{
    int fd = temp_file();
    if (fd < 0 || lr_write_all(fd, s->mem, (size_t)s->len) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        errno = e;
        return -1;
    }
    free(s->mem);
    s->mem = NULL;
    s->cap = 0;
    s->fd = fd;
    return 0;
}

int
lr_spool_add(struct lr_spool *s, const void *p, size_t n)
{
    s->total += n;
    if (s->err)
        return -1;
    if (s->limit && s->len + n > s->limit)
        n = s->len < s->limit ? (size_t)(s->limit - s->len) : 0;
    if (n == 0)
        return 0;
    if (s->fd < 0 && s->len + n <= LR_SPOOL_MEM) {
        if (s->len + n > s->cap) {
            size_t cap = s->cap ? s->cap : 4096;
            while (cap < s->len + n)
                cap *= 2;
            char *m = realloc(s->mem, cap);
            if (!m) {
                s->err = ENOMEM;
                return -1;
            }
            s->mem = m;
            s->cap = cap;
        }
        memcpy(s->mem + s->len, p, n);
        s->len += n;
        return 0;
    }
    if ((s->fd < 0 && to_file(s) != 0) || lr_write_all(s->fd, p, n) != 0) {
        s->err = errno ? errno : EIO;
        return -1;
    }
    s->len += n;
    return 0;
}

ssize_t
lr_spool_read(const struct lr_spool *s, uint64_t off, void *buf, size_t n)
{
    if (off >= s->len)
        return 0;
    if (n > s->len - off)
        n = (size_t)(s->len - off);
    if (s->fd < 0) {
        memcpy(buf, s->mem + off, n);
        return (ssize_t)n;
    }
    ssize_t r;
    do {
        r = pread(s->fd, buf, n, (off_t)off);
    } while (r < 0 && errno == EINTR);
    return r;
}

int
lr_spool_own(struct lr_spool *s)
{
    if (!s->borrowed)
        return 0;
    char *m = malloc(s->len ? (size_t)s->len : 1);
    if (!m) {
        errno = ENOMEM;
        return -1;
    }
    memcpy(m, s->mem, (size_t)s->len);
    s->mem = m;
    s->cap = (size_t)s->len;
    s->borrowed = 0;
    return 0;
}

void
lr_spool_free(struct lr_spool *s)
{
    if (!s->borrowed)
        free(s->mem);
    if (s->fd >= 0)
        close(s->fd);
    lr_spool_init(s, 0);
}
