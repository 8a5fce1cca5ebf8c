/* SPDX-License-Identifier: MIT */
/* The HTML report (job.report, loom-run's --report): see report.h. */
#include "report.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "io_internal.h"

#define CMD_KEEP     160  /* bytes of a command kept for tooltips and tables */
#define HIST_DECADE  5    /* histogram buckets a decade */
#define HIST_MIN_EXP (-7) /* 100 ns: a C-API job's tasks can be that short */
#define HIST_MAX_EXP 6    /* 11.6 days */
#define HIST_N       ((HIST_MAX_EXP - HIST_MIN_EXP) * HIST_DECADE + 2) /* + under, over */
#define ROW_HASH     8192                                              /* > 2 * LOOM__REPORT_ROWS */
#define HOSTS_SHOWN  64
#define PLOT_X       170 /* left margin of the timeline: thread labels */
#define PLOT_W       1000

/* an attempt kept: sampled, slow, or failed */
struct kept {
    uint64_t seq;
    double start, runtime; /* start relative to the report's origin */
    int exitval, signal, row, rank, slot;
    unsigned attempt;
    unsigned char outcome, final, cut, cause;
    unsigned short cmd_len;
    char cmd[CMD_KEEP];
};

struct row {
    int rank, slot, host;
};

struct host {
    char name[64];
    int threads;
    double busy[LOOM__REPORT_BUCKETS]; /* thread-seconds in each bucket */
};

struct loom__report {
    FILE *fp;
    char *path;
    char name[64]; /* the setting that gave path, for messages */
    double t0;
    int have_t0, ranks;
    unsigned threads;
    char prog[64], tasks[256];
    /* every attempt; by_exit, by_signal and by_status break the failures of
     * cause exit, signal and failed down (by_status[256]: other values) */
    uint64_t n, ran, by_outcome[5], by_word[LOOM__CW_COUNT], by_exit[256], by_signal[65],
        by_status[257];
    uint64_t undrawn;
    double tmin, tmax; /* relative to t0 */
    int lost;
    uint64_t hist_ok[HIST_N], hist_bad[HIST_N];
    int64_t hist_lo[HIST_N]; /* bucket i's shortest duration, ns (hist_bucket) */
    double width;            /* of a utilisation bucket, seconds */
    /* rows (threads) and hosts */
    struct row rows[LOOM__REPORT_ROWS];
    int nrows;
    int row_hash[ROW_HASH]; /* row index + 1, 0 empty */
    struct host *hosts[LOOM__REPORT_HOSTS];
    int nhosts;
    /* the kept attempts */
    struct kept *sample;
    size_t sample_cap, nsample;
    uint64_t rng;
    struct kept slow[LOOM__REPORT_SLOWEST];
    int nslow;
    struct kept *fails;
    size_t nfails;
};

int
loom__report_create(const char *path, const char *name, size_t sample_cap, loom__report **out,
                    char *err, size_t errlen)
{
    *out = NULL;
    loom__report *r = calloc(1, sizeof *r);
    if (!r)
        goto nomem;
    r->sample_cap = sample_cap ? sample_cap : LOOM__REPORT_SAMPLE;
    snprintf(r->prog, sizeof r->prog, "loom");
    snprintf(r->name, sizeof r->name, "%s", name);
    r->rng = 0x9e3779b97f4a7c15ull;
    r->width = 0.01; /* doubles as the run goes on */
    for (int i = 1; i < HIST_N; i++)
        r->hist_lo[i] = (int64_t)ceil(1e9 * pow(10, HIST_MIN_EXP + (i - 1) / (double)HIST_DECADE));
    r->sample = malloc(r->sample_cap * sizeof *r->sample);
    r->fails = malloc(LOOM__REPORT_FAILS * sizeof *r->fails);
    if (!r->sample || !r->fails)
        goto nomem;
    if (path) {
        if (!(r->path = strdup(path)))
            goto nomem;
        if (!(r->fp = loom__fopen_output(path))) {
            snprintf(err, errlen, "%s %s: cannot write it: %s", name, path, strerror(errno));
            loom__report_free(r);
            return -1;
        }
    }
    *out = r;
    return 0;
nomem:
    snprintf(err, errlen, "%s %s: out of memory", name, path ? path : "");
    loom__report_free(r);
    return -1;
}

void
loom__report_free(loom__report *r)
{
    if (!r)
        return;
    if (r->fp)
        fclose(r->fp);
    for (int i = 0; i < r->nhosts; i++)
        free(r->hosts[i]);
    free(r->sample);
    free(r->fails);
    free(r->path);
    free(r);
}

size_t
loom__report_bytes(const loom__report *r)
{
    return sizeof *r + r->sample_cap * sizeof *r->sample + LOOM__REPORT_FAILS * sizeof *r->fails +
           (size_t)r->nhosts * sizeof(struct host) + (r->path ? strlen(r->path) + 1 : 0);
}

