/* SPDX-License-Identifier: MIT */
/*
 * GNU Parallel's --pipe for loom-run (internal to the app; depends only on
 * libc): standard input cut into blocks, each the standard input of one
 * task, a record never split between two.
 *
 * As GNU Parallel 20221122 cuts them (its spreadstdin): the input is read
 * up to the next multiple of --block bytes; the block handed out ends at
 * the last place where --recend is followed by --recstart (after the
 * --recend); the rest starts the next block. With -N, blocks of exactly N
 * records instead. A buffer that holds no place to cut (a record longer
 * than the block) makes the block 1.3 times bigger, said on warn. What is
 * left at the end of the input is the last block. Memory: about twice the
 * block size, or the longest record.
 */
#ifndef LR_BLOCKS_H
#define LR_BLOCKS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* GNU Parallel's default --block: 1 MiB. */
#define LR_BLOCK_DEFAULT ((size_t)1 << 20)
/* The largest --block loom-run takes (a block travels in one message). */
#define LR_BLOCK_MAX ((size_t)1 << 30)

struct lr_blocks_opts {
    size_t block;         /* --block bytes (0: LR_BLOCK_DEFAULT) */
    const char *recstart; /* --recstart, or NULL when not given */
    const char *recend;   /* --recend, or NULL when not given ("\n" unless
                             --recstart is given: then "") */
    size_t records;       /* -N: records a block (0: as many as fit) */
    FILE *warn;           /* where a block grown is said (NULL: nowhere) */
};

typedef struct lr_blocks lr_blocks;

/*
 * Cut the input read from fd (not closed by lr_blocks_close) as o says.
 * --recstart and --recend take GNU Parallel's escapes \n \t \r \0 \\ \'
 * \". 0, or -1 with the message in err (out of memory).
 */
int lr_blocks_open(int fd, const struct lr_blocks_opts *o, lr_blocks **out, char *err,
                   size_t errlen);

/*
 * The next block: *data and *len, valid until the next call (never empty).
 * Returns 1, 0 at the end of the input, -1 on a read error (said in err).
 * Blocks while the input has no data.
 */
int lr_blocks_next(lr_blocks *b, const char **data, size_t *len, char *err, size_t errlen);

/* Free b (NULL is fine). */
void lr_blocks_close(lr_blocks *b);

/*
 * A --block size as GNU Parallel writes it: a number (fraction allowed)
 * with an optional suffix k m g t (powers of 1000) or K M G T, Ki Mi Gi Ti
 * (powers of 1024, either case). 0, or -1 when v is not one, or is under 1
 * byte or over LR_BLOCK_MAX.
 */
int lr_size_parse(const char *v, size_t *out);

#endif /* LR_BLOCKS_H */
