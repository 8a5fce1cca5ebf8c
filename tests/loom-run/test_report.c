/* SPDX-License-Identifier: MIT */
/* --report: the page for a small run has one bar per attempt and escapes
 * what it shows; for a million attempts the memory stays bounded and the
 * page says the timeline is a sample. */
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
page(const lr_report *r, const struct lr_run_end *s)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cr_assert_eq(lr_report_write(r, s, f), 0);
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
static struct lr_attempt
synthetic(uint64_t i, double t0, const char *cmd, size_t cmd_len)
{
    int thread = (int)(i % 6);
    enum lr_outcome oc = i % 13 == 12   ? LR_OUT_TIMEOUT
                         : i % 11 == 10 ? LR_OUT_FAILED
                         : i % 7 == 6   ? LR_OUT_FAILED
                                        : LR_OUT_OK;
    return (struct lr_attempt){.seq = i + 1,
                               .attempt = 1,
                               .host = hosts[thread / 3],
                               .rank = 1 + thread / 3,
                               .slot = 1 + thread % 3,
                               .start = t0 + (double)(i / 6) * 0.01,
                               .runtime = 0.001 * (double)(1 + i % 9),
                               .exitval = oc == LR_OUT_TIMEOUT ? -1
                                          : i % 7 == 6         ? 3
                                                               : 0,
                               .signal = i % 11 == 10 && oc == LR_OUT_FAILED ? 9 : 0,
                               .timed_out = oc == LR_OUT_TIMEOUT,
                               .final = 1,
                               .outcome = oc,
                               .cmd = cmd,
                               .cmd_len = cmd_len};
}

Test(report, one_bar_per_attempt_and_text_escaped)
{
    lr_report *r = NULL;
    char err[256];
    cr_assert_eq(lr_report_create(NULL, 0, &r, err, sizeof err), 0, "%s", err);
    lr_report_run_start(r, 1700000000.0, "tasks<1>.txt", 3, 6);
    static const char cmd[] = "echo \"<b>&amp;'q'\" | tr a b \xff";
    for (uint64_t i = 0; i < 100; i++) {
        struct lr_attempt a = synthetic(i, 1700000000.0, cmd, sizeof cmd - 1);
        lr_report_attempt(r, &a);
    }
    struct lr_attempt nr = {.seq = 101, .attempt = 1, .outcome = LR_OUT_NOT_RUN};
    lr_report_attempt(r, &nr);
    struct lr_run_end s = {.status = 20, .wall = 0.2, .threads = 6, .tasks = 101, .succeeded = 80};
    char *t = page(r, &s);
    cr_assert_eq(count(t, "<rect class=\"bar "), 100);
    cr_assert_not_null(strstr(t, "<svg id=\"timeline\" data-bars=\"100\""));
    cr_assert_not_null(strstr(t, "Showing all 100 attempts."));
    cr_assert_eq(count(t, " kept\""), 0, "nothing is missed when nothing is sampled");
    int ok = 0;
    for (uint64_t i = 0; i < 100; i++)
        ok += synthetic(i, 0, "", 0).outcome == LR_OUT_OK;
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
    lr_report_free(r);
}

Test(report, a_sample_never_hides_a_failure)
{
    lr_report *r = NULL;
    char err[256];
    cr_assert_eq(lr_report_create(NULL, 10, &r, err, sizeof err), 0, "%s", err);
    int bad = 0;
    for (uint64_t i = 0; i < 100; i++) {
        struct lr_attempt a = synthetic(i, 1700000000.0, "x", 1);
        bad += a.outcome != LR_OUT_OK;
        lr_report_attempt(r, &a);
    }
    struct lr_run_end s = {.status = 20, .wall = 0.2};
    char *t = page(r, &s);
    cr_assert_not_null(
        strstr(t, "Sampled: showing 10 of 100 attempts, sampled uniformly, and the "));
    /* each failed attempt once: in the sample, or drawn as missed */
    int red = count(t, "<rect class=\"bar o-failed") + count(t, "<rect class=\"bar o-timeout");
    cr_assert_eq(red, bad);
    cr_assert_geq(count(t, "<rect class=\"bar "), 10 + bad - 10);
    free(t);
    lr_report_free(r);
}

