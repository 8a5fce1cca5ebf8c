# SPDX-License-Identifier: MIT
"""ref_pool.py -- Python multiprocessing.Pool reference (baselines.md (b)).

    /usr/bin/python3 ref_pool.py map [N]

Pool(2).map(square, range(N)) with the default chunksize (fork start
method), timed from the call to the last result with the pool already up.
Prints one line, e.g.
    pool map tasks=8000000 secs=1.5 rate=5300000 ok=1 hwm_mib=345.0
"""
import multiprocessing as mp
import os
import sys
import time


def square(n):
    return n * n


def hwm_mib():
    with open("/proc/self/status") as fp:
        for line in fp:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return -1.0


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "map"
    if mode != "map":
        sys.exit("usage: ref_pool.py map [N]")
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 8000000
    procs = len(os.sched_getaffinity(0))
    ctx = mp.get_context("fork")
    with ctx.Pool(procs) as pool:
        pool.map(square, range(procs))  # workers up
        t0 = time.perf_counter()
        res = pool.map(square, range(n))
        secs = time.perf_counter() - t0
        ok = int(sum(res) == (n - 1) * n * (2 * n - 1) // 6)
    print(f"pool map tasks={n} procs={procs} secs={secs:.4f} rate={n / secs:.0f} ok={ok} "
          f"hwm_mib={hwm_mib():.1f}", flush=True)


if __name__ == "__main__":
    main()
