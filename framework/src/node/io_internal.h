/* SPDX-License-Identifier: MIT */
/* Internal side of io.c: whole writes and output files on plain
 * descriptors, for the node and formats layers. */
#ifndef LOOM_SRC_IO_H
#define LOOM_SRC_IO_H

#include <stddef.h>
#include <stdio.h>

/* Write all len bytes of buf to fd, retrying short writes and EINTR.
 * Returns 0, or -1 with errno set (a write that takes nothing counts as
 * ENOSPC). *done (done may be NULL) gets the bytes written either way. */
int loom__write_all(int fd, const void *buf, size_t len, size_t *done);

/* Create path, or empty it, and open it as a stdio stream for writing.
 * Mode 0664 less the umask: the user's choice, never world-writable; the
 * descriptor is close-on-exec. NULL with errno set on failure. */
FILE *loom__fopen_output(const char *path);

#endif
