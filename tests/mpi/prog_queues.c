/* SPDX-License-Identifier: MIT */
/*
 * prog_queues — named queues hosted by the master, used across ranks (the
 * seed's get_task_queue() / get_result_queue()).
 *
 *   mpirun -np N prog_queues [loom options] --scenario NAME [--items K]
 *
 * A worker rank uses queues from a thread of its own, started after
 * loom_job_start() and joined after loom_job_serve() returns; the master
 * uses them from its main thread. Workers report to the master through a
 * queue called "report", and the master prints one verdict line:
 *
 *   fifo     every worker puts 1..K tagged with its rank into one queue of
 *            capacity 16; the master checks each producer's order.
 *            FIFO producers=P items=T got=T order_bad=0 unknown=0 extra_rc=LOOM_ETIMEDOUT
 *   timeout  gets on empty queues time out (master and a worker), and a
 *            timed-out get does not swallow a later item.
 *            TIMEOUT master_rc=LOOM_ETIMEDOUT nowait_rc=LOOM_ETIMEDOUT
 *                    worker_rc=LOOM_ETIMEDOUT after_ok=1
 *   full     capacity 4: a 5th put times out with LOOM_EFULL, then blocks
 *            and resumes once a worker drains; the consumer sees 1..20 once.
 *            FULL timeout_rc=LOOM_EFULL nowait_rc=LOOM_EFULL blocked_rc=LOOM_OK
 *                 rest_ok=1 consumer=got=20,order_ok=1
 *   close    after close: puts fail with LOOM_ECLOSED on any rank, gets
 *            return what is left, then LOOM_EDRAINED; a waiting get is woken.
 *            CLOSE put_rc=LOOM_ECLOSED master_got=1,2,3 worker=... end_rc=LOOM_EDRAINED
 *   two      rank 1 fills "qa" while rank 2 fills "qb"; the master reads
 *            both alternately; nothing crosses between them.
 *            TWO qa_got=K qb_got=K qa_ok=1 qb_ok=1
 *   tasks    tasks put into a queue from pool threads; the master gets them.
 *            TASKS items=K got=K dup=0 results=K
 *
 * Every line ends the run with "DONE status=0" when all checks passed.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <pthread.h>

#include "prog_common.h"

#define WAIT_MS 30000

struct item {
    int64_t tag; /* producer rank, or queue letter */
    int64_t seq; /* from 1 */
};

struct worker_arg {
    loom_job *job;
    const char *scenario;
    int rank, size;
    uint64_t items;
};

static loom_queue *
qopen(loom_job *job, const char *name, size_t capacity)
{
    loom_queue *q = NULL;
    loom_err rc = loom_queue_open(job, name, capacity, &q);
    if (rc != LOOM_OK) {
        out("OPEN name=%s rank=%d rc=%s\n", name, loom_context_rank(loom_context_current()),
            loom_err_name(rc));
        return NULL;
    }
    return q;
}

static loom_err
put_item(loom_queue *q, int64_t tag, int64_t seq, int timeout_ms)
{
    struct item it = {tag, seq};
    return loom_queue_put(q, &it, sizeof it, timeout_ms);
}

/* Get an item; LOOM_EPROTO if it is not an item. */
static loom_err
get_item(loom_queue *q, struct item *it, int timeout_ms)
{
    void *data = NULL;
    size_t len = 0;
    loom_err rc = loom_queue_get(q, &data, &len, timeout_ms);
    if (rc == LOOM_OK) {
        if (len == sizeof *it)
            memcpy(it, data, sizeof *it);
        else
            rc = LOOM_EPROTO;
        free(data);
    }
    return rc;
}

/* Text messages between the master and a worker thread. */
static loom_err
put_text(loom_job *job, const char *queue, const char *text)
{
    loom_queue *q = qopen(job, queue, 0);
    if (!q)
        return LOOM_ESTATE;
    loom_err rc = loom_queue_put(q, text, strlen(text) + 1, WAIT_MS);
    loom_queue_release(q);
    return rc;
}

