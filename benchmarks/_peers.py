"""The measured work, written once per peer: scratchnet, PyTorch (CPU), scikit-learn.

Every ``setup_<task>_<peer>(cfg)`` function prepares its inputs (not timed) and returns a
``Work`` whose ``run()`` does the work once, from freshly built weights, and returns
the seconds it took plus a few numbers that show the peers did the same work
(final loss, accuracy). ``warmup()`` runs a small version first, so that one-off costs
(thread start-up, lazy initialisation, first-touch page faults) are not counted.

Each peer's code is what a user of that library would write: scratchnet trains with
``Sequential.fit`` (or, labelled as such, the stacked-seed trainer; at several threads,
``fit(processes=...)`` for the MLP and the CNN, see ``_scratchnet_classifier``), PyTorch
with the usual ``zero_grad / forward / backward / step`` loop over ``randperm`` batches,
scikit-learn with ``MLPClassifier``. All inputs are float32.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from _common import BATCH, XOR_X, XOR_Y, mnist_rows, scaled


@dataclass
class Work:
    run: Callable[[], dict]
    warmup: Callable[[], object]
    #: libraries whose versions the report lists for this peer
    libraries: tuple[str, ...] = ()


# == matrix-multiply peak ==
def _matmul_numpy(cfg) -> Work:
    n = int(cfg["matmul_n"])
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    c = np.empty_like(a)

    def once():
        best = float("inf")
        for _ in range(int(cfg["matmul_reps"])):
            t0 = time.perf_counter()
            np.matmul(a, b, out=c)
            best = min(best, time.perf_counter() - t0)
        return {"seconds": best, "gflops": 2 * n**3 / best / 1e9}

    return Work(run=once, warmup=once, libraries=("numpy",))


def _matmul_torch(cfg) -> Work:
    import torch

    n = int(cfg["matmul_n"])
    g = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=g)
    b = torch.randn(n, n, generator=g)
    c = torch.empty(n, n)

    def once():
        best = float("inf")
        with torch.no_grad():
            for _ in range(int(cfg["matmul_reps"])):
                t0 = time.perf_counter()
                torch.matmul(a, b, out=c)
                best = min(best, time.perf_counter() - t0)
        return {"seconds": best, "gflops": 2 * n**3 / best / 1e9}

    return Work(run=once, warmup=once, libraries=("torch",))


# == XOR 2-2-1, full-batch gradient descent ==
# All peers: Dense(2, 2) -> sigmoid -> Dense(2, 1) -> sigmoid, binary cross-entropy, plain
# SGD with learning rate 1, the four XOR rows as one batch, ``steps`` updates. scratchnet
# and PyTorch start from the same weights (scratchnet's seed 0), so their final losses agree.
def _xor_init(cfg) -> dict[str, np.ndarray]:
    with np.load(cfg["init_file"]) as f:
        return {k: f[k] for k in f.files}


def _xor_scratchnet_fit(cfg) -> Work:
    from scratchnet.lessons.xor_stacked import build_network
    from scratchnet.optim import SGD

    steps = int(cfg["xor_steps"])

    def train(n_steps):
        model = build_network(hidden=2, activation="sigmoid", seed=0)
        model.compile(loss="bce", optimizer=SGD(lr=1.0))
        t0 = time.perf_counter()
        model.fit(XOR_X, XOR_Y, epochs=n_steps, batch_size=None, verbose=0)
        seconds = time.perf_counter() - t0
        return {"seconds": seconds, "final_loss": model.evaluate(XOR_X, XOR_Y)["loss"]}

    return Work(run=lambda: train(steps), warmup=lambda: train(200), libraries=("numpy",))


def _xor_stacked(cfg, seeds: int) -> Work:
    from scratchnet.lessons.xor_stacked import StackedWeights, train_stacked

    steps = int(cfg["xor_steps" if seeds == 1 else "seeds_steps"])
    init = _xor_init(cfg)
    weights = StackedWeights(*(init[k][:seeds] for k in ("W1", "b1", "W2", "b2")))

    def train(n_steps):
        t0 = time.perf_counter()
        res = train_stacked(XOR_X, XOR_Y, weights, loss="bce", activation="sigmoid",
                            optimizer="sgd", lr=1.0, epochs=n_steps)
        seconds = time.perf_counter() - t0
        return {"seconds": seconds, "final_loss": float(np.mean(res.final_loss)),
                "solved": int(res.solved.sum())}

    return Work(run=lambda: train(steps), warmup=lambda: train(100), libraries=("numpy",))


def _xor_scalar(cfg) -> Work:
    from scratchnet.lessons.xor_scalar import train_xor_scalar

    steps = int(cfg["xor_steps"])
    init = _xor_init(cfg)

    def train(n_steps):
        t0 = time.perf_counter()
        res = train_xor_scalar(init["W1"][0], init["b1"][0, 0], init["W2"][0], init["b2"][0, 0],
                               XOR_X, XOR_Y, lr=1.0, steps=n_steps, loss="bce")
        seconds = time.perf_counter() - t0
        return {"seconds": seconds, "final_loss": float(res.losses[-1])}

    return Work(run=lambda: train(steps), warmup=lambda: train(200), libraries=("numpy",))


def _xor_torch(cfg) -> Work:
    import torch

    steps = int(cfg["xor_steps"])
    init = _xor_init(cfg)
    X, Y = torch.from_numpy(XOR_X), torch.from_numpy(XOR_Y)

    def train(n_steps):
        net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Sigmoid(),
                                  torch.nn.Linear(2, 1), torch.nn.Sigmoid())
        with torch.no_grad():  # scratchnet stores W as (in, out), torch as (out, in)
            net[0].weight.copy_(torch.from_numpy(init["W1"][0].T.copy()))
            net[0].bias.copy_(torch.from_numpy(init["b1"][0, 0]))
            net[2].weight.copy_(torch.from_numpy(init["W2"][0].T.copy()))
            net[2].bias.copy_(torch.from_numpy(init["b2"][0, 0]))
        opt = torch.optim.SGD(net.parameters(), lr=1.0)
        loss_fn = torch.nn.BCELoss()
        t0 = time.perf_counter()
        for _ in range(n_steps):
            opt.zero_grad()
            loss = loss_fn(net(X), Y)
            loss.backward()
            opt.step()
        seconds = time.perf_counter() - t0
        with torch.no_grad():
            final = float(loss_fn(net(X), Y))
        return {"seconds": seconds, "final_loss": final}

    return Work(run=lambda: train(steps), warmup=lambda: train(200), libraries=("torch",))


def _xor_sklearn(cfg) -> Work:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    steps = int(cfg["xor_steps"])
    y = XOR_Y[:, 0].astype(np.int64)

    def train(n_steps):
        # scikit-learn draws its own initial weights; everything else is the same setting.
        clf = MLPClassifier(hidden_layer_sizes=(2,), activation="logistic", solver="sgd",
                            learning_rate_init=1.0, momentum=0.0, nesterovs_momentum=False,
                            alpha=0.0, batch_size=4, max_iter=n_steps, shuffle=False, tol=0.0,
                            n_iter_no_change=n_steps + 1, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            t0 = time.perf_counter()
            clf.fit(XOR_X, y)
            seconds = time.perf_counter() - t0
        return {"seconds": seconds, "final_loss": float(clf.loss_)}

    return Work(run=lambda: train(steps), warmup=lambda: train(200),
                libraries=("sklearn", "numpy"))


def _seeds_torch(cfg) -> Work:
    import torch
    import torch.nn.functional as F

    steps, seeds = int(cfg["seeds_steps"]), int(cfg["seeds"])
    init = _xor_init(cfg)
    X, Y = torch.from_numpy(XOR_X), torch.from_numpy(XOR_Y)

    def train(n_steps):
        # The same stacking in PyTorch: parameters with a leading network axis, each
        # network's mean loss summed so that every network gets its own gradient.
        params = [torch.tensor(init[k][:seeds], requires_grad=True)
                  for k in ("W1", "b1", "W2", "b2")]
        W1, b1, W2, b2 = params
        opt = torch.optim.SGD(params, lr=1.0)
        t0 = time.perf_counter()
        for _ in range(n_steps):
            opt.zero_grad()
            a2 = torch.sigmoid(torch.sigmoid(X @ W1 + b1) @ W2 + b2)  # (S, 4, 1)
            per_net = F.binary_cross_entropy(a2, Y.expand_as(a2), reduction="none")
            per_net.mean(dim=(1, 2)).sum().backward()
            opt.step()
        seconds = time.perf_counter() - t0
        with torch.no_grad():
            a2 = torch.sigmoid(torch.sigmoid(X @ W1 + b1) @ W2 + b2)
            final = F.binary_cross_entropy(a2, Y.expand_as(a2), reduction="none").mean(dim=(1, 2))
            solved = int(((a2[:, :, 0] > 0.5) == (Y[:, 0] > 0.5)).all(dim=1).sum())
        return {"seconds": seconds, "final_loss": float(final.mean()), "solved": solved}

    return Work(run=lambda: train(steps), warmup=lambda: train(50), libraries=("torch",))


# == MNIST-sized MLP and CNN ==
#: rows of the warm-up run (four batches)
SMALL = 4 * BATCH


def _durations(t0: float, ends: list[float]) -> list[float]:
    """Seconds of each epoch from the start time and the end time of every epoch."""
    starts = [t0, *ends[:-1]]
    return [e - s for s, e in zip(starts, ends, strict=True)]


def _images(cfg, rows: int, flat: bool):
    images, labels, what = mnist_rows(rows, Path(cfg["data_dir"]) if cfg["data_dir"] else None)
    X = scaled(images)
    X = X.reshape(rows, -1) if flat else X.reshape(rows, 1, 28, 28)
    return X, labels, what


def _scratchnet_classifier(cfg, X, y, layers_fn, epochs: int, processes: bool = True,
                           warm_batches: int = 0) -> Work:
    """``processes``: with several threads (``SCRATCHNET_NUM_THREADS``), train with that
    many data-parallel processes of one thread each (``fit(processes=...)``), scratchnet's
    way of using several cores for these models; ``False``: one process with its worker
    threads (the ``scratchnet-threads`` line). ``warm_batches``: also report the seconds
    up to the end of that many batches (``warm_seconds``, see ``run.extrapolate``)."""
    from scratchnet import Sequential, get_num_threads
    from scratchnet.callbacks import Callback

    n_processes = get_num_threads() if processes else 1

    class EpochClock(Callback):
        def on_train_begin(self, logs=None):
            self.ends = []

        def on_epoch_end(self, epoch, logs=None):
            self.ends.append(time.perf_counter())

    class WarmClock(EpochClock):
        done = 0

        def on_batch_end(self, step, logs):
            self.done += 1
            if self.done == warm_batches:
                self.warm = time.perf_counter()

    def train(Xa, ya, n_epochs):
        model = Sequential(layers_fn(), seed=0)
        model.compile(loss="cross_entropy", optimizer="adam", lr=1e-3)
        clock = WarmClock() if warm_batches else EpochClock()
        t0 = time.perf_counter()
        hist = model.fit(Xa, ya, epochs=n_epochs, batch_size=BATCH, verbose=0, callbacks=[clock],
                         processes=n_processes)
        seconds = time.perf_counter() - t0
        out = {"seconds": seconds, "epoch_seconds": _durations(t0, clock.ends),
               "final_loss": hist["loss"][-1], "accuracy": hist["accuracy"][-1]}
        if warm_batches and len(Xa) > warm_batches * BATCH:
            out["warm_seconds"] = clock.warm - t0
        return out

    return Work(run=lambda: train(X, y, epochs), warmup=lambda: train(X[:SMALL], y[:SMALL], 1),
                libraries=("numpy",))


def _torch_classifier(cfg, X, y, make_net, epochs: int, warm_batches: int = 0) -> Work:
    """As ``_scratchnet_classifier``, in PyTorch's usual training loop."""
    import torch

    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)

    def train(Xa, ya, n_epochs):
        torch.manual_seed(0)
        net = make_net()
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        loss_fn = torch.nn.CrossEntropyLoss()
        n = len(Xa)
        t0 = time.perf_counter()
        ends = []
        warm = None
        for _ in range(n_epochs):
            # Loss and accuracy are tracked per batch, as scratchnet's fit does by default.
            total, correct = 0.0, 0
            order = torch.randperm(n)
            for i in range(0, n, BATCH):
                if i == warm_batches * BATCH and warm is None:
                    warm = time.perf_counter()
                idx = order[i : i + BATCH]
                xb, yb = Xa[idx], ya[idx]
                opt.zero_grad()
                out = net(xb)
                loss = loss_fn(out, yb)
                loss.backward()
                opt.step()
                total += loss.item() * len(idx)
                correct += int((out.argmax(1) == yb).sum())
            ends.append(time.perf_counter())
        seconds = time.perf_counter() - t0
        out = {"seconds": seconds, "epoch_seconds": _durations(t0, ends),
               "final_loss": total / n, "accuracy": correct / n}
        if warm_batches and warm is not None:
            out["warm_seconds"] = warm - t0
        return out

    return Work(run=lambda: train(Xt, yt, epochs),
                warmup=lambda: train(Xt[:SMALL], yt[:SMALL], 1), libraries=("torch",))


