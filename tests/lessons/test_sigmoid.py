"""The sigmoid lesson: the derivative's peak and the vanishing gradient, measured."""

from __future__ import annotations

import re

import numpy as np
import pytest

from scratchnet import cli
from scratchnet.errors import ConfigError
from scratchnet.lessons.sigmoid_lesson import format_sigmoid, run_sigmoid, sigmoid_derivative


def test_derivative_peaks_at_a_quarter_at_zero():
    z = np.linspace(-10, 10, 2001)
    d = sigmoid_derivative(z)
    assert z[np.argmax(d)] == 0.0 and d.max() == 0.25
    assert np.all(d <= 0.25) and np.all(d > 0)
    h = 1e-6  # the formula s (1 - s) is the slope of the sigmoid
    s = 1 / (1 + np.exp(-z))
    num = (1 / (1 + np.exp(-(z + h))) - 1 / (1 + np.exp(-(z - h)))) / (2 * h)
    np.testing.assert_allclose(d, num, atol=1e-9)
    np.testing.assert_allclose(d, s * (1 - s), rtol=1e-12)


def test_gradient_shrinks_through_sigmoid_layers_not_relu():
    res = run_sigmoid(depth=6, width=16, batch=64, seed=1)
    np.testing.assert_allclose(res.bound, 0.25 ** np.arange(1, 7))
    assert np.all(res.deriv_product <= res.bound)  # each mean sigmoid' is at most 0.25
    assert np.all(np.diff(res.sigmoid_ratio) < 0)  # smaller at every layer down
    per_layer = (res.sigmoid_ratio[-1] / res.sigmoid_ratio[0]) ** (1 / 5)
    assert 0.1 < per_layer < 0.3
    assert res.relu_ratio.min() > 20 * res.sigmoid_ratio[2]
    assert res.relu_ratio[-1] > 1e-2
    text = format_sigmoid(res)
    assert "<- the largest it gets" in text
    assert len(re.findall(r"^\s+[1-6]\s+\d\.\d\de-\d\d", text, flags=re.M)) == 6


def test_errors():
    with pytest.raises(ConfigError, match="depth must be an integer in"):
        run_sigmoid(depth=0)


def test_command(tmp_path, capsys):
    rc = cli.main(["sigmoid", "--depth", "5", "--out", str(tmp_path / "s")])
    out = capsys.readouterr().out
    assert rc == 0 and "0.2500   <- the largest it gets" in out
    for f in ("sigmoid.png", "vanishing.png"):
        assert (tmp_path / "s" / f).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "vanishing" in (tmp_path / "s" / "report.html").read_text()
