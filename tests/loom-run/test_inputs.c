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

/* ---- -n/-N, -m, -X (GNU Parallel 20221122's --dry-run output) ------------------- */

static const char *const a_to_e[] = {"a", "b", "c", "d", "e"}, *const two_by_two[] = {
                                                                   "aa", "bb", "cc", "dd", "ee"};

Test(groups, n_records_a_job_numbered_by_job, .timeout = 10)
{
    struct lr_source s[] = {{0, a_to_e, 5, 0}};
    struct lr_input_cfg c = {.src = s, .nsrc = 1, .max_args = 2};
    expect_jobs(&c, "echo", "echo a b\necho c d\necho e\n");
    expect_jobs(&c, "echo {1}-{2} {#}", "echo a-b 1\necho c-d 2\necho e- 3\n");
    expect_jobs(&c, "echo {} / {-1}", "echo a b / b\necho c d / d\necho e / e\n");
    c.max_args = 3;
    expect_jobs(&c, "echo {3} {1}", "echo c a\necho  d\n");
}

/* Several sources or columns: a record's arguments all go into the job. */
Test(groups, records_of_several_arguments, .timeout = 10)
{
    struct lr_source s[] = {{0, ab, 2, 0}, {0, n12, 2, 0}};
    struct lr_input_cfg c = {.src = s, .nsrc = 2, .max_args = 2};
    expect_jobs(&c, "echo {1} {2}", "echo a 1\necho b 1\n");
    expect_jobs(&c, "echo", "echo a 1 a 2\necho b 1 b 2\n");
    static const char *const rows[] = {"a,b", "c,d", "e,f"};
    struct lr_source t[] = {{0, rows, 3, 0}};
    struct lr_input_cfg d = {.src = t, .nsrc = 1, .colsep = ",", .max_args = 2};
    expect_jobs(&d, "echo {1} {2} {3} {4}", "echo a b c d\necho e f  \n");
}

/* A streamed file (-0 records) in groups; the counters count jobs. */
Test(groups, streamed_file_in_groups, .timeout = 10)
{
    char path[] = "/tmp/inputs-XXXXXX", err[256];
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "one\0two words\0it's\0four\0five\0", 29), 29);
    close(fd);
    const char *const files[] = {path};
    struct lr_source s[] = {{1, files, 1, 0}};
    struct lr_input_cfg c = {.src = s, .nsrc = 1, .use_delim = 1, .max_args = 2};
    expect_jobs(&c, "printf {2}{1}",
                "printf 'two words'one\nprintf four'it'\"'\"'s'\nprintf five\n");
    lr_input *in;
    struct lr_line line;
    struct lr_reader_stats st;
    cr_assert_eq(lr_input_open(&c, &in, err, sizeof err), 0);
    while (lr_input_next(in, &line, err, sizeof err) == 1)
        ;
    lr_input_stats(in, &st);
    cr_assert_eq(st.tasks, 3, "%llu jobs counted", (unsigned long long)st.tasks);
    cr_assert(st.eof);
    lr_input_close(in);
    unlink(path);
}

/* -m: as many as fit; GNU Parallel's -s counts the command's NUL. */
Test(groups, m_fills_the_line_up_to_max_chars, .timeout = 10)
{
    struct lr_source s[] = {{0, two_by_two, 5, 0}};
    struct lr_input_cfg c = {.src = s, .nsrc = 1, .xargs = 1, .max_chars = 16};
    c.tmpl = "echo";
    expect_jobs(&c, "echo", "echo aa bb cc\necho dd ee\n");
    c.max_chars = 17;
    expect_jobs(&c, "echo", "echo aa bb cc dd\necho ee\n");
    c.max_chars = 0; /* 128 KiB */
    c.tmpl = "echo pre{}post";
    expect_jobs(&c, c.tmpl, "echo preaa bb cc dd eepost\n");
    c.max_args = 2; /* with -n: whichever comes first */
    expect_jobs(&c, c.tmpl, "echo preaa bbpost\necho precc ddpost\necho preeepost\n");
}

