/* SPDX-License-Identifier: MIT */
/*
 * bench_swarm — the master against a swarm of virtual workers (issue 18).
 *
 *   LOOM_SWARM=W mpirun -x LOOM_SWARM -np 1+S bench_swarm [options] [loom options]
 *
 * Rank 0 is a plain loom master (loom_job_start, submit, next_result); each
 * rank >= 1 presents W virtual workers over the real wire protocol
 * (swarm_sim.c), so the master sees S*W workers of --threads threads each.
 * Options:
 *   --threads T      simulated threads per virtual worker (64)
 *   --durations L    simulated task durations, one phase each, measured one
 *                    after the other: "0,100us,1ms,10ms" (units ns, us, ms, s);
 *                    "idle": a phase without tasks (what the connected
 *                    workers alone cost the master)
 *   --seconds S      wall time of each phase (2); the tasks finishing in it count
 *   --tasks N        instead: exactly N tasks per phase (for the check)
 *   --window K       most tasks kept submitted and unfinished (default: one
 *                    per simulated thread + 16384); a phase of tasks of 1 ms
 *                    or more keeps one per thread + 1024 (more would only
 *                    wait in queues and make the latency a queueing time)
 *   --real           ranks >= 1 are real loom workers (loom_job_serve), whose
 *                    tasks sleep their duration; with LOOM_SWARM set the
 *                    start-up check must refuse them
 * Per phase the master prints
 *   CELL workers=.. threads=.. dur_ns=.. tasks=.. secs=.. tasks_per_s=..
 *        master_cpu_pct=.. progress_cpu_pct=.. progress_us_per_task=..
 *        lat_med_us=.. lat_p99_us=.. vmhwm_mib=.. driver_mib=..
 * (CPU from the process's and the progress thread's CPU clocks over the
 * phase; latency: the task's start on its worker's wall clock minus its
 * submit; VmHWM reset at the phase's start through /proc/self/clear_refs;
 * driver_mib: this program's own buffers, part of VmHWM), and at the end
 *   CHECK tasks=.. once=.. dup=.. missing=.. workers_used=.. workers=..
 * Exit status 0 when every task came back exactly once.
 *
 * Links loom_testing: the swarm speaks the wire format and takes part in
 * the start-up agreement with internal functions, and the master's side
 * reads its progress thread's CPU clock.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../runtime/bench_common.h"
#include "master_types.h"
#include "swarm.h"
#include "swarm_sim.h"

/* Tasks submitted beyond the simulated threads, so batches can form
 * (tasks shorter than 1 ms; longer ones: 1024). */
#define WINDOW_BACKLOG 16384

struct opts {
    unsigned threads;
    int64_t dur[SWARM_PHASES];
    int ndur;
    double seconds;
    long tasks;
    long window;
    int real;
};

/* What the master saw over the whole run. */
struct tally {
    uint64_t *ids; /* the tasks outstanding: open addressing by id */
    int64_t *subs; /* their submit wall times */
    uint64_t mask;
    long outstanding, submitted, done, dup, failed;
    unsigned char *used; /* worker slots that ran a task */
    int nslots;
    double *lat;
    size_t nlat, latcap;
};

static int64_t
wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
parse_durations(const char *s, struct opts *o)
{
    o->ndur = 0;
    while (*s && o->ndur < SWARM_PHASES) {
        char *end;
        double v = strtod(s, &end);
        double unit = 1;
        if (!strncmp(s, "idle", 4)) { /* a phase without tasks */
            v = -1;
            end = (char *)s + 4;
        }
        if (!strncmp(end, "ns", 2))
            end += 2;
        else if (!strncmp(end, "us", 2))
            unit = 1e3, end += 2;
        else if (!strncmp(end, "ms", 2))
            unit = 1e6, end += 2;
        else if (*end == 's')
            unit = 1e9, end++;
        if (end == s || (v < 0 && v != -1) || (*end && *end != ','))
            return -1;
        o->dur[o->ndur++] = (int64_t)(v * unit);
        s = *end ? end + 1 : end;
    }
    return o->ndur ? 0 : -1;
}

