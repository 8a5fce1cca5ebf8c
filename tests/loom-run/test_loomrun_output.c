/* SPDX-License-Identifier: MIT */
/* loom-run's output as the user sees it, started the way a user starts it
 * (by hand: loom-run launches its own mpirun): on a real terminal (a
 * pseudo-terminal from script(1)) the progress line never swallows a
 * task's output; under 2>&1 a task's stdout and then its stderr come out
 * together, as GNU Parallel's --group prints them; an output of 1 GiB
 * passes through intact in bounded memory; a cap, when one is set, is said
 * outside the data. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "loom_test.h"
#include "lr_test.h"

static void
setup(void)
{
    lr_test_mkdir("loomrun-out");
}

static void
teardown(void)
{
    lr_test_rmdir();
}

/* Run a shell command line in dir (loom-run launching its own mpirun, as
 * by hand); its exit status. */
static int
sh_in_dir(const char *line)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "cd %s && %s", dir, line);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* 12 tasks that each take a moment (the live line is drawn between them)
 * and print one line. */
static void
write_slow_tasks(void)
{
    char tasks[2048] = "";
    for (int t = 1; t <= 12; t++) {
        char line[96];
        snprintf(line, sizeof line, "sleep 0.3; echo done %d\n", t);
        strcat(tasks, line);
    }
    write_file("tasks.txt", tasks);
}

Test(loomrun_output, progress_line_never_glued_to_output_on_a_terminal, .init = setup,
     .fini = teardown, .timeout = 300)
{
    write_slow_tasks();
    /* script(1) gives loom-run a pseudo-terminal as stdout and stderr: it
     * draws its live progress line there */
    int st = sh_in_dir("script -qfec '" LOOMRUN " tasks.txt' typescript.txt >/dev/null 2>&1");
    size_t len;
    char *tty = read_bytes("typescript.txt", &len);
    cr_assert_eq(st, 0, "exit status %d:\n%s", st, tty);
    int lines = 0, drawn = 0;
    for (int t = 1; t <= 12; t++) {
        char want[32];
        snprintf(want, sizeof want, "done %d\r\n", t);
        lines += strstr(tty, want) != NULL;
    }
    /* every progress line ends where the next write clears it ("\r\033[K"):
     * an output written after it without that clear reads
     * "... elapsed 2 sdone 7" */
    int glued = 0;
    for (const char *p = tty; (p = strstr(p, "elapsed ")); p++) {
        const char *q = p + strlen("elapsed ");
        while (*q >= '0' && *q <= '9')
            q++;
        if (strncmp(q, " s", 2) != 0)
            continue;
        drawn++;
        glued += q[2] != '\r';
    }
    cr_assert_eq(lines, 12, "%d of 12 outputs on a line of their own:\n%s", lines, tty);
    cr_assert_gt(drawn, 0, "no live progress line was drawn:\n%s", tty);
    cr_assert_eq(glued, 0, "%d of %d progress lines had output glued to them:\n%s", glued, drawn,
                 tty);
    free(tty);
}

/* 12 tasks each writing 30 lines to stdout and 30 to stderr, alternating. */
static void
write_two_stream_tasks(void)
{
    char tasks[4096] = "";
    for (int t = 1; t <= 12; t++) {
        char line[256];
        snprintf(line, sizeof line,
                 "i=0; while [ $i -lt 30 ]; do echo T%d-out-$i; echo T%d-err-$i >&2; "
                 "i=$((i+1)); done\n",
                 t, t);
        strcat(tasks, line);
    }
    write_file("tasks.txt", tasks);
}

/* Check the task lines of text (those starting with "T") form one group
 * per task: its 30 stdout lines in order, then its 30 stderr lines, with
 * nothing of another task in between; in_order: groups in task order.
 * Returns NULL, or what is wrong (static). */
