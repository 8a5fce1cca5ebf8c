/* SPDX-License-Identifier: MIT */
/* Whole writes and output files on plain descriptors (io_internal.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "io_internal.h"

int
loom__write_all(int fd, const void *buf, size_t len, size_t *done)
{
    const char *p = buf;
    size_t put = 0;
    int rc = 0;

    while (put < len) {
        ssize_t w = write(fd, p + put, len - put);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = ENOSPC;
            rc = -1;
            break;
        }
        put += (size_t)w;
    }
    if (done)
        *done = put;
    return rc;
}

FILE *
loom__fopen_output(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0664);
    FILE *fp;

    if (fd < 0)
        return NULL;
    fp = fdopen(fd, "w");
    if (!fp) {
        int e = errno;
        close(fd);
        errno = e;
    }
    return fp;
}
