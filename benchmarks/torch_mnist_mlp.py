"""The PyTorch equivalent of ``scratchnet mnist --model mlp --no-augment --val-split 0``.

    python benchmarks/torch_mnist_mlp.py --data-dir ../shared/data/mnist-t10k --epochs 3

Used by ``benchmarks/run.py`` to time whole processes (start-up included). Same work as
the scratchnet command: read the IDX files (the official split, or, when the folder holds
only the 10,000 test digits, the first 8,000 to train and the rest to test), train the
784-256-128-10 ReLU MLP with Adam and a cosine learning rate (from ``--lr`` down to 0
over all steps), batches of 64, then report the test accuracy per class, save the model
and draw the loss curve and the confusion matrix. What scratchnet adds beyond this
(weights and mistakes figures, an HTML report) is extra work on its side.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import read_idx_gz  # noqa: E402

SPLIT_TEST = 8_000


def load(data_dir: Path):
    """(train_x, train_y, test_x, test_y) as float32 (n, 784) in [0, 1] and int64 labels."""
    def pair(prefix):
        x = read_idx_gz(data_dir / f"{prefix}-images-idx3-ubyte.gz", 0x00000803)
        y = read_idx_gz(data_dir / f"{prefix}-labels-idx1-ubyte.gz", 0x00000801)
        pixels = x.reshape(len(x), -1).astype(np.float32) * np.float32(1 / 255)
        return pixels, y.astype(np.int64)

    if (data_dir / "train-images-idx3-ubyte.gz").is_file():
        return (*pair("train"), *pair("t10k"))
    x, y = pair("t10k")
    print(f"split-test mode: training on the first {SPLIT_TEST:,} test digits, testing on the rest")
    return x[:SPLIT_TEST], y[:SPLIT_TEST], x[SPLIT_TEST:], y[SPLIT_TEST:]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("runs/torch-mnist-mlp"))
    args = ap.parse_args(argv)

    torch.manual_seed(args.seed)
    xtr, ytr, xte, yte = (torch.from_numpy(a) for a in load(args.data_dir))
    net = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(),
                              torch.nn.Linear(256, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    steps = args.epochs * math.ceil(len(xtr) / args.batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    loss_fn = torch.nn.CrossEntropyLoss()
    losses = []
    for epoch in range(args.epochs):
        t0 = time.perf_counter()
        total, correct = 0.0, 0
        order = torch.randperm(len(xtr))
        for i in range(0, len(xtr), args.batch_size):
            idx = order[i : i + args.batch_size]
            xb, yb = xtr[idx], ytr[idx]
            opt.zero_grad()
            out = net(xb)
            loss = loss_fn(out, yb)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
            correct += int((out.argmax(1) == yb).sum())
        losses.append(total / len(xtr))
        print(f"epoch {epoch + 1}/{args.epochs}: loss {losses[-1]:.4f}, "
              f"accuracy {correct / len(xtr):.4f} ({time.perf_counter() - t0:.1f} s)")
    with torch.no_grad():
        pred = net(xte).argmax(1).numpy()
    truth = yte.numpy()
    confusion = np.zeros((10, 10), dtype=np.int64)
    np.add.at(confusion, (truth, pred), 1)
    print(f"test accuracy {np.trace(confusion) / len(truth):.4f}; per class: "
          + " ".join(f"{d}:{confusion[d, d] / max(1, confusion[d].sum()):.3f}" for d in range(10)))

    from matplotlib.figure import Figure

    args.out.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), args.out / "model.pt")
    fig = Figure(figsize=(5, 3.5))
    ax = fig.add_subplot()
    ax.plot(range(1, len(losses) + 1), losses, marker="o")
    ax.set(xlabel="epoch", ylabel="training loss", title="loss")
    fig.savefig(args.out / "curves.png", dpi=100)
    fig = Figure(figsize=(5, 5))
    ax = fig.add_subplot()
    ax.imshow(confusion, cmap="Blues")
    ax.set(xlabel="predicted", ylabel="true", title="confusion matrix")
    fig.savefig(args.out / "confusion.png", dpi=100)
    print(f"saved {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