static const char *
groups_wrong(const char *text, int in_order)
{
    static char why[256];
    int seen[13] = {0}, task = 0, pos = 0, groups = 0;
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        int t, i;
        char kind[4];
        if (p[0] == 'T' && sscanf(p, "T%d-%3[a-z]-%d", &t, kind, &i) == 3) {
            if (pos == 0) {
                task = t;
                groups++;
                if (t < 1 || t > 12 || seen[t]++)
                    return snprintf(why, sizeof why, "task %d printed twice", t), why;
                if (in_order && t != groups)
                    return snprintf(why, sizeof why, "task %d printed as group %d", t, groups), why;
            }
            const char *want = pos < 30 ? "out" : "err";
            if (t != task || strcmp(kind, want) != 0 || i != pos % 30)
                return snprintf(why, sizeof why,
                                "line %d of task %d's group is \"%.*s\", not T%d-%s-%d", pos + 1,
                                task, (int)n, p, task, want, pos % 30),
                       why;
            pos = (pos + 1) % 60;
        }
        p += n + (nl != NULL);
    }
    if (groups != 12 || pos != 0)
        return snprintf(why, sizeof why, "%d groups, the last one %d lines short", groups,
                        pos ? 60 - pos : 0),
               why;
    return NULL;
}

Test(loomrun_output, stdout_then_stderr_together_under_2_to_1, .init = setup, .fini = teardown,
     .timeout = 300)
{
    write_two_stream_tasks();
    int st = sh_in_dir(LOOMRUN " tasks.txt >out.txt 2>&1");
    char *out = read_file("out.txt");
    cr_assert_eq(st, 0, "exit status %d:\n%s", st, out);
    const char *why = groups_wrong(out, 0);
    cr_assert_null(why, "%s:\n%s", why, out);
    free(out);

    st = sh_in_dir(LOOMRUN " -k tasks.txt >out.txt 2>&1");
    out = read_file("out.txt");
    cr_assert_eq(st, 0, "-k: exit status %d:\n%s", st, out);
    why = groups_wrong(out, 1);
    cr_assert_null(why, "-k: %s:\n%s", why, out);
    free(out);
}

Test(loomrun_output, streams_stay_apart_when_redirected_apart, .init = setup, .fini = teardown,
     .timeout = 300)
{
    /* the merge under 2>&1 must not leak into separate redirections */
    write_two_stream_tasks();
    int st = sh_in_dir(LOOMRUN " tasks.txt >out.txt 2>err.txt");
    char *out = read_file("out.txt"), *err = read_file("err.txt");
    cr_assert_eq(st, 0, "exit status %d:\n%s", st, err);
    /* (the summary's slowest commands name both streams: look for lines) */
    cr_assert_null(strstr(out, "-err-0\n"), "stderr in stdout:\n%s", out);
    cr_assert_null(strstr(err, "-out-0\n"), "stdout in stderr:\n%s", err);
    cr_assert_not_null(strstr(out, "T12-out-29\n"), "%s", out);
    cr_assert_not_null(strstr(err, "T12-err-29\n"), "%s", err);
    cr_assert_not_null(strstr(err, "loom-run: 12 tasks: 12 succeeded"), "%s", err);
    free(out);
    free(err);
}

/* The one line of text that starts with key, up to its end ("" if none;
 * static). */
static const char *
line_of(const char *text, const char *key)
{
    static char line[512];
    const char *p = strstr(text, key);
    line[0] = '\0';
    if (p)
        snprintf(line, sizeof line, "%.*s", (int)strcspn(p, "\n"), p);
    return line;
}

#define GIB 1073741824LL
/* A deterministic binary stream whose checksum the test computes the
 * same way: AES-128-CTR of zeros under a zero key. */
#define GEN                                                                                        \
    "openssl enc -aes-128-ctr -K 00000000000000000000000000000000 -iv "                            \
    "00000000000000000000000000000000 -nosalt </dev/zero 2>/dev/null | head -c 1073741824"

