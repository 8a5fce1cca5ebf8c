/* SPDX-License-Identifier: MIT */
/*
 * Distributed job: life cycle (create, register, start, destroy), the
 * start-up agreement between ranks, and the task API functions see.
 *
 * Start-up agreement: every rank contributes a fingerprint — the ELF build
 * id of its executable and a hash of its registrations in order — to one
 * MPI_Allgather on the job's communicator. Every rank then compares all
 * fingerprints with rank 0's, so all ranks reach the same verdict without
 * further messages, and a mismatch is an error on every rank instead of a
 * crash later when a task index means different functions on two ranks.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <sched.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "context_internal.h"
#include "internal.h"
#include "isolate.h"
#include "job_internal.h"
#include "join.h"
#include "loom/cpu.h"
#include "loom/log.h"

/* ---- fingerprints --------------------------------------------------------- */

static uint64_t
fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

#define FNV_INIT 0xcbf29ce484222325ull

struct build_id_search {
    uint64_t hash;
    int found;
};

static int
find_build_id(struct dl_phdr_info *info, size_t size, void *arg)
{
    struct build_id_search *s = arg;
    (void)size;
    /* the first object is the executable itself */
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE)
            continue;
        const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr);
        const char *end = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)(const void *)p;
            const char *name = p + sizeof *nh;
            const char *desc = name + ((nh->n_namesz + 3) & ~3u);
            if (desc + nh->n_descsz > end)
                break;
            if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && memcmp(name, "GNU", 4) == 0) {
                s->hash = fnv1a(FNV_INIT, desc, nh->n_descsz);
                s->found = 1;
                return 1;
            }
            p = desc + ((nh->n_descsz + 3) & ~3u);
        }
    }
    return 1; /* only look at the executable */
}

/* Identity of the running executable: its build id, else a hash of the
 * file's bytes. */
static uint64_t
binary_identity(void)
{
    struct build_id_search s = {0, 0};
    dl_iterate_phdr(find_build_id, &s);
    if (s.found)
        return s.hash;
    uint64_t h = FNV_INIT;
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        h = fnv1a(h, buf, (size_t)n);
    close(fd);
    return h;
}

void
loom__job_fingerprint(const loom_job *job, loom_err prep, struct loom__fingerprint *fp)
{
    *fp = (struct loom__fingerprint){binary_identity(), FNV_INIT,        job->nfns,
                                     WIRE_VERSION,      prep == LOOM_OK, (int32_t)prep};
    for (unsigned i = 0; i < job->nfns; i++)
        fp->registry = fnv1a(fp->registry, job->fns[i].name, strlen(job->fns[i].name) + 1);
}

const char *
loom__fingerprint_differs(const struct loom__fingerprint *fp, const struct loom__fingerprint *ref)
{
    if (fp->binary != ref->binary)
        return "runs a different binary than";
    if (fp->wire_version != ref->wire_version)
        return "speaks a different loom protocol than";
    if (fp->registry != ref->registry || fp->nfns != ref->nfns)
        return "registered different task functions than";
    return NULL;
}

/* ---- small shared helpers --------------------------------------------------- */

void
loom__local_call_init(struct local_call *c)
{
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
}

void
loom__local_call_destroy(struct local_call *c)
{
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
}

