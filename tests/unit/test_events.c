/* SPDX-License-Identifier: MIT */
/* The events file (framework/src/formats/events.c: job.events, loom-run's
 * --events): JSON string escaping of any bytes, and every line written is
 * one strict JSON object with the keys and types events.h documents. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "events.h"
#include "json_lines.h"
#include "loom_test.h"

/* ---- the tests ---------------------------------------------------------------- */

static char *
json_of(const char *s, size_t n)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    loom__json_string(f, s, n);
    fclose(f);
    return text;
}

Test(events, nasty_strings_are_escaped)
{
    static const char in[] = "a\"b\\c/\n\r\t\b\f\x01\x1f\x7f"
                             "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80" /* é € an emoji */
                             "|\xff|\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80|\xe2\x82";
    char *j = json_of(in, sizeof in - 1);
    cr_assert_str_eq(j, "\"a\\\"b\\\\c/\\n\\r\\t\\b\\f\\u0001\\u001f\x7f"
                        "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
                        "|\\ufffd|\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd|"
                        "\\ufffd\\ufffd\\ufffd\\ufffd|\\ufffd\\ufffd\"");
    /* and it is a JSON string that decodes to the valid parts */
    char decoded[256];
    cr_assert_not_null(json_string(j, decoded, sizeof decoded));
    cr_assert_eq(strncmp(decoded, "a\"b\\c/\n\r\t\b\f\x01\x1f\x7f\xc3\xa9", 16), 0);
    free(j);
    /* a NUL inside the bytes, and nothing at all */
    j = json_of("x\0y", 3);
    cr_assert_str_eq(j, "\"x\\u0000y\"");
    free(j);
    j = json_of("", 0);
    cr_assert_str_eq(j, "\"\"");
    free(j);
}

Test(events, utf8_decoder_rejects_what_is_not_utf8)
{
    size_t adv;
    cr_assert_eq(loom__utf8_next((const unsigned char *)"\xe2\x82\xac", 3, &adv), 0x20ac);
    cr_assert_eq(adv, 3);
    cr_assert_eq(loom__utf8_next((const unsigned char *)"\xe0\x80\x80", 3, &adv), -1); /* long */
    cr_assert_eq(adv, 1);
    cr_assert_eq(loom__utf8_next((const unsigned char *)"\xed\xbf\xbf", 3, &adv),
                 -1); /* surrogate */
    cr_assert_eq(loom__utf8_next((const unsigned char *)"\xf4\x8f\xbf\xbf", 4, &adv), 0x10ffff);
    cr_assert_eq(loom__utf8_next((const unsigned char *)"\xf0\x9f\x98", 3, &adv), -1); /* cut */
    cr_assert_eq(loom__utf8_next((const unsigned char *)"\x80", 1, &adv), -1);
}

