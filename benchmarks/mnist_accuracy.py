"""Accuracy side by side: scratchnet and PyTorch trained identically on MNIST.

    python benchmarks/mnist_accuracy.py                      # MLP, seeds 0 1 2 (~5 min on 2 cores)
    python benchmarks/mnist_accuracy.py --models mlp cnn     # CNN too (fewer epochs, slower)
    python benchmarks/mnist_accuracy.py --write-docs         # also update docs/mnist.md

Evidence that nothing in scratchnet's math is subtly off: both frameworks train the
*same* network from the *same* start on the *same* batches, so any systematic gap in
accuracy would point at a bug (a wrong gradient, a misplaced bias correction...).

What is identical:

* architecture: ``scratchnet.models.mnist_mlp`` / ``mnist_cnn``, rebuilt layer by
  layer in ``torch.nn`` (Linear, Conv2d, BatchNorm, MaxPool, Dropout, Flatten);
* initial weights: scratchnet draws them (``seed``), and they are copied into torch
  (Dense ``W`` is ``(in, out)``, torch's Linear weight is its transpose);
* data order and augmentation: every epoch, one ``random_affine`` copy of the training
  images and one permutation are drawn from a generator seeded with ``(seed, epoch)``
  and fed to both, batch for batch (scratchnet's own shuffling is off);
* optimiser and schedule: Adam (betas 0.9/0.999, eps 1e-8) with the same cosine rate
  per step (torch's ``LambdaLR`` stepped after every update), float32 everywhere.

What is not: the order of floating-point sums inside the matrix products, so the
two runs drift apart by rounding and end at different (equally good) minima; and the
CNN's dropout masks, drawn by each framework's own generator. Accuracies therefore
agree statistically, not to the last digit. To show that the drift is rounding and
not a formula, the *lockstep* column trains both from the same start on the same
batches for a few steps (dropout off) and gives the largest weight difference,
relative to the largest weight.

The data are those of ``scratchnet mnist``: with only the 10,000-digit test file
(``../shared/data/mnist-t10k`` beside the repository, or ``--data-dir``), the first
8,000 train and the last 2,000 test (split-test mode); with the full data, the
official split. PyTorch missing: the scratchnet column is still printed, the PyTorch
one says "skipped".
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
#: The real 10,000 MNIST test digits, beside the repository (absent on most machines).
DEFAULT_MNIST_DIR = REPO.parent / "shared" / "data" / "mnist-t10k"
DOCS = REPO / "docs" / "mnist.md"
BEGIN = "<!-- mnist-accuracy:begin (written by benchmarks/mnist_accuracy.py --write-docs) -->"
END = "<!-- mnist-accuracy:end -->"
CNN_EPOCHS = 5
EVAL_BATCH = 500


# -- the shared plan: which images, in which order, at which learning rate ---------------------
def epoch_plan(x_train: np.ndarray, seed: int, epoch: int, augment: bool):
    """``(images, order)`` of one epoch: an augmented copy ``(n, 28, 28)`` float32 (or the
    images themselves) and a permutation, both from a generator seeded ``(seed, epoch)``."""
    from scratchnet.lessons.mnist import random_affine

    rng = np.random.default_rng([seed, 7, epoch])
    images = random_affine(x_train, rng) if augment else x_train
    return images, rng.permutation(len(x_train))


def scratchnet_model(kind: str, seed: int, lr: float, total_steps: int):
    from scratchnet.lessons.mnist import MODELS
    from scratchnet.optim import Adam
    from scratchnet.schedules import CosineWarmup

    model = MODELS[kind](seed=seed)
    return model.compile(loss="cross_entropy",
                         optimizer=Adam(lr=CosineWarmup(lr, total_steps=total_steps)))


def torch_copy(model):
    """A ``torch.nn.Sequential`` equal to the scratchnet ``model``, weights copied."""
    import torch
    from torch import nn

    mods = []
    with torch.no_grad():
        for layer in model.layers:
            kind = type(layer).__name__
            if kind == "Dense":
                m = nn.Linear(layer.n_in, layer.n_out)
                m.weight.copy_(torch.from_numpy(layer.W.T.copy()))
                m.bias.copy_(torch.from_numpy(layer.b))
            elif kind == "Conv2D":
                m = nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel_size,
                              stride=layer.stride, padding=layer.padding)
                m.weight.copy_(torch.from_numpy(layer.W))
                m.bias.copy_(torch.from_numpy(layer.b))
            elif kind in ("BatchNorm1d", "BatchNorm2d"):
                cls = nn.BatchNorm1d if kind == "BatchNorm1d" else nn.BatchNorm2d
                m = cls(layer.num_features, eps=layer.eps, momentum=layer.momentum)
                m.weight.copy_(torch.from_numpy(layer.params["gamma"]))
                m.bias.copy_(torch.from_numpy(layer.params["beta"]))
                m.running_mean.copy_(torch.from_numpy(layer.buffers["running_mean"]))
                m.running_var.copy_(torch.from_numpy(layer.buffers["running_var"]))
            elif kind == "MaxPool2D":
                m = nn.MaxPool2d(layer.kernel_size, stride=layer.stride, padding=layer.padding)
            elif kind == "ReLU":
                m = nn.ReLU()
            elif kind == "Flatten":
                m = nn.Flatten()
            elif kind == "Dropout":
                m = nn.Dropout(layer.p)
            else:
                raise SystemExit(f"mnist_accuracy: no torch equivalent for layer {kind}")
            mods.append(m)
    return nn.Sequential(*mods)


def scratchnet_weights(model) -> list[np.ndarray]:
    """Trainable arrays in torch's parameter order and layout (Dense W transposed)."""
    out = []
    for layer in model.layers:
        for name, value in layer.params.items():
            is_dense_w = type(layer).__name__ == "Dense" and name == "W"
            out.append(value.T if is_dense_w else value)
    return out