static int
parse_args(int argc, char **argv, struct opts *o)
{
    *o = (struct opts){64, {0}, 1, 2.0, 0, 0, 0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--real")) {
            o->real = 1;
            continue;
        }
        if (!v)
            return -1;
        if (!strcmp(a, "--threads"))
            o->threads = (unsigned)atoi(v);
        else if (!strcmp(a, "--durations") && parse_durations(v, o) != 0)
            return -1;
        else if (!strcmp(a, "--seconds"))
            o->seconds = atof(v);
        else if (!strcmp(a, "--tasks"))
            o->tasks = atol(v);
        else if (!strcmp(a, "--window"))
            o->window = atol(v);
        else if (strcmp(a, "--durations"))
            return -1;
        i++;
    }
    return o->threads >= 1 && o->threads <= 4096 ? 0 : -1;
}

/* A real worker's task: sleep its duration. */
static int
sim_task(loom_task *task, void *user)
{
    (void)user;
    size_t len;
    const void *p = loom_task_payload(task, &len);
    struct swarm_payload sp = {0, 0};
    if (len == sizeof sp)
        memcpy(&sp, p, sizeof sp);
    struct timespec ts = {(time_t)(sp.dur_ns / 1000000000), (long)(sp.dur_ns % 1000000000)};
    if (sp.dur_ns > 0)
        nanosleep(&ts, NULL);
    return 0;
}

static double
progress_cpu_s(loom_job *job)
{
    clockid_t id;
    struct timespec ts;
    if (pthread_getcpuclockid(job->m->progress, &id) != 0 || clock_gettime(id, &ts) != 0)
        return 0;
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The machine's load over the last minute (/proc/loadavg); -1 unknown. */
static double
load_average(void)
{
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1)
            l = -1;
        fclose(f);
    }
    return l;
}

/* VmHWM starts again from the current resident set. */
static void
reset_hwm(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (f) {
        fputs("5", f);
        fclose(f);
    }
}

/* Wait until `threads` threads of workers have said hello (60 s at most). */
static int
wait_hellos(loom_job *job, unsigned threads)
{
    for (int i = 0; i < 60000 && loom_job_threads(job) < threads; i++)
        bc_sleep(0.001);
    if (loom_job_threads(job) >= threads)
        return 0;
    fprintf(stderr, "bench_swarm: only %u of %u threads said hello\n", loom_job_threads(job),
            threads);
    return -1;
}

static void
outstanding_put(struct tally *t, uint64_t id, int64_t sub)
{
    uint64_t i = (id * 0x9e3779b97f4a7c15ull) & t->mask;
    while (t->ids[i])
        i = (i + 1) & t->mask;
    t->ids[i] = id;
    t->subs[i] = sub;
}

/* Task id's submit time, taken out of the table; 0 when it is not there. */
static int64_t
outstanding_take(struct tally *t, uint64_t id)
{
    uint64_t i = (id * 0x9e3779b97f4a7c15ull) & t->mask;
    while (t->ids[i] && t->ids[i] != id)
        i = (i + 1) & t->mask;
    if (!t->ids[i])
        return 0;
    int64_t sub = t->subs[i];
    t->ids[i] = 0;
    /* backward shift: the entries after it must stay reachable */
    for (uint64_t j = (i + 1) & t->mask; t->ids[j]; j = (j + 1) & t->mask) {
        uint64_t home = (t->ids[j] * 0x9e3779b97f4a7c15ull) & t->mask;
        if (((j - home) & t->mask) >= ((j - i) & t->mask)) {
            t->ids[i] = t->ids[j];
            t->subs[i] = t->subs[j];
            t->ids[j] = 0;
            i = j;
        }
    }
    return sub;
}

