/* SPDX-License-Identifier: MIT */
/*
 * Settings (loom/config.h).
 *
 * One static table, config_keys[], describes every setting: key, type,
 * default, range or allowed values, description. Everything else is derived
 * from it: the walk over a config file, the LOOM_* variable and --option
 * names, --help and the dump. Defaults are written as text and parsed by the
 * same code as user input, so a bad row fails the first loom_config_create().
 *
 * Values live in a struct cfg_values, one slot per row, each with its origin
 * (text values, KT_STRING, are strings the slot owns).
 * A load works on a staging copy that replaces the config's values only when
 * every source has been validated: a refused load changes nothing (the error
 * message, a fixed buffer in the config, is the only thing written).
 *
 * Files are read into memory with a size bound and parsed with
 * config_read_string(). libconfig 1.5 (Debian 12) stores an integer literal
 * outside the int32 range modulo 2^32 without complaint ("4294967297" reads
 * as 1), so before parsing, a small scanner appends libconfig's int64 suffix
 * 'L' to such literals (what libconfig >= 1.6 does by itself) and refuses
 * literals beyond int64. @include is refused: an included file would escape
 * both the size bound and that scanner.
 *
 * Variables and options that look like loom's but name no setting
 * (LOOM_POOL_THRADS, --pool-thread=3) are refused with the nearest valid
 * name: in loom's namespace (LOOM_<SECTION>_..., --<section>-...) or within
 * two edits of a valid name. A few LOOM_* variables are loom's without
 * being settings (LOOM_CONFIG, loom-run's LOOM_TASK_ID ...): not_settings[].
 * Settings that contradict each other (conflicts[]) are refused after every
 * source has been applied.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libconfig.h>

#include "internal.h"
#include "loom/config.h"
#include "loom/log.h"

/* Largest config file accepted, in bytes. */
#define CONFIG_FILE_MAX (1024 * 1024)
/* Size of the error message buffer inside a config. */
#define CONFIG_ERR_MAX 512
/* Longest key; option and variable names are derived into buffers of this size. */
#define CONFIG_NAME_MAX 64
/* Longest user text quoted back in an error message. */
#define CONFIG_SHOWN_MAX 64
/* Longest string value that names a file (PATH_MAX less its NUL). */
#define CONFIG_PATH_MAX (PATH_MAX - 1)

enum key_type {
    KT_INT,   /* int64 in [imin, imax] */
    KT_SIZE,  /* like KT_INT; text may end in K, M or G (powers of 1024) */
    KT_FLOAT, /* finite double in [fmin, fmax] */
    KT_BOOL,  /* true/false (also yes/no, on/off, 1/0) */
    KT_ENUM,  /* one of allowed[], matched without regard to case */
    KT_STRING /* text of at most imax bytes, no control characters (a path) */
};

struct key_def {
    const char *key;            /* "section.name", lower case, [a-z0-9_] */
    enum key_type type;         /* how def and user values are read */
    const char *def;            /* default, in the text form an option takes */
    int64_t imin, imax;         /* KT_INT, KT_SIZE; KT_STRING: imax = longest, bytes */
    double fmin, fmax;          /* KT_FLOAT */
    const char *const *allowed; /* KT_ENUM: NULL-terminated */
    const char *desc;           /* one line, for --help */
};

/* clang-format off */
#define KEY_INT(key, def, lo, hi, desc)   {key, KT_INT, def, lo, hi, 0, 0, NULL, desc}
#define KEY_SIZE(key, def, lo, hi, desc)  {key, KT_SIZE, def, lo, hi, 0, 0, NULL, desc}
#define KEY_FLOAT(key, def, lo, hi, desc) {key, KT_FLOAT, def, 0, 0, lo, hi, NULL, desc}
#define KEY_BOOL(key, def, desc)          {key, KT_BOOL, def, 0, 0, 0, 0, NULL, desc}
#define KEY_ENUM(key, def, allowed, desc) {key, KT_ENUM, def, 0, 0, 0, 0, allowed, desc}
#define KEY_STRING(key, def, max, desc)   {key, KT_STRING, def, 0, max, 0, 0, NULL, desc}
/* clang-format on */
#define ALLOWED(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Add a key: one row here + a documented entry in cluster/loom.cfg;
 * test_config checks they match. */
static const struct key_def config_keys[] = {
    KEY_ENUM("log.level", "info", ALLOWED("error", "warn", "info", "debug", "trace"),
             "least severe level of log line written"),
    KEY_INT("pool.threads", "0", 0, 4096,
            "threads of the node-local pool; 0 = the CPUs this process may use"),
    KEY_INT("pool.queue_capacity", "4096", 1, 16777216,
            "tasks the pool's submission queue holds before submitters wait"),
    KEY_BOOL("pool.pin", "false",
             "bind each worker pool thread to one CPU (commands it starts get all of them back)"),
    KEY_SIZE("process.output_limit", "8388608", 1024, INT64_C(1099511627776),
             "bytes of a command's stdout and of its stderr kept (suffix K, M or G)"),
    KEY_FLOAT("process.timeout", "0", 0, 2000000, "seconds a command may run; 0 = no limit"),
    KEY_FLOAT("process.kill_grace", "2.0", 0, 3600,
              "seconds between SIGTERM and SIGKILL when a command times out"),
    KEY_INT("job.max_outstanding", "65536", 1, INT64_C(1073741824),
            "tasks the master holds unfinished or unconsumed before submit waits"),
    KEY_SIZE("job.max_payload", "268435456", 0, INT64_C(1073741824) - 4096,
             "bytes of one task payload, reply or queue item (suffix K, M or G)"),
    KEY_SIZE("job.max_frame", "1073741824", 65536, INT64_C(1073741824),
             "bytes of one message between master and workers; at least job.max_payload + 8K"),
    KEY_INT("job.batch_max", "4096", 1, 1048576, "tasks the master sends in one message"),
    KEY_FLOAT("job.flush_delay", "0.0002", 0, 1,
              "seconds a worker may hold finished results before sending them"),
    KEY_FLOAT("job.prefetch", "0.005", 0, 10,
              "seconds of work a worker keeps queued per thread (sizes its credits)"),
    KEY_INT("job.retries", "0", 0, 1000,
            "times a failed task (non-zero status) runs again, on another worker if any"),
    KEY_INT("job.crash_limit", "3", 1, 1000,
            "crashes of a task before it is given up, retries left or not: attempts whose "
            "isolated process crashed (signal, exit, timeout, memory), and workers that died "
            "with it in flight"),
    KEY_FLOAT("job.heartbeat", "0.5", 0.01, 3600,
              "seconds between a worker's signs of life when it has nothing else to send"),
    KEY_FLOAT("job.worker_timeout", "10", 0, 86400,
              "seconds of silence after which the master declares a worker lost and re-runs "
              "its tasks elsewhere; 0 = never"),
    KEY_BOOL("job.isolate", "false",
             "run every task in a child process of its worker: a crash fails the task only"),
    KEY_ENUM("task.isolate_mode", "helper", ALLOWED("helper", "fork"),
             "how isolated tasks run: a persistent helper process per thread, or a fork per task"),
    KEY_FLOAT("task.timeout", "0", 0, 2000000,
              "seconds an isolated task may run before it is killed; 0 = no limit"),
    KEY_SIZE("task.memory_limit", "0", 0, INT64_C(1099511627776),
             "resident bytes an isolated task's process may use before it is killed; 0 = no limit"),
    KEY_STRING("job.events", "", CONFIG_PATH_MAX,
               "master: JSON lines file of every attempt, worker joined and lost; empty = none"),
    KEY_STRING("job.report", "", CONFIG_PATH_MAX,
               "master: self-contained HTML report written at the job's end; empty = none"),
};