Test(report, a_million_attempts_in_bounded_memory, .timeout = 60)
{
    lr_report *r = NULL;
    char err[256];
    cr_assert_eq(lr_report_create(NULL, 0, &r, err, sizeof err), 0, "%s", err);
    lr_report_run_start(r, 1700000000.0, "big.txt", 3, 6);
    char cmd[64];
    double t = now(), seq_sum = 0;
    size_t bytes_early = 0;
    for (uint64_t i = 0; i < 1000000; i++) {
        int n = snprintf(cmd, sizeof cmd, "./work --item %llu", (unsigned long long)i);
        struct lr_attempt a = synthetic(i, 1700000000.0, cmd, (size_t)n);
        lr_report_attempt(r, &a);
        if (i == LR_REPORT_SAMPLE)
            bytes_early = lr_report_bytes(r);
    }
    double fed = now() - t;
    size_t bytes = lr_report_bytes(r);
    cr_assert_eq(bytes, bytes_early, "memory grew from %zu to %zu bytes", bytes_early, bytes);
    cr_assert_lt(bytes, 16u << 20, "%zu bytes", bytes);
    struct lr_run_end s = {.status = 101, .wall = 1700.0, .threads = 6, .tasks = 1000000};
    t = now();
    char *p = page(r, &s);
    double written = now() - t;
    /* the sample, and the failed and slowest attempts it missed */
    int extra = count(p, " kept\"");
    cr_assert(extra > 900 && extra <= LR_REPORT_FAILS + LR_REPORT_SLOWEST, "%d", extra);
    cr_assert_eq(count(p, "<rect class=\"bar "), LR_REPORT_SAMPLE + extra);
    char want[160];
    snprintf(want, sizeof want, "<svg id=\"timeline\" data-bars=\"%d\"", LR_REPORT_SAMPLE + extra);
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
    for (const char *q = p; n < LR_REPORT_SAMPLE && (q = find(q, "<title>#")); q += 8) {
        seq_sum += strtod(q + 8, NULL);
        n++;
    }
    cr_assert_eq(n, LR_REPORT_SAMPLE);
    double mean = seq_sum / n;
    cr_assert(mean > 480000 && mean < 520000, "mean sampled seq %.0f", mean);
    cr_assert_lt(strlen(p), 32u << 20, "a page of %zu bytes", strlen(p));
    fprintf(stderr,
            "report: 1,000,000 attempts fed in %.2f s, page of %zu bytes in %.2f s, %zu "
            "bytes held\n",
            fed, strlen(p), written, bytes);
    cr_assert_lt(fed + written, 20.0, "too slow: %.2f s + %.2f s", fed, written);
    free(p);
    lr_report_free(r);
}

Test(report, no_attempt_at_all)
{
    lr_report *r = NULL;
    char err[256];
    cr_assert_eq(lr_report_create(NULL, 0, &r, err, sizeof err), 0, "%s", err);
    struct lr_run_end s = {.status = 255};
    char *t = page(r, &s);
    cr_assert_not_null(strstr(t, "Showing all 0 attempts."));
    cr_assert_not_null(strstr(t, "No attempt ran."));
    cr_assert_not_null(strstr(t, "No attempt failed."));
    cr_assert_not_null(strstr(t, "</html>"));
    free(t);
    lr_report_free(r);
}

Test(report, an_unwritable_file_is_refused)
{
    lr_report *r = (lr_report *)1;
    char err[256];
    cr_assert_eq(lr_report_create("/nonexistent-dir/r.html", 0, &r, err, sizeof err), -1);
    cr_assert_null(r);
    cr_assert_not_null(strstr(err, "--report /nonexistent-dir/r.html: cannot write it"), "%s", err);
}
