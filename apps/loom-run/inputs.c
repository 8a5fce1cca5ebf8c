/* SPDX-License-Identifier: MIT */
/*
 * loom-run's input sources (inputs.h): the task file or one file streamed
 * through lr_reader, or the command line's sources held in memory and
 * combined like an odometer, one wheel per group of linked sources, the
 * last wheel turning fastest. Records are split into columns (--colsep)
 * as they are read; the job handed out points into those columns.
 */
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "inputs.h"

/* One record, split into columns (owned copies). */
struct rec {
    char **col;
    size_t *len;
    size_t n;
};

/* A source held in memory: its records and, with --header, its names. */
struct held {
    struct rec *r;
    size_t n, cap;
    struct rec names;
    size_t group; /* the wheel this source turns with */
};

struct lr_input {
    const struct lr_input_cfg *cfg;
    regex_t re;
    int have_re;
    /* one file, streamed */
    lr_reader *rd;
    struct rec cur;   /* the current record's columns */
    struct rec names; /* --header */
    uint64_t header_lines;
    /* sources held in memory */
    struct held *h;
    size_t nh, ngroups;
    size_t *wheel, *wheel_len; /* per group: position, length */
    int done;
    /* the job handed out */
    const char **args;
    size_t *lens;
    const char **names_out;
    size_t cap;
    char *text;
    size_t text_cap;
    uint64_t jobs;
};

static void
rec_free(struct rec *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->col[i]);
    free(r->col);
    free(r->len);
    *r = (struct rec){0};
}

/* Add a copy of len bytes at s as r's next column. 0, or -1 (no memory). */
static int
rec_add(struct rec *r, const char *s, size_t len)
{
    char **c = realloc(r->col, (r->n + 1) * sizeof *c);
    if (c)
        r->col = c;
    size_t *l = c ? realloc(r->len, (r->n + 1) * sizeof *l) : NULL;
    if (l)
        r->len = l;
    char *v = l ? malloc(len + 1) : NULL;
    if (!v)
        return -1;
    memcpy(v, s, len);
    v[len] = '\0';
    r->col[r->n] = v;
    r->len[r->n++] = len;
    return 0;
}

/* Split the NUL-terminated record s (len bytes) into out: by --colsep,
 * else one column. 0, or -1 (no memory, said). */
static int
split(lr_input *in, const char *s, size_t len, struct rec *out, char *err, size_t errlen)
{
    size_t pos = 0;
    *out = (struct rec){0};
    while (in->have_re && pos <= len) {
        regmatch_t m;
        if (regexec(&in->re, s + pos, 1, &m, pos ? REG_NOTBOL : 0) != 0 || m.rm_eo == 0)
            break;
        if (rec_add(out, s + pos, (size_t)m.rm_so) != 0)
            goto oom;
        pos += (size_t)m.rm_eo;
    }
    if (rec_add(out, s + pos, len - pos) == 0)
        return 0;
oom:
    rec_free(out);
    snprintf(err, errlen, "out of memory");
    return -1;
}

/* Read every record of source s into h (its first the names, --header). */
static int
hold_file(lr_input *in, const struct lr_source *s, struct held *h, char *err, size_t errlen)
{
    struct lr_reader_opts ro = {.use_delim = in->cfg->use_delim, .delim = in->cfg->delim};
    lr_reader *rd;
    struct lr_line line;
    int r;
    if (lr_reader_open(s->args[0], &ro, &rd, err, errlen) != 0)
        return -1;
    while ((r = lr_reader_next(rd, &line, err, errlen)) == 1) {
        struct rec one;
        if (split(in, line.text, line.len, &one, err, errlen) != 0) {
            r = -1;
            break;
        }
        if (in->cfg->header && line.seq == 1) {
            h->names = one;
            continue;
        }
        if (h->n == h->cap) {
            size_t cap = h->cap ? 2 * h->cap : 16;
            struct rec *nr = realloc(h->r, cap * sizeof *nr);
            if (!nr) {
                rec_free(&one);
                snprintf(err, errlen, "out of memory");
                r = -1;
                break;
            }
            h->r = nr;
            h->cap = cap;
        }
        h->r[h->n++] = one;
    }
    lr_reader_close(rd);
    return r;
}

