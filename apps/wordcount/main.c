/* SPDX-License-Identifier: MIT */
/*
 * loom-wordcount — counts the words of many files with a loom job, and prints
 * what `cat FILES | LC_ALL=C tr -cs '[:alnum:]' '\n' | sort | uniq -c`
 * prints, byte for byte — only much faster.
 *
 *   mpirun -np 3 --bind-to none loom-wordcount [loom options] [--chunk SIZE]
 *       [--output FILE] [--stats] [--] FILE...
 *
 * How it works:
 *   - The master (rank 0) cuts the files into tasks of about --chunk bytes
 *     (default 16M): a big file becomes several slices, small files share a
 *     task. A task's payload lists its slices (path, offset, length): the
 *     workers read the files themselves, so every node must see them at the
 *     same path (a shared file system, or one machine).
 *   - A worker's pool threads run the tasks. Each thread keeps its counting
 *     table and read buffer in its thread-local context (loom_context, the
 *     seed's threading.local()): made on the thread's first task, reused by
 *     every later one, freed by the context's destructor when the thread
 *     ends. A task counts the words that start in its slices (a word cut by
 *     a slice's start belongs to the slice before, which reads on past its
 *     end to finish it), then replies with its partial table.
 *   - The master merges the partial tables as they arrive, sorts the words
 *     in byte order and prints them as `uniq -c` does: "%7d word".
 *
 * A word is a maximal run of [:alnum:] in the C locale (0-9 A-Z a-z); every
 * other byte, including every byte of a UTF-8 letter, separates words.
 * Files are counted separately: a word never spans two files. So the output
 * equals the pipeline's whenever the files but the last end with a
 * non-alphanumeric byte (text files end with a newline). Like the pipeline,
 * wordcount prints a first line "      1 " (an empty word) when the text
 * starts with a separator: `tr -s` turns that leading run into one empty
 * line, which `sort | uniq -c` counts.
 *
 * --stats prints to stderr: files, bytes, tasks, words, distinct words,
 * seconds. Only regular files are read; the files must not change while
 * they are counted.
 *
 * Exit status: 0 success, 1 a file could not be read (the message names
 * it) or the job failed, 2 usage or configuration error.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <loom.h>

#include "../common/app.h"
#include "wc_table.h"

#define PROG "loom-wordcount"

/* Bounds of a task's payload: slices per task, bytes per path. */
#define MAX_SLICES 1024
#define MAX_PATH   4096
/* How much more to read at a time when a word runs past a slice's end. */
#define READ_ON ((size_t)64 << 10)

/* ---- the worker's side ---------------------------------------------------- */

/* What each pool thread keeps in its context between tasks. */
struct wc_thread {
    struct wc_table table; /* this task's counts (cleared per task) */
    unsigned char *buf;    /* file bytes of one slice */
    size_t buf_cap;
    unsigned char *reply; /* the encoded table */
    size_t reply_cap;
};

static loom_context_key thread_key;

/* The context's destructor: runs on the pool thread as it ends. */
static void
thread_state_free(void *value)
{
    struct wc_thread *s = value;
    wc_table_free(&s->table);
    free(s->buf);
    free(s->reply);
    free(s);
}

/* This thread's state, made on its first task. NULL when out of memory. */
static struct wc_thread *
thread_state(loom_context *ctx)
{
    struct wc_thread *s = loom_context_get(ctx, thread_key);
    if (s)
        return s;
    s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    if (wc_table_init(&s->table) != 0)
        goto fail_table;
    if (loom_context_set(ctx, thread_key, s) != LOOM_OK)
        goto fail_set;
    return s;
fail_set:
    wc_table_free(&s->table);
fail_table:
    free(s);
    return NULL;
}

/* Make room for `need` bytes in the thread's buffer. */
static int
reserve(struct wc_thread *s, size_t need)
{
    if (need <= s->buf_cap)
        return 0;
    size_t cap = s->buf_cap ? s->buf_cap : READ_ON;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    unsigned char *b = realloc(s->buf, cap);
    if (!b)
        return -1;
    s->buf = b;
    s->buf_cap = cap;
    return 0;
}

/* Read up to len bytes at off; returns the bytes read (short only at the
 * end of the file) or -1. */
