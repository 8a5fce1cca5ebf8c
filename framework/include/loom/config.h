/* SPDX-License-Identifier: MIT */
/**
 * \file loom/config.h
 * \brief loom's settings: built-in defaults, a libconfig file, `LOOM_*`
 *        environment variables and command-line options, in that order of
 *        precedence (later wins).
 *
 * Every setting has a dotted key ("pool.threads"). The same key is
 *  - a path in the config file:            `pool = { threads = 4; };`
 *  - an environment variable:               `LOOM_POOL_THREADS=4`
 *  - a command-line option:                 `--pool-threads=4` or `--pool-threads 4`
 * `cluster/loom.cfg` documents every key with its default.
 *
 * The file is `--config FILE` if given, else `$LOOM_CONFIG` if set, else none.
 * Syntax errors, unknown keys, wrong types and out-of-range values are
 * refused with a message naming the source (file and line, variable or
 * option); a refused load changes nothing (all or nothing). So is a
 * variable or option that looks like loom's but names no setting
 * (`LOOM_POOL_THRADS`, `--pool-thread`: in loom's namespace
 * `LOOM_<SECTION>_`/`--<section>-`, or two edits from a valid name): the
 * message names the nearest valid one. Settings that contradict each
 * other (`job.worker_timeout` not above `job.heartbeat`, unless 0) are
 * refused too.
 *
 * A job created without a config (loom_job_opts.config NULL) reads the
 * built-in defaults, the `$LOOM_CONFIG` file and the `LOOM_*` variables,
 * as loom_config_load(cfg, NULL, NULL) does.
 */
#ifndef LOOM_CONFIG_H
#define LOOM_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include "loom/common.h"
#include "loom/error.h"

/**
 * \brief An opaque set of settings, created with loom_config_create() and
 *        owned by the caller until loom_config_destroy().
 *
 * Not thread-safe: load it once, then read it from any number of threads
 * (getters do not modify it). No function of this header blocks beyond
 * reading a file, and none calls MPI.
 */
typedef struct loom_config loom_config;

/**
 * \brief Create a config holding the built-in defaults.
 * \param[out] out the new config, owned by the caller; destroy it with
 *             loom_config_destroy(). Untouched on error.
 * \return #LOOM_OK or #LOOM_ENOMEM.
 * \note Never blocks. Any thread.
 */
LOOM_EXTERN loom_err loom_config_create(loom_config **out);

/**
 * \brief Destroy a config and every string it handed out.
 * \param[in] cfg the config, or NULL (nothing happens).
 * \note Cannot fail, never blocks. Any thread, once no other uses cfg.
 */
LOOM_EXTERN void loom_config_destroy(loom_config *cfg);

/**
 * \brief Apply every source in precedence order: the file (from `--config`
 *        or `$LOOM_CONFIG`), then `LOOM_*` variables, then options in argv.
 *
 * Recognised options (`--config FILE`, `--config=FILE` and `--<key>` forms of
 * every setting) are removed from argv and *argc is reduced; all other
 * arguments keep their order. Parsing stops at `--`, which is kept.
 * Refused (#LOOM_ECONFIG, the message names the nearest valid name): a set
 * `LOOM_*` variable or an option that looks like loom's but names no
 * setting (see the top of this header; `LOOM_CONFIG` and the variables
 * loom-run gives its commands, `LOOM_TASK_ID`, `LOOM_ATTEMPT`, `LOOM_RANK`,
 * `LOOM_HOST`, `LOOM_SLOT`, are not settings and are left alone); values
 * that contradict each other once every source is applied.
 *
 * \param[in,out] cfg  the config to update; unchanged unless #LOOM_OK.
 * \param[in,out] argc may be NULL (then argv is ignored).
 * \param[in,out] argv as given to main().
 * \return #LOOM_OK, #LOOM_ECONFIG (message in loom_config_error()), #LOOM_ENOMEM.
 * \note Reads the environment; not thread-safe with respect to setenv().
 *       Blocks only reading the file. Call from one thread at a time (it
 *       modifies cfg and argv); the strings left in argv stay the caller's.
 */
LOOM_EXTERN loom_err loom_config_load(loom_config *cfg, int *argc, char **argv);

/**
 * \brief Apply one libconfig file on top of the current values.
 * \param[in,out] cfg  the config to update; unchanged on error.
 * \param[in]     path the file to read (not kept).
 * \return #LOOM_OK, or #LOOM_ECONFIG naming file and line (unreadable file,
 *         syntax error, unknown key, wrong type, out of range; message in
 *         loom_config_error()); #LOOM_ENOMEM.
 * \note Blocks reading the file. One thread at a time per cfg.
 */
LOOM_EXTERN loom_err loom_config_load_file(loom_config *cfg, const char *path);

