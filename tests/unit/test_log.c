/* SPDX-License-Identifier: MIT */
/* The log (log.c): the shape of a line, levels and their environment
 * variable, long lines cut, and lines from threads never interleaved. */
#include <pthread.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <loom/context.h>
#include <loom/log.h>

#include "loom_test.h"

/* Send the log to an unlinked temporary file and return its descriptor. */
static int
capture(void)
{
    char path[] = "/tmp/loom-log-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    unlink(path);
    loom_log_set_fd(fd);
    return fd;
}

/* Everything written so far, NUL-terminated; caller frees. */
static char *
captured(int fd, size_t *len)
{
    off_t end = lseek(fd, 0, SEEK_END);
    char *buf = malloc((size_t)end + 1);
    cr_assert_not_null(buf);
    cr_assert_eq(pread(fd, buf, (size_t)end, 0), end);
    buf[end] = '\0';
    if (len)
        *len = (size_t)end;
    return buf;
}

Test(log, line_shape_names_host_rank_and_thread, .timeout = 10)
{
    int fd = capture();
    loom_log_set_level(LOOM_LOG_INFO);
    LOOM_INFO("hello %d", 42);
    loom_log_set_rank(3);
    LOOM_WARN("second");
    char *out = captured(fd, NULL);
    regex_t re;
    cr_assert_eq(regcomp(&re,
                         "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z INFO  "
                         "host=[^ ]+ rank=- thread=MainThread \\| hello 42\n"
                         "[^\n]+ WARN  host=[^ ]+ rank=3 thread=MainThread \\| second\n$",
                         REG_EXTENDED),
                 0);
    cr_assert_eq(regexec(&re, out, 0, NULL, 0), 0, "got: %s", out);
    regfree(&re);
    free(out);
}

Test(log, level_filters, .timeout = 10)
{
    int fd = capture();
    loom_log_set_level(LOOM_LOG_WARN);
    cr_assert(loom_log_enabled(LOOM_LOG_ERROR));
    cr_assert_not(loom_log_enabled(LOOM_LOG_INFO));
    LOOM_DEBUG("no");
    LOOM_INFO("no");
    LOOM_WARN("yes-warn");
    LOOM_ERROR("yes-error");
    char *out = captured(fd, NULL);
    cr_assert_null(strstr(out, "| no"));
    cr_assert_not_null(strstr(out, "| yes-warn"));
    cr_assert_not_null(strstr(out, "| yes-error"));
    free(out);
}

Test(log, level_from_environment_on_first_use, .timeout = 10)
{
    setenv("LOOM_LOG_LEVEL", "DEBUG", 1);
    cr_assert_eq(loom_log_get_level(), LOOM_LOG_DEBUG);
}

Test(log, bad_environment_level_warns_and_keeps_info, .timeout = 10)
{
    int fd = capture();
    setenv("LOOM_LOG_LEVEL", "verbose", 1);
    cr_assert_eq(loom_log_get_level(), LOOM_LOG_INFO);
    char *out = captured(fd, NULL);
    cr_assert_not_null(strstr(out, "ignoring LOOM_LOG_LEVEL='verbose'"), "got: %s", out);
    free(out);
}

Test(log, parse_and_names, .timeout = 10)
{
    loom_log_level lv;
    loom_assert_ok(loom_log_level_parse("Trace", &lv));
    cr_assert_eq(lv, LOOM_LOG_TRACE);
    loom_assert_err(loom_log_level_parse("loud", &lv), LOOM_EINVAL);
    loom_assert_err(loom_log_level_parse(NULL, &lv), LOOM_EINVAL);
    cr_assert_str_eq(loom_log_level_name(LOOM_LOG_WARN), "warn");
    cr_assert_str_eq(loom_log_level_name((loom_log_level)9), "?");
}

Test(log, long_lines_are_cut_and_newlines_flattened, .timeout = 10)
{
    int fd = capture();
    loom_log_set_level(LOOM_LOG_INFO);
    char big[10000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    LOOM_INFO("%s", big);
    LOOM_INFO("two\nlines\rhere");
    size_t len;
    char *out = captured(fd, &len);
    char *nl = strchr(out, '\n');
    cr_assert_not_null(nl);
    cr_assert_eq(nl - out, 4095);
    cr_assert_eq(memcmp(nl - 3, "...", 3), 0);
    cr_assert_not_null(strstr(nl + 1, "| two lines here\n"));
    free(out);
}

#define LOG_THREADS 8
#define LOG_LINES   500
#define LOG_PAYLOAD 3000

static void *
log_many(void *arg)
{
    int id = (int)(intptr_t)arg;
    char payload[LOG_PAYLOAD + 1];
    memset(payload, 'a' + id, LOG_PAYLOAD);
    payload[LOG_PAYLOAD] = '\0';
    for (int i = 0; i < LOG_LINES; i++)
        LOOM_INFO("T%d %s", id, payload);
    return NULL;
}

Test(log, lines_from_threads_never_interleave, .timeout = 60)
{
    int fd = capture();
    loom_log_set_level(LOOM_LOG_INFO);
    pthread_t t[LOG_THREADS];
    for (int i = 0; i < LOG_THREADS; i++)
        pthread_create(&t[i], NULL, log_many, (void *)(intptr_t)i);
    for (int i = 0; i < LOG_THREADS; i++)
        pthread_join(t[i], NULL);
    char *out = captured(fd, NULL);
    int lines = 0;
    for (char *save, *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *msg = strstr(line, "| T");
        cr_assert_not_null(msg, "malformed line: %.80s", line);
        int id = msg[3] - '0';
        cr_assert(id >= 0 && id < LOG_THREADS);
        const char *p = msg + 5;
        cr_assert_eq(strlen(p), LOG_PAYLOAD, "line of thread %d cut or mixed", id);
        for (size_t k = 0; k < LOG_PAYLOAD; k++)
            cr_assert_eq(p[k], 'a' + id, "byte of another thread inside a line");
        lines++;
    }
    cr_assert_eq(lines, LOG_THREADS * LOG_LINES);
    free(out);
}
