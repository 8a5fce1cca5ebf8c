/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the wire decoder (framework/src/formats/wire.c), which reads
 * every frame a rank receives. Any bytes as a frame: each record is parsed
 * with the parser of its type; every variable part handed back must lie
 * inside the record's body. The same bytes are also read as a map chunk of
 * inputs and of replies, whose tables must lie inside them.
 */
#include "fuzz_common.h"
#include "wire.h"

#define INSIDE(p, n, body, blen)                                                                   \
    ((n) == 0 || ((const char *)(p) >= (body) && (const char *)(p) + (n) <= (body) + (blen)))

/* The total of a chunk's table of n u32 lengths. */
static size_t
lens_sum(const char *lens, uint32_t n)
{
    size_t sum = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t l;
        memcpy(&l, lens + 4 * (size_t)i, 4);
        sum += l;
    }
    return sum;
}

static void
parse_record(uint32_t type, const char *body, size_t blen)
{
    const char *a = NULL, *b = NULL;
    switch (type) {
    case WIRE_HELLO: {
        struct wire_hello h;
        if (wire_get_hello(body, blen, &h, &a) == LOOM_OK && !INSIDE(a, h.host_len, body, blen))
            abort();
        break;
    }
    case WIRE_TASK: {
        struct wire_task t;
        if (wire_get_task(body, blen, &t, &a) == LOOM_OK && !INSIDE(a, t.len, body, blen))
            abort();
        break;
    }
    case WIRE_RESULT: {
        struct wire_result r;
        if (wire_get_result(body, blen, &r, &a) == LOOM_OK && !INSIDE(a, r.len, body, blen))
            abort();
        break;
    }
    case WIRE_SUBMIT: {
        struct wire_submit s;
        if (wire_get_submit(body, blen, &s, &a) == LOOM_OK && !INSIDE(a, s.len, body, blen))
            abort();
        break;
    }
    case WIRE_QREQ: {
        struct wire_qreq q;
        if (wire_get_qreq(body, blen, &q, &a, &b) == LOOM_OK &&
            (!INSIDE(a, q.name_len, body, blen) || !INSIDE(b, q.data_len, body, blen)))
            abort();
        break;
    }
    case WIRE_QREP: {
        struct wire_qrep q;
        if (wire_get_qrep(body, blen, &q, &a) == LOOM_OK && !INSIDE(a, q.len, body, blen))
            abort();
        break;
    }
    default: {
        struct wire_credit c;
        struct wire_stop s;
        (void)wire_get_credit(body, blen, &c);
        (void)wire_get_stop(body, blen, &s);
        (void)wire_get_empty(body, blen);
    }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    struct wire_reader r;
    if (wire_open(&r, p, size) == LOOM_OK) {
        uint32_t type;
        const char *body;
        size_t blen;
        int rc;
        while ((rc = wire_next(&r, &type, &body, &blen)) == 1) {
            if (!INSIDE(body, blen, p, size))
                abort();
            parse_record(type, body, blen);
        }
    }
    uint32_t n;
    const char *lens, *status, *items;
    if (wire_chunk_open(p, size, &n, &lens, &items) == LOOM_OK &&
        (!INSIDE(lens, (size_t)n * 4, p, size) || !INSIDE(items, lens_sum(lens, n), p, size)))
        abort();
    if (wire_chunk_reply_open(p, size, &n, &status, &lens, &items) == LOOM_OK &&
        (!INSIDE(status, (size_t)n * 4, p, size) || !INSIDE(lens, (size_t)n * 4, p, size) ||
         !INSIDE(items, lens_sum(lens, n), p, size)))
        abort();
    return 0;
}
