/* SPDX-License-Identifier: MIT */
/*
 * ref_mpi — the plain C/MPI references loom is measured against
 * (baselines.md systems (d) and (e), W2 and W4). No loom inside.
 *
 *   ref_mpi one      [-n TASKS] [-d DEPTH]    (d) one int64 task per message
 *   ref_mpi batch    [-n TASKS] [-b PER_MSG]  (e) 256 int64 tasks per message
 *   ref_mpi compute  [-n TASKS] -i ITERS      10 ms tasks, one per message
 *   ref_mpi pingpong [-n TRIPS]               8-byte MPI_Send/MPI_Recv, rank 0 <-> 1
 *   ref_mpi idle     [-s SECS]                every rank blocked in MPI_Recv
 *   ref_mpi calibrate [-m MS]                 (no MPI) burn iterations for MS ms
 *   ref_mpi serial   [-n TASKS] -i ITERS      (no MPI) the compute tasks in one thread
 *
 * The master/worker modes are the textbook program: rank 0 hands out tasks
 * with blocking MPI_Send and collects results with a blocking
 * MPI_Recv(MPI_ANY_SOURCE); each worker loops MPI_Recv → compute → MPI_Send.
 * Each worker has DEPTH tasks outstanding (default 1), so a task costs one
 * round trip per worker. The clock starts after a barrier (workers up) and
 * stops at the last result. Rank 0 prints one line, e.g.
 *   ref one tasks=1500000 secs=1.9 rate=789000 hwm_mib=13.1
 */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_common.h"

enum { TAG_TASK = 1, TAG_RESULT = 2, TAG_STOP = 3, TAG_WAKE = 4 };

struct opts {
    const char *mode;
    uint64_t n;      /* tasks or round trips */
    int depth;       /* tasks outstanding per worker */
    int per_msg;     /* batch size */
    uint64_t iters;  /* burn iterations per compute task */
    double secs;     /* idle period */
    double ms;       /* calibration target */
    double max_secs; /* pingpong: stop early after this long */
};

static void
die(const char *msg)
{
    fprintf(stderr, "ref_mpi: %s\n", msg);
    exit(2);
}

/* ---- (d) one task per message; also the compute reference ------------- */

/* Workers: receive an int64, reply with its square (or burn it). */
static void
worker_one(int compute)
{
    for (;;) {
        int64_t v;
        MPI_Status st;
        MPI_Recv(&v, 1, MPI_INT64_T, 0, MPI_ANY_TAG, MPI_COMM_WORLD, &st);
        if (st.MPI_TAG == TAG_STOP)
            break;
        int64_t r = compute ? (int64_t)bc_burn((uint64_t)v, (uint64_t)st.MPI_SOURCE + 1) : v * v;
        MPI_Send(&r, 1, MPI_INT64_T, 0, TAG_RESULT, MPI_COMM_WORLD);
    }
}

static void
master_one(const struct opts *o, int size, int compute)
{
    uint64_t next = 0, outstanding = 0, sum = 0;
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = bc_now();
    for (int d = 0; d < o->depth; d++)
        for (int w = 1; w < size && next < o->n; w++) {
            int64_t v = compute ? (int64_t)o->iters : (int64_t)next;
            next++;
            MPI_Send(&v, 1, MPI_INT64_T, w, TAG_TASK, MPI_COMM_WORLD);
            outstanding++;
        }
    while (outstanding) {
        int64_t r;
        MPI_Status st;
        MPI_Recv(&r, 1, MPI_INT64_T, MPI_ANY_SOURCE, TAG_RESULT, MPI_COMM_WORLD, &st);
        sum += (uint64_t)r;
        outstanding--;
        if (next < o->n) {
            int64_t v = compute ? (int64_t)o->iters : (int64_t)next;
            next++;
            MPI_Send(&v, 1, MPI_INT64_T, st.MPI_SOURCE, TAG_TASK, MPI_COMM_WORLD);
            outstanding++;
        }
    }
    double secs = bc_now() - t0;
    for (int w = 1; w < size; w++)
        MPI_Send(NULL, 0, MPI_INT64_T, w, TAG_STOP, MPI_COMM_WORLD);
    if (compute)
        printf("ref compute tasks=%llu iters=%llu workers=%d secs=%.4f checksum=%llx "
               "hwm_mib=%.1f\n",
               (unsigned long long)o->n, (unsigned long long)o->iters, size - 1, secs,
               (unsigned long long)sum, bc_vmhwm_mib());
    else
        printf("ref one tasks=%llu depth=%d secs=%.4f rate=%.0f ok=%d hwm_mib=%.1f\n",
               (unsigned long long)o->n, o->depth, secs, (double)o->n / secs,
               sum == bc_sum_squares(o->n), bc_vmhwm_mib());
}

