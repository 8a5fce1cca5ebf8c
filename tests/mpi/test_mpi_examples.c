/* SPDX-License-Identifier: MIT */
/* The distributed examples of issue 7 under mpirun: queue (a writer rank
 * and a reader rank) and wordcount (byte-identical to the shell pipeline it
 * replaces, on a small generated corpus and on hand-made edge cases). The
 * big-corpus race against the pipeline is test_mpi_wordcount_bench.c. */
#include <stdint.h>
#include <unistd.h>

#include "mpi_run.h"

#ifndef GEN_CORPUS
#define GEN_CORPUS PROG_DIR "/../gen_corpus"
#endif

/* ---- queue ------------------------------------------------------------------ */

/* The i-th item's letters (from 0), as the example makes them. */
static void
letters(uint64_t i, char *out)
{
    char tmp[16];
    size_t n = 0;
    for (i++; i > 0; i = (i - 1) / 26)
        tmp[n++] = (char)('A' + (i - 1) % 26);
    size_t k = 0;
    while (n > 0)
        out[k++] = tmp[--n];
    out[k] = '\0';
}

/* Where `line` (a whole line) first starts in text, or -1. */
static long
pos_of_line(const char *text, const char *line)
{
    size_t len = strlen(line);
    for (const char *p = text; (p = strstr(p, line)); p += len)
        if ((p == text || p[-1] == '\n') && (p[len] == '\n' || p[len] == '\0'))
            return (long)(p - text);
    return -1;
}

/*
 * Run a program directly, without mpirun, capturing stdout+stderr: usage
 * errors are decided before MPI starts, so the message is checked this
 * way. Under mpirun only the exit status is certain: when a worker exits 2
 * first, mpirun may abort rank 0 before its message is forwarded.
 */
static int
run_direct(const char *cmd, char *out, size_t len)
{
    char line[4096];
    snprintf(line, sizeof line, "%s 2>&1", cmd);
    FILE *p = popen(line, "r");
    cr_assert_not_null(p, "popen %s", cmd);
    size_t n = fread(out, 1, len - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(queue, the_seed_shape_a_b_c, .timeout = 90)
{
    struct mpi_out o;
    mpi_run(&o, "-np 3 " APP("loom-queue"));
    assert_clean_exit(&o);
    cr_assert(strstr(o.text, "Process to write: rank 1 (pid "), "%s", o.text);
    cr_assert(strstr(o.text, "Process to read: rank 2 (pid "), "%s", o.text);
    /* each rank's own lines keep their order */
    long put[3], get[3];
    for (int i = 0; i < 3; i++) {
        char line[64];
        snprintf(line, sizeof line, "Put %c to queue...", 'A' + i);
        put[i] = pos_of_line(o.text, line);
        snprintf(line, sizeof line, "Get %c from queue.", 'A' + i);
        get[i] = pos_of_line(o.text, line);
        cr_assert(put[i] >= 0 && get[i] >= 0, "missing item %c:\n%s", 'A' + i, o.text);
        cr_assert(i == 0 || (put[i - 1] < put[i] && get[i - 1] < get[i]), "out of order:\n%s",
                  o.text);
    }
    cr_assert_eq(count_of(o.text, "Get "), 3, "%s", o.text);
    assert_line(&o,
                "loom-queue: the reader (rank 2) got 3 items from the writer (rank 1), in order");
    mpi_out_free(&o);
}

/* Read a whole file into a malloc'd string. */
static char *
slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    size_t cap = 1 << 16, n = 0, r;
    char *buf = malloc(cap + 1);
    cr_assert_not_null(buf);
    while ((r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
            cr_assert_not_null(buf);
        }
    }
    fclose(f);
    buf[n] = '\0';
    return buf;
}

/* Check that `text` holds the lines "<verb> A<suffix>", "<verb> B<suffix>",
 * ... for items 0..n-1 in order, and no other line starting with verb. */
static void
assert_items_in_order(const char *text, const char *verb, const char *suffix, int n)
{
    int seen = 0;
    size_t vlen = strlen(verb);
    for (const char *p = text; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len > vlen && strncmp(p, verb, vlen) == 0) {
            char want[16], line[64];
            letters((uint64_t)seen, want);
            snprintf(line, sizeof line, "%s%s%s", verb, want, suffix);
            cr_assert(len == strlen(line) && strncmp(p, line, len) == 0,
                      "line %d: expected '%s', got '%.*s'", seen, line, (int)len, p);
            seen++;
        }
        p = nl ? nl + 1 : NULL;
    }
    cr_assert_eq(seen, n, "%d of %d '%s' lines", seen, n, verb);
}

