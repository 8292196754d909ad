"""``scratchnet experiment NAME``: run one comparison that looks inside training.

NAME is ``activations``, ``init``, ``schedules`` or ``optimizers``. Each trains a few
networks with recorders, writes a run folder with ``report.html`` and prints a table
of the headline numbers (stdout) and the report's path. Progress lines go to stderr
unless ``--quiet``.
"""

from __future__ import annotations

import argparse
import sys

from ..lessons.experiments import (
    ACTIVATION_NAMES,
    DATASETS,
    EXPERIMENTS,
    INITS,
    OPTIMIZER_NAMES,
    SCHEDULE_NAMES,
)

_DESCRIPTIONS = {
    "activations": (
        "The same deep narrow network (default 8 hidden layers of 16 units) with sigmoid, "
        "tanh and ReLU, trained by SGD from the same seed: loss curves, gradient flow per "
        "layer, and the first/last-layer gradient ratio early in training (the vanishing "
        "gradient)."),
    "init": (
        "Zeros, small normal (std 0.01), large normal (std 1), Xavier and He initialisation "
        "for each activation: loss, gradient by depth, saturation at the start, and the "
        "largest difference between hidden units after training (0 for zeros: the symmetry "
        "is never broken)."),
    "schedules": (
        "Constant, step, exponential, cosine-with-warm-up and reduce-on-plateau learning "
        "rates on the same network, data and seed: loss curves and the rate of every step."),
    "optimizers": (
        "SGD, momentum, RMSprop, Adam and AdamW: loss curves on a network, and their paths "
        "over the contours of two-parameter toy surfaces (an elongated bowl, Rosenbrock)."),
}


def _csv_list(choices):
    def parse(text: str) -> list[str]:
        items = [t.strip() for t in text.split(",") if t.strip()]
        bad = [t for t in items if t not in choices]
        if bad or not items:
            raise argparse.ArgumentTypeError(
                f"expected a comma-separated list of {', '.join(choices)}; got {text!r}")
        return items
    return parse


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    g = common.add_argument_group("common options")
    data = g.add_mutually_exclusive_group()
    data.add_argument("--dataset", choices=DATASETS, default="spiral",
                      help="2-D data set to train on (spiral has 3 classes)")
    data.add_argument("--csv", metavar="FILE", help="train on your own x1,x2,label CSV file")
    g.add_argument("--points", type=int, default=300, help="number of points of --dataset")
    g.add_argument("--epochs", type=int, default=None,
                   help="training epochs per run (default: the experiment's own)")
    g.add_argument("--batch-size", type=int, default=32, help="mini-batch size")
    g.add_argument("--seed", type=int, default=0, help="seed of data and initial weights")
    g.add_argument("--out", metavar="DIR", default=None,
                   help="run folder to write (default: runs/experiment-NAME-<time>)")
    g.add_argument("--quick", action="store_true",
                   help="tiny sizes: a smoke test in a few seconds, not a result")
    g.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    return common


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "experiment",
        help="compare activations, initialisations, schedules or optimisers, with pictures",
        description=("Run one experiment that looks inside training and write a run folder "
                     "with report.html; prints the headline numbers."),
    )
    sub = parser.add_subparsers(dest="experiment", metavar="NAME")
    sub.required = True
    common = _common()
    fmt = argparse.ArgumentDefaultsHelpFormatter

    p = sub.add_parser("activations", parents=[common], formatter_class=fmt,
                       help="sigmoid vs tanh vs ReLU in a deep narrow network",
                       description=_DESCRIPTIONS["activations"])
    p.add_argument("--depth", type=int, default=8, help="hidden layers")
    p.add_argument("--width", type=int, default=16, help="units per hidden layer")
    p.add_argument("--lr", type=float, default=0.05, help="SGD learning rate")
    p.add_argument("--init", default="xavier_uniform", help="weight initialiser of every layer")
    p.add_argument("--activations", type=_csv_list(ACTIVATION_NAMES),
                   default=list(ACTIVATION_NAMES), help="comma-separated activations")

    p = sub.add_parser("init", parents=[common], formatter_class=fmt,
                       help="zeros, small/large normal, Xavier, He, per activation",
                       description=_DESCRIPTIONS["init"])
    p.add_argument("--depth", type=int, default=5, help="hidden layers")
    p.add_argument("--width", type=int, default=16, help="units per hidden layer")
    p.add_argument("--lr", type=float, default=0.1, help="SGD learning rate")
    p.add_argument("--activations", type=_csv_list(ACTIVATION_NAMES),
                   default=list(ACTIVATION_NAMES), help="comma-separated activations")
    p.add_argument("--inits", type=_csv_list(tuple(INITS)), default=list(INITS),
                   help="comma-separated initialisers")

    p = sub.add_parser("schedules", parents=[common], formatter_class=fmt,
                       help="constant, step, exponential, cosine, plateau learning rates",
                       description=_DESCRIPTIONS["schedules"])
    p.add_argument("--lr", type=float, default=0.2, help="peak learning rate (SGD, momentum 0.9)")
    p.add_argument("--schedules", type=_csv_list(SCHEDULE_NAMES), default=list(SCHEDULE_NAMES),
                   help="comma-separated schedules")

    p = sub.add_parser("optimizers", parents=[common], formatter_class=fmt,
                       help="SGD, momentum, RMSprop, Adam, AdamW; paths on toy surfaces",
                       description=_DESCRIPTIONS["optimizers"])
    p.add_argument("--optimizers", type=_csv_list(OPTIMIZER_NAMES),
                   default=list(OPTIMIZER_NAMES), help="comma-separated optimisers")

    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    name = args.experiment
    kwargs = dict(dataset=args.dataset, csv=args.csv, n_points=args.points, epochs=args.epochs,
                  seed=args.seed, batch_size=args.batch_size, quick=args.quick, out=args.out,
                  progress=None if args.quiet else _progress)
    if name in ("activations", "init"):
        kwargs.update(depth=args.depth, width=args.width, lr=args.lr,
                      activations=args.activations)
    if name == "activations":
        kwargs.update(init=args.init)
    elif name == "init":
        kwargs.update(inits=args.inits)
    elif name == "schedules":
        kwargs.update(lr=args.lr, schedules=args.schedules)
    elif name == "optimizers":
        kwargs.update(optimizers=args.optimizers)
    result = EXPERIMENTS[name](argv=command_line(args, ["experiment", name]), **kwargs)
    print_result(result)
    return 0


def print_result(result) -> None:
    """An experiment's (or lr-find's) title, table, notes and report path, on stdout."""
    print(result.title)
    print()
    print(result.table_text())
    print()
    for note in result.notes:
        print(note)
    print(f"\nreport: {result.report}")


def command_line(args: argparse.Namespace, words: list[str]) -> list[str]:
    """The command written out with every option's value, so the report shows a command
    that reproduces the run exactly (argparse does not keep the original argv)."""
    out = ["scratchnet", *words]
    # --dataset and --points mean nothing next to --csv (and --dataset excludes it)
    skip = {"func", "command", "experiment"} | ({"dataset", "points"} if args.csv else set())
    for key, value in vars(args).items():
        if key in skip or value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            out.append(flag)
        elif isinstance(value, list):
            out += [flag, ",".join(map(str, value))]
        else:
            out += [flag, str(value)]
    return out


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
