/* SPDX-License-Identifier: MIT */
/*
 * Thread-local contexts.
 *
 * Each thread's context hangs off a _Thread_local pointer (fast path for
 * loom_context_current) and is also registered with a pthread key whose
 * destructor ends the context when a thread loom did not create exits.
 * Pool threads end theirs explicitly with loom__context_leave() so their
 * destructors run before the pool's join returns.
 *
 * Keys are process-wide, like pthread keys: an atomic counter hands out
 * slot numbers and a table holds each key's destructor. Keys are never
 * deleted, which keeps lookups lock-free.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "context_internal.h"
#include "internal.h"

#define LOOM_HOST_MAX 255

struct loom_context {
    char name[LOOM_CONTEXT_NAME_MAX + 1];
    int index;
    int is_static;
    void *slots[LOOM_CONTEXT_MAX_KEYS];
};

static _Thread_local loom_context *tls_ctx;

static pthread_key_t ctx_key;
static pthread_once_t ctx_once = PTHREAD_ONCE_INIT;
static char host_name[LOOM_HOST_MAX + 1];

static atomic_int process_rank = -1;
static atomic_uint n_keys;
static atomic_uint n_foreign_threads; /* for Thread-N names */
static void (*_Atomic key_dtors[LOOM_CONTEXT_MAX_KEYS])(void *);

/* Used only when a context cannot be allocated: named, but without slots. */
static loom_context fallback_ctx = {"Thread-?", -1, 1, {0}};

static void ctx_key_dtor(void *p);

static void
ctx_init_once(void)
{
    if (gethostname(host_name, sizeof host_name - 1) != 0)
        strcpy(host_name, "unknown");
    host_name[sizeof host_name - 1] = '\0';
    int rc = pthread_key_create(&ctx_key, ctx_key_dtor);
    LOOM_ASSERT(rc == 0);
}

static void
ctx_run_destructors(loom_context *ctx)
{
    /* Like pthread keys: a destructor may bind new values; repeat a bounded
     * number of rounds so teardown always ends. */
    for (int round = 0; round < 4; round++) {
        int any = 0;
        unsigned n = atomic_load(&n_keys);
        for (unsigned k = 0; k < n; k++) {
            void *v = ctx->slots[k];
            void (*dtor)(void *) = atomic_load(&key_dtors[k]);
            if (!v)
                continue;
            ctx->slots[k] = NULL;
            if (dtor) {
                dtor(v);
                any = 1;
            }
        }
        if (!any)
            break;
    }
}

static void
ctx_free(loom_context *ctx)
{
    if (!ctx || ctx->is_static)
        return;
    ctx_run_destructors(ctx);
    free(ctx);
}

static void
ctx_key_dtor(void *p)
{
    loom_context *ctx = p;
    /* The destructor must see its own context while it runs. */
    tls_ctx = ctx;
    ctx_free(ctx);
    tls_ctx = NULL;
}

static void
ctx_set_kernel_name(const char *name)
{
    char k[16]; /* the kernel keeps 15 bytes + NUL */
    snprintf(k, sizeof k, "%s", name);
    pthread_setname_np(pthread_self(), k);
}

static loom_context *
ctx_install(const char *name, int index)
{
    pthread_once(&ctx_once, ctx_init_once);
    loom_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return NULL;
    snprintf(ctx->name, sizeof ctx->name, "%s", name);
    ctx->index = index;
    tls_ctx = ctx;
    pthread_setspecific(ctx_key, ctx);
    return ctx;
}

loom_context *
loom_context_current(void)
{
    if (tls_ctx)
        return tls_ctx;
    char name[LOOM_CONTEXT_NAME_MAX + 1];
    if (gettid() == getpid())
        strcpy(name, "MainThread");
    else
        snprintf(name, sizeof name, "Thread-%u", atomic_fetch_add(&n_foreign_threads, 1) + 1);
    loom_context *ctx = ctx_install(name, -1);
    return ctx ? ctx : &fallback_ctx;
}

loom_context *
loom__context_peek(void)
{
    return tls_ctx;
}

loom_context *
loom__context_enter(const char *name, int index)
{
    loom__context_leave();
    loom_context *ctx = ctx_install(name, index);
    if (ctx)
        ctx_set_kernel_name(name);
    return ctx;
}

void
loom__context_leave(void)
{
    loom_context *ctx = tls_ctx;
    if (!ctx)
        return;
    ctx_free(ctx); /* destructors run with tls_ctx still set */
    tls_ctx = NULL;
    pthread_setspecific(ctx_key, NULL);
}

void
loom__context_set_rank(int rank)
{
    atomic_store(&process_rank, rank);
}

const char *
loom_context_name(const loom_context *ctx)
{
    LOOM_ASSERT(ctx);
    return ctx->name;
}

int
loom_context_index(const loom_context *ctx)
{
    LOOM_ASSERT(ctx);
    return ctx->index;
}

int
loom_context_rank(const loom_context *ctx)
{
    LOOM_ASSERT(ctx);
    return atomic_load(&process_rank);
}

const char *
loom_context_host(const loom_context *ctx)
{
    LOOM_ASSERT(ctx);
    pthread_once(&ctx_once, ctx_init_once);
    return host_name;
}

loom_err
loom_context_set_name(const char *name)
{
    if (!name || !*name || strlen(name) > LOOM_CONTEXT_NAME_MAX)
        return loom__fail(LOOM_EINVAL, "loom_context_set_name: a name is 1 to %d bytes",
                          LOOM_CONTEXT_NAME_MAX);
    loom_context *ctx = loom_context_current();
    if (ctx->is_static)
        return loom__fail(LOOM_ENOMEM, "out of memory for this thread's context");
    snprintf(ctx->name, sizeof ctx->name, "%s", name);
    ctx_set_kernel_name(name);
    return LOOM_OK;
}

loom_err
loom_context_key_create(loom_context_key *key, void (*dtor)(void *value))
{
    LOOM_ASSERT(key);
    unsigned k = atomic_load(&n_keys);
    do {
        if (k >= LOOM_CONTEXT_MAX_KEYS)
            return loom__fail(LOOM_ERANGE, "loom_context_key_create: all %d keys are taken",
                              LOOM_CONTEXT_MAX_KEYS);
        /* Slot k belongs to whoever wins the CAS; a loser retries with
         * the next slot. The destructor is stored after the slot is
         * claimed, which is safe: no thread can hold a value for key k
         * before this function has returned k. */
    } while (!atomic_compare_exchange_weak(&n_keys, &k, k + 1));
    atomic_store(&key_dtors[k], dtor);
    *key = k;
    return LOOM_OK;
}

loom_err
loom_context_set(loom_context *ctx, loom_context_key key, void *value)
{
    LOOM_ASSERT(ctx);
    LOOM_ASSERT(ctx == tls_ctx || ctx->is_static);
    if (key >= atomic_load(&n_keys))
        return loom__fail(LOOM_EINVAL, "loom_context_set: key %u was not created", key);
    if (ctx->is_static)
        return loom__fail(LOOM_ENOMEM, "out of memory for this thread's context");
    ctx->slots[key] = value;
    return LOOM_OK;
}

void *
loom_context_get(const loom_context *ctx, loom_context_key key)
{
    LOOM_ASSERT(ctx);
    if (key >= LOOM_CONTEXT_MAX_KEYS)
        return NULL;
    return ctx->slots[key];
}