#define NKEYS (sizeof config_keys / sizeof config_keys[0])

union value {
    int64_t i;
    double d;
    int b;
    size_t e; /* index into allowed[] */
    char *s;  /* KT_STRING: owned by the slot holding it */
};

struct slot {
    union value v;
    char *origin; /* owned */
};

struct cfg_values {
    struct slot s[NKEYS];
};

struct loom_config {
    struct cfg_values *vals;
    char err[CONFIG_ERR_MAX];
};

/* --- errors and small helpers ------------------------------------------- */

static loom_err cfg_fail(loom_config *cfg, const char *fmt, ...) LOOM_PRINTF(2, 3);

/* Record a message in cfg; returns LOOM_ECONFIG so callers can return it. */
static loom_err
cfg_fail(loom_config *cfg, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cfg->err, sizeof cfg->err, fmt, ap);
    va_end(ap);
    return loom__fail(LOOM_ECONFIG, "%s", cfg->err);
}

static loom_err
cfg_nomem(loom_config *cfg)
{
    cfg_fail(cfg, "out of memory");
    return loom__fail(LOOM_ENOMEM, "out of memory for the settings");
}

/* ASCII only: the C library's versions depend on the locale. */
static int
ascii_lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static int
ascii_upper(int c)
{
    return c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
}

static int
ascii_casecmp(const char *a, const char *b)
{
    for (;; a++, b++) {
        int ca = ascii_lower((unsigned char)*a), cb = ascii_lower((unsigned char)*b);
        if (ca != cb || ca == '\0')
            return ca - cb;
    }
}

/* User text as quoted in a message: cut, control characters replaced. */
static void
show_text(char *buf, size_t size, const char *text)
{
    size_t n = 0;
    LOOM_ASSERT(size > 4);
    for (; text[n] != '\0' && n + 4 < size; n++) {
        unsigned char c = (unsigned char)text[n];
        buf[n] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    if (text[n] != '\0') {
        memcpy(buf + n, "...", 3);
        n += 3;
    }
    buf[n] = '\0';
}

/* Whole numbers as such ("3600", not "3.6e+03"), others in the shortest
 * "%.*g" form that reads back as the same double. */
static void
format_double(char *buf, size_t size, double d)
{
    if (d > -1e15 && d < 1e15 && d == (double)(int64_t)d) {
        snprintf(buf, size, "%.0f", d);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            return;
    }
}

static const struct key_def *
key_find(const char *key, size_t *index)
{
    for (size_t i = 0; i < NKEYS; i++) {
        if (strcmp(config_keys[i].key, key) == 0) {
            if (index)
                *index = i;
            return &config_keys[i];
        }
    }
    return NULL;
}

/* Length of the section part of a key ("pool" in "pool.threads"). */
static size_t
section_len(const char *key)
{
    const char *dot = strchr(key, '.');
    LOOM_ASSERT(dot);
    return (size_t)(dot - key);
}

static int
is_section(const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < NKEYS; i++)
        if (section_len(config_keys[i].key) == n && strncmp(config_keys[i].key, name, n) == 0)
            return 1;
    return 0;
}

/* "pool.queue_capacity" -> "LOOM_POOL_QUEUE_CAPACITY" */
static void
env_name(const struct key_def *k, char *buf, size_t size)
{
    size_t n = strlen(k->key);
    LOOM_ASSERT(n + 6 <= size);
    memcpy(buf, "LOOM_", 5);
    for (size_t i = 0; i < n; i++)
        buf[5 + i] = k->key[i] == '.' ? '_' : (char)ascii_upper(k->key[i]);
    buf[5 + n] = '\0';
}

/* "pool.queue_capacity" -> "--pool-queue-capacity" */
static void
option_name(const struct key_def *k, char *buf, size_t size)
{
    size_t n = strlen(k->key);
    LOOM_ASSERT(n + 3 <= size);
    memcpy(buf, "--", 2);
    for (size_t i = 0; i < n; i++)
        buf[2 + i] = (k->key[i] == '.' || k->key[i] == '_') ? '-' : k->key[i];
    buf[2 + n] = '\0';
}

/* Does name[0..len) (an option without its leading "--") name key k? */
static int
option_matches(const struct key_def *k, const char *name, size_t len)
{
    if (strlen(k->key) != len)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = (k->key[i] == '.' || k->key[i] == '_') ? '-' : k->key[i];
        if (name[i] != c)
            return 0;
    }
    return 1;
}

/* Programmer errors in the table: malformed keys, names that collide. */
static void
schema_check(void)
{
    char opt[CONFIG_NAME_MAX + 4];
    for (size_t i = 0; i < NKEYS; i++) {
        const char *key = config_keys[i].key, *dot = strchr(key, '.');
        size_t n = strlen(key);
        /* section.name, each a libconfig name: lower case, digits, '_' */
        LOOM_ASSERT(n < CONFIG_NAME_MAX && dot && dot > key && dot[1] != '\0');
        LOOM_ASSERT(key[0] >= 'a' && key[0] <= 'z' && dot[1] >= 'a' && dot[1] <= 'z');
        for (size_t j = 0; j < n; j++)
            LOOM_ASSERT((key[j] >= 'a' && key[j] <= 'z') || (key[j] >= '0' && key[j] <= '9') ||
                        key[j] == '_' || key + j == dot);
        /* Equal option names mean equal LOOM_* names too. */
        option_name(&config_keys[i], opt, sizeof opt);
        for (size_t j = 0; j < i; j++)
            LOOM_ASSERT(!option_matches(&config_keys[j], opt + 2, n));
        LOOM_ASSERT(config_keys[i].type != KT_ENUM || config_keys[i].allowed);
    }
}

/* --- value storage ------------------------------------------------------ */

static void
values_free(struct cfg_values *vals)
{
    if (!vals)
        return;
    for (size_t i = 0; i < NKEYS; i++) {
        free(vals->s[i].origin);
        if (config_keys[i].type == KT_STRING)
            free(vals->s[i].v.s);
    }
    free(vals);
}

static struct cfg_values *
values_dup(const struct cfg_values *src)
{
    struct cfg_values *dst = calloc(1, sizeof *dst);
    if (!dst)
        goto fail;
    for (size_t i = 0; i < NKEYS; i++) {
        dst->s[i].v = src->s[i].v;
        if (config_keys[i].type == KT_STRING && !(dst->s[i].v.s = strdup(src->s[i].v.s)))
            goto fail_values; /* values_free frees the strings copied so far */
        dst->s[i].origin = strdup(src->s[i].origin);
        if (!dst->s[i].origin)
            goto fail_values;
    }
    return dst;

fail_values:
    values_free(dst);
fail:
    return NULL;
}

/* Store v (of key k) in s; s owns it from now on, also on failure (a
 * string value is then freed). */
