/* SPDX-License-Identifier: MIT */
/* The events file, JSON lines: see events.h (the schema) and recorder.c
 * (who writes them, when). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "events.h"

struct loom__events {
    FILE *fp;
    int own; /* opened here: closed by loom__events_close */
};

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

const char *
loom__attempt_cause(const loom_attempt *a)
{
    switch (a->outcome) {
    case LOOM_OUTCOME_OK:
        return "ok";
    case LOOM_OUTCOME_TIMEOUT:
        return "timeout";
    case LOOM_OUTCOME_KILLED:
        return "killed";
    case LOOM_OUTCOME_NOT_RUN:
        return a->cause == LOOM_CAUSE_LOST ? "lost" : "not_run";
    case LOOM_OUTCOME_FAILED:
        break;
    }
    switch (a->cause) {
    case LOOM_CAUSE_FAILED:
    case LOOM_CAUSE_SIGNAL:
    case LOOM_CAUSE_EXIT:
    case LOOM_CAUSE_MEMORY:
    case LOOM_CAUSE_ISOLATION:
        return loom_cause_name(a->cause);
    case LOOM_CAUSE_TIMEOUT:
        return "timeout";
    case LOOM_CAUSE_LOST:
        return "lost";
    case LOOM_CAUSE_OK:
        break;
    }
    return a->signal ? "signal" : "exit"; /* a command, from its numbers */
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

void
loom__json_string(FILE *fp, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    fputc('"', fp);
    for (size_t i = 0; i < n;) {
        size_t adv;
        long cp = loom__utf8_next(p + i, n - i, &adv);
        if (cp < 0)
            fputs("\\ufffd", fp);
        else if (cp == '"')
            fputs("\\\"", fp);
        else if (cp == '\\')
            fputs("\\\\", fp);
        else if (cp == '\n')
            fputs("\\n", fp);
        else if (cp == '\r')
            fputs("\\r", fp);
        else if (cp == '\t')
            fputs("\\t", fp);
        else if (cp == '\b')
            fputs("\\b", fp);
        else if (cp == '\f')
            fputs("\\f", fp);
        else if (cp < 0x20)
            fprintf(fp, "\\u%04lx", cp);
        else
            fwrite(p + i, 1, adv, fp);
        i += adv;
    }
    fputc('"', fp);
}

/* A finite number ("%.6f"); NaN and infinities would not be JSON. */
static void
num(FILE *fp, const char *key, double v)
{
    fprintf(fp, ",\"%s\":%.6f", key, isfinite(v) ? v : 0.0);
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
    /* 0664 & ~umask: the user's umask, never world-writable */
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0664);
    if (fd < 0 || !(e->fp = fdopen(fd, "w"))) {
        snprintf(err, errlen, "%s %s: cannot write it: %s", name, path, strerror(errno));
        if (fd >= 0)
            close(fd);
        free(e);
        return -1;
    }
    /* lines go out in batches (loom__events_flush), not one write each */
    setvbuf(e->fp, NULL, _IOFBF, (size_t)1 << 20);
    e->own = 1;
    *out = e;
    return 0;
}

loom__events *
loom__events_from(FILE *fp)
{
    loom__events *e = calloc(1, sizeof *e);
    if (e)
        e->fp = fp;
    return e;
}

static void
begin(loom__events *e, const char *event, double time)
{
    fprintf(e->fp, "{\"event\":\"%s\"", event);
    num(e->fp, "time", time);
}

static void
end(loom__events *e)
{
    fputs("}\n", e->fp);
}

static void
str(FILE *fp, const char *key, const char *s)
{
    fprintf(fp, ",\"%s\":", key);
    loom__json_string(fp, s ? s : "", s ? strlen(s) : 0);
}

void
loom__events_run_start(loom__events *e, double time, const char *tasks, int ranks, unsigned threads)
{
    begin(e, "run_start", time);
    str(e->fp, "tasks", tasks);
    fprintf(e->fp, ",\"ranks\":%d,\"threads\":%u", ranks, threads);
    end(e);
}

void
loom__events_attempt(loom__events *e, double time, const loom_attempt *a)
{
    FILE *fp = e->fp;
    begin(e, "attempt", time);
    fprintf(fp, ",\"seq\":%llu,\"attempt\":%u", (unsigned long long)a->seq, a->attempt);
    str(fp, "host", a->host);
    fprintf(fp, ",\"rank\":%d,\"slot\":%d", a->rank, a->slot);
    if (a->outcome == LOOM_OUTCOME_NOT_RUN) {
        fputs(",\"start\":null,\"end\":null,\"runtime\":null", fp);
    } else {
        double start = (double)a->start_ns / 1e9, run = (double)a->run_ns / 1e9;
        num(fp, "start", start);
        num(fp, "end", start + run);
        num(fp, "runtime", run);
    }
    fprintf(fp,
            ",\"exit\":%d,\"signal\":%d,\"timed_out\":%s,\"outcome\":\"%s\",\"cause\":\"%s\","
            "\"final\":%s",
            a->exit, a->signal, a->timed_out ? "true" : "false", loom_outcome_name(a->outcome),
            loom__attempt_cause(a), a->final ? "true" : "false");
    fputs(",\"cmd\":", fp);
    loom__json_string(fp, a->label ? a->label : "", a->label ? a->label_len : 0);
    end(e);
}

void
loom__events_worker_join(loom__events *e, double time, int rank, const char *host,
                         unsigned worker_threads, unsigned threads)
{
    begin(e, "worker_join", time);
    fprintf(e->fp, ",\"rank\":%d", rank);
    str(e->fp, "host", host);
    fprintf(e->fp, ",\"worker_threads\":%u,\"threads\":%u", worker_threads, threads);
    end(e);
}

void
loom__events_worker_lost(loom__events *e, double time, int rank, const char *host, int lost,
                         unsigned threads)
{
    begin(e, "worker_lost", time);
    fprintf(e->fp, ",\"rank\":%d", rank);
    str(e->fp, "host", host);
    fprintf(e->fp, ",\"lost\":%d,\"threads\":%u", lost, threads);
    end(e);
}

void
loom__events_run_end(loom__events *e, double time, const struct loom__run_end *r)
{
    const loom_run_summary *s = &r->s;
    begin(e, "run_end", time);
    fprintf(e->fp, ",\"status\":%d", s->status);
    num(e->fp, "wall", r->wall);
    fprintf(e->fp, ",\"threads\":%u", r->threads);
    fprintf(e->fp,
            ",\"tasks\":%llu,\"succeeded\":%llu,\"failed\":%llu,\"retried\":%llu,"
            "\"timeouts\":%llu,\"killed\":%llu,\"not_run\":%llu,\"skipped\":%llu,"
            "\"unrecorded\":%llu",
            (unsigned long long)s->tasks, (unsigned long long)s->succeeded,
            (unsigned long long)s->failed, (unsigned long long)s->retried,
            (unsigned long long)s->timeouts, (unsigned long long)s->killed,
            (unsigned long long)s->not_run, (unsigned long long)s->skipped,
            (unsigned long long)s->unrecorded);
    end(e);
}

int
loom__events_flush(loom__events *e)
{
    return fflush(e->fp) == 0 && !ferror(e->fp) ? 0 : -1;
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
    free(e);
    errno = saved;
    return rc;
}
