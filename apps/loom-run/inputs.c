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
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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
    /* -n/-N, -m, -X: the group being built and the record read ahead */
    struct group {
        char **v;
        size_t *len;
        const char **names;
        size_t n, cap;
    } g, pend;
    uint64_t groups;
    size_t x_len;     /* the template's length over the one argument "x" */
    uint64_t x_group; /* ... for group number x_group + 1 ({#} may grow) */
    /* --shuf: every job, held */
    struct group *all;
    size_t nall, capall, pos;
    int loaded;
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
job_out(lr_input *in, size_t n, struct lr_line *out, uint64_t lineno, uint64_t seq, char *err,
        size_t errlen)
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
    *out = (struct lr_line){.text = in->text,
                            .len = o,
                            .lineno = lineno,
                            .seq = seq,
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
    in->jobs++;
    return job_out(in, n, out, line.lineno - in->header_lines, in->jobs, err, errlen);
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
    in->jobs++;
    return job_out(in, n, out, in->jobs, in->jobs, err, errlen);
}

/* One record (a job without grouping). */
static int
next_record(lr_input *in, struct lr_line *out, char *err, size_t errlen)
{
    return in->rd ? next_streamed(in, out, err, errlen) : next_held(in, out, err, errlen);
}

/* ---- -n/-N, -m, -X: several records a job ------------------------------------------ */

static int
grouping(const struct lr_input_cfg *c)
{
    return c->max_args > 0 || c->xargs;
}

static void
group_clear(struct group *g)
{
    for (size_t i = 0; i < g->n; i++)
        free(g->v[i]);
    g->n = 0;
}

static void
group_free(struct group *g)
{
    group_clear(g);
    free(g->v);
    free(g->len);
    free(g->names);
}

/* Add a copy of argument v (len bytes, named name) to g. 0, or -1. */
static int
group_add(struct group *g, const char *v, size_t len, const char *name)
{
    if (g->n == g->cap) {
        size_t cap = g->cap ? 2 * g->cap : 16;
        char **nv = realloc(g->v, cap * sizeof *nv);
        if (nv)
            g->v = nv;
        size_t *nl = nv ? realloc(g->len, cap * sizeof *nl) : NULL;
        if (nl)
            g->len = nl;
        const char **nn = nl ? realloc(g->names, cap * sizeof *nn) : NULL;
        if (!nn)
            return -1;
        g->names = nn;
        g->cap = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy)
        return -1;
    memcpy(copy, v, len);
    copy[len] = '\0';
    g->v[g->n] = copy;
    g->len[g->n] = len;
    g->names[g->n++] = name ? name : "";
    return 0;
}

/* ---- --shuf ---------------------------------------------------------------------------- */

/* A random seed: getrandom(2), else the time and pid. */
static uint64_t
random_seed(void)
{
    uint64_t s = 0;
    if (getrandom(&s, sizeof s, 0) != (ssize_t)sizeof s || s == 0)
        s = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ 0x9e3779b97f4a7c15u;
    return s;
}

/* Read every record into in->all and shuffle them (Fisher-Yates, xorshift64*). */
static int
load_all(lr_input *in, char *err, size_t errlen)
{
    struct lr_line l;
    int r;
    while ((r = next_record(in, &l, err, errlen)) == 1) {
        if (in->nall == in->capall) {
            size_t cap = in->capall ? 2 * in->capall : 64;
            struct group *a = realloc(in->all, cap * sizeof *a);
            if (!a)
                goto oom;
            in->all = a;
            in->capall = cap;
        }
        struct group *g = &in->all[in->nall++];
        *g = (struct group){0};
        const char *const *v = l.nargs ? l.args : (const char *const *)&l.text;
        const size_t *len = l.nargs ? l.arglen : &l.len;
        for (size_t i = 0; i < (l.nargs ? l.nargs : 1); i++)
            if (group_add(g, v[i], len[i], l.names ? l.names[i] : NULL) != 0)
                goto oom;
    }
    if (r < 0)
        return -1;
    uint64_t x = in->cfg->shuf_seed ? in->cfg->shuf_seed : random_seed();
    for (size_t i = in->nall; i > 1; i--) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        size_t j = (size_t)((x * 0x2545f4914f6cdd1du) % i);
        struct group t = in->all[i - 1];
        in->all[i - 1] = in->all[j];
        in->all[j] = t;
    }
    in->loaded = 1;
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
    return -1;
}

/* The next of the shuffled records, numbered in the order handed out. */
static int
next_shuffled(lr_input *in, struct lr_line *out, char *err, size_t errlen)
{
    if (!in->loaded && load_all(in, err, errlen) != 0)
        return -1;
    if (in->pos == in->nall)
        return 0;
    const struct group *g = &in->all[in->pos++];
    if (job_room(in, g->n) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < g->n; i++) {
        in->args[i] = g->v[i];
        in->lens[i] = g->len[i];
        in->names_out[i] = g->names[i];
    }
    return job_out(in, g->n, out, in->pos, in->pos, err, errlen);
}

/* The length of the template over args (n of them). SIZE_MAX on error (said). */
static size_t
tmpl_len(lr_input *in, const char *const *args, const size_t *lens, size_t n, char *err,
         size_t errlen)
{
    struct lr_line l = {.text = "",
                        .seq = in->groups + 1,
                        .nargs = n,
                        .args = args,
                        .arglen = lens,
                        .context = in->cfg->xargs == 2};
    char *cmd = lr_template_line(in->cfg->tmpl, &l, "1", err, errlen);
    size_t len = cmd ? strlen(cmd) : SIZE_MAX;
    free(cmd);
    return len;
}

