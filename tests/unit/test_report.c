/* SPDX-License-Identifier: MIT */
/* The report (framework/src/formats/report.c: job.report, loom-run's --report):
 * the page for a small run has one bar per attempt and escapes what it
 * shows; for a million attempts the memory stays bounded and the page says
 * the timeline is a sample. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loom_test.h"
#include "report.h"

/* strstr, by hand: ASan's strict_string_checks makes each strstr() scan
 * the whole rest of a page of megabytes, and counting 20,000 bars with it
 * quadratic */
static const char *
find(const char *p, const char *needle)
{
    size_t n = strlen(needle);
    for (; *p; p++)
        if (*p == *needle && strncmp(p, needle, n) == 0)
            return p;
    return NULL;
}

static int
count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = find(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static char *
page(const loom__report *r, const struct loom__run_end *s)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cr_assert_eq(loom__report_write(r, s, f), 0);
    fclose(f);
    return text;
}

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *const hosts[] = {"node-a", "node-b<&>"};

/* attempt i of a synthetic run: 2 hosts x 3 threads, every 7th fails,
 * every 11th is killed by a signal, every 13th times out */
static loom_attempt
synthetic(uint64_t i, double t0, const char *cmd, size_t cmd_len)
{
    int thread = (int)(i % 6);
    loom_outcome oc = i % 13 == 12   ? LOOM_OUTCOME_TIMEOUT
                      : i % 11 == 10 ? LOOM_OUTCOME_FAILED
                      : i % 7 == 6   ? LOOM_OUTCOME_FAILED
                                     : LOOM_OUTCOME_OK;
    return (loom_attempt){.seq = i + 1,
                          .attempt = 1,
                          .host = hosts[thread / 3],
                          .rank = 1 + thread / 3,
                          .slot = 1 + thread % 3,
                          .start_ns = (int64_t)(t0 * 1e9) + (int64_t)(i / 6) * 10000000,
                          .run_ns = 1000000 * (int64_t)(1 + i % 9),
                          .exit = oc == LOOM_OUTCOME_TIMEOUT ? -1
                                  : i % 7 == 6               ? 3
                                                             : 0,
                          .signal = i % 11 == 10 && oc == LOOM_OUTCOME_FAILED ? 9 : 0,
                          .timed_out = oc == LOOM_OUTCOME_TIMEOUT,
                          .final = 1,
                          .outcome = oc,
                          .label = cmd,
                          .label_len = cmd_len};
}

Test(report, one_bar_per_attempt_and_text_escaped)
{
    loom__report *r = NULL;
    char err[256];
    cr_assert_eq(loom__report_create(NULL, "--report", 0, &r, err, sizeof err), 0, "%s", err);
    loom__report_run_start(r, 1700000000.0, "loom-run", "tasks<1>.txt", 3, 6);
    static const char cmd[] = "echo \"<b>&amp;'q'\" | tr a b \xff";
    for (uint64_t i = 0; i < 100; i++) {
        loom_attempt a = synthetic(i, 1700000000.0, cmd, sizeof cmd - 1);
        loom__report_attempt(r, &a);
    }
    loom_attempt nr = {.seq = 101, .attempt = 1, .outcome = LOOM_OUTCOME_NOT_RUN};
    loom__report_attempt(r, &nr);
    struct loom__run_end s = {
        .s = {.status = 20, .tasks = 101, .succeeded = 80}, .wall_ns = 200000000, .threads = 6};
    char *t = page(r, &s);
    cr_assert_eq(count(t, "<rect class=\"bar "), 100);
    cr_assert_not_null(strstr(t, "<svg id=\"timeline\" data-bars=\"100\""));
    cr_assert_not_null(strstr(t, "Showing all 100 attempts."));
    cr_assert_eq(count(t, " kept\""), 0, "nothing is missed when nothing is sampled");
    int ok = 0;
    for (uint64_t i = 0; i < 100; i++)
        ok += synthetic(i, 0, "", 0).outcome == LOOM_OUTCOME_OK;
    cr_assert_eq(count(t, "<rect class=\"bar o-ok\""), ok);
    cr_assert_eq(count(t, "<rect class=\"bar o-timeout\""), 7);
    /* the command, escaped, with U+FFFD for the invalid byte */
    cr_assert_not_null(
        strstr(t, "echo &quot;&lt;b&gt;&amp;amp;&#39;q&#39;&quot; | tr a b \xef\xbf\xbd"));
    cr_assert_null(strstr(t, "<b>"));
    cr_assert_null(strstr(t, "node-b<&>"));
    cr_assert_not_null(strstr(t, "node-b&lt;&amp;&gt;"));
    cr_assert_not_null(strstr(t, "<title>loom-run report: tasks&lt;1&gt;.txt</title>"));
    /* self-contained: nothing fetched, no script */
    cr_assert_null(strstr(t, "http"));
    cr_assert_null(strstr(t, "<script"));
    cr_assert_null(strstr(t, "src="));
    cr_assert_null(strstr(t, "url("));
    /* the other parts */
    cr_assert_not_null(strstr(t, "<svg id=\"histogram\""));
    cr_assert_not_null(strstr(t, "<svg id=\"utilisation\""));
    int cells = count(t, "<rect class=\"util\"");
    cr_assert(cells >= 2 * 20 && cells % 2 == 0, "%d: one cell per node and bucket", cells);
    cr_assert_not_null(strstr(t, "<div id=\"slowest\">"));
    cr_assert_not_null(strstr(t, "signal 9 (SIGKILL)"));
    cr_assert_not_null(strstr(t, "&times; exit 3"));
    cr_assert_not_null(strstr(t, "&times; timeout"));
    cr_assert_not_null(strstr(t, "1 not run"));
    free(t);
    loom__report_free(r);
}

