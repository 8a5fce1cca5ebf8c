/* SPDX-License-Identifier: MIT */
/* --events FILE: see events.h. */
#include "events.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct lr_events {
    FILE *fp;
    int own; /* opened here: closed by lr_events_close */
};

const char *
lr_outcome_name(enum lr_outcome o)
{
    switch (o) {
    case LR_OUT_OK:
        return "ok";
    case LR_OUT_FAILED:
        return "failed";
    case LR_OUT_TIMEOUT:
        return "timeout";
    case LR_OUT_KILLED:
        return "killed";
    case LR_OUT_NOT_RUN:
        return "not_run";
    }
    return "failed";
}

long
lr_utf8_next(const unsigned char *s, size_t n, size_t *adv)
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
lr_json_string(FILE *fp, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    fputc('"', fp);
    for (size_t i = 0; i < n;) {
        size_t adv;
        long cp = lr_utf8_next(p + i, n - i, &adv);
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
lr_events_open(const char *path, lr_events **out, char *err, size_t errlen)
{
    *out = NULL;
    lr_events *e = calloc(1, sizeof *e);
    if (!e) {
        snprintf(err, errlen, "--events %s: out of memory", path);
        return -1;
    }
    e->fp = fopen(path, "we");
    if (!e->fp) {
        snprintf(err, errlen, "--events %s: cannot write it: %s", path, strerror(errno));
        free(e);
        return -1;
    }
    e->own = 1;
    *out = e;
    return 0;
}

lr_events *
lr_events_from(FILE *fp)
{
    lr_events *e = calloc(1, sizeof *e);
    if (e)
        e->fp = fp;
    return e;
}

/* Each line is flushed: a run killed mid-way leaves whole lines. */
static void
begin(lr_events *e, const char *event, double time)
{
    fprintf(e->fp, "{\"event\":\"%s\"", event);
    num(e->fp, "time", time);
}

static void
end(lr_events *e)
{
    fputs("}\n", e->fp);
    fflush(e->fp);
}

void
lr_events_run_start(lr_events *e, double time, const char *tasks, int ranks, unsigned threads)
{
    if (!e)
        return;
    begin(e, "run_start", time);
    fputs(",\"tasks\":", e->fp);
    lr_json_string(e->fp, tasks, strlen(tasks));
    fprintf(e->fp, ",\"ranks\":%d,\"threads\":%u", ranks, threads);
    end(e);
}

void
lr_events_attempt(lr_events *e, double time, const struct lr_attempt *a)
{
    if (!e)
        return;
    FILE *fp = e->fp;
    begin(e, "attempt", time);
    fprintf(fp, ",\"seq\":%llu,\"attempt\":%u,\"host\":", (unsigned long long)a->seq, a->attempt);
    lr_json_string(fp, a->host ? a->host : "", a->host ? strlen(a->host) : 0);
    fprintf(fp, ",\"rank\":%d,\"slot\":%d", a->rank, a->slot);
    if (a->outcome == LR_OUT_NOT_RUN) {
        fputs(",\"start\":null,\"end\":null,\"runtime\":null", fp);
    } else {
        num(fp, "start", a->start);
        num(fp, "end", a->start + a->runtime);
        num(fp, "runtime", a->runtime);
    }
    fprintf(fp, ",\"exit\":%d,\"signal\":%d,\"timed_out\":%s,\"outcome\":\"%s\",\"final\":%s",
            a->exitval, a->signal, a->timed_out ? "true" : "false", lr_outcome_name(a->outcome),
            a->final ? "true" : "false");
    fputs(",\"cmd\":", fp);
    lr_json_string(fp, a->cmd ? a->cmd : "", a->cmd ? a->cmd_len : 0);
    end(e);
}

void
lr_events_worker_join(lr_events *e, double time, unsigned threads)
{
    if (!e)
        return;
    begin(e, "worker_join", time);
    fprintf(e->fp, ",\"threads\":%u", threads);
    end(e);
}

void
lr_events_worker_lost(lr_events *e, double time, int lost)
{
    if (!e)
        return;
    begin(e, "worker_lost", time);
    fprintf(e->fp, ",\"lost\":%d", lost);
    end(e);
}

void
lr_events_run_end(lr_events *e, double time, const struct lr_run_end *s)
{
    if (!e)
        return;
    begin(e, "run_end", time);
    fprintf(e->fp, ",\"status\":%d", s->status);
    num(e->fp, "wall", s->wall);
    fprintf(e->fp, ",\"threads\":%u", s->threads);
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
lr_events_close(lr_events *e)
{
    if (!e)
        return 0;
    int rc = fflush(e->fp) == 0 && !ferror(e->fp) ? 0 : -1;
    int saved = errno;
    if (e->own && fclose(e->fp) != 0 && rc == 0) {
        rc = -1;
        saved = errno;
    }
    free(e);
    errno = saved;
    return rc;
}
