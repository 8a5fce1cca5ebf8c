/* SPDX-License-Identifier: MIT */
/*
 * A distributed job's life cycle: create (settings from the config), the
 * start-up agreement between ranks, start (rank 0: master.c; others:
 * worker.c; a joining job: join.c first), what a job knows about itself
 * (rank, size, threads), destroy. Registering functions is registry.c,
 * the task API task.c, results result.c; serve is worker.c, finish and
 * submit master_api.c.
 *
 * Start-up agreement: every rank contributes a fingerprint
 * (fingerprint.c: the build of its executable, its registrations in
 * order) to one MPI_Allgather on the job's communicator. Every rank then
 * compares all fingerprints with rank 0's, so all ranks reach the same
 * verdict without further messages, and a mismatch is an error on every
 * rank instead of a crash later when a task index means different
 * functions on two ranks.
 *
 * The end of a job that lost workers on other hosts: Open MPI 4.1's
 * mpirun waits for a rank it can no longer reach (its node or link gone)
 * until its --timeout, and MPI_Abort() does not help (mpirun then waits
 * for that node's daemon forever, past --timeout). So when the master's
 * process exits (on_exit: everything the program wrote is flushed, the
 * journal closed by loom_job_destroy), and mpirun is its parent, it waits
 * until mpirun has read its output, then sends mpirun SIGTERM and SIGINT:
 * two stop signals within 5 s make Open MPI 4.1's mpirun exit at once
 * with status 1 (ess_hnp's abort_signal_callback); the daemons on the
 * nodes it reaches lose it and kill what is left of their ranks.
 * docs/jobs.md ("A lost worker") says what the user sees.
 *
 * Runs on the program's thread that owns the job (create, start, destroy
 * are not thread-safe against each other); the getters may be called
 * from any thread once the job has started.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "fingerprint.h"
#include "internal.h"
#include "isolate.h"
#include "job_types.h"
#include "join.h"
#include "loom/cpu.h"
#include "loom/log.h"
#include "master.h"
#include "master_api.h"
#include "msg.h"
#include "wire.h"
#include "worker.h"

/* The settings a job reads: the program's config, or without one the
 * built-in defaults, the $LOOM_CONFIG file and the LOOM_* variables, in
 * *own (the caller destroys it). Settings that contradict each other are
 * refused, wherever they came from; the log says why. */
static loom_err
job_config(const loom_config *given, loom_config **own, const loom_config **cfg)
{
    char msg[512];
    *own = NULL;
    *cfg = given;
    if (!given) {
        loom_err rc = loom_config_create(own);
        if (rc != LOOM_OK)
            return rc;
        rc = loom_config_load(*own, NULL, NULL);
        if (rc != LOOM_OK) {
            LOOM_ERROR("settings: %s", loom_config_error(*own));
            return rc;
        }
        /* log.level from $LOOM_CONFIG too, not only LOOM_LOG_LEVEL (log.c);
         * a level the program set itself stays when nothing says otherwise */
        const char *origin = loom_config_origin(*own, "log.level");
        if (origin && strcmp(origin, "default") != 0)
            loom_config_apply(*own);
        *cfg = *own;
    }
    if (loom__config_check(*cfg, msg, sizeof msg) != LOOM_OK) {
        LOOM_ERROR("settings: %s", msg);
        return LOOM_ECONFIG;
    }
    return LOOM_OK;
}

