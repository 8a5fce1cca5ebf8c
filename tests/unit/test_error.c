/* SPDX-License-Identifier: MIT */
/* Error codes (error.c): each has a unique name and message, unknown values
 * are safe, and codes are append-only. The thread's last error
 * (loom_last_error): set by a failing call with its specifics, kept by a
 * success, and each thread's own. */
#include <pthread.h>
#include <string.h>

#include "internal.h"
#include "loom/config.h"
#include "loom/log.h"
#include "loom/pool.h"
#include "loom/process.h"
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

Test(last_error, names_the_specifics_and_survives_a_success, .timeout = 10)
{
    loom_log_level level;
    loom_assert_err(loom_log_level_parse("loudest", &level), LOOM_EINVAL);
    cr_assert(strstr(loom_last_error(), "'loudest'") != NULL, "%s", loom_last_error());
    loom_assert_ok(loom_log_level_parse("debug", &level)); /* a success clears nothing */
    cr_assert(strstr(loom_last_error(), "'loudest'") != NULL, "%s", loom_last_error());
}

/* A public function passing on a helper's code: the helper's message stays
 * (recorded for this very failure); a code nobody described gets the
 * generic text, never a stale message of an earlier failure. */
Test(last_error, ret_keeps_fresh_messages_and_replaces_stale_ones, .timeout = 10)
{
    cr_assert_eq(loom__ret(loom__fail(LOOM_ERANGE, "size %d over limit %d", 9, 4)), LOOM_ERANGE);
    cr_assert_str_eq(loom_last_error(), "size 9 over limit 4");
    cr_assert_eq(loom__ret(LOOM_ERANGE), LOOM_ERANGE); /* the same code, nothing said now */
    cr_assert_str_eq(loom_last_error(), loom_strerror(LOOM_ERANGE));
    loom__fail(LOOM_ENOFUNC, "no task function named \"f\"");
    cr_assert_eq(loom__ret(LOOM_ETIMEDOUT), LOOM_ETIMEDOUT); /* another code than the note's */
    cr_assert_str_eq(loom_last_error(), loom_strerror(LOOM_ETIMEDOUT));
    cr_assert_eq(loom__ret(LOOM_OK), LOOM_OK);
    cr_assert_str_eq(loom_last_error(), loom_strerror(LOOM_ETIMEDOUT));
    cr_assert_eq(loom__fail(LOOM_OK, "not an error"), LOOM_OK); /* records nothing */
    cr_assert_str_eq(loom_last_error(), loom_strerror(LOOM_ETIMEDOUT));
}

/* Two threads fail at the same time with different specifics, then each
 * reads its own message after the other has failed too. */
struct racer {
    pthread_barrier_t *both_failed;
    const char *word;
    char before[128], seen[512];
    loom_err rc;
};

static void *
racer_main(void *arg)
{
    struct racer *r = arg;
    snprintf(r->before, sizeof r->before, "%s", loom_last_error());
    for (int i = 0; i < 1000; i++) { /* interleave many failures of both */
        loom_log_level level;
        r->rc = loom_log_level_parse(r->word, &level);
    }
    pthread_barrier_wait(r->both_failed);
    snprintf(r->seen, sizeof r->seen, "%s", loom_last_error());
    return NULL;
}

Test(last_error, is_per_thread, .timeout = 30)
{
    pthread_barrier_t b;
    pthread_barrier_init(&b, NULL, 2);
    struct racer r[2] = {{&b, "alpha-level", "", "", LOOM_OK}, {&b, "beta-level", "", "", LOOM_OK}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, racer_main, &r[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&b);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(r[i].rc, LOOM_EINVAL);
        cr_assert_str_eq(r[i].before, "no loom call has failed on this thread");
        cr_assert(strstr(r[i].seen, r[i].word) != NULL, "thread %d read \"%s\"", i, r[i].seen);
        cr_assert(strstr(r[i].seen, r[1 - i].word) == NULL, "thread %d read \"%s\"", i, r[i].seen);
    }
    /* and the main thread's own is untouched by both */
    cr_assert(strstr(loom_last_error(), "-level") == NULL, "%s", loom_last_error());
}

Test(last_error, long_messages_are_cut_not_overflowed, .timeout = 10)
{
    char big[2000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    loom__fail(LOOM_EINVAL, "%s", big);
    size_t n = strlen(loom_last_error());
    cr_assert(n > 100 && n < sizeof big - 1, "%zu bytes", n);
}

/* A few of node/'s calls: the message says which option, key or command. */
Test(last_error, node_calls_say_what, .timeout = 30)
{
    loom_pool *pool = NULL;
    loom_pool_opts o = {.threads = 1, .name_prefix = "a-prefix-much-longer-than-allowed"};
    loom_assert_err(loom_pool_create(&o, &pool), LOOM_EINVAL);
    cr_assert(strstr(loom_last_error(), "name_prefix") != NULL, "%s", loom_last_error());

    loom_config *cfg = NULL;
    int64_t v = 0;
    loom_assert_ok(loom_config_create(&cfg));
    loom_assert_err(loom_config_get_int(cfg, "pool.no_such_key", &v), LOOM_EINVAL);
    cr_assert(strstr(loom_last_error(), "'pool.no_such_key'") != NULL, "%s", loom_last_error());
    loom_assert_err(loom_config_set(cfg, "pool.threads", "many", "--pool-threads"), LOOM_ECONFIG);
    cr_assert_str_eq(loom_last_error(), loom_config_error(cfg)); /* the same words */
    loom_config_destroy(cfg);

    const char *argv[] = {"/nonexistent/loom-no-such-program", NULL};
    loom_proc_opts po = {.argv = argv};
    loom_proc_result res;
    loom_assert_err(loom_proc_run(&po, &res), LOOM_ENOTFOUND);
    cr_assert(strstr(loom_last_error(), "loom-no-such-program") != NULL, "%s", loom_last_error());
    loom_proc_result_free(&res);
}