void
loom__local_call_complete(struct local_call *c, loom_err err, void *data, size_t len)
{
    c->err = err;
    c->data = data;
    c->len = len;
    pthread_mutex_lock(&c->mu);
    atomic_store_explicit(&c->done, 1, memory_order_release);
    if (c->sleeping)
        pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

void
loom__local_call_wait(struct local_call *c)
{
    /* ~50 us of polling covers a round trip to the master on one machine */
    int64_t until = loom__now_ns() + 50000;
    for (unsigned i = 0; !atomic_load_explicit(&c->done, memory_order_acquire); i++) {
        if ((i & 63) == 63 && loom__now_ns() > until)
            break;
        if (i > 256)
            sched_yield();
    }
    pthread_mutex_lock(&c->mu);
    c->sleeping = 1;
    while (!atomic_load_explicit(&c->done, memory_order_acquire))
        pthread_cond_wait(&c->cv, &c->mu);
    c->sleeping = 0;
    pthread_mutex_unlock(&c->mu);
}

void
loom__polling_thread_init(const char *name)
{
    loom_context_set_name(name);
    /* Sleeps of a few microseconds must not become the default 50 us of
     * timer slack: that would be the latency of every reply. */
    prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
}

/* Polling back-off for the threads that own MPI: Open MPI's blocking calls
 * spin a core, so loom polls and sleeps instead. After `idle` empty rounds
 * (reset to 0 by any round that did work) the first ones poll again, the
 * next ones yield, then the thread sleeps on a condition variable — so the
 * program's threads can wake it at once for local work — for a time that
 * doubles up to max_ns.
 *
 * Spinning only pays when work comes back within microseconds (a queue
 * round trip, tiny tasks). loom__work_gap() keeps an average of the time
 * between bursts of rounds that did work; when work comes rarely (commands running
 * for milliseconds), the caller starts its idle count at LOOM__IDLE_SLEEP
 * and sleeps at once: on a machine whose cores are busy running tasks,
 * every spin and yield is taken from them. */
void
loom__work_gap(struct loom__gap *g, int64_t now, int after_idle)
{
    if (g->last && after_idle) { /* a new burst: how long since the last */
        int64_t d = now - g->last;
        g->avg = g->avg ? (g->avg * 7 + d) / 8 : d;
    }
    g->last = now;
}

unsigned
loom__idle_start(const struct loom__gap *g)
{
    return g->avg > LOOM__HOT_GAP_NS ? LOOM__IDLE_SLEEP : 0;
}

int64_t
loom__idle_pause(unsigned idle, int64_t max_ns)
{
    if (idle < 16)
        return 0; /* a reply is often right behind: poll again */
    if (idle < LOOM__IDLE_SLEEP)
        return -1; /* still hot, but let an oversubscribed core's other threads run */
    unsigned k = idle - LOOM__IDLE_SLEEP;
    int64_t ns = (int64_t)1000 << (k < 20 ? k / 2 : 10);
    return ns < max_ns ? ns : (max_ns > 1000 ? max_ns : 1000);
}

/* ---- life cycle -------------------------------------------------------------- */

static loom_err
read_settings(const loom_config *cfg, struct job_settings *s)
{
    loom_config *own = NULL;
    loom_err rc = LOOM_OK;
    if (!cfg) {
        rc = loom_config_create(&own);
        if (rc != LOOM_OK)
            return rc;
        cfg = own;
    }
    int64_t threads = 0, outstanding = 0, payload = 0, batch = 0, retries = 0, memory = 0;
    int64_t crashes = 0;
    double flush = 0, prefetch = 0, heartbeat = 0, lost = 0, timeout = 0;
    const char *mode = "helper";
    int isolate = 0, pin = 0;
    if (loom_config_get_bool(cfg, "job.isolate", &isolate) != LOOM_OK ||
        loom_config_get_string(cfg, "task.isolate_mode", &mode) != LOOM_OK ||
        loom_config_get_double(cfg, "task.timeout", &timeout) != LOOM_OK ||
        loom_config_get_int(cfg, "task.memory_limit", &memory) != LOOM_OK ||
        loom_config_get_int(cfg, "pool.threads", &threads) != LOOM_OK ||
        loom_config_get_bool(cfg, "pool.pin", &pin) != LOOM_OK ||
        loom_config_get_int(cfg, "job.max_outstanding", &outstanding) != LOOM_OK ||
        loom_config_get_int(cfg, "job.max_payload", &payload) != LOOM_OK ||
        loom_config_get_int(cfg, "job.batch_max", &batch) != LOOM_OK ||
        loom_config_get_double(cfg, "job.flush_delay", &flush) != LOOM_OK ||
        loom_config_get_double(cfg, "job.prefetch", &prefetch) != LOOM_OK ||
        loom_config_get_int(cfg, "job.retries", &retries) != LOOM_OK ||
        loom_config_get_int(cfg, "job.crash_limit", &crashes) != LOOM_OK ||
        loom_config_get_double(cfg, "job.heartbeat", &heartbeat) != LOOM_OK ||
        loom_config_get_double(cfg, "job.worker_timeout", &lost) != LOOM_OK)
        rc = LOOM_ECONFIG;
    s->threads = threads > 0 ? (unsigned)threads : loom_cpu_count(NULL);
    s->pin = pin;
    s->max_outstanding = (size_t)outstanding;
    s->max_payload = (size_t)payload;
    s->batch_max = (size_t)batch;
    s->flush_ns = (int64_t)(flush * 1e9);
    s->prefetch_s = prefetch;
    s->retries = (unsigned)retries;
    s->crash_limit = (unsigned)crashes;
    s->heartbeat_ns = (int64_t)(heartbeat * 1e9);
    s->lost_ns = (int64_t)(lost * 1e9);
    s->isolate = isolate;
    s->isolate_mode = strcmp(mode, "fork") == 0 ? LOOM__ISO_FORK : LOOM__ISO_HELPER;
    s->task_timeout_ns = (int64_t)(timeout * 1e9);
    s->task_memory = (uint64_t)memory;
    loom_config_destroy(own);
    return rc;
}

/* The setting that gave a path, as a message names it: the option or
 * variable, else the key and where it was set. */
static void
setting_name(const loom_config *cfg, const char *key, char *buf, size_t len)
{
    const char *origin = loom_config_origin(cfg, key);
    if (!origin || !strcmp(origin, "default"))
        snprintf(buf, len, "%s", key);
    else if (!strncmp(origin, "--", 2) || !strncmp(origin, "LOOM_", 5))
        snprintf(buf, len, "%s", origin);
    else
        snprintf(buf, len, "%s (%s)", key, origin);
}

/* job.events and job.report, copied: the config is not kept. */
static loom_err
read_outputs(const loom_config *cfg, loom_job *job)
{
    const char *events = "", *report = "";
    if (cfg && (loom_config_get_string(cfg, "job.events", &events) != LOOM_OK ||
                loom_config_get_string(cfg, "job.report", &report) != LOOM_OK))
        return LOOM_ECONFIG;
    if (!(job->events = strdup(events)) || !(job->report = strdup(report)))
        return LOOM_ENOMEM;
    if (cfg) {
        setting_name(cfg, "job.events", job->events_name, sizeof job->events_name);
        setting_name(cfg, "job.report", job->report_name, sizeof job->report_name);
    }
    return LOOM_OK;
}

loom_err
loom_job_create(MPI_Comm comm, const loom_job_opts *opts, loom_job **out)
{
    LOOM_ASSERT(out);
    int inited = 0, finalized = 0;
    MPI_Initialized(&inited);
    MPI_Finalized(&finalized);
    if (!inited || finalized)
        return LOOM_ESTATE;

    loom_job *job = calloc(1, sizeof *job);
    if (!job)
        return LOOM_ENOMEM;
    loom_err rc = read_settings(opts ? opts->config : NULL, &job->set);
    if (rc != LOOM_OK)
        goto fail_settings;
    rc = LOOM_ENOMEM;
    job->fns = calloc(JOB_MAX_FUNCS, sizeof *job->fns);
    if (!job->fns)
        goto fail_settings;
    if (opts && opts->journal && !(job->journal = strdup(opts->journal)))
        goto fail_dup;
    if (opts && opts->title && !(job->title = strdup(opts->title)))
        goto fail_dup;
    job->resume = opts && opts->resume;
    if (opts && opts->serve && opts->join) {
        rc = LOOM_EINVAL; /* a job either accepts workers or is one */
        goto fail_dup;
    }
    if ((opts && opts->serve && !(job->serve_dir = strdup(opts->serve))) ||
        (opts && opts->join && !(job->join_dir = strdup(opts->join))))
        goto fail_dup;
    job->join_timeout_ms = opts && opts->join_timeout_ms > 0 ? opts->join_timeout_ms : 20000;
    job->own_attempts = opts && opts->own_attempts != 0;
    if ((rc = read_outputs(opts ? opts->config : NULL, job)) != LOOM_OK)
        goto fail_dup;
    rc = LOOM_EMPI;
    if (MPI_Comm_dup(comm, &job->comm) != MPI_SUCCESS)
        goto fail_dup;
    MPI_Comm_set_name(job->comm, "loom");
    /* failures come back as error codes on loom's copy, never abort */
    MPI_Comm_set_errhandler(job->comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(job->comm, &job->rank);
    MPI_Comm_size(job->comm, &job->size);
    if (job->join_dir) { /* no master of its own: its number comes at start */
        job->rank++;
        job->size++;
    }
    loom_log_set_rank(job->rank);
    *out = job;
    return LOOM_OK;

fail_dup:
    free(job->serve_dir);
    free(job->join_dir);
    free(job->events);
    free(job->report);
    free(job->title);
    free(job->journal);
    free(job->fns);
fail_settings:
    free(job);
    return rc;
}

loom_err
loom_job_register(loom_job *job, const char *name, loom_task_fn fn, void *user)
{
    LOOM_ASSERT(job);
    if (job->started)
        return LOOM_ESTATE;
    if (!name || !*name || strlen(name) > JOB_FN_NAME_MAX || !fn)
        return LOOM_EINVAL;
    if (loom__job_fn_index(job, name) >= 0)
        return LOOM_EINVAL;
    if (job->nfns == JOB_MAX_FUNCS)
        return LOOM_ERANGE;
    struct job_fn *f = &job->fns[job->nfns++];
    snprintf(f->name, sizeof f->name, "%s", name);
    f->fn = fn;
    f->user = user;
    return LOOM_OK;
}

int
loom__job_fn_index(const loom_job *job, const char *name)
{
    if (!name)
        return -1;
    for (unsigned i = 0; i < job->nfns; i++)
        if (strcmp(job->fns[i].name, name) == 0)
            return (int)i;
    return -1;
}

static loom_err
check_agreement(loom_job *job, loom_err prep)
{
    struct loom__fingerprint mine;
    loom__job_fingerprint(job, prep, &mine);
    struct loom__fingerprint *all = calloc((size_t)job->size, sizeof *all);
    if (!all)
        return LOOM_ENOMEM;
    if (MPI_Allgather(&mine, sizeof mine, MPI_BYTE, all, sizeof mine, MPI_BYTE, job->comm) !=
        MPI_SUCCESS) {
        free(all);
        return LOOM_EMPI;
    }
    loom_err rc = LOOM_OK;
    if (!all[0].ready) {
        if (job->rank != 0)
            LOOM_ERROR("the master could not start (its log says why)");
        /* the master's reason on every rank: a bad setting is LOOM_ECONFIG
         * everywhere, so every rank exits alike */
        rc = all[0].prep_err > 0 && all[0].prep_err < LOOM__ERR_COUNT ? (loom_err)all[0].prep_err
                                                                      : LOOM_ESTATE;
    }
    for (int r = 1; r < job->size; r++) {
        const char *what = loom__fingerprint_differs(&all[r], &all[0]);
        if (what) {
            if (job->rank == 0 || job->rank == r)
                LOOM_ERROR("start-up check failed: rank %d %s rank 0 (%u functions vs %u); "
                           "every rank must run the same program",
                           r, what, all[r].nfns, all[0].nfns);
            rc = LOOM_EMISMATCH;
        }
    }
    free(all);
    return rc;
}

/* A job of workers only: connect to the master named by the join file,
 * prove the key, and take the worker ranks it gives (join.c). */
static loom_err
join_running_job(loom_job *job)
{
    struct loom__fingerprint fp;
    loom__job_fingerprint(job, LOOM_OK, &fp);
    struct loom__join_place place;
    loom_err rc = loom__join(job->comm, job->join_dir, job->join_timeout_ms, &fp, &place);
    if (rc != LOOM_OK) {
        /* after a timed-out connect a thread stays inside MPI */
        atomic_store(&job->master_lost, rc == LOOM_ETIMEDOUT);
        return rc;
    }
    MPI_Comm_free(&job->comm);
    job->comm = place.inter;
    job->rank = place.rank;
    job->size = place.size;
    job->set.heartbeat_ns = place.heartbeat_ns; /* the master's pace, both ways */
    job->set.lost_ns = place.lost_ns;
    job->joined = 1;
    loom_log_set_rank(job->rank);
    return LOOM_OK;
}

/* loom's threads call MPI one at a time at least. 1, or 0 (said). */
static int
thread_level_ok(int level)
{
    if (level >= MPI_THREAD_SERIALIZED)
        return 1;
    LOOM_ERROR("MPI was initialised with thread level %d; loom needs at least "
               "MPI_THREAD_SERIALIZED (use MPI_Init_thread)",
               level);
    return 0;
}

loom_err
loom_job_start(loom_job *job)
{
    LOOM_ASSERT(job);
    if (job->started)
        return LOOM_ESTATE;
    int level = MPI_THREAD_SINGLE;
    MPI_Query_thread(&level);
    if (job->join_dir) {
        if (!thread_level_ok(level))
            return LOOM_ESTATE;
        loom_err rc = job->joined ? LOOM_OK : join_running_job(job);
        if (rc != LOOM_OK)
            return rc;
        job->started = 1;
        rc = loom__worker_start(job);
        if (rc != LOOM_OK)
            job->started = 0;
        return rc;
    }
    /* What can fail on the master alone (its journal) is done first, and
     * the check itself is collective: every rank must reach it even if it
     * is about to fail, so no rank waits for a partner that left. */
    loom_err prep = job->rank == 0 ? loom__master_prepare(job) : LOOM_OK;
    loom_err rc = check_agreement(job, prep);
    if (rc != LOOM_OK || prep != LOOM_OK) {
        if (job->rank == 0)
            loom__master_unprepare(job);
        return prep != LOOM_OK ? prep : rc;
    }
    if (!thread_level_ok(level))
        return LOOM_ESTATE;
    if (job->size < 2 && !job->serve_dir) {
        LOOM_ERROR("a loom job needs at least 2 ranks (a master and a worker); got %d", job->size);
        return LOOM_ESTATE;
    }
    /* Set before loom's threads exist: tasks they run read it (queue calls). */
    job->started = 1;
    rc = job->rank == 0 ? loom__master_start(job) : loom__worker_start(job);
    if (rc != LOOM_OK) {
        job->started = 0;
        if (job->rank == 0)
            loom__master_unprepare(job);
    }
    return rc;
}

int
loom_job_master_lost(const loom_job *job)
{
    LOOM_ASSERT(job);
    return atomic_load(&job->master_lost);
}

int
loom_job_rank(const loom_job *job)
{
    LOOM_ASSERT(job);
    return job->rank;
}

int
loom_job_size(const loom_job *job)
{
    LOOM_ASSERT(job);
    if (job->rank == 0 && job->m) /* joined workers count once they are in */
        return loom__master_size(job);
    return job->size;
}

int
loom_job_is_master(const loom_job *job)
{
    LOOM_ASSERT(job);
    return job->rank == 0;
}

unsigned
loom_job_threads(const loom_job *job)
{
    LOOM_ASSERT(job);
    return job->rank == 0 ? (job->m ? loom__master_worker_threads(job) : 0) : job->set.threads;
}

void
loom_job_destroy(loom_job *job)
{
    if (!job)
        return;
    if (job->started) {
        if (job->rank == 0)
            loom__master_stop(job);
        else
            loom__worker_stop(job);
    }
    if (job->rank == 0)
        loom__master_unprepare(job); /* if start never took it over */
    if (job->joined && !atomic_load(&job->master_lost))
        MPI_Comm_disconnect(&job->comm); /* the master's side need not act */
    else
        MPI_Comm_free(&job->comm);
    free(job->serve_dir);
    free(job->join_dir);
    free(job->events);
    free(job->report);
    free(job->title);
    free(job->journal);
    free(job->fns);
    free(job);
}

/* ---- results ------------------------------------------------------------------ */

struct loom__msg *
loom__msg_new(size_t len)
{
    struct loom__msg *msg = malloc(sizeof *msg + (len ? len : 1));
    if (msg) {
        atomic_init(&msg->refs, 1);
        msg->len = len;
    }
    return msg;
}

void
loom__msg_release(struct loom__msg *msg)
{
    if (msg && atomic_fetch_sub(&msg->refs, 1) == 1)
        free(msg);
}

void
loom_result_free(loom_result *res)
{
    if (!res)
        return;
    if (res->loom__buf)
        loom__msg_release(res->loom__buf);
    else
        free(res->data);
    memset(res, 0, sizeof *res);
}

static loom_err
get8(const void *data, size_t len, void *out)
{
    if (len != 8)
        return LOOM_EINVAL;
    memcpy(out, data, 8);
    return LOOM_OK;
}

loom_err
loom_result_i64(const loom_result *res, int64_t *out)
{
    return get8(res->data, res->len, out);
}

loom_err
loom_result_double(const loom_result *res, double *out)
{
    return get8(res->data, res->len, out);
}

loom_err
loom_job_submit_i64(loom_job *job, const char *fn, int64_t value, int timeout_ms, uint64_t *id)
{
    return loom_job_submit(job, fn, &value, sizeof value, timeout_ms, id);
}

loom_err
loom_job_submit_double(loom_job *job, const char *fn, double value, int timeout_ms, uint64_t *id)
{
    return loom_job_submit(job, fn, &value, sizeof value, timeout_ms, id);
}

loom_err
loom_job_submit_str(loom_job *job, const char *fn, const char *value, int timeout_ms, uint64_t *id)
{
    if (!value)
        return LOOM_EINVAL;
    return loom_job_submit(job, fn, value, strlen(value) + 1, timeout_ms, id);
}

const char *
loom_cause_name(loom_cause cause)
{
    switch (cause) {
    case LOOM_CAUSE_OK:
        return "ok";
    case LOOM_CAUSE_FAILED:
        return "failed";
    case LOOM_CAUSE_SIGNAL:
        return "signal";
    case LOOM_CAUSE_EXIT:
        return "exit";
    case LOOM_CAUSE_TIMEOUT:
        return "timeout";
    case LOOM_CAUSE_MEMORY:
        return "memory";
    case LOOM_CAUSE_ISOLATION:
        return "isolation";
    case LOOM_CAUSE_LOST:
        return "lost";
    }
    return "unknown";
}

/* ---- the task API ------------------------------------------------------------- */

const void *
loom_task_payload(const loom_task *task, size_t *len)
{
    LOOM_ASSERT(task);
    if (len)
        *len = task->len;
    return task->payload;
}

loom_err
loom_task_arg_i64(const loom_task *task, int64_t *out)
{
    return get8(task->payload, task->len, out);
}

loom_err
loom_task_arg_double(const loom_task *task, double *out)
{
    return get8(task->payload, task->len, out);
}

loom_err
loom_task_arg_str(const loom_task *task, const char **out)
{
    if (task->len == 0 || task->payload[task->len - 1] != '\0')
        return LOOM_EINVAL;
    *out = task->payload;
    return LOOM_OK;
}

loom_err
loom_task_reply(loom_task *task, const void *data, size_t len)
{
    LOOM_ASSERT(task);
    if (len > task->job->set.max_payload)
        return LOOM_ERANGE;
    if (len > task->reply_cap) {
        char *p = realloc(task->reply, len);
        if (!p)
            return LOOM_ENOMEM;
        task->reply = p;
        task->reply_cap = len;
    }
    if (len)
        memcpy(task->reply, data, len);
    task->reply_len = len;
    return LOOM_OK;
}

loom_err
loom_task_reply_i64(loom_task *task, int64_t value)
{
    return loom_task_reply(task, &value, sizeof value);
}

loom_err
loom_task_reply_double(loom_task *task, double value)
{
    return loom_task_reply(task, &value, sizeof value);
}

loom_err
loom_task_reply_str(loom_task *task, const char *value)
{
    if (!value)
        return LOOM_EINVAL;
    return loom_task_reply(task, value, strlen(value) + 1);
}

/* Run one map chunk (the task's payload): every input through fn, the
 * replies packed into the task's reply. */
int
loom__run_chunk(loom_task_fn fn, void *user, loom_task *t)
{
    uint32_t n;
    const char *lens, *data;
    if (wire_chunk_open(t->payload, t->len, &n, &lens, &data) != LOOM_OK)
        return -1;
    size_t head = 4 + 8 * (size_t)n, cap = head + 64, used = head;
    char *out = malloc(cap);
    if (!out)
        return -1;
    memcpy(out, &n, 4);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t l;
        memcpy(&l, lens + 4 * (size_t)i, 4);
        t->payload = data;
        t->len = l;
        t->reply_len = 0;
        int32_t st = fn(t, user);
        data += l;
        uint32_t rl = (uint32_t)t->reply_len;
        if (used + rl > cap) {
            while (used + rl > cap)
                cap *= 2;
            char *p = realloc(out, cap);
            if (!p) {
                free(out);
                return -1;
            }
            out = p;
        }
        memcpy(out + 4 + 4 * (size_t)i, &st, 4);
        memcpy(out + 4 + 4 * (size_t)n + 4 * (size_t)i, &rl, 4);
        if (rl)
            memcpy(out + used, t->reply, rl);
        used += rl;
    }
    /* the packed replies become the task's reply */
    loom__task_reply_free(t);
    t->reply = out;
    t->reply_len = t->reply_cap = used;
    return 0;
}

void
loom__task_reply_free(loom_task *t)
{
    free(t->reply);
    t->reply = NULL;
    t->reply_len = t->reply_cap = 0;
}

uint64_t
loom_task_id(const loom_task *task)
{
    LOOM_ASSERT(task);
    return task->id;
}

unsigned
loom_task_attempt(const loom_task *task)
{
    LOOM_ASSERT(task);
    return task->attempt;
}

loom_job *
loom_task_job(const loom_task *task)
{
    LOOM_ASSERT(task);
    return task->job;
}

loom_context *
loom_task_context(const loom_task *task)
{
    (void)task;
    return loom_context_current();
}

loom_err
loom_task_submit(loom_task *task, const char *fn, const void *payload, size_t len)
{
    LOOM_ASSERT(task);
    if (!task->out)
        return LOOM_ESTATE; /* an isolated task: nobody to hand it to */
    int idx = loom__job_fn_index(task->job, fn);
    if (idx < 0)
        return LOOM_ENOFUNC;
    if (len > task->job->set.max_payload)
        return LOOM_ERANGE;
    struct wire_submit s = {(uint32_t)idx, (uint32_t)len};
    loom_err rc = wire_put(task->out, WIRE_SUBMIT, &s, sizeof s, payload, len, NULL, 0);
    if (rc != LOOM_OK && task->out_err == LOOM_OK)
        task->out_err = rc;
    return rc;
}