Test(events, the_checker_refuses_what_is_not_json)
{
    struct jobj o;
    cr_assert_eq(json_parse_line("{\"a\":1,\"b\":\"x\",\"c\":true,\"d\":null,\"e\":-0.5e3}", &o),
                 0);
    cr_assert_eq(o.n, 5);
    static const char *const bad[] = {"{\"a\":1,}",        "{\"a\":01}",         "{\"a\":nan}",
                                      "{\"a\":1}{}",       "{\"a\":\"\x01\"}",   "{\"a\":\"\\x\"}",
                                      "{\"a\":1,\"a\":2}", "{\"a\":\"\xff\"}",   "[1]",
                                      "{\"a\":.5}",        "{\"a\":\"\\ud800\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_neq(json_parse_line(bad[i], &o), 0, "accepted %s", bad[i]);
}

static loom_attempt
att(uint64_t seq, unsigned attempt, const char *host, int rank, int slot, double start, double run,
    int exitval, int sig, int timed_out, int final, loom_outcome oc, loom_cause cause,
    const char *cmd, size_t cmd_len)
{
    return (loom_attempt){.seq = seq,
                          .attempt = attempt,
                          .host = host,
                          .rank = rank,
                          .slot = slot,
                          .start_ns = (int64_t)(start * 1e9),
                          .run_ns = (int64_t)(run * 1e9),
                          .exit = exitval,
                          .signal = sig,
                          .timed_out = timed_out,
                          .outcome = oc,
                          .cause = cause,
                          .final = final,
                          .label = cmd,
                          .label_len = cmd_len};
}

Test(events, every_line_follows_the_schema)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    loom__events *e = loom__events_from(f);
    cr_assert_not_null(e);
    static const char nasty[] = "echo \"<a & 'b'>\" \\ \x01\t\xff\xfe | tee /dev/null\n";
    loom__events_run_start(e, 1700000000250000000, "tasks \"1\".txt", 3, 0);
    loom__events_worker_join(e, 1700000000500000000, 1, "node-a", 8, 8);
    loom__events_worker_join(e, 1700000000500000000, 2, "node-\xff", 8, 16);
    loom_attempt a[] = {
        att(1, 1, "node-a", 1, 1, 1700000000.5, 0.25, 0, 0, 0, 1, LOOM_OUTCOME_OK, 0, "true", 4),
        att(2, 1, "node-a", 1, 2, 1700000000.6, 1.5, 3, 0, 0, 0, LOOM_OUTCOME_FAILED, 0, "exit 3",
            6),
        att(2, 2, "node-b", 2, 1, 1700000002.0, 1.5, 0, 9, 0, 1, LOOM_OUTCOME_FAILED, 0,
            "kill -9 $$", 10),
        att(3, 1, "node-b", 2, 2, 1700000000.7, 5.0, -1, 0, 1, 1, LOOM_OUTCOME_TIMEOUT, 0,
            "sleep 9", 7),
        att(4, 1, "node-\"b\"", 2, 3, 1700000001.0, 0.1, 0, 15, 0, 1, LOOM_OUTCOME_KILLED, 0, nasty,
            sizeof nasty - 1),
        att(5, 1, "", 0, 0, 0, 0, 0, 0, 0, 1, LOOM_OUTCOME_NOT_RUN, 0, NULL, 0),
        /* a C-API job's: a function's status, an isolated task's causes */
        att(6, 1, "node-a", 1, 1, 1700000003.0, 0.001, 7, 0, 0, 1, LOOM_OUTCOME_FAILED,
            LOOM_CAUSE_FAILED, "square", 6),
        att(7, 1, "node-a", 1, 1, 1700000003.0, 0.001, -1, 0, 0, 1, LOOM_OUTCOME_FAILED,
            LOOM_CAUSE_MEMORY, "grow", 4),
        att(8, 2, NULL, 0, 0, 0, 0, -1, 0, 0, 1, LOOM_OUTCOME_NOT_RUN, LOOM_CAUSE_LOST, "square",
            6),
    };
    for (size_t i = 0; i < sizeof a / sizeof a[0]; i++)
        loom__events_attempt(e, 1700000003000000000 + (int64_t)i * 1000000000, &a[i]);
    loom__events_worker_lost(e, 1700000009000000000, 2, "node-b", 1, 8);
    struct loom__run_end s = {{4, 5, 1, 2, 1, 1, 1, 1, 0, 0}, 9500000000, 8};
    loom__events_run_end(e, 1700000010000000000, &s);
    cr_assert_eq(loom__events_close(e), 0);
    fclose(f);

    int lines = 0, attempts = 0, seen_end = 0, joins = 0;
    char *save = NULL;
    static const char *const outcomes[] = {"ok",      "failed", "failed", "timeout", "killed",
                                           "not_run", "failed", "failed", "not_run"};
    static const char *const causes[] = {"ok",      "exit",   "signal", "timeout", "killed",
                                         "not_run", "failed", "memory", "lost"};
    cr_assert_eq(text[len - 1], '\n');
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        struct jobj o;
        lines++;
        const char *ev = json_check_event(line, &o);
        if (!strcmp(ev, "run_start")) {
            cr_assert_eq(lines, 1);
            cr_assert_str_eq(json_str(&o, "tasks"), "tasks \"1\".txt");
        } else if (!strcmp(ev, "attempt")) {
            cr_assert_str_eq(json_str(&o, "outcome"), outcomes[attempts], "%s", line);
            cr_assert_str_eq(json_str(&o, "cause"), causes[attempts], "%s", line);
            if (attempts == 0) {
                cr_assert_eq(json_num(&o, "start"), 1700000000.5);
                cr_assert_eq(json_num(&o, "end"), 1700000000.75);
                cr_assert_eq(json_num(&o, "runtime"), 0.25);
            }
            if (attempts == 4) {
                /* the nasty command, decoded: invalid bytes as U+FFFD */
                cr_assert_str_eq(json_str(&o, "cmd"), "echo \"<a & 'b'>\" \\ \x01\t\xef\xbf\xbd"
                                                      "\xef\xbf\xbd | tee /dev/null\n");
                cr_assert_str_eq(json_str(&o, "host"), "node-\"b\"");
            }
            if (attempts == 8) {
                cr_assert_str_eq(json_str(&o, "host"), "");
                cr_assert_str_eq(json_str(&o, "cmd"), "square");
            }
            attempts++;
        } else if (!strcmp(ev, "worker_join")) {
            joins++;
            cr_assert_eq(json_num(&o, "rank"), joins);
            cr_assert_eq(json_num(&o, "threads"), 8 * joins);
            if (joins == 2)
                cr_assert_str_eq(json_str(&o, "host"), "node-\xef\xbf\xbd");
        } else if (!strcmp(ev, "run_end")) {
            cr_assert_eq(json_num(&o, "tasks"), 5);
            cr_assert_eq(json_num(&o, "wall"), 9.5);
            seen_end = 1;
        }
    }
    cr_assert_eq(attempts, 9);
    cr_assert_eq(joins, 2);
    cr_assert_eq(lines, 14);
    cr_assert(seen_end);
    free(text);
}

