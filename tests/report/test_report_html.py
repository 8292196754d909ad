"""build_report: one self-contained, escaped page; damaged run folders handled."""

from __future__ import annotations

import base64
import html
import io
import json
import re
from pathlib import Path

import pytest
from matplotlib.image import imread

from scratchnet.errors import FileFormatError
from scratchnet.report import RunFolder, build_report
from scratchnet.report.html import (
    format_duration,
    format_float,
    format_size,
    format_value,
    png_size,
)

_IMG_RE = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)" width="(\d+)" '
                     r'height="(\d+)"')


def _attributes(page: str, name: str) -> list[str]:
    return re.findall(rf'\b{name}\s*=\s*"([^"]*)"', page, flags=re.IGNORECASE)


def test_report_is_self_contained_and_escaped(sample_run: RunFolder, sample_content) -> None:
    path = sample_run.finish()
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")

    # Everything from run.json is escaped: the title shows as text, never as markup.
    assert html.escape(sample_content.title) in page
    assert "<b>demo</b>" not in page
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Loss per epoch &lt;decreasing&gt;." in page
    # The text block keeps its line breaks (inside <pre>).
    assert "<pre>Loss falls when\n  dL/dW = x^T (y - t) / N\nis followed" in page

    # Table values, formatted to 4 significant digits; metrics with their formats.
    for cell in ("0.02135", "0.9771", "0.9688", "0.0312"):
        assert f'<td class="num">{cell}</td>' in page
    assert '<th scope="col" class="num">output</th>' in page
    assert ">0.001235<" in page and ">100.0%<" in page
    assert "Table 1.</span> After training." in page

    # Configuration and command line.
    assert "<th>epochs</th><td>300</td>" in page
    assert "<th>hidden</th><td>[4]</td>" in page
    assert "scratchnet xor</pre>" in page

    # Two figures, each a data URI that decodes to a valid PNG of the stated size.
    images = _IMG_RE.findall(page)
    assert len(images) == 2
    assert page.count("data:image/png;base64,") == 2
    for b64, width, height in images:
        data = base64.b64decode(b64, validate=True)
        assert png_size(data) == (int(width), int(height))
        pixels = imread(io.BytesIO(data), format="png")
        assert pixels.shape[:2] == (int(height), int(width))
        assert pixels.std() > 0.01  # something was drawn, not a blank canvas
    assert images[0][0] == base64.b64encode((sample_run.path / "loss.png").read_bytes()).decode()

    # No network: no http(s) in any src/href, no external styles, fonts or scripts.
    refs = _attributes(page, "src") + _attributes(page, "href")
    assert refs, "expected some src/href attributes"
    assert not [r for r in refs if r.lower().startswith(("http:", "https:", "//"))]
    assert all(r.startswith(("data:image/png;base64,", "#")) or r == "model.npz" for r in refs)
    assert "<link" not in page.lower() and "@import" not in page and "url(" not in page
    assert "Content-Security-Policy" in page

    # Files are listed with a relative link, size and description.
    assert '<a href="model.npz">model.npz</a>' in page and "Trained weights." in page


def test_report_shows_status_of_unfinished_and_failed_runs(
    sample_run: RunFolder, tmp_path: Path
) -> None:
    page = build_report(sample_run.path).read_text(encoding="utf-8")
    assert "status-running" in page and "This run had not finished" in page
    sample_run.finish(status="failed", error="DivergenceError: loss became NaN at step 12")
    page = (sample_run.path / "report.html").read_text(encoding="utf-8")
    assert "This run failed." in page and "loss became NaN at step 12" in page


def test_missing_and_damaged_images_get_a_visible_note(sample_run: RunFolder) -> None:
    (sample_run.path / "loss.png").unlink()
    (sample_run.path / "figures" / "weights.png").write_bytes(b"\x89PNG\r\n\x1a\n trunc")
    (sample_run.path / "model.npz").unlink()
    page = build_report(sample_run.path).read_text(encoding="utf-8")
    assert page.count("<img") == 0
    assert "Image <code>loss.png</code> is missing from the run folder" in page
    assert "<code>figures/weights.png</code> is not a valid PNG image" in page
    assert "missing from the run folder</span>" in page  # the listed model file
    # Captions are still there.
    assert "Weights as an image and as bars." in page