void
loom__report_run_start(loom__report *r, double t0, const char *prog, const char *tasks, int ranks,
                       unsigned threads)
{
    r->t0 = t0;
    r->have_t0 = 1;
    r->ranks = ranks;
    r->threads = threads;
    snprintf(r->prog, sizeof r->prog, "%s", prog);
    snprintf(r->tasks, sizeof r->tasks, "%s", tasks);
    /* a cut may have split a character: html() shows it as U+FFFD */
}

void
loom__report_worker_lost(loom__report *r, double time, int lost)
{
    (void)time;
    r->lost = lost;
}

static uint64_t
next_rand(loom__report *r)
{
    /* xorshift64*: a fixed seed, so a report is reproducible */
    r->rng ^= r->rng >> 12;
    r->rng ^= r->rng << 25;
    r->rng ^= r->rng >> 27;
    return r->rng * 0x2545f4914f6cdd1dull;
}

/* The row of thread (rank, slot) on host, made if new; -1 when the rows
 * or hosts are full. */
static int
find_row(loom__report *r, const char *host, int rank, int slot)
{
    uint32_t h = ((uint32_t)rank * 2654435761u) ^ ((uint32_t)slot * 40503u);
    for (uint32_t i = 0; i < ROW_HASH; i++) {
        uint32_t at = (h + i) % ROW_HASH;
        int v = r->row_hash[at];
        if (v == 0) {
            if (r->nrows == LOOM__REPORT_ROWS)
                return -1;
            int hi = 0;
            while (hi < r->nhosts && strcmp(r->hosts[hi]->name, host) != 0)
                hi++;
            if (hi == r->nhosts) {
                struct host *nh;
                if (hi == LOOM__REPORT_HOSTS || !(nh = calloc(1, sizeof *nh)))
                    return -1;
                snprintf(nh->name, sizeof nh->name, "%s", host);
                r->hosts[r->nhosts++] = nh;
            }
            r->hosts[hi]->threads++;
            r->rows[r->nrows] = (struct row){rank, slot, hi};
            r->row_hash[at] = ++r->nrows;
            return r->nrows - 1;
        }
        if (r->rows[v - 1].rank == rank && r->rows[v - 1].slot == slot)
            return v - 1;
    }
    return -1;
}

/* Utilisation: add [s, e) (relative seconds) to host's buckets, doubling
 * the bucket width (merging pairs, on every host) until e fits. */
static void
add_busy(loom__report *r, int hi, double s, double e)
{
    if (s < 0)
        s = 0;
    if (!(e > s))
        return;
    while (e > r->width * LOOM__REPORT_BUCKETS) {
        for (int k = 0; k < r->nhosts; k++) {
            double *b = r->hosts[k]->busy;
            for (int i = 0; i < LOOM__REPORT_BUCKETS / 2; i++)
                b[i] = b[2 * i] + b[2 * i + 1];
            memset(b + LOOM__REPORT_BUCKETS / 2, 0, LOOM__REPORT_BUCKETS / 2 * sizeof *b);
        }
        r->width *= 2;
    }
    double *b = r->hosts[hi]->busy;
    for (int i = (int)(s / r->width); i < LOOM__REPORT_BUCKETS && i * r->width < e; i++) {
        double lo = i * r->width, hi_ = lo + r->width;
        double a = s > lo ? s : lo, z = e < hi_ ? e : hi_;
        if (z > a)
            b[i] += z - a;
    }
}

/* The histogram's bucket of a duration: i >= 1 holds durations from
 * 10^(HIST_MIN_EXP + (i-1)/HIST_DECADE) s, 0 the shorter ones. A search in
 * the buckets' lower bounds (ns), not a log10 per attempt. */
