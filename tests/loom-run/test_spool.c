/* SPDX-License-Identifier: MIT */
/* A task's output stream in bounded memory (spool.h): the first bytes in
 * memory, then all of them in an unlinked file; a limit keeps the first
 * bytes and counts the rest; a wrapped buffer becomes the spool's own. */
#include <stdlib.h>
#include <string.h>

#include "loom_test.h"
#include "spool.h"

/* Every byte of s, read back in pieces of `piece` bytes. */
static char *
read_back(const struct lr_spool *s, size_t piece)
{
    char *all = malloc((size_t)s->len + 1);
    uint64_t off = 0;
    while (off < s->len) {
        ssize_t n = lr_spool_read(s, off, all + off, piece);
        cr_assert_gt(n, 0, "read at %llu", (unsigned long long)off);
        off += (uint64_t)n;
    }
    cr_assert_eq(lr_spool_read(s, off, all, piece), 0);
    return all;
}

Test(spool, memory_then_an_unlinked_file)
{
    struct lr_spool s;
    lr_spool_init(&s, 0);
    char chunk[1000];
    size_t want = 3 * LR_SPOOL_MEM + 7;
    char *expect = malloc(want);
    for (size_t i = 0; i < want; i++)
        expect[i] = (char)(i * 31 + 7);
    for (size_t off = 0; off < want; off += sizeof chunk) {
        size_t n = want - off < sizeof chunk ? want - off : sizeof chunk;
        memcpy(chunk, expect + off, n);
        cr_assert_eq(lr_spool_add(&s, chunk, n), 0);
        /* in memory while it fits, then in a file */
        cr_assert_eq(s.fd >= 0, off + n > LR_SPOOL_MEM, "at %zu bytes", off + n);
    }
    cr_assert_eq(s.len, want);
    cr_assert_eq(s.total, want);
    char *got = read_back(&s, 4096);
    cr_assert_eq(memcmp(got, expect, want), 0);
    free(got);
    free(expect);
    lr_spool_free(&s);
    cr_assert_eq(s.fd, -1);
    cr_assert_eq(s.len, 0);
}

Test(spool, a_limit_keeps_the_first_bytes_and_counts_all)
{
    struct lr_spool s;
    lr_spool_init(&s, 10);
    cr_assert_eq(lr_spool_add(&s, "0123456", 7), 0);
    cr_assert_eq(lr_spool_add(&s, "789abcdef", 9), 0);
    cr_assert_eq(s.len, 10);
    cr_assert_eq(s.total, 16);
    char *got = read_back(&s, 3);
    cr_assert_eq(memcmp(got, "0123456789", 10), 0);
    free(got);
    lr_spool_free(&s);
}

Test(spool, a_wrapped_buffer_becomes_its_own)
{
    char buf[] = "hello";
    struct lr_spool s;
    lr_spool_wrap(&s, buf, 5);
    cr_assert_eq(lr_spool_own(&s), 0);
    memcpy(buf, "XXXXX", 5);
    char *got = read_back(&s, 2);
    cr_assert_eq(memcmp(got, "hello", 5), 0);
    free(got);
    lr_spool_free(&s);
}