static loom_err
slot_store(loom_config *cfg, const struct key_def *k, struct slot *s, union value v,
           const char *origin)
{
    char *copy = strdup(origin);
    if (!copy) {
        if (k->type == KT_STRING)
            free(v.s);
        return cfg_nomem(cfg);
    }
    free(s->origin);
    s->origin = copy;
    if (k->type == KT_STRING)
        free(s->v.s);
    s->v = v;
    return LOOM_OK;
}

/* --- parsing and validation --------------------------------------------- */

enum { PARSE_OK, PARSE_BAD, PARSE_RANGE };

/* Decimal or 0x hexadecimal, optional sign; with sizes, one of K, M, G.
 * Nothing else may follow. */
static int
parse_int(const char *text, int sizes, int64_t *out)
{
    const char *p = text;
    char *end;
    int base = 10;
    long long v;

    if (*p == '-' || *p == '+')
        p++;
    if (!isdigit((unsigned char)*p))
        return PARSE_BAD; /* also refuses the whitespace strtoll would skip */
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
        base = 16;
    errno = 0;
    v = strtoll(text, &end, base);
    if (end == text)
        return PARSE_BAD;
    int range = errno == ERANGE;
    if (sizes && *end != '\0' && strchr("KkMmGg", *end)) {
        int shift = (*end == 'K' || *end == 'k') ? 10 : (*end == 'M' || *end == 'm') ? 20 : 30;
        if (v > (LLONG_MAX >> shift) || v < (LLONG_MIN >> shift))
            range = 1;
        else
            v = (long long)((unsigned long long)v << shift);
        end++;
    }
    if (*end != '\0')
        return PARSE_BAD;
    if (range)
        return PARSE_RANGE;
    *out = v;
    return PARSE_OK;
}

loom_err
loom__config_parse_bool(const char *text, int *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (ascii_casecmp(text, yes[i]) == 0) {
            *out = 1;
            return LOOM_OK;
        }
        if (ascii_casecmp(text, no[i]) == 0) {
            *out = 0;
            return LOOM_OK;
        }
    }
    return LOOM_EINVAL;
}

/* "one of error, warn, info" */
static void
allowed_list(const struct key_def *k, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; k->allowed[i] && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, "%s%s", i ? ", " : "", k->allowed[i]);
}

/* "'pool.threads' must be an integer" (the caller adds where and what it got). */
static void
type_phrase(const struct key_def *k, char *buf, size_t size)
{
    char list[128];
    switch (k->type) {
    case KT_INT:
        snprintf(buf, size, "'%s' must be an integer", k->key);
        break;
    case KT_SIZE:
        snprintf(buf, size, "'%s' must be an integer (bytes, optionally with K, M or G)", k->key);
        break;
    case KT_FLOAT:
        snprintf(buf, size, "'%s' must be a number", k->key);
        break;
    case KT_BOOL:
        snprintf(buf, size, "'%s' must be true or false (also yes/no, on/off, 1/0)", k->key);
        break;
    case KT_ENUM:
        allowed_list(k, list, sizeof list);
        snprintf(buf, size, "'%s' must be one of %s", k->key, list);
        break;
    case KT_STRING:
        snprintf(buf, size,
                 "'%s' must be text of at most %" PRId64 " bytes without control characters",
                 k->key, k->imax);
        break;
    }
}

static loom_err
fail_type(loom_config *cfg, const struct key_def *k, const char *where, const char *text)
{
    char phrase[256], shown[CONFIG_SHOWN_MAX];
    type_phrase(k, phrase, sizeof phrase);
    if (!text)
        return cfg_fail(cfg, "%s: %s", where, phrase);
    show_text(shown, sizeof shown, text);
    return cfg_fail(cfg, "%s: %s, not '%s'", where, phrase, shown);
}

static loom_err
fail_range(loom_config *cfg, const struct key_def *k, const char *where, const char *shown)
{
    char lo[32], hi[32];
    if (k->type == KT_FLOAT) {
        format_double(lo, sizeof lo, k->fmin);
        format_double(hi, sizeof hi, k->fmax);
    } else {
        snprintf(lo, sizeof lo, "%" PRId64, k->imin);
        snprintf(hi, sizeof hi, "%" PRId64, k->imax);
    }
    return cfg_fail(cfg, "%s: '%s' = %s is out of range [%s, %s]", where, k->key, shown, lo, hi);
}

/* Range checks shared by text and file values; `shown` is the value as the
 * user wrote it, for the message. */
static loom_err
check_int(loom_config *cfg, const struct key_def *k, int64_t i, const char *where,
          const char *shown, union value *out)
{
    if (i < k->imin || i > k->imax)
        return fail_range(cfg, k, where, shown);
    out->i = i;
    return LOOM_OK;
}

static loom_err
check_float(loom_config *cfg, const struct key_def *k, double d, const char *where,
            const char *shown, union value *out)
{
    if (!isfinite(d))
        return cfg_fail(cfg, "%s: '%s' must be a finite number, not '%s'", where, k->key, shown);
    if (d < k->fmin || d > k->fmax)
        return fail_range(cfg, k, where, shown);
    out->d = d;
    return LOOM_OK;
}

static int
enum_find(const struct key_def *k, const char *text, size_t *index)
{
    for (size_t i = 0; k->allowed[i]; i++) {
        if (ascii_casecmp(text, k->allowed[i]) == 0) {
            *index = i;
            return 1;
        }
    }
    return 0;
}

/* A value in its text form (default, variable, option, loom_config_set). */
static loom_err
value_from_text(loom_config *cfg, const struct key_def *k, const char *text, const char *where,
                union value *out)
{
    char shown[CONFIG_SHOWN_MAX];
    show_text(shown, sizeof shown, text);
    switch (k->type) {
    case KT_INT:
    case KT_SIZE: {
        int64_t i = 0;
        int rc = parse_int(text, k->type == KT_SIZE, &i);
        if (rc == PARSE_BAD)
            return fail_type(cfg, k, where, text);
        if (rc == PARSE_RANGE)
            return fail_range(cfg, k, where, shown);
        return check_int(cfg, k, i, where, shown, out);
    }
    case KT_FLOAT: {
        char *end;
        /* No leading space (strtod would skip it); "nan", "inf" are words. */
        if (*text == '\0' || !(isdigit((unsigned char)*text) || strchr("+-.", *text)))
            return fail_type(cfg, k, where, text);
        double d = strtod(text, &end);
        if (end == text || *end != '\0')
            return fail_type(cfg, k, where, text);
        return check_float(cfg, k, d, where, shown, out);
    }
    case KT_BOOL:
        if (loom__config_parse_bool(text, &out->b) != LOOM_OK)
            return fail_type(cfg, k, where, text);
        return LOOM_OK;
    case KT_ENUM:
        if (!enum_find(k, text, &out->e))
            return fail_type(cfg, k, where, text);
        return LOOM_OK;
    case KT_STRING: {
        /* bounded, and nothing that could break a line of a log, a dump
         * or a file name the user meant */
        size_t n = strnlen(text, (size_t)k->imax + 1);
        if (n > (size_t)k->imax)
            return fail_type(cfg, k, where, text);
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f)
                return fail_type(cfg, k, where, text);
        if (!(out->s = strdup(text)))
            return cfg_nomem(cfg);
        return LOOM_OK;
    }
    }
    return fail_type(cfg, k, where, text);
}