def test_figure_names_outside_the_folder_are_not_embedded(tmp_path: Path) -> None:
    run = RunFolder(tmp_path / "run", "xor", {})
    run.finish()
    secret = tmp_path / "secret.png"
    secret.write_bytes((tmp_path / "run" / "run.json").read_bytes())
    rec = json.loads((run.path / "run.json").read_text())
    rec["sections"].append({"kind": "figure", "file": "../secret.png", "caption": "c"})
    rec["sections"].append({"kind": "hologram", "title": "Future"})
    (run.path / "run.json").write_text(json.dumps(rec))
    page = build_report(run.path).read_text(encoding="utf-8")
    assert "is not a plain file name inside the run folder" in page
    assert "<code>hologram</code>, which this version of scratchnet" in page


def test_missing_run_json_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(FileFormatError, match=r"run\.json: not found; .* not a scratchnet run"):
        build_report(tmp_path)
    with pytest.raises(FileFormatError, match=r"nope.run\.json: not found; .*is not a folder"):
        build_report(tmp_path / "nope")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"format": "scratchnet-run", ', r"run\.json: not valid JSON \(.* line 1 column"),
        (b"\xff\xfe junk", r"run\.json: not UTF-8 text"),
        (b"[1, 2]", r"run\.json: not a scratchnet run record"),
        (b'{"format": "other"}', r"run\.json: not a scratchnet run record"),
        (
            b'{"format": "scratchnet-run", "format_version": 99}',
            r"format_version 99 was written by a newer scratchnet",
        ),
        (
            b'{"format": "scratchnet-run", "format_version": 1, "command": "x", "config": {},'
            b' "metrics": {}, "sections": {}, "files": []}',
            r"field 'sections' must be an array, got an object",
        ),
        (
            b'{"format": "scratchnet-run", "format_version": 1, "command": "x", "config": {},'
            b' "metrics": {}, "files": [], "sections": [{"kind": "table", "columns": ["a"],'
            b' "rows": [[1, 2]]}]}',
            r"sections\[0\] \(table\) row 0 must be a list of 1 cells",
        ),
    ],
)
def test_corrupt_run_json_names_the_file(tmp_path: Path, content: bytes, message: str) -> None:
    (tmp_path / "run.json").write_bytes(content)
    with pytest.raises(FileFormatError, match=message) as info:
        build_report(tmp_path)
    assert str(tmp_path / "run.json") in str(info.value)
    assert not (tmp_path / "report.html").exists()


def test_format_helpers() -> None:
    assert format_float(0.987654) == "0.9877"
    assert format_float(123.456) == "123.5"
    assert format_float(12345.67) == "12345.7"
    assert format_float(2.5e-6) == "2.500e-06"
    assert format_float(3.0e7) == "3.000e+07"
    assert format_float(0.0) == "0"
    assert format_float(float("inf")) == "∞"
    assert format_value(0.97654, ".2%") == ("97.65%", "num")
    assert format_value(7, None) == ("7", "num")
    assert format_value(7, ".2f") == ("7.00", "num")
    assert format_value(None) == ("—", "empty")
    assert format_value(True) == ("True", "text")
    assert format_value("NaN") == ("NaN", "num")
    assert format_value("-Infinity") == ("−∞", "num")
    assert format_value("relu") == ("relu", "text")
    assert format_duration(0.42) == "0.42 s"
    assert format_duration(12.34) == "12 s"
    assert format_duration(75) == "1 min 15 s"
    assert format_duration(3725) == "1 h 02 min"
    assert format_size(812) == "812 B"
    assert format_size(14540) == "14.2 KiB"
    assert format_size(3 * 1024 * 1024) == "3.0 MiB"
    assert png_size(b"GIF89a" + b"\0" * 40) is None
