/* SPDX-License-Identifier: MIT */
/*
 * Tests of loom-run's job log (apps/loom-run/joblog.c): GNU Parallel's exact
 * format, one write per line under concurrent writers, what survives a
 * SIGKILL, resume after repeated SIGKILLs, strict reading (torn last line,
 * malformed lines, foreign files), and compatibility checked against GNU
 * Parallel itself, both ways: it must resume from a log loom wrote, and
 * loom must read a log it wrote.
 *
 * The GNU Parallel tests need /usr/bin/parallel (Debian package `parallel`)
 * and fail, rather than skip, when it is missing. Number formatting is
 * compared with perl (always on Debian), running GNU's own expressions.
 *
 * Children forked here never return into Criterion: they _exit with a code
 * the parent checks. Waits for a child's progress poll the log with a
 * bounded deadline; nothing relies on a sleep being long enough.
 */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "joblog.h"

#if defined(__SANITIZE_ADDRESS__)
/* As tests/support/loom_test.h does: Criterion ignores how a passed test's
 * process exits, so under ASan each Test() checks for leaks itself (run
 * with LSAN_OPTIONS=leak_check_at_exit=0: the check at exit would only
 * report Criterion's own runner). */
#include <sanitizer/lsan_interface.h>
#undef Test
#define Test(Suite, Name, ...)                                                                     \
    static void Suite##_##Name##_body(void);                                                       \
    CR_EXPAND(CR_TEST_BASE(Suite, Name, ##__VA_ARGS__, .sentinel_ = 0))                            \
    {                                                                                              \
        Suite##_##Name##_body();                                                                   \
        cr_assert(__lsan_do_recoverable_leak_check() == 0,                                         \
                  "memory leaked: see the LeakSanitizer report above");                            \
    }                                                                                              \
    static void Suite##_##Name##_body(void)
#endif

#define GNU_PARALLEL "/usr/bin/parallel"
#define GNU_HEADER   "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n"
#define DEADLINE_S   20.0

/* ---- helpers ---- */

struct tmp {
    char dir[64];
    char log[128];
};

static void
tmp_make(struct tmp *t)
{
    snprintf(t->dir, sizeof t->dir, "/tmp/loom-joblog-XXXXXX");
    cr_assert(mkdtemp(t->dir) != NULL, "mkdtemp: %s", strerror(errno));
    snprintf(t->log, sizeof t->log, "%s/job.log", t->dir);
}

/* Remove the directory and everything in it (and in .parallel, which GNU
 * Parallel creates under HOME=dir). */
static void
rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[512];

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        struct stat sb;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
            rm_tree(p);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static void
tmp_free(struct tmp *t)
{
    rm_tree(t->dir);
}

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static char *
slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0, r;

    cr_assert(f != NULL, "%s: %s", path, strerror(errno));
    do {
        if (cap - n < 65536) {
            cap = cap * 2 + 65536;
            buf = realloc(buf, cap + 1);
            cr_assert(buf != NULL);
        }
        r = fread(buf + n, 1, cap - n, f);
        n += r;
    } while (r > 0);
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

static void
spit(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert(f != NULL, "%s: %s", path, strerror(errno));
    cr_assert_eq(fwrite(data, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
}

static off_t
file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? sb.st_size : -1;
}

/* Copies of what lr_joblog_read passed on. */
struct got {
    struct lr_joblog_entry *e;
    size_t n, cap;
};

static int
collect(const struct lr_joblog_entry *e, void *arg)
{
    struct got *g = arg;
    if (g->n == g->cap) {
        g->cap = g->cap * 2 + 16;
        g->e = realloc(g->e, g->cap * sizeof *g->e);
        if (g->e == NULL)
            abort();
    }
    g->e[g->n] = *e;
    g->e[g->n].host = strdup(e->host);
    g->e[g->n].command = strdup(e->command);
    if (g->e[g->n].host == NULL || g->e[g->n].command == NULL)
        abort();
    g->n++;
    return 0;
}

static void
got_free(struct got *g)
{
    for (size_t i = 0; i < g->n; i++) {
        free((char *)g->e[i].host);
        free((char *)g->e[i].command);
    }
    free(g->e);
    memset(g, 0, sizeof *g);
}

static int
read_all(const char *path, struct got *g, struct lr_joblog_stats *st, char *err, size_t errlen)
{
    memset(g, 0, sizeof *g);
    return lr_joblog_read(path, collect, g, st, err, errlen);
}

static lr_joblog *
open_ok(const char *path, int append)
{
    char err[512] = "";
    lr_joblog *j = NULL;
    cr_assert_eq(lr_joblog_open(path, append, &j, err, sizeof err), 0, "open: %s", err);
    cr_assert(j != NULL);
    return j;
}

static struct lr_joblog_entry
entry(uint64_t seq, int exitval, const char *cmd)
{
    struct lr_joblog_entry e = {
        .seq = seq,
        .start = 1795733123.640 + (double)seq,
        .runtime = 0.25,
        .exitval = exitval,
        .command = cmd,
    };
    return e;
}

static void
write_ok(lr_joblog *j, const struct lr_joblog_entry *e)
{
    cr_assert_eq(lr_joblog_write(j, e), 0, "write seq %" PRIu64 ": %s", e->seq, strerror(errno));
}

/* The deterministic command of a seq in the stress tests: its length
 * varies from a few bytes to ~9 KiB, and every 97th is 100-130 KiB, so many
 * lines cross page boundaries of the file; Linux may stop a write at such a
 * boundary when SIGKILL arrives, which is how a kill tears a line. */
#define CMD_BUF (256 * 1024)

static size_t
cmd_for(uint64_t seq, char *buf, size_t cap)
{
    size_t pad = (size_t)((seq * 2654435761u) % 97) * ((seq % 5 == 0) ? 97 : 3);
    int n = snprintf(buf, cap, "task %" PRIu64 " ", seq);
    size_t len = (size_t)n;

    if (seq % 97 == 0)
        pad = 100000 + (size_t)(seq % 7) * 5000;
    for (size_t i = 0; i < pad && len + 2 < cap; i++)
        buf[len++] = (char)('a' + (seq + i) % 26);
    buf[len] = '\0';
    return len;
}

static int
cmd_matches(uint64_t seq, const char *cmd)
{
    static char want[CMD_BUF];
    cmd_for(seq, want, sizeof want);
    return strcmp(want, cmd) == 0;
}

/* Wait until path is at least `bytes` long or the child has exited; 1 if
 * the size was reached, 0 if the child exited first. */
static int
wait_for_growth(const char *path, off_t bytes, pid_t child, int *status)
{
    double deadline = now_s() + DEADLINE_S;
    while (now_s() < deadline) {
        if (file_size(path) >= bytes)
            return 1;
        pid_t w = waitpid(child, status, WNOHANG);
        if (w == child)
            return 0;
        pause_ms(1);
    }
    cr_assert_fail("the writer made no progress in %.0f s (log %s at %lld bytes)", DEADLINE_S, path,
                   (long long)file_size(path));
    return 0;
}

/* ---- format ---- */

Test(joblog, header_is_gnu_parallels_byte_for_byte, .timeout = 10)
{
    struct tmp t;
    size_t len;
    char *s;

    tmp_make(&t);
    cr_assert_str_eq(LR_JOBLOG_HEADER, GNU_HEADER);
    cr_assert_eq(lr_joblog_close(open_ok(t.log, 0)), 0);
    s = slurp(t.log, &len);
    cr_assert_eq(len, strlen(GNU_HEADER));
    cr_assert_str_eq(s, GNU_HEADER);
    free(s);
    tmp_free(&t);
}

/* Lines GNU Parallel 20221122 wrote (see the report / joblog.h) and the
 * entries that must give them byte for byte. */
Test(joblog, lines_are_formatted_exactly_as_gnu_parallel, .timeout = 10)
{
    static const struct {
        struct lr_joblog_entry e;
        const char *line;
    } cases[] = {
        {{1, NULL, 1795733123.640, 0.002, 0, 2, 1, 0, "echo 1; exit 1", 0},
         "1\t:\t1795733123.640\t     0.002\t0\t2\t1\t0\techo 1; exit 1\n"},
        /* killed by a signal: Exitval 0, Signal 9 */
        {{1, ":", 1795733123.814, 0.0004, 0, 0, 0, 9, "kill -9 $$ 1", 0},
         "1\t:\t1795733123.814\t     0.000\t0\t0\t0\t9\tkill -9 $$ 1\n"},
        /* --timeout: Exitval -1, Signal 15; runtime truncated, not rounded */
        {{1, "", 1795733242.019, 2.1219, 0, 0, -1, 15, "sleep 10 1", 0},
         "1\t:\t1795733242.019\t     2.121\t0\t0\t-1\t15\tsleep 10 1\n"},
        /* an empty command line (GNU runs blank input lines too) */
        {{2, NULL, 1795733184.072, 0.001, 0, 0, 0, 0, "", 0},
         "2\t:\t1795733184.072\t     0.001\t0\t0\t0\t0\t\n"},
        /* a remote host, big numbers, a runtime wider than 10 columns */
        {{18446744073709551615u, "4/user@node-7", 1.0005, 1234567.8919, 1023, 18446744073709551615u,
          255, 0, "x", 0},
         "18446744073709551615\t4/user@node-7\t1.000\t1234567.891\t1023\t18446744073709551615\t255"
         "\t0\tx\n"},
        /* GNU writes TABs raw and each newline as a NUL byte */
        {{3, NULL, 1795733188.498, 0.003, 0, 4, 0, 0, "echo 'p\tq'\necho 2", 0},
         "3\t:\t1795733188.498\t     0.003\t0\t4\t0\t0\techo 'p\tq'\0echo 2\n"},
        /* a host is one non-blank word */
        {{4, "my host\tx\n", 0.0, 0.0, 0, 0, 0, 0, "c", 0},
         "4\tmy_host_x_\t0.000\t     0.000\t0\t0\t0\t0\tc\n"},
    };
    const size_t ncases = sizeof cases / sizeof cases[0];
    struct tmp t;
    size_t len, off = strlen(GNU_HEADER), explen[sizeof cases / sizeof cases[0]];
    lr_joblog *j;
    char *s;

    tmp_make(&t);
    j = open_ok(t.log, 0);
    for (size_t i = 0; i < ncases; i++) {
        write_ok(j, &cases[i].e);
        /* measure up to '\n': case 5 has a NUL inside */
        const char *nl = cases[i].line;
        while (*nl != '\n')
            nl++;
        explen[i] = (size_t)(nl - cases[i].line) + 1;
    }
    cr_assert_eq(lr_joblog_close(j), 0);
    s = slurp(t.log, &len);
    for (size_t i = 0; i < ncases; i++) {
        cr_assert_leq(off + explen[i], len, "case %zu: file too short", i);
        cr_assert(memcmp(s + off, cases[i].line, explen[i]) == 0, "case %zu: got \"%.*s\"", i,
                  (int)explen[i], s + off);
        off += explen[i];
    }
    cr_assert_eq(off, len);
    free(s);
    tmp_free(&t);
}

/* Starttime and JobRuntime for many values, compared with perl running
 * GNU Parallel's own expressions: starttime() is sprintf("%.3f", $start),
 * runtime() is sprintf("%.3f", int(($end - $start) * 1000) / 1000) and
 * print_joblog() prints it with sprintf("%10.3f", ...). */
Test(joblog, numbers_match_gnu_parallels_perl_expressions, .timeout = 30)
{
    static const double fixed[][2] = {
        {0.0, 0.0},
        {1.0005, 0.0005},
        {1700000000.0005, 0.0009999},
        {1700000000.9995, 0.001},
        {1795733123.6405, 0.0015},
        {1795733123.9999, 2.9999999},
        {12.125, 1e-9},
        {1e12 + 0.5, 99999.9999},
        {2.5e9, 123456.7895},
        {1795733123.640, 0.003},
        {1795733123.640, 0.007},
        {1795733123.640, 1.001},
    };
    enum { NRAND = 400 };
    const size_t n = sizeof fixed / sizeof fixed[0] + NRAND;
    double(*v)[2] = calloc(n, sizeof *v);
    unsigned seed = (unsigned)getpid() ^ (unsigned)time(NULL);
    struct tmp t;
    char vals[256], cmd[1024], *ours, *perl, *p, *q;
    size_t len, plen;
    FILE *f;
    lr_joblog *j;

    cr_assert(v != NULL);
    tmp_make(&t);
    memcpy(v, fixed, sizeof fixed);
    srand(seed);
    for (size_t i = sizeof fixed / sizeof fixed[0]; i < n; i++) {
        v[i][0] = 1.6e9 + (double)rand() / RAND_MAX * 4e8;
        v[i][1] = (double)rand() / RAND_MAX * (i % 3 == 0 ? 0.01 : i % 3 == 1 ? 10.0 : 1e5);
    }
    snprintf(vals, sizeof vals, "%s/values", t.dir);
    f = fopen(vals, "w");
    cr_assert(f != NULL);
    j = open_ok(t.log, 0);
    lr_joblog_set_sync_ms(j, -1);
    for (size_t i = 0; i < n; i++) {
        struct lr_joblog_entry e = {.seq = i + 1, .start = v[i][0], .runtime = v[i][1]};
        write_ok(j, &e);
        fprintf(f, "%.17g %.17g\n", v[i][0], v[i][1]);
    }
    cr_assert_eq(lr_joblog_close(j), 0);
    cr_assert_eq(fclose(f), 0);

    snprintf(cmd, sizeof cmd,
             "perl -ne 'chomp; my ($s, $r) = split / /; my $st = sprintf(\"%%.3f\", $s); "
             "my $rt = sprintf(\"%%.3f\", int($r * 1000) / 1000); "
             "printf(\"%%s\\t%%s\\n\", $st, sprintf(\"%%10.3f\", $rt))' < %s > %s/perl.out",
             vals, t.dir);
    cr_assert_eq(system(cmd), 0, "perl failed: %s", cmd);
    snprintf(vals, sizeof vals, "%s/perl.out", t.dir);
    perl = slurp(vals, &plen);
    ours = slurp(t.log, &len);
    p = ours + strlen(GNU_HEADER);
    q = perl;
    for (size_t i = 0; i < n; i++) {
        char *tab1 = strchr(p, '\t'), *tab2 = strchr(tab1 + 1, '\t');
        char *tab4 = strchr(strchr(tab2 + 1, '\t') + 1, '\t');
        char *pnl = strchr(q, '\n');
        size_t ourlen = (size_t)(tab4 - (tab2 + 1));
        cr_assert(pnl != NULL);
        cr_assert(ourlen == (size_t)(pnl - q) && memcmp(tab2 + 1, q, ourlen) == 0,
                  "start %.17g runtime %.17g (seed %u): loom \"%.*s\", GNU \"%.*s\"", v[i][0],
                  v[i][1], seed, (int)ourlen, tab2 + 1, (int)(pnl - q), q);
        p = strchr(p, '\n') + 1;
        q = pnl + 1;
    }
    free(ours);
    free(perl);
    free(v);
    tmp_free(&t);
}

Test(joblog, round_trip_gives_back_every_field, .timeout = 10)
{
    static const char *const hosts[] = {NULL, "node-1", "2/user@10.0.0.7", ":"};
    static const char *const cmds[] = {"echo 1",         "",   "printf 'a\\tb'\tx",
                                       "line1\nline2\n", "\n", "ünïcode ✓ \r"};
    enum { N = 120 };
    struct tmp t;
    struct got g;
    struct lr_joblog_stats st;
    char err[512] = "";
    lr_joblog *j;

    tmp_make(&t);
    j = open_ok(t.log, 0);
    for (int i = 0; i < N; i++) {
        struct lr_joblog_entry e = {
            .seq = (uint64_t)(i % 40) + 1, /* duplicates, as after retries */
            .host = hosts[i % 4],
            .start = 1795733000.0 + i * 1.5,
            .runtime = i * 0.25,
            .send = (uint64_t)i * 1000,
            .receive = (uint64_t)i << 33,
            .exitval = i % 7 == 0 ? -1 : i % 3,
            .signal = i % 11 == 0 ? 9 : 0,
            .command = cmds[i % 6],
        };
        write_ok(j, &e);
    }
    cr_assert_eq(lr_joblog_close(j), 0);

    cr_assert_eq(read_all(t.log, &g, &st, err, sizeof err), 0, "%s", err);
    cr_assert_eq(g.n, N);
    cr_assert_eq(st.entries, N);
    cr_assert_eq(st.max_seq, 40);
    cr_assert_eq(st.torn, 0);
    cr_assert_eq(st.has_header, 1);
    cr_assert_eq(st.valid_bytes, (uint64_t)file_size(t.log));
    for (int i = 0; i < N; i++) {
        const struct lr_joblog_entry *e = &g.e[i];
        const char *h = hosts[i % 4] ? hosts[i % 4] : ":";
        cr_assert_eq(e->line, (unsigned long)i + 2);
        cr_assert_eq(e->seq, (uint64_t)(i % 40) + 1);
        cr_assert_str_eq(e->host, h);
        cr_assert_float_eq(e->start, 1795733000.0 + i * 1.5, 1e-6);
        cr_assert_float_eq(e->runtime, i * 0.25, 1e-9);
        cr_assert_eq(e->send, (uint64_t)i * 1000);
        cr_assert_eq(e->receive, (uint64_t)i << 33);
        cr_assert_eq(e->exitval, i % 7 == 0 ? -1 : i % 3);
        cr_assert_eq(e->signal, i % 11 == 0 ? 9 : 0);
        cr_assert_str_eq(e->command, cmds[i % 6], "line %d", i + 2);
        cr_assert_eq(lr_joblog_entry_ok(e), e->exitval == 0 && e->signal == 0);
    }
    got_free(&g);
    tmp_free(&t);
}

Test(joblog, bad_entries_are_refused_and_write_nothing, .timeout = 10)
{
    struct tmp t;
    lr_joblog *j;
    char *big = malloc((size_t)LR_JOBLOG_CMD_MAX + 2);
    char *bighost = malloc((size_t)LR_JOBLOG_HOST_MAX + 2);
    off_t before;

    cr_assert(big != NULL && bighost != NULL);
    memset(big, 'x', (size_t)LR_JOBLOG_CMD_MAX + 1);
    big[LR_JOBLOG_CMD_MAX + 1] = '\0';
    memset(bighost, 'h', (size_t)LR_JOBLOG_HOST_MAX + 1);
    bighost[LR_JOBLOG_HOST_MAX + 1] = '\0';
    tmp_make(&t);
    j = open_ok(t.log, 0);
    before = file_size(t.log);

    struct lr_joblog_entry bad[7];
    for (int i = 0; i < 7; i++)
        bad[i] = entry(1, 0, "c");
    bad[0].seq = 0;
    bad[1].signal = -1;
    bad[2].start = 0.0 / 0.0;
    bad[3].runtime = 1.0 / 0.0;
    bad[4].start = 1e300;
    bad[5].command = big;
    bad[6].host = bighost;
    for (int i = 0; i < 7; i++) {
        errno = 0;
        cr_assert_eq(lr_joblog_write(j, &bad[i]), -1, "case %d", i);
        cr_assert_eq(errno, EINVAL, "case %d", i);
    }
    cr_assert_eq(file_size(t.log), before);
    /* the largest command allowed goes through */
    big[LR_JOBLOG_CMD_MAX] = '\0';
    struct lr_joblog_entry e = entry(1, 0, big);
    write_ok(j, &e);
    cr_assert_eq(lr_joblog_close(j), 0);

    struct got g;
    char err[512] = "";
    cr_assert_eq(read_all(t.log, &g, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(g.n, 1);
    cr_assert_eq(strlen(g.e[0].command), (size_t)LR_JOBLOG_CMD_MAX);
    got_free(&g);
    free(big);
    free(bighost);
    tmp_free(&t);
}

/* ---- writers: concurrency, kills, resume ---- */

/* N children write through the handle they inherited, concurrently, lines
 * of up to ~130 KiB: every line must come out whole and exactly once. */
Test(joblog, concurrent_writers_never_interleave_lines, .timeout = 60)
{
    enum { NCHILD = 8, PER_CHILD = 300 };
    struct tmp t;
    struct got g;
    char err[512] = "";
    pid_t pids[NCHILD];
    lr_joblog *j;

    tmp_make(&t);
    j = open_ok(t.log, 0);
    lr_joblog_set_sync_ms(j, -1);
    for (int c = 0; c < NCHILD; c++) {
        pids[c] = fork();
        cr_assert(pids[c] >= 0);
        if (pids[c] == 0) {
            static char cmd[CMD_BUF];
            for (int i = 0; i < PER_CHILD; i++) {
                uint64_t seq = (uint64_t)c * PER_CHILD + (uint64_t)i + 1;
                struct lr_joblog_entry e = entry(seq, c % 2, cmd);
                cmd_for(seq, cmd, sizeof cmd);
                if (lr_joblog_write(j, &e) != 0)
                    _exit(10);
            }
            _exit(0);
        }
    }
    for (int c = 0; c < NCHILD; c++) {
        int status = 0;
        cr_assert_eq(waitpid(pids[c], &status, 0), pids[c]);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d: status %#x", c, status);
    }
    cr_assert_eq(lr_joblog_close(j), 0);

    cr_assert_eq(read_all(t.log, &g, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(g.n, NCHILD * PER_CHILD);
    unsigned char *seen = calloc(NCHILD * PER_CHILD + 1, 1);
    cr_assert(seen != NULL);
    for (size_t i = 0; i < g.n; i++) {
        uint64_t seq = g.e[i].seq;
        cr_assert(seq >= 1 && seq <= NCHILD * PER_CHILD);
        cr_assert_eq(seen[seq], 0, "seq %" PRIu64 " twice", seq);
        seen[seq] = 1;
        cr_assert(cmd_matches(seq, g.e[i].command), "seq %" PRIu64 ": command damaged", seq);
        cr_assert_eq(g.e[i].exitval, (int)((seq - 1) / PER_CHILD) % 2);
    }
    free(seen);
    got_free(&g);
    tmp_free(&t);
}

/* A child appends lines as fast as it can until SIGKILL: everything before
 * the kill is there and parses; at most the last line is torn; resuming
 * cuts the torn line off and appends cleanly. Repeated at random sizes. */
Test(joblog, sigkill_loses_nothing_written_and_tears_at_most_the_last_line, .timeout = 120)
{
    enum { ROUNDS = 6 };
    unsigned seed = (unsigned)getpid() ^ (unsigned)time(NULL);
    int torn_seen = 0;

    srand(seed);
    for (int round = 0; round < ROUNDS; round++) {
        struct tmp t;
        struct got g;
        struct lr_joblog_stats st;
        char err[512] = "";
        int status = 0;
        off_t target = (off_t)(1 + rand() % 4000) * 1024;
        pid_t pid;

        tmp_make(&t);
        pid = fork();
        cr_assert(pid >= 0);
        if (pid == 0) {
            static char cmd[CMD_BUF];
            lr_joblog *j = NULL;
            if (lr_joblog_open(t.log, 0, &j, NULL, 0) != 0)
                _exit(10);
            lr_joblog_set_sync_ms(j, -1);
            for (uint64_t seq = 1;; seq++) {
                struct lr_joblog_entry e = entry(seq, 0, cmd);
                cmd_for(seq, cmd, sizeof cmd);
                if (lr_joblog_write(j, &e) != 0)
                    _exit(11);
            }
        }
        cr_assert_eq(wait_for_growth(t.log, target, pid, &status), 1,
                     "the writer exited: status %#x", status);
        cr_assert_eq(kill(pid, SIGKILL), 0);
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

        cr_assert_eq(read_all(t.log, &g, &st, err, sizeof err), 0, "round %d (seed %u): %s", round,
                     seed, err);
        cr_assert_gt(g.n, 0);
        for (size_t i = 0; i < g.n; i++) {
            cr_assert_eq(g.e[i].seq, (uint64_t)i + 1, "lines lost or reordered (seed %u)", seed);
            cr_assert(cmd_matches(g.e[i].seq, g.e[i].command), "seq %zu damaged (seed %u)", i + 1,
                      seed);
        }
        cr_assert_eq(st.valid_bytes + st.torn_bytes, (uint64_t)file_size(t.log));
        torn_seen += st.torn;

        /* resume: the torn line goes, the next line starts a line */
        lr_joblog *j = open_ok(t.log, 1);
        cr_assert_eq(lr_joblog_trimmed(j), st.torn_bytes);
        struct lr_joblog_entry e = entry(g.n + 1, 0, "after the kill");
        write_ok(j, &e);
        cr_assert_eq(lr_joblog_close(j), 0);
        size_t before = g.n;
        got_free(&g);
        cr_assert_eq(read_all(t.log, &g, &st, err, sizeof err), 0, "%s", err);
        cr_assert_eq(g.n, before + 1);
        cr_assert_eq(st.torn, 0);
        cr_assert_str_eq(g.e[before].command, "after the kill");
        got_free(&g);
        tmp_free(&t);
    }
    cr_log_info("torn last lines seen in %d of %d kills", torn_seen, ROUNDS);
}

/* A miniature loom-run --resume-failed: read the log, skip every task that
 * has a success (GNU's rule), run the others, append a line per attempt.
 * Task k fails its first attempt when k % 5 == 0 and is retried at once (a
 * kill in between leaves only the failure, and the resume retries it). Spins a little per task
 * so that kills land in the middle of runs. */
static void
mini_runner(const char *log, int ntasks)
{
    struct got g;
    lr_joblog *j = NULL;
    unsigned char *ok = calloc((size_t)ntasks + 1, 1);
    unsigned char *tries = calloc((size_t)ntasks + 1, 1);
    static char cmd[CMD_BUF];

    if (ok == NULL || tries == NULL)
        _exit(20);
    /* open first: takes the lock and cuts a torn last line */
    if (lr_joblog_open(log, 1, &j, NULL, 0) != 0)
        _exit(21);
    lr_joblog_set_sync_ms(j, -1);
    if (read_all(log, &g, NULL, NULL, 0) != 0)
        _exit(22);
    for (size_t i = 0; i < g.n; i++) {
        uint64_t s = g.e[i].seq;
        if (s < 1 || s > (uint64_t)ntasks || !cmd_matches(s, g.e[i].command))
            _exit(23); /* "the task file changed under the log" */
        if (lr_joblog_entry_ok(&g.e[i]))
            ok[s] = 1;
        if (tries[s] < 255)
            tries[s]++;
    }
    for (int s = 1; s <= ntasks; s++) {
        /* attempts until success, as --retries does */
        while (!ok[s]) {
            double until = now_s() + 20e-6;
            while (now_s() < until)
                ;
            cmd_for((uint64_t)s, cmd, sizeof cmd);
            struct lr_joblog_entry e = entry((uint64_t)s, (s % 5 == 0 && tries[s] == 0), cmd);
            if (lr_joblog_write(j, &e) != 0)
                _exit(24);
            ok[s] = lr_joblog_entry_ok(&e);
            tries[s]++;
        }
    }
    if (lr_joblog_close(j) != 0)
        _exit(25);
    _exit(0);
}

Test(joblog, resume_after_repeated_sigkill_runs_every_task_once, .timeout = 180)
{
    enum { NTASKS = 3000, MAX_KILLS = 25 };
    unsigned seed = (unsigned)getpid() ^ (unsigned)time(NULL);
    struct tmp t;
    struct got g;
    struct lr_joblog_stats st;
    char err[512] = "";
    int kills = 0, finished = 0, status = 0, torn = 0;
    unsigned *succ = calloc(NTASKS + 1, sizeof *succ), *fail = calloc(NTASKS + 1, sizeof *fail);

    cr_assert(succ != NULL && fail != NULL);
    srand(seed);
    tmp_make(&t);
    while (!finished) {
        off_t size = file_size(t.log);
        pid_t pid;

        if (size > 0) {
            cr_assert_eq(lr_joblog_read(t.log, NULL, NULL, &st, err, sizeof err), 0, "%s", err);
            torn += st.torn;
        }
        pid = fork();
        cr_assert(pid >= 0);
        if (pid == 0)
            mini_runner(t.log, NTASKS);
        if (kills < MAX_KILLS) {
            /* kill once the log has grown by a random 1..400 KiB */
            off_t target = (size < 0 ? 0 : size) + (off_t)(1 + rand() % 400) * 1024;
            if (wait_for_growth(t.log, target, pid, &status)) {
                cr_assert_eq(kill(pid, SIGKILL), 0);
                cr_assert_eq(waitpid(pid, &status, 0), pid);
                kills++;
                continue;
            }
        } else {
            cr_assert_eq(waitpid(pid, &status, 0), pid);
        }
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "runner failed: status %#x (seed %u)", status, seed);
        finished = 1;
    }
    cr_assert_gt(kills, 0, "no run was killed (seed %u)", seed);

    cr_assert_eq(read_all(t.log, &g, &st, err, sizeof err), 0, "%s (seed %u)", err, seed);
    cr_assert_eq(st.torn, 0);
    for (size_t i = 0; i < g.n; i++) {
        uint64_t s = g.e[i].seq;
        cr_assert(s >= 1 && s <= NTASKS);
        cr_assert(cmd_matches(s, g.e[i].command));
        if (lr_joblog_entry_ok(&g.e[i])) {
            succ[s]++;
        } else {
            cr_assert_eq(succ[s], 0, "seq %" PRIu64 " failed after it succeeded", s);
            fail[s]++;
        }
    }
    for (int s = 1; s <= NTASKS; s++) {
        cr_assert_eq(succ[s], 1, "task %d succeeded %u times (%d kills, seed %u)", s, succ[s],
                     kills, seed);
        cr_assert_eq(fail[s], s % 5 == 0 ? 1u : 0u, "task %d failed %u times (seed %u)", s, fail[s],
                     seed);
    }
    cr_log_info("%d kills (%d left a torn last line), %zu lines", kills, torn, g.n);
    free(succ);
    free(fail);
    got_free(&g);
    tmp_free(&t);
}

/* ---- reading and opening bad files ---- */

#define L1 "1\t:\t1795733123.640\t     0.002\t0\t2\t0\t0\techo 1\n"
#define L2 "2\tnode-2\t1795733123.643\t     0.004\t0\t2\t1\t0\techo 2\n"
#define L4 "4\t:\t1795733123.647\t    10.001\t7\t9\t0\t0\techo\t4\n"

Test(joblog, torn_last_line_is_reported_ignored_and_cut_on_resume, .timeout = 10)
{
    static const char *const tails[] = {
        "3\t:\t17957",
        /* looks complete but has no '\n': still never trusted */
        "3\t:\t1795733123.650\t     0.001\t0\t0\t0\t0\techo 3",
        "garbage \x01\x02",
    };
    for (size_t k = 0; k < sizeof tails / sizeof tails[0]; k++) {
        struct tmp t;
        struct got g;
        struct lr_joblog_stats st;
        char err[512] = "", data[512];
        int n = snprintf(data, sizeof data, "%s%s%s%s", GNU_HEADER, L1, L2, tails[k]);
        size_t len;
        char *s;

        tmp_make(&t);
        spit(t.log, data, (size_t)n);
        cr_assert_eq(read_all(t.log, &g, &st, err, sizeof err), 0, "%s", err);
        cr_assert_eq(g.n, 2);
        cr_assert_eq(st.entries, 2);
        cr_assert_eq(st.torn, 1);
        cr_assert_eq(st.torn_bytes, strlen(tails[k]));
        cr_assert_eq(st.valid_bytes, strlen(GNU_HEADER) + strlen(L1) + strlen(L2));
        cr_assert_eq(st.max_seq, 2);
        got_free(&g);

        lr_joblog *j = open_ok(t.log, 1);
        cr_assert_eq(lr_joblog_trimmed(j), strlen(tails[k]));
        struct lr_joblog_entry e = entry(3, 0, "echo 3");
        write_ok(j, &e);
        cr_assert_eq(lr_joblog_close(j), 0);
        s = slurp(t.log, &len);
        cr_assert(strncmp(s, GNU_HEADER L1 L2 "3\t:\t", strlen(GNU_HEADER L1 L2 "3\t:\t")) == 0);
        free(s);
        cr_assert_eq(read_all(t.log, &g, &st, err, sizeof err), 0, "%s", err);
        cr_assert_eq(g.n, 3);
        cr_assert_eq(st.torn, 0);
        got_free(&g);
        tmp_free(&t);
    }
}

Test(joblog, malformed_middle_line_is_an_error_naming_the_line, .timeout = 10)
{
    static const char *const bad[] = {
        "",
        "2",
        "2\t:\t1795733123.643\t     0.004\t0\t2\t1\t0", /* no Command column */
        "0\t:\t1795733123.643\t     0.004\t0\t2\t1\t0\tc",
        "x\t:\t1795733123.643\t     0.004\t0\t2\t1\t0\tc",
        "-2\t:\t1795733123.643\t     0.004\t0\t2\t1\t0\tc",
        "+2\t:\t1795733123.643\t     0.004\t0\t2\t1\t0\tc",
        "99999999999999999999\t:\t1795733123.643\t     0.004\t0\t2\t1\t0\tc",
        "2\t\t1795733123.643\t     0.004\t0\t2\t1\t0\tc",
        "2\ta b\t1795733123.643\t     0.004\t0\t2\t1\t0\tc",
        "2\t:\t1795733123,643\t     0.004\t0\t2\t1\t0\tc",
        "2\t:\t.643\t     0.004\t0\t2\t1\t0\tc",
        "2\t:\t1795733123.\t     0.004\t0\t2\t1\t0\tc",
        "2\t:\t\t     0.004\t0\t2\t1\t0\tc",
        "2\t:\t1795733123.643\t0.004 \t0\t2\t1\t0\tc",
        "2\t:\t1795733123.643\t          \t0\t2\t1\t0\tc",
        "2\t:\t1795733123.643\t     0.004\t-1\t2\t1\t0\tc",
        "2\t:\t1795733123.643\t     0.004\t0\t2x\t1\t0\tc",
        "2\t:\t1795733123.643\t     0.004\t0\t2\tone\t0\tc",
        "2\t:\t1795733123.643\t     0.004\t0\t2\t99999999999\t0\tc",
        "2\t:\t1795733123.643\t     0.004\t0\t2\t1\t-9\tc",
        "2\t:\t1795733123.643\t     0.004\t0\t2\t1\t\tc",
        "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand",
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        struct tmp t;
        struct got g;
        char err[512] = "", data[1024], want[256];
        int n = snprintf(data, sizeof data, "%s%s%s\n%s", GNU_HEADER, L1, bad[k], L4);

        tmp_make(&t);
        spit(t.log, data, (size_t)n);
        errno = 0;
        cr_assert_eq(read_all(t.log, &g, NULL, err, sizeof err), -1, "case %zu accepted", k);
        cr_assert_eq(errno, EINVAL);
        snprintf(want, sizeof want, "%s:3: malformed job log line", t.log);
        cr_assert(strstr(err, want) != NULL, "case %zu: \"%s\"", k, err);
        cr_assert_eq(g.n, 1, "case %zu: the lines before were passed on", k);
        got_free(&g);
        tmp_free(&t);
    }
}

Test(joblog, wrong_header_is_not_a_job_log_and_is_left_alone, .timeout = 10)
{
#define F(lit)                                                                                     \
    {                                                                                              \
        lit, sizeof(lit) - 1                                                                       \
    }
    static const struct {
        const char *data;
        size_t len;
    } files[] = {
        F("hello\n" L1),
        F("Seq Host Starttime JobRuntime Send Receive Exitval Signal Command\n" L1),
        F("Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\r\n" L1),
        F("Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\tV1\n" L1),
        F(L1 L2),
        F("#!/bin/sh\necho 1\necho 2\n"),
        F("LOOMJRNL\x01\x00\x00\x00\xff\xfe binary journal without any newline at all......"),
        F("Seq\tHost\tStarx"), /* not a prefix of the header */
        F("seq\tHost"),
    };
#undef F
    for (size_t k = 0; k < sizeof files / sizeof files[0]; k++) {
        struct tmp t;
        char err[512] = "";
        const char *f = files[k].data;
        size_t flen = files[k].len, len;
        lr_joblog *j = NULL;
        char *s;

        tmp_make(&t);
        spit(t.log, f, flen);
        errno = 0;
        cr_assert_eq(lr_joblog_read(t.log, NULL, NULL, NULL, err, sizeof err), -1, "case %zu", k);
        cr_assert_eq(errno, EINVAL);
        cr_assert(strstr(err, "not a job log") != NULL, "case %zu: \"%s\"", k, err);
        cr_assert(strstr(err, t.log) != NULL);
        err[0] = '\0';
        errno = 0;
        cr_assert_eq(lr_joblog_open(t.log, 1, &j, err, sizeof err), -1, "case %zu", k);
        cr_assert_eq(errno, EINVAL);
        cr_assert_null(j);
        cr_assert(strstr(err, "not a job log") != NULL, "case %zu: \"%s\"", k, err);
        s = slurp(t.log, &len);
        cr_assert(len == flen && memcmp(s, f, len) == 0, "case %zu: the file was changed", k);
        free(s);
        tmp_free(&t);
    }
}

Test(joblog, empty_file_has_no_entries_and_gets_a_header_on_resume, .timeout = 10)
{
    struct tmp t;
    struct lr_joblog_stats st;
    char err[512] = "";
    size_t len;
    char *s;

    tmp_make(&t);
    spit(t.log, "", 0);
    cr_assert_eq(lr_joblog_read(t.log, collect, NULL, &st, err, sizeof err), 0, "%s", err);
    cr_assert_eq(st.entries, 0);
    cr_assert_eq(st.has_header, 0);
    cr_assert_eq(st.torn, 0);
    cr_assert_eq(st.valid_bytes, 0);
    cr_assert_eq(lr_joblog_close(open_ok(t.log, 1)), 0);
    s = slurp(t.log, &len);
    cr_assert_str_eq(s, GNU_HEADER);
    free(s);
    tmp_free(&t);
}

Test(joblog, header_only_file_has_no_entries, .timeout = 10)
{
    struct tmp t;
    struct lr_joblog_stats st;
    char err[512] = "";
    lr_joblog *j;

    tmp_make(&t);
    spit(t.log, GNU_HEADER, strlen(GNU_HEADER));
    cr_assert_eq(lr_joblog_read(t.log, collect, NULL, &st, err, sizeof err), 0, "%s", err);
    cr_assert_eq(st.entries, 0);
    cr_assert_eq(st.has_header, 1);
    cr_assert_eq(st.torn, 0);
    cr_assert_eq(st.valid_bytes, strlen(GNU_HEADER));
    j = open_ok(t.log, 1);
    cr_assert_eq(lr_joblog_trimmed(j), 0);
    cr_assert_eq(lr_joblog_close(j), 0);
    cr_assert_eq(file_size(t.log), (off_t)strlen(GNU_HEADER));
    tmp_free(&t);
}

Test(joblog, torn_header_is_torn_not_foreign, .timeout = 10)
{
    struct tmp t;
    struct lr_joblog_stats st;
    char err[512] = "";
    lr_joblog *j;
    size_t len;
    char *s;

    tmp_make(&t);
    spit(t.log, GNU_HEADER, 12);
    cr_assert_eq(lr_joblog_read(t.log, collect, NULL, &st, err, sizeof err), 0, "%s", err);
    cr_assert_eq(st.entries, 0);
    cr_assert_eq(st.has_header, 0);
    cr_assert_eq(st.torn, 1);
    cr_assert_eq(st.torn_bytes, 12);
    j = open_ok(t.log, 1);
    cr_assert_eq(lr_joblog_trimmed(j), 12);
    cr_assert_eq(lr_joblog_close(j), 0);
    s = slurp(t.log, &len);
    cr_assert_str_eq(s, GNU_HEADER);
    free(s);
    tmp_free(&t);
}

Test(joblog, overlong_line_is_an_error, .timeout = 20)
{
    struct tmp t;
    char err[512] = "";
    size_t n = (size_t)LR_JOBLOG_LINE_MAX + 10, at;
    char *data = malloc(n + 512);

    cr_assert(data != NULL);
    tmp_make(&t);
    at = (size_t)snprintf(data, 512, "%s%s2\t:\t1.000\t     0.000\t0\t0\t0\t0\t", GNU_HEADER, L1);
    memset(data + at, 'x', n);
    data[at + n] = '\n';
    spit(t.log, data, at + n + 1);
    errno = 0;
    cr_assert_eq(lr_joblog_read(t.log, NULL, NULL, NULL, err, sizeof err), -1);
    cr_assert_eq(errno, EINVAL);
    cr_assert(strstr(err, ":3: malformed job log line: longer than") != NULL, "\"%s\"", err);
    free(data);
    tmp_free(&t);
}

Test(joblog, missing_file_is_enoent, .timeout = 10)
{
    char err[512] = "";
    errno = 0;
    cr_assert_eq(lr_joblog_read("/nonexistent/loom/job.log", NULL, NULL, NULL, err, sizeof err),
                 -1);
    cr_assert_eq(errno, ENOENT);
    cr_assert(strstr(err, "/nonexistent/loom/job.log") != NULL);
}

static int
stop_at_second(const struct lr_joblog_entry *e, void *arg)
{
    (*(int *)arg)++;
    return e->seq == 2 ? 7 : 0;
}

Test(joblog, callback_can_stop_the_reading, .timeout = 10)
{
    struct tmp t;
    char data[512];
    int calls = 0, n = snprintf(data, sizeof data, "%s%s%s%s", GNU_HEADER, L1, L2, L4);

    tmp_make(&t);
    spit(t.log, data, (size_t)n);
    cr_assert_eq(lr_joblog_read(t.log, stop_at_second, &calls, NULL, NULL, 0), 7);
    cr_assert_eq(calls, 2);
    tmp_free(&t);
}

Test(joblog, second_writer_is_refused_while_the_first_holds_the_log, .timeout = 10)
{
    struct tmp t;
    char err[512] = "";
    lr_joblog *a, *b = NULL;
    size_t len;
    char *s;

    tmp_make(&t);
    a = open_ok(t.log, 0);
    struct lr_joblog_entry e = entry(1, 0, "echo 1");
    write_ok(a, &e);
    for (int append = 0; append <= 1; append++) {
        errno = 0;
        cr_assert_eq(lr_joblog_open(t.log, append, &b, err, sizeof err), -1);
        cr_assert_eq(errno, EWOULDBLOCK);
        cr_assert_null(b);
        cr_assert(strstr(err, "in use by another process") != NULL, "\"%s\"", err);
    }
    /* the refused truncating open did not truncate */
    s = slurp(t.log, &len);
    cr_assert(strstr(s, "echo 1\n") != NULL);
    free(s);
    cr_assert_eq(lr_joblog_close(a), 0);
    b = open_ok(t.log, 1);
    cr_assert_eq(lr_joblog_close(b), 0);
    tmp_free(&t);
}

Test(joblog, append_keeps_lines_and_a_new_run_starts_over, .timeout = 10)
{
    struct tmp t;
    struct got g;
    char err[512] = "";
    lr_joblog *j;

    tmp_make(&t);
    j = open_ok(t.log, 1); /* resume of a log that does not exist yet */
    for (uint64_t s = 1; s <= 3; s++) {
        struct lr_joblog_entry e = entry(s, 0, "c");
        write_ok(j, &e);
    }
    cr_assert_eq(lr_joblog_close(j), 0);
    j = open_ok(t.log, 1);
    cr_assert_eq(lr_joblog_trimmed(j), 0);
    struct lr_joblog_entry e = entry(4, 1, "d");
    write_ok(j, &e);
    cr_assert_eq(lr_joblog_close(j), 0);
    cr_assert_eq(read_all(t.log, &g, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(g.n, 4);
    cr_assert_eq(g.e[3].seq, 4);
    got_free(&g);
    cr_assert_eq(lr_joblog_close(open_ok(t.log, 0)), 0);
    cr_assert_eq(file_size(t.log), (off_t)strlen(GNU_HEADER));
    tmp_free(&t);
}

Test(joblog, sync_policies_and_a_log_that_cannot_be_synced, .timeout = 10)
{
    struct tmp t;
    char fifo[160], buf[4096], err[512] = "";
    lr_joblog *j = NULL;
    ssize_t n;
    int rfd;

    tmp_make(&t);
    long policies[] = {0, 1, 100000, -1};
    for (size_t i = 0; i < 4; i++) {
        j = open_ok(t.log, 0);
        lr_joblog_set_sync_ms(j, policies[i]);
        struct lr_joblog_entry e = entry(1, 0, "c");
        write_ok(j, &e);
        cr_assert_eq(lr_joblog_sync_if_due(j), 0);
        cr_assert_eq(lr_joblog_sync(j), 0);
        cr_assert_eq(lr_joblog_close(j), 0);
    }
    cr_assert_eq(lr_joblog_close(NULL), 0);

    /* a FIFO (as --joblog /dev/stdout would be): written, fdatasync's
     * EINVAL accepted; resuming from it is refused */
    snprintf(fifo, sizeof fifo, "%s/fifo", t.dir);
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    rfd = open(fifo, O_RDONLY | O_NONBLOCK);
    cr_assert(rfd >= 0);
    j = open_ok(fifo, 0);
    lr_joblog_set_sync_ms(j, 0);
    struct lr_joblog_entry e = entry(1, 0, "c");
    write_ok(j, &e);
    cr_assert_eq(lr_joblog_close(j), 0);
    n = read(rfd, buf, sizeof buf - 1);
    cr_assert_gt(n, 0);
    buf[n] = '\0';
    cr_assert(strncmp(buf, GNU_HEADER "1\t:\t", strlen(GNU_HEADER) + 4) == 0, "\"%s\"", buf);
    j = NULL;
    errno = 0;
    cr_assert_eq(lr_joblog_open(fifo, 1, &j, err, sizeof err), -1);
    cr_assert_eq(errno, EINVAL);
    cr_assert(strstr(err, "not a regular file") != NULL, "\"%s\"", err);
    close(rfd);
    tmp_free(&t);
}

/* ---- GNU Parallel itself ---- */

static void
require_gnu_parallel(void)
{
    cr_assert(access(GNU_PARALLEL, X_OK) == 0,
              "GNU Parallel is missing: these compatibility tests need " GNU_PARALLEL
              " (Debian package `parallel`: apt-get install parallel)");
}

/* Run a shell command line; return its stdout (malloc'd) and exit status. */
static char *
run(const char *cmdline, int *status)
{
    FILE *p = popen(cmdline, "r");
    char *out = NULL;
    size_t cap = 0, n = 0, r;

    cr_assert(p != NULL, "popen: %s", strerror(errno));
    do {
        if (cap - n < 4096) {
            cap = cap * 2 + 4096;
            out = realloc(out, cap + 1);
            cr_assert(out != NULL);
        }
        r = fread(out + n, 1, cap - n, p);
        n += r;
    } while (r > 0);
    out[n] = '\0';
    *status = pclose(p);
    return out;
}

/* Sort the lines of s in place (GNU may finish jobs in any order). */
static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
assert_ran(const char *out, const char *const *want, size_t nwant, const char *what)
{
    char *copy = strdup(out), *lines[64], *p;
    size_t n = 0;

    cr_assert(copy != NULL);
    for (p = copy; *p != '\0';) {
        char *nl = strchr(p, '\n');
        cr_assert_lt(n, 64);
        lines[n++] = p;
        if (nl == NULL)
            break;
        *nl = '\0';
        p = nl + 1;
    }
    qsort(lines, n, sizeof lines[0], cmp_str);
    cr_assert_eq(n, nwant, "%s: GNU Parallel ran %zu jobs, expected %zu; its output:\n%s", what, n,
                 nwant, out);
    for (size_t i = 0; i < n; i++)
        cr_assert_str_eq(lines[i], want[i], "%s: output:\n%s", what, out);
    free(copy);
}

/*
 * loom writes a log for tasks 1..5 of `echo ran {}` ::: 1..10: 1-4
 * succeeded (on various hosts; task 4's command with a TAB and a newline,
 * which GNU must swallow), 5 failed. GNU Parallel's --resume must run
 * exactly 6..10 (it skips by Seq, whatever the status); its --resume-failed
 * must then run exactly 5. Its lines appended to our log must read back.
 */
Test(joblog, gnu_parallel_resumes_from_a_loom_log, .timeout = 120)
{
    static const char *const after_resume[] = {"ran 10", "ran 6", "ran 7", "ran 8", "ran 9"};
    static const char *const after_failed[] = {"ran 5"};
    static const char *const hosts[] = {NULL, "node-a", "2/node-b", ":", "node-a"};
    struct tmp t;
    struct got g;
    char cmd[1024], err[512] = "", c[64];
    int status;
    char *out;
    lr_joblog *j;

    require_gnu_parallel();
    tmp_make(&t);
    j = open_ok(t.log, 0);
    for (uint64_t s = 1; s <= 5; s++) {
        snprintf(c, sizeof c, s == 4 ? "echo ran\t%" PRIu64 "\n" : "echo ran %" PRIu64, s);
        struct lr_joblog_entry e = entry(s, s == 5 ? 1 : 0, c);
        e.host = hosts[s - 1];
        e.send = s * 10;
        e.receive = 6;
        write_ok(j, &e);
    }
    cr_assert_eq(lr_joblog_close(j), 0);

    snprintf(cmd, sizeof cmd,
             "cd %s && HOME=%s " GNU_PARALLEL " --resume --joblog %s -j1 'echo ran {}' "
             "::: 1 2 3 4 5 6 7 8 9 10",
             t.dir, t.dir, t.log);
    out = run(cmd, &status);
    cr_assert_eq(status, 0, "GNU Parallel --resume failed (status %#x): %s", status, out);
    assert_ran(out, after_resume, 5, "--resume");
    free(out);

    cr_assert_eq(read_all(t.log, &g, NULL, err, sizeof err), 0,
                 "loom cannot read the log after GNU appended: %s", err);
    cr_assert_eq(g.n, 10);
    for (size_t i = 5; i < 10; i++) {
        snprintf(c, sizeof c, "echo ran %zu", i + 1);
        cr_assert_eq(g.e[i].seq, i + 1);
        cr_assert_str_eq(g.e[i].command, c);
        cr_assert_str_eq(g.e[i].host, ":");
        cr_assert(lr_joblog_entry_ok(&g.e[i]));
    }
    got_free(&g);

    snprintf(cmd, sizeof cmd,
             "cd %s && HOME=%s " GNU_PARALLEL " --resume-failed --joblog %s -j1 'echo ran {}' "
             "::: 1 2 3 4 5 6 7 8 9 10",
             t.dir, t.dir, t.log);
    out = run(cmd, &status);
    cr_assert_eq(status, 0, "GNU Parallel --resume-failed failed (status %#x): %s", status, out);
    assert_ran(out, after_failed, 1, "--resume-failed");
    free(out);

    /* now every Seq 1..10 has a success; 5 also its failure */
    cr_assert_eq(read_all(t.log, &g, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(g.n, 11);
    int ok[11] = {0};
    for (size_t i = 0; i < g.n; i++) {
        if (lr_joblog_entry_ok(&g.e[i]))
            ok[g.e[i].seq]++;
    }
    for (int s = 1; s <= 10; s++)
        cr_assert_eq(ok[s], 1, "seq %d", s);
    cr_assert_eq(g.e[10].seq, 5);
    cr_assert_str_eq(g.e[3].command, "echo ran\t4\n");
    got_free(&g);
    tmp_free(&t);
}

/* And the other way: loom reads what GNU Parallel writes, newline-in-command
 * (NUL), signals and exit codes included, and GNU's header is ours. */
Test(joblog, loom_reads_a_gnu_parallel_log, .timeout = 120)
{
    struct tmp t;
    struct got g;
    struct lr_joblog_stats st;
    char cmd[1024], err[512] = "";
    int status;
    char *out, *s;
    size_t len;

    require_gnu_parallel();
    tmp_make(&t);
    snprintf(cmd, sizeof cmd,
             "cd %s && export HOME=%s && "
             "" GNU_PARALLEL " --joblog %s -j1 'echo {}; exit {}' ::: 0 1 2; "
             "" GNU_PARALLEL " --joblog +%s -j1 'kill -9 $$' ::: 4; "
             "" GNU_PARALLEL " --joblog +%s -j1 \"$(printf 'echo a\\necho b')\" ::: 5; "
             "exit 0",
             t.dir, t.dir, t.log, t.log, t.log);
    out = run(cmd, &status);
    cr_assert_eq(status, 0, "%s", out);
    free(out);

    s = slurp(t.log, &len);
    cr_assert(strncmp(s, LR_JOBLOG_HEADER, strlen(LR_JOBLOG_HEADER)) == 0,
              "GNU Parallel's header differs from ours: %.100s", s);
    free(s);
    cr_assert_eq(read_all(t.log, &g, &st, err, sizeof err), 0, "%s", err);
    cr_assert_eq(g.n, 5);
    cr_assert_eq(st.torn, 0);
    for (int i = 0; i < 3; i++) {
        char c[64];
        snprintf(c, sizeof c, "echo %d; exit %d", i, i);
        cr_assert_eq(g.e[i].seq, (uint64_t)i + 1);
        cr_assert_str_eq(g.e[i].host, ":");
        cr_assert_eq(g.e[i].exitval, i);
        cr_assert_eq(g.e[i].signal, 0);
        cr_assert_str_eq(g.e[i].command, c);
        cr_assert_eq(g.e[i].receive, 2);
        cr_assert_gt(g.e[i].start, 1e9);
    }
    cr_assert_eq(g.e[3].exitval, 0);
    cr_assert_eq(g.e[3].signal, 9);
    cr_assert_str_eq(g.e[3].command, "kill -9 $$ 4");
    cr_assert_str_eq(g.e[4].command, "echo a\necho b 5");
    got_free(&g);
    tmp_free(&t);
}
