/* SPDX-License-Identifier: MIT */
/*
 * Tests of loom-run's task files (apps/loom-run/taskfile.c): the streaming
 * reader (comments, CRLF, line limits, NUL bytes, unopenable and unreadable
 * files, stdin, a million lines in bounded memory), the hashes, shell
 * quoting (checked by running /bin/sh) and template expansion (checked
 * against results of GNU Parallel 20221122's --dry-run, hard-coded here).
 *
 * Every test that needs files makes its own mkdtemp directory and removes it.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "loom_test.h"
#include "taskfile.h"

/* ---- Helpers ---- */

static void
make_dir(char *dir, size_t size)
{
    snprintf(dir, size, "/tmp/lr_taskfile.XXXXXX");
    cr_assert(mkdtemp(dir) != NULL, "mkdtemp: %s", strerror(errno));
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void
remove_dir(const char *dir)
{
    cr_assert(nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) == 0, "cannot remove %s", dir);
}

/* Write len bytes to dir/name; the full path goes to path. */
static void
write_file(const char *dir, const char *name, const void *data, size_t len, char *path, size_t size)
{
    FILE *f;

    snprintf(path, size, "%s/%s", dir, name);
    f = fopen(path, "wb");
    cr_assert(f != NULL, "fopen %s: %s", path, strerror(errno));
    cr_assert(fwrite(data, 1, len, f) == len);
    cr_assert(fclose(f) == 0);
}

/* What reading a whole file gave: "lineno:seq:text\n" per task, the last
 * return code, its message and the final counters. */
struct collected {
    char *text;
    size_t len;
    int rc;
    char err[1024];
    struct lr_reader_stats st;
};

static void
collect(const char *path, const struct lr_reader_opts *opts, struct collected *c)
{
    lr_reader *r;
    struct lr_line line;
    char err[1024] = "";
    FILE *m;

    memset(c, 0, sizeof(*c));
    cr_assert(lr_reader_open(path, opts, &r, err, sizeof(err)) == 0, "open: %s", err);
    m = open_memstream(&c->text, &c->len);
    cr_assert(m != NULL);
    while ((c->rc = lr_reader_next(r, &line, c->err, sizeof(c->err))) == 1) {
        cr_assert_eq(strlen(line.text), line.len, "text and len disagree");
        fprintf(m, "%" PRIu64 ":%" PRIu64 ":", line.lineno, line.seq);
        fwrite(line.text, 1, line.len, m);
        fputc('\n', m);
    }
    lr_reader_stats(r, &c->st);
    lr_reader_close(r);
    cr_assert(fclose(m) == 0);
}

/* Read the file made of data with opts; expect the tasks in `want`
 * ("lineno:seq:text\n" each) then the end of the file. */
static void
expect_tasks(const void *data, size_t len, const struct lr_reader_opts *opts, const char *want)
{
    char dir[64], path[128];
    struct collected c;

    make_dir(dir, sizeof(dir));
    write_file(dir, "tasks.txt", data, len, path, sizeof(path));
    collect(path, opts, &c);
    cr_assert_eq(c.rc, 0, "reading ended with %d: %s", c.rc, c.err);
    cr_assert(c.len == strlen(want) && memcmp(c.text, want, c.len) == 0,
              "got tasks\n%s\nwanted\n%s", c.text, want);
    cr_assert(c.st.eof);
    free(c.text);
    remove_dir(dir);
}

/* Read the file made of data with opts; expect the tasks in `want`, then
 * the error "<path><msg>" (msg starts with ':'). */
static void
expect_error(const void *data, size_t len, const struct lr_reader_opts *opts, const char *want,
             const char *msg)
{
    char dir[64], path[128], full[256];
    struct collected c;

    make_dir(dir, sizeof(dir));
    write_file(dir, "tasks.txt", data, len, path, sizeof(path));
    collect(path, opts, &c);
    snprintf(full, sizeof(full), "%s%s", path, msg);
    cr_assert_eq(c.rc, -1, "reading ended with %d, not an error", c.rc);
    cr_assert_str_eq(c.err, full);
    cr_assert(c.len == strlen(want) && memcmp(c.text, want, c.len) == 0,
              "got tasks\n%s\nwanted\n%s", c.text, want);
    cr_assert_not(c.st.eof);
    free(c.text);
    remove_dir(dir);
}

#define STR_AND_LEN(s) s, sizeof(s) - 1

/* Run cmd with /bin/sh -c (popen) and return its whole standard output. */
static char *
sh_output(const char *cmd, size_t *len)
{
    FILE *p = popen(cmd, "r");
    char *out = NULL;
    size_t cap = 0, n;

    cr_assert(p != NULL, "popen: %s", strerror(errno));
    *len = 0;
    do {
        if (*len + 4096 > cap) {
            cap = cap * 2 + 4096;
            out = realloc(out, cap);
            cr_assert(out != NULL);
        }
        n = fread(out + *len, 1, cap - *len, p);
        *len += n;
    } while (n > 0);
    cr_assert_eq(pclose(p), 0, "command failed: %s", cmd);
    return out;
}