Test(queue, many_items_through_a_small_queue_arrive_in_order, .timeout = 120)
{
    /* Each rank's output into its own file (mpirun --output-filename), so
     * the writer's and the reader's lines are read exactly as each printed
     * them: with this much output, mpirun's merged stream may cut lines. */
    const char *dir = PROG_DIR "/queue-out";
    const int items = 3000;
    system("rm -rf " PROG_DIR "/queue-out");
    struct mpi_out o;
    mpi_run(&o, "-np 4 --output-filename %s " APP("loom-queue") " --items %d --capacity 4", dir,
            items);
    assert_clean_exit(&o);
    mpi_out_free(&o);
    char *writer = slurp(PROG_DIR "/queue-out/1/rank.1/stdout");
    char *reader = slurp(PROG_DIR "/queue-out/1/rank.2/stdout");
    char *master = slurp(PROG_DIR "/queue-out/1/rank.0/stdout");
    cr_assert(strncmp(writer, "Process to write: rank 1 (pid ", 30) == 0, "%.200s", writer);
    cr_assert(strncmp(reader, "Process to read: rank 2 (pid ", 29) == 0, "%.200s", reader);
    assert_items_in_order(writer, "Put ", " to queue...", items);
    assert_items_in_order(reader, "Get ", " from queue.", items);
    char want[128];
    snprintf(want, sizeof want,
             "loom-queue: the reader (rank 2) got %d items from the writer (rank 1), in order\n",
             items);
    cr_assert_str_eq(master, want);
    free(writer);
    free(reader);
    free(master);
    system("rm -rf " PROG_DIR "/queue-out");
}

Test(queue, zero_items_and_usage_errors, .timeout = 120)
{
    struct mpi_out o;
    mpi_run(&o, "-np 3 " APP("loom-queue") " --items 0");
    assert_clean_exit(&o);
    assert_line(&o,
                "loom-queue: the reader (rank 2) got 0 items from the writer (rank 1), in order");
    mpi_out_free(&o);

    mpi_run(&o, "-np 2 " APP("loom-queue"));
    cr_assert_eq(o.status, 2, "two ranks are not enough: exit %d\n%s", o.status, o.text);
    cr_assert(strstr(o.text, "needs a writer and a reader"), "%s", o.text);
    mpi_out_free(&o);

    mpi_run(&o, "-np 3 " APP("loom-queue") " --capacity 0");
    cr_assert_eq(o.status, 2, "exit %d\n%s", o.status, o.text);
    cr_assert(count_of(o.text, "--capacity needs") <= 1, "only rank 0 says why:\n%s", o.text);
    mpi_out_free(&o);
    char out[4096];
    cr_assert_eq(run_direct(APP("loom-queue") " --capacity 0", out, sizeof out), 2, "%s", out);
    cr_assert(strstr(out, "--capacity needs"), "%s", out);
}

/* ---- wordcount -------------------------------------------------------------- */

#define WC_ENV "LC_ALL=C "

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Run a shell command; it must exit 0. */
static void
sh(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "failed (%d): %s", st, cmd);
}

/* The reference: the shell pipeline wordcount replaces. */
static void
pipeline(const char *files, const char *out)
{
    sh("cat %s | " WC_ENV "tr -cs '[:alnum:]' '\\n' | " WC_ENV "sort | " WC_ENV "uniq -c > %s",
       files, out);
}

/* wordcount over `files` into `out` with extra options; must succeed. */
static void
wordcount(const char *opts, const char *files, const char *out)
{
    struct mpi_out o;
    mpi_run(&o, "-np 3 " APP("loom-wordcount") " %s --output %s %s", opts, out, files);
    assert_clean_exit(&o);
    mpi_out_free(&o);
}

static void
assert_same(const char *a, const char *b)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cmp %s %s >/dev/null 2>&1", a, b);
    int st = system(cmd);
    if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
        snprintf(cmd, sizeof cmd, "diff %s %s | head -20 >&2", a, b);
        cr_assert_eq(system(cmd), 0);
        cr_assert_fail("%s and %s differ (diff above)", a, b);
    }
}

Test(wordcount, same_bytes_as_the_pipeline_on_a_generated_corpus, .timeout = 240)
{
    const char *dir = PROG_DIR "/wordcount-small";
    sh("rm -rf %s", dir);
    /* 6 MiB in 3 files cut into many slices, plus 60 small files (long
     * words, leading separators, empty files) */
    sh("%s %s 6291456 3 60 42", GEN_CORPUS, dir);
    char files[512], ref[512], out[512];
    snprintf(files, sizeof files, "%s/*.txt", dir);
    snprintf(ref, sizeof ref, "%s/pipeline.out", dir);
    pipeline(files, ref);
    /* the default chunk, then chunks so small that slices cut words (and
     * the long words of the small files span several slices) */
    const char *chunks[] = {"", "--chunk 1K", "--chunk 4099", "--chunk 64k"};
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        snprintf(out, sizeof out, "%s/wordcount-%zu.out", dir, i);
        wordcount(chunks[i], files, out);
        assert_same(ref, out);
    }
    sh("rm -rf %s", dir);
}

/* Write a file with exactly these bytes. */
static void
put_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s", path);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
}

