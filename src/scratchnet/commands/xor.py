"""``scratchnet xor``: a 2-2-1 network learns XOR; ``--seeds N``: how often it gets stuck.

Parses arguments, calls :func:`scratchnet.lessons.xor.run_xor` (or ``run_xor_seeds``),
prints what it returns and writes the run folder. No math here.
"""

from __future__ import annotations

import argparse
import sys

from ..errors import ConfigError
from ..lessons.xor import DEFAULT_LR, INITS, OPTIMIZERS, RELU_SGD_LR, XorConfig
from ..lessons.xor_stacked import HIDDEN_ACTIVATIONS, LOSSES


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows "(default: ...)" only where there is a default worth showing."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False or action.default is argparse.SUPPRESS:
            return action.help
        return super()._get_help_string(action)


def approx_mark() -> str:
    """"≈" where the terminal can show it, "~" otherwise."""
    enc = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        "≈".encode(enc)
    except (UnicodeEncodeError, LookupError):
        return "~"
    return "≈"


def _hidden_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number of hidden units or a comma list such as 2,3,4, got {text!r}"
        ) from None
    if not values or any(v < 1 or v > 64 for v in values):
        raise argparse.ArgumentTypeError(f"hidden units must be between 1 and 64, got {text!r}")
    return values


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "xor",
        help="train the 2-2-1 network on XOR and show what its hidden units learned",
        description=(
            "Train a 2-2-1 sigmoid network (9 parameters) on the XOR truth table with the "
            "engine, restarting from fresh weights when gradient descent gets stuck in a "
            "local minimum. Prints the learned weights and what each hidden unit computes; "
            "writes a run folder with report.html, decision_boundary.png, hidden_units.png, "
            "loss.png and the model. With --seeds N: train N seeds without restarts and "
            "report how many converge."
        ),
        formatter_class=HelpFormatter,
    )
    p.add_argument("--loss", choices=LOSSES, default="bce",
                   help="bce: binary cross-entropy (seed 003); mse: mean squared error (seed 000)")
    p.add_argument("--hidden", type=_hidden_list, default="2", metavar="N[,N...]",
                   help="hidden units; with --seeds, a comma list compares widths (2,3,4)")
    p.add_argument("--activation", choices=HIDDEN_ACTIVATIONS, default="sigmoid",
                   help="activation of the hidden units (the output is always sigmoid)")
    p.add_argument("--init", choices=INITS, default="xavier_uniform",
                   help="initialiser of the weights (biases start at 0)")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="sgd", help="optimiser")
    p.add_argument("--lr", type=float, default=None,
                   help="learning rate (default: " + ", ".join(
                       f"{k} {v:g}" for k, v in DEFAULT_LR.items())
                   + f"; sgd with relu {RELU_SGD_LR:g})")
    p.add_argument("--epochs", type=int, default=3000,
                   help="gradient steps per attempt (each uses all four inputs)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the first attempt's weights (--seeds: the first seed)")
    p.add_argument("--attempts", type=int, default=5,
                   help="most attempts when training gets stuck (1: no restarts)")
    p.add_argument("--seeds", type=int, default=None, metavar="N",
                   help="train N seeds at once without restarts and count how many converge")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="run folder (default: runs/xor-<timestamp>/)")
    p.add_argument("--quiet", action="store_true",
                   help="print only the result line and the run folder")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..report import default_run_dir

    if args.seeds is not None:
        return _run_seeds(args, default_run_dir)
    if len(args.hidden) != 1:
        raise ConfigError(
            f"--hidden {','.join(map(str, args.hidden))}: a list of widths compares them over "
            "many seeds; add --seeds N (e.g. --seeds 100), or give one width"
        )
    from ..lessons.xor import (
        format_architecture,
        format_hidden_table,
        format_parameters,
        format_result_summary,
        format_training_setup,
        run_xor,
        save_xor_run,
    )

    cfg = XorConfig(loss=args.loss, hidden=args.hidden[0], activation=args.activation,
                    init=args.init, optimizer=args.optimizer, lr=args.lr, epochs=args.epochs,
                    seed=args.seed, attempts=args.attempts)
    approx = approx_mark()
    out_dir = args.out or default_run_dir("xor")
    say = (lambda line: None) if args.quiet else print
    say("scratchnet xor: a small network learns exclusive-or (XOR)\n")
    say(format_architecture(cfg))
    say(format_training_setup(cfg) + "\n")
    result = run_xor(cfg, progress=lambda line: say(line))
    path = save_xor_run(result, out_dir, approx)
    if args.quiet:
        names = ", ".join(f"Hidden{j + 1} = {u.label(approx)}" for j, u in enumerate(result.units))
        status = "solved" if result.solved else "NOT solved"
        print(f"XOR {status}: accuracy {round(result.accuracy * 4)}/4, loss "
              f"{result.final_loss:.5f}, attempts {len(result.attempts)}; {names}")
        print(f"Run folder: {path}")
        return 0 if result.solved else 1
    print()
    print(format_result_summary(result))
    print()
    print("Learned parameters:")
    print(format_parameters(result))
    print()
    print("What the hidden units compute:")
    print(format_hidden_table(result, approx))
    print()
    print(f"Run folder: {path}")
    print("  report.html  decision_boundary.png  hidden_units.png  loss.png  model.npz  run.json")
    return 0 if result.solved else 1


def _run_seeds(args: argparse.Namespace, default_run_dir) -> int:
    from ..lessons.xor import format_seeds_result, run_xor_seeds, save_seeds_run

    cfg = XorConfig(loss=args.loss, hidden=args.hidden[0], activation=args.activation,
                    init=args.init, optimizer=args.optimizer, lr=args.lr, epochs=args.epochs,
                    seed=args.seed, attempts=1)
    if not args.quiet:
        print(f"scratchnet xor --seeds {args.seeds}: how often does gradient descent solve XOR "
              "from a random start?\n")
    res = run_xor_seeds(cfg, args.seeds, args.hidden)
    path = save_seeds_run(res, args.out or default_run_dir("xor-seeds"))
    if args.quiet:
        print("; ".join(f"2-{w.hidden}-1: {w.n_solved}/{w.n} converged" for w in res.widths))
    else:
        print(format_seeds_result(res))
        print()
        print("Stuck runs end on a plateau with a point still wrong; plain `scratchnet xor` "
              "restarts them.\nMore hidden units make it rarer: compare --hidden 2,3,4.")
    print(f"Run folder: {path}")
    return 0
