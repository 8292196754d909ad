"""The ``scratchnet`` command: parses arguments, calls a lesson, prints. No math here.

Each sub-command lives in ``scratchnet.commands.<module>`` and provides
``register(subparsers)``, which adds its parser and sets ``func`` to a function
``func(args) -> int``. Errors the library raises on purpose are printed as one
line on stderr with exit status 2; no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .errors import ScratchnetError

# Sub-command modules, in the order ``scratchnet --help`` lists them.
COMMAND_MODULES = (
    "xor",
    "neuron",
    "explain",
    "sigmoid",
    "gradcheck",
    "experiment",
    "lr_find",
    "mnist",
    "predict",
    "report",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scratchnet",
        description="Neural networks from scratch: every gradient by hand, checked and drawn.",
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"scratchnet {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(f"scratchnet.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ScratchnetError as exc:
        print(f"scratchnet {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"scratchnet {args.command}: error: file not found: {exc.filename}", file=sys.stderr)
        return 2
    except PermissionError as exc:
        print(
            f"scratchnet {args.command}: error: permission denied: {exc.filename}",
            file=sys.stderr,
        )
        return 2
    except BrokenPipeError:
        # The reader went away (``scratchnet explain | head``): not an error of ours.
        # Point stdout at devnull so Python's exit-time flush does not complain again.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print(f"scratchnet {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