/* -X: the word around {} once per argument, each quoted in it. */
Test(groups, X_repeats_the_word_around_braces, .timeout = 10)
{
    static const char *const odd[] = {"a", "b", "c d", "e'f"};
    struct lr_source s[] = {{0, odd, 4, 0}};
    struct lr_input_cfg c = {.src = s, .nsrc = 1, .xargs = 2, .tmpl = "echo pre{}post"};
    expect_jobs(&c, c.tmpl, "echo preapost prebpost pre'c d'post pre'e'\"'\"'f'post\n");
    struct lr_source t[] = {{0, two_by_two, 5, 0}};
    struct lr_input_cfg d = {.src = t, .nsrc = 1, .xargs = 2, .max_chars = 25, .tmpl = "echo x{}y"};
    expect_jobs(&d, d.tmpl, "echo xaay xbby xccy xddy\necho xeey\n");
    d.tmpl = "cp {}.in {/.}.out {#}";
    d.max_chars = 0;
    expect_jobs(&d, d.tmpl,
                "cp aa.in bb.in cc.in dd.in ee.in aa.out bb.out cc.out dd.out ee.out 1\n");
}

Test(groups, one_argument_too_long_is_an_error, .timeout = 10)
{
    struct lr_source s[] = {{0, two_by_two, 5, 0}};
    struct lr_input_cfg c = {.src = s, .nsrc = 1, .xargs = 1, .max_chars = 6, .tmpl = "echo"};
    char err[256] = "";
    lr_input *in;
    struct lr_line line;
    cr_assert_eq(lr_input_open(&c, &in, err, sizeof err), 0);
    cr_assert_eq(lr_input_next(in, &line, err, sizeof err), -1);
    cr_assert(strstr(err, "command line too long") != NULL, "%s", err);
    lr_input_close(in);
}

/* ---- --shuf ------------------------------------------------------------------------ */

/* --shuf: every job once, in another order, numbered 1..n as handed out. */
Test(shuf, every_job_once_numbered_in_run_order, .timeout = 10)
{
    static const char *const twenty[] = {"0",  "1",  "2",  "3",  "4",  "5",  "6",
                                         "7",  "8",  "9",  "10", "11", "12", "13",
                                         "14", "15", "16", "17", "18", "19"};
    struct lr_source s[] = {{0, twenty, 20, 0}};
    struct lr_input_cfg c = {.src = s, .nsrc = 1, .shuf = 1, .shuf_seed = 42};
    char err[256], seen[20] = {0}, *first = jobs_of(&c, "echo {}");
    lr_input *in;
    struct lr_line line;
    uint64_t n = 0;
    int moved = 0;
    cr_assert_eq(lr_input_open(&c, &in, err, sizeof err), 0);
    while (lr_input_next(in, &line, err, sizeof err) == 1) {
        int v = atoi(line.args[0]);
        cr_assert_eq(line.seq, ++n, "job %llu numbered %llu", (unsigned long long)n,
                     (unsigned long long)line.seq);
        cr_assert(v >= 0 && v < 20 && !seen[v], "job %s twice or unknown", line.args[0]);
        seen[v] = 1;
        moved |= (uint64_t)v != n - 1;
    }
    cr_assert_eq(n, 20);
    cr_assert(moved, "the jobs came in their input order");
    lr_input_close(in);
    /* the same seed, the same order */
    char *again = jobs_of(&c, "echo {}");
    cr_assert_str_eq(first, again);
    free(first);
    free(again);
}

/* --shuf with -n: the records are shuffled, then grouped (GNU Parallel). */
Test(shuf, records_shuffled_then_grouped, .timeout = 10)
{
    struct lr_source s[] = {{0, a_to_e, 5, 0}};
    struct lr_input_cfg c = {.src = s, .nsrc = 1, .shuf = 1, .shuf_seed = 7, .max_args = 2};
    char err[256], seen[5] = {0};
    lr_input *in;
    struct lr_line line;
    size_t jobs = 0, args = 0;
    cr_assert_eq(lr_input_open(&c, &in, err, sizeof err), 0);
    while (lr_input_next(in, &line, err, sizeof err) == 1) {
        cr_assert_eq(line.seq, ++jobs);
        cr_assert_leq(line.nargs, 2);
        for (size_t i = 0; i < line.nargs; i++, args++) {
            int k = line.args[i][0] - 'a';
            cr_assert(k >= 0 && k < 5 && !seen[k], "argument %s twice", line.args[i]);
            seen[k] = 1;
        }
    }
    cr_assert_eq(jobs, 3);
    cr_assert_eq(args, 5);
    lr_input_close(in);
}
