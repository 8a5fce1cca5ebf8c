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
    cr_assert_not_null(strstr(t, "wall 2.00 s, 6 tasks/s, master peak memory 2.0 MiB"), "%s", t);
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
