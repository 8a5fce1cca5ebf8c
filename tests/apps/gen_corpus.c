/* SPDX-License-Identifier: MIT */
/*
 * gen_corpus — writes a text corpus for the wordcount tests, fast.
 *
 *   gen_corpus DIR BYTES BIG_FILES SMALL_FILES SEED
 *
 * Creates DIR (if needed) and writes BIG_FILES files big-NNN.txt sharing
 * BYTES bytes, then SMALL_FILES files small-NNN.txt of 0..8 KiB. The text
 * is words of a fixed vocabulary (drawn with a skewed, Zipf-like
 * distribution, as in real text) between separators that exercise the
 * definition of a word — runs of [:alnum:] in the C locale: spaces,
 * punctuation, tabs, newlines, runs of several separators, and UTF-8 bytes
 * (which are not alphanumeric in the C locale). Every non-empty file ends
 * with a newline, so concatenating the files never joins two words.
 * Small files also hold long words (up to 3000 bytes) and start with a
 * separator now and then.
 *
 * The output depends only on the arguments. Speed: one random number per
 * word and 4 MiB writes, about 1 GiB/s on one core.
 *
 * Exit status: 0 success, 1 an I/O error, 2 usage error.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define VOCAB     50000
#define WORD_MAX  24
#define BLOCK     ((size_t)4 << 20)
#define LONG_WORD 3000

struct word {
    unsigned char len;
    char text[WORD_MAX];
};

static uint64_t rng_state;

static uint64_t
rnd(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

static struct word vocab[VOCAB];
/* Zipf-like word choice: a uniform u in [0, 1) picks word u^3 * VOCAB;
 * tabulated for 16 bits of u so a word costs one random number. */
static uint16_t pick[65536];

/* Separators, weighted by repetition: mostly one space. */
static const char *const seps[] = {
    " ",
    " ",
    " ",
    " ",
    " ",
    " ",
    " ",
    " ",
    " ",
    " ",
    " ",
    " ",
    " ",
    " ",
    " ",
    " ",
    " ",
    " ",
    " ",
    " ",
    ", ",
    ". ",
    "\n",
    "\n",
    ".\n",
    "\t",
    " - ",
    "\xc3\xa9 ",
    " \xe2\x80\x94 ",
    "(",
    ") ",
    "'",
    "\"",
    " _",
    "/",
    ";\n\n",
};
#define NSEPS (sizeof seps / sizeof seps[0])
static unsigned char sep_len[NSEPS];
static char sep_text[NSEPS][8];

static void
make_vocab(void)
{
    for (size_t i = 0; i < 65536; i++) {
        double u = (double)i / 65536.0;
        pick[i] = (uint16_t)(u * u * u * VOCAB);
    }
    for (size_t i = 0; i < NSEPS; i++) {
        sep_len[i] = (unsigned char)strlen(seps[i]);
        memcpy(sep_text[i], seps[i], sep_len[i]);
    }
    static const char letters[] = "etaoinshrdlucmfwypvbgkjqxz";
    for (size_t i = 0; i < VOCAB; i++) {
        uint64_t r = rnd();
        /* length 1..14, mostly 3..9 */
        unsigned len = 1 + (unsigned)(r % 7) + (unsigned)((r >> 8) % 8);
        struct word *w = &vocab[i];
        w->len = (unsigned char)len;
        for (unsigned k = 0; k < len; k++) {
            uint64_t c = rnd();
            /* common letters more often: square a uniform index */
            unsigned idx = (unsigned)((((c & 0xffff) * (c & 0xffff)) >> 16) * 26 >> 16);
            w->text[k] = letters[idx];
            if ((c >> 20) % 50 == 0)
                w->text[k] = (char)('0' + (c >> 28) % 10);
        }
        if (r >> 60 == 0)
            w->text[0] = (char)(w->text[0] - 'a' + 'A'); /* Capitalised */
        if ((r >> 40) % 97 == 0)
            for (unsigned k = 0; k < len; k++) /* ALL CAPS */
                if (w->text[k] >= 'a' && w->text[k] <= 'z')
                    w->text[k] = (char)(w->text[k] - 'a' + 'A');
    }
}