Test(report, a_sample_never_hides_a_failure)
{
    loom__report *r = NULL;
    char err[256];
    cr_assert_eq(loom__report_create(NULL, "--report", 10, &r, err, sizeof err), 0, "%s", err);
    int bad = 0;
    for (uint64_t i = 0; i < 100; i++) {
        loom_attempt a = synthetic(i, 1700000000.0, "x", 1);
        bad += a.outcome != LOOM_OUTCOME_OK;
        loom__report_attempt(r, &a);
    }
    struct loom__run_end s = {.s = {.status = 20}, .wall_ns = 200000000};
    char *t = page(r, &s);
    cr_assert_not_null(
        strstr(t, "Sampled: showing 10 of 100 attempts, sampled uniformly, and the "));
    /* each failed attempt once: in the sample, or drawn as missed */
    int red = count(t, "<rect class=\"bar o-failed") + count(t, "<rect class=\"bar o-timeout");
    cr_assert_eq(red, bad);
    /* the sample's 10 bars, and the failures it missed drawn beside them */
    cr_assert_eq(count(t, "<rect class=\"bar "), 10 + count(t, " kept\""));
    free(t);
    loom__report_free(r);
}

Test(report, a_million_attempts_in_bounded_memory, .timeout = 60)
{
    loom__report *r = NULL;
    char err[256];
    cr_assert_eq(loom__report_create(NULL, "--report", 0, &r, err, sizeof err), 0, "%s", err);
    loom__report_run_start(r, 1700000000.0, "loom-run", "big.txt", 3, 6);
    char cmd[64];
    double t = now(), seq_sum = 0;
    size_t bytes_early = 0;
    for (uint64_t i = 0; i < 1000000; i++) {
        int n = snprintf(cmd, sizeof cmd, "./work --item %llu", (unsigned long long)i);
        loom_attempt a = synthetic(i, 1700000000.0, cmd, (size_t)n);
        loom__report_attempt(r, &a);
        if (i == LOOM__REPORT_SAMPLE)
            bytes_early = loom__report_bytes(r);
    }
    double fed = now() - t;
    size_t bytes = loom__report_bytes(r);
    cr_assert_eq(bytes, bytes_early, "memory grew from %zu to %zu bytes", bytes_early, bytes);
    cr_assert_lt(bytes, 16u << 20, "%zu bytes", bytes);
    struct loom__run_end s = {
        .s = {.status = 101, .tasks = 1000000}, .wall_ns = 1700000000000, .threads = 6};
    t = now();
    char *p = page(r, &s);
    double written = now() - t;
    /* the sample, and the failed and slowest attempts it missed */
    int extra = count(p, " kept\"");
    cr_assert(extra > 900 && extra <= LOOM__REPORT_FAILS + LOOM__REPORT_SLOWEST, "%d", extra);
    cr_assert_eq(count(p, "<rect class=\"bar "), LOOM__REPORT_SAMPLE + extra);
    char want[160];
    snprintf(want, sizeof want, "<svg id=\"timeline\" data-bars=\"%d\"",
             LOOM__REPORT_SAMPLE + extra);
    cr_assert_not_null(strstr(p, want));
    char num[16];
    if (extra >= 1000)
        snprintf(num, sizeof num, "%d,%03d", extra / 1000, extra % 1000);
    else
        snprintf(num, sizeof num, "%d", extra);
    snprintf(want, sizeof want,
             "Sampled: showing 20,000 of 1,000,000 attempts, sampled uniformly, and the %s "
             "failed or slowest ones the sample missed, drawn as well.",
             num);
    cr_assert_not_null(strstr(p, want), "%s", want);
    cr_assert_not_null(strstr(p, "The table shows the first 1,000 of"));
    /* uniform: the sampled tasks' numbers (the first bars) average about
     * 500,000 */
    int n = 0;
    for (const char *q = p; n < LOOM__REPORT_SAMPLE && (q = find(q, "<title>#")); q += 8) {
        seq_sum += strtod(q + 8, NULL);
        n++;
    }
    cr_assert_eq(n, LOOM__REPORT_SAMPLE);
    double mean = seq_sum / n;
    cr_assert(mean > 480000 && mean < 520000, "mean sampled seq %.0f", mean);
    cr_assert_lt(strlen(p), 32u << 20, "a page of %zu bytes", strlen(p));
    fprintf(stderr,
            "report: 1,000,000 attempts fed in %.2f s, page of %zu bytes in %.2f s, %zu "
            "bytes held\n",
            fed, strlen(p), written, bytes);
    cr_assert_lt(fed + written, 20.0, "too slow: %.2f s + %.2f s", fed, written);
    free(p);
    loom__report_free(r);
}

