/* SPDX-License-Identifier: MIT */
/* Input sources (inputs.h) and templates over several arguments
 * (lr_template_line): every combination in GNU Parallel's order, linked
 * sources, -0 and -d records, --colsep columns and --header names. The
 * expected commands are GNU Parallel 20221122's --dry-run output. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "inputs.h"
#include "loom_test.h"
#include "taskfile.h"

/* Every job of cfg through tmpl (slot "1"), one command a line. */
static char *
jobs_of(const struct lr_input_cfg *cfg, const char *tmpl)
{
    char err[256] = "", *all = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&all, &n);
    lr_input *in;
    struct lr_line line;
    int r;

    cr_assert_eq(lr_input_open(cfg, &in, err, sizeof err), 0, "open: %s", err);
    while ((r = lr_input_next(in, &line, err, sizeof err)) == 1) {
        char *cmd = tmpl ? lr_template_line(tmpl, &line, "1", err, sizeof err)
                         : strndup(line.text, line.len);
        cr_assert_not_null(cmd, "%s", err);
        fprintf(f, "%s\n", cmd);
        free(cmd);
    }
    cr_assert_eq(r, 0, "next: %s", err);
    lr_input_close(in);
    fclose(f);
    return all;
}

static void
expect_jobs(const struct lr_input_cfg *cfg, const char *tmpl, const char *want)
{
    char *got = jobs_of(cfg, tmpl);
    cr_assert_str_eq(got, want, "template '%s'", tmpl ? tmpl : "(none)");
    free(got);
}

static const char *const ab[] = {"a", "b"}, *const n12[] = {"1", "2"}, *const xy[] = {"x", "y"},
                         *const abc[] = {"a", "b", "c"};

Test(inputs, every_combination_last_source_fastest, .timeout = 10)
{
    struct lr_source s[] = {{0, ab, 2, 0}, {0, n12, 2, 0}};
    struct lr_input_cfg c = {.src = s, .nsrc = 2};
    expect_jobs(&c, "echo {} {1} {2} {-1} {3}",
                "echo a 1 a 1 1 \necho a 2 a 2 2 \necho b 1 b 1 1 \necho b 2 b 2 2 \n");
    expect_jobs(&c, "echo", "echo a 1\necho a 2\necho b 1\necho b 2\n");
    c.commands = 1; /* no template: the arguments are the command */
    expect_jobs(&c, NULL, "a 1\na 2\nb 1\nb 2\n");
}

Test(inputs, linked_sources_go_along_and_wrap, .timeout = 10)
{
    struct lr_source s[] = {{0, abc, 3, 0}, {0, n12, 2, 0}};
    struct lr_input_cfg c = {.src = s, .nsrc = 2, .link = 1};
    expect_jobs(&c, "echo", "echo a 1\necho b 2\necho c 1\n");
    struct lr_source t[] = {{0, ab, 2, 0}, {0, n12, 2, 0}, {0, xy, 2, 1}};
    struct lr_input_cfg d = {.src = t, .nsrc = 3};
    expect_jobs(&d, "echo", "echo a 1 x\necho a 2 y\necho b 1 x\necho b 2 y\n");
}

Test(inputs, colsep_and_header_name_columns, .timeout = 10)
{
    static const char *const rows[] = {"name,n", "it's x,1", "b,2"};
    struct lr_source s[] = {{0, rows, 3, 0}};
    struct lr_input_cfg c = {.src = s, .nsrc = 1, .colsep = ",", .header = 1};
    expect_jobs(&c, "echo {n} {name} {2} {#}", "echo 1 'it'\"'\"'s x' 1 1\necho 2 b 2 2\n");
}

/* A file source, streamed: -0 records may hold newlines. */
Test(inputs, null_and_delimiter_records_from_a_file, .timeout = 10)
{
    char path[] = "/tmp/inputs-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "a\nb\0c d\0", 8), 8);
    close(fd);
    const char *const files[] = {path};
    struct lr_source s[] = {{1, files, 1, 0}};
    struct lr_input_cfg c = {.src = s, .nsrc = 1, .use_delim = 1, .delim = '\0'};
    expect_jobs(&c, "echo {#} {}", "echo 1 'a\nb'\necho 2 'c d'\n");
    fd = open(path, O_WRONLY | O_TRUNC);
    cr_assert_eq(write(fd, "x,y y,\n", 7), 7);
    close(fd);
    c.delim = ',';
    expect_jobs(&c, "echo", "echo x\necho 'y y'\necho '\n'\n");
    unlink(path);
}
