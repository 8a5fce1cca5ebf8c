/* SPDX-License-Identifier: MIT */
/* The recorder (recorder.c) without MPI: what the master would tell it —
 * workers joining and lost, attempts coming back — read back from the
 * events file and the report it writes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "json_lines.h"
#include "loom_test.h"
#include "recorder.h"

#define MAX_LINES 64

struct events {
    struct jobj o[MAX_LINES];
    const char *ev[MAX_LINES];
    int n;
};

/* Every line of the events file, each checked against the schema. */
static void
read_events(const char *path, struct events *e)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "no events file %s", path);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    e->n = 0;
    while ((len = getline(&line, &cap, f)) > 0) {
        cr_assert_lt(e->n, MAX_LINES);
        if (line[len - 1] == '\n')
            line[len - 1] = '\0';
        e->ev[e->n] = json_check_event(line, &e->o[e->n]);
        e->n++;
    }
    free(line);
    fclose(f);
}

static char *
slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot read %s", path);
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

struct paths {
    char dir[64], events[96], report[96];
};

static void
make_paths(struct paths *p)
{
    snprintf(p->dir, sizeof p->dir, "/tmp/loom-test-recorder-XXXXXX");
    cr_assert_not_null(mkdtemp(p->dir));
    snprintf(p->events, sizeof p->events, "%s/events.jsonl", p->dir);
    snprintf(p->report, sizeof p->report, "%s/report.html", p->dir);
}

static void
remove_paths(const struct paths *p)
{
    unlink(p->events);
    unlink(p->report);
    rmdir(p->dir);
}

static const char *const fns[] = {"square", "cube"};

static loom__recorder *
open_rec(const struct paths *p, int own)
{
    struct loom__recorder_opts o = {
        p->events, "job.events", p->report, "job.report", "prog", "unit run", 3, own, fns, 2};
    loom__recorder *r = NULL;
    loom_assert_ok(loom__recorder_open(&o, &r));
    cr_assert_not_null(r);
    loom_assert_ok(loom__recorder_start(r));
    return r;
}

static void
expect_attempt(const struct events *e, int i, unsigned seq, unsigned attempt, const char *host,
               const char *cmd, const char *outcome, int final)
{
    const struct jobj *o = &e->o[i];
    cr_assert_str_eq(e->ev[i], "attempt", "line %d", i + 1);
    cr_assert_eq(json_num(o, "seq"), seq, "line %d: seq", i + 1);
    cr_assert_eq(json_num(o, "attempt"), attempt, "line %d: attempt", i + 1);
    cr_assert_str_eq(json_str(o, "host"), host, "line %d: host", i + 1);
    cr_assert_str_eq(json_str(o, "cmd"), cmd, "line %d: cmd", i + 1);
    cr_assert_str_eq(json_str(o, "outcome"), outcome, "line %d: outcome", i + 1);
    cr_assert_str_eq(json_get(o, "final")->str, final ? "true" : "false", "line %d: final", i + 1);
}

Test(recorder, the_job_s_attempts_joins_and_losses_in_order, .timeout = 60)
{
    struct paths p;
    make_paths(&p);
    loom__recorder *r = open_rec(&p, 0);
    cr_assert(loom__recorder_wants_results(r));
    loom__recorder_join(r, 1, "node-a", 4);
    loom__recorder_join(r, 2, "node-b", 2);
    int64_t now = loom__wall_ns(), start = now - 2000000;
    loom__recorder_result(r, now, 1, 1, 0, 1, 1, start, 1000000, 0, LOOM_CAUSE_OK, 0, 1);
    loom__recorder_result(r, now, 2, 1, 1, 2, 2, start, 1000, 3, LOOM_CAUSE_FAILED, 0, 0);
    loom__recorder_result(r, now, 2, 2, 1, 1, 3, start, 1000, 0, LOOM_CAUSE_OK, 0, 1);
    loom__recorder_lost(r, 2);
    loom__recorder_not_run(r, 3, 1, 0);
    loom__recorder_skipped(r);
    loom_assert_ok(loom__recorder_close(r));
    loom_assert_ok(loom__recorder_close(r)); /* once: the same answer again */
    loom__recorder_join(r, 1, "late", 1);    /* after close: dropped */

    struct events e;
    read_events(p.events, &e);
    static const char *const want[] = {"run_start",   "worker_join", "worker_join",
                                       "attempt",     "attempt",     "attempt",
                                       "worker_lost", "attempt",     "run_end"};
    cr_assert_eq(e.n, 9, "%d lines", e.n);
    for (int i = 0; i < e.n; i++)
        cr_assert_str_eq(e.ev[i], want[i], "line %d", i + 1);
    cr_assert_str_eq(json_str(&e.o[0], "tasks"), "unit run");
    cr_assert_eq(json_num(&e.o[0], "ranks"), 3);
    cr_assert_str_eq(json_str(&e.o[1], "host"), "node-a");
    cr_assert_eq(json_num(&e.o[1], "worker_threads"), 4);
    cr_assert_eq(json_num(&e.o[2], "threads"), 6, "threads connected in all");
    expect_attempt(&e, 3, 1, 1, "node-a", "square", "ok", 1);
    expect_attempt(&e, 4, 2, 1, "node-b", "cube", "failed", 0);
    cr_assert_eq(json_num(&e.o[4], "exit"), 3, "the function's status");
    expect_attempt(&e, 5, 2, 2, "node-a", "cube", "ok", 1);
    cr_assert_eq(json_num(&e.o[6], "rank"), 2);
    cr_assert_eq(json_num(&e.o[6], "lost"), 1);
    cr_assert_eq(json_num(&e.o[6], "threads"), 4, "node-b's threads are gone");
    expect_attempt(&e, 7, 3, 1, "", "square", "not_run", 1);
    const struct jobj *end = &e.o[8];
    cr_assert_eq(json_num(end, "tasks"), 3);
    cr_assert_eq(json_num(end, "succeeded"), 2);
    cr_assert_eq(json_num(end, "retried"), 1);
    cr_assert_eq(json_num(end, "not_run"), 1);
    cr_assert_eq(json_num(end, "skipped"), 1);
    cr_assert_eq(json_num(end, "status"), 1, "a task that never ran fails the run");

    const char *html = slurp(p.report);
    cr_assert(strstr(html, "<title>prog report: unit run</title>"), "report:\n%.400s", html);
    cr_assert(strstr(html, "square"), "the report names the functions");
    loom__recorder_destroy(r);
    remove_paths(&p);
}

