"""``scratchnet neuron regression|classify``: what one neuron can and cannot learn.

Parses arguments, calls :mod:`scratchnet.lessons.neuron`, prints and writes the run folder.
"""

from __future__ import annotations

import argparse

from ..lessons.neuron import GATES, ClassifyConfig, RegressionConfig
from .xor import HelpFormatter


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "neuron",
        help="one neuron: fit a line (regression) or learn a logic gate (classify)",
        description=(
            "The smallest network. 'regression': one linear neuron fits a line to noisy "
            "points by gradient descent. 'classify': one sigmoid neuron learns a logic gate "
            "(AND, OR, NAND, NOR) and fails on XOR, which no straight line can separate."
        ),
    )
    sub = p.add_subparsers(dest="task", metavar="TASK")
    sub.required = True

    r = sub.add_parser("regression", help="fit y = w x + b to noisy points",
                       formatter_class=HelpFormatter,
                       description="One neuron y_hat = w x + b learns the line behind noisy "
                       "points; prints the learned w and b beside the true ones.")
    d = RegressionConfig()
    r.add_argument("--n", type=int, default=d.n, help="number of points")
    r.add_argument("--w", type=float, default=d.w, help="true slope")
    r.add_argument("--b", type=float, default=d.b, help="true intercept")
    r.add_argument("--noise", type=float, default=d.noise, help="std of the noise added to y")
    r.add_argument("--lr", type=float, default=d.lr, help="learning rate")
    r.add_argument("--epochs", type=int, default=d.epochs, help="gradient steps on all points")
    r.add_argument("--seed", type=int, default=d.seed, help="seed of the data and the weights")
    r.add_argument("--out", default=None, metavar="DIR",
                   help="run folder (default: runs/neuron-regression-<timestamp>/)")
    r.add_argument("--quiet", action="store_true", help="print only the result and the folder")
    r.set_defaults(func=run_regression_command)

    c = sub.add_parser("classify", help="learn a logic gate (and fail on xor)",
                       formatter_class=HelpFormatter,
                       description="One sigmoid neuron learns a two-input gate from its truth "
                       "table and draws its separating line; XOR shows why one line is not "
                       "enough.")
    dc = ClassifyConfig()
    c.add_argument("--gate", choices=GATES, default=dc.gate, help="the gate to learn")
    c.add_argument("--lr", type=float, default=dc.lr, help="learning rate")
    c.add_argument("--epochs", type=int, default=dc.epochs, help="gradient steps on all 4 inputs")
    c.add_argument("--seed", type=int, default=dc.seed, help="seed of the initial weights")
    c.add_argument("--out", default=None, metavar="DIR",
                   help="run folder (default: runs/neuron-classify-<timestamp>/)")
    c.add_argument("--quiet", action="store_true", help="print only the result and the folder")
    c.set_defaults(func=run_classify_command)


def run_regression_command(args: argparse.Namespace) -> int:
    from ..lessons.neuron import format_regression, run_regression, save_regression_run
    from ..report import default_run_dir

    cfg = RegressionConfig(n=args.n, w=args.w, b=args.b, noise=args.noise, lr=args.lr,
                           epochs=args.epochs, seed=args.seed)
    res = run_regression(cfg)
    path = save_regression_run(res, args.out or default_run_dir("neuron-regression"))
    if args.quiet:
        print(f"learned w = {res.w:.4f} (true {cfg.w:g}), b = {res.b:.4f} (true {cfg.b:g}), "
              f"loss {res.final_loss:.5f}")
    else:
        print("scratchnet neuron regression: one neuron learns a line\n")
        print(format_regression(res))
        print()
    print(f"Run folder: {path}")
    return 0


def run_classify_command(args: argparse.Namespace) -> int:
    from ..lessons.neuron import format_classify, run_classify, save_classify_run
    from ..report import default_run_dir

    cfg = ClassifyConfig(gate=args.gate, lr=args.lr, epochs=args.epochs, seed=args.seed)
    res = run_classify(cfg)
    path = save_classify_run(res, args.out or default_run_dir("neuron-classify"))
    if args.quiet:
        print(f"{cfg.gate.upper()}: {res.correct} of 4 right")
    else:
        print(f"scratchnet neuron classify --gate {cfg.gate}: can one neuron learn "
              f"{cfg.gate.upper()}?\n")
        print(format_classify(res))
        print()
    print(f"Run folder: {path}")
    return 0
