/* SPDX-License-Identifier: MIT */
/*
 * The join file (framework/src/formats/joinfile.c): a round trip, the permissions
 * it is written with and insists on, every kind of damage and the message
 * each gives, and removal of only our own job's file. Each test works in a
 * fresh directory under /tmp, removed at the end.
 */
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "joinfile.h"
#include "journal.h" /* loom__crc32c, to forge well-checksummed files */
#include "loom_test.h"

#define GATE "node01.example:40123"

static char base[64];
static char err[LOOM__JOIN_ERR_MAX];

static void
setup(void)
{
    snprintf(base, sizeof base, "/tmp/loom-joinfile-XXXXXX");
    cr_assert_not_null(mkdtemp(base));
}

static int
rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    chmod(p, 0700); /* so a directory made unreadable can be emptied */
    return remove(p);
}

static void
teardown(void)
{
    nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* base/<rel> */
static const char *
at(const char *rel)
{
    static char buf[4][256];
    static int i;
    char *p = buf[i++ % 4];
    snprintf(p, 256, "%s/%s", base, rel);
    return p;
}

static void
write_raw(const char *path, const void *b, size_t n, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert_geq(fd, 0, "open %s", path);
    cr_assert_eq(write(fd, b, n), (ssize_t)n);
    cr_assert_eq(fchmod(fd, mode), 0);
    close(fd);
}

static size_t
read_raw(const char *path, char *b, size_t cap)
{
    int fd = open(path, O_RDONLY);
    cr_assert_geq(fd, 0, "open %s", path);
    ssize_t n = read(fd, b, cap);
    cr_assert_geq(n, 0);
    close(fd);
    return (size_t)n;
}

/* A file of `body` plus its correct check line, mode 0600, as
 * base/d/loom.join; returns base/d. */
static const char *
forge(const char *body)
{
    char buf[LOOM__JOINFILE_MAX * 2];
    size_t n = strlen(body);
    cr_assert_lt(n + 20, sizeof buf);
    memcpy(buf, body, n);
    n += (size_t)snprintf(buf + n, sizeof buf - n, "check %08" PRIx32 "\n",
                          loom__crc32c(0, body, strlen(body)));
    mkdir(at("d"), 0700);
    write_raw(at("d/loom.join"), buf, n, 0600);
    return at("d");
}

static void
sample(struct loom__join_info *ji)
{
    loom_assert_ok(loom__joinfile_init(ji, 40123));
}

/* Expect reading `path` to fail with `code` and an error containing
 * `text`; ji must come back zeroed. */
static void
expect_read(const char *path, loom_err code, const char *text)
{
    struct loom__join_info ji;
    memset(&ji, 0xa5, sizeof ji);
    err[0] = '\0';
    loom_err rc = loom__joinfile_read(path, &ji, err, sizeof err);
    cr_assert_eq(rc, code, "%s: %s (%s), expected %s", path, loom_err_name(rc), err,
                 loom_err_name(code));
    cr_assert(strstr(err, text) != NULL, "'%s' lacks '%s'", err, text);
    static const struct loom__join_info zero;
    if (rc != LOOM_OK)
        cr_assert(memcmp(&ji, &zero, sizeof ji) == 0, "ji not zeroed on failure");
}

#define VALID_FIELDS                                                                               \
    "job 0123456789abcdef0123456789abcdef\n"                                                       \
    "host node01\n"                                                                                \
    "pid 4242\n"                                                                                   \
    "created 1718000000\n"                                                                         \
    "gate " GATE "\n"                                                                              \
    "key 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n"

/* ---- round trip and permissions ------------------------------------------ */

Test(joinfile, round_trip, .init = setup, .fini = teardown, .timeout = 30)
{
    struct loom__join_info w, r;
    sample(&w);
    cr_assert_eq(strlen(w.job), 32u);
    cr_assert_eq(w.pid, (long)getpid());
    loom_assert_ok(loom__joinfile_write(at("serve"), &w, err, sizeof err));
    loom_assert_ok(loom__joinfile_read(at("serve"), &r, err, sizeof err));
    cr_assert_str_eq(r.gate, w.gate);
    cr_assert(strstr(r.gate, ":40123") != NULL, "%s", r.gate);
    cr_assert(memcmp(r.key, w.key, sizeof r.key) == 0);
    cr_assert_str_eq(r.job, w.job);
    cr_assert_str_eq(r.host, w.host);
    cr_assert_eq(r.pid, w.pid);
    cr_assert_eq(r.created, w.created);
    /* The file's own path works too, and so does "dir/". */
    loom_assert_ok(loom__joinfile_read(at("serve/loom.join"), &r, err, sizeof err));
    cr_assert_str_eq(r.job, w.job);
    loom_assert_ok(loom__joinfile_read(at("serve/"), &r, err, sizeof err));
    cr_assert_str_eq(r.job, w.job);

    /* Two inits never share a key or a job id. */
    struct loom__join_info w2;
    sample(&w2);
    cr_assert(memcmp(w2.key, w.key, sizeof w.key) != 0);
    cr_assert(strcmp(w2.job, w.job) != 0);
}

Test(joinfile, modes_are_0700_and_0600_whatever_the_umask, .init = setup, .fini = teardown,
     .timeout = 30)
{
    struct loom__join_info ji;
    sample(&ji);
    static const mode_t masks[] = {0, 022, 077, 0277};
    for (size_t i = 0; i < sizeof masks / sizeof masks[0]; i++) {
        char rel[32];
        snprintf(rel, sizeof rel, "u%zu", i);
        mode_t old = umask(masks[i]);
        loom_err rc = loom__joinfile_write(at(rel), &ji, err, sizeof err);
        umask(old);
        cr_assert_eq(rc, LOOM_OK, "umask %03o: %s", (unsigned)masks[i], err);
        struct stat st;
        cr_assert_eq(stat(at(rel), &st), 0);
        cr_assert_eq(st.st_mode & 07777, 0700u, "dir mode %04o", (unsigned)(st.st_mode & 07777));
        char file[64];
        snprintf(file, sizeof file, "%s/loom.join", rel);
        cr_assert_eq(stat(at(file), &st), 0);
        cr_assert_eq(st.st_mode & 07777, 0600u, "file mode %04o", (unsigned)(st.st_mode & 07777));
    }
    /* A rewrite replaces the file and leaves no temporary behind. */
    loom_assert_ok(loom__joinfile_write(at("u0"), &ji, err, sizeof err));
    char cmd[128];
    snprintf(cmd, sizeof cmd, "test $(ls -A %s | wc -l) -eq 1", at("u0"));
    cr_assert_eq(system(cmd), 0, "more than loom.join in the directory");
}

Test(joinfile, writer_refuses_an_unsafe_directory, .init = setup, .fini = teardown, .timeout = 30)
{
    struct loom__join_info ji;
    sample(&ji);
    static const mode_t bad[] = {0770, 0720, 0707, 0702, 01777};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mkdir(at("shared"), 0700);
        cr_assert_eq(chmod(at("shared"), bad[i]), 0);
        loom_assert_err(loom__joinfile_write(at("shared"), &ji, err, sizeof err), LOOM_EINVAL);
        cr_assert(strstr(err, "writable by group or others") != NULL, "%s", err);
        cr_assert_eq(access(at("shared/loom.join"), F_OK), -1, "a file was written");
    }
    /* Not a directory. */
    write_raw(at("plain"), "x", 1, 0600);
    loom_assert_err(loom__joinfile_write(at("plain"), &ji, err, sizeof err), LOOM_EINVAL);
    cr_assert(strstr(err, "not a directory") != NULL, "%s", err);
    /* Parents are not created. */
    loom_assert_err(loom__joinfile_write(at("no/such"), &ji, err, sizeof err), LOOM_ESYS);
    cr_assert(strstr(err, "cannot create directory") != NULL, "%s", err);
    /* Another user's directory (only root can make one here). */
    if (geteuid() == 0) {
        mkdir(at("theirs"), 0700);
        cr_assert_eq(chown(at("theirs"), 4321, 4321), 0);
        loom_assert_err(loom__joinfile_write(at("theirs"), &ji, err, sizeof err), LOOM_EINVAL);
        cr_assert(strstr(err, "belongs to uid 4321") != NULL, "%s", err);
    }
}

