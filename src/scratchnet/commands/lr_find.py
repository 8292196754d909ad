"""``scratchnet lr-find``: the learning-rate range test, with the suggested rate marked.

Sweeps the learning rate exponentially (default 1e-5 to 10 over 100 steps) on a fresh
MLP, draws the smoothed loss against the rate, suggests a rate (steepest descent of
the smoothed loss, or the lowest loss / 10; see ``scratchnet.lessons.lr_find``) and,
with ``--epochs N``, trains N epochs at 0.1x, 1x and 10x the suggestion to check it.
"""

from __future__ import annotations

import argparse
import sys

from ..lessons.experiments import DATASETS
from ..lessons.lr_find import LR_FIND_OPTIMIZERS, lr_find
from .experiment import command_line, print_result


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "lr-find",
        help="learning-rate range test: sweep the rate, suggest one",
        description=(
            "Learning-rate range test: one optimiser step per mini-batch while the rate grows "
            "exponentially from --lr-min to --lr-max; stops when the smoothed loss exceeds 4x "
            "its minimum. Suggests the rate where the smoothed loss falls fastest (or a tenth "
            "of the rate with the lowest loss, when the steepest point is at the very start), "
            "writes a run folder with report.html and prints the readings."),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    data = p.add_mutually_exclusive_group()
    data.add_argument("--dataset", choices=DATASETS, default="spiral", help="2-D data set")
    data.add_argument("--csv", metavar="FILE", help="your own x1,x2,label CSV file")
    p.add_argument("--points", type=int, default=300, help="number of points of --dataset")
    p.add_argument("--optimizer", choices=LR_FIND_OPTIMIZERS, default="momentum",
                   help="optimiser to find a rate for (momentum = SGD with momentum 0.9)")
    p.add_argument("--lr-min", type=float, default=1e-5, help="first learning rate")
    p.add_argument("--lr-max", type=float, default=10.0, help="last learning rate")
    p.add_argument("--steps", type=int, default=100, help="steps of the sweep")
    p.add_argument("--batch-size", type=int, default=32, help="mini-batch size")
    p.add_argument("--epochs", type=int, default=30,
                   help="epochs of the check runs at 0.1x, 1x, 10x the suggestion (0: skip)")
    p.add_argument("--seed", type=int, default=0, help="seed of data, weights and batches")
    p.add_argument("--out", metavar="DIR", default=None,
                   help="run folder to write (default: runs/lr-find-<time>)")
    p.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke test")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    result = lr_find(dataset=args.dataset, csv=args.csv, n_points=args.points, seed=args.seed,
                     optimizer=args.optimizer, lr_min=args.lr_min, lr_max=args.lr_max,
                     steps=args.steps, batch_size=args.batch_size,
                     check_epochs=args.epochs or None, quick=args.quick, out=args.out,
                     progress=None if args.quiet else _progress,
                     argv=command_line(args, ["lr-find"]))
    print_result(result)
    return 0


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