# -- training ------------------------------------------------------------------------------
def train_scratchnet(kind, seed, data, epochs, batch, lr, augment, steps_limit=None):
    from scratchnet.lessons.mnist import to_model_input

    x, y = data["x_train"], data["y_train"]
    total = epochs * math.ceil(len(y) / batch)
    model = scratchnet_model(kind, seed, lr, total)
    seconds, steps = [], 0
    for epoch in range(epochs):
        t0 = time.perf_counter()
        images, order = epoch_plan(x, seed, epoch, augment)
        n = len(order) if steps_limit is None else min(len(order), steps_limit * batch)
        model.fit(to_model_input(images[order[:n]], kind), y[order[:n]], epochs=1,
                  batch_size=batch, shuffle=False, verbose=0)
        seconds.append(time.perf_counter() - t0)
        steps += math.ceil(n / batch)
        if steps_limit is not None and steps >= steps_limit:
            break
    return model, seconds


def train_torch(kind, seed, data, epochs, batch, lr, augment, start_model, steps_limit=None,
                dtype=np.float32):
    import torch
    import torch.nn.functional as F

    from scratchnet.lessons.mnist import to_model_input

    x, y = data["x_train"], data["y_train"]
    net = torch_copy(start_model).to(torch.float64 if dtype == np.float64 else torch.float32)
    schedule = start_model.optimizer.schedule
    opt = torch.optim.Adam(net.parameters(), lr=lr, betas=(0.9, 0.999), eps=1e-8)
    # Update t (0-based) uses schedule(t) in scratchnet; LambdaLR gives lr * f(t) for
    # the t-th call of sched.step(), which follows every opt.step().
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: schedule(t) / lr)
    seconds, steps = [], 0
    yt = torch.from_numpy(y.astype(np.int64))
    for epoch in range(epochs):
        t0 = time.perf_counter()
        net.train()
        images, order = epoch_plan(x, seed, epoch, augment)
        xe = torch.from_numpy(to_model_input(images[order], kind).astype(dtype))
        ye = yt[torch.from_numpy(order)]
        n_batches = math.ceil(len(order) / batch)
        for b in range(n_batches):
            xb, yb = xe[b * batch: (b + 1) * batch], ye[b * batch: (b + 1) * batch]
            loss = F.cross_entropy(net(xb), yb)
            opt.zero_grad(set_to_none=False)
            loss.backward()
            opt.step()
            sched.step()
            steps += 1
            if steps_limit is not None and steps >= steps_limit:
                break
        seconds.append(time.perf_counter() - t0)
        if steps_limit is not None and steps >= steps_limit:
            break
    return net, seconds


def accuracy_scratchnet(model, kind, data) -> float:
    from scratchnet.lessons.mnist import to_model_input

    pred = model.predict_labels(to_model_input(data["x_test"], kind), batch_size=EVAL_BATCH)
    return float(np.mean(pred == data["y_test"]))


def accuracy_torch(net, kind, data) -> float:
    import torch

    from scratchnet.lessons.mnist import to_model_input

    net.eval()
    x = torch.from_numpy(np.ascontiguousarray(to_model_input(data["x_test"], kind)))
    with torch.no_grad():
        pred = torch.cat([net(x[i: i + EVAL_BATCH]).argmax(1)
                          for i in range(0, len(x), EVAL_BATCH)]).numpy()
    return float(np.mean(pred == data["y_test"]))


