/* SPDX-License-Identifier: MIT */
/* Internal side of the process module (process.c), for other loom files
 * that start children of their own. */
#ifndef LOOM_SRC_PROCESS_H
#define LOOM_SRC_PROCESS_H

#include <sys/types.h>

/* Wait for the child pid to end (retrying on EINTR) and reap it. Returns its
 * wait status, or -1 if it is not ours to wait for: someone else reaped it
 * (SIGCHLD set to SIG_IGN, or a waitpid(-1) elsewhere in the process). */
int loom__proc_reap(pid_t pid);

#endif
