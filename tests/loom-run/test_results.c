/* SPDX-License-Identifier: MIT */
/* --results DIR: the tree, the files, and directories that cannot be used. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loom_test.h"
#include "results.h"

static char *
slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    static char buf[4096];
    *len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    return buf;
}

Test(results, paths_keep_directories_small)
{
    char p[64];
    lr_results_path(1, p, sizeof p);
    cr_assert_str_eq(p, "000/000/1");
    lr_results_path(999, p, sizeof p);
    cr_assert_str_eq(p, "000/000/999");
    lr_results_path(1000, p, sizeof p);
    cr_assert_str_eq(p, "000/001/1000");
    lr_results_path(1234567, p, sizeof p);
    cr_assert_str_eq(p, "001/234/1234567");
    lr_results_path(999999999999ULL, p, sizeof p);
    cr_assert_str_eq(p, "999999/999/999999999999");
}

Test(results, files_hold_the_bytes_and_a_status)
{
    char dir[] = "/tmp/loom-results-XXXXXX", sub[128], path[256], err[512];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(sub, sizeof sub, "%s/a/b", dir); /* parents are made */
    lr_results *r;
    cr_assert_eq(lr_results_open(sub, &r, err, sizeof err), 0, "%s", err);
    struct lr_result_rec rec = {.seq = 1001,
                                .attempt = 2,
                                .exitval = 0,
                                .signal = 9,
                                .host = "node7",
                                .rank = 3,
                                .start = 1.5,
                                .runtime = 0.25,
                                .cmd = "cat x",
                                .cmd_len = 5,
                                .out = "\0\377z",
                                .out_len = 3,
                                .out_total = 10,
                                .err = "",
                                .err_len = 0};
    cr_assert_eq(lr_results_write(r, &rec, err, sizeof err), 0, "%s", err);
    rec.attempt = 3; /* a later attempt replaces the files */
    rec.out_len = 2;
    cr_assert_eq(lr_results_write(r, &rec, err, sizeof err), 0, "%s", err);
    size_t n;
    snprintf(path, sizeof path, "%s/000/001/1001/stdout", sub);
    char *b = slurp(path, &n);
    cr_assert(n == 2 && b[0] == 0 && (unsigned char)b[1] == 0377);
    snprintf(path, sizeof path, "%s/000/001/1001/status", sub);
    b = slurp(path, &n);
    b[n] = '\0';
    cr_assert_not_null(strstr(b, "seq 1001\nattempt 3\nexitval 0\nsignal 9\n"), "%s", b);
    cr_assert_not_null(strstr(b, "host node7\nrank 3\n"), "%s", b);
    cr_assert_not_null(strstr(b, "stdout_bytes 10\n"), "%s", b);
    cr_assert_not_null(strstr(b, "stdout_kept 2\n"), "%s", b);
    snprintf(path, sizeof path, "%s/000/001/1001/.status.tmp", sub);
    cr_assert_neq(access(path, F_OK), 0, "no temporary left");
    lr_results_close(r);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

Test(results, unusable_directories_are_named)
{
    char err[512] = "";
    lr_results *r = NULL;
    cr_assert_eq(lr_results_open("/proc/self/nope", &r, err, sizeof err), -1);
    cr_assert_null(r);
    cr_assert_not_null(strstr(err, "--results /proc/self/nope: cannot write there"), "%s", err);
    cr_assert_eq(lr_results_open("/etc/passwd/x", &r, err, sizeof err), -1);
    cr_assert_not_null(strstr(err, "/etc/passwd/x"), "%s", err);
}
