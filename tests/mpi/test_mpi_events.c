/* SPDX-License-Identifier: MIT */
/*
 * job.events and job.report of a C-API job (prog_events), run under
 * mpirun: every line of the events file follows the schema
 * (tests/support/json_lines.h), there is one attempt line per attempt —
 * retries included, each with its start and end — one worker_join per
 * worker before any of its attempts, and a run_end with the job's totals;
 * the report draws a bar per attempt. Also a program's own attempts
 * (loom_job_opts.own_attempts) and loom_result's where and when.
 */
#include <unistd.h>

#include "json_lines.h"
#include "mpi_run.h"

static char dir[64];

static void
setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/loom-events-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void
teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

/* The whole file, NUL-terminated; the caller frees it. */
static char *
slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s is missing", path);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap)
            buf = realloc(buf, (cap *= 2) + 1);
    }
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

/* What the events file said, checked line by line against the schema. */
struct tally {
    int lines, attempts, finals, joins, lost_events;
    int final_ok, final_failed, retried;
    int status;
    double tasks, succeeded, failed, retried_end, threads_end;
    int joined[8];                /* by rank: its worker_join line */
    unsigned char final_of[1024]; /* by seq: final attempts seen */
    unsigned char tries[1024];    /* by seq: attempts seen */
};

static void
read_events(const char *path, const char *host, int ntasks, struct tally *t)
{
    memset(t, 0, sizeof *t);
    size_t len;
    char *text = slurp(path, &len);
    cr_assert_gt(len, 0);
    cr_assert_eq(text[len - 1], '\n', "the last line is whole");
    char *save = NULL;
    double last_time = 0;
    int ended = 0;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        struct jobj o;
        const char *ev = json_check_event(line, &o);
        t->lines++;
        cr_assert(!ended, "a line after run_end: %s", line);
        cr_assert_geq(json_num(&o, "time"), last_time - 1e-6, "time goes back: %s", line);
        last_time = json_num(&o, "time");
        if (t->lines == 1) {
            cr_assert_str_eq(ev, "run_start", "%s", line);
            cr_assert_eq(json_num(&o, "ranks"), 3);
            continue;
        }
        if (!strcmp(ev, "worker_join")) {
            int rank = (int)json_num(&o, "rank");
            cr_assert(rank >= 1 && rank <= 2, "%s", line);
            cr_assert(!t->joined[rank]++, "rank %d joined twice", rank);
            cr_assert_str_eq(json_str(&o, "host"), host);
            cr_assert_eq(json_num(&o, "worker_threads"), 2);
            t->joins++;
            cr_assert_eq(json_num(&o, "threads"), 2 * t->joins);
        } else if (!strcmp(ev, "worker_lost")) {
            t->lost_events++;
        } else if (!strcmp(ev, "attempt")) {
            int seq = (int)json_num(&o, "seq"), rank = (int)json_num(&o, "rank");
            int attempt = (int)json_num(&o, "attempt"), slot = (int)json_num(&o, "slot");
            cr_assert(seq >= 1 && seq <= ntasks, "%s", line);
            cr_assert(t->joined[rank], "an attempt of rank %d before its worker_join", rank);
            cr_assert(slot >= 1 && slot <= 2, "%s", line);
            cr_assert_str_eq(json_str(&o, "host"), host);
            /* every attempt's start and end */
            double start = json_num(&o, "start"), end = json_num(&o, "end");
            double run = json_num(&o, "runtime");
            cr_assert(start > 1e9 && end >= start && run >= 0, "%s", line);
            cr_assert(end - start - run < 2e-6 && run - (end - start) < 2e-6, "%s", line);
            cr_assert_leq(end, json_num(&o, "time") + 0.5, "ended after it was recorded: %s", line);
            cr_assert_eq(attempt, t->tries[seq] + 1, "attempts in order: %s", line);
            t->tries[seq]++;
            t->attempts++;
            const struct jval *fv = json_get(&o, "final"); /* a boolean: checked */
            int final = fv && fv->str[0] == 't';
            const char *outcome = json_str(&o, "outcome"), *cause = json_str(&o, "cause");
            if (final) {
                cr_assert(!t->final_of[seq]++, "two final attempts of %d", seq);
                t->finals++;
                if (!strcmp(outcome, "ok"))
                    t->final_ok++;
                else
                    t->final_failed++;
            } else {
                t->retried++;
            }
            if (!strcmp(outcome, "ok")) {
                cr_assert_str_eq(cause, "ok");
                cr_assert_eq(json_num(&o, "exit"), 0);
            } else {
                cr_assert_str_eq(outcome, "failed", "%s", line);
                cr_assert_str_eq(cause, "failed", "%s", line); /* the function's status */
            }
        } else if (!strcmp(ev, "run_end")) {
            ended = 1;
            t->status = (int)json_num(&o, "status");
            t->tasks = json_num(&o, "tasks");
            t->succeeded = json_num(&o, "succeeded");
            t->failed = json_num(&o, "failed");
            t->retried_end = json_num(&o, "retried");
            t->threads_end = json_num(&o, "threads");
        } else {
            cr_assert_fail("unexpected %s line: %s", ev, line);
        }
    }
    cr_assert(ended, "no run_end");
    free(text);
}