/* A scalar from a libconfig tree. Aggregates (group, array, list) are type
 * errors. */
static loom_err
value_from_setting(loom_config *cfg, const struct key_def *k, const config_setting_t *s,
                   const char *where, union value *out)
{
    int t = config_setting_type(s);
    char shown[32];
    switch (k->type) {
    case KT_INT:
    case KT_SIZE:
        if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64) {
            int64_t i = (int64_t)config_setting_get_int64(s);
            snprintf(shown, sizeof shown, "%" PRId64, i);
            return check_int(cfg, k, i, where, shown, out);
        }
        if (k->type == KT_SIZE && t == CONFIG_TYPE_STRING) /* "8M" */
            return value_from_text(cfg, k, config_setting_get_string(s), where, out);
        break;
    case KT_FLOAT:
        if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64 || t == CONFIG_TYPE_FLOAT) {
            double d = t == CONFIG_TYPE_FLOAT ? config_setting_get_float(s)
                                              : (double)config_setting_get_int64(s);
            format_double(shown, sizeof shown, d);
            return check_float(cfg, k, d, where, shown, out);
        }
        break;
    case KT_BOOL:
        if (t == CONFIG_TYPE_BOOL) {
            out->b = config_setting_get_bool(s) != 0;
            return LOOM_OK;
        }
        break;
    case KT_ENUM:
        if (t == CONFIG_TYPE_STRING) {
            const char *text = config_setting_get_string(s);
            if (!enum_find(k, text, &out->e))
                return fail_type(cfg, k, where, text);
            return LOOM_OK;
        }
        break;
    case KT_STRING:
        if (t == CONFIG_TYPE_STRING)
            return value_from_text(cfg, k, config_setting_get_string(s), where, out);
        break;
    }
    return fail_type(cfg, k, where, NULL);
}

/* --- files -------------------------------------------------------------- */

/* The whole file, NUL-terminated, at most CONFIG_FILE_MAX bytes. */
static loom_err
file_read(loom_config *cfg, const char *path, char **out)
{
    loom_err rc;
    size_t len = 0, cap = 4096;
    char *buf = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = cfg_fail(cfg, "%s: cannot read: %s", path, strerror(errno));
        goto out;
    }
    buf = malloc(cap);
    if (!buf) {
        rc = cfg_nomem(cfg);
        goto out_fd;
    }
    for (;;) {
        /* Read one byte past the limit, no further, to tell "too large". */
        if (len > CONFIG_FILE_MAX) {
            rc = cfg_fail(cfg, "%s: file too large (more than %d bytes)", path, CONFIG_FILE_MAX);
            goto out_buf;
        }
        if (len + 1 == cap) {
            size_t ncap = cap * 2 < CONFIG_FILE_MAX + 2 ? cap * 2 : CONFIG_FILE_MAX + 2;
            char *bigger = realloc(buf, ncap);
            if (!bigger) {
                rc = cfg_nomem(cfg);
                goto out_buf;
            }
            buf = bigger;
            cap = ncap;
        }
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = cfg_fail(cfg, "%s: cannot read: %s", path, strerror(errno));
            goto out_buf;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    if (memchr(buf, '\0', len)) {
        rc = cfg_fail(cfg, "%s: not a text file (contains a NUL byte)", path);
        goto out_buf;
    }
    buf[len] = '\0';
    *out = buf;
    buf = NULL;
    rc = LOOM_OK;

out_buf:
    free(buf);
out_fd:
    close(fd);
out:
    return rc;
}

static int
is_name_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '*';
}

/* The end of the number literal that starts at in[start] (a sign, a
 * decimal or 0x hex integer, or a float), as libconfig 1.5 scans it. *hex:
 * its hex digits, or NULL; *is_float: it is a float. */
static size_t
number_end(const char *in, size_t start, const char **hex, int *is_float)
{
    size_t j = start + (in[start] == '-' || in[start] == '+');

    *hex = NULL;
    *is_float = 0;
    if (in[j] == '0' && (in[j + 1] == 'x' || in[j + 1] == 'X') &&
        isxdigit((unsigned char)in[j + 2])) {
        *hex = in + j + 2;
        for (j += 2; isxdigit((unsigned char)in[j]); j++)
            ;
        return j;
    }
    while (isdigit((unsigned char)in[j]))
        j++;
    if (in[j] == '.') {
        *is_float = 1;
        for (j++; isdigit((unsigned char)in[j]); j++)
            ;
    }
    if ((in[j] == 'e' || in[j] == 'E') &&
        (isdigit((unsigned char)in[j + 1]) ||
         ((in[j + 1] == '-' || in[j + 1] == '+') && isdigit((unsigned char)in[j + 2])))) {
        *is_float = 1;
        for (j += 2; isdigit((unsigned char)in[j]); j++)
            ;
    }
    return j;
}

/* Whether the integer literal in[start..end) (hex: its hex digits, or
 * NULL) needs libconfig's 'L': it lies outside int32 and has none. -1 if it
 * lies beyond int64. */
static int
integer_needs_l(const char *in, size_t start, size_t end, const char *hex)
{
    unsigned long long u;
    long long v;

    errno = 0;
    if (hex) {
        u = strtoull(hex, NULL, 16);
        v = (long long)(u > (unsigned long long)LLONG_MAX ? 0 : u);
        if (u > (unsigned long long)LLONG_MAX)
            errno = ERANGE;
    } else {
        v = strtoll(in + start, NULL, 10);
    }
    if (errno == ERANGE)
        return -1;
    return in[end] != 'L' && (v > INT32_MAX || v < INT32_MIN);
}

/*
 * Copy libconfig text, appending 'L' to integer literals outside int32 (see
 * the top of the file) and refusing @include and integers beyond int64.
 * Follows libconfig 1.5's scanner just enough to skip comments, strings
 * and names; anything malformed is copied as is for libconfig to report.
 */
