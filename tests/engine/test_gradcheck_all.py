"""Every layer, activation, loss and small model passes a float64 gradient check, and the
``scratchnet gradcheck`` command reports it."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import scratchnet.losses as losses_module
from scratchnet import cli
from scratchnet.errors import ConfigError
from scratchnet.gradcheck import gradcheck
from scratchnet.layers import LAYER_TYPES, Dense, Layer
from scratchnet.lessons.gradcheck_all import (
    DEFAULT_TOL,
    LAYER_CASES,
    LAYER_VARIANTS,
    LOSS_CASES,
    MODEL_CASES,
    CheckResult,
    check_layer_case,
    check_loss_case,
    check_model_case,
    format_table,
    run_gradchecks,
)

TOL = 1e-6


NOT_IMPORTED = ("is not registered in LAYER_TYPES: is its module imported by "
                "scratchnet/layers/__init__.py?")


def test_every_registered_layer_has_a_gradcheck_case():
    # Adding a layer with @register_layer but no case in LAYER_CASES makes this fail;
    # so does a case for a layer that never gets registered.
    no_case = sorted(set(LAYER_TYPES) - set(LAYER_CASES))
    assert not no_case, f"layers without a case in LAYER_CASES: {no_case}"
    unregistered = sorted(set(LAYER_CASES) - set(LAYER_TYPES))
    assert not unregistered, f"{unregistered} {NOT_IMPORTED}"
    assert set(LAYER_CASES) == set(LAYER_TYPES)


def test_variants_name_registered_layers():
    for label, (type_name, _) in LAYER_VARIANTS.items():
        assert type_name in LAYER_CASES, label
    for label, (types, _) in MODEL_CASES.items():
        assert set(types) <= set(LAYER_CASES), label


def test_every_loss_class_has_a_case():
    loss_classes = {
        cls for _, cls in inspect.getmembers(losses_module, inspect.isclass)
        if issubclass(cls, losses_module.Loss) and cls is not losses_module.Loss
    }
    covered = {type(case(np.random.default_rng(0))[0]) for case in LOSS_CASES.values()}
    assert loss_classes == covered
    assert set(losses_module.LOSSES.values()) <= covered
    # Both target forms of the softmax cross-entropy are checked.
    targets = [LOSS_CASES[k](np.random.default_rng(0))[2] for k in LOSS_CASES
               if k.startswith("SoftmaxCrossEntropy")]
    assert sorted(t.ndim for t in targets) == [1, 2]


@pytest.mark.parametrize("name", sorted(LAYER_CASES))
def test_layer_gradient(name):
    if name not in LAYER_TYPES:
        pytest.fail(f"{name} {NOT_IMPORTED}")
    result = check_layer_case(name, LAYER_CASES[name], tol=TOL)
    layer, _ = LAYER_CASES[name](np.random.default_rng(0))
    # One row per parameter plus the input: nothing silently skipped.
    assert set(result.errors) == set(layer.params) | {"input"}
    assert result.ok, f"{name}: {result.errors}"


@pytest.mark.parametrize("label", sorted(LAYER_VARIANTS))
def test_layer_variant_gradient(label):
    type_name, case = LAYER_VARIANTS[label]
    if type_name not in LAYER_TYPES:
        pytest.fail(f"{type_name} {NOT_IMPORTED}")
    result = check_layer_case(label, case, tol=TOL)
    assert result.ok, f"{label}: {result.errors}"


@pytest.mark.parametrize("label", sorted(LOSS_CASES))
def test_loss_gradient(label):
    result = check_loss_case(label, LOSS_CASES[label], tol=TOL)
    assert result.ok, f"{label}: {result.errors}"


@pytest.mark.parametrize("label", sorted(MODEL_CASES))
def test_model_gradient(label):
    types, case = MODEL_CASES[label]
    missing = [t for t in types if t not in LAYER_TYPES]
    if missing:
        pytest.fail(f"{label}: {missing} {NOT_IMPORTED}")
    result = check_model_case(label, case, tol=TOL)
    model, *_ = case(np.random.default_rng(0))
    assert set(result.errors) == {p.name for p in model.parameters()} | {"input"}
    assert result.ok, f"{label}: {result.errors}"


def test_checks_use_float64_and_leave_the_original_untouched():
    layer = Dense(3, 2, rng=0)  # float32
    before = {k: v.copy() for k, v in layer.params.items()}
    report = gradcheck(layer, np.ones((2, 3), dtype=np.float32))
    assert report.ok(TOL)
    assert layer.dtype == np.float32
    for k, v in layer.params.items():
        assert v.dtype == np.float32
        np.testing.assert_array_equal(v, before[k])


class _WrongDense(Dense):
    """A Dense layer whose weight gradient forgets the batch sum's second half."""

    def backward(self, grad_out):
        dx = super().backward(grad_out)
        self.grads["W"] *= 0.5
        return dx


