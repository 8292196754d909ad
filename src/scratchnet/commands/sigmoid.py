"""``scratchnet sigmoid``: the sigmoid's derivative and the vanishing gradient.

Parses arguments, calls :func:`scratchnet.lessons.sigmoid_lesson.run_sigmoid`, prints the
table and writes the run folder (sigmoid.png, vanishing.png, report.html).
"""

from __future__ import annotations

import argparse

from .xor import HelpFormatter


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "sigmoid",
        help="plot sigmoid and its derivative; show how gradients shrink through layers",
        description=(
            "Plot the sigmoid and its derivative (at most 0.25, at z = 0) and print how the "
            "product of derivatives shrinks through 1..DEPTH sigmoid layers, measured in a "
            "freshly initialised deep network: the vanishing-gradient lesson."
        ),
        formatter_class=HelpFormatter,
    )
    p.add_argument("--depth", type=int, default=10, help="sigmoid layers in the measured network")
    p.add_argument("--width", type=int, default=32, help="units per layer")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights and the batch")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="run folder (default: runs/sigmoid-<timestamp>/)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..lessons.sigmoid_lesson import format_sigmoid, run_sigmoid, save_sigmoid_run
    from ..report import default_run_dir

    res = run_sigmoid(depth=args.depth, width=args.width, seed=args.seed)
    path = save_sigmoid_run(res, args.out or default_run_dir("sigmoid"))
    print("scratchnet sigmoid: the sigmoid's slope, and why deep sigmoid networks learn slowly\n")
    print(format_sigmoid(res))
    print()
    print(f"Run folder: {path}")
    return 0
