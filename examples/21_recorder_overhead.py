"""How much does watching training slow it down? Measure the Recorder's overhead.

Two workloads, each trained from the same seed with and without a ``Recorder``:

* an MLP 784-128-64-10 (ReLU, Adam, batch 64) on MNIST-sized data (60,000 random
  28x28 "images"; the time of a step does not depend on the pixel values);
* a deep narrow network, 8 hidden tanh layers of 16 units, on a 3-arm spiral
  (300 points, SGD, batch 32, 10 steps per epoch): tiny steps, the worst case for a
  fixed cost per record; recorded every epoch, every 40 steps (the smallest spacing
  the ``scratchnet experiment`` commands use) and every 100 steps.

Two measurements of the overhead, because wall-clock time on a shared machine is noisy:

* **A/B**: the median wall time of runs with the recorder over the median of runs
  without, minus one (runs interleaved, repeated);
* **in-run share**: inside the runs with the recorder, the CPU time of the training
  thread spent in the recorder's recording steps divided by the rest of that thread's
  CPU time (``time.thread_time``, the timer's own cost subtracted; the other steps'
  hooks append three numbers to lists, well under a microsecond, and are not timed).
  Both come from the same run and neither counts the time the thread waits for a
  core, so other programs on the machine disturb it far less than wall-clock time.
  (Work that NumPy's BLAS does on helper threads is not counted in the denominator,
  which can only make the share look larger.)

The final weights are compared too: a recorder only reads, so they must be
bit-identical with and without it.

    python examples/21_recorder_overhead.py            # full measurement (a few minutes)
    python examples/21_recorder_overhead.py --quick    # smaller, for a smoke test
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import scratchnet as sn
from scratchnet.datasets import make_spiral
from scratchnet.insight import Recorder
from scratchnet.layers import Dense, ReLU, Tanh


class TimedRecorder(Recorder):
    """A Recorder that also measures the CPU time its recording steps take on the
    training thread (the hooks of other steps only append three numbers to lists:
    timing them would cost more than they do)."""

    hook_seconds = 0.0

    def on_after_backward(self, step):
        if not self._recording_now:
            return
        t0 = time.thread_time()
        super().on_after_backward(step)
        self.hook_seconds += time.thread_time() - t0 - TIMER_COST

    def on_batch_end(self, step, logs):
        if not self._recording_now:
            super().on_batch_end(step, logs)
            return
        t0 = time.thread_time()
        super().on_batch_end(step, logs)
        self.hook_seconds += time.thread_time() - t0 - TIMER_COST


def _timer_cost(n: int = 20000) -> float:
    """CPU time of one ``thread_time()`` pair, subtracted from every timed hook."""
    t0 = time.thread_time()
    for _ in range(n):
        time.thread_time()
    return (time.thread_time() - t0) / n


TIMER_COST = _timer_cost()


def mnist_sized(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, n)


def mlp(seed: int) -> sn.Sequential:
    model = sn.Sequential([Dense(784, 128), ReLU(), Dense(128, 64), ReLU(), Dense(64, 10)],
                          seed=seed)
    return model.compile("cross_entropy", sn.Adam(lr=1e-3))


def deep_narrow(seed: int, depth: int = 8, width: int = 16) -> sn.Sequential:
    layers = [Dense(2, width), Tanh()]
    for _ in range(depth - 1):
        layers += [Dense(width, width), Tanh()]
    layers.append(Dense(width, 3))
    return sn.Sequential(layers, seed=seed).compile("cross_entropy", sn.SGD(lr=0.05))


def measure(build, X, y, epochs, batch_size, recorder_kw, repeats) -> dict:
    """Wall times without / with a TimedRecorder(**recorder_kw), the in-run hook share
    (thread CPU time), and whether the final weights agree bit for bit."""
    plain, recorded, shares, same = [], [], [], True
    reference = None
    for _ in range(repeats):
        for with_rec in (False, True):
            model = build(0)
            rec = TimedRecorder(**recorder_kw) if with_rec else None
            t0, c0 = time.perf_counter(), time.thread_time()
            model.fit(X, y, epochs=epochs, batch_size=batch_size, verbose=0,
                      callbacks=[rec] if rec else [])
            seconds, cpu = time.perf_counter() - t0, time.thread_time() - c0
            weights = [v.copy() for v in model.state_dict().values()]
            if rec is None:
                plain.append(seconds)
                reference = weights
            else:
                recorded.append(seconds)
                shares.append(rec.hook_seconds / (cpu - rec.hook_seconds))
                same &= all(np.array_equal(a, b) for a, b in zip(weights, reference, strict=True))
                n_records = rec.n_records
    t0, t1 = statistics.median(plain), statistics.median(recorded)
    return {"without_s": t0, "with_s": t1, "ab": t1 / t0 - 1.0,
            "share": statistics.median(shares), "identical": same, "records": n_records}


def run(quick: bool = False) -> list[dict]:
    """Measure every case; returns one dict per case."""
    n_mnist = 6000 if quick else 60000
    repeats = 1 if quick else 3
    spiral_repeats = 1 if quick else 7
    Xm, ym = mnist_sized(n_mnist)
    Xs, ys = make_spiral(300, arms=3, seed=0)
    spiral_epochs = 30 if quick else 200
    cases = [
        ("MLP 784-128-64-10, MNIST-sized", mlp, Xm, ym, 1, 64, {"every_epochs": 1}),
        ("MLP 784-128-64-10, MNIST-sized", mlp, Xm, ym, 1, 64, {"every_steps": 10}),
        ("deep narrow tanh 8x16, spiral", deep_narrow, Xs, ys, spiral_epochs, 32,
         {"every_epochs": 1}),
        ("deep narrow tanh 8x16, spiral", deep_narrow, Xs, ys, spiral_epochs, 32,
         {"every_steps": 40}),
        ("deep narrow tanh 8x16, spiral", deep_narrow, Xs, ys, spiral_epochs, 32,
         {"every_steps": 100}),
    ]
    rows = []
    for name, build, X, y, epochs, bs, kw in cases:
        result = measure(build, X, y, epochs, bs, kw,
                         spiral_repeats if build is deep_narrow else repeats)
        steps = epochs * -(-len(X) // bs)
        rows.append({"workload": name, "steps": steps,
                     "recording": ", ".join(f"{k}={v}" for k, v in kw.items()), **result})
    return rows


def format_table(rows: list[dict]) -> str:
    lines = [f"{'workload':<31} {'recording':<15} {'records':>7} {'steps':>6} {'without':>8} "
             f"{'with':>8} {'A/B':>7} {'in-run':>7}  same weights"]
    for r in rows:
        lines.append(
            f"{r['workload']:<31} {r['recording']:<15} {r['records']:>7} {r['steps']:>6} "
            f"{r['without_s']:>7.2f}s {r['with_s']:>7.2f}s {r['ab']:>+7.1%} {r['share']:>+7.1%}  "
            f"{'yes' if r['identical'] else 'NO'}")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat")
    print(format_table(run(parser.parse_args().quick)))
