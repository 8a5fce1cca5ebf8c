/* SPDX-License-Identifier: MIT */
/*
 * Tests of framework/src/node/config.c. Each test runs in its own process (as
 * Criterion does), so setenv() cannot leak between tests; setup() also
 * removes any LOOM_* variable inherited from the caller's environment and
 * makes a scratch directory for config files.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libconfig.h>

#include <loom/config.h>
#include <loom/log.h>

#include "internal.h"
#include "loom_test.h"

#ifndef LOOM_SOURCE_DIR
#error "LOOM_SOURCE_DIR must name the source tree (set by tests/CMakeLists.txt)"
#endif

static char dir[64];

static void
setup(void)
{
    extern char **environ;
    char *names[256];
    size_t n = 0;
    for (char **e = environ; *e && n < 256; e++) {
        if (strncmp(*e, "LOOM_", 5) == 0) {
            const char *eq = strchr(*e, '=');
            names[n++] = strndup(*e, eq ? (size_t)(eq - *e) : strlen(*e));
        }
    }
    for (size_t i = 0; i < n; i++) {
        unsetenv(names[i]);
        free(names[i]);
    }
    snprintf(dir, sizeof dir, "/tmp/loom-config-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void
teardown(void)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char path[512];
    if (!d)
        return;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

/* Write text to dir/name; the path goes to path[256]. */
static void
write_file(char *path, const char *name, const char *text)
{
    snprintf(path, 256, "%s/%s", dir, name);
    FILE *fp = fopen(path, "w");
    cr_assert_not_null(fp);
    cr_assert_eq(fwrite(text, 1, strlen(text), fp), strlen(text));
    cr_assert_eq(fclose(fp), 0);
}

static loom_config *
fresh(void)
{
    loom_config *cfg = NULL;
    loom_assert_ok(loom_config_create(&cfg));
    cr_assert_not_null(cfg);
    return cfg;
}

static int64_t
get_i(const loom_config *cfg, const char *key)
{
    int64_t v = -1;
    loom_assert_ok(loom_config_get_int(cfg, key, &v));
    return v;
}

static double
get_d(const loom_config *cfg, const char *key)
{
    double v = -1;
    loom_assert_ok(loom_config_get_double(cfg, key, &v));
    return v;
}

static const char *
get_s(const loom_config *cfg, const char *key)
{
    const char *v = NULL;
    loom_assert_ok(loom_config_get_string(cfg, key, &v));
    cr_assert_not_null(v);
    return v;
}

/* Everything loom_config_dump() writes; caller frees. */
static char *
dump_string(const loom_config *cfg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    cr_assert_not_null(fp);
    loom_config_dump(cfg, fp);
    cr_assert_eq(fclose(fp), 0);
    return buf;
}

static void
expect_error(const loom_config *cfg, const char *expected)
{
    cr_assert_str_eq(loom_config_error(cfg), expected);
}

/* Error message is "<dir>/<name>:<rest>". */
static void
expect_file_error(const loom_config *cfg, const char *name, const char *rest)
{
    char expected[600];
    snprintf(expected, sizeof expected, "%s/%s:%s", dir, name, rest);
    expect_error(cfg, expected);
}

static void
expect_origin(const loom_config *cfg, const char *key, const char *name, int line)
{
    char expected[300];
    snprintf(expected, sizeof expected, "%s/%s:%d", dir, name, line);
    cr_assert_str_eq(loom_config_origin(cfg, key), expected);
}

/* Write text to dir/name and expect loading it to fail with "<path>:<rest>",
 * leaving every value as it was. */
static void
expect_file_refused(const char *name, const char *text, const char *rest)
{
    char path[256];
    loom_config *cfg = fresh();
    char *before = dump_string(cfg);
    write_file(path, name, text);
    loom_assert_err(loom_config_load_file(cfg, path), LOOM_ECONFIG);
    expect_file_error(cfg, name, rest);
    char *after = dump_string(cfg);
    cr_assert_str_eq(after, before);
    free(after);
    free(before);
    loom_config_destroy(cfg);
}

/* The schema as the dump of a default config shows it: every key with its
 * libconfig type. This is how the tests enumerate keys without a private
 * interface. */
struct schema {
    size_t n;
    char key[32][64];
    int type[32];
};

static void
schema_read(struct schema *sc)
{
    char path[256];
    loom_config *cfg = fresh();
    char *text = dump_string(cfg);
    write_file(path, "schema.cfg", text);
    free(text);
    loom_config_destroy(cfg);

    config_t lc;
    config_init(&lc);
    cr_assert(config_read_file(&lc, path), "dump does not parse: %s:%d: %s", path,
              config_error_line(&lc), config_error_text(&lc));
    config_setting_t *root = config_root_setting(&lc);
    sc->n = 0;
    for (int g = 0; g < config_setting_length(root); g++) {
        config_setting_t *group = config_setting_get_elem(root, (unsigned)g);
        cr_assert(config_setting_is_group(group));
        for (int m = 0; m < config_setting_length(group); m++) {
            config_setting_t *s = config_setting_get_elem(group, (unsigned)m);
            cr_assert_lt(sc->n, 32);
            snprintf(sc->key[sc->n], sizeof sc->key[0], "%s.%s", config_setting_name(group),
                     config_setting_name(s));
            sc->type[sc->n] = config_setting_type(s);
            sc->n++;
        }
    }
    config_destroy(&lc);
    cr_assert_geq(sc->n, 6);
}

/* Every key has the same value in a and b. */
static void
expect_same_values(const struct schema *sc, const loom_config *a, const loom_config *b)
{
    for (size_t i = 0; i < sc->n; i++) {
        const char *key = sc->key[i];
        switch (sc->type[i]) {
        case CONFIG_TYPE_INT:
        case CONFIG_TYPE_INT64:
            cr_assert_eq(get_i(a, key), get_i(b, key), "%s differs", key);
            break;
        case CONFIG_TYPE_FLOAT:
            cr_assert_eq(get_d(a, key), get_d(b, key), "%s differs: %.17g vs %.17g", key,
                         get_d(a, key), get_d(b, key));
            break;
        case CONFIG_TYPE_STRING:
            cr_assert_str_eq(get_s(a, key), get_s(b, key), "%s differs", key);
            break;
        case CONFIG_TYPE_BOOL: {
            int va = -1, vb = -2;
            loom_assert_ok(loom_config_get_bool(a, key, &va));
            loom_assert_ok(loom_config_get_bool(b, key, &vb));
            cr_assert_eq(va, vb, "%s differs", key);
            break;
        }
        default:
            cr_assert(0, "%s has unexpected type %d in the dump", key, sc->type[i]);
        }
    }
}