static void
hostname(char *buf, size_t len)
{
    cr_assert_eq(gethostname(buf, len - 1), 0);
    buf[len - 1] = '\0';
}

/* 200 tasks, retried once: 20 fail their first attempt only, 8 every
 * attempt (prog_events' rule): 228 attempts, 28 of them retried, 8
 * tasks failed. The events come from LOOM_JOB_EVENTS, the report from
 * --job-report: any setting's source works. */
Test(events, every_attempt_of_a_c_api_job, .init = setup, .fini = teardown, .timeout = 200)
{
    char host[256];
    hostname(host, sizeof host);
    struct mpi_out o;
    mpi_run(&o,
            "-np 3 -x LOOM_JOB_EVENTS=%s/run.jsonl " PROG(
                "prog_events") " --pool-threads 2 "
                               "--tasks 200 --job-retries 1 --job-report %s/run.html",
            dir, dir);
    assert_clean_exit(&o);
    assert_line(&o, "EVENTS tasks=200 results=200 ok=192 failed=8 fields_ok=200 finish=LOOM_OK");
    mpi_out_free(&o);

    char path[128];
    snprintf(path, sizeof path, "%s/run.jsonl", dir);
    struct tally *t = calloc(1, sizeof *t);
    read_events(path, host, 200, t);
    cr_assert_eq(t->joins, 2);
    cr_assert_eq(t->attempts, 228);
    cr_assert_eq(t->retried, 28);
    cr_assert_eq(t->finals, 200);
    cr_assert_eq(t->final_ok, 192);
    cr_assert_eq(t->final_failed, 8);
    for (int s = 1; s <= 200; s++)
        cr_assert_eq(t->final_of[s], 1, "task %d: %d final attempts", s, t->final_of[s]);
    cr_assert_eq(t->lost_events, 0);
    cr_assert_eq(t->status, 1, "a task failed: status 1");
    cr_assert_eq(t->tasks, 200);
    cr_assert_eq(t->succeeded, 192);
    cr_assert_eq(t->failed, 8);
    cr_assert_eq(t->retried_end, 28);
    cr_assert_eq(t->threads_end, 4);
    free(t);

    /* the report: a bar per attempt, the causes counted */
    snprintf(path, sizeof path, "%s/run.html", dir);
    char *page = slurp(path, NULL);
    cr_assert_not_null(strstr(page, "<svg id=\"timeline\" data-bars=\"228\""));
    cr_assert_eq(count_of(page, "<rect class=\"bar "), 228);
    cr_assert_eq(count_of(page, "<rect class=\"bar o-failed"), 36);
    cr_assert_not_null(strstr(page, "Showing all 228 attempts."));
    cr_assert_not_null(strstr(page, "20 &times; status 3, 16 &times; status 5."), "%s", page);
    cr_assert_not_null(strstr(page, "<title>prog_events report: "));
    cr_assert_not_null(strstr(page, "</html>"));
    free(page);
}