# Both libraries have an in-place ReLU (the same numbers, written over the input instead
# of into a new array). scratchnet uses it, as its own MNIST models do; PyTorch runs both
# ways ("torch" with its default ReLU, "torch-inplace"; the CNN also "torch-poolfirst"),
# and the targets are ratios to the fastest of them by median (run.py's TORCH_WAYS).
def _mlp_layers():
    from scratchnet.layers import Dense, ReLU

    return [Dense(784, 256), ReLU(inplace=True), Dense(256, 128), ReLU(inplace=True),
            Dense(128, 10)]


def _mlp_torch_net(inplace: bool = False):
    import torch.nn as nn

    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(inplace), nn.Linear(256, 128),
                         nn.ReLU(inplace), nn.Linear(128, 10))


def _cnn_layers():
    from scratchnet.layers import Conv2D, Dense, Flatten, MaxPool2D, ReLU

    return [Conv2D(1, 32, 3), ReLU(inplace=True), MaxPool2D(2), Conv2D(32, 64, 3),
            ReLU(inplace=True), MaxPool2D(2), Flatten(), Dense(64 * 5 * 5, 128),
            ReLU(inplace=True), Dense(128, 10)]


def _cnn_torch_net(inplace: bool = False, pool_first: bool = False):
    """The benchmark CNN in torch.nn. ``pool_first``: each max pooling written before the
    ReLU in front of it, the same function (max commutes with ReLU), as scratchnet's
    Sequential runs it by itself; a PyTorch user could write it so by hand."""
    import torch.nn as nn

    def block(c_in, c_out):
        conv, relu, pool = nn.Conv2d(c_in, c_out, 3), nn.ReLU(inplace), nn.MaxPool2d(2)
        return [conv, pool, relu] if pool_first else [conv, relu, pool]

    return nn.Sequential(*block(1, 32), *block(32, 64), nn.Flatten(),
                         nn.Linear(64 * 5 * 5, 128), nn.ReLU(inplace), nn.Linear(128, 10))


