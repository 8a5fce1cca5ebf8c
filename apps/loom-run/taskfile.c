/* SPDX-License-Identifier: MIT */
/*
 * Task files, shell quoting and command templates for loom-run (taskfile.h).
 *
 * The reader keeps one buffer (linebuf.h) holding the unconsumed bytes
 * [start, end) of the file; [start, scan) is known to contain no '\n', so
 * a long line is searched once, not once per read. A line is handed out in place: its '\n'
 * (or '\r') is overwritten with a NUL, which is why the buffer has one spare
 * byte past cap. When no '\n' is buffered, the partial line is moved to the
 * front and more is read; the buffer doubles only while the partial line
 * fills it, up to max_line + 2 bytes (the longest line, its '\r' and its
 * '\n'). So memory is bounded by max(64 KiB, max_line + 3) whatever the
 * number of lines, and a line that cannot fit is an error, never a split.
 *
 * Line checks (length, NUL) apply to every line, skipped comments included:
 * a NUL byte means the file is not text, and an overlong comment is as
 * likely a mistake as an overlong command.
 *
 * States: reading -> done (end of file, next() returns 0 for ever) or
 * failed (next() returns -1 with the stored message for ever).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "linebuf.h"
#include "taskfile.h"

/* Read size while lines are short; the buffer never starts larger. */
#define READ_CHUNK ((size_t)64 * 1024)
/* Room for a message about a file with a long name. */
#define ERR_MAX 1024

#define FNV_OFFSET UINT64_C(0xcbf29ce484222325)
#define FNV_PRIME  UINT64_C(0x100000001b3)

struct lr_reader {
    int fd;
    int own_fd; /* 0 for stdin: the caller's descriptor, not ours to close */
    char *name; /* path, or "stdin", for messages */
    size_t max_line;
    int skip_comments;
    int keep_cr;
    char delim; /* the record terminator: '\n', or -d / -0's */

    struct lr_linebuf lb; /* cap_max: max_line + 2 */

    int eof;    /* read() returned 0 */
    int done;   /* every line handed out */
    int failed; /* errmsg holds the error */
    char errmsg[ERR_MAX];

    uint64_t lines;
    uint64_t tasks;
    uint64_t bytes;
    uint64_t raw_hash;
};

__attribute__((format(printf, 3, 4))) static void
set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static uint64_t
fnv1a(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;

    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= FNV_PRIME;
    }
    return h;
}

uint64_t
lr_task_hash(const char *text, size_t len)
{
    return fnv1a(FNV_OFFSET, text, len);
}

