/* SPDX-License-Identifier: MIT */
/*
 * wc_table — see wc_table.h. Open addressing with linear probing over a
 * power-of-two array of slots, grown at 3/4 load; each slot keeps the
 * word's full 64-bit hash (so probing compares bytes only on a hash match)
 * and the word's place in an arena of all the words' bytes (so the table
 * holds two allocations however many words it has, and clearing it for the
 * next task costs one memset).
 */
#include "wc_table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define WC_INITIAL_SLOTS ((size_t)1 << 12)

#define A1 1, 1, 1, 1, 1, 1, 1, 1, 1, 1
const unsigned char wc_alnum[256] = {
    ['0'] = A1,                       /* '0'..'9' */
    ['A'] = A1, A1, 1, 1, 1, 1, 1, 1, /* 'A'..'Z' */
    ['a'] = A1, A1, 1, 1, 1, 1, 1, 1, /* 'a'..'z' */
};
#undef A1

/* A fast 64-bit hash of short byte strings: 8 bytes at a time, a
 * multiply-xorshift per word, a final avalanche. Never 0 (0 marks an empty
 * slot). */
static uint64_t
hash_bytes(const unsigned char *p, size_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15u ^ ((uint64_t)n * 0xC2B2AE3D27D4EB4Fu);
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        h = (h ^ v) * 0xFF51AFD7ED558CCDu;
        h ^= h >> 32;
        p += 8;
        n -= 8;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    h = (h ^ v) * 0xC4CEB9FE1A85EC53u;
    h ^= h >> 29;
    h *= 0xFF51AFD7ED558CCDu;
    h ^= h >> 32;
    return h ? h : 1;
}

int
wc_table_init(struct wc_table *t)
{
    memset(t, 0, sizeof *t);
    t->slots = calloc(WC_INITIAL_SLOTS, sizeof *t->slots);
    t->arena_cap = (size_t)1 << 16;
    t->arena = malloc(t->arena_cap);
    if (!t->slots || !t->arena) {
        wc_table_free(t);
        return -1;
    }
    t->cap = WC_INITIAL_SLOTS;
    return 0;
}

void
wc_table_free(struct wc_table *t)
{
    free(t->slots);
    free(t->arena);
    memset(t, 0, sizeof *t);
}

void
wc_table_clear(struct wc_table *t)
{
    memset(t->slots, 0, t->cap * sizeof *t->slots);
    t->n = 0;
    t->arena_len = 0;
    t->words = 0;
}

/* Double the slots and re-place every word. */
static int
grow(struct wc_table *t)
{
    size_t cap = t->cap * 2, mask = cap - 1;
    struct wc_slot *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->slots[i].hash)
            continue;
        size_t j = t->slots[i].hash & mask;
        while (slots[j].hash)
            j = (j + 1) & mask;
        slots[j] = t->slots[i];
    }
    free(t->slots);
    t->slots = slots;
    t->cap = cap;
    return 0;
}

/* memcmp for the short strings words are: inlined, 8 bytes at a time. */
static inline int
same_bytes(const char *a, const unsigned char *b, size_t n)
{
    while (n >= 8) {
        uint64_t x, y;
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        if (x != y)
            return 0;
        a += 8;
        b += 8;
        n -= 8;
    }
    while (n--)
        if ((unsigned char)*a++ != *b++)
            return 0;
    return 1;
}

static int
add_hashed(struct wc_table *t, const unsigned char *word, size_t len, uint64_t h, uint64_t count)
{
    size_t mask = t->cap - 1, i = h & mask;
    for (;; i = (i + 1) & mask) {
        struct wc_slot *s = &t->slots[i];
        if (!s->hash)
            break;
        if (s->hash == h && s->len == len && same_bytes(t->arena + s->off, word, len)) {
            s->count += count;
            t->words += count;
            return 0;
        }
    }
    /* a new word: room in the arena, then in the slots */
    if (len > t->arena_cap - t->arena_len) {
        size_t cap = t->arena_cap;
        while (len > cap - t->arena_len) {
            if (cap > SIZE_MAX / 2)
                return -1;
            cap *= 2;
        }
        char *a = realloc(t->arena, cap);
        if (!a)
            return -1;
        t->arena = a;
        t->arena_cap = cap;
    }
    if ((t->n + 1) * 4 > t->cap * 3) {
        if (grow(t) != 0)
            return -1;
        mask = t->cap - 1;
        for (i = h & mask; t->slots[i].hash; i = (i + 1) & mask)
            ;
    }
    if (len)
        memcpy(t->arena + t->arena_len, word, len);
    t->slots[i] = (struct wc_slot){.hash = h, .count = count, .off = t->arena_len, .len = len};
    t->arena_len += len;
    t->n++;
    t->words += count;
    return 0;
}

