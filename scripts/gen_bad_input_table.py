#!/usr/bin/env python
"""Write docs/bad-input.md: every bad input we try and the message it really gets.

Runs each case of ``tests/trust/_bad_input_cases.py`` (API calls, in-process
``scratchnet.cli.main`` calls and a few real ``python -m scratchnet.cli`` processes) in
a fresh temporary folder and records the error type (or exit status) and the message,
with the temporary folder shown as ``<tmp>``. ``tests/trust/test_bad_input_table.py``
checks the same cases (error type and key phrase) on every test run.

Usage::

    python scripts/gen_bad_input_table.py            # rewrite docs/bad-input.md
    python scripts/gen_bad_input_table.py --check    # exit 1 if the file is out of date
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "trust"))

from _bad_input_cases import CASES, normalise, run_case, skip_reason  # noqa: E402

from scratchnet.fileio import atomic_write_text  # noqa: E402

DOC = ROOT / "docs" / "bad-input.md"
MAX_MESSAGE = 400

INTRO = """\
# Bad input, and what scratchnet says about it

Every row below was produced by running it: `scripts/gen_bad_input_table.py` calls the
API or the command line with the bad input and records the error that came back, word
for word (temporary folders are shown as `<tmp>`). `tests/trust/test_bad_input_table.py`
runs the same cases on every test run and checks each error's type and key phrase, so
this table cannot drift far from the truth without a test failing; rerun the script
after changing a message.

The rules the rows follow:

* API errors are one of the library's documented types (`scratchnet.errors`: `ShapeError`,
  `DTypeError`, `ConfigError`, `DataError`, `ModelFileError`, `DataFileError`,
  `DivergenceError`, all subclasses of `ScratchnetError` and of the built-in exception you
  would expect), raised at the boundary, naming what was wrong and what was expected.
  A missing file is Python's own `FileNotFoundError`; a file you may not read is
  `PermissionError`.
* The command line prints one line, `scratchnet COMMAND: error: ...`, and exits with
  status 2; never a traceback. For errors argparse itself finds (an unknown option,
  a value of the wrong type) the line follows argparse's usage summary.
* Model files and checkpoints are never unpickled; files that would run code, name
  modules, or declare absurd sizes are refused before anything is built or allocated.
"""


def _cell(text: str) -> str:
    text = " ".join(text.split())
    if len(text) > MAX_MESSAGE:
        text = text[: MAX_MESSAGE - 3] + "..."
    return text.replace("|", "\\|")


def build() -> tuple[str, int, list[str]]:
    sections: dict[str, list[str]] = {}
    skipped = []
    for case in CASES:
        reason = skip_reason(case)
        if reason:
            skipped.append(f"* `{case.id}` ({case.bad_input}): not run here, {reason}.")
            continue
        with tempfile.TemporaryDirectory(prefix="scratchnet-bad-input-") as tmp:
            outcome = run_case(case, Path(tmp))
            message = normalise(outcome.message, Path(tmp))
        if not re.search(case.phrase, outcome.message) or (
                case.kind == "api" and not isinstance(outcome.exception, case.error)):
            # Never document a message the tests would reject: fix the case or the code.
            raise SystemExit(f"case {case.id}: expected {case.phrase!r}, got "
                             f"{outcome.error_type}: {outcome.message}")
        if case.kind == "api":
            error = f"`{outcome.error_type}`"
        else:
            error = f"exit {outcome.exit_code}"
        row = f"| `{case.id}` | {case.bad_input} | {error} | {_cell(message)} |"
        sections.setdefault(case.area, []).append(row)
    n_rows = sum(len(rows) for rows in sections.values())
    parts = [INTRO, f"{n_rows} cases below ({len(CASES)} in the list).\n"]
    for area, rows in sections.items():
        parts.append(f"## {area}\n")
        parts.append("| Case | Bad input | Error | Message |")
        parts.append("|---|---|---|---|")
        parts.extend(rows)
        parts.append("")
    if skipped:
        parts.append("## Not run when this page was generated\n")
        parts.extend(skipped)
        parts.append("")
    return "\n".join(parts), n_rows, skipped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="do not write; exit 1 if docs/bad-input.md differs")
    parser.add_argument("--out", type=Path, default=DOC, help="where to write the table")
    args = parser.parse_args(argv)
    text, n_rows, skipped = build()
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is out of date: run scripts/gen_bad_input_table.py")
            return 1
        print(f"{args.out} is up to date ({n_rows} rows)")
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, text)
    print(f"wrote {args.out}: {n_rows} rows, {len(skipped)} not run here")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