Test(loomrun_output, one_gib_of_binary_output_in_bounded_memory, .init = setup, .fini = teardown,
     .timeout = 900)
{
    /* task 1 writes 1 GiB; task 2, run by the same (single) pool thread
     * once task 1's output has gone, reads its worker rank's peak memory
     * (the task's shell is the rank's child) */
    write_file("big.txt", GEN "\n"
                              "grep VmHWM /proc/$PPID/status >&2\n");
    int st = sh_in_dir("(" GEN ") | sha256sum >want.txt");
    cr_assert_eq(st, 0, "the generator failed");
    /* under ASan, the allocator holds 256 MiB of freed blocks in
     * quarantine by default: the bound is on loom's buffers, so the ranks
     * run without one (the plain build has no such layer) */
    st = sh_in_dir("ASAN_OPTIONS=\"${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0\" " LOOMRUN
                   " --pool-threads 1 big.txt 2>err.txt | sha256sum >got.txt");
    char *want = read_file("want.txt"), *got = read_file("got.txt");
    char *err = read_file("err.txt");
    cr_assert_eq(st, 0, "exit status %d:\n%s", st, err);
    cr_assert_eq(strncmp(want, got, 64), 0, "sha256 of the output %.64s, of the stream %.64s:\n%s",
                 got, want, err);
    long worker_kib = -1;
    double master_mib = -1;
    sscanf(line_of(err, "VmHWM:"), "VmHWM: %ld kB", &worker_kib);
    const char *m = strstr(err, "master peak memory ");
    if (m)
        sscanf(m, "master peak memory %lf MiB", &master_mib);
    fprintf(stderr, "1 GiB through loom-run: worker rank peak %.1f MiB, master peak %.1f MiB\n",
            worker_kib / 1024.0, master_mib);
    cr_assert(worker_kib > 0 && master_mib > 0, "no memory figures:\n%s", err);
    cr_assert_lt(worker_kib, 64 * 1024, "the worker rank peaked at %ld KiB:\n%s", worker_kib, err);
    cr_assert_lt(master_mib, 64.0, "the master peaked at %.1f MiB:\n%s", master_mib, err);
    free(want);
    free(got);
    free(err);
}

Test(loomrun_output, a_cap_is_said_outside_the_data, .init = setup, .fini = teardown,
     .timeout = 300)
{
    /* a cap the user sets keeps the first bytes exactly (no note inside
     * them), says the cut on stderr and in the summary, and marks the
     * task's --results status; without one nothing is cut (10 MiB is
     * over the old silent 8 MiB cut) */
    write_file("tasks.txt", "head -c 5000 /dev/zero | tr '\\0' x\n"
                            "head -c 10485760 /dev/zero\n");
    int st = sh_in_dir(LOOMRUN " -k --process-output-limit 1024 --results res tasks.txt "
                               ">out.bin 2>err.txt");
    size_t len;
    char *out = read_bytes("out.bin", &len), *err = read_file("err.txt");
    cr_assert_eq(st, 0, "exit status %d:\n%s", st, err);
    cr_assert_eq(len, 2048, "%zu bytes of output:\n%s", len, err);
    for (size_t i = 0; i < 1024; i++)
        cr_assert(out[i] == 'x' && out[1024 + i] == '\0', "byte %zu is not the task's", i);
    cr_assert_not_null(
        strstr(err, "task 1: stdout cut at 1024 of 5000 bytes (process.output_limit)"), "%s", err);
    cr_assert_not_null(strstr(err, "task 2: stdout cut at 1024 of 10485760 bytes"), "%s", err);
    cr_assert_not_null(strstr(err, "output cut: 2 tasks wrote more than process.output_limit"),
                       "%s", err);
    char *status = read_file("res/000/000/1/status");
    cr_assert_not_null(strstr(status, "stdout_bytes 5000\n"), "%s", status);
    cr_assert_not_null(strstr(status, "stdout_kept 1024\n"), "%s", status);
    cr_assert_not_null(strstr(status, "output_cut 1\n"), "%s", status);
    free(status);
    free(out);
    free(err);

    st = sh_in_dir(LOOMRUN " -k tasks.txt >out.bin 2>err.txt");
    out = read_bytes("out.bin", &len);
    err = read_file("err.txt");
    cr_assert_eq(st, 0, "exit status %d:\n%s", st, err);
    cr_assert_eq(len, 5000 + 10485760, "%zu bytes of output:\n%s", len, err);
    cr_assert_null(strstr(err, "cut"), "%s", err);
    free(out);
    free(err);
}
