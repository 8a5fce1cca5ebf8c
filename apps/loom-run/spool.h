/* SPDX-License-Identifier: MIT */
/*
 * One stream of a task's output held on its way through loom-run, in
 * bounded memory whatever its size: the first LR_SPOOL_MEM bytes in
 * memory, then everything in an unlinked temporary file ($TMPDIR, else
 * /tmp). Used on the worker (what the command writes) and on the master
 * (the pieces that came through the output queue). An optional limit
 * keeps only the first bytes and counts the rest (internal to loom-run;
 * libc only).
 */
#ifndef LOOM_RUN_SPOOL_H
#define LOOM_RUN_SPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* Bytes a spool keeps in memory before it moves to a file. */
#define LR_SPOOL_MEM ((size_t)64 << 10)

struct lr_spool {
    char *mem;      /* the bytes while they fit LR_SPOOL_MEM (fd < 0) */
    size_t cap;     /* of mem */
    int borrowed;   /* mem is someone else's (lr_spool_wrap) */
    int fd;         /* the unlinked file holding every byte, or -1 */
    uint64_t len;   /* bytes held */
    uint64_t total; /* bytes offered: held, and cut at the limit */
    uint64_t limit; /* keep at most this many (0: no limit) */
    int err;        /* errno of the first failure to hold bytes (they were lost), or 0 */
};

/* An empty spool keeping at most limit bytes (0: all). */
void lr_spool_init(struct lr_spool *s, uint64_t limit);

/* A spool over n bytes at p, not copied: they must outlive it (read only,
 * until lr_spool_own or lr_spool_free). */
void lr_spool_wrap(struct lr_spool *s, const char *p, size_t n);

/* Append n bytes (the part over the limit only counted). 0, or -1 when
 * they could not be held (s->err says why; later bytes are counted only). */
int lr_spool_add(struct lr_spool *s, const void *p, size_t n);

/* Up to n bytes from offset off into buf: the count (0 at the end), or -1
 * (errno). */
ssize_t lr_spool_read(const struct lr_spool *s, uint64_t off, void *buf, size_t n);

/* Make a wrapped spool's bytes its own (copied). 0, or -1 (ENOMEM). */
int lr_spool_own(struct lr_spool *s);

/* Free what s holds (the file is closed, so gone); s is empty after. */
void lr_spool_free(struct lr_spool *s);

/* Write all n bytes at buf to fd, again after EINTR and short writes. 0,
 * or -1 (errno; ENOSPC when a write wrote nothing). */
int lr_write_all(int fd, const void *buf, size_t n);

#endif