static loom_err
file_fix_integers(loom_config *cfg, const char *path, const char *in, char **out)
{
    size_t n = strlen(in), i = 0, o = 0;
    /* An integer needing 'L' has at least 10 characters. */
    size_t cap = n + n / 10 + 2;
    unsigned line = 1;
    char *buf = malloc(cap);
    if (!buf)
        return cfg_nomem(cfg);

#define PUT(c) (LOOM_ASSERT(o + 1 < cap), buf[o++] = (c))
    while (i < n) {
        char c = in[i];
        if (c == '#' || (c == '/' && in[i + 1] == '/')) {
            while (i < n && in[i] != '\n')
                PUT(in[i++]);
        } else if (c == '/' && in[i + 1] == '*') {
            PUT(in[i++]);
            PUT(in[i++]);
            while (i < n && !(in[i] == '*' && in[i + 1] == '/')) {
                line += in[i] == '\n';
                PUT(in[i++]);
            }
            for (int end = 0; end < 2 && i < n; end++)
                PUT(in[i++]);
        } else if (c == '"') {
            PUT(in[i++]);
            while (i < n && in[i] != '"') {
                if (in[i] == '\\' && in[i + 1] != '\0')
                    PUT(in[i++]);
                line += in[i] == '\n';
                PUT(in[i++]);
            }
            if (i < n)
                PUT(in[i++]);
        } else if (c == '@' && strncmp(in + i, "@include", 8) == 0) {
            free(buf);
            return cfg_fail(cfg, "%s:%u: @include is not supported", path, line);
        } else if (isalpha((unsigned char)c) || c == '*') {
            while (i < n && is_name_char(in[i]))
                PUT(in[i++]);
        } else if (isdigit((unsigned char)c) || c == '.' ||
                   ((c == '-' || c == '+') &&
                    (isdigit((unsigned char)in[i + 1]) || in[i + 1] == '.'))) {
            size_t start = i, j;
            const char *hex;
            int is_float, needs_l = 0;
            j = number_end(in, start, &hex, &is_float);
            if (!is_float && (needs_l = integer_needs_l(in, start, j, hex)) < 0) {
                free(buf);
                return cfg_fail(cfg, "%s:%u: integer %.*s is too large", path, line,
                                (int)(j - start < 40 ? j - start : 40), in + start);
            }
            while (i < j)
                PUT(in[i++]);
            if (needs_l)
                PUT('L');
        } else {
            line += c == '\n';
            PUT(in[i++]);
        }
    }
#undef PUT
    buf[o] = '\0';
    *out = buf;
    return LOOM_OK;
}

/* Validate every setting of a parsed file into stage. */
static loom_err
file_apply_tree(loom_config *cfg, struct cfg_values *stage, const char *path,
                const config_setting_t *root)
{
    char where[PATH_MAX + 16], key[2 * CONFIG_NAME_MAX];
    loom_err rc;
    int ngroups = config_setting_length(root);
    for (int g = 0; g < ngroups; g++) {
        const config_setting_t *group = config_setting_get_elem(root, (unsigned)g);
        const char *section = config_setting_name(group);
        unsigned gline = config_setting_source_line(group);
        if (!is_section(section)) {
            if (config_setting_is_group(group))
                return cfg_fail(cfg, "%s:%u: unknown section '%s'", path, gline, section);
            return cfg_fail(cfg, "%s:%u: unknown key '%s'", path, gline, section);
        }
        if (!config_setting_is_group(group))
            return cfg_fail(cfg, "%s:%u: '%s' is a section and must be a group: %s = { ... };",
                            path, gline, section, section);
        int nkeys = config_setting_length(group);
        for (int m = 0; m < nkeys; m++) {
            const config_setting_t *s = config_setting_get_elem(group, (unsigned)m);
            const char *name = config_setting_name(s);
            unsigned line = config_setting_source_line(s);
            size_t index;
            union value v;
            snprintf(key, sizeof key, "%s.%s", section, name);
            const struct key_def *k = key_find(key, &index);
            if (!k)
                return cfg_fail(cfg, "%s:%u: unknown key '%s'", path, line, key);
            snprintf(where, sizeof where, "%s:%u", path, line);
            rc = value_from_setting(cfg, k, s, where, &v);
            if (rc != LOOM_OK)
                return rc;
            rc = slot_store(cfg, k, &stage->s[index], v, where);
            if (rc != LOOM_OK)
                return rc;
        }
    }
    return LOOM_OK;
}

static loom_err
file_apply(loom_config *cfg, struct cfg_values *stage, const char *path)
{
    loom_err rc;
    char *text = NULL, *fixed = NULL;
    config_t lc;

    if (strlen(path) >= PATH_MAX) {
        rc = cfg_fail(cfg, "%.64s...: file name too long", path);
        goto out;
    }
    rc = file_read(cfg, path, &text);
    if (rc != LOOM_OK)
        goto out;
    rc = file_fix_integers(cfg, path, text, &fixed);
    if (rc != LOOM_OK)
        goto out_text;
    config_init(&lc);
    if (!config_read_string(&lc, fixed)) {
        const char *what = config_error_text(&lc) ? config_error_text(&lc) : "";
        /* libconfig's text is often just "syntax error": say it once. */
        if (strcmp(what, "syntax error") == 0)
            what = "";
        rc = cfg_fail(cfg, "%s:%d: syntax error%s%s", path, config_error_line(&lc),
                      *what ? ": " : "", what);
        goto out_lc;
    }
    rc = file_apply_tree(cfg, stage, path, config_root_setting(&lc));

out_lc:
    config_destroy(&lc);
    free(fixed);
out_text:
    free(text);
out:
    return rc;
}

/* --- environment and command line --------------------------------------- */

extern char **environ;

/* LOOM_* variables that are loom's without being settings: the config file,
 * and what loom-run gives each of its commands. LOOM__* are loom's own
 * (isolate.c's helper marker). */
static const char *const not_settings[] = {"LOOM_CONFIG", "LOOM_TASK_ID", "LOOM_ATTEMPT",
                                           "LOOM_RANK",   "LOOM_HOST",    "LOOM_SLOT"};

/* Longest name compared by edit_distance; longer ones are never near. */
#define EDIT_MAX_LEN (2 * CONFIG_NAME_MAX)

/* Edits (insert, delete, replace, swap of two neighbours) that turn
 * a[0..na) into b[0..nb); SIZE_MAX when either is longer than EDIT_MAX_LEN. */
static size_t
edit_distance(const char *a, size_t na, const char *b, size_t nb)
{
    size_t rows[3][EDIT_MAX_LEN + 1];
    if (na > EDIT_MAX_LEN || nb > EDIT_MAX_LEN)
        return SIZE_MAX;
    size_t *pp = rows[0], *p = rows[1], *c = rows[2];
    for (size_t j = 0; j <= nb; j++)
        p[j] = j;
    for (size_t i = 1; i <= na; i++) {
        c[0] = i;
        for (size_t j = 1; j <= nb; j++) {
            size_t d = p[j - 1] + (a[i - 1] != b[j - 1]);
            if (p[j] + 1 < d)
                d = p[j] + 1;
            if (c[j - 1] + 1 < d)
                d = c[j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && pp[j - 2] + 1 < d)
                d = pp[j - 2] + 1;
            c[j] = d;
        }
        size_t *t = pp;
        pp = p;
        p = c;
        c = t;
    }
    return p[nb];
}

/* The key whose variable or option name (make: env_name or option_name)
 * is nearest to name[0..len), the user's name without its prefix of skip
 * bytes ("LOOM_", "--"); *dist gets the edits between them. */
static size_t
nearest_key(void (*make)(const struct key_def *, char *, size_t), size_t skip, const char *name,
            size_t len, size_t *dist)
{
    char buf[CONFIG_NAME_MAX + 8];
    size_t best = 0;
    *dist = SIZE_MAX;
    for (size_t i = 0; i < NKEYS; i++) {
        make(&config_keys[i], buf, sizeof buf);
        size_t d = edit_distance(name, len, buf + skip, strlen(buf + skip));
        if (d < *dist) {
            *dist = d;
            best = i;
        }
    }
    return best;
}

/* Is name[0..len) in loom's namespace: a section of a key, then sep
 * ("POOL_..." for variables: upper case and '_'; "pool-..." for options)? */
