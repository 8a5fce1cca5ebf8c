/* SPDX-License-Identifier: MIT */
/*
 * The join file: DIR/loom.join, written by a master that serves joiners,
 * read by each joiner, removed by the master when it ends.
 *
 * Format: text, one "name value" per line, each line ending in '\n', one
 * space between name and value, in this order when written:
 *
 *   loom-join 2                      format version: always the first line
 *   job 3f9c...(32 lowercase hex)    random id of this job
 *   host node01                      the master's host name (for messages)
 *   pid 12345                        the master's pid (for messages)
 *   created 1718000000               unix seconds when the master wrote it
 *   gate node01:40123                the master's join gate (gate.h), host:port
 *   key 0a1b...(64 hex)              the job's key, 32 bytes
 *   check 8c1d2e3f                   CRC-32C (lowercase hex) of every byte
 *                                    before this line: always the last line
 *
 * The reader accepts the fields between the first and the last line in any
 * order, but each exactly once; an unknown field, an unknown version, a
 * line over LINE_MAX bytes, a NUL byte, a missing final newline or a value
 * that fails its check is "corrupted" (LOOM_EPROTO) with the line and the
 * field named. The check line tells damage apart from a wrong key: a file
 * truncated anywhere lacks it or a complete last line, and a changed byte
 * (a flipped hex digit of the key) fails the CRC, so neither can reach the
 * handshake as a "wrong key". CRC-32C is no defence against someone who
 * can write the file; the permission checks are.
 *
 * Trust: the key is secret and what a master sends a joiner it runs, so
 * the joiner must trust the file as much as its own account. Hence: the
 * file is opened with O_NOFOLLOW and checked on its descriptor (regular
 * file, owned by the caller, no group/other permission), and the directory
 * it sits in may not be written by group or others (nobody else can swap
 * the file). The writer creates the directory 0700 and the file 0600
 * (chmod'ed after creation, whatever the umask).
 *
 * Atomic replacement: a temporary ".loom.join.<random>" in the same
 * directory, written, fsync'ed, renamed over loom.join, then the directory
 * fsync'ed (best effort). Readers never see a partial file; a crash leaves the old file
 * or the new one (plus at worst a stray temporary).
 *
 * Version 1 named the master's MPI port itself (no gate): anyone who read
 * it could open an MPI connection before proving the key. A version 1 file
 * is refused with a message saying it comes from an older loom.
 *
 * Buffers holding the key's hex are wiped (explicit_bzero) before return.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "io_internal.h"
#include "joinfile.h"
#include "journal.h" /* loom__crc32c */

#define LINE_MAX_   1100 /* longer than any valid line, with room */
#define PATH_CAP    4096
#define VERSION_TAG "loom-join"

/* ---- field checks, shared by the writer and the reader ----------------- */

static int
is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int
hex_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return c - 'A' + 10;
}

/* A token: 1..max bytes, each printable ASCII other than space. NULL if
 * fine, else what is wrong. */
static const char *
token_problem(const char *s, size_t len, size_t max)
{
    if (len == 0)
        return "is empty";
    if (len > max)
        return "is too long";
    for (size_t i = 0; i < len; i++)
        if (s[i] <= ' ' || s[i] > '~')
            return "contains whitespace, a control character or a non-ASCII byte";
    return NULL;
}

static int
is_lower_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static int
is_job_id(const char *s, size_t len)
{
    if (len != LOOM__JOIN_JOB_HEX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!is_lower_hex(s[i]))
            return 0;
    return 1;
}

/* Decimal digits without sign or leading zero, <= max. */
static int
parse_dec(const char *s, size_t len, uint64_t max, uint64_t *out)
{
    if (len == 0 || len > 19 || (s[0] == '0' && len > 1))
        return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (uint64_t)(s[i] - '0'); /* 19 digits cannot wrap a u64 */
    }
    if (v > max)
        return 0;
    *out = v;
    return 1;
}

