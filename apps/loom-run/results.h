/* SPDX-License-Identifier: MIT */
/*
 * --results DIR: each task's output and outcome in files.
 *
 *   DIR/<seq / 1000000>/<seq / 1000 % 1000>/<seq>/command   the command run
 *                                                 stdout    its stdout, bytes as written
 *                                                 stderr    its stderr
 *                                                 status    "key value" lines (below)
 *
 * The two upper levels are three-digit, zero-padded (DIR/000/001/1234/),
 * so no directory holds more than 1000 entries below a billion tasks.
 * `status` is written last, atomically (a temporary file renamed), so its
 * presence means the other three are complete; a retried task's files hold
 * its last attempt. Keys of status: seq, attempt, exitval, signal,
 * timed_out, host, rank, start (Unix time), runtime (seconds),
 * stdout_bytes, stderr_bytes (all the task wrote), stdout_kept,
 * stderr_kept (what was kept: the rest was over process.output_limit, when
 * it is set), output_cut (1 when something was cut, else 0), command_hash.
 */
#ifndef LOOMRUN_RESULTS_H
#define LOOMRUN_RESULTS_H

#include <stddef.h>
#include <stdint.h>

#include "spool.h"

typedef struct lr_results lr_results;

struct lr_result_rec {
    uint64_t seq;
    unsigned attempt;
    int exitval, signal, timed_out, rank;
    const char *host;
    double start, runtime;
    const char *cmd, *out, *err;
    size_t cmd_len, out_len, err_len;
    uint64_t out_total, err_total;
    /* when set, stdout and stderr are these spools' bytes instead of
     * out/err (out_len/err_len unused) */
    const struct lr_spool *out_sp, *err_sp;
};

/* Create DIR (and parents) if needed and check a file can be written in
 * it. 0, or -1 with a message naming the directory in err. */
int lr_results_open(const char *dir, lr_results **out, char *err, size_t errlen);

/* Store one attempt. 0, or -1 (errno set) with a message in err. */
int lr_results_write(lr_results *r, const struct lr_result_rec *rec, char *err, size_t errlen);

/* The directory of task seq, relative to DIR ("000/001/1234"). */
void lr_results_path(uint64_t seq, char *buf, size_t len);

void lr_results_close(lr_results *r);

#endif /* LOOMRUN_RESULTS_H */
