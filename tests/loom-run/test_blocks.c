/* SPDX-License-Identifier: MIT */
/* --pipe's blocks (blocks.h): standard input cut as GNU Parallel 20221122
 * cuts it (the expected blocks are its output, "cat; printf '|'" a
 * block), a record never split, memory bounded by the block size; and
 * --block's sizes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blocks.h"
#include "loom_test.h"

/* A file descriptor reading len bytes of data (a temporary file). */
static int
input_fd(const char *data, size_t len)
{
    char path[] = "/tmp/blocks-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    unlink(path);
    cr_assert_eq(write(fd, data, len), (ssize_t)len);
    cr_assert_eq(lseek(fd, 0, SEEK_SET), 0);
    return fd;
}

/* Every block of data cut as o says, each followed by '|' (NUL bytes
 * written as '0'). */
static char *
blocks_of(const char *data, size_t len, struct lr_blocks_opts o)
{
    char err[256] = "", *all = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&all, &n);
    int fd = input_fd(data, len);
    lr_blocks *b;
    const char *p;
    size_t l;
    int r;

    cr_assert_eq(lr_blocks_open(fd, &o, &b, err, sizeof err), 0, "%s", err);
    while ((r = lr_blocks_next(b, &p, &l, err, sizeof err)) == 1) {
        cr_assert_gt(l, 0, "an empty block");
        for (size_t i = 0; i < l; i++)
            fputc(p[i] ? p[i] : '0', f);
        fputc('|', f);
    }
    cr_assert_eq(r, 0, "%s", err);
    lr_blocks_close(b);
    close(fd);
    fclose(f);
    return all;
}

static void
expect_blocks(const char *data, size_t len, struct lr_blocks_opts o, const char *want)
{
    char *got = blocks_of(data, len, o);
    cr_assert_str_eq(got, want, "blocks of %zu bytes", len);
    free(got);
}

#define FIVE "aaa\nbbb\nccc\nddd\neee\n"

Test(blocks, lines_up_to_the_block_size, .timeout = 10)
{
    expect_blocks(FIVE, 20, (struct lr_blocks_opts){.block = 10}, "aaa\nbbb\n|ccc\nddd\n|eee\n|");
    /* the default block holds it all */
    expect_blocks(FIVE, 20, (struct lr_blocks_opts){0}, FIVE "|");
    /* no record end at all: the bytes as read */
    expect_blocks(FIVE, 20, (struct lr_blocks_opts){.block = 7, .recend = ""},
                  "aaa\nbbb|\nccc\ndd|d\neee\n|");
}

Test(blocks, records_a_block_with_N, .timeout = 10)
{
    expect_blocks(FIVE, 20, (struct lr_blocks_opts){.records = 2}, "aaa\nbbb\n|ccc\nddd\n|eee\n|");
    /* a last record without its end is a record */
    expect_blocks("aaa\nbbb\nccc", 11, (struct lr_blocks_opts){.block = 3, .records = 1},
                  "aaa\n|bbb\n|ccc|");
}

Test(blocks, a_longer_record_grows_the_block, .timeout = 10)
{
    const char *in = "aaaaaaaaaaaaaaaaaaaa\nb\nc\n";
    expect_blocks(in, strlen(in), (struct lr_blocks_opts){.block = 4},
                  "aaaaaaaaaaaaaaaaaaaa\n|b\nc\n|");
}

Test(blocks, recstart_and_recend, .timeout = 10)
{
    const char *fa = "x1\n> r1\nl1\n> r2\nl2\nl3\n> r3\n> r4\nl4\n";
    expect_blocks(fa, strlen(fa), (struct lr_blocks_opts){.block = 12, .recstart = ">"},
                  "x1\n> r1\nl1\n|> r2\nl2\nl3\n|> r3\n|> r4\nl4\n|");
    const char *semi = "r1 a;;r2 bb;;r3 ccc;;r4 dddd;;";
    expect_blocks(semi, strlen(semi), (struct lr_blocks_opts){.block = 9, .recend = ";;"},
                  "r1 a;;|r2 bb;;|r3 ccc;;|r4 dddd;;|");
    expect_blocks(semi, strlen(semi),
                  (struct lr_blocks_opts){.block = 5, .recend = ";;", .recstart = "r"},
                  "r1 a;;|r2 bb;;|r3 ccc;;|r4 dddd;;|");
    expect_blocks(semi, strlen(semi), (struct lr_blocks_opts){.records = 2, .recend = ";;"},
                  "r1 a;;r2 bb;;|r3 ccc;;r4 dddd;;|");
    /* GNU Parallel's escapes: \0 a NUL byte */
    expect_blocks("a\0bb\0ccc\0d\0", 11, (struct lr_blocks_opts){.block = 3, .recend = "\\0"},
                  "a0|bb0|ccc0|d0|");
}

