/* SPDX-License-Identifier: MIT */
/*
 * Shared by the fuzz targets (tests/fuzz/fuzz_*.c): each defines
 * LLVMFuzzerTestOneInput(). Built with clang's libFuzzer
 * (-DLOOM_FUZZ=ON) they search for crashes; built with any compiler they
 * link fuzz_replay.c, which runs every file of the seed corpus and of the
 * crashes found so far (tests/fuzz/corpus/<target>/) once, as a regular
 * test under the build's sanitizers.
 *
 * The readers under test take a path, so an input is written to a file in
 * a private directory first (mode 0700, the file 0600: what the join file
 * reader demands).
 */
#ifndef LOOM_FUZZ_COMMON_H
#define LOOM_FUZZ_COMMON_H

#include <fcntl.h>
#include <ftw.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_dir_path[256];

static inline int
fuzz_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path) == 0 ? 0 : -1;
}

/* At exit: the private directory and what the inputs left in it. */
static inline void
fuzz_cleanup(void)
{
    nftw(fuzz_dir_path, fuzz_rm, 8, FTW_DEPTH | FTW_PHYS);
}

/* The private directory under $TMPDIR or /tmp, made on first use and
 * removed at exit. */
static inline const char *
fuzz_dir(void)
{
    if (!fuzz_dir_path[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(fuzz_dir_path, sizeof fuzz_dir_path, "%s/loom-fuzz-XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(fuzz_dir_path))
            abort();
        atexit(fuzz_cleanup);
    }
    return fuzz_dir_path;
}

/* Write size bytes to DIR/name (replacing it) and return its path (a
 * static buffer). Aborts when the file cannot be written: that is the
 * harness failing, not the code under test. */
static inline const char *
fuzz_file(const char *name, const uint8_t *data, size_t size)
{
    static char path[320];
    snprintf(path, sizeof path, "%s/%s", fuzz_dir(), name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        abort();
    size_t off = 0;
    while (off < size) {
        ssize_t w = write(fd, data + off, size - off);
        if (w <= 0)
            abort();
        off += (size_t)w;
    }
    close(fd);
    return path;
}

#endif /* LOOM_FUZZ_COMMON_H */