def lockstep(kind, seed, data, batch, lr, steps) -> dict[str, float]:
    """Largest |w_scratchnet - w_torch| / max|w| after ``steps`` identical steps from the
    same start (dropout off), in float32 and in float64. If the two implementations
    compute the same function, the float64 difference is rounding-sized (~1e-12): any
    formula that differs shows up at float32 size or larger."""
    from scratchnet.lessons.mnist import to_model_input

    def no_dropout(model):
        for layer in model.layers:
            if type(layer).__name__ == "Dropout":
                layer.p = 0.0
        return model

    total = math.ceil(len(data["y_train"]) / batch)
    images, order = epoch_plan(data["x_train"], seed, 0, True)
    n = steps * batch
    out = {}
    for dtype in (np.float32, np.float64):
        ours = no_dropout(scratchnet_model(kind, seed, lr, total)).astype(dtype)
        start = no_dropout(scratchnet_model(kind, seed, lr, total))  # the same start, for torch
        ours.fit(to_model_input(images[order[:n]], kind).astype(dtype), data["y_train"][order[:n]],
                 epochs=1, batch_size=batch, shuffle=False, verbose=0)
        net, _ = train_torch(kind, seed, data, 1, batch, lr, True, start, steps_limit=steps,
                             dtype=dtype)
        theirs = [p.detach().numpy() for p in net.parameters()]
        mine = scratchnet_weights(ours)
        scale = max(float(np.abs(w).max()) for w in mine)
        out[np.dtype(dtype).name] = max(
            float(np.abs(a - b).max()) for a, b in zip(mine, theirs, strict=True)) / scale
    return out


# -- driver ------------------------------------------------------------------------------------
def load(data_dir: Path | None, split_test: int | None) -> tuple[dict, str]:
    from scratchnet.data import scale_images
    from scratchnet.lessons.mnist import MnistConfig, load_data

    cfg = MnistConfig(data_dir=str(data_dir) if data_dir else None, split_test=split_test,
                      val_split=0.0)
    d = load_data(cfg)
    return ({"x_train": scale_images(d.train_images), "y_train": d.train_labels,
             "x_test": scale_images(d.test_images), "y_test": d.test_labels}, d.source)


def main(argv: list[str] | None = None) -> int:
    from scratchnet.lessons.mnist import RECIPES

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", choices=("mlp", "cnn"), default=["mlp"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=None,
                    help=f"MLP epochs (default: the recipe's, {RECIPES['mlp'].epochs})")
    ap.add_argument("--cnn-epochs", type=int, default=CNN_EPOCHS,
                    help="CNN epochs (fewer than the recipe's: NumPy convolutions are slow)")
    ap.add_argument("--data-dir", type=Path, default=None,
                    help="folder of IDX files (default: ../shared/data/mnist-t10k beside the "
                         "repository if present, else the official data from the cache)")
    ap.add_argument("--split-test", type=int, default=None, metavar="N")
    ap.add_argument("--no-augment", action="store_true")
    ap.add_argument("--lockstep-steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    ap.add_argument("--write-docs", action="store_true",
                    help=f"write the table into {DOCS.relative_to(REPO)} between its markers")
    args = ap.parse_args(argv)

    data_dir = args.data_dir
    if data_dir is None and DEFAULT_MNIST_DIR.is_dir():
        data_dir = DEFAULT_MNIST_DIR
    data, source = load(data_dir, args.split_test)
    if data_dir is not None:  # no machine-specific paths in the docs
        source = source.replace(str(data_dir), _display_path(data_dir))
    try:
        import torch

        if args.threads:
            torch.set_num_threads(args.threads)
        torch_version = torch.__version__
    except ImportError:
        torch_version = None
    print(f"Data: {source}")
    print(f"PyTorch: {torch_version or 'not installed: its column is skipped'}")
    augment = not args.no_augment
    rows, lines = [], []
    for kind in args.models:
        recipe = RECIPES[kind]
        epochs = (args.epochs or recipe.epochs) if kind == "mlp" else args.cnn_epochs
        batch, lr = recipe.batch_size, recipe.lr
        head = (f"{kind.upper()}: {epochs} epochs, batch {batch}, Adam + cosine from {lr:g}, "
                f"augmentation {'on' if augment else 'off'}")
        print("\n" + head, flush=True)
        lines.append(head)
        ours_acc, theirs_acc = [], []
        for seed in args.seeds:
            model, sec = train_scratchnet(kind, seed, data, epochs, batch, lr, augment)
            a = accuracy_scratchnet(model, kind, data)
            ours_acc.append(a)
            row = {"model": kind, "seed": seed, "epochs": epochs, "scratchnet": a,
                   "sn_epoch_s": statistics.median(sec)}
            if torch_version:
                total = epochs * math.ceil(len(data["y_train"]) / batch)
                start = scratchnet_model(kind, seed, lr, total)
                net, tsec = train_torch(kind, seed, data, epochs, batch, lr, augment, start)
                b = accuracy_torch(net, kind, data)
                theirs_acc.append(b)
                row.update(torch=b, torch_epoch_s=statistics.median(tsec))
            rows.append(row)
            print(_fmt_row(row), flush=True)
        summary = {"model": kind, "seed": "median", "epochs": epochs,
                   "scratchnet": statistics.median(ours_acc)}
        if theirs_acc:
            summary["torch"] = statistics.median(theirs_acc)
            summary["lockstep"] = lockstep(kind, args.seeds[0], data, batch, lr,
                                           args.lockstep_steps)
        rows.append(summary)
        print(_fmt_row(summary), flush=True)
        if "lockstep" in summary:
            lock = summary["lockstep"]
            print(f"  lockstep: after {args.lockstep_steps} identical steps (dropout off), the "
                  f"largest weight difference is {lock['float32']:.1e} of the largest weight in "
                  f"float32, {lock['float64']:.1e} in float64")
    if args.write_docs:
        write_docs(rows, source, torch_version, args, augment)
        print(f"\nwrote the table into {DOCS}")
    return 0