Test(blocks, empty_input_no_block, .timeout = 10)
{
    expect_blocks("", 0, (struct lr_blocks_opts){0}, "");
    expect_blocks("", 0, (struct lr_blocks_opts){.records = 3}, "");
}

/* 8 MiB of lines in 64 KiB blocks: every block at most two blocks' size,
 * ends with a whole line, and together they are the input. */
Test(blocks, memory_bounded_by_the_block, .timeout = 60)
{
    size_t len = 8u << 20, bs = 64u << 10, off = 0, blocks = 0, maxlen = 0;
    char *in = malloc(len), err[256];
    cr_assert_not_null(in);
    for (size_t i = 0; i < len; i++)
        in[i] = i % 37 == 36 ? '\n' : (char)('a' + i % 26);
    in[len - 1] = '\n';
    int fd = input_fd(in, len);
    lr_blocks *b;
    const char *p;
    size_t l;
    cr_assert_eq(lr_blocks_open(fd, &(struct lr_blocks_opts){.block = bs}, &b, err, sizeof err), 0);
    while (lr_blocks_next(b, &p, &l, err, sizeof err) == 1) {
        cr_assert(memcmp(p, in + off, l) == 0, "block %zu differs from the input", blocks);
        cr_assert_eq(p[l - 1], '\n', "block %zu ends inside a line", blocks);
        off += l;
        blocks++;
        maxlen = l > maxlen ? l : maxlen;
    }
    cr_assert_eq(off, len, "blocks hold %zu of %zu bytes", off, len);
    cr_assert_leq(maxlen, 2 * bs, "a block of %zu bytes (block size %zu)", maxlen, bs);
    cr_assert_geq(blocks, len / (2 * bs), "%zu blocks", blocks);
    lr_blocks_close(b);
    close(fd);
    free(in);
}

Test(blocks, block_sizes_as_gnu_parallel_writes_them, .timeout = 10)
{
    static const struct {
        const char *v;
        size_t want;
    } ok[] = {{"1", 1},         {"10", 10},        {"1k", 1000},       {"1K", 1024},
              {"1Ki", 1024},    {"2ki", 2048},     {"1.5K", 1536},     {"1m", 1000000},
              {"1M", 1u << 20}, {"1Mi", 1u << 20}, {"1g", 1000000000}, {"1G", 1u << 30}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        size_t got = 0;
        cr_assert_eq(lr_size_parse(ok[i].v, &got), 0, "'%s' refused", ok[i].v);
        cr_assert_eq(got, ok[i].want, "'%s': %zu, want %zu", ok[i].v, got, ok[i].want);
    }
    static const char *const bad[] = {"0", "1Q", "", "-1", "2G", "1KB", "k", "0.5", "1t"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t got = 7;
        cr_assert_eq(lr_size_parse(bad[i], &got), -1, "'%s' taken as %zu", bad[i], got);
    }
}

/* -N1 over a 1 MiB block of short lines: each of the 100,000 records is a
 * block of its own, handed out where it was read, without moving the rest
 * of the buffer each time (that would copy some 40 GB here): the 800 KB
 * input is one read, so the records lie one after the other. */
Test(blocks, many_small_records_from_big_blocks, .timeout = 60)
{
    size_t lines = 100000, len = lines * 8, n = 0;
    char *in = malloc(len + 1), err[256]; /* + 1: snprintf's last NUL */
    cr_assert_not_null(in);
    for (size_t i = 0; i < lines; i++)
        snprintf(in + 8 * i, 9, "%07zu\n", i);
    int fd = input_fd(in, len);
    lr_blocks *b;
    const char *p, *first = NULL;
    size_t l;
    struct lr_blocks_opts o = {.block = 1u << 20, .records = 1};
    cr_assert_eq(lr_blocks_open(fd, &o, &b, err, sizeof err), 0);
    while (lr_blocks_next(b, &p, &l, err, sizeof err) == 1) {
        cr_assert_eq(l, 8, "record %zu: %zu bytes", n, l);
        cr_assert(memcmp(p, in + 8 * n, 8) == 0, "record %zu differs", n);
        first = first ? first : p;
        cr_assert_eq(p, first + 8 * n, "record %zu moved in the buffer (at +%td, read at +%zu)", n,
                     p - first, 8 * n);
        n++;
    }
    cr_assert_eq(n, lines);
    lr_blocks_close(b);
    close(fd);
    free(in);
}