static loom_err
get_text(loom_job *job, const char *queue, char *buf, size_t len)
{
    loom_queue *q = qopen(job, queue, 0);
    if (!q)
        return LOOM_ESTATE;
    void *data = NULL;
    size_t n = 0;
    loom_err rc = loom_queue_get(q, &data, &n, WAIT_MS);
    if (rc == LOOM_OK) {
        snprintf(buf, len, "%.*s", (int)(n ? n - 1 : 0), data ? (char *)data : "");
        free(data);
    } else {
        snprintf(buf, len, "(get %s: %s)", queue, loom_err_name(rc));
    }
    loom_queue_release(q);
    return rc;
}

static void report(loom_job *job, const char *fmt, ...) LOOM_PRINTF(2, 3);

static void
report(loom_job *job, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    loom_err rc = put_text(job, "report", buf);
    if (rc != LOOM_OK)
        out("REPORT-FAILED rank=%d rc=%s text=%s\n", loom_context_rank(loom_context_current()),
            loom_err_name(rc), buf);
}

/* ---- fifo ---------------------------------------------------------------- */

static void
fifo_worker(struct worker_arg *a)
{
    loom_queue *q = qopen(a->job, "fifo", 16);
    if (!q)
        return;
    for (uint64_t i = 1; i <= a->items; i++) {
        loom_err rc = put_item(q, a->rank, (int64_t)i, WAIT_MS);
        if (rc != LOOM_OK) {
            out("PUT-FAILED rank=%d seq=%" PRIu64 " rc=%s\n", a->rank, i, loom_err_name(rc));
            break;
        }
    }
    loom_queue_release(q);
}

static int
fifo_master(loom_job *job, int size, uint64_t items)
{
    loom_queue *q = qopen(job, "fifo", 16);
    if (!q)
        return 1;
    int producers = size - 1;
    uint64_t total = (uint64_t)producers * items, got = 0, order_bad = 0, unknown = 0;
    int64_t *last = calloc((size_t)size, sizeof *last);
    loom_err rc = LOOM_OK;
    while (got < total) {
        struct item it;
        rc = get_item(q, &it, WAIT_MS);
        if (rc != LOOM_OK) {
            out("GET rc=%s after %" PRIu64 "\n", loom_err_name(rc), got);
            break;
        }
        got++;
        if (it.tag < 1 || it.tag >= size) {
            unknown++;
            continue;
        }
        if (it.seq != last[it.tag] + 1) {
            if (order_bad++ < 10)
                out("ORDER producer=%" PRId64 " got=%" PRId64 " after=%" PRId64 "\n", it.tag,
                    it.seq, last[it.tag]);
        }
        last[it.tag] = it.seq;
    }
    struct item it;
    loom_err extra = got == total ? get_item(q, &it, 200) : LOOM_ESTATE;
    out("FIFO producers=%d items=%" PRIu64 " got=%" PRIu64 " order_bad=%" PRIu64 " unknown=%" PRIu64
        " extra_rc=%s\n",
        producers, total, got, order_bad, unknown, loom_err_name(extra));
    free(last);
    loom_queue_release(q);
    return got == total && !order_bad && !unknown && extra == LOOM_ETIMEDOUT ? 0 : 1;
}

/* ---- timeout ------------------------------------------------------------- */

static void
timeout_worker(struct worker_arg *a)
{
    if (a->rank != 1)
        return;
    loom_queue *q = qopen(a->job, "empty-w", 0);
    if (!q)
        return;
    struct item it;
    double t0 = prog_now();
    loom_err rc = get_item(q, &it, 300);
    report(a->job, "%s elapsed_ms=%.0f", loom_err_name(rc), (prog_now() - t0) * 1000);
    loom_queue_release(q);
}

