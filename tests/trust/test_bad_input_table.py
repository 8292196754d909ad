"""One test per row of docs/bad-input.md: every bad input gets the documented error type
and a message with its key phrase; command-line errors exit with status 2 and print
one clear line (after argparse's usage, for argparse's own errors), never a traceback.

The rows come from ``_bad_input_cases.py``, the list ``scripts/gen_bad_input_table.py``
runs to write the table.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from _bad_input_cases import CASES, run_case, skip_reason

from scratchnet.errors import ScratchnetError

DOC = Path(__file__).resolve().parents[2] / "docs" / "bad-input.md"
DOCUMENTED = (ScratchnetError, FileNotFoundError, PermissionError)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case, tmp_path):
    reason = skip_reason(case)
    if reason:
        pytest.skip(reason)
    outcome = run_case(case, tmp_path)
    assert re.search(case.phrase, outcome.message), (case.phrase, outcome.message)
    if case.kind == "api":
        assert isinstance(outcome.exception, case.error), repr(outcome.exception)
        assert isinstance(outcome.exception, DOCUMENTED), repr(outcome.exception)
        return
    assert outcome.exit_code == 2, outcome.stderr
    assert "Traceback" not in outcome.stderr
    lines = [line for line in outcome.stderr.splitlines() if line.strip()]
    assert re.match(r"scratchnet( [a-z-]+)*: error: ", lines[-1]), lines[-1]
    if case.argparse_error:
        assert lines[0].startswith("usage: scratchnet")
    else:
        assert len(lines) == 1, outcome.stderr  # one clear line, nothing else


def test_case_ids_are_unique_and_every_case_is_in_the_docs():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))
    text = DOC.read_text(encoding="utf-8")
    missing = [i for i in ids if f"`{i}`" not in text]
    assert missing == [], f"run scripts/gen_bad_input_table.py: {missing} not in {DOC.name}"


def test_every_area_of_the_brief_is_covered():
    areas = {c.area for c in CASES}
    assert {"API: data", "API: sizes and rates", "API: unknown names",
            "API: files and folders", "API: training", "CLI: arguments",
            "CLI: files and folders", "Command line, as a real process"} <= areas
    text = " ".join(c.bad_input for c in CASES)
    for topic in ("NaN", "inf", "dtype", "label", "zero samples", "epochs=0", "lr=0",
                  "does not exist", "without write permission", "unknown", "pickle"):
        assert topic.lower() in text.lower() or any(topic in c.id for c in CASES), topic