def _display_path(path: Path) -> str:
    """``path`` relative to the repository when it is near it (``../shared/...``)."""
    try:
        return os.path.relpath(Path(path).resolve(), REPO)
    except ValueError:  # another drive (Windows)
        return str(path)


def _pct(x) -> str:
    return f"{100 * x:.2f}%" if isinstance(x, float) else "skipped"


def _fmt_row(r: dict) -> str:
    text = f"  {r['model']} seed {r['seed']}: scratchnet {_pct(r['scratchnet'])}"
    if "torch" in r:
        text += (f"  PyTorch {_pct(r['torch'])}  difference "
                 f"{100 * (r['scratchnet'] - r['torch']):+.2f} points")
    if "sn_epoch_s" in r:
        text += f"  ({r['sn_epoch_s']:.1f} s"
        text += f" vs {r['torch_epoch_s']:.1f} s" if "torch_epoch_s" in r else ""
        text += " per epoch)"
    return text


def write_docs(rows, source, torch_version, args, augment) -> None:
    from scratchnet.fileio import atomic_write_text

    cmd = "python benchmarks/mnist_accuracy.py " + " ".join(
        a for a in (sys.argv[1:] if sys.argv[1:] else ["--write-docs"]))
    table = ["| model | seed | epochs | scratchnet | PyTorch | difference (points) | "
             "s/epoch scratchnet | s/epoch PyTorch |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        diff = f"{100 * (r['scratchnet'] - r['torch']):+.2f}" if "torch" in r else "-"
        cells = [r["model"].upper(), str(r["seed"]), str(r["epochs"]), _pct(r["scratchnet"]),
                 _pct(r.get("torch")), diff,
                 f"{r['sn_epoch_s']:.1f}" if "sn_epoch_s" in r else "",
                 f"{r['torch_epoch_s']:.1f}" if "torch_epoch_s" in r else ""]
        if r["seed"] == "median":  # the summary row in bold
            cells[1:6] = [f"**{c}**" for c in cells[1:6]]
        table.append("| " + " | ".join(cells) + " |")
    locks = [f"- {r['model'].upper()} lockstep: after {args.lockstep_steps} identical steps from "
             "the same start (dropout off), the largest weight difference between the two "
             f"is {r['lockstep']['float32']:.1e} of the largest weight in float32 and "
             f"{r['lockstep']['float64']:.1e} in float64 (rounding only)."
             for r in rows if "lockstep" in r]
    block = "\n".join([
        BEGIN,
        "",
        f"Data: {source}",
        "",
        f"PyTorch {torch_version or '(not installed)'}, CPU, float32; augmentation "
        f"{'on' if augment else 'off'}; same initial weights, batches, Adam and cosine "
        "schedule on both sides. Epoch times include the augmentation and were measured "
        "on a shared 2-core machine: compare them only roughly.",
        "",
        *table,
        "",
        *locks,
        "",
        f"Command: `{cmd}`",
        "",
        END,
    ])
    text = DOCS.read_text(encoding="utf-8") if DOCS.exists() else ""
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + block + text[text.index(END) + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    atomic_write_text(DOCS, text)


if __name__ == "__main__":
    sys.exit(main())
