"""Where does a training step's time go? Layer by layer, for the benchmark's models.

    python benchmarks/profile_layers.py mlp            # MNIST MLP, batches of 128
    python benchmarks/profile_layers.py cnn --batches 20
    python benchmarks/profile_layers.py xor --batches 10000

Runs the same steps as ``Sequential.fit`` on the networks ``benchmarks/run.py`` times
(one permutation per epoch, each batch gathered from it, forward, loss, backward from the
loss down to the first trainable layer, optimiser step) and times each part with the
wall clock (``--cpu``: the process's CPU clock, which other jobs on a shared machine
disturb less, but which misses time spent waiting for memory the kernel hands out).
Prints, per part, milliseconds per step and its share of the total.

For a statistical profile of a whole run (Python frames included), use a sampling
profiler, e.g. ``python -m pyinstrument benchmarks/profile_layers.py mlp``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import BATCH, DEFAULT_MNIST_DIR, XOR_X, XOR_Y, mnist_rows, scaled  # noqa: E402


def build(kind: str):
    """(model, X, y, batch size) for ``kind`` in mlp, cnn, xor."""
    from _peers import _cnn_layers, _mlp_layers

    from scratchnet import Sequential
    from scratchnet.optim import SGD

    if kind == "xor":
        from scratchnet.lessons.xor_stacked import build_network

        model = build_network(hidden=2, activation="sigmoid", seed=0)
        model.compile(loss="bce", optimizer=SGD(lr=1.0))
        return model, XOR_X, XOR_Y, 4
    images, labels, _ = mnist_rows(60_000 if kind == "mlp" else 6_400, DEFAULT_MNIST_DIR)
    X = scaled(images)
    if kind == "mlp":
        X = X.reshape(len(X), -1)
        layers = _mlp_layers()
    else:
        X = X.reshape(len(X), 1, 28, 28)
        layers = _cnn_layers()
    model = Sequential(layers, seed=0)
    model.compile(loss="cross_entropy", optimizer="adam", lr=1e-3)
    return model, X, labels, BATCH


def profile(kind: str, batches: int, clock=time.perf_counter) -> dict[str, float]:
    from scratchnet.parallel import worker_mode

    model, X, y, batch = build(kind)
    with worker_mode(model.layers):  # as fit does (see scratchnet.parallel)
        return _profile(model, X, y, batch, batches, clock)


def _profile(model, X, y, batch, batches, clock) -> dict[str, float]:
    loss, opt = model.loss, model.optimizer
    params = model.flatten_parameters()  # as fit does: one optimiser call for all of them
    first = next(i for i, layer in enumerate(model.layers) if layer.params)
    model.layers[first].needs_input_grad = False  # as fit does: no gradient for the pixels
    model.train()
    T: dict[str, float] = defaultdict(float)
    n = len(X)
    per_epoch = max(1, n // batch)
    order = model.rng.permutation(n)
    for step in range(batches):
        b = step % per_epoch
        t = clock()
        idx = order[b * batch : (b + 1) * batch]
        xb, yb = X[idx], y[idx]
        T["gather one batch: X[order[slice]]"] += clock() - t
        run = model.run_order()  # as Sequential.forward runs them (max pooling before ReLU)
        for i in run:
            layer = model.layers[i]
            t = clock()
            xb = layer.forward(xb)
            T[f"forward  {i} {type(layer).__name__}"] += clock() - t
        t = clock()
        loss.forward(xb, yb)
        grad = loss.backward()
        T["loss forward + backward"] += clock() - t
        t = clock()
        loss.predict_labels(xb)
        T["accuracy count (argmax)"] += clock() - t
        for i in reversed(run[first:]):
            layer = model.layers[i]
            t = clock()
            grad = layer.backward(grad)
            T[f"backward {i} {type(layer).__name__}"] += clock() - t
        t = clock()
        opt.step(params)
        T[f"optimiser ({type(opt).__name__})"] += clock() - t
    return {k: v / batches for k, v in T.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", choices=("mlp", "cnn", "xor"))
    ap.add_argument("--batches", type=int, default=None,
                    help="steps to time (default: mlp 469, cnn 20, xor 10,000)")
    ap.add_argument("--cpu", action="store_true", help="CPU time instead of wall time")
    ap.add_argument("--threads", type=int, default=None,
                    help="scratchnet's worker threads (scratchnet.set_num_threads)")
    args = ap.parse_args(argv)
    if args.threads:
        from scratchnet import set_num_threads

        set_num_threads(args.threads)
    batches = args.batches or {"mlp": 469, "cnn": 20, "xor": 10_000}[args.model]
    clock = time.process_time if args.cpu else time.perf_counter
    profile(args.model, min(batches, 3), clock)  # warm-up: first-touch allocations, threads
    times = profile(args.model, batches, clock)
    step = sum(times.values())
    unit, scale = ("us", 1e6) if step < 1e-3 else ("ms", 1e3)
    print(f"{args.model}: {batches} steps, {'CPU' if args.cpu else 'wall'} time per step")
    for k, v in sorted(times.items(), key=lambda kv: -kv[1]):
        print(f"  {k:<36} {v * scale:9.2f} {unit}  {100 * v / step:5.1f}%")
    print(f"  {'total':<36} {step * scale:9.2f} {unit}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
