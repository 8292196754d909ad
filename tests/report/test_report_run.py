"""RunFolder: what run.json records, atomically, and how bad input is refused."""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

import scratchnet
from scratchnet.errors import ConfigError
from scratchnet.plots.base import new_figure
from scratchnet.report import RUN_JSON, RunFolder, default_run_dir, read_run_json


def _strict_load(path: Path) -> dict:
    """json.loads that rejects NaN/Infinity literals (not valid JSON)."""

    def bad_constant(name: str) -> None:
        raise AssertionError(f"{path} holds the non-JSON literal {name}")

    return json.loads(path.read_text(encoding="utf-8"), parse_constant=bad_constant)


def _small_figure():
    fig, ax = new_figure(2.0, 1.5)
    ax.plot([0, 1, 2], [1.0, 0.5, 0.25])
    return fig


def test_new_run_records_command_config_versions_and_start(tmp_path: Path) -> None:
    run = RunFolder(tmp_path / "a" / "b", "mnist", {"epochs": 3, "lr": 0.1})
    assert run.path.is_dir()
    rec = _strict_load(run.path / RUN_JSON)
    assert rec["format"] == "scratchnet-run" and rec["format_version"] == 1
    assert rec["command"] == "mnist"
    assert rec["title"] == "scratchnet mnist"
    assert rec["argv"] == ["scratchnet", "mnist"]
    assert rec["config"] == {"epochs": 3, "lr": 0.1}
    assert rec["status"] == "running" and rec["finished"] is None
    env = rec["environment"]
    assert env["scratchnet"] == scratchnet.__version__
    assert env["numpy"] == np.__version__
    assert re.fullmatch(r"3\.\d+\.\d+.*", env["python"])
    started = dt.datetime.fromisoformat(rec["started"])
    assert started.tzinfo is not None
    assert abs((dt.datetime.now().astimezone() - started).total_seconds()) < 60
    assert rec["metrics"] == {} and rec["sections"] == [] and rec["files"] == []


def test_run_json_is_valid_after_every_addition(tmp_path: Path) -> None:
    run = RunFolder(tmp_path / "r", "xor", {})
    path = run.path / RUN_JSON
    run.add_text("Notes", "line 1\n  line 2")
    assert _strict_load(path)["sections"] == [
        {"kind": "text", "title": "Notes", "text": "line 1\n  line 2"}
    ]
    run.add_table("T", ["a", "b"], [[1, 2.5], [np.int64(3), np.float32(0.1)]])
    table = _strict_load(path)["sections"][1]
    # Numbers stay numbers (float32 keeps its short decimal form).
    assert table["rows"] == [[1, 2.5], [3, 0.1]]
    assert isinstance(table["rows"][1][0], int)
    run.add_metrics({"loss": np.float32(0.25), "diverged": float("nan"), "best": float("-inf")})
    assert _strict_load(path)["metrics"] == {"loss": 0.25, "diverged": "NaN", "best": "-Infinity"}
    run.save_figure(_small_figure(), "f.png", "A figure.")
    assert _strict_load(path)["sections"][2] == {
        "kind": "figure",
        "title": None,
        "file": "f.png",
        "caption": "A figure.",
    }
    (run.path / "w.bin").write_bytes(b"123")
    run.add_file("w.bin", "Weights.")
    assert _strict_load(path)["files"] == [{"file": "w.bin", "description": "Weights."}]
    # Atomic writes leave no temporary files behind.
    leftovers = [p.name for p in run.path.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_sample_run_finish_builds_report(sample_run: RunFolder, sample_content) -> None:
    report = sample_run.finish()
    assert report == sample_run.path / "report.html"
    assert report.is_file()
    rec = read_run_json(sample_run.path)
    assert rec["status"] == "finished"
    assert rec["error"] is None
    assert isinstance(rec["duration_s"], float) and rec["duration_s"] >= 0
    assert dt.datetime.fromisoformat(rec["finished"]) >= dt.datetime.fromisoformat(rec["started"])
    assert rec["title"] == sample_content.title
    assert [s["kind"] for s in rec["sections"]] == ["text", "table", "figure", "figure"]
    assert rec["sections"][1]["columns"] == sample_content.columns
    assert rec["sections"][1]["rows"][2] == [1, 0, 1, 0.96875]
    assert rec["metric_formats"] == {"accuracy": ".1%"}


def test_config_values_are_converted_to_json(tmp_path: Path) -> None:
    ns = argparse.Namespace(
        command="xor", func=print, epochs=np.int32(5), lr=np.float32(0.001),
        out=Path("runs") / "x", sizes=(2, 4, 1), opt={"name": "sgd", "betas": [0.9, 0.999]},
        w=np.arange(3, dtype=np.float32), flag=np.bool_(True),
    )
    run = RunFolder(tmp_path / "ns", "xor", ns)
    cfg = _strict_load(run.path / RUN_JSON)["config"]
    # The CLI plumbing attributes (func, command) are not configuration.
    assert cfg == {
        "epochs": 5, "lr": 0.001, "out": str(Path("runs") / "x"), "sizes": [2, 4, 1],
        "opt": {"name": "sgd", "betas": [0.9, 0.999]}, "w": [0.0, 1.0, 2.0], "flag": True,
    }


def test_config_that_is_not_json_is_refused_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"config\['opt'\]\['fn'\] is a function"):
        RunFolder(tmp_path / "c", "xor", {"opt": {"fn": lambda x: x}})
    with pytest.raises(ConfigError, match="config must be a mapping"):
        RunFolder(tmp_path / "c2", "xor", [1, 2])


