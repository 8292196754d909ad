"""``scratchnet report RUN_DIR``: rebuild a run folder's report.html from its run.json.

Useful after a run was killed (its run.json is still valid, the page was never
built), after editing run.json by hand, or after upgrading scratchnet.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="rebuild report.html of a run folder from its run.json",
        description=(
            "Rebuild RUN_DIR/report.html from RUN_DIR/run.json: one self-contained page "
            "(figures embedded, no network needed) that opens in any browser and prints. "
            "Prints the path of the page."
        ),
    )
    parser.add_argument(
        "run_dir",
        metavar="RUN_DIR",
        type=Path,
        help="a run folder written by a scratchnet command (it holds run.json)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..report import build_report  # imported here: matplotlib is heavy to import

    path = build_report(args.run_dir)
    print(path)
    return 0
