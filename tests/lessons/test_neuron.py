"""One neuron: regression recovers the line; classification learns AND/OR/NAND/NOR, not XOR."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from scratchnet import cli
from scratchnet.errors import ConfigError
from scratchnet.lessons.neuron import (
    ClassifyConfig,
    RegressionConfig,
    best_line,
    format_classify,
    format_regression,
    loss_surface,
    run_classify,
    run_regression,
)


def _is_png(path) -> bool:
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_regression_recovers_the_least_squares_line():
    res = run_regression(RegressionConfig(n=200, w=-1.5, b=0.8, noise=0.1, seed=3))
    assert res.w == pytest.approx(res.lstsq_w, abs=2e-3)
    assert res.b == pytest.approx(res.lstsq_b, abs=2e-3)
    assert res.w == pytest.approx(-1.5, abs=0.05) and res.b == pytest.approx(0.8, abs=0.05)
    assert res.final_loss == pytest.approx(res.lstsq_loss, rel=1e-3)
    assert res.final_loss == pytest.approx(0.01, rel=0.3)  # the noise variance
    assert res.path.shape == (res.config.epochs + 1, 2) and res.loss.shape == (res.config.epochs,)
    # The engine's neuron holds the reported weights.
    dense = res.model.layers[0]
    assert (float(dense.W[0, 0]), float(dense.b[0])) == (res.w, res.b)
    text = format_regression(res)
    m = re.search(r"^\s+w\s+-1\.5000\s+(-?\d+\.\d{4})\s+(-?\d+\.\d{4})$", text, flags=re.M)
    assert m and float(m.group(1)) == round(res.w, 4) and float(m.group(2)) == round(res.lstsq_w, 4)


def test_loss_surface_matches_direct_mse():
    res = run_regression(RegressionConfig(n=30, epochs=20))
    ws, bs, L = loss_surface(res, n=9)
    x, y = res.x[:, 0].astype(np.float64), res.y[:, 0].astype(np.float64)
    for i in (0, 4, 8):
        for j in (0, 3, 8):
            assert L[i, j] == pytest.approx(np.mean((ws[j] * x + bs[i] - y) ** 2), rel=1e-9)


@pytest.mark.parametrize("gate", ["and", "or", "nand", "nor"])
def test_one_neuron_learns_separable_gates(gate):
    res = run_classify(ClassifyConfig(gate=gate))
    assert res.correct == 4 and res.best_line is None
    w1, w2 = res.w
    side = (res.X @ np.array([w1, w2]) + res.b) > 0
    np.testing.assert_array_equal(side, res.y > 0.5)  # the printed line separates them
    assert "separates the 1s of " + gate.upper() in format_classify(res)


def test_one_neuron_fails_on_xor_and_says_why():
    res = run_classify(ClassifyConfig(gate="xor"))
    assert res.correct <= 3
    np.testing.assert_allclose(res.outputs, 0.5, atol=1e-3)  # w -> 0: undecided everywhere
    assert res.best_line is not None and res.best_line.correct == 3
    text = format_classify(res)
    assert "XOR is not linearly separable" in text
    assert "3 of 4 right" in text and "scratchnet xor" in text


def test_best_line_search_on_separable_and_xor_tables():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    assert best_line(X, np.array([0, 0, 0, 1])).correct == 4
    assert best_line(X, np.array([0, 1, 1, 0])).correct == 3
    assert best_line(X, np.array([1, 0, 0, 1])).correct == 3


def test_config_errors():
    with pytest.raises(ConfigError, match="gate must be one of and, or, nand, nor, xor"):
        ClassifyConfig(gate="maybe")
    with pytest.raises(ConfigError, match="noise must be >= 0"):
        RegressionConfig(noise=-1.0)
    with pytest.raises(ConfigError, match="n \\(number of points\\) must be a positive integer"):
        RegressionConfig(n=0)


def test_regression_command(tmp_path, capsys):
    rc = cli.main(["neuron", "regression", "--out", str(tmp_path / "r")])
    text = capsys.readouterr().out
    assert rc == 0
    m = re.search(r"^\s+w\s+(\S+)\s+(\S+)\s+(\S+)$", text, flags=re.M)
    assert m and float(m.group(1)) == 2.0 and abs(float(m.group(2)) - 2.0) < 0.1
    assert re.search(r"^\s+b\s+0\.5000\s+\S+\s+\S+$", text, flags=re.M)
    for f in ("fit.png", "loss.png", "descent.png"):
        assert _is_png(tmp_path / "r" / f)
    assert json.loads((tmp_path / "r" / "run.json").read_text())["status"] == "finished"


def test_classify_command_xor(tmp_path, capsys):
    rc = cli.main(["neuron", "classify", "--gate", "xor", "--out", str(tmp_path / "c")])
    text = capsys.readouterr().out
    assert rc == 0
    rows = re.findall(r"^\[([01]) ([01])\]\s+\|\s+(\S+)\s+\|\s+([01])\s+\|\s+(yes|no)$", text,
                      flags=re.M)
    assert len(rows) == 4 and sum(r[4] == "yes" for r in rows) <= 3
    assert "no line gets all four" in text
    assert _is_png(tmp_path / "c" / "boundary.png")
    assert "data:image/png;base64," in (tmp_path / "c" / "report.html").read_text()
