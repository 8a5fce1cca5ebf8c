/* SPDX-License-Identifier: MIT */
/*
 * joinfile_rekey SRC DST: copy the join file of directory SRC into DST
 * (created 0700) with a fresh random key — a well-formed join file whose
 * key is not the job's, for the wrong-key test (tests/cluster/join.sh).
 * Exit status: 0 written, 1 failed (the message says why).
 */
#include <stdio.h>

#include "auth.h"
#include "joinfile.h"

int
main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: joinfile_rekey SRC-DIR DST-DIR\n");
        return 1;
    }
    struct loom__join_info ji;
    char err[LOOM__JOIN_ERR_MAX];
    if (loom__joinfile_read(argv[1], &ji, err, sizeof err) != LOOM_OK ||
        loom__auth_random(ji.key, sizeof ji.key) != LOOM_OK ||
        loom__joinfile_write(argv[2], &ji, err, sizeof err) != LOOM_OK) {
        fprintf(stderr, "joinfile_rekey: %s\n", err);
        return 1;
    }
    return 0;
}