def _mlp_scratchnet(cfg, skip_zero_inputs: bool = True, processes: bool = True) -> Work:
    X, y, _ = _images(cfg, int(cfg["mlp_rows"]), flat=True)

    def layers():
        # skip_zero_inputs=False: the first layer multiplies every pixel, blank or not,
        # as PyTorch does (Dense's docstring); shows what leaving them out is worth.
        first, *rest = _mlp_layers()
        first.skip_zero_inputs = skip_zero_inputs
        return [first, *rest]

    return _scratchnet_classifier(cfg, X, y, layers, int(cfg["mlp_epochs"]), processes)


def _mlp_torch(cfg, inplace: bool = False) -> Work:
    X, y, _ = _images(cfg, int(cfg["mlp_rows"]), flat=True)
    return _torch_classifier(cfg, X, y, lambda: _mlp_torch_net(inplace), int(cfg["mlp_epochs"]))


def _mlp_sklearn(cfg) -> Work:
    from sklearn.neural_network import MLPClassifier

    X, y, _ = _images(cfg, int(cfg["mlp_rows"]), flat=True)
    epochs = int(cfg["mlp_epochs"])
    classes = np.arange(10)

    def train(Xa, ya, n_epochs):
        clf = MLPClassifier(hidden_layer_sizes=(256, 128), activation="relu", solver="adam",
                            alpha=0.0, batch_size=BATCH, learning_rate_init=1e-3, shuffle=True,
                            random_state=0)
        t0 = time.perf_counter()
        ends = []
        for _ in range(n_epochs):
            clf.partial_fit(Xa, ya, classes=classes)  # one shuffled epoch, Adam state kept
            ends.append(time.perf_counter())
        seconds = time.perf_counter() - t0
        return {"seconds": seconds, "epoch_seconds": _durations(t0, ends),
                "final_loss": float(clf.loss_)}

    return Work(run=lambda: train(X, y, epochs), warmup=lambda: train(X[:SMALL], y[:SMALL], 1),
                libraries=("sklearn", "numpy"))


