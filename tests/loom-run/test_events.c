/* SPDX-License-Identifier: MIT */
/* --events: JSON string escaping of any bytes, and every line written is
 * one strict JSON object with the keys and types events.h documents. */
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "loom_test.h"

/* ---- a tiny strict JSON checker: one object of scalar values a line ---- */

#define MAX_KEYS 40

struct jval {
    char key[32];
    char type;     /* 's' string, 'i' integer, 'n' number with a fraction or
                      exponent, 'b' boolean, 'z' null */
    char str[512]; /* a string, decoded (UTF-8) */
};

struct jobj {
    struct jval v[MAX_KEYS];
    int n;
};

static void
put_utf8(char *out, size_t *o, size_t cap, unsigned long cp)
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

static const char *
ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

static int
hex4(const char *p, unsigned long *v)
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
static const char *
jstring(const char *p, char *out, size_t cap)
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
                if (hex4(p + 2, &cp) != 0)
                    return NULL;
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    unsigned long lo;
                    if (p[6] != '\\' || p[7] != 'u' || hex4(p + 8, &lo) != 0 || lo < 0xdc00 ||
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
            put_utf8(out, &o, cap, cp);
            p += 2;
            continue;
        }
        size_t adv;
        if (lr_utf8_next((const unsigned char *)p, strlen(p), &adv) < 0)
            return NULL;
        for (size_t i = 0; i < adv && o + 1 < cap; i++)
            out[o++] = p[i];
        p += adv;
    }
    out[o] = '\0';
    return p + 1;
}

/* A JSON number's grammar; *type 'i' or 'n'. */
static const char *
jnumber(const char *p, char *type)
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
static int
parse_line(const char *line, struct jobj *o)
{
    const char *p = ws(line);
    o->n = 0;
    if (*p++ != '{')
        return -1;
    p = ws(p);
    if (*p == '}')
        return *ws(p + 1) ? -1 : 0;
    for (;;) {
        if (o->n == MAX_KEYS)
            return -1;
        struct jval *v = &o->v[o->n];
        if (!(p = jstring(p, v->key, sizeof v->key)))
            return -1;
        for (int i = 0; i < o->n; i++)
            if (strcmp(o->v[i].key, v->key) == 0)
                return -1;
        p = ws(p);
        if (*p++ != ':')
            return -1;
        p = ws(p);
        v->str[0] = '\0';
        if (*p == '"') {
            v->type = 's';
            p = jstring(p, v->str, sizeof v->str);
        } else if (!strncmp(p, "true", 4) || !strncmp(p, "null", 4)) {
            v->type = *p == 't' ? 'b' : 'z';
            p += 4;
        } else if (!strncmp(p, "false", 5)) {
            v->type = 'b';
            p += 5;
        } else {
            p = jnumber(p, &v->type);
        }
        if (!p)
            return -1;
        o->n++;
        p = ws(p);
        if (*p == '}')
            return *ws(p + 1) ? -1 : 0;
        if (*p++ != ',')
            return -1;
        p = ws(p);
    }
}

static const struct jval *
get(const struct jobj *o, const char *key)
{
    for (int i = 0; i < o->n; i++)
        if (strcmp(o->v[i].key, key) == 0)
            return &o->v[i];
    return NULL;
}

/* keys "name:types" (types: which of s i n b z it may be; 'n' admits an
 * integer too) all present, each of one of its types */
static void
expect_keys(const struct jobj *o, const char *line, const char *const *keys)
{
    for (; *keys; keys++) {
        char name[32];
        const char *colon = strchr(*keys, ':');
        snprintf(name, sizeof name, "%.*s", (int)(colon - *keys), *keys);
        const struct jval *v = get(o, name);
        cr_assert_not_null(v, "no key %s in %s", name, line);
        const char *types = colon + 1;
        int ok = strchr(types, v->type) != NULL || (v->type == 'i' && strchr(types, 'n'));
        cr_assert(ok, "key %s is of type %c, not one of %s: %s", name, v->type, types, line);
    }
}

/* ---- the tests ---------------------------------------------------------------- */

static char *
json_of(const char *s, size_t n)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    lr_json_string(f, s, n);
    fclose(f);
    return text;
}