/* A gate address: a token "host:port", port 1..65535. NULL if fine. */
static const char *
gate_problem(const char *s, size_t len)
{
    const char *why = token_problem(s, len, LOOM__JOIN_GATE_MAX - 1);
    if (why != NULL)
        return why;
    const char *colon = memrchr(s, ':', len);
    uint64_t port;
    if (colon == NULL || colon == s ||
        !parse_dec(colon + 1, len - (size_t)(colon - s) - 1, 65535, &port) || port == 0)
        return "is not host:port (port 1 to 65535)";
    return NULL;
}

/* What the writer refuses in ji: NULL if fine. */
static const char *
info_problem(const struct loom__join_info *ji, const char **field)
{
    const char *why;
    *field = "gate";
    if ((why = gate_problem(ji->gate, strnlen(ji->gate, sizeof ji->gate))) != NULL)
        return why;
    *field = "host";
    size_t hl = strnlen(ji->host, sizeof ji->host);
    if (hl == sizeof ji->host)
        return "is not NUL-terminated";
    if ((why = token_problem(ji->host, hl, LOOM__JOIN_HOST_MAX - 1)) != NULL)
        return why;
    *field = "job";
    if (!is_job_id(ji->job, strnlen(ji->job, sizeof ji->job)))
        return "is not 32 lowercase hex digits";
    *field = "pid";
    if (ji->pid < 1 || ji->pid > INT32_MAX)
        return "is not a process id";
    *field = "created";
    if (ji->created < 0)
        return "is negative";
    return NULL;
}

/* ---- paths -------------------------------------------------------------- */

/* Where a join file is: its directory and its name in it, and the file's
 * path for messages. */
struct where {
    char dir[PATH_CAP];
    char name[PATH_CAP];
    char file[2 * PATH_CAP + 2]; /* dir + "/" + name */
};

static loom_err
locate(const char *path, int path_is_dir, struct where *w, char *err, size_t errlen)
{
    size_t n = strlen(path);
    if (n == 0 || n >= PATH_CAP) {
        loom__set_err(err, errlen, "join file path is %s", n == 0 ? "empty" : "too long");
        return LOOM_EINVAL;
    }
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (!path_is_dir) {
        /* A directory, or a path that does not exist, is taken as the
         * directory the master was given; anything else, or anything called
         * loom.join (a directory there sits where the file should), as the
         * file. */
        struct stat st;
        int r = stat(path, &st);
        path_is_dir = strcmp(base, LOOM__JOINFILE_NAME) != 0 &&
                      ((r == 0 && S_ISDIR(st.st_mode)) || (r != 0 && errno == ENOENT));
    }
    if (path_is_dir) {
        snprintf(w->dir, sizeof w->dir, "%s", path);
        snprintf(w->name, sizeof w->name, "%s", LOOM__JOINFILE_NAME);
    } else {
        if (slash == NULL)
            snprintf(w->dir, sizeof w->dir, ".");
        else if (slash == path)
            snprintf(w->dir, sizeof w->dir, "/");
        else
            snprintf(w->dir, sizeof w->dir, "%.*s", (int)(slash - path), path);
        snprintf(w->name, sizeof w->name, "%s", base);
    }
    size_t dl = strlen(w->dir);
    snprintf(w->file, sizeof w->file, "%s%s%s", w->dir,
             (dl > 0 && w->dir[dl - 1] == '/') ? "" : "/", w->name);
    return LOOM_OK;
}

/* The directory may hold a key: not writable by group or others, ours or
 * root's. */
static loom_err
check_dir(int dfd, const char *dir, char *err, size_t errlen)
{
    struct stat st;
    if (fstat(dfd, &st) != 0) {
        loom__set_err(err, errlen, "cannot stat directory %s: %s", dir, strerror(errno));
        return LOOM_ESYS;
    }
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        loom__set_err(
            err, errlen,
            "directory %s is writable by group or others (mode %04o): anyone there could "
            "replace the join file; refusing it (chmod go-w, or name a private directory)",
            dir, (unsigned)(st.st_mode & 07777));
        return LOOM_EINVAL;
    }
    if (st.st_uid != geteuid() && st.st_uid != 0) {
        loom__set_err(err, errlen,
                      "directory %s belongs to uid %u, not to you (uid %u): refusing it", dir,
                      (unsigned)st.st_uid, (unsigned)geteuid());
        return LOOM_EINVAL;
    }
    return LOOM_OK;
}

