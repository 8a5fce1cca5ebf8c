/* SPDX-License-Identifier: MIT */
/*
 * The master's journal (framework/src/formats/journal.c): what is appended reads
 * back; torn tails, zeroed blocks, duplicates and thousands of random
 * mutations are dropped or reported, never trusted and never a crash;
 * SIGKILL at random points loses nothing appended; a full filesystem is a
 * clear error and appending resumes once there is space.
 *
 * Every record written here is make_rec(id): its other fields are a
 * function of its id, so rec_matches() recognises any record the reader
 * passes on that the writer did not write.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <loom/log.h>

#include "internal.h"
#include "journal.h"
#include "loom_test.h"

#define KEY 0x10c0ffee5eedull

/* ---- helpers ------------------------------------------------------------ */

static uint64_t
mix(uint64_t x)
{
    x ^= x >> 31;
    x *= 0x7fb5d329728ea185ull;
    x ^= x >> 27;
    x *= 0x81dadef4bc2dd44dull;
    x ^= x >> 33;
    return x;
}

static uint64_t rng_state;

static uint64_t
rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void
rng_seed(const char *what)
{
    const char *env = getenv("LOOM_TEST_SEED");
    rng_state = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    if (rng_state == 0)
        rng_state = 1;
    fprintf(stderr, "%s: seed %" PRIu64 " (LOOM_TEST_SEED to repeat)\n", what, rng_state);
}

static uint64_t
def_hash(uint64_t id)
{
    return mix(id ^ 0xabcdef);
}

/* Host names of varying length, up to the maximum. */
static void
make_host(uint64_t id, char *host)
{
    size_t len = (size_t)(mix(id) % 40);
    if (id % 97 == 0)
        len = LOOM__JOURNAL_HOST_MAX;
    for (size_t i = 0; i < len; i++)
        host[i] = (char)('a' + (mix(id + i) % 26));
    host[len] = '\0';
}

/* The record with this id; `ok` chooses success or a failure. */
static void
make_rec(uint64_t id, int ok, struct loom__journal_rec *r, char *host)
{
    make_host(id, host);
    *r = (struct loom__journal_rec){
        .task_id = id,
        .def_hash = def_hash(id),
        .attempt = 1 + (uint32_t)(id % 3),
        .status = ok ? 0 : 1,
        .exit_code = ok ? 0 : (int32_t)(id % 200) + 1,
        .signal = ok ? 0 : (int32_t)(id % 2) * 9,
        .rank = 1 + (int32_t)(id % 5),
        .thread = (int32_t)(id % 8),
        .start_ns = 1795733123000000000ll + (int64_t)id * 1000,
        .duration_ns = -(int64_t)id, /* negative on purpose: signed round trip */
        .host = host,
    };
}

/* Was r written by make_rec(r->task_id, ...)? */
static int
rec_matches(const struct loom__journal_rec *r)
{
    char host[LOOM__JOURNAL_HOST_MAX + 1];
    struct loom__journal_rec e;

    make_rec(r->task_id, loom__journal_rec_ok(r), &e, host);
    return r->def_hash == e.def_hash && r->attempt == e.attempt && r->status == e.status &&
           r->exit_code == e.exit_code && r->signal == e.signal && r->rank == e.rank &&
           r->thread == e.thread && r->start_ns == e.start_ns && r->duration_ns == e.duration_ns &&
           strcmp(r->host, host) == 0;
}

/* A fresh directory for one test's files. */
static char *
test_dir(void)
{
    char *d = strdup("/tmp/loom-journal-XXXXXX");
    cr_assert_not_null(d);
    cr_assert_not_null(mkdtemp(d));
    return d;
}

static char *
join(const char *dir, const char *name)
{
    char *p = NULL;
    cr_assert_geq(asprintf(&p, "%s/%s", dir, name), 0);
    return p;
}

static void
rm_dir(char *dir, char **files, int n)
{
    for (int i = 0; i < n; i++) {
        unlink(files[i]);
        free(files[i]);
    }
    rmdir(dir);
    free(dir);
}

static off_t
file_size(const char *path)
{
    struct stat sb;
    cr_assert_eq(stat(path, &sb), 0, "stat %s: %s", path, strerror(errno));
    return sb.st_size;
}

static unsigned char *
slurp(const char *path, size_t *len)
{
    size_t n = (size_t)file_size(path);
    unsigned char *b = malloc(n + 1);
    int fd = open(path, O_RDONLY);
    cr_assert_geq(fd, 0);
    cr_assert_eq(read(fd, b, n), (ssize_t)n);
    close(fd);
    *len = n;
    return b;
}

static void
spit(const char *path, const unsigned char *b, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, b, len), (ssize_t)len);
    close(fd);
}

/* Write a new journal of records first..last (all successes). */
static void
write_journal(const char *path, uint64_t first, uint64_t last)
{
    struct loom__journal_open_opts o = {.job_key = KEY};
    loom__journal *j;
    char err[256], host[LOOM__JOURNAL_HOST_MAX + 1];
    struct loom__journal_rec r;

    loom_assert_ok(loom__journal_open(path, &o, &j, NULL, err, sizeof err));
    loom__journal_set_sync_ms(j, -1);
    for (uint64_t id = first; id <= last; id++) {
        make_rec(id, 1, &r, host);
        loom_assert_ok(loom__journal_append(j, &r));
    }
    loom_assert_ok(loom__journal_close(j));
}

/* Replay collector: checks every record, counts ids, keeps offsets. */
struct seen {
    uint64_t max_id;
    uint32_t count[8192];
    uint64_t off[8192];
    uint64_t order_last;
    int in_order;
    uint64_t n;
};

static loom_err
seen_cb(const struct loom__journal_rec *r, uint64_t off, void *arg)
{
    struct seen *s = arg;
    cr_assert(rec_matches(r), "replay passed on a record nobody wrote (id %" PRIu64 ")",
              r->task_id);
    cr_assert(r->task_id > 0 && r->task_id < 8192, "id %" PRIu64 " out of range", r->task_id);
    s->count[r->task_id]++;
    s->off[r->task_id] = off;
    if (r->task_id > s->max_id)
        s->max_id = r->task_id;
    if (r->task_id <= s->order_last)
        s->in_order = 0;
    s->order_last = r->task_id;
    s->n++;
    return LOOM_OK;
}

static loom_err
replay(const char *path, struct seen *s, struct loom__journal_stats *st)
{
    char err[256] = "";
    uint64_t key = KEY;
    memset(s, 0, sizeof *s);
    s->in_order = 1;
    loom_err rc = loom__journal_replay(path, &key, seen_cb, s, st, err, sizeof err);
    if (rc != LOOM_OK)
        fprintf(stderr, "replay: %s\n", err);
    return rc;
}

static size_t
frame_len(uint64_t id)
{
    char host[LOOM__JOURNAL_HOST_MAX + 1];
    make_host(id, host);
    return 16 + 58 + strlen(host);
}

/* Log lines go to an unlinked file; captured() returns them. */
static int
capture(void)
{
    char path[] = "/tmp/loom-jlog-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    unlink(path);
    loom_log_set_fd(fd);
    return fd;
}

