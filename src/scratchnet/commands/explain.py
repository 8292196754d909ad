"""``scratchnet explain``: one training step of the 2-2-1 network as a chain-rule ledger.

Parses arguments, calls :func:`scratchnet.lessons.explain.explain_step`, prints the
ledger as text or Markdown. No math here.
"""

from __future__ import annotations

import argparse

from ..errors import ConfigError
from .xor import HelpFormatter


def _sample(text: str) -> tuple[int, int] | None:
    if text in ("all", "batch"):
        return None
    parts = text.replace(" ", "").split(",")
    if len(parts) != 2 or any(p not in ("0", "1") for p in parts):
        raise argparse.ArgumentTypeError(
            f"expected one XOR input such as 1,0 (or 'all' for the batch), got {text!r}"
        )
    return int(parts[0]), int(parts[1])


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "explain",
        help="one training step of the 2-2-1 network, every chain-rule factor printed",
        description=(
            "Print one gradient-descent step of the XOR network as a ledger: the forward "
            "pass (z1, a1, z2, a2, loss), then dL/da2, da2/dz2, dL/dz2, dL/dW2, dL/db2, "
            "dL/da1, da1/dz1, dL/dz1, dL/dW1, dL/db1 (each with its formula, shape, values "
            "and a numerical estimate beside it), then the update of every parameter."
        ),
        formatter_class=HelpFormatter,
    )
    p.add_argument("--loss", choices=("bce", "mse"), default="bce",
                   help="bce shows both routes to dL/dz2; mse follows seed 000")
    p.add_argument("--sample", type=_sample, default=None, metavar="X1,X2",
                   help="one input, e.g. 1,0 (default: the whole batch of four)")
    p.add_argument("--weights", default="random", metavar="random|trained|FILE",
                   help="random initial weights, weights trained by `scratchnet xor`, or a "
                   "model file (e.g. runs/xor-.../model.npz)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random or trained weights")
    p.add_argument("--lr", type=float, default=5.0, help="learning rate of the update shown")
    p.add_argument("--format", choices=("text", "md"), default="text",
                   help="text for the terminal, md (Markdown) for notes")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..lessons.explain import (
        ExplainConfig,
        explain_step,
        format_ledger_markdown,
        format_ledger_text,
    )

    if args.weights not in ("random", "trained"):
        from pathlib import Path

        if not Path(args.weights).is_file():
            raise ConfigError(
                f"--weights {args.weights}: not 'random', 'trained' or an existing model file"
            )
    cfg = ExplainConfig(loss=args.loss, sample=args.sample, weights=args.weights,
                        seed=args.seed, lr=args.lr)
    ledger = explain_step(cfg)
    print(format_ledger_markdown(ledger) if args.format == "md" else format_ledger_text(ledger),
          end="" if args.format == "md" else "\n")
    return 0
