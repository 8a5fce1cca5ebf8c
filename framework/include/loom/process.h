/* SPDX-License-Identifier: MIT */
/**
 * \file loom/process.h
 * \brief Run an external command — the seed's `subprocess.call` and
 *        `Popen(...).communicate(input)`.
 *
 * A command is an argv executed directly (no shell), or, only when asked, a
 * command line given to `/bin/sh -c`. Its stdin is fed from a buffer (or is
 * /dev/null), its stdout and stderr are captured into memory up to a bound
 * per stream (truncation is flagged, never silent), and its end is reported
 * as an exit code or a terminating signal.
 *
 * The child runs in a process group of its own. A timeout sends SIGTERM to
 * the whole group, waits a grace period, then sends SIGKILL to the group, so
 * grandchildren (a shell's pipeline, a `sleep` started by a script) go too.
 * A child never outlives the thread that started it: it is started with a
 * parent-death signal (SIGKILL).
 *
 * The child gets the caller's environment without the variables Open MPI
 * sets for the caller's own MPI process (PMIX_* other than PMIX_MCA_*, PMI_*,
 * OMPI_COMM_WORLD_*, OMPI_MCA_orte_*, OMPI_MCA_ess*, OMPI_UNIVERSE_SIZE,
 * OMPI_FILE_LOCATION, ...): a command is not a rank of the caller's job, and
 * with them an MPI program started as a command (a singleton, or its own
 * mpirun) would try to join that job and abort. Other OMPI_MCA_* settings
 * pass.
 *
 * "Could not start" (program missing, not executable, bad working directory)
 * is an error return (#LOOM_ENOTFOUND, #LOOM_ENOEXEC); "ran and failed" is
 * #LOOM_OK with a non-zero exit code or a signal in the result.
 */
#ifndef LOOM_PROCESS_H
#define LOOM_PROCESS_H

#include <stddef.h>
#include <stdint.h>

#include "loom/common.h"
#include "loom/error.h"

/** \brief Default bound on captured bytes per stream (8 MiB). */
#define LOOM_PROC_OUTPUT_LIMIT_DEFAULT ((size_t)8 << 20)
/** \brief Default grace between SIGTERM and SIGKILL on timeout (2000 ms). */
#define LOOM_PROC_KILL_GRACE_DEFAULT_MS 2000

/** \brief Where output goes instead of memory (loom_proc_opts.output_fn):
 *         `len` bytes the command wrote to stream 1 (stdout) or 2 (stderr),
 *         handed over as they are read, in order; they stay loom's. */
typedef void (*loom_proc_output_fn)(void *arg, int stream, const void *data, size_t len);

/** \brief What to run and how. Zero-initialise, then set what you need.
 *         Every pointer stays the caller's; none is kept after
 *         loom_proc_run() returns. */
typedef struct loom_proc_opts {
    /** NULL-terminated argv; argv[0] is looked up in PATH when it has no '/'.
     *  Exactly one of argv and shell_cmd must be set. */
    const char *const *argv;
    /** A command line run as `/bin/sh -c shell_cmd` (pipes, redirections). */
    const char *shell_cmd;
    /** Bytes written to the child's stdin, then stdin is closed. NULL (with
     *  stdin_len 0) gives the child /dev/null. A child that exits without
     *  reading all of it is not an error. */
    const void *stdin_data;
    /** Bytes of stdin_data to write (0: none). */
    size_t stdin_len;
    /** Extra environment entries "NAME=value", NULL-terminated; they are
     *  added to (and override) the caller's environment (less its MPI
     *  job's variables, see above). May be NULL. */
    const char *const *env;
    /** Working directory of the child; NULL keeps the caller's. */
    const char *cwd;
    /** Bound on captured bytes per stream; 0 means
     *  #LOOM_PROC_OUTPUT_LIMIT_DEFAULT. Output beyond it is read and
     *  discarded (the child never blocks on a full pipe) and the result's
     *  `*_truncated` flag is set. */
    size_t output_limit;
    /** Wall-clock limit in ms from start; <= 0 means none. */
    int timeout_ms;
    /** Grace between SIGTERM and SIGKILL after a timeout, in ms; 0 means
     *  #LOOM_PROC_KILL_GRACE_DEFAULT_MS, negative means SIGKILL at once. */
    int kill_grace_ms;
    /** A descriptor the caller makes readable (an eventfd, a pipe's read
     *  end) to stop the command early: it is then ended as on a timeout
     *  (SIGTERM to the group, the grace, SIGKILL) and the result's
     *  `cancelled` is set. loom only polls it, never reads it, so one
     *  descriptor can cancel every command watching it. 0 (the default)
     *  means none: standard input is never a cancel descriptor. */
    int cancel_fd;
    /** 1: the command is done once its process has exited and the output
     *  already in the pipes is read; what a background process it left
     *  holding them writes later is not read (a job runner's view: the
     *  task ended with its command). 0 (the default): read until every
     *  holder of the pipes has closed them, as `$(...)` in a shell. */
    int exit_ends;
    /** Names (no '=') of variables of the caller's environment not to pass
     *  to the child, NULL-terminated; `env` may still set them. May be
     *  NULL. */
    const char *const *env_drop;
    /** When set, output is not captured: every piece read from stdout or
     *  stderr is handed to output_fn(output_arg, 1 or 2, data, len) as it
     *  arrives, on the calling thread (the command waits on a full pipe
     *  meanwhile). The result's out and err are then empty strings and
     *  output_limit does not apply; out_total and err_total count every
     *  byte. */
    loom_proc_output_fn output_fn;
    /** Passed to output_fn. */
    void *output_arg;
} loom_proc_opts;