/* "pool.queue_capacity" -> "LOOM_POOL_QUEUE_CAPACITY" and "--pool-queue-capacity" */
static void
names_of(const char *key, char *env, char *opt)
{
    size_t n = strlen(key);
    memcpy(env, "LOOM_", 5);
    memcpy(opt, "--", 2);
    for (size_t i = 0; i <= n; i++) {
        char c = key[i];
        env[5 + i] = c == '.' ? '_' : (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
        opt[2 + i] = (c == '.' || c == '_') ? '-' : c;
    }
}

/* --- defaults and getters ----------------------------------------------- */

Test(config, defaults_present, .init = setup, .fini = teardown, .timeout = 10)
{
    loom_config *cfg = fresh();
    cr_assert_str_eq(get_s(cfg, "log.level"), "info");
    cr_assert_eq(get_i(cfg, "pool.threads"), 0);
    cr_assert_eq(get_i(cfg, "pool.queue_capacity"), 4096);
    cr_assert_eq(get_i(cfg, "process.output_limit"), 8388608);
    cr_assert_eq(get_d(cfg, "process.timeout"), 0.0);
    cr_assert_eq(get_d(cfg, "process.kill_grace"), 2.0);
    const char *keys[] = {"log.level",           "pool.threads",
                          "pool.queue_capacity", "process.output_limit",
                          "process.timeout",     "process.kill_grace"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        cr_assert_str_eq(loom_config_origin(cfg, keys[i]), "default", "%s", keys[i]);
    cr_assert_str_eq(loom_config_error(cfg), "");
    loom_config_destroy(cfg);
    loom_config_destroy(NULL);
}

Test(config, getters_check_key_and_type, .init = setup, .fini = teardown, .timeout = 10)
{
    loom_config *cfg = fresh();
    int64_t i = 77;
    double d = 7.5;
    int b = 7;
    const char *s = "x";
    loom_assert_err(loom_config_get_int(cfg, "pool.nope", &i), LOOM_EINVAL);
    loom_assert_err(loom_config_get_int(cfg, "process.timeout", &i), LOOM_EINVAL);
    loom_assert_err(loom_config_get_int(cfg, "log.level", &i), LOOM_EINVAL);
    cr_assert_eq(i, 77);
    loom_assert_err(loom_config_get_double(cfg, "log.level", &d), LOOM_EINVAL);
    cr_assert_eq(d, 7.5);
    loom_assert_ok(loom_config_get_double(cfg, "pool.queue_capacity", &d)); /* an int is a number */
    cr_assert_eq(d, 4096.0);
    loom_assert_err(loom_config_get_bool(cfg, "pool.threads", &b), LOOM_EINVAL);
    loom_assert_err(loom_config_get_string(cfg, "pool.threads", &s), LOOM_EINVAL);
    loom_assert_err(loom_config_get_string(cfg, "pool", &s), LOOM_EINVAL);
    cr_assert_str_eq(s, "x");
    cr_assert_null(loom_config_origin(cfg, "pool.thread"));
    loom_config_destroy(cfg);
}

Test(config, two_configs_are_independent, .init = setup, .fini = teardown, .timeout = 10)
{
    loom_config *a = fresh(), *b = fresh();
    loom_assert_ok(loom_config_set(a, "pool.threads", "3", "test"));
    cr_assert_eq(get_i(a, "pool.threads"), 3);
    cr_assert_eq(get_i(b, "pool.threads"), 0);
    cr_assert_str_eq(loom_config_origin(a, "pool.threads"), "test");
    cr_assert_str_eq(loom_config_origin(b, "pool.threads"), "default");
    loom_config_destroy(a);
    loom_config_destroy(b);
}

Test(config, set_validates_and_names_origin, .init = setup, .fini = teardown, .timeout = 10)
{
    loom_config *cfg = fresh();
    loom_assert_err(loom_config_set(cfg, "pool.nope", "1", "x"), LOOM_ECONFIG);
    expect_error(cfg, "x: unknown key 'pool.nope'");
    loom_assert_err(loom_config_set(cfg, "pool.threads", "abc", "--pool-threads"), LOOM_ECONFIG);
    expect_error(cfg, "--pool-threads: 'pool.threads' must be an integer, not 'abc'");
    loom_assert_err(loom_config_set(cfg, "pool.threads", "", "y"), LOOM_ECONFIG);
    expect_error(cfg, "y: 'pool.threads' must be an integer, not ''");
    loom_assert_err(loom_config_set(cfg, "pool.threads", "12\n", "y"), LOOM_ECONFIG);
    expect_error(cfg, "y: 'pool.threads' must be an integer, not '12?'");
    loom_assert_err(loom_config_set(cfg, "pool.threads", " 12", "y"), LOOM_ECONFIG);
    cr_assert_eq(get_i(cfg, "pool.threads"), 0);
    cr_assert_str_eq(loom_config_origin(cfg, "pool.threads"), "default");
    loom_assert_ok(loom_config_set(cfg, "pool.threads", "0x20", "z"));
    cr_assert_eq(get_i(cfg, "pool.threads"), 32);
    cr_assert_str_eq(loom_config_origin(cfg, "pool.threads"), "z");
    /* Long values are cut in messages. */
    char longval[300];
    memset(longval, '7', sizeof longval - 1);
    longval[sizeof longval - 1] = '\0';
    loom_assert_err(loom_config_set(cfg, "pool.threads", longval, "w"), LOOM_ECONFIG);
    cr_assert_lt(strlen(loom_config_error(cfg)), 200);
    cr_assert_not_null(strstr(loom_config_error(cfg), "7... is out of range [0, 4096]"), "%s",
                       loom_config_error(cfg));
    loom_config_destroy(cfg);
}

/* --- files -------------------------------------------------------------- */

Test(config, valid_file_applied_with_origins, .init = setup, .fini = teardown, .timeout = 10)
{
    char path[256];
    write_file(path, "good.cfg",
               "# a comment\n"                                       /* 1 */
               "log = { level = \"debug\"; };\n"                     /* 2 */
               "pool = {\n"                                          /* 3 */
               "    threads = 8;\n"                                  /* 4 */
               "    queue_capacity = 0x100; // hex\n"                /* 5 */
               "};\n"                                                /* 6 */
               "process = {\n"                                       /* 7 */
               "    output_limit = 3000000000; /* beyond int32 */\n" /* 8 */
               "    timeout = 1.5;\n"                                /* 9 */
               "};\n");                                              /* 10 */
    loom_config *cfg = fresh();
    loom_assert_ok(loom_config_load_file(cfg, path));
    cr_assert_str_eq(get_s(cfg, "log.level"), "debug");
    cr_assert_eq(get_i(cfg, "pool.threads"), 8);
    cr_assert_eq(get_i(cfg, "pool.queue_capacity"), 256);
    cr_assert_eq(get_i(cfg, "process.output_limit"), INT64_C(3000000000));
    cr_assert_eq(get_d(cfg, "process.timeout"), 1.5);
    cr_assert_eq(get_d(cfg, "process.kill_grace"), 2.0);
    expect_origin(cfg, "log.level", "good.cfg", 2);
    expect_origin(cfg, "pool.threads", "good.cfg", 4);
    expect_origin(cfg, "pool.queue_capacity", "good.cfg", 5);
    expect_origin(cfg, "process.output_limit", "good.cfg", 8);
    expect_origin(cfg, "process.timeout", "good.cfg", 9);
    cr_assert_str_eq(loom_config_origin(cfg, "process.kill_grace"), "default");
    cr_assert_str_eq(loom_config_error(cfg), "");

    /* A second file applies on top of the first. */
    write_file(path, "more.cfg", "pool = { threads = 2; };\n");
    loom_assert_ok(loom_config_load_file(cfg, path));
    cr_assert_eq(get_i(cfg, "pool.threads"), 2);
    cr_assert_eq(get_i(cfg, "pool.queue_capacity"), 256);
    expect_origin(cfg, "pool.threads", "more.cfg", 1);
    loom_config_destroy(cfg);
}

Test(config, empty_file_changes_nothing, .init = setup, .fini = teardown, .timeout = 10)
{
    char path[256];
    write_file(path, "empty.cfg", "# nothing\n\npool = { };\n");
    loom_config *cfg = fresh();
    loom_assert_ok(loom_config_load_file(cfg, path));
    cr_assert_str_eq(loom_config_origin(cfg, "pool.threads"), "default");
    loom_config_destroy(cfg);
}

Test(config, syntax_error_names_file_and_line, .init = setup, .fini = teardown, .timeout = 10)
{
    expect_file_refused("syntax.cfg", "pool = {\n  threads = ;\n};\n", "2: syntax error");
    expect_file_refused("brace.cfg", "# x\n\npool = {\n  threads = 1;\n", "5: syntax error");
    expect_file_refused("dup.cfg", "\npool = { threads = 1; threads = 2; };\n",
                        "2: syntax error: duplicate setting name");
}

/* Found by fuzz_config (tests/fuzz/corpus/config/toplevel-string): a string
 * where a setting name belongs. libconfig 1.5 refuses it but leaks the
 * string's buffer (its scanner's strbuf_append): suppressed for LeakSanitizer
 * in tests/support/lsan-libconfig.supp, as it is not loom's to free. */
Test(config, a_string_where_a_name_belongs_is_refused, .init = setup, .fini = teardown,
     .timeout = 10)
{
    expect_file_refused("string.cfg", "\"\"\n", "1: syntax error");
    expect_file_refused("string2.cfg", "pool = { threads = 3; };\n\"x\";\n", "2: syntax error");
}

Test(config, unknown_key_with_line, .init = setup, .fini = teardown, .timeout = 10)
{
    expect_file_refused("key.cfg", "pool = {\n  threads = 1;\n  thread = 4;\n};\n",
                        "3: unknown key 'pool.thread'");
    /* A top-level scalar is a key without a section. */
    expect_file_refused("top.cfg", "\nthreads = 4;\n", "2: unknown key 'threads'");
    /* A group inside a section is not a key either. */
    expect_file_refused("nested.cfg", "pool = {\n  extra = { a = 1; };\n};\n",
                        "2: unknown key 'pool.extra'");
}

Test(config, unknown_section, .init = setup, .fini = teardown, .timeout = 10)
{
    expect_file_refused("section.cfg", "log = { level = \"warn\"; };\npools = { threads = 4; };\n",
                        "2: unknown section 'pools'");
}

Test(config, line_numbers_survive_comments_and_strings, .init = setup, .fini = teardown,
     .timeout = 10)
{
    expect_file_refused("lines.cfg",
                        "/* a block comment\n"                         /* 1 */
                        "   over 3000000000 lines */ log = {\n"        /* 2 */
                        "  level = \"info\" # \" quote in a comment\n" /* 3 */
                        "  ;\n"                                        /* 4 */
                        "};\n"                                         /* 5 */
                        "// @include \"x.cfg\" in a comment is fine\n" /* 6 */
                        "pool = { queue_capacity = 7; bogus = 1; };\n",
                        "7: unknown key 'pool.bogus'");
}

Test(config, wrong_type, .init = setup, .fini = teardown, .timeout = 10)
{
    expect_file_refused("str.cfg", "pool = {\n  threads = \"four\";\n};\n",
                        "2: 'pool.threads' must be an integer");
    expect_file_refused("float.cfg", "pool = { threads = 4.0; };\n",
                        "1: 'pool.threads' must be an integer");
    expect_file_refused("bool.cfg", "process = { timeout = true; };\n",
                        "1: 'process.timeout' must be a number");
    expect_file_refused("enum.cfg", "log = { level = 3; };\n",
                        "1: 'log.level' must be one of error, warn, info, debug, trace");
    expect_file_refused("enumval.cfg", "log = { level = \"loud\"; };\n",
                        "1: 'log.level' must be one of error, warn, info, debug, trace, not "
                        "'loud'");
    expect_file_refused("sizestr.cfg", "process = { output_limit = \"16Q\"; };\n",
                        "1: 'process.output_limit' must be an integer (bytes, optionally with K, "
                        "M or G), not '16Q'");
}

Test(config, out_of_range_both_ends, .init = setup, .fini = teardown, .timeout = 10)
{
    expect_file_refused("hi.cfg", "pool = {\n  threads = 99999;\n};\n",
                        "2: 'pool.threads' = 99999 is out of range [0, 4096]");
    expect_file_refused("lo.cfg", "pool = { threads = -1; };\n",
                        "1: 'pool.threads' = -1 is out of range [0, 4096]");
    expect_file_refused("qlo.cfg", "pool = { queue_capacity = 0; };\n",
                        "1: 'pool.queue_capacity' = 0 is out of range [1, 16777216]");
    expect_file_refused("qhi.cfg", "pool = { queue_capacity = 16777217; };\n",
                        "1: 'pool.queue_capacity' = 16777217 is out of range [1, 16777216]");
    expect_file_refused("olo.cfg", "process = { output_limit = 1023; };\n",
                        "1: 'process.output_limit' = 1023 is out of range [1024, 1099511627776]");
    expect_file_refused("ohi.cfg", "process = { output_limit = 1099511627777; };\n",
                        "1: 'process.output_limit' = 1099511627777 is out of range [1024, "
                        "1099511627776]");
    expect_file_refused("tlo.cfg", "process = { timeout = -0.5; };\n",
                        "1: 'process.timeout' = -0.5 is out of range [0, 2000000]");
    expect_file_refused("thi.cfg", "process = { timeout = 2000000.5; };\n",
                        "1: 'process.timeout' = 2000000.5 is out of range [0, 2000000]");
    expect_file_refused("ghi.cfg", "process = { kill_grace = 4000000000; };\n",
                        "1: 'process.kill_grace' = 4000000000 is out of range [0, 3600]");

    /* The bounds themselves are accepted. */
    char path[256];
    write_file(path, "edges.cfg",
               "pool = { threads = 4096; queue_capacity = 1; };\n"
               "process = { output_limit = 1099511627776; timeout = 2000000; kill_grace = 0; "
               "};\n");
    loom_config *cfg = fresh();
    loom_assert_ok(loom_config_load_file(cfg, path));
    cr_assert_eq(get_i(cfg, "pool.threads"), 4096);
    cr_assert_eq(get_i(cfg, "process.output_limit"), INT64_C(1099511627776));
    cr_assert_eq(get_d(cfg, "process.timeout"), 2000000.0);
    cr_assert_eq(get_d(cfg, "process.kill_grace"), 0.0);
    loom_config_destroy(cfg);
}

/* libconfig 1.5 keeps only the low 32 bits of a literal beyond int32 unless
 * it ends in L; loom must not be fooled into accepting a wrapped value. */
Test(config, big_integers_are_not_wrapped, .init = setup, .fini = teardown, .timeout = 10)
{
    expect_file_refused("wrap.cfg", "pool = { threads = 4294967297; };\n",
                        "1: 'pool.threads' = 4294967297 is out of range [0, 4096]");
    expect_file_refused("wrapneg.cfg", "pool = { threads = -4294967295; };\n",
                        "1: 'pool.threads' = -4294967295 is out of range [0, 4096]");
    expect_file_refused("wraphex.cfg", "pool = { queue_capacity = 0xFFFFFFFF; };\n",
                        "1: 'pool.queue_capacity' = 4294967295 is out of range [1, 16777216]");
    expect_file_refused("huge.cfg", "\npool = { threads = 99999999999999999999; };\n",
                        "2: integer 99999999999999999999 is too large");
    expect_file_refused("hugehex.cfg", "pool = { threads = 0x8000000000000000L; };\n",
                        "1: integer 0x8000000000000000 is too large");

    char path[256];
    write_file(path, "big.cfg",
               "process = { output_limit = 4294968320; }; # 4 GiB + 1 KiB, not 1024\n");
    loom_config *cfg = fresh();
    loom_assert_ok(loom_config_load_file(cfg, path));
    cr_assert_eq(get_i(cfg, "process.output_limit"), INT64_C(4294968320));
    write_file(path, "bigl.cfg", "process = { output_limit = 0x200000000L; };\n");
    loom_assert_ok(loom_config_load_file(cfg, path));
    cr_assert_eq(get_i(cfg, "process.output_limit"), INT64_C(0x200000000));
    loom_config_destroy(cfg);
}

Test(config, aggregate_where_scalar_expected, .init = setup, .fini = teardown, .timeout = 10)
{
    expect_file_refused("array.cfg", "pool = {\n  threads = [1, 2];\n};\n",
                        "2: 'pool.threads' must be an integer");
    expect_file_refused("list.cfg", "pool = { threads = (1); };\n",
                        "1: 'pool.threads' must be an integer");
    expect_file_refused("group.cfg", "pool = { threads = { n = 1; }; };\n",
                        "1: 'pool.threads' must be an integer");
    expect_file_refused("enumarr.cfg", "log = { level = [\"info\"]; };\n",
                        "1: 'log.level' must be one of error, warn, info, debug, trace");
    expect_file_refused("sectscalar.cfg", "pool = 4;\n",
                        "1: 'pool' is a section and must be a group: pool = { ... };");
    expect_file_refused("sectlist.cfg", "process = ( 1, 2 );\n",
                        "1: 'process' is a section and must be a group: process = { ... };");
}

Test(config, missing_file, .init = setup, .fini = teardown, .timeout = 10)
{
    char expected[300];
    loom_config *cfg = fresh();
    char path[256];
    snprintf(path, sizeof path, "%s/nope.cfg", dir);
    loom_assert_err(loom_config_load_file(cfg, path), LOOM_ECONFIG);
    snprintf(expected, sizeof expected, "%s: cannot read: No such file or directory", path);
    expect_error(cfg, expected);
    loom_assert_err(loom_config_load_file(cfg, dir), LOOM_ECONFIG);
    snprintf(expected, sizeof expected, "%s: cannot read: Is a directory", dir);
    expect_error(cfg, expected);
    loom_config_destroy(cfg);
}

Test(config, bounded_file_size_and_content, .init = setup, .fini = teardown, .timeout = 10)
{
    char path[256], expected[300];
    size_t limit = 1024 * 1024;
    char *text = malloc(limit + 2);
    cr_assert_not_null(text);
    /* Exactly the limit: accepted. */
    memset(text, 'x', limit);
    text[0] = '#';
    text[limit - 1] = '\n';
    text[limit] = '\0';
    write_file(path, "limit.cfg", text);
    loom_config *cfg = fresh();
    loom_assert_ok(loom_config_load_file(cfg, path));
    /* One byte more: refused. */
    text[limit - 1] = 'x';
    text[limit] = '\n';
    text[limit + 1] = '\0';
    write_file(path, "large.cfg", text);
    loom_assert_err(loom_config_load_file(cfg, path), LOOM_ECONFIG);
    snprintf(expected, sizeof expected, "%s: file too large (more than 1048576 bytes)", path);
    expect_error(cfg, expected);
    free(text);

    /* A NUL byte would silently end the text libconfig sees. */
    snprintf(path, sizeof path, "%s/nul.cfg", dir);
    FILE *fp = fopen(path, "w");
    cr_assert_not_null(fp);
    cr_assert_eq(fwrite("pool = {};\n\0pool = 5;\n", 1, 22, fp), 22);
    cr_assert_eq(fclose(fp), 0);
    loom_assert_err(loom_config_load_file(cfg, path), LOOM_ECONFIG);
    snprintf(expected, sizeof expected, "%s: not a text file (contains a NUL byte)", path);
    expect_error(cfg, expected);
    loom_config_destroy(cfg);

    /* An included file would escape the bound. */
    write_file(path, "other.cfg", "pool = { threads = 1; };\n");
    expect_file_refused("include.cfg", "# settings\n@include \"other.cfg\"\n",
                        "2: @include is not supported");
}

Test(config, refused_file_changes_nothing, .init = setup, .fini = teardown, .timeout = 10)
{
    char path[256];
    loom_config *cfg = fresh();
    loom_assert_ok(loom_config_set(cfg, "pool.threads", "5", "before"));
    char *before = dump_string(cfg);
    /* The first settings are valid; the last one is not. */
    write_file(path, "half.cfg",
               "log = { level = \"trace\"; };\npool = { threads = 7; queue_capacity = 0; };\n");
    loom_assert_err(loom_config_load_file(cfg, path), LOOM_ECONFIG);
    char *after = dump_string(cfg);
    cr_assert_str_eq(after, before);
    cr_assert_eq(get_i(cfg, "pool.threads"), 5);
    cr_assert_str_eq(get_s(cfg, "log.level"), "info");
    cr_assert_str_eq(loom_config_origin(cfg, "pool.threads"), "before");
    free(after);
    free(before);
    loom_config_destroy(cfg);
}

/* --- environment and command line --------------------------------------- */

Test(config, env_overrides_file, .init = setup, .fini = teardown, .timeout = 10)
{
    char path[256];
    write_file(path, "env.cfg", "pool = {\n  threads = 2;\n  queue_capacity = 10;\n};\n");
    setenv("LOOM_CONFIG", path, 1);
    setenv("LOOM_POOL_THREADS", "3", 1);
    setenv("LOOM_PROCESS_KILL_GRACE", "0.25", 1);
    setenv("LOOM_TASK_ID", "17", 1);  /* not a setting: ignored */
    setenv("LOOM_POOL_THRAD", "", 1); /* a typo, but empty: unset */
    setenv("LOOM_LOG_LEVEL", "", 1);  /* empty counts as unset */
    loom_config *cfg = fresh();
    loom_assert_ok(loom_config_load(cfg, NULL, NULL));
    cr_assert_eq(get_i(cfg, "pool.threads"), 3);
    cr_assert_str_eq(loom_config_origin(cfg, "pool.threads"), "LOOM_POOL_THREADS");
    cr_assert_eq(get_i(cfg, "pool.queue_capacity"), 10);
    expect_origin(cfg, "pool.queue_capacity", "env.cfg", 3);
    cr_assert_eq(get_d(cfg, "process.kill_grace"), 0.25);
    cr_assert_str_eq(loom_config_origin(cfg, "process.kill_grace"), "LOOM_PROCESS_KILL_GRACE");
    cr_assert_str_eq(loom_config_origin(cfg, "log.level"), "default");
    loom_config_destroy(cfg);
}

Test(config, command_line_beats_env, .init = setup, .fini = teardown, .timeout = 10)
{
    setenv("LOOM_POOL_THREADS", "3", 1);
    setenv("LOOM_LOG_LEVEL", "warn", 1);
    char *argv[] = {"prog", "--pool-threads=5", "--pool-threads", "6", NULL};
    int argc = 4;
    loom_config *cfg = fresh();
    loom_assert_ok(loom_config_load(cfg, &argc, argv));
    cr_assert_eq(get_i(cfg, "pool.threads"), 6); /* the last option wins */
    cr_assert_str_eq(loom_config_origin(cfg, "pool.threads"), "--pool-threads");
    cr_assert_str_eq(get_s(cfg, "log.level"), "warn");
    cr_assert_str_eq(loom_config_origin(cfg, "log.level"), "LOOM_LOG_LEVEL");
    cr_assert_eq(argc, 1);
    cr_assert_str_eq(argv[0], "prog");
    cr_assert_null(argv[1]);
    loom_config_destroy(cfg);
}

Test(config, config_file_from_option_or_env, .init = setup, .fini = teardown, .timeout = 10)
{
    char a[256], b[256];
    write_file(a, "a.cfg", "pool = { threads = 1; queue_capacity = 11; };\n");
    write_file(b, "b.cfg", "pool = { threads = 2; };\n");
    char opt[300];
    snprintf(opt, sizeof opt, "--config=%s", a);

    /* --config=FILE */
    {
        char *argv[] = {"prog", opt, "x", NULL};
        int argc = 3;
        loom_config *cfg = fresh();
        loom_assert_ok(loom_config_load(cfg, &argc, argv));
        cr_assert_eq(get_i(cfg, "pool.threads"), 1);
        expect_origin(cfg, "pool.threads", "a.cfg", 1);
        cr_assert_eq(argc, 2);
        cr_assert_str_eq(argv[1], "x");
        cr_assert_null(argv[2]);
        loom_config_destroy(cfg);
    }
    /* --config FILE */
    {
        char *argv[] = {"prog", "--config", b, NULL};
        int argc = 3;
        loom_config *cfg = fresh();
        loom_assert_ok(loom_config_load(cfg, &argc, argv));
        cr_assert_eq(get_i(cfg, "pool.threads"), 2);
        expect_origin(cfg, "pool.threads", "b.cfg", 1);
        cr_assert_eq(argc, 1);
        loom_config_destroy(cfg);
    }
    /* $LOOM_CONFIG */
    setenv("LOOM_CONFIG", a, 1);
    {
        loom_config *cfg = fresh();
        loom_assert_ok(loom_config_load(cfg, NULL, NULL));
        cr_assert_eq(get_i(cfg, "pool.threads"), 1);
        loom_config_destroy(cfg);
    }
    /* --config wins over $LOOM_CONFIG: a.cfg is not read at all. */
    {
        char *argv[] = {"prog", "--config", b, NULL};
        int argc = 3;
        loom_config *cfg = fresh();
        loom_assert_ok(loom_config_load(cfg, &argc, argv));
        cr_assert_eq(get_i(cfg, "pool.threads"), 2);
        cr_assert_eq(get_i(cfg, "pool.queue_capacity"), 4096);
        loom_config_destroy(cfg);
    }
    /* A bad file named by $LOOM_CONFIG is an error. */
    setenv("LOOM_CONFIG", "/nonexistent/loom.cfg", 1);
    {
        loom_config *cfg = fresh();
        loom_assert_err(loom_config_load(cfg, NULL, NULL), LOOM_ECONFIG);
        expect_error(cfg, "/nonexistent/loom.cfg: cannot read: No such file or directory");
        loom_config_destroy(cfg);
    }
}

Test(config, argv_compaction_keeps_other_args_in_order, .init = setup, .fini = teardown,
     .timeout = 10)
{
    char *argv[] = {"prog",
                    "a",
                    "--pool-threads",
                    "4",
                    "--verbose",
                    "--log-level=DEBUG",
                    "-n",
                    "b",
                    "--threads=3", /* not loom's: the app decides */
                    "--process-output-limit",
                    "64K",
                    "--",
                    "--pool-threads=9", /* after "--": not an option */
                    "c",
                    NULL};
    int argc = 14;
    char *expected[] = {"prog",        "a",  "--verbose",        "-n", "b",
                        "--threads=3", "--", "--pool-threads=9", "c"};
    loom_config *cfg = fresh();
    loom_assert_ok(loom_config_load(cfg, &argc, argv));
    cr_assert_eq(argc, 9);
    for (int i = 0; i < argc; i++)
        cr_assert_str_eq(argv[i], expected[i], "argv[%d]", i);
    cr_assert_null(argv[argc]);
    cr_assert_eq(get_i(cfg, "pool.threads"), 4);
    cr_assert_str_eq(get_s(cfg, "log.level"), "debug");
    cr_assert_eq(get_i(cfg, "process.output_limit"), 65536);
    cr_assert_str_eq(loom_config_origin(cfg, "process.output_limit"), "--process-output-limit");
    loom_config_destroy(cfg);
}

Test(config, option_missing_its_value, .init = setup, .fini = teardown, .timeout = 10)
{
    struct {
        char *argv[5];
        int argc;
        const char *message;
    } cases[] = {
        {{"prog", "x", "--pool-threads", NULL}, 3, "--pool-threads: missing value"},
        {{"prog", "--log-level", "--", "y", NULL}, 4, "--log-level: missing value"},
        {{"prog", "--config", NULL}, 2, "--config: missing value"},
        {{"prog", "--config=", "z", NULL}, 3, "--config: missing file name"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char *copy[5];
        int argc = cases[c].argc;
        memcpy(copy, cases[c].argv, sizeof copy);
        loom_config *cfg = fresh();
        char *before = dump_string(cfg);
        loom_assert_err(loom_config_load(cfg, &argc, cases[c].argv), LOOM_ECONFIG);
        expect_error(cfg, cases[c].message);
        cr_assert_eq(argc, cases[c].argc);
        cr_assert_eq(memcmp(copy, cases[c].argv, sizeof copy), 0, "argv changed");
        char *after = dump_string(cfg);
        cr_assert_str_eq(after, before);
        free(after);
        free(before);
        loom_config_destroy(cfg);
    }
}

Test(config, bad_env_value_changes_nothing, .init = setup, .fini = teardown, .timeout = 10)
{
    char path[256];
    write_file(path, "base.cfg", "pool = { threads = 2; };\n");
    loom_config *cfg = fresh();
    loom_assert_ok(loom_config_load_file(cfg, path));
    char *before = dump_string(cfg);

    write_file(path, "next.cfg", "pool = { threads = 9; };\nlog = { level = \"trace\"; };\n");
    setenv("LOOM_CONFIG", path, 1);
    setenv("LOOM_PROCESS_TIMEOUT", "30", 1);
    setenv("LOOM_POOL_QUEUE_CAPACITY", "12x", 1);
    char *argv[] = {"prog", "--pool-threads=7", "keep", NULL};
    int argc = 3;
    loom_assert_err(loom_config_load(cfg, &argc, argv), LOOM_ECONFIG);
    expect_error(cfg,
                 "LOOM_POOL_QUEUE_CAPACITY: 'pool.queue_capacity' must be an integer, not '12x'");
    char *after = dump_string(cfg);
    cr_assert_str_eq(after, before);
    cr_assert_eq(argc, 3);
    cr_assert_str_eq(argv[1], "--pool-threads=7");

    /* Out of range in a variable names it too. */
    setenv("LOOM_POOL_QUEUE_CAPACITY", "16777217", 1);
    loom_assert_err(loom_config_load(cfg, &argc, argv), LOOM_ECONFIG);
    expect_error(cfg, "LOOM_POOL_QUEUE_CAPACITY: 'pool.queue_capacity' = 16777217 is out of range "
                      "[1, 16777216]");
    free(after);
    after = dump_string(cfg);
    cr_assert_str_eq(after, before);
    free(after);
    free(before);
    loom_config_destroy(cfg);
}

Test(config, bad_option_value_changes_nothing, .init = setup, .fini = teardown, .timeout = 10)
{
    char path[256];
    write_file(path, "ok.cfg", "pool = { threads = 9; };\n");
    setenv("LOOM_CONFIG", path, 1);
    setenv("LOOM_PROCESS_TIMEOUT", "30", 1);
    char *argv[] = {"prog", "--log-level=debug", "--process-kill-grace", "forever", NULL};
    char *copy[5];
    memcpy(copy, argv, sizeof copy);
    int argc = 4;
    loom_config *cfg = fresh();
    char *before = dump_string(cfg);
    loom_assert_err(loom_config_load(cfg, &argc, argv), LOOM_ECONFIG);
    expect_error(cfg, "--process-kill-grace: 'process.kill_grace' must be a number, not 'forever'");
    char *after = dump_string(cfg);
    cr_assert_str_eq(after, before);
    cr_assert_eq(argc, 4);
    cr_assert_eq(memcmp(copy, argv, sizeof copy), 0);
    free(after);
    free(before);
    loom_config_destroy(cfg);
}

/* --- value syntax ------------------------------------------------------- */

Test(config, size_suffixes, .init = setup, .fini = teardown, .timeout = 10)
{
    struct {
        const char *text;
        int64_t value;
    } good[] = {
        {"64K", 65536},
        {"64k", 65536},
        {"8M", 8388608},
        {"2G", INT64_C(2147483648)},
        {"1024G", INT64_C(1099511627776)},
        {"0x1000", 4096},
        {"1024", 1024},
        {"+2048", 2048},
    };
    loom_config *cfg = fresh();
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        loom_assert_ok(loom_config_set(cfg, "process.output_limit", good[i].text, "t"));
        cr_assert_eq(get_i(cfg, "process.output_limit"), good[i].value, "%s", good[i].text);
    }
    const char *bad_type[] = {"8MB", "8 M", " 8M", "", "1.5M", "M", "0x", "8T", "0x10K0", "1e6"};
    for (size_t i = 0; i < sizeof bad_type / sizeof bad_type[0]; i++) {
        loom_assert_err(loom_config_set(cfg, "process.output_limit", bad_type[i], "t"),
                        LOOM_ECONFIG);
        cr_assert_not_null(strstr(loom_config_error(cfg), "must be an integer"), "%s: %s",
                           bad_type[i], loom_config_error(cfg));
    }
    const char *bad_range[] = {
        "1023", "-1", "1025G", "99999999999999999999", "9999999999999G", "-9999999999999G"};
    for (size_t i = 0; i < sizeof bad_range / sizeof bad_range[0]; i++) {
        char expected[200];
        loom_assert_err(loom_config_set(cfg, "process.output_limit", bad_range[i], "t"),
                        LOOM_ECONFIG);
        snprintf(expected, sizeof expected,
                 "t: 'process.output_limit' = %s is out of range [1024, 1099511627776]",
                 bad_range[i]);
        expect_error(cfg, expected);
    }
    cr_assert_eq(get_i(cfg, "process.output_limit"), 2048);
    /* Only sizes take suffixes. */
    loom_assert_err(loom_config_set(cfg, "pool.threads", "4K", "t"), LOOM_ECONFIG);
    expect_error(cfg, "t: 'pool.threads' must be an integer, not '4K'");

    /* In a file, a size may be a string with a suffix. */
    char path[256];
    write_file(path, "size.cfg", "process = { output_limit = \"16M\"; };\n");
    loom_assert_ok(loom_config_load_file(cfg, path));
    cr_assert_eq(get_i(cfg, "process.output_limit"), 16 << 20);
    expect_origin(cfg, "process.output_limit", "size.cfg", 1);
    loom_config_destroy(cfg);
}

Test(config, float_keys_accept_ints, .init = setup, .fini = teardown, .timeout = 10)
{
    char path[256];
    write_file(path, "f.cfg", "process = { timeout = 30; kill_grace = 5000000000L; };\n");
    loom_config *cfg = fresh();
    loom_assert_err(loom_config_load_file(cfg, path), LOOM_ECONFIG);
    expect_file_error(cfg, "f.cfg",
                      "1: 'process.kill_grace' = 5000000000 is out of range [0, 3600]");
    write_file(path, "g.cfg", "process = { timeout = 30; kill_grace = 1; };\n");
    loom_assert_ok(loom_config_load_file(cfg, path));
    cr_assert_eq(get_d(cfg, "process.timeout"), 30.0);
    cr_assert_eq(get_d(cfg, "process.kill_grace"), 1.0);

    struct {
        const char *text;
        double value;
    } good[] = {{"30", 30.0},  {"1.5", 1.5}, {"1e3", 1000.0},
                {".25", 0.25}, {"+2.", 2.0}, {"0", 0.0}};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        loom_assert_ok(loom_config_set(cfg, "process.timeout", good[i].text, "t"));
        cr_assert_eq(get_d(cfg, "process.timeout"), good[i].value, "%s", good[i].text);
    }
    const char *bad[] = {"", " 1", "1.5s", "1,5", "abc", "nan", "inf", "infinity", "1 "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char expected[200];
        loom_assert_err(loom_config_set(cfg, "process.timeout", bad[i], "t"), LOOM_ECONFIG);
        snprintf(expected, sizeof expected, "t: 'process.timeout' must be a number, not '%s'",
                 bad[i]);
        expect_error(cfg, expected);
    }
    const char *not_finite[] = {"-nan", "+inf", "1e999"};
    for (size_t i = 0; i < sizeof not_finite / sizeof not_finite[0]; i++) {
        char expected[200];
        loom_assert_err(loom_config_set(cfg, "process.timeout", not_finite[i], "t"), LOOM_ECONFIG);
        snprintf(expected, sizeof expected,
                 "t: 'process.timeout' must be a finite number, not '%s'", not_finite[i]);
        expect_error(cfg, expected);
    }
    loom_assert_err(loom_config_set(cfg, "process.kill_grace", "3600.001", "t"), LOOM_ECONFIG);
    expect_error(cfg, "t: 'process.kill_grace' = 3600.001 is out of range [0, 3600]");
    cr_assert_eq(get_d(cfg, "process.timeout"), 0.0);
    loom_config_destroy(cfg);
}

Test(config, enum_case_insensitive, .init = setup, .fini = teardown, .timeout = 10)
{
    loom_config *cfg = fresh();
    loom_assert_ok(loom_config_set(cfg, "log.level", "DEBUG", "t"));
    cr_assert_str_eq(get_s(cfg, "log.level"), "debug");
    loom_assert_ok(loom_config_set(cfg, "log.level", "wArN", "t"));
    cr_assert_str_eq(get_s(cfg, "log.level"), "warn");
    loom_assert_err(loom_config_set(cfg, "log.level", "loud", "--log-level"), LOOM_ECONFIG);
    expect_error(cfg,
                 "--log-level: 'log.level' must be one of error, warn, info, debug, trace, not "
                 "'loud'");
    loom_assert_err(loom_config_set(cfg, "log.level", "info ", "t"), LOOM_ECONFIG);
    cr_assert_str_eq(get_s(cfg, "log.level"), "warn");

    char path[256];
    write_file(path, "lvl.cfg", "log = { level = \"Trace\"; };\n");
    loom_assert_ok(loom_config_load_file(cfg, path));
    cr_assert_str_eq(get_s(cfg, "log.level"), "trace");
    loom_config_destroy(cfg);
}

/* Text keys (job.events, job.report): "" by default, from every source,
 * bounded and free of control characters, case and bytes kept as given. */
Test(config, text_keys_from_every_source, .init = setup, .fini = teardown, .timeout = 10)
{
    loom_config *cfg = fresh();
    cr_assert_str_eq(get_s(cfg, "job.events"), "");
    cr_assert_str_eq(get_s(cfg, "job.report"), "");
    cr_assert_str_eq(loom_config_origin(cfg, "job.events"), "default");
    int64_t i = 7;
    loom_assert_err(loom_config_get_int(cfg, "job.events", &i), LOOM_EINVAL);
    cr_assert_eq(i, 7);

    loom_assert_ok(loom_config_set(cfg, "job.events", "/tmp/My Events.jsonl", "t"));
    cr_assert_str_eq(get_s(cfg, "job.events"), "/tmp/My Events.jsonl");
    /* any bytes but control characters: UTF-8, quotes, backslashes */
    loom_assert_ok(loom_config_set(cfg, "job.report", "r\xc3\xa9p \"q\" a\\b.html", "t"));
    cr_assert_str_eq(get_s(cfg, "job.report"), "r\xc3\xa9p \"q\" a\\b.html");
    loom_assert_ok(loom_config_set(cfg, "job.report", "", "--job-report"));
    cr_assert_str_eq(get_s(cfg, "job.report"), "");
    cr_assert_str_eq(loom_config_origin(cfg, "job.report"), "--job-report");

    /* the file, then the variable, then the option */
    char path[256];
    write_file(path, "ev.cfg",
               "job = {\n  events = \"from-file.jsonl\";\n  report = \"r.html\";\n};\n");
    setenv("LOOM_CONFIG", path, 1);
    setenv("LOOM_JOB_EVENTS", "from-env.jsonl", 1);
    char *argv[] = {"prog", "--job-report", "from-option.html", "x", NULL};
    int argc = 4;
    loom_config *l = fresh();
    loom_assert_ok(loom_config_load(l, &argc, argv));
    cr_assert_eq(argc, 2);
    cr_assert_str_eq(argv[1], "x");
    cr_assert_str_eq(get_s(l, "job.events"), "from-env.jsonl");
    cr_assert_str_eq(loom_config_origin(l, "job.events"), "LOOM_JOB_EVENTS");
    cr_assert_str_eq(get_s(l, "job.report"), "from-option.html");
    cr_assert_str_eq(loom_config_origin(l, "job.report"), "--job-report");
    unsetenv("LOOM_JOB_EVENTS");
    loom_config *f = fresh();
    loom_assert_ok(loom_config_load_file(f, path));
    cr_assert_str_eq(get_s(f, "job.events"), "from-file.jsonl");
    expect_origin(f, "job.events", "ev.cfg", 2);
    loom_config_destroy(f);
    loom_config_destroy(l);
    loom_config_destroy(cfg);
}

Test(config, text_keys_are_bounded_and_validated, .init = setup, .fini = teardown, .timeout = 10)
{
    loom_config *cfg = fresh();
    loom_assert_ok(loom_config_set(cfg, "job.events", "keep.jsonl", "t"));
    /* 4095 bytes is the bound, 4096 too many */
    char *longest = malloc(4097);
    cr_assert_not_null(longest);
    memset(longest, 'a', 4096);
    longest[4095] = '\0';
    loom_assert_ok(loom_config_set(cfg, "job.report", longest, "t"));
    cr_assert_eq(strlen(get_s(cfg, "job.report")), 4095);
    longest[4095] = 'a';
    longest[4096] = '\0';
    loom_assert_err(loom_config_set(cfg, "job.report", longest, "--job-report"), LOOM_ECONFIG);
    cr_assert_not_null(strstr(loom_config_error(cfg),
                              "--job-report: 'job.report' must be text of at most 4095 bytes "
                              "without control characters, not 'aaaa"),
                       "%s", loom_config_error(cfg));
    cr_assert_lt(strlen(loom_config_error(cfg)), 300);
    free(longest);
    cr_assert_eq(strlen(get_s(cfg, "job.report")), 4095, "a refused value changes nothing");
    /* control characters: a newline, a tab, DEL */
    const char *bad[] = {"a\nb", "a\tb", "a\x7f", "\x1b[31m"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        loom_assert_err(loom_config_set(cfg, "job.events", bad[k], "x"), LOOM_ECONFIG);
        cr_assert_str_eq(get_s(cfg, "job.events"), "keep.jsonl");
    }
    setenv("LOOM_JOB_EVENTS", "a\tb", 1);
    loom_assert_err(loom_config_load(cfg, NULL, NULL), LOOM_ECONFIG);
    expect_error(cfg, "LOOM_JOB_EVENTS: 'job.events' must be text of at most 4095 bytes without "
                      "control characters, not 'a?b'");
    unsetenv("LOOM_JOB_EVENTS");
    loom_config_destroy(cfg);

    /* a file: a string only, with its line */
    expect_file_refused("num.cfg", "job = { events = 3; };\n",
                        "1: 'job.events' must be text of at most 4095 bytes without control "
                        "characters");
    expect_file_refused("nl.cfg", "job = {\n events = \"a\\nb\";\n};\n",
                        "2: 'job.events' must be text of at most 4095 bytes without control "
                        "characters, not 'a?b'");
}

Test(config, bool_parser, .init = setup, .fini = teardown, .timeout = 10)
{
    const char *yes[] = {"true", "TRUE", "yes", "Yes", "on", "ON", "1"};
    const char *no[] = {"false", "False", "no", "NO", "off", "Off", "0"};
    int v;
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        v = -1;
        loom_assert_ok(loom__config_parse_bool(yes[i], &v));
        cr_assert_eq(v, 1, "%s", yes[i]);
        v = -1;
        loom_assert_ok(loom__config_parse_bool(no[i], &v));
        cr_assert_eq(v, 0, "%s", no[i]);
    }
    const char *bad[] = {"", "2", "y", "n", "truee", " true", "01", "of"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        v = -1;
        loom_assert_err(loom__config_parse_bool(bad[i], &v), LOOM_EINVAL);
        cr_assert_eq(v, -1, "%s", bad[i]);
    }
}

