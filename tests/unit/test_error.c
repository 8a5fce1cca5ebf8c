/* SPDX-License-Identifier: MIT */
/* Error codes (error.c): each has a unique name and message, unknown values
 * are safe, and codes are append-only. */
#include <string.h>

#include "loom_test.h"

Test(error, ok_is_zero_and_named, .timeout = 10)
{
    cr_assert_eq(LOOM_OK, 0);
    cr_assert_str_eq(loom_err_name(LOOM_OK), "LOOM_OK");
    cr_assert_str_eq(loom_err_name(LOOM_ETIMEDOUT), "LOOM_ETIMEDOUT");
    cr_assert_str_eq(loom_strerror(LOOM_ETIMEDOUT), "timed out");
}

Test(error, every_code_has_a_unique_name_and_message, .timeout = 10)
{
    for (int i = 0; i < LOOM__ERR_COUNT; i++) {
        const char *ni = loom_err_name((loom_err)i), *mi = loom_strerror((loom_err)i);
        cr_assert(strncmp(ni, "LOOM_", 5) == 0, "%s", ni);
        cr_assert_gt(strlen(mi), 3);
        for (int j = 0; j < i; j++) {
            cr_assert(strcmp(ni, loom_err_name((loom_err)j)) != 0, "duplicate name %s", ni);
            cr_assert(strcmp(mi, loom_strerror((loom_err)j)) != 0, "duplicate message %s", mi);
        }
    }
}

Test(error, unknown_values_do_not_crash, .timeout = 10)
{
    cr_assert_str_eq(loom_strerror((loom_err)LOOM__ERR_COUNT), "unknown error");
    cr_assert_str_eq(loom_err_name((loom_err)-1), "LOOM_E?");
    cr_assert_str_eq(loom_err_name((loom_err)100000), "LOOM_E?");
}

Test(error, codes_are_append_only, .timeout = 10)
{
    /* Numbers never change meaning: a code added later sits after these. */
    cr_assert_eq(LOOM_ENOFUNC, 18);
    cr_assert_eq(LOOM_EAUTH, 19);
    cr_assert_str_eq(loom_err_name(LOOM_EAUTH), "LOOM_EAUTH");
    cr_assert_str_eq(loom_strerror(LOOM_EAUTH), "authentication failed: wrong or stale job key");
}
