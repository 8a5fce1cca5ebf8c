/* SPDX-License-Identifier: MIT */
/* The wire format: what is built reads back, and nothing malformed is
 * accepted — every truncation and every length lie is refused. */
#include <stdlib.h>
#include <string.h>

#include "loom_test.h"
#include "wire.h"

static size_t
build_sample(struct wire_buf *b)
{
    wire_buf_reset(b);
    struct wire_task t = {42, 1, 3, 0, 5};
    loom_assert_ok(wire_put(b, WIRE_TASK, &t, sizeof t, "hello", 5, NULL, 0));
    struct wire_credit c = {17};
    loom_assert_ok(wire_put(b, WIRE_CREDIT, &c, sizeof c, NULL, 0, NULL, 0));
    loom_assert_ok(wire_put(b, WIRE_STOP, NULL, 0, NULL, 0, NULL, 0));
    return wire_finish(b);
}

Test(wire, round_trip, .timeout = 10)
{
    struct wire_buf b = {0};
    size_t len = build_sample(&b);
    cr_assert_eq(len % 8, 0);
    struct wire_reader r;
    loom_assert_ok(wire_open(&r, b.data, len));
    uint32_t type;
    const char *body;
    size_t blen;
    cr_assert_eq(wire_next(&r, &type, &body, &blen), 1);
    cr_assert_eq(type, WIRE_TASK);
    struct wire_task t;
    const char *payload;
    loom_assert_ok(wire_get_task(body, blen, &t, &payload));
    cr_assert_eq(t.id, 42);
    cr_assert_eq(t.fn, 3);
    cr_assert_eq(memcmp(payload, "hello", 5), 0);
    cr_assert_eq(wire_next(&r, &type, &body, &blen), 1);
    struct wire_credit c;
    loom_assert_ok(wire_get_credit(body, blen, &c));
    cr_assert_eq(c.credits, 17);
    cr_assert_eq(wire_next(&r, &type, &body, &blen), 1);
    cr_assert_eq(type, WIRE_STOP);
    loom_assert_ok(wire_get_empty(body, blen));
    cr_assert_eq(wire_next(&r, &type, &body, &blen), 0);
    wire_buf_free(&b);
}

Test(wire, every_truncation_is_refused_or_reads_short, .timeout = 30)
{
    struct wire_buf b = {0};
    size_t len = build_sample(&b);
    for (size_t cut = 0; cut < len; cut++) {
        char *copy = malloc(cut ? cut : 1);
        memcpy(copy, b.data, cut);
        struct wire_reader r;
        int records = 0, bad = 0;
        if (wire_open(&r, copy, cut) != LOOM_OK) {
            bad = 1;
        } else {
            uint32_t type;
            const char *body;
            size_t blen;
            int rc;
            while ((rc = wire_next(&r, &type, &body, &blen)) == 1) {
                cr_assert_leq(body + blen, copy + cut, "a record reaches past the frame");
                records++;
            }
            bad = rc < 0;
        }
        cr_assert(bad, "a frame cut at %zu of %zu bytes was accepted (%d records)", cut, len,
                  records);
        free(copy);
    }
    wire_buf_free(&b);
}

Test(wire, bad_headers_and_length_lies, .timeout = 10)
{
    struct wire_buf b = {0};
    size_t len = build_sample(&b);
    struct wire_reader r;
    loom_assert_err(wire_open(&r, NULL, 0), LOOM_EPROTO);
    b.data[0] ^= 1; /* magic */
    loom_assert_err(wire_open(&r, b.data, len), LOOM_EPROTO);
    b.data[0] ^= 1;
    b.data[4] = 9; /* version */
    loom_assert_err(wire_open(&r, b.data, len), LOOM_EPROTO);
    b.data[4] = WIRE_VERSION;

    /* the first record claims more bytes than the frame has */
    uint32_t huge = 0x7fffffff;
    memcpy(b.data + 16 + 4, &huge, 4);
    loom_assert_ok(wire_open(&r, b.data, len));
    uint32_t type;
    const char *body;
    size_t blen;
    cr_assert_eq(wire_next(&r, &type, &body, &blen), -1);

    /* more records announced than present */
    len = build_sample(&b);
    uint32_t nrec = 4;
    memcpy(b.data + 8, &nrec, 4);
    loom_assert_ok(wire_open(&r, b.data, len));
    int rc;
    while ((rc = wire_next(&r, &type, &body, &blen)) == 1)
        ;
    cr_assert_eq(rc, -1);
    wire_buf_free(&b);
}