def test_bad_command_name_is_refused(tmp_path: Path) -> None:
    for bad in ("", "../x", "a b", 3):
        with pytest.raises(ConfigError, match="command must be a short name"):
            RunFolder(tmp_path / "x", bad, {})


def test_folder_that_cannot_be_created_names_the_folder(tmp_path: Path) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("I am a file")
    with pytest.raises(ConfigError, match=r"cannot use .*file\.txt as a run folder: it exists"):
        RunFolder(blocker, "xor", {})
    with pytest.raises(ConfigError, match=r"cannot create run folder .*file\.txt/sub"):
        RunFolder(blocker / "sub", "xor", {})


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0,
    reason="permission bits do not stop root; needs a non-root POSIX user",
)
def test_folder_that_is_not_writable_names_the_folder(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(ConfigError, match=r"cannot create run folder .*locked.*ermission"):
            RunFolder(locked, "xor", {})
    finally:
        locked.chmod(0o700)


def test_default_run_dir_is_timestamped_and_unique(tmp_path: Path) -> None:
    now = dt.datetime(2024, 3, 5, 7, 8, 9)
    first = default_run_dir("mnist", root=tmp_path, now=now)
    assert first == tmp_path / "mnist-20240305-070809"
    assert not first.exists()
    first.mkdir()
    second = default_run_dir("mnist", root=tmp_path, now=now)
    assert second == tmp_path / "mnist-20240305-070809-2"
    second.mkdir()
    assert default_run_dir("mnist", root=tmp_path, now=now).name == "mnist-20240305-070809-3"
    assert re.fullmatch(r"runs/xor-\d{8}-\d{6}(-\d+)?", default_run_dir("xor").as_posix())
    with pytest.raises(ConfigError, match="command must be"):
        default_run_dir("bad/name")


def test_add_table_rejects_bad_shapes_and_cells(tmp_path: Path) -> None:
    run = RunFolder(tmp_path / "t", "xor", {})
    with pytest.raises(ConfigError, match=r"row 1 has 1 cell, expected 2 \(one per column: a, b"):
        run.add_table("T", ["a", "b"], [[1, 2], [3]])
    with pytest.raises(ConfigError, match="columns is empty"):
        run.add_table("T", [], [])
    with pytest.raises(ConfigError, match=r"row 0, column 'b'.* is a list"):
        run.add_table("T", ["a", "b"], [[1, [2, 3]]])
    with pytest.raises(ConfigError, match=r"format '\.2q' for 'a' cannot format a number"):
        run.add_table("T", ["a"], [[1.0]], formats={"a": ".2q"})
    with pytest.raises(ConfigError, match="formats names 'z', which is not one of: a"):
        run.add_table("T", ["a"], [[1.0]], formats={"z": ".2f"})
    with pytest.raises(ConfigError, match=r"rows array must be 2-D .* got shape \(3,\)"):
        run.add_table("T", ["a"], np.zeros(3))
    # Nothing invalid was recorded.
    assert read_run_json(run.path)["sections"] == []
    run.add_table("T", ["a", "b"], np.array([[1.5, 2.0]], dtype=np.float32))
    assert read_run_json(run.path)["sections"][0]["rows"] == [[1.5, 2.0]]


def test_replace_updates_a_section_in_place(tmp_path: Path) -> None:
    run = RunFolder(tmp_path / "p", "xor", {})
    run.add_text("Progress", "epoch 1")
    run.add_text("Other", "x")
    run.add_text("Progress", "epoch 2", replace=True)
    run.add_table("Per epoch", ["epoch"], [[1]])
    run.add_table("Per epoch", ["epoch"], [[1], [2]], replace=True)
    run.add_metrics({"loss": 1.0, "acc": 0.5})
    run.add_metrics({"loss": 0.5})
    rec = read_run_json(run.path)
    assert [(s["title"], s.get("text")) for s in rec["sections"][:2]] == [
        ("Progress", "epoch 2"),
        ("Other", "x"),
    ]
    assert rec["sections"][2]["rows"] == [[1], [2]]
    assert len(rec["sections"]) == 3
    assert rec["metrics"] == {"loss": 0.5, "acc": 0.5}


def test_save_figure_writes_a_png_and_replaces_by_name(tmp_path: Path) -> None:
    run = RunFolder(tmp_path / "f", "xor", {})
    path = run.save_figure(_small_figure(), "sub/curve.png", "First.", dpi=50)
    assert path == run.path / "sub" / "curve.png"
    image = imread(io.BytesIO(path.read_bytes()), format="png")
    assert image.ndim == 3 and image.shape[2] in (3, 4)
    small = image.shape[:2]
    run.add_text("Between", "x")
    run.save_figure(_small_figure(), "sub/curve.png", "Second.", title="Curve")
    big = imread(io.BytesIO(path.read_bytes()), format="png").shape[:2]
    # dpi 110 vs 50: about 2.2 times the pixels on each side.
    assert 1.9 < big[1] / small[1] < 2.5
    sections = read_run_json(run.path)["sections"]
    assert [s["kind"] for s in sections] == ["figure", "text"]
    assert sections[0]["caption"] == "Second." and sections[0]["title"] == "Curve"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("../escape.png", "not a valid file name"),
        ("/abs/x.png", "not a valid file name"),
        ("a b.png", "not a valid file name"),
        ("plot.jpg", "must end in .png"),
        ("", "not a valid file name"),
    ],
)
def test_save_figure_rejects_bad_names(tmp_path: Path, name: str, message: str) -> None:
    run = RunFolder(tmp_path / "n", "xor", {})
    with pytest.raises(ConfigError, match=message):
        run.save_figure(_small_figure(), name, "caption")
    assert read_run_json(run.path)["sections"] == []