static int
timeout_master(loom_job *job)
{
    loom_queue *q = qopen(job, "empty", 0);
    if (!q)
        return 1;
    struct item it;
    double t0 = prog_now();
    loom_err rc = get_item(q, &it, 300);
    double ms = (prog_now() - t0) * 1000;
    loom_err nowait = get_item(q, &it, LOOM_NOWAIT);
    /* a get that timed out must not take an item put afterwards */
    loom_err put = put_item(q, 42, 7, WAIT_MS);
    loom_err after = get_item(q, &it, WAIT_MS);
    int after_ok = put == LOOM_OK && after == LOOM_OK && it.tag == 42 && it.seq == 7;
    char worker[128];
    get_text(job, "report", worker, sizeof worker);
    int worker_ok = strncmp(worker, "LOOM_ETIMEDOUT ", 15) == 0;
    /* elapsed times are printed for people, never asserted */
    out("TIMEOUT master_rc=%s nowait_rc=%s worker_rc=%.*s after_ok=%d (master %.0f ms, worker "
        "%s)\n",
        loom_err_name(rc), loom_err_name(nowait), (int)strcspn(worker, " "), worker, after_ok, ms,
        worker);
    loom_queue_release(q);
    return rc == LOOM_ETIMEDOUT && nowait == LOOM_ETIMEDOUT && worker_ok && after_ok ? 0 : 1;
}

/* ---- full ---------------------------------------------------------------- */

static void
full_worker(struct worker_arg *a)
{
    if (a->rank != 1)
        return;
    char go[64];
    if (get_text(a->job, "ctl", go, sizeof go) != LOOM_OK)
        return;
    loom_queue *q = qopen(a->job, "small", 4);
    if (!q)
        return;
    /* Let the master sit in its blocked put for a moment (the demonstration
     * only: nothing below depends on it having blocked). */
    prog_sleep_ms(200);
    int got = 0, order_ok = 1;
    for (int i = 1; i <= 20; i++) {
        struct item it;
        loom_err rc = get_item(q, &it, WAIT_MS);
        if (rc != LOOM_OK) {
            out("FULL-GET rank=%d i=%d rc=%s\n", a->rank, i, loom_err_name(rc));
            break;
        }
        got++;
        if (it.seq != i)
            order_ok = 0;
    }
    struct item it;
    loom_err extra = get_item(q, &it, 200);
    report(a->job, "got=%d,order_ok=%d,extra_rc=%s", got, order_ok, loom_err_name(extra));
    loom_queue_release(q);
}

static int
full_master(loom_job *job)
{
    loom_queue *q = qopen(job, "small", 4);
    if (!q)
        return 1;
    int first_ok = 1;
    for (int i = 1; i <= 4; i++)
        first_ok &= put_item(q, 0, i, WAIT_MS) == LOOM_OK;
    loom_err timeout_rc = put_item(q, 0, 5, 300);
    loom_err nowait_rc = put_item(q, 0, 5, LOOM_NOWAIT);
    put_text(job, "ctl", "go");
    double t0 = prog_now();
    loom_err blocked_rc = put_item(q, 0, 5, WAIT_MS); /* waits for the consumer */
    double ms = (prog_now() - t0) * 1000;
    int rest_ok = first_ok;
    for (int i = 6; i <= 20; i++)
        rest_ok &= put_item(q, 0, i, WAIT_MS) == LOOM_OK;
    char consumer[128];
    get_text(job, "report", consumer, sizeof consumer);
    out("FULL timeout_rc=%s nowait_rc=%s blocked_rc=%s rest_ok=%d consumer=%s (blocked %.0f ms)\n",
        loom_err_name(timeout_rc), loom_err_name(nowait_rc), loom_err_name(blocked_rc), rest_ok,
        consumer, ms);
    loom_queue_release(q);
    return timeout_rc == LOOM_EFULL && nowait_rc == LOOM_EFULL && blocked_rc == LOOM_OK &&
                   rest_ok && strcmp(consumer, "got=20,order_ok=1,extra_rc=LOOM_ETIMEDOUT") == 0
               ? 0
               : 1;
}