static ssize_t
read_at(int fd, unsigned char *dst, size_t len, uint64_t off)
{
    size_t got = 0;
    while (got < len) {
        ssize_t r = pread(fd, dst + got, len - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/*
 * Count the words that start in [off, off + len) of the file. The slice is
 * read with the byte before it (to know whether a word was cut), then, as
 * long as the last word runs on, more of the file after it.
 * Returns 0, or an errno value (ENOMEM for memory).
 */
static int
count_slice(struct wc_thread *s, const char *path, uint64_t off, uint64_t len)
{
    int err = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        err = errno;
        goto out;
    }
    uint64_t size = (uint64_t)st.st_size;
    if (off >= size)
        goto out; /* the file shrank: nothing of this slice is left */
    uint64_t end = len < size - off ? off + len : size;
    uint64_t lead = off > 0; /* the byte before the slice */
    uint64_t first = off - lead;
    if (end - first > SIZE_MAX / 2) {
        err = EFBIG;
        goto out;
    }
    size_t want = (size_t)(end - first);
    if (reserve(s, want) != 0) {
        err = ENOMEM;
        goto out;
    }
    ssize_t got = read_at(fd, s->buf, want, first);
    if (got < 0) {
        err = errno;
        goto out;
    }
    size_t n = (size_t)got, resume = 0;
    int eof = first + n >= size || n < want;
    int rc = wc_count(&s->table, s->buf, n, (size_t)lead, n, eof, &resume);
    while (rc == 1) {
        /* the last word goes on past the slice: read on until it ends */
        if (reserve(s, n + READ_ON) != 0) {
            err = ENOMEM;
            goto out;
        }
        got = read_at(fd, s->buf + n, READ_ON, first + n);
        if (got < 0) {
            err = errno;
            goto out;
        }
        n += (size_t)got;
        eof = first + n >= size || (size_t)got < READ_ON;
        rc = wc_count(&s->table, s->buf, n, resume, resume + 1, eof, &resume);
    }
    if (rc < 0)
        err = ENOMEM;
out:
    close(fd);
    return err;
}

/* Fail a task with a message for the master. */
static int
task_error(loom_task *task, int status, const char *what, const char *path, int err)
{
    char msg[MAX_PATH + 256];
    snprintf(msg, sizeof msg, "%s%s%s: %s", what, path ? " " : "", path ? path : "", strerror(err));
    loom_task_reply_str(task, msg);
    return status;
}

/*
 * The task. Payload: u32 slices, then per slice u64 offset, u64 length,
 * u32 path length, the path's bytes (no NUL). Reply: the encoded table of
 * the words that start in the slices (wc_table_encode). Status: 0 ok,
 * 1 a file could not be read, 2 a malformed payload, 3 out of memory.
 */
static int
count_task(loom_task *task, void *user)
{
    (void)user;
    size_t len = 0;
    const unsigned char *p = loom_task_payload(task, &len), *end = p + len;
    struct wc_thread *s = thread_state(loom_task_context(task));
    if (!s)
        return task_error(task, 3, "thread state", NULL, ENOMEM);
    wc_table_clear(&s->table);

    uint32_t slices;
    if (len < 4)
        return task_error(task, 2, "payload", NULL, EPROTO);
    memcpy(&slices, p, 4);
    p += 4;
    if (slices > MAX_SLICES)
        return task_error(task, 2, "payload", NULL, EPROTO);
    for (uint32_t k = 0; k < slices; k++) {
        uint64_t off, n;
        uint32_t plen;
        char path[MAX_PATH];
        if (end - p < 20)
            return task_error(task, 2, "payload", NULL, EPROTO);
        memcpy(&off, p, 8);
        memcpy(&n, p + 8, 8);
        memcpy(&plen, p + 16, 4);
        p += 20;
        if (plen == 0 || plen >= MAX_PATH || plen > (size_t)(end - p))
            return task_error(task, 2, "payload", NULL, EPROTO);
        memcpy(path, p, plen);
        path[plen] = '\0';
        p += plen;
        int err = count_slice(s, path, off, n);
        if (err)
            return task_error(task, err == ENOMEM ? 3 : 1, "cannot read", path, err);
    }
    size_t out_len = 0;
    if (wc_table_encode(&s->table, &s->reply, &s->reply_cap, &out_len) != 0)
        return task_error(task, 3, "reply", NULL, ENOMEM);
    loom_err rc = loom_task_reply(task, s->reply, out_len);
    if (rc == LOOM_ERANGE) /* more distinct words than job.max_payload holds */
        return task_error(task, 3, "reply above job.max_payload (use a smaller --chunk)", NULL,
                          EMSGSIZE);
    if (rc != LOOM_OK)
        return task_error(task, 3, "reply", NULL, ENOMEM);
    return 0;
}

/* ---- the master's side ---------------------------------------------------- */

struct master {
    loom_job *job;
    struct wc_table total;
    unsigned char *payload; /* the task being filled */
    size_t payload_len, payload_cap;
    uint32_t slices;  /* in the task being filled */
    uint64_t filled;  /* its bytes of text */
    size_t submitted; /* tasks */
    size_t received;  /* results */
    size_t failed;    /* results with a non-zero status */
    int bad_reply;    /* a reply that did not decode */
};

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Merge one result into the total (or report its failure). */
static void
take_result(struct master *m, loom_result *r)
{
    m->received++;
    if (r->status != 0) {
        m->failed++;
        fprintf(stderr, PROG ": rank %d: %.*s\n", r->rank, (int)(r->len > 4096 ? 4096 : r->len),
                r->len ? (const char *)r->data : "task failed");
        return;
    }
    int rc = wc_table_merge(&m->total, r->data, r->len);
    if (rc == -2) {
        fprintf(stderr, PROG ": a malformed reply from rank %d\n", r->rank);
        m->bad_reply = 1;
    } else if (rc != 0) {
        fprintf(stderr, PROG ": out of memory merging the counts\n");
        m->bad_reply = 1;
    }
}

/* Submit the task being filled; while the job is at its bound of tasks in
 * flight, merge results to make room. */
static loom_err
submit_task(struct master *m)
{
    if (m->slices == 0)
        return LOOM_OK;
    memcpy(m->payload, &m->slices, 4);
    loom_err rc;
    loom_result r;
    while ((rc = loom_job_submit(m->job, "count", m->payload, m->payload_len, LOOM_NOWAIT, NULL)) ==
           LOOM_EFULL) {
        if ((rc = loom_job_next_result(m->job, LOOM_FOREVER, &r)) != LOOM_OK)
            return rc;
        take_result(m, &r);
        loom_result_free(&r);
    }
    if (rc == LOOM_OK)
        m->submitted++;
    m->slices = 0;
    m->filled = 0;
    m->payload_len = 4;
    return rc;
}

/* Add a slice to the task being filled. */
static int
add_slice(struct master *m, const char *path, uint64_t off, uint64_t len)
{
    size_t plen = strlen(path);
    size_t need = m->payload_len + 20 + plen;
    if (need > m->payload_cap) {
        size_t cap = m->payload_cap * 2 > need ? m->payload_cap * 2 : need;
        unsigned char *b = realloc(m->payload, cap);
        if (!b)
            return -1;
        m->payload = b;
        m->payload_cap = cap;
    }
    uint32_t pl = (uint32_t)plen;
    unsigned char *p = m->payload + m->payload_len;
    memcpy(p, &off, 8);
    memcpy(p + 8, &len, 8);
    memcpy(p + 16, &pl, 4);
    memcpy(p + 20, path, plen);
    m->payload_len = need;
    m->slices++;
    m->filled += len;
    return 0;
}

/* Does the concatenated text start with a separator? Then the pipeline
 * prints one empty line first (tr -s squeezes a leading run to one '\n'). */
static int
starts_with_separator(char **files, int nfiles, const uint64_t *sizes)
{
    for (int i = 0; i < nfiles; i++) {
        if (sizes[i] == 0)
            continue;
        unsigned char c = 'a';
        int fd = open(files[i], O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            if (read_at(fd, &c, 1, 0) != 1)
                c = 'a';
            close(fd);
        }
        return !wc_alnum[c];
    }
    return 0;
}

/* Every file must be there, regular and readable, before any work: their
 * sizes into sizes, their sum into *bytes. 0, or -1 (said). */
static int
check_files(char **files, int nfiles, uint64_t *sizes, uint64_t *bytes)
{
    for (int i = 0; i < nfiles; i++) {
        struct stat st;
        if (strlen(files[i]) >= MAX_PATH) {
            fprintf(stderr, PROG ": %.64s...: path too long\n", files[i]);
            return -1;
        }
        if (stat(files[i], &st) != 0 || access(files[i], R_OK) != 0) {
            fprintf(stderr, PROG ": %s: %s\n", files[i], strerror(errno));
            return -1;
        }
        if (!S_ISREG(st.st_mode)) {
            fprintf(stderr, PROG ": %s: not a regular file\n", files[i]);
            return -1;
        }
        sizes[i] = (uint64_t)st.st_size;
        *bytes += sizes[i];
    }
    return 0;
}

/* Cut the files into tasks of about `chunk` bytes and submit them. 0, or
 * -1 (said). */
static int
submit_files(struct master *m, char **files, int nfiles, const uint64_t *sizes, uint64_t chunk)
{
    loom_err rc = LOOM_OK;
    for (int i = 0; i < nfiles && rc == LOOM_OK; i++) {
        for (uint64_t pos = 0; pos < sizes[i] && rc == LOOM_OK;) {
            uint64_t take = sizes[i] - pos;
            if (take > chunk - m->filled)
                take = chunk - m->filled;
            if (add_slice(m, files[i], pos, take) != 0) {
                fprintf(stderr, PROG ": out of memory\n");
                return -1;
            }
            pos += take;
            if (m->filled >= chunk || m->slices == MAX_SLICES)
                rc = submit_task(m);
        }
    }
    if (rc == LOOM_OK)
        rc = submit_task(m);
    if (rc != LOOM_OK) {
        fprintf(stderr, PROG ": submitting: %s\n", loom_last_error());
        return -1;
    }
    return 0;
}

/* Merge the partial tables as they arrive, until every task's is in. 0,
 * or -1 when the job failed or a task did (said). */
static int
collect_results(struct master *m)
{
    while (m->received < m->submitted) {
        loom_result r;
        loom_err rc = loom_job_next_result(m->job, LOOM_FOREVER, &r);
        if (rc != LOOM_OK) {
            fprintf(stderr, PROG ": waiting for results: %s\n", loom_last_error());
            return -1;
        }
        take_result(m, &r);
        loom_result_free(&r);
    }
    return m->failed || m->bad_reply ? -1 : 0;
}

/* Print the counts, sorted, to output (NULL: standard output), opened
 * into *out for the caller to close. 0, or -1 (said). */
static int
print_counts(struct wc_table *total, const char *output, FILE **out)
{
    *out = output ? fopen(output, "w") : stdout;
    if (!*out) {
        fprintf(stderr, PROG ": %s: %s\n", output, strerror(errno));
        return -1;
    }
    setvbuf(*out, NULL, _IOFBF, (size_t)1 << 20);
    if (wc_table_print(total, *out) != 0 || fflush(*out) != 0) {
        fprintf(stderr, PROG ": writing %s: %s\n", output ? output : "the output", strerror(errno));
        return -1;
    }
    return 0;
}

static int
run_master(loom_job *job, char **files, int nfiles, uint64_t chunk, const char *output, int stats)
{
    struct master m = {.job = job};
    int status = 1;
    FILE *out = NULL;
    uint64_t bytes = 0;
    double t0 = now();
    uint64_t *sizes = calloc((size_t)nfiles, sizeof *sizes);
    m.payload_cap = 4096;
    m.payload = malloc(m.payload_cap);
    m.payload_len = 4;
    if (!sizes || !m.payload || wc_table_init(&m.total) != 0) {
        fprintf(stderr, PROG ": out of memory\n");
        goto out;
    }
    if (check_files(files, nfiles, sizes, &bytes) != 0 ||
        submit_files(&m, files, nfiles, sizes, chunk) != 0 || collect_results(&m) != 0)
        goto out;
    uint64_t words = m.total.words;
    if (starts_with_separator(files, nfiles, sizes) && wc_table_add(&m.total, "", 0, 1) != 0) {
        fprintf(stderr, PROG ": out of memory\n");
        goto out;
    }
    if (print_counts(&m.total, output, &out) != 0)
        goto out;
    if (stats)
        fprintf(stderr,
                PROG ": %d files, %" PRIu64 " bytes, %zu tasks on %d workers, %" PRIu64
                     " words, %zu distinct, %.3f s\n",
                nfiles, bytes, m.submitted, loom_job_size(job) - 1, words, m.total.n, now() - t0);
    status = 0;
out:
    if (out && out != stdout && fclose(out) != 0 && status == 0) {
        fprintf(stderr, PROG ": closing %s: %s\n", output, strerror(errno));
        status = 1;
    }
    wc_table_free(&m.total);
    free(m.payload);
    free(sizes);
    return status;
}

/* ---- main ------------------------------------------------------------------ */

static void
usage(FILE *fp)
{
    fprintf(fp, "usage: mpirun -np 3 --bind-to none " PROG " [loom options] [--chunk SIZE]\n"
                "           [--output FILE] [--stats] [--] FILE...\n\n"
                "Counts the words of the files on every worker's pool threads and prints\n"
                "what  cat FILE... | LC_ALL=C tr -cs '[:alnum:]' '\\n' | sort | uniq -c\n"
                "prints. A word is a run of 0-9 A-Z a-z; files are counted separately.\n\n"
                "  --chunk SIZE   bytes of text per task (default 16M; suffix K, M or G;\n"
                "                 1 .. 1G)\n"
                "  --output FILE  write the counts to FILE instead of standard output\n"
                "  --stats        print files, bytes, tasks, words and time to stderr\n"
                "  --help         this text\n"
                "  --version      loom, MPI and build id of this program\n\n"
                "loom options (also LOOM_* variables and a config file):\n");
    loom_config_print_help(fp);
    fprintf(fp, "\nExit status: 0 success, 1 a file could not be read or the job failed,\n"
                "2 usage or configuration error.\n");
}

/* "16M" and the like: 0 with *out set, or -1. */
static int
parse_size(const char *s, uint64_t *out)
{
    char *end = NULL;
    if (!s || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    int shift = 0;
    if (*end == 'K' || *end == 'k')
        shift = 10;
    else if (*end == 'M' || *end == 'm')
        shift = 20;
    else if (*end == 'G' || *end == 'g')
        shift = 30;
    if (shift)
        end++;
    if (errno || *end || v == 0 || v > ((1ull << 30) >> shift))
        return -1;
    *out = (uint64_t)v << shift;
    return 0;
}

int
main(int argc, char **argv)
{
    int speak = app_launcher_rank() == 0;
    loom_config *cfg = NULL;
    loom_job *job = NULL;
    int status = 2, mpi_up = 0, stats = 0, nfiles = 0;
    uint64_t chunk = (uint64_t)16 << 20;
    const char *output = NULL;
    char **files = NULL;

    if (loom_config_create(&cfg) != LOOM_OK) {
        fprintf(stderr, PROG ": out of memory\n");
        return 1;
    }
    if (loom_config_load(cfg, &argc, argv) != LOOM_OK) {
        if (speak)
            fprintf(stderr, PROG ": %s\n", loom_config_error(cfg));
        goto out;
    }
    files = calloc((size_t)argc, sizeof *files);
    if (!files) {
        fprintf(stderr, PROG ": out of memory\n");
        status = 1;
        goto out;
    }
    for (int i = 1, options = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!options || a[0] != '-' || strcmp(a, "-") == 0) {
            files[nfiles++] = argv[i];
        } else if (strcmp(a, "--") == 0) {
            options = 0;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            if (speak)
                usage(stdout);
            status = 0;
            goto out;
        } else if (strcmp(a, APP_VERSION_OPTION) == 0) {
            if (speak)
                app_print_version(PROG);
            status = 0;
            goto out;
        } else if (strcmp(a, "--chunk") == 0) {
            if (parse_size(i + 1 < argc ? argv[++i] : NULL, &chunk) != 0) {
                if (speak)
                    fprintf(stderr, PROG ": --chunk needs a size from 1 to 1G\n");
                goto out;
            }
        } else if (strcmp(a, "--output") == 0 || strcmp(a, "-o") == 0) {
            if (i + 1 >= argc) {
                if (speak)
                    fprintf(stderr, PROG ": --output needs a file name\n");
                goto out;
            }
            output = argv[++i];
        } else if (strcmp(a, "--stats") == 0) {
            stats = 1;
        } else {
            if (speak)
                fprintf(stderr, PROG ": unknown argument '%s' (try --help)\n", a);
            goto out;
        }
    }
    if (nfiles == 0) {
        if (speak)
            fprintf(stderr, PROG ": no files to count (try --help)\n");
        goto out;
    }
    loom_config_apply(cfg);
    if (loom_context_key_create(&thread_key, thread_state_free) != LOOM_OK) {
        fprintf(stderr, PROG ": cannot create the context key\n");
        status = 1;
        goto out;
    }

    static const struct app_fn fns[] = {{"count", count_task, NULL}};
    status = app_start(PROG, &argc, &argv, cfg, fns, 1, &mpi_up, &job);
    if (status != 0)
        goto out;
    if (loom_job_is_master(job)) {
        status = run_master(job, files, nfiles, chunk, output, stats);
        loom_err rc = loom_job_finish(job);
        if (rc != LOOM_OK) {
            fprintf(stderr, PROG ": finishing the job: %s\n", loom_last_error());
            status = 1;
        }
    } else {
        loom_err rc = loom_job_serve(job);
        status = 0;
        if (rc != LOOM_OK) {
            fprintf(stderr, PROG ": rank %d: %s\n", loom_job_rank(job), loom_last_error());
            status = 1;
        }
    }
out:
    app_end(job, mpi_up, status);
    loom_config_destroy(cfg);
    free(files);
    return status;
}
