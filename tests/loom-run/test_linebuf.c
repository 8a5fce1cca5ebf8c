/* SPDX-License-Identifier: MIT */
/*
 * Tests of the line readers' buffer (apps/loom-run/linebuf.c): a refill
 * moves the partial line to the front, the buffer grows only when that
 * line fills it and never past cap_max, end of file and read errors come
 * back as read(2) gives them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "linebuf.h"
#include "loom_test.h"

/* A pipe holding data, its write end closed: reads give data, then 0. */
static int
pipe_with(const char *data)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0, "pipe: %s", strerror(errno));
    size_t len = strlen(data);
    cr_assert_eq(write(fds[1], data, len), (ssize_t)len);
    close(fds[1]);
    return fds[0];
}

static struct lr_linebuf
buf_of(size_t cap, size_t cap_max)
{
    struct lr_linebuf b = {.buf = malloc(cap + 1), .cap = cap, .cap_max = cap_max};
    cr_assert_not_null(b.buf);
    return b;
}

Test(linebuf, refill_moves_the_partial_line_to_the_front)
{
    int fd = pipe_with("abcdefgh");
    struct lr_linebuf b = buf_of(4, 64);
    cr_assert_eq(lr_linebuf_fill(&b, fd), 4);
    cr_assert(b.start == 0 && b.end == 4 && memcmp(b.buf, "abcd", 4) == 0);
    /* "ab" consumed, "c" scanned: both offsets move with the bytes */
    b.start = 2;
    b.scan = 3;
    cr_assert_eq(lr_linebuf_fill(&b, fd), 2, "room for 2 after the partial line 'cd'");
    cr_assert(b.start == 0 && b.scan == 1 && b.end == 4 && b.cap == 4,
              "start %zu scan %zu end %zu cap %zu", b.start, b.scan, b.end, b.cap);
    cr_assert(memcmp(b.buf, "cdef", 4) == 0, "buffer: %.4s", b.buf);
    free(b.buf);
    close(fd);
}

Test(linebuf, grows_by_doubling_while_a_line_fills_it_up_to_cap_max)
{
    int fd = pipe_with("0123456789abcdefghij");
    struct lr_linebuf b = buf_of(4, 10);
    size_t caps[8], n = 0;
    /* as a reader does: no refill once the partial line is cap_max long */
    while (b.end < b.cap_max && n < 8) {
        cr_assert_gt(lr_linebuf_fill(&b, fd), 0);
        caps[n++] = b.cap;
    }
    /* 4 bytes, then 8 after doubling, then 10 (cap_max) */
    cr_assert(n == 3 && caps[0] == 4 && caps[1] == 8 && caps[2] == 10, "n %zu caps %zu %zu %zu", n,
              caps[0], n > 1 ? caps[1] : 0, n > 2 ? caps[2] : 0);
    cr_assert(b.end == 10 && memcmp(b.buf, "0123456789", 10) == 0, "end %zu", b.end);
    free(b.buf);
    close(fd);
}

Test(linebuf, end_of_file_and_read_errors)
{
    int fd = pipe_with("");
    struct lr_linebuf b = buf_of(4, 8);
    cr_assert_eq(lr_linebuf_fill(&b, fd), 0);
    cr_assert_eq(b.end, 0);
    close(fd);
    errno = 0;
    cr_assert_eq(lr_linebuf_fill(&b, fd), -1, "a closed descriptor");
    cr_assert_eq(errno, EBADF, "errno %d", errno);
    free(b.buf);
}