class _WrongSigmoid(Layer):
    """Sigmoid with the classic mistake: derivative from the input, not the output."""

    def forward(self, z):
        self._z = z
        return 1.0 / (1.0 + np.exp(-z))

    def backward(self, grad_out):
        return grad_out * self._z * (1.0 - self._z)


def test_gradcheck_catches_wrong_gradients():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3))
    wrong = gradcheck(_WrongDense(3, 2, rng=1, dtype=np.float64), x)
    assert wrong.errors()["W"] == pytest.approx(0.5, rel=1e-6)
    assert wrong.errors()["b"] < TOL and wrong.errors()["input"] < TOL
    assert not wrong.ok(TOL)
    assert gradcheck(_WrongSigmoid(), x).max_error > 0.1


def test_runner_results_and_failure_flag():
    results = run_gradchecks(seed=1)
    names = [r.name for r in results]
    assert len(names) == len(set(names))
    registered = [n for n in LAYER_CASES if n in LAYER_TYPES]
    assert names[: len(registered)] == registered
    assert set(LOSS_CASES) <= set(names)
    assert all(r.ok for r in results)
    assert {r.kind for r in results} == {"layer", "loss", "model"}
    # A threshold below every error fails every case.
    strict = run_gradchecks(seed=1, tol=1e-30)
    assert not any(r.ok for r in strict if r.worst > 0)
    nan = CheckResult("x", "layer", {"W": float("nan")}, TOL)
    assert not nan.ok


def test_runner_refuses_bad_tolerance():
    with pytest.raises(ConfigError, match="tol must be a finite number > 0"):
        run_gradchecks(tol=0)
    with pytest.raises(ConfigError, match="tol must be a finite number > 0"):
        run_gradchecks(tol=float("nan"))


def test_table_format():
    rows = [
        CheckResult("Dense", "layer", {"W": 1e-11, "b": 2e-11, "input": 3e-10}, DEFAULT_TOL),
        CheckResult("Broken", "layer", {"W": 0.5, "input": 1e-11}, DEFAULT_TOL),
    ]
    text = format_table(rows, DEFAULT_TOL)
    lines = text.splitlines()
    dense = next(line for line in lines if line.startswith("Dense"))
    assert dense.split() == ["Dense", "layer", "3.00e-10", "PASS", "W", "1.0e-11", "b",
                             "2.0e-11", "input", "3.0e-10"]
    broken = next(line for line in lines if line.startswith("Broken"))
    assert broken.split()[:4] == ["Broken", "layer", "5.00e-01", "FAIL"]
    assert "< 1e-06" in text
    assert lines[-1] == "1 of 2 passed; 1 FAILED."


def test_command_prints_every_case_and_passes(capsys):
    assert cli.main(["gradcheck", "--seed", "2"]) == 0
    out = capsys.readouterr().out
    for name in [*LAYER_TYPES, *LOSS_CASES]:
        row = next(line for line in out.splitlines() if line.startswith(name + " "))
        assert " PASS " in row, row
    assert "FAIL" not in out
    assert "passed." in out.splitlines()[-1]


def test_command_fails_with_an_impossible_tolerance(capsys):
    assert cli.main(["gradcheck", "--tol", "1e-30"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "< 1e-30" in out and "FAILED." in out.splitlines()[-1]


def test_command_rejects_bad_tolerance(capsys):
    assert cli.main(["gradcheck", "--tol", "-1"]) == 2
    assert "tol must be a finite number > 0" in capsys.readouterr().err
