/* SPDX-License-Identifier: MIT */
/* What loom-run tells: failures by cause, the slowest tasks, the progress
 * line and the summary. */
#include <stdlib.h>

#include "loom_test.h"
#include "stats.h"

static char *
summary(const struct lr_stats *s, double now, long kib)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    lr_stats_summary(s, now, kib, f);
    fclose(f);
    return text;
}

Test(stats, failures_by_cause_and_the_slowest)
{
    struct lr_stats s;
    lr_stats_init(&s, 100.0);
    for (int i = 1; i <= 10; i++)
        lr_stats_attempt(&s, (uint64_t)i, "true", 4, i / 100.0, 0, 0, 0, 1);
    lr_stats_attempt(&s, 11, "exit 3", 6, 0.5, 3, 0, 0, 0); /* retried */
    lr_stats_attempt(&s, 11, "exit 3", 6, 0.5, 3, 0, 0, 1);
    lr_stats_attempt(&s, 12, "kill", 4, 0.2, 0, 9, 0, 1);
    lr_stats_attempt(&s, 13, "sleep 9\n", 8, 7.0, -1, 0, 1, 1);
    s.skipped = 4;
    char *t = summary(&s, 102.0, 2048);
    cr_assert_not_null(
        strstr(t, "loom-run: 17 tasks: 10 succeeded, 3 failed, 1 retried, 4 skipped"), "%s", t);
    cr_assert_not_null(strstr(t, "failures: 1 exit 3, 1 signal 9 (SIGKILL), 1 timeout\n"), "%s", t);
    cr_assert_not_null(strstr(t, "wall 2.00 s, 6.5 tasks/s, master peak memory 2.0 MiB"), "%s", t);
    /* slowest first; a newline in a command is shown as a space */
    cr_assert_not_null(strstr(t, "slowest: #13 7.00 s `sleep 9 `; #11 0.50 s `exit 3`; #11 0.50 s"),
                       "%s", t);
    free(t);
}

Test(stats, long_commands_are_cut_in_the_summary)
{
    struct lr_stats s;
    char cmd[300];
    memset(cmd, 'x', sizeof cmd);
    lr_stats_init(&s, 0);
    lr_stats_attempt(&s, 1, cmd, sizeof cmd, 1.0, 0, 0, 0, 1);
    cr_assert_eq(strlen(s.slow[0].cmd), sizeof s.slow[0].cmd - 1);
    cr_assert_str_eq(s.slow[0].cmd + strlen(s.slow[0].cmd) - 3, "...");
}

Test(stats, progress_line_with_and_without_a_total)
{
    struct lr_stats s;
    char line[256];
    lr_stats_init(&s, 0);
    for (int i = 0; i < 50; i++)
        lr_stats_attempt(&s, (uint64_t)i, "x", 1, 0.1, i < 5, 0, 0, 1);
    s.tasks = 60;
    lr_stats_progress(&s, 10.0, 10, 4, line, sizeof line);
    cr_assert_str_eq(line, "50/60+ done, 5 failed, 4 running, 6 queued, 5/s, ETA ?, elapsed 10 s");
    s.tasks = 100;
    s.tasks_final = 1;
    lr_stats_progress(&s, 10.0, 2, 4, line, sizeof line);
    cr_assert_str_eq(line, "50/100 done, 5 failed, 2 running, 0 queued, 5/s, ETA 0:00:10, "
                           "elapsed 10 s");
}

Test(stats, one_task_is_singular)
{
    struct lr_stats s;
    lr_stats_init(&s, 0);
    lr_stats_attempt(&s, 1, "true", 4, 0.01, 0, 0, 0, 1);
    char *t = summary(&s, 0.05, 0);
    cr_assert_not_null(strstr(t, "loom-run: 1 task: 1 succeeded"), "%s", t);
    free(t);
}

Test(stats, rates_below_one_a_second_are_not_zero)
{
    /* 1 task in 4 s is 0.25 a second, not "0 tasks/s" */
    struct lr_stats s;
    char line[256];
    lr_stats_init(&s, 0);
    lr_stats_attempt(&s, 1, "sleep 4", 7, 4.0, 0, 0, 0, 1);
    char *t = summary(&s, 4.0, 0);
    cr_assert_not_null(strstr(t, "wall 4.00 s, 0.25 tasks/s"), "%s", t);
    free(t);
    s.tasks = 3;
    s.tasks_final = 1;
    lr_stats_progress(&s, 4.0, 2, 2, line, sizeof line);
    cr_assert_not_null(strstr(line, ", 0.25/s, ETA 0:00:08,"), "%s", line);
}

Test(stats, no_rate_when_nothing_finished)
{
    /* nothing done yet (or every task skipped by --resume): no rate at
     * all, rather than "0/s" */
    struct lr_stats s;
    char line[256];
    lr_stats_init(&s, 0);
    s.tasks = 5;
    lr_stats_progress(&s, 0.3, 2, 2, line, sizeof line);
    cr_assert_null(strstr(line, "0/s"), "%s", line);
    s.skipped = 5;
    char *t = summary(&s, 0.01, 0);
    cr_assert_null(strstr(t, "tasks/s"), "%s", t);
    cr_assert_not_null(strstr(t, "loom-run: wall 0.01 s"), "%s", t);
    free(t);
}

Test(stats, a_stop_names_its_cause)
{
    /* a run stopped because a result could not be recorded (a full disk)
     * says so, not "--halt", which the user never gave */
    struct lr_stats s;
    lr_stats_init(&s, 0);
    lr_stats_attempt(&s, 1, "true", 4, 0.1, 0, 0, 0, 1);
    s.not_run = 3;
    s.unrecorded = 1;
    lr_stats_stopped(&s, "a result could not be recorded");
    char *t = summary(&s, 1.0, 0);
    cr_assert_null(strstr(t, "--halt"), "%s", t);
    cr_assert_not_null(strstr(t, "3 not started and 0 killed (a result could not be recorded)"),
                       "%s", t);
    free(t);
    lr_stats_init(&s, 0);
    s.killed = 2;
    lr_stats_stopped(&s, "--halt now,fail=1 reached");
    lr_stats_stopped(&s, "a later cause"); /* the first one stays */
    t = summary(&s, 1.0, 0);
    cr_assert_not_null(strstr(t, "0 not started and 2 killed (--halt now,fail=1 reached)"), "%s",
                       t);
    free(t);
}

Test(stats, cut_outputs_are_counted_in_the_summary)
{
    struct lr_stats s;
    lr_stats_init(&s, 0);
    lr_stats_attempt(&s, 1, "big", 3, 0.1, 0, 0, 0, 1);
    lr_stats_cut(&s, 1048576);
    lr_stats_cut(&s, 1048576);
    char *t = summary(&s, 1.0, 0);
    cr_assert_not_null(strstr(t, "loom-run: output cut: 2 tasks wrote more than "
                                 "process.output_limit (1048576 bytes a stream)"),
                       "%s", t);
    free(t);
}
