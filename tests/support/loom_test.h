/* SPDX-License-Identifier: MIT */
/*
 * What every loom test includes instead of <criterion/criterion.h>.
 *
 * Normally this is Criterion. Criterion cannot start under ThreadSanitizer
 * (its inheritable arena fails to map: Criterion issue #274), so the TSan
 * build compiles the same test files against mini_runner.h, which provides
 * the subset of Criterion used here (Test, .timeout, cr_assert*) and runs
 * each test in a forked child, as Criterion does.
 */
#ifndef LOOM_TEST_H
#define LOOM_TEST_H

#ifdef LOOM_TEST_MINI
#include "mini_runner.h"
#else
#include <criterion/criterion.h>
#endif

#if defined(__SANITIZE_ADDRESS__) && !defined(LOOM_TEST_MINI)
/* Criterion ignores how a test's process exits once the test has passed,
 * so LeakSanitizer's report at exit would fail nothing. Under ASan every
 * Test() therefore runs its body, then checks for leaks while it can still
 * fail the test. */
#include <sanitizer/lsan_interface.h>
#undef Test
#define Test(Suite, Name, ...)                                                                     \
    static void Suite##_##Name##_body(void);                                                       \
    CR_EXPAND(CR_TEST_BASE(Suite, Name, ##__VA_ARGS__, .sentinel_ = 0))                            \
    {                                                                                              \
        Suite##_##Name##_body();                                                                   \
        cr_assert(__lsan_do_recoverable_leak_check() == 0,                                         \
                  "memory leaked: see the LeakSanitizer report above");                            \
    }                                                                                              \
    static void Suite##_##Name##_body(void)
#endif

#include <loom/error.h>

/* Assert that a loom call succeeded, printing the error's name if not. */
#define loom_assert_ok(expr)                                                                       \
    do {                                                                                           \
        loom_err loom_assert_rc_ = (expr);                                                         \
        cr_assert(loom_assert_rc_ == LOOM_OK, "%s failed: %s (%s)", #expr,                         \
                  loom_err_name(loom_assert_rc_), loom_strerror(loom_assert_rc_));                 \
    } while (0)

/* Assert that a loom call failed with a given code. */
#define loom_assert_err(expr, code)                                                                \
    do {                                                                                           \
        loom_err loom_assert_rc_ = (expr);                                                         \
        cr_assert(loom_assert_rc_ == (code), "%s returned %s, expected %s", #expr,                 \
                  loom_err_name(loom_assert_rc_), loom_err_name(code));                            \
    } while (0)

#endif /* LOOM_TEST_H */
