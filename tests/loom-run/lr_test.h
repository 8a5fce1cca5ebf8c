/* SPDX-License-Identifier: MIT */
/*
 * What the tests that run loom-run share: one temporary directory a test
 * (dir), files in it, counting in text and reading job logs. Include it
 * after loom_test.h in a test file; everything is static inline, so a file
 * uses what it needs.
 */
#ifndef LOOM_LR_TEST_H
#define LOOM_LR_TEST_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOOMRUN LOOM_BINARY_DIR "/apps/loom-run/loom-run"

/* The test's own directory, made by lr_test_mkdir. */
static char dir[64];

/* Make dir: /tmp/<prefix>-XXXXXX. */
static inline void
lr_test_mkdir(const char *prefix)
{
    snprintf(dir, sizeof dir, "/tmp/%s-XXXXXX", prefix);
    cr_assert_not_null(mkdtemp(dir), "mkdtemp %s: %s", dir, strerror(errno));
}

/* Remove dir and all in it (a test's .fini): a suite run leaves no
 * directories behind in /tmp. */
static inline void
lr_test_rmdir(void)
{
    if (!dir[0])
        return;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    (void)!system(cmd);
}

/* The path of name in dir, into p (n bytes). */
static inline void
path_in(char *p, size_t n, const char *name)
{
    snprintf(p, n, "%s/%s", dir, name);
}

/* fopen of a file in dir; NULL only for a missing file opened for
 * reading. */
static inline FILE *
open_in(const char *name, const char *mode)
{
    char p[256];
    path_in(p, sizeof p, name);
    FILE *f = fopen(p, mode);
    cr_assert(f || mode[0] == 'r', "%s: %s", p, strerror(errno));
    return f;
}

static inline void
write_file(const char *name, const char *text)
{
    FILE *f = open_in(name, "w");
    fputs(text, f);
    fclose(f);
}

/* A whole file of any size and bytes, NUL-terminated ("" when missing);
 * *len (if len) its size. To free. */
static inline char *
read_bytes(const char *name, size_t *len)
{
    FILE *f = open_in(name, "rb");
    size_t n = 0;
    char *b = NULL;
    if (f) {
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        rewind(f);
        b = malloc((size_t)(size > 0 ? size : 0) + 1);
        cr_assert_not_null(b);
        n = fread(b, 1, (size_t)(size > 0 ? size : 0), f);
        fclose(f);
    } else {
        b = malloc(1);
        cr_assert_not_null(b);
    }
    b[n] = '\0';
    if (len)
        *len = n;
    return b;
}

/* A whole text file ("" when missing). To free. */
static inline char *
read_file(const char *name)
{
    return read_bytes(name, NULL);
}

/* Occurrences of needle in hay, not overlapping. */
static inline int
count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* Lines in a file of any size (0 if missing). */
static inline int
lines_in(const char *name)
{
    char buf[65536];
    FILE *f = open_in(name, "r");
    int n = 0;
    size_t got;
    while (f && (got = fread(buf, 1, sizeof buf, f)) > 0)
        for (size_t i = 0; i < got; i++)
            n += buf[i] == '\n';
    if (f)
        fclose(f);
    return n;
}

/* Job log line of task seq (the first), or NULL. */
static inline const char *
joblog_line(const char *log, unsigned seq)
{
    char key[32];
    snprintf(key, sizeof key, "\n%u\t", seq);
    const char *p = strstr(log, key);
    return p ? p + 1 : NULL;
}

/* Exitval and Signal columns of a job log line. */
static inline void
exit_and_signal(const char *line, int *exitval, int *sig)
{
    cr_assert_not_null(line, "no such line in the job log");
    const char *p = line;
    for (int tab = 0; tab < 6 && *p; p++)
        if (*p == '\t')
            tab++;
    cr_assert_eq(sscanf(p, "%d\t%d", exitval, sig), 2, "line: %.80s", line);
}

/* Seconds on the monotonic clock. */
static inline double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
