/* SPDX-License-Identifier: MIT */
/**
 * \file loom/context.h
 * \brief The thread-local context — the seed's `threading.local()`.
 *
 * Every thread that touches loom has a context: its name (`MainThread`,
 * `Worker-3`, `Thread-1`), its index in its pool, the process's rank and
 * host, and user slots. Any function reaches the current thread's context
 * with loom_context_current() without it being passed down.
 *
 * User slots are the `threading.local()` attributes: create a key once (with
 * an optional destructor), then each thread binds its own value to it and
 * sees only its own. When the thread ends (a pool thread when its pool is
 * destroyed, any other thread when it exits) the destructor runs for every
 * non-NULL value it bound — one database connection per thread, closed when
 * the thread goes.
 */
#ifndef LOOM_CONTEXT_H
#define LOOM_CONTEXT_H

#include "loom/common.h"
#include "loom/error.h"

/** \brief Maximum number of keys a process can create (loom_context_key_create()). */
#define LOOM_CONTEXT_MAX_KEYS 64
/** \brief Maximum length of a thread name, without the NUL (loom_context_set_name()). */
#define LOOM_CONTEXT_NAME_MAX 31

/**
 * \brief A thread's context (opaque). Owned by loom, never freed by the
 *        caller; valid for the life of its thread.
 */
typedef struct loom_context loom_context;

/** \brief Identifies a user slot; the same key gives each thread its own value. */
typedef unsigned loom_context_key;

/**
 * \brief The calling thread's context, created on first use.
 *
 * A thread loom did not start is named `MainThread` if it is the process's
 * initial thread, else `Thread-N` (N counting from 1 in order of first use),
 * with index -1.
 * \return never NULL. Cannot fail (falls back to a static context if memory
 *         runs out; its slots then cannot be set). Any thread.
 */
LOOM_EXTERN loom_context *loom_context_current(void);

/**
 * \brief The thread's name (`MainThread`, `Worker-3`, `Thread-1`).
 * \param[in] ctx any thread's context.
 * \return the name; owned by the context (do not free), valid until the
 *         thread renames itself or ends. Never blocks, any thread.
 */
LOOM_EXTERN const char *loom_context_name(const loom_context *ctx);

/**
 * \brief The thread's position in its pool.
 * \param[in] ctx any thread's context.
 * \return the 0-based index (`Worker-1` is 0), or -1 outside a pool. Never
 *         blocks, any thread.
 */
LOOM_EXTERN int loom_context_index(const loom_context *ctx);

/**
 * \brief The MPI rank of this process (set by loom_job_create() or
 *        loom_log_set_rank()).
 * \param[in] ctx any thread's context.
 * \return the rank, or -1 before it is known. Never blocks, any thread.
 */
LOOM_EXTERN int loom_context_rank(const loom_context *ctx);

/**
 * \brief The host name of this machine (as gethostname()).
 * \param[in] ctx any thread's context.
 * \return the name; owned by loom (do not free), valid for the life of the
 *         context. Never blocks, any thread.
 */
LOOM_EXTERN const char *loom_context_host(const loom_context *ctx);

/**
 * \brief Rename the calling thread (the seed's `Thread(name='LoopThread')`);
 *        also sets the kernel thread name (first 15 bytes) seen by `top -H`.
 * \param[in] name the new name; copied.
 * \return #LOOM_OK, or #LOOM_EINVAL if name is NULL, empty or longer than
 *         #LOOM_CONTEXT_NAME_MAX (the name is then unchanged); #LOOM_ENOMEM
 *         for the static fallback context (see loom_context_current()).
 * \note Never blocks. Renames only the calling thread; any thread.
 */
LOOM_EXTERN loom_err loom_context_set_name(const char *name);

/**
 * \brief Create a key for a user slot.
 * \param[out] key the new key.
 * \param[in]  dtor called with a thread's non-NULL value when that thread
 *             ends, on that thread; may be NULL.
 * \return #LOOM_OK, or #LOOM_ERANGE when #LOOM_CONTEXT_MAX_KEYS keys exist.
 *         Keys are never deleted. Any thread.
 */
LOOM_EXTERN loom_err loom_context_key_create(loom_context_key *key, void (*dtor)(void *value));

/**
 * \brief Bind a value to a key for the thread owning ctx.
 * \param[in] ctx must be the calling thread's context (programmer error otherwise).
 * \param key   a key from loom_context_key_create().
 * \param value the thread's value; NULL unbinds. loom does not copy it; the
 *              key's destructor (if any) receives it when the thread ends.
 * \return #LOOM_OK, #LOOM_EINVAL for a key never created, #LOOM_ENOMEM
 *         for the static fallback context. Replacing a value does not call
 *         the destructor on the old one: the caller still owns that.
 * \note Never blocks; only the thread owning ctx.
 */
LOOM_EXTERN loom_err loom_context_set(loom_context *ctx, loom_context_key key, void *value);

/**
 * \brief The value the thread owning ctx bound to key.
 * \param[in] ctx a thread's context; normally the caller's own.
 * \param key a key from loom_context_key_create().
 * \return the value (ownership unchanged), or NULL if none is bound or the
 *         key was never created. Never blocks.
 */
LOOM_EXTERN void *loom_context_get(const loom_context *ctx, loom_context_key key);

#endif /* LOOM_CONTEXT_H */