/* --- output ------------------------------------------------------------- */

Test(config, dump_round_trip, .init = setup, .fini = teardown, .timeout = 10)
{
    char path[256];
    struct schema sc;
    schema_read(&sc);

    write_file(path, "src.cfg", "log = { level = \"trace\"; };\n\npool = { threads = 12; };\n");
    setenv("LOOM_CONFIG", path, 1);
    setenv("LOOM_PROCESS_TIMEOUT", "0.1", 1);
    char *argv[] = {"prog", "--process-kill-grace=1234.5678901234567",
                    "--process-output-limit=1024G", NULL};
    int argc = 3;
    loom_config *cfg = fresh();
    loom_assert_ok(loom_config_load(cfg, &argc, argv));
    loom_assert_ok(loom_config_set(cfg, "pool.queue_capacity", "777", "my\ntest"));
    loom_assert_ok(loom_config_set(cfg, "job.events", "a \"quoted\" \\path\\ \xc3\xa9.jsonl", "t"));
    char *text = dump_string(cfg);
    char expected[300];
    snprintf(expected, sizeof expected, "# from %s/src.cfg:3\n", dir);
    cr_assert_not_null(strstr(text, expected), "%s", text);
    cr_assert_not_null(strstr(text, "# from LOOM_PROCESS_TIMEOUT\n"), "%s", text);
    cr_assert_not_null(strstr(text, "# from --process-kill-grace\n"), "%s", text);
    cr_assert_not_null(strstr(text, "# from my?test\n"), "%s", text);
    cr_assert_not_null(strstr(text, "output_limit = 1099511627776L;"), "%s", text);

    write_file(path, "dump.cfg", text);
    free(text);
    loom_config *back = fresh();
    loom_assert_ok(loom_config_load_file(back, path));
    expect_same_values(&sc, cfg, back);
    cr_assert_eq(get_d(back, "process.kill_grace"), 1234.5678901234567);
    cr_assert_eq(get_d(back, "process.timeout"), 0.1);
    cr_assert_str_eq(get_s(back, "log.level"), "trace");
    cr_assert_str_eq(get_s(back, "job.events"), "a \"quoted\" \\path\\ \xc3\xa9.jsonl");
    /* Every key came from the dump. */
    for (size_t i = 0; i < sc.n; i++)
        cr_assert_eq(strncmp(loom_config_origin(back, sc.key[i]), path, strlen(path)), 0, "%s",
                     sc.key[i]);
    loom_config_destroy(back);

    /* Defaults round-trip too (floats that print as integers). */
    back = fresh();
    loom_config *def = fresh();
    text = dump_string(def);
    write_file(path, "defaults.cfg", text);
    free(text);
    loom_assert_ok(loom_config_load_file(back, path));
    expect_same_values(&sc, def, back);
    loom_config_destroy(def);
    loom_config_destroy(back);
    loom_config_destroy(cfg);
}