static int
hist_bucket(const loom__report *r, int64_t ns)
{
    int lo = 0, hi = HIST_N - 1; /* the answer is in [lo, hi] */
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (ns >= r->hist_lo[mid])
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

static void
keep(struct kept *k, const loom_attempt *a, double rel, double runtime, int row, unsigned char w)
{
    size_t len = a->label ? a->label_len : 0, n = len < CMD_KEEP ? len : CMD_KEEP;
    /* cut on a character boundary */
    if (n < len)
        while (n > 0 && ((unsigned char)a->label[n] & 0xc0) == 0x80)
            n--;
    *k = (struct kept){.seq = a->seq,
                       .start = rel,
                       .runtime = runtime,
                       .exitval = a->exit,
                       .signal = a->signal,
                       .row = row,
                       .rank = a->rank,
                       .slot = a->slot,
                       .attempt = a->attempt,
                       .outcome = (unsigned char)a->outcome,
                       .final = (unsigned char)(a->final != 0),
                       .cut = n < len,
                       .cause = w,
                       .cmd_len = (unsigned short)n};
    if (n)
        memcpy(k->cmd, a->label, n);
}

void
loom__report_attempt(loom__report *r, const loom_attempt *a)
{
    unsigned char w = (unsigned char)loom__attempt_cause_word(a);
    r->n++;
    r->by_outcome[a->outcome <= LOOM_OUTCOME_NOT_RUN ? a->outcome : LOOM_OUTCOME_FAILED]++;
    r->by_word[w]++;
    if (a->outcome == LOOM_OUTCOME_NOT_RUN)
        return; /* no time, no thread */
    double start = (double)a->start_ns / 1e9, rt = a->run_ns > 0 ? (double)a->run_ns / 1e9 : 0;
    if (!r->have_t0) {
        r->t0 = start;
        r->have_t0 = 1;
    }
    double rel = start - r->t0;
    if (!isfinite(rel))
        rel = 0;
    if (r->ran == 0 || rel < r->tmin)
        r->tmin = rel;
    if (r->ran == 0 || rel + rt > r->tmax)
        r->tmax = rel + rt;
    r->ran++;
    int bad = a->outcome != LOOM_OUTCOME_OK;
    (bad ? r->hist_bad : r->hist_ok)[hist_bucket(r, a->run_ns)]++;
    if (w == LOOM__CW_SIGNAL && a->signal > 0 && a->signal < 65)
        r->by_signal[a->signal]++;
    else if (w == LOOM__CW_EXIT)
        r->by_exit[a->exit & 0xff]++;
    else if (w == LOOM__CW_FAILED)
        r->by_status[a->exit >= 0 && a->exit < 256 ? a->exit : 256]++;
    int row = find_row(r, a->host ? a->host : "", a->rank, a->slot);
    if (row < 0)
        r->undrawn++;
    else
        add_busy(r, r->rows[row].host, rel, rel + rt);
    /* the timeline's sample: reservoir sampling (Algorithm R) */
    if (row >= 0) {
        if (r->nsample < r->sample_cap) {
            keep(&r->sample[r->nsample++], a, rel, rt, row, w);
        } else {
            uint64_t j = next_rand(r) % (r->ran - r->undrawn);
            if (j < r->sample_cap)
                keep(&r->sample[j], a, rel, rt, row, w);
        }
    }
    if (bad && r->nfails < LOOM__REPORT_FAILS)
        keep(&r->fails[r->nfails++], a, rel, rt, row, w);
    /* the slowest, slowest first */
    if (r->nslow < LOOM__REPORT_SLOWEST || rt > r->slow[r->nslow - 1].runtime) {
        int i = r->nslow < LOOM__REPORT_SLOWEST ? r->nslow++ : r->nslow - 1;
        while (i > 0 && r->slow[i - 1].runtime < rt) {
            r->slow[i] = r->slow[i - 1];
            i--;
        }
        keep(&r->slow[i], a, rel, rt, row, w);
    }
}

/* ---- writing the page ----------------------------------------------------------- */

/* Text into HTML (element content or a quoted attribute): & < > " '
 * escaped; bytes that are not valid UTF-8, and control characters other
 * than tab and newline, become U+FFFD. */
static void
html(FILE *fp, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t adv;
        long cp = loom__utf8_next(p + i, n - i, &adv);
        if (cp < 0 || (cp < 0x20 && cp != '\t' && cp != '\n') || cp == 0x7f)
            fputs("\xef\xbf\xbd", fp);
        else if (cp == '&')
            fputs("&amp;", fp);
        else if (cp == '<')
            fputs("&lt;", fp);
        else if (cp == '>')
            fputs("&gt;", fp);
        else if (cp == '"')
            fputs("&quot;", fp);
        else if (cp == '\'')
            fputs("&#39;", fp);
        else
            fwrite(p + i, 1, adv, fp);
        i += adv;
    }
}

static void
html_str(FILE *fp, const char *s)
{
    html(fp, s, strlen(s));
}