Test(wire, bodies_must_have_their_exact_size, .timeout = 10)
{
    char body[64] = {0};
    struct wire_task t = {1, 1, 0, 0, 10}; /* claims 10 payload bytes */
    memcpy(body, &t, sizeof t);
    struct wire_task out;
    const char *p;
    loom_assert_err(wire_get_task(body, sizeof t + 9, &out, &p), LOOM_EPROTO);
    loom_assert_err(wire_get_task(body, sizeof t + 11, &out, &p), LOOM_EPROTO);
    loom_assert_ok(wire_get_task(body, sizeof t + 10, &out, &p));
    loom_assert_err(wire_get_task(body, 3, &out, &p), LOOM_EPROTO);
    t.id = 0; /* ids start at 1 */
    memcpy(body, &t, sizeof t);
    loom_assert_err(wire_get_task(body, sizeof t + 10, &out, &p), LOOM_EPROTO);

    struct wire_qreq q = {1, 2, 0, 0, 0, 0}; /* empty name */
    const char *name, *data;
    memcpy(body, &q, sizeof q);
    loom_assert_err(wire_get_qreq(body, sizeof q, &q, &name, &data), LOOM_EPROTO);
    q.name_len = 3;
    q.data_len = 0xffffffffu; /* would overflow a 32-bit sum */
    memcpy(body, &q, sizeof q);
    loom_assert_err(wire_get_qreq(body, sizeof q + 3, &q, &name, &data), LOOM_EPROTO);
    loom_assert_err(wire_get_empty(body, 1), LOOM_EPROTO);
    struct wire_hello h = {0, 1, 0, 0}; /* a worker without threads */
    const char *host;
    loom_assert_err(wire_get_hello((const char *)&h, sizeof h, &h, &host), LOOM_EPROTO);
}

/* HELLO says which host the worker runs on: a name of at most
 * WIRE_HOST_MAX bytes, exactly as long as announced, without a NUL. */
Test(wire, hello_carries_the_host, .timeout = 10)
{
    struct wire_buf b = {0};
    wire_buf_reset(&b);
    struct wire_hello h = {4, 1234, 6, 0};
    loom_assert_ok(wire_put(&b, WIRE_HELLO, &h, sizeof h, "node-7", 6, NULL, 0));
    size_t len = wire_finish(&b);
    struct wire_reader r;
    loom_assert_ok(wire_open(&r, b.data, len));
    uint32_t type;
    const char *body, *host;
    size_t blen;
    cr_assert_eq(wire_next(&r, &type, &body, &blen), 1);
    cr_assert_eq(type, WIRE_HELLO);
    struct wire_hello got;
    loom_assert_ok(wire_get_hello(body, blen, &got, &host));
    cr_assert_eq(got.threads, 4);
    cr_assert_eq(got.pid, 1234);
    cr_assert_eq(got.host_len, 6);
    cr_assert_eq(memcmp(host, "node-7", 6), 0);
    /* the name's length must be the body's rest, exactly */
    loom_assert_err(wire_get_hello(body, blen - 1, &got, &host), LOOM_EPROTO);
    wire_buf_free(&b);

    char body2[sizeof h + WIRE_HOST_MAX + 2];
    memset(body2, 'a', sizeof body2);
    h.host_len = WIRE_HOST_MAX;
    memcpy(body2, &h, sizeof h);
    loom_assert_ok(wire_get_hello(body2, sizeof h + WIRE_HOST_MAX, &got, &host));
    h.host_len = WIRE_HOST_MAX + 1; /* longer than any host name */
    memcpy(body2, &h, sizeof h);
    loom_assert_err(wire_get_hello(body2, sizeof h + WIRE_HOST_MAX + 1, &got, &host), LOOM_EPROTO);
    h.host_len = 3; /* a NUL inside would cut the name the master keeps */
    memcpy(body2, &h, sizeof h);
    memcpy(body2 + sizeof h, "a\0b", 3);
    loom_assert_err(wire_get_hello(body2, sizeof h + 3, &got, &host), LOOM_EPROTO);
    h.host_len = 0; /* no name at all: allowed (shown as "") */
    memcpy(body2, &h, sizeof h);
    loom_assert_ok(wire_get_hello(body2, sizeof h, &got, &host));
}

Test(wire, chunks_pack_and_validate, .timeout = 10)
{
    const void *items[3] = {"ab", "", "cde"};
    size_t lens[3] = {2, 0, 3};
    size_t size = wire_chunk_size(3, lens);
    char *buf = malloc(size);
    wire_chunk_pack(buf, 3, items, lens);
    uint32_t n;
    const char *lp, *dp;
    loom_assert_ok(wire_chunk_open(buf, size, &n, &lp, &dp));
    cr_assert_eq(n, 3);
    cr_assert_eq(memcmp(dp, "abcde", 5), 0);
    loom_assert_err(wire_chunk_open(buf, size - 1, &n, &lp, &dp), LOOM_EPROTO);
    uint32_t lie = 1000000;
    memcpy(buf, &lie, 4); /* more items than bytes */
    loom_assert_err(wire_chunk_open(buf, size, &n, &lp, &dp), LOOM_EPROTO);
    loom_assert_err(wire_chunk_open(buf, 3, &n, &lp, &dp), LOOM_EPROTO);
    loom_assert_err(wire_chunk_reply_open(buf, size, &n, &lp, &lp, &dp), LOOM_EPROTO);
    free(buf);
}