Test(recorder, the_program_s_own_attempts_and_summary, .timeout = 60)
{
    struct paths p;
    make_paths(&p);
    loom__recorder *r = open_rec(&p, 1);
    cr_assert_not(loom__recorder_wants_results(r), "own attempts: the job's are not recorded");
    int64_t now = loom__wall_ns();
    loom__recorder_result(r, now, 9, 1, 0, 1, 1, now, 1000, 0, LOOM_CAUSE_OK, 0, 1); /* ignored */
    loom_attempt a = {.seq = 7,
                      .attempt = 1,
                      .host = "there",
                      .rank = 1,
                      .slot = 1,
                      .start_ns = now,
                      .run_ns = 5000,
                      .outcome = LOOM_OUTCOME_OK,
                      .cause = LOOM_CAUSE_OK,
                      .final = 1,
                      .label = "echo hi",
                      .label_len = 7};
    loom_assert_ok(loom__recorder_attempt(r, &a));
    a.outcome = 99;
    loom_assert_err(loom__recorder_attempt(r, &a), LOOM_EINVAL);
    loom_run_summary s = {.tasks = 40, .succeeded = 39, .failed = 1, .status = 2};
    loom_assert_ok(loom__recorder_summary(r, &s));
    loom_assert_ok(loom__recorder_close(r));
    a.outcome = LOOM_OUTCOME_OK;
    loom_assert_err(loom__recorder_attempt(r, &a), LOOM_ESTATE);
    loom_assert_err(loom__recorder_summary(r, &s), LOOM_ESTATE);

    struct events e;
    read_events(p.events, &e);
    cr_assert_eq(e.n, 3, "run_start, one attempt, run_end: %d lines", e.n);
    expect_attempt(&e, 1, 7, 1, "there", "echo hi", "ok", 1);
    cr_assert_eq(json_num(&e.o[2], "tasks"), 40, "the program's totals");
    cr_assert_eq(json_num(&e.o[2], "failed"), 1);
    cr_assert_eq(json_num(&e.o[2], "status"), 2);
    loom__recorder_destroy(r);
    remove_paths(&p);
}

Test(recorder, no_file_wanted_means_no_recorder)
{
    struct loom__recorder_opts o = {"", "job.events", NULL, "job.report", "prog", "t", 2,
                                    0,  fns,          2};
    loom__recorder *r = (loom__recorder *)&o; /* must be overwritten */
    loom_assert_ok(loom__recorder_open(&o, &r));
    cr_assert_null(r);
    /* every call accepts the NULL recorder */
    loom_assert_ok(loom__recorder_start(r));
    loom__recorder_join(r, 1, "h", 1);
    loom__recorder_lost(r, 1);
    loom__recorder_result(r, 0, 1, 1, 0, 1, 0, 0, 0, 0, LOOM_CAUSE_OK, 0, 1);
    loom__recorder_not_run(r, 1, 1, 0);
    loom__recorder_skipped(r);
    cr_assert_not(loom__recorder_wants_results(r));
    loom_assert_ok(loom__recorder_close(r));
    loom__recorder_destroy(r);
}

Test(recorder, an_unwritable_path_is_a_config_error)
{
    struct loom__recorder_opts o = {
        "/nonexistent-dir/x/events.jsonl", "--events", NULL, NULL, "prog", "t", 2, 0, fns, 2};
    loom__recorder *r = NULL;
    loom_assert_err(loom__recorder_open(&o, &r), LOOM_ECONFIG);
    cr_assert_null(r);
}
