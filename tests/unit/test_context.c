/* SPDX-License-Identifier: MIT */
/* The seed's ThreadLocal lesson: each thread binds its own student and a
 * function deep down finds it without it being passed. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <loom/context.h>

#include "loom_test.h"

static loom_context_key student_key;
static atomic_int destructed;

static void
student_dtor(void *v)
{
    atomic_fetch_add(&destructed, 1);
    free(v);
}

/* Called without arguments: finds the student through the context. */
static void
process_student(char *out, size_t len)
{
    loom_context *ctx = loom_context_current();
    const char *std = loom_context_get(ctx, student_key);
    snprintf(out, len, "Hello, %s (in %s)", std ? std : "?", loom_context_name(ctx));
}

struct student_arg {
    const char *student, *thread_name;
    char greeting[128];
    pthread_barrier_t *both_bound;
};

static void *
process_thread(void *p)
{
    struct student_arg *a = p;
    cr_assert_eq(loom_context_set_name(a->thread_name), LOOM_OK);
    loom_assert_ok(loom_context_set(loom_context_current(), student_key, strdup(a->student)));
    /* both threads have bound their value before either reads */
    pthread_barrier_wait(a->both_bound);
    process_student(a->greeting, sizeof a->greeting);
    return NULL;
}

Test(context, alice_and_bob_each_see_their_own, .timeout = 20)
{
    loom_assert_ok(loom_context_key_create(&student_key, student_dtor));
    pthread_barrier_t b;
    pthread_barrier_init(&b, NULL, 2);
    struct student_arg alice = {"Alice", "Thread-A", "", &b};
    struct student_arg bob = {"Bob", "Thread-B", "", &b};
    pthread_t ta, tb;
    cr_assert_eq(pthread_create(&ta, NULL, process_thread, &alice), 0);
    cr_assert_eq(pthread_create(&tb, NULL, process_thread, &bob), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    pthread_barrier_destroy(&b);
    cr_assert_str_eq(alice.greeting, "Hello, Alice (in Thread-A)");
    cr_assert_str_eq(bob.greeting, "Hello, Bob (in Thread-B)");
    /* both threads have exited: their destructors ran, once each */
    cr_assert_eq(atomic_load(&destructed), 2);
    /* the main thread bound nothing */
    cr_assert_null(loom_context_get(loom_context_current(), student_key));
}

static void *
report_name(void *p)
{
    snprintf(p, 32, "%s", loom_context_name(loom_context_current()));
    return NULL;
}

Test(context, default_names_follow_the_seed, .timeout = 20)
{
    loom_context *ctx = loom_context_current();
    cr_assert_str_eq(loom_context_name(ctx), "MainThread");
    cr_assert_eq(loom_context_index(ctx), -1);
    cr_assert_eq(loom_context_rank(ctx), -1);
    char n1[32], n2[32];
    pthread_t t;
    pthread_create(&t, NULL, report_name, n1);
    pthread_join(t, NULL);
    pthread_create(&t, NULL, report_name, n2);
    pthread_join(t, NULL);
    cr_assert_str_eq(n1, "Thread-1");
    cr_assert_str_eq(n2, "Thread-2");
}

Test(context, host_and_kernel_thread_name, .timeout = 20)
{
    char host[256] = "";
    gethostname(host, sizeof host);
    cr_assert_str_eq(loom_context_host(loom_context_current()), host);
    loom_assert_ok(loom_context_set_name("LoopThread"));
    cr_assert_str_eq(loom_context_name(loom_context_current()), "LoopThread");
    char k[16];
    cr_assert_eq(pthread_getname_np(pthread_self(), k, sizeof k), 0);
    cr_assert_str_eq(k, "LoopThread");
    loom_assert_err(loom_context_set_name(""), LOOM_EINVAL);
    loom_assert_err(loom_context_set_name(NULL), LOOM_EINVAL);
    loom_assert_err(loom_context_set_name("a-name-that-is-far-too-long-for-a-thread"), LOOM_EINVAL);
}

static int dtor_rebinds;
static loom_context_key rebind_key;

static void
rebinding_dtor(void *v)
{
    /* a destructor that binds again must not loop forever */
    dtor_rebinds++;
    loom_context_set(loom_context_current(), rebind_key, v);
}

static void *
bind_rebinding(void *p)
{
    loom_context_set(loom_context_current(), rebind_key, p);
    return NULL;
}

Test(context, destructor_rounds_are_bounded, .timeout = 20)
{
    loom_assert_ok(loom_context_key_create(&rebind_key, rebinding_dtor));
    pthread_t t;
    static int token;
    pthread_create(&t, NULL, bind_rebinding, &token);
    pthread_join(t, NULL);
    cr_assert_eq(dtor_rebinds, 4);
}

Test(context, keys_are_bounded_and_checked, .timeout = 20)
{
    loom_context_key k;
    int created = 0;
    while (loom_context_key_create(&k, NULL) == LOOM_OK)
        created++;
    cr_assert_eq(created, LOOM_CONTEXT_MAX_KEYS);
    loom_assert_err(loom_context_key_create(&k, NULL), LOOM_ERANGE);
    loom_assert_err(loom_context_set(loom_context_current(), LOOM_CONTEXT_MAX_KEYS + 5, &k),
                    LOOM_EINVAL);
    cr_assert_null(loom_context_get(loom_context_current(), LOOM_CONTEXT_MAX_KEYS + 5));
}