/* Hold the ::: arguments of s in h, each split like a record. */
static int
hold_args(lr_input *in, const struct lr_source *s, struct held *h, char *err, size_t errlen)
{
    h->r = calloc(s->n ? s->n : 1, sizeof *h->r);
    if (!h->r) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < s->n; i++) {
        struct rec one;
        if (split(in, s->args[i], strlen(s->args[i]), &one, err, errlen) != 0)
            return -1;
        if (in->cfg->header && i == 0)
            h->names = one;
        else
            h->r[h->n++] = one;
    }
    return 0;
}

/* Hold every source and set up the wheels. */
static int
hold_all(lr_input *in, char *err, size_t errlen)
{
    const struct lr_input_cfg *c = in->cfg;
    in->h = calloc(c->nsrc, sizeof *in->h);
    in->wheel = calloc(c->nsrc, sizeof *in->wheel);
    in->wheel_len = calloc(c->nsrc, sizeof *in->wheel_len);
    if (!in->h || !in->wheel || !in->wheel_len) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    in->nh = c->nsrc;
    for (size_t i = 0; i < c->nsrc; i++) {
        struct held *h = &in->h[i];
        int r = c->src[i].is_file ? hold_file(in, &c->src[i], h, err, errlen)
                                  : hold_args(in, &c->src[i], h, err, errlen);
        if (r != 0)
            return -1;
        /* a source with nothing gives one empty argument (GNU Parallel) */
        if (h->n == 0) {
            free(h->r);
            if (!(h->r = calloc(1, sizeof *h->r)) || rec_add(&h->r[0], "", 0) != 0) {
                snprintf(err, errlen, "out of memory");
                return -1;
            }
            h->n = 1;
        }
        int plus = i > 0 && !c->link && c->src[i].linked;
        if (i > 0 && !c->link && !plus)
            in->ngroups++;
        h->group = in->ngroups;
        /* --link: the longest, the others wrap; ":::+": the shortest */
        size_t *len = &in->wheel_len[h->group];
        if ((plus && h->n < *len) || (!plus && h->n > *len))
            *len = h->n;
    }
    in->ngroups++;
    return 0;
}

int
lr_input_open(const struct lr_input_cfg *cfg, lr_input **out, char *err, size_t errlen)
{
    lr_input *in = calloc(1, sizeof *in);
    *out = NULL;
    if (!in) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    in->cfg = cfg;
    if (cfg->colsep) {
        int rc = regcomp(&in->re, cfg->colsep, REG_EXTENDED);
        if (rc != 0) {
            char why[128];
            regerror(rc, &in->re, why, sizeof why);
            snprintf(err, errlen, "--colsep '%s': %s", cfg->colsep, why);
            free(in);
            return -1;
        }
        in->have_re = 1;
    }
    int r;
    if (cfg->nsrc == 0 || (cfg->nsrc == 1 && cfg->src[0].is_file)) {
        struct lr_reader_opts ro = {.skip_comments = cfg->commands && cfg->nsrc == 0,
                                    .use_delim = cfg->use_delim,
                                    .delim = cfg->delim};
        r = lr_reader_open(cfg->nsrc ? cfg->src[0].args[0] : cfg->path, &ro, &in->rd, err, errlen);
    } else {
        r = hold_all(in, err, errlen);
    }
    if (r != 0) {
        lr_input_close(in);
        return -1;
    }
    *out = in;
    return 0;
}

/* Room for n arguments in the job handed out. */
static int
job_room(lr_input *in, size_t n)
{
    if (n <= in->cap)
        return 0;
    const char **a = realloc(in->args, n * sizeof *a);
    if (a)
        in->args = a;
    size_t *l = a ? realloc(in->lens, n * sizeof *l) : NULL;
    if (l)
        in->lens = l;
    const char **nm = l ? realloc(in->names_out, n * sizeof *nm) : NULL;
    if (!nm)
        return -1;
    in->names_out = nm;
    in->cap = n;
    return 0;
}

/* Add record r's columns (named by names, when it has as many) to the job
 * of n arguments so far; returns the new count. */
static size_t
job_add(lr_input *in, size_t n, const struct rec *r, const struct rec *names)
{
    for (size_t i = 0; i < r->n; i++, n++) {
        in->args[n] = r->col[i];
        in->lens[n] = r->len[i];
        in->names_out[n] = names && i < names->n ? names->col[i] : "";
    }
    return n;
}