Test(config, help_lists_every_key, .init = setup, .fini = teardown, .timeout = 10)
{
    struct schema sc;
    schema_read(&sc);
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    cr_assert_not_null(fp);
    loom_config_print_help(fp);
    cr_assert_eq(fclose(fp), 0);
    cr_assert_not_null(strstr(buf, "--config "), "%s", buf);
    cr_assert_not_null(strstr(buf, "[LOOM_CONFIG]"), "%s", buf);
    for (size_t i = 0; i < sc.n; i++) {
        char env[80], opt[80], line_env[90];
        names_of(sc.key[i], env, opt);
        snprintf(line_env, sizeof line_env, "[%s]\n", env);
        const char *at = strstr(buf, opt);
        cr_assert_not_null(at, "%s missing from:\n%s", opt, buf);
        const char *eol = strchr(at, '\n');
        const char *env_at = strstr(at, line_env);
        cr_assert(eol && env_at && env_at < eol, "%s not on the line of %s:\n%s", env, opt, buf);
        cr_assert_not_null(strstr(at, "default "), "%s", buf);
    }
    cr_assert_not_null(strstr(buf, "<error|warn|info|debug|trace>"), "%s", buf);
    cr_assert_not_null(strstr(buf, "<INT 0..4096>"), "%s", buf);
    free(buf);
}

