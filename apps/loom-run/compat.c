/* SPDX-License-Identifier: MIT */
/*
 * What a GNU Parallel user types, on loom-run's side of the options: a
 * job's command line (template, --shell), --dry-run (printed by the
 * launcher, no MPI at all) and the input check the launcher makes before
 * starting mpirun, so a missing file is said at once.
 */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loomrun.h"
#include "taskfile.h"

char *
lr_job_command(const struct lr_opts *o, const struct lr_line *line, const char *slot, char *err,
               size_t errlen)
{
    char *cmd = o->tmpl ? lr_template_line(o->tmpl, line, slot, err, errlen)
                        : lr_dup_bytes(line->text, line->len);
    if (!cmd && !o->tmpl)
        snprintf(err, errlen, "out of memory");
    if (!cmd || !o->shell)
        return cmd;
    /* the user's shell runs the command: "SHELL -c 'the command'" */
    char *q = lr_shell_quote(cmd, strlen(cmd)), *wrapped = NULL;
    if (q && asprintf(&wrapped, "%s -c %s", o->shell, q) < 0)
        wrapped = NULL;
    free(q);
    free(cmd);
    if (!wrapped)
        snprintf(err, errlen, "out of memory");
    return wrapped;
}

/* --dry-run --pipe: the command of each block (read, not run). */
static int
dry_run_pipe(const struct lr_opts *o)
{
    char err[4096];
    struct lr_blocks_opts bo = {o->block, o->recstart, o->recend, o->in.max_args, stderr};
    lr_blocks *b = NULL;
    const char *data;
    size_t len;
    uint64_t seq = 0;
    int r = lr_blocks_open(STDIN_FILENO, &bo, &b, err, sizeof err);
    while (r == 0 && (r = lr_blocks_next(b, &data, &len, err, sizeof err)) == 1) {
        struct lr_line line = {.text = "", .lineno = ++seq, .seq = seq, .no_append = 1};
        char *cmd = lr_template_line(o->tmpl, &line, "1", err, sizeof err);
        r = cmd ? 0 : -1;
        if (cmd)
            printf("%s\n", cmd);
        free(cmd);
    }
    lr_blocks_close(b);
    if (r < 0) {
        fprintf(stderr, PROG ": %s\n", err);
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

int
lr_dry_run(const struct lr_opts *o)
{
    char err[4096];
    lr_input *in = NULL;
    struct lr_line line;
    int r;
    if (o->pipe)
        return dry_run_pipe(o);
    if (lr_input_open(&o->in, &in, err, sizeof err) != 0) {
        fprintf(stderr, PROG ": %s\n", err);
        return EXIT_USAGE;
    }
    while ((r = lr_input_next(in, &line, err, sizeof err)) == 1) {
        /* no shell wrapping: GNU Parallel prints the command itself */
        char *cmd = o->tmpl ? lr_template_line(o->tmpl, &line, "1", err, sizeof err)
                            : lr_dup_bytes(line.text, line.len);
        if (!cmd) {
            r = -1;
            break;
        }
        printf("%s\n", cmd);
        free(cmd);
    }
    lr_input_close(in);
    if (r < 0) {
        fprintf(stderr, PROG ": %s\n", err);
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

/* The file source path can be opened for reading (said when not). */
static int
check_file(const char *path)
{
    char err[4096];
    lr_reader *rd = NULL;
    if (strcmp(path, "-") == 0)
        return 0;
    if (lr_reader_open(path, NULL, &rd, err, sizeof err) != 0) {
        fprintf(stderr, PROG ": %s\n", err);
        return -1;
    }
    lr_reader_close(rd);
    return 0;
}

int
lr_inputs_check(const struct lr_opts *o)
{
    const struct lr_input_cfg *c = &o->in;
    if (o->pipe)
        return 0; /* standard input, read as it comes */
    if (c->nsrc == 0 && check_file(c->path) != 0)
        return -1;
    for (size_t i = 0; i < c->nsrc; i++)
        if (c->src[i].is_file && check_file(c->src[i].args[0]) != 0)
            return -1;
    regex_t re;
    if (c->colsep) {
        int rc = regcomp(&re, c->colsep, REG_EXTENDED);
        if (rc != 0) {
            char why[128];
            regerror(rc, &re, why, sizeof why);
            fprintf(stderr, PROG ": --colsep '%s': %s\n", c->colsep, why);
            return -1;
        }
        regfree(&re);
    }
    if (o->tmpl) {
        /* a template GNU Parallel would run Perl for: said before mpirun */
        char err[4096];
        struct lr_line probe = {.text = "", .seq = 1};
        char *cmd = lr_template_line(o->tmpl, &probe, NULL, err, sizeof err);
        if (!cmd) {
            fprintf(stderr, PROG ": %s\n", err);
            return -1;
        }
        free(cmd);
    }
    return 0;
}
