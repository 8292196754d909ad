"""What an in-place update costs right after a multi-threaded matrix product.

    python benchmarks/cache_sharing.py            # the MLP's three weight shapes
    python benchmarks/cache_sharing.py --reps 1000

An optimiser's last pass is ``w -= d``. In a training step it comes shortly after the
forward pass's product ``x @ w`` read ``w``; when BLAS ran that product on several
threads, parts of ``w`` sit in the caches of the other cores, and updating memory in
place that another core holds costs each cache line a round trip between the cores.
Reading ``w`` into the scratch buffer (``np.subtract(w, d, out=d)``) and copying the
result back (``np.copyto(w, d)``), two plain passes, avoids most of it.

For each weight shape of the benchmark's MLP (batch 128) and for BLAS at 1 and 2
threads, this times the two ways, each right after ``x @ w``, and prints the median
microseconds and their ratio. ``Optimizer.subtract_step`` chooses between them from the
BLAS thread count and the array's size (``optim.SHARED_MIN_SIZE``).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from threadpoolctl import threadpool_limits

SHAPES = [(784, 256), (256, 128), (128, 10)]  # the MLP's weights, (in, out)
BATCH = 128


def in_place(w, d):
    w -= d


def two_passes(w, d):
    np.subtract(w, d, out=d)
    np.copyto(w, d)


def time_after_product(update, x, w, step, reps: int) -> float:
    """Median microseconds of ``update(w, d)`` right after ``x @ w``."""
    d = np.empty_like(w)
    times = []
    for _ in range(reps):
        np.matmul(x, w)
        np.copyto(d, step)  # the step (two_passes overwrites d)
        t0 = time.perf_counter()
        update(w, d)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e6


def measure(reps: int) -> list[tuple[str, int, float, float]]:
    """``(weights, BLAS threads, µs in place, µs in two passes)`` for every case."""
    rng = np.random.default_rng(0)
    rows = []
    for n_in, n_out in SHAPES:
        x = rng.standard_normal((BATCH, n_in), dtype=np.float32)
        w = rng.standard_normal((n_in, n_out), dtype=np.float32)
        step = np.full_like(w, 1e-6)
        for threads in (1, 2):
            with threadpool_limits(threads, user_api="blas"):
                one = time_after_product(in_place, x, w, step, reps)
                two = time_after_product(two_passes, x, w, step, reps)
            rows.append((f"{n_in}x{n_out}", threads, one, two))
    return rows


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=400, help="updates timed per case")
    args = ap.parse_args(argv)
    print(f"{'weights':>10} {'BLAS threads':>12} {'in place':>10} {'two passes':>11} {'ratio':>6}")
    for shape, threads, one, two in measure(args.reps):
        print(f"{shape:>10} {threads:>12} {one:>8.1f}us {two:>9.1f}us {two / one:>6.2f}")


if __name__ == "__main__":
    main()
