/* SPDX-License-Identifier: MIT */
/*
 * prog_exactly_once — every submitted task's result arrives exactly once,
 * through each way the master can receive results.
 *
 *   mpirun -np N prog_exactly_once [loom options] [--tasks K1,K2,...]
 *       [--futures M] [--map M]
 *
 * Rounds (one per K in --tasks, in order): submit K tasks of "value", whose
 * reply is a function of the payload and of the task's id; read results
 * with loom_job_next_result until all K have come; check each id was
 * submitted, arrives once, with the right value; then check that the
 * result stream is drained (#LOOM_EDRAINED). Prints
 *
 *   ROUND n=1 tasks=K ok=K dup=0 missing=0 bad=0 unknown=0 drained=1 ids_ok=1
 *
 * then, with --futures M: M futures waited in reverse order of submission,
 *
 *   FUTURES n=M ok=M bad=0 drained=1
 *
 * then, with --map M: loom_job_map over M inputs, results in input order,
 *
 *   MAP n=M ok=M bad=0 order_bad=0 drained=1
 *
 * and last "DONE status=0" after loom_job_finish. ids_ok=1 means ids start
 * at 1 (first round) and increase in submission order.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>

#include "prog_common.h"

/* Every wait for a result is bounded, so a lost result is reported, not a hang. */
#define WAIT_MS 60000

/* The reply of "value": the payload, a function of it, the task's own id. */
struct reply {
    int64_t v;
    int64_t fv;
    uint64_t id;
};

static int64_t
f(int64_t v)
{
    return (int64_t)((uint64_t)v * 0x9E3779B97F4A7C15u + 12345u);
}

static int
value_task(loom_task *task, void *user)
{
    struct reply r;
    if (loom_task_arg_i64(task, &r.v) != LOOM_OK)
        return 1;
    r.fv = f(r.v);
    r.id = loom_task_id(task);
    return loom_task_reply(task, &r, sizeof r) == LOOM_OK ? 0 : 1;
}

/* Decode and check a result of "value" against the payload it should have. */
static int
result_ok(const loom_result *res, int64_t expect_v, int check_id, int *wrong_order)
{
    struct reply r;
    if (res->status != 0 || res->len != sizeof r || !res->data)
        return 0;
    memcpy(&r, res->data, sizeof r);
    if (r.fv != f(r.v))
        return 0;
    if (r.v != expect_v) {
        if (wrong_order)
            (*wrong_order)++;
        return 0;
    }
    return !check_id || r.id == res->id;
}

struct round {
    size_t k, submitted;
    uint64_t *ids;
    int64_t *vals;
    unsigned char *seen;
    size_t ok, dup, bad, unknown;
};

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void
account(struct round *r, const loom_result *res)
{
    const uint64_t *hit = bsearch(&res->id, r->ids, r->submitted, sizeof *r->ids, cmp_u64);
    if (!hit) {
        r->unknown++;
        out("UNKNOWN id=%" PRIu64 "\n", res->id);
        return;
    }
    size_t i = (size_t)(hit - r->ids);
    if (r->seen[i]) {
        r->dup++;
        out("DUP id=%" PRIu64 "\n", res->id);
        return;
    }
    r->seen[i] = 1;
    if (result_ok(res, r->vals[i], 1, NULL)) {
        r->ok++;
    } else {
        r->bad++;
        out("BAD id=%" PRIu64 " status=%d len=%zu\n", res->id, res->status, res->len);
    }
}

/* Is the result stream drained? (Nothing is outstanding, so it must say so.) */
static int
drained(loom_job *job, size_t *extra)
{
    loom_result res;
    loom_err rc;
    while ((rc = loom_job_next_result(job, 5000, &res)) == LOOM_OK) {
        out("EXTRA id=%" PRIu64 "\n", res.id);
        (*extra)++;
        loom_result_free(&res);
    }
    if (rc != LOOM_EDRAINED)
        out("NOT-DRAINED rc=%s\n", loom_err_name(rc));
    return rc == LOOM_EDRAINED;
}