Test(events, nasty_strings_are_escaped)
{
    static const char in[] = "a\"b\\c/\n\r\t\b\f\x01\x1f\x7f"
                             "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80" /* é € an emoji */
                             "|\xff|\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80|\xe2\x82";
    char *j = json_of(in, sizeof in - 1);
    cr_assert_str_eq(j, "\"a\\\"b\\\\c/\\n\\r\\t\\b\\f\\u0001\\u001f\x7f"
                        "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
                        "|\\ufffd|\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd|"
                        "\\ufffd\\ufffd\\ufffd\\ufffd|\\ufffd\\ufffd\"");
    /* and it is a JSON string that decodes to the valid parts */
    char decoded[256];
    cr_assert_not_null(jstring(j, decoded, sizeof decoded));
    cr_assert_eq(strncmp(decoded, "a\"b\\c/\n\r\t\b\f\x01\x1f\x7f\xc3\xa9", 16), 0);
    free(j);
    /* a NUL inside the bytes, and nothing at all */
    j = json_of("x\0y", 3);
    cr_assert_str_eq(j, "\"x\\u0000y\"");
    free(j);
    j = json_of("", 0);
    cr_assert_str_eq(j, "\"\"");
    free(j);
}

Test(events, utf8_decoder_rejects_what_is_not_utf8)
{
    size_t adv;
    cr_assert_eq(lr_utf8_next((const unsigned char *)"\xe2\x82\xac", 3, &adv), 0x20ac);
    cr_assert_eq(adv, 3);
    cr_assert_eq(lr_utf8_next((const unsigned char *)"\xe0\x80\x80", 3, &adv), -1); /* long */
    cr_assert_eq(adv, 1);
    cr_assert_eq(lr_utf8_next((const unsigned char *)"\xed\xbf\xbf", 3, &adv), -1); /* surrogate */
    cr_assert_eq(lr_utf8_next((const unsigned char *)"\xf4\x8f\xbf\xbf", 4, &adv), 0x10ffff);
    cr_assert_eq(lr_utf8_next((const unsigned char *)"\xf0\x9f\x98", 3, &adv), -1); /* cut */
    cr_assert_eq(lr_utf8_next((const unsigned char *)"\x80", 1, &adv), -1);
}

