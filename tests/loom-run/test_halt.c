/* SPDX-License-Identifier: MIT */
/* --halt policies: GNU Parallel's syntax, refused nonsense, the decision. */
#include "halt.h"
#include "loom_test.h"

static struct lr_halt
parse_ok(const char *text)
{
    struct lr_halt h;
    char err[256];
    cr_assert_eq(lr_halt_parse(text, &h, err, sizeof err), 0, "%s: %s", text, err);
    return h;
}

Test(halt, gnu_forms_parse)
{
    struct lr_halt h = parse_ok("now,fail=1");
    cr_assert(h.when == LR_HALT_NOW && h.on == LR_HALT_FAIL && !h.percent && h.limit == 1);
    h = parse_ok("soon,fail=3%");
    cr_assert(h.when == LR_HALT_SOON && h.percent && h.limit == 3);
    h = parse_ok("soon,success=2");
    cr_assert(h.on == LR_HALT_SUCCESS && h.limit == 2);
    h = parse_ok("now,done=12.5%");
    cr_assert(h.on == LR_HALT_DONE && h.percent && h.limit == 12.5);
    cr_assert_eq(parse_ok("never").when, LR_HALT_NEVER);
    cr_assert_eq(parse_ok("0").when, LR_HALT_NEVER);
    h = parse_ok("2");
    cr_assert(h.when == LR_HALT_NOW && h.on == LR_HALT_FAIL && h.limit == 1);
    h = parse_ok("-1");
    cr_assert(h.when == LR_HALT_SOON && h.on == LR_HALT_SUCCESS);
    char d[64];
    lr_halt_describe(&h, d, sizeof d);
    cr_assert_str_eq(d, "soon,success=1");
}

Test(halt, nonsense_is_refused_with_the_syntax)
{
    const char *bad[] = {"",
                         "sometimes",
                         "now",
                         "now,",
                         "now,fail",
                         "now,fail=",
                         "now,fail=0",
                         "now,fail=x",
                         "now,fail=1.5",
                         "later,fail=1",
                         "soon,fail=0%",
                         "soon,fail=101%",
                         "soon,fail=3%%",
                         "soon,fail=1 ",
                         "now,oops=1",
                         "3"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct lr_halt h = {LR_HALT_SOON, LR_HALT_DONE, 1, 50};
        char err[256] = "";
        cr_assert_eq(lr_halt_parse(bad[i], &h, err, sizeof err), -1, "'%s' accepted", bad[i]);
        cr_assert_not_null(strstr(err, "expected never, soon|now"), "%s", err);
        cr_assert(h.when == LR_HALT_SOON && h.limit == 50, "'%s' changed the policy", bad[i]);
    }
}

Test(halt, counts_and_percentages)
{
    struct lr_halt h = parse_ok("soon,fail=3");
    cr_assert(!lr_halt_due(&h, 2, 100, 1000));
    cr_assert(lr_halt_due(&h, 3, 0, 1000));
    h = parse_ok("now,fail=10%");
    cr_assert(!lr_halt_due(&h, 9, 0, 100));
    cr_assert(lr_halt_due(&h, 10, 0, 100));
    cr_assert(!lr_halt_due(&h, 0, 0, 0), "nothing failed: no halt");
    h = parse_ok("soon,done=50%");
    cr_assert(!lr_halt_due(&h, 20, 29, 100));
    cr_assert(lr_halt_due(&h, 20, 30, 100));
    h = parse_ok("never");
    cr_assert(!lr_halt_due(&h, 1000000, 0, 1));
    h = parse_ok("-2");
    cr_assert(!lr_halt_due(&h, 5, 0, 10));
    cr_assert(lr_halt_due(&h, 5, 1, 10));
}
