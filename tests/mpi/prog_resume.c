/* SPDX-License-Identifier: MIT */
/*
 * prog_resume — a C-API job with a journal, killed and resumed.
 *
 *   mpirun -np 3 prog_resume --journal FILE [--resume] [--tasks N] [--ms M] [--runs DIR]
 *   prog_resume --check FILE --tasks N          (no MPI: read the journal)
 *
 * The job runs N tasks of M ms; with --runs each run of task n appends a
 * line "n attempt rank host" to DIR/n once it has worked (so a test sees
 * the runs a crash made happen again, not only the journal). The master
 * prints
 *   RESUME tasks=N ran=R resumed=S failed=F
 * (R run now, S skipped as done by the journal). --check replays the
 * journal and prints
 *   JOURNAL tasks=N once=A twice=B missing=C other=D bad_regions=E torn=F
 * counting, per task id 1..N, its successful records.
 */
#define _POSIX_C_SOURCE 200809L
#include "journal.h"
#include "prog_common.h"

static const char *runs_dir; /* --runs DIR, or NULL */

/* Append "n attempt rank host" to runs_dir/n (one write: lines whole). */
static void
note_run(loom_task *task, int64_t n)
{
    char path[4096], line[512], host[256] = "?";
    int rank = -1;
    gethostname(host, sizeof host - 1);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    snprintf(path, sizeof path, "%s/%lld", runs_dir, (long long)n);
    int len = snprintf(line, sizeof line, "%lld %u %d %s\n", (long long)n, loom_task_attempt(task),
                       rank, host);
    FILE *f = fopen(path, "a");
    if (f) {
        fwrite(line, 1, (size_t)len, f);
        fclose(f);
    }
}

static int
work(loom_task *task, void *user)
{
    (void)user;
    size_t len;
    const void *p = loom_task_payload(task, &len);
    int64_t v[2];
    if (len != sizeof v)
        return 1;
    memcpy(v, p, sizeof v);
    prog_sleep_ms((int)v[1]);
    if (runs_dir)
        note_run(task, v[0]);
    return 0;
}

struct tally {
    unsigned *ok;
    uint64_t n, other;
};

static loom_err
count(const struct loom__journal_rec *rec, uint64_t off, void *arg)
{
    (void)off;
    struct tally *t = arg;
    if (rec->task_id >= 1 && rec->task_id <= t->n && loom__journal_rec_ok(rec))
        t->ok[rec->task_id]++;
    else if (loom__journal_rec_ok(rec))
        t->other++;
    return LOOM_OK;
}

static int
check(const char *path, uint64_t n)
{
    struct tally t = {calloc(n + 1, sizeof *t.ok), n, 0};
    struct loom__journal_stats st;
    char err[512];
    if (!t.ok || loom__journal_replay(path, NULL, count, &t, &st, err, sizeof err) != LOOM_OK) {
        fprintf(stderr, "prog_resume: %s\n", err);
        return 1;
    }
    uint64_t once = 0, twice = 0, missing = 0;
    for (uint64_t i = 1; i <= n; i++)
        once += t.ok[i] == 1, twice += t.ok[i] == 2, missing += t.ok[i] == 0;
    out("JOURNAL tasks=%llu once=%llu twice=%llu missing=%llu other=%llu bad_regions=%llu "
        "torn=%llu\n",
        (unsigned long long)n, (unsigned long long)once, (unsigned long long)twice,
        (unsigned long long)missing, (unsigned long long)t.other,
        (unsigned long long)st.bad_regions, (unsigned long long)st.torn_bytes);
    free(t.ok);
    return 0;
}

int
main(int argc, char **argv)
{
    struct prog p;
    uint64_t n = 1000, ms = 5;
    const char *journal = NULL, *checked = NULL;
    int resume = 0;
    int status = prog_config(&p, "prog_resume", &argc, argv);
    if (status != 0)
        return prog_end(&p, status);
    for (int i = 1; i < argc; i++) {
        if (prog_opt_u64(argc, argv, &i, "--tasks", &n) ||
            prog_opt_u64(argc, argv, &i, "--ms", &ms))
            continue;
        if (strcmp(argv[i], "--journal") == 0 && i + 1 < argc) {
            journal = argv[++i];
        } else if (strcmp(argv[i], "--check") == 0 && i + 1 < argc) {
            checked = argv[++i];
        } else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
            runs_dir = argv[++i];
        } else if (strcmp(argv[i], "--resume") == 0) {
            resume = 1;
        } else {
            fprintf(stderr, "prog_resume: unknown argument '%s'\n", argv[i]);
            return prog_end(&p, 2);
        }
    }
    if (checked)
        return prog_end(&p, check(checked, n));

    int provided;
    if (MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided) != MPI_SUCCESS)
        return prog_end(&p, 1);
    p.mpi_up = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &p.rank);
    loom_job_opts opts = {.config = p.cfg, .journal = journal, .resume = resume};
    if (loom_job_create(MPI_COMM_WORLD, &opts, &p.job) != LOOM_OK ||
        loom_job_register(p.job, "work", work, NULL) != LOOM_OK ||
        loom_job_start(p.job) != LOOM_OK) {
        out("START rank=%d failed: %s\n", p.rank, loom_last_error());
        return prog_end(&p, 1);
    }
    if (!loom_job_is_master(p.job))
        return prog_end(&p, loom_job_serve(p.job) == LOOM_OK ? 0 : 1);

    uint64_t ran = 0, resumed = 0, failed = 0;
    for (uint64_t i = 1; i <= n; i++) {
        int64_t v[2] = {(int64_t)i, (int64_t)ms};
        loom_err rc = loom_job_submit(p.job, "work", v, sizeof v, LOOM_FOREVER, NULL);
        if (rc != LOOM_OK) {
            out("SUBMIT task=%llu rc=%s\n", (unsigned long long)i, loom_err_name(rc));
            return prog_end(&p, 1);
        }
    }
    loom_result r;
    while (loom_job_next_result(p.job, LOOM_FOREVER, &r) == LOOM_OK) {
        if (r.status != 0)
            failed++;
        else if (r.resumed)
            resumed++;
        else
            ran++;
        loom_result_free(&r);
    }
    status = loom_job_finish(p.job) == LOOM_OK && !failed ? 0 : 1;
    out("RESUME tasks=%llu ran=%llu resumed=%llu failed=%llu\n", (unsigned long long)n,
        (unsigned long long)ran, (unsigned long long)resumed, (unsigned long long)failed);
    return prog_end(&p, status);
}
