/* SPDX-License-Identifier: MIT */
/*
 * A small, strict JSON checker for the events files (job.events, loom-run's
 * --events): each line must be exactly one JSON object of scalar values, no
 * key twice, strings valid UTF-8 with valid escapes, numbers in JSON's
 * grammar. And the schema of framework/src/formats/events.h, as key lists a test
 * checks a line against. Independent of the code under test (it has its
 * own UTF-8 decoder). Header-only: tests/unit/test_events.c and the MPI
 * tests include it.
 */
#ifndef LOOM_TESTS_JSON_LINES_H
#define LOOM_TESTS_JSON_LINES_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loom_test.h"

#define JSON_MAX_KEYS 40

struct jval {
    char key[32];
    char type;     /* 's' string, 'i' integer, 'n' number with a fraction or
                      exponent, 'b' boolean, 'z' null */
    char str[512]; /* a string, decoded (UTF-8); a number or literal as written */
};

struct jobj {
    struct jval v[JSON_MAX_KEYS];
    int n;
};

static inline void
json_put_utf8(char *out, size_t *o, size_t cap, unsigned long cp)
{
    unsigned char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (unsigned char)(0xc0 | cp >> 6);
        b[1] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (unsigned char)(0xe0 | cp >> 12);
        b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        b[0] = (unsigned char)(0xf0 | cp >> 18);
        b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
        b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        b[3] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    for (size_t i = 0; i < n && *o + 1 < cap; i++)
        out[(*o)++] = (char)b[i];
}

/* Bytes of the valid UTF-8 sequence at p (1-4), or 0 if it is not one. */
static inline size_t
json_utf8_len(const unsigned char *p)
{
    unsigned long cp, min;
    size_t n;
    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        n = 2, cp = p[0] & 0x1f, min = 0x80;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        n = 3, cp = p[0] & 0x0f, min = 0x800;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        n = 4, cp = p[0] & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0; /* also stops at the NUL */
        cp = cp << 6 | (p[i] & 0x3f);
    }
    return cp >= min && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff) ? n : 0;
}

static inline const char *
json_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

static inline int
json_hex4(const char *p, unsigned long *v)
{
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return -1;
        *v = *v * 16 + (unsigned long)d;
    }
    return 0;
}

/* A JSON string at p (at its quote): decoded into out; NULL if not valid
 * (a raw control character, a bad escape, invalid UTF-8, a lone
 * surrogate). */
static inline const char *
json_string(const char *p, char *out, size_t cap)
{
    size_t o = 0;
    if (*p++ != '"')
        return NULL;
    for (;;) {
        unsigned char c = (unsigned char)*p;
        if (c == '"')
            break;
        if (c < 0x20)
            return NULL; /* the end of the line, or a raw control char */
        if (c == '\\') {
            unsigned long cp;
            switch (p[1]) {
            case '"':
            case '\\':
            case '/':
                cp = (unsigned char)p[1];
                break;
            case 'b':
                cp = '\b';
                break;
            case 'f':
                cp = '\f';
                break;
            case 'n':
                cp = '\n';
                break;
            case 'r':
                cp = '\r';
                break;
            case 't':
                cp = '\t';
                break;
            case 'u':
                if (json_hex4(p + 2, &cp) != 0)
                    return NULL;
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    unsigned long lo;
                    if (p[6] != '\\' || p[7] != 'u' || json_hex4(p + 8, &lo) != 0 || lo < 0xdc00 ||
                        lo > 0xdfff)
                        return NULL;
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    p += 6;
                } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                    return NULL;
                }
                p += 4;
                break;
            default:
                return NULL;
            }
            json_put_utf8(out, &o, cap, cp);
            p += 2;
            continue;
        }
        size_t adv = json_utf8_len((const unsigned char *)p);
        if (!adv)
            return NULL;
        for (size_t i = 0; i < adv && o + 1 < cap; i++)
            out[o++] = p[i];
        p += adv;
    }
    out[o] = '\0';
    return p + 1;
}

