/* SPDX-License-Identifier: MIT */
/*
 * loom-run's GNU Parallel-compatible job log (joblog.h has the format, GNU's
 * resume rules and what a kill can lose).
 *
 * Writer. A handle owns one O_APPEND descriptor, locked with flock() for
 * its whole life, and a line buffer. A line is built completely in the
 * buffer (numbers printed under a private "C" locale object, so a caller's
 * LC_NUMERIC never turns "1.500" into "1,500") and handed to the kernel in
 * one write(2): O_APPEND makes position and data one atomic step, so lines
 * of concurrent writers never interleave. States: OK -> BROKEN when the
 * remainder of a short write cannot be written; a BROKEN handle refuses to
 * write so that it never appends after its own torn line.
 *
 * Opening for resume checks the header before touching anything, and cuts
 * a torn final line at the last '\n' while holding the lock, so every line
 * appended afterwards starts at a line boundary.
 *
 * Durability. `unsynced` says lines were written since the last fdatasync;
 * the policy (sync_ms) is applied after each write and by sync_if_due.
 * The header of a new or truncated log is synced with its directory entry.
 *
 * Reader. read(2) into a buffer (linebuf.h) that grows up to
 * LR_JOBLOG_LINE_MAX; lines are cut at '\n' (memchr, so NUL bytes standing
 * for newlines in Command are fine), fields at the first eight TABs, in
 * place: each separator becomes the NUL that ends its field. Bytes after the last '\n' form the
 * torn line: counted, never parsed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <locale.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "joblog.h"
#include "linebuf.h"

#define JL_NFIELDS    9           /* Seq .. Command */
#define JL_NUM_MAX    64          /* longest numeric field the reader takes */
#define JL_FIXED_ROOM 256         /* line bytes besides Host and Command */
#define JL_READ_CHUNK (64 * 1024) /* reader's first buffer; grows to LINE_MAX */
#define JL_TAIL_CHUNK 4096        /* backwards scan for the last '\n' */
#define JL_HEADER_LEN (sizeof LR_JOBLOG_HEADER - 1)
#define JL_LOCAL_HOST ":"  /* GNU Parallel's name for this machine */
#define JL_NUM_LIMIT  1e15 /* |Starttime|, |JobRuntime| below this */

struct lr_joblog {
    int fd;
    int broken;        /* a short write could not be completed */
    int unsynced;      /* lines written since the last fdatasync */
    long sync_ms;      /* policy, see lr_joblog_set_sync_ms */
    int64_t last_sync; /* CLOCK_MONOTONIC ms of the last fdatasync */
    uint64_t trimmed;  /* bytes of torn tail cut off at open */
    locale_t c_locale; /* for printf of Starttime / JobRuntime */
    char *buf;         /* line buffer */
    size_t cap;
};

/* Format a message into err (if any); errno is left as it was. */
__attribute__((format(printf, 3, 4))) static void
set_err(char *err, size_t errlen, const char *fmt, ...)
{
    int saved = errno;
    va_list ap;

    if (err != NULL && errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    errno = saved;
}

static int64_t
mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* fdatasync, accepting descriptors that cannot be synced (pipes, ttys). */
static int
sync_fd(int fd)
{
    if (fdatasync(fd) == 0 || errno == EINVAL || errno == EROFS)
        return 0;
    return -1;
}

/* fsync the directory holding path, so that a newly created log survives a
 * machine crash; filesystems that refuse directory fsync are accepted. */
static int
sync_dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = NULL;
    int fd = -1, rc = -1, saved;

    if (slash == NULL)
        dir = strdup(".");
    else if (slash == path)
        dir = strdup("/");
    else
        dir = strndup(path, (size_t)(slash - path));
    if (dir == NULL)
        goto cleanup;
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        goto cleanup;
    if (fsync(fd) != 0 && errno != EINVAL && errno != EROFS)
        goto cleanup;
    rc = 0;
cleanup:
    saved = errno;
    if (fd >= 0)
        close(fd);
    free(dir);
    errno = saved;
    return rc;
}

