/* SPDX-License-Identifier: MIT */
/* Counting and telling: see stats.h. */
#include "stats.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

void
lr_stats_init(struct lr_stats *s, double now)
{
    memset(s, 0, sizeof *s);
    s->t0 = now;
}

void
lr_stats_stopped(struct lr_stats *s, const char *why)
{
    if (!s->stopped_by[0])
        snprintf(s->stopped_by, sizeof s->stopped_by, "%s", why);
}

void
lr_stats_cut(struct lr_stats *s, uint64_t limit)
{
    s->cut++;
    s->cut_limit = limit;
}

static void
note_slow(struct lr_stats *s, uint64_t seq, const char *cmd, size_t cmd_len, double runtime)
{
    int i = s->nslow;
    if (i == LR_SLOWEST && runtime <= s->slow[LR_SLOWEST - 1].runtime)
        return;
    if (i == LR_SLOWEST)
        i--;
    else
        s->nslow++;
    for (; i > 0 && s->slow[i - 1].runtime < runtime; i--)
        s->slow[i] = s->slow[i - 1];
    struct lr_slow *e = &s->slow[i];
    e->seq = seq;
    e->runtime = runtime;
    size_t n = cmd_len < sizeof e->cmd - 1 ? cmd_len : sizeof e->cmd - 1;
    for (size_t k = 0; k < n; k++) /* one line, printable */
        e->cmd[k] = (unsigned char)cmd[k] < ' ' ? ' ' : cmd[k];
    e->cmd[n] = '\0';
    if (n < cmd_len && n >= 3)
        memcpy(e->cmd + n - 3, "...", 3);
}

void
lr_stats_attempt(struct lr_stats *s, uint64_t seq, const char *cmd, size_t cmd_len, double runtime,
                 int exitval, int signal, int timed_out, int final)
{
    note_slow(s, seq, cmd, cmd_len, runtime);
    int ok = exitval == 0 && signal == 0 && !timed_out;
    if (!final) {
        s->retried++;
        return;
    }
    if (ok) {
        s->succeeded++;
        return;
    }
    s->failed++;
    if (timed_out)
        s->timeouts++;
    else if (signal > 0 && signal < 65)
        s->by_signal[signal]++;
    else
        s->by_exit[exitval & 0xff]++;
}

/* 0.004 -> "<0.01", 0.25 -> "0.25", 2.5 -> "2.5", 5 -> "5", 1234 -> "1234", 12345 -> "12.3k",
 * 1234567 -> "1.23M" */
static void
human(double v, char *buf, size_t len)
{
    if (v < 0.01)
        snprintf(buf, len, "<0.01");
    else if (v < 10)
        snprintf(buf, len, "%.2g", v);
    else if (v < 10000)
        snprintf(buf, len, "%.0f", v);
    else if (v < 1e6)
        snprintf(buf, len, "%.1fk", v / 1e3);
    else
        snprintf(buf, len, "%.2fM", v / 1e6);
}

static void
hms(double sec, char *buf, size_t len)
{
    unsigned long t = sec > 0 && sec < 1e9 ? (unsigned long)(sec + 0.5) : 0;
    snprintf(buf, len, "%lu:%02lu:%02lu", t / 3600, t / 60 % 60, t % 60);
}

void
lr_stats_progress(const struct lr_stats *s, double now, uint64_t outstanding, unsigned threads,
                  char *buf, size_t len)
{
    uint64_t done = s->succeeded + s->failed;
    double el = now - s->t0, rate = el > 0 ? (double)done / el : 0;
    uint64_t running = outstanding < threads ? outstanding : threads;
    char r[40] = "", eta[32] = "?";
    if (rate > 0) {
        human(rate, r + 2, sizeof r - 4);
        memcpy(r, ", ", 2);
        strcat(r, "/s");
    }
    if (s->tasks_final && rate > 0 && s->tasks >= done)
        hms((double)(s->tasks - done) / rate, eta, sizeof eta);
    snprintf(buf, len,
             "%llu/%llu%s done, %llu failed, %llu running, %llu queued%s, ETA %s, "
             "elapsed %.0f s",
             (unsigned long long)done, (unsigned long long)s->tasks, s->tasks_final ? "" : "+",
             (unsigned long long)s->failed, (unsigned long long)running,
             (unsigned long long)(outstanding - running), r, eta, el);
}

void
lr_stats_summary(const struct lr_stats *s, double now, long peak_kib, FILE *fp)
{
    double el = now - s->t0;
    uint64_t done = s->succeeded + s->failed;
    uint64_t all = done + s->skipped + s->not_run + s->killed + s->unrecorded;
    fprintf(fp,
            "loom-run: %llu task%s: %llu succeeded, %llu failed, %llu retried, %llu skipped "
            "(resume)",
            (unsigned long long)all, all == 1 ? "" : "s", (unsigned long long)s->succeeded,
            (unsigned long long)s->failed, (unsigned long long)s->retried,
            (unsigned long long)s->skipped);
    if (s->not_run || s->killed)
        fprintf(fp, ", %llu not started and %llu killed (%s)", (unsigned long long)s->not_run,
                (unsigned long long)s->killed, s->stopped_by[0] ? s->stopped_by : "--halt");
    if (s->unrecorded)
        fprintf(fp,
                ", %llu not recorded (lost with their workers, or output or job log not "
                "writable: --resume runs them)",
                (unsigned long long)s->unrecorded);
    fputc('\n', fp);
    if (s->failed) {
        fprintf(fp, "loom-run: failures:");
        const char *sep = " ";
        for (int i = 0; i < 256; i++)
            if (s->by_exit[i]) {
                fprintf(fp, "%s%llu exit %d", sep, (unsigned long long)s->by_exit[i], i);
                sep = ", ";
            }
        for (int i = 1; i < 65; i++)
            if (s->by_signal[i]) {
                const char *name = sigabbrev_np(i);
                fprintf(fp, "%s%llu signal %d%s%s%s", sep, (unsigned long long)s->by_signal[i], i,
                        name ? " (SIG" : "", name ? name : "", name ? ")" : "");
                sep = ", ";
            }
        if (s->timeouts)
            fprintf(fp, "%s%llu timeout", sep, (unsigned long long)s->timeouts);
        fputc('\n', fp);
    }
    fprintf(fp, "loom-run: wall %.2f s", el);
    if (done && el > 0) {
        char r[32];
        human((double)done / el, r, sizeof r);
        fprintf(fp, ", %s tasks/s", r);
    }
    if (peak_kib > 0)
        fprintf(fp, ", master peak memory %.1f MiB", (double)peak_kib / 1024.0);
    fputc('\n', fp);
    if (s->cut)
        fprintf(fp,
                "loom-run: output cut: %llu task%s wrote more than process.output_limit (%llu "
                "bytes a stream)\n",
                (unsigned long long)s->cut, s->cut == 1 ? "" : "s",
                (unsigned long long)s->cut_limit);
    if (s->nslow) {
        fprintf(fp, "loom-run: slowest:");
        for (int i = 0; i < s->nslow; i++)
            fprintf(fp, "%s #%llu %.2f s `%s`", i ? ";" : "", (unsigned long long)s->slow[i].seq,
                    s->slow[i].runtime, s->slow[i].cmd);
        fputc('\n', fp);
    }
}