Test(joinfile, writer_refuses_invalid_fields, .init = setup, .fini = teardown, .timeout = 30)
{
    struct loom__join_info ji;
    static const int ports[] = {0, -1, 65536, 1 << 20};
    for (size_t i = 0; i < sizeof ports / sizeof ports[0]; i++)
        loom_assert_err(loom__joinfile_init(&ji, ports[i]), LOOM_EINVAL);
    struct loom__join_info r;
    static const int good[] = {1, 65535};
    for (size_t i = 0; i < 2; i++) {
        loom_assert_ok(loom__joinfile_init(&ji, good[i]));
        loom_assert_ok(loom__joinfile_write(at("edge"), &ji, err, sizeof err));
        loom_assert_ok(loom__joinfile_read(at("edge"), &r, err, sizeof err));
        cr_assert_str_eq(r.gate, ji.gate);
    }
    static const char *const gates[] = {"h", "h:", ":80", "h:0", "h:65536", "h:080", "h:x1"};
    for (size_t i = 0; i < sizeof gates / sizeof gates[0]; i++) {
        sample(&ji);
        snprintf(ji.gate, sizeof ji.gate, "%s", gates[i]);
        loom_assert_err(loom__joinfile_write(at("g"), &ji, err, sizeof err), LOOM_EINVAL);
        cr_assert(strstr(err, "'gate': it is not host:port") != NULL, "%s: %s", gates[i], err);
    }

    sample(&ji);
    ji.gate[3] = ' ';
    loom_assert_err(loom__joinfile_write(at("w1"), &ji, err, sizeof err), LOOM_EINVAL);
    cr_assert(strstr(err, "'gate'") != NULL, "%s", err);
    sample(&ji);
    ji.job[0] = 'G';
    loom_assert_err(loom__joinfile_write(at("w2"), &ji, err, sizeof err), LOOM_EINVAL);
    cr_assert(strstr(err, "'job'") != NULL, "%s", err);
    sample(&ji);
    ji.host[0] = '\0';
    loom_assert_err(loom__joinfile_write(at("w3"), &ji, err, sizeof err), LOOM_EINVAL);
    cr_assert(strstr(err, "'host'") != NULL, "%s", err);
    sample(&ji);
    ji.pid = 0;
    loom_assert_err(loom__joinfile_write(at("w4"), &ji, err, sizeof err), LOOM_EINVAL);
    cr_assert(strstr(err, "'pid'") != NULL, "%s", err);
    sample(&ji);
    ji.created = -1;
    loom_assert_err(loom__joinfile_write(at("w5"), &ji, err, sizeof err), LOOM_EINVAL);
    cr_assert(strstr(err, "'created'") != NULL, "%s", err);
    for (int i = 1; i <= 5; i++) {
        char rel[32];
        snprintf(rel, sizeof rel, "w%d/loom.join", i);
        cr_assert_eq(access(at(rel), F_OK), -1, "%s written", rel);
    }
}