/* cluster/loom.cfg documents every key with its default: it must load, set
 * every key of the schema (no "default" origins left) to exactly the
 * built-in default, and mention each key's variable and option. */
Test(config, cluster_loom_cfg_matches_schema, .init = setup, .fini = teardown, .timeout = 10)
{
    const char *path = LOOM_SOURCE_DIR "/cluster/loom.cfg";
    struct schema sc;
    schema_read(&sc);
    loom_config *def = fresh(), *doc = fresh();
    loom_err rc = loom_config_load_file(doc, path);
    cr_assert_eq(rc, LOOM_OK, "%s", loom_config_error(doc));
    expect_same_values(&sc, def, doc);

    FILE *fp = fopen(path, "r");
    cr_assert_not_null(fp);
    static char text[65536];
    size_t n = fread(text, 1, sizeof text - 1, fp);
    text[n] = '\0';
    fclose(fp);
    for (size_t i = 0; i < sc.n; i++) {
        const char *origin = loom_config_origin(doc, sc.key[i]);
        cr_assert(strncmp(origin, path, strlen(path)) == 0 && origin[strlen(path)] == ':',
                  "%s is not set in %s (origin %s)", sc.key[i], path, origin);
        char env[80], opt[80];
        names_of(sc.key[i], env, opt);
        cr_assert_not_null(strstr(text, env), "%s does not mention %s", path, env);
        cr_assert_not_null(strstr(text, opt), "%s does not mention %s", path, opt);
    }
    loom_config_destroy(doc);
    loom_config_destroy(def);
}

