/* SPDX-License-Identifier: MIT */
/* The events file, JSON lines: docs/events.md has the schema, recorder.c
 * (who writes them, when). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "events.h"
#include "io_internal.h"

/* Lines are gathered whole in buf and written with write(2) by e_write:
 * when the disk fills (or the file-size limit is reached) in the middle of
 * a batch, the file is cut back to its last whole line, so it never ends
 * in half a line. */
struct loom__events {
    FILE *fp;
    int own;    /* opened here: closed by loom__events_close */
    int fd;     /* own: fp's descriptor, written directly; -1: fwrite to fp */
    off_t off;  /* fd's offset after the last whole line written; -1: not seekable */
    int failed; /* a write failed (errno in err): nothing more is written */
    int err;
    char *buf; /* whole lines not written yet, then the line being built */
    size_t len, cap;
};

/* Bytes gathered before e_write sends them without waiting for a flush. */
enum { EV_BATCH = 1 << 20 };

const char *
loom_outcome_name(loom_outcome o)
{
    switch (o) {
    case LOOM_OUTCOME_OK:
        return "ok";
    case LOOM_OUTCOME_FAILED:
        return "failed";
    case LOOM_OUTCOME_TIMEOUT:
        return "timeout";
    case LOOM_OUTCOME_KILLED:
        return "killed";
    case LOOM_OUTCOME_NOT_RUN:
        return "not_run";
    }
    return "unknown";
}

const char *const loom__cause_words[LOOM__CW_COUNT] = {"ok",      "failed", "exit",      "signal",
                                                       "timeout", "memory", "isolation", "killed",
                                                       "not_run", "lost"};

enum loom__cause_word
loom__attempt_cause_word(const loom_attempt *a)
{
    switch (a->outcome) {
    case LOOM_OUTCOME_OK:
        return LOOM__CW_OK;
    case LOOM_OUTCOME_TIMEOUT:
        return LOOM__CW_TIMEOUT;
    case LOOM_OUTCOME_KILLED:
        return LOOM__CW_KILLED;
    case LOOM_OUTCOME_NOT_RUN:
        return a->cause == LOOM_CAUSE_LOST ? LOOM__CW_LOST : LOOM__CW_NOT_RUN;
    case LOOM_OUTCOME_FAILED:
        break;
    }
    switch (a->cause) {
    case LOOM_CAUSE_FAILED:
        return LOOM__CW_FAILED;
    case LOOM_CAUSE_SIGNAL:
        return LOOM__CW_SIGNAL;
    case LOOM_CAUSE_EXIT:
        return LOOM__CW_EXIT;
    case LOOM_CAUSE_MEMORY:
        return LOOM__CW_MEMORY;
    case LOOM_CAUSE_ISOLATION:
        return LOOM__CW_ISOLATION;
    case LOOM_CAUSE_TIMEOUT:
        return LOOM__CW_TIMEOUT;
    case LOOM_CAUSE_LOST:
        return LOOM__CW_LOST;
    case LOOM_CAUSE_OK:
        break;
    }
    return a->signal ? LOOM__CW_SIGNAL : LOOM__CW_EXIT; /* a command, from its numbers */
}

const char *
loom__attempt_cause(const loom_attempt *a)
{
    return loom__cause_words[loom__attempt_cause_word(a)];
}

long
loom__utf8_next(const unsigned char *s, size_t n, size_t *adv)
{
    unsigned char c = s[0];
    *adv = 1;
    if (c < 0x80)
        return c;
    size_t len;
    long cp, min;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
        min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
        min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
        min = 0x10000;
    } else {
        return -1; /* a continuation byte, 0xc0/0xc1 or 0xf5.. */
    }
    if (len > n)
        return -1;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return -1;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return -1;
    *adv = len;
    return cp;
}

/* ---- a line, built in memory and written with one fwrite --------------------------- */

struct line {
    FILE *fp;        /* loom__json_string: straight to a stream */
    loom__events *e; /* an event: to e->buf */
    size_t n;
    char buf[1024];
};

static void e_append(loom__events *e, const char *s, size_t n);

static void
l_flush(struct line *l)
{
    if (l->n && l->e)
        e_append(l->e, l->buf, l->n);
    else if (l->n)
        fwrite(l->buf, 1, l->n, l->fp);
    l->n = 0;
}