/* ---- the reader's refusals ----------------------------------------------- */

Test(joinfile, no_join_file, .init = setup, .fini = teardown, .timeout = 30)
{
    char want[512];
    snprintf(want, sizeof want, "no join file in %s: is the master running with --serve %s?",
             at("empty"), at("empty"));
    mkdir(at("empty"), 0700);
    expect_read(at("empty"), LOOM_ENOTFOUND, want);
    expect_read(at("empty/loom.join"), LOOM_ENOTFOUND, want);
    expect_read(at("nowhere"), LOOM_ENOTFOUND, "(no such directory): is the master running");
}

Test(joinfile, reader_refuses_loose_permissions, .init = setup, .fini = teardown, .timeout = 30)
{
    struct loom__join_info ji;
    sample(&ji);
    loom_assert_ok(loom__joinfile_write(at("s"), &ji, err, sizeof err));
    static const struct {
        mode_t mode;
        const char *text;
    } cases[] = {
        {0644, "is readable by group or others (mode 0644): refusing it"},
        {0640, "is readable by group or others (mode 0640)"},
        {0604, "is readable by group or others"},
        {0620, "is writable by group or others"},
        {0602, "is writable by group or others"},
        {0610, "is accessible by group or others"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_assert_eq(chmod(at("s/loom.join"), cases[i].mode), 0);
        expect_read(at("s"), LOOM_EINVAL, cases[i].text);
    }
    cr_assert_eq(chmod(at("s/loom.join"), 0600), 0);
    loom_assert_ok(loom__joinfile_read(at("s"), &ji, err, sizeof err));
    /* 0400 is fine: only we can read it. */
    cr_assert_eq(chmod(at("s/loom.join"), 0400), 0);
    loom_assert_ok(loom__joinfile_read(at("s"), &ji, err, sizeof err));

    /* A directory others may write: they could swap the file. */
    cr_assert_eq(chmod(at("s"), 0777), 0);
    expect_read(at("s"), LOOM_EINVAL, "writable by group or others (mode 0777)");
    cr_assert_eq(chmod(at("s"), 01777), 0);
    expect_read(at("s/loom.join"), LOOM_EINVAL, "writable by group or others (mode 1777)");
    cr_assert_eq(chmod(at("s"), 0750), 0);
    loom_assert_ok(loom__joinfile_read(at("s"), &ji, err, sizeof err));

    if (geteuid() == 0) { /* only root can give a file away */
        cr_assert_eq(chown(at("s/loom.join"), 4321, 4321), 0);
        expect_read(at("s"), LOOM_EINVAL, "belongs to uid 4321, not to you (uid 0)");
    }
}

Test(joinfile, reader_refuses_what_is_not_a_plain_file, .init = setup, .fini = teardown,
     .timeout = 30)
{
    struct loom__join_info ji;
    sample(&ji);
    loom_assert_ok(loom__joinfile_write(at("real"), &ji, err, sizeof err));

    /* A directory where the file should be. */
    mkdir(at("d"), 0700);
    mkdir(at("d/loom.join"), 0700);
    expect_read(at("d"), LOOM_EINVAL, "is not a regular file (a directory): refusing it");
    expect_read(at("d/loom.join"), LOOM_EINVAL, "is not a regular file (a directory)");

    /* A symbolic link, even to a good file. */
    mkdir(at("l"), 0700);
    cr_assert_eq(symlink(at("real/loom.join"), at("l/loom.join")), 0);
    expect_read(at("l"), LOOM_EINVAL, "is a symbolic link: refusing it");

    /* A FIFO: refused without blocking on it. */
    mkdir(at("f"), 0700);
    cr_assert_eq(mkfifo(at("f/loom.join"), 0600), 0);
    expect_read(at("f"), LOOM_EINVAL, "not a regular file (a device, FIFO or socket)");

    /* A path through a regular file. */
    expect_read(at("real/loom.join/loom.join"), LOOM_EINVAL, "Not a directory");
}

/* ---- damage --------------------------------------------------------------- */

Test(joinfile, truncated_anywhere_is_corrupted, .init = setup, .fini = teardown, .timeout = 60)
{
    struct loom__join_info ji;
    sample(&ji);
    loom_assert_ok(loom__joinfile_write(at("t"), &ji, err, sizeof err));
    char good[LOOM__JOINFILE_MAX];
    size_t n = read_raw(at("t/loom.join"), good, sizeof good);
    cr_assert_gt(n, 150u);
    char want[256];
    snprintf(want, sizeof want, "corrupted join file %s: ", at("t/loom.join"));
    for (size_t cut = 0; cut < n; cut++) {
        write_raw(at("t/loom.join"), good, cut, 0600);
        expect_read(at("t"), LOOM_EPROTO, want);
    }
    write_raw(at("t/loom.join"), good, n, 0600);
    loom_assert_ok(loom__joinfile_read(at("t"), &ji, err, sizeof err));
    /* The three shapes a cut takes. */
    write_raw(at("t/loom.join"), good, 0, 0600);
    expect_read(at("t"), LOOM_EPROTO, "it is empty");
    write_raw(at("t/loom.join"), good, n - 1, 0600);
    expect_read(at("t"), LOOM_EPROTO, "the last line is incomplete (truncated?)");
    const char *check = strstr(good, "\ncheck ");
    cr_assert_not_null(check);
    write_raw(at("t/loom.join"), good, (size_t)(check - good) + 1, 0600);
    expect_read(at("t"), LOOM_EPROTO, "field 'check' is missing (truncated?)");
}

Test(joinfile, a_changed_byte_fails_the_checksum, .init = setup, .fini = teardown, .timeout = 60)
{
    struct loom__join_info ji;
    sample(&ji);
    loom_assert_ok(loom__joinfile_write(at("c"), &ji, err, sizeof err));
    char good[LOOM__JOINFILE_MAX], bad[LOOM__JOINFILE_MAX];
    size_t n = read_raw(at("c/loom.join"), good, sizeof good);
    const char *key = strstr(good, "\nkey ");
    cr_assert_not_null(key);
    size_t k0 = (size_t)(key - good) + 5;
    /* Every hex digit of the key, changed to another hex digit. */
    for (size_t i = k0; i < k0 + 64; i++) {
        memcpy(bad, good, n);
        bad[i] = bad[i] == '0' ? '1' : '0';
        write_raw(at("c/loom.join"), bad, n, 0600);
        expect_read(at("c"), LOOM_EPROTO,
                    "checksum mismatch: the file was changed or damaged after the master wrote it");
    }
    /* ...and to a character that is no hex digit: told precisely. */
    memcpy(bad, good, n);
    bad[k0 + 10] = 'g';
    write_raw(at("c/loom.join"), bad, n, 0600);
    expect_read(at("c"), LOOM_EPROTO, "line 7: 'key' has a character that is not a hex digit");
    /* Other fields are covered too. */
    memcpy(bad, good, n);
    char *pid = strstr(bad, "\npid ");
    pid[5] = pid[5] == '9' ? '8' : (char)(pid[5] + 1);
    write_raw(at("c/loom.join"), bad, n, 0600);
    expect_read(at("c"), LOOM_EPROTO, "checksum mismatch");
    /* A wrong check value itself. */
    memcpy(bad, good, n);
    char *chk = strstr(bad, "\ncheck ");
    chk[7] = chk[7] == 'a' ? 'b' : 'a';
    write_raw(at("c/loom.join"), bad, n, 0600);
    expect_read(at("c"), LOOM_EPROTO, "checksum mismatch");
}

Test(joinfile, nul_bytes_and_huge_files, .init = setup, .fini = teardown, .timeout = 30)
{
    struct loom__join_info ji;
    sample(&ji);
    loom_assert_ok(loom__joinfile_write(at("z"), &ji, err, sizeof err));
    char good[LOOM__JOINFILE_MAX], bad[LOOM__JOINFILE_MAX];
    size_t n = read_raw(at("z/loom.join"), good, sizeof good);
    memcpy(bad, good, n);
    bad[20] = '\0';
    write_raw(at("z/loom.join"), bad, n, 0600);
    expect_read(at("z"), LOOM_EPROTO, "NUL byte at offset 20");

    /* One byte over the bound, and a mebibyte: neither is read whole. */
    static char huge[1 << 20];
    memset(huge, 'x', sizeof huge);
    memcpy(huge, good, n);
    write_raw(at("z/loom.join"), huge, LOOM__JOINFILE_MAX + 1, 0600);
    expect_read(at("z"), LOOM_EPROTO, "larger than 8192 bytes");
    write_raw(at("z/loom.join"), huge, sizeof huge, 0600);
    expect_read(at("z"), LOOM_EPROTO, "larger than 8192 bytes");
}

Test(joinfile, each_malformed_line_is_named, .init = setup, .fini = teardown, .timeout = 30)
{
    static const struct {
        const char *body;
        loom_err code;
        const char *text;
    } cases[] = {
        {"loom-join 2\n" VALID_FIELDS, LOOM_OK, ""},
        /* any order of the fields between the first and the last line */
        {"loom-join 2\nkey 00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF\n"
         "gate h:1\ncreated 0\npid 1\nhost h\njob 0123456789abcdef0123456789abcdef\n",
         LOOM_OK, ""},
        {"loom-join 3\n" VALID_FIELDS, LOOM_EPROTO,
         "has format version 3; this loom reads version 2"},
        {"loom-join 1\njob 0123456789abcdef0123456789abcdef\nhost h\npid 1\ncreated 1\n"
         "port 2953052161.0:2396165312\nkey 0011\n",
         LOOM_EPROTO, "has format version 1, written by an older loom"},
        {"loom-join one\n" VALID_FIELDS, LOOM_EPROTO, "line 1: the format version is not a number"},
        {"hello world\n" VALID_FIELDS, LOOM_EPROTO, "is not a loom join file"},
        {"loom-join 2\n" VALID_FIELDS "host node02\n", LOOM_EPROTO,
         "line 8: field 'host' appears twice"},
        {"loom-join 2\n" VALID_FIELDS "colour blue\n", LOOM_EPROTO,
         "line 8: unknown field 'colour'"},
        {"loom-join 2\njob 0123456789abcdef0123456789abcdef\nhost h\npid 1\ncreated 1\ngate h:1\n",
         LOOM_EPROTO, "field 'key' is missing"},
        {"loom-join 2\n" VALID_FIELDS "pid\n", LOOM_EPROTO, "line 8: field 'pid' appears twice"},
        {"loom-join 2\n\n" VALID_FIELDS, LOOM_EPROTO, "line 2 is empty"},
        {"loom-join 2\njob\n", LOOM_EPROTO, "line 2: field 'job' has no value"},
        {"loom-join 2\njob 0123456789ABCDEF0123456789abcdef\n", LOOM_EPROTO,
         "line 2: 'job' is not 32 lowercase hex digits"},
        {"loom-join 2\nhost a b\n", LOOM_EPROTO, "line 2: 'host' contains whitespace"},
        {"loom-join 2\nhost \n", LOOM_EPROTO, "line 2: 'host' is empty"},
        {"loom-join 2\ngate a:1\t\n", LOOM_EPROTO, "line 2: 'gate' contains whitespace"},
        {"loom-join 2\ngate a:1\r\n", LOOM_EPROTO, "line 2: 'gate' contains whitespace"},
        {"loom-join 2\ngate a:1\x1b[0m\n", LOOM_EPROTO, "line 2: 'gate' contains whitespace"},
        {"loom-join 2\ngate \n", LOOM_EPROTO, "line 2: 'gate' is empty"},
        {"loom-join 2\ngate node01\n", LOOM_EPROTO, "line 2: 'gate' is not host:port"},
        {"loom-join 2\ngate node01:0\n", LOOM_EPROTO, "line 2: 'gate' is not host:port"},
        {"loom-join 2\ngate node01:65536\n", LOOM_EPROTO, "line 2: 'gate' is not host:port"},
        {"loom-join 2\ngate :80\n", LOOM_EPROTO, "line 2: 'gate' is not host:port"},
        {"loom-join 2\nport p\n", LOOM_EPROTO, "line 2: unknown field 'port'"},
        {"loom-join 2\npid 0\n", LOOM_EPROTO, "line 2: 'pid' is not a process id"},
        {"loom-join 2\npid -5\n", LOOM_EPROTO, "line 2: 'pid' is not a process id"},
        {"loom-join 2\npid 007\n", LOOM_EPROTO, "line 2: 'pid' is not a process id"},
        {"loom-join 2\npid 2147483648\n", LOOM_EPROTO, "line 2: 'pid' is not a process id"},
        {"loom-join 2\ncreated 9223372036854775808\n", LOOM_EPROTO,
         "line 2: 'created' is not a time"},
        {"loom-join 2\ncreated 99999999999999999999\n", LOOM_EPROTO,
         "line 2: 'created' is not a time"},
        {"loom-join 2\nkey 0011\n", LOOM_EPROTO,
         "line 2: 'key' is 4 characters, not 64 hex digits"},
        {"loom-join 2\n" VALID_FIELDS "check 0000000\n", LOOM_EPROTO,
         "line 8: 'check' is not 8 lowercase hex digits"},
        {"loom-join 2\n" VALID_FIELDS "check 0000000G\n", LOOM_EPROTO,
         "line 8: 'check' is not 8 lowercase hex digits"},
        {"loom-join 2\n" VALID_FIELDS "check 00000000\n", LOOM_EPROTO,
         "line 9: text after the 'check' line, which must be the last"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *d = forge(cases[i].body);
        if (cases[i].code == LOOM_OK) {
            struct loom__join_info ji;
            loom_err rc = loom__joinfile_read(d, &ji, err, sizeof err);
            cr_assert_eq(rc, LOOM_OK, "case %zu: %s", i, err);
            cr_assert_eq(ji.key[31], 0xff);
        } else {
            expect_read(d, cases[i].code, cases[i].text);
        }
    }
}

Test(joinfile, an_overlong_line_is_named, .init = setup, .fini = teardown, .timeout = 30)
{
    char body[4096];
    int n = snprintf(body, sizeof body, "loom-join 2\ngate ");
    memset(body + n, 'p', 1200);
    snprintf(body + n + 1200, sizeof body - (size_t)n - 1200, "\n");
    expect_read(forge(body), LOOM_EPROTO, "line 2 is longer than 1100 bytes");
    /* The longest valid gate (299 bytes) is read. */
    memset(body + n, 'p', 293);
    snprintf(body + n + 293, sizeof body - (size_t)n - 293, ":40123\n");
    expect_read(forge(body), LOOM_EPROTO, "field 'job' is missing");
    memset(body + n, 'p', 294);
    snprintf(body + n + 294, sizeof body - (size_t)n - 294, ":40123\n");
    expect_read(forge(body), LOOM_EPROTO, "line 2: 'gate' is too long");
}

/* ---- remove ---------------------------------------------------------------- */

Test(joinfile, remove_only_our_own_job, .init = setup, .fini = teardown, .timeout = 30)
{
    struct loom__join_info a, b;
    sample(&a);
    sample(&b);
    loom_assert_ok(loom__joinfile_write(at("r"), &a, err, sizeof err));
    loom_assert_err(loom__joinfile_remove(at("r"), b.job, err, sizeof err), LOOM_EMISMATCH);
    cr_assert(strstr(err, "left in place") != NULL, "%s", err);
    cr_assert_eq(access(at("r/loom.join"), F_OK), 0);
    loom_assert_ok(loom__joinfile_remove(at("r"), a.job, err, sizeof err));
    cr_assert_eq(access(at("r/loom.join"), F_OK), -1);
    loom_assert_err(loom__joinfile_remove(at("r"), a.job, err, sizeof err), LOOM_ENOTFOUND);

    /* A later master in the same directory replaced ours: its file stays. */
    loom_assert_ok(loom__joinfile_write(at("r"), &a, err, sizeof err));
    loom_assert_ok(loom__joinfile_write(at("r"), &b, err, sizeof err));
    loom_assert_err(loom__joinfile_remove(at("r"), a.job, err, sizeof err), LOOM_EMISMATCH);
    struct loom__join_info r;
    loom_assert_ok(loom__joinfile_read(at("r"), &r, err, sizeof err));
    cr_assert_str_eq(r.job, b.job);

    /* A corrupted file is not provably ours: left. */
    write_raw(at("r/loom.join"), "loom-join 2\n", 12, 0600);
    loom_assert_err(loom__joinfile_remove(at("r"), b.job, err, sizeof err), LOOM_EPROTO);
    cr_assert_eq(access(at("r/loom.join"), F_OK), 0);
}