/* 1234567 -> "1,234,567" */
static const char *
grouped(uint64_t v, char *buf, size_t len)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)v), o = 0;
    for (int i = 0; i < n && (size_t)o + 2 < len; i++) {
        if (i && (n - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = tmp[i];
    }
    buf[o] = '\0';
    return buf;
}

static const char *
dur(double s, char *buf, size_t len)
{
    if (s < 1e-6)
        snprintf(buf, len, "%.0f ns", s * 1e9);
    else if (s < 1e-3)
        snprintf(buf, len, "%.0f us", s * 1e6);
    else if (s < 1)
        snprintf(buf, len, "%.1f ms", s * 1e3);
    else if (s < 120)
        snprintf(buf, len, "%.2f s", s);
    else if (s < 7200)
        snprintf(buf, len, "%.1f min", s / 60);
    else
        snprintf(buf, len, "%.1f h", s / 3600);
    return buf;
}

static const char *
host_of(const loom__report *r, int row)
{
    return row >= 0 ? r->hosts[r->rows[row].host]->name : "?";
}

/* A signal's name, "SIGKILL" without "SIG" ("?" if unknown). */
static const char *
signame(int sig)
{
    const char *n = sig > 0 ? sigabbrev_np(sig) : NULL;
    return n ? n : "?";
}

/* "exit 3", "signal 9 (SIGKILL)", "status 3", "timeout", "memory limit",
 * "killed", ... */
static void
cause(FILE *fp, const struct kept *k)
{
    switch (k->cause) {
    case LOOM__CW_EXIT:
        fprintf(fp, "exit %d", k->exitval);
        break;
    case LOOM__CW_SIGNAL:
        fprintf(fp, "signal %d (SIG%s)", k->signal, signame(k->signal));
        break;
    case LOOM__CW_FAILED:
        fprintf(fp, "status %d", k->exitval);
        break;
    case LOOM__CW_MEMORY:
        fputs("memory limit", fp);
        break;
    case LOOM__CW_ISOLATION:
        fputs("could not run isolated", fp);
        break;
    case LOOM__CW_LOST:
        fputs("lost: no worker left", fp);
        break;
    case LOOM__CW_NOT_RUN:
        fputs("not run", fp);
        break;
    default:
        fputs(loom__cause_words[k->cause < LOOM__CW_COUNT ? k->cause : LOOM__CW_FAILED],
              fp); /* timeout, killed, ok */
    }
}

static void
cmd_html(FILE *fp, const struct kept *k)
{
    html(fp, k->cmd, k->cmd_len);
    if (k->cut)
        fputs("\xe2\x80\xa6", fp); /* ... */
}

static void
tooltip(FILE *fp, const loom__report *r, const struct kept *k)
{
    char b[32];
    fprintf(fp, "<title>#%llu", (unsigned long long)k->seq);
    if (k->attempt > 1)
        fprintf(fp, " (attempt %u)", k->attempt);
    fputs(": ", fp);
    cmd_html(fp, k);
    fputs("\n", fp);
    html_str(fp, host_of(r, k->row));
    fprintf(fp, " rank %d slot %d, %s, ", k->rank, k->slot, dur(k->runtime, b, sizeof b));
    cause(fp, k);
    fprintf(fp, "%s</title>", k->outcome == LOOM_OUTCOME_OK ? " (ok)" : "");
}

static int
cmp_rows(const void *a, const void *b, void *arg)
{
    const loom__report *r = arg;
    const struct row *x = &r->rows[*(const int *)a], *y = &r->rows[*(const int *)b];
    int c = strcmp(r->hosts[x->host]->name, r->hosts[y->host]->name);
    if (c)
        return c;
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    return (x->slot > y->slot) - (x->slot < y->slot);
}

static const char *const outcome_css[] = {"o-ok", "o-failed", "o-timeout", "o-killed", "o-not_run"};

struct key {
    uint64_t seq;
    unsigned attempt;
};

static int
cmp_key(const void *a, const void *b)
{
    const struct key *x = a, *y = b;
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    return (x->attempt > y->attempt) - (x->attempt < y->attempt);
}

/* The failed and the slowest attempts kept that the sample missed: the
 * timeline draws them too, so a sample never hides a failure. Pointers
 * into r->fails and r->slow, *n of them; NULL when out of memory. */
static const struct kept **
missed(const loom__report *r, size_t *n)
{
    struct key *keys = malloc((r->nsample ? r->nsample : 1) * sizeof *keys);
    const struct kept **out = malloc((r->nfails + LOOM__REPORT_SLOWEST) * sizeof *out);
    *n = 0;
    if (!keys || !out) {
        free(keys);
        free(out);
        return NULL;
    }
    for (size_t i = 0; i < r->nsample; i++)
        keys[i] = (struct key){r->sample[i].seq, r->sample[i].attempt};
    qsort(keys, r->nsample, sizeof *keys, cmp_key);
    size_t nf = 0;
    for (size_t i = 0; i < r->nfails + (size_t)r->nslow; i++) {
        const struct kept *k = i < r->nfails ? &r->fails[i] : &r->slow[i - r->nfails];
        struct key want = {k->seq, k->attempt};
        if (k->row < 0 || bsearch(&want, keys, r->nsample, sizeof *keys, cmp_key))
            continue;
        int dup = 0; /* a slow one may be a failed one too */
        for (size_t j = 0; i >= r->nfails && j < nf && !dup; j++)
            dup = out[j]->seq == k->seq && out[j]->attempt == k->attempt;
        if (!dup)
            out[(*n)++] = k;
        if (i < r->nfails)
            nf = *n;
    }
    free(keys);
    return out;
}

static void
bar(const loom__report *r, FILE *fp, const struct kept *k, const double *y, double x0, double span,
    double rh, const char *extra)
{
    double x = PLOT_X + (k->start - x0) / span * PLOT_W, w = k->runtime / span * PLOT_W;
    fprintf(fp, "<rect class=\"bar %s%s\" x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\">",
            outcome_css[k->outcome], extra, x, y[k->row], w < 1.5 ? 1.5 : w, rh > 3 ? rh - 1 : rh);
    tooltip(fp, r, k);
    fputs("</rect>\n", fp);
}

static void
write_timeline(const loom__report *r, FILE *fp, int *pos)
{
    char b1[32], b2[32];
    size_t nextra = 0;
    const struct kept **extra = missed(r, &nextra);
    double x0 = r->tmin < 0 ? r->tmin : 0, span = r->tmax - x0;
    if (!(span > 0))
        span = 1;
    int rows = r->nrows;
    double rh = rows <= 40 ? 14 : rows >= 350 ? 2 : 560.0 / rows;
    int gaps = 0;
    for (int i = 1; i < rows; i++)
        gaps += r->rows[pos[i]].host != r->rows[pos[i - 1]].host;
    double height = rows * rh + gaps * 4 + 24;
    fputs("<h2>Timeline</h2>\n<p class=\"note\" id=\"sampling-note\">", fp);
    if (r->nsample < r->ran - r->undrawn)
        fprintf(fp, "Sampled: showing %s of %s attempts, sampled uniformly",
                grouped(r->nsample, b1, sizeof b1), grouped(r->ran - r->undrawn, b2, sizeof b2));
    if (r->nsample < r->ran - r->undrawn && nextra)
        fprintf(fp, ", and the %s failed or slowest ones the sample missed, drawn as well.",
                grouped(nextra, b1, sizeof b1));
    else if (r->nsample < r->ran - r->undrawn)
        fputs(".", fp);
    else
        fprintf(fp, "Showing all %s attempts.", grouped(r->nsample, b1, sizeof b1));
    if (r->undrawn)
        fprintf(fp, " %s attempts ran on threads beyond the %d rows drawn and are not shown.",
                grouped(r->undrawn, b1, sizeof b1), LOOM__REPORT_ROWS);
    fputs(" One row per worker thread, grouped by node; hover over a bar for its task.</p>\n", fp);
    fprintf(fp, "<svg id=\"timeline\" data-bars=\"%zu\" width=\"%d\" height=\"%.0f\">\n",
            r->nsample + nextra, PLOT_X + PLOT_W + 10, height);
    /* the rows' y, their labels and the node separators */
    double *y = malloc((size_t)(rows ? rows : 1) * sizeof *y);
    if (!y) {
        free(extra);
        return;
    }
    double at = 4;
    for (int i = 0; i < rows; i++) {
        const struct row *w = &r->rows[pos[i]];
        if (i && w->host != r->rows[pos[i - 1]].host) {
            at += 4;
            fprintf(fp, "<line class=\"sep\" x1=\"0\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\"/>\n",
                    PLOT_X + PLOT_W, at - 2, at - 2);
        }
        y[pos[i]] = at;
        if (i == 0 || w->host != r->rows[pos[i - 1]].host) {
            fprintf(fp, "<text class=\"node\" x=\"2\" y=\"%.1f\">", at + (rh < 10 ? 10 : rh - 3));
            html_str(fp, r->hosts[w->host]->name);
            fputs("</text>\n", fp);
        }
        if (rh >= 10)
            fprintf(fp, "<text class=\"thr\" x=\"%d\" y=\"%.1f\">r%d s%d</text>\n", PLOT_X - 4,
                    at + rh - 3, w->rank, w->slot);
        at += rh;
    }
    /* the bars */
    for (size_t i = 0; i < r->nsample; i++)
        bar(r, fp, &r->sample[i], y, x0, span, rh, "");
    for (size_t i = 0; i < nextra; i++)
        bar(r, fp, extra[i], y, x0, span, rh, " kept");
    /* the time axis */
    for (int t = 0; t <= 10; t += t == 8 ? 2 : 1) /* no 9: the last is right-aligned */
        fprintf(fp, "<text class=\"axis%s\" x=\"%.0f\" y=\"%.0f\">%s</text>\n",
                t == 10 ? " end" : "", PLOT_X + t * PLOT_W / 10.0, height - 6,
                dur(x0 + span * t / 10, b1, sizeof b1));
    fputs("</svg>\n", fp);
    free(y);
    free(extra);
}

static void
write_histogram(const loom__report *r, FILE *fp)
{
    uint64_t max = 1;
    int lo = HIST_N, hi = -1;
    for (int i = 0; i < HIST_N; i++) {
        uint64_t v = r->hist_ok[i] + r->hist_bad[i];
        if (v > max)
            max = v;
        if (v && i < lo)
            lo = i;
        if (v)
            hi = i;
    }
    fputs("<h2>Durations</h2>\n<p class=\"note\">Every attempt that ran, on a log scale (5 "
          "buckets a decade); failed attempts in red.</p>\n",
          fp);
    if (hi < 0) {
        fputs("<p>No attempt ran.</p>\n", fp);
        return;
    }
    int n = hi - lo + 1;
    double bw = 900.0 / (n < 10 ? 10 : n);
    fprintf(fp, "<svg id=\"histogram\" width=\"1000\" height=\"230\">\n");
    for (int i = lo; i <= hi; i++) {
        char b1[32], b2[32], c[32];
        double from = i == 0 ? 0 : pow(10, HIST_MIN_EXP + (i - 1) / (double)HIST_DECADE);
        double to = pow(10, HIST_MIN_EXP + i / (double)HIST_DECADE);
        uint64_t ok = r->hist_ok[i], bad = r->hist_bad[i];
        double x = 60 + (i - lo) * bw, hok = 180.0 * ok / max, hbad = 180.0 * bad / max;
        fprintf(fp, "<g class=\"hbar\"><title>%s to %s: %s attempts, %llu not ok</title>",
                dur(from, b1, sizeof b1), i == HIST_N - 1 ? "more" : dur(to, b2, sizeof b2),
                grouped(ok + bad, c, sizeof c), (unsigned long long)bad);
        fprintf(fp, "<rect class=\"o-ok\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>",
                x, 190 - hok - hbad, bw - 1, hok);
        fprintf(fp,
                "<rect class=\"o-failed\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>"
                "</g>\n",
                x, 190 - hbad, bw - 1, hbad);
        if ((i - lo) % (n > 20 ? 5 : 2) == 0)
            fprintf(fp, "<text class=\"axis\" x=\"%.1f\" y=\"208\">%s</text>\n", x,
                    dur(from, b1, sizeof b1));
    }
    char m[32];
    fprintf(fp, "<text class=\"axis\" x=\"0\" y=\"14\">%s</text>\n", grouped(max, m, sizeof m));
    fputs("</svg>\n", fp);
}

static void
write_utilisation(const loom__report *r, FILE *fp, double wall)
{
    fputs("<h2>Utilisation per node</h2>\n<p class=\"note\">Busy thread-seconds over the "
          "node's thread-seconds, in time buckets; darker is busier.",
          fp);
    if (r->nhosts > HOSTS_SHOWN)
        fprintf(fp, " The first %d of %d nodes.", HOSTS_SHOWN, r->nhosts);
    fputs("</p>\n", fp);
    if (!r->nhosts) {
        fputs("<p>No attempt ran.</p>\n", fp);
        return;
    }
    double end = r->tmax > wall ? r->tmax : wall;
    int nb = (int)ceil(end / r->width);
    if (nb < 1)
        nb = 1;
    if (nb > LOOM__REPORT_BUCKETS)
        nb = LOOM__REPORT_BUCKETS;
    int shown = r->nhosts < HOSTS_SHOWN ? r->nhosts : HOSTS_SHOWN;
    double cw = (double)PLOT_W / nb;
    fprintf(fp, "<svg id=\"utilisation\" width=\"%d\" height=\"%d\">\n", PLOT_X + PLOT_W + 10,
            shown * 18 + 24);
    for (int h = 0; h < shown; h++) {
        const struct host *n = r->hosts[h];
        double sum = 0, cap = 0;
        for (int i = 0; i < nb; i++) {
            double span = end - i * r->width < r->width ? end - i * r->width : r->width;
            double u = span > 0 && n->threads ? n->busy[i] / (span * n->threads) : 0;
            sum += n->busy[i];
            cap += span > 0 ? span * n->threads : 0;
            u = u > 1 ? 1 : u;
            char b[32];
            fprintf(fp,
                    "<rect class=\"util\" x=\"%.1f\" y=\"%d\" width=\"%.2f\" height=\"16\" "
                    "fill-opacity=\"%.3f\"><title>",
                    PLOT_X + i * cw, h * 18, cw, 0.05 + 0.95 * u);
            html_str(fp, n->name);
            fprintf(fp, " from %s: %.0f%%</title></rect>\n", dur(i * r->width, b, sizeof b),
                    100 * u);
        }
        fprintf(fp, "<text class=\"node\" x=\"2\" y=\"%d\">", h * 18 + 12);
        html_str(fp, n->name);
        fprintf(fp, " (%d thr, %.0f%%)</text>\n", n->threads, cap > 0 ? 100 * sum / cap : 0);
    }
    char b[32];
    fprintf(fp, "<text class=\"axis\" x=\"%d\" y=\"%d\">0</text>", PLOT_X, shown * 18 + 16);
    fprintf(fp, "<text class=\"axis end\" x=\"%d\" y=\"%d\">%s</text>\n", PLOT_X + PLOT_W,
            shown * 18 + 16, dur(end, b, sizeof b));
    fputs("</svg>\n", fp);
}

static void
table_rows(const loom__report *r, FILE *fp, const struct kept *k, size_t n)
{
    fputs("<table><tr><th>task</th><th>attempt</th><th>node</th><th>thread</th>"
          "<th>duration</th><th>outcome</th><th>cause</th><th>command</th></tr>\n",
          fp);
    for (size_t i = 0; i < n; i++) {
        char b[32];
        fprintf(fp, "<tr><td>%llu</td><td>%u%s</td><td>", (unsigned long long)k[i].seq,
                k[i].attempt, k[i].final ? "" : " (retried)");
        html_str(fp, host_of(r, k[i].row));
        fprintf(fp, "</td><td>r%d s%d</td><td>%s</td><td class=\"%s\">%s</td><td>", k[i].rank,
                k[i].slot, dur(k[i].runtime, b, sizeof b), outcome_css[k[i].outcome],
                loom_outcome_name((loom_outcome)k[i].outcome));
        if (k[i].outcome != LOOM_OUTCOME_OK)
            cause(fp, &k[i]);
        fputs("</td><td><code>", fp);
        cmd_html(fp, &k[i]);
        fputs("</code></td></tr>\n", fp);
    }
    fputs("</table>\n", fp);
}

static void
write_failures(const loom__report *r, FILE *fp)
{
    char b1[32], b2[32];
    uint64_t bad = r->by_outcome[LOOM_OUTCOME_FAILED] + r->by_outcome[LOOM_OUTCOME_TIMEOUT] +
                   r->by_outcome[LOOM_OUTCOME_KILLED];
    fputs("<h2>Failures</h2>\n", fp);
    if (!bad && !r->by_word[LOOM__CW_LOST]) {
        fputs("<p id=\"failures\">No attempt failed.</p>\n", fp);
        return;
    }
    fputs("<p id=\"failures\">Causes (all failed attempts, retried ones included): ", fp);
    const char *sep = "";
    for (int i = 0; i < 256; i++)
        if (r->by_exit[i]) {
            fprintf(fp, "%s%s &times; exit %d", sep, grouped(r->by_exit[i], b1, sizeof b1), i);
            sep = ", ";
        }
    for (int i = 1; i < 65; i++)
        if (r->by_signal[i]) {
            fprintf(fp, "%s%s &times; signal %d (SIG%s)", sep,
                    grouped(r->by_signal[i], b1, sizeof b1), i, signame(i));
            sep = ", ";
        }
    for (int i = 0; i < 257; i++)
        if (r->by_status[i]) {
            fprintf(fp, "%s%s &times; status ", sep, grouped(r->by_status[i], b1, sizeof b1));
            fprintf(fp, i < 256 ? "%d" : "other", i);
            sep = ", ";
        }
    /* the causes without a number */
    static const struct {
        enum loom__cause_word w;
        const char *text;
    } plain[] = {{LOOM__CW_TIMEOUT, "timeout"},
                 {LOOM__CW_MEMORY, "memory limit"},
                 {LOOM__CW_ISOLATION, "could not run isolated"},
                 {LOOM__CW_KILLED, "killed"},
                 {LOOM__CW_LOST, "lost (never ran: no worker left)"}};
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
        if (r->by_word[plain[i].w]) {
            fprintf(fp, "%s%s &times; %s", sep, grouped(r->by_word[plain[i].w], b1, sizeof b1),
                    plain[i].text);
            sep = ", ";
        }
    fputs(".", fp);
    if (bad > r->nfails)
        fprintf(fp, " The table shows the first %s of %s.", grouped(r->nfails, b1, sizeof b1),
                grouped(bad, b2, sizeof b2));
    fputs("</p>\n", fp);
    table_rows(r, fp, r->fails, r->nfails);
}

int
loom__report_write(const loom__report *r, const struct loom__run_end *s, FILE *fp)
{
    char b1[32], b2[32], b3[32], when[64] = "";
    int *pos = malloc((size_t)(r->nrows ? r->nrows : 1) * sizeof *pos);
    if (!pos)
        return -1;
    for (int i = 0; i < r->nrows; i++)
        pos[i] = i;
    qsort_r(pos, (size_t)r->nrows, sizeof *pos, cmp_rows, (void *)r);
    if (r->have_t0) {
        time_t t = (time_t)r->t0;
        struct tm tm;
        if (localtime_r(&t, &tm))
            strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S %z", &tm);
    }
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<title>",
          fp);
    html_str(fp, r->prog);
    fputs(" report: ", fp);
    html_str(fp, r->tasks);
    fputs("</title>\n<style>\n"
          "body{font:14px/1.4 system-ui,sans-serif;margin:16px;color:#222}\n"
          "h1{font-size:20px}h2{font-size:16px;margin-top:28px}\n"
          ".note{color:#555}\n"
          "table{border-collapse:collapse;font-size:13px}\n"
          "td,th{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}\n"
          "code{white-space:pre-wrap;word-break:break-all}\n"
          "svg text{font:11px sans-serif;fill:#333}\n"
          "svg text.thr{text-anchor:end;fill:#777}svg text.end{text-anchor:end}\n"
          "svg text.node{font-weight:bold}\n"
          "line.sep{stroke:#bbb}\n"
          "rect.util{fill:#1565c0}\n"
          ".o-ok{fill:#43a047;color:#2e7d32}.o-failed{fill:#e53935;color:#c62828}\n"
          ".o-timeout{fill:#fb8c00;color:#ef6c00}.o-killed{fill:#8e24aa;color:#6a1b9a}\n"
          ".o-not_run{fill:#9e9e9e;color:#757575}\n"
          "rect.bar:hover{stroke:#000;stroke-width:1}\n"
          ".legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;"
          "vertical-align:middle}\n"
          ".legend .o-ok{background:#43a047}.legend .o-failed{background:#e53935}\n"
          ".legend .o-timeout{background:#fb8c00}.legend .o-killed{background:#8e24aa}\n"
          "</style></head><body>\n<h1>",
          fp);
    html_str(fp, r->prog);
    fputs(": ", fp);
    html_str(fp, r->tasks);
    fputs("</h1>\n<p id=\"summary\">", fp);
    fprintf(fp, "Started %s; wall %s; exit status %d. %s attempts", when,
            dur((double)s->wall_ns / 1e9, b1, sizeof b1), s->s.status,
            grouped(r->n, b2, sizeof b2));
    static const char *const names[] = {"ok", "failed", "timed out", "killed", "not run"};
    for (int i = 0; i < 5; i++)
        if (r->by_outcome[i] || i < 2)
            fprintf(fp, "%s %s %s", i ? "," : ":", grouped(r->by_outcome[i], b1, sizeof b1),
                    names[i]);
    fprintf(fp, ". Tasks: %s, %s succeeded, %s failed", grouped(s->s.tasks, b1, sizeof b1),
            grouped(s->s.succeeded, b2, sizeof b2), grouped(s->s.failed, b3, sizeof b3));
    if (s->s.retried)
        fprintf(fp, ", %s retried", grouped(s->s.retried, b1, sizeof b1));
    if (s->s.skipped)
        fprintf(fp, ", %s skipped (resumed)", grouped(s->s.skipped, b1, sizeof b1));
    if (s->s.unrecorded)
        fprintf(fp, ", %s unrecorded", grouped(s->s.unrecorded, b1, sizeof b1));
    fprintf(fp, ". %d nodes, %d worker threads seen", r->nhosts, r->nrows);
    if (r->ranks)
        fprintf(fp, " (%d ranks, %u threads)", r->ranks, s->threads ? s->threads : r->threads);
    if (r->lost)
        fprintf(fp, "; %d workers lost", r->lost);
    fputs(".</p>\n<p class=\"legend\"><span class=\"o-ok\"></span>ok<span class=\"o-failed\">"
          "</span>failed<span class=\"o-timeout\"></span>timeout<span class=\"o-killed\">"
          "</span>killed</p>\n",
          fp);
    write_timeline(r, fp, pos);
    write_histogram(r, fp);
    write_utilisation(r, fp, (double)s->wall_ns / 1e9);
    fprintf(fp, "<h2>Slowest attempts</h2>\n<div id=\"slowest\">\n");
    table_rows(r, fp, r->slow, (size_t)r->nslow);
    fputs("</div>\n", fp);
    write_failures(r, fp);
    fputs("<p class=\"note\">Written by loom for ", fp);
    html_str(fp, r->prog);
    fputs(". Times are the workers' clocks relative to the run's start on the master's.</p>\n"
          "</body></html>\n",
          fp);
    free(pos);
    return fflush(fp) == 0 && !ferror(fp) ? 0 : -1;
}

int
loom__report_finish(loom__report *r, const struct loom__run_end *s, char *err, size_t errlen)
{
    if (!r->fp)
        return 0;
    int rc = loom__report_write(r, s, r->fp);
    int saved = errno;
    if (fclose(r->fp) != 0 && rc == 0) {
        rc = -1;
        saved = errno;
    }
    r->fp = NULL;
    if (rc != 0)
        snprintf(err, errlen, "%s %s: %s", r->name, r->path, strerror(saved));
    return rc;
}