Test(report, no_attempt_at_all)
{
    loom__report *r = NULL;
    char err[256];
    cr_assert_eq(loom__report_create(NULL, "--report", 0, &r, err, sizeof err), 0, "%s", err);
    struct loom__run_end s = {.s = {.status = 255}};
    char *t = page(r, &s);
    cr_assert_not_null(strstr(t, "Showing all 0 attempts."));
    cr_assert_not_null(strstr(t, "No attempt ran."));
    cr_assert_not_null(strstr(t, "No attempt failed."));
    cr_assert_not_null(strstr(t, "</html>"));
    free(t);
    loom__report_free(r);
}

Test(report, an_unwritable_file_is_refused)
{
    loom__report *r = (loom__report *)1;
    char err[256];
    cr_assert_eq(
        loom__report_create("/nonexistent-dir/r.html", "--job-report", 0, &r, err, sizeof err), -1);
    cr_assert_null(r);
    cr_assert_str_eq(err, "--job-report /nonexistent-dir/r.html: cannot write it: No such file "
                          "or directory");
}

/* A C-API job's attempts: functions, statuses and the causes of isolated
 * tasks, in the tooltips, the tables and the summary of causes. */
Test(report, a_c_api_job_s_causes)
{
    loom__report *r = NULL;
    char err[256];
    cr_assert_eq(loom__report_create(NULL, "job.report", 0, &r, err, sizeof err), 0, "%s", err);
    loom__report_run_start(r, 1700000000.0, "squares", "squares --count 5", 3, 4);
    static const struct {
        loom_outcome oc;
        loom_cause cause;
        int exitval, sig;
    } a[] = {{LOOM_OUTCOME_OK, LOOM_CAUSE_OK, 0, 0},
             {LOOM_OUTCOME_FAILED, LOOM_CAUSE_FAILED, 7, 0},
             {LOOM_OUTCOME_FAILED, LOOM_CAUSE_MEMORY, -1, 0},
             {LOOM_OUTCOME_FAILED, LOOM_CAUSE_SIGNAL, -1, 11},
             {LOOM_OUTCOME_FAILED, LOOM_CAUSE_ISOLATION, -1, 0},
             {LOOM_OUTCOME_TIMEOUT, LOOM_CAUSE_TIMEOUT, -1, 0},
             {LOOM_OUTCOME_NOT_RUN, LOOM_CAUSE_LOST, -1, 0}};
    for (size_t i = 0; i < sizeof a / sizeof a[0]; i++) {
        loom_attempt at = {.seq = i + 1,
                           .attempt = 1,
                           .host = a[i].oc == LOOM_OUTCOME_NOT_RUN ? "" : "node-a",
                           .rank = a[i].oc == LOOM_OUTCOME_NOT_RUN ? 0 : 1,
                           .slot = a[i].oc == LOOM_OUTCOME_NOT_RUN ? 0 : 1 + (int)i % 2,
                           .start_ns = 1700000000000000000 + (int64_t)i * 1000000,
                           .run_ns = 500000,
                           .exit = a[i].exitval,
                           .signal = a[i].sig,
                           .timed_out = a[i].oc == LOOM_OUTCOME_TIMEOUT,
                           .outcome = a[i].oc,
                           .cause = a[i].cause,
                           .final = 1,
                           .label = "square",
                           .label_len = 6};
        loom__report_attempt(r, &at);
    }
    struct loom__run_end s = {.s = {.status = 1, .tasks = 7, .succeeded = 1, .failed = 6},
                              .wall_ns = 100000000,
                              .threads = 4};
    char *t = page(r, &s);
    cr_assert_not_null(strstr(t, "<title>squares report: squares --count 5</title>"));
    cr_assert_not_null(strstr(t, "<h1>squares: squares --count 5</h1>"));
    cr_assert_eq(count(t, "<rect class=\"bar "), 6, "the lost one never ran: no bar");
    cr_assert_not_null(strstr(t, "1 &times; status 7"), "%s", t);
    cr_assert_not_null(strstr(t, "1 &times; signal 11 (SIGSEGV)"));
    cr_assert_not_null(strstr(t, "1 &times; memory limit"));
    cr_assert_not_null(strstr(t, "1 &times; could not run isolated"));
    cr_assert_not_null(strstr(t, "1 &times; timeout"));
    cr_assert_not_null(strstr(t, "1 &times; lost (never ran: no worker left)"));
    cr_assert_not_null(strstr(t, "<td class=\"o-failed\">failed</td><td>status 7</td>"));
    cr_assert_not_null(strstr(t, "#2: square\nnode-a rank 1 slot 2, 500 us, status 7</title>"),
                       "%s", t);
    cr_assert_not_null(strstr(t, "1 not run"));
    free(t);
    loom__report_free(r);
}