/* ---- close --------------------------------------------------------------- */

static void
close_worker(struct worker_arg *a)
{
    if (a->rank != 1)
        return;
    char go[64];
    if (get_text(a->job, "ctl", go, sizeof go) != LOOM_OK)
        return;
    loom_queue *q = qopen(a->job, "cd", 0);
    if (!q)
        return;
    /* 1. the queue is closed: a put fails */
    loom_err put_rc = put_item(q, 1, 99, WAIT_MS);
    report(a->job, "%s", loom_err_name(put_rc));
    /* 2. after the master took 1..3: take what is left, then EDRAINED */
    if (get_text(a->job, "ctl", go, sizeof go) != LOOM_OK)
        return;
    char got[128] = "";
    size_t used = 0;
    loom_err rc;
    struct item it;
    while ((rc = get_item(q, &it, WAIT_MS)) == LOOM_OK && used < sizeof got - 24)
        used +=
            (size_t)snprintf(got + used, sizeof got - used, "%s%" PRId64, used ? "," : "", it.seq);
    report(a->job, "got=%s,end=%s", got, loom_err_name(rc));
    loom_queue_release(q);
    /* 3. a get waiting on an empty queue is woken by its close */
    loom_queue *w = qopen(a->job, "cw", 0);
    if (!w)
        return;
    report(a->job, "waiting");
    rc = get_item(w, &it, WAIT_MS);
    report(a->job, "%s", loom_err_name(rc));
    loom_queue_release(w);
}

static int
close_master(loom_job *job)
{
    loom_queue *q = qopen(job, "cd", 16);
    loom_queue *w = qopen(job, "cw", 16);
    if (!q || !w)
        return 1;
    int first_ok = 1;
    for (int i = 1; i <= 5; i++)
        first_ok &= put_item(q, 0, i, WAIT_MS) == LOOM_OK;
    loom_err close_rc = loom_queue_close(q);
    loom_err put_rc = put_item(q, 0, 6, WAIT_MS);
    put_text(job, "ctl", "go");
    char wput[64], wrest[128], wwait[64], wwoken[64];
    get_text(job, "report", wput, sizeof wput);
    char got[64] = "";
    size_t used = 0;
    for (int i = 0; i < 3; i++) {
        struct item it;
        loom_err rc = get_item(q, &it, WAIT_MS);
        used += (size_t)snprintf(got + used, sizeof got - used, "%s%s", used ? "," : "",
                                 rc == LOOM_OK ? "" : loom_err_name(rc));
        if (rc == LOOM_OK)
            used += (size_t)snprintf(got + used, sizeof got - used, "%" PRId64, it.seq);
    }
    put_text(job, "ctl", "go");
    get_text(job, "report", wrest, sizeof wrest);
    struct item it;
    loom_err end_rc = get_item(q, &it, WAIT_MS);
    get_text(job, "report", wwait, sizeof wwait);
    loom_err wclose_rc = loom_queue_close(w);
    get_text(job, "report", wwoken, sizeof wwoken);
    out("CLOSE close_rc=%s put_rc=%s worker_put=%s master_got=%s worker=%s end_rc=%s "
        "woken=%s\n",
        loom_err_name(close_rc), loom_err_name(put_rc), wput, got, wrest, loom_err_name(end_rc),
        wwoken);
    loom_queue_release(q);
    loom_queue_release(w);
    return first_ok && close_rc == LOOM_OK && put_rc == LOOM_ECLOSED &&
                   strcmp(wput, "LOOM_ECLOSED") == 0 && strcmp(got, "1,2,3") == 0 &&
                   strcmp(wrest, "got=4,5,end=LOOM_EDRAINED") == 0 && end_rc == LOOM_EDRAINED &&
                   wclose_rc == LOOM_OK && strcmp(wwoken, "LOOM_EDRAINED") == 0
               ? 0
               : 1;
}

