/* SPDX-License-Identifier: MIT */
/*
 * The read buffer of loom-run's line readers (linebuf.h): refilled in
 * place, grown by doubling up to its bound.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "linebuf.h"

ssize_t
lr_linebuf_fill(struct lr_linebuf *b, int fd)
{
    ssize_t n;

    if (b->start > 0) {
        memmove(b->buf, b->buf + b->start, b->end - b->start);
        b->end -= b->start;
        b->scan -= b->start;
        b->start = 0;
    }
    if (b->end == b->cap) {
        size_t ncap = b->cap > b->cap_max / 2 ? b->cap_max : b->cap * 2;
        char *nbuf = realloc(b->buf, ncap + 1);

        if (nbuf == NULL)
            return LR_LINEBUF_NOMEM;
        b->buf = nbuf;
        b->cap = ncap;
    }
    do {
        n = read(fd, b->buf + b->end, b->cap - b->end);
    } while (n < 0 && errno == EINTR);
    if (n > 0)
        b->end += (size_t)n;
    return n;
}