/* ---- (e) PER_MSG tasks per message -------------------------------------- */

static void
worker_batch(int per_msg)
{
    int64_t *buf = malloc((size_t)per_msg * sizeof *buf);
    if (!buf)
        die("out of memory");
    for (;;) {
        MPI_Status st;
        int count;
        MPI_Recv(buf, per_msg, MPI_INT64_T, 0, MPI_ANY_TAG, MPI_COMM_WORLD, &st);
        if (st.MPI_TAG == TAG_STOP)
            break;
        MPI_Get_count(&st, MPI_INT64_T, &count);
        for (int i = 0; i < count; i++)
            buf[i] *= buf[i];
        MPI_Send(buf, count, MPI_INT64_T, 0, TAG_RESULT, MPI_COMM_WORLD);
    }
    free(buf);
}

static void
master_batch(const struct opts *o, int size)
{
    int64_t *buf = malloc((size_t)o->per_msg * sizeof *buf);
    uint64_t next = 0, outstanding = 0, sum = 0;
    if (!buf)
        die("out of memory");
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = bc_now();
    for (int d = 0; d < o->depth; d++)
        for (int w = 1; w < size && next < o->n; w++) {
            int k = 0;
            while (k < o->per_msg && next < o->n)
                buf[k++] = (int64_t)next++;
            MPI_Send(buf, k, MPI_INT64_T, w, TAG_TASK, MPI_COMM_WORLD);
            outstanding++;
        }
    while (outstanding) {
        MPI_Status st;
        int count;
        MPI_Recv(buf, o->per_msg, MPI_INT64_T, MPI_ANY_SOURCE, TAG_RESULT, MPI_COMM_WORLD, &st);
        MPI_Get_count(&st, MPI_INT64_T, &count);
        for (int i = 0; i < count; i++)
            sum += (uint64_t)buf[i];
        outstanding--;
        if (next < o->n) {
            int k = 0;
            while (k < o->per_msg && next < o->n)
                buf[k++] = (int64_t)next++;
            MPI_Send(buf, k, MPI_INT64_T, st.MPI_SOURCE, TAG_TASK, MPI_COMM_WORLD);
            outstanding++;
        }
    }
    double secs = bc_now() - t0;
    for (int w = 1; w < size; w++)
        MPI_Send(NULL, 0, MPI_INT64_T, w, TAG_STOP, MPI_COMM_WORLD);
    printf("ref batch tasks=%llu per_msg=%d secs=%.4f rate=%.0f ok=%d hwm_mib=%.1f\n",
           (unsigned long long)o->n, o->per_msg, secs, (double)o->n / secs,
           sum == bc_sum_squares(o->n), bc_vmhwm_mib());
    free(buf);
}

/* ---- W4 ping-pong ------------------------------------------------------- */