/* ---- two ----------------------------------------------------------------- */

static void
two_worker(struct worker_arg *a)
{
    if (a->rank != 1 && a->rank != 2)
        return;
    const char *name = a->rank == 1 ? "qa" : "qb";
    loom_queue *q = qopen(a->job, name, 8);
    if (!q)
        return;
    for (uint64_t i = 1; i <= a->items; i++) {
        loom_err rc = put_item(q, name[1], (int64_t)i, WAIT_MS);
        if (rc != LOOM_OK) {
            out("PUT-FAILED queue=%s seq=%" PRIu64 " rc=%s\n", name, i, loom_err_name(rc));
            break;
        }
    }
    loom_queue_release(q);
}

static int
two_master(loom_job *job, uint64_t items)
{
    loom_queue *q[2] = {qopen(job, "qa", 8), qopen(job, "qb", 8)};
    if (!q[0] || !q[1])
        return 1;
    uint64_t got[2] = {0, 0};
    int ok[2] = {1, 1};
    while (got[0] < items || got[1] < items) {
        for (int k = 0; k < 2; k++) {
            if (got[k] == items)
                continue;
            struct item it;
            loom_err rc = get_item(q[k], &it, WAIT_MS);
            if (rc != LOOM_OK) {
                out("GET queue=%d rc=%s\n", k, loom_err_name(rc));
                ok[k] = 0;
                got[k] = items; /* stop */
                continue;
            }
            got[k]++;
            if (it.tag != (k ? 'b' : 'a') || it.seq != (int64_t)got[k])
                ok[k] = 0;
        }
    }
    out("TWO qa_got=%" PRIu64 " qb_got=%" PRIu64 " qa_ok=%d qb_ok=%d\n", got[0], got[1], ok[0],
        ok[1]);
    loom_queue_release(q[0]);
    loom_queue_release(q[1]);
    return ok[0] && ok[1] ? 0 : 1;
}

/* ---- tasks --------------------------------------------------------------- */

static int
qput_task(loom_task *task, void *user)
{
    int64_t v;
    if (loom_task_arg_i64(task, &v) != LOOM_OK)
        return 1;
    loom_queue *q = NULL;
    loom_err rc = loom_queue_open(user, "fromtasks", 0, &q);
    if (rc == LOOM_OK)
        rc = put_item(q, loom_context_rank(loom_task_context(task)), v, WAIT_MS);
    loom_queue_release(q);
    return rc == LOOM_OK ? 0 : 10 + (int)rc;
}

static int
tasks_master(loom_job *job, uint64_t items)
{
    loom_queue *q = qopen(job, "fromtasks", 64);
    if (!q)
        return 1;
    unsigned char *seen = calloc(items + 1, 1);
    uint64_t got = 0, dup = 0, results = 0;
    loom_err rc = LOOM_OK;
    /* submit while draining the queue: the tasks' puts may wait for room */
    uint64_t submitted = 0;
    while (got < items) {
        loom_err src = LOOM_OK;
        while (submitted < items && (src = loom_job_submit_i64(job, "qput", (int64_t)submitted + 1,
                                                               LOOM_NOWAIT, NULL)) == LOOM_OK)
            submitted++;
        if (src != LOOM_OK && src != LOOM_EFULL) {
            out("SUBMIT rc=%s after %" PRIu64 "\n", loom_err_name(src), submitted);
            break;
        }
        struct item it;
        rc = get_item(q, &it, submitted < items ? 50 : WAIT_MS);
        if (rc == LOOM_ETIMEDOUT && submitted < items)
            goto results;
        if (rc != LOOM_OK) {
            out("GET rc=%s after %" PRIu64 "\n", loom_err_name(rc), got);
            break;
        }
        got++;
        if (it.seq >= 1 && (uint64_t)it.seq <= items) {
            dup += seen[it.seq];
            seen[it.seq] = 1;
        }
    results:;
        loom_result res;
        while (loom_job_next_result(job, LOOM_NOWAIT, &res) == LOOM_OK) {
            results += res.status == 0;
            if (res.status != 0)
                out("TASK-FAILED id=%" PRIu64 " status=%d\n", res.id, res.status);
            loom_result_free(&res);
        }
    }
    loom_result res;
    while (results < items && loom_job_next_result(job, WAIT_MS, &res) == LOOM_OK) {
        results += res.status == 0;
        loom_result_free(&res);
    }
    out("TASKS items=%" PRIu64 " got=%" PRIu64 " dup=%" PRIu64 " results=%" PRIu64 "\n", items, got,
        dup, results);
    free(seen);
    loom_queue_release(q);
    return got == items && !dup && results == items ? 0 : 1;
}

