"""How much does watching training slow it down? Measure the Recorder's overhead.

Two workloads, each trained with and without a ``Recorder`` from the same seed:

* an MLP 784-128-64-10 (ReLU, Adam, batch 64) on MNIST-sized data (60,000 random
  28x28 "images"; the time of a step does not depend on the pixel values);
* a deep narrow network, 8 hidden tanh layers of 16 units, on a 3-arm spiral
  (300 points, SGD, batch 32): tiny steps, the worst case for a fixed per-record cost.

Runs are interleaved and repeated; the overhead is the median time with the recorder
divided by the median time without, minus one. Times are the process's CPU time
(``time.process_time``), which other programs running on the same machine disturb far
less than wall-clock time does. The weights at the end are compared
too: a recorder only reads, so they must be bit-identical.

    python examples/21_recorder_overhead.py            # full measurement (~1-2 minutes)
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


def mnist_sized(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, 784), dtype=np.float32)
    y = rng.integers(0, 10, n)
    return X, y


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


def measure(build, X, y, epochs, batch_size, recorder_kw, repeats):
    """Median seconds without and with a Recorder(**recorder_kw), and whether the
    final weights agree bit for bit."""
    plain, recorded, same = [], [], True
    for _ in range(repeats):
        for with_rec in (False, True):
            model = build(0)
            callbacks = [Recorder(**recorder_kw)] if with_rec else []
            t0 = time.process_time()
            model.fit(X, y, epochs=epochs, batch_size=batch_size, verbose=0, callbacks=callbacks)
            (recorded if with_rec else plain).append(time.process_time() - t0)
            weights = [v.copy() for v in model.state_dict().values()]
            if with_rec:
                same &= all(np.array_equal(a, b) for a, b in zip(weights, reference, strict=True))
            else:
                reference = weights
    t0, t1 = statistics.median(plain), statistics.median(recorded)
    return t0, t1, same


def run(quick: bool = False) -> list[dict]:
    """Measure every case; returns one dict per case (also printed as a table)."""
    n_mnist = 6000 if quick else 60000
    repeats = 1 if quick else 3
    Xm, ym = mnist_sized(n_mnist)
    Xs, ys = make_spiral(300, arms=3, seed=0)
    spiral_epochs = 30 if quick else 200
    steps_per_epoch_spiral = 10
    cases = [
        ("MLP 784-128-64-10, MNIST-sized", mlp, Xm, ym, 1, 64, {"every_epochs": 1}),
        ("MLP 784-128-64-10, MNIST-sized", mlp, Xm, ym, 1, 64, {"every_steps": 50}),
        ("deep narrow tanh 8x16, spiral", deep_narrow, Xs, ys, spiral_epochs, 32,
         {"every_epochs": 1}),
        ("deep narrow tanh 8x16, spiral", deep_narrow, Xs, ys, spiral_epochs, 32,
         {"every_epochs": 3}),
        ("deep narrow tanh 8x16, spiral", deep_narrow, Xs, ys, spiral_epochs, 32,
         {"every_steps": spiral_epochs * steps_per_epoch_spiral // 100}),
    ]
    rows = []
    for name, build, X, y, epochs, bs, kw in cases:
        t0, t1, same = measure(build, X, y, epochs, bs, kw, repeats)
        steps = epochs * -(-len(X) // bs)
        every = kw.get("every_steps") or kw["every_epochs"] * -(-len(X) // bs)
        rows.append({
            "workload": name, "recording": ", ".join(f"{k}={v}" for k, v in kw.items()),
            "records": -(-steps // every), "steps": steps, "without_s": t0, "with_s": t1,
            "overhead": t1 / t0 - 1.0, "identical": same,
        })
    return rows


def print_table(rows: list[dict]) -> None:
    print(f"{'workload':<32} {'recording':<16} {'records':>7} {'steps':>6} "
          f"{'without':>8} {'with':>8} {'overhead':>8}  same weights")
    for r in rows:
        print(f"{r['workload']:<32} {r['recording']:<16} {r['records']:>7} {r['steps']:>6} "
              f"{r['without_s']:>7.2f}s {r['with_s']:>7.2f}s {r['overhead']:>+8.1%}  "
              f"{'yes' if r['identical'] else 'NO'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat")
    print_table(run(parser.parse_args().quick))
