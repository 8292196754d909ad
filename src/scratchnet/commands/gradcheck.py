"""``scratchnet gradcheck``: check every hand-written gradient against finite differences.

Prints one row per layer, layer variant, loss and small model with the worst relative
error of each parameter and of the input, and PASS/FAIL against ``--tol``. Exits 1 if
any case fails (0 otherwise), so it can gate a CI job.
"""

from __future__ import annotations

import argparse

from ..lessons.gradcheck_all import DEFAULT_TOL, format_table, run_gradchecks


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "gradcheck",
        help="check every layer's, activation's and loss's gradient numerically",
        description=(
            "Compare the hand-written backward pass of every layer, activation, loss and "
            "two small models with central finite differences in float64. Exit status 1 "
            "if any relative error reaches --tol."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs and weights")
    p.add_argument("--tol", type=float, default=DEFAULT_TOL,
                   help="largest relative error that passes")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    results = run_gradchecks(seed=args.seed, tol=args.tol)
    print(format_table(results, args.tol))
    return 0 if all(r.ok for r in results) else 1