static char *
captured(int fd)
{
    off_t end = lseek(fd, 0, SEEK_END);
    char *buf = malloc((size_t)end + 1);
    cr_assert_eq(pread(fd, buf, (size_t)end, 0), end);
    buf[end] = '\0';
    return buf;
}

static void
uncapture(int fd)
{
    loom_log_set_fd(2);
    close(fd);
}

/* ---- tests -------------------------------------------------------------- */

Test(journal, crc32c_check_value)
{
    /* The standard check value of CRC-32C (RFC 3720 / iSCSI). */
    cr_assert_eq(loom__crc32c(0, "123456789", 9), 0xE3069283u);
    cr_assert_eq(loom__crc32c(loom__crc32c(0, "1234", 4), "56789", 5), 0xE3069283u);
}

Test(journal, def_hash_is_fnv1a_of_name_nul_payload)
{
    /* FNV-1a 64 of "" is its offset basis; of "a" a published value. */
    cr_assert_eq(loom__journal_def_hash(NULL, NULL, 0), 0xaf63bd4c8601b7dfull); /* "\0" */
    cr_assert_eq(loom__journal_def_hash("", "a", 1), loom__journal_def_hash(NULL, "a", 1));
    cr_assert_neq(loom__journal_def_hash("f", "x", 1), loom__journal_def_hash("fx", NULL, 0));
    cr_assert_neq(loom__journal_def_hash("f", "x", 1), loom__journal_def_hash("f", "y", 1));
}

Test(journal, round_trip_and_resume, .timeout = 30)
{
    char *dir = test_dir(), *path = join(dir, "j");
    struct loom__journal_open_opts o = {.job_key = KEY};
    struct loom__journal_stats st;
    loom__journal_done *done;
    loom__journal *j;
    struct seen *s = malloc(sizeof *s);
    char err[256], host[LOOM__JOURNAL_HOST_MAX + 1];
    struct loom__journal_rec r;

    loom_assert_ok(loom__journal_open(path, &o, &j, &st, err, sizeof err));
    cr_assert_eq(st.valid_end, 32);
    for (uint64_t id = 1; id <= 300; id++) {
        make_rec(id, id % 10 != 0, &r, host);
        loom_assert_ok(loom__journal_append(j, &r));
    }
    loom_assert_ok(loom__journal_close(j));
    struct stat sb;
    cr_assert_eq(stat(path, &sb), 0);
    cr_assert_eq(sb.st_mode & 0002, 0, "the journal is world-writable");

    loom_assert_ok(replay(path, s, &st));
    cr_assert_eq(s->n, 300);
    cr_assert(s->in_order);
    cr_assert_eq(st.records, 300);
    cr_assert_eq(st.bad_regions + st.skipped_bytes + st.torn_bytes + st.unknown, 0);
    cr_assert_eq(st.valid_end, (uint64_t)file_size(path));
    cr_assert_eq(st.job_key, KEY);

    /* Resume: the done set sees the failures as not done. */
    loom_assert_ok(loom__journal_done_create(&done));
    o = (struct loom__journal_open_opts){KEY, 1, loom__journal_done_cb, done};
    loom_assert_ok(loom__journal_open(path, &o, &j, &st, err, sizeof err));
    cr_assert_eq(st.records, 300);
    uint64_t keys, ok;
    loom__journal_done_counts(done, &keys, &ok);
    cr_assert_eq(keys, 300);
    cr_assert_eq(ok, 270);
    cr_assert(loom__journal_done_succeeded(done, 7, def_hash(7)));
    cr_assert_not(loom__journal_done_succeeded(done, 10, def_hash(10)));
    cr_assert_not(loom__journal_done_succeeded(done, 7, def_hash(7) + 1));
    cr_assert_not(loom__journal_done_succeeded(done, 301, def_hash(301)));
    /* re-run the failures, as resume would */
    for (uint64_t id = 10; id <= 300; id += 10) {
        make_rec(id, 1, &r, host);
        loom_assert_ok(loom__journal_append(j, &r));
    }
    loom_assert_ok(loom__journal_close(j));
    loom__journal_done_destroy(done);

    loom_assert_ok(loom__journal_done_create(&done));
    loom_assert_ok(
        loom__journal_replay(path, NULL, loom__journal_done_cb, done, &st, err, sizeof err));
    cr_assert_eq(st.records, 330);
    loom__journal_done_counts(done, &keys, &ok);
    cr_assert_eq(keys, 300);
    cr_assert_eq(ok, 300);
    struct loom__journal_done_entry e;
    cr_assert(loom__journal_done_get(done, 20, def_hash(20), &e));
    cr_assert_eq(e.records, 2);
    cr_assert_eq(e.successes, 1);
    loom__journal_done_destroy(done);

    /* A fresh open (resume = 0) starts an empty journal. */
    o = (struct loom__journal_open_opts){.job_key = KEY};
    loom_assert_ok(loom__journal_open(path, &o, &j, NULL, err, sizeof err));
    loom_assert_ok(loom__journal_close(j));
    cr_assert_eq(file_size(path), 32);
    free(s);
    rm_dir(dir, &path, 1);
}