/** \brief How a command ended and what it wrote. Filled by loom_proc_run();
 *         its buffers belong to it until loom_proc_result_free(). */
typedef struct loom_proc_result {
    int exited;          /**< 1 if it exited normally: see exit_code */
    int exit_code;       /**< exit status when exited, else -1 */
    int signaled;        /**< 1 if a signal ended it: see term_signal */
    int term_signal;     /**< the signal number when signaled, else 0 */
    int timed_out;       /**< 1 if loom killed it because of timeout_ms */
    int cancelled;       /**< 1 if loom killed it because cancel_fd was readable */
    int pid;             /**< its process id (also its process group id) */
    char *out;           /**< captured stdout, NUL-terminated for convenience
                              (binary-safe: use out_len); owned by the result */
    size_t out_len;      /**< bytes in out (<= output_limit) */
    uint64_t out_total;  /**< bytes the command wrote to stdout in all */
    int out_truncated;   /**< 1 if out_total > out_len */
    char *err;           /**< captured stderr, as out */
    size_t err_len;      /**< bytes in err */
    uint64_t err_total;  /**< bytes the command wrote to stderr in all */
    int err_truncated;   /**< 1 if err_total > err_len */
    double wall_seconds; /**< from start to reaping */
    int spawn_errno;     /**< errno of a failed start (with ENOTFOUND/ENOEXEC) */
} loom_proc_result;

/**
 * \brief Run a command to completion, feeding stdin and capturing output.
 *
 * \param[in]  opts what to run (copied as needed; not kept after return).
 * \param[out] res  filled on #LOOM_OK, and on #LOOM_ENOTFOUND/#LOOM_ENOEXEC
 *                  (spawn_errno says why); release with loom_proc_result_free().
 *                  On any other error it holds nothing to free.
 * \return #LOOM_OK when the command ran (whatever its exit status),
 *         #LOOM_EINVAL for bad opts (no argv and no shell_cmd, or both),
 *         #LOOM_ENOTFOUND if the program or the working directory does not
 *         exist, #LOOM_ENOEXEC if it exists but cannot be executed,
 *         #LOOM_ENOMEM, #LOOM_ESYS if pipes or processes cannot be created.
 * \note Blocks until the command and its output streams end (or the
 *       timeout). Any thread may call it; calls are independent. Signals
 *       are reset to their defaults in the child.
 */
LOOM_EXTERN loom_err loom_proc_run(const loom_proc_opts *opts, loom_proc_result *res);

/**
 * \brief Release the buffers of a result (out, err) and zero it. Accepts a
 *        zeroed or already-freed result. Cannot fail, never blocks, any
 *        thread.
 * \param[in,out] res the result; its struct stays the caller's storage.
 */
LOOM_EXTERN void loom_proc_result_free(loom_proc_result *res);

#endif /* LOOM_PROCESS_H */