static void
pingpong(const struct opts *o, int rank)
{
    const int warm = 1000;
    uint64_t n = o->n;
    double *rtt = rank == 0 ? malloc(n * sizeof *rtt) : NULL;
    int64_t v = 0;
    if (rank == 0 && !rtt)
        die("out of memory");
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0) {
        double start = bc_now();
        uint64_t done = 0;
        for (uint64_t i = 0;; i++) {
            /* the last trip carries stop=1: after n timed trips, or once the
             * time cap (-t) has passed */
            int64_t stop = i + 1 >= n + warm || (o->max_secs > 0 && i >= (uint64_t)warm &&
                                                 bc_now() - start > o->max_secs);
            double t0 = bc_now();
            MPI_Send(&stop, 1, MPI_INT64_T, 1, TAG_TASK, MPI_COMM_WORLD);
            MPI_Recv(&v, 1, MPI_INT64_T, 1, TAG_RESULT, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            double t1 = bc_now();
            if (i >= (uint64_t)warm)
                rtt[done++] = (t1 - t0) * 1e6;
            if (stop)
                break;
        }
        double med = bc_quantile(rtt, done, 0.5);
        double p99 = bc_quantile(rtt, done, 0.99);
        printf("ref pingpong trips=%llu median_us=%.3f p99_us=%.3f min_us=%.3f hwm_mib=%.1f\n",
               (unsigned long long)done, med, p99, rtt[0], bc_vmhwm_mib());
        free(rtt);
    } else if (rank == 1) {
        for (;;) {
            int64_t stop;
            MPI_Recv(&stop, 1, MPI_INT64_T, 0, TAG_TASK, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            MPI_Send(&v, 1, MPI_INT64_T, 0, TAG_RESULT, MPI_COMM_WORLD);
            if (stop)
                break;
        }
    }
}

/* ---- idle: everybody blocked in MPI_Recv for SECS ----------------------- */

/*
 * Rank 0 (the master) and ranks >= 2 (workers waiting for work) sit in a
 * blocking MPI_Recv; rank 1 is the timer: it sleeps SECS and then wakes the
 * master, which releases the others. The CPU each rank used over its wait,
 * as % of one core, is gathered to rank 0 (rank 1 reports -1: it slept).
 */
static void
idle(const struct opts *o, int rank, int size)
{
    int64_t v = 0;
    MPI_Barrier(MPI_COMM_WORLD);
    double w0 = bc_now(), c0 = bc_cpu_process();
    if (rank == 0) {
        MPI_Recv(&v, 1, MPI_INT64_T, 1, TAG_WAKE, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    } else if (rank == 1) {
        bc_sleep(o->secs);
        MPI_Send(&v, 1, MPI_INT64_T, 0, TAG_WAKE, MPI_COMM_WORLD);
    } else {
        MPI_Recv(&v, 1, MPI_INT64_T, 0, TAG_STOP, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    }
    double pct = rank == 1 ? -1 : 100.0 * (bc_cpu_process() - c0) / (bc_now() - w0);
    double wall = bc_now() - w0;
    if (rank == 0)
        for (int w = 2; w < size; w++)
            MPI_Send(&v, 1, MPI_INT64_T, w, TAG_STOP, MPI_COMM_WORLD);
    double *all = rank == 0 ? calloc((size_t)size, sizeof *all) : NULL;
    MPI_Gather(&pct, 1, MPI_DOUBLE, all, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    if (rank == 0) {
        double wmax = -1;
        for (int r = 2; r < size; r++)
            wmax = all[r] > wmax ? all[r] : wmax;
        printf("ref idle secs=%.2f master_cpu_pct=%.2f worker_cpu_pct=%.2f hwm_mib=%.1f\n", wall,
               all[0], wmax, bc_vmhwm_mib());
        free(all);
    }
}

/* ---- no-MPI helpers for the compute workload ---------------------------- */

/* Iterations for o->ms of thread CPU time: scale from a first guess, then
 * take the best (lowest) of 15 timings, as baselines.md did. */
static void
calibrate(const struct opts *o)
{
    uint64_t iters = 1000000;
    double best = 1e9;
    volatile uint64_t sink = 0;
    for (int round = 0; round < 3; round++) {
        best = 1e9;
        for (int k = 0; k < 15; k++) {
            double c0 = bc_cpu_thread();
            sink += bc_burn(iters, (uint64_t)k);
            double c = bc_cpu_thread() - c0;
            best = c < best ? c : best;
        }
        iters = (uint64_t)((double)iters * (o->ms / 1e3) / best);
    }
    (void)sink;
    printf("ref calibrate iters=%llu target_ms=%.2f\n", (unsigned long long)iters, o->ms);
}

/* The same tasks run back to back in one thread: the per-task cost that
 * parallel efficiency is measured against. */
static void
serial(const struct opts *o)
{
    uint64_t sum = 0;
    double t0 = bc_now(), c0 = bc_cpu_process();
    for (uint64_t i = 0; i < o->n; i++)
        sum += bc_burn(o->iters, 1);
    double secs = bc_now() - t0, cpu = bc_cpu_process() - c0;
    printf("ref serial tasks=%llu iters=%llu secs=%.4f task_ms=%.4f cpu_task_ms=%.4f "
           "checksum=%llx\n",
           (unsigned long long)o->n, (unsigned long long)o->iters, secs, secs * 1e3 / (double)o->n,
           cpu * 1e3 / (double)o->n, (unsigned long long)sum);
}

static void
usage(void)
{
    fprintf(stderr, "usage: ref_mpi one|batch|compute|pingpong|idle|calibrate|serial\n"
                    "         [-n N] [-d DEPTH] [-b PER_MSG] [-i ITERS] [-s SECS] [-m MS]"
                    " [-t MAX_SECS]\n");
    exit(2);
}

int
main(int argc, char **argv)
{
    struct opts o = {.n = 0, .depth = 1, .per_msg = 256, .secs = 10, .ms = 10};
    if (argc < 2)
        usage();
    o.mode = argv[1];
    int opt;
    optind = 2;
    while ((opt = getopt(argc, argv, "n:d:b:i:s:m:t:h")) != -1) {
        switch (opt) {
        case 'n':
            o.n = strtoull(optarg, NULL, 10);
            break;
        case 'd':
            o.depth = atoi(optarg);
            break;
        case 'b':
            o.per_msg = atoi(optarg);
            break;
        case 'i':
            o.iters = strtoull(optarg, NULL, 10);
            break;
        case 's':
            o.secs = strtod(optarg, NULL);
            break;
        case 'm':
            o.ms = strtod(optarg, NULL);
            break;
        case 't':
            o.max_secs = strtod(optarg, NULL);
            break;
        default:
            usage();
        }
    }
    if (o.depth < 1 || o.per_msg < 1)
        die("-d and -b must be positive");
    int is_compute = strcmp(o.mode, "compute") == 0 || strcmp(o.mode, "serial") == 0;
    if (is_compute && o.iters == 0)
        die("compute and serial need -i ITERS (see ref_mpi calibrate)");
    if (o.n == 0)
        o.n = strcmp(o.mode, "one") == 0        ? 1500000
              : strcmp(o.mode, "batch") == 0    ? 150000000
              : strcmp(o.mode, "pingpong") == 0 ? 1000000
                                                : 200;
    setvbuf(stdout, NULL, _IOLBF, 0);

    if (strcmp(o.mode, "calibrate") == 0) {
        calibrate(&o);
        return 0;
    }
    if (strcmp(o.mode, "serial") == 0) {
        serial(&o);
        return 0;
    }

    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size < 2) {
        if (rank == 0)
            fprintf(stderr, "ref_mpi: needs at least 2 ranks\n");
        MPI_Finalize();
        return 2;
    }
    if (strcmp(o.mode, "one") == 0 || strcmp(o.mode, "compute") == 0) {
        int compute = strcmp(o.mode, "compute") == 0;
        if (rank == 0)
            master_one(&o, size, compute);
        else {
            MPI_Barrier(MPI_COMM_WORLD);
            worker_one(compute);
        }
    } else if (strcmp(o.mode, "batch") == 0) {
        if (rank == 0)
            master_batch(&o, size);
        else {
            MPI_Barrier(MPI_COMM_WORLD);
            worker_batch(o.per_msg);
        }
    } else if (strcmp(o.mode, "pingpong") == 0) {
        pingpong(&o, rank);
    } else if (strcmp(o.mode, "idle") == 0) {
        idle(&o, rank, size);
    } else {
        if (rank == 0)
            fprintf(stderr, "ref_mpi: unknown mode '%s'\n", o.mode);
        MPI_Finalize();
        return 2;
    }
    MPI_Finalize();
    return 0;
}