def test_save_figure_rejects_non_figures(tmp_path: Path) -> None:
    run = RunFolder(tmp_path / "n", "xor", {})
    fig, ax = new_figure(2.0, 2.0)
    with pytest.raises(ConfigError, match="expected a matplotlib.figure.Figure, got Axes"):
        run.save_figure(ax, "a.png", "caption")
    with pytest.raises(ConfigError, match="caption must be a str"):
        run.save_figure(fig, "a.png", None)


def test_add_file_checks_the_file(tmp_path: Path) -> None:
    run = RunFolder(tmp_path / "files", "xor", {})
    with pytest.raises(ConfigError, match=r"model\.npz does not exist"):
        run.add_file("model.npz", "Weights.")
    outside = tmp_path / "elsewhere.bin"
    outside.write_bytes(b"1")
    with pytest.raises(ConfigError, match="is outside the run folder"):
        run.add_file(outside, "Elsewhere.")
    with pytest.raises(ConfigError, match="reserved"):
        run.add_file("run.json", "The record.")
    (run.path / "model.npz").write_bytes(b"12")
    assert run.add_file(run.path / "model.npz", "Weights v1.") == run.path / "model.npz"
    run.add_file("model.npz", "Weights v2.")
    assert read_run_json(run.path)["files"] == [{"file": "model.npz", "description": "Weights v2."}]


def test_context_manager_records_failure_and_reraises(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        with RunFolder(tmp_path / "bad", "xor", {}) as run:
            run.add_metrics({"loss": 1.0})
            raise RuntimeError("boom")
    rec = read_run_json(tmp_path / "bad")
    assert rec["status"] == "failed"
    assert rec["error"] == "RuntimeError: boom"
    page = (tmp_path / "bad" / "report.html").read_text(encoding="utf-8")
    assert "This run failed." in page and "RuntimeError: boom" in page

    with pytest.raises(KeyboardInterrupt):
        with RunFolder(tmp_path / "int", "xor", {}):
            raise KeyboardInterrupt
    assert read_run_json(tmp_path / "int")["status"] == "interrupted"

    with RunFolder(tmp_path / "ok", "xor", {}):
        pass
    assert read_run_json(tmp_path / "ok")["status"] == "finished"


def test_finish_rejects_unknown_status(tmp_path: Path) -> None:
    run = RunFolder(tmp_path / "s", "xor", {})
    with pytest.raises(ConfigError, match="status must be 'finished', 'failed' or 'interrupted'"):
        run.finish(status="done")


def test_unfinished_run_still_has_a_record(tmp_path: Path, sample_factory) -> None:
    # A run killed midway: never finished, but run.json is complete and valid.
    run = sample_factory(tmp_path / "killed")
    del run
    rec = read_run_json(tmp_path / "killed")
    assert rec["status"] == "running"
    assert len(rec["sections"]) == 4 and rec["files"][0]["file"] == "model.npz"
    assert not (tmp_path / "killed" / "report.html").exists()


def test_reusing_a_folder_replaces_the_record_and_drops_the_old_report(tmp_path: Path) -> None:
    first = RunFolder(tmp_path / "same", "xor", {"epochs": 1})
    first.add_text("Old", "old text")
    first.finish()
    assert (tmp_path / "same" / "report.html").exists()
    RunFolder(tmp_path / "same", "xor", {"epochs": 2})
    rec = read_run_json(tmp_path / "same")
    assert rec["config"] == {"epochs": 2} and rec["sections"] == []
    assert not (tmp_path / "same" / "report.html").exists()