/* Take the results there are (waiting up to wait_ms for the first). */
static void
take_results(loom_job *job, struct tally *t, int wait_ms, long *counted, int64_t until)
{
    loom_result r;
    while (loom_job_next_result(job, wait_ms, &r) == LOOM_OK) {
        wait_ms = LOOM_NOWAIT;
        int64_t sub = outstanding_take(t, r.id);
        if (!sub) {
            t->dup++;
        } else {
            t->failed += r.status != 0;
            if (t->nlat < t->latcap && r.start_ns)
                t->lat[t->nlat++] = (double)(r.start_ns - sub) / 1e3;
            t->outstanding--;
            t->done++;
            if (r.rank > 0 && r.rank < t->nslots)
                t->used[r.rank] = 1;
            if (!until || bc_now() * 1e9 < (double)until)
                (*counted)++;
        }
        loom_result_free(&r);
    }
}

/* Submit up to 256 tasks of the phase while the window has room. */
static int
submit_some(loom_job *job, struct tally *t, const struct opts *o, int phase, long window,
            long limit)
{
    int did = 0;
    struct swarm_payload p = {o->dur[phase], phase};
    for (int k = 0; k < 256 && t->outstanding < window && (!limit || t->submitted < limit); k++) {
        uint64_t id = 0;
        int64_t ts = wall_ns();
        loom_err rc = loom_job_submit(job, "sim", &p, sizeof p, LOOM_NOWAIT, &id);
        if (rc == LOOM_EFULL)
            break;
        if (rc != LOOM_OK) {
            fprintf(stderr, "bench_swarm: submit: %s\n", loom_strerror(rc));
            exit(1);
        }
        outstanding_put(t, id, ts);
        t->outstanding++;
        t->submitted++;
        did = 1;
    }
    return did;
}

/* One phase: tasks of o->dur[phase] for o->seconds (or o->tasks of them),
 * then the rest drained; prints its CELL line. */
static void
run_phase(loom_job *job, struct tally *t, const struct opts *o, int phase, long window, int workers)
{
    reset_hwm();
    t->nlat = 0;
    long counted = 0, limit = o->tasks ? t->submitted + o->tasks : 0;
    double w0 = bc_now(), c0 = bc_cpu_process(), p0 = progress_cpu_s(job);
    int64_t until = o->tasks && o->dur[phase] >= 0 ? 0 : (int64_t)((w0 + o->seconds) * 1e9);
    for (;;) {
        if (o->tasks && o->dur[phase] >= 0 ? t->submitted >= limit && !t->outstanding
                                           : bc_now() * 1e9 >= (double)until)
            break;
        if (o->dur[phase] < 0) { /* idle */
            bc_sleep(0.01);
            continue;
        }
        int did = submit_some(job, t, o, phase, window, limit);
        take_results(job, t, did ? LOOM_NOWAIT : 1, &counted, until);
    }
    double w1 = bc_now(), c1 = bc_cpu_process(), p1 = progress_cpu_s(job);
    double hwm = bc_vmhwm_mib(), secs = w1 - w0;
    double med = bc_quantile(t->lat, t->nlat, 0.5), p99 = bc_quantile(t->lat, t->nlat, 0.99);
    for (double give_up = bc_now() + 30; t->outstanding && bc_now() < give_up;)
        take_results(job, t, 1000, &counted, until); /* missing after 30 s: CHECK says so */
    double driver =
        (double)((t->mask + 1) * (sizeof *t->ids + sizeof *t->subs) + t->latcap * sizeof *t->lat) /
        1048576;
    printf("CELL workers=%d threads=%u dur_ns=%lld tasks=%ld secs=%.3f tasks_per_s=%.0f "
           "master_cpu_pct=%.1f progress_cpu_pct=%.1f progress_us_per_task=%.3f "
           "lat_med_us=%.1f lat_p99_us=%.1f vmhwm_mib=%.1f driver_mib=%.1f window=%ld load=%.1f\n",
           workers, o->threads, (long long)o->dur[phase], counted, secs, (double)counted / secs,
           100 * (c1 - c0) / secs, 100 * (p1 - p0) / secs,
           counted ? (p1 - p0) * 1e6 / (double)counted : 0.0, med, p99, hwm, driver, window,
           load_average());
    fflush(stdout);
}