static int
in_namespace(const char *name, size_t len, int upper, char sep)
{
    for (size_t i = 0; i < NKEYS; i++) {
        const char *key = config_keys[i].key;
        size_t n = section_len(key), j = 0;
        if (len <= n || name[n] != sep)
            continue;
        while (j < n && name[j] == (upper ? ascii_upper(key[j]) : key[j]))
            j++;
        if (j == n)
            return 1;
    }
    return 0;
}

/* Does it look like loom's: in its namespace, or two edits at most from a
 * valid name (nearest: that name's row)? */
static int
looks_like_loom(void (*make)(const struct key_def *, char *, size_t), size_t skip, int upper,
                char sep, const char *name, size_t len, size_t *nearest)
{
    size_t dist;
    *nearest = nearest_key(make, skip, name, len, &dist);
    return dist <= 2 || in_namespace(name, len, upper, sep);
}

/* A name as quoted in a message: its first len bytes, cut, control
 * characters replaced. */
static void
show_name(char *buf, size_t size, const char *name, size_t len)
{
    char tmp[CONFIG_SHOWN_MAX + 4];
    size_t n = len < sizeof tmp - 1 ? len : sizeof tmp - 1;
    memcpy(tmp, name, n);
    tmp[n] = '\0';
    show_text(buf, size, tmp);
}

static int
env_is_known(const char *var, size_t len)
{
    char name[CONFIG_NAME_MAX + 8];
    for (size_t i = 0; i < sizeof not_settings / sizeof not_settings[0]; i++)
        if (strlen(not_settings[i]) == len && strncmp(var, not_settings[i], len) == 0)
            return 1;
    for (size_t i = 0; i < NKEYS; i++) {
        env_name(&config_keys[i], name, sizeof name);
        if (strlen(name) == len && strncmp(var, name, len) == 0)
            return 1;
    }
    return 0;
}

/* A set LOOM_* variable that names no setting but looks like one
 * (LOOM_POOL_THRADS) is refused with the nearest valid name. */
static loom_err
env_check_unknown(loom_config *cfg)
{
    char name[CONFIG_NAME_MAX + 8], shown[CONFIG_SHOWN_MAX];
    for (char **e = environ; e && *e; e++) {
        const char *var = *e, *eq = strchr(var, '=');
        /* not loom's, empty (counts as unset), or loom's own LOOM__* */
        if (!eq || eq[1] == '\0' || strncmp(var, "LOOM_", 5) != 0 || var[5] == '_')
            continue;
        size_t len = (size_t)(eq - var), near;
        if (env_is_known(var, len) ||
            !looks_like_loom(env_name, 5, 1, '_', var + 5, len - 5, &near))
            continue;
        show_name(shown, sizeof shown, var, len);
        env_name(&config_keys[near], name, sizeof name);
        return cfg_fail(cfg, "%s: unknown variable; did you mean %s?", shown, name);
    }
    return LOOM_OK;
}

/* An empty variable counts as unset, so `LOOM_X= prog` clears an override. */
static loom_err
env_apply(loom_config *cfg, struct cfg_values *stage)
{
    char name[CONFIG_NAME_MAX + 8];
    loom_err unknown = env_check_unknown(cfg);
    if (unknown != LOOM_OK)
        return unknown;
    for (size_t i = 0; i < NKEYS; i++) {
        const struct key_def *k = &config_keys[i];
        union value v;
        env_name(k, name, sizeof name);
        const char *text = getenv(name);
        if (!text || !*text)
            continue;
        loom_err rc = value_from_text(cfg, k, text, name, &v);
        if (rc == LOOM_OK)
            rc = slot_store(cfg, k, &stage->s[i], v, name);
        if (rc != LOOM_OK)
            return rc;
    }
    return LOOM_OK;
}

enum arg_kind {
    ARG_OTHER,    /* not loom's: stays in argv */
    ARG_END,      /* "--": stops parsing, stays in argv */
    ARG_CONFIG,   /* --config FILE */
    ARG_KEY,      /* --<key> VALUE */
    ARG_NO_VALUE, /* a loom option at the end of argv or before "--" */
    ARG_UNKNOWN,  /* looks like loom's, names no setting: refused */
};

struct arg {
    enum arg_kind kind;
    size_t index;                   /* ARG_KEY: row of config_keys; ARG_UNKNOWN: the nearest */
    const char *value;              /* ARG_CONFIG, ARG_KEY */
    int count;                      /* argv elements taken: 1 or 2 */
    char name[CONFIG_NAME_MAX + 4]; /* "--pool-threads" */
};

static void
arg_classify(int argc, char **argv, int i, struct arg *a)
{
    const char *s = argv[i];
    memset(a, 0, sizeof *a);
    a->kind = ARG_OTHER;
    a->count = 1;
    if (strcmp(s, "--") == 0) {
        a->kind = ARG_END;
        return;
    }
    if (s[0] != '-' || s[1] != '-')
        return;
    const char *name = s + 2, *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    if (len == 6 && strncmp(name, "config", 6) == 0) {
        a->kind = ARG_CONFIG;
        snprintf(a->name, sizeof a->name, "--config");
    } else {
        for (size_t k = 0; k < NKEYS; k++) {
            if (option_matches(&config_keys[k], name, len)) {
                a->kind = ARG_KEY;
                a->index = k;
                option_name(&config_keys[k], a->name, sizeof a->name);
                break;
            }
        }
        if (a->kind == ARG_OTHER) {
            if (looks_like_loom(option_name, 2, 0, '-', name, len, &a->index)) {
                a->kind = ARG_UNKNOWN;
                show_name(a->name, sizeof a->name, s, (size_t)(name - s) + len);
            }
            return;
        }
    }
    if (eq) {
        a->value = eq + 1;
    } else if (i + 1 < argc && argv[i + 1] && strcmp(argv[i + 1], "--") != 0) {
        a->value = argv[i + 1];
        a->count = 2;
    } else {
        a->kind = ARG_NO_VALUE;
    }
}

/* Check the shape of argv and find the last --config (pass 1), or apply the
 * options to stage in order (pass 2, stage != NULL). */
static loom_err
args_scan(loom_config *cfg, int argc, char **argv, struct cfg_values *stage, const char **file)
{
    struct arg a;
    for (int i = 1; i < argc; i += a.count) {
        arg_classify(argc, argv, i, &a);
        if (a.kind == ARG_END)
            break;
        if (a.kind == ARG_NO_VALUE)
            return cfg_fail(cfg, "%s: missing value", a.name);
        if (a.kind == ARG_UNKNOWN) {
            char near[CONFIG_NAME_MAX + 4];
            option_name(&config_keys[a.index], near, sizeof near);
            return cfg_fail(cfg, "%s: unknown option; did you mean %s?", a.name, near);
        }
        if (a.kind == ARG_CONFIG && !stage) {
            if (!*a.value)
                return cfg_fail(cfg, "--config: missing file name");
            *file = a.value;
        }
        if (a.kind == ARG_KEY && stage) {
            union value v;
            loom_err rc = value_from_text(cfg, &config_keys[a.index], a.value, a.name, &v);
            if (rc == LOOM_OK)
                rc = slot_store(cfg, &config_keys[a.index], &stage->s[a.index], v, a.name);
            if (rc != LOOM_OK)
                return rc;
        }
    }
    return LOOM_OK;
}