int
wc_table_add(struct wc_table *t, const void *word, size_t len, uint64_t count)
{
    return add_hashed(t, word, len, hash_bytes(word, len), count);
}

int
wc_count(struct wc_table *t, const unsigned char *text, size_t n, size_t from, size_t to, int eof,
         size_t *resume)
{
    size_t i = from;
    if (to > n)
        to = n;
    /* a word that began before `from` belongs to whoever counts that byte */
    if (i > 0 && i < n && wc_alnum[text[i - 1]])
        while (i < n && wc_alnum[text[i]])
            i++;
    while (i < to) {
        while (i < to && !wc_alnum[text[i]])
            i++;
        if (i >= to)
            break;
        size_t start = i;
        while (i < n && wc_alnum[text[i]])
            i++;
        if (i == n && !eof) {
            *resume = start;
            return 1;
        }
        if (add_hashed(t, text + start, i - start, hash_bytes(text + start, i - start), 1) != 0)
            return -1;
    }
    return 0;
}

static void
put_u64(unsigned char *out, size_t *len, uint64_t v)
{
    memcpy(out + *len, &v, 8);
    *len += 8;
}

int
wc_table_encode(const struct wc_table *t, unsigned char **out, size_t *cap, size_t *len)
{
    /* exact size first: 8 + 16 per entry + the arena's bytes */
    if (t->n > (SIZE_MAX - 8 - t->arena_len) / 16)
        return -1;
    size_t need = 8 + 16 * t->n + t->arena_len;
    if (need > *cap) {
        unsigned char *b = realloc(*out, need);
        if (!b)
            return -1;
        *out = b;
        *cap = need;
    }
    *len = 0;
    put_u64(*out, len, (uint64_t)t->n);
    for (size_t i = 0; i < t->cap; i++) {
        const struct wc_slot *s = &t->slots[i];
        if (!s->hash)
            continue;
        put_u64(*out, len, s->count);
        put_u64(*out, len, s->len);
        if (s->len)
            memcpy(*out + *len, t->arena + s->off, (size_t)s->len);
        *len += (size_t)s->len;
    }
    return 0;
}

int
wc_table_merge(struct wc_table *t, const void *data, size_t len)
{
    const unsigned char *p = data, *end = p + len;
    uint64_t n, count, wlen;
    if (len < 8)
        return -2;
    memcpy(&n, p, 8);
    p += 8;
    /* every entry takes at least 16 bytes: check the count before trusting it */
    if (n > (uint64_t)(end - p) / 16)
        return -2;
    for (uint64_t k = 0; k < n; k++) {
        if (end - p < 16)
            return -2;
        memcpy(&count, p, 8);
        memcpy(&wlen, p + 8, 8);
        p += 16;
        if (wlen > (uint64_t)(end - p))
            return -2;
        if (wc_table_add(t, p, (size_t)wlen, count) != 0)
            return -1;
        p += wlen;
    }
    return p == end ? 0 : -2;
}

/* qsort context-free comparison: slots point into one arena, reached
 * through a file-level pointer set for the duration of the sort. */
static const char *sort_arena;

static int
cmp_words(const void *a, const void *b)
{
    const struct wc_slot *x = *(const struct wc_slot *const *)a;
    const struct wc_slot *y = *(const struct wc_slot *const *)b;
    size_t n = (size_t)(x->len < y->len ? x->len : y->len);
    int c = n ? memcmp(sort_arena + x->off, sort_arena + y->off, n) : 0;
    if (c)
        return c;
    return (x->len > y->len) - (x->len < y->len);
}

int
wc_table_print(const struct wc_table *t, FILE *fp)
{
    const struct wc_slot **order = malloc((t->n ? t->n : 1) * sizeof *order);
    if (!order) {
        errno = ENOMEM;
        return -1;
    }
    size_t k = 0;
    for (size_t i = 0; i < t->cap; i++)
        if (t->slots[i].hash)
            order[k++] = &t->slots[i];
    sort_arena = t->arena;
    qsort(order, k, sizeof *order, cmp_words);
    int rc = 0;
    for (size_t i = 0; i < k && rc == 0; i++) {
        /* uniq -c: the count right-aligned in 7 columns, a space, the line */
        if (fprintf(fp, "%7llu ", (unsigned long long)order[i]->count) < 0 ||
            fwrite(t->arena + order[i]->off, 1, (size_t)order[i]->len, fp) != order[i]->len ||
            putc('\n', fp) == EOF)
            rc = -1;
    }
    free(order);
    return rc;
}