Test(journal, refuses_other_jobs_locked_and_bad_headers, .timeout = 30)
{
    char *dir = test_dir();
    char *files[2] = {join(dir, "j"), join(dir, "x")};
    const char *path = files[0];
    struct loom__journal_open_opts o = {KEY, 1, NULL, NULL};
    struct loom__journal_stats st;
    loom__journal *j, *j2;
    char err[256] = "";
    uint64_t other = KEY + 1;
    size_t len;

    write_journal(path, 1, 5);
    /* another job's key */
    o.job_key = KEY + 1;
    loom_assert_err(loom__journal_open(path, &o, &j, NULL, err, sizeof err), LOOM_EMISMATCH);
    cr_assert_null(j);
    cr_assert(strstr(err, path) && strstr(err, "another job"), "%s", err);
    loom_assert_err(loom__journal_replay(path, &other, NULL, NULL, NULL, err, sizeof err),
                    LOOM_EMISMATCH);
    /* a second writer on the same journal */
    o.job_key = KEY;
    loom_assert_ok(loom__journal_open(path, &o, &j, NULL, err, sizeof err));
    loom_assert_err(loom__journal_open(path, &o, &j2, NULL, err, sizeof err), LOOM_ESTATE);
    cr_assert(strstr(err, "in use"), "%s", err);
    loom_assert_ok(loom__journal_close(j));
    /* not a journal */
    spit(files[1], (const unsigned char *)"Seq\tHost\tStarttime\n", 19);
    loom_assert_err(loom__journal_open(files[1], &o, &j, NULL, err, sizeof err), LOOM_EPROTO);
    cr_assert(strstr(err, "not a loom journal"), "%s", err);
    cr_assert_eq(file_size(files[1]), 19, "a refused file is left alone");
    /* a corrupt header (one bit of the key) */
    unsigned char *b = slurp(path, &len);
    b[17] ^= 4;
    spit(files[1], b, len);
    loom_assert_err(loom__journal_open(files[1], &o, &j, NULL, err, sizeof err), LOOM_EPROTO);
    cr_assert(strstr(err, "header is corrupt"), "%s", err);
    loom_assert_err(loom__journal_replay(files[1], NULL, NULL, NULL, NULL, err, sizeof err),
                    LOOM_EPROTO);
    /* a torn header (crash while creating): no records, restarted */
    loom_log_set_level(LOOM_LOG_ERROR);
    for (size_t cut = 0; cut < 32; cut++) {
        spit(files[1], b, cut);
        loom_assert_ok(loom__journal_replay(files[1], NULL, NULL, NULL, &st, err, sizeof err));
        cr_assert_eq(st.records, 0);
        loom_assert_ok(loom__journal_open(files[1], &o, &j, &st, err, sizeof err));
        cr_assert_eq(st.header_rewritten, cut > 0);
        loom_assert_ok(loom__journal_close(j));
        cr_assert_eq(file_size(files[1]), 32);
    }
    /* a host too long: refused, nothing written */
    char big[LOOM__JOURNAL_HOST_MAX + 2];
    memset(big, 'h', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    struct loom__journal_rec r = {.task_id = 1, .host = big};
    loom_assert_ok(loom__journal_open(path, &o, &j, NULL, err, sizeof err));
    off_t before = file_size(path);
    loom_assert_err(loom__journal_append(j, &r), LOOM_EINVAL);
    cr_assert_eq(file_size(path), before);
    /* bytes outside '!'..'~' in a host are written as '_' */
    r.host = "a b\xd7\n";
    loom_assert_ok(loom__journal_append(j, &r));
    loom_assert_ok(loom__journal_close(j));
    free(b);
    rm_dir(dir, files, 2);
}

Test(journal, torn_tail_dropped_with_warning_and_resumable, .timeout = 60)
{
    char *dir = test_dir();
    char *files[2] = {join(dir, "orig"), join(dir, "j")};
    struct loom__journal_open_opts o = {KEY, 1, NULL, NULL};
    struct loom__journal_stats st;
    struct seen *s = malloc(sizeof *s);
    char err[256], host[LOOM__JOURNAL_HOST_MAX + 1];
    struct loom__journal_rec r;
    loom__journal *j;
    size_t len;

    write_journal(files[0], 1, 10);
    unsigned char *b = slurp(files[0], &len);
    size_t last = frame_len(10), prev = frame_len(9);
    for (size_t cut = 1; cut <= last + prev; cut++) {
        int logfd = capture();
        spit(files[1], b, len - cut);
        uint64_t expect = cut <= last ? 9 : 8;
        uint64_t torn = cut <= last ? last - cut : last + prev - cut;
        loom_assert_ok(replay(files[1], s, &st));
        cr_assert_eq(s->n, expect, "cut %zu: %" PRIu64 " records", cut, s->n);
        cr_assert_eq(st.bad_regions, 0);
        cr_assert_eq(st.torn_bytes, torn, "cut %zu: torn %" PRIu64, cut, st.torn_bytes);
        /* resume: the tail is cut, the lost records appended again */
        loom_assert_ok(loom__journal_open(files[1], &o, &j, &st, err, sizeof err));
        cr_assert_eq((uint64_t)file_size(files[1]), st.valid_end);
        for (uint64_t id = expect + 1; id <= 10; id++) {
            make_rec(id, 1, &r, host);
            loom_assert_ok(loom__journal_append(j, &r));
        }
        loom_assert_ok(loom__journal_close(j));
        char *log = captured(logfd);
        uncapture(logfd);
        if (cut != last && cut != last + prev)
            cr_assert(strstr(log, "torn") && strstr(log, files[1]), "no warning: %s", log);
        free(log);
        loom_assert_ok(replay(files[1], s, &st));
        cr_assert_eq(s->n, 10);
        cr_assert(s->in_order);
        cr_assert_eq(st.torn_bytes + st.bad_regions, 0);
        size_t len2;
        unsigned char *b2 = slurp(files[1], &len2);
        cr_assert_eq(len2, len);
        cr_assert_eq(memcmp(b, b2, len), 0, "resumed journal differs from the original");
        free(b2);
    }
    free(b);
    free(s);
    rm_dir(dir, files, 2);
}

Test(journal, zeroed_block_in_the_middle_is_skipped, .timeout = 30)
{
    char *dir = test_dir(), *path = join(dir, "j");
    struct loom__journal_open_opts o = {KEY, 1, NULL, NULL};
    struct loom__journal_stats st;
    struct seen *s = malloc(sizeof *s);
    char err[256], host[LOOM__JOURNAL_HOST_MAX + 1];
    struct loom__journal_rec r;
    loom__journal *j;
    size_t len;

    write_journal(path, 1, 60);
    unsigned char *b = slurp(path, &len);
    size_t at = len / 2;
    memset(b + at, 0, 200);
    spit(path, b, len);
    int logfd = capture();
    loom_assert_ok(replay(path, s, &st));
    char *log = captured(logfd);
    uncapture(logfd);
    cr_assert(strstr(log, "corrupt bytes") && strstr(log, path), "no warning: %s", log);
    free(log);
    cr_assert_eq(st.bad_regions, 1);
    cr_assert_eq(st.torn_bytes, 0);
    cr_assert_geq(st.skipped_bytes, 200);
    cr_assert_lt(s->n, 60);
    cr_assert_geq(s->n, 55);
    cr_assert_eq(s->count[1] + s->count[60], 2, "records around the damage survive");
    uint64_t lost = 60 - s->n;
    /* Resume keeps the records after the damage and appends after them;
     * the lost tasks run again. */
    loom_assert_ok(loom__journal_open(path, &o, &j, &st, err, sizeof err));
    cr_assert_eq((size_t)file_size(path), len);
    for (uint64_t id = 1; id <= 60; id++) {
        if (s->count[id] == 0) {
            make_rec(id, 1, &r, host);
            loom_assert_ok(loom__journal_append(j, &r));
        }
    }
    loom_assert_ok(loom__journal_close(j));
    loom_assert_ok(replay(path, s, &st));
    cr_assert_eq(s->n, 60);
    for (uint64_t id = 1; id <= 60; id++)
        cr_assert_eq(s->count[id], 1);
    cr_assert_eq(st.bad_regions, 1);
    cr_assert_gt(lost, 0);
    free(b);
    free(s);
    rm_dir(dir, &path, 1);
}

Test(journal, duplicated_record_reported_twice_any_success_wins, .timeout = 30)
{
    char *dir = test_dir(), *path = join(dir, "j");
    struct loom__journal_open_opts o = {KEY, 1, NULL, NULL};
    struct loom__journal_stats st;
    struct seen *s = malloc(sizeof *s);
    char err[256], host[LOOM__JOURNAL_HOST_MAX + 1];
    struct loom__journal_rec r;
    loom__journal *j;
    size_t len;

    write_journal(path, 1, 20);
    loom_assert_ok(replay(path, s, &st));
    unsigned char *b = slurp(path, &len);
    /* Duplicate record 7 in place (after itself) and record 12 at the end. */
    size_t l7 = frame_len(7), l12 = frame_len(12);
    unsigned char *d = malloc(len + l7 + l12);
    size_t o7 = s->off[7], o12 = s->off[12];
    memcpy(d, b, o7 + l7);
    memcpy(d + o7 + l7, b + o7, l7);
    memcpy(d + o7 + 2 * l7, b + o7 + l7, len - o7 - l7);
    memcpy(d + len + l7, b + o12, l12);
    spit(path, d, len + l7 + l12);
    loom_assert_ok(replay(path, s, &st));
    cr_assert_eq(s->n, 22);
    cr_assert_eq(s->count[7], 2);
    cr_assert_eq(s->count[12], 2);
    cr_assert_eq(st.bad_regions + st.torn_bytes, 0);

    /* success, failure, success, failure of one key; a changed definition */
    loom_assert_ok(loom__journal_open(path, &o, &j, NULL, err, sizeof err));
    make_rec(30, 0, &r, host);
    loom_assert_ok(loom__journal_append(j, &r));
    make_rec(30, 1, &r, host);
    loom_assert_ok(loom__journal_append(j, &r));
    make_rec(30, 0, &r, host);
    loom_assert_ok(loom__journal_append(j, &r));
    make_rec(31, 0, &r, host);
    loom_assert_ok(loom__journal_append(j, &r));
    make_rec(5, 1, &r, host);
    r.def_hash ^= 1;
    loom_assert_ok(loom__journal_append(j, &r));
    loom_assert_ok(loom__journal_close(j));

    loom__journal_done *done;
    struct loom__journal_done_entry e;
    uint64_t keys, ok, other;
    loom_assert_ok(loom__journal_done_create(&done));
    loom_assert_ok(
        loom__journal_replay(path, NULL, loom__journal_done_cb, done, &st, err, sizeof err));
    loom__journal_done_counts(done, &keys, &ok);
    cr_assert_eq(keys, 23);
    cr_assert_eq(ok, 22);
    cr_assert(loom__journal_done_get(done, 7, def_hash(7), &e));
    cr_assert_eq(e.records, 2);
    cr_assert_eq(e.successes, 2);
    cr_assert(loom__journal_done_get(done, 30, def_hash(30), &e));
    cr_assert_eq(e.records, 3);
    cr_assert(loom__journal_done_succeeded(done, 30, def_hash(30)), "a later failure undid it");
    cr_assert_not(loom__journal_done_succeeded(done, 31, def_hash(31)));
    cr_assert(loom__journal_done_changed(done, 5, def_hash(5), &other));
    cr_assert_eq(other, def_hash(5) ^ 1);
    cr_assert_not(loom__journal_done_changed(done, 6, def_hash(6), NULL));
    loom__journal_done_destroy(done);
    free(d);
    free(b);
    free(s);
    rm_dir(dir, &path, 1);
}

/* Build a frame with a correct CRC around any payload. */
static size_t
craft(unsigned char *f, uint16_t type, const unsigned char *payload, uint32_t len)
{
    static const unsigned char magic[4] = {0xD7, 'J', 'R', '\n'};
    memcpy(f, magic, 4);
    for (int i = 0; i < 4; i++)
        f[4 + i] = (unsigned char)(len >> (8 * i));
    f[8] = (unsigned char)type;
    f[9] = (unsigned char)(type >> 8);
    f[10] = f[11] = 0;
    memcpy(f + 16, payload, len);
    uint32_t crc = loom__crc32c(loom__crc32c(0, f, 12), payload, len);
    for (int i = 0; i < 4; i++)
        f[12 + i] = (unsigned char)(crc >> (8 * i));
    return 16 + len;
}

Test(journal, checksummed_lies_are_not_trusted, .timeout = 30)
{
    char *dir = test_dir(), *path = join(dir, "j");
    struct loom__journal_stats st;
    struct seen *s = malloc(sizeof *s);
    size_t len, n;

    write_journal(path, 1, 3);
    unsigned char *b = slurp(path, &len);
    size_t first = 32 + frame_len(1);
    unsigned char p[2048] = {0}, f[2100];
    /* a well-formed attempt payload of record 1, then lies about it */
    memcpy(p, b + 32 + 16, frame_len(1) - 16);
    size_t plen = frame_len(1) - 16;
    struct {
        const char *what;
        uint16_t type;
        size_t len;
    } cases[] = {
        {"host_len beyond the payload", 1, plen}, {"payload shorter than the fixed part", 1, 40},
        {"host_len over the maximum", 1, plen},   {"a control byte in the host", 1, plen},
        {"payload over 1024 bytes", 1, 1500},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        unsigned char q[2048];
        memcpy(q, p, sizeof q);
        size_t hl = plen - 58;
        if (c == 0)
            q[56] = (unsigned char)(hl + 1);
        if (c == 2) {
            q[56] = 0;
            q[57] = 1; /* 256 */
        }
        if (c == 3 && hl > 0)
            q[58] = 0x01;
        if (c == 3 && hl == 0)
            continue;
        n = craft(f, cases[c].type, q, (uint32_t)cases[c].len);
        unsigned char *d = malloc(len + n);
        memcpy(d, b, first);
        memcpy(d + first, f, n);
        memcpy(d + first + n, b + first, len - first);
        spit(path, d, len + n);
        free(d);
        loom_assert_ok(replay(path, s, &st));
        cr_assert_eq(s->n, 3, "%s: %" PRIu64 " records", cases[c].what, s->n);
        cr_assert_eq(st.bad_regions, 1, "%s: not reported as corrupt", cases[c].what);
        cr_assert_eq(st.skipped_bytes, n, "%s", cases[c].what);
    }
    /* a frame of a type this version does not know: skipped, counted */
    n = craft(f, 7, (const unsigned char *)"future", 6);
    unsigned char *d = malloc(len + n);
    memcpy(d, b, first);
    memcpy(d + first, f, n);
    memcpy(d + first + n, b + first, len - first);
    spit(path, d, len + n);
    loom_assert_ok(replay(path, s, &st));
    cr_assert_eq(s->n, 3);
    cr_assert_eq(st.unknown, 1);
    cr_assert_eq(st.bad_regions + st.torn_bytes, 0);
    free(d);
    free(b);
    free(s);
    rm_dir(dir, &path, 1);
}

Test(journal, done_set_grows, .timeout = 30)
{
    loom__journal_done *d;
    char host[LOOM__JOURNAL_HOST_MAX + 1];
    struct loom__journal_rec r;
    uint64_t keys, ok;

    loom_assert_ok(loom__journal_done_create(&d));
    for (uint64_t id = 1; id <= 100000; id++) {
        make_rec(id, id % 3 != 0, &r, host);
        loom_assert_ok(loom__journal_done_add(d, &r));
        if (id % 1000 == 0) { /* a second definition of the same id */
            r.def_hash++;
            loom_assert_ok(loom__journal_done_add(d, &r));
        }
    }
    loom__journal_done_counts(d, &keys, &ok);
    cr_assert_eq(keys, 100100);
    for (uint64_t id = 1; id <= 100000; id++) {
        cr_assert_eq(loom__journal_done_succeeded(d, id, def_hash(id)), id % 3 != 0);
        cr_assert_eq(loom__journal_done_changed(d, id, def_hash(id), NULL), id % 1000 == 0);
    }
    loom__journal_done_destroy(d);
    loom__journal_done_destroy(NULL);
}

/* ---- the sync policy, checked at every turn of an owner's loop ----------- */

/* What a journal's owner (an event loop) saw of its syncs, on its own clock
 * (loom__now_ns, the journal's clock too). A "check" is a call that may
 * sync: append or sync_if_due. */
struct stream {
    int64_t oldest_begin, oldest_end; /* the append of the oldest unsynced record */
    int64_t prev_start, prev_end;     /* the previous check, 0 before */
    int64_t t0, worst_age, worst_allowed, worst_wake, worst_append, worst_sync;
    int syncs;
};

/* One check, timed, with what the journal promises asserted on it:
 *  - not late: a check that leaves records unsynced started less than
 *    sync_ms after the oldest one's append returned, else a due sync was
 *    skipped (exact although the journal reads the clock in whole ms: not
 *    due means floor(now) - floor(then) < sync_ms, so now - then < sync_ms);
 *  - not early: a check that synced ended more than sync_ms - 1 ms (that
 *    whole-ms reading) after the oldest record's append began.
 * So the oldest record's age when its sync began is under sync_ms + the
 * time since the check before + the append's own duration: what the
 * machine's scheduling added between checks (the owner's contract is a
 * check at least every 10 ms) is measured here, never assumed. */
static void
stream_check(struct stream *s, loom__journal *j, uint64_t append_id)
{
    const int64_t ms = 1000000, sync_ns = LOOM__JOURNAL_SYNC_MS_DEFAULT * ms;
    char host[LOOM__JOURNAL_HOST_MAX + 1];
    struct loom__journal_rec r;
    uint64_t had = loom__journal_unsynced(j);
    if (append_id)
        make_rec(append_id, 1, &r, host);
    int64_t start = loom__now_ns();
    loom_assert_ok(append_id ? loom__journal_append(j, &r) : loom__journal_sync_if_due(j));
    int64_t end = loom__now_ns(), gap = s->prev_start ? start - s->prev_start : 0;
    uint64_t left = loom__journal_unsynced(j);
    if (s->prev_end && start - s->prev_end > s->worst_wake)
        s->worst_wake = start - s->prev_end;
    s->prev_start = start;
    s->prev_end = end;
    if (had == 0 && left > 0) { /* this append's record is the oldest */
        s->oldest_begin = start;
        s->oldest_end = end;
        if (end - start > s->worst_append)
            s->worst_append = end - start;
    } else if (had > 0 && left > 0) {
        cr_assert_lt(start - s->oldest_end, sync_ns,
                     "no sync although the oldest record's append had returned %.1f ms before "
                     "(sync_ms %d)",
                     (start - s->oldest_end) / 1e6, LOOM__JOURNAL_SYNC_MS_DEFAULT);
    } else if (had > 0) {
        int64_t age = start - s->oldest_begin;
        int64_t allowed = sync_ns + gap + (s->oldest_end - s->oldest_begin);
        cr_assert_gt(end - s->oldest_begin, sync_ns - ms,
                     "synced early: the oldest record was %.1f ms old (sync_ms %d)",
                     (end - s->oldest_begin) / 1e6, LOOM__JOURNAL_SYNC_MS_DEFAULT);
        cr_assert_lt(age, allowed,
                     "synced late: the oldest record was %.1f ms old when the sync began; "
                     "sync_ms %d + %.1f ms since the previous check + %.1f ms of append allow "
                     "%.1f ms",
                     age / 1e6, LOOM__JOURNAL_SYNC_MS_DEFAULT, gap / 1e6,
                     (s->oldest_end - s->oldest_begin) / 1e6, allowed / 1e6);
        if (age > s->worst_age) {
            s->worst_age = age;
            s->worst_allowed = allowed;
        }
        if (end - start > s->worst_sync)
            s->worst_sync = end - start;
        s->syncs++;
    }
}

Test(journal, sync_policy, .timeout = 30)
{
    char *dir = test_dir(), *path = join(dir, "j");
    struct loom__journal_open_opts o = {.job_key = KEY};
    char err[256], host[LOOM__JOURNAL_HOST_MAX + 1];
    struct loom__journal_rec r;
    struct stream s = {0};
    loom__journal *j;

    make_rec(1, 1, &r, host);
    loom_assert_ok(loom__journal_open(path, &o, &j, NULL, err, sizeof err));
    cr_assert_eq(loom__journal_next_sync_ms(j), -1);
    /* default: due within LOOM__JOURNAL_SYNC_MS_DEFAULT of the first record */
    stream_check(&s, j, 1);
    long due = loom__journal_next_sync_ms(j);
    int64_t since = loom__now_ns() - s.oldest_begin; /* 0 only once that long */
    cr_assert(due <= LOOM__JOURNAL_SYNC_MS_DEFAULT &&
                  (due > 0 || since > (LOOM__JOURNAL_SYNC_MS_DEFAULT - 1) * 1000000ll),
              "due in %ld ms, %.1f ms after the append began", due, since / 1e6);
    cr_assert_lt(LOOM__JOURNAL_SYNC_MS_DEFAULT, LOOM__JOURNAL_LOSS_BOUND_MS);
    /* an event loop calling sync_if_due syncs it once it is due, not before
     * and not after (stream_check asserts both at every call) */
    while (loom__journal_unsynced(j) != 0) {
        stream_check(&s, j, 0);
        sched_yield();
    }
    cr_assert_eq(s.syncs, 1);
    /* 0: every append; < 0: only on request */
    loom__journal_set_sync_ms(j, 0);
    loom_assert_ok(loom__journal_append(j, &r));
    cr_assert_eq(loom__journal_unsynced(j), 0);
    loom__journal_set_sync_ms(j, -1);
    for (int i = 0; i < 5; i++)
        loom_assert_ok(loom__journal_append(j, &r));
    cr_assert_eq(loom__journal_unsynced(j), 5);
    cr_assert_eq(loom__journal_next_sync_ms(j), -1);
    loom_assert_ok(loom__journal_sync(j));
    cr_assert_eq(loom__journal_unsynced(j), 0);
    loom_assert_ok(loom__journal_close(j));
    cr_assert_eq(loom__journal_close(NULL), LOOM_OK);
    rm_dir(dir, &path, 1);
}

/* An event loop: a result every 50 turns, sync_if_due on every turn, until
 * 8 syncs happened; every check is held to the policy (stream_check). The
 * loss bound is that policy plus the owner's wake-up delay plus fdatasync:
 * all three are measured and printed. */
Test(journal, loss_bound_holds_under_a_steady_stream, .timeout = 60)
{
    char *dir = test_dir(), *path = join(dir, "j");
    struct loom__journal_open_opts o = {.job_key = KEY};
    char err[256];
    struct stream s = {0};
    loom__journal *j;

    loom_assert_ok(loom__journal_open(path, &o, &j, NULL, err, sizeof err));
    s.t0 = loom__now_ns();
    for (uint64_t id = 1; s.syncs < 8; id++) {
        if (id % 50 == 0)
            stream_check(&s, j, id);
        stream_check(&s, j, 0);
        sched_yield();
        cr_assert_lt(loom__now_ns() - s.t0, 30000000000ll, "only %d syncs in 30 s", s.syncs);
    }
    int64_t elapsed = loom__now_ns() - s.t0;
    loom_assert_ok(loom__journal_close(j));
    fprintf(stderr,
            "journal loss bound: %d syncs in %.0f ms; oldest record %.1f ms old when its sync "
            "began (allowed %.1f ms); the loop's longest wait between two checks %.1f ms, slowest "
            "append %.1f ms, slowest fdatasync %.1f ms\n",
            s.syncs, elapsed / 1e6, s.worst_age / 1e6, s.worst_allowed / 1e6, s.worst_wake / 1e6,
            s.worst_append / 1e6, s.worst_sync / 1e6);
    /* at most once per sync_ms under a steady stream */
    cr_assert_leq(s.syncs, elapsed / (LOOM__JOURNAL_SYNC_MS_DEFAULT * 1000000ll) + 1,
                  "%d syncs in %.0f ms: more than once per %d ms", s.syncs, elapsed / 1e6,
                  LOOM__JOURNAL_SYNC_MS_DEFAULT);
    /* the promised bound is this policy with the owner's contract (a check
     * at least every 10 ms) and a healthy disk (fdatasync <= 40 ms) */
    cr_assert_leq(LOOM__JOURNAL_SYNC_MS_DEFAULT + 10 + 40, LOOM__JOURNAL_LOSS_BOUND_MS);
    rm_dir(dir, &path, 1);
}

/* ---- fuzz: random damage never crashes and is never trusted ------------- */

static loom_err
fuzz_cb(const struct loom__journal_rec *r, uint64_t off, void *arg)
{
    uint64_t *n = arg;
    (void)off;
    cr_assert(r->task_id >= 1 && r->task_id <= 40 && rec_matches(r),
              "trusted a record nobody wrote: id %" PRIu64, r->task_id);
    cr_assert_leq(strlen(r->host), LOOM__JOURNAL_HOST_MAX);
    (*n)++;
    return LOOM_OK;
}

static size_t
mutate(unsigned char *b, size_t len, size_t cap)
{
    int k = 1 + (int)(rng() % 4);
    for (int m = 0; m < k && len > 0; m++) {
        size_t at = (size_t)(rng() % len), n;
        switch (rng() % 9) {
        case 0: /* flip a bit */
            b[at] ^= (unsigned char)(1u << (rng() % 8));
            break;
        case 1: /* any byte */
            b[at] = (unsigned char)rng();
            break;
        case 2: /* zero a block */
            n = 1 + (size_t)(rng() % 300);
            memset(b + at, 0, at + n > len ? len - at : n);
            break;
        case 3: /* truncate */
            len = at;
            break;
        case 4: /* insert random bytes */
            n = 1 + (size_t)(rng() % 64);
            if (len + n <= cap) {
                memmove(b + at + n, b + at, len - at);
                for (size_t i = 0; i < n; i++)
                    b[at + i] = (unsigned char)rng();
                len += n;
            }
            break;
        case 5: { /* duplicate a slice somewhere */
            size_t from = (size_t)(rng() % len);
            n = 1 + (size_t)(rng() % 200);
            if (from + n > len)
                n = len - from;
            if (len + n <= cap) {
                unsigned char tmp[200];
                memcpy(tmp, b + from, n);
                memmove(b + at + n, b + at, len - at);
                memcpy(b + at, tmp, n);
                len += n;
            }
            break;
        }
        case 6: /* lie in a 32-bit field (lengths, host_len...) */
            if (at + 4 <= len) {
                static const uint32_t lies[] = {0,    1,    57,     58,         1023,
                                                1024, 1025, 0xffff, 0xffffffffu};
                uint32_t v = lies[rng() % 9] + (uint32_t)(rng() % 3);
                memcpy(b + at, &v, 4);
            }
            break;
        case 7: /* random garbage to the end */
            for (size_t i = at; i < len; i++)
                b[i] = (unsigned char)rng();
            break;
        default: /* swap two bytes */
            n = (size_t)(rng() % len);
            unsigned char t = b[at];
            b[at] = b[n];
            b[n] = t;
            break;
        }
    }
    return len;
}

Test(journal, random_mutations_never_crash_never_trusted, .timeout = 120)
{
    char *dir = test_dir();
    char *files[2] = {join(dir, "orig"), join(dir, "j")};
    struct loom__journal_open_opts o = {KEY, 1, NULL, NULL};
    struct loom__journal_stats st;
    char err[256], host[LOOM__JOURNAL_HOST_MAX + 1];
    struct loom__journal_rec r;
    loom__journal *j;
    size_t len, cap;
    uint64_t total = 0, opened = 0;
    int iters = getenv("LOOM_FUZZ_ITERS") ? atoi(getenv("LOOM_FUZZ_ITERS")) : 4000;

    rng_seed("journal fuzz");
    loom_log_set_level(LOOM_LOG_ERROR); /* thousands of expected warnings */
    write_journal(files[0], 1, 40);
    unsigned char *orig = slurp(files[0], &len);
    cap = len * 2 + 4096;
    unsigned char *b = malloc(cap);
    for (int it = 0; it < iters; it++) {
        size_t n;
        if (it % 50 == 0) { /* valid header, then pure noise */
            n = 32 + (size_t)(rng() % 4000);
            memcpy(b, orig, 32);
            for (size_t i = 32; i < n; i++)
                b[i] = (unsigned char)rng();
        } else if (it % 97 == 0) { /* noise from the start */
            n = (size_t)(rng() % 200);
            for (size_t i = 0; i < n; i++)
                b[i] = (unsigned char)rng();
        } else {
            memcpy(b, orig, len);
            n = mutate(b, len, cap);
        }
        spit(files[1], b, n);
        uint64_t got = 0;
        loom_err rc = loom__journal_replay(files[1], NULL, fuzz_cb, &got, &st, err, sizeof err);
        cr_assert(rc == LOOM_OK || rc == LOOM_EPROTO, "iteration %d: %s", it, loom_err_name(rc));
        if (rc == LOOM_OK) {
            cr_assert_eq(st.records, got);
            cr_assert_leq(st.valid_end, n);
            cr_assert_eq(st.torn_bytes + st.valid_end, n < 32 ? st.torn_bytes : n);
            total += got;
        }
        if (it % 10 == 0) { /* resume on it, append, and it must read clean */
            rc = loom__journal_open(files[1], &o, &j, &st, err, sizeof err);
            cr_assert(rc == LOOM_OK || rc == LOOM_EPROTO || rc == LOOM_EMISMATCH,
                      "iteration %d: %s", it, loom_err_name(rc));
            if (rc == LOOM_OK) {
                make_rec(40, 1, &r, host);
                loom_assert_ok(loom__journal_append(j, &r));
                loom_assert_ok(loom__journal_close(j));
                got = 0;
                loom_assert_ok(
                    loom__journal_replay(files[1], NULL, fuzz_cb, &got, &st, err, sizeof err));
                cr_assert_eq(st.torn_bytes, 0, "iteration %d: resume left a tail", it);
                cr_assert_geq(got, 1);
                opened++;
            }
        }
    }
    fprintf(stderr, "journal fuzz: %d files, %" PRIu64 " records passed on, %" PRIu64 " resumed\n",
            iters, total, opened);
    cr_assert_gt(total, 0);
    free(b);
    free(orig);
    rm_dir(dir, files, 2);
}

/* ---- SIGKILL at random points ------------------------------------------- */

#define KILL_TASKS 40000

/* The child: resume the journal, run every task not done yet (append its
 * record), report each id through the pipe once append returned; exit 0
 * when all are done. */
static void
kill_child(const char *path, int wfd, long sync_ms)
{
    loom__journal_done *done = NULL;
    loom__journal *j = NULL;
    struct loom__journal_open_opts o = {KEY, 1, loom__journal_done_cb, NULL};
    char err[256], host[LOOM__JOURNAL_HOST_MAX + 1];
    struct loom__journal_rec r;

    if (loom__journal_done_create(&done) != LOOM_OK)
        _exit(10);
    o.arg = done;
    if (loom__journal_open(path, &o, &j, NULL, err, sizeof err) != LOOM_OK) {
        fprintf(stderr, "child: %s\n", err);
        _exit(11);
    }
    loom__journal_set_sync_ms(j, sync_ms);
    for (uint64_t id = 1; id <= KILL_TASKS; id++) {
        if (loom__journal_done_succeeded(done, id, def_hash(id)))
            continue;
        make_rec(id, 1, &r, host);
        if (loom__journal_append(j, &r) != LOOM_OK) {
            fprintf(stderr, "child: %s\n", loom__journal_errmsg(j));
            _exit(12);
        }
        if (write(wfd, &id, sizeof id) != (ssize_t)sizeof id)
            _exit(13);
    }
    if (loom__journal_close(j) != LOOM_OK)
        _exit(14);
    loom__journal_done_destroy(done);
    _exit(0);
}

/* One round: start the child, let it report `reports` ids (or finish),
 * SIGKILL it, collect every id it reported. 1 if the child finished. */
static int
kill_round(const char *path, int reports, long sync_ms, uint8_t *reported)
{
    int p[2], status, finished = 0;
    uint64_t id;
    ssize_t n;

    cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(p[0]);
        kill_child(path, p[1], sync_ms);
    }
    close(p[1]);
    for (int i = 0; i < reports; i++) {
        n = read(p[0], &id, sizeof id);
        if (n == 0)
            break; /* the child finished (or died: waitpid tells) */
        cr_assert_eq(n, (ssize_t)sizeof id);
        cr_assert(id >= 1 && id <= KILL_TASKS);
        reported[id]++;
    }
    kill(pid, SIGKILL);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 0),
              "the child failed: status %d", status);
    finished = WIFEXITED(status);
    /* ids reported after the last one we waited for */
    while ((n = read(p[0], &id, sizeof id)) == (ssize_t)sizeof id)
        reported[id]++;
    close(p[0]);
    return finished;
}