/* Remove loom's options from argv, keeping the order of everything else. */
static void
args_compact(int *argc, char **argv)
{
    struct arg a;
    int w = 1, i = 1;
    if (*argc < 1)
        return;
    for (; i < *argc; i += a.count) {
        arg_classify(*argc, argv, i, &a);
        if (a.kind == ARG_END)
            break;
        if (a.kind == ARG_OTHER)
            argv[w++] = argv[i];
    }
    for (; i < *argc; i++)
        argv[w++] = argv[i];
    if (w < *argc)
        argv[w] = NULL;
    *argc = w;
}

/* --- settings that must agree ------------------------------------------- */

/* Pairs of settings where `high` must be more than `low`, unless it is 0
 * (off); `why` ends the message. */
static const struct conflict {
    const char *low, *high, *why;
} conflicts[] = {
    {"job.heartbeat", "job.worker_timeout",
     "a worker quiet between two heartbeats would be declared lost"},
};

static double
slot_number(const struct key_def *k, const struct slot *s)
{
    return k->type == KT_FLOAT ? s->v.d : (double)s->v.i;
}

/* The first contradiction among the values v, as a message in buf: 1, or
 * 0 when they agree. */
static int
values_conflict(const struct cfg_values *v, char *buf, size_t size)
{
    for (size_t c = 0; c < sizeof conflicts / sizeof conflicts[0]; c++) {
        size_t lo = 0, hi = 0;
        const struct key_def *kl = key_find(conflicts[c].low, &lo),
                             *kh = key_find(conflicts[c].high, &hi);
        LOOM_ASSERT(kl && kh); /* a bad row is a bug in the table */
        double l = slot_number(kl, &v->s[lo]), h = slot_number(kh, &v->s[hi]);
        if (h == 0 || h > l)
            continue;
        char ls[32], hs[32];
        format_double(ls, sizeof ls, l);
        format_double(hs, sizeof hs, h);
        snprintf(buf, size, "'%s' = %s (%s) must be more than '%s' = %s (%s), or 0: %s", kh->key,
                 hs, v->s[hi].origin, kl->key, ls, v->s[lo].origin, conflicts[c].why);
        return 1;
    }
    return 0;
}

loom_err
loom__config_check(const loom_config *cfg, char *buf, size_t size)
{
    LOOM_ASSERT(cfg && buf && size > 0);
    buf[0] = '\0';
    return values_conflict(cfg->vals, buf, size) ? LOOM_ECONFIG : LOOM_OK;
}

/* --- public API --------------------------------------------------------- */

loom_err
loom_config_create(loom_config **out)
{
    loom_config *cfg;
    LOOM_ASSERT(out);
    schema_check();
    cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        goto fail;
    cfg->vals = calloc(1, sizeof *cfg->vals);
    if (!cfg->vals)
        goto fail_cfg;
    for (size_t i = 0; i < NKEYS; i++) {
        union value v;
        loom_err rc = value_from_text(cfg, &config_keys[i], config_keys[i].def, "default", &v);
        /* A default that does not pass its own checks is a bug in the table. */
        LOOM_ASSERT(rc == LOOM_OK);
        if (slot_store(cfg, &config_keys[i], &cfg->vals->s[i], v, "default") != LOOM_OK)
            goto fail_vals;
    }
    cfg->err[0] = '\0';
    *out = cfg;
    return LOOM_OK;

fail_vals:
    values_free(cfg->vals);
fail_cfg:
    free(cfg);
fail:
    return loom__fail(LOOM_ENOMEM, "out of memory for the settings");
}

void
loom_config_destroy(loom_config *cfg)
{
    if (!cfg)
        return;
    values_free(cfg->vals);
    free(cfg);
}

static void
commit(loom_config *cfg, struct cfg_values **stage)
{
    values_free(cfg->vals);
    cfg->vals = *stage;
    *stage = NULL;
}

loom_err
loom_config_load(loom_config *cfg, int *argc, char **argv)
{
    loom_err rc;
    const char *file = NULL;
    struct cfg_values *stage = NULL;

    LOOM_ASSERT(cfg);
    LOOM_ASSERT(!argc || *argc <= 0 || argv);
    if (argc) {
        rc = args_scan(cfg, *argc, argv, NULL, &file);
        if (rc != LOOM_OK)
            goto out;
    }
    if (!file) {
        file = getenv("LOOM_CONFIG");
        if (file && !*file)
            file = NULL;
    }
    stage = values_dup(cfg->vals);
    if (!stage) {
        rc = cfg_nomem(cfg);
        goto out;
    }
    if (file) {
        rc = file_apply(cfg, stage, file);
        if (rc != LOOM_OK)
            goto out_stage;
    }
    rc = env_apply(cfg, stage);
    if (rc != LOOM_OK)
        goto out_stage;
    if (argc) {
        rc = args_scan(cfg, *argc, argv, stage, NULL);
        if (rc != LOOM_OK)
            goto out_stage;
    }
    if (values_conflict(stage, cfg->err, sizeof cfg->err)) {
        rc = LOOM_ECONFIG;
        goto out_stage;
    }
    if (argc)
        args_compact(argc, argv);
    commit(cfg, &stage);

out_stage:
    values_free(stage);
out:
    return rc;
}

loom_err
loom_config_load_file(loom_config *cfg, const char *path)
{
    loom_err rc;
    struct cfg_values *stage;

    LOOM_ASSERT(cfg && path);
    stage = values_dup(cfg->vals);
    if (!stage) {
        rc = cfg_nomem(cfg);
        goto out;
    }
    rc = file_apply(cfg, stage, path);
    if (rc != LOOM_OK)
        goto out_stage;
    commit(cfg, &stage);

out_stage:
    values_free(stage);
out:
    return rc;
}

loom_err
loom_config_set(loom_config *cfg, const char *key, const char *value, const char *origin)
{
    size_t index;
    union value v;
    loom_err rc;

    LOOM_ASSERT(cfg && key && value);
    if (!origin)
        origin = "loom_config_set";
    const struct key_def *k = key_find(key, &index);
    if (!k) {
        char shown[CONFIG_SHOWN_MAX];
        show_text(shown, sizeof shown, key);
        return cfg_fail(cfg, "%s: unknown key '%s'", origin, shown);
    }
    rc = value_from_text(cfg, k, value, origin, &v);
    if (rc != LOOM_OK)
        return rc;
    return slot_store(cfg, k, &cfg->vals->s[index], v, origin);
}

static const struct slot *
slot_get(const loom_config *cfg, const char *key, const struct key_def **k)
{
    size_t index;
    LOOM_ASSERT(cfg && key);
    *k = key_find(key, &index);
    return *k ? &cfg->vals->s[index] : NULL;
}

/* A get of a key that is not there, or not of the type asked for. */
static loom_err
get_fail(const char *key, const struct key_def *k, const char *asked)
{
    if (!k)
        return loom__fail(LOOM_EINVAL, "no setting has the key '%s'", key);
    return loom__fail(LOOM_EINVAL, "setting '%s' is not %s", key, asked);
}

