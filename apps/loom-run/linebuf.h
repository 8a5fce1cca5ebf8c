/* SPDX-License-Identifier: MIT */
/*
 * The buffer loom-run's two line readers read through: task files
 * (taskfile.c) and job logs (joblog.c). It holds the unconsumed bytes
 * [start, end) of a file; [start, scan) is known to hold no '\n', so a
 * long line is searched once, not once per read. Refilling moves the
 * partial line to the front and doubles the buffer only while that line
 * fills it, up to cap_max: memory stays bounded whatever the number of
 * lines (internal to loom-run; libc only).
 */
#ifndef LOOM_RUN_LINEBUF_H
#define LOOM_RUN_LINEBUF_H

#include <stddef.h>
#include <sys/types.h>

struct lr_linebuf {
    char *buf;      /* cap + 1 bytes: the spare one takes a final line's NUL */
    size_t cap;     /* usable bytes, at most cap_max */
    size_t cap_max; /* the longest partial line a reader accepts, and more */
    size_t start;   /* first unconsumed byte */
    size_t scan;    /* [start, scan) holds no '\n' */
    size_t end;     /* end of valid data */
};

/* lr_linebuf_fill could not grow the buffer (out of memory). */
#define LR_LINEBUF_NOMEM (-2)

/*
 * Move [start, end) to the front of b (start, scan and end move with it),
 * double the buffer when the partial line fills it (up to cap_max; the
 * caller has refused a partial line of cap_max bytes or more), then read
 * once from fd after end, retrying on EINTR. Returns the bytes read (0:
 * end of file), LR_LINEBUF_NOMEM (b unchanged but for the move), or -1
 * with read(2)'s errno. Blocks as read(2) does.
 */
ssize_t lr_linebuf_fill(struct lr_linebuf *b, int fd);

#endif