/* Peak resident memory of this process in KiB (VmHWM). */
static long
vm_hwm_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;

    cr_assert(f != NULL);
    while (fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
            break;
    fclose(f);
    cr_assert(kib > 0);
    return kib;
}

/* ---- Reader: what is a task ---- */

Test(reader, commands_skip_blanks_and_comments, .timeout = 10)
{
    static const char data[] = "# header\n"
                               "\n"
                               "   # indented comment\n"
                               "\t# tab comment\n"
                               "echo a\n"
                               "  \t \n"
                               "  echo b # not a comment: the shell's business\n"
                               "ls | wc -l > out.txt 2>&1\n"
                               "#last\n";
    struct lr_reader_opts o = {.skip_comments = 1};

    expect_tasks(STR_AND_LEN(data), &o,
                 "5:1:echo a\n"
                 "7:2:  echo b # not a comment: the shell's business\n"
                 "8:3:ls | wc -l > out.txt 2>&1\n");
}

Test(reader, line_numbers_and_task_numbers, .timeout = 10)
{
    char dir[64], path[128];
    struct collected c;
    struct lr_reader_opts o = {.skip_comments = 1};
    static const char data[] = "\n\n# c\na\n\nb\n# d\n\n";

    make_dir(dir, sizeof(dir));
    write_file(dir, "t", STR_AND_LEN(data), path, sizeof(path));
    collect(path, &o, &c);
    cr_assert_eq(c.rc, 0);
    cr_assert_str_eq(c.text, "4:1:a\n6:2:b\n");
    cr_assert_eq(c.st.lines, 8);
    cr_assert_eq(c.st.tasks, 2);
    cr_assert_eq(c.st.bytes, sizeof(data) - 1);
    free(c.text);
    remove_dir(dir);
}

Test(reader, template_inputs_keep_every_line, .timeout = 10)
{
    static const char data[] = "a\n\n# not a comment\n  \n";
    struct lr_reader_opts o = {.skip_comments = 0};

    expect_tasks(STR_AND_LEN(data), &o, "1:1:a\n2:2:\n3:3:# not a comment\n4:4:  \n");
    expect_tasks(STR_AND_LEN("\n"), &o, "1:1:\n");
    expect_tasks(STR_AND_LEN("\n"), NULL, "1:1:\n"); /* NULL opts: input mode */
}

Test(reader, crlf_stripped_by_default, .timeout = 10)
{
    static const char data[] = "echo a\r\n"
                               "echo b\r\n"
                               "\r\n"
                               "# c\r\n"
                               "x\ry\r\n"
                               "two\r\r\n"
                               "last\r";
    struct lr_reader_opts o = {.skip_comments = 1};

    expect_tasks(STR_AND_LEN(data), &o, "1:1:echo a\n2:2:echo b\n5:3:x\ry\n6:4:two\r\n7:5:last\n");
    o.keep_cr = 1;
    expect_tasks(STR_AND_LEN(data), &o,
                 "1:1:echo a\r\n2:2:echo b\r\n5:3:x\ry\r\n6:4:two\r\r\n7:5:last\r\n");
}

Test(reader, last_line_without_newline, .timeout = 10)
{
    struct lr_reader_opts o = {.skip_comments = 1};

    expect_tasks(STR_AND_LEN("a\nb"), &o, "1:1:a\n2:2:b\n");
    expect_tasks(STR_AND_LEN("only"), &o, "1:1:only\n");
    expect_tasks(STR_AND_LEN("a\n# no newline"), &o, "1:1:a\n");
}

/* ---- Reader: bad input ---- */

Test(reader, empty_and_comment_only_files_have_no_tasks, .timeout = 10)
{
    char dir[64], path[128];
    struct collected c;
    struct lr_reader_opts cmd = {.skip_comments = 1}, in = {.skip_comments = 0};

    make_dir(dir, sizeof(dir));
    write_file(dir, "empty", "", 0, path, sizeof(path));
    collect(path, &cmd, &c);
    cr_assert_eq(c.rc, 0);
    cr_assert_eq(c.len, 0);
    cr_assert(c.st.eof);
    cr_assert_eq(c.st.tasks, 0);
    cr_assert_eq(c.st.lines, 0);
    cr_assert_eq(c.st.bytes, 0);
    cr_assert_eq(c.st.raw_hash, lr_task_hash("", 0));
    free(c.text);
    collect(path, &in, &c);
    cr_assert_eq(c.rc, 0);
    cr_assert_eq(c.st.tasks, 0);
    free(c.text);

    write_file(dir, "comments", STR_AND_LEN("# a\n\n   # b\n\t\n# c"), path, sizeof(path));
    collect(path, &cmd, &c);
    cr_assert_eq(c.rc, 0);
    cr_assert(c.st.eof);
    cr_assert_eq(c.st.tasks, 0);
    cr_assert_eq(c.st.lines, 5);
    free(c.text);
    remove_dir(dir);
}

