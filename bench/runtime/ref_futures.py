# SPDX-License-Identifier: MIT
"""ref_futures.py -- the mpi4py.futures reference (baselines.md system (c)).

Run under the mpi4py.futures launcher, so rank 0 runs this file and every
other rank is a pool worker:

    mpirun -np 3 /usr/bin/python3 -m mpi4py.futures ref_futures.py MODE [N]

MODE
  submit   N tiny tasks (int in, int out) through executor.submit, one by one
  map      N tiny tasks through executor.map(chunksize=N/8)
  compute  N tasks of ~10 ms of Python CPU each (loop calibrated in the master),
           through executor.submit. Each task measures the CPU time it used on
           its worker (time.thread_time); task_ms is their mean. The speed of
           the same Python loop varies by up to ~2x between processes on the
           reference VM, so efficiency is taken against the tasks' own CPU
           time (sum of task CPU / (wall x CPUs)), not a serial run elsewhere

The clock starts after executor.bootup() (workers up) and stops at the last
result. One line is printed, e.g.
    futures submit tasks=8000 secs=1.8 rate=4400 ok=1 hwm_mib=40.1
"""
import sys
import time

from mpi4py import MPI
from mpi4py.futures import MPIPoolExecutor


def square(n):
    return n * n


def burn(iters):
    x = 0
    for i in range(iters):
        x = (x * 31 + i) & 0xFFFFFFFF
    return x


def burn_timed(iters):
    """burn() on a worker; returns the CPU seconds it took there."""
    c0 = time.thread_time()
    burn(iters)
    return time.thread_time() - c0


def calibrate(ms):
    """Iterations of burn() costing ms of CPU here (best of 15)."""
    iters = 20000
    for _ in range(3):
        best = 1e9
        for _ in range(15):
            c0 = time.thread_time()
            burn(iters)
            best = min(best, time.thread_time() - c0)
        iters = max(1, int(iters * (ms / 1e3) / best))
    return iters


def hwm_mib():
    with open("/proc/self/status") as fp:
        for line in fp:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return -1.0


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "submit"
    default_n = {"submit": 8000, "map": 3000000, "compute": 200}
    if mode not in default_n:
        sys.exit("usage: ref_futures.py submit|map|compute [N]")
    n = int(sys.argv[2]) if len(sys.argv) > 2 else default_n[mode]
    workers = MPI.COMM_WORLD.Get_size() - 1
    with MPIPoolExecutor() as ex:
        ex.bootup(wait=True)
        if mode == "submit":
            t0 = time.perf_counter()
            futs = [ex.submit(square, i) for i in range(n)]
            total = sum(f.result() for f in futs)
            secs = time.perf_counter() - t0
            ok = int(total == sum(i * i for i in range(n)))
            print(f"futures submit tasks={n} secs={secs:.4f} rate={n / secs:.0f} ok={ok} "
                  f"hwm_mib={hwm_mib():.1f}", flush=True)
        elif mode == "map":
            chunk = max(1, n // 8)
            t0 = time.perf_counter()
            total = sum(ex.map(square, range(n), chunksize=chunk))
            secs = time.perf_counter() - t0
            ok = int(total == (n - 1) * n * (2 * n - 1) // 6)
            print(f"futures map tasks={n} chunksize={chunk} secs={secs:.4f} rate={n / secs:.0f} "
                  f"ok={ok} hwm_mib={hwm_mib():.1f}", flush=True)
        else:
            iters = calibrate(10.0)
            t0 = time.perf_counter()
            futs = [ex.submit(burn_timed, iters) for _ in range(n)]
            cpu = sum(f.result() for f in futs)
            secs = time.perf_counter() - t0
            print(f"futures compute tasks={n} iters={iters} workers={workers} secs={secs:.4f} "
                  f"task_ms={cpu * 1e3 / n:.3f} hwm_mib={hwm_mib():.1f}", flush=True)


if __name__ == "__main__":
    main()