/* ---- init, write -------------------------------------------------------- */

static void
to_hex(char *out, const unsigned char *in, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

loom_err
loom__joinfile_init(struct loom__join_info *ji, int gate_port)
{
    LOOM_ASSERT(ji != NULL);
    unsigned char id[LOOM__JOIN_JOB_HEX / 2];
    loom_err rc = LOOM_OK;
    memset(ji, 0, sizeof *ji);
    if (gate_port < 1 || gate_port > 65535) {
        rc = LOOM_EINVAL;
        goto cleanup;
    }
    if ((rc = loom__auth_random(ji->key, sizeof ji->key)) != LOOM_OK ||
        (rc = loom__auth_random(id, sizeof id)) != LOOM_OK)
        goto cleanup;
    to_hex(ji->job, id, sizeof id);
    if (gethostname(ji->host, sizeof ji->host - 1) != 0)
        ji->host[0] = '\0';
    ji->host[sizeof ji->host - 1] = '\0';
    for (char *c = ji->host; *c; c++)
        if (*c <= ' ' || *c > '~')
            *c = '_';
    if (ji->host[0] == '\0')
        snprintf(ji->host, sizeof ji->host, "unknown");
    int n = snprintf(ji->gate, sizeof ji->gate, "%s:%d", ji->host, gate_port);
    if (n < 0 || (size_t)n >= sizeof ji->gate) {
        rc = LOOM_EINVAL;
        goto cleanup;
    }
    ji->pid = (long)getpid();
    ji->created = (int64_t)time(NULL);
cleanup:
    if (rc != LOOM_OK)
        explicit_bzero(ji, sizeof *ji);
    return rc;
}

/* The file's bytes for ji into buf (LOOM__JOINFILE_MAX); its length. */
static size_t
render(const struct loom__join_info *ji, char *buf)
{
    char key[2 * LOOM__AUTH_KEY_LEN + 1];
    to_hex(key, ji->key, sizeof ji->key);
    int n = snprintf(
        buf, LOOM__JOINFILE_MAX,
        VERSION_TAG " %d\njob %s\nhost %s\npid %ld\ncreated %" PRId64 "\ngate %s\nkey %s\n",
        LOOM__JOINFILE_VERSION, ji->job, ji->host, ji->pid, ji->created, ji->gate, key);
    explicit_bzero(key, sizeof key);
    /* Bounded by the fields' sizes: about 1,450 bytes at most. */
    LOOM_ASSERT(n > 0 && (size_t)n + 16 < LOOM__JOINFILE_MAX);
    uint32_t crc = loom__crc32c(0, buf, (size_t)n);
    n += snprintf(buf + n, LOOM__JOINFILE_MAX - (size_t)n, "check %08" PRIx32 "\n", crc);
    return (size_t)n;
}

loom_err
loom__joinfile_write(const char *dir, const struct loom__join_info *ji, char *err, size_t errlen)
{
    LOOM_ASSERT(dir != NULL && ji != NULL);
    char buf[LOOM__JOINFILE_MAX], tmp[64];
    unsigned char rnd[8];
    size_t len = 0;
    int dfd = -1, fd = -1, created = 0, have_tmp = 0;
    struct where w;
    const char *field;
    const char *why;
    loom_err rc;

    if ((why = info_problem(ji, &field)) != NULL) {
        loom__set_err(err, errlen, "invalid join file field '%s': it %s", field, why);
        rc = LOOM_EINVAL;
        goto done;
    }
    if ((rc = locate(dir, 1, &w, err, errlen)) != LOOM_OK)
        goto done;
    if (mkdir(dir, 0700) == 0) {
        created = 1;
    } else if (errno != EEXIST) {
        loom__set_err(err, errlen, "cannot create directory %s for the join file: %s", dir,
                      strerror(errno));
        rc = LOOM_ESYS;
        goto done;
    }
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        int e = errno;
        loom__set_err(err, errlen, "%s %s: %s", e == ENOTDIR ? "not a directory:" : "cannot open",
                      dir, strerror(e));
        rc = e == ENOTDIR ? LOOM_EINVAL : LOOM_ESYS;
        goto done;
    }
    /* mkdir's mode went through the umask; the directory must be 0700. */
    if (created && fchmod(dfd, 0700) != 0) {
        loom__set_err(err, errlen, "cannot chmod 0700 %s: %s", dir, strerror(errno));
        rc = LOOM_ESYS;
        goto close_dir;
    }
    if ((rc = check_dir(dfd, dir, err, errlen)) != LOOM_OK)
        goto close_dir;

    if ((rc = loom__auth_random(rnd, sizeof rnd)) != LOOM_OK) {
        loom__set_err(err, errlen, "no randomness for a temporary file name");
        goto close_dir;
    }
    snprintf(tmp, sizeof tmp, "." LOOM__JOINFILE_NAME ".%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0],
             rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
    fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        loom__set_err(err, errlen, "cannot create %s/%s: %s", dir, tmp, strerror(errno));
        rc = LOOM_ESYS;
        goto close_dir;
    }
    have_tmp = 1;
    len = render(ji, buf);
    if (fchmod(fd, 0600) != 0 || loom__write_all(fd, buf, len, NULL) != 0 || fsync(fd) != 0) {
        loom__set_err(err, errlen, "cannot write %s/%s: %s", dir, tmp, strerror(errno));
        rc = LOOM_ESYS;
        goto remove_tmp;
    }
    int cr = close(fd);
    fd = -1;
    if (cr != 0) {
        loom__set_err(err, errlen, "cannot write %s/%s: %s", dir, tmp, strerror(errno));
        rc = LOOM_ESYS;
        goto remove_tmp;
    }
    if (renameat(dfd, tmp, dfd, LOOM__JOINFILE_NAME) != 0) {
        loom__set_err(err, errlen, "cannot rename %s/%s to %s: %s", dir, tmp, w.file,
                      strerror(errno));
        rc = LOOM_ESYS;
        goto remove_tmp;
    }
    have_tmp = 0;
    /* Best effort: the file's own fsync already means a crash can never
     * leave an empty or partial loom.join; the directory's makes the rename
     * itself survive a machine crash, which would have ended the master
     * (and so the job the file points to) anyway. */
    (void)fsync(dfd);

remove_tmp:
    if (fd >= 0)
        close(fd);
    if (have_tmp)
        (void)unlinkat(dfd, tmp, 0);
close_dir:
    close(dfd);
done:
    explicit_bzero(buf, sizeof buf);
    return rc;
}