static loom_err
read_settings(const loom_config *cfg, struct job_settings *s)
{
    loom_err rc = LOOM_OK;
    int64_t threads = 0, outstanding = 0, payload = 0, batch = 0, retries = 0, memory = 0;
    int64_t crashes = 0, frame = 0;
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
        loom_config_get_int(cfg, "job.max_frame", &frame) != LOOM_OK ||
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
    /* a frame always has room for the largest payload, reply or queue item */
    s->max_frame = (size_t)frame > s->max_payload + 8192 ? (size_t)frame : s->max_payload + 8192;
    if (s->max_frame > WIRE_MAX_FRAME)
        s->max_frame = WIRE_MAX_FRAME;
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
    if (loom_config_get_string(cfg, "job.events", &events) != LOOM_OK ||
        loom_config_get_string(cfg, "job.report", &report) != LOOM_OK)
        return LOOM_ECONFIG;
    if (!(job->events = strdup(events)) || !(job->report = strdup(report)))
        return LOOM_ENOMEM;
    setting_name(cfg, "job.events", job->events_name, sizeof job->events_name);
    setting_name(cfg, "job.report", job->report_name, sizeof job->report_name);
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
        return loom__fail(LOOM_ESTATE, "loom_job_create: MPI is %s",
                          finalized ? "finalized" : "not initialised (call MPI_Init_thread first)");

    loom_config *own = NULL;
    const loom_config *cfg = NULL;
    loom_job *job = calloc(1, sizeof *job);
    if (!job)
        return loom__fail(LOOM_ENOMEM, "out of memory for a job");
    loom_err rc = job_config(opts ? opts->config : NULL, &own, &cfg);
    if (rc == LOOM_OK)
        rc = read_settings(cfg, &job->set);
    if (rc != LOOM_OK)
        goto fail_settings;
    rc = LOOM_ENOMEM;
    job->fns = calloc(JOB_MAX_FUNCS, sizeof *job->fns);
    if (!job->fns || !(job->ledger = loom__ledger_new()))
        goto fail_dup;
    if (opts && opts->journal && !(job->journal = strdup(opts->journal)))
        goto fail_dup;
    if (opts && opts->title && !(job->title = strdup(opts->title)))
        goto fail_dup;
    job->resume = opts && opts->resume;
    if (opts && opts->serve && opts->join) {
        rc = loom__fail(LOOM_EINVAL, /* a job either accepts workers or is one */
                        "loom_job_create: serve and join are both set; a job either accepts "
                        "workers or joins a job that does");
        goto fail_dup;
    }
    if ((opts && opts->serve && !(job->serve_dir = strdup(opts->serve))) ||
        (opts && opts->join && !(job->join_dir = strdup(opts->join))))
        goto fail_dup;
    job->join_timeout_ms = opts && opts->join_timeout_ms > 0 ? opts->join_timeout_ms : 20000;
    job->own_attempts = opts && opts->own_attempts != 0;
    if ((rc = read_outputs(cfg, job)) != LOOM_OK)
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
    loom_config_destroy(own);
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
    loom__ledger_release(job->ledger);
fail_settings:
    loom_config_destroy(own);
    free(job);
    return loom__ret(rc);
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
        /* the master's code on every rank: a bad setting is LOOM_ECONFIG
         * everywhere, so every rank exits alike; but only rank 0 knows
         * which file and what is wrong with it (its loom_last_error), so
         * the others point there and name no error of their own */
        rc = all[0].prep_err > 0 && all[0].prep_err < LOOM__ERR_COUNT ? (loom_err)all[0].prep_err
                                                                      : LOOM_ESTATE;
        if (job->rank != 0)
            loom__fail(rc, "the master (rank 0) could not start the job (it says why)");
    }
    for (int r = 1; r < job->size; r++) {
        const char *what = loom__fingerprint_differs(&all[r], &all[0]);
        if (what) {
            if (job->rank == 0 || job->rank == r)
                LOOM_ERROR("start-up check failed: rank %d %s rank 0 (%u functions vs %u); "
                           "every rank must run the same program",
                           r, what, all[r].nfns, all[0].nfns);
            rc = loom__fail(LOOM_EMISMATCH,
                            "start-up check failed: rank %d %s rank 0 (%u functions vs %u); "
                            "every rank must run the same program",
                            r, what, all[r].nfns, all[0].nfns);
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

/* Why a thread level is not enough, as the thread's last error. */
static loom_err
thread_level_fail(int level)
{
    return loom__fail(LOOM_ESTATE,
                      "MPI was initialised with thread level %d; loom needs at least "
                      "MPI_THREAD_SERIALIZED (use MPI_Init_thread)",
                      level);
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
        return loom__fail(LOOM_ESTATE, "loom_job_start: the job has already started");
    int level = MPI_THREAD_SINGLE;
    MPI_Query_thread(&level);
    if (job->join_dir) {
        if (!thread_level_ok(level))
            return thread_level_fail(level);
        loom_err rc = job->joined ? LOOM_OK : join_running_job(job);
        if (rc != LOOM_OK)
            return loom__ret(rc);
        job->started = 1;
        rc = loom__worker_start(job);
        if (rc != LOOM_OK)
            job->started = 0;
        return loom__ret(rc);
    }
    /* What can fail on the master alone (its journal) is done first, and
     * the check itself is collective: every rank must reach it even if it
     * is about to fail, so no rank waits for a partner that left. */
    loom_err prep = job->rank == 0 ? loom__master_prepare(job) : LOOM_OK;
    loom_err rc = check_agreement(job, prep);
    if (rc != LOOM_OK || prep != LOOM_OK) {
        if (job->rank == 0)
            loom__master_unprepare(job);
        return loom__ret(prep != LOOM_OK ? prep : rc);
    }
    if (!thread_level_ok(level))
        return thread_level_fail(level);
    if (job->size < 2 && !job->serve_dir) {
        LOOM_ERROR("a loom job needs at least 2 ranks (a master and a worker); got %d", job->size);
        return loom__fail(LOOM_ESTATE,
                          "a loom job needs at least 2 ranks (a master and a worker); got %d",
                          job->size);
    }
    /* Set before loom's threads exist: tasks they run read it (queue calls). */
    job->started = 1;
    rc = job->rank == 0 ? loom__master_start(job) : loom__worker_start(job);
    if (rc != LOOM_OK) {
        job->started = 0;
        if (job->rank == 0)
            loom__master_unprepare(job);
    }
    return loom__ret(rc);
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

/* ---- ending mpirun after a lost worker ------------------------------------------ */

static pid_t end_mpirun_pid; /* mpirun, the master's parent, to end at exit */
static int end_lost;         /* the workers lost elsewhere, for the message */

/* Whether pid is Open MPI's mpirun, by its process name. */
static int
is_mpirun(pid_t pid)
{
    char path[64], name[32] = "";
    snprintf(path, sizeof path, "/proc/%ld/comm", (long)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    if (!fgets(name, sizeof name, f))
        name[0] = '\0';
    fclose(f);
    name[strcspn(name, "\n")] = '\0';
    return !strcmp(name, "mpirun") || !strcmp(name, "mpiexec") || !strcmp(name, "orterun");
}

/* Bytes written to fd that its reader has not taken yet (0: none, or not
 * a pipe or terminal). */
static int
unread(int fd)
{
    int n = 0;
    if (ioctl(fd, isatty(fd) ? TIOCOUTQ : FIONREAD, &n) != 0)
        return 0;
    return n;
}

/* At the master's exit (on_exit): end mpirun, which would wait for the
 * lost workers' nodes until its --timeout. */
static void
end_mpirun(int status, void *arg)
{
    (void)arg;
    pid_t pid = end_mpirun_pid;
    if (!pid || getppid() != pid || !is_mpirun(pid))
        return;
    LOOM_WARN("%d worker%s lost on other hosts: ending mpirun (pid %ld) now, which would wait "
              "for %s until its --timeout; this process exits %d, mpirun exits 1",
              end_lost, end_lost == 1 ? "" : "s", (long)pid, end_lost == 1 ? "it" : "them",
              status & 0xff);
    fflush(NULL);
    /* mpirun forwards what this process wrote: let it read all of it
     * first (at most 5 s) */
    for (int i = 0; i < 500 && (unread(STDOUT_FILENO) || unread(STDERR_FILENO)); i++)
        nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
    /* two different signals: neither merges into the other while pending */
    kill(pid, SIGTERM);
    kill(pid, SIGINT);
}

/* The master lost workers elsewhere: end mpirun when this process exits,
 * if mpirun is its parent; else say that mpirun may wait. */
static void
arm_mpirun_end(int lost)
{
    static int armed;
    end_lost += lost; /* a program may run several jobs */
    if (armed || !getenv("OMPI_COMM_WORLD_SIZE"))
        return; /* not started by Open MPI's mpirun (or done) */
    pid_t parent = getppid();
    if (!is_mpirun(parent)) {
        LOOM_WARN("%d worker%s lost on other hosts: mpirun (not this process's parent) may wait "
                  "for %s until its --timeout",
                  lost, lost == 1 ? "" : "s", lost == 1 ? "it" : "them");
        return;
    }
    end_mpirun_pid = parent;
    armed = on_exit(end_mpirun, NULL) == 0;
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
    if (job->rank == 0 && job->lost_away > 0)
        arm_mpirun_end(job->lost_away);
    long held = loom__ledger_held(job->ledger);
    if (held > 0)
        LOOM_WARN("loom_job_destroy: the program still holds %ld result%s with reply data "
                  "never released by loom_result_free(): that memory stays allocated",
                  held, held == 1 ? "" : "s");
    loom__ledger_release(job->ledger);
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
