"""``scratchnet mnist``: the output contract, files written, errors, Ctrl-C in a real process."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scratchnet import cli

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FILES = ("model.npz", "curves.png", "confusion.png", "weights.png", "mistakes.png",
         "report.html", "run.json")


def _check_run_folder(path: Path) -> dict:
    for name in FILES:
        assert (path / name).is_file(), name
    for name in FILES[1:5]:
        data = (path / name).read_bytes()
        assert data[:8] == PNG_MAGIC, name
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert width >= 400 and height >= 150, (name, width, height)
    html = (path / "report.html").read_text(encoding="utf-8")
    assert html.lstrip().startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert html.count("data:image/png;base64,") >= 4
    return json.loads((path / "run.json").read_text(encoding="utf-8"))


def test_mlp_on_synthetic_idx_files(synthetic_t10k, tmp_path, capsys):
    out = tmp_path / "run"
    rc = cli.main(["mnist", "--data-dir", str(synthetic_t10k), "--train-limit", "500",
                   "--test-limit", "200", "--epochs", "2", "--out", str(out)])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    text = captured.out
    assert "scratchnet mnist: MLP on MNIST" in text
    assert "SPLIT-TEST MODE" in text and "450 train, 50 validation, 200 test" in text
    assert re.search(r"epoch 1/2 .*val acc \d+\.\d\d%", text)
    assert re.search(r"epoch 2/2 .*val acc \d+\.\d\d%", text)
    acc = float(re.search(r"Test accuracy: (\d+\.\d\d)% \(\d+ of 200 MNIST", text).group(1))
    assert acc > 50  # the synthetic bars are easy
    assert re.search(r"^5 +\d+ +\d+ +\d+\.\d\d%", text, re.M)  # per-class table row
    assert f"Run folder: {out}" in text
    assert "split-test mode" in captured.err
    record = _check_run_folder(out)
    assert record["status"] == "finished"
    assert record["metrics"]["test accuracy"] == pytest.approx(acc / 100, abs=5e-5)
    assert record["config"]["epochs"] == 2 and record["config"]["model"] == "mlp"


def test_quiet_fashion_names_and_no_augment(synthetic_t10k, tmp_path, capsys):
    out = tmp_path / "run"
    rc = cli.main(["mnist", "--dataset", "fashion", "--data-dir", str(synthetic_t10k),
                   "--split-test", "9000", "--train-limit", "300", "--test-limit", "100",
                   "--epochs", "1", "--no-augment", "--val-split", "0", "--quiet",
                   "--out", str(out)])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    lines = captured.out.strip().splitlines()
    assert len(lines) == 2
    assert re.fullmatch(r"test accuracy \d+\.\d\d% on 100 Fashion-MNIST test images "
                        r"\(split-test data, 1 epochs\)", lines[0])
    assert lines[1] == f"Run folder: {out}"
    record = _check_run_folder(out)
    table = next(s for s in record["sections"] if s.get("title") == "Accuracy per class")
    assert [row[1] for row in table["rows"]][:2] == ["T-shirt/top", "Trouser"]
    assert record["config"]["augment"] is False


def test_cnn_on_real_digits(t10k_dir, tmp_path, capsys):
    from scratchnet import parallel

    out = tmp_path / "run"
    try:  # two worker threads: the CNN trains in worker mode (scratchnet.parallel)
        rc = cli.main(["mnist", "--model", "cnn", "--data-dir", str(t10k_dir), "--train-limit",
                       "256", "--test-limit", "100", "--epochs", "1", "--batch-size", "32",
                       "--threads", "2", "--out", str(out)])
        assert parallel.get_num_threads() == 2
    finally:
        parallel.set_num_threads(1)
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "CNN on MNIST" in captured.out and "225,482 parameters" in captured.out
    assert re.search(r"Test accuracy: \d+\.\d\d% \(\d+ of 100 MNIST test images", captured.out)
    _check_run_folder(out)


@pytest.mark.skipif(not sys.platform.startswith("linux") or len(os.sched_getaffinity(0)) < 2
                    or os.uname().machine not in ("x86_64", "amd64"),
                    reason="data-parallel processes need Linux on x86-64 and two CPUs")
def test_processes_share_the_mlps_batches_and_the_cnn_says_why_it_cannot(
        synthetic_t10k, tmp_path, capsys):
    me = os.getpid()
    with open(f"/proc/{me}/task/{me}/children") as f:
        children_before = f.read().split()
    out = tmp_path / "run"
    rc = cli.main(["mnist", "--data-dir", str(synthetic_t10k), "--train-limit", "400",
                   "--test-limit", "100", "--epochs", "2", "--processes", "2", "--quiet",
                   "--out", str(out)])  # augmentation on (the recipe's default)
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    acc = float(re.search(r"test accuracy (\d+\.\d\d)% on 100 MNIST", captured.out).group(1))
    assert acc > 50
    assert _check_run_folder(out)["status"] == "finished"
    me = os.getpid()  # no worker process left behind, running or never waited for
    with open(f"/proc/{me}/task/{me}/children") as f:
        assert f.read().split() == children_before
    rc = cli.main(["mnist", "--model", "cnn", "--data-dir", str(synthetic_t10k), "--train-limit",
                   "64", "--epochs", "1", "--processes", "2", "--out", str(tmp_path / "cnn")])
    err = capsys.readouterr().err
    assert rc == 2
    assert "BatchNorm2d" in err and "statistics over the whole batch" in err, err


@pytest.mark.parametrize("argv, message", [
    (["--split-test", "10000"], "between 1 and 9,999"),
    (["--val-split", "1.5"], "validation split must be a fraction"),
    (["--epochs", "0"], "epochs must be an integer"),
    (["--threads", "0"], "number of threads must be a positive integer, got 0"),
    (["--processes", "0"], "processes must be a positive integer, got 0"),
])
def test_bad_options_exit_2_with_one_line(synthetic_t10k, tmp_path, capsys, argv, message):
    rc = cli.main(["mnist", "--data-dir", str(synthetic_t10k), "--out", str(tmp_path / "r"),
                   *argv])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("scratchnet mnist: error: ") and message in err


def test_folder_with_training_files_uses_the_official_split(synthetic_t10k, tmp_path, capsys):
    # A (broken) training file makes the command read the official split, not split the
    # test file; the loader's message names the file.
    folder = tmp_path / "data"
    folder.mkdir()
    for f in synthetic_t10k.iterdir():
        (folder / f.name).symlink_to(f)
    (folder / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03" + bytes(12))
    (folder / "train-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01" + bytes(4))
    rc = cli.main(["mnist", "--data-dir", str(folder), "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert rc == 2 and "train-images-idx3-ubyte" in err and "split-test" not in err


def test_missing_folder_is_a_clear_error(tmp_path, capsys):
    rc = cli.main(["mnist", "--data-dir", str(tmp_path / "nowhere"), "--out",
                   str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert rc == 2 and "does not exist" in err


def test_ctrl_c_in_a_real_process_saves_and_exits_130(synthetic_t10k, tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "scratchnet.cli", "mnist", "--data-dir", str(synthetic_t10k),
         "--train-limit", "1000", "--test-limit", "100", "--epochs", "500", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    lines = []
    deadline = time.monotonic() + 120
    try:
        for line in proc.stdout:  # wait until training is under way
            lines.append(line)
            if line.startswith("epoch"):
                break
            assert time.monotonic() < deadline, "training never started"
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = "".join(lines) + rest
    assert proc.returncode == 130, err
    assert "Ctrl-C: stopping after the current batch" in text
    assert "INTERRUPTED: Training was interrupted (Ctrl-C) during epoch" in text
    assert re.search(r"Test accuracy: \d+\.\d\d%", text)
    record = _check_run_folder(out)
    assert record["status"] == "interrupted"
    assert 1 <= record["metrics"]["epochs completed"] < 500
