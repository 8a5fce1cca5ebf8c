/* SPDX-License-Identifier: MIT */
/* The wire format: building and checked reading of frames (see wire.h). */
#include <stdlib.h>
#include <string.h>

#include "wire.h"

#define HDR_LEN 16 /* magic u32, version u16, reserved u16, nrec u32, pad u32 */
#define REC_HDR 8  /* type u8, flags u8, reserved u16, len u32 */

static size_t
align8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

void
wire_buf_reset(struct wire_buf *b)
{
    b->len = HDR_LEN;
    b->nrec = 0;
}

void
wire_buf_free(struct wire_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

static int
wire_grow(struct wire_buf *b, size_t need)
{
    if (b->len < HDR_LEN)
        b->len = HDR_LEN;
    if (b->len + need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + need)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p)
        return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

void *
wire_reserve(struct wire_buf *b, enum wire_type type, size_t blen)
{
    if (blen > WIRE_MAX_FRAME || wire_grow(b, REC_HDR + align8(blen)) != 0)
        return NULL;
    char *rec = b->data + b->len;
    uint32_t len32 = (uint32_t)blen;
    memset(rec, 0, REC_HDR);
    rec[0] = (char)type;
    memcpy(rec + 4, &len32, 4);
    memset(rec + REC_HDR + blen, 0, align8(blen) - blen); /* no stale bytes on the wire */
    b->len += REC_HDR + align8(blen);
    b->nrec++;
    return rec + REC_HDR;
}

loom_err
wire_put(struct wire_buf *b, enum wire_type type, const void *hdr, size_t hlen, const void *tail,
         size_t tlen, const void *tail2, size_t t2len)
{
    char *p = wire_reserve(b, type, hlen + tlen + t2len);
    if (!p)
        return LOOM_ENOMEM;
    if (hlen)
        memcpy(p, hdr, hlen);
    if (tlen)
        memcpy(p + hlen, tail, tlen);
    if (t2len)
        memcpy(p + hlen + tlen, tail2, t2len);
    return LOOM_OK;
}

loom_err
wire_append(struct wire_buf *dst, const struct wire_buf *src)
{
    if (src->nrec == 0)
        return LOOM_OK;
    size_t n = src->len - HDR_LEN;
    if (wire_grow(dst, n) != 0)
        return LOOM_ENOMEM;
    memcpy(dst->data + dst->len, src->data + HDR_LEN, n);
    dst->len += n;
    dst->nrec += src->nrec;
    return LOOM_OK;
}

size_t
wire_record_size(size_t blen)
{
    return REC_HDR + align8(blen);
}

size_t
wire_frame_size(size_t blen)
{
    return HDR_LEN + REC_HDR + align8(blen);
}

int
wire_fits(const struct wire_buf *b, size_t blen, size_t max)
{
    size_t len = b->len < HDR_LEN ? HDR_LEN : b->len;
    return len + REC_HDR + align8(blen) <= max;
}

int
wire_move_upto(struct wire_buf *dst, const struct wire_buf *src, size_t *pos, size_t max)
{
    size_t from = *pos < HDR_LEN ? HDR_LEN : *pos, end = from;
    uint32_t n = 0;
    size_t have = dst->len < HDR_LEN ? HDR_LEN : dst->len;
    while (end < src->len) {
        uint32_t len;
        memcpy(&len, src->data + end + 4, 4);
        size_t rec = REC_HDR + align8(len);
        if (have + (end - from) + rec > max && (dst->nrec || n))
            break; /* full: at least one record always goes */
        end += rec;
        n++;
    }
    if (n) {
        if (wire_grow(dst, end - from) != 0)
            return -1;
        memcpy(dst->data + dst->len, src->data + from, end - from);
        dst->len += end - from;
        dst->nrec += n;
    }
    *pos = end;
    return end < src->len ? 1 : 0;
}

size_t
wire_finish(struct wire_buf *b)
{
    if (wire_grow(b, 0) != 0)
        return 0;
    uint32_t magic = WIRE_MAGIC, nrec = b->nrec;
    uint16_t version = WIRE_VERSION, zero16 = 0;
    uint32_t zero32 = 0;
    memcpy(b->data, &magic, 4);
    memcpy(b->data + 4, &version, 2);
    memcpy(b->data + 6, &zero16, 2);
    memcpy(b->data + 8, &nrec, 4);
    memcpy(b->data + 12, &zero32, 4);
    return b->len;
}

loom_err
wire_open(struct wire_reader *r, const void *data, size_t len)
{
    uint32_t magic;
    uint16_t version;
    memset(r, 0, sizeof *r);
    if (!data || len < HDR_LEN || len > WIRE_MAX_FRAME)
        return LOOM_EPROTO;
    memcpy(&magic, data, 4);
    memcpy(&version, (const char *)data + 4, 2);
    if (magic != WIRE_MAGIC || version != WIRE_VERSION)
        return LOOM_EPROTO;
    r->data = data;
    r->len = len;
    r->pos = HDR_LEN;
    memcpy(&r->nrec, (const char *)data + 8, 4);
    return LOOM_OK;
}

int
wire_next(struct wire_reader *r, uint32_t *type, const char **body, size_t *blen)
{
    if (r->seen == r->nrec)
        return r->pos == r->len ? 0 : -1; /* trailing bytes: malformed */
    if (r->len - r->pos < REC_HDR)
        return -1;
    const char *rec = r->data + r->pos;
    uint32_t len;
    memcpy(&len, rec + 4, 4);
    if (len > r->len - r->pos - REC_HDR || align8(len) > r->len - r->pos - REC_HDR)
        return -1;
    *type = (uint8_t)rec[0];
    *body = rec + REC_HDR;
    *blen = len;
    r->pos += REC_HDR + align8(len);
    r->seen++;
    return 1;
}

#define FIXED(body, blen, out)                                                                     \
    do {                                                                                           \
        if ((blen) < sizeof *(out))                                                                \
            return LOOM_EPROTO;                                                                    \
        memcpy((out), (body), sizeof *(out));                                                      \
    } while (0)

loom_err
wire_get_hello(const char *body, size_t blen, struct wire_hello *h, const char **host)
{
    FIXED(body, blen, h);
    if (h->threads == 0 || h->host_len > WIRE_HOST_MAX || blen - sizeof *h != h->host_len)
        return LOOM_EPROTO;
    *host = body + sizeof *h;
    /* it becomes a C string on the master */
    return memchr(*host, '\0', h->host_len) ? LOOM_EPROTO : LOOM_OK;
}

loom_err
wire_get_credit(const char *body, size_t blen, struct wire_credit *c)
{
    FIXED(body, blen, c);
    return blen == sizeof *c ? LOOM_OK : LOOM_EPROTO;
}

loom_err
wire_get_stop(const char *body, size_t blen, struct wire_stop *s)
{
    FIXED(body, blen, s);
    return blen == sizeof *s ? LOOM_OK : LOOM_EPROTO;
}

loom_err
wire_get_task(const char *body, size_t blen, struct wire_task *t, const char **payload)
{
    FIXED(body, blen, t);
    if (blen - sizeof *t != t->len || t->attempt == 0 || t->id == 0)
        return LOOM_EPROTO;
    *payload = body + sizeof *t;
    return LOOM_OK;
}

loom_err
wire_get_result(const char *body, size_t blen, struct wire_result *r, const char **reply)
{
    FIXED(body, blen, r);
    if (blen - sizeof *r != r->len || r->id == 0 || r->run_ns < 0)
        return LOOM_EPROTO;
    *reply = body + sizeof *r;
    return LOOM_OK;
}

loom_err
wire_get_submit(const char *body, size_t blen, struct wire_submit *s, const char **payload)
{
    FIXED(body, blen, s);
    if (blen - sizeof *s != s->len)
        return LOOM_EPROTO;
    *payload = body + sizeof *s;
    return LOOM_OK;
}

loom_err
wire_get_qreq(const char *body, size_t blen, struct wire_qreq *q, const char **name,
              const char **data)
{
    FIXED(body, blen, q);
    if ((uint64_t)blen - sizeof *q != (uint64_t)q->name_len + q->data_len || q->name_len == 0)
        return LOOM_EPROTO;
    *name = body + sizeof *q;
    *data = *name + q->name_len;
    return LOOM_OK;
}

loom_err
wire_get_qrep(const char *body, size_t blen, struct wire_qrep *q, const char **data)
{
    FIXED(body, blen, q);
    if (blen - sizeof *q != q->len)
        return LOOM_EPROTO;
    *data = body + sizeof *q;
    return LOOM_OK;
}

loom_err
wire_get_empty(const char *body, size_t blen)
{
    (void)body;
    return blen == 0 ? LOOM_OK : LOOM_EPROTO;
}

size_t
wire_chunk_size(size_t n, const size_t *lens)
{
    size_t total = 4 + 4 * n;
    for (size_t i = 0; i < n; i++)
        total += lens[i];
    return total;
}

void
wire_chunk_pack(char *out, size_t n, const void *const *items, const size_t *lens)
{
    uint32_t n32 = (uint32_t)n;
    memcpy(out, &n32, 4);
    char *lp = out + 4, *dp = out + 4 + 4 * n;
    for (size_t i = 0; i < n; i++) {
        uint32_t l = (uint32_t)lens[i];
        memcpy(lp + 4 * i, &l, 4);
        if (l)
            memcpy(dp, items[i], l);
        dp += l;
    }
}

/* Check that a table of n u32 lengths at lens sums to exactly avail. */
static loom_err
lens_fit(const char *lens, uint32_t n, size_t avail)
{
    uint64_t sum = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t l;
        memcpy(&l, lens + 4 * (size_t)i, 4);
        sum += l;
    }
    return sum == avail ? LOOM_OK : LOOM_EPROTO;
}

loom_err
wire_chunk_open(const char *p, size_t len, uint32_t *n, const char **lens, const char **data)
{
    if (len < 4)
        return LOOM_EPROTO;
    memcpy(n, p, 4);
    if ((uint64_t)*n * 4 > len - 4)
        return LOOM_EPROTO;
    *lens = p + 4;
    *data = p + 4 + 4 * (size_t)*n;
    return lens_fit(*lens, *n, len - 4 - 4 * (size_t)*n);
}

loom_err
wire_chunk_reply_open(const char *p, size_t len, uint32_t *n, const char **status,
                      const char **lens, const char **data)
{
    if (len < 4)
        return LOOM_EPROTO;
    memcpy(n, p, 4);
    if ((uint64_t)*n * 8 > len - 4)
        return LOOM_EPROTO;
    *status = p + 4;
    *lens = p + 4 + 4 * (size_t)*n;
    *data = p + 4 + 8 * (size_t)*n;
    return lens_fit(*lens, *n, len - 4 - 8 * (size_t)*n);
}