/* A result carries why its task ended (isolated tasks) next to its status. */
Test(wire, result_carries_cause, .timeout = 10)
{
    struct wire_buf b = {0};
    wire_buf_reset(&b);
    struct wire_result w = {
        9,    2, -1, WIRE_TASK_ISOLATE, 3, 2 /* LOOM_CAUSE_SIGNAL */, 3, 11, 1700000000123456789,
        42000};
    loom_assert_ok(wire_put(&b, WIRE_RESULT, &w, sizeof w, "abc", 3, NULL, 0));
    size_t len = wire_finish(&b);
    struct wire_reader r;
    loom_assert_ok(wire_open(&r, b.data, len));
    uint32_t type;
    const char *body, *reply;
    size_t blen;
    cr_assert_eq(wire_next(&r, &type, &body, &blen), 1);
    cr_assert_eq(type, WIRE_RESULT);
    struct wire_result got;
    loom_assert_ok(wire_get_result(body, blen, &got, &reply));
    cr_assert_eq(got.id, 9);
    cr_assert_eq(got.status, -1);
    cr_assert_eq(got.flags, WIRE_TASK_ISOLATE);
    cr_assert_eq(got.cause, 2);
    cr_assert_eq(got.code, 11);
    /* where and when it ran: thread, wall-clock start, duration */
    cr_assert_eq(got.slot, 3);
    cr_assert_eq(got.start_ns, 1700000000123456789);
    cr_assert_eq(got.run_ns, 42000);
    cr_assert_eq(memcmp(reply, "abc", 3), 0);
    /* one byte short of the fixed part: refused */
    cr_assert_eq(wire_get_result(body, sizeof w - 1, &got, &reply), LOOM_EPROTO);
    /* a negative duration is not one */
    char neg[sizeof w + 3];
    w.run_ns = -1;
    memcpy(neg, &w, sizeof w);
    memcpy(neg + sizeof w, "abc", 3);
    cr_assert_eq(wire_get_result(neg, sizeof neg, &got, &reply), LOOM_EPROTO);
    wire_buf_free(&b);
}

/* A stage of records of assorted sizes moved into frames of at most max
 * bytes: every frame stays within it (a record too big goes alone), every
 * record arrives once, in order, intact. */
Test(wire, move_upto_cuts_frames_at_the_bound, .timeout = 10)
{
    static const size_t sizes[] = {100, 3000, 10, 5000, 1, 9000, 2000, 2000, 2000, 0, 4000};
    enum { N = sizeof sizes / sizeof sizes[0], MAX = 6000 };
    struct wire_buf stage = {0}, out = {0};
    wire_buf_reset(&stage);
    char body[9000];
    for (size_t i = 0; i < N; i++) {
        memset(body, (int)('a' + i), sizes[i]);
        loom_assert_ok(wire_put(&stage, WIRE_SUBMIT, body, sizes[i], NULL, 0, NULL, 0));
    }
    size_t pos = 0, seen = 0, frames = 0;
    int more;
    wire_buf_reset(&out);
    do {
        more = wire_move_upto(&out, &stage, &pos, MAX);
        cr_assert_geq(more, 0);
        size_t len = wire_finish(&out);
        struct wire_reader r;
        loom_assert_ok(wire_open(&r, out.data, len));
        uint32_t type, nrec = 0;
        const char *b;
        size_t blen;
        while (wire_next(&r, &type, &b, &blen) == 1) {
            cr_assert_lt(seen, N);
            cr_assert_eq(blen, sizes[seen], "record %zu: %zu bytes", seen, blen);
            for (size_t k = 0; k < blen; k++)
                cr_assert_eq(b[k], (char)('a' + seen));
            seen++;
            nrec++;
        }
        cr_assert(len <= MAX || nrec == 1, "frame of %zu bytes holds %u records", len, nrec);
        cr_assert_gt(nrec, 0);
        frames++;
        wire_buf_reset(&out);
    } while (more == 1);
    cr_assert_eq(seen, N);
    cr_assert_gt(frames, 3, "%zu frames", frames);
    /* a frame that already holds records takes none that would overfill it */
    wire_buf_reset(&out);
    loom_assert_ok(wire_put(&out, WIRE_SUBMIT, body, 5000, NULL, 0, NULL, 0));
    cr_assert(!wire_fits(&out, 1000, MAX));
    cr_assert(wire_fits(&out, 900, MAX));
    pos = 0;
    cr_assert_eq(wire_move_upto(&out, &stage, &pos, MAX), 1);
    cr_assert_eq(out.nrec, 2, "the 100-byte record joins, the 3000-byte one does not: %u",
                 out.nrec);
    wire_buf_free(&stage);
    wire_buf_free(&out);
}