/* A JSON number's grammar; *type 'i' or 'n'. */
static inline const char *
json_number(const char *p, char *type)
{
    *type = 'i';
    if (*p == '-')
        p++;
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        while (*p >= '0' && *p <= '9')
            p++;
    else
        return NULL;
    if (*p == '.') {
        *type = 'n';
        p++;
        if (!(*p >= '0' && *p <= '9'))
            return NULL;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p == 'e' || *p == 'E') {
        *type = 'n';
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return NULL;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return p;
}

/* One line: exactly one JSON object of scalar values, no duplicate key.
 * 0, or -1. */
static inline int
json_parse_line(const char *line, struct jobj *o)
{
    const char *p = json_ws(line);
    o->n = 0;
    if (*p++ != '{')
        return -1;
    p = json_ws(p);
    if (*p == '}')
        return *json_ws(p + 1) ? -1 : 0;
    for (;;) {
        if (o->n == JSON_MAX_KEYS)
            return -1;
        struct jval *v = &o->v[o->n];
        if (!(p = json_string(p, v->key, sizeof v->key)))
            return -1;
        for (int i = 0; i < o->n; i++)
            if (strcmp(o->v[i].key, v->key) == 0)
                return -1;
        p = json_ws(p);
        if (*p++ != ':')
            return -1;
        p = json_ws(p);
        v->str[0] = '\0';
        const char *at = p;
        if (*p == '"') {
            v->type = 's';
            p = json_string(p, v->str, sizeof v->str);
        } else if (!strncmp(p, "true", 4) || !strncmp(p, "null", 4)) {
            v->type = *p == 't' ? 'b' : 'z';
            p += 4;
        } else if (!strncmp(p, "false", 5)) {
            v->type = 'b';
            p += 5;
        } else {
            p = json_number(p, &v->type);
        }
        if (!p)
            return -1;
        if (v->type != 's')
            snprintf(v->str, sizeof v->str, "%.*s", (int)(p - at), at);
        o->n++;
        p = json_ws(p);
        if (*p == '}')
            return *json_ws(p + 1) ? -1 : 0;
        if (*p++ != ',')
            return -1;
        p = json_ws(p);
    }
}

static inline const struct jval *
json_get(const struct jobj *o, const char *key)
{
    for (int i = 0; i < o->n; i++)
        if (strcmp(o->v[i].key, key) == 0)
            return &o->v[i];
    return NULL;
}

/* A key's value as a number (integer or not); the key must be there. */
static inline double
json_num(const struct jobj *o, const char *key)
{
    const struct jval *v = json_get(o, key);
    cr_assert(v && (v->type == 'i' || v->type == 'n'), "no number %s", key);
    return strtod(v->str, NULL);
}

/* A key's string; the key must be there and a string. */
static inline const char *
json_str(const struct jobj *o, const char *key)
{
    const struct jval *v = json_get(o, key);
    cr_assert(v && v->type == 's', "no string %s", key);
    return v->str;
}

/* keys "name:types" (types: which of s i n b z it may be; 'n' admits an
 * integer too) all present, each of one of its types */
static inline void
json_expect_keys(const struct jobj *o, const char *line, const char *const *keys)
{
    for (; *keys; keys++) {
        char name[32];
        const char *colon = strchr(*keys, ':');
        snprintf(name, sizeof name, "%.*s", (int)(colon - *keys), *keys);
        const struct jval *v = json_get(o, name);
        cr_assert_not_null(v, "no key %s in %s", name, line);
        const char *types = colon + 1;
        int ok = strchr(types, v->type) != NULL || (v->type == 'i' && strchr(types, 'n'));
        cr_assert(ok, "key %s is of type %c, not one of %s: %s", name, v->type, types, line);
    }
}

/* The schema (framework/src/formats/events.h): keys of every line, then of each
 * event. */
static const char *const json_common_keys[] = {"event:s", "time:n", NULL};
static const char *const json_start_keys[] = {"tasks:s", "ranks:i", "threads:i", NULL};
static const char *const json_attempt_keys[] = {"seq:i",   "attempt:i", "host:s",      "rank:i",
                                                "slot:i",  "start:nz",  "end:nz",      "runtime:nz",
                                                "exit:i",  "signal:i",  "timed_out:b", "outcome:s",
                                                "cause:s", "final:b",   "cmd:s",       NULL};
static const char *const json_join_keys[] = {"rank:i", "host:s", "worker_threads:i", "threads:i",
                                             NULL};
static const char *const json_lost_keys[] = {"rank:i", "host:s", "lost:i", "threads:i", NULL};
static const char *const json_end_keys[] = {
    "status:i",   "wall:n",   "threads:i", "tasks:i",   "succeeded:i",  "failed:i", "retried:i",
    "timeouts:i", "killed:i", "not_run:i", "skipped:i", "unrecorded:i", NULL};

/* The allowed values of outcome and cause. */
static inline int
json_is_outcome(const char *s)
{
    static const char *const all[] = {"ok", "failed", "timeout", "killed", "not_run"};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (!strcmp(s, all[i]))
            return 1;
    return 0;
}

static inline int
json_is_cause(const char *s)
{
    static const char *const all[] = {"ok",     "failed",    "exit",   "signal",  "timeout",
                                      "memory", "isolation", "killed", "not_run", "lost"};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (!strcmp(s, all[i]))
            return 1;
    return 0;
}

/* Check one line against the schema: a JSON object, the common keys, the
 * keys of its event (an unknown event fails), outcome and cause values.
 * Fills o; returns the event's name (in o). */
static inline const char *
json_check_event(const char *line, struct jobj *o)
{
    cr_assert_eq(json_parse_line(line, o), 0, "not one JSON object: %s", line);
    json_expect_keys(o, line, json_common_keys);
    const char *ev = json_get(o, "event")->str;
    if (!strcmp(ev, "run_start")) {
        json_expect_keys(o, line, json_start_keys);
    } else if (!strcmp(ev, "attempt")) {
        json_expect_keys(o, line, json_attempt_keys);
        cr_assert(json_is_outcome(json_str(o, "outcome")), "outcome: %s", line);
        cr_assert(json_is_cause(json_str(o, "cause")), "cause: %s", line);
        int not_run = !strcmp(json_str(o, "outcome"), "not_run");
        cr_assert_eq(json_get(o, "start")->type == 'z', not_run, "start null iff not_run: %s",
                     line);
    } else if (!strcmp(ev, "worker_join")) {
        json_expect_keys(o, line, json_join_keys);
    } else if (!strcmp(ev, "worker_lost")) {
        json_expect_keys(o, line, json_lost_keys);
    } else if (!strcmp(ev, "run_end")) {
        json_expect_keys(o, line, json_end_keys);
    } else {
        cr_assert_fail("unknown event %s: %s", ev, line);
    }
    return ev;
}

#endif /* LOOM_TESTS_JSON_LINES_H */
