/* SPDX-License-Identifier: MIT */
/* io.c: loom__write_all writes everything or says how much it wrote, and
 * loom__fopen_output makes an emptied, close-on-exec, umask-respecting
 * output file. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io_internal.h"
#include "loom_test.h"

static char base[64];

static void
setup(void)
{
    snprintf(base, sizeof base, "/tmp/loom-io-XXXXXX");
    cr_assert_not_null(mkdtemp(base));
}

/* base/<rel> */
static const char *
at(const char *rel)
{
    static char buf[256];
    snprintf(buf, sizeof buf, "%s/%s", base, rel);
    return buf;
}

static void
teardown(void)
{
    static const char *const made[] = {"out", "capped", "report", "fresh"};
    for (size_t i = 0; i < sizeof made / sizeof made[0]; i++)
        (void)unlink(at(made[i]));
    (void)rmdir(base);
}

/* The file's bytes, malloc'ed; *n of them. */
static char *
slurp(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    cr_assert_not_null(fp, "%s: %s", path, strerror(errno));
    char *b = malloc(1 << 21);
    cr_assert_not_null(b);
    *n = fread(b, 1, 1 << 21, fp);
    fclose(fp);
    return b;
}

Test(io, write_all_writes_every_byte, .init = setup, .fini = teardown)
{
    size_t len = (size_t)1 << 20, done = 0, got;
    char *data = malloc(len);
    cr_assert_not_null(data);
    for (size_t i = 0; i < len; i++)
        data[i] = (char)(i * 7 + i / 251);
    int fd = open(at("out"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    cr_assert_geq(fd, 0);
    cr_assert_eq(loom__write_all(fd, data, len, &done), 0, "errno %s", strerror(errno));
    cr_assert_eq(done, len, "done %zu of %zu", done, len);
    cr_assert_eq(loom__write_all(fd, "tail", 4, NULL), 0, "done may be NULL");
    close(fd);
    char *back = slurp(at("out"), &got);
    cr_assert_eq(got, len + 4, "file has %zu bytes, want %zu", got, len + 4);
    cr_assert(memcmp(back, data, len) == 0 && memcmp(back + len, "tail", 4) == 0);
    free(back);
    free(data);
}

/* A file size limit cuts the write short: the first write takes what fits,
 * the next fails; done tells how far it got. */
Test(io, write_all_reports_how_far_a_failed_write_got, .init = setup, .fini = teardown)
{
    struct rlimit old, lim;
    char data[4096];
    size_t done = 12345;
    memset(data, 'x', sizeof data);
    cr_assert_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 1000;
    signal(SIGXFSZ, SIG_IGN);
    int fd = open(at("capped"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    cr_assert_geq(fd, 0);
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    int rc = loom__write_all(fd, data, sizeof data, &done);
    int e = errno;
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
    close(fd);
    cr_assert_eq(rc, -1);
    cr_assert_eq(e, EFBIG, "errno %s, want EFBIG", strerror(e));
    cr_assert_eq(done, 1000, "done %zu, want 1000", done);
}

Test(io, write_all_failing_at_once_wrote_nothing)
{
    size_t done = 99;
    int fd = open("/dev/full", O_WRONLY | O_CLOEXEC);
    cr_assert_geq(fd, 0, "/dev/full: %s", strerror(errno));
    cr_assert_eq(loom__write_all(fd, "abc", 3, &done), -1);
    cr_assert_eq(errno, ENOSPC, "errno %s", strerror(errno));
    cr_assert_eq(done, 0);
    close(fd);
}

Test(io, fopen_output_empties_the_file_and_keeps_to_the_umask, .init = setup, .fini = teardown)
{
    struct stat st;
    size_t got;
    FILE *fp = fopen(at("report"), "w");
    cr_assert_not_null(fp);
    fputs("an old and longer content", fp);
    fclose(fp);

    fp = loom__fopen_output(at("report"));
    cr_assert_not_null(fp, "%s", strerror(errno));
    int flags = fcntl(fileno(fp), F_GETFD);
    cr_assert(flags >= 0 && (flags & FD_CLOEXEC), "descriptor flags %#x: no FD_CLOEXEC", flags);
    fputs("new", fp);
    cr_assert_eq(fclose(fp), 0);
    char *back = slurp(at("report"), &got);
    cr_assert(got == 3 && memcmp(back, "new", 3) == 0, "file holds %zu bytes: '%.*s'", got,
              (int)got, back);
    free(back);

    mode_t old = umask(027);
    fp = loom__fopen_output(at("fresh"));
    umask(old);
    cr_assert_not_null(fp, "%s", strerror(errno));
    fclose(fp);
    cr_assert_eq(stat(at("fresh"), &st), 0);
    cr_assert_eq(st.st_mode & 07777, 0640, "mode %04o, want 0664 & ~027 = 0640",
                 (unsigned)(st.st_mode & 07777));
}

Test(io, fopen_output_fails_with_errno, .init = setup, .fini = teardown)
{
    errno = 0;
    cr_assert_null(loom__fopen_output(at("no/such/dir/file")));
    cr_assert_eq(errno, ENOENT, "errno %s, want ENOENT", strerror(errno));
}