Test(events, the_checker_refuses_what_is_not_json)
{
    struct jobj o;
    cr_assert_eq(parse_line("{\"a\":1,\"b\":\"x\",\"c\":true,\"d\":null,\"e\":-0.5e3}", &o), 0);
    cr_assert_eq(o.n, 5);
    static const char *const bad[] = {"{\"a\":1,}",        "{\"a\":01}",         "{\"a\":nan}",
                                      "{\"a\":1}{}",       "{\"a\":\"\x01\"}",   "{\"a\":\"\\x\"}",
                                      "{\"a\":1,\"a\":2}", "{\"a\":\"\xff\"}",   "[1]",
                                      "{\"a\":.5}",        "{\"a\":\"\\ud800\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_neq(parse_line(bad[i], &o), 0, "accepted %s", bad[i]);
}

static const char *const common_keys[] = {"event:s", "time:n", NULL};
static const char *const start_keys[] = {"tasks:s", "ranks:i", "threads:i", NULL};
static const char *const attempt_keys[] = {"seq:i",   "attempt:i", "host:s",      "rank:i",
                                           "slot:i",  "start:nz",  "end:nz",      "runtime:nz",
                                           "exit:i",  "signal:i",  "timed_out:b", "outcome:s",
                                           "final:b", "cmd:s",     NULL};
static const char *const join_keys[] = {"threads:i", NULL};
static const char *const lost_keys[] = {"lost:i", NULL};
static const char *const end_keys[] = {
    "status:i",   "wall:n",   "threads:i", "tasks:i",   "succeeded:i",  "failed:i", "retried:i",
    "timeouts:i", "killed:i", "not_run:i", "skipped:i", "unrecorded:i", NULL};

Test(events, every_line_follows_the_schema)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    lr_events *e = lr_events_from(f);
    cr_assert_not_null(e);
    static const char nasty[] = "echo \"<a & 'b'>\" \\ \x01\t\xff\xfe | tee /dev/null\n";
    lr_events_run_start(e, 1700000000.25, "tasks \"1\".txt", 3, 0);
    lr_events_worker_join(e, 1700000000.5, 8);
    struct lr_attempt a[] = {
        {1, 1, "node-a", 1, 1, 1700000000.5, 0.25, 0, 0, 0, 1, LR_OUT_OK, "true", 4},
        {2, 1, "node-a", 1, 2, 1700000000.6, 1.5, 3, 0, 0, 0, LR_OUT_FAILED, "exit 3", 6},
        {2, 2, "node-b", 2, 1, 1700000002.0, 1.5, 0, 9, 0, 1, LR_OUT_FAILED, "kill -9 $$", 10},
        {3, 1, "node-b", 2, 2, 1700000000.7, 5.0, -1, 0, 1, 1, LR_OUT_TIMEOUT, "sleep 9", 7},
        {4, 1, "node-\"b\"", 2, 3, 1700000001.0, 0.1, 0, 15, 0, 1, LR_OUT_KILLED, nasty,
         sizeof nasty - 1},
        {5, 1, "", 0, 0, 0, 0, 0, 0, 0, 1, LR_OUT_NOT_RUN, NULL, 0},
    };
    for (size_t i = 0; i < sizeof a / sizeof a[0]; i++)
        lr_events_attempt(e, 1700000003.0 + (double)i, &a[i]);
    lr_events_worker_lost(e, 1700000009.0, 1);
    struct lr_run_end s = {4, 9.5, 8, 5, 1, 2, 1, 1, 1, 1, 0, 0};
    lr_events_run_end(e, 1700000010.0, &s);
    cr_assert_eq(lr_events_close(e), 0);
    fclose(f);

    int lines = 0, attempts = 0, seen_end = 0;
    char *save = NULL;
    static const char *const outcomes[] = {"ok",      "failed", "failed",
                                           "timeout", "killed", "not_run"};
    cr_assert_eq(text[len - 1], '\n');
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        struct jobj o;
        lines++;
        cr_assert_eq(parse_line(line, &o), 0, "not one JSON object: %s", line);
        expect_keys(&o, line, common_keys);
        const char *ev = get(&o, "event")->str;
        if (!strcmp(ev, "run_start")) {
            cr_assert_eq(lines, 1);
            expect_keys(&o, line, start_keys);
            cr_assert_str_eq(get(&o, "tasks")->str, "tasks \"1\".txt");
        } else if (!strcmp(ev, "attempt")) {
            expect_keys(&o, line, attempt_keys);
            cr_assert_str_eq(get(&o, "outcome")->str, outcomes[attempts], "%s", line);
            if (attempts == 4) {
                /* the nasty command, decoded: invalid bytes as U+FFFD */
                cr_assert_str_eq(get(&o, "cmd")->str, "echo \"<a & 'b'>\" \\ \x01\t\xef\xbf\xbd"
                                                      "\xef\xbf\xbd | tee /dev/null\n");
                cr_assert_str_eq(get(&o, "host")->str, "node-\"b\"");
            }
            if (attempts == 5)
                cr_assert_eq(get(&o, "start")->type, 'z', "%s", line);
            else
                cr_assert_eq(get(&o, "start")->type, 'n', "%s", line);
            attempts++;
        } else if (!strcmp(ev, "worker_join")) {
            expect_keys(&o, line, join_keys);
        } else if (!strcmp(ev, "worker_lost")) {
            expect_keys(&o, line, lost_keys);
        } else if (!strcmp(ev, "run_end")) {
            expect_keys(&o, line, end_keys);
            seen_end = 1;
        } else {
            cr_assert_fail("unknown event %s", ev);
        }
    }
    cr_assert_eq(attempts, 6);
    cr_assert_eq(lines, 10);
    cr_assert(seen_end);
    free(text);
}

Test(events, an_unwritable_file_is_refused)
{
    lr_events *e = (lr_events *)1;
    char err[256];
    cr_assert_eq(lr_events_open("/nonexistent-dir/ev.jsonl", &e, err, sizeof err), -1);
    cr_assert_null(e);
    cr_assert_not_null(strstr(err, "--events /nonexistent-dir/ev.jsonl: cannot write it"), "%s",
                       err);
}
