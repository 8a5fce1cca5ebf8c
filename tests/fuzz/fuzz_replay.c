/* SPDX-License-Identifier: MIT */
/*
 * The fuzz targets without libFuzzer: run LLVMFuzzerTestOneInput once on
 * every file named on the command line, or in a directory named there
 * (not recursive). Prints how many inputs ran; exits 1 when a path cannot
 * be read or none was found, so an empty or missing corpus fails the test
 * instead of passing it. A crash is the code under test failing (under
 * the ASan build: with the report).
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_common.h"

#define REPLAY_MAX ((size_t)16 << 20) /* no corpus file is larger */

static int
replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "fuzz_replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    uint8_t *buf = malloc(REPLAY_MAX);
    if (!buf)
        abort();
    size_t n = fread(buf, 1, REPLAY_MAX, f);
    int bad = ferror(f) || !feof(f);
    fclose(f);
    if (bad) {
        fprintf(stderr, "fuzz_replay: %s: unreadable or over %zu bytes\n", path, REPLAY_MAX);
        free(buf);
        return -1;
    }
    /* a copy of exactly n bytes, so ASan sees any read past the input */
    uint8_t *in = malloc(n ? n : 1);
    if (!in)
        abort();
    memcpy(in, buf, n);
    free(buf);
    LLVMFuzzerTestOneInput(in, n);
    free(in);
    return 0;
}

static int
replay_dir(const char *dir, unsigned long *count)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "fuzz_replay: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        rc = replay_file(path);
        (*count)++;
    }
    closedir(d);
    return rc;
}

int
main(int argc, char **argv)
{
    unsigned long count = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "fuzz_replay: %s: %s\n", argv[i], strerror(errno));
            return 1;
        }
        int rc = S_ISDIR(st.st_mode) ? replay_dir(argv[i], &count) : replay_file(argv[i]);
        if (!S_ISDIR(st.st_mode))
            count++;
        if (rc != 0)
            return 1;
    }
    printf("fuzz_replay: %lu inputs ran\n", count);
    return count ? 0 : 1;
}
