/* SPDX-License-Identifier: MIT */
/*
 * --pipe's blocks (blocks.h): a buffer read up to the next multiple of the
 * block size, cut at the last --recend --recstart (or after every N
 * records, -N), the rest kept for the next block: GNU Parallel's
 * spreadstdin, step for step, so that both tools cut the same blocks.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blocks.h"

#define BLOCK_GROW_MAX ((size_t)INT32_MAX) /* GNU Parallel's 2 GiB - 1 */

struct lr_blocks {
    int fd;
    size_t bs;      /* the block size, grown when a record is longer */
    char *sep;      /* recend then recstart */
    size_t seplen;  /* bytes of sep */
    size_t endlen;  /* of which recend */
    size_t records; /* -N */
    char *buf;      /* the input read; from off on, not yet handed out */
    size_t off;     /* bytes handed out, dropped before the next read */
    size_t len;     /* bytes from off on */
    size_t cap;
    size_t drop; /* bytes handed out last time, dropped at the next call */
    int eof, in_pass, written, done;
    FILE *warn;
};

/* GNU Parallel's escapes in --recstart/--recend: \0 \r \n \t \' \" \\.
 * Appends s to out (room for strlen(s) bytes); returns the bytes added. */
static size_t
unescape(const char *s, char *out)
{
    size_t n = 0;
    for (; *s; s++) {
        const char *e = s[0] == '\\' && s[1] ? strchr("0rnt'\"\\", s[1]) : NULL;
        if (e) {
            out[n++] = "\0\r\n\t'\"\\"[e - "0rnt'\"\\"];
            s++;
        } else {
            out[n++] = *s;
        }
    }
    return n;
}

int
lr_blocks_open(int fd, const struct lr_blocks_opts *o, lr_blocks **out, char *err, size_t errlen)
{
    const char *end = o->recend ? o->recend : o->recstart ? "" : "\n";
    const char *start = o->recstart ? o->recstart : "";
    lr_blocks *b = calloc(1, sizeof *b);
    *out = NULL;
    if (b)
        b->sep = malloc(strlen(end) + strlen(start) + 1);
    if (!b || !b->sep) {
        free(b);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    b->fd = fd;
    b->bs = o->block ? o->block : LR_BLOCK_DEFAULT;
    b->endlen = unescape(end, b->sep);
    b->seplen = b->endlen + unescape(start, b->sep + b->endlen);
    b->records = o->records;
    b->warn = o->warn;
    *out = b;
    return 0;
}

/* Perl's index(buf, sep, from): the first sep at or after from (clamped
 * to the length; an empty sep is found there), or -1. */
static long
index_from(const lr_blocks *b, size_t from)
{
    if (from > b->len)
        from = b->len;
    if (b->seplen == 0)
        return (long)from;
    for (size_t i = from; i + b->seplen <= b->len; i++)
        if (memcmp(b->buf + b->off + i, b->sep, b->seplen) == 0)
            return (long)i;
    return -1;
}

/* Perl's rindex(buf, sep): the last sep, or -1. */
static long
rindex_last(const lr_blocks *b)
{
    if (b->seplen > b->len)
        return -1;
    for (size_t i = b->len - b->seplen + 1; i > 0; i--)
        if (memcmp(b->buf + b->off + i - 1, b->sep, b->seplen) == 0)
            return (long)(i - 1);
    return -1;
}

/* GNU Parallel's nindex: the Nth sep, searching from 1 (a sep at 0 is a
 * record's start), or -1. */
static long
nindex(const lr_blocks *b)
{
    long i = 0;
    for (size_t k = 0; k < b->records && i != -1; k++)
        i = index_from(b, (size_t)i + 1);
    return i;
}

/* Read up to the next multiple of the block size, or the end of input.
 * 0, or -1 (said). */
static int
read_block(lr_blocks *b, char *err, size_t errlen)
{
    size_t want = b->bs - b->len % b->bs;
    if (b->off) { /* what was handed out goes, once a read */
        memmove(b->buf, b->buf + b->off, b->len);
        b->off = 0;
    }
    if (b->len + want > b->cap) {
        char *nb = realloc(b->buf, b->len + want);
        if (!nb) {
            snprintf(err, errlen, "--pipe: out of memory for a block of %zu bytes", b->len + want);
            return -1;
        }
        b->buf = nb;
        b->cap = b->len + want;
    }
    ssize_t n = 1;
    while (want > 0) {
        n = read(b->fd, b->buf + b->len, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err, errlen, "--pipe: reading standard input: %s", strerror(errno));
            return -1;
        }
        if (n == 0)
            break;
        b->len += (size_t)n;
        want -= (size_t)n;
    }
    b->eof = n == 0;
    return 0;
}

/* Nothing could be cut from a full buffer: a record is longer than the
 * block, which grows (GNU Parallel's increase_blocksize_maybe). */
static void
grow_maybe(lr_blocks *b)
{
    if (b->written || b->bs >= BLOCK_GROW_MAX)
        return;
    size_t old = b->bs;
    b->bs = (size_t)ceil((double)b->bs * 1.3 + 1);
    if (b->bs > BLOCK_GROW_MAX)
        b->bs = BLOCK_GROW_MAX;
    if (b->warn)
        fprintf(b->warn, "loom-run: a record was longer than %zu: --block is now %zu\n", old,
                b->bs);
}

/* Hand out the first n bytes. */
static int
emit(lr_blocks *b, size_t n, const char **data, size_t *len)
{
    *data = b->buf + b->off;
    *len = n;
    b->drop = n;
    b->written = 1;
    return 1;
}

int
lr_blocks_next(lr_blocks *b, const char **data, size_t *len, char *err, size_t errlen)
{
    b->off += b->drop;
    b->len -= b->drop;
    b->drop = 0;
    while (!b->done) {
        if (b->in_pass) { /* -N: every group of N records in the buffer */
            long i = nindex(b);
            if (i != -1 && b->len > 0)
                return emit(b, (size_t)i + b->endlen, data, len);
            b->in_pass = 0;
            if (b->eof)
                break;
            grow_maybe(b);
        }
        b->written = 0;
        if (read_block(b, err, errlen) != 0)
            return -1;
        if (b->records) {
            b->in_pass = 1;
            continue;
        }
        if (b->eof)
            break;
        long i = rindex_last(b);
        if (i != -1 && (size_t)i + b->endlen > 0)
            return emit(b, (size_t)i + b->endlen, data, len);
        grow_maybe(b);
    }
    /* the end of the input: what is left is the last block */
    b->done = 1;
    return b->len > 0 ? emit(b, b->len, data, len) : 0;
}

void
lr_blocks_close(lr_blocks *b)
{
    if (!b)
        return;
    free(b->sep);
    free(b->buf);
    free(b);
}

int
lr_size_parse(const char *v, size_t *out)
{
    char *end;
    double d = strtod(v, &end);
    double mul = 1;
    if (end == v || d != d)
        return -1;
    if (*end) {
        const char *u = strchr("kmgtKMGT", *end);
        if (!u)
            return -1;
        int binary = (u - "kmgtKMGT") >= 4 || end[1] == 'i' || end[1] == 'I';
        int power = (int)((u - "kmgtKMGT") % 4) + 1;
        if (end[1] && !((end[1] == 'i' || end[1] == 'I') && !end[2]))
            return -1;
        mul = pow(binary ? 1024.0 : 1000.0, power);
    }
    d *= mul;
    if (!(d >= 1) || d > (double)LR_BLOCK_MAX)
        return -1;
    *out = (size_t)d;
    return 0;
}
