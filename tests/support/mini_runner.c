/* SPDX-License-Identifier: MIT */
/* The runner behind mini_runner.h: one forked child per test, an alarm for
 * its timeout, Criterion-like report lines. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "mini_runner.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static struct mini_test *mini_head, **mini_tail = &mini_head;

void
mini_register(struct mini_test *t)
{
    *mini_tail = t; /* keep file order, as Criterion reports it */
    mini_tail = &t->next;
}

static int
mini_run_one(const struct mini_test *t)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 0;
    }
    if (pid == 0) {
        unsigned secs = t->params.timeout > 0 ? (unsigned)(t->params.timeout + 0.999) : 60;
        alarm(secs);
        if (t->params.init)
            t->params.init();
        t->fn();
        if (t->params.fini)
            t->params.fini();
        fflush(NULL);
        _Exit(0);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        ;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
        printf("[PASS] %s::%s\n", t->suite, t->name);
        return 1;
    }
    if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM)
        printf("[FAIL] %s::%s: Timed out.\n", t->suite, t->name);
    else if (WIFSIGNALED(st))
        printf("[FAIL] %s::%s: CRASH! (signal %d)\n", t->suite, t->name, WTERMSIG(st));
    else
        printf("[FAIL] %s::%s (exit %d)\n", t->suite, t->name, WEXITSTATUS(st));
    return 0;
}

int
main(int argc, char **argv)
{
    int tested = 0, passed = 0;
    char full[256];
    for (struct mini_test *t = mini_head; t; t = t->next) {
        snprintf(full, sizeof full, "%s::%s", t->suite, t->name);
        if (argc > 1 && !strstr(full, argv[1]))
            continue;
        tested++;
        passed += mini_run_one(t);
    }
    printf("[====] Synthesis: Tested: %d | Passing: %d | Failing: %d\n", tested, passed,
           tested - passed);
    return tested == passed && tested > 0 ? 0 : 1;
}

/* A data race must fail the test: stop at the first report (the child's
 * _Exit would otherwise hide TSan's exit code). */
const char *__tsan_default_options(void);
const char *
__tsan_default_options(void)
{
    return "halt_on_error=1:second_deadlock_stack=1";
}
