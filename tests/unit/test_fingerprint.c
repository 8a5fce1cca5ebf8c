/* SPDX-License-Identifier: MIT */
/* The fingerprint (fingerprint.c): two jobs of the same build that
 * register the same functions agree; a different registration, protocol
 * or binary is named; rank 0's preparation travels with it. Jobs are
 * built by hand (no MPI): the fingerprint reads only the registry. */
#include <stdlib.h>
#include <string.h>

#include "fingerprint.h"
#include "job_types.h"
#include "loom_test.h"
#include "wire.h"

static int32_t
noop(loom_task *t, void *user)
{
    (void)t;
    (void)user;
    return 0;
}

/* A job (not created through MPI) with the named functions registered in
 * order; free with drop(). */
static struct loom_job *
job_with(const char *const *names, int n)
{
    struct loom_job *job = calloc(1, sizeof *job);
    cr_assert(job);
    job->fns = calloc(JOB_MAX_FUNCS, sizeof *job->fns);
    cr_assert(job->fns);
    for (int i = 0; i < n; i++)
        loom_assert_ok(loom_job_register(job, names[i], noop, NULL));
    return job;
}

static void
drop(struct loom_job *job)
{
    free(job->fns);
    free(job);
}

static const char *const abc[] = {"alpha", "beta", "gamma"};

Test(fingerprint, equal_builds_and_registrations_agree)
{
    struct loom_job *a = job_with(abc, 3), *b = job_with(abc, 3);
    struct loom__fingerprint fa, fb;
    loom__job_fingerprint(a, LOOM_OK, &fa);
    loom__job_fingerprint(b, LOOM_OK, &fb);
    cr_assert_null(loom__fingerprint_differs(&fb, &fa), "%s", loom__fingerprint_differs(&fb, &fa));
    cr_assert_eq(memcmp(&fa, &fb, sizeof fa), 0, "the same bytes go on the wire");
    cr_assert_eq(fa.nfns, 3);
    cr_assert_eq(fa.wire_version, WIRE_VERSION);
    cr_assert_eq(fa.ready, 1);
    cr_assert_neq(fa.binary, 0, "the executable has an identity");
    drop(a);
    drop(b);
}

Test(fingerprint, a_different_registration_differs)
{
    static const char *const acb[] = {"alpha", "gamma", "beta"};
    static const char *const abd[] = {"alpha", "beta", "delta"};
    struct loom_job *ref = job_with(abc, 3);
    struct loom__fingerprint fr;
    loom__job_fingerprint(ref, LOOM_OK, &fr);
    struct {
        const char *const *names;
        int n;
        const char *what;
    } cases[] = {{acb, 3, "another order"}, {abd, 3, "another name"}, {abc, 2, "fewer"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct loom_job *j = job_with(cases[i].names, cases[i].n);
        struct loom__fingerprint f;
        loom__job_fingerprint(j, LOOM_OK, &f);
        const char *d = loom__fingerprint_differs(&f, &fr);
        cr_assert_not_null(d, "%s: not told apart", cases[i].what);
        cr_assert_str_eq(d, "registered different task functions than", "%s", cases[i].what);
        drop(j);
    }
    drop(ref);
}

Test(fingerprint, another_protocol_or_binary_differs_and_prep_is_carried)
{
    struct loom_job *j = job_with(abc, 3);
    struct loom__fingerprint ref, f;
    loom__job_fingerprint(j, LOOM_OK, &ref);
    f = ref;
    f.wire_version++;
    cr_assert_str_eq(loom__fingerprint_differs(&f, &ref), "speaks a different loom protocol than");
    f = ref;
    f.binary ^= 1;
    cr_assert_str_eq(loom__fingerprint_differs(&f, &ref), "runs a different binary than");
    /* rank 0's preparation failed: said, but it is not a mismatch */
    loom__job_fingerprint(j, LOOM_ECONFIG, &f);
    cr_assert_eq(f.ready, 0);
    cr_assert_eq(f.prep_err, LOOM_ECONFIG);
    cr_assert_null(loom__fingerprint_differs(&f, &ref));
    drop(j);
}
