"""The chain-rule ledger: its gradients equal the engine's and the numerical estimates."""

from __future__ import annotations

import re

import numpy as np
import pytest

from scratchnet import cli
from scratchnet.errors import ConfigError, ModelFileError
from scratchnet.layers import Dense
from scratchnet.lessons.explain import (
    ExplainConfig,
    engine_gradients,
    explain_step,
    format_ledger_markdown,
    format_ledger_text,
    ledger_for,
)
from scratchnet.lessons.xor_stacked import build_network
from scratchnet.model import Sequential

ORDER = ["z1", "a1", "z2", "a2", "L", "dL/da2", "da2/dz2", "dL/dz2", "dL/dW2", "dL/db2",
         "dL/da1", "da1/dz1", "dL/dz1", "dL/dW1", "dL/db1",
         "W1 new", "b1 new", "W2 new", "b2 new"]


@pytest.mark.parametrize("loss", ["mse", "bce"])
@pytest.mark.parametrize("sample", [None, (1, 0)])
def test_ledger_gradients_equal_engine_and_numerical_estimates(loss, sample):
    led = explain_step(ExplainConfig(loss=loss, sample=sample, seed=3))
    names = [ln.name for ln in led.lines if ln.name != "dL/dz2 (short route)"]
    assert names == ORDER
    n = 4 if sample is None else 1
    assert led.X.shape == (n, 2) and led.y.shape == (n, 1)
    for ln in led.lines:
        if ln.phase == "backward":
            assert ln.numeric is not None and ln.numeric.shape == ln.value.shape
            assert ln.max_diff < 1e-8, ln.name
    assert led.max_numeric_diff < 1e-8
    for k, d in led.engine_diff.items():
        assert d < 1e-12, k
    # The same numbers, independently: the engine's gradients equal the ledger's lines.
    eng = engine_gradients(led.params, led.X, led.y, loss)
    for k in ("W1", "b1", "W2", "b2"):
        np.testing.assert_allclose(led.line(f"dL/d{k}").value, eng[k], rtol=1e-12, atol=1e-15)


def test_shapes_follow_the_seed():
    led = explain_step(ExplainConfig(loss="mse"))
    shape = {ln.name: ln.value.shape for ln in led.lines}
    assert shape["z1"] == shape["a1"] == shape["dL/dz1"] == shape["dL/da1"] == (4, 2)
    assert shape["z2"] == shape["a2"] == shape["dL/dz2"] == (4, 1)
    assert shape["dL/dW1"] == (2, 2) and shape["dL/db1"] == (1, 2)
    assert shape["dL/dW2"] == (2, 1) and shape["dL/db2"] == (1, 1)
    assert led.line("dL/dW2").shapes == "(2, 4) @ (4, 1) -> (2, 1)"
    assert led.line("dL/da2").formula == "2 (a2 - y) / 4"  # seed 000's 2 (a2 - y) / y.size


def test_bce_short_route_agrees_with_the_long_chain():
    led = explain_step(ExplainConfig(loss="bce", seed=5))
    long, short = led.line("dL/dz2"), led.line("dL/dz2 (short route)")
    np.testing.assert_allclose(short.value, (led.line("a2").value - led.y) / 4, rtol=1e-15)
    np.testing.assert_allclose(long.value, short.value, rtol=1e-12, atol=1e-15)
    assert led.short_route_diff < 1e-15
    assert explain_step(ExplainConfig(loss="mse")).short_route_diff is None


def test_update_and_loss_after_the_step():
    led = explain_step(ExplainConfig(lr=0.5))
    for k in ("W1", "b1", "W2", "b2"):
        np.testing.assert_allclose(led.line(f"{k} new").value,
                                   led.params[k] - 0.5 * led.line(f"dL/d{k}").value)
    assert led.new_loss < led.loss_value  # a small step downhill lowers the loss


def test_hand_set_weights_with_the_seeds_numbers():
    # Seed 003's worked example: W1, b1, W2, b2 after training and the input [1, 0].
    params = {"W1": np.array([[5.2, 4.8], [5.1, 4.9]]), "b1": np.array([[-2.5, -7.3]]),
              "W2": np.array([[7.2], [-7.1]]), "b2": np.array([[-3.2]])}
    led = ledger_for(params, np.array([[1.0, 0.0]]), np.array([[1.0]]), ExplainConfig())
    np.testing.assert_allclose(led.line("z1").value, [[2.7, -2.5]], atol=1e-12)
    np.testing.assert_allclose(led.line("a1").value, [[0.937, 0.076]], atol=1e-3)
    assert led.line("a2").value[0, 0] == pytest.approx(0.96, abs=0.01)


def test_weights_from_a_model_file(tmp_path):
    model = build_network(3, "sigmoid", "xavier_uniform", 4)
    path = tmp_path / "m.npz"
    model.save(path)
    led = explain_step(ExplainConfig(weights=str(path)))
    assert led.params["W1"].shape == (2, 3) and "file" in led.weights_source
    np.testing.assert_allclose(led.params["W1"], model.layers[0].W.astype(np.float64))
    bad = Sequential([Dense(2, 1)], seed=0)
    bad.save(tmp_path / "bad.npz")
    with pytest.raises(ModelFileError, match="expected a 2-H-1 sigmoid network"):
        explain_step(ExplainConfig(weights=str(tmp_path / "bad.npz")))


def test_config_errors():
    with pytest.raises(ConfigError, match="sample must be one of the four XOR inputs"):
        ExplainConfig(sample=(2, 0))
    with pytest.raises(ConfigError, match="loss must be 'bce' or 'mse'"):
        ExplainConfig(loss="hinge")


def test_text_and_markdown_formats():
    led = explain_step(ExplainConfig(loss="bce", sample=(1, 0)))
    text = format_ledger_text(led)
    steps = re.findall(r"^\s*\d+\. (\S+(?: \(short route\))?(?: new)?) = ", text, flags=re.M)
    assert steps[:5] == ["z1", "a1", "z2", "a2", "L"]
    assert steps[5:9] == ["dL/da2", "da2/dz2", "dL/dz2", "dL/dz2 (short route)"]
    assert "numerical estimate" in text and "max |difference|" in text
    md = format_ledger_markdown(led)
    assert md.startswith("# One training step, written out")
    assert "| 6 | `dL/da2` |" in md and "## Backward pass (chain rule)" in md
    # Every row of each Markdown table has the same number of cells as its header.
    for block in md.split("\n\n"):
        rows = [r for r in block.splitlines() if r.startswith("|")]
        if rows:
            assert len({r.count(" | ") for r in rows if not r.startswith("|---")}) == 1


def test_command(capsys, tmp_path):
    assert cli.main(["explain", "--loss", "mse", "--sample", "1,0"]) == 0
    out = capsys.readouterr().out
    assert "FORWARD PASS" in out and "BACKWARD PASS" in out and "UPDATE" in out
    assert "Largest difference between a gradient and its numerical estimate" in out
    assert cli.main(["explain", "--format", "md"]) == 0
    assert capsys.readouterr().out.startswith("# One training step")
    assert cli.main(["explain", "--weights", str(tmp_path / "missing.npz")]) == 2
    assert "not 'random', 'trained' or an existing model file" in capsys.readouterr().err