/* Write `total` bytes of text to fd (the last one a newline). */
static int
write_text(int fd, uint64_t total, int small, char *buf)
{
    size_t used = 0;
    uint64_t written = 0;
    if (small && total > 0 && rnd() % 4 == 0)
        buf[used++] = ' '; /* a file that starts with a separator */
    while (written + used + WORD_MAX + 8 + 1 < total) {
        uint64_t r = rnd();
        if (used > BLOCK - WORD_MAX - 8 - LONG_WORD - 2) {
            if (write(fd, buf, used) != (ssize_t)used)
                return -1;
            written += used;
            used = 0;
        }
        if (small && (r >> 40) % 512 == 0) {
            /* a long word, longer than the tests' chunks */
            size_t len = 1 + (size_t)((r >> 20) % LONG_WORD);
            if (written + used + len + 2 >= total)
                break;
            for (size_t k = 0; k < len; k++)
                buf[used + k] = (char)('a' + (k * 7 + (r >> 32)) % 26);
            used += len;
            buf[used++] = ' ';
            continue;
        }
        /* fixed-size copies (the compiler inlines them); only len counts */
        const struct word *w = &vocab[pick[r & 0xffff]];
        size_t s = (size_t)((r >> 16) & 0xff) % NSEPS;
        memcpy(buf + used, w->text, WORD_MAX);
        used += w->len;
        memcpy(buf + used, sep_text[s], 8);
        used += sep_len[s];
    }
    /* pad with a short word so the size is exact, then the final newline */
    while (total > 0 && written + used + 1 < total) {
        if (used + 1 > BLOCK) {
            if (write(fd, buf, used) != (ssize_t)used)
                return -1;
            written += used;
            used = 0;
        }
        buf[used++] = 'x';
    }
    if (total > 0)
        buf[used++] = '\n';
    if (used && write(fd, buf, used) != (ssize_t)used)
        return -1;
    return 0;
}

static int
write_file(const char *dir, const char *kind, unsigned i, uint64_t bytes, int small, char *buf)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s-%03u.txt", dir, kind, i);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        fprintf(stderr, "gen_corpus: %s: %s\n", path, strerror(errno));
        return -1;
    }
    int rc = write_text(fd, bytes, small, buf);
    if (rc != 0)
        fprintf(stderr, "gen_corpus: writing %s: %s\n", path, strerror(errno));
    if (close(fd) != 0 && rc == 0) {
        fprintf(stderr, "gen_corpus: closing %s: %s\n", path, strerror(errno));
        rc = -1;
    }
    return rc;
}

static int
parse(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    if (!*s || *s == '-')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || errno || v > max)
        return -1;
    *out = v;
    return 0;
}

int
main(int argc, char **argv)
{
    uint64_t bytes, big, small, seed;
    if (argc != 6 || parse(argv[2], UINT64_C(1) << 40, &bytes) || parse(argv[3], 1000, &big) ||
        parse(argv[4], 100000, &small) || parse(argv[5], UINT64_MAX, &seed)) {
        fprintf(stderr, "usage: gen_corpus DIR BYTES BIG_FILES SMALL_FILES SEED\n");
        return 2;
    }
    if (mkdir(argv[1], 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "gen_corpus: %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    char *buf = malloc(BLOCK);
    if (!buf) {
        fprintf(stderr, "gen_corpus: out of memory\n");
        return 1;
    }
    int status = 1;
    rng_state = seed;
    make_vocab();
    for (unsigned i = 0; i < big; i++) {
        uint64_t share = bytes / big + (i < bytes % big);
        if (write_file(argv[1], "big", i, share, 0, buf) != 0)
            goto out;
    }
    for (unsigned i = 0; i < small; i++)
        if (write_file(argv[1], "small", i, rnd() % 8193, 1, buf) != 0)
            goto out;
    status = 0;
out:
    free(buf);
    return status;
}
