/* SPDX-License-Identifier: MIT */
/*
 * wc_table — wordcount's counting table: words (byte strings of any
 * length) to counts, an open-addressing hash table whose keys live in one
 * growing arena. One table per pool thread counts a task's text; the table
 * travels to the master encoded as bytes (wc_table_encode), where the
 * partial tables are merged into one (wc_table_merge) and printed sorted.
 *
 * A word is a maximal run of [:alnum:] bytes in the C locale: 0-9, A-Z,
 * a-z. Every other byte (including every byte >= 0x80) separates words,
 * exactly as `LC_ALL=C tr -cs '[:alnum:]' '\n'` splits them.
 *
 * Not thread-safe: each table belongs to one thread at a time.
 */
#ifndef WC_TABLE_H
#define WC_TABLE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct wc_slot {
    uint64_t hash;  /* 0: empty slot (real hashes are forced non-zero) */
    uint64_t count; /* occurrences */
    uint64_t off;   /* where the word's bytes start in the arena */
    uint64_t len;   /* word length in bytes (0 only for the empty word) */
};

struct wc_table {
    struct wc_slot *slots;
    size_t cap;  /* slots, a power of two */
    size_t n;    /* used slots (distinct words) */
    char *arena; /* the words' bytes, back to back */
    size_t arena_len, arena_cap;
    uint64_t words; /* occurrences counted in all */
};

/* 1 for the bytes that make up words. */
extern const unsigned char wc_alnum[256];

/* Start an empty table. Returns 0, or -1 when out of memory. */
int wc_table_init(struct wc_table *t);
/* Free the table's memory; the table is then zeroed. Accepts a zeroed table. */
void wc_table_free(struct wc_table *t);
/* Forget every word but keep the memory, for the next task. */
void wc_table_clear(struct wc_table *t);

/* Add `count` occurrences of word[0..len). Returns 0 or -1 (out of memory:
 * the table is unchanged). */
int wc_table_add(struct wc_table *t, const void *word, size_t len, uint64_t count);

/*
 * Count the words that *start* in text[from..to) of a buffer holding
 * text[0..n). A word starts at i when text[i] is alphanumeric and i == 0 or
 * text[i-1] is not: so a caller counting a slice of a file passes the byte
 * before the slice at index from - 1, and a word cut by the slice's start
 * is left to the slice before. A word starting before `to` is counted
 * whole, up to the first separator — or up to n when `eof` says the text
 * ends there.
 * Returns 0 when done; 1 when a word starting before `to` runs up to n and
 * the text goes on (!eof): nothing is counted for that word, *resume says
 * where it starts, and the caller reads more text after text[n - 1] and
 * calls again with from = *resume, to = *resume + 1. Returns -1 when out
 * of memory.
 */
int wc_count(struct wc_table *t, const unsigned char *text, size_t n, size_t from, size_t to,
             int eof, size_t *resume);

/*
 * Encode the table as bytes: u64 number of entries, then per entry u64
 * count, u64 length, the word's bytes (host byte order: every rank runs the
 * same binary on the same kind of machine). *out is malloc'd (grown from
 * *cap; both in/out so a thread can reuse one buffer). Returns 0 or -1.
 */
int wc_table_encode(const struct wc_table *t, unsigned char **out, size_t *cap, size_t *len);

/* Add an encoded table to t. Returns 0, -1 (out of memory) or -2 (the
 * bytes are not a well-formed encoding; t may hold part of it). */
int wc_table_merge(struct wc_table *t, const void *data, size_t len);

/* Write the table as `uniq -c` does after `sort` in the C locale: words in
 * byte order (a prefix first), each line "%7<count> <word>\n". Returns 0 or
 * -1 (out of memory or a write error; errno says which). */
int wc_table_print(const struct wc_table *t, FILE *fp);

#endif /* WC_TABLE_H */