Test(config, apply_sets_log_level, .init = setup, .fini = teardown, .timeout = 10)
{
    loom_config *cfg = fresh();
    loom_assert_ok(loom_config_set(cfg, "log.level", "debug", "t"));
    loom_assert_ok(loom_config_apply(cfg));
    cr_assert_eq(loom_log_get_level(), LOOM_LOG_DEBUG);
    loom_assert_ok(loom_config_set(cfg, "log.level", "Error", "t"));
    loom_assert_ok(loom_config_apply(cfg));
    cr_assert_eq(loom_log_get_level(), LOOM_LOG_ERROR);
    loom_config_destroy(cfg);
}

/* --- names that look like loom's, settings that contradict -------------- */

/* Load with nothing else set but `name=value`: refused with `message`,
 * nothing changed. */
static void
expect_env_refused(const char *name, const char *value, const char *message)
{
    setenv(name, value, 1);
    loom_config *cfg = fresh();
    char *before = dump_string(cfg);
    loom_assert_err(loom_config_load(cfg, NULL, NULL), LOOM_ECONFIG);
    expect_error(cfg, message);
    char *after = dump_string(cfg);
    cr_assert_str_eq(after, before);
    free(after);
    free(before);
    loom_config_destroy(cfg);
    unsetenv(name);
}

