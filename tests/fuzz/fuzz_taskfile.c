/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: loom-run's task-file reader and template expansion
 * (apps/loom-run/taskfile.c). The input's first byte picks the reader's
 * options (line limit, comments, CR); up to the first '\n' is a template,
 * the rest a task file. Every line read is expanded into the template and
 * shell-quoted. Checks, beyond "no crash, no leak": a line is never longer
 * than the limit, never holds a NUL; a quoted word never holds a NUL; the
 * counters add up.
 */
#include <assert.h>

#include "fuzz_common.h"
#include "taskfile.h"

static void
use_line(const char *tmpl, const struct lr_line *ln)
{
    char err[256];
    char *cmd = lr_template_expand(tmpl, ln->text, ln->len, ln->seq, err, sizeof err);
    /* a line holds no NUL and memory is there: only a {= perl =} in the
     * template (which has its "=}") may be refused, and says so */
    if (!cmd && (!strstr(err, "{= perl expression =}") || !strstr(tmpl, "=}")))
        abort();
    free(cmd);
    char *q = lr_shell_quote(ln->text, ln->len);
    if (!q || strlen(q) < ln->len)
        abort();
    free(q);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct lr_reader_opts o = {.max_line = 1 + (data[0] & 0x3f),
                               .skip_comments = (data[0] >> 6) & 1,
                               .keep_cr = (data[0] >> 7) & 1};
    data++, size--;
    const uint8_t *nl = memchr(data, '\n', size);
    size_t tlen = nl ? (size_t)(nl - data) : size;
    char *tmpl = malloc(tlen + 1);
    if (!tmpl)
        abort();
    for (size_t i = 0; i < tlen; i++)
        tmpl[i] = data[i] ? (char)data[i] : '{'; /* a template is a C string */
    tmpl[tlen] = '\0';
    size_t off = nl ? tlen + 1 : size;
    const char *path = fuzz_file("tasks.txt", data + off, size - off);

    lr_reader *r;
    char err[256];
    if (lr_reader_open(path, &o, &r, err, sizeof err) != 0)
        abort();
    struct lr_line ln;
    int rc;
    uint64_t tasks = 0;
    while ((rc = lr_reader_next(r, &ln, err, sizeof err)) == 1) {
        if (ln.len > o.max_line || memchr(ln.text, '\0', ln.len) || ln.seq != ++tasks)
            abort();
        use_line(tmpl, &ln);
    }
    struct lr_reader_stats st;
    lr_reader_stats(r, &st);
    if (st.tasks != tasks || st.bytes > size - off || (rc == 0 && !st.eof))
        abort();
    lr_reader_close(r);
    free(tmpl);
    return 0;
}