Test(reader, line_of_max_line_bytes_accepted_one_more_refused, .timeout = 30)
{
    const size_t max = LR_MAX_LINE_DEFAULT;
    size_t size = 6 + (max + 1) + (max + 2) + (max + 2) + 5, n = 0;
    char *data = malloc(size);
    char want[64];

    cr_assert_not_null(data);
    memcpy(data + n, "short\n", 6), n += 6;
    memset(data + n, 'x', max), n += max; /* line 2: exactly max, LF */
    data[n++] = '\n';
    memset(data + n, 'y', max), n += max; /* line 3: exactly max, CRLF */
    memcpy(data + n, "\r\n", 2), n += 2;
    memset(data + n, 'z', max + 1), n += max + 1; /* line 4: one too many */
    data[n++] = '\n';
    memcpy(data + n, "more\n", 5), n += 5;
    cr_assert_eq(n, size);

    /* collect() prints the tasks; compare through their lengths instead. */
    {
        char dir[64], path[128], full[256];
        lr_reader *r;
        struct lr_line line;
        char err[256];
        struct lr_reader_opts o = {.skip_comments = 1}; /* max_line 0: 1 MiB */

        make_dir(dir, sizeof(dir));
        write_file(dir, "big.txt", data, size, path, sizeof(path));
        cr_assert(lr_reader_open(path, &o, &r, err, sizeof(err)) == 0, "%s", err);
        cr_assert_eq(lr_reader_next(r, &line, err, sizeof(err)), 1);
        cr_assert_str_eq(line.text, "short");
        cr_assert_eq(lr_reader_next(r, &line, err, sizeof(err)), 1, "%s", err);
        cr_assert_eq(line.len, max);
        cr_assert_eq(line.lineno, 2);
        cr_assert(line.text[0] == 'x' && line.text[max - 1] == 'x' && line.text[max] == '\0');
        cr_assert_eq(lr_reader_next(r, &line, err, sizeof(err)), 1, "%s", err);
        cr_assert_eq(line.len, max);
        cr_assert_eq(line.lineno, 3);
        cr_assert(line.text[max - 1] == 'y' && line.text[max] == '\0');
        cr_assert_eq(lr_reader_next(r, &line, err, sizeof(err)), -1);
        snprintf(full, sizeof(full), "%s:4: line longer than 1048576 bytes", path);
        cr_assert_str_eq(err, full);
        /* Errors are final. */
        err[0] = '\0';
        cr_assert_eq(lr_reader_next(r, &line, err, sizeof(err)), -1);
        cr_assert_str_eq(err, full);
        lr_reader_close(r);

        /* The same limits on a final line without '\n'. */
        write_file(dir, "exact.txt", data + 6, max, path, sizeof(path));
        cr_assert(lr_reader_open(path, &o, &r, err, sizeof(err)) == 0, "%s", err);
        cr_assert_eq(lr_reader_next(r, &line, err, sizeof(err)), 1, "%s", err);
        cr_assert_eq(line.len, max);
        cr_assert_eq(lr_reader_next(r, &line, err, sizeof(err)), 0);
        lr_reader_close(r);
        write_file(dir, "over.txt", data + 6 + 2 * (max + 1) + 1, max + 1, path, sizeof(path));
        cr_assert(lr_reader_open(path, &o, &r, err, sizeof(err)) == 0, "%s", err);
        cr_assert_eq(lr_reader_next(r, &line, err, sizeof(err)), -1);
        snprintf(want, sizeof(want), ":1: line longer than %zu bytes", max);
        snprintf(full, sizeof(full), "%s%s", path, want);
        cr_assert_str_eq(err, full);
        lr_reader_close(r);
        remove_dir(dir);
    }
    free(data);
}

