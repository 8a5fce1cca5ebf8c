/* SPDX-License-Identifier: MIT */
/*
 * Times as GNU Parallel takes them (--delay, --timeout: seconds with the
 * s, m, h and d postfixes) and the median runtime of the tasks that
 * succeeded so far (--timeout P%), kept in bounded memory. Pure
 * arithmetic (internal to loom-run; libc only).
 */
#ifndef LOOMRUN_TIMING_H
#define LOOMRUN_TIMING_H

#include <stdint.h>

/*
 * A duration as GNU Parallel writes it ("TIME POSTFIXES"): a number of
 * seconds, or numbers each followed by s, m, h or d (1, 60, 3600, 86400
 * seconds), added up: "1.5", "2m", "1d3.5h16.6m4s". 0, with *out the
 * seconds (>= 0), or -1 (nothing usable, a negative or unknown part).
 */
int lr_duration_parse(const char *v, double *out);

/* Runtimes from 1 microsecond to over 100 days, each bin 1% wider than the
 * one before: the median is known to within 1% at any count. */
#define LR_MEDIAN_BINS 3072

struct lr_median {
    uint64_t n;
    uint64_t bins[LR_MEDIAN_BINS];
};

/* Count one runtime (seconds; below 1 us counts as 1 us). */
void lr_median_add(struct lr_median *m, double seconds);

/* The median of what was counted (within 1%), or -1 when nothing was. */
double lr_median_get(const struct lr_median *m);

#endif /* LOOMRUN_TIMING_H */