Test(config, unknown_loom_variable_names_the_nearest, .init = setup, .fini = teardown,
     .timeout = 10)
{
    /* a typo, two edits at most, or loom's namespace */
    expect_env_refused("LOOM_POOL_THRADS", "1",
                       "LOOM_POOL_THRADS: unknown variable; did you mean LOOM_POOL_THREADS?");
    expect_env_refused("LOOM_POOLTHREADS", "1",
                       "LOOM_POOLTHREADS: unknown variable; did you mean LOOM_POOL_THREADS?");
    expect_env_refused("LOOM_JOB_RETRY", "2",
                       "LOOM_JOB_RETRY: unknown variable; did you mean LOOM_JOB_RETRIES?");
    expect_env_refused("LOOM_JOB_EVENT", "x.jsonl",
                       "LOOM_JOB_EVENT: unknown variable; did you mean LOOM_JOB_EVENTS?");
    expect_env_refused("LOOM_LOG_LEVLE", "debug",
                       "LOOM_LOG_LEVLE: unknown variable; did you mean LOOM_LOG_LEVEL?");
    /* loom's without being settings, another program's, loom's internal
     * ones, and empty ones: left alone */
    const char *fine[] = {"LOOM_TASK_ID", "LOOM_ATTEMPT",   "LOOM_RANK",        "LOOM_HOST",
                          "LOOM_SLOT",    "LOOM_RUN_NODES", "LOOM__ISO_HELPER", "LOOM_MPIRUN",
                          "LOOM_ROOT",    "LOOM_OPTS"};
    for (size_t i = 0; i < sizeof fine / sizeof fine[0]; i++)
        setenv(fine[i], "7", 1);
    setenv("LOOM_POOL_THRADS", "", 1);
    setenv("LOOM_POOL_THREADS", "3", 1);
    loom_config *cfg = fresh();
    loom_assert_ok(loom_config_load(cfg, NULL, NULL));
    cr_assert_eq(get_i(cfg, "pool.threads"), 3);
    loom_config_destroy(cfg);
}