Test(reader, small_max_line, .timeout = 10)
{
    struct lr_reader_opts o = {.max_line = 8, .skip_comments = 1};
    char *big;

    expect_error(STR_AND_LEN("12345678\n123456789\nok\n"), &o, "1:1:12345678\n",
                 ":2: line longer than 8 bytes");
    expect_tasks(STR_AND_LEN("12345678\r\nab\r\n"), &o, "1:1:12345678\n2:2:ab\n");
    /* A comment is a line too. */
    expect_error(STR_AND_LEN("# 34567890\n"), &o, "", ":1: line longer than 8 bytes");
    /* With keep_cr the '\r' is part of the line. */
    o.keep_cr = 1;
    expect_error(STR_AND_LEN("12345678\r\n"), &o, "", ":1: line longer than 8 bytes");
    expect_error(STR_AND_LEN("ok\n123456789"), &o, "1:1:ok\n", ":2: line longer than 8 bytes");

    /* A line far longer than the limit is refused without reading it all. */
    big = malloc(1 << 20);
    cr_assert_not_null(big);
    memset(big, 'a', 1 << 20);
    o.keep_cr = 0;
    expect_error(big, 1 << 20, &o, "", ":1: line longer than 8 bytes");

    /* Limits above the 64 KiB read size: the buffer grows to fit. */
    {
        char dir[64], path[128], full[256], err[256];
        lr_reader *r;
        struct lr_line line;

        o.max_line = 200000;
        big[150000] = '\n';          /* line 1: 150000 bytes */
        big[150001 + 200000] = '\n'; /* line 2: 200000 bytes */
        big[350002 + 200001] = '\n'; /* line 3: 200001 bytes */
        make_dir(dir, sizeof(dir));
        write_file(dir, "grow.txt", big, 550004, path, sizeof(path));
        cr_assert(lr_reader_open(path, &o, &r, err, sizeof(err)) == 0, "%s", err);
        cr_assert_eq(lr_reader_next(r, &line, err, sizeof(err)), 1, "%s", err);
        cr_assert_eq(line.len, 150000);
        cr_assert_eq(lr_reader_next(r, &line, err, sizeof(err)), 1, "%s", err);
        cr_assert_eq(line.len, 200000);
        cr_assert_eq(lr_reader_next(r, &line, err, sizeof(err)), -1);
        snprintf(full, sizeof(full), "%s:3: line longer than 200000 bytes", path);
        cr_assert_str_eq(err, full);
        lr_reader_close(r);
        remove_dir(dir);
    }
    free(big);
}

Test(reader, nul_byte_refused_with_its_line, .timeout = 10)
{
    struct lr_reader_opts cmd = {.skip_comments = 1}, in = {.skip_comments = 0};

    expect_error(STR_AND_LEN("ok\nbad\0line\nmore\n"), &cmd, "1:1:ok\n", ":2: NUL byte in line");
    expect_error(STR_AND_LEN("ok\nbad\0line\nmore\n"), &in, "1:1:ok\n", ":2: NUL byte in line");
    expect_error(STR_AND_LEN("# comment \0\n"), &cmd, "", ":1: NUL byte in line");
    expect_error(STR_AND_LEN("a\n\0"), &in, "1:1:a\n", ":2: NUL byte in line");
}

Test(reader, missing_file, .timeout = 10)
{
    char dir[64], path[128], want[256], err[256] = "";
    lr_reader *r = (lr_reader *)&r;

    make_dir(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/no-such-tasks.txt", dir);
    cr_assert_eq(lr_reader_open(path, NULL, &r, err, sizeof(err)), -1);
    cr_assert_null(r);
    snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", path);
    cr_assert_str_eq(err, want);
    remove_dir(dir);
}

Test(reader, directory_refused, .timeout = 10)
{
    char dir[64], want[256], err[256] = "";
    lr_reader *r;

    make_dir(dir, sizeof(dir));
    cr_assert_eq(lr_reader_open(dir, NULL, &r, err, sizeof(err)), -1);
    cr_assert_null(r);
    snprintf(want, sizeof(want), "%s: is a directory", dir);
    cr_assert_str_eq(err, want);
    remove_dir(dir);
}

/* Permission bits do not stop root, and tests run as root: then a child
 * process gives up root (to nobody, 65534) before trying the file. */
Test(reader, unreadable_file, .timeout = 10)
{
    char dir[64], path[128], want[256], got[256] = "";
    int fds[2], status;
    pid_t pid;
    ssize_t n;

    make_dir(dir, sizeof(dir));
    cr_assert(chmod(dir, 0711) == 0);
    write_file(dir, "secret.txt", STR_AND_LEN("echo hi\n"), path, sizeof(path));
    cr_assert(chmod(path, 0) == 0);
    cr_assert(pipe(fds) == 0);
    pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        char err[256] = "";
        lr_reader *r;
        int rc;

        close(fds[0]);
        if (geteuid() == 0 &&
            (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0)) {
            snprintf(err, sizeof(err), "cannot drop root: %s", strerror(errno));
            rc = 0;
        } else {
            rc = lr_reader_open(path, NULL, &r, err, sizeof(err));
            if (rc == 0)
                lr_reader_close(r);
        }
        if (write(fds[1], err, strlen(err)) < 0)
            _exit(3);
        _exit(rc == -1 ? 0 : 1);
    }
    close(fds[1]);
    n = read(fds[0], got, sizeof(got) - 1);
    cr_assert(n >= 0);
    got[n] = '\0';
    close(fds[0]);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "open did not fail: '%s'", got);
    snprintf(want, sizeof(want), "%s: cannot open: Permission denied", path);
    cr_assert_str_eq(got, want);
    remove_dir(dir);
}