/* What argument v (len bytes) adds to the group's command line: the
 * whole line when it is the first, else what it adds to the line of one
 * argument "x" (exact for {} and -X's words, whose arguments each add
 * their own part). SIZE_MAX on error (said). */
static size_t
arg_cost(lr_input *in, const char *v, size_t len, int first, char *err, size_t errlen)
{
    if (!in->cfg->tmpl)
        return len + !first; /* the arguments are the command, joined by spaces */
    if (first)
        return tmpl_len(in, &v, &len, 1, err, errlen);
    const char *two[] = {"x", v};
    size_t lens[] = {1, len};
    if (!in->x_len || in->x_group != in->groups) {
        in->x_group = in->groups;
        if ((in->x_len = tmpl_len(in, two, lens, 1, err, errlen)) == SIZE_MAX)
            return SIZE_MAX;
    }
    size_t both = tmpl_len(in, two, lens, 2, err, errlen);
    return both == SIZE_MAX ? SIZE_MAX : both - in->x_len;
}

/* Read the next record into in->pend (when it is empty). 1, 0 at the
 * end, -1. */
static int
read_ahead(lr_input *in, char *err, size_t errlen)
{
    struct lr_line l;
    if (in->pend.n)
        return 1;
    int r = in->cfg->shuf ? next_shuffled(in, &l, err, errlen) : next_record(in, &l, err, errlen);
    if (r != 1)
        return r;
    const char *const *v = l.nargs ? l.args : (const char *const *)&l.text;
    const size_t *len = l.nargs ? l.arglen : &l.len;
    for (size_t i = 0; i < (l.nargs ? l.nargs : 1); i++)
        if (group_add(&in->pend, v[i], len[i], l.names ? l.names[i] : NULL) != 0) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    return 1;
}

/* With -m/-X: 1 when the record read ahead fits the group's command line
 * (*total so far, then with it), 0 when not (it starts the next group),
 * -1 on error (a record alone too long is one). */
static int
fits(lr_input *in, size_t *total, char *err, size_t errlen)
{
    size_t max = in->cfg->max_chars ? in->cfg->max_chars : LR_MAX_CHARS, add = 0;
    if (!in->cfg->xargs)
        return 1;
    for (size_t i = 0; i < in->pend.n; i++) {
        size_t c =
            arg_cost(in, in->pend.v[i], in->pend.len[i], in->g.n == 0 && i == 0, err, errlen);
        if (c == SIZE_MAX)
            return -1;
        add += c;
    }
    if (*total + add + 1 <= max) {
        *total += add;
        return 1;
    }
    if (in->g.n > 0)
        return 0;
    snprintf(err, errlen, "command line too long (%zu >= %zu) at input %llu: %.60s...", add + 1,
             max, (unsigned long long)in->groups + 1, in->pend.v[0]);
    return -1;
}

/* The next group of records, as one job. */
static int
next_group(lr_input *in, struct lr_line *out, char *err, size_t errlen)
{
    size_t records = 0, total = 0;
    group_clear(&in->g);
    for (;;) {
        int r = read_ahead(in, err, errlen);
        if (r < 0)
            return -1;
        if (r == 0 || (r = fits(in, &total, err, errlen)) == 0)
            break;
        if (r < 0)
            return -1;
        for (size_t i = 0; i < in->pend.n; i++) {
            if (group_add(&in->g, in->pend.v[i], in->pend.len[i], in->pend.names[i]) != 0) {
                snprintf(err, errlen, "out of memory");
                return -1;
            }
        }
        group_clear(&in->pend);
        if (++records == in->cfg->max_args)
            break;
    }
    if (records == 0)
        return 0;
    if (job_room(in, in->g.n) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < in->g.n; i++) {
        in->args[i] = in->g.v[i];
        in->lens[i] = in->g.len[i];
        in->names_out[i] = in->g.names[i];
    }
    in->groups++;
    int r = job_out(in, in->g.n, out, in->groups, in->groups, err, errlen);
    out->context = in->cfg->xargs == 2;
    return r;
}

int
lr_input_next(lr_input *in, struct lr_line *out, char *err, size_t errlen)
{
    if (grouping(in->cfg))
        return next_group(in, out, err, errlen);
    return in->cfg->shuf ? next_shuffled(in, out, err, errlen) : next_record(in, out, err, errlen);
}

void
lr_input_stats(const lr_input *in, struct lr_reader_stats *out)
{
    if (in->rd) {
        lr_reader_stats(in->rd, out);
        out->tasks -= in->header_lines;
    } else {
        *out = (struct lr_reader_stats){.lines = in->jobs, .tasks = in->jobs, .eof = in->done};
    }
    if (in->cfg->shuf) {
        out->tasks = in->pos;
        out->eof = in->loaded && in->pos == in->nall;
    }
    if (grouping(in->cfg)) {
        out->tasks = in->groups;
        out->eof = out->eof && in->pend.n == 0;
    }
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
    group_free(&in->g);
    group_free(&in->pend);
    for (size_t i = 0; i < in->nall; i++)
        group_free(&in->all[i]);
    free(in->all);
    free(in);
}