/* A program that records its own attempts (loom-run's way): its numbers
 * and labels, its status in run_end; the job's own attempts are not
 * written. */
Test(events, a_program_s_own_attempts, .init = setup, .fini = teardown, .timeout = 200)
{
    char host[256];
    hostname(host, sizeof host);
    struct mpi_out o;
    mpi_run(&o,
            "-np 3 " PROG("prog_events") " --pool-threads 2 --tasks 50 --own "
                                         "--job-events %s/own.jsonl --job-report %s/own.html",
            dir, dir);
    assert_clean_exit(&o);
    assert_line(&o, "OWN api_ok=1");
    assert_line(&o, "EVENTS tasks=50 results=50 ok=43 failed=7 fields_ok=50 finish=LOOM_OK");
    mpi_out_free(&o);

    char path[128];
    snprintf(path, sizeof path, "%s/own.jsonl", dir);
    size_t len;
    char *text = slurp(path, &len), *save = NULL;
    int attempts = 0, labels = 0;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        struct jobj o2;
        const char *ev = json_check_event(line, &o2);
        if (!strcmp(ev, "run_start"))
            cr_assert_str_eq(json_str(&o2, "tasks"), "own attempts");
        if (!strcmp(ev, "attempt")) {
            char want[32];
            snprintf(want, sizeof want, "item-%d", (int)json_num(&o2, "seq"));
            labels += !strcmp(json_str(&o2, "cmd"), want);
            attempts++;
        }
        if (!strcmp(ev, "run_end")) {
            cr_assert_eq(json_num(&o2, "status"), 42, "the program's status: %s", line);
            cr_assert_eq(json_num(&o2, "tasks"), 50);
        }
    }
    cr_assert_eq(attempts, 50, "one line per result the program recorded");
    cr_assert_eq(labels, 50);
    free(text);
    snprintf(path, sizeof path, "%s/own.html", dir);
    char *page = slurp(path, NULL);
    cr_assert_not_null(strstr(page, "<svg id=\"timeline\" data-bars=\"50\""));
    cr_assert_not_null(strstr(page, "item-7"));
    free(page);
}

/* Without job.events or job.report nothing is written, and loom_result
 * still says where and when each task ran. */
Test(events, results_say_where_and_when_without_files, .timeout = 200)
{
    mpi_expect("-np 3 " PROG("prog_events") " --pool-threads 2 --tasks 100 --ms 2",
               "EVENTS tasks=100 results=100 ok=86 failed=14 fields_ok=100 finish=LOOM_OK");
}

/* An events file that cannot be created stops the job at start, on every
 * rank, with the configuration error's exit status, before any task. */
Test(events, an_unwritable_events_file_stops_the_start, .timeout = 200)
{
    struct mpi_out o;
    mpi_run(&o, "-np 3 " PROG("prog_events") " --tasks 10 --job-events /nonexistent-dir/e.jsonl");
    cr_assert_eq(o.status, 2, "exit %d:\n%s", o.status, o.text);
    cr_assert(strstr(o.text, "--job-events /nonexistent-dir/e.jsonl: cannot write it: No such "
                             "file or directory"),
              "%s", o.text);
    cr_assert_eq(count_of(o.text, "loom_job_start: LOOM_ECONFIG"), 3, "every rank:\n%s", o.text);
    cr_assert_null(strstr(o.text, "EVENTS "), "nothing ran:\n%s", o.text);
    mpi_out_free(&o);
}