def _cnn_scratchnet(cfg, processes: bool = True) -> Work:
    X, y, _ = _images(cfg, int(cfg["cnn_batches"]) * BATCH, flat=False)
    return _scratchnet_classifier(cfg, X, y, _cnn_layers, 1, processes,
                                  int(cfg["cnn_warm_batches"]))


def _cnn_torch(cfg, inplace: bool = False, pool_first: bool = False) -> Work:
    X, y, _ = _images(cfg, int(cfg["cnn_batches"]) * BATCH, flat=False)
    return _torch_classifier(cfg, X, y, lambda: _cnn_torch_net(inplace, pool_first), 1,
                             int(cfg["cnn_warm_batches"]))


#: task -> peer -> setup function. The first peer of each task is scratchnet's.
PEERS: dict[str, dict[str, Callable]] = {
    "matmul": {"numpy": _matmul_numpy, "torch": _matmul_torch},
    "xor": {
        "scratchnet-fit": _xor_scratchnet_fit,
        "scratchnet-stacked": lambda cfg: _xor_stacked(cfg, 1),
        "scratchnet-scalar": _xor_scalar,
        "torch": _xor_torch,
        "sklearn": _xor_sklearn,
    },
    "xor-seeds": {
        "scratchnet-stacked": lambda cfg: _xor_stacked(cfg, int(cfg["seeds"])),
        "torch-stacked": _seeds_torch,
    },
    "mlp": {"scratchnet": _mlp_scratchnet,
            "scratchnet-dense": lambda cfg: _mlp_scratchnet(cfg, skip_zero_inputs=False),
            "scratchnet-threads": lambda cfg: _mlp_scratchnet(cfg, processes=False),
            "torch": _mlp_torch,
            "torch-inplace": lambda cfg: _mlp_torch(cfg, inplace=True), "sklearn": _mlp_sklearn},
    "cnn": {"scratchnet": _cnn_scratchnet,
            "scratchnet-threads": lambda cfg: _cnn_scratchnet(cfg, processes=False),
            "torch": _cnn_torch,
            "torch-inplace": lambda cfg: _cnn_torch(cfg, inplace=True),
            "torch-poolfirst": lambda cfg: _cnn_torch(cfg, pool_first=True)},
}


def setup(task: str, peer: str, cfg: dict) -> Work:
    make = PEERS.get(task, {}).get(peer)
    if make is None:
        raise SystemExit(f"unknown task/peer {task}/{peer}")
    return make(cfg)