struct kill_check {
    uint32_t count[KILL_TASKS + 1];
    uint64_t off[KILL_TASKS + 1];
    uint64_t n;
};

static loom_err
kill_cb(const struct loom__journal_rec *r, uint64_t off, void *arg)
{
    struct kill_check *k = arg;
    cr_assert(r->task_id >= 1 && r->task_id <= KILL_TASKS && rec_matches(r),
              "trusted a record nobody wrote (id %" PRIu64 ")", r->task_id);
    k->count[r->task_id]++;
    k->off[r->task_id] = off;
    k->n++;
    return LOOM_OK;
}

static void
kill_verify(const char *path, const uint8_t *reported, struct kill_check *k,
            struct loom__journal_stats *st, int middle_damage_ok)
{
    char err[256];
    memset(k, 0, sizeof *k);
    memset(st, 0, sizeof *st);
    if (access(path, F_OK) != 0 && errno == ENOENT) {
        /* killed before it created the journal */
        for (uint64_t id = 1; id <= KILL_TASKS; id++)
            cr_assert_eq(reported[id], 0);
        return;
    }
    loom_assert_ok(loom__journal_replay(path, NULL, kill_cb, k, st, err, sizeof err));
    if (!middle_damage_ok)
        cr_assert_eq(st->bad_regions, 0, "a kill damaged the middle of the journal");
    for (uint64_t id = 1; id <= KILL_TASKS; id++) {
        if (reported[id])
            cr_assert_geq(k->count[id], 1, "task %" PRIu64 " was reported appended but is lost",
                          id);
    }
}