static int
run_round(loom_job *job, int n, size_t k, int64_t base, uint64_t *last_id)
{
    struct round r = {.k = k};
    int ids_ok = 1, status = 1;
    loom_err rc = LOOM_OK;
    loom_result res;
    r.ids = malloc((k + 1) * sizeof *r.ids);
    r.vals = malloc((k + 1) * sizeof *r.vals);
    r.seen = calloc(k + 1, 1);
    if (!r.ids || !r.vals || !r.seen) {
        out("ROUND n=%d out of memory\n", n);
        goto out;
    }
    for (size_t i = 0; i < k; i++) {
        int64_t v = base + (int64_t)i;
        uint64_t id = 0;
        while ((rc = loom_job_submit_i64(job, "value", v, LOOM_NOWAIT, &id)) == LOOM_EFULL) {
            /* at job.max_outstanding: consume a result to make room */
            if ((rc = loom_job_next_result(job, WAIT_MS, &res)) != LOOM_OK)
                break;
            account(&r, &res);
            loom_result_free(&res);
        }
        if (rc != LOOM_OK) {
            out("SUBMIT-FAILED n=%d i=%zu rc=%s\n", n, i, loom_err_name(rc));
            break;
        }
        if (id <= *last_id || (*last_id == 0 && id != 1)) {
            out("ID-ORDER n=%d i=%zu id=%" PRIu64 " previous=%" PRIu64 "\n", n, i, id, *last_id);
            ids_ok = 0;
        }
        *last_id = id;
        r.ids[i] = id;
        r.vals[i] = v;
        r.submitted = i + 1;
    }
    if (!ids_ok) /* keep bsearch valid */
        qsort(r.ids, r.submitted, sizeof *r.ids, cmp_u64);
    while (rc == LOOM_OK && r.ok + r.bad < r.submitted) {
        rc = loom_job_next_result(job, WAIT_MS, &res);
        if (rc != LOOM_OK) {
            out("WAIT n=%d rc=%s after %zu of %zu\n", n, loom_err_name(rc), r.ok + r.bad,
                r.submitted);
            break;
        }
        account(&r, &res);
        loom_result_free(&res);
    }
    size_t extra = 0;
    int is_drained = drained(job, &extra);
    r.unknown += extra;
    size_t missing = k - (r.ok + r.bad);
    out("ROUND n=%d tasks=%zu ok=%zu dup=%zu missing=%zu bad=%zu unknown=%zu drained=%d "
        "ids_ok=%d\n",
        n, k, r.ok, r.dup, missing, r.bad, r.unknown, is_drained, ids_ok);
    if (r.ok == k && !r.dup && !r.bad && !r.unknown && is_drained && ids_ok)
        status = 0;
out:
    free(r.ids);
    free(r.vals);
    free(r.seen);
    return status;
}

static int
run_futures(loom_job *job, size_t m)
{
    loom_job_future **fut = calloc(m + 1, sizeof *fut);
    unsigned char *done = calloc(m + 1, 1);
    size_t ok = 0, bad = 0, waited_early = 0, submitted = 0;
    loom_err rc = LOOM_OK;
    loom_result res;
    if (!fut || !done) {
        out("FUTURES out of memory\n");
        free(fut);
        free(done);
        return 1;
    }
    int64_t base = INT64_C(7000000000);
    for (size_t i = 0; i < m; i++) {
        int64_t v = base + (int64_t)i;
        while ((rc = loom_job_submit_future(job, "value", &v, sizeof v, LOOM_NOWAIT, &fut[i])) ==
               LOOM_EFULL) {
            /* at the bound: wait for the oldest future not yet waited for */
            while (waited_early < i && done[waited_early])
                waited_early++;
            if (waited_early >= i)
                break;
            rc = loom_job_future_wait(fut[waited_early], WAIT_MS, &res);
            if (rc != LOOM_OK)
                break;
            if (result_ok(&res, base + (int64_t)waited_early, 1, NULL))
                ok++;
            else
                bad++;
            done[waited_early] = 1;
            loom_result_free(&res);
        }
        if (rc != LOOM_OK) {
            out("FUTURE-SUBMIT-FAILED i=%zu rc=%s\n", i, loom_err_name(rc));
            break;
        }
        submitted = i + 1;
    }
    /* the rest in reverse order: each future holds its own result */
    for (size_t j = submitted; j-- > 0;) {
        if (done[j])
            continue;
        rc = loom_job_future_wait(fut[j], WAIT_MS, &res);
        if (rc != LOOM_OK) {
            out("FUTURE-WAIT i=%zu rc=%s\n", j, loom_err_name(rc));
            bad++;
            continue;
        }
        if (result_ok(&res, base + (int64_t)j, 1, NULL))
            ok++;
        else
            bad++;
        done[j] = 1;
        loom_result_free(&res);
    }
    /* waiting again gives a copy of the same result again ("out: a copy") */
    int rewait_ok = 1;
    if (submitted > 0) {
        memset(&res, 0, sizeof res);
        rc = loom_job_future_wait(fut[0], WAIT_MS, &res);
        if (rc != LOOM_OK || !result_ok(&res, base, 1, NULL)) {
            out("FUTURE-REWAIT rc=%s\n", loom_err_name(rc));
            rewait_ok = 0;
        }
        loom_result_free(&res);
    }
    for (size_t i = 0; i < submitted; i++)
        loom_job_future_release(fut[i]);
    size_t extra = 0;
    int is_drained = drained(job, &extra);
    out("FUTURES n=%zu ok=%zu bad=%zu drained=%d rewait_ok=%d\n", m, ok, bad + extra, is_drained,
        rewait_ok);
    free(fut);
    free(done);
    return ok == m && bad == 0 && extra == 0 && is_drained && rewait_ok ? 0 : 1;
}