/* ---- read ---------------------------------------------------------------- */

enum field { F_JOB, F_HOST, F_PID, F_CREATED, F_GATE, F_KEY, F_CHECK, F__COUNT };
static const char *const field_names[F__COUNT] = {"job",  "host", "pid",  "created",
                                                  "gate", "key",  "check"};

/* One read of the file's bytes: for messages, the file and the line. */
struct parse_ctx {
    const char *file;
    const char *buf; /* the file's bytes */
    char *err;
    size_t errlen;
    unsigned lineno; /* the line being read, from 1 */
};

/* What the lines read so far held besides ji's fields. */
struct parse_state {
    int seen[F__COUNT];
    uint32_t check;  /* the value of the check line */
    size_t check_at; /* where the check line starts: the CRC covers what is before */
};

static loom_err corrupt(const struct parse_ctx *pc, const char *fmt, ...) LOOM_PRINTF(2, 3);

/* Say why the file is corrupted; returns LOOM_EPROTO. */
static loom_err
corrupt(const struct parse_ctx *pc, const char *fmt, ...)
{
    char why[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    loom__set_err(pc->err, pc->errlen, "corrupted join file %s: %s", pc->file, why);
    return LOOM_EPROTO;
}

/* Line 1: the tag and the one format version this loom reads. */
static loom_err
parse_version(const struct parse_ctx *pc, const char *line, size_t len)
{
    size_t tl = sizeof VERSION_TAG - 1;
    uint64_t v;

    if (len < tl + 2 || memcmp(line, VERSION_TAG " ", tl + 1) != 0) {
        loom__set_err(pc->err, pc->errlen,
                      "%s is not a loom join file (line 1 is not '" VERSION_TAG " %d')", pc->file,
                      LOOM__JOINFILE_VERSION);
        return LOOM_EPROTO;
    }
    if (!parse_dec(line + tl + 1, len - tl - 1, UINT32_MAX, &v))
        return corrupt(pc, "line 1: the format version is not a number");
    if (v == 1) {
        loom__set_err(pc->err, pc->errlen,
                      "join file %s has format version 1, written by an older loom whose "
                      "master takes MPI connections before any key is proved; this loom reads "
                      "version %d only: run the master with this loom",
                      pc->file, LOOM__JOINFILE_VERSION);
        return LOOM_EPROTO;
    }
    if (v != LOOM__JOINFILE_VERSION) {
        loom__set_err(pc->err, pc->errlen,
                      "join file %s has format version %" PRIu64 "; this loom reads version "
                      "%d (do the master and the joiner run the same loom?)",
                      pc->file, v, LOOM__JOINFILE_VERSION);
        return LOOM_EPROTO;
    }
    return LOOM_OK;
}

/* The field named by the nl bytes at name, or F__COUNT. */
static int
field_find(const char *name, size_t nl)
{
    int f = 0;
    while (f < F__COUNT && !(strlen(field_names[f]) == nl && memcmp(name, field_names[f], nl) == 0))
        f++;
    return f;
}

/* A token field (host): at most max bytes, copied NUL-terminated
 * into dst. */
static loom_err
parse_token(const struct parse_ctx *pc, enum field f, const char *v, size_t vl, size_t max,
            char *dst)
{
    const char *why = token_problem(v, vl, max);
    if (why != NULL)
        return corrupt(pc, "line %u: '%s' %s", pc->lineno, field_names[f], why);
    memcpy(dst, v, vl);
    dst[vl] = '\0';
    return LOOM_OK;
}

/* The key's 64 hex digits v[0..vl), which start at column col. */
static loom_err
parse_key(const struct parse_ctx *pc, const char *v, size_t vl, size_t col,
          struct loom__join_info *ji)
{
    if (vl != 2 * LOOM__AUTH_KEY_LEN)
        return corrupt(pc, "line %u: 'key' is %zu characters, not %d hex digits", pc->lineno, vl,
                       2 * LOOM__AUTH_KEY_LEN);
    for (size_t i = 0; i < vl; i++)
        if (!is_hex(v[i]))
            return corrupt(pc,
                           "line %u: 'key' has a character that is not a hex digit at column %zu",
                           pc->lineno, col + i);
    for (size_t i = 0; i < LOOM__AUTH_KEY_LEN; i++)
        ji->key[i] = (unsigned char)(hex_val(v[2 * i]) << 4 | hex_val(v[2 * i + 1]));
    return LOOM_OK;
}

/* The check line's 8 lowercase hex digits. */
static loom_err
parse_check(const struct parse_ctx *pc, const char *v, size_t vl, uint32_t *check)
{
    uint64_t num = 0;

    for (size_t i = 0; i < vl; i++)
        if (vl != 8 || !is_lower_hex(v[i]))
            return corrupt(pc, "line %u: 'check' is not 8 lowercase hex digits", pc->lineno);
        else
            num = num << 4 | (uint64_t)hex_val(v[i]);
    *check = (uint32_t)num;
    return LOOM_OK;
}

/* Check the value v[0..vl) of field f, named by the line's first nl
 * bytes, and store it. */
static loom_err
parse_value(const struct parse_ctx *pc, enum field f, const char *v, size_t vl, size_t nl,
            struct loom__join_info *ji, struct parse_state *st)
{
    uint64_t num;

    switch (f) {
    case F_JOB:
        if (!is_job_id(v, vl))
            return corrupt(pc, "line %u: 'job' is not %d lowercase hex digits", pc->lineno,
                           LOOM__JOIN_JOB_HEX);
        memcpy(ji->job, v, vl);
        ji->job[vl] = '\0';
        break;
    case F_HOST:
        return parse_token(pc, f, v, vl, LOOM__JOIN_HOST_MAX - 1, ji->host);
    case F_PID:
        if (!parse_dec(v, vl, INT32_MAX, &num) || num == 0)
            return corrupt(pc, "line %u: 'pid' is not a process id", pc->lineno);
        ji->pid = (long)num;
        break;
    case F_CREATED:
        if (!parse_dec(v, vl, INT64_MAX, &num))
            return corrupt(pc, "line %u: 'created' is not a time in seconds", pc->lineno);
        ji->created = (int64_t)num;
        break;
    case F_GATE: {
        const char *why = gate_problem(v, vl);
        if (why != NULL)
            return corrupt(pc, "line %u: 'gate' %s", pc->lineno, why);
        memcpy(ji->gate, v, vl);
        ji->gate[vl] = '\0';
        break;
    }
    case F_KEY:
        return parse_key(pc, v, vl, nl + 2, ji);
    case F_CHECK:
        return parse_check(pc, v, vl, &st->check);
    case F__COUNT:
        break;
    }
    return LOOM_OK;
}

/* A line after the first: "name value", a field not seen yet, before the
 * check line. */
static loom_err
parse_field_line(const struct parse_ctx *pc, const char *line, size_t len,
                 struct loom__join_info *ji, struct parse_state *st)
{
    const char *sp;
    size_t nl;
    int f;

    if (len == 0)
        return corrupt(pc, "line %u is empty", pc->lineno);
    if (st->seen[F_CHECK])
        return corrupt(pc, "line %u: text after the 'check' line, which must be the last",
                       pc->lineno);
    sp = memchr(line, ' ', len);
    nl = sp ? (size_t)(sp - line) : len;
    f = field_find(line, nl);
    if (f == F__COUNT) {
        char name[33];
        size_t k = 0;
        for (; k < nl && k < sizeof name - 1; k++)
            name[k] = (line[k] > ' ' && line[k] <= '~') ? line[k] : '?';
        name[k] = '\0';
        return corrupt(pc, "line %u: unknown field '%s'", pc->lineno, name);
    }
    if (st->seen[f])
        return corrupt(pc, "line %u: field '%s' appears twice", pc->lineno, field_names[f]);
    st->seen[f] = 1;
    if (sp == NULL)
        return corrupt(pc, "line %u: field '%s' has no value", pc->lineno, field_names[f]);
    if (f == F_CHECK)
        st->check_at = (size_t)(line - pc->buf);
    return parse_value(pc, (enum field)f, sp + 1, len - nl - 1, nl, ji, st);
}

/* Parse the file's bytes buf[0..n) (n <= LOOM__JOINFILE_MAX) into ji. */
static loom_err
parse(const char *file, const char *buf, size_t n, struct loom__join_info *ji, char *err,
      size_t errlen)
{
    struct parse_ctx pc = {file, buf, err, errlen, 0};
    struct parse_state st;
    const char *nul;
    loom_err rc;

    memset(&st, 0, sizeof st);
    if (n == 0)
        return corrupt(&pc, "it is empty");
    if ((nul = memchr(buf, '\0', n)) != NULL)
        return corrupt(&pc, "NUL byte at offset %zu", (size_t)(nul - buf));
    if (buf[n - 1] != '\n')
        return corrupt(&pc, "the last line is incomplete (truncated?)");
    for (size_t off = 0; off < n;) {
        const char *line = buf + off;
        const char *eol = memchr(line, '\n', n - off); /* found: buf ends in '\n' */
        size_t len = (size_t)(eol - line);
        pc.lineno++;
        off += len + 1;
        if (len > LINE_MAX_)
            return corrupt(&pc, "line %u is longer than %d bytes", pc.lineno, LINE_MAX_);
        if (pc.lineno == 1)
            rc = parse_version(&pc, line, len);
        else
            rc = parse_field_line(&pc, line, len, ji, &st);
        if (rc != LOOM_OK)
            return rc;
    }
    for (int f = 0; f < F__COUNT; f++)
        if (!st.seen[f])
            return corrupt(&pc, "field '%s' is missing (truncated?)", field_names[f]);
    if (loom__crc32c(0, buf, st.check_at) != st.check)
        return corrupt(&pc, "checksum mismatch: the file was changed or damaged after the master "
                            "wrote it");
    return LOOM_OK;
}

/* Open the directory w names, for reading the file in it. */
static loom_err
read_open_dir(const struct where *w, int *dfd, char *err, size_t errlen)
{
    int e;

    *dfd = open(w->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (*dfd >= 0)
        return LOOM_OK;
    e = errno;
    if (e == ENOENT) {
        loom__set_err(err, errlen,
                      "no join file in %s (no such directory): is the master running with "
                      "--serve %s?",
                      w->dir, w->dir);
        return LOOM_ENOTFOUND;
    }
    loom__set_err(err, errlen, "cannot open directory %s: %s", w->dir, strerror(e));
    return e == ENOTDIR ? LOOM_EINVAL : LOOM_ESYS;
}

/* Open the file w names in the directory dfd, never through a link. */
static loom_err
read_open_file(const struct where *w, int dfd, int *fd, char *err, size_t errlen)
{
    int e;

    *fd = openat(dfd, w->name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (*fd >= 0)
        return LOOM_OK;
    e = errno;
    if (e == ENOENT) {
        loom__set_err(err, errlen, "no join file in %s: is the master running with --serve %s?",
                      w->dir, w->dir);
        return LOOM_ENOTFOUND;
    }
    if (e == ELOOP) {
        loom__set_err(err, errlen, "join file %s is a symbolic link: refusing it", w->file);
        return LOOM_EINVAL;
    }
    loom__set_err(err, errlen, "cannot open join file %s: %s", w->file, strerror(e));
    return LOOM_ESYS;
}

/* The open file may be trusted with a key: a regular file of ours that
 * nobody else may read or write. dev and ino get its identity. */
static loom_err
read_check_file(const struct where *w, int fd, dev_t *dev, ino_t *ino, char *err, size_t errlen)
{
    struct stat st;

    if (fstat(fd, &st) != 0) {
        loom__set_err(err, errlen, "cannot stat join file %s: %s", w->file, strerror(errno));
        return LOOM_ESYS;
    }
    if (!S_ISREG(st.st_mode)) {
        loom__set_err(err, errlen, "join file %s is not a regular file (%s): refusing it", w->file,
                      S_ISDIR(st.st_mode) ? "a directory" : "a device, FIFO or socket");
        return LOOM_EINVAL;
    }
    if (st.st_uid != geteuid()) {
        loom__set_err(err, errlen,
                      "join file %s belongs to uid %u, not to you (uid %u): refusing it", w->file,
                      (unsigned)st.st_uid, (unsigned)geteuid());
        return LOOM_EINVAL;
    }
    if (st.st_mode & 077) {
        loom__set_err(err, errlen,
                      "join file %s is %s by group or others (mode %04o): refusing it%s", w->file,
                      (st.st_mode & 044)   ? "readable"
                      : (st.st_mode & 022) ? "writable"
                                           : "accessible",
                      (unsigned)(st.st_mode & 07777),
                      (st.st_mode & 044)   ? "; its key may have leaked: restart the master"
                      : (st.st_mode & 022) ? "; someone else may have changed it"
                                           : "");
        return LOOM_EINVAL;
    }
    *dev = st.st_dev;
    *ino = st.st_ino;
    return LOOM_OK;
}

/* Read the file into buf (cap bytes, one more than a join file may
 * have), until EOF or buf is full: *n bytes. */
static loom_err
read_bytes(const struct where *w, int fd, char *buf, size_t cap, size_t *n, char *err,
           size_t errlen)
{
    *n = 0;
    while (*n < cap) {
        ssize_t r = read(fd, buf + *n, cap - *n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            loom__set_err(err, errlen, "cannot read join file %s: %s", w->file, strerror(errno));
            return LOOM_ESYS;
        }
        if (r == 0)
            break;
        *n += (size_t)r;
    }
    return LOOM_OK;
}

/* Open, check and read the join file at w into ji; dev and ino get its
 * identity (for remove). */
static loom_err
read_at(const struct where *w, struct loom__join_info *ji, dev_t *dev, ino_t *ino, char *err,
        size_t errlen)
{
    char buf[LOOM__JOINFILE_MAX + 1];
    size_t n = 0;
    int dfd = -1, fd = -1;
    loom_err rc;

    if ((rc = read_open_dir(w, &dfd, err, errlen)) != LOOM_OK)
        goto done;
    if ((rc = check_dir(dfd, w->dir, err, errlen)) != LOOM_OK)
        goto close_dir;
    if ((rc = read_open_file(w, dfd, &fd, err, errlen)) != LOOM_OK)
        goto close_dir;
    if ((rc = read_check_file(w, fd, dev, ino, err, errlen)) != LOOM_OK)
        goto close_file;
    /* Bounded: one byte more than allowed tells "too big". */
    if ((rc = read_bytes(w, fd, buf, sizeof buf, &n, err, errlen)) != LOOM_OK)
        goto close_file;
    if (n > LOOM__JOINFILE_MAX) {
        loom__set_err(err, errlen, "corrupted join file %s: larger than %d bytes", w->file,
                      LOOM__JOINFILE_MAX);
        rc = LOOM_EPROTO;
        goto close_file;
    }
    rc = parse(w->file, buf, n, ji, err, errlen);

close_file:
    close(fd);
close_dir:
    close(dfd);
done:
    explicit_bzero(buf, sizeof buf);
    return rc;
}

loom_err
loom__joinfile_read(const char *dir_or_file, struct loom__join_info *ji, char *err, size_t errlen)
{
    LOOM_ASSERT(dir_or_file != NULL && ji != NULL);
    struct where w;
    dev_t dev;
    ino_t ino;
    memset(ji, 0, sizeof *ji);
    loom_err rc = locate(dir_or_file, 0, &w, err, errlen);
    if (rc == LOOM_OK)
        rc = read_at(&w, ji, &dev, &ino, err, errlen);
    if (rc != LOOM_OK)
        explicit_bzero(ji, sizeof *ji);
    return rc;
}

loom_err
loom__joinfile_remove(const char *dir, const char *job, char *err, size_t errlen)
{
    LOOM_ASSERT(dir != NULL && job != NULL);
    struct loom__join_info ji;
    struct where w;
    struct stat st;
    dev_t dev = 0;
    ino_t ino = 0;
    int dfd = -1;
    loom_err rc;

    memset(&ji, 0, sizeof ji);
    if ((rc = locate(dir, 1, &w, err, errlen)) != LOOM_OK)
        goto done;
    if ((rc = read_at(&w, &ji, &dev, &ino, err, errlen)) != LOOM_OK)
        goto done;
    if (strcmp(ji.job, job) != 0) {
        loom__set_err(err, errlen, "join file %s is job %s's, not ours (%.32s): left in place",
                      w.file, ji.job, job);
        rc = LOOM_EMISMATCH;
        goto done;
    }
    dfd = open(w.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        loom__set_err(err, errlen, "cannot open directory %s: %s", w.dir, strerror(errno));
        rc = LOOM_ESYS;
        goto done;
    }
    /* Still the file we read? (another master may have renamed its own
     * over it since). */
    if (fstatat(dfd, w.name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        int e = errno;
        loom__set_err(err, errlen, "cannot stat join file %s: %s", w.file, strerror(e));
        rc = e == ENOENT ? LOOM_ENOTFOUND : LOOM_ESYS;
        goto close_dir;
    }
    if (st.st_dev != dev || st.st_ino != ino) {
        loom__set_err(err, errlen, "join file %s was replaced by another job's: left in place",
                      w.file);
        rc = LOOM_EMISMATCH;
        goto close_dir;
    }
    if (unlinkat(dfd, w.name, 0) != 0) {
        int e = errno;
        loom__set_err(err, errlen, "cannot remove join file %s: %s", w.file, strerror(e));
        rc = e == ENOENT ? LOOM_ENOTFOUND : LOOM_ESYS;
        goto close_dir;
    }
    (void)fsync(dfd); /* best effort: a file left by a crash is stale anyway */

close_dir:
    close(dfd);
done:
    explicit_bzero(&ji, sizeof ji);
    return rc;
}
