/* SPDX-License-Identifier: MIT */
/* Durations as GNU Parallel writes them (--delay, --timeout) and the
 * median runtime --timeout P% takes its share of. */
#include <math.h>
#include <stdlib.h>

#include "loom_test.h"
#include "timing.h"

static double
dur(const char *v)
{
    double d = -42;
    cr_assert_eq(lr_duration_parse(v, &d), 0, "'%s' refused", v);
    return d;
}

Test(timing, durations_with_parallels_postfixes)
{
    cr_assert_float_eq(dur("1.5"), 1.5, 1e-12);
    cr_assert_float_eq(dur("0"), 0, 1e-12);
    cr_assert_float_eq(dur("2s"), 2, 1e-12);
    cr_assert_float_eq(dur("2m"), 120, 1e-12);
    cr_assert_float_eq(dur("1.5h"), 5400, 1e-9);
    cr_assert_float_eq(dur("2d"), 172800, 1e-9);
    /* the man page's example: these are equivalent */
    cr_assert_float_eq(dur("1d3.5h16.6m4s"), 100000, 1e-6);
    cr_assert_float_eq(dur("1m30s"), 90, 1e-12);
}

Test(timing, bad_durations_are_refused)
{
    static const char *const bad[] = {"", "x", "-1", "1x", "1m30", "s", "1s-2", "nan", "+1", "1 s"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        double d = -42;
        cr_assert_eq(lr_duration_parse(bad[i], &d), -1, "'%s' taken as %g", bad[i], d);
        cr_assert_eq(d, -42, "'%s' changed the result", bad[i]);
    }
}

Test(timing, median_of_nothing_is_unknown)
{
    struct lr_median *m = calloc(1, sizeof *m);
    cr_assert_eq(lr_median_get(m), -1);
    free(m);
}

/* the median within 1%, whatever the order the runtimes come in */
Test(timing, median_within_one_percent)
{
    struct lr_median *m = calloc(1, sizeof *m);
    static const double v[] = {0.5, 30, 0.001, 2.0, 7.5, 1e-9, 4000};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        lr_median_add(m, v[i]);
    double got = lr_median_get(m); /* sorted: 1e-9 .001 .5 2 7.5 30 4000 */
    cr_assert(fabs(got - 2.0) <= 0.02, "median %g, not 2 within 1%%", got);
    for (int i = 0; i < 1000; i++)
        lr_median_add(m, 0.25);
    got = lr_median_get(m);
    cr_assert(fabs(got - 0.25) <= 0.0025, "median %g, not 0.25 within 1%%", got);
    free(m);
}

Test(timing, median_of_extremes_stays_in_range)
{
    struct lr_median *m = calloc(1, sizeof *m);
    lr_median_add(m, 1e12);
    cr_assert(lr_median_get(m) >= 1e7, "%g", lr_median_get(m));
    struct lr_median *z = calloc(1, sizeof *z);
    lr_median_add(z, 0);
    cr_assert(lr_median_get(z) > 0 && lr_median_get(z) <= 2e-6, "%g", lr_median_get(z));
    free(m);
    free(z);
}