static int
master_main(loom_job *job, const struct opts *o, int workers, long window)
{
    if (wait_hellos(job, (unsigned)workers * o->threads) != 0)
        return 1;
    struct tally t = {0};
    t.mask = 1;
    while (t.mask + 1 < (uint64_t)window * 4)
        t.mask = t.mask * 2 + 1;
    t.nslots = loom_job_size(job);
    t.latcap = (size_t)1 << 21;
    t.ids = calloc(t.mask + 1, sizeof *t.ids);
    t.subs = calloc(t.mask + 1, sizeof *t.subs);
    t.used = calloc((size_t)t.nslots, 1);
    t.lat = malloc(t.latcap * sizeof *t.lat);
    if (!t.ids || !t.subs || !t.used || !t.lat)
        return 1;
    for (int p = 0; p < o->ndur; p++) {
        long w = window;
        if (!o->window && o->dur[p] >= 1000000)
            w = window - WINDOW_BACKLOG + 1024;
        run_phase(job, &t, o, p, w, workers);
    }
    int used = 0;
    for (int r = 1; r < t.nslots; r++)
        used += t.used[r];
    printf("CHECK tasks=%ld once=%ld dup=%ld failed=%ld missing=%ld workers_used=%d "
           "workers=%d\n",
           t.submitted, t.done, t.dup, t.failed, t.submitted - t.done, used, workers);
    fflush(stdout);
    int ok = t.done == t.submitted && t.dup == 0 && t.failed == 0;
    free(t.ids);
    free(t.subs);
    free(t.used);
    free(t.lat);
    return ok ? 0 : 1;
}

/* The job's settings: loom's usual sources (and options left on the
 * command line, taken out of argv). */
static loom_config *
make_config(int *argc, char **argv)
{
    loom_config *cfg = NULL;
    if (loom_config_create(&cfg) != LOOM_OK || loom_config_load(cfg, argc, argv) != LOOM_OK) {
        fprintf(stderr, "bench_swarm: settings: %s\n", cfg ? loom_config_error(cfg) : "no memory");
        exit(2);
    }
    return cfg;
}

/* Room for the window (twice: results not taken yet count too), and the
 * threads of a real worker. */
static void
config_window(loom_config *cfg, long window, unsigned threads)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%ld", window * 2);
    loom_config_set(cfg, "job.max_outstanding", buf, "bench_swarm");
    snprintf(buf, sizeof buf, "%u", threads);
    loom_config_set(cfg, "pool.threads", buf, "bench_swarm");
}

int
main(int argc, char **argv)
{
    int provided = 0, size = 1, rank = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    struct opts o;
    int width = loom__swarm_width();
    int workers = (size - 1) * (width > 0 ? width : 1);
    loom_config *cfg = make_config(&argc, argv);
    if (parse_args(argc, argv, &o) != 0 || width < 0) {
        if (rank == 0)
            fprintf(stderr, "usage: LOOM_SWARM=W mpirun -x LOOM_SWARM -np 1+S bench_swarm "
                            "[--threads T] [--durations 0,100us,1ms] [--seconds S | --tasks N] "
                            "[--window K] [--real] [loom options]\n");
        MPI_Finalize();
        return 2;
    }
    long slots = (long)workers * o.threads;
    long window = o.window > 0 ? o.window : slots + WINDOW_BACKLOG;
    config_window(cfg, window, o.threads);
    loom_job *job = NULL;
    loom_job_opts jo = {.config = cfg};
    int rc = 1;
    if (loom_job_create(MPI_COMM_WORLD, &jo, &job) != LOOM_OK ||
        loom_job_register(job, "sim", sim_task, NULL) != LOOM_OK) {
        fprintf(stderr, "bench_swarm: %s\n", loom_last_error());
    } else if (rank > 0 && width > 0 && !o.real) {
        rc = swarm_serve(job, width, o.threads);
    } else if (loom_job_start(job) != LOOM_OK) {
        fprintf(stderr, "bench_swarm: rank %d: start: %s\n", rank, loom_last_error());
    } else if (rank > 0) {
        rc = loom_job_serve(job) == LOOM_OK ? 0 : 1;
    } else {
        rc = master_main(job, &o, workers, window);
    }
    loom_job_destroy(job);
    loom_config_destroy(cfg);
    MPI_Finalize();
    return rc;
}