/* Fill out from the job's n arguments: text joins them. 1, or -1. */
static int
job_out(lr_input *in, size_t n, struct lr_line *out, uint64_t lineno, char *err, size_t errlen)
{
    size_t need = 1;
    for (size_t i = 0; i < n; i++)
        need += in->lens[i] + 1;
    if (need > in->text_cap) {
        char *t = realloc(in->text, need);
        if (!t) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        in->text = t;
        in->text_cap = need;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            in->text[o++] = ' ';
        memcpy(in->text + o, in->args[i], in->lens[i]);
        o += in->lens[i];
    }
    in->text[o] = '\0';
    in->jobs++;
    *out = (struct lr_line){.text = in->text,
                            .len = o,
                            .lineno = lineno,
                            .seq = in->jobs,
                            .nargs = n,
                            .args = in->args,
                            .arglen = in->lens,
                            .names = in->cfg->header ? in->names_out : NULL};
    return 1;
}

/* The next job of the streamed file. */
static int
next_streamed(lr_input *in, struct lr_line *out, char *err, size_t errlen)
{
    struct lr_line line;
    int r = lr_reader_next(in->rd, &line, err, errlen);
    if (r == 1 && in->cfg->header && in->header_lines == 0) {
        in->header_lines = 1;
        if (split(in, line.text, line.len, &in->names, err, errlen) != 0)
            return -1;
        r = lr_reader_next(in->rd, &line, err, errlen);
    }
    if (r != 1)
        return r;
    if (!in->have_re && !in->cfg->header) {
        in->jobs++;
        *out = line; /* one argument: the line (and its comment skipping) */
        return 1;
    }
    rec_free(&in->cur);
    if (split(in, line.text, line.len, &in->cur, err, errlen) != 0 ||
        job_room(in, in->cur.n) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t n = job_add(in, 0, &in->cur, &in->names);
    return job_out(in, n, out, line.lineno - in->header_lines, err, errlen);
}

/* The next combination of the held sources. */
static int
next_held(lr_input *in, struct lr_line *out, char *err, size_t errlen)
{
    if (in->done)
        return 0;
    size_t cols = 0;
    for (size_t i = 0; i < in->nh; i++)
        cols += in->h[i].r[in->wheel[in->h[i].group] % in->h[i].n].n;
    if (job_room(in, cols) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t n = 0;
    for (size_t i = 0; i < in->nh; i++) {
        const struct held *h = &in->h[i];
        n = job_add(in, n, &h->r[in->wheel[h->group] % h->n], &h->names);
    }
    /* turn the wheels: the last fastest */
    size_t g = in->ngroups;
    while (g > 0 && ++in->wheel[g - 1] == in->wheel_len[g - 1])
        in->wheel[--g] = 0;
    if (g == 0)
        in->done = 1;
    return job_out(in, n, out, in->jobs + 1, err, errlen);
}

int
lr_input_next(lr_input *in, struct lr_line *out, char *err, size_t errlen)
{
    return in->rd ? next_streamed(in, out, err, errlen) : next_held(in, out, err, errlen);
}

void
lr_input_stats(const lr_input *in, struct lr_reader_stats *out)
{
    if (in->rd) {
        lr_reader_stats(in->rd, out);
        out->tasks -= in->header_lines;
        return;
    }
    *out = (struct lr_reader_stats){.lines = in->jobs, .tasks = in->jobs, .eof = in->done};
}

/* 1 when path is a regular file (not standard input). */
static int
regular(const char *path)
{
    struct stat sb;
    return strcmp(path, "-") != 0 && stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

int
lr_input_countable(const struct lr_input_cfg *cfg)
{
    if (cfg->nsrc == 0)
        return regular(cfg->path);
    for (size_t i = 0; i < cfg->nsrc; i++)
        if (cfg->src[i].is_file && !regular(cfg->src[i].args[0]))
            return 0;
    return 1;
}

void
lr_input_close(lr_input *in)
{
    if (!in)
        return;
    lr_reader_close(in->rd);
    if (in->have_re)
        regfree(&in->re);
    rec_free(&in->cur);
    rec_free(&in->names);
    for (size_t i = 0; i < in->nh; i++) {
        for (size_t j = 0; j < in->h[i].n; j++)
            rec_free(&in->h[i].r[j]);
        free(in->h[i].r);
        rec_free(&in->h[i].names);
    }
    free(in->h);
    free(in->wheel);
    free(in->wheel_len);
    free(in->args);
    free(in->lens);
    free(in->names_out);
    free(in->text);
    free(in);
}