/* ---- main ---------------------------------------------------------------- */

static void *
worker_thread(void *p)
{
    struct worker_arg *a = p;
    if (strcmp(a->scenario, "fifo") == 0)
        fifo_worker(a);
    else if (strcmp(a->scenario, "timeout") == 0)
        timeout_worker(a);
    else if (strcmp(a->scenario, "full") == 0)
        full_worker(a);
    else if (strcmp(a->scenario, "close") == 0)
        close_worker(a);
    else if (strcmp(a->scenario, "two") == 0)
        two_worker(a);
    return NULL;
}

int
main(int argc, char **argv)
{
    struct prog p;
    const char *scenario = NULL;
    uint64_t items = 1000;
    int status = prog_config(&p, "prog_queues", &argc, argv);
    if (status != 0)
        return prog_end(&p, status);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--scenario") == 0 && i + 1 < argc) {
            scenario = argv[++i];
        } else if (!prog_opt_u64(argc, argv, &i, "--items", &items)) {
            fprintf(stderr, "prog_queues: unknown argument '%s'\n", argv[i]);
            return prog_end(&p, 2);
        }
    }
    const char *known[] = {"fifo", "timeout", "full", "close", "two", "tasks"};
    int ok = 0;
    for (size_t i = 0; scenario && i < sizeof known / sizeof known[0]; i++)
        ok |= strcmp(scenario, known[i]) == 0;
    if (!ok) {
        fprintf(stderr, "prog_queues: --scenario fifo|timeout|full|close|two|tasks\n");
        return prog_end(&p, 2);
    }
    if ((status = prog_init(&p, &argc, &argv)) != 0)
        return prog_end(&p, status);
    if (loom_job_register(p.job, "qput", qput_task, p.job) != LOOM_OK || prog_start(&p) != 0)
        return prog_end(&p, 1);

    if (!loom_job_is_master(p.job)) {
        struct worker_arg a = {p.job, scenario, p.rank, p.size, items};
        pthread_t t;
        if (pthread_create(&t, NULL, worker_thread, &a) != 0)
            return prog_end(&p, 1);
        loom_err rc = loom_job_serve(p.job);
        pthread_join(t, NULL);
        if (rc != LOOM_OK)
            out("SERVE rank=%d rc=%s\n", p.rank, loom_err_name(rc));
        return prog_end(&p, rc == LOOM_OK ? 0 : 1);
    }

    if (strcmp(scenario, "fifo") == 0)
        status = p.size >= 2 ? fifo_master(p.job, p.size, items) : 2;
    else if (strcmp(scenario, "timeout") == 0)
        status = timeout_master(p.job);
    else if (strcmp(scenario, "full") == 0)
        status = full_master(p.job);
    else if (strcmp(scenario, "close") == 0)
        status = close_master(p.job);
    else if (strcmp(scenario, "two") == 0)
        status = p.size >= 3 ? two_master(p.job, items) : 2;
    else
        status = tasks_master(p.job, items);
    loom_err rc = loom_job_finish(p.job);
    if (rc != LOOM_OK) {
        out("FINISH rc=%s\n", loom_err_name(rc));
        status = 1;
    }
    out("DONE status=%d\n", status);
    return prog_end(&p, status);
}