int
lr_reader_open(const char *path, const struct lr_reader_opts *opts, lr_reader **out, char *err,
               size_t errlen)
{
    lr_reader *r = NULL;
    int is_stdin = strcmp(path, "-") == 0;
    struct stat st;
    size_t max_line = (opts != NULL && opts->max_line != 0) ? opts->max_line : LR_MAX_LINE_DEFAULT;

    *out = NULL;
    /* cap_max + the spare byte must not overflow. */
    if (max_line > SIZE_MAX - 3) {
        set_err(err, errlen, "%s: line limit %zu too large", is_stdin ? "stdin" : path, max_line);
        goto fail;
    }
    r = calloc(1, sizeof(*r));
    if (r == NULL) {
        set_err(err, errlen, "%s: out of memory", is_stdin ? "stdin" : path);
        goto fail;
    }
    r->fd = -1;
    r->max_line = max_line;
    r->skip_comments = opts != NULL && opts->skip_comments;
    r->keep_cr = opts != NULL && (opts->keep_cr || opts->use_delim);
    r->delim = opts != NULL && opts->use_delim ? (char)opts->delim : '\n';
    r->raw_hash = FNV_OFFSET;
    r->lb.cap_max = max_line + 2;
    r->lb.cap = r->lb.cap_max < READ_CHUNK ? r->lb.cap_max : READ_CHUNK;
    r->name = strdup(is_stdin ? "stdin" : path);
    r->lb.buf = malloc(r->lb.cap + 1);
    if (r->name == NULL || r->lb.buf == NULL) {
        set_err(err, errlen, "%s: out of memory", is_stdin ? "stdin" : path);
        goto fail;
    }

    if (is_stdin) {
        r->fd = STDIN_FILENO;
    } else {
        r->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (r->fd < 0) {
            set_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
            goto fail;
        }
        r->own_fd = 1;
    }
    /* read() of a directory fails with EISDIR; say it in plain words. */
    if (fstat(r->fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        set_err(err, errlen, "%s: is a directory", r->name);
        goto fail;
    }

    *out = r;
    return 0;

fail:
    lr_reader_close(r);
    return -1;
}

void
lr_reader_close(lr_reader *r)
{
    if (r == NULL)
        return;
    if (r->own_fd && r->fd >= 0)
        close(r->fd);
    free(r->lb.buf);
    free(r->name);
    free(r);
}

void
lr_reader_stats(const lr_reader *r, struct lr_reader_stats *out)
{
    out->lines = r->lines;
    out->tasks = r->tasks;
    out->bytes = r->bytes;
    out->raw_hash = r->raw_hash;
    out->eof = r->done;
}

/* Record an error; the reader stays failed. */
__attribute__((format(printf, 4, 5))) static int
reader_fail(lr_reader *r, char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(r->errmsg, sizeof(r->errmsg), fmt, ap);
    va_end(ap);
    r->failed = 1;
    set_err(err, errlen, "%s", r->errmsg);
    return -1;
}

/* Make room after end (moving the partial line to the front, then growing
 * the buffer) and read once. Returns 0 (data or end of file) or -1. */
static int
reader_fill(lr_reader *r, char *err, size_t errlen)
{
    /* The caller has checked that the partial line is shorter than
     * cap_max. */
    ssize_t n = lr_linebuf_fill(&r->lb, r->fd);

    if (n == LR_LINEBUF_NOMEM)
        return reader_fail(r, err, errlen, "%s: out of memory", r->name);
    if (n < 0)
        return reader_fail(r, err, errlen, "%s: read error: %s", r->name, strerror(errno));
    if (n == 0) {
        r->eof = 1;
        return 0;
    }
    r->raw_hash = fnv1a(r->raw_hash, r->lb.buf + r->lb.end - n, (size_t)n);
    r->bytes += (uint64_t)n;
    return 0;
}

/* Blank, or a comment: the first byte that is not white space is '#'. */
static int
is_skippable(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (p[i] == '#')
            return 1;
        if (strchr(" \t\r\v\f", p[i]) == NULL)
            return 0;
    }
    return 1;
}

int
lr_reader_next(lr_reader *r, struct lr_line *out, char *err, size_t errlen)
{
    for (;;) {
        char *line, *nl;
        size_t len;

        if (r->failed) {
            set_err(err, errlen, "%s", r->errmsg);
            return -1;
        }
        if (r->done)
            return 0;

        nl = memchr(r->lb.buf + r->lb.scan, r->delim, r->lb.end - r->lb.scan);
        line = r->lb.buf + r->lb.start;
        if (nl != NULL) {
            len = (size_t)(nl - line);
            r->lb.start += len + 1;
        } else if (r->eof) {
            if (r->lb.end == r->lb.start) {
                r->done = 1;
                return 0;
            }
            len = r->lb.end - r->lb.start; /* final line without '\n' */
            r->lb.start = r->lb.end;
        } else {
            r->lb.scan = r->lb.end;
            /* Even with a '\r' stripped, this line is already too long. */
            if (r->lb.end - r->lb.start > r->max_line + 1)
                return reader_fail(r, err, errlen, "%s:%" PRIu64 ": line longer than %zu bytes",
                                   r->name, r->lines + 1, r->max_line);
            if (reader_fill(r, err, errlen) < 0)
                return -1;
            continue;
        }
        r->lb.scan = r->lb.start;
        r->lines++;

        if (!r->keep_cr && len > 0 && line[len - 1] == '\r')
            len--;
        if (len > r->max_line)
            return reader_fail(r, err, errlen, "%s:%" PRIu64 ": line longer than %zu bytes",
                               r->name, r->lines, r->max_line);
        if (memchr(line, '\0', len) != NULL)
            return reader_fail(r, err, errlen, "%s:%" PRIu64 ": NUL byte in line", r->name,
                               r->lines);
        /* line[len] is the '\n', the '\r', or (final line) at most buf[cap],
         * the spare byte. */
        line[len] = '\0';
        if (r->skip_comments && is_skippable(line, len))
            continue;

        r->tasks++;
        *out = (struct lr_line){0};
        out->text = line;
        out->len = len;
        out->lineno = r->lines;
        out->seq = r->tasks;
        return 1;
    }
}

/* ---- Quoting and templates ---- */

/* Characters no POSIX shell treats specially: GNU Parallel's set. */
static int
is_safe_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '+' || c == '/';
}