Test(wordcount, edge_cases_with_one_byte_slices, .timeout = 240)
{
    const char *dir = PROG_DIR "/wordcount-edges";
    sh("rm -rf %s && mkdir -p %s", dir, dir);
    /* a leading separator (the pipeline's empty line), an empty file,
     * UTF-8 letters (separators in the C locale), NUL bytes, digits and
     * case, a word longer than any slice, words cut at every byte */
    static const char a[] = "  --leading separators, then words words\n";
    static const char d[] = "caf\xc3\xa9 na\xc3\xafve \xe2\x80\x94 na ve caf\n";
    static const char e[] = "123 abc ABC abc a1b2 1a\n\0\0tail\x01x\x7fy\xffz\n";
    char c[10002];
    memset(c, 'w', sizeof c - 2);
    c[sizeof c - 2] = '\n';
    c[sizeof c - 1] = 'q'; /* ... and a last word with no newline after it */
    put_file(dir, "a.txt", a, sizeof a - 1);
    put_file(dir, "b.txt", "", 0);
    put_file(dir, "d.txt", d, sizeof d - 1);
    put_file(dir, "e.txt", e, sizeof e - 1);
    put_file(dir, "f.txt", c, sizeof c); /* last: its missing newline joins nothing */
    char files[1024], ref[512], out[512];
    snprintf(files, sizeof files, "%s/a.txt %s/b.txt %s/d.txt %s/e.txt %s/f.txt", dir, dir, dir,
             dir, dir);
    snprintf(ref, sizeof ref, "%s/pipeline.out", dir);
    pipeline(files, ref);
    const char *chunks[] = {"--chunk 1", "--chunk 2", "--chunk 7", ""};
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        snprintf(out, sizeof out, "%s/wordcount-%zu.out", dir, i);
        wordcount(chunks[i], files, out);
        assert_same(ref, out);
    }
    /* the pipeline's first line is the empty word of the leading separator */
    FILE *f = fopen(ref, "r");
    char first[64] = "";
    cr_assert_not_null(fgets(first, sizeof first, f));
    fclose(f);
    cr_assert_str_eq(first, "      1 \n");
    /* without a leading separator there is no empty line */
    snprintf(files, sizeof files, "%s/d.txt %s/a.txt", dir, dir);
    pipeline(files, ref);
    wordcount("--chunk 3", files, out);
    assert_same(ref, out);
    sh("rm -rf %s", dir);
}

Test(wordcount, prints_to_stdout_and_stats_to_stderr, .timeout = 90)
{
    const char *dir = PROG_DIR "/wordcount-stdout";
    sh("rm -rf %s && mkdir -p %s", dir, dir);
    static const char t[] = "the cat and the hat\nthe end\n";
    put_file(dir, "t.txt", t, sizeof t - 1);
    struct mpi_out o;
    mpi_run(&o, "-np 2 " APP("loom-wordcount") " --stats %s/t.txt", dir);
    assert_clean_exit(&o);
    cr_assert(strstr(o.text, "      1 and\n      1 cat\n      1 end\n      1 hat\n      3 the\n"),
              "%s", o.text);
    cr_assert(strstr(o.text, "loom-wordcount: 1 files, 28 bytes, 1 tasks on 1 workers, 7 words, "
                             "5 distinct, "),
              "%s", o.text);
    mpi_out_free(&o);
    sh("rm -rf %s", dir);
}

Test(wordcount, unreadable_input_exits_1_usage_exits_2, .timeout = 120)
{
    struct mpi_out o;
    mpi_run(&o, "-np 3 " APP("loom-wordcount") " /nonexistent/words.txt");
    cr_assert_eq(o.status, 1, "exit %d\n%s", o.status, o.text);
    cr_assert(strstr(o.text, "loom-wordcount: /nonexistent/words.txt: No such file or directory"),
              "%s", o.text);
    mpi_out_free(&o);

    mpi_run(&o, "-np 3 " APP("loom-wordcount") " " PROG_DIR);
    cr_assert_eq(o.status, 1, "a directory: exit %d\n%s", o.status, o.text);
    cr_assert(strstr(o.text, "not a regular file"), "%s", o.text);
    mpi_out_free(&o);

    /* usage errors: exit 2 on every rank; the message from rank 0 */
    const char *usage[][2] = {{"", "no files to count"},
                              {" --chunk 0 x", "--chunk needs"},
                              {" --chunk 2G x", "--chunk needs"},
                              {" --output", "--output needs"},
                              {" --frob x", "unknown argument '--frob'"}};
    for (size_t i = 0; i < sizeof usage / sizeof usage[0]; i++) {
        char cmd[512], out[8192];
        snprintf(cmd, sizeof cmd, APP("loom-wordcount") "%s", usage[i][0]);
        cr_assert_eq(run_direct(cmd, out, sizeof out), 2, "%s: %s", cmd, out);
        cr_assert(strstr(out, usage[i][1]), "%s: expected '%s' in: %s", cmd, usage[i][1], out);
        cr_assert_eq(count_of(out, "loom-wordcount:"), 1, "one message: %s", out);
    }
    mpi_run(&o, "-np 3 " APP("loom-wordcount") " --chunk 2G x");
    cr_assert_eq(o.status, 2, "under mpirun too: exit %d\n%s", o.status, o.text);
    mpi_out_free(&o);
}