/* Make room for need bytes (need <= sizeof buf). */
static inline void
l_room(struct line *l, size_t need)
{
    if (l->n + need > sizeof l->buf)
        l_flush(l);
}

static inline void
l_put(struct line *l, const char *s, size_t n)
{
    l_room(l, n);
    memcpy(l->buf + l->n, s, n);
    l->n += n;
}

#define L_LIT(l, lit) l_put((l), (lit), sizeof(lit) - 1)

/* "00" "01" ... "99": two digits a division */
static const char digits2[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233"
    "34353637383940414243444546474849505152535455565758596061626364656667"
    "6869707172737475767778798081828384858687888990919293949596979899";

/* v's digits, right-aligned to end; returns where they start */
static char *
u64_digits(char *end, uint64_t v)
{
    while (v >= 100) {
        end -= 2;
        memcpy(end, digits2 + 2 * (v % 100), 2);
        v /= 100;
    }
    if (v >= 10) {
        end -= 2;
        memcpy(end, digits2 + 2 * v, 2);
    } else {
        *--end = (char)('0' + v);
    }
    return end;
}

static void
l_u64(struct line *l, uint64_t v)
{
    char tmp[24], *p = u64_digits(tmp + sizeof tmp, v);
    l_put(l, p, (size_t)(tmp + sizeof tmp - p));
}

static void
l_i64(struct line *l, int64_t v)
{
    if (v < 0) {
        L_LIT(l, "-");
        l_u64(l, (uint64_t)0 - (uint64_t)v);
    } else {
        l_u64(l, (uint64_t)v);
    }
}

/* ns as seconds with `digits` (6 or 9) decimals, exactly, from integers:
 * faster than printf with a double, and never NaN. */
static void
l_secs(struct line *l, int64_t ns, int digits)
{
    uint64_t a = ns < 0 ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns;
    if (ns < 0)
        L_LIT(l, "-");
    /* whole seconds, '.', then 9 fraction digits of which `digits` are kept */
    char tmp[32], *end = tmp + 21, *p = u64_digits(end, a / 1000000000u);
    uint64_t frac = a % 1000000000u;
    *end = '.';
    for (int i = 9; i > 1; i -= 2) {
        memcpy(end + i - 1, digits2 + 2 * (frac % 100), 2);
        frac /= 100;
    }
    end[1] = (char)('0' + frac);
    l_put(l, p, (size_t)(end + 1 + digits - p));
}

/* n bytes as a JSON string, quotes included (see events.h). */
static void
l_str(struct line *l, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    L_LIT(l, "\"");
    for (size_t i = 0; i < n;) {
        /* the common case: a run of printable ASCII without " and \ */
        size_t j = i;
        while (j < n && p[j] >= 0x20 && p[j] < 0x80 && p[j] != '"' && p[j] != '\\')
            j++;
        while (i < j) {
            size_t k = j - i < sizeof l->buf ? j - i : sizeof l->buf;
            l_put(l, s + i, k);
            i += k;
        }
        if (i == n)
            break;
        size_t adv;
        long cp = loom__utf8_next(p + i, n - i, &adv);
        if (cp < 0)
            L_LIT(l, "\\ufffd");
        else if (cp == '"')
            L_LIT(l, "\\\"");
        else if (cp == '\\')
            L_LIT(l, "\\\\");
        else if (cp == '\n')
            L_LIT(l, "\\n");
        else if (cp == '\r')
            L_LIT(l, "\\r");
        else if (cp == '\t')
            L_LIT(l, "\\t");
        else if (cp == '\b')
            L_LIT(l, "\\b");
        else if (cp == '\f')
            L_LIT(l, "\\f");
        else if (cp < 0x20) {
            char u[8];
            snprintf(u, sizeof u, "\\u%04lx", cp);
            l_put(l, u, 6);
        } else {
            l_put(l, s + i, adv);
        }
        i += adv;
    }
    L_LIT(l, "\"");
}

void
loom__json_string(FILE *fp, const char *s, size_t n)
{
    struct line l = {.fp = fp, .e = NULL};
    l_str(&l, s, n);
    l_flush(&l);
}

int
loom__events_open(const char *path, const char *name, loom__events **out, char *err, size_t errlen)
{
    *out = NULL;
    loom__events *e = calloc(1, sizeof *e);
    if (!e) {
        snprintf(err, errlen, "%s %s: out of memory", name, path);
        return -1;
    }
    if (!(e->fp = loom__fopen_output(path))) {
        snprintf(err, errlen, "%s %s: cannot write it: %s", name, path, strerror(errno));
        free(e);
        return -1;
    }
    /* lines go out in batches (loom__events_flush), not one write each,
     * from e->buf: fp's own buffer is never used */
    e->own = 1;
    e->fd = fileno(e->fp);
    e->off = lseek(e->fd, 0, SEEK_CUR);
    *out = e;
    return 0;
}

loom__events *
loom__events_from(FILE *fp)
{
    loom__events *e = calloc(1, sizeof *e);
    if (e) {
        e->fp = fp;
        e->fd = -1;
        e->off = -1;
    }
    return e;
}

static void
e_fail(loom__events *e, int err)
{
    e->failed = 1;
    e->err = err ? err : EIO;
    e->len = 0;
}

/* Add n bytes to the batch (nothing once a write failed). */
static void
e_append(loom__events *e, const char *s, size_t n)
{
    if (e->failed)
        return;
    if (e->len + n > e->cap) {
        size_t cap = e->cap ? e->cap : 4096;
        while (cap < e->len + n)
            cap *= 2;
        char *b = realloc(e->buf, cap);
        if (!b) {
            e_fail(e, ENOMEM);
            return;
        }
        e->buf = b;
        e->cap = cap;
    }
    memcpy(e->buf + e->len, s, n);
    e->len += n;
}

/* Write the batch (whole lines). A write that stops part way (a full
 * disk: ENOSPC; RLIMIT_FSIZE: EFBIG) leaves the file cut back to the last
 * whole line that went out; then nothing more is written. 0, or -1. */
static int
e_write(loom__events *e)
{
    if (e->failed)
        return -1;
    if (e->fd < 0) {
        if (e->len && fwrite(e->buf, 1, e->len, e->fp) != e->len)
            e_fail(e, errno);
        e->len = 0;
        return e->failed ? -1 : 0;
    }
    size_t done = 0;
    int err = 0;
    while (done < e->len) {
        ssize_t w = write(e->fd, e->buf + done, e->len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            err = w < 0 ? errno : EIO;
            break;
        }
        done += (size_t)w;
    }
    if (done == e->len) {
        e->off = e->off >= 0 ? e->off + (off_t)done : -1;
        e->len = 0;
        return 0;
    }
    size_t keep = done;
    while (keep > 0 && e->buf[keep - 1] != '\n')
        keep--;
    /* best effort: a pipe or a device cannot be cut (and needs not be) */
    if (keep < done && e->off >= 0 && ftruncate(e->fd, e->off + (off_t)keep) != 0)
        err = err ? err : errno;
    e_fail(e, err);
    return -1;
}

/* {"event":"<event>","time":<time> */
static void
begin(struct line *l, loom__events *e, const char *event, int64_t time_ns)
{
    l->fp = NULL;
    l->e = e;
    l->n = 0;
    L_LIT(l, "{\"event\":\"");
    l_put(l, event, strlen(event));
    L_LIT(l, "\",\"time\":");
    l_secs(l, time_ns, 6);
}

static void
end(struct line *l)
{
    L_LIT(l, "}\n");
    l_flush(l);
    if (l->e->len >= EV_BATCH)
        (void)e_write(l->e); /* a failure is told by the next flush */
}

/* ,"k": for a literal key */
#define key(l, k) L_LIT((l), ",\"" k "\":")
#define key_i64(l, k, v)                                                                           \
    do {                                                                                           \
        key(l, k);                                                                                 \
        l_i64((l), (v));                                                                           \
    } while (0)
#define key_bool(l, k, v)                                                                          \
    do {                                                                                           \
        key(l, k);                                                                                 \
        if (v)                                                                                     \
            L_LIT((l), "true");                                                                    \
        else                                                                                       \
            L_LIT((l), "false");                                                                   \
    } while (0)
#define key_str(l, k, s)                                                                           \
    do {                                                                                           \
        const char *s_ = (s);                                                                      \
        key(l, k);                                                                                 \
        l_str((l), s_ ? s_ : "", s_ ? strlen(s_) : 0);                                             \
    } while (0)

void
loom__events_run_start(loom__events *e, int64_t time_ns, const char *tasks, int ranks,
                       unsigned threads)
{
    struct line l;
    begin(&l, e, "run_start", time_ns);
    key_str(&l, "tasks", tasks);
    key_i64(&l, "ranks", ranks);
    key_i64(&l, "threads", threads);
    end(&l);
}

void
loom__events_attempt(loom__events *e, int64_t time_ns, const loom_attempt *a)
{
    struct line l;
    begin(&l, e, "attempt", time_ns);
    key(&l, "seq");
    l_u64(&l, a->seq);
    key_i64(&l, "attempt", a->attempt);
    key_str(&l, "host", a->host);
    key_i64(&l, "rank", a->rank);
    key_i64(&l, "slot", a->slot);
    if (a->outcome == LOOM_OUTCOME_NOT_RUN) {
        L_LIT(&l, ",\"start\":null,\"end\":null,\"runtime\":null");
    } else {
        int64_t run = a->run_ns > 0 ? a->run_ns : 0;
        key(&l, "start");
        l_secs(&l, a->start_ns, 6);
        key(&l, "end");
        l_secs(&l, a->start_ns + run, 6);
        key(&l, "runtime"); /* to the ns: tiny tasks run for less than a microsecond */
        l_secs(&l, run, 9);
    }
    key_i64(&l, "exit", a->exit);
    key_i64(&l, "signal", a->signal);
    key_bool(&l, "timed_out", a->timed_out);
    key_str(&l, "outcome", loom_outcome_name(a->outcome));
    key_str(&l, "cause", loom__attempt_cause(a));
    key_bool(&l, "final", a->final);
    key(&l, "cmd");
    l_str(&l, a->label ? a->label : "", a->label ? a->label_len : 0);
    end(&l);
}

void
loom__events_worker_join(loom__events *e, int64_t time_ns, int rank, const char *host,
                         unsigned worker_threads, unsigned threads)
{
    struct line l;
    begin(&l, e, "worker_join", time_ns);
    key_i64(&l, "rank", rank);
    key_str(&l, "host", host);
    key_i64(&l, "worker_threads", worker_threads);
    key_i64(&l, "threads", threads);
    end(&l);
}

void
loom__events_worker_lost(loom__events *e, int64_t time_ns, int rank, const char *host, int lost,
                         unsigned threads)
{
    struct line l;
    begin(&l, e, "worker_lost", time_ns);
    key_i64(&l, "rank", rank);
    key_str(&l, "host", host);
    key_i64(&l, "lost", lost);
    key_i64(&l, "threads", threads);
    end(&l);
}

void
loom__events_run_end(loom__events *e, int64_t time_ns, const struct loom__run_end *r)
{
    const loom_run_summary *s = &r->s;
    struct line l;
    begin(&l, e, "run_end", time_ns);
    key_i64(&l, "status", s->status);
    key(&l, "wall");
    l_secs(&l, r->wall_ns, 6);
    key_i64(&l, "threads", r->threads);
    static const char *const names[] = {"tasks",  "succeeded", "failed",  "retried",   "timeouts",
                                        "killed", "not_run",   "skipped", "unrecorded"};
    const uint64_t v[] = {s->tasks,  s->succeeded, s->failed,  s->retried,   s->timeouts,
                          s->killed, s->not_run,   s->skipped, s->unrecorded};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        L_LIT(&l, ",\"");
        l_put(&l, names[i], strlen(names[i]));
        L_LIT(&l, "\":");
        l_u64(&l, v[i]);
    }
    end(&l);
}

int
loom__events_flush(loom__events *e)
{
    if (e_write(e) == 0 && fflush(e->fp) == 0 && !ferror(e->fp))
        return 0;
    if (!e->failed)
        e_fail(e, errno);
    errno = e->err;
    return -1;
}

int
loom__events_close(loom__events *e)
{
    if (!e)
        return 0;
    int rc = loom__events_flush(e);
    int saved = errno;
    if (e->own && fclose(e->fp) != 0 && rc == 0) {
        rc = -1;
        saved = errno;
    }
    free(e->buf);
    free(e);
    errno = saved;
    return rc;
}