Test(journal, sigkill_at_random_points_then_corruption, .timeout = 240)
{
    char *dir = test_dir(), *path = join(dir, "j");
    uint8_t *reported = calloc(KILL_TASKS + 1, 1);
    struct kill_check *k = malloc(sizeof *k);
    struct loom__journal_stats st;
    static const long policies[] = {LOOM__JOURNAL_SYNC_MS_DEFAULT, 0, 5, -1};
    int rounds = 0, finished = 0, torn_rounds = 0;

    rng_seed("journal kill");
    loom_log_set_level(LOOM_LOG_ERROR); /* each resume warns about the torn tail */
    /* 25 kills in a row, each resuming the last, some before the child
     * has appended anything (a kill during open's truncate). */
    for (; rounds < 25; rounds++) {
        int reports = rounds % 6 == 0 ? 0 : (int)(rng() % 90);
        finished = kill_round(path, reports, policies[rounds % 4], reported);
        cr_assert_not(finished, "round %d: all tasks done already", rounds);
        kill_verify(path, reported, k, &st, 0);
        torn_rounds += st.torn_bytes > 0;
        for (uint64_t id = 1; id <= KILL_TASKS; id++)
            cr_assert_leq(k->count[id], 1, "task %" PRIu64 " recorded twice", id);
    }
    /* Then damage the journal, one way at a time, and resume after each. */
    size_t len;
    unsigned char *b = slurp(path, &len);
    /* 1. truncate one byte */
    cr_assert_eq(truncate(path, (off_t)len - 1), 0);
    kill_round(path, 50, LOOM__JOURNAL_SYNC_MS_DEFAULT, reported);
    kill_verify(path, reported, k, &st, 0);
    free(b);
    /* 2. zero a block in the middle: the records there are lost, so their
     * tasks run again (those reported before are no longer in the file) */
    b = slurp(path, &len);
    memset(b + len / 2, 0, 512);
    spit(path, b, len);
    memset(k, 0, sizeof *k);
    char err[256];
    loom_assert_ok(loom__journal_replay(path, NULL, kill_cb, k, &st, err, sizeof err));
    cr_assert_eq(st.bad_regions, 1);
    for (uint64_t id = 1; id <= KILL_TASKS; id++) {
        if (reported[id] && k->count[id] == 0)
            reported[id] = 0; /* destroyed on purpose */
    }
    kill_round(path, 50, 0, reported);
    kill_verify(path, reported, k, &st, 1);
    free(b);
    /* 3. duplicate a record (the first one) at the end */
    b = slurp(path, &len);
    size_t l1 = frame_len(1);
    cr_assert_eq(k->count[1], 1);
    int fd = open(path, O_WRONLY | O_APPEND);
    cr_assert_eq(write(fd, b + k->off[1], l1), (ssize_t)l1);
    close(fd);
    free(b);
    /* resume until every task is done */
    for (int i = 0; i < 100 && !finished; i++)
        finished = kill_round(path, 1000000, LOOM__JOURNAL_SYNC_MS_DEFAULT, reported);
    cr_assert(finished);

    loom__journal_done *done;
    struct loom__journal_done_entry e;
    loom_assert_ok(loom__journal_done_create(&done));
    loom_assert_ok(
        loom__journal_replay(path, NULL, loom__journal_done_cb, done, &st, err, sizeof err));
    cr_assert_eq(st.bad_regions, 1);
    cr_assert_eq(st.torn_bytes, 0);
    for (uint64_t id = 1; id <= KILL_TASKS; id++) {
        cr_assert(loom__journal_done_get(done, id, def_hash(id), &e), "task %" PRIu64 " missing",
                  id);
        cr_assert_eq(e.successes, id == 1 ? 2u : 1u,
                     "task %" PRIu64 " succeeded %u times in the journal", id, e.successes);
    }
    fprintf(stderr,
            "journal kill: %d kills (%d left a torn tail), journal of %" PRIu64 " records\n",
            rounds + 2, torn_rounds, st.records);
    loom__journal_done_destroy(done);
    free(k);
    free(reported);
    rm_dir(dir, &path, 1);
}