char *
lr_shell_quote(const char *s, size_t len)
{
    size_t quotes = 0, need, o = 0;
    int safe = len > 0;
    char *q;

    if (memchr(s, '\0', len) != NULL) {
        errno = EINVAL;
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\'')
            quotes++;
        if (!is_safe_char((unsigned char)s[i]))
            safe = 0;
    }
    if (safe) {
        q = malloc(len + 1);
        if (q == NULL)
            return NULL;
        memcpy(q, s, len);
        q[len] = '\0';
        return q;
    }
    /* Each ' becomes 5 bytes ('"'"'): len + 4 * quotes + 2 quotes + NUL. */
    if (len > (SIZE_MAX - 3) / 5) {
        errno = ENOMEM;
        return NULL;
    }
    need = len + 4 * quotes + 3;
    q = malloc(need);
    if (q == NULL)
        return NULL;
    q[o++] = '\'';
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\'') {
            memcpy(q + o, "'\"'\"'", 5);
            o += 5;
        } else {
            q[o++] = s[i];
        }
    }
    q[o++] = '\'';
    q[o] = '\0';
    /* GNU Parallel drops the empty '' a leading or trailing ' leaves. */
    if (o > 2 && q[1] == '\'') {
        memmove(q, q + 2, o - 1);
        o -= 2;
    }
    if (o > 2 && q[o - 2] == '\'' && q[o - 1] == '\'') {
        o -= 2;
        q[o] = '\0';
    }
    return q;
}

/* A growing string; oom records a failed allocation, checked at the end;
 * raw: values go in as they are, not quoted (--tagstring). */
struct sbuf {
    char *p;
    size_t len;
    size_t cap;
    int oom;
    int raw;
};

