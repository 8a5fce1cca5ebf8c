/* SPDX-License-Identifier: MIT */
/* Errors carry their context (prog_errors): on several ranks, a failed
 * call's loom_last_error() names the function that is not registered, the
 * size and the limit it is over, the rule the call broke — and each pool
 * thread of a worker reads its own message while the others fail too. */
#include "mpi_run.h"

/* The text after "msg=" on the line that starts with `what` ("" if none). */
static const char *
msg_of(const struct mpi_out *o, const char *what, char *buf, size_t len)
{
    char key[128];
    snprintf(key, sizeof key, "%s rc=", what);
    buf[0] = '\0';
    for (const char *p = o->text; (p = strstr(p, key)); p++) {
        if (p != o->text && p[-1] != '\n')
            continue;
        const char *m = strstr(p, " msg=");
        const char *end = strchr(p, '\n');
        if (!m || (end && m > end))
            break;
        m += 5;
        size_t n = end ? (size_t)(end - m) : strlen(m);
        snprintf(buf, len, "%.*s", (int)n, m);
        break;
    }
    return buf;
}

/* The message on `what`'s line contains every one of the NULL-ended words. */
static void
assert_msg_names(const struct mpi_out *o, const char *what, const char *code, ...)
{
    char key[160], msg[600];
    snprintf(key, sizeof key, "%s rc=%s msg=", what, code);
    cr_assert(strstr(o->text, key), "no line '%s...' in the output:\n%s", key, o->text);
    msg_of(o, what, msg, sizeof msg);
    va_list ap;
    va_start(ap, code);
    for (const char *w; (w = va_arg(ap, const char *));)
        cr_assert(strstr(msg, w), "%s: the message does not name '%s': \"%s\"\noutput:\n%s", what,
                  w, msg, o->text);
    va_end(ap);
}

static void
errors(int np, int threads, int tasks)
{
    struct mpi_out o;
    mpi_run(&o, "-np %d " PROG("prog_errors") " --pool-threads %d --tasks %d", np, threads, tasks);
    assert_clean_exit(&o);
    /* which name, and what is registered instead */
    assert_msg_names(&o, "ENOFUNC", "LOOM_ENOFUNC", "\"no_such_task\"", "\"probe\"", NULL);
    assert_msg_names(&o, "ENOFUNC_MAP", "LOOM_ENOFUNC", "\"no_such_map\"", NULL);
    /* which size against which limit, and the setting that sets it */
    assert_msg_names(&o, "ERANGE", "LOOM_ERANGE", "1001", "1000", "job.max_payload", NULL);
    /* which rule */
    assert_msg_names(&o, "ESTATE_REGISTER", "LOOM_ESTATE", "before loom_job_start()", NULL);
    assert_msg_names(&o, "ESTATE_FINISHED", "LOOM_ESTATE", "loom_job_finish()", NULL);
    for (int r = 1; r < np; r++) {
        char what[32], rank[32];
        snprintf(what, sizeof what, "ESTATE_WORKER rank=%d", r);
        snprintf(rank, sizeof rank, "this is rank %d", r);
        assert_msg_names(&o, what, "LOOM_ESTATE", "master (rank 0) only", rank, NULL);
    }
    /* every task's pool thread read its own failure, none another's */
    assert_line(&o, "TASKS n=%d own=%d other=0 codes_ok=1", tasks, tasks);
    assert_line(&o, "DONE status=0");
    mpi_out_free(&o);
}

Test(errors, messages_name_the_specifics_np3, .timeout = 150)
{
    errors(3, 4, 400);
}

Test(errors, messages_name_the_specifics_np4, .timeout = 150)
{
    errors(4, 2, 400);
}
