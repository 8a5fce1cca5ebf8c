/* SPDX-License-Identifier: MIT */
/*
 * wordcount against the shell pipeline it replaces, on a generated corpus
 * of 1 GiB (issue 7): both run in this test, on the same files, one after
 * the other; their outputs must be byte-identical and wordcount must be
 * faster. Prints both times and the ratio:
 *
 *   wordcount bench: corpus 1073741824 bytes in 54 files; pipeline 95.1 s,
 *   wordcount (mpirun -np 3) 5.3 s; 17.9x faster
 *
 * The corpus and both outputs are written into the build tree and deleted
 * afterwards (also when a check fails: Criterion's fini hook). Registered with RUN_SERIAL
 * (the timing needs the machine's cores) and not in the ASan build, where a
 * small corpus is checked instead (test_mpi_examples.c).
 *
 * LOOM_WC_BENCH_BYTES overrides the corpus size (for trying it by hand).
 */
#include <stdint.h>
#include <time.h>

#include "mpi_run.h"

#define CORPUS PROG_DIR "/wordcount-bench"

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Run a shell command line; returns its exit status (-1: killed). */
static int
sh(const char *cmd)
{
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void
remove_corpus(void)
{
    sh("rm -rf " CORPUS);
}

Test(wordcount_bench, beats_the_pipeline_on_1_GiB, .timeout = 600, .fini = remove_corpus)
{
    unsigned long long bytes = 1ull << 30;
    const char *env = getenv("LOOM_WC_BENCH_BYTES");
    if (env && *env)
        bytes = strtoull(env, NULL, 10);
    cr_assert(bytes > 0);
    remove_corpus();

    /* 4 big files (cut into slices) and 50 small ones */
    char cmd[4096];
    double t0 = now();
    snprintf(cmd, sizeof cmd, "%s %s %llu 4 50 2026", GEN_CORPUS, CORPUS, bytes);
    cr_assert_eq(sh(cmd), 0, "%s", cmd);
    double gen = now() - t0;
    long long total = -1, files = -1;
    FILE *p = popen("cat " CORPUS "/*.txt | wc -c; ls " CORPUS "/*.txt | wc -l", "r");
    cr_assert_not_null(p);
    cr_assert_eq(fscanf(p, "%lld %lld", &total, &files), 2);
    pclose(p);
    cr_assert(total >= (long long)bytes, "corpus of %lld bytes", total);

    /* the pipeline, in the C locale throughout */
    t0 = now();
    cr_assert_eq(sh("cd " CORPUS " && export LC_ALL=C && cat *.txt | tr -cs '[:alnum:]' '\\n' "
                    "| sort | uniq -c > pipeline.out"),
                 0);
    double pipe_s = now() - t0;

    /* wordcount on the same files, in the same (C locale glob) order */
    struct mpi_out o;
    t0 = now();
    mpi_run(&o, "-np 3 " APP("loom-wordcount") " --stats --output " CORPUS "/wordcount.out " CORPUS
                                               "/*.txt");
    double wc_s = now() - t0;
    assert_clean_exit(&o);

    int same = sh("cmp " CORPUS "/pipeline.out " CORPUS "/wordcount.out") == 0;
    printf("wordcount bench: corpus %lld bytes in %lld files (generated in %.1f s); "
           "pipeline %.1f s, wordcount (mpirun -np 3, 2 workers) %.1f s; %.1fx faster; "
           "outputs %s\n%s",
           total, files, gen, pipe_s, wc_s, pipe_s / wc_s, same ? "identical" : "DIFFER", o.text);
    fflush(stdout);
    mpi_out_free(&o);
    cr_assert(same, "wordcount's output differs from the pipeline's");
    cr_assert(wc_s < pipe_s, "wordcount %.1f s, pipeline %.1f s", wc_s, pipe_s);
}