/* /proc/self/mem opens, but reading its address 0 fails with EIO. */
Test(reader, read_error, .timeout = 10)
{
    lr_reader *r;
    struct lr_line line;
    char err[256] = "";

    cr_assert(lr_reader_open("/proc/self/mem", NULL, &r, err, sizeof(err)) == 0, "%s", err);
    cr_assert_eq(lr_reader_next(r, &line, err, sizeof(err)), -1);
    cr_assert_str_eq(err, "/proc/self/mem: read error: Input/output error");
    lr_reader_close(r);
}

Test(reader, bad_options, .timeout = 10)
{
    struct lr_reader_opts o = {.max_line = SIZE_MAX};
    lr_reader *r;
    char err[256] = "";

    cr_assert_eq(lr_reader_open("-", &o, &r, err, sizeof(err)), -1);
    cr_assert_null(r);
    cr_assert(strstr(err, "stdin: line limit") == err, "%s", err);
}

/* ---- Reader: stdin ---- */

/* Put data (small enough for a pipe buffer) on fd 0 through a pipe. */
static int
stdin_from(const void *data, size_t len)
{
    int fds[2];
    int saved = dup(STDIN_FILENO);

    cr_assert(saved >= 0);
    cr_assert(pipe(fds) == 0);
    cr_assert(write(fds[1], data, len) == (ssize_t)len);
    close(fds[1]);
    cr_assert(dup2(fds[0], STDIN_FILENO) == STDIN_FILENO);
    close(fds[0]);
    return saved;
}

static void
stdin_restore(int saved)
{
    cr_assert(dup2(saved, STDIN_FILENO) == STDIN_FILENO);
    close(saved);
}

Test(reader, reads_stdin, .timeout = 10)
{
    struct lr_reader_opts o = {.skip_comments = 1};
    struct collected c;
    int saved = stdin_from(STR_AND_LEN("echo 1\n# c\necho 2 | cat"));

    collect("-", &o, &c);
    cr_assert_eq(c.rc, 0, "%s", c.err);
    cr_assert_str_eq(c.text, "1:1:echo 1\n3:2:echo 2 | cat\n");
    /* The reader did not close the caller's stdin. */
    cr_assert(fcntl(STDIN_FILENO, F_GETFD) != -1);
    free(c.text);
    stdin_restore(saved);

    saved = stdin_from(STR_AND_LEN("a\0b\n"));
    collect("-", &o, &c);
    cr_assert_eq(c.rc, -1);
    cr_assert_str_eq(c.err, "stdin:1: NUL byte in line");
    free(c.text);
    stdin_restore(saved);
}

/* ---- Reader: a million lines in bounded memory ---- */