static int
pread_full(int fd, char *p, size_t n, off_t off)
{
    while (n > 0) {
        ssize_t r = pread(fd, p, n, off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0) {
            errno = EIO; /* the file shrank under us */
            return -1;
        }
        p += r;
        n -= (size_t)r;
        off += r;
    }
    return 0;
}

/*
 * Write n bytes. The first write(2) carries the whole line; a short write
 * (disk full, or a fatal signal arriving between two pages) is completed
 * with further writes, and if that fails the handle is broken: the file
 * now ends with a torn line that only lr_joblog_open(append) may remove.
 * A first write that wrote nothing leaves the file as it was.
 */
static int
write_line(struct lr_joblog *j, const char *p, size_t n)
{
    size_t done = 0;

    while (done < n) {
        ssize_t w = write(j->fd, p + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            if (done > 0)
                j->broken = 1;
            return -1;
        }
        done += (size_t)w;
    }
    return 0;
}

/* Make the buffer hold at least n bytes. */
static int
reserve(struct lr_joblog *j, size_t n)
{
    char *nb;

    if (n <= j->cap)
        return 0;
    nb = realloc(j->buf, n);
    if (nb == NULL)
        return -1;
    j->buf = nb;
    j->cap = n;
    return 0;
}

/*
 * A resumed log: the first line must be the header. A file shorter than the
 * header that holds a prefix of it was torn while being created and starts
 * again; a torn final line is cut at the last '\n'.
 */