/* ---- a full filesystem -------------------------------------------------- */

static char *tmpfs_dir;

static void
tmpfs_cleanup(void)
{
    if (tmpfs_dir != NULL) {
        umount2(tmpfs_dir, MNT_DETACH);
        rmdir(tmpfs_dir);
        free(tmpfs_dir);
        tmpfs_dir = NULL;
    }
}

/* Fill the filesystem holding path with a file; its size. */
static off_t
fill(const char *path)
{
    static const unsigned char block[512];
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert_geq(fd, 0);
    while (write(fd, block, sizeof block) > 0)
        ;
    cr_assert_eq(errno, ENOSPC);
    close(fd);
    return file_size(path);
}

Test(journal, full_filesystem_clear_error_then_resumes, .timeout = 60, .fini = tmpfs_cleanup)
{
    /* A private mount namespace: the tmpfs disappears with this process
     * even if the test dies before its cleanup. */
    if (unshare(CLONE_NEWNS) != 0)
        cr_skip_test("cannot create a mount namespace (%s): needs root", strerror(errno));
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        cr_skip_test("cannot make mounts private (%s)", strerror(errno));
    tmpfs_dir = test_dir();
    if (mount("tmpfs", tmpfs_dir, "tmpfs", 0, "size=64k,mode=0700") != 0)
        cr_skip_test("cannot mount a tmpfs (%s): needs root", strerror(errno));

    char *path = join(tmpfs_dir, "journal"), *filler = join(tmpfs_dir, "filler");
    char *path2 = join(tmpfs_dir, "journal2");
    struct loom__journal_open_opts o = {.job_key = KEY};
    struct loom__journal_stats st;
    struct seen *s = malloc(sizeof *s);
    char err[256], host[LOOM__JOURNAL_HOST_MAX + 1];
    struct loom__journal_rec r;
    loom__journal *j;
    loom_err rc = LOOM_OK;
    uint64_t id;

    loom_assert_ok(loom__journal_open(path, &o, &j, NULL, err, sizeof err));
    loom__journal_set_sync_ms(j, 0);
    /* A filler leaves a few pages for the journal. */
    int fd = open(filler, O_WRONLY | O_CREAT, 0644);
    static const unsigned char block[4096];
    for (int i = 0; i < 12; i++)
        cr_assert_eq(write(fd, block, sizeof block), (ssize_t)sizeof block);
    close(fd);
    for (id = 1; id < 5000; id++) {
        make_rec(id, 1, &r, host);
        rc = loom__journal_append(j, &r);
        if (rc != LOOM_OK)
            break;
    }
    uint64_t appended = id - 1;
    loom_assert_err(rc, LOOM_ESYS);
    cr_assert_eq(loom__journal_errno(j), ENOSPC);
    cr_assert(strstr(loom__journal_errmsg(j), path) &&
                  strstr(loom__journal_errmsg(j), strerror(ENOSPC)),
              "unclear error: %s", loom__journal_errmsg(j));
    cr_assert_gt(appended, 10);
    fprintf(stderr, "journal full fs: %" PRIu64 " records fit; then: %s\n", appended,
            loom__journal_errmsg(j));
    /* Still full: another try fails the same way and leaves nothing. */
    off_t size = file_size(path);
    loom_assert_err(loom__journal_append(j, &r), LOOM_ESYS);
    cr_assert_eq(file_size(path), size);
    /* What is in the file replays cleanly: no partial record. */
    loom_assert_ok(replay(path, s, &st));
    cr_assert_eq(s->n, appended);
    cr_assert_eq(st.torn_bytes + st.bad_regions, 0);
    cr_assert_eq(st.valid_end, (uint64_t)size);
    /* Space again: the same handle goes on. */
    cr_assert_eq(unlink(filler), 0);
    for (; id <= appended + 20; id++) {
        make_rec(id, 1, &r, host);
        loom_assert_ok(loom__journal_append(j, &r));
    }
    loom_assert_ok(loom__journal_close(j));
    loom_assert_ok(replay(path, s, &st));
    cr_assert_eq(s->n, appended + 20);
    cr_assert(s->in_order);
    cr_assert_eq(st.torn_bytes + st.bad_regions, 0);

    /* Creating a journal on a full filesystem: a clear error, no half
     * header trusted, and it can be created once there is space. */
    fill(filler);
    rc = loom__journal_open(path2, &o, &j, NULL, err, sizeof err);
    loom_assert_err(rc, LOOM_ESYS);
    cr_assert(strstr(err, path2) && strstr(err, strerror(ENOSPC)), "unclear error: %s", err);
    cr_assert_eq(file_size(path2), 0);
    loom_assert_ok(loom__journal_replay(path2, NULL, NULL, NULL, &st, err, sizeof err));
    cr_assert_eq(st.records, 0);
    /* resuming the full journal on a full disk works (nothing to write) */
    o.resume = 1;
    loom_assert_ok(loom__journal_open(path, &o, &j, &st, err, sizeof err));
    cr_assert_eq(st.records, appended + 20);
    make_rec(id, 1, &r, host);
    rc = loom__journal_append(j, &r);
    if (rc != LOOM_OK) /* the tmpfs page may still have room */
        cr_assert_eq(loom__journal_errno(j), ENOSPC);
    loom_assert_ok(loom__journal_close(j));
    cr_assert_eq(unlink(filler), 0);
    loom_assert_ok(loom__journal_open(path2, &o, &j, NULL, err, sizeof err));
    loom_assert_ok(loom__journal_append(j, &r));
    loom_assert_ok(loom__journal_close(j));
    loom_assert_ok(replay(path2, s, &st));
    cr_assert_eq(s->n, 1);

    free(s);
    free(path);
    free(path2);
    free(filler);
}
