/* SPDX-License-Identifier: MIT */
/*
 * loom-command (apps/command) — the seed's subprocess lesson with loom's process module
 * (loom_proc_run): run a program with an argv (no shell), feed its stdin
 * from memory, capture its stdout and stderr, report its exit code — the
 * seed's `subprocess.call([...])` and `Popen(...).communicate(input)`.
 *
 *   loom-command                  the seed's two steps, with local programs:
 *
 *       $ uname -s                (subprocess.call)
 *       Linux
 *       Exit code: 0
 *       $ sort                    (communicate: stdin fed from memory)
 *       apple
 *       banana
 *       cherry
 *       Exit code: 0
 *
 *   loom-command [--input TEXT | --input-file FILE] [--timeout S] [--quiet]
 *                [--] PROGRAM [ARG...]
 *                                 run PROGRAM with TEXT (escapes \n \t \\
 *                                 expanded) or FILE's bytes on its stdin,
 *                                 print "$ PROGRAM ARG...", its stdout, then
 *                                 "Exit code: N" (or "Killed by signal N",
 *                                 "Timed out after S s"). Its stderr goes to
 *                                 stderr. --quiet prints only its stdout,
 *                                 byte for byte (a binary-safe round trip).
 *
 * Input is bounded (--input-file: 64 MiB) and so is captured output
 * (64 MiB per stream; more is reported as truncated, exit 1).
 *
 * Exit status, like a shell's: 0 the command exited 0; 1 it exited non-zero,
 * was killed, timed out or its output was truncated; 2 usage error or an
 * unreadable --input-file; 126 the program cannot be executed; 127 the
 * program was not found.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <loom.h>

#include "../common/version.h"

#define PROG      "loom-command"
#define MAX_INPUT ((size_t)64 << 20)

/* Read a whole file, at most MAX_INPUT bytes. 0 or -1 (message printed). */
static int
read_file(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, PROG ": %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    int rc = -1;
    while (buf) {
        if (n == cap) {
            if (cap >= MAX_INPUT + 1) {
                fprintf(stderr, PROG ": %s: larger than %zu bytes\n", path, MAX_INPUT);
                goto out;
            }
            char *b = realloc(buf, cap * 2);
            if (!b)
                break;
            buf = b;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    if (!buf) {
        fprintf(stderr, PROG ": out of memory\n");
        goto out;
    }
    if (ferror(f)) {
        fprintf(stderr, PROG ": %s: read error\n", path);
        goto out;
    }
    if (n > MAX_INPUT) {
        fprintf(stderr, PROG ": %s: larger than %zu bytes\n", path, MAX_INPUT);
        goto out;
    }
    *out = buf;
    *len = n;
    buf = NULL;
    rc = 0;
out:
    free(buf);
    fclose(f);
    return rc;
}

/* Expand \n, \t and \\ in place. */
static size_t
unescape(char *s)
{
    char *w = s;
    for (const char *r = s; *r; r++) {
        if (r[0] == '\\' && (r[1] == 'n' || r[1] == 't' || r[1] == '\\')) {
            *w++ = r[1] == 'n' ? '\n' : r[1] == 't' ? '\t' : '\\';
            r++;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
    return (size_t)(w - s);
}

/*
 * Run argv with `input` on stdin; print as described above. Returns the
 * exit status of this program.
 */
static int
run(const char *const *argv, const char *input, size_t input_len, int timeout_ms, int quiet)
{
    if (!quiet) {
        printf("$");
        for (const char *const *a = argv; *a; a++) /* quoted when it has a blank */
            printf(strpbrk(*a, " \t\n") || !**a ? " '%s'" : " %s", *a);
        printf("\n");
        fflush(stdout);
    }
    loom_proc_opts o = {.argv = argv,
                        .stdin_data = input,
                        .stdin_len = input_len,
                        .output_limit = MAX_INPUT,
                        .timeout_ms = timeout_ms};
    loom_proc_result r;
    loom_err rc = loom_proc_run(&o, &r);
    if (rc == LOOM_ENOTFOUND || rc == LOOM_ENOEXEC) {
        fprintf(stderr, PROG ": %s: %s\n", argv[0], strerror(r.spawn_errno));
        loom_proc_result_free(&r);
        return rc == LOOM_ENOTFOUND ? 127 : 126;
    }
    if (rc != LOOM_OK) {
        fprintf(stderr, PROG ": cannot run %s: %s\n", argv[0], loom_last_error());
        return 1;
    }
    fwrite(r.out, 1, r.out_len, stdout);
    fflush(stdout);
    fwrite(r.err, 1, r.err_len, stderr);
    int status = r.exited && r.exit_code == 0 && !r.out_truncated && !r.err_truncated ? 0 : 1;
    if (r.out_truncated || r.err_truncated)
        fprintf(stderr, PROG ": output truncated at %zu bytes\n", MAX_INPUT);
    if (!quiet) {
        if (r.timed_out)
            printf("Timed out after %g s\n", timeout_ms / 1000.0);
        else if (r.signaled)
            printf("Killed by signal %d\n", r.term_signal);
        else
            printf("Exit code: %d\n", r.exit_code);
    }
    loom_proc_result_free(&r);
    return status;
}

int
main(int argc, char **argv)
{
    char *input = NULL;
    size_t input_len = 0;
    int quiet = 0, timeout_ms = 0, status = 2, i = 1, have_input = 0;
    char *file_data = NULL;

    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf("usage: " PROG " [--input TEXT | --input-file FILE] [--timeout S] [--quiet]\n"
                   "                    [--] PROGRAM [ARG...]\n"
                   "       " PROG "  (no program: the seed's two examples)\n\n"
                   "Runs PROGRAM (no shell) with TEXT or FILE on its stdin, prints its\n"
                   "stdout and its exit code.\n\n"
                   "  --input TEXT       stdin for the program (\\n \\t \\\\ expanded)\n"
                   "  --input-file FILE  stdin from a file (at most 64 MiB)\n"
                   "  --timeout S        kill the program after S seconds (1..86400)\n"
                   "  --quiet            print only the program's stdout\n"
                   "  --version          loom, MPI and build id of this program\n\n"
                   "Exit status: 0 the program exited 0, 1 it failed, was killed or timed\n"
                   "out, 2 usage error, 126 cannot execute, 127 not found.\n");
            return 0;
        } else if (strcmp(a, APP_VERSION_OPTION) == 0) {
            app_print_version(PROG);
            return 0;
        } else if (strcmp(a, "--input") == 0 && i + 1 < argc && !have_input) {
            input = argv[++i];
            input_len = unescape(input);
            have_input = 1;
        } else if (strcmp(a, "--input-file") == 0 && i + 1 < argc && !have_input) {
            if (read_file(argv[++i], &file_data, &input_len) != 0)
                goto out;
            input = file_data;
            have_input = 1;
        } else if (strcmp(a, "--timeout") == 0 && i + 1 < argc) {
            char *end;
            long s = strtol(argv[++i], &end, 10);
            if (*end || end == argv[i] || s < 1 || s > 86400) {
                fprintf(stderr, PROG ": --timeout needs 1..86400 seconds\n");
                goto out;
            }
            timeout_ms = (int)s * 1000;
        } else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
            quiet = 1;
        } else {
            fprintf(stderr, PROG ": unknown or repeated argument '%s' (try --help)\n", a);
            goto out;
        }
    }

    if (i < argc) {
        status = run((const char *const *)argv + i, input, input_len, timeout_ms, quiet);
    } else if (have_input) {
        fprintf(stderr, PROG ": --input needs a PROGRAM to feed (try --help)\n");
    } else {
        /* The seed's subprocess.call and communicate, with programs every
         * Linux machine has (the seed's nslookup needs the network). */
        static const char *const uname_argv[] = {"uname", "-s", NULL};
        static const char *const sort_argv[] = {"sort", NULL};
        static const char fruit[] = "cherry\napple\nbanana\n";
        status = run(uname_argv, NULL, 0, 10000, 0);
        if (status == 0)
            status = run(sort_argv, fruit, sizeof fruit - 1, 10000, 0);
    }
out:
    free(file_data);
    return status;
}