Test(config, unknown_loom_option_names_the_nearest, .init = setup, .fini = teardown, .timeout = 10)
{
    struct {
        char *argv[5];
        int argc;
        const char *message;
    } cases[] = {
        {{"prog", "--pool-thread=3", NULL},
         2,
         "--pool-thread: unknown option; did you mean --pool-threads?"},
        {{"prog", "x", "--job-retry", "3", NULL},
         4,
         "--job-retry: unknown option; did you mean --job-retries?"},
        {{"prog", "--pool-therads", "2", NULL},
         3,
         "--pool-therads: unknown option; did you mean --pool-threads?"},
        {{"prog", "--log-levle=debug", NULL},
         2,
         "--log-levle: unknown option; did you mean --log-level?"},
        {{"prog", "--jobevents", "e.jsonl", NULL},
         3,
         "--jobevents: unknown option; did you mean --job-events?"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char *copy[5];
        int argc = cases[c].argc;
        memcpy(copy, cases[c].argv, sizeof copy);
        loom_config *cfg = fresh();
        loom_assert_err(loom_config_load(cfg, &argc, cases[c].argv), LOOM_ECONFIG);
        expect_error(cfg, cases[c].message);
        cr_assert_eq(argc, cases[c].argc);
        cr_assert_eq(memcmp(copy, cases[c].argv, sizeof copy), 0, "argv changed");
        loom_config_destroy(cfg);
    }
    /* the apps' own options stay theirs; after "--" nothing is loom's */
    char *argv[] = {"prog", "--threads", "2", "--retries=3", "--joblog",        "j", "--tasks",
                    "t",    "--timeout", "9", "--",          "--pool-thread=1", NULL};
    int argc = 12;
    loom_config *cfg = fresh();
    loom_assert_ok(loom_config_load(cfg, &argc, argv));
    cr_assert_eq(argc, 12);
    loom_config_destroy(cfg);
}

Test(config, contradicting_settings_are_refused, .init = setup, .fini = teardown, .timeout = 10)
{
    char path[256], msg[512];
    /* a variable against the default */
    expect_env_refused("LOOM_JOB_WORKER_TIMEOUT", "0.2",
                       "'job.worker_timeout' = 0.2 (LOOM_JOB_WORKER_TIMEOUT) must be more than "
                       "'job.heartbeat' = 0.5 (default), or 0: a worker quiet between two "
                       "heartbeats would be declared lost");
    /* equal is no better; each from another source */
    write_file(path, "hb.cfg", "job = { heartbeat = 2.0; };\n");
    setenv("LOOM_CONFIG", path, 1);
    char *argv[] = {"prog", "--job-worker-timeout", "2", NULL};
    int argc = 3;
    loom_config *cfg = fresh();
    loom_assert_err(loom_config_load(cfg, &argc, argv), LOOM_ECONFIG);
    cr_assert(strstr(loom_config_error(cfg), "'job.worker_timeout' = 2 (--job-worker-timeout) "
                                             "must be more than 'job.heartbeat' = 2 ("),
              "%s", loom_config_error(cfg));
    cr_assert_eq(argc, 3, "a refused load leaves argv alone");
    cr_assert_eq(get_d(cfg, "job.heartbeat"), 0.5);
    /* 0 turns the timeout off: no contradiction; above is fine */
    char *off[] = {"prog", "--job-worker-timeout=0", NULL};
    argc = 2;
    loom_assert_ok(loom_config_load(cfg, &argc, off));
    char *above[] = {"prog", "--job-worker-timeout=2.5", NULL};
    argc = 2;
    loom_assert_ok(loom_config_load(cfg, &argc, above));
    loom_assert_ok(loom__config_check(cfg, msg, sizeof msg));
    cr_assert_str_eq(msg, "");
    /* loom_config_set checks one key at a time; the job checks the whole */
    loom_assert_ok(loom_config_set(cfg, "job.heartbeat", "3", "set"));
    loom_assert_err(loom__config_check(cfg, msg, sizeof msg), LOOM_ECONFIG);
    cr_assert(strstr(msg, "'job.heartbeat' = 3 (set)"), "%s", msg);
    loom_config_destroy(cfg);
}