static int
run_map(loom_job *job, size_t m)
{
    int64_t *vals = malloc((m + 1) * sizeof *vals);
    const void **inputs = malloc((m + 1) * sizeof *inputs);
    size_t *lens = malloc((m + 1) * sizeof *lens);
    loom_result *res = calloc(m + 1, sizeof *res);
    int status = 1;
    if (!vals || !inputs || !lens || !res) {
        out("MAP out of memory\n");
        goto out;
    }
    for (size_t i = 0; i < m; i++) {
        vals[i] = INT64_C(9000000000) + (int64_t)i * 3;
        inputs[i] = &vals[i];
        lens[i] = sizeof vals[i];
    }
    loom_err rc = loom_job_map(job, "value", inputs, lens, m, res);
    size_t ok = 0, bad = 0;
    int order_bad = 0;
    if (rc != LOOM_OK) {
        out("MAP-FAILED rc=%s\n", loom_err_name(rc));
        bad = m;
    } else {
        for (size_t i = 0; i < m; i++) {
            /* map may group inputs into one task message, so the reply's
             * task id is not compared with the result's */
            if (result_ok(&res[i], vals[i], 0, &order_bad))
                ok++;
            else
                bad++;
            loom_result_free(&res[i]);
        }
    }
    size_t extra = 0;
    int is_drained = drained(job, &extra);
    out("MAP n=%zu ok=%zu bad=%zu order_bad=%d drained=%d\n", m, ok, bad + extra, order_bad,
        is_drained);
    status = ok == m && !bad && !extra && is_drained ? 0 : 1;
out:
    free(vals);
    free(inputs);
    free(lens);
    free(res);
    return status;
}

int
main(int argc, char **argv)
{
    struct prog p;
    int status = prog_config(&p, "prog_exactly_once", &argc, argv);
    const char *tasks = "1000";
    uint64_t futures = 0, map = 0;
    if (status != 0)
        return prog_end(&p, status);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--tasks") == 0 && i + 1 < argc) {
            tasks = argv[++i];
        } else if (prog_opt_u64(argc, argv, &i, "--futures", &futures) ||
                   prog_opt_u64(argc, argv, &i, "--map", &map)) {
        } else {
            fprintf(stderr, "prog_exactly_once: unknown argument '%s'\n", argv[i]);
            return prog_end(&p, 2);
        }
    }
    if ((status = prog_init(&p, &argc, &argv)) != 0)
        return prog_end(&p, status);
    if (loom_job_register(p.job, "value", value_task, NULL) != LOOM_OK || prog_start(&p) != 0)
        return prog_end(&p, 1);

    if (!loom_job_is_master(p.job)) {
        loom_err rc = loom_job_serve(p.job);
        if (rc != LOOM_OK)
            out("SERVE rank=%d rc=%s\n", p.rank, loom_err_name(rc));
        return prog_end(&p, rc == LOOM_OK ? 0 : 1);
    }

    out("START ranks=%d\n", p.size);
    uint64_t last_id = 0;
    int n = 0;
    status = 0;
    for (const char *s = tasks; *s;) {
        char *end = NULL;
        unsigned long long k = strtoull(s, &end, 10);
        if (end == s) {
            out("BAD-TASKS-LIST %s\n", tasks);
            status = 1;
            break;
        }
        n++;
        status |= run_round(p.job, n, (size_t)k, (int64_t)n * INT64_C(1000000000), &last_id);
        s = *end == ',' ? end + 1 : end;
    }
    if (futures)
        status |= run_futures(p.job, (size_t)futures);
    if (map)
        status |= run_map(p.job, (size_t)map);
    loom_err rc = loom_job_finish(p.job);
    if (rc != LOOM_OK) {
        out("FINISH rc=%s\n", loom_err_name(rc));
        status = 1;
    }
    out("DONE status=%d\n", status);
    return prog_end(&p, status);
}
