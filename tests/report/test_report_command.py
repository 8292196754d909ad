"""``scratchnet report RUN_DIR`` rebuilds report.html from run.json."""

from __future__ import annotations

from pathlib import Path

import pytest

from scratchnet.cli import main
from scratchnet.report import RunFolder


def test_report_command_rebuilds_the_page(
    sample_run: RunFolder, capsys: pytest.CaptureFixture[str]
) -> None:
    # A run killed before finish(): run.json exists, report.html does not.
    report = sample_run.path / "report.html"
    assert not report.exists()
    assert main(["report", str(sample_run.path)]) == 0
    out = capsys.readouterr().out
    assert out.strip() == str(report)
    page = report.read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 2
    assert "This run had not finished" in page

    # Rebuilding again replaces the page (e.g. after the run finished).
    sample_run.finish()
    report.unlink()
    assert main(["report", str(sample_run.path)]) == 0
    assert "This run had not finished" not in report.read_text(encoding="utf-8")


def test_report_command_on_a_bad_folder_fails_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("scratchnet report: error: ")
    assert str(tmp_path / "run.json") in err and "not a scratchnet run folder" in err
    assert "Traceback" not in err

    (tmp_path / "run.json").write_text("{not json")
    assert main(["report", str(tmp_path)]) == 2
    assert "not valid JSON" in capsys.readouterr().err


def test_report_command_help_names_run_dir(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["report", "--help"])
    assert info.value.code == 0
    assert "RUN_DIR" in capsys.readouterr().out