Test(events, an_unwritable_file_is_refused)
{
    loom__events *e = (loom__events *)1;
    char err[256];
    cr_assert_eq(
        loom__events_open("/nonexistent-dir/ev.jsonl", "LOOM_JOB_EVENTS", &e, err, sizeof err), -1);
    cr_assert_null(e);
    cr_assert_str_eq(err, "LOOM_JOB_EVENTS /nonexistent-dir/ev.jsonl: cannot write it: No such "
                          "file or directory");
}

/* A full disk: the lines cannot go out, and flushing says so. */
Test(events, a_write_error_is_reported)
{
    loom__events *e = NULL;
    char err[256];
    cr_assert_eq(loom__events_open("/dev/full", "--job-events", &e, err, sizeof err), 0, "%s", err);
    for (int i = 0; i < 20000; i++)
        loom__events_worker_lost(e, 1000000000, 1, "h", i, 0);
    cr_assert_eq(loom__events_flush(e), -1);
    cr_assert_eq(loom__events_close(e), -1);
}

/* Write events in batches into a file limited to `limit` bytes
 * (RLIMIT_FSIZE, SIGXFSZ ignored: writes past it fail with EFBIG, as on a
 * full disk) until a flush fails; in a child, so the limit stays there.
 * The child exits 0 when a flush failed and close said so too. */
static void
write_until_full(const char *path, rlim_t limit)
{
    struct rlimit rl = {limit, limit};
    signal(SIGXFSZ, SIG_IGN);
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
        _exit(10);
    loom__events *e = NULL;
    char err[256], cmd[300];
    if (loom__events_open(path, "LOOM_JOB_EVENTS", &e, err, sizeof err) != 0)
        _exit(11);
    for (int batch = 0; batch < 1000; batch++) {
        for (int i = 0; i < 37; i++) { /* lines of uneven lengths */
            int n = 1 + (batch * 37 + i) % 251;
            memset(cmd, 'a' + i % 26, (size_t)n);
            loom_attempt a = att((uint64_t)(batch * 37 + i), 1, "node-a", 1, 1, 1700000000.5, 0.25,
                                 0, 0, 0, 1, LOOM_OUTCOME_OK, 0, cmd, (size_t)n);
            loom__events_attempt(e, 1700000003000000000, &a);
        }
        if (loom__events_flush(e) != 0)
            _exit(errno == EFBIG && loom__events_close(e) != 0 ? 0 : 12);
    }
    _exit(13); /* never full */
}

/* Issue #16: the disk filled in the middle of a batch and the file ended
 * in half a JSON line. It must end on a whole line. */
Test(events, a_full_file_ends_on_a_whole_line)
{
    char path[] = "/tmp/loom-events-full-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    const rlim_t limit = 100000;
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0)
        write_until_full(path, limit);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "writer ended with status %#x", st);

    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    char *text = calloc(1, limit + 1);
    size_t len = fread(text, 1, limit + 1, f);
    fclose(f);
    unlink(path);
    cr_assert_gt(len, 0);
    cr_assert_leq(len, limit);
    cr_assert_eq(text[len - 1], '\n', "the file (%zu bytes) ends in: ...%s", len,
                 text + (len > 120 ? len - 120 : 0));
    int lines = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        struct jobj o;
        cr_assert_eq(json_parse_line(line, &o), 0, "line %d is not JSON: %s", lines + 1, line);
        cr_assert_eq(json_num(&o, "seq"), lines, "line %d: %s", lines + 1, line);
        lines++;
    }
    /* the file is cut at most one line (<= 512 bytes here) short of the limit */
    cr_assert_gt(len, limit - 512, "%d lines, %zu bytes", lines, len);
    free(text);
}