Test(reader, million_lines_bounded_memory, .timeout = 120)
{
    const long count = 1000000;
    char dir[64], path[128], want[64], err[256];
    FILE *f;
    struct stat st;
    lr_reader *r;
    struct lr_line line;
    struct lr_reader_stats rs;
    struct lr_reader_opts o = {.skip_comments = 1};
    long before, after, i;
    int fd, rc;

    make_dir(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/million.txt", dir);
    f = fopen(path, "w");
    cr_assert_not_null(f);
    for (i = 1; i <= count; i++)
        fprintf(f, "%secho task %07ld\n", i % 1000 == 0 ? "# every thousandth\n" : "", i);
    cr_assert(fclose(f) == 0);
    cr_assert(stat(path, &st) == 0);
    cr_assert_gt(st.st_size, 16 * 1024 * 1024); /* far more than the bound */

    /* Reset VmHWM to the current resident size where the kernel allows it
     * (Linux >= 4.0); otherwise growth is measured from the old peak. */
    fd = open("/proc/self/clear_refs", O_WRONLY);
    if (fd >= 0) {
        if (write(fd, "5", 1) != 1)
            cr_log_info("clear_refs: %s", strerror(errno));
        close(fd);
    }
    before = vm_hwm_kib();

    cr_assert(lr_reader_open(path, &o, &r, err, sizeof(err)) == 0, "%s", err);
    for (i = 1; (rc = lr_reader_next(r, &line, err, sizeof(err))) == 1; i++) {
        int n = snprintf(want, sizeof(want), "echo task %07ld", i);

        if (line.seq != (uint64_t)i || line.lineno != (uint64_t)(i + i / 1000) ||
            line.len != (size_t)n || memcmp(line.text, want, (size_t)n) != 0)
            cr_assert_fail("task %ld: got seq %" PRIu64 " line %" PRIu64 " '%s'", i, line.seq,
                           line.lineno, line.text);
    }
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_eq(i - 1, count);
    lr_reader_stats(r, &rs);
    lr_reader_close(r);
    after = vm_hwm_kib();

    cr_assert_eq(rs.tasks, (uint64_t)count);
    cr_assert_eq(rs.lines, (uint64_t)(count + count / 1000));
    cr_assert_eq(rs.bytes, (uint64_t)st.st_size);
    cr_assert_lt(after - before, 4096, "peak memory grew by %ld KiB reading %lld bytes",
                 after - before, (long long)st.st_size);
    remove_dir(dir);
}

/* ---- Hashes ---- */

Test(hash, fnv1a_64_vectors, .timeout = 10)
{
    cr_assert_eq(lr_task_hash("", 0), UINT64_C(0xcbf29ce484222325));
    cr_assert_eq(lr_task_hash("a", 1), UINT64_C(0xaf63dc4c8601ec8c));
    cr_assert_eq(lr_task_hash("foobar", 6), UINT64_C(0x85944171f73967e8));
}

Test(hash, raw_hash_is_the_whole_file, .timeout = 10)
{
    static const char v1[] = "# version 1\necho a\r\n\necho b";
    static const char v2[] = "# version 2\necho a\r\n\necho b";
    char dir[64], path[128];
    struct collected c1, c2;
    struct lr_reader_opts o = {.skip_comments = 1};

    make_dir(dir, sizeof(dir));
    write_file(dir, "v1", STR_AND_LEN(v1), path, sizeof(path));
    collect(path, &o, &c1);
    write_file(dir, "v2", STR_AND_LEN(v2), path, sizeof(path));
    collect(path, &o, &c2);
    cr_assert_eq(c1.rc, 0);
    cr_assert_eq(c1.st.raw_hash, lr_task_hash(v1, sizeof(v1) - 1));
    cr_assert_eq(c2.st.raw_hash, lr_task_hash(v2, sizeof(v2) - 1));
    cr_assert_neq(c1.st.raw_hash, c2.st.raw_hash);
    /* The tasks themselves did not change. */
    cr_assert_str_eq(c1.text, c2.text);
    free(c1.text);
    free(c2.text);
    remove_dir(dir);
}

/* ---- Shell quoting ---- */

static void
expect_quote(const char *s, const char *want)
{
    char *q = lr_shell_quote(s, strlen(s));

    cr_assert_not_null(q);
    cr_assert_str_eq(q, want, "quote of [%s]", s);
    free(q);
}

Test(quote, forms, .timeout = 10)
{
    expect_quote("", "''");
    expect_quote("abc", "abc");
    expect_quote("dir/a-b_c.d+e", "dir/a-b_c.d+e");
    expect_quote("a b", "'a b'");
    /* GNU Parallel's: ' as '"'"', the empty '' at either end dropped */
    expect_quote("it's", "'it'\"'\"'s'");
    expect_quote("'", "\"'\"");
    expect_quote("'a'", "\"'\"'a'\"'\"");
    expect_quote("$HOME", "'$HOME'");
    expect_quote("~", "'~'");
    expect_quote("a=b", "'a=b'");
    expect_quote("\xc3\xa9", "'\xc3\xa9'");
}

Test(quote, refuses_nul, .timeout = 10)
{
    errno = 0;
    cr_assert_null(lr_shell_quote("a\0b", 3));
    cr_assert_eq(errno, EINVAL);
}

Test(quote, round_trip_through_sh, .timeout = 30)
{
    static const char *const nasty[] = {
        "",
        "'",
        "''",
        "it's",
        "\"dq\"",
        "$HOME",
        "${x:-y}",
        "`id`",
        "$(id)",
        "\\",
        "\\n",
        "a b",
        "  lead",
        "trail  ",
        "t\tab",
        "line\nnext",
        "\r",
        "*",
        "?",
        "[a]",
        "~",
        "~root",
        "!",
        "-n",
        "--",
        ";",
        "&",
        "|",
        "<>",
        "#",
        "a=b",
        "{}",
        "{a,b}",
        "%s",
        "\xc3\xa9",                 /* é */
        "\xe6\xbc\xa2\xe5\xad\x97", /* two CJK characters */
        "\xf0\x9f\x99\x82",         /* an emoji */
        "\xff\xfe",                 /* not UTF-8 */
        "plain",
    };
    const size_t n = sizeof(nasty) / sizeof(nasty[0]);
    char all[255];

    for (int b = 1; b < 256; b++)
        all[b - 1] = (char)b;
    for (size_t i = 0; i <= n; i++) {
        const char *s = i < n ? nasty[i] : all; /* last: every byte but NUL */
        size_t len = i < n ? strlen(s) : sizeof(all), outlen;
        char *q, *cmd, *out;

        q = lr_shell_quote(s, len);
        cr_assert_not_null(q);
        cr_assert(asprintf(&cmd, "printf %%s %s", q) > 0);
        out = sh_output(cmd, &outlen);
        cr_assert(outlen == len && memcmp(out, s, len) == 0, "[%.*s] came back as [%.*s] via %s",
                  (int)len, s, (int)outlen, out, cmd);
        free(out);
        free(cmd);
        free(q);
    }
}

/* ---- Templates ---- */

static void
expect_expand(const char *tmpl, const char *input, uint64_t seq, const char *want)
{
    char err[128] = "";
    char *cmd = lr_template_expand(tmpl, input, strlen(input), seq, err, sizeof(err));

    cr_assert_not_null(cmd, "expand '%s' with [%s]: %s", tmpl, input, err);
    cr_assert_str_eq(cmd, want, "expand '%s' with [%s]", tmpl, input);
    free(cmd);
}

/* Expected values are GNU Parallel 20221122's output for
 *   parallel --dry-run 'echo {} | {.} | {/} | {//} | {/.} | {#}' ::: INPUT
 * byte for byte. */
Test(template, path_placeholders_as_gnu_parallel, .timeout = 10)
{
    static const char *const cases[][2] = {
        {"a.b/c.tar.gz", "echo a.b/c.tar.gz | a.b/c.tar | c.tar.gz | a.b | c.tar | 1"},
        {"a.b/c", "echo a.b/c | a.b/c | c | a.b | c | 1"},
        {".bashrc", "echo .bashrc | '' | .bashrc | . | '' | 1"},
        {"a/.bashrc", "echo a/.bashrc | a/ | .bashrc | a | '' | 1"},
        {"/a/b.c/", "echo /a/b.c/ | /a/b.c/ | '' | /a | '' | 1"},
        {"a/b/", "echo a/b/ | a/b/ | '' | a | '' | 1"},
        {"/", "echo / | / | '' | / | '' | 1"},
        {"", "echo '' | '' | '' | . | '' | 1"},
        {"foo.", "echo foo. | foo | foo. | . | foo | 1"},
        {"a..b", "echo a..b | a. | a..b | . | a. | 1"},
        {"./x.y", "echo ./x.y | ./x | x.y | . | x | 1"},
        {"dir/.hid.txt", "echo dir/.hid.txt | dir/.hid | .hid.txt | dir | .hid | 1"},
        {"x", "echo x | x | x | . | x | 1"},
        {"/x", "echo /x | /x | x | / | x | 1"},
        {"a//b", "echo a//b | a//b | b | a | b | 1"},
        {"a/b//", "echo a/b// | a/b// | '' | a | '' | 1"},
        {"//", "echo // | // | '' | / | '' | 1"},
        {"..", "echo .. | . | .. | . | . | 1"},
        {".", "echo . | '' | . | . | '' | 1"},
        {"a.b.c/", "echo a.b.c/ | a.b.c/ | '' | . | '' | 1"},
        {"c.tar.gz/", "echo c.tar.gz/ | c.tar.gz/ | '' | . | '' | 1"},
        {"it's a $x.txt",
         "echo 'it'\"'\"'s a $x.txt' | 'it'\"'\"'s a $x' | 'it'\"'\"'s a $x.txt' | . "
         "| 'it'\"'\"'s a $x' | 1"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect_expand("echo {} | {.} | {/} | {//} | {/.} | {#}", cases[i][0], 1, cases[i][1]);
}

Test(template, input_appended_only_without_replacement_strings, .timeout = 10)
{
    expect_expand("gzip -9", "a b.txt", 1, "gzip -9 'a b.txt'");
    expect_expand("echo", "", 1, "echo ''");
    expect_expand("echo {foo}", "x", 1, "echo {foo} x");
    /* {#} is a replacement string: GNU Parallel appends nothing then. */
    expect_expand("echo {#}", "x", 7, "echo 7");
    expect_expand("gzip -9 {}", "files/a.txt", 1, "gzip -9 files/a.txt");
    expect_expand("cp {} {.}.bak && echo {#}:{/}", "dir/my file.txt", 12,
                  "cp 'dir/my file.txt' 'dir/my file'.bak && echo 12:'my file.txt'");
}

Test(template, unknown_braces_left_literally, .timeout = 10)
{
    expect_expand("echo {foo} {+.} {..} { } {{}} }{ {", "x", 3,
                  "echo {foo} {+.} {..} { } {x} }{ {");
    expect_expand("{}{}{#}{", "a b", UINT64_MAX, "'a b''a b'18446744073709551615{");
}

Test(template, refuses_perl_replacement_strings, .timeout = 10)
{
    char err[128] = "";

    /* GNU Parallel runs Perl there: never left literal with the input added */
    cr_assert_null(lr_template_expand("echo {= $_ .= 1 =}", "x", 1, 1, err, sizeof(err)));
    cr_assert(strstr(err, "{= perl expression =}"), "err: %s", err);
    cr_assert_null(lr_template_expand("echo {2=s/a/b/=}", "x", 1, 1, err, sizeof(err)));
}

/* Found by fuzz_taskfile (tests/fuzz/corpus/taskfile/perl-unclosed): "{="
 * with no "=}" was refused as Perl. GNU Parallel 20221122 copies it:
 * `parallel --dry-run echo '{=x' ::: a` prints `echo {=x a`, and '{=x}'
 * gives `echo {=x} a`. */
Test(template, an_unclosed_perl_brace_is_literal, .timeout = 10)
{
    expect_expand("echo {=x", "a", 1, "echo {=x a");
    expect_expand("echo {=x}", "a", 1, "echo {=x} a");
    expect_expand("echo {} {2=x", "a", 1, "echo a {2=x");
    char err[128] = "";
    cr_assert_null(lr_template_expand("echo {=x} {= 1 =}", "a", 1, 1, err, sizeof(err)));
    cr_assert(strstr(err, "{= perl expression =}"), "err: %s", err);
}

Test(template, refuses_nul_input, .timeout = 10)
{
    char err[128] = "";

    cr_assert_null(lr_template_expand("echo {}", "a\0b", 3, 1, err, sizeof(err)));
    cr_assert_str_eq(err, "input contains a NUL byte");
}

/* Expanded commands run by /bin/sh see each input as one argument, intact. */
Test(template, nasty_inputs_reach_the_command_intact, .timeout = 30)
{
    static const char *const inputs[] = {
        "it's",
        "\"dq\"",
        "$HOME",
        "`id`",
        "$(id)",
        "a b  c",
        "\\",
        "*",
        "-n",
        "",
        "~",
        "; rm -rf /nonexistent",
        "\xc3\xa9\xe6\xbc\xa2\xf0\x9f\x99\x82",
        "{}",
        "{#}",
        "x\ty",
    };

    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        char err[128] = "", *want, *out;
        size_t outlen;
        char *cmd = lr_template_expand("printf '%s|%s|%s\\n' {} {/} {#}", inputs[i],
                                       strlen(inputs[i]), 42, err, sizeof(err));
        const char *base = strrchr(inputs[i], '/');

        cr_assert_not_null(cmd, "%s", err);
        out = sh_output(cmd, &outlen);
        cr_assert(asprintf(&want, "%s|%s|42\n", inputs[i], base ? base + 1 : inputs[i]) > 0);
        cr_assert(outlen == strlen(want) && memcmp(out, want, outlen) == 0,
                  "[%s] came back as [%.*s] via %s", inputs[i], (int)outlen, out, cmd);
        free(want);
        free(out);
        free(cmd);
    }
}

/* -X (line.context): a word around {} once per argument; other words and
 * {#} once. --pipe (no_append): nothing appended, {} is ''. */
Test(template, context_replace_and_no_append, .timeout = 10)
{
    static const char *const args[] = {"a b", "c.d"};
    static const size_t lens[] = {3, 3};
    struct lr_line line = {.seq = 4, .nargs = 2, .args = args, .arglen = lens, .context = 1};
    char err[256];
    char *cmd = lr_template_line("mv -t dst x{}y {.}.z {#}", &line, "1", err, sizeof err);
    cr_assert_str_eq(cmd, "mv -t dst x'a b'y xc.dy 'a b'.z c.z 4");
    free(cmd);
    cmd = lr_template_line("echo", &line, "1", err, sizeof err);
    cr_assert_str_eq(cmd, "echo 'a b' c.d");
    free(cmd);
    struct lr_line pipe = {.text = "", .seq = 2, .no_append = 1};
    cmd = lr_template_line("wc -l", &pipe, "1", err, sizeof err);
    cr_assert_str_eq(cmd, "wc -l");
    free(cmd);
    cmd = lr_template_line("echo {#} {}", &pipe, "1", err, sizeof err);
    cr_assert_str_eq(cmd, "echo 2 ''");
    free(cmd);
}

/* --tagstring: values as they are (GNU Parallel does not quote them),
 * nothing appended, {%} left to the worker as one NUL byte */
Test(tagstring, unquoted_values_and_the_slot_marker, .timeout = 10)
{
    static const char *const args[] = {"a b", "it's"};
    static const size_t lens[] = {3, 4};
    struct lr_line line = {
        .text = "a b", .len = 3, .seq = 7, .args = args, .arglen = lens, .nargs = 2};
    char err[128] = "";
    size_t len = 0;
    char *tag = lr_tagstring_line("{#}:{2}-{1}<{}>", &line, &len, err, sizeof err);
    cr_assert_not_null(tag, "%s", err);
    cr_assert_str_eq(tag, "7:it's-a b<a b it's>");
    cr_assert_eq(len, strlen(tag));
    free(tag);
    tag = lr_tagstring_line("T", &line, &len, err, sizeof err);
    cr_assert_str_eq(tag, "T", "no replacement string: nothing appended");
    free(tag);
    tag = lr_tagstring_line("s{%}.", &line, &len, err, sizeof err);
    cr_assert_not_null(tag, "%s", err);
    cr_assert(len == 3 && memcmp(tag, "s\0.", 4) == 0, "{%%} gave %zu bytes", len);
    free(tag);
    cr_assert_null(lr_tagstring_line("{= 1 =}", &line, &len, err, sizeof err));
    cr_assert_not_null(strstr(err, "not supported"), "%s", err);
}