loom_err
loom_config_get_int(const loom_config *cfg, const char *key, int64_t *out)
{
    const struct key_def *k;
    const struct slot *s = slot_get(cfg, key, &k);
    LOOM_ASSERT(out);
    if (!s || (k->type != KT_INT && k->type != KT_SIZE))
        return get_fail(key, k, "an integer");
    *out = s->v.i;
    return LOOM_OK;
}

loom_err
loom_config_get_double(const loom_config *cfg, const char *key, double *out)
{
    const struct key_def *k;
    const struct slot *s = slot_get(cfg, key, &k);
    LOOM_ASSERT(out);
    if (!s)
        return get_fail(key, k, "a number");
    if (k->type == KT_FLOAT)
        *out = s->v.d;
    else if (k->type == KT_INT || k->type == KT_SIZE)
        *out = (double)s->v.i;
    else
        return get_fail(key, k, "a number");
    return LOOM_OK;
}

loom_err
loom_config_get_bool(const loom_config *cfg, const char *key, int *out)
{
    const struct key_def *k;
    const struct slot *s = slot_get(cfg, key, &k);
    LOOM_ASSERT(out);
    if (!s || k->type != KT_BOOL)
        return get_fail(key, k, "a boolean");
    *out = s->v.b;
    return LOOM_OK;
}

loom_err
loom_config_get_string(const loom_config *cfg, const char *key, const char **out)
{
    const struct key_def *k;
    const struct slot *s = slot_get(cfg, key, &k);
    LOOM_ASSERT(out);
    if (!s || (k->type != KT_ENUM && k->type != KT_STRING))
        return get_fail(key, k, "a string");
    *out = k->type == KT_ENUM ? k->allowed[s->v.e] : s->v.s;
    return LOOM_OK;
}

const char *
loom_config_origin(const loom_config *cfg, const char *key)
{
    const struct key_def *k;
    const struct slot *s = slot_get(cfg, key, &k);
    return s ? s->origin : NULL;
}

const char *
loom_config_error(const loom_config *cfg)
{
    LOOM_ASSERT(cfg);
    return cfg->err;
}

loom_err
loom_config_apply(const loom_config *cfg)
{
    const char *name;
    loom_log_level level;
    LOOM_ASSERT(cfg);
    LOOM_ASSERT(loom_config_get_string(cfg, "log.level", &name) == LOOM_OK);
    LOOM_ASSERT(loom_log_level_parse(name, &level) == LOOM_OK);
    loom_log_set_level(level);
    return LOOM_OK;
}

/* "<0..4096>", "<error|warn|info>" */
static void
help_value(const struct key_def *k, char *buf, size_t size)
{
    char lo[32], hi[32];
    size_t n;
    switch (k->type) {
    case KT_INT:
    case KT_SIZE:
        snprintf(buf, size, "<%s %" PRId64 "..%" PRId64 ">", k->type == KT_INT ? "INT" : "SIZE",
                 k->imin, k->imax);
        break;
    case KT_FLOAT:
        format_double(lo, sizeof lo, k->fmin);
        format_double(hi, sizeof hi, k->fmax);
        snprintf(buf, size, "<NUM %s..%s>", lo, hi);
        break;
    case KT_BOOL:
        snprintf(buf, size, "<BOOL>");
        break;
    case KT_ENUM:
        n = (size_t)snprintf(buf, size, "<");
        for (size_t i = 0; k->allowed[i] && n < size; i++)
            n += (size_t)snprintf(buf + n, size - n, "%s%s", i ? "|" : "", k->allowed[i]);
        if (n < size)
            snprintf(buf + n, size - n, ">");
        break;
    case KT_STRING:
        snprintf(buf, size, "<TEXT max %" PRId64 " bytes>", k->imax);
        break;
    }
}

void
loom_config_print_help(FILE *fp)
{
    char opt[CONFIG_NAME_MAX + 4], env[CONFIG_NAME_MAX + 8], val[128];
    LOOM_ASSERT(fp);
    fprintf(fp, "loom options (each also a LOOM_* variable and a key of the --config file):\n");
    fprintf(fp, "  %-24s %-30s %-15s %s [LOOM_CONFIG]\n", "--config", "<FILE>", "default none",
            "libconfig file read before variables and options");
    for (size_t i = 0; i < NKEYS; i++) {
        const struct key_def *k = &config_keys[i];
        char def[48];
        option_name(k, opt, sizeof opt);
        env_name(k, env, sizeof env);
        help_value(k, val, sizeof val);
        snprintf(def, sizeof def, "default %s", k->type == KT_STRING && !*k->def ? "\"\"" : k->def);
        fprintf(fp, "  %-24s %-30s %-15s %s [%s]\n", opt, val, def, k->desc, env);
    }
}

/* Origins are paths or names from the environment: keep them on one line. */
static void
print_comment_text(FILE *fp, const char *text)
{
    for (; *text; text++) {
        unsigned char c = (unsigned char)*text;
        fputc((c < 0x20 || c == 0x7f) ? '?' : c, fp);
    }
}

static void
print_value(FILE *fp, const struct key_def *k, const union value *v)
{
    char buf[48];
    switch (k->type) {
    case KT_INT:
    case KT_SIZE:
        /* 'L' keeps values beyond int32 intact for any libconfig reader. */
        fprintf(fp, "%" PRId64 "%s", v->i, (v->i > INT32_MAX || v->i < INT32_MIN) ? "L" : "");
        break;
    case KT_FLOAT:
        format_double(buf, sizeof buf, v->d);
        /* Without '.' or an exponent libconfig would read an integer. */
        fprintf(fp, "%s%s", buf, strpbrk(buf, ".e") ? "" : ".0");
        break;
    case KT_BOOL:
        fprintf(fp, "%s", v->b ? "true" : "false");
        break;
    case KT_ENUM:
        fprintf(fp, "\"%s\"", k->allowed[v->e]); /* table values need no escapes */
        break;
    case KT_STRING:
        /* control characters were refused: quotes and backslashes are all
         * that libconfig needs escaped */
        fputc('"', fp);
        for (const char *c = v->s; *c; c++) {
            if (*c == '"' || *c == '\\')
                fputc('\\', fp);
            fputc(*c, fp);
        }
        fputc('"', fp);
        break;
    }
}

void
loom_config_dump(const loom_config *cfg, FILE *fp)
{
    LOOM_ASSERT(cfg && fp);
    fprintf(fp, "# loom settings: current values and where each came from\n");
    for (size_t i = 0; i < NKEYS; i++) {
        const char *key = config_keys[i].key;
        size_t slen = section_len(key);
        int seen = 0;
        for (size_t j = 0; j < i; j++)
            seen |= section_len(config_keys[j].key) == slen &&
                    strncmp(config_keys[j].key, key, slen) == 0;
        if (seen)
            continue;
        fprintf(fp, "\n%.*s = {\n", (int)slen, key);
        for (size_t j = i; j < NKEYS; j++) {
            const struct key_def *k = &config_keys[j];
            if (section_len(k->key) != slen || strncmp(k->key, key, slen) != 0)
                continue;
            fprintf(fp, "    # from ");
            print_comment_text(fp, cfg->vals->s[j].origin);
            fprintf(fp, "\n    %s = ", k->key + slen + 1);
            print_value(fp, k, &cfg->vals->s[j].v);
            fprintf(fp, ";\n");
        }
        fprintf(fp, "};\n");
    }
}