static int
check_and_trim(struct lr_joblog *j, const char *path, off_t size, int *need_header, char *err,
               size_t errlen)
{
    char head[JL_HEADER_LEN];
    char chunk[JL_TAIL_CHUNK];
    size_t n = (size_t)size < JL_HEADER_LEN ? (size_t)size : JL_HEADER_LEN;
    off_t end = size, keep = -1;

    *need_header = 0;
    if (pread_full(j->fd, head, n, 0) != 0) {
        set_err(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        return -1;
    }
    if (memcmp(head, LR_JOBLOG_HEADER, n) != 0) {
        set_err(err, errlen,
                "%s: not a job log: its first line is not GNU Parallel's joblog header "
                "(Seq<TAB>Host<TAB>...<TAB>Command)",
                path);
        errno = EINVAL;
        return -1;
    }
    if (n < JL_HEADER_LEN) {
        keep = 0;
        *need_header = 1;
    }
    /* Find the last '\n': the header's own one at least. */
    while (keep < 0 && end > 0) {
        size_t len = end < (off_t)sizeof chunk ? (size_t)end : sizeof chunk;
        off_t at = end - (off_t)len;
        if (pread_full(j->fd, chunk, len, at) != 0) {
            set_err(err, errlen, "%s: cannot read: %s", path, strerror(errno));
            return -1;
        }
        for (size_t i = len; i > 0; i--) {
            if (chunk[i - 1] == '\n') {
                keep = at + (off_t)i;
                break;
            }
        }
        end = at;
    }
    if (keep < size) {
        if (ftruncate(j->fd, keep) != 0) {
            set_err(err, errlen, "%s: cannot cut off the torn last line: %s", path,
                    strerror(errno));
            return -1;
        }
        j->trimmed = (uint64_t)(size - keep);
        j->unsynced = 1;
    }
    return 0;
}

int
lr_joblog_open(const char *path, int append, lr_joblog **out, char *err, size_t errlen)
{
    struct lr_joblog *j = NULL;
    struct stat sb;
    int need_header = 0, saved;

    *out = NULL;
    j = calloc(1, sizeof *j);
    if (j == NULL) {
        set_err(err, errlen, "%s: out of memory", path);
        return -1;
    }
    j->fd = -1;
    j->sync_ms = LR_JOBLOG_SYNC_MS_DEFAULT;
    j->c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    if (j->c_locale == (locale_t)0) {
        set_err(err, errlen, "%s: cannot create the C locale: %s", path, strerror(errno));
        goto fail;
    }
    /* Never O_TRUNC here: the lock must be ours before anything changes. */
    j->fd = open(path, (append ? O_RDWR : O_WRONLY) | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    if (j->fd < 0) {
        set_err(err, errlen, "%s: cannot open the job log: %s", path, strerror(errno));
        goto fail;
    }
    if (flock(j->fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
        set_err(err, errlen, "%s: the job log is in use by another process", path);
        goto fail;
    }
    /* Other flock failures (a filesystem without locks) only lose the
     * protection against a second writer. */
    if (fstat(j->fd, &sb) != 0) {
        set_err(err, errlen, "%s: cannot stat: %s", path, strerror(errno));
        goto fail;
    }
    if (!S_ISREG(sb.st_mode)) {
        if (append) {
            set_err(err, errlen, "%s: cannot resume from a job log that is not a regular file",
                    path);
            errno = EINVAL;
            goto fail;
        }
        need_header = 1;
    } else if (!append || sb.st_size == 0) {
        if (sb.st_size != 0 && ftruncate(j->fd, 0) != 0) {
            set_err(err, errlen, "%s: cannot truncate: %s", path, strerror(errno));
            goto fail;
        }
        need_header = 1;
    } else if (check_and_trim(j, path, sb.st_size, &need_header, err, errlen) != 0) {
        goto fail;
    }
    if (need_header) {
        if (write_line(j, LR_JOBLOG_HEADER, JL_HEADER_LEN) != 0) {
            set_err(err, errlen, "%s: cannot write the header: %s", path, strerror(errno));
            goto fail;
        }
        j->unsynced = 1;
    }
    if (j->unsynced) {
        if (sync_fd(j->fd) != 0 || (need_header && S_ISREG(sb.st_mode) && sync_dir_of(path))) {
            set_err(err, errlen, "%s: cannot sync: %s", path, strerror(errno));
            goto fail;
        }
        j->unsynced = 0;
    }
    j->last_sync = mono_ms();
    *out = j;
    return 0;
fail:
    saved = errno;
    if (j->fd >= 0)
        close(j->fd);
    if (j->c_locale != (locale_t)0)
        freelocale(j->c_locale);
    free(j);
    errno = saved;
    return -1;
}

/* Append the numbers after Host, from "\t" Starttime to the "\t" before
 * Command, at *len. */
static int
format_numbers(struct lr_joblog *j, const struct lr_joblog_entry *e, size_t *len)
{
    double ms = e->runtime * 1000.0;
    locale_t old;
    int n;

    /* GNU: sprintf("%.3f", int((end - start) * 1000) / 1000), printed with
     * "%10.3f": truncated to the millisecond, not rounded (Perl's int()
     * truncates toward zero, as the cast does; |ms| < 1e18 here). */
    ms = (double)(long long)ms;
    old = uselocale(j->c_locale);
    n = snprintf(j->buf + *len, j->cap - *len, "\t%.3f\t%10.3f\t%" PRIu64 "\t%" PRIu64 "\t%d\t%d\t",
                 e->start, ms / 1000.0, e->send, e->receive, e->exitval, e->signal);
    uselocale(old);
    if (n < 0 || (size_t)n >= j->cap - *len) {
        errno = EOVERFLOW; /* cannot happen: JL_FIXED_ROOM holds the widest */
        return -1;
    }
    *len += (size_t)n;
    return 0;
}

int
lr_joblog_write(lr_joblog *j, const struct lr_joblog_entry *e)
{
    const char *host = (e->host && *e->host) ? e->host : JL_LOCAL_HOST;
    const char *cmd = e->command ? e->command : "";
    size_t hostlen = strnlen(host, (size_t)LR_JOBLOG_HOST_MAX + 1);
    size_t cmdlen = strnlen(cmd, (size_t)LR_JOBLOG_CMD_MAX + 1);
    size_t len;
    char *p;
    int n;

    if (j->broken) {
        errno = EIO;
        return -1;
    }
    if (e->seq == 0 || e->signal < 0 || !(e->start > -JL_NUM_LIMIT && e->start < JL_NUM_LIMIT) ||
        !(e->runtime > -JL_NUM_LIMIT && e->runtime < JL_NUM_LIMIT) ||
        hostlen > LR_JOBLOG_HOST_MAX || cmdlen > LR_JOBLOG_CMD_MAX) {
        errno = EINVAL; /* NaN fails the range tests too */
        return -1;
    }
    if (reserve(j, JL_FIXED_ROOM + hostlen + cmdlen) != 0)
        return -1;
    n = snprintf(j->buf, j->cap, "%" PRIu64 "\t", e->seq);
    len = (size_t)n;
    /* Host must stay one non-blank word for GNU's parser. */
    for (size_t i = 0; i < hostlen; i++) {
        unsigned char c = (unsigned char)host[i];
        j->buf[len++] = (c <= ' ' || c == 0x7f) ? '_' : (char)c;
    }
    if (format_numbers(j, e, &len) != 0)
        return -1;
    /* Command: raw, TABs included, but '\n' -> NUL as GNU's print_joblog. */
    p = j->buf + len;
    for (size_t i = 0; i < cmdlen; i++)
        p[i] = cmd[i] == '\n' ? '\0' : cmd[i];
    p[cmdlen] = '\n';
    len += cmdlen + 1;
    if (write_line(j, j->buf, len) != 0)
        return -1;
    j->unsynced = 1;
    return lr_joblog_sync_if_due(j);
}

void
lr_joblog_set_sync_ms(lr_joblog *j, long ms)
{
    j->sync_ms = ms;
}

int
lr_joblog_sync(lr_joblog *j)
{
    if (!j->unsynced)
        return 0;
    if (sync_fd(j->fd) != 0)
        return -1;
    j->unsynced = 0;
    j->last_sync = mono_ms();
    return 0;
}

int
lr_joblog_sync_if_due(lr_joblog *j)
{
    if (!j->unsynced || j->sync_ms < 0)
        return 0;
    if (j->sync_ms > 0 && mono_ms() - j->last_sync < j->sync_ms)
        return 0;
    return lr_joblog_sync(j);
}

uint64_t
lr_joblog_trimmed(const lr_joblog *j)
{
    return j->trimmed;
}

int
lr_joblog_close(lr_joblog *j)
{
    int rc = 0, saved = 0;

    if (j == NULL)
        return 0;
    if (j->broken) {
        rc = -1;
        saved = EIO;
    }
    if (lr_joblog_sync(j) != 0 && rc == 0) {
        rc = -1;
        saved = errno;
    }
    if (close(j->fd) != 0 && rc == 0) {
        rc = -1;
        saved = errno;
    }
    freelocale(j->c_locale);
    free(j->buf);
    free(j);
    if (rc != 0)
        errno = saved;
    return rc;
}

/* ---- reader ---- */

static int
all_digits(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
    }
    return 1;
}

static int
parse_u64(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;

    if (!all_digits(s, n))
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

static int
parse_int(const char *s, size_t n, int *out)
{
    int neg = n > 0 && s[0] == '-';
    uint64_t v;

    if (parse_u64(s + neg, n - (size_t)neg, &v) != 0 || v > (uint64_t)INT_MAX + (uint64_t)neg)
        return -1;
    *out = neg ? (int)-(int64_t)v : (int)v;
    return 0;
}

/* -?DIGITS(.DIGITS)? as printf "%.Nf" writes it; s is NUL-terminated at n. */
static int
parse_decimal(const char *s, size_t n, locale_t c_locale, double *out)
{
    const char *dot;
    size_t neg = n > 0 && s[0] == '-';
    locale_t old;

    if (n > JL_NUM_MAX)
        return -1;
    dot = memchr(s, '.', n);
    if (dot == NULL) {
        if (!all_digits(s + neg, n - neg))
            return -1;
    } else if (!all_digits(s + neg, (size_t)(dot - s) - neg) ||
               !all_digits(dot + 1, n - (size_t)(dot + 1 - s))) {
        return -1;
    }
    old = uselocale(c_locale);
    *out = strtod(s, NULL);
    uselocale(old);
    return 0;
}

/* Parse one line (without its '\n'; line[n] is writable) into e, in place. */
static const char *
parse_line(char *line, size_t n, locale_t c_locale, struct lr_joblog_entry *e)
{
    char *f[JL_NFIELDS];
    size_t len[JL_NFIELDS];
    char *p = line, *end = line + n;
    const char *rt;
    size_t rtlen;
    int k;

    for (k = 0; k < JL_NFIELDS - 1; k++) {
        char *tab = memchr(p, '\t', (size_t)(end - p));
        if (tab == NULL)
            return "fewer than 9 TAB-separated fields";
        f[k] = p;
        len[k] = (size_t)(tab - p);
        *tab = '\0';
        p = tab + 1;
    }
    f[k] = p;
    len[k] = (size_t)(end - p);
    *end = '\0';

    if (parse_u64(f[0], len[0], &e->seq) != 0 || e->seq == 0)
        return "Seq is not an integer >= 1";
    if (len[1] == 0 || len[1] > LR_JOBLOG_HOST_MAX)
        return "Host is empty or too long";
    for (size_t i = 0; i < len[1]; i++) {
        if ((unsigned char)f[1][i] <= ' ' || f[1][i] == 0x7f)
            return "Host contains a blank or control character";
    }
    if (parse_decimal(f[2], len[2], c_locale, &e->start) != 0)
        return "Starttime is not a decimal number";
    /* JobRuntime is right-aligned by "%10.3f": leading spaces only. */
    rt = f[3];
    rtlen = len[3];
    while (rtlen > 0 && *rt == ' ') {
        rt++;
        rtlen--;
    }
    if (parse_decimal(rt, rtlen, c_locale, &e->runtime) != 0)
        return "JobRuntime is not a decimal number";
    if (parse_u64(f[4], len[4], &e->send) != 0)
        return "Send is not an integer >= 0";
    if (parse_u64(f[5], len[5], &e->receive) != 0)
        return "Receive is not an integer >= 0";
    if (parse_int(f[6], len[6], &e->exitval) != 0)
        return "Exitval is not an integer";
    if (parse_int(f[7], len[7], &e->signal) != 0 || e->signal < 0)
        return "Signal is not an integer >= 0";
    if (len[8] > LR_JOBLOG_CMD_MAX)
        return "Command is too long";
    /* NUL in Command stands for '\n' (GNU's print_joblog). */
    for (size_t i = 0; i < len[8]; i++) {
        if (f[8][i] == '\0')
            f[8][i] = '\n';
    }
    e->host = f[1];
    e->command = f[8];
    return NULL;
}

/* The reader's state: lb holds what is not yet passed on. */
struct jl_reader {
    const char *path;
    int fd;
    locale_t c_locale;
    struct lr_linebuf lb;  /* cap_max: LR_JOBLOG_LINE_MAX */
    unsigned long line_no; /* lines passed on (the header is line 1) */
    int eof;
    int saved; /* the errno lr_joblog_read returns -1 with */
    struct lr_joblog_stats s;
};

/* Say path is not a job log; returns -1. */
static int
not_a_log(struct jl_reader *r, char *err, size_t errlen)
{
    r->saved = EINVAL;
    set_err(err, errlen,
            "%s: not a job log: its first line is not GNU Parallel's joblog header "
            "(Seq<TAB>Host<TAB>...<TAB>Command)",
            r->path);
    return -1;
}

/* Make the C locale and the first buffer, open the file. 0, or -1. */
static int
reader_open(struct jl_reader *r, char *err, size_t errlen)
{
    r->c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    r->lb.buf = malloc(r->lb.cap + 1);
    if (r->c_locale == (locale_t)0 || r->lb.buf == NULL) {
        r->saved = errno ? errno : ENOMEM;
        set_err(err, errlen, "%s: out of memory", r->path);
        return -1;
    }
    r->fd = open(r->path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        r->saved = errno;
        set_err(err, errlen, "%s: cannot open the job log: %s", r->path, strerror(r->saved));
        return -1;
    }
    return 0;
}

/* Pass on the complete line that ends at nl: line 1 must be the header,
 * any other is parsed and given to cb. 0 to read on; else what
 * lr_joblog_read returns (cb's value as is, or -1). */
static int
reader_line(struct jl_reader *r, const char *nl,
            int (*cb)(const struct lr_joblog_entry *e, void *arg), void *arg, char *err,
            size_t errlen)
{
    char *line = r->lb.buf + r->lb.start;
    size_t n = (size_t)(nl - line);
    r->line_no++;
    if (r->line_no == 1) {
        if (n + 1 != JL_HEADER_LEN || memcmp(line, LR_JOBLOG_HEADER, n + 1) != 0)
            return not_a_log(r, err, errlen);
        r->s.has_header = 1;
    } else {
        struct lr_joblog_entry e = {.line = r->line_no};
        const char *why = parse_line(line, n, r->c_locale, &e);
        if (why != NULL) {
            r->saved = EINVAL;
            set_err(err, errlen, "%s:%lu: malformed job log line: %s", r->path, r->line_no, why);
            return -1;
        }
        r->s.entries++;
        if (e.seq > r->s.max_seq)
            r->s.max_seq = e.seq;
        if (cb != NULL) {
            int rc = cb(&e, arg);
            if (rc != 0) {
                r->saved = 0;
                return rc;
            }
        }
    }
    r->s.valid_bytes += n + 1;
    r->lb.start = r->lb.scan = (size_t)(nl - r->lb.buf) + 1;
    return 0;
}

/* Read more of the file after the bytes not yet passed on (moved to the
 * front; the buffer grows up to LR_JOBLOG_LINE_MAX as a line needs). Sets
 * r->eof at the end of the file. 0, or -1. */
static int
reader_fill(struct jl_reader *r, char *err, size_t errlen)
{
    /* The header's '\n' would have been found by now. */
    if (r->line_no == 0 && r->lb.end - r->lb.start >= JL_HEADER_LEN)
        return not_a_log(r, err, errlen);
    if (r->lb.end - r->lb.start >= (size_t)LR_JOBLOG_LINE_MAX) {
        r->saved = EINVAL;
        set_err(err, errlen, "%s:%lu: malformed job log line: longer than %d bytes", r->path,
                r->line_no + 1, LR_JOBLOG_LINE_MAX);
        return -1;
    }
    ssize_t got = lr_linebuf_fill(&r->lb, r->fd);
    if (got == LR_LINEBUF_NOMEM) {
        r->saved = ENOMEM;
        set_err(err, errlen, "%s: out of memory", r->path);
        return -1;
    }
    if (got < 0) {
        r->saved = errno;
        set_err(err, errlen, "%s: cannot read: %s", r->path, strerror(r->saved));
        return -1;
    }
    if (got == 0)
        r->eof = 1;
    return 0;
}

/* At the end of the file: bytes after the last '\n' are a torn line,
 * counted, not parsed (a torn header must be a prefix of the header).
 * 0, or -1. */
static int
reader_tail(struct jl_reader *r, char *err, size_t errlen)
{
    if (r->lb.end > r->lb.start) {
        if (r->line_no == 0 &&
            (r->lb.end - r->lb.start > JL_HEADER_LEN ||
             memcmp(r->lb.buf + r->lb.start, LR_JOBLOG_HEADER, r->lb.end - r->lb.start) != 0))
            return not_a_log(r, err, errlen);
        r->s.torn = 1;
        r->s.torn_bytes = r->lb.end - r->lb.start;
    }
    return 0;
}

int
lr_joblog_read(const char *path, int (*cb)(const struct lr_joblog_entry *e, void *arg), void *arg,
               struct lr_joblog_stats *st, char *err, size_t errlen)
{
    struct jl_reader r = {.path = path,
                          .fd = -1,
                          .c_locale = (locale_t)0,
                          .lb = {.cap = JL_READ_CHUNK, .cap_max = LR_JOBLOG_LINE_MAX}};
    int rc = reader_open(&r, err, errlen);
    while (rc == 0) {
        char *nl = memchr(r.lb.buf + r.lb.scan, '\n', r.lb.end - r.lb.scan);
        if (nl != NULL) {
            rc = reader_line(&r, nl, cb, arg, err, errlen);
            continue;
        }
        r.lb.scan = r.lb.end;
        if (r.eof) {
            rc = reader_tail(&r, err, errlen);
            break;
        }
        rc = reader_fill(&r, err, errlen);
    }
    if (r.fd >= 0)
        close(r.fd);
    free(r.lb.buf);
    if (r.c_locale != (locale_t)0)
        freelocale(r.c_locale);
    if (st != NULL)
        *st = r.s;
    if (rc == -1)
        errno = r.saved;
    return rc;
}