static void
sb_add(struct sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (n > SIZE_MAX - 1 - b->len) {
        b->oom = 1;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t ncap = b->cap ? b->cap : 64;
        char *np;

        while (ncap < b->len + n + 1)
            ncap = ncap > SIZE_MAX / 2 ? b->len + n + 1 : ncap * 2;
        np = realloc(b->p, ncap);
        if (np == NULL) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = ncap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void
sb_add_quoted(struct sbuf *b, const char *s, size_t n)
{
    if (b->raw) {
        sb_add(b, s, n);
        return;
    }
    char *q = lr_shell_quote(s, n);

    if (q == NULL) {
        b->oom = 1;
        return;
    }
    sb_add(b, q, strlen(q));
    free(q);
}

/* Length of s without its extension, GNU Parallel's s:\.[^/.]*$::, i.e. cut
 * at the last '.' unless a '/' follows it. */
static size_t
strip_ext(const char *s, size_t len)
{
    for (size_t i = len; i > 0; i--) {
        if (s[i - 1] == '/')
            return len;
        if (s[i - 1] == '.')
            return i - 1;
    }
    return len;
}

/* Offset of the basename: after the last '/' (GNU Parallel's s:.*\/::). */
static size_t
base_off(const char *s, size_t len)
{
    for (size_t i = len; i > 0; i--)
        if (s[i - 1] == '/')
            return i;
    return 0;
}

/* Perl File::Basename::fileparse on Unix: dir is everything up to and
 * including the last '/', or "./" when there is none. Returns the length of
 * the rest (the basename). */
static size_t
fileparse(const char *s, size_t len, const char **dir, size_t *dlen)
{
    size_t b = base_off(s, len);

    if (b == 0) {
        *dir = "./";
        *dlen = 2;
    } else {
        *dir = s;
        *dlen = b;
    }
    return len - b;
}

/* Drop trailing slashes but keep the first byte: Perl's s{(.)[/]*\z}{$1}. */
static size_t
strip_slashes(const char *s, size_t len)
{
    while (len > 1 && s[len - 1] == '/')
        len--;
    return len;
}

/* Perl File::Basename::dirname on Unix, which GNU Parallel uses for {//}. */
static void
perl_dirname(const char *s, size_t len, const char **dir, size_t *dlen)
{
    size_t blen = fileparse(s, len, dir, dlen);

    *dlen = strip_slashes(*dir, *dlen);
    if (blen == 0) {
        /* "a/b/": the basename is empty, so the parent is one level up. */
        const char *d = *dir;
        fileparse(d, *dlen, dir, dlen);
        *dlen = strip_slashes(*dir, *dlen);
    }
}

/* One argument changed by a modifier ("", ".", "/", "//", "/."), quoted,
 * added to b. */
static void
add_modified(struct sbuf *b, const char *s, size_t len, const char *mod)
{
    size_t boff = base_off(s, len);
    const char *d;
    size_t dl;

    if (strcmp(mod, ".") == 0) {
        sb_add_quoted(b, s, strip_ext(s, len));
    } else if (strcmp(mod, "/") == 0) {
        sb_add_quoted(b, s + boff, len - boff);
    } else if (strcmp(mod, "//") == 0) {
        perl_dirname(s, len, &d, &dl);
        sb_add_quoted(b, d, dl);
    } else if (strcmp(mod, "/.") == 0) {
        sb_add_quoted(b, s + boff, strip_ext(s + boff, len - boff));
    } else {
        sb_add_quoted(b, s, len);
    }
}

static int
is_modifier(const char *m)
{
    return !strcmp(m, "") || !strcmp(m, ".") || !strcmp(m, "/") || !strcmp(m, "//") ||
           !strcmp(m, "/.");
}

/* The job's arguments: line's own, or its text as the one argument. */
struct argv_view {
    const char *const *v;
    const size_t *len;
    size_t n;
};

/* Expand the replacement string inside one pair of braces (name: what is
 * between them) into b. 1 when it was one, 0 when it is not (copied
 * literally by the caller). */
static int
expand_brace(struct sbuf *b, const char *name, const struct argv_view *a,
             const struct lr_line *line, const char *slot)
{
    char num[24];
    const char *m = name;
    int neg = *m == '-';

    if (strcmp(name, "#") == 0) {
        sb_add(b, num, (size_t)snprintf(num, sizeof(num), "%" PRIu64, line->seq));
        return 1;
    }
    if (strcmp(name, "%") == 0) {
        sb_add(b, slot, b->raw ? 1 : strlen(slot)); /* raw: LR_TAG_SLOT, one NUL */
        return 1;
    }
    if (is_modifier(name)) {
        for (size_t i = 0; i < a->n; i++) {
            if (i > 0)
                sb_add(b, " ", 1);
            add_modified(b, a->v[i], a->len[i], name);
        }
        return 1;
    }
    m += neg;
    if (*m >= '1' && *m <= '9') {
        unsigned long k = strtoul(m, (char **)&m, 10);

        if (!is_modifier(m))
            return 0;
        if (k <= a->n)
            add_modified(b, a->v[neg ? a->n - k : k - 1], a->len[neg ? a->n - k : k - 1], m);
        return 1;
    }
    for (size_t i = 0; line->names != NULL && i < line->nargs; i++) {
        if (strcmp(name, line->names[i]) == 0) {
            add_modified(b, a->v[i], a->len[i], "");
            return 1;
        }
    }
    return 0;
}

/* {= perl =} or {N= perl =}: GNU Parallel runs Perl there; refused. Like
 * GNU Parallel, "{=" with no "=}" after it ("{=x", "{=x}") is no Perl
 * expression: it is copied literally. */
static int
is_perl(const char *p)
{
    p++;
    if (*p == '-')
        p++;
    while (*p >= '0' && *p <= '9')
        p++;
    return *p == '=' && strstr(p + 1, "=}") != NULL;
}

/* Append every argument, quoted (a template without replacement strings). */
static void
append_args(struct sbuf *b, const struct argv_view *a)
{
    for (size_t i = 0; i < a->n; i++) {
        sb_add(b, " ", 1);
        sb_add_quoted(b, a->v[i], a->len[i]);
    }
}

/* Expand the NUL-terminated template piece p over the arguments a into
 * b; *any is set when it held a replacement string. 0, or -1 ({= perl =},
 * said in err naming tmpl). */
static int
expand_piece(struct sbuf *b, const char *tmpl, const char *p, const struct argv_view *a,
             const struct lr_line *line, const char *slot, int *any, char *err, size_t errlen)
{
    while (*p != '\0') {
        const char *q = *p == '{' ? strchr(p + 1, '}') : NULL;

        if (*p == '{' && is_perl(p)) {
            set_err(err, errlen, "%s: {= perl expression =} replacement strings are not supported",
                    tmpl);
            return -1;
        }
        if (q != NULL && (size_t)(q - p) < 256) {
            char name[256];

            memcpy(name, p + 1, (size_t)(q - p - 1));
            name[q - p - 1] = '\0';
            if (expand_brace(b, name, a, line, slot)) {
                *any = 1;
                p = q + 1;
                continue;
            }
        }
        /* Not a replacement string: copy up to the next '{' after this byte
         * (a '{' that did not match is copied like any byte). */
        q = strchr(p + 1, '{');
        size_t n = q != NULL ? (size_t)(q - p) : strlen(p);
        sb_add(b, p, n);
        p += n;
    }
    return 0;
}

/* 1 when word holds a replacement string of every argument ({} {.} {/}
 * {//} {/.}): -X repeats such a word per argument. */
static int
is_context_word(const char *word)
{
    for (const char *p = strchr(word, '{'); p != NULL; p = strchr(p + 1, '{')) {
        const char *q = strchr(p + 1, '}');
        char name[8];

        if (q != NULL && (size_t)(q - p - 1) < sizeof(name)) {
            memcpy(name, p + 1, (size_t)(q - p - 1));
            name[q - p - 1] = '\0';
            if (is_modifier(name))
                return 1;
        }
    }
    return 0;
}

/* -X: tmpl word by word, a word around {} once per argument. 0, or -1. */
static int
expand_context(struct sbuf *b, const char *tmpl, const struct argv_view *a,
               const struct lr_line *line, const char *slot, int *any, char *err, size_t errlen)
{
    const char *p = tmpl;

    while (*p != '\0') {
        size_t blanks = strspn(p, " \t\n"), n;

        sb_add(b, p, blanks);
        p += blanks;
        n = strcspn(p, " \t\n");
        if (n == 0)
            break;
        char *word = malloc(n + 1);
        int r = 0;

        if (word == NULL) {
            b->oom = 1;
            return 0;
        }
        memcpy(word, p, n);
        word[n] = '\0';
        p += n;
        if (!is_context_word(word) || a->n == 0) {
            r = expand_piece(b, tmpl, word, a, line, slot, any, err, errlen);
        } else {
            for (size_t i = 0; i < a->n && r == 0; i++) {
                struct argv_view one = {&a->v[i], &a->len[i], 1};

                if (i > 0)
                    sb_add(b, " ", 1);
                r = expand_piece(b, tmpl, word, &one, line, slot, any, err, errlen);
            }
        }
        free(word);
        if (r != 0)
            return -1;
    }
    return 0;
}

/* Fill tmpl with line's values into b (b->raw: unquoted, and nothing
 * appended when tmpl has no replacement string). 0, or -1 (said in err;
 * b->p freed). */
static int
fill(const char *tmpl, const struct lr_line *line, const char *slot, struct sbuf *b_, char *err,
     size_t errlen)
{
    struct sbuf b = *b_;
    int any = 0, r;
    struct argv_view a = {line->args, line->arglen, line->nargs};

    if (line->nargs == 0)
        a = (struct argv_view){&line->text, &line->len, 1};
    sb_add(&b, "", 0); /* "{3}" of one argument is "", not a failure */
    for (size_t i = 0; i < a.n; i++) {
        if (memchr(a.v[i], '\0', a.len[i]) != NULL) {
            free(b.p);
            set_err(err, errlen, "input contains a NUL byte");
            return -1;
        }
    }
    slot = slot != NULL ? slot : "$LOOM_SLOT";
    r = line->context ? expand_context(&b, tmpl, &a, line, slot, &any, err, errlen)
                      : expand_piece(&b, tmpl, tmpl, &a, line, slot, &any, err, errlen);
    if (r != 0) {
        free(b.p);
        return -1;
    }
    if (!any && !line->no_append && !b.raw)
        append_args(&b, &a);
    if (b.oom || b.p == NULL) {
        free(b.p);
        set_err(err, errlen, "out of memory");
        return -1;
    }
    *b_ = b;
    return 0;
}

char *
lr_template_line(const char *tmpl, const struct lr_line *line, const char *slot, char *err,
                 size_t errlen)
{
    struct sbuf b = {0};
    return fill(tmpl, line, slot, &b, err, errlen) == 0 ? b.p : NULL;
}

char *
lr_tagstring_line(const char *tmpl, const struct lr_line *line, size_t *len, char *err,
                  size_t errlen)
{
    struct sbuf b = {.raw = 1};
    if (fill(tmpl, line, "", &b, err, errlen) != 0)
        return NULL;
    *len = b.len;
    return b.p;
}

char *
lr_template_expand(const char *tmpl, const char *input, size_t len, uint64_t seq, char *err,
                   size_t errlen)
{
    struct lr_line line = {.text = input, .len = len, .seq = seq};

    return lr_template_line(tmpl, &line, NULL, err, errlen);
}
