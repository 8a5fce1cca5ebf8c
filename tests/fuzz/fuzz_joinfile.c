/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the join file reader (framework/src/formats/joinfile.c),
 * the first thing a joining job trusts. Any bytes as loom.join (mode 0600
 * in a private directory): refused with a message, or accepted with every
 * field within its documented bounds; an accepted file written back by
 * loom__joinfile_write reads back the same.
 */
#include <ctype.h>

#include "fuzz_common.h"
#include "joinfile.h"

static int
printable_word(const char *s, size_t max)
{
    size_t n = strnlen(s, max);
    if (n == 0 || n == max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isgraph((unsigned char)s[i]))
            return 0;
    return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file("loom.join", data, size);
    struct loom__join_info ji, back;
    char err[512];
    if (loom__joinfile_read(path, &ji, err, sizeof err) != LOOM_OK) {
        if (!err[0])
            abort();
        return 0;
    }
    if (!printable_word(ji.gate, sizeof ji.gate) || !printable_word(ji.host, sizeof ji.host) ||
        strspn(ji.job, "0123456789abcdef") != strlen(ji.job) || ji.pid < 1 || ji.created < 0)
        abort();
    char dir[320];
    snprintf(dir, sizeof dir, "%s/again", fuzz_dir());
    if (loom__joinfile_write(dir, &ji, err, sizeof err) != LOOM_OK ||
        loom__joinfile_read(dir, &back, err, sizeof err) != LOOM_OK ||
        memcmp(&ji, &back, sizeof ji) != 0)
        abort();
    return 0;
}
