/* SPDX-License-Identifier: MIT */
/*
 * prog_tree — tasks that submit tasks. The master submits --roots root
 * tasks; a task of depth d < D submits B children of depth d + 1 with
 * loom_task_submit(). The tree has exactly roots * (B^(D+1) - 1) / (B - 1)
 * nodes; every node's result must reach the master once, and the result
 * stream must then say #LOOM_EDRAINED by itself (the job knows no task is
 * left, although the master submitted only the roots).
 *
 *   mpirun -np N prog_tree [loom options] [--branch B] [--depth D] [--roots R]
 *
 *   TREE branch=B depth=D roots=R nodes=N expected=N per_depth_ok=1 dup=0 failed=0 drained=1
 *   DONE status=0
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>

#include "prog_common.h"

#define WAIT_MS   60000
#define MAX_DEPTH 32

struct node {
    uint32_t depth, max_depth, branch, child; /* child: which child of its parent */
};

static int
node_task(loom_task *task, void *user)
{
    size_t len = 0;
    const void *p = loom_task_payload(task, &len);
    struct node n;
    if (len != sizeof n)
        return 100;
    memcpy(&n, p, sizeof n);
    if (n.depth < n.max_depth) {
        for (uint32_t c = 0; c < n.branch; c++) {
            struct node kid = {n.depth + 1, n.max_depth, n.branch, c};
            loom_err rc = loom_task_submit(task, "node", &kid, sizeof kid);
            if (rc != LOOM_OK) {
                out("TASK-SUBMIT rc=%s\n", loom_err_name(rc));
                return 101;
            }
        }
    }
    return loom_task_reply_i64(task, (int64_t)n.depth) == LOOM_OK ? 0 : 102;
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
    struct prog p;
    uint64_t branch = 3, depth = 6, roots = 1;
    int status = prog_config(&p, "prog_tree", &argc, argv);
    if (status != 0)
        return prog_end(&p, status);
    for (int i = 1; i < argc; i++) {
        if (!prog_opt_u64(argc, argv, &i, "--branch", &branch) &&
            !prog_opt_u64(argc, argv, &i, "--depth", &depth) &&
            !prog_opt_u64(argc, argv, &i, "--roots", &roots)) {
            fprintf(stderr, "prog_tree: unknown argument '%s'\n", argv[i]);
            return prog_end(&p, 2);
        }
    }
    if (branch < 2 || branch > 64 || depth >= MAX_DEPTH || roots < 1 || roots > 1000) {
        fprintf(stderr, "prog_tree: need 2 <= branch <= 64, depth < %d, 1 <= roots <= 1000\n",
                MAX_DEPTH);
        return prog_end(&p, 2);
    }
    if ((status = prog_init(&p, &argc, &argv)) != 0)
        return prog_end(&p, status);
    if (loom_job_register(p.job, "node", node_task, NULL) != LOOM_OK || prog_start(&p) != 0)
        return prog_end(&p, 1);

    if (!loom_job_is_master(p.job)) {
        loom_err rc = loom_job_serve(p.job);
        if (rc != LOOM_OK)
            out("SERVE rank=%d rc=%s\n", p.rank, loom_err_name(rc));
        return prog_end(&p, rc == LOOM_OK ? 0 : 1);
    }

    /* expected nodes per depth: roots * branch^d */
    uint64_t expect[MAX_DEPTH] = {0}, got[MAX_DEPTH] = {0}, total = 0;
    for (uint64_t d = 0, w = roots; d <= depth; d++, w *= branch) {
        expect[d] = w;
        total += w;
    }
    if (total > 20000000) {
        fprintf(stderr, "prog_tree: %" PRIu64 " nodes is too many for a test\n", total);
        loom_job_finish(p.job);
        return prog_end(&p, 2);
    }
    uint64_t *ids = malloc(total * sizeof *ids);
    uint64_t nodes = 0, failed = 0, strange = 0;
    if (!ids) {
        loom_job_finish(p.job);
        return prog_end(&p, 1);
    }

    loom_err rc = LOOM_OK;
    for (uint64_t r = 0; r < roots && rc == LOOM_OK; r++) {
        struct node root = {0, (uint32_t)depth, (uint32_t)branch, (uint32_t)r};
        rc = loom_job_submit(p.job, "node", &root, sizeof root, LOOM_FOREVER, NULL);
        if (rc != LOOM_OK)
            out("SUBMIT rc=%s\n", loom_err_name(rc));
    }
    loom_result res;
    while (rc == LOOM_OK) {
        rc = loom_job_next_result(p.job, WAIT_MS, &res);
        if (rc != LOOM_OK)
            break;
        int64_t d = -1;
        if (res.status != 0 || loom_result_i64(&res, &d) != LOOM_OK) {
            failed++;
            out("FAILED id=%" PRIu64 " status=%d\n", res.id, res.status);
        } else if (d < 0 || (uint64_t)d > depth) {
            strange++;
        } else {
            got[d]++;
        }
        if (nodes < total)
            ids[nodes] = res.id;
        nodes++;
        loom_result_free(&res);
    }
    int is_drained = rc == LOOM_EDRAINED;
    if (!is_drained)
        out("WAIT rc=%s after %" PRIu64 " of %" PRIu64 " nodes\n", loom_err_name(rc), nodes, total);

    uint64_t kept = nodes < total ? nodes : total, dup = 0;
    qsort(ids, kept, sizeof *ids, cmp_u64);
    for (uint64_t i = 1; i < kept; i++)
        dup += ids[i] == ids[i - 1];
    int per_depth_ok = strange == 0;
    for (uint64_t d = 0; d <= depth; d++) {
        if (got[d] != expect[d]) {
            per_depth_ok = 0;
            out("DEPTH d=%" PRIu64 " got=%" PRIu64 " expected=%" PRIu64 "\n", d, got[d], expect[d]);
        }
    }
    out("TREE branch=%" PRIu64 " depth=%" PRIu64 " roots=%" PRIu64 " nodes=%" PRIu64
        " expected=%" PRIu64 " per_depth_ok=%d dup=%" PRIu64 " failed=%" PRIu64 " drained=%d\n",
        branch, depth, roots, nodes, total, per_depth_ok, dup, failed, is_drained);
    status = nodes == total && per_depth_ok && !dup && !failed && is_drained ? 0 : 1;
    free(ids);

    rc = loom_job_finish(p.job);
    if (rc != LOOM_OK) {
        out("FINISH rc=%s\n", loom_err_name(rc));
        status = 1;
    }
    out("DONE status=%d\n", status);
    return prog_end(&p, status);
}
