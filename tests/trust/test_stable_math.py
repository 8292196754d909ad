"""Stable math at the edges, complementing ``tests/engine/test_stability.py``.

That file feeds rows *mixing* one extreme (+-1e3, +-1e4, float32 max/min) with ordinary
values. Here every function and every loss also gets arrays made *entirely* of one
extreme value, including the tiny end of float32 (smallest normal and subnormal
numbers), and the gradients are checked through real layers: a Dense layer fed
+-1e4 inputs, the activation layers' backward passes, and every loss's backward.
Values and gradients must be finite, keep float32, and raise no numpy warning.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from scratchnet.layers import (
    Dense,
    LeakyReLU,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
    log_sigmoid,
    log_softmax,
    sigmoid,
    softmax,
)
from scratchnet.losses import BCELoss, BCEWithLogitsLoss, MSELoss, SoftmaxCrossEntropy

F32 = np.finfo(np.float32)
EXTREMES = {
    "+1e4": 1e4,
    "-1e4": -1e4,
    "f32 max": float(F32.max),
    "f32 min": float(F32.min),  # the most negative float32, -3.4e38
    "f32 tiny": float(F32.tiny),
    "-f32 tiny": -float(F32.tiny),
    "f32 subnormal": float(F32.smallest_subnormal),
    "zero": 0.0,
}
IDS = list(EXTREMES)


@pytest.fixture(autouse=True)
def numpy_warnings_are_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        yield


def filled(name, shape=(4, 3)):
    return np.full(shape, EXTREMES[name], dtype=np.float32)


def finite(a) -> bool:
    return bool(np.all(np.isfinite(np.asarray(a))))


@pytest.mark.parametrize("name", IDS)
def test_functions_on_arrays_of_one_extreme(name):
    z = filled(name)
    s = sigmoid(z)
    assert s.dtype == np.float32 and finite(s) and np.all((0 <= s) & (s <= 1))
    ls = log_sigmoid(z)
    assert ls.dtype == np.float32 and finite(ls) and np.all(ls <= 0)
    t = np.tanh(z)
    assert finite(t)
    p = softmax(z, axis=1)
    assert p.dtype == np.float32 and finite(p)
    np.testing.assert_allclose(p, 1 / 3, rtol=1e-6)  # equal logits: uniform, whatever size
    lp = log_softmax(z, axis=1)
    assert lp.dtype == np.float32 and finite(lp)
    np.testing.assert_allclose(lp, -np.log(3), rtol=1e-6)


@pytest.mark.parametrize("name", IDS)
@pytest.mark.parametrize("layer_cls", [Sigmoid, Tanh, ReLU, LeakyReLU, Softmax])
def test_activation_layer_gradients_on_one_extreme(layer_cls, name):
    layer = layer_cls()
    out = layer.forward(filled(name))
    for upstream in (1.0, -1e4):
        grad = layer.backward(np.full_like(out, upstream))
        assert out.dtype == grad.dtype == np.float32
        assert finite(out) and finite(grad), (name, upstream)


def _losses(z):
    n, k = z.shape
    labels = np.arange(n) % k
    onehot = np.eye(k, dtype=np.float32)[labels]
    binary = (np.arange(n * k).reshape(n, k) % 2).astype(np.float32)
    return [
        ("mse", MSELoss(), z, binary),
        ("bce (on sigmoid)", BCELoss(), sigmoid(z), binary),
        ("bce (raw input, clipped)", BCELoss(), z, binary),
        ("bce_logits", BCEWithLogitsLoss(), z, binary),
        ("bce_logits one column", BCEWithLogitsLoss(), z[:, :1], binary[:, :1]),
        ("cross_entropy labels", SoftmaxCrossEntropy(), z, labels),
        ("cross_entropy one-hot", SoftmaxCrossEntropy(), z, onehot),
    ]


@pytest.mark.parametrize("name", IDS)
def test_every_loss_on_one_extreme_has_finite_value_and_gradient(name):
    for label, loss, out, target in _losses(filled(name)):
        # MSE squares in float64, so even an error of float32's largest size is finite.
        value = loss.forward(out, target)
        assert np.isfinite(value) and value >= 0, (label, value)
        grad = loss.backward()
        assert grad.dtype == np.float32 and grad.shape == out.shape, label
        assert finite(grad), (label, grad)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_dense_layer_with_inputs_of_1e4_has_finite_gradients(sign):
    rng = np.random.default_rng(0)
    layer = Dense(5, 3, rng=rng)
    x = np.full((8, 5), sign * 1e4, dtype=np.float32)
    z = layer.forward(x)
    loss = SoftmaxCrossEntropy()
    loss.forward(z, np.arange(8) % 3)
    dx = layer.backward(loss.backward())
    assert finite(z) and finite(layer.dW) and finite(layer.db) and finite(dx)
    # dW = x.T @ dz: each entry is 1e4 times a sum of (p - y) / n, bounded by 1e4.
    assert np.max(np.abs(layer.dW)) <= 1e4 * 1.0001


def test_softmax_cross_entropy_gradient_is_exact_at_saturation():
    """At logits [max, 0, 0] with label 0 the probabilities are exactly [1, 0, 0]:
    the gradient is exactly zero, not NaN from inf - inf."""
    z = np.array([[F32.max, 0.0, 0.0]], dtype=np.float32)
    loss = SoftmaxCrossEntropy()
    assert loss.forward(z, np.array([0])) == 0.0
    assert np.array_equal(loss.backward(), np.zeros_like(z))
    # The wrong label: loss = max (a finite float), gradient (p - y) = [1, -1, 0].
    assert loss.forward(z, np.array([1])) == pytest.approx(float(F32.max), rel=1e-6)
    np.testing.assert_array_equal(loss.backward(), [[1.0, -1.0, 0.0]])