/**
 * \brief Set one key from its text form, as an option or variable would.
 * \param[in,out] cfg the config to update; unchanged on error.
 * \param[in] key    a dotted key ("pool.threads").
 * \param[in] value  its value as text ("4", "true", "debug"); copied.
 * \param[in] origin names the source in error messages and in
 *            loom_config_origin() ("--pool-threads"); copied.
 * \return #LOOM_OK, or #LOOM_ECONFIG (unknown key, bad type, out of range;
 *         message in loom_config_error()); #LOOM_ENOMEM.
 * \note Never blocks. One thread at a time per cfg.
 */
LOOM_EXTERN loom_err loom_config_set(loom_config *cfg, const char *key, const char *value,
                                     const char *origin);

/**
 * \brief Integer value of a key.
 * \param[in]  cfg the config.
 * \param[in]  key a dotted key ("pool.threads").
 * \param[out] out the value, set only on #LOOM_OK.
 * \return #LOOM_OK, or #LOOM_EINVAL if the key is unknown or not an integer.
 * \note Never blocks; any thread, concurrently with other getters.
 */
LOOM_EXTERN loom_err loom_config_get_int(const loom_config *cfg, const char *key, int64_t *out);

/**
 * \brief Floating-point value of a key.
 * \param[in]  cfg the config.
 * \param[in]  key a dotted key ("job.prefetch").
 * \param[out] out the value, set only on #LOOM_OK.
 * \return #LOOM_OK, or #LOOM_EINVAL if the key is unknown or not a number.
 * \note Never blocks; any thread, concurrently with other getters.
 */
LOOM_EXTERN loom_err loom_config_get_double(const loom_config *cfg, const char *key, double *out);

/**
 * \brief Boolean value of a key.
 * \param[in]  cfg the config.
 * \param[in]  key a dotted key.
 * \param[out] out 1 or 0, set only on #LOOM_OK.
 * \return #LOOM_OK, or #LOOM_EINVAL if the key is unknown or not a boolean.
 * \note Never blocks; any thread, concurrently with other getters.
 */
LOOM_EXTERN loom_err loom_config_get_bool(const loom_config *cfg, const char *key, int *out);

/**
 * \brief String value of a key: an enumeration ("log.level": one of its
 *        allowed words, as the table spells it) or free text ("job.events":
 *        a file name, "" when unset).
 *
 * Text values are validated when set, from any source: at most the key's
 * bound in bytes (4095 for file names; `--help` shows it) and no control
 * characters (bytes below 0x20, and 0x7f); anything else is refused like a
 * value out of range.
 * \param[in]  cfg the config.
 * \param[in]  key a dotted key ("log.level", "job.report").
 * \param[out] out a NUL-terminated string pointing into cfg (do not free);
 *             valid until cfg is changed or destroyed. Set only on #LOOM_OK.
 * \return #LOOM_OK, or #LOOM_EINVAL if the key is unknown or not a string
 *         or enumeration.
 * \note Never blocks; any thread, concurrently with other getters.
 */
LOOM_EXTERN loom_err loom_config_get_string(const loom_config *cfg, const char *key,
                                            const char **out);

/**
 * \brief Where the current value of a key came from.
 * \param[in] cfg the config.
 * \param[in] key a dotted key.
 * \return "default", the file path with ":line", the variable name, or the
 *         option; NULL if the key is unknown. Points into cfg (do not free),
 *         valid until cfg is changed or destroyed. Never blocks; any thread.
 */
LOOM_EXTERN const char *loom_config_origin(const loom_config *cfg, const char *key);

/**
 * \brief The message of the last failed load or set.
 * \param[in] cfg the config.
 * \return the message ("cluster/x.cfg:12: unknown key 'pool.thread'"), or
 *         "" if none. Points into cfg (do not free), valid until the next
 *         load or set, or destroy. Never blocks; any thread.
 */
LOOM_EXTERN const char *loom_config_error(const loom_config *cfg);

/**
 * \brief Apply process-wide settings (today: `log.level`) to the running process.
 * \param[in] cfg the config; not kept.
 * \return #LOOM_OK (cannot fail today; check it anyway, later settings may).
 * \note Never blocks. Any thread; meant for start-up.
 */
LOOM_EXTERN loom_err loom_config_apply(const loom_config *cfg);

/**
 * \brief Print every setting as its command-line option, type, default and
 *        description (for an application's --help).
 * \param[in] fp an open stream, the caller's (not closed).
 * \note Blocks only in stdio. Cannot fail visibly (write errors are the
 *       stream's). Any thread.
 */
LOOM_EXTERN void loom_config_print_help(FILE *fp);

/**
 * \brief Print every setting with its current value and origin, in libconfig
 *        syntax that loom_config_load_file() accepts.
 * \param[in] cfg the config.
 * \param[in] fp  an open stream, the caller's (not closed).
 * \note Blocks only in stdio. Cannot fail visibly (write errors are the
 *       stream's). Any thread, concurrently with getters.
 */
LOOM_EXTERN void loom_config_dump(const loom_config *cfg, FILE *fp);

#endif /* LOOM_CONFIG_H */
