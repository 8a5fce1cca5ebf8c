/* SPDX-License-Identifier: MIT */
/*
 * A minimal stand-in for the part of Criterion loom's tests use, for builds
 * where Criterion cannot run (ThreadSanitizer). Each Test() registers itself
 * through a constructor; main() runs every test (or those whose
 * "suite::name" contains argv[1]) in a forked child with an alarm for the
 * timeout and prints Criterion-like [PASS]/[FAIL] lines. Exit status is 1 if
 * any test failed.
 */
#ifndef LOOM_MINI_RUNNER_H
#define LOOM_MINI_RUNNER_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mini_test_params {
    double timeout;
    void (*init)(void);
    void (*fini)(void);
};

struct mini_test {
    const char *suite;
    const char *name;
    void (*fn)(void);
    struct mini_test_params params;
    struct mini_test *next;
};

void mini_register(struct mini_test *t);

#define Test(suite_, name_, ...)                                                                   \
    static void suite_##_##name_##_fn(void);                                                       \
    static struct mini_test suite_##_##name_##_test = {                                            \
        #suite_, #name_, suite_##_##name_##_fn, {__VA_ARGS__}, NULL};                              \
    __attribute__((constructor)) static void suite_##_##name_##_reg(void)                          \
    {                                                                                              \
        mini_register(&suite_##_##name_##_test);                                                   \
    }                                                                                              \
    static void suite_##_##name_##_fn(void)

#define cr_assert(cond, ...)                                                                       \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "[----] %s:%d: Assertion failed: %s\n", __FILE__, __LINE__, #cond);    \
            fprintf(stderr, "[----]   " __VA_ARGS__);                                              \
            fprintf(stderr, "\n");                                                                 \
            fflush(stderr);                                                                        \
            _Exit(1);                                                                              \
        }                                                                                          \
    } while (0)
#define MINI_CMP_(a, op, b, ...)    cr_assert((a)op(b), "" __VA_ARGS__)
#define cr_assert_eq(a, b, ...)     MINI_CMP_(a, ==, b, __VA_ARGS__)
#define cr_assert_neq(a, b, ...)    MINI_CMP_(a, !=, b, __VA_ARGS__)
#define cr_assert_lt(a, b, ...)     MINI_CMP_(a, <, b, __VA_ARGS__)
#define cr_assert_leq(a, b, ...)    MINI_CMP_(a, <=, b, __VA_ARGS__)
#define cr_assert_gt(a, b, ...)     MINI_CMP_(a, >, b, __VA_ARGS__)
#define cr_assert_geq(a, b, ...)    MINI_CMP_(a, >=, b, __VA_ARGS__)
#define cr_assert_not(cond, ...)    cr_assert(!(cond), "" __VA_ARGS__)
#define cr_assert_null(p, ...)      cr_assert((p) == NULL, "" __VA_ARGS__)
#define cr_assert_not_null(p, ...)  cr_assert((p) != NULL, "" __VA_ARGS__)
#define cr_assert_str_eq(a, b, ...) cr_assert(strcmp((a), (b)) == 0, "" __VA_ARGS__)
#define cr_assert_fail(...)         cr_assert(0, "" __VA_ARGS__)
#define cr_log_info(...)            (fprintf(stderr, __VA_ARGS__), fputc('\n', stderr))

#endif /* LOOM_MINI_RUNNER_H */
